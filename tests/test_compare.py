"""The "A vs B — which should you ship with?" decision page."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from fusionkit.errors import InvalidRequestError, StoreError
from fusionkit.models.fake import FakeModel
from fusionkit.panel.compare import ROW_LABELS, Decision, Tally, acompare, compare
from fusionkit.panel.personas import DEFAULT_PERSONAS
from fusionkit.panel.review import Panel
from fusionkit.panel.types import NO_TAKE, PanelResult, Review, ToolCard
from fusionkit.types import Request

EDGE = ToolCard(
    name="Mistral 9B Edge",
    tagline="4-bit edge model",
    category="Edge LLM",
    pricing="Free, Apache-2.0",
    entry="pip install fusionkit",
    description="Runs offline.",
    best_for="offline demos",
)
CLOUD = ToolCard(
    name="CloudChat Pro",
    tagline="Hosted frontier model",
    category="Hosted LLM",
    pricing="$20/mo",
    entry="Sign up",
    description="Big and remote.",
    best_for="long documents",
)
EVIL_SCRIPT = "<script>alert(1)</script>"
EVIL_IMG = "<img src=x onerror=alert(1)>"


class Votes:
    """A minimal vote source (the real one is fusionkit.votes.store.VoteStore)."""

    def __init__(self, tallies: Mapping[str, Mapping[str, int]]) -> None:
        self.tallies = dict(tallies)
        self.asked: list[str] = []

    def tally(self, name: str) -> Mapping[str, int]:
        self.asked.append(name)
        return self.tallies.get(name, {"ship": 0, "skip": 0})


def persona_of(request: Request) -> str:
    system = request.messages[0].content
    return next(p.name for p in DEFAULT_PERSONAS if f"You are {p.name}," in system)


def tool_of(request: Request) -> str:
    m = re.search(r"<subject>\nTool: (.*)\n", request.messages[-1].content)
    assert m is not None
    return m.group(1)


def scripted(table: dict[tuple[str, str], str | BaseException], default: str) -> FakeModel:
    """A model answering per (tool, persona)."""

    def reply(request: Request) -> str | BaseException:
        return table.get((tool_of(request), persona_of(request)), default)

    return FakeModel("panel-model", reply)


def j(score: int, verdict: str, take: str) -> str:
    return json.dumps({"reason": take, "score": score, "verdict": verdict})


def two_sided_model() -> FakeModel:
    """EDGE: 4 ship / 1 skip; CLOUD: 1 ship / 4 skip."""
    table: dict[tuple[str, str], str | BaseException] = {}
    for p in DEFAULT_PERSONAS:
        table[(EDGE.name, p.name)] = j(85, "ship", f"{p.name} likes the edge model")
        table[(CLOUD.name, p.name)] = j(45, "skip", f"{p.name} finds it too costly")
    table[(EDGE.name, "Skeptic")] = j(55, "skip", "Breaks on long inputs.")
    table[(CLOUD.name, "Creator")] = j(87, "ship", "Great for long scripts.")
    return scripted(table, default=j(50, "ship", "no strong view either way"))


def test_decision_page_content() -> None:
    votes = Votes({EDGE.name: {"ship": 12, "skip": 3}, CLOUD.name: {"ship": 2, "skip": 6}})
    d = compare(EDGE, CLOUD, panel=Panel(two_sided_model()), votes=votes)
    assert isinstance(d, Decision)
    assert d.title == "Mistral 9B Edge vs CloudChat Pro — which should you ship with?"
    assert d.panel_a is not None and d.panel_b is not None
    assert d.panel_a.headline == "Ship · 4 ship / 1 skip"
    assert d.panel_b.headline == "Skip · 1 ship / 4 skip"
    assert d.votes_a == Tally(12, 3) and d.votes_b == Tally(2, 6)
    assert set(votes.asked) == {EDGE.name, CLOUD.name}

    df = d.to_frame()
    assert list(df.index) == list(ROW_LABELS)
    assert list(df.index) == [
        "Panel verdict",
        "Community",
        "What it is",
        "Getting started",
        "Pricing",
        "Best for",
        "Category",
    ]
    assert list(df.columns) == [EDGE.name, CLOUD.name]
    assert df.loc["Panel verdict", EDGE.name] == "Ship · panel ship 80% (4 of 5) · mean 79/100"
    assert df.loc["Panel verdict", CLOUD.name] == "Skip · panel ship 20% (1 of 5) · mean 53/100"
    assert df.loc["What it is", EDGE.name] == "Runs offline."
    assert df.loc["Getting started", CLOUD.name] == "Sign up"
    assert df.loc["Community", EDGE.name] == "12 ship / 3 skip (80% ship)"
    assert df.loc["Community", CLOUD.name] == "2 ship / 6 skip (25% ship)"
    assert df.loc["Pricing", CLOUD.name] == "$20/mo"
    assert df.loc["Best for", EDGE.name] == "offline demos"
    assert df.loc["Category", CLOUD.name] == "Hosted LLM"

    sc = d.scorecard_frame()
    assert list(sc.index) == [p.name for p in DEFAULT_PERSONAS]
    assert sc.loc["Skeptic", EDGE.name] == "55/100 · skip"
    assert sc.loc["Creator", CLOUD.name] == "87/100 · ship"

    assert d.panel_favours == EDGE.name and d.community_favours == EDGE.name
    assert d.recommendation.startswith("Ship with Mistral 9B Edge: the panel")
    assert "both favour it over CloudChat Pro" in d.recommendation

    html = d._repr_html_()
    assert "which should you ship with?" in html
    for label in ROW_LABELS:
        assert f"<th>{label}</th>" in html
    # the verdict is coloured (ship green, skip red) and the ship share is in each head
    assert '<td class="v-ship"><b>Ship · panel ship 80%' in html
    assert '<td class="v-skip"><b>Skip · panel ship 20%' in html
    assert '<span class="badge ship">Ship</span> Panel ship 80%' in html
    assert '<span class="badge skip">Skip</span> Panel ship 20%' in html
    assert "None" not in html
    assert "Reviewer scorecard" in html
    assert '<b>87/100</b> · <span class="badge ship">ship</span>' in html
    assert "Great for long scripts." in html and "Breaks on long inputs." in html
    assert "Recommendation:" in html
    # side by side: each persona row holds both tools' cells
    skeptic_row = re.search(r"<tr><th>Skeptic</th>(.*?)</tr>", html, re.S)
    assert skeptic_row is not None
    assert "55/100" in skeptic_row.group(1) and "45/100" in skeptic_row.group(1)
    assert "<script" not in html.replace("<style>", "")  # static: no JS needed


def test_no_community_votes_yet() -> None:
    d = compare(EDGE, CLOUD, panel=Panel(two_sided_model()), votes=None)
    assert d.votes_a is None and d.votes_b is None
    assert d.to_frame().loc["Community"].tolist() == ["No community votes yet"] * 2
    assert "No community votes yet" in d._repr_html_()
    assert d.recommendation.startswith("Lean Mistral 9B Edge: the panel favours it")
    assert d.recommendation.endswith("no community votes yet.")
    # a store with zero votes reads the same
    d0 = compare(EDGE, CLOUD, votes=Votes({}))
    assert d0.to_frame().loc["Community"].tolist() == ["No community votes yet"] * 2


def test_panel_and_community_disagree_is_a_split() -> None:
    votes = Votes({EDGE.name: {"ship": 1, "skip": 9}, CLOUD.name: {"ship": 9, "skip": 1}})
    d = compare(EDGE, CLOUD, panel=Panel(two_sided_model()), votes=votes)
    assert d.recommendation.startswith(
        "Split decision: the panel favours Mistral 9B Edge, the community favours CloudChat Pro"
    )


def test_community_only_and_nothing_at_all() -> None:
    votes = Votes({EDGE.name: {"ship": 1, "skip": 3}, CLOUD.name: {"ship": 5, "skip": 0}})
    d = compare(EDGE, CLOUD, votes=votes)
    assert d.panel_a is None and d.scorecard() == []
    assert d.to_frame().loc["Panel verdict"].tolist() == ["No panel review"] * 2
    assert d.recommendation.startswith("Lean CloudChat Pro: the community favours it")
    assert "No panel review was run" in d._repr_html_()
    empty = compare(EDGE, CLOUD)
    assert empty.recommendation == "No recommendation yet: no panel takes and no community votes."


def test_lesser_skip_is_flagged() -> None:
    table = {
        (CLOUD.name, p.name): j(10, "skip", "far too costly for a small team")
        for p in DEFAULT_PERSONAS
    }
    model = scripted(table, default=j(40, "skip", "not ready for daily use yet"))
    d = compare(EDGE, CLOUD, panel=Panel(model))
    assert d.panel_favours == EDGE.name
    assert "the panel leans skip on Mistral 9B Edge: it is the lesser skip" in d.recommendation


def test_no_panel_take_in_the_scorecard() -> None:
    table: dict[tuple[str, str], str | BaseException] = {
        (CLOUD.name, "Founder"): RuntimeError("server exploded")
    }
    d = compare(
        EDGE,
        CLOUD,
        panel=Panel(scripted(table, default=j(70, "ship", "fine for everyday work here"))),
    )
    founder_b = d.panel_b.review_for("Founder") if d.panel_b else None
    assert founder_b is not None and founder_b.take == NO_TAKE
    assert d.scorecard_frame().loc["Founder", CLOUD.name] == NO_TAKE
    html = d._repr_html_()
    row = re.search(r"<tr><th>Founder</th>(.*?)</tr>", html, re.S)
    assert row is not None and "No panel take" in row.group(1) and "server exploded" in row.group(1)
    assert "Ship · panel ship 100% (4 of 4) · mean 70/100 · 1 no take" in html


@pytest.mark.parametrize("evil", [EVIL_SCRIPT, EVIL_IMG])
def test_card_and_take_text_is_escaped(evil: str) -> None:
    escaped = evil.replace("<", "&lt;").replace(">", "&gt;")
    a = ToolCard(
        name=f"Tool {evil}",
        tagline=evil,
        category=evil,
        pricing=evil,
        best_for=evil,
        url="javascript:alert(1)",
    )
    b = ToolCard(name="Plain", url="https://example.org/plain")
    model = FakeModel("m", lambda r: j(60, "ship", f"take {evil}"))
    d = compare(a, b, panel=Panel(model), votes=Votes({}), title=f"Title {evil}")
    html = d._repr_html_()
    assert evil not in html
    assert escaped in html
    assert f"Title {escaped}" in html
    assert "javascript:" not in html
    assert 'href="https://example.org/plain"' in html


def test_ten_persona_calls_run_in_parallel() -> None:
    model = FakeModel("slow", j(70, "ship", "solid enough for everyday work"), latency=0.2)
    start = time.perf_counter()
    d = compare(EDGE, CLOUD, panel=Panel(model))
    elapsed = time.perf_counter() - start
    assert model.call_count == 10 and d.panel_a is not None and d.panel_a.ship == 5
    assert elapsed < 1.0, f"2 tools x 5 personas x 0.2 s took {elapsed:.2f} s"


def test_acompare_twin() -> None:
    d = asyncio.run(acompare(EDGE, CLOUD, Panel(two_sided_model()), Votes({}), title="Pick one"))
    assert d.title == "Pick one" and d.panel_favours == EDGE.name


def test_broken_store_fails_before_any_model_call() -> None:
    class Broken:
        def tally(self, name: str) -> Mapping[str, int]:
            raise StoreError("votes.db is locked; close the other writer and retry.")

    model = FakeModel("m", j(70, "ship", "solid enough for everyday work"))
    with pytest.raises(StoreError, match="locked"):
        compare(EDGE, CLOUD, panel=Panel(model), votes=Broken())
    assert model.call_count == 0


@pytest.mark.parametrize(
    ("tally", "needle"), [([1, 2], "mapping"), ({"ship": -1}, "count"), ({"skip": "3"}, "count")]
)
def test_malformed_tally(tally: object, needle: str) -> None:
    class Odd:
        def tally(self, name: str) -> object:
            return tally

    with pytest.raises(InvalidRequestError, match=needle):
        compare(EDGE, CLOUD, votes=Odd())  # type: ignore[arg-type]


def test_bad_inputs() -> None:
    with pytest.raises(InvalidRequestError, match="distinct names"):
        compare(EDGE, ToolCard(name=EDGE.name))
    with pytest.raises(InvalidRequestError, match="two ToolCards"):
        compare(EDGE, "CloudChat")  # type: ignore[arg-type]


def test_decision_from_precomputed_results_renders_without_a_model() -> None:
    ra = PanelResult("Mistral 9B Edge", (Review("Builder", 90, "ship", "yes"),))
    rb = PanelResult("CloudChat Pro", (Review("Teacher", 30, "skip", "no"),))
    d = Decision(EDGE, CLOUD, panel_a=ra, panel_b=rb, votes_a=Tally(), votes_b=Tally(1, 0))
    assert d.personas() == ["Builder", "Teacher"]
    sc = d.scorecard_frame()
    assert sc.loc["Teacher", EDGE.name] == "Not on this panel"
    assert sc.loc["Builder", EDGE.name] == "90/100 · ship"
    assert "Not on this panel" in d._repr_html_()
    assert d.recommendation.startswith("Lean Mistral 9B Edge: the panel favours it")
    assert "only one of them has community votes so far" in d.recommendation


def test_with_the_real_vote_store(tmp_path: Path) -> None:
    from fusionkit.votes.store import VoteStore

    with VoteStore(tmp_path / "votes.db") as store:
        for voter in ("ana", "ben", "cy"):
            store.vote(EDGE.name, "ship", voter=voter)
        store.vote(EDGE.name, "skip", voter="dee")
        d = compare(EDGE, CLOUD, panel=Panel(two_sided_model()), votes=store)
    assert d.votes_a == Tally(3, 1) and d.votes_b == Tally(0, 0)
    row = d.to_frame().loc["Community"].tolist()
    assert row == ["3 ship / 1 skip (75% ship)", "No community votes yet"]
    assert "only one of them has community votes so far" in d.recommendation


# -- arguments, sections, sharing, progress ---------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"panel": "edge"}, r"compare\(panel=\.\.\.\) takes a Panel.*got str 'edge'"),
        ({"panel": FakeModel("m")}, r"takes a Panel.*got FakeModel"),
        ({"votes": object()}, r"compare\(votes=\.\.\.\) takes a VoteStore.*got object"),
        ({"votes": {"ship": 3}}, r"takes a VoteStore.*got dict"),
        ({"title": 3}, r"compare\(title=\.\.\.\) takes text or None"),
        ({"progress": "loud"}, r"compare\(progress=\.\.\.\) takes True"),
    ],
)
def test_bad_compare_arguments_name_what_they_accept(kwargs: dict, needle: str) -> None:
    with pytest.raises(InvalidRequestError, match=needle):
        compare(EDGE, CLOUD, **kwargs)


def test_no_none_cells_and_human_labels_on_a_bare_page() -> None:
    d = Decision(ToolCard(name="A"), ToolCard(name="B"))
    df = d.to_frame()
    assert not df.isna().any().any()
    assert all(isinstance(v, str) and v and v != "None" for v in df.to_numpy().ravel())
    assert df.loc["Panel verdict", "A"] == "No panel review"
    assert df.loc["Community", "B"] == "No community votes yet"
    assert df.loc["What it is", "A"] == "—"
    html = d._repr_html_()
    assert "None" not in html and "No panel review was run" in html
    # a panel that gave no takes says so in words, never a None
    empty = PanelResult("A", (Review.no_take("Builder", "timed out"),))
    d = Decision(ToolCard(name="A"), ToolCard(name="B"), panel_a=empty)
    assert d.to_frame().loc["Panel verdict", "A"] == "No verdict · 1 no take"
    assert "None" not in d._repr_html_() and "Panel ship —" in d._repr_html_()


def test_page_sections_are_composable() -> None:
    from fusionkit.panel.compare import SECTIONS

    d = compare(EDGE, CLOUD, panel=Panel(two_sided_model()), progress=False)
    parts = d.sections()
    assert len(parts) == len(SECTIONS) == 2
    assert "fk-summary" in parts[0] and "fk-scorecard" in parts[1]
    html = d._repr_html_()
    assert html.index("fk-summary") < html.index("fk-scorecard")
    assert html.count('<div class="fk fk-decision">') == 1


def test_decision_saves_a_standalone_page(tmp_path: Path) -> None:
    from fusionkit.render.report import find_external_resources

    model = FakeModel("m", lambda r: j(60, "ship", f"The take says {EVIL_SCRIPT} on load."))
    a = ToolCard(name="A", description=f"Desc {EVIL_IMG}", entry="pip install a")
    d = compare(a, CLOUD, panel=Panel(model), progress=False)
    page = d.to_html()
    assert page.startswith("<!DOCTYPE html>") and f"<title>{d.title}</title>" in page
    assert EVIL_SCRIPT not in page and EVIL_IMG not in page
    assert "Desc &lt;img" in page and "pip install a" in page
    assert find_external_resources(page) == []
    path = d.save(tmp_path / "decision.html")
    assert path.read_text(encoding="utf-8").count("fk-decision") >= 1


def test_compare_reports_progress_over_both_tools(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[tuple[str, int, int]] = []
    compare(EDGE, CLOUD, panel=Panel(two_sided_model()), progress=lambda *a: seen.append(a))
    assert [(d, t) for _, d, t in seen] == [(i, 10) for i in range(1, 11)]
    assert {label.split(" · ")[0] for label, _, _ in seen} == {EDGE.name, CLOUD.name}
    assert capsys.readouterr().err == ""
    compare(EDGE, CLOUD, panel=Panel(two_sided_model()))
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("Panel: 5 personas played by panel-model reviewing Mistral 9B Edge")
    assert len(err) == 11 and err[-1].startswith("  [10/10] ")
