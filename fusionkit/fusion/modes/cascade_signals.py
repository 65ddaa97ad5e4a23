"""The cascade's confidence signals: the edge calls, and reading and weighing each signal.

Split from :mod:`.cascade` (the mode's collect/decide flow): each function here takes
the running fusion (:class:`~fusionkit.fusion.state.Run`) and returns a
:class:`~.cascade_records.SignalReading` or the edge's candidates; none keeps state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...models.base import Model
from ...types import Message, Usage
from ..calls import timed_call
from ..judging import judge_call
from ..records import Candidate
from ..state import Run
from ..vote import extract_answer
from .cascade_records import SELF_CHECK_SCHEMA, SignalReading

#: The edge model's candidate label (its samples are ``edge-s1``, ``edge-s2``, ...).
EDGE_LABEL = "edge"
#: Seeds of the edge calls sit this far from the pool members' (seed + i) so that a
#: Self-MoA pool of the edge model never replays an edge sample from the cache.
EDGE_SEED_OFFSET = 10_007


@dataclass(frozen=True, slots=True)
class EdgeCall:
    """One edge call: its candidate, its token log-probabilities, its exception."""

    candidate: Candidate
    logprobs: tuple[float, ...] | None
    exc: BaseException | None


async def edge_call(run: Run, label: str, **changes: Any) -> EdgeCall:
    """Ask the edge model the plan's first request, with ``changes`` (seed, temperature, ...)."""
    plan, opts = run.plan, run.plan.options
    edge = the_edge(run)
    base = plan.members[0].request
    request = dataclasses.replace(
        base, max_tokens=opts["edge_max_tokens"] or base.max_tokens, **changes
    )
    r = await timed_call(
        run.rec,
        edge,
        request,
        timeout=opts["edge_timeout"],
        cache=plan.cache,
        stage="edge",
        label=label,
    )
    c = r.completion
    cand = Candidate(
        label=label,
        model=edge.name,
        index=-1,
        text=c.text if c else "",
        usage=c.usage if c else Usage(),
        latency_s=r.latency_s,
        cost_usd=r.cost_usd,
        error=r.error,
        seed=request.seed,
        temperature=request.temperature,
        start_s=r.start_s,
        end_s=r.end_s,
        cached=c.cached if c else False,
        finish_reason=c.finish_reason if c else None,
    )
    return EdgeCall(cand, c.logprobs if c is not None else None, r.exc)


async def edge_samples(run: Run) -> list[Candidate]:
    """The agreement signal's extra edge samples, sent at once (a local backend batches them)."""
    opts = run.plan.options
    seed = run.plan.seed + EDGE_SEED_OFFSET
    calls = await asyncio.gather(
        *(
            edge_call(
                run,
                f"{EDGE_LABEL}-s{i}",
                temperature=opts["sample_temperature"],
                seed=seed + i,
            )
            for i in range(1, opts["samples"] + 1)
        )
    )
    return [c.candidate for c in calls]


def extract(run: Run, text: str) -> str | None:
    """The answer in ``text`` as the plan extracts it (None when there is none)."""
    p = run.plan
    return extract_answer(text, kind=p.extract, choices=p.choices, question=p.prompt)


def agreement(run: Run, greedy: Candidate, samples: list[Candidate]) -> SignalReading:
    """The share of ``samples`` whose extracted answer equals the greedy answer's."""
    threshold = run.plan.options["thresholds"]["agreement"]
    mine = extract(run, greedy.text)
    if mine is None:
        return SignalReading("agreement", 0.0, threshold, "no answer in the edge reply")
    same = sum(1 for s in samples if s.ok and extract(run, s.text) == mine)
    note = f"{same} of {len(samples)} samples gave {mine!r}"
    return SignalReading("agreement", same / len(samples), threshold, note)


