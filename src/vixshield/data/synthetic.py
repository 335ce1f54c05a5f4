r"""The embedded default market: a seeded stochastic-volatility model with jumps.

``vixshield demo`` and the tests use this market when no data has been imported. One call,
:func:`synthetic_market`, simulates SPX, the VIX family, the VX futures curve, NYSE breadth,
an event calendar and a short rate *jointly* for any range of XNYS sessions, and returns them in
the same canonical frames the real loaders produce (:mod:`vixshield.data.loaders`,
:mod:`vixshield.data.cfe`), with ``modelled = True`` wherever the frame has that column. Option
chains come from a pluggable chain builder (:meth:`SyntheticMarket.chain`; by default
:func:`model_chain_builder`, over :mod:`vixshield.data.model_chains`).

The model
---------
Three latent factors, in *business time* ``t`` (years, see "Clock" below):

.. math::

    d\ln S &= (r - q + \mu_e - \lambda\bar k - v/2)\,dt + \sqrt{v}\,dW_S + J\,dN \\
    dv     &= \kappa (m - v)\,dt + \xi\sqrt{v}\,dW_v + Y\,dN,
             \qquad d\langle W_S, W_v\rangle = \rho\,dt \\
    dm     &= \kappa_m(\theta - m)\,dt + \xi_m\sqrt{m}\,dW_m \\
    dr     &= \kappa_r(\theta_r - r)\,dt + \sigma_r\sqrt{r}\,dW_r

* ``v`` is the instantaneous variance of SPX (Heston), mean-reverting fast (``kappa``) towards
  a *central tendency* ``m``.
* ``m`` is a slow CIR factor (``kappa_m``: a half-life near a year) around the long-run variance
  ``theta``. It gives the regime-like persistence: calm years when ``m`` is low, crisis
  episodes when it is high, with ``v`` spiking around it (a "double Heston" / two-factor
  central-tendency model in the spirit of Gatheral's double mean-reverting model).
* ``N`` is a Poisson process with intensity ``jump_intensity`` (``lambda``, per year). Each
  jump moves ``ln S`` by ``J ~ Normal(jump_mean, jump_std^2)`` and *co-jumps* the variance by
  ``Y ~ Exponential(cojump_mean)`` (SVJJ: Duffie, Pan and Singleton 2000; Eraker, Johannes
  and Polson 2003). ``k_bar = E[e^J] - 1`` compensates the price drift.
* ``mu_e`` (``equity_premium``) is the equity risk premium, ``q`` the dividend yield and ``r``
  the simulated short rate (CIR, floored at 0).
* ``W_S, W_v`` are correlated (``rho``); ``W_m`` and ``W_r`` are independent of them.

**Discretisation.** Each session is two steps, overnight (previous close to open) and
intraday (open to close); jumps arrive in either. ``v`` and ``m`` take Euler steps and are
floored at ``variance_floor`` after each one: with daily steps and ``xi^2 > 2 kappa m`` (Feller
violated, as calibrations of equity variance usually are) the Euler step could otherwise leave
the positive half-line; the floor also keeps VIX from collapsing to implausible levels. The
log price is exact given the step's variance. The recursion runs as a scalar loop over steps
on pre-drawn shocks (about 15,000 steps for 30 years, ~0.07 s); everything else is vectorised.

**Clock.** Variance accrues in business time, not calendar time. A session whose previous
session was ``g`` calendar days earlier gets an overnight step of
``(overnight_weight + weekend_weight * (g - 1)) / Y`` years and an intraday step of ``1 / Y``
years, where ``Y = 252 * (1 + overnight_weight) + weekend_weight * (365.25 - 252)`` is the
expected sum of those weights over a calendar year (252 sessions, 365.25 days). So a weekend
or holiday adds a ``weekend_weight`` share of a session's variance per closed day, a year of
sessions carries one year of variance, and close-to-close variance times 252 estimates ``v``.
Horizons quoted in calendar days (VIX's 30 days, a VX expiry) are converted to years as
``days / 365``, which the clock above matches on average.

**Risk-neutral measure and the VIX family.** Under Q the variance has a market price of risk
proportional to ``v`` (Heston 1993): ``kappa_Q = kappa - vol_risk_premium`` and the drift is
``kappa m - kappa_Q v``, so forward variance is priced above its physical expectation; the
jump intensity is ``lambda_Q = lambda * (1 + jump_risk_premium)``. The risk-neutral expected
average variance over ``tau`` years is analytic and linear in the state:

.. math::

    \langle v\rangle_\tau = v_\infty + (v - v_\infty) A(\kappa_Q,\tau)
        + \frac{\kappa (m - \theta)}{\kappa_Q - \kappa_m}
          \bigl(A(\kappa_m,\tau) - A(\kappa_Q,\tau)\bigr),
    \quad A(k,\tau) = \frac{1 - e^{-k\tau}}{k\tau},
    \quad v_\infty = \frac{\kappa\theta + \lambda_Q\,\mathrm{cojump\_mean}}{\kappa_Q}.

A volatility index of ``d`` calendar days is the model's variance-swap level
(Carr and Wu 2009: the log contract also prices the jumps' higher moments)

.. math::

    \mathrm{IDX}_d = 100\sqrt{\langle v\rangle_\tau + 2\lambda_Q\,E[e^J - 1 - J]},
    \qquad \tau = d/365,

for VIX9D (``d = 9``), VIX (30), VIX3M (93) and VIX6M (186). Because ``kappa_Q < kappa`` and
``lambda_Q > lambda``, VIX exceeds realised volatility on average (the variance risk premium)
and the curve is usually upward sloping. Each index has an open (from the state after the
overnight step) and a close (after the intraday step); its high and low come from the
Brownian-bridge range below on the index's own log-volatility
``b_d xi sqrt(v) / (2 IDX_d^2)``, with ``b_d = A(kappa_Q, tau)`` the index variance's loading
on ``v``.

**VVIX (approximation).** VIX options are priced on the VX future of their expiry, so VVIX is
taken as the annualised volatility of the log of the 30-day VX future: diffusive part
``e^{-kappa_Q T} b_30 xi sqrt(v) / (2 M_2)`` with ``T = 30/365`` and ``M_2`` that future's
forward variance, plus the co-jumps' contribution ``lambda_Q E[(Delta ln F)^2]`` with
``Delta ln F`` approximated by ``ln(1 + e^{-kappa_Q T} b_30 cojump_mean / M_2) / 2``
(Exponential second moment ``2 cojump_mean^2`` folded in as a factor 2). Times 100. This is
an instantaneous vol, not a 30-day implied vol: it ignores the vol's own mean reversion over
the option's life and the VIX-option smile.

**SKEW (approximation).** Cboe's ``SKEW = 100 - 10 S`` with ``S`` the risk-neutral skewness of
the 30-day log return. The model's third cumulant is taken to leading order in ``tau``:
``(3/2) rho xi v tau^2`` from the leverage effect (Heston: ``sqrt(v)`` moves by ``xi/2 dW_v``)
plus ``lambda_Q tau (mu_J^3 + 3 mu_J sigma_J^2)`` from the price jumps; the second cumulant is
``VIX^2 tau``. Calm markets (small ``v``) therefore carry the highest SKEW, as in the data.

**VX futures.** Listed like CFE after 2005: every month, the next ``vx_listed`` expiries
(:func:`vixshield.calendar.vx_expiries`); a contract is listed when it becomes the
``vx_listed``-th and carries a final row on its expiry day with only the settle (the VRO,
taken as the model's VIX at that morning's open) and O/H/L/C missing, as in the CFE files.
The settle of a contract ``T`` years out (16:15 ET to 09:30 ET, as
:mod:`vixshield.data.vx_curve` counts) is the model's expected 30-day vol at expiry minus a
convexity adjustment: with the forward variance
``M_2 = E_Q[VIX_T^2] = ((T + D) IDX^2(T + D) - T IDX^2(T)) / D`` (``D = 30/365``) and
``V = Var_Q(VIX_T^2) ~ b_30^2 Var_Q(v_T) + c_30^2 Var_Q(m_T)`` (CIR variances, the co-jumps
adding ``lambda_Q cojump_mean^2 (1 - e^{-2 kappa_Q T}) / kappa_Q``; ``c_30`` is the index
variance's loading on ``m``), ``VIX_T`` is taken log-normal with those two moments:
``F = sqrt(M_2) (1 + V / M_2^2)^{-1/8}``. The open is the same formula at the open state;
high and low come from a Brownian-bridge range with the log-vol of the future
(the VIX's, damped by ``e^{-kappa_Q T}``). ``close = settle``. Volume and open interest are
modelled (decaying with rank); ``rescaled`` is always False.

**Intraday range (SPX and the indices).** Given the open ``O``, the close ``C`` and the
intraday variance ``s^2`` (``v`` at the open times the intraday step), the high is drawn from
the exact law of the maximum of a Brownian bridge from ``ln O`` to ``ln C``,
``ln H = ln O + (x + sqrt(x^2 - 2 s^2 ln U)) / 2`` with ``x = ln(C/O)``, and the low likewise
from an independent uniform (the real maximum and minimum are mildly dependent; ignored).
So ``low <= min(open, close)`` and ``high >= max(open, close)`` by construction. SPX volume
(shares) is ``volume_base (v / theta)^0.4`` times a log-normal factor (log-sd 0.25, mean 1).

**Breadth.** Of ``issues`` NYSE issues, a share ``unchanged_share`` (times a log-normal daily
factor) is unchanged; of the rest the advancing share is
``(1 + tanh(breadth_beta z + d + breadth_noise e)) / 2``, where ``z`` is the session's return
in units of its model standard deviation, ``e`` is white noise and ``d`` is a slowly varying
*breadth divergence* factor (an AR(1) with a half-life of ``divergence_half_life`` sessions and
stationary standard deviation ``divergence_std``). While ``d`` is negative the A/D line falls
even as SPX rises: the A/D divergences of METHOD section 3. Counts are multinomial.

**Events** (no randomness: a fixed realistic pattern). FOMC decisions eight times a year at
14:00 ET on a Wednesday (the last Wednesday of January, April, July and October; the third of
March, June and September; the second of December), moved to the previous session when the
exchange is closed. CPI at 08:30 ET on the first session on or after the 12th of each month
(falling on Tuesday..Thursday when possible: the session is moved forward past a Monday or a
Friday), PPI at 08:30 ET on the session before that CPI release; both for the previous month
(``ref_period`` like ``"December 1999"``). The calendar runs from ``start`` to one year after
``end``, because scheduled events are known in advance. ``source`` is ``"vixshield.synthetic"``.

**Rates.** The CIR short rate above, in the canonical T-bill frame ``date, rate_decimal``
(a decimal per year), rounded to 0.01% as the quoted T-bill rate is.

Determinism
-----------
Everything is a function of ``(start, end, seed, params)``: the same inputs give identical
frames (a :class:`numpy.random.Generator` seeded with ``seed`` draws every shock in a fixed
order). The simulation starts ``burn_in_sessions`` sessions (business-time steps of one
average session) before ``start`` from ``v = m = theta`` and ``r = rate_mean``, so the first
day's state is already a draw from (near) the stationary law; the breadth-divergence factor
starts from a draw of its own stationary law. Consequently a sub-range of
a longer run is *not* equal to a separate run over that sub-range: the shocks are drawn per
step from the run's own start. SPX starts at ``spot_start`` whatever the start date.

Parameters (:class:`SyntheticParams`)
-------------------------------------
Every parameter is documented on its :class:`SyntheticParams` attribute. The variance and jump
parameters (``kappa theta xi rho kappa_m xi_m jump_intensity jump_mean jump_std cojump_mean
vol_risk_premium jump_risk_premium``) were calibrated by a small random search minimising the
weighted squared relative distance of a dozen stylised facts (below, plus the VVIX mean), each
averaged over twelve seeded 1990-2019 runs (seeds 1000-1011); the others are set by hand
(breadth to the real 1990-2015 NYSE breadth: standard deviation of net advances / issues 0.29,
correlation with SPX returns 0.81, unchanged share 9-11%). Risk-neutral consequences of the
defaults: ``kappa_Q = 0.99`` per year and a risk-neutral long-run volatility
``sqrt(v_inf) = 35%``, so the VIX curve slopes up except in stress.

Stylised facts, real 1990-2019 against the mean of eight other seeded runs (seeds 0-7), as
checked (with the bands) in ``tests/real/test_synthetic_stylised.py``:

============================== ======== ======== ================
statistic                      real     model    model seed range
============================== ======== ======== ================
SPX annualised vol             17.4%    17.4%    16.2% .. 19.6%
SPX daily excess kurtosis      8.9      8.0      5.5 .. 10.6
VIX mean                       19.1     18.7     17.8 .. 20.4
VIX 5th percentile             11.3     11.5     11.2 .. 11.7
VIX median                     17.2     16.1     15.5 .. 16.6
VIX 95th percentile            32.9     34.6     31.4 .. 39.7
share of days VIX > 30         7.7%     9.7%     6.6% .. 16.2%
share of days VIX > 40         2.2%     2.2%     0.9% .. 4.8%
corr(SPX return, VIX change)   -0.79    -0.80    -0.82 .. -0.79
VX2 > VX1 (share of days)      83.7%    80.4%    74.2% .. 88.6%
============================== ======== ======== ================

(Real VX 2004-2014.) Outside the tested facts: model VVIX averages 104 (real 2007-2019: 89),
model SKEW 114 (real 1990-2019: 120, and more variable: the leading-order skewness is too
small), VIX3M / VIX 1.13 and VIX9D / VIX 0.95 on average (real 2009-2019: 1.13 and 0.96).

Speed: a 1990-2019 run (7,559 sessions, about 61,000 VX rows) takes about 0.1 s warm and
0.35 s cold (building the calendar tables); the scalar loop over 15,118 steps is ~0.07 s.
One day's default chain (SPX, SPXW and VIX, ~39,000 rows) takes about 0.03 s.

References
----------
Heston (1993), RFS 6(2); Bates (1996), RFS 9(1); Duffie, Pan and Singleton (2000),
Econometrica 68(6); Eraker, Johannes and Polson (2003), JF 58(3); Carr and Wu (2009),
RFS 22(3); Gatheral (2008), "Consistent modeling of SPX and VIX options"; Cboe VIX and SKEW
white papers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from vixshield.calendar import (
    CALENDAR_END,
    CALENDAR_START,
    ExpiryKind,
    previous_session,
    sessions,
    settlement_datetime,
    vx_expiries,
)
from vixshield.data.model_chains import model_spx_chain, model_vix_chain
from vixshield.data.vx_curve import SETTLE_TIME
from vixshield.errors import DataError, InvalidInputError
from vixshield.units import MINUTES_PER_YEAR, NEW_YORK

__all__ = [
    "DEFAULT_PARAMS",
    "INDEX_TENOR_DAYS",
    "SOURCE",
    "ChainBuilder",
    "ChainInputs",
    "SyntheticMarket",
    "SyntheticParams",
    "SyntheticPaths",
    "index_variance",
    "model_chain_builder",
    "simulate_paths",
    "skew_level",
    "synthetic_market",
    "vvix_level",
    "vx_price",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SOURCE: Final = "vixshield.synthetic"
"""The ``source`` of every modelled event row."""
INDEX_TENOR_DAYS: Final[dict[str, int]] = {"vix9d": 9, "vix": 30, "vix3m": 93, "vix6m": 186}
"""Calendar days of variance each volatility index measures."""
_DAYS_PER_YEAR: Final = 365.0  # calendar days -> years for index tenors and VX maturities
_SESSIONS_PER_YEAR: Final = 252.0
_CALENDAR_DAYS_PER_YEAR: Final = 365.25
_VIX_DAYS: Final = 30
_EVENT_LEAD: Final = dt.timedelta(days=366)
_MAX_END: Final = CALENDAR_END - dt.timedelta(days=500)  # room for VX listings and events
_FOMC_WEDNESDAY: Final[dict[int, int]] = {1: -1, 3: 3, 4: -1, 6: 3, 7: -1, 9: 3, 10: -1, 12: 2}
_WEDNESDAY: Final = 2
_CPI_DAY: Final = 12
_FOMC_TIME: Final = "14:00"
_RELEASE_TIME: Final = "08:30"
_RATE_TICK: Final = 1e-4


@dataclass(frozen=True, slots=True)
class SyntheticParams:
    """Parameters of the synthetic market (module docstring, "The model"). Rates are per year.

    Every field is checked at construction; an out-of-range value raises
    :class:`~vixshield.errors.InvalidInputError`.
    """

    kappa: float = 4.41
    """Mean reversion of the variance ``v`` towards ``m`` (per year; half-life ln2/kappa)."""
    theta: float = 0.0195
    """Long-run level of the central tendency ``m`` (a variance; 0.0195 is 14.0% vol)."""
    xi: float = 0.73
    """Vol of variance of ``v`` (Heston ``sigma``)."""
    rho: float = -0.876
    """Correlation of the price and variance shocks."""
    kappa_m: float = 0.78
    """Mean reversion of the central tendency ``m`` (slow: calm and crisis regimes)."""
    xi_m: float = 0.111
    """Vol of ``m`` (CIR)."""
    variance_floor: float = 0.0016
    """Floor of ``v`` and ``m`` after each Euler step (0.0016 is 4% vol)."""
    jump_intensity: float = 0.668
    """Poisson intensity ``lambda`` of price jumps (jumps per year)."""
    jump_mean: float = -0.048
    """Mean of the log price jump ``J``."""
    jump_std: float = 0.030
    """Standard deviation of the log price jump ``J``."""
    cojump_mean: float = 0.0125
    """Mean of the exponential variance co-jump ``Y`` that comes with each price jump."""
    vol_risk_premium: float = 3.42
    """``kappa - kappa_Q``: the variance risk premium (per year); ``kappa_Q`` must stay > 0."""
    jump_risk_premium: float = 3.0
    """Relative jump-intensity premium: ``lambda_Q = lambda * (1 + jump_risk_premium)``."""
    equity_premium: float = 0.06
    """Equity risk premium added to the physical SPX drift."""
    dividend_yield: float = 0.02
    """Continuous dividend yield ``q`` of SPX."""
    rate_mean: float = 0.035
    """Long-run short rate ``theta_r`` (decimal per year)."""
    rate_kappa: float = 0.25
    """Mean reversion of the short rate."""
    rate_vol: float = 0.07
    """Vol of the short rate (CIR ``sigma_r``; the diffusion is ``sigma_r sqrt(r)``)."""
    overnight_weight: float = 0.2
    """Variance of a weeknight (close to next open), as a share of an intraday session's."""
    weekend_weight: float = 0.1
    """Extra variance per closed calendar day (weekends, holidays), as a share of a session's."""
    spot_start: float = 1000.0
    """SPX level at the first close before ``start``."""
    volume_base: float = 2.0e9
    """Typical SPX volume (shares) at average volatility."""
    issues: int = 3000
    """NYSE issues traded each session (advances + declines + unchanged)."""
    unchanged_share: float = 0.09
    """Typical share of unchanged issues."""
    breadth_beta: float = 0.32
    """Sensitivity of net breadth to the standardised SPX return."""
    breadth_noise: float = 0.12
    """Idiosyncratic daily noise of net breadth (before tanh)."""
    divergence_std: float = 0.08
    """Stationary standard deviation of the breadth-divergence factor ``d``."""
    divergence_half_life: float = 40.0
    """Half-life of the breadth-divergence factor, in sessions."""
    vx_listed: int = 8
    """VX contracts listed at once (next expiries after the trade date)."""
    burn_in_sessions: int = 252
    """Sessions simulated before ``start`` and discarded (to forget the initial state)."""

    def __post_init__(self) -> None:
        positive = (
            "kappa",
            "theta",
            "xi",
            "kappa_m",
            "xi_m",
            "variance_floor",
            "jump_std",
            "rate_kappa",
            "spot_start",
            "volume_base",
            "divergence_half_life",
        )
        non_negative = (
            "jump_intensity",
            "cojump_mean",
            "vol_risk_premium",
            "jump_risk_premium",
            "rate_mean",
            "rate_vol",
            "overnight_weight",
            "weekend_weight",
            "breadth_beta",
            "breadth_noise",
            "divergence_std",
        )
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInputError(f"SyntheticParams.{f.name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise InvalidInputError(f"SyntheticParams.{f.name} must be finite, got {value!r}")
        for name in positive:
            if not getattr(self, name) > 0:
                raise InvalidInputError(
                    f"SyntheticParams.{name} must be > 0, got {getattr(self, name)!r}"
                )
        for name in non_negative:
            if not getattr(self, name) >= 0:
                raise InvalidInputError(
                    f"SyntheticParams.{name} must be >= 0, got {getattr(self, name)!r}"
                )
        if not -1.0 < self.rho < 1.0:
            raise InvalidInputError(f"SyntheticParams.rho must lie in (-1, 1), got {self.rho!r}")
        if not self.kappa_q > 0:
            raise InvalidInputError(
                f"vol_risk_premium ({self.vol_risk_premium}) must be below kappa ({self.kappa}) "
                "so that kappa_Q = kappa - vol_risk_premium stays > 0"
            )
        if math.isclose(self.kappa_q, self.kappa_m):
            raise InvalidInputError("kappa_Q and kappa_m must differ (the formulas divide by it)")
        if not 0.0 <= self.unchanged_share < 0.5:
            raise InvalidInputError(
                f"SyntheticParams.unchanged_share must lie in [0, 0.5), got {self.unchanged_share}"
            )
        for name in ("issues", "vx_listed", "burn_in_sessions"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "burn_in_sessions" else 1):
                raise InvalidInputError(f"SyntheticParams.{name} must be a positive int: {value!r}")
        if self.vx_listed > 12:
            raise InvalidInputError(f"SyntheticParams.vx_listed must be <= 12: {self.vx_listed}")

    @property
    def kappa_q(self) -> float:
        """Risk-neutral mean reversion of ``v``: ``kappa - vol_risk_premium``."""
        return self.kappa - self.vol_risk_premium

    @property
    def jump_intensity_q(self) -> float:
        """Risk-neutral jump intensity ``lambda (1 + jump_risk_premium)``."""
        return self.jump_intensity * (1.0 + self.jump_risk_premium)

    @property
    def year_weight(self) -> float:
        """``Y``: the expected sum of the step weights over one calendar year."""
        extra_days = _CALENDAR_DAYS_PER_YEAR - _SESSIONS_PER_YEAR
        return _SESSIONS_PER_YEAR * (1.0 + self.overnight_weight) + self.weekend_weight * extra_days


DEFAULT_PARAMS: Final = SyntheticParams()
"""The calibrated defaults (see the module docstring)."""


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True, slots=True, eq=False)
class SyntheticPaths:
    """The simulated state at each session's open and close (arrays of one value per session).

    ``log_spot_*`` is ``ln SPX``; ``v_*`` the variance; ``m_*`` the central tendency;
    ``rate`` the short rate at the close; ``tau_day`` the intraday step (years);
    ``tau_session`` the whole step from the previous close; ``jumps`` the number of price
    jumps in the session (overnight and intraday); ``z`` the close-to-close log return over its
    model standard deviation.
    """

    dates: tuple[dt.date, ...]
    log_spot_open: FloatArray
    log_spot_close: FloatArray
    v_open: FloatArray
    v_close: FloatArray
    m_open: FloatArray
    m_close: FloatArray
    rate: FloatArray
    tau_day: FloatArray
    tau_session: FloatArray
    jumps: IntArray
    z: FloatArray


