"""Majority vote (self-consistency), judge-free, over extracted answers.

Extraction lives in :mod:`fusionkit.fusion.extract` (re-exported here, so
``fusionkit.fusion.vote.extract_answer`` keeps working): it turns a reply into a short
normalised answer that can be compared (``"42"``, ``"B"``, ``"paris"``) and says where it
found it. :func:`majority` counts the answers and reports ties instead of hiding them;
:func:`fallback_choice` is the deterministic choice when a judge cannot be used.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .extract import (
    SHORT_ANSWER_WORDS,
    SOURCE_STRENGTH,
    Extraction,
    Extractor,
    detect_choices,
    extract_answer,
    locate_answer,
    normalize_number,
    normalize_text,
)

__all__ = [
    "SHORT_ANSWER_WORDS",
    "SOURCE_STRENGTH",
    "Extraction",
    "Extractor",
    "Tally",
    "break_tie",
    "detect_choices",
    "extract_answer",
    "fallback_choice",
    "locate_answer",
    "majority",
    "normalize_number",
    "normalize_text",
]


@dataclass(frozen=True, slots=True)
class Tally:
    """The result of a majority vote.

    Attributes:
        counts: Answer -> votes, in order of first appearance.
        top: The answers with the most votes (more than one on a tie).
        winner: The majority answer, or None on a tie or with no answers.
        voters: How many answers were counted (None answers do not vote).
    """

    counts: dict[str, int]
    top: tuple[str, ...]
    winner: str | None
    voters: int

    @property
    def tie(self) -> bool:
        """True when several answers share the most votes."""
        return len(self.top) > 1


def majority(answers: Sequence[str | None]) -> Tally:
    """Count answers (None does not vote) and find the majority.

    Returns:
        A :class:`Tally`; ``winner`` is None on a tie (``top`` lists the tied answers,
        in order of first appearance).
    """
    counts = Counter(a for a in answers if a is not None)
    ordered: dict[str, int] = {}
    for a in answers:
        if a is not None and a not in ordered:
            ordered[a] = counts[a]
    if not ordered:
        return Tally({}, (), None, 0)
    best = max(ordered.values())
    top = tuple(a for a, n in ordered.items() if n == best)
    return Tally(ordered, top, top[0] if len(top) == 1 else None, sum(ordered.values()))


def break_tie(tally: Tally, found: Sequence[Extraction]) -> tuple[str | None, str]:
    """Pick one of a tally's tied answers by how firmly the replies commit to them.

    Each tied answer scores the strongest place it was found (an explicit marker beats
    an equation, which beats the last number of a ramble: :data:`SOURCE_STRENGTH`);
    the highest score wins, and pool order decides only among equals.

    Args:
        tally: A :func:`majority` result.
        found: The extractions the tally counted, in pool order.

    Returns:
        ``(answer, how)``: the chosen answer (None when nothing was voted) and a phrase
        saying how it was chosen.
    """
    if not tally.top:
        return None, "no answers"
    if not tally.tie:
        return tally.top[0], "the majority"
    best = {a: max((f.strength for f in found if f.value == a), default=0) for a in tally.top}
    top = max(best.values())
    firm = [a for a in tally.top if best[a] == top]
    if len(firm) == 1:
        return firm[0], "a tie broken by the firmest statement of an answer"
    return firm[0], "a tie broken by pool order"


def fallback_choice(
    texts: Sequence[str],
    *,
    kind: str | Extractor = "auto",
    choices: Mapping[str, str] | None = None,
    question: str | None = None,
) -> tuple[int, str, dict[str, int] | None, list[str | None]]:
    """The deterministic fallback when a judge cannot be used.

    A majority vote over extracted answers when at least half of the texts have one
    (``auto`` extraction is strict here, so free-form essays are never voted on the
    numbers they happen to contain); a tie goes to the answer stated most firmly
    (:func:`break_tie`), then to pool order; with too few answers, the first text.

    Args:
        texts: The successful candidates' texts, in pool order.
        kind: As for :func:`extract_answer`.
        choices: As for :func:`extract_answer`.
        question: As for :func:`extract_answer` (the prompt, if known).

    Returns:
        ``(index into texts, why, vote counts or None, extracted answers)``.
    """
    if not texts:
        raise ValueError("fallback_choice needs at least one text")
    found = [
        locate_answer(t, kind=kind, choices=choices, strict=kind == "auto", question=question)
        for t in texts
    ]
    answers = [f.value for f in found]
    usable = sum(a is not None for a in answers)
    if len(texts) >= 2 and usable * 2 >= len(texts):
        tally = majority(answers)
        chosen, how = break_tie(tally, found)
        index = answers.index(chosen)  # its first reply in pool order represents it
        counts = ", ".join(f"{a!r}: {n}" for a, n in tally.counts.items())
        return (
            index,
            f"majority vote over extracted answers ({counts}); {how}",
            tally.counts,
            answers,
        )
    return 0, "the first successful candidate in pool order", None, answers
