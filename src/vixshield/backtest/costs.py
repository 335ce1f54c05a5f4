"""Transaction costs and Cboe strategy-based margin.

Fees (``CBOE.md`` §13)
----------------------
Every fee is **USD per contract, per side**, charged on each fill (opening, closing, rolling,
resizing). Cash settlement at expiry is free: holding to settlement avoids closing costs.

* **Cboe exchange fee, SPX and SPXW** (customer, fee codes effective 2024-11-01): $0.36 when
  the premium is below $1.00, $0.45 otherwise. (A 2019 schedule showed $0.44.)
* **Cboe exchange fee, VIX options** (customer, simple orders), by premium: $0.10 up to $0.10,
  $0.25 from $0.11 to $0.99, $0.40 from $1.00 to $1.99, $0.45 from $2.00.
* **Broker commission**: $0.65 per contract (typical 2024-25 retail).
* **Other regulatory and clearing fees**: OCC clearing ($0.02-0.05) plus the options regulatory
  fee ($0.02-0.03): $0.05 per contract by default.

The premium that selects a band is the per-unit fill price in index points as quoted (0.85 is
$0.85 a unit, $85 a contract). All values are configurable in :class:`CostParams`, bounded,
and recorded with every run. The all-in default is $1.06-1.15 per contract per side for SPX,
inside the planning range of $1.00-1.50 in ``CBOE.md`` §13.

Margin (``CBOE.md`` §12)
------------------------
:func:`structure_margin` gives the requirement of one structure, :func:`margin_check` that of a
book against the account equity. Rules, first that applies:

1. **All legs long**: the premium paid, ``sum(q * price * multiplier)`` (long options are paid
   in full; a long VIX call is paid in full up to 9 months).
2. **All legs short** (naked short options): the Reg-T / Cboe rule for broad-based index
   options, per leg, ``|q| * multiplier * max(price + 0.15 S - OTM, price + 0.10 X)`` with
   ``S`` the index level, ``OTM`` the out-of-the-money amount and ``X = S`` for calls, ``X = K``
   for puts. It needs the index level (``underlying_levels``), else it is refused.
3. **One expiry, loss bounded** (no net short calls; puts are bounded because the index cannot
   fall below 0): the **maximum loss at expiry net of the opening premium**, the Cboe
   strategy-based rule for European cash-settled index spreads, evaluated exactly on the
   payoff's kinks ``{0, strikes}``. For a short iron condor or iron butterfly this is
   ``max(call width, put width) * multiplier * units - credit``; for a credit vertical
   ``width * multiplier * units - credit``; for a debit vertical the debit paid. A put ratio
   with extra short puts gets its full maximum loss (index at 0): conservative, not the Cboe
   uncovered rule.
4. Anything else (several expiries, extra short calls) is refused with
   :class:`~vixshield.errors.InvalidInputError`: the strategy-based rules for those are not
   modelled, and a guessed requirement would be worse than none.

``price`` is the leg's price as the structure holds it: the fill (cost basis) in a
:class:`~vixshield.backtest.portfolio.Portfolio` book. Brokers may add house requirements
(for example 102% of the spread rule); :attr:`CostParams.margin_multiplier` scales every
requirement for that.

A **margin call** is ``required > equity``: equity is cash plus the marked value of the open
options, so an iron condor opened for credit ``C`` on an account of ``E`` needs
``E >= width * 100 - C`` (the cash-account rule: the maximum loss deposited).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from vixshield.domain.positions import Book, Leg, Structure
from vixshield.errors import InvalidInputError

__all__ = [
    "CostParams",
    "MarginCheck",
    "fee_per_contract_usd",
    "fees_usd",
    "fees_usd_many",
    "margin_check",
    "structure_margin",
]

FloatArray = npt.NDArray[np.float64]
_FROZEN: Final = ConfigDict(frozen=True, extra="forbid")
_SPX_ROOTS: Final = frozenset({"SPX", "SPXW"})
_EPS: Final = 1e-9  # premium bands are quoted in cents: 0.10 + 1e-9 still is "<= $0.10"


class CostParams(BaseModel):
    """Per-contract fees (USD per contract per side) and the margin multiplier; see the module."""

    model_config = _FROZEN

    spx_fee_low_usd: float = Field(default=0.36, ge=0.0, le=5.0)
    """Cboe SPX/SPXW exchange fee when the premium is below :attr:`spx_fee_break`."""
    spx_fee_high_usd: float = Field(default=0.45, ge=0.0, le=5.0)
    """Cboe SPX/SPXW exchange fee when the premium is at least :attr:`spx_fee_break`."""
    spx_fee_break: float = Field(default=1.0, gt=0.0, le=100.0)
    """Premium (points per unit) that separates the two SPX fee bands."""
    vix_fee_upto_010_usd: float = Field(default=0.10, ge=0.0, le=5.0)
    """Cboe VIX option fee, premium <= $0.10."""
    vix_fee_below_1_usd: float = Field(default=0.25, ge=0.0, le=5.0)
    """Cboe VIX option fee, premium $0.11-0.99."""
    vix_fee_below_2_usd: float = Field(default=0.40, ge=0.0, le=5.0)
    """Cboe VIX option fee, premium $1.00-1.99."""
    vix_fee_from_2_usd: float = Field(default=0.45, ge=0.0, le=5.0)
    """Cboe VIX option fee, premium >= $2.00."""
    commission_usd: float = Field(default=0.65, ge=0.0, le=20.0)
    """Broker commission per contract."""
    regulatory_clearing_usd: float = Field(default=0.05, ge=0.0, le=5.0)
    """OCC clearing plus the options regulatory fee, per contract."""
    margin_multiplier: float = Field(default=1.0, ge=1.0, le=5.0)
    """House add-on over the exchange requirement (1.02 for a 102% spread rule)."""


def fee_per_contract_usd(root: str, price: float, params: CostParams) -> float:
    """All-in fee for one contract of ``root`` traded at ``price`` (points per unit), USD.

    Exchange fee by root and premium band, plus commission and regulatory/clearing fees.
    """
    return float(fees_usd_many([root], [price], [1], params)[0])


def fees_usd(leg: Leg, fill_price: float, params: CostParams) -> float:
    """Fees for trading ``|leg.quantity|`` contracts of ``leg.contract`` at ``fill_price``, USD."""
    return fee_per_contract_usd(leg.contract.root, fill_price, params) * abs(leg.quantity)


def fees_usd_many(
    roots: Sequence[str],
    prices: npt.ArrayLike,
    quantities: npt.ArrayLike,
    params: CostParams,
) -> FloatArray:
    """Vectorised fees: ``|quantity| * (exchange fee(root, price) + commission + reg/clearing)``.

    Parameters
    ----------
    roots
        Option root of each trade (``SPX``, ``SPXW``, ``VIX``).
    prices
        Fill price per unit (index points), finite and >= 0.
    quantities
        Contracts traded (sign ignored).
    params
        The fee schedule.

    Returns
    -------
    numpy.ndarray
        USD per trade, float64, the shape of ``prices``.
    """
    p = np.asarray(prices, dtype=np.float64)
    q = np.abs(np.asarray(quantities, dtype=np.float64))
    r = np.asarray(list(roots), dtype=object)
    if not (p.shape == q.shape == r.shape):
        raise InvalidInputError(
            f"roots, prices and quantities must have one shape, got {r.shape}, {p.shape}, {q.shape}"
        )
    if not (np.all(np.isfinite(p)) and np.all(p >= 0.0)):
        raise InvalidInputError("fill prices must be finite and >= 0")
    is_spx = np.isin(r, list(_SPX_ROOTS))
    is_vix = r == "VIX"
    unknown = ~(is_spx | is_vix)
    if unknown.any():
        raise InvalidInputError(
            f"no fee schedule for roots {sorted(set(r[unknown].tolist()))}; use SPX, SPXW or VIX"
        )
    spx = np.where(p < params.spx_fee_break - _EPS, params.spx_fee_low_usd, params.spx_fee_high_usd)
    vix = np.select(
        [p <= 0.10 + _EPS, p < 1.0 - _EPS, p < 2.0 - _EPS],
        [params.vix_fee_upto_010_usd, params.vix_fee_below_1_usd, params.vix_fee_below_2_usd],
        default=params.vix_fee_from_2_usd,
    )
    exchange = np.where(is_spx, spx, vix)
    per = exchange + params.commission_usd + params.regulatory_clearing_usd
    return np.asarray(per * q, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Margin


class MarginCheck(NamedTuple):
    """``(required_usd, call, reason)``: the book's requirement, whether it exceeds equity, why."""

    required_usd: float
    call: bool
    reason: str


