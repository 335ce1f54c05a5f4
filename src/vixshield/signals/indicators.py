r"""The indicators of METHOD section 3: causal, vectorised, one column each.

:func:`compute_indicators` turns a :class:`~vixshield.data.market.MarketHistory` into one frame
indexed by session; :func:`indicator_snapshot` reads one session of it as a JSON-able dict (the
daily signal's "indicator snapshot"). Every tunable is a field of :class:`IndicatorParams`
(the ``[indicators]`` table of the strategy configuration); column names carry the METHOD
default windows (``rv20``, ``ivr_252``) while the values follow the parameters.

**Causal.** The value on session *t* uses data up to *t* only, so
``compute_indicators(history.upto(d)).loc[d] == compute_indicators(history).loc[d]`` exactly
(``tests/unit/test_indicators.py``). Recursive indicators (RSI, MACD) are seeded at the start
of the series, which :meth:`MarketHistory.upto` keeps.

**Nothing is filled in.** A missing input gives NaN, and a boolean built on it is ``False``:
with no breadth (the real file ends in 2015) ``ad_line`` is NaN and ``ad_divergence`` False,
and the rest of the frame is unaffected. Series with gaps (VVIX in 2006) are used on the days
they have: RSI and MACD run over the sub-series of days with a value (a change is taken from
the previous day *with* a value) and are NaN on the missing days; so do the windows built on
one series (MACD compression, IV rank, the A/D line's high): a window of 252 VIX closes is
the last 252 days with a VIX close. Realised vol needs every SPX close of its window.

**Libraries.** RSI and MACD come from TA-Lib (``talib``, the 0.6+ binary wheels): it is the
de-facto reference implementation that charting and trading platforms match (Wilder's
smoothing seeded with a simple mean, EMAs seeded with a simple mean, MACD's fast EMA aligned
to start with the slow one), it runs in C, and it installs as a wheel. Everything else is
vectorised pandas / numpy; 30 years of sessions take a few tens of milliseconds.

Columns
-------
============================= ======== ============================================================
column                        dtype    meaning (unit)
============================= ======== ============================================================
``spx_close``                 float    S&P 500 close, index points (input, echoed)
``vix``                       float    VIX close, vol points (input, echoed)
``rsi_spx``                   float    Wilder RSI(``rsi_days``) of the SPX close, 0..100
``rsi_vx1``                   float    Wilder RSI of the front VX settle (VIX without futures)
``rsi_vx1_source``            str      ``"futures"`` (real VX1 settles) or ``"vix"`` (VIX close)
``rsi_vvix``                  float    Wilder RSI of the VVIX close, 0..100 (ALVH: "VVIX RSI > 70")
``vix_macd``                  float    EMA(fast) - EMA(slow) of VIX, vol points
``vix_macd_signal``           float    EMA(signal) of ``vix_macd``, vol points
``vix_macd_hist``             float    ``vix_macd - vix_macd_signal``, vol points
``vix_macd_compressed``       bool     histogram compression (below)
``vix_macd_turning_up``       bool     histogram turning up after compression (below)
``spx_macd``                  float    as ``vix_macd`` on the SPX close, index points
``spx_macd_signal``           float    index points
``spx_macd_hist``             float    index points
``spx_macd_compressed``       bool     the same compression rule on the SPX histogram
``ad_line``                   float    cumulative (advances - declines), issues; NaN: no breadth
``ad_below_high_frac``        float    ``(H - AD) / |H|``, ``H`` the 20-day high of ``ad_line``
``spx_at_high20``             bool     SPX close is the highest close of the last 20 sessions
``ad_divergence``             bool     ``spx_at_high20`` and ``ad_below_high_frac >= 0.01``
``term_slope``                float    VX2/VX1 - 1, else VIX3M/VIX - 1 (fraction, below)
``term_slope_source``         str      ``"futures"``, ``"indices"``, ``"model"`` or ``"none"``
``term_slope_modelled``       bool     an input of ``term_slope`` was modelled
``backwardation``             bool     ``term_slope < 0``
``term_slope_fall_5d``        float    ``slope[t-5] - slope[t]``; > 0 = moving toward backwardation
``term_toward_backwardation`` bool     ``term_slope_fall_5d > slope_fall_threshold`` (ALVH trigger)
``ivr_252``                   float    IV rank of VIX in its trailing 252 sessions, 0..1
``ivp_252``                   float    IV percentile of VIX in its trailing 252 sessions, 0..1
``rv20_annual``               float    20-day close-to-close realised vol of SPX, annualised decimal
``vrp_volpts``                float    variance risk premium ``VIX - 100 * rv20_annual``, vol points
``days_to_fomc``              float    sessions to the next FOMC decision (0 = today); NaN: none
``days_to_cpi``               float    sessions to the next CPI release; NaN: none known
``days_to_ppi``               float    sessions to the next PPI release; NaN: none known
``days_to_event``             float    the smallest of the three
``event_within_window``       bool     ``days_to_event <= event_window_days`` (ALVH trigger)
``spx_modelled``              bool     the day's SPX bar is modelled
``vix_modelled``              bool     the day's VIX close is modelled
``vvix_modelled``             bool     the day's VVIX close is modelled
``breadth_modelled``          bool     the day's breadth is modelled
``rsi_vx1_modelled``          bool     the day's ``rsi_vx1`` input is modelled
============================= ======== ============================================================

A ``*_modelled`` flag describes the day's own input; an indicator over a window that mixes
real and modelled days is flagged by its last day.

Definitions
-----------
**RSI** (Wilder 1978). With changes :math:`\Delta_t = x_t - x_{t-1}`, gains
:math:`U_t = \max(\Delta_t, 0)`, losses :math:`D_t = \max(-\Delta_t, 0)` and :math:`n` =
``rsi_days``: :math:`\bar U_n = \frac1n\sum_{t=1}^{n} U_t`, then
:math:`\bar U_t = ((n-1)\bar U_{t-1} + U_t)/n` (likewise :math:`\bar D`), and
:math:`\mathrm{RSI}_t = 100\,\bar U_t/(\bar U_t + \bar D_t)`. First value on the
``n``-th change.
The front-future input is one spliced series: the real VX1 settle on days with real futures
(a listed VX1 without a settle is a missing day, never replaced by VIX), else the VIX close.
It is the unadjusted front-month series traders chart: a roll to the next contract, and a
switch of source (2004-03-26 and 2014-08-15 in the real data), count as ordinary changes,
whose effect on the RSI fades with Wilder's smoothing over a few weeks.

**MACD** (Appel). :math:`\mathrm{EMA}_p` with :math:`\alpha = 2/(p+1)`, seeded with the simple
mean of its first ``p`` inputs; ``macd = EMA_fast - EMA_slow`` (both EMAs start on the
``slow``-th value, as TA-Lib aligns them), ``signal = EMA_signal(macd)``, ``hist = macd -
signal``; first value on input ``slow + signal - 1`` (the 34th by default).

**Compression** of a histogram :math:`h` on day *t*: :math:`|h_t| < \frac1{m}\sum_{k=0}^{m-1}
|h_{t-k}|` (``m`` = ``compression_mean_days``, the mean includes today) and :math:`|h|` fell
on each of the last ``compression_falling_days`` days:
:math:`|h_{t-k}| < |h_{t-k-1}|` for :math:`k = 0..2`. The VIX's momentum is fading: volatility
is mean-reverting (METHOD section 6 adds a ladder rung on it).

**Turning up after compression** (METHOD section 8): on day *t*, :math:`h_t > h_{t-1}` and
:math:`h_t > 0` (VIX momentum is rising and positive) and the histogram was compressed on at
least one of the ``turn_window_days`` sessions before *t*.

**A/D line**: :math:`AD_t = \sum_{s \le t} (\mathrm{adv}_s - \mathrm{dec}_s)`, summed from the
first session of the history with breadth (days without breadth add nothing and are NaN).
Its origin is arbitrary, so the 1% test below depends on where the history starts; it is
stable once the line is far from zero. **Divergence**: the SPX close is the highest of the
last ``ad_high_days`` closes while :math:`AD_t \le H_t - 0.01\,|H_t|`, :math:`H_t` the
highest A/D value of the same window (``ad_below_high`` = 0.01).

**Term structure slope**: ``VX2 / VX1 - 1`` from real futures settles (source
``"futures"``); else ``VIX3M / VIX - 1`` (``"indices"``); else, on days with a modelled VX
curve built with a node beyond 30 days (VIX6M; a curve modelled from VIX alone has no slope
information and is not used), the modelled ``VX2 / VX1 - 1`` (``"model"``); else NaN
(``"none"``). Backwardation: slope < 0. **Toward backwardation** (METHOD section 8's
"steepening toward backwardation"): the slope *falls*; ``term_slope_fall_5d`` =
:math:`s_{t-k} - s_t` (``k`` = ``slope_change_days``) is positive then, and NaN when the two
days have different sources (a switch of source is not a move of the market). The trigger
fires when the fall exceeds ``slope_fall_threshold`` (default 0.05, five slope points: a
typical contango VX2/VX1 slope is about +0.05, VIX3M/VIX about +0.10).

**IV rank / percentile** over the window :math:`W_t` of the last ``iv_window_days`` VIX
closes (today included): :math:`\mathrm{IVR}_t = (v_t - \min W_t) / (\max W_t - \min W_t)`
(NaN when the window is flat) and :math:`\mathrm{IVP}_t = \#\{v \in W_t : v < v_t\} /
(|W_t| - 1)`, the share of the other days of the window below today.

**Realised vol** over the last ``rv_days`` log returns :math:`r` of the SPX close:
:math:`\sqrt{A \cdot \frac1n \sum r^2}` (zero mean, the variance-swap convention that VIX
prices; ``rv_demean=True`` takes the sample standard deviation instead), ``A`` =
``annualisation_days`` (252). **VRP** = VIX - 100 RV, vol points.

**Events**: :attr:`MarketHistory.daily`'s ``days_to_*`` (scheduled dates are published in
advance, so knowing them is not look-ahead), as float with NaN where no event is known ahead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import talib
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vixshield.data.market import MarketHistory
from vixshield.errors import DataError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

EVENT_KINDS: Final = ("fomc", "cpi", "ppi")
SLOPE_SOURCES: Final = ("futures", "indices", "model", "none")


class IndicatorParams(BaseModel):
    """Indicator windows and thresholds (METHOD section 3)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rsi_days: int = Field(
        default=14, ge=2, le=100, description="Wilder RSI period, sessions (SPX, VX1 or VIX, VVIX)"
    )
    macd_fast_days: int = Field(
        default=12, ge=2, le=100, description="MACD fast EMA period, sessions"
    )
    macd_slow_days: int = Field(
        default=26, ge=3, le=200, description="MACD slow EMA period, sessions"
    )
    macd_signal_days: int = Field(
        default=9, ge=2, le=100, description="MACD signal EMA period, sessions"
    )
    compression_mean_days: int = Field(
        default=20,
        ge=2,
        le=250,
        description="histogram compression: |hist| below its mean over this many sessions",
    )
    compression_falling_days: int = Field(
        default=3,
        ge=1,
        le=20,
        description="histogram compression: |hist| fell on this many sessions running",
    )
    turn_window_days: int = Field(
        default=5,
        ge=1,
        le=60,
        description="turning up counts when compressed on one of this many sessions before",
    )
    ad_high_days: int = Field(
        default=20,
        ge=2,
        le=250,
        description="A/D divergence: window of the SPX and A/D highs, sessions",
    )
    ad_below_high: float = Field(
        default=0.01,
        gt=0.0,
        le=0.5,
        allow_inf_nan=False,
        description="A/D divergence: A/D line at least this fraction below its own high",
    )
    slope_change_days: int = Field(
        default=5, ge=1, le=60, description="term slope change horizon, sessions"
    )
    slope_fall_threshold: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="toward backwardation: the slope fell by more than this over the horizon",
    )
    iv_window_days: int = Field(
        default=252,
        ge=20,
        le=2520,
        description="IV rank / percentile window of VIX closes, sessions",
    )
    rv_days: int = Field(default=20, ge=2, le=252, description="realised vol window, log returns")
    rv_demean: bool = Field(
        default=False,
        description="realised vol: sample standard deviation (true) or zero-mean (false)",
    )
    annualisation_days: int = Field(
        default=252, ge=200, le=366, description="sessions per year for annualising realised vol"
    )
    event_window_days: int = Field(
        default=5,
        ge=0,
        le=60,
        description="event_within_window: an FOMC/CPI/PPI event within this many sessions",
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> IndicatorParams:
        if self.macd_fast_days >= self.macd_slow_days:
            raise ValueError(
                f"macd_fast_days ({self.macd_fast_days}) must be below "
                f"macd_slow_days ({self.macd_slow_days})"
            )
        return self


DEFAULT_PARAMS: Final = IndicatorParams()


# --------------------------------------------------------------------------- helpers


def _on_finite(values: FloatArray, fn: Callable[[FloatArray], FloatArray]) -> FloatArray:
    """``fn`` over the sub-series of finite values, scattered back (NaN elsewhere)."""
    out = np.full(values.shape, np.nan)
    mask = np.isfinite(values)
    if mask.any():
        out[mask] = fn(np.ascontiguousarray(values[mask], dtype=np.float64))
    return out


def rsi(values: FloatArray, days: int = 14) -> FloatArray:
    """Wilder's RSI (TA-Lib ``RSI``) over the finite values of ``values``; 0..100, NaN before.

    See the module docstring for the formula. Missing days are skipped (NaN there).
    """

    def f(x: FloatArray) -> FloatArray:
        return np.asarray(talib.RSI(x, timeperiod=days), dtype=np.float64)

    return _on_finite(np.asarray(values, dtype=np.float64), f)


def macd(
    values: FloatArray, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, signal line and histogram (TA-Lib ``MACD``), in the units of ``values``.

    ``macd = EMA_fast - EMA_slow``, ``signal = EMA_signal(macd)``, ``hist = macd - signal``;
    EMAs with :math:`\\alpha = 2/(p+1)` seeded by a simple mean. Missing days are skipped.
    """
    x = np.asarray(values, dtype=np.float64)
    parts = []
    for k in range(3):

        def f(v: FloatArray, k: int = k) -> FloatArray:
            out = talib.MACD(v, fastperiod=fast, slowperiod=slow, signalperiod=signal)
            return np.asarray(out[k], dtype=np.float64)

        parts.append(_on_finite(x, f))
    return parts[0], parts[1], parts[2]


def _lag(x: npt.NDArray[Any], k: int, fill: Any = np.nan) -> npt.NDArray[Any]:
    """``x`` shifted ``k`` places later (``out[t] = x[t-k]``), ``fill`` at the start."""
    out = np.empty_like(x)
    out[:k] = fill
    out[k:] = x[: len(x) - k]
    return out


def _rolling(x: FloatArray, days: int, how: str) -> FloatArray:
    """Trailing ``days``-session mean / max / min including today; NaN unless all finite."""
    roll = pd.Series(x).rolling(days, min_periods=days)
    out = getattr(roll, how)()
    return np.asarray(out.to_numpy(dtype=np.float64), dtype=np.float64)


def compressed(hist: FloatArray, *, mean_days: int = 20, falling_days: int = 3) -> BoolArray:
    r"""Histogram compression: :math:`|h_t|` below its ``mean_days`` mean and falling.

    True on *t* when :math:`|h_t| < \mathrm{mean}(|h_{t-m+1..t}|)` and
    :math:`|h_{t-k}| < |h_{t-k-1}|` for every :math:`k < ` ``falling_days``.
    """
    a = np.abs(np.asarray(hist, dtype=np.float64))
    out = a < _rolling(a, mean_days, "mean")
    for k in range(falling_days):
        out &= _lag(a, k) < _lag(a, k + 1)
    return np.asarray(out, dtype=np.bool_)


def turning_up(hist: FloatArray, was_compressed: BoolArray, *, window_days: int = 5) -> BoolArray:
    """True on *t* when ``h[t] > h[t-1]``, ``h[t] > 0`` and compressed on a day in t-w..t-1."""
    h = np.asarray(hist, dtype=np.float64)
    recent = np.zeros(len(h), dtype=np.bool_)
    for k in range(1, window_days + 1):
        recent |= _lag(np.asarray(was_compressed, dtype=np.bool_), k, fill=False)
    return np.asarray((h > _lag(h, 1)) & (h > 0.0) & recent, dtype=np.bool_)


def iv_rank_percentile(values: FloatArray, days: int = 252) -> tuple[FloatArray, FloatArray]:
    """IV rank and percentile of each value against its trailing ``days`` values (fractions).

    ``rank = (v - min) / (max - min)``; ``percentile`` = share of the other ``days - 1``
    values of the window strictly below ``v``. NaN until a full window of finite values.
    """
    v = np.asarray(values, dtype=np.float64)
    rank = np.full(len(v), np.nan)
    pct = np.full(len(v), np.nan)
    if len(v) < days:
        return rank, pct
    win = np.lib.stride_tricks.sliding_window_view(v, days)
    today = v[days - 1 :]
    ok = np.isfinite(win).all(axis=1)
    lo, hi = win.min(axis=1), win.max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(hi > lo, (today - lo) / (hi - lo), np.nan)
    p = (win < today[:, None]).sum(axis=1) / (days - 1)
    rank[days - 1 :] = np.where(ok, r, np.nan)
    pct[days - 1 :] = np.where(ok, p, np.nan)
    return rank, pct


def realised_vol(
    close: FloatArray, days: int = 20, *, annualisation: int = 252, demean: bool = False
) -> FloatArray:
    r"""Close-to-close realised vol over the last ``days`` log returns, annualised (decimal).

    Zero mean: :math:`\sqrt{A \frac1n\sum r^2}`; ``demean``: :math:`\sqrt{A}\,` sample std.
    """
    c = np.asarray(close, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.log(c / _lag(c, 1))
    if demean:
        s = pd.Series(r).rolling(days, min_periods=days).std(ddof=1).to_numpy(dtype=np.float64)
        return np.asarray(s * math.sqrt(annualisation), dtype=np.float64)
    return np.asarray(np.sqrt(annualisation * _rolling(r * r, days, "mean")), dtype=np.float64)


def ad_divergence(
    spx_close: FloatArray,
    ad_line: FloatArray,
    *,
    high_days: int = 20,
    below_high: float = 0.01,
) -> tuple[BoolArray, FloatArray, BoolArray]:
    """SPX at its ``high_days`` closing high while the A/D line sits below its own high.

    Returns ``(spx_at_high, ad_below_high_frac, divergence)`` with
    ``ad_below_high_frac = (H - AD) / |H|`` and ``divergence = spx_at_high & frac >= below``.
    """
    c = np.asarray(spx_close, dtype=np.float64)
    ad = np.asarray(ad_line, dtype=np.float64)
    at_high = c >= _on_finite(c, lambda x: _rolling(x, high_days, "max"))
    high = _on_finite(ad, lambda x: _rolling(x, high_days, "max"))
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(high != 0.0, (high - ad) / np.abs(high), np.nan)
    # Relative tolerance: (H - AD)/|H| computed in floating point can land a hair under an
    # exact 1% gap; a gap of ``below_high`` is meant to count.
    div = at_high & (frac >= below_high * (1.0 - 1e-12))
    return (
        np.asarray(at_high, dtype=np.bool_),
        np.asarray(frac, dtype=np.float64),
        np.asarray(div, dtype=np.bool_),
    )


def _curve_front(history: MarketHistory, n: int) -> dict[str, npt.NDArray[Any]]:
    """VX1/VX2 settles and flags on the spine, and whether each day has real futures rows."""
    vx1 = np.full(n, np.nan)
    vx2 = np.full(n, np.nan)
    mod1 = np.zeros(n, dtype=np.bool_)
    mod2 = np.zeros(n, dtype=np.bool_)
    real_day = np.zeros(n, dtype=np.bool_)
    curve = history.curve
    if not curve.empty:
        pos = pd.Series(np.arange(n), index=history.daily.index)
        at = pos.reindex(pd.DatetimeIndex(curve["date"])).to_numpy(dtype=np.float64)
        keep = np.isfinite(at)
        at_i = at[keep].astype(np.int64)
        rank = curve["rank"].to_numpy(dtype=np.int64)[keep]
        settle = curve["settle"].to_numpy(dtype=np.float64)[keep]
        modelled = curve["modelled"].to_numpy(dtype=np.bool_)[keep]
        real_day[at_i[~modelled]] = True
        for r, values, flags in ((1, vx1, mod1), (2, vx2, mod2)):
            sel = rank == r
            values[at_i[sel]] = settle[sel]
            flags[at_i[sel]] = modelled[sel]
    return {"vx1": vx1, "vx2": vx2, "mod1": mod1, "mod2": mod2, "real_day": real_day}


def _flag(daily: pd.DataFrame, column: str) -> BoolArray:
    if column not in daily.columns:
        return np.zeros(len(daily), dtype=np.bool_)
    return np.asarray(daily[column].to_numpy(dtype=np.bool_), dtype=np.bool_)


def _col(daily: pd.DataFrame, column: str) -> FloatArray:
    if column not in daily.columns:
        return np.full(len(daily), np.nan)
    return np.asarray(daily[column].to_numpy(dtype=np.float64), dtype=np.float64)


# --------------------------------------------------------------------------- public API


def compute_indicators(
    history: MarketHistory, params: IndicatorParams = DEFAULT_PARAMS
) -> pd.DataFrame:
    """Every METHOD section 3 indicator for every session of ``history``.

    Parameters
    ----------
    history
        The market history; only its ``daily`` and ``curve`` frames are read.
    params
        Windows and thresholds (:class:`IndicatorParams`).

    Returns
    -------
    pandas.DataFrame
        Indexed by session (the history's ``DatetimeIndex``), one column per indicator as
        the module docstring lists. Causal: row *t* depends on rows up to *t* only.
    """
    p = params
    daily = history.daily
    n = len(daily)
    out = pd.DataFrame(index=daily.index.copy())
    spx = _col(daily, "spx_close")
    vix = _col(daily, "vix")
    vvix = _col(daily, "vvix")
    vix_mod = _flag(daily, "vix_modelled")
    out["spx_close"] = spx
    out["vix"] = vix

    # RSI on SPX, on the front future (VIX where the day has no real futures), on VVIX.
    front = _curve_front(history, n)
    real_day = front["real_day"]
    vx1_input = np.where(real_day, front["vx1"], vix)
    out["rsi_spx"] = rsi(spx, p.rsi_days)
    out["rsi_vx1"] = rsi(vx1_input, p.rsi_days)
    out["rsi_vx1_source"] = pd.array(np.where(real_day, "futures", "vix"), dtype="str")
    out["rsi_vvix"] = rsi(vvix, p.rsi_days)

    # MACD on VIX and SPX, compression and turning up.
    for name, series in (("vix", vix), ("spx", spx)):
        line, sig, hist = macd(series, p.macd_fast_days, p.macd_slow_days, p.macd_signal_days)
        out[f"{name}_macd"] = line
        out[f"{name}_macd_signal"] = sig
        out[f"{name}_macd_hist"] = hist
        # On the series' own days, like the MACD: a missing VIX day does not void a window.
        have = np.isfinite(series)
        comp = np.zeros(n, dtype=np.bool_)
        comp[have] = compressed(
            hist[have], mean_days=p.compression_mean_days, falling_days=p.compression_falling_days
        )
        out[f"{name}_macd_compressed"] = comp
        if name == "vix":
            up = np.zeros(n, dtype=np.bool_)
            up[have] = turning_up(hist[have], comp[have], window_days=p.turn_window_days)
            out["vix_macd_turning_up"] = up

    # Breadth: the A/D line and its divergence from SPX.
    net = _col(daily, "advances") - _col(daily, "declines")
    ad = np.asarray(pd.Series(net).cumsum(skipna=True).to_numpy(dtype=np.float64), dtype=np.float64)
    at_high, frac, div = ad_divergence(
        spx, ad, high_days=p.ad_high_days, below_high=p.ad_below_high
    )
    out["ad_line"] = ad
    out["ad_below_high_frac"] = frac
    out["spx_at_high20"] = at_high
    out["ad_divergence"] = div

    # Term structure slope: real futures, else VIX3M/VIX, else a modelled curve with VIX6M.
    vix3m = _col(daily, "vix3m")
    vix6m = _col(daily, "vix6m")
    vx1, vx2 = front["vx1"], front["vx2"]
    fut_ok = real_day & ~front["mod1"] & ~front["mod2"] & np.isfinite(vx1) & np.isfinite(vx2)
    idx_ok = ~fut_ok & np.isfinite(vix3m) & np.isfinite(vix)
    mod_ok = (
        ~fut_ok
        & ~idx_ok
        & (front["mod1"] | front["mod2"])
        & np.isfinite(vx1)
        & np.isfinite(vx2)
        & np.isfinite(vix6m)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(
            fut_ok | mod_ok, vx2 / vx1 - 1.0, np.where(idx_ok, vix3m / vix - 1.0, np.nan)
        )
    source = np.select([fut_ok, idx_ok, mod_ok], ["futures", "indices", "model"], "none")
    slope_mod = mod_ok | (idx_ok & (vix_mod | _flag(daily, "vix3m_modelled")))
    k = p.slope_change_days
    same = source == _lag(source.astype(object), k, fill="")
    fall = np.where(same, _lag(slope, k) - slope, np.nan)
    out["term_slope"] = slope
    out["term_slope_source"] = pd.array(source, dtype="str")
    out["term_slope_modelled"] = slope_mod
    out["backwardation"] = slope < 0.0
    out["term_slope_fall_5d"] = fall
    out["term_toward_backwardation"] = fall > p.slope_fall_threshold

    # Volatility level: IV rank / percentile, realised vol, variance risk premium.
    ivr = np.full(n, np.nan)
    ivp = np.full(n, np.nan)
    have_vix = np.isfinite(vix)
    ivr[have_vix], ivp[have_vix] = iv_rank_percentile(vix[have_vix], p.iv_window_days)
    out["ivr_252"] = ivr
    out["ivp_252"] = ivp
    rv = realised_vol(spx, p.rv_days, annualisation=p.annualisation_days, demean=p.rv_demean)
    out["rv20_annual"] = rv
    out["vrp_volpts"] = vix - 100.0 * rv

    # Events: scheduled, so known in advance; -1 ("none known ahead") becomes NaN.
    days = []
    for kind in EVENT_KINDS:
        d = _col(daily, f"days_to_{kind}")
        d = np.where(d >= 0, d, np.nan)
        out[f"days_to_{kind}"] = d
        days.append(d)
    stacked = np.vstack(days)
    any_known = np.isfinite(stacked).any(axis=0)
    nearest = np.full(n, np.nan)
    if any_known.any():
        nearest[any_known] = np.nanmin(stacked[:, any_known], axis=0)
    out["days_to_event"] = nearest
    out["event_within_window"] = nearest <= p.event_window_days

    # Provenance of the inputs.
    out["spx_modelled"] = _flag(daily, "spx_modelled")
    out["vix_modelled"] = vix_mod
    out["vvix_modelled"] = _flag(daily, "vvix_modelled")
    out["breadth_modelled"] = _flag(daily, "breadth_modelled")
    out["rsi_vx1_modelled"] = np.where(real_day, front["mod1"], vix_mod)
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def indicator_snapshot(frame: pd.DataFrame, session: date) -> dict[str, Any]:
    """One session of a :func:`compute_indicators` frame as a JSON-able dict.

    Floats stay floats (NaN becomes ``None``), flags are ``bool``, sources ``str``; the
    ``session`` key holds the ISO date.

    Raises
    ------
    DataError
        ``session`` is not a row of ``frame``.
    """
    key = pd.Timestamp(session)
    if key not in frame.index:
        raise DataError(
            f"{session} is not a session of the indicator frame "
            f"({frame.index.min().date()}..{frame.index.max().date()}); "
            "compute the indicators over a history that includes it"
        )
    row = frame.loc[key]
    snap: dict[str, Any] = {"session": key.date().isoformat()}
    for name in frame.columns:
        snap[str(name)] = _json_value(row[name])
    return snap
