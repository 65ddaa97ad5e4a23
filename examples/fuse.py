"""Fuse one prompt through a pool of models: best-of, merge, debate or vote.

Mirrors notebooks/02_fusion_modes.ipynb. Model specs: ``edge`` (embedded 4-bit model),
``openrouter:vendor/model``, ``ollama:name``, ``http://host:port/v1#model``, ``fake:name``.

    python examples/fuse.py "Why run a model on a laptop?" --mode merge --pool edge,edge,edge --judge edge
    python examples/fuse.py "What is 2 + 3? Answer with just the number." --mode vote --pool edge,edge,edge,edge,edge
    python examples/fuse.py "Hi" --pool openrouter:openai/gpt-4o-mini,ollama:llama3.2 --judge edge
"""

from __future__ import annotations

import sys

from fusionkit.cli import main as fusionkit_main


def main(argv: list[str] | None = None) -> int:
    """Run ``fusionkit fuse`` with these arguments (the same flags and output).

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a fusionkit error (its message is printed).
    """
    args = sys.argv[1:] if argv is None else argv
    return fusionkit_main(["fuse", *args])


if __name__ == "__main__":
    raise SystemExit(main())
