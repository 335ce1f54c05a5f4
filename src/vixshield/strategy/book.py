r"""The book: every open position, its valuation inputs, book Greeks and the delta band.

A :class:`Book` holds the open option structures (SPX, SPXW and VIX legs) and an optional
equity book. :func:`book_greeks` values it on a :class:`MarketState` with a pluggable
:class:`VolSurface` and aggregates the Greeks (METHOD section 7); :func:`delta_band` compares the
book delta with the band; :func:`capm_beta` gives the beta that weights an equity book to SPX.

Conventions
-----------
* **Models.** SPX and SPXW options: Black-Scholes-Merton on the SPX spot with a continuous
  dividend yield, i.e. Black-76 on the forward :math:`F = S e^{(r-q)T}` discounted at
  :math:`e^{-rT}`. VIX options: **Black-76 on the VX future of the same expiry** (CBOE.md
  section 9), never on spot VIX. :math:`T` is real elapsed minutes from ``as_of`` to the
  settlement instant over 525,600 (09:30 ET for SPX and VIX, the close for SPXW).
* **Expired legs** (:math:`T \le 0`): valued at intrinsic value on the current underlying
  (SPX spot for SPX-family legs, spot VIX standing in for the VRO for VIX legs), with zero
  Greeks. The settlement value itself is not known to the book.
* **Quantities.** A leg's position scale is ``quantity * multiplier`` (signed; 100 for SPX, SPXW
  and VIX options), so every Greek below is in USD for the whole position.

Book Greeks (:class:`BookGreeks`), units in the names
------------------------------------------------------
==============================  ==============================================================
``delta_spx_points``            :math:`\sum q m \Delta_S` + equity :math:`\sum V_e\beta_e/S`:
                                USD per 1 SPX point (equivalently, SPX index units held)
``delta_usd_per_pct``           ``delta_spx_points * S / 100``: USD per 1% SPX move
                                (equity: :math:`V_e \beta_e / 100`)
``gamma_usd_per_pct_sq``        :math:`\sum q m \Gamma_S (S/100)^2`: the second-order term,
                                P&L :math:`\approx \delta x + \tfrac12 \gamma x^2` for an
                                ``x`` % move; also the change of ``delta_usd_per_pct`` per 1%
                                move from the options' gamma
``gamma_spx_points_per_point``  :math:`\sum q m \Gamma_S`: change of ``delta_spx_points``
                                per SPX point
``vega_usd_per_volpt``          SPX-family options only: USD per 1 vol point of SPX implied vol
``theta_usd_per_day``           all options (SPX and VIX): USD per calendar day, underlying,
                                vol and rate held (BSM holds S; Black-76 holds F)
``vix_delta_usd_per_vixpt``     VIX options: :math:`\sum q m \partial V/\partial F_{VX}`, USD
                                per 1 point of the VX future of each leg's expiry
``vix_gamma_usd_per_vixpt_sq``  VIX options: :math:`\sum q m \Gamma_F`
``vix_vega_usd_per_volpt``      VIX options: USD per 1 vol point of VIX implied vol
                                (vol of vol; never added to the SPX vega)
==============================  ==============================================================

VIX options have no SPX delta in the Greeks (their exposure to SPX runs through VIX and is
captured by the scenario table of :mod:`vixshield.strategy.scenarios`).

Equity book (CAPM beta weighting)
---------------------------------
A holding of value :math:`V_e` with beta :math:`\beta_e` to SPX adds
:math:`V_e \beta_e / 100` USD per 1% SPX move. :math:`\beta_e` comes from the book file or from
:func:`capm_beta`: the OLS slope of the stock's daily returns on SPX's daily returns over the
trailing ``window`` paired days, :math:`\beta = \mathrm{cov}(r_s, r_m) / \mathrm{var}(r_m)`.

Delta band (METHOD section 7)
-----------------------------
``fraction = delta_usd_per_pct / equity_usd``: the book's P&L for a 1% SPX move as a fraction of
equity. The band is breached when :math:`|\mathrm{fraction}| >` ``BookParams.delta_band_frac``
(default 0.0015, the texts' "±0.15").

Valuation inputs
----------------
:class:`MarketState` carries the SPX spot, VIX (and VVIX when known), rate, dividend yield and
the VX futures by expiry. Implied vols come from a :class:`VolSurface` (a protocol with
``spx_vol(expiry, strike)`` and ``vix_vol(expiry, strike)``):

* :class:`ChainVolSurface` reads the ``iv`` column of a chain that went through
  :func:`vixshield.data.chains.add_implied_vols` (interpolated linearly in strike within an
  expiry, flat beyond the outermost quoted strikes; out-of-the-money side preferred), with an
  optional fallback surface for expiries the chain lacks.
* :class:`VixSkewSurface` is the fallback when there is no chain: SPX ATM vol proportional to
  VIX with a log-moneyness skew that steepens as :math:`1/\sqrt{T}`; VIX option vol from VVIX
  with an upward skew (formulas in the class docstring).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vixshield.domain.market import MarketSnapshot
from vixshield.domain.positions import Book, OptionContract
from vixshield.errors import InvalidInputError
from vixshield.pricing.black import black76_greeks, bsm_greeks

__all__ = [
    "Book",
    "BookGreeks",
    "BookParams",
    "ChainVolSurface",
    "DeltaBand",
    "LegArrays",
    "MarketState",
    "VixSkewSurface",
    "VolSurface",
    "book_greeks",
    "capm_beta",
    "delta_band",
    "equity_betas_from_returns",
    "intrinsic",
    "leg_arrays",
    "leg_frame",
    "leg_vols",
]

FloatArray = npt.NDArray[np.float64]

_T30: Final = 30.0 / 365.0
_MIN_T_YEARS: Final = 1.0 / 365.0  # vol-surface granularity: one day
_SPX_FAMILY: Final = frozenset({"SPX", "SPXW", "SPXQ", "SPXPM"})


# --------------------------------------------------------------------------------------------
# Parameters


class BookParams(BaseModel):
    """Book risk: the delta band, the CAPM beta window and the scenario table's vol response."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delta_band_frac: float = Field(
        default=0.0015,
        gt=0.0,
        le=0.02,
        description="delta band: |book delta per 1% SPX move| / equity above this activates "
        "the hedge (METHOD 7; 0.0015 is ±0.15%)",
    )
    beta_window_days: int = Field(
        default=252, ge=20, le=2520, description="trailing daily returns in the CAPM beta"
    )
    beta_min_obs: int = Field(
        default=60,
        ge=2,
        le=2520,
        description="fewest paired daily returns for a CAPM beta",
    )
    scenario_spx_moves_pct: tuple[float, ...] = Field(
        default=(-20.0, -10.0, -5.0, 5.0, 10.0),
        description="scenario SPX moves in percent (each alone, VIX implied by the spot-vol beta)",
    )
    scenario_vix_moves_pts: tuple[float, ...] = Field(
        default=(10.0, 20.0), description="scenario VIX moves in index points (SPX unchanged)"
    )
    scenario_days: tuple[float, ...] = Field(
        default=(1.0, 7.0), description="scenario horizons in calendar days (market unchanged)"
    )
    scenario_combined: tuple[tuple[float, float], ...] = Field(
        default=((-10.0, 20.0), (-20.0, 30.0)),
        description="combined scenarios as [SPX move %, VIX move points] pairs",
    )
    vix_pts_per_spx_pct_down: float = Field(
        default=1.0,
        ge=0.0,
        le=5.0,
        description="spot-vol beta: VIX points added per 1% SPX fall when a scenario gives "
        "no VIX move (0 keeps VIX unchanged)",
    )
    vix_pts_per_spx_pct_up: float = Field(
        default=0.5,
        ge=0.0,
        le=5.0,
        description="spot-vol beta: VIX points removed per 1% SPX rise when a scenario gives "
        "no VIX move",
    )
    vix_floor: float = Field(
        default=9.0, gt=0.0, le=20.0, description="lowest VIX level a scenario can reach (points)"
    )
    vx_decay_years: float = Field(
        default=0.4,
        gt=0.0,
        le=5.0,
        description="VX future of expiry T moves by exp(-T / this) times the VIX shock",
    )
    iv_term_exponent: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="SPX implied vols move by dVIX/100 * (30d/T)^this (capped) per VIX point",
    )
    iv_skew_beta: float = Field(
        default=2.0,
        ge=0.0,
        le=10.0,
        description="SPX implied vol response per unit of -ln(K/F): puts move more than calls",
    )

    @model_validator(mode="after")
    def _check(self) -> BookParams:
        if self.beta_min_obs > self.beta_window_days:
            raise ValueError("beta_min_obs must not exceed beta_window_days")
        if any(d < 0 or not math.isfinite(d) for d in self.scenario_days):
            raise ValueError("scenario_days must be finite and >= 0")
        moves = [*self.scenario_spx_moves_pct, *(c[0] for c in self.scenario_combined)]
        if any(not (-100.0 < m < 1000.0) for m in moves):
            raise ValueError("SPX moves must lie in (-100, 1000) percent")
        return self


