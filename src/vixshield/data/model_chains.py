r"""Model option chains for days without real quotes: SPX/SPXW from the VIX family, VIX from VX.

The project has one real option chain (SPXW, 2019-06-26 15:45 ET). Every other day of a
backtest needs a chain that the decision code can read exactly as it reads a real one. This
module synthesises such chains from the day's public index levels, calibrated on the real chain,
and returns them in the canonical chain format of :mod:`vixshield.data.chains` with
``modelled = True``.

SPX and SPXW chains (:func:`model_spx_chain`)
---------------------------------------------
**1. Variance term structure from the VIX family.** Each Cboe volatility index is a 30-day-style
model-free variance-swap volatility at a constant maturity (VIX9D 9 days, VIX 30, VIX3M 93,
VIX6M 186; Cboe, *VIX White Paper*, 2019). Their total variances
:math:`W(\tau_j) = \sigma_j^2 \tau_j` with :math:`W(0) = 0` are interpolated **linearly in total
variance** (piecewise-constant forward variance, as in :mod:`vixshield.data.vx_curve`); beyond the
last node the last forward variance continues. Nodes whose total variance would fall (negative
forward variance, an arbitrage in the inputs) are floored at the previous node. Whatever nodes
exist that day are used. **When VIX is the only index** (VIX6M starts 2008, VIX3M 2009-09, VIX9D
2011) the term shape is the expected average variance of a mean-reverting (Heston-type) variance,

.. math::
    W(T) = \bar v T + (v_0 - \bar v)\,\frac{1 - e^{-\kappa T}}{\kappa},

with :math:`v_0` solved so that :math:`W(30/365) = \mathrm{VIX}^2 \cdot 30/365`, and
:math:`\bar v, \kappa` fitted by ``scripts/calibrate_model_chains.py`` to VIX3M and VIX6M against
VIX over 2009-09..2019 (:attr:`SpxModelParams.long_run_vol`, :attr:`SpxModelParams.kappa`).

**2. Smile: SSVI.** Total implied variance at log-moneyness :math:`k = \ln(K/F)` is the surface
SVI of Gatheral and Jacquier (*Arbitrage-free SVI volatility surfaces*, Quantitative Finance 14,
2014, eq. 4.1),

.. math::
    w(k, \theta) = \frac{\theta}{2}\Bigl(1 + \rho\varphi k
        + \sqrt{(\varphi k + \rho)^2 + 1 - \rho^2}\Bigr),\qquad
    \varphi(\theta) = \frac{\eta}{\theta^{\gamma}(1 + \theta)^{1-\gamma}},

with :math:`\theta(T)` the ATM total variance. The normalised ATM skew
:math:`\partial\sigma/\partial(k/\sigma\sqrt T)\,/\,\sigma = \rho\varphi\sqrt\theta/2` is
proportional to :math:`\eta`; :math:`\gamma` sets how the skew decays with maturity.
:math:`\varphi` is capped at :math:`4/(\theta(1+|\rho|))` and :math:`\sqrt{4/(\theta(1+|\rho|))}`
(times 0.999), the sufficient conditions of their Theorem 4.2 for **no butterfly arbitrage**; the
cap keeps :math:`\theta\varphi` non-decreasing and :math:`\partial_\theta(\theta\varphi)\le\varphi`,
so with :math:`\theta(T)` non-decreasing their Theorem 4.1 gives **no calendar arbitrage**.

**3. ATM level from the variance swap.** VIX is not ATM vol: the model-free variance includes the
skew. For each expiry, :math:`\theta` solves :math:`\mathrm{VS}(\theta) = s\,W(T)` where
:math:`\mathrm{VS}` is the model's own variance-swap total variance (Gatheral, *The Volatility
Surface*, 2006, eq. 11.3),

.. math::
    \mathrm{VS}(\theta) = \int w(k,\theta)\, d\,N(-d_2(k)),\qquad
    d_2 = -k/\sqrt{w} - \sqrt{w}/2,

so the ratio :math:`c = \sigma_{ATM}/\sigma_{VS}` follows from the skew (and so from SKEW) rather
than being a constant. The scale :math:`s` (:attr:`SpxModelParams.vs_scale`) is fitted on the real
chain: the quoted chain's variance swap falls short of the full SSVI integral because its wings
are truncated and fatter than SSVI's far out. On 2019-06-26 the measured ATM/VIX ratio was 0.867
at 30 days (model: 0.877), and about 0.85 at 60 days; see :data:`CALIBRATION_NOTES`.

**4. Skew tied to SKEW.** Cboe's SKEW is :math:`100 - 10\,S` with :math:`S` the 30-day
risk-neutral skewness of log returns from OTM option prices (Cboe, *SKEW white paper*). To first
order the normalised smile slope is proportional to the skewness (Backus, Foresi and Wu,
*Accounting for biases in Black-Scholes*, 1997), and in SSVI the slope is proportional to
:math:`\eta`. The calibration script computes the model's own SKEW (Cboe's formula on model
quotes, truncated where a quote would have no bid) for a grid of :math:`\eta` at the reference
day and stores the inverse table; each day :math:`\eta = \eta_{ref}\,(\eta_{table}(\mathrm{SKEW})
/ \eta_{ref})^{\lambda}` with :math:`\lambda` = :attr:`SpxModelParams.skew_elasticity`.
Without a SKEW value (the 2000-09 gap) :math:`\eta_{ref}` is used.

**5. Forwards, listing, quotes.** :math:`F = S e^{(r-q)T}` from spot, a flat rate and a dividend
yield; :math:`T` is real elapsed minutes to the settlement instant over 525,600
(:func:`vixshield.calendar.settlement_datetime`: 09:30 ET for SPX AM, the close for SPXW PM).
Expiries follow the 2019 listing pattern (:class:`ListingRules`) over the calendar's series of
that era: SPX AM monthlies, and SPXW PM month-ends, third Fridays, Friday weeklies and
Monday/Wednesday (later Tuesday/Thursday) weeklies, each out to a horizon. Strikes are multiples
of 5 near the money widening to 25, 50 and 100 points (:data:`SPX_STRIKE_BANDS`, bands in
:math:`\ln(K/S)` scaled by :math:`\max(0.75, \min(3, \mathrm{VIX}/16))`). Quotes are the model
value :math:`V` plus and minus half a width
:math:`\omega = \exp(c_0 + c_1\ln V + c_2\sqrt T + c_3 \mathbb 1_{ITM} + c_4 \mathbb 1_{ITM}\ln V)`
fitted on the real chain's quotes with a bid; the bid is rounded down and the ask up to Cboe's
tick (0.05 below $3, 0.10 from $3), so far out of the money the bid is 0 and the ask 0.05 as in
the real chain. ``iv`` is the model volatility of the row and ``delta`` the spot delta
:math:`e^{-qT}N(d_1)` (calls) or :math:`-e^{-qT}N(-d_1)` (puts), as a vendor reports it.

VIX option chains (:func:`model_vix_chain`)
-------------------------------------------
European, AM-settled on the VRO, priced with **Black-76 on the VX future of the same expiry**
(METHOD section 1; real or modelled futures, e.g. :func:`vixshield.data.vx_curve.with_fallback`).
VVIX is the 30-day model-free volatility of VIX (computed from VIX options with the VIX method),
so the same variance-swap construction applies with an upward skew: SSVI with
:math:`\rho > 0` (calls richer). The variance-swap vol of VIX at maturity :math:`T` is
:math:`\mathrm{VVIX}\,(T/T_{30})^{-\alpha}` (vol of vol falls with maturity: mean reversion of
VIX, the Samuelson effect of VX futures); :math:`\alpha` was fitted by the calibration script to
the realised volatility of VX futures returns by time to expiry (2007-2014), normalised at 30
days. The VIX smile parameters and quote widths have no real VIX option data to be fitted to
(the repository holds none); they are documented defaults (:class:`VixModelParams`). Strikes are
0.5 points apart below 20, 1 point to 50, 2.5 points to 80 and 5 above, like Cboe's listing.

Calibration (``scripts/calibrate_model_chains.py`` -> ``model_chain_params.json``)
----------------------------------------------------------------------------------
* Smile on the 2019-06-26 chain (2,394 OTM quotes with a bid at 5-50 delta, 1 day to 1 year),
  :math:`\theta(T)` from that day's indices: :math:`\rho = -0.663`, :math:`\eta_{ref} =
  2.063`, :math:`\gamma = 0.346`, ``vs_scale`` = 0.945. Model minus real implied vol: bias
  -0.03, RMSE 0.43 vol points overall; RMSE 1.40 in the first week (holiday and G20-weekend
  event variance), 0.47 at 7-21 days, 0.25 at 21-45, 0.17 at 45-90, 0.38 at 90-400.
  Refitting on every other expiry and testing on the rest gives 0.44 and 0.53
  (``tests/real/test_model_chains_real.py`` has the table and the checks).
* SKEW: the model's own 30-day SKEW at the fitted :math:`\eta` is 117.23 against the
  published 117.16, so the SKEW link holds at the one day it can be checked; the table
  spans SKEW 103-137 (:math:`\eta` 0.4-4.6), beyond which :math:`\eta` is held at the end
  (above about 4.4 the no-arbitrage cap on :math:`\varphi` binds at 30 days anyway).
* VIX-only term shape: :math:`\sqrt{\bar v}` = 0.360, :math:`\kappa` = 0.614 per year;
  RMSE 1.6 vol points against VIX3M and VIX6M over 2009-09..2019.
* Widths: :math:`c = (-2.342, 0.327, -0.212, -1.472, 0.465)`; after tick rounding the median
  model/real width is 1.00 on the 9,515 real quotes with a bid, 61% within a factor 1.5.
* Vol of vol: realised vol of daily VX log changes falls from 79% (9 days to expiry) to 68%
  (22), 60% (38), 44% (74), 33% (139) and 31% (184): :math:`\alpha` = 0.33.

Limits, stated plainly: one real chain fixes the smile's shape and the SKEW link at one point
(SKEW 117, VIX 16); the elasticity to SKEW elsewhere is the model's (Backus-Foresi-Wu) and not
measured. SSVI wings beyond 5 delta are thinner than the real chain's (3-8 vol points below
1 delta), so the VIX computed from a model chain is :math:`\sqrt{s}` = 0.972 of the input VIX
(15.74 against 16.21 on 2019-06-26). Events (FOMC, CPI, holidays) are not placed on their dates.

Performance
-----------
One call prices every row in a few vectorised passes (no loop over strikes; loops are over
expiries for their dates, at most three maturity classes and four band rungs). The frame is
built directly in canonical dtypes; :func:`vixshield.data.chains.validate_chain` accepts it
unchanged (the unit tests check that) but is not run by default because it costs ~130 ms per
chain; pass ``validate=True`` to run it. Measured on one core of the development machine:
2019-06-26 (43 expiries, 13,512 rows) 7-11 ms; a 2024-like day (52 expiries, 25,180 rows)
15-17 ms; 1995 (13 SPX expiries) 3 ms; a VIX chain (8 expiries, 918 rows) 3 ms. Both
builders keep their last eight chains by their full inputs (the models are pure functions):
a backtest asks for a day's chain twice (the decision, then the fills and marks) and builds
it once. Each call gets its own shallow copy, so with pandas copy-on-write no caller can
change what another reads.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import least_squares
from scipy.special import ndtr

from vixshield import calendar
from vixshield.calendar import ExpiryKind
from vixshield.data.chains import CANONICAL_COLUMNS, validate_chain
from vixshield.errors import InvalidInputError
from vixshield.pricing.black import black76_greeks
from vixshield.units import AM_SETTLEMENT_TIME, DAYS_PER_YEAR, NEW_YORK, years_between

__all__ = [
    "CALIBRATION_NOTES",
    "DEFAULT_QUOTE_TIME",
    "INDEX_TENOR_DAYS",
    "PARAMS_FILE",
    "SPX_STRIKE_BANDS",
    "ListingRules",
    "SpxModelParams",
    "SpxSurface",
    "VixModelParams",
    "WidthParams",
    "calibrate_spx_smile",
    "listed_spx_expiries",
    "load_params",
    "model_spx_chain",
    "model_vix_chain",
    "quote_from_value",
    "spx_surface",
    "ssvi_total_variance",
    "variance_swap_total_variance",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_QUOTE_TIME: Final = time(15, 45)
"""Default snapshot time (New York), the DataShop snapshot of the real chain."""
INDEX_TENOR_DAYS: Final[Mapping[str, int]] = MappingProxyType(
    {"vix9d": 9, "vix": 30, "vix3m": 93, "vix6m": 186}
)
"""Constant maturity, in calendar days, of each Cboe volatility index."""
PARAMS_FILE: Final = Path(__file__).with_name("model_chain_params.json")
"""The calibration record written by ``scripts/calibrate_model_chains.py``."""

SPX_STRIKE_BANDS: Final[Mapping[str, tuple[tuple[float, float, float], ...]]] = MappingProxyType(
    {
        # (strike step, lowest ln(K/S), highest ln(K/S)) per maturity class, read off the
        # 2019-06-26 listing (S = 2918): near the money every 5 points, then 25, 50 and 100.
        "near": (
            (5.0, -0.20, 0.08),
            (25.0, -0.35, 0.12),
            (50.0, -0.50, 0.20),
            (100.0, -0.65, 0.30),
        ),
        "mid": ((5.0, -0.20, 0.09), (25.0, -0.40, 0.12), (50.0, -0.55, 0.16), (100.0, -0.65, 0.35)),
        "far": ((25.0, -0.55, 0.12), (50.0, -0.60, 0.16), (100.0, -0.75, 0.40)),
    }
)
"""Strike bands by maturity class: near up to 70 days, mid to 130, far beyond."""
_FRIDAY: Final = 4
_NEAR_DAYS: Final = 70
_MID_DAYS: Final = 130
_BAND_VOL_REF: Final = 16.0  # VIX level at which the bands are the listed 2019 ones
_VIX_STRIKE_BANDS: Final = (
    (0.5, 0.0, 20.0),
    (1.0, 20.0, 50.0),
    (2.5, 50.0, 80.0),
    (5.0, 80.0, 1e9),
)
_TICK_SMALL: Final = 0.05
_TICK_LARGE: Final = 0.10
_TICK_BREAK: Final = 3.0
_NO_ARB_MARGIN: Final = 0.999
_T30: Final = 30.0 / DAYS_PER_YEAR
_X_GRID: Final = np.linspace(-16.0, 10.0, 257)  # k / sqrt(theta) for the variance-swap integral
_THETA_ITERATIONS: Final = 3  # secant steps after the first evaluation
_MIN_T_YEARS: Final = 1.0 / (DAYS_PER_YEAR * 24.0 * 60.0)  # one minute

CALIBRATION_NOTES: Final = (
    "Fitted by scripts/calibrate_model_chains.py on the SPXW chain of 2019-06-26 15:45 ET "
    "(OTM quotes with a bid at 5-50 delta, expiries of 1 day or more) with that day's closes "
    "VIX9D 16.80, VIX 16.21, VIX3M 17.05, VIX6M 17.80, SKEW 117.16, rate 0.0217; term shape "
    "from VIX3M/VIX6M vs VIX 2009-09..2019; vol-of-vol decay from VX futures 2007-2014."
)


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WidthParams:
    r"""Quoted width :math:`\omega = \exp(c_0 + c_1\ln V + c_2\sqrt T + c_3 I + c_4 I \ln V)`.

    :math:`V` is the model value, :math:`I` 1 in the money; the width is at least one tick.
    """

    c0: float
    c1: float
    c2: float
    c3: float
    c4: float

    def width(self, value: FloatArray, t_years: FloatArray, itm: BoolArray) -> FloatArray:
        """Quoted width in index points (before rounding to ticks)."""
        log_v = np.log(np.maximum(value, 1e-6))
        i = itm.astype(np.float64)
        expo = (
            self.c0 + self.c1 * log_v + self.c2 * np.sqrt(t_years) + (self.c3 + self.c4 * log_v) * i
        )
        return np.asarray(np.exp(expo), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SpxModelParams:
    """Calibrated parameters of the SPX model (module docstring, steps 1-5).

    Attributes
    ----------
    rho, eta_ref, gamma
        SSVI correlation, skew level at ``skew_ref`` and skew decay exponent.
    skew_ref
        The SKEW value at which ``eta_ref`` was fitted (2019-06-26: 117.16).
    skew_table, eta_table
        The model's 30-day SKEW for each ``eta`` (ascending in both), shifted so that
        ``skew_ref`` maps to ``eta_ref``.
    skew_elasticity
        :math:`\\lambda` in :math:`\\eta = \\eta_{ref}(\\eta_{table}(SKEW)/\\eta_{ref})^\\lambda`.
    vs_scale
        Ratio of the model's full variance swap to the index variance (step 3).
    long_run_vol, kappa
        Mean-reverting term shape used when VIX is the only index (step 1), decimal and 1/year.
    widths
        Quote widths (step 5).
    """

    # scripts/calibrate_model_chains.py -> model_chain_params.json (a unit test keeps them equal)
    rho: float = -0.6627
    eta_ref: float = 2.0626
    gamma: float = 0.3459
    skew_ref: float = 117.16
    skew_table: tuple[float, ...] = (
        102.982, 104.549, 106.151, 107.8, 109.49, 111.219, 112.987, 114.783, 116.583, 118.395,
        120.205, 121.989, 123.753, 125.491, 127.177, 128.824, 130.407, 131.943, 133.431,
        134.867, 136.231, 136.585,
    )  # fmt: skip
    eta_table: tuple[float, ...] = (
        0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6, 2.8, 3.0, 3.2, 3.4, 3.6,
        3.8, 4.0, 4.2, 4.4, 4.6,
    )  # fmt: skip
    skew_elasticity: float = 1.0
    vs_scale: float = 0.945
    long_run_vol: float = 0.3601
    kappa: float = 0.614
    widths: WidthParams = dataclasses.field(
        default_factory=lambda: WidthParams(-2.3421, 0.3268, -0.2116, -1.4717, 0.465)
    )

    def __post_init__(self) -> None:
        checks = {
            "rho": -1.0 < self.rho < 1.0,
            "eta_ref": self.eta_ref > 0.0,
            "gamma": 0.0 <= self.gamma <= 0.5,
            "vs_scale": self.vs_scale > 0.0,
            "long_run_vol": self.long_run_vol > 0.0,
            "kappa": self.kappa > 0.0,
            "skew_elasticity": 0.0 <= self.skew_elasticity <= 2.0,
            "skew_table": len(self.skew_table) == len(self.eta_table) >= 2
            and bool(np.all(np.diff(self.skew_table) > 0))
            and bool(np.all(np.diff(self.eta_table) > 0)),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise InvalidInputError(f"SpxModelParams out of range: {bad} in {self!r}")

    def eta_for_skew(self, skew: float | None) -> float:
        """SSVI :math:`\\eta` for a day's SKEW (``eta_ref`` when SKEW is missing)."""
        if skew is None or not math.isfinite(skew):
            return self.eta_ref
        matched = float(np.interp(skew, self.skew_table, self.eta_table))
        return float(self.eta_ref * (matched / self.eta_ref) ** self.skew_elasticity)


