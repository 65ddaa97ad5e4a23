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
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import FusionError, InvalidRequestError, describe_error
from ...models.base import Model
from ...types import Message, Usage
from ..calls import timed_call
from ..events import FusionEvent
from ..judging import judge_call
from ..records import Candidate, Judgment
from ..state import Run
from ..vote import extract_answer
from .base import Collected, Mode
from .best_of import BestOf
from .cascade_records import (
    DEFAULT_THRESHOLDS,
    SELF_CHECK_SCHEMA,
    SIGNALS,
    CascadeDecision,
    CascadeJudgment,
    SignalReading,
    cascade_of,
)
from .debate import Debate
from .merge import Merge
from .vote import Vote

if TYPE_CHECKING:  # pragma: no cover
    from ..result import FusionResult

__all__ = [
    "DEFAULT_THRESHOLDS",
    "SIGNALS",
    "SELF_CHECK_SCHEMA",
    "Cascade",
    "CascadeDecision",
    "CascadeJudgment",
    "SignalReading",
    "cascade_of",
]

#: The edge model's candidate label (its samples are ``edge-s1``, ``edge-s2``, ...).
EDGE_LABEL = "edge"
SAMPLE_TEMPERATURE = 0.7
#: Seeds of the edge calls sit this far from the pool members' (seed + i) so that a
#: Self-MoA pool of the edge model never replays an edge sample from the cache.
_EDGE_SEED_OFFSET = 10_007

# Built here rather than read from the registry: the registry imports this module.
_ESCALATIONS: Mapping[str, Mode] = {m.name: m for m in (BestOf(), Vote(), Merge(), Debate())} | {
    "majority": Vote(),
    "best_of": BestOf(),
    "bestof": BestOf(),
}


# -- options ----------------------------------------------------------------------------------


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


def _choose_escalation(value: object) -> Mode | str:
    if isinstance(value, Mode):
        if isinstance(value, Cascade):
            raise InvalidRequestError("a cascade cannot escalate to another cascade.")
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        if key == "auto":
            return "auto"
        if key in _ESCALATIONS:
            return _ESCALATIONS[key]
    raise InvalidRequestError(
        f"cascade escalate_to must be 'auto', one of {', '.join(m for m in _ESCALATIONS)} "
        f"or a Mode; got {value!r}."
    )


