"""The data a fusion returns: frozen records, no model calls.

A :class:`FusionResult` holds the prompt, the mode, the answer, every candidate (failed
ones included, with ``error`` set), the judgment (winner, scores, rationale, the judge's
raw reply, whether a fallback was used and why), the debate rounds, every judge call, the
events, and the timings. It renders itself: :meth:`FusionResult.to_frame` (one row per
candidate), :meth:`FusionResult.timeline` (matplotlib), ``_repr_html_`` (escaped HTML
that reads well on GitHub and nbviewer) and :meth:`FusionResult.to_html` /
:meth:`FusionResult.save` (the same view as a standalone page).

Cached answers keep their original latency (``Candidate.latency_s``) while their span
(``end_s - start_s``) is the cache lookup, so the parallelism figure
(:attr:`FusionResult.overhead_ratio`) counts only fresh calls, and :attr:`all_cached`
says when there were none.

The records it holds live in :mod:`.records` (re-exported here).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..types import Usage
from .events import FusionEvent
from .labels import by_label
from .records import (
    Candidate,
    DebateRound,
    DebateTurn,
    JudgeCall,
    Judgment,
    MergeAnalysis,
    Timings,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..render.report import Report

__all__ = [
    "Candidate",
    "DebateRound",
    "DebateTurn",
    "FusionResult",
    "JudgeCall",
    "Judgment",
    "MergeAnalysis",
    "Timings",
]


@dataclass(frozen=True, slots=True, repr=False)
class FusionResult:
    """The outcome of one fusion.

    Attributes:
        prompt: The prompt.
        mode: ``"best-of"``, ``"merge"``, ``"debate"`` or ``"vote"``.
        answer: The fused answer. In best-of, debate and vote it is the chosen
            candidate's text, unchanged; in merge it is the judge's synthesis.
        candidates: Every pool member in pool order, failed ones included.
        judgment: How the answer was chosen.
        timings: Pool wall time, slowest member, judge time, total.
        rounds: The debate transcript (round 0 = initial answers); empty otherwise.
        judge_calls: Every judge call in order, re-asks included.
        events: Every event emitted (also passed live to ``on_event``).
        judge: The judge's display name, or None.
        seed: The seed used for shuffling and sampling (derived from the prompt when
            none was given, so re-runs hit the response cache).
    """

    prompt: str
    mode: str
    answer: str
    candidates: tuple[Candidate, ...]
    judgment: Judgment
    timings: Timings
    rounds: tuple[DebateRound, ...] = ()
    judge_calls: tuple[JudgeCall, ...] = ()
    events: tuple[FusionEvent, ...] = ()
    judge: str | None = None
    seed: int | None = None

    # -- views ------------------------------------------------------------------------------

    @property
    def label_map(self) -> dict[str, str]:
        """Label -> model name, in label order (the de-anonymisation key)."""
        return {c.label: c.model for c in by_label(self.candidates)}

    @property
    def winner(self) -> Candidate | None:
        """The winning candidate, or None (merge synthesis, or no winner)."""
        for c in self.candidates:
            if c.label == self.judgment.winner:
                return c
        return None

    @property
    def succeeded(self) -> tuple[Candidate, ...]:
        """Candidates that answered."""
        return tuple(c for c in self.candidates if c.ok)

    @property
    def failed(self) -> tuple[Candidate, ...]:
        """Candidates that failed."""
        return tuple(c for c in self.candidates if not c.ok)

    @property
    def extracted_answer(self) -> str | None:
        """The short normalised answer (number, option letter, short text) if one is found."""
        from .vote import detect_choices, extract_answer

        if self.judgment.method == "vote" and self.judgment.winner is not None:
            answers = self.judgment.answers or {}
            if answers.get(self.judgment.winner) is not None:
                return answers[self.judgment.winner]
        return extract_answer(self.answer, choices=detect_choices(self.prompt))

    # -- timing -----------------------------------------------------------------------------

    @property
    def n_cached(self) -> int:
        """How many answered calls (members and judge) came from the response cache."""
        calls = [*self.succeeded, *(j for j in self.judge_calls if j.ok)]
        return sum(1 for c in calls if c.cached)

    @property
    def all_cached(self) -> bool:
        """True when every answered call (members and judge) came from the response cache:
        the wall times then measure cache lookups, and the latencies shown are the
        original calls'."""
        calls = [*self.succeeded, *(j for j in self.judge_calls if j.ok)]
        return bool(calls) and all(c.cached for c in calls)

    @property
    def overhead_ratio(self) -> float | None:
        """Pool wall time / slowest FRESH member call: 1.0 is perfect parallelism.

        A cached member's span is a lookup, not a call, so it is left out; None when every
        member was cached (nothing was measured) or no member took measurable time.
        """
        fresh = [c.end_s - c.start_s for c in self.candidates if not c.cached]
        if not fresh or max(fresh) <= 0:
            return None
        return self.timings.pool_wall_s / max(fresh)

    # -- accounting -------------------------------------------------------------------------

    def _cost_parts(self) -> list[float | None]:
        return [c.cost_usd for c in self.candidates] + [j.cost_usd for j in self.judge_calls]

    @property
    def cost_known_usd(self) -> float:
        """The sum of every cost that is known."""
        return float(sum(p for p in self._cost_parts() if p is not None))

    @property
    def cost_complete(self) -> bool:
        """True when every part's cost is known."""
        return all(p is not None for p in self._cost_parts())

    @property
    def cost_usd(self) -> float | None:
        """Total cost of members and judge; None when any part is unknown
        (see :attr:`cost_known_usd` for the known part)."""
        return self.cost_known_usd if self.cost_complete else None

    @property
    def usage(self) -> Usage:
        """Tokens in and out over every member and judge call."""
        total = Usage()
        for c in self.candidates:
            total = total + c.usage
        for j in self.judge_calls:
            total = total + j.usage
        return total

    # -- rendering --------------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """The side-by-side table: one row per candidate, in label order.

        Columns: label, model, winner, score, prompt_tokens, completion_tokens, latency_s,
        cost_usd, cached, error, text.
        """
        from .display import candidates_frame

        return candidates_frame(self)

    def timeline(self, ax: Axes | None = None) -> Figure:
        """Draw the spans of every member, debate turn and judge call (matplotlib).

        Args:
            ax: Draw into this Axes; by default a new figure is made.

        Returns:
            The matplotlib Figure.
        """
        from .timeline import fusion_timeline

        return fusion_timeline(self, ax=ax)

    def _repr_html_(self) -> str:
        from .display import fusion_html

        return fusion_html(self)

    def to_html(self) -> str:
        """This result as a standalone HTML page (its own CSS, no external resources).

        Every piece of model text is escaped, as in the notebook view.

        Returns:
            A complete HTML document.
        """
        return self._page().to_html()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_html` to ``path`` (atomically, creating the folder).

        Args:
            path: Where to write the ``.html`` file.

        Returns:
            The absolute path written.
        """
        return self._page().save(path)

    def _page(self) -> Report:
        from ..render.report import Report
        from .display import fusion_html

        short = self.prompt if len(self.prompt) <= 60 else self.prompt[:57] + "..."
        report = Report(f"Fusion · {self.mode} · {short}")
        report.add_heading("Prompt")
        report.add_text(self.prompt)
        report.add_html(fusion_html(self))
        return report

    def __repr__(self) -> str:
        ok = len(self.succeeded)
        answer = self.answer if len(self.answer) <= 60 else self.answer[:57] + "..."
        extra = ", fallback" if self.judgment.fallback else ""
        return (
            f"FusionResult(mode={self.mode!r}, answer={answer!r}, "
            f"winner={self.judgment.winner!r}, candidates={ok}/{len(self.candidates)} ok"
            f"{extra}, total={self.timings.total_s:.3f}s)"
        )

    def to_dict(self) -> dict[str, Any]:
        """A flat summary (one row of :func:`fuse_many`'s DataFrame)."""
        w = self.winner
        return {
            "answer": self.answer,
            "extracted": self.extracted_answer,
            "winner": self.judgment.winner,
            "winner_model": w.model if w else None,
            "method": self.judgment.method,
            "fallback": self.judgment.fallback,
            "n_ok": len(self.succeeded),
            "n_failed": len(self.failed),
            "cost_usd": self.cost_usd,
            "cost_known_usd": self.cost_known_usd,
            "total_s": self.timings.total_s,
            "pool_wall_s": self.timings.pool_wall_s,
            "judge_s": self.timings.judge_s,
            "overhead_ratio": self.overhead_ratio,
        }
