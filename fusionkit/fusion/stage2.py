"""Stage 2: the judge turns the candidates into one answer (best-of, merge, vote).

Every judge question goes through :func:`ask`: call, parse leniently, re-ask once with a
format reminder, and report what was wrong. When no verdict can be read, the
deterministic fallback (:func:`fusionkit.fusion.vote.fallback_choice`) picks the answer
and the :class:`~fusionkit.fusion.result.Judgment` says ``fallback=True`` and why.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..types import Message, build_request
from . import judge as J
from .result import Candidate, JudgeCall, Judgment
from .state import Run, by_label, call_model, describe, failed_cost
from .vote import extract_answer, fallback_choice, majority

__all__ = ["ask", "stage2_judge", "verdict"]


@dataclass(slots=True)
class _Asked:
    value: Any
    raw: str
    attempts: int
    problem: str | None = None
    errored: bool = False


async def _judge_call(run: Run, step: str, messages: Sequence[Message]) -> JudgeCall:
    assert run.judge is not None
    judge = run.judge
    start = run.now()
    prompt = tuple((m.role, m.content) for m in messages)
    await run.emit("judge_start", stage="judge", model=judge.name, detail=step)
    try:
        request = build_request(
            list(messages), max_tokens=run.judge_max_tokens, temperature=0.0, seed=run.seed
        )
        c = await call_model(judge, request, run.judge_timeout, run.cache, "the judge's")
    except Exception as exc:  # noqa: BLE001 - recorded; the fallback takes over
        end = run.now()
        call = JudgeCall(
            step,
            judge.name,
            latency_s=end - start,
            cost_usd=failed_cost(exc),
            error=describe(exc),
            start_s=start,
            end_s=end,
            prompt=prompt,
        )
        await run.emit(
            "judge_failed",
            stage="judge",
            model=judge.name,
            detail=step,
            latency_s=end - start,
            error=call.error,
        )
    else:
        end = run.now()
        call = JudgeCall(
            step,
            judge.name,
            text=c.text,
            usage=c.usage,
            latency_s=c.latency_s,
            cost_usd=c.cost_usd,
            start_s=start,
            end_s=end,
            prompt=prompt,
        )
        await run.emit(
            "judge_finish", stage="judge", model=judge.name, detail=step, latency_s=c.latency_s
        )
    run.judge_calls.append(call)
    return call


async def ask(
    run: Run,
    step: str,
    messages: list[Message],
    parse: Callable[[str], tuple[Any, str | None]],
    shape: str,
) -> _Asked:
    """One judge question: call, parse leniently, re-ask once with a format reminder."""
    first = await _judge_call(run, step, messages)
    if not first.ok:
        return _Asked(None, "", 1, f"the judge failed: {first.error}", errored=True)
    value, problem = parse(first.text)
    if value is not None:
        return _Asked(value, first.text, 1)
    await run.emit("judge_retry", stage="judge", model=first.model, detail=f"{step}: {problem}")
    second = await _judge_call(
        run, f"{step}-retry", J.reask_messages(messages, first.text, problem or "", shape)
    )
    if not second.ok:
        return _Asked(
            None,
            first.text,
            2,
            f"unreadable reply ({problem}), and the re-ask failed: {second.error}",
        )
    value, problem2 = parse(second.text)
    if value is not None:
        return _Asked(value, second.text, 2)
    return _Asked(None, second.text, 2, f"unreadable twice: {problem}; then {problem2}")


def _judge_fields(run: Run) -> dict[str, Any]:
    return {"judge": run.judge.name if run.judge else None, "judge_in_pool": run.judge_in_pool}


async def _fallback(
    run: Run, ok: list[Candidate], reason: str, *, base: dict[str, Any] | None = None
) -> tuple[str, Judgment]:
    index, how, votes, answers = fallback_choice(
        [c.text for c in ok], kind=run.extract, choices=run.choices
    )
    chosen = ok[index]
    await run.emit("judge_fallback", stage="judge", detail=f"{reason} -> {how}")
    last = run.judge_calls[-1].text if run.judge_calls else ""
    fields = {
        **_judge_fields(run),
        "attempts": len(run.judge_calls),
        "raw": last,
        **(base or {}),
    }
    fields.setdefault("method", "fallback")
    return chosen.text, Judgment(
        winner=chosen.label,
        rationale=f"Deterministic fallback: {how}.",
        fallback=True,
        fallback_reason=reason,
        votes=votes,
        answers={c.label: a for c, a in zip(ok, answers, strict=True)},
        **fields,
    )


async def verdict(
    run: Run, shown: list[Candidate], step: str
) -> tuple[dict[str, Any] | None, str | None]:
    """Best-of judging of ``shown`` (label order), with the optional swapped second pass.

    Returns:
        ``(judgment fields, None)`` or ``(None, why no verdict could be read)``.
    """
    labels = [c.label for c in shown]
    items = [(c.label, c.text) for c in shown]
    parse: Callable[[str], tuple[Any, str | None]] = lambda r: J.parse_best_of(r, labels)  # noqa: E731
    first_msgs = J.best_of_messages(run.prompt, items)
    if not run.swap_check or len(shown) < 2:
        a = await ask(run, step, first_msgs, parse, J.best_of_shape(labels))
        if a.value is None:
            return None, a.problem
        v: J.Verdict = a.value
        note = (
            "winner inferred from the scores (no valid winner named)"
            if v.winner_from_scores
            else None
        )
        return {
            "winner": v.winner,
            "scores": v.scores,
            "rationale": v.rationale,
            "raw": a.raw,
            "attempts": a.attempts,
            "note": note,
        }, None
    # MT-Bench practice against position bias: judge again in reversed order, with labels
    # re-assigned by position, so both position and label bias are tested.
    rev = list(reversed(shown))
    pos = J.labels_for(len(rev))
    back = {p: c.label for p, c in zip(pos, rev, strict=True)}
    parse_rev: Callable[[str], tuple[Any, str | None]] = lambda r: J.parse_best_of(r, pos)  # noqa: E731
    rev_msgs = J.best_of_messages(run.prompt, [(p, c.text) for p, c in zip(pos, rev, strict=True)])
    a, b = await asyncio.gather(
        ask(run, step, first_msgs, parse, J.best_of_shape(labels)),
        ask(run, f"{step}-swapped", rev_msgs, parse_rev, J.best_of_shape(pos)),
    )
    attempts = a.attempts + b.attempts
    if a.value is None and b.value is None:
        return None, f"{a.problem} (swapped pass: {b.problem})"
    if b.value is None:
        v = a.value
        return {
            "winner": v.winner,
            "scores": v.scores,
            "rationale": v.rationale,
            "raw": a.raw,
            "attempts": attempts,
            "note": f"swapped pass unreadable: {b.problem}",
        }, None
    vb: J.Verdict = b.value
    b_winner = back[vb.winner]
    b_scores = {back[k]: s for k, s in vb.scores.items()}
    if a.value is None:
        return {
            "winner": b_winner,
            "scores": b_scores,
            "rationale": vb.rationale,
            "raw": b.raw,
            "attempts": attempts,
            "swap_winner": b_winner,
            "swap_scores": b_scores,
            "note": f"first pass unreadable ({a.problem}); the swapped pass decided",
        }, None
    va: J.Verdict = a.value
    fields = {
        "rationale": va.rationale,
        "raw": a.raw,
        "attempts": attempts,
        "swap_winner": b_winner,
        "swap_scores": b_scores,
        "swap_agreement": va.winner == b_winner,
    }
    if va.winner == b_winner:
        return {**fields, "winner": va.winner, "scores": va.scores}, None
    mean = {}
    for label in labels:
        got = [s[label] for s in (va.scores, b_scores) if label in s]
        if got:
            mean[label] = sum(got) / len(got)
    if not mean:
        return {
            **fields,
            "winner": va.winner,
            "scores": {},
            "note": "the two orders disagreed and gave no scores; the first pass decided",
        }, None
    best = max(mean.values())
    top = [x for x in labels if mean[x] == best]
    winner = va.winner if va.winner in top else top[0]
    return {
        **fields,
        "winner": winner,
        "scores": mean,
        "note": f"the two orders disagreed ({va.winner} vs {b_winner}); settled by the mean score",
    }, None


# -- stage 2 --------------------------------------------------------------------------------


async def _best_of(run: Run, ok: list[Candidate], method: str = "judge") -> tuple[str, Judgment]:
    fields, problem = await verdict(run, by_label(ok), "score")
    if fields is None:
        return await _fallback(run, ok, f"judge verdict unusable: {problem}")
    winner = next(c for c in ok if c.label == fields["winner"])
    return winner.text, Judgment(method=method, **fields, **_judge_fields(run))


async def _merge(run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
    items = [(c.label, c.text) for c in by_label(ok)]
    a = await ask(
        run, "analysis", J.analysis_messages(run.prompt, items), J.parse_analysis, J.ANALYSIS_SHAPE
    )
    if a.errored:
        return await _fallback(run, ok, f"merge analysis failed: {a.problem}", base=None)
    s = await ask(
        run,
        "synthesis",
        J.synthesis_messages(run.prompt, items, a.value),
        J.parse_synthesis,
        J.SYNTHESIS_SHAPE,
    )
    note = (
        None
        if a.value is not None
        else (
            f"analysis unreadable ({a.problem}); the synthesis was written from the responses alone"
        )
    )
    if s.value is None:
        return await _fallback(
            run,
            ok,
            f"merge synthesis unusable: {s.problem}",
            base={"analysis": a.value, "note": note},
        )
    n = len(a.value.consensus) if a.value else 0
    rationale = (
        f"Synthesis of {len(ok)} responses after a structured analysis ({n} consensus points)."
        if a.value
        else f"Synthesis of {len(ok)} responses."
    )
    return s.value, Judgment(
        method="merge",
        rationale=rationale,
        raw=s.raw,
        attempts=a.attempts + s.attempts,
        analysis=a.value,
        note=note,
        **_judge_fields(run),
    )


async def _vote(run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
    answers = {c.label: extract_answer(c.text, kind=run.extract, choices=run.choices) for c in ok}
    tally = majority([answers[c.label] for c in ok])
    base = {"votes": tally.counts, "answers": answers, **_judge_fields(run)}
    if tally.voters == 0:
        text, j = await _fallback(run, ok, "no candidate's answer could be extracted")
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
    if run.judge is not None:
        fields, problem = await verdict(run, by_label(reps), "tie-break")
        if fields is not None:
            rep = next(c for c in reps if c.label == fields["winner"])
            return rep.text, Judgment(
                method="vote",
                winner=rep.label,
                scores=fields["scores"],
                rationale=f"Tie between {tied} ({summary}); the judge chose {answers[rep.label]!r}: "
                f"{fields['rationale']}",
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


async def stage2_judge(run: Run, candidates: list[Candidate]) -> tuple[str, Judgment]:
    """Turn the candidates into one answer according to the mode.

    Returns:
        ``(answer, judgment)``.
    """
    ok = [c for c in candidates if c.ok]
    stage = "vote" if run.mode == "vote" else "judge"
    await run.emit("stage_start", stage=stage)
    try:
        if run.mode == "vote":
            return await _vote(run, ok)
        if len(ok) == 1:
            return ok[0].text, Judgment(
                method="single",
                winner=ok[0].label,
                rationale="Only one candidate answered; "
                "nothing to compare, so the judge was not called.",
                **_judge_fields(run),
            )
        if run.mode == "merge":
            return await _merge(run, ok)
        return await _best_of(run, ok)
    finally:
        await run.emit("stage_finish", stage=stage)