def _gaps(days: list[dt.date]) -> FloatArray:
    """Calendar days from the previous session to each session."""
    first_prev = previous_session(days[0])
    ordinals = np.array([first_prev.toordinal(), *(d.toordinal() for d in days)], dtype=np.int64)
    return np.diff(ordinals).astype(np.float64)


def simulate_paths(
    days: list[dt.date], *, rng: np.random.Generator, params: SyntheticParams = DEFAULT_PARAMS
) -> SyntheticPaths:
    """Simulate the latent state over ``days`` (ascending sessions) with ``rng``.

    The burn-in (``params.burn_in_sessions`` average sessions) runs first and is discarded.
    This is the core used by :func:`synthetic_market`; calibration scripts call it directly
    because it builds no frames.
    """
    if not days:
        raise InvalidInputError("simulate_paths needs at least one session")
    p = params
    n = len(days)
    burn = p.burn_in_sessions
    gaps = np.concatenate(
        [np.full(burn, _CALENDAR_DAYS_PER_YEAR / _SESSIONS_PER_YEAR), _gaps(days)]
    )
    total = burn + n
    # Two steps per session: overnight (even index) then intraday (odd index).
    tau = np.empty(2 * total, dtype=np.float64)
    tau[0::2] = (p.overnight_weight + p.weekend_weight * (gaps - 1.0)) / p.year_weight
    tau[1::2] = 1.0 / p.year_weight
    steps = 2 * total
    shocks = rng.standard_normal((4, steps))
    counts = rng.poisson(p.jump_intensity * tau)
    jump_sizes = p.jump_mean * counts + p.jump_std * np.sqrt(counts) * rng.standard_normal(steps)
    # The sum of ``counts`` Exponential(cojump_mean) co-jumps is Gamma(counts, cojump_mean).
    cojumps = np.where(counts > 0, rng.gamma(np.maximum(counts, 1), p.cojump_mean), 0.0)
    k_bar = math.exp(p.jump_mean + 0.5 * p.jump_std**2) - 1.0
    rho_bar = math.sqrt(1.0 - p.rho**2)

    z_s = shocks[0].tolist()
    z_v = (p.rho * shocks[0] + rho_bar * shocks[1]).tolist()
    z_m = shocks[2].tolist()
    z_r = shocks[3].tolist()
    tau_l = tau.tolist()
    sqrt_tau = np.sqrt(tau).tolist()
    jump_l = jump_sizes.tolist()
    cojump_l = cojumps.tolist()

    x_out = [0.0] * steps
    v_out = [0.0] * steps
    m_out = [0.0] * steps
    r_out = [0.0] * steps
    x = 0.0
    v = m = p.theta
    r = p.rate_mean
    floor = p.variance_floor
    drift_const = p.equity_premium - p.dividend_yield - p.jump_intensity * k_bar
    for i in range(steps):
        t = tau_l[i]
        st = sqrt_tau[i]
        sv = math.sqrt(v)
        x += (r + drift_const - 0.5 * v) * t + sv * st * z_s[i] + jump_l[i]
        v_new = v + p.kappa * (m - v) * t + p.xi * sv * st * z_v[i] + cojump_l[i]
        m_new = m + p.kappa_m * (p.theta - m) * t + p.xi_m * math.sqrt(m) * st * z_m[i]
        r_new = r + p.rate_kappa * (p.rate_mean - r) * t + p.rate_vol * math.sqrt(r) * st * z_r[i]
        v = v_new if v_new > floor else floor
        m = m_new if m_new > floor else floor
        r = r_new if r_new > 0.0 else 0.0
        x_out[i] = x
        v_out[i] = v
        m_out[i] = m
        r_out[i] = r
    xs = np.asarray(x_out)[2 * burn :]
    vs = np.asarray(v_out)[2 * burn :]
    ms = np.asarray(m_out)[2 * burn :]
    rs = np.asarray(r_out)[2 * burn :]
    shift = math.log(p.spot_start) - (np.asarray(x_out)[2 * burn - 1] if burn else 0.0)
    log_open = xs[0::2] + shift
    log_close = xs[1::2] + shift
    v_prev = np.concatenate([[v_out[2 * burn - 1] if burn else p.theta], vs[1::2][:-1]])
    tau_sess = tau[2 * burn :][0::2] + tau[2 * burn :][1::2]
    prev_close = np.concatenate([[math.log(p.spot_start)], log_close[:-1]])
    ret = log_close - prev_close
    z = ret / np.sqrt(np.maximum(v_prev, floor) * tau_sess)
    cnt = counts[2 * burn :]
    return SyntheticPaths(
        dates=tuple(days),
        log_spot_open=log_open,
        log_spot_close=log_close,
        v_open=vs[0::2].copy(),
        v_close=vs[1::2].copy(),
        m_open=ms[0::2].copy(),
        m_close=ms[1::2].copy(),
        rate=rs[1::2].copy(),
        tau_day=tau[2 * burn :][1::2].copy(),
        tau_session=tau_sess,
        jumps=(cnt[0::2] + cnt[1::2]).astype(np.int64),
        z=z,
    )


