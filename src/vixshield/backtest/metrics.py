r"""Performance metrics: pure functions over a daily equity curve, closed trades and cash flows.

Inputs
------
* **Equity curve**: a ``pd.Series`` of account equity in USD indexed by session date
  (``DatetimeIndex`` or ``datetime.date`` values), strictly increasing, finite and positive.
* **Cash flows** (optional): the investor's external flows *after* the first session, in the
  investor's sign (a deposit is negative, a withdrawal positive), dated on sessions of the
  curve. They are taken out of the returns (below) and enter the XIRR.
* **Trades** (optional): closed trades, each with ``layer`` (``"core"``, ``"ladder"``,
  ``"hedge"``), ``credit_usd`` (net premium at the open, positive when received, negative when
  paid) and ``pnl_usd`` (realised P&L, net of fees). Any object with those attributes
  (:class:`TradeLike`) or a ``DataFrame`` with those columns.

Conventions
-----------
Daily (per-session) returns, with :math:`f_t` the investor's flow on session :math:`t`
(assumed to happen at the close, after the mark):

.. math::
    r_t = \frac{E_t + f_t}{E_{t-1}} - 1

so deposits are not returns (time-weighted). The wealth index is :math:`W_0 = 1`,
:math:`W_t = \prod_{s \le t} (1 + r_s)` (without flows simply :math:`E_t / E_0`).

=====================  ========================================================================
metric                 definition
=====================  ========================================================================
``cagr``               :math:`W_T^{365.25/D} - 1`, :math:`D` calendar days first to last session
``vol_annual``         :math:`\sqrt{252}\,\mathrm{sd}(r)`, sample sd (ddof = 1)
``sharpe``             :math:`\sqrt{252}\,\bar e / \mathrm{sd}(e)`, :math:`e_t = r_t - r^f_t`
``sortino``            :math:`\sqrt{252}\,\bar e / \mathrm{DD}`,
                       :math:`\mathrm{DD} = \sqrt{\tfrac1N \sum_t \min(e_t, 0)^2}`
``max_drawdown``       :math:`\min_t (W_t / \max_{s \le t} W_s - 1)`, a fraction :math:`\le 0`
``calmar``             ``cagr / |max_drawdown|``
``cvar95_daily``       mean of the worst 5% of daily returns (historical), a return
``xirr``               annual rate solving :math:`\sum_i c_i (1+x)^{-(d_i - d_0)/365} = 0`
=====================  ========================================================================

* The risk-free rate ``rf`` is an **annual decimal** (0.05 for 5%), a constant or a series of
  quotes indexed by date; each session's rate is :math:`r^f_t = (1 + rf)^{1/252} - 1` with
  ``rf`` the latest quote dated before the session the return ends on (the rate known when
  the period began), so that 252 sessions compound to ``rf``. The Sortino target is the same
  :math:`r^f_t` (0 by default); its downside deviation divides by all :math:`N` returns
  (Sortino & Price).
* A ratio whose denominator is zero or at floating-point noise (returns that do not vary, no
  downside, no drawdown) is **NaN**, not infinity; so is any statistic with too few points
  (a volatility needs two returns). No function emits a ``RuntimeWarning``.
* Trade statistics: win rate, profit factor, average credit and average loss are over the
  **income** trades (every layer but ``"hedge"``); the hedge statistics over ``"hedge"``.
  A win is a P&L above zero (break-even is not a win); ``avg_credit_usd`` is the mean credit
  at the open, ``avg_loss_usd`` the mean P&L of the losing trades (negative). Hedge spend is
  the premium paid (positive), hedge payoff what the hedges returned (spend + their P&L), and
  the credit-to-hedge ratio the income trades' total credit over the hedge spend. Profit
  factor and the credit-to-hedge ratio are sums of exact ledger amounts: positive over zero is
  ``inf``, zero over zero is NaN.
* :meth:`Metrics.to_json` writes strict JSON: NaN as ``null``, infinities as ``"inf"``.

Sources: W. F. Sharpe, "The Sharpe Ratio", J. Portfolio Management (1994); F. Sortino and
L. Price, "Performance measurement in a downside risk framework", J. Investing (1994);
C. Acerbi and D. Tasche, "Expected shortfall: a natural coherent alternative to value at risk"
(2002); Microsoft Excel's ``XIRR`` documentation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Final, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import brentq

from vixshield.domain.decisions import Layer
from vixshield.errors import InvalidInputError

__all__ = [
    "DAYS_PER_YEAR_CAGR",
    "DAYS_PER_YEAR_XIRR",
    "SESSIONS_PER_YEAR",
    "CashFlows",
    "ClosedTrade",
    "Drawdown",
    "HedgeStats",
    "Metrics",
    "TradeLike",
    "annual_volatility",
    "cagr",
    "compute_metrics",
    "cvar",
    "daily_returns",
    "hedge_stats",
    "max_drawdown",
    "monthly_returns_table",
    "profit_factor",
    "sharpe_ratio",
    "sortino_ratio",
    "wealth_index",
    "win_rate",
    "xirr",
    "yearly_returns",
]

SESSIONS_PER_YEAR: Final = 252
"""Sessions per year used to annualise daily statistics (volatility, Sharpe, Sortino, rf)."""

DAYS_PER_YEAR_CAGR: Final = 365.25
"""Calendar days per year in the CAGR exponent."""

DAYS_PER_YEAR_XIRR: Final = 365.0
"""Calendar days per year in XIRR's discounting, as Excel's ``XIRR``."""

_NOISE: Final = 1e-12  # relative size below which a deviation is floating-point noise

FloatArray: TypeAlias = npt.NDArray[np.float64]
CashFlows: TypeAlias = pd.Series | Sequence[tuple[date, float]]
"""Dated amounts in USD: a Series indexed by date, or ``(date, amount)`` pairs."""


class TradeLike(Protocol):
    """What the metrics read from a closed trade."""

    @property
    def layer(self) -> str:
        """``"core"``, ``"ladder"`` or ``"hedge"`` (:class:`vixshield.domain.decisions.Layer`)."""
        ...

    @property
    def credit_usd(self) -> float:
        """Net premium at the open, USD: positive received (condors), negative paid (hedges)."""
        ...

    @property
    def pnl_usd(self) -> float:
        """Realised P&L of the closed trade, USD, net of fees and commissions."""
        ...


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A minimal closed-trade record (see :class:`TradeLike` for the fields)."""

    layer: str
    credit_usd: float
    pnl_usd: float


