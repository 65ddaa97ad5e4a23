"""LocalModel: argument checks, the micro-batcher, and the real model in 4-bit on the CPU.

Fast tests need no model (the batcher runs a fake batch function; the argument checks fail
before any weights load). Slow tests load the embedded SmolLM2-135M-Instruct in NF4 once
per module, and a tiny random model of odd shape with no chat template.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fusionkit.errors import (
    ConfigurationError,
    MissingDependencyError,
    ModelError,
    UnsupportedHardwareError,
)
from fusionkit.models.local import INSTALL_LOCAL, LocalModel
from fusionkit.models.local.batching import BatcherClosed, BatchStats, Job, MicroBatcher, group_key
from fusionkit.models.local.prompts import fold_system, plain_prompt
from fusionkit.models.local.rows import cut_at_stop, looping_at, row_stopper_class  # noqa: F401
from fusionkit.types import build_request

# -- the micro-batcher (no model) -----------------------------------------------------------


class Recorder:
    """A batch function that records batches and answers each job with its prompt."""

    def __init__(self, delay: float = 0.0, fail: BaseException | None = None) -> None:
        self.batches: list[list[str]] = []
        self.delay = delay
        self.fail = fail
        self.started = threading.Event()

    def __call__(self, jobs: list[Job]) -> None:
        self.batches.append([j.request.prompt_text for j in jobs])
        self.started.set()
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        for j in jobs:
            j.future.set_result(f"answer to {j.request.prompt_text}")


def job(prompt: str, **params: Any) -> Job:
    return Job(build_request(prompt, **params))


def test_jobs_submitted_together_share_one_batch() -> None:
    rec = Recorder()
    b = MicroBatcher(rec, max_batch_size=8, window_s=0.2)
    futures = [b.submit(job(f"p{i}")) for i in range(4)]
    assert [f.result(5) for f in futures] == [f"answer to p{i}" for i in range(4)]
    assert rec.batches == [["p0", "p1", "p2", "p3"]]
    assert b.stats == BatchStats(generate_calls=1, requests=4, batch_sizes=(4,))
    assert b.stats.batched_requests == 4
    b.close()


def test_jobs_from_one_loop_iteration_share_a_batch_even_with_no_window() -> None:
    rec = Recorder()
    b = MicroBatcher(rec, window_s=0.0)

    async def submit(prompt: str, delay: float = 0.0) -> str:
        await asyncio.sleep(delay)
        job_ = job(prompt)
        return await asyncio.wrap_future(b.submit_from_loop(job_, asyncio.get_running_loop()))

    async def go() -> list[str]:
        return await asyncio.gather(submit("a"), submit("b"), submit("c"), submit("late", 0.2))

    assert asyncio.run(go()) == ["answer to a", "answer to b", "answer to c", "answer to late"]
    assert rec.batches == [["a", "b", "c"], ["late"]]
    b.close()
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(BatcherClosed):
            b.submit_from_loop(job("x"), loop)
    finally:
        loop.close()


def test_max_batch_size_splits_batches_in_arrival_order() -> None:
    rec = Recorder()
    b = MicroBatcher(rec, max_batch_size=2, window_s=0.2)
    futures = [b.submit(job(f"p{i}")) for i in range(5)]
    concurrent.futures.wait(futures, 5)
    assert rec.batches == [["p0", "p1"], ["p2", "p3"], ["p4"]]
    assert b.stats.max_batch == 2
    b.close()


def test_jobs_arriving_during_a_generate_are_batched_next() -> None:
    rec = Recorder(delay=0.3)
    b = MicroBatcher(rec, max_batch_size=8, window_s=0.0)
    first = b.submit(job("first"))
    assert rec.started.wait(5)
    later = [b.submit(job(f"later{i}")) for i in range(3)]
    concurrent.futures.wait([first, *later], 5)
    assert rec.batches == [["first"], ["later0", "later1", "later2"]]
    b.close()


def test_grouping_every_request_batches_except_streaming() -> None:
    greedy_a, greedy_b = job("a", max_tokens=5), job("b", max_tokens=50, stop=["x"])
    warm, hot = job("c", temperature=0.7), job("d", temperature=1.3, top_p=0.9)
    seeded = job("f", temperature=0.7, seed=1)
    schemad = job("g", schema={"type": "object"})
    keys = {group_key(j) for j in (greedy_a, greedy_b, warm, hot, seeded, schemad)}
    assert len(keys) == 1  # sampling and grammars are per row, so all of these share
    streaming = Job(build_request("h"), stream=object())
    assert group_key(streaming) != group_key(greedy_a)
    assert group_key(streaming) != group_key(Job(build_request("h"), stream=object()))

    rec = Recorder()
    b = MicroBatcher(rec, window_s=0.2)
    jobs = [greedy_a, warm, greedy_b, seeded, streaming, hot]
    concurrent.futures.wait([b.submit(j) for j in jobs], 5)
    assert rec.batches == [["a", "c", "b", "f", "d"], ["h"]]
    b.close()


def test_a_cancelled_job_is_dropped_before_its_batch() -> None:
    rec = Recorder(delay=0.3)
    b = MicroBatcher(rec, window_s=0.0)
    b.submit(job("busy"))
    assert rec.started.wait(5)
    gone = b.submit(job("gone"))
    kept = b.submit(job("kept"))
    assert gone.cancel()
    assert kept.result(5) == "answer to kept"
    assert rec.batches == [["busy"], ["kept"]]
    b.close()


def test_a_failing_batch_fails_each_of_its_jobs_and_the_worker_lives_on() -> None:
    rec = Recorder(fail=RuntimeError("boom"))
    b = MicroBatcher(rec, window_s=0.1)
    futures = [b.submit(job(f"p{i}")) for i in range(2)]
    for f in futures:
        with pytest.raises(RuntimeError, match="boom"):
            f.result(5)
    rec.fail = None
    assert b.submit(job("again")).result(5) == "answer to again"
    b.close()


def test_idle_worker_exits_and_restarts_on_demand() -> None:
    rec = Recorder()
    b = MicroBatcher(rec, window_s=0.0, idle_s=0.05)
    assert b.submit(job("one")).result(5)
    deadline = time.monotonic() + 5
    while b._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert b._thread is None  # no thread holds the model while nobody asks
    assert b.submit(job("two")).result(5) == "answer to two"
    b.close()


def test_close_fails_waiting_jobs_and_refuses_new_ones() -> None:
    rec = Recorder(delay=0.3)
    b = MicroBatcher(rec, window_s=0.0)
    b.submit(job("busy"))
    assert rec.started.wait(5)
    waiting = b.submit(job("waiting"))
    b.close()
    with pytest.raises(BatcherClosed, match="closed"):
        waiting.result(5)
    with pytest.raises(BatcherClosed, match="closed"):
        b.submit(job("late"))


# -- pure helpers -----------------------------------------------------------------------------


def test_cut_at_stop_takes_the_earliest_stop() -> None:
    assert cut_at_stop("a, b. c", [".", ","]) == ("a", True)
    assert cut_at_stop("abc", ["x"]) == ("abc", False)
    assert cut_at_stop("abc", []) == ("abc", False)


def testplain_prompt_and_system_folding() -> None:
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert plain_prompt(msgs) == "System: Be brief.\n\nUser: Hi\n\nAssistant:"
    assert fold_system(msgs) == [{"role": "user", "content": "Be brief.\n\nHi"}]


def test_row_stopper_ends_each_row_on_its_own_terms() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")

    class Chars:  # a tokenizer whose token i is chr(i)
        @staticmethod
        def decode(ids: list[int], skip_special_tokens: bool = True) -> str:
            return "".join(chr(i) for i in ids)

    jobs = [job("a", max_tokens=2), job("b", max_tokens=9, stop="yz"), job("c", max_tokens=9)]
    stopper = row_stopper_class()(jobs, prompt_len=1, tokenizer=Chars())
    rows = ["", "", ""]

    def step(chars: str) -> list[bool]:
        for i, c in enumerate(chars):
            rows[i] += c
        ids = torch.tensor([[0] + [ord(c) for c in r] for r in rows])
        return stopper(ids, None).tolist()

    assert step("axq") == [False, False, False]
    assert stopper.first_token_at is not None
    assert step("byr") == [True, False, False]  # row 0 reached its budget of 2
    jobs[2].cancelled.set()  # row 2's caller went away
    assert step("czs") == [True, True, True]  # row 1 wrote its stop string "yz"
    assert stopper.ended_at == [2, 3, 3]
    assert stopper.reason == ["length", "stop", "cancelled"]


# -- argument checks and missing pieces (no weights load) ---------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quantization": "3bit"}, "quantization must be '4bit', '8bit' or None"),
        ({"quantization": "nf4"}, "quantization must be"),
        ({"max_batch_size": 0}, "max_batch_size must be at least 1"),
        ({"max_batch_size": 2.5}, "max_batch_size must be an integer"),
        ({"batch_window_s": -1}, "batch_window_s must be between 0 and 10"),
    ],
)
def test_bad_arguments_are_refused_before_loading(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        LocalModel("/nowhere", **kwargs)


def test_a_gguf_file_points_to_the_converter(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="convert_gguf"):
        LocalModel(tmp_path / "model.Q4_0.gguf")


def test_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(MissingDependencyError) as info:
        LocalModel("/nowhere")
    assert INSTALL_LOCAL in str(info.value)
    assert "pip install 'fusionkit[local]'" in str(info.value)
    assert isinstance(info.value, ImportError)


def test_missing_bitsandbytes_names_the_extra_and_the_way_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    with pytest.raises(MissingDependencyError) as info:
        LocalModel("/nowhere", quantization="4bit", device="cpu")
    assert "pip install 'fusionkit[local]'" in str(info.value)
    assert "quantization=None" in str(info.value)


class BrokenBnb:
    """Looks like bitsandbytes on a machine without 4-bit kernels (e.g. Apple Silicon)."""

    class functional:  # noqa: N801 - mirrors the module's name
        @staticmethod
        def quantize_4bit(*args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("no kernel for device 'mps'")


class WrongBnb:
    """A build whose 4-bit matmul runs but returns garbage."""

    class functional:  # noqa: N801
        @staticmethod
        def quantize_4bit(w: Any, **kwargs: Any) -> Any:
            return w, None

        @staticmethod
        def dequantize_4bit(packed: Any, state: Any) -> Any:
            return packed

    @staticmethod
    def matmul_4bit(x: Any, w_t: Any, quant_state: Any) -> Any:
        return (x @ w_t) * 0 + 1e3


@pytest.mark.parametrize(("bnb", "why"), [(BrokenBnb, "NotImplementedError"), (WrongBnb, "wrong")])
def test_4bit_that_cannot_run_here_raises_unsupported_hardware(bnb: Any, why: str) -> None:
    torch = pytest.importorskip("torch")
    from fusionkit.models.local.loading import probe_quantization

    with pytest.raises(UnsupportedHardwareError) as info:
        probe_quantization(torch, bnb, "4bit", "cpu", torch.float32)
    text = str(info.value)
    assert "cannot run 4bit" in text and why in text
    assert "quantization=None" in text


@pytest.mark.slow
def test_the_real_bitsandbytes_passes_the_cpu_probe() -> None:
    torch = pytest.importorskip("torch")
    bnb = pytest.importorskip("bitsandbytes")
    from fusionkit.models.local.loading import probe_quantization

    probe_quantization(torch, bnb, "4bit", "cpu", torch.float32)  # must not raise


def test_a_missing_model_says_how_to_get_it(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    with pytest.raises(ConfigurationError, match="local_files_only=False"):
        LocalModel(tmp_path / "no-such-model", quantization=None, device="cpu")


def test_bad_device_and_dtype(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ConfigurationError, match="not a torch device"):
        LocalModel(tmp_path, device="quantum")
    with pytest.raises(ConfigurationError, match="dtype must be one of"):
        LocalModel(tmp_path, quantization=None, device="cpu", dtype="int3")
    if not torch.cuda.is_available():
        with pytest.raises(UnsupportedHardwareError, match="no CUDA GPU"):
            LocalModel(tmp_path, device="cuda")


def test_importing_the_local_backend_does_not_import_torch() -> None:
    code = (
        "import sys, fusionkit, fusionkit.models.local, fusionkit.models.local.embedded;"
        "print(sorted(m for m in ('torch', 'transformers', 'bitsandbytes') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- a tiny random 4-bit model: odd shapes, no chat template, no end-of-sequence ----------------


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = "<unk> the a cat dog sat ran on mat log red blue big small and then".split()
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")
    assert tokenizer.chat_template is None and tokenizer.eos_token is None
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(words),
        hidden_size=40,  # not a multiple of bitsandbytes' 64-value blocks
        intermediate_size=70,
        num_hidden_layers=2,
        num_attention_heads=5,
        num_key_value_heads=5,
        max_position_embeddings=128,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    model = transformers.LlamaForCausalLM(config)
    path = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny(tiny_path: Path) -> Iterator[LocalModel]:
    model = LocalModel(tiny_path, device="cpu", cache=False, batch_window_s=0.2)
    yield model
    model.close()


@pytest.mark.slow
def test_tiny_odd_shaped_model_loads_in_4bit_without_a_chat_template(tiny: LocalModel) -> None:
    import bitsandbytes as bnb

    layers = [m for n, m in tiny.model.named_modules() if n.endswith(("q_proj", "up_proj"))]
    assert layers and all(isinstance(m, bnb.nn.Linear4bit) for m in layers)
    c = tiny.complete("the cat sat on the mat", max_tokens=7)
    assert c.finish_reason == "length" and c.usage.completion_tokens == 7
    # No chat template: the plain "User: ...\n\nAssistant:" prompt, as tokenized.
    assert c.usage.prompt_tokens == len(tiny.tokenizer(plain_prompt([{"role": "user", "content": "the cat sat on the mat"}]))["input_ids"])  # fmt: skip
    assert c.text.split() and set(c.text.split()) <= set(tiny.tokenizer.get_vocab())


@pytest.mark.slow
def test_tiny_batch_stops_each_row_at_its_own_budget(tiny: LocalModel) -> None:
    async def go() -> list[Any]:
        return await asyncio.gather(
            *(tiny.acomplete(p, max_tokens=n) for p, n in [("red dog", 3), ("a big cat ran", 9)])
        )

    before = tiny.stats.generate_calls
    short, long = asyncio.run(go())
    assert tiny.stats.generate_calls == before + 1  # one generate served both
    assert (short.usage.completion_tokens, long.usage.completion_tokens) == (3, 9)
    assert short.finish_reason == long.finish_reason == "length"
    assert len(short.text.split()) == 3 and len(long.text.split()) == 9


@pytest.mark.slow
def test_tiny_stop_string_cuts_the_answer(tiny: LocalModel) -> None:
    full = tiny.complete("the dog", max_tokens=12).text.split()
    stop = full[4]
    cut = tiny.complete("the dog", max_tokens=12, stop=stop)
    assert cut.finish_reason == "stop"
    assert stop not in cut.text
    assert cut.text.split() == full[: full.index(stop)]
    assert cut.usage.completion_tokens == full.index(stop) + 1  # the stop's token was generated


# -- the embedded model in NF4 on the CPU --------------------------------------------------------


@pytest.fixture(scope="module")
def edge(edge_home: Path) -> Iterator[LocalModel]:
    from fusionkit.models.local.embedded import edge_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUSIONKIT_HOME", str(edge_home))
        model = edge_model(cache=False, device="cpu", progress=False)
    yield model


PROMPTS = {
    "What is the capital of France?": "Paris",
    "What is 2 + 2?": "4",
    "Who wrote the play Hamlet?": "Shakespeare",
    "What is the largest ocean on Earth?": "Pacific",
}


@pytest.mark.slow
def test_edge_linear_layers_are_bitsandbytes_4bit(edge: LocalModel) -> None:
    import bitsandbytes as bnb
    import torch

    linears = {
        n: m
        for n, m in edge.model.named_modules()
        if isinstance(m, torch.nn.Linear) and n != "lm_head"
    }
    assert len(linears) == 30 * 7  # q, k, v, o, gate, up, down in each of 30 layers
    assert all(isinstance(m, bnb.nn.Linear4bit) for m in linears.values())
    assert {m.weight.quant_type for m in linears.values()} == {"nf4"}
    assert edge.quantization == "4bit" and "quantization=4bit" in edge.identity
    assert "dtype=float32" in edge.identity and edge.path in edge.identity


@pytest.mark.slow
def test_edge_footprint_is_under_40_percent_of_fp32(edge: LocalModel) -> None:
    fp32 = LocalModel(edge.path, quantization=None, device="cpu", cache=False)
    try:
        assert fp32.dtype == "float32"
        assert edge.memory_footprint_bytes < 0.4 * fp32.memory_footprint_bytes
    finally:
        fp32.close()
    c = edge.complete("Hi", max_tokens=2)
    assert c.cost_usd == 0.0 and not hasattr(c, "memory_bytes")


@pytest.mark.slow
def test_edge_greedy_answers_paris_with_honest_usage(edge: LocalModel) -> None:
    prompt = "What is the capital of France?"
    c = edge.complete(prompt, max_tokens=12)
    assert "Paris" in c.text
    expected_prompt = edge.tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=True, add_generation_prompt=True
    )
    if isinstance(expected_prompt, dict) or hasattr(expected_prompt, "input_ids"):
        expected_prompt = expected_prompt["input_ids"]
    assert c.usage.prompt_tokens == len(expected_prompt)
    assert c.usage.completion_tokens == 12 and c.finish_reason == "length"
    assert 0 < c.ttft_s < c.latency_s
    assert edge.complete(prompt, max_tokens=12).text == c.text  # greedy is deterministic

    short = edge.complete("What is 2 + 2? Answer with just the number.", max_tokens=40)
    assert short.finish_reason == "stop" and short.usage.completion_tokens < 40
    assert "4" in short.text

    cut = edge.complete(prompt, max_tokens=12, stop=" Paris")
    assert cut.finish_reason == "stop" and "Paris" not in cut.text
    assert c.text.startswith(cut.text) and cut.text


@pytest.mark.slow
def test_edge_four_concurrent_requests_share_one_generate(edge: LocalModel) -> None:
    alone = {p: edge.complete(p, max_tokens=14).text for p in PROMPTS}

    async def together() -> list[Any]:
        return await asyncio.gather(*(edge.acomplete(p, max_tokens=14) for p in PROMPTS))

    before = edge.stats
    answers = asyncio.run(together())
    after = edge.stats
    assert after.generate_calls == before.generate_calls + 1
    assert after.batch_sizes[-1] == 4
    for (prompt, keyword), c in zip(PROMPTS.items(), answers, strict=True):
        assert keyword in c.text, (prompt, c.text)
        # Each row gets its own prompt's answer. A padded batch sums in another order, so a
        # near tie (seen: end-of-sequence vs " This", 0.05 apart) may flip late in a row.
        assert c.text.split()[:5] == alone[prompt].split()[:5], (c.text, alone[prompt])
        assert c.usage.completion_tokens <= 14


@pytest.mark.slow
def test_edge_streaming_chunks_join_to_the_final_text(edge: LocalModel) -> None:
    stream = edge.stream("Who wrote the play Hamlet?", max_tokens=16)
    chunks = list(stream)
    final = stream.completion
    assert len(chunks) > 3 and all(isinstance(c, str) for c in chunks)
    assert "".join(chunks) == final.text
    assert final.text == edge.complete("Who wrote the play Hamlet?", max_tokens=16).text
    assert final.usage.completion_tokens == 16 and final.ttft_s is not None

    stream = edge.stream("Who wrote the play Hamlet?", max_tokens=16, stop="Shakespeare")
    stopped = list(stream)
    assert "".join(stopped) == stream.completion.text
    assert "Shakespeare" not in stream.completion.text
    assert stream.completion.finish_reason == "stop"


@pytest.mark.slow
def test_edge_seeded_sampling_repeats(edge: LocalModel) -> None:
    a = edge.complete("Write a word.", temperature=0.9, seed=7, max_tokens=8)
    b = edge.complete("Write a word.", temperature=0.9, seed=7, max_tokens=8)
    assert a.text == b.text and a.usage == b.usage


@pytest.mark.slow
def test_edge_closed_model_says_so(edge_home: Path, edge: LocalModel) -> None:
    model = LocalModel(edge.path, quantization=None, device="cpu", cache=False, dtype="bfloat16")
    assert model.complete("Hi", max_tokens=1).usage.completion_tokens == 1
    model.close()
    model.close()  # twice is fine
    assert model.closed
    with pytest.raises(ModelError, match="closed"):
        model.complete("Hi", max_tokens=1)
