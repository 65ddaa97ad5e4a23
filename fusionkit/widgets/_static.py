"""Static HTML snapshots beside live widget views, kept current, and :func:`share`.

A live ipywidget is only a reference to state in a running kernel; GitHub, nbviewer,
exported HTML and a reopened notebook without that kernel cannot show it. So every
fusionkit widget displays as **two outputs**:

1. the live view (``application/vnd.jupyter.widget-view+json``, with an empty
   ``text/html`` so static renderers draw nothing for it), and
2. beside it — not inside it — a ``text/html`` snapshot of the widget's state, shown with
   a display id. Each state change (a vote, a battle, a finished run) re-renders the
   snapshot and sends ``update_display``, so the saved output is the state when saved,
   not the state when first displayed.

Why beside and not inside: JupyterLab, for a notebook it trusts (one you saved), renders
the widget view in preference to any ``text/html`` of the same output and, with no kernel
model behind it, shows "Error displaying widget: model not found". A separate output is
rendered on its own in every front end. While the widget is live a tiny style in the
widget hides the snapshot (no duplicate); without the live widget the style is absent
and the snapshot shows. The snapshot carries a style that hides a dead widget view just
before it in JupyterLab (the error line), using ``:has()``.

Where the updates land (checked in a real browser by
``tests/test_notebook_widgets_browser.py``): in JupyterLab 4.6 (ipywidgets 8.1, ipykernel
7.4) the update sent by a click reaches the cell's saved output, so Run All, click, save,
reopen without a kernel and plain ``jupyter nbconvert --to html`` all show the clicked
state, with or without "Save Widget State Automatically". nbclient (``jupyter nbconvert
--execute``, nbmake, ``make notebooks``) applies updates sent by later cells. For a front
end that drops an update, :func:`share` (``share("my.ipynb")`` in the kernel, after
saving) writes every live widget's current snapshot into the file, drops the dead views
and the saved widget state.

Reuse it for any widget::

    class MyWidget(StaticSnapshot, widgets.VBox):
        def _static_html(self) -> str:
            return render("widget_mine.html", state=...)  # escaped by the template

and call ``self.refresh_snapshot()`` after each state change; displayed snapshots are
also refreshed after every cell the kernel runs (an IPython ``post_run_cell`` hook), so
state changed behind a widget's back (a later cell voting through the store) is current
as of the last executed cell. The
mixin appends the hidden live-style child itself when the widget is displayed. Put the
mixin *first* in the bases. Building a snapshot must never call a model or block: it
reads state the widget holds.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FusionkitError, InvalidRequestError, MissingDependencyError
from ..render.html import STYLE, escape
from ..render.report import write_atomically

__all__ = ["HTMLSnapshot", "ShareReport", "StaticSnapshot", "WIDGET_VIEW_MIME", "share"]

#: The MIME type of a live widget view in a notebook output.
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
_SNAPSHOT_ATTR = "data-fk-snapshot"
_SNAPSHOT_RE = re.compile(r'data-fk-snapshot="([0-9a-f]{32})"')

# Every widget that has a snapshot id, for share(); weak so closed widgets can go.
_LIVE: weakref.WeakValueDictionary[str, StaticSnapshot] = weakref.WeakValueDictionary()


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


def _live_style(snapshot_id: str) -> str:
    """The style the live widget carries: hide its own snapshot while it is live."""
    return (
        f"<style>.fk-snap-{snapshot_id}{{display:none !important}}"
        f".jp-OutputArea-child:has(.fk-snap-{snapshot_id}){{display:none !important}}</style>"
    )


def _dead_view_style(snapshot_id: str) -> str:
    # In JupyterLab a widget view with no model behind it (a reopened notebook) gets the
    # class jupyter-widgets on the output node itself, holding only the error text; a live
    # view's output node does not (its child view does). Hide only the dead view right
    # before this snapshot. (:has() cannot nest, hence the class test, not :not(:has(*)).)
    return (
        "<style>.jp-OutputArea-child:has(+ .jp-OutputArea-child "
        f".fk-snap-{snapshot_id}):has(> .jp-OutputArea-output.jupyter-widgets)"
        "{display:none}</style>"
    )


class StaticSnapshot:
    """Mixin for ipywidgets: a ``text/html`` snapshot beside the live view, kept current.

    Subclasses implement :meth:`_static_html` and call :meth:`refresh_snapshot` after
    state changes. ``_repr_mimebundle_`` still carries the snapshot as ``text/html`` (for
    code that asks a widget for its bundle directly).
    """

    _fk_snapshot_id: str = ""
    _fk_displayed: bool = False
    _fk_last_html: str = ""
    _fk_style_child: Any = None

    def _static_html(self) -> str:
        """Return an HTML fragment showing the widget's current state. Override this."""
        raise NotImplementedError(f"{type(self).__name__} must implement _static_html()")

    @property
    def snapshot_id(self) -> str:
        """This widget's snapshot id (the display id of its snapshot output)."""
        if not self._fk_snapshot_id:
            self._fk_snapshot_id = uuid.uuid4().hex
            _LIVE[self._fk_snapshot_id] = self
        return self._fk_snapshot_id

    def live_style_html(self) -> str:
        """HTML for a (hidden) child of the live widget: hides the snapshot while live."""
        return _live_style(self.snapshot_id)

    def _safe_static_html(self) -> str:
        # A display must not raise: a store that went away shows as a note instead.
        try:
            return self._static_html()
        except FusionkitError as exc:
            return (
                f'{STYLE}<div class="fk"><p class="bad">{escape(type(self).__name__)}: '
                f"{escape(str(exc))}</p></div>"
            )

    def snapshot_html(self) -> str:
        """The snapshot output's HTML: the current state, tagged with the snapshot id."""
        sid = self.snapshot_id
        return (
            f'<div class="fk-snapshot fk-snap-{sid}" {_SNAPSHOT_ATTR}="{sid}">'
            f"{_dead_view_style(sid)}{self._safe_static_html()}</div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget's own MIME bundle plus a ``text/html`` snapshot."""
        bundle = self._widget_bundle(**kwargs)
        bundle["text/html"] = self._safe_static_html()
        return bundle

    def _widget_bundle(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = {}
        parent = getattr(super(), "_repr_mimebundle_", None)
        if parent is not None:
            data = parent(**kwargs)
            if isinstance(data, tuple):  # (data, metadata) form
                data = data[0]
            bundle.update(data or {})
        bundle.setdefault("text/plain", repr(self))
        return bundle

    def _ensure_live_style(self) -> None:
        # A hidden child carrying the style that hides this widget's snapshot while the
        # widget is live (saved widget state, if any, carries it too: same effect).
        if getattr(self, "_fk_style_child", None) is not None or not hasattr(self, "children"):
            return
        import ipywidgets as widgets

        child = widgets.HTML(self.live_style_html(), layout=widgets.Layout(display="none"))
        self._fk_style_child = child
        self.children = (*self.children, child)  # type: ignore[has-type]

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Display the live view, then the snapshot beside it (with a display id)."""
        from IPython.display import display

        self._ensure_live_style()
        _install_cell_hook()
        view = self._widget_bundle(**kwargs)
        view["text/html"] = ""  # static renderers draw the snapshot below, not repr text
        display(view, raw=True)
        html = self.snapshot_html()
        display({"text/html": html}, raw=True, display_id=self.snapshot_id)
        with _lock:
            self._fk_displayed, self._fk_last_html = True, html

    def refresh_snapshot(self) -> None:
        """Re-render the snapshot and update every displayed copy (no-op if unchanged)."""
        if not self._fk_displayed:
            return
        html = self.snapshot_html()
        with _lock:
            if html == self._fk_last_html:
                return
            self._fk_last_html = html
        try:
            from IPython.display import update_display

            update_display({"text/html": html}, raw=True, display_id=self.snapshot_id)
        except Exception:  # noqa: BLE001 - no kernel (a script): nothing to update
            pass

    def snapshot(self) -> HTMLSnapshot:
        """Freeze the current state as HTML (``display(widget.snapshot())``)."""
        return HTMLSnapshot(self._safe_static_html())


_lock = threading.Lock()
_hook_installed = False


def _refresh_displayed() -> None:
    """Refresh every displayed snapshot (after each executed cell)."""
    for widget in list(_LIVE.values()):
        if widget._fk_displayed:
            try:
                widget.refresh_snapshot()
            except Exception:  # noqa: BLE001 - a hook must never break the user's cell
                pass


def _install_cell_hook() -> None:
    # nbclient and classic Notebook apply a display update sent while *any* cell runs;
    # refreshing after each cell keeps snapshots in step with state changed by later
    # cells or by code that does not refresh (a FusionConsole run).
    global _hook_installed
    if _hook_installed:
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.events.register("post_run_cell", lambda *_a: _refresh_displayed())
    _hook_installed = True


# -- share --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShareReport:
    """What :func:`share` changed.

    Attributes:
        path: The notebook written.
        refreshed: Snapshots rewritten with the live widget's current state.
        stale: Snapshots whose widget is not live in this kernel (left as saved).
        views_removed: Widget-view outputs removed (their snapshot stands in for them).
        state_removed: Whether saved widget state was removed from the metadata.
    """

    path: Path
    refreshed: int
    stale: int
    views_removed: int
    state_removed: bool


def share(
    path: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None
) -> ShareReport:
    """Make a saved notebook show every fusionkit widget's current state, everywhere.

    Run it in the kernel that holds the widgets, after saving the notebook. Each
    snapshot output is rewritten with its widget's current state, the widget views
    before them are removed (a reopened notebook has no model for them), and saved widget
    state is stripped (with it, nbconvert renders widget views through JavaScript from a
    CDN and ignores the snapshots). Then ``jupyter nbconvert --to html``, GitHub, nbviewer
    and JupyterLab all show the state. Re-running the notebook recreates live widgets.

    Args:
        path: The saved ``.ipynb`` file.
        out: Where to write (default: ``path`` itself, atomically).

    Returns:
        A :class:`ShareReport`.

    Raises:
        InvalidRequestError: The file does not exist or is not a notebook.
        MissingDependencyError: nbformat is not installed.
    """
    try:
        import nbformat
    except ImportError as exc:  # pragma: no cover - nbformat comes with Jupyter
        raise MissingDependencyError("share() needs nbformat: pip install nbformat") from exc
    source = Path(path)
    if not source.is_file():
        raise InvalidRequestError(f"share() needs a saved notebook file; {source} is not one.")
    try:
        nb = nbformat.read(os.fspath(source), as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        raise InvalidRequestError(f"{source} is not a readable notebook: {exc}") from exc
    refreshed = stale = removed = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept: list[Any] = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            html = data.get("text/html")
            html = "".join(html) if isinstance(html, list) else html
            match = _SNAPSHOT_RE.search(html) if isinstance(html, str) else None
            if match:
                widget = _LIVE.get(match.group(1))
                if widget is not None:
                    data["text/html"] = widget.snapshot_html()
                    refreshed += 1
                else:
                    stale += 1
                if kept and WIDGET_VIEW_MIME in kept[-1].get("data", {}):
                    kept.pop()  # the view this snapshot stands beside
                    removed += 1
            kept.append(output)
        cell["outputs"] = kept
    state_removed = "widgets" in nb.get("metadata", {})
    nb.get("metadata", {}).pop("widgets", None)
    target = Path(out) if out is not None else source
    write_atomically(target, lambda handle: nbformat.write(nb, handle))
    return ShareReport(target, refreshed, stale, removed, state_removed)
