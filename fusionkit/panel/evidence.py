"""The measured section of the decision page: accuracy with intervals, cost, latency.

:class:`Evidence` is plain numbers — one :class:`EvidenceRow` per condition that was
evaluated on the user's own tasks (accuracy with its 95 % bootstrap interval, the paired
difference against the baseline with its interval, cost and tokens per 1,000 prompts,
median and p90 latency, the share a cascade escalated). It is built by
:meth:`fusionkit.evaluation.Evaluation.evidence` (or by hand), handed to
``fk.compare(a, b, ..., evidence=...)``, and rendered as one section of the page.

The recommendation sentence is computed from those numbers here — never written by a
model — and says which numbers it rests on. An accuracy difference counts only when its
95 % interval excludes zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidRequestError

__all__ = ["Evidence", "EvidenceRow", "evidence_section"]


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One condition's measured figures.

    Attributes:
        condition: Its name (``"edge alone"``, ``"cascade"``).
        n: Tasks graded.
        accuracy: Share right, 0-1.
        lo: Lower end of the accuracy's 95 % bootstrap interval.
        hi: Upper end.
        diff: Paired accuracy difference against the baseline (this minus baseline).
        diff_lo: Lower end of the difference's 95 % interval.
        diff_hi: Upper end.
        cost_per_1k_usd: Cost of 1,000 prompts in USD (None when unknown).
        tokens_per_1k: Tokens (in and out) of 1,000 prompts.
        median_latency_s: Median seconds per prompt.
        p90_latency_s: 90th-percentile seconds per prompt.
        escalation_share: For a cascade, the share of prompts sent to the pool.
    """

    condition: str
    n: int
    accuracy: float
    lo: float
    hi: float
    diff: float | None = None
    diff_lo: float | None = None
    diff_hi: float | None = None
    cost_per_1k_usd: float | None = None
    tokens_per_1k: float | None = None
    median_latency_s: float | None = None
    p90_latency_s: float | None = None
    escalation_share: float | None = None

    @property
    def accuracy_text(self) -> str:
        """``"83 % (70–92 %)"``."""
        return f"{self.accuracy:.0%} ({self.lo:.0%}–{self.hi:.0%})".replace("%", " %")

    @property
    def diff_text(self) -> str:
        """``"+12 points (3 to 20)"``, or an em dash for the baseline."""
        if self.diff is None or self.diff_lo is None or self.diff_hi is None:
            return "—"
        return f"{self.diff * 100:+.0f} points ({self.diff_lo * 100:+.0f} to {self.diff_hi * 100:+.0f})"

    @property
    def cost_text(self) -> str:
        """``"$1.20"`` per 1,000 prompts (``"$0"`` locally, ``"unknown"``)."""
        c = self.cost_per_1k_usd
        if c is None:
            return "unknown"
        return "$0" if c == 0 else f"${c:,.2f}" if c >= 0.01 else f"${c:.4f}"

    @property
    def tokens_text(self) -> str:
        """``"41,000"`` tokens per 1,000 prompts."""
        return "—" if self.tokens_per_1k is None else f"{self.tokens_per_1k:,.0f}"

    @property
    def latency_text(self) -> str:
        """``"0.42 s / 0.90 s"`` (median / p90)."""
        if self.median_latency_s is None:
            return "—"
        p90 = "—" if self.p90_latency_s is None else f"{self.p90_latency_s:.2f} s"
        return f"{self.median_latency_s:.2f} s / {p90}"

    @property
    def escalation_text(self) -> str:
        """``"35 %"`` for a cascade, else an em dash."""
        return (
            "—"
            if self.escalation_share is None
            else f"{self.escalation_share:.0%}".replace("%", " %")
        )


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Measured figures for the decision page.

    Attributes:
        rows: One per condition, the baseline first.
        a: The condition that stands for the page's first tool (the baseline of the
            differences).
        b: The condition that stands for the second tool.
        n_tasks: How many tasks each condition answered.
        source: Where the numbers come from (task set, machine), shown under the table.
    """

    rows: tuple[EvidenceRow, ...]
    a: str
    b: str
    n_tasks: int
    source: str = ""

    def __post_init__(self) -> None:
        names = [r.condition for r in self.rows]
        for side, name in (("a", self.a), ("b", self.b)):
            if name not in names:
                raise InvalidRequestError(
                    f"evidence {side}={name!r} is not one of its conditions: {names}."
                )
        if self.a == self.b:
            raise InvalidRequestError("evidence a and b must be two different conditions.")

    def row(self, name: str) -> EvidenceRow:
        """The row of one condition.

        Raises:
            KeyError: No such condition.
        """
        for r in self.rows:
            if r.condition == name:
                return r
        raise KeyError(name)

    # -- the recommendation --------------------------------------------------------------

    def _accuracy_sentence(self) -> tuple[str, str | None]:
        """(sentence, which side is more accurate or None)."""
        ra, rb = self.row(self.a), self.row(self.b)
        if rb.diff is None or rb.diff_lo is None or rb.diff_hi is None:
            return (
                f"{rb.condition} {_pct(rb.accuracy)} vs {ra.condition} {_pct(ra.accuracy)} "
                f"on {self.n_tasks} tasks (no paired interval).",
                None,
            )
        interval = f"{rb.diff * 100:+.0f} points, 95 % CI {rb.diff_lo * 100:+.0f} to {rb.diff_hi * 100:+.0f}"
        if rb.diff_lo > 0:
            return (
                f"{rb.condition} is more accurate: {_pct(rb.accuracy)} vs {_pct(ra.accuracy)} "
                f"on {self.n_tasks} tasks ({interval}).",
                "b",
            )
        if rb.diff_hi < 0:
            return (
                f"{ra.condition} is more accurate: {_pct(ra.accuracy)} vs {_pct(rb.accuracy)} "
                f"on {self.n_tasks} tasks ({interval}).",
                "a",
            )
        return (
            f"No measurable accuracy difference on {self.n_tasks} tasks: {rb.condition} "
            f"{_pct(rb.accuracy)}, {ra.condition} {_pct(ra.accuracy)} ({interval}).",
            None,
        )

    @staticmethod
    def _cost_of(r: EvidenceRow, by: str) -> float | None:
        return r.cost_per_1k_usd if by == "usd" else r.tokens_per_1k

    def _cost_basis(self, rows: Sequence[EvidenceRow]) -> str:
        costs = [r.cost_per_1k_usd for r in rows]
        return "usd" if all(c is not None for c in costs) and any(costs) else "tokens"

    def _cost_sentence(self) -> str:
        ra, rb = self.row(self.a), self.row(self.b)
        by = self._cost_basis([ra, rb])
        ca, cb = self._cost_of(ra, by), self._cost_of(rb, by)
        parts = []
        if ca is not None and cb is not None:
            if by == "usd":
                parts.append(
                    f"per 1,000 prompts {rb.condition} costs {rb.cost_text} and "
                    f"{ra.condition} {ra.cost_text}"
                )
            else:
                parts.append(
                    f"both cost $0 in money here; per 1,000 prompts {rb.condition} uses "
                    f"{rb.tokens_text} tokens and {ra.condition} {ra.tokens_text}"
                )
        if ra.median_latency_s is not None and rb.median_latency_s is not None:
            parts.append(
                f"median latency {rb.median_latency_s:.2f} s vs {ra.median_latency_s:.2f} s"
            )
        text = "; ".join(parts) + "."
        return text[0].upper() + text[1:] if parts else ""

    def _cascade_sentences(self) -> list[str]:
        fused = [r for r in self.rows if r.escalation_share is None]
        if not fused:
            return []
        best = max(fused, key=lambda r: r.accuracy)
        out = []
        for c in self.rows:
            if c.escalation_share is None or best.accuracy <= 0:
                continue
            by = self._cost_basis([c, best])
            cc, cb = self._cost_of(c, by), self._cost_of(best, by)
            unit = "cost" if by == "usd" else "tokens"
            if cc is None or not cb:
                continue
            out.append(
                f"{c.condition}: {_pct(c.accuracy / best.accuracy)} of {best.condition}'s "
                f"accuracy at {_pct(cc / cb)} of its {unit} "
                f"({c.escalation_text} of prompts escalated)."
            )
        return out

    @property
    def recommendation(self) -> str:
        """The recommendation, computed from the numbers (never by a model)."""
        acc, more = self._accuracy_sentence()
        ra, rb = self.row(self.a), self.row(self.b)
        if more == "b":
            lead = f"Measured: ship {rb.condition} if its cost is acceptable."
        elif more == "a":
            lead = f"Measured: ship {ra.condition}."
        else:
            by = self._cost_basis([ra, rb])
            ca, cb = self._cost_of(ra, by), self._cost_of(rb, by)
            cheaper = ra if (ca or 0) <= (cb or 0) else rb
            lead = f"Measured: no accuracy gain shown, so the cheaper {cheaper.condition} wins."
        return " ".join(
            s for s in (lead, acc, self._cost_sentence(), *self._cascade_sentences()) if s
        )

    def table(self) -> list[dict[str, str]]:
        """The rows as display text (what the page shows)."""
        return [
            {
                "condition": r.condition,
                "accuracy": r.accuracy_text,
                "vs": r.diff_text,
                "cost": r.cost_text,
                "tokens": r.tokens_text,
                "latency": r.latency_text,
                "escalated": r.escalation_text,
            }
            for r in self.rows
        ]

    def section_html(self) -> str:
        """This section of the decision page as an HTML fragment (everything escaped)."""
        return evidence_section(self)


def evidence_section(evidence: Evidence) -> str:
    """Render :class:`Evidence` as the decision page's measured section."""
    from ..render.html import render

    return render("panel_decision_evidence.html", e=evidence, rows=evidence.table())
