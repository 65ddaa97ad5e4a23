"""Where an answer can sit in a reply: the patterns and segment finders extraction reads.

Split from :mod:`fusionkit.fusion.extract` (the rules, in the order a person reads a
reply): this module says what a marker, a bold value, a last line, a statement or an
option letter looks like; :mod:`~fusionkit.fusion.extract` decides which one wins. Every
pattern uses possessive quantifiers (no backtracking), so each is linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .numeric import STRIP, numbers_in

__all__ = [
    "MAX_CHARS",
    "SHORT_ANSWER_WORDS",
    "choice_from",
    "detect_choices",
    "last_line",
    "marker_segments",
    "normalize_text",
    "option_at_start",
    "question_numbers",
    "text_value",
    "unfrac",
]

#: A reply (or last line) of at most this many words counts as a short answer by itself.
SHORT_ANSWER_WORDS = 8

#: Only the last this many characters of a reply are read (the answer of a very long
#: reply is at its end; it bounds the work on hostile input).
MAX_CHARS = 50_000

MARKER_HEADS = [
    ("marker", re.compile(r"\bfinal\s++answer\s*+(?:is\b)?+\s*+[:=\-]?+", re.I)),
    (
        "marker",
        re.compile(
            r"\bthe\s++(?:correct\s++|right\s++|final\s++|best\s++)?+"
            r"(?:answer|option|choice|result)\s++(?:is|would\s++be|will\s++be)\b\s*+[:=]?+",
            re.I,
        ),
    ),
    ("marker", re.compile(r"(?im)^[ \t*#>_-]*+answer[ \t*_]*+[:=]")),
    ("marker", re.compile(r"####")),
]
BOXED_HEAD = re.compile(r"\\boxed\s*+\{")
FRAC = re.compile(r"\\d?frac\s*+\{([^{}]{0,80})\}\s*+\{([^{}]{0,80})\}")
BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")
NEGATED = re.compile(r"[\s*_:\"']*+(?:not|never|no)\b", re.I)
SPACE = re.compile(r"\s*+")
RESULT_PHRASE = re.compile(
    r"\b(?:is|are|was|were|equals?|makes?|gives?(?:\s++us)?+|gets?|got|get\s++us|has|have|"
    r"had|totals?|becomes?|results?\s++in|resulting\s++in|total\s++of|sum\s++of\s++\w++\s++is)"
    r"\s++(?:a\s++total\s++of\s++|about\s++|approximately\s++|exactly\s++|indeed\s++|"
    r"now\s++|just\s++|only\s++|still\s++)?+(?=[-\u2212$0-9])",
    re.I,
)
CHOICE_LINE = re.compile(r"(?m)^[ \t]*+\(?([A-Ha-h])[).:][ \t]++(\S[^\n]*+)$")
LETTER_START = re.compile(r"^[\s*_(\[]*+([A-H])(?:[\s*_)\].:,]|$)")
LETTER_NAMED = re.compile(r"\b(?:option|choice|letter)\s*+\(?([A-H])\)?(?![A-Za-z])", re.I)
LETTER_PAREN = re.compile(r"\(([A-H])\)")
COPULA = re.compile(
    r"\b(?:is|are|was|were)\s++(?:known\s++as\s++|called\s++|named\s++)?+"
    r"(?P<obj>[^,.;:!?\n()]{1,80})",
    re.I,
)
WORD = re.compile(r"[^\W\d_]+")
FILLER = frozenset({"the", "a", "an", "of", "in", "for"})
ARTICLES = re.compile(r"^(?:the|a|an)\s+")
WS = re.compile(r"\s+")


# -- text ---------------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """Lowercase, strip markdown and punctuation at the ends, drop a leading article."""
    t = text.strip().strip(STRIP).lower()
    t = WS.sub(" ", t)
    t = ARTICLES.sub("", t)
    return t.strip(STRIP)


def text_value(text: str) -> str | None:
    """A short phrase as an answer: normalised, with a letter in it, at most 100
    characters (a run of digits or symbols is not a phrase, it is an unreadable number)."""
    value = normalize_text(text)
    if not value or len(value) > 100 or not any(c.isalpha() for c in value):
        return None
    return value


def detect_choices(prompt: str) -> dict[str, str]:
    """Find multiple-choice options (``A) Paris`` lines) in a prompt.

    Returns:
        Letter -> option text, or an empty dict when fewer than two options are found.
    """
    found: dict[str, str] = {}
    for m in CHOICE_LINE.finditer((prompt or "")[:MAX_CHARS]):
        found.setdefault(m.group(1).upper(), m.group(2).strip())
    return found if len(found) >= 2 else {}


# -- markers, bold, lines -----------------------------------------------------------------


def boxed(text: str) -> list[tuple[int, int, int]]:
    """``(start, content start, content end)`` of each ``\\boxed{..}`` (braces balanced)."""
    out = []
    for m in BOXED_HEAD.finditer(text):
        depth, i = 1, m.end()
        limit = min(len(text), m.end() + 200)
        while i < limit and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append((m.start(), m.end(), i - 1))
    return out


def marker_segments(text: str) -> list[tuple[str, int, int]]:
    """``(source, start, end)`` of each marker's segment, the LAST first.

    A segment runs from the marker to the end of its line or to the next marker.
    """
    heads: list[tuple[int, int, str]] = []
    for source, pattern in MARKER_HEADS:
        heads.extend((m.start(), m.end(), source) for m in pattern.finditer(text))
    heads.sort()
    segments: list[tuple[str, int, int]] = []
    for i, (_, head_end, source) in enumerate(heads):
        # "The answer is:\n42": the segment starts at the next non-blank character
        content = SPACE.match(text, head_end)
        start = content.end() if content else head_end
        line_end = text.find("\n", start)
        end = len(text) if line_end < 0 else line_end
        if i + 1 < len(heads):
            end = min(end, heads[i + 1][0])
        segments.append((source, start, max(start, end)))
    segments.extend(("boxed", c_start, c_end) for _, c_start, c_end in boxed(text))
    segments.sort(key=lambda s: s[1])
    return [s for s in reversed(segments) if text[s[1] : s[2]].strip()]


def unfrac(segment: str) -> str:
    """``\\frac{a}{b}`` (and ``\\dfrac``) written as ``a/b``."""
    return FRAC.sub(lambda m: f"{m.group(1).strip()}/{m.group(2).strip()}", segment)


def last_line(text: str) -> tuple[int, int] | None:
    """``(start, end)`` of the last non-blank line, or None for a blank text."""
    stripped = text.rstrip()
    if not stripped:
        return None
    start = stripped.rfind("\n") + 1
    return start, len(stripped)


def question_numbers(question: str | None) -> set[str]:
    """The numbers a question states (its operands), normalised."""
    if not question:
        return set()
    q = question[:MAX_CHARS]
    return {n.value for n in numbers_in(q) if n.value is not None}


# -- multiple choice ----------------------------------------------------------------------


def option_at_start(segment: str, choices: Mapping[str, str], *, alone: bool = True) -> str | None:
    """The option whose text opens the segment; with ``alone``, only when no other
    option is named after it ("Rome or Paris?" commits to neither)."""
    norm = normalize_text(segment)
    hits = [
        k
        for k, v in choices.items()
        if (opt := normalize_text(v))
        and norm.startswith(opt)
        and (len(norm) == len(opt) or not norm[len(opt)].isalnum())
    ]
    if len(hits) != 1:
        return None
    if alone:
        rest = f" {norm[len(normalize_text(choices[hits[0]])) :]} "
        if any(
            (o := normalize_text(v)) and f" {o} " in rest
            for k, v in choices.items()
            if k != hits[0]
        ):
            return None
    return hits[0]


def choice_from(segment: str, choices: Mapping[str, str], *, whole: bool) -> tuple[str, str] | None:
    """``(letter, source)`` read from a segment, or None."""
    letters = set(choices)
    m = LETTER_START.match(segment)
    if m and m.group(1) in letters:
        letter = m.group(1)
        rest = segment[m.end() :].strip()
        option = normalize_text(choices[letter])
        named = option_at_start(rest, choices, alone=False) if rest else None
        if named is not None and named != letter and option:
            return None  # "A) Rome" when A is Madrid: it contradicts itself
        if (
            not rest
            or not rest[0].isalpha()
            or (option and normalize_text(rest).startswith(option))
        ):
            return letter, "letter"
        if segment[m.start(1) + 1 : m.start(1) + 2] in ").:]":
            return letter, "letter"
    named_letters = {x.upper() for x in LETTER_NAMED.findall(segment)} & letters
    if len(named_letters) == 1:
        return named_letters.pop(), "letter"
    paren = set(LETTER_PAREN.findall(segment)) & letters
    if len(paren) == 1:
        return paren.pop(), "letter"
    at_start = option_at_start(segment, choices)
    if at_start is not None:
        return at_start, "option-text"
    if whole and len(segment.split()) <= 3 * SHORT_ANSWER_WORDS:
        padded = f" {normalize_text(segment)} "
        hits = [k for k, v in choices.items() if (o := normalize_text(v)) and f" {o} " in padded]
        if len(hits) == 1:
            return hits[0], "option-text"
    return None