@dataclass(frozen=True, slots=True)
class VixModelParams:
    """VIX option model (module docstring): SSVI with upward skew, VVIX term decay, widths.

    The smile and width defaults are not fitted (no VIX option data in the repository): a
    1-month 25-delta risk reversal of about +25 vol points at VVIX 85, widths of 0.05-0.10 for
    options under $1 and about 0.3 at $5, as commonly quoted on Cboe.
    """

    rho: float = 0.7
    eta: float = 1.1
    gamma: float = 0.5
    vvix_decay: float = 0.3335
    widths: WidthParams = dataclasses.field(
        default_factory=lambda: WidthParams(-2.3, 0.45, 0.0, 0.2, 0.0)
    )

    def __post_init__(self) -> None:
        ok = (
            -1.0 < self.rho < 1.0
            and self.eta > 0.0
            and 0.0 <= self.gamma <= 0.5
            and 0.0 <= self.vvix_decay < 1.0
        )
        if not ok:
            raise InvalidInputError(f"VixModelParams out of range: {self!r}")


@dataclass(frozen=True, slots=True)
class ListingRules:
    """Which PM expiries are listed, by series, as calendar days from the quote date.

    Read off the 2019-06-26 SPXW listing: Monday/Wednesday weeklies to 35 days, Friday
    weeklies to 63, third-Friday PM to 150, month-ends to 190 and quarter-ends to the horizon.
    SPX AM monthlies are listed to the horizon.
    """

    weekday_days: int = 35
    friday_days: int = 63
    third_friday_days: int = 150
    month_end_days: int = 190


