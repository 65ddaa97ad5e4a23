"""The embedded edge model on a GPU: does the 4-bit path work, and what does it cost?

Run on a machine with a CUDA GPU (it runs on the CPU too, for a rehearsal, with
``--device cpu``). In one process:

1. **Load**: the embedded SmolLM2-135M-Instruct from its GGUF (converted once into
   ``$FUSIONKIT_HOME``), in NF4 on ``--device``: the first load (quantizes and stores the
   packed weights) and a warm load (reads them back); device, compute dtype, weight memory.
2. **Checks** a person relies on, each printed as ``ok`` or ``FAIL``: a greedy answer is
   non-empty and repeatable; a schema'd answer (grammar-constrained by llguidance) parses
   and validates; per-token log-probabilities come back, one per generated token, all
   <= 0; seeded samples repeat with the same seed; a batch of concurrent requests answers
   each request (no row mixed up with another).
3. **Throughput** of the micro-batcher, NF4 against the same model unquantized (bf16 on
   CUDA, fp32 on the CPU), side by side in one run with alternating rounds: ``B``
   concurrent greedy requests of ``--tokens`` new tokens each, for every ``B`` in
   ``--batches``; the median round's wall time, tokens per second (all rows), and the
   ratio NF4 / unquantized.

Writes ``<out>.json`` and ``<out>.md``; exits 1 if a check failed.

Usage:
    python benchmarks/bench_local_gpu.py --out reports/gpu/edge
    python benchmarks/bench_local_gpu.py --device cpu --batches 1,4 --tokens 16 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fusionkit as fk  # noqa: E402
from fusionkit import config  # noqa: E402
from fusionkit.models.local import LocalModel  # noqa: E402
from fusionkit.models.local.embedded import embedded_model_path  # noqa: E402

PROMPT = "What is the capital of France? Answer in one sentence."
OPEN_PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how photosynthesis works in detail.",
    "Describe a walk through a busy market in Marrakech.",
    "Write a letter to a friend about learning to cook.",
    "Tell me about the history of the bicycle.",
    "Describe the life cycle of a star.",
    "Explain why the sky is blue to a child.",
    "Give advice to someone starting to run.",
]
VERDICT = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "maxLength": 40},
        "confidence": {"type": "integer", "minimum": 0, "maximum": 100},
    },
    "required": ["answer", "confidence"],
    "additionalProperties": False,
}


def _sync(torch: Any, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def load(folder: Path, device: str, quantization: str | None) -> tuple[LocalModel, float]:
    t = time.perf_counter()
    m = LocalModel(
        folder,
        quantization=quantization,
        device=device,
        max_batch_size=256,
        progress=False,
        quantized_store=config.home() / "models" / "quantized" if quantization else None,
    )
    return m, time.perf_counter() - t


def checks(m: LocalModel) -> list[tuple[str, bool, str]]:
    """The behaviours a person relies on, each with what was seen."""
    out: list[tuple[str, bool, str]] = []
    a = m.complete(PROMPT, max_tokens=24, temperature=0.0, cache=False)
    b = m.complete(PROMPT, max_tokens=24, temperature=0.0, cache=False)
    out.append(("greedy answer non-empty", bool(a.text.strip()), repr(a.text[:80])))
    out.append(("greedy answer repeats", a.text == b.text, repr(b.text[:80])))
    try:
        s = m.complete(
            "Name the capital of Italy and how sure you are.",
            max_tokens=40,
            temperature=0.0,
            schema=VERDICT,
            cache=False,
        )
        out.append(("schema'd answer parses and validates", s.parsed is not None, repr(s.text)))
    except fk.FusionkitError as exc:
        out.append(("schema'd answer parses and validates", False, f"{type(exc).__name__}: {exc}"))
    lp = m.complete(PROMPT, max_tokens=16, temperature=0.0, logprobs=True, cache=False)
    values = list(lp.logprobs or ())
    n_tokens = lp.usage.completion_tokens if lp.usage else None
    ok = bool(values) and all(v <= 0 for v in values) and len(values) == n_tokens
    out.append(("logprobs: one per token, all <= 0", ok, f"{len(values)} for {n_tokens} tokens"))
    s1 = m.complete(PROMPT, max_tokens=16, temperature=0.9, seed=7, cache=False)
    s2 = m.complete(PROMPT, max_tokens=16, temperature=0.9, seed=7, cache=False)
    out.append(("seeded sample repeats", s1.text == s2.text, repr(s1.text[:60])))

    async def batch() -> list[Any]:
        return await asyncio.gather(
            *(m.acomplete(p, max_tokens=12, temperature=0.0, cache=False) for p in OPEN_PROMPTS)
        )

    together = asyncio.run(batch())
    alone = [m.complete(p, max_tokens=12, temperature=0.0, cache=False) for p in OPEN_PROMPTS]
    same = sum(x.text == y.text for x, y in zip(together, alone, strict=True))
    # Padding changes the float sums of a batched row a little, so a greedy row may
    # diverge late; every row must still answer its own prompt and most must be identical.
    own = all(x.text.strip() for x in together)
    out.append(
        (
            "batched rows answer their own prompts",
            own and same >= len(OPEN_PROMPTS) // 2,
            f"{same}/{len(OPEN_PROMPTS)} identical to one-at-a-time",
        )
    )
    return out


async def _round(m: LocalModel, batch: int, tokens: int) -> float:
    prompts = [OPEN_PROMPTS[i % len(OPEN_PROMPTS)] + f" ({i})" for i in range(batch)]
    t = time.perf_counter()
    done = await asyncio.gather(
        *(m.acomplete(p, max_tokens=tokens, temperature=0.0, cache=False) for p in prompts)
    )
    wall = time.perf_counter() - t
    short = [c for c in done if c.usage and c.usage.completion_tokens < tokens]
    if short:  # an early end-of-text would flatter the figure
        print(f"  note: {len(short)}/{batch} rows stopped before {tokens} tokens")
    return wall


def throughput(
    models: dict[str, LocalModel], batches: list[int], tokens: int, rounds: int
) -> list[dict[str, Any]]:
    rows = []
    for batch in batches:
        times: dict[str, list[float]] = {k: [] for k in models}
        for m in models.values():  # warm-up: kernels, allocator, grammar tables
            asyncio.run(_round(m, batch, 4))
        for _ in range(rounds):
            for name, m in models.items():  # alternate, so noise hits both alike
                times[name].append(asyncio.run(_round(m, batch, tokens)))
        row: dict[str, Any] = {"batch": batch, "tokens": tokens}
        for name, ts in times.items():
            med = statistics.median(ts)
            row[f"{name}_s"] = med
            row[f"{name}_tok_s"] = batch * tokens / med
        names = list(models)
        if len(names) == 2:
            row["ratio"] = row[f"{names[0]}_s"] / row[f"{names[1]}_s"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batches", default="1,8,32,64")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="reports/gpu/edge")
    args = ap.parse_args()
    import torch

    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "fusionkit": fk.__version__,
        "argv": sys.argv,
    }
    for pkg in ("transformers", "bitsandbytes", "llguidance"):
        try:
            report[pkg] = __import__(pkg).__version__
        except Exception as exc:  # noqa: BLE001 - recorded, not fatal
            report[pkg] = f"missing ({type(exc).__name__})"
    print(json.dumps(report), flush=True)

    t = time.perf_counter()
    folder = embedded_model_path(progress=False)
    report["convert_s"] = time.perf_counter() - t
    first, report["load_first_s"] = load(folder, args.device, "4bit")
    report["device"], report["compute_dtype"] = first.device, first.dtype
    asyncio.run(first.aclose())
    del first
    gc.collect()
    nf4, report["load_warm_s"] = load(folder, args.device, "4bit")
    report["warm_start"] = nf4.warm_start
    report["nf4_footprint_bytes"] = nf4.memory_footprint_bytes
    print(json.dumps({k: report[k] for k in report if "load" in k or "device" in k}), flush=True)

    found = checks(nf4)
    report["checks"] = [{"check": c, "ok": ok, "seen": seen} for c, ok, seen in found]
    for c, ok, seen in found:
        print(f"{'ok  ' if ok else 'FAIL'} {c}: {seen}", flush=True)

    plain, report["load_plain_s"] = load(folder, args.device, None)
    report["plain_dtype"] = plain.dtype
    report["plain_footprint_bytes"] = plain.memory_footprint_bytes
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    rows = throughput({"nf4": nf4, "plain": plain}, batches, args.tokens, args.rounds)
    report["throughput"] = rows
    if torch.cuda.is_available() and nf4.device.startswith("cuda"):
        report["cuda_max_allocated_bytes"] = int(torch.cuda.max_memory_allocated())

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    lines = [
        f"{report['gpu'] or 'CPU'}; torch {report['torch']} (CUDA {report['cuda']}), "
        f"transformers {report['transformers']}, bitsandbytes {report['bitsandbytes']}; "
        f"device {report['device']}, compute dtype {report['compute_dtype']}; first NF4 load "
        f"{report['load_first_s']:.1f} s, warm {report['load_warm_s']:.1f} s; footprint NF4 "
        f"{report['nf4_footprint_bytes'] / 1e6:.0f} MB vs {report['plain_dtype']} "
        f"{report['plain_footprint_bytes'] / 1e6:.0f} MB.",
        "",
        "| check | result | seen |",
        "|---|---|---|",
        *(f"| {c} | {'ok' if ok else 'FAIL'} | {seen} |" for c, ok, seen in found),
        "",
        f"| concurrent requests × {args.tokens} tokens | NF4 wall | NF4 tokens/s | "
        f"{report['plain_dtype']} wall | {report['plain_dtype']} tokens/s | NF4 / "
        f"{report['plain_dtype']} time |",
        "|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['batch']} | {r['nf4_s']:.2f} s | {r['nf4_tok_s']:.0f} | {r['plain_s']:.2f} s "
            f"| {r['plain_tok_s']:.0f} | {r['ratio']:.2f} |"
            for r in rows
        ),
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    sys.exit(0 if all(ok for _, ok, _ in found) else 1)


if __name__ == "__main__":
    main()
