"""LocalModel: a Hugging Face transformers model in this process, 4-bit by default.

Loading: ``AutoModelForCausalLM`` with bitsandbytes NF4 (``load_in_4bit``, double
quantization, bf16 compute on CUDA, fp32 compute on the CPU), or LLM.int8 with
``quantization="8bit"``, or unquantized with ``quantization=None``. Before loading a
quantized model, a tiny 4-bit (or 8-bit) matmul runs on the target device: where
bitsandbytes cannot run it (Apple Silicon, a build without CPU kernels, ...) the
constructor raises :class:`~fusionkit.errors.UnsupportedHardwareError` saying so and naming
``quantization=None`` as the way on. It never silently loads something else.

Serving: every request goes to one worker thread per model (so a notebook's event loop
stays responsive) through the micro-batcher in :mod:`fusionkit.models._batching`: requests
that arrive together share one batched ``generate`` (left padding) and are split back per
row. Each row stops at its own ``max_tokens`` and ``stop`` strings (a stopping criterion
that returns one flag per row), so greedy requests with different budgets still batch.

Accounting, honestly:

* ``usage``: prompt tokens are the row's real prompt ids (no padding); completion tokens
  are the ids the row generated up to its end of sequence, stop string or budget.
* ``latency_s``: from the moment the request reached the model (queue wait included) to
  the end of its batch.
* ``ttft_s``: from the same moment to the first generated token of its batch (prefill plus
  one step, measured, not estimated). A row of a batch gets its text only when the whole
  batch ends; use streaming to see tokens as they come.
* ``cost_usd`` is 0.0 and ``memory_bytes`` is the model's footprint.

Determinism: greedy decoding (temperature 0) is deterministic for a given batch. A row
decoded in a batch can differ from the same prompt decoded alone after many tokens (the
padded batch changes floating-point summation order), as with every batched inference
server. A seeded request runs alone with ``torch.manual_seed(seed)``, so its answer
depends only on the request.

Layout: this module is the serving side (the constructor's checks, batching glue,
streaming, accounting). Everything before the first token (dependency imports, device and
dtype, the hardware probe, the ``from_pretrained`` call, prompt building) lives in
:mod:`fusionkit.models._local_loading`, so each reads in one sitting; its names are
re-exported here and importable from this module as before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigurationError, ModelError
from ..types import Completion, Request, Usage
from ._batching import (
    END,
    BatcherClosed,
    BatchStats,
    Job,
    MicroBatcher,
    StreamSink,
    cut_at_stop,
    row_stopper_class,
)
from ._local_loading import _DTYPES as _DTYPES
from ._local_loading import INSTALL_LOCAL as INSTALL_LOCAL
from ._local_loading import _DropHubKernelNotice as _DropHubKernelNotice
from ._local_loading import _fold_system as _fold_system
from ._local_loading import _import_bitsandbytes as _import_bitsandbytes
from ._local_loading import _import_torch_transformers as _import_torch_transformers
from ._local_loading import (
    _keep_odd_shapes_off_the_packed_cpu_path as _keep_odd_shapes_off_the_packed_cpu_path,
)
from ._local_loading import _load_pretrained as _load_pretrained
from ._local_loading import _plain_prompt as _plain_prompt
from ._local_loading import _probe_quantization as _probe_quantization
from ._local_loading import _prompt_ids as _prompt_ids
from ._local_loading import _resolve_device as _resolve_device
from ._local_loading import _resolve_dtype as _resolve_dtype
from ._local_loading import _special_ids as _special_ids
from .base import Model

__all__ = ["INSTALL_LOCAL", "LocalModel", "Quantization"]

Quantization = Literal["4bit", "8bit"]

_LABELS = {"4bit": "nf4", "8bit": "int8", "float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


class LocalModel(Model):
    """A local transformers model, 4-bit NF4 by default, with micro-batching and streaming.

    Args:
        path_or_repo_id: A local folder with a saved model, or a Hugging Face repo id.
        quantization: ``"4bit"`` (NF4, double quantization), ``"8bit"`` (LLM.int8) or
            None for an unquantized load.
        device: ``"auto"`` (CUDA, else MPS, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
            ``"mps"``.
        name: Display name; default: the folder or repo name plus the precision.
        max_batch_size: At most this many requests share one ``generate``.
        batch_window_s: How long a request waits for others to batch with, in seconds.
        cache: As for :class:`~fusionkit.models.base.Model` (greedy answers are cached).
        trust_remote_code: Allow the repository's own model code (off: it runs code).
        local_files_only: Never download (fusionkit is offline by default); set False
            to let transformers fetch a repo id from the Hugging Face Hub.
        dtype: ``"auto"``/None (bf16 on CUDA, fp32 elsewhere), ``"float32"``,
            ``"bfloat16"`` or ``"float16"``: the weights' dtype unquantized, the compute
            dtype when quantized.
        max_concurrency: As for :class:`~fusionkit.models.base.Model`; leave None so
            concurrent requests can batch.

    Raises:
        MissingDependencyError: torch/transformers/bitsandbytes missing (names the command).
        UnsupportedHardwareError: The quantization cannot run on this device.
        ConfigurationError: Bad arguments, or a model that cannot be found or loaded.
    """

    kind = "local"

    def __init__(
        self,
        path_or_repo_id: str | Path,
        *,
        quantization: Quantization | None = "4bit",
        device: str = "auto",
        name: str | None = None,
        max_batch_size: int = 8,
        batch_window_s: float = 0.005,
        cache: Any = None,
        trust_remote_code: bool = False,
        local_files_only: bool = True,
        dtype: str | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        if quantization not in ("4bit", "8bit", None):
            raise ConfigurationError(
                f"quantization must be '4bit', '8bit' or None, not {quantization!r}."
            )
        if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int):
            raise ConfigurationError(f"max_batch_size must be an integer, not {max_batch_size!r}.")
        if max_batch_size < 1:
            raise ConfigurationError(f"max_batch_size must be at least 1, not {max_batch_size}.")
        if not isinstance(batch_window_s, (int, float)) or not 0 <= batch_window_s <= 10:
            raise ConfigurationError(
                f"batch_window_s must be between 0 and 10 seconds, not {batch_window_s!r}."
            )
        source = str(path_or_repo_id)
        if source.endswith(".gguf"):
            raise ConfigurationError(
                f"{source} is a GGUF file; transformers cannot quantize a GGUF load. Convert "
                "it once with fusionkit.models.embedded.convert_gguf(path, out_dir) and load "
                "the folder."
            )
        local = Path(source).expanduser()
        self.path = str(local.resolve()) if local.exists() else source
        self.quantization: Quantization | None = quantization

        torch, transformers = _import_torch_transformers()
        self._torch = torch
        self.device = _resolve_device(torch, device)
        self._dtype = _resolve_dtype(torch, dtype, self.device)
        bnb = _import_bitsandbytes(quantization) if quantization else None
        if quantization == "8bit":
            # bitsandbytes warns on every int8 matmul with fp32 inputs (each layer, each token).
            warnings.filterwarnings("ignore", message="MatMul8bitLt: inputs will be cast")
        if bnb is not None:
            _probe_quantization(torch, bnb, quantization or "4bit", self.device, self._dtype)

        self._tokenizer, self._model = _load_pretrained(
            transformers,
            self.path,
            quantization=quantization,
            device=self.device,
            dtype=self._dtype,
            trust_remote_code=trust_remote_code,
            local_files_only=local_files_only,
        )
        self.dtype = str(self._dtype).removeprefix("torch.")
        self._memory = int(self._model.get_memory_footprint())
        self._pad_id, self._eos_ids = _special_ids(self._tokenizer, self._model)

        label = _LABELS[quantization or self.dtype]
        super().__init__(
            name or f"{Path(source.rstrip('/')).name}-{label}",
            max_concurrency=max_concurrency,
            cache=cache,
        )
        self._batcher = MicroBatcher(
            self._run_batch,
            max_batch_size=max_batch_size,
            window_s=float(batch_window_s),
            name=f"fusionkit-local:{self.name}",
        )

    # -- public properties --------------------------------------------------------------------

    @property
    def identity(self) -> str:
        """The cache key's model part: path, quantization and dtype."""
        return f"local:{self.path}|quantization={self.quantization}|dtype={self.dtype}"

    @property
    def memory_footprint_bytes(self) -> int:
        """Bytes the weights and buffers take (as transformers reports it)."""
        return self._memory

    @property
    def stats(self) -> BatchStats:
        """Counters of the micro-batcher: ``generate_calls``, ``batch_sizes``, ..."""
        return self._batcher.stats

    @property
    def closed(self) -> bool:
        """True after :meth:`close`/:meth:`aclose`."""
        return self._batcher.closed

    @property
    def model(self) -> Any:
        """The underlying transformers model (for inspection)."""
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The underlying tokenizer."""
        return self._tokenizer

    def __repr__(self) -> str:
        return (
            f"LocalModel({self.name!r}, path={self.path!r}, quantization={self.quantization!r}, "
            f"device={self.device!r}, dtype={self.dtype!r})"
        )

    # -- serving ------------------------------------------------------------------------------

    def _closed_error(self) -> ModelError:
        return ModelError(
            f"{self.name}: this LocalModel was closed; build a new one to use it again.",
            model=self.name,
        )

    async def _acomplete(self, request: Request) -> Completion:
        job = Job(request)
        try:
            future = self._batcher.submit_from_loop(job, asyncio.get_running_loop())
            return await asyncio.wrap_future(future)  # type: ignore[no-any-return]
        except BatcherClosed as exc:
            raise self._closed_error() from exc
        except asyncio.CancelledError:
            job.cancelled.set()  # the row stops at its next step
            raise

    async def _astream(self, request: Request) -> AsyncIterator[str | Completion]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        sink = StreamSink(asyncio.get_running_loop(), queue, self._tokenizer)
        sink.stops = request.stop
        job = Job(request, stream=sink)
        try:
            future = self._batcher.submit(job)
        except BatcherClosed as exc:
            raise self._closed_error() from exc
        sent = ""
        try:
            while True:
                item = await queue.get()
                if item is END:
                    break
                sent += item
                yield item
            completion: Completion = await asyncio.wrap_future(future)
        except BatcherClosed as exc:
            raise self._closed_error() from exc
        except BaseException:  # cancelled, or the consumer stopped early (GeneratorExit)
            job.cancelled.set()
            raise
        if len(completion.text) > len(sent) and completion.text.startswith(sent):
            yield completion.text[len(sent) :]
        yield completion

    async def aclose(self) -> None:
        """Stop the worker thread and free the weights. Safe to call twice."""
        await asyncio.to_thread(self._release)

    def _release(self) -> None:
        if self._batcher.closed:
            return
        self._batcher.close()
        self._model = None
        gc.collect()
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()

    # -- the worker thread --------------------------------------------------------------------

    def _generation_kwargs(self, request: Request, max_new_tokens: int) -> dict[str, Any]:
        from transformers import GenerationConfig

        config = GenerationConfig.from_dict(self._model.generation_config.to_dict())
        config.max_new_tokens = max_new_tokens
        config.max_length = None
        config.pad_token_id = self._pad_id
        if request.temperature == 0:
            # Clear sampling defaults a checkpoint may carry, so greedy is plainly greedy.
            config.do_sample = False
            config.temperature = None
            config.top_p = None
            config.top_k = None
        else:
            config.do_sample = True
            config.temperature = request.temperature
            if request.top_p is not None:
                config.top_p = request.top_p
        return {"generation_config": config}

    def _run_batch(self, jobs: list[Job]) -> None:
        """Serve jobs with one generate (in the worker thread) and resolve their futures."""
        from transformers import StoppingCriteriaList

        torch = self._torch
        streaming = jobs[0].stream if len(jobs) == 1 else None
        try:
            for job in jobs:
                if job.cancelled.is_set():  # its caller left before the batch started
                    job.future.set_exception(concurrent.futures.CancelledError())
            jobs = [j for j in jobs if not j.cancelled.is_set()]
            if not jobs:
                return
            prompts = [_prompt_ids(self._tokenizer, j.request) for j in jobs]
            width = max(len(p) for p in prompts)
            ids = [[self._pad_id] * (width - len(p)) + p for p in prompts]
            mask = [[0] * (width - len(p)) + [1] * len(p) for p in prompts]
            stopper = row_stopper_class()(jobs, width, self._tokenizer)
            budget = max(j.request.max_tokens for j in jobs)
            seed = jobs[0].request.seed
            with torch.inference_mode():
                if seed is not None:
                    torch.manual_seed(seed)
                out = self._model.generate(
                    input_ids=torch.tensor(ids, device=self.device),
                    attention_mask=torch.tensor(mask, device=self.device),
                    stopping_criteria=StoppingCriteriaList([stopper]),
                    streamer=streaming,
                    **self._generation_kwargs(jobs[0].request, budget),
                )
            rows = out[:, width:].tolist()
            first = stopper.first_token_at
            if streaming is not None and streaming.first_token_at is not None:
                first = streaming.first_token_at
            done = time.perf_counter()
            for i, job in enumerate(jobs):
                completion = self._row_completion(
                    job, rows[i], len(prompts[i]), stopper.ended_at[i], first, done
                )
                if not job.future.done():
                    job.future.set_result(completion)
        except Exception as exc:  # noqa: BLE001 - becomes every waiting caller's error
            error = ModelError(
                f"{self.name}: generation failed ({type(exc).__name__}: {exc}).", model=self.name
            )
            error.__cause__ = exc
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(error)
        finally:
            if streaming is not None:
                streaming.close()

    def _row_completion(
        self,
        job: Job,
        row: list[int],
        prompt_tokens: int,
        ended_at: int | None,
        first_token_at: float | None,
        done: float,
    ) -> Completion:
        request = job.request
        n = min(len(row), ended_at if ended_at is not None else len(row), request.max_tokens)
        finish = "length"
        for k, token in enumerate(row[:n]):
            if token in self._eos_ids:
                n, finish = k + 1, "stop"
                break
        text = self._tokenizer.decode(
            row[:n], skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        text, found = cut_at_stop(text, request.stop)
        if found:
            finish = "stop"
        return Completion(
            text=text,
            model=self.name,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=n),
            latency_s=done - job.enqueued_at,
            ttft_s=None if first_token_at is None else first_token_at - job.enqueued_at,
            cost_usd=0.0,
            finish_reason=finish,
            memory_bytes=self._memory,
        )
