r"""The Cboe strategy benchmarks PUT, BXM, CNDR, BFLY and VXTH as stages on the same engine.

Each benchmark is a :class:`~vixshield.engine.Stage` (plus, for BXM, VXTH and SPTR, an
:class:`~vixshield.backtest.runner.IndexSleeve`) run by
:func:`~vixshield.backtest.runner.run_backtest` exactly like the method itself: the same
sessions, chains, fills, settlement proxies, interest and marks. :func:`run_benchmark` runs
one; :func:`compare_with_published` compares month-end returns with the published index levels
(``../shared/data/indices/cboe_strategy_monthly_1986_2015.csv``, read by
:func:`load_published_indices`). Rules from ``CBOE.md`` sections 1-3, 5-7.

The rules as implemented
------------------------
Every SPX rule rolls on the standard monthly SPX expiry (third Friday, the preceding business
day on a holiday; :func:`is_spx_roll`): the runner settles the expiring options in the morning
at the **SOQ proxy** (the S&P 500 opening print; before 2006 the data's open is mostly the
previous close), and the stage opens the new ones that day in the **next** monthly AM-settled
SPX expiry (root ``SPX``) at the chain's mids. Options are held to expiry, never managed.

=========  ================================================================================
``CNDR``   short call / put with forward delta nearest +0.20 / -0.20, long call / put nearest
           +0.05 / -0.05; ``n = E / (100 (10 W - C))`` condors, ``W`` the wider wing, ``C``
           the credit (points): the T-bill account, premium included, is ``10 W`` per condor.
``BFLY``   short call + put at the first strike above spot, long call at the first strike
           above 105% of spot, long put at the first strike below 95%; sized like CNDR.
``PUT``    short the put at or just below spot; ``N = E / (100 (K - P))``: the T-bill account,
           premium included, equals the maximum settlement loss ``N K`` (full collateral).
``BXM``    the index (sleeve, every dollar: dividends and option cash reinvested each session)
           plus one short call per index unit at the lowest strike at or above spot:
           ``N = E / (100 (S - C))`` contracts, so that ``100 N (S - C) = E``.
``VXTH``   the index (sleeve, as BXM) plus one-month calls on VIX with Black forward delta
           nearest 0.30, bought on each VIX expiry (:func:`is_vix_roll`) in the next VIX
           expiry; the weight (:func:`vxth_weight`) from the VX future of that expiry:
           0 up to 15, 1% up to 30, 0.5% up to 50, 0 above; ``N = w E / (100 P)``.
``SPTR``   the index sleeve alone (buy-and-hold, total return by the runner's dividend
           yield): the reference that isolates the dividend approximation in BXM and VXTH.
=========  ================================================================================

``E`` is the account equity the engine gives the stage: the previous session's closing equity
(the runner's ``equity_in``), so on a roll day the size lags the morning settlement by one
session; ``S`` is the S&P 500 close.

**Deltas** are forward deltas :math:`N(d_1)` (puts :math:`N(d_1) - 1`) from Black-76 on the
chain's put-call-parity forward with each strike's implied vol solved from its mid
(:func:`vixshield.strategy.condor.price_chain`); strikes without a solved vol (no bid, deep in
the money) take the vol interpolated linearly in strike between their neighbours (flat beyond
the last). Cboe does not say which delta (``CBOE.md`` §2 rule 4); the discounted delta
:math:`e^{-rT}N(d_1)` is up to 0.7% smaller at one month (rates up to 8%) and picks the same
CNDR strike for 1,235 of the 1,248 legs of the 312 rolls 1990-2015 (the other 13 one strike
apart; measured on the model chains). An exact tie between two strikes goes to the one further
out of the money. A wing that lands on its short strike (a coarse grid) is moved one listed
strike outward (never needed on the 1990-2015 rolls).

**Whole contracts.** Quantities are rounded to the nearest whole contract, so the position is
off by at most half a contract: a relative error of at most ``0.5 / n``. Run on a large
notional (:data:`DEFAULT_EQUITY_USD`, 1e9 USD) this is negligible: over the 1990-2015 rolls
the smallest counts were 30,276 puts (PUT), 29,913 calls (BXM), 19,529 condors (CNDR), 42,134
butterflies (BFLY) and, 2007-2015, 12,129 VIX calls (VXTH), so the bound is at most 4.1e-5 of
the option position.

Fills and costs: at the mid (``half_spread_fraction`` 0) with no fees and no index trading
cost (:data:`INDEX_FILL`): the Cboe indices are computed at mids without costs.

What stands in for what
-----------------------
* **Chains.** The history holds no SPX quotes before 2019: every day's chain is the model chain
  of :mod:`vixshield.data.model_chains` (SSVI from VIX, the VIX term structure and SKEW,
  calibrated on one 2019 chain; 5-point strikes near the money). Premium levels, skew and the
  strikes listed differ from the Cboe quotes; this is the main source of differences.
* **Timing.** The chain is an end-of-day snapshot at 15:45 on the S&P 500 close: it stands in
  for the 11:00 ET mid (CNDR, BFLY) and the 11:30-12:00 VWAP (PUT, BXM), and strikes are chosen
  on the close, not on the last SPX value before 11:00.
* **Settlement.** The SOQ is proxied by the open print (the previous close before 2006), the
  VIX VRO by the previous session's VIX close (the runner's proxies).
* **Interest.** The runner credits simple ACT/360 interest on the cash at the history's rate
  (:func:`load_real_history`: the 13-week T-bill 2005-2014, the published 3-month rate GS3M of
  the previous month elsewhere), every session including roll days; Cboe compounds the 4-week
  bill (CNDR, BFLY) or 1- and 3-month bills (PUT) and accrues nothing on roll days.
* **Dividends.** The sleeve earns a constant yield (``div_yield``, default 1.5%), credited in
  cash each session and reinvested by the sleeve; the published BXM and SPTR reinvest the
  actual dividends (in the file SPTR beats SPX by 1.0 to 4.2 points a year over 1990-2015,
  2.35 on average).
* **VXTH** has no column in the published file (it starts in 2006 and is not in the file): it
  is run and described, not compared. Its VIX options come from the model VIX chain on the VX
  curve and VVIX (:func:`~vixshield.data.model_chains.model_vix_chain`): VVIX exists from
  2006-03 (usable from 2007), the VX futures 2004-2014; after 2014-08 the VX curve is the
  history's model fallback from the VIX term structure (flagged ``modelled``).

Measured comparison
-------------------
``python scripts/cboe_benchmarks.py --workers 2`` (1990-01-02..2015-12-31, VXTH from
2007-01-03; 738 s on two cores), monthly returns 1990-02..2015-12, percent but ``corr``:

=====  ======  =====  =====  =======  =======  ======  ======  =======  =======
rule   months  corr   TE/yr  ret mod  ret pub  DD mod  DD pub  vol mod  vol pub
=====  ======  =====  =====  =======  =======  ======  ======  =======  =======
PUT    311     0.963  2.67   9.56     10.05    -40.29  -32.66  9.69     9.91
BXM    311     0.978  2.20   9.12     8.73     -35.37  -35.81  10.54    10.35
CNDR   311     0.901  3.06   6.76     6.76     -17.02  -13.66  6.70     7.01
BFLY   311     0.883  5.42   6.35     6.08     -50.40  -33.75  11.42    10.86
SPTR   311     1.000  0.28   8.92     9.62     -51.60  -50.95  14.53    14.54
VXTH   107     -      -      3.54     -        -45.71  -       13.42    -
=====  ======  =====  =====  =======  =======  ======  ======  =======  =======

``docs/cboe_benchmarks.md`` has the sub-periods, the largest monthly differences and their
causes (mostly expiry mornings that gapped past the open print proxying the SOQ), and the
measured figures behind the thresholds of ``tests/real/test_cboe_real.py``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr

from vixshield import calendar
from vixshield.backtest.baselines import vxth_weight  # the CBOE.md §7 table, shared
from vixshield.backtest.costs import CostParams
from vixshield.backtest.fills import FillParams
from vixshield.backtest.portfolio import Portfolio
from vixshield.backtest.runner import BacktestResult, IndexSleeve, Progress, run_backtest
from vixshield.calendar import ExpiryKind
from vixshield.config import StrategyConfig
from vixshield.data.catalog import plan_imports
from vixshield.data.loaders import load_cboe_index
from vixshield.data.market import MarketHistory
from vixshield.data.model_chains import model_vix_chain
from vixshield.data.validation import Mode
from vixshield.domain.decisions import Action, Layer, OrderIntent, Refusal
from vixshield.domain.market import MarketSnapshot
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.engine import DayContext, NoStage, Stage, StageOutput
from vixshield.errors import DataError, InvalidInputError
from vixshield.units import NEW_YORK, years_between

__all__ = [
    "ACCOUNT_MULTIPLE",
    "BENCHMARKS",
    "DEFAULT_EQUITY_USD",
    "INDEX_FILL",
    "PUBLISHED_COLUMNS",
    "STATS_COLUMNS",
    "BenchmarkComparison",
    "ButterflyIndexStage",
    "BuyWriteStage",
    "CondorIndexStage",
    "CondorStrikes",
    "ExpiryQuotes",
    "InvestAllSleeve",
    "PutWriteStage",
    "SideQuotes",
    "TailHedgeStage",
    "benchmark_stage",
    "bfly_strikes",
    "black_forward_delta",
    "bxm_strike",
    "cndr_strikes",
    "compare_month_ends",
    "compare_with_published",
    "comparison_stats",
    "describe_table",
    "expiry_quotes",
    "is_spx_roll",
    "is_vix_roll",
    "load_published_indices",
    "load_real_history",
    "month_end_equity",
    "monthly_returns",
    "nearest_delta_strike",
    "next_spx_monthly",
    "next_vix_expiry",
    "put_strike",
    "run_benchmark",
    "vxth_weight",
    "whole_contracts",
]

FloatArray = npt.NDArray[np.float64]

BENCHMARKS: Final = ("PUT", "BXM", "CNDR", "BFLY", "VXTH", "SPTR")
"""The rules :func:`run_benchmark` knows (SPTR: the index sleeve alone)."""
PUBLISHED_COLUMNS: Final = (
    "BXM", "BXMD", "BXY", "PUT", "CLL", "BFLY", "CLLZ", "CMBO", "CNDR", "PPUT", "SPTR", "SPX",
    "VIX", "VXO", "GS3M",
)  # fmt: skip
"""Value columns of the published file, after ``Date``."""
_RATE_COLUMN: Final = "GS3M"  # percent per year; may be 0
ACCOUNT_MULTIPLE: Final = 10.0
"""CNDR/BFLY T-bill account per condor: ten times the wider wing (``CBOE.md`` §2 rule 7)."""
DEFAULT_EQUITY_USD: Final = 1e9
"""Notional of a benchmark run: whole-contract rounding is then negligible (module docstring)."""
INDEX_FILL: Final = FillParams(
    half_spread_fraction=0.0,
    costs=CostParams(
        spx_fee_low_usd=0.0,
        spx_fee_high_usd=0.0,
        vix_fee_upto_010_usd=0.0,
        vix_fee_below_1_usd=0.0,
        vix_fee_below_2_usd=0.0,
        vix_fee_from_2_usd=0.0,
        commission_usd=0.0,
        regulatory_clearing_usd=0.0,
    ),
)
"""Fills at the mid without fees: the Cboe indices' convention."""
_MULTIPLIER: Final = 100
_CNDR_SHORT: Final = 0.20
_CNDR_LONG: Final = 0.05
_BFLY_WING: Final = 0.05
_VXTH_DELTA: Final = 0.30
"""``(upper bound inclusive, weight)``; above the last bound the weight is 0 (``CBOE.md`` §7)."""
_TIE: Final = 1e-12


