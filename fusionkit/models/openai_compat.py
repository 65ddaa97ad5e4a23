"""OpenAI-compatible chat completions over httpx: OpenRouter, OpenAI, Ollama, vLLM, llama.cpp.

One class, :class:`OpenAICompatModel`, speaks ``POST {base_url}/chat/completions``; the
presets :func:`openrouter`, :func:`openai` and :func:`ollama` fill in base URL, key
variable and headers. vLLM and llama.cpp's server need only
``OpenAICompatModel(model, base_url="http://host:8000/v1")``.

Behaviour worth knowing:

* **Retries.** 408, 409, 429 and 5xx answers, timeouts and connection failures are retried
  ``max_retries`` times (default 2) with capped exponential backoff — 0.5 s × 2ⁿ, at most
  8 s, minus up to 25 % random jitter so that many clients do not retry in lock-step. A
  ``Retry-After`` (or ``retry-after-ms``) header, in seconds or as an HTTP date, is
  honoured exactly; one asking for more than :data:`MAX_RETRY_AFTER_S` is not waited
  for: the :class:`~fusionkit.errors.RateLimitError` is raised at once with
  ``retry_after`` set. 400/401/402/403/404 are raised at once. A streamed call is retried
  only until the server accepts it (status 200); after that a failure is raised.
* **Errors.** Statuses map through :func:`fusionkit.errors.error_for_status`, quoting the
  provider's own message. Timeouts raise :class:`ModelTimeoutError`, unreachable servers
  :class:`ModelConnectionError`, and a 200 whose body is not a chat completion (HTML, bad
  JSON, no ``choices``) :class:`ResponseFormatError` quoting the start of the body.
* **Cut streams.** A connection that drops mid-stream raises :class:`ModelConnectionError`
  (the transport broke; worth retrying later). A stream that ends cleanly but with neither
  ``[DONE]`` nor a finish reason raises :class:`ResponseFormatError` (the server broke the
  protocol). Either way no final Completion is produced and nothing is cached: never a
  silent partial answer.
* **Latency.** ``latency_s`` is the wall time of the whole call, retries and backoff
  included: what the user waited. ``ttft_s``: streaming, the first content chunk;
  non-streaming, the arrival of the response headers (the server sends nothing earlier).
* **Cost.** ``usage.cost`` from the response when the provider reports it (OpenRouter),
  else the price table (:mod:`fusionkit.models.pricing`), else None (unknown).
* **Secrets.** The key is held in a :class:`~fusionkit._secrets.Secret`, sent only in the
  ``Authorization`` header, and scrubbed out of every error message (provider bodies that
  echo it included); errors are raised without the httpx exception chain attached.
* **Event loops.** One ``httpx.AsyncClient`` per event loop (the sync API runs on
  fusionkit's background loop, notebooks' ``await`` on theirs); :meth:`aclose` closes them.

What lives where: this module holds the connection (clients, the retry loop) and the
presets; the wire format — request bodies, JSON and SSE parsing, the mapping of statuses
and httpx failures to errors, ``Retry-After`` and backoff — is in
:mod:`fusionkit.models._openai_wire`, so each reads in one sitting. Its public names
(:func:`parse_retry_after`, :func:`backoff_delay`, :data:`MAX_RETRY_AFTER_S`) are
importable from here as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .._secrets import Secret, redact
from ..cache import ResponseCache
from ..errors import ConfigurationError, ModelError
from ..types import Completion, Request
from ._openai_wire import (  # its public names stay importable from here, as before
    BACKOFF_BASE_S,  # noqa: F401 - re-exported
    BACKOFF_CAP_S,  # noqa: F401 - re-exported
    MAX_RETRY_AFTER_S,
    RETRY_STATUSES,
    Wire,
    backoff_delay,
    build_body,
    parse_retry_after,
)
from .base import Model
from .pricing import DEFAULT_PRICES, PriceLike, PriceTable

__all__ = [
    "MAX_RETRY_AFTER_S",
    "OLLAMA_BASE_URL",
    "OPENAI_BASE_URL",
    "OPENROUTER_BASE_URL",
    "OpenAICompatModel",
    "backoff_delay",
    "ollama",
    "openai",
    "openrouter",
    "parse_retry_after",
]

logger = logging.getLogger(__name__)

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
OPENAI_BASE_URL = "https://api.openai.com/v1"
OLLAMA_BASE_URL = "http://localhost:11434/v1"

_KEY_PAGES = {
    "OPENROUTER_API_KEY": "https://openrouter.ai/keys",
    "OPENAI_API_KEY": "https://platform.openai.com/api-keys",
}


def _display_url(url: str) -> tuple[str, str | None]:
    """The URL without user:password (safe to show), and the password if there was one."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=host)), parts.password


