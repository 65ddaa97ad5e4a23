"""Calibrating a cascade: sweep the threshold over ONE recorded run, pick the cheapest.

A cascade run with ``record_both=True`` answers as the cascade would and also runs the
pool on every item, so each item records its signal value and both paths' outcomes
(:class:`CalibrationItem`). For any threshold ``t`` the cascade's outcome on an item is
then known without re-running anything: it escalates when ``value < t`` (or when the
signal was unavailable), and is right when the path it takes was right. Sweeping every
distinct value gives the whole curve — share escalated, accuracy, cost, latency —
from that one run (:class:`Calibration`).

:meth:`Calibration.choose` returns the threshold that reaches a target accuracy (by
default: the pool's, less two points) at the least cost. Grading is the caller's:
:func:`items_from_results` takes a ``correct(i, text)`` function, and
:func:`fusionkit.evaluation.calibrate` wires it to the task checkers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError
from .modes.cascade import cascade_of
from .result import FusionResult

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "Calibration",
    "CalibrationItem",
    "Threshold",
    "check_signal",
    "items_from_results",
    "nearest_rank",
]

#: One threshold, or one per signal when several are calibrated together.
Threshold = float | tuple[float, ...]


@dataclass(frozen=True, slots=True)
class CalibrationItem:
    """One item of a recorded cascade run.

    Attributes:
        value: The signal's value on this item (None: unavailable, so always escalated).
        edge_correct: Whether the edge model's answer was right.
        pool_correct: Whether the escalation's answer was right (when the escalation
            failed, the edge answer stands, so this equals ``edge_correct``).
        edge_cost: Cost of the edge step (USD or tokens, see :attr:`Calibration.unit`).
        pool_cost: Cost of the escalation.
        edge_s: Wall time of the edge step.
        pool_s: Wall time of the escalation.
    """

    value: float | None | tuple[float | None, ...]
    edge_correct: bool
    pool_correct: bool
    edge_cost: float
    pool_cost: float
    edge_s: float
    pool_s: float

    def escalates(self, threshold: Threshold) -> bool:
        """Whether a cascade with this threshold escalates on this item.

        With several signals (``value`` and ``threshold`` are tuples) the cascade stops
        only when every signal is confident (``combine="all"``).
        """
        values = self.value if isinstance(self.value, tuple) else (self.value,)
        limits = threshold if isinstance(threshold, tuple) else (threshold,)
        return any(v is None or v < t for v, t in zip(values, limits, strict=True))


def items_from_results(
    results: Sequence[FusionResult],
    correct: Callable[[int, str | None], bool],
    *,
    signal: str | tuple[str, ...],
    unit: str = "auto",
) -> tuple[list[CalibrationItem], str]:
    """Turn recorded cascade results into calibration items.

    Args:
        results: Cascade results run with ``record_both=True`` (one per item).
        correct: ``correct(i, text)``: is ``text`` a right answer to item ``i``?
        signal: The signal to calibrate (``"agreement"``, ``"logprob"``, ...), or a
            tuple of signals calibrated together (the cascade combining them with
            ``combine="all"``).
        unit: ``"usd"``, ``"tokens"`` or ``"auto"`` (USD when any cost is non-zero and
            every cost is known, else tokens: a local model's cost is 0 but its tokens
            are real work).

    Returns:
        The items and the cost unit used.

    Raises:
        InvalidRequestError: A result that is not a recorded cascade.
    """
    decisions = []
    for i, r in enumerate(results):
        d = cascade_of(r)
        if d is None or not d.pool_ran:
            raise InvalidRequestError(
                f"result {i} is not a cascade run with record_both=True (mode {r.mode!r}); "
                "calibration needs both paths on every item."
            )
        decisions.append(d)
    if unit == "auto":
        costs = [c for d in decisions for c in (d.edge_cost_usd, d.escalation_cost_usd)]
        known = all(c is not None for c in costs)
        unit = "usd" if known and any(c for c in costs) else "tokens"
    if unit not in ("usd", "tokens"):
        raise InvalidRequestError(f"unit must be 'usd', 'tokens' or 'auto', got {unit!r}.")
    items = []
    for i, d in enumerate(decisions):
        edge_ok = d.edge_answer is not None and correct(i, d.edge_answer)
        pool_ok = correct(i, d.pool_answer) if d.pool_answer is not None else edge_ok
        names = signal if isinstance(signal, tuple) else (signal,)
        got = tuple(None if d.signal(n) is None else d.signal(n).value for n in names)  # type: ignore[union-attr]
        if unit == "usd":
            ce, cp = float(d.edge_cost_usd or 0.0), float(d.escalation_cost_usd or 0.0)
        else:
            ce = float(d.edge_usage.total_tokens or 0)
            cp = float(d.escalation_usage.total_tokens or 0)
        items.append(
            CalibrationItem(
                value=got if isinstance(signal, tuple) else got[0],
                edge_correct=edge_ok,
                pool_correct=pool_ok,
                edge_cost=ce,
                pool_cost=cp,
                edge_s=d.edge_s,
                pool_s=d.escalation_s,
            )
        )
    return items, unit


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile of ``values`` (``0.9``: p90); None when empty.

    The latency percentiles of the calibration curve and of
    :func:`fusionkit.evaluation_table.condition_table` both read this.
    """
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