# --------------------------------------------------------------------------- pricing


def _a(k: float, tau: FloatArray | float) -> FloatArray:
    """``A(k, tau) = (1 - exp(-k tau)) / (k tau)``, the average of ``exp(-k s)`` over [0, tau]."""
    kt = k * np.asarray(tau, dtype=np.float64)
    small = np.abs(kt) < 1e-8
    safe = np.where(small, 1.0, kt)
    return np.where(small, 1.0 - 0.5 * kt, -np.expm1(-safe) / safe)


def _jump_variance_q(p: SyntheticParams) -> float:
    """``2 lambda_Q E[e^J - 1 - J]``: the jumps' share of the risk-neutral variance-swap rate."""
    e_exp = math.exp(p.jump_mean + 0.5 * p.jump_std**2)
    return 2.0 * p.jump_intensity_q * (e_exp - 1.0 - p.jump_mean)


def _v_inf_q(p: SyntheticParams) -> float:
    return (p.kappa * p.theta + p.jump_intensity_q * p.cojump_mean) / p.kappa_q


def _loadings(p: SyntheticParams, tau: FloatArray | float) -> tuple[FloatArray, FloatArray]:
    """Loadings ``(b, c)`` of the average risk-neutral variance over ``tau`` on ``v`` and ``m``."""
    a_q = _a(p.kappa_q, tau)
    b = a_q
    c = p.kappa / (p.kappa_q - p.kappa_m) * (_a(p.kappa_m, tau) - a_q)
    return b, c


