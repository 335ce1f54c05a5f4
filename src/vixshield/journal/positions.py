"""Fills, book rebuilding, marks and hedge activations: the journal's position logic.

Nothing here touches the database; :class:`vixshield.journal.Journal` reads and writes the rows
and calls these helpers. The rules (also in ``docs/journal.md``):

* **Applying a fill** to a book (:meth:`BookBuilder.apply_fill`): the fill's quantity is added
  to the leg of the same structure and contract, or opens it (and opens the structure, dated
  the fill's trade date, when its name is new). The leg's price is the quantity-weighted
  average opening price when the position grows, unchanged when it shrinks, and the fill's
  price when it flips sign. A leg reaching 0 is removed; a structure without legs is removed
  (with its fees and opening date: a later fill under the same name opens a new structure).
  Fees add to the structure's fees.
* **Cash** of a leg or fill: ``-quantity * price * multiplier - fees`` (USD; a credit is
  positive), the convention of :attr:`vixshield.domain.positions.Leg.cash_usd`.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from vixshield import calendar
from vixshield.domain.decisions import Action, DayDecision, Layer
from vixshield.domain.positions import (
    ROOT_KIND,
    ROOT_SETTLEMENT,
    Book,
    EquityHolding,
    Leg,
    OptionContract,
    Right,
    Structure,
)
from vixshield.errors import CalendarError, JournalError

STANDARD_MULTIPLIER: Final = 100
"""The only contract multiplier the journal stores (SPX, SPXW and VIX options)."""

MARK_KEYS: Final = (
    "structure",
    "contract",
    "root",
    "expiry",
    "strike",
    "right",
    "quantity",
    "fill_price",
    "mark",
    "vol",
    "value_usd",
)
"""The keys of each entry of ``decision.book["marks"]`` (exactly these)."""

MAX_LISTED: Final = 10
"""At most this many problems are spelled out in one error."""


@dataclass(frozen=True, slots=True)
class FillInput:
    """One executed trade to record: ``quantity`` signed (+ bought), ``price`` per unit (points).

    ``fees_usd`` is what the trade cost in commissions and fees (USD, >= 0).
    """

    trade_date: date
    structure: str
    contract: OptionContract
    quantity: int
    price: float
    fees_usd: float = 0.0
    note: str = ""


@dataclass(frozen=True, slots=True)
class FillRecord:
    """A recorded fill, as the journal holds it."""

    id: int
    recorded_at: datetime
    trade_date: date
    structure: str
    contract: OptionContract
    quantity: int
    price: float
    fees_usd: float
    note: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: the contract's label and fields, ISO dates and timestamps."""
        c = self.contract
        return {
            "id": self.id,
            "recorded_at": self.recorded_at.isoformat(),
            "trade_date": self.trade_date.isoformat(),
            "structure": self.structure,
            "contract": c.label(),
            "root": c.root,
            "expiry": c.expiry.isoformat(),
            "strike": c.strike,
            "right": c.right.value,
            "quantity": self.quantity,
            "price": self.price,
            "fees_usd": self.fees_usd,
            "note": self.note,
        }

    @property
    def cash_usd(self) -> float:
        """Cash the fill brought in: ``-quantity * price * multiplier - fees``."""
        return cash_usd(self.contract, self.quantity, self.price, self.fees_usd)


def cash_usd(contract: OptionContract, quantity: int, price: float, fees_usd: float) -> float:
    """``-quantity * price * multiplier - fees`` (USD; positive for a credit)."""
    return -quantity * price * contract.multiplier - fees_usd


def contract_of(root: str, expiry: date, strike: float, right: str) -> OptionContract:
    """The contract of a stored row (multiplier 100)."""
    return OptionContract(root, expiry, strike, Right(right))


