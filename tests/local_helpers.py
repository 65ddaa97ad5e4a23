"""A tiny random Llama with a byte-level BPE tokenizer, built offline in a second or two.

Shared by the local backend's fast tests (rows, logprobs): real transformers generation
and the real micro-batcher, without the 135M model.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fusionkit.models.local import LocalModel

#: A short verdict schema the tiny model can complete within a small budget.
SMALL = {
    "type": "object",
    "properties": {
        "verdict": {"enum": ["ship", "skip"]},
        "note": {"type": "string", "maxLength": 12},
    },
    "required": ["verdict", "note"],
    "additionalProperties": False,
}


def build_byte_model(path: Path) -> Path:
    """Write the tiny model and its tokenizer into ``path``; returns ``path``."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = ['{"verdict": "ship", "note": "fine"}', "the cat sat on the mat", "ship skip"] * 5
    tok.train_from_iterator(corpus, trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def open_byte_model(path: Path) -> LocalModel:
    """The tiny model in fp32 on the CPU, uncached, with a generous batching window."""
    return LocalModel(
        path, quantization=None, device="cpu", cache=False, batch_window_s=0.2, progress=False
    )


def together(model: LocalModel, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Send every call at once (so they share micro-batches) and return the completions."""

    async def go() -> list[Any]:
        return await asyncio.gather(*(model.acomplete(p, **kw) for p, kw in calls))

    return asyncio.run(go())
