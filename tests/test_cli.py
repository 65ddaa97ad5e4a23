"""The ``fusionkit`` command as a newcomer meets it: defaults that work, errors before any
model loads, in the command line's words, and model text that cannot drive the terminal."""

from __future__ import annotations

import json

import pytest

from fusionkit import cli
from fusionkit._version import __version__
from fusionkit.models import specs

FAKES = "fake:a,fake:b,fake:c"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No key, no cache, and a spy that fails the test if the edge model is loaded."""
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("FUSIONKIT_CACHE", "0")
    built: list[str] = []
    real = specs.model

    def spy(spec: object, **kwargs: object) -> object:
        built.append(str(spec))
        if spec == "edge":
            raise AssertionError("the edge model was loaded")
        return real(spec, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(specs, "model", spy)
    return built


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        rc = cli.main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors, --help and --version
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def test_the_default_mode_needs_no_judge(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.CLI_DEFAULT_MODE == "vote"
    rc, out, err = run(capsys, "fuse", "What is 12 + 30?", "--pool", FAKES, "--no-progress")
    assert rc == 0, err
    assert "mode: vote" in out and "answer:" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["fuse", "Hi", "--mode", "best-of"], "add --judge SPEC"),
        (["fuse", "Hi", "--mode", "merge", "--pool", "edge"], "--judge"),
        (["fuse", "Hi", "--mode", "nope"], "unknown mode 'nope'"),
        (["fuse", "Hi", "--pool", "edge,edgy"], "unknown model spec 'edgy' in --pool"),
        (["fuse", "Hi", "--pool", " , "], "--pool is empty"),
        (["fuse", "  "], "the prompt is empty"),
        (["fuse", "Hi", "--mode-option", "nonsense"], "--mode-option takes KEY=VALUE"),
        (["fuse", "Hi", "--mode", "cascade", "--mode-option", "combine=most"], "combine"),
        (
            ["fuse", "Hi", "--mode", "cascade", "--mode-option", "escalate_to=best-of"],
            "--mode cascade needs a judge: add --judge SPEC",
        ),
        (["fuse", "Hi", "--max-tokens", "0"], "--max-tokens: must be 1 or more"),
        (["fuse", "Hi", "--temperature", "9"], "--temperature: must be between 0 and 2"),
        (["fuse", "Hi", "--timeout", "-1"], "--timeout: must be more than 0"),
        (["fuse", "Hi", "--rounds", "0"], "--rounds: must be 1 or more"),
        (["demo", "--tasks", "0"], "--tasks: must be 1 or more"),
        (["fuse", "Hi", "--mode", "cascade", "--mode-option", "edge=edgy"], "'edgy'"),
    ],
)
def test_bad_arguments_fail_before_any_model_loads(
    capsys: pytest.CaptureFixture[str], _offline: list[str], argv: list[str], words: str
) -> None:
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert words in err
    assert "judge=" not in err and "mode_options" not in err  # CLI words, not Python's
    assert _offline == []  # nothing was built, the edge model least of all


def test_cascade_options_that_are_mode_names_are_not_read_as_specs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["fuse", "What is 2+2?", "--pool", FAKES, "--mode", "cascade", "--no-progress"]
    rc, out, err = run(capsys, *argv, "--mode-option", "escalate_to=vote")
    assert rc == 0, err
    assert "mode: cascade" in out


def test_a_judge_without_its_key_fails_before_the_edge_model_loads(
    capsys: pytest.CaptureFixture[str], _offline: list[str]
) -> None:
    rc, _, err = run(
        capsys, "fuse", "Hi", "--mode", "best-of", "--pool", "edge", "--judge", "openrouter:a/b"
    )
    assert rc == 2 and "OPENROUTER_API_KEY" in err
    assert _offline == ["openrouter:a/b"]


def test_a_member_without_its_key_is_a_failed_row_with_its_whole_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, out, err = run(
        capsys, "fuse", "What is 2+2?", "--pool", "fake:a,openrouter:openai/gpt-4o-mini"
    )
    assert rc == 0, err
    assert "FAILED" in out
    # the end of the message (where to get a key) is not cut off
    assert "Get a key at https://openrouter.ai/keys." in out


def test_help_shows_defaults_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "fuse", "--help")
    assert rc == 0
    out = " ".join(out.split())  # argparse wraps long help lines
    assert "(default: vote)" in out and "(default: edge,edge,edge)" in out
    assert "examples:" in out and 'fusionkit fuse "What is 12 + 30?" vote over' in out
    assert "(default: None)" not in out
    rc, out, _ = run(capsys, "demo", "--help")
    assert rc == 0 and "(default: 6)" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and out.strip() == f"fusionkit {__version__}"


def test_json_is_strict_json_with_null_for_missing_numbers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, out, err = run(capsys, "fuse", "What is 2+2?", "--pool", FAKES, "--json")
    assert rc == 0, err

    def no_nan(name: str) -> None:
        raise AssertionError(f"{name} in --json output")

    data = json.loads(out, parse_constant=no_nan)
    assert data["mode"] == "vote" and len(data["candidates"]) == 3
    assert all(c["score"] is None for c in data["candidates"])  # vote gives no scores


CONTROLS = "ok \x1b]52;c;SGVsbG8=\x07 \x1b[2J\r\x9b done"


def test_control_characters_from_a_model_are_shown_not_obeyed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # fake models echo the prompt: the "answer" carries OSC 52, a screen clear and a CR
    rc, out, err = run(capsys, "fuse", CONTROLS, "--pool", "fake:a\x1b]0;pwned\x07", "--events")
    assert rc == 0, err
    for raw in ("\x1b", "\x07", "\r", "\x9b"):
        assert raw not in out and raw not in err
    assert "ok ␛]52;c;SGVsbG8=␇ ␛[2J␍\\x9b done" in out
    assert "(a␛]0;pwned␇)" in err  # --events lines too


def test_json_stays_exact(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "fuse", CONTROLS, "--pool", "fake:a", "--json")
    assert rc == 0, err
    assert "\x1b" not in out  # json.dumps escapes it ...
    assert json.loads(out)["answer"] == CONTROLS  # ... and nothing is lost


def test_visible_keeps_newlines_and_tabs() -> None:
    assert cli.visible("a\nb\tc\x00\x7f\u202e") == "a\nb\tc␀␡\\u202e"
