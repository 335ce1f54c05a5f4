r"""Analytics for any option structure on one expiry: payoff, risk, probabilities, Greeks, plot.

Every structure the strategy builds (iron condor, broken-wing butterfly, a vertical spread) is a
:class:`~vixshield.domain.positions.Structure` of signed legs on one underlying and one expiry.
:func:`analyze` turns it, with the market it is priced in (:class:`MarketInputs`), into a
:class:`StructureAnalytics` value. Nothing here assumes a condor: break-evens, maximum loss and
probabilities come from the piecewise-linear payoff of whatever legs there are.

Conventions
-----------
* A leg of signed quantity :math:`q_i` (contracts, + long), strike :math:`K_i`, sign
  :math:`w_i = +1` (call) or :math:`-1` (put), price :math:`p_i` (points) and multiplier
  :math:`m` (100 for SPX) pays :math:`q_i m \max(w_i(S_T - K_i), 0)` at expiry.
* **Net premium** (cash received to open) :math:`\Pi = -\sum_i q_i p_i m` (USD); positive is a
  credit. ``credit_points`` is :math:`\Pi / (m\,u)` with :math:`u` the structure's unit count
  (the greatest common divisor of :math:`|q_i|`: a 2-lot condor has :math:`u = 2`), so it is the
  credit per one structure, as quoted; every USD figure is for the whole structure.
* **P&L at expiry** :math:`\mathrm{PL}(S) = \Pi + \sum_i q_i m \max(w_i(S - K_i), 0)`.
  It is linear between strikes, so its extremes lie at :math:`S = 0`, at a strike, or at
  :math:`S \to \infty` (slope :math:`m\sum_{calls} q_i`; a non-zero slope there means an
  unbounded profit or loss, reported as ``inf``).
* **Break-evens** are the roots of :math:`\mathrm{PL}`: exact linear interpolation between
  consecutive knots (0 and the strikes) where the sign changes, plus the root beyond the last
  strike when the tail slope reaches zero. ``breakeven_low_points`` /
  ``breakeven_high_points`` are the lowest and highest roots.
* **Margin** (Cboe strategy-based, ``reference/CBOE.md`` §12): for a short iron condor or iron
  butterfly (one short and one long put, one short and one long call, equal sizes, the long
  put below and the long call above) the requirement is the wider wing
  :math:`\max(W_{put}, W_{call}) \times m \times u - \Pi` (the credit applied, only one side can
  finish in the money). Any other spread combination whose long legs expire with the shorts
  (all legs European, cash-settled) is margined at its **maximum loss at expiry** (§12: such
  spreads may be held in a cash account with the maximum loss deposited); for a debit spread
  that is the debit. A structure with unbounded loss (naked short options) gets ``inf``: the
  uncovered-option formula is out of scope, and the strategy never opens one.

Market model
------------
Each leg is priced with Black-76 on the forward :math:`F` of its expiry at its **own implied
vol** :math:`\sigma_i` (``MarketInputs.leg_vols``), discounting at the rate :math:`r` over
:math:`T` (ACT/365 to the settlement instant, :mod:`vixshield.units`).

* **Probabilities** use the Black terminal distribution of :math:`S_T` under the forward
  measure, with the **vol at the level in question**: :math:`\sigma(x)` is the leg vols
  interpolated linearly in strike (flat beyond the outermost strikes; where a strike holds a
  call and a put, their mean). So :math:`P(S_T < x) = N(-d_2(x))`,
  :math:`d_2(x) = [\ln(F/x) - \tfrac12\sigma(x)^2T] / (\sigma(x)\sqrt T)`: each level is read
  at the vol the market quotes there (the "delta ≈ probability" convention), without the
  skew correction :math:`-\partial C/\partial\sigma\,\partial\sigma/\partial K` of the
  exact digital; that correction raises the probability of a large fall by roughly 1-3
  points at 12-delta SPX strikes. The **probability of profit** sums
  :math:`P(a < S_T < b)` over the intervals between consecutive break-evens where the
  P&L is positive.
* **Probability of touch** of a level :math:`B` before expiry is the exact first-passage
  probability of the driftless lognormal forward :math:`F_t` (a martingale under the
  forward measure, so :math:`\ln F_t` has drift :math:`-\sigma^2/2`), with :math:`\sigma =
  \sigma(B)`:

  .. math::
      P_{touch}(B) = N(\mp d_2) + \frac{F}{B} N(\mp d_1)\quad (B \gtrless F),\qquad
      d_{1,2} = \frac{\ln(F/B) \pm \tfrac12\sigma^2 T}{\sigma\sqrt T},

  (reflection principle with drift, e.g. Shreve, *Stochastic Calculus for Finance II*,
  §7.2.2). The first term is the probability of finishing beyond :math:`B`, the second
  about as large again, which is where the trader's "touch ≈ 2 x finish" comes from. It
  watches the forward, not spot: the two differ by the carry :math:`e^{(r-q)(T-t)}`, a few
  points at 45 days, and the index is watched continuously.
* **Expected value** is the risk-neutral value of the P&L at expiry:
  :math:`\mathrm{EV} = \Pi + \sum_i q_i m V_i`, with :math:`V_i` the Black-76 value of leg
  :math:`i` at its own vol (:math:`V_i = e^{-rT} E^Q[\text{payoff}_i]`, and since the payoff
  is a sum of calls and puts this is the exact expectation under the density the quoted smile
  implies). It is the edge of the fill prices against the model: about zero at mid fills on
  the mids' own implied vols, negative by the half-spreads paid. With zero vol it is the
  intrinsic P&L at :math:`S_T = F` (discounted by :math:`e^{-rT}`).
* **Return on risk**: ``credit_on_max_loss`` :math:`= \Pi / \text{max loss}` and
  ``ev_on_max_loss`` :math:`= \mathrm{EV} / \text{max loss}`.
* **Greeks** (USD, whole structure): the sum over legs of :math:`q_i m` times the leg's
  Black-76 Greeks. Delta and gamma are converted to the index by the chain rule with the
  carry held, :math:`\partial F/\partial S = F/S`: ``delta_usd_per_point`` :math:`= \sum q_i m
  \Delta^F_i F/S` (USD per 1 SPX point), ``delta_usd_per_pct`` = that x :math:`S/100`,
  ``gamma_usd_per_point`` :math:`= \sum q_i m \Gamma^F_i (F/S)^2` (change of
  ``delta_usd_per_point`` per point), ``vega_usd_per_volpt`` (per 1 vol point at every
  strike), ``theta_usd_per_day`` (one calendar day, forward and vols held).
* **P&L before expiry** (:func:`pnl_before_expiry`) reprices every leg with Black-76 at its
  own vol (**sticky strike**: the vol stays with the strike as the index moves) with
  :math:`\tau` years left, on a grid of index levels :math:`S` whose forwards are
  :math:`S e^{c\tau}`, :math:`c = \ln(F/S_0)/T` the carry implied today. As
  :math:`\tau \to 0` it tends to the P&L at expiry.

Plot
----
:func:`structure_figure` draws the P&L at expiry and today (T+0) against the index, marks the
break-evens, short strikes and spot; :func:`save_figure_html` writes it as one self-contained
HTML file with the plotly.js bundle inlined (works offline; no CDN link). PNG export needs
``kaleido``, which the project does not install.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from vixshield.domain.positions import Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.pricing.black import black76_greeks

__all__ = [
    "LegArrays",
    "MarketInputs",
    "StructureAnalytics",
    "analyze",
    "breakevens",
    "default_grid",
    "leg_arrays",
    "leg_greeks_usd",
    "margin_usd",
    "pnl_at_expiry",
    "pnl_before_expiry",
    "prob_below",
    "prob_touch",
    "save_figure_html",
    "structure_figure",
    "vol_at",
]

FloatArray = npt.NDArray[np.float64]

_MARGIN_CONDOR: Final = "Cboe strategy-based: wider wing x multiplier x quantity - credit"
_MARGIN_MAX_LOSS: Final = "Cboe strategy-based for European cash-settled spreads: maximum loss"
_MARGIN_UNBOUNDED: Final = "unbounded loss: uncovered-option margin is not modelled"


@dataclass(frozen=True, slots=True)
class MarketInputs:
    """The market a structure is valued in: one expiry's forward, time, rate and leg vols.

    Attributes
    ----------
    spot : index level now (points), > 0.
    forward : forward of the structure's expiry (points), > 0; e.g. the put-call parity forward
        of :func:`vixshield.data.chains.add_implied_vols`.
    t_years : time to the settlement instant in years (ACT/365), > 0.
    rate : continuously compounded rate, decimal.
    leg_vols : implied vol (decimal) of each leg, in the order of ``structure.legs``.
    """

    spot: float
    forward: float
    t_years: float
    rate: float
    leg_vols: tuple[float, ...]

    def __post_init__(self) -> None:
        for name in ("spot", "forward", "t_years"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InvalidInputError(f"MarketInputs.{name} must be finite and > 0, got {value}")
        if not math.isfinite(self.rate):
            raise InvalidInputError(f"MarketInputs.rate must be finite, got {self.rate}")
        vols = tuple(float(v) for v in self.leg_vols)
        if not vols or not all(math.isfinite(v) and v > 0 for v in vols):
            raise InvalidInputError(
                f"MarketInputs.leg_vols must be finite vols > 0, one per leg, got {vols}"
            )
        object.__setattr__(self, "leg_vols", vols)


@dataclass(frozen=True, slots=True)
class LegArrays:
    """A structure's legs as aligned float64 arrays (one element per leg)."""

    quantity: FloatArray
    strike: FloatArray
    is_call: npt.NDArray[np.bool_]
    price: FloatArray
    multiplier: float
    units: int


