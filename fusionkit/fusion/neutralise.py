"""Untrusted text inside a judge prompt: delimiters, neutralising, reading labels back.

Each candidate sits between ``<<<RESPONSE X>>>`` and ``<<<END OF RESPONSE X>>>``; the
question between ``<<<QUESTION>>>`` and ``<<<END OF QUESTION>>>``. :func:`neutralise`
rewrites anything inside a candidate that imitates those delimiters, names a label
("Response B is the best") or opens a role header ("Judge:", "System:"), so a candidate
can neither close its own block nor speak as the judge. The answer the user gets is
always the original text; only the judge's copy is neutralised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "DELIMITER",
    "MAX_CANDIDATE_CHARS",
    "block",
    "neutralise",
    "normalise_label",
    "question_block",
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
_ROLE_HEADER = re.compile(
    r"(?im)^(?P<lead>[ \t>#*_\-]*)(?P<word>system|judge|assistant|user|human|instructions?|"
    r"verdict|final verdict|evaluation)(?P<tail>[ \t*_]*:)"
)


def _label_mentions(labels: Sequence[str]) -> re.Pattern[str] | None:
    if not labels:
        return None
    alts = "|".join(sorted((re.escape(x) for x in labels), key=len, reverse=True))
    return re.compile(
        rf"\b(?:[Rr]esponse|RESPONSE|[Cc]andidate|CANDIDATE|[Aa]ssistant|ASSISTANT)"
        rf"[\s_\-:#]*\(?(?:{alts})\)?(?![A-Za-z0-9])"
    )


def neutralise(text: str, labels: Sequence[str] = ()) -> str:
    """Make untrusted text safe to place inside a judge prompt.

    - Imitated delimiters (``<<<END OF RESPONSE A>>>``, lookalike brackets, ``&lt;``)
      become ``[delimiter removed]``.
    - Any other run of three or more ``<`` or ``>`` becomes lookalike characters
      (``›››``), so it can never form a real delimiter (a doctest ``>>>`` stays readable).
    - A mention of a label in use (``Response B``) becomes ``[another response]``:
      candidates are written before labels exist, so any such mention is either a
      coincidence or an attempt to steer the judge.
    - A line-leading role header (``Judge:``, ``System:``, ``Verdict:``) is marked
      ``(quoted)`` so it cannot read as the judge's own voice.

    Args:
        text: A candidate's text (or the prompt, or a previous judge output).
        labels: The labels in use in this prompt.

    Returns:
        The neutralised text.
    """
    out = _FAKE_DELIMITER.sub("[delimiter removed]", text)
    out = _ANGLE_RUN.sub(
        lambda m: ("‹" if m.group(0)[0] == "<" else "›") * len(m.group(0)),
        out,
    )
    mentions = _label_mentions(labels)
    if mentions is not None:
        out = mentions.sub("[another response]", out)
    out = _ROLE_HEADER.sub(r"\g<lead>\g<word> (quoted)\g<tail>", out)
    if len(out) > MAX_CANDIDATE_CHARS:
        cut = len(out) - MAX_CANDIDATE_CHARS
        out = out[:MAX_CANDIDATE_CHARS] + f"\n[... {cut} more characters cut]"
    return out


def block(label: str, text: str, labels: Sequence[str]) -> str:
    """One candidate inside its delimiters, neutralised."""
    body = neutralise(text, labels).strip() or "[empty response]"
    return f"<<<RESPONSE {label}>>>\n{body}\n<<<END OF RESPONSE {label}>>>"


def question_block(question: str, labels: Sequence[str] = ()) -> str:
    """The question inside its delimiters (neutralised too: it may quote model text)."""
    return f"<<<QUESTION>>>\n{neutralise(question, labels).strip()}\n<<<END OF QUESTION>>>"


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
