"""ipywidgets front ends. Each widget also renders a static ``text/html`` snapshot.

- :class:`VotePanel`, :class:`Arena` (``voting.py``): community ship/skip votes and
  anonymous A/B battles into a :class:`~fusionkit.votes.store.VoteStore`;
- :class:`FusionConsole` (``console.py``): run a fusion with live per-member status;
- :class:`StaticSnapshot` (``_static.py``): the mixin that adds the ``text/html``
  snapshot beside the live view, so executed notebooks read on GitHub and nbviewer.
"""

from __future__ import annotations

from ._static import HTMLSnapshot, StaticSnapshot
from .console import FusionConsole
from .voting import Arena, ArenaBattle, VotePanel

__all__ = ["Arena", "ArenaBattle", "FusionConsole", "HTMLSnapshot", "StaticSnapshot", "VotePanel"]
