"""LocalModel: a Hugging Face transformers model in this process, 4-bit by default.

Loading (:mod:`~fusionkit.models.local.loading`): ``AutoModelForCausalLM`` with
bitsandbytes NF4 (``load_in_4bit``, double quantization, bf16 compute on CUDA, fp32 compute
on the CPU), or LLM.int8 with ``quantization="8bit"``, or unquantized with
``quantization=None``. Before loading a quantized model, a tiny 4-bit (or 8-bit) matmul runs
on the target device: where bitsandbytes cannot run it the constructor raises
:class:`~fusionkit.errors.UnsupportedHardwareError` naming ``quantization=None`` as the way
on. It never silently loads something else. With ``quantized_store=`` the packed 4-bit
weights are kept on disk after the first load and later loads read them directly
(:mod:`~fusionkit.models.local.stored`). A load shows one line, "loading <model> … done in
N s" (``progress=False``: nothing).

Serving: every request goes to one worker thread per model (so a notebook's event loop
stays responsive) through the micro-batcher (:mod:`~fusionkit.models.local.batching`):
requests that arrive together share one batched ``generate`` (left padding) and are split
back per row. ``generate`` always runs greedily; per row:

* each row stops at its own ``max_tokens``, ``stop`` strings, or when it loops
  (:mod:`~fusionkit.models.local.rows`);
* a row with ``temperature > 0`` draws its tokens from its own seeded generator at its own
  temperature and top_p (:mod:`~fusionkit.models.local.sampling`), so seeded, unseeded and
  greedy requests share a batch and a seed gives the same text alone or in a batch;
* a row with ``schema=`` follows a grammar compiled from its JSON Schema and ends when the
  object is complete (:mod:`~fusionkit.models.local.constrained`); ``Completion.parsed`` is
  set, and the base class validates it;
* a row with ``logprobs=True`` gets ``Completion.logprobs``: each generated token's
  natural-log probability under the raw logits at temperature 1, before any grammar mask,
  loop ban or sampling draw (:mod:`~fusionkit.models.local.logprobs`); rows that did not
  ask pay nothing.

Accounting, honestly:

* ``usage``: prompt tokens are the row's real prompt ids (no padding); completion tokens
  are the ids the row generated up to its end of sequence, stop string or budget.
* ``latency_s``: from the moment the request reached the model (queue wait included) to
  the end of its batch.
* ``ttft_s``: from the same moment to the first generated token of its batch (prefill plus
  one step, measured, not estimated). A row of a batch gets its text only when the whole
  batch ends; use streaming to see tokens as they come.
* ``cost_usd`` is 0.0; the model's memory is :attr:`LocalModel.memory_footprint_bytes`.
* ``finish_reason``: ``"stop"`` (end of sequence, a stop string, a complete schema'd
  object), ``"length"`` (the budget ran out, or the row was cut because it looped: its
  answer is cut either way).

Determinism: greedy decoding is deterministic for a given batch. A row decoded in a batch
can differ from the same prompt decoded alone after many tokens (the padded batch changes
floating-point summation order), as with every batched inference server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import json
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ...errors import ConfigurationError, ModelError
from ...types import Completion, Request, Usage
from ..base import Model
from .batching import BatcherClosed, BatchStats, Job, MicroBatcher
from .constrained import GrammarBook, constraint_processor_class
from .loading import (
    import_bitsandbytes,
    import_torch_transformers,
    load_pretrained,
    probe_quantization,
    resolve_device,
    resolve_dtype,
    special_ids,
)
from .logprobs import logprob_recorder_class
from .progress import load_line
from .prompts import prompt_ids
from .quantization import DEFAULT_QUANTIZATION, Quantization, parse_quantization
from .rows import END, StreamSink, cut_at_stop, loop_breaker_class, row_stopper_class
from .sampling import RowPolicy, row_sampler_class
from .stored import is_stored, store_quantized, stored_folder

__all__ = ["LocalModel"]

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
        progress: Show one "loading <model> … done in N s" line while loading.
        quantized_store: A folder to keep the packed 4-bit weights in (a 4-bit load of a
            local folder only): the first load stores them, later loads skip quantizing.
            None (default) stores nothing.

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
        quantization: Quantization | None = DEFAULT_QUANTIZATION,
        device: str = "auto",
        name: str | None = None,
        max_batch_size: int = 8,
        batch_window_s: float = 0.005,
        cache: Any = None,
        trust_remote_code: bool = False,
        local_files_only: bool = True,
        dtype: str | None = None,
        max_concurrency: int | None = None,
        progress: bool = True,
        quantized_store: str | Path | None = None,
    ) -> None:
        quantization = parse_quantization(quantization)
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
                "it once with fusionkit.models.local.embedded.convert_gguf(path, out_dir) "
                "and load the folder."
            )
        local = Path(source).expanduser()
        self.path = str(local.resolve()) if local.exists() else source
        self.quantization: Quantization | None = quantization

        torch, transformers = import_torch_transformers()
        self._torch = torch
        self.device = resolve_device(torch, device)
        self._dtype = resolve_dtype(torch, dtype, self.device)
        self.dtype = str(self._dtype).removeprefix("torch.")
        label = _LABELS[quantization or self.dtype]
        display = name or f"{Path(source.rstrip('/')).name}-{label}"
        bnb = import_bitsandbytes(quantization) if quantization else None
        if quantization == "8bit":
            # bitsandbytes warns on every int8 matmul with fp32 inputs (each layer, each token).
            warnings.filterwarnings("ignore", message="MatMul8bitLt: inputs will be cast")
        if bnb is not None:
            probe_quantization(torch, bnb, quantization or "4bit", self.device, self._dtype)

        stored = None
        if quantized_store is not None and quantization == "4bit" and local.is_dir():
            stored = stored_folder(
                Path(quantized_store).expanduser(), local, quantization="4bit", dtype=self.dtype
            )
        #: True when the weights came from stored 4-bit weights (no quantizing at load).
        self.warm_start = stored is not None and is_stored(stored)
        with load_line(display, enabled=progress):
            self._tokenizer, self._model = load_pretrained(
                transformers,
                self.path,
                quantization=quantization,
                device=self.device,
                dtype=self._dtype,
                trust_remote_code=trust_remote_code,
                local_files_only=local_files_only,
                weights_from=str(stored) if self.warm_start else None,
            )
            if stored is not None and not self.warm_start:
                store_quantized(self._model, stored)
        self._memory = int(self._model.get_memory_footprint())
        self._pad_id, self._eos_ids = special_ids(self._tokenizer, self._model)
        self._grammars = GrammarBook(
            self._tokenizer, self._model.config.vocab_size, sorted(self._eos_ids) or [self._pad_id]
        )
        # Sampling keeps a top_k the checkpoint's generation config sets (most set none).
        self._top_k = self._model.generation_config.top_k

        super().__init__(display, max_concurrency=max_concurrency, cache=cache)
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

    def _generation_config(self, max_new_tokens: int) -> Any:
        from transformers import GenerationConfig

        config = GenerationConfig.from_dict(self._model.generation_config.to_dict())
        config.max_new_tokens = max_new_tokens
        config.max_length = None
        config.pad_token_id = self._pad_id
        # Always greedy: sampling rows draw their own tokens (see sampling.py). Clear the
        # sampling defaults a checkpoint may carry, so greedy is plainly greedy.
        config.do_sample = False
        config.temperature = None
        config.top_p = None
        config.top_k = None
        return config

    def _processors(self, jobs: list[Job], prompt_len: int) -> tuple[list[Any], Any, Any]:
        """The batch's logits processors and the grammar mask and logprob recorder among them.

        In order: the logprob recorder (it must see the raw logits), grammar masks, loop
        breaker, then the sampler. Pieces no row needs are left out.
        """
        processors: list[Any] = []
        recorder = None
        asking = [i for i, j in enumerate(jobs) if j.request.logprobs]
        if asking:
            recorder = logprob_recorder_class()(asking, len(jobs))
            processors.append(recorder)
        matchers = [self._grammars.matcher(j.request.schema) for j in jobs]
        mask = None
        if any(m is not None for m in matchers):
            mask = constraint_processor_class()(
                matchers,
                self._grammars.eos_ids[0],
                budgets=[j.request.max_tokens for j in jobs],
                prompt_len=prompt_len,
                closers=self._grammars.closers(),
            )
            guarded = [i for i, m in enumerate(matchers) if m is not None]
            processors += [mask, loop_breaker_class()(guarded, prompt_len)]
        policies = [RowPolicy.of(j.request, self._top_k) for j in jobs]
        if not all(p.greedy for p in policies):
            processors.append(row_sampler_class()(policies))
        return processors, mask, recorder

    def _run_batch(self, jobs: list[Job]) -> None:
        """Serve jobs with one generate (in the worker thread) and resolve their futures."""
        from transformers import LogitsProcessorList, StoppingCriteriaList

        torch = self._torch
        streaming = jobs[0].stream if len(jobs) == 1 else None
        try:
            for job in jobs:
                if job.cancelled.is_set():  # its caller left before the batch started
                    job.future.set_exception(concurrent.futures.CancelledError())
            jobs = [j for j in jobs if not j.cancelled.is_set()]
            if not jobs:
                return
            prompts = [prompt_ids(self._tokenizer, j.request) for j in jobs]
            width = max(len(p) for p in prompts)
            ids = [[self._pad_id] * (width - len(p)) + p for p in prompts]
            mask = [[0] * (width - len(p)) + [1] * len(p) for p in prompts]
            stopper = row_stopper_class()(jobs, width, self._tokenizer)
            processors, grammar, recorder = self._processors(jobs, width)
            budget = max(j.request.max_tokens for j in jobs)
            with torch.inference_mode():
                out = self._model.generate(
                    input_ids=torch.tensor(ids, device=self.device),
                    attention_mask=torch.tensor(mask, device=self.device),
                    stopping_criteria=StoppingCriteriaList([stopper]),
                    logits_processor=LogitsProcessorList(processors),
                    streamer=streaming,
                    generation_config=self._generation_config(budget),
                )
            rows = out[:, width:].tolist()
            logprobs: list[list[float]] | None = None
            if recorder is not None and out.shape[1] > width:
                logprobs = recorder.finish(out[:, -1].tolist())
            first = stopper.first_token_at
            if streaming is not None and streaming.first_token_at is not None:
                first = streaming.first_token_at
            done = time.perf_counter()
            for i, job in enumerate(jobs):
                completion = self._row_completion(
                    job, rows[i], len(prompts[i]), stopper.ended_at[i], first, done
                )
                if job.request.logprobs:
                    completion = self._with_logprobs(completion, logprobs, i)
                if grammar is not None and grammar.complete(i):
                    completion = self._with_parsed(completion)
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

    @staticmethod
    def _with_logprobs(
        completion: Completion, logprobs: list[list[float]] | None, row: int
    ) -> Completion:
        """Attach a row's log-probabilities, one per generated token (padding cut off)."""
        import dataclasses

        n = completion.usage.completion_tokens
        values = tuple(logprobs[row][:n]) if logprobs is not None else ()
        return dataclasses.replace(completion, logprobs=values)

    @staticmethod
    def _with_parsed(completion: Completion) -> Completion:
        """Attach the decoded object of a row whose grammar completed (the base validates)."""
        import dataclasses

        try:
            parsed = json.loads(completion.text)
        except ValueError:  # e.g. a stop string cut it: the base reports the reply as is
            return completion
        return dataclasses.replace(completion, parsed=parsed)

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
        )
