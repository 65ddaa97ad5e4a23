"""What a test scripts into :class:`~fusionkit.testing.FakeOpenAIServer`: replies and faults.

:class:`Fault` is the vocabulary of misbehaviour (an HTTP error, a broken body, a cut, a
delay, a drip); :class:`ModelConfig` is how one model answers — its reply, its delays and
how often it fails at random. Both are plain data: the server's app reads them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RANDOM_FAULTS", "STRUCTURED_LEVELS", "Fault", "ModelConfig", "Reply"]

Reply = str | Callable[[dict[str, Any]], "str | Fault"]


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


#: The faults a model with a ``fault_rate`` draws from unless told otherwise.
RANDOM_FAULTS: tuple[Fault, ...] = (
    Fault.status(500),
    Fault.status(502),
    Fault.status(503),
    Fault.status(429, retry_after="0"),
)

#: The ``structured`` levels a model may accept, strongest first.
STRUCTURED_LEVELS = ("json_schema", "json_object", "none")


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """How one model answers (see ``FakeOpenAIServer.configure`` for each field).

    ``rng`` is the model's own random source, so its random faults replay from a seed.
    """

    reply: Reply | Fault | None = None  # None: echo the last user message
    delay_s: float = 0.0
    first_byte_delay_s: float = 0.0
    fault_rate: float = 0.0
    random_faults: tuple[Fault, ...] = RANDOM_FAULTS
    rng: random.Random = field(default_factory=random.Random)
    usage_cost: float | None = None
    structured: str = "json_schema"
