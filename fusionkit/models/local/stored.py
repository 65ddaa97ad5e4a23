"""Warm start: keep a model's 4-bit (NF4) weights on disk so later loads skip quantizing.

Quantizing a model to NF4 at load time reads the full-precision weights and packs every
linear layer, each time a process starts (7-30 s for the 135M embedded model on a busy
CPU). bitsandbytes models serialise with ``save_pretrained``, so the first 4-bit load
stores its packed weights once and every later load reads those directly.

The stored folder is keyed on everything that could make it stale: the source folder's
weight and config files (name, size, modification time), the compute dtype, and the
versions of torch, transformers and bitsandbytes (the packed layout is theirs). A change
to any gives a new folder; nothing is ever loaded from a folder written for other inputs.
It is written atomically under a lock (:func:`~fusionkit.models.local.files.write_folder_once`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any

from .files import write_folder_once

__all__ = ["is_stored", "store_quantized", "stored_folder"]

_SOURCE_FILES = ("*.safetensors", "*.bin", "config.json", "generation_config.json")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def stored_folder(store: Path, source: Path, *, quantization: str, dtype: str) -> Path:
    """Where the quantized weights of ``source`` live in ``store`` (they may not exist yet).

    Args:
        store: The folder that holds stored models.
        source: The full-precision model folder.
        quantization: ``"4bit"``.
        dtype: The compute dtype's name (``"float32"``, ``"bfloat16"``, ...).

    Returns:
        ``store / "<source name>-<quantization>-<key>"``.
    """
    files = sorted(p for pattern in _SOURCE_FILES for p in source.glob(pattern) if p.is_file())
    identity = {
        "source": str(source.resolve()),
        "files": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files],
        "quantization": quantization,
        "dtype": dtype,
        "versions": {p: _version(p) for p in ("torch", "transformers", "bitsandbytes")},
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return store / f"{source.name}-{quantization}-{key}"


def is_stored(folder: Path) -> bool:
    """True when ``folder`` holds a complete stored model."""
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def store_quantized(model: Any, folder: Path) -> Path:
    """Save a loaded quantized model's weights into ``folder``, once and atomically.

    Args:
        model: A transformers model loaded with a bitsandbytes quantization config.
        folder: From :func:`stored_folder`.

    Returns:
        ``folder``.
    """
    import transformers

    from .loading import quiet_progress_bars

    def write(tmp: Path) -> None:
        with quiet_progress_bars(transformers):
            model.save_pretrained(tmp)

    return write_folder_once(folder, write, is_stored)
