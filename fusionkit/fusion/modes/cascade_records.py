"""The cascade's records: what it read and what it did (frozen data, no model calls).

:class:`SignalReading` (one confidence signal on one prompt), :class:`CascadeDecision`
(the whole decision, both paths' accounting) and :class:`CascadeJudgment` (a
:class:`~fusionkit.fusion.records.Judgment` carrying the decision); :func:`cascade_of`
reads it back from a result. Kept apart from :mod:`.cascade` (the mode) so the mode stays
about running and the records about reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...types import Usage
from ..records import Judgment

if TYPE_CHECKING:  # pragma: no cover
    from ..result import FusionResult

__all__ = [
    "DEFAULT_THRESHOLDS",
    "SELF_CHECK_SCHEMA",
    "SIGNALS",
    "CascadeDecision",
    "CascadeJudgment",
    "SignalReading",
    "cascade_of",
]

#: Every signal and its default threshold (``value >= threshold`` is "confident").
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "agreement": 0.66,  # two samples of three (2/3 = 0.667) agree
    "logprob": -0.35,
    "min_logprob": -2.3,
    "selfcheck": 0.7,
}
SIGNALS: tuple[str, ...] = tuple(DEFAULT_THRESHOLDS)
SELF_CHECK_SCHEMA: Mapping[str, Any] = {
    "title": "self-check",
    "type": "object",
    "properties": {"confidence": {"type": "integer", "minimum": 0, "maximum": 10}},
    "required": ["confidence"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class SignalReading:
    """One confidence signal on one prompt.

    Attributes:
        name: ``"agreement"``, ``"logprob"``, ``"min_logprob"`` or ``"selfcheck"``.
        value: The measured value; None when the signal was unavailable.
        threshold: The value at or above which the edge answer stands.
        note: Why the signal is unavailable, or how it was measured.
    """

    name: str
    value: float | None
    threshold: float
    note: str = ""

    @property
    def available(self) -> bool:
        """True when the signal could be measured."""
        return self.value is not None

    @property
    def confident(self) -> bool | None:
        """``value >= threshold``; None when unavailable."""
        return None if self.value is None else self.value >= self.threshold

    def describe(self) -> str:
        """``"agreement 0.33 < 0.67"`` or ``"logprob unavailable (...)"``."""
        if self.value is None:
            return f"{self.name} unavailable ({self.note})" if self.note else f"{self.name} n/a"
        op = ">=" if self.confident else "<"
        return f"{self.name} {self.value:.2f} {op} {self.threshold:.2f}"


@dataclass(frozen=True, slots=True)
class CascadeDecision:
    """What the cascade did on one prompt.

    Attributes:
        escalated: True when the result's answer is the pool's: the escalation ran and
            answered. False when the edge answer stands, whether the edge was confident
            or the escalation failed.
        would_escalate: What the signals said: True when the edge was unsure (or failed)
            and the pool was asked for the answer. It differs from ``escalated`` only
            when that escalation failed and the edge answer was kept. ``record_both``
            runs the pool whatever this says (``pool_ran``) without changing either.
        reason: The decision in words.
        signals: Every signal read, in order (fallback signals included).
        edge_model: The edge model's name.
        edge_answer: The edge model's greedy answer (None when it failed).
        edge_extracted: The short answer extracted from it.
        edge_error: ``"Type: message"`` when the edge call failed.
        escalate_to: The escalation mode's name.
        pool_ran: True when the pool was called (escalation or ``record_both``).
        pool_answer: The escalation's answer when it produced one.
        escalation_error: Why the escalation produced no answer.
        edge_s: Wall time of the edge step (answer, samples, self-check).
        escalation_s: Wall time of the escalation (pool and judge); 0 when not run.
        edge_usage: Tokens of every edge call (samples and self-check included).
        escalation_usage: Tokens of every pool and judge call.
        edge_cost_usd: Cost of the edge calls (None when unknown).
        escalation_cost_usd: Cost of the escalation (None when unknown; 0 when not run).
    """

    escalated: bool
    would_escalate: bool
    reason: str
    signals: tuple[SignalReading, ...]
    edge_model: str
    edge_answer: str | None
    edge_extracted: str | None
    edge_error: str | None
    escalate_to: str
    pool_ran: bool = False
    pool_answer: str | None = None
    escalation_error: str | None = None
    edge_s: float = 0.0
    escalation_s: float = 0.0
    edge_usage: Usage = field(default_factory=Usage)
    escalation_usage: Usage = field(default_factory=Usage)
    edge_cost_usd: float | None = 0.0
    escalation_cost_usd: float | None = 0.0

    def signal(self, name: str) -> SignalReading | None:
        """The reading of one signal, or None when it was not read."""
        return next((s for s in self.signals if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A flat summary (one row of a table); signal values as ``signal_<name>``."""
        row: dict[str, Any] = {
            "escalated": self.escalated,
            "would_escalate": self.would_escalate,
            "reason": self.reason,
            "edge_answer": self.edge_answer,
            "edge_extracted": self.edge_extracted,
            "edge_error": self.edge_error,
            "pool_answer": self.pool_answer,
            "escalation_error": self.escalation_error,
            "edge_s": self.edge_s,
            "escalation_s": self.escalation_s,
            "edge_tokens": self.edge_usage.total_tokens,
            "escalation_tokens": self.escalation_usage.total_tokens,
            "edge_cost_usd": self.edge_cost_usd,
            "escalation_cost_usd": self.escalation_cost_usd,
        }
        for s in self.signals:
            row[f"signal_{s.name}"] = s.value
        return row


@dataclass(frozen=True, slots=True)
class CascadeJudgment(Judgment):
    """A :class:`~fusionkit.fusion.records.Judgment` with the cascade's decision attached."""

    cascade: CascadeDecision | None = None


def cascade_of(result: FusionResult) -> CascadeDecision | None:
    """The cascade decision of a fusion result (None for any other mode)."""
    return getattr(result.judgment, "cascade", None)
