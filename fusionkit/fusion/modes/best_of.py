"""``best-of``: the judge scores every candidate and names the best; its text is the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..judging import fallback, judge_fields, verdict
from ..labels import by_label
from ..records import Candidate, Judgment
from .base import Mode

if TYPE_CHECKING:  # pragma: no cover
    from ..state import Run

__all__ = ["BestOf"]


class BestOf(Mode):
    """Scores for every candidate, then a winner (optionally judged twice, swapped)."""

    name: ClassVar[str] = "best-of"
    aliases: ClassVar[tuple[str, ...]] = ("best_of", "bestof", "best")
    summary: ClassVar[str] = "the judge scores every answer and picks the best"
    method: ClassVar[str] = "judge"

    async def decide(self, run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
        fields, problem = await verdict(run, by_label(ok), "score")
        if fields is None:
            return await fallback(run, ok, f"judge verdict unusable: {problem}")
        winner = next(c for c in ok if c.label == fields["winner"])
        return winner.text, Judgment(method=self.method, **fields, **judge_fields(run))
