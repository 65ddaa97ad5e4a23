"""A fusion result as a person reads it: honest cached timings, a standalone page."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import fusionkit as fk
from fusionkit.cache import ResponseCache
from fusionkit.fusion.display import timing_line
from fusionkit.fusion.timeline import timeline_spans
from fusionkit.render.report import find_external_resources
from fusionkit.types import Completion, Request


class SlowCached(fk.FakeModel):
    """A FakeModel that takes ``delay`` seconds and may be served by a real cache file."""

    cacheable = True

    def __init__(self, name: str, reply: str, delay: float, cache: ResponseCache) -> None:
        super().__init__(name, reply)
        self._cache_setting = cache
        self.delay = delay

    async def _acomplete(self, request: Request) -> Completion:
        await asyncio.sleep(self.delay)
        c = await super()._acomplete(request)
        return Completion(c.text, c.model, c.usage, latency_s=self.delay)


def _pool(tmp_path: Path) -> tuple[list[fk.Model], fk.Model]:
    cache = ResponseCache(tmp_path / "cache.db")
    pool = [SlowCached(f"m{i}", "42", 0.05 * (i + 1), cache) for i in range(3)]
    judge = SlowCached(
        "judge",
        '{"reason": "A is right", "scores": {"A": 9, "B": 5, "C": 3}, "winner": "A"}',
        0.1,
        cache,
    )
    return pool, judge


def test_a_cache_hit_shows_the_original_latencies_not_a_ratio_of_lookups(
    tmp_path: Path,
) -> None:
    pool, judge = _pool(tmp_path)
    kw = {"judge": judge, "mode": "best-of", "seed": 1, "temperature": 0.0, "progress": False}
    fresh = fk.fuse("What is 40 + 2?", pool, **kw)
    assert not fresh.all_cached and fresh.n_cached == 0
    assert fresh.overhead_ratio is not None and fresh.overhead_ratio < 2
    assert "overhead ×" in timing_line(fresh) and "cached" not in timing_line(fresh)

    again = fk.fuse("What is 40 + 2?", pool, **kw)
    assert again.all_cached
    assert again.overhead_ratio is None
    line = timing_line(again)
    assert "all cached" in line and "overhead" not in line
    assert "slowest member 150 ms" in line  # the original call, not the lookup
    # the table keeps the original latency, marked cached
    frame = again.to_frame()
    assert frame["cached"].all() and frame["latency_s"].max() == pytest.approx(0.15)
    html = again._repr_html_()
    assert "all cached" in html and "(cached)" in html and "overhead ×" not in html
    spans = timeline_spans(again)
    assert all(s.cached and s.original_s for s in spans if s.ok)
    fig = again.timeline()
    assert "all cached" in fig.axes[0].get_title()


def test_to_html_is_a_standalone_escaped_page(tmp_path: Path) -> None:
    evil = fk.FakeModel("evil", "<script>alert(1)</script> 4")
    ok = fk.FakeModel("ok", "4")
    r = fk.fuse("What is <b>2+2</b>?", [evil, ok], mode="vote", progress=False)
    page = r.to_html()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "&lt;b&gt;2+2&lt;/b&gt;" in page
    assert find_external_resources(page) == []
    path = r.save(tmp_path / "out" / "fusion.html")
    assert path.read_text(encoding="utf-8").count("&lt;script&gt;alert(1)") >= 1


def test_long_text_wraps_instead_of_widening_the_tables() -> None:
    long = "word " * 50 + "https://example.com/" + "x" * 300
    pool = [fk.FakeModel(f"m{i}", long) for i in range(5)]
    html = fk.fuse("Explain", pool, mode="vote", progress=False)._repr_html_()
    # the side-by-side table fits its container (no min-width that overflows and clips)
    assert "min-width" not in html and "table-layout:fixed;width:100%" in html
    # unbroken strings (URLs, spec strings) may break anywhere
    assert html.count("overflow-wrap:anywhere") >= 5 + 5 + 1
