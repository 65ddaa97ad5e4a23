"""Verifiable task sets, generated: arithmetic, multiple-choice and word-problem items.

- :func:`make_tasks`: a few small items for ``fusionkit demo`` and the notebooks;
- :func:`make_quality_items` / :func:`load_quality_items`: the quality benchmark's
  held-out set of 240 items of graded difficulty (1 to 5), kept in the repository as
  ``benchmarks/data/quality_items.jsonl`` (written by ``python -m fusionkit.tasks``).

Every item has one known answer; :func:`grade` extracts the final answer from a reply
the way a person would (:mod:`fusionkit.fusion.extract`) and compares.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "QUALITY_ITEMS_PATH",
    "QUALITY_SEED",
    "Task",
    "grade",
    "load_quality_items",
    "make_quality_items",
    "make_tasks",
    "save_items",
]

_CAPITALS = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Italy", "Rome"),
    ("Germany", "Berlin"),
    ("Spain", "Madrid"),
    ("Egypt", "Cairo"),
    ("Russia", "Moscow"),
    ("England", "London"),
    ("China", "Beijing"),
    ("Greece", "Athens"),
]

_CATEGORIES = [
    ("a fruit", "apple", ["hammer", "river", "chair", "cloud", "pencil"]),
    ("an animal", "dog", ["table", "spoon", "window", "bottle", "shoe"]),
    ("a colour", "red", ["piano", "carpet", "bridge", "ladder", "coin"]),
    ("a planet", "Mars", ["Paris", "Nile", "Everest", "Sahara", "Pacific"]),
    ("a vegetable", "carrot", ["guitar", "lamp", "rocket", "pillow", "kettle"]),
    ("a musical instrument", "violin", ["banana", "tiger", "desert", "stone", "button"]),
]

LETTERS = "ABCD"
_NUMBER_ONLY = "Answer with just the number."
_LETTER_ONLY = "Answer with the letter of the correct option."


@dataclass(frozen=True, slots=True)
class Task:
    """One verifiable item.

    Attributes:
        id: Stable identifier (``arith-3``, ``mc-1``, ``q-word-4-007``).
        kind: ``"arithmetic"``, ``"word"`` (a word problem; a number answers it) or
            ``"choice"``.
        prompt: The question, with an instruction on how to answer.
        answer: The known answer: digits for arithmetic and word problems, a letter
            for choice.
        difficulty: 1 (easiest) to 5.
    """

    id: str
    kind: str
    prompt: str
    answer: str
    difficulty: int = 1


def _arithmetic(rng: random.Random, i: int) -> Task:
    a, b = rng.randint(2, 20), rng.randint(2, 20)
    op = rng.choice(["+", "-", "+"])
    if op == "-" and b > a:
        a, b = b, a
    value = a + b if op == "+" else a - b
    prompt = f"What is {a} {op} {b}? {_NUMBER_ONLY}"
    return Task(f"arith-{i}", "arithmetic", prompt, str(value))


def _capital_question(rng: random.Random) -> tuple[str, str, list[str]]:
    """``(question, right option, three wrong options)``: a capital among capitals."""
    country, right = rng.choice(_CAPITALS)
    wrong = rng.sample([c for _, c in _CAPITALS if c != right], 3)
    return f"What is the capital of {country}?", right, wrong


def _category_question(rng: random.Random) -> tuple[str, str, list[str]]:
    """``(question, right option, three wrong options)``: one thing of a category."""
    what, right, distractors = rng.choice(_CATEGORIES)
    return f"Which of these is {what}?", right, rng.sample(distractors, 3)


def _options(rng: random.Random, right: str, wrong: Iterable[str]) -> tuple[str, str]:
    """The options shuffled as ``A) ...`` lines, and the right option's letter."""
    options = [right, *wrong]
    rng.shuffle(options)
    lines = "\n".join(f"{LETTERS[k]}) {opt}" for k, opt in enumerate(options))
    return lines, LETTERS[options.index(right)]


