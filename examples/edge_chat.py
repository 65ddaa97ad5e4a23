"""Chat with the embedded edge model (SmolLM2-135M in 4-bit NF4), then stream an answer.

Mirrors notebooks/01_edge_model.ipynb. Runs offline on a CPU.

    python examples/edge_chat.py
    python examples/edge_chat.py "Why run a model on a laptop?" --max-tokens 64
    python examples/edge_chat.py "Hello" --model ollama:llama3.2     # any model spec
"""

from __future__ import annotations

import argparse
import sys
import time

import fusionkit as fk


def main(argv: list[str] | None = None) -> int:
    """Load a model, answer one chat turn, then stream a follow-up.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a fusionkit error.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("prompt", nargs="?", default="Why would someone run a language model locally?")
    p.add_argument("--model", default="edge", help="model spec (default: the embedded edge model)")
    p.add_argument("--max-tokens", type=int, default=48)
    args = p.parse_args(argv)

    try:
        t0 = time.perf_counter()
        model = fk.model(args.model)
        print(f"loaded {model.name} in {time.perf_counter() - t0:.1f} s")
        footprint = getattr(model, "memory_footprint_bytes", None)
        if footprint:
            print(f"memory footprint: {footprint / 1e6:.0f} MB")

        chat = [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": args.prompt},
        ]
        reply = model.complete(chat, max_tokens=args.max_tokens)
        print(f"\nyou: {args.prompt}\n{model.name}: {reply.text}")
        cost = "unknown" if reply.cost_usd is None else f"${reply.cost_usd:.4f}"
        print(
            f"[{reply.usage.prompt_tokens} -> {reply.usage.completion_tokens} tokens, "
            f"{reply.latency_s:.2f} s, cost {cost}]"
        )

        chat += [
            {"role": "assistant", "content": reply.text},
            {"role": "user", "content": "Say that again in five words."},
        ]
        print(f"\nyou: Say that again in five words.\n{model.name}: ", end="", flush=True)
        stream = model.stream(chat, max_tokens=args.max_tokens)
        for chunk in stream:  # text only
            print(chunk, end="", flush=True)
        final = stream.completion  # the final Completion, with its accounting
        if final is not None:
            ttft = "n/a" if final.ttft_s is None else f"{final.ttft_s:.2f} s"
            print(f"\n[streamed: first token after {ttft}, done after {final.latency_s:.2f} s]")
    except fk.FusionkitError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
