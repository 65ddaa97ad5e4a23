"""Stage 1: every pool member answers the prompt, all in parallel, each under its own timeout.

A member that fails becomes a :class:`~.result.Candidate` with ``error`` set and fusion
goes on with the rest; only when every member fails is :class:`FusionError` raised,
naming each member's cause.
"""

from __future__ import annotations

import asyncio

from ..errors import FusionError
from ..types import Usage
from .calls import timed_call
from .records import Candidate
from .state import Member, Run

__all__ = ["stage1_collect"]


async def _run_member(run: Run, m: Member) -> tuple[Candidate, BaseException | None]:
    r = await timed_call(
        run.rec,
        m.model,
        m.request,
        timeout=m.timeout,
        cache=run.plan.cache,
        stage="pool",
        label=m.label,
    )
    c = r.completion
    cand = Candidate(
        label=m.label,
        model=m.model.name,
        index=m.index,
        text=c.text if c else "",
        usage=c.usage if c else Usage(),
        latency_s=r.latency_s,
        cost_usd=r.cost_usd,
        error=r.error,
        seed=m.request.seed,
        temperature=m.request.temperature,
        start_s=r.start_s,
        end_s=r.end_s,
        cached=c.cached if c else False,
        finish_reason=c.finish_reason if c else None,
        mean_logprob=c.mean_logprob if c else None,
    )
    return cand, r.exc


async def stage1_collect(run: Run) -> list[Candidate]:
    """Run every pool member in parallel; return one Candidate per member, in pool order.

    Raises:
        FusionError: Every member failed; ``failures`` maps ``"model [label]"`` to the error.
    """
    await run.rec.emit("stage_start", stage="pool")
    results = await asyncio.gather(*(_run_member(run, m) for m in run.plan.members))
    await run.rec.emit("stage_finish", stage="pool")
    candidates = [c for c, _ in results]
    if all(not c.ok for c in candidates):
        lines = "\n".join(f"  {c.label} ({c.model}): {c.error}" for c in candidates)
        failures = {f"{c.model} [{c.label}]": exc for c, exc in results if exc is not None}
        raise FusionError(
            f"every pool member failed ({len(candidates)} of {len(candidates)}):\n{lines}\n"
            "Fix the causes above (keys, model names, timeouts) or add other models.",
            failures=failures,
        )
    return candidates
