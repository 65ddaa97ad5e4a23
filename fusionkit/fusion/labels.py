"""Anonymous labels (A, B, ..., Z, AA, ...): how they are made, shuffled and ordered.

The one definition of "label order" (the order the judge sees candidates in) for the
engine, the modes, the tables and the timeline.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Protocol, TypeVar

__all__ = ["by_label", "label_key", "labels_for", "shuffle_order"]


class _Labelled(Protocol):
    @property
    def label(self) -> str: ...


L = TypeVar("L", bound=_Labelled)


def labels_for(n: int) -> list[str]:
    """Labels for ``n`` candidates: A..Z, then AA, AB, ..."""
    out: list[str] = []
    for i in range(n):
        if i < 26:
            out.append(chr(65 + i))
        else:
            j = i - 26
            out.append(chr(65 + j // 26) + chr(65 + j % 26))
    return out


def shuffle_order(n: int, seed: int) -> list[int]:
    """A seeded permutation: ``order[position] = pool index`` of the candidate shown there."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def label_key(label: str) -> tuple[int, str]:
    """Sort key of a label: ``"Z"`` before ``"AA"`` (plain string order would not)."""
    return (len(label), label)


def by_label(items: Iterable[L]) -> list[L]:
    """Anything with a ``.label`` (candidates, turns, rows), in label order."""
    return sorted(items, key=lambda x: label_key(x.label))
