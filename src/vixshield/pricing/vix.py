r"""The Cboe VIX index from an SPX option chain (the "white paper" model-free variance).

The calculation follows the Cboe methodology step by step (Cboe, "Cboe Volatility Index -
Methodology" and the VIX white paper, 2014/2019 editions; summarised in
``reference/CBOE.md`` §8):

1. **Terms.** The near and next term are Friday SPX expiries (standard AM-settled, 09:30 ET, and
   SPXW PM-settled, 16:00 ET; SPXW included since 2014-10-06) with more than 23 and at most 37
   calendar days to expiry (:func:`select_terms` explains the bounds).
2. **Time.** :math:`T = (M_\text{current day} + M_\text{settlement day} + M_\text{other days})
   / 525\,600`: whole days count 1,440 minutes each, so minutes are counted on New York wall
   clocks and a daylight-saving change inside the term adds or removes nothing
   (:func:`vixshield.units.wall_clock_years_between`).
3. **Forward.** At the strike :math:`K^*` with the smallest :math:`|C - P|` (bid/ask mids),
   :math:`F = K^* + e^{RT}(C - P)`.
4. **K0.** The first listed strike at or below :math:`F`.
5. **Strip.** Puts below :math:`K_0` walking down, calls above :math:`K_0` walking up, and at
   :math:`K_0` the average of the call and put mids. Zero-bid options are left out; a wing stops
   at the first two *consecutive* zero-bid strikes (a lone zero bid is skipped).
6. **Variance per term.**

   .. math::

      \sigma^2 = \frac{2}{T} \sum_i \frac{\Delta K_i}{K_i^2} e^{RT} Q(K_i)
                 - \frac{1}{T}\left(\frac{F}{K_0} - 1\right)^2,

   with :math:`\Delta K_i = (K_{i+1} - K_{i-1})/2` over the strikes *in the strip* (so an
   excluded zero-bid strike widens its neighbours' :math:`\Delta K`), one-sided at the ends.
7. **30-day index.**

   .. math::

      \text{VIX} = 100 \sqrt{\left[T_1\sigma_1^2 \frac{N_{T_2} - N_{30}}{N_{T_2} - N_{T_1}}
                   + T_2\sigma_2^2 \frac{N_{30} - N_{T_1}}{N_{T_2} - N_{T_1}}\right]
                   \frac{N_{365}}{N_{30}}}

   with :math:`N_{30} = 43\,200` and :math:`N_{365} = 525\,600` minutes. A single term (the
   exact 30-day case of the VIX settlement value, VRO) gives :math:`100\sigma_1`.

Rates :math:`R_1, R_2` are inputs. Cboe uses US Treasury constant-maturity (CMT) yields,
cubic-spline interpolated to each expiry (2014+ editions; T-bill bond-equivalent yields before).
The rate enters only through :math:`e^{RT}`: at one month, one percentage point of rate moves the
index by about a hundredth of a vol point.

Known differences from the index as published today: the 2025-02-10 Cboe rule change that also
excludes zero-*ask* quotes is not applied (zero *bids* only, as in the 2014/2019 white paper), and
the real-time index's quote filters (wide or stale quotes) are the data layer's business.

The public API:

* :class:`OptionQuotes`, :class:`ExpiryQuotes`: one side / one expiry of a chain, validated at
  construction (crossed, negative, non-finite quotes and duplicate strikes raise
  :class:`~vixshield.errors.DataError` naming the expiry, strike and field).
* :func:`settlement_instant`: an expiry date plus ``"AM"``/``"PM"`` to its settlement instant.
* :func:`term_variance` → :class:`TermVariance`: one term, with the strike-by-strike audit table
  (:meth:`TermVariance.to_frame`), like the tables of the white paper.
* :func:`select_terms`, :func:`vix_from_terms`, :func:`vix_index` → :class:`VixResult`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from vixshield import calendar
from vixshield.errors import DataError, InvalidInputError
from vixshield.units import (
    AM_SETTLEMENT_TIME,
    MINUTES_PER_30_DAYS,
    MINUTES_PER_YEAR,
    NEW_YORK,
    PM_SETTLEMENT_TIME,
    wall_clock_years_between,
)

__all__ = [
    "MAX_DAYS_TO_EXPIRY",
    "MIN_DAYS_TO_EXPIRY_EXCLUSIVE",
    "ExpiryQuotes",
    "OptionQuotes",
    "SettlementStyle",
    "TermVariance",
    "VixResult",
    "select_terms",
    "settlement_instant",
    "term_variance",
    "vix_from_terms",
    "vix_index",
]

FloatArray = npt.NDArray[np.float64]
SettlementStyle = Literal["AM", "PM"]
RateInput = float | Callable[[float], float]

MIN_DAYS_TO_EXPIRY_EXCLUSIVE: Final = 23  # a term needs more than 23 calendar days
MAX_DAYS_TO_EXPIRY: Final = 37  # and at most 37 (see select_terms for the Wednesday roll)
_FRIDAY: Final = 4
_EXACT_30_DAYS_TOLERANCE_MINUTES: Final = 1e-6  # float noise in minutes / 525,600

PUT: Final = "put"
CALL: Final = "call"
K0_AVERAGE: Final = "put/call average"


def settlement_instant(expiry: date, style: SettlementStyle) -> datetime:
    """The settlement instant of an SPX expiry, New York time.

    Parameters
    ----------
    expiry
        The expiration (settlement) date.
    style
        ``"AM"`` for standard SPX (special opening quotation, 09:30 ET) or ``"PM"`` for SPXW
        (official close, 16:00 ET); see :mod:`vixshield.units`.

    Returns
    -------
    datetime
        Timezone-aware, in :data:`vixshield.units.NEW_YORK`.
    """
    if style == "AM":
        return datetime.combine(expiry, AM_SETTLEMENT_TIME, tzinfo=NEW_YORK)
    if style == "PM":
        return datetime.combine(expiry, PM_SETTLEMENT_TIME, tzinfo=NEW_YORK)
    raise InvalidInputError(f"settlement style must be 'AM' or 'PM'; got {style!r}")


def _readonly(values: npt.ArrayLike, name: str) -> FloatArray:
    try:
        arr = np.array(values, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric; got {values!r}") from exc
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be one-dimensional; got shape {arr.shape}")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True)
class OptionQuotes:
    """The calls or the puts of one expiry: strikes with their bid and ask.

    Arrays are copied to read-only float64. Their content is checked by the
    :class:`ExpiryQuotes` holding them, so that an error can name the expiry.

    Attributes
    ----------
    strikes, bid, ask
        Equal-length 1-D arrays, index points. Any order; :class:`ExpiryQuotes` sorts them.
    """

    strikes: FloatArray
    bid: FloatArray
    ask: FloatArray

    def __post_init__(self) -> None:
        strikes = _readonly(self.strikes, "strikes")
        bid = _readonly(self.bid, "bid")
        ask = _readonly(self.ask, "ask")
        if not (strikes.shape == bid.shape == ask.shape):
            raise InvalidInputError(
                "strikes, bid and ask must have the same length; got "
                f"{strikes.size}, {bid.size}, {ask.size}"
            )
        object.__setattr__(self, "strikes", strikes)
        object.__setattr__(self, "bid", bid)
        object.__setattr__(self, "ask", ask)

    @property
    def mid(self) -> FloatArray:
        """Bid/ask midpoints, ``(bid + ask) / 2``."""
        return 0.5 * (self.bid + self.ask)


def _check_side(expiry: date, side: str, quotes: OptionQuotes) -> OptionQuotes:
    """Sort one side by strike and refuse bad rows, naming expiry, strike and field."""
    where = f"expiry {expiry.isoformat()} {side}"
    k, bid, ask = quotes.strikes, quotes.bid, quotes.ask
    bad = np.flatnonzero(~np.isfinite(k) | (k <= 0.0))
    if bad.size:
        raise DataError(
            f"{where}: field 'strike' = {float(k[bad[0]])} at row {int(bad[0])}; strikes must be "
            "finite and positive. Fix or drop the row."
        )
    for name, arr in (("bid", bid), ("ask", ask)):
        bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0.0))
        if bad.size:
            raise DataError(
                f"{where} strike {k[bad[0]]:g}: field '{name}' = {float(arr[bad[0]])}; quotes "
                "must be finite and non-negative (a missing quote is not a price). Fix or drop "
                "the row."
            )
    bad = np.flatnonzero(bid > ask)
    if bad.size:
        i = bad[0]
        raise DataError(
            f"{where} strike {k[i]:g}: crossed quote, field 'bid' = {bid[i]:g} > field "
            f"'ask' = {ask[i]:g}. Fix or drop the row; a crossed quote has no midpoint to trust."
        )
    order = np.argsort(k, kind="stable")
    k_sorted = k[order]
    dup = np.flatnonzero(np.diff(k_sorted) == 0.0)
    if dup.size:
        raise DataError(
            f"{where}: strike {k_sorted[dup[0]]:g} appears more than once (field 'strike'); "
            "keep one quote per strike and option type."
        )
    return OptionQuotes(k_sorted, bid[order], ask[order])


@dataclass(frozen=True, slots=True)
class ExpiryQuotes:
    """All quotes of one expiry, validated at construction.

    Attributes
    ----------
    expiry
        The expiration date.
    settlement
        The settlement instant, timezone-aware (:func:`settlement_instant` builds it from the
        date and ``"AM"``/``"PM"``).
    calls, puts
        The two sides; a strike may be listed on one side only.
    root
        Free label for the audit trail, e.g. ``"SPX"`` or ``"SPXW"``.

    Raises
    ------
    DataError
        Non-finite, negative or crossed (bid > ask) quotes, non-positive or duplicate strikes;
        the message names the expiry, side, strike and field.
    InvalidInputError
        A naive settlement datetime.
    """

    expiry: date
    settlement: datetime
    calls: OptionQuotes
    puts: OptionQuotes
    root: str = ""

    def __post_init__(self) -> None:
        if self.settlement.tzinfo is None:
            raise InvalidInputError(
                f"expiry {self.expiry.isoformat()}: settlement {self.settlement!r} is naive; "
                "use vixshield.pricing.vix.settlement_instant(expiry, 'AM' | 'PM')."
            )
        object.__setattr__(self, "calls", _check_side(self.expiry, CALL, self.calls))
        object.__setattr__(self, "puts", _check_side(self.expiry, PUT, self.puts))

    @property
    def label(self) -> str:
        """``"SPXW 2019-07-26 16:00 EDT"``-style name used in messages and audit tables."""
        stamp = self.settlement.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")
        return f"{self.root} {stamp}".strip()


@dataclass(frozen=True, slots=True)
class TermVariance:
    """One term of the VIX: the strip Cboe would use and its variance, ready to audit.

    Attributes
    ----------
    expiry, settlement, root
        Which expiry this is.
    t_years
        :math:`T`, minutes from the quote instant to settlement over 525,600.
    rate
        :math:`R`, continuously compounded, as used in :math:`e^{RT}`.
    parity_strike
        :math:`K^*`, the strike with the smallest :math:`|C - P|`.
    forward
        :math:`F = K^* + e^{RT}(C - P)`.
    k0
        First listed strike at or below :math:`F`.
    strikes, option_types, mids, delta_k, contributions
        The strip, ascending: strike, ``"put"``/``"call"``/``"put/call average"``, :math:`Q(K_i)`,
        :math:`\\Delta K_i` and :math:`\\Delta K_i / K_i^2 \\, e^{RT} Q(K_i)`.
    variance
        :math:`\\sigma^2` (annualised).
    put_wing_stopped, call_wing_stopped
        True when the wing ended at two consecutive zero bids, False when it ran off the listing.
    """

    expiry: date
    settlement: datetime
    root: str
    t_years: float
    rate: float
    parity_strike: float
    forward: float
    k0: float
    strikes: FloatArray
    option_types: tuple[str, ...]
    mids: FloatArray
    delta_k: FloatArray
    contributions: FloatArray
    variance: float
    put_wing_stopped: bool
    call_wing_stopped: bool

    @property
    def minutes(self) -> float:
        """:math:`N_T`, minutes to settlement."""
        return self.t_years * MINUTES_PER_YEAR

    @property
    def n_strikes(self) -> int:
        """Number of strikes in the strip (K0 counted once)."""
        return int(self.strikes.size)

    @property
    def strip_sum(self) -> float:
        r""":math:`\sum_i \Delta K_i / K_i^2 \, e^{RT} Q(K_i)` (printed in Cboe's tables)."""
        return float(self.contributions.sum())

    @property
    def forward_adjustment(self) -> float:
        r""":math:`(1/T)(F/K_0 - 1)^2`, the term subtracted from the strip."""
        return (self.forward / self.k0 - 1.0) ** 2 / self.t_years

    def to_frame(self) -> pd.DataFrame:
        """The strike-by-strike table (strike, option type, mid, delta K, contribution)."""
        return pd.DataFrame(
            {
                "strike": self.strikes,
                "option_type": list(self.option_types),
                "mid": self.mids,
                "delta_k": self.delta_k,
                "contribution": self.contributions,
            }
        )


def _wing(bid: FloatArray) -> tuple[npt.NDArray[np.intp], bool]:
    """Indices kept from one wing, given bids in walk order (away from K0), and whether it stopped.

    A zero bid is skipped; the walk ends at the first of two consecutive zero bids.
    """
    zero = bid == 0.0
    pair = zero[:-1] & zero[1:]
    stopped = bool(pair.any())
    end = int(np.argmax(pair)) if stopped else bid.size
    return np.flatnonzero(~zero[:end]), stopped


def _rate_for(rate: RateInput, t_years: float) -> float:
    value = float(rate(t_years)) if callable(rate) else float(rate)
    if not math.isfinite(value):
        raise InvalidInputError(f"rate for T = {t_years:.7f} years is {value!r}; it must be finite")
    return value


def term_variance(quotes: ExpiryQuotes, quote_time: datetime, *, rate: float) -> TermVariance:
    r"""One term's variance :math:`\sigma^2` by the Cboe method, with its audit table.

    Parameters
    ----------
    quotes
        The expiry's calls and puts (mid = (bid + ask)/2).
    quote_time
        Timezone-aware instant of the quotes; :math:`T` runs from here to ``quotes.settlement``.
    rate
        :math:`R`, continuously compounded, for this expiry (Cboe: the CMT curve, cubic-spline
        interpolated to the expiry).

    Returns
    -------
    TermVariance

    Raises
    ------
    DataError
        No strike quoted on both sides with positive bids (no forward), no strike at or below
        :math:`F`, a missing or zero-bid call or put at :math:`K_0`, or a strip of one strike.
    InvalidInputError
        Quote time at or after settlement, a naive datetime, a non-finite rate.

    Notes
    -----
    Steps 3-6 of the module docstring. :math:`K^*` is searched over the strikes quoted on both
    sides with positive bids (a zero-bid midpoint is not a price); ties go to the lower strike.
    """
    t_years = wall_clock_years_between(quote_time, quotes.settlement)
    where = f"expiry {quotes.expiry.isoformat()}"
    if not t_years > 0.0:
        raise InvalidInputError(
            f"{where}: quote time {quote_time.isoformat()} is not before settlement "
            f"{quotes.settlement.isoformat()}; an expired term has no variance."
        )
    r = _rate_for(rate, t_years)
    growth = math.exp(r * t_years)
    calls, puts = quotes.calls, quotes.puts

    # Forward from put-call parity at the strike where call and put are closest.
    common, ic, ip = np.intersect1d(calls.strikes, puts.strikes, return_indices=True)
    usable = (calls.bid[ic] > 0.0) & (puts.bid[ip] > 0.0)
    if not usable.any():
        raise DataError(
            f"{where}: no strike has both a call and a put with a positive bid, so the forward "
            "F = K* + e^{RT}(C - P) cannot be found. Check that both sides of the chain loaded."
        )
    diff = calls.mid[ic][usable] - puts.mid[ip][usable]
    j = int(np.argmin(np.abs(diff)))
    parity_strike = float(common[usable][j])
    forward = parity_strike + growth * float(diff[j])

    # K0: first listed strike at or below F; both legs must be quoted there.
    listed = np.union1d(calls.strikes, puts.strikes)
    below = listed[listed <= forward]
    if below.size == 0:
        raise DataError(
            f"{where}: no listed strike at or below the forward F = {forward:.5f}; "
            "the chain is truncated below the money."
        )
    k0 = float(below[-1])
    ic0 = np.flatnonzero(calls.strikes == k0)
    ip0 = np.flatnonzero(puts.strikes == k0)
    for side, idx, book in ((CALL, ic0, calls), (PUT, ip0, puts)):
        if idx.size == 0:
            raise DataError(
                f"{where} strike {k0:g}: the {side} at K0 is missing (field 'option_type' = "
                f"{side}); K0 needs both a call and a put. F = {forward:.5f}."
            )
        if book.bid[idx[0]] == 0.0:
            raise DataError(
                f"{where} strike {k0:g}: the {side} at K0 has field 'bid' = 0; an at-the-money "
                f"quote without a bid is bad data. F = {forward:.5f}."
            )
    q_k0 = 0.5 * (float(calls.mid[ic0[0]]) + float(puts.mid[ip0[0]]))

    # Wings: puts below K0 walking down, calls above K0 walking up.
    put_idx = np.flatnonzero(puts.strikes < k0)[::-1]
    keep_p, put_stopped = _wing(puts.bid[put_idx])
    put_sel = put_idx[keep_p][::-1]  # back to ascending
    call_idx = np.flatnonzero(calls.strikes > k0)
    keep_c, call_stopped = _wing(calls.bid[call_idx])
    call_sel = call_idx[keep_c]

    strikes = np.concatenate([puts.strikes[put_sel], [k0], calls.strikes[call_sel]])
    mids = np.concatenate([puts.mid[put_sel], [q_k0], calls.mid[call_sel]])
    if strikes.size < 2:
        raise DataError(
            f"{where}: only K0 = {k0:g} survives the zero-bid rules; a strip of one strike has "
            "no delta K. The chain has no usable out-of-the-money quotes."
        )
    types = (PUT,) * int(put_sel.size) + (K0_AVERAGE,) + (CALL,) * int(call_sel.size)

    delta_k = np.empty_like(strikes)
    delta_k[1:-1] = 0.5 * (strikes[2:] - strikes[:-2])
    delta_k[0] = strikes[1] - strikes[0]
    delta_k[-1] = strikes[-1] - strikes[-2]

    contributions = delta_k / strikes**2 * growth * mids
    variance = (2.0 * float(contributions.sum()) - (forward / k0 - 1.0) ** 2) / t_years

    for arr in (strikes, mids, delta_k, contributions):
        arr.flags.writeable = False
    return TermVariance(
        expiry=quotes.expiry,
        settlement=quotes.settlement,
        root=quotes.root,
        t_years=t_years,
        rate=r,
        parity_strike=parity_strike,
        forward=forward,
        k0=k0,
        strikes=strikes,
        option_types=types,
        mids=mids,
        delta_k=delta_k,
        contributions=contributions,
        variance=variance,
        put_wing_stopped=put_stopped,
        call_wing_stopped=call_stopped,
    )


@dataclass(frozen=True, slots=True)
class VixResult:
    """The index value and everything needed to audit it.

    Attributes
    ----------
    value
        The VIX, in vol points (13.93 means 13.93%).
    near, next_term
        The terms used; ``next_term`` is None for a single-term (exact 30-day) calculation.
    weight_near, weight_next
        :math:`(N_{T_2} - N_{30})/(N_{T_2} - N_{T_1})` and :math:`(N_{30} - N_{T_1})/(N_{T_2} -
        N_{T_1})`; (1, 0) for a single term. They may leave [0, 1] slightly when neither term
        brackets 30 days exactly, as in Cboe's own calculation on a Wednesday roll.
    """

    value: float
    near: TermVariance
    next_term: TermVariance | None
    weight_near: float
    weight_next: float
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, object]:
        """Flat audit record: expiries, T, N, R, F, K0, strike counts, variances, weights, VIX."""
        out: dict[str, object] = {"vix": self.value}
        terms = ((1, self.near), (2, self.next_term))
        for i, term in terms:
            if term is None:
                continue
            out |= {
                f"expiry_{i}": term.expiry.isoformat(),
                f"root_{i}": term.root,
                f"t_{i}": term.t_years,
                f"minutes_{i}": term.minutes,
                f"rate_{i}": term.rate,
                f"forward_{i}": term.forward,
                f"k0_{i}": term.k0,
                f"n_strikes_{i}": term.n_strikes,
                f"variance_{i}": term.variance,
            }
        out |= {"weight_1": self.weight_near, "weight_2": self.weight_next, "notes": self.notes}
        return out


