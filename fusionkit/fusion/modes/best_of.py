"""``best-of``: the judge scores every candidate and names the best; its text is the answer.

Only as good as its judge. With the embedded SmolLM2-135M judging its own three samples
(all 240 committed quality items, ``benchmarks/bench_fusion_quality.py --n 240``) it
scores 7.9 % (19/240) against 10.4 % for a single greedy answer, -2.5 points, paired 95 %
CI [-6.7, +1.7], although a right sample was there on 19.2 % of items: a 135M judge
cannot tell a right answer from a wrong one. Use ``vote`` for verifiable questions on a
small model (+5.0 points on the same items), best-of with a capable judge.
"""

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
