"""Fuse one prompt through a pool of models: best-of, merge, debate or vote.

Mirrors notebooks/02_fusion_modes.ipynb. Model specs: ``edge`` (embedded 4-bit model),
``openrouter:vendor/model``, ``ollama:name``, ``http://host:port/v1#model``, ``fake:name``.

    python examples/fuse.py "Why run a model on a laptop?" --mode merge --pool edge,edge,edge --judge edge
    python examples/fuse.py "What is 2 + 3? Answer with just the number." --mode vote --pool edge,edge,edge,edge,edge
    python examples/fuse.py "Hi" --pool openrouter:openai/gpt-4o-mini,ollama:llama3.2 --judge edge
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# Plain terminal output: no Hugging Face progress bars while the weights load.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import fusionkit as fk


def build_pool(specs: list[str]) -> list[fk.Model]:
    """One model per spec; a spec repeated gives the same instance (Self-MoA: it is sampled
    once per occurrence with its own seed, and a local model loads once)."""
    built: dict[str, fk.Model] = {}
    return [built.setdefault(s, fk.model(s)) for s in specs]


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, fuse, print the candidates, the verdict and the answer.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a fusionkit error (its message is printed).
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("prompt")
    p.add_argument("--pool", default="edge,edge,edge", help="comma-separated model specs")
    p.add_argument("--judge", default=None, help="judge spec (needed by best-of, merge, debate)")
    p.add_argument("--mode", default="best-of", choices=["best-of", "merge", "debate", "vote"])
    p.add_argument("--rounds", type=int, default=1, help="debate rounds")
    p.add_argument("--max-tokens", type=int, default=48)
    p.add_argument("--judge-max-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--timeout", type=float, default=None, help="seconds per member")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead")
    args = p.parse_args(argv)

    specs = [s.strip() for s in args.pool.split(",") if s.strip()]
    try:
        pool = build_pool(specs + ([args.judge] if args.judge else []))
        judge = pool.pop() if args.judge else None
        result = fk.fuse(
            args.prompt,
            pool,
            judge=judge,
            mode=args.mode,
            rounds=args.rounds,
            max_tokens=args.max_tokens,
            judge_max_tokens=args.judge_max_tokens,
            temperature=args.temperature,
            seed=args.seed,
            timeout=args.timeout,
        )
    except fk.FusionkitError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return 0
    columns = ["label", "model", "winner", "score", "completion_tokens", "latency_s", "cost_usd"]
    frame = result.to_frame()
    frame["status"] = frame["error"].fillna("ok")
    print(frame[[*columns, "status"]].to_string(index=False, max_colwidth=70))
    j = result.judgment
    print(f"\nmode: {result.mode} · method: {j.method} · winner: {j.winner}")
    if j.votes:
        print(f"votes: {j.votes}")
    if j.fallback:
        print(f"fallback: {j.fallback_reason}")
    print(f"rationale: {j.rationale}")
    t = result.timings
    cost = "unknown" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    print(
        f"time: {t.total_s:.2f} s (pool {t.pool_wall_s:.2f} s, judge {t.judge_s:.2f} s) · cost {cost}"
    )
    print(f"\nanswer:\n{result.answer}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
