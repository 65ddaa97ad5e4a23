"""The model-layer core: types, validation, the sync bridge, FakeModel, the cache."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

import fusionkit as fk
from fusionkit.cache import ResponseCache
from fusionkit.types import build_request


def test_import_does_not_import_torch() -> None:
    code = "import sys, fusionkit; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"messages": ""}, "prompt is empty"),
        ({"messages": "   "}, "prompt is empty"),
        ({"messages": []}, "no messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "unknown role 'wizard'"),
        ({"messages": [{"content": "x"}]}, "'role' and 'content'"),
        ({"messages": "hi", "max_tokens": 0}, "max_tokens must be a positive integer"),
        ({"messages": "hi", "temperature": 5}, "temperature"),
        ({"messages": "hi", "seed": "abc"}, "seed"),
    ],
)
def test_bad_input_is_a_typed_error(kwargs: dict, needle: str) -> None:
    with pytest.raises(fk.InvalidRequestError, match=needle):
        build_request(**kwargs)


def test_bad_input_never_reaches_the_model() -> None:
    m = fk.FakeModel("f", "x")
    with pytest.raises(fk.InvalidRequestError):
        m.complete("", max_tokens=5)
    assert m.calls == []


def test_system_prompt_goes_first() -> None:
    r = build_request([{"role": "user", "content": "hi"}], system="be brief")
    assert [m.role for m in r.messages] == ["system", "user"]


def test_fake_model_script_errors_and_exhaustion() -> None:
    m = fk.FakeModel("f", ["one", fk.RateLimitError("slow down", model="f"), "three"])
    assert m.complete("a").text == "one"
    with pytest.raises(fk.RateLimitError):
        m.complete("b")
    assert m.complete("c").text == "three"
    with pytest.raises(fk.ConfigurationError, match="ran out of scripted replies"):
        m.complete("d")
    assert m.call_count == 4


def test_fake_model_usage_cost_and_max_tokens() -> None:
    m = fk.FakeModel("f", "a b c d e f", price=(1.0, 2.0))
    c = m.complete("x y", max_tokens=3)
    assert c.text == "a b c" and c.finish_reason == "length"
    assert c.usage == fk.Usage(2, 3)
    assert c.cost_usd == pytest.approx((2 * 1 + 3 * 2) / 1e6)


def test_stream_sync_and_async_agree() -> None:
    m = fk.FakeModel("f", "the quick brown fox", repeat=True)
    stream = m.stream("go")
    items = list(stream)
    assert all(isinstance(i, str) for i in items)  # text only, no Completion repr
    assert "".join(items) == "the quick brown fox"
    assert isinstance(stream.completion, fk.Completion)
    assert stream.completion.text == "the quick brown fox"

    async def collect() -> tuple[list, fk.Completion | None]:
        s = m.astream("go")
        return [i async for i in s], s.completion

    items2, final = asyncio.run(collect())
    assert items2 == items and final is not None and final.text == "the quick brown fox"


def test_stream_validates_arguments_at_call_time() -> None:
    with pytest.raises(fk.InvalidRequestError, match="max_tokens"):
        fk.FakeModel("f").stream("go", max_tokens=0)


def test_run_sync_inside_a_running_loop() -> None:
    """The sync API works from inside a running loop, as in Jupyter."""
    m = fk.FakeModel("f", "ok", repeat=True)

    async def inside() -> str:
        return m.complete("hi").text

    assert asyncio.run(inside()) == "ok"


def test_max_concurrency_is_honoured() -> None:
    m = fk.FakeModel("f", latency=0.05, max_concurrency=2)

    async def go() -> float:
        t = time.perf_counter()
        await asyncio.gather(*[m.acomplete(f"q{i}") for i in range(6)])
        return time.perf_counter() - t

    elapsed = asyncio.run(go())
    assert elapsed >= 0.14  # 3 waves of 2


class CountingModel(fk.Model):
    kind = "counting"

    def __init__(self) -> None:
        super().__init__("counter")
        self.n = 0

    async def _acomplete(self, request: fk.Request) -> fk.Completion:
        self.n += 1
        return fk.Completion(text=f"answer {self.n}", model=self.name, cost_usd=0.0)


def test_cache_hits_only_for_deterministic_requests() -> None:
    m = CountingModel()
    a = m.complete("q")
    b = m.complete("q")
    assert (a.cached, b.cached, b.text) == (False, True, "answer 1")
    assert m.complete("q", cache=False).text == "answer 2"
    assert m.complete("q", temperature=0.7).text == "answer 3"
    assert m.complete("q", temperature=0.7).text == "answer 4"
    assert m.complete("q", temperature=0.7, seed=1).text == "answer 5"
    assert m.complete("q", temperature=0.7, seed=1).cached


def test_failed_call_leaves_nothing_in_cache(tmp_path) -> None:
    cache = ResponseCache(tmp_path / "c.db")

    class Boom(fk.Model):
        async def _acomplete(self, request: fk.Request) -> fk.Completion:
            raise fk.ServerError("down", model="boom")

    with pytest.raises(fk.ServerError):
        Boom("boom", cache=cache).complete("q")
    assert len(cache) == 0


def test_corrupt_cache_is_moved_aside(tmp_path) -> None:
    path = tmp_path / "cache.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    cache = ResponseCache(path)
    with pytest.warns(RuntimeWarning, match="moved it to"):
        m = CountingModel()
        m._cache_setting = cache
        m.complete("q")
    assert m.complete("q").cached is True  # the fresh cache works
    assert len(cache) == 1
    assert list(tmp_path.glob("cache.db.corrupt-*"))


def test_error_for_status_maps_and_quotes() -> None:
    e = fk.error_for_status(402, model="m", provider_message="Insufficient credits")
    assert isinstance(e, fk.PaymentRequiredError) and e.status_code == 402
    assert "Insufficient credits" in str(e) and "credit" in str(e)
    assert isinstance(fk.error_for_status(503, model="m", provider_message=""), fk.ServerError)
    r = fk.error_for_status(429, model="m", provider_message="x", retry_after=3)
    assert isinstance(r, fk.RateLimitError) and r.retry_after == 3


def test_every_public_name_resolves() -> None:
    """Every name in fusionkit.__all__ can be imported (lazy names included)."""
    missing = [name for name in fk.__all__ if not hasattr(fk, name)]
    assert missing == []
