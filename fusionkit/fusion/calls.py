"""The one call-and-record path: every model call the engine makes goes through here.

:func:`timed_call` times a call (pool member, debate turn or judge), emits its
``*_start`` and ``*_finish``/``*_failed`` events, and returns a :class:`CallRecord`; the
stages turn that record into a Candidate, a DebateTurn or a JudgeCall. A failure is
data here (the record carries the exception), never an exception.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..errors import ModelTimeoutError, StructuredOutputError, describe_error
from ..models.base import Model
from ..types import Completion, Request, Usage
from .state import Recorder

__all__ = ["CallRecord", "call_model", "failed_cost", "timed_call"]


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One timed call.

    Attributes:
        completion: The answer, or None when the call failed.
        exc: The exception, when the call failed.
        start_s: When the call began (seconds since the fusion started).
        end_s: When it ended.
        unstructured: With ``schema=``: the model answered, but not in the schema (the
            problem, in words); ``completion.text`` is its reply, ``parsed`` is None.
    """

    completion: Completion | None
    exc: BaseException | None
    start_s: float
    end_s: float
    unstructured: str | None = None

    @property
    def ok(self) -> bool:
        """True when the model answered."""
        return self.completion is not None

    @property
    def error(self) -> str | None:
        """``"Type: message"`` when the call failed."""
        return None if self.exc is None else describe_error(self.exc)

    @property
    def latency_s(self) -> float:
        """The model's own latency, or the engine's wait when the call failed."""
        if self.completion is not None:
            return self.completion.latency_s
        return self.end_s - self.start_s

    @property
    def cost_usd(self) -> float | None:
        """The call's cost; see :func:`failed_cost` for failures."""
        if self.completion is not None:
            return self.completion.cost_usd
        assert self.exc is not None
        return failed_cost(self.exc)


async def call_model(
    model: Model, request: Request, timeout: float | None, cache: bool | None, who: str
) -> Completion:
    """``model.arun`` under a timeout that names whose timeout it was."""
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
    """What a failed call cost: 0, except a timeout (the provider may have kept generating)."""
    return None if isinstance(exc, ModelTimeoutError) else 0.0


async def timed_call(
    rec: Recorder,
    model: Model,
    request: Request,
    *,
    timeout: float | None,
    cache: bool | None,
    stage: str,
    label: str | None = None,
    round: int | None = None,  # noqa: A002 - the event field's name
    detail: str | None = None,
) -> CallRecord:
    """Make one call, emitting its start and finish (or failed) events.

    Args:
        rec: The fusion's recorder.
        model: The model to call.
        request: The request.
        timeout: Seconds the call may take; None waits.
        cache: Response-cache override.
        stage: ``"pool"``, ``"debate"`` (member events) or ``"judge"`` (judge events).
        label: The member's label (member calls).
        round: The debate round.
        detail: The judge step.

    Returns:
        A :class:`CallRecord` (never raises for a model failure).
    """
    prefix = "judge" if stage == "judge" else "member"
    who = "the judge's" if prefix == "judge" else "the member's"
    where = {"stage": stage, "label": label, "model": model.name, "round": round, "detail": detail}
    start = rec.now()
    await rec.emit(f"{prefix}_start", **where)
    try:
        c = await call_model(model, request, timeout, cache, who)
    except StructuredOutputError as exc:
        # The model answered, only not in the schema: an answer to read leniently, not a
        # failure. Usage and cost are lost with the completion (unknown, not 0).
        end = rec.now()
        got = getattr(exc, "completion", None)
        c = got or Completion(exc.reply, model.name, Usage.unknown(), latency_s=end - start)
        record = CallRecord(c, None, start, end, unstructured=exc.problem or str(exc))
        await rec.emit(f"{prefix}_finish", **where, latency_s=c.latency_s)
        return record
    except Exception as exc:  # noqa: BLE001 - partial failure is data, not a crash
        end = rec.now()
        record = CallRecord(None, exc, start, end)
        await rec.emit(f"{prefix}_failed", **where, latency_s=record.latency_s, error=record.error)
        return record
    end = rec.now()
    record = CallRecord(c, None, start, end)
    await rec.emit(f"{prefix}_finish", **where, latency_s=c.latency_s)
    return record
