"""PriceTable, cost_of and the default price table."""

from __future__ import annotations

import pytest

from fusionkit.models.pricing import (
    DEFAULT_PRICES,
    PRICES_AS_OF,
    Price,
    PriceTable,
    cost_of,
)
from fusionkit.types import Usage


def test_cost_of_is_per_million_tokens() -> None:
    assert cost_of(Usage(1_000_000, 500_000), (0.15, 0.60)) == pytest.approx(0.45)
    assert cost_of(Usage(120, 30), Price(2.5, 10.0)) == pytest.approx((120 * 2.5 + 30 * 10) / 1e6)
    assert cost_of(Usage(0, 0), (1.0, 1.0)) == 0.0
    assert cost_of(Usage(10, 10), None) is None


def test_table_is_frozen_and_overrides_make_a_new_table() -> None:
    table = PriceTable({"a": (1.0, 2.0)}, as_of="2025-01")
    with pytest.raises(TypeError):
        table["b"] = Price(1, 1)  # type: ignore[index]
    newer = table.with_prices({"a": (3.0, 4.0), "b": Price(0.5, 0.5)})
    assert table["a"] == Price(1.0, 2.0) and "b" not in table
    assert newer["a"] == Price(3.0, 4.0) and newer.price_of("b") == Price(0.5, 0.5)
    assert newer.as_of == "2025-01" and len(newer) == 2
    assert repr(table) == "PriceTable(1 models, as_of='2025-01')"


def test_lookups() -> None:
    assert DEFAULT_PRICES.price_of("no-such/model") is None
    assert DEFAULT_PRICES.cost("no-such/model", Usage(5, 5)) is None
    assert DEFAULT_PRICES.price_of("meta-llama/llama-3.2-3b-instruct:free") == Price(0.0, 0.0)
    assert DEFAULT_PRICES.cost("openai/gpt-4o-mini", Usage(1000, 1000)) == pytest.approx(
        (1000 * 0.15 + 1000 * 0.60) / 1e6
    )


def test_defaults_are_dated_and_sane() -> None:
    assert DEFAULT_PRICES.as_of == PRICES_AS_OF
    assert len(DEFAULT_PRICES) >= 10
    for model, price in DEFAULT_PRICES.items():
        # Output tokens never cost less than input tokens for these models.
        assert 0 < price.input_per_m <= price.output_per_m < 100, model
    # The same model has the same list price directly and through OpenRouter.
    assert DEFAULT_PRICES["gpt-4o-mini"] == DEFAULT_PRICES["openai/gpt-4o-mini"]


@pytest.mark.parametrize("bad", [(-1.0, 1.0), ("x", 1.0), (1.0,), 5, (True, 1.0)])
def test_bad_prices_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="price"):
        PriceTable({"m": bad})  # type: ignore[dict-item]
