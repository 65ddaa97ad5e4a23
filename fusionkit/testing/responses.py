"""Whole (not streamed) responses of the fake server, written as ASGI events.

A completion, an OpenAI-style error, each :class:`~fusionkit.testing.script.Fault` that
replaces an answer, and a completion cut off mid-body. :class:`CutConnection` is how the
app asks uvicorn to drop the connection; :class:`DropCutTracebacks` keeps those deliberate
drops out of the log.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
import uuid
from typing import Any, NoReturn

from .script import Fault

__all__ = [
    "CutConnection",
    "DropCutTracebacks",
    "completion_payload",
    "send_body",
    "send_cut_json",
    "send_error",
    "send_fault",
    "send_json",
    "send_raw",
    "start_response",
    "token_logprobs",
]

Headers = list[tuple[bytes, bytes]]

_ERROR_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "bad_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    402: ("insufficient_quota", "insufficient_credits"),
    403: ("invalid_request_error", "forbidden"),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", "request_timeout"),
    409: ("conflict", "conflict"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
}

_DEFAULT_MESSAGES: dict[int, str] = {
    400: "Bad request.",
    401: "Incorrect API key provided.",
    402: "Insufficient credits. Add more using https://example.invalid/credits",
    403: "This key is not allowed to use this model.",
    404: "The model does not exist or you do not have access to it.",
    408: "Request timed out.",
    409: "Conflict.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request.",
    502: "Bad gateway: the upstream provider returned an invalid response.",
    503: "The engine is currently overloaded, please try again later.",
}


class CutConnection(Exception):
    """Raised inside the app to make uvicorn drop the connection mid-response."""


class DropCutTracebacks(logging.Filter):
    """A logging filter for ``uvicorn.error`` that drops the tracebacks of deliberate cuts."""

    # A deliberate cut is not a server bug: keep it out of the test output.
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, CutConnection)


def token_logprobs(words: list[str]) -> dict[str, Any]:
    """OpenAI-style ``logprobs``: a fixed -0.25 per word, so tests can check the sum."""
    return {"content": [{"token": w, "logprob": -0.25, "top_logprobs": []} for w in words]}


def completion_payload(
    model: str,
    text: str,
    finish: str,
    words: list[str],
    usage: dict[str, Any],
    *,
    logprobs: bool,
) -> dict[str, Any]:
    """A ``chat.completion`` object answering ``text`` (``words`` are its tokens)."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
                "logprobs": token_logprobs(words) if logprobs else None,
            }
        ],
        "usage": usage,
    }


async def start_response(send: Any, status: int, headers: Headers) -> None:
    """Send the status line and headers."""
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def send_body(send: Any, data: bytes = b"", *, more_body: bool = False) -> None:
    """Send a piece of the body; the last one (``more_body=False``) ends the response."""
    await send({"type": "http.response.body", "body": data, "more_body": more_body})


def _sized(data: bytes, content_type: bytes) -> Headers:
    return [(b"content-type", content_type), (b"content-length", str(len(data)).encode())]


async def send_raw(
    send: Any, status: int, data: bytes, content_type: bytes, extra_headers: Headers | None = None
) -> None:
    """A whole response: ``data`` with its type and length."""
    await start_response(send, status, _sized(data, content_type) + (extra_headers or []))
    await send_body(send, data)


async def send_json(
    send: Any, status: int, payload: Any, extra_headers: Headers | None = None
) -> None:
    """A whole JSON response."""
    await send_raw(send, status, json.dumps(payload).encode(), b"application/json", extra_headers)


async def send_error(
    send: Any, status: int, message: str, extra_headers: Headers | None = None
) -> None:
    """An OpenAI-style error body ``{"error": {"message", "type", "param", "code"}}``."""
    err_type, code = _ERROR_TYPES.get(status, ("server_error", "server_error"))
    payload = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
    await send_json(send, status, payload, extra_headers)


async def send_cut_json(send: Any, payload: Any) -> NoReturn:
    """Promise the whole JSON body, send half of it, then drop the connection.

    Raises:
        CutConnection: Always, after the half body (uvicorn then drops the connection).
    """
    data = json.dumps(payload).encode()
    await start_response(send, 200, _sized(data, b"application/json"))
    await send_body(send, data[: len(data) // 2], more_body=True)
    raise CutConnection


async def send_fault(send: Any, fault: Fault, authorization: str) -> None:
    """The response a fault sends instead of an answer (every kind but cut, delay, drip)."""
    if fault.kind == "status":
        message = fault.message or _DEFAULT_MESSAGES.get(fault.status_code, "Error.")
        if fault.echo_authorization:
            key = authorization.removeprefix("Bearer ").strip()
            message = f"{message} You sent: {key!s}. Authorization header: {authorization}"
        headers: Headers = []
        if fault.retry_after is not None:
            headers.append((b"retry-after", fault.retry_after.encode()))
        elif fault.retry_after_date_in is not None:
            when = email.utils.formatdate(time.time() + fault.retry_after_date_in, usegmt=True)
            headers.append((b"retry-after", when.encode()))
        await send_error(send, fault.status_code, message, headers)
    elif fault.kind == "malformed_json":
        await send_raw(
            send, 200, b'{"id": "chatcmpl-x", "choices": [{"index": 0, "mess', b"application/json"
        )
    elif fault.kind == "missing_choices":
        await send_json(send, 200, {"id": "chatcmpl-x", "object": "chat.completion"})
    elif fault.kind == "html":
        page = b"<!DOCTYPE html><html><head><title>Gateway</title></head><body>Please sign in.</body></html>"
        await send_raw(send, fault.status_code, page, b"text/html; charset=utf-8")
    else:  # pragma: no cover - constructors only make the kinds above
        raise ValueError(f"unknown fault kind {fault.kind!r}")
