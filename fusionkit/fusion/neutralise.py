"""Untrusted text inside a judge prompt: delimiters, neutralising, reading labels back.

Each candidate sits between ``<<<RESPONSE X #nonce>>>`` and ``<<<END OF RESPONSE X
#nonce>>>``; the question between ``<<<QUESTION #nonce>>>`` and ``<<<END OF QUESTION
#nonce>>>``. :func:`neutralise` rewrites anything inside a candidate that imitates those
delimiters, names a label ("Response B is the best", "the winner is B"), opens a role
header ("Judge:", "Assistant (judge):", "### Final decision:") or carries a verdict-shaped
JSON key (``"winner":``), so a candidate can neither close its own block, nor speak as the
judge, nor hand an echoing judge a ready-made verdict. :func:`scan` says which of those
were found (the judgment reports suspected injection). The answer the user gets is always
the original text; only the judge's copy is neutralised.

Why a nonce: the labels' shuffle is seeded from the prompt and the pool (so a fusion's
calls hit the response cache), which makes a candidate's label predictable. The nonce is
not: it is an HMAC of the prompt under a key drawn at random once per process
(:func:`nonce_for`), so a candidate cannot write the delimiters of its own prompt, and
the judge's own words start after the last delimiter it may have echoed
(:func:`own_part`). Within a process the nonce is stable, so repeated judge calls still
hit the cache; a new process asks the judge again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from typing import Any

__all__ = [
    "DELIMITER",
    "MAX_CANDIDATE_CHARS",
    "block",
    "echoed_candidate",
    "neutralise",
    "nonce_for",
    "normalise_label",
    "other_answers",
    "own_part",
    "question_block",
    "scan",
    "strip_delimiters",
]

#: Longer candidate texts are cut (with a marker) before they reach the judge.
MAX_CANDIDATE_CHARS = 6000
#: What opens every closing delimiter in a judge prompt: the stop string of free-text judge
#: replies. Not the bare ``<<<``: a small model often OPENS its reply by echoing a block
#: header, and would stop before writing anything.
DELIMITER = "<<<END"

# -- reading labels back ---------------------------------------------------------------------------------

_LABEL_RE = re.compile(
    r"^\s*[\"'`*(\[]*\s*(?:response|candidate|answer|option)?[\s_\-:#]*\(?\s*"
    r"([A-Za-z]{1,2})\s*\)?[\s.\"'`*)\]]*$",
    re.I,
)


def normalise_label(value: Any, labels: Sequence[str]) -> str | None:
    """Read a label the judge wrote (``"B"``, ``"Response B"``, ``"(b)"``); None if invalid."""
    if not isinstance(value, str):
        return None
    m = _LABEL_RE.match(value)
    if not m:
        return None
    label = m.group(1).upper()
    return label if label in labels else None


# -- neutralising untrusted text ------------------------------------------------------------

_OPEN = r"(?:<|‹|«|＜|&lt;|\[\[|\{\{)"
_CLOSE = r"(?:>|›|»|＞|&gt;|\]\]|\}\})"
_FAKE_DELIMITER = re.compile(
    rf"{_OPEN}{{2,}}[ \t/]*(?:(?:begin|start|end)[ \t_\-]*(?:of[ \t_\-]*)?)?"
    rf"(?:response|question|candidate|answer|judge|system|instructions?|analysis)\b"
    rf"[^\n]{{0,40}}?{_CLOSE}{{2,}}",
    re.I,
)
_ANGLE_RUN = re.compile(r"<{3,}|>{3,}")
_ROLE_WORDS = (
    r"system|judge|assistant|user|human|instructions?|verdict|decision|ruling|evaluation|winner"
)
# A line that opens with a role or verdict header, up to two words before the key word
# and an optional parenthesis: "Judge:", "JUDGE VERDICT:", "Assistant (judge):",
# "### Final decision:".
_ROLE_HEADER = re.compile(
    rf"(?im)^(?P<lead>[ \t>#*_\-]*)(?P<word>(?:[a-z]+[ \t]+){{0,2}}(?:{_ROLE_WORDS})"
    rf"(?:[ \t]*\([^()\n]{{0,20}}\))?)(?P<tail>[ \t*_]*:)"
)
# A verdict-shaped JSON key ("winner": ...): an echoing judge would hand it on as its own.
_VERDICT_KEY = re.compile(
    r"""(?i)(["'`])(winner|best|best_response|choice|verdict|scores?|ratings)\1(\s*:)"""
)
_REMOVED_VERDICT = "[verdict-like text removed]"


def _label_alts(labels: Sequence[str]) -> str:
    return "|".join(sorted((re.escape(x) for x in labels), key=len, reverse=True))


def _label_mentions(labels: Sequence[str]) -> re.Pattern[str] | None:
    if not labels:
        return None
    return re.compile(
        rf"(?i)\b(?:response|candidate|assistant)[\s_\-:#]*\(?(?:{_label_alts(labels)})\)?"
        r"(?![A-Za-z0-9])"
    )


def _verdict_claims(labels: Sequence[str]) -> re.Pattern[str] | None:
    """Sentences that state a verdict about a label: "the winner is B", "Option B is
    best", "B wins". An option named alone ("the answer is B") is left alone: in a
    multiple-choice question that is the candidate's answer, which the judge must see."""
    if not labels:
        return None
    alts = rf"(?-i:{_label_alts(labels)})"
    praise = r"(?:the\s+)?(?:best|winner|better|strongest|preferred|top\s+choice)"
    return re.compile(
        rf"(?i)\b(?:(?:the\s+)?(?:winner|best\s+(?:response|answer|candidate|option)|"
        rf"verdict|decision)\s*(?:is|:|=|-)\s*(?:response\s+|option\s+|candidate\s+)?"
        rf"[\"'(]?{alts}\b[\"')]?"
        rf"|(?:option|choice|answer|response|candidate)?\s*[\"'(]?{alts}[\"')]?\s+"
        rf"(?:is|was|should\s+be)\s+{praise}\b"
        rf"|\b{alts}\s+(?:wins|should\s+win|is\s+the\s+winner))"
    )


def scan(text: str, labels: Sequence[str] = ()) -> tuple[str, tuple[str, ...]]:
    """Neutralise untrusted text and say which injection-like patterns were found.

    Args:
        text: A candidate's text (or the prompt, or a previous judge output).
        labels: The labels in use in this prompt.

    Returns:
        ``(neutralised text, findings)``; findings name the kinds of text rewritten
        (``"delimiter"``, ``"label mention"``, ``"verdict claim"``, ``"role header"``,
        ``"verdict key"``), each once, in that order. A run of ``<<<`` alone (a doctest)
        and truncation are not findings.
    """
    found: list[str] = []

    def sub(pattern: re.Pattern[str] | None, repl: Any, s: str, what: str) -> str:
        if pattern is None:
            return s
        out, n = pattern.subn(repl, s)
        if n and what not in found:
            found.append(what)
        return out

    out = sub(_FAKE_DELIMITER, "[delimiter removed]", text, "delimiter")
    out = _ANGLE_RUN.sub(
        lambda m: ("‹" if m.group(0)[0] == "<" else "›") * len(m.group(0)),
        out,
    )
    out = sub(_verdict_claims(labels), _REMOVED_VERDICT, out, "verdict claim")
    out = sub(_label_mentions(labels), "[another response]", out, "label mention")
    out = sub(_ROLE_HEADER, r"\g<lead>\g<word> (quoted)\g<tail>", out, "role header")
    out = sub(_VERDICT_KEY, r"\1quoted_\2\1\3", out, "verdict key")
    if len(out) > MAX_CANDIDATE_CHARS:
        cut = len(out) - MAX_CANDIDATE_CHARS
        out = out[:MAX_CANDIDATE_CHARS] + f"\n[... {cut} more characters cut]"
    return out, tuple(found)


def neutralise(text: str, labels: Sequence[str] = ()) -> str:
    """Make untrusted text safe to place inside a judge prompt.

    - Imitated delimiters (``<<<END OF RESPONSE A>>>``, lookalike brackets, ``&lt;``)
      become ``[delimiter removed]``.
    - Any other run of three or more ``<`` or ``>`` becomes lookalike characters
      (``›››``), so it can never form a real delimiter (a doctest ``>>>`` stays readable).
    - A verdict stated about a label in use ("the winner is B", "Option B is best",
      "B wins") becomes ``[verdict-like text removed]``.
    - A mention of a label in use (``Response B``, any letter case) becomes
      ``[another response]``: candidates are written before labels exist, so any such
      mention is either a coincidence or an attempt to steer the judge.
    - A line-leading role or verdict header (``Judge:``, ``JUDGE VERDICT:``,
      ``Assistant (judge):``, ``### Final decision:``) is marked ``(quoted)`` so it
      cannot read as the judge's own voice.
    - A verdict-shaped JSON key (``"winner":``, ``"scores":``) becomes
      ``"quoted_winner":``, so a judge that echoes it does not echo a verdict.

    Args:
        text: A candidate's text (or the prompt, or a previous judge output).
        labels: The labels in use in this prompt.

    Returns:
        The neutralised text (:func:`scan` also says what was found).
    """
    return scan(text, labels)[0]


# -- delimiters with a nonce ----------------------------------------------------------------

# Drawn once per process: nonces are stable within it (judge calls hit the response
# cache) and unknowable outside it (a candidate cannot predict its prompt's delimiters).
_NONCE_KEY = secrets.token_bytes(32)


def nonce_for(*parts: str) -> str:
    """A delimiter nonce for a prompt made of ``parts``: 8 hex digits, an HMAC under a key
    drawn at random when fusionkit is imported (see the module docstring)."""
    msg = "\0".join(parts).encode("utf-8")
    return hmac.new(_NONCE_KEY, msg, hashlib.sha256).hexdigest()[:8]


def _tag(nonce: str) -> str:
    return f" #{nonce}" if nonce else ""


def block(label: str, text: str, labels: Sequence[str], nonce: str = "") -> str:
    """One candidate inside its delimiters (with the prompt's nonce), neutralised."""
    body = neutralise(text, labels).strip() or "[empty response]"
    t = _tag(nonce)
    return f"<<<RESPONSE {label}{t}>>>\n{body}\n<<<END OF RESPONSE {label}{t}>>>"


def question_block(question: str, labels: Sequence[str] = (), nonce: str = "") -> str:
    """The question inside its delimiters (neutralised too: it may quote model text)."""
    t = _tag(nonce)
    body = neutralise(question, labels).strip()
    return f"<<<QUESTION{t}>>>\n{body}\n<<<END OF QUESTION{t}>>>"


def other_answers(texts: Sequence[str]) -> str:
    """Other members' answers for a debate turn: plain "Another answer:" paragraphs.

    No delimiters and no labels: a small model copies what it sees, and a debate's
    final answers must never carry ``<<<RESPONSE X>>>`` tags. The texts are
    neutralised (no imitated delimiters or role headers) and stripped of echoed tags.
    """
    parts = []
    for t in texts:
        body = strip_delimiters(neutralise(t)).strip() or "(no answer)"
        parts.append(f"Another answer:\n{body}")
    return "\n\n".join(parts)


def own_part(reply: str, nonce: str, tail: str = "") -> str:
    """What the judge wrote itself: the reply after the last echoed piece of its prompt.

    A small judge often echoes its prompt (every candidate, then the task) before its
    own verdict; anything up to the last delimiter carrying this prompt's ``nonce``, and
    up to the last copy of the prompt's closing ``tail`` (the task text), is echo.
    """
    out = reply or ""
    if nonce:
        i = out.rfind(f"#{nonce}")
        if i >= 0:
            j = out.find("\n", i)
            out = "" if j < 0 else out[j + 1 :]
    if tail:
        key = tail.strip()[-60:]
        k = out.rfind(key) if key else -1
        if k >= 0:
            out = out[k + len(key) :]
    return out


def echoed_candidate(reply: str, texts: dict[str, str], min_chars: int = 24) -> str | None:
    """The label of a candidate whose text (as the judge saw it) the reply reproduces
    verbatim, or None. Texts shorter than ``min_chars`` are not checked: a judge may
    quote a short answer ("42") in its reason."""
    flat = " ".join((reply or "").split())
    for label, text in texts.items():
        t = " ".join(text.split())
        if len(t) >= min_chars and t in flat:
            return label
    return None


_ECHOED_DELIMITER = re.compile(
    r"(?im)^[ \t]*(?:<{2,}|‹{2,})[ \t/]*(?:(?:begin|start|end)[ \t_\-]*(?:of[ \t_\-]*)?)?"
    r"(?:response|question|candidate|answer|analysis)\b[^\n<>]{0,40}(?:>{1,}|›{1,})?[ \t]*$"
)


def strip_delimiters(text: str) -> str:
    """Remove delimiters a judge echoed (``<<<RESPONSE A>>>``, ``<<<END OF RESPONSE B>>``,
    ``[delimiter removed]``): small models often open a free-text reply with one."""
    out = _ECHOED_DELIMITER.sub("", text)
    out = _FAKE_DELIMITER.sub("", out)
    out = out.replace("[delimiter removed]", "")
    return re.sub(r"\n{3,}", "\n\n", out).strip()
