"""The OpenAI-compatible HTTP backend: one model class, a presets table, prices.

* :mod:`.model` — :class:`OpenAICompatModel` (the connection, retries, deadlines).
* :mod:`.wire` — request bodies, responses, error mapping; :mod:`.sse` — event parsing.
* :mod:`.retry` — retry timing; :mod:`.limits` — the per-call deadline and body size.
* :mod:`.presets` — :data:`PRESETS`, the one table of known providers.
* :mod:`.pricing` — the cost of a call (reported, your prices, genai-prices).
* :mod:`.structured` — ``response_format`` levels and their step-down.
* :mod:`.clients`, :mod:`.args` — per-loop httpx clients; constructor checks.

Build a model with ``fk.model("openrouter:vendor/model")`` or
``OpenAICompatModel.from_preset(PRESETS["openrouter"], "vendor/model")``.
"""

from __future__ import annotations

from .model import OpenAICompatModel
from .presets import PRESETS, Preset
from .pricing import Price, PriceTable
from .retry import MAX_RETRY_AFTER_S, backoff_delay, parse_retry_after

__all__ = [
    "MAX_RETRY_AFTER_S",
    "PRESETS",
    "OpenAICompatModel",
    "Preset",
    "Price",
    "PriceTable",
    "backoff_delay",
    "parse_retry_after",
]