@dataclass(frozen=True, slots=True)
class Drawdown:
    r"""The maximum drawdown and its duration.

    ``depth`` is a fraction :math:`\le 0` (``-0.25`` is a 25% fall from the peak). The
    duration runs from the peak session (the last session at the peak before the fall) to the
    recovery session (the first session back at or above the peak); when the curve has not
    recovered by its last session it runs to the last session and ``recovered`` is False.
    """

    depth: float
    peak: pd.Timestamp | None
    trough: pd.Timestamp | None
    recovery: pd.Timestamp | None
    sessions: int
    days: int
    recovered: bool


@dataclass(frozen=True, slots=True)
class Metrics:
    """The headline statistics of a run (module docstring for each definition).

    Fractions are decimals (0.12 is 12%); ``*_usd`` are US dollars; ``*_sessions`` count
    trading sessions and ``*_days`` calendar days.
    """

    cagr: float
    vol_annual: float
    sharpe: float
    sortino: float
    max_drawdown: float
    max_drawdown_sessions: int
    max_drawdown_days: int
    max_drawdown_recovered: bool
    calmar: float
    cvar95_daily: float
    win_rate: float
    profit_factor: float
    avg_credit_usd: float
    avg_loss_usd: float
    hedge_spend_usd: float
    hedge_payoff_usd: float
    credit_to_hedge_ratio: float
    xirr: float

    def to_dict(self) -> dict[str, float | int | bool]:
        """The fields as a plain dict (NaN and infinities kept as floats)."""
        return asdict(self)

    def to_json(self, *, indent: int | None = None) -> str:
        """Strict JSON: NaN becomes ``null``, infinities the strings ``"inf"`` / ``"-inf"``."""
        out: dict[str, Any] = {}
        for key, value in self.to_dict().items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None if math.isnan(value) else ("inf" if value > 0 else "-inf")
            else:
                out[key] = value
        return json.dumps(out, indent=indent, allow_nan=False)


# --------------------------------------------------------------------------- inputs


