"""fusionkit: compare and fuse LLMs from a notebook.

``import fusionkit as fk`` is fast and never imports torch, transformers, pandas or
ipywidgets: the core (types, errors, the Model base, FakeModel) is imported eagerly and
everything else is resolved on first attribute access (PEP 562), so ``fk.edge_model`` loads
the local stack only when it is called for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._sync import run_sync
from ._version import __version__
from .cache import ResponseCache
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .models.base import Model
from .models.fake import FakeModel
from .types import Completion, Message, Request, Usage

# public name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    # models
    "model": "fusionkit.models.specs",
    "edge_model": "fusionkit.models.local.embedded",
    "embedded_model_path": "fusionkit.models.local.embedded",
    "LocalModel": "fusionkit.models.local",
    "OpenAICompatModel": "fusionkit.models.openai",
    "PriceTable": "fusionkit.models.openai",
    # fusion
    "fuse": "fusionkit.fusion.engine",
    "afuse": "fusionkit.fusion.engine",
    "fuse_many": "fusionkit.fusion.many",
    "afuse_many": "fusionkit.fusion.many",
    "FusionResult": "fusionkit.fusion.result",
    "Candidate": "fusionkit.fusion.result",
    "Judgment": "fusionkit.fusion.result",
    "FusionEvent": "fusionkit.fusion.events",
    "MODES": "fusionkit.fusion.engine",
    # panel and decision page
    "ToolCard": "fusionkit.panel.types",
    "Persona": "fusionkit.panel.types",
    "Review": "fusionkit.panel.types",
    "PanelResult": "fusionkit.panel.types",
    "DEFAULT_PERSONAS": "fusionkit.panel.personas",
    "Panel": "fusionkit.panel.review",
    "compare": "fusionkit.panel.compare",
    "acompare": "fusionkit.panel.compare",
    "Decision": "fusionkit.panel.compare",
    # votes and ratings
    "VoteStore": "fusionkit.votes.store",
    "ratings": "fusionkit.votes.ratings",
    "win_rate_matrix": "fusionkit.votes.ratings",
    # widgets
    "VotePanel": "fusionkit.widgets.voting",
    "Arena": "fusionkit.widgets.voting",
    "FusionConsole": "fusionkit.widgets.console",
    "share": "fusionkit.widgets._static",
    "session_voter": "fusionkit.widgets.voting",
    "extract_answer": "fusionkit.fusion.vote",
    "locate_answer": "fusionkit.fusion.extract",
    "load_quality_items": "fusionkit.tasks",
    # tasks and evaluation
    "Task": "fusionkit.tasks",
    "make_tasks": "fusionkit.tasks",
    "grade": "fusionkit.tasks",
    "Condition": "fusionkit.evaluation",
    "evaluate": "fusionkit.evaluation",
    "aevaluate": "fusionkit.evaluation",
    "calibrate": "fusionkit.evaluation",
    "acalibrate": "fusionkit.evaluation",
    "cascade_condition": "fusionkit.evaluation",
    "tasks_from_frame": "fusionkit.checks",
    # rendering
    "Report": "fusionkit.render.report",
    "plot_ratings": "fusionkit.render.rating_plots",
}

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
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fusionkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .checks import tasks_from_frame
    from .evaluation import (
        Condition,
        acalibrate,
        aevaluate,
        calibrate,
        cascade_condition,
        evaluate,
    )
    from .fusion.engine import MODES, afuse, fuse
    from .fusion.events import FusionEvent
    from .fusion.extract import locate_answer
    from .fusion.many import afuse_many, fuse_many
    from .fusion.result import Candidate, FusionResult, Judgment
    from .fusion.vote import extract_answer
    from .models.local import LocalModel
    from .models.local.embedded import edge_model, embedded_model_path
    from .models.openai import OpenAICompatModel, PriceTable
    from .models.specs import model
    from .panel.compare import Decision, acompare, compare
    from .panel.personas import DEFAULT_PERSONAS
    from .panel.review import Panel
    from .panel.types import PanelResult, Persona, Review, ToolCard
    from .render.rating_plots import plot_ratings
    from .render.report import Report
    from .tasks import Task, grade, load_quality_items, make_tasks
    from .votes.ratings import ratings, win_rate_matrix
    from .votes.store import VoteStore
    from .widgets._static import share
    from .widgets.console import FusionConsole
    from .widgets.voting import Arena, VotePanel, session_voter
