"""fuse_many: many fusions with bounded concurrency, a progress bar and a DataFrame out.

Every input row is accounted for: a fusion that fails (every member failed, an empty
prompt in one row, ...) becomes a row with ``error`` and ``error_type`` set, never a
missing row or a crash of the batch.

Resuming: with ``seed=None`` each fusion's seed is derived from its prompt and every call
is deterministic (greedy, or sampled with a fixed seed), so every answer lands in the
response cache. Re-running the same batch after an interruption replays finished calls
from the cache at no cost and carries on with the rest (``n_cached`` counts the pool
answers served from the cache).

Progress (:mod:`.progress`): each prompt as it finishes, with a running count of member
and judge calls — a line updated in place in a notebook, plain lines on stderr in a terminal.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._sync import sync_twin
from ..errors import InvalidRequestError, describe_error
from .engine import PoolItem, afuse, chain, check_on_event, run_plan
from .events import FusionEvent
from .modes import DEFAULT_MODE
from .prepare import plan_for, prepare_setup
from .progress import Progress, ProgressLike, check_progress, watching
from .result import FusionResult

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["RESULT_COLUMNS", "afuse_many", "fuse_many"]

#: The columns fuse_many adds, in order (suffixed ``_fused`` where the input has one).
RESULT_COLUMNS = (
    "answer",
    "extracted",
    "winner",
    "winner_model",
    "method",
    "fallback",
    "n_ok",
    "n_failed",
    "n_cached",
    "cost_usd",
    "cost_known_usd",
    "total_s",
    "pool_wall_s",
    "judge_s",
    "overhead_ratio",
    "error",
    "error_type",
    "result",
)


def _inputs(prompts: Any, prompt_column: str) -> tuple[pd.DataFrame, list[Any]]:
    import pandas as pd

    if isinstance(prompts, pd.DataFrame):
        if prompt_column not in prompts.columns:
            raise InvalidRequestError(
                f"the DataFrame has no {prompt_column!r} column (columns: "
                f"{', '.join(map(str, prompts.columns))}); pass prompt_column=..."
            )
        frame = prompts.copy()
    elif isinstance(prompts, str):
        raise InvalidRequestError("fuse_many takes a list of prompts; for one prompt use fuse().")
    elif isinstance(prompts, pd.Series):
        frame = pd.DataFrame({prompt_column: prompts})
    elif isinstance(prompts, Sequence) or hasattr(prompts, "__iter__"):
        items = list(prompts)
        if items and all(dataclasses.is_dataclass(x) and hasattr(x, "prompt") for x in items):
            frame = pd.DataFrame([dataclasses.asdict(x) for x in items])  # e.g. fk.Task
            prompt_column = "prompt"
        else:
            frame = pd.DataFrame({prompt_column: items})
    else:
        raise InvalidRequestError(
            f"prompts must be a list of strings or a DataFrame, not {type(prompts).__name__}."
        )
    if len(frame) == 0:
        raise InvalidRequestError("no prompts given: pass at least one.")
    return frame, list(frame[prompt_column])


def _row(result: FusionResult | None, exc: BaseException | None) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(RESULT_COLUMNS)
    if result is not None:
        row.update(result.to_dict())
        row["n_cached"] = sum(c.cached for c in result.candidates)
        row["result"] = result
    if exc is not None:
        row["error"] = describe_error(exc)
        row["error_type"] = type(exc).__name__
    return row


async def afuse_many(
    prompts: Any,
    pool: Sequence[PoolItem],
    judge: PoolItem | None = None,
    mode: str = DEFAULT_MODE,
    *,
    concurrency: int = 8,
    prompt_column: str = "prompt",
    progress: ProgressLike = True,
    **fuse_kwargs: Any,
) -> pd.DataFrame:
    """Run many fusions, at most ``concurrency`` at a time, and tabulate them.

    Args:
        prompts: A list of prompt strings, a pandas Series, a DataFrame (its other columns
            are kept, e.g. the expected answer), or a list of :class:`fusionkit.Task`.
        pool: As for :func:`~fusionkit.fusion.engine.afuse`; specs are resolved once.
        judge: As for ``afuse``.
        mode: As for ``afuse``.
        concurrency: Fusions in flight at once (each runs its whole pool in parallel).
        prompt_column: The DataFrame column holding the prompts.
        progress: Show each prompt as it finishes, with a running count of member and
            judge calls (a bar in a notebook, lines on stderr in a terminal); False
            silences; a function ``progress(label, done, total)`` receives the steps.
        **fuse_kwargs: Any other ``afuse`` argument (``max_tokens``, ``timeout``, ...).

    Returns:
        The input rows with :data:`RESULT_COLUMNS` added; ``result`` holds each
        :class:`~fusionkit.fusion.result.FusionResult` (None where the fusion failed).

    Raises:
        InvalidRequestError: Bad arguments shared by every fusion (empty pool, unknown
            mode, missing judge, ``concurrency < 1``, an ``on_event`` that is not a
            function), before any model is called.
    """
    import pandas as pd

    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidRequestError(f"concurrency must be an integer >= 1, got {concurrency!r}.")
    frame, texts = _inputs(prompts, prompt_column)
    # Validate and resolve what every fusion shares once; per-prompt errors become rows.
    kwargs = _with_defaults(fuse_kwargs)
    on_event = kwargs.pop("on_event")
    check_on_event(on_event)  # as afuse does, before any call (not a warning per prompt)
    kwargs.pop("progress")  # fuse_many's own bar replaces each fusion's
    show = check_progress(progress, "fuse_many")
    setup = prepare_setup(pool, judge, mode, **kwargs)

    semaphore = asyncio.Semaphore(concurrency)
    if show is None:
        show = watching()
    bar = Progress(show, len(texts), f"fuse_many {setup.mode.name}")
    calls = _CallCount(bar)
    observe = chain(calls, on_event)

    async def one(i: int, text: Any) -> tuple[FusionResult | None, BaseException | None]:
        async with semaphore:
            try:
                result = await run_plan(plan_for(text, setup), observe)
            except Exception as exc:  # noqa: BLE001 - every row is accounted for
                bar.step(f"prompt {i + 1}: {describe_error(exc)}")
                return None, exc
            took = result.timings.total_s
            bar.step(f"prompt {i + 1}: done {took:.1f} s{calls.summary()}")
            return result, None

    try:
        outcomes = await asyncio.gather(*(one(i, t) for i, t in enumerate(texts)))
    finally:
        bar.close()
    rows = pd.DataFrame([_row(r, e) for r, e in outcomes], index=frame.index)
    rename = {c: f"{c}_fused" for c in rows.columns if c in frame.columns}
    return pd.concat([frame, rows.rename(columns=rename)], axis=1)


class _CallCount:
    """Counts member and judge calls across a batch, shown beside the prompt count."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.members = self.failed = self.judge = 0

    def __call__(self, e: FusionEvent) -> None:
        if e.kind == "member_finish":
            self.members += 1
        elif e.kind == "member_failed":
            self.failed += 1
        elif e.kind in ("judge_finish", "judge_failed"):
            self.judge += 1
        else:
            return
        self.bar.note(self.summary().lstrip(" ·"))

    def summary(self) -> str:
        failed = f" ({self.failed} failed)" if self.failed else ""
        return f" · members {self.members}{failed} · judge {self.judge}"


def _with_defaults(kwargs: dict[str, Any]) -> dict[str, Any]:
    """afuse's keyword-only defaults (read from its signature) updated with ``kwargs``."""
    out: dict[str, Any] = {
        name: p.default
        for name, p in inspect.signature(afuse).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    unknown = set(kwargs) - set(out)
    if unknown:
        raise InvalidRequestError(
            f"unknown argument(s) for fuse_many: {', '.join(sorted(unknown))}; it takes "
            f"afuse's arguments ({', '.join(out)})."
        )
    out.update(kwargs)
    return out


fuse_many = sync_twin(afuse_many)
