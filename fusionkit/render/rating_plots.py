"""Plot Bradley–Terry ratings with their confidence intervals (matplotlib, imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidRequestError, MissingDependencyError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["plot_ratings"]

_COLUMNS = ("model", "rating", "lower", "upper")


def plot_ratings(
    df: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None, color: str = "#0969da"
) -> Axes:
    """Plot ratings as points with interval bars, best model on top.

    Args:
        df: The DataFrame from :func:`fusionkit.votes.ratings.ratings` (columns
            ``model, rating, lower, upper``; NaN bounds draw a point without a bar).
        ax: Axes to draw on; a new figure is made when None.
        title: Plot title; by default it names the confidence level and battle count.
        color: Colour of the points and bars.

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

    data = df.sort_values("rating", ascending=True)  # barh draws bottom-up: best on top
    y = np.arange(len(data))
    rating = data["rating"].to_numpy(dtype=float)
    lower = data["lower"].to_numpy(dtype=float)
    upper = data["upper"].to_numpy(dtype=float)
    # Bars are distances from the point; a missing bound draws no bar on that side.
    err = np.vstack([np.nan_to_num(rating - lower), np.nan_to_num(upper - rating)])
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 0.45 * len(data) + 1.4))
    ax.errorbar(rating, y, xerr=err, fmt="o", color=color, ecolor=color, capsize=4, lw=1.5)
    labels = [str(m) for m in data["model"]]
    if "rank" in data.columns:
        labels = [f"{m}  (#{int(r)})" for m, r in zip(labels, data["rank"], strict=True)]
    ax.set_yticks(y, labels)
    anchor = df.attrs.get("anchor")
    if anchor is not None:
        ax.axvline(float(anchor), color="#8c959f", lw=0.8, ls="--", zorder=0)
    ax.set_xlabel("rating (Elo scale)")
    ax.grid(axis="x", alpha=0.3)
    if title is None:
        level = df.attrs.get("level", 0.95)
        n = df.attrs.get("n_battles")
        title = f"Ratings with {level:.0%} bootstrap intervals" + (f" ({n} battles)" if n else "")
    ax.set_title(title)
    return ax