def _width_from(obj: Mapping[str, Any]) -> WidthParams:
    return WidthParams(*(float(obj[c]) for c in ("c0", "c1", "c2", "c3", "c4")))


def load_params(path: str | Path | None = None) -> tuple[SpxModelParams, VixModelParams]:
    """Parameters from a calibration record (default :data:`PARAMS_FILE`).

    The dataclass defaults are the same numbers (a unit test keeps them equal), so the model
    runs without the file; this reads a record written by the calibration script.
    """
    record = json.loads(Path(path or PARAMS_FILE).read_text(encoding="utf-8"))
    spx = dict(record["spx"])
    spx["widths"] = _width_from(spx["widths"])
    spx["skew_table"] = tuple(float(v) for v in spx["skew_table"])
    spx["eta_table"] = tuple(float(v) for v in spx["eta_table"])
    vix = dict(record["vix"])
    vix["widths"] = _width_from(vix["widths"])
    return SpxModelParams(**spx), VixModelParams(**vix)


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------


def _phi(theta: FloatArray, rho: float, eta: float, gamma: float) -> FloatArray:
    """SSVI power-law :math:`\\varphi(\\theta)` capped by the no-butterfly conditions."""
    raw = eta / (theta**gamma * (1.0 + theta) ** (1.0 - gamma))
    bound = 4.0 / (theta * (1.0 + abs(rho)))
    cap = _NO_ARB_MARGIN * np.minimum(bound, np.sqrt(bound))
    return np.asarray(np.minimum(raw, cap), dtype=np.float64)


