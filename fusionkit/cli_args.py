"""The ``fusionkit`` command's arguments: the parser, and every check before a model loads.

Split from :mod:`fusionkit.cli` (the commands) and :mod:`fusionkit.cli_output` (what is
printed): flags are checked by argparse (the types below), the rest by
:func:`check_fuse` — each spec's form, ``--mode-option`` values and a dry run of the
engine's own validation over stand-in models (the mode, its judge, every value). :func:`resolve` then builds
remote models before local ones, so a missing API key shows in a second, not after a
minute of loading the edge model. The engine's messages name Python arguments;
:func:`cli_words` puts the flags in their place.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import InvalidRequestError
from .fusion.modes import all_modes

if TYPE_CHECKING:  # pragma: no cover
    from .models.base import Model

__all__ = ["CLI_DEFAULT_MODE", "build_parser", "check_fuse", "cli_words", "mode_options", "resolve"]

#: The command line's default mode: vote needs no judge, so the defaults work together.
CLI_DEFAULT_MODE = "vote"

_EXAMPLES = """\
examples:
  fusionkit fuse "What is 12 + 30?"
      vote over three samples of the embedded edge model (no judge needed)
  fusionkit fuse "Explain NF4 in one line" --mode best-of --pool edge,edge --judge edge
  fusionkit fuse "Is 91 prime?" --mode debate --rounds 2 --pool edge,edge,edge --judge edge
  fusionkit fuse "Hi" --pool openrouter:openai/gpt-4o-mini,edge --json
      a remote member needs its key (OPENROUTER_API_KEY); without it, it is a failed row
  fusionkit demo --tasks 3
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or math.isnan(value):
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 2:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2, got {text}")
    return value


class _Help(argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default (when it has a value) and keeps the examples' lines."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, [], argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    """The ``fusionkit`` argument parser (``fuse`` and ``demo``), every flag typed."""
    p = argparse.ArgumentParser(
        prog="fusionkit",
        description="Compare and fuse LLMs: the edge model alone, or a pool with a judge.",
        epilog=_EXAMPLES,
        formatter_class=_Help,
    )
    p.add_argument("--version", action="version", version=f"fusionkit {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{fuse,demo}")

    f = sub.add_parser(
        "fuse",
        help="fuse one prompt through a pool of models",
        description="Run one prompt through a pool of models at once and fuse the answers.",
        epilog=_EXAMPLES,
        formatter_class=_Help,
    )
    f.add_argument("prompt", help="the question to send to every pool member")
    f.add_argument(
        "--pool",
        default="edge,edge,edge",
        help="comma-separated model specs: edge, local:PATH, openrouter:VENDOR/MODEL, "
        "openai:MODEL, ollama:MODEL, http://HOST:PORT/v1#MODEL, fake:NAME",
    )
    f.add_argument(
        "--judge",
        default=None,
        metavar="SPEC",
        help="judge model spec; needed by best-of, merge and debate (vote: breaks ties)",
    )
    f.add_argument(
        "--mode",
        default=CLI_DEFAULT_MODE,
        help="; ".join(f"{m.name}: {m.summary}" for m in all_modes()),
    )
    f.add_argument("--rounds", type=_positive_int, default=2, help="debate rounds at most")
    f.add_argument(
        "--mode-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the mode itself (repeatable; VALUE is read as JSON when it "
        "parses, e.g. threshold=0.8, else as text)",
    )
    f.add_argument("--max-tokens", type=_positive_int, default=128, help="tokens per answer")
    f.add_argument(
        "--judge-max-tokens",
        type=_positive_int,
        default=None,
        help="tokens per judge reply (default: max(--max-tokens, 256))",
    )
    f.add_argument(
        "--temperature",
        type=_temperature,
        default=None,
        help="sampling temperature (default: 0, or 0.7 for a model repeated in the pool)",
    )
    f.add_argument("--seed", type=int, default=None, help="seed (default: from the prompt)")
    f.add_argument(
        "--timeout", type=_positive_float, default=None, help="seconds per member (none: wait)"
    )
    f.add_argument("--json", action="store_true", help="print the result as JSON")
    f.add_argument("--events", action="store_true", help="print fusion events to stderr")
    f.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress lines (shown on stderr by default when it is a terminal)",
    )

    d = sub.add_parser(
        "demo",
        help="edge model alone vs fused pools, with an HTML report",
        description="The edge model alone vs fused pools on verifiable tasks; writes an "
        "HTML report (what `make demo` runs).",
        formatter_class=_Help,
    )
    d.add_argument("--tasks", type=_positive_int, default=6, help="verifiable tasks")
    d.add_argument("--samples", type=_positive_int, default=5, help="samples in the vote pool")
    d.add_argument(
        "--pool-size", type=_positive_int, default=3, help="members in best-of and debate"
    )
    d.add_argument("--max-tokens", type=_positive_int, default=16, help="tokens per answer")
    d.add_argument("--out", type=Path, default=Path("reports/demo.html"), help="report path")
    d.add_argument(
        "--votes", type=Path, default=Path("reports/demo-votes.db"), help="vote database"
    )
    d.add_argument("--seed", type=int, default=0, help="seed of tasks and sampling")
    d.add_argument(
        "--cache",
        action="store_true",
        help="reuse cached answers (fast re-run; latencies then are not fresh measurements)",
    )
    return p