# --------------------------------------------------------------------------------------------
# Calendar


def is_spx_roll(session: date) -> bool:
    """Whether ``session`` is a standard monthly SPX expiry: the SPX rules' roll date."""
    return calendar.is_expiry(session, ExpiryKind.SPX_AM)


def next_spx_monthly(session: date) -> date:
    """The first standard monthly SPX expiry after ``session`` (the "one-month" series)."""
    found = calendar.spx_expiries(session + timedelta(days=1), session + timedelta(days=70))
    if not found:  # pragma: no cover - every month has one
        raise InvalidInputError(f"no monthly SPX expiry within 70 days after {session}")
    return found[0]


def is_vix_roll(session: date) -> bool:
    """Whether ``session`` is a VIX option expiry: the VXTH roll date."""
    return calendar.is_expiry(session, ExpiryKind.VIX_AM)


def next_vix_expiry(session: date) -> date:
    """The first VIX option expiry after ``session`` (VXTH's one-month series)."""
    found = calendar.vx_expiries(session + timedelta(days=1), session + timedelta(days=70))
    if not found:  # pragma: no cover - every month has one
        raise InvalidInputError(f"no VIX expiry within 70 days after {session}")
    return found[0]


# --------------------------------------------------------------------------------------------
# One expiry's quotes and the strike rules


def black_forward_delta(
    forward: float, strike: npt.ArrayLike, t_years: float, vol: npt.ArrayLike, *, call: bool
) -> FloatArray:
    r"""Black-76 forward delta: :math:`N(d_1)` for a call, :math:`N(d_1) - 1` for a put.

    :math:`d_1 = (\ln(F/K) + \sigma^2 T / 2) / (\sigma\sqrt T)`; NaN where ``vol`` is NaN.
    """
    k = np.asarray(strike, dtype=np.float64)
    v = np.asarray(vol, dtype=np.float64)
    if not (math.isfinite(forward) and forward > 0 and math.isfinite(t_years) and t_years > 0):
        raise InvalidInputError(f"forward {forward!r} and t_years {t_years!r} must be > 0")
    sd = v * math.sqrt(t_years)
    d1 = (np.log(forward / k) + 0.5 * sd * sd) / sd
    n = np.asarray(ndtr(d1), dtype=np.float64)
    return n if call else n - 1.0