def ssvi_total_variance(
    k: npt.ArrayLike, theta: npt.ArrayLike, *, rho: float, eta: float, gamma: float
) -> FloatArray:
    r"""SSVI total implied variance :math:`w(k, \theta)` (module docstring, step 2).

    Parameters
    ----------
    k
        Log-moneyness :math:`\ln(K/F)`.
    theta
        ATM total variance :math:`\sigma_{ATM}^2 T` (> 0), broadcast against ``k``.
    rho, eta, gamma
        SSVI parameters; :math:`\varphi` is capped by Gatheral-Jacquier Theorem 4.2.
    """
    th = np.asarray(theta, dtype=np.float64)
    return _ssvi(np.asarray(k, dtype=np.float64), th, _phi(th, rho, eta, gamma), rho)


def _ssvi(k: FloatArray, theta: FloatArray, phi: FloatArray, rho: float) -> FloatArray:
    """:func:`ssvi_total_variance` with :math:`\varphi(\theta)` given (per expiry, then
    spread to the rows: the same numbers as computing it per row)."""
    pk = phi * k
    root = np.sqrt((pk + rho) ** 2 + 1.0 - rho * rho)
    return np.asarray(0.5 * theta * (1.0 + rho * pk + root), dtype=np.float64)


def variance_swap_total_variance(
    theta: npt.ArrayLike, *, rho: float, eta: float, gamma: float
) -> FloatArray:
    r"""The SSVI smile's variance-swap total variance :math:`\int w\,dN(-d_2)` per :math:`\theta`.

    Trapezoid sum over :math:`k = x\sqrt\theta`, :math:`x \in [-16, 10]` (257 nodes), with the
    end values of :math:`w` carrying the tail mass (Gatheral 2006, eq. 11.3).
    """
    th = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    k = _X_GRID[None, :] * np.sqrt(th)[:, None]
    w = ssvi_total_variance(k, th[:, None], rho=rho, eta=eta, gamma=gamma)
    sw = np.sqrt(w)
    cdf = ndtr(k / sw + 0.5 * sw)  # N(-d2)
    inner = np.sum(0.5 * (w[:, 1:] + w[:, :-1]) * np.diff(cdf, axis=1), axis=1)
    tails = w[:, 0] * cdf[:, 0] + w[:, -1] * (1.0 - cdf[:, -1])
    return np.asarray(inner + tails, dtype=np.float64)


def _atm_total_variance(
    target: FloatArray, *, rho: float, eta: float, gamma: float, start_ratio: float
) -> FloatArray:
    """Solve :math:`VS(\\theta) = target` per element: secant steps on :math:`\\ln\\theta`.

    :math:`\\ln VS` is nearly linear in :math:`\\ln\\theta` with slope near 1 (the ratio
    :math:`VS/\\theta` varies slowly), so the first step assumes slope 1 and the secant then
    converges superlinearly: four evaluations reach a relative error near 1e-12.
    """
    log_target = np.log(np.maximum(target, 1e-300))

    def gap(x: FloatArray) -> FloatArray:
        vs = variance_swap_total_variance(np.exp(x), rho=rho, eta=eta, gamma=gamma)
        return np.asarray(np.log(vs) - log_target, dtype=np.float64)

    x0 = log_target + math.log(start_ratio)
    f0 = gap(x0)
    x1 = x0 - f0
    for _ in range(_THETA_ITERATIONS):
        f1 = gap(x1)
        step = x1 - x0
        slope = np.where(np.abs(step) > 1e-14, (f1 - f0) / np.where(step == 0, 1.0, step), 1.0)
        slope = np.where(np.isfinite(slope) & (slope > 0.1), slope, 1.0)
        x0, f0 = x1, f1
        x1 = x1 - f1 / slope
    return np.asarray(np.exp(x1), dtype=np.float64)


