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

Examples:
    fusionkit demo                                   # what `make demo` runs
    fusionkit fuse "What is 12 + 30?"                # vote over edge,edge,edge
    fusionkit fuse "Explain NF4" --mode merge --pool edge,edge --judge edge
    fusionkit fuse "Hi" --mode best-of --pool openrouter:openai/gpt-4o-mini,edge --judge edge
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import FusionkitError, InvalidRequestError, describe_error
from .fusion.modes import all_modes, get_mode

if TYPE_CHECKING:  # pragma: no cover
    from .fusion.result import FusionResult
    from .models.base import Model

__all__ = ["CLI_DEFAULT_MODE", "main", "visible"]

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

# Characters that a terminal acts on. C0 controls (except newline and tab) become the
# Unicode "control pictures" (U+2400 + code), DEL becomes ␡, C1 controls and the
# bidirectional overrides (which can reorder what is shown) become \\x.. / \\u.... escapes.
_C0_KEEP = {"\n", "\t"}
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}
_VISIBLE = {
    **{c: chr(0x2400 + c) for c in range(0x20) if chr(c) not in _C0_KEEP},
    0x7F: "\u2421",
    **{c: f"\\x{c:02x}" for c in range(0x80, 0xA0)},
    **{c: f"\\u{c:04x}" for c in _BIDI},
}


def visible(text: object) -> str:
    """Text safe to print to a terminal: control characters shown, not obeyed.

    Args:
        text: Anything; it is turned into a string first.

    Returns:
        The text with ESC as ``␛``, BEL as ``␇``, CR as ``␍`` (every C0 control but
        newline and tab), DEL as ``␡``, C1 controls and bidi overrides as escapes.

    Example:
        >>> visible("ok\\x1b]52;c;SGVsbG8=\\x07")
        'ok␛]52;c;SGVsbG8=␇'
    """
    return str(text).translate(_VISIBLE)


def _say(*parts: object, file: Any = None) -> None:
    print(visible(" ".join(str(p) for p in parts)), file=file or sys.stdout)


# -- argument types ---------------------------------------------------------------------------


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


def _parser() -> argparse.ArgumentParser:
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


# -- demo -------------------------------------------------------------------------------------


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


# -- fuse: checks before any model loads ------------------------------------------------------

# The engine's messages name Python arguments; on the command line the flags are meant.
_FLAG_WORDS = (
    (re.compile(r"\bpass judge=<a model or spec>"), "add --judge SPEC (e.g. --judge edge)"),
    (re.compile(r"\bmode='vote'"), "--mode vote"),
    (re.compile(r"\bjudge_max_tokens\b"), "--judge-max-tokens"),
    (re.compile(r"\bmax_tokens\b"), "--max-tokens"),
    (re.compile(r"\bmode_options=\{'(\w+)': fk\.edge_model\(\)\}"), r"--mode-option \1=edge"),
    (re.compile(r"\bmode_options=\{'(\w+)': ([^}]*)\}"), r"--mode-option \1=\2"),
    (re.compile(r"\bmode_options\b"), "--mode-option"),
    (re.compile(r"\bjudge_timeout\b"), "--timeout"),
)


def _cli_words(message: str) -> str:
    for pattern, flag in _FLAG_WORDS:
        message = pattern.sub(flag, message)
    return message


def _is_local(spec: str) -> bool:
    return spec == "edge" or spec.startswith("local:")


def _check_spec(spec: str, where: str) -> None:
    """Refuse a spec whose FORM is unknown, without building (or loading) anything."""
    from .models.openai.presets import PRESETS
    from .models.specs import SPEC_FORMS

    prefix, sep, rest = spec.partition(":")
    ok = (
        spec == "edge"
        or (spec.startswith(("http://", "https://")) and "#" in spec and spec.split("#", 1)[1])
        or (sep and rest and (prefix in PRESETS or prefix in ("fake", "local")))
    )
    if not ok:
        forms = "\n  ".join(SPEC_FORMS)
        raise InvalidRequestError(
            f"unknown model spec {spec!r} in {where}. Accepted forms:\n  {forms}"
        )


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


def _check_fuse(args: argparse.Namespace) -> tuple[list[str], dict[str, object]]:
    specs = [s.strip() for s in args.pool.split(",") if s.strip()]
    if not specs:
        raise InvalidRequestError("--pool is empty: give comma-separated specs, e.g. edge,edge.")
    if not args.prompt.strip():
        raise InvalidRequestError("the prompt is empty: give the question in quotes.")
    mode = get_mode(args.mode)
    if mode.needs_judge and not args.judge:
        raise InvalidRequestError(
            f"--mode {mode.name} needs a judge: add --judge SPEC (e.g. --judge edge), or use "
            "--mode vote, which needs none."
        )
    for spec in specs:
        _check_spec(spec, "--pool")
    if args.judge:
        _check_spec(args.judge.strip(), "--judge")
    options = _mode_options(args.mode_option)
    for key, value in options.items():
        if isinstance(value, str) and key == "edge":  # the one option that names a model
            _check_spec(value, f"--mode-option {key}")
    _dry_run(args, specs, options)
    return specs, options


