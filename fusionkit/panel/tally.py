"""Community votes for one tool, as the decision page reads them from a vote store.

Any object with ``tally(name) -> {"ship": n, "skip": m}`` is a vote source (the real one
is :class:`fusionkit.votes.store.VoteStore`); :meth:`Tally.read` checks what it returns,
so a malformed store fails with a message instead of a wrong page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import InvalidRequestError

__all__ = ["NO_VOTES", "Tally", "VoteSource"]

NO_VOTES = "No community votes yet"


class VoteSource(Protocol):
    """Anything with ``tally(name) -> {"ship": n, "skip": m}`` (e.g. a VoteStore)."""

    def tally(self, name: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Tally:
    """Community ship/skip votes for one tool."""

    ship: int = 0
    skip: int = 0

    @property
    def total(self) -> int:
        """All votes."""
        return self.ship + self.skip

    @property
    def ship_pct(self) -> float | None:
        """Ship share in percent (None with no votes)."""
        return None if self.total == 0 else 100.0 * self.ship / self.total

    @property
    def label(self) -> str:
        """``"12 ship / 3 skip (80% ship)"`` or ``"No community votes yet"``."""
        if self.total == 0:
            return NO_VOTES
        return f"{self.ship} ship / {self.skip} skip ({self.ship_pct:.0f}% ship)"

    @classmethod
    def read(cls, votes: VoteSource | None, name: str) -> Tally | None:
        """Read ``votes.tally(name)``; None when there is no vote source."""
        if votes is None:
            return None
        raw = votes.tally(name)
        if not isinstance(raw, Mapping):
            raise InvalidRequestError(
                f"votes.tally({name!r}) must return a mapping like "
                f'{{"ship": 3, "skip": 1}}, got {type(raw).__name__}.'
            )
        counts = []
        for key in ("ship", "skip"):
            n = raw.get(key, 0)
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise InvalidRequestError(
                    f"votes.tally({name!r})[{key!r}] must be a count >= 0, got {n!r}."
                )
            counts.append(n)
        return cls(*counts)
