"""The state of one fusion in flight (private to the fusion package).

Split in two so that what was decided and what happens are not mixed up:

- :class:`Plan` (frozen): the validated arguments — prompt, mode, members with their
  labels and requests, judge, limits — made once by :func:`~.prepare.plan_for`.
- :class:`Recorder` (mutable): the clock, the event log and the judge calls, written as
  the fusion runs.

:class:`Run` pairs them; every stage and mode takes a Run.
"""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..models.base import Model
from ..types import Request
from .events import FusionEvent
from .records import JudgeCall
from .vote import Extractor

if TYPE_CHECKING:  # pragma: no cover
    from .modes.base import Mode

__all__ = ["EventCallback", "Member", "Plan", "Recorder", "Run"]

EventCallback = Callable[[FusionEvent], "None | Awaitable[None]"]


@dataclass(frozen=True, slots=True)
class Member:
    """One pool member: its position, anonymous label, model, request and timeout."""

    index: int
    label: str
    model: Model
    request: Request
    timeout: float | None


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything decided before the first model call (see :func:`~.prepare.plan_for`)."""

    prompt: str
    mode: Mode
    members: tuple[Member, ...]
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
    choices: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Recorder:
    """The clock, the event log and the judge calls of one fusion in flight."""

    on_event: EventCallback | None = None
    t0: float = field(default_factory=time.perf_counter)
    events: list[FusionEvent] = field(default_factory=list)
    judge_calls: list[JudgeCall] = field(default_factory=list)
    callback_failed: bool = False

    def now(self) -> float:
        """Seconds since the fusion started."""
        return time.perf_counter() - self.t0

    async def emit(self, kind: str, **fields: Any) -> None:
        """Log an event and pass it to ``on_event`` (a failing callback never stops a fusion)."""
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


@dataclass(frozen=True, slots=True)
class Run:
    """A plan and its recorder: what every stage receives."""

    plan: Plan
    rec: Recorder