def leg_arrays(structure: Structure) -> LegArrays:
    """The legs of ``structure`` as arrays, checking it is one underlying, expiry and multiplier.

    Raises
    ------
    InvalidInputError
        Legs on several expiries, underlyings or multipliers (analytics at one expiry need one).
    """
    if len(structure.expiries) != 1:
        raise InvalidInputError(
            f"structure {structure.name!r} spans expiries {structure.expiries}; the analytics "
            "value one expiry at a time: split calendar structures by expiry"
        )
    _ = structure.underlying  # raises on mixed underlyings
    mults = {leg.contract.multiplier for leg in structure.legs}
    if len(mults) != 1:
        raise InvalidInputError(f"structure {structure.name!r} mixes multipliers {sorted(mults)}")
    qty = [leg.quantity for leg in structure.legs]
    return LegArrays(
        quantity=np.array(qty, dtype=np.float64),
        strike=np.array([leg.contract.strike for leg in structure.legs], dtype=np.float64),
        is_call=np.array([leg.contract.right is Right.CALL for leg in structure.legs]),
        price=np.array([leg.price for leg in structure.legs], dtype=np.float64),
        multiplier=float(mults.pop()),
        units=reduce(math.gcd, (abs(q) for q in qty)),
    )


# --------------------------------------------------------------------------------------------
# Payoff