def index_variance(
    v: FloatArray, m: FloatArray, tau: FloatArray | float, p: SyntheticParams = DEFAULT_PARAMS
) -> FloatArray:
    """Risk-neutral variance-swap rate (decimal, per year) over ``tau`` years.

    ``<v>_tau + 2 lambda_Q E[e^J - 1 - J]`` (module docstring); broadcasts over its inputs.
    """
    v_inf = _v_inf_q(p)
    b, c = _loadings(p, tau)
    avg = v_inf + (v - v_inf) * b + (m - p.theta) * c
    return np.asarray(avg + _jump_variance_q(p), dtype=np.float64)


def _cir_variance(x0: FloatArray, target: float, k: float, vol: float, t: FloatArray) -> FloatArray:
    e1 = np.exp(-k * t)
    return np.asarray(
        x0 * vol**2 / k * (e1 - e1**2) + target * vol**2 / (2.0 * k) * (1.0 - e1) ** 2,
        dtype=np.float64,
    )


def vx_price(
    v: FloatArray, m: FloatArray, t_years: FloatArray, p: SyntheticParams = DEFAULT_PARAMS
) -> FloatArray:
    """Model VX futures price (VIX points) ``t_years`` before expiry; broadcasts.

    ``F = sqrt(M_2) (1 + V / M_2^2)^(-1/8)``: the log-normal convexity adjustment of the
    module docstring. At ``t_years = 0`` this is the VIX itself.
    """
    t = np.maximum(np.asarray(t_years, dtype=np.float64), 0.0)
    d = _VIX_DAYS / _DAYS_PER_YEAR
    w_far = (t + d) * index_variance(v, m, t + d, p)
    w_near = t * index_variance(v, m, t, p)
    m2 = np.maximum((w_far - w_near) / d, 1e-8)
    b, c = _loadings(p, d)
    var_v = _cir_variance(v, _v_inf_q(p), p.kappa_q, p.xi, t)
    var_v = var_v + p.jump_intensity_q * p.cojump_mean**2 * (-np.expm1(-2.0 * p.kappa_q * t)) / (
        p.kappa_q
    )
    var_m = _cir_variance(m, p.theta, p.kappa_m, p.xi_m, t)
    var = b**2 * var_v + c**2 * var_m
    return np.asarray(100.0 * np.sqrt(m2) * (1.0 + var / m2**2) ** -0.125, dtype=np.float64)


