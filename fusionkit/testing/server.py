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
import email.utils
import json
import logging
import random
import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import MissingDependencyError

__all__ = ["Fault", "FakeOpenAIServer"]

Reply = str | Callable[[dict[str, Any]], "str | Fault"]

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


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted misbehaviour of the server. Build it with the class methods.

    Attributes:
        kind: ``"status"``, ``"malformed_json"``, ``"html"``, ``"missing_choices"``,
            ``"cut"``, ``"delay"`` or ``"drip"``.
        status_code: HTTP status for ``"status"`` (and ``"html"``).
        message: Error text placed in the OpenAI-style error body.
        retry_after: ``Retry-After`` header value, sent verbatim (seconds or an HTTP date).
        retry_after_date_in: Send ``Retry-After`` as an HTTP date this many seconds from
            the moment the response is sent.
        echo_authorization: Put the request's Authorization header value into the error
            message, as some providers do (to test redaction).
        after_chunks: For ``"cut"``: how many content chunks are sent before the cut.
        abrupt: For ``"cut"``: drop the connection (True) or end the response cleanly
            without ``[DONE]`` or a finish reason (False).
        delay_s: For ``"delay"``: seconds before the first byte; then a normal answer.
            For ``"drip"``: seconds between the bytes of the answer.
    """

    kind: str
    status_code: int = 200
    message: str | None = None
    retry_after: str | None = None
    retry_after_date_in: float | None = None
    echo_authorization: bool = False
    after_chunks: int = 2
    abrupt: bool = True
    delay_s: float = 0.0

    @classmethod
    def status(
        cls,
        code: int,
        *,
        retry_after: str | float | None = None,
        retry_after_date_in: float | None = None,
        message: str | None = None,
        echo_authorization: bool = False,
    ) -> Fault:
        """An HTTP error with an OpenAI-style JSON body ``{"error": {"message", ...}}``."""
        return cls(
            "status",
            status_code=code,
            message=message,
            retry_after=None if retry_after is None else str(retry_after),
            retry_after_date_in=retry_after_date_in,
            echo_authorization=echo_authorization,
        )

    @classmethod
    def malformed_json(cls) -> Fault:
        """Status 200, ``application/json``, but the body is cut-off JSON."""
        return cls("malformed_json")

    @classmethod
    def html(cls, status_code: int = 200) -> Fault:
        """An HTML page instead of JSON (what a misconfigured proxy or captive portal sends)."""
        return cls("html", status_code=status_code)

    @classmethod
    def missing_choices(cls) -> Fault:
        """Valid JSON without a ``choices`` field."""
        return cls("missing_choices")

    @classmethod
    def cut(cls, after_chunks: int = 2, *, abrupt: bool = True) -> Fault:
        """A response cut off mid-way (streamed: after ``after_chunks`` chunks)."""
        return cls("cut", after_chunks=after_chunks, abrupt=abrupt)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before the first byte (e.g. longer than a client's read timeout)."""
        return cls("delay", delay_s=seconds)

    @classmethod
    def drip(cls, every_s: float) -> Fault:
        """Send the answer one byte every ``every_s`` seconds (beats a read timeout forever)."""
        return cls("drip", delay_s=every_s)


_RANDOM_FAULTS: tuple[Fault, ...] = (
    Fault.status(500),
    Fault.status(502),
    Fault.status(503),
    Fault.status(429, retry_after="0"),
)


@dataclass(slots=True)
class _ModelConfig:
    reply: Reply | Fault | None = None  # None: echo the last user message
    delay_s: float = 0.0
    first_byte_delay_s: float = 0.0
    fault_rate: float = 0.0
    random_faults: tuple[Fault, ...] = _RANDOM_FAULTS
    rng: random.Random = field(default_factory=random.Random)
    usage_cost: float | None = None
    structured: str = "json_schema"


_STRUCTURED_LEVELS = ("json_schema", "json_object", "none")


class _CutConnection(Exception):
    """Raised inside the app to make uvicorn drop the connection mid-response."""