def pnl_at_expiry(structure: Structure, levels: npt.ArrayLike) -> FloatArray:
    r"""P&L (USD) at expiry for each index level: :math:`\Pi + \sum_i q_i m (w_i(S-K_i))^+`.

    Vectorised over ``levels`` (any shape); the legs broadcast along a new last axis.
    """
    legs = leg_arrays(structure)
    s = np.asarray(levels, dtype=np.float64)[..., np.newaxis]
    w = np.where(legs.is_call, 1.0, -1.0)
    intrinsic = np.maximum(w * (s - legs.strike), 0.0)
    value = (intrinsic * legs.quantity).sum(axis=-1) * legs.multiplier
    return np.asarray(value + structure.net_premium_usd, dtype=np.float64)


def _carry(market: MarketInputs) -> float:
    return math.log(market.forward / market.spot) / market.t_years


def pnl_before_expiry(
    structure: Structure,
    market: MarketInputs,
    levels: npt.ArrayLike,
    *,
    t_years_left: float,
) -> FloatArray:
    r"""P&L (USD) with ``t_years_left`` to expiry, each leg repriced with Black-76 (sticky strike).

    .. math::
        \mathrm{PL}_\tau(S) = \Pi + \sum_i q_i m\, V^{B76}(S e^{c\tau}, K_i, \tau, \sigma_i, r),
        \qquad c = \ln(F/S_0)/T.

    ``t_years_left = market.t_years`` gives today's (T+0) curve; 0 gives the expiry P&L.
    """
    if not (math.isfinite(t_years_left) and t_years_left >= 0):
        raise InvalidInputError(f"t_years_left must be finite and >= 0, got {t_years_left}")
    if t_years_left == 0:
        return pnl_at_expiry(structure, levels)
    legs = leg_arrays(structure)
    s = np.asarray(levels, dtype=np.float64)[..., np.newaxis]
    fwd = s * math.exp(_carry(market) * t_years_left)
    vols = np.asarray(market.leg_vols, dtype=np.float64)
    _check_vols(legs, vols)
    g = black76_greeks(fwd, legs.strike, t_years_left, vols, rate=market.rate, is_call=legs.is_call)
    value = (np.asarray(g.price) * legs.quantity).sum(axis=-1) * legs.multiplier
    return np.asarray(value + structure.net_premium_usd, dtype=np.float64)


