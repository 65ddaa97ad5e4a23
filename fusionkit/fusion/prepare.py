"""Validation of fuse() arguments: every bad input fails here, before any model is called.

Two steps, so that ``fuse_many`` validates what its fusions share once:

- :func:`prepare_setup` checks everything but the prompt (pool, judge, mode and its
  options, limits) and resolves spec strings into models: a :class:`Setup`.
- :func:`plan_for` checks one prompt and makes its :class:`~.state.Plan`: the seed, the
  shuffled labels, each member's request (see the engine's docstring for why).

:func:`resolve_models` is the one way a front-end (CLI, console, ``fuse``) turns spec
strings into models: a repeated spec is the same instance. With ``unavailable=True`` (what
``fuse`` uses for the pool) a spec that cannot be configured (no API key, unknown form)
becomes an :class:`UnavailableModel` whose every call fails with that error, so the member
is a failed row like any other failure instead of an exception out of ``fuse``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError, InvalidRequestError
from ..models.base import Model
from ..types import Completion, Request, build_request
from .debate import MAX_ROUNDS
from .labels import labels_for, shuffle_order
from .modes import Mode, get_mode
from .state import Member, Plan
from .vote import Extractor, detect_choices

__all__ = [
    "SELF_MOA_TEMPERATURE",
    "Setup",
    "UnavailableModel",
    "check_prompt",
    "plan_for",
    "prepare_setup",
    "resolve_model",
    "resolve_models",
]

#: Sampling temperature given by default to a model that appears more than once in a pool.
SELF_MOA_TEMPERATURE = 0.7
_EXTRACT_KINDS = ("auto", "number", "choice", "text")


class UnavailableModel(Model):
    """A pool member whose spec could not be configured: every call fails with the reason.

    Args:
        spec: The spec string, shown as the member's name.
        error: The :class:`ConfigurationError` that building it raised.
    """

    kind = "unavailable"
    cacheable = False

    def __init__(self, spec: str, error: ConfigurationError) -> None:
        super().__init__(spec)
        self.error_type = type(error)
        self.message = str(error)

    async def _acomplete(self, request: Request) -> Completion:
        # A fresh exception per call: re-raising one instance would grow its traceback.
        raise self.error_type(self.message)


def resolve_model(item: object, what: str) -> Model:
    """A Model as is, or a spec string (``"edge"``) resolved; anything else is an error."""
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


def resolve_models(
    items: Sequence[object], what: str = "pool", *, unavailable: bool = False
) -> list[Model]:
    """Resolve models and specs; a repeated spec string becomes ONE instance.

    Self-MoA samples a repeated model once per occurrence with its own seed, and a local
    model must load once, so ``["edge", "edge"]`` is two references to one model.

    Args:
        items: Models or spec strings.
        what: How to name an item in errors (``"pool"`` -> ``pool[2]``).
        unavailable: When True, a spec that raises :class:`ConfigurationError` (a missing
            key, an unknown form) becomes an :class:`UnavailableModel` that fails every
            call with that message: in a pool, one unusable member is a failed row.

    Raises:
        ConfigurationError: A spec that cannot be configured (with ``unavailable=False``).
        InvalidRequestError: An item that is neither a Model nor a string.
    """
    built: dict[str, Model] = {}
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            key = item.strip()
            if key not in built:
                try:
                    built[key] = resolve_model(key, f"{what}[{i}]")
                except ConfigurationError as exc:
                    if not unavailable:
                        raise
                    built[key] = UnavailableModel(key, exc)
            out.append(built[key])
        else:
            out.append(resolve_model(item, f"{what}[{i}]"))
    return out


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


def check_prompt(prompt: object) -> str:
    """The prompt, when it is a non-empty string.

    Raises:
        InvalidRequestError: Not a string, or only whitespace.
    """
    if not isinstance(prompt, str):
        raise InvalidRequestError(f"prompt must be a string, not {type(prompt).__name__}.")
    if not prompt.strip():
        raise InvalidRequestError("the prompt is empty: give the question to send to the pool.")
    return prompt


@dataclass(frozen=True, slots=True)
class Setup:
    """What every fusion of a batch shares, validated and resolved (see :func:`prepare_setup`)."""

    models: tuple[Model, ...]
    judge: Model | None
    judge_in_pool: bool
    mode: Mode
    options: Mapping[str, Any]
    rounds: int
    system: str | None
    max_tokens: int
    temperatures: tuple[float, ...]
    timeouts: tuple[float | None, ...]
    judge_timeout: float | None
    judge_max_tokens: int
    seed: int | None
    swap_check: bool
    extract: str | Extractor
    cache: bool | None


def prepare_setup(
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
    swap_check: bool,
    judge_max_tokens: int | None,
    judge_timeout: object,
    extract: str | Extractor,
    cache: bool | None,
    mode_options: Mapping[str, Any] | None = None,
    warn_stacklevel: int = 3,
) -> Setup:
    """Validate every fuse() argument except the prompt and resolve the models.

    Raises:
        InvalidRequestError: Anything invalid, naming it.
        ConfigurationError: The judge's spec cannot be configured (a pool member's
            becomes an :class:`UnavailableModel`: a failed row).
    """
    the_mode = get_mode(mode)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS:
        raise InvalidRequestError(f"rounds must be an integer 1..{MAX_ROUNDS}, got {rounds!r}.")
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
    if mode_options is not None and not isinstance(mode_options, Mapping):
        raise InvalidRequestError(
            f"mode_options must be a mapping of option -> value, not {type(mode_options).__name__}."
        )
    options = the_mode.check_options(dict(mode_options or {}))
    # After the options: they may decide (a cascade escalating to best-of needs a judge).
    instead = None if judge is not None else the_mode.missing_judge(options)
    if instead is not None:
        raise InvalidRequestError(
            f"mode {the_mode.name!r} needs a judge: pass judge=<a model or spec>, or {instead}."
        )
    if not (callable(extract) or extract in _EXTRACT_KINDS):
        raise InvalidRequestError(
            f"extract must be one of {', '.join(_EXTRACT_KINDS)} or a function, got {extract!r}."
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidRequestError(f"seed must be an integer, got {seed!r}.")
    # Check the sampling limits once here (a batch fails fast), not once per member.
    build_request(
        "check", max_tokens=max_tokens, temperature=0.0 if temperature is None else temperature
    )
    if judge_max_tokens is None:
        judge_max_tokens = max(max_tokens, 256)
    build_request("check", max_tokens=judge_max_tokens)
    if isinstance(timeout, (list, tuple)):
        if len(timeout) != len(pool):
            raise InvalidRequestError(
                f"timeout has {len(timeout)} values for a pool of {len(pool)}; give one each."
            )
        timeouts = tuple(_positive(t, "timeout") for t in timeout)
    else:
        timeouts = (_positive(timeout, "timeout"),) * len(pool)
    jt = _positive(judge_timeout, "judge_timeout")
    if judge_timeout is None and not isinstance(timeout, (list, tuple)):
        jt = timeouts[0]

    # The judge first: a judge that cannot be configured is an error before anything
    # loads; a pool member that cannot is a failed row (see resolve_models).
    judge_model = None if judge is None else resolve_model(judge, "judge")
    models = tuple(resolve_models(pool, unavailable=True))
    counts: dict[str, int] = {}
    for m in models:
        counts[m.identity] = counts.get(m.identity, 0) + 1
    if temperature == 0 and any(n > 1 for n in counts.values()):
        warnings.warn(
            "the pool repeats a model at temperature 0: on a deterministic backend its "
            "samples will be identical. Leave temperature=None (repeats then sample at "
            f"{SELF_MOA_TEMPERATURE}) or pass temperature > 0.",
            UserWarning,
            stacklevel=warn_stacklevel,
        )
    if temperature is None:  # greedy, but a repeated model samples (Self-MoA)
        temps = tuple(SELF_MOA_TEMPERATURE if counts[m.identity] > 1 else 0.0 for m in models)
    else:
        temps = (float(temperature),) * len(models)
    in_pool = judge_model is not None and any(
        m is judge_model or m.identity == judge_model.identity for m in models
    )
    return Setup(
        models=models,
        judge=judge_model,
        judge_in_pool=in_pool,
        mode=the_mode,
        options=options,
        rounds=rounds,
        system=system,
        max_tokens=max_tokens,
        temperatures=temps,
        timeouts=timeouts,
        judge_timeout=jt,
        judge_max_tokens=judge_max_tokens,
        seed=seed,
        swap_check=bool(swap_check),
        extract=extract,
        cache=cache,
    )


def plan_for(prompt: object, setup: Setup) -> Plan:
    """Check one prompt and plan its fusion: seed, shuffled labels, member requests.

    Raises:
        InvalidRequestError: The prompt is not a non-empty string.
    """
    prompt = check_prompt(prompt)
    base = build_request(prompt, system=setup.system, max_tokens=setup.max_tokens)
    models = setup.models
    seed = setup.seed
    if seed is None:
        seed = _derive_seed(prompt, setup.mode.name, models)
    labels = labels_for(len(models))
    order = shuffle_order(len(models), seed)
    label_of = {pool_index: labels[pos] for pos, pool_index in enumerate(order)}
    members = []
    for i, m in enumerate(models):
        request = dataclasses.replace(base, temperature=setup.temperatures[i], seed=seed + i)
        members.append(Member(i, label_of[i], m, request, setup.timeouts[i]))
    return Plan(
        prompt=prompt,
        mode=setup.mode,
        members=tuple(members),
        judge=setup.judge,
        judge_in_pool=setup.judge_in_pool,
        seed=seed,
        rounds=setup.rounds,
        system=setup.system,
        judge_max_tokens=setup.judge_max_tokens,
        judge_timeout=setup.judge_timeout,
        swap_check=setup.swap_check,
        extract=setup.extract,
        cache=setup.cache,
        choices=detect_choices(prompt),
        options=setup.options,
    )
