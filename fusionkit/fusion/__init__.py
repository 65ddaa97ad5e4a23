"""Fusion: one prompt through a pool of models at once, and a judge that fuses the answers.

``afuse``/``fuse`` run one fusion (modes ``best-of``, ``merge``, ``debate``, ``vote``);
``afuse_many``/``fuse_many`` run many with bounded concurrency. Results are frozen
records (:mod:`.result`) that render as tables, timelines and escaped HTML.
"""

from __future__ import annotations

from .engine import MODES, SELF_MOA_TEMPERATURE, afuse, fuse
from .events import EVENT_KINDS, FusionEvent
from .many import afuse_many, fuse_many
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
    "Timings",
    "afuse",
    "afuse_many",
    "detect_choices",
    "extract_answer",
    "fuse",
    "fuse_many",
    "majority",
]
