"""The status bookkeeping behind :class:`~fusionkit.widgets.console.FusionConsole`.

Pure functions and frozen records, no widgets: :class:`MemberStatus` (one row of the live
status table), how each :class:`~fusionkit.fusion.events.FusionEvent` moves a member's or
the judge's row (:func:`_apply_member`, :func:`_apply_judge`), which row an event belongs
to (:func:`_member_index`), the stage line (:func:`_stage_text`), how rows the run never
reached are settled when it ends (:func:`_settle`), and the timeline bars of a finished
fusion (:func:`timeline_spans`, from :mod:`fusionkit.fusion.timeline`).

Kept apart from :mod:`fusionkit.widgets.console` (the ipywidgets layout and callbacks) so
each reads in one sitting and this part can be tested without a widget. The public names
are re-exported by :mod:`fusionkit.widgets.console`, which is where callers import them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ..errors import InvalidRequestError
from ..fusion.events import FusionEvent
from ..fusion.modes import get_mode
from ..fusion.result import FusionResult
from ..fusion.timeline import Span, timeline_spans

__all__ = ["MemberStatus", "Span", "State", "timeline_spans"]

State = Literal["waiting", "running", "done", "failed", "not run"]


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """The live status of one pool member (or of the judge).

    Attributes:
        name: The model's display name.
        role: ``"member"`` or ``"judge"``.
        state: ``"waiting"``, ``"running"``, ``"done"``, ``"failed"`` or ``"not run"``.
        label: The member's anonymous label once the engine has used it (``"A"``).
        latency_s: Seconds of the last finished or failed call (the judge: all its calls).
        error: ``"ErrorType: message"`` when the last call failed.
        note: Extra words: the debate round, the judge step, a re-ask, a fallback.
        calls: How many calls finished or failed (debate rounds and re-asks add up).
        cached: True when its answer (the judge: every answer) came from the response
            cache; ``latency_s`` is then the original call's (set when the run ends).
    """

    name: str
    role: str = "member"
    state: State = "waiting"
    label: str | None = None
    latency_s: float | None = None
    error: str | None = None
    note: str = ""
    calls: int = 0
    cached: bool = False

    @property
    def who(self) -> str:
        """``"A · edge"`` once the label is known (three ``edge`` rows read apart), else
        the model's name; the judge's row is ``"judge · name"``."""
        if self.role == "judge":
            return f"judge · {self.name}"
        return f"{self.label} · {self.name}" if self.label else self.name

    @property
    def text(self) -> str:
        """``"waiting"``, ``"running"``, ``"done · 850 ms"``, ``"done · 9.6 s (cached)"``,
        ``"failed · Type: reason"``."""
        from ..render.html import fmt_seconds

        if self.state == "done" and self.latency_s is not None:
            return f"done · {fmt_seconds(self.latency_s)}" + (" (cached)" if self.cached else "")
        if self.state == "failed":
            return f"failed · {self.error}" if self.error else "failed"
        return self.state


def _member_index(rows: Sequence[MemberStatus], event: FusionEvent) -> int | None:
    """The index of the pool row a ``member_*`` event is about, or None if none matches."""
    # Labels are shuffled by the engine, so a row learns its label from its first event;
    # a repeated model takes the first of its rows still without a label.
    for i, row in enumerate(rows):
        if event.label is not None and row.label == event.label:
            return i
    for i, row in enumerate(rows):
        if row.label is None and row.name == event.model:
            return i
    return None


def _apply_member(row: MemberStatus, e: FusionEvent) -> MemberStatus:
    note = f"debate round {e.round}" if e.stage == "debate" and e.round else row.note
    if e.kind == "member_start":
        return replace(row, label=e.label, state="running", note=note, error=None)
    if e.kind == "member_finish":
        return replace(
            row, label=e.label, state="done", latency_s=e.latency_s, note=note, calls=row.calls + 1
        )
    if e.kind == "member_failed":
        if e.stage == "debate":
            note = f"{note}; keeps its previous answer"
        return replace(
            row,
            label=e.label,
            state="failed",
            latency_s=e.latency_s,
            error=e.error,
            note=note,
            calls=row.calls + 1,
        )
    return row


def _apply_judge(row: MemberStatus, e: FusionEvent) -> MemberStatus:
    total = (row.latency_s or 0.0) + (e.latency_s or 0.0)
    if e.kind == "judge_start":
        return replace(row, state="running", note=e.detail or row.note)
    if e.kind == "judge_finish":
        return replace(row, state="done", latency_s=total, error=None, calls=row.calls + 1)
    if e.kind == "judge_failed":
        return replace(row, state="failed", latency_s=total, error=e.error, calls=row.calls + 1)
    if e.kind == "judge_retry":
        return replace(row, note=f"re-asked: {e.detail}" if e.detail else "re-asked")
    if e.kind == "judge_fallback":
        return replace(row, note=f"fallback: {e.detail}" if e.detail else "fallback")
    return row


def _stage_text(e: FusionEvent, mode: str | None) -> str:
    """The stage line for an event, in the mode's own words ("" when it changes nothing)."""
    try:
        return get_mode(mode).stage_text(e)
    except InvalidRequestError:  # no mode known yet: only the start is worth a line
        return "Running…" if e.kind == "fusion_start" else ""


def _settle(
    rows: Sequence[MemberStatus], judge_row: MemberStatus | None, result: FusionResult | None
) -> tuple[list[MemberStatus], MemberStatus | None]:
    """Settle the rows when a run ends.

    Rows the run never reached are ``"not run"``; a member stopped mid-debate after it
    answered stays ``"done"`` (noted as stopped); with a result, a cached answer is marked
    ``cached`` and shows the original call's latency, so the table and the "all cached"
    total tell the same story.

    Args:
        rows: The pool rows at the end of the run.
        judge_row: The judge's row, or None without a judge.
        result: The run's result, or None when it failed or was cancelled.

    Returns:
        The settled pool rows and judge row.
    """
    settled = [_settle_member(r, result) for r in rows]
    jr = judge_row
    if jr is not None and jr.state in ("waiting", "running"):
        note = jr.note
        if result is not None and jr.calls == 0:
            note = f"not needed (method: {result.judgment.method})"
        if jr.calls > 0:  # stopped while re-asking: it did answer before
            jr = replace(jr, state="done", note=f"{note}; stopped before the next reply")
        else:
            jr = replace(jr, state="not run", note=note)
    if jr is not None and result is not None:
        answered = [j for j in result.judge_calls if j.ok]
        if answered and all(j.cached for j in answered):
            # What the judge took originally, marked as such (the run itself took ms).
            jr = replace(jr, cached=True, latency_s=sum(j.latency_s for j in answered))
    return settled, jr


def _settle_member(row: MemberStatus, result: FusionResult | None) -> MemberStatus:
    if row.state in ("waiting", "running"):
        if row.calls == 0:
            # The engine never reached it, or stopped it before its answer: it did not run.
            note = "stopped while answering" if row.state == "running" else row.note
            return replace(row, state="not run", note=note)
        # Stopped mid-debate: it answered before, so it is not "not run".
        stopped = f"{row.note}; stopped before it finished" if row.note else "stopped"
        return replace(row, state="done", note=stopped)
    if result is not None and row.label is not None:
        for c in result.candidates:
            if c.label == row.label and c.cached and c.ok:
                return replace(row, cached=True, latency_s=c.latency_s)
    return row
