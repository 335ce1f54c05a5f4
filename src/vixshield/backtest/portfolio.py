r"""The backtest portfolio: an immutable value with pure transitions.

A :class:`Portfolio` holds the cash, the open positions at their cost basis, the realised P&L
and the ledger. Every transition (:meth:`~Portfolio.apply_fill`,
:meth:`~Portfolio.accrue_interest`, :meth:`~Portfolio.settle`) returns a new portfolio;
:meth:`~Portfolio.mark` values the open legs without changing anything.

Accounting conventions
----------------------
* **Cash** (``cash_usd``) changes only through ledger entries: premium received minus paid,
  minus fees, plus settlement cash, plus interest, minus index units bought (plus sold) at the
  index level, plus dividends. ``cash_usd == initial cash + sum of the ledger's cash_usd``
  always.
* **Cost basis** per leg is its fill price (index points per unit); adding to a leg averages the
  basis weighted by quantity. Reducing a leg realises ``(exit price - basis) * q_removed *
  multiplier`` with ``q_removed`` signed as held (a short bought back below its sale price
  realises a gain).
* **Realised P&L** is net of fees: fees are realised when paid. So a condor opened for credit
  ``C`` with fees ``f`` and expiring worthless realises ``C - f`` in total.
* **Equity** is ``cash_usd + marked value of the open legs + index_units * index level``
  (:meth:`Portfolio.equity_usd`); a short leg has negative value.
* **Index sleeve** (``index_units``): a holding of the S&P 500 itself, 1 unit = one index
  level in USD, fractional allowed (:meth:`Portfolio.trade_index`). Buying ``du`` units at
  level ``S`` pays ``du * S`` plus the fee; the units' cost basis is averaged like a leg's
  (``index_basis``), and a sale realises ``(S - basis) * units sold``. Fees are realised when
  paid.
* **Dividends** (:meth:`Portfolio.accrue_dividends`): the data holds no dividends, so the
  index is made a *total-return* holding by crediting ``units * previous close * yield *
  calendar days / 365`` in cash each session (a continuous-yield approximation of the S&P 500
  total return: the dividend is paid in cash, not reinvested in units; the runner's sleeve can
  reinvest it by buying units).
* **Names**: an ``OPEN`` of a name already held is renamed ``name #2`` (as
  :func:`vixshield.engine.apply_orders` does), so :meth:`Portfolio.book` gives the engine the
  same book it would have built.
* **Rolls** keep the rolled structure's name; unchanged legs keep their basis.

Marks
-----
Each leg is marked at its chain's mid ``(bid + ask) / 2`` (the Cboe index convention: the
average of the last bid and ask). Legs without a quote (VIX options when no VIX chain is at
hand) go to the ``pricer`` callback, for example Black-76 on the VX future of the leg's expiry;
a leg with neither is listed in :attr:`Marks.missing` and the total is ``None``: no price is
guessed.

Interest
--------
:meth:`Portfolio.accrue_interest` is **simple interest** on the signed cash balance:
``cash * rate * days / basis`` with ``basis`` 360 (ACT/360, the money-market convention of
T-bill rates; default) or 365. ``days`` are calendar days since the last accrual, so a weekend
accrues on the next session. Negative cash pays the same rate (no borrowing spread). The Cboe
strategy indices instead compound the 4-week bill's bank-discount rate,
``[1 / (1 - 28/360 * r)]^{(d_t - d_{t-1})/28} - 1``, with no interest on roll days
(``CBOE.md`` §1); the difference is second order for a backtest, and the runner owns the
choice of rate series.

Cash settlement at expiry
-------------------------
:meth:`Portfolio.settle` pays ``intrinsic * multiplier * quantity`` for every leg expiring on
the session, removes those legs and records a ledger entry per structure. The settlement value
comes from :class:`SettlementPrices`, whose proxies are:

* **SPX (AM-settled)**: the SOQ, proxied by the S&P 500 **opening print** of the expiry day.
  The SOQ is built from each component's opening trade and can differ from the open print;
  **before 2006 the recorded SPX open is mostly the previous close**, so the proxy there is
  really a prior-close proxy and misses the overnight gap (said in the note).
* **SPXW (PM-settled)**: the S&P 500 **close** of the expiry day (the official settlement).
* **VIX (AM-settled)**: the VRO, proxied by the **VIX open** of the expiry day. The VRO is a
  special opening quotation from SPX option opening prices and can differ by a point or more.

Each settled leg's note (:meth:`SettlementPrices.proxy_note`) says which proxy was used, and the
ledger entry's reason reads ``settled at SOQ proxy (open) 2019-08-16 = 2926.32``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Final, Literal, NamedTuple

import pandas as pd

from vixshield.backtest.fills import Fill, QuoteTable, quote_table
from vixshield.domain.decisions import Action
from vixshield.domain.positions import Book, Leg, OptionContract, Structure
from vixshield.errors import InvalidInputError

__all__ = [
    "INDEX_LABEL",
    "LedgerEntry",
    "LedgerLeg",
    "LegMark",
    "Marks",
    "Portfolio",
    "Position",
    "Pricer",
    "SettlementPrices",
]

Pricer = Callable[[OptionContract], float | None]
"""A model price (points per unit) for a contract, or None when it cannot price it."""

LedgerKind = Literal["open", "close", "resize", "roll", "settle", "interest", "index", "dividend"]

INDEX_LABEL: Final = "SPX index"
"""Leg label and structure name of index-sleeve trades in the ledger."""

PRIOR_CLOSE_OPEN_UNTIL: Final = date(2006, 1, 1)
"""Before this date the recorded SPX open is mostly the previous close (shared data README)."""

_KIND: Final[Mapping[Action, LedgerKind]] = {
    Action.OPEN: "open",
    Action.CLOSE: "close",
    Action.RESIZE: "resize",
    Action.ROLL: "roll",
}


@dataclass(frozen=True, slots=True)
class Position:
    """An open structure at its cost basis (leg prices are fill prices), with its history.

    Attributes
    ----------
    structure
        Legs as held, each at its average fill price.
    opened
        Session of the first fill.
    fees_usd
        Fees paid on this position so far (opening, resizing, rolling).
    """

    structure: Structure
    opened: date
    fees_usd: float = 0.0

    @property
    def name(self) -> str:
        return self.structure.name


class LedgerLeg(NamedTuple):
    """One contract (or the index) traded or settled in a ledger entry.

    The first four fields are ``(label, signed quantity, price, fees)``; ``mid`` is the quote's
    mid at the fill (NaN for a settlement), ``cash_usd`` and ``realised_pnl_usd`` this leg's
    share of the entry's (both net of this leg's fees; they sum to the entry's figures).
    """

    label: str
    quantity: float
    price: float
    fees_usd: float
    mid: float = math.nan
    cash_usd: float = math.nan
    realised_pnl_usd: float = math.nan


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One cash event: a fill, a settlement, an index trade, an interest or dividend accrual.

    ``cash_usd`` is the account's cash change (premium and settlement cash minus fees, index
    units traded, interest, dividends); ``realised_pnl_usd`` the P&L realised by it, net of
    ``fees_usd``. ``legs`` are :class:`LedgerLeg` tuples ``(label, signed quantity traded or
    settled, price, fees, mid, cash, realised)``; interest and dividends have none.
    """

    session: date
    kind: LedgerKind
    structure: str
    cash_usd: float
    fees_usd: float
    realised_pnl_usd: float
    legs: tuple[LedgerLeg, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class LegMark:
    """A leg's mark: points per unit and where it came from (``chain mid`` or ``model``)."""

    structure: str
    contract: OptionContract
    quantity: int
    price: float
    source: Literal["chain mid", "model"]

    @property
    def value_usd(self) -> float:
        return self.quantity * self.price * self.contract.multiplier


@dataclass(frozen=True, slots=True)
class Marks:
    """The open legs valued: per-leg marks, the total and what could not be priced."""

    legs: tuple[LegMark, ...]
    missing: tuple[str, ...]

    @property
    def value_usd(self) -> float | None:
        """Total value of the open legs (USD), or None when a leg has no price."""
        if self.missing:
            return None
        return sum(m.value_usd for m in self.legs)

    @property
    def modelled(self) -> bool:
        return any(m.source == "model" for m in self.legs)


@dataclass(frozen=True, slots=True)
class SettlementPrices:
    """Settlement proxies of one session (index points); None where the data lacks it.

    Attributes
    ----------
    session
        The expiry session.
    spx_open
        S&P 500 opening print: proxy for the SOQ of AM-settled SPX options.
    spx_close
        S&P 500 close: settlement of PM-settled SPXW options.
    vix_open
        VIX opening print: proxy for the VRO of VIX options.
    """

    session: date
    spx_open: float | None = None
    spx_close: float | None = None
    vix_open: float | None = None

    def __post_init__(self) -> None:
        for name in ("spx_open", "spx_close", "vix_open"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise InvalidInputError(f"{name} must be a finite number > 0 or None, got {v!r}")

    @property
    def spx_open_is_prior_close(self) -> bool:
        """True before 2006, when the recorded SPX open is mostly the previous close."""
        return self.session < PRIOR_CLOSE_OPEN_UNTIL

    def _lookup(self, contract: OptionContract) -> tuple[float | None, str]:
        day = self.session.isoformat()
        if contract.root == "SPX":
            return self.spx_open, f"settled at SOQ proxy (open) {day}"
        if contract.root == "SPXW":
            return self.spx_close, f"settled at close {day}"
        return self.vix_open, f"settled at VRO proxy (VIX open) {day}"

    def price(self, contract: OptionContract) -> float:
        """The settlement value for ``contract``; raises when the proxy is missing."""
        value, what = self._lookup(contract)
        if value is None:
            raise InvalidInputError(
                f"{contract.label()} expires {self.session}: no price to settle it "
                f"({what.removeprefix('settled at ')} missing); give it in SettlementPrices"
            )
        return value

    def proxy_note(self, contract: OptionContract) -> str:
        """``settled at SOQ proxy (open) 2019-08-16 = 2926.32``, with the pre-2006 caveat."""
        value = self.price(contract)
        _, what = self._lookup(contract)
        note = f"{what} = {value:.2f}"
        if contract.root == "SPX" and self.spx_open_is_prior_close:
            note += " (before 2006 the SPX open is mostly the previous close: prior-close proxy)"
        return note


def _intrinsic(contract: OptionContract, level: float) -> float:
    if contract.is_call:
        return max(level - contract.strike, 0.0)
    return max(contract.strike - level, 0.0)


def _unique(name: str, taken: Iterable[str]) -> str:
    names = set(taken)
    if name not in names:
        return name
    k = 2
    while f"{name} #{k}" in names:
        k += 1
    return f"{name} #{k}"


def _sorted_legs(legs: Iterable[Leg]) -> tuple[Leg, ...]:
    return tuple(
        sorted(legs, key=lambda g: (g.contract.expiry, g.contract.strike, g.contract.right.value))
    )


def _trade(
    held: Leg | None, contract: OptionContract, dq: int, price: float
) -> tuple[Leg | None, float]:
    """The leg after trading ``dq`` at ``price``, and the P&L realised (USD, before fees)."""
    m = contract.multiplier
    if held is None:
        return Leg(contract, dq, price), 0.0
    h, basis = held.quantity, held.price
    if (h > 0) == (dq > 0):  # adding: average the basis
        q = h + dq
        return Leg(contract, q, (h * basis + dq * price) / q), 0.0
    closed = -dq if abs(dq) <= abs(h) else h  # signed as held
    realised = (price - basis) * closed * m
    left = h + dq
    if left == 0:
        return None, realised
    if (left > 0) == (h > 0):
        return Leg(contract, left, basis), realised
    return Leg(contract, left, price), realised  # flipped: the remainder opens at the fill


@dataclass(frozen=True, slots=True)
class Portfolio:
    """Cash, open positions and the ledger; see the module docstring for every convention.

    Attributes
    ----------
    cash_usd
        Account cash (USD).
    positions
        Open positions, names unique.
    realised_pnl_usd
        P&L realised so far, net of fees and including interest.
    fees_usd
        Fees paid so far.
    interest_usd
        Interest accrued so far.
    ledger
        Every cash event, in order.
    index_units
        S&P 500 index units held (1 unit = one index level in USD; fractional, signed).
    index_basis
        Average cost per index unit held (index points = USD per unit); 0 when none held.
    dividends_usd
        Dividends credited on the index units so far.
    """

    cash_usd: float
    positions: tuple[Position, ...] = ()
    realised_pnl_usd: float = 0.0
    fees_usd: float = 0.0
    interest_usd: float = 0.0
    ledger: tuple[LedgerEntry, ...] = field(default=())
    index_units: float = 0.0
    index_basis: float = 0.0
    dividends_usd: float = 0.0

    def __post_init__(self) -> None:
        for name in ("cash_usd", "index_units", "index_basis"):
            v = getattr(self, name)
            if not math.isfinite(v):
                raise InvalidInputError(f"{name} must be finite, got {v!r}")
        object.__setattr__(self, "positions", tuple(self.positions))
        object.__setattr__(self, "ledger", tuple(self.ledger))
        names = [p.name for p in self.positions]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"position names must be unique, got {names}")

    # -- views -------------------------------------------------------------------------------

    def position(self, name: str) -> Position:
        for p in self.positions:
            if p.name == name:
                return p
        raise InvalidInputError(f"no open position named {name!r}")

    @property
    def structures(self) -> dict[str, Structure]:
        """Open structures by name (the ``held`` argument of :func:`fill_intent`)."""
        return {p.name: p.structure for p in self.positions}

    def book(self, base: Book | None = None) -> Book:
        """The open positions as a :class:`Book` (cost-basis prices, fees, opening dates).

        Equities and betas are taken from ``base`` when given.
        """
        return Book(
            tuple(p.structure for p in self.positions),
            () if base is None else base.equities,
            {} if base is None else base.equity_betas,
            {p.name: p.fees_usd for p in self.positions},
            {p.name: p.opened for p in self.positions},
        )

    # -- transitions -------------------------------------------------------------------------

    def apply_fill(self, fill: Fill, session: date) -> Portfolio:
        """The portfolio after ``fill`` (open, close, resize or roll) on ``session``.

        Raises
        ------
        InvalidInputError
            When a close, resize or roll names a structure that is not held, or removes more
            than is held of a leg (a close never opens the opposite position).
        """
        action = fill.intent.action
        if action not in _KIND:
            raise InvalidInputError(f"a {action.value} intent has no fill to apply")
        positions = {p.name: p for p in self.positions}
        rename: dict[str, str] = {}
        if action is Action.OPEN:
            for g in fill.legs:
                if g.structure not in rename:
                    rename[g.structure] = _unique(g.structure, [*positions, *rename.values()])
        by_name: dict[str, list[int]] = {}
        for i, g in enumerate(fill.legs):
            by_name.setdefault(rename.get(g.structure, g.structure), []).append(i)
        entries: list[LedgerEntry] = []
        realised_total = 0.0
        for name, idx in by_name.items():
            old = positions.get(name)
            if old is None and action is not Action.OPEN:
                raise InvalidInputError(f"{action.value}: structure {name!r} is not held")
            legs: dict[OptionContract, Leg] = (
                {} if old is None else {g.contract: g for g in old.structure.legs}
            )
            realised = 0.0
            leg_realised: dict[int, float] = {}
            for i in idx:
                g = fill.legs[i]
                held = legs.get(g.contract)
                if action in (Action.CLOSE, Action.RESIZE) and (
                    held is None
                    or (held.quantity > 0) == (g.quantity > 0)
                    or abs(g.quantity) > abs(held.quantity)
                ):
                    have = 0 if held is None else held.quantity
                    raise InvalidInputError(
                        f"{action.value} of {name!r}: trading {g.quantity:+d} "
                        f"{g.contract.label()} against {have:+d} held would not reduce it"
                    )
                new, r = _trade(held, g.contract, g.quantity, g.price)
                realised += r
                leg_realised[i] = r
                if new is None:
                    legs.pop(g.contract, None)
                else:
                    legs[g.contract] = new
            fees = sum(fill.legs[i].fees_usd for i in idx)
            cash = sum(fill.legs[i].cash_usd for i in idx) - fees
            realised -= fees
            realised_total += realised
            if legs:
                opened = session if old is None else old.opened
                paid = fees + (0.0 if old is None else old.fees_usd)
                positions[name] = Position(
                    Structure(name, _sorted_legs(legs.values())), opened, paid
                )
            else:
                positions.pop(name, None)
            entries.append(
                LedgerEntry(
                    session,
                    _KIND[action],
                    name,
                    cash,
                    fees,
                    realised,
                    tuple(
                        LedgerLeg(
                            fill.legs[i].contract.label(),
                            fill.legs[i].quantity,
                            fill.legs[i].price,
                            fill.legs[i].fees_usd,
                            fill.legs[i].mid,
                            fill.legs[i].cash_usd - fill.legs[i].fees_usd,
                            leg_realised[i] - fill.legs[i].fees_usd,
                        )
                        for i in idx
                    ),
                    "; ".join(
                        (
                            *fill.intent.reasons,
                            f"filled at mid +/- {fill.half_spread_fraction:g} x half-spread",
                        )
                    ),
                )
            )
        cash_change = sum(e.cash_usd for e in entries)
        return replace(
            self,
            cash_usd=self.cash_usd + cash_change,
            positions=tuple(positions.values()),
            realised_pnl_usd=self.realised_pnl_usd + realised_total,
            fees_usd=self.fees_usd + fill.fees_usd,
            ledger=(*self.ledger, *entries),
        )

    def accrue_interest(
        self,
        rate: float,
        days: int,
        session: date,
        *,
        basis: Literal[360, 365] = 360,
    ) -> Portfolio:
        """Simple interest ``cash * rate * days / basis`` credited on ``session``.

        Parameters
        ----------
        rate
            Annual rate, decimal (0.05 is 5%).
        days
            Calendar days since the last accrual (>= 0).
        session
            The session the interest is booked on.
        basis
            360 (ACT/360, default) or 365 (ACT/365).
        """
        if not math.isfinite(rate) or not -0.05 <= rate <= 0.5:
            raise InvalidInputError(f"rate must be a decimal in [-0.05, 0.5], got {rate!r}")
        if days < 0:
            raise InvalidInputError(f"days must be >= 0, got {days!r}")
        if basis not in (360, 365):
            raise InvalidInputError(f"basis must be 360 or 365, got {basis!r}")
        interest = self.cash_usd * rate * days / basis
        entry = LedgerEntry(
            session,
            "interest",
            "",
            interest,
            0.0,
            interest,
            (),
            f"interest {days} d at {rate:.4%} ACT/{basis} on {self.cash_usd:,.2f} USD",
        )
        return replace(
            self,
            cash_usd=self.cash_usd + interest,
            realised_pnl_usd=self.realised_pnl_usd + interest,
            interest_usd=self.interest_usd + interest,
            ledger=(*self.ledger, entry),
        )

    def trade_index(
        self,
        units: float,
        level: float,
        session: date,
        *,
        fee_usd: float = 0.0,
        reason: str,
    ) -> Portfolio:
        """Buy (``units > 0``) or sell index units at ``level``; see the module docstring.

        Cash changes by ``-units * level - fee_usd``; a reduction realises
        ``(level - index_basis) * units sold`` (signed as held), and the fee is realised.
        The ledger entry has kind ``"index"`` and one leg ``("SPX index", units, level, fee)``.

        Parameters
        ----------
        units
            Signed index units traded (+ buy), finite.
        level
            The index level the trade is done at (> 0), USD per unit.
        session
            The session of the trade.
        fee_usd
            Cost of the trade (>= 0), USD.
        reason
            Why (recorded in the ledger).
        """
        if not math.isfinite(units):
            raise InvalidInputError(f"index units must be finite, got {units!r}")
        if not (math.isfinite(level) and level > 0):
            raise InvalidInputError(f"index level must be a finite number > 0, got {level!r}")
        if not (math.isfinite(fee_usd) and fee_usd >= 0):
            raise InvalidInputError(f"fee_usd must be a finite number >= 0, got {fee_usd!r}")
        h, basis = self.index_units, self.index_basis
        left = h + units
        realised = 0.0
        if h == 0 or (h > 0) == (units > 0):
            new_basis = (h * basis + units * level) / left if left != 0 else 0.0
        else:
            closed = -units if abs(units) <= abs(h) else h  # signed as held
            realised = (level - basis) * closed
            if left == 0:
                new_basis = 0.0
            elif (left > 0) == (h > 0):
                new_basis = basis
            else:
                new_basis = level  # flipped: the remainder opens at the trade
        cash = -units * level - fee_usd
        entry = LedgerEntry(
            session,
            "index",
            INDEX_LABEL,
            cash,
            fee_usd,
            realised - fee_usd,
            (LedgerLeg(INDEX_LABEL, units, level, fee_usd, level, cash, realised - fee_usd),),
            reason,
        )
        return replace(
            self,
            cash_usd=self.cash_usd + cash,
            realised_pnl_usd=self.realised_pnl_usd + realised - fee_usd,
            fees_usd=self.fees_usd + fee_usd,
            index_units=left,
            index_basis=new_basis,
            ledger=(*self.ledger, entry),
        )

    def accrue_dividends(
        self, level: float, div_yield: float, days: int, session: date
    ) -> Portfolio:
        """Credit ``index_units * level * div_yield * days / 365`` in cash on ``session``.

        The total-return approximation of the module docstring: ``level`` is the previous
        session's close, ``days`` the calendar days since it. Without index units nothing is
        booked (the portfolio is returned unchanged).
        """
        if not (math.isfinite(level) and level > 0):
            raise InvalidInputError(f"index level must be a finite number > 0, got {level!r}")
        if not (math.isfinite(div_yield) and -0.05 <= div_yield <= 0.5):
            raise InvalidInputError(
                f"div_yield must be a decimal in [-0.05, 0.5], got {div_yield!r}"
            )
        if days < 0:
            raise InvalidInputError(f"days must be >= 0, got {days!r}")
        if self.index_units == 0:
            return self
        amount = self.index_units * level * div_yield * days / 365.0
        entry = LedgerEntry(
            session,
            "dividend",
            INDEX_LABEL,
            amount,
            0.0,
            amount,
            (),
            f"dividends {days} d at {div_yield:.4%} a year (ACT/365) on {self.index_units:,.6g} "
            f"index units at the previous close {level:.2f}: total-return approximation "
            "(the data holds no dividends)",
        )
        return replace(
            self,
            cash_usd=self.cash_usd + amount,
            realised_pnl_usd=self.realised_pnl_usd + amount,
            dividends_usd=self.dividends_usd + amount,
            ledger=(*self.ledger, entry),
        )

    def settle(self, prices: SettlementPrices) -> Portfolio:
        """Cash-settle every leg expiring on ``prices.session``; see the module docstring.

        Each settled leg pays ``intrinsic * multiplier * quantity`` (negative for a short in the
        money) and realises ``(intrinsic - basis) * quantity * multiplier``. No fees.

        Raises
        ------
        InvalidInputError
            When a leg expired before the session (it was never settled) or its proxy is
            missing.
        """
        day = prices.session
        positions: list[Position] = []
        entries: list[LedgerEntry] = []
        for p in self.positions:
            stale = [g.contract.label() for g in p.structure.legs if g.contract.expiry < day]
            if stale:
                raise InvalidInputError(
                    f"{p.name}: {stale} expired before {day} and were never settled; "
                    "settle every expiry session"
                )
            due = [g for g in p.structure.legs if g.contract.expiry == day]
            if not due:
                positions.append(p)
                continue
            cash = 0.0
            realised = 0.0
            notes: list[str] = []
            legs_out: list[LedgerLeg] = []
            for g in due:
                level = prices.price(g.contract)
                value = _intrinsic(g.contract, level)
                leg_cash = value * g.quantity * g.contract.multiplier
                leg_realised = (value - g.price) * g.quantity * g.contract.multiplier
                cash += leg_cash
                realised += leg_realised
                note = prices.proxy_note(g.contract)
                if note not in notes:
                    notes.append(note)
                legs_out.append(
                    LedgerLeg(g.contract.label(), g.quantity, value, 0.0, math.nan, leg_cash,
                              leg_realised)
                )  # fmt: skip
            keep = tuple(g for g in p.structure.legs if g.contract.expiry != day)
            if keep:
                positions.append(replace(p, structure=Structure(p.name, keep)))
            entries.append(
                LedgerEntry(
                    day, "settle", p.name, cash, 0.0, realised, tuple(legs_out), "; ".join(notes)
                )
            )
        return replace(
            self,
            cash_usd=self.cash_usd + sum(e.cash_usd for e in entries),
            positions=tuple(positions),
            realised_pnl_usd=self.realised_pnl_usd + sum(e.realised_pnl_usd for e in entries),
            ledger=(*self.ledger, *entries),
        )

    # -- valuation ---------------------------------------------------------------------------

    def mark(
        self,
        chains: pd.DataFrame | QuoteTable | Sequence[pd.DataFrame | QuoteTable] = (),
        *,
        pricer: Pricer | None = None,
    ) -> Marks:
        """Value every open leg at its chain mid, else at ``pricer``'s model price.

        Parameters
        ----------
        chains
            Canonical chains (or :func:`~vixshield.backtest.fills.quote_table` tables) of one
            instant each: the SPX/SPXW chain, a VIX chain.
        pricer
            Model price for legs without a quote (e.g. Black-76 on the VX curve for VIX
            options); its marks are flagged ``model``.
        """
        if isinstance(chains, pd.DataFrame | Mapping):
            chains = [chains]
        tables = [quote_table(c) if isinstance(c, pd.DataFrame) else c for c in chains]
        marks: list[LegMark] = []
        missing: list[str] = []
        for p in self.positions:
            for g in p.structure.legs:
                c = g.contract
                key = (c.root, c.expiry, float(c.strike), c.right.value)
                quote = next((t[key] for t in tables if key in t), None)
                if quote is not None:
                    marks.append(
                        LegMark(p.name, c, g.quantity, 0.5 * (quote[0] + quote[1]), "chain mid")
                    )
                    continue
                model = None if pricer is None else pricer(c)
                if model is not None and math.isfinite(model) and model >= 0:
                    marks.append(LegMark(p.name, c, g.quantity, float(model), "model"))
                else:
                    missing.append(f"{p.name}: {c.label()} has no quote and no model price")
        return Marks(tuple(marks), tuple(missing))

    def equity_usd(self, marks: Marks, *, index_level: float | None = None) -> float | None:
        """Cash plus the marked value of the open legs plus ``index_units * index_level``.

        None when a leg has no mark, or index units are held and ``index_level`` is not given
        (no price is guessed).
        """
        value = marks.value_usd
        if value is None:
            return None
        if self.index_units == 0:
            return self.cash_usd + value
        if index_level is None or not math.isfinite(index_level):
            return None
        return self.cash_usd + value + self.index_units * index_level
