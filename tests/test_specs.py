"""fk.model(spec): every accepted form, and a clear error for the rest."""

from __future__ import annotations

import pytest

import fusionkit as fk
from fusionkit.models.specs import model


@pytest.mark.parametrize(
    "spec",
    ["", "   ", "gpt-4", "nope:thing", "openrouter:", "http://localhost:8000/v1", "local:x?foo=1"],
)
def test_unknown_spec_lists_accepted_forms(spec: str) -> None:
    with pytest.raises(fk.ConfigurationError) as info:
        model(spec)
    text = str(info.value)
    assert "Accepted forms" in text and "openrouter:vendor/model" in text and "'edge'" in text


def test_fake_spec_and_instances_pass_through() -> None:
    m = model("fake:echo")
    assert isinstance(m, fk.FakeModel) and m.name == "echo"
    assert m.complete("hello there").text == "hello there"
    assert model(m) is m


def test_local_spec_rejects_bad_quantization() -> None:
    with pytest.raises(fk.ConfigurationError, match="quantization must be"):
        model("local:/tmp/x?quantization=2bit")


def test_remote_spec_without_key_names_the_variable() -> None:
    with pytest.raises(fk.ConfigurationError, match="OPENROUTER_API_KEY"):
        model("openrouter:anthropic/claude-3.7-sonnet")
    with pytest.raises(fk.ConfigurationError, match="OPENAI_API_KEY"):
        model("openai:gpt-4o-mini")


def test_url_and_ollama_specs_build_http_models() -> None:
    m = model("http://127.0.0.1:9/v1#my-model")
    assert m.name.endswith("my-model")
    o = model("ollama:llama3.2")
    assert "llama3.2" in o.name