def _filled_vols(strike: FloatArray, iv: FloatArray) -> FloatArray:
    """Vols with the gaps (NaN) filled linearly in strike, flat beyond the solved ends."""
    ok = np.isfinite(iv)
    if not ok.any():
        return np.full(strike.shape, np.nan)
    return np.asarray(np.interp(strike, strike[ok], iv[ok]), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SideQuotes:
    """The calls or the puts of one expiry, ascending in strike: mids and solved vols."""

    strike: FloatArray
    mid: FloatArray
    iv: FloatArray

    def __post_init__(self) -> None:
        arrays = [np.asarray(getattr(self, n), dtype=np.float64) for n in ("strike", "mid", "iv")]
        if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
            raise InvalidInputError("strike, mid and iv must be 1-d arrays of one length")
        if arrays[0].size and not bool(np.all(np.diff(arrays[0]) > 0)):
            raise InvalidInputError("strikes must be strictly increasing")
        for name, a in zip(("strike", "mid", "iv"), arrays, strict=True):
            object.__setattr__(self, name, a)

    def mid_at(self, strike: float) -> float:
        i = int(np.searchsorted(self.strike, strike))
        if i >= self.strike.size or self.strike[i] != strike:
            raise InvalidInputError(f"strike {strike:g} is not quoted")
        return float(self.mid[i])


@dataclass(frozen=True, slots=True)
class ExpiryQuotes:
    """One expiry of the day's chain: the forward, the time to settlement, calls and puts."""

    root: str
    expiry: date
    forward: float
    t_years: float
    calls: SideQuotes
    puts: SideQuotes

    def call_deltas(self) -> FloatArray:
        """Forward deltas of the calls (vols filled across strikes; module docstring)."""
        vols = _filled_vols(self.calls.strike, self.calls.iv)
        return black_forward_delta(self.forward, self.calls.strike, self.t_years, vols, call=True)

    def put_deltas(self) -> FloatArray:
        """Forward deltas of the puts, negative."""
        vols = _filled_vols(self.puts.strike, self.puts.iv)
        return black_forward_delta(self.forward, self.puts.strike, self.t_years, vols, call=False)


def _side(rows: pd.DataFrame, right: str) -> SideQuotes:
    part = rows.loc[rows["right"] == right].sort_values("strike", kind="stable")
    part = part.drop_duplicates("strike", keep="first")
    return SideQuotes(
        part["strike"].to_numpy(dtype=np.float64),
        part["mid"].to_numpy(dtype=np.float64),
        part["iv"].to_numpy(dtype=np.float64, na_value=np.nan),
    )


def expiry_quotes(priced: pd.DataFrame, expiry: date, root: str = "SPX") -> ExpiryQuotes | str:
    """The ``root`` ``expiry`` rows of a priced chain (:attr:`DayContext.priced`), or why not.

    ``priced`` needs ``root, expiry, strike, right, mid, iv, forward, t_years``.
    """
    rows = priced.loc[(priced["root"] == root) & (priced["expiry"] == expiry)]
    if rows.empty:
        return f"no {root} {expiry.isoformat()} quotes in the day's chain"
    fwd = rows["forward"].to_numpy(dtype=np.float64, na_value=np.nan)
    fwd = fwd[np.isfinite(fwd)]
    t = rows["t_years"].to_numpy(dtype=np.float64, na_value=np.nan)
    t = t[np.isfinite(t)]
    if fwd.size == 0 or t.size == 0 or float(np.median(t)) <= 0:
        return f"{root} {expiry.isoformat()}: no parity forward or time to settlement"
    return ExpiryQuotes(
        root, expiry, float(np.median(fwd)), float(np.median(t)), _side(rows, "C"), _side(rows, "P")
    )


def nearest_delta_strike(strikes: FloatArray, deltas: FloatArray, target: float) -> float:
    """The strike whose delta is nearest ``target``; an exact tie goes further out of the money
    (the smaller ``|delta|``). Raises when no delta is finite."""
    ok = np.isfinite(deltas)
    if not ok.any():
        raise InvalidInputError(f"no strike has a delta to compare with {target:+.2f}")
    gap = np.where(ok, np.abs(deltas - target), np.inf)
    best = float(gap.min())
    tied = np.flatnonzero(gap <= best + _TIE)
    pick = tied[np.argmin(np.abs(deltas[tied]))]
    return float(strikes[pick])


@dataclass(frozen=True, slots=True)
class CondorStrikes:
    """The four strikes of an iron condor or butterfly (the body repeats for a butterfly)."""

    put_long: float
    put_short: float
    call_short: float
    call_long: float

    def __post_init__(self) -> None:
        if not (self.put_long < self.put_short <= self.call_short < self.call_long):
            raise InvalidInputError(
                f"strikes must satisfy put_long < put_short <= call_short < call_long, got {self}"
            )

    @property
    def max_width(self) -> float:
        """The wider wing, points."""
        return max(self.call_long - self.call_short, self.put_short - self.put_long)


def _outward(strikes: FloatArray, short: float, wing: float, *, up: bool) -> float:
    """``wing``, or the first listed strike beyond ``short`` when the wing is not beyond it."""
    if (wing > short) if up else (wing < short):
        return wing
    beyond = strikes[strikes > short] if up else strikes[strikes < short]
    if beyond.size == 0:
        raise InvalidInputError(f"no listed strike beyond the short {short:g} for the wing")
    return float(beyond.min() if up else beyond.max())


def cndr_strikes(q: ExpiryQuotes) -> CondorStrikes:
    """CNDR: short calls/puts nearest +/-0.20 delta, long wings nearest +/-0.05 delta."""
    cd, pd_ = q.call_deltas(), q.put_deltas()
    c20 = nearest_delta_strike(q.calls.strike, cd, _CNDR_SHORT)
    c5 = nearest_delta_strike(q.calls.strike, cd, _CNDR_LONG)
    p20 = nearest_delta_strike(q.puts.strike, pd_, -_CNDR_SHORT)
    p5 = nearest_delta_strike(q.puts.strike, pd_, -_CNDR_LONG)
    return CondorStrikes(
        _outward(q.puts.strike, p20, p5, up=False),
        p20,
        c20,
        _outward(q.calls.strike, c20, c5, up=True),
    )


def bfly_strikes(call_strikes: FloatArray, put_strikes: FloatArray, spot: float) -> CondorStrikes:
    """BFLY: body at the first strike above ``spot`` quoted for both rights; call wing at the
    first call strike above 105% of spot, put wing at the first put strike below 95%."""
    calls = np.asarray(call_strikes, dtype=np.float64)
    puts = np.asarray(put_strikes, dtype=np.float64)
    both = np.intersect1d(calls, puts)
    above = both[both > spot]
    hi = calls[calls > (1.0 + _BFLY_WING) * spot]
    lo = puts[puts < (1.0 - _BFLY_WING) * spot]
    if above.size == 0 or hi.size == 0 or lo.size == 0:
        raise InvalidInputError(
            f"the chain lists no strike above {spot:.2f} for both rights, or none beyond 105% / "
            "95% of it for the wings"
        )
    body = float(above.min())
    return CondorStrikes(float(lo.max()), body, body, float(hi.min()))


def put_strike(strikes: FloatArray, spot: float) -> float:
    """PUT: the listed put strike at or just below ``spot``."""
    s = np.asarray(strikes, dtype=np.float64)
    below = s[s <= spot]
    if below.size == 0:
        raise InvalidInputError(f"no put strike at or below {spot:.2f}")
    return float(below.max())


def bxm_strike(strikes: FloatArray, spot: float) -> float:
    """BXM: the lowest listed call strike at or above ``spot``."""
    s = np.asarray(strikes, dtype=np.float64)
    above = s[s >= spot]
    if above.size == 0:
        raise InvalidInputError(f"no call strike at or above {spot:.2f}")
    return float(above.min())


# --------------------------------------------------------------------------------------------
# Sizing


def whole_contracts(exact: float) -> int:
    """``exact`` rounded to the nearest whole contract (half up): off by at most 0.5."""
    if not (math.isfinite(exact) and exact >= 0):
        raise InvalidInputError(f"a contract count must be a finite number >= 0, got {exact!r}")
    return math.floor(exact + 0.5)


def _count(exact: float, what: str) -> int | str:
    n = whole_contracts(exact)
    return n if n >= 1 else f"{what}: {exact:.3f} contracts round to none"


# --------------------------------------------------------------------------------------------
# Stages


def _leg(expiry: date, strike: float, right: Right, quantity: int, price: float) -> Leg:
    return Leg(OptionContract("SPX", expiry, strike, right), quantity, price)


def _spot(ctx: DayContext) -> float:
    return float(ctx.snapshot.spx.close)


def _holds(ctx: DayContext, prefix: str) -> str | None:
    for s in ctx.book.structures:
        if s.name.startswith(prefix):
            return s.name
    return None


def _roll_quotes(ctx: DayContext, name: str) -> tuple[date, ExpiryQuotes] | StageOutput:
    """The next monthly expiry's quotes on a roll day, or the stage's output when it must not
    (or cannot) open today."""
    if not is_spx_roll(ctx.session):
        return StageOutput()
    held = _holds(ctx, name)
    if held is not None:
        return StageOutput(
            refusals=(
                Refusal(Layer.CORE, f"{name} roll", (f"{held} is still held on its roll date",)),
            )
        )
    expiry = next_spx_monthly(ctx.session)
    q = expiry_quotes(ctx.priced, expiry, "SPX")
    if isinstance(q, str):
        return StageOutput(refusals=(Refusal(Layer.CORE, f"{name} roll", (q,)),))
    return expiry, q


def _refuse(name: str, *reasons: str) -> StageOutput:
    return StageOutput(refusals=(Refusal(Layer.CORE, f"{name} roll", reasons),))


def _condor_output(
    name: str,
    ctx: DayContext,
    expiry: date,
    q: ExpiryQuotes,
    k: CondorStrikes,
    *,
    premium_in_account: bool,
    how: str,
) -> StageOutput:
    mids = (
        q.puts.mid_at(k.put_long),
        q.puts.mid_at(k.put_short),
        q.calls.mid_at(k.call_short),
        q.calls.mid_at(k.call_long),
    )
    credit = mids[1] + mids[2] - mids[0] - mids[3]
    width = k.max_width
    account = ACCOUNT_MULTIPLE * width - (credit if premium_in_account else 0.0)
    if not account > 0:
        return _refuse(name, f"account per condor {account:.2f} points is not positive")
    exact = ctx.equity_usd / (_MULTIPLIER * account)
    n = _count(exact, name)
    if isinstance(n, str):
        return _refuse(name, n)
    legs = (
        _leg(expiry, k.put_long, Right.PUT, n, mids[0]),
        _leg(expiry, k.put_short, Right.PUT, -n, mids[1]),
        _leg(expiry, k.call_short, Right.CALL, -n, mids[2]),
        _leg(expiry, k.call_long, Right.CALL, n, mids[3]),
    )
    structure = Structure(f"{name} {expiry.isoformat()}", legs)
    reasons = (
        f"{name} roll on {ctx.session}: {how}",
        f"strikes {k.put_long:g}/{k.put_short:g}P {k.call_short:g}/{k.call_long:g}C, "
        f"credit {credit:.2f} points at mids, wider wing {width:g}",
        f"{n} condors = equity {ctx.equity_usd:,.0f} USD / (100 x {account:.2f}) "
        f"(exact {exact:.3f}); T-bill account {ACCOUNT_MULTIPLE:g} x wing"
        + (" incl. premium" if premium_in_account else " plus premium"),
    )
    report = {
        "expiry": expiry.isoformat(),
        "strikes": [k.put_long, k.put_short, k.call_short, k.call_long],
        "mids": list(mids),
        "credit_points": credit,
        "max_width_points": width,
        "contracts": n,
        "contracts_exact": exact,
    }
    order = OrderIntent(Action.OPEN, Layer.CORE, structure, credit, reasons)
    return StageOutput(orders=(order,), report=report)


@dataclass(frozen=True, slots=True)
class CondorIndexStage:
    """CNDR (module docstring): the 20/5-delta iron condor, rolled monthly, held to expiry."""

    premium_in_account: bool = True
    name: str = "CNDR"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:  # noqa: ARG002 (the Stage protocol)
        got = _roll_quotes(ctx, self.name)
        if isinstance(got, StageOutput):
            return got
        expiry, q = got
        try:
            k = cndr_strikes(q)
        except InvalidInputError as exc:
            return _refuse(self.name, str(exc))
        how = "short +/-0.20, long +/-0.05 forward delta (Black-76, mid vols, parity forward)"
        return _condor_output(
            self.name, ctx, expiry, q, k, premium_in_account=self.premium_in_account, how=how
        )


@dataclass(frozen=True, slots=True)
class ButterflyIndexStage:
    """BFLY (module docstring): the ATM iron butterfly with 5% wings, rolled monthly."""

    premium_in_account: bool = True
    name: str = "BFLY"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:  # noqa: ARG002 (the Stage protocol)
        got = _roll_quotes(ctx, self.name)
        if isinstance(got, StageOutput):
            return got
        expiry, q = got
        spot = _spot(ctx)
        try:
            k = bfly_strikes(q.calls.strike, q.puts.strike, spot)
        except InvalidInputError as exc:
            return _refuse(self.name, str(exc))
        how = f"body at the first strike above {spot:.2f}, wings beyond 105% / 95%"
        return _condor_output(
            self.name, ctx, expiry, q, k, premium_in_account=self.premium_in_account, how=how
        )


@dataclass(frozen=True, slots=True)
class PutWriteStage:
    """PUT (module docstring): the fully collateralised at-the-money put, rolled monthly.

    ``premium_in_collateral`` (default) sizes ``N = E / (100 (K - P))`` (the T-bill account
    with the premium equals ``N K``); False sizes ``N = E / (100 K)``.
    """

    premium_in_collateral: bool = True
    name: str = "PUT"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:  # noqa: ARG002 (the Stage protocol)
        got = _roll_quotes(ctx, self.name)
        if isinstance(got, StageOutput):
            return got
        expiry, q = got
        spot = _spot(ctx)
        try:
            k = put_strike(q.puts.strike, spot)
        except InvalidInputError as exc:
            return _refuse(self.name, str(exc))
        premium = q.puts.mid_at(k)
        collateral = k - premium if self.premium_in_collateral else k
        exact = ctx.equity_usd / (_MULTIPLIER * collateral)
        n = _count(exact, self.name)
        if isinstance(n, str):
            return _refuse(self.name, n)
        structure = Structure(
            f"{self.name} {expiry.isoformat()}", (_leg(expiry, k, Right.PUT, -n, premium),)
        )
        reasons = (
            f"{self.name} roll on {ctx.session}: sell the put at or below {spot:.2f}: {k:g}P "
            f"at {premium:.2f}",
            f"{n} puts = equity {ctx.equity_usd:,.0f} USD / (100 x {collateral:.2f}) "
            f"(exact {exact:.3f}): collateral = strike"
            + (" less premium" if self.premium_in_collateral else ""),
        )
        report = {"expiry": expiry.isoformat(), "strike": k, "mid": premium, "contracts": n}
        order = OrderIntent(Action.OPEN, Layer.CORE, structure, premium, reasons)
        return StageOutput(orders=(order,), report=report)


@dataclass(frozen=True, slots=True)
class BuyWriteStage:
    """BXM's call (module docstring): one short ATM call per index unit, rolled monthly.

    The index itself is held by :class:`InvestAllSleeve`.
    """

    name: str = "BXM"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:  # noqa: ARG002 (the Stage protocol)
        got = _roll_quotes(ctx, self.name)
        if isinstance(got, StageOutput):
            return got
        expiry, q = got
        spot = _spot(ctx)
        try:
            k = bxm_strike(q.calls.strike, spot)
        except InvalidInputError as exc:
            return _refuse(self.name, str(exc))
        premium = q.calls.mid_at(k)
        if not spot - premium > 0:
            return _refuse(self.name, f"call premium {premium:.2f} is not below spot {spot:.2f}")
        exact = ctx.equity_usd / (_MULTIPLIER * (spot - premium))
        n = _count(exact, self.name)
        if isinstance(n, str):
            return _refuse(self.name, n)
        structure = Structure(
            f"{self.name} {expiry.isoformat()}", (_leg(expiry, k, Right.CALL, -n, premium),)
        )
        reasons = (
            f"{self.name} roll on {ctx.session}: sell the call at or above {spot:.2f}: {k:g}C "
            f"at {premium:.2f}",
            f"{n} calls = equity {ctx.equity_usd:,.0f} USD / (100 x ({spot:.2f} - {premium:.2f})) "
            f"(exact {exact:.3f}): one call per index unit held",
        )
        report = {"expiry": expiry.isoformat(), "strike": k, "mid": premium, "contracts": n}
        order = OrderIntent(Action.OPEN, Layer.CORE, structure, premium, reasons)
        return StageOutput(orders=(order,), report=report)


def _vix_chain(ctx: DayContext) -> pd.DataFrame | str:
    """The model VIX chain the runner fills VIX legs against (same inputs), or why none."""
    snap = ctx.snapshot
    vvix = snap.index("vvix")
    futures = {
        p.expiry: p.settle
        for p in snap.vx_curve
        if p.expiry > snap.session and math.isfinite(p.settle) and p.settle > 0
    }
    if vvix is None or not (math.isfinite(vvix) and vvix > 0):
        return "no VVIX that day: no VIX option chain to buy from"
    if not futures:
        return "no VX futures that day: no VIX option chain to buy from"
    return model_vix_chain(snap.session, futures, vvix=vvix, rate=ctx.rate)


@dataclass(frozen=True, slots=True)
class TailHedgeStage:
    """VXTH's VIX calls (module docstring): 30-delta one-month calls bought on each VIX expiry
    with the weight of :func:`vxth_weight`. The index is held by :class:`InvestAllSleeve`."""

    name: str = "VXTH"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:  # noqa: ARG002 (the Stage protocol)
        if not is_vix_roll(ctx.session):
            return StageOutput()
        what = f"{self.name} roll"

        def refuse(*reasons: str) -> StageOutput:
            return StageOutput(refusals=(Refusal(Layer.HEDGE, what, reasons),))

        held = _holds(ctx, self.name)
        if held is not None:
            return refuse(f"{held} is still held on its roll date")
        expiry = next_vix_expiry(ctx.session)
        point = next((p for p in ctx.snapshot.vx_curve if p.expiry == expiry), None)
        if point is None or not math.isfinite(point.settle):
            return refuse(f"no VX future for {expiry}: no forward VIX for the weight")
        weight = vxth_weight(point.settle)
        source = "modelled" if point.modelled else "real"
        if weight == 0.0:
            return StageOutput(
                notes=(
                    f"{self.name}: forward VIX {point.settle:.2f} ({source} VX {expiry}) is "
                    "outside 15-50: no VIX calls this month",
                ),
                report={"expiry": expiry.isoformat(), "forward_vix": point.settle, "weight": 0.0},
            )
        chain = _vix_chain(ctx)
        if isinstance(chain, str):
            return refuse(chain)
        rows = chain.loc[(chain["expiry"] == expiry) & (chain["right"] == "C")]
        if rows.empty:
            return refuse(f"the model VIX chain lists no {expiry} calls")
        quote_time = pd.Timestamp(rows["quote_time"].iloc[0]).to_pydatetime()
        t = years_between(
            quote_time.astimezone(NEW_YORK),
            calendar.settlement_datetime(expiry, ExpiryKind.VIX_AM),
        )
        strikes = rows["strike"].to_numpy(dtype=np.float64)
        bid = rows["bid"].to_numpy(dtype=np.float64)
        ask = rows["ask"].to_numpy(dtype=np.float64)
        deltas = black_forward_delta(
            point.settle, strikes, t, rows["iv"].to_numpy(dtype=np.float64), call=True
        )
        k = nearest_delta_strike(strikes, deltas, _VXTH_DELTA)
        i = int(np.flatnonzero(strikes == k)[0])
        mid = 0.5 * (float(bid[i]) + float(ask[i]))
        if not mid > 0:
            return refuse(f"VIX {expiry} {k:g}C has no price")
        exact = weight * ctx.equity_usd / (_MULTIPLIER * mid)
        n = _count(exact, self.name)
        if isinstance(n, str):
            return refuse(n)
        structure = Structure(
            f"{self.name} {expiry.isoformat()}",
            (Leg(OptionContract("VIX", expiry, k, Right.CALL), n, mid),),
        )
        reasons = (
            f"{self.name} roll on {ctx.session}: forward VIX {point.settle:.2f} ({source} VX "
            f"{expiry}) -> weight {weight:.1%}",
            f"buy {n} VIX {expiry} {k:g}C (forward delta {deltas[i]:.3f}, nearest 0.30) at "
            f"{mid:.2f} = {weight:.1%} x equity {ctx.equity_usd:,.0f} USD / (100 x {mid:.2f})",
        )
        report = {
            "expiry": expiry.isoformat(),
            "forward_vix": point.settle,
            "weight": weight,
            "strike": k,
            "mid": mid,
            "contracts": n,
        }
        order = OrderIntent(Action.OPEN, Layer.HEDGE, structure, -mid, reasons)
        return StageOutput(orders=(order,), report=report)


@dataclass(frozen=True, slots=True)
class InvestAllSleeve:
    """The index sleeve of BXM, VXTH and SPTR: every dollar of cash in S&P 500 units.

    Each session the target is ``units_held + cash / close``, so option premium, settlement
    cash, interest and the runner's dividends are reinvested in the index at the close (cash
    stays at zero after the trade). ``rebalance`` False buys once (the first session) and then
    keeps the units: dividends then stay in cash.
    """

    rebalance: bool = True

    def target_units(
        self,
        session: date,  # noqa: ARG002 (the IndexSleeve protocol)
        snapshot: MarketSnapshot,
        equity_usd: float,  # noqa: ARG002 (the IndexSleeve protocol)
        units_held: float,
        portfolio: Portfolio,
    ) -> float | None:
        if not self.rebalance and units_held != 0:
            return None
        return units_held + portfolio.cash_usd / snapshot.spx.close


def benchmark_stage(name: str, *, premium_in_account: bool = True) -> Stage:
    """The stage of benchmark ``name`` (one of :data:`BENCHMARKS`)."""
    stages: dict[str, Callable[[], Stage]] = {
        "CNDR": lambda: CondorIndexStage(premium_in_account=premium_in_account),
        "BFLY": lambda: ButterflyIndexStage(premium_in_account=premium_in_account),
        "PUT": lambda: PutWriteStage(premium_in_collateral=premium_in_account),
        "BXM": BuyWriteStage,
        "VXTH": TailHedgeStage,
        "SPTR": lambda: NoStage(name="SPTR"),
    }
    make = stages.get(name)
    if make is None:
        raise InvalidInputError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return make()


def run_benchmark(
    name: str,
    history: MarketHistory,
    *,
    start: date,
    end: date,
    equity_usd: float = DEFAULT_EQUITY_USD,
    div_yield: float = 0.015,
    config: StrategyConfig | None = None,
    premium_in_account: bool = True,
    progress: Progress | None = None,
) -> BacktestResult:
    """Run the Cboe rule ``name`` (:data:`BENCHMARKS`) over ``[start, end]`` of ``history``.

    Fills at mids without fees (:data:`INDEX_FILL`); BXM, VXTH and SPTR hold the index with
    :class:`InvestAllSleeve` (no index trading cost). ``premium_in_account`` chooses how
    CNDR/BFLY/PUT count the premium in the T-bill account (module docstring; True follows the
    methodology). Nothing happens before the first roll date: the account is cash until then.
    """
    stage = benchmark_stage(name, premium_in_account=premium_in_account)
    sleeve: IndexSleeve | None = None
    if name in ("BXM", "VXTH", "SPTR"):
        sleeve = InvestAllSleeve()

    def stages(credit: float, spend: float) -> Sequence[Stage]:  # noqa: ARG001 (StageFactory)
        return (stage,)

    return run_backtest(
        history,
        start=start,
        end=end,
        config=config or StrategyConfig(),
        equity_usd=equity_usd,
        fill=INDEX_FILL,
        div_yield=div_yield,
        progress=progress,
        stages=stages,
        sleeve=sleeve,
        index_cost_bps=0.0,
    )


# --------------------------------------------------------------------------------------------
# Real history with a rate for every session


def _rate_from_published(spine: pd.DatetimeIndex, published: pd.DataFrame) -> pd.Series:
    """GS3M (percent) of the latest month-end row strictly before each session, as a decimal."""
    rates = published[_RATE_COLUMN].dropna() / 100.0
    pos = np.searchsorted(rates.index.to_numpy(), spine.to_numpy(), side="left") - 1
    values = np.where(pos >= 0, rates.to_numpy()[np.maximum(pos, 0)], np.nan)
    return pd.Series(values, index=spine, dtype=np.float64)


def _carry_gaps(frame: pd.DataFrame, spine: pd.DatetimeIndex) -> pd.DataFrame:
    """``date, close, modelled`` on every spine session from the first close on: a session
    without a close carries the previous one, flagged modelled."""
    s = pd.Series(
        frame["close"].to_numpy(dtype=np.float64),
        index=pd.DatetimeIndex(pd.to_datetime(frame["date"])).normalize(),
    )
    s = s[~s.index.duplicated()]
    on = s.reindex(spine)
    missing = on.isna().to_numpy()
    carried = on.ffill()
    keep = carried.notna().to_numpy()
    flags = (
        frame["modelled"].to_numpy(dtype=np.bool_)
        if "modelled" in frame.columns
        else np.zeros(len(frame), dtype=np.bool_)
    )
    given = pd.Series(
        flags, index=pd.DatetimeIndex(pd.to_datetime(frame["date"])).normalize(), dtype=bool
    )
    flag = given[~given.index.duplicated()].reindex(spine, fill_value=False).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "date": spine[keep],
            "close": carried.to_numpy()[keep],
            "modelled": (flag | missing)[keep],
        }
    )


