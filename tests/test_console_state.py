"""The console's status rows when a run ends: labels, a stopped debate, cached answers."""

from __future__ import annotations

import fusionkit as fk
from fusionkit.fusion.events import FusionEvent
from fusionkit.fusion.records import Candidate, JudgeCall, Judgment, Timings
from fusionkit.render.html import render
from fusionkit.widgets._console_state import MemberStatus, _apply_member, _settle


def ev(kind: str, label: str, stage: str = "pool", rnd: int | None = None) -> FusionEvent:
    return FusionEvent(kind, 0.0, stage=stage, label=label, model="edge", latency_s=0.5, round=rnd)


def test_identical_members_read_apart_by_their_labels() -> None:
    rows = [MemberStatus("edge"), MemberStatus("edge", label="B"), MemberStatus("edge", label="C")]
    assert [r.who for r in rows] == ["edge", "B · edge", "C · edge"]
    assert MemberStatus("big", role="judge").who == "judge · big"
    html = render("widget_console_status.html", stage="Finished.", message="", rows=rows)
    assert "<b>B</b> · edge" in html and "<b>C</b> · edge" in html


def test_a_stopped_debate_keeps_answered_members_done() -> None:
    row = MemberStatus("edge")
    row = _apply_member(row, ev("member_start", "A"))
    row = _apply_member(row, ev("member_finish", "A"))
    row = _apply_member(row, ev("member_start", "A", "debate", 1))  # then Stop
    never = MemberStatus("edge")
    started = _apply_member(MemberStatus("edge"), ev("member_start", "C"))
    (answered, waiting, running), _ = _settle([row, never, started], None, None)
    assert answered.state == "done" and "stopped" in answered.note
    assert answered.text == "done · 500 ms"
    assert waiting.state == "not run" and running.state == "not run"
    assert running.note == "stopped while answering"


def test_cached_answers_show_the_original_latency_marked_cached() -> None:
    result = fk.FusionResult(
        prompt="p",
        mode="best-of",
        answer="42",
        candidates=(Candidate("A", "edge", 0, "42", latency_s=9.6, cached=True, end_s=0.001),),
        judgment=Judgment("judge", winner="A"),
        timings=Timings(0.001, 0.001, 0.0, 0.002, 0.018),
        judge_calls=(JudgeCall("score", "big", "{}", latency_s=47.68, cached=True),),
        judge="big",
    )
    member = MemberStatus("edge", label="A", state="done", latency_s=0.001, calls=1)
    judge = MemberStatus("big", role="judge", state="done", latency_s=47.68, calls=1)
    (m,), j = _settle([member], judge, result)
    assert m.text == "done · 9.60 s (cached)"
    assert j is not None and j.text == "done · 47.68 s (cached)"
    assert result.all_cached
    html = render("widget_console_answer.html", result=result, w=result.winner, j=result.judgment)
    assert "all cached" in html
