"""The per-call limits of an HTTP model: an overall deadline and a maximum body size.

``read_timeout`` alone does not bound a call: a server that sends one byte every half
second never trips a one-second read timeout. :class:`Limits` bounds every await of a
call — sending, each read of the body — by one deadline (``total_timeout``), and counts
the body's bytes against ``max_response_bytes``, so neither a drip nor a flood can hold
a caller or its memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from ...errors import ModelError, ModelTimeoutError, ResponseFormatError

__all__ = ["Limits"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Limits:
    """The deadline and size limit of one model's calls.

    Attributes:
        name: The model's display name (for messages).
        base_url: The API root without credentials (for messages).
        total_timeout: Seconds a whole call may take.
        max_bytes: Largest response body accepted.
        transport_error: Maps an httpx failure while reading to a fusionkit error.
        read_bound: The longest one read of the body can block (httpx's read timeout).
        send_bound: The longest sending a request and waiting for its headers can block
            (connect + write + read timeouts).
    """

    name: str
    base_url: str
    total_timeout: float
    max_bytes: int
    transport_error: Callable[[httpx.HTTPError, str], ModelError]
    read_bound: float
    send_bound: float

    def deadline(self) -> float:
        """The deadline (``time.monotonic()`` clock) of a call starting now."""
        return time.monotonic() + self.total_timeout

    async def within(self, deadline: float, awaitable: Awaitable[T], bound: float) -> T:
        """Await ``awaitable``; at the deadline, stop it and raise ModelTimeoutError.

        ``bound`` is the longest httpx lets ``awaitable`` block by its own timeouts. Far
        from the deadline it is awaited as it is: ``asyncio.wait_for`` costs a task and
        a loop turn per await, which adds up over thousands of stream chunks.
        """
        remaining = deadline - time.monotonic()
        if remaining > bound:
            return await awaitable
        if remaining > 0:
            try:
                return await asyncio.wait_for(awaitable, remaining)
            except asyncio.TimeoutError:
                pass
        elif asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise ModelTimeoutError(
            f"{self.name}: the call took longer than total_timeout={self.total_timeout:g} s "
            "(retries and streaming included) and was stopped. Raise total_timeout= for "
            "long answers, or retry later.",
            model=self.name,
        )

    async def chunks(self, response: httpx.Response, deadline: float) -> AsyncIterator[bytes]:
        """The body's bytes: each read bounded by the deadline, all by the size limit."""
        stream = response.aiter_bytes().__aiter__()
        total = 0
        while True:
            try:
                chunk = await self.within(deadline, stream.__anext__(), self.read_bound)
            except StopAsyncIteration:
                return
            total += len(chunk)
            if total > self.max_bytes:
                raise ResponseFormatError(
                    f"{self.name}: the response from {self.base_url} is larger than "
                    f"max_response_bytes={self.max_bytes:,} bytes and was cut off. If the "
                    "server really sends that much, raise it: "
                    "OpenAICompatModel(..., max_response_bytes=...).",
                    model=self.name,
                )
            yield chunk

    async def read_all(
        self, response: httpx.Response, deadline: float
    ) -> tuple[bytes, ModelError | None]:
        """The whole body (then closed), or the transport failure that cut it (retryable).

        Raises:
            ModelTimeoutError: The deadline passed.
            ResponseFormatError: The body is over the size limit.
        """
        failure: ModelError | None = None
        parts: list[bytes] = []
        try:
            async for chunk in self.chunks(response, deadline):
                parts.append(chunk)
        except httpx.HTTPError as exc:
            failure = self.transport_error(exc, "reading the response")
        finally:
            await response.aclose()
        return b"".join(parts), failure

    async def read_body(self, response: httpx.Response, deadline: float) -> bytes:
        """The whole body; a transport failure is raised."""
        raw, failure = await self.read_all(response, deadline)
        if failure is not None:
            raise failure
        return raw