def _payoff_min(legs: Sequence[Leg]) -> float:
    """Lowest value at expiry of ``legs`` (USD, before premium) over the payoff's kinks."""
    strikes = np.array(sorted({g.contract.strike for g in legs}), dtype=np.float64)
    grid = np.concatenate(([0.0], strikes))[:, np.newaxis]
    k = np.array([g.contract.strike for g in legs])
    w = np.array([1.0 if g.contract.is_call else -1.0 for g in legs])
    qm = np.array([g.quantity * g.contract.multiplier for g in legs], dtype=np.float64)
    value = (np.maximum(w * (grid - k), 0.0) * qm).sum(axis=1)
    return float(value.min())


def _naked_short(leg: Leg, level: float) -> float:
    c = leg.contract
    otm = max(c.strike - level, 0.0) if c.is_call else max(level - c.strike, 0.0)
    floor_base = level if c.is_call else c.strike
    per_unit = max(leg.price + 0.15 * level - otm, leg.price + 0.10 * floor_base)
    return abs(leg.quantity) * c.multiplier * per_unit


def structure_margin(
    structure: Structure,
    *,
    underlying_levels: Mapping[str, float] | None = None,
    params: CostParams | None = None,
) -> tuple[float, str]:
    """Margin requirement of one structure (USD, >= 0) and the rule used; see the module.

    Parameters
    ----------
    structure
        Legs at their cost-basis prices.
    underlying_levels
        Index level by underlying (``SPX``, ``VIX``), needed only for naked short options.
    params
        For :attr:`CostParams.margin_multiplier` (default 1.0).

    Raises
    ------
    InvalidInputError
        For structures whose rule is not modelled, or a naked short without the index level.
    """
    mult = (params or CostParams()).margin_multiplier
    legs = structure.legs
    premium = structure.net_premium_usd  # credit > 0
    if all(g.quantity > 0 for g in legs):
        return mult * -premium, "long options: premium paid in full"
    if all(g.quantity < 0 for g in legs):
        level = None if underlying_levels is None else underlying_levels.get(structure.underlying)
        if level is None or not (math.isfinite(level) and level > 0):
            raise InvalidInputError(
                f"{structure.name}: naked short options need the {structure.underlying} level "
                "for the Reg-T rule; pass underlying_levels={'SPX': ...}"
            )
        total = sum(_naked_short(g, level) for g in legs)
        return mult * total, "Reg-T broad-based index: premium + 15% of index - OTM, min 10%"
    single = len(structure.expiries) == 1
    net_calls = sum(g.quantity for g in legs if g.contract.is_call)
    if single and net_calls >= 0:
        loss = max(0.0, -(_payoff_min(legs) + premium))
        return mult * loss, "Cboe strategy-based (European cash-settled spread): max loss - credit"
    raise InvalidInputError(
        f"{structure.name}: margin for this structure (several expiries or partly uncovered "
        "short calls) is not modelled; split it into verticals or close the uncovered legs"
    )


def margin_check(
    book: Book | Iterable[Structure],
    equity_usd: float,
    *,
    underlying_levels: Mapping[str, float] | None = None,
    params: CostParams | None = None,
) -> MarginCheck:
    """The book's requirement against ``equity_usd``: a call when ``required > equity``.

    Returns
    -------
    MarginCheck
        ``(required_usd, call, reason)``; the reason lists each structure's requirement.
    """
    if not math.isfinite(equity_usd):
        raise InvalidInputError(f"equity must be finite, got {equity_usd!r}")
    structures = book.structures if isinstance(book, Book) else tuple(book)
    parts: list[str] = []
    required = 0.0
    for s in structures:
        usd, rule = structure_margin(s, underlying_levels=underlying_levels, params=params)
        required += usd
        parts.append(f"{s.name}: {usd:,.2f} USD ({rule})")
    call = required > equity_usd + 1e-9
    head = (
        f"margin call: requirement {required:,.2f} USD exceeds equity {equity_usd:,.2f} USD"
        if call
        else f"requirement {required:,.2f} USD within equity {equity_usd:,.2f} USD"
    )
    return MarginCheck(required, call, "; ".join([head, *parts]))
