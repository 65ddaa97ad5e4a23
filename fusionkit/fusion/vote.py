"""Answer extraction and majority vote (self-consistency), judge-free.

:func:`extract_answer` turns a reply into a short normalised answer that can be compared:
a number (``"42"``, ``"0.5"``), an option letter (``"B"``) or a short normalised phrase
(``"paris"``). It looks, in order, for an explicit marker (``\\boxed{..}``, ``Final
answer:``, ``The answer is``, ``Answer:``, ``####``), then an option letter when the prompt
offers options (:func:`detect_choices`; then only a letter counts, or an option's exact
text), else a number, then a short phrase. ``strict=True``
is used for fallbacks on free-form prompts: only an explicit marker or a reply of a few
words counts, so an essay is never "voted" on the last number it happens to contain.

:func:`majority` counts the answers and reports ties instead of hiding them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "SHORT_ANSWER_WORDS",
    "Tally",
    "detect_choices",
    "extract_answer",
    "majority",
    "normalize_number",
    "normalize_text",
]

#: A reply of at most this many words counts as a short answer by itself.
SHORT_ANSWER_WORDS = 8

Extractor = Callable[[str], "str | None"]

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_MARKERS = [
    re.compile(r"(?i)\bfinal\s+answer\s*(?:is)?\s*[:=\-]?\s*(?P<seg>[^\n]+)"),
    re.compile(
        r"(?i)\bthe\s+(?:correct\s+|right\s+|final\s+|best\s+)?(?:answer|option|choice)\s+is"
        r"\s*[:=]?\s*(?P<seg>[^\n]+)"
    ),
    re.compile(r"(?im)^[ \t*#>_-]*answer[ \t*_]*[:=][ \t]*(?P<seg>[^\n]+)"),
    re.compile(r"####\s*(?P<seg>[^\n]+)"),
]
_CHOICE_LINE = re.compile(r"(?m)^[ \t]*\(?([A-Ha-h])[).:][ \t]+(\S[^\n]*)$")
_LETTER_START = re.compile(r"^[\s*_(\[]*([A-H])(?:[\s*_)\].:,]|$)")
_LETTER_NAMED = re.compile(r"\b(?:option|choice|letter)\s*\(?([A-H])\)?(?![A-Za-z])", re.I)
_LETTER_PAREN = re.compile(r"\(([A-H])\)")
_NUMBER = re.compile(r"(?<![\w.])-?\$?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?%?(?![\w])")
_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_ARTICLES = re.compile(r"^(?:the|a|an)\s+")
_STRIP = " \t\n\r.,;:!?\"'`*_()[]{}<>"


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


def detect_choices(prompt: str) -> dict[str, str]:
    """Find multiple-choice options (``A) Paris`` lines) in a prompt.

    Returns:
        Letter -> option text, or an empty dict when fewer than two options are found.
    """
    found: dict[str, str] = {}
    for m in _CHOICE_LINE.finditer(prompt or ""):
        letter = m.group(1).upper()
        found.setdefault(letter, m.group(2).strip())
    return found if len(found) >= 2 else {}


def normalize_number(token: str) -> str | None:
    """Canonical form of a number token: ``"1,000"`` -> ``"1000"``, ``"3.50"`` -> ``"3.5"``,
    ``"1/2"`` -> ``"0.5"``, ``"$5"`` -> ``"5"``, ``"seven"`` -> ``"7"``; None if not a number."""
    t = token.strip().strip(_STRIP).lower()
    if t in _WORDS:
        return _WORDS[t]
    t = t.replace("$", "").replace(",", "").replace("%", "").replace(" ", "")
    try:
        if "/" in t:
            num, den = t.split("/", 1)
            value = Fraction(int(num), int(den))
        else:
            value = Fraction(t)
    except (ValueError, ZeroDivisionError):
        return None
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return text or "0"


def normalize_text(text: str) -> str:
    """Lowercase, strip markdown and punctuation at the ends, drop a leading article."""
    t = text.strip().strip(_STRIP).lower()
    t = re.sub(r"\s+", " ", t)
    t = _ARTICLES.sub("", t)
    return t.strip(_STRIP)


def _marker_segment(text: str) -> str | None:
    best: tuple[int, str] | None = None
    for m in _BOXED.finditer(text):
        if best is None or m.start() >= best[0]:
            best = (m.start(), m.group(1))
    for pattern in _MARKERS:
        for m in pattern.finditer(text):
            if best is None or m.start() > best[0]:
                best = (m.start(), m.group("seg"))
    if best is None:
        return None
    seg = best[1].strip()
    return seg or None


def _choice_from(segment: str, choices: Mapping[str, str], *, whole: bool) -> str | None:
    letters = set(choices)
    m = _LETTER_START.match(segment)
    if m and m.group(1) in letters:
        # "A cat" is an article, not option A, unless A's option text is what follows
        rest = segment[m.end() :].strip()
        option = normalize_text(choices[m.group(1)])
        if not rest or not rest[0].isalpha() or normalize_text(rest).startswith(option):
            return m.group(1)
        if segment[m.start(1) + 1 : m.start(1) + 2] in ").:]":
            return m.group(1)
    named = {x.upper() for x in _LETTER_NAMED.findall(segment)} & letters
    if len(named) == 1:
        return named.pop()
    paren = set(_LETTER_PAREN.findall(segment)) & letters
    if len(paren) == 1:
        return paren.pop()
    # the option's text instead of its letter ("Paris"): accept when exactly one matches
    norm = normalize_text(segment)
    exact = [k for k, v in choices.items() if normalize_text(v) == norm]
    if len(exact) == 1:
        return exact[0]
    if not whole or len(segment.split()) <= 3 * SHORT_ANSWER_WORDS:
        padded = f" {norm} "
        hits = [
            k
            for k, v in choices.items()
            if normalize_text(v) and f" {normalize_text(v)} " in padded
        ]
        if len(hits) == 1:
            return hits[0]
    return None


def _number_from(segment: str, *, last: bool) -> str | None:
    tokens = _NUMBER.findall(segment)
    if not tokens:
        words = [w.strip(_STRIP).lower() for w in segment.split()]
        nums = [_WORDS[w] for w in words if w in _WORDS]
        if not nums:
            return None
        return nums[-1] if last else nums[0]
    for token in reversed(tokens) if last else tokens:
        value = normalize_number(token)
        if value is not None:
            return value
    return None


def extract_answer(
    text: str,
    *,
    kind: str | Extractor = "auto",
    choices: Mapping[str, str] | None = None,
    strict: bool = False,
) -> str | None:
    """Extract a short, comparable final answer from a reply.

    Args:
        text: The reply.
        kind: ``"auto"``, ``"number"``, ``"choice"``, ``"text"``, or a function
            ``text -> answer | None`` of your own.
        choices: Letter -> option text (see :func:`detect_choices`); makes ``auto``
            look for an option letter first.
        strict: Only an explicit answer marker or a reply of at most
            :data:`SHORT_ANSWER_WORDS` words counts (used by fallbacks on free-form
            prompts).

    Returns:
        The normalised answer, or None when nothing comparable is found.

    Example:
        >>> extract_answer("17 + 25 = 42, so the answer is 42.")
        '42'
        >>> extract_answer("I think (B) Paris.", choices={"A": "Rome", "B": "Paris"})
        'B'
    """
    if callable(kind):
        value = kind(text)
        return None if value is None else str(value)
    if kind not in ("auto", "number", "choice", "text"):
        raise ValueError(f"unknown answer kind {kind!r}; use auto, number, choice or text.")
    if not isinstance(text, str) or not text.strip():
        return None
    segment = _marker_segment(text)
    marked = segment is not None
    short = len(text.split()) <= SHORT_ANSWER_WORDS
    if not marked:
        if strict and not short:
            return None
        segment = text.strip()
    assert segment is not None
    if choices or kind == "choice":
        opts = dict(choices or {k: "" for k in "ABCDEFGH"})
        # a multiple-choice answer is a letter or nothing: "cat" must not out-vote "B"
        return _choice_from(segment, opts, whole=not marked)
    if kind in ("auto", "number"):
        number = _number_from(segment, last=not marked)
        if number is not None:
            return number
        if kind == "number":
            return None
    if marked or short:
        first_line = segment.strip().splitlines()[0] if segment.strip() else ""
        if len(first_line.split()) <= SHORT_ANSWER_WORDS:
            value = normalize_text(first_line)
            return value or None
    return None


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


def fallback_choice(
    texts: Sequence[str],
    *,
    kind: str | Extractor = "auto",
    choices: Mapping[str, str] | None = None,
) -> tuple[int, str, dict[str, int] | None, list[str | None]]:
    """The deterministic fallback when a judge cannot be used.

    A majority vote over extracted answers when at least half of the texts have one
    (``auto`` extraction is strict here, so free-form essays are never voted on the
    numbers they happen to contain); otherwise the first text.

    Args:
        texts: The successful candidates' texts, in pool order.
        kind: As for :func:`extract_answer`.
        choices: As for :func:`extract_answer`.

    Returns:
        ``(index into texts, why, vote counts or None, extracted answers)``.
    """
    if not texts:
        raise ValueError("fallback_choice needs at least one text")
    answers = [extract_answer(t, kind=kind, choices=choices, strict=kind == "auto") for t in texts]
    usable = sum(a is not None for a in answers)
    if len(texts) >= 2 and usable * 2 >= len(texts):
        tally = majority(answers)
        chosen = tally.top[0]  # on a tie: the answer that appears first in pool order
        index = answers.index(chosen)
        how = "a tie broken by pool order" if tally.tie else "the majority"
        counts = ", ".join(f"{a!r}: {n}" for a, n in tally.counts.items())
        return (
            index,
            f"majority vote over extracted answers ({counts}); {how}",
            tally.counts,
            answers,
        )
    return 0, "the first successful candidate in pool order", None, answers
