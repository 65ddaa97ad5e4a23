"""The OpenAI chat-completions wire format: request bodies, responses, streamed events, errors.

:mod:`.model` owns the connection (clients per event loop, the retry loop, deadlines and
size limits); this module owns what goes over it:

* :func:`build_body` — the JSON body of ``POST /chat/completions``.
* :class:`Wire` — built once per model: turns a JSON body or a stream of SSE bytes into a
  :class:`~fusionkit.types.Completion`, and HTTP statuses, error payloads and httpx
  failures into the :mod:`fusionkit.errors` tree, with secrets redacted.

Every body from a server is decoded with :func:`fusionkit.schema.loads_bounded`, so a
body nested 100,000 levels deep is a :class:`ResponseFormatError`, not a RecursionError.

Events are split out of the byte stream by :mod:`.sse` (why not ``httpx-sse``: see there).

A little over 400 lines because it is one idea, the wire format: :class:`Wire` reads a body
and a stream into the same Completion and the same errors, and splitting the two would
hide that they must agree.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..._secrets import Secret, redact
from ...errors import (
    APIStatusError,
    ConfigurationError,
    ModelConnectionError,
    ModelError,
    ModelTimeoutError,
    ResponseFormatError,
    error_for_status,
)
from ...schema import loads_bounded
from ...types import Completion, Request, Usage, clean_text
from .pricing import Pricer
from .sse import sse_data

#: How much of a bad body an error quotes.
_QUOTE_CHARS = 200


# -- request ------------------------------------------------------------------------------


def build_body(
    request: Request,
    *,
    model: str,
    max_tokens_field: str,
    extra_body: Mapping[str, Any],
    stream: bool,
    response_format: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of a chat-completions call.

    Args:
        request: What to ask (its messages are sent as given).
        model: The model id the server knows.
        max_tokens_field: ``"max_tokens"`` or ``"max_completion_tokens"``.
        extra_body: Extra top-level fields; they override the ones built here.
        stream: Ask for server-sent events, with usage in the last event.
        response_format: The ``response_format`` field, if any.

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
    if request.logprobs:
        body["logprobs"] = True
    if response_format is not None:
        body["response_format"] = dict(response_format)
    body.update(extra_body)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# -- responses and errors -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wire:
    """What reading a model's answers and errors needs to know. Built once per model.

    Attributes:
        name: The model's display name, used in messages and ``Completion.model``.
        display_url: The base URL without credentials (safe to show).
        secrets: Values scrubbed from every message.
        timeout: The client's timeouts (quoted when one fires).
        pricer: Prices the calls.
        connect_hint: Advice appended to connection failures.
        hints: Extra advice per HTTP status.
    """

    name: str
    display_url: str
    secrets: tuple[Secret, ...]
    timeout: httpx.Timeout
    pricer: Pricer
    connect_hint: str
    hints: Mapping[int, str]

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        return redact(text, self.secrets)

    def _decode(self, raw: bytes | str, what: str) -> Any:
        # Python-style servers write NaN/Infinity (in usage, mostly). JSON has neither:
        # read them as null, so a count or cost becomes unknown, not the whole answer.
        try:
            return loads_bounded(raw, what=what, non_finite_as_null=True)
        except ResponseFormatError as exc:
            body = raw if isinstance(raw, bytes) else raw.encode()
            raise self.format_error(str(exc), body) from None

    def completion_from_json(
        self, raw: bytes, content_type: str, start: float, ttft: float | None
    ) -> Completion:
        """The Completion in a non-streamed response body.

        Raises:
            ModelError: The body is an error payload (OpenRouter sends these with 200).
            ResponseFormatError: The body is not a chat completion.
        """
        kind = content_type.split(";")[0].strip() or "no content type"
        data = self._decode(raw, f"the body ({kind})")  # "... is not valid JSON: ..."
        if isinstance(data, Mapping) and "error" in data and "choices" not in data:
            raise self.error_from_payload(data["error"])
        choices = data.get("choices") if isinstance(data, Mapping) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise self.format_error("got a JSON object without 'choices'", raw)
        message = choices[0].get("message")
        if not isinstance(message, Mapping):
            raise self.format_error("got a choice without a 'message'", raw)
        text = message.get("content") or ""
        if not isinstance(text, str):
            raise self.format_error("got a message whose content is not text", raw)
        usage, reported = read_usage(data.get("usage"))
        finish = choices[0].get("finish_reason")
        return Completion(
            text=clean_text(text),
            model=self.name,
            usage=usage,
            latency_s=time.perf_counter() - start,
            ttft_s=ttft,
            cost_usd=self.pricer.cost(usage if usage.known else None, reported),
            finish_reason=finish if isinstance(finish, str) else None,
            logprobs=_logprobs([choices[0]]),
        )

    async def read_events(
        self, chunks: AsyncIterator[bytes], start: float
    ) -> AsyncIterator[str | Completion]:
        """Text chunks from a server-sent-events body, then the final Completion.

        Args:
            chunks: The body's bytes (the model bounds them by size and deadline).
            start: ``time.perf_counter()`` when the call began.

        Raises:
            ModelTimeoutError: The stream stalled past the read timeout.
            ModelConnectionError: The connection was cut mid-stream.
            ResponseFormatError: An event is not JSON, or the stream ended without
                ``[DONE]`` or a finish reason (the partial answer is discarded).
        """
        parts: list[str] = []
        logprob_choices: list[Any] = []
        ttft: float | None = None
        finish: str | None = None
        usage_data: Any = None
        done = False
        failure: ModelError | None = None
        try:
            async for data in sse_data(chunks):
                if data.strip() == "[DONE]":
                    done = True
                    break
                event = self._decode(data, "a stream event")
                if not isinstance(event, Mapping):
                    raise self.format_error(
                        "got a stream event that is not a JSON object", data.encode()
                    )
                if "error" in event and not event.get("choices"):
                    raise self.error_from_payload(event["error"])
                if event.get("usage"):
                    usage_data = event["usage"]
                choices = event.get("choices")
                for choice in choices if isinstance(choices, list) else []:
                    if not isinstance(choice, Mapping):
                        continue
                    delta = choice.get("delta") or {}
                    piece = delta.get("content") if isinstance(delta, Mapping) else None
                    if isinstance(piece, str) and piece:
                        if ttft is None:
                            ttft = time.perf_counter() - start
                        parts.append(piece)
                        yield piece
                    if choice.get("logprobs"):
                        logprob_choices.append(choice)
                    if isinstance(choice.get("finish_reason"), str):
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
        if not done and finish is None:
            raise ResponseFormatError(
                f"{self.name}: the stream was cut: it ended after {len(parts)} chunks without "
                "[DONE] or a finish reason; the partial answer was discarded. The server "
                "closed the stream early; retry, or use a non-streaming call.",
                model=self.name,
            )
        usage, reported = read_usage(usage_data)
        yield Completion(
            text=clean_text("".join(parts)),
            model=self.name,
            usage=usage,
            latency_s=time.perf_counter() - start,
            ttft_s=ttft,
            cost_usd=self.pricer.cost(usage if usage.known else None, reported),
            finish_reason=finish,
            logprobs=_logprobs(logprob_choices),
        )

    def format_error(self, what: str, raw: bytes) -> ResponseFormatError:
        """A 200 whose body is not a chat completion, quoting its (redacted) start."""
        start = self.redact(raw[: _QUOTE_CHARS * 4].decode("utf-8", "replace"))[:_QUOTE_CHARS]
        return ResponseFormatError(
            f"{self.name}: expected an OpenAI-style chat completion from "
            f"{self.display_url}, but {what}; it starts {start!r}. Check that base_url "
            "points at an OpenAI-compatible API (it usually ends in /v1).",
            model=self.name,
            provider_message=start,
        )

    def provider_text(self, raw: bytes) -> str:
        """The provider's own message in an error body (redacted, at most 1000 chars)."""
        text = raw.decode("utf-8", "replace")
        message = text
        try:
            payload = loads_bounded(text, what="the error body")
        except ResponseFormatError:
            payload = None
        if isinstance(payload, Mapping):
            message = _error_text(payload.get("error", payload)) or text
        return self.redact(message)[:1000]

    def status_error(
        self, status: int, raw: bytes, retry_after: float | None, location: str | None = None
    ) -> ModelError:
        """The error for an HTTP status other than 2xx, quoting the provider's own message."""
        said = self.provider_text(raw)
        if 300 <= status < 400:
            where = f" to {self.redact(location)!r}" if location else " (no Location given)"
            return APIStatusError(
                f"{self.name}: HTTP {status} — {self.display_url} redirected{where}. Redirects "
                "are not followed (the request body and the key would go to another URL); "
                "set base_url to the address the server points at.",
                model=self.name,
                provider_message=said,
                status_code=status,
            )
        if status in (408, 409):
            what = (
                "the server gave up waiting for the request (408 Request Timeout)"
                if status == 408
                else "the server reported a conflict with another request (409 Conflict)"
            )
            return APIStatusError(
                f"{self.name}: HTTP {status} — {what}; the provider said: {said or '(empty body)'!r}. "
                "It was retried and kept failing: retry later, or raise max_retries.",
                model=self.name,
                provider_message=said,
                status_code=status,
            )
        return error_for_status(
            status,
            model=self.name,
            provider_message=said,
            hint=self.hints.get(status),
            retry_after=retry_after,
        )

    def error_from_payload(self, error: Any) -> ModelError:
        """An error object inside a 200 body or a stream event (OpenRouter does this)."""
        code = error.get("code") if isinstance(error, Mapping) else None
        ok = isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600
        status = code if ok else 502
        return error_for_status(
            status,
            model=self.name,
            provider_message=self.redact(_error_text(error)),
            hint=self.hints.get(status),
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
        return json.dumps(error, default=str)[:500]
    return str(error)


def _logprobs(choices: list[Any]) -> tuple[float, ...] | None:
    """Each token's log-probability from ``choices[].logprobs.content`` (None if absent/bad)."""
    values: list[float] = []
    for choice in choices:
        lp = choice.get("logprobs") if isinstance(choice, Mapping) else None
        content = lp.get("content") if isinstance(lp, Mapping) else None
        if not isinstance(content, list):
            continue
        for token in content:
            value = token.get("logprob") if isinstance(token, Mapping) else None
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value > 0:
                return None  # one untrustworthy value spoils the sequence
            values.append(float(value))
    return tuple(values) or None


def _count(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


def read_usage(data: Any) -> tuple[Usage, Any]:
    """Token counts and the reported cost from a ``usage`` object.

    Returns:
        ``(usage, reported_cost)``. A count that is missing, negative or not an integer
        is unknown (None); no usage object at all is :meth:`Usage.unknown`. The reported
        cost is returned as sent (None if absent); :class:`Pricer` checks it.
    """
    if not isinstance(data, Mapping):
        return Usage.unknown(), None
    usage = Usage(_count(data.get("prompt_tokens")), _count(data.get("completion_tokens")))
    return usage, data.get("cost")
