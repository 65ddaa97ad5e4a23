"""Answer extraction: a table of real small-model replies, hand-labelled, and nasty strings.

The replies below are real: SmolLM2-135M-Instruct (the embedded edge model, NF4 on the
CPU), ``max_tokens=48``, temperature 0.7 with the seed shown (None: greedy). Each is
labelled with what a person asked "which answer does this reply commit to?" would point
at: its last stated result, or None when it states none or the result is unreadable.
The labels were written by reading the replies, not by running the extractor.
"""

from __future__ import annotations

import random
import sys

import pytest

from fusionkit.errors import InvalidRequestError
from fusionkit.fusion import numeric as ex
from fusionkit.fusion.extract import (
    SOURCE_STRENGTH,
    Extraction,
    detect_choices,
    extract_answer,
    locate_answer,
    normalize_number,
)
from fusionkit.fusion.vote import break_tie, fallback_choice, majority

MISS_HIDDEN_SUBJECT = "the statement hides behind 'The capital of Japan, known as Tokyo, is ...'"
MISS_ECHOED_OPERAND = "the answer (4) is also an operand of the question; the fallbacks skip those"

PROMPTS = [
    "What is 17 + 25?",
    "What is 8 * 7?",
    "What is 45 - 18?",
    "What is 12 + 30? Answer with just the number.",
    "What is 6 * 4 + 3?",
    "Tom has 5 apples and buys 7 more. How many apples does he have?",
    "What is the capital of France?",
    "What is the capital of Japan?",
    "What is the capital of Italy?\nA) Madrid\nB) Rome\nC) Paris\nD) Berlin\nAnswer with the letter of the correct option.",
    "Which of these is a fruit?\nA) hammer\nB) river\nC) apple\nD) chair\nAnswer with the letter of the correct option.",
    "What is 23 + 19? Answer with just the number.",
    "What is 9 * 6? Answer with just the number.",
    "What is 100 - 37? Answer with just the number.",
    "A box holds 4 pens. How many pens are in 3 boxes? Answer with just the number.",
    "What is the capital of Spain?\nA) Cairo\nB) Athens\nC) Madrid\nD) Tokyo\nAnswer with the letter of the correct option.",
    "Which of these is an animal?\nA) table\nB) dog\nC) spoon\nD) shoe\nAnswer with the letter of the correct option.",
    "What is the capital of Germany?",
]