# --------------------------------------------------------------------------------------------
# The book


# --------------------------------------------------------------------------------------------
# Market state and vol surfaces


@dataclass(frozen=True, slots=True)
class MarketState:
    r"""Valuation inputs at one instant.

    Attributes
    ----------
    as_of
        Valuation instant (timezone-aware).
    spx_spot
        S&P 500 level (index points).
    vix
        VIX level (index points); drives the fallback surface and the VIX scenario shocks.
    rate
        Continuously compounded rate, decimal per year.
    div_yield
        SPX continuous dividend yield, decimal per year.
    vx_futures
        VX futures settlement (points) by expiry date.
    vvix
        VVIX level (points), or None.
    """

    as_of: datetime
    spx_spot: float
    vix: float
    rate: float
    div_yield: float = 0.0
    vx_futures: Mapping[date, float] = field(default_factory=dict)
    vvix: float | None = None

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise InvalidInputError(f"as_of must be timezone-aware, got {self.as_of!r}")
        for name in ("spx_spot", "vix"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InvalidInputError(f"{name} must be a finite number > 0, got {value!r}")
        for name in ("rate", "div_yield"):
            if not math.isfinite(getattr(self, name)):
                raise InvalidInputError(f"{name} must be finite, got {getattr(self, name)!r}")
        if self.vvix is not None and not (math.isfinite(self.vvix) and self.vvix > 0):
            raise InvalidInputError(f"vvix must be a finite number > 0 or None, got {self.vvix!r}")
        for day, price in self.vx_futures.items():
            if not (math.isfinite(price) and price > 0):
                raise InvalidInputError(f"VX future {day} must be a finite number > 0: {price!r}")
        object.__setattr__(self, "vx_futures", MappingProxyType(dict(self.vx_futures)))

    @classmethod
    def from_snapshot(
        cls, snapshot: MarketSnapshot, *, div_yield: float, rate: float | None = None
    ) -> MarketState:
        """Spot from the SPX close, VIX and VVIX from the indices, VX futures from the curve.

        ``rate`` overrides the snapshot's; one of them must be given.
        """
        vix = snapshot.index("vix")
        if vix is None:
            raise InvalidInputError(f"snapshot {snapshot.session} has no VIX; the book needs it")
        if rate is None:
            if snapshot.rate is None:
                raise InvalidInputError(
                    f"snapshot {snapshot.session} has no rate; pass rate= explicitly"
                )
            rate = snapshot.rate.value
        return cls(
            as_of=snapshot.as_of,
            spx_spot=snapshot.spx.close,
            vix=vix,
            rate=rate,
            div_yield=div_yield,
            vx_futures={p.expiry: p.settle for p in snapshot.vx_curve},
            vvix=snapshot.index("vvix"),
        )

    def spx_forward(self, t_years: npt.ArrayLike) -> FloatArray:
        """:math:`F = S e^{(r-q)T}` (index points)."""
        t = np.asarray(t_years, dtype=np.float64)
        return np.asarray(self.spx_spot * np.exp((self.rate - self.div_yield) * t), np.float64)

    def vx_future(self, expiry: date) -> float:
        """The VX future of ``expiry``; raises when the curve lacks it."""
        try:
            return self.vx_futures[expiry]
        except KeyError:
            have = ", ".join(d.isoformat() for d in sorted(self.vx_futures)) or "none"
            raise InvalidInputError(
                f"no VX future for expiry {expiry.isoformat()} (curve has: {have}); VIX options "
                "are priced on the VX future of the same expiry, so add it to vx_futures"
            ) from None

    def years_to(self, expiry: date) -> float:
        """Calendar days from ``as_of`` to ``expiry`` over 365, at least one day (vol lookups)."""
        return max((expiry - self.as_of.date()).days / 365.0, _MIN_T_YEARS)


class VolSurface(Protocol):
    """Implied vols (decimal per year) for the book's options, vectorised over strikes."""

    def spx_vol(self, expiry: date, strike: npt.ArrayLike) -> FloatArray:
        """SPX/SPXW implied vol at ``expiry`` for each strike (index points)."""
        ...

    def vix_vol(self, expiry: date, strike: npt.ArrayLike) -> FloatArray:
        """VIX option implied vol (on the VX future) at ``expiry`` for each strike."""
        ...


@dataclass(frozen=True, slots=True)
class VixSkewSurface:
    r"""Fallback surface from the index levels alone.

    SPX (flat ATM term structure, skew steepening as :math:`1/\sqrt T`):

    .. math::
        \sigma_{SPX}(K, T) = a\,\frac{\mathrm{VIX}}{100}\,
            \mathrm{clip}\Bigl(1 - s\,\frac{k}{\sqrt{T/T_{30}}},\ l,\ h\Bigr),
        \qquad k = \ln\frac{K}{S e^{(r-q)T}}

    VIX options (vol of vol falling with maturity, upward skew):

    .. math::
        \sigma_{VIX}(K, T) = \frac{\mathrm{VVIX}}{100}\Bigl(\frac{T}{T_{30}}\Bigr)^{-\alpha}
            \mathrm{clip}(1 + c\,k_{VX},\ l,\ h),\qquad k_{VX} = \ln(K / F_{VX}(T))

    with :math:`T_{30} = 30/365`, :math:`T` calendar days to expiry over 365 (at least one day).
    Defaults: ``atm_ratio`` :math:`a = 0.87` (ATM/VIX measured at 30 days on the 2019-06-26
    chain, :mod:`vixshield.data.model_chains`), ``spx_skew`` :math:`s = 6` (the slope
    :math:`-\partial\ln\sigma/\partial k` of the calibrated SSVI smile at 30 days is 6.4),
    ``vvix_default`` 85 when VVIX is unknown, ``vix_term_decay`` :math:`\alpha = 0.33` (realised
    VX vol by expiry), ``vix_skew`` :math:`c = 0.8`, clip bounds :math:`l = 0.6, h = 3`.
    Coarse by design: use a chain (:class:`ChainVolSurface`) when there is one.
    """

    market: MarketState
    atm_ratio: float = 0.87
    spx_skew: float = 6.0
    vvix_default: float = 85.0
    vix_term_decay: float = 0.33
    vix_skew: float = 0.8
    floor_ratio: float = 0.6
    cap_ratio: float = 3.0

    def spx_vol(self, expiry: date, strike: npt.ArrayLike) -> FloatArray:
        t = self.market.years_to(expiry)
        k = np.log(np.asarray(strike, dtype=np.float64) / self.market.spx_forward(t))
        shape = np.clip(
            1.0 - self.spx_skew * k / math.sqrt(t / _T30), self.floor_ratio, self.cap_ratio
        )
        return np.asarray(self.atm_ratio * self.market.vix / 100.0 * shape, dtype=np.float64)

    def vix_vol(self, expiry: date, strike: npt.ArrayLike) -> FloatArray:
        t = self.market.years_to(expiry)
        vvix = self.market.vvix if self.market.vvix is not None else self.vvix_default
        k = np.log(np.asarray(strike, dtype=np.float64) / self.market.vx_future(expiry))
        atm = vvix / 100.0 * (t / _T30) ** (-self.vix_term_decay)
        shape = np.clip(1.0 + self.vix_skew * k, self.floor_ratio, self.cap_ratio)
        return np.asarray(atm * shape, dtype=np.float64)


def _chain_nodes(chain: pd.DataFrame) -> dict[tuple[str, date], tuple[FloatArray, FloatArray]]:
    """``(family, expiry) -> (strikes ascending, iv)``, one iv per strike, OTM side preferred.

    Vectorised: one sort per (family, expiry) by strike, OTM rows first; the iv of a strike is
    the mean over its rows of the preferred side (one row, or two when SPX and SPXW share the
    expiry). A strike with more rows than that takes :func:`_chain_nodes_frame`, whose pandas
    mean this does not reproduce to the last bit for three or more values.
    """
    needed = {"root", "expiry", "strike", "right", "iv"}
    missing = sorted(needed - set(chain.columns))
    if missing:
        raise InvalidInputError(
            f"chain lacks columns {missing}; pass a chain through "
            "vixshield.data.chains.add_implied_vols first"
        )
    iv = chain["iv"].to_numpy(dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(iv))
    root = np.asarray(chain["root"].to_numpy(dtype=object))[rows]
    family = np.where(np.isin(root, sorted(_SPX_FAMILY)), "SPX", root)
    expiry = np.asarray(chain["expiry"].to_numpy(dtype=object))[rows]
    strike = chain["strike"].to_numpy(dtype=np.float64)[rows]
    if "forward" in chain.columns:
        otm_call = strike >= chain["forward"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        is_call = np.asarray(chain["right"].to_numpy(dtype=object))[rows] == "C"
        otm = np.where(is_call, otm_call, ~otm_call)
    else:
        otm = np.ones(rows.size, dtype=np.bool_)
    iv = iv[rows]
    if rows.size and (family == family[0]).all() and (expiry == expiry[0]).all():
        group = np.zeros(rows.size, dtype=np.int64)  # one expiry of one family (the usual)
        keys = [((str(family[0]), expiry[0]), 0)]
    else:
        fam_codes, families = pd.factorize(family)
        exp_codes, expiries = pd.factorize(expiry)
        group = fam_codes.astype(np.int64) * max(len(expiries), 1) + exp_codes
        keys = sorted(
            ((str(families[g // max(len(expiries), 1)]), expiries[g % max(len(expiries), 1)]), g)
            for g in np.unique(group).tolist()
        )
    out: dict[tuple[str, date], tuple[FloatArray, FloatArray]] = {}
    for key, g in keys:
        at = np.flatnonzero(group == g)
        order = np.lexsort((~otm[at], strike[at]))  # by strike, OTM rows first
        k, o, v = strike[at][order], otm[at][order], iv[at][order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        run = np.cumsum(np.r_[True, k[1:] != k[:-1]]) - 1
        keep = o == o[starts][run]  # the preferred side: the run's first row is OTM if any is
        counts = np.bincount(run[keep], minlength=starts.size)
        if counts.max(initial=0) > 2:
            return _chain_nodes_frame(chain)
        sums = np.bincount(run[keep], weights=v[keep], minlength=starts.size)
        out[key] = (k[starts].astype(np.float64), np.asarray(sums / counts, dtype=np.float64))
    return out


def _chain_nodes_frame(
    chain: pd.DataFrame,
) -> dict[tuple[str, date], tuple[FloatArray, FloatArray]]:
    """:func:`_chain_nodes` with pandas groupby (any number of rows per strike)."""
    frame = chain.loc[np.isfinite(chain["iv"].to_numpy(dtype=np.float64))].copy()
    frame["family"] = np.where(frame["root"].isin(list(_SPX_FAMILY)), "SPX", frame["root"])
    if "forward" in frame.columns:
        otm_call = frame["strike"] >= frame["forward"]
        frame["otm"] = np.where(frame["right"] == "C", otm_call, ~otm_call)
    else:
        frame["otm"] = True
    out: dict[tuple[str, date], tuple[FloatArray, FloatArray]] = {}
    for (family, expiry), group in frame.groupby(["family", "expiry"], sort=True):
        # OTM quotes first, then the mean per strike of the preferred side only.
        best = group.sort_values("otm", ascending=False)
        best = best.loc[best.groupby("strike")["otm"].transform("max") == best["otm"]]
        per_strike = best.groupby("strike", sort=True)["iv"].mean()
        out[(str(family), expiry)] = (
            per_strike.index.to_numpy(dtype=np.float64),
            per_strike.to_numpy(dtype=np.float64),
        )
    return out


@dataclass(frozen=True, slots=True, init=False)
class ChainVolSurface:
    """Implied vols read from chains with an ``iv`` column (:func:`add_implied_vols`).

    Within an expiry the vol is linear in strike between quoted strikes and flat beyond the
    outermost ones. At a strike quoted on both sides the out-of-the-money option's vol is used
    (when the chain has a ``forward`` column; otherwise the mean of both). SPX, SPXW (and the
    older PM roots) share one node set per expiry. An expiry with no implied vol at all goes to
    ``fallback``, or raises when there is none.
    """

    nodes: Mapping[tuple[str, date], tuple[FloatArray, FloatArray]]
    fallback: VolSurface | None

    def __init__(self, *chains: pd.DataFrame, fallback: VolSurface | None = None) -> None:
        nodes: dict[tuple[str, date], tuple[FloatArray, FloatArray]] = {}
        for chain in chains:
            nodes.update(_chain_nodes(chain))
        object.__setattr__(self, "nodes", MappingProxyType(nodes))
        object.__setattr__(self, "fallback", fallback)

    def _lookup(self, family: str, expiry: date, strike: npt.ArrayLike) -> FloatArray | None:
        node = self.nodes.get((family, expiry))
        if node is None:
            return None
        strikes, ivs = node
        return np.asarray(np.interp(np.asarray(strike, np.float64), strikes, ivs), np.float64)

    def _missing(self, family: str, expiry: date) -> InvalidInputError:
        return InvalidInputError(
            f"the chain has no {family} implied vols at expiry {expiry.isoformat()}; "
            "give a chain that lists it or a fallback surface (e.g. VixSkewSurface(market))"
        )

    def spx_vol(self, expiry: date, strike: npt.ArrayLike) -> FloatArray:
        vol = self._lookup("SPX", expiry, strike)
        if vol is not None:
            return vol
        if self.fallback is None:
            raise self._missing("SPX", expiry)
        return self.fallback.spx_vol(expiry, strike)

    def vix_vol(self, expiry: date, strike: npt.ArrayLike) -> FloatArray:
        vol = self._lookup("VIX", expiry, strike)
        if vol is not None:
            return vol
        if self.fallback is None:
            raise self._missing("VIX", expiry)
        return self.fallback.vix_vol(expiry, strike)


# --------------------------------------------------------------------------------------------
# CAPM beta


def capm_beta(
    stock_returns: npt.ArrayLike | pd.Series,
    spx_returns: npt.ArrayLike | pd.Series,
    *,
    window: int = 252,
    min_obs: int = 60,
) -> float:
    r"""CAPM beta of a stock to SPX: the OLS slope of its daily returns on SPX's.

    .. math::
        \beta = \frac{\sum (r_s - \bar r_s)(r_m - \bar r_m)}{\sum (r_m - \bar r_m)^2}

    over the last ``window`` days on which both returns are finite.

    Parameters
    ----------
    stock_returns, spx_returns
        Simple daily returns (decimals). Two :class:`pandas.Series` are aligned on their index
        (inner join); arrays must have equal length and are paired by position, last = latest.
    window
        Trailing paired observations used (default 252, one year).
    min_obs
        Fewest paired observations accepted.

    Raises
    ------
    InvalidInputError
        Fewer than ``min_obs`` paired finite returns, unequal array lengths, or SPX returns
        with zero variance.
    """
    if window < 2 or min_obs < 2:
        raise InvalidInputError(f"window and min_obs must be >= 2, got {window}, {min_obs}")
    if isinstance(stock_returns, pd.Series) and isinstance(spx_returns, pd.Series):
        joined = pd.concat([stock_returns, spx_returns], axis=1, join="inner").sort_index()
        rs = joined.iloc[:, 0].to_numpy(dtype=np.float64)
        rm = joined.iloc[:, 1].to_numpy(dtype=np.float64)
    else:
        rs = np.asarray(stock_returns, dtype=np.float64).ravel()
        rm = np.asarray(spx_returns, dtype=np.float64).ravel()
        if rs.shape != rm.shape:
            raise InvalidInputError(
                f"stock and SPX returns differ in length ({rs.size} vs {rm.size}); pass aligned "
                "arrays or two pandas Series indexed by date"
            )
    ok = np.isfinite(rs) & np.isfinite(rm)
    rs, rm = rs[ok][-window:], rm[ok][-window:]
    if rs.size < min_obs:
        raise InvalidInputError(
            f"only {rs.size} paired finite daily returns; a CAPM beta needs at least {min_obs}"
        )
    xm = rm - rm.mean()
    var = float(xm @ xm)
    if var <= 0.0:
        raise InvalidInputError("SPX returns have zero variance over the window; no beta")
    return float(xm @ (rs - rs.mean())) / var


# --------------------------------------------------------------------------------------------
# Per-leg valuation


@dataclass(frozen=True, slots=True)
class LegArrays:
    """The book's legs as parallel arrays (one element per leg), for vectorised pricing."""

    structure: tuple[str, ...]
    contracts: tuple[OptionContract, ...]
    quantity: FloatArray
    multiplier: FloatArray
    strike: FloatArray
    is_call: npt.NDArray[np.bool_]
    is_vix: npt.NDArray[np.bool_]
    fill_price: FloatArray

    @property
    def scale(self) -> FloatArray:
        """Signed position size in units of underlying: ``quantity * multiplier``."""
        return np.asarray(self.quantity * self.multiplier, dtype=np.float64)

    def t_years(self, as_of: datetime) -> FloatArray:
        """Years to each leg's settlement instant (negative after it)."""
        return np.array([c.t_years(as_of) for c in self.contracts], dtype=np.float64)

    def vx_futures(self, market: MarketState, live: npt.NDArray[np.bool_]) -> FloatArray:
        """The VX future of each live VIX leg's expiry (NaN for SPX legs and where not ``live``).

        Expired legs need no future (they are valued at intrinsic value).
        """
        return np.array(
            [
                market.vx_future(c.expiry) if v and a else np.nan
                for c, v, a in zip(self.contracts, self.is_vix, live, strict=True)
            ],
            dtype=np.float64,
        )


def leg_arrays(book: Book) -> LegArrays:
    """Flatten the book's structures into :class:`LegArrays` (book order, leg order)."""
    legs = [(s.name, leg) for s in book.structures for leg in s.legs]
    contracts = tuple(leg.contract for _, leg in legs)
    return LegArrays(
        structure=tuple(name for name, _ in legs),
        contracts=contracts,
        quantity=np.array([leg.quantity for _, leg in legs], dtype=np.float64),
        multiplier=np.array([c.multiplier for c in contracts], dtype=np.float64),
        strike=np.array([c.strike for c in contracts], dtype=np.float64),
        is_call=np.array([c.is_call for c in contracts], dtype=np.bool_),
        is_vix=np.array([c.underlying == "VIX" for c in contracts], dtype=np.bool_),
        fill_price=np.array([leg.price for _, leg in legs], dtype=np.float64),
    )


def leg_vols(
    legs: LegArrays,
    surface: VolSurface,
    live: npt.NDArray[np.bool_],
    strikes: npt.ArrayLike | None = None,
) -> FloatArray:
    """Implied vol of each ``live`` leg from ``surface`` (NaN for the others).

    ``strikes`` (shape ``(n_rows, n_legs)``) replaces the legs' own strikes, e.g. the
    sticky-moneyness strikes of the scenarios. The surface is called once per (family, expiry)
    with all the strikes of that expiry.
    """
    k = legs.strike if strikes is None else np.asarray(strikes, dtype=np.float64)
    k2 = np.atleast_2d(k)
    out = np.full(k2.shape, np.nan)
    groups: dict[tuple[bool, date], list[int]] = {}
    for i, (c, vix, a) in enumerate(zip(legs.contracts, legs.is_vix, live, strict=True)):
        if a:
            groups.setdefault((bool(vix), c.expiry), []).append(i)
    for (vix, expiry), idx in groups.items():
        lookup = surface.vix_vol if vix else surface.spx_vol
        out[:, idx] = lookup(expiry, k2[:, idx])
    bad = ~(np.isfinite(out) & (out > 0.0)) & np.asarray(live, dtype=np.bool_)[None, :]
    if bad.any():
        i = int(np.argwhere(bad)[0][1])
        raise InvalidInputError(
            f"vol surface gave no positive finite vol for {legs.contracts[i].label()}"
        )
    return np.asarray(out.reshape(k.shape) if strikes is not None else out[0], np.float64)


def intrinsic(
    underlying: npt.ArrayLike, strike: npt.ArrayLike, is_call: npt.ArrayLike
) -> FloatArray:
    """:math:`\\max(w(U - K), 0)` with ``w = +1`` for calls, ``-1`` for puts (index points)."""
    w = np.where(np.asarray(is_call, dtype=np.bool_), 1.0, -1.0)
    u = np.asarray(underlying, dtype=np.float64)
    return np.asarray(np.maximum(w * (u - np.asarray(strike, np.float64)), 0.0), np.float64)


_LEG_COLUMNS: Final = (
    "structure",
    "contract",
    "quantity",
    "t_years",
    "underlying_price",
    "vol",
    "price",
    "value_usd",
    "delta_spx_points",
    "gamma_spx_points_per_point",
    "vega_usd_per_volpt",
    "theta_usd_per_day",
    "vix_delta_usd_per_vixpt",
    "vix_gamma_usd_per_vixpt_sq",
    "vix_vega_usd_per_volpt",
)


_NO_LEGS: Final = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in _LEG_COLUMNS})
"""The frame of a book without options (copied for each caller)."""


def leg_frame(book: Book, market: MarketState, surface: VolSurface) -> pd.DataFrame:
    r"""Model value and position Greeks of every option leg, one row per leg (USD, signed).

    Columns: ``structure``, ``contract`` (label), ``quantity``, ``t_years``,
    ``underlying_price`` (SPX spot, or the VX future for VIX legs), ``vol``, ``price`` (per unit,
    index points), ``value_usd`` (``price * quantity * multiplier``) and the position Greeks of
    :class:`BookGreeks` (SPX columns are 0 for VIX legs and vice versa; all Greeks are 0 for
    expired legs, whose price is intrinsic value). Two pricer calls: BSM for the SPX-family legs
    and Black-76 for the VIX legs.
    """
    columns = _leg_columns(book, market, surface)
    return _NO_LEGS.copy() if columns is None else pd.DataFrame(columns)


def _leg_columns(book: Book, market: MarketState, surface: VolSurface) -> dict[str, Any] | None:
    """The columns of :func:`leg_frame` (None for a book without options)."""
    legs = leg_arrays(book)
    n = len(legs.contracts)
    if n == 0:
        return None
    t = legs.t_years(market.as_of)
    alive = t > 0.0
    vol = leg_vols(legs, surface, alive)
    fut = legs.vx_futures(market, alive)
    spot = market.spx_spot
    under = np.where(legs.is_vix, fut, spot)
    scale = legs.scale
    zeros = np.zeros(n)
    price = intrinsic(np.where(legs.is_vix, market.vix, spot), legs.strike, legs.is_call)
    cols = {k: zeros.copy() for k in _LEG_COLUMNS[8:]}

    spx = alive & ~legs.is_vix
    if spx.any():
        g = bsm_greeks(
            spot, legs.strike[spx], t[spx], vol[spx],
            rate=market.rate, div_yield=market.div_yield, is_call=legs.is_call[spx],
        )  # fmt: skip
        price[spx] = g.price
        cols["delta_spx_points"][spx] = g.delta * scale[spx]
        cols["gamma_spx_points_per_point"][spx] = g.gamma * scale[spx]
        cols["vega_usd_per_volpt"][spx] = g.vega_per_volpt * scale[spx]
        cols["theta_usd_per_day"][spx] = g.theta_per_day * scale[spx]
    vix = alive & legs.is_vix
    if vix.any():
        g = black76_greeks(
            fut[vix], legs.strike[vix], t[vix], vol[vix],
            rate=market.rate, is_call=legs.is_call[vix],
        )  # fmt: skip
        price[vix] = g.price
        cols["vix_delta_usd_per_vixpt"][vix] = g.delta * scale[vix]
        cols["vix_gamma_usd_per_vixpt_sq"][vix] = g.gamma * scale[vix]
        cols["vix_vega_usd_per_volpt"][vix] = g.vega_per_volpt * scale[vix]
        cols["theta_usd_per_day"][vix] = g.theta_per_day * scale[vix]
    if not np.all(np.isfinite(price)):
        i = int(np.argmin(np.isfinite(price)))
        raise InvalidInputError(f"could not value {legs.contracts[i].label()}: check its inputs")
    return {
        "structure": list(legs.structure),
        "contract": [c.label() for c in legs.contracts],
        "quantity": legs.quantity.astype(np.int64),
        "t_years": t,
        "underlying_price": under,
        "vol": vol,
        "price": price,
        "value_usd": price * scale,
        **cols,
    }


# --------------------------------------------------------------------------------------------
# Book Greeks and the delta band


@dataclass(frozen=True, slots=True)
class BookGreeks:
    """Aggregated Greeks of a book (module docstring: definitions and units).

    ``legs`` is the per-leg frame of :func:`leg_frame`; ``equity_delta_usd_per_pct`` the equity
    book's beta-weighted part of ``delta_usd_per_pct``.
    """

    spx_spot: float
    options_value_usd: float
    equity_value_usd: float
    delta_spx_points: float
    delta_usd_per_pct: float
    equity_delta_usd_per_pct: float
    gamma_spx_points_per_point: float
    gamma_usd_per_pct_sq: float
    vega_usd_per_volpt: float
    theta_usd_per_day: float
    vix_delta_usd_per_vixpt: float
    vix_gamma_usd_per_vixpt_sq: float
    vix_vega_usd_per_volpt: float
    legs: pd.DataFrame

    @property
    def value_usd(self) -> float:
        """Options at model value plus equity at market value."""
        return self.options_value_usd + self.equity_value_usd


def book_greeks(book: Book, market: MarketState, surface: VolSurface) -> BookGreeks:
    r"""Value the book and aggregate its Greeks (module docstring: units and conventions).

    .. math::
        \mathrm{delta\_spx\_points} = \sum_{legs} q m \Delta_S + \sum_{equity} V_e\beta_e/S,
        \qquad \mathrm{delta\_usd\_per\_pct} = \mathrm{delta\_spx\_points}\cdot S/100,

        \mathrm{gamma\_usd\_per\_pct\_sq} = \sum q m \Gamma_S (S/100)^2

    Raises
    ------
    InvalidInputError
        An equity holding without a beta, a VIX leg whose VX future is missing, or a vol the
        surface cannot give.
    """
    columns = _leg_columns(book, market, surface)
    legs = _NO_LEGS.copy() if columns is None else pd.DataFrame(columns)

    def total(name: str) -> float:
        # as the frame's column sum (NaN skipped), from the column's own array
        if columns is None:
            return 0.0
        values = np.asarray(columns[name], dtype=np.float64)
        return float(np.where(np.isnan(values), 0.0, values).sum())

    spot = market.spx_spot
    eq_value = sum(e.value_usd for e in book.equities)
    eq_delta_pct = sum(e.value_usd * book.beta(e.symbol) / 100.0 for e in book.equities)
    opt_delta_pts = total("delta_spx_points")
    gamma_pts = total("gamma_spx_points_per_point")
    delta_pts = opt_delta_pts + eq_delta_pct * 100.0 / spot
    return BookGreeks(
        spx_spot=spot,
        options_value_usd=total("value_usd"),
        equity_value_usd=float(eq_value),
        delta_spx_points=delta_pts,
        delta_usd_per_pct=delta_pts * spot / 100.0,
        equity_delta_usd_per_pct=float(eq_delta_pct),
        gamma_spx_points_per_point=gamma_pts,
        gamma_usd_per_pct_sq=gamma_pts * (spot / 100.0) ** 2,
        vega_usd_per_volpt=total("vega_usd_per_volpt"),
        theta_usd_per_day=total("theta_usd_per_day"),
        vix_delta_usd_per_vixpt=total("vix_delta_usd_per_vixpt"),
        vix_gamma_usd_per_vixpt_sq=total("vix_gamma_usd_per_vixpt_sq"),
        vix_vega_usd_per_volpt=total("vix_vega_usd_per_volpt"),
        legs=legs,
    )


@dataclass(frozen=True, slots=True)
class DeltaBand:
    """The delta band check (METHOD section 7) with its numbers.

    ``fraction = delta_usd_per_pct / equity_usd``; breached when ``|fraction| > band_frac``.
    """

    delta_usd_per_pct: float
    equity_usd: float
    fraction: float
    band_frac: float
    breached: bool
    reason: str


def delta_band(
    delta_usd_per_pct: float, equity_usd: float, params: BookParams | None = None
) -> DeltaBand:
    """Book delta per 1% SPX move as a fraction of equity, against ``params.delta_band_frac``.

    Pass ``BookGreeks.delta_usd_per_pct``. Raises for equity that is not a finite number > 0.
    """
    p = params or BookParams()
    if not (math.isfinite(equity_usd) and equity_usd > 0):
        raise InvalidInputError(f"equity_usd must be a finite number > 0, got {equity_usd!r}")
    if not math.isfinite(delta_usd_per_pct):
        raise InvalidInputError(f"delta_usd_per_pct must be finite, got {delta_usd_per_pct!r}")
    frac = delta_usd_per_pct / equity_usd
    breached = abs(frac) > p.delta_band_frac
    verdict = "outside" if breached else "inside"
    reason = (
        f"book delta ${delta_usd_per_pct:,.0f} per 1% SPX move is {frac:+.4%} of equity "
        f"${equity_usd:,.0f}: {verdict} the ±{p.delta_band_frac:.4%} band"
    )
    return DeltaBand(delta_usd_per_pct, equity_usd, frac, p.delta_band_frac, breached, reason)


def equity_betas_from_returns(
    returns: Mapping[str, pd.Series],
    spx_returns: pd.Series,
    params: BookParams | None = None,
) -> dict[str, float]:
    """CAPM betas (:func:`capm_beta`) for several symbols with the window from ``params``."""
    p = params or BookParams()
    return {
        sym: capm_beta(r, spx_returns, window=p.beta_window_days, min_obs=p.beta_min_obs)
        for sym, r in returns.items()
    }
