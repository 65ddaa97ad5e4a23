"""Lenient parsing of JSON that language models write.

Judges and panel personas are asked for JSON, and small models answer with code fences,
prose around it, single quotes, Python literals (True/None), trailing commas or a missing
closing brace. :func:`extract_json` finds the first JSON object it can read in such text;
it never evaluates code.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

__all__ = ["extract_json"]

_FENCE = re.compile(r"```(?:json|JSON|js|python)?\s*(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _candidates(text: str) -> list[str]:
    """Brace-balanced ``{...}`` substrings, outermost first, in order of appearance."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        start = text.find("{", i)
        if start < 0:
            break
        depth = 0
        in_str: str | None = None
        esc = False
        end = -1
        for j in range(start, n):
            ch = text[j]
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == in_str:
                    in_str = None
                continue
            if ch in ('"', "'"):
                # an apostrophe inside a word ("don't") is not a string opener
                if ch == "'" and j > 0 and text[j - 1].isalnum():
                    continue
                in_str = ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    end = j
                    break
        if end < 0:
            # unbalanced: close what is open (a reply cut off by max_tokens)
            tail = text[start:]
            if in_str:
                tail += in_str
            out.append(tail + "}" * max(depth, 1))
            break
        out.append(text[start : end + 1])
        i = end + 1
    return out


def _try_load(chunk: str) -> dict[str, Any] | None:
    chunk = chunk.strip()
    for attempt in (chunk, _TRAILING_COMMA.sub(r"\1", chunk)):
        try:
            value = json.loads(attempt)
        except ValueError:
            pass
        else:
            return value if isinstance(value, dict) else None
        # Python-literal style: single quotes, True/False/None. literal_eval never runs code.
        pyish = re.sub(r"\btrue\b", "True", attempt)
        pyish = re.sub(r"\bfalse\b", "False", pyish)
        pyish = re.sub(r"\bnull\b", "None", pyish)
        try:
            value = ast.literal_eval(pyish)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
    return None


def extract_json(text: str) -> dict[str, Any] | None:
    """Return the first JSON object readable in ``text``, or None.

    Args:
        text: A model's reply.

    Returns:
        The parsed object (a dict), or None when nothing readable is found.

    Example:
        >>> extract_json('Sure! ```json\\n{"winner": "B", "scores": {"A": 3, "B": 8,}}\\n```')
        {'winner': 'B', 'scores': {'A': 3, 'B': 8}}
    """
    if not isinstance(text, str) or "{" not in text:
        return None
    sources = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for source in sources:
        for chunk in _candidates(source):
            value = _try_load(chunk)
            if value is not None:
                return value
    return None
