"""Selection by evidence (issue 13): vote tie-breaks by confidence, confidence-weighted
votes, universal self-consistency, debate without delimiters, bounds and labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fusion_helpers import blocks, picks

from fusionkit import FakeModel, fuse
from fusionkit.errors import InvalidRequestError, ServerError
from fusionkit.fusion.labels import MAX_POOL_SIZE, labels_for
from fusionkit.types import Request

Q = "What is 6 times 7? Answer with a number."
DELIMITERS = re.compile(r"<<<|>>>|RESPONSE [A-Z]\b")  # what the quality benchmark counts


def sure(name: str, text: str, lp: float | None) -> FakeModel:
    return FakeModel(name, text, logprob=lp)


# -- vote tie-breaks --------------------------------------------------------------------------


def test_vote_asks_members_for_logprobs_and_records_them() -> None:
    pool = [sure("a", "42", -0.1), sure("b", "42", None)]
    r = fuse(Q, pool, mode="vote")
    assert all(m.calls[0].logprobs for m in pool)
    by_model = {c.model: c.mean_logprob for c in r.candidates}
    assert by_model == {"a": pytest.approx(-0.1), "b": None}


def test_a_tie_goes_to_the_answer_its_voters_were_surest_of() -> None:
    pool = [sure("a", "7", -2.0), sure("b", "8", -0.1), sure("c", "7", -2.0), sure("d", "8", -0.2)]
    judge = FakeModel("judge", picks("7"))  # would pick 7: confidence decides first
    r = fuse(Q, pool, judge=judge, mode="vote")
    assert r.judgment.tie_break == "confidence" and r.answer == "8"
    assert judge.call_count == 0 and r.judgment.attempts == 0
    assert "surest" in r.judgment.rationale


def test_close_confidence_goes_to_the_judge() -> None:
    pool = [sure("a", "7", -0.5), sure("b", "8", -0.5)]
    r = fuse(Q, pool, judge=FakeModel("judge", picks("8")), mode="vote")
    assert r.judgment.tie_break == "judge" and r.answer == "8"
    assert r.judgment.attempts == 1


def test_without_logprobs_the_judge_breaks_the_tie() -> None:
    pool = [FakeModel("a", "7"), FakeModel("b", "8")]
    r = fuse(Q, pool, judge=FakeModel("judge", picks("8")), mode="vote")
    assert r.judgment.tie_break == "judge" and r.answer == "8"


def test_attempts_count_every_judge_call_when_the_tie_break_fails() -> None:
    pool = [FakeModel("a", "7"), FakeModel("b", "8")]
    judge = FakeModel("judge", "no idea")
    r = fuse(Q, pool, judge=judge, mode="vote")
    assert r.judgment.tie_break == "earliest" and r.judgment.fallback
    assert judge.call_count == 2 and r.judgment.attempts == 2


def test_attempts_count_failed_judge_calls_too() -> None:
    pool = [FakeModel("a", "7"), FakeModel("b", "8")]
    judge = FakeModel("judge", ServerError("down"))
    r = fuse(Q, pool, judge=judge, mode="vote")
    assert r.judgment.attempts == judge.call_count >= 1


# -- confidence-weighted vote -----------------------------------------------------------------


def test_weighted_vote_lets_one_sure_answer_outweigh_two_unsure_ones() -> None:
    pool = [sure("a", "8", -3.0), sure("b", "8", -3.0), sure("c", "7", -0.05)]
    r = fuse(Q, pool, mode="vote-weighted")
    assert r.answer == "7" and r.mode == "vote-weighted"
    assert r.judgment.votes == {"8": 2, "7": 1}
    plain = fuse(Q, pool, mode="vote")
    assert plain.answer == "8"


def test_weighted_vote_without_logprobs_is_the_plain_vote_and_says_so() -> None:
    pool = [FakeModel("a", "8"), FakeModel("b", "8"), FakeModel("c", "7")]
    r = fuse(Q, pool, mode="confidence-vote")
    assert r.answer == "8"
    assert r.judgment.note is not None and "no log-probabilities" in r.judgment.note


# -- universal self-consistency ---------------------------------------------------------------


def usc_pick(needle: str):
    def reply(request: Request) -> str:
        winner = next(label for label, text in blocks(request).items() if needle in text)
        return json.dumps({"reason": "most agree", "winner": winner})

    return reply


def test_usc_asks_the_judge_with_the_labels_as_an_enum() -> None:
    pool = [FakeModel("a", "It is 42."), FakeModel("b", "41"), FakeModel("c", "42, I think")]
    judge = FakeModel("judge", usc_pick("It is 42"))
    r = fuse(Q, pool, judge=judge, mode="usc")
    assert r.answer == "It is 42." and not r.judgment.fallback
    schema = judge.calls[0].schema
    assert schema is not None
    assert schema.json["properties"]["winner"]["enum"] == sorted(r.label_map)
    assert "most consistent" in judge.calls[0].messages[1].content


def test_usc_skips_the_judge_when_every_answer_agrees() -> None:
    pool = [FakeModel("a", "42"), FakeModel("b", "It is 42")]
    judge = FakeModel("judge", usc_pick("42"))
    r = fuse(Q, pool, judge=judge, mode="usc")
    assert judge.call_count == 0 and r.answer == "42"


def test_usc_falls_back_to_the_majority_when_the_pick_is_unreadable() -> None:
    pool = [FakeModel("a", "41"), FakeModel("b", "42"), FakeModel("c", "42")]
    judge = FakeModel("judge", '{"reason": "x", "winner": "Z"}')
    r = fuse(Q, pool, judge=judge, mode="usc")
    assert r.judgment.fallback and r.answer == "42"
    assert r.judgment.attempts == judge.call_count == 2


# -- debate does no harm ----------------------------------------------------------------------


def test_debate_finals_never_carry_delimiters_and_members_see_none() -> None:
    def tagger(answer: str):
        def reply(request: Request) -> str:
            if len(request.messages) == 1:
                return answer
            # a small model copies tags it sees, and opens replies with block headers
            return "<<<RESPONSE A>>>\nFinal answer: 42\n<<<END OF RESPONSE A>>"

        return reply

    pool = [FakeModel("a", tagger("41")), FakeModel("b", tagger("42")), FakeModel("c", "40")]
    judge = FakeModel("judge", picks("42"))
    r = fuse(Q, pool, judge=judge, mode="debate", rounds=2)
    assert not DELIMITERS.search(r.answer)
    for c in r.candidates:
        assert not DELIMITERS.search(c.text)
    for rnd in r.rounds:
        for t in rnd.turns:
            assert not DELIMITERS.search(t.text)
    for m in pool:
        for req in m.calls[1:]:
            assert "<<<" not in req.messages[-1].content


# -- bounds and labels ------------------------------------------------------------------------


def test_rounds_are_bounded_with_a_named_limit() -> None:
    pool = [FakeModel("a", "1"), FakeModel("b", "2")]
    with pytest.raises(InvalidRequestError, match=r"rounds must be an integer 1\.\.10"):
        fuse(Q, pool, judge=FakeModel("j", "{}"), mode="debate", rounds=10**6)
    assert all(m.call_count == 0 for m in pool)


def test_pool_size_is_bounded_with_a_named_limit() -> None:
    pool = [FakeModel("a", "1")] * (MAX_POOL_SIZE + 1)
    with pytest.raises(InvalidRequestError, match="MAX_POOL_SIZE=64"):
        fuse(Q, pool, mode="vote")
    assert pool[0].call_count == 0
    assert len(fuse(Q, [FakeModel("a", "1")] * MAX_POOL_SIZE, mode="vote").candidates) == 64


def test_labels_are_letters_and_never_collide() -> None:
    labels = labels_for(MAX_POOL_SIZE)
    assert labels[:3] == ["A", "B", "C"] and labels[25:28] == ["Z", "AA", "AB"]
    assert len(set(labels)) == len(labels) and all(x.isalpha() and x.isupper() for x in labels)
    from fusionkit.fusion.labels import _label

    many = [_label(i) for i in range(20000)]
    assert len(set(many)) == 20000 and _label(701) == "ZZ" and _label(702) == "AAA"


# -- the real embedded model ------------------------------------------------------------------


@pytest.mark.slow
def test_debate_and_usc_on_the_embedded_model(
    edge_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUSIONKIT_HOME", str(edge_home))
    from fusionkit.models.local.embedded import edge_model

    edge = edge_model(device="cpu", progress=False)
    q = "What is 12 + 7? Answer with just the number."
    r = fuse(q, [edge, edge, edge], judge=edge, mode="debate", rounds=2, max_tokens=24)
    assert not DELIMITERS.search(r.answer)
    assert all(not DELIMITERS.search(c.text) for c in r.candidates)
    for m in r.rounds[1:]:  # what members saw in later rounds carried no tags either
        assert all(not DELIMITERS.search(t.text) for t in m.turns)
    u = fuse(q, [edge, edge, edge], judge=edge, mode="usc", max_tokens=24)
    # the 135M judge under the schema names a real label, or the fallback says why
    assert u.winner is not None and (u.judgment.fallback or u.winner.label in u.label_map)


def test_a_debate_revision_without_an_answer_keeps_the_previous_answer() -> None:
    def rambler(request: Request) -> str:
        if len(request.messages) == 1:
            return "42"
        return "Other people answered the same question, and they may be wrong about it all."

    pool = [FakeModel("a", rambler), FakeModel("b", "41"), FakeModel("c", "40")]
    r = fuse(Q, pool, judge=FakeModel("judge", picks("42")), mode="debate", rounds=1)
    a = next(c for c in r.candidates if c.model == "a")
    assert a.text == "42"  # the rambling revision did not replace the answer
    seen = pool[1].calls[1].messages[-1].content
    assert "Another answer: 42" in seen or "Another answer:\n42" in seen


def test_debate_on_free_form_answers_goes_to_the_judge() -> None:
    paris = "Paris is lovely in spring, with its museums, its parks and its long river walks."
    lyon = "Lyon is nicer for food lovers: its markets and small bistros are worth the trip."
    pool = [FakeModel("a", paris), FakeModel("b", lyon)]
    judge = FakeModel("judge", picks("Lyon"))
    r = fuse("Which French city should I visit?", pool, judge=judge, mode="debate", rounds=1)
    assert r.judgment.method == "judge" and r.answer == lyon
