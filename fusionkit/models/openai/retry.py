"""Retry timing: which statuses are retried, and how long to wait before the next try."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "MAX_RETRY_AFTER_S",
    "RETRY_STATUSES",
    "backoff_delay",
    "parse_retry_after",
]

#: Statuses worth retrying (as the OpenAI SDK does): timeout, conflict, rate limit, 5xx.
RETRY_STATUSES = frozenset({408, 409, 429})
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
#: A Retry-After longer than this is not waited for; the error is raised with it instead.
MAX_RETRY_AFTER_S = 60.0


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds a server asked us to wait, from ``retry-after-ms`` or ``Retry-After``.

    Args:
        headers: Response headers (case-insensitive mapping such as ``httpx.Headers``).
        now: The current UNIX time (for HTTP dates); defaults to ``time.time()``.

    Returns:
        Seconds to wait (>= 0), or None when absent or unreadable.
    """
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value_ms = float(ms)
            if math.isfinite(value_ms):
                return max(0.0, value_ms / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, *, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``attempt + 1`` when the server gave no hint.

    0.5 s × 2^attempt, capped at 8 s, minus up to 25 % jitter.
    """
    base = min(BACKOFF_BASE_S * (2**attempt), BACKOFF_CAP_S)
    return base * (1.0 - 0.25 * rand())