@dataclass(frozen=True, slots=True)
class Calibration:
    """The threshold sweep of one recorded cascade run.

    Attributes:
        signal: The calibrated signal (a tuple when several are calibrated together).
        items: One per item.
        unit: ``"usd"`` or ``"tokens"``: what cost means here.
    """

    signal: str | tuple[str, ...]
    items: tuple[CalibrationItem, ...]
    unit: str = "usd"

    def __post_init__(self) -> None:
        if not self.items:
            raise InvalidRequestError("a calibration needs at least one item.")

    def thresholds(self) -> list[Threshold]:
        """Every threshold that changes the outcome: -inf (never escalate), each distinct
        value, +inf (always escalate); with several signals, every combination."""
        if not isinstance(self.signal, tuple):
            values = sorted({i.value for i in self.items if i.value is not None})  # type: ignore[type-var]
            return [-math.inf, *values, math.inf]
        axes = []
        for k in range(len(self.signal)):
            vals = {i.value[k] for i in self.items if i.value[k] is not None}  # type: ignore[index]
            axes.append([-math.inf, *sorted(vals), math.inf])
        return list(itertools.product(*axes))

    @property
    def names(self) -> tuple[str, ...]:
        """The calibrated signals' names."""
        return self.signal if isinstance(self.signal, tuple) else (self.signal,)

    def describe(self, threshold: Threshold) -> str:
        """``"agreement >= 0.75"`` (``" and "`` between several)."""
        limits = threshold if isinstance(threshold, tuple) else (threshold,)
        return " and ".join(f"{n} >= {t:.3g}" for n, t in zip(self.names, limits, strict=True))

    def at(self, threshold: Threshold) -> dict[str, Any]:
        """The cascade's figures at one threshold (means per item)."""
        n = len(self.items)
        esc = [i.escalates(threshold) for i in self.items]
        pairs = list(zip(self.items, esc, strict=True))
        right = [i.pool_correct if e else i.edge_correct for i, e in pairs]
        cost = [i.edge_cost + (i.pool_cost if e else 0.0) for i, e in pairs]
        wall = [i.edge_s + (i.pool_s if e else 0.0) for i, e in pairs]
        return {
            "threshold": threshold,
            "escalated_share": sum(esc) / n,
            "accuracy": sum(right) / n,
            "cost_per_item": sum(cost) / n,
            "mean_latency_s": sum(wall) / n,
            "p90_latency_s": nearest_rank(wall, 0.9),
        }

    def curve(self) -> pd.DataFrame:
        """One row per threshold: share escalated, accuracy, cost and latency per item."""
        import pandas as pd

        rows = []
        for t in self.thresholds():
            row = self.at(t)
            if isinstance(t, tuple):
                row.update({f"threshold_{n}": v for n, v in zip(self.names, t, strict=True)})
            rows.append(row)
        return pd.DataFrame(rows)

    @property
    def edge_accuracy(self) -> float:
        """Accuracy of the edge model alone on these items."""
        return sum(i.edge_correct for i in self.items) / len(self.items)

    @property
    def pool_accuracy(self) -> float:
        """Accuracy of the escalation (the pool) alone on these items."""
        return sum(i.pool_correct for i in self.items) / len(self.items)

    @property
    def pool_cost(self) -> float:
        """Cost per item of the pool alone (the escalation without the edge step)."""
        return sum(i.pool_cost for i in self.items) / len(self.items)

    def choose(
        self,
        target_accuracy: float | None = None,
        *,
        within: float = 0.02,
        budget: float | None = None,
    ) -> Threshold:
        """The threshold that reaches the target accuracy at the least cost.

        Args:
            target_accuracy: Accuracy to reach (0-1); by default the pool's less ``within``.
            within: Points (as a fraction) below the pool's accuracy that still count.
            budget: Instead: the most accurate threshold whose cost is at most this share
                of always escalating (``0.5``: half the pool's cost); ties go to the one
                that escalates more. Spending the budget leaves a margin where a target
                fitted on a small set may not hold on new items.

        Returns:
            The threshold (ties in cost go to the more accurate, then the lower share
            escalated); ``inf`` (always escalate) when nothing cheaper reaches the target.
        """
        rows = [self.at(t) for t in self.thresholds()]
        if budget is not None:
            if not budget > 0:
                raise InvalidRequestError(f"budget must be a share > 0, got {budget!r}.")
            cap = self.at(self._always())["cost_per_item"] * budget + 1e-12
            within_budget = [r for r in rows if r["cost_per_item"] <= cap] or rows[:1]
            # Ties go to the one that escalates more: what the budget buys is a margin
            # against a curve fitted on few items.
            best = max(within_budget, key=lambda r: (r["accuracy"], r["cost_per_item"]))
            return best["threshold"]
        target = self.pool_accuracy - within if target_accuracy is None else target_accuracy
        ok = [r for r in rows if r["accuracy"] >= target - 1e-12]
        if not ok:
            return self._always()
        best = min(ok, key=lambda r: (r["cost_per_item"], -r["accuracy"], r["escalated_share"]))
        return best["threshold"]

    def _always(self) -> Threshold:
        return (math.inf,) * len(self.signal) if isinstance(self.signal, tuple) else math.inf

    def summary(self, threshold: Threshold | None = None) -> str:
        """One sentence: the chosen threshold's accuracy and cost against the pool's."""
        t = self.choose() if threshold is None else threshold
        r = self.at(t)
        pool_cost = self.at(self._always())["cost_per_item"]
        share = r["cost_per_item"] / pool_cost if pool_cost else float("nan")
        return (
            f"{self.describe(t)}: escalates {r['escalated_share']:.0%} of items, "
            f"accuracy {r['accuracy']:.0%} (edge alone {self.edge_accuracy:.0%}, pool "
            f"{self.pool_accuracy:.0%}) at {share:.0%} of the always-escalate cost "
            f"({self.unit})."
        )

    def plot(self, threshold: Threshold | None = None) -> Figure:
        """Accuracy against cost per item over the sweep, the chosen threshold marked."""
        import matplotlib.pyplot as plt

        c = self.curve()
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.plot(c["cost_per_item"], c["accuracy"] * 100, "o", color="#0969da", ms=3, alpha=0.35)
        # the frontier: the best accuracy reachable at each cost
        best, xs, ys = -1.0, [], []
        for cost, acc in sorted(zip(c["cost_per_item"], c["accuracy"], strict=True)):
            if acc > best:
                best = acc
                xs.append(cost)
                ys.append(acc * 100)
        ax.step(xs, ys, where="post", color="#0969da", lw=1.5, label="best reachable")
        t = self.choose() if threshold is None else threshold
        r = self.at(t)
        ax.plot([r["cost_per_item"]], [r["accuracy"] * 100], "*", color="#cf222e", ms=14)
        ax.annotate(
            f"{self.describe(t)}\n{r['escalated_share']:.0%} escalated",
            (r["cost_per_item"], r["accuracy"] * 100),
            textcoords="offset points",
            xytext=(8, -24),
            fontsize=9,
        )
        ax.axhline(self.pool_accuracy * 100, color="#8250df", ls="--", lw=1, label="pool alone")
        ax.axhline(self.edge_accuracy * 100, color="#59636e", ls=":", lw=1, label="edge alone")
        unit = "USD" if self.unit == "usd" else "tokens"
        ax.set_xlabel(f"cost per item ({unit})")
        ax.set_ylabel("accuracy (%)")
        names = " + ".join(self.names)
        ax.set_title(f"Cascade threshold sweep ({names}, {len(self.items)} items)")
        ax.legend(loc="lower right", fontsize=9)
        fig.tight_layout()
        plt.close(fig)  # returned, not shown: a notebook cell displays it once
        return fig

    def _repr_html_(self) -> str:
        from ..render.html import escape

        return f"<p>{escape(self.summary())}</p>" + self.curve().to_html(index=False)


def check_signal(name: object) -> str | tuple[str, ...]:
    """A signal name (as the cascade spells it), or a tuple of them."""
    from .modes.cascade import SIGNALS

    if isinstance(name, (tuple, list)) and name and all(n in SIGNALS for n in name):
        return tuple(name)
    if name not in SIGNALS:
        raise InvalidRequestError(
            f"calibrate a signal ({', '.join(SIGNALS)}) or a tuple of them; got {name!r}."
        )
    return str(name)