def _index_nodes(
    vix: float, vix9d: float | None, vix3m: float | None, vix6m: float | None
) -> tuple[FloatArray, FloatArray]:
    """Node times (years, with 0) and total variances, floored to be non-decreasing."""
    given = {"vix9d": vix9d, "vix": vix, "vix3m": vix3m, "vix6m": vix6m}
    taus = [0.0]
    totals = [0.0]
    for name in ("vix9d", "vix", "vix3m", "vix6m"):
        value = given[name]
        if value is None or not math.isfinite(value):
            continue
        if value <= 0.0:
            raise InvalidInputError(f"{name}={value!r} must be > 0 (or None when not published)")
        tau = INDEX_TENOR_DAYS[name] / DAYS_PER_YEAR
        taus.append(tau)
        totals.append((value / 100.0) ** 2 * tau)
    return np.array(taus), np.maximum.accumulate(np.array(totals))


# --------------------------------------------------------------------------------------------
# The SPX surface
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpxSurface:
    """One day's SPX implied-volatility surface (module docstring, steps 1-4).

    Build with :func:`spx_surface`. All methods are vectorised over their array arguments.
    """

    spot: float
    rate: float
    div_yield: float
    rho: float
    eta: float
    gamma: float
    vs_scale: float
    node_t: tuple[float, ...]
    node_w: tuple[float, ...]
    long_run_var: float | None
    kappa: float

    def index_total_variance(self, t_years: npt.ArrayLike) -> FloatArray:
        """Index variance-swap total variance :math:`W(T)` (step 1)."""
        t = np.maximum(np.asarray(t_years, dtype=np.float64), 0.0)
        taus = np.asarray(self.node_t)
        w = np.asarray(self.node_w)
        if self.long_run_var is not None:  # VIX only: mean-reverting shape through VIX
            vbar, kap = self.long_run_var, self.kappa
            shape30 = -math.expm1(-kap * _T30) / kap
            v0 = vbar + (w[-1] - vbar * _T30) / shape30
            return np.asarray(vbar * t + (v0 - vbar) * -np.expm1(-kap * t) / kap, np.float64)
        slope = (w[-1] - w[-2]) / (taus[-1] - taus[-2])
        inside = np.interp(t, taus, w)
        return np.asarray(np.where(t > taus[-1], w[-1] + slope * (t - taus[-1]), inside))

    def atm_total_variance(self, t_years: npt.ArrayLike) -> FloatArray:
        """:math:`\\theta(T)`: the model's variance swap equals ``vs_scale`` times the index's."""
        t = np.maximum(np.atleast_1d(np.asarray(t_years, dtype=np.float64)), _MIN_T_YEARS)
        target = self.vs_scale * self.index_total_variance(t)
        return _atm_total_variance(
            target, rho=self.rho, eta=self.eta, gamma=self.gamma, start_ratio=0.8
        )

    def forward(self, t_years: npt.ArrayLike) -> FloatArray:
        """:math:`F = S e^{(r-q)T}`."""
        t = np.asarray(t_years, dtype=np.float64)
        return np.asarray(self.spot * np.exp((self.rate - self.div_yield) * t), np.float64)

    def implied_vol(self, t_years: npt.ArrayLike, strike: npt.ArrayLike) -> FloatArray:
        """Model implied vol at ``(T, K)`` (broadcast), :math:`\\sqrt{w(\\ln(K/F), \\theta)/T}`."""
        t = np.maximum(np.asarray(t_years, dtype=np.float64), _MIN_T_YEARS)
        k_strike = np.asarray(strike, dtype=np.float64)
        t_flat, inverse = np.unique(t, return_inverse=True)
        theta = self.atm_total_variance(t_flat)[inverse.reshape(t.shape)]
        k = np.log(k_strike / self.forward(t))
        w = ssvi_total_variance(k, theta, rho=self.rho, eta=self.eta, gamma=self.gamma)
        return np.asarray(np.sqrt(w / t), dtype=np.float64)


def spx_surface(
    spot: float,
    *,
    vix: float,
    vix9d: float | None = None,
    vix3m: float | None = None,
    vix6m: float | None = None,
    skew: float | None = None,
    rate: float,
    div_yield: float,
    params: SpxModelParams | None = None,
) -> SpxSurface:
    """The day's SPX surface from spot, the VIX-family closes and SKEW (index points).

    Parameters
    ----------
    spot
        S&P 500 level at the snapshot.
    vix, vix9d, vix3m, vix6m
        Index levels in vol points; ``None`` (or NaN) where not published that day.
    skew
        Cboe SKEW; ``None`` uses the reference skew level.
    rate, div_yield
        Continuously compounded rate and dividend yield (decimals).
    params
        Model parameters (default: the calibrated :class:`SpxModelParams`).
    """
    p = params or SpxModelParams()
    for name, value in (("spot", spot), ("vix", vix)):
        if not (math.isfinite(value) and value > 0.0):
            raise InvalidInputError(f"{name}={value!r} must be finite and > 0")
    if not (math.isfinite(rate) and math.isfinite(div_yield)):
        raise InvalidInputError(f"rate={rate!r} and div_yield={div_yield!r} must be finite")
    taus, totals = _index_nodes(vix, vix9d, vix3m, vix6m)
    only_vix = len(taus) == 2 and taus[1] == _T30
    return SpxSurface(
        spot=float(spot),
        rate=float(rate),
        div_yield=float(div_yield),
        rho=p.rho,
        eta=p.eta_for_skew(skew),
        gamma=p.gamma,
        vs_scale=p.vs_scale,
        node_t=tuple(float(x) for x in taus),
        node_w=tuple(float(x) for x in totals),
        long_run_var=p.long_run_vol**2 if only_vix else None,
        kappa=p.kappa,
    )


# --------------------------------------------------------------------------------------------
# Listing: expiries and strikes
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _stands_for_friday(day: date) -> bool:
    """A Thursday expiry listed in place of a Friday that is an exchange holiday."""
    friday = day + timedelta(days=1)
    return friday.weekday() == _FRIDAY and not calendar.is_session(friday)


@functools.lru_cache(maxsize=8192)
def _is_month_end(day: date) -> bool:
    first_next = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return calendar.previous_session(first_next) == day


def listed_spx_expiries(
    quote_time: datetime, *, max_days: int = 400, rules: ListingRules | None = None
) -> list[tuple[date, str]]:
    """``(expiry, root)`` pairs listed at ``quote_time`` and not yet settled, by settlement.

    SPX (AM) monthlies to ``max_days``; SPXW (PM) series per :class:`ListingRules`, from the
    calendar's series of the quote's era (:func:`vixshield.calendar.spxw_expiries`: none before
    2006-09, Friday weeklies from 2010-12, Monday/Wednesday from 2016, ...).
    """
    return [(day, root) for _, day, root in _listing(quote_time, max_days, rules)]


