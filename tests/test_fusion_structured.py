"""Constrained judging (issue 8 §2): every judge question carries a JSON Schema; the
lenient reader stays only as the step down for unconstrained text."""

from __future__ import annotations

import json

import pytest
from fusion_helpers import blocks, picks

from fusionkit.fusion import judge as J
from fusionkit.fusion.engine import fuse
from fusionkit.models.fake import FakeModel
from fusionkit.types import Request

Q = "What is 6 * 7?"


def test_best_of_asks_with_a_schema_reason_first_enum_labels_integer_scores() -> None:
    judge = FakeModel("judge", picks("42"))
    r = fuse(Q, [FakeModel("a", "42"), FakeModel("b", "41")], judge=judge)
    request: Request = judge.calls[0]
    assert request.schema is not None
    schema = request.schema.json
    assert list(schema["properties"]) == ["reason", "scores", "winner"]
    assert schema["properties"]["winner"]["enum"] == ["A", "B"]
    score = schema["properties"]["scores"]["properties"]["A"]
    assert score == {"type": "integer", "minimum": 0, "maximum": 10}
    assert r.judge_calls[0].structured is True
    assert not r.judgment.fallback and r.answer == "42"
    assert r.judgment.rationale == "it is correct"


def test_unconstrained_text_is_still_read_leniently_without_a_reask() -> None:
    def prose(request: Request) -> str:
        winner = next(k for k, v in blocks(request).items() if "42" in v)
        return f"I think {winner} is best.\n```json\n{{'winner': 'Response {winner}'}}\n```"

    judge = FakeModel("judge", prose)
    r = fuse(Q, [FakeModel("a", "42"), FakeModel("b", "41")], judge=judge)
    assert r.answer == "42" and not r.judgment.fallback
    assert len(r.judge_calls) == 1 and r.judge_calls[0].structured is False
    assert r.judgment.attempts == 1


def test_an_invalid_structured_verdict_is_reasked_then_falls_back() -> None:
    judge = FakeModel("judge", '{"reason": "x", "scores": {"A": 11}, "winner": "Z"}')
    r = fuse(Q, [FakeModel("a", "42"), FakeModel("b", "41")], judge=judge)
    assert [c.step for c in r.judge_calls] == ["score", "score-retry"]
    assert all(c.structured is False for c in r.judge_calls)
    assert r.judgment.fallback


def test_merge_analysis_is_schema_d_and_the_synthesis_is_capped_and_cleaned() -> None:
    analysis = {
        "consensus": ["six times seven is 42"],
        "contradictions": [],
        "unique_insights": [],
        "blind_spots": ["no working shown"],
    }
    echo = (
        "The answer is 42 because six sevens make 42.\n"
        "The answer is 42 because six sevens make 42.\n"
        "<<<END OF RESPONSE A>>>\n<<<RESPONSE B>>>"
    )
    echo = "<<<RESPONSE C>>\n" + echo  # a small model opens by echoing a block header

    def judge_reply(request: Request) -> object:
        return analysis if request.schema is not None else echo

    judge = FakeModel("judge", judge_reply)
    r = fuse(
        Q,
        [FakeModel("a", "42"), FakeModel("b", "41")],
        judge=judge,
        mode="merge",
        judge_max_tokens=40,
    )
    first, second = judge.calls
    assert first.schema is not None and first.schema.json == J.ANALYSIS_SCHEMA
    assert second.schema is None
    assert "<<<END" in second.stop and second.max_tokens == 40
    assert r.answer == "The answer is 42 because six sevens make 42."
    assert r.judgment.analysis is not None
    assert r.judgment.analysis.blind_spots == ("no working shown",)


def test_clean_synthesis_drops_loops_and_delimiters_but_keeps_short_repeats() -> None:
    text = "Yes.\nYes.\nParis is the capital. Paris is the capital. It is big.\n<<<ANALYSIS>>>"
    assert J.clean_synthesis(text) == "Yes.\nYes.\nParis is the capital. It is big."
    assert J.clean_synthesis("<<<END OF RESPONSE B>>\n\n<<<RESPONSE A>>") == ""
    assert J.parse_synthesis("<<<RESPONSE A>>\n") == (None, "the reply holds only delimiters")


def test_vote_tie_break_asks_with_the_verdict_schema() -> None:
    judge = FakeModel("judge", picks("41"))
    r = fuse(Q, [FakeModel("a", "42"), FakeModel("b", "41")], judge=judge, mode="vote", seed=1)
    assert r.judgment.tie_break == "judge" and r.answer == "41"
    assert judge.calls[0].schema is not None
    assert json.loads(judge.calls[0].schema.key)["title"] == "verdict"


def test_fuse_progress_lines_and_callable() -> None:
    steps: list[tuple[str, int, int]] = []
    judge = FakeModel("judge", picks("42"))
    pool = [FakeModel("a", "42"), FakeModel("b", "41")]
    fuse(Q, pool, judge=judge, progress=lambda *a: steps.append(a))
    assert [(d, t) for _, d, t in steps] == [(1, 2), (2, 2), (3, 3)]
    assert steps[-1][0].startswith("judge · judge score: done")
    assert {s[0].split(":")[0].split(" · ")[1] for s in steps[:2]} == {"a", "b"}


def test_fuse_is_silent_by_default_when_nobody_watches(capsys: pytest.CaptureFixture[str]) -> None:
    fuse(Q, [FakeModel("a", "42"), FakeModel("b", "42")], mode="vote")
    assert capsys.readouterr().err == ""
    fuse(Q, [FakeModel("a", "42"), FakeModel("b", "42")], mode="vote", progress=True)
    err = capsys.readouterr().err
    assert err.startswith("fuse vote ...\n") and "[2/2]" in err


def test_a_verdict_cut_off_at_the_token_limit_is_closed_and_read() -> None:
    cut = '{"reason": "A is x", "scores": {"A": 2, "B": 9, "C": 10}, "winner": "A'
    v, problem = J.parse_best_of(cut, ["A", "B", "C"])
    assert problem is None and v is not None and v.winner == "A"
    no_winner = '{"reason": "A is x", "scores": {"A": 2, "B": 9, "C": 10}, "winner":'
    v, _ = J.parse_best_of(no_winner, ["A", "B", "C"])
    assert v is not None and v.winner == "C" and v.winner_from_scores


def test_schema_d_judge_calls_get_the_tokens_their_schema_needs() -> None:
    from fusionkit.fusion import verdicts as V

    judge = FakeModel("judge", picks("42"))
    fuse(Q, [FakeModel("a", "42"), FakeModel("b", "41")], judge=judge, judge_max_tokens=8)
    needed = V.min_tokens(V.best_of_schema(["A", "B"]))
    assert judge.calls[0].max_tokens == needed > 8
