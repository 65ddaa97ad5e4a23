"""Where the time of a fusion went: the timed spans, computed once, and the plot.

:func:`timeline_spans` lists every timed call of a finished fusion (pool answers, debate
turns, judge calls) as :class:`Span` records; the console's Timeline tab shows them as a
table and :func:`fusion_timeline` draws them (matplotlib, imported lazily so
``import fusionkit`` stays light). Failed calls are hatched red, so a timeout reads at a
glance. A call served from the response cache is not a measured call: its span is marked
``cached`` and carries the original call's latency, the plot draws that latency as a grey
hatched bar labelled "cached (original latency)", and the title says "all cached" rather
than a parallelism figure made of cache lookups. The figure is made with pyplot and then closed: the returned Figure is displayed
once by the notebook (as the cell's value), not a second time by the inline backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .labels import by_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .result import FusionResult

__all__ = ["Span", "fusion_timeline", "timeline_spans"]

SpanKind = Literal["member", "debate", "judge"]

_COLOUR = {"member": "#4c9be8", "debate": "#8fc1f0", "judge": "#b07cd8"}
_FAIL = "#e5534b"
_CACHED = "#d9d9d9"


@dataclass(frozen=True, slots=True)
class Span:
    """One timed call: a member's answer, a debate turn or a judge call.

    Attributes:
        who: ``"A · model"`` for a member, ``"judge · model"`` for the judge.
        what: ``"answer"``, ``"debate round 2"`` or the judge step (``"score"``).
        start_s: Seconds since the fusion started.
        end_s: Seconds since the fusion started.
        ok: False when the call failed.
        kind: ``"member"``, ``"debate"`` or ``"judge"``.
        cached: True when the answer came from the response cache (the span is the lookup).
        original_s: For a cached call, the original call's latency; else None.
    """

    who: str
    what: str
    start_s: float
    end_s: float
    ok: bool
    kind: SpanKind = "member"
    cached: bool = False
    original_s: float | None = None

    @property
    def duration_s(self) -> float:
        """Length of the span in seconds."""
        return max(0.0, self.end_s - self.start_s)


def timeline_spans(result: FusionResult) -> list[Span]:
    """Every timed call of a fusion, in start order."""
    spans = [
        Span(
            f"{c.label} · {c.model}",
            "answer",
            c.start_s,
            c.end_s,
            c.ok,
            "member",
            cached=c.cached,
            original_s=c.latency_s if c.cached else None,
        )
        for c in result.candidates
    ]
    for rnd in result.rounds[1:]:  # round 0 repeats the initial answers already listed
        spans += [
            Span(
                f"{t.label} · {t.model}",
                f"debate round {rnd.index}",
                t.start_s,
                t.end_s,
                t.error is None,
                "debate",
            )
            for t in rnd.turns
        ]
    spans += [
        Span(
            f"judge · {j.model}",
            j.step,
            j.start_s,
            j.end_s,
            j.ok,
            "judge",
            cached=j.cached,
            original_s=j.latency_s if j.cached else None,
        )
        for j in result.judge_calls
    ]
    return sorted(spans, key=lambda s: (s.start_s, s.who))


def fusion_timeline(result: FusionResult, ax: Axes | None = None) -> Figure:
    """Draw the spans of members, debate turns and judge calls on one time axis.

    One row per pool member (its answer and its debate turns), one per judge call (the
    swap-check passes run at the same time and would overlap), and a dashed line where
    the pool finished.

    Args:
        result: A fusion result.
        ax: Draw into this Axes; by default a new figure sized to the number of rows.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    spans = timeline_spans(result)
    member_rows = [f"{c.label} · {c.model}" for c in by_label(result.candidates)]
    judge_spans = [s for s in spans if s.kind == "judge"]
    judge_spans.sort(key=lambda s: s.start_s)
    rows = [*member_rows, *(f"judge · {s.what}" for s in judge_spans)]
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.3))
        plt.close(fig)  # shown once, as the returned value
    else:
        fig = ax.figure  # type: ignore[assignment]
    y_of = {who: i for i, who in enumerate(member_rows)}

    def bar(y: int, s: Span) -> None:
        if s.cached and s.original_s is not None:
            # The lookup took nothing; show what the original call took, marked as such.
            ax.barh(
                y,
                max(s.original_s, 1e-4),
                left=s.start_s,
                height=0.6,
                color=_CACHED,
                hatch="..",
                edgecolor="#888",
                linewidth=0.5,
            )
            ax.text(s.start_s + s.original_s, y, " cached", va="center", fontsize=7)
            return
        ax.barh(
            y,
            max(s.end_s - s.start_s, 1e-4),
            left=s.start_s,
            height=0.6,
            color=_COLOUR[s.kind] if s.ok else _FAIL,
            hatch=None if s.ok else "//",
            edgecolor="white" if s.ok else "#a40e26",
            linewidth=0.5,
        )

    for s in spans:
        if s.kind != "judge":
            bar(y_of[s.who], s)
    for k, s in enumerate(judge_spans):
        bar(len(member_rows) + k, s)
    pool_end = max((c.end_s for c in result.candidates), default=0.0)
    if not result.all_cached:
        ax.axvline(pool_end, color="#888", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(
        "seconds (each bar: the original call's latency; this run read the cache)"
        if result.all_cached
        else "seconds since the fusion started"
    )
    ratio = result.overhead_ratio
    title = f"Fusion timeline · {result.mode} · total {result.timings.total_s:.2f} s"
    if result.all_cached:
        title += " · all cached (bars: original latencies)"
    elif ratio is not None:
        title += f" · pool overhead ×{ratio:.2f}"
    ax.set_title(title, fontsize=10)
    handles = [Patch(color=_COLOUR["member"], label="member"), Patch(color=_FAIL, label="failed")]
    if any(s.kind == "debate" for s in spans):
        handles.insert(1, Patch(color=_COLOUR["debate"], label="debate turn"))
    if judge_spans:
        handles.append(Patch(color=_COLOUR["judge"], label="judge"))
    if any(s.cached for s in spans):
        handles.append(
            Patch(facecolor=_CACHED, hatch="..", edgecolor="#888", label="cached (original)")
        )
    ax.legend(
        handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False
    )
    ax.set_xlim(left=0)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
