"""Evaluation on the user's own tasks: checkers, intervals, paired differences, the plot,
the cascade as a condition and the decision page's evidence."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import fusionkit as fk
from fusionkit.checks import check_answer, tasks_from_frame
from fusionkit.errors import InvalidRequestError
from fusionkit.evaluation import Condition, cascade_condition, evaluate
from fusionkit.evaluation_table import bootstrap_mean, pareto_front
from fusionkit.panel.evidence import Evidence, EvidenceRow
from fusionkit.panel.types import ToolCard
from fusionkit.tasks import Task


def _frame(n: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"prompt": f"What is {i} + {i}? Answer with just the number.", "answer": 2 * i}
            for i in range(1, n + 1)
        ]
    )


def _models(tasks: list[Task]) -> tuple[fk.FakeModel, list[fk.FakeModel]]:
    truth = {t.prompt: int(t.answer) for t in tasks}

    def edge(req: fk.Request) -> str:
        want = truth[req.prompt_text]
        if want % 3 == 0:  # a third of the items: wrong, and unsure when sampled
            return str(want + 1 + ((req.seed or 0) % 4 if req.temperature else 0))
        return f"The answer is {want}."

    pool = [
        fk.FakeModel(f"big{i}", lambda r: str(truth[r.prompt_text]), price=(3.0, 15.0))
        for i in range(3)
    ]
    return fk.FakeModel("edge", edge), pool


# -- tasks and checkers ---------------------------------------------------------------------


def test_tasks_from_a_frame_with_named_columns() -> None:
    df = pd.DataFrame({"q": ["2+2?", "Capital of France?"], "a": [4.0, "Paris"], "k": [7, 8]})
    tasks = tasks_from_frame(df, prompt="q", answer="a", id="k")
    assert [(t.id, t.prompt, t.answer) for t in tasks] == [
        ("7", "2+2?", "4"),
        ("8", "Capital of France?", "Paris"),
    ]
    with pytest.raises(InvalidRequestError, match="no 'prompt' column"):
        tasks_from_frame(df)
    with pytest.raises(InvalidRequestError, match="answer is empty"):
        tasks_from_frame(pd.DataFrame({"prompt": ["x"], "answer": [float("nan")]}))
    with pytest.raises(InvalidRequestError, match="no rows"):
        tasks_from_frame(pd.DataFrame({"prompt": [], "answer": []}))


@pytest.mark.parametrize(
    ("check", "answer", "reply", "right"),
    [
        ("exact", "Paris", "  paris ", True),
        ("exact", "Paris", "Paris, France", False),
        ("numeric", "1200", "It costs 1,200.0 dollars", True),
        ("numeric", "12", "about 13", False),
        ("contains", "Paris", "The capital is PARIS.", True),
        ("contains", "Lyon", "The capital is Paris.", False),
        ("regex", r"\bB\b", "I pick B.", True),
        ("regex", r"^\d+$", "forty", False),
        ("auto", "42", "40 + 2 = 42", True),
        (lambda reply, ans: reply.endswith(ans), "!", "wow!", True),
    ],
)
def test_checkers(check: object, answer: str, reply: str, right: bool) -> None:
    task = Task("t", "custom", "Q?", answer)
    assert check_answer(task, reply, check)[1] is right  # type: ignore[arg-type]
    assert check_answer(task, None, check)[1] is False  # type: ignore[arg-type]


def test_an_unknown_checker_fails_before_any_call() -> None:
    m = fk.FakeModel("m", "1")
    with pytest.raises(InvalidRequestError, match="check must be one of"):
        evaluate(tasks_from_frame(_frame(2)), [Condition("m", (m,))], check="fuzzy")
    assert m.call_count == 0


# -- intervals ------------------------------------------------------------------------------


def test_bootstrap_interval_brackets_the_mean_and_is_seeded() -> None:
    values = [1.0] * 30 + [0.0] * 10
    mean, lo, hi = bootstrap_mean(values, seed=1)
    assert mean == 0.75 and lo < mean < hi and 0.55 < lo and hi < 0.9
    assert bootstrap_mean(values, seed=1) == (mean, lo, hi)
    assert bootstrap_mean([1.0] * 5) == (1.0, 1.0, 1.0)
    assert all(math.isnan(x) for x in bootstrap_mean([]))


def test_pareto_front() -> None:
    # (cost, accuracy): the second is dominated by the first; the third is pricier but better
    assert pareto_front([(1, 0.8), (2, 0.7), (3, 0.9), (3, 0.9)]) == [True, False, True, True]


def test_table_has_intervals_paired_differences_costs_and_escalation() -> None:
    tasks = tasks_from_frame(_frame(30))
    edge, pool = _models(tasks)
    conds = [
        Condition("edge alone", (edge,)),
        Condition("vote ×3", tuple(pool), mode="vote"),
        cascade_condition(edge, pool, signals="agreement", samples=3),
    ]
    ev = evaluate(tasks, conds, progress=False, check="numeric", max_tokens=8)
    t = ev.table().set_index("condition")
    edge_row, vote, cas = t.loc["edge alone"], t.loc["vote ×3"], t.loc["cascade"]
    assert edge_row["accuracy"] == pytest.approx(20 / 30) and vote["accuracy"] == 1.0
    assert edge_row["acc_lo"] < edge_row["accuracy"] < edge_row["acc_hi"]
    assert math.isnan(edge_row["diff"])  # the baseline
    assert vote["diff"] == pytest.approx(10 / 30) and 0 < vote["diff_lo"] <= vote["diff_hi"]
    assert cas["accuracy"] == 1.0 and cas["escalated_share"] == pytest.approx(1 / 3)
    assert 0 < cas["cost_per_1k_usd"] < vote["cost_per_1k_usd"]
    assert edge_row["cost_per_1k_usd"] == 0 and pd.isna(vote["escalated_share"])
    assert vote["p90_latency_s"] >= vote["median_latency_s"]
    # another baseline: the differences follow it
    t2 = ev.table(baseline="vote ×3").set_index("condition")
    assert t2.loc["edge alone", "diff"] == pytest.approx(-10 / 30)
    with pytest.raises(InvalidRequestError, match="unknown baseline"):
        ev.table(baseline="nope")
    fig = ev.pareto_plot()
    assert len(fig.axes) == 2 and "Pareto" in fig.axes[0].get_title()
    records = ev.to_frame()
    assert set(records.loc[records["condition"] == "cascade", "escalated"]) == {True, False}


def test_a_failed_escalation_still_counts_as_escalated() -> None:
    # The pool was asked (and may have cost money) even though its answer was not kept:
    # the escalation share goes with the cost column, so it counts.
    tasks = tasks_from_frame(_frame(4))
    edge = fk.FakeModel("edge", "0", logprob=-4.0)  # unsure on every item
    pool = [fk.FakeModel(f"p{i}", fk.ModelError("down")) for i in range(2)]
    cond = cascade_condition(edge, pool, signals="logprob")
    ev = evaluate(tasks, [cond], progress=False, check="numeric", max_tokens=8)
    assert ev.table().set_index("condition").loc["cascade", "escalated_share"] == 1.0
    assert set(ev.to_frame()["escalated"]) == {True}


def test_summary_and_table_report_the_same_median_for_an_even_count() -> None:
    from fusionkit.evaluation import Evaluation

    tasks = tuple(Task(f"t{i}", "arithmetic", f"What is {i} + {i}?", str(2 * i)) for i in range(4))
    latencies = [4.0, 1.0, 3.0, 2.0]  # middle values 2 and 3: the median is 2.5
    records = tuple(
        {
            "task_id": t.id,
            "condition": "edge",
            "correct": True,
            "latency_s": s,
            "tokens": 1,
            "cost_usd": 0.0,
            "error": None,
        }
        for t, s in zip(tasks, latencies, strict=True)
    )
    ev = Evaluation(tasks, ("edge",), records, {"edge": 4.0}, {"edge": None})
    summary = ev.summary().set_index("condition").loc["edge", "median_latency_s"]
    table = ev.table(n_boot=10).set_index("condition").loc["edge", "median_latency_s"]
    assert summary == table == 2.5


# -- evidence on the decision page ----------------------------------------------------------


def _evidence() -> Evidence:
    tasks = tasks_from_frame(_frame(30))
    edge, pool = _models(tasks)
    conds = [
        Condition("best-of fusion", tuple(pool), mode="vote"),
        Condition("edge alone", (edge,)),
        cascade_condition(edge, pool, signals="agreement", samples=3),
    ]
    ev = evaluate(tasks, conds, progress=False, check="numeric", max_tokens=8)
    return ev.evidence("edge alone", "cascade", source="30 <made-up> sums")


def test_evidence_recommendation_is_computed_from_the_numbers() -> None:
    e = _evidence()
    assert [r.condition for r in e.rows][0] == "edge alone"
    rec = e.recommendation
    assert "cascade is more accurate: 100 % vs 67 %" in rec
    assert "95 % CI" in rec and "per 1,000 prompts" in rec.lower()
    assert "cascade: 100 % of best-of fusion's accuracy at 3" in rec  # about a third the cost
    assert "of prompts escalated" in rec


def test_evidence_says_when_there_is_no_measurable_difference() -> None:
    rows = (
        EvidenceRow("a", 20, 0.80, 0.6, 0.95, cost_per_1k_usd=0.0, tokens_per_1k=1000),
        EvidenceRow("b", 20, 0.85, 0.65, 1.0, 0.05, -0.1, 0.2, 2.0, 5000),
    )
    e = Evidence(rows, a="a", b="b", n_tasks=20)
    assert "No measurable accuracy difference" in e.recommendation
    assert "the cheaper a wins" in e.recommendation
    with pytest.raises(InvalidRequestError, match="not one of its conditions"):
        Evidence(rows, a="a", b="zzz", n_tasks=20)


def test_compare_with_evidence_escapes_everything() -> None:
    e = _evidence()
    bad = EvidenceRow("<script>x</script>", 30, 0.5, 0.3, 0.7)
    e = Evidence((*e.rows, bad), a=e.a, b=e.b, n_tasks=e.n_tasks, source=e.source)
    d = fk.compare(
        ToolCard(name="Edge", tagline="on the device"),
        ToolCard(name="Cascade", tagline="edge first"),
        evidence=e,
        progress=False,
    )
    html = d._repr_html_()
    assert "Measured on your tasks" in html and "By the numbers:" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert "&lt;made-up&gt;" in html
    # the measured section comes right after the summary
    assert html.index("fk-summary") < html.index("fk-evidence") < html.index("Measured")
    with pytest.raises(InvalidRequestError, match="takes an Evidence"):
        fk.compare(
            ToolCard(name="A", tagline="a"),
            ToolCard(name="B", tagline="b"),
            evidence="lots",  # type: ignore[arg-type]
            progress=False,
        )
