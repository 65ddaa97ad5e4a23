"""The example scripts run as a user runs them (subprocesses), so they don't rot.

The cheap tests drive them with ``fake:`` model specs (FakeModel echoes the prompt) or
against a real local OpenAI-compatible server (FakeOpenAIServer); the slow ones load the
real embedded edge model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fusionkit.testing.server import FakeOpenAIServer
from fusionkit.votes.store import VoteStore

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script: str, *args: str, timeout: float = 120, env: dict[str, str] | None = None):
    """Run ``examples/<script>`` with this interpreter; return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_every_example_has_a_docstring_and_a_main() -> None:
    scripts = sorted(EXAMPLES.glob("*.py"))
    assert {p.name for p in scripts} >= {
        "edge_chat.py",
        "fuse.py",
        "ship_or_skip.py",
        "remote_pool.py",
        "edge_vs_fusion.py",
    }
    for path in scripts:
        text = path.read_text()
        assert text.startswith('"""'), f"{path.name} has no module docstring"
        assert 'if __name__ == "__main__":' in text, f"{path.name} has no main guard"


def test_fuse_vote_over_fake_pool() -> None:
    proc = run("fuse.py", "What is 2 + 3?", "--pool", "fake:a,fake:b,fake:c", "--mode", "vote")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "method: vote" in out
    # each fake member echoes the prompt, so all three extract the same number
    assert "votes: {'3': 3}" in out
    assert out.rstrip().endswith("What is 2 + 3?")
    for name in ("a", "b", "c"):
        assert f" {name} " in out  # one row per member


def test_fuse_best_of_json_reports_the_judge_fallback() -> None:
    proc = run(
        "fuse.py", "hello", "--pool", "fake:a,fake:b", "--judge", "fake:a", "--mode", "best-of",
        "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    # an echoing judge never writes the verdict JSON: re-asked, then the fallback decides
    assert data["method"] == "fallback" and data["fallback"] is True
    assert data["n_ok"] == 2 and data["n_failed"] == 0
    assert data["answer"] == "hello"


def test_fuse_bad_spec_exits_2_with_the_accepted_forms() -> None:
    proc = run("fuse.py", "hi", "--pool", "nosuch:model", "--mode", "vote")
    assert proc.returncode == 2
    assert "unknown model spec" in proc.stderr and "openrouter:vendor/model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_remote_pool_without_key_or_server_says_what_to_configure() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENROUTER_API_KEY"}
    proc = run("remote_pool.py", "hi", env=env)
    assert proc.returncode == 2
    assert "OPENROUTER_API_KEY" in proc.stderr
    assert "--base-url" in proc.stderr and "--ollama" in proc.stderr
    assert proc.stdout == ""


def test_remote_pool_over_a_real_local_server_shows_the_missing_model_as_a_row() -> None:
    with FakeOpenAIServer(unknown_models="404") as srv:
        srv.configure("m1", reply="The answer is 5.", usage_cost=0.0001)
        srv.configure("m2", reply="5", usage_cost=0.0002)
        proc = run(
            "remote_pool.py", "What is 2 + 3?", "--base-url", srv.base_url,
            "--models", "m1,m2,missing", "--mode", "vote", "--retries", "0",
        )  # fmt: skip
        requested = sorted({body["model"] for body in srv.requests})
    assert proc.returncode == 0, proc.stderr
    assert requested == ["m1", "m2", "missing"]
    out = proc.stdout
    assert "pool: m1, m2, missing" in out
    assert "ModelNotFoundError" in out  # the failed member is a row, with its typed error
    assert "cost $0.000300" in out  # usage.cost of the two members that answered
    assert out.rstrip().splitlines()[-1] in {"The answer is 5.", "5"}  # a member's text


def test_remote_pool_when_every_member_fails_names_each_cause() -> None:
    proc = run(
        "remote_pool.py", "hi", "--base-url", "http://127.0.0.1:9/v1", "--models", "x,y",
        "--retries", "0", "--mode", "vote",
    )  # fmt: skip
    assert proc.returncode == 2
    assert "FusionError" in proc.stderr and "every pool member failed" in proc.stderr
    assert proc.stderr.count("ModelConnectionError") >= 2


def test_ship_or_skip_writes_the_decision_page(tmp_path: Path) -> None:
    out, votes = tmp_path / "page.html", tmp_path / "votes.db"
    proc = run(
        "ship_or_skip.py", "--panel", "fake:panel", "--votes", str(votes),
        "--vote", "ship:ana", "--vote", "skip:ben", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert "Mistral 9B Edge" in html and "OpenRouter Model Fusion" in html
    # an echoing panel model gives no usable view: shown honestly, never a made-up score
    assert "No panel take" in html
    assert "1 ship / 1 skip" in html
    assert f"written to {out}" in proc.stdout
    with VoteStore(votes) as store:
        assert store.tally("Mistral 9B Edge") == {"ship": 1, "skip": 1}


def test_ship_or_skip_vote_without_a_store_is_a_usage_error(tmp_path: Path) -> None:
    proc = run("ship_or_skip.py", "--panel", "fake:p", "--vote", "ship:ana")
    assert proc.returncode == 2
    assert "--vote needs --votes" in proc.stderr


def test_edge_chat_with_a_fake_model_chats_and_streams() -> None:
    proc = run("edge_chat.py", "hello there", "--model", "fake:echo")
    assert proc.returncode == 0, proc.stderr
    assert "echo: hello there" in proc.stdout
    assert "echo: Say that again in five words." in proc.stdout
    assert "[streamed: first token after" in proc.stdout


def test_edge_vs_fusion_with_a_fake_model_prints_summary_and_ratings() -> None:
    proc = run("edge_vs_fusion.py", "--model", "fake:echo", "--tasks", "2")
    assert proc.returncode == 0, proc.stderr
    for label in ("alone", "vote ×3", "best-of ×2", "debate ×2"):
        assert label in proc.stdout
    assert "rating" in proc.stdout and "battles" in proc.stdout


@pytest.fixture
def edge_env(edge_home: Path) -> dict[str, str]:
    """The environment with the session-wide home where the edge model is converted once."""
    return {**os.environ, "FUSIONKIT_HOME": str(edge_home), "FUSIONKIT_CACHE": "0"}


@pytest.mark.slow
def test_edge_chat_on_the_real_edge_model(edge_env: dict[str, str]) -> None:
    proc = run("edge_chat.py", "What is the capital of France?", "--max-tokens", "8",
               timeout=600, env=edge_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "loaded smollm2-135m-instruct-nf4" in proc.stdout
    assert "memory footprint:" in proc.stdout
    assert "[streamed: first token after" in proc.stdout
    assert "Loading weights" not in proc.stderr  # no progress-bar spam


@pytest.mark.slow
def test_fuse_vote_on_the_real_edge_model(edge_env: dict[str, str]) -> None:
    proc = run(
        "fuse.py", "What is 2 + 3? Answer with just the number.", "--pool", "edge,edge,edge",
        "--mode", "vote", "--max-tokens", "8", "--seed", "0", "--json",
        timeout=600, env=edge_env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["method"] == "vote" and data["n_ok"] == 3
    assert data["cost_usd"] == 0.0  # a local model costs nothing, and that is known
