"""Community votes: ship/skip verdicts, pairwise battles and Bradley–Terry ratings.

``ratings`` is imported lazily (it needs numpy and pandas); the store needs neither
until a DataFrame is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .store import VERDICTS, WINNERS, Battle, Vote, VoteStore

if TYPE_CHECKING:
    from .ratings import ratings, win_rate_matrix

__all__ = [
    "VERDICTS",
    "WINNERS",
    "Battle",
    "Vote",
    "VoteStore",
    "ratings",
    "win_rate_matrix",
]


def __getattr__(name: str) -> Any:
    if name in ("ratings", "win_rate_matrix"):
        from . import ratings as _ratings

        return getattr(_ratings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
