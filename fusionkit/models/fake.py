"""FakeModel: scripted answers, latencies and errors, with every call recorded.

Public on purpose: tests, docs and teaching notebooks use it to show fusion logic without
a network or a GPU.

Example:
    >>> m = FakeModel("scripted", replies=["Paris", "Lyon"])
    >>> m.complete("Capital of France?").text
    'Paris'

Structured output: a scripted reply may be a dict (or list); it is sent as its JSON text, and
with ``schema=`` the base class validates it exactly as it validates a real model's reply, so
an invalid scripted object raises :class:`~fusionkit.errors.StructuredOutputError`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from ..errors import ConfigurationError
from ..types import Completion, Request, Usage
from .base import Model

__all__ = ["FakeModel", "Reply"]

#: One scripted reply: a text, a JSON object (sent as JSON text), an exception to raise, or a
#: function of the request returning one of those.
Reply = str | Mapping[str, Any] | BaseException | Callable[[Request], Any]


def _echo(request: Request) -> str:
    return request.prompt_text


def _count_tokens(text: str) -> int:
    return len(text.split())


class FakeModel(Model):
    """A model whose answers are scripted.

    Args:
        name: Display name.
        replies: One reply used for every call, a function of the :class:`Request`, or a
            sequence consumed in order (an exception in it is raised for that call).
            None echoes the last user message.
        latency: Seconds each call takes (a float, or a sequence consumed in order,
            the last value repeating).
        price: Optional (USD per million prompt tokens, USD per million completion
            tokens), so demos can show costs; otherwise cost is 0.0.
        repeat: When ``replies`` is a sequence and it runs out, repeat the last reply
            (True) or raise :class:`ConfigurationError` (False, the default).
        logprob: The log-probability reported for every generated token when a request
            asks for ``logprobs`` (a float, or a function of the reply text); None reports
            none, like a backend that cannot.
        max_concurrency: As for :class:`Model`.

    Attributes:
        calls: Every :class:`Request` received, in order.
    """

    kind = "fake"
    cacheable = False

    def __init__(
        self,
        name: str = "fake",
        replies: Reply | Sequence[Reply] | None = None,
        *,
        latency: float | Sequence[float] = 0.0,
        price: tuple[float, float] | None = None,
        repeat: bool = False,
        logprob: float | Callable[[str], float] | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        super().__init__(name, max_concurrency=max_concurrency, cache=False)
        self._script: list[Reply] | None
        self._single: Reply | None
        if replies is None:
            self._script, self._single = None, _echo
        elif isinstance(replies, (str, BaseException, Mapping)) or callable(replies):
            self._script, self._single = None, replies  # type: ignore[assignment]
        else:
            self._script, self._single = list(replies), None
        self._latencies = [latency] if isinstance(latency, (int, float)) else list(latency)
        self.price = price
        self.repeat = repeat
        self.logprob = logprob
        self.calls: list[Request] = []
        self._n = 0

    @property
    def call_count(self) -> int:
        """How many calls were made."""
        return len(self.calls)

    def _next(self, request: Request) -> tuple[Reply, float]:
        i = self._n
        self._n += 1
        lat = self._latencies[min(i, len(self._latencies) - 1)] if self._latencies else 0.0
        if self._script is None:
            assert self._single is not None
            return self._single, float(lat)
        if i >= len(self._script):
            if self.repeat and self._script:
                return self._script[-1], float(lat)
            raise ConfigurationError(
                f"FakeModel {self.name!r} ran out of scripted replies after {len(self._script)} "
                "calls; add more replies or pass repeat=True."
            )
        return self._script[i], float(lat)

    async def _acomplete(self, request: Request) -> Completion:
        self.calls.append(request)
        reply, lat = self._next(request)
        start = time.perf_counter()
        if lat > 0:
            await asyncio.sleep(lat)
        if callable(reply) and not isinstance(reply, BaseException):
            reply = reply(request)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, (Mapping, list)):
            text = json.dumps(reply, ensure_ascii=False)
        else:
            text = str(reply)
        if request.stop:
            for s in request.stop:
                if s in text:
                    text = text[: text.index(s)]
        words = text.split()
        finish = "stop"
        if len(words) > request.max_tokens:
            text = " ".join(words[: request.max_tokens])
            finish = "length"
        usage = Usage(
            prompt_tokens=sum(_count_tokens(m.content) for m in request.messages),
            completion_tokens=_count_tokens(text),
        )
        cost = 0.0
        if self.price is not None:
            cost = (
                usage.prompt_tokens * self.price[0] + usage.completion_tokens * self.price[1]
            ) / 1e6
        latency = time.perf_counter() - start
        logprobs = None
        if request.logprobs and self.logprob is not None:
            per_token = self.logprob(text) if callable(self.logprob) else self.logprob
            logprobs = (float(per_token),) * max(1, len(text.split()))
        return Completion(
            text=text,
            model=self.name,
            usage=usage,
            latency_s=latency,
            ttft_s=latency,
            cost_usd=cost,
            finish_reason=finish,
            logprobs=logprobs,
        )

    async def _astream(self, request: Request) -> AsyncIterator[str | Completion]:
        completion = await self._acomplete(request)
        words = completion.text.split(" ")
        for i, w in enumerate(words):
            yield w if i == 0 else " " + w
        yield completion
