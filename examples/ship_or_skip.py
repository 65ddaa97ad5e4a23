"""Ship or skip? A panel reviews two tools and the decision page is written to HTML.

Mirrors notebooks/03_ship_or_skip.ipynb: "Mistral 9B Edge vs OpenRouter Model Fusion",
reviewed by the five-persona panel played by a model of your choice (default: the
embedded edge model), with community votes read from a SQLite vote store.

    python examples/ship_or_skip.py                          # -> reports/ship_or_skip.html
    python examples/ship_or_skip.py --panel openrouter:openai/gpt-4o-mini --max-tokens 200
    python examples/ship_or_skip.py --votes reports/votes.db --vote ship:ana --vote skip:ben

A 135M edge model rarely writes the JSON a review needs, so expect "No panel take" entries
(each with its reason); a stronger panel model gives real takes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import fusionkit as fk
from fusionkit.render.report import Report

EDGE = fk.ToolCard(
    name="Mistral 9B Edge",
    tagline="An on-device Apache-2.0 LLM, free",
    category="Edge LLM",
    pricing="Free (Apache-2.0 weights)",
    entry="Download the weights once; runs offline in 4-bit on a laptop GPU or CPU",
    description=(
        "A 9B-parameter open-weight instruct model quantized to 4-bit (NF4). No account, no "
        "per-token bill, and prompts never leave the device."
    ),
    best_for="Private, offline assistants and predictable costs",
)
FUSION = fk.ToolCard(
    name="OpenRouter Model Fusion",
    tagline="Multi-model fusion: several hosted models answer, a judge fuses them",
    category="Model fusion",
    pricing="Pay per token, per pool model (plus the judge)",
    entry="An OpenRouter API key",
    description=(
        "One prompt goes to a pool of hosted models in parallel through OpenRouter; a judge "
        "model picks or merges the best answer, at the price of every member's tokens."
    ),
    best_for="Hard questions where answer quality beats cost and latency",
)


def main(argv: list[str] | None = None) -> int:
    """Review both cards, read the votes, write the decision page.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a fusionkit error.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--panel", default="edge", help="model spec playing the personas")
    p.add_argument("--max-tokens", type=int, default=64, help="tokens per persona reply")
    p.add_argument("--votes", type=Path, default=None, help="SQLite vote store (optional)")
    p.add_argument(
        "--vote",
        action="append",
        default=[],
        metavar="VERDICT:VOTER",
        help="record a vote on the edge card first, e.g. ship:ana (repeatable)",
    )
    p.add_argument("--out", type=Path, default=Path("reports/ship_or_skip.html"))
    args = p.parse_args(argv)

    store = None
    try:
        if args.votes is not None:
            store = fk.VoteStore(args.votes)
            for item in args.vote:
                verdict, _, voter = item.partition(":")
                store.vote(EDGE.name, verdict, voter=voter or "cli")
        elif args.vote:
            p.error("--vote needs --votes PATH (where to keep the votes)")
        panel = fk.Panel(args.panel, max_tokens=args.max_tokens)
        print(f"asking {len(panel.personas)} personas (played by {panel.model.name}) ...")
        decision = fk.compare(EDGE, FUSION, panel=panel, votes=store)
    except fk.FusionkitError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    finally:
        if store is not None:
            store.close()

    print(decision.to_frame().to_string(max_colwidth=50))
    print()
    print(decision.scorecard_frame().to_string())
    print(f"\n{decision.recommendation}")
    report = Report(f"{EDGE.name} vs {FUSION.name}")
    report.add_text(f"Panel played by {panel.model.name}.")
    report.add_object(decision)
    path = report.save(args.out)
    print(f"\ndecision page written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
