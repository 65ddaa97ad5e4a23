"""How :class:`~fusionkit.models.local.LocalModel` loads a model and builds its prompts.

Kept apart from :mod:`fusionkit.models.local` so that module reads as the serving side
(batching, streaming, accounting) and this one as everything that happens before the first
token: importing torch/transformers/bitsandbytes (a missing one raises
:class:`~fusionkit.errors.MissingDependencyError` naming :data:`INSTALL_LOCAL`), resolving
the device and dtype, probing that the quantization really runs here (else
:class:`~fusionkit.errors.UnsupportedHardwareError`), the ``BitsAndBytesConfig`` and
``from_pretrained`` call, the end-of-sequence/padding ids, and turning messages into prompt
ids (chat template, or a plain transcript for tokenizers without one).

Every function takes what it needs as arguments (no model state), and nothing heavy is
imported at import time: torch and friends are imported inside the functions. The names
are re-exported by :mod:`fusionkit.models.local`, which is where callers import them from.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import ConfigurationError, MissingDependencyError, UnsupportedHardwareError
from ..types import Request

__all__ = ["INSTALL_LOCAL"]

#: The command that installs what a local model needs.
INSTALL_LOCAL = "pip install 'fusionkit[local]'"

_DTYPES = ("auto", "float32", "bfloat16", "float16")

# -- imports, device, dtype, hardware probe ----------------------------------------------------


def _import_torch_transformers() -> tuple[Any, Any]:
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


def _import_bitsandbytes(quantization: str) -> Any:
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


def _resolve_device(torch: Any, device: str) -> str:
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


def _resolve_dtype(torch: Any, dtype: str | None, device: str) -> Any:
    name = dtype or "auto"
    if name not in _DTYPES:
        raise ConfigurationError(f"dtype must be one of {', '.join(_DTYPES)}; got {dtype!r}.")
    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        # fp32 on the CPU: bf16 matmuls are slower than fp32 on most CPUs.
        return torch.float32
    return getattr(torch, name)


def _probe_quantization(torch: Any, bnb: Any, quantization: str, device: str, dtype: Any) -> None:
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


def _keep_odd_shapes_off_the_packed_cpu_path(model: Any) -> int:
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

    They print one line per weight group and flood notebooks and shared outputs for a
    load of a few seconds; fusionkit shows its own bar where a step is long.
    """
    tf_logging = transformers.utils.logging
    were_on = tf_logging.is_progress_bar_enabled()
    tf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if were_on:
            tf_logging.enable_progress_bar()


def _load_pretrained(
    transformers: Any,
    path: str,
    *,
    quantization: str | None,
    device: str,
    dtype: Any,
    trust_remote_code: bool,
    local_files_only: bool,
) -> tuple[Any, Any]:
    """Load the tokenizer and the model from ``path``, quantized as asked, in eval mode.

    Args:
        transformers: The imported ``transformers`` module.
        path: A local folder with a saved model, or a Hugging Face repo id.
        quantization: ``"4bit"``, ``"8bit"`` or None (unquantized).
        device: A resolved torch device string (see :func:`_resolve_device`).
        dtype: A torch dtype: the weights' dtype, or the compute dtype when quantized.
        trust_remote_code: Allow the repository's own model code.
        local_files_only: Never download.

    Returns:
        ``(tokenizer, model)``.

    Raises:
        ConfigurationError: The model cannot be found or loaded.
        MissingDependencyError: Loading needs a package that is not installed.
        UnsupportedHardwareError: bitsandbytes could not load the quantized model here.
    """
    opts = {"trust_remote_code": trust_remote_code, "local_files_only": local_files_only}
    kwargs: dict[str, Any] = {"dtype": dtype}
    if quantization == "4bit":
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
            model = transformers.AutoModelForCausalLM.from_pretrained(path, **opts, **kwargs)
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
        _keep_odd_shapes_off_the_packed_cpu_path(model)
    model.eval()
    return tokenizer, model


def _special_ids(tokenizer: Any, model: Any) -> tuple[int, frozenset[int]]:
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


# -- prompts --------------------------------------------------------------------------------------


def _plain_prompt(messages: Sequence[dict[str, str]]) -> str:
    """A readable prompt for tokenizers without a chat template."""
    parts = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(parts) + "\n\nAssistant:"


def _fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Merge system messages into the first user message (for templates that reject them)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system:
        for m in rest:
            if m["role"] == "user":
                m["content"] = f"{system}\n\n{m['content']}"
                break
    return rest


def _prompt_ids(tokenizer: Any, request: Request) -> list[int]:
    """The prompt ids of a request: its chat template if the tokenizer has one, else plain."""
    tok = tokenizer
    messages = [m.to_dict() for m in request.messages]
    if getattr(tok, "chat_template", None):
        try:
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # noqa: BLE001 - e.g. a template that rejects the system role
            text = tok.apply_chat_template(
                _fold_system(messages), tokenize=False, add_generation_prompt=True
            )
        # The template already holds the special tokens it wants (BOS, turn markers).
        return list(tok(text, add_special_tokens=False)["input_ids"])
    return list(tok(_plain_prompt(messages), add_special_tokens=True)["input_ids"])
