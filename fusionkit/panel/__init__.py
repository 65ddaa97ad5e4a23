"""The ship/skip panel: reviewer personas score a subject, and the A-vs-B decision page."""

from .compare import Decision, Tally, acompare, compare
from .personas import DEFAULT_PERSONAS
from .review import Panel
from .types import NO_TAKE, PanelResult, Persona, Review, ToolCard

__all__ = [
    "DEFAULT_PERSONAS",
    "NO_TAKE",
    "Decision",
    "Panel",
    "PanelResult",
    "Persona",
    "Review",
    "Tally",
    "ToolCard",
    "acompare",
    "compare",
]
