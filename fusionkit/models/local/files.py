"""Writing a model folder once, atomically, even with several processes at once.

Used for the one-time GGUF conversion (:mod:`~fusionkit.models.local.embedded`) and for the
stored 4-bit weights (:mod:`~fusionkit.models.local.stored`). The folder is written into a
temporary folder beside the target and renamed into place, so an interrupted write leaves
no half-written model (the next call starts over). Writers are serialised by a lock file
(``flock`` where the OS has it); where it does not, the loser of the final rename simply
uses the winner's folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ...errors import ConfigurationError

__all__ = ["exclusive", "write_folder_once"]


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on ``lock_path``; yields False where the OS has no flock."""
    try:
        import fcntl
    except ImportError:  # Windows: the rename race in write_folder_once is the only guard
        yield False
        return
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def write_folder_once(
    out: Path, write: Callable[[Path], None], is_complete: Callable[[Path], bool]
) -> Path:
    """Create ``out`` by calling ``write(tmp)`` on a temporary folder and renaming it.

    Does nothing when ``out`` is already complete (also when another process completed it
    while this one waited for the lock).

    Args:
        out: The folder to create.
        write: Fills the folder it is given.
        is_complete: Says whether a folder holds a complete result.

    Returns:
        ``out``.

    Raises:
        ConfigurationError: ``write`` left an incomplete folder.
    """
    if is_complete(out):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{out.name}.tmp-"
    with exclusive(out.parent / f".{out.name}.lock") as locked:
        if is_complete(out):  # another process finished while we waited for the lock
            return out
        for stale in out.parent.glob(prefix + "*"):
            # Under the lock, every temporary folder is a leftover of a killed writer;
            # without a lock only old ones are surely dead.
            if locked or time.time() - stale.stat().st_mtime > 86400:
                shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))
        try:
            write(tmp)
            if not is_complete(tmp):
                raise ConfigurationError(f"writing {out} left an incomplete folder.")
            if out.exists():  # not ours (we never leave one half-written): keep it aside
                out.rename(out.with_name(f".{out.name}.broken-{int(time.time())}"))
            try:
                os.rename(tmp, out)
            except OSError:
                if not is_complete(out):  # lost a race to a finished writer: fine
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # nothing left after a successful rename
    return out