# (prompt index, sampling seed (None: greedy), reply, what a person reads as its answer)
REAL_REPLIES: list[tuple[int, int | None, str, str | None]] = [
    (0, 0, "17 + 25 equals 31.", "31"),
    (
        0,
        1,
        "To solve 17 + 25, we need to calculate 17 + 25 using basic arithmetic operations.\n\n1 + 2 = 2\n2 + 5 = 10 (already calculated)\n",
        "10",
    ),
    (
        0,
        2,
        "To solve this problem, we need to calculate 17 + 25. First, we add the numbers: 17 + 25 = 3MM. Then, we calculate the difference between the two sums by subtracting",
        None,
    ),
    (0, 3, "17 + 25 equals 31.", "31"),
    (1, 0, "To calculate 8 * 7, you can multiply 8 by 7, which is 48. So, 8 * 7 equals 56.", "56"),
    (
        1,
        1,
        "To find 8 * 7, we need to multiply 8 by 7. This is where math comes into play, and we're actually dealing with the number of days in a month and how many people are in a month.",
        None,
    ),
    (
        1,
        2,
        "To calculate 8 × 7, we need to multiply 8 (the first number) by 7 (the second number). This is done by adding 1 (the first number) to itself, so we multiply 8 by",
        None,
    ),
    (
        1,
        3,
        "To calculate 8 * 7, we need to multiply 8 by 7. This is done by adding those two numbers together. In mathematics, multiplication is calculated by adding the number of times that a specific operation was performed. In",
        None,
    ),
    (
        2,
        0,
        "To solve this problem, we need to find 45 and subtract 18, which is 18. Adding 18 to 45 gives us 45. So, 18 is indeed 18",
        None,
    ),
    (
        2,
        1,
        "To solve a mathematical equation, you need to know how to convert a decimal to a mixed number and its decimal equivalent. In this case, you'd simply need to compute 18 decimal places and its decimal equivalent. Multiply the decimal",
        None,
    ),
    (
        2,
        2,
        "To solve this problem, we need to calculate 45 and 18.\n\nFirst, we add the numbers 45 and 18: 45 + 18 = 180.\n\n",
        "180",
    ),
    (2, 3, "45 is 18.", "18"),
    (3, 0, "12 + 30 = x x 3 x 2 x 3 x 2 x 2 x 3 x 3 x 2 x 2 x 2 x 2 x 2 x 2 x", None),
    (
        3,
        1,
        "To solve the problem, we need to add 12 and 30. First, we calculate 12 and 3: 12 + 3 = 24. Now we add these two numbers together: ",
        "24",
    ),
    (
        3,
        2,
        "To solve this problem, we need to calculate 12 + 30. First, we add the numbers: 12 + 30 = 34. Then, we calculate the total of 34 by adding",
        "34",
    ),
    (3, 3, "12 + 30 = 32", "32"),
    (
        4,
        0,
        "To calculate 6 + 3, you can think of 6 as 3 feet, and 3 as 2 feet. This makes your body proportional to your feet' length of 3 feet. So, 6 feet represent",
        None,
    ),
    (
        4,
        1,
        "To solve a mathematical equation, you need to know how to add and subtract numbers with different units like kilograms and pounds. In this case, you need to find the number of kilograms (1.25 pounds) and pounds (6.",
        None,
    ),
    (
        4,
        2,
        "To solve this problem, we need to calculate 6 times 4 and 3.\n\n6 is the sum of 6 and 3, and 3 is 3 times 2, which is 6. Now we have",
        None,
    ),
    (
        4,
        3,
        "To calculate 6 + 3, we simply add the two numbers and multiply them. 6 + 3 is calculated by adding 6 and 3, resulting in 9 being added.",
        "9",
    ),
    (5, 0, "Tom has 5 apples and buys 7 more, so he has 5 x 7 = 25 apples.", "25"),
    (
        5,
        1,
        "Tom has 7 apples, so to find out how many he has, 5 + 7 = 10 apples, so he has 10 apples.",
        "10",
    ),
    (
        5,
        2,
        "Tom has 5 apples (7) and buys 7 more, so 7 apples is 7 apples. In total 10 apples are bought, so 7 apples is 7 apples.",
        "10",
    ),
    (
        5,
        3,
        "Tom has 5 apples, and he buys 7 more. This means he has 7 apples at first but now has 5 apples. To calculate 7 apples, he would know 5 apples. It's like when you have",
        None,
    ),
    (
        6,
        0,
        "The capital of France is Paris. It is often referred to as the 'La Dôle de Paris' (French for Paris) and also known as the Latin America of Europe is Paris.",
        "paris",
    ),
    (
        6,
        1,
        "The capital of France is Paris, also known as the capital of the French Kingdom of France.",
        "paris",
    ),
    (
        6,
        2,
        "The capital of France is Paris, capital of the Kingdom of France, also known as France, is Paris is a French city known as the capital of France is not only France but the EU is also known as the EuroPirate,",
        "paris",
    ),
    (6, 3, "L'Étoile, France, is capital of the French language and culture.", None),
    (
        7,
        0,
        "The capital of Japan, known as Tokyo, is the capital of Japan, also known as the capital of Japan, also known as the capital of Japan, also known as the capital of Japan, also known as the capital of Japan, also",
        "tokyo",
    ),
    (7, 1, "The capital of Japan is Tokyo, known as Asakadō in Japanese.", "tokyo"),
    (
        7,
        2,
        "The capital of Japan is known as Tokyo, which is located in North East Asia. Tokyo is often referred to as the capital of Japan.",
        "tokyo",
    ),
    (7, 3, "The capital of Japan is Tokyo.", "tokyo"),
    (8, 0, "The capital of Italy is Italy.", None),
    (
        8,
        1,
        "A) Rome\n\nThe correct answer is C) Berlin. This answer can be confirmed by comparing the given options with the letter of the corresponding letters of the Roman alphabet: A (Rome), B (Paris), C (Britannia",
        None,
    ),
    (
        8,
        2,
        'To solve this riddle, we need to analyze the information provided. The Latin for the capital Italian is "ITAL" and the Italian capital is "ITAL". So we need to make a calculation to find our answer.\n\nThe',
        None,
    ),
    (
        8,
        3,
        "A) Rome\n\nTo solve this problem, I need to know the Roman capital of Italy. Rome has three letters: A, C, and B. It is not a Latin capital city.",
        None,
    ),
    (9, 0, "The correct option is D) chair.", "D"),
    (9, 1, "A) Hammer\nThe correct answer is B) River. The correct answer is C) Apple.", "C"),
    (
        9,
        2,
        'To solve this riddle, we need to analyze the information provided. The first two letters of the answer are the correct option. The correct answer is a fruit consisting of a tool and the word "river" makes it fruit.\n\nSo',
        None,
    ),
    (
        9,
        3,
        'A) hammer\n\nTo solve this problem, we need to break down the word "river" into its base elements: a river (A), a hammer (M), and a chair (S). The correct option is not "apple',
        "A",
    ),
    (10, None, "23 + 19 = 32\n\nI added just the number of 19 to 23.", "32"),
    (
        10,
        11,
        "19\n\nTo find the total number of grains of rice, we need to add 19. \nWe can calculate it as 19, so we add 19 to 19.\n\n19 +",
        "19",
    ),
    (10, 12, "23 + 19 = 32\n\nI am ready to help you now!", "32"),
    (
        11,
        None,
        "To solve this problem, we need to calculate 9 * 6. First, we need to calculate 9 * 6. To do this, we'll multiply 9 by 6. So, we'll calculate 9 *",
        None,
    ),
    (
        11,
        11,
        "To calculate 9 * 6, we need to perform 9 × 6. In a group of 6 people, this would be equivalent to 9 x 6 = 45.",
        "45",
    ),
    (11, 12, "9 * 6 is 45, and answer with just the number is 21.", "21"),
    (12, None, "100 - 37 = 37", "37"),
    (12, 11, "100 - 37 is 37.", "37"),
    (12, 12, "100 - 37 is 37 * 100 = 37.", "37"),
    (
        13,
        None,
        "In a box, there are 4 pens. To find out how many pens are in 3 boxes, you need to find 3 boxes. 3 boxes hold 4 pens. So, 3 boxes hold 4 pens.",
        "4",
    ),
    (13, 11, "1. 3\n2. 4\n3. 4\n\nThe number of pens in 3 boxes is 3 + 4 = 9.", "9"),
    (13, 12, "A box holds 4 pens. 3 boxes contain 4 pens.", "4"),
    (14, None, "D) Tokyo", "D"),
    (14, 11, "The capital of Spain is Spain.", None),
    (14, 12, "A) Istanbul\nD) Tokyo", None),
    (15, None, "A) shoe\n\nThe correct answer is D) shoe.", "D"),
    (15, 11, "The correct answer is D) shoe.", "D"),
    (15, 12, "A) shoe\n\nThe correct answer is C) shoe.", None),
    (16, None, "The capital of Germany is Berlin.", "berlin"),
    (16, 11, "The capital of Germany is Berlin.", "berlin"),
    (
        16,
        12,
        "The capital of Germany is Berlin. This city is often referred to as the 'Bundt' in German and is a popular tourist destination in Eastern Europe, known for its vibrant cultural scene and rich historical and cultural heritage, as well as",
        "berlin",
    ),
]
KNOWN_MISSES = {
    28: MISS_HIDDEN_SUBJECT,
    49: MISS_ECHOED_OPERAND,
    51: MISS_ECHOED_OPERAND,
}


