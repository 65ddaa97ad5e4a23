"""Quality, honestly reported: does fusing samples of the embedded edge model help?

On a generated task set with known answers (``fusionkit.tasks.make_tasks``: small
arithmetic and multiple-choice items), compare, with the embedded SmolLM2-135M in NF4 on
the CPU:

- **alone**: one greedy answer;
- **vote x5**: five sampled answers (temperature 0.7, seeds s..s+4), majority of the
  extracted answers (self-consistency), no judge;
- **best-of x3**: three samples, the same model as judge;
- **debate x3**: three samples, up to 2 revision rounds, the same model as judge.

Every answer is graded the same way: ``extract_answer`` (the vote mode's extractor, with
the options detected in the prompt) against the known answer. Also reported: latency per
item, how often the judge's reply was unreadable (re-ask and deterministic fallback), and
the oracle (any of the sampled candidates right), which bounds what a perfect judge could
reach. No target: the numbers are what they are.

Run:  .venv/bin/python benchmarks/bench_fusion_quality.py [--n 20] [--seed 0]
Takes about 45 s per item on a 2-core CPU (the conversion of the model, once, adds ~1 min).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

from fusionkit.fusion.engine import afuse
from fusionkit.fusion.result import FusionResult
from fusionkit.fusion.vote import detect_choices, extract_answer
from fusionkit.tasks import Task, make_tasks

MAX_TOKENS = 32
JUDGE_MAX_TOKENS = 64


def grade(task: Task, text: str) -> bool:
    return extract_answer(text, choices=detect_choices(task.prompt)) == task.answer


async def run_item(edge: Any, task: Task, seed: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    t = time.perf_counter()
    c = await edge.acomplete(task.prompt, max_tokens=MAX_TOKENS, temperature=0.0)
    out["alone"] = {"ok": grade(task, c.text), "s": time.perf_counter() - t}
    runs: list[tuple[str, list[Any], Any, str, dict[str, Any]]] = [
        ("vote x5", [edge] * 5, None, "vote", {}),
        ("best-of x3", [edge] * 3, edge, "best-of", {}),
        ("debate x3", [edge] * 3, edge, "debate", {"rounds": 2}),
    ]
    for name, pool, judge, mode, extra in runs:
        r: FusionResult = await afuse(
            task.prompt,
            pool,
            judge,
            mode,
            max_tokens=MAX_TOKENS,
            judge_max_tokens=JUDGE_MAX_TOKENS,
            seed=seed,
            **extra,
        )
        out[name] = {
            "ok": grade(task, r.answer),
            "s": r.timings.total_s,
            "fallback": r.judgment.fallback,
            "oracle": any(grade(task, c.text) for c in r.candidates),
            "rounds": max(len(r.rounds) - 1, 0),
        }
    return out


async def main_async(n: int, seed: int) -> None:
    from fusionkit.models.local.embedded import edge_model

    t = time.perf_counter()
    edge = edge_model(cache=False, device="cpu", progress=False)
    print(f"model: {edge!r}, loaded in {time.perf_counter() - t:.0f} s", flush=True)
    tasks = make_tasks(n, seed=seed)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    kinds: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for i, task in enumerate(tasks):
        res = await run_item(edge, task, seed * 1000 + i * 10)
        for name, row in res.items():
            rows[name].append(row)
            kinds[name][task.kind].append(row["ok"])
        marks = " ".join(f"{k}={'Y' if v['ok'] else 'n'}" for k, v in res.items())
        print(f"[{i + 1}/{n}] {task.id} ({task.answer}): {marks}", flush=True)
    print(
        f"\n{n} tasks (seed {seed}: {sum(t.kind == 'arithmetic' for t in tasks)} arithmetic, "
        f"{sum(t.kind == 'choice' for t in tasks)} multiple choice), max_tokens={MAX_TOKENS}, "
        f"judge_max_tokens={JUDGE_MAX_TOKENS}\n"
    )
    print(
        "| method | accuracy | arithmetic | multiple choice | oracle (any candidate right) "
        "| judge fallback | mean s / item | median s / item |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, items in rows.items():
        acc = sum(r["ok"] for r in items) / len(items)
        per_kind = []
        for kind in ("arithmetic", "choice"):
            v = kinds[name][kind]
            per_kind.append(f"{sum(v)}/{len(v)}" if v else "—")
        oracle = f"{sum(r['oracle'] for r in items)}/{len(items)}" if "oracle" in items[0] else "—"
        fb = (
            f"{sum(r['fallback'] for r in items)}/{len(items)}"
            if name in ("best-of x3", "debate x3")
            else "—"
        )
        secs = [r["s"] for r in items]
        print(
            f"| {name} | {acc:.0%} ({sum(r['ok'] for r in items)}/{len(items)}) | "
            f"{per_kind[0]} | {per_kind[1]} | {oracle} | {fb} | {statistics.mean(secs):.1f} | "
            f"{statistics.median(secs):.1f} |"
        )
    rounds = [r["rounds"] for r in rows["debate x3"]]
    print(
        f"\ndebate revision rounds per item: mean {statistics.mean(rounds):.2f} of 2; "
        f"{sum(r < 2 for r in rounds)}/{len(rounds)} items stopped early because the "
        "extracted answers agreed"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
    asyncio.run(main_async(args.n, args.seed))


if __name__ == "__main__":
    main()
