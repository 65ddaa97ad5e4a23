"""Parse a persona's reply into a score, a verdict and a take — or say why it can't.

The rules, chosen so that a parse never invents a view:

Score (asked for as an integer 0–100):

* an integer 0–100 (``87``, ``87.0``, ``"87"``) is taken as stated;
* a percentage (``"87%"``) is taken as stated;
* a fraction with its scale written out is rescaled: ``"8/10"`` → 80, ``"8.5/10"`` → 85,
  ``"4 out of 5"`` → 80, ``"87/100"`` → 87 (the numerator must lie within its scale);
* a non-integer above 10 (``87.5``) is rounded half up — it cannot be on a 0–10 scale;
* a non-integer from 0 to 10 (``8.5``, ``0.87``) is **ambiguous** (0–10? 0–1?) and unusable;
* anything outside 0–100 (``870``, ``-5``) is unusable — it is never clamped;
* ``true``/``false``, words and empty values are unusable.

Verdict: the value must be exactly ``ship`` or ``skip`` (any case, optionally followed by
"it" and punctuation); ``"maybe"`` or ``"don't ship"`` are unusable.

Missing fields: when the JSON has no score (or no verdict) at all, an explicitly labelled
statement elsewhere in the text is used (``Verdict: ship``, ``Score: 8/10``) — under the
same rules, and only when the text states a single value. Nothing is guessed from tone.

Take: the ``take`` field (or ``reason``/``rationale``/``comment``/``summary``/``review``);
when the reply has no JSON at all, a labelled ``Take:`` line, else the prose that remains
once the labelled lines are removed. A missing take does not void a view (it shows empty).

A reply is *usable* when it yields both a score and a verdict; otherwise
:attr:`ParsedReply.problems` says, in words the model is shown on a re-ask, what was wrong.

Those rules are the last step-down, for backends that return free text. A backend that
honours the review schema hands over a validated object (:func:`from_object`), and both
paths then go through the same two checks the panel applies to every view:

* :func:`cut_loop` — a small model decoding greedily often says one thing and then loops
  (``"it is a tool; it is a tool; it is a tool ..."``) until the length limit closes the
  string. The take is cut where its first repeated three-word phrase starts and marked
  with "…"; the review's ``note`` says so. Nothing is added, only the loop removed.
* :func:`take_problem` — the take must be a reason: at least four distinct words, not one
  phrase looping, not a copy of the prompt's worked example, not the subject's own text
  handed back. A 135M model under a grammar writes valid JSON every time, so this is the
  check that still catches an empty answer in valid form. A copy is a take within 0.8
  similarity of the example's, or one sharing six consecutive words with it.
* :func:`resolve_verdict` — **the contradiction rule**. The verdict must agree with the
  score: a score of 60 or more means ship, 40 or less means skip, and between 41 and 59
  either verdict stands. When they disagree (90 with skip, 20 with ship) the **score
  decides** and the review's ``note`` says so. The score is the finer statement and is
  written first, right after the reason; the verdict is the last, most-parroted token.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..parsing import extract_json
from .types import Verdict

__all__ = [
    "SHIP_FROM",
    "SKIP_UPTO",
    "ParsedReply",
    "cut_loop",
    "from_object",
    "parse_reply",
    "parse_score",
    "parse_verdict",
    "resolve_verdict",
    "take_problem",
]

#: The contradiction rule's bounds: a score >= SHIP_FROM means ship, <= SKIP_UPTO skip.
SHIP_FROM, SKIP_UPTO = 60, 40

_NUM = r"-?\d+(?:\.\d+)?"
_PCT = re.compile(rf"^({_NUM})\s*%$")
_FRACTION = re.compile(rf"^({_NUM})\s*(?:/|out\s+of)\s*({_NUM})$", re.I)
_PLAIN = re.compile(rf"^{_NUM}$")
_VERDICT_VALUE = re.compile(r"^(ship|skip)(?:\s+it)?[\s.!]*$", re.I)
# Labelled statements in prose: "Verdict: ship", "**Score**: 8/10", "score = 87".
_LABEL_VERDICT = re.compile(r"\bverdict\b[\"'*\s]*[:=]\s*[\"'*]*\s*(ship|skip)\b", re.I)
_LABEL_SCORE = re.compile(
    rf"\bscore\b[\"'*\s]*[:=]\s*[\"'*]*\s*({_NUM}(?:\s*(?:/|out\s+of)\s*{_NUM})?\s*%?)", re.I
)
_LABEL_TAKE = re.compile(r"\btake\b[\"'*\s]*[:=]\s*[\"'*]*\s*(.+)", re.I)
_TAKE_KEYS = ("take", "reason", "rationale", "comment", "summary", "review")
_MAX_TAKE = 1200


@dataclass(frozen=True, slots=True)
class ParsedReply:
    """What could be read from one reply.

    Attributes:
        score: 0–100, or None.
        verdict: ``"ship"``/``"skip"``, or None.
        take: The reasoning text (may be empty).
        problems: Why the reply is not usable (empty when it is).
    """

    score: int | None
    verdict: Verdict | None
    take: str
    problems: tuple[str, ...]

    @property
    def usable(self) -> bool:
        """True when both a score and a verdict were read."""
        return self.score is not None and self.verdict is not None


def _fmt(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _number_score(x: float, shown: str) -> tuple[int | None, str | None]:
    if not math.isfinite(x) or not 0 <= x <= 100:
        return None, f"score {shown} is outside 0–100"
    if float(x).is_integer():
        return int(x), None
    if x > 10:
        return _half_up(x), None
    return None, f"score {shown} has no stated scale (0–10 or 0–100?); give an integer 0–100"


def parse_score(value: Any) -> tuple[int | None, str | None]:
    """Read a score under the module's rules.

    Args:
        value: The ``score`` value from the reply (any JSON type).

    Returns:
        ``(score, None)`` when usable, else ``(None, problem)``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "no score"
    if isinstance(value, bool):
        return None, f"score {_fmt(value)} is not a number"
    if isinstance(value, (int, float)):
        return _number_score(float(value), _fmt(value))
    if not isinstance(value, str):
        return None, f"score {_fmt(value)} is not a number"
    text = value.strip()
    m = _PCT.match(text)
    if m:
        x = float(m.group(1))
        if not 0 <= x <= 100:
            return None, f"score {_fmt(value)} is outside 0–100"
        return _half_up(x), None
    m = _FRACTION.match(text)
    if m:
        n, d = float(m.group(1)), float(m.group(2))
        if d <= 0 or not 0 <= n <= d:
            return None, f"score {_fmt(value)} is not within its own scale"
        return _half_up(100 * n / d), None
    if _PLAIN.match(text):
        return _number_score(float(text), _fmt(value))
    return None, f"score {_fmt(value)} is not a number"


