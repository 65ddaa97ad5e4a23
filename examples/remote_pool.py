"""Fuse one prompt through remote models: OpenRouter, Ollama, vLLM or llama.cpp's server.

Mirrors the "switch the pool to remote models" cells of the notebooks. Pick one source:

    export OPENROUTER_API_KEY=...                       # OpenRouter (default pool below)
    python examples/remote_pool.py "Explain NF4 in two sentences."

    python examples/remote_pool.py "Hi" --ollama llama3.2,qwen2.5       # a local Ollama
    python examples/remote_pool.py "Hi" --base-url http://localhost:8000/v1 \\
        --models mistralai/Mistral-7B-Instruct-v0.3     # vLLM, llama.cpp's server, ...

With no key and no server it exits with status 2 and says what to configure. Failures of
single members (a server that is down, a wrong model name) are shown as rows; only when
every member fails does it stop, naming each cause.
"""

from __future__ import annotations

import argparse
import os
import sys

import fusionkit as fk

OPENROUTER_POOL = (
    "openrouter:openai/gpt-4o-mini",
    "openrouter:anthropic/claude-3.5-haiku",
    "openrouter:google/gemini-2.0-flash-001",
)
OPENROUTER_JUDGE = "openrouter:openai/gpt-4o-mini"

HOW_TO = """no remote models configured. Choose one:
  - OpenRouter: set OPENROUTER_API_KEY (https://openrouter.ai/keys), then run again;
  - Ollama:     --ollama llama3.2[,other]   (start it with `ollama serve`; $OLLAMA_HOST);
  - vLLM / llama.cpp / any OpenAI-compatible server:
                --base-url http://localhost:8000/v1 --models NAME[,NAME]
For an offline run on the embedded edge model, use examples/fuse.py."""


def pool_from_args(args: argparse.Namespace) -> tuple[list[fk.Model], fk.Model | None] | None:
    """The pool and judge the arguments ask for, or None when nothing is configured."""
    if args.base_url:
        names = [n.strip() for n in (args.models or "").split(",") if n.strip()]
        if not names:
            raise fk.ConfigurationError("--base-url needs --models NAME[,NAME] (the served ids).")
        pool = [
            fk.OpenAICompatModel(n, base_url=args.base_url, max_retries=args.retries, cache=False)
            for n in names
        ]
        return pool, (fk.model(args.judge) if args.judge else pool[0])
    if args.ollama:
        names = [n.strip() for n in args.ollama.split(",") if n.strip()]
        pool = [fk.model(f"ollama:{n}", max_retries=args.retries) for n in names]
        return pool, (fk.model(args.judge) if args.judge else pool[0])
    if os.environ.get("OPENROUTER_API_KEY"):
        pool = [fk.model(s) for s in OPENROUTER_POOL]
        return pool, fk.model(args.judge or OPENROUTER_JUDGE)
    return None


def main(argv: list[str] | None = None) -> int:
    """Build the remote pool, fuse, print the table and the answer.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        0 on success; 2 when nothing is configured or every member failed.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("prompt")
    p.add_argument("--mode", default="merge", choices=["best-of", "merge", "debate", "vote"])
    p.add_argument("--base-url", default=None, help="an OpenAI-compatible server's /v1 URL")
    p.add_argument("--models", default=None, help="model ids on --base-url, comma-separated")
    p.add_argument("--ollama", default=None, help="Ollama model names, comma-separated")
    p.add_argument("--judge", default=None, help="judge spec (default: first pool model)")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per member")
    p.add_argument("--retries", type=int, default=2, help="retries per request")
    args = p.parse_args(argv)

    try:
        chosen = pool_from_args(args)
        if chosen is None:
            print(f"remote_pool: {HOW_TO}", file=sys.stderr)
            return 2
        pool, judge = chosen
        print(f"pool: {', '.join(m.name for m in pool)} · judge: {judge.name if judge else '-'}")
        result = fk.fuse(
            args.prompt,
            pool,
            judge=judge,
            mode=args.mode,
            max_tokens=args.max_tokens,
            timeout=args.timeout,
        )
    except fk.FusionkitError as exc:
        print(f"remote_pool: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    frame = result.to_frame()
    frame["status"] = frame["error"].fillna("ok")
    cols = ["label", "model", "winner", "completion_tokens", "latency_s", "cost_usd", "status"]
    print(frame[cols].to_string(index=False, max_colwidth=70))
    j = result.judgment
    if j.fallback:
        print(f"\njudge fallback: {j.fallback_reason}")
    cost = "unknown" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    print(f"\n{result.mode}: {result.timings.total_s:.2f} s, cost {cost}\n\n{result.answer}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
