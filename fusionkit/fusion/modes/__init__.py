"""The fusion modes, one object each, and the registry everything reads them from.

Adding a mode is one file (a :class:`~.base.Mode` subclass) plus one line in
:data:`_BUILTIN` below (or a call to :func:`register` from outside the package).
"""

from __future__ import annotations

from ...errors import InvalidRequestError
from .base import Collected, Mode
from .best_of import BestOf
from .cascade import Cascade
from .debate import Debate
from .merge import Merge
from .usc import UniversalSelfConsistency
from .vote import Vote, WeightedVote

__all__ = [
    "DEFAULT_MODE",
    "MODES",
    "NEEDS_JUDGE",
    "Collected",
    "Mode",
    "all_modes",
    "get_mode",
    "register",
]

#: The mode ``fuse`` uses when none is given (the one place it is written down).
DEFAULT_MODE = "best-of"

_REGISTRY: dict[str, Mode] = {}
_ALIASES: dict[str, str] = {}


def register(mode: Mode) -> Mode:
    """Add a mode (and its aliases) to the registry; returns it.

    Raises:
        ValueError: The name or an alias is already taken by another mode.
    """
    for key in (mode.name, *mode.aliases):
        owner = _ALIASES.get(key)
        if owner is not None and owner != mode.name:
            raise ValueError(f"mode name {key!r} is already taken by mode {owner!r}")
    _REGISTRY[mode.name] = mode
    for key in (mode.name, *mode.aliases):
        _ALIASES[key] = mode.name
    return mode


_BUILTIN = (
    BestOf(),
    Merge(),
    Debate(),
    Vote(),
    Cascade(),
    WeightedVote(),
    UniversalSelfConsistency(),
)
for _mode in _BUILTIN:
    register(_mode)


def all_modes() -> tuple[Mode, ...]:
    """Every registered mode, in registration order."""
    return tuple(_REGISTRY.values())


def get_mode(mode: object) -> Mode:
    """The mode called ``mode`` (a name or an alias, any case), or the Mode itself.

    Raises:
        InvalidRequestError: No such mode.
    """
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str):
        name = _ALIASES.get(mode.strip().lower())
        if name is not None:
            return _REGISTRY[name]
    raise InvalidRequestError(f"unknown mode {mode!r}; use one of {', '.join(_REGISTRY)}.")


#: The built-in modes' names, in display order (a snapshot; see :func:`all_modes`).
MODES: tuple[str, ...] = tuple(_REGISTRY)
#: The built-in modes that cannot run without a judge.
NEEDS_JUDGE: tuple[str, ...] = tuple(m.name for m in _REGISTRY.values() if m.needs_judge)
