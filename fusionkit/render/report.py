"""A standalone HTML report: one file, no external resources, readable when opened locally.

``fusionkit demo`` and anyone sharing results without a live kernel use this: the page
carries its own CSS (:data:`fusionkit.render.html.STYLE` plus a few page rules), figures are
embedded as base64 PNG ``data:`` URIs, and tables are plain HTML. Nothing is fetched when
the file is opened, so it reads the same offline, attached to an e-mail or served as a CI
artifact.

Escaping follows :mod:`fusionkit.render.html`: text and DataFrame cells are escaped; only
:meth:`Report.add_html` (and ``_repr_html_`` of an object) embeds HTML as-is, because it is
meant for HTML that fusionkit rendered itself, which already escaped any model text. Such
fragments are still checked for resource-loading URLs so the report stays standalone.

Example:
    >>> report = Report("Edge vs fusion")
    >>> report.add_heading("Answer")
    >>> report.add_text("Paris <b>is</b> the capital.")
    >>> "&lt;b&gt;" in report.to_html()
    True
"""

from __future__ import annotations

import base64
import io
import os
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TextIO

from ..errors import InvalidRequestError
from .html import escape, render, safe

__all__ = ["Report", "find_external_resources", "write_atomically"]

_TEMPLATE = "report_page.html"
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
# CSS can load resources too: url(...) and @import, quoted or not.
_CSS_REMOTE = re.compile(
    r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:https?:)?//[^'")\s]+)""", re.IGNORECASE
)
# Attributes that make a browser fetch something when the page loads. A plain <a href>
# is navigation, not a resource, so links to sources stay allowed.
_FETCHING_ATTRS = frozenset({"src", "srcset", "poster", "data", "background", "xlink:href"})
_FETCHING_HREF_TAGS = frozenset({"link", "image", "use", "base"})


@dataclass(frozen=True, slots=True)
class _Block:
    """One rendered piece of the report body (kind selects the template branch)."""

    kind: str
    html: str = ""
    text: str = ""
    caption: str = ""
    anchor: str = ""
    tiles: tuple[tuple[str, str, str], ...] = ()  # kind "stats": (label, value, note)


class _ResourceFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if not value:
                continue
            if name == "style":
                self.found.extend(_CSS_REMOTE.findall(value))
            elif name in _FETCHING_ATTRS or (name == "href" and tag in _FETCHING_HREF_TAGS):
                # srcset is a comma-separated list of "url size" pairs
                for part in value.split(",") if name == "srcset" else [value]:
                    url = part.strip().split(" ")[0]
                    if _REMOTE.match(url):
                        self.found.append(url)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found.extend(_CSS_REMOTE.findall(data))


def find_external_resources(html: str) -> list[str]:
    """List the remote URLs an HTML document would fetch when opened.

    Looks at resource-loading attributes (``src``, ``srcset``, ``<link href>``, ...),
    inline ``style`` attributes and ``<style>`` blocks (``url(...)``, ``@import``).
    Navigation links (``<a href>``) are not resources and are not reported.

    Args:
        html: An HTML document or fragment.

    Returns:
        The remote (``http://``, ``https://`` or protocol-relative) URLs, in document order.
    """
    finder = _ResourceFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