def _kind(prompt: str) -> str:
    if detect_choices(prompt):
        return "choice"
    return "text" if "capital" in prompt else "number"


@pytest.mark.parametrize(
    ("index", "row"),
    [
        pytest.param(
            i,
            row,
            id=f"reply{i}",
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[i])]
            if i in KNOWN_MISSES
            else [],
        )
        for i, row in enumerate(REAL_REPLIES)
    ],
)
def test_real_replies_read_like_a_person(index: int, row: tuple) -> None:
    p, _seed, reply, person = row
    prompt = PROMPTS[p]
    got = extract_answer(reply, kind=_kind(prompt), choices=detect_choices(prompt), question=prompt)
    assert got == person, f"reply {index}: {reply!r}"


def test_real_reply_agreement_rate() -> None:
    agree = sum(
        extract_answer(
            r, kind=_kind(PROMPTS[p]), choices=detect_choices(PROMPTS[p]), question=PROMPTS[p]
        )
        == person
        for p, _, r, person in REAL_REPLIES
    )
    assert len(REAL_REPLIES) >= 40
    assert agree == len(REAL_REPLIES) - len(KNOWN_MISSES)


@pytest.mark.parametrize(
    ("text", "answer", "source"),
    [
        # the measured failure: the last number was an echo of the question
        ("17 + 25 = 34. That is the equation 17 + 25", "34", "equation"),
        ("17 + 25 = 42, so the answer is 42.", "42", "marker"),
        ("The answer is 17 + 25 = 42", "42", "marker"),
        ("The answer is that we add 17 and 25 to get 42.", "42", "marker"),
        ("The answer is:\n\n42", "42", "marker"),
        ("Final answer: 1,250", "1250", "marker"),
        ("So the total is **42** apples.", "42", "bold"),
        ("We get \\boxed{\\frac{3}{4}}", "0.75", "boxed"),
        ("8 * 7 equals 56", "56", "equation"),
        ("x = 5 + 7\nSo he has 12 apples.", "12", "last-line"),
        ("12 + 30 = x x 3 x 2", None, "equation"),  # the result is unreadable
        ("First 3, then 4.\nThey make twenty-one.", "21", "last-line"),
        ("The answer is not 5. It is 6.", "6", "short-reply"),
        (
            "Adding them together we get 42 apples in the basket in the end, truly.",
            "42",
            "result-phrase",
        ),
    ],
)
def test_rules_and_sources(text: str, answer: str | None, source: str) -> None:
    found = locate_answer(text, kind="number")
    assert (found.value, found.source) == (answer, source)


