"""The ``fusionkit`` command: ``fusionkit demo`` and ``fusionkit fuse``.

Decisions (and why):

- **The CLI's default mode is ``vote``** (the library's ``fuse`` defaults to best-of): vote
  needs no judge, so ``fusionkit fuse "What is 12 + 30?"`` works with the defaults
  (three samples of the edge model, majority answer). A mode that needs a judge without
  ``--judge`` is refused at once with the flag to add, before any model loads.
- **Every argument is checked before any model loads**: flags by argparse, the rest by
  a dry run of the engine's own validation over stand-in models, and each spec's form.
  Remote specs are then built before local ones, so a judge without its API key fails
  in a second, not after a minute of loading the edge model. A pool member that cannot
  be configured is a failed row, as in ``fuse``.
- **Model text is shown, never obeyed**: ESC, BEL, CR and the other control characters
  in an answer (which could clear the screen, retitle the window or write the clipboard
  via OSC 52) are printed as visible symbols (``␛``, ``␇``, ``␍``). ``--json`` stays exact:
  ``json.dumps`` escapes them, and NaN is written as ``null``.

What lives where: this module runs the commands (``main``, ``demo``, ``fuse``); the parser
and every check before a model loads are :mod:`fusionkit.cli_args`; what is printed (the
table, ``--json``, :func:`visible`) is :mod:`fusionkit.cli_output`.

Examples:
    fusionkit demo                                   # what `make demo` runs
    fusionkit fuse "What is 12 + 30?"                # vote over edge,edge,edge
    fusionkit fuse "Explain NF4" --mode merge --pool edge,edge --judge edge
    fusionkit fuse "Hi" --mode best-of --pool openrouter:openai/gpt-4o-mini,edge --judge edge
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from .cli_args import CLI_DEFAULT_MODE, check_fuse, cli_words, resolve
from .cli_args import build_parser as _parser
from .cli_output import print_result, say, to_json, visible
from .errors import FusionkitError, describe_error

__all__ = ["CLI_DEFAULT_MODE", "main", "visible"]


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

    specs, options = check_fuse(args)
    pool, judge = resolve(specs, args.judge.strip() if args.judge else None)

    def show(event: object) -> None:
        if args.events:
            say(f"  · {event}", file=sys.stderr)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
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
            mode_options=options or None,
            # --events already prints every event; progress lines would repeat them
            progress=False if args.no_progress or args.events else None,
        )
    for w in caught:
        # A warning is advice to the person at the terminal, not a Python traceback line.
        say(f"fusionkit: warning: {cli_words(str(w.message))}", file=sys.stderr)
    if args.json:
        print(to_json(result))
    else:
        print_result(result)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fusionkit`` command.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a usage or fusionkit error (its message is
        printed to stderr, in the command line's words).
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _cmd_demo(args)
        return _cmd_fuse(args)
    except FusionkitError as exc:
        say(f"fusionkit: error: {cli_words(describe_error(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
