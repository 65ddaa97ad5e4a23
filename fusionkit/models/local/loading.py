"""How :class:`~fusionkit.models.local.LocalModel` loads a model: everything before a prompt.

Importing torch/transformers/bitsandbytes (a missing one raises
:class:`~fusionkit.errors.MissingDependencyError` naming :data:`INSTALL_LOCAL`), resolving
the device and dtype, probing that the quantization really runs here (else
:class:`~fusionkit.errors.UnsupportedHardwareError`), the ``BitsAndBytesConfig`` and
``from_pretrained`` call (or a load of stored 4-bit weights), silencing transformers'
progress bars, and the end-of-sequence/padding ids.

Every function takes what it needs as arguments (no model state), and nothing heavy is
imported at import time: torch and friends are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import Iterator
from typing import Any

from ...errors import ConfigurationError, MissingDependencyError, UnsupportedHardwareError

__all__ = [
    "DTYPES",
    "INSTALL_LOCAL",
    "import_bitsandbytes",
    "import_torch_transformers",
    "keep_odd_shapes_off_the_packed_cpu_path",
    "load_pretrained",
    "probe_quantization",
    "quiet_progress_bars",
    "resolve_device",
    "resolve_dtype",
    "special_ids",
]

#: The command that installs what a local model needs.
INSTALL_LOCAL = "pip install 'fusionkit[local]'"

DTYPES = ("auto", "float32", "bfloat16", "float16")

# -- imports, device, dtype, hardware probe ----------------------------------------------------


def import_torch_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(
            f"LocalModel needs torch and transformers, and {exc.name or 'one of them'} is not "
            f"installed. Install the local extra: {INSTALL_LOCAL}"
        ) from exc
    return torch, transformers


class _DropHubKernelNotice(logging.Filter):
    """Drops bitsandbytes' import-time advice to ``pip install kernels``.

    That package would fetch a CPU kernel from the Hugging Face Hub at run time; fusionkit
    runs offline and bitsandbytes' built-in CPU kernels serve the same layers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "kernels-community" not in record.getMessage()


def import_bitsandbytes(quantization: str) -> Any:
    notice = logging.getLogger("bitsandbytes.backends.cpu.ops")
    if not any(isinstance(f, _DropHubKernelNotice) for f in notice.filters):
        notice.addFilter(_DropHubKernelNotice())
    try:
        import bitsandbytes
    except ImportError as exc:
        raise MissingDependencyError(
            f"quantization={quantization!r} needs bitsandbytes, which is not installed. "
            f"Install the local extra: {INSTALL_LOCAL} (or load unquantized with "
            "quantization=None)."
        ) from exc
    except Exception as exc:  # a broken native library fails with OSError/RuntimeError
        raise UnsupportedHardwareError(
            f"bitsandbytes is installed but cannot be loaded on this machine "
            f"({type(exc).__name__}: {exc}). Load the model unquantized with "
            "quantization=None."
        ) from exc
    return bitsandbytes


def resolve_device(torch: Any, device: str) -> str:
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as exc:
        raise ConfigurationError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda', 'cuda:1' "
            "or 'mps'."
        ) from exc
    if kind == "cuda" and not torch.cuda.is_available():
        raise UnsupportedHardwareError(
            f"device={device!r} was asked for but torch sees no CUDA GPU here; use "
            "device='cpu' or device='auto'."
        )
    return device


def resolve_dtype(torch: Any, dtype: str | None, device: str) -> Any:
    name = dtype or "auto"
    if name not in DTYPES:
        raise ConfigurationError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}.")
    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        # fp32 on the CPU: bf16 matmuls are slower than fp32 on most CPUs.
        return torch.float32
    return getattr(torch, name)


def probe_quantization(torch: Any, bnb: Any, quantization: str, device: str, dtype: Any) -> None:
    """Run a tiny quantized matmul on ``device``; raise UnsupportedHardwareError if it can't.

    bitsandbytes decides per device and per build whether it has kernels; asking it to do
    the real thing is the only honest test.
    """
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(32, 64, generator=gen).to(device=device, dtype=dtype)
    x = torch.randn(3, 64, generator=gen).to(device=device, dtype=dtype)
    try:
        if quantization == "4bit":
            packed, state = bnb.functional.quantize_4bit(
                w, quant_type="nf4", compress_statistics=True
            )
            y = bnb.matmul_4bit(x, packed.t(), quant_state=state)
            ref = x @ bnb.functional.dequantize_4bit(packed, state).t()
        else:
            layer = bnb.nn.Linear8bitLt(64, 32, bias=False, has_fp16_weights=False)
            layer.weight = bnb.nn.Int8Params(w.detach().cpu(), requires_grad=False)
            layer = layer.to(device)
            y = layer(x)
            ref = x @ w.t()
        ok = bool(torch.isfinite(y).all()) and float((y - ref).abs().max()) <= 0.1 * float(
            ref.abs().max()
        )
        why = "it returned wrong numbers"
    except Exception as exc:  # bitsandbytes raises many kinds: NotImplementedError, RuntimeError
        ok, why = False, f"{type(exc).__name__}: {exc}"
    if not ok:
        raise UnsupportedHardwareError(
            f"bitsandbytes cannot run {quantization} quantization on device {device!r} here "
            f"(a tiny test matmul failed: {why}). Load the model unquantized with "
            "quantization=None, or use a machine bitsandbytes supports (an NVIDIA GPU, or a "
            "CPU with a bitsandbytes build that has CPU kernels)."
        )


