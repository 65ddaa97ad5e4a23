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
    """

    name: str
    role: str = "member"
    state: State = "waiting"
    label: str | None = None
    latency_s: float | None = None
    error: str | None = None
    note: str = ""
    calls: int = 0

    @property
    def text(self) -> str:
        """``"waiting"``, ``"running"``, ``"done · 850 ms"``, ``"failed · Type: reason"``."""
        from ..render.html import fmt_seconds

        if self.state == "done" and self.latency_s is not None:
            return f"done · {fmt_seconds(self.latency_s)}"
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
    """Mark the rows a finished run never reached as ``"not run"``.

    Args:
        rows: The pool rows at the end of the run.
        judge_row: The judge's row, or None without a judge.
        result: The run's result, or None when it failed or was cancelled.

    Returns:
        The settled pool rows and judge row.
    """
    # Members the engine never reached (validation error, cancel) did not run.
    settled = [
        replace(r, state="not run") if r.state in ("waiting", "running") else r for r in rows
    ]
    jr = judge_row
    if jr is not None and jr.state in ("waiting", "running"):
        note = jr.note
        if result is not None and jr.calls == 0:
            note = f"not needed (method: {result.judgment.method})"
        jr = replace(jr, state="not run", note=note)
    return settled, jr
