"""What ask() hands back beyond the value: every reply with its call's data, every problem."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fusionkit.asking import Reply, ask
from fusionkit.types import Message


def _reask(msgs: list[Message], reply: Reply, problem: str) -> list[Message]:
    return [*msgs, Message("assistant", reply.text), Message("user", problem)]


def _scripted(replies: list[Reply]) -> Callable[[list[Message], int], Awaitable[Reply]]:
    it = iter(replies)

    async def call(msgs: list[Message], attempt: int) -> Reply:
        return next(it)

    return call


def test_every_reply_comes_back_with_its_data_and_every_problem_in_order() -> None:
    replies = [Reply("nope", data={"s": 1.0}), Reply("no", data={"s": 2.0}), Reply("42", data=3)]
    out = asyncio.run(
        ask(
            _scripted(replies),
            [Message("user", "say 42")],
            lambda r: (int(r.text), None) if r.text.isdigit() else (None, f"bad {r.text!r}"),
            _reask,
            retries=2,
        )
    )
    assert out.value == 42 and out.attempts == 3
    assert out.replies == tuple(replies)
    assert [r.data for r in out.replies] == [{"s": 1.0}, {"s": 2.0}, 3]
    assert out.problems == ("bad 'nope'", "bad 'no'")
    assert out.call_error is None


def test_a_failed_reask_is_named_by_call_error_without_being_errored() -> None:
    replies = [Reply("nope", finish_reason="length", data="a"), Reply(error="ServerError: down")]
    out = asyncio.run(
        ask(_scripted(replies), [Message("user", "x")], lambda r: (None, "bad"), _reask)
    )
    assert out.value is None and out.attempts == 2 and not out.errored
    assert out.call_error == "ServerError: down"
    assert out.raw == "nope" and [r.data for r in out.replies] == ["a", None]
    assert out.problems == ("bad (the reply was cut off at the token limit)",)


def test_a_failed_first_call_is_errored_and_its_reply_is_kept() -> None:
    out = asyncio.run(
        ask(
            _scripted([Reply(error="ModelTimeoutError: slow", data=0.5)]),
            [Message("user", "x")],
            lambda r: (r.text, None),
            _reask,
        )
    )
    assert out.errored and out.call_error == "ModelTimeoutError: slow"
    assert out.replies[0].data == 0.5 and out.problems == ()
