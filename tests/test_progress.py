"""The shared progress display: lines in a terminal, a line updated in place in a notebook."""

from __future__ import annotations

import pytest

from fusionkit import _progress
from fusionkit._progress import Progress


def test_terminal_lines(capsys: pytest.CaptureFixture[str]) -> None:
    p = Progress(True, 2, "fuse vote")
    p.step("A · edge: done 0.1 s")
    p.grow()
    p.step("B · edge: done 0.2 s")
    p.close()
    err = capsys.readouterr().err.splitlines()
    assert err == ["fuse vote ...", "  [1/2] A · edge: done 0.1 s", "  [2/3] B · edge: done 0.2 s"]


def test_silent_and_callable(capsys: pytest.CaptureFixture[str]) -> None:
    got: list[tuple[str, int, int]] = []
    Progress(False, 1, "x").step("done")
    p = Progress(lambda label, done, total: got.append((label, done, total)), 1, "x")
    p.step("one")
    assert got == [("one", 1, 1)] and capsys.readouterr().err == ""


def test_notebook_line_is_updated_and_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    views: list[object] = []

    class Handle:
        def update(self, obj: object) -> None:
            views.append(obj)

    def display(obj: object, display_id: bool = False) -> Handle:
        views.append(obj)
        return Handle()

    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    p = Progress(True, 1, "fuse <b>")
    p.step("A · <script>x</script>: done")
    last = views[-1]
    assert repr(last) == "fuse <b>: 1/1 · A · <script>x</script>: done"
    html = last._repr_html_()  # type: ignore[attr-defined]
    assert "<script>" not in html and "&lt;script&gt;" in html and 'value="1"' in html