class Report:
    """Builds a standalone HTML page from headings, text, fusionkit HTML, tables and plots.

    Args:
        title: The page title (escaped).
        generated_at: Timestamp shown on the page; defaults to the time of
            :meth:`to_html`. Pass one for byte-for-byte reproducible output.

    Blocks appear in the order they were added. A table of contents is drawn from the
    headings when there are at least two.
    """

    def __init__(self, title: str, *, generated_at: datetime | None = None) -> None:
        self.title = str(title)
        self.generated_at = generated_at
        self._blocks: list[_Block] = []
        self._anchors: set[str] = set()
        self._figures = 0

    def __repr__(self) -> str:
        return f"Report(title={self.title!r}, blocks={len(self._blocks)})"

    def __len__(self) -> int:
        return len(self._blocks)

    # -- adding content -------------------------------------------------------------------

    def add_heading(self, text: str) -> Report:
        """Add a section heading (escaped; it also gets an anchor for the contents list)."""
        text = str(text)
        self._blocks.append(_Block("heading", text=text, anchor=_slug(text, self._anchors)))
        return self

    def add_text(self, text: str) -> Report:
        """Add a paragraph of plain text; HTML in it is escaped and line breaks are kept."""
        self._blocks.append(_Block("text", text=str(text)))
        return self

    def add_html(self, fragment: str) -> Report:
        """Add HTML that fusionkit rendered (e.g. an object's ``_repr_html_()``) as-is.

        Never pass model output or user text here: it is not escaped. Use
        :meth:`add_text` for those.

        Args:
            fragment: An HTML fragment.

        Raises:
            InvalidRequestError: The fragment would load a remote resource, which would
                break the report's promise of opening offline.
        """
        fragment = str(fragment)
        remote = find_external_resources(fragment)
        if remote:
            raise InvalidRequestError(
                f"This HTML fragment loads remote resources ({', '.join(remote[:3])}); a "
                "report must open offline. Inline the resource (e.g. a data: URI) or "
                "drop it before calling add_html()."
            )
        self._blocks.append(_Block("html", html=fragment))
        return self

    def add_object(self, obj: Any) -> Report:
        """Add any object the way a notebook would show it.

        DataFrames become escaped tables, matplotlib figures embedded PNGs, objects with
        ``_repr_html_`` (or a ``_repr_mimebundle_`` holding ``text/html``) their HTML, and
        anything else its escaped ``str()``.

        Args:
            obj: The object to show.
        """
        if _is_dataframe(obj):
            return self.add_frame(obj)
        if _is_figure(obj):
            return self.add_figure(obj)
        html = _html_of(obj)
        if html is not None:
            return self.add_html(html)
        return self.add_text(str(obj))

    def add_stats(self, stats: Any) -> Report:
        """Add a row of headline figures (tiles): the summary a reader sees first.

        Args:
            stats: ``(label, value)`` pairs, or ``(label, value, note)`` triples; all
                escaped. E.g. ``[("edge alone", "10 %", "2 of 20 correct")]``.
        """
        tiles = []
        for item in stats:
            label, value, *rest = (str(x) for x in item)
            tiles.append((label, value, rest[0] if rest else ""))
        self._blocks.append(_Block("stats", tiles=tuple(tiles)))
        return self

    def add_frame(self, df: Any, caption: str = "", *, index: bool = True) -> Report:
        """Add a pandas DataFrame as an HTML table; every cell is escaped.

        Cells read as a person would write them: a missing value (None, NaN) is ``—``,
        a whole float has no ``.0``, other floats are rounded to 2 decimals, and text
        keeps its real line breaks (pandas would print them as ``\\n``).

        Args:
            df: A pandas DataFrame (or Series, shown as one column).
            caption: Optional caption under the table (escaped).
            index: Whether to show the index column.
        """
        if hasattr(df, "to_frame") and not hasattr(df, "columns"):
            df = df.to_frame()
        if not _is_dataframe(df):
            raise InvalidRequestError(
                f"add_frame() needs a pandas DataFrame, got {type(df).__name__}; "
                "use add_object() for other values."
            )
        table = _frame_html(df, index=index)
        self._blocks.append(_Block("frame", html=table, caption=str(caption)))
        return self

    def add_figure(self, fig: Any, caption: str = "", *, dpi: int = 110) -> Report:
        """Embed a matplotlib figure as a base64 PNG and close it.

        The PNG is drawn by matplotlib's Agg renderer, whatever backend is active, and the
        figure is closed afterwards so that a long report does not pile up open figures.

        Args:
            fig: A matplotlib ``Figure`` (an ``Axes`` is accepted and its figure used).
            caption: Optional caption (escaped); also the image's alt text.
            dpi: Resolution of the PNG.
        """
        figure = getattr(fig, "figure", None) if not _is_figure(fig) else fig
        if figure is None or not _is_figure(figure):
            raise InvalidRequestError(
                f"add_figure() needs a matplotlib Figure or Axes, got {type(fig).__name__}."
            )
        buffer = io.BytesIO()
        try:
            figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        finally:
            _close_figure(figure)
        self._figures += 1
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        self._blocks.append(
            _Block(
                "figure",
                html=f"data:image/png;base64,{data}",
                caption=str(caption),
                text=str(caption) or f"Figure {self._figures}",
            )
        )
        return self

    # -- output ---------------------------------------------------------------------------

    def to_html(self) -> str:
        """Render the whole page: a complete HTML document with no external resources."""
        when = self.generated_at or datetime.now(timezone.utc)
        if when.tzinfo is None:
            stamp = when.strftime("%Y-%m-%d %H:%M")
        else:
            stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        blocks = [
            # only HTML that fusionkit produced (add_html, to_html of a frame) is marked safe
            replace(b, html=safe(b.html)) if b.kind in {"html", "frame"} else b
            for b in self._blocks
        ]
        toc = [b for b in blocks if b.kind == "heading"]
        return render(
            _TEMPLATE,
            title=self.title,
            generated_at=stamp,
            version=_version(),
            blocks=blocks,
            toc=toc if len(toc) >= 2 else [],
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically, creating the parent folder.

        The page is written to a temporary file beside the target and renamed over it, so
        a reader (or a crash) never sees a half-written report.

        Args:
            path: Where to write the ``.html`` file.

        Returns:
            The absolute path written.
        """
        target = Path(path).expanduser().resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        page = self.to_html()
        write_atomically(target, lambda handle: handle.write(page))
        return target


def write_atomically(target: Path, write: Callable[[TextIO], object]) -> None:
    """Write a UTF-8 text file atomically: ``write(handle)`` fills a temporary file beside
    ``target``, which is then renamed over it, so a reader (or a crash) never sees half a
    file. The folder must exist.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _version() -> str:
    try:
        from .._version import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - partial installs only
        return "unknown"


def _cell(value: Any) -> str:
    """One table cell as text: ``—`` for missing, tidy numbers, anything else as str."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        if value != 0 and abs(value) < 0.01:
            return "<0.01" if value > 0 else "<-0.01"
        return f"{value:.2f}"
    text = str(value)
    return "—" if text in ("NaT", "<NA>", "nan") else text


def _frame_html(df: Any, *, index: bool) -> str:
    """An escaped HTML table of a DataFrame (cells via :func:`_cell`)."""
    import pandas as pd

    if isinstance(df.columns, pd.MultiIndex) or (index and isinstance(df.index, pd.MultiIndex)):
        # Nested headers: pandas' own layout, still escaped.
        return str(df.to_html(escape=True, index=index, border=0, classes="fk-frame", na_rep="—"))
    head = ([escape(str(df.index.name or ""))] if index else []) + [
        escape(str(c)) for c in df.columns
    ]
    lines = ['<table class="dataframe fk-frame">', "<thead><tr>"]
    lines += [f"<th>{h}</th>" for h in head]
    lines.append("</tr></thead><tbody>")
    for key, row in zip(df.index, df.itertuples(index=False, name=None), strict=True):
        cells = ([f"<th>{escape(_cell(key))}</th>"] if index else []) + [
            f"<td>{escape(_cell(v))}</td>" for v in row
        ]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _is_dataframe(obj: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(obj, pandas.DataFrame)


def _is_figure(obj: Any) -> bool:
    # matplotlib is imported lazily: if it was never imported, obj cannot be a Figure.
    figure = sys.modules.get("matplotlib.figure")
    return figure is not None and isinstance(obj, figure.Figure)


def _close_figure(figure: Any) -> None:
    # Only pyplot keeps a registry of open figures; a Figure built without pyplot needs
    # no closing, and importing pyplot here would pick a GUI backend for nothing.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)


def _html_of(obj: Any) -> str | None:
    repr_html = getattr(obj, "_repr_html_", None)
    if callable(repr_html):
        html = repr_html()
        if html is not None:
            return str(html)
    repr_bundle = getattr(obj, "_repr_mimebundle_", None)
    if callable(repr_bundle):
        bundle = repr_bundle()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict) and data.get("text/html") is not None:
            return str(data["text/html"])
    return None
