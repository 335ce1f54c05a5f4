r"""The fill model: each leg at the mid, moved a fraction of the half-spread against the trader.

Convention
----------
For a leg quoted ``bid``/``ask`` with ``mid = (bid + ask) / 2`` and ``half = (ask - bid) / 2``:

.. math::

    \text{buy at } mid + k \cdot half, \qquad \text{sell at } mid - k \cdot half

with ``k`` = :attr:`FillParams.half_spread_fraction` in [0, 1]: ``k = 0`` fills at the mid (the
Cboe CNDR/BFLY index convention), ``k = 1`` at the touch (the full spread paid), ``k`` of about
0.5-1 is realistic for 4-leg SPX complex orders (``CBOE.md`` §13). Every fill price lies in
``[bid, ask]``. Run the same backtest at ``k = 0`` and ``k = 1`` to show how much of the edge is
the spread.

* Quotes come from the canonical chain (:mod:`vixshield.data.chains`) for **that** contract:
  the same root, expiry, strike and right. A missing quote gives a :class:`FillRefusal` naming
  the contract, never a guessed price (SPX and SPXW are different contracts: different
  settlement). A zero bid is a real quote: a sale there fills at ``mid - k * half`` (at ``k = 1``
  the wing is abandoned for 0).
* Quantities traded per action (:class:`~vixshield.domain.decisions.Action`), signed (+ buy):

  - ``OPEN``: each leg's quantity (the structure as it will be held);
  - ``CLOSE``/``RESIZE``: minus each leg's quantity (the legs name what to remove from the held
    structure in ``closes``); a close without a structure closes every leg of each named
    structure, which needs ``held``;
  - ``ROLL``: per contract, the new structure's quantity minus the held one's (unchanged legs
    do not trade); needs ``held`` and exactly one name in ``closes``;
  - ``HOLD`` trades nothing and is refused.

* Fees per leg from :mod:`vixshield.backtest.costs`. Cash per leg is ``-q * price * multiplier``
  (received positive); the fill's ``net_cash_usd`` is premium cash minus fees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from vixshield.backtest.costs import CostParams, fees_usd_many
from vixshield.domain.decisions import Action, OrderIntent
from vixshield.domain.positions import OptionContract, Structure
from vixshield.errors import InvalidInputError

__all__ = [
    "Fill",
    "FillParams",
    "FillRefusal",
    "LegFill",
    "QuoteTable",
    "fill_intent",
    "fill_price",
    "quote_table",
]

QuoteKey = tuple[str, date, float, str]
QuoteTable = Mapping[QuoteKey, tuple[float, float]]
"""``(root, expiry, strike, right) -> (bid, ask)``."""

_FROZEN: Final = ConfigDict(frozen=True, extra="forbid")


class FillParams(BaseModel):
    """The fill model's parameters: the half-spread fraction and the fee schedule."""

    model_config = _FROZEN

    half_spread_fraction: float = Field(default=0.5, ge=0.0, le=1.0)
    """``k``: 0 fills at the mid, 1 at the touch (bid for sales, ask for purchases)."""
    costs: CostParams = Field(default_factory=CostParams)
    """Per-contract fees."""


@dataclass(frozen=True, slots=True)
class LegFill:
    """One contract traded: signed quantity (+ buy), the quote, the fill price and fees.

    ``structure`` names the held structure the trade belongs to (for an ``OPEN``, the intent's
    structure name, which the portfolio may make unique).
    """

    structure: str
    contract: OptionContract
    quantity: int
    bid: float
    ask: float
    price: float
    fees_usd: float

    @property
    def mid(self) -> float:
        return 0.5 * (self.bid + self.ask)

    @property
    def cash_usd(self) -> float:
        """Premium cash received (negative when paid): ``-q * price * multiplier``."""
        return -self.quantity * self.price * self.contract.multiplier

    @property
    def slippage_usd(self) -> float:
        """Cost against the mid: ``|q| * |price - mid| * multiplier`` (>= 0)."""
        return abs(self.quantity) * abs(self.price - self.mid) * self.contract.multiplier


@dataclass(frozen=True, slots=True)
class Fill:
    """An order intent filled: its leg fills, fees and net cash.

    Attributes
    ----------
    intent
        The order intent filled.
    legs
        One :class:`LegFill` per contract traded.
    half_spread_fraction
        The ``k`` used.
    """

    intent: OrderIntent
    legs: tuple[LegFill, ...]
    half_spread_fraction: float

    @property
    def premium_usd(self) -> float:
        """Premium cash received, before fees (negative for a debit)."""
        return sum(g.cash_usd for g in self.legs)

    @property
    def fees_usd(self) -> float:
        return sum(g.fees_usd for g in self.legs)

    @property
    def net_cash_usd(self) -> float:
        """Cash change of the account: premium received minus fees."""
        return self.premium_usd - self.fees_usd

    @property
    def slippage_usd(self) -> float:
        """What the spread cost against filling every leg at its mid."""
        return sum(g.slippage_usd for g in self.legs)


@dataclass(frozen=True, slots=True)
class FillRefusal:
    """An intent that could not be filled, and why (a value, not an exception)."""

    intent: OrderIntent
    reasons: tuple[str, ...]


