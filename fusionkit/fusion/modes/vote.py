"""``vote``: a majority of the extracted answers (self-consistency); ties broken by evidence.

Members are asked with ``logprobs=True``. A tie between answers is broken, in order, by:

1. **confidence**: the tied answer whose voters were surest (the sum over its voters of
   ``exp(mean token log-probability)``, the geometric-mean token probability) wins when
   every tied answer has a reading and one is ahead by at least
   :data:`CONFIDENCE_MARGIN`;
2. **the judge**, when there is one (a schema'd best-of verdict over one representative
   of each tied answer);
3. **the earliest** candidate, in pool order, as the last resort.

The judgment says which decided (``tie_break``) and how many judge calls were made
(``attempts``, re-asks and failed calls included).

``vote-weighted`` (:class:`WeightedVote`) counts each member's answer with that same
confidence as its weight instead of 1; without log-probabilities it is the plain vote.

Measured on the embedded SmolLM2-135M over all 240 committed quality items
(``benchmarks/bench_fusion_quality.py --n 240``, pool of 5 samples at temperature 0.7,
answers read with the question): vote 15.4 % (37/240) against 10.4 % (25/240) for a
single greedy answer, **+5.0 points, paired 95 % CI [+0.4, +9.2]**, selection efficiency
0.33 (the samples held a right answer on 25.4 % of items); 104 ties were broken by
confidence and 19 by the judge. ``vote-weighted`` over the same samples: 15.4 %, +5.0
[+0.8, +8.8], efficiency 0.35 — the same accuracy, so plain counting stays the default.
Best-of (7.9 %) and usc (7.9 %), judged by the same 135M model, are below the single
answer: ``vote`` is the choice for verifiable questions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..events import FusionEvent
from ..judging import fallback, judge_fields, verdict
from ..labels import by_label
from ..pool import stage1_collect
from ..records import Candidate, Judgment
from ..state import Run
from ..vote import Tally, extract_answer, majority
from .base import Collected, Mode

if TYPE_CHECKING:  # pragma: no cover
    from ..result import FusionResult

__all__ = [
    "CONFIDENCE_MARGIN",
    "Vote",
    "WeightedVote",
    "confidence",
    "count_votes",
    "with_logprobs",
]

#: How far (in summed geometric-mean token probability) one tied answer must lead the
#: others for confidence to break the tie; closer than this, the judge decides.
CONFIDENCE_MARGIN = 0.02


def confidence(c: Candidate) -> float | None:
    """A candidate's confidence in its answer: ``exp(mean token log-probability)``, the
    geometric-mean probability of its tokens (0..1), or None when not reported."""
    if c.mean_logprob is None or math.isnan(c.mean_logprob):
        return None
    return math.exp(min(0.0, c.mean_logprob))


def with_logprobs(run: Run) -> Run:
    """The run with every member's request asking for token log-probabilities."""
    plan = run.plan
    members = tuple(
        dataclasses.replace(m, request=dataclasses.replace(m.request, logprobs=True))
        for m in plan.members
    )
    return Run(dataclasses.replace(plan, members=members), run.rec)


def count_votes(
    run: Run, ok: list[Candidate]
) -> tuple[dict[str, str | None], Tally, dict[str, Any]]:
    """Each candidate's extracted answer (by label), their majority, and the judgment
    fields every vote-based decision carries (``votes``, ``answers``, the judge's)."""
    plan = run.plan
    # With the question, as the cascade extracts: a number that only restates one of its
    # operands is not taken for the answer (tests/test_extract.py: 58/61 with, 47/61 without).
    answers = {
        c.label: extract_answer(
            c.text, kind=plan.extract, choices=plan.choices, question=plan.prompt
        )
        for c in ok
    }
    tally = majority([answers[c.label] for c in ok])
    return answers, tally, {"votes": tally.counts, "answers": answers, **judge_fields(run)}


def _by_confidence(
    reps: Sequence[Candidate], voters: dict[str, list[Candidate]], answers: dict[str, str | None]
) -> tuple[Candidate | None, dict[str, float]]:
    """The tied answer its voters were surest of, or None when confidence cannot tell."""
    sums: dict[str, float] = {}
    for rep in reps:
        answer = answers[rep.label]
        assert answer is not None
        got = [confidence(c) for c in voters[answer]]
        if any(g is None for g in got):
            return None, {}
        sums[answer] = sum(g for g in got if g is not None)
    ranked = sorted(sums.values(), reverse=True)
    if len(ranked) < 2 or ranked[0] - ranked[1] < CONFIDENCE_MARGIN:
        return None, sums
    best = max(sums, key=lambda a: sums[a])
    return next(r for r in reps if answers[r.label] == best), sums


