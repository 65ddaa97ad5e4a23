"""The fake server's ASGI app: its two routes and how a chat request becomes a response.

``GET /v1/models`` lists the configured models. ``POST /v1/chat/completions`` is admitted
into the :class:`~fusionkit.testing.state.ServerState` (recorded, counted, given its
model's configuration and fault), then answered: waits, refusals and faults first, then the
scripted text — truncated at ``max_tokens``, checked against ``response_format`` — sent
whole, streamed, cut or dripped. Every wait is an ``asyncio.sleep`` in the server's loop,
so concurrent requests wait side by side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .responses import completion_payload, send_cut_json, send_error, send_fault, send_json
from .script import Fault, ModelConfig
from .state import ServerState
from .streaming import drip, send_stream
from .validation import BadRequestBody, mismatch, parse_chat_request, refusal

__all__ = ["ChatApp"]


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p if i == 0 else " " + p for i, p in enumerate(parts)]


def _count_tokens(text: str) -> int:
    return len(text.split())


def _last_user_text(body: Mapping[str, Any]) -> str:
    for m in reversed(body.get("messages") or []):
        if isinstance(m, Mapping) and m.get("role") == "user":
            return str(m.get("content", ""))
    return ""


def _usage(body: Mapping[str, Any], text: str, cost: float | None) -> dict[str, Any]:
    """Token counts (one token a word) of the prompt's messages and of ``text``."""
    prompt_tokens = sum(
        _count_tokens(str(m.get("content", "")))
        for m in body.get("messages") or []
        if isinstance(m, Mapping)
    )
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": _count_tokens(text),
        "total_tokens": prompt_tokens + _count_tokens(text),
    }
    if cost is not None:
        usage["cost"] = cost
    return usage


async def _waited(fault: Fault | None) -> Fault | None:
    """Sleep out a ``"delay"`` fault (then the answer is normal); other faults stay."""
    if fault is not None and fault.kind == "delay":
        await asyncio.sleep(fault.delay_s)
        return None
    return fault


class ChatApp:
    """The ASGI 3 app of :class:`~fusionkit.testing.FakeOpenAIServer`, over its state.

    Args:
        state: The server's configurations, queued faults and records.
    """

    def __init__(self, state: ServerState) -> None:
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # pragma: no cover - lifespan is off
            return
        path = scope["path"].rstrip("/")
        method = scope["method"]
        if path == "/v1/models" and method == "GET":
            names = self.state.model_names()
            data = [{"id": n, "object": "model", "owned_by": "fusionkit-test"} for n in names]
            await send_json(send, 200, {"object": "list", "data": data})
            return
        if path != "/v1/chat/completions" or method != "POST":
            await send_error(send, 404, f"No route for {method} {path}.")
            return
        raw = b""
        while True:
            event = await receive()
            raw += event.get("body", b"")
            if not event.get("more_body"):
                break
        try:
            body, model = parse_chat_request(raw)
        except BadRequestBody as exc:
            await send_error(send, 400, str(exc))
            return
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        cfg, fault = self.state.admit(model, body, authorization)
        try:
            await self._answer(send, receive, body, model, cfg, fault, authorization)
        finally:
            self.state.release(model)

    async def _answer(
        self,
        send: Any,
        receive: Any,
        body: dict[str, Any],
        model: str,
        cfg: ModelConfig | None,
        fault: Fault | None,
        authorization: str,
    ) -> None:
        if cfg is None:
            if self.state.unknown_models == "404":
                await send_error(send, 404, f"The model `{model}` does not exist.")
                return
            cfg = ModelConfig()
        if cfg.first_byte_delay_s > 0:
            await asyncio.sleep(cfg.first_byte_delay_s)
        fault = await _waited(fault)
        refused = refusal(body.get("response_format"), cfg.structured)
        if refused is not None and fault is None:
            await send_error(send, 400, refused)
            return
        reply = cfg.reply
        if isinstance(reply, Fault):
            fault = fault or reply
        elif callable(reply):
            produced = reply(body)
            if isinstance(produced, Fault):
                fault = fault or produced
                reply = None  # a delay/cut/drip from the function: the answer echoes, as above
            else:
                reply = produced
        fault = await _waited(fault)
        if fault is not None and fault.kind not in ("cut", "drip"):
            await send_fault(send, fault, authorization)
            return
        text = _last_user_text(body) if reply is None or isinstance(reply, Fault) else str(reply)
        wrong = mismatch(body.get("response_format"), text)
        if wrong is not None:
            await send_error(send, 500, wrong)
            return
        words = _words(text)
        finish = "stop"
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and 0 < max_tokens < _count_tokens(text):
            words = words[:max_tokens]
            finish = "length"
        text = "".join(words)
        usage = _usage(body, text, cfg.usage_cost)
        if fault is not None and fault.kind == "drip":
            await drip(send, receive, body, model, text, finish, usage, fault.delay_s)
            return
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            logprobs = bool(body.get("logprobs"))
            await send_stream(
                send, model, words, finish, usage, include_usage, cfg.delay_s, fault, logprobs
            )
            return
        if cfg.delay_s > 0:
            await asyncio.sleep(cfg.delay_s)
        payload = completion_payload(
            model, text, finish, words, usage, logprobs=bool(body.get("logprobs"))
        )
        if fault is not None:  # a cut non-streaming body: promise more bytes than we send
            await send_cut_json(send, payload)  # raises CutConnection
        await send_json(send, 200, payload)