def _check_vols(legs: LegArrays, vols: FloatArray) -> None:
    if vols.shape != legs.strike.shape:
        raise InvalidInputError(
            f"MarketInputs.leg_vols has {vols.size} vols for {legs.strike.size} legs; "
            "give one vol per leg, in the order of structure.legs"
        )


def _knots(legs: LegArrays) -> FloatArray:
    return np.unique(np.concatenate([[0.0], legs.strike]))


def _tail_slope_usd(legs: LegArrays) -> float:
    """dPL/dS (USD per point) above the highest strike."""
    return float((legs.quantity * legs.is_call).sum() * legs.multiplier)


def breakevens(structure: Structure) -> tuple[float, ...]:
    r"""All index levels where the P&L at expiry crosses zero, ascending (exact, piecewise linear).

    The knots are 0, the strikes and one point :math:`x_f` far enough above the last strike
    that the linear tail (slope :math:`m\sum_{calls} q_i`) has crossed zero there if it ever
    does. Between consecutive knots the P&L is linear, so a strict sign change gives one root,
    :math:`x_j - \mathrm{PL}_j (x_{j+1} - x_j)/(\mathrm{PL}_{j+1} - \mathrm{PL}_j)`; a knot
    where the P&L is exactly zero with opposite signs on both sides is a root. A P&L that
    touches zero without crossing, or is zero over an interval, gives no root.
    """
    legs = leg_arrays(structure)
    knots = _knots(legs)
    at_knots = pnl_at_expiry(structure, knots)
    slope = _tail_slope_usd(legs)
    # one point far enough beyond the last strike that the linear tail has crossed zero there
    reach = abs(float(at_knots[-1]) / slope) if slope != 0 else 0.0
    far = float(knots[-1]) * 2.0 + 1.0 + reach
    x = np.append(knots, far)
    y = np.append(at_knots, float(at_knots[-1]) + slope * (far - float(knots[-1])))
    sign = np.sign(y)
    idx = np.flatnonzero(sign[:-1] * sign[1:] < 0)
    roots = (x[idx] - y[idx] * (x[idx + 1] - x[idx]) / (y[idx + 1] - y[idx])).tolist()
    inner = np.arange(1, x.size - 1)
    zero = inner[(sign[inner] == 0) & (sign[inner - 1] * sign[inner + 1] < 0)]
    roots.extend(x[zero].tolist())
    return tuple(sorted(float(r) for r in roots if r > 0))


def _extremes(structure: Structure) -> tuple[float, float]:
    """(max profit, max loss) in USD; max loss is positive; ``inf`` when unbounded."""
    legs = leg_arrays(structure)
    y = pnl_at_expiry(structure, _knots(legs))
    slope = _tail_slope_usd(legs)
    hi = math.inf if slope > 0 else float(y.max())
    lo = -math.inf if slope < 0 else float(y.min())
    return hi, -lo


def _is_iron_condor(legs: LegArrays) -> bool:
    """One short + one long put (long below), one short + one long call (long above), equal size."""
    if legs.strike.size != 4 or np.unique(np.abs(legs.quantity)).size != 1:
        return False
    puts, calls = ~legs.is_call, legs.is_call
    if puts.sum() != 2 or calls.sum() != 2:
        return False
    p_k, p_q = legs.strike[puts], legs.quantity[puts]
    c_k, c_q = legs.strike[calls], legs.quantity[calls]
    if sorted(p_q.tolist()) != sorted(c_q.tolist()) or p_q.sum() != 0:
        return False
    long_put, short_put = p_k[p_q > 0][0], p_k[p_q < 0][0]
    long_call, short_call = c_k[c_q > 0][0], c_k[c_q < 0][0]
    return bool(long_put < short_put <= short_call < long_call)


