"""Validation of fuse() arguments: every bad input fails here, before any model is called.

Also where labels, seeds and temperatures are assigned (see the engine's docstring for why).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import warnings
from collections.abc import Sequence

from ..errors import ConfigurationError, InvalidRequestError
from ..models.base import Model
from ..types import build_request
from . import judge as J
from .state import EventCallback, Member, Run
from .vote import Extractor, detect_choices

__all__ = ["MODES", "NEEDS_JUDGE", "SELF_MOA_TEMPERATURE", "prepare", "resolve_model"]

MODES = ("best-of", "merge", "debate", "vote")
_ALIASES = {"best_of": "best-of", "bestof": "best-of", "best": "best-of", "majority": "vote"}
NEEDS_JUDGE = ("best-of", "merge", "debate")
#: Sampling temperature given by default to a model that appears more than once in a pool.
SELF_MOA_TEMPERATURE = 0.7
_EXTRACT_KINDS = ("auto", "number", "choice", "text")


def resolve_model(item: object, what: str) -> Model:
    if isinstance(item, Model):
        return item
    if isinstance(item, str):
        try:
            from ..models.specs import model as resolve
        except ImportError as exc:  # pragma: no cover - specs ship with fusionkit
            raise ConfigurationError(
                f"cannot resolve model spec {item!r} for {what}: {exc}. Pass a Model instance."
            ) from exc
        return resolve(item)
    raise InvalidRequestError(
        f"{what} must be a Model or a model spec string such as 'edge', not {type(item).__name__}."
    )


def _positive(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidRequestError(
            f"{name} must be a positive number of seconds or None, got {value!r}."
        )
    if math.isinf(value):
        return None
    return float(value)


def _derive_seed(prompt: str, mode: str, models: Sequence[Model]) -> int:
    key = "\0".join([prompt, mode, *(m.identity for m in models)])
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16)


def prepare(
    prompt: object,
    pool: object,
    judge: object,
    mode: object,
    *,
    rounds: object,
    system: str | None,
    max_tokens: int,
    temperature: float | None,
    timeout: object,
    seed: int | None,
    on_event: EventCallback | None,
    swap_check: bool,
    judge_max_tokens: int | None,
    judge_timeout: object,
    extract: str | Extractor,
    cache: bool | None,
) -> Run:
    if not isinstance(prompt, str):
        raise InvalidRequestError(f"prompt must be a string, not {type(prompt).__name__}.")
    if not prompt.strip():
        raise InvalidRequestError("the prompt is empty: give the question to send to the pool.")
    if (
        not isinstance(mode, str)
        or _ALIASES.get(mode.strip().lower(), mode.strip().lower()) not in MODES
    ):
        raise InvalidRequestError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}.")
    mode = _ALIASES.get(mode.strip().lower(), mode.strip().lower())
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InvalidRequestError(f"rounds must be an integer >= 1, got {rounds!r}.")
    if isinstance(pool, (str, Model)):
        raise InvalidRequestError(
            f"pool must be a list of models or specs; wrap a single one: pool=[{pool!r}]."
        )
    if not isinstance(pool, Sequence):
        raise InvalidRequestError(
            f"pool must be a list of models or specs, not {type(pool).__name__}."
        )
    if len(pool) == 0:
        raise InvalidRequestError(
            "the pool is empty: pass at least one model or spec, e.g. pool=[fk.edge_model()]."
        )
    if judge is None and mode in NEEDS_JUDGE:
        raise InvalidRequestError(
            f"mode {mode!r} needs a judge: pass judge=<a model or spec>, or use mode='vote', "
            "which needs none."
        )
    if not (callable(extract) or extract in _EXTRACT_KINDS):
        raise InvalidRequestError(
            f"extract must be one of {', '.join(_EXTRACT_KINDS)} or a function, got {extract!r}."
        )
    if on_event is not None and not callable(on_event):
        raise InvalidRequestError("on_event must be a function that takes a FusionEvent.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidRequestError(f"seed must be an integer, got {seed!r}.")
    if temperature is not None:
        build_request("x", temperature=temperature)  # validates the range
    base = build_request(prompt, system=system, max_tokens=max_tokens)
    if judge_max_tokens is None:
        judge_max_tokens = max(max_tokens, 256)
    build_request("x", max_tokens=judge_max_tokens)
    if isinstance(timeout, (list, tuple)):
        if len(timeout) != len(pool):
            raise InvalidRequestError(
                f"timeout has {len(timeout)} values for a pool of {len(pool)}; give one each."
            )
        timeouts = [_positive(t, "timeout") for t in timeout]
    else:
        timeouts = [_positive(timeout, "timeout")] * len(pool)
    jt = _positive(judge_timeout, "judge_timeout")
    if judge_timeout is None and not isinstance(timeout, (list, tuple)):
        jt = timeouts[0]

    models = [resolve_model(item, f"pool[{i}]") for i, item in enumerate(pool)]
    judge_model = None if judge is None else resolve_model(judge, "judge")
    if seed is None:
        seed = _derive_seed(prompt, mode, models)
    counts: dict[str, int] = {}
    for m in models:
        counts[m.identity] = counts.get(m.identity, 0) + 1
    if temperature == 0 and any(n > 1 for n in counts.values()):
        warnings.warn(
            "the pool repeats a model at temperature 0: on a deterministic backend its "
            "samples will be identical. Leave temperature=None (repeats then sample at "
            f"{SELF_MOA_TEMPERATURE}) or pass temperature > 0.",
            UserWarning,
            stacklevel=3,
        )
    labels = J.labels_for(len(models))
    order = J.shuffle_order(len(models), seed)
    label_of = {pool_index: labels[pos] for pos, pool_index in enumerate(order)}
    members = []
    for i, m in enumerate(models):
        t = temperature
        if t is None:
            t = SELF_MOA_TEMPERATURE if counts[m.identity] > 1 else 0.0
        request = dataclasses.replace(base, temperature=float(t), seed=seed + i)
        members.append(Member(i, label_of[i], m, request, timeouts[i]))
    in_pool = judge_model is not None and any(
        m is judge_model or m.identity == judge_model.identity for m in models
    )
    return Run(
        prompt=prompt,
        mode=mode,
        members=members,
        judge=judge_model,
        judge_in_pool=in_pool,
        seed=seed,
        rounds=rounds,
        system=system,
        judge_max_tokens=judge_max_tokens,
        judge_timeout=jt,
        swap_check=bool(swap_check),
        extract=extract,
        cache=cache,
        on_event=on_event,
        choices=detect_choices(prompt),
    )