# -- loading --------------------------------------------------------------------------------------


def keep_odd_shapes_off_the_packed_cpu_path(model: Any) -> int:
    """Let 4-bit layers of odd shape run on CPUs with AVX512-BF16.

    On such CPUs bitsandbytes repacks each 4-bit weight on its first forward into a layout
    that needs ``out_features % 32 == 0`` and an even ``in_features``, and fails with
    "N must be divisible by block_n" otherwise. Those layers keep the generic 4-bit
    kernel instead; the others keep the fast path. Returns how many layers were changed.
    """
    changed = 0
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False) and (
            module.out_features % 32 or module.in_features % 2
        ):
            module.support_avx512bf16_for_cpu = False
            changed += 1
    return changed


@contextlib.contextmanager
def quiet_progress_bars(transformers: Any) -> Iterator[None]:
    """Silence transformers' own progress bars ("Loading weights", GGUF de-quantizing).

    They print one line per weight group and flood notebooks and shared outputs; fusionkit
    shows one line of its own (:func:`~fusionkit.models.local.progress.load_line`). The
    GGUF reader calls ``tqdm`` directly rather than transformers' switchable one, so its
    module's ``tqdm`` is swapped for a disabled one for the duration.
    """
    import functools
    import sys

    tf_logging = transformers.utils.logging
    were_on = tf_logging.is_progress_bar_enabled()
    tf_logging.disable_progress_bar()
    gguf = sys.modules.get("transformers.modeling_gguf_pytorch_utils")
    if gguf is None and importlib.util.find_spec("gguf") is not None:
        import transformers.modeling_gguf_pytorch_utils as gguf
    bar = getattr(gguf, "tqdm", None)
    if bar is not None:
        gguf.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        if bar is not None:
            gguf.tqdm = bar
        if were_on:
            tf_logging.enable_progress_bar()


def load_pretrained(
    transformers: Any,
    path: str,
    *,
    quantization: str | None,
    device: str,
    dtype: Any,
    trust_remote_code: bool,
    local_files_only: bool,
    weights_from: str | None = None,
) -> tuple[Any, Any]:
    """Load the tokenizer and the model from ``path``, quantized as asked, in eval mode.

    Args:
        transformers: The imported ``transformers`` module.
        path: A local folder with a saved model, or a Hugging Face repo id.
        quantization: ``"4bit"``, ``"8bit"`` or None (unquantized).
        device: A resolved torch device string (see :func:`resolve_device`).
        dtype: A torch dtype: the weights' dtype, or the compute dtype when quantized.
        trust_remote_code: Allow the repository's own model code.
        local_files_only: Never download.
        weights_from: A folder of already-quantized weights of the same model (see
            :mod:`~fusionkit.models.local.stored`): the model loads from there without
            quantizing; the tokenizer still comes from ``path``.

    Returns:
        ``(tokenizer, model)``.

    Raises:
        ConfigurationError: The model cannot be found or loaded.
        MissingDependencyError: Loading needs a package that is not installed.
        UnsupportedHardwareError: bitsandbytes could not load the quantized model here.
    """
    opts = {"trust_remote_code": trust_remote_code, "local_files_only": local_files_only}
    kwargs: dict[str, Any] = {"dtype": dtype}
    if weights_from is not None:
        pass  # the stored config.json carries its quantization_config
    elif quantization == "4bit":
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
    elif quantization == "8bit":
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(load_in_8bit=True)
    if quantization:
        kwargs["device_map"] = {"": device}
    try:
        with quiet_progress_bars(transformers):
            tokenizer = transformers.AutoTokenizer.from_pretrained(path, **opts)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                weights_from or path, **opts, **kwargs
            )
    except OSError as exc:
        hint = (
            "pass local_files_only=False to download it from the Hugging Face Hub"
            if local_files_only
            else "check the name and your network"
        )
        raise ConfigurationError(
            f"cannot load a model from {path!r}: not a folder with a saved model, "
            f"and not in the local Hugging Face cache ({exc}). Check the path, or {hint}."
        ) from exc
    except ImportError as exc:
        raise MissingDependencyError(
            f"loading {path!r} needs a package that is missing ({exc}). "
            f"Install the local extra: {INSTALL_LOCAL}"
        ) from exc
    except (RuntimeError, ValueError, NotImplementedError) as exc:
        if quantization and "bitsandbytes" in str(exc).lower():
            raise UnsupportedHardwareError(
                f"bitsandbytes could not load {path!r} in {quantization} on "
                f"{device!r} ({exc}). Load it unquantized with quantization=None."
            ) from exc
        raise ConfigurationError(f"cannot load {path!r}: {exc}") from exc
    if not quantization:
        model = model.to(device)
    elif quantization == "4bit" and device == "cpu":
        keep_odd_shapes_off_the_packed_cpu_path(model)
    model.eval()
    return tokenizer, model


def special_ids(tokenizer: Any, model: Any) -> tuple[int, frozenset[int]]:
    """The padding id and the end-of-sequence ids of a loaded tokenizer and model."""
    tok, config = tokenizer, model.generation_config
    eos = config.eos_token_id if config.eos_token_id is not None else tok.eos_token_id
    eos_ids = frozenset([eos] if isinstance(eos, int) else (eos or []))
    pad = tok.pad_token_id
    if pad is None:
        # Padding is masked out, so any id works; the end-of-sequence id is customary.
        pad = next(iter(sorted(eos_ids)), None)
        pad = pad if pad is not None else (tok.unk_token_id or 0)
    return int(pad), eos_ids