def parse_verdict(value: Any) -> tuple[Verdict | None, str | None]:
    """Read a verdict: exactly ship or skip (any case, optional "it" and punctuation).

    Returns:
        ``(verdict, None)`` when usable, else ``(None, problem)``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, 'no verdict (expected "ship" or "skip")'
    if isinstance(value, str):
        m = _VERDICT_VALUE.match(value.strip().strip("\"'*`"))
        if m:
            return m.group(1).lower(), None  # type: ignore[return-value]
    return None, f'verdict {_fmt(value)} is neither "ship" nor "skip"'


def _fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Lower-cased keys; descend one level when the fields sit in a nested object."""
    flat = {str(k).strip().lower(): v for k, v in obj.items()}
    if "score" not in flat and "verdict" not in flat:
        for v in flat.values():
            if isinstance(v, Mapping):
                inner = {str(k).strip().lower(): x for k, x in v.items()}
                if "score" in inner or "verdict" in inner:
                    return inner
    return flat


def _labelled_verdict(text: str) -> tuple[Verdict | None, str | None]:
    found = {m.group(1).lower() for m in _LABEL_VERDICT.finditer(text)}
    if len(found) == 1:
        return found.pop(), None  # type: ignore[return-value]
    if found:
        return None, "the reply states both ship and skip as its verdict"
    return None, 'no verdict (expected "ship" or "skip")'


def _labelled_score(text: str) -> tuple[int | None, str | None]:
    found = [m.group(1) for m in _LABEL_SCORE.finditer(text)]
    if not found:
        return None, "no score"
    results = {parse_score(s) for s in found}
    scores = {s for s, _ in results if s is not None}
    if len(scores) > 1:
        return None, "the reply states more than one score"
    if scores:
        return scores.pop(), None
    return next(iter(results))


def _prose_take(text: str) -> str:
    m = _LABEL_TAKE.search(text)
    if m:
        return m.group(1).strip().strip("\"'*")
    keep = [
        line
        for line in text.splitlines()
        if not (_LABEL_SCORE.search(line) or _LABEL_VERDICT.search(line))
    ]
    return "\n".join(keep).strip()


