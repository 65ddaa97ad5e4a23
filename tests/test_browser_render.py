"""What a reader sees with no kernel: static HTML opened in a real headless Chromium.

(a) A standalone report (fusionkit.render.report) holding a real decision page and a
    candidate table: the title, the decision and every table row are visible, hostile
    text stays text, the embedded figure decodes.
(b) Notebooks exported with ``jupyter nbconvert --to html``: their tables are visible.
    Committed ``notebooks/*.ipynb`` are exported as they are; a tiny notebook is also
    built and executed here so the pipeline is covered before any notebook lands.

Screenshots go to ``test-artifacts/`` (gitignored) for a human to look at.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusionkit.errors import ConfigurationError
from fusionkit.models.fake import FakeModel
from fusionkit.render.report import Report
from fusionkit.testing.browser import HeadlessBrowser, browser_unavailable, find_browser
from fusionkit.types import Request

# The browser tests are slow and need Chromium; the few helper tests at the end are neither.
BROWSER_MARKS = (pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(180))


def browser_test(fn):  # type: ignore[no-untyped-def]
    """Mark a test as a (slow) headless-browser test."""
    for mark in BROWSER_MARKS:
        fn = mark(fn)
    return fn


REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PWN = "<script>window.__pwned = 1</script>"


@pytest.fixture(scope="module")
def browser() -> Iterator[HeadlessBrowser]:
    reason = browser_unavailable()
    if reason:
        pytest.skip(f"no headless browser: {reason}")
    with HeadlessBrowser(width=1400, height=2000) as b:
        yield b


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _panel_reply(request: Request) -> str:
    # Every persona likes the edge model and skips the hosted one.
    ship = "Tool: Mistral 9B Edge" in request.prompt_text
    return json.dumps(
        {
            "score": 84 if ship else 41,
            "verdict": "ship" if ship else "skip",
            "take": "Runs offline, fast enough." if ship else f"Costs too much {PWN}",
        }
    )


def _decision(tmp_path: Path):  # type: ignore[no-untyped-def]
    from fusionkit.panel.compare import compare
    from fusionkit.panel.review import Panel
    from fusionkit.panel.types import ToolCard
    from fusionkit.votes.store import VoteStore

    edge = ToolCard(
        name="Mistral 9B Edge",
        tagline="4-bit edge model",
        category="Edge LLM",
        pricing="Free, Apache-2.0",
        entry="pip install fusionkit",
        description="Runs offline.",
        best_for="offline demos",
    )
    cloud = ToolCard(
        name="CloudChat Pro",
        tagline=f"Hosted model {PWN}",
        category="Hosted LLM",
        pricing="$20/mo",
        entry="Sign up",
        description="Big and remote.",
        best_for="long documents",
    )
    store = VoteStore(tmp_path / "votes.db")
    for voter in ("ana", "ben", "chen"):
        store.vote(edge.name, "ship", voter=voter)
    store.vote(cloud.name, "skip", voter="ana")
    try:
        return compare(
            edge, cloud, panel=Panel(FakeModel("panel-model", _panel_reply)), votes=store
        )
    finally:
        store.close()


CANDIDATES = [
    ("edge-4bit", "Paris is the capital of France.", "0.84 s", ""),
    ("openrouter:mistral-small", f"Paris. {PWN}", "1.92 s", ""),
    ("ollama:llama3", "", "30.00 s", "ModelTimeoutError: no answer within 30 s"),
]


@browser_test
def test_report_with_decision_page_and_candidates_renders(
    browser: HeadlessBrowser, artifacts: Path, tmp_path: Path
) -> None:
    pd = pytest.importorskip("pandas")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    decision = _decision(tmp_path)
    fig, ax = plt.subplots(figsize=(5, 2.5))
    ax.barh([c[0] for c in CANDIDATES], [0.84, 1.92, 30.0])
    ax.set_xlabel("latency (s)")

    report = Report("Edge vs fusion: static report")
    report.add_heading("Decision")
    report.add_object(decision)
    report.add_heading("Candidates")
    report.add_frame(
        pd.DataFrame(CANDIDATES, columns=["model", "answer", "latency", "error"]),
        caption="One row per pool member; a failed member is a row too.",
        index=False,
    )
    report.add_figure(fig, caption="Latency per member")
    report.add_text(f"Prompt: Capital of France? {PWN}")
    page = report.save(tmp_path / "report.html")

    browser.open(page)
    assert browser.title == "Edge vs fusion: static report"
    assert browser.texts("h1") == ["Edge vs fusion: static report"]
    assert browser.driver.execute_script("return window.__pwned === undefined"), (
        "model/card text was executed as a script"
    )

    # the decision page: its title, recommendation and both summary rows are visible
    assert browser.texts(".fk-decision h3") == [decision.title]
    decision_text = browser.texts(".fk-decision")[0]
    assert "Recommendation:" in decision_text and decision.recommendation in decision_text
    rows = browser.texts(".fk-decision table:first-of-type tbody tr")
    assert [r.split(" ", 1)[0] for r in rows][:2] == ["Panel", "Community"]
    assert "3 ship / 0 skip" in rows[1]
    assert any(PWN in t for t in browser.texts(".fk-decision th")), (
        "hostile tagline not shown as text"
    )

    # the candidate table: one visible row per member, the failure included
    cand_rows = browser.texts("section.fk-table tbody tr")
    assert len(cand_rows) == len(CANDIDATES)
    for (model, answer, _, error), text in zip(CANDIDATES, cand_rows, strict=True):
        assert text.startswith(model) and answer in text and error in text
    assert PWN in cand_rows[1]

    # the embedded figure decoded to a real image
    natural = browser.driver.execute_script(
        "const i = document.querySelector('figure img'); return [i.complete, i.naturalWidth];"
    )
    assert natural[0] and natural[1] > 100

    shot = browser.screenshot(artifacts / "report-decision-page.png")
    width, height = _png_size(shot)
    assert width >= 1000 and height > 800
    part = browser.screenshot(artifacts / "decision-page.png", selector=".fk-decision")
    assert _png_size(part)[1] > 100


@browser_test
def test_fusion_result_renders(browser: HeadlessBrowser, artifacts: Path, tmp_path: Path) -> None:
    engine = pytest.importorskip(
        "fusionkit.fusion.engine",
        reason="fusionkit.fusion.engine has not landed yet; this test covers FusionResult once it does",
    )
    from fusionkit.errors import RateLimitError

    pool = [
        FakeModel("alpha", "Paris is the capital of France."),
        FakeModel("beta", "The capital is Paris."),
        FakeModel("gamma", RateLimitError("gamma: HTTP 429", model="gamma", status_code=429)),
    ]
    judge = FakeModel("judge", '{"winner": "A", "scores": {"A": 9, "B": 7}, "rationale": "ok"}')
    result = engine.fuse("Capital of France?", pool=pool, judge=judge, mode="best-of")

    page = Report("Fusion result").add_object(result).save(tmp_path / "fusion.html")
    browser.open(page)
    assert browser.driver.execute_script("return document.querySelectorAll('table').length") > 0
    rows = browser.texts("tr")
    for member in ("alpha", "beta", "gamma"):
        assert any(member in r for r in rows), f"no visible table row for pool member {member}"
    body = browser.texts("main")[0]
    assert "Paris" in body and "429" in body
    browser.screenshot(artifacts / "fusion-result.png")


def _export_html(notebook: Path, out_dir: Path) -> Path:
    """``jupyter nbconvert --to html`` (the venv's nbconvert), as a user would run it."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbconvert",
            "--to",
            "html",
            "--output-dir",
            str(out_dir),
            str(notebook),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"nbconvert failed:\n{proc.stderr[-3000:]}"
    html = out_dir / (notebook.stem + ".html")
    assert html.is_file(), proc.stderr
    return html


def _assert_tables_visible(browser: HeadlessBrowser, html: Path) -> list[str]:
    browser.open(html)
    total = browser.count("table")
    visible = [t for t in browser.texts("table") if t.strip()]
    assert total >= 1, f"{html.name}: no tables in the exported notebook"
    assert len(visible) == total, f"{html.name}: {total - len(visible)} table(s) not visible"
    return visible


def _build_executed_notebook(path: Path) -> Path:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_markdown_cell("# Static rendering check"),
            new_code_cell(
                "import pandas as pd\n"
                "df = pd.DataFrame({'mode': ['edge', 'merge'], 'accuracy': [0.61, 0.74]})\n"
                "df"
            ),
            new_code_cell(
                "from IPython.display import HTML\n"
                "HTML(\"<table class='by-hand'><tr><th>judge</th><td>gpt-judge</td></tr></table>\")"
            ),
            new_code_cell(
                "import json\n"
                "from fusionkit.models.fake import FakeModel\n"
                "from fusionkit.panel.compare import compare\n"
                "from fusionkit.panel.review import Panel\n"
                "from fusionkit.panel.types import ToolCard\n"
                "reply = json.dumps({'score': 70, 'verdict': 'ship', 'take': 'fine'})\n"
                "a = ToolCard(name='Edge', tagline='t', category='c', pricing='free', entry='pip', description='d')\n"
                "b = ToolCard(name='Cloud', tagline='t', category='c', pricing='$', entry='signup', description='d')\n"
                "compare(a, b, panel=Panel(FakeModel('m', reply)))"
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def built_notebook_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny notebook, executed here, then exported with nbconvert (shared by two tests)."""
    from fusionkit.notebook_checks import check_notebook

    folder = tmp_path_factory.mktemp("built-notebook")
    notebook = _build_executed_notebook(folder / "static_check.ipynb")
    assert check_notebook(notebook, require_outputs=True) == []
    return _export_html(notebook, folder)


@browser_test
def test_built_notebook_exports_with_visible_tables(
    browser: HeadlessBrowser, artifacts: Path, built_notebook_html: Path
) -> None:
    visible = _assert_tables_visible(browser, built_notebook_html)
    joined = "\n".join(visible)
    assert "0.74" in joined and "merge" in joined  # the DataFrame
    assert "gpt-judge" in joined  # the hand-written HTML table
    assert "Panel verdict" in joined and "Community" in joined  # fusionkit's decision page
    browser.screenshot(artifacts / "notebook-static_check.png")


@browser_test
def test_fusionkit_tables_keep_their_style_in_exported_notebook(
    browser: HeadlessBrowser, built_notebook_html: Path
) -> None:
    browser.open(built_notebook_html)
    aligns = browser.driver.execute_script(
        "return Array.from(document.querySelectorAll('.fk td, .fk th'))"
        ".map(e => getComputedStyle(e).textAlign);"
    )
    assert aligns, "no fusionkit table cells in the exported notebook"
    assert set(aligns) == {"left"}, f"fusionkit cells aligned {sorted(set(aligns))}"


@browser_test
@pytest.mark.parametrize(
    "notebook",
    NOTEBOOKS
    or [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks/*.ipynb committed yet"))],
    ids=[p.stem for p in NOTEBOOKS] or ["none-yet"],
)
def test_committed_notebook_exports_with_visible_tables(
    browser: HeadlessBrowser, artifacts: Path, tmp_path: Path, notebook: Path
) -> None:
    html = _export_html(notebook, tmp_path)
    _assert_tables_visible(browser, html)
    browser.screenshot(artifacts / f"notebook-{notebook.stem}.png")


@browser_test
def test_screenshot_tool(browser: HeadlessBrowser, artifacts: Path, tmp_path: Path) -> None:
    page = Report("Screenshot tool").add_html(
        "<div class='fk'><table id='t'><tr><th>a</th><td>b</td></tr></table></div>"
    )
    html = page.save(tmp_path / "page.html")
    out = artifacts / "screenshot-tool.png"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "screenshot.py"),
            str(html),
            str(out),
            "--selector",
            "#t",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout
    width, height = _png_size(out)
    assert 0 < height < 200 and width > 100  # the table only, not the whole page
    bad = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "screenshot.py"),
            str(html),
            str(out),
            "--selector",
            "#nope",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "#nope" in bad.stderr


def test_find_browser_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("FUSIONKIT_CHROMIUM", raising=False)
    monkeypatch.delenv("FUSIONKIT_CHROMEDRIVER", raising=False)
    with pytest.raises(ConfigurationError, match="need chromium and chromedriver.*apt-get"):
        find_browser()


def test_browser_unavailable_explains_a_bad_override(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FUSIONKIT_CHROMEDRIVER", str(tmp_path / "no-such-driver"))
    reason = browser_unavailable()
    assert reason is not None and "chromedriver" in reason and "FUSIONKIT_CHROMEDRIVER" in reason
