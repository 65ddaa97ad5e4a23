"""FakeOpenAIServer: a real OpenAI-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

It speaks the protocol over real sockets (uvicorn in a background thread), so client code
is exercised end to end: connection pools, timeouts, SSE parsing, retries, Retry-After.
Every delay is an ``asyncio.sleep`` inside the server's loop, so hundreds of concurrent
requests wait side by side instead of queueing.

This module runs the server (uvicorn in a daemon thread) and holds the test's API; the parts
live beside it: ``script`` (:class:`Fault`, a model's configuration), ``state`` (what was
scripted and what was seen, behind one lock), ``app`` (the routes and how a request is
answered), ``validation`` (request checks), ``responses`` and ``streaming`` (the bytes sent).

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

import logging
import random
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any, Literal

from ..errors import MissingDependencyError
from .app import ChatApp
from .responses import DropCutTracebacks
from .script import RANDOM_FAULTS, STRUCTURED_LEVELS, Fault, ModelConfig, Reply
from .state import ServerState

__all__ = ["Fault", "FakeOpenAIServer"]


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
        self._state = ServerState(unknown_models)
        self._app = ChatApp(self._state)
        self.host = host
        self.port: int | None = None
        # The state's own lists: reset() clears them in place, so these stay current.
        self.requests: list[dict[str, Any]] = self._state.requests
        self.authorization_seen: list[bool] = self._state.authorization_seen
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def unknown_models(self) -> str:
        """How a model never configured answers: ``"echo"`` or ``"404"``."""
        return self._state.unknown_models

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
        self._state.set_model(model, cfg)

    def queue_faults(self, model: str, faults: Iterable[Fault]) -> None:
        """Queue faults for ``model``: each request consumes one; then it answers normally."""
        self._state.queue_faults(model, faults)

    def attempts(self, model: str | None = None) -> int:
        """How many chat-completion requests arrived for ``model`` (None: all models)."""
        return self._state.attempts(model)

    def max_in_flight(self, model: str | None = None) -> int:
        """The most requests that were being served at once, for ``model`` or in total."""
        return self._state.max_in_flight(model)

    def reset(self) -> None:
        """Forget recorded requests, counters and queued faults (configurations stay)."""
        self._state.reset()
