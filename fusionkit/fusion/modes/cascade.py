"""``cascade``: the edge model answers first; the pool runs only when the edge is unsure.

The third answer to "edge model or fusion?": answer on the device, and escalate to a
fusion pool (any other mode, best-of or vote by default) only when a cheap confidence
signal says the edge answer is doubtful::

    fk.fuse(prompt, pool=[big_a, big_b, big_c], judge=big_a, mode="cascade",
            mode_options={"edge": fk.edge_model(), "signals": "agreement"})

Without ``edge`` the first pool member answers first (the whole pool runs when it is
unsure), so ``--mode cascade`` works from the CLI and the console on any pool.

Signals (``mode_options["signals"]``: one name, several, or ``"auto"``), each compared
with its own threshold (``value >= threshold`` means "confident"):

- ``agreement``: the share of ``samples`` extra edge samples (temperature 0.7, seeded,
  sent at once so a local backend micro-batches them into one pass) whose extracted
  answer equals the greedy answer's. Default threshold 0.66 (two of three).
- ``logprob``: the greedy answer's mean token log-probability (default -0.35, about a
  0.7 geometric-mean token probability); ``min_logprob``: its least likely token's
  (default -2.3). Where the backend reports no log-probabilities the signal is
  *unavailable*: the result says so and the cascade falls back (``on_unavailable``).
- ``selfcheck``: the edge model rates its own answer 0-10 under a JSON Schema (a grammar
  on a local model); the value is the rating / 10. Default threshold 0.7.

``"auto"`` (the default) uses ``logprob`` where the edge reports log-probabilities and
``agreement`` otherwise. With several signals, ``combine="all"`` (default) stops only
when every available signal is confident; ``"any"`` when one is.

The result's judgment is a :class:`CascadeJudgment`: the escalation's own judgment (or the
cascade's when the edge answer stands) plus a :class:`CascadeDecision` saying what
happened — escalated or not, each signal's value and threshold, the edge answer, the
pool's answer when it ran, and both paths' tokens, cost and wall time. The edge calls are
candidates (labels ``edge``, ``edge-s1``, ...) and the self-check is a judge call, so
``result.usage`` and ``result.cost_usd`` cover both paths.

``record_both=True`` runs the pool on every prompt and still answers as the cascade
would: one run then records each item's signal and both paths' outcomes, which is what
:func:`fusionkit.fusion.calibrate.calibrate` sweeps thresholds over.

This module is the mode's flow (collect, then decide, then describe); the signals live in
:mod:`.cascade_signals`, the option checks in :mod:`.cascade_options` and the records in
:mod:`.cascade_records`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import FusionError, describe_error
from ...types import Usage
from ..events import FusionEvent
from ..records import Candidate, Judgment
from ..state import Run
from .base import Collected, Mode
from .cascade_options import ESCALATIONS, check_cascade_options
from .cascade_records import (
    SIGNALS,
    CascadeDecision,
    CascadeJudgment,
    SignalReading,
    cascade_of,
)
from .cascade_signals import (
    EDGE_LABEL,
    EDGE_SEED_OFFSET,
    decide_signals,
    edge_call,
    extract,
    read_signals,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..result import FusionResult

__all__ = [
    "EDGE_LABEL",
    "SIGNALS",
    "Cascade",
    "CascadeDecision",
    "CascadeJudgment",
    "SignalReading",
    "cascade_of",
]


@dataclass(slots=True)
class _Pending:
    """What collect found, for fuse_candidates (one fusion in flight)."""

    edge: list[Candidate]
    pool: list[Candidate]
    escalation: Mode
    readings: tuple[SignalReading, ...]
    would_escalate: bool
    reason: str
    edge_s: float
    escalation_start: float
    escalation_error: str | None


class Cascade(Mode):
    """The edge model answers; a confidence signal decides whether the pool runs."""

    name: ClassVar[str] = "cascade"
    aliases: ClassVar[tuple[str, ...]] = ("edge-first",)
    needs_judge: ClassVar[bool] = False
    stage: ClassVar[str] = "cascade"
    summary: ClassVar[str] = (
        "the edge model answers; the pool (best-of or vote) runs only when it is unsure"
    )
    single_shortcut: ClassVar[bool] = False
    option_help: ClassVar[Mapping[str, str]] = {
        "edge": "the model that answers first (a Model or spec; default: the first member)",
        "signals": "'auto' (default), or any of agreement, logprob, min_logprob, selfcheck",
        "thresholds": "one number (one signal) or {signal: number}; value >= it stops",
        "combine": "'all' (default): stop when every signal is confident; 'any': one is",
        "samples": "extra edge samples for agreement (default 3)",
        "sample_temperature": "temperature of those samples (default 0.7)",
        "escalate_to": "'auto' (best-of with a judge, else vote) or a mode name",
        "on_unavailable": "'fallback' (default: agreement instead) or 'escalate'",
        "record_both": "run the pool on every prompt too (for calibration); default False",
        "edge_max_tokens": "token limit of the edge answer (default: the pool's max_tokens)",
        "edge_timeout": "seconds each edge call may take (default: none)",
    }

    def __init__(self) -> None:
        # Fusions in flight, by id(run): collect hands its findings to fuse_candidates.
        self._pending: dict[int, _Pending] = {}

    def check_options(self, options: Mapping[str, Any]) -> Mapping[str, Any]:
        return check_cascade_options(super().check_options(options), Cascade)

    def missing_judge(self, options: Mapping[str, Any]) -> str | None:
        chosen = options["escalate_to"]
        if chosen == "auto" or not chosen.needs_judge:  # auto: vote when there is no judge
            return None
        return (
            "escalate to vote, which needs none (mode_options={'escalate_to': 'vote'}): "
            f"it escalates to {chosen.name!r}, which judges"
        )

    # -- collecting ---------------------------------------------------------------------------

    def _escalation(self, run: Run) -> Mode:
        # A judged escalation without a judge was refused up front (missing_judge).
        chosen = run.plan.options["escalate_to"]
        if chosen == "auto":
            return ESCALATIONS["best-of" if run.plan.judge is not None else "vote"]
        return chosen

    async def collect(self, run: Run) -> Collected:
        escalation = self._escalation(run)
        rec = run.rec
        t0 = rec.now()
        await rec.emit("stage_start", stage="edge")
        want_lp = any(s in ("auto", "logprob", "min_logprob") for s in run.plan.options["signals"])
        call = await edge_call(
            run,
            EDGE_LABEL,
            temperature=0.0,
            seed=run.plan.seed + EDGE_SEED_OFFSET,
            logprobs=want_lp,
        )
        greedy = call.candidate
        samples: list[Candidate] = []
        if greedy.ok:
            samples, readings = await read_signals(run, call)
            escalate, reason = decide_signals(run, readings)
        else:
            readings = []
            escalate, reason = True, f"the edge model failed ({greedy.error}): escalated"
        edge_s = rec.now() - t0
        await rec.emit("stage_finish", stage="edge", detail="escalate" if escalate else "stop")
        pool: list[Candidate] = []
        rounds: tuple[Any, ...] = ()
        error = None
        start = rec.now()
        pool_end = start
        if escalate or run.plan.options["record_both"]:
            try:
                got = await escalation.collect(run)
            except FusionError as exc:
                if not greedy.ok:
                    raise FusionError(
                        f"the cascade has no answer: the edge model failed ({greedy.error}) "
                        f"and so did the escalation: {exc}",
                        failures={**exc.failures, f"{greedy.model} [{EDGE_LABEL}]": call.exc},
                    ) from exc
                error = describe_error(exc)
            else:
                pool, rounds = got.candidates, got.rounds
                pool_end = rec.now() if got.pool_end_s is None else got.pool_end_s
        self._pending[id(run)] = _Pending(
            edge=[greedy, *samples],
            pool=pool,
            escalation=escalation,
            readings=tuple(readings),
            would_escalate=escalate,
            reason=reason,
            edge_s=edge_s,
            escalation_start=start,
            escalation_error=error,
        )
        return Collected([greedy, *samples, *pool], rounds=rounds, pool_end_s=pool_end)

    # -- deciding -----------------------------------------------------------------------------

    async def fuse_candidates(self, run: Run, candidates: list[Candidate]) -> tuple[str, Judgment]:
        st = self._pending.pop(id(run))
        greedy = st.edge[0]
        rec = run.rec
        self_checks = [j for j in rec.judge_calls if j.step.startswith("self-check")]
        answer: str | None = None
        base: Judgment | None = None
        error = st.escalation_error
        if st.pool:
            ok = [c for c in st.pool if c.ok]
            if ok:
                answer, base = await st.escalation.fuse_candidates(run, st.pool)
            else:  # pragma: no cover - stage1_collect raises when every member fails
                error = error or "every pool member failed"
        escalation_s = rec.now() - st.escalation_start if (st.pool or error) else 0.0
        # The pool's answer IS the result only when the escalation was wanted and answered.
        # That differs from would_escalate when the escalation failed (the edge answer
        # stands); record_both's extra pool run on a confident edge leaves both False
        # (pool_ran says it ran).
        used: tuple[str, Judgment] | None = (
            (answer, base)
            if st.would_escalate and answer is not None and base is not None
            else None
        )
        esc_calls = [j for j in rec.judge_calls if not j.step.startswith("self-check")]
        decision = CascadeDecision(
            escalated=used is not None,
            would_escalate=st.would_escalate,
            reason=st.reason,
            signals=st.readings,
            edge_model=greedy.model,
            edge_answer=greedy.text if greedy.ok else None,
            edge_extracted=extract(run, greedy.text) if greedy.ok else None,
            edge_error=greedy.error,
            escalate_to=st.escalation.name,
            pool_ran=bool(st.pool) or error is not None,
            pool_answer=answer,
            escalation_error=error,
            edge_s=st.edge_s,
            escalation_s=escalation_s,
            edge_usage=_usage(st.edge, self_checks),
            escalation_usage=_usage(st.pool, esc_calls),
            edge_cost_usd=_cost(st.edge, self_checks),
            escalation_cost_usd=_cost(st.pool, esc_calls),
        )
        if used is not None:
            note = f"Cascade: {st.reason}; {st.escalation.name} answered."
            return used[0], _with_cascade(used[1], decision, note)
        if st.would_escalate:  # the escalation failed: keep the edge answer, say so
            j = CascadeJudgment(
                method="cascade",
                winner=EDGE_LABEL,
                rationale=f"{st.reason}, but the escalation failed ({error}); the edge "
                "answer stands.",
                fallback=True,
                fallback_reason=f"escalation to {st.escalation.name} failed: {error}",
                cascade=decision,
            )
            return greedy.text, j
        also = ""
        if answer is not None:
            also = f" The pool ran as well (record_both); {st.escalation.name} answered too."
        j = CascadeJudgment(
            method="cascade",
            winner=EDGE_LABEL,
            rationale=f"The edge answer stands: {st.reason}; the pool was not needed.{also}",
            cascade=decision,
        )
        return greedy.text, j

    async def decide(self, run: Run, ok: list[Candidate]) -> tuple[str, Judgment]:
        raise NotImplementedError("the cascade decides in fuse_candidates")  # pragma: no cover

    # -- describing ---------------------------------------------------------------------------

    def verdict_parts(self, result: FusionResult) -> list[str]:
        d = cascade_of(result)
        if d is None:
            return super().verdict_parts(result)
        words = "; ".join(s.describe() for s in d.signals) or "no signal"
        if d.escalated:
            parts = [f"escalated to {d.escalate_to} ({words})"]
            esc = ESCALATIONS.get(d.escalate_to)
            return parts + (esc.verdict_parts(result) if esc is not None else [])
        if d.would_escalate:
            return [f"escalation failed; edge answer kept ({d.escalation_error})"]
        return [f"edge answer kept ({words})"]

    def stage_text(self, event: FusionEvent) -> str:
        if event.kind == "stage_start" and event.stage == "edge":
            return "The edge model answers first…"
        if event.kind == "stage_finish" and event.stage == "edge":
            if event.detail == "stop":
                return "The edge model is confident: no escalation."
            return "The edge model is unsure: escalating to the pool…"
        if event.kind == "stage_start" and event.stage == "pool":
            return "Escalation: the pool is answering…"
        return super().stage_text(event)


def _usage(cands: Sequence[Candidate], calls: Sequence[Any]) -> Usage:
    total = Usage()
    for c in cands:
        total = total + c.usage
    for j in calls:
        total = total + j.usage
    return total


def _cost(cands: Sequence[Candidate], calls: Sequence[Any]) -> float | None:
    parts = [c.cost_usd for c in cands] + [j.cost_usd for j in calls]
    return None if any(p is None for p in parts) else float(sum(parts))


def _with_cascade(j: Judgment, decision: CascadeDecision, note: str) -> CascadeJudgment:
    values = {f.name: getattr(j, f.name) for f in fields(Judgment)}
    values["note"] = f"{note} {values['note']}" if values.get("note") else note
    return CascadeJudgment(**values, cascade=decision)