def _clean_take(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    take = value.strip()
    return take if len(take) <= _MAX_TAKE else take[:_MAX_TAKE].rstrip() + "…"


def parse_reply(text: str) -> ParsedReply:
    """Read a persona's reply under the module's rules.

    Args:
        text: The model's raw reply.

    Returns:
        A :class:`ParsedReply`; check :attr:`ParsedReply.usable`.
    """
    if not isinstance(text, str) or not text.strip():
        return ParsedReply(None, None, "", ("the reply was empty",))
    obj = extract_json(text)
    fields = _fields(obj) if obj is not None else {}

    if "score" in fields and fields["score"] not in (None, ""):
        score, score_problem = parse_score(fields["score"])
    else:
        score, score_problem = _labelled_score(text)
    if "verdict" in fields and fields["verdict"] not in (None, ""):
        verdict, verdict_problem = parse_verdict(fields["verdict"])
    else:
        verdict, verdict_problem = _labelled_verdict(text)

    take = ""
    for key in _TAKE_KEYS:
        if isinstance(fields.get(key), str) and fields[key].strip():
            take = fields[key]
            break
    if not take and obj is None:
        take = _prose_take(text)

    problems = [p for p in (score_problem, verdict_problem) if p]
    if obj is None and problems:
        problems.insert(0, "no JSON object was found")
    return ParsedReply(score, verdict, _clean_take(take), tuple(problems))


def from_object(obj: Any) -> ParsedReply:
    """Read an object a backend already decoded (and validated against the review schema).

    The lenient value rules still apply, so an object from a backend that only checked
    the JSON syntax (not the schema) is read the same way as one in text.

    Args:
        obj: The decoded reply, normally ``{"take": ..., "score": ..., "verdict": ...}``.

    Returns:
        A :class:`ParsedReply`.
    """
    if not isinstance(obj, Mapping):
        return ParsedReply(None, None, "", (f"the reply was {type(obj).__name__}, not an object",))
    fields = _fields(obj)
    score, score_problem = parse_score(fields.get("score"))
    verdict, verdict_problem = parse_verdict(fields.get("verdict"))
    take = next(
        (fields[k] for k in _TAKE_KEYS if isinstance(fields.get(k), str) and fields[k].strip()),
        "",
    )
    problems = tuple(p for p in (score_problem, verdict_problem) if p)
    return ParsedReply(score, verdict, _clean_take(take), problems)


def resolve_verdict(score: int, verdict: Verdict) -> tuple[Verdict, str | None]:
    """Apply the contradiction rule: the score decides a verdict that contradicts it.

    Args:
        score: The stated score, 0–100.
        verdict: The stated verdict.

    Returns:
        ``(verdict, note)``: the verdict to keep, and a note saying what was changed
        (None when the stated verdict stands).
    """
    if score >= SHIP_FROM and verdict == "skip":
        decided: Verdict = "ship"
    elif score <= SKIP_UPTO and verdict == "ship":
        decided = "skip"
    else:
        return verdict, None
    return decided, (
        f"the reply said {verdict} with a score of {score}; the score decides "
        f"({SHIP_FROM}+ ship, {SKIP_UPTO} or less skip), so the verdict is {decided}"
    )


_TOKEN = re.compile(r"\w+(?:'\w+)?", re.UNICODE)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def _words(text: str) -> list[str]:
    """Lower-cased words made of letters (numbers and punctuation are not words here)."""
    return [w.lower() for w in _WORD.findall(text)]


#: A take sharing this many consecutive words with the worked example copies it.
_COPY_RUN = 6


def _shares_run(ours: Sequence[str], theirs: Sequence[str], n: int) -> bool:
    grams = {tuple(theirs[i : i + n]) for i in range(len(theirs) - n + 1)}
    return any(tuple(ours[i : i + n]) in grams for i in range(len(ours) - n + 1))


def take_problem(
    take: str,
    *,
    shown: Sequence[str] = (),
    examples: Sequence[str] = (),
    instructions: Sequence[str] = (),
) -> str | None:
    """Say why a take is not a reason, or None when it is one.

    Args:
        take: The take to check.
        shown: Texts the model was shown (its prompt, the subject): a take that only
            hands a stretch of them back is not a judgement.
        examples: Takes shown to the model as examples: a copy is not its own view.
        instructions: The prompt's instructions: a take quoting six consecutive words of
            them is reciting the prompt, not judging.

    Returns:
        A short problem in plain words (shown to the model on a re-ask), or None.
    """
    words = _words(take)
    if not words:
        return "no take (the reason, in words)"
    if len(words) < 0.6 * len(_TOKEN.findall(take)):
        return "the take is mostly numbers and symbols, not a reason"
    distinct = set(words)
    if len(distinct) < 4:
        return f"the take {_fmt(take)} is too short to be a reason"
    if len(words) >= 8 and len(distinct) < 0.5 * len(words):
        return "the take repeats itself instead of giving a reason"
    flat = " ".join(words)
    for example in examples:
        theirs = _words(example)
        ratio = difflib.SequenceMatcher(None, flat, " ".join(theirs)).ratio()
        if ratio >= 0.8 or _shares_run(words, theirs, _COPY_RUN):
            return "the take copies the example instead of judging this tool"
    if any(flat in " ".join(_words(text)) for text in shown) or any(
        _shares_run(words, _words(text), _COPY_RUN) for text in instructions
    ):
        return "the take repeats the prompt's words instead of judging the tool"
    return None


def cut_loop(take: str, *, n: int = 3) -> tuple[str, bool]:
    """Cut a take where it starts repeating itself.

    Args:
        take: The take.
        n: Length of the phrase (in words) whose second occurrence marks the loop.

    Returns:
        ``(take, cut)``: the take up to the first repeated ``n``-word phrase (with
        trailing punctuation dropped and "…" added) and True, or the take unchanged and
        False when no phrase repeats.
    """
    spans = [(m.start(), m.group().lower()) for m in _TOKEN.finditer(take)]
    seen: set[tuple[str, ...]] = set()
    for i in range(len(spans) - n + 1):
        gram = tuple(w for _, w in spans[i : i + n])
        if gram in seen:
            head = take[: spans[i][0]].rstrip(" ,;:-–—\t\n")
            return head.rstrip(".") + "…", True
        seen.add(gram)
    return take, False