def load_real_history(data_dir: Path, *, published_csv: Path | None = None) -> MarketHistory:
    """The real history of ``data_dir`` (``../shared/data`` layout) with a rate every session.

    Every series the catalog recognises is loaded (bad rows skipped, as ``vixshield data import
    --skip-bad-rows``), except the one real option chain (SPXW only, 2019-06-26: it lists no
    SPX monthly to mark the benchmark legs, so every day uses the model chain).

    * The Cboe volatility indices are read close-only (the VIX file has 47 rows whose open is
      above the high; their closes are good). The 4 sessions still without a VIX close
      (1991-03-01, 1997-01-31, 1997-11-26, 1999-12-31) carry the previous close, flagged
      modelled: the model chain needs a VIX every session.
    * The 13-week T-bill file covers 2005-01..2014-08 only; other sessions take the published
      GS3M of the previous month end (``published_csv``, default ``data_dir/indices/
      cboe_strategy_monthly_1986_2015.csv``), flagged modelled; after the file's last row the
      last value is carried (stale from 2016).
    """
    plans, _ = plan_imports(data_dir)
    frames: dict[str, pd.DataFrame] = {}
    for p in plans:
        if p.loader_name == "datashop" or p.name in frames:
            continue
        if p.loader_name.endswith(":cboe-ohlc"):
            # only the close is used; 47 VIX rows have an open above the high (a file quirk)
            loaded = load_cboe_index(p.source, mode=Mode.SKIP, close_only=True)
        else:
            loaded = p.loader(p.source, mode=Mode.SKIP)
        frames[p.name] = loaded.frame
    if "spx" not in frames:
        raise DataError(f"{data_dir}: no S&P 500 daily file found (spx/GSPC_daily_*.csv)")
    spx = frames["spx"]
    spine = pd.DatetimeIndex(pd.to_datetime(spx["date"])).normalize()
    if "vix" in frames:
        frames["vix"] = _carry_gaps(frames["vix"], spine)
    published = load_published_indices(
        published_csv or data_dir / "indices" / "cboe_strategy_monthly_1986_2015.csv"
    )
    filled = _rate_from_published(spine, published)
    tbill = frames.get("tbill13w")
    real = pd.Series(np.nan, index=spine, dtype=np.float64)
    if tbill is not None:
        t = pd.Series(
            tbill["rate_decimal"].to_numpy(dtype=np.float64),
            index=pd.DatetimeIndex(pd.to_datetime(tbill["date"])).normalize(),
        )
        real = t[~t.index.duplicated()].reindex(spine)
    use_real = real.notna().to_numpy()
    rate = pd.DataFrame(
        {
            "date": spine,
            "rate_decimal": np.where(use_real, real.to_numpy(), filled.to_numpy()),
            "modelled": ~use_real,
        }
    )
    rate = rate.loc[np.isfinite(rate["rate_decimal"].to_numpy())].reset_index(drop=True)
    names = ("vix", "vix9d", "vix3m", "vix6m", "vvix", "skew")
    return MarketHistory.from_frames(
        spx=spx,
        indices={n: frames[n] for n in names if n in frames},
        vx_contracts=frames.get("vx_contracts"),
        breadth=frames.get("breadth"),
        rate=rate,
        events=frames.get("events"),
        fomc=frames.get("fomc"),
    )


