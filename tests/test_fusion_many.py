"""fuse_many: bounded concurrency, every row accounted for, resuming through the cache."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from fusionkit.errors import InvalidRequestError, ServerError
from fusionkit.fusion.many import RESULT_COLUMNS, fuse_many
from fusionkit.models.base import Model
from fusionkit.models.fake import FakeModel
from fusionkit.types import Completion, Request, Usage


class Counting(Model):
    """A cacheable model that answers the last number in the prompt plus ``offset``,
    counts backend calls and the most calls in flight at once."""

    kind = "counting"

    def __init__(self, name: str, offset: int = 0, latency: float = 0.0) -> None:
        super().__init__(name)
        self.offset = offset
        self.latency = latency
        self.backend_calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    async def _acomplete(self, request: Request) -> Completion:
        self.backend_calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        n = int(request.prompt_text.split()[-1].rstrip("?"))
        return Completion(
            f"The answer is {n + self.offset}.", self.name, Usage(5, 4), 0.0, cost_usd=0.0
        )


def prompts(n: int) -> list[str]:
    return [f"Echo the number {i}" for i in range(n)]


def test_list_of_prompts_gives_one_row_each() -> None:
    pool = [Counting("a"), Counting("b"), Counting("c", offset=1)]
    df = fuse_many(prompts(5), pool=pool, mode="vote", progress=False)
    assert len(df) == 5 and list(df.columns) == ["prompt", *RESULT_COLUMNS]
    assert list(df["extracted"]) == ["0", "1", "2", "3", "4"]
    assert df["error"].isna().all() and (df["n_ok"] == 3).all()
    assert df["result"].iloc[2].prompt == "Echo the number 2"


def test_dataframe_input_keeps_columns_and_renames_clashes() -> None:
    frame = pd.DataFrame({"question": prompts(3), "answer": ["0", "1", "2"]}, index=["x", "y", "z"])
    df = fuse_many(
        frame,
        pool=[Counting("a"), Counting("b")],
        mode="vote",
        prompt_column="question",
        progress=False,
    )
    assert list(df.index) == ["x", "y", "z"]
    assert list(df["answer"]) == ["0", "1", "2"]  # the input's column is kept
    assert list(df["extracted"]) == list(df["answer"])
    assert df["answer_fused"].iloc[0] == "The answer is 0."


def test_concurrency_is_bounded() -> None:
    m = Counting("a", latency=0.05)
    fuse_many(prompts(12), pool=[m], mode="vote", concurrency=3, progress=False)
    assert m.max_in_flight == 3


def test_every_fusion_is_accounted_for() -> None:
    def flaky(request: Request) -> str | BaseException:
        if request.prompt_text.endswith("2"):
            return ServerError("boom", model="flaky")
        return "The answer is 7."

    df = fuse_many(prompts(4), pool=[FakeModel("flaky", flaky)], mode="vote", progress=False)
    assert len(df) == 4
    bad = df.iloc[2]
    assert bad["error_type"] == "FusionError" and "ServerError: boom" in bad["error"]
    assert bad["result"] is None
    assert df.drop(index=2)["error"].isna().all()


def test_a_bad_row_is_a_row_error_not_a_crash() -> None:
    df = fuse_many(["Echo the number 1", "   "], pool=[Counting("a")], mode="vote", progress=False)
    assert df["error_type"].tolist()[1] == "InvalidRequestError"
    assert df["extracted"].tolist()[0] == "1"


def test_resumes_through_the_response_cache() -> None:
    first = [Counting("a"), Counting("b", offset=1), Counting("c")]
    fuse_many(prompts(6), pool=first, mode="vote", progress=False)
    assert all(m.backend_calls == 6 for m in first)
    again = [Counting("a"), Counting("b", offset=1), Counting("c")]
    df = fuse_many(prompts(8), pool=again, mode="vote", progress=False)
    # the 6 finished prompts are replayed from the cache; only the 2 new ones are called
    assert all(m.backend_calls == 2 for m in again)
    assert list(df["n_cached"]) == [3] * 6 + [0] * 2
    assert list(df["extracted"]) == [str(i) for i in range(8)]


def test_shared_arguments_fail_before_any_call() -> None:
    m = Counting("a")
    with pytest.raises(InvalidRequestError, match="needs a judge"):
        fuse_many(prompts(3), pool=[m], mode="best-of", progress=False)
    with pytest.raises(InvalidRequestError, match="concurrency"):
        fuse_many(prompts(3), pool=[m], mode="vote", concurrency=0, progress=False)
    with pytest.raises(InvalidRequestError, match="unknown argument"):
        fuse_many(prompts(3), pool=[m], mode="vote", progress=False, temprature=1)
    with pytest.raises(InvalidRequestError, match="for one prompt use fuse"):
        fuse_many("one prompt", pool=[m], mode="vote")
    with pytest.raises(InvalidRequestError, match="no 'prompt' column"):
        fuse_many(pd.DataFrame({"q": ["x"]}), pool=[m], mode="vote")
    assert m.backend_calls == 0


def test_progress_is_plain_lines_in_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    fuse_many(prompts(2), pool=[Counting("a"), Counting("b")], mode="vote", progress=True)
    err = capsys.readouterr().err
    assert err.startswith("fuse_many vote ...\n")
    assert "[2/2] prompt " in err and "members 4 · judge 0" in err
    assert "\r" not in err  # no bar redrawn in place


def test_progress_false_is_silent_and_a_callable_gets_every_prompt(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fuse_many(prompts(2), pool=[Counting("a")], mode="vote", progress=False)
    assert capsys.readouterr().err == ""
    seen: list[tuple[str, int, int]] = []
    fuse_many(prompts(3), pool=[Counting("a")], mode="vote", progress=lambda *a: seen.append(a))
    assert [(d, t) for _, d, t in seen] == [(1, 3), (2, 3), (3, 3)]
    assert capsys.readouterr().err == ""


def test_a_non_callable_on_event_fails_like_afuse_before_any_call() -> None:
    from fusionkit.fusion.engine import afuse
    from fusionkit.fusion.many import afuse_many

    m = Counting("a")
    with pytest.raises(InvalidRequestError) as single:
        asyncio.run(afuse("Echo the number 1", pool=[m], mode="vote", on_event="print"))
    with pytest.raises(InvalidRequestError) as sync_many:
        fuse_many(prompts(2), pool=[m], mode="vote", progress=False, on_event="print")
    with pytest.raises(InvalidRequestError) as async_many:
        asyncio.run(afuse_many(prompts(2), pool=[m], mode="vote", progress=False, on_event=3))
    assert str(sync_many.value) == str(async_many.value) == str(single.value)
    assert "on_event must be a function" in str(single.value)
    assert m.backend_calls == 0
