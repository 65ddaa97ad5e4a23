"""Voting widgets: VotePanel (ship/skip per subject) here, Arena (anonymous A/B battles)
in :mod:`fusionkit.widgets.arena`, re-exported here; shared voter helpers in ``_voters``.

Both write to a :class:`~fusionkit.votes.store.VoteStore` and show a ``text/html``
snapshot beside the live view, re-rendered on every vote (see
:mod:`fusionkit.widgets._static`), so a shared notebook shows the tallies and battles it
had when saved. People vote as themselves: without ``voter=``, a widget votes as
:func:`session_voter` (``$FUSIONKIT_VOTER``, else the user name plus a per-session tag),
shown in the widget; scripts pass their own name to ``vote(..., voter=...)``. All model
and user text goes through the autoescaping templates ``widget_vote_panel.html`` and
``widget_arena*.html``.

Rendering never calls a model. The Arena takes either precomputed answers
(``{prompt: {model_name: answer}}`` — what notebooks use, so executed notebooks are
deterministic) or Model objects, whose answers are generated on fusionkit's background
event loop (:func:`fusionkit._sync.background_loop`), never on the UI thread; the vote
buttons stay disabled until both answers are in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from ..errors import FusionkitError, InvalidRequestError
from ..render.html import escape, render
from ..votes.store import VERDICTS, Vote, VoteStore
from ._static import StaticSnapshot
from ._voters import _check_store, _error_note, _name_of, _voter, session_voter
from .arena import Arena, ArenaBattle  # one import place for both voting widgets

__all__ = ["Arena", "ArenaBattle", "VotePanel", "session_voter"]

_VERDICT_STYLE = {"ship": "success", "skip": "danger"}


# -- VotePanel ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    ship: widgets.Button
    skip: widgets.Button
    tally: widgets.Label


class VotePanel(StaticSnapshot, widgets.VBox):
    """Ship/skip buttons per subject with live tallies; the voter's vote is highlighted.

    Args:
        store: Where votes go.
        subjects: Names (or objects with a ``.name``, such as ToolCards); None takes the
            store's subjects.
        voter: Who is voting (one current vote per subject; a new click changes it);
            default :func:`session_voter`.
        title: Heading of the panel.

    Example:
        >>> VotePanel(store, ["Tool A", "Tool B"], voter="ana")  # doctest: +SKIP
    """

    def __init__(
        self,
        store: VoteStore,
        subjects: Sequence[Any] | None = None,
        *,
        voter: str | None = None,
        title: str = "Ship or skip?",
    ) -> None:
        store = _check_store(store, "VotePanel", subjects)
        names = [_name_of(s) for s in (store.subjects() if subjects is None else subjects)]
        if not names:
            raise InvalidRequestError("VotePanel needs at least one subject to vote on.")
        self.store = store
        self.voter = _voter(voter)
        self.subject_names: list[str] = list(dict.fromkeys(names))  # de-duplicated, in order
        self._title = title
        self._rows: dict[str, _Row] = {}
        self._shown: dict[str, tuple[int, int, str | None]] = {}
        self.status = widgets.HTML()
        lines: list[widgets.Widget] = [
            widgets.HTML(f"<b>{escape(title)}</b> · voting as <code>{escape(self.voter)}</code>")
        ]
        for name in self.subject_names:
            row = _Row(
                ship=widgets.Button(description="Ship", icon="thumbs-up", tooltip="ship"),
                skip=widgets.Button(description="Skip", icon="thumbs-down", tooltip="skip"),
                tally=widgets.Label(),
            )
            row.ship.on_click(lambda _b, n=name: self._click(n, "ship"))
            row.skip.on_click(lambda _b, n=name: self._click(n, "skip"))
            self._rows[name] = row
            label = widgets.Label(name, layout=widgets.Layout(width="38%"))
            lines.append(widgets.HBox([label, row.ship, row.skip, row.tally]))
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        lines.append(widgets.HBox([self.refresh_button, self.status]))
        super().__init__(children=lines)
        self.refresh()

    def __repr__(self) -> str:
        return f"VotePanel({len(self.subject_names)} subjects, voter={self.voter!r})"

    def buttons(self, subject: str) -> tuple[widgets.Button, widgets.Button]:
        """The (ship, skip) buttons of ``subject``."""
        row = self._rows[_name_of(subject)]
        return row.ship, row.skip

    def tally_label(self, subject: str) -> str:
        """The tally text shown for ``subject``."""
        return self._rows[_name_of(subject)].tally.value

    @property
    def tallies(self) -> dict[str, dict[str, int]]:
        """The tallies as currently shown, per subject."""
        return {s: {"ship": sh, "skip": sk} for s, (sh, sk, _) in self._shown.items()}

    def vote(self, subject: str, verdict: str) -> Vote:
        """Vote as this panel's voter (what a click does) and update the display."""
        name = _name_of(subject)
        if name not in self._rows:
            raise InvalidRequestError(
                f"{name!r} is not in this panel; its subjects are {self.subject_names!r}."
            )
        record = self.store.vote(name, verdict, voter=self.voter)
        self.refresh()  # other voters' votes too, so the snapshot matches the store
        return record

    def _click(self, subject: str, verdict: str) -> None:
        # A click handler must not raise (Jupyter would only log it): show the error.
        try:
            self.vote(subject, verdict)
            self.status.value = ""
        except FusionkitError as exc:
            self.status.value = _error_note(exc)

    def refresh(self) -> None:
        """Re-read every tally and this voter's votes from the store (other voters too)."""
        for name in self.subject_names:
            self._refresh_one(name)
        self.refresh_snapshot()

    def _refresh_one(self, name: str) -> None:
        counts = self.store.tally(name)
        mine = self.store.current_vote(name, self.voter)
        self._shown[name] = (counts["ship"], counts["skip"], mine)
        row = self._rows[name]
        row.tally.value = f"{counts['ship']} ship · {counts['skip']} skip"
        for verdict, button in zip(VERDICTS, (row.ship, row.skip), strict=True):
            button.button_style = _VERDICT_STYLE[verdict] if mine == verdict else ""

    def _static_html(self) -> str:
        for name in self.subject_names:
            self._refresh_one(name)
        rows = [
            {"subject": s, "ship": sh, "skip": sk, "mine": mine}
            for s, (sh, sk, mine) in self._shown.items()
        ]
        return render(
            "widget_vote_panel.html",
            title=self._title,
            voter=self.voter,
            rows=rows,
            total=sum(r["ship"] + r["skip"] for r in rows),
            static=True,
        )
