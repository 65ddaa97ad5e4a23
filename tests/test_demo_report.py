"""The demo report reads like a dashboard: figures first, human names, ✓/✗, no None."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fusionkit as fk
from fusionkit.render.report import Report


class ScriptedEdge(fk.FakeModel):
    memory_footprint_bytes = 166_000_000


def reply(request: fk.Request) -> str:
    text = request.messages[-1].content
    if '"score"' in text or "verdict" in text:
        return '{"score": 70, "verdict": "ship", "take": "Solid offline pick."}'
    if "29" in text or "28" in text:  # right on some tasks, wrong on others
        return "The answer is 29\nbecause I added."
    return "The answer is 7\nbecause I guessed."


def test_the_demo_report_leads_with_figures_and_reads_like_a_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pandas")
    from fusionkit import demo
    from fusionkit.models.local import embedded

    monkeypatch.setenv("FUSIONKIT_CACHE", "0")
    monkeypatch.setattr(embedded, "edge_model", lambda **kw: ScriptedEdge("edge", reply))
    cfg = demo.DemoConfig(n_tasks=3, out=tmp_path / "demo.html", votes_path=tmp_path / "v.db")
    html = demo.run_demo(cfg, echo=False).report_path.read_text(encoding="utf-8")

    body = html[html.index("<main") :]
    # the summary figures come before the first section
    assert body.index('class="stats"') < body.index("<h2")
    assert "edge model in memory" in body and "166 MB" in body
    # human column names, not code names
    for name in ("Answer found", "Latency (s)", "Median latency (s)", "Tokens / prompt"):
        assert f"<th>{name}</th>" in body
    for code in ("task_id", "median_latency_s", "vs_edge_alone", "cached_answers"):
        assert f"<th>{code}</th>" not in body
    # ✓/✗ for correctness, no None or NaN cells, replies keep real line breaks
    assert "<td>✓</td>" in body or "<td>✗</td>" in body
    assert "<td>True</td>" not in body and "<td>False</td>" not in body
    assert not re.search(r"<td>(None|nan|NaN)</td>", body)
    assert "because I" in body and "\\nbecause" not in body
    assert re.search(r"<td>The answer is \d+\nbecause I", body)
    # rounded numbers: no long float tails in the tables
    assert not re.search(r"<td>-?\d+\.\d{3,}</td>", body)


def test_frame_cells_read_as_written() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {"x": [1.0, 2.5, None], "y": ["a\nb", None, "c"], "z": [0.004, 1.23456, 1e-9]}
    )
    page = Report("t").add_frame(df, index=False).add_stats([("a", "1 %", "n")]).to_html()
    assert "<td>1</td>" in page and "<td>2.50</td>" in page and "<td>—</td>" in page
    assert "<td>a\nb</td>" in page and "<td>1.23</td>" in page and "<td>&lt;0.01</td>" in page
    assert '<div class="value">1 %</div>' in page
