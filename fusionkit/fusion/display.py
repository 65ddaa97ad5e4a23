"""A fusion's tables and HTML view: rendering only, never a model call.

:func:`candidates_frame` is the side-by-side comparison (one row per candidate, tokens,
latency, cost, score, winner, error); :func:`style_candidates` highlights the winner and
the failures; :func:`fusion_html` is :class:`~fusionkit.fusion.result.FusionResult`'s
``_repr_html_``: every piece of model text goes through Jinja2 autoescape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..render.html import fmt_cost, fmt_seconds, render
from .labels import by_label

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pandas.io.formats.style import Styler

    from .result import FusionResult

__all__ = [
    "CANDIDATE_COLUMNS",
    "candidates_frame",
    "fusion_html",
    "style_candidates",
    "timing_line",
    "verdict_line",
]

CANDIDATE_COLUMNS = (
    "label",
    "model",
    "winner",
    "score",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "cost_usd",
    "cached",
    "error",
    "text",
)


def candidate_rows(result: FusionResult) -> list[dict[str, Any]]:
    """One plain dict per candidate, in label order (the order the judge saw).

    The one place a candidate becomes a row: :func:`candidates_frame` and the CLI's
    ``--json`` both read it. ``score`` is None where the judge gave none.
    """
    scores = result.judgment.scores
    return [
        {
            "label": c.label,
            "model": c.model,
            "winner": c.label == result.judgment.winner,
            "score": scores.get(c.label),
            "prompt_tokens": c.usage.prompt_tokens,
            "completion_tokens": c.usage.completion_tokens,
            "latency_s": c.latency_s,
            "cost_usd": c.cost_usd,
            "cached": c.cached,
            "error": c.error,
            "text": c.text,
        }
        for c in by_label(result.candidates)
    ]


def candidates_frame(result: FusionResult) -> pd.DataFrame:
    """One row per candidate, in label order (the order the judge saw).

    Args:
        result: A fusion result.

    Returns:
        A DataFrame with :data:`CANDIDATE_COLUMNS`; ``score`` is NaN where the judge gave
        none, ``cost_usd`` is None where unknown.
    """
    import pandas as pd

    rows = candidate_rows(result)
    for row in rows:
        if row["score"] is None:
            row["score"] = float("nan")
    return pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))


def style_candidates(frame: pd.DataFrame) -> Styler:
    """A Styler for :func:`candidates_frame`: winner row green, failed rows red, text escaped.

    Returns:
        A pandas Styler (``escape="html"`` so model text stays text).
    """

    def colour(row: pd.Series) -> list[str]:
        if isinstance(row.get("error"), str) and row["error"]:
            return ["background-color:#fff8f8"] * len(row)
        if row.get("winner"):
            return ["background-color:#f0fff4"] * len(row)
        return [""] * len(row)

    return (
        frame.style.apply(colour, axis=1)
        .format(
            {
                "latency_s": lambda v: fmt_seconds(v) if v == v else "—",  # NaN check
                "cost_usd": fmt_cost,
                "score": lambda v: "—" if v != v else f"{v:g}",
            },
            escape="html",
        )
        .hide(axis="index")
    )


def verdict_line(result: FusionResult) -> str:
    """``"3/3 members answered · winner: Response B (edge)"``: the words come from the mode."""
    from ..errors import InvalidRequestError
    from .modes import Mode, get_mode

    try:
        mode = get_mode(result.mode)
    except InvalidRequestError:  # a result from a mode no longer registered
        mode = Mode()
    parts = [f"{len(result.succeeded)}/{len(result.candidates)} members answered"]
    parts += mode.verdict_parts(result)
    return " · ".join(parts)


def timing_line(result: FusionResult) -> str:
    """``"total 2.1 s · pool 1.9 s, slowest member 1.9 s, overhead ×1.01 · judge 0.2 s"``.

    Cache hits are not measured calls: a cached member's lookup is left out of the
    slowest member and the overhead, and when every call was cached the line says so and
    gives the original calls' latencies instead (``Candidate.latency_s`` keeps them).
    """
    t = result.timings
    parts = [f"total {fmt_seconds(t.total_s)}"]
    judged = [j for j in result.judge_calls if j.ok]
    if result.all_cached:
        slowest = max((c.latency_s or 0.0 for c in result.succeeded), default=0.0)
        original = [f"slowest member {fmt_seconds(slowest)}"]
        if judged:
            original.append(f"judge {fmt_seconds(sum(j.latency_s for j in judged))}")
        parts.append(f"all cached (original calls: {', '.join(original)})")
        return " · ".join(parts)
    fresh = [c.end_s - c.start_s for c in result.candidates if not c.cached]
    n_cached = sum(1 for c in result.candidates if c.cached)
    pool = f"pool {fmt_seconds(t.pool_wall_s)}"
    if not fresh:
        pool += " (all members cached)"
    else:
        pool += f", slowest member {fmt_seconds(max(fresh))}"
        ratio = result.overhead_ratio
        # Below ~10 ms the ratio measures the event loop, not the models.
        if ratio is not None and max(fresh) >= 0.01:
            pool += f", overhead ×{ratio:.2f}"
        if n_cached:
            pool += f" ({n_cached} cached, not counted)"
    parts.append(pool)
    if result.rounds:
        parts.append(f"debate {fmt_seconds(t.debate_s)}")
    if result.judge_calls:
        judge = f"judge {fmt_seconds(t.judge_s)}"
        if judged and all(j.cached for j in judged):
            judge += f" (cached; originally {fmt_seconds(sum(j.latency_s for j in judged))})"
        parts.append(judge)
    return " · ".join(parts)


def _context(result: FusionResult) -> dict[str, Any]:
    j = result.judgment
    frame_rows = []
    for c in by_label(result.candidates):
        score = j.scores.get(c.label)
        frame_rows.append(
            {
                "label": c.label,
                "model": c.model,
                "winner": c.label == j.winner,
                "score": None if score is None else f"{score:g}",
                "tokens": f"{c.usage.prompt_tokens} → {c.usage.completion_tokens}",
                "latency": fmt_seconds(c.latency_s),
                "cost": fmt_cost(c.cost_usd),
                "cached": c.cached,
                "error": c.error,
                "text": c.text,
                "answer": (j.answers or {}).get(c.label),
            }
        )
    return {
        "r": result,
        "j": j,
        "verdict": verdict_line(result),
        "rows": frame_rows,
        "timing": timing_line(result),
        "cost": fmt_cost(result.cost_usd),
        "cost_known": fmt_cost(result.cost_known_usd),
        "cost_complete": result.cost_complete,
        "votes": sorted((j.votes or {}).items(), key=lambda kv: -kv[1]),
        "analysis": j.analysis.sections() if j.analysis else [],
        "n_judge_calls": len(result.judge_calls),
    }


def fusion_html(result: FusionResult) -> str:
    """The notebook view of a fusion: verdict line, answer, rationale, candidates side by
    side, debate rounds; all model text escaped.

    Args:
        result: A fusion result.

    Returns:
        An HTML fragment (inline styles only, so it reads the same on GitHub/nbviewer).
    """
    return render("fusion_result.html", **_context(result))
