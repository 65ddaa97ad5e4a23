"""Progress of a panel, one line (or one bar step) per persona: no silent minutes.

A panel on the embedded CPU model takes minutes, so the user sees it start at once and
sees each persona finish: a tqdm bar in a notebook (``tqdm.auto``), plain lines on stderr
in a terminal (a bar redrawn in place reads badly in logs and CI). ``progress=False``
silences it; a callable ``progress(label, done, total)`` receives the same events instead,
as :func:`fusionkit.evaluation.evaluate` does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ..errors import InvalidRequestError

__all__ = ["PanelProgress", "ProgressLike", "check_progress"]

#: ``True`` (bar or lines), ``False`` (silent), or ``callable(label, done, total)``.
ProgressLike = bool | Callable[[str, int, int], None]


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


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where tqdm.auto draws a widget bar)."""
    if "IPython" not in sys.modules:  # never import IPython just to ask
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - a broken IPython install
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class PanelProgress:
    """Reports persona reviews as they finish.

    Args:
        progress: True, False or a callable (see the module docstring).
        total: How many persona reviews will be reported.
        what: One line saying what starts (shown first, in a terminal).
    """

    def __init__(self, progress: ProgressLike, total: int, what: str) -> None:
        self.total = total
        self.done = 0
        self._callback = progress if callable(progress) and progress is not True else None
        self._bar: Any = None
        self._lines = False
        if progress is True:
            if _in_notebook():
                from tqdm.auto import tqdm

                self._bar = tqdm(total=total, desc="Panel", unit="review", leave=True)
                self._bar.set_postfix_str(what)
            else:
                self._lines = True
                self._say(f"{what} ...")

    @staticmethod
    def _say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def step(self, label: str) -> None:
        """One persona review finished.

        Args:
            label: E.g. ``"Edge 4-bit · Skeptic: 28/100 skip (41.2 s)"``.
        """
        self.done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(label, refresh=False)
            self._bar.update(1)
        elif self._lines:
            width = len(str(self.total))
            self._say(f"  [{self.done:>{width}}/{self.total}] {label}")
        if self._callback is not None:
            self._callback(label, self.done, self.total)

    def close(self) -> None:
        """Finish the bar (lines need no closing)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
