"""A panel of reviewer personas reviews a subject: a ToolCard, a fusion result, or text.

The personas run in parallel (one ``asyncio.gather`` over ``model.acomplete``; a local
model batches them). Each reply is parsed by :func:`fusionkit.panel.parse.parse_reply`;
an unusable reply is re-asked once (``retries``) in the same conversation with a reminder
naming what was wrong; a reply still unusable, or a model error, becomes that persona's
``"No panel take"`` with ``error`` saying why. Other personas are never affected, and no
score or verdict is ever made up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._sync import run_sync
from ..errors import InvalidRequestError
from ..types import Message, build_request
from .parse import parse_reply
from .personas import DEFAULT_PERSONAS, card_text, fusion_text, reminder_prompt
from .personas import system_prompt as persona_system_prompt
from .personas import user_prompt as persona_user_prompt
from .types import PanelResult, Persona, Review, ToolCard

if TYPE_CHECKING:
    from ..models.base import Model

__all__ = ["Panel", "Subject", "describe_subject"]

#: What a panel can review: a ToolCard, a FusionResult (duck-typed), or plain text.
Subject = Any

_NAME_LEN = 60


def describe_subject(subject: Subject, *, name: str | None = None) -> tuple[str, str, str]:
    """Turn a subject into ``(display name, kind, text for the prompt)``.

    Args:
        subject: A :class:`ToolCard`; an object with ``.prompt`` and ``.answer`` (a
            FusionResult — duck-typed so the panel does not import the fusion engine);
            or a non-empty string.
        name: Display name overriding the default one.

    Returns:
        The display name, the kind (``"tool"``, ``"fusion"``, ``"text"``) and the text.

    Raises:
        InvalidRequestError: Anything else, or an empty string.
    """
    if isinstance(subject, ToolCard):
        return name or subject.name, "tool", card_text(subject)
    if isinstance(subject, str):
        text = subject.strip()
        if not text:
            raise InvalidRequestError(
                "the subject text is empty: give the panel something to review."
            )
        first = text.splitlines()[0]
        default = first if len(first) <= _NAME_LEN else first[: _NAME_LEN - 1] + "…"
        return name or default, "text", text
    if hasattr(subject, "answer") and hasattr(subject, "prompt"):
        mode = getattr(subject, "mode", None)
        default = f"Fused answer ({mode})" if mode else "Fused answer"
        return name or default, "fusion", fusion_text(subject)
    raise InvalidRequestError(
        f"a panel reviews a ToolCard, a FusionResult or a string, not {type(subject).__name__}."
    )


class Panel:
    """A panel of personas, all played by one model.

    Args:
        model: The model playing every persona (a Model, or a spec such as ``"edge"``).
        personas: The reviewers, in display order (default: Builder, Skeptic, Futurist,
            Founder, Creator). Names must be unique.
        max_tokens: Token budget of each reply.
        temperature: Sampling temperature (0: greedy, deterministic and cacheable).
        retries: How many times an unusable reply is re-asked (0 or more).

    Example:
        >>> panel = Panel(FakeModel(replies='{"score": 80, "verdict": "ship", "take": "ok"}'))
        >>> panel.review("a CLI that renames files").headline
        'Ship · 5 ship / 0 skip'
    """

    def __init__(
        self,
        model: Model | str,
        personas: Sequence[Persona] = DEFAULT_PERSONAS,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        retries: int = 1,
    ) -> None:
        from ..models.specs import model as resolve_model

        self.model: Model = resolve_model(model)
        self.personas: tuple[Persona, ...] = tuple(personas)
        if not self.personas:
            raise InvalidRequestError("a panel needs at least one persona.")
        for p in self.personas:
            if not isinstance(p, Persona):
                raise InvalidRequestError(
                    f"personas must be Persona objects, got {type(p).__name__}; "
                    'define one as Persona("Teacher", focus="...").'
                )
        names = [p.name for p in self.personas]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidRequestError(f"persona names must be unique; repeated: {dupes}.")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidRequestError(f"retries must be an integer >= 0, got {retries!r}.")
        # Validate the sampling parameters once, here, rather than as five identical failures.
        build_request("check", max_tokens=max_tokens, temperature=temperature)
        self.max_tokens = max_tokens
        self.temperature = float(temperature)
        self.retries = retries

    def __repr__(self) -> str:
        names = ", ".join(p.name for p in self.personas)
        return f"Panel(model={self.model.name!r}, personas=[{names}])"

    async def areview(self, subject: Subject, *, name: str | None = None) -> PanelResult:
        """Ask every persona, in parallel, for a score, a verdict and a take.

        Args:
            subject: A :class:`ToolCard`, a FusionResult, or plain text.
            name: Display name for the subject (default: the card's name, ...).

        Returns:
            A :class:`PanelResult` with one Review per persona, in panel order; a persona
            that failed has ``"No panel take"`` and its ``error``.

        Raises:
            InvalidRequestError: The subject cannot be reviewed.
        """
        subject_name, kind, text = describe_subject(subject, name=name)
        start = time.perf_counter()
        reviews = await asyncio.gather(*(self._review_one(p, text) for p in self.personas))
        return PanelResult(
            subject_name=subject_name,
            reviews=tuple(reviews),
            model=self.model.name,
            subject_kind=kind,
            elapsed_s=time.perf_counter() - start,
        )

    def review(self, subject: Subject, *, name: str | None = None) -> PanelResult:
        """Sync twin of :meth:`areview`; works inside Jupyter's running loop."""
        return run_sync(self.areview(subject, name=name))

    async def _review_one(self, persona: Persona, text: str) -> Review:
        messages = [
            Message("system", persona_system_prompt(persona)),
            Message("user", persona_user_prompt(text, persona)),
        ]
        attempts, latency, cost = 0, 0.0, 0.0
        cost_known = True
        raw = ""
        problems: tuple[str, ...] = ()
        for _ in range(1 + self.retries):
            attempts += 1
            try:
                completion = await self.model.acomplete(
                    messages, max_tokens=self.max_tokens, temperature=self.temperature
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one persona's failure is data
                return Review.no_take(
                    persona.name,
                    f"the model failed: {type(exc).__name__}: {exc}",
                    raw=raw,
                    attempts=attempts,
                    latency_s=latency,
                    cost_usd=cost if cost_known else None,
                )
            latency += completion.latency_s
            if completion.cost_usd is None:
                cost_known = False
            else:
                cost += completion.cost_usd
            raw = completion.text
            parsed = parse_reply(raw)
            if parsed.usable:
                return Review(
                    persona=persona.name,
                    score=parsed.score,
                    verdict=parsed.verdict,
                    take=parsed.take,
                    raw=raw,
                    attempts=attempts,
                    latency_s=latency,
                    cost_usd=cost if cost_known else None,
                )
            problems = parsed.problems
            if completion.finish_reason == "length":
                problems = (*problems, "the reply was cut off at max_tokens")
            messages = [
                *messages,
                Message("assistant", raw),
                Message("user", reminder_prompt(problems)),
            ]
        return Review.no_take(
            persona.name,
            f"unusable reply after {attempts} attempt{'s' if attempts > 1 else ''}: "
            + "; ".join(problems),
            raw=raw,
            attempts=attempts,
            latency_s=latency,
            cost_usd=cost if cost_known else None,
        )