def _resolve(specs: list[str], judge: str | None) -> tuple[list[Model], Model | None]:
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


# -- fuse: output -----------------------------------------------------------------------------


def _no_nan(value: Any) -> Any:
    """JSON has no NaN: a missing number is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


def _json(result: FusionResult) -> str:
    from .fusion.labels import by_label

    j = result.judgment
    data: dict[str, Any] = {"prompt": result.prompt, "mode": result.mode, **result.to_dict()}
    data["all_cached"] = result.all_cached
    data["rationale"] = j.rationale
    data["fallback_reason"] = j.fallback_reason
    data["votes"] = j.votes
    data["candidates"] = [
        {
            "label": c.label,
            "model": c.model,
            "winner": c.label == j.winner,
            "score": j.scores.get(c.label),
            "extracted": (j.answers or {}).get(c.label),
            "prompt_tokens": c.usage.prompt_tokens,
            "completion_tokens": c.usage.completion_tokens,
            "latency_s": c.latency_s,
            "cost_usd": c.cost_usd,
            "cached": c.cached,
            "error": c.error,
            "text": c.text,
        }
        for c in by_label(result.candidates)
    ]
    return json.dumps(_no_nan(data), indent=2, default=str, allow_nan=False, ensure_ascii=False)


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _table(result: FusionResult) -> str:
    from .fusion.labels import by_label
    from .render.html import fmt_cost, fmt_seconds

    j = result.judgment
    head = ("", "model", "extracted", "score", "tokens", "latency", "cost", "status")
    rows = [head]
    for c in by_label(result.candidates):
        score = j.scores.get(c.label)
        latency = fmt_seconds(c.latency_s) + (" (cached)" if c.cached else "")
        status = "FAILED (below)" if c.error else ("winner" if c.label == j.winner else "ok")
        extracted = (j.answers or {}).get(c.label)
        rows.append(
            (
                c.label + (" ★" if c.label == j.winner else ""),
                _one_line(c.model, 32),
                "—" if extracted is None else _one_line(str(extracted), 12),
                "—" if score is None else f"{score:g}",
                f"{c.usage.prompt_tokens}→{c.usage.completion_tokens}",
                latency,
                fmt_cost(c.cost_usd),
                status,
            )
        )
    # A column no mode filled (vote gives no scores, best-of extracts nothing) is noise.
    keep = [
        i
        for i, name in enumerate(head)
        if name not in ("extracted", "score") or any(r[i] != "—" for r in rows[1:])
    ]
    rows = [tuple(r[i] for i in keep) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(keep))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _print_result(result: FusionResult) -> None:
    from .fusion.display import timing_line
    from .fusion.labels import by_label
    from .render.html import fmt_cost

    _say(_table(result))
    for c in by_label(result.candidates):
        if c.error:
            # In full: the hint at the end of an error (which key to set) is the point.
            _say(f"\n{c.label} ({c.model}) failed: {c.error}")
    j = result.judgment
    w = result.winner
    who = f"{j.winner} ({w.model})" if w is not None else (j.winner or "none (synthesis)")
    _say(f"\nmode: {result.mode} · method: {j.method} · winner: {who}")
    if j.votes:
        _say(f"votes: {j.votes}")
    if j.fallback:
        _say(f"fallback: {j.fallback_reason}")
    if j.rationale:
        _say(f"rationale: {j.rationale}")
    cost = fmt_cost(result.cost_usd)
    if not result.cost_complete:
        cost += f" (known part {fmt_cost(result.cost_known_usd)})"
    _say(f"time: {timing_line(result)} · cost {cost}")
    _say(f"\nanswer:\n{result.answer}")


def _cmd_fuse(args: argparse.Namespace) -> int:
    from .fusion.engine import fuse

    specs, options = _check_fuse(args)
    pool, judge = _resolve(specs, args.judge.strip() if args.judge else None)

    def show(event: object) -> None:
        if args.events:
            _say(f"  · {event}", file=sys.stderr)

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
        _say(f"fusionkit: warning: {_cli_words(str(w.message))}", file=sys.stderr)
    if args.json:
        print(_json(result))
    else:
        _print_result(result)
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
        The exit status: 0 on success, 2 on a usage or fusionkit error (its message is
        printed to stderr, in the command line's words).
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _cmd_demo(args)
        return _cmd_fuse(args)
    except FusionkitError as exc:
        _say(f"fusionkit: error: {_cli_words(describe_error(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
