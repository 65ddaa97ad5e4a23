"""Progress while a person waits, shown so that a saved notebook still tells the truth.

One :class:`Progress` serves the fusion engine, ``fuse_many`` and the panel: steps with a
growing total, reported

- in a notebook as one line of text (and a small HTML bar) displayed with a display id and
  *updated in place* at every step. A tqdm widget would be saved as its first frame
  ("0/4"), so a shared notebook would show a run that never finished; an updated display
  is saved as its last state, reads on GitHub, nbviewer and exported HTML, and needs no
  widget manager;
- in a terminal as plain lines on stderr (a bar redrawn in place reads badly in logs and CI);
- to a callable ``progress(label, done, total)`` instead, when one is given.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Progress", "ProgressLike", "in_notebook", "watching"]

#: ``True`` (a line or lines), ``False`` (silent), or ``callable(label, done, total)``.
ProgressLike = bool | Callable[[str, int, int], None]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (never imports IPython just to ask)."""
    if "IPython" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - a broken IPython install
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def watching() -> bool:
    """True when a person is likely watching: a notebook, or stderr is a terminal."""
    if in_notebook():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


class _Line:
    """What the notebook shows: plain text, and an escaped HTML line with a bar."""

    def __init__(self, desc: str, done: int, total: int, label: str) -> None:
        self.desc, self.done, self.total, self.label = desc, done, total, label

    def __repr__(self) -> str:
        tail = f" · {self.label}" if self.label else ""
        return f"{self.desc}: {self.done}/{self.total}{tail}"

    def _repr_html_(self) -> str:
        tail = f" · {html.escape(self.label)}" if self.label else ""
        return (
            '<div class="fk-progress" style="font-family:monospace;font-size:12px">'
            f'<progress value="{self.done}" max="{max(self.total, 1)}" '
            'style="width:8em;vertical-align:middle"></progress> '
            f"{html.escape(self.desc)}: {self.done}/{self.total}{tail}</div>"
        )


class Progress:
    """Steps with a growing total, shown as an updated line, as lines, or passed on.

    Args:
        progress: True, False or a callable ``progress(label, done, total)``.
        total: Steps expected so far (:meth:`grow` adds more).
        desc: What is running (``"fuse best-of"``, ``"Panel"``).
        start: A first line saying what starts (terminal; the notebook line shows it).
    """

    def __init__(
        self, progress: ProgressLike, total: int, desc: str, *, start: str | None = None
    ) -> None:
        self.total = total
        self.done = 0
        self.desc = desc
        self._label = start or ""
        self._callback = progress if callable(progress) else None
        self._handle: Any = None
        self._lines = False
        if progress is True:
            if in_notebook():
                from IPython.display import display

                self._handle = display(self._view(), display_id=True)
            else:
                self._lines = True
                self._say(f"{start or desc} ...")

    def _view(self) -> _Line:
        return _Line(self.desc, self.done, self.total, self._label)

    def _show(self) -> None:
        if self._handle is not None:
            self._handle.update(self._view())

    @staticmethod
    def _say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def grow(self, n: int = 1) -> None:
        """Expect ``n`` more steps (a judge call, a debate round)."""
        self.total += n
        self._show()

    def note(self, text: str) -> None:
        """Say what is happening now, without a step (the notebook line; nothing as lines)."""
        self._label = text
        self._show()

    def step(self, label: str) -> None:
        """One step finished (``"A · edge: done 0.8 s"``)."""
        self.done += 1
        self._label = label
        self._show()
        if self._lines:
            width = len(str(self.total))
            self._say(f"  [{self.done:>{width}}/{self.total}] {label}")
        if self._callback is not None:
            self._callback(label, self.done, self.total)

    def close(self) -> None:
        """Finish: the notebook line keeps its last state (lines need no closing)."""
        self._handle = None
