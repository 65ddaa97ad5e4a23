"""Warm start: loading the stored 4-bit weights vs quantizing the fp32 weights at each start.

Each load runs in a fresh interpreter (as a notebook kernel or a CLI run starts), timing
only the ``LocalModel(...)`` constructor (imports excluded, the same for both): "quantize
at load" is today's warm start before this change (the converted fp32 safetensors folder
quantized to NF4 on every start), "stored NF4" loads the packed weights kept by the first
load. Rounds alternate the two so machine noise hits both alike; medians are reported.
Target: stored <= 0.3x quantize-at-load.

Usage:
    .venv/bin/python benchmarks/bench_local_warm.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusionkit.models.local.embedded import embedded_model_path  # noqa: E402

CHILD = """
import json, sys, time
import torch, transformers, bitsandbytes  # imports are not what is measured
from fusionkit.models.local import LocalModel
store = sys.argv[2] if sys.argv[2] != "-" else None
start = time.perf_counter()
model = LocalModel(sys.argv[1], device="cpu", progress=False, quantized_store=store, cache=False)
load = time.perf_counter() - start
start = time.perf_counter()
text = model.complete("What is the capital of France?", max_tokens=12).text
print(json.dumps({"load_s": load, "warm": model.warm_start, "first_answer_s": time.perf_counter() - start, "text": text}))
"""


def run(path: Path, store: Path | None) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(store) if store else "-"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    path = embedded_model_path(progress=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "quantized"
        first = run(path, store)  # the first load quantizes and stores
        print(f"first load (quantize + store): {first['load_s']:.2f} s, warm={first['warm']}")
        cold: list[float] = []
        warm: list[float] = []
        texts = set()
        for i in range(args.rounds):
            a = run(path, None)
            b = run(path, store)
            assert b["warm"] and not a["warm"]
            cold.append(float(a["load_s"]))  # type: ignore[arg-type]
            warm.append(float(b["load_s"]))  # type: ignore[arg-type]
            texts |= {a["text"], b["text"]}
            print(f"round {i + 1}: quantize at load {cold[-1]:.2f} s, stored NF4 {warm[-1]:.2f} s")
    mc, mw = statistics.median(cold), statistics.median(warm)
    print(f"median: quantize at load {mc:.2f} s, stored NF4 {mw:.2f} s, ratio {mw / mc:.2f}x")
    print(f"same greedy answer both ways: {len(texts) == 1} ({texts})")


if __name__ == "__main__":
    main()
