"""Checking OpenAICompatModel's arguments at construction, with messages that name them.

A bad argument is an :class:`~fusionkit.errors.InvalidRequestError` raised when the model
is built — not a confusing failure at its first call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

from ...errors import InvalidRequestError
from .presets import Preset

__all__ = [
    "check_int",
    "check_seconds",
    "check_str_mapping",
    "missing_key_message",
    "split_base_url",
]


def check_seconds(arg: str, value: Any) -> float:
    """``value`` as seconds (a finite number > 0), else InvalidRequestError naming ``arg``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise InvalidRequestError(f"{arg} must be a number of seconds > 0, got {value!r}.")
    return float(value)


def check_int(arg: str, value: Any, *, minimum: int, none_ok: bool = False) -> int | None:
    """``value`` as an integer >= ``minimum`` (or None when ``none_ok``)."""
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        also = " or None (no limit)" if none_ok else ""
        raise InvalidRequestError(f"{arg} must be an integer >= {minimum}{also}, got {value!r}.")
    return value


def check_str_mapping(arg: str, value: Any) -> dict[str, str]:
    """``value`` as a dict of strings (None → empty), e.g. HTTP headers."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidRequestError(
            f"{arg} must be a mapping of header name to value (both strings), e.g. "
            f"{{'X-Title': 'my app'}}; got {value!r}."
        )
    return dict(value)


def split_base_url(base_url: Any) -> tuple[str, str]:
    """``(url without credentials or trailing slash, "user:password" or "")``.

    The credentials are taken out before anything parses or shows the URL.

    Raises:
        InvalidRequestError: Not an http(s) URL httpx can use (a bad IPv6 address, a
            port that is not a number, no host); the message never shows credentials.
    """
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        shown = base_url.split("@")[-1] if isinstance(base_url, str) else base_url
        raise InvalidRequestError(
            f"base_url must start with http:// or https://, got {shown!r} "
            "(for example 'http://localhost:8000/v1')."
        )
    scheme, _, rest = base_url.partition("://")
    netloc, slash, path = rest.partition("/")
    userinfo = ""
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
    url = f"{scheme}://{netloc}{slash}{path}".rstrip("/")
    failure: str | None = None
    try:
        parsed = httpx.URL(url)
        if not parsed.host:
            failure = "it has no host"
        elif parsed.port is not None and not 0 < parsed.port < 65536:
            failure = f"port {parsed.port} is out of range"
    except (httpx.InvalidURL, ValueError) as exc:
        failure = str(exc)
    if failure is not None:
        raise InvalidRequestError(
            f"base_url {url!r} is not a usable URL: {failure}. Write it like "
            "'http://localhost:8000/v1' or 'http://[::1]:8000/v1'."
        )
    return url, userinfo


def missing_key_message(provider: str, env: str, preset: Preset) -> str:
    """What to do when a required key is not set."""
    where = f" Get a key at {preset.key_page}." if preset.key_page else ""
    return (
        f"{provider} needs an API key: set the environment variable {env} "
        f"(e.g. `export {env}=...` in your shell, or os.environ[{env!r}] = ... in a "
        f"notebook), or pass api_key=.{where}"
    )