# --------------------------------------------------------------------------------------------
# Validation


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _finite(value: object) -> float | None:
    """A finite float, or None when the value is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_day(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _raise(what: str, problems: list[str]) -> None:
    if not problems:
        return
    more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    raise JournalError(
        f"{what}: {len(problems)} bad value(s); nothing was recorded.\n  "
        + "\n  ".join(problems[:MAX_LISTED])
        + more
    )


def _contract_problems(at: str, contract: object) -> list[str]:
    if not isinstance(contract, OptionContract):
        return [f"{at}: {contract!r} is not an OptionContract"]
    if contract.multiplier != STANDARD_MULTIPLIER:
        return [
            f"{at}: {contract.label()} has multiplier {contract.multiplier}; the journal "
            f"stores standard contracts (multiplier {STANDARD_MULTIPLIER}) only"
        ]
    try:
        listed = calendar.is_expiry(contract.expiry, ROOT_KIND[contract.root])
    except CalendarError as exc:
        return [f"{at}: {contract.label()}: {exc}"]
    if not listed:
        return [
            f"{at}: {contract.label()}: {contract.expiry.isoformat()} "
            f"({contract.expiry:%A}) is not a listed {contract.root} expiry; check the date or "
            "the root"
        ]
    return []


def check_fills(fills: Sequence[object]) -> None:
    """Refuse the whole batch, naming ``fills[i].field``, when any value is bad."""
    problems: list[str] = []
    for i, f in enumerate(fills):
        at = f"fills[{i}]"
        if not isinstance(f, FillInput):
            problems.append(f"{at}: {type(f).__name__} is not a FillInput")
            continue
        if not _is_day(f.trade_date):
            problems.append(f"{at}.trade_date: {f.trade_date!r} is not a date")
        if not _is_text(f.structure) or not f.structure.strip():
            problems.append(f"{at}.structure: {f.structure!r} must be a non-empty name")
        elif len(f.structure) > 128:
            problems.append(f"{at}.structure: {f.structure[:20]!r}... is over 128 characters")
        contract_problems = _contract_problems(f"{at}.contract", f.contract)
        problems.extend(contract_problems)
        if not contract_problems and _is_day(f.trade_date) and f.trade_date > f.contract.expiry:
            problems.append(
                f"{at}.trade_date: {f.trade_date.isoformat()} is after the contract's expiry "
                f"{f.contract.expiry.isoformat()}"
            )
        if not _is_int(f.quantity) or f.quantity == 0:
            problems.append(f"{at}.quantity: {f.quantity!r} must be a whole number, not 0")
        price = _finite(f.price)
        if price is None or price < 0:
            problems.append(f"{at}.price: {f.price!r} must be a finite number >= 0")
        fees = _finite(f.fees_usd)
        if fees is None or fees < 0:
            problems.append(f"{at}.fees_usd: {f.fees_usd!r} must be a finite number >= 0")
        if not _is_text(f.note):
            problems.append(f"{at}.note: {f.note!r} must be text")
    _raise("record_fills", problems)


def check_book(book: object, as_of: object, note: object) -> None:
    """Refuse a book the journal cannot store faithfully (naming what is wrong)."""
    problems: list[str] = []
    if not isinstance(book, Book):
        raise JournalError(f"record_positions needs a Book, got {type(book).__name__}")
    if not _is_day(as_of):
        problems.append(f"as_of: {as_of!r} is not a date")
    if not _is_text(note):
        problems.append(f"note: {note!r} must be text")
    names = {s.name for s in book.structures}
    for s in book.structures:
        if not s.name.strip() or len(s.name) > 128:
            problems.append(f"structure {s.name!r}: the name must be 1 to 128 characters")
        for j, leg in enumerate(s.legs):
            c = leg.contract
            if c.multiplier != STANDARD_MULTIPLIER:
                problems.append(
                    f"structure {s.name!r} leg {j}: {c.label()} has multiplier {c.multiplier}; "
                    f"the journal stores standard contracts (multiplier {STANDARD_MULTIPLIER})"
                )
    for name, fee in book.fees_usd.items():
        value = _finite(fee)
        if value is None or value < 0:
            problems.append(f"fees_usd[{name!r}]: {fee!r} must be a finite number >= 0")
        if name not in names:
            problems.append(f"fees_usd[{name!r}]: no structure of that name in the book")
    for name, day in book.opened.items():
        if not _is_day(day):
            problems.append(f"opened[{name!r}]: {day!r} is not a date")
        if name not in names:
            problems.append(f"opened[{name!r}]: no structure of that name in the book")
    for e in book.equities:
        if len(e.symbol) > 32:
            problems.append(f"equity {e.symbol[:20]!r}...: the symbol is over 32 characters")
    _raise("record_positions", problems)


# --------------------------------------------------------------------------------------------
# Rebuilding a book


class BookBuilder:
    """A book under construction: a snapshot's legs, then fills applied in trade order."""

    def __init__(self) -> None:
        # structure -> contract -> (signed quantity, price per unit); insertion-ordered
        self._legs: dict[str, dict[OptionContract, tuple[int, float]]] = {}
        self._fees: dict[str, float] = {}
        self._opened: dict[str, date] = {}

    def add_leg(
        self,
        structure: str,
        contract: OptionContract,
        quantity: int,
        price: float,
        *,
        opened: date | None,
        fees_usd: float,
    ) -> None:
        """A leg of a snapshot (a contract repeated within a structure is merged like a fill)."""
        self._apply(structure, contract, quantity, price)
        self._fees[structure] = self._fees.get(structure, 0.0) + fees_usd
        if opened is not None:
            known = self._opened.get(structure)
            self._opened[structure] = opened if known is None else min(known, opened)

    def apply_fill(
        self,
        structure: str,
        contract: OptionContract,
        quantity: int,
        price: float,
        *,
        fees_usd: float,
        trade_date: date,
    ) -> None:
        """Apply one fill (module docstring: the rules)."""
        if structure not in self._legs:
            self._fees.pop(structure, None)
            self._opened[structure] = trade_date
        self._fees[structure] = self._fees.get(structure, 0.0) + fees_usd
        self._apply(structure, contract, quantity, price)

    def _apply(self, structure: str, contract: OptionContract, quantity: int, price: float) -> None:
        legs = self._legs.setdefault(structure, {})
        held = legs.get(contract)
        if held is None:
            legs[contract] = (quantity, price)
        else:
            q0, p0 = held
            q1 = q0 + quantity
            if q1 == 0:
                del legs[contract]
            elif q0 * quantity > 0:  # grows: the quantity-weighted average opening price
                legs[contract] = (q1, (abs(q0) * p0 + abs(quantity) * price) / abs(q1))
            elif q0 * q1 > 0:  # shrinks: the opening price stays
                legs[contract] = (q1, p0)
            else:  # flips: the remainder was opened by this fill
                legs[contract] = (q1, price)
        if not legs:
            del self._legs[structure]
            self._fees.pop(structure, None)
            self._opened.pop(structure, None)

    def build(
        self,
        as_of: date,
        equities: Sequence[EquityHolding] = (),
        betas: Mapping[str, float] | None = None,
    ) -> Book:
        """The book on ``as_of``: legs expired before it are dropped (they settled).

        Fees are given for structures with fees > 0 (as :func:`read_book` does).
        """
        structures: list[Structure] = []
        for name, legs in self._legs.items():
            alive = [Leg(c, q, p) for c, (q, p) in legs.items() if c.expiry >= as_of]
            if alive:
                structures.append(Structure(name, tuple(alive)))
        names = {s.name for s in structures}
        return Book(
            structures=tuple(structures),
            equities=tuple(equities),
            equity_betas=dict(betas or {}),
            fees_usd={n: f for n, f in self._fees.items() if n in names and f > 0},
            opened={n: d for n, d in self._opened.items() if n in names},
        )


