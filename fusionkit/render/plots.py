"""Plots of fusion runs (matplotlib, imported lazily: ``import fusionkit`` stays light).

:func:`fusion_timeline` draws one bar per pool member (its stage-1 call), one per debate
turn, and one per judge call, on a shared time axis, with a line where the pool
finished. Failed calls are hatched red, so a timeout reads at a glance.

The figure is made with pyplot and then closed: the returned Figure is displayed once by
the notebook (as the cell's value), not a second time by the inline backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..fusion.result import FusionResult

__all__ = ["fusion_timeline"]

_OK = "#4c9be8"
_DEBATE = "#8fc1f0"
_JUDGE = "#b07cd8"
_FAIL = "#e5534b"


def fusion_timeline(result: FusionResult, ax: Axes | None = None) -> Figure:
    """Draw the spans of members, debate turns and judge calls.

    Args:
        result: A fusion result.
        ax: Draw into this Axes; by default a new figure sized to the number of rows.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    cands = sorted(result.candidates, key=lambda c: (len(c.label), c.label))
    rows: list[str] = [f"{c.label} · {c.model}" for c in cands]
    has_judge = bool(result.judge_calls)
    # one row per judge call: the swap-check passes run at the same time and would overlap
    rows.extend(f"judge · {call.step}" for call in result.judge_calls)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.3))
        plt.close(fig)  # shown once, as the returned value
    else:
        fig = ax.figure  # type: ignore[assignment]
    y_of = {c.label: i for i, c in enumerate(cands)}

    def bar(y: int, start: float, end: float, colour: str, failed: bool) -> None:
        ax.barh(
            y,
            max(end - start, 1e-4),
            left=start,
            height=0.6,
            color=_FAIL if failed else colour,
            hatch="//" if failed else None,
            edgecolor="white" if not failed else "#a40e26",
            linewidth=0.5,
        )

    for c in cands:
        bar(y_of[c.label], c.start_s, c.end_s, _OK, not c.ok)
    for rnd in result.rounds[1:]:
        for t in rnd.turns:
            bar(y_of[t.label], t.start_s, t.end_s, _DEBATE, t.error is not None)
    for k, call in enumerate(result.judge_calls):
        bar(len(cands) + k, call.start_s, call.end_s, _JUDGE, not call.ok)
    pool_end = max((c.end_s for c in cands), default=0.0)
    ax.axvline(pool_end, color="#888", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the fusion started")
    ratio = result.timings.overhead_ratio
    title = f"Fusion timeline · {result.mode} · total {result.timings.total_s:.2f} s"
    if ratio is not None:
        title += f" · pool overhead ×{ratio:.2f}"
    ax.set_title(title, fontsize=10)
    handles = [Patch(color=_OK, label="member"), Patch(color=_FAIL, label="failed")]
    if result.rounds[1:]:
        handles.insert(1, Patch(color=_DEBATE, label="debate turn"))
    if has_judge:
        handles.append(Patch(color=_JUDGE, label="judge"))
    ax.legend(
        handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False
    )
    ax.set_xlim(left=0)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
