"""FusionConsole: controls, live per-member status, result tabs, static snapshot."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest

from fusionkit.errors import FusionError, InvalidRequestError, ModelTimeoutError
from fusionkit.fusion.engine import MODES
from fusionkit.models.fake import FakeModel
from fusionkit.types import Request
from fusionkit.widgets._static import WIDGET_VIEW_MIME
from fusionkit.widgets.console import FusionConsole, MemberStatus, timeline_spans

BLOCK = re.compile(
    r"<<<RESPONSE ([A-Z]{1,2})(?: #\w+)?>>>\n(.*?)\n<<<END OF RESPONSE \1(?: #\w+)?>>>", re.S
)
EVIL = "<script>alert(1)</script>"


def judge_picking(needle: str) -> Callable[[Request], str]:
    """A best-of judge: the response containing ``needle`` wins."""

    def reply(request: Request) -> str:
        first_user = next(m.content for m in request.messages if m.role == "user")
        found = {m.group(1): m.group(2) for m in BLOCK.finditer(first_user)}
        winner = next(label for label, text in found.items() if needle in text)
        scores = {label: 9 if label == winner else 3 for label in found}
        return json.dumps({"scores": scores, "winner": winner, "rationale": f"has {needle}"})

    return reply


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the timeout")
        time.sleep(0.01)


def by_name(console: FusionConsole) -> dict[str, MemberStatus]:
    return {f"{s.role}:{s.name}": s for s in console.status()}


def test_controls_reflect_the_arguments() -> None:
    a, b = FakeModel("alpha"), FakeModel("beta")
    outside_judge = FakeModel("referee")
    c = FusionConsole([a, b], judge=outside_judge, pool=["beta"], mode="merge", prompt="hi")
    assert c.prompt_box.value == "hi"
    assert list(c.pool_select.options) == ["alpha", "beta"]
    assert c.pool_select.value == ("beta",)
    assert list(c.judge_picker.options) == ["(no judge)", "alpha", "beta", "referee"]
    assert c.judge_picker.value == "referee"
    assert list(c.mode_toggle.options) == list(MODES) and c.mode_toggle.value == "merge"
    assert c.rounds_box.disabled  # rounds only matter in debate
    c.mode_toggle.value = "debate"
    assert not c.rounds_box.disabled
    assert [c.tabs.get_title(i) for i in range(3)] == ["Answer", "Candidates", "Timeline"]
    assert not c.running and c.result is None and c.status() == ()
    assert "FusionConsole(models=['alpha', 'beta']" in repr(c)


def test_repeated_model_names_are_told_apart() -> None:
    m = FakeModel("same")
    c = FusionConsole([m, FakeModel("same")], judge=m)
    assert list(c.pool_select.options) == ["same", "same #2"]
    assert c.judge_picker.value == "same"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"models": []}, "at least one model"),
        ({"models": ["fake:a"], "mode": "average"}, "unknown mode"),
        ({"models": ["fake:a"], "rounds": 0}, "rounds"),
        ({"models": ["fake:a"], "pool": ["zeta"]}, "not among the models"),
    ],
)
def test_bad_arguments(kwargs: dict, needle: str) -> None:
    with pytest.raises(InvalidRequestError, match=needle):
        FusionConsole(**kwargs)


def test_run_best_of_with_a_failed_member() -> None:
    alpha = FakeModel("alpha", f"Paris is the capital. {EVIL}", latency=0.05)
    beta = FakeModel("beta", "Lyon", latency=0.1)
    gamma = FakeModel("gamma", ModelTimeoutError("gamma: no answer within 1 s", model="gamma"))
    judge = FakeModel("judge", judge_picking("Paris"))
    c = FusionConsole([alpha, beta, gamma], judge=judge)
    c.prompt_box.value = "Capital of France?"
    c.run_button.click()
    wait_until(lambda: not c.running)

    assert c.error is None and c.result is not None
    rows = by_name(c)
    assert [s.name for s in c.status()] == ["alpha", "beta", "gamma", "judge"]
    assert rows["member:alpha"].state == "done" and rows["member:alpha"].latency_s is not None
    assert rows["member:alpha"].text.startswith("done · ")
    assert rows["member:beta"].state == "done"
    gamma_row = rows["member:gamma"]
    assert gamma_row.state == "failed"
    assert gamma_row.error == "ModelTimeoutError: gamma: no answer within 1 s"
    assert gamma_row.text == "failed · ModelTimeoutError: gamma: no answer within 1 s"
    assert {rows[f"member:{n}"].label for n in ("alpha", "beta", "gamma")} == {"A", "B", "C"}
    assert rows["judge:judge"].state == "done" and rows["judge:judge"].calls == 1

    status = c.status_html.value
    assert "Finished." in status
    assert "ModelTimeoutError: gamma: no answer within 1 s" in status
    answer = c.answer_html.value
    assert "Paris is the capital." in answer
    assert EVIL not in answer and "&lt;script&gt;alert(1)&lt;/script&gt;" in answer
    assert "winner <b>" in answer and "(alpha)" in answer and "has Paris" in answer
    cands = c.candidates_html.value
    for name in ("alpha", "beta", "gamma"):
        assert f"<td>{name}</td>" in cands
    assert "Lyon" in cands and "no answer within 1 s" in cands and "★" in cands
    timeline = c.timeline_html.value
    assert "judge · judge" in timeline and "score" in timeline and "(failed)" in timeline
    assert not c.run_button.disabled and c.stop_button.disabled


def test_click_returns_at_once_and_status_is_live() -> None:
    fast = FakeModel("fast", "42", latency=0.0)
    slow = FakeModel("slow", "42", latency=0.6)
    c = FusionConsole([fast, slow], mode="vote", prompt="6 * 7?")
    start = time.perf_counter()
    c.run_button.click()
    assert time.perf_counter() - start < 0.3, "Run must not block the kernel"
    assert c.running and c.run_button.disabled and not c.stop_button.disabled
    assert c.run() is None  # a second run while one is in flight is refused
    # at some moment the fast member is done while the slow one is still running
    wait_until(lambda: by_name(c)["member:fast"].state == "done", timeout=5)
    assert by_name(c)["member:slow"].state == "running"
    assert "running…" in c.status_html.value
    assert c.wait(10) is not None
    assert by_name(c)["member:slow"].state == "done"
    assert c.result is not None and c.result.answer == "42"


def test_judge_not_needed_in_vote_mode() -> None:
    judge = FakeModel("tiebreaker", "A")
    c = FusionConsole([FakeModel("a", "7"), FakeModel("b", "7")], judge=judge, mode="vote")
    c.prompt_box.value = "3 + 4?"
    c.run()
    c.wait(10)
    row = by_name(c)["judge:tiebreaker"]
    assert row.state == "not run" and row.note == "not needed (method: vote)"
    assert judge.call_count == 0


def test_validation_error_is_shown_and_nothing_runs() -> None:
    m = FakeModel("alpha", "x")
    c = FusionConsole([m], mode="vote")
    c.prompt_box.value = "   "
    c.run_button.click()
    assert c.wait(10) is None
    assert isinstance(c.error, InvalidRequestError)
    assert "prompt is empty" in c.status_html.value
    assert [s.state for s in c.status()] == ["not run"]
    assert m.call_count == 0 and not c.run_button.disabled


def test_every_member_failing_shows_each_reason() -> None:
    a = FakeModel("alpha", RuntimeError("alpha exploded"))
    b = FakeModel("beta", ModelTimeoutError("beta: too slow", model="beta"))
    c = FusionConsole([a, b], mode="vote", prompt="q")
    c.run()
    assert c.wait(10) is None
    assert isinstance(c.error, FusionError)
    rows = by_name(c)
    assert rows["member:alpha"].error == "RuntimeError: alpha exploded"
    assert rows["member:beta"].error == "ModelTimeoutError: beta: too slow"
    status = c.status_html.value
    assert "FusionError" in status and "alpha exploded" in status and "beta: too slow" in status
    assert "No answer yet." in c.answer_html.value


def test_stop_cancels_a_run() -> None:
    c = FusionConsole([FakeModel("sleepy", "z", latency=5.0)], mode="vote", prompt="q")
    c.run()
    wait_until(lambda: by_name(c)["member:sleepy"].state == "running", timeout=5)
    c.stop_button.click()
    assert c.wait(5) is None
    assert c.error is None
    assert "Stopped" in c.status_html.value
    assert by_name(c)["member:sleepy"].state == "not run"


def test_debate_rounds_show_in_the_status() -> None:
    pool = [FakeModel("alpha", "The answer is 42."), FakeModel("beta", "The answer is 41.")]
    judge = FakeModel("judge", judge_picking("42"))
    c = FusionConsole(pool, judge=judge, mode="debate", rounds=2, prompt="6 * 7?")
    c.run()
    result = c.wait(10)
    assert result is not None and result.mode == "debate"
    assert len(result.rounds) >= 2  # round 0 plus at least one debate round
    rows = by_name(c)
    assert rows["member:alpha"].note.startswith("debate round")
    assert rows["member:alpha"].calls >= 2
    assert "debate round 1" in c.timeline_html.value
    spans = timeline_spans(result)
    assert [s.start_s for s in spans] == sorted(s.start_s for s in spans)


def test_mimebundle_has_live_view_and_escaped_static_snapshot() -> None:
    c = FusionConsole([FakeModel("alpha", f"42 {EVIL}"), FakeModel("beta", "42")], mode="vote")
    before = c._repr_mimebundle_()
    assert WIDGET_VIEW_MIME in before and "text/html" in before
    assert "Fusion console" in before["text/html"] and "No answer" not in before["text/html"]
    c.prompt_box.value = f"6 * 7? {EVIL}"
    c.run()
    c.wait(10)
    html = c._repr_mimebundle_()["text/html"]
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for needle in ("alpha, beta", "vote", "Finished.", "Answer", "Candidates", "Timeline"):
        assert needle in html
    assert "done · " in html
    assert c.snapshot().html == html