# --------------------------------------------------------------------------------------------
# The published levels


def load_published_indices(path: Path) -> pd.DataFrame:
    """The published month-end levels (``Date,BXM,...,GS3M``) indexed by date, NaN where blank.

    Raises
    ------
    DataError
        No such file, a header without ``Date`` or the known columns, a row with another
        number of fields, a date that is not ``YYYY-MM-DD`` or not after the previous row, a
        value that is not a number, or a level that is not > 0 (``GS3M``, a rate in percent,
        may be 0). The message names the file, the line and the field.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"{p}: no such file; the published Cboe strategy levels live in "
            "../shared/data/indices/cboe_strategy_monthly_1986_2015.csv"
        )
    with p.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise DataError(f"{p}: the file is empty")
    header = [h.strip() for h in rows[0]]
    if not header or header[0] != "Date":
        raise DataError(f"{p}, line 1: the first column must be 'Date', got {header[:1]!r}")
    unknown = [h for h in header[1:] if h not in PUBLISHED_COLUMNS]
    if unknown or len(set(header)) != len(header):
        raise DataError(
            f"{p}, line 1: unknown or repeated columns {unknown or header}; known: "
            f"{', '.join(PUBLISHED_COLUMNS)}"
        )
    dates: list[pd.Timestamp] = []
    values: list[list[float]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(
                f"{p}, line {line}: {len(row)} fields, the header has {len(header)} "
                f"({','.join(header)})"
            )
        text = row[0].strip()
        try:
            day = pd.Timestamp(date.fromisoformat(text))
        except ValueError:
            raise DataError(
                f"{p}, line {line}, field 'Date': {text!r} is not a date YYYY-MM-DD"
            ) from None
        if dates and day <= dates[-1]:
            raise DataError(
                f"{p}, line {line}, field 'Date': {text} is not after the previous row's "
                f"{dates[-1].date()}: dates must be unique and increasing"
            )
        out: list[float] = []
        for name, cell in zip(header[1:], row[1:], strict=True):
            c = cell.strip()
            if not c:
                out.append(math.nan)
                continue
            try:
                v = float(c)
            except ValueError:
                raise DataError(
                    f"{p}, line {line}, field {name!r}: {c!r} is not a number"
                ) from None
            ok = v >= 0 if name == _RATE_COLUMN else v > 0
            if not (math.isfinite(v) and ok):
                need = ">= 0 (percent)" if name == _RATE_COLUMN else "> 0 (an index level)"
                raise DataError(f"{p}, line {line}, field {name!r}: {c!r} must be {need}")
            out.append(v)
        dates.append(day)
        values.append(out)
    if not dates:
        raise DataError(f"{p}: no data rows after the header")
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="Date"), columns=header[1:])
    return frame.astype(np.float64)


# --------------------------------------------------------------------------------------------
# Monthly comparison


def month_end_equity(result: BacktestResult) -> pd.Series:
    """Equity at the last session of each month, indexed by calendar month end.

    Months that begin before the run's first roll (its first option opening, or a VXTH roll
    that bought nothing; its first index trade when it has no rolls: SPTR) are dropped: they
    are not complete benchmark months (the account was cash, or the index without its calls,
    for part of them). The first value kept is the end of the month of that first roll: the
    base of the first complete month. A last month
    that the run stops inside is dropped too.
    """
    equity = result.equity
    first = _first_trade(result)
    if first is not None:
        # keep the month end at or after the first trade: the base of the first full month
        equity = equity.loc[equity.index >= pd.Timestamp(first)]
    if not equity.empty:
        # a run ending before its month's last session has no end for that month
        final = pd.Timestamp(equity.index[-1]).date()
        if calendar.next_session(final).month == final.month:
            idx = pd.DatetimeIndex(equity.index)
            equity = equity.loc[~((idx.year == final.year) & (idx.month == final.month))]
    if equity.empty:
        return pd.Series(dtype=np.float64, name="equity_usd")
    months = pd.DatetimeIndex(equity.index).to_period("M")
    last = equity.groupby(months).last()
    last.index = pd.PeriodIndex(last.index).to_timestamp(how="end").normalize()
    return last.astype(np.float64)


def _first_trade(result: BacktestResult) -> date | None:
    """The run's first roll: its first option opening or first session with a stage report
    (a VXTH roll that bought nothing), whichever comes first; else its first index trade
    (SPTR); else None."""
    opened = next((e.session for e in result.ledger if e.kind == "open"), None)
    reported = next(
        (
            d.session
            for d in getattr(result, "days", ())
            if any(d.decision.book.get("stages", {}).values())
        ),
        None,
    )
    found = [d for d in (opened, reported) if d is not None]
    if found:
        return min(found)
    return next((e.session for e in result.ledger if e.kind == "index"), None)


def monthly_returns(levels: pd.Series) -> pd.Series:
    """Returns between consecutive calendar months of a month-end series (NaN across a gap)."""
    s = levels.astype(np.float64)
    if s.empty:
        return s
    periods = pd.DatetimeIndex(s.index).to_period("M")
    s = pd.Series(s.to_numpy(), index=periods)
    full = s.reindex(pd.period_range(periods.min(), periods.max(), freq="M"))
    r = full / full.shift(1) - 1.0
    r.index = pd.PeriodIndex(r.index).to_timestamp(how="end").normalize()
    return r.iloc[1:].astype(np.float64)


def _max_drawdown(returns: FloatArray) -> float:
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + returns)])
    peak = np.maximum.accumulate(wealth)
    return float(np.min(wealth / peak - 1.0))


def comparison_stats(model: pd.Series, published: pd.Series) -> dict[str, float]:
    """Statistics of two aligned monthly return series (decimal), over their common months.

    ``months`` common months; ``correlation`` Pearson; ``tracking_error_ann`` the sample
    standard deviation (ddof 1) of the monthly differences times sqrt(12); ``ann_return_*`` the
    geometric annual return ``prod(1 + r) ** (12 / months) - 1``; ``max_dd_*`` the largest fall
    of the wealth ``prod(1 + r)`` from a running peak (starting at 1), <= 0; ``ann_vol_*`` the
    sample standard deviation times sqrt(12); ``*_diff`` model minus published. With a
    ``published`` of NaN only, the model's figures are given and the rest is NaN.
    """
    both = pd.concat([model.rename("m"), published.rename("p")], axis=1, sort=True).dropna()
    m_only = model.dropna().to_numpy(dtype=np.float64)
    nan = math.nan

    def ann(r: FloatArray) -> float:
        return float(np.prod(1.0 + r) ** (12.0 / r.size) - 1.0) if r.size else nan

    def vol(r: FloatArray) -> float:
        return float(np.std(r, ddof=1) * math.sqrt(12.0)) if r.size > 1 else nan

    if both.empty:
        return {
            "months": float(m_only.size),
            "correlation": nan,
            "tracking_error_ann": nan,
            "ann_return_model": ann(m_only),
            "ann_return_published": nan,
            "ann_return_diff": nan,
            "max_dd_model": _max_drawdown(m_only) if m_only.size else nan,
            "max_dd_published": nan,
            "max_dd_diff": nan,
            "ann_vol_model": vol(m_only),
            "ann_vol_published": nan,
        }
    m = both["m"].to_numpy(dtype=np.float64)
    p = both["p"].to_numpy(dtype=np.float64)
    dm, dp = m - m.mean(), p - p.mean()
    scale = math.sqrt(float(dm @ dm) * float(dp @ dp))
    corr = float(dm @ dp) / scale if m.size > 1 and scale > 0 else nan  # constant: no corr.
    out = {
        "months": float(m.size),
        "correlation": corr,
        "tracking_error_ann": vol(m - p),
        "ann_return_model": ann(m),
        "ann_return_published": ann(p),
        "max_dd_model": _max_drawdown(m),
        "max_dd_published": _max_drawdown(p),
        "ann_vol_model": vol(m),
        "ann_vol_published": vol(p),
    }
    out["ann_return_diff"] = out["ann_return_model"] - out["ann_return_published"]
    out["max_dd_diff"] = out["max_dd_model"] - out["max_dd_published"]
    return out


STATS_COLUMNS: Final = (
    "months", "correlation", "tracking_error_ann", "ann_return_model", "ann_return_published",
    "ann_return_diff", "max_dd_model", "max_dd_published", "max_dd_diff", "ann_vol_model",
    "ann_vol_published",
)  # fmt: skip

_COMMON_NOTES: Final = (
    "chains: every day's SPX chain is the model chain (SSVI from VIX, the VIX term structure "
    "and SKEW, calibrated on one 2019 chain): premium levels and skew are modelled, the main "
    "source of differences in annual return",
    "timing: the 15:45 end-of-day chain on the S&P 500 close stands in for the 11:00 ET mid "
    "(CNDR, BFLY) and the 11:30-12:00 VWAP (PUT, BXM); strikes are chosen on the close",
    "settlement: the SOQ is proxied by the S&P 500 open print, which before 2006 is mostly the "
    "previous close in this data (the overnight gap of the expiry morning is missed)",
    "interest: simple ACT/360 on the cash at the 13-week T-bill (2005-2014) or the previous "
    "month's published GS3M, every session; Cboe compounds the 4-week (CNDR, BFLY) or 1- and "
    "3-month (PUT) bills with no interest on roll days",
    "dividends: the index sleeve (BXM, VXTH, SPTR) earns a constant yield, reinvested each "
    "session; the published indices reinvest the actual dividends",
    "sizing: on the previous close's equity (one session before the morning settlement), "
    "whole contracts on a 1e9 USD notional (rounding at most 4.1e-5 of the position "
    "1990-2015)",
    "fills at mids without fees, as the Cboe indices; delta = Black forward delta N(d1) from "
    "mid implied vols on the parity forward, ties further out of the money",
    "months: only complete months after the first trade of each run, where both series have "
    "the month end and the one before",
)


@dataclass(frozen=True)
class BenchmarkComparison:
    """Model against published month-end returns (see :func:`compare_with_published`).

    Attributes
    ----------
    monthly
        Index: calendar month ends; columns ``{name}_model`` and ``{name}_published`` per
        benchmark: monthly returns (decimal), NaN where a side has none.
    stats
        Index: benchmark name; columns :data:`STATS_COLUMNS` (:func:`comparison_stats`).
    notes
        Where and why the model differs from the published series.
    """

    monthly: pd.DataFrame
    stats: pd.DataFrame
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: NaN as None, dates as ISO strings."""

        def num(v: Any) -> float | None:
            f = float(v)
            return f if math.isfinite(f) else None

        monthly = [
            {"month_end": ts.date().isoformat(), **{c: num(row[c]) for c in self.monthly.columns}}
            for ts, row in self.monthly.iterrows()
            if isinstance(ts, pd.Timestamp)
        ]
        stats = {
            str(name): {c: num(row[c]) for c in self.stats.columns}
            for name, row in self.stats.iterrows()
        }
        return {"monthly": monthly, "stats": stats, "notes": list(self.notes)}


