"""The cascade mode: every branch over fakes, calibration, and the real embedded model.

Branches: the edge is confident (stop), unsure (escalate), the escalation fails (edge
answer kept, said so), the edge fails (escalate), a signal is unavailable (fallback or
escalate), both fail (FusionError naming both). Accounting covers both paths.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

import fusionkit as fk
from fusionkit.errors import FusionError, InvalidRequestError, ModelError
from fusionkit.fusion.calibrate import Calibration, CalibrationItem
from fusionkit.fusion.modes import get_mode
from fusionkit.fusion.modes.cascade import CascadeJudgment, cascade_of

PROMPT = "What is 40 + 2? Answer with just the number."


def _pool(reply: object = "42", n: int = 3, price: tuple[float, float] = (3.0, 15.0)):
    return [fk.FakeModel(f"big{i}", reply, price=price) for i in range(n)]


def _fuse(edge: fk.FakeModel, pool: list[fk.FakeModel], **opts: object) -> fk.FusionResult:
    judge = opts.pop("judge", None)
    return fk.fuse(
        PROMPT,
        pool=pool,
        judge=judge,
        mode="cascade",
        mode_options={"edge": edge, **opts},
        progress=False,
    )


def test_confident_edge_stops_and_the_pool_is_never_called() -> None:
    edge = fk.FakeModel("edge", "The answer is 42", logprob=-0.05)
    pool = _pool()
    r = _fuse(edge, pool, signals="logprob")
    d = cascade_of(r)
    assert d is not None and not d.escalated and not d.pool_ran
    assert r.answer == "The answer is 42" and r.judgment.winner == "edge"
    assert isinstance(r.judgment, CascadeJudgment) and r.judgment.method == "cascade"
    assert all(m.call_count == 0 for m in pool)
    (s,) = d.signals
    assert s.name == "logprob" and s.value == pytest.approx(-0.05) and s.threshold == -0.35
    assert edge.calls[0].logprobs and edge.calls[0].temperature == 0
    assert "edge answer kept" in " ".join(get_mode("cascade").verdict_parts(r))
    assert r.cost_usd == 0.0 and d.escalation_cost_usd == 0.0


def test_unsure_edge_escalates_and_accounting_covers_both_paths() -> None:
    edge = fk.FakeModel("edge", "41", logprob=-2.0, price=(1.0, 1.0))
    pool = _pool("42")
    r = _fuse(edge, pool, signals="logprob")
    d = cascade_of(r)
    assert d is not None and d.escalated and d.pool_ran and d.escalate_to == "vote"
    assert r.answer == "42" and d.edge_answer == "41" and d.pool_answer == "42"
    assert "edge unsure" in d.reason and "logprob -2.00 < -0.35" in d.reason
    assert all(m.call_count == 1 for m in pool)
    # every call is in the result's accounting: the edge's and the pool's
    assert r.usage.total_tokens == d.edge_usage.total_tokens + d.escalation_usage.total_tokens
    assert d.edge_cost_usd and d.escalation_cost_usd
    assert r.cost_usd == pytest.approx(d.edge_cost_usd + d.escalation_cost_usd)
    assert {c.label for c in r.candidates} == {"edge", "A", "B", "C"}
    assert r.judgment.method == "vote" and "Cascade: edge unsure" in (r.judgment.note or "")


def test_escalation_to_best_of_with_a_judge() -> None:
    edge = fk.FakeModel("edge", "41", logprob=-3.0)
    judge = fk.FakeModel(
        "judge", {"reason": "C is right", "scores": {"A": 2, "B": 3, "C": 9}, "winner": "C"}
    )
    r = _fuse(edge, _pool("42"), signals="logprob", judge=judge)
    d = cascade_of(r)
    assert d is not None and d.escalate_to == "best-of" and r.judgment.winner == "C"
    assert d.escalation_usage.total_tokens == sum(
        (c.usage.total_tokens or 0) for c in r.candidates if c.label != "edge"
    ) + sum(j.usage.total_tokens or 0 for j in r.judge_calls)


def test_agreement_signal_samples_the_edge_with_distinct_seeds() -> None:
    replies = iter(["42", "42", "42", "17"])
    edge = fk.FakeModel("edge", lambda req: next(replies))
    r = _fuse(edge, _pool(), signals="agreement", samples=3)
    d = cascade_of(r)
    assert d is not None and not d.escalated
    assert d.signal("agreement").value == pytest.approx(2 / 3)
    seeds = [c.seed for c in edge.calls]
    assert len(set(seeds)) == 4 and [c.temperature for c in edge.calls[1:]] == [0.7] * 3
    # a stricter threshold on the same replies escalates
    replies = iter(["42", "42", "42", "17"])
    r2 = _fuse(edge, _pool(), signals="agreement", samples=3, thresholds=0.9)
    assert cascade_of(r2).escalated  # type: ignore[union-attr]


def test_unavailable_logprobs_fall_back_to_agreement_and_say_so() -> None:
    edge = fk.FakeModel("edge", "42")  # reports no log-probabilities
    r = _fuse(edge, _pool())
    d = cascade_of(r)
    assert d is not None
    lp, ag = d.signals
    assert lp.name == "logprob" and lp.value is None and not lp.available
    assert "reported no token log-probabilities" in lp.note
    assert ag.name == "agreement" and ag.value == 1.0 and "fallback for logprob" in ag.note
    assert not d.escalated and "logprob unavailable" in d.reason


def test_unavailable_signal_can_escalate_instead() -> None:
    edge = fk.FakeModel("edge", "42")
    r = _fuse(edge, _pool(), signals="logprob", on_unavailable="escalate")
    d = cascade_of(r)
    assert d is not None and d.escalated and "no confidence signal was available" in d.reason
    assert len(d.signals) == 1


def test_edge_failing_escalates() -> None:
    edge = fk.FakeModel("edge", ModelError("edge: out of memory"))
    r = _fuse(edge, _pool("42"))
    d = cascade_of(r)
    assert d is not None and d.escalated and d.edge_answer is None
    assert d.edge_error is not None and "out of memory" in d.edge_error
    assert r.answer == "42" and "the edge model failed" in d.reason


def test_escalation_failing_keeps_the_edge_answer_and_says_why() -> None:
    edge = fk.FakeModel("edge", "41", logprob=-4.0)
    pool = _pool(ModelError("down"))
    r = _fuse(edge, pool, signals="logprob")
    d = cascade_of(r)
    # the signals asked for the pool, but its answer is not the result
    assert d is not None and d.would_escalate and not d.escalated and d.pool_answer is None
    assert d.pool_ran and r.answer == "41" and r.judgment.fallback
    assert "every pool member failed" in (d.escalation_error or "")
    assert "escalation failed" in " ".join(get_mode("cascade").verdict_parts(r))


def test_edge_and_escalation_failing_raise_naming_both() -> None:
    edge = fk.FakeModel("edge", ModelError("edge down"))
    with pytest.raises(FusionError, match="edge model failed .*edge down.*escalation") as info:
        _fuse(edge, _pool(ModelError("pool down")))
    assert any("[edge]" in k for k in info.value.failures)


def test_selfcheck_is_schema_constrained_and_recorded_as_a_judge_call() -> None:
    def reply(req: fk.Request) -> object:
        if req.schema is not None:
            return {"confidence": 3}
        return "42"

    edge = fk.FakeModel("edge", reply)
    r = _fuse(edge, _pool("42"), signals="selfcheck")
    d = cascade_of(r)
    assert d is not None and d.signal("selfcheck").value == pytest.approx(0.3)
    assert d.escalated and [j.step for j in r.judge_calls] == ["self-check"]
    assert edge.calls[1].schema is not None and r.judge_calls[0].structured is True
    greedy = next(c for c in r.candidates if c.label == "edge")
    want = (greedy.usage.total_tokens or 0) + (r.judge_calls[0].usage.total_tokens or 0)
    assert d.edge_usage.total_tokens == want > 0


def test_combined_signals_all_or_any() -> None:
    edge = fk.FakeModel("edge", "42", logprob=-0.1)  # logprob confident, min_logprob not
    both = {"logprob": -0.35, "min_logprob": -0.05}
    r_all = _fuse(edge, _pool(), signals=["logprob", "min_logprob"], thresholds=both)
    r_any = _fuse(edge, _pool(), signals=["logprob", "min_logprob"], thresholds=both, combine="any")
    assert cascade_of(r_all).escalated  # type: ignore[union-attr]
    assert not cascade_of(r_any).escalated  # type: ignore[union-attr]


def test_record_both_runs_the_pool_but_answers_as_the_cascade() -> None:
    edge = fk.FakeModel("edge", "42", logprob=-0.01)
    pool = _pool("43")
    r = _fuse(edge, pool, signals="logprob", record_both=True)
    d = cascade_of(r)
    assert d is not None and not d.escalated and d.pool_ran and d.pool_answer == "43"
    assert r.answer == "42" and "record_both" in r.judgment.rationale


@pytest.mark.parametrize(
    ("logprob", "pool_reply", "would", "used", "answer"),
    [
        (-0.01, "43", False, False, "42"),  # confident: the pool runs only to be recorded
        (-4.0, "43", True, True, "43"),  # unsure: the pool's answer is the result
        (-4.0, ModelError("down"), True, False, "42"),  # unsure, pool failed: edge kept
    ],
)
def test_escalated_says_whether_the_pools_answer_is_the_result(
    logprob: float, pool_reply: object, would: bool, used: bool, answer: str
) -> None:
    edge = fk.FakeModel("edge", "42", logprob=logprob)
    r = _fuse(edge, _pool(pool_reply), signals="logprob", record_both=True)
    d = cascade_of(r)
    assert d is not None and d.pool_ran and r.answer == answer
    assert (d.would_escalate, d.escalated) == (would, used)
    assert d.escalated == (r.answer == d.pool_answer)
    assert d.to_dict()["escalated"] is used and d.to_dict()["would_escalate"] is would


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({"edge": 3}, "needs mode_options"),
        ({"signals": "vibes"}, "unknown cascade signal"),
        ({"signals": ["agreement", "logprob"], "thresholds": 0.5}, "mapping of thresholds"),
        ({"signals": "auto", "thresholds": 0.5}, "with signals='auto'"),
        ({"combine": "most"}, "combine must be"),
        ({"samples": 0}, "samples must be"),
        ({"escalate_to": "cascade"}, "escalate_to must be"),
        ({"on_unavailable": "panic"}, "on_unavailable"),
        ({"colour": "red"}, "does not take the option"),
    ],
)
def test_bad_options_fail_before_any_call(opts: dict[str, object], match: str) -> None:
    edge = fk.FakeModel("edge", "42")
    options = opts if "edge" in opts else {"edge": edge, **opts}
    with pytest.raises(InvalidRequestError, match=match):
        fk.fuse(PROMPT, pool=_pool(), mode="cascade", mode_options=options, progress=False)
    assert edge.call_count == 0


def test_without_an_edge_option_the_first_member_answers_first() -> None:
    first = fk.FakeModel("first", "42", logprob=-0.01)
    other = fk.FakeModel("other", "43")
    r = fk.fuse(PROMPT, pool=[first, other], mode="cascade", progress=False)
    d = cascade_of(r)
    assert d is not None and d.edge_model == "first" and not d.escalated
    assert first.call_count == 1 and other.call_count == 0


@pytest.mark.parametrize("escalate_to", ["best-of", "merge", "debate", get_mode("usc")])
def test_escalating_to_a_judged_mode_without_a_judge_fails_up_front(escalate_to: object) -> None:
    from fusionkit.fusion.prepare import prepare_setup

    edge, pool = fk.FakeModel("edge", "42"), _pool()
    opts = {"edge": edge, "escalate_to": escalate_to}
    name = getattr(escalate_to, "name", escalate_to)
    # the engine's up-front check refuses it: no plan is made, no model is called
    with pytest.raises(InvalidRequestError, match=f"escalates to '{name}'") as info:
        prepare_setup(
            pool,
            None,
            "cascade",
            rounds=1,
            system=None,
            max_tokens=8,
            temperature=None,
            timeout=None,
            seed=None,
            swap_check=False,
            judge_max_tokens=None,
            judge_timeout=None,
            extract="auto",
            cache=None,
            mode_options=opts,
        )
    assert "mode 'cascade' needs a judge: pass judge=<a model or spec>" in str(info.value)
    # a batch fails as a whole, not once per row
    with pytest.raises(InvalidRequestError, match="needs a judge"):
        fk.fuse_many([PROMPT, PROMPT], pool=pool, mode="cascade", mode_options=opts)
    with pytest.raises(InvalidRequestError, match="needs a judge"):
        _fuse(edge, pool, escalate_to=escalate_to)
    assert edge.call_count == 0 and all(m.call_count == 0 for m in pool)
    # with a judge, or escalating to vote, it runs
    assert _fuse(edge, pool, escalate_to=escalate_to, judge=pool[0]).answer
    assert _fuse(edge, pool, escalate_to="vote").answer


def test_fuse_many_resumes_cascades_from_the_cache() -> None:
    # Every cascade call is seeded or greedy, so it lands in the response cache: a re-run
    # of the batch calls no model at all.
    edge = fk.FakeModel("edge", "41", logprob=-3.0)
    pool = _pool("42", n=2)
    kwargs = {"pool": pool, "mode": "cascade", "mode_options": {"edge": edge}, "cache": True}
    first = fk.fuse_many([PROMPT, "What is 1 + 1?"], progress=False, **kwargs)
    calls = edge.call_count + sum(m.call_count for m in pool)
    assert calls == 2 * 3
    again = fk.fuse_many([PROMPT, "What is 1 + 1?"], progress=False, **kwargs)
    assert edge.call_count + sum(m.call_count for m in pool) == calls
    assert list(first["answer"]) == list(again["answer"]) == ["42", "42"]
    assert again["n_cached"].sum() >= 4


def test_cascade_over_http_reads_the_servers_logprobs() -> None:
    # The real OpenAI-compatible client against the test server on 127.0.0.1: the edge
    # asks for logprobs, the server reports -0.25 per word, the cascade reads them.
    from fusionkit.models.openai import OpenAICompatModel
    from fusionkit.testing.server import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        srv.configure("small", reply="The answer is 42")
        srv.configure("large", reply="42")
        edge = OpenAICompatModel("small", base_url=srv.base_url, cache=False)
        pool = [OpenAICompatModel("large", base_url=srv.base_url, cache=False)] * 2
        stop = _fuse(edge, pool, signals="logprob")  # -0.25 >= -0.35: stop
        d = cascade_of(stop)
        assert d is not None and not d.escalated
        assert d.signal("logprob").value == pytest.approx(-0.25)
        assert [r["model"] for r in srv.requests] == ["small"]
        assert srv.requests[0]["logprobs"] is True
        strict = _fuse(edge, pool, signals="logprob", thresholds=-0.1)
        d2 = cascade_of(strict)
        assert d2 is not None and d2.escalated and strict.answer == "42"
        assert [r["model"] for r in srv.requests[1:]] == ["small", "large", "large"]


# -- calibration ----------------------------------------------------------------------------


def _item(v: float | None, e: bool, p: bool) -> CalibrationItem:
    return CalibrationItem(v, e, p, edge_cost=1.0, pool_cost=10.0, edge_s=0.1, pool_s=1.0)


def test_calibration_sweeps_one_run_and_picks_the_cheapest_threshold() -> None:
    items = (
        _item(0.9, True, True),
        _item(0.8, True, True),
        _item(0.6, False, True),
        _item(0.3, False, True),
        _item(None, False, False),
    )
    cal = Calibration("agreement", items, "usd")
    curve = cal.curve()
    assert list(curve["threshold"]) == [-math.inf, 0.3, 0.6, 0.8, 0.9, math.inf]
    never, always = cal.at(-math.inf), cal.at(math.inf)
    assert never["escalated_share"] == pytest.approx(0.2)  # the unavailable item escalates
    assert never["accuracy"] == pytest.approx(0.4) and always["accuracy"] == pytest.approx(0.8)
    assert always["cost_per_item"] == pytest.approx(11.0)
    t = cal.choose()  # the pool's 80 % less 2 points, at least cost
    assert t == pytest.approx(0.8)
    assert cal.at(t)["accuracy"] == pytest.approx(0.8) and cal.at(t)["cost_per_item"] < 11.0
    assert cal.choose(target_accuracy=0.99) == math.inf
    assert "escalates 60%" in cal.summary()
    assert cal.plot().axes


def test_calibrate_records_both_paths_in_one_run() -> None:
    from fusionkit.evaluation import calibrate, tasks_from_frame

    tasks = tasks_from_frame(
        [
            {"prompt": f"What is {a} + 1? Answer with just the number.", "answer": a + 1}
            for a in range(10)
        ]
    )
    truth = {t.prompt: int(t.answer) for t in tasks}

    def edge_reply(req: fk.Request) -> str:
        want = truth[req.prompt_text]
        if want % 2 and req.temperature > 0:
            return str(want + (req.seed or 0) % 5 + 1)  # unsure and wrong on odd answers
        return str(want if want % 2 == 0 else want + 1)

    edge = fk.FakeModel("edge", edge_reply)
    pool = [
        fk.FakeModel(f"big{i}", lambda r: str(truth[r.prompt_text]), price=(1, 1)) for i in range(3)
    ]
    cal = calibrate(tasks, edge, pool, signal="agreement", check="numeric", samples=3)
    assert cal.edge_accuracy == pytest.approx(0.5) and cal.pool_accuracy == 1.0
    assert all(m.call_count == 10 for m in pool)  # one run, pool on every item
    t = cal.choose()
    assert cal.at(t)["accuracy"] == 1.0 and cal.at(t)["escalated_share"] == pytest.approx(0.5)


# -- the real embedded model ----------------------------------------------------------------


@pytest.mark.slow
def test_cascade_on_the_embedded_model_end_to_end(
    edge_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUSIONKIT_HOME", str(edge_home))
    from fusionkit.models.local.embedded import edge_model

    edge = edge_model(device="cpu", progress=False)
    judge = fk.FakeModel(
        "judge", {"reason": "ok", "scores": {"A": 5, "B": 6}, "winner": "B"}, repeat=True
    )
    pool = [fk.FakeModel("big-a", "4"), fk.FakeModel("big-b", "4")]
    r = fk.fuse(
        "What is 2 + 2? Answer with just the number.",
        pool=pool,
        judge=judge,
        mode="cascade",
        max_tokens=8,
        mode_options={"edge": edge, "signals": ["logprob", "agreement"], "samples": 2},
        progress=False,
    )
    d = cascade_of(r)
    assert d is not None and d.edge_model == edge.name and d.edge_answer
    assert d.signal("agreement") is not None and d.signal("agreement").available
    # the local backend may or may not report log-probabilities yet: either is said
    lp = d.signal("logprob")
    assert lp is not None and (lp.available or "log-probabilities" in lp.note)
    assert r.answer == (d.pool_answer if d.escalated else d.edge_answer)
    assert d.edge_usage.total_tokens and d.edge_s > 0


def test_two_signals_calibrate_together_and_the_budget_buys_a_margin() -> None:
    # (logprob, agreement): the wrong items each look confident on one signal only
    items = (
        CalibrationItem((-0.1, 1.0), True, True, 0.0, 10.0, 0.1, 1.0),
        CalibrationItem((-0.2, 1.0), True, True, 0.0, 10.0, 0.1, 1.0),
        CalibrationItem((-0.1, 0.3), False, True, 0.0, 10.0, 0.1, 1.0),
        CalibrationItem((-2.0, 1.0), False, True, 0.0, 10.0, 0.1, 1.0),
    )
    cal = Calibration(("logprob", "agreement"), items, "usd")
    assert len(cal.thresholds()) == 5 * 4  # (-inf, 3 values, inf) x (-inf, 2 values, inf)
    t = cal.choose(within=0.0)
    assert isinstance(t, tuple) and cal.at(t)["accuracy"] == 1.0
    assert cal.at(t)["escalated_share"] == pytest.approx(0.5)  # only the two wrong items
    assert "logprob >= " in cal.describe(t) and " and agreement >= " in cal.describe(t)
    assert {"threshold_logprob", "threshold_agreement"} <= set(cal.curve().columns)
    # one signal alone cannot separate them at that cost
    one = Calibration("logprob", tuple(dataclasses.replace(i, value=i.value[0]) for i in items))
    assert one.at(one.choose(within=0.0))["escalated_share"] > 0.5
    # a budget of 75 % of always escalating: the most accurate within it, escalating more
    b = cal.choose(budget=0.75)
    assert cal.at(b)["accuracy"] == 1.0 and cal.at(b)["cost_per_item"] <= 7.5
    with pytest.raises(InvalidRequestError, match="budget"):
        cal.choose(budget=0)