def _listing(
    quote_time: datetime, max_days: int, rules: ListingRules | None
) -> list[tuple[datetime, date, str]]:
    """``(settlement instant, expiry, root)`` of :func:`listed_spx_expiries`, by settlement."""
    if quote_time.tzinfo is None:
        raise InvalidInputError(f"quote_time {quote_time!r} must be timezone-aware")
    r = rules or ListingRules()
    today = quote_time.astimezone(NEW_YORK).date()
    last = min(today + timedelta(days=max_days), calendar.CALENDAR_END - timedelta(days=31))
    monthlies = calendar.spx_expiries(today, last)
    out: list[tuple[datetime, date, str]] = [
        (datetime.combine(day, AM_SETTLEMENT_TIME, tzinfo=NEW_YORK), day, "SPX")
        for day in monthlies
    ]
    third_fridays = set(monthlies)
    longest = max(r.weekday_days, r.friday_days, r.third_friday_days, r.month_end_days)
    for day in calendar.spxw_expiries(today, last):
        dte = (day - today).days
        if _is_month_end(day):
            limit = max_days if day.month in (3, 6, 9, 12) else r.month_end_days
        elif dte > longest:
            continue  # only quarter-ends are listed this far out
        elif day in third_fridays:
            limit = r.third_friday_days
        elif day.weekday() == _FRIDAY or _stands_for_friday(day):
            limit = r.friday_days
        else:
            limit = r.weekday_days
        if dte <= limit:
            out.append((calendar.close_time(day), day, "SPXW"))  # PM: the close (13:00 early)
    return sorted(item for item in out if item[0] > quote_time)


def _band_strikes(
    center: float, bands: Sequence[tuple[float, float, float]], scale: float
) -> FloatArray:
    parts = []
    for step, lo, hi in bands:
        first = math.ceil(center * math.exp(lo * scale) / step)
        last = math.floor(center * math.exp(hi * scale) / step)
        parts.append(step * np.arange(max(first, 1), last + 1, dtype=np.float64))
    return np.unique(np.concatenate(parts))


def _vix_strikes(low: float, high: float) -> FloatArray:
    parts = []
    for step, lo, hi in _VIX_STRIKE_BANDS:
        a, b = max(lo, low), min(hi, high)
        if a <= b:
            parts.append(step * np.arange(math.ceil(a / step), math.floor(b / step) + 1))
    return np.unique(np.concatenate(parts)).astype(np.float64)


# --------------------------------------------------------------------------------------------
# Quotes
# --------------------------------------------------------------------------------------------