class OpenAICompatModel(Model):
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: The model id the server knows (``"openai/gpt-4o-mini"``, ``"llama3.2"``).
        base_url: The API root, ending in ``/v1`` for most servers.
        api_key: The key itself; prefer ``api_key_env``.
        api_key_env: Environment variable holding the key. If named and unset (and no
            ``api_key`` given), construction raises :class:`ConfigurationError`.
        name: Display name (default: ``model``).
        provider: Provider label, part of the cache identity.
        connect_timeout: Seconds to establish a connection.
        read_timeout: Seconds to wait for the next bytes (first byte included).
        max_retries: Retries after the first attempt (0 disables them).
        max_concurrency: At most this many requests in flight to this model (per loop).
        prices: A :class:`PriceTable`, a mapping model id → ``(input, output)`` USD per
            million tokens merged over the defaults, or one ``(input, output)`` pair for
            this model. Used only when the response carries no ``usage.cost``.
        headers: Extra HTTP headers sent with every request.
        cache: As for :class:`~fusionkit.models.base.Model`.
        transport: An ``httpx.AsyncBaseTransport`` (e.g. ``httpx.MockTransport``) for tests.
        extra_body: Extra top-level JSON fields sent with every request.
        max_tokens_field: The body field for the token limit (OpenAI's newer models
            want ``"max_completion_tokens"``).
        sleep: The async sleep used between retries (tests inject a fast one).
    """

    kind = "openai-compatible"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        api_key_env: str | None = None,
        name: str | None = None,
        provider: str = "openai-compatible",
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        max_retries: int = 2,
        max_concurrency: int | None = 8,
        prices: PriceTable | Mapping[str, PriceLike] | PriceLike | None = None,
        headers: Mapping[str, str] | None = None,
        cache: bool | ResponseCache | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        extra_body: Mapping[str, Any] | None = None,
        max_tokens_field: str = "max_tokens",
        sleep: Callable[[float], Awaitable[Any]] | None = None,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError("model must be a non-empty model id, e.g. 'gpt-4o-mini'.")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url must start with http:// or https://, got {base_url!r} "
                "(for example 'http://localhost:8000/v1')."
            )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be an integer >= 0, got {max_retries!r}.")
        super().__init__(name or model, max_concurrency=max_concurrency, cache=cache)
        self.model = model
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        key = api_key
        if key is None and api_key_env:
            key = os.environ.get(api_key_env) or None
            if key is None:
                raise ConfigurationError(_missing_key_message(provider, api_key_env))
        self._api_key = Secret(key) if key else None
        self._display_base_url, url_password = _display_url(self.base_url)
        self._headers = dict(headers or {})
        secrets: list[Secret] = [self._api_key] if self._api_key else []
        for k, v in self._headers.items():
            if k.lower() in ("authorization", "x-api-key", "api-key") and v:
                secrets.append(Secret(v.removeprefix("Bearer ").strip()))
        if url_password:
            secrets.append(Secret(url_password))
        self._secrets = tuple(secrets)
        self.prices = _price_table(model, prices)
        self.max_retries = max_retries
        self.timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=None
        )
        self.extra_body = dict(extra_body or {})
        self.max_tokens_field = max_tokens_field
        self._transport = transport
        self._sleep = sleep or asyncio.sleep
        # Extra advice per status, set by the presets (e.g. Ollama's "ollama pull NAME").
        self.status_hints: dict[int, str] = {}
        self.connect_hint = "Check that the server is running and base_url is right."
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._clients = weakref.WeakKeyDictionary()
        # The sync API (background loop thread) and a notebook's loop may both touch it.
        self._clients_lock = threading.Lock()

    # -- identity -------------------------------------------------------------------------

    @property
    def identity(self) -> str:
        """``provider:base_url:model`` — what makes two instances answer the same. No key."""
        return f"{self.provider}:{self._display_base_url}:{self.model}"

    def __repr__(self) -> str:
        named = f", name={self.name!r}" if self.name != self.model else ""
        return (
            f"{type(self).__name__}({self.model!r}{named}, provider={self.provider!r}, "
            f"base_url={self._display_base_url!r})"
        )

    # -- the backend ------------------------------------------------------------------------

    async def _acomplete(self, request: Request) -> Completion:
        start = time.perf_counter()
        response, raw, headers_at = await self._send(self._body(request, stream=False), True)
        return self._wire().completion_from_json(
            raw, response.headers.get("content-type", ""), start, headers_at - start
        )

    async def _astream(self, request: Request) -> AsyncIterator[str | Completion]:
        start = time.perf_counter()
        response, _, headers_at = await self._send(self._body(request, stream=True), False)
        try:
            if "text/event-stream" not in response.headers.get("content-type", ""):
                # Some servers ignore "stream": read the whole answer instead.
                raw, failure = await self._read_all(response)
                if failure is not None:
                    raise failure
                completion = self._wire().completion_from_json(
                    raw, response.headers.get("content-type", ""), start, headers_at - start
                )
                yield completion.text
                yield completion
                return
            async for item in self._wire().read_events(response, start):
                yield item
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the HTTP clients of every event loop this model was used on."""
        with self._clients_lock:
            clients = list(self._clients.items())
            self._clients.clear()
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - always called from a loop
            current = None
        for loop, client in clients:
            if loop is current:
                await client.aclose()
            elif loop.is_running() and not loop.is_closed():
                future = asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                try:
                    await asyncio.wait_for(asyncio.wrap_future(future), timeout=5)
                except (asyncio.TimeoutError, RuntimeError, httpx.HTTPError):
                    pass
            # A stopped loop's sockets close with it; nothing to await there.

    # -- request ----------------------------------------------------------------------------

    def _body(self, request: Request, *, stream: bool) -> dict[str, Any]:
        return build_body(
            request,
            model=self.model,
            max_tokens_field=self.max_tokens_field,
            extra_body=self.extra_body,
            stream=stream,
        )

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        # A client's open connections refer to their loop, so a finished loop (each
        # asyncio.run) would never leave the weak map by itself: drop those here.
        with self._clients_lock:
            for done in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[done]
            client = self._clients.get(loop)
            if client is None or client.is_closed:
                limit = self.max_concurrency
                client = httpx.AsyncClient(
                    timeout=self.timeout,
                    limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
                    headers=self._headers,
                    transport=self._transport,
                )
                self._clients[loop] = client
            return client

    def _request_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream"}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get()}"
        return headers

    async def _send(
        self, body: dict[str, Any], read_body: bool
    ) -> tuple[httpx.Response, bytes, float]:
        """POST with retries. Returns (response, body bytes if read, time headers arrived).

        With ``read_body=False`` the response is returned open (for streaming).
        """
        client = self._client()
        url = f"{self.base_url}/chat/completions"
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            failure: ModelError | ConfigurationError
            retry_after: float | None = None
            retryable = True
            try:
                req = client.build_request("POST", url, json=body, headers=self._request_headers())
                response = await client.send(req, stream=True)
            except httpx.UnsupportedProtocol as exc:
                failure, retryable = self._wire().config_error(exc), False
            except httpx.HTTPError as exc:
                failure = self._wire().transport_error(exc)
            else:
                headers_at = time.perf_counter()
                if response.status_code < 300:
                    if not read_body:
                        return response, b"", headers_at
                    raw, read_failure = await self._read_all(response)
                    if read_failure is None:
                        return response, raw, headers_at
                    failure = read_failure
                else:
                    raw, _ = await self._read_all(response)
                    retry_after = parse_retry_after(response.headers)
                    status = response.status_code
                    failure = self._wire().status_error(status, raw, retry_after)
                    retryable = status in RETRY_STATUSES or status >= 500
            if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                retryable = False
            if not retryable or attempt == attempts - 1:
                raise failure
            wait = retry_after if retry_after is not None else backoff_delay(attempt)
            logger.info(
                "%s: %s Retry %d of %d in %.2f s.",
                self.name,
                self._redact(str(failure)),
                attempt + 1,
                self.max_retries,
                wait,
            )
            await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_all(self, response: httpx.Response) -> tuple[bytes, ModelError | None]:
        failure: ModelError | None = None
        raw = b""
        try:
            raw = await response.aread()
        except httpx.HTTPError as exc:
            failure = self._wire().transport_error(exc, during="reading the response")
        finally:
            await response.aclose()
        return raw, failure

    # -- the wire -----------------------------------------------------------------------------

    def _wire(self) -> Wire:
        # Built per call from the current attributes: presets and users may change
        # status_hints, connect_hint or timeouts after construction.
        return Wire(
            name=self.name,
            model=self.model,
            display_url=self._display_base_url,
            secrets=self._secrets,
            timeout=self.timeout,
            prices=self.prices,
            connect_hint=self.connect_hint,
            hint=self._hint,
        )

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _hint(self, status: int) -> str | None:
        if status in (401, 403):
            if self.api_key_env:
                return f"The key is read from ${self.api_key_env}; check its value."
            if self._api_key is None:
                return "No API key was sent: pass api_key= or api_key_env=."
        return self.status_hints.get(status)


