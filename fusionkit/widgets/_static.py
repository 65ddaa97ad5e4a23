"""Static HTML snapshots beside live widget views.

A live ipywidget is only a reference to state in a running kernel; GitHub, nbviewer and
exported HTML cannot show it. Following ipympl (which puts a PNG beside the widget
view), every fusionkit widget puts a ``text/html`` snapshot of its current state in its
MIME bundle, next to ``application/vnd.jupyter.widget-view+json``. A live Jupyter front
end prefers the widget view; a static renderer falls back to the HTML.

Reuse it for any widget::

    class MyWidget(StaticSnapshot, widgets.VBox):
        def _static_html(self) -> str:
            return render("widget_mine.html", state=...)  # escaped by the template

Put the mixin *first* in the bases so its ``_repr_mimebundle_`` wraps ipywidgets' own.
The snapshot is taken when the widget is displayed; call :meth:`StaticSnapshot.snapshot`
and display the result to freeze a later state (for example after programmatic clicks).
Building a snapshot must never call a model or block: it reads state the widget holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import FusionkitError
from ..render.html import STYLE, escape

__all__ = ["HTMLSnapshot", "StaticSnapshot", "WIDGET_VIEW_MIME"]

#: The MIME type of a live widget view in a notebook output.
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True, slots=True)
class HTMLSnapshot:
    """A frozen HTML rendering of a widget; displays as HTML anywhere.

    Attributes:
        html: The fragment (already escaped where it holds model or user text).
    """

    html: str

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


class StaticSnapshot:
    """Mixin for ipywidgets: adds a ``text/html`` snapshot to the widget's MIME bundle.

    Subclasses implement :meth:`_static_html`. The mixin keeps every key ipywidgets puts
    in the bundle (``text/plain`` and the widget view) and adds ``text/html``.
    """

    def _static_html(self) -> str:
        """Return an HTML fragment showing the widget's current state. Override this."""
        raise NotImplementedError(f"{type(self).__name__} must implement _static_html()")

    def _safe_static_html(self) -> str:
        # A display must not raise: a store that went away shows as a note instead.
        try:
            return self._static_html()
        except FusionkitError as exc:
            return (
                f'{STYLE}<div class="fk"><p class="bad">{escape(type(self).__name__)}: '
                f"{escape(str(exc))}</p></div>"
            )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget's own MIME bundle plus a ``text/html`` snapshot."""
        bundle: dict[str, Any] = {}
        parent = getattr(super(), "_repr_mimebundle_", None)
        if parent is not None:
            data = parent(**kwargs)
            if isinstance(data, tuple):  # (data, metadata) form
                data = data[0]
            bundle.update(data or {})
        bundle["text/html"] = self._safe_static_html()
        bundle.setdefault("text/plain", repr(self))
        return bundle

    def snapshot(self) -> HTMLSnapshot:
        """Freeze the current state as HTML (``display(widget.snapshot())``)."""
        return HTMLSnapshot(self._safe_static_html())
