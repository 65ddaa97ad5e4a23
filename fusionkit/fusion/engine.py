"""The fusion engine: one prompt through a pool of models at once, then a judge.

The pipeline reads as stage-named functions (stage 1 here; the debate in
:mod:`.debate`; stage 2 in :mod:`.stage2`; validation in :mod:`.prepare`):

- :func:`stage1_collect` runs every pool member in parallel (one ``asyncio.gather``, no
  sequential awaits), each under its own timeout. A member that fails becomes a
  :class:`~fusionkit.fusion.result.Candidate` with ``error`` set; fusion goes on with
  the rest. Only when every member fails does it raise :class:`FusionError`, naming each
  member's cause.
- :func:`debate_rounds` (debate mode) lets every member see the others' latest answers
  and revise, round after round, until the extracted answers agree.
- :func:`stage2_judge` turns the candidates into one answer: ``best-of`` (scores and a
  winner, optionally judged twice in swapped order), ``merge`` (structured analysis,
  then a synthesis), ``debate`` (the judge picks the best final answer) or ``vote``
  (majority of extracted answers; ties go to the judge if there is one).

Decisions (and why):

- **Seeds.** With ``seed=None`` a seed is derived from the prompt, the mode and the
  pool, so a re-run sends identical requests and is served by the response cache
  (``fuse_many`` resumes this way). Member ``i`` gets ``seed + i``: repeated members
  (Self-MoA) get distinct seeds.
- **Temperature.** ``temperature=None`` means 0 (greedy) for a model that appears once and
  0.7 for a model repeated in the pool, because repeated greedy samples of a
  deterministic backend are identical and would make Self-MoA or a vote pointless. An
  explicit ``temperature=0`` with repeats is respected, with a warning.
- **Judge failures are data too.** A judge that errors or answers unreadably twice does not
  lose the candidates: a deterministic fallback picks the answer and the judgment says
  ``fallback=True`` and why. One successful candidate is returned without calling the
  judge (``method="single"``).
- **The judge runs at temperature 0**, seeded, so its calls are cacheable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from .._sync import run_sync
from ..errors import FusionError
from ..models.base import Model
from .debate import debate_rounds
from .prepare import MODES, SELF_MOA_TEMPERATURE, prepare
from .result import Candidate, DebateRound, FusionResult, Timings
from .stage2 import stage2_judge
from .state import EventCallback, Member, Run, call_model, describe, failed_cost
from .vote import Extractor

__all__ = [
    "MODES",
    "SELF_MOA_TEMPERATURE",
    "afuse",
    "debate_rounds",
    "fuse",
    "stage1_collect",
    "stage2_judge",
]

PoolItem = Model | str


# -- stage 1: the pool ----------------------------------------------------------------------


async def _run_member(run: Run, m: Member) -> tuple[Candidate, BaseException | None]:
    start = run.now()
    await run.emit("member_start", stage="pool", label=m.label, model=m.model.name)
    try:
        c = await call_model(m.model, m.request, m.timeout, run.cache, "the member's")
    except Exception as exc:  # noqa: BLE001 - partial failure is data, not a crash
        end = run.now()
        error = describe(exc)
        await run.emit(
            "member_failed",
            stage="pool",
            label=m.label,
            model=m.model.name,
            latency_s=end - start,
            error=error,
        )
        cand = Candidate(
            label=m.label,
            model=m.model.name,
            index=m.index,
            latency_s=end - start,
            cost_usd=failed_cost(exc),
            error=error,
            seed=m.request.seed,
            temperature=m.request.temperature,
            start_s=start,
            end_s=end,
        )
        return cand, exc
    end = run.now()
    await run.emit(
        "member_finish", stage="pool", label=m.label, model=m.model.name, latency_s=c.latency_s
    )
    cand = Candidate(
        label=m.label,
        model=m.model.name,
        index=m.index,
        text=c.text,
        usage=c.usage,
        latency_s=c.latency_s,
        cost_usd=c.cost_usd,
        seed=m.request.seed,
        temperature=m.request.temperature,
        start_s=start,
        end_s=end,
        cached=c.cached,
        finish_reason=c.finish_reason,
    )
    return cand, None


async def stage1_collect(run: Run) -> list[Candidate]:
    """Run every pool member in parallel; return one Candidate per member, in pool order.

    Raises:
        FusionError: Every member failed; ``failures`` maps ``"model [label]"`` to the error.
    """
    await run.emit("stage_start", stage="pool")
    results = await asyncio.gather(*(_run_member(run, m) for m in run.members))
    await run.emit("stage_finish", stage="pool")
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


# -- the public API -------------------------------------------------------------------------


async def afuse(
    prompt: str,
    pool: Sequence[PoolItem],
    judge: PoolItem | None = None,
    mode: str = "best-of",
    *,
    rounds: int = 2,
    system: str | None = None,
    max_tokens: int = 512,
    temperature: float | None = None,
    timeout: float | Sequence[float | None] | None = None,
    seed: int | None = None,
    on_event: EventCallback | None = None,
    swap_check: bool = False,
    judge_max_tokens: int | None = None,
    judge_timeout: float | None = None,
    extract: str | Extractor = "auto",
    cache: bool | None = None,
) -> FusionResult:
    """Run one prompt through a pool of models at once and fuse the answers.

    Args:
        prompt: The question.
        pool: Models or spec strings; the same model may appear several times (Self-MoA:
            each occurrence is its own candidate, with its own seed).
        judge: The judging model (or spec). Needed by best-of, merge and debate; optional
            for vote (it breaks ties). It may also be a pool member (recorded).
        mode: ``"best-of"``, ``"merge"``, ``"debate"`` or ``"vote"``.
        rounds: Debate rounds at most (>= 1).
        system: System prompt for the pool members (not the judge).
        max_tokens: Token limit of each member's answer.
        temperature: Sampling temperature of the members; None picks 0 for a model that
            appears once and 0.7 for a repeated one.
        timeout: Seconds each member may take (each has its own clock), or one value per
            pool member; None waits. Also the judge's timeout unless ``judge_timeout``.
        seed: Seed for the shuffle and sampling (member ``i`` gets ``seed + i``); None
            derives one from the prompt, so re-runs hit the response cache.
        on_event: Called with every :class:`~fusionkit.fusion.events.FusionEvent` (may be
            async); keep it quick, it runs on the fusion's loop.
        swap_check: Best-of and debate: judge twice, the second time in reversed order,
            and record whether the winners agree (disagreements: mean score decides).
        judge_max_tokens: Token limit of each judge reply (default ``max(max_tokens, 256)``).
        judge_timeout: Seconds each judge call may take.
        extract: How vote and debate extract answers: ``"auto"``, ``"number"``,
            ``"choice"``, ``"text"`` or a function ``text -> answer | None``.
        cache: Override the models' response-cache setting for every call.

    Returns:
        A :class:`~fusionkit.fusion.result.FusionResult`.

    Raises:
        InvalidRequestError: Empty prompt or pool, unknown mode, ``rounds < 1``, a missing
            judge, bad limits — before any model is called.
        ConfigurationError: A spec string that cannot be resolved.
        FusionError: Every pool member failed (``failures`` names each cause).
    """
    t0 = time.perf_counter()
    run = prepare(
        prompt,
        pool,
        judge,
        mode,
        rounds=rounds,
        system=system,
        max_tokens=max_tokens,
        temperature=temperature,
        timeout=timeout,
        seed=seed,
        on_event=on_event,
        swap_check=swap_check,
        judge_max_tokens=judge_max_tokens,
        judge_timeout=judge_timeout,
        extract=extract,
        cache=cache,
    )
    run.t0 = t0
    await run.emit("fusion_start", detail=run.mode)
    p0 = run.now()
    candidates = await stage1_collect(run)
    p1 = run.now()
    transcript: list[DebateRound] = []
    if run.mode == "debate":
        candidates, transcript = await debate_rounds(run, candidates)
    d1 = run.now()
    answer, judgment = await stage2_judge(run, candidates)
    j1 = run.now()
    spans = [c.end_s - c.start_s for c in candidates]
    await run.emit("fusion_finish")
    timings = Timings(
        pool_wall_s=p1 - p0,
        slowest_member_s=max(spans) if spans else 0.0,
        debate_s=d1 - p1,
        judge_s=j1 - d1,
        total_s=run.now(),
    )
    return FusionResult(
        prompt=run.prompt,
        mode=run.mode,
        answer=answer,
        candidates=tuple(candidates),
        judgment=judgment,
        timings=timings,
        rounds=tuple(transcript),
        judge_calls=tuple(sorted(run.judge_calls, key=lambda j: j.start_s)),
        events=tuple(run.events),
        judge=run.judge.name if run.judge else None,
        seed=run.seed,
    )


def fuse(
    prompt: str,
    pool: Sequence[PoolItem],
    judge: PoolItem | None = None,
    mode: str = "best-of",
    *,
    rounds: int = 2,
    system: str | None = None,
    max_tokens: int = 512,
    temperature: float | None = None,
    timeout: float | Sequence[float | None] | None = None,
    seed: int | None = None,
    on_event: EventCallback | None = None,
    swap_check: bool = False,
    judge_max_tokens: int | None = None,
    judge_timeout: float | None = None,
    extract: str | Extractor = "auto",
    cache: bool | None = None,
) -> FusionResult:
    """Sync twin of :func:`afuse` (same arguments); works inside Jupyter's running loop."""
    return run_sync(
        afuse(
            prompt,
            pool,
            judge,
            mode,
            rounds=rounds,
            system=system,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=timeout,
            seed=seed,
            on_event=on_event,
            swap_check=swap_check,
            judge_max_tokens=judge_max_tokens,
            judge_timeout=judge_timeout,
            extract=extract,
            cache=cache,
        )
    )
