"""What the judge-using modes share: one judge call, the ask/re-ask loop, the best-of
verdict (with the optional swapped second pass) and the deterministic fallback.

Every judge question goes through :func:`ask_judge` (:func:`fusionkit.asking.ask` with
the judge's call): call, parse leniently, re-ask once with a format reminder. When no
verdict can be read, :func:`fallback` picks the answer deterministically
(:func:`fusionkit.fusion.vote.fallback_choice`) and the Judgment says ``fallback=True``
and why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..asking import Asked, Reply, ask
from ..types import Message, Usage, build_request
from . import judge as J
from . import verdicts as V
from .calls import timed_call
from .labels import labels_for
from .records import Candidate, JudgeCall, Judgment
from .state import Run
from .vote import fallback_choice

__all__ = [
    "ask_judge",
    "best_of_reader",
    "fallback",
    "judge_call",
    "judge_fields",
    "verdict",
]


async def judge_call(
    run: Run,
    step: str,
    messages: Sequence[Message],
    *,
    schema: Mapping[str, Any] | None = None,
    stop: Sequence[str] = (),
    max_tokens: int | None = None,
) -> tuple[JudgeCall, Reply]:
    """One judge call, timed and recorded in ``run.rec.judge_calls``.

    Args:
        run: The fusion in flight.
        step: The step's name (``"score"``, ``"analysis-retry"``, ...).
        messages: The prompt.
        schema: The JSON Schema the reply must satisfy (constrained where the backend can).
        stop: Stop strings.
        max_tokens: Token limit (default: the plan's ``judge_max_tokens``); with a
            schema, at least what the schema needs (:func:`~.verdicts.min_tokens`).

    Returns:
        The record, and the reply for :func:`fusionkit.asking.ask`.
    """
    plan = run.plan
    assert plan.judge is not None
    limit = max_tokens or plan.judge_max_tokens
    if schema is not None:
        limit = max(limit, V.min_tokens(schema))
    request = build_request(
        list(messages),
        max_tokens=limit,
        temperature=0.0,
        seed=plan.seed,
        stop=list(stop) or None,
        schema=schema,
    )
    r = await timed_call(
        run.rec,
        plan.judge,
        request,
        timeout=plan.judge_timeout,
        cache=plan.cache,
        stage="judge",
        detail=step,
    )
    c = r.completion
    call = JudgeCall(
        step,
        plan.judge.name,
        text=c.text if c else "",
        usage=c.usage if c else Usage(),
        latency_s=r.latency_s,
        cost_usd=r.cost_usd,
        error=r.error,
        start_s=r.start_s,
        end_s=r.end_s,
        prompt=tuple((m.role, m.content) for m in messages),
        structured=None if schema is None or c is None else r.unstructured is None,
        cached=bool(c is not None and c.cached),
    )
    run.rec.judge_calls.append(call)
    reply = Reply(
        call.text,
        call.error,
        parsed=c.parsed if c is not None else None,
        finish_reason=c.finish_reason if c is not None else None,
    )
    return call, reply


async def ask_judge(
    run: Run,
    step: str,
    messages: list[Message],
    read: Callable[[Reply], tuple[Any, str | None]],
    shape: str,
    *,
    schema: Mapping[str, Any] | None = None,
    stop: Sequence[str] = (),
    max_tokens: int | None = None,
) -> Asked[Any]:
    """One judge question: call (with ``schema``), read, re-ask once with a format reminder.

    Args:
        run: The fusion in flight.
        step: The step's name; the re-ask is ``step + "-retry"``.
        messages: The prompt.
        read: ``read(reply) -> (value, None)`` or ``(None, problem)``; it should use
            ``reply.parsed`` when the backend decoded the schema, else read the text
            leniently (the last step down for unconstrained backends).
        shape: The expected shape, shown in the re-ask.
        schema: The JSON Schema of the answer.
        stop: Stop strings.
        max_tokens: Token limit of each call.
    """

    async def call(msgs: list[Message], attempt: int) -> Reply:
        name = step if attempt == 1 else f"{step}-retry"
        _, reply = await judge_call(
            run, name, msgs, schema=schema, stop=stop, max_tokens=max_tokens
        )
        return reply

    async def on_retry(problem: str) -> None:
        assert run.plan.judge is not None
        await run.rec.emit(
            "judge_retry", stage="judge", model=run.plan.judge.name, detail=f"{step}: {problem}"
        )

    return await ask(
        call,
        messages,
        read,
        lambda msgs, reply, problem: J.reask_messages(msgs, reply.text, problem, shape),
        who="the judge",
        on_retry=on_retry,
    )


def best_of_reader(labels: Sequence[str]) -> Callable[[Reply], tuple[Any, str | None]]:
    """Read a best-of reply: the schema'd object when there is one, else the text leniently."""

    def read(reply: Reply) -> tuple[Any, str | None]:
        if isinstance(reply.parsed, Mapping):
            return V.read_best_of(reply.parsed, labels)
        return V.parse_best_of(reply.text, labels)

    return read


def judge_fields(run: Run) -> dict[str, Any]:
    """The Judgment fields every judged result carries."""
    judge = run.plan.judge
    return {"judge": judge.name if judge else None, "judge_in_pool": run.plan.judge_in_pool}


async def fallback(
    run: Run, ok: list[Candidate], reason: str, *, base: dict[str, Any] | None = None
) -> tuple[str, Judgment]:
    """The deterministic fallback: a majority of extracted answers, else the first."""
    index, how, votes, answers = fallback_choice(
        [c.text for c in ok], kind=run.plan.extract, choices=run.plan.choices
    )
    chosen = ok[index]
    await run.rec.emit("judge_fallback", stage="judge", detail=f"{reason} -> {how}")
    calls = run.rec.judge_calls
    fields = {
        **judge_fields(run),
        "attempts": len(calls),
        "raw": calls[-1].text if calls else "",
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


def _fields_of(v: V.Verdict, a: Asked[Any], attempts: int, note: str | None) -> dict[str, Any]:
    return {
        "winner": v.winner,
        "scores": v.scores,
        "rationale": v.rationale,
        "raw": a.raw,
        "attempts": attempts,
        "note": note,
    }


async def verdict(
    run: Run, shown: list[Candidate], step: str
) -> tuple[dict[str, Any] | None, str | None]:
    """Best-of judging of ``shown`` (label order), with the optional swapped second pass.

    Returns:
        ``(judgment fields, None)`` or ``(None, why no verdict could be read)``.
    """
    prompt = run.plan.prompt
    labels = [c.label for c in shown]
    first_msgs = J.best_of_messages(prompt, [(c.label, c.text) for c in shown])
    first = (best_of_reader(labels), V.best_of_shape(labels))
    first_schema = V.best_of_schema(labels)
    if not run.plan.swap_check or len(shown) < 2:
        a = await ask_judge(run, step, first_msgs, *first, schema=first_schema)
        if a.value is None:
            return None, a.problem
        v: V.Verdict = a.value
        note = "winner inferred from the scores (no valid winner named)"
        return _fields_of(v, a, a.attempts, note if v.winner_from_scores else None), None
    # MT-Bench practice against position bias: judge again in reversed order, with labels
    # re-assigned by position, so both position and label bias are tested.
    rev = list(reversed(shown))
    pos = labels_for(len(rev))
    back = {p: c.label for p, c in zip(pos, rev, strict=True)}
    rev_msgs = J.best_of_messages(prompt, [(p, c.text) for p, c in zip(pos, rev, strict=True)])
    a, b = await asyncio.gather(
        ask_judge(run, step, first_msgs, *first, schema=first_schema),
        ask_judge(
            run,
            f"{step}-swapped",
            rev_msgs,
            best_of_reader(pos),
            V.best_of_shape(pos),
            schema=V.best_of_schema(pos),
        ),
    )
    attempts = a.attempts + b.attempts
    if a.value is None and b.value is None:
        return None, f"{a.problem} (swapped pass: {b.problem})"
    if b.value is None:
        return _fields_of(a.value, a, attempts, f"swapped pass unreadable: {b.problem}"), None
    vb: V.Verdict = b.value
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
    va: V.Verdict = a.value
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
