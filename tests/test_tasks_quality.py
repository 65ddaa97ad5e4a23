"""The quality benchmark's item set: committed, seeded, verifiable, graded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fusionkit.errors import InvalidRequestError
from fusionkit.fusion.extract import detect_choices
from fusionkit.tasks import (
    _CAPITALS,
    _HARD_CAPITALS,
    QUALITY_ITEMS_PATH,
    Task,
    _evaluate,
    grade,
    load_quality_items,
    make_quality_items,
    save_items,
)


def test_committed_file_is_the_generators_output() -> None:
    assert QUALITY_ITEMS_PATH.exists()
    assert load_quality_items() == make_quality_items()
    assert make_quality_items(1) != make_quality_items()


def test_items_are_many_unique_and_graded() -> None:
    items = load_quality_items()
    assert len(items) >= 200
    assert len({t.id for t in items}) == len(items)
    assert len({t.prompt for t in items}) == len(items)
    assert {t.kind for t in items} == {"arithmetic", "word", "choice"}
    assert {t.difficulty for t in items if t.kind == "arithmetic"} == {1, 2, 3, 4, 5}
    # a prefix mixes kinds (the file is shuffled), so a small --n still covers them
    assert {t.kind for t in items[:30]} == {"arithmetic", "word", "choice"}


def test_every_answer_is_right() -> None:
    capitals = dict(_CAPITALS + _HARD_CAPITALS)
    for t in load_quality_items():
        if t.kind == "arithmetic":
            expr = re.match(r"What is (.+)\? Answer", t.prompt)
            assert expr and str(_evaluate(expr.group(1))) == t.answer, t
            ops = len(expr.group(1).split()) // 2
            assert ops == (1 if t.difficulty <= 2 else 2 if t.difficulty <= 4 else 3), t
        elif t.kind == "choice":
            options = detect_choices(t.prompt)
            assert len(options) == 4 and len(set(options.values())) == 4, t
            right = options[t.answer]
            if m := re.match(r"What is the capital of (.+)\?", t.prompt):
                assert capitals[m.group(1)] == right, t
            elif m := re.match(r"What is (\d+) \* (\d+)\?", t.prompt):
                assert int(m.group(1)) * int(m.group(2)) == int(right), t
        else:
            assert t.answer.isdigit() and int(t.answer) >= 0, t
        assert grade(t, f"The answer is {t.answer}.") == (t.answer, True)


def test_grading_reads_like_a_person() -> None:
    t = Task("x", "arithmetic", "What is 17 + 25? Answer with just the number.", "42", 1)
    assert grade(t, "17 + 25 = 42") == ("42", True)
    assert grade(t, "17 + 25 = 34. That is the equation 17 + 25")[0] == "34"
    assert grade(t, "To add 17 and 25 we need to think about it a lot, as 17 and 25") == (
        None,
        False,
    )
    mc = Task("y", "choice", "What is 5 * 10?\nA) 51\nB) 60\nC) 40\nD) 50\nAnswer.", "D", 3)
    assert grade(mc, "50") == ("D", True) and grade(mc, "D) 50") == ("D", True)
    assert grade(mc, "A) 50")[0] is None  # contradicts itself


def test_load_a_prefix_and_bad_files(tmp_path: Path) -> None:
    assert load_quality_items(n=5) == load_quality_items()[:5]
    path = save_items(load_quality_items(n=3), tmp_path / "items.jsonl")
    assert load_quality_items(path) == load_quality_items(n=3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x"}) + "\n")
    with pytest.raises(InvalidRequestError, match="bad.jsonl:1 is not a task"):
        load_quality_items(bad)
    with pytest.raises(InvalidRequestError, match="no task file"):
        load_quality_items(tmp_path / "missing.jsonl")
