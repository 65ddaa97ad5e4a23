"""Edge model alone against fused pools, measured on a verifiable task set.

This is the seed question of fusionkit answered with numbers: for each *condition* (one
model answering alone, or a pool fused in some mode) every task is run, graded against
its known answer, and timed. The result gives accuracy, latency, tokens, cost and memory
side by side, plus "verified battles" (on each task, the condition that got it right
beats the one that did not) that feed the Bradley–Terry ratings.

Used by ``fusionkit demo``, the edge-vs-fusion notebook and the quality benchmark.

What lives where: this module runs and grades (:func:`aevaluate`) and holds the result
(:class:`Evaluation`); the conditions are :mod:`fusionkit.evaluation_conditions`, the
intervals, tables and Pareto plot :mod:`fusionkit.evaluation_table`, a cascade's
calibration :mod:`fusionkit.evaluation_calibrate`. Their public names are importable from
here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._progress import Progress
from ._sync import sync_twin
from .checks import CHECKS, Checker, check_answer, check_checker, tasks_from_frame
from .errors import FusionkitError, InvalidRequestError, describe_error
from .evaluation_calibrate import acalibrate, calibrate
from .evaluation_conditions import Condition, cascade_condition, standard_conditions
from .evaluation_table import median_or_none
from .models.base import Model
from .tasks import Task

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

    from .panel.evidence import Evidence

__all__ = [
    "CHECKS",
    "Condition",
    "Evaluation",
    "acalibrate",
    "aevaluate",
    "calibrate",
    "cascade_condition",
    "check_answer",
    "evaluate",
    "standard_conditions",
    "tasks_from_frame",
]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every (task, condition) outcome, with summaries built on demand.

    Attributes:
        tasks: The tasks, in order.
        conditions: Condition names, in order.
        records: One dict per (task, condition): task_id, kind, condition, reply,
            extracted, expected, correct, latency_s, tokens, cost_usd, error, result.
        wall_s: Wall time per condition (all tasks of a condition run concurrently).
        memory_bytes: Memory footprint of the loaded models (local models only).
    """

    tasks: tuple[Task, ...]
    conditions: tuple[str, ...]
    records: tuple[Mapping[str, Any], ...]
    wall_s: Mapping[str, float]
    memory_bytes: Mapping[str, int | None]

    def to_frame(self) -> pd.DataFrame:
        """One row per (task, condition)."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in r.items() if k != "result"} for r in self.records])

    def summary(self) -> pd.DataFrame:
        """One row per condition: accuracy, latency, tokens, cost and memory.

        ``cached_answers`` counts answers served from the response cache: a cached single
        answer keeps its original latency, a fusion's wall time then measures the cache.
        """
        import pandas as pd

        rows = []
        for name in self.conditions:
            recs = [r for r in self.records if r["condition"] == name]
            n = len(recs)
            correct = sum(bool(r["correct"]) for r in recs)
            costs = [r["cost_usd"] for r in recs]
            latencies = [r["latency_s"] for r in recs if r["latency_s"] is not None]
            mem = self.memory_bytes.get(name)
            rows.append(
                {
                    "condition": name,
                    "accuracy": correct / n if n else float("nan"),
                    "correct": f"{correct}/{n}",
                    "median_latency_s": median_or_none(latencies),
                    "wall_s": self.wall_s.get(name),
                    "tokens": sum(int(r["tokens"] or 0) for r in recs),
                    "cost_usd": None if any(c is None for c in costs) else sum(costs),
                    "memory_mb": None if mem is None else mem / 1e6,
                    "errors": sum(r["error"] is not None for r in recs),
                    "cached_answers": sum(int(r.get("cached") or 0) for r in recs),
                }
            )
        return pd.DataFrame(rows)

    def battles(self, baseline: str | None = None) -> list[tuple[str, str, str]]:
        """Verified battles: per task, each pair of conditions judged by correctness.

        Right beats wrong; both right is a tie; both wrong is "bothbad".

        Args:
            baseline: Only pair this condition against the others (default: all pairs).

        Returns:
            ``(condition_a, condition_b, winner)`` tuples, as :func:`fusionkit.ratings`
            and :meth:`fusionkit.VoteStore.battle` take them.
        """
        by_key = {(r["task_id"], r["condition"]): bool(r["correct"]) for r in self.records}
        names = list(self.conditions)
        if baseline is not None and baseline not in names:
            raise InvalidRequestError(f"unknown baseline {baseline!r}; conditions: {names}")
        pairs = [
            (a, b)
            for i, a in enumerate(names)
            for b in names[i + 1 :]
            if baseline is None or baseline in (a, b)
        ]
        out: list[tuple[str, str, str]] = []
        for task in self.tasks:
            for a, b in pairs:
                ra, rb = by_key[(task.id, a)], by_key[(task.id, b)]
                winner = "tie" if ra and rb else "bothbad" if not (ra or rb) else "a" if ra else "b"
                out.append((a, b, winner))
        return out

    def result(self, task_id: str, condition: str) -> Any:
        """The FusionResult (or Completion) behind one record."""
        for r in self.records:
            if r["task_id"] == task_id and r["condition"] == condition:
                return r["result"]
        raise KeyError((task_id, condition))

    def plot(self) -> Figure:
        """Accuracy and median latency per condition, side by side (matplotlib)."""
        import matplotlib.pyplot as plt

        s = self.summary()
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 0.6 * len(s) + 1.6))
        y = list(range(len(s)))[::-1]
        ax1.barh(y, s["accuracy"] * 100, color="#0969da")
        ax1.set_yticks(y, s["condition"])
        ax1.set_xlim(0, 100)
        ax1.set_xlabel("accuracy (%)")
        for yi, acc, label in zip(y, s["accuracy"], s["correct"], strict=True):
            ax1.text(min(acc * 100 + 1, 88), yi, label, va="center", fontsize=9)
        ax2.barh(y, s["median_latency_s"].astype(float), color="#8250df")
        ax2.set_yticks(y, [""] * len(y))
        ax2.set_xlabel("median latency per task (s)")
        fig.suptitle(f"Edge alone vs fused pools on {len(self.tasks)} verifiable tasks")
        fig.tight_layout()
        plt.close(fig)  # returned, not shown: a notebook cell displays it exactly once
        return fig

    # -- intervals, the Pareto plot and the decision page's evidence (issue 12) ----------

    def table(
        self, baseline: str | None = None, *, n_boot: int = 2000, seed: int = 0
    ) -> pd.DataFrame:
        """One row per condition: accuracy with its 95 % bootstrap interval, the paired
        difference against ``baseline`` (default: the first condition) with its interval,
        tokens, cost (and per 1,000 prompts), median and p90 latency, escalation share.

        See :func:`fusionkit.evaluation_table.condition_table`.
        """
        from .evaluation_table import condition_table

        return condition_table(self, baseline, n_boot=n_boot, seed=seed)

    def pareto_plot(self, baseline: str | None = None) -> Figure:
        """Accuracy (with intervals) against cost and against latency, the Pareto front
        marked (matplotlib; see :func:`fusionkit.evaluation_table.pareto_plot`)."""
        from .evaluation_table import pareto_plot

        return pareto_plot(self, baseline)

    def evidence(self, a: str, b: str, *, source: str = "") -> Evidence:
        """The measured section for ``fk.compare(..., evidence=...)``.

        Args:
            a: The condition standing for the page's first tool (the baseline).
            b: The condition standing for the second tool.
            source: Where the numbers come from (task set, machine), shown on the page.
        """
        from .evaluation_table import evidence_from

        return evidence_from(self, a, b, source=source)


async def _run_one(
    task: Task, cond: Condition, max_tokens: int, check: Checker = "auto"
) -> dict[str, Any]:
    from .fusion.engine import afuse
    from .fusion.modes.cascade import cascade_of

    rec: dict[str, Any] = {
        "task_id": task.id,
        "kind": task.kind,
        "condition": cond.name,
        "expected": task.answer,
        "reply": None,
        "extracted": None,
        "correct": False,
        "latency_s": None,
        "tokens": 0,
        "cost_usd": None,
        "cached": 0,
        "escalated": None,
        "error": None,
        "result": None,
    }
    t0 = time.perf_counter()
    try:
        if cond.mode == "single":
            c = await cond.pool[0].acomplete(task.prompt, max_tokens=max_tokens, **cond.options)
            rec.update(reply=c.text, tokens=c.usage.total_tokens, cost_usd=c.cost_usd, result=c)
            rec["latency_s"] = c.latency_s
            rec["cached"] = int(c.cached)
        else:
            r = await afuse(
                task.prompt,
                list(cond.pool),
                judge=cond.judge,
                mode=cond.mode,
                max_tokens=max_tokens,
                **{"progress": False, **cond.options},  # evaluate shows its own progress
            )
            rec.update(reply=r.answer, tokens=r.usage.total_tokens, cost_usd=r.cost_usd, result=r)
            rec["latency_s"] = r.timings.total_s
            rec["cached"] = sum(c.cached for c in r.candidates)
            decision = cascade_of(r)
            # Sent to the pool (and paid for), whether or not the pool's answer was kept:
            # the share that goes with the cost column.
            rec["escalated"] = None if decision is None else decision.would_escalate
    except FusionkitError as exc:
        rec["error"] = describe_error(exc)
        rec["latency_s"] = time.perf_counter() - t0
        return rec
    rec["extracted"], rec["correct"] = check_answer(task, rec["reply"], check)
    return rec


async def aevaluate(
    tasks: Sequence[Task],
    conditions: Sequence[Condition],
    *,
    max_tokens: int = 16,
    concurrency: int = 16,
    progress: bool | Callable[[str, int, int], None] = True,
    check: Checker = "auto",
) -> Evaluation:
    """Run every task under every condition and grade the answers.

    Conditions run one after the other (so their latencies don't disturb each other);
    within a condition, tasks run concurrently up to ``concurrency`` (a local model serves
    them through its micro-batching).

    Args:
        tasks: Verifiable tasks (see :func:`fusionkit.make_tasks`).
        conditions: The ways of answering to compare.
        max_tokens: Token limit of each answer.
        concurrency: Tasks in flight at once within a condition.
        progress: Show progress per condition (True: a line updated in place in a
            notebook, lines on stderr in a terminal), nothing (False), or call
            ``progress(condition, done, total)``.
        check: How a reply is graded against the task's answer: ``"auto"`` (read it
            like a person, :func:`fusionkit.tasks.grade`), ``"exact"``, ``"numeric"``,
            ``"contains"``, ``"regex"`` (the answer is the pattern), or a function
            ``check(reply, answer) -> bool`` (see :func:`check_answer`).

    Returns:
        The :class:`Evaluation`.

    Raises:
        InvalidRequestError: No tasks, no conditions, or duplicate condition names.
    """
    if not tasks:
        raise InvalidRequestError("no tasks: pass at least one (see fusionkit.make_tasks).")
    if not conditions:
        raise InvalidRequestError("no conditions: pass at least one Condition.")
    names = [c.name for c in conditions]
    if len(set(names)) != len(names):
        raise InvalidRequestError(f"condition names must be unique, got {names}.")
    check_checker(check)
    records: list[dict[str, Any]] = []
    wall: dict[str, float] = {}
    memory: dict[str, int | None] = {}
    sem = asyncio.Semaphore(concurrency)
    for cond in conditions:
        bar = Progress(True, len(tasks), f"evaluate {cond.name}") if progress is True else None

        async def one(task: Task, cond: Condition = cond, bar: Any = bar) -> dict[str, Any]:
            async with sem:
                rec = await _run_one(task, cond, max_tokens, check)
            if bar is not None:
                bar.step(f"task {task.id}")
            return rec

        t0 = time.perf_counter()
        done = 0
        outs = []
        for fut in asyncio.as_completed([one(t) for t in tasks]):
            outs.append(await fut)
            done += 1
            if callable(progress) and progress is not True:
                progress(cond.name, done, len(tasks))
        wall[cond.name] = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        order = {t.id: i for i, t in enumerate(tasks)}
        records.extend(sorted(outs, key=lambda r: order[r["task_id"]]))
        models = set(cond.pool) | ({cond.judge} if cond.judge is not None else set())
        edge = dict(cond.options.get("mode_options") or {}).get("edge")
        if isinstance(edge, Model):
            models.add(edge)
        footprints = [getattr(m, "memory_footprint_bytes", None) for m in models]
        memory[cond.name] = (
            None if any(f is None for f in footprints) else sum(int(f) for f in footprints)
        )
    return Evaluation(
        tasks=tuple(tasks),
        conditions=tuple(names),
        records=tuple(records),
        wall_s=wall,
        memory_bytes=memory,
    )


evaluate = sync_twin(aevaluate)
