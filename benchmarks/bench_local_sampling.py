"""Seeded sampling rides the micro-batcher: a vote of 5 costs about one pass.

On the embedded SmolLM2-135M-Instruct in NF4, side by side in one process, rounds
alternating:

* one greedy answer of N new tokens (the reference pass);
* vote x5: five seeded requests (temperature 0.8, seeds 1-5) submitted together: one
  batched ``generate`` with a per-row sampler;
* best-of x3: three concurrent seeded requests;
* greedy x5 together: the same batch of 5 without the sampler (what batching alone costs
  on this machine; the gap to vote x5 is the sampler's);
* vote x5 one after another (what a seeded request cost before: each ran alone).

Open-ended prompts so rows use their budget; completion tokens are reported so a row that
ended early is visible. Target: vote x5 together <= 1.8x one greedy answer.

Usage:
    .venv/bin/python benchmarks/bench_local_sampling.py [--rounds 5] [--tokens 48]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusionkit.models.local import LocalModel  # noqa: E402
from fusionkit.models.local.embedded import edge_model  # noqa: E402

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


async def together(model: LocalModel, seeds: list[int], tokens: int) -> list[Any]:
    calls = (model.acomplete(PROMPT, temperature=0.8, seed=s, max_tokens=tokens) for s in seeds)
    return list(await asyncio.gather(*calls))


async def greedy_together(model: LocalModel, n: int, tokens: int) -> list[Any]:
    calls = (model.acomplete(PROMPT, max_tokens=tokens) for _ in range(n))
    return list(await asyncio.gather(*calls))


async def in_turn(model: LocalModel, seeds: list[int], tokens: int) -> list[Any]:
    return [
        await model.acomplete(PROMPT, temperature=0.8, seed=s, max_tokens=tokens) for s in seeds
    ]


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=48)
    args = parser.parse_args()
    n = args.tokens
    model = edge_model(cache=False, device="cpu")
    model.complete(PROMPT, max_tokens=4)  # first forward: bitsandbytes repacks its weights
    names = ["greedy x1", "vote x5", "greedy x5 together", "best-of x3", "vote x5 in turn"]
    cases: dict[str, list[float]] = {k: [] for k in names}
    tokens: dict[str, list[int]] = {k: [] for k in cases}
    for i in range(args.rounds):
        runs = {
            "greedy x1": lambda: [model.complete(PROMPT, max_tokens=n)],
            "vote x5": lambda: asyncio.run(together(model, [1, 2, 3, 4, 5], n)),
            "greedy x5 together": lambda: asyncio.run(greedy_together(model, 5, n)),
            "best-of x3": lambda: asyncio.run(together(model, [1, 2, 3], n)),
            "vote x5 in turn": lambda: asyncio.run(in_turn(model, [1, 2, 3, 4, 5], n)),
        }
        for name, fn in runs.items():
            wall, out = timed(fn)
            cases[name].append(wall)
            tokens[name].append(sum(c.usage.completion_tokens for c in out))
        print(f"round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in cases.items()))
    base = statistics.median(cases["greedy x1"])
    print(f"\nbatch sizes of the last round: {model.stats.batch_sizes[-10:]}")
    print("| case | median wall | x greedy | completion tokens (median) |")
    print("|---|---|---|---|")
    for name, walls in cases.items():
        med = statistics.median(walls)
        print(
            f"| {name} | {med:.2f} s | {med / base:.2f}x | {statistics.median(tokens[name]):.0f} |"
        )
    model.close()


if __name__ == "__main__":
    main()
