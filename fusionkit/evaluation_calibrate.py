"""Calibrating a cascade on labelled tasks: one recorded run, then a threshold sweep.

Split from :mod:`fusionkit.evaluation` (running and grading conditions); the sweep itself
is :mod:`fusionkit.fusion.calibrate`. Importable from :mod:`fusionkit.evaluation` as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._sync import sync_twin
from .checks import Checker, check_answer, check_checker
from .errors import FusionkitError, InvalidRequestError
from .evaluation_conditions import cascade_condition
from .models.base import Model
from .tasks import Task

if TYPE_CHECKING:  # pragma: no cover
    from .fusion.calibrate import Calibration

__all__ = ["acalibrate", "calibrate"]


async def acalibrate(
    tasks: Sequence[Task],
    edge: Model,
    pool: Sequence[Model],
    *,
    judge: Model | None = None,
    signal: str | tuple[str, ...] = "agreement",
    escalate_to: str = "auto",
    check: Checker = "auto",
    max_tokens: int = 16,
    concurrency: int = 16,
    unit: str = "auto",
    **options: Any,
) -> Calibration:
    """Run a cascade ONCE over labelled tasks, recording both paths, and sweep thresholds.

    Every task runs with ``record_both=True``: the edge answers and its signal is read,
    and the pool runs too, so each task records its signal value and whether each path
    was right. The returned :class:`~fusionkit.fusion.calibrate.Calibration` computes
    the whole curve (share escalated, accuracy, cost, latency per threshold) from that
    one run; :meth:`~fusionkit.fusion.calibrate.Calibration.choose` picks the cheapest
    threshold that reaches a target accuracy. Calls are seeded, so a re-run replays from
    the response cache where the models cache.

    Args:
        tasks: Labelled tasks (see :func:`tasks_from_frame`).
        edge: The model that answers first.
        pool: The escalation pool.
        judge: The escalation's judge.
        signal: The signal to calibrate (``"agreement"``, ``"logprob"``,
            ``"min_logprob"``, ``"selfcheck"``), or a tuple of signals calibrated
            together (the cascade stops only when each is confident).
        escalate_to: The escalation mode.
        check: How replies are graded (see :func:`check_answer`).
        max_tokens: Token limit of each answer.
        concurrency: Tasks in flight at once.
        unit: Cost as ``"usd"``, ``"tokens"`` or ``"auto"``.
        **options: Other cascade options (``samples``, ...) and :func:`fusionkit.afuse`
            arguments.

    Returns:
        The :class:`~fusionkit.fusion.calibrate.Calibration`.

    Raises:
        InvalidRequestError: No tasks, an unknown signal or checker.
    """
    from .fusion.calibrate import Calibration, CalibrationItem, check_signal, items_from_results
    from .fusion.engine import afuse

    if not tasks:
        raise InvalidRequestError("no tasks: calibration needs labelled tasks.")
    signal = check_signal(signal)
    check_checker(check)
    cond = cascade_condition(
        edge, pool, judge=judge, signals=signal, escalate_to=escalate_to, **options
    )
    mode_options = {**cond.options["mode_options"], "record_both": True}
    fuse_options = {k: v for k, v in cond.options.items() if k != "mode_options"}
    fuse_options.setdefault("progress", False)
    sem = asyncio.Semaphore(concurrency)

    async def one(task: Task) -> Any:
        async with sem:
            try:
                return await afuse(
                    task.prompt,
                    list(pool),
                    judge=judge,
                    mode="cascade",
                    max_tokens=max_tokens,
                    mode_options=mode_options,
                    **fuse_options,
                )
            except FusionkitError as exc:
                return exc

    outcomes = await asyncio.gather(*(one(t) for t in tasks))
    done = [(t, r) for t, r in zip(tasks, outcomes, strict=True) if not isinstance(r, Exception)]
    items, used = items_from_results(
        [r for _, r in done],
        lambda i, text: check_answer(done[i][0], text, check)[1],
        signal=signal,
        unit=unit,
    )
    # An item whose cascade failed outright (edge and pool) is wrong on every path.
    failed = len(tasks) - len(done)
    items += [CalibrationItem(None, False, False, 0.0, 0.0, 0.0, 0.0)] * failed
    return Calibration(signal, tuple(items), used)


calibrate = sync_twin(acalibrate)
