"""Answer extraction that reads a reply the way a person would.

:func:`locate_answer` turns a reply into a short, comparable answer and says *where* it
found it (an :class:`Extraction`); :func:`extract_answer` returns just the value. Kinds:

- ``number``: ``"42"``, ``"0.5"`` (see :func:`normalize_number`);
- ``choice``: an option letter (``"B"``), when the prompt offers options;
- ``text``: a short normalised phrase (``"paris"``);
- ``auto``: a letter when options are given, else a number, else a short phrase;
- or a function ``text -> answer | None`` of your own.

The rules, in the order a person reads a reply (the first that yields an answer wins):

1. an explicit marker: ``\\boxed{..}``, ``Final answer:``, ``The answer is``,
   ``Answer:``, ``####`` (the last marker wins; ``the answer is not ..`` is skipped);
2. a bold value (``**42**``);
3. for numbers, the value after the last ``=`` (or ``equals``). When that value is
   unreadable (``= 3MM``, ``= x x 3``) the reply's result is unreadable: no answer;
4. a short last line (``So he has 12 apples.``);
5. fallbacks (not with ``strict=True``): the last result phrase (``which is 18``,
   ``gives 45``), then the last number; numbers that only repeat the question's
   operands (pass ``question=``) are skipped there.

For multiple choice, a letter counts (``B``, ``B) Paris``, ``option B``, ``(B)``) or an
option's text; a letter whose text names another option (``A) Rome`` when A is Madrid)
contradicts itself and is not counted.

Extraction never raises on any string: numbers with hundreds of digits, ``1e999999``,
``nan`` or ``inf`` are "no answer", and every pattern is linear in the reply's length.

This module holds the rules (which finding wins); the patterns and segment finders they
read are :mod:`fusionkit.fusion.extract_patterns` (``normalize_text``, ``detect_choices``
and ``SHORT_ANSWER_WORDS`` stay importable from here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import InvalidRequestError
from .extract_patterns import (
    BOLD,
    CHOICE_LINE,
    COPULA,
    FILLER,
    MAX_CHARS,
    NEGATED,
    RESULT_PHRASE,
    SHORT_ANSWER_WORDS,
    WORD,
    choice_from,
    detect_choices,
    last_line,
    marker_segments,
    normalize_text,
    question_numbers,
    text_value,
    unfrac,
)
from .numeric import (
    equation,
    is_expression,
    leading_number,
    normalize_number,
    numbers_in,
    segment_number,
)

__all__ = [
    "KINDS",
    "SHORT_ANSWER_WORDS",
    "SOURCE_STRENGTH",
    "Extraction",
    "Extractor",
    "detect_choices",
    "extract_answer",
    "locate_answer",
    "normalize_number",
    "normalize_text",
]

#: The answer kinds :func:`extract_answer` knows (or pass a function).
KINDS = ("auto", "number", "choice", "text")

#: How much each place an answer was found in says about the reply's commitment to it
#: (higher is stronger); useful to break ties between equally voted answers. Every source
#: :func:`locate_answer` can report has an entry (a missing one would score 0, below a
#: stray last number).
SOURCE_STRENGTH: dict[str, int] = {
    "custom": 5,
    "marker": 5,
    # \boxed{..} is an explicit marker: rule 1 reads it with ``Final answer:`` and ``The
    # answer is``, and among them only position counts (the last wins, whatever its kind),
    # so it commits the reply exactly as firmly as they do: the same strength, not more.
    "boxed": 5,
    "bold": 4,
    "equation": 4,
    "letter": 4,
    "last-line": 3,
    "option-text": 3,
    "short-reply": 3,
    "statement": 3,
    "result-phrase": 2,
    "last-number": 1,
}

Extractor = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class Extraction:
    """An extracted answer and where it was found.

    Attributes:
        value: The normalised answer, or None when the reply commits to none.
        source: Which rule found it (a key of :data:`SOURCE_STRENGTH`), or None.
        span: ``(start, end)`` of the text the answer was read from, when known.
    """

    value: str | None
    source: str | None = None
    span: tuple[int, int] | None = None

    @property
    def strength(self) -> int:
        """How strongly the reply commits to the answer (0 when there is none)."""
        if self.value is None or self.source is None:
            return 0
        return SOURCE_STRENGTH.get(self.source, 0)


_NONE = Extraction(None)


# -- statements ---------------------------------------------------------------------------


def _copula(text: str, question: str) -> Extraction | None:
    """``The capital of France is Paris`` -> ``paris``: the first statement whose subject
    restates the question (at least half its words are the question's) and whose object
    is a short phrase that is not itself the question's words."""
    asked = {w.lower() for w in WORD.findall(question[:MAX_CHARS])}
    for m in COPULA.finditer(text, 0, min(len(text), 2000)):
        cut = max(text.rfind(c, 0, m.start()) for c in ".!?\n")
        subject = [
            w
            for w in (x.lower() for x in WORD.findall(text, cut + 1, m.start()))
            if w not in FILLER
        ]
        if not subject or 2 * sum(w in asked for w in subject) < len(subject):
            continue
        value = text_value(m.group("obj")) or ""
        said = [w for w in value.split() if w not in FILLER]
        if not said or len(value.split()) > 4 or all(w in asked for w in said):
            continue
        return Extraction(value, "statement", m.span("obj"))
    return None


# -- multiple choice ----------------------------------------------------------------------


def _locate_choice(text: str, choices: Mapping[str, str], *, strict: bool) -> Extraction:
    for source, start, end in marker_segments(text):
        segment = unfrac(text[start:end])
        if NEGATED.match(segment):
            continue
        found = choice_from(segment, choices, whole=False)
        if found:
            return Extraction(found[0], source, (start, end))
    if strict and len(text.split()) > SHORT_ANSWER_WORDS:
        return _NONE
    for m in reversed(list(BOLD.finditer(text))):
        found = choice_from(m.group(1), choices, whole=False)
        if found:
            return Extraction(found[0], "bold", m.span(1))
    if len({m.group(1).upper() for m in CHOICE_LINE.finditer(text)} & set(choices)) >= 2:
        return _NONE  # "A) Istanbul\nD) Tokyo": a list of options commits to none
    found = choice_from(text.strip(), choices, whole=True)
    if found:
        return Extraction(found[0], found[1], (0, len(text)))
    return _NONE


# -- numbers and text ---------------------------------------------------------------------


def _locate_value(text: str, *, kind: str, strict: bool, question: str | None) -> Extraction:
    numeric = kind in ("auto", "number")
    words = len(text.split())
    short = words <= SHORT_ANSWER_WORDS
    for source, start, end in marker_segments(text):
        if source == "boxed":
            segment = unfrac(text[start:end])
            offset_text, s, e = segment, 0, len(segment)
        else:
            offset_text, s, e = text, start, end
        if NEGATED.match(offset_text, s, e):
            continue
        if numeric:
            value = segment_number(offset_text, s, e)
            if value is not None:
                return Extraction(value, source, (start, end))
        if kind in ("auto", "text"):
            first = offset_text[s:e].strip().split("\n", 1)[0]
            if first and len(first.split()) <= SHORT_ANSWER_WORDS:
                value = text_value(first)
                if value:
                    return Extraction(value, source, (start, end))
    if strict and not short:
        return _NONE
    for m in reversed(list(BOLD.finditer(text))):
        inner = m.group(1)
        if numeric:
            nums = numbers_in(inner)
            if len(nums) == 1 and nums[0].value is not None and len(inner.split()) <= 3:
                return Extraction(nums[0].value, "bold", m.span(1))
        elif len(inner.split()) <= SHORT_ANSWER_WORDS and (value := text_value(inner)):
            return Extraction(value, "bold", m.span(1))
    if numeric:
        eq = equation(text, 0, len(text))
        if eq is not None:
            value, readable, pos = eq
            if value is not None:
                return Extraction(value, "equation", (pos, pos))
            if not readable:
                return Extraction(None, "equation", (pos, pos))
    if question and (kind == "text" or (kind == "auto" and not numbers_in(text))):
        found = _copula(text, question)
        if found is not None:
            return found
    line = last_line(text)
    if line is not None and len(text[line[0] : line[1]].split()) <= SHORT_ANSWER_WORDS:
        source = "short-reply" if line[0] == 0 else "last-line"
        if numeric:
            values = [n.value for n in numbers_in(text, *line) if n.value is not None]
            if values:
                return Extraction(values[-1], source, line)
        if kind == "text" or (kind == "auto" and short):
            value = text_value(text[line[0] : line[1]])
            if value:
                return Extraction(value, source, line)
    if strict or not numeric:
        return _NONE
    echoed = question_numbers(question)
    phrases = list(RESULT_PHRASE.finditer(text))
    for m in reversed(phrases):
        n = leading_number(text, m.end(), len(text))
        if (
            n is not None
            and n.value is not None
            and n.value not in echoed
            and not is_expression(text, n)
        ):
            return Extraction(n.value, "result-phrase", (n.start, n.end))
    if words > 3 * SHORT_ANSWER_WORDS:
        return _NONE  # a person does not take the last number of a ramble as its answer
    for n in reversed(numbers_in(text)):
        if n.value is not None and n.value not in echoed:
            return Extraction(n.value, "last-number", (n.start, n.end))
    return _NONE


def locate_answer(
    text: str,
    *,
    kind: str | Extractor = "auto",
    choices: Mapping[str, str] | None = None,
    strict: bool = False,
    question: str | None = None,
) -> Extraction:
    """Extract a short, comparable final answer from a reply, and say where it was found.

    Args:
        text: The reply. Any string is accepted; this never raises on its content.
        kind: ``"auto"``, ``"number"``, ``"choice"``, ``"text"``, or a function
            ``text -> answer | None`` of your own.
        choices: Letter -> option text (see :func:`detect_choices`); then only an option
            letter (or an option's text) counts.
        strict: Only an explicit answer marker or a reply of at most
            :data:`SHORT_ANSWER_WORDS` words counts (used by fallbacks on free-form
            prompts, so an essay is never "voted" on the last number it contains).
        question: The prompt, if known: the number fallbacks skip numbers that only
            repeat the question's operands.

    Returns:
        An :class:`Extraction` (``value`` None when the reply commits to no answer).

    Raises:
        InvalidRequestError: ``kind`` is not a known kind or a function.
    """
    if callable(kind):
        value = kind(text)
        return Extraction(None if value is None else str(value), "custom")
    if kind not in KINDS:
        raise InvalidRequestError(
            f"unknown answer kind {kind!r}; use auto, number, choice, text or a function."
        )
    if not isinstance(text, str) or not text.strip():
        return _NONE
    offset = max(0, len(text) - MAX_CHARS)
    body = text[offset:]
    if choices or kind == "choice":
        opts = dict(choices or {k: "" for k in "ABCDEFGH"})
        found = _locate_choice(body, opts, strict=strict)
    else:
        found = _locate_value(body, kind=kind, strict=strict, question=question)
    if offset and found.span is not None:
        found = Extraction(
            found.value, found.source, (found.span[0] + offset, found.span[1] + offset)
        )
    return found


def extract_answer(
    text: str,
    *,
    kind: str | Extractor = "auto",
    choices: Mapping[str, str] | None = None,
    strict: bool = False,
    question: str | None = None,
) -> str | None:
    """Extract a short, comparable final answer from a reply.

    The value of :func:`locate_answer` (see there and the module docstring for the rules).

    Returns:
        The normalised answer, or None when the reply commits to none.

    Example:
        >>> extract_answer("17 + 25 = 42, so the answer is 42.")
        '42'
        >>> extract_answer("17 + 25 = 34. That is the equation 17 + 25")
        '34'
        >>> extract_answer("I think (B) Paris.", choices={"A": "Rome", "B": "Paris"})
        'B'
    """
    return locate_answer(text, kind=kind, choices=choices, strict=strict, question=question).value