def vix_from_terms(near: TermVariance, next_term: TermVariance | None = None) -> VixResult:
    r"""Interpolate two terms to 30 days (or use one term alone) and return the VIX.

    Parameters
    ----------
    near
        The near term.
    next_term
        The next term; None for the single-term case, where :math:`\text{VIX} = 100\sigma_1`
        (exactly Cboe's formula when :math:`N_{T_1} = N_{30}`, as in the VRO settlement value).

    Returns
    -------
    VixResult

    Raises
    ------
    InvalidInputError
        The next term does not settle after the near term.
    DataError
        A negative (weighted) variance: the strips are unusable.

    Notes
    -----
    :math:`\text{VIX} = 100\sqrt{[T_1\sigma_1^2 w_1 + T_2\sigma_2^2 w_2] N_{365}/N_{30}}`,
    :math:`w_1 = (N_{T_2} - N_{30})/(N_{T_2} - N_{T_1})`, :math:`w_2 = 1 - w_1`.
    """
    if next_term is None:
        if near.variance < 0.0:
            raise DataError(
                f"expiry {near.expiry.isoformat()}: variance {near.variance:.6g} < 0; the strip "
                "is unusable (check the forward and the wings)."
            )
        return VixResult(
            value=100.0 * math.sqrt(near.variance),
            near=near,
            next_term=None,
            weight_near=1.0,
            weight_next=0.0,
            notes=("single term: VIX = 100 * sigma_1",),
        )
    n1, n2 = near.minutes, next_term.minutes
    if not n2 > n1:
        raise InvalidInputError(
            f"next term {next_term.expiry.isoformat()} ({n2:.0f} min) must settle after the near "
            f"term {near.expiry.isoformat()} ({n1:.0f} min); pass them in order."
        )
    w1 = (n2 - MINUTES_PER_30_DAYS) / (n2 - n1)
    w2 = (MINUTES_PER_30_DAYS - n1) / (n2 - n1)
    total = near.t_years * near.variance * w1 + next_term.t_years * next_term.variance * w2
    annualised = total * MINUTES_PER_YEAR / MINUTES_PER_30_DAYS
    if annualised < 0.0:
        raise DataError(
            f"30-day variance {annualised:.6g} < 0 from terms {near.expiry.isoformat()} "
            f"(sigma^2 = {near.variance:.6g}) and {next_term.expiry.isoformat()} "
            f"(sigma^2 = {next_term.variance:.6g}); the strips are unusable."
        )
    notes: tuple[str, ...] = ()
    if not n1 <= MINUTES_PER_30_DAYS <= n2:
        notes = (f"terms do not bracket 30 days (N1 = {n1:.0f}, N2 = {n2:.0f}): extrapolated",)
    return VixResult(
        value=100.0 * math.sqrt(annualised),
        near=near,
        next_term=next_term,
        weight_near=w1,
        weight_next=w2,
        notes=notes,
    )


