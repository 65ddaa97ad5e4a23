"""VotePanel and Arena: clicks reach the store, tallies update, snapshots are escaped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusionkit.errors import InvalidRequestError
from fusionkit.models.fake import FakeModel
from fusionkit.votes.store import VoteStore
from fusionkit.widgets._static import WIDGET_VIEW_MIME, HTMLSnapshot
from fusionkit.widgets.voting import Arena, VotePanel

EVIL = "<script>alert('x')</script>"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VoteStore]:
    s = VoteStore(tmp_path / "votes.db")
    yield s
    s.close()


def html_of(widget: object) -> str:
    bundle = widget._repr_mimebundle_()  # type: ignore[attr-defined]
    assert WIDGET_VIEW_MIME in bundle  # the live view is still there
    return bundle["text/html"]


# -- VotePanel -----------------------------------------------------------------------------------


def test_vote_panel_clicks_update_store_tallies_and_highlight(store: VoteStore) -> None:
    panel = VotePanel(store, ["Tool A", "Tool B"], voter="ana")
    ship_a, skip_a = panel.buttons("Tool A")
    assert panel.tally_label("Tool A") == "0 ship · 0 skip"
    assert ship_a.button_style == skip_a.button_style == ""

    ship_a.click()
    assert store.tally("Tool A") == {"ship": 1, "skip": 0}
    assert store.current_vote("Tool A", "ana") == "ship"
    assert panel.tally_label("Tool A") == "1 ship · 0 skip"
    assert (ship_a.button_style, skip_a.button_style) == ("success", "")

    skip_a.click()  # changing the vote moves the count and the highlight
    assert store.tally("Tool A") == {"ship": 0, "skip": 1}
    assert panel.tally_label("Tool A") == "0 ship · 1 skip"
    assert (ship_a.button_style, skip_a.button_style) == ("", "danger")
    assert panel.tallies["Tool B"] == {"ship": 0, "skip": 0}
    assert len(store.history_frame()) == 2


def test_vote_panel_refresh_shows_other_voters(store: VoteStore) -> None:
    panel = VotePanel(store, ["Tool A"], voter="ana")
    store.vote("Tool A", "ship", voter="bo")
    store.vote("Tool A", "ship", voter="cy")
    assert panel.tally_label("Tool A") == "0 ship · 0 skip"  # not re-read yet
    panel.refresh_button.click()
    assert panel.tally_label("Tool A") == "2 ship · 0 skip"
    assert panel.buttons("Tool A")[0].button_style == ""  # ana has not voted


def test_vote_panel_snapshot_changes_and_escapes(store: VoteStore) -> None:
    panel = VotePanel(store, ["Tool A", EVIL], voter="<b>ana</b>")
    before = html_of(panel)
    assert "<script>alert" not in before and "&lt;script&gt;alert" in before
    assert "&lt;b&gt;ana&lt;/b&gt;" in before and "no votes" in before
    panel.buttons(EVIL)[1].click()
    after = html_of(panel)
    assert after != before
    assert "<script>alert" not in after
    assert '<span class="badge skip">skip</span>' in after
    assert isinstance(panel.snapshot(), HTMLSnapshot)
    assert panel.snapshot()._repr_html_() == after
    assert repr(panel) == "VotePanel(2 subjects, voter='<b>ana</b>')"


def test_vote_panel_takes_store_subjects_and_validates(store: VoteStore) -> None:
    store.vote("from store", "ship", voter="x")
    assert VotePanel(store, voter="ana").subject_names == ["from store"]
    with pytest.raises(InvalidRequestError, match="voter"):
        VotePanel(store, ["a"], voter="")
    with pytest.raises(InvalidRequestError, match="not in this panel"):
        VotePanel(store, ["a"], voter="ana").vote("b", "ship")


def test_vote_panel_keeps_working_after_store_close(store: VoteStore) -> None:
    # "Run All" runs a last cell with store.close(); the first real click comes after it.
    panel = VotePanel(store, ["Tool A"], voter="ana")
    store.close()
    panel.buttons("Tool A")[0].click()
    assert panel.status.value == ""
    assert store.tally("Tool A") == {"ship": 1, "skip": 0}
    assert "closed" not in html_of(panel)


def test_vote_panel_shows_errors_instead_of_raising(store: VoteStore, monkeypatch) -> None:
    from fusionkit.errors import StoreError

    panel = VotePanel(store, ["Tool A"], voter="ana")

    def broken(*_a: object, **_k: object) -> None:
        raise StoreError("disk on fire")

    monkeypatch.setattr(store, "vote", broken)
    monkeypatch.setattr(store, "tally", broken)
    panel.buttons("Tool A")[0].click()  # must not raise inside the click handler
    assert "disk on fire" in panel.status.value
    assert "disk on fire" in html_of(panel)  # and a display still renders


# -- Arena ----------------------------------------------------------------------------------------

ANSWERS = {
    "What is 2+2?": {"m-one": "4", "m-two": EVIL, "m-three": "four"},
    "Capital of France?": {"m-one": "Paris", "m-two": "Lyon"},
}


def test_arena_vote_goes_to_store_and_reveals_models(store: VoteStore) -> None:
    arena = Arena(store, ANSWERS, voter="ana", seed=3)
    s = arena.battle_state
    assert s.prompt == "What is 2+2?" and s.model_a != s.model_b
    assert arena.next_button.disabled and not arena.vote_buttons["a"].disabled
    hidden = html_of(arena)
    for name in ("m-one", "m-two", "m-three"):
        assert name not in hidden  # anonymous until the vote
    arena.vote_buttons["b"].click()
    frame = store.battles()
    assert frame[["model_a", "model_b", "winner", "voter", "prompt"]].values.tolist() == [
        [s.model_a, s.model_b, "b", "ana", "What is 2+2?"]
    ]
    shown = html_of(arena)
    assert s.model_a in shown and s.model_b in shown and shown != hidden
    assert all(b.disabled for b in arena.vote_buttons.values())
    assert arena.vote_buttons["b"].button_style == "success"
    assert not arena.next_button.disabled
    with pytest.raises(InvalidRequestError, match="decided"):
        arena.vote("a")
    arena.next_button.click()
    assert arena.battle_state.number == 2 and arena.battle_state.prompt == "Capital of France?"
    assert arena.next_button.disabled
    arena.vote("tie")
    assert store.battles()["winner"].tolist() == ["b", "tie"]
    assert len(arena.history) == 2
    assert "This session" in html_of(arena)


def test_arena_escapes_model_text_everywhere(store: VoteStore) -> None:
    answers = {EVIL: {"m1": EVIL, "<i>m2</i>": "<img src=x onerror=alert(1)>"}}
    arena = Arena(store, answers, voter="ana")
    arena.vote("a")
    snap = html_of(arena)
    live = arena._box_a.value + arena._box_b.value + arena._prompt.value + arena._result.value
    for html in (snap, live):
        assert "<script>" not in html and "<img" not in html and "<i>m2" not in html
    assert "&lt;script&gt;" in snap and "&lt;img src=x" in snap


def test_arena_order_is_seeded_and_covers_both_sides(store: VoteStore) -> None:
    def sequence(seed: int) -> list[tuple[str, str]]:
        arena = Arena(store, ANSWERS, voter="ana", seed=seed)
        out = []
        for _ in range(12):
            out.append((arena.battle_state.model_a, arena.battle_state.model_b))
            arena.vote("tie")
            arena.next_battle()
        return out

    assert sequence(1) == sequence(1)
    assert sequence(1) != sequence(2)
    firsts = {a for a, _ in sequence(5)}
    assert len(firsts) >= 2  # A is not always the same model


def test_arena_with_models_generates_off_the_ui_thread(store: VoteStore) -> None:
    threads: list[str] = []

    def reply(text: str):  # noqa: ANN202
        def fn(request):  # noqa: ANN001, ANN202
            threads.append(threading.current_thread().name)
            return f"{text}: {request.prompt_text}"

        return fn

    models = [FakeModel("fast", reply("fast"), latency=0.05), FakeModel("slow", reply("slow"))]
    arena = Arena(store, models, ["p1", "p2"], voter="ana", seed=0)
    html_of(arena)  # rendering while pending neither blocks nor calls anything new
    assert arena.wait(10)
    s = arena.battle_state
    assert not s.pending and {s.text_a, s.text_b} == {"fast: p1", "slow: p1"}
    assert set(threads) == {"fusionkit-loop"}
    calls = sum(m.call_count for m in models)
    html_of(arena)
    assert sum(m.call_count for m in models) == calls == 2
    arena.vote("a")
    arena.next_battle()
    assert arena.wait(10) and arena.battle_state.prompt == "p2"
    arena.vote("b")
    arena.next_battle()  # back to p1: answers are reused, models are not called again
    assert arena.wait(10)
    assert sum(m.call_count for m in models) == 4
    assert len(store.battles()) == 2


def test_arena_pending_blocks_votes(store: VoteStore) -> None:
    gate = threading.Event()

    def blocked(_request):  # noqa: ANN001, ANN202
        gate.wait(10)
        return "late"

    arena = Arena(store, [FakeModel("a", blocked), FakeModel("b", "ok")], ["p"], voter="ana")
    try:
        assert arena.battle_state.pending
        assert all(b.disabled for b in arena.vote_buttons.values())
        assert "Generating" in html_of(arena)
        with pytest.raises(InvalidRequestError, match="still being generated"):
            arena.vote("a")
    finally:
        gate.set()
    assert arena.wait(10)
    assert not arena.vote_buttons["a"].disabled


def test_arena_failed_model_is_shown_and_not_votable(store: VoteStore) -> None:
    models = [FakeModel("good", "fine"), FakeModel("broken", RuntimeError("<boom>"))]
    arena = Arena(store, models, ["p"], voter="ana")
    assert arena.wait(10)
    s = arena.battle_state
    assert s.revealed and "<boom>" in (s.error_a or s.error_b or "")
    assert all(b.disabled for b in arena.vote_buttons.values())
    assert not arena.next_button.disabled
    html = html_of(arena)
    assert "&lt;boom&gt;" in html and "<boom>" not in html
    assert store.battles().empty


@pytest.mark.parametrize(
    ("source", "prompts", "needle"),
    [
        ({"p": {"only": "x"}}, None, "at least two models"),
        ({"p": {"a": 1, "b": "x"}}, None, "must be text"),
        ({"p": {"a": "x", "b": "y"}}, ["missing"], "at least two models"),
        ([FakeModel("a"), FakeModel("b")], None, "give the Arena some prompts"),
        ([FakeModel("a"), FakeModel("a")], ["p"], "distinct names"),
        (["not a model"], ["p"], "Model objects"),
    ],
)
def test_arena_validates_its_source(
    store: VoteStore, source: object, prompts: object, needle: str
) -> None:
    with pytest.raises(InvalidRequestError, match=needle):
        Arena(store, source, prompts, voter="ana")  # type: ignore[arg-type]


# -- voters, repeated clicks, argument order -------------------------------------------------------


def test_people_vote_as_themselves_and_scripts_under_their_own_name(
    store: VoteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fusionkit.widgets.voting import session_voter

    monkeypatch.delenv("FUSIONKIT_VOTER", raising=False)
    me = session_voter()
    assert me == session_voter() and me.strip()  # one id per session
    arena = Arena(store, ANSWERS, seed=0)
    assert arena.voter == me and me in arena._header.value  # shown in the widget
    arena.vote("a", voter="referee-script")  # the scripted referee
    arena.next_battle()
    arena.vote_buttons["b"].click()  # a person
    assert store.battles()["voter"].tolist() == ["referee-script", me]
    assert VotePanel(store, ["x"]).voter == me
    monkeypatch.setenv("FUSIONKIT_VOTER", "ana@team")
    assert VotePanel(store, ["x"]).voter == "ana@team"


def test_arena_repeated_click_is_a_quiet_no_op(store: VoteStore) -> None:
    arena = Arena(store, ANSWERS, voter="ana", seed=1)
    arena.vote_buttons["tie"].click()
    reveal = arena._result.value
    assert "Tie" in reveal
    arena.vote_buttons["tie"].click()  # a double click
    arena.vote_buttons["a"].click()
    assert store.battle_count() == 1
    assert arena._result.value == reveal  # the reveal stays
    assert "Already recorded" in arena._note.value and "bad" not in arena._note.value
    arena.next_button.click()
    assert arena._note.value == ""


def test_arena_takes_the_store_first_or_says_so(store: VoteStore) -> None:
    with pytest.raises(InvalidRequestError, match=r"VoteStore first.*Arena\(store"):
        Arena(ANSWERS, store)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="first argument must be a VoteStore"):
        Arena("votes.db", ANSWERS)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="VoteStore first"):
        VotePanel(["Tool A"], store)  # type: ignore[arg-type]


# -- snapshots beside the view, kept current --------------------------------------------------------


class _Displays:
    """Captures IPython display()/update_display() calls (no kernel needed)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import IPython.display as ipd

        self.outputs: list[dict] = []
        self.by_id: dict[str, dict] = {}

        def display(obj: dict, raw: bool = False, display_id: str | None = None) -> None:
            assert raw
            self.outputs.append(obj)
            if display_id:
                self.by_id[display_id] = obj

        def update_display(obj: dict, raw: bool = False, display_id: str = "") -> None:
            assert raw and display_id in self.by_id
            self.by_id[display_id].clear()
            self.by_id[display_id].update(obj)

        monkeypatch.setattr(ipd, "display", display)
        monkeypatch.setattr(ipd, "update_display", update_display)