def test_question_operands_are_skipped_by_fallbacks_only() -> None:
    ramble = "To find 8 * 7 we multiply 8 by 7, it is about how many days there are in 7"
    assert extract_answer(ramble, kind="number") == "7"
    assert extract_answer(ramble, kind="number", question="What is 8 * 7?") is None
    # an explicit statement is never second-guessed
    assert extract_answer("The answer is 7.", question="What is 8 * 7?") == "7"


def test_a_long_ramble_has_no_last_number_answer() -> None:
    ramble = "We need to think about this problem in many ways and steps. " * 3 + "Like 5 of"
    assert extract_answer(ramble, kind="number") is None


def test_choice_contradictions_and_lists() -> None:
    choices = {"A": "Madrid", "B": "Rome", "C": "Paris", "D": "Berlin"}
    assert extract_answer("A) Rome", choices=choices) is None  # A is Madrid
    assert extract_answer("B) Rome", choices=choices) == "B"
    assert extract_answer("A) Madrid\nB) Rome", choices=choices) is None  # a list
    assert extract_answer("The answer is not Rome. A) Madrid", choices=choices) == "A"
    assert extract_answer("**B**", choices=choices) == "B"
    assert locate_answer("**B**", choices=choices).source == "bold"


def test_text_statements_need_the_question() -> None:
    reply = "The capital of France is Paris, a large city."
    assert extract_answer(reply, kind="text", question="What is the capital of France?") == (
        "paris"
    )
    found = locate_answer(reply, kind="text", question="What is the capital of France?")
    assert found.source == "statement" and found.strength == SOURCE_STRENGTH["statement"]
    assert extract_answer("The capital of France is Paris.", kind="text") == (
        "capital of france is paris"
    )


def test_custom_extractor_and_unknown_kind() -> None:
    found = locate_answer("xyz 9", kind=lambda t: t[-1])
    assert found == Extraction("9", "custom") and found.strength == SOURCE_STRENGTH["custom"]
    assert locate_answer("xyz", kind=lambda t: None).value is None
    with pytest.raises(InvalidRequestError, match="unknown answer kind"):
        extract_answer("x", kind="bogus")


def test_strength_orders_sources() -> None:
    assert Extraction(None, "marker").strength == 0
    assert (
        Extraction("1", "marker").strength
        > Extraction("1", "equation").strength
        > Extraction("1", "result-phrase").strength
        > Extraction("1", "last-number").strength
    )


def test_ties_go_to_the_firmest_statement() -> None:
    texts = ["I think it could be 7 or so, maybe, if I count the things here.", "The answer is 8."]
    found = [locate_answer(t) for t in texts]
    tally = majority([f.value for f in found])
    assert tally.tie
    assert break_tie(tally, found) == ("8", "a tie broken by the firmest statement of an answer")
    index, why, _, _ = fallback_choice(["7", "Final answer: 8"])
    assert index == 1 and "firmest" in why
    index, why, _, _ = fallback_choice(["7", "8"])
    assert index == 0 and "pool order" in why


def test_a_boxed_answer_wins_a_tie_as_an_explicit_marker() -> None:
    # pool order favours the equation; the boxed answer is the firmer statement
    texts = ["Adding them up, 3 + 4 = 7", r"Adding them up gives $\boxed{8}$"]
    found = [locate_answer(t) for t in texts]
    assert [(f.value, f.source) for f in found] == [("7", "equation"), ("8", "boxed")]
    assert found[1].strength == SOURCE_STRENGTH["marker"] > found[0].strength
    tally = majority([f.value for f in found])
    assert break_tie(tally, found) == ("8", "a tie broken by the firmest statement of an answer")
    index, why, _, _ = fallback_choice(["The answer is 7.", r"\boxed{8}"])
    assert index == 0 and "pool order" in why  # two explicit markers: equals


