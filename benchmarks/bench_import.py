"""How long ``import fusionkit`` takes, in fresh interpreters; and that torch stays out.

Each run starts a new Python process that times ``import fusionkit`` with
``time.perf_counter`` (the interpreter's own start-up is not counted) and reports whether
torch, transformers or bitsandbytes got imported. Target: median < 0.5 s.

Usage:
    .venv/bin/python benchmarks/bench_import.py [--runs 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys, time
t = time.perf_counter()
import fusionkit
dt = time.perf_counter() - t
heavy = sorted(m for m in ("torch", "transformers", "bitsandbytes") if m in sys.modules)
print(dt, ",".join(heavy))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import_s: list[float] = []
    process_s: list[float] = []
    heavy: set[str] = set()
    for _ in range(args.runs):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
        )
        process_s.append(time.perf_counter() - start)
        seconds, _, modules = out.stdout.strip().partition(" ")
        import_s.append(float(seconds))
        heavy.update(m for m in modules.split(",") if m)
    result = {
        "runs": args.runs,
        "import_median_s": round(statistics.median(import_s), 3),
        "import_min_s": round(min(import_s), 3),
        "import_max_s": round(max(import_s), 3),
        "process_median_s": round(statistics.median(process_s), 3),
        "heavy_modules_imported": sorted(heavy),
        "target_s": 0.5,
    }
    result["ok"] = result["import_median_s"] < 0.5 and not heavy
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if not result["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