def _price_table(model: str, prices: Any) -> PriceTable:
    if prices is None:
        return DEFAULT_PRICES
    if isinstance(prices, PriceTable):
        return prices
    if isinstance(prices, Mapping):
        return DEFAULT_PRICES.with_prices(prices)
    return DEFAULT_PRICES.with_prices({model: prices})


def _missing_key_message(provider: str, env: str) -> str:
    page = _KEY_PAGES.get(env)
    where = f" Get a key at {page}." if page else ""
    return (
        f"{provider} needs an API key: set the environment variable {env} "
        f"(e.g. `export {env}=...` in your shell, or os.environ[{env!r}] = ... in a "
        f"notebook), or pass api_key=.{where}"
    )


# -- presets --------------------------------------------------------------------------------


def openrouter(
    model: str,
    *,
    app_name: str = "fusionkit",
    app_url: str = "https://pypi.org/project/fusionkit/",
    **kwargs: Any,
) -> OpenAICompatModel:
    """A model on OpenRouter (key from ``$OPENROUTER_API_KEY``).

    Args:
        model: OpenRouter model id, e.g. ``"anthropic/claude-3.7-sonnet"``.
        app_name: Sent as ``X-Title`` (OpenRouter's app attribution).
        app_url: Sent as ``HTTP-Referer``.
        **kwargs: Passed to :class:`OpenAICompatModel` (``api_key=``, timeouts, ...).

    Raises:
        ConfigurationError: No key given and ``OPENROUTER_API_KEY`` is not set.
    """
    headers = {"HTTP-Referer": app_url, "X-Title": app_name, **dict(kwargs.pop("headers", {}))}
    kwargs.setdefault("api_key_env", "OPENROUTER_API_KEY")
    kwargs.setdefault("provider", "openrouter")
    # Asks for usage.cost; OpenRouter now always sends it, and ignores this field.
    extra = {"usage": {"include": True}, **dict(kwargs.pop("extra_body", {}) or {})}
    m = OpenAICompatModel(
        model,
        base_url=kwargs.pop("base_url", OPENROUTER_BASE_URL),
        headers=headers,
        extra_body=extra,
        **kwargs,
    )
    m.status_hints[402] = "Add credits at https://openrouter.ai/settings/credits."
    m.status_hints[404] = "Check the model id at https://openrouter.ai/models."
    return m


