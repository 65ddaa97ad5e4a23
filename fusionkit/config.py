"""Where fusionkit keeps its files, and the environment variables it reads.

| variable                | meaning                                                     |
|-------------------------|-------------------------------------------------------------|
| ``FUSIONKIT_HOME``      | cache directory (default ``~/.cache/fusionkit``)            |
| ``FUSIONKIT_EDGE_MODEL``| HF id or local folder that replaces the embedded edge model |
| ``FUSIONKIT_CACHE``     | ``0`` turns the response cache off everywhere               |
| ``OPENROUTER_API_KEY``  | key for ``openrouter:`` models                              |
| ``OPENAI_API_KEY``      | key for ``openai:`` models                                  |
| ``OLLAMA_HOST``         | Ollama base URL (default ``http://localhost:11434``)        |
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_enabled", "home"]


def home() -> Path:
    """The fusionkit cache directory.

    Not created here: this runs on every cacheable request, and whoever writes below it
    (the response cache, the model conversion) creates the folders it needs.
    """
    raw = os.environ.get("FUSIONKIT_HOME") or os.path.join("~", ".cache", "fusionkit")
    return Path(raw).expanduser()


def cache_enabled() -> bool:
    """False when ``FUSIONKIT_CACHE`` is set to 0/false/no/off."""
    return os.environ.get("FUSIONKIT_CACHE", "1").strip().lower() not in {"0", "false", "no", "off"}