class _DropCutTracebacks(logging.Filter):
    # A deliberate cut is not a server bug: keep it out of the test output.
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _CutConnection)


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
        self._models: dict[str, _ModelConfig] = {}
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
        logging.getLogger("uvicorn.error").addFilter(_DropCutTracebacks())
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
        if structured not in _STRUCTURED_LEVELS:
            raise ValueError(f"structured must be one of {_STRUCTURED_LEVELS}, not {structured!r}.")
        cfg = _ModelConfig(
            reply=reply,
            delay_s=delay_s,
            first_byte_delay_s=first_byte_delay_s,
            fault_rate=fault_rate,
            rng=random.Random(seed),
            usage_cost=usage_cost,
            structured=structured,
        )
        if random_faults is not None:
            cfg.random_faults = tuple(random_faults)
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
            await _send_json(send, 200, {"object": "list", "data": data})
            return
        if path != "/v1/chat/completions" or method != "POST":
            await _send_error(send, 404, f"No route for {method} {path}.")
            return
        raw = b""
        while True:
            event = await receive()
            raw += event.get("body", b"")
            if not event.get("more_body"):
                break
        try:
            body = json.loads(raw)
            model = body["model"]
            if not isinstance(model, str):
                raise TypeError("model must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            await _send_error(send, 400, f"Invalid request body: {exc}")
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
        cfg: _ModelConfig | None,
        fault: Fault | None,
        authorization: str,
    ) -> None:
        if cfg is None:
            if self.unknown_models == "404":
                await _send_error(send, 404, f"The model `{model}` does not exist.")
                return
            cfg = _ModelConfig()
        if cfg.first_byte_delay_s > 0:
            await asyncio.sleep(cfg.first_byte_delay_s)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_s)
            fault = None
        refused = _refusal(body.get("response_format"), cfg.structured)
        if refused is not None and fault is None:
            await _send_error(send, 400, refused)
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
            await _send_fault(send, fault, authorization)
            return
        text = _last_user_text(body) if reply is None or isinstance(reply, Fault) else str(reply)
        mismatch = _mismatch(body.get("response_format"), text)
        if mismatch is not None:
            await _send_error(send, 500, mismatch)
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
            await _drip(send, receive, body, model, text, finish, usage, fault.delay_s)
            return
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            await _send_stream(
                send,
                model,
                words,
                finish,
                usage,
                include_usage,
                cfg,
                fault,
                bool(body.get("logprobs")),
            )
            return
        if cfg.delay_s > 0:
            await asyncio.sleep(cfg.delay_s)
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                    "logprobs": _token_logprobs(words) if body.get("logprobs") else None,
                }
            ],
            "usage": usage,
        }
        if fault is not None:  # a cut non-streaming body: promise more bytes than we send
            data = json.dumps(payload).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(data)).encode()),
                    ],
                }
            )
            await send(
                {"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True}
            )
            raise _CutConnection
        await _send_json(send, 200, payload)


def _token_logprobs(words: list[str]) -> dict[str, Any]:
    """OpenAI-style ``logprobs``: a fixed -0.25 per word, so tests can check the sum."""
    return {"content": [{"token": w, "logprob": -0.25, "top_logprobs": []} for w in words]}


def _refusal(response_format: Any, accepted: str) -> str | None:
    """Why a server accepting up to ``accepted`` refuses this response_format (400)."""
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind not in ("json_schema", "json_object", "text"):
        return f"Invalid 'response_format': unknown type {kind!r}."
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, Mapping) or not spec.get("name") or "schema" not in spec:
            return "Invalid 'response_format.json_schema': 'name' and 'schema' are required."
    if kind != "text" and (
        accepted == "none" or (accepted == "json_object" and kind == "json_schema")
    ):
        return f"Invalid parameter: 'response_format' of type '{kind}' is not supported with this model."
    return None


