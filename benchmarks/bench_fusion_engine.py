"""Engine cost: how much time fusionkit itself spends per fusion, models taking zero time.

1,000 fusions (per mode) over zero-latency FakeModels, run one after another on one event
loop, so the wall time is fusionkit's own work: validation, scheduling the pool, events,
building the judge prompt (anonymise, shuffle, neutralise), parsing the verdict, building
the result. FakeModel's own bookkeeping (recording the call, counting words) is included,
so the figure is an upper bound. Target: under 3 ms per fusion.

Run:  .venv/bin/python benchmarks/bench_fusion_engine.py [--n 1000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import re
import statistics
import sys
import tempfile
import time

os.environ.setdefault("FUSIONKIT_HOME", tempfile.mkdtemp(prefix="fk-bench-"))
os.environ["FUSIONKIT_CACHE"] = "0"  # FakeModel is never cached anyway; be explicit

from fusionkit.fusion.engine import afuse  # noqa: E402
from fusionkit.models.fake import FakeModel  # noqa: E402
from fusionkit.types import Request  # noqa: E402

BLOCK = re.compile(r"<<<RESPONSE ([A-Z]{1,2})>>>")
ANSWERS = [
    "Let me work it out: 6 * 7 = 42. The answer is 42.",
    "6 times 7 is 42.",
    "The answer is 41.",
    "Final answer: 42",
    "Hmm, 6 * 7... I believe it is 42, since 6 * 7 = 6 + 6 + 6 + 6 + 6 + 6 + 6.",
]


def judge_reply(request: Request) -> str:
    if "consensus" in request.messages[-1].content and "Reply with only this JSON" in (
        request.messages[-1].content
    ):
        return json.dumps(
            {
                "consensus": ["42"],
                "contradictions": ["41"],
                "unique_insights": [],
                "blind_spots": [],
            }
        )
    if "Write the single best answer" in request.messages[-1].content:
        return "6 * 7 = 42."
    labels = BLOCK.findall(request.messages[-1].content)
    scores = {x: 5 + i % 4 for i, x in enumerate(labels)}
    return json.dumps({"scores": scores, "winner": labels[0], "rationale": "correct and short"})


def make_pool(k: int) -> list[FakeModel]:
    return [FakeModel(f"m{i}", ANSWERS[i % len(ANSWERS)]) for i in range(k)]


async def run(mode: str, n: int, k: int) -> list[float]:
    pool = make_pool(k)
    judge = FakeModel("judge", judge_reply)
    kwargs = {"rounds": 2} if mode == "debate" else {}
    times = []
    for i in range(n):
        t = time.perf_counter()
        await afuse(
            f"What is 6 * 7? (item {i})", pool, None if mode == "vote" else judge, mode, **kwargs
        )
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--profile", action="store_true", help="cProfile the best-of run")
    args = ap.parse_args()
    cases = [("best-of", 4), ("best-of", 8), ("vote", 5), ("merge", 4), ("debate", 3)]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, n={args.n} fusions per case\n")
    print("| mode | members | judge calls / fusion | mean ms | median ms | p95 ms | fusions/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode, k in cases:
        asyncio.run(run(mode, 20, k))  # warm-up: imports, regex compilation
        times = asyncio.run(run(mode, args.n, k))
        calls = {"best-of": 1, "vote": 0, "merge": 2, "debate": 1}[mode]
        ms = [t * 1000 for t in times]
        p95 = sorted(ms)[int(0.95 * len(ms))]
        print(
            f"| {mode} | {k} | {calls} | {statistics.mean(ms):.2f} | "
            f"{statistics.median(ms):.2f} | {p95:.2f} | {len(ms) / (sum(ms) / 1000):.0f} |"
        )
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        asyncio.run(run("best-of", args.n, 4))
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
