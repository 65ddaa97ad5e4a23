"""Server-sent events: the ``data`` of each event in a stream of bytes.

Written here rather than taken from ``httpx-sse``: the model already reads raw byte
chunks (each bounded by the call's deadline and counted against the size limit, see
:mod:`.limits`), and what is left — ``data:`` lines joined until a blank line, comments
and other fields skipped, CR/LF/CRLF endings, a last event without its blank line still
read — is this module. ``httpx-sse`` would add a dependency without taking over either
of those jobs, and it raises on a missing ``text/event-stream`` type that some servers
omit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

__all__ = ["sse_data"]


def _split(pending: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines of ``pending`` (CRLF, LF or CR endings) and the unfinished rest."""
    lines = pending.splitlines(keepends=True)  # C speed; bytes split only on CR/LF
    done: list[bytes] = []
    for i, line in enumerate(lines):
        if line.endswith(b"\n"):
            done.append(line.rstrip(b"\r\n"))
        elif line.endswith(b"\r") and i < len(lines) - 1:
            done.append(line[:-1])
        else:  # no ending yet, or a final CR that may be the first half of CRLF
            return done, line
    return done, b""


async def sse_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event in a byte stream (a last unterminated one too)."""
    pending = b""
    data: list[str] = []
    async for chunk in chunks:
        lines, pending = _split(pending + chunk)
        for raw in lines:
            if raw.startswith(b"data:"):
                data.append(raw[5:].removeprefix(b" ").decode("utf-8", "replace"))
            elif not raw and data:
                yield "\n".join(data)
                data = []
            # comments (": keep-alive"), "event:", "id:", "retry:" and stray blanks: skipped
    tail = pending.rstrip(b"\r")
    if tail.startswith(b"data:"):
        data.append(tail[5:].removeprefix(b" ").decode("utf-8", "replace"))
    if data:
        yield "\n".join(data)