# --------------------------------------------------------------------------------------------
# What a decision writes at finish: marks and hedge activations


def _mark_value(key: str, value: Any, at: str, problems: list[str]) -> Any:
    where = f"{at}.{key}"
    if key in {"structure", "contract"}:
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: {value!r} must be non-empty text")
        return value
    if key == "root":
        if value not in ROOT_SETTLEMENT:
            problems.append(f"{where}: {value!r} is not one of {sorted(ROOT_SETTLEMENT)}")
        return value
    if key == "expiry":
        if _is_day(value):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        problems.append(f"{where}: {value!r} is not an ISO date YYYY-MM-DD")
        return None
    if key == "right":
        if value not in {"C", "P"}:
            problems.append(f"{where}: {value!r} must be 'C' or 'P'")
        return str(value)
    if key == "quantity":
        if not _is_int(value):
            problems.append(f"{where}: {value!r} must be a whole number")
            return None
        return int(value)
    if key == "vol" and value is None:
        return None
    number = _finite(value)
    if number is None:
        problems.append(f"{where}: {value!r} must be a finite number")
    return number


def mark_rows(decision: DayDecision) -> list[dict[str, Any]]:
    """The column values of ``decision.book["marks"]`` (absent or empty: none), checked."""
    marks = decision.book.get("marks")
    if marks is None or (isinstance(marks, Sequence) and len(marks) == 0):
        return []
    if not isinstance(marks, Sequence) or isinstance(marks, str | bytes):
        raise JournalError(
            f"decision.book['marks'] must be a list of mappings, got {type(marks).__name__}"
        )
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    for i, mark in enumerate(marks):
        at = f"decision.book['marks'][{i}]"
        if not isinstance(mark, Mapping):
            problems.append(f"{at}: {type(mark).__name__} is not a mapping")
            continue
        missing = [k for k in MARK_KEYS if k not in mark]
        extra = sorted(str(k) for k in mark if k not in MARK_KEYS)
        if missing:
            problems.append(f"{at}: missing key(s) {missing}")
        if extra:
            problems.append(f"{at}: unknown key(s) {extra}; the keys are {list(MARK_KEYS)}")
        if missing or extra:
            continue
        rows.append({k: _mark_value(k, mark[k], at, problems) for k in MARK_KEYS})
    _raise("the decision's marks (decision.book['marks'])", problems)
    return rows


HEDGE_ACTIONS: Final = frozenset({Action.OPEN, Action.ROLL})
"""Hedge-layer actions journaled as hedge activations."""


def hedge_rows(decision: DayDecision) -> list[dict[str, Any]]:
    """One row of column values per hedge-layer ``open`` or ``roll`` order of the decision."""
    rows: list[dict[str, Any]] = []
    for order in decision.orders:
        if order.layer is not Layer.HEDGE or order.action not in HEDGE_ACTIONS:
            continue
        legs = () if order.structure is None else order.structure.legs
        rows.append(
            {
                "session": decision.session,
                "structure": None if order.structure is None else order.structure.name,
                "action": order.action.value,
                "limit_price": order.limit_price,
                "contracts": sum(abs(leg.quantity) for leg in legs),
                "reasons": "\n".join(order.reasons),
                "json": json.dumps(order.to_json(), allow_nan=False, default=str),
            }
        )
    return rows
