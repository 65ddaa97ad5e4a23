"""Frozen dataclasses of the model layer: Message, Usage, Request, Completion.

Fusion results (Candidate, Judgment, FusionResult) live in :mod:`fusionkit.fusion.result`
and panel data (ToolCard, Review, PanelResult) in :mod:`fusionkit.panel.types`: each
layer owns its data, and data flows one way (models never import fusion or panel code).
All of them are re-exported from :mod:`fusionkit`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import InvalidRequestError
from .schema import Schema, SchemaLike

__all__ = [
    "ROLES",
    "Completion",
    "Message",
    "MessagesLike",
    "Request",
    "Usage",
    "build_request",
    "clean_text",
    "normalize_messages",
]

ROLES = ("system", "user", "assistant")


def clean_text(text: str) -> str:
    """Join UTF-16 surrogate pairs and replace lone surrogates with U+FFFD.

    Valid JSON may carry ``"\\ud83d"`` alone (an emoji split across two stream events, or a
    broken server); such a string cannot be encoded to UTF-8, so it would crash printing,
    saving and SQLite later. Every text that crosses the model boundary goes through this.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message.

    Attributes:
        role: ``"system"``, ``"user"`` or ``"assistant"``.
        content: The text.
    """

    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        """Return the OpenAI-style ``{"role": ..., "content": ...}`` dict."""
        return {"role": self.role, "content": self.content}


MessagesLike = str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any]]


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one completion.

    A count is None when it is unknown (a server that sent no usage, or sent nonsense such
    as negative or non-integer counts): unknown is never shown as 0 or NaN. Sums with an
    unknown count are unknown.
    """

    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0

    @classmethod
    def unknown(cls) -> Usage:
        """Usage whose counts are not known."""
        return cls(None, None)

    @property
    def known(self) -> bool:
        """True when both counts are known."""
        return self.prompt_tokens is not None and self.completion_tokens is not None

    @property
    def total_tokens(self) -> int | None:
        """Prompt plus completion tokens (None when either is unknown)."""
        return _add(self.prompt_tokens, self.completion_tokens)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            _add(self.prompt_tokens, other.prompt_tokens),
            _add(self.completion_tokens, other.completion_tokens),
        )


@dataclass(frozen=True, slots=True)
class Request:
    """A validated completion request, as every backend receives it.

    Built by :func:`build_request`; backends never see unvalidated input.
    """

    messages: tuple[Message, ...]
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    schema: Schema | None = None
    logprobs: bool = False

    @property
    def deterministic(self) -> bool:
        """True when the same request must give the same answer (greedy or seeded)."""
        return self.temperature == 0 or self.seed is not None

    def params(self) -> dict[str, Any]:
        """The sampling parameters as a plain dict (for cache keys and logs)."""
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
            **({"schema": self.schema.key} if self.schema is not None else {}),
            **({"logprobs": True} if self.logprobs else {}),
        }

    @property
    def prompt_text(self) -> str:
        """The last user message's text (handy for display)."""
        for m in reversed(self.messages):
            if m.role == "user":
                return m.content
        return self.messages[-1].content


@dataclass(frozen=True, slots=True)
class Completion:
    """One model answer, with honest accounting.

    Attributes:
        text: The answer text.
        model: Display name of the model that produced it.
        usage: Prompt and completion token counts.
        latency_s: Wall time from request to last token, in seconds.
        ttft_s: Time to first token in seconds (None when not measured).
        cost_usd: Cost in US dollars; 0.0 for local models; None when unknown.
        finish_reason: ``"stop"``, ``"length"``, ... as reported by the backend.
        cached: True when served from the response cache (latency is the original's).
        parsed: With ``schema=``, the decoded object that satisfies the schema (plain JSON
            data); else None.
        logprobs: With ``logprobs=True`` and a backend that reports them, the natural-log
            probability of each generated token, in order; else None.
    """

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    ttft_s: float | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    cached: bool = False
    parsed: Any = None
    logprobs: tuple[float, ...] | None = None

    @property
    def mean_logprob(self) -> float | None:
        """Mean log-probability per generated token (None when not reported)."""
        if not self.logprobs:
            return None
        return sum(self.logprobs) / len(self.logprobs)

    @property
    def tokens_per_s(self) -> float | None:
        """Completion tokens per second of latency (None when not measurable)."""
        if self.latency_s <= 0 or not self.usage.completion_tokens:
            return None
        return self.usage.completion_tokens / self.latency_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (used by the response cache)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completion:
        """Inverse of :meth:`to_dict`."""
        d = dict(data)
        d.pop("memory_bytes", None)  # written by fusionkit 0.1 caches
        d["usage"] = Usage(**d.get("usage", {}))
        if d.get("logprobs") is not None:
            d["logprobs"] = tuple(d["logprobs"])
        return cls(**d)


