"""Shared pytest set-up: every test gets its own FUSIONKIT_HOME (cache, converted model).

The converted embedded model is expensive to build, so slow tests share one session-wide
home for it (``edge_home``) while the response cache stays per-test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "fusionkit-home"
    monkeypatch.setenv("FUSIONKIT_HOME", str(home))
    for var in ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "FUSIONKIT_EDGE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    yield home


@pytest.fixture(scope="session")
def edge_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide folder where the embedded model is converted once.

    Honour FUSIONKIT_TEST_MODEL_HOME so repeated local runs skip the conversion.
    """
    fixed = os.environ.get("FUSIONKIT_TEST_MODEL_HOME")
    if fixed:
        path = Path(fixed)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("edge-home")


class Sleeps:
    """A recording stand-in for asyncio.sleep: retries happen at once, waits are kept."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """The project's real OpenAI-compatible test server on 127.0.0.1, one per module."""
    from fusionkit.testing import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def srv(server: Any) -> Any:
    """The module's test server, reset to a clean script."""
    server.reset()
    return server


@pytest.fixture(scope="module")
def byte_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random model with a byte-level tokenizer, saved once per test module."""
    from local_helpers import build_byte_model

    return build_byte_model(tmp_path_factory.mktemp("byte-model"))


@pytest.fixture(scope="module")
def byte_model(byte_model_path: Path) -> Iterator[Any]:
    """That model loaded (see ``local_helpers.open_byte_model``), closed after the module."""
    from local_helpers import open_byte_model

    model = open_byte_model(byte_model_path)
    yield model
    model.close()