def _mismatch(response_format: Any, text: str) -> str | None:
    """Why the scripted reply breaks an accepted response_format (a mistake in the test)."""
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind not in ("json_schema", "json_object"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return f"FakeOpenAIServer: the scripted reply {text[:80]!r} is not a JSON object, but response_format is {kind}."
    if kind == "json_schema":
        import jsonschema

        schema = response_format["json_schema"]["schema"]
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(schema).iter_errors(value)
        )
        if error is not None:
            return f"FakeOpenAIServer: the scripted reply does not satisfy the json_schema: {error.message}."
    return None


async def _drip(
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
    headers = [(b"content-type", content_type)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for i in range(len(data)):
        try:
            event = await asyncio.wait_for(receive(), every_s)
            if event.get("type") == "http.disconnect":
                return
        except asyncio.TimeoutError:
            pass
        await send({"type": "http.response.body", "body": data[i : i + 1], "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _send_json(
    send: Any, status: int, payload: Any, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send_raw(send, status, json.dumps(payload).encode(), b"application/json", extra_headers)


async def _send_raw(
    send: Any,
    status: int,
    data: bytes,
    content_type: bytes,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(data)).encode())]
    headers += extra_headers or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _send_error(
    send: Any,
    status: int,
    message: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    err_type, code = _ERROR_TYPES.get(status, ("server_error", "server_error"))
    payload = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
    await _send_json(send, status, payload, extra_headers)


async def _send_fault(send: Any, fault: Fault, authorization: str) -> None:
    if fault.kind == "status":
        message = fault.message or _DEFAULT_MESSAGES.get(fault.status_code, "Error.")
        if fault.echo_authorization:
            key = authorization.removeprefix("Bearer ").strip()
            message = f"{message} You sent: {key!s}. Authorization header: {authorization}"
        headers: list[tuple[bytes, bytes]] = []
        if fault.retry_after is not None:
            headers.append((b"retry-after", fault.retry_after.encode()))
        elif fault.retry_after_date_in is not None:
            when = email.utils.formatdate(time.time() + fault.retry_after_date_in, usegmt=True)
            headers.append((b"retry-after", when.encode()))
        await _send_error(send, fault.status_code, message, headers)
    elif fault.kind == "malformed_json":
        await _send_raw(
            send, 200, b'{"id": "chatcmpl-x", "choices": [{"index": 0, "mess', b"application/json"
        )
    elif fault.kind == "missing_choices":
        await _send_json(send, 200, {"id": "chatcmpl-x", "object": "chat.completion"})
    elif fault.kind == "html":
        page = b"<!DOCTYPE html><html><head><title>Gateway</title></head><body>Please sign in.</body></html>"
        await _send_raw(send, fault.status_code, page, b"text/html; charset=utf-8")
    else:  # pragma: no cover - constructors only make the kinds above
        raise ValueError(f"unknown fault kind {fault.kind!r}")


async def _send_stream(
    send: Any,
    model: str,
    words: list[str],
    finish: str,
    usage: dict[str, Any],
    include_usage: bool,
    cfg: _ModelConfig,
    fault: Fault | None,
    logprobs: bool = False,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    def chunk(
        delta: dict[str, Any], finish_reason: str | None = None, lp: Any = None
    ) -> dict[str, Any]:
        return {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": lp}
            ],
        }

    async def event(payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        await send(
            {"type": "http.response.body", "body": f"data: {data}\n\n".encode(), "more_body": True}
        )

    await event(chunk({"role": "assistant", "content": ""}))
    pause = cfg.delay_s / max(1, len(words))
    for i, w in enumerate(words):
        if fault is not None and i >= fault.after_chunks:
            break
        if pause > 0:
            await asyncio.sleep(pause)
        await event(chunk({"content": w}, None, _token_logprobs([w]) if logprobs else None))
    if fault is not None:
        if fault.abrupt:
            raise _CutConnection
        await send({"type": "http.response.body", "body": b""})
        return
    await event(chunk({}, finish))
    if include_usage:
        await event(
            {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
        )
    await event("[DONE]")
    await send({"type": "http.response.body", "body": b""})