def margin_usd(structure: Structure) -> tuple[float, str]:
    """Cboe strategy-based margin (USD) and the rule used (module docstring, CBOE.md §12).

    Short iron condor / iron butterfly: :math:`\\max(W_p, W_c) \\, m \\, u - \\Pi`. Other
    defined-risk European cash-settled spreads: the maximum loss at expiry. Unbounded: ``inf``.
    """
    legs = leg_arrays(structure)
    _, max_loss = _extremes(structure)
    if _is_iron_condor(legs):
        puts, calls = ~legs.is_call, legs.is_call
        wide = max(np.ptp(legs.strike[puts]), np.ptp(legs.strike[calls]))
        req = float(wide) * legs.multiplier * legs.units - structure.net_premium_usd
        return max(req, 0.0), _MARGIN_CONDOR
    if math.isinf(max_loss):
        return math.inf, _MARGIN_UNBOUNDED
    return max(max_loss, 0.0), _MARGIN_MAX_LOSS


# --------------------------------------------------------------------------------------------
# Probabilities


def vol_at(levels: npt.ArrayLike, strikes: npt.ArrayLike, vols: npt.ArrayLike) -> FloatArray:
    """Vol at each level: ``vols`` interpolated linearly in strike, flat beyond the ends.

    Where a strike appears more than once (a call and a put), the mean of its vols is used.
    """
    k = np.asarray(strikes, dtype=np.float64).ravel()
    v = np.asarray(vols, dtype=np.float64).ravel()
    uk, inverse = np.unique(k, return_inverse=True)
    uv = np.bincount(inverse, weights=v) / np.bincount(inverse)
    return np.asarray(np.interp(np.asarray(levels, dtype=np.float64), uk, uv), dtype=np.float64)


def _d2(forward: float, level: FloatArray, t_years: float, vol: FloatArray) -> FloatArray:
    sst = vol * math.sqrt(t_years)
    return np.asarray((np.log(forward / level) - 0.5 * sst * sst) / sst, dtype=np.float64)


def prob_below(
    levels: npt.ArrayLike, *, forward: float, t_years: float, vol: npt.ArrayLike
) -> FloatArray:
    r"""Black (lognormal, forward-measure) :math:`P(S_T < x) = N(-d_2)`, vectorised.

    :math:`d_2 = [\ln(F/x) - \tfrac12\sigma^2T]/(\sigma\sqrt T)`.
    """
    x = np.asarray(levels, dtype=np.float64)
    v = np.broadcast_to(np.asarray(vol, dtype=np.float64), x.shape)
    return np.asarray(ndtr(-_d2(forward, x, t_years, v)), dtype=np.float64)


def prob_touch(
    levels: npt.ArrayLike, *, forward: float, t_years: float, vol: npt.ArrayLike
) -> FloatArray:
    r"""Probability that the driftless lognormal forward touches each level before :math:`T`.

    .. math::
        P = N(\mp d_2) + \frac{F}{B}N(\mp d_1),\ \text{upper sign for } B > F, \text{lower for }
        B < F;\quad d_{1,2} = \frac{\ln(F/B) \pm \tfrac12\sigma^2T}{\sigma\sqrt T}.

    Exactly 1 at :math:`B = F`; clipped to [0, 1] against rounding.
    """
    b = np.asarray(levels, dtype=np.float64)
    v = np.broadcast_to(np.asarray(vol, dtype=np.float64), b.shape)
    d2 = _d2(forward, b, t_years, v)
    d1 = d2 + v * math.sqrt(t_years)
    up = ndtr(d2) + (forward / b) * ndtr(d1)
    down = ndtr(-d2) + (forward / b) * ndtr(-d1)
    return np.asarray(np.clip(np.where(b >= forward, up, down), 0.0, 1.0), dtype=np.float64)


def _prob_profit(structure: Structure, market: MarketInputs, roots: Sequence[float]) -> float:
    legs = leg_arrays(structure)
    edges = np.array([0.0, *roots, math.inf])
    # the sign of the P&L inside each interval, read at an interior point
    probe = np.where(
        np.isinf(edges[1:]),
        edges[:-1] * 2.0 + legs.strike.max() + 1.0,
        0.5 * (edges[:-1] + edges[1:]),
    )
    winning = pnl_at_expiry(structure, probe) > 0
    inner = edges[1:-1]
    cdf_inner = prob_below(
        inner,
        forward=market.forward,
        t_years=market.t_years,
        vol=vol_at(inner, legs.strike, market.leg_vols),
    )
    cdf = np.concatenate([[0.0], cdf_inner, [1.0]])
    return float(np.clip((np.diff(cdf) * winning).sum(), 0.0, 1.0))


