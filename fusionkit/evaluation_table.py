"""The numbers of an evaluation: accuracy with intervals, paired differences, the plot.

- :func:`bootstrap_mean`: a mean and its percentile bootstrap interval (tasks resampled).
- :func:`condition_table`: one row per condition — accuracy and its 95 % interval, the
  paired difference against a baseline and its interval (the same resampled tasks for
  both conditions, so a shared hard task does not widen the interval), tokens, cost,
  median and p90 latency, the share a cascade escalated.
- :func:`pareto_plot`: accuracy against cost and against latency, the Pareto front
  (no other condition is at least as accurate and cheaper) marked.
- :func:`evidence_from`: the decision page's :class:`~fusionkit.panel.evidence.Evidence`.

Rendering only: nothing here calls a model.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import InvalidRequestError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

    from .evaluation import Evaluation
    from .panel.evidence import Evidence

__all__ = [
    "bootstrap_mean",
    "condition_table",
    "evidence_from",
    "median_or_none",
    "pareto_front",
    "pareto_plot",
]

N_BOOT = 2000
LEVEL = 0.95


def bootstrap_mean(
    values: Sequence[float], *, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL
) -> tuple[float, float, float]:
    """``(mean, lower, upper)``: the percentile bootstrap interval of a mean.

    Args:
        values: One value per task (1/0 for right/wrong; a paired difference in -1..1).
        n_boot: Resamples.
        seed: Seed of the resampling (the same seed gives the same interval).
        level: Coverage of the interval.
    """
    import numpy as np

    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    means = arr[idx].mean(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(arr.mean()), float(lo), float(hi)


def median_or_none(values: Sequence[float]) -> float | None:
    """The median of ``values`` (the mean of the two middle ones for an even count); None
    when empty.

    The one median of an evaluation: :meth:`fusionkit.evaluation.Evaluation.summary` and
    :func:`condition_table` both read it, so their ``median_latency_s`` always agree.
    """
    return float(statistics.median(values)) if values else None


def condition_table(
    ev: Evaluation, baseline: str | None = None, *, n_boot: int = N_BOOT, seed: int = 0
) -> pd.DataFrame:
    """One row per condition, with intervals (see the module docstring).

    Args:
        ev: The evaluation.
        baseline: The condition the paired differences are taken against (default: the
            first).
        n_boot: Bootstrap resamples.
        seed: Bootstrap seed.

    Returns:
        Columns: condition, n, accuracy, acc_lo, acc_hi, diff, diff_lo, diff_hi
        (percentage points as fractions), tokens, tokens_per_task, cost_usd,
        cost_per_1k_usd, median_latency_s, p90_latency_s, escalated_share, errors,
        cached_answers.

    Raises:
        InvalidRequestError: An unknown baseline.
    """
    import pandas as pd

    from .fusion.calibrate import nearest_rank

    names = list(ev.conditions)
    base = names[0] if baseline is None else baseline
    if base not in names:
        raise InvalidRequestError(f"unknown baseline {base!r}; conditions: {names}")
    order = {t.id: i for i, t in enumerate(ev.tasks)}
    by: dict[str, list[Any]] = {n: [None] * len(ev.tasks) for n in names}
    for r in ev.records:
        by[r["condition"]][order[r["task_id"]]] = r
    right = {n: [float(bool(r and r["correct"])) for r in by[n]] for n in names}
    rows = []
    for name in names:
        recs = [r for r in by[name] if r is not None]
        n = len(recs)
        acc, lo, hi = bootstrap_mean(right[name], n_boot=n_boot, seed=seed)
        if name == base:
            diff = diff_lo = diff_hi = None
        else:
            paired = [a - b for a, b in zip(right[name], right[base], strict=True)]
            diff, diff_lo, diff_hi = bootstrap_mean(paired, n_boot=n_boot, seed=seed)
        costs = [r["cost_usd"] for r in recs]
        cost = None if any(c is None for c in costs) else float(sum(costs))
        tokens = sum(int(r["tokens"] or 0) for r in recs)
        lat = [float(r["latency_s"]) for r in recs if r["latency_s"] is not None]
        esc = [r.get("escalated") for r in recs]
        known = [e for e in esc if e is not None]
        rows.append(
            {
                "condition": name,
                "n": n,
                "accuracy": acc,
                "acc_lo": lo,
                "acc_hi": hi,
                "diff": diff,
                "diff_lo": diff_lo,
                "diff_hi": diff_hi,
                "tokens": tokens,
                "tokens_per_task": tokens / n if n else None,
                "cost_usd": cost,
                "cost_per_1k_usd": None if cost is None or not n else cost / n * 1000,
                "median_latency_s": median_or_none(lat),
                "p90_latency_s": nearest_rank(lat, 0.9),
                "escalated_share": sum(known) / len(known) if known else None,
                "errors": sum(r["error"] is not None for r in recs),
                "cached_answers": sum(int(r.get("cached") or 0) for r in recs),
            }
        )
    return pd.DataFrame(rows)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """For each ``(cost, accuracy)``: is it on the front (nothing else is at least as
    accurate for no more cost, and strictly better in one)?"""
    out = []
    for i, (c, a) in enumerate(points):
        dominated = any(
            (c2 <= c and a2 >= a) and (c2 < c or a2 > a)
            for j, (c2, a2) in enumerate(points)
            if j != i
        )
        out.append(not dominated)
    return out


def _cost_axis(t: pd.DataFrame) -> tuple[str, str]:
    costs = t["cost_per_1k_usd"]
    if costs.notna().all() and (costs > 0).any():
        return "cost_per_1k_usd", "cost per 1,000 prompts (USD)"
    return "tokens_per_task", "tokens per prompt (local models cost $0: tokens are the work)"


def pareto_plot(ev: Evaluation, baseline: str | None = None) -> Figure:
    """Accuracy (with its 95 % interval) against cost and against median latency.

    Filled markers joined by a line are the Pareto front; hollow markers are dominated.
    """
    import matplotlib.pyplot as plt

    t = condition_table(ev, baseline)
    xcol, xlabel = _cost_axis(t)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, col, label in (
        (axes[0], xcol, xlabel),
        (axes[1], "median_latency_s", "median latency per prompt (s)"),
    ):
        xs = [float(x) if x is not None and not pd_isna(x) else math.nan for x in t[col]]
        ys = [float(a) * 100 for a in t["accuracy"]]
        front = pareto_front(list(zip(xs, ys, strict=True)))
        err = [
            [y - lo * 100 for y, lo in zip(ys, t["acc_lo"], strict=True)],
            [hi * 100 - y for y, hi in zip(ys, t["acc_hi"], strict=True)],
        ]
        ax.errorbar(xs, ys, yerr=err, fmt="none", ecolor="#8c959f", capsize=3, lw=1)
        for x, y, on, name in zip(xs, ys, front, t["condition"], strict=True):
            ax.plot([x], [y], "o", ms=8, color="#0969da", mfc="#0969da" if on else "white", mew=1.5)
            ax.annotate(str(name), (x, y), textcoords="offset points", xytext=(6, 5), fontsize=9)
        pts = sorted((x, y) for x, y, on in zip(xs, ys, front, strict=True) if on)
        if len(pts) > 1:
            ax.plot(*zip(*pts, strict=True), "-", color="#0969da", lw=1, alpha=0.6)
        ax.set_xlabel(label)
        ax.set_ylabel("accuracy (%), 95 % interval")
        ax.set_ylim(-3, 109)
        ax.margins(x=0.15)
    axes[0].set_title("Accuracy vs cost (filled: Pareto front)", fontsize=11)
    axes[1].set_title("Accuracy vs latency", fontsize=11)
    fig.suptitle(f"{len(t)} conditions on {len(ev.tasks)} tasks")
    fig.tight_layout()
    plt.close(fig)  # returned, not shown: a notebook cell displays it exactly once
    return fig


def pd_isna(x: object) -> bool:
    """True for None and NaN (pandas' missing values)."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def evidence_from(ev: Evaluation, a: str, b: str, *, source: str = "", seed: int = 0) -> Evidence:
    """The decision page's measured section: every condition, ``a`` as the baseline.

    Args:
        ev: The evaluation.
        a: The condition that stands for the page's first tool.
        b: The condition for the second tool.
        source: Where the numbers come from (shown under the table).
        seed: Bootstrap seed.
    """
    from .panel.evidence import Evidence, EvidenceRow

    t = condition_table(ev, a, seed=seed)

    def num(x: Any) -> float | None:
        return None if pd_isna(x) else float(x)

    rows = []
    for _, r in t.iterrows():
        rows.append(
            EvidenceRow(
                condition=str(r["condition"]),
                n=int(r["n"]),
                accuracy=float(r["accuracy"]),
                lo=float(r["acc_lo"]),
                hi=float(r["acc_hi"]),
                diff=num(r["diff"]),
                diff_lo=num(r["diff_lo"]),
                diff_hi=num(r["diff_hi"]),
                cost_per_1k_usd=num(r["cost_per_1k_usd"]),
                tokens_per_1k=None
                if pd_isna(r["tokens_per_task"])
                else r["tokens_per_task"] * 1000,
                median_latency_s=num(r["median_latency_s"]),
                p90_latency_s=num(r["p90_latency_s"]),
                escalation_share=num(r["escalated_share"]),
            )
        )
    rows.sort(key=lambda r: r.condition != a)  # the baseline first
    return Evidence(rows=tuple(rows), a=a, b=b, n_tasks=len(ev.tasks), source=source)
