"""The decision page's model: :class:`Decision`, what it shows and how it renders.

:func:`fusionkit.panel.compare.compare` builds a Decision; this module is the page
itself. A Decision renders as static HTML, as pandas tables, and as a standalone page
(:meth:`Decision.save`); rendering never calls a model, and everything shown that came
from a card or a model is escaped.

The page is a list of sections (:data:`SECTIONS`), each one template rendered from the
Decision: the summary (recommendation; per tool the coloured panel verdict, "Panel ship
N%", community votes, what it is, how to get started, pricing, best for, category) and
the persona-by-persona scorecard; measured evidence (:mod:`fusionkit.panel.evidence`),
when given, goes between them. A new section is one template and one name in
:data:`SECTIONS`; the others do not change.

The recommendation weighs two signals and says which it used:

* the panel: the ship share among personas that gave a view, then the mean score;
* the community: the ship share of the votes (only when both tools have votes).

When they agree, the page says so; when they disagree it says "split" and points to the
takes; a tool favoured while its own panel verdict is Skip is flagged as the lesser skip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError
from .evidence import Evidence, evidence_section
from .tally import NO_VOTES, Tally
from .types import PanelResult, ToolCard, safe_url

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NOT_GIVEN", "NO_PANEL", "ROW_LABELS", "SECTIONS", "Decision"]

NO_PANEL = "No panel review"
NOT_GIVEN = "—"
ROW_LABELS = (
    "Panel verdict",
    "Community",
    "What it is",
    "Getting started",
    "Pricing",
    "Best for",
    "Category",
)
#: The page's sections, in order; each is one template ``panel_decision_<name>.html``
#: rendered with the Decision as ``d``. A new section (measured evidence, say) is one
#: template and one name here.
SECTIONS = ("summary", "scorecard")


def _panel_cell(result: PanelResult | None) -> str:
    """``"Ship · panel ship 80% (4 of 5) · mean 79/100"`` (plus no-takes), in words."""
    if result is None:
        return NO_PANEL
    parts = [result.verdict]
    if result.ship_pct is not None:
        views = result.ship + result.skip
        parts.append(f"panel ship {result.ship_pct:.0f}% ({result.ship} of {views})")
    if result.mean_score is not None:
        parts.append(f"mean {result.mean_score:.0f}/100")
    if result.no_view:
        parts.append(f"{result.no_view} no take")
    return " · ".join(parts)


def _panel_brief(result: PanelResult | None) -> str:
    """``"panel ship 80%, mean 79/100"``: the panel's figures inside a sentence."""
    if result is None or result.ship_pct is None or result.mean_score is None:
        return "no panel takes"
    return f"panel ship {result.ship_pct:.0f}%, mean {result.mean_score:.0f}/100"


def _verdict_class(result: PanelResult | None) -> str:
    """The CSS class colouring a panel verdict (ship green, skip red, else neutral)."""
    verdict = result.verdict if result is not None else ""
    return {"Ship": "ship", "Skip": "skip"}.get(verdict, "neutral")


def _panel_key(result: PanelResult | None) -> tuple[float, float] | None:
    if result is None or result.ship_pct is None or result.mean_score is None:
        return None
    return (result.ship_pct, result.mean_score)


def _edge(ka: Any, kb: Any) -> str | None:
    """ "a", "b", or None when either side has no data or they tie."""
    if ka is None or kb is None or ka == kb:
        return None
    return "a" if ka > kb else "b"


