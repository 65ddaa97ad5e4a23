"""The decision page: "A vs B — which should you ship with?".

:func:`compare` runs one panel over both tools (the ten persona calls concurrently, each
reported as it finishes), reads each tool's community tally from a vote store, and returns
a frozen :class:`~fusionkit.panel.decision.Decision` (the page itself, its sections and
its recommendation: :mod:`fusionkit.panel.decision`; ``Decision``, ``ROW_LABELS`` and
``SECTIONS`` are importable from here as before).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .._progress import Progress
from .._sync import sync_twin
from ..errors import InvalidRequestError
from .decision import ROW_LABELS, SECTIONS, Decision
from .evidence import Evidence
from .progress import ProgressLike, check_progress
from .tally import Tally, VoteSource
from .types import ToolCard

if TYPE_CHECKING:
    from .review import Panel

__all__ = ["ROW_LABELS", "SECTIONS", "Decision", "Tally", "VoteSource", "acompare", "compare"]


def _check_card(card: Any, which: str) -> ToolCard:
    if not isinstance(card, ToolCard):
        raise InvalidRequestError(
            f"compare() takes two ToolCards; {which} is a {type(card).__name__}. "
            "Build one with ToolCard(name=..., tagline=..., ...) or ToolCard.from_dict({...})."
        )
    return card


def _check_args(panel: Any, votes: Any, title: Any, progress: Any) -> None:
    """Name the argument and what it accepts, before any vote is read or model called."""
    from .review import Panel

    if panel is not None and not isinstance(panel, Panel):
        shown = (
            f"{type(panel).__name__} {panel!r}" if isinstance(panel, str) else type(panel).__name__
        )
        raise InvalidRequestError(
            f"compare(panel=...) takes a Panel, e.g. Panel(fk.edge_model()) or Panel('edge'), "
            f"or None for no panel; got {shown}."
        )
    if votes is not None and not callable(getattr(votes, "tally", None)):
        raise InvalidRequestError(
            "compare(votes=...) takes a VoteStore (anything with a tally(name) method that "
            f"returns {{'ship': n, 'skip': m}}) or None; got {type(votes).__name__}."
        )
    if title is not None and not isinstance(title, str):
        raise InvalidRequestError(
            f"compare(title=...) takes text or None, got {type(title).__name__}."
        )
    check_progress(progress, "compare")


async def acompare(
    a: ToolCard,
    b: ToolCard,
    panel: Panel | None = None,
    votes: VoteSource | None = None,
    *,
    title: str | None = None,
    progress: ProgressLike = True,
    evidence: Evidence | None = None,
) -> Decision:
    """Build the decision page for two tools.

    Args:
        a: The first tool.
        b: The second tool.
        panel: The panel that reviews both (all persona calls run concurrently); None
            skips it.
        votes: A vote store (anything with ``tally(name)``); None shows no community votes.
        title: Page title (default ``"A vs B — which should you ship with?"``).
        progress: Show each persona review as it finishes (a bar in a notebook, lines on
            stderr in a terminal); False silences it; a callable
            ``progress(label, done, total)`` receives the events instead.
        evidence: Measured figures for a section of their own (accuracy with intervals,
            cost per 1,000 prompts, latency, a recommendation computed from them), e.g.
            ``evaluation.evidence(a="edge alone", b="cascade")``; None shows none.

    Returns:
        A :class:`Decision`, which renders itself in a notebook and saves as a page.

    Raises:
        InvalidRequestError: Not two ToolCards, or two with the same name, a ``panel`` that
            is not a Panel, ``votes`` without ``tally``, a malformed tally, a bad
            ``title`` or ``progress``.
    """
    a, b = _check_card(a, "a"), _check_card(b, "b")
    if a.name == b.name:
        raise InvalidRequestError(
            f"both tools are named {a.name!r}; give them distinct names "
            "(names key the votes and the columns)."
        )
    _check_args(panel, votes, title, progress)
    evidence = _check_evidence(evidence)
    # Read the tallies first: a broken store fails before any model call is spent.
    votes_a, votes_b = Tally.read(votes, a.name), Tally.read(votes, b.name)
    panel_a = panel_b = None
    if panel is not None:
        from .review import describe_subject

        n = len(panel.personas)
        tracker = Progress(
            progress,
            2 * n,
            "Panel",
            start=f"Panel: {n} personas played by {panel.model.name} "
            f"reviewing {a.name} and {b.name}",
        )
        try:
            panel_a, panel_b = await asyncio.gather(
                panel._areview(*describe_subject(a), tracker),
                panel._areview(*describe_subject(b), tracker),
            )
        finally:
            tracker.close()
    return Decision(
        a=a,
        b=b,
        panel_a=panel_a,
        panel_b=panel_b,
        votes_a=votes_a,
        votes_b=votes_b,
        title=title or "",
        evidence=evidence,
    )


def _check_evidence(evidence: object) -> Evidence | None:
    if evidence is None or isinstance(evidence, Evidence):
        return evidence
    raise InvalidRequestError(
        "compare(evidence=...) takes an Evidence, e.g. evaluation.evidence(a='edge alone', "
        f"b='cascade'), or None; got {type(evidence).__name__}."
    )


compare = sync_twin(acompare)
