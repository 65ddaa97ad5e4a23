"""ipywidgets front ends. Each widget also renders a static ``text/html`` snapshot.

Voting widgets (VotePanel, Arena) and the snapshot mixin live here; ``console.py``
(FusionConsole) is another engineer's module and will add its own names below.
"""

from __future__ import annotations

from ._static import HTMLSnapshot, StaticSnapshot
from .voting import Arena, ArenaBattle, VotePanel

__all__ = ["Arena", "ArenaBattle", "HTMLSnapshot", "StaticSnapshot", "VotePanel"]