# -- the mode ---------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class _EdgeCall:
    candidate: Candidate
    logprobs: tuple[float, ...] | None
    exc: BaseException | None


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
        opts = dict(super().check_options(options))
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
            "escalate_to": _choose_escalation(opts.get("escalate_to", "auto")),
            "on_unavailable": unavailable,
            "record_both": bool(opts.get("record_both", False)),
            "edge_max_tokens": max_tokens,
            "edge_timeout": None if timeout is None else float(timeout),
        }

    # -- collecting ---------------------------------------------------------------------------

    def _escalation(self, run: Run) -> Mode:
        chosen = run.plan.options["escalate_to"]
        if chosen == "auto":
            return _ESCALATIONS["best-of" if run.plan.judge is not None else "vote"]
        if chosen.needs_judge and run.plan.judge is None:
            raise InvalidRequestError(
                f"the cascade escalates to {chosen.name!r}, which needs a judge: pass "
                "judge=<a model>, or escalate_to='vote'."
            )
        return chosen

    async def _edge_call(self, run: Run, label: str, **changes: Any) -> _EdgeCall:
        plan, opts = run.plan, run.plan.options
        edge = _the_edge(run)
        base = plan.members[0].request
        request = dataclasses.replace(
            base, max_tokens=opts["edge_max_tokens"] or base.max_tokens, **changes
        )
        r = await timed_call(
            run.rec,
            edge,
            request,
            timeout=opts["edge_timeout"],
            cache=plan.cache,
            stage="edge",
            label=label,
        )
        c = r.completion
        cand = Candidate(
            label=label,
            model=edge.name,
            index=-1,
            text=c.text if c else "",
            usage=c.usage if c else Usage(),
            latency_s=r.latency_s,
            cost_usd=r.cost_usd,
            error=r.error,
            seed=request.seed,
            temperature=request.temperature,
            start_s=r.start_s,
            end_s=r.end_s,
            cached=c.cached if c else False,
            finish_reason=c.finish_reason if c else None,
        )
        return _EdgeCall(cand, c.logprobs if c is not None else None, r.exc)

    async def _samples(self, run: Run) -> list[Candidate]:
        opts = run.plan.options
        seed = run.plan.seed + _EDGE_SEED_OFFSET
        calls = await asyncio.gather(
            *(
                self._edge_call(
                    run,
                    f"{EDGE_LABEL}-s{i}",
                    temperature=opts["sample_temperature"],
                    seed=seed + i,
                )
                for i in range(1, opts["samples"] + 1)
            )
        )
        return [c.candidate for c in calls]

    def _extract(self, run: Run, text: str) -> str | None:
        p = run.plan
        return extract_answer(text, kind=p.extract, choices=p.choices, question=p.prompt)

    def _agreement(self, run: Run, greedy: Candidate, samples: list[Candidate]) -> SignalReading:
        threshold = run.plan.options["thresholds"]["agreement"]
        mine = self._extract(run, greedy.text)
        if mine is None:
            return SignalReading("agreement", 0.0, threshold, "no answer in the edge reply")
        same = sum(1 for s in samples if s.ok and self._extract(run, s.text) == mine)
        note = f"{same} of {len(samples)} samples gave {mine!r}"
        return SignalReading("agreement", same / len(samples), threshold, note)

    def _logprob(self, run: Run, name: str, greedy: _EdgeCall) -> SignalReading:
        threshold = run.plan.options["thresholds"][name]
        lps = greedy.logprobs
        if not lps:
            why = f"{greedy.candidate.model} reported no token log-probabilities"
            return SignalReading(name, None, threshold, why)
        value = sum(lps) / len(lps) if name == "logprob" else min(lps)
        return SignalReading(name, value, threshold, f"over {len(lps)} tokens")

    async def _selfcheck(self, run: Run, greedy: Candidate) -> SignalReading:
        threshold = run.plan.options["thresholds"]["selfcheck"]
        edge = _the_edge(run)
        checker = Run(dataclasses.replace(run.plan, judge=edge), run.rec)
        messages = [
            Message(
                "user",
                "Question:\n"
                f"{run.plan.prompt}\n\nProposed answer:\n{greedy.text}\n\n"
                "How sure are you that the proposed answer is correct? Reply with JSON "
                'like {"confidence": 7}, from 0 (surely wrong) to 10 (surely right).',
            )
        ]
        call, reply = await judge_call(
            checker, "self-check", messages, schema=SELF_CHECK_SCHEMA, max_tokens=16
        )
        if call.error is not None:
            return SignalReading(
                "selfcheck", None, threshold, f"the self-check failed: {call.error}"
            )
        value = _read_confidence(reply.parsed, reply.text)
        if value is None:
            return SignalReading("selfcheck", None, threshold, "the self-check was unreadable")
        return SignalReading("selfcheck", value / 10, threshold, f"rated {value}/10")

    async def _read_signals(
        self, run: Run, call: _EdgeCall
    ) -> tuple[list[Candidate], list[SignalReading]]:
        greedy = call.candidate
        opts = run.plan.options
        wanted = list(opts["signals"])
        if wanted == ["auto"]:
            wanted = ["logprob"]
        samples: list[Candidate] = []
        readings: list[SignalReading] = []
        if "agreement" in wanted:
            samples = await self._samples(run)
        for name in wanted:
            if name == "agreement":
                readings.append(self._agreement(run, greedy, samples))
            elif name in ("logprob", "min_logprob"):
                readings.append(self._logprob(run, name, call))
            else:
                readings.append(await self._selfcheck(run, greedy))
        missing = [r for r in readings if not r.available]
        if missing and opts["on_unavailable"] == "fallback" and "agreement" not in wanted:
            samples = await self._samples(run)
            fb = self._agreement(run, greedy, samples)
            note = f"fallback for {', '.join(r.name for r in missing)}; {fb.note}"
            readings.append(dataclasses.replace(fb, note=note))
        return samples, readings

    def _decide_signals(self, run: Run, readings: list[SignalReading]) -> tuple[bool, str]:
        """``(escalate, reason)`` from the readings."""
        said = [r for r in readings if r.available]
        words = "; ".join(r.describe() for r in readings)
        if not said:
            return True, f"no confidence signal was available ({words}): escalated"
        missing = [r for r in readings if not r.available]
        if missing and run.plan.options["on_unavailable"] == "escalate":
            return True, f"{words}: a signal was unavailable, so escalated"
        votes = [bool(r.confident) for r in said]
        rule = all if run.plan.options["combine"] == "all" else any
        if rule(votes):
            return False, f"edge confident ({words})"
        return True, f"edge unsure ({words})"

    async def collect(self, run: Run) -> Collected:
        escalation = self._escalation(run)  # before any call: a missing judge fails first
        rec = run.rec
        t0 = rec.now()
        await rec.emit("stage_start", stage="edge")
        want_lp = any(s in ("auto", "logprob", "min_logprob") for s in run.plan.options["signals"])
        call = await self._edge_call(
            run,
            EDGE_LABEL,
            temperature=0.0,
            seed=run.plan.seed + _EDGE_SEED_OFFSET,
            logprobs=want_lp,
        )
        greedy = call.candidate
        samples: list[Candidate] = []
        if greedy.ok:
            samples, readings = await self._read_signals(run, call)
            escalate, reason = self._decide_signals(run, readings)
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
        pool_answer = answer
        escalated = st.would_escalate
        esc_calls = [j for j in rec.judge_calls if not j.step.startswith("self-check")]
        decision = CascadeDecision(
            escalated=escalated,
            would_escalate=st.would_escalate,
            reason=st.reason,
            signals=st.readings,
            edge_model=greedy.model,
            edge_answer=greedy.text if greedy.ok else None,
            edge_extracted=self._extract(run, greedy.text) if greedy.ok else None,
            edge_error=greedy.error,
            escalate_to=st.escalation.name,
            pool_ran=bool(st.pool) or error is not None,
            pool_answer=pool_answer,
            escalation_error=error,
            edge_s=st.edge_s,
            escalation_s=escalation_s,
            edge_usage=_usage(st.edge, self_checks),
            escalation_usage=_usage(st.pool, esc_calls),
            edge_cost_usd=_cost(st.edge, self_checks),
            escalation_cost_usd=_cost(st.pool, esc_calls),
        )
        if st.would_escalate and answer is not None and base is not None:
            note = f"Cascade: {st.reason}; {st.escalation.name} answered."
            judged = _with_cascade(base, decision, note)
            return answer, judged
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
        if pool_answer is not None:
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
        if d.escalated and d.pool_answer is not None:
            parts = [f"escalated to {d.escalate_to} ({words})"]
            esc = _ESCALATIONS.get(d.escalate_to)
            return parts + (esc.verdict_parts(result) if esc is not None else [])
        if d.escalated:
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


def _the_edge(run: Run) -> Model:
    """The edge model: the option, else the first pool member (so ``--mode cascade`` in
    the CLI or the console works on any pool)."""
    edge = run.plan.options.get("edge")
    return edge if isinstance(edge, Model) else run.plan.members[0].model


def _read_confidence(parsed: object, text: str) -> int | None:
    if isinstance(parsed, Mapping) and isinstance(parsed.get("confidence"), int):
        value = int(parsed["confidence"])
        return value if 0 <= value <= 10 else None
    import re

    m = re.search(r"\b(10|[0-9])\b", text or "")
    return int(m.group(1)) if m else None


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