def test_display_puts_snapshot_beside_the_view_and_updates_it(
    store: VoteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = _Displays(monkeypatch)
    panel = VotePanel(store, ["Tool A"], voter="ana")
    panel._ipython_display_()
    view, snap = shown.outputs
    assert WIDGET_VIEW_MIME in view and view["text/html"] == ""  # nothing inside the view
    assert WIDGET_VIEW_MIME not in snap
    assert f'data-fk-snapshot="{panel.snapshot_id}"' in snap["text/html"]
    assert "<td>0</td><td>0</td>" in snap["text/html"]
    panel.buttons("Tool A")[0].click()
    store.vote("Tool A", "skip", voter="bo")  # another voter, then a refresh
    panel.refresh()
    assert "<td>1</td><td>1</td>" in snap["text/html"]  # the saved output follows the store
    # The live widget carries the style that hides its snapshot while it is live.
    styles = [c.value for c in panel.children if "display:none" in getattr(c, "value", "")]
    assert styles and f".fk-snap-{panel.snapshot_id}" in styles[0]


def test_arena_snapshot_follows_battles(store: VoteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _Displays(monkeypatch)
    arena = Arena(store, ANSWERS, voter="ana", seed=0)
    arena._ipython_display_()
    snap = shown.outputs[1]
    assert "Not voted yet" in snap["text/html"] and "0 battles in the store" in snap["text/html"]
    arena.vote_buttons["a"].click()
    assert "A is better" in snap["text/html"] or "A better" in snap["text/html"]
    assert "1 battle in the store" in snap["text/html"]


def test_share_writes_current_state_and_drops_dead_views(
    store: VoteStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import nbformat

    from fusionkit.widgets._static import share

    shown = _Displays(monkeypatch)
    panel = VotePanel(store, ["Tool A"], voter="ana")
    panel._ipython_display_()
    view, snap = (dict(o) for o in shown.outputs)  # as saved when the cell ran
    panel.buttons("Tool A")[0].click()  # a click JupyterLab never wrote into the output
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("panel")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data=view),
        nbformat.v4.new_output("display_data", data=snap),
    ]
    nb.cells.append(cell)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path = tmp_path / "mine.ipynb"
    nbformat.write(nb, path)
    report = share(path)
    assert (report.refreshed, report.views_removed, report.state_removed) == (1, 1, True)
    saved = nbformat.read(path, as_version=4)
    (only,) = saved.cells[0].outputs
    assert "<td>1</td><td>0</td>" in only["data"]["text/html"]
    assert "widgets" not in saved.metadata


def test_console_snapshot_shows_the_finished_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from fusionkit.widgets.console import FusionConsole

    shown = _Displays(monkeypatch)
    console = FusionConsole(
        [FakeModel("m1", "forty-two"), FakeModel("m2", "forty-two")], prompt="6 x 7?", mode="vote"
    )
    console._ipython_display_()
    snap = shown.outputs[1]
    assert "forty-two" not in snap["text/html"]
    console.run()
    console.wait(30)
    assert "forty-two" in snap["text/html"]  # not "Ready" after a run


@pytest.mark.slow
def test_executed_notebook_shows_state_after_later_cells(tmp_path: Path) -> None:
    """nbclient (nbconvert --execute, nbmake, make notebooks) applies the display updates
    sent by later cells: the saved snapshot is the final state, not the display-time one."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(src)
        for src in (
            f"import fusionkit as fk\nstore = fk.VoteStore({str(tmp_path / 'v.db')!r})",
            'panel = fk.VotePanel(store, ["Tool A"], voter="ana")\npanel',
            'panel.vote("Tool A", "ship")',
            'store.vote("Tool A", "skip", voter="bo")  # no refresh: the cell hook catches it',
            "store.close()",
        )
    ]
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[1].outputs
    assert WIDGET_VIEW_MIME in outputs[0]["data"]
    html = outputs[1]["data"]["text/html"]
    assert "data-fk-snapshot" in html
    assert "<td>1</td><td>1</td>" in html  # 1 ship (ana) and 1 skip (bo): the final state
