"""What a call cost: the provider's own figure, else the user's prices, else genai-prices.

The order, first match wins:

1. ``usage.cost`` in the response, when the provider reports it (OpenRouter does).
2. The user's own :class:`PriceTable` (``prices=`` on a model): their contract prices.
3. The `genai-prices <https://pypi.org/project/genai-prices/>`_ package — a maintained
   price database (pydantic/genai-prices) that knows providers' list prices, their
   history and tiers. It is asked by provider id (``openai``, ``openrouter``, ...) or,
   for a plain base URL, by the URL (``https://api.groq.com/...`` is Groq). It is never
   asked to guess the provider from a model name alone: a local server's ``llama3``
   is not priced as some hosted ``llama3``.
4. Otherwise the cost is unknown: ``None``, never a made-up number.

Prices are US dollars per million tokens, input (prompt) and output (completion)
separately, as providers list them. Token counts or a reported cost that cannot be
trusted (negative, NaN, infinite) give an unknown cost, never NaN.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ...errors import InvalidRequestError
from ...types import Usage

__all__ = ["Price", "PriceLike", "PriceTable", "Pricer", "cost_of", "list_price_cost"]


@dataclass(frozen=True, slots=True)
class Price:
    """A model's price in USD per million tokens.

    Attributes:
        input_per_m: USD per million prompt tokens.
        output_per_m: USD per million completion tokens.
    """

    input_per_m: float
    output_per_m: float

    def __post_init__(self) -> None:
        for label, v in (("input", self.input_per_m), ("output", self.output_per_m)):
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not math.isfinite(v)
                or v < 0
            ):
                raise InvalidRequestError(
                    f"{label} price must be a finite number >= 0 USD per million tokens, got {v!r}."
                )
        # Store floats even when given ints (frozen: set through object).
        object.__setattr__(self, "input_per_m", float(self.input_per_m))
        object.__setattr__(self, "output_per_m", float(self.output_per_m))


PriceLike = Price | tuple[float, float]


def _as_price(value: PriceLike) -> Price:
    if isinstance(value, Price):
        return value
    try:
        inp, out = value
    except (TypeError, ValueError):
        raise InvalidRequestError(
            f"a price must be (input USD per million tokens, output USD per million), got {value!r}."
        ) from None
    return Price(inp, out)


class PriceTable(Mapping[str, Price]):
    """A frozen mapping from model id to :class:`Price` (the user's own prices).

    Args:
        entries: Model id → :class:`Price` or ``(input, output)`` USD per million tokens.
        as_of: When these prices were read (shown in reprs; informational).
    """

    __slots__ = ("_entries", "as_of")

    def __init__(self, entries: Mapping[str, PriceLike] | None = None, *, as_of: str | None = None):
        self._entries: Mapping[str, Price] = MappingProxyType(
            {str(k): _as_price(v) for k, v in (entries or {}).items()}
        )
        self.as_of = as_of

    def __getitem__(self, model: str) -> Price:
        return self._entries[model]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        when = f", as_of={self.as_of!r}" if self.as_of else ""
        return f"PriceTable({len(self)} models{when})"

    def price_of(self, model: str) -> Price | None:
        """The price of ``model``, or None when this table does not list it."""
        return self._entries.get(model)

    def with_prices(self, overrides: Mapping[str, PriceLike]) -> PriceTable:
        """A new table with ``overrides`` replacing or adding entries."""
        merged: dict[str, PriceLike] = dict(self._entries)
        merged.update(overrides)
        return PriceTable(merged, as_of=self.as_of)

    def cost(self, model: str, usage: Usage) -> float | None:
        """Cost in USD of ``usage`` tokens on ``model``; None when its price is not listed."""
        return cost_of(usage, self.price_of(model))


def cost_of(usage: Usage, price: PriceLike | None) -> float | None:
    """Cost in USD of a call's tokens at a price.

    Args:
        usage: Prompt and completion token counts.
        price: A :class:`Price` or ``(input, output)`` USD per million tokens; None
            when unknown.

    Returns:
        The cost in USD, or None when the price is unknown.

    Example:
        >>> cost_of(Usage(1_000_000, 500_000), (0.15, 0.60))
        0.45
    """
    if price is None:
        return None
    p = _as_price(price)
    return (usage.prompt_tokens * p.input_per_m + usage.completion_tokens * p.output_per_m) / 1e6


# genai-prices imports pydantic and loads a ~1.5 MB table: done once, on first need, and
# Pricer.warm() lets the HTTP backend do it in a worker thread instead of on the event loop.
_genai_lock = threading.Lock()
_genai: Any = None


def _genai_prices() -> Any:
    global _genai
    with _genai_lock:
        if _genai is None:
            import genai_prices

            genai_prices.calc_price  # noqa: B018 - fail here, at import, if the API moved
            _genai = genai_prices
        return _genai


def _private(url: str) -> bool:
    """True for a server on this machine or a private network: no provider's price list."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal", ".lan")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host  # a bare name ("gpu-box") is a machine on the network
    return address.is_private or address.is_loopback or address.is_link_local


def list_price_cost(
    model: str, usage: Usage, *, provider_id: str | None = None, base_url: str | None = None
) -> float | None:
    """The list-price cost of ``usage`` on ``model`` from the genai-prices database.

    Args:
        model: The model id as the provider knows it (``"gpt-4o-mini"``,
            ``"openai/gpt-4o-mini"`` on OpenRouter).
        usage: Token counts.
        provider_id: genai-prices' provider id (``"openai"``, ``"openrouter"``, ...).
        base_url: Used to find the provider when ``provider_id`` is None (a loopback,
            private or bare host name is never a priced provider: None at once).

    Returns:
        USD, or None when the provider or the model is not in the database (or neither
        ``provider_id`` nor ``base_url`` is given: the provider is never guessed).
    """
    if provider_id is None and (base_url is None or _private(base_url)):
        return None
    gp = _genai_prices()
    tokens = gp.Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens)
    try:
        if provider_id is not None:
            calc = gp.calc_price(tokens, model, provider_id=provider_id)
        else:
            calc = gp.calc_price(tokens, model, provider_api_url=base_url)
    except (LookupError, ValueError):
        return None
    value = float(calc.total_price)
    return value if math.isfinite(value) and value >= 0 else None


