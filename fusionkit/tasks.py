"""A verifiable task set, generated: small arithmetic and multiple-choice items.

Used by ``fusionkit demo``, the edge-vs-fusion notebook and the quality benchmark to
measure accuracy honestly: every item has one known answer, and grading extracts the
final answer from a reply the same way the ``vote`` fusion mode does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Task", "grade", "make_tasks"]

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


@dataclass(frozen=True, slots=True)
class Task:
    """One verifiable item.

    Attributes:
        id: Stable identifier (``arith-3``, ``mc-1``).
        kind: ``"arithmetic"`` or ``"choice"``.
        prompt: The question, with an instruction on how to answer.
        answer: The known answer: digits for arithmetic, a letter for choice.
    """

    id: str
    kind: str
    prompt: str
    answer: str


def _arithmetic(rng: random.Random, i: int) -> Task:
    a, b = rng.randint(2, 20), rng.randint(2, 20)
    op = rng.choice(["+", "-", "+"])
    if op == "-" and b > a:
        a, b = b, a
    value = a + b if op == "+" else a - b
    prompt = f"What is {a} {op} {b}? Answer with just the number."
    return Task(f"arith-{i}", "arithmetic", prompt, str(value))


def _choice(rng: random.Random, i: int) -> Task:
    if rng.random() < 0.5:
        country, capital = rng.choice(_CAPITALS)
        wrong = rng.sample([c for _, c in _CAPITALS if c != capital], 3)
        question = f"What is the capital of {country}?"
        right = capital
    else:
        what, right, distractors = rng.choice(_CATEGORIES)
        wrong = rng.sample(distractors, 3)
        question = f"Which of these is {what}?"
    options = [right, *wrong]
    rng.shuffle(options)
    lines = "\n".join(f"{LETTERS[k]}) {opt}" for k, opt in enumerate(options))
    prompt = f"{question}\n{lines}\nAnswer with the letter of the correct option."
    return Task(f"mc-{i}", "choice", prompt, LETTERS[options.index(right)])


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

    Uses the same extraction as the ``vote`` fusion mode, so grading and voting agree.

    Args:
        task: The task.
        reply: A model's reply or a fused answer (None counts as wrong).

    Returns:
        (the extracted answer or None, whether it is correct).
    """
    from .fusion.vote import detect_choices, extract_answer

    if not reply:
        return None, False
    kind = "number" if task.kind == "arithmetic" else "auto"
    extracted = extract_answer(reply, kind=kind, choices=detect_choices(task.prompt))
    return extracted, extracted is not None and extracted.strip().upper() == task.answer.upper()
