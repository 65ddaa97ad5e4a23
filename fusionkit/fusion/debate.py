"""Debate rounds (Du et al. 2023): members revise against each other's latest answers.

In each round every live member sees the other members' latest answers after its own
previous answer, and revises it; all members of a round run in parallel. The others'
answers are shown as plain "Another answer:" paragraphs, without labels or
``<<<RESPONSE X>>>`` delimiters: a 135M member copied the tags it was shown into 76 of 120
final answers (issue 13). Whatever a member writes, its revision is stored with echoed
delimiters stripped, so a final answer never carries one. The debate stops early when
every extracted answer agrees (``auto`` extraction is strict here, so free-form answers
never "agree" by accident). Others are shown by their extracted answer when they have one
(their full text otherwise), and a revision that has no answer does not replace an
answer that had one: a 135M member otherwise lost the question in the quoted texts. A member that fails in a round keeps its previous answer; the
transcript records the error. At most :data:`MAX_ROUNDS` rounds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re

from ..types import build_request
from . import judge as J
from .calls import timed_call
from .labels import by_label
from .neutralise import strip_delimiters
from .records import Candidate, DebateRound, DebateTurn
from .state import Member, Run
from .vote import extract_answer

__all__ = ["MAX_ROUNDS", "clean_turn", "debate_rounds"]

#: The most debate rounds a fusion may ask for: gains flatten after two or three rounds
#: (Du et al. 2023), and every round is one call per member.
MAX_ROUNDS = 10


_ECHOED_HEADING = re.compile(r"(?im)^[ \t]*another answer:[ \t]*")


def clean_turn(text: str) -> str:
    """A member's revision without echoed delimiters or "Another answer:" headings (the
    text it started from, stripped of brackets, when nothing is left)."""
    cleaned = _ECHOED_HEADING.sub("", strip_delimiters(text)).strip()
    return cleaned if cleaned else text.replace("<<<", "").replace(">>>", "").strip()


def _agreed(answers: dict[str, str | None]) -> bool:
    values = list(answers.values())
    return len(values) >= 2 and values[0] is not None and all(v == values[0] for v in values)


async def _debate_turn(run: Run, m: Member, r: int, own: str, others: list[str]) -> DebateTurn:
    plan = run.plan
    request = build_request(
        J.debate_messages(plan.prompt, own, others, system=plan.system),
        max_tokens=m.request.max_tokens,
        temperature=m.request.temperature,
        seed=(m.request.seed or 0) + r * len(plan.members),
    )
    rec = await timed_call(
        run.rec,
        m.model,
        request,
        timeout=m.timeout,
        cache=plan.cache,
        stage="debate",
        label=m.label,
        round=r,
    )
    c = rec.completion
    if c is None:  # the member keeps its previous answer
        return DebateTurn(
            m.label,
            m.model.name,
            own,
            latency_s=rec.latency_s,
            cost_usd=rec.cost_usd,
            error=rec.error,
            start_s=rec.start_s,
            end_s=rec.end_s,
        )
    return DebateTurn(
        m.label,
        m.model.name,
        clean_turn(c.text),
        usage=c.usage,
        latency_s=c.latency_s,
        cost_usd=c.cost_usd,
        start_s=rec.start_s,
        end_s=rec.end_s,
        revised=True,
    )


def _extract_debate(run: Run, text: str) -> str | None:
    p = run.plan
    return extract_answer(
        text, kind=p.extract, choices=p.choices, strict=p.extract == "auto", question=p.prompt
    )


async def debate_rounds(
    run: Run, candidates: list[Candidate]
) -> tuple[list[Candidate], list[DebateRound]]:
    """Let every live member revise against the others' latest answers, ``rounds`` times
    at most, stopping early when the extracted answers agree.

    Returns:
        The candidates with their final texts (usage, latency and cost summed over rounds),
        and the transcript (round 0 = the initial answers).
    """
    live = [c for c in candidates if c.ok]
    members = {m.label: m for m in run.plan.members}
    latest = {c.label: c.text for c in by_label(live)}
    answers = {label: _extract_debate(run, t) for label, t in latest.items()}
    turns0 = tuple(
        DebateTurn(
            c.label,
            c.model,
            c.text,
            answers[c.label],
            c.usage,
            c.latency_s or 0.0,
            c.cost_usd,
            None,
            c.start_s,
            c.end_s,
        )
        for c in by_label(live)
    )
    transcript = [DebateRound(0, turns0, _agreed(answers), dict(answers))]
    extra: dict[str, list[DebateTurn]] = {c.label: [] for c in live}
    if len(live) < 2:
        return candidates, transcript
    await run.rec.emit("stage_start", stage="debate")
    for r in range(1, run.plan.rounds + 1):
        if transcript[-1].agreed:
            break
        await run.rec.emit("round_start", stage="debate", round=r)
        snapshot = dict(latest)
        # Others are shown by their extracted answer when there is one: a small model
        # loses the question in long quoted texts and copies their prose.
        shown = {o: answers[o] or t for o, t in snapshot.items()}
        turns = await asyncio.gather(
            *(
                _debate_turn(
                    run,
                    members[label],
                    r,
                    snapshot[label],
                    [t for o, t in shown.items() if o != label],
                )
                for label in snapshot
            )
        )
        before = answers
        answers = {}
        turns = [dataclasses.replace(t, answer=_extract_debate(run, t.text)) for t in turns]
        for t in turns:
            extra[t.label].append(t)
            if t.answer is None and before[t.label] is not None:
                # Do no harm: a revision with no answer does not replace one that had one.
                answers[t.label] = before[t.label]
                continue
            latest[t.label] = t.text
            answers[t.label] = t.answer
        agreed = _agreed(answers)
        transcript.append(DebateRound(r, tuple(turns), agreed, dict(answers)))
        await run.rec.emit(
            "round_finish", stage="debate", round=r, detail="agreed" if agreed else "open"
        )
    await run.rec.emit("stage_finish", stage="debate")
    final = []
    for c in candidates:
        if not c.ok or not extra[c.label]:
            final.append(c)
            continue
        turns_c = extra[c.label]
        usage = c.usage
        for t in turns_c:
            usage = usage + t.usage
        costs = [c.cost_usd, *(t.cost_usd for t in turns_c)]
        final.append(
            dataclasses.replace(
                c,
                text=latest[c.label],
                usage=usage,
                latency_s=(c.latency_s or 0.0) + sum(t.latency_s for t in turns_c),
                cost_usd=None if any(x is None for x in costs) else sum(costs),  # type: ignore[arg-type]
            )
        )
    return final, transcript
