"""What the ``fusionkit`` command prints: the result table, its JSON, and safe terminal text.

Split from :mod:`fusionkit.cli` (the commands) and :mod:`fusionkit.cli_args` (parsing and
checks). Model text is shown, never obeyed: every line goes through :func:`visible`,
which turns the control characters a terminal acts on into visible symbols; ``--json``
stays exact (``json.dumps`` escapes them) and writes NaN as ``null``.
"""

from __future__ import annotations

import json
import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .fusion.result import FusionResult

__all__ = ["print_result", "say", "to_json", "visible"]

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


def say(*parts: object, file: Any = None) -> None:
    """Print ``parts`` (joined by spaces) through :func:`visible`, to stdout by default."""
    print(visible(" ".join(str(p) for p in parts)), file=file or sys.stdout)


def _no_nan(value: Any) -> Any:
    """JSON has no NaN: a missing number is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


def to_json(result: FusionResult) -> str:
    """The result as ``--json`` prints it: every candidate, exact text, NaN as null."""
    from .fusion.display import candidate_rows

    j = result.judgment
    data: dict[str, Any] = {"prompt": result.prompt, "mode": result.mode, **result.to_dict()}
    data["all_cached"] = result.all_cached
    data["rationale"] = j.rationale
    data["fallback_reason"] = j.fallback_reason
    data["votes"] = j.votes
    answers = j.answers or {}
    data["candidates"] = [
        {**row, "extracted": answers.get(row["label"])} for row in candidate_rows(result)
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


def print_result(result: FusionResult) -> None:
    """The result as a terminal table, each failure in full, the verdict and the answer."""
    from .fusion.display import timing_line
    from .fusion.labels import by_label
    from .render.html import fmt_cost

    say(_table(result))
    for c in by_label(result.candidates):
        if c.error:
            # In full: the hint at the end of an error (which key to set) is the point.
            say(f"\n{c.label} ({c.model}) failed: {c.error}")
    j = result.judgment
    w = result.winner
    who = f"{j.winner} ({w.model})" if w is not None else (j.winner or "none (synthesis)")
    say(f"\nmode: {result.mode} · method: {j.method} · winner: {who}")
    if j.votes:
        say(f"votes: {j.votes}")
    if j.fallback:
        say(f"fallback: {j.fallback_reason}")
    if j.rationale:
        say(f"rationale: {j.rationale}")
    cost = fmt_cost(result.cost_usd)
    if not result.cost_complete:
        cost += f" (known part {fmt_cost(result.cost_known_usd)})"
    say(f"time: {timing_line(result)} · cost {cost}")
    say(f"\nanswer:\n{result.answer}")