def _index_log_vol(
    v: FloatArray, m: FloatArray, tau: float, p: SyntheticParams
) -> tuple[FloatArray, FloatArray]:
    """(index level in points, instantaneous diffusive vol of its log) for tenor ``tau``."""
    var = index_variance(v, m, tau, p)
    b, _ = _loadings(p, tau)
    log_vol = b * p.xi * np.sqrt(np.maximum(v, 0.0)) / (2.0 * var)
    return 100.0 * np.sqrt(var), np.asarray(log_vol, dtype=np.float64)


def vvix_level(v: FloatArray, m: FloatArray, p: SyntheticParams = DEFAULT_PARAMS) -> FloatArray:
    """VVIX approximation: vol of the log 30-day VX future, diffusion plus co-jumps, x100."""
    d = _VIX_DAYS / _DAYS_PER_YEAR
    b, _ = _loadings(p, d)
    damp = math.exp(-p.kappa_q * d)
    w_far = 2.0 * d * index_variance(v, m, 2.0 * d, p)
    w_near = d * index_variance(v, m, d, p)
    m2 = np.maximum((w_far - w_near) / d, 1e-8)
    diffusive = (damp * b * p.xi * np.sqrt(np.maximum(v, 0.0)) / (2.0 * m2)) ** 2
    jump_move = np.log1p(damp * b * p.cojump_mean / m2) / 2.0
    jumps = p.jump_intensity_q * 2.0 * jump_move**2
    return np.asarray(100.0 * np.sqrt(diffusive + jumps), dtype=np.float64)


def skew_level(v: FloatArray, m: FloatArray, p: SyntheticParams = DEFAULT_PARAMS) -> FloatArray:
    """SKEW approximation: ``100 - 10 S``, ``S`` the leading-order 30-day Q skewness."""
    tau = _VIX_DAYS / _DAYS_PER_YEAR
    k2 = index_variance(v, m, tau, p) * tau
    leverage = 1.5 * p.rho * p.xi * np.maximum(v, 0.0) * tau**2
    jumps = p.jump_intensity_q * tau * (p.jump_mean**3 + 3.0 * p.jump_mean * p.jump_std**2)
    s = (leverage + jumps) / k2**1.5
    return np.asarray(100.0 - 10.0 * s, dtype=np.float64)


# --------------------------------------------------------------------------- frames


def _bridge_extremes(
    log_open: FloatArray, log_close: FloatArray, var: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """(log high, log low) from the Brownian-bridge maximum and minimum (module docstring)."""
    x = log_close - log_open
    s2 = np.maximum(var, 0.0)
    u = rng.random((2, len(x)))
    # 1 - u lies in (0, 1]: its log is finite and <= 0.
    up = 0.5 * (x + np.sqrt(x**2 - 2.0 * s2 * np.log1p(-u[0])))
    down = 0.5 * (x - np.sqrt(x**2 - 2.0 * s2 * np.log1p(-u[1])))
    return log_open + np.maximum(up, np.maximum(x, 0.0)), log_open + np.minimum(
        down, np.minimum(x, 0.0)
    )


def _date_column(days: list[dt.date] | tuple[dt.date, ...]) -> pd.Series:
    return pd.Series(pd.to_datetime(list(days)), dtype="datetime64[ns]")


def _ohlc_frame(
    dates: pd.Series,
    *,
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray | None = None,
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "date": dates,
            "open": open_,
            "high": np.maximum(high, np.maximum(open_, close)),
            "low": np.minimum(low, np.minimum(open_, close)),
            "close": close,
        }
    )
    if volume is not None:
        frame["volume"] = volume
    frame["modelled"] = True
    return frame


