"""Option contracts, legs, structures and equity holdings: immutable values that check themselves.

Conventions
-----------
* ``quantity`` is signed, in contracts: ``+2`` is long two, ``-2`` short two. Never zero.
* ``price`` is the premium per unit of underlying (index points), as quoted; a contract's cash
  value is ``price * multiplier`` (100 for SPX, SPXW and VIX options).
* A structure's ``net_premium_usd`` is the cash received to open it: positive for a credit
  (an iron condor), negative for a debit (a VIX call).
* Roots and settlement: ``SPX`` is AM-settled (SOQ, 09:30 ET), ``SPXW`` PM-settled (the close),
  ``VIX`` AM-settled (VRO). SPX-family options price on the S&P 500 forward; VIX options price
  with Black-76 on the VX future of the same expiry, never on spot VIX (METHOD §1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Literal

from vixshield import calendar
from vixshield.domain._pickle import reduce_frozen
from vixshield.errors import InvalidInputError

Settlement = Literal["AM", "PM"]

ROOT_SETTLEMENT: Final[dict[str, Settlement]] = {"SPX": "AM", "SPXW": "PM", "VIX": "AM"}
ROOT_UNDERLYING: Final[dict[str, str]] = {"SPX": "SPX", "SPXW": "SPX", "VIX": "VIX"}
ROOT_KIND: Final[dict[str, calendar.ExpiryKind]] = {
    "SPX": calendar.ExpiryKind.SPX_AM,
    "SPXW": calendar.ExpiryKind.SPXW_PM,
    "VIX": calendar.ExpiryKind.VIX_AM,
}


class Right(StrEnum):
    """Call or put, spelled as in the canonical chain format."""

    CALL = "C"
    PUT = "P"


@dataclass(frozen=True, slots=True)
class OptionContract:
    """One listed European index option."""

    root: str
    expiry: date
    strike: float
    right: Right
    multiplier: int = 100

    def __post_init__(self) -> None:
        if self.root not in ROOT_SETTLEMENT:
            raise InvalidInputError(
                f"option root {self.root!r} is not supported; use one of {sorted(ROOT_SETTLEMENT)}"
            )
        if not (math.isfinite(self.strike) and self.strike > 0):
            raise InvalidInputError(f"strike must be a finite number > 0, got {self.strike!r}")
        if self.multiplier <= 0:
            raise InvalidInputError(f"multiplier must be > 0, got {self.multiplier!r}")
        object.__setattr__(self, "right", Right(self.right))

    @property
    def settlement(self) -> Settlement:
        """``AM`` (opening quotation) or ``PM`` (the close)."""
        return ROOT_SETTLEMENT[self.root]

    @property
    def underlying(self) -> str:
        """``SPX`` for SPX and SPXW options, ``VIX`` for VIX options."""
        return ROOT_UNDERLYING[self.root]

    @property
    def is_call(self) -> bool:
        return self.right is Right.CALL

    def settlement_time(self) -> datetime:
        """The settlement instant (New York time) from the exchange calendar."""
        return calendar.settlement_datetime(self.expiry, ROOT_KIND[self.root])

    def t_years(self, now: datetime) -> float:
        """Years from ``now`` to the settlement instant (negative once settled)."""
        return calendar.t_years(now, self.expiry, ROOT_KIND[self.root])

    def label(self) -> str:
        """``SPXW 2019-07-26 2900P``."""
        return f"{self.root} {self.expiry.isoformat()} {self.strike:g}{self.right.value}"


@dataclass(frozen=True, slots=True)
class Leg:
    """A signed quantity of one contract at a per-unit price (a fill or a mark)."""

    contract: OptionContract
    quantity: int
    price: float

    def __post_init__(self) -> None:
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool):
            raise InvalidInputError(f"quantity must be a whole number, got {self.quantity!r}")
        if self.quantity == 0:
            raise InvalidInputError(f"{self.contract.label()}: quantity must not be zero")
        if not (math.isfinite(self.price) and self.price >= 0):
            raise InvalidInputError(
                f"{self.contract.label()}: price must be a finite number >= 0, got {self.price!r}"
            )

    @property
    def cash_usd(self) -> float:
        """Cash received for this leg: ``-quantity * price * multiplier``."""
        return -self.quantity * self.price * self.contract.multiplier

    def with_price(self, price: float) -> Leg:
        """The same leg marked at another price."""
        return Leg(self.contract, self.quantity, price)


@dataclass(frozen=True, slots=True)
class Structure:
    """Legs opened and managed together (an iron condor, a VIX call spread...)."""

    name: str
    legs: tuple[Leg, ...]

    def __post_init__(self) -> None:
        if not self.legs:
            raise InvalidInputError(f"structure {self.name!r} has no legs")
        object.__setattr__(self, "legs", tuple(self.legs))

    @property
    def net_premium_usd(self) -> float:
        """Cash received to open: positive for a credit, negative for a debit."""
        return sum(leg.cash_usd for leg in self.legs)

    @property
    def underlying(self) -> str:
        kinds = {leg.contract.underlying for leg in self.legs}
        if len(kinds) != 1:
            raise InvalidInputError(f"structure {self.name!r} mixes underlyings {sorted(kinds)}")
        return kinds.pop()

    @property
    def expiries(self) -> tuple[date, ...]:
        return tuple(sorted({leg.contract.expiry for leg in self.legs}))


@dataclass(frozen=True, slots=True)
class EquityHolding:
    """Shares of a stock or ETF held beside the options (beta-weighted to SPX in the book)."""

    symbol: str
    shares: float
    price: float

    def __post_init__(self) -> None:
        if not self.symbol:
            raise InvalidInputError("equity holding needs a symbol")
        if not math.isfinite(self.shares) or self.shares == 0:
            raise InvalidInputError(f"{self.symbol}: shares must be finite and non-zero")
        if not (math.isfinite(self.price) and self.price > 0):
            raise InvalidInputError(f"{self.symbol}: price must be a finite number > 0")

    @property
    def value_usd(self) -> float:
        return self.shares * self.price


@dataclass(frozen=True, slots=True)
class Book:
    """The user's open positions: option structures and an optional equity book.

    Attributes
    ----------
    structures
        Option structures; names are unique (they label the scenario table's columns).
    equities
        Equity holdings; symbols are unique.
    equity_betas
        Beta to SPX by symbol, where known (from the book file or
        :func:`vixshield.strategy.book.capm_beta`).
    fees_usd
        Fees paid to open, by structure name (USD, >= 0), where given.
    opened
        Opening date by structure name, where given.
    """

    structures: tuple[Structure, ...] = ()
    equities: tuple[EquityHolding, ...] = ()
    equity_betas: Mapping[str, float] = field(default_factory=dict)
    fees_usd: Mapping[str, float] = field(default_factory=dict)
    opened: Mapping[str, date] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return reduce_frozen(self)  # its read-only mappings do not pickle

    def __post_init__(self) -> None:
        object.__setattr__(self, "structures", tuple(self.structures))
        object.__setattr__(self, "equities", tuple(self.equities))
        names = [s.name for s in self.structures]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InvalidInputError(f"structure names must be unique in a book; repeated: {dup}")
        symbols = [e.symbol for e in self.equities]
        dup = sorted({s for s in symbols if symbols.count(s) > 1})
        if dup:
            raise InvalidInputError(f"equity symbols must be unique in a book; repeated: {dup}")
        for sym, beta in self.equity_betas.items():
            if not math.isfinite(beta):
                raise InvalidInputError(f"beta of {sym} must be finite, got {beta!r}")
        object.__setattr__(self, "equity_betas", MappingProxyType(dict(self.equity_betas)))
        object.__setattr__(self, "fees_usd", MappingProxyType(dict(self.fees_usd)))
        object.__setattr__(self, "opened", MappingProxyType(dict(self.opened)))

    def with_betas(self, betas: Mapping[str, float]) -> Book:
        """The same book with ``betas`` added to (and overriding) the known equity betas."""
        return Book(
            self.structures,
            self.equities,
            {**self.equity_betas, **betas},
            self.fees_usd,
            self.opened,
        )

    def beta(self, symbol: str) -> float:
        """The beta of ``symbol``; raises when the book does not know it."""
        try:
            return self.equity_betas[symbol]
        except KeyError:
            raise InvalidInputError(
                f"no beta for equity holding {symbol!r}: give one in the book file or add it "
                "with book.with_betas({symbol: capm_beta(stock_returns, spx_returns)})"
            ) from None
