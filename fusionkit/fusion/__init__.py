"""Fusion: one prompt through a pool of models at once, and a judge that fuses the answers.

``afuse``/``fuse`` run one fusion (modes ``best-of``, ``merge``, ``debate``, ``vote``:
one object each, in :mod:`.modes`); ``afuse_many``/``fuse_many`` run many with bounded
concurrency. Results are frozen records (:mod:`.result`) that render as tables
(:mod:`.display`), timelines (:mod:`.timeline`) and escaped HTML.
"""

from __future__ import annotations

from .engine import MODES, SELF_MOA_TEMPERATURE, afuse, fuse
from .events import EVENT_KINDS, FusionEvent
from .many import afuse_many, fuse_many
from .modes import DEFAULT_MODE, Mode, all_modes, get_mode, register
from .result import (
    Candidate,
    DebateRound,
    DebateTurn,
    FusionResult,
    JudgeCall,
    Judgment,
    MergeAnalysis,
    Timings,
)
from .vote import detect_choices, extract_answer, majority

__all__ = [
    "DEFAULT_MODE",
    "EVENT_KINDS",
    "MODES",
    "SELF_MOA_TEMPERATURE",
    "Candidate",
    "DebateRound",
    "DebateTurn",
    "FusionEvent",
    "FusionResult",
    "JudgeCall",
    "Judgment",
    "MergeAnalysis",
    "Mode",
    "Timings",
    "afuse",
    "afuse_many",
    "all_modes",
    "detect_choices",
    "extract_answer",
    "fuse",
    "fuse_many",
    "get_mode",
    "majority",
    "register",
]
