"""Model backends. Heavy backends (local transformers) are imported lazily."""

from .base import Model
from .fake import FakeModel

__all__ = ["FakeModel", "Model"]
