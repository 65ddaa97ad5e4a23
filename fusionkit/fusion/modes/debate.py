"""``debate``: members revise against each other's answers for a few rounds, then best-of."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..debate import debate_rounds
from ..pool import stage1_collect
from .base import Collected
from .best_of import BestOf

if TYPE_CHECKING:  # pragma: no cover
    from ..state import Run

__all__ = ["Debate"]


class Debate(BestOf):
    """Debate rounds (``rounds`` at most, stopping when answers agree), then a judge."""

    name: ClassVar[str] = "debate"
    aliases: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = "members revise against each other, then the judge picks"

    async def collect(self, run: Run) -> Collected:
        candidates = await stage1_collect(run)
        pool_end = run.rec.now()
        final, transcript = await debate_rounds(run, candidates)
        return Collected(final, rounds=tuple(transcript), pool_end_s=pool_end)