# The engine's messages name Python arguments; on the command line the flags are meant.
_FLAG_WORDS = (
    (
        re.compile(r"\bmode '([\w-]+)' needs a judge: pass judge=<a model or spec>"),
        r"--mode \1 needs a judge: add --judge SPEC (e.g. --judge edge)",
    ),
    (re.compile(r"\bmode='vote'"), "--mode vote"),
    (re.compile(r"\bjudge_max_tokens\b"), "--judge-max-tokens"),
    (re.compile(r"\bmax_tokens\b"), "--max-tokens"),
    (re.compile(r"\bmode_options=\{'(\w+)': ([^}]*)\}"), r"--mode-option \1=\2"),
    (re.compile(r"\bmode_options\b"), "--mode-option"),
    (re.compile(r"\bjudge_timeout\b"), "--timeout"),
)


def cli_words(message: str) -> str:
    """An engine message in the command line's words (``max_tokens`` -> ``--max-tokens``)."""
    for pattern, flag in _FLAG_WORDS:
        message = pattern.sub(flag, message)
    return message


def _is_local(spec: str) -> bool:
    from .models.specs import spec_form

    return spec_form(spec) in ("edge", "local")


def _check_spec(spec: str, where: str) -> None:
    """Refuse a spec whose FORM is unknown, without building (or loading) anything."""
    from .errors import ConfigurationError
    from .models.specs import SPEC_FORMS, spec_form

    try:
        spec_form(spec)
    except ConfigurationError:
        forms = "\n  ".join(SPEC_FORMS)
        raise InvalidRequestError(
            f"unknown model spec {spec!r} in {where}. Accepted forms:\n  {forms}"
        ) from None


def _dry_run(args: argparse.Namespace, specs: list[str], options: dict[str, object]) -> None:
    """The engine's own validation over stand-in models: nothing is loaded or called."""
    from .fusion.prepare import prepare_setup
    from .models.fake import FakeModel

    # Only the cascade's edge option names a model (which would load); the rest are values.
    stand_in = {
        k: FakeModel("stand-in") if k == "edge" and isinstance(v, str) else v
        for k, v in options.items()
    }
    prepare_setup(
        [FakeModel(f"stand-in-{i}") for i in range(len(specs))],
        FakeModel("judge") if args.judge else None,
        args.mode,
        rounds=args.rounds,
        system=None,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        timeout=args.timeout,
        seed=args.seed,
        swap_check=False,
        judge_max_tokens=args.judge_max_tokens,
        judge_timeout=None,
        extract="auto",
        cache=None,
        mode_options=stand_in or None,
    )


def check_fuse(args: argparse.Namespace) -> tuple[list[str], dict[str, object]]:
    """Check ``fusionkit fuse``'s arguments without loading a model.

    Returns:
        The pool's specs and the parsed ``--mode-option`` values.

    Raises:
        InvalidRequestError: An empty pool or prompt, a missing judge, an unknown spec
            form, a malformed ``--mode-option``, or anything the engine would refuse.
    """
    specs = [s.strip() for s in args.pool.split(",") if s.strip()]
    if not specs:
        raise InvalidRequestError("--pool is empty: give comma-separated specs, e.g. edge,edge.")
    if not args.prompt.strip():
        raise InvalidRequestError("the prompt is empty: give the question in quotes.")
    for spec in specs:
        _check_spec(spec, "--pool")
    if args.judge:
        _check_spec(args.judge.strip(), "--judge")
    options = mode_options(args.mode_option)
    for key, value in options.items():
        if isinstance(value, str) and key == "edge":  # the one option that names a model
            _check_spec(value, f"--mode-option {key}")
    _dry_run(args, specs, options)
    return specs, options


def resolve(specs: list[str], judge: str | None) -> tuple[list[Model], Model | None]:
    """Build the models, remote ones first (a missing key shows before a long load)."""
    from .fusion.prepare import resolve_model, resolve_models

    order = sorted(set(specs) | ({judge} if judge else set()), key=_is_local)
    built: dict[str, Model] = {}
    for spec in order:
        if spec == judge:
            built[spec] = resolve_model(spec, "--judge")
        else:
            (built[spec],) = resolve_models([spec], "--pool", unavailable=True)
    return [built[s] for s in specs], (built[judge] if judge else None)


def mode_options(pairs: Sequence[str]) -> dict[str, object]:
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
