"""Evaluation (edge vs fusion), the demo pipeline and the CLI, on FakeModels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fusionkit as fk
from fusionkit import cli, cli_args
from fusionkit.evaluation import Condition, evaluate
from fusionkit.tasks import grade, make_tasks


def _oracle(tasks: list[fk.Task]) -> fk.FakeModel:
    answers = {t.prompt: t.answer for t in tasks}
    return fk.FakeModel("oracle", lambda r: f"The answer is {answers[r.prompt_text]}")


def test_tasks_are_seeded_and_graded() -> None:
    assert make_tasks(5, seed=3) == make_tasks(5, seed=3)
    assert make_tasks(5, seed=3) != make_tasks(5, seed=4)
    t = make_tasks(2)
    assert grade(t[0], f"It is {t[0].answer}.") == (t[0].answer, True)
    assert grade(t[1], f"{t[1].answer})")[1] is True
    assert grade(t[1], None) == (None, False)
    with pytest.raises(ValueError):
        make_tasks(0)


def test_evaluation_accuracy_battles_and_errors() -> None:
    tasks = make_tasks(4)
    good, bad = _oracle(tasks), fk.FakeModel("bad", "no idea")
    boom = fk.FakeModel("boom", fk.ServerError("down", model="boom"))
    ev = evaluate(
        tasks,
        [
            Condition("good", (good,)),
            Condition("bad", (bad,)),
            Condition("vote", (good, bad, good), mode="vote"),
            Condition("broken", (boom,)),
        ],
        progress=False,
    )
    s = ev.summary().set_index("condition")
    assert s.loc["good", "accuracy"] == 1.0 and s.loc["bad", "accuracy"] == 0.0
    assert s.loc["vote", "correct"] == "4/4"
    assert s.loc["broken", "errors"] == 4 and s.loc["broken", "accuracy"] == 0.0
    battles = ev.battles(baseline="good")
    assert ("good", "bad", "a") in battles and ("good", "vote", "tie") in battles
    assert len(battles) == 4 * 3
    ratings = fk.ratings(ev.battles(), rounds=50)
    top = ratings.sort_values("rating", ascending=False)["model"].iloc[0]
    assert top in ("good", "vote")
    assert isinstance(ev.result(tasks[0].id, "vote"), fk.FusionResult)


def test_evaluation_rejects_bad_input() -> None:
    m = fk.FakeModel("m")
    with pytest.raises(fk.InvalidRequestError, match="no tasks"):
        evaluate([], [Condition("a", (m,))])
    with pytest.raises(fk.InvalidRequestError, match="unique"):
        evaluate(make_tasks(1), [Condition("a", (m,)), Condition("a", (m,))])
    with pytest.raises(fk.InvalidRequestError, match="exactly one"):
        Condition("a", (m, m))


def test_demo_pipeline_writes_a_standalone_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole demo on a scripted model: tables, ratings, decision page, report."""
    from fusionkit import demo
    from fusionkit.models.local import embedded

    class ScriptedEdge(fk.FakeModel):
        memory_footprint_bytes = 166_000_000

    def reply(request: fk.Request) -> str:
        text = request.messages[-1].content
        if '"score"' in text or "verdict" in text:
            return '{"score": 70, "verdict": "ship", "take": "Solid <b>offline</b> pick."}'
        return "The answer is 7"

    edge = ScriptedEdge("scripted-edge", reply)
    monkeypatch.setattr(embedded, "edge_model", lambda **kw: edge)
    cfg = demo.DemoConfig(
        n_tasks=3, out=tmp_path / "r" / "demo.html", votes_path=tmp_path / "r" / "v.db"
    )
    out = demo.run_demo(cfg, echo=False)
    html = out.report_path.read_text(encoding="utf-8")
    assert "which should you ship with?" in html
    assert "edge alone" in html and "vote ×5" in html
    assert "&lt;b&gt;offline&lt;/b&gt;" in html and "<b>offline</b>" not in html
    assert "data:image/png;base64," in html
    assert "http://" not in html.replace('href="http', "")  # nothing fetched from outside
    assert set(out.ratings["model"]) == {"edge alone", "vote ×5", "best-of ×3", "cascade → vote ×5"}


def test_cli_fuse_vote_on_fake_models(capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["fuse", "What is 2 + 2?", "--pool", "fake:a,fake:b", "--mode", "vote"])
    captured = capsys.readouterr()
    assert rc == 0
    assert "answer:" in captured.out and "mode: vote" in captured.out
    assert "votes:" in captured.out and "time:" in captured.out


def test_cli_json_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fuse", "hi", "--pool", "fake:a", "--mode", "vote", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "vote"
    assert cli.main(["fuse", "hi", "--pool", "fake:a", "--mode", "telepathy"]) == 2
    assert "telepathy" in capsys.readouterr().err
    assert cli.main(["fuse", "hi", "--pool", "nope:x"]) == 2
    assert "Accepted forms" in capsys.readouterr().err


def test_cli_fuse_shows_progress_when_watched_and_no_progress_silences(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fusionkit.fusion import engine

    monkeypatch.setattr(engine, "watching", lambda: True)
    argv = ["fuse", "What is 2 + 2?", "--pool", "fake:a,fake:b", "--mode", "vote"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert err.startswith("fuse vote ...") and "[2/2]" in err
    assert cli.main([*argv, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_cli_passes_mode_options_to_the_mode(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["fuse", "hi", "--pool", "fake:a", "--mode", "vote", "--no-progress"]
    assert cli.main([*argv, "--mode-option", "colour=red"]) == 2
    err = capsys.readouterr().err
    assert "mode 'vote' does not take the option(s) colour" in err
    assert cli.main([*argv, "--mode-option", "colour"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert cli_args.mode_options(["t=0.8", "edge=edge", "n=[1, 2]"]) == {
        "t": 0.8,
        "edge": "edge",
        "n": [1, 2],
    }
