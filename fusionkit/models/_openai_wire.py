"""The OpenAI chat-completions wire format: request bodies, responses, SSE, errors, retry timing.

:mod:`fusionkit.models.openai_compat` owns the connection (clients per event loop, the
retry loop, the presets); this module owns what goes over it, so each reads in one
sitting:

* :func:`build_body` — the JSON body of ``POST /chat/completions``.
* :func:`parse_retry_after` and :func:`backoff_delay` — how long to wait before a retry,
  with the retry constants (:data:`RETRY_STATUSES`, :data:`MAX_RETRY_AFTER_S`, ...).
* :class:`Wire` — a snapshot of what a model's answers and errors need to know (its name,
  display URL, secrets, timeouts, prices, hints). It turns a JSON body or an SSE stream
  into a :class:`~fusionkit.types.Completion`, and HTTP statuses, error payloads and
  httpx failures into the :mod:`fusionkit.errors` tree, with secrets redacted.

All of it is private: the public names (``parse_retry_after``, ``backoff_delay``,
``MAX_RETRY_AFTER_S``) are re-exported by :mod:`fusionkit.models.openai_compat`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .._secrets import Secret, redact
from ..errors import (
    ConfigurationError,
    ModelConnectionError,
    ModelError,
    ModelTimeoutError,
    ResponseFormatError,
    error_for_status,
)
from ..types import Completion, Request, Usage
from .pricing import PriceTable

#: Statuses worth retrying (as the OpenAI SDK does): timeout, conflict, rate limit, 5xx.
RETRY_STATUSES = frozenset({408, 409, 429})
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
#: A Retry-After longer than this is not waited for; the error is raised with it instead.
MAX_RETRY_AFTER_S = 60.0
#: How much of a bad body an error quotes.
_QUOTE_CHARS = 200


# -- retry timing -------------------------------------------------------------------------


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds a server asked us to wait, from ``retry-after-ms`` or ``Retry-After``.

    Args:
        headers: Response headers (case-insensitive mapping such as ``httpx.Headers``).
        now: The current UNIX time (for HTTP dates); defaults to ``time.time()``.

    Returns:
        Seconds to wait (>= 0), or None when absent or unreadable.
    """
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, *, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``attempt + 1`` when the server gave no hint.

    0.5 s × 2^attempt, capped at 8 s, minus up to 25 % jitter.
    """
    base = min(BACKOFF_BASE_S * (2**attempt), BACKOFF_CAP_S)
    return base * (1.0 - 0.25 * rand())


# -- request ------------------------------------------------------------------------------


def build_body(
    request: Request,
    *,
    model: str,
    max_tokens_field: str,
    extra_body: Mapping[str, Any],
    stream: bool,
) -> dict[str, Any]:
    """The JSON body of a chat-completions call.

    Args:
        request: What to ask.
        model: The model id the server knows.
        max_tokens_field: The body field for the token limit (``"max_tokens"`` or
            ``"max_completion_tokens"``).
        extra_body: Extra top-level fields; they override the ones built here.
        stream: Ask for server-sent events, with usage in the last event.

    Returns:
        A dict ready to send as JSON.
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": [m.to_dict() for m in request.messages],
        max_tokens_field: request.max_tokens,
        "temperature": request.temperature,
    }
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.seed is not None:
        body["seed"] = request.seed
    if request.stop:
        body["stop"] = list(request.stop)
    body.update(extra_body)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# -- responses and errors -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wire:
    """What reading one call's answer needs to know about the model that made it.

    Built afresh for each call by :class:`~fusionkit.models.openai_compat.OpenAICompatModel`
    from its current attributes, so settings changed after construction (a preset's
    ``connect_hint``, ``status_hints``) take effect.

    Attributes:
        name: The model's display name, used in messages and ``Completion.model``.
        model: The model id (for the price table).
        display_url: The base URL without credentials (safe to show).
        secrets: Values scrubbed from every message.
        timeout: The client's timeouts (quoted when one fires).
        prices: Used when a response carries no ``usage.cost``.
        connect_hint: Advice appended to connection failures.
        hint: Extra advice for an HTTP status, or None.
    """

    name: str
    model: str
    display_url: str
    secrets: tuple[Secret, ...]
    timeout: httpx.Timeout
    prices: PriceTable
    connect_hint: str
    hint: Callable[[int], str | None]

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        return redact(text, self.secrets)

    def completion_from_json(
        self, raw: bytes, content_type: str, start: float, ttft: float | None
    ) -> Completion:
        """The Completion in a non-streamed response body.

        Args:
            raw: The response body.
            content_type: Its Content-Type header (quoted when the body is not JSON).
            start: ``time.perf_counter()`` when the call began.
            ttft: Seconds to the first byte, if known.

        Raises:
            ModelError: The body is an error payload (OpenRouter sends these with 200).
            ResponseFormatError: The body is not a chat completion.
        """
        data = self._parse_json(raw, content_type)
        if isinstance(data, Mapping) and "error" in data and "choices" not in data:
            raise self.error_from_payload(data["error"])
        choices = data.get("choices") if isinstance(data, Mapping) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise self.format_error("a JSON object without 'choices'", raw)
        message = choices[0].get("message")
        if not isinstance(message, Mapping):
            raise self.format_error("a choice without a 'message'", raw)
        text = message.get("content") or ""
        if not isinstance(text, str):
            raise self.format_error("a message whose content is not text", raw)
        usage_data = data.get("usage")
        usage = _usage(usage_data)
        return Completion(
            text=text,
            model=self.name,
            usage=usage,
            latency_s=time.perf_counter() - start,
            ttft_s=ttft,
            cost_usd=self._cost(usage_data, usage),
            finish_reason=choices[0].get("finish_reason"),
        )

    async def read_events(
        self, response: httpx.Response, start: float
    ) -> AsyncIterator[str | Completion]:
        """Text chunks from a server-sent-events response, then the final Completion.

        Args:
            response: An open ``text/event-stream`` response (the caller closes it).
            start: ``time.perf_counter()`` when the call began.

        Raises:
            ModelTimeoutError: The stream stalled past the read timeout.
            ModelConnectionError: The connection was cut mid-stream.
            ResponseFormatError: An event is not JSON, or the stream ended without
                ``[DONE]`` or a finish reason.
        """
        parts: list[str] = []
        ttft: float | None = None
        finish: str | None = None
        usage_data: Any = None
        done = False
        failure: ModelError | None = None
        data_lines: list[str] = []
        try:
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    data_lines.append(line[5:].removeprefix(" "))
                    continue
                if line or not data_lines:
                    continue  # comments (": keep-alive"), "event:", "id:", stray blanks
                data = "\n".join(data_lines)
                data_lines = []
                if data.strip() == "[DONE]":
                    done = True
                    break
                event = self._parse_event(data)
                if "error" in event and not event.get("choices"):
                    raise self.error_from_payload(event["error"])
                if event.get("usage"):
                    usage_data = event["usage"]
                for choice in event.get("choices") or []:
                    if not isinstance(choice, Mapping):
                        continue
                    delta = choice.get("delta") or {}
                    piece = delta.get("content") if isinstance(delta, Mapping) else None
                    if isinstance(piece, str) and piece:
                        if ttft is None:
                            ttft = time.perf_counter() - start
                        parts.append(piece)
                        yield piece
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        except httpx.TimeoutException:
            failure = ModelTimeoutError(
                f"{self.name}: the stream stalled for more than {self.timeout.read} s after "
                f"{len(parts)} chunks; the partial answer was discarded. Raise read_timeout= "
                "or retry.",
                model=self.name,
            )
        except httpx.HTTPError as exc:
            failure = ModelConnectionError(
                f"{self.name}: the connection was cut mid-stream after {len(parts)} chunks "
                f"({self.redact(str(exc)) or type(exc).__name__}); the partial answer was "
                "discarded. Retry, or use a non-streaming call.",
                model=self.name,
            )
        if failure is not None:
            raise failure
        if data_lines and not done:  # a last event without its blank line
            if "\n".join(data_lines).strip() == "[DONE]":
                done = True
        if not done and finish is None:
            raise ResponseFormatError(
                f"{self.name}: the stream ended after {len(parts)} chunks without [DONE] or a "
                "finish reason; the partial answer was discarded. The server closed the "
                "stream early; retry, or use a non-streaming call.",
                model=self.name,
            )
        usage = _usage(usage_data)
        yield Completion(
            text="".join(parts),
            model=self.name,
            usage=usage,
            latency_s=time.perf_counter() - start,
            ttft_s=ttft,
            cost_usd=self._cost(usage_data, usage),
            finish_reason=finish,
        )

    def _parse_json(self, raw: bytes, content_type: str) -> Any:
        # Raised outside the except block so no JSONDecodeError chain is attached.
        failure: ModelError | None = None
        try:
            return json.loads(raw)
        except ValueError:
            kind = content_type.split(";")[0].strip() or "no content type"
            failure = self.format_error(f"a body that is not JSON ({kind})", raw)
        raise failure

    def _parse_event(self, data: str) -> Mapping[str, Any]:
        failure: ModelError | None = None
        try:
            event = json.loads(data)
            if isinstance(event, Mapping):
                return event
        except ValueError:
            pass
        failure = self.format_error("a stream event that is not a JSON object", data.encode())
        raise failure

    def _cost(self, usage_data: Any, usage: Usage) -> float | None:
        if isinstance(usage_data, Mapping):
            reported = usage_data.get("cost")
            if isinstance(reported, (int, float)) and not isinstance(reported, bool):
                return float(reported)
            return self.prices.cost(self.model, usage)
        return None  # no token counts: the cost is unknown, not zero

    def format_error(self, what: str, raw: bytes) -> ResponseFormatError:
        """A 200 whose body is not a chat completion, quoting its (redacted) start."""
        start = self.redact(raw[: _QUOTE_CHARS * 4].decode("utf-8", "replace"))[:_QUOTE_CHARS]
        return ResponseFormatError(
            f"{self.name}: expected an OpenAI-style chat completion from "
            f"{self.display_url}, got {what}; it starts {start!r}. Check that base_url "
            "points at an OpenAI-compatible API (it usually ends in /v1).",
            model=self.name,
            provider_message=start,
        )

    def status_error(self, status: int, raw: bytes, retry_after: float | None) -> ModelError:
        """The error for an HTTP error status, quoting the provider's own message."""
        text = raw.decode("utf-8", "replace")
        message = text
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        if isinstance(payload, Mapping):
            message = _error_text(payload.get("error", payload)) or text
        return error_for_status(
            status,
            model=self.name,
            provider_message=self.redact(message)[:1000],
            hint=self.hint(status),
            retry_after=retry_after,
        )

    def error_from_payload(self, error: Any) -> ModelError:
        """An error object inside a 200 body or a stream event (OpenRouter does this)."""
        code = error.get("code") if isinstance(error, Mapping) else None
        status = code if isinstance(code, int) and 400 <= code < 600 else 502
        return error_for_status(
            status,
            model=self.name,
            provider_message=self.redact(_error_text(error)),
            hint=self.hint(status),
        )

    def transport_error(self, exc: httpx.HTTPError, during: str = "") -> ModelError:
        """A timeout or connection failure, naming the timeout that fired."""
        detail = self.redact(str(exc)) or type(exc).__name__
        where = f" while {during}" if during else ""
        if isinstance(exc, httpx.TimeoutException):
            if isinstance(exc, httpx.ConnectTimeout):
                what = f"could not connect within {self.timeout.connect} s (connect_timeout)"
            elif isinstance(exc, httpx.ReadTimeout):
                what = f"sent no data for {self.timeout.read} s (read_timeout){where}"
            else:
                what = f"timed out{where} ({type(exc).__name__})"
            return ModelTimeoutError(
                f"{self.name}: {self.display_url} {what}. Raise the timeout for slow "
                "models, or retry later.",
                model=self.name,
            )
        return ModelConnectionError(
            f"{self.name}: could not talk to {self.display_url}{where}: {detail}. "
            f"{self.connect_hint}",
            model=self.name,
        )

    def config_error(self, exc: httpx.HTTPError) -> ConfigurationError:
        """A base URL httpx cannot use at all (e.g. an unsupported scheme)."""
        return ConfigurationError(
            f"{self.name}: cannot use base_url {self.display_url!r}: {self.redact(str(exc))}."
        )


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        for key in ("message", "detail", "error"):
            value = error.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, Mapping):
                return _error_text(value)
        return json.dumps(error)[:500]
    return str(error)


def _usage(data: Any) -> Usage:
    if not isinstance(data, Mapping):
        return Usage()

    def count(key: str) -> int:
        value = data.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return Usage(prompt_tokens=count("prompt_tokens"), completion_tokens=count("completion_tokens"))
