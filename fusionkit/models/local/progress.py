"""One line per model load: "loading <model> … done in N s".

A load takes from under a second (stored 4-bit weights) to minutes (a first conversion, a
large model); a silent cell for that long looks hung. fusionkit shows one line of its own
and silences the per-tensor bars of transformers and the GGUF reader
(:func:`~fusionkit.models.local.loading.quiet_progress_bars`). In a notebook the line is a
tqdm.auto widget; elsewhere it is plain text on stderr (no carriage-return animation to
garble logs). ``progress=False`` prints nothing.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

__all__ = ["load_line"]


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


@contextlib.contextmanager
def load_line(what: str, *, enabled: bool = True) -> Iterator[None]:
    """Show "fusionkit: loading <what> … done in N s" around a load.

    Args:
        what: What is loading (a model name, "converting X (once)").
        enabled: False prints nothing.
    """
    if not enabled:
        yield
        return
    start = time.perf_counter()
    if _in_notebook():
        from tqdm.auto import tqdm

        bar = tqdm(total=1, desc=f"fusionkit: loading {what}", bar_format="{desc}{postfix}")
        ok = False
        try:
            yield
            ok = True
        finally:
            done = f"done in {time.perf_counter() - start:.1f} s" if ok else "failed"
            bar.set_postfix_str(done, refresh=False)
            bar.update(1)
            bar.close()
        return
    stream = sys.stderr
    stream.write(f"fusionkit: loading {what} … ")
    stream.flush()
    ok = False
    try:
        yield
        ok = True
    finally:
        stream.write(f"done in {time.perf_counter() - start:.1f} s\n" if ok else "failed\n")
        stream.flush()