def openai(model: str, **kwargs: Any) -> OpenAICompatModel:
    """A model on the OpenAI API (key from ``$OPENAI_API_KEY``).

    Sends ``max_completion_tokens`` (newer OpenAI models reject ``max_tokens``).

    Raises:
        ConfigurationError: No key given and ``OPENAI_API_KEY`` is not set.
    """
    kwargs.setdefault("api_key_env", "OPENAI_API_KEY")
    kwargs.setdefault("provider", "openai")
    kwargs.setdefault("max_tokens_field", "max_completion_tokens")
    return OpenAICompatModel(model, base_url=kwargs.pop("base_url", OPENAI_BASE_URL), **kwargs)


def ollama(model: str, base_url: str | None = None, **kwargs: Any) -> OpenAICompatModel:
    """A model served by a local Ollama (``$OLLAMA_HOST``, default localhost:11434). No key.

    Local models cost nothing, so the cost is 0.0 unless ``prices=`` says otherwise.
    """
    url = base_url or os.environ.get("OLLAMA_HOST") or OLLAMA_BASE_URL
    if "://" not in url:
        url = f"http://{url}"
    url = url.rstrip("/")
    if not url.endswith("/v1"):
        url += "/v1"
    kwargs.setdefault("provider", "ollama")
    kwargs.setdefault("prices", {model: (0.0, 0.0)})
    m = OpenAICompatModel(model, base_url=url, **kwargs)
    m.status_hints[404] = f"Pull the model first: `ollama pull {model}`."
    m.connect_hint = "Is Ollama running? Start it with `ollama serve` (or set OLLAMA_HOST)."
    return m
