"""Plot Bradley–Terry ratings with their confidence intervals (matplotlib, imported lazily).

Ratings from a handful of battles are mostly the prior talking: one battle puts the winner
at ~1500 and the loser at ~500 with a bootstrap interval of width zero (every resample is
the same battle). Such rows are drawn hollow and grey, labelled with their battle count,
and named in a note under the plot instead of being shown as a confident "1507 vs 493".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, MissingDependencyError
from ..votes.ratings import MIN_BATTLES, reliability_notes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["plot_ratings"]

_COLUMNS = ("model", "rating", "lower", "upper")
_UNCERTAIN_COLOR = "#8c959f"


def _labels(data: pd.DataFrame) -> list[str]:
    """``name  #rank`` with shared ranks spelled out, plus the battle count."""
    labels = []
    ranks = data["rank"].tolist() if "rank" in data.columns else None
    for i, (_, row) in enumerate(data.iterrows()):
        label = str(row["model"])
        if ranks is not None:
            tied = ranks.count(ranks[i])
            label += f"  #{int(ranks[i])}" + (f" (tied ×{tied})" if tied > 1 else "")
        if "battles" in data.columns:
            label += f"  · n={int(row['battles'])}"
        labels.append(label)
    return labels


def plot_ratings(
    df: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    color: str = "#0969da",
    min_battles: int = MIN_BATTLES,
) -> Axes:
    """Plot ratings as points with interval bars, best model on top, with a legend.

    Rows from fewer than ``min_battles`` battles, or with a zero-width interval, are drawn
    hollow and grey and listed in a note: their numbers say little.

    Args:
        df: The DataFrame from :func:`fusionkit.votes.ratings.ratings` (columns
            ``model, rating, lower, upper``, optionally ``rank, battles``; NaN bounds draw
            a point without a bar).
        ax: Axes to draw on; a new figure is made when None.
        title: Plot title; by default it names the confidence level and battle count.
        color: Colour of the points and bars of trustworthy rows.
        min_battles: Fewer battles per model than this is flagged.

    Returns:
        The matplotlib Axes.

    Raises:
        InvalidRequestError: The frame lacks a needed column or is empty.
        MissingDependencyError: matplotlib is not installed.
    """
    missing = [c for c in _COLUMNS if c not in getattr(df, "columns", ())]
    if missing:
        raise InvalidRequestError(
            f"plot_ratings needs the DataFrame from ratings(); it lacks columns {missing}."
        )
    if len(df) == 0:
        raise InvalidRequestError("plot_ratings got an empty DataFrame: no models to plot.")
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a core dependency
        raise MissingDependencyError(
            "plot_ratings needs matplotlib: pip install matplotlib"
        ) from exc
    import numpy as np
    from matplotlib.lines import Line2D

    data = df.sort_values("rating", ascending=True)  # barh draws bottom-up: best on top
    y = np.arange(len(data))
    rating = data["rating"].to_numpy(dtype=float)
    lower = data["lower"].to_numpy(dtype=float)
    upper = data["upper"].to_numpy(dtype=float)
    # Bars are distances from the point. A missing bound draws no bar on that side, and a
    # bound equal to the point up to rounding (1e-11 below it, from a bootstrap whose
    # resamples never varied) must not become a negative length, which matplotlib refuses.
    err = np.clip(
        np.vstack([np.nan_to_num(rating - lower), np.nan_to_num(upper - rating)]), 0.0, None
    )
    reasons = reliability_notes(data, min_battles=min_battles)
    flagged = np.array([bool(r) for r in reasons])
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.45 * len(data) + 1.9))
    level = float(df.attrs.get("level", 0.95))
    ok = ~flagged
    if ok.any():
        ax.errorbar(
            rating[ok], y[ok], xerr=err[:, ok], fmt="o", color=color, ecolor=color,
            capsize=4, lw=1.5,
        )  # fmt: skip
    if flagged.any():
        ax.errorbar(
            rating[flagged], y[flagged], xerr=err[:, flagged], fmt="o", mfc="white",
            color=_UNCERTAIN_COLOR, ecolor=_UNCERTAIN_COLOR, capsize=4, lw=1.0, ls="none",
        )  # fmt: skip
    ax.set_yticks(y, _labels(data))
    for tick, bad in zip(ax.get_yticklabels(), flagged, strict=True):
        if bad:
            tick.set_color(_UNCERTAIN_COLOR)
    anchor = df.attrs.get("anchor")
    handles: list[Any] = [
        Line2D([], [], marker="o", color=color, lw=1.5, label=f"rating, {level:.0%} interval")
    ]
    if flagged.any():
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                mfc="white",
                color=_UNCERTAIN_COLOR,
                lw=1.0,
                label=f"unreliable (< {min_battles} battles or zero-width interval)",
            )  # fmt: skip
        )
    if anchor is not None:
        ax.axvline(float(anchor), color="#8c959f", lw=0.8, ls="--", zorder=0)
        handles.append(
            Line2D([], [], color="#8c959f", lw=0.8, ls="--", label=f"anchor {float(anchor):g}")
        )
    ax.legend(handles=handles, loc="lower right", fontsize="small", framealpha=0.9)
    ax.set_xlabel("rating (Elo scale); #rank counts models whose interval lies entirely above")
    ax.grid(axis="x", alpha=0.3)
    if title is None:
        n = df.attrs.get("n_battles")
        title = f"Ratings with {level:.0%} bootstrap intervals" + (
            f" ({n} battle{'' if n == 1 else 's'})" if n else ""
        )
    ax.set_title(title)
    if flagged.any():
        names = [f"{m} ({why})" for m, why in zip(data["model"], reasons, strict=True) if why][::-1]
        ax.annotate(
            "Too little evidence to rank: " + ", ".join(names),
            xy=(0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points",
            fontsize="small", color="#cf222e", va="top", wrap=True,
        )  # fmt: skip
    return ax
