"""best-of ×3 with the edge model as judge vs one greedy answer of the same length (issue 8).

Run: .venv/bin/python -W ignore benchmarks/bench_fusion_edge_wall.py  (about 2 minutes on 2 CPU cores)
"""

import asyncio
import statistics
import time

import fusionkit as fk

PROMPTS = [
    "Explain in two sentences why the sky is blue.",
    "Give two tips for writing clear emails.",
    "Describe a cat to someone who has never seen one.",
]


async def main() -> None:
    edge = fk.edge_model(progress=False)
    await edge.acomplete("warm up", max_tokens=4, cache=False)
    rows = []
    for rnd in range(3):
        for p in PROMPTS:
            t = time.perf_counter()
            c = await edge.acomplete(p, max_tokens=48, cache=False)
            one = time.perf_counter() - t
            t = time.perf_counter()
            r = await fk.afuse(
                p,
                pool=[edge] * 3,
                judge=edge,
                mode="best-of",
                max_tokens=48,
                judge_max_tokens=96,
                cache=False,
                progress=False,
                seed=rnd,
            )
            bo = time.perf_counter() - t
            rows.append((one, bo, c.usage.completion_tokens, r.judgment.fallback))
            print(
                f"one {one:.2f}s ({c.usage.completion_tokens} tok)  best-of x3 {bo:.2f}s  ratio {bo / one:.2f}  fallback={r.judgment.fallback}",
                flush=True,
            )
    ratios = [b / o for o, b, _, _ in rows]
    print(
        f"median ratio {statistics.median(ratios):.2f} (n={len(ratios)}), fallbacks {sum(f for *_, f in rows)}"
    )


asyncio.run(main())
