"""What the judge-using modes share: one judge call, the ask/re-ask loop, the best-of
verdict (with the optional swapped second pass) and the deterministic fallback.

A verdict is structurally the judge's own (issue 9): it is asked with a JSON Schema (a
constraining backend can write nothing else); each prompt's delimiters carry a nonce
secret to the process; a reply is read from after the last echoed piece of its prompt
(:func:`~.neutralise.own_part`), taking the last complete object there; a reply that
reproduces a candidate's text around its verdict is not trusted (re-asked, then the
fallback); and injection-like text found in a candidate is named in the judgment's note.

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
from ..parsing import extract_json
from ..types import Message, Usage, build_request
from . import judge as J
from . import verdicts as V
from .calls import timed_call
from .labels import labels_for
from .neutralise import echoed_candidate, neutralise, own_part, scan
from .records import Candidate, JudgeCall, Judgment
from .state import Run
from .vote import fallback_choice

__all__ = [
    "ask_judge",
    "injection_note",
    "join_notes",
    "fallback",
    "judge_call",
    "judge_fields",
    "consistency_verdict",
    "verdict",
    "verdict_reader",
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


def _last_object_span(text: str) -> tuple[int, int] | None:
    """Where the last top-level ``{...}`` of ``text`` starts and ends (braces counted
    backwards from the last ``}``, strings skipped); None when there is none."""
    end = text.rfind("}")
    if end < 0:
        return None
    depth = 0
    in_str = False
    for i in range(end, -1, -1):
        ch = text[i]
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            in_str = not in_str
        elif not in_str and ch == "}":
            depth += 1
        elif not in_str and ch == "{":
            depth -= 1
            if depth == 0:
                return i, end + 1
    return None


def _last_object(text: str) -> tuple[Any, str]:
    """The last complete object of ``text`` (read leniently) and the text around it."""
    span = _last_object_span(text)
    if span is None:
        return None, text
    a, b = span
    return extract_json(text[a:b]), text[:a] + text[b:]


def verdict_reader(
    labels: Sequence[str],
    *,
    nonce: str = "",
    tail: str = "",
    texts: Mapping[str, str] | None = None,
    read_object: Callable[
        [Mapping[str, Any], Sequence[str]], tuple[Any, str | None]
    ] = V.read_best_of,
) -> Callable[[Reply], tuple[Any, str | None]]:
    """Read a verdict that is the judge's own.

    The reply is cut to what follows the last echoed piece of the prompt (a delimiter
    with ``nonce``, or the task's closing ``tail``); the schema'd object decides when the
    reply is that object alone, else the last object of the judge's own part, read
    leniently. A verdict whose surrounding text reproduces a candidate's text (as the
    judge saw it, ``texts``) is refused: a judge that echoes a candidate may be echoing
    the candidate's fake verdict.

    Args:
        labels: The labels the verdict may name.
        nonce: The prompt's delimiter nonce.
        tail: The prompt's last user message (its end marks an echoed prompt).
        texts: Label -> the neutralised text the judge saw.
        read_object: Reads a decoded object (best-of by default).
    """
    seen = dict(texts or {})

    def read(reply: Reply) -> tuple[Any, str | None]:
        text = reply.text or ""
        own = own_part(text, nonce, tail)
        echoed = own.strip() != text.strip()
        data, around = _last_object(own)
        if isinstance(reply.parsed, Mapping) and not echoed:
            data = reply.parsed
        if data is None:
            if echoed:
                return None, "the reply repeats the prompt and gives no verdict of its own"
            return None, "no JSON object found in the reply"
        who = echoed_candidate(around, seen)
        if who is not None:
            return None, (
                f"the reply reproduces Response {who}'s text around its verdict; a verdict "
                "next to a copied candidate is not trusted"
            )
        return read_object(data, labels)

    return read


def injection_note(shown: Sequence[Candidate]) -> str | None:
    """A note naming the candidates whose text looked like an injection attempt (imitated
    delimiters, verdict claims, role headers, verdict keys); None when none did."""
    labels = [c.label for c in shown]
    hits = []
    for c in shown:
        _, found = scan(c.text, labels)
        if found:
            hits.append(f"Response {c.label} ({', '.join(found)})")
    if not hits:
        return None
    return (
        "injection suspected: " + "; ".join(hits) + " - neutralised before judging; "
        "its verdict-like text could not decide"
    )


def join_notes(*notes: str | None) -> str | None:
    """Notes joined with "; " (None when there are none)."""
    kept = [n for n in notes if n]
    return "; ".join(kept) if kept else None


def judge_fields(run: Run) -> dict[str, Any]:
    """The Judgment fields every judged result carries."""
    judge = run.plan.judge
    return {"judge": judge.name if judge else None, "judge_in_pool": run.plan.judge_in_pool}


async def fallback(
    run: Run, ok: list[Candidate], reason: str, *, base: dict[str, Any] | None = None
) -> tuple[str, Judgment]:
    """The deterministic fallback: a majority of extracted answers, else the first."""
    index, how, votes, answers = fallback_choice(
        [c.text for c in ok],
        kind=run.plan.extract,
        choices=run.plan.choices,
        question=run.plan.prompt,  # as vote reads them: no restated operand is voted
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


def _reader_for(
    items: list[tuple[str, str]], msgs: list[Message], nonce: str, **kw: Any
) -> Callable[[Reply], tuple[Any, str | None]]:
    labels = [label for label, _ in items]
    seen = {label: neutralise(text, labels) for label, text in items}
    return verdict_reader(labels, nonce=nonce, tail=msgs[-1].content, texts=seen, **kw)


def _judged(
    prompt: str, items: list[tuple[str, str]]
) -> tuple[list[Message], Callable[[Reply], tuple[Any, str | None]], str, dict[str, Any]]:
    labels = [label for label, _ in items]
    nonce = J.prompt_nonce(prompt, items)
    msgs = J.best_of_messages(prompt, items, nonce)
    return (
        msgs,
        _reader_for(items, msgs, nonce),
        V.best_of_shape(labels),
        V.best_of_schema(labels),
    )


async def verdict(
    run: Run, shown: list[Candidate], step: str
) -> tuple[dict[str, Any] | None, str | None]:
    """Best-of judging of ``shown`` (label order), with the optional swapped second pass.

    Returns:
        ``(judgment fields, None)`` or ``(None, why no verdict could be read)``. The
        fields' ``note`` names suspected injection (:func:`injection_note`).
    """
    fields, problem = await _verdict(run, shown, step)
    if fields is not None:
        fields["note"] = join_notes(fields.get("note"), injection_note(shown))
    return fields, problem


async def _verdict(
    run: Run, shown: list[Candidate], step: str
) -> tuple[dict[str, Any] | None, str | None]:
    prompt = run.plan.prompt
    labels = [c.label for c in shown]
    items = [(c.label, c.text) for c in shown]
    first_msgs, first_read, first_shape, first_schema = _judged(prompt, items)
    if not run.plan.swap_check or len(shown) < 2:
        a = await ask_judge(run, step, first_msgs, first_read, first_shape, schema=first_schema)
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
    rev_msgs, rev_read, rev_shape, rev_schema = _judged(
        prompt, [(p, c.text) for p, c in zip(pos, rev, strict=True)]
    )
    a, b = await asyncio.gather(
        ask_judge(run, step, first_msgs, first_read, first_shape, schema=first_schema),
        ask_judge(run, f"{step}-swapped", rev_msgs, rev_read, rev_shape, schema=rev_schema),
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


async def consistency_verdict(
    run: Run, shown: list[Candidate], step: str = "consistency"
) -> tuple[dict[str, Any] | None, str | None]:
    """Universal self-consistency: the judge names the most consistent of ``shown``
    (schema: the candidates' labels as an ``enum``), read like any verdict.

    Returns:
        ``(judgment fields, None)`` or ``(None, why no pick could be read)``.
    """
    prompt = run.plan.prompt
    items = [(c.label, c.text) for c in shown]
    labels = [label for label, _ in items]
    nonce = J.prompt_nonce(prompt, items)
    msgs = J.usc_messages(prompt, items, nonce)
    read = _reader_for(items, msgs, nonce, read_object=V.read_usc)
    a = await ask_judge(run, step, msgs, read, V.usc_shape(labels), schema=V.usc_schema(labels))
    if a.value is None:
        return None, a.problem
    fields = _fields_of(a.value, a, a.attempts, None)
    fields["note"] = injection_note(shown)
    return fields, None