def normalize_messages(messages: MessagesLike, *, system: str | None = None) -> tuple[Message, ...]:
    """Turn a prompt string, a dict, a Message or a list of them into validated Messages.

    Args:
        messages: A prompt string, a Message, an OpenAI-style dict, or a sequence of those.
        system: Optional system prompt, placed first (replacing none already given).

    Returns:
        A tuple of Messages.

    Raises:
        InvalidRequestError: Empty prompt or list, unknown role, non-text content.
    """
    items: Iterable[Any]
    if messages is None or isinstance(messages, (int, float, bytes)):
        raise InvalidRequestError(
            "messages must be a prompt string or a list of {'role', 'content'} messages, "
            f"not {type(messages).__name__}."
        )
    if isinstance(messages, str):
        items = [Message("user", messages)]
    elif isinstance(messages, (Message, Mapping)):
        items = [messages]
    else:
        items = list(messages)
    out: list[Message] = []
    for i, m in enumerate(items):
        if isinstance(m, Message):
            role, content = m.role, m.content
        elif isinstance(m, Mapping):
            if "role" not in m or "content" not in m:
                raise InvalidRequestError(
                    f"message {i} must have 'role' and 'content' keys, got {sorted(m)!r}."
                )
            role, content = m["role"], m["content"]
        else:
            raise InvalidRequestError(
                f"message {i} must be a str, a Message or a dict, not {type(m).__name__}."
            )
        if role not in ROLES:
            raise InvalidRequestError(
                f"message {i} has unknown role {role!r}; use one of {', '.join(ROLES)}."
            )
        if not isinstance(content, str):
            raise InvalidRequestError(
                f"message {i} content must be text, not {type(content).__name__}."
            )
        out.append(Message(role, clean_text(content)))
    if system is not None:
        if not isinstance(system, str):
            raise InvalidRequestError("system must be a string.")
        out = [Message("system", clean_text(system))] + [m for m in out if m.role != "system"]
    if not out:
        raise InvalidRequestError("no messages given: pass a prompt string or a list of messages.")
    if not any(m.content.strip() for m in out if m.role == "user"):
        raise InvalidRequestError(
            "the prompt is empty: give at least one user message with some text."
        )
    return tuple(out)


def build_request(
    messages: MessagesLike,
    *,
    system: str | None = None,
    max_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float | None = None,
    seed: int | None = None,
    stop: str | Sequence[str] | None = None,
    schema: SchemaLike | None = None,
    logprobs: bool = False,
) -> Request:
    """Validate user input into a :class:`Request`.

    Args:
        messages: A prompt string, a Message, an OpenAI-style dict, or a sequence of those.
        system: Optional system prompt.
        max_tokens: Upper bound on generated tokens (a positive integer).
        temperature: 0 (greedy) to 2.
        top_p: Nucleus sampling bound in (0, 1], or None.
        seed: Sampling seed (an integer), or None.
        stop: A stop string or a sequence of them.
        schema: A JSON Schema dict (or pydantic model class) the answer must satisfy.
        logprobs: Ask the backend for each generated token's log-probability.

    Raises:
        InvalidRequestError: For any invalid argument, naming it and the accepted range.
    """
    msgs = normalize_messages(messages, system=system)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
        raise InvalidRequestError(f"max_tokens must be a positive integer, got {max_tokens!r}.")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not 0 <= temperature <= 2
    ):
        raise InvalidRequestError(
            f"temperature must be a number between 0 and 2, got {temperature!r}."
        )
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1
    ):
        raise InvalidRequestError(f"top_p must be a number in (0, 1] or None, got {top_p!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidRequestError(f"seed must be an integer, got {seed!r}.")
    stops: tuple[str, ...]
    if stop is None:
        stops = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, (list, tuple)):
        stops = tuple(stop)
    else:
        raise InvalidRequestError(
            f"stop must be a string or a list of strings, not {type(stop).__name__}."
        )
    if any(not isinstance(s, str) or not s for s in stops):
        raise InvalidRequestError("stop must be a non-empty string or a list of them.")
    return Request(
        messages=msgs,
        max_tokens=max_tokens,
        temperature=float(temperature),
        top_p=None if top_p is None else float(top_p),
        seed=seed,
        stop=stops,
        schema=None if schema is None else Schema.of(schema),
        logprobs=_flag(logprobs, "logprobs"),
    )


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{name} must be True or False, got {value!r}.")
    return value
