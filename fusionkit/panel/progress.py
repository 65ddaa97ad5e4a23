"""Progress of a panel, one line (or one bar step) per persona: no silent minutes.

A panel on the embedded CPU model takes minutes, so the user sees it start at once and
sees each persona finish: one line updated in place in a notebook (saved as its last
state), plain lines on stderr in a terminal (:class:`fusionkit._progress.Progress`). ``progress=False``
silences it; a callable ``progress(label, done, total)`` receives the same events instead,
as :func:`fusionkit.evaluation.evaluate` does.
"""

from __future__ import annotations

from .._progress import ProgressLike
from ..errors import InvalidRequestError

__all__ = ["ProgressLike", "check_progress"]


def check_progress(progress: object, owner: str) -> ProgressLike:
    """Validate a ``progress=`` argument.

    Args:
        progress: The value given.
        owner: The function it was given to, for the message.

    Returns:
        The value, unchanged.

    Raises:
        InvalidRequestError: Neither a bool nor a callable.
    """
    if isinstance(progress, bool) or callable(progress):
        return progress  # type: ignore[return-value]
    raise InvalidRequestError(
        f"{owner}(progress=...) takes True (show progress), False (silent) or a function "
        f"progress(label, done, total); got {type(progress).__name__}."
    )
