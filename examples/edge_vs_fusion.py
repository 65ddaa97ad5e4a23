"""Edge model alone vs fused pools, measured on generated verifiable tasks.

Mirrors notebooks/04_edge_vs_fusion.ipynb (``fusionkit demo`` is the full version, with
the panel and a standalone HTML report):

    python examples/edge_vs_fusion.py                     # embedded edge model, 6 tasks
    python examples/edge_vs_fusion.py --tasks 20 --model ollama:llama3.2 --max-tokens 32

Prints accuracy, latency, tokens, cost and memory per condition, then Bradley–Terry
ratings with bootstrap intervals from the verified battles (right beats wrong).
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

import fusionkit as fk
from fusionkit.evaluation import evaluate, standard_conditions


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print the tables.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a fusionkit error.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="edge", help="model spec (default: embedded edge model)")
    p.add_argument("--tasks", type=int, default=6)
    p.add_argument("--samples", type=int, default=3, help="samples in the vote pool")
    p.add_argument("--pool-size", type=int, default=2, help="members in best-of and debate")
    p.add_argument("--max-tokens", type=int, default=12)
    p.add_argument("--judge-max-tokens", type=int, default=48)
    p.add_argument("--seed", type=int, default=0, help="seed of the task generator")
    args = p.parse_args(argv)

    try:
        model = fk.model(args.model)
        tasks = fk.make_tasks(args.tasks, seed=args.seed)
        conds = standard_conditions(
            model,
            samples=args.samples,
            pool_size=args.pool_size,
            judge_max_tokens=args.judge_max_tokens,
            alone="alone",
        )
        print(f"{len(tasks)} tasks × {len(conds)} conditions on {model.name} ...")
        ev = evaluate(tasks, conds, max_tokens=args.max_tokens, progress=False)
        rated = fk.ratings(ev.battles(), rounds=300, seed=0)
    except fk.FusionkitError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    pd.set_option("display.width", 120)
    s = ev.summary()
    s["accuracy"] = [f"{a:.0%}" for a in s["accuracy"]]
    print(s.round(2).to_string(index=False))
    print()
    print(
        rated[["model", "rating", "lower", "upper", "rank", "battles"]]
        .round(0)
        .to_string(index=False)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
