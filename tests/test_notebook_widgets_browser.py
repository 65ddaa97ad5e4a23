"""A person's notebook in real JupyterLab: Run All, click, save, reopen, export.

Issue 10's path end to end, in headless Chromium against a throwaway ``jupyter lab``:

1. "Run All" on a notebook whose last cell closes the store; then a click on a VotePanel
   and on an Arena must still work and reach the SQLite file;
2. save, shut the kernel down, reopen: each widget's *clicked* state shows (the snapshot
   output beside the dead view), and no "Error displaying widget: model not found";
3. plain ``jupyter nbconvert --to html`` of the saved file shows the same state.

Slow (a server, a kernel and a browser: ~50 s per JupyterLab setting on the 2-core
dev box, ~2 min for both); skipped cleanly without
Chromium/chromedriver or jupyterlab. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusionkit.testing.browser import HeadlessBrowser, browser_unavailable
from fusionkit.testing.jupyterlab import JupyterLabServer, LabPage, jupyterlab_unavailable

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"

CELLS = (
    'import fusionkit as fk\nstore = fk.VoteStore("votes.db")',
    'panel = fk.VotePanel(store, ["Tool A", "Tool B"], voter="tester", title="Ship it?")\npanel',
    'answers = {"Say one.": {"m-one": "one", "m-two": "two"},\n'
    '           "Say two.": {"m-one": "1", "m-two": "2"}}\n'
    'arena = fk.Arena(store, answers, voter="tester", seed=0, title="Test arena")\narena',
    "store.close()  # what the shipped notebooks used to end with",
)


@pytest.fixture(params=[False, True], ids=["default-settings", "save-widget-state"])
def lab(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[JupyterLabServer, Path, bool]]:
    """A server per JupyterLab setting: by default it saves no widget state; with "Save
    Widget State Automatically" on it does, and a reopened notebook redraws the widgets."""
    reason = browser_unavailable() or jupyterlab_unavailable()
    if reason:
        pytest.skip(f"no JupyterLab in a browser here: {reason}")
    import nbformat

    save_state = bool(request.param)
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbformat.write(nb, root / "mine.ipynb")
    settings = {"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": save_state}}
    with JupyterLabServer(root, settings=settings) as server:
        yield server, root, save_state


def _db(root: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    conn = sqlite3.connect(f"file:{root / 'votes.db'}?mode=ro", uri=True)
    try:
        votes = conn.execute("SELECT subject, voter, verdict FROM votes").fetchall()
        battles = conn.execute("SELECT winner, voter FROM battles").fetchall()
    finally:
        conn.close()
    return votes, battles


def _saved_html(root: Path) -> str:
    nb = json.loads((root / "mine.ipynb").read_text())
    return "\n".join(
        "".join(o.get("data", {}).get("text/html", ""))
        for cell in nb["cells"]
        for o in cell.get("outputs", [])
    )


def test_run_all_click_save_reopen_export(lab: tuple[JupyterLabServer, Path, bool]) -> None:
    server, root, save_state = lab
    tag = "state" if save_state else "default"
    ARTIFACTS.mkdir(exist_ok=True)
    with HeadlessBrowser(width=1300, height=1800) as browser:
        page = LabPage(browser.driver, server)
        page.open_notebook("mine.ipynb")
        page.run_all()
        page.wait_for(lambda: page.button("Ship"), 30, "the VotePanel to render")
        live = page.visible_text()
        assert "static snapshot" not in live  # the snapshot hides while the widget is live

        # 1. clicks after Run All (the last cell closed the store) reach the file
        page.button("Ship").click()
        page.wait_for(lambda: "1 ship · 0 skip" in page.visible_text(), 20, "the tally")
        page.button("Tie").click()
        page.wait_for(lambda: "A was" in page.visible_text(), 20, "the Arena's reveal")
        assert "StoreError" not in page.visible_text() and "closed" not in page.visible_text()
        votes, battles = _db(root)
        assert votes == [("Tool A", "tester", "ship")] and battles == [("tie", "tester")]
        browser.screenshot(ARTIFACTS / f"lab-{tag}-1-clicked.png")

        # 2. save; the file holds the clicked state, not the state at display time
        page.save()
        saved = _saved_html(root)
        assert "<td>1</td><td>0</td>" in saved  # VotePanel: Tool A 1 ship 0 skip
        assert "1 battle in the store" in saved and "A tie between" in saved

        # ... shut the kernel down and reopen: no model behind the views any more
        assert server.shutdown_kernels() >= 1
        page.open_notebook("mine.ipynb")
        if save_state:  # the widgets are redrawn from the saved state (no kernel behind)
            ready = "1 ship · 0 skip"
        else:  # the snapshot beside each dead view shows, the dead view is hidden
            ready = "A tie between"
        page.wait_for(lambda: ready in page.visible_text(), 30, "the saved state")
        reopened = page.visible_text()
        browser.screenshot(ARTIFACTS / f"lab-{tag}-2-reopened.png")
        assert "model not found" not in reopened
        if save_state:
            assert "A was m-" in reopened and "static snapshot" not in reopened
        else:
            assert "Votes by tester · 1 votes on 2 subjects" in reopened
            assert "1 battle in the store" in reopened and "Not voted yet" not in reopened

    # 3. plain nbconvert of the saved notebook shows the same state
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(root / "mine.ipynb")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert time.monotonic() - started < 120
    with HeadlessBrowser(width=1100, height=1400) as browser:
        browser.open(root / "mine.html")
        exported = "\n".join(browser.texts("body"))
        browser.screenshot(ARTIFACTS / f"lab-{tag}-3-nbconvert.png")
    assert "Votes by tester · 1 votes on 2 subjects" in exported
    assert "1 battle in the store" in exported and "A tie between" in exported
    assert "Not voted yet" not in exported