def fill_price(bid: float, ask: float, quantity: int, k: float) -> float:
    """``mid + k * half`` for a purchase (``quantity > 0``), ``mid - k * half`` for a sale."""
    mid = 0.5 * (bid + ask)
    half = 0.5 * (ask - bid)
    return mid + k * half if quantity > 0 else mid - k * half


def quote_table(chain: pd.DataFrame) -> dict[QuoteKey, tuple[float, float]]:
    """``(root, expiry, strike, right) -> (bid, ask)`` from a canonical chain of one instant."""
    if chain.empty:
        return {}
    times = chain["quote_time"]
    if bool((times != times.iloc[0]).any()):
        raise InvalidInputError(
            "the chain holds several quote instants; pass the one snapshot the fills happen at"
        )
    keys = zip(
        chain["root"].astype(str).tolist(),
        chain["expiry"].tolist(),
        chain["strike"].to_numpy(dtype=np.float64).tolist(),
        chain["right"].astype(str).tolist(),
        strict=True,
    )
    quotes = zip(
        chain["bid"].to_numpy(dtype=np.float64).tolist(),
        chain["ask"].to_numpy(dtype=np.float64).tolist(),
        strict=True,
    )
    return dict(zip(keys, quotes, strict=True))


def _key(c: OptionContract) -> QuoteKey:
    return (c.root, c.expiry, float(c.strike), c.right.value)


def _trades(
    intent: OrderIntent, held: Mapping[str, Structure] | None
) -> list[tuple[str, OptionContract, int]] | str:
    """``(structure name, contract, signed quantity traded)``, or why none can be worked out."""
    act = intent.action
    s = intent.structure
    if act is Action.HOLD:
        return "a HOLD intent trades nothing"
    if act is Action.OPEN:
        assert s is not None  # checked by OrderIntent
        return [(s.name, g.contract, g.quantity) for g in s.legs]
    if not intent.closes:
        return f"a {act.value} intent must name the structure it acts on in closes"
    if act is Action.ROLL:
        if s is None:
            return "the roll has no new structure (nothing was built)"
        if len(intent.closes) != 1:
            return f"a roll must replace exactly one structure, got {list(intent.closes)}"
        name = intent.closes[0]
        if held is None or name not in held:
            return f"roll: structure {name!r} is not held"
        delta: dict[OptionContract, int] = {}
        for g in s.legs:
            delta[g.contract] = delta.get(g.contract, 0) + g.quantity
        for g in held[name].legs:
            delta[g.contract] = delta.get(g.contract, 0) - g.quantity
        return [(name, c, q) for c, q in delta.items() if q != 0]
    # CLOSE / RESIZE
    if s is not None:
        if len(intent.closes) != 1:
            return f"a {act.value} with legs must name one structure, got {list(intent.closes)}"
        return [(intent.closes[0], g.contract, -g.quantity) for g in s.legs]
    out: list[tuple[str, OptionContract, int]] = []
    for name in intent.closes:
        if held is None or name not in held:
            return f"{act.value}: structure {name!r} is not held"
        out += [(name, g.contract, -g.quantity) for g in held[name].legs]
    return out


def fill_intent(
    intent: OrderIntent,
    chain: pd.DataFrame | QuoteTable,
    params: FillParams | None = None,
    *,
    held: Mapping[str, Structure] | None = None,
) -> Fill | FillRefusal:
    """Fill ``intent`` against ``chain``'s quotes at ``mid +/- k * half-spread``; see the module.

    Parameters
    ----------
    intent
        The order intent.
    chain
        A canonical chain of one quote instant, or a prebuilt :func:`quote_table` (faster when
        filling many intents on one day).
    params
        ``k`` and the fee schedule (defaults: ``k = 0.5``, Cboe fees of ``CBOE.md`` §13).
    held
        The open structures by name (needed for rolls and whole-structure closes).

    Returns
    -------
    Fill or FillRefusal
        The fill, or a refusal naming every contract without a quote.
    """
    p = params or FillParams()
    trades = _trades(intent, held)
    if isinstance(trades, str):
        return FillRefusal(intent, (trades,))
    quotes = quote_table(chain) if isinstance(chain, pd.DataFrame) else chain
    missing = [
        f"no quote for {c.label()} in the chain: not filled (no price is guessed)"
        for _, c, _ in trades
        if _key(c) not in quotes
    ]
    if missing:
        return FillRefusal(intent, tuple(missing))
    if not trades:
        return FillRefusal(intent, ("the intent changes no leg",))
    k = p.half_spread_fraction
    bids_asks = [quotes[_key(c)] for _, c, _ in trades]
    for (b, a), (_, c, _) in zip(bids_asks, trades, strict=True):
        if not (math.isfinite(b) and math.isfinite(a) and 0.0 <= b <= a):
            return FillRefusal(intent, (f"{c.label()}: bad quote bid {b!r} ask {a!r}",))
    prices = [
        max(0.0, fill_price(b, a, q, k))
        for (b, a), (_, _, q) in zip(bids_asks, trades, strict=True)
    ]
    fees = fees_usd_many([c.root for _, c, _ in trades], prices, [q for _, _, q in trades], p.costs)
    legs = tuple(
        LegFill(name, c, q, b, a, px, float(fee))
        for (name, c, q), (b, a), px, fee in zip(trades, bids_asks, prices, fees, strict=True)
    )
    return Fill(intent, legs, k)
