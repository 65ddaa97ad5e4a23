"""`fusionkit demo`'s report, opened in headless Chromium with no kernel and no network.

The demo pipeline runs on a scripted stand-in for the edge model (the real model's run is
`make demo`); the report it writes must show the decision page and the candidate table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import fusionkit as fk
from fusionkit.testing.browser import HeadlessBrowser, browser_unavailable

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


class _ScriptedEdge(fk.FakeModel):
    memory_footprint_bytes = 166_000_000


def _reply(request: fk.Request) -> str:
    text = request.messages[-1].content
    if '"score"' in text or "verdict" in text:
        return '{"score": 81, "verdict": "ship", "take": "Fast and <i>offline</i>."}'
    if "RESPONSE" in text:
        return '{"scores": {"A": 7, "B": 4, "C": 5}, "winner": "A", "rationale": "A is right."}'
    return "The answer is 7"


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(240)
def test_demo_report_shows_decision_page_and_candidates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = browser_unavailable()
    if reason:
        pytest.skip(f"no headless browser: {reason}")
    from fusionkit import demo
    from fusionkit.models.local import embedded

    monkeypatch.setattr(embedded, "edge_model", lambda **kw: _ScriptedEdge("edge", _reply))
    cfg = demo.DemoConfig(n_tasks=3, out=tmp_path / "demo.html", votes_path=tmp_path / "v.db")
    report = demo.run_demo(cfg, echo=False).report_path

    ARTIFACTS.mkdir(exist_ok=True)
    with HeadlessBrowser(width=1400, height=2000) as browser:
        browser.open(report)
        titles = browser.texts(".fk-decision h3")
        assert titles and "which should you ship with?" in titles[0]
        rows = browser.texts(".fk-decision table tr")
        assert any(r.startswith("Panel verdict") for r in rows)
        assert any("Ship" in r for r in rows)
        candidates = browser.texts(".fk-fusion table tr")
        assert len(candidates) >= 4  # header + three pool members
        assert browser.texts("img") is not None
        browser.screenshot(ARTIFACTS / "demo-report.png")
        browser.screenshot(ARTIFACTS / "demo-decision-page.png", selector=".fk-decision")
    assert "<i>offline</i>" not in report.read_text(encoding="utf-8")
