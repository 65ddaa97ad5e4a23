"""Per-row decoding of the local backend: seeded sampling, grammars, loops, load line, store.

Fast tests run a tiny random Llama built in-process (a byte-level BPE tokenizer trained on
a few sentences, so llguidance can spell any JSON), unquantized on the CPU: no download,
no real model. Slow tests use the embedded SmolLM2-135M-Instruct in 4-bit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_helpers import SMALL, together

from fusionkit.models.local import LocalModel
from fusionkit.models.local.rows import looping_at
from fusionkit.models.local.sampling import RowPolicy
from fusionkit.models.local.stored import is_stored, stored_folder

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VERDICT = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "minLength": 10, "maxLength": 300},
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "verdict": {"enum": ["ship", "skip"]},
    },
    "required": ["reason", "score", "verdict"],
    "additionalProperties": False,
}

# -- pure logic --------------------------------------------------------------------------------


def test_looping_at_spots_a_repeated_span_and_nothing_else() -> None:
    assert looping_at([7] * 64)
    assert looping_at([1, 2, 3] * 30)
    assert looping_at(list(range(100)) + [5, 6, 7, 8, 9, 10, 11, 12] * 8)
    assert not looping_at([1, 2, 3] * 20)  # 60 ids: shorter than the span
    assert not looping_at(list(range(200)))
    assert not looping_at(list(range(20)) * 4)  # a period of 20 is longer than 16
    tail = [1, 2, 3] * 21 + [4]  # broken at the very end
    assert not looping_at(tail)


def test_row_sampler_leaves_greedy_rows_and_forces_one_token_per_sampling_row() -> None:
    from fusionkit.models.local.sampling import row_sampler_class

    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 50, generator=gen)
    policies = [RowPolicy(0.0), RowPolicy(0.8, seed=1), RowPolicy(1.2, top_p=0.5, seed=2)]
    out = row_sampler_class()(policies)(torch.zeros(3, 4, dtype=torch.long), scores.clone())
    assert torch.equal(out[0], scores[0])  # greedy: untouched
    for row in (1, 2):  # the draw is the one +inf: argmax must pick it
        assert int(torch.isinf(out[row]).sum()) == 1 and out[row].max() == float("inf")


def test_a_row_draws_the_same_tokens_whatever_rows_are_beside_it() -> None:
    from fusionkit.models.local.sampling import row_sampler_class

    gen = torch.Generator().manual_seed(1)
    steps = [torch.randn(4, 80, generator=gen) for _ in range(12)]

    def draws(policies: list[RowPolicy], row: int, rows: list[int]) -> list[int]:
        sampler = row_sampler_class()(policies)
        ids = torch.zeros(len(rows), 1, dtype=torch.long)
        return [int(sampler(ids, s[rows])[row].argmax()) for s in steps]

    seeded = RowPolicy(0.9, top_p=0.95, seed=42)
    alone = draws([seeded], 0, [0])
    in_batch = draws([RowPolicy(0.0), RowPolicy(0.7, seed=5), seeded], 2, [2, 1, 0])
    assert alone == in_batch
    assert alone != draws([RowPolicy(0.9, top_p=0.95, seed=43)], 0, [0])  # the seed matters


def test_top_p_keeps_the_smallest_set_that_reaches_it() -> None:
    import numpy as np

    from fusionkit.models.local.sampling import row_sampler_class

    sampler = row_sampler_class()
    logits = np.log(np.array([0.1, 0.6, 0.3], dtype=np.float32))

    def picks(policy: RowPolicy, n: int) -> set[int]:
        values, ids = sampler.top(logits, policy)
        return {sampler.draw(values, ids, policy, torch.Generator().manual_seed(s)) for s in range(n)}  # fmt: skip

    assert picks(RowPolicy(1.0, top_p=0.5), 40) == {1}
    assert picks(RowPolicy(1.0, top_p=0.8), 80) == {1, 2}
    assert picks(RowPolicy(1.0, top_k=1), 40) == {1}
    assert picks(RowPolicy(1.0), 200) == {0, 1, 2}


def test_stored_folder_is_keyed_on_the_source_files_and_the_dtype(tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "config.json").write_text("{}")
    (source / "model.safetensors").write_bytes(b"x" * 10)
    first = stored_folder(tmp_path / "store", source, quantization="4bit", dtype="float32")
    assert first == stored_folder(tmp_path / "store", source, quantization="4bit", dtype="float32")
    assert first != stored_folder(tmp_path / "store", source, quantization="4bit", dtype="bfloat16")
    (source / "model.safetensors").write_bytes(b"y" * 11)  # new weights: a new folder
    assert first != stored_folder(tmp_path / "store", source, quantization="4bit", dtype="float32")
    assert first.name.startswith("model-4bit-") and not is_stored(first)


# -- a tiny random model with a byte-level tokenizer ------------------------------------------


# The byte_model / byte_model_path fixtures are in conftest.py.


def test_seeded_rows_give_the_same_text_alone_and_in_one_mixed_batch(
    byte_model: LocalModel,
) -> None:
    seeded = {"temperature": 0.9, "seed": 11, "max_tokens": 12}
    alone = byte_model.complete("the cat", **seeded)
    greedy_alone = byte_model.complete("the mat", max_tokens=12)
    before = byte_model.stats.generate_calls
    rows = together(
        byte_model,
        [
            ("the mat", {"max_tokens": 12}),  # same prompt length: no padding
            ("the cat", seeded),
            ("the cat", {"temperature": 1.3, "seed": 3, "top_p": 0.9, "max_tokens": 12}),
            ("the cat", {"temperature": 0.9, "seed": 12, "max_tokens": 12}),
        ],
    )
    assert byte_model.stats.generate_calls == before + 1  # one generate served them all
    assert rows[1].text == alone.text and rows[1].usage == alone.usage
    assert rows[0].text == greedy_alone.text  # greedy rows are untouched by the sampler
    assert len({r.text for r in rows[1:]}) > 1  # other seeds, other texts


def test_a_schema_row_returns_a_valid_object_and_leaves_its_neighbours_alone(
    byte_model: LocalModel,
) -> None:
    import jsonschema

    plain_alone = byte_model.complete("the cat", max_tokens=10)
    rows = together(
        byte_model,
        [
            ("the cat", {"max_tokens": 10}),
            ("the mat", {"schema": SMALL, "max_tokens": 80}),
            ("the mat", {"schema": SMALL, "max_tokens": 80, "temperature": 1.0, "seed": 4}),
        ],
    )
    assert rows[0].text == plain_alone.text and rows[0].parsed is None
    for row in rows[1:]:
        assert row.finish_reason == "stop"  # the grammar ended the row, not the budget
        jsonschema.validate(json.loads(row.text), SMALL)
        assert row.parsed == json.loads(row.text)


def test_a_schema_row_closes_its_string_before_its_budget_ends(byte_model: LocalModel) -> None:
    from fusionkit.models.local.constrained import closing_reserve

    long_note = {
        "type": "object",
        "properties": {"note": {"type": "string", "maxLength": 400}, "ok": {"type": "boolean"}},
        "required": ["note", "ok"],
        "additionalProperties": False,
    }
    assert closing_reserve(40) == 16 and closing_reserve(200) == 50 and closing_reserve(20) == 10
    for seed in range(4):  # a random model writes on inside the string until pushed
        c = byte_model.complete(
            "the cat", schema=long_note, max_tokens=40, temperature=1.0, seed=seed
        )
        assert c.finish_reason == "stop" and c.usage.completion_tokens <= 40
        assert set(c.parsed) == {"note", "ok"}


def test_a_schema_the_engine_cannot_compile_decodes_unconstrained_and_is_still_validated(
    byte_model: LocalModel,
) -> None:
    from fusionkit.errors import StructuredOutputError

    lookbehind = {"type": "string", "pattern": "(?<=a)b"}  # no regex engine of llguidance's
    with pytest.warns(UserWarning, match="cannot constrain"):
        with pytest.raises(StructuredOutputError):
            byte_model.complete("the cat", schema=lookbehind, max_tokens=4)


def test_loading_prints_one_line_and_progress_false_prints_nothing(
    byte_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    LocalModel(byte_model_path, quantization=None, device="cpu", cache=False).close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fusionkit: loading byte-model") and "done in" in err
    LocalModel(byte_model_path, quantization=None, device="cpu", progress=False).close()
    assert capsys.readouterr() == ("", "")


@pytest.mark.slow
def test_a_4bit_load_stores_its_weights_and_the_next_load_reads_them(
    byte_model_path: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    cold = LocalModel(byte_model_path, device="cpu", progress=False, quantized_store=store)
    assert not cold.warm_start
    stored = [p for p in store.iterdir() if not p.name.startswith(".")]  # not the lock file
    assert len(stored) == 1 and is_stored(stored[0])
    warm = LocalModel(byte_model_path, device="cpu", progress=False, quantized_store=store)
    assert warm.warm_start and warm.memory_footprint_bytes == cold.memory_footprint_bytes
    assert (
        warm.complete("the cat", max_tokens=8).text == cold.complete("the cat", max_tokens=8).text
    )
    cold.close()
    warm.close()


# -- the embedded model in 4-bit ---------------------------------------------------------------


@pytest.fixture(scope="module")
def edge(edge_home: Path) -> Iterator[LocalModel]:
    from fusionkit.models.local.embedded import edge_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUSIONKIT_HOME", str(edge_home))
        model = edge_model(cache=False, device="cpu", progress=False, reuse=False)
    yield model
    model.close()


@pytest.mark.slow
def test_edge_writes_valid_non_degenerate_verdicts(edge: LocalModel) -> None:
    ask = "Review this product: {}. Answer with a JSON object: a reason, a score from 0 to 100, and a verdict, ship or skip."  # noqa: E501
    tools = ["a CLI that formats SQL files", "a browser extension that blocks all images"]
    prompts = [ask.format(t) for t in [*tools, "a solar phone charger that works in the shade"]]
    rows = together(edge, [(p, {"schema": VERDICT, "max_tokens": 160}) for p in prompts])
    for row in rows:
        obj = row.parsed
        assert row.finish_reason == "stop" and obj == json.loads(row.text)
        assert 10 <= len(obj["reason"]) <= 300 and obj["verdict"] in ("ship", "skip")
        assert len(set(obj["reason"].split())) >= 3  # words, not one token repeated


@pytest.mark.slow
def test_edge_seeded_rows_match_alone_inside_a_batch(edge: LocalModel) -> None:
    prompt = "Name a fruit."
    alone = [edge.complete(prompt, temperature=0.8, seed=s, max_tokens=10).text for s in (1, 2)]
    before = edge.stats.generate_calls
    rows = together(
        edge,
        [(prompt, {"temperature": 0.8, "seed": s, "max_tokens": 10}) for s in (1, 2, 3)]
        + [(prompt, {"max_tokens": 10})],
    )
    assert edge.stats.generate_calls == before + 1
    assert [r.text for r in rows[:2]] == alone


@pytest.mark.slow
def test_edge_second_start_loads_the_stored_4bit_weights(edge_home: Path) -> None:
    import bitsandbytes as bnb

    from fusionkit.models.local.embedded import edge_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUSIONKIT_HOME", str(edge_home))
        edge_model(cache=False, device="cpu", progress=False, reuse=False).close()  # stores
        again = edge_model(cache=False, device="cpu", progress=False, reuse=False)
    try:
        assert again.warm_start
        stored = [p for p in (edge_home / "models" / "quantized").iterdir() if is_stored(p)]
        assert len(stored) == 1 and stored[0].name.startswith("smollm2-135m-instruct-4bit-")
        q_proj = again.model.model.layers[0].self_attn.q_proj
        assert isinstance(q_proj, bnb.nn.Linear4bit) and q_proj.weight.quant_type == "nf4"
        assert "Paris" in again.complete("What is the capital of France?", max_tokens=12).text
    finally:
        again.close()
    assert os.environ.get("FUSIONKIT_HOME") != str(edge_home)
