"""The conditions an evaluation compares: one model alone, or a pool fused in some mode.

Split from :mod:`fusionkit.evaluation` (running and grading); everything here is
importable from there as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidRequestError
from .fusion.prepare import SELF_MOA_TEMPERATURE
from .models.base import Model

__all__ = ["Condition", "cascade_condition", "standard_conditions"]


@dataclass(frozen=True, slots=True)
class Condition:
    """One way of answering: a single model, or a fused pool.

    Attributes:
        name: Label shown in tables (``"edge alone"``, ``"vote ×5"``).
        pool: The models; exactly one for ``mode="single"``.
        mode: ``"single"`` or a fusion mode (``"vote"``, ``"best-of"``, ``"merge"``,
            ``"debate"``).
        judge: The judge for best-of, merge and debate.
        options: Extra keyword arguments for :func:`fusionkit.afuse` (``rounds``,
            ``temperature``, ``judge_max_tokens``, ...) or for ``acomplete``.
    """

    name: str
    pool: tuple[Model, ...]
    mode: str = "single"
    judge: Model | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidRequestError("a condition needs a name.")
        if self.mode == "single" and len(self.pool) != 1:
            raise InvalidRequestError(
                f"condition {self.name!r}: mode 'single' takes exactly one model, "
                f"got {len(self.pool)}."
            )

    @property
    def calls_per_task(self) -> str:
        """A short description of the work per task (for tables)."""
        if self.mode == "single":
            return "1 call"
        if self.mode == "cascade":
            return f"edge, then {len(self.pool)} members when unsure"
        judge = " + judge" if self.judge is not None else ""
        return f"{len(self.pool)} members{judge}"


def standard_conditions(
    model: Model,
    *,
    samples: int = 5,
    pool_size: int = 3,
    judge_max_tokens: int = 64,
    seed: int = 0,
    alone: str = "edge alone",
) -> list[Condition]:
    """The usual comparison: one model alone, a vote, best-of with a judge, a debate.

    Fused pools are Self-MoA pools of the same model sampled at
    :data:`~fusionkit.fusion.prepare.SELF_MOA_TEMPERATURE` (0.7) with
    distinct seeds; the model also judges, and the debate runs one round.

    Args:
        model: The model to compare with fused pools of itself.
        samples: Members of the vote pool.
        pool_size: Members of the best-of and debate pools.
        judge_max_tokens: Token limit of each judge reply.
        seed: Base seed of the samples.
        alone: Name of the single-model condition.

    Returns:
        Four conditions, named ``alone``, ``vote ×N``, ``best-of ×N`` and ``debate ×N``.
    """
    sampled = {"temperature": SELF_MOA_TEMPERATURE, "seed": seed}
    judged = {**sampled, "judge_max_tokens": judge_max_tokens}
    return [
        Condition(alone, (model,)),
        Condition(f"vote ×{samples}", (model,) * samples, mode="vote", options=sampled),
        Condition(
            f"best-of ×{pool_size}",
            (model,) * pool_size,
            mode="best-of",
            judge=model,
            options=judged,
        ),
        Condition(
            f"debate ×{pool_size}",
            (model,) * pool_size,
            mode="debate",
            judge=model,
            options={**judged, "rounds": 1},
        ),
    ]


def cascade_condition(
    edge: Model,
    pool: Sequence[Model],
    *,
    judge: Model | None = None,
    name: str = "cascade",
    signals: str | Sequence[str] = "auto",
    threshold: float | Mapping[str, float] | None = None,
    escalate_to: str = "auto",
    **options: Any,
) -> Condition:
    """A condition that runs the ``cascade`` mode: the edge answers, the pool when unsure.

    Args:
        edge: The model that answers first.
        pool: The escalation pool.
        judge: The escalation's judge (best-of by default when given, else vote).
        name: The condition's name.
        signals: The cascade's confidence signals (see
            :mod:`fusionkit.fusion.modes.cascade`).
        threshold: One threshold, or ``{signal: threshold}`` (default thresholds otherwise).
        escalate_to: The escalation mode.
        **options: Other cascade options (``samples``, ``combine``, ...) and
            :func:`fusionkit.afuse` arguments (``temperature``, ``seed``, ...).

    Returns:
        The :class:`Condition`.
    """
    from .fusion.modes.cascade import Cascade

    mode_keys = set(Cascade.option_help)
    mode_options: dict[str, Any] = {"edge": edge, "signals": signals, "escalate_to": escalate_to}
    if threshold is not None:
        mode_options["thresholds"] = threshold
    fuse_options = {}
    for key, value in options.items():
        (mode_options if key in mode_keys else fuse_options)[key] = value
    return Condition(
        name,
        tuple(pool),
        mode="cascade",
        judge=judge,
        options={**fuse_options, "mode_options": mode_options},
    )