def _choice(rng: random.Random, i: int) -> Task:
    ask = _capital_question if rng.random() < 0.5 else _category_question
    question, right, wrong = ask(rng)
    lines, letter = _options(rng, right, wrong)
    return Task(f"mc-{i}", "choice", f"{question}\n{lines}\n{_LETTER_ONLY}", letter)


def make_tasks(
    n: int = 10, *, seed: int = 0, kinds: tuple[str, ...] = ("arithmetic", "choice")
) -> list[Task]:
    """Generate ``n`` verifiable tasks, alternating the requested kinds.

    Args:
        n: How many tasks.
        seed: Seed of the generator; the same seed gives the same tasks.
        kinds: Which kinds to include, in rotation.

    Returns:
        The tasks.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    bad = set(kinds) - {"arithmetic", "choice"}
    if not kinds or bad:
        raise ValueError(f"kinds must be drawn from 'arithmetic' and 'choice', got {kinds!r}")
    rng = random.Random(seed)
    makers = {"arithmetic": _arithmetic, "choice": _choice}
    return [makers[kinds[i % len(kinds)]](rng, i) for i in range(n)]


def grade(task: Task, reply: str | None) -> tuple[str | None, bool]:
    """Extract the final answer from a reply and check it against the task's answer.

    Reads the reply like a person (:func:`fusionkit.fusion.extract.extract_answer`: an
    explicit answer, else the value after the last ``=``, ...), with the task's prompt
    as the question, so a number that only repeats the question is not taken for an
    answer.

    Args:
        task: The task.
        reply: A model's reply or a fused answer (None counts as wrong).

    Returns:
        (the extracted answer or None, whether it is correct).
    """
    from .fusion.extract import detect_choices, extract_answer

    if not reply:
        return None, False
    choices = detect_choices(task.prompt)
    kind = "choice" if choices else "number" if task.kind in _NUMERIC else "auto"
    extracted = extract_answer(reply, kind=kind, choices=choices, question=task.prompt)
    return extracted, extracted is not None and extracted.strip().upper() == task.answer.upper()


# -- the quality benchmark's item set -------------------------------------------------------

_NUMERIC = frozenset({"arithmetic", "word"})

#: The seed of the committed quality item set.
QUALITY_SEED = 2026
#: Where the committed quality items live (in a source checkout).
QUALITY_ITEMS_PATH = (
    Path(__file__).resolve().parent.parent / "benchmarks" / "data" / ("quality_items.jsonl")
)

_HARD_CAPITALS = [
    ("Canada", "Ottawa"),
    ("Australia", "Canberra"),
    ("Brazil", "Brasilia"),
    ("Turkey", "Ankara"),
    ("Switzerland", "Bern"),
    ("New Zealand", "Wellington"),
    ("Morocco", "Rabat"),
    ("Vietnam", "Hanoi"),
    ("Nigeria", "Abuja"),
    ("Pakistan", "Islamabad"),
]
_CITY_DECOYS = [
    "Sydney",
    "Toronto",
    "Istanbul",
    "Zurich",
    "Auckland",
    "Casablanca",
    "Lagos",
    "Karachi",
    "Rio de Janeiro",
    "Geneva",
]
_NAMES = ["Tom", "Ana", "Sam", "Mia", "Leo", "Zoe", "Max", "Ivy"]
_THINGS = ["apples", "pens", "stickers", "marbles", "books", "cards", "coins", "shells"]
_BOXES = ["boxes", "bags", "jars", "baskets", "packs"]


def _expression(rng: random.Random, level: int) -> tuple[str, int]:
    """An integer expression whose difficulty grows with ``level`` (1 to 5)."""
    while True:
        if level == 1:
            a, b = rng.randint(2, 20), rng.randint(2, 20)
            op = rng.choice("+-")
            a, b = (b, a) if op == "-" and b > a else (a, b)
            text = f"{a} {op} {b}"
        elif level == 2:
            if rng.random() < 0.5:
                a, b, op = rng.randint(11, 99), rng.randint(11, 99), rng.choice("+-")
                a, b = (b, a) if op == "-" and b > a else (a, b)
            else:
                a, b, op = rng.randint(2, 12), rng.randint(2, 12), "*"
            text = f"{a} {op} {b}"
        elif level == 3:
            a, b, c = rng.randint(2, 30), rng.randint(2, 30), rng.randint(2, 30)
            op1, op2 = rng.choice("+-*"), rng.choice("+-")
            if op1 == "*":
                a, b = rng.randint(2, 12), rng.randint(2, 12)
            text = f"{a} {op1} {b} {op2} {c}"
        elif level == 4:
            a, b, c = rng.randint(100, 999), rng.randint(10, 999), rng.randint(2, 99)
            op1, op2 = rng.choice("+-"), rng.choice("+-*")
            if op2 == "*":
                c = rng.randint(2, 9)
            text = f"{a} {op1} {b} {op2} {c}"
        else:
            a, b = rng.randint(12, 99), rng.randint(3, 19)
            c, d = rng.randint(100, 999), rng.randint(10, 999)
            ops = [rng.choice("+-"), rng.choice("+-")]
            text = f"{a} * {b} {ops[0]} {c} {ops[1]} {d}"
        value = _evaluate(text)
        if value >= 0:
            return text, value


def _evaluate(text: str) -> int:
    """Evaluate ``a op b op c`` (+, -, * with the usual precedence) without eval()."""
    tokens = text.split()
    terms: list[int] = [int(tokens[0])]
    signs: list[int] = [1]
    for op, num in zip(tokens[1::2], tokens[2::2], strict=True):
        if op == "*":
            terms[-1] *= int(num)
        else:
            terms.append(int(num))
            signs.append(1 if op == "+" else -1)
    return sum(s * t for s, t in zip(signs, terms, strict=True))


def _q_arithmetic(rng: random.Random, level: int, i: int) -> Task:
    text, value = _expression(rng, level)
    return Task(
        f"q-arith-{level}-{i:03d}",
        "arithmetic",
        f"What is {text}? {_NUMBER_ONLY}",
        str(value),
        level,
    )


def _q_word(rng: random.Random, level: int, i: int) -> Task:
    name, thing = rng.choice(_NAMES), rng.choice(_THINGS)
    if level == 2:
        a, b = rng.randint(2, 20), rng.randint(2, 20)
        story, value = f"{name} has {a} {thing} and gets {b} more.", a + b
    elif level == 3:
        a, b = rng.randint(10, 40), rng.randint(2, 9)
        story, value = f"{name} has {a} {thing} and gives away {b}.", a - b
    elif level == 4:
        n, k, box = rng.randint(2, 9), rng.randint(2, 12), rng.choice(_BOXES)
        story, value = f"{name} has {n} {box} with {k} {thing} in each.", n * k
    else:
        n, k, box = rng.randint(3, 9), rng.randint(3, 12), rng.choice(_BOXES)
        b = rng.randint(2, n * k - 1)
        story = f"{name} has {n} {box} with {k} {thing} in each and gives away {b} {thing}."
        value = n * k - b
    prompt = f"{story} How many {thing} does {name} have now? {_NUMBER_ONLY}"
    return Task(f"q-word-{level}-{i:03d}", "word", prompt, str(value), level)


def _q_choice(rng: random.Random, level: int, i: int) -> Task:
    if level == 1:
        question, right, wrong = _capital_question(rng)
    elif level == 2:
        question, right, wrong = _category_question(rng)
    elif level == 3:
        a, b = rng.randint(3, 12), rng.randint(3, 12)
        value = a * b
        near = {value + d for d in (-a, a, -b, b, 1, -1, 10, -10)} - {value}
        right, wrong = str(value), [str(x) for x in rng.sample(sorted(near), 3)]
        question = f"What is {a} * {b}?"
    else:
        country, right = rng.choice(_HARD_CAPITALS)
        decoys = [c for _, c in _HARD_CAPITALS if c != right] + _CITY_DECOYS
        wrong = rng.sample(decoys, 3)
        question = f"What is the capital of {country}?"
    lines, letter = _options(rng, right, wrong)
    prompt = f"{question}\n{lines}\n{_LETTER_ONLY}"
    return Task(f"q-mc-{level}-{i:03d}", "choice", prompt, letter, level)


#: (maker, difficulty, how many): 100 arithmetic, 70 word problems, 70 multiple choice.
_PLAN: list[tuple[Callable[[random.Random, int, int], Task], int, int]] = [
    *[(_q_arithmetic, level, 20) for level in range(1, 6)],
    *[(_q_word, level, n) for level, n in ((2, 20), (3, 20), (4, 15), (5, 15))],
    *[(_q_choice, level, n) for level, n in ((1, 20), (2, 15), (3, 20), (4, 15))],
]


def make_quality_items(seed: int = QUALITY_SEED) -> list[Task]:
    """Generate the quality benchmark's items: 240 verifiable items of graded difficulty.

    Arithmetic with one to three operations and growing operands (difficulty 1-5),
    word problems (2-5) and four-option multiple choice (capitals, categories,
    products; 1-4). Items are unique by prompt, in a seeded shuffled order (so any
    prefix mixes kinds and difficulties).

    Args:
        seed: Seed of the generator; the same seed gives the same items.

    Returns:
        The items.
    """
    rng = random.Random(seed)
    items: list[Task] = []
    seen: set[str] = set()
    for maker, level, count in _PLAN:
        made = 0
        while made < count:
            task = maker(rng, level, made)
            if task.prompt not in seen:
                seen.add(task.prompt)
                items.append(task)
                made += 1
    rng.shuffle(items)
    return items


def save_items(tasks: Iterable[Task], path: str | Path) -> Path:
    """Write tasks as JSON lines (one object per task, keys in field order)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(asdict(t), ensure_ascii=False) for t in tasks]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def load_quality_items(path: str | Path | None = None, *, n: int | None = None) -> list[Task]:
    """The quality benchmark's items, from the committed JSON-lines file.

    Args:
        path: A JSON-lines file of tasks; by default the committed
            ``benchmarks/data/quality_items.jsonl``. When the default file is absent
            (an installed package without the repository), the same items are
            regenerated with :func:`make_quality_items` (identical by construction; a
            test checks it).
        n: Only the first ``n`` items.

    Returns:
        The items, in file order.

    Raises:
        InvalidRequestError: An explicit ``path`` is missing or a line is not a task.
    """
    from .errors import InvalidRequestError

    if path is None and not QUALITY_ITEMS_PATH.exists():
        items = make_quality_items()
    else:
        source = Path(path) if path is not None else QUALITY_ITEMS_PATH
        if not source.exists():
            raise InvalidRequestError(f"no task file at {source}; write one with save_items().")
        items = []
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                items.append(Task(**row))
            except (ValueError, TypeError) as exc:
                raise InvalidRequestError(
                    f"{source}:{number} is not a task ({exc}); expected the keys id, kind, "
                    "prompt, answer, difficulty."
                ) from exc
    return items if n is None else items[:n]


def main(argv: list[str] | None = None) -> None:
    """``python -m fusionkit.tasks [--out PATH] [--seed N]``: write the quality items."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--out", default=str(QUALITY_ITEMS_PATH))
    ap.add_argument("--seed", type=int, default=QUALITY_SEED)
    args = ap.parse_args(argv)
    items = make_quality_items(args.seed)
    print(f"wrote {len(items)} items to {save_items(items, args.out)}")


if __name__ == "__main__":
    main()
