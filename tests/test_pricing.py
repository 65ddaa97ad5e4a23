"""Prices: the user's PriceTable first, then genai-prices, else unknown; never NaN."""

from __future__ import annotations

import math

import pytest

from fusionkit.errors import InvalidRequestError
from fusionkit.models.openai.pricing import (
    Price,
    Pricer,
    PriceTable,
    cost_of,
    list_price_cost,
    price_table,
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


def test_list_prices_come_from_genai_prices() -> None:
    usage = Usage(1_000_000, 1_000_000)
    direct = list_price_cost("gpt-4o-mini", usage, provider_id="openai")
    routed = list_price_cost("openai/gpt-4o-mini", usage, provider_id="openrouter")
    by_url = list_price_cost("gpt-4o-mini", usage, base_url="https://api.openai.com/v1")
    assert direct is not None and 0 < direct < 10  # a real list price, whatever it is today
    assert routed == pytest.approx(direct) and by_url == pytest.approx(direct)
    free = list_price_cost("meta-llama/llama-3.2-3b-instruct:free", usage, provider_id="openrouter")
    assert free == 0.0


def test_unknown_models_and_providers_cost_none() -> None:
    usage = Usage(10, 10)
    assert list_price_cost("no-such/model", usage, provider_id="openrouter") is None
    assert list_price_cost("gpt-4o-mini", usage, provider_id="no-such-provider") is None
    # A local server's URL matches no provider, and the provider is never guessed
    # from the model name: a self-hosted "gpt-4o-mini" is not priced as OpenAI's.
    for local in ("http://127.0.0.1:8000/v1", "http://gpu-box:8000/v1", "http://10.1.2.3/v1"):
        assert list_price_cost("gpt-4o-mini", usage, base_url=local) is None
    assert list_price_cost("gpt-4o-mini", usage) is None


def test_pricer_order_reported_then_table_then_list_price() -> None:
    table = price_table("gpt-4o-mini", (1.0, 2.0))
    pricer = Pricer("gpt-4o-mini", table, provider_id="openai", base_url=None)
    usage = Usage(1000, 1000)
    assert pricer.cost(usage, reported=0.5) == 0.5
    assert pricer.cost(usage) == pytest.approx(0.003)  # the user's price wins
    listed = Pricer("gpt-4o-mini", PriceTable(), provider_id="openai", base_url=None)
    assert listed.cost(usage) == pytest.approx(
        list_price_cost("gpt-4o-mini", usage, provider_id="openai")
    )
    assert listed.cost(None) is None  # unknown tokens: unknown cost, not zero
    local = Pricer("llama3.2", PriceTable(), provider_id=None, base_url="http://x/v1", free=True)
    assert local.cost(usage) == 0.0


@pytest.mark.parametrize("reported", [-1.0, math.nan, math.inf, "0.1", True])
def test_untrustworthy_reported_cost_is_unknown(reported: object) -> None:
    pricer = Pricer("m", PriceTable({"m": (1.0, 1.0)}), provider_id=None, base_url=None)
    assert pricer.cost(Usage(10, 10), reported=reported) is None


@pytest.mark.parametrize("bad", [(-1.0, 1.0), ("x", 1.0), (1.0,), 5, (True, 1.0), (math.nan, 1.0)])
def test_bad_prices_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="price"):
        PriceTable({"m": bad})  # type: ignore[dict-item]
