"""Local model benchmark: micro-batched vs one-at-a-time, NF4 vs fp32, and memory.

Five concurrent requests of 32 new tokens each on the embedded SmolLM2-135M-Instruct:

* micro-batched: ``asyncio.gather`` of five ``acomplete`` calls (one batched generate);
* one at a time: five sequential ``await acomplete(...)``;
* for reference, the same five prompts through one plain transformers ``generate`` (the
  micro-batcher's own overhead is the gap between this and micro-batched).

Both run side by side in one process, in NF4 (bitsandbytes 4-bit) and fp32, alternating
rounds so that machine noise hits both alike; the median round is reported. Then the
memory footprint of NF4, fp32 and bf16 loads. Target: micro-batched >= 2.5x one-at-a-time.

Usage:
    .venv/bin/python benchmarks/bench_local.py [--rounds 5] [--tokens 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusionkit.models.local import LocalModel  # noqa: E402
from fusionkit.models.local.embedded import embedded_model_path  # noqa: E402
from fusionkit.types import Completion  # noqa: E402

# Open-ended prompts, so that every request really generates its whole budget.
PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how photosynthesis works in detail.",
    "Describe a walk through a busy market in Marrakech.",
    "Write a letter to a friend about learning to cook.",
    "Tell me about the history of the bicycle.",
]


async def one_at_a_time(model: LocalModel, tokens: int) -> tuple[float, list[Completion]]:
    start = time.perf_counter()
    out = [await model.acomplete(p, max_tokens=tokens) for p in PROMPTS]
    return time.perf_counter() - start, out


async def batched(model: LocalModel, tokens: int) -> tuple[float, list[Completion]]:
    start = time.perf_counter()
    out = await asyncio.gather(*(model.acomplete(p, max_tokens=tokens) for p in PROMPTS))
    return time.perf_counter() - start, list(out)


def plain_generate(model: LocalModel, tokens: int) -> float:
    """The same five prompts through one plain transformers ``generate`` (the reference)."""
    import torch

    tok = model.tokenizer
    texts = [
        tok.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        for p in PROMPTS
    ]
    tok.padding_side = "left"
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    start = time.perf_counter()
    with torch.inference_mode():
        model.model.generate(
            **enc, max_new_tokens=tokens, do_sample=False, pad_token_id=tok.pad_token_id
        )
    return time.perf_counter() - start


def measure(model: LocalModel, rounds: int, tokens: int) -> dict[str, Any]:
    asyncio.run(model.acomplete("Hello", max_tokens=4))  # warm-up: first-call costs
    seq_s: list[float] = []
    bat_s: list[float] = []
    raw_s: list[float] = []
    generated = {"sequential": 0, "batched": 0}
    for _ in range(rounds):
        s, seq = asyncio.run(one_at_a_time(model, tokens))
        b, bat = asyncio.run(batched(model, tokens))
        raw_s.append(plain_generate(model, tokens))
        seq_s.append(s)
        bat_s.append(b)
        generated["sequential"] = sum(c.usage.completion_tokens for c in seq)
        generated["batched"] = sum(c.usage.completion_tokens for c in bat)
    s, b = statistics.median(seq_s), statistics.median(bat_s)
    return {
        "model": model.name,
        "sequential_s": round(s, 3),
        "batched_s": round(b, 3),
        "sequential_tok_s": round(generated["sequential"] / s, 1),
        "batched_tok_s": round(generated["batched"] / b, 1),
        "speedup": round(s / b, 2),
        # Each round's own ratio: neighbours' load hits a round's two halves alike.
        "speedup_per_round": [round(x / y, 2) for x, y in zip(seq_s, bat_s, strict=True)],
        "plain_generate_s": round(statistics.median(raw_s), 3),
        "tokens": generated,
        "batch_sizes": list(model.stats.batch_sizes[-(len(PROMPTS) + 1) :]),
        "rounds_s": {
            "sequential": [round(x, 3) for x in seq_s],
            "batched": [round(x, 3) for x in bat_s],
        },  # fmt: skip
    }


def footprint(path: Path, quantization: str | None, dtype: str | None) -> int:
    model = LocalModel(path, quantization=quantization, dtype=dtype, device="cpu", cache=False)
    size = model.memory_footprint_bytes
    model.close()
    gc.collect()
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    path = embedded_model_path()
    results: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "requests": len(PROMPTS),
        "tokens_per_request": args.tokens,
        "rounds": args.rounds,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "runs": [],
    }
    for quantization in ("4bit", None):
        model = LocalModel(path, quantization=quantization, device="cpu", cache=False)
        run = measure(model, args.rounds, args.tokens)
        run["quantization"] = quantization or "none (fp32)"
        run["memory_bytes"] = model.memory_footprint_bytes
        results["runs"].append(run)
        model.close()
        gc.collect()
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["memory_bytes"] = {
        "nf4": footprint(path, "4bit", None),
        "fp32": footprint(path, None, "float32"),
        "bf16": footprint(path, None, "bfloat16"),
    }

    print(f"\n{len(PROMPTS)} requests x {args.tokens} new tokens, median of {args.rounds} rounds")
    print(f"load average before/after: {results['load_average_before']} / {results['load_average_after']}")  # fmt: skip
    print("| load | one at a time | micro-batched | speed-up | plain batched generate |")
    print("|---|---|---|---|---|")
    for r in results["runs"]:
        print(
            f"| {r['quantization']} | {r['sequential_s']:.2f} s ({r['sequential_tok_s']} tok/s) "
            f"| {r['batched_s']:.2f} s ({r['batched_tok_s']} tok/s) | {r['speedup']}x "
            f"(rounds: {', '.join(f'{x}x' for x in r['speedup_per_round'])}) "
            f"| {r['plain_generate_s']:.2f} s |"
        )
    mem = results["memory_bytes"]
    print("\n| load | memory footprint |")
    print("|---|---|")
    for k, v in mem.items():
        print(f"| {k} | {v / 1e6:.0f} MB ({v / mem['fp32']:.0%} of fp32) |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
