"""``vote``: a majority of the extracted answers (self-consistency); a judge breaks ties."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

from ..events import FusionEvent
from ..judging import fallback, judge_fields, verdict
from ..labels import by_label
from ..records import Candidate, Judgment
from ..vote import extract_answer, majority
from .base import Mode

if TYPE_CHECKING:  # pragma: no cover
    from ..result import FusionResult
    from ..state import Run

__all__ = ["Vote"]


class Vote(Mode):
    """Majority vote over extracted answers; ties go to the judge when there is one."""

    name: ClassVar[str] = "vote"
    aliases: ClassVar[tuple[str, ...]] = ("majority",)
    needs_judge: ClassVar[bool] = False
    stage: ClassVar[str] = "vote"
    summary: ClassVar[str] = "the most common extracted answer wins (no judge needed)"
    single_shortcut: ClassVar[bool] = False

    async def decide(self, run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
        plan = run.plan
        answers = {
            c.label: extract_answer(c.text, kind=plan.extract, choices=plan.choices) for c in ok
        }
        tally = majority([answers[c.label] for c in ok])
        base = {"votes": tally.counts, "answers": answers, **judge_fields(run)}
        if tally.voters == 0:
            text, j = await fallback(run, ok, "no candidate's answer could be extracted")
            return text, dataclasses.replace(j, method="vote", answers=answers)
        summary = ", ".join(f"{k!r}: {n}" for k, n in tally.counts.items())
        if tally.winner is not None:
            rep = next(c for c in ok if answers[c.label] == tally.winner)
            return rep.text, Judgment(
                method="vote",
                winner=rep.label,
                rationale=(
                    f"{tally.counts[tally.winner]} of {tally.voters} extracted answers are "
                    f"{tally.winner!r} ({summary})."
                ),
                **base,
            )
        reps = [next(c for c in ok if answers[c.label] == a) for a in tally.top]
        tied = " and ".join(repr(a) for a in tally.top)
        if plan.judge is not None:
            fields, problem = await verdict(run, by_label(reps), "tie-break")
            if fields is not None:
                rep = next(c for c in reps if c.label == fields["winner"])
                return rep.text, Judgment(
                    method="vote",
                    winner=rep.label,
                    scores=fields["scores"],
                    rationale=f"Tie between {tied} ({summary}); the judge chose "
                    f"{answers[rep.label]!r}: {fields['rationale']}",
                    raw=fields["raw"],
                    attempts=fields["attempts"],
                    tie_break="judge",
                    swap_agreement=fields.get("swap_agreement"),
                    **base,
                )
            return reps[0].text, Judgment(
                method="vote",
                winner=reps[0].label,
                rationale=(
                    f"Tie between {tied} ({summary}); the judge could not break it, so the "
                    "earliest candidate's answer was taken."
                ),
                fallback=True,
                fallback_reason=f"judge tie-break unusable: {problem}",
                tie_break="earliest",
                **base,
            )
        return reps[0].text, Judgment(
            method="vote",
            winner=reps[0].label,
            rationale=(
                f"Tie between {tied} ({summary}); no judge given, so the earliest candidate's "
                "answer was taken."
            ),
            tie_break="earliest",
            **base,
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