# --------------------------------------------------------------------------------------------
# Greeks and the analytics value


def leg_greeks_usd(structure: Structure, market: MarketInputs) -> dict[str, FloatArray]:
    """Per-leg position Greeks in USD (signed quantity x multiplier x Black-76 Greek).

    Keys: ``value_usd``, ``delta_usd_per_point``, ``gamma_usd_per_point``,
    ``vega_usd_per_volpt``, ``theta_usd_per_day`` (conversions in the module docstring).
    """
    legs = leg_arrays(structure)
    vols = np.asarray(market.leg_vols, dtype=np.float64)
    _check_vols(legs, vols)
    g = black76_greeks(
        market.forward, legs.strike, market.t_years, vols, rate=market.rate, is_call=legs.is_call
    )
    scale = legs.quantity * legs.multiplier
    dfds = market.forward / market.spot
    return {
        "value_usd": scale * g.price,
        "delta_usd_per_point": scale * g.delta * dfds,
        "gamma_usd_per_point": scale * g.gamma * dfds * dfds,
        "vega_usd_per_volpt": scale * g.vega_per_volpt,
        "theta_usd_per_day": scale * g.theta_per_day,
    }


@dataclass(frozen=True, slots=True)
class StructureAnalytics:
    """What a structure is worth and risks, in the units its names say (module docstring).

    USD figures are for the whole structure; ``credit_points`` is per unit (``units``).
    Probabilities are risk-neutral (Black, forward measure) and lie in [0, 1]. The two
    return-on-risk ratios are NaN when the maximum loss is zero or unbounded. ``margin_rule``
    names the Cboe rule applied.
    """

    units: int
    credit_points: float
    credit_usd: float
    max_profit_usd: float
    max_loss_usd: float
    breakevens_points: tuple[float, ...]
    breakeven_low_points: float | None
    breakeven_high_points: float | None
    margin_usd: float
    margin_rule: str
    prob_profit: float
    short_strikes_points: tuple[float, ...]
    prob_finish_beyond_short_strikes: tuple[float, ...]
    prob_touch_short_strikes: tuple[float, ...]
    prob_touch_breakevens: tuple[float, ...]
    expected_value_usd: float
    credit_on_max_loss: float
    ev_on_max_loss: float
    delta_usd_per_point: float
    delta_usd_per_pct: float
    gamma_usd_per_point: float
    vega_usd_per_volpt: float
    theta_usd_per_day: float
    spot_points: float
    forward_points: float
    t_years: float


def analyze(structure: Structure, market: MarketInputs) -> StructureAnalytics:
    """All analytics of ``structure`` in ``market`` (formulas in the module docstring).

    Parameters
    ----------
    structure
        Legs on one expiry, priced at their fills or marks (``Leg.price``, points).
    market
        Spot, the expiry's forward, time, rate and one implied vol per leg.

    Raises
    ------
    InvalidInputError
        Legs on several expiries, or a vol count that does not match the legs.
    """
    legs = leg_arrays(structure)
    vols = np.asarray(market.leg_vols, dtype=np.float64)
    _check_vols(legs, vols)
    credit_usd = structure.net_premium_usd
    max_profit, max_loss = _extremes(structure)
    roots = breakevens(structure)
    margin, rule = margin_usd(structure)
    fwd, t = market.forward, market.t_years

    shorts = np.unique(legs.strike[legs.quantity < 0])
    short_vol = vol_at(shorts, legs.strike, vols)
    below = prob_below(shorts, forward=fwd, t_years=t, vol=short_vol)
    # beyond = further from the forward than the strike: below a put-side strike, above a call
    beyond = np.where(shorts < fwd, below, 1.0 - below)
    touch_short = prob_touch(shorts, forward=fwd, t_years=t, vol=short_vol)
    be = np.asarray(roots, dtype=np.float64)
    touch_be = prob_touch(be, forward=fwd, t_years=t, vol=vol_at(be, legs.strike, vols))

    per_leg = leg_greeks_usd(structure, market)
    greeks = {k: float(v.sum()) for k, v in per_leg.items()}
    ev = credit_usd + greeks["value_usd"]

    def ratio(x: float) -> float:
        return x / max_loss if max_loss > 0 and math.isfinite(max_loss) else math.nan

    return StructureAnalytics(
        units=legs.units,
        credit_points=credit_usd / (legs.multiplier * legs.units),
        credit_usd=credit_usd,
        max_profit_usd=max_profit,
        max_loss_usd=max_loss,
        breakevens_points=roots,
        breakeven_low_points=roots[0] if roots else None,
        breakeven_high_points=roots[-1] if roots else None,
        margin_usd=margin,
        margin_rule=rule,
        prob_profit=_prob_profit(structure, market, roots),
        short_strikes_points=tuple(float(k) for k in shorts),
        prob_finish_beyond_short_strikes=tuple(float(p) for p in beyond),
        prob_touch_short_strikes=tuple(float(p) for p in touch_short),
        prob_touch_breakevens=tuple(float(p) for p in touch_be),
        expected_value_usd=ev,
        credit_on_max_loss=ratio(credit_usd),
        ev_on_max_loss=ratio(ev),
        delta_usd_per_point=greeks["delta_usd_per_point"],
        delta_usd_per_pct=greeks["delta_usd_per_point"] * market.spot * 0.01,
        gamma_usd_per_point=greeks["gamma_usd_per_point"],
        vega_usd_per_volpt=greeks["vega_usd_per_volpt"],
        theta_usd_per_day=greeks["theta_usd_per_day"],
        spot_points=market.spot,
        forward_points=fwd,
        t_years=t,
    )


