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


def test_every_preset_is_a_spec_form_and_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    from fusionkit.models import specs
    from fusionkit.models.openai import PRESETS

    for prefix, preset in PRESETS.items():
        assert any(form.startswith(preset.form) for form in specs.SPEC_FORMS), prefix
        assert f"``{prefix}:" in (specs.__doc__ or "")  # the docs table
    with pytest.raises(fk.ConfigurationError) as info:
        model("nosuch:x")
    assert "'vllm:org/model'" in str(info.value) and "'llamacpp:model'" in str(info.value)
    v = model("vllm:org/m")
    assert v.base_url == "http://localhost:8000/v1" and v.provider == "vllm"
    assert model("llamacpp:m").base_url == "http://localhost:8080/v1"
    monkeypatch.setenv("VLLM_BASE_URL", "gpu-box:9000")
    monkeypatch.setenv("VLLM_API_KEY", "sk-vllm-000000")
    v = model("vllm:org/m")
    assert v.base_url == "http://gpu-box:9000/v1" and v._api_key is not None
    assert model("vllm:org/m", base_url="http://other:1/v1").base_url == "http://other:1/v1"


def test_bad_url_spec_is_rejected_at_construction() -> None:
    with pytest.raises(fk.InvalidRequestError, match="base_url"):
        model("http://[::1/v1#m")