def _close_frame(dates: pd.Series, close: FloatArray) -> pd.DataFrame:
    return pd.DataFrame({"date": dates, "close": close, "modelled": True})


def _spx_frame(
    paths: SyntheticPaths, dates: pd.Series, p: SyntheticParams, rng: np.random.Generator
) -> pd.DataFrame:
    var = paths.v_open * paths.tau_day
    log_high, log_low = _bridge_extremes(paths.log_spot_open, paths.log_spot_close, var, rng)
    vol_ratio = np.sqrt(np.maximum(paths.v_close, 0.0) / p.theta)
    noise = np.exp(0.25 * rng.standard_normal(len(dates)) - 0.5 * 0.25**2)
    volume = np.round(p.volume_base * vol_ratio**0.8 * noise)
    return _ohlc_frame(
        dates,
        open_=np.exp(paths.log_spot_open),
        high=np.exp(log_high),
        low=np.exp(log_low),
        close=np.exp(paths.log_spot_close),
        volume=volume,
    )


def _index_frames(
    paths: SyntheticPaths, dates: pd.Series, p: SyntheticParams, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    for name, days in INDEX_TENOR_DAYS.items():
        tau = days / _DAYS_PER_YEAR
        level_open, vol_open = _index_log_vol(paths.v_open, paths.m_open, tau, p)
        level_close, _ = _index_log_vol(paths.v_close, paths.m_close, tau, p)
        log_high, log_low = _bridge_extremes(
            np.log(level_open), np.log(level_close), vol_open**2 * paths.tau_day, rng
        )
        out[name] = _ohlc_frame(
            dates,
            open_=level_open,
            high=np.exp(log_high),
            low=np.exp(log_low),
            close=level_close,
        )
    out["vvix"] = _close_frame(dates, vvix_level(paths.v_close, paths.m_close, p))
    out["skew"] = _close_frame(dates, skew_level(paths.v_close, paths.m_close, p))
    return out


def _years_to_vro(
    dates: npt.NDArray[np.datetime64], expiries: list[dt.date], which: IntArray
) -> FloatArray:
    """Years from 16:15 ET on each date to 09:30 ET on ``expiries[which]`` (as vx_curve counts)."""
    settle = np.array(
        [
            settlement_datetime(e, ExpiryKind.VIX_AM).astimezone(dt.UTC).replace(tzinfo=None)
            for e in expiries
        ],
        dtype="datetime64[ns]",
    )[which]
    valued = (
        (pd.DatetimeIndex(dates) + pd.Timedelta(hours=SETTLE_TIME.hour, minutes=SETTLE_TIME.minute))
        .tz_localize(NEW_YORK.key)
        .tz_convert("UTC")
        .tz_localize(None)
    )
    minutes = (settle - valued.to_numpy(dtype="datetime64[ns]")) / np.timedelta64(1, "m")
    return np.asarray(minutes / MINUTES_PER_YEAR, dtype=np.float64)


def _vx_frame(
    paths: SyntheticPaths,
    vix_open: FloatArray,
    vix_log_vol: FloatArray,
    p: SyntheticParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    days = list(paths.dates)
    n = len(days)
    span_end = days[-1] + dt.timedelta(days=31 * (p.vx_listed + 2))
    exps = vx_expiries(days[0], span_end)
    exp_ord = np.array([e.toordinal() for e in exps], dtype=np.int64)
    day_ord = np.array([d.toordinal() for d in days], dtype=np.int64)
    # First contract expiring strictly after each day; the expiring one (if any) just before.
    first = np.searchsorted(exp_ord, day_ord, side="right")
    if first.max() + p.vx_listed > len(exps):  # pragma: no cover - guarded by _MAX_END
        raise InvalidInputError("the VX listing runs past the calendar; choose an earlier end")
    listed = first[:, None] + np.arange(p.vx_listed)[None, :]
    rank = np.broadcast_to(np.arange(1, p.vx_listed + 1), listed.shape)
    day_idx = np.broadcast_to(np.arange(n)[:, None], listed.shape)
    expiring = (first > 0) & (exp_ord[np.maximum(first - 1, 0)] == day_ord)
    row_day = np.concatenate([day_idx.ravel(), np.flatnonzero(expiring)])
    row_exp = np.concatenate([listed.ravel(), first[expiring] - 1])
    row_rank = np.concatenate([rank.ravel(), np.zeros(int(expiring.sum()), dtype=np.int64)])
    order = np.lexsort((row_exp, row_day))
    row_day, row_exp, row_rank = row_day[order], row_exp[order], row_rank[order]
    date_values = np.array(days, dtype="datetime64[D]").astype("datetime64[ns]")[row_day]
    t = np.maximum(_years_to_vro(date_values, exps, row_exp), 0.0)
    live = row_rank > 0
    settle = vx_price(paths.v_close[row_day], paths.m_close[row_day], t, p)
    # The open values the same contract at the open state (the few hours' difference in
    # maturity is ignored).
    opening = vx_price(paths.v_open[row_day], paths.m_open[row_day], t, p)
    # d ln F = e^{-kappa_Q T} b xi sqrt(v) dW / (2 M_2): the VIX's log-vol, damped, times
    # VIX^2 / M_2 ~ (VIX / F)^2.
    damp = np.exp(-p.kappa_q * t)
    log_vol = vix_log_vol[row_day] * damp * (vix_open[row_day] / np.maximum(opening, 1e-8)) ** 2
    log_high, log_low = _bridge_extremes(
        np.log(opening), np.log(settle), log_vol**2 * paths.tau_day[row_day], rng
    )
    high = np.maximum(np.exp(log_high), np.maximum(opening, settle))
    low = np.minimum(np.exp(log_low), np.minimum(opening, settle))
    # Expiry-day rows: only the final settlement value (the VRO: VIX at that morning's open).
    settle = np.where(live, settle, vix_open[row_day])
    nan = np.full(len(row_day), np.nan)
    ohlc = {
        "open": np.where(live, opening, nan),
        "high": np.where(live, high, nan),
        "low": np.where(live, low, nan),
        "close": np.where(live, settle, nan),
    }
    decay = np.exp(-0.6 * np.maximum(row_rank - 1, 0))
    noise = np.exp(0.3 * rng.standard_normal(len(row_day)))
    volume = np.where(live, np.round(40_000.0 * decay * noise), 0).astype(np.int64)
    oi = np.round(120_000.0 * np.exp(-0.4 * np.maximum(row_rank - 1, 0))).astype(np.int64)
    expiry_values = np.array(exps, dtype="datetime64[D]").astype("datetime64[ns]")[row_exp]
    labels = np.array([f"VX {e:%Y-%m}" for e in exps], dtype=object)[row_exp]
    return pd.DataFrame(
        {
            "date": pd.Series(date_values, dtype="datetime64[ns]"),
            "contract": pd.Series(labels, dtype="str"),
            "expiry": pd.Series(expiry_values, dtype="datetime64[ns]"),
            **ohlc,
            "settle": settle,
            "volume": volume,
            "open_interest": oi,
            "rescaled": False,
            "modelled": True,
        }
    )


def _breadth_frame(
    paths: SyntheticPaths, dates: pd.Series, p: SyntheticParams, rng: np.random.Generator
) -> pd.DataFrame:
    n = len(dates)
    phi = 0.5 ** (1.0 / p.divergence_half_life)
    innovations = p.divergence_std * math.sqrt(1.0 - phi**2) * rng.standard_normal(n)
    divergence = np.empty(n, dtype=np.float64)
    level = p.divergence_std * float(rng.standard_normal())
    for i, e in enumerate(innovations.tolist()):  # an AR(1): n scalar steps, microseconds each
        level = phi * level + e
        divergence[i] = level
    net = np.tanh(p.breadth_beta * paths.z + divergence + p.breadth_noise * rng.standard_normal(n))
    unchanged = np.clip(p.unchanged_share * np.exp(0.3 * rng.standard_normal(n)), 0.0, 0.5)
    probs = np.stack(
        [(1.0 - unchanged) * (1.0 + net) / 2.0, (1.0 - unchanged) * (1.0 - net) / 2.0, unchanged],
        axis=1,
    )
    probs = probs / probs.sum(axis=1, keepdims=True)
    counts = rng.multinomial(p.issues, probs).astype(np.int64)
    return pd.DataFrame(
        {
            "date": dates,
            "advances": counts[:, 0],
            "declines": counts[:, 1],
            "unchanged": counts[:, 2],
        }
    )


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> dt.date:
    """The ``nth`` (1-based; -1 for the last) ``weekday`` of ``year``-``month``."""
    if nth > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _event_rows(start: dt.date, end: dt.date) -> list[tuple[dt.date, str, str, str, str]]:
    """(date, event, detail, ref_period, time_et) of the modelled events in ``start..end``."""
    rows: list[tuple[dt.date, str, str, str, str]] = []
    for year in range(start.year, end.year + 1):
        for month in range(1, 13):
            nth = _FOMC_WEDNESDAY.get(month)
            if nth is not None:
                day = previous_session(_nth_weekday(year, month, _WEDNESDAY, nth), inclusive=True)
                rows.append((day, "fomc_decision", "FOMC rate decision", "", _FOMC_TIME))
            cpi = _cpi_day(year, month)
            ref = dt.date(year, month, 1) - dt.timedelta(days=1)
            ref_text = f"{ref:%B %Y}"
            rows.append((cpi, "cpi", "Consumer Price Index", ref_text, _RELEASE_TIME))
            ppi = previous_session(cpi)
            rows.append((ppi, "ppi", "Producer Price Index", ref_text, _RELEASE_TIME))
    return [r for r in rows if start <= r[0] <= end]


def _cpi_day(year: int, month: int) -> dt.date:
    day = sessions(dt.date(year, month, _CPI_DAY), dt.date(year, month, 28))
    for d in day:
        if d.weekday() not in {0, 4}:  # prefer Tuesday..Thursday, as BLS mostly does
            return d
    return day[0]  # pragma: no cover - every month has a Tuesday..Thursday after the 12th


def _events_frame(start: dt.date, end: dt.date) -> pd.DataFrame:
    rows = sorted(_event_rows(start, end), key=lambda r: (r[0], r[1]))
    return pd.DataFrame(
        {
            "date": pd.Series(pd.to_datetime([r[0] for r in rows]), dtype="datetime64[ns]"),
            "event": pd.Series([r[1] for r in rows], dtype="str"),
            "detail": pd.Series([r[2] for r in rows], dtype="str"),
            "ref_period": pd.Series([r[3] for r in rows], dtype="str"),
            "time_et": pd.Series([r[4] for r in rows], dtype="str"),
            "source": pd.Series([SOURCE] * len(rows), dtype="str"),
        }
    )


def _rates_frame(paths: SyntheticPaths, dates: pd.Series) -> pd.DataFrame:
    rate = np.round(paths.rate / _RATE_TICK) * _RATE_TICK
    return pd.DataFrame({"date": dates, "rate_decimal": rate.astype(np.float64)})


# --------------------------------------------------------------------------- market


@dataclass(frozen=True, slots=True)
class ChainInputs:
    """Everything a model-chain builder may use for one session (all model values).

    Attributes
    ----------
    date
        The session.
    spot
        SPX close.
    rate
        Short rate, decimal per year (the quoted T-bill rate of the session).
    dividend_yield
        Continuous dividend yield of SPX.
    vix, vix9d, vix3m, vix6m
        The volatility indices at the close, in vol points.
    vvix, skew
        VVIX and SKEW at the close.
    vx_curve
        The session's VX futures rows (canonical CFE frame, expiring contract excluded).
    """

    date: dt.date
    spot: float
    rate: float
    dividend_yield: float
    vix: float
    vix9d: float
    vix3m: float
    vix6m: float
    vvix: float
    skew: float
    vx_curve: pd.DataFrame = field(repr=False)


ChainBuilder = Callable[[ChainInputs], pd.DataFrame]
"""Builds the canonical option chain(s) of one session from :class:`ChainInputs`."""


def model_chain_builder(inputs: ChainInputs) -> pd.DataFrame:
    """The default :data:`ChainBuilder`: SPX/SPXW and VIX model chains of one session.

    SPX and SPXW rows come from :func:`vixshield.data.model_chains.model_spx_chain` (the VIX
    family and SKEW set the smile), VIX rows from
    :func:`~vixshield.data.model_chains.model_vix_chain` (Black-76 on the session's VX settles,
    VVIX sets the level), both at that module's default snapshot time (15:45 ET) from the
    session's closing values. The synthetic short rate is a continuously compounded rate, as
    both expect. One canonical frame, SPX/SPXW rows first, every row ``modelled = True``.
    """
    spx = model_spx_chain(
        inputs.date,
        inputs.spot,
        vix=inputs.vix,
        vix9d=inputs.vix9d,
        vix3m=inputs.vix3m,
        vix6m=inputs.vix6m,
        skew=inputs.skew,
        rate=inputs.rate,
        div_yield=inputs.dividend_yield,
    )
    curve = inputs.vx_curve
    futures = {
        pd.Timestamp(e).date(): float(f)
        for e, f in zip(curve["expiry"], curve["settle"], strict=True)
    }
    vix = model_vix_chain(inputs.date, futures, vvix=inputs.vvix, rate=inputs.rate)
    return pd.concat([spx, vix], ignore_index=True)


@dataclass(frozen=True, slots=True, eq=False)
class SyntheticMarket:
    """One simulated market over ``start..end`` (see the module docstring).

    Every frame is in the canonical format of the matching real loader:

    ``spx``
        Prices (``load_ohlcv``): ``date, open, high, low, close, volume, modelled``.
    ``vix``, ``vix9d``, ``vix3m``, ``vix6m``
        Cboe OHLC index frames (``load_cboe_index``): ``date, open, high, low, close,
        modelled``.
    ``vvix``, ``skew``
        Single-value Cboe frames: ``date, close, modelled``.
    ``vx``
        VX futures (``load_cfe_folder``), one row per listed contract per session.
    ``breadth``
        ``load_breadth``: ``date, advances, declines, unchanged``.
    ``events``
        ``load_macro_events``: FOMC decisions, CPI and PPI, from ``start`` to a year after
        ``end``.
    ``rates``
        ``load_tbill_rate``: ``date, rate_decimal``.
    ``latent``
        The model state at each close: ``date, variance, central_variance, jumps``
        (diagnostics; no real counterpart).

    The breadth, events and rates frames have no ``modelled`` column because their canonical
    schemas have none; everything here is modelled.
    """

    start: dt.date
    end: dt.date
    seed: int
    params: SyntheticParams
    spx: pd.DataFrame
    vix: pd.DataFrame
    vix9d: pd.DataFrame
    vix3m: pd.DataFrame
    vix6m: pd.DataFrame
    vvix: pd.DataFrame
    skew: pd.DataFrame
    vx: pd.DataFrame
    breadth: pd.DataFrame
    events: pd.DataFrame
    rates: pd.DataFrame
    latent: pd.DataFrame
    chain_builder: ChainBuilder = field(default=model_chain_builder, repr=False)

    @property
    def sessions(self) -> tuple[dt.date, ...]:
        """The simulated sessions, ascending."""
        return tuple(d.date() for d in pd.DatetimeIndex(self.spx["date"]))

    def indices(self) -> pd.DataFrame:
        """``date, vix, vix9d, vix3m, vix6m`` closes: the wide input of :mod:`vx_curve`."""
        return pd.DataFrame(
            {
                "date": self.vix["date"],
                "vix": self.vix["close"],
                "vix9d": self.vix9d["close"],
                "vix3m": self.vix3m["close"],
                "vix6m": self.vix6m["close"],
            }
        )

    def index_frames(self) -> dict[str, pd.DataFrame]:
        """The six Cboe index frames by name (``vix``, ``vix9d``, ``vix3m``, ``vix6m``,
        ``vvix``, ``skew``), as :meth:`MarketHistory.from_frames` takes them."""
        return {
            "vix": self.vix,
            "vix9d": self.vix9d,
            "vix3m": self.vix3m,
            "vix6m": self.vix6m,
            "vvix": self.vvix,
            "skew": self.skew,
        }

    def chain_inputs(self, day: dt.date) -> ChainInputs:
        """The model values a chain builder needs for session ``day``.

        Raises
        ------
        InvalidInputError
            If ``day`` is not one of the simulated sessions.
        """
        stamp = pd.Timestamp(day)
        pos = np.flatnonzero((self.spx["date"] == stamp).to_numpy())
        if len(pos) != 1:
            raise InvalidInputError(
                f"{day} is not a session of this synthetic market ({self.start}..{self.end})"
            )
        i = int(pos[0])

        def close(frame: pd.DataFrame) -> float:
            return float(frame["close"].iloc[i])

        vx = self.vx.loc[(self.vx["date"] == stamp) & (self.vx["expiry"] > stamp)]
        return ChainInputs(
            date=day,
            spot=close(self.spx),
            rate=float(self.rates["rate_decimal"].iloc[i]),
            dividend_yield=self.params.dividend_yield,
            vix=close(self.vix),
            vix9d=close(self.vix9d),
            vix3m=close(self.vix3m),
            vix6m=close(self.vix6m),
            vvix=close(self.vvix),
            skew=close(self.skew),
            vx_curve=vx.reset_index(drop=True),
        )

    def chain(self, day: dt.date, *, builder: ChainBuilder | None = None) -> pd.DataFrame:
        """The modelled option chain(s) of session ``day``, from ``builder``.

        ``builder`` (else the market's ``chain_builder``, by default
        :func:`model_chain_builder`: SPX, SPXW and VIX options) receives :meth:`chain_inputs`
        and returns a canonical chain frame; the result must have ``modelled`` all True.

        Raises
        ------
        InvalidInputError
            If ``day`` is not a simulated session.
        DataError
            If the builder returns rows not flagged as modelled.
        """
        make = builder if builder is not None else self.chain_builder
        frame = make(self.chain_inputs(day))
        if "modelled" not in frame.columns or not bool(frame["modelled"].all()):
            raise DataError("the chain builder returned rows not flagged modelled=True")
        return frame


def synthetic_market(
    start: dt.date,
    end: dt.date,
    *,
    seed: int = 0,
    params: SyntheticParams = DEFAULT_PARAMS,
    chain_builder: ChainBuilder = model_chain_builder,
) -> SyntheticMarket:
    """Simulate the embedded default market over the XNYS sessions ``start..end``.

    Parameters
    ----------
    start, end
        First and last calendar day (inclusive); the frames hold the sessions between them.
    seed
        Seed of the :class:`numpy.random.Generator`; same ``(start, end, seed, params)`` gives
        identical frames. A sub-range of a longer run is not equal to a separate run over it.
    params
        Model parameters (:data:`DEFAULT_PARAMS`: calibrated to 1990-2019).
    chain_builder
        Builds option chains for :meth:`SyntheticMarket.chain` (default
        :func:`model_chain_builder`, over :mod:`vixshield.data.model_chains`).

    Returns
    -------
    SyntheticMarket
        The frames and the parameters used.

    Raises
    ------
    InvalidInputError
        If the range is empty, holds no session, or leaves the supported calendar range
        (``CALENDAR_START`` + a year .. ``CALENDAR_END`` - 500 days), or ``seed`` is not a
        non-negative int.
    """
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        raise InvalidInputError(f"start and end must be dates, got {start!r}, {end!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(params, SyntheticParams):
        raise InvalidInputError(f"params must be SyntheticParams, got {type(params).__name__}")
    lowest = CALENDAR_START + dt.timedelta(days=366)
    if start > end or start < lowest or end > _MAX_END:
        raise InvalidInputError(
            f"need {lowest} <= start <= end <= {_MAX_END}, got start={start}, end={end}"
        )
    days = sessions(start, end)
    if not days:
        raise InvalidInputError(f"no XNYS session between {start} and {end}")
    rng = np.random.default_rng(seed)
    paths = simulate_paths(days, rng=rng, params=params)
    dates = _date_column(days)
    spx = _spx_frame(paths, dates, params, rng)
    indices = _index_frames(paths, dates, params, rng)
    vix_open = indices["vix"]["open"].to_numpy(dtype=np.float64)
    _, vix_log_vol = _index_log_vol(paths.v_open, paths.m_open, _VIX_DAYS / _DAYS_PER_YEAR, params)
    vx = _vx_frame(paths, vix_open, vix_log_vol, params, rng)
    breadth = _breadth_frame(paths, dates, params, rng)
    latent = pd.DataFrame(
        {
            "date": dates,
            "variance": paths.v_close,
            "central_variance": paths.m_close,
            "jumps": paths.jumps,
        }
    )
    return SyntheticMarket(
        start=start,
        end=end,
        seed=seed,
        params=params,
        spx=spx,
        vix=indices["vix"],
        vix9d=indices["vix9d"],
        vix3m=indices["vix3m"],
        vix6m=indices["vix6m"],
        vvix=indices["vvix"],
        skew=indices["skew"],
        vx=vx,
        breadth=breadth,
        events=_events_frame(start, min(end + _EVENT_LEAD, CALENDAR_END)),
        rates=_rates_frame(paths, dates),
        latent=latent,
        chain_builder=chain_builder,
    )
