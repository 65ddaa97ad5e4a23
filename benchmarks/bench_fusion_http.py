"""Fusion over real HTTP: pool overhead and a load run with injected faults.

Everything runs against :class:`fusionkit.testing.FakeOpenAIServer` on 127.0.0.1 (uvicorn
in a thread of the same process) through :class:`OpenAICompatModel`, so each member call is
a real HTTP request with a fixed server-side delay.

1. **Overhead.** A pool of 8 members whose server delays are 50, 100, ..., 400 ms. Target:
   pool wall time / slowest member <= 1.05 (sequential would be the sum, 1.8 s = 4.5x).
   Reported both ways: against the slowest member as the engine measured it (scheduling
   skew only) and against the slowest member's configured delay (also counts HTTP and
   client work). Then a best-of fusion with a 100 ms judge: total / slowest delay, the
   figure OpenRouter's fusion is quoted at (1.2-1.3x).
2. **Load.** 200 concurrent fusions (best-of, 4 members + judge) with 2 % of requests
   answered by a random fault (500/502/503/429). Once with retries (``max_retries=2``) and
   once without (``max_retries=0``), so failures reach the engine. Checks: no crash, every
   fusion accounted for (an answer, or a typed error).

Run:  .venv/bin/python benchmarks/bench_fusion_http.py [--repeats 10] [--fusions 200]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import statistics
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("FUSIONKIT_HOME", tempfile.mkdtemp(prefix="fk-bench-"))

from fusionkit.fusion.engine import afuse  # noqa: E402
from fusionkit.fusion.many import afuse_many  # noqa: E402
from fusionkit.models.openai import OpenAICompatModel  # noqa: E402
from fusionkit.testing import FakeOpenAIServer  # noqa: E402

DELAYS_MS = [50, 100, 150, 200, 250, 300, 350, 400]
LABEL = re.compile(r"<<<RESPONSE ([A-Z]{1,2})>>>")


def judge_reply(body: dict[str, Any]) -> str:
    text = body["messages"][-1]["content"]
    labels = LABEL.findall(text)
    scores = {x: 6 + i % 3 for i, x in enumerate(labels)}
    return json.dumps({"scores": scores, "winner": labels[-1], "rationale": "ok"})


def members(srv: FakeOpenAIServer, names: list[str], **kw: Any) -> list[OpenAICompatModel]:
    return [OpenAICompatModel(n, base_url=srv.base_url, cache=False, **kw) for n in names]


async def overhead(srv: FakeOpenAIServer, repeats: int) -> dict[str, Any]:
    names = [f"d{d}" for d in DELAYS_MS]
    for n, d in zip(names, DELAYS_MS, strict=True):
        srv.configure(n, reply=f"The answer is 42 ({n}).", delay_s=d / 1000)
    srv.configure("judge", reply=judge_reply, delay_s=0.1)
    pool = members(srv, names)
    judge = OpenAICompatModel("judge", base_url=srv.base_url, cache=False)
    await afuse("warm up", pool, mode="vote", seed=0)  # open the connections
    await afuse("warm up", pool, judge, seed=0)
    ratio_engine, ratio_delay, pool_wall, totals, judged = [], [], [], [], []
    for i in range(repeats):
        r = await afuse(f"What is 6 * 7? #{i}", pool, mode="vote")
        assert len(r.succeeded) == 8, [c.error for c in r.failed]
        ratio_engine.append(r.timings.overhead_ratio)
        ratio_delay.append(r.timings.pool_wall_s / (max(DELAYS_MS) / 1000))
        pool_wall.append(r.timings.pool_wall_s)
    for i in range(repeats):
        r = await afuse(f"What is 7 * 6? #{i}", pool, judge)
        assert not r.judgment.fallback
        totals.append(r.timings.total_s / (max(DELAYS_MS) / 1000))
        judged.append(r.timings.total_s / ((max(DELAYS_MS) + 100) / 1000))
    for m in [*pool, judge]:
        await m.aclose()
    return {
        "pool_wall_ms": statistics.median(pool_wall) * 1000,
        "ratio_engine": (statistics.median(ratio_engine), max(ratio_engine)),
        "ratio_delay": (statistics.median(ratio_delay), max(ratio_delay)),
        "best_of_total_ratio": (statistics.median(totals), max(totals)),
        "best_of_vs_ideal": (statistics.median(judged), max(judged)),
        "sequential_ratio": sum(DELAYS_MS) / max(DELAYS_MS),
    }


async def load(srv: FakeOpenAIServer, fusions: int, retries: int, delay: float) -> dict[str, Any]:
    names = [f"load{i}" for i in range(4)]
    for k, n in enumerate(names):
        srv.configure(
            n,
            reply=f"The answer is 42 (member {k}).",
            delay_s=delay,
            fault_rate=0.02,
            seed=k + 100 * retries,
        )
    srv.configure(
        "load-judge", reply=judge_reply, delay_s=delay, fault_rate=0.02, seed=99 + retries
    )
    kw = {"max_retries": retries, "max_concurrency": 64}
    pool = members(srv, names, **kw)
    judge = OpenAICompatModel("load-judge", base_url=srv.base_url, cache=False, **kw)
    attempts_before = srv.attempts()
    t = time.perf_counter()
    df = await afuse_many(
        [f"What is {i} + {i}?" for i in range(fusions)],
        pool,
        judge,
        "best-of",
        concurrency=fusions,
        progress=False,
        cache=False,
    )
    wall = time.perf_counter() - t
    for m in [*pool, judge]:
        await m.aclose()
    answered = int(df["error"].isna().sum())
    typed = collections.Counter(df["error_type"].dropna())
    member_failures: collections.Counter[str] = collections.Counter()
    fallbacks = 0
    for r in df["result"].dropna():
        member_failures.update(c.error_type for c in r.failed)
        fallbacks += r.judgment.fallback
    assert len(df) == fusions and answered + sum(typed.values()) == fusions
    return {
        "fusions": fusions,
        "retries": retries,
        "answered": answered,
        "typed_errors": dict(typed),
        "member_failures": dict(member_failures),
        "judge_fallbacks": fallbacks,
        "requests": srv.attempts() - attempts_before,
        "wall_s": wall,
        "peak_in_flight": srv.max_in_flight(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--fusions", type=int, default=200)
    ap.add_argument("--delay", type=float, default=0.1, help="server delay in the load run")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with FakeOpenAIServer() as srv:
        o = asyncio.run(overhead(srv, args.repeats))
        print(
            f"\nOverhead, pool of 8 (delays {DELAYS_MS[0]}-{DELAYS_MS[-1]} ms), "
            f"{args.repeats} fusions, median (max):"
        )
        print(f"  pool wall time                    {o['pool_wall_ms']:.0f} ms")
        print(
            f"  pool wall / slowest member (engine) {o['ratio_engine'][0]:.3f} "
            f"({o['ratio_engine'][1]:.3f})"
        )
        print(
            f"  pool wall / slowest delay (400 ms)  {o['ratio_delay'][0]:.3f} "
            f"({o['ratio_delay'][1]:.3f})"
        )
        print(
            f"  best-of total (pool + 100 ms judge) / slowest delay "
            f"{o['best_of_total_ratio'][0]:.3f} ({o['best_of_total_ratio'][1]:.3f})"
        )
        print(
            f"  best-of total / (slowest delay + judge delay) "
            f"{o['best_of_vs_ideal'][0]:.3f} ({o['best_of_vs_ideal'][1]:.3f})"
        )
        print(f"  sequential would be                {o['sequential_ratio']:.2f}x")
        for retries in (2, 0):
            s = asyncio.run(load(srv, args.fusions, retries, args.delay))
            print(
                f"\nLoad: {s['fusions']} concurrent best-of fusions x (4 members + judge), "
                f"2 % faults, max_retries={retries}, server delay {args.delay * 1000:.0f} ms"
            )
            for k, v in s.items():
                print(f"  {k}: {round(v, 2) if isinstance(v, float) else v}")


if __name__ == "__main__":
    main()
