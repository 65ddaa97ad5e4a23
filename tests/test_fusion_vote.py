"""Answer extraction and majority vote."""

from __future__ import annotations

import pytest

from fusionkit.fusion.vote import (
    detect_choices,
    extract_answer,
    fallback_choice,
    majority,
    normalize_number,
)

CHOICES = {"A": "Rome", "B": "Paris", "C": "Tokyo", "D": "Berlin"}
MC_PROMPT = "What is the capital of France?\nA) Rome\nB) Paris\nC) Tokyo\nD) Berlin\nAnswer with the letter."


def test_detect_choices() -> None:
    assert detect_choices(MC_PROMPT) == CHOICES
    assert detect_choices("What is 2 + 2?") == {}
    assert detect_choices("A) only one option") == {}


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("42", "42"),
        ("1,000", "1000"),
        ("3.50", "3.5"),
        ("1/2", "0.5"),
        ("$5", "5"),
        ("-7", "-7"),
        ("seven", "7"),
        ("50%", "50"),
        ("abc", None),
        ("1/0", None),
    ],
)
def test_normalize_number(token: str, value: str | None) -> None:
    assert normalize_number(token) == value


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("42", "42"),
        ("17 + 25 = 42", "42"),
        ("The answer is 42.", "42"),
        ("First 3, then 4. Final answer: 12", "12"),
        ("Let me think. 5 - 3 = 2\n#### 2", "2"),
        ("so \\boxed{3/4}", "0.75"),
        ("Answer: seven", "7"),
        ("Paris.", "paris"),
        ("The Eiffel Tower", "eiffel tower"),
        ("", None),
        ("I am not sure what you mean by that question, sorry about it.", None),
    ],
)
def test_extract_auto(text: str, answer: str | None) -> None:
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("B", "B"),
        ("B) Paris", "B"),
        ("(B)", "B"),
        ("The answer is B.", "B"),
        ("I choose option C", "C"),
        ("Paris", "B"),
        ("The capital of France is Paris.", "B"),
        ("A cat sat on the mat.", None),
        ("Rome or Paris?", None),
    ],
)
def test_extract_choice(text: str, answer: str | None) -> None:
    assert extract_answer(text, choices=CHOICES) == answer


def test_strict_ignores_numbers_in_essays() -> None:
    essay = "In 1889 the tower opened. " * 5 + "It has 3 levels."
    assert extract_answer(essay) == "3"
    assert extract_answer(essay, strict=True) is None
    assert extract_answer(essay + "\nFinal answer: 3", strict=True) == "3"


def test_kinds_and_custom_extractor() -> None:
    assert extract_answer("about 12 apples", kind="number") == "12"
    assert extract_answer("no digits here at all", kind="number") is None
    assert extract_answer("The answer is B", kind="choice") == "B"
    assert extract_answer("xyz 9", kind=lambda t: t[-1]) == "9"
    with pytest.raises(ValueError, match="unknown answer kind"):
        extract_answer("x", kind="bogus")


def test_majority_and_ties() -> None:
    t = majority(["4", None, "4", "5"])
    assert t.winner == "4" and t.counts == {"4": 2, "5": 1} and t.voters == 3 and not t.tie
    t = majority(["5", "4", "4", "5"])
    assert t.winner is None and t.tie and t.top == ("5", "4")  # first appearance order
    assert majority([None, None]).voters == 0


def test_fallback_votes_when_answers_are_extractable() -> None:
    index, why, votes, answers = fallback_choice(["It is 41", "42", "The answer is 42."])
    assert index == 1 and votes == {"41": 1, "42": 2} and "majority" in why
    assert answers == ["41", "42", "42"]


def test_fallback_takes_the_first_for_free_form_texts() -> None:
    essays = ["A long essay about towers and their history in Paris. " * 3] * 3
    index, why, votes, _ = fallback_choice(essays)
    assert index == 0 and votes is None and "first successful" in why


def test_fallback_tie_goes_to_pool_order() -> None:
    index, why, _, _ = fallback_choice(["7", "8"])
    assert index == 0 and "tie" in why


# Each reply restates the question's numbers after (or around) its answer: read without
# the question, the last number (an operand) would be taken; with it, the answer is.
APPLES = "Tom has 5 apples and buys 7 more. How many apples does he have?"
RESTATING = [
    "He ends up with 12 apples, because he started with 5 and then bought 7",
    "12 apples: 5 he had plus the 7 he bought",
    "Tom has 12 apples. He had 5 and bought 7",
]


def _restating_pool() -> list[object]:
    from fusionkit.models.fake import FakeModel

    return [FakeModel(f"m{i}", reply) for i, reply in enumerate(RESTATING)]


@pytest.mark.parametrize("mode", ["vote", "vote-weighted"])
def test_vote_reads_members_with_the_question_not_its_restated_numbers(mode: str) -> None:
    from fusionkit.fusion.engine import fuse

    assert [extract_answer(r) for r in RESTATING] == ["7", "7", "5"]  # without the question
    r = fuse(APPLES, pool=_restating_pool(), mode=mode, progress=False)
    assert r.judgment.votes == {"12": 3}
    assert set(r.judgment.answers.values()) == {"12"} and r.answer == RESTATING[0]


def test_usc_reads_members_with_the_question_so_agreeing_answers_need_no_judge() -> None:
    from fusionkit.errors import ModelError
    from fusionkit.fusion.engine import fuse
    from fusionkit.models.fake import FakeModel

    judge = FakeModel("judge", ModelError("the judge must not be asked"))
    r = fuse(APPLES, pool=_restating_pool(), judge=judge, mode="usc", progress=False)
    assert r.judgment.votes == {"12": 3} and judge.call_count == 0
    assert "Every extracted answer is '12'" in r.judgment.rationale


def test_a_judge_fallback_reads_members_with_the_question() -> None:
    from fusionkit.errors import ModelError
    from fusionkit.fusion.engine import fuse
    from fusionkit.models.fake import FakeModel

    judge = FakeModel("judge", ModelError("judge down"))
    r = fuse(
        APPLES,
        pool=_restating_pool(),
        judge=judge,
        mode="best-of",
        extract="number",
        progress=False,
    )
    assert r.judgment.fallback and r.judgment.votes == {"12": 3}


def test_debate_reads_members_with_the_question_and_stops_when_they_agree() -> None:
    from fusionkit.errors import ModelError
    from fusionkit.fusion.engine import fuse
    from fusionkit.models.fake import FakeModel

    pool = _restating_pool()
    judge = FakeModel("judge", ModelError("the judge must not be asked"))
    r = fuse(
        APPLES,
        pool=pool,
        judge=judge,
        mode="debate",
        rounds=2,
        extract="number",
        progress=False,
    )
    # the three answers agree on 12 once read with the question: no revision round is run
    assert sum(m.call_count for m in pool) == 3 and judge.call_count == 0
    assert r.judgment.votes == {"12": 3}
