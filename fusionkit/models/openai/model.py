"""OpenAICompatModel: chat completions over httpx (OpenRouter, OpenAI, Ollama, vLLM, llama.cpp).

One class speaks ``POST {base_url}/chat/completions``; the rows of
:data:`~fusionkit.models.openai.presets.PRESETS` fill in base URL, key variable, headers
and advice for the known providers.

Behaviour worth knowing:

* **Retries.** 408, 409, 429 and 5xx answers, timeouts and connection failures are retried
  ``max_retries`` times (default 2) with capped exponential backoff (0.5 s × 2ⁿ, at most
  8 s, minus up to 25 % jitter). ``Retry-After`` / ``retry-after-ms`` is honoured exactly;
  one longer than ``MAX_RETRY_AFTER_S`` is raised at once with ``retry_after`` set. A
  streamed call is retried only until the server accepts it (status 200).
* **Deadlines and limits.** ``connect_timeout`` and ``read_timeout`` bound each step;
  ``total_timeout`` (default 600 s) bounds the whole call — retries, backoff and a stream
  that trickles bytes just fast enough to beat ``read_timeout`` — and raises
  :class:`ModelTimeoutError` naming it. A body over ``max_response_bytes`` (default 8 MiB)
  raises :class:`ResponseFormatError` naming the limit and the argument that raises it.
* **Errors.** Statuses map through :func:`fusionkit.errors.error_for_status` quoting the
  provider; 3xx (redirects are not followed: the message names the ``Location``), 408
  and 409 get their own messages. A 200 that is not a chat completion, or a stream that
  ends without ``[DONE]`` or a finish reason, is a :class:`ResponseFormatError`: never a
  silent partial answer, and nothing is cached.
* **Usage and cost.** Counts that are missing, negative or not integers are unknown
  (None); a stream without a usage event has unknown usage. Cost: the provider's
  ``usage.cost``, else ``prices=``, else genai-prices (:mod:`.pricing`), else None.
* **Structured output.** ``schema=`` is sent as ``response_format`` and stepped down
  when a server refuses it (:mod:`.structured`).
* **Secrets.** The key is a :class:`~fusionkit._secrets.Secret`, sent only in the
  ``Authorization`` header and scrubbed from every message. ``user:password@`` in
  ``base_url`` is taken out of the URL (httpx logs URLs) and sent as HTTP Basic auth.
* **Event loops.** One ``httpx.AsyncClient`` per event loop, created in a worker thread
  (loading the SSL context takes ~0.25 s, which would freeze a notebook's loop). Clients
  still open at interpreter exit are closed then (the sync API never needs ``close()``).

Longer than 400 lines because it is one idea, the model class and its call loop: what can
be read apart already is (the wire format, retry timing, limits, presets, prices,
``response_format`` levels, per-loop clients and argument checks each have a module).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from ..._secrets import Secret, redact
from ...cache import ResponseCache
from ...errors import (
    APIStatusError,
    ConfigurationError,
    InvalidRequestError,
    ModelError,
    StructuredOutputError,
)
from ...types import Completion, Request
from ..base import Model
from .args import check_int, check_seconds, check_str_mapping, missing_key_message, split_base_url
from .clients import ClientPool
from .limits import Limits
from .presets import URL_PRESET, Preset
from .pricing import PriceLike, Pricer, PriceTable, price_table
from .retry import MAX_RETRY_AFTER_S, RETRY_STATUSES, backoff_delay, parse_retry_after
from .structured import LEVELS, reask, rejects_format, response_format, with_schema_prompt
from .wire import Wire, build_body

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "OpenAICompatModel"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Largest response body read by default (8 MiB).
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class OpenAICompatModel(Model):
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: The model id the server knows (``"openai/gpt-4o-mini"``, ``"llama3.2"``).
        base_url: The API root, ending in ``/v1`` for most servers.
        api_key: The key itself; prefer ``api_key_env``.
        api_key_env: Environment variable holding the key. If named and unset (and no
            ``api_key`` given), construction raises :class:`ConfigurationError`.
        name: Display name (default: ``model``).
        provider: Provider label, part of the cache identity (default: the preset's).
        connect_timeout: Seconds to establish a connection (> 0).
        read_timeout: Seconds to wait for the next bytes, first byte included (> 0).
        total_timeout: Seconds the whole call may take, retries and streaming included.
        max_retries: Retries after the first attempt (0 disables them).
        max_concurrency: At most this many requests in flight (per loop); None: no limit.
        max_response_bytes: Largest response body accepted.
        prices: Your own prices, consulted before genai-prices: a :class:`PriceTable`, a
            mapping model id → ``(input, output)`` USD per million tokens, or one pair.
        headers: Extra HTTP headers sent with every request.
        cache: As for :class:`~fusionkit.models.base.Model`.
        transport: An ``httpx.AsyncBaseTransport`` (e.g. ``httpx.MockTransport``) for tests.
        extra_body: Extra top-level JSON fields sent with every request.
        max_tokens_field: The body field for the token limit (default: the preset's).
        sleep: The async sleep used between retries (tests inject a fast one).
        preset: The provider row (:data:`~fusionkit.models.openai.presets.PRESETS`);
            presets pass it, a plain URL needs none.

    Raises:
        InvalidRequestError: A bad argument; the message names it and what it accepts.
        ConfigurationError: A required API key is not set (the message names the variable).
    """

    kind = "openai-compatible"

    @classmethod
    def from_preset(cls, preset: Preset, model: str, **kwargs: Any) -> OpenAICompatModel:
        """A model for ``model`` on the server kind ``preset`` describes.

        Args:
            preset: A row of :data:`~fusionkit.models.openai.presets.PRESETS` (or
                ``URL_PRESET`` for a plain URL).
            model: The model id the server knows.
            **kwargs: As for the constructor (``base_url=`` overrides the preset's;
                ``headers=`` and ``extra_body=`` are merged over its own).

        Returns:
            The model.

        Raises:
            ConfigurationError: The preset needs a key and none is set.
            InvalidRequestError: A bad argument (it is named).
        """
        base_url = preset.resolve_base_url(kwargs.pop("base_url", None))
        return cls(model, base_url=base_url, preset=preset, **kwargs)

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        api_key_env: str | None = None,
        name: str | None = None,
        provider: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        total_timeout: float = 600.0,
        max_retries: int = 2,
        max_concurrency: int | None = 8,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        prices: PriceTable | Mapping[str, PriceLike] | PriceLike | None = None,
        headers: Mapping[str, str] | None = None,
        cache: bool | ResponseCache | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        extra_body: Mapping[str, Any] | None = None,
        max_tokens_field: str | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        preset: Preset | None = None,
    ) -> None:
        p = preset or URL_PRESET
        if not isinstance(model, str) or not model.strip():
            raise InvalidRequestError(f"model must be a non-empty model id, got {model!r}.")
        connect_timeout = check_seconds("connect_timeout", connect_timeout)
        read_timeout = check_seconds("read_timeout", read_timeout)
        total_timeout = check_seconds("total_timeout", total_timeout)
        check_int("max_retries", max_retries, minimum=0)
        check_int("max_response_bytes", max_response_bytes, minimum=1)
        check_int("max_concurrency", max_concurrency, minimum=1, none_ok=True)
        user_headers = check_str_mapping("headers", headers)
        if extra_body is not None and not isinstance(extra_body, Mapping):
            raise InvalidRequestError(
                f"extra_body must be a mapping of JSON body fields, not {type(extra_body).__name__}."
            )
        if sleep is not None and not callable(sleep):
            raise InvalidRequestError("sleep must be an async function like asyncio.sleep.")
        url, userinfo = split_base_url(base_url)

        super().__init__(name or model, max_concurrency=max_concurrency, cache=cache)
        self.model = model
        self.preset = p
        self.provider = provider or p.prefix
        self.base_url = url
        self.max_retries = max_retries
        self.total_timeout = float(total_timeout)
        self.max_response_bytes = max_response_bytes
        self.timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=None
        )
        self.extra_body = {**p.extra_body, **dict(extra_body or {})}
        self.max_tokens_field = max_tokens_field or p.max_tokens_field
        self.prices = price_table(model, prices)
        self._transport = transport
        self._sleep = sleep or asyncio.sleep

        # The key: explicit, else the named variable (required), else the preset's.
        self.api_key_env = api_key_env or p.key_env
        key = api_key
        if key is None and self.api_key_env:
            key = os.environ.get(self.api_key_env) or None
            if key is None and (api_key_env or p.key_required):
                raise ConfigurationError(missing_key_message(self.provider, self.api_key_env, p))
        self._api_key = Secret(key) if key else None
        secrets: list[Secret] = [self._api_key] if self._api_key else []
        self._auth: Secret | None = (
            Secret(f"Bearer {self._api_key.get()}") if self._api_key else None
        )
        if userinfo:
            if self._api_key is not None:
                raise InvalidRequestError(
                    "base_url carries user:password and an API key is also set; only one "
                    "Authorization header can be sent. Drop the credentials from base_url."
                )
            password = userinfo.partition(":")[2]
            token = base64.b64encode(userinfo.encode()).decode()
            self._auth = Secret(f"Basic {token}")
            secrets += [Secret(token)] + ([Secret(password)] if password else [])
        self._headers = {**p.headers, **user_headers}
        for k, v in self._headers.items():
            if k.lower() in ("authorization", "x-api-key", "api-key") and v:
                secrets.append(Secret(v.removeprefix("Bearer ").strip()))
        self._secrets = tuple(secrets)

        hints = {code: text.format(model=model) for code, text in p.status_hints.items()}
        if userinfo:
            key_hint = "Check the user:password given in base_url (sent as Basic auth)."
        elif self.api_key_env and self._api_key is not None:
            key_hint = f"The key is read from ${self.api_key_env}; check its value."
        elif self._api_key is None:
            key_hint = "No API key was sent: pass api_key= or api_key_env=."
        else:
            key_hint = "Check the api_key= value."
        hints[401] = hints[403] = key_hint
        self._pricer = Pricer(
            model=model,
            table=self.prices,
            provider_id=p.price_provider,
            base_url=None if p.price_provider else url,
            free=p.free,
        )
        self._wire = Wire(
            name=self.name,
            display_url=url,
            secrets=self._secrets,
            timeout=self.timeout,
            pricer=self._pricer,
            connect_hint=p.connect_hint,
            hints=hints,
        )
        self._limits = Limits(
            name=self.name,
            base_url=url,
            total_timeout=self.total_timeout,
            max_bytes=max_response_bytes,
            transport_error=self._wire.transport_error,
            read_bound=read_timeout,
            send_bound=connect_timeout + 2 * read_timeout,
        )
        # Index into structured.LEVELS; only ever goes down (see _step_down).
        self._format_level = 0
        self._format_lock = threading.Lock()
        # The factory holds no reference to the model, so a model dropped without close()
        # is collected, and the pool's finalizer closes its clients on their loops.
        self._clients = ClientPool(
            functools.partial(
                _new_client,
                timeout=self.timeout,
                limit=max_concurrency,
                headers=dict(self._headers),
                transport=transport,
                warm=self._pricer.warm,
            )
        )
        # At exit the pool's own hook closes the clients and waits for it (see .clients).
        weakref.finalize(self, self._clients.close_soon).atexit = False

    # -- identity -------------------------------------------------------------------------

    @property
    def identity(self) -> str:
        """``provider:base_url:model`` — what makes two instances answer the same. No key."""
        return f"{self.provider}:{self.base_url}:{self.model}"

    @property
    def response_format_level(self) -> str:
        """The structured-output level this model now uses (``"json_schema"`` first)."""
        return LEVELS[self._format_level]

    def __repr__(self) -> str:
        named = f", name={self.name!r}" if self.name != self.model else ""
        return (
            f"{type(self).__name__}({self.model!r}{named}, provider={self.provider!r}, "
            f"base_url={self.base_url!r})"
        )

    # -- the backend ------------------------------------------------------------------------

    async def _acomplete(self, request: Request) -> Completion:
        start = time.perf_counter()
        deadline = self._limits.deadline()
        schema = request.schema
        while True:
            level = self._format_level
            sent = self._at_level(request, level)
            try:
                completion = await self._complete_once(sent, level, start, deadline)
                break
            except APIStatusError as exc:
                if not self._step_down(request, level, exc):
                    raise
        if schema is None or LEVELS[level] == "json_schema":
            return completion  # the base class validates; strict decoding needs no re-ask
        try:
            schema.parse(completion.text)
            return completion
        except StructuredOutputError as exc:
            problem = exc.problem or str(exc)
        again = await self._complete_once(
            reask(sent, completion.text, problem, schema), level, start, deadline
        )
        usage = completion.usage + again.usage
        cost = (
            None
            if completion.cost_usd is None or again.cost_usd is None
            else completion.cost_usd + again.cost_usd
        )
        return dataclasses.replace(again, usage=usage, cost_usd=cost, ttft_s=completion.ttft_s)

    async def _complete_once(
        self, request: Request, level: int, start: float, deadline: float
    ) -> Completion:
        body = self._body(request, level, stream=False)
        response, raw, headers_at = await self._send(body, deadline, read_body=True)
        content_type = response.headers.get("content-type", "")
        return self._wire.completion_from_json(raw, content_type, start, headers_at - start)

    async def _astream(self, request: Request) -> AsyncIterator[str | Completion]:
        start = time.perf_counter()
        deadline = self._limits.deadline()
        while True:
            level = self._format_level
            body = self._body(self._at_level(request, level), level, stream=True)
            try:
                response, _, headers_at = await self._send(body, deadline, read_body=False)
                break
            except APIStatusError as exc:
                if not self._step_down(request, level, exc):
                    raise
        try:
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                # Some servers ignore "stream": read the whole answer instead.
                raw = await self._limits.read_body(response, deadline)
                completion = self._wire.completion_from_json(
                    raw, content_type, start, headers_at - start
                )
                yield completion.text
                yield completion
                return
            async for item in self._wire.read_events(
                self._limits.chunks(response, deadline), start
            ):
                yield item
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the HTTP clients of every event loop this model was used on."""
        await self._clients.aclose()

    # -- structured output ---------------------------------------------------------------------

    def _at_level(self, request: Request, level: int) -> Request:
        if request.schema is None or LEVELS[level] == "json_schema":
            return request
        return with_schema_prompt(request, request.schema)

    def _body(self, request: Request, level: int, *, stream: bool) -> dict[str, Any]:
        fmt = None if request.schema is None else response_format(request.schema, level)
        return build_body(
            request,
            model=self.model,
            max_tokens_field=self.max_tokens_field,
            extra_body=self.extra_body,
            stream=stream,
            response_format=fmt,
        )

    def _step_down(self, request: Request, level: int, error: ModelError) -> bool:
        """Use the next structured-output level if ``error`` refuses this one."""
        if request.schema is None or level + 1 >= len(LEVELS) or not rejects_format(error):
            return False
        with self._format_lock:
            if self._format_level == level:
                self._format_level = level + 1
                logger.info(
                    "%s: the server refused response_format %s; using %s from now on.",
                    self.name,
                    LEVELS[level],
                    LEVELS[level + 1],
                )
        return True

    # -- the connection ---------------------------------------------------------------------------

    def _request_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream"}
        if self._auth is not None:
            headers["Authorization"] = self._auth.get()
        return headers

    async def _send(
        self, body: dict[str, Any], deadline: float, *, read_body: bool
    ) -> tuple[httpx.Response, bytes, float]:
        """POST with retries. Returns (response, body if read, time the headers arrived).

        With ``read_body=False`` the response is returned open (for streaming).
        """
        client = await self._clients.get()
        url = f"{self.base_url}/chat/completions"
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            failure: ModelError | ConfigurationError
            retry_after: float | None = None
            retryable = True
            try:
                req = client.build_request("POST", url, json=body, headers=self._request_headers())
                response = await self._limits.within(
                    deadline, client.send(req, stream=True), self._limits.send_bound
                )
            except httpx.UnsupportedProtocol as exc:
                failure, retryable = self._wire.config_error(exc), False
            except httpx.HTTPError as exc:
                failure = self._wire.transport_error(exc)
            else:
                headers_at = time.perf_counter()
                status = response.status_code
                if 200 <= status < 300:
                    if not read_body:
                        return response, b"", headers_at
                    raw, read_failure = await self._limits.read_all(response, deadline)
                    if read_failure is None:
                        return response, raw, headers_at
                    failure = read_failure
                else:
                    raw, _ = await self._limits.read_all(response, deadline)
                    retry_after = parse_retry_after(response.headers)
                    location = response.headers.get("location")
                    failure = self._wire.status_error(status, raw, retry_after, location)
                    retryable = status in RETRY_STATUSES or status >= 500
            if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                retryable = False
            wait = retry_after if retry_after is not None else backoff_delay(attempt)
            if wait >= deadline - time.monotonic():
                retryable = False  # the wait would pass the deadline: report the failure now
            if not retryable or attempt == attempts - 1:
                raise failure
            logger.info(
                "%s: %s Retry %d of %d in %.2f s.",
                self.name,
                redact(str(failure), self._secrets),
                attempt + 1,
                self.max_retries,
                wait,
            )
            await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


def _new_client(
    *,
    timeout: httpx.Timeout,
    limit: int | None,
    headers: dict[str, str],
    transport: httpx.AsyncBaseTransport | None,
    warm: Callable[[], None],
) -> httpx.AsyncClient:
    # Runs in a worker thread: creating the client loads the SSL context (~0.25 s).
    client = httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        headers=headers,
        transport=transport,
        follow_redirects=False,
    )
    warm()  # the price database, also off the loop
    return client