def _is_friday_expiry(day: date) -> bool:
    """A Friday, or a Thursday standing in for a Friday that is an exchange holiday."""
    if day.weekday() == _FRIDAY:
        return True
    friday = day + timedelta(days=1)
    return friday.weekday() == _FRIDAY and not calendar.is_session(friday)


def select_terms(
    chain: Sequence[ExpiryQuotes], quote_time: datetime
) -> tuple[ExpiryQuotes, ExpiryQuotes | None]:
    """Pick the near and next term from a chain by the VIX rules.

    Parameters
    ----------
    chain
        Expiries (any roots, any order).
    quote_time
        Timezone-aware quote instant; days to expiry are calendar days from its New York date.

    Returns
    -------
    (near, next)
        ``next`` is None only when an expiry settles exactly 30 days (43,200 minutes) after the
        quote instant: that term alone is the index (the VRO case).

    Raises
    ------
    DataError
        Fewer than two Friday expiries in the window.

    Notes
    -----
    Candidates are Friday expiries with more than 23 and at most 37 calendar days to expiry. The
    white paper's roll example sets the upper bound: on a Wednesday "the SPX options that expire
    in 30 calendar days would become the near-term options and SPX options that expire in 37
    calendar days would be the next-term options", so 37 itself is allowed. The near term is the
    earliest candidate, the next term the one after it. Where two expiries share a Friday (the
    third Friday listing both the AM monthly and a PM weekly), the AM standard option is used, as
    the white paper prescribes SPX weeklys "except the 3rd Friday of each month". When the
    Friday is an exchange holiday, Cboe lists that week's expiry on the Thursday before; such a
    Thursday expiry stands in for its Friday (e.g. 2026-12-24 for Christmas 2026).
    """
    if quote_time.tzinfo is None:
        raise InvalidInputError(
            f"quote_time {quote_time!r} is naive; attach vixshield.units.NEW_YORK"
        )
    today = quote_time.astimezone(NEW_YORK).date()
    for exp in chain:
        minutes = wall_clock_years_between(quote_time, exp.settlement) * MINUTES_PER_YEAR
        if abs(minutes - MINUTES_PER_30_DAYS) < _EXACT_30_DAYS_TOLERANCE_MINUTES:
            return exp, None
    by_date: dict[date, ExpiryQuotes] = {}
    for exp in chain:
        days = (exp.expiry - today).days
        if not _is_friday_expiry(exp.expiry):
            continue
        if not MIN_DAYS_TO_EXPIRY_EXCLUSIVE < days <= MAX_DAYS_TO_EXPIRY:
            continue
        held = by_date.get(exp.expiry)
        if held is None or exp.settlement < held.settlement:
            by_date[exp.expiry] = exp
    picked = [by_date[d] for d in sorted(by_date)]
    if len(picked) < 2:
        found = ", ".join(e.label for e in picked) or "none"
        raise DataError(
            f"quote time {quote_time.isoformat()}: need two Friday expiries with "
            f"{MIN_DAYS_TO_EXPIRY_EXCLUSIVE} < days <= {MAX_DAYS_TO_EXPIRY}; found {found}. "
            "Load the SPX (AM) and SPXW (PM) series for the coming five weeks."
        )
    return picked[0], picked[1]


def vix_index(
    chain: Sequence[ExpiryQuotes],
    quote_time: datetime,
    *,
    rate: RateInput,
) -> VixResult:
    """The VIX from a whole chain: select the terms, compute each variance, interpolate.

    Parameters
    ----------
    chain
        Expiries with their settlement instants (:func:`settlement_instant`).
    quote_time
        Timezone-aware quote instant.
    rate
        A flat continuously compounded rate, or a function ``t_years -> rate`` (e.g. a cubic
        spline through CMT yields, as Cboe does) evaluated at each term's :math:`T`.

    Returns
    -------
    VixResult
        ``summary()`` gives the expiries, T1, T2, F1, F2, K0s, strike counts and variances.
    """
    near_q, next_q = select_terms(chain, quote_time)
    t1 = wall_clock_years_between(quote_time, near_q.settlement)
    near = term_variance(near_q, quote_time, rate=_rate_for(rate, t1))
    if next_q is None:
        return vix_from_terms(near)
    t2 = wall_clock_years_between(quote_time, next_q.settlement)
    nxt = term_variance(next_q, quote_time, rate=_rate_for(rate, t2))
    return vix_from_terms(near, nxt)
