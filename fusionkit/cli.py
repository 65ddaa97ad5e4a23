"""The ``fusionkit`` command: ``fusionkit demo`` and ``fusionkit fuse``.

Examples:
    fusionkit demo                                   # what `make demo` runs
    fusionkit fuse "What is 12 + 30?" --mode vote --pool edge,edge,edge --temperature 0.7
    fusionkit fuse "Explain NF4" --mode merge --pool edge,edge --judge edge
    fusionkit fuse "Hi" --pool openrouter:openai/gpt-4o-mini,ollama:llama3.2 --judge edge
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import FusionkitError, InvalidRequestError, describe_error
from .fusion.modes import DEFAULT_MODE, all_modes

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fusionkit", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="edge model alone vs fused pools, with an HTML report")
    d.add_argument("--tasks", type=int, default=6, help="verifiable tasks (default 6)")
    d.add_argument("--samples", type=int, default=5, help="samples in the vote pool")
    d.add_argument("--pool-size", type=int, default=3, help="members in best-of and debate")
    d.add_argument("--max-tokens", type=int, default=16, help="tokens per answer")
    d.add_argument("--out", type=Path, default=Path("reports/demo.html"), help="report path")
    d.add_argument("--votes", type=Path, default=Path("reports/demo-votes.db"))
    d.add_argument("--seed", type=int, default=0)
    d.add_argument(
        "--cache",
        action="store_true",
        help="reuse cached answers (fast re-run; latencies then are not fresh measurements)",
    )

    f = sub.add_parser("fuse", help="fuse one prompt through a pool of models")
    f.add_argument("prompt")
    f.add_argument("--pool", default="edge,edge,edge", help="comma-separated model specs")
    f.add_argument("--judge", default=None, help="judge model spec (best-of/merge/debate)")
    f.add_argument(
        "--mode",
        default=DEFAULT_MODE,
        help="; ".join(f"{m.name}: {m.summary}" for m in all_modes()),
    )
    f.add_argument("--rounds", type=int, default=2, help="debate rounds")
    f.add_argument(
        "--mode-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the mode itself (repeatable; VALUE is read as JSON when it "
        "parses, e.g. threshold=0.8, else as text)",
    )
    f.add_argument("--max-tokens", type=int, default=128)
    f.add_argument("--judge-max-tokens", type=int, default=None)
    f.add_argument("--temperature", type=float, default=None)
    f.add_argument("--seed", type=int, default=None)
    f.add_argument("--timeout", type=float, default=None, help="seconds per member")
    f.add_argument("--json", action="store_true", help="print the result as JSON")
    f.add_argument("--events", action="store_true", help="print fusion events to stderr")
    f.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress lines (shown on stderr by default when it is a terminal)",
    )
    return p


def _cmd_demo(args: argparse.Namespace) -> int:
    import os

    from .demo import DemoConfig, run_demo

    if not args.cache:
        # The demo measures latency: answer afresh unless asked to reuse the cache.
        os.environ["FUSIONKIT_CACHE"] = "0"

    cfg = DemoConfig(
        n_tasks=args.tasks,
        samples=args.samples,
        pool_size=args.pool_size,
        max_tokens=args.max_tokens,
        out=args.out,
        votes_path=args.votes,
        seed=args.seed,
    )
    run_demo(cfg)
    return 0


def _cmd_fuse(args: argparse.Namespace) -> int:
    from .fusion.engine import fuse
    from .fusion.prepare import resolve_models

    specs = [s.strip() for s in args.pool.split(",") if s.strip()]
    # The judge is resolved with the pool, so "--pool edge --judge edge" loads one model.
    models = resolve_models([*specs, *([args.judge] if args.judge else [])])
    pool = models[: len(specs)]
    judge = models[-1] if args.judge else None

    def show(event: object) -> None:
        if args.events:
            print(f"  · {event}", file=sys.stderr)

    result = fuse(
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
        on_event=show,
        mode_options=_mode_options(args.mode_option) or None,
        # --events already prints every event; progress lines would repeat them
        progress=False if args.no_progress or args.events else None,
    )
    if args.json:
        data = {"prompt": result.prompt, "mode": result.mode, **result.to_dict()}
        data["candidates"] = result.to_frame().to_dict(orient="records")
        print(json.dumps(data, indent=2, default=str))
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


def _mode_options(pairs: Sequence[str]) -> dict[str, object]:
    """``["threshold=0.8", "edge=edge"]`` -> ``{"threshold": 0.8, "edge": "edge"}``."""
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidRequestError(f"--mode-option takes KEY=VALUE, got {pair!r}.")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fusionkit`` command.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a fusionkit error (its message is printed).
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _cmd_demo(args)
        return _cmd_fuse(args)
    except FusionkitError as exc:
        print(f"fusionkit: error: {describe_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
