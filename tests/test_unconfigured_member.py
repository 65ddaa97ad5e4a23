"""A pool member whose spec cannot be configured is a failed row, not an exception."""

from __future__ import annotations

import pytest

import fusionkit as fk
from fusionkit.fusion.prepare import UnavailableModel, resolve_models


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("FUSIONKIT_CACHE", "0")


def test_member_without_key_is_a_failed_row() -> None:
    r = fk.fuse(
        "What is 2 + 2?",
        pool=["fake:a", "fake:b", "openrouter:openai/gpt-4o-mini"],
        mode="vote",
        progress=False,
    )
    failed = r.failed
    assert len(failed) == 1 and len(r.succeeded) == 2
    assert failed[0].model == "openrouter:openai/gpt-4o-mini"
    assert failed[0].error_type == "ConfigurationError"
    assert "OPENROUTER_API_KEY" in (failed[0].error or "")


def test_every_member_unconfigurable_is_a_fusion_error() -> None:
    with pytest.raises(fk.FusionError, match="OPENROUTER_API_KEY"):
        fk.fuse("Hi", pool=["openrouter:a/b", "nonsense:x"], mode="vote", progress=False)


def test_judge_that_cannot_be_configured_fails_before_any_call() -> None:
    member = fk.FakeModel("m", "4")
    with pytest.raises(fk.ConfigurationError, match="OPENROUTER_API_KEY"):
        fk.fuse("Hi", pool=[member], judge="openrouter:a/b", mode="best-of", progress=False)
    assert member.calls == []


def test_resolve_models_is_strict_unless_asked() -> None:
    with pytest.raises(fk.ConfigurationError):
        resolve_models(["openrouter:a/b"])
    (m,) = resolve_models(["openrouter:a/b"], unavailable=True)
    assert isinstance(m, UnavailableModel) and m.name == "openrouter:a/b"
    with pytest.raises(fk.ConfigurationError, match="OPENROUTER_API_KEY"):
        m.complete("hi")
