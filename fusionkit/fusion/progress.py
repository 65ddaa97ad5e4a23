"""Progress while a person waits: each member and each judge call, as it finishes.

Shown by :class:`fusionkit._progress.Progress`: in a notebook one line updated in place
(saved as its last state), in a terminal plain lines on stderr. ``progress=False`` silences it; a callable
``progress(label, done, total)`` receives the same steps instead (the convention of
:mod:`fusionkit.panel.progress` and :func:`fusionkit.evaluation.evaluate`). ``fuse``'s
default, ``None``, shows progress only where a person is watching: in a notebook, or
when stderr is a terminal.

:class:`FusionProgress` is an ``on_event`` observer: it turns
:class:`~fusionkit.fusion.events.FusionEvent` s into steps, so the engine knows nothing
about display.
"""

from __future__ import annotations

from .._progress import Progress, ProgressLike, watching
from ..errors import InvalidRequestError
from .events import FusionEvent

__all__ = ["FusionProgress", "Progress", "ProgressLike", "check_progress", "watching"]


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