def compare_with_published(
    results: Mapping[str, BacktestResult], published_csv: Path
) -> BenchmarkComparison:
    """Month-end returns of each run in ``results`` (keyed by benchmark name) against the
    published column of the same name, over their common complete months.

    :func:`month_end_equity` of each run, then :func:`compare_month_ends`. A name without a
    published column (VXTH) is described alone (published figures NaN) and said so in the
    notes.
    """
    return compare_month_ends(
        {name: month_end_equity(r) for name, r in results.items()}, published_csv
    )


def compare_month_ends(
    month_ends: Mapping[str, pd.Series], published_csv: Path
) -> BenchmarkComparison:
    """:func:`compare_with_published` from month-end equities (:func:`month_end_equity`).

    ``monthly`` keeps the months where at least one model has a return.
    """
    published = load_published_indices(published_csv)
    columns: dict[str, pd.Series] = {}
    rows: dict[str, dict[str, float]] = {}
    notes: list[str] = list(_COMMON_NOTES)
    for name, levels in month_ends.items():
        model = monthly_returns(levels)
        if name in published.columns:
            pub_levels = published[name].dropna()
            month_end = pd.DatetimeIndex(pub_levels.index).to_period("M").to_timestamp(how="end")
            pub_levels.index = pd.DatetimeIndex(month_end).normalize()
            pub = monthly_returns(pub_levels)
        else:
            pub = pd.Series(np.nan, index=model.index, dtype=np.float64)
            notes.append(
                f"{name}: the published file has no {name} column, so the model is described "
                "alone (its published figures are empty)"
            )
        columns[f"{name}_model"] = model
        columns[f"{name}_published"] = pub
        rows[name] = comparison_stats(model, pub)
        both = pd.concat([model, pub], axis=1, sort=True).dropna()
        if not both.empty:
            notes.append(
                f"{name}: {len(both)} common months "
                f"{both.index[0].date():%Y-%m} to {both.index[-1].date():%Y-%m}"
            )
    if "VXTH" in month_ends:
        notes.append(
            "VXTH: VIX options from the model VIX chain on the VX curve and VVIX (VVIX from "
            "2006-03, usable from 2007; VX futures 2004-2014, a model curve after); the VRO is "
            "proxied by the previous session's VIX close"
        )
    if "BXM" in month_ends:
        notes.append(
            "BXM: early history (before about 2008) may use another price convention at Cboe "
            "(CBOE.md §6 rule 3)"
        )
    monthly = pd.DataFrame(columns).sort_index() if columns else pd.DataFrame()
    if not monthly.empty:
        model_cols = [c for c in monthly.columns if str(c).endswith("_model")]
        monthly = monthly.loc[monthly[model_cols].notna().any(axis=1)]
        monthly.index = pd.DatetimeIndex(monthly.index, name="month_end")
    stats = pd.DataFrame.from_dict(rows, orient="index", columns=list(STATS_COLUMNS))
    stats.index.name = "benchmark"
    return BenchmarkComparison(monthly, stats, tuple(notes))


_SHORT: Final = (
    "months", "corr", "TE/yr", "ret mod", "ret pub", "ret diff", "DD mod", "DD pub", "DD diff",
    "vol mod", "vol pub",
)  # fmt: skip


def describe_table(comparison: BenchmarkComparison) -> str:
    """The stats as a fixed-width text table: returns, drawdowns, volatilities and tracking
    error in percent (``ret`` annual return, ``DD`` maximum drawdown, ``mod`` model, ``pub``
    published, ``TE/yr`` annualised tracking error, ``corr`` correlation of monthly returns).
    """
    lines = [f"{'':<6}" + "".join(f"{c:>9}" for c in _SHORT)]
    for name, row in comparison.stats.iterrows():
        cells = []
        for c in STATS_COLUMNS:
            v = float(row[c])
            if not math.isfinite(v):
                cells.append(f"{'-':>9}")
            elif c == "months":
                cells.append(f"{int(v):>9d}")
            elif c == "correlation":
                cells.append(f"{v:>9.3f}")
            else:
                cells.append(f"{100.0 * v:>9.2f}")
        lines.append(f"{name!s:<6}" + "".join(cells))
    return "\n".join(lines)
