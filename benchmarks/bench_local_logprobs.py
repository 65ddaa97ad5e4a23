"""What ``logprobs=True`` costs on the local backend: a batch of 5 x 32 tokens, with vs without.

Five greedy rows (open-ended prompts, so each runs its whole budget) are served by one
batched ``generate`` on the embedded model in NF4 on the CPU, with and without
``logprobs=True`` on every row, the two cases alternating within each round. Also the
recorder's own cost per step measured apart (5 rows x the vocabulary, random logits).

Usage:
    .venv/bin/python benchmarks/bench_local_logprobs.py [--rounds 5] [--tokens 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusionkit.models.local import LocalModel  # noqa: E402
from fusionkit.models.local.embedded import edge_model  # noqa: E402

PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Describe how a bicycle works.",
    "Explain why the sky is blue.",
    "Write a poem about autumn leaves.",
    "Tell me about the history of bread.",
]


def batch(model: LocalModel, tokens: int, logprobs: bool) -> tuple[float, list[Any]]:
    """One batch of the five prompts; (wall seconds, completions)."""

    async def go() -> list[Any]:
        calls = (model.acomplete(p, max_tokens=tokens, logprobs=logprobs) for p in PROMPTS)
        return await asyncio.gather(*calls)

    start = time.perf_counter()
    rows = asyncio.run(go())
    return time.perf_counter() - start, rows


def recorder_step_ms(vocab: int, rows: int = 5, steps: int = 50) -> float:
    """Median milliseconds of one recorder call on ``rows`` x ``vocab`` random logits."""
    import torch

    from fusionkit.models.local.logprobs import logprob_recorder_class

    recorder = logprob_recorder_class()(list(range(rows)), rows)
    ids = torch.zeros(rows, 8, dtype=torch.long)
    times = []
    for _ in range(steps):
        scores = torch.randn(rows, vocab)
        start = time.perf_counter()
        recorder(ids, scores)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()

    model = edge_model(cache=False, device="cpu", batch_window_s=0.05)
    batch(model, 4, False)  # warm-up
    walls: dict[bool, list[float]] = {False: [], True: []}
    for r in range(args.rounds):
        for logprobs in (False, True) if r % 2 == 0 else (True, False):
            wall, rows = batch(model, args.tokens, logprobs)
            walls[logprobs].append(wall)
            done = sum(c.usage.completion_tokens for c in rows)
            if logprobs:
                assert all(len(c.logprobs) == c.usage.completion_tokens for c in rows)
            print(f"round {r + 1} logprobs={logprobs!s:5}  {wall:6.2f} s  {done} tokens")
    print(f"batches: {model.stats.batch_sizes}")
    load = os.getloadavg()[0]
    off, on = statistics.median(walls[False]), statistics.median(walls[True])
    print(f"\nload average {load:.1f}; median of {args.rounds} rounds, 5 rows x {args.tokens}")
    print(f"without logprobs  {off:.2f} s   ({', '.join(f'{w:.2f}' for w in walls[False])})")
    print(f"with logprobs     {on:.2f} s   ({', '.join(f'{w:.2f}' for w in walls[True])})")
    print(f"overhead          {100 * (on / off - 1):+.1f} %")
    vocab = model.model.config.vocab_size
    print(f"recorder alone: {recorder_step_ms(vocab):.2f} ms a step (5 rows x {vocab})")
    model.close()


if __name__ == "__main__":
    main()
