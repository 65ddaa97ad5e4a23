"""``fusionkit demo``: the edge model alone, or a fused pool — which should you ship with?

Runs on the embedded edge model (SmolLM2-135M-Instruct in 4-bit) in a few minutes on a
2-core CPU, offline:

1. load the edge model in NF4 and note its memory footprint;
2. run a generated verifiable task set under four conditions — the edge model alone,
   a vote over 5 samples, best-of 3 with a judge, and the edge-first cascade (the edge
   answers; a vote of 5 samples runs only when the edge is unsure) — and grade them;
3. lead with accuracy and its 95 % bootstrap interval, the paired difference against
   the edge model alone, tokens, latency and the cascade's escalation share, and the
   cost/latency–accuracy plot with its Pareto front;
4. turn the graded outcomes into verified battles and Bradley–Terry ratings;
5. ask the five-persona panel (run by the edge model) to review both options and build
   the "A vs B" decision page, with community votes from a SQLite vote store and the
   measured evidence beside them;
6. print a summary in the terminal and write a standalone HTML report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .evaluation import Condition, Evaluation, aevaluate, cascade_condition, standard_conditions

__all__ = ["DemoConfig", "DemoOutcome", "run_demo"]


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """Knobs of the demo (the defaults take a few minutes on a 2-core CPU)."""

    n_tasks: int = 6
    samples: int = 5
    pool_size: int = 3
    max_tokens: int = 16
    cascade_samples: int = 3
    judge_max_tokens: int = 64
    panel_max_tokens: int = 64
    seed: int = 0
    out: Path = Path("reports/demo.html")
    votes_path: Path = Path("reports/demo-votes.db")


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """What the demo produced."""

    evaluation: Evaluation
    ratings: Any
    decision: Any
    report_path: Path
    wall_s: float


def _cards(evaluation: Evaluation, edge_name: str) -> tuple[Any, Any, str]:
    from .panel.types import ToolCard

    s = evaluation.summary().set_index("condition")
    alone = s.loc["edge alone"]
    fused = s.drop(index="edge alone")
    best = str(fused["accuracy"].astype(float).idxmax())
    b = s.loc[best]

    def facts(row: Any) -> str:
        mem = "" if row["memory_mb"] is None else f", {row['memory_mb']:.0f} MB of weights"
        return (
            f"Measured here on {len(evaluation.tasks)} verifiable tasks: {row['correct']} "
            f"correct, median {row['median_latency_s']:.2f} s per task, "
            f"{int(row['tokens'])} tokens{mem}."
        )

    a_card = ToolCard(
        name=f"{edge_name} alone",
        tagline="A 135M-parameter instruct model in 4-bit NF4, running on the device",
        category="Edge LLM",
        pricing="Free, Apache-2.0, runs offline",
        entry="pip install fusionkit; fk.edge_model()",
        description="One small local model answers every prompt directly. " + facts(alone),
        best_for="Offline, private, low-latency answers on a laptop CPU",
    )
    b_card = ToolCard(
        name=f"Fused pool ({best})",
        tagline="Several samples of the edge model, fused into one answer",
        category="Model fusion",
        pricing="Free locally; pay per token per pool model when the pool is remote",
        entry="fk.fuse(prompt, pool=[...], judge=..., mode=...)",
        description=(
            "The same prompt goes to a pool in parallel and the answers are fused "
            f"({best}). " + facts(b)
        ),
        best_for="Questions with checkable answers where accuracy beats latency",
    )
    return a_card, b_card, best


def demo_conditions(edge: Any, cfg: DemoConfig) -> list[Condition]:
    """The demo's conditions: the edge model alone, vote, best-of, and the cascade.

    The cascade's escalation is a vote over ``cfg.samples`` samples of the same model,
    seeded apart from the vote condition's so that its answers are fresh (not replayed
    from the cache), and its confidence signal is ``auto`` (log-probabilities where the
    backend reports them, else agreement of ``cfg.cascade_samples`` samples).
    """
    from .fusion.prepare import SELF_MOA_TEMPERATURE

    alone, vote, best_of, _debate = standard_conditions(
        edge,
        samples=cfg.samples,
        pool_size=cfg.pool_size,
        judge_max_tokens=cfg.judge_max_tokens,
        seed=cfg.seed,
    )
    cascade = cascade_condition(
        edge,
        (edge,) * cfg.samples,
        name=f"cascade → vote ×{cfg.samples}",
        escalate_to="vote",
        samples=cfg.cascade_samples,
        temperature=SELF_MOA_TEMPERATURE,
        seed=cfg.seed + 7_919,
    )
    return [alone, vote, best_of, cascade]


def measured_text(t: Any) -> Any:
    """The measured table (``Evaluation.table()``) as display text, one row per condition."""

    def pct(x: Any) -> str:
        return "—" if x is None or x != x else f"{x * 100:.0f} %"

    def pts(x: Any) -> str:
        return "—" if x is None or x != x else f"{x * 100:+.0f}"

    return t.assign(
        accuracy=[
            f"{pct(a)} [{pct(lo)}, {pct(hi)}]"
            for a, lo, hi in zip(t["accuracy"], t["acc_lo"], t["acc_hi"], strict=True)
        ],
        vs_edge_alone=[
            "—" if d is None or d != d else f"{pts(d)} pts [{pts(lo)}, {pts(hi)}]"
            for d, lo, hi in zip(t["diff"], t["diff_lo"], t["diff_hi"], strict=True)
        ],
        tokens_per_prompt=t["tokens_per_task"].round(0),
        median_s=t["median_latency_s"].astype(float).round(2),
        p90_s=t["p90_latency_s"].astype(float).round(2),
        escalated=[pct(x) for x in t["escalated_share"]],
    )[
        [
            "condition",
            "accuracy",
            "vs_edge_alone",
            "tokens_per_prompt",
            "median_s",
            "p90_s",
            "escalated",
            "errors",
        ]
    ]


#: Column names a person reads in the report (the frames keep their code names).
HUMAN_COLUMNS = {
    "condition": "Condition",
    "accuracy": "Accuracy",
    "vs_edge_alone": "vs edge alone",
    "tokens_per_prompt": "Tokens / prompt",
    "median_s": "Median latency (s)",
    "p90_s": "p90 latency (s)",
    "escalated": "Escalated",
    "errors": "Errors",
    "correct": "Correct",
    "median_latency_s": "Median latency (s)",
    "wall_s": "Wall time (s)",
    "tokens": "Tokens",
    "cost_usd": "Cost (USD)",
    "memory_mb": "Weights (MB)",
    "cached_answers": "Cached answers",
    "model": "Condition",
    "rating": "Rating",
    "lower": "95 % low",
    "upper": "95 % high",
    "rank": "Rank",
    "battles": "Battles",
    "task_id": "Task",
    "expected": "Expected",
    "extracted": "Answer found",
    "latency_s": "Latency (s)",
    "reply": "Reply",
    "error": "Error",
    "note": "Note",
}


def human(frame: Any) -> Any:
    """The frame with :data:`HUMAN_COLUMNS` names (unknown columns keep theirs)."""
    return frame.rename(columns=HUMAN_COLUMNS)


def answers_frame(evaluation: Evaluation) -> Any:
    """Every graded answer as a person reads it: ✓/✗, rounded latency, no empty cells."""
    f = evaluation.to_frame()
    return human(
        f.assign(
            correct=["✓" if c else "✗" for c in f["correct"]],
            latency_s=f["latency_s"].astype(float).round(2),
            extracted=[("—" if x is None or x != x else str(x)) for x in f["extracted"]],
            error=[("" if e is None or e != e else str(e)) for e in f["error"]],
        )[
            [
                "task_id",
                "condition",
                "expected",
                "extracted",
                "correct",
                "latency_s",
                "reply",
                "error",
            ]
        ]
    )


def headline_stats(
    measured: Any, summary: Any, best: str, footprint: int, n_tasks: int, wall: float
) -> list[tuple[str, str, str]]:
    """The figures at the top of the report: accuracy of both options, the difference
    with its interval, the model's memory, the task count and the wall time."""
    s = summary.set_index("condition")
    m = measured.set_index("condition")

    def acc(name: str) -> tuple[str, str, str]:
        return (
            name,
            f"{float(s.loc[name, 'accuracy']) * 100:.0f} %",
            f"{s.loc[name, 'correct']} correct",
        )

    stats = [acc("edge alone"), acc(best)]
    d, lo, hi = (m.loc[best, k] for k in ("diff", "diff_lo", "diff_hi"))
    if d is not None and d == d:
        stats.append(
            (
                f"{best} vs edge alone",
                f"{d * 100:+.0f} points",
                f"95 % CI {lo * 100:+.0f} to {hi * 100:+.0f}",
            )
        )
    stats.append(("edge model in memory", f"{footprint / 1e6:.0f} MB", "4-bit NF4 weights"))
    stats.append(("tasks", str(n_tasks), "arithmetic and multiple choice"))
    stats.append(("wall time", f"{wall:.0f} s", "the whole demo, this machine"))
    cached = int(summary["cached_answers"].sum())
    if cached:
        stats.append(("cached answers", str(cached), "their latencies are not fresh"))
    return stats


