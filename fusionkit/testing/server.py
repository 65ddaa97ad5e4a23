"""FakeOpenAIServer: a real OpenAI-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

It speaks the protocol over real sockets (uvicorn in a background thread), so client code
is exercised end to end: connection pools, timeouts, SSE parsing, retries, Retry-After.
Every delay is an ``asyncio.sleep`` inside the server's loop, so hundreds of concurrent
requests wait side by side instead of queueing.

Endpoints:
    ``POST /v1/chat/completions`` — non-streaming JSON, or SSE when ``"stream": true``
    (with ``stream_options.include_usage`` a final chunk carries ``usage``; ``usage.cost``
    is added when the model is configured with ``usage_cost``, as OpenRouter does). With
    ``"logprobs": true`` each word is reported with ``logprob`` -0.25.
    ``GET /v1/models`` — the configured models.

Structured output: a request's ``response_format`` is honoured. With ``json_schema`` the
scripted reply must be JSON satisfying the schema, with ``json_object`` a JSON object —
else the server answers 500 naming the mismatch (a real server constrains decoding, so
such a reply is a mistake in the test). ``configure(model, structured=...)`` makes a model
refuse levels as some real servers do: ``"json_object"`` rejects ``json_schema`` with a
400 naming ``response_format``, ``"none"`` rejects any ``response_format``.

Unknown models: by default (``unknown_models="echo"``) a model that was never configured
answers by echoing the last user message, so ad-hoc tests need no set-up. With
``unknown_models="404"`` it gets an OpenAI-style 404. A configured model can be made
permanently missing with ``srv.configure("gone", reply=Fault.status(404))`` — any
:class:`Fault` given as ``reply`` is returned for every request.

Example:
    >>> with FakeOpenAIServer() as srv:                                # doctest: +SKIP
    ...     srv.configure("model-x", reply="Paris", delay_s=0.2)
    ...     srv.queue_faults("model-x", [Fault.status(429, retry_after="1")])
    ...     # point a client at srv.base_url ...

Privacy: request bodies are recorded (``srv.requests``); headers never are, only whether
an ``Authorization`` header was present (``srv.authorization_seen``). A fault may echo the
key back in its body (``echo_authorization=True``) to test that clients redact it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ..errors import MissingDependencyError
from .responses import (
    DropCutTracebacks,
    completion_payload,
    send_cut_json,
    send_error,
    send_fault,
    send_json,
)
from .script import RANDOM_FAULTS, STRUCTURED_LEVELS, Fault, ModelConfig, Reply
from .streaming import drip, send_stream
from .validation import BadRequestBody, mismatch, parse_chat_request, refusal

__all__ = ["Fault", "FakeOpenAIServer"]


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


class FakeOpenAIServer:
    """A real OpenAI-compatible server on ``127.0.0.1`` (random free port), in a thread.

    Args:
        unknown_models: ``"echo"`` (default): unconfigured models echo the last user
            message. ``"404"``: unconfigured models get an OpenAI-style 404.
        host: Interface to bind; loopback only by design.

    Attributes:
        requests: Every chat-completion request body received (parsed JSON), in order.
        authorization_seen: For each entry of ``requests``, whether an Authorization
            header was present (its value is never stored).
    """

    def __init__(
        self, *, unknown_models: Literal["echo", "404"] = "echo", host: str = "127.0.0.1"
    ) -> None:
        if unknown_models not in ("echo", "404"):
            raise ValueError("unknown_models must be 'echo' or '404'.")
        self.unknown_models = unknown_models
        self.host = host
        self.port: int | None = None
        self.requests: list[dict[str, Any]] = []
        self.authorization_seen: list[bool] = []
        self._lock = threading.Lock()
        self._models: dict[str, ModelConfig] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._attempts: dict[str, int] = defaultdict(int)
        self._in_flight: dict[str, int] = defaultdict(int)
        self._max_in_flight: dict[str, int] = defaultdict(int)
        self._total_in_flight = 0
        self._total_max_in_flight = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (the server must be started)."""
        if self.port is None:
            raise RuntimeError("FakeOpenAIServer is not started; use `with` or .start().")
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 10.0) -> FakeOpenAIServer:
        """Start serving in a daemon thread; returns once the port accepts connections."""
        if self._thread is not None:
            return self
        try:
            import uvicorn
        except ImportError as exc:  # pragma: no cover - dev extra missing
            raise MissingDependencyError(
                "FakeOpenAIServer needs uvicorn: pip install 'fusionkit[dev]'."
            ) from exc
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when
        # the protocol is explicit; without it Nagle's algorithm meets the client's delayed
        # ACK and every response waits ~40 ms between its headers and its body.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, 0))
        self._sock = sock
        self.port = sock.getsockname()[1]
        logging.getLogger("uvicorn.error").addFilter(DropCutTracebacks())
        config = uvicorn.Config(
            self._app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            proxy_headers=False,
            backlog=2048,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("FakeOpenAIServer failed to start.")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self.port is not None else "not started"
        return f"FakeOpenAIServer({where})"

    # -- configuration --------------------------------------------------------------------

    def configure(
        self,
        model: str,
        *,
        reply: Reply | Fault | None = None,
        delay_s: float = 0.0,
        first_byte_delay_s: float = 0.0,
        fault_rate: float = 0.0,
        seed: int = 0,
        usage_cost: float | None = None,
        random_faults: Iterable[Fault] | None = None,
        structured: Literal["json_schema", "json_object", "none"] = "json_schema",
    ) -> None:
        """Set how ``model`` answers (replacing any earlier configuration).

        Args:
            model: The model id clients send.
            reply: A fixed text; a function of the request body returning a text or a
                :class:`Fault`; a :class:`Fault` returned for every request; or None to
                echo the last user message.
            delay_s: Seconds spent generating. Non-streaming: waited before the response.
                Streaming: spread evenly between the chunks.
            first_byte_delay_s: Seconds before the response headers are sent.
            fault_rate: Probability (0–1) that a request gets a random fault from
                ``random_faults`` (default: 500, 502, 503, or 429 with ``Retry-After: 0``).
            seed: Seed of the random faults, so load tests are reproducible.
            usage_cost: When set, ``usage.cost`` (USD) is reported, as OpenRouter does.
            random_faults: The faults drawn at ``fault_rate``.
            structured: The strongest ``response_format`` accepted: ``"json_schema"``
                (both), ``"json_object"`` (a 400 for ``json_schema``) or ``"none"``
                (a 400 for any ``response_format``).
        """
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1.")
        if structured not in STRUCTURED_LEVELS:
            raise ValueError(f"structured must be one of {STRUCTURED_LEVELS}, not {structured!r}.")
        cfg = ModelConfig(
            reply=reply,
            delay_s=delay_s,
            first_byte_delay_s=first_byte_delay_s,
            fault_rate=fault_rate,
            random_faults=RANDOM_FAULTS if random_faults is None else tuple(random_faults),
            rng=random.Random(seed),
            usage_cost=usage_cost,
            structured=structured,
        )
        with self._lock:
            self._models[model] = cfg

    def queue_faults(self, model: str, faults: Iterable[Fault]) -> None:
        """Queue faults for ``model``: each request consumes one; then it answers normally."""
        with self._lock:
            self._faults[model].extend(faults)

    def attempts(self, model: str | None = None) -> int:
        """How many chat-completion requests arrived for ``model`` (None: all models)."""
        with self._lock:
            if model is None:
                return sum(self._attempts.values())
            return self._attempts.get(model, 0)

    def max_in_flight(self, model: str | None = None) -> int:
        """The most requests that were being served at once, for ``model`` or in total."""
        with self._lock:
            if model is None:
                return self._total_max_in_flight
            return self._max_in_flight.get(model, 0)

    def reset(self) -> None:
        """Forget recorded requests, counters and queued faults (configurations stay)."""
        with self._lock:
            self.requests.clear()
            self.authorization_seen.clear()
            self._faults.clear()
            self._attempts.clear()
            self._max_in_flight.clear()
            self._total_max_in_flight = 0

    # -- the ASGI app ---------------------------------------------------------------------

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # pragma: no cover - lifespan is off
            return
        path = scope["path"].rstrip("/")
        method = scope["method"]
        if path == "/v1/models" and method == "GET":
            with self._lock:
                names = sorted(self._models)
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
        with self._lock:
            self.requests.append(body)
            self.authorization_seen.append(bool(authorization))
            self._attempts[model] += 1
            self._in_flight[model] += 1
            self._max_in_flight[model] = max(self._max_in_flight[model], self._in_flight[model])
            self._total_in_flight += 1
            self._total_max_in_flight = max(self._total_max_in_flight, self._total_in_flight)
            cfg = self._models.get(model)
            queued = self._faults.get(model)
            fault = queued.popleft() if queued else None
            if fault is None and cfg is not None and cfg.fault_rate > 0:
                if cfg.rng.random() < cfg.fault_rate:
                    fault = cfg.rng.choice(cfg.random_faults)
        try:
            await self._answer(send, receive, body, model, cfg, fault, authorization)
        finally:
            with self._lock:
                self._in_flight[model] -= 1
                self._total_in_flight -= 1

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
            if self.unknown_models == "404":
                await send_error(send, 404, f"The model `{model}` does not exist.")
                return
            cfg = ModelConfig()
        if cfg.first_byte_delay_s > 0:
            await asyncio.sleep(cfg.first_byte_delay_s)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_s)
            fault = None
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
            else:
                reply = produced
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_s)
            fault = None
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
        if isinstance(max_tokens, int) and 0 < max_tokens < len(text.split()):
            words = words[:max_tokens]
            finish = "length"
        text = "".join(words)
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
        if cfg.usage_cost is not None:
            usage["cost"] = cfg.usage_cost
        if fault is not None and fault.kind == "drip":
            await drip(send, receive, body, model, text, finish, usage, fault.delay_s)
            return
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            await send_stream(
                send,
                model,
                words,
                finish,
                usage,
                include_usage,
                cfg.delay_s,
                fault,
                bool(body.get("logprobs")),
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
