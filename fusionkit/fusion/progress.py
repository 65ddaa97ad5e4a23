"""Progress while a person waits: each member and each judge call, as it finishes.

In a notebook a tqdm bar (``tqdm.auto``); in a terminal plain lines on stderr (a bar
redrawn in place reads badly in logs and CI). ``progress=False`` silences it; a callable
``progress(label, done, total)`` receives the same steps instead (the convention of
:mod:`fusionkit.panel.progress` and :func:`fusionkit.evaluation.evaluate`). ``fuse``'s
default, ``None``, shows progress only where a person is watching: in a notebook, or
when stderr is a terminal.

:class:`FusionProgress` is an ``on_event`` observer: it turns
:class:`~fusionkit.fusion.events.FusionEvent` s into steps, so the engine knows nothing
about display.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ..errors import InvalidRequestError
from .events import FusionEvent

__all__ = ["FusionProgress", "Progress", "ProgressLike", "check_progress", "watching"]

#: ``True`` (bar or lines), ``False`` (silent), or ``callable(label, done, total)``.
ProgressLike = bool | Callable[[str, int, int], None]


def check_progress(progress: object, owner: str) -> ProgressLike | None:
    """Validate a ``progress=`` argument (None: decide by :func:`watching`).

    Raises:
        InvalidRequestError: Neither None, a bool nor a callable.
    """
    if progress is None or isinstance(progress, bool) or callable(progress):
        return progress  # type: ignore[return-value]
    raise InvalidRequestError(
        f"{owner}(progress=...) takes True (show progress), False (silent), None (only "
        f"when someone watches) or a function progress(label, done, total); got "
        f"{type(progress).__name__}."
    )


def _in_notebook() -> bool:
    if "IPython" not in sys.modules:  # never import IPython just to ask
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - a broken IPython install
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def watching() -> bool:
    """True when a person is likely watching: a notebook, or stderr is a terminal."""
    if _in_notebook():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


class Progress:
    """Steps with a growing total, shown as a bar, as lines, or passed to a callable.

    Args:
        progress: True, False or a callable ``progress(label, done, total)``.
        total: Steps expected so far (:meth:`grow` adds more).
        desc: What is running (``"fuse best-of"``).
        unit: What a step is (``"call"``, ``"prompt"``).
    """

    def __init__(self, progress: ProgressLike, total: int, desc: str, unit: str = "call") -> None:
        self.total = total
        self.done = 0
        self.desc = desc
        self._callback = progress if callable(progress) and progress is not True else None
        self._bar: Any = None
        self._lines = False
        if progress is True:
            if _in_notebook():
                from tqdm.auto import tqdm

                self._bar = tqdm(total=total, desc=desc, unit=unit, leave=True)
            else:
                self._lines = True
                self._say(f"{desc} ...")

    @staticmethod
    def _say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def grow(self, n: int = 1) -> None:
        """Expect ``n`` more steps (a judge call, a debate round)."""
        self.total += n
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def note(self, text: str) -> None:
        """Say what is happening now, without a step (bar postfix; nothing as lines)."""
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    def step(self, label: str) -> None:
        """One step finished (``"A · edge: done 0.8 s"``)."""
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


def _took(e: FusionEvent) -> str:
    return "" if e.latency_s is None else f" {e.latency_s:.1f} s"


class FusionProgress:
    """An ``on_event`` observer that reports members and judge calls to a :class:`Progress`."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def __call__(self, e: FusionEvent) -> None:
        p = self.progress
        who = f"{e.label} · {e.model}" if e.label else f"judge · {e.model}"
        where = f" (round {e.round})" if e.round else ""
        if e.kind == "round_start":
            p.note(f"debate round {e.round}")
        elif e.kind == "member_start" and e.stage == "debate":
            p.grow()
        elif e.kind == "member_finish":
            p.step(f"{who}{where}: done{_took(e)}")
        elif e.kind == "member_failed":
            p.step(f"{who}{where}: failed ({e.error})")
        elif e.kind == "judge_start":
            p.grow()
            p.note(f"judge · {e.detail}")
        elif e.kind == "judge_finish":
            p.step(f"{who} {e.detail}: done{_took(e)}")
        elif e.kind == "judge_failed":
            p.step(f"{who} {e.detail}: failed ({e.error})")
        elif e.kind == "judge_fallback":
            p.note(f"fallback: {e.detail}")
