"""Per-token log-probabilities from the local backend (``logprobs=True``).

Fast tests run a tiny random Llama built in-process (as in ``test_local_rows.py``),
unquantized on the CPU, and compare with a plain forward pass. The slow test uses the
embedded SmolLM2-135M-Instruct in 4-bit.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from local_helpers import SMALL, together

from fusionkit.cache import ResponseCache
from fusionkit.models.local import LocalModel
from fusionkit.models.local.prompts import prompt_ids
from fusionkit.types import Completion, build_request

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


# -- the recorder alone ------------------------------------------------------------------------


def test_recorder_reads_each_chosen_token_under_the_raw_logits_of_its_step() -> None:
    from fusionkit.models.local.logprobs import logprob_recorder_class

    gen = torch.Generator().manual_seed(0)
    steps = [torch.randn(3, 40, generator=gen) * 4 for _ in range(4)]
    chosen = [[5, 1, 7], [2, 2, 2], [39, 0, 11], [8, 3, 4]]
    recorder = logprob_recorder_class()([0, 2], 3)
    ids = torch.zeros(3, 6, dtype=torch.long)
    for t, scores in enumerate(steps):
        if t:
            ids = torch.cat([ids, torch.tensor(chosen[t - 1])[:, None]], dim=1)
        out = recorder(ids, scores.clone())
        out[:, 0] = float("inf")  # later processors change the scores in place
    values = recorder.finish(chosen[-1])
    assert values[1] == []  # a row that did not ask records nothing
    for row in (0, 2):
        want = [
            float(torch.log_softmax(s[row].double(), -1)[c[row]])
            for s, c in zip(steps, chosen, strict=True)
        ]
        assert values[row] == pytest.approx(want, abs=1e-9)


# -- a tiny random model -----------------------------------------------------------------------


# The byte_model / byte_model_path fixtures are in conftest.py.


def _greedy_by_hand(model: LocalModel, prompt: str, n: int) -> tuple[list[int], list[float]]:
    """Plain greedy decoding with full forward passes: each step's argmax and its logprob."""
    ids = prompt_ids(model.tokenizer, build_request(prompt, max_tokens=n))
    tokens: list[int] = []
    best: list[float] = []
    with torch.inference_mode():
        for _ in range(n):
            logits = model.model(torch.tensor([ids + tokens])).logits[0, -1].double()
            lp = torch.log_softmax(logits, -1)
            tokens.append(int(lp.argmax()))
            best.append(float(lp.max()))
            if tokens[-1] == model.tokenizer.eos_token_id:
                break
    return tokens, best


def test_greedy_logprobs_are_each_steps_best_under_a_plain_forward_pass(
    byte_model: LocalModel,
) -> None:
    c = byte_model.complete("the cat", max_tokens=10, logprobs=True)
    assert c.logprobs is not None
    assert len(c.logprobs) == c.usage.completion_tokens
    tokens, best = _greedy_by_hand(byte_model, "the cat", c.usage.completion_tokens)
    assert len(tokens) == c.usage.completion_tokens
    assert byte_model.tokenizer.decode(tokens, skip_special_tokens=True) == c.text
    assert list(c.logprobs) == pytest.approx(best, abs=1e-4)
    assert all(v <= 0 for v in c.logprobs)


def test_every_kind_of_row_reports_one_finite_logprob_per_token_and_neighbours_are_unchanged(
    byte_model: LocalModel,
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("the mat", {"max_tokens": 9}),
        ("the cat", {"temperature": 0.9, "seed": 5, "max_tokens": 12}),
        ("ship or skip?", {"schema": SMALL, "max_tokens": 40}),
    ]
    plain = together(byte_model, calls)
    asking = [(p, {**kw, "logprobs": True}) for p, kw in calls]
    before = byte_model.stats.generate_calls
    mixed = together(byte_model, calls + asking)
    assert byte_model.stats.generate_calls == before + 1  # one batch served all six
    for alone, beside, asked in zip(plain, mixed[:3], mixed[3:], strict=True):
        assert alone.logprobs is None and beside.logprobs is None  # did not ask: None
        assert beside.text == alone.text  # a logprobs row beside changes nothing
        assert asked.text == alone.text and asked.usage == alone.usage
        assert asked.logprobs is not None
        assert len(asked.logprobs) == asked.usage.completion_tokens
        assert all(math.isfinite(v) and v <= 0 for v in asked.logprobs)
    # A short row in a longer batch: its padding steps add no entries.
    assert mixed[3].usage.completion_tokens <= 9 < mixed[5].usage.completion_tokens
    assert mixed[5].parsed is not None  # the schema'd row still completes its object


def test_a_sampled_row_reports_the_raw_distribution_not_the_forced_draw(
    byte_model: LocalModel,
) -> None:
    # A hot sample picks unlikely tokens: some logprobs fall well below greedy's.
    hot = byte_model.complete("the cat", temperature=2.0, seed=3, max_tokens=12, logprobs=True)
    greedy = byte_model.complete("the cat", max_tokens=12, logprobs=True)
    assert hot.logprobs is not None and greedy.logprobs is not None
    assert len(hot.logprobs) == hot.usage.completion_tokens
    assert min(hot.logprobs) < min(greedy.logprobs)
    assert all(v > -1e6 for v in hot.logprobs)  # the sampler's +inf bonus is never seen


def test_a_streamed_row_reports_logprobs_in_its_final_completion(byte_model: LocalModel) -> None:
    stream = byte_model.stream("the cat", max_tokens=8, logprobs=True)
    text = "".join(stream)
    c = stream.completion
    assert c is not None and c.text == text
    assert c.logprobs is not None and len(c.logprobs) == c.usage.completion_tokens


def test_cached_answers_keep_their_logprobs_and_plain_requests_do_not_hit_them(
    byte_model_path: Path, tmp_path: Path
) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    with LocalModel(
        byte_model_path, quantization=None, device="cpu", cache=cache, progress=False
    ) as model:
        a = model.complete("the mat", max_tokens=6, logprobs=True)
        b = model.complete("the mat", max_tokens=6, logprobs=True)
        plain = model.complete("the mat", max_tokens=6)
        calls = model.stats.generate_calls
    assert calls == 2  # b was a hit; plain is another key
    assert a.logprobs is not None and b.logprobs == a.logprobs
    assert Completion.from_dict(a.to_dict()).logprobs == a.logprobs
    assert plain.logprobs is None and plain.text == a.text


# -- the embedded model in 4-bit ---------------------------------------------------------------


@pytest.mark.slow
def test_edge_reports_one_finite_logprob_per_generated_token(edge_home: Path) -> None:
    import fusionkit as fk

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUSIONKIT_HOME", str(edge_home))
        edge = fk.edge_model(cache=False, device="cpu", progress=False, reuse=False)
    try:
        c = edge.complete("What is the capital of France?", max_tokens=12, logprobs=True)
    finally:
        edge.close()
    assert c.logprobs is not None
    assert len(c.logprobs) == c.usage.completion_tokens > 0
    assert all(math.isfinite(v) and v <= 0 for v in c.logprobs)
    assert c.mean_logprob is not None and c.mean_logprob > -5  # a confident, readable answer
