"""ipywidgets front ends. Each widget also shows a ``text/html`` snapshot beside it.

- :class:`VotePanel`, :class:`Arena` (``voting.py``): community ship/skip votes and
  anonymous A/B battles into a :class:`~fusionkit.votes.store.VoteStore`; people vote as
  :func:`session_voter` unless given ``voter=``;
- :class:`FusionConsole` (``console.py``): run a fusion with live per-member status;
- :class:`StaticSnapshot` (``_static.py``): the mixin that displays a snapshot output
  beside the live view and keeps it current, so executed notebooks read on GitHub and
  nbviewer; :func:`share` writes live widgets' current state into a saved notebook
  (after clicking in JupyterLab, before exporting or sharing it).
"""

from __future__ import annotations

from ._static import HTMLSnapshot, ShareReport, StaticSnapshot, share
from .console import FusionConsole
from .voting import Arena, ArenaBattle, VotePanel, session_voter

__all__ = [
    "Arena",
    "ArenaBattle",
    "FusionConsole",
    "HTMLSnapshot",
    "ShareReport",
    "StaticSnapshot",
    "VotePanel",
    "session_voter",
    "share",
]