class Vote(Mode):
    """Majority vote over extracted answers; ties by confidence, then the judge, then order."""

    name: ClassVar[str] = "vote"
    aliases: ClassVar[tuple[str, ...]] = ("majority",)
    needs_judge: ClassVar[bool] = False
    stage: ClassVar[str] = "vote"
    summary: ClassVar[str] = "the most common extracted answer wins (no judge needed)"
    single_shortcut: ClassVar[bool] = False
    #: Weigh each answer by its member's confidence instead of counting it once.
    weighted: ClassVar[bool] = False

    async def collect(self, run: Run) -> Collected:
        candidates = await stage1_collect(with_logprobs(run))
        return Collected(candidates, pool_end_s=run.rec.now())

    def _weights(self, ok: list[Candidate]) -> dict[str, float] | None:
        if not self.weighted:
            return None
        got = {c.label: confidence(c) for c in ok}
        if any(v is None for v in got.values()):
            return None
        return {k: v for k, v in got.items() if v is not None}

    async def decide(self, run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
        answers, tally, base = count_votes(run, ok)
        if tally.voters == 0:
            text, j = await fallback(run, ok, "no candidate's answer could be extracted")
            return text, dataclasses.replace(j, method="vote", answers=answers)
        summary = ", ".join(f"{k!r}: {n}" for k, n in tally.counts.items())
        voters: dict[str, list[Candidate]] = {}
        for c in ok:
            a = answers[c.label]
            if a is not None:
                voters.setdefault(a, []).append(c)
        weights = self._weights(ok)
        note = None
        if self.weighted and weights is None:
            note = "no log-probabilities reported: every answer counted once"

        def chosen(rep: Candidate, rationale: str, **extra: Any) -> tuple[str, Judgment]:
            extra = {"note": note, **extra, **base}
            return rep.text, Judgment(method="vote", winner=rep.label, rationale=rationale, **extra)

        if self.weighted and weights is not None:
            mass = {a: sum(weights[c.label] for c in cs) for a, cs in voters.items()}
            best = max(mass.values())
            top = tuple(a for a in tally.counts if mass[a] >= best - 1e-12)
            shown = ", ".join(f"{a!r}: {mass[a]:.2f}" for a in tally.counts)
            if len(top) == 1:
                return chosen(
                    voters[top[0]][0],
                    f"{top[0]!r} carries the most confidence-weighted votes ({shown}; "
                    f"counts {summary}).",
                )
            tally = dataclasses.replace(tally, top=top, winner=None)
        if tally.winner is not None:
            return chosen(
                voters[tally.winner][0],
                f"{tally.counts[tally.winner]} of {tally.voters} extracted answers are "
                f"{tally.winner!r} ({summary}).",
            )
        reps = [voters[a][0] for a in tally.top]
        tied = " and ".join(repr(a) for a in tally.top)
        rep, sums = _by_confidence(reps, voters, answers)
        if rep is not None:
            sure = ", ".join(f"{a!r}: {v:.2f}" for a, v in sums.items())
            return chosen(
                rep,
                f"Tie between {tied} ({summary}); its voters were surest of "
                f"{answers[rep.label]!r} (summed token confidence {sure}).",
                tie_break="confidence",
            )
        if run.plan.judge is None:
            return chosen(
                reps[0],
                f"Tie between {tied} ({summary}); confidence could not tell them apart and no "
                "judge was given, so the earliest candidate's answer was taken.",
                tie_break="earliest",
            )
        fields, problem = await verdict(run, by_label(reps), "tie-break")
        calls = len(run.rec.judge_calls)
        if fields is not None:
            rep = next(c for c in reps if c.label == fields["winner"])
            return chosen(
                rep,
                f"Tie between {tied} ({summary}); the judge chose "
                f"{answers[rep.label]!r}: {fields['rationale']}",
                scores=fields["scores"],
                raw=fields["raw"],
                attempts=calls,
                tie_break="judge",
                swap_agreement=fields.get("swap_agreement"),
                note=fields.get("note") or note,
            )
        return chosen(
            reps[0],
            f"Tie between {tied} ({summary}); confidence could not tell them apart "
            "and the judge could not break it, so the earliest candidate's answer "
            "was taken.",
            raw=run.rec.judge_calls[-1].text if run.rec.judge_calls else "",
            attempts=calls,
            fallback=True,
            fallback_reason=f"judge tie-break unusable: {problem}",
            tie_break="earliest",
        )

    def verdict_parts(self, result: FusionResult) -> list[str]:
        j = result.judgment
        parts = super().verdict_parts(result)
        if j.method == "vote" and j.votes:
            parts.append(f"votes {sum(j.votes.values())}")
        if j.tie_break:
            parts.append(f"tie broken by {j.tie_break}")
        return parts

    def stage_text(self, event: FusionEvent) -> str:
        if event.kind == "stage_start" and event.stage == "vote":
            return "Stage 2: counting votes…"
        return super().stage_text(event)


class WeightedVote(Vote):
    """Confidence-weighted vote: each answer counts ``exp(mean token log-probability)``."""

    name: ClassVar[str] = "vote-weighted"
    aliases: ClassVar[tuple[str, ...]] = ("weighted-vote", "confidence-vote")
    summary: ClassVar[str] = (
        "the answer with the most confidence-weighted votes wins (token log-probabilities)"
    )
    weighted: ClassVar[bool] = True