def test_every_marker_source_has_a_strength() -> None:
    from fusionkit.fusion.extract_patterns import MARKER_HEADS

    sources = {source for source, _ in MARKER_HEADS} | {"boxed"}
    assert all(SOURCE_STRENGTH.get(s, 0) == SOURCE_STRENGTH["marker"] for s in sources)


# -- never crash on any string (issue 9 item 1) -------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "1" + "0" * 400 + ".5",
        "10" * 2600 + "/3",
        "1" * 5000,
        "1e999999",
        "1e-999999",
        "9" * 300 + "e300",
        "nan",
        "inf",
        "-inf",
        "NaN",
        "1/0",
        "0/0",
        "",
        "\ud800",
        "١٢٣",
        "--5",
        "5e",
        "e5",
        ".",
        "$",
        "%",
    ],
)
def test_normalize_number_never_raises(token: str) -> None:
    assert normalize_number(token) is None


def test_normalize_number_bounds_and_forms() -> None:
    assert normalize_number("2e3") == "2000"
    assert normalize_number("1/3") == "0.333333"
    assert normalize_number("-0.0000001") == "0"
    assert normalize_number("twenty-one") == "21"
    assert normalize_number("\u22127") == "-7"
    assert normalize_number("1" + "0" * 250) == "1" + "0" * 250
    assert normalize_number(42) is None  # not a string


def test_lowest_int_digit_limit_is_respected() -> None:
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        for token in ["9" * ex.MAX_DIGITS, "9" * ex.MAX_DIGITS + "e" + str(ex.MAX_DIGITS)]:
            value = normalize_number(token)
            assert value is None or len(value) < 640
        huge = "Final answer: " + "9" * 700
        assert extract_answer(huge) is None
    finally:
        sys.set_int_max_str_digits(old)


def test_the_issue_examples_are_no_answer() -> None:
    assert extract_answer("Final answer: 1" + "0" * 400 + ".5") is None
    assert extract_answer("Final answer: 1e999999", kind="number") is None
    assert extract_answer("The answer is " + "10" * 3000 + "/3", kind="number") is None
    assert extract_answer("= nan") is None


_PIECES = [
    "Final answer:",
    "The answer is",
    "Answer:",
    "####",
    "\\boxed{",
    "}",
    "\\frac{1}{",
    "**",
    "=",
    " = ",
    "equals",
    "is",
    "not",
    "A)",
    "B) ",
    "(C)",
    "option D",
    "\n",
    " ",
    ",",
    ".",
    "/",
    "-",
    "\u2212",
    "$",
    "%",
    "e",
    "E",
    "1e999999",
    "nan",
    "inf",
    "0" * 500,
    "9" * 700,
    "1,",
    "12",
    "3.5",
    "seven",
    "twenty-",
    "x",
    "3MM",
    "\ud800",
    "\x00",
    "é",
    "١٢",
    "Paris",
    "{",
    "(",
    ")",
    "*",
    "\\",
    "\t",
]


def _nasty(rng: random.Random) -> str:
    parts = rng.choices(_PIECES, k=rng.randint(0, 40))
    if rng.random() < 0.2:
        parts.append(rng.choice(_PIECES) * rng.randint(100, 3000))
    if rng.random() < 0.2:
        parts.append("".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(1, 50))))
    return "".join(parts)


def test_seeded_nasty_strings_never_raise() -> None:
    rng = random.Random(1234)
    choices = {"A": "Rome", "B": "Paris", "C": "1e999999", "D": ""}
    for _ in range(600):
        text = _nasty(rng)
        for kwargs in (
            {},
            {"kind": "number", "question": _nasty(rng)},
            {"kind": "text", "question": "capital of France?"},
            {"choices": choices},
            {"kind": "choice"},
            {"strict": True},
        ):
            found = locate_answer(text, **kwargs)
            assert found.value is None or (isinstance(found.value, str) and found.value)
            assert found.value is None or len(found.value) < 700
        assert normalize_number(text) is None or len(normalize_number(text) or "") < 700
        detect_choices(text)
        fallback_choice([text, text[::-1] or "x"])


def test_long_hostile_inputs_finish() -> None:
    # each of these would take minutes with a backtracking or quadratic pattern
    for text in [
        "1," * 50_000,
        "= " * 50_000,
        "is 5 " * 40_000,
        "**1** " * 30_000,
        "the answer is " * 20_000,
        "\\boxed{" * 30_000,
        "1e" * 50_000,
        "A) x\n" * 30_000,
    ]:
        locate_answer(text)
        locate_answer(text, kind="number", question="What is 1 + 2?")
        locate_answer(text, choices={"A": "x", "B": "y"})
