"""Per-token prices, and the cost of a completion.

Prices are US dollars per million tokens, input (prompt) and output (completion)
separately, as providers list them. The cost of a call is
``prompt_tokens × input / 1e6 + completion_tokens × output / 1e6``.

Where a provider reports the cost itself (OpenRouter's ``usage.cost``) that figure wins;
this table is the fallback. The default table is small on purpose: only well-known model
ids whose list prices we are confident of, **as listed in mid-2025** (:data:`PRICES_AS_OF`).
Prices change: override them per model with
``DEFAULT_PRICES.with_prices({"openai/gpt-4o-mini": (0.15, 0.60)})`` or pass
``prices=`` to a model. A model that is not in the table has an unknown cost (None),
never a made-up one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..types import Usage

__all__ = ["DEFAULT_PRICES", "PRICES_AS_OF", "Price", "PriceLike", "PriceTable", "cost_of"]

#: When the default prices were taken from the providers' price pages.
PRICES_AS_OF = "2025-06"


@dataclass(frozen=True, slots=True)
class Price:
    """A model's list price in USD per million tokens.

    Attributes:
        input_per_m: USD per million prompt tokens.
        output_per_m: USD per million completion tokens.
    """

    input_per_m: float
    output_per_m: float

    def __post_init__(self) -> None:
        for label, v in (("input", self.input_per_m), ("output", self.output_per_m)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"{label} price must be a number >= 0 USD per million, got {v!r}.")
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
        raise ValueError(
            f"a price must be (input USD per million tokens, output USD per million), got {value!r}."
        ) from None
    return Price(inp, out)


class PriceTable(Mapping[str, Price]):
    """A frozen mapping from model id to :class:`Price`.

    Args:
        entries: Model id → :class:`Price` or ``(input, output)`` USD per million tokens.
        as_of: When these prices were read (shown in reprs; informational).

    Lookups also understand OpenRouter's ``:free`` variants (``"vendor/model:free"``
    costs 0).
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
        """The price of ``model``, or None when it is not known."""
        price = self._entries.get(model)
        if price is None and model.endswith(":free"):
            return Price(0.0, 0.0)
        return price

    def with_prices(self, overrides: Mapping[str, PriceLike]) -> PriceTable:
        """A new table with ``overrides`` replacing or adding entries."""
        merged: dict[str, PriceLike] = dict(self._entries)
        merged.update(overrides)
        return PriceTable(merged, as_of=self.as_of)

    def cost(self, model: str, usage: Usage) -> float | None:
        """Cost in USD of ``usage`` tokens on ``model``; None when its price is unknown."""
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


# USD per million tokens (input, output), from the providers' public price pages, mid-2025.
# OpenRouter passes provider list prices through, so the vendor-prefixed ids match.
_DEFAULTS: dict[str, PriceLike] = {
    # OpenAI
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "gpt-3.5-turbo": (0.50, 1.50),
    # The same models through OpenRouter
    "openai/gpt-4o": (2.50, 10.00),
    "openai/gpt-4o-mini": (0.15, 0.60),
    "openai/gpt-4.1": (2.00, 8.00),
    "openai/gpt-4.1-mini": (0.40, 1.60),
    "openai/gpt-4.1-nano": (0.10, 0.40),
    "openai/o3-mini": (1.10, 4.40),
    "openai/o4-mini": (1.10, 4.40),
    # Anthropic through OpenRouter
    "anthropic/claude-3.5-sonnet": (3.00, 15.00),
    "anthropic/claude-3.7-sonnet": (3.00, 15.00),
    "anthropic/claude-sonnet-4": (3.00, 15.00),
    "anthropic/claude-opus-4": (15.00, 75.00),
    "anthropic/claude-3.5-haiku": (0.80, 4.00),
    "anthropic/claude-3-haiku": (0.25, 1.25),
    # Google through OpenRouter
    "google/gemini-2.0-flash-001": (0.10, 0.40),
}

#: The default table; override entries with :meth:`PriceTable.with_prices`.
DEFAULT_PRICES = PriceTable(_DEFAULTS, as_of=PRICES_AS_OF)
