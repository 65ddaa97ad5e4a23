"""Reading the judge's replies: the JSON Schemas it answers in, and lenient readers.

Every judge question is asked with a JSON Schema (``schema=``): a backend that can
constrain its output (a grammar locally, ``response_format`` over HTTP) then can only
write a valid verdict — labels are an ``enum``, scores integers in 0..10, and the
``reason`` comes BEFORE the scores and the winner, so a model that writes left to right
reasons first and decides after. The lenient readers stay as the last step down for a
backend that returns unconstrained text: code fences, prose around the JSON, single
quotes, ``"Response B"`` for ``"B"``, ``"7/10"`` for 7, headed sections instead of JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..parsing import extract_json
from .neutralise import normalise_label, strip_delimiters
from .records import MergeAnalysis

__all__ = [
    "ANALYSIS_SCHEMA",
    "ANALYSIS_SHAPE",
    "REASON_MAX_CHARS",
    "SYNTHESIS_SHAPE",
    "Verdict",
    "analysis_schema",
    "min_tokens",
    "best_of_schema",
    "best_of_shape",
    "clean_synthesis",
    "parse_analysis",
    "parse_best_of",
    "parse_synthesis",
    "read_analysis",
    "read_best_of",
    "read_usc",
    "usc_schema",
    "usc_shape",
]

#: The longest ``reason`` a schema'd verdict may hold: a small model given room to
#: explain at length runs out of tokens before it names the winner.
REASON_MAX_CHARS = 60
#: Items per analysis section, and characters per item (same reason).
ANALYSIS_ITEMS = 2
ANALYSIS_ITEM_CHARS = 80
_SECTIONS = ("consensus", "contradictions", "unique_insights", "blind_spots")


# -- schemas --------------------------------------------------------------------------------


def best_of_schema(labels: Sequence[str]) -> dict[str, Any]:
    """The JSON Schema of a best-of verdict for these labels (reason first)."""
    return {
        "title": "verdict",
        "type": "object",
        "properties": {
            "reason": {"type": "string", "maxLength": REASON_MAX_CHARS},
            "scores": {
                "type": "object",
                "properties": {x: {"type": "integer", "minimum": 0, "maximum": 10} for x in labels},
                "required": list(labels),
                "additionalProperties": False,
            },
            "winner": {"type": "string", "enum": list(labels)},
        },
        "required": ["reason", "scores", "winner"],
        "additionalProperties": False,
    }


def usc_schema(labels: Sequence[str]) -> dict[str, Any]:
    """The JSON Schema of a universal-self-consistency pick: a short reason, then the
    label of the most consistent response (an ``enum`` of the candidates' labels)."""
    return {
        "title": "consistency",
        "type": "object",
        "properties": {
            "reason": {"type": "string", "maxLength": REASON_MAX_CHARS},
            "winner": {"type": "string", "enum": list(labels)},
        },
        "required": ["reason", "winner"],
        "additionalProperties": False,
    }


def usc_shape(labels: Sequence[str]) -> str:
    """The JSON shape of a USC reply (the re-ask shows it)."""
    return f'{{"reason": "<one short sentence>", "winner": "<one of {", ".join(labels)}>"}}'


def read_usc(data: Mapping[str, Any], labels: Sequence[str]) -> tuple[Verdict | None, str | None]:
    """Read a decoded USC object: its ``winner`` must be one of ``labels``.

    Returns:
        ``(verdict, None)`` (no scores) or ``(None, what was wrong)``.
    """
    winner = normalise_label(str(data.get("winner", "")), labels)
    if winner is None:
        given = data.get("winner")
        if given is None:
            return None, 'the JSON has no "winner"'
        return None, f'"winner" is {given!r}, which is not one of {", ".join(labels)}'
    reason = data.get("reason")
    return Verdict(winner, {}, reason.strip() if isinstance(reason, str) else ""), None


def min_tokens(schema: Mapping[str, Any]) -> int:
    """Tokens a reply in this schema may need (a reply cut off is unreadable by construction).

    A rough bound at about 2 characters a token (short words, quotes and braces tokenise
    finely): the longest strings the schema allows plus its punctuation. Judge calls with
    a schema get at least this many tokens.
    """
    if schema.get("title") == "analysis":
        per = ANALYSIS_ITEMS * (ANALYSIS_ITEM_CHARS + 4)
        return (len(_SECTIONS) * (per + 20)) // 2 // 2  # sections are rarely all full
    labels = len(schema.get("properties", {}).get("scores", {}).get("properties", {}))
    return (REASON_MAX_CHARS + 40 + 16 * labels) // 2


def analysis_schema() -> dict[str, Any]:
    """The JSON Schema of merge's analysis: four short lists of short strings."""
    section = {
        "type": "array",
        "items": {"type": "string", "maxLength": ANALYSIS_ITEM_CHARS},
        "maxItems": ANALYSIS_ITEMS,
    }
    return {
        "title": "analysis",
        "type": "object",
        "properties": {name: section for name in _SECTIONS},
        "required": list(_SECTIONS),
        "additionalProperties": False,
    }


ANALYSIS_SCHEMA = analysis_schema()


# -- best-of --------------------------------------------------------------------------------


def _score_shape(labels: Sequence[str]) -> str:
    return ", ".join(f'"{x}": <0-10>' for x in labels)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A parsed best-of reply."""

    winner: str
    scores: dict[str, float]
    rationale: str
    winner_from_scores: bool = False


def _score(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        m = re.match(r"\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*10)?\s*$", value)
        if not m:
            return None
        number = float(m.group(1))
    else:
        return None
    return number if 0 <= number <= 10 else None


def parse_best_of(reply: str, labels: Sequence[str]) -> tuple[Verdict | None, str | None]:
    """Read a best-of reply leniently.

    Accepts code fences, prose around the JSON, single quotes, ``"Response B"`` for
    ``"B"``, ``"7/10"`` for 7, scores at the top level. When the winner is missing or
    invalid but every label has a score with one clear maximum, that maximum wins.

    Returns:
        ``(verdict, None)`` or ``(None, what was wrong)``.
    """
    data = extract_json(reply) or _repaired(reply)
    if data is None:
        return None, "no JSON object found in the reply"
    return read_best_of(data, labels)


def _repaired(reply: str) -> dict[str, Any] | None:
    """A reply cut off at the token limit (``{"reason": "...", "winner": "B``), closed.

    Only the tail is guessed (closing quote, bracket and braces); what the model wrote is
    read as written.
    """
    start = (reply or "").find("{")
    if start < 0:
        return None
    body = reply[start:].rstrip().rstrip(",")
    for closer in ('"}', '"}}', "}", "}}", '"]}', "]}", '""}'):
        data = extract_json(body + closer)
        if data is not None:
            return data
    return None


def read_best_of(
    data: Mapping[str, Any], labels: Sequence[str]
) -> tuple[Verdict | None, str | None]:
    """Read a decoded best-of object (from a schema'd reply or :func:`parse_best_of`).

    Returns:
        ``(verdict, None)`` or ``(None, what was wrong)``.
    """
    raw_scores = data.get("scores", data.get("score", data.get("ratings")))
    if not isinstance(raw_scores, Mapping):
        raw_scores = {k: v for k, v in data.items() if normalise_label(k, labels)}
    scores: dict[str, float] = {}
    for key, value in raw_scores.items():
        label = normalise_label(str(key), labels)
        score = _score(value)
        if label is not None and score is not None:
            scores[label] = score
    rationale = ""
    for key in ("rationale", "reason", "reasoning", "explanation", "justification"):
        if isinstance(data.get(key), str):
            rationale = data[key].strip()
            break
    winner = None
    for key in ("winner", "best", "best_response", "choice"):
        if key in data:
            winner = normalise_label(str(data[key]), labels)
            if winner is not None:
                break
    if winner is not None:
        return Verdict(winner, scores, rationale), None
    if len(scores) == len(labels) and scores:
        best = max(scores.values())
        top = [x for x in labels if scores[x] == best]
        if len(top) == 1:
            return Verdict(top[0], scores, rationale, winner_from_scores=True), None
        return None, f"no valid winner, and the scores tie between {', '.join(top)}"
    given = data.get("winner")
    if given is None:
        return None, 'the JSON has no "winner"'
    return None, f'"winner" is {given!r}, which is not one of {", ".join(labels)}'


def best_of_shape(labels: Sequence[str]) -> str:
    """The JSON shape a best-of reply must have (the re-ask shows it)."""
    return (
        f'{{"reason": "<one short sentence>", "scores": {{{_score_shape(labels)}}}, '
        f'"winner": "<one of {", ".join(labels)}>"}}'
    )


# -- merge ----------------------------------------------------------------------------------

ANALYSIS_SHAPE = (
    '{"consensus": ["..."], "contradictions": ["..."], "unique_insights": ["..."], '
    '"blind_spots": ["..."]}'
)
SYNTHESIS_SHAPE = "the final answer to the question, as plain text"

_SECTION_KEYS = {
    "consensus": "consensus",
    "agreement": "consensus",
    "agreements": "consensus",
    "contradictions": "contradictions",
    "contradiction": "contradictions",
    "disagreements": "contradictions",
    "conflicts": "contradictions",
    "unique_insights": "unique_insights",
    "unique insights": "unique_insights",
    "unique": "unique_insights",
    "insights": "unique_insights",
    "blind_spots": "blind_spots",
    "blind spots": "blind_spots",
    "blindspots": "blind_spots",
    "gaps": "blind_spots",
    "missing": "blind_spots",
}
_HEADING = re.compile(
    r"(?im)^[ \t#*_\-]*(consensus|agreements?|contradictions?|disagreements|conflicts|"
    r"unique[ _]insights|unique|insights|blind[ _]?spots|gaps|missing)[ \t*_]*:?[ \t*_]*(.*)$"
)


def _items(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return ()
    out = []
    for v in value:
        s = str(v).strip() if v is not None else ""
        if s and s not in ("...", "…"):
            out.append(s)
    return tuple(out)


def _sections(data: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for key, value in data.items():
        name = _SECTION_KEYS.get(str(key).strip().lower())
        if name and name not in found:
            found[name] = _items(value)
    return found


def _analysis(found: Mapping[str, tuple[str, ...]]) -> MergeAnalysis:
    return MergeAnalysis(
        consensus=found.get("consensus", ()),
        contradictions=found.get("contradictions", ()),
        unique_insights=found.get("unique_insights", ()),
        blind_spots=found.get("blind_spots", ()),
    )


def read_analysis(data: Mapping[str, Any]) -> tuple[MergeAnalysis | None, str | None]:
    """Read a decoded analysis object (from a schema'd reply).

    Returns:
        ``(analysis, None)`` or ``(None, what was wrong)``; empty sections are allowed,
        but at least one must have an item.
    """
    found = _sections(data)
    analysis = _analysis(found)
    if not analysis:
        return None, "every section of the analysis is empty"
    return analysis, None


def parse_analysis(reply: str) -> tuple[MergeAnalysis | None, str | None]:
    """Read a merge analysis: the JSON object, or headed sections as a fallback.

    Returns:
        ``(analysis, None)`` or ``(None, what was wrong)``; an analysis counts as read
        when at least one section has an item.
    """
    data = extract_json(reply)
    found = _sections(data) if data is not None else {}
    if not any(found.values()):
        found = {}
        current: str | None = None
        for line in (reply or "").splitlines():
            m = _HEADING.match(line)
            if m:
                current = _SECTION_KEYS.get(m.group(1).lower().replace("_", " "), None)
                current = current or _SECTION_KEYS.get(m.group(1).lower())
                rest = m.group(2).strip()
                if current and rest:
                    found[current] = found.get(current, ()) + (rest,)
                continue
            item = line.strip().lstrip("-*•").strip()
            if current and item:
                found[current] = found.get(current, ()) + (item,)
    analysis = _analysis(found)
    if not analysis:
        if data is None:
            return None, "no JSON object and no headed sections found"
        return None, "the JSON has none of consensus/contradictions/unique_insights/blind_spots"
    return analysis, None


def parse_synthesis(reply: str) -> tuple[str | None, str | None]:
    """A synthesis is readable when, cleaned (:func:`clean_synthesis`), text remains.

    Returns:
        ``(the cleaned text, None)`` or ``(None, what was wrong)``.
    """
    if not (reply or "").strip():
        return None, "the reply is empty"
    text = clean_synthesis(reply)
    if not text:
        return None, "the reply holds only delimiters"
    return text, None


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _unloop(text: str) -> str:
    """Drop lines and sentences a looping model repeated (kept: the first occurrence)."""
    seen: set[str] = set()
    lines = []
    for line in text.splitlines():
        kept = []
        for sentence in _SENTENCE.split(line):
            key = " ".join(sentence.lower().split())
            if len(key.split()) >= 3 and key in seen:
                continue
            seen.add(key)
            kept.append(sentence)
        if line.strip() and not kept:
            continue
        lines.append(" ".join(kept))
    return "\n".join(lines).strip()


def clean_synthesis(text: str) -> str:
    """A synthesis without echoed delimiters or looped repeats."""
    return _unloop(strip_delimiters(text or ""))