def logprob_reading(run: Run, name: str, greedy: EdgeCall) -> SignalReading:
    """``logprob`` (mean) or ``min_logprob`` of the greedy answer; unavailable without any."""
    threshold = run.plan.options["thresholds"][name]
    lps = greedy.logprobs
    if not lps:
        why = f"{greedy.candidate.model} reported no token log-probabilities"
        return SignalReading(name, None, threshold, why)
    value = sum(lps) / len(lps) if name == "logprob" else min(lps)
    return SignalReading(name, value, threshold, f"over {len(lps)} tokens")


async def selfcheck(run: Run, greedy: Candidate) -> SignalReading:
    """The edge model rates its own answer 0-10 under a schema (a judge call); value / 10."""
    threshold = run.plan.options["thresholds"]["selfcheck"]
    edge = the_edge(run)
    checker = Run(dataclasses.replace(run.plan, judge=edge), run.rec)
    messages = [
        Message(
            "user",
            "Question:\n"
            f"{run.plan.prompt}\n\nProposed answer:\n{greedy.text}\n\n"
            "How sure are you that the proposed answer is correct? Reply with JSON "
            'like {"confidence": 7}, from 0 (surely wrong) to 10 (surely right).',
        )
    ]
    call, reply = await judge_call(
        checker, "self-check", messages, schema=SELF_CHECK_SCHEMA, max_tokens=16
    )
    if call.error is not None:
        return SignalReading("selfcheck", None, threshold, f"the self-check failed: {call.error}")
    value = _read_confidence(reply.parsed, reply.text)
    if value is None:
        return SignalReading("selfcheck", None, threshold, "the self-check was unreadable")
    return SignalReading("selfcheck", value / 10, threshold, f"rated {value}/10")


async def read_signals(run: Run, call: EdgeCall) -> tuple[list[Candidate], list[SignalReading]]:
    """Read the wanted signals (``auto``: logprob), falling back to agreement when asked."""
    greedy = call.candidate
    opts = run.plan.options
    wanted = list(opts["signals"])
    if wanted == ["auto"]:
        wanted = ["logprob"]
    samples: list[Candidate] = []
    readings: list[SignalReading] = []
    if "agreement" in wanted:
        samples = await edge_samples(run)
    for name in wanted:
        if name == "agreement":
            readings.append(agreement(run, greedy, samples))
        elif name in ("logprob", "min_logprob"):
            readings.append(logprob_reading(run, name, call))
        else:
            readings.append(await selfcheck(run, greedy))
    missing = [r for r in readings if not r.available]
    if missing and opts["on_unavailable"] == "fallback" and "agreement" not in wanted:
        samples = await edge_samples(run)
        fb = agreement(run, greedy, samples)
        note = f"fallback for {', '.join(r.name for r in missing)}; {fb.note}"
        readings.append(dataclasses.replace(fb, note=note))
    return samples, readings


def decide_signals(run: Run, readings: list[SignalReading]) -> tuple[bool, str]:
    """``(escalate, reason)`` from the readings."""
    said = [r for r in readings if r.available]
    words = "; ".join(r.describe() for r in readings)
    if not said:
        return True, f"no confidence signal was available ({words}): escalated"
    missing = [r for r in readings if not r.available]
    if missing and run.plan.options["on_unavailable"] == "escalate":
        return True, f"{words}: a signal was unavailable, so escalated"
    votes = [bool(r.confident) for r in said]
    rule = all if run.plan.options["combine"] == "all" else any
    if rule(votes):
        return False, f"edge confident ({words})"
    return True, f"edge unsure ({words})"


def the_edge(run: Run) -> Model:
    """The edge model: the option, else the first pool member (so ``--mode cascade`` in
    the CLI or the console works on any pool)."""
    edge = run.plan.options.get("edge")
    return edge if isinstance(edge, Model) else run.plan.members[0].model


def _read_confidence(parsed: object, text: str) -> int | None:
    if isinstance(parsed, Mapping) and isinstance(parsed.get("confidence"), int):
        value = int(parsed["confidence"])
        return value if 0 <= value <= 10 else None
    m = re.search(r"\b(10|[0-9])\b", text or "")
    return int(m.group(1)) if m else None
