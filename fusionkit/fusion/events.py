"""FusionEvent: what ``on_event`` receives while a fusion runs, so a widget can show it live.

Every event is a small frozen record with a ``kind``. The engine emits, in order:

===================  =========================================================
kind                 when
===================  =========================================================
``fusion_start``     validation passed, before any model is called
``stage_start``      a stage begins (``stage``: pool, debate, judge, vote)
``member_start``     one pool member's call begins (``label``, ``model``)
``member_finish``    it answered (``latency_s``)
``member_failed``    it failed or timed out (``error``: ``"Type: message"``)
``round_start``      a debate round begins (``round``: 1, 2, ...)
``round_finish``     a debate round ended (``detail``: ``"agreed"`` or ``"open"``)
``judge_start``      one judge call begins (``detail``: the step, e.g. ``score``)
``judge_finish``     it answered (``latency_s``)
``judge_failed``     it failed or timed out (``error``)
``judge_retry``      the judge's reply was unreadable; asking once more
``judge_fallback``   the deterministic fallback was used (``detail``: why)
``stage_finish``     a stage ended
``fusion_finish``    the result is ready
===================  =========================================================

Times are seconds since ``fusion_start`` (``time.perf_counter`` based), so a live view and
the static timeline agree.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVENT_KINDS", "FusionEvent"]

EVENT_KINDS = (
    "fusion_start",
    "stage_start",
    "member_start",
    "member_finish",
    "member_failed",
    "round_start",
    "round_finish",
    "judge_start",
    "judge_finish",
    "judge_failed",
    "judge_retry",
    "judge_fallback",
    "stage_finish",
    "fusion_finish",
)


@dataclass(frozen=True, slots=True)
class FusionEvent:
    """One thing that happened during a fusion.

    Attributes:
        kind: One of :data:`EVENT_KINDS`.
        time_s: Seconds since the fusion started.
        stage: ``"pool"``, ``"debate"``, ``"judge"`` or ``"vote"`` (None for fusion-wide
            events).
        label: The member's anonymous label (``"A"``), for member events.
        model: The member's or the judge's display name.
        latency_s: How long the call took, for ``*_finish`` and ``*_failed`` events.
        error: ``"ErrorType: message"`` for ``*_failed`` events.
        round: The debate round (1-based) for round and debate member events.
        detail: Extra words: the judge step, why a fallback was used, ...
    """

    kind: str
    time_s: float
    stage: str | None = None
    label: str | None = None
    model: str | None = None
    latency_s: float | None = None
    error: str | None = None
    round: int | None = None
    detail: str | None = None

    def __str__(self) -> str:
        parts = [f"{self.time_s * 1000:8.1f} ms", self.kind]
        if self.stage:
            parts.append(f"[{self.stage}]")
        if self.round is not None:
            parts.append(f"round {self.round}")
        if self.label:
            parts.append(f"{self.label}")
        if self.model:
            parts.append(f"({self.model})")
        if self.latency_s is not None:
            parts.append(f"{self.latency_s * 1000:.0f} ms")
        if self.detail:
            parts.append(f"— {self.detail}")
        if self.error:
            parts.append(f"— {self.error}")
        return " ".join(parts)
