"""The state of one fusion in flight, shared by the stages (private to the fusion package).

:class:`Run` carries the validated arguments, the clock, the event log and the judge calls;
:func:`call_model` is the one place a model is called, under a per-call timeout.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelTimeoutError
from ..models.base import Model
from ..types import Completion, Request
from .events import FusionEvent
from .result import Candidate, JudgeCall
from .vote import Extractor

__all__ = ["EventCallback", "Member", "Run", "by_label", "call_model", "describe", "failed_cost"]

EventCallback = Callable[[FusionEvent], "None | Awaitable[None]"]


@dataclass(frozen=True, slots=True)
class Member:
    index: int
    label: str
    model: Model
    request: Request
    timeout: float | None


@dataclass(slots=True)
class Run:
    """The state of one fusion in flight (private; the result is what users see)."""

    prompt: str
    mode: str
    members: list[Member]
    judge: Model | None
    judge_in_pool: bool
    seed: int
    rounds: int
    system: str | None
    judge_max_tokens: int
    judge_timeout: float | None
    swap_check: bool
    extract: str | Extractor
    cache: bool | None
    on_event: EventCallback | None
    t0: float = 0.0
    choices: dict[str, str] = field(default_factory=dict)
    events: list[FusionEvent] = field(default_factory=list)
    judge_calls: list[JudgeCall] = field(default_factory=list)
    callback_failed: bool = False

    def now(self) -> float:
        return time.perf_counter() - self.t0

    async def emit(self, kind: str, **fields: Any) -> None:
        event = FusionEvent(kind=kind, time_s=self.now(), **fields)
        self.events.append(event)
        if self.on_event is None:
            return
        try:
            out = self.on_event(event)
            if inspect.isawaitable(out):
                await out
        except Exception as exc:  # noqa: BLE001 - a display bug must not lose a paid fusion
            if not self.callback_failed:
                self.callback_failed = True
                warnings.warn(
                    f"on_event callback raised {type(exc).__name__}: {exc}; the fusion "
                    "continues (further callback errors in this fusion are not reported).",
                    RuntimeWarning,
                    stacklevel=2,
                )


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def call_model(
    model: Model, request: Request, timeout: float | None, cache: bool | None, who: str
) -> Completion:
    if timeout is None:
        return await model.arun(request, cache=cache)
    try:
        return await asyncio.wait_for(model.arun(request, cache=cache), timeout)
    except asyncio.TimeoutError:
        raise ModelTimeoutError(
            f"{model.name}: no answer within {timeout:g} s ({who} timeout); raise the "
            "timeout or drop this model.",
            model=model.name,
        ) from None


def failed_cost(exc: BaseException) -> float | None:
    # Providers don't bill failed requests, but a timed-out one may have kept generating.
    return None if isinstance(exc, ModelTimeoutError) else 0.0


def by_label(cands: list[Candidate]) -> list[Candidate]:
    """Candidates in label order (A, B, ..., Z, AA, ...): the order the judge sees."""
    return sorted(cands, key=lambda c: (len(c.label), c.label))