def _money(value: Any) -> str:
    if value is None or value != value:
        return "unknown"
    return f"${value:.4f}" if value else "$0"


def run_demo(cfg: DemoConfig | None = None, *, echo: bool = True) -> DemoOutcome:
    """Run the demo end to end and write the HTML report.

    Args:
        cfg: The settings (defaults: :class:`DemoConfig`).
        echo: Print progress and the summary to the terminal.

    Returns:
        The :class:`DemoOutcome` (evaluation, ratings, decision page, report path).
    """
    from ._sync import run_sync

    return run_sync(_ademo(cfg or DemoConfig(), echo=echo))


async def _ademo(cfg: DemoConfig, *, echo: bool) -> DemoOutcome:
    import pandas as pd

    from .models.local.embedded import edge_model
    from .panel.compare import acompare
    from .panel.review import Panel
    from .render.rating_plots import plot_ratings
    from .render.report import Report
    from .tasks import make_tasks
    from .votes.ratings import ratings
    from .votes.store import VoteStore

    say = print if echo else (lambda *a, **k: None)
    t0 = time.perf_counter()
    say("fusionkit demo — the edge model alone, or a fused pool: which should you ship with?")
    say("loading the embedded edge model in 4-bit (NF4) ...")
    edge = edge_model()
    footprint = edge.memory_footprint_bytes
    say(f"  {edge.name}: {footprint / 1e6:.0f} MB in memory ({time.perf_counter() - t0:.1f} s)")

    tasks = make_tasks(cfg.n_tasks, seed=cfg.seed)
    conditions = demo_conditions(edge, cfg)
    say(f"running {len(tasks)} verifiable tasks under {len(conditions)} conditions ...")
    evaluation = await aevaluate(tasks, conditions, max_tokens=cfg.max_tokens)
    summary = evaluation.summary()
    measured = evaluation.table()
    battles = evaluation.battles()
    rating_frame = ratings(battles, rounds=300, seed=cfg.seed)

    say("asking the reviewer panel (5 personas, run by the edge model) ...")
    a_card, b_card, best = _cards(evaluation, edge.name)
    cfg.votes_path.parent.mkdir(parents=True, exist_ok=True)
    store = VoteStore(cfg.votes_path)
    panel = Panel(edge, max_tokens=cfg.panel_max_tokens)
    evidence = evaluation.evidence(
        "edge alone", best, source=f"{len(tasks)} generated tasks, {edge.name} on this CPU"
    )
    decision = await acompare(a_card, b_card, panel=panel, votes=store, evidence=evidence)

    wall = time.perf_counter() - t0
    pd.set_option("display.width", 120)
    table = summary.assign(
        accuracy=(summary["accuracy"] * 100).round(0).astype(int).astype(str) + " %",
        median_latency_s=summary["median_latency_s"].round(2),
        wall_s=summary["wall_s"].round(1),
        memory_mb=summary["memory_mb"].round(0),
        cost_usd=[_money(c) for c in summary["cost_usd"]],  # NaN means a part was unknown
    )
    say("")
    say(measured_text(measured).to_string(index=False))
    say("")
    say(table.to_string(index=False))
    cached = int(summary["cached_answers"].sum())
    if cached:
        say(f"note: {cached} answers came from the response cache (not fresh latencies).")
    say("")
    say(rating_frame[["model", "rating", "lower", "upper", "rank"]].round(0).to_string(index=False))
    say("")
    a_res, b_res = decision.panel_a, decision.panel_b
    for card, res in ((a_card, a_res), (b_card, b_res)):
        say(f"panel on {card.name}: {res.headline if res is not None else 'no panel'}")

    report = Report("fusionkit demo — edge model alone or a fused pool?")
    report.add_stats(headline_stats(measured, summary, best, footprint, len(tasks), wall))
    report.add_text(evidence.recommendation)  # computed from the measurements above
    report.add_text(
        f"Embedded edge model {edge.name} in 4-bit NF4 ({footprint / 1e6:.0f} MB), "
        f"{len(tasks)} generated verifiable tasks (arithmetic and multiple choice), "
        f"max {cfg.max_tokens} new tokens per answer, on this machine's CPU."
    )
    report.add_heading("Measured: accuracy with intervals, tokens and latency")
    report.add_frame(
        human(measured_text(measured)),
        caption="Accuracy with its 95 % bootstrap interval; the paired difference against "
        "the edge model alone with its interval; tokens and latency per prompt; the share "
        "of prompts the cascade escalated to its vote.",
        index=False,
    )
    report.add_figure(
        evaluation.pareto_plot(),
        caption="Accuracy against tokens (cost) and latency; filled points are the Pareto "
        "front (nothing else is as accurate for less).",
    )
    report.add_heading("Accuracy, latency, tokens, cost and memory")
    report.add_frame(
        human(table),
        caption="One row per condition; cost is unknown where a part of it was not reported.",
        index=False,
    )
    report.add_figure(evaluation.plot(), caption="Accuracy and median latency per task.")
    report.add_heading("Verified battles and ratings")
    report.add_text(
        "On each task, the condition that answered correctly beats the one that did not "
        "(both right: tie; both wrong: both bad). Bradley–Terry ratings with bootstrap 95 % "
        "intervals."
    )
    report.add_frame(human(rating_frame.round(0)), index=False)
    ax = plot_ratings(rating_frame)
    report.add_figure(ax.figure)
    report.add_heading("One fusion up close")
    example = evaluation.result(tasks[0].id, f"best-of ×{cfg.pool_size}")
    if example is not None and hasattr(example, "_repr_html_"):
        report.add_object(example)
        report.add_figure(example.timeline(), caption="Members and judge on one timeline.")
    report.add_heading("Which should you ship with?")
    report.add_object(decision)
    report.add_heading("Every answer")
    report.add_frame(answers_frame(evaluation), caption="✓ correct, ✗ wrong.", index=False)
    path = report.save(cfg.out)
    say(f"\nreport written to {path} ({time.perf_counter() - t0:.0f} s in all)")
    return DemoOutcome(
        evaluation=evaluation,
        ratings=rating_frame,
        decision=decision,
        report_path=path,
        wall_s=time.perf_counter() - t0,
    )
