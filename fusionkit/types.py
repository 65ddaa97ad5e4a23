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

__all__ = [
    "ROLES",
    "Completion",
    "Message",
    "MessagesLike",
    "Request",
    "Usage",
    "build_request",
    "normalize_messages",
]

ROLES = ("system", "user", "assistant")


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


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one completion."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
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
        memory_bytes: For local models, the model's memory footprint; else None.
    """

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    ttft_s: float | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    cached: bool = False
    memory_bytes: int | None = None

    @property
    def tokens_per_s(self) -> float | None:
        """Completion tokens per second of latency (None when not measurable)."""
        if self.latency_s <= 0 or self.usage.completion_tokens == 0:
            return None
        return self.usage.completion_tokens / self.latency_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (used by the response cache)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completion:
        """Inverse of :meth:`to_dict`."""
        d = dict(data)
        d["usage"] = Usage(**d.get("usage", {}))
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
        out.append(Message(role, content))
    if system is not None:
        if not isinstance(system, str):
            raise InvalidRequestError("system must be a string.")
        out = [Message("system", system)] + [m for m in out if m.role != "system"]
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
) -> Request:
    """Validate user input into a :class:`Request`.

    Raises:
        InvalidRequestError: For any invalid argument, naming it and the accepted range.
    """
    msgs = normalize_messages(messages, system=system)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
        raise InvalidRequestError(f"max_tokens must be a positive integer, got {max_tokens!r}.")
    if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        raise InvalidRequestError(f"temperature must be between 0 and 2, got {temperature!r}.")
    if top_p is not None and not 0 < top_p <= 1:
        raise InvalidRequestError(f"top_p must be in (0, 1], got {top_p!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidRequestError(f"seed must be an integer, got {seed!r}.")
    stops: tuple[str, ...]
    if stop is None:
        stops = ()
    elif isinstance(stop, str):
        stops = (stop,)
    else:
        stops = tuple(stop)
    if any(not isinstance(s, str) or not s for s in stops):
        raise InvalidRequestError("stop must be a non-empty string or a list of them.")
    return Request(
        messages=msgs,
        max_tokens=max_tokens,
        temperature=float(temperature),
        top_p=top_p,
        seed=seed,
        stop=stops,
    )
