"""``debate``: members revise against each other's answers for a few rounds, then the
final answers are voted on (Du et al. 2023); the judge breaks ties, and judges alone
when no answer can be extracted (free-form questions).

Measured on the embedded SmolLM2-135M (pool of 3, 2 rounds,
``benchmarks/bench_fusion_quality.py``): with tagged ``<<<RESPONSE X>>>`` blocks, full
quoted texts and a best-of judge at the end, debate scored 0.0 % (0/36) against 11.1 %
for a single greedy answer (-11.1 points, paired 95 % CI [-22.2, -2.8]). With tag-free
extracted answers, no-harm revisions and a final vote, over all 240 committed items it
scores 12.9 % (31/240) against 10.8 % (26/240): **+2.1 points [-2.9, +7.1]**, no
significant loss, and 0 final answers hold a delimiter. It does not significantly beat
the single answer on a 135M model (debate among weak models rarely does) and costs about 3x a vote's
time; prefer ``vote`` for verifiable questions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..debate import debate_rounds
from ..pool import stage1_collect
from ..records import Candidate, Judgment
from ..vote import extract_answer
from .base import Collected
from .best_of import BestOf
from .vote import Vote

if TYPE_CHECKING:  # pragma: no cover
    from ..state import Run

__all__ = ["Debate"]

_VOTE = Vote()


class Debate(BestOf):
    """Debate rounds (``rounds`` at most, stopping when answers agree), then a vote."""

    name: ClassVar[str] = "debate"
    aliases: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = "members revise against each other, then their answers are voted on"

    async def collect(self, run: Run) -> Collected:
        candidates = await stage1_collect(run)
        pool_end = run.rec.now()
        final, transcript = await debate_rounds(run, candidates)
        return Collected(final, rounds=tuple(transcript), pool_end_s=pool_end)

    async def decide(self, run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
        plan = run.plan
        found = [
            extract_answer(c.text, kind=plan.extract, choices=plan.choices, question=plan.prompt)
            for c in ok
        ]
        if all(a is None for a in found):
            return await super().decide(run, ok)
        return await _VOTE.decide(run, ok)
