"""The one place that knows the local backend's quantization spellings and default.

:class:`~fusionkit.models.local.LocalModel`, :func:`~fusionkit.models.local.edge_model` and
the ``local:`` spec (``?quantization=none``) all read a user's choice through
:func:`parse_quantization`, so a spelling accepted by one is accepted by all.
"""

from __future__ import annotations

from typing import Literal

from ...errors import ConfigurationError

__all__ = ["DEFAULT_QUANTIZATION", "Quantization", "parse_quantization"]

Quantization = Literal["4bit", "8bit"]

#: What a local model loads as unless told otherwise: bitsandbytes NF4.
DEFAULT_QUANTIZATION: Quantization = "4bit"

# Spellings of "unquantized": None from Python, the words from a spec string or a CLI flag.
_NONE_SPELLINGS = ("none", "None", "")


def parse_quantization(value: object) -> Quantization | None:
    """Check a quantization choice and return its canonical form.

    Args:
        value: ``"4bit"``, ``"8bit"``, or None (also spelt ``"none"``/``"None"``/``""``,
            as a ``local:...?quantization=none`` spec writes it) for an unquantized load.

    Returns:
        ``"4bit"``, ``"8bit"`` or None.

    Raises:
        ConfigurationError: Any other value.
    """
    if value is None or value in _NONE_SPELLINGS:
        return None
    if value in ("4bit", "8bit"):
        return value  # type: ignore[return-value]
    raise ConfigurationError(
        f"quantization must be '4bit', '8bit' or None (spelt 'none' in a spec), not {value!r}."
    )
