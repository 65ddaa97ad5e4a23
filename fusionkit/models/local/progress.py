"""One line per model load: "loading <model> … done in N s".

A load takes from under a second (stored 4-bit weights) to minutes (a first conversion, a
large model); a silent cell for that long looks hung. fusionkit shows one line of its own
and silences the per-tensor bars of transformers and the GGUF reader
(:func:`~fusionkit.models.local.loading.quiet_progress_bars`). The line is plain text on
stderr everywhere, notebooks included: "loading …" appears at once and "done in N s" is
appended to the same line, so a saved notebook shows the whole line with no kernel (a tqdm
widget would be saved as its first frame, "loading" without "done"), and a log gets no
carriage-return animation. ``progress=False`` prints nothing.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

__all__ = ["load_line"]


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
