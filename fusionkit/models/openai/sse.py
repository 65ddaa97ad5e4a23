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


def _lines(buffer: bytearray) -> list[bytes]:
    """Complete lines taken off the front of ``buffer`` (CRLF, LF or CR endings)."""
    out: list[bytes] = []
    start = 0
    n = len(buffer)
    i = 0
    while i < n:
        ch = buffer[i]
        if ch == 0x0A or ch == 0x0D:
            if ch == 0x0D and i + 1 >= n:
                break  # a CR at the end may be the first half of CRLF: wait for more
            out.append(bytes(buffer[start:i]))
            if ch == 0x0D and buffer[i + 1] == 0x0A:
                i += 1
            start = i + 1
        i += 1
    del buffer[:start]
    return out


async def sse_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event in a byte stream (a last unterminated one too)."""
    buffer = bytearray()
    data: list[str] = []
    async for chunk in chunks:
        buffer += chunk
        for raw in _lines(buffer):
            line = raw.decode("utf-8", "replace")
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif not line and data:
                yield "\n".join(data)
                data = []
            # comments (": keep-alive"), "event:", "id:", "retry:" and stray blanks: skipped
    tail = buffer.decode("utf-8", "replace").rstrip("\r")
    if tail.startswith("data:"):
        data.append(tail[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)
