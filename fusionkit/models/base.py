"""The Model base class: one small abstraction every backend implements.

A backend implements ``_acomplete(request) -> Completion`` (and optionally
``_astream(request)`` yielding text chunks then the final Completion). The base class
does everything else once, for all backends: input validation, the response cache,
a concurrency limit per model, and the sync twins (``complete``, ``stream``) that work
inside Jupyter's running loop.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import queue
import threading
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, ClassVar

from .._sync import background_loop, sync_twin
from ..cache import ResponseCache, default_cache
from ..errors import ResponseFormatError, StructuredOutputError
from ..schema import SchemaLike
from ..types import Completion, MessagesLike, Request, build_request, clean_text

__all__ = ["AsyncTextStream", "Model", "TextStream"]


class Model(abc.ABC):
    """Base class of every model.

    Args:
        name: Display name (shown in tables; never contains a secret).
        max_concurrency: At most this many requests to this model run at once
            (None: unlimited).
        cache: True/None to use the default response cache, False to bypass it, or a
            :class:`~fusionkit.cache.ResponseCache` to use a specific one.
    """

    kind: ClassVar[str] = "model"
    #: Whether this backend's answers may be cached by default.
    cacheable: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        *,
        max_concurrency: int | None = None,
        cache: bool | ResponseCache | None = None,
    ) -> None:
        self.name = name
        self.max_concurrency = max_concurrency
        self._cache_setting = cache
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()

    # -- identity and display -------------------------------------------------------------

    @property
    def identity(self) -> str:
        """What makes two instances answer the same (the cache key's model part).

        Never contains a secret. Backends extend it (base URL, quantization, ...).
        """
        return f"{self.kind}:{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # -- the public async API ----------------------------------------------------------------

    async def acomplete(
        self,
        messages: MessagesLike,
        *,
        system: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        schema: SchemaLike | None = None,
        logprobs: bool = False,
        cache: bool | None = None,
    ) -> Completion:
        """Complete a prompt or a chat.

        Args:
            messages: A prompt string, or a list of ``{"role", "content"}`` dicts/Messages.
            system: Optional system prompt.
            max_tokens: Upper bound on generated tokens (> 0).
            temperature: 0 for greedy decoding (deterministic, cacheable).
            top_p: Nucleus sampling bound, or None for the backend default.
            seed: Sampling seed; a seeded request is cacheable.
            stop: A stop string or a list of them.
            schema: A JSON Schema dict (or a pydantic model class) the answer must satisfy.
                Local models decode under a grammar built from it, HTTP models send it as
                ``response_format``; either way the answer is validated and the decoded
                object is ``Completion.parsed``.
            logprobs: Ask for each generated token's log-probability
                (``Completion.logprobs``; None where the backend cannot report them).
            cache: Override the model's cache setting for this call.

        Returns:
            The Completion, with usage, latency and cost.

        Raises:
            InvalidRequestError: Bad input, before any model is called.
            StructuredOutputError: With ``schema``, the reply does not satisfy it (the
                message quotes the reply).
            ModelError: The backend failed (a typed subclass says how).
        """
        request = build_request(
            messages,
            system=system,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
            schema=schema,
            logprobs=logprobs,
        )
        return await self.arun(request, cache=cache)

    async def arun(self, request: Request, *, cache: bool | None = None) -> Completion:
        """Complete an already validated :class:`Request` (used by the fusion engine)."""
        store = self._cache_for(request, cache)
        if store is not None:
            hit = store.get(self.identity, request)
            if hit is not None:
                return hit
        async with self._semaphore():
            completion = await self._acomplete(request)
        completion = self._finish(request, completion)
        if store is not None:
            store.put(self.identity, request, completion)
        return completion

    def _finish(self, request: Request, completion: Completion) -> Completion:
        """The model boundary: clean the text, then validate a schema'd answer."""
        text = clean_text(completion.text)
        if text is not completion.text:
            completion = dataclasses.replace(completion, text=text)
        if request.schema is None:
            return completion
        try:
            if completion.parsed is not None:
                parsed = request.schema.validate(completion.parsed, reply=completion.text)
            else:
                parsed = request.schema.parse(completion.text)
        except StructuredOutputError as exc:
            exc.model = self.name
            exc.completion = completion  # the reply was paid for: keep its accounting
            raise
        return dataclasses.replace(completion, parsed=parsed)

    def astream(
        self,
        messages: MessagesLike,
        *,
        system: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        schema: SchemaLike | None = None,
        logprobs: bool = False,
        cache: bool | None = None,
    ) -> AsyncTextStream:
        """Stream an answer: ``async for chunk in model.astream(...)`` yields text chunks.

        After the loop, ``stream.completion`` holds the final :class:`Completion` (usage,
        latency, cost). A cached answer arrives as one chunk. Arguments are as for
        :meth:`acomplete`; they are validated here, before anything runs.

        Raises:
            InvalidRequestError: Bad input (at once, not at the first chunk).
        """
        request = build_request(
            messages,
            system=system,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
            schema=schema,
            logprobs=logprobs,
        )
        return AsyncTextStream(self, request, cache)

    async def _stream_request(
        self, request: Request, cache: bool | None, out: AsyncTextStream
    ) -> AsyncIterator[str]:
        store = self._cache_for(request, cache)
        if store is not None:
            hit = store.get(self.identity, request)
            if hit is not None:
                out.completion = hit
                yield hit.text
                return
        final: Completion | None = None
        pending = ""  # a high surrogate waiting for its pair in the next chunk
        async with self._semaphore():
            async for item in self._astream(request):
                if isinstance(item, Completion):
                    final = item
                    continue
                text = pending + item
                pending = ""
                if text and "\ud800" <= text[-1] <= "\udbff":
                    text, pending = text[:-1], text[-1]
                text = clean_text(text)
                if text:
                    yield text
        if pending:
            yield clean_text(pending)
        if final is None:
            raise ResponseFormatError(
                f"{self.name}: the stream ended without a final answer (the backend sent no "
                "completion record). Retry, or use complete() instead.",
                model=self.name,
            )
        final = self._finish(request, final)
        if store is not None:
            store.put(self.identity, request, final)
        out.completion = final

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP clients, worker threads). Safe to call twice."""

    async def __aenter__(self) -> Model:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the sync twins ---------------------------------------------------------------------

    complete = sync_twin(acomplete)

    def stream(
        self,
        messages: MessagesLike,
        *,
        system: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        schema: SchemaLike | None = None,
        logprobs: bool = False,
        cache: bool | None = None,
    ) -> TextStream:
        """Sync twin of :meth:`astream`: ``for chunk in model.stream(...)`` yields text.

        After the loop, ``stream.completion`` holds the final :class:`Completion`. Works
        inside Jupyter's running loop. Arguments are as for :meth:`acomplete`.

        Example:
            >>> s = FakeModel(replies="hello there").stream("hi")
            >>> "".join(s), s.completion.finish_reason
            ('hello there', 'stop')
        """
        return TextStream(
            self.astream(
                messages,
                system=system,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed,
                stop=stop,
                schema=schema,
                logprobs=logprobs,
                cache=cache,
            )
        )

    close = sync_twin(aclose)

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- for backends -----------------------------------------------------------------------

    @abc.abstractmethod
    async def _acomplete(self, request: Request) -> Completion:
        """Run one validated request. Backends implement this."""

    async def _astream(self, request: Request) -> AsyncIterator[str | Completion]:
        """Stream one request; the default yields the whole answer as one chunk."""
        completion = await self._acomplete(request)
        yield completion.text
        yield completion

    # -- internals --------------------------------------------------------------------------

    def _cache_for(self, request: Request, override: bool | None) -> ResponseCache | None:
        if not request.deterministic:
            return None
        setting = self._cache_setting if override is None else override
        if isinstance(setting, ResponseCache):
            return setting
        if setting is False or (setting is None and not self.cacheable):
            return None
        return default_cache()

    def _semaphore(self) -> asyncio.Semaphore | _NullContext:
        if not self.max_concurrency:
            return _NULL
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = asyncio.Semaphore(self.max_concurrency)
            self._semaphores[loop] = sem
        return sem


class _NullContext:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NULL = _NullContext()


class AsyncTextStream:
    """An answer arriving chunk by chunk: ``async for chunk in stream`` yields text.

    Attributes:
        completion: The final :class:`Completion`, set when the stream has ended (None
            before, or when it was abandoned).
    """

    def __init__(self, model: Model, request: Request, cache: bool | None) -> None:
        self.model = model
        self.request = request
        self.completion: Completion | None = None
        self._cache = cache
        self._used = False

    def __repr__(self) -> str:
        state = "done" if self.completion is not None else "pending"
        return f"<AsyncTextStream from {self.model.name!r}, {state}>"

    def __aiter__(self) -> AsyncIterator[str]:
        if self._used:
            raise RuntimeError("this stream was already consumed; call astream() again.")
        self._used = True
        return self.model._stream_request(self.request, self._cache, self)


class TextStream:
    """The sync view of an :class:`AsyncTextStream`: ``for chunk in stream`` yields text.

    Iteration runs the stream on fusionkit's background loop (safe inside Jupyter).

    Attributes:
        completion: The final :class:`Completion`, set when iteration has ended.
    """

    def __init__(self, inner: AsyncTextStream) -> None:
        self._inner = inner

    @property
    def completion(self) -> Completion | None:
        return self._inner.completion

    def __repr__(self) -> str:
        state = "done" if self.completion is not None else "pending"
        return f"<TextStream from {self._inner.model.name!r}, {state}>"

    def __iter__(self) -> Iterator[str]:
        q: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop_flag = threading.Event()
        inner = self._inner

        async def pump() -> None:
            try:
                async for item in inner:
                    q.put(("item", item))
                    if stop_flag.is_set():
                        break
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                q.put(("error", exc))
            finally:
                q.put(("done", None))

        future = asyncio.run_coroutine_threadsafe(pump(), background_loop())
        try:
            while True:
                kind, value = q.get()
                if kind == "item":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop_flag.set()
            if not future.done():
                future.cancel()
