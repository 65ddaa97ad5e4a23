"""The vote store's records (:class:`Vote`, :class:`Battle`) and the validation of votes.

Split from :mod:`fusionkit.votes.store` (the queries); shared with
:mod:`fusionkit.votes.ratings`. Everything here is importable from the store as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidRequestError

__all__ = [
    "SURROGATES",
    "VERDICTS",
    "WINNERS",
    "Battle",
    "Vote",
    "checked_text",
    "normalize_verdict",
    "normalize_winner",
]

#: Accepted ship/skip verdicts.
VERDICTS: tuple[str, ...] = ("ship", "skip")
#: Accepted battle outcomes: side A won, side B won, a tie, or both answers were bad.
WINNERS: tuple[str, ...] = ("a", "b", "tie", "bothbad")

#: Lone UTF-16 surrogates, which SQLite cannot encode.
SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Vote:
    """One ship/skip vote as recorded.

    Attributes:
        subject: What was voted on.
        voter: Who voted.
        verdict: ``"ship"`` or ``"skip"``.
        previous: The voter's verdict before this one, or None for a first vote.
        created_at: Unix time of the vote.
    """

    subject: str
    voter: str
    verdict: str
    previous: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Battle:
    """One pairwise battle as recorded.

    Attributes:
        model_a: The model shown as side A.
        model_b: The model shown as side B.
        winner: ``"a"``, ``"b"``, ``"tie"`` or ``"bothbad"``.
        voter: Who voted.
        prompt: The prompt both models answered, if given.
        created_at: Unix time of the vote.
    """

    model_a: str
    model_b: str
    winner: str
    voter: str
    prompt: str | None
    created_at: float


def checked_text(value: object, what: str) -> str:
    """``value`` if it is non-empty text (lone surrogates made U+FFFD), else InvalidRequestError."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{what} must be a non-empty string, got {value!r}.")
    # A lone UTF-16 surrogate (e.g. from a mis-decoded name) cannot be encoded for SQLite;
    # store it as U+FFFD rather than fail the vote with UnicodeEncodeError.
    return SURROGATES.sub("\ufffd", value)


def normalize_verdict(verdict: object) -> str:
    """Return ``"ship"`` or ``"skip"`` (case-insensitive), or raise InvalidRequestError."""
    key = verdict.strip().lower() if isinstance(verdict, str) else None
    if key not in VERDICTS:
        raise InvalidRequestError(
            f"unknown verdict {verdict!r}; use one of {', '.join(map(repr, VERDICTS))}."
        )
    return key


def normalize_winner(winner: object) -> str:
    """Return one of :data:`WINNERS`, or raise InvalidRequestError.

    Case, spaces, ``_`` and ``-`` are ignored, so ``"Both bad"`` and ``"both_bad"`` both
    mean ``"bothbad"``; ``"model_a"``/``"model_b"`` are accepted for ``"a"``/``"b"``.
    """
    key = None
    if isinstance(winner, str):
        key = "".join(ch for ch in winner.lower() if ch not in " _-")
        key = {"modela": "a", "modelb": "b"}.get(key, key)
    if key not in WINNERS:
        raise InvalidRequestError(
            f"unknown winner {winner!r}; use one of {', '.join(map(repr, WINNERS))}."
        )
    return key
