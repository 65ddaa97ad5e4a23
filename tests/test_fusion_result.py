"""FusionResult views: the side-by-side table, the timeline, escaped HTML, accounting."""

from __future__ import annotations

import dataclasses
import math

import pytest
from fusion_helpers import picks

from fusionkit.errors import ServerError
from fusionkit.fusion.display import CANDIDATE_COLUMNS, style_candidates
from fusionkit.fusion.engine import fuse
from fusionkit.fusion.result import FusionResult
from fusionkit.models.fake import FakeModel

Q = "What is 6 * 7?"
XSS = "<script>alert('x')</script> 42"


def result(**kwargs: object) -> FusionResult:
    pool = [
        FakeModel("alpha", "The answer is 42.", price=(1.0, 1.0)),
        FakeModel("beta<b>", XSS, price=(1.0, 1.0)),
        FakeModel("gamma", ServerError("HTTP 503 <overloaded>", model="gamma")),
    ]
    judge = FakeModel("judge", picks("The answer is 42.", rationale="<i>correct</i> & short"))
    return fuse(Q, pool, judge=judge, seed=7, **kwargs)  # type: ignore[arg-type]


def test_result_is_frozen() -> None:
    r = result()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.answer = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.candidates[0].text = "x"  # type: ignore[misc]


def test_to_frame_is_the_side_by_side_table() -> None:
    r = result()
    df = r.to_frame()
    assert tuple(df.columns) == CANDIDATE_COLUMNS
    assert list(df["label"]) == sorted(df["label"])
    assert len(df) == 3 and df["winner"].sum() == 1
    win = df[df["winner"]].iloc[0]
    assert win["model"] == "alpha" and win["score"] == 9 and win["text"] == "The answer is 42."
    failed = df[df["model"] == "gamma"].iloc[0]
    assert failed["error"].startswith("ServerError") and math.isnan(failed["score"])
    assert failed["completion_tokens"] == 0
    ok = df[df["model"] == "alpha"].iloc[0]
    assert ok["completion_tokens"] == 4 and ok["cost_usd"] > 0


def test_styler_escapes_and_renders() -> None:
    html = style_candidates(result().to_frame()).to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_repr_html_escapes_all_model_text() -> None:
    r = result()
    html = r._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "beta&lt;b&gt;" in html and "beta<b>" not in html
    assert "&lt;i&gt;correct&lt;/i&gt; &amp; short" in html
    assert "HTTP 503 &lt;overloaded&gt;" in html
    assert "The answer is 42." in html
    assert "winner: Response" in html and "2/3 members answered" in html
    assert "<style>" in html  # self-contained: reads the same on GitHub/nbviewer


def test_repr_html_shows_fallback_votes_and_debate() -> None:
    pool = [FakeModel("a", "The answer is 1."), FakeModel("b", "The answer is 2.")]
    r = fuse(Q, pool, judge=FakeModel("judge", ["junk"] * 10), mode="debate", rounds=1)
    html = r._repr_html_()
    assert "fallback" in html and "Fallback used" in html
    assert "Debate transcript" in html and "Round 1" in html
    assert "Judge's raw replies" in html


def test_repr_html_merge_analysis_and_judge_in_pool() -> None:
    member = FakeModel("both", "42")
    judge_replies = ['{"consensus": ["<b>42</b>"]}', "42 it is."]
    member2 = FakeModel("other", "42!")
    r = fuse(Q, [member, member2], judge=FakeModel("judge", judge_replies), mode="merge")
    html = r._repr_html_()
    assert "Consensus" in html and "&lt;b&gt;42&lt;/b&gt;" in html
    assert "judge wrote a synthesis" in html


def test_timeline_draws_members_and_judge() -> None:
    r = result()
    fig = r.timeline()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 3 + len(r.judge_calls) and labels[-1] == "judge · score"
    assert len(ax.patches) == 3 + len(r.judge_calls)
    import matplotlib.pyplot as plt

    assert fig not in map(plt.figure, plt.get_fignums())  # closed: displayed once only


def test_timeline_into_given_axes() -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        assert result().timeline(ax=ax) is fig
    finally:
        plt.close(fig)


def test_accounting_and_repr() -> None:
    r = result()
    assert r.cost_complete and r.cost_usd == pytest.approx(r.cost_known_usd)
    parts = sum(c.cost_usd or 0 for c in r.candidates) + sum(j.cost_usd or 0 for j in r.judge_calls)
    assert r.cost_usd == pytest.approx(parts)
    text = repr(r)
    assert text.startswith("FusionResult(mode='best-of'") and "2/3 ok" in text
    t = r.timings
    assert t.total_s >= t.pool_wall_s + t.judge_s
    assert t.engine_s >= 0
    row = r.to_dict()
    assert row["winner_model"] == "alpha" and row["n_failed"] == 1 and row["extracted"] == "42"
