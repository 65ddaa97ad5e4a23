"""The cascade's options: checking ``mode_options`` and choosing the escalation mode.

Split from :mod:`.cascade` (the mode itself): this is everything that runs before any
model call — one readable :class:`~fusionkit.errors.InvalidRequestError` per bad option.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import InvalidRequestError
from ...models.base import Model
from .base import Mode
from .best_of import BestOf
from .cascade_records import DEFAULT_THRESHOLDS, SIGNALS
from .debate import Debate
from .merge import Merge
from .vote import Vote

#: Temperature of the extra edge samples the agreement signal draws.
SAMPLE_TEMPERATURE = 0.7

#: The modes a cascade may escalate to, by name and alias. Built here rather than read
#: from the registry: the registry imports the cascade.
ESCALATIONS: Mapping[str, Mode] = {m.name: m for m in (BestOf(), Vote(), Merge(), Debate())} | {
    "majority": Vote(),
    "best_of": BestOf(),
    "bestof": BestOf(),
}


def check_cascade_options(opts: Mapping[str, Any], cascade: type[Mode]) -> dict[str, Any]:
    """The cascade's options, checked and with their defaults filled in.

    Args:
        opts: ``mode_options`` after :meth:`Mode.check_options` (known keys only).
        cascade: The cascade's class, which ``escalate_to`` may not name.

    Returns:
        Every option, resolved (``edge`` a Model or None, ``signals`` a tuple of names,
        ``thresholds`` per signal, ``escalate_to`` a Mode or ``"auto"``, ...).

    Raises:
        InvalidRequestError: A bad option; the message names it and what it accepts.
    """
    signals = _signal_names(opts.get("signals", "auto"))
    combine = opts.get("combine", "all")
    if combine not in ("all", "any"):
        raise InvalidRequestError(f"cascade combine must be 'all' or 'any', got {combine!r}.")
    samples = opts.get("samples", 3)
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 32:
        raise InvalidRequestError(f"cascade samples must be an integer 1-32, got {samples!r}.")
    temp = _number(opts.get("sample_temperature", SAMPLE_TEMPERATURE), "sample_temperature")
    if not 0 < temp <= 2:
        raise InvalidRequestError(f"sample_temperature must be in (0, 2], got {temp}.")
    unavailable = opts.get("on_unavailable", "fallback")
    if unavailable not in ("fallback", "escalate"):
        raise InvalidRequestError(
            f"cascade on_unavailable must be 'fallback' or 'escalate', got {unavailable!r}."
        )
    max_tokens = opts.get("edge_max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise InvalidRequestError(
            f"edge_max_tokens must be a positive integer, not {max_tokens!r}."
        )
    timeout = opts.get("edge_timeout")
    if timeout is not None and not _number(timeout, "edge_timeout") > 0:
        raise InvalidRequestError(f"edge_timeout must be > 0, got {timeout!r}.")
    return {
        "edge": None if opts.get("edge") is None else _edge_model(opts["edge"]),
        "signals": signals,
        "thresholds": _thresholds(opts.get("thresholds"), signals),
        "combine": combine,
        "samples": samples,
        "sample_temperature": temp,
        "escalate_to": _choose_escalation(opts.get("escalate_to", "auto"), cascade),
        "on_unavailable": unavailable,
        "record_both": bool(opts.get("record_both", False)),
        "edge_max_tokens": max_tokens,
        "edge_timeout": None if timeout is None else float(timeout),
    }


def _edge_model(value: object) -> Model:
    if isinstance(value, Model):
        return value
    if isinstance(value, str):
        from ...models.specs import model as resolve

        return resolve(value)
    raise InvalidRequestError(
        "mode 'cascade' needs mode_options={'edge': <a Model or spec such as 'edge'>}: the "
        f"model that answers first; got {type(value).__name__}."
    )


def _signal_names(value: object) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, Sequence) or not names:
        raise InvalidRequestError(
            f"cascade signals must be 'auto', one of {', '.join(SIGNALS)} or a list of "
            f"them; got {value!r}."
        )
    out = []
    for n in names:
        key = str(n).strip().lower().replace("-", "_") if isinstance(n, str) else n
        if key == "self_check":
            key = "selfcheck"
        if key != "auto" and key not in SIGNALS:
            raise InvalidRequestError(
                f"unknown cascade signal {n!r}; use 'auto' or {', '.join(SIGNALS)}."
            )
        if key not in out:
            out.append(key)
    if "auto" in out and len(out) > 1:
        raise InvalidRequestError("cascade signal 'auto' cannot be combined with others.")
    return tuple(out)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidRequestError(f"{what} must be a number, got {value!r}.")
    return float(value)


def _thresholds(value: object, signals: tuple[str, ...]) -> dict[str, float]:
    out = dict(DEFAULT_THRESHOLDS)
    if value is None:
        return out
    if isinstance(value, Mapping):
        for k, v in value.items():
            (name,) = _signal_names(k)
            if name == "auto":
                raise InvalidRequestError("give thresholds per signal name, not for 'auto'.")
            out[name] = _number(v, f"threshold of {name!r}")
        return out
    if signals == ("auto",):
        raise InvalidRequestError(
            "with signals='auto' give thresholds as a mapping "
            "({'logprob': -0.3, 'agreement': 0.67}): 'auto' may use either signal."
        )
    if len(signals) != 1:
        raise InvalidRequestError(
            "several signals take a mapping of thresholds, e.g. "
            "{'agreement': 0.67, 'selfcheck': 0.7}."
        )
    out[signals[0]] = _number(value, "threshold")
    return out


def _choose_escalation(value: object, cascade: type[Mode]) -> Mode | str:
    if isinstance(value, Mode):
        if isinstance(value, cascade):
            raise InvalidRequestError("a cascade cannot escalate to another cascade.")
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        if key == "auto":
            return "auto"
        if key in ESCALATIONS:
            return ESCALATIONS[key]
    raise InvalidRequestError(
        f"cascade escalate_to must be 'auto', one of {', '.join(m for m in ESCALATIONS)} "
        f"or a Mode; got {value!r}."
    )
