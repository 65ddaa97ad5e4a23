"""How often is the judge's verdict readable on the DEFAULT embedded model?

The demo's setting, run as a newcomer runs it: the embedded SmolLM2-135M (NF4, CPU) is
every pool member AND the judge, on the demo's task set (``fusionkit.tasks.make_tasks``),
with ``evaluation.standard_conditions``' options (Self-MoA samples at 0.7, judge replies
of at most 64 tokens, one debate round) plus merge. For each fused answer it records:

- **readable**: the verdict was read (no deterministic fallback) — best-of, debate and
  vote tie-breaks: a winner; merge: an analysis AND a synthesis;
- **first try**: readable without the re-ask;
- **structured**: the judge's reply matched the requested JSON Schema (a backend with
  grammar-constrained decoding should make this 100 %);
- **cut off**: judge replies that hit the token limit.

Target (issue 8): readable >= 95 % for best-of, merge and debate.

Run:  .venv/bin/python benchmarks/bench_fusion_verdicts.py [--n 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import defaultdict
from typing import Any

from fusionkit.fusion.engine import afuse
from fusionkit.fusion.prepare import SELF_MOA_TEMPERATURE
from fusionkit.fusion.result import FusionResult
from fusionkit.tasks import grade, make_tasks

MODES = ("best-of", "merge", "debate", "vote")


def _readable(r: FusionResult) -> bool | None:
    """None when no judge verdict was needed (one answer, or a vote with a majority)."""
    j = r.judgment
    if j.method == "single" or (j.method == "vote" and j.tie_break != "judge" and not j.fallback):
        return None if j.tie_break is None else not j.fallback
    if r.mode == "merge":
        return j.method == "merge" and j.analysis is not None and not j.fallback
    return not j.fallback


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--judge-max-tokens", type=int, default=64)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--json", default=None, help="write the raw rows here")
    args = p.parse_args()
    os.environ.setdefault("FUSIONKIT_CACHE", "0")  # measure afresh

    import fusionkit as fk

    edge = fk.edge_model()
    tasks = make_tasks(args.n, seed=args.seed)
    rows: list[dict[str, Any]] = []
    for mode in args.modes.split(","):
        size = 5 if mode == "vote" else 3
        t0 = time.perf_counter()

        async def one(task: Any, mode: str = mode, size: int = size) -> FusionResult:
            return await afuse(
                task.prompt,
                [edge] * size,
                judge=edge,
                mode=mode,
                rounds=1,
                temperature=SELF_MOA_TEMPERATURE,
                seed=args.seed,
                max_tokens=args.max_tokens,
                judge_max_tokens=args.judge_max_tokens,
                progress=False,
            )

        results = await asyncio.gather(*(one(t) for t in tasks))
        wall = time.perf_counter() - t0
        for task, r in zip(tasks, results, strict=True):
            calls = r.judge_calls
            first = [c for c in calls if not c.step.endswith("-retry")]
            rows.append(
                {
                    "mode": mode,
                    "task": task.id,
                    "readable": _readable(r),
                    "first_try": _readable(r) and not any(c.step.endswith("-retry") for c in calls),
                    "judge_calls": len(calls),
                    "structured": sum(bool(c.structured) for c in calls),
                    "schema_calls": sum(c.structured is not None for c in calls),
                    "first_structured": sum(bool(c.structured) for c in first),
                    "cut_off": sum(
                        c.usage.completion_tokens == args.judge_max_tokens for c in calls
                    ),
                    "method": r.judgment.method,
                    "fallback_reason": r.judgment.fallback_reason,
                    "correct": grade(task, r.answer)[1],
                    "wall_s": wall / len(tasks),
                    "raw": [c.text for c in calls],
                }
            )
        print(f"{mode}: {wall:.1f} s for {len(tasks)} tasks", file=sys.stderr, flush=True)

    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by[row["mode"]].append(row)
    print(
        "\n| mode | verdicts needed | readable | first try | judge calls | schema-valid replies "
        "| cut off | correct | s / task |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for mode, rs in by.items():
        needed = [r for r in rs if r["readable"] is not None]
        ok = sum(bool(r["readable"]) for r in needed)
        first = sum(bool(r["first_try"]) for r in needed)
        calls = sum(r["judge_calls"] for r in rs)
        schema = sum(r["schema_calls"] for r in rs)
        structured = sum(r["structured"] for r in rs)
        pct = lambda a, b: f"{a}/{b} ({100 * a / b:.0f} %)" if b else "—"  # noqa: E731
        print(
            f"| {mode} | {len(needed)} | {pct(ok, len(needed))} | {pct(first, len(needed))} "
            f"| {calls} | {pct(structured, schema)} | {sum(r['cut_off'] for r in rs)} "
            f"| {sum(r['correct'] for r in rs)}/{len(rs)} | {rs[0]['wall_s']:.1f} |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1, default=str)


if __name__ == "__main__":
    asyncio.run(main())
