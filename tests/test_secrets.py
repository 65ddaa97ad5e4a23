"""redact() and Secret: keys never reach text that is shown."""

from __future__ import annotations

import pickle

import pytest

from fusionkit._secrets import REDACTED, Secret, redact

KEY = "sk-or-v1-" + "9f8e7d6c5b4a3210" * 4


def test_whole_secret_is_replaced_everywhere() -> None:
    text = f"bad key {KEY}; header: Bearer {KEY}"
    assert redact(text, [KEY]) == f"bad key {REDACTED}; header: Bearer {REDACTED}"


def test_pieces_of_a_secret_are_replaced() -> None:
    echoed = f"key starts {KEY[:16]} and ends {KEY[-12:]}"
    out = redact(echoed, [KEY])
    assert KEY[:16] not in out and KEY[-12:] not in out
    assert out.startswith("key starts ") and out.count(REDACTED) == 2


def test_ordinary_text_is_left_alone() -> None:
    text = "Incorrect API key provided. See https://platform.example/docs for help."
    assert redact(text, [KEY]) == text
    # A provider's masked echo is scrubbed down to pieces too short to tell anything.
    assert redact("sk-or-v1-9f8***210", [KEY]) == f"{REDACTED}***210"


def test_empty_none_and_short_secrets() -> None:
    assert redact("", [KEY]) == ""
    assert redact("nothing here", [None, ""]) == "nothing here"
    # A 3-character "secret" would blank out ordinary words: ignored.
    assert redact("the cat sat", ["cat"]) == "the cat sat"
    assert redact("pin 4821 used", ["4821"]) == f"pin {REDACTED} used"


def test_longest_secret_first_and_secret_objects() -> None:
    short, long = "abcd1234", "abcd1234-EXTRA-5678"
    assert redact(f"x {long} y", [short, long]) == f"x {REDACTED} y"
    assert redact(f"x {KEY}", [Secret(KEY)]) == f"x {REDACTED}"


def test_secret_never_shows_its_value() -> None:
    s = Secret(KEY)
    assert s.get() == KEY
    for shown in (repr(s), str(s), f"{s}", repr([s]), repr({"k": s})):
        assert KEY not in shown and "***" in shown
    assert s == Secret(KEY) and s != Secret("other-key-value") and len({s, Secret(KEY)}) == 1
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(s)