# --------------------------------------------------------------------------------------------
# Plot


def default_grid(structure: Structure, market: MarketInputs, *, points: int = 401) -> FloatArray:
    """Index levels spanning the strikes and spot with a margin of a quarter of their range."""
    legs = leg_arrays(structure)
    lo = min(float(legs.strike.min()), market.spot)
    hi = max(float(legs.strike.max()), market.spot)
    pad = max(0.25 * (hi - lo), 0.02 * market.spot)
    return np.linspace(max(lo - pad, 1e-6), hi + pad, points)


def structure_figure(
    structure: Structure,
    market: MarketInputs,
    analytics: StructureAnalytics | None = None,
    *,
    levels: npt.ArrayLike | None = None,
) -> object:
    """A plotly figure: P&L at expiry and today (T+0) in USD against the index level.

    Break-evens (dashed), short strikes (dotted) and spot (solid) are marked with vertical
    lines. Returns a ``plotly.graph_objects.Figure`` (typed ``object``: plotly ships no types).
    """
    import plotly.graph_objects as go  # type: ignore[import-untyped]  # noqa: PLC0415

    info = analytics if analytics is not None else analyze(structure, market)
    grid = default_grid(structure, market) if levels is None else np.asarray(levels, np.float64)
    at_expiry = pnl_at_expiry(structure, grid)
    today = pnl_before_expiry(structure, market, grid, t_years_left=market.t_years)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=grid, y=at_expiry, name="P&L at expiry (USD)", mode="lines"))
    fig.add_trace(go.Scatter(x=grid, y=today, name="P&L today, T+0 (USD)", mode="lines"))
    for x in info.breakevens_points:
        fig.add_vline(x=x, line_dash="dash", line_color="grey", annotation_text=f"BE {x:.1f}")
    for x in info.short_strikes_points:
        fig.add_vline(x=x, line_dash="dot", line_color="red", annotation_text=f"short {x:g}")
    fig.add_vline(x=market.spot, line_color="black", annotation_text=f"spot {market.spot:.1f}")
    fig.add_hline(y=0.0, line_color="lightgrey")
    fig.update_layout(
        title=(
            f"{structure.name}: credit {info.credit_usd:,.0f} USD, max loss "
            f"{info.max_loss_usd:,.0f} USD, P(profit) {info.prob_profit:.0%}"
        ),
        xaxis_title="SPX at the date shown",
        yaxis_title="P&L (USD)",
        template="plotly_white",
    )
    return fig


def save_figure_html(figure: object, path: str | Path) -> Path:
    """Write ``figure`` as self-contained HTML (plotly.js inlined, no CDN); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write = getattr(figure, "write_html", None)
    if write is None:
        raise InvalidInputError(f"save_figure_html needs a plotly Figure, got {type(figure)}")
    write(str(out), include_plotlyjs=True, full_html=True)
    return out
