"""``usc``: universal self-consistency (Chen et al. 2023): the judge picks the most
consistent answer.

Plain self-consistency (``vote``) needs answers that can be extracted and compared;
USC asks the judge instead which response agrees most with the others, with a schema
whose ``winner`` is an ``enum`` of the candidates' labels (a constraining backend can
name nothing else). When every extracted answer already agrees the judge is not asked
(the consistent answer is plain); an unreadable pick falls back to the majority vote.

Measured on the embedded SmolLM2-135M judging its own samples (all 240 committed
quality items, pool of 3, ``benchmarks/bench_fusion_quality.py --n 240``): usc 7.9 %
(19/240), best-of 7.9 %, vote over 5 samples 15.4 %, a single greedy answer 10.4 %; usc
vs single -2.5 points, paired 95 % CI [-7.1, +2.1]. A 135M judge cannot tell which answer
is consistent, so ``vote`` stays the choice for verifiable questions; USC is for a
capable judge and answers that cannot be extracted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..judging import consistency_verdict, fallback
from ..labels import by_label
from ..records import Candidate, Judgment
from .base import Mode
from .vote import count_votes

if TYPE_CHECKING:  # pragma: no cover
    from ..state import Run

__all__ = ["UniversalSelfConsistency"]


class UniversalSelfConsistency(Mode):
    """The judge names the response most consistent with the others."""

    name: ClassVar[str] = "usc"
    aliases: ClassVar[tuple[str, ...]] = ("universal-self-consistency",)
    summary: ClassVar[str] = "the judge picks the answer most consistent with the others"
    method: ClassVar[str] = "judge"

    async def decide(self, run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
        answers, tally, base = count_votes(run, ok)
        if len(tally.counts) == 1 and tally.voters == len(ok):
            rep = next(c for c in ok if answers[c.label] == tally.winner)
            return rep.text, Judgment(
                method=self.method,
                winner=rep.label,
                rationale=f"Every extracted answer is {tally.top[0]!r}; the judge was not asked.",
                **base,
            )
        fields, problem = await consistency_verdict(run, by_label(ok))
        if fields is None:
            return await fallback(
                run, ok, f"consistency pick unusable: {problem}", base={"method": "fallback"}
            )
        winner = next(c for c in ok if c.label == fields["winner"])
        fields["attempts"] = len(run.rec.judge_calls)
        return winner.text, Judgment(method=self.method, **fields, **base)
