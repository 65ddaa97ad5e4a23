"""Keep secrets out of every string fusionkit shows: reprs, logs, exceptions, cache rows.

Two tools:

* :class:`Secret` holds a key so that an accidental ``repr``/``str`` (a debugger, a
  notebook's variable inspector, ``vars(model)``) shows ``'***'``, never the value.
* :func:`redact` scrubs known secret values out of text that came from elsewhere — above
  all a provider's error body, which may echo the key back ("Incorrect API key provided:
  sk-...") — before it is put into an exception or a log line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REDACTED", "Secret", "redact"]

#: What a scrubbed secret is replaced with.
REDACTED = "[REDACTED]"

# Secrets shorter than this are not scrubbed piecewise: a 3-letter "key" would blank out
# ordinary words. Whole secrets of any length >= 4 are always scrubbed.
_MIN_SECRET = 4
# A provider may echo only part of a key (a prefix, or the key cut by a line break).
# Any word of at least this many characters that is a piece of a secret is scrubbed too;
# a random key shares no such long piece with ordinary text.
_MIN_FRAGMENT = 8
_WORD = re.compile(r"[A-Za-z0-9_\-.+/=]{" + str(_MIN_FRAGMENT) + ",}")


class Secret:
    """A secret string whose ``repr`` and ``str`` never show the value.

    Args:
        value: The secret (an API key).

    Example:
        >>> s = Secret("sk-123456789")
        >>> s
        Secret('***')
        >>> s.get()
        'sk-123456789'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The secret value itself (send it, never print it)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling a model (multiprocessing, caching) must not write the key to disk.
        raise TypeError("a Secret cannot be pickled; pass the key from the environment.")


def redact(text: str, secrets: Iterable[str | Secret | None]) -> str:
    """Replace every occurrence of each secret (and long pieces of it) in ``text``.

    Args:
        text: Any text: an error body, a log line, an exception message.
        secrets: The values to hide; None and empty values are ignored.

    Returns:
        ``text`` with each secret replaced by ``[REDACTED]``.

    Example:
        >>> redact("bad key sk-or-v1-abcdef123456", ["sk-or-v1-abcdef123456"])
        'bad key [REDACTED]'
    """
    values = sorted(
        {s.get() if isinstance(s, Secret) else s for s in secrets if s},
        key=len,
        reverse=True,
    )
    values = [v for v in values if len(v) >= _MIN_SECRET]
    if not values or not text:
        return text
    for v in values:
        text = text.replace(v, REDACTED)

    def scrub(match: re.Match[str]) -> str:
        word = match.group(0)
        return REDACTED if any(word in v for v in values) else word

    return _WORD.sub(scrub, text)