def quote_from_value(value: npt.ArrayLike, width: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Bid and ask around a model value, on Cboe's ticks (0.05 below $3, 0.10 from $3).

    ``bid = floor_tick(V - width/2)`` (0 when that is below one tick: no bid), ``ask =
    ceil_tick(V + width/2)``, at least one tick above the bid. Each side's tick follows its
    own price level. Rounding is done in cents on integers, so the results are exact multiples.
    """
    v = np.asarray(value, dtype=np.float64)
    half = 0.5 * np.maximum(np.asarray(width, dtype=np.float64), _TICK_SMALL)
    lo = np.maximum(v - half, 0.0)
    hi = v + half
    # in cents: tick 5 below 300 cents, 10 from 300
    lo_c = np.floor(lo * 100.0 + 1e-9)
    hi_c = np.ceil(hi * 100.0 - 1e-9)
    bid_c = np.where(lo_c >= 300.0, np.floor(lo_c / 10.0) * 10.0, np.floor(lo_c / 5.0) * 5.0)
    ask_c = np.where(hi_c > 300.0, np.ceil(hi_c / 10.0) * 10.0, np.ceil(hi_c / 5.0) * 5.0)
    step_c = np.where(bid_c >= 300.0, 10.0, 5.0)
    ask_c = np.maximum(ask_c, bid_c + step_c)
    return bid_c / 100.0, ask_c / 100.0


# --------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------


def _quote_instant(session: date, at: time | datetime) -> datetime:
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise InvalidInputError(f"quote time {at!r} must be timezone-aware")
        return at.astimezone(NEW_YORK)
    return datetime.combine(session, at, tzinfo=NEW_YORK)


def _labels(values: Sequence[str], codes: npt.NDArray[np.intp]) -> pd.api.extensions.ExtensionArray:
    """A ``str`` column from a few labels and one code per row (no per-row string work)."""
    return pd.array(np.array(values, dtype=object), dtype="str").take(codes)


def _frame(
    quote_time: datetime,
    *,
    rows: npt.NDArray[np.intp],
    expiry: npt.NDArray[np.object_],
    settlement: Sequence[str],
    root: Sequence[str],
    strike: FloatArray,
    is_call: BoolArray,
    bid: FloatArray,
    ask: FloatArray,
    underlying: FloatArray,
    iv: FloatArray,
    delta: FloatArray,
    validate: bool,
) -> pd.DataFrame:
    n = strike.size
    stamp = pd.Timestamp(quote_time).tz_convert(NEW_YORK.key).as_unit("ns")
    frame = pd.DataFrame(
        {
            "quote_time": pd.DatetimeIndex(np.full(n, stamp.asm8), tz="UTC")
            .tz_convert(NEW_YORK.key)
            .as_unit("ns"),
            "expiry": pd.Series(expiry[rows], dtype=object),
            "settlement": _labels(settlement, rows),
            "root": _labels(root, rows),
            "strike": strike,
            "right": _labels(["C", "P"], np.where(is_call, 0, 1)),
            "bid": bid,
            "ask": ask,
            "underlying": underlying,
            "iv": iv,
            "delta": delta,
            "modelled": np.ones(n, dtype=np.bool_),
        }
    )
    order = [c for c in CANONICAL_COLUMNS if c in frame.columns]
    if list(frame.columns) != order:
        frame = frame[order]
    if validate:
        return validate_chain(frame, source="model chain").frame
    return frame


def _pairs(strikes: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Each strike twice: call then put."""
    return np.repeat(strikes, 2), np.tile(np.array([True, False]), strikes.size)


class _FrameMemo:
    """The last few chains a model built, by their full inputs (the models are pure functions).

    A backtest asks for the same day's chain more than once (the decision, then the fills and
    marks). Every caller gets its own shallow copy: with pandas copy-on-write, writing to it
    copies the column written, so no caller can change what another one reads. Bounded: the
    least recently used chain is dropped past ``size``.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._frames: OrderedDict[Hashable, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, key: Hashable, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        try:
            hash(key)
        except TypeError:  # an unhashable input (a params subclass, say): no memo
            return build()
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
        if frame is None:
            frame = build()
            with self._lock:
                self._frames[key] = frame
                while len(self._frames) > self._size:
                    self._frames.popitem(last=False)
        return frame.copy(deep=False)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()


_MEMO: Final = _FrameMemo(8)


def model_spx_chain(
    session: date,
    spot: float,
    *,
    vix: float,
    vix9d: float | None = None,
    vix3m: float | None = None,
    vix6m: float | None = None,
    skew: float | None = None,
    rate: float,
    div_yield: float,
    quote_time: time | datetime = DEFAULT_QUOTE_TIME,
    max_days: int = 400,
    params: SpxModelParams | None = None,
    rules: ListingRules | None = None,
    validate: bool = False,
) -> pd.DataFrame:
    """A modelled SPX/SPXW chain for one session, in the canonical chain format.

    Parameters
    ----------
    session
        The trading day.
    spot
        S&P 500 level at the snapshot.
    vix, vix9d, vix3m, vix6m, skew
        That day's index levels (``None`` where not published).
    rate, div_yield
        Continuously compounded rate and dividend yield.
    quote_time
        Snapshot time of day in New York (default 15:45), or a timezone-aware instant.
    max_days
        Listing horizon in calendar days.
    params, rules
        Model parameters and listing rules (defaults: calibrated / 2019 pattern).
    validate
        Run :func:`vixshield.data.chains.validate_chain` on the result (about 130 ms).

    Returns
    -------
    pandas.DataFrame
        Canonical columns ``quote_time, expiry, settlement, root, strike, right, bid, ask,
        underlying, iv, delta, modelled`` (``modelled`` True), sorted by settlement, root,
        strike, right (C before P). The last few chains built are kept by their inputs, so
        asking again for the same one costs nothing (each call gets its own shallow copy).
    """
    key = (
        "spx", session, spot, vix, vix9d, vix3m, vix6m, skew, rate, div_yield, quote_time,
        max_days, params, rules, validate,
    )  # fmt: skip
    build = functools.partial(
        _model_spx_chain, session, spot, vix=vix, vix9d=vix9d, vix3m=vix3m, vix6m=vix6m,
        skew=skew, rate=rate, div_yield=div_yield, quote_time=quote_time, max_days=max_days,
        params=params, rules=rules, validate=validate,
    )  # fmt: skip
    return _MEMO(key, build)


def _model_spx_chain(
    session: date,
    spot: float,
    *,
    vix: float,
    vix9d: float | None,
    vix3m: float | None,
    vix6m: float | None,
    skew: float | None,
    rate: float,
    div_yield: float,
    quote_time: time | datetime,
    max_days: int,
    params: SpxModelParams | None,
    rules: ListingRules | None,
    validate: bool,
) -> pd.DataFrame:
    at = _quote_instant(session, quote_time)
    p = params or SpxModelParams()
    surface = spx_surface(
        spot,
        vix=vix,
        vix9d=vix9d,
        vix3m=vix3m,
        vix6m=vix6m,
        skew=skew,
        rate=rate,
        div_yield=div_yield,
        params=p,
    )
    listed = _listing(at, max_days, rules)
    if not listed:
        raise InvalidInputError(f"no SPX expiry is listed after {at.isoformat()}")
    days = np.array([(d - at.date()).days for _, d, _ in listed])
    t_exp = np.array([years_between(at, settles) for settles, _, _ in listed])
    scale = max(0.75, min(3.0, vix / _BAND_VOL_REF))
    grids = {name: _band_strikes(spot, bands, scale) for name, bands in SPX_STRIKE_BANDS.items()}
    klass = np.where(days <= _NEAR_DAYS, "near", np.where(days <= _MID_DAYS, "mid", "far"))
    counts = np.array([grids[c].size for c in klass])
    strikes, is_call = _pairs(np.concatenate([grids[c] for c in klass]))
    rows = np.repeat(np.arange(len(listed)), 2 * counts)

    theta_exp = surface.atm_total_variance(t_exp)
    theta = theta_exp[rows]
    t = t_exp[rows]
    fwd = surface.forward(t_exp)[rows]
    k = np.log(strikes / fwd)
    phi = _phi(theta_exp, surface.rho, surface.eta, surface.gamma)[rows]
    w = _ssvi(k, theta, phi, surface.rho)
    vol = np.sqrt(w / t)
    greeks = black76_greeks(fwd, strikes, t, vol, rate=rate, is_call=is_call)
    value = np.asarray(greeks.price, dtype=np.float64)
    itm = np.where(is_call, strikes < fwd, strikes > fwd)
    width = p.widths.width(value, t, itm)
    bid, ask = quote_from_value(value, width)
    spot_delta = np.asarray(greeks.delta, dtype=np.float64) * fwd / spot
    spot_delta = np.where(is_call, np.clip(spot_delta, 0.0, 1.0), np.clip(spot_delta, -1.0, 0.0))

    expiries = np.empty(len(listed), dtype=object)
    expiries[:] = [d for _, d, _ in listed]
    roots = [root for _, _, root in listed]
    return _frame(
        at,
        rows=rows,
        expiry=expiries,
        settlement=["AM" if root == "SPX" else "PM" for root in roots],
        root=roots,
        strike=strikes,
        is_call=is_call,
        bid=bid,
        ask=ask,
        underlying=np.full(strikes.size, float(spot)),
        iv=vol,
        delta=spot_delta,
        validate=validate,
    )


def model_vix_chain(
    session: date,
    futures: Mapping[date, float],
    *,
    vvix: float,
    rate: float,
    quote_time: time | datetime = DEFAULT_QUOTE_TIME,
    max_days: int = 400,
    params: VixModelParams | None = None,
    validate: bool = False,
) -> pd.DataFrame:
    r"""A modelled VIX option chain: Black-76 on the VX future of each expiry.

    Parameters
    ----------
    session
        The trading day.
    futures
        VX futures price (VIX points) by expiry date; each key must be a VIX expiry. Expiries
        settled by the snapshot or beyond ``max_days`` are left out.
    vvix
        Cboe VVIX, the 30-day variance-swap volatility of VIX, in points.
    rate
        Continuously compounded discount rate.
    quote_time, max_days, validate
        As for :func:`model_spx_chain`.
    params
        VIX option model (default :class:`VixModelParams`).

    Returns
    -------
    pandas.DataFrame
        Canonical chain, root ``VIX``, settlement ``AM``; ``underlying`` is the future;
        ``delta`` is :math:`\partial V/\partial F = e^{-rT}N(d_1)` (puts :math:`-e^{-rT}N(-d_1)`).
        The last few chains built are kept by their inputs, as for :func:`model_spx_chain`.

    Notes
    -----
    ATM level: :math:`\theta(T)` solves :math:`VS(\theta) = (\mathrm{VVIX}/100)^2
    (T/T_{30})^{-2\alpha} T`, the variance-swap variance of VIX at that maturity, with the SSVI
    upward smile of ``params`` (module docstring).
    """
    key = (
        "vix", session, tuple(sorted(futures.items())), vvix, rate, quote_time, max_days, params,
        validate,
    )  # fmt: skip
    build = functools.partial(
        _model_vix_chain, session, futures, vvix=vvix, rate=rate, quote_time=quote_time,
        max_days=max_days, params=params, validate=validate,
    )  # fmt: skip
    return _MEMO(key, build)


def _model_vix_chain(
    session: date,
    futures: Mapping[date, float],
    *,
    vvix: float,
    rate: float,
    quote_time: time | datetime,
    max_days: int,
    params: VixModelParams | None,
    validate: bool,
) -> pd.DataFrame:
    at = _quote_instant(session, quote_time)
    p = params or VixModelParams()
    if not (math.isfinite(vvix) and vvix > 0.0):
        raise InvalidInputError(f"vvix={vvix!r} must be finite and > 0")
    chosen: list[tuple[date, float, float]] = []
    for day in sorted(futures):
        price = float(futures[day])
        if not (math.isfinite(price) and price > 0.0):
            raise InvalidInputError(f"VX future for {day} is {price!r}; it must be > 0")
        t_years = years_between(at, calendar.settlement_datetime(day, ExpiryKind.VIX_AM))
        if t_years > 0.0 and (day - at.date()).days <= max_days:
            chosen.append((day, price, t_years))
    if not chosen:
        raise InvalidInputError(f"no VX future expiring after {at.isoformat()} was given")
    fwd_exp = np.array([c[1] for c in chosen])
    t_exp = np.array([c[2] for c in chosen])
    vs_vol = vvix / 100.0 * (np.maximum(t_exp, 1.0 / DAYS_PER_YEAR) / _T30) ** -p.vvix_decay
    theta_exp = _atm_total_variance(
        vs_vol**2 * t_exp, rho=p.rho, eta=p.eta, gamma=p.gamma, start_ratio=0.8
    )
    grids = [_vix_strikes(max(5.0, 0.6 * f), max(40.0, 4.0 * f)) for f in fwd_exp]
    counts = np.array([g.size for g in grids])
    strikes, is_call = _pairs(np.concatenate(grids))
    rows = np.repeat(np.arange(len(chosen)), 2 * counts)
    t, fwd, theta = t_exp[rows], fwd_exp[rows], theta_exp[rows]
    phi = _phi(theta_exp, p.rho, p.eta, p.gamma)[rows]
    w = _ssvi(np.log(strikes / fwd), theta, phi, p.rho)
    vol = np.sqrt(w / t)
    greeks = black76_greeks(fwd, strikes, t, vol, rate=rate, is_call=is_call)
    value = np.asarray(greeks.price, dtype=np.float64)
    itm = np.where(is_call, strikes < fwd, strikes > fwd)
    bid, ask = quote_from_value(value, p.widths.width(value, t, itm))
    delta = np.asarray(greeks.delta, dtype=np.float64)
    delta = np.where(is_call, np.clip(delta, 0.0, 1.0), np.clip(delta, -1.0, 0.0))
    expiries = np.empty(len(chosen), dtype=object)
    expiries[:] = [c[0] for c in chosen]
    return _frame(
        at,
        rows=rows,
        expiry=expiries,
        settlement=["AM"] * len(chosen),
        root=["VIX"] * len(chosen),
        strike=strikes,
        is_call=is_call,
        bid=bid,
        ask=ask,
        underlying=fwd,
        iv=vol,
        delta=delta,
        validate=validate,
    )


# --------------------------------------------------------------------------------------------
# Calibration on a real chain
# --------------------------------------------------------------------------------------------


def calibrate_spx_smile(
    quotes: pd.DataFrame,
    *,
    vix: float,
    vix9d: float | None = None,
    vix3m: float | None = None,
    vix6m: float | None = None,
    skew: float,
    base: SpxModelParams | None = None,
) -> SpxModelParams:
    r"""Fit :math:`\rho, \eta_{ref}, \gamma` and ``vs_scale`` to real implied vols.

    Parameters
    ----------
    quotes
        Rows of a real chain after :func:`vixshield.data.chains.add_implied_vols`, already
        selected (the script and tests use OTM quotes with a bid at 5-50 delta, T >= 1 day):
        columns ``t_years``, ``forward``, ``strike``, ``iv``.
    vix, vix9d, vix3m, vix6m, skew
        That day's index closes.
    base
        Parameters kept as they are (tables, term shape, widths); ``skew_ref`` becomes ``skew``.

    Returns
    -------
    SpxModelParams
        Least squares in vol points over the rows; the model's :math:`\theta(T)` comes from the
        indices (steps 1 and 3), not from the chain, so the fit tests the whole construction.
    """
    b = base or SpxModelParams()
    t = quotes["t_years"].to_numpy(dtype=np.float64)
    k = np.log(
        quotes["strike"].to_numpy(dtype=np.float64) / quotes["forward"].to_numpy(dtype=np.float64)
    )
    iv = quotes["iv"].to_numpy(dtype=np.float64)
    t_flat, inverse = np.unique(t, return_inverse=True)
    taus, totals = _index_nodes(vix, vix9d, vix3m, vix6m)
    proto = SpxSurface(
        spot=1.0,
        rate=0.0,
        div_yield=0.0,
        rho=b.rho,
        eta=b.eta_ref,
        gamma=b.gamma,
        vs_scale=1.0,
        node_t=tuple(float(x) for x in taus),
        node_w=tuple(float(x) for x in totals),
        long_run_var=None,
        kappa=b.kappa,
    )
    index_w = proto.index_total_variance(t_flat)

    def model(x: FloatArray) -> FloatArray:
        rho, eta, gamma, scale = (float(v) for v in x)
        theta = _atm_total_variance(
            scale * index_w, rho=rho, eta=eta, gamma=gamma, start_ratio=0.8
        )[inverse]
        w = ssvi_total_variance(k, theta, rho=rho, eta=eta, gamma=gamma)
        return np.asarray(np.sqrt(w / t), dtype=np.float64)

    fit = least_squares(
        lambda x: (model(x) - iv) * 100.0,
        x0=np.array([b.rho, b.eta_ref, b.gamma, b.vs_scale]),
        bounds=(np.array([-0.99, 0.05, 0.0, 0.5]), np.array([0.0, 8.0, 0.5, 1.5])),
    )
    rho, eta, gamma, scale = (float(v) for v in fit.x)
    return dataclasses.replace(
        b, rho=rho, eta_ref=eta, gamma=gamma, vs_scale=scale, skew_ref=float(skew)
    )