@dataclass(frozen=True, slots=True)
class Pricer:
    """How one model's calls are priced (see the module docstring for the order).

    Attributes:
        model: The model id.
        table: The user's prices; consulted first.
        provider_id: genai-prices' provider id, or None to look the provider up by URL.
        base_url: The API root (without credentials).
        free: A local server with no per-token price: the cost is 0.0 unless the
            table says otherwise.
    """

    model: str
    table: PriceTable
    provider_id: str | None
    base_url: str | None
    free: bool = False

    def warm(self) -> None:
        """Load the price database now (call it off the event loop) if it will be needed."""
        if self.free or self.table.price_of(self.model) is not None:
            return
        if self.provider_id is not None or (self.base_url and not _private(self.base_url)):
            _genai_prices()

    def cost(self, usage: Usage | None, reported: Any = None) -> float | None:
        """The cost of one call.

        Args:
            usage: Trusted token counts, or None when the server sent none (or sent
                counts that cannot be true).
            reported: The provider's own ``usage.cost``, if it sent one.

        Returns:
            USD, or None when unknown.
        """
        if reported is not None:
            ok = isinstance(reported, (int, float)) and not isinstance(reported, bool)
            return float(reported) if ok and math.isfinite(reported) and reported >= 0 else None
        if usage is None:
            return None  # no token counts: the cost is unknown, not zero
        listed = self.table.cost(self.model, usage)
        if listed is not None:
            return listed
        if self.free:
            return 0.0
        return list_price_cost(
            self.model, usage, provider_id=self.provider_id, base_url=self.base_url
        )


def price_table(model: str, prices: Any) -> PriceTable:
    """The user's ``prices=`` argument as a :class:`PriceTable`.

    Args:
        model: The model the prices are for when ``prices`` is one price.
        prices: None, a :class:`PriceTable`, a mapping model id → price, or one price
            (``(input, output)`` USD per million tokens, or a :class:`Price`) for ``model``.

    Raises:
        InvalidRequestError: ``prices`` is none of those.
    """
    if prices is None:
        return PriceTable()
    if isinstance(prices, PriceTable):
        return prices
    if isinstance(prices, Mapping):
        return PriceTable(prices)
    return PriceTable({model: prices})
