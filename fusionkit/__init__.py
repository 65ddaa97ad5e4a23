"""fusionkit: compare and fuse LLMs from a notebook.

Importing this package never imports torch or transformers; those load only when a local
model is built.
"""

from __future__ import annotations

from ._sync import run_sync
from .cache import ResponseCache
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .models import FakeModel, Model
from .types import Completion, Message, Request, Usage

__version__ = "0.1.0"

__all__ = [
    "Completion",
    "FakeModel",
    "Message",
    "Model",
    "Request",
    "ResponseCache",
    "Usage",
    "__version__",
    "run_sync",
    *_errors_all,
]