def _as_dates(index: pd.Index, what: str) -> pd.DatetimeIndex:
    try:
        dates = pd.DatetimeIndex(index)
    except (TypeError, ValueError) as exc:
        msg = f"{what} must be indexed by dates; got {index.dtype}: {exc}"
        raise InvalidInputError(msg) from exc
    if dates.hasnans:
        msg = f"{what} has a missing date (NaT) in its index; drop or fix that row"
        raise InvalidInputError(msg)
    return dates


def _equity(equity: pd.Series) -> pd.Series:
    """Validate an equity curve; return it as float64 over a ``DatetimeIndex``."""
    given: object = equity  # callers without type checking pass lists and frames
    if not isinstance(given, pd.Series):
        msg = f"equity must be a pandas Series indexed by session date, got {type(equity)}"
        raise InvalidInputError(msg)
    dates = _as_dates(equity.index, "equity").normalize()
    if len(dates) > 1 and not (dates.is_monotonic_increasing and dates.is_unique):
        msg = "equity's dates must be strictly increasing (sorted, no duplicate sessions)"
        raise InvalidInputError(msg)
    values = np.asarray(equity.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    bad = ~np.isfinite(values) | (values <= 0.0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = (
            f"equity must be finite and positive (USD); {dates[i].date()} has "
            f"{float(values[i])!r}; fix the curve (a ruined account ends it, never at zero)"
        )
        raise InvalidInputError(msg)
    return pd.Series(values, index=dates, name=equity.name, dtype=np.float64)


def _flows(cash_flows: CashFlows, what: str) -> pd.Series:
    """Dated flows as a float Series summed by date, sorted."""
    if isinstance(cash_flows, pd.Series):
        dates = _as_dates(cash_flows.index, what)
        amounts = np.asarray(
            cash_flows.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64
        )
    else:
        pairs = list(cash_flows)
        dates = _as_dates(pd.Index([d for d, _ in pairs]), what)
        amounts = np.array([float(a) for _, a in pairs], dtype=np.float64)
    if not np.isfinite(amounts).all():
        msg = f"{what} must be finite amounts in USD; got a NaN or infinity"
        raise InvalidInputError(msg)
    s = pd.Series(amounts, index=dates, dtype=np.float64)
    return s.groupby(level=0).sum().sort_index()


def _external_flows(equity: pd.Series, cash_flows: CashFlows | None) -> pd.Series | None:
    if cash_flows is None:
        return None
    flows = _flows(cash_flows, "cash_flows")
    if flows.empty:
        return None
    outside = ~flows.index.isin(equity.index[1:])
    if outside.any():
        d = flows.index[outside][0].date()
        msg = (
            f"cash flow dated {d} is not a session of the equity curve after its first; "
            "date each flow on the session whose close it follows (the first session's equity "
            "is the starting capital)"
        )
        raise InvalidInputError(msg)
    return flows


# --------------------------------------------------------------------------- returns


def daily_returns(equity: pd.Series, *, cash_flows: CashFlows | None = None) -> pd.Series:
    r"""Per-session returns of an equity curve, net of external flows.

    .. math::
        r_t = \frac{E_t + f_t}{E_{t-1}} - 1

    with :math:`f_t` the investor's flow on session :math:`t` (deposit negative, withdrawal
    positive), assumed at the close. The result has one value fewer than ``equity`` (the first
    session has no return) and is indexed by the session each return ends on.
    """
    e = _equity(equity)
    return _returns(e, _external_flows(e, cash_flows))


def _returns(e: pd.Series, flows: pd.Series | None) -> pd.Series:
    values = e.to_numpy(dtype=np.float64)
    end = values[1:].copy()
    if flows is not None:
        pos = e.index.get_indexer(flows.index)
        np.add.at(end, pos - 1, flows.to_numpy(dtype=np.float64))
    r = end / values[:-1] - 1.0
    if (r <= -1.0).any():
        d = e.index[1:][r <= -1.0][0].date()
        msg = (
            f"the cash flow on {d} is larger than the equity it left; check its sign (deposit < 0)"
        )
        raise InvalidInputError(msg)
    return pd.Series(r, index=e.index[1:], dtype=np.float64, name="return")


def wealth_index(equity: pd.Series, *, cash_flows: CashFlows | None = None) -> pd.Series:
    r"""Growth of one dollar: :math:`W_0 = 1`, :math:`W_t = \prod_{s \le t}(1 + r_s)`.

    Without flows this is exactly :math:`E_t / E_0`.
    """
    e = _equity(equity)
    return _wealth(e, _external_flows(e, cash_flows))


def _wealth(e: pd.Series, flows: pd.Series | None) -> pd.Series:
    if e.empty:
        return pd.Series([], index=e.index, dtype=np.float64, name="wealth")
    values = e.to_numpy(dtype=np.float64)
    if flows is None:
        w = values / values[0]
    else:
        r = _returns(e, flows).to_numpy(dtype=np.float64)
        w = np.concatenate(([1.0], np.cumprod(1.0 + r)))
    return pd.Series(w, index=e.index, dtype=np.float64, name="wealth")


def _risk_free_per_session(rf: float | pd.Series, starts: pd.DatetimeIndex) -> FloatArray:
    """Per-session risk-free returns for periods starting on ``starts``."""
    if isinstance(rf, pd.Series):
        quotes = pd.Series(
            np.asarray(rf.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64),
            index=_as_dates(rf.index, "rf"),
        ).sort_index()
        if quotes.index.has_duplicates:
            msg = "rf has two quotes for one date; keep one per date"
            raise InvalidInputError(msg)
        if not np.isfinite(quotes.to_numpy()).all():
            msg = "rf has a NaN or infinite quote; rates are never filled in silently, fix them"
            raise InvalidInputError(msg)
        annual = quotes.reindex(starts, method="ffill").to_numpy(dtype=np.float64)
        if len(starts) and np.isnan(annual).any():
            d = starts[np.isnan(annual)][0].date()
            msg = f"rf has no quote on or before {d}; extend the rate series back to the start"
            raise InvalidInputError(msg)
    else:
        annual = np.full(len(starts), float(rf), dtype=np.float64)
    if (~np.isfinite(annual) | (annual <= -1.0)).any():
        msg = f"rf must be an annual decimal rate above -1 (0.05 for 5%), got {rf!r}"
        raise InvalidInputError(msg)
    return np.asarray(np.power(1.0 + annual, 1.0 / SESSIONS_PER_YEAR) - 1.0, dtype=np.float64)


def _excess(returns: pd.Series, rf: float | pd.Series) -> FloatArray:
    """Excess returns over the per-session risk-free return (as of the day before each end)."""
    r = returns.to_numpy(dtype=np.float64)
    ends = pd.DatetimeIndex(returns.index)
    return r - _risk_free_per_session(rf, ends - pd.Timedelta(days=1))


def _arr(x: pd.Series | Sequence[float] | FloatArray) -> FloatArray:
    a = np.asarray(x, dtype=np.float64).ravel()
    if not np.isfinite(a).all():
        msg = "returns must be finite decimals; got a NaN or infinity"
        raise InvalidInputError(msg)
    return a


# --------------------------------------------------------------------------- statistics


def cagr(equity: pd.Series, *, cash_flows: CashFlows | None = None) -> float:
    r"""Compound annual growth rate over calendar time.

    .. math::
        \mathrm{CAGR} = W_T^{365.25 / D} - 1

    with :math:`W_T` the final wealth index (:math:`E_T / E_0` without flows) and :math:`D`
    the calendar days from the first to the last session. NaN for fewer than two sessions.
    """
    e = _equity(equity)
    return _cagr(_wealth(e, _external_flows(e, cash_flows)))


def _cagr(w: pd.Series) -> float:
    if len(w) < 2:
        return math.nan
    dates = pd.DatetimeIndex(w.index)
    days = int((dates[-1] - dates[0]).days)
    return math.pow(float(w.iloc[-1]), DAYS_PER_YEAR_CAGR / days) - 1.0


def annual_volatility(returns: pd.Series | Sequence[float] | FloatArray) -> float:
    r"""Annualised volatility :math:`\sqrt{252}\,\mathrm{sd}(r)` (sample sd, ddof = 1).

    NaN for fewer than two returns.
    """
    r = _arr(returns)
    if r.size < 2:
        return math.nan
    return float(np.std(r, ddof=1)) * math.sqrt(SESSIONS_PER_YEAR)


def sharpe_ratio(returns: pd.Series, *, rf: float | pd.Series = 0.0) -> float:
    r"""Annualised Sharpe ratio of daily returns.

    .. math::
        S = \sqrt{252}\,\frac{\bar e}{\mathrm{sd}(e)},\qquad e_t = r_t - r^f_t

    with the sample sd (ddof = 1) and :math:`r^f_t` the per-session risk-free return from the
    **annual** decimal ``rf`` (module docstring). NaN for fewer than two returns or when the
    excess returns do not vary (an all-zero or constant series).
    """
    r = _returns_series(returns)
    e = _excess(r, rf)
    if e.size < 2:
        return math.nan
    mean = float(np.mean(e))
    sd = float(np.std(e, ddof=1))
    if sd <= _NOISE * abs(mean) or sd == 0.0:
        return math.nan
    return math.sqrt(SESSIONS_PER_YEAR) * mean / sd


def sortino_ratio(returns: pd.Series, *, rf: float | pd.Series = 0.0) -> float:
    r"""Annualised Sortino ratio, target = the risk-free rate (0 by default).

    .. math::
        \mathrm{Sortino} = \sqrt{252}\,\frac{\bar e}{\mathrm{DD}},\qquad
        \mathrm{DD} = \sqrt{\frac1N \sum_{t=1}^{N} \min(e_t, 0)^2},\qquad e_t = r_t - r^f_t

    The downside deviation divides by **all** :math:`N` returns, not only the ones below
    target (Sortino & Price 1994). NaN for fewer than two returns or no downside (DD = 0).
    """
    r = _returns_series(returns)
    e = _excess(r, rf)
    if e.size < 2:
        return math.nan
    downside = np.minimum(e, 0.0)
    dd = math.sqrt(float(np.mean(downside * downside)))
    mean = float(np.mean(e))
    if dd == 0.0 or dd <= _NOISE * abs(mean):
        return math.nan
    return math.sqrt(SESSIONS_PER_YEAR) * mean / dd


def _returns_series(returns: pd.Series) -> pd.Series:
    given: object = returns
    if not isinstance(given, pd.Series):
        msg = f"returns must be a pandas Series indexed by session date, got {type(returns)}"
        raise InvalidInputError(msg)
    _arr(returns)
    return pd.Series(
        returns.to_numpy(dtype=np.float64),
        index=_as_dates(returns.index, "returns"),
        dtype=np.float64,
    )


def max_drawdown(equity: pd.Series, *, cash_flows: CashFlows | None = None) -> Drawdown:
    r"""The deepest fall of the wealth index from a running peak, and how long it lasted.

    .. math::
        \mathrm{MDD} = \min_t \left(\frac{W_t}{\max_{s \le t} W_s} - 1\right) \le 0

    The episode is the first trough at that depth; its peak is the last session at the running
    maximum before the trough; its recovery the first later session with :math:`W` back at the
    peak (within a relative :math:`10^{-12}`, so a round trip in float arithmetic counts).
    ``sessions`` counts sessions and ``days`` calendar days from peak to recovery, or to the
    last session if not recovered. A curve that never falls gives depth 0 and durations 0; an
    empty curve gives depth NaN.
    """
    e = _equity(equity)
    return _drawdown(_wealth(e, _external_flows(e, cash_flows)))


def _drawdown(w: pd.Series) -> Drawdown:
    if w.empty:
        return Drawdown(math.nan, None, None, None, 0, 0, True)
    values = w.to_numpy(dtype=np.float64)
    running = np.maximum.accumulate(values)
    dd = values / running - 1.0
    trough = int(np.argmin(dd))
    depth = float(dd[trough])
    if depth >= -_NOISE:
        return Drawdown(0.0, None, None, None, 0, 0, True)
    peak_value = running[trough]
    peak = int(np.flatnonzero(values[: trough + 1] >= peak_value)[-1])
    back = np.flatnonzero(values[trough + 1 :] >= peak_value * (1.0 - _NOISE))
    recovered = back.size > 0
    end = trough + 1 + int(back[0]) if recovered else len(values) - 1
    dates = pd.DatetimeIndex(w.index)
    return Drawdown(
        depth=depth,
        peak=dates[peak],
        trough=dates[trough],
        recovery=dates[end] if recovered else None,
        sessions=end - peak,
        days=(dates[end] - dates[peak]).days,
        recovered=recovered,
    )


def cvar(returns: pd.Series | Sequence[float] | FloatArray, *, level: float = 0.95) -> float:
    r"""Historical conditional value at risk (expected shortfall) of daily returns.

    The mean of the worst :math:`\alpha = 1 - \text{level}` fraction of the :math:`N` returns,
    with the boundary observation weighted by its fraction (Acerbi & Tasche 2002): for the
    returns sorted ascending :math:`r_{(1)} \le \dots \le r_{(N)}` and :math:`k = \lfloor
    \alpha N \rfloor`,

    .. math::
        \mathrm{CVaR} = \frac{1}{\alpha N}\left(\sum_{i=1}^{k} r_{(i)}
        + (\alpha N - k)\, r_{(k+1)}\right)

    which is the plain mean of the worst :math:`\alpha N` returns when that is a whole number
    (the worst 1 of 20 at 95%). Reported as a **return** (negative for losses), like
    ``max_drawdown``. NaN for no returns.
    """
    if not 0.0 < level < 1.0:
        msg = f"level must lie in (0, 1), got {level!r} (0.95 for CVaR at 95%)"
        raise InvalidInputError(msg)
    r = np.sort(_arr(returns))
    n = r.size
    if n == 0:
        return math.nan
    tail = (1.0 - level) * n
    k = math.floor(tail + 1e-9)  # (1 - 0.95) * 20 is 1.0000000000000009 in floats; it means 1
    frac = tail - k
    if frac <= 1e-9:
        return float(np.mean(r[:k]))
    return (float(np.sum(r[:k])) + frac * float(r[k])) / tail


# --------------------------------------------------------------------------- trades


def _trade_frame(trades: Iterable[TradeLike] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(trades, pd.DataFrame):
        missing = {"layer", "credit_usd", "pnl_usd"} - set(map(str, trades.columns))
        if missing:
            msg = f"trades DataFrame lacks column(s) {sorted(missing)}"
            raise InvalidInputError(msg)
        layer = [str(x) for x in trades["layer"]]
        credit = trades["credit_usd"].to_numpy(dtype=np.float64, na_value=np.nan)
        pnl = trades["pnl_usd"].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        rows = list(trades)
        layer = [str(t.layer) for t in rows]
        credit = np.array([float(t.credit_usd) for t in rows], dtype=np.float64)
        pnl = np.array([float(t.pnl_usd) for t in rows], dtype=np.float64)
    if not (np.isfinite(credit).all() and np.isfinite(pnl).all()):
        msg = "trades need finite credit_usd and pnl_usd; a NaN means an unmarked trade"
        raise InvalidInputError(msg)
    return pd.DataFrame({"layer": layer, "credit_usd": credit, "pnl_usd": pnl})


def win_rate(pnl_usd: Sequence[float] | FloatArray) -> float:
    r"""Share of trades with a positive P&L: :math:`\#\{p_i > 0\} / N`.

    A trade that breaks even exactly is not a win. NaN for no trades.
    """
    p = _arr(pnl_usd)
    if p.size == 0:
        return math.nan
    return float(np.count_nonzero(p > 0.0)) / p.size


def profit_factor(pnl_usd: Sequence[float] | FloatArray) -> float:
    r"""Gross profit over gross loss: :math:`\sum_{p_i > 0} p_i \,/\, |\sum_{p_i < 0} p_i|`.

    ``inf`` when there are gains and no losses; NaN when there are neither (no trades, or all
    break even).
    """
    p = _arr(pnl_usd)
    gains = float(np.sum(p[p > 0.0]))
    losses = -float(np.sum(p[p < 0.0]))
    if losses == 0.0:
        return math.inf if gains > 0.0 else math.nan
    return gains / losses


@dataclass(frozen=True, slots=True)
class HedgeStats:
    """Hedge spend, payoff and the credit-to-hedge ratio, USD (:func:`hedge_stats`)."""

    spend_usd: float
    payoff_usd: float
    credit_to_hedge_ratio: float


def hedge_stats(trades: Iterable[TradeLike] | pd.DataFrame) -> HedgeStats:
    r"""What the hedge cost, what it paid back, and how much income paid for it.

    Over the trades of layer ``"hedge"``:

    * spend :math:`S = -\sum \text{credit}_i` (premium paid at the open, positive);
    * payoff :math:`P = \sum (\text{pnl}_i - \text{credit}_i) = \sum \text{pnl}_i + S`, what
      the hedges returned (monetised or settled, net of fees), so the hedge's net P&L is
      :math:`P - S`;
    * credit-to-hedge ratio :math:`\sum \text{credit}_j / S` over the income trades (all
      other layers): dollars of premium collected per dollar spent on the hedge (``inf`` with
      no hedge spend, NaN with neither).
    """
    t = _trade_frame(trades)
    hedge = t[t["layer"] == str(Layer.HEDGE)]
    income = t[t["layer"] != str(Layer.HEDGE)]
    spend = -float(hedge["credit_usd"].sum())
    payoff = float(hedge["pnl_usd"].sum()) + spend
    credits = float(income["credit_usd"].sum())
    ratio = credits / spend if spend != 0.0 else (math.inf if credits > 0.0 else math.nan)
    return HedgeStats(spend + 0.0, payoff + 0.0, ratio)


# --------------------------------------------------------------------------- XIRR


def xirr(
    cash_flows: CashFlows,
    *,
    bracket: tuple[float, float] = (-0.999_999_999, 1.0e12),
    days_per_year: float = DAYS_PER_YEAR_XIRR,
) -> float:
    r"""Internal rate of return of dated cash flows (Excel's ``XIRR``).

    Solves for the annual rate :math:`x` with

    .. math::
        \sum_i \frac{c_i}{(1 + x)^{(d_i - d_0)/365}} = 0

    where :math:`d_0` is the earliest date. The root is found with Brent's method
    (``scipy.optimize.brentq``) on ``bracket`` in :math:`y = \ln(1 + x)`, where the net
    present value is :math:`\sum_i c_i e^{-t_i y}`; each evaluation is scaled by its largest
    exponential (a positive factor, which keeps the sign and the root) so that no power
    overflows. With several sign changes of the flows there may be several rates; the one
    returned is the one Brent's method finds in the bracket. The default bracket, annual rates
    from -99.9999999% to :math:`10^{12}`, holds the rate of any two flows a few days apart
    that did not lose almost everything.

    Raises
    ------
    InvalidInputError
        With fewer than one positive and one negative flow, or when the NPV has the same sign
        at both ends of the bracket (no rate in it: widen ``bracket`` or check the signs).
    """
    lo, hi = bracket
    if not -1.0 < lo < hi:
        msg = f"bracket must satisfy -1 < low < high, got {bracket!r}"
        raise InvalidInputError(msg)
    flows = _flows(cash_flows, "cash_flows")
    c = flows.to_numpy(dtype=np.float64)
    if not ((c > 0.0).any() and (c < 0.0).any()):
        msg = (
            "XIRR needs at least one negative and one positive cash flow (investor's view: "
            "money in negative, money out positive)"
        )
        raise InvalidInputError(msg)
    days = (pd.DatetimeIndex(flows.index) - flows.index[0]).days.to_numpy(dtype=np.float64)
    t = days / days_per_year

    def scaled_npv(y: float) -> float:
        z = -t * y
        return float(np.sum(c * np.exp(z - np.max(z))))

    y_lo, y_hi = math.log1p(lo), math.log1p(hi)
    f_lo, f_hi = scaled_npv(y_lo), scaled_npv(y_hi)
    if f_lo == 0.0:
        return lo
    if f_hi == 0.0:
        return hi
    if (f_lo > 0.0) == (f_hi > 0.0):
        msg = (
            f"no IRR in {bracket!r}: the net present value has the same sign at both ends "
            f"(the flows' NPV does not change sign); widen bracket= or check the flows' signs"
        )
        raise InvalidInputError(msg)
    y = float(brentq(scaled_npv, y_lo, y_hi, xtol=1e-15, maxiter=500))
    return math.expm1(y)


# --------------------------------------------------------------------------- tables


def monthly_returns_table(
    equity: pd.Series, *, cash_flows: CashFlows | None = None
) -> pd.DataFrame:
    r"""Monthly returns, rows years and columns months 1-12, compounded within each month.

    .. math::
        R_{y,m} = \prod_{t \in (y, m)} (1 + r_t) - 1

    over the daily returns ending in that month, so the first session of a month carries the
    move from the previous month's last close. Months with no return are NaN (the curve's first
    session alone earns nothing). The index is named ``year``, the columns ``month``.
    """
    e = _equity(equity)
    r = _returns(e, _external_flows(e, cash_flows))
    idx = pd.DatetimeIndex(r.index)
    frame = pd.DataFrame(
        {"year": idx.year, "month": idx.month, "growth": 1.0 + r.to_numpy(dtype=np.float64)}
    )
    table = frame.pivot_table(index="year", columns="month", values="growth", aggfunc="prod")
    table = (table - 1.0).reindex(columns=pd.RangeIndex(1, 13, name="month"))
    table.index.name = "year"
    return table.astype(np.float64)


def yearly_returns(equity: pd.Series, *, cash_flows: CashFlows | None = None) -> pd.Series:
    r"""Calendar-year returns :math:`\prod_{t \in y}(1 + r_t) - 1`, indexed by year.

    The first and last years are partial when the curve starts or ends inside them.
    """
    e = _equity(equity)
    r = _returns(e, _external_flows(e, cash_flows))
    idx = pd.DatetimeIndex(r.index)
    out = (1.0 + r).groupby(idx.year.rename("year")).prod() - 1.0
    return out.rename("return").astype(np.float64)


# --------------------------------------------------------------------------- all together


def compute_metrics(
    equity: pd.Series,
    trades: Iterable[TradeLike] | pd.DataFrame | None = None,
    cash_flows: CashFlows | None = None,
    rf: float | pd.Series = 0.0,
) -> Metrics:
    """Every headline statistic of a run (module docstring for the definitions).

    Parameters
    ----------
    equity
        Daily equity, USD, indexed by session date.
    trades
        Closed trades (:class:`TradeLike` records or a DataFrame with ``layer``,
        ``credit_usd``, ``pnl_usd``); None gives NaN trade statistics and zero hedge spend.
    cash_flows
        The investor's external flows after the first session (deposit negative, withdrawal
        positive). The XIRR is that of :math:`-E_0` on the first session, these flows, and
        :math:`+E_T` on the last session (without flows it is the CAGR on a 365-day year);
        NaN when :func:`xirr` finds no rate in its default bracket.
    rf
        Annual risk-free rate, decimal, constant or a series of quotes (module docstring).

    Returns
    -------
    Metrics
        NaN where a statistic is undefined (an empty curve, one session, no trades).
    """
    e = _equity(equity)
    flows = _external_flows(e, cash_flows)
    r = _returns(e, flows)
    w = _wealth(e, flows)
    g = _cagr(w)
    dd = _drawdown(w)
    calmar = math.nan if not dd.depth < 0.0 or math.isnan(g) else g / abs(dd.depth)

    if trades is None:
        t = pd.DataFrame({"layer": [], "credit_usd": [], "pnl_usd": []})
    else:
        t = _trade_frame(trades)
    income = t[t["layer"] != str(Layer.HEDGE)]
    pnl = income["pnl_usd"].to_numpy(dtype=np.float64)
    credit = income["credit_usd"].to_numpy(dtype=np.float64)
    losses = pnl[pnl < 0.0]
    h = hedge_stats(t)

    if len(e) >= 2:
        investor = [(e.index[0].date(), -float(e.iloc[0]))]
        if flows is not None:
            fdates = pd.DatetimeIndex(flows.index)
            investor += [
                (d.date(), float(a))
                for d, a in zip(fdates, flows.to_numpy(dtype=np.float64), strict=True)
            ]
        investor.append((e.index[-1].date(), float(e.iloc[-1])))
        try:
            irr = xirr(investor)
        except InvalidInputError:  # no rate in xirr's default bracket: undefined, like the rest
            irr = math.nan
    else:
        irr = math.nan

    return Metrics(
        cagr=g,
        vol_annual=annual_volatility(r),
        sharpe=sharpe_ratio(r, rf=rf),
        sortino=sortino_ratio(r, rf=rf),
        max_drawdown=dd.depth,
        max_drawdown_sessions=dd.sessions,
        max_drawdown_days=dd.days,
        max_drawdown_recovered=dd.recovered,
        calmar=calmar,
        cvar95_daily=cvar(r),
        win_rate=win_rate(pnl),
        profit_factor=profit_factor(pnl),
        avg_credit_usd=float(np.mean(credit)) if credit.size else math.nan,
        avg_loss_usd=float(np.mean(losses)) if losses.size else math.nan,
        hedge_spend_usd=h.spend_usd,
        hedge_payoff_usd=h.payoff_usd,
        credit_to_hedge_ratio=h.credit_to_hedge_ratio,
        xirr=irr,
    )