@dataclass(frozen=True, slots=True)
class Decision:
    """Two tools side by side: panel results, community tallies, the card facts.

    Attributes:
        a: The first tool.
        b: The second tool.
        panel_a: The panel's review of ``a`` (None when no panel was run).
        panel_b: The panel's review of ``b``.
        votes_a: Community tally of ``a`` (None when no vote store was given).
        votes_b: Community tally of ``b``.
        title: The page title.
        evidence: Measured figures (:class:`~.evidence.Evidence`), shown as their own
            section after the summary; None shows none.
    """

    a: ToolCard
    b: ToolCard
    panel_a: PanelResult | None = None
    panel_b: PanelResult | None = None
    votes_a: Tally | None = None
    votes_b: Tally | None = None
    title: str = ""
    evidence: Evidence | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.a, ToolCard) or not isinstance(self.b, ToolCard):
            raise InvalidRequestError("a Decision compares two ToolCards.")
        if self.a.name == self.b.name:
            raise InvalidRequestError(
                f"both tools are named {self.a.name!r}; give them distinct names "
                "(names key the votes and the columns)."
            )
        if not self.title:
            object.__setattr__(
                self, "title", f"{self.a.name} vs {self.b.name} — which should you ship with?"
            )

    # -- the rows ----------------------------------------------------------------------

    def _community_cell(self, tally: Tally | None) -> str:
        return NO_VOTES if tally is None else tally.label

    def rows(self) -> list[tuple[str, str, str]]:
        """The summary rows as ``(label, cell for a, cell for b)`` plain text."""
        a, b = self.a, self.b
        return [
            ("Panel verdict", _panel_cell(self.panel_a), _panel_cell(self.panel_b)),
            ("Community", self._community_cell(self.votes_a), self._community_cell(self.votes_b)),
            ("What it is", a.description or NOT_GIVEN, b.description or NOT_GIVEN),
            ("Getting started", a.entry or NOT_GIVEN, b.entry or NOT_GIVEN),
            ("Pricing", a.pricing or NOT_GIVEN, b.pricing or NOT_GIVEN),
            ("Best for", a.best_for or NOT_GIVEN, b.best_for or NOT_GIVEN),
            ("Category", a.category or NOT_GIVEN, b.category or NOT_GIVEN),
        ]

    def personas(self) -> list[str]:
        """Persona names in scorecard order: a's panel first, then any only on b's."""
        names: list[str] = []
        for result in (self.panel_a, self.panel_b):
            for r in result.reviews if result is not None else ():
                if r.persona not in names:
                    names.append(r.persona)
        return names

    def scorecard(self) -> list[tuple[str, Any, Any]]:
        """``(persona, review of a or None, review of b or None)`` per persona."""
        pa, pb = self.panel_a, self.panel_b
        return [
            (
                name,
                pa.review_for(name) if pa is not None else None,
                pb.review_for(name) if pb is not None else None,
            )
            for name in self.personas()
        ]

    # -- the recommendation ------------------------------------------------------------

    @property
    def panel_favours(self) -> str | None:
        """Name of the tool the panel favours, or None (tie, or no views on a side)."""
        side = _edge(_panel_key(self.panel_a), _panel_key(self.panel_b))
        return None if side is None else self._name(side)

    @property
    def community_favours(self) -> str | None:
        """Name of the tool the community favours, or None (tie, or no votes on a side)."""
        ka = self.votes_a.ship_pct if self.votes_a is not None else None
        kb = self.votes_b.ship_pct if self.votes_b is not None else None
        side = _edge(ka, kb)
        return None if side is None else self._name(side)

    def _name(self, side: str) -> str:
        return self.a.name if side == "a" else self.b.name

    def _other(self, name: str) -> str:
        return self.b.name if name == self.a.name else self.a.name

    def _panel_of(self, name: str) -> PanelResult | None:
        return self.panel_a if name == self.a.name else self.panel_b

    def _tally_of(self, name: str) -> Tally | None:
        return self.votes_a if name == self.a.name else self.votes_b

    def _community_note(self) -> str:
        ta, tb = self.votes_a, self.votes_b
        with_votes = [t for t in (ta, tb) if t is not None and t.total > 0]
        if not with_votes:
            return "no community votes yet"
        if len(with_votes) == 1:
            return "only one of them has community votes so far"
        return "the community is evenly split"

    def _panel_note(self) -> str:
        keys = [_panel_key(self.panel_a), _panel_key(self.panel_b)]
        if self.panel_a is None and self.panel_b is None:
            return "no panel review"
        if all(k is None for k in keys):
            return "the panel gave no takes"
        if any(k is None for k in keys):
            return "the panel gave takes on only one of them"
        return "the panel rates them evenly"

    @property
    def recommendation(self) -> str:
        """One line computed from the panel results and the tallies (no model call)."""
        p, c = self.panel_favours, self.community_favours
        if p is not None and p == c:
            text = (
                f"Ship with {p}: the panel ({_panel_brief(self._panel_of(p))}) and the "
                f"community ({self._community_cell(self._tally_of(p))}) both favour it "
                f"over {self._other(p)}."
            )
            pick = p
        elif p is not None and c is not None:
            return (
                f"Split decision: the panel favours {p}, the community favours {c}. "
                "Read the takes below before choosing."
            )
        elif p is not None:
            text = (
                f"Lean {p}: the panel favours it ({_panel_brief(self._panel_of(p))}, against "
                f"{_panel_brief(self._panel_of(self._other(p)))}); {self._community_note()}."
            )
            pick = p
        elif c is not None:
            text = (
                f"Lean {c}: the community favours it ({self._community_cell(self._tally_of(c))} "
                f"against {self._community_cell(self._tally_of(self._other(c)))}); "
                f"{self._panel_note()}."
            )
            pick = c
        else:
            if (self.panel_a is None or _panel_key(self.panel_a) is None) and (
                self.panel_b is None or _panel_key(self.panel_b) is None
            ):
                if self._community_note() == "no community votes yet":
                    return "No recommendation yet: no panel takes and no community votes."
            return (
                f"Too close to call: {self._panel_note()}, and {self._community_note()}. "
                "Read the takes below."
            )
        chosen = self._panel_of(pick)
        if chosen is not None and chosen.verdict == "Skip":
            text += f" Even so, the panel leans skip on {pick}: it is the lesser skip."
        return text

    # -- output ------------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """The summary rows (index :data:`ROW_LABELS`), every cell plain text."""
        import pandas as pd

        rows = self.rows()
        return pd.DataFrame(
            [[ca, cb] for _, ca, cb in rows],
            index=pd.Index([label for label, _, _ in rows]),
            columns=[self.a.name, self.b.name],
        )

    def scorecard_frame(self) -> pd.DataFrame:
        """Persona by persona: ``"87/100 · ship"`` (or ``"No panel take"``) for each tool."""
        import pandas as pd

        def cell(review: Any) -> str:
            return "Not on this panel" if review is None else review.label

        data = [[cell(ra), cell(rb)] for _, ra, rb in self.scorecard()]
        return pd.DataFrame(
            data,
            index=pd.Index([name for name, _, _ in self.scorecard()], name="persona"),
            columns=[self.a.name, self.b.name],
        )

    def sections(self) -> list[str]:
        """Each section of the page as an HTML fragment, in :data:`SECTIONS` order."""
        from ..render.html import render

        context = {
            "d": self,
            "rows": self.rows(),
            "scorecard": self.scorecard(),
            "url_a": safe_url(self.a.url),
            "url_b": safe_url(self.b.url),
            "class_a": _verdict_class(self.panel_a),
            "class_b": _verdict_class(self.panel_b),
        }
        out = [render(f"panel_decision_{name}.html", **context) for name in SECTIONS]
        return out[:1] + [evidence_section(self.evidence)] + out[1:] if self.evidence else out

    def _repr_html_(self) -> str:
        from ..render.html import render, safe

        return render(
            "panel_decision.html", d=self, sections=[safe(html) for html in self.sections()]
        )

    def to_html(self) -> str:
        """The page as a standalone HTML file's text (inline CSS, nothing fetched)."""
        return self._page().to_html()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page as a standalone HTML file to share (atomically).

        Args:
            path: Where to write the ``.html`` file (its folder is created).

        Returns:
            The absolute path written.
        """
        return self._page().save(path)

    def _page(self) -> Any:
        from ..render.report import Report

        return Report(self.title).add_object(self)
