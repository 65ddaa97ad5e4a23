"""Numbers in replies: read, normalise and find them, on any string without raising.

:func:`normalize_number` gives a number token its canonical form (``"1,000"`` ->
``"1000"``, ``"1/2"`` -> ``"0.5"``, ``"seven"`` -> ``"7"``) or None; :func:`numbers_in`,
:func:`leading_number` and :func:`equation` find numbers, the number that opens a
segment, and the value after the last ``=``, for :mod:`fusionkit.fusion.extract`.

Every number is bounded before it is built (:data:`MAX_DIGITS`), so ``1e999999``, a
400-digit answer or a ``10**5000/3``-like fraction are "no number", never an
OverflowError or a ValueError from Python's int <-> str digit limit. Patterns use
possessive quantifiers (no backtracking), so each scan is linear in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "MAX_DIGITS",
    "STRIP",
    "Num",
    "equation",
    "is_expression",
    "leading_number",
    "normalize_number",
    "numbers_in",
    "segment_number",
]

#: Numbers with more digits than this are "no answer" (a real answer never has them, and
#: it keeps every integer well under Python's int <-> str digit limit, whose minimum is 640).
MAX_DIGITS = 300

#: Punctuation and markdown stripped from the ends of an answer.
STRIP = " \t\n\r.,;:!?\"'`*_()[]{}<>"

_NUM = re.compile(
    r"(?<![\w.])[-\u2212]?\$?[0-9][0-9,]*+(?:\.[0-9]++)?+(?:[eE][-+]?[0-9]++)?+"
    r"(?:/[0-9]++)?+%?+"
)
_OPERATOR_AFTER = re.compile(r"[ \t]*+[-+*/x\u00d7\u00f7\u2212^][ \t]*+[0-9(]")
_EQUALS = re.compile(r"(?<![<>=!])=(?![=>])|\bequals\b|\bis\s++equal\s++to\b", re.I)
_RHS_SKIP = re.compile(r"[ \t*_$]*+")

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORDS: dict[str, int] = {w: i for i, w in enumerate(_UNITS)}
_WORDS.update({w: 20 + 10 * i for i, w in enumerate(_TENS)})
_WORD_NUMBER = re.compile(
    r"\b(?:(?:" + "|".join(_TENS) + r")(?:[- ](?:" + "|".join(_UNITS[1:10]) + r"))?"
    r"|" + "|".join(_UNITS) + r")\b",
    re.I,
)
_DECIMAL = re.compile(r"([+-]?)([0-9]++)(?:\.([0-9]++))?+(?:e([+-]?[0-9]{1,4}))?+")
_FRACTION = re.compile(r"([+-]?)([0-9]++)/([0-9]++)")


def _word_value(word: str) -> int | None:
    parts = re.split(r"[- ]", word.lower())
    if len(parts) == 1:
        return _WORDS.get(parts[0])
    tens, unit = _WORDS.get(parts[0]), _WORDS.get(parts[-1])
    if tens is None or unit is None or parts[0] not in _TENS or not 0 < unit < 10:
        return None
    return tens + unit


def _number_value(t: str) -> Fraction | None:
    word = _word_value(t)
    if word is not None:
        return Fraction(word)
    t = t.replace("$", "").replace(",", "").replace("%", "").replace(" ", "")
    t = t.replace("\u2212", "-")
    m = _FRACTION.fullmatch(t)
    if m:
        if len(m.group(2)) + len(m.group(3)) > MAX_DIGITS:
            return None
        value = Fraction(int(m.group(2)), int(m.group(3)))
        return -value if m.group(1) == "-" else value
    m = _DECIMAL.fullmatch(t)
    if not m:
        return None
    whole, frac, exp = m.group(2), m.group(3) or "", int(m.group(4) or 0)
    # digits after the exponent is applied, bounded before any big number is built
    if len(whole) + len(frac) > MAX_DIGITS or abs(exp) > MAX_DIGITS:
        return None
    value = Fraction(int(whole + frac), 10 ** len(frac)) * Fraction(10) ** exp
    if (
        value.numerator.bit_length() > 4 * MAX_DIGITS
        or value.denominator.bit_length() > 4 * MAX_DIGITS
    ):
        return None
    return -value if m.group(1) == "-" else value


def _format(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    # six decimals, rounded (half to even) with integers only: no float, so no overflow
    q = round(value * 1_000_000)
    sign = "-" if q < 0 else ""
    whole, frac = divmod(abs(q), 1_000_000)
    text = f"{whole}.{frac:06d}".rstrip("0").rstrip(".")
    return "0" if text == "0" else sign + text


def normalize_number(token: object) -> str | None:
    """Canonical form of a number token, or None if it is not a (readable) number.

    ``"1,000"`` -> ``"1000"``, ``"3.50"`` -> ``"3.5"``, ``"1/2"`` -> ``"0.5"``,
    ``"$5"`` -> ``"5"``, ``"seven"`` -> ``"7"``, ``"twenty-one"`` -> ``"21"``,
    ``"2e3"`` -> ``"2000"``; non-integers are rounded to six decimals. Never raises:
    any string (hundreds of digits, ``1e999999``, ``nan``, ``inf``) that is not a
    readable number gives None.
    """
    if not isinstance(token, str) or len(token) > 3 * MAX_DIGITS:
        return None
    t = token.strip().strip(STRIP).lower()
    if not t:
        return None
    try:
        value = _number_value(t)
        return None if value is None else _format(value)
    except (ArithmeticError, ValueError, TypeError):
        # belt and braces: the bounds above should make these unreachable
        return None


@dataclass(frozen=True, slots=True)
class Num:
    value: str | None  # None: a number-like token that is unreadable (3MM, 400 digits)
    start: int
    end: int


def numbers_in(text: str, start: int = 0, end: int | None = None) -> list[Num]:
    """Number tokens (digits or number words) in ``text[start:end]``, in order."""
    end = len(text) if end is None else end
    found: list[Num] = []
    for m in _NUM.finditer(text, start, end):
        glued = m.end() < len(text) and (text[m.end()].isalnum() or text[m.end()] == "_")
        token = m.group()
        if glued or token.endswith(","):
            token = token.rstrip(",")
        value = None if glued else normalize_number(token)
        found.append(Num(value, m.start(), m.end()))
    for m in _WORD_NUMBER.finditer(text, start, end):
        found.append(Num(normalize_number(m.group()), m.start(), m.end()))
    found.sort(key=lambda n: n.start)
    return found


def leading_number(text: str, start: int, end: int) -> Num | None:
    """The number that opens ``text[start:end]`` (after ``$``/``**``/spaces), if any."""
    pos = _RHS_SKIP.match(text, start, end)
    at = pos.end() if pos else start
    # a number is at most a few hundred characters: look no further (keeps this linear)
    nums = numbers_in(text, at, min(end, at + 4 * MAX_DIGITS))
    return nums[0] if nums and nums[0].start == at else None


def is_expression(text: str, n: Num) -> bool:
    """True when the number is followed by an operator and another operand."""
    return _OPERATOR_AFTER.match(text, n.end) is not None


def equation(text: str, start: int, end: int) -> tuple[str | None, bool, int] | None:
    """The value after the last ``=`` in ``text[start:end]``.

    Returns:
        None when there is no ``=``; else ``(value, readable, position)``: an
        unreadable right-hand side (``= 3MM``) gives ``(None, False, ..)``, an expression
        (``= 5 + 7``) gives ``(None, True, ..)`` (not a result; look elsewhere).
    """
    last = None
    for m in _EQUALS.finditer(text, start, end):
        last = m
    if last is None:
        return None
    line_end = text.find("\n", last.end(), end)
    line_end = end if line_end < 0 else line_end
    n = leading_number(text, last.end(), line_end)
    if n is None:
        return None, False, last.start()
    if n.value is None:
        return None, False, n.start
    if is_expression(text, n):
        return None, True, n.start
    return n.value, True, n.start


def segment_number(text: str, start: int, end: int) -> str | None:
    """A number read from a marker's segment: a number opening it, else the value after
    an ``=`` in it, else its last number."""
    lead = leading_number(text, start, end)
    if lead is not None and not is_expression(text, lead):
        return lead.value
    eq = equation(text, start, end)
    if eq is not None and eq[0] is not None:
        return eq[0]
    if lead is not None and lead.value is None:
        return None
    values = [n.value for n in numbers_in(text, start, end)]
    return values[-1] if values else None
