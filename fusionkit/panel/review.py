"""A panel of reviewer personas reviews a subject: a ToolCard, a fusion result, or text.

Every persona is asked with the review schema (``take``, ``score``, ``verdict``): a local
model decodes under a grammar built from it, an HTTP model gets it as ``response_format``,
and the model layer validates the answer either way. A backend whose reply still does not
satisfy the schema raises :class:`~fusionkit.errors.StructuredOutputError` quoting the
reply, and the lenient parser (:func:`fusionkit.panel.parse.parse_reply`) reads that text
as the last step-down. Every view then passes the same checks (a take that is a reason;
the contradiction rule), see :mod:`fusionkit.panel.parse`.

The personas run concurrently (one ``asyncio.gather``; a local model micro-batches them)
and each one is reported as it finishes (:mod:`fusionkit.panel.progress`). An unusable
reply is re-asked once (``retries``) in the same conversation with a reminder naming what
was wrong (the judge's loop, :func:`fusionkit.asking.ask`); a reply still unusable, or a
model error, becomes that persona's ``"No panel take"`` with ``error`` saying why. Other
personas are never affected, and no score or verdict is ever made up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .._progress import Progress
from .._sync import sync_twin
from ..asking import Reply, ask, follow_up
from ..errors import InvalidRequestError, StructuredOutputError
from ..types import Message, build_request
from .parse import (
    ParsedReply,
    cut_loop,
    from_object,
    parse_reply,
    resolve_verdict,
    take_problem,
)
from .personas import (
    DEFAULT_PERSONAS,
    REVIEW_SCHEMA,
    card_text,
    example_take,
    fusion_text,
    messages_for,
    reminder_prompt,
)
from .progress import ProgressLike, check_progress
from .types import PanelResult, Persona, Review, ToolCard

if TYPE_CHECKING:
    from ..models.base import Model

__all__ = ["MIN_TOKENS", "Panel", "Subject", "describe_subject"]

#: What a panel can review: a ToolCard, a FusionResult (duck-typed), or plain text.
Subject = Any

#: A usable reply as read: the view, and the notes on how it was read (or None).
_View = tuple[ParsedReply, "str | None"]

_NAME_LEN = 60
#: Smallest reply budget: a 200-character reason (about 50 tokens of words, up to twice
#: that when a small model writes symbols) plus the JSON around it, with margin.
MIN_TOKENS = 160


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
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InvalidRequestError(f"name must be non-empty text or None, got {name!r}.")
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


def _resolve_model(model: object) -> Model:
    from ..models.base import Model
    from ..models.specs import model as resolve_model

    if not isinstance(model, (Model, str)):
        raise InvalidRequestError(
            f"Panel(model=...) takes a Model (e.g. fk.edge_model()) or a spec string such as "
            f"'edge' or 'openrouter:...', not {type(model).__name__}."
        )
    return resolve_model(model)


class Panel:
    """A panel of personas, all played by one model.

    Args:
        model: The model playing every persona (a Model, or a spec such as ``"edge"``).
        personas: The reviewers, in display order (default: Builder, Skeptic, Futurist,
            Founder, Creator). Names must be unique.
        max_tokens: Token budget of each reply. It is raised to at least
            :data:`MIN_TOKENS`, what the schema's longest answer needs: a budget that
            cuts the JSON before it closes can only produce no take.
        temperature: Sampling temperature. The default 0.7 is seeded (see ``seed``), so it
            is as repeatable and cacheable as greedy decoding; greedy decoding (0) makes a
            small model loop on one phrase until the length limit (measured on the
            embedded 135M model: 9 of 10 takes looped greedily, 3–4 of 10 at 0.7).
        retries: How many times an unusable reply is re-asked (0 or more).
        seed: With ``temperature > 0``, persona ``i`` samples with seed ``seed + i`` (a
            re-ask with ``seed + i + 1000``), so a re-run gives the same panel and the
            response cache can serve it. None samples afresh each time.

    Example:
        >>> reply = '{"take": "Saves an afternoon of setup.", "score": 80, "verdict": "ship"}'
        >>> Panel(FakeModel(replies=reply)).review("a CLI", progress=False).headline
        'Ship · 5 ship / 0 skip'
    """

    def __init__(
        self,
        model: Model | str,
        personas: Sequence[Persona] = DEFAULT_PERSONAS,
        *,
        max_tokens: int = MIN_TOKENS,
        temperature: float = 0.7,
        retries: int = 1,
        seed: int | None = 0,
    ) -> None:
        self.model: Model = _resolve_model(model)
        if isinstance(personas, (str, Persona)) or not isinstance(personas, Sequence):
            raise InvalidRequestError(
                "Panel(personas=...) takes a list of Persona objects, e.g. "
                f'[Persona("Teacher", focus="...")], not {type(personas).__name__}.'
            )
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
        build_request("check", max_tokens=max_tokens, temperature=temperature, seed=seed)
        self.max_tokens = max(max_tokens, MIN_TOKENS)
        self.temperature = float(temperature)
        self.retries = retries
        self.seed = seed

    def __repr__(self) -> str:
        names = ", ".join(p.name for p in self.personas)
        return f"Panel(model={self.model.name!r}, personas=[{names}])"

    async def areview(
        self, subject: Subject, *, name: str | None = None, progress: ProgressLike = True
    ) -> PanelResult:
        """Ask every persona, concurrently, for a take, a score and a verdict.

        Args:
            subject: A :class:`ToolCard`, a FusionResult, or plain text.
            name: Display name for the subject (default: the card's name, ...).
            progress: Show each persona as it finishes (a bar in a notebook, lines on
                stderr in a terminal); False silences it; a callable
                ``progress(label, done, total)`` receives the events instead.

        Returns:
            A :class:`PanelResult` with one Review per persona, in panel order; a persona
            that failed has ``"No panel take"`` and its ``error``.

        Raises:
            InvalidRequestError: The subject cannot be reviewed, or a bad ``progress``.
        """
        check_progress(progress, "Panel.review")
        subject_name, kind, text = describe_subject(subject, name=name)
        tracker = Progress(
            progress,
            len(self.personas),
            "Panel",
            start=f"Panel: {len(self.personas)} personas played by {self.model.name} "
            f"reviewing {subject_name}",
        )
        try:
            return await self._areview(subject_name, kind, text, tracker)
        finally:
            tracker.close()

    review = sync_twin(areview)

    async def _areview(
        self, subject_name: str, kind: str, text: str, tracker: Progress
    ) -> PanelResult:
        """Review with a progress tracker shared with the caller (compare shares one)."""
        start = time.perf_counter()

        async def one(index: int, persona: Persona) -> Review:
            review = await self._ask(persona, text, index)
            tracker.step(
                f"{subject_name} · {persona.name}: {review.label} ({review.latency_s:.1f} s)"
            )
            return review

        reviews = await asyncio.gather(*(one(i, p) for i, p in enumerate(self.personas)))
        return PanelResult(
            subject_name=subject_name,
            reviews=tuple(reviews),
            model=self.model.name,
            subject_kind=kind,
            elapsed_s=time.perf_counter() - start,
        )

    def _seed(self, index: int, attempt: int) -> int | None:
        """The sampling seed of one persona's attempt (None when greedy or unseeded)."""
        if self.temperature == 0 or self.seed is None:
            return None
        return self.seed + index + 1000 * (attempt - 1)

    async def _ask(self, persona: Persona, text: str, index: int = 0) -> Review:
        """Ask one persona, read the reply, re-ask (``retries`` times): a Review.

        The loop is :func:`fusionkit.asking.ask`'s; each attempt carries its wall time,
        cost and lenient-read note (:class:`_Spent`) for the sums and the note here.
        """
        examples = (example_take(persona),)

        async def call(messages: list[Message], attempt: int) -> Reply:
            return await self._call(messages, self._seed(index, attempt))

        def read(reply: Reply) -> tuple[_View | None, str | None]:
            spent: _Spent = reply.data
            view = parse_reply(reply.text) if spent.lenient else from_object(reply.parsed)
            view, cut = _uncut(view)
            problems = _problems(view, spent.shown, examples)
            note = "; ".join(n for n in (spent.lenient, cut) if n) or None
            # One sentence, joined with "; " as reminder_prompt joins a list: same words.
            return ((view, note), None) if not problems else (None, "; ".join(problems))

        def reask(messages: list[Message], reply: Reply, problem: str) -> list[Message]:
            return follow_up(messages, reply.text, reminder_prompt((problem,)))

        asked = await ask(
            call, messages_for(persona, text), read, reask, retries=self.retries, who=persona.name
        )
        spent: list[_Spent] = [r.data for r in asked.replies]
        latency = sum(a.latency_s for a in spent)
        cost = _total_cost(a.cost_usd for a in spent)
        if asked.value is None:
            error = (
                f"the model failed: {asked.call_error}"
                if asked.call_error is not None
                else f"unusable reply after {asked.attempts} "
                f"attempt{'s' if asked.attempts > 1 else ''}: {asked.problems[-1]}"
            )
            return Review.no_take(
                persona.name,
                error,
                raw=asked.raw,
                attempts=asked.attempts,
                latency_s=latency,
                cost_usd=cost,
            )
        view, note = asked.value
        assert view.score is not None and view.verdict is not None
        verdict, resolved = resolve_verdict(view.score, view.verdict)
        return Review(
            persona=persona.name,
            score=view.score,
            verdict=verdict,
            take=view.take,
            raw=asked.raw,
            attempts=asked.attempts,
            latency_s=latency,
            cost_usd=cost,
            note="; ".join(n for n in (note, resolved) if n) or None,
        )

    async def _call(self, messages: list[Message], seed: int | None) -> Reply:
        """One call with the review schema; a model failure is a failed Reply, not raised.

        A :class:`StructuredOutputError` is no failure: its free text is read leniently
        (the last step-down when nothing constrained the decoding). ``finish_reason`` is
        left unset: the panel's checks word a cut-off reply themselves.
        """
        # Wall time around the call: a failed structured answer carries no Completion.
        t0 = time.perf_counter()
        try:
            c = await self.model.acomplete(
                messages,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                seed=seed,
                schema=REVIEW_SCHEMA,
            )
        except StructuredOutputError as exc:
            note = f"read leniently: the reply did not satisfy the schema ({exc.problem})"
            spent = _Spent(messages, time.perf_counter() - t0, None, note)
            return Reply(exc.reply, data=spent)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one persona's failure is data
            spent = _Spent(messages, time.perf_counter() - t0, 0.0)
            return Reply(error=f"{type(exc).__name__}: {exc}", data=spent)
        spent = _Spent(messages, time.perf_counter() - t0, c.cost_usd)
        return Reply(c.text, parsed=c.parsed, data=spent)


@dataclass(frozen=True, slots=True)
class _Spent:
    """What one attempt was shown and spent (carried on its :class:`Reply` as ``data``).

    Attributes:
        shown: The messages of the attempt (the take checks compare the take with them).
        latency_s: Wall time of the call.
        cost_usd: Its cost; None when unknown (a reply that failed the schema); 0.0 for
            a failed call, which adds nothing.
        lenient: The note when the reply was read leniently, else None.
    """

    shown: Sequence[Message]
    latency_s: float
    cost_usd: float | None
    lenient: str | None = None


def _uncut(read: ParsedReply) -> tuple[ParsedReply, str | None]:
    """The reply with a looping take cut at its first repeat, and a note when it was."""
    take, cut = cut_loop(read.take)
    if not cut:
        return read, None
    return replace(read, take=take), "the reason looped; it is cut where it began to repeat"


def _problems(
    read: ParsedReply, shown: Sequence[Message], examples: Sequence[str]
) -> tuple[str, ...]:
    """Everything that keeps a read reply from being a view, in words for the re-ask."""
    prompt = [m.content for m in shown if m.role != "assistant"]
    system = [m.content for m in shown if m.role == "system"]
    take = take_problem(read.take, shown=prompt, examples=examples, instructions=system)
    return (*read.problems, *((take,) if take else ()))


def _total_cost(costs: Iterable[float | None]) -> float | None:
    """Sum costs; None (unknown) once any part is unknown."""
    total: float | None = 0.0
    for cost in costs:
        total = None if total is None or cost is None else total + cost
    return total
