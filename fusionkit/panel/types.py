"""Panel data: ToolCard, Persona, Review, PanelResult (frozen, rendered escaped).

A :class:`Review` is either a *view* (an integer score 0–100 and a ship/skip verdict) or
an honest absence of one: score ``None``, verdict ``None`` and the take ``"No panel take"``,
with ``error`` saying why. The constructor enforces that invariant, so no code path can
build a half-view or a made-up score.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InvalidRequestError

if TYPE_CHECKING:  # pandas loads only when a table is asked for
    import pandas as pd

__all__ = [
    "NO_TAKE",
    "VERDICTS",
    "PanelResult",
    "Persona",
    "Review",
    "ToolCard",
    "Verdict",
    "safe_url",
]

#: What a persona that gave no usable view shows (the wording readers already know).
NO_TAKE = "No panel take"

Verdict = Literal["ship", "skip"]
VERDICTS: tuple[str, ...] = ("ship", "skip")


def safe_url(url: str) -> str:
    """Return ``url`` when it is an http(s) link, else ``""`` (never a ``javascript:`` href)."""
    u = url.strip()
    return u if u.lower().startswith(("http://", "https://")) else ""


def _require_text(owner: str, field_name: str, value: object, *, empty_ok: bool = True) -> None:
    if not isinstance(value, str):
        raise InvalidRequestError(f"{owner}.{field_name} must be text, not {type(value).__name__}.")
    if not empty_ok and not value.strip():
        raise InvalidRequestError(f"{owner}.{field_name} must not be empty.")


@dataclass(frozen=True, slots=True)
class ToolCard:
    """A tool (or model) under review, as a panel and a decision page show it.

    Attributes:
        name: Display name; also the key of its community votes.
        tagline: One line saying what it is.
        category: E.g. ``"Edge LLM"``, ``"Code assistant"``.
        pricing: E.g. ``"Free, Apache-2.0"`` or ``"$20/mo"``.
        entry: How one gets started (``pip install ...``, a free tier, an API sign-up).
        description: A paragraph for the panel to judge.
        best_for: Who or what it suits best (shown on the decision page).
        url: Home page; rendered as a link only when it is http(s).
    """

    name: str
    tagline: str = ""
    category: str = ""
    pricing: str = ""
    entry: str = ""
    description: str = ""
    best_for: str = ""
    url: str = ""

    def __post_init__(self) -> None:
        _require_text("ToolCard", "name", self.name, empty_ok=False)
        for f in ("tagline", "category", "pricing", "entry", "description", "best_for", "url"):
            _require_text("ToolCard", f, getattr(self, f))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCard:
        """Build a card from a mapping; unknown keys are an error (they are usually typos).

        Args:
            data: A mapping with at least ``name``; the other fields are optional text.

        Raises:
            InvalidRequestError: ``data`` is not a mapping, has unknown keys, or has a
                missing name or a non-text value.
        """
        known = set(cls.__dataclass_fields__)
        if not isinstance(data, Mapping):
            raise InvalidRequestError(
                f"ToolCard.from_dict(data) takes a mapping such as {{'name': 'My tool', "
                f"'tagline': '...'}}, not {type(data).__name__}; the fields are {sorted(known)}."
            )
        if "name" not in data:
            raise InvalidRequestError(
                f"ToolCard.from_dict(data) needs a 'name'; got the keys {sorted(map(str, data))}."
            )
        extra = sorted(map(str, set(data) - known))
        if extra:
            raise InvalidRequestError(
                f"unknown ToolCard field(s) {extra}; the fields are {sorted(known)}."
            )
        return cls(**dict(data))

    def to_dict(self) -> dict[str, str]:
        """The card as a plain dict."""
        return asdict(self)

    def _repr_html_(self) -> str:
        from ..render.html import render

        return render("panel_card.html", card=self, url=safe_url(self.url))


@dataclass(frozen=True, slots=True)
class Persona:
    """A reviewer on the panel.

    Args:
        name: Display name (``"Builder"``, ``"Teacher"``, ...); unique within a panel.
        focus: What this reviewer looks at, in a short phrase; it goes into the prompt.
        system_prompt: Optional framing replacing "You are <name>, a reviewer ..."; the
            focus and the JSON answer format are always appended.
        example_take: This persona's take on the prompt's worked example (a made-up
            receipt-scanning tool), in its own voice; None uses a neutral one. Small models
            copy the example's tone, so this is where a persona's voice is set.
        example_score: The worked example's score (0–100); its verdict follows from it.
    """

    name: str
    focus: str
    system_prompt: str | None = None
    example_take: str | None = None
    example_score: int | None = None

    def __post_init__(self) -> None:
        _require_text("Persona", "name", self.name, empty_ok=False)
        _require_text("Persona", "focus", self.focus, empty_ok=False)
        if self.system_prompt is not None:
            _require_text("Persona", "system_prompt", self.system_prompt, empty_ok=False)
        if self.example_take is not None:
            _require_text("Persona", "example_take", self.example_take, empty_ok=False)
        s = self.example_score
        if s is not None and (isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= 100):
            raise InvalidRequestError(
                f"Persona.example_score must be an integer 0–100 or None, got {s!r}."
            )


@dataclass(frozen=True, slots=True)
class Review:
    """One persona's view of a subject, or the honest absence of one.

    Attributes:
        persona: The persona's name.
        score: 0–100, or None when the persona gave no usable view.
        verdict: ``"ship"`` or ``"skip"``, or None when there is no view.
        take: The persona's reasoning, or ``"No panel take"`` when there is no view.
        raw: The model's last raw reply (for auditing the parse).
        attempts: How many model calls this review took (a re-ask makes it 2).
        error: Why there is no view (None when there is one).
        latency_s: Total model time over the attempts, in seconds.
        cost_usd: Total cost over the attempts (None when unknown).
        note: What the panel did to the reply, when it did anything: a verdict that
            contradicted the score and was resolved by the rule in
            :func:`fusionkit.panel.parse.resolve_verdict`, or a reply read leniently
            because the backend returned free text. None when the reply was used as is.
    """

    persona: str
    score: int | None
    verdict: Verdict | None
    take: str
    raw: str = ""
    attempts: int = 1
    error: str | None = None
    latency_s: float = 0.0
    cost_usd: float | None = 0.0
    note: str | None = None

    def __post_init__(self) -> None:
        has_score, has_verdict = self.score is not None, self.verdict is not None
        if has_score != has_verdict:
            raise InvalidRequestError(
                "a Review has both a score and a verdict, or neither; "
                f"got score={self.score!r}, verdict={self.verdict!r}."
            )
        if has_score:
            if isinstance(self.score, bool) or not isinstance(self.score, int):
                raise InvalidRequestError(f"Review.score must be an int, got {self.score!r}.")
            if not 0 <= self.score <= 100:
                raise InvalidRequestError(f"Review.score must be 0–100, got {self.score}.")
            if self.verdict not in VERDICTS:
                raise InvalidRequestError(
                    f"Review.verdict must be 'ship' or 'skip', got {self.verdict!r}."
                )
        elif self.take != NO_TAKE:
            raise InvalidRequestError(f"a Review without a score must have take {NO_TAKE!r}.")

    @classmethod
    def no_take(
        cls,
        persona: str,
        error: str,
        *,
        raw: str = "",
        attempts: int = 1,
        latency_s: float = 0.0,
        cost_usd: float | None = 0.0,
    ) -> Review:
        """A review with no view: score/verdict None, take ``"No panel take"``, ``error`` set."""
        return cls(
            persona=persona,
            score=None,
            verdict=None,
            take=NO_TAKE,
            raw=raw,
            attempts=attempts,
            error=error,
            latency_s=latency_s,
            cost_usd=cost_usd,
        )

    @property
    def has_view(self) -> bool:
        """True when the persona gave a score and a verdict."""
        return self.score is not None

    @property
    def label(self) -> str:
        """``"87/100 · ship"``, or ``"No panel take"``."""
        if self.score is None:
            return NO_TAKE
        return f"{self.score}/100 · {self.verdict}"


@dataclass(frozen=True, slots=True)
class PanelResult:
    """What a panel said about one subject.

    Attributes:
        subject_name: The subject's display name (a card's name, ``"Fusion answer"``, ...).
        reviews: One Review per persona, in panel order (failures included, never dropped).
        model: Display name of the model that played the personas.
        subject_kind: ``"tool"``, ``"fusion"`` or ``"text"``.
        elapsed_s: Wall time of the whole review (personas ran in parallel).
    """

    subject_name: str
    reviews: tuple[Review, ...] = field(default_factory=tuple)
    model: str = ""
    subject_kind: str = "text"
    elapsed_s: float = 0.0

    def __post_init__(self) -> None:
        # Accept a list for convenience but store a tuple so the result stays immutable.
        if not isinstance(self.reviews, tuple):
            object.__setattr__(self, "reviews", tuple(self.reviews))

    @property
    def ship(self) -> int:
        """How many personas said ship."""
        return sum(r.verdict == "ship" for r in self.reviews)

    @property
    def skip(self) -> int:
        """How many personas said skip."""
        return sum(r.verdict == "skip" for r in self.reviews)

    @property
    def no_view(self) -> int:
        """How many personas gave no usable view."""
        return sum(not r.has_view for r in self.reviews)

    @property
    def ship_pct(self) -> float | None:
        """Ship share among the personas that gave a view, in percent (None if none did)."""
        views = self.ship + self.skip
        return None if views == 0 else 100.0 * self.ship / views

    @property
    def mean_score(self) -> float | None:
        """Mean score over the personas that gave a view (None if none did)."""
        scores = [r.score for r in self.reviews if r.score is not None]
        return None if not scores else sum(scores) / len(scores)

    @property
    def verdict(self) -> str:
        """``"Ship"``, ``"Skip"``, ``"Split"`` (a tie) or ``"No verdict"`` (no views)."""
        if self.ship + self.skip == 0:
            return "No verdict"
        if self.ship > self.skip:
            return "Ship"
        if self.skip > self.ship:
            return "Skip"
        return "Split"

    @property
    def headline(self) -> str:
        """E.g. ``"Ship · 4 ship / 0 skip"`` (plus ``" · 1 no take"`` when some gave none)."""
        text = f"{self.verdict} · {self.ship} ship / {self.skip} skip"
        if self.no_view:
            text += f" · {self.no_view} no take"
        return text

    @property
    def cost_usd(self) -> float | None:
        """Total cost of the review (None when any part is unknown)."""
        costs = [r.cost_usd for r in self.reviews]
        return None if any(c is None for c in costs) else float(sum(costs))  # type: ignore[arg-type]

    @property
    def ship_label(self) -> str:
        """``"80% ship (4 of 5 takes)"``, or ``"No panel takes"`` when nobody gave a view."""
        pct = self.ship_pct
        if pct is None:
            return "No panel takes"
        views = self.ship + self.skip
        return f"{pct:.0f}% ship ({self.ship} of {views} take{'s' if views != 1 else ''})"

    def review_for(self, persona: str) -> Review | None:
        """The review by the persona named ``persona``, or None."""
        for r in self.reviews:
            if r.persona == persona:
                return r
        return None

    def to_frame(self) -> pd.DataFrame:
        """One row per persona: score, verdict, take, attempts, error, latency."""
        import pandas as pd

        rows = [
            {
                "persona": r.persona,
                "score": r.score,
                "verdict": r.verdict,
                "take": r.take,
                "attempts": r.attempts,
                "error": r.error,
                "note": r.note,
                "latency_s": r.latency_s,
            }
            for r in self.reviews
        ]
        df = pd.DataFrame(
            rows,
            columns=[
                "persona",
                "score",
                "verdict",
                "take",
                "attempts",
                "error",
                "note",
                "latency_s",
            ],
        )
        df["score"] = df["score"].astype("Int64")
        return df.set_index("persona")

    def _repr_html_(self) -> str:
        from ..render.html import render

        return render("panel_result.html", result=self)

    def to_html(self) -> str:
        """The review as a standalone HTML page (inline CSS, nothing fetched, text escaped)."""
        return _page(f"Panel review: {self.subject_name}", self).to_html()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_html` to ``path`` (atomically; the folder is created).

        Args:
            path: Where to write the ``.html`` file.

        Returns:
            The absolute path written.
        """
        return _page(f"Panel review: {self.subject_name}", self).save(path)


def _page(title: str, obj: Any) -> Any:
    """A one-object :class:`~fusionkit.render.report.Report` (the standalone page)."""
    from ..render.report import Report

    return Report(title).add_object(obj)
