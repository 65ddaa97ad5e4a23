"""The standalone HTML report: escaping, no external resources, embedded figures, atomic save."""

from __future__ import annotations

import base64
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fusionkit.errors import InvalidRequestError
from fusionkit.render.report import Report, find_external_resources

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
XSS = "<script>alert('pwned')</script>"


def _report() -> Report:
    return Report("Edge vs fusion", generated_at=datetime(2025, 1, 2, 3, 4, tzinfo=timezone.utc))


def test_page_is_a_complete_document_with_charset_and_timestamp() -> None:
    page = _report().add_heading("Answer").add_text("Paris.").to_html()
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert '<meta charset="utf-8">' in page
    assert "Generated 2025-01-02 03:04 UTC" in page
    assert "<title>Edge vs fusion</title>" in page
    assert '<h2 id="answer">Answer</h2>' in page
    assert page.rstrip().endswith("</html>")


def test_default_timestamp_is_now() -> None:
    page = Report("t").to_html()
    year = datetime.now(timezone.utc).year
    assert re.search(rf"Generated {year}-\d\d-\d\d \d\d:\d\d UTC", page)


def test_text_heading_title_and_caption_are_escaped() -> None:
    pd = pytest.importorskip("pandas")
    report = Report(f"T {XSS}")
    report.add_heading(XSS).add_text(XSS)
    report.add_frame(pd.DataFrame({"x": [1]}), caption=XSS)
    page = report.to_html()
    assert "<script>" not in page
    assert page.count("&lt;script&gt;") == 5  # <title>, <h1>, <h2>, text, caption


def test_object_text_fallback_is_escaped() -> None:
    class Plain:
        def __str__(self) -> str:
            return XSS

    page = Report("t").add_object(Plain()).to_html()
    assert "<script>" not in page and "&lt;script&gt;alert" in page


def test_dataframe_cells_and_headers_are_escaped() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"<b>col</b>": [XSS, "ok"], "n": [1, None]})
    page = Report("t").add_object(df).to_html()
    assert "<script>" not in page and "<b>col</b>" not in page
    assert "&lt;b&gt;col&lt;/b&gt;" in page
    assert '<table class="dataframe fk-frame">' in page


def test_html_fragment_is_kept_and_repr_html_used() -> None:
    class Rich:
        def _repr_html_(self) -> str:
            return '<div class="fk"><h3>Decision</h3><span class="badge ship">ship</span></div>'

    class Bundle:
        def _repr_mimebundle_(self, **kwargs: object) -> dict[str, str]:
            return {"text/plain": "x", "text/html": "<p id='bundled'>hi</p>"}

    page = Report("t").add_object(Rich()).add_object(Bundle()).to_html()
    assert '<span class="badge ship">ship</span>' in page
    assert "<p id='bundled'>hi</p>" in page


def test_repr_html_returning_none_falls_back_to_text() -> None:
    class Shy:
        def _repr_html_(self) -> None:
            return None

        def __str__(self) -> str:
            return "shy <object>"

    page = Report("t").add_object(Shy()).to_html()
    assert "shy &lt;object&gt;" in page


def test_no_external_resources_in_a_full_report() -> None:
    pd = pytest.importorskip("pandas")
    plt = _pyplot()
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    report = _report().add_heading("A").add_heading("B")
    report.add_frame(pd.DataFrame({"a": ["https://example.com/x.png"]}))
    report.add_figure(fig, caption="line")
    report.add_text("see https://example.com")
    page = report.to_html()
    assert find_external_resources(page) == []
    # nothing in a src/href attribute points off the page
    for url in re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', page):
        assert url.startswith(("#", "data:")), url
    assert "<link" not in page and "<script" not in page


def test_find_external_resources_catches_the_usual_ways_to_load() -> None:
    html = """
    <script src="https://cdn.example.com/a.js"></script>
    <link rel="stylesheet" href="//cdn.example.com/a.css">
    <img srcset="a.png 1x, http://x.example/b.png 2x">
    <div style="background:url('https://x.example/bg.png')"></div>
    <style>@import "https://x.example/f.css"; .a{background:url(http://x.example/c.png)}</style>
    <a href="https://example.com/docs">docs</a>
    <img src="data:image/png;base64,AAAA">
    """
    found = find_external_resources(html)
    assert found == [
        "https://cdn.example.com/a.js",
        "//cdn.example.com/a.css",
        "http://x.example/b.png",
        "https://x.example/bg.png",
        "https://x.example/f.css",
        "http://x.example/c.png",
    ]


def test_add_html_refuses_remote_resources() -> None:
    with pytest.raises(InvalidRequestError, match="open offline"):
        Report("t").add_html('<img src="https://example.com/track.gif">')


def test_figure_is_embedded_as_png_and_closed() -> None:
    plt = _pyplot()
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [1, 2])
    num = fig.number
    page = Report("t").add_figure(fig, caption="Bars <1>").to_html()
    match = re.search(
        r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="Bars &lt;1&gt;">', page
    )
    assert match, "figure not embedded as a data:image/png URI"
    assert base64.b64decode(match.group(1)).startswith(PNG_MAGIC)
    assert "<figcaption>Bars &lt;1&gt;</figcaption>" in page
    assert not plt.fignum_exists(num), "add_figure must close the figure"


def test_figure_from_axes_and_object_dispatch() -> None:
    plt = _pyplot()
    _, ax = plt.subplots()
    ax.plot([0, 1])
    fig2, _ = plt.subplots()
    page = Report("t").add_figure(ax).add_object(fig2).to_html()
    assert page.count("data:image/png;base64,") == 2
    assert 'alt="Figure 1"' in page and 'alt="Figure 2"' in page


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(InvalidRequestError, match="DataFrame"):
        Report("t").add_frame([1, 2])
    with pytest.raises(InvalidRequestError, match="Figure"):
        Report("t").add_figure("not a figure")


def test_toc_only_with_two_headings_and_unique_anchors() -> None:
    assert "Contents" not in Report("t").add_heading("Only").to_html()
    page = Report("t").add_heading("Same").add_heading("Same").to_html()
    assert 'href="#same"' in page and 'href="#same-2"' in page


def test_save_creates_parent_and_writes_utf8(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "report.html"
    written = _report().add_text("naïve café — ✓").save(target)
    assert written == target.resolve()
    assert "naïve café — ✓" in target.read_text(encoding="utf-8")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temp left


def test_save_is_atomic_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("old report", encoding="utf-8")

    def boom(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        _report().add_text("new").save(target)
    assert target.read_text(encoding="utf-8") == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_save_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    Report("one").save(target)
    Report("two").save(target)
    assert "<title>two</title>" in target.read_text(encoding="utf-8")


def _pyplot():  # type: ignore[no-untyped-def]
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
