"""Ask a model, validate the reply, re-ask once: the one loop shared by the judge and the panel.

A small model often answers in almost the requested format. The caller supplies how to
call the model (``call``), how to read a reply (``parse``: the value, or what was wrong)
and how to word the re-ask (``reask``); this module owns the loop and the bookkeeping:
how many attempts were made, which reply was read, and one sentence naming the problem
when nothing could be read. A failed call is never re-asked (the model is down or timed
out: asking again in the same breath rarely helps and doubles the wait).

Every reply seen comes back in :attr:`Asked.replies`, each with the ``data`` its call
attached (the panel's wall time, cost and lenient-read note per attempt), and the problem
of each unreadable one in :attr:`Asked.problems`: a caller that sums what its attempts
spent, or words its own failure, reads them there rather than keeping a loop of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .types import Message

__all__ = ["Asked", "Reply", "ask", "follow_up", "reask_messages"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reply:
    """What one call returned.

    Attributes:
        text: The reply text (``""`` when the call failed).
        error: ``"Type: message"`` when the call failed, else None.
        parsed: The backend's decoded structured answer, when it gave one.
        finish_reason: ``"stop"``, ``"length"``, ... as the backend reported.
        data: Whatever the caller's ``call`` attaches to this attempt (its wall time,
            cost, ...); :func:`ask` passes it through untouched.
    """

    text: str = ""
    error: str | None = None
    parsed: Any = None
    finish_reason: str | None = None
    data: Any = None

    @property
    def ok(self) -> bool:
        """True when the call returned a reply (readable or not)."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class Asked(Generic[T]):
    """The outcome of :func:`ask`.

    Attributes:
        value: The parsed value, or None when no reply could be read.
        raw: The reply the value was read from (or the last reply seen).
        attempts: Calls made (1 + re-asks).
        problem: Why no value could be read (None when one was).
        errored: True when the first call itself failed (no reply at all).
        replies: Every reply of every attempt, in order, a failed call's included.
        problems: What was wrong with each unreadable reply, in order (as ``parse``
            worded it, plus the cut-off note).
    """

    value: T | None
    raw: str
    attempts: int
    problem: str | None = None
    errored: bool = False
    replies: tuple[Reply, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def call_error(self) -> str | None:
        """The error of the last call when it failed (the first or a re-ask), else None."""
        return self.replies[-1].error if self.replies else None


Call = Callable[[list[Message], int], Awaitable[Reply]]
Parse = Callable[[Reply], "tuple[T | None, str | None]"]
Reask = Callable[[list[Message], Reply, str], list[Message]]


def reask_messages(
    messages: Sequence[Message], reply: str, problem: str, shape: str
) -> list[Message]:
    """The usual re-ask: the conversation so far, the bad reply, and a short reminder.

    Args:
        messages: The messages of the first attempt.
        reply: The unreadable reply.
        problem: What was wrong with it.
        shape: The exact shape expected.
    """
    reminder = (
        f"Your reply could not be read: {problem}. Reply again with only the requested "
        f"output, exactly in this shape, with no other text:\n{shape}"
    )
    return follow_up(messages, reply, reminder)


def follow_up(messages: Sequence[Message], reply: str, reminder: str) -> list[Message]:
    """The next attempt's conversation: the messages so far, the reply, and a reminder.

    Args:
        messages: The messages of the attempt that was answered.
        reply: Its reply (an empty one is shown as ``(empty)``).
        reminder: The user's follow-up, worded by the caller.
    """
    return [*messages, Message("assistant", reply or "(empty)"), Message("user", reminder)]


async def ask(
    call: Call,
    messages: list[Message],
    parse: Parse[T],
    reask: Reask,
    *,
    retries: int = 1,
    who: str = "the model",
    on_retry: Callable[[str], Awaitable[None]] | None = None,
) -> Asked[T]:
    """Call, parse, and re-ask up to ``retries`` times while the reply is unreadable.

    Args:
        call: ``call(messages, attempt)`` makes one call (``attempt`` is 1-based) and
            returns a :class:`Reply`; it must not raise for a model failure.
        messages: The first attempt's messages.
        parse: ``parse(reply) -> (value, None)`` or ``(None, what was wrong)``.
        reask: ``reask(messages, reply, problem)`` -> the next attempt's messages.
        retries: Re-asks allowed after an unreadable reply (0 or more).
        who: Names the caller in problem sentences (``"the judge"``).
        on_retry: Awaited with the problem before each re-ask (for progress events).

    Returns:
        An :class:`Asked`.
    """
    problems: list[str] = []
    replies: list[Reply] = []

    def asked(
        value: T | None, raw: str, attempts: int, problem: str | None = None, errored: bool = False
    ) -> Asked[T]:
        return Asked(value, raw, attempts, problem, errored, tuple(replies), tuple(problems))

    raw = ""
    for attempt in range(1, retries + 2):
        reply = await call(messages, attempt)
        replies.append(reply)
        if not reply.ok:
            if attempt == 1:
                return asked(None, "", 1, f"{who} failed: {reply.error}", errored=True)
            first = problems[0] if len(problems) == 1 else "; ".join(problems)
            return asked(
                None,
                raw,
                attempt,
                f"unreadable reply ({first}), and the re-ask failed: {reply.error}",
            )
        raw = reply.text
        value, problem = parse(reply)
        if value is not None:
            return asked(value, raw, attempt)
        problem = problem or "unreadable"
        if reply.finish_reason == "length":
            problem = f"{problem} (the reply was cut off at the token limit)"
        problems.append(problem)
        if attempt <= retries:
            if on_retry is not None:
                await on_retry(problem)
            messages = reask(messages, reply, problem)
    if len(problems) == 1:
        return asked(None, raw, 1, f"unreadable: {problems[0]}")
    return asked(
        None,
        raw,
        len(problems),
        f"unreadable twice: {problems[0]}; then {'; '.join(problems[1:])}",
    )
