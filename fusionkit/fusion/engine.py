"""The fusion engine: one prompt through a pool of models at once, then a judge.

A fusion is planned, then run by its mode (:mod:`.modes`, one object per mode):

- :func:`~.prepare.prepare_setup` and :func:`~.prepare.plan_for` validate every argument
  before any model is called and fix the seed, labels and member requests.
- The mode **collects** the candidates (:meth:`~.modes.base.Mode.collect`): every pool
  member in parallel (:func:`~.pool.stage1_collect`, one ``asyncio.gather``, each member
  under its own timeout; a member that fails becomes a Candidate with ``error`` set, and
  only when every member fails is :class:`FusionError` raised); debate then runs its
  rounds (:func:`~.debate.debate_rounds`).
- The mode **decides** (:meth:`~.modes.base.Mode.fuse_candidates`): ``best-of`` (scores
  and a winner, optionally judged twice in swapped order), ``merge`` (structured analysis,
  then a synthesis), ``debate`` (the judge picks the best final answer) or ``vote``
  (majority of extracted answers; ties go to the judge if there is one).

Every model call goes through :func:`~.calls.timed_call` (timing, events, the record).

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

import inspect
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .._sync import sync_twin
from ..errors import InvalidRequestError
from ..models.base import Model
from .events import FusionEvent
from .modes import DEFAULT_MODE, MODES
from .prepare import SELF_MOA_TEMPERATURE, check_prompt, plan_for, prepare_setup
from .progress import FusionProgress, Progress, ProgressLike, check_progress, watching
from .result import FusionResult, Timings
from .state import EventCallback, Plan, Recorder, Run
from .vote import Extractor

__all__ = [
    "MODES",
    "SELF_MOA_TEMPERATURE",
    "afuse",
    "chain",
    "check_on_event",
    "fuse",
    "run_plan",
]

PoolItem = Model | str


async def run_plan(
    plan: Plan, on_event: EventCallback | None = None, *, t0: float | None = None
) -> FusionResult:
    """Run a prepared fusion: the mode collects the candidates, then decides.

    Args:
        plan: From :func:`~fusionkit.fusion.prepare.plan_for`.
        on_event: Called with every event.
        t0: The clock's zero (``time.perf_counter()``), by default now.
    """
    rec = Recorder(on_event) if t0 is None else Recorder(on_event, t0=t0)
    run = Run(plan, rec)
    mode = plan.mode
    await rec.emit("fusion_start", detail=mode.name)
    p0 = rec.now()
    collected = await mode.collect(run)
    d1 = rec.now()
    p1 = d1 if collected.pool_end_s is None else collected.pool_end_s
    candidates = collected.candidates
    answer, judgment = await mode.fuse_candidates(run, candidates)
    j1 = rec.now()
    spans = [c.end_s - c.start_s for c in candidates]
    await rec.emit("fusion_finish")
    timings = Timings(
        pool_wall_s=p1 - p0,
        slowest_member_s=max(spans) if spans else 0.0,
        debate_s=d1 - p1,
        judge_s=j1 - d1,
        total_s=rec.now(),
    )
    return FusionResult(
        prompt=plan.prompt,
        mode=mode.name,
        answer=answer,
        candidates=tuple(candidates),
        judgment=judgment,
        timings=timings,
        rounds=collected.rounds,
        judge_calls=tuple(sorted(rec.judge_calls, key=lambda j: j.start_s)),
        events=tuple(rec.events),
        judge=plan.judge.name if plan.judge else None,
        seed=plan.seed,
    )


def chain(first: EventCallback, then: EventCallback | None) -> EventCallback:
    """One ``on_event`` that calls ``first`` then ``then`` (which may be async)."""
    if then is None:
        return first

    async def both(event: FusionEvent) -> None:
        first(event)
        out = then(event)
        if inspect.isawaitable(out):
            await out

    return both


def check_on_event(on_event: object) -> None:
    """Raise :class:`InvalidRequestError` unless ``on_event`` is None or callable.

    Shared by ``afuse`` and ``fuse_many``, so a bad callback fails the same way in both,
    before any model is called (not later, as an error in every row).
    """
    if on_event is not None and not callable(on_event):
        raise InvalidRequestError("on_event must be a function that takes a FusionEvent.")


# -- the public API -------------------------------------------------------------------------


async def afuse(
    prompt: str,
    pool: Sequence[PoolItem],
    judge: PoolItem | None = None,
    mode: str = DEFAULT_MODE,
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
    mode_options: Mapping[str, Any] | None = None,
    progress: ProgressLike | None = None,
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
        mode_options: Options of the mode itself (see each mode's ``option_help``),
            checked by the mode before any model is called.
        progress: Show each member and judge call as it finishes (a bar in a notebook,
            lines on stderr in a terminal); None shows it only where a person watches
            (a notebook, or a terminal); False silences; a function
            ``progress(label, done, total)`` receives the steps instead.

    Returns:
        A :class:`~fusionkit.fusion.result.FusionResult`.

    Raises:
        InvalidRequestError: Empty prompt or pool, unknown mode, ``rounds < 1``, a missing
            judge, bad limits — before any model is called.
        ConfigurationError: A spec string that cannot be resolved.
        FusionError: Every pool member failed (``failures`` names each cause).
    """
    t0 = time.perf_counter()
    check_on_event(on_event)
    show = check_progress(progress, "fuse")
    check_prompt(prompt)  # the prompt's error first, before the pool's
    setup = prepare_setup(
        pool,
        judge,
        mode,
        rounds=rounds,
        system=system,
        max_tokens=max_tokens,
        temperature=temperature,
        timeout=timeout,
        seed=seed,
        swap_check=swap_check,
        judge_max_tokens=judge_max_tokens,
        judge_timeout=judge_timeout,
        extract=extract,
        cache=cache,
        mode_options=mode_options,
    )
    plan = plan_for(prompt, setup)
    if show is None:
        show = watching()
    if not show:
        return await run_plan(plan, on_event, t0=t0)
    bar = Progress(show, len(plan.members), f"fuse {plan.mode.name}")
    try:
        return await run_plan(plan, chain(FusionProgress(bar), on_event), t0=t0)
    finally:
        bar.close()


fuse = sync_twin(afuse)
