"""Notebook hygiene checks: each check fires on a notebook built to trip it, and stays quiet
on a clean one; the committed notebooks must pass them all."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
from nbformat.v4 import (  # noqa: E402
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
)

from fusionkit.notebook_checks import (  # noqa: E402
    INVALID,
    NO_OUTPUTS,
    NOT_EXECUTED,
    SECRET,
    TRACEBACK,
    WIDGET_STATE,
    WIDGET_STATE_MIMETYPE,
    Problem,
    check_notebook,
    check_notebooks,
    find_secrets,
    fix,
    main,
)

REPO = Path(__file__).resolve().parent.parent
# Captured at import, before the autouse fixture clears them, so the committed-notebook
# check also looks for the real keys of whoever runs the suite.
REAL_SECRETS = [
    v for n in ("OPENROUTER_API_KEY", "OPENAI_API_KEY") if (v := os.environ.get(n, "").strip())
]
FAKE_OR_KEY = "sk-or-v1-" + "0123456789abcdef" * 4  # 64 hex chars
FAKE_OPENAI_KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2


def _executed(source: str, *outputs: dict, count: int = 1) -> dict:
    return new_code_cell(source, execution_count=count, outputs=list(outputs))


def _result(text: str, count: int = 1, html: str | None = None) -> dict:
    data = {"text/plain": text}
    if html is not None:
        data["text/html"] = html
    return new_output("execute_result", data=data, execution_count=count)


def _good() -> dict:
    return new_notebook(
        cells=[
            new_markdown_cell("# Demo\nUses `os.environ['OPENROUTER_API_KEY']`."),
            _executed("import fusionkit as fk\nkey = os.environ.get('OPENAI_API_KEY')", count=1),
            _executed(
                "df",
                _result("   a\n0  1", count=2, html="<table><tr><td>1</td></tr></table>"),
                count=2,
            ),
            _executed(
                "print('hi')",
                new_output("stream", name="stdout", text="hi\n"),
                new_output("stream", name="stderr", text="UserWarning: something mild\n"),
                count=3,
            ),
            new_code_cell(""),  # an empty cell is never executed by nbclient: not a problem
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def _write(tmp_path: Path, name: str, nb: dict) -> Path:
    path = tmp_path / name
    nbformat.write(nbformat.from_dict(nb), str(path))
    return path


def _kinds(problems: list[Problem]) -> list[str]:
    return [p.kind for p in problems]


def test_clean_notebook_has_no_problems(tmp_path: Path) -> None:
    path = _write(tmp_path, "good.ipynb", _good())
    assert check_notebook(path, require_outputs=True) == []


def test_error_output_is_a_traceback(tmp_path: Path) -> None:
    nb = _good()
    nb["cells"].append(
        _executed(
            "1/0",
            new_output(
                "error",
                ename="ZeroDivisionError",
                evalue="division by zero",
                traceback=["Traceback (most recent call last)", "ZeroDivisionError"],
            ),
            count=4,
        )
    )
    problems = check_notebook(_write(tmp_path, "err.ipynb", nb))
    assert _kinds(problems) == [TRACEBACK]
    assert problems[0].cell == 5
    assert "ZeroDivisionError: division by zero" in problems[0].message


def test_stderr_traceback_is_a_traceback() -> None:
    nb = _good()
    nb["cells"][3]["outputs"].append(
        new_output("stream", name="stderr", text='Traceback (most recent call last):\n  File "x"\n')
    )
    problems = check_notebook(nb)
    assert _kinds(problems) == [TRACEBACK]
    assert problems[0].cell == 3 and problems[0].notebook == "<notebook>"


def test_fake_openrouter_key_in_output_is_found_and_not_repeated(tmp_path: Path) -> None:
    nb = _good()
    nb["cells"][2]["outputs"].append(
        new_output("stream", name="stdout", text=f"using key {FAKE_OR_KEY}\n")
    )
    problems = check_notebook(_write(tmp_path, "key.ipynb", nb))
    assert _kinds(problems) == [SECRET]
    assert problems[0].cell == 2
    assert "OpenRouter" in problems[0].message
    assert FAKE_OR_KEY not in str(problems[0]) and FAKE_OR_KEY[9:] not in str(problems[0])


def test_keys_in_source_html_and_widget_state_are_found() -> None:
    nb = _good()
    nb["cells"][1]["source"] = f'client = Client(api_key="{FAKE_OPENAI_KEY}")'
    nb["cells"][2]["outputs"][0]["data"]["text/html"] = (
        "<pre>Authorization: Bearer abcdefghij0123456789XYZ</pre>"
    )
    nb["metadata"]["widgets"] = {
        WIDGET_STATE_MIMETYPE: {
            "state": {"m1": {"model_name": "TextModel", "state": {"value": FAKE_OR_KEY}}},
            "version_major": 2,
            "version_minor": 0,
        }
    }
    problems = check_notebook(nb)
    # notebook-level problems come first, then cells in order
    assert [(p.cell, p.kind) for p in problems] == [(None, SECRET), (1, SECRET), (2, SECRET)]
    messages = " | ".join(map(str, problems))
    assert "Bearer token" in messages and "sk-..." in messages and "metadata" in messages


@pytest.mark.parametrize(
    "text",
    [
        "pip install sk-learn",
        "see sk-some-very-long-identifier-name",  # long, but no digit: a word, not a key
        'headers = {"Authorization": f"Bearer {key}"}',
        "Bearer <your-key-here>",
        "sk-short1",
        "ask-0123456789abcdefghijkl",  # not at a word start
    ],
)
def test_secret_patterns_leave_ordinary_text_alone(text: str) -> None:
    assert find_secrets(text) == []


def test_environment_key_value_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "custom-local-token-value")
    nb = _good()
    nb["cells"][3]["outputs"][0]["text"] = "token=custom-local-token-value\n"
    problems = check_notebook(nb)
    assert _kinds(problems) == [SECRET]
    assert "environment variable" in problems[0].message
    assert "custom-local-token-value" not in problems[0].message


def test_short_environment_values_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "x")
    assert check_notebook(_good()) == []


def test_unexecuted_code_cell_is_reported() -> None:
    nb = _good()
    nb["cells"].insert(2, new_code_cell("x = 1"))
    problems = check_notebook(nb)
    assert [(p.cell, p.kind) for p in problems] == [(2, NOT_EXECUTED)]


def test_require_outputs_flags_a_notebook_saved_without_running() -> None:
    nb = new_notebook(cells=[_executed("x = 1"), new_markdown_cell("text")])
    assert check_notebook(nb) == []
    problems = check_notebook(nb, require_outputs=True)
    assert _kinds(problems) == [NO_OUTPUTS]
    assert problems[0].cell is None and "execute the notebook" in problems[0].message


def test_widgets_metadata_without_state_is_reported(tmp_path: Path) -> None:
    nb = _good()
    nb["metadata"]["widgets"] = {
        WIDGET_STATE_MIMETYPE: {"version_major": 2, "version_minor": 0, "abc": {"model_name": "X"}}
    }
    problems = check_notebook(_write(tmp_path, "w.ipynb", nb))
    assert _kinds(problems) == [WIDGET_STATE]
    assert "'state'" in problems[0].message and "--fix" in problems[0].message


@pytest.mark.parametrize(
    "widgets",
    [
        "not a mapping",
        {"something-else": {}},
        {WIDGET_STATE_MIMETYPE: {"state": ["a list"]}},
    ],
)
def test_other_broken_widget_shapes_are_reported(widgets: object) -> None:
    nb = _good()
    nb["metadata"]["widgets"] = widgets
    assert _kinds(check_notebook(nb)) == [WIDGET_STATE]


def test_nbconvert_really_fails_on_missing_state_and_fix_repairs_it(tmp_path: Path) -> None:
    exporters = pytest.importorskip("nbconvert")
    nb = _good()
    model = {"model_name": "IntSliderModel", "model_module": "@jupyter-widgets/controls"}
    nb["metadata"]["widgets"] = {
        WIDGET_STATE_MIMETYPE: {"version_major": 2, "version_minor": 0, "m1": model}
    }
    path = _write(tmp_path, "w.ipynb", nb)
    # the same failure GitHub shows: nbconvert cannot export the notebook at all
    with pytest.raises(KeyError, match="state"):
        exporters.HTMLExporter().from_filename(str(path))

    changes = fix(path)
    assert changes and "wrapped 1 widget model" in changes[0]
    assert check_notebook(path) == []
    fixed = json.loads(path.read_text(encoding="utf-8"))["metadata"]["widgets"]
    assert fixed == {
        WIDGET_STATE_MIMETYPE: {"state": {"m1": model}, "version_major": 2, "version_minor": 0}
    }
    html, _ = exporters.HTMLExporter().from_filename(str(path))
    assert "<table>" in html


def test_fix_strips_metadata_with_nothing_to_keep(tmp_path: Path) -> None:
    nb = _good()
    nb["metadata"]["widgets"] = {WIDGET_STATE_MIMETYPE: {"version_major": 2}}
    path = _write(tmp_path, "w.ipynb", nb)
    assert fix(path) == ["removed metadata.widgets (it held no usable widget state)"]
    assert "widgets" not in json.loads(path.read_text(encoding="utf-8"))["metadata"]
    assert check_notebook(path) == []


def test_fix_wraps_models_put_directly_under_widgets(tmp_path: Path) -> None:
    nb = _good()
    nb["metadata"]["widgets"] = {"m1": {"model_name": "A"}, "m2": {"model_name": "B"}}
    path = _write(tmp_path, "w.ipynb", nb)
    assert fix(path) == ["wrapped 2 widget model(s) under metadata.widgets state"]
    assert check_notebook(path) == []


def test_fix_leaves_a_good_notebook_byte_for_byte(tmp_path: Path) -> None:
    nb = _good()
    nb["metadata"]["widgets"] = {WIDGET_STATE_MIMETYPE: {"state": {}, "version_major": 2}}
    path = _write(tmp_path, "g.ipynb", nb)
    before = path.read_bytes()
    assert fix(path) == []
    assert path.read_bytes() == before


def test_invalid_files_are_reported(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.ipynb"
    garbage.write_text("{not json", encoding="utf-8")
    bad_schema = tmp_path / "schema.ipynb"
    nb = json.loads(json.dumps(_good()))
    nb["cells"][2]["outputs"][0]["output_type"] = "bogus"
    bad_schema.write_text(json.dumps(nb), encoding="utf-8")
    problems = check_notebooks([garbage, bad_schema, tmp_path / "missing.ipynb"])
    assert [(Path(p.notebook).name, p.kind) for p in problems] == [
        ("garbage.ipynb", INVALID),
        ("schema.ipynb", INVALID),
        ("missing.ipynb", INVALID),
    ]


def test_problem_is_frozen_and_prints_location() -> None:
    problem = Problem("a.ipynb", 3, TRACEBACK, "boom")
    assert str(problem) == "a.ipynb [cell 3]: traceback: boom"
    assert str(Problem("a.ipynb", None, NO_OUTPUTS, "x")) == "a.ipynb: no-outputs: x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.kind = "x"  # type: ignore[misc]


def test_cli_exit_codes_and_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, "good.ipynb", _good())
    broken = _good()
    broken["metadata"]["widgets"] = {WIDGET_STATE_MIMETYPE: {"m1": {"model_name": "X"}}}
    bad = _write(tmp_path, "bad.ipynb", broken)
    assert main([str(good)]) == 0
    assert main([str(good), str(bad)]) == 1
    assert "bad.ipynb: widget-state:" in capsys.readouterr().out
    assert main(["--fix", str(bad)]) == 0
    assert "fixed: wrapped 1 widget model" in capsys.readouterr().out


def test_module_runs_as_a_script(tmp_path: Path) -> None:
    nb = _good()
    nb["cells"][2]["outputs"].append(new_output("stream", name="stdout", text=FAKE_OR_KEY))
    path = _write(tmp_path, "leak.ipynb", nb)
    proc = subprocess.run(
        [sys.executable, "-m", "fusionkit.notebook_checks", "--require-outputs", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "leak.ipynb [cell 2]: secret:" in proc.stdout
    assert FAKE_OR_KEY not in proc.stdout + proc.stderr


def test_committed_notebooks_are_clean() -> None:
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    if not notebooks:
        pytest.skip("no notebooks/*.ipynb committed yet; this check covers them once they land")
    problems = check_notebooks(notebooks, require_outputs=True, secrets=REAL_SECRETS)
    assert not problems, "notebook hygiene problems:\n" + "\n".join(map(str, problems))
