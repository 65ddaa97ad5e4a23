"""Answers the fake server sends piece by piece: the SSE stream and the one-byte drip.

:func:`send_stream` writes ``chat.completion.chunk`` events, one per word, paced to spread
the model's ``delay_s``, and can be cut after a few chunks. :func:`drip` sends a whole
answer (JSON or SSE) one byte at a time, to beat a client's read timeout forever.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from .responses import CutConnection, send_body, start_response, token_logprobs
from .script import Fault

__all__ = ["drip", "send_stream"]


async def send_stream(
    send: Any,
    model: str,
    words: list[str],
    finish: str,
    usage: dict[str, Any],
    include_usage: bool,
    delay_s: float,
    fault: Fault | None,
    logprobs: bool = False,
) -> None:
    """Stream ``words`` as SSE chunks, ``delay_s`` spread between them.

    With a ``fault`` (a cut) only its ``after_chunks`` words are sent, then the connection
    drops (``abrupt``) or the response ends without a finish reason or ``[DONE]``. Otherwise
    a finish chunk, the usage chunk when ``include_usage``, and ``data: [DONE]`` follow.

    Raises:
        CutConnection: For an abrupt cut.
    """
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await start_response(send, 200, headers)
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(
        delta: dict[str, Any], finish_reason: str | None = None, lp: Any = None
    ) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": lp}
        return {**head, "choices": [choice]}

    async def event(payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        await send_body(send, f"data: {data}\n\n".encode(), more_body=True)

    await event(chunk({"role": "assistant", "content": ""}))
    pause = delay_s / max(1, len(words))
    for i, w in enumerate(words):
        if fault is not None and i >= fault.after_chunks:
            break
        if pause > 0:
            await asyncio.sleep(pause)
        await event(chunk({"content": w}, None, token_logprobs([w]) if logprobs else None))
    if fault is not None:
        if fault.abrupt:
            raise CutConnection
        await send_body(send)
        return
    await event(chunk({}, finish))
    if include_usage:
        await event({**head, "choices": [], "usage": usage})
    await event("[DONE]")
    await send_body(send)


async def drip(
    send: Any,
    receive: Any,
    body: Mapping[str, Any],
    model: str,
    text: str,
    finish: str,
    usage: dict[str, Any],
    every_s: float,
) -> None:
    """The answer, one byte every ``every_s`` seconds, until it is sent or the client leaves."""
    if body.get("stream"):
        chunk = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
        data = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        content_type = b"text/event-stream"
    else:
        message = {"role": "assistant", "content": text}
        payload = {
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }
        data = json.dumps(payload).encode()
        content_type = b"application/json"
    await start_response(send, 200, [(b"content-type", content_type)])
    for i in range(len(data)):
        try:
            event = await asyncio.wait_for(receive(), every_s)
            if event.get("type") == "http.disconnect":
                return
        except asyncio.TimeoutError:
            pass
        await send_body(send, data[i : i + 1], more_body=True)
    await send_body(send)
