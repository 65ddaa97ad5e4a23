"""Anonymous labels (A, B, ..., Z, AA, ...): how they are made, shuffled and ordered.

The one definition of "label order" (the order the judge sees candidates in) for the
engine, the modes, the tables and the timeline.

Labels are bijective base-26 numerals (A..Z, AA..ZZ, AAA, ...), so every label is letters
only and no two pool positions share one, whatever the size. A pool is nevertheless
bounded (:data:`MAX_POOL_SIZE`): a judge reads every candidate in one prompt, and two
letters (702 labels) cover any allowed pool.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Protocol, TypeVar

from ..errors import InvalidRequestError

__all__ = [
    "MAX_POOL_SIZE",
    "by_label",
    "check_pool_size",
    "label_key",
    "labels_for",
    "shuffle_order",
]

#: The most members a pool may have. A judge reads every candidate in one prompt: 64
#: answers of a few hundred tokens already fill a large context window, and the
#: labels stay one or two letters (what :func:`~.neutralise.normalise_label` reads back).
MAX_POOL_SIZE = 64


class _Labelled(Protocol):
    @property
    def label(self) -> str: ...


L = TypeVar("L", bound=_Labelled)


def check_pool_size(n: int) -> int:
    """``n`` when it is an allowed pool size.

    Raises:
        InvalidRequestError: More than :data:`MAX_POOL_SIZE` members.
    """
    if n > MAX_POOL_SIZE:
        raise InvalidRequestError(
            f"the pool has {n} members; at most MAX_POOL_SIZE={MAX_POOL_SIZE} are allowed "
            "(a judge reads every candidate in one prompt). Split the pool or sample fewer."
        )
    return n


def _label(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def labels_for(n: int) -> list[str]:
    """Labels for ``n`` candidates: A..Z, then AA, AB, ... (letters only, never repeated).

    Raises:
        InvalidRequestError: ``n`` exceeds :data:`MAX_POOL_SIZE`.
    """
    return [_label(i) for i in range(check_pool_size(n))]


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
