"""Properties of the BSM / Black-76 kernel that hold for every input.

No expected value here comes from the kernel's own formulas: the checks are no-arbitrage
identities (put-call parity, price bounds, monotonicity), derivatives re-measured by central
finite differences of the *price*, the scalar twin, and the BSM / Black-76 change of
variables.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from vixshield.pricing import Reason, black76_greeks, black76_price, bsm_greeks, bsm_price
from vixshield.pricing.scalar import black76_greeks_scalar, bsm_greeks_scalar

FIELDS = (
    "price",
    "delta",
    "gamma",
    "vega_per_volpt",
    "theta_per_day",
    "rho_per_pct",
    "vanna_per_volpt",
    "volga_per_volpt",
)


class Market(NamedTuple):
    spot: float
    strike: float
    t: float
    vol: float
    r: float
    q: float
    is_call: bool

    @property
    def sst(self) -> float:
        return self.vol * math.sqrt(self.t)

    @property
    def d1(self) -> float:
        return (math.log(self.spot / self.strike) + (self.r - self.q) * self.t) / self.sst + (
            0.5 * self.sst
        )


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def markets(draw: st.DrawFn, *, max_t: float = 3.0) -> Market:
    spot = draw(_floats(10.0, 10_000.0))
    return Market(
        spot=spot,
        strike=spot * draw(_floats(0.3, 2.0)),
        t=draw(_floats(1.0 / 525_600, max_t)),  # one minute to max_t years
        vol=draw(_floats(0.01, 2.0)),
        r=draw(_floats(-0.02, 0.12)),
        q=draw(_floats(0.0, 0.06)),
        is_call=draw(st.booleans()),
    )


def _bsm(m: Market, **change: Any) -> float:
    p = m._replace(**change)
    return float(
        bsm_price(p.spot, p.strike, p.t, p.vol, rate=p.r, div_yield=p.q, is_call=p.is_call)
    )


# ---------------------------------------------------------------------------------------------
# No-arbitrage identities


@given(markets())
def test_put_call_parity(m: Market) -> None:
    # C - P = DF (F - K) = S e^{-qT} - K e^{-rT}  (Hull 7th ed. eq. 15.3 / 16.x)
    call = _bsm(m._replace(is_call=True))
    put = _bsm(m._replace(is_call=False))
    fwd_value = m.spot * math.exp(-m.q * m.t) - m.strike * math.exp(-m.r * m.t)
    # each price carries a few ulps of max(S, K) of absolute rounding error
    assert call - put == pytest.approx(fwd_value, abs=1e-13 * (m.spot + m.strike))


@given(markets())
def test_price_bounds(m: Market) -> None:
    fd = m.spot * math.exp(-m.q * m.t)  # discounted forward
    kd = m.strike * math.exp(-m.r * m.t)  # discounted strike
    tol = 1e-13 * (m.spot + m.strike)
    price = _bsm(m)
    if m.is_call:
        assert max(fd - kd, 0.0) - tol <= price <= fd + tol
    else:
        assert max(kd - fd, 0.0) - tol <= price <= kd + tol


@given(markets(), st.lists(_floats(0.3, 2.0), min_size=2, max_size=30, unique=True))
def test_monotone_in_strike(m: Market, moneyness: list[float]) -> None:
    strikes = m.spot * np.sort(np.array(moneyness))
    tol = 1e-13 * m.spot
    calls = bsm_price(m.spot, strikes, m.t, m.vol, rate=m.r, div_yield=m.q, is_call=True)
    puts = bsm_price(m.spot, strikes, m.t, m.vol, rate=m.r, div_yield=m.q, is_call=False)
    assert (np.diff(calls) <= tol).all()
    assert (np.diff(puts) >= -tol).all()


@given(markets(), _floats(1.0001, 3.0))
def test_monotone_in_vol_and_time_without_carry(m: Market, factor: float) -> None:
    # with r = q = 0 both calls and puts gain value with more volatility and more time
    m = m._replace(r=0.0, q=0.0)
    tol = 1e-13 * m.spot
    base = _bsm(m)
    assert _bsm(m, vol=m.vol * factor) >= base - tol
    assert _bsm(m, t=m.t * factor) >= base - tol


def test_prices_never_negative_on_a_wide_grid() -> None:
    strikes = np.geomspace(1.0, 1e6, 400)[:, None]
    t = np.geomspace(1 / 525_600, 30.0, 50)[None, :]
    for is_call in (True, False):
        p = bsm_price(5000.0, strikes, t, 0.05, rate=0.05, div_yield=0.02, is_call=is_call)
        assert (p >= 0.0).all()
        assert np.isfinite(p).all()


# ---------------------------------------------------------------------------------------------
# Greeks against central finite differences of the price
#
# Region: sigma sqrt(T) >= 0.02 and |d1| <= 3. Outside it the Greeks are either tiny (the
# density n(d1) < 0.005, so a difference of prices of size S cannot resolve them in double
# precision) or vary on a scale so short (sigma sqrt(T) -> 0) that a step small enough for the
# Taylor error is too small for the rounding error. Steps are relative to the natural scale of
# each variable (spot: S sigma sqrt(T); vol: sigma; time: T; rate: 1/T); the truncation error
# of a central difference is then ~(1e-4)^2 relative and the rounding error ~1e-16 / 1e-4 of
# the price scale. Tolerance: 1e-5 relative to the Greek plus 1e-6 of its natural scale (an
# upper bound of its size computed from the inputs), so a Greek crossing zero is still
# checked in absolute terms. A wrong formula, sign or unit shows up at O(1).


def _well_conditioned(m: Market) -> None:
    assume(m.sst >= 0.02)
    assume(abs(m.d1) <= 3.0)


def _close(fd: float, analytic: float, scale: float, name: str) -> None:
    assert abs(fd - analytic) <= 1e-5 * abs(analytic) + 1e-6 * scale, (name, fd, analytic)


@given(markets())
def test_first_order_greeks_match_finite_differences(m: Market) -> None:
    _well_conditioned(m)
    g = bsm_greeks(m.spot, m.strike, m.t, m.vol, rate=m.r, div_yield=m.q, is_call=m.is_call)
    hs = 1e-4 * m.spot * m.sst
    delta = (_bsm(m, spot=m.spot + hs) - _bsm(m, spot=m.spot - hs)) / (2 * hs)
    _close(delta, float(g.delta), 1.0, "delta")

    hv = 1e-4 * m.vol
    vega = (_bsm(m, vol=m.vol + hv) - _bsm(m, vol=m.vol - hv)) / (2 * hv) / 100
    _close(vega, float(g.vega_per_volpt), m.spot * math.sqrt(m.t) / 100, "vega")

    ht = 1e-4 * m.t
    theta = -(_bsm(m, t=m.t + ht) - _bsm(m, t=m.t - ht)) / (2 * ht) / 365
    theta_scale = (m.spot * m.vol / math.sqrt(m.t) + (abs(m.r) + m.q) * (m.spot + m.strike)) / 365
    _close(theta, float(g.theta_per_day), theta_scale, "theta")

    hr = 1e-4 / max(m.t, 1e-2)
    rho = (_bsm(m, r=m.r + hr) - _bsm(m, r=m.r - hr)) / (2 * hr) / 100
    _close(rho, float(g.rho_per_pct), m.t * m.strike / 100, "rho")


@given(markets())
def test_second_order_greeks_match_finite_differences(m: Market) -> None:
    # gamma as the second difference of the price; vanna and volga as first differences of
    # the price-checked delta and vega (a second difference in vol of the price would lose
    # ~8 digits to rounding: step 1e-4 sigma squared).
    _well_conditioned(m)
    g = bsm_greeks(m.spot, m.strike, m.t, m.vol, rate=m.r, div_yield=m.q, is_call=m.is_call)
    hs = 1e-3 * m.spot * m.sst
    gamma = (_bsm(m, spot=m.spot + hs) - 2 * _bsm(m) + _bsm(m, spot=m.spot - hs)) / hs**2
    # second difference: rounding ~1e-16 S / hs^2 = 1e-10 / (S sst^2), so a looser 1e-4
    scale = 1.0 / (m.spot * m.sst)
    assert abs(gamma - float(g.gamma)) <= 1e-4 * abs(float(g.gamma)) + 1e-5 * scale

    def greeks(**change: Any) -> tuple[float, float]:
        p = m._replace(**change)
        x = bsm_greeks(p.spot, p.strike, p.t, p.vol, rate=p.r, div_yield=p.q, is_call=p.is_call)
        return float(x.delta), float(x.vega_per_volpt)

    hv = 1e-4 * m.vol
    up, down = greeks(vol=m.vol + hv), greeks(vol=m.vol - hv)
    vanna = (up[0] - down[0]) / (2 * hv) / 100
    volga = (up[1] - down[1]) / (2 * hv) / 100
    _close(vanna, float(g.vanna_per_volpt), 4.0 / m.vol / 100, "vanna")
    _close(volga, float(g.volga_per_volpt), 10 * m.spot * math.sqrt(m.t) / m.vol / 1e4, "volga")
    # vanna is also d(vega)/dS: the symmetry of mixed partials
    hs = 1e-4 * m.spot * m.sst
    vanna_s = (greeks(spot=m.spot + hs)[1] - greeks(spot=m.spot - hs)[1]) / (2 * hs)
    _close(vanna_s, float(g.vanna_per_volpt), 4.0 / m.vol / 100, "vanna via vega")


@given(markets())
def test_black76_greeks_match_finite_differences(m: Market) -> None:
    _well_conditioned(m._replace(q=m.r))
    f = m.spot

    def price(**change: Any) -> float:
        p = m._replace(**change)
        return float(black76_price(p.spot, p.strike, p.t, p.vol, rate=p.r, is_call=p.is_call))

    g = black76_greeks(f, m.strike, m.t, m.vol, rate=m.r, is_call=m.is_call)
    hs = 1e-4 * f * m.sst
    _close((price(spot=f + hs) - price(spot=f - hs)) / (2 * hs), float(g.delta), 1.0, "delta")
    ht = 1e-4 * m.t
    theta = -(price(t=m.t + ht) - price(t=m.t - ht)) / (2 * ht) / 365
    scale = (f * m.vol / math.sqrt(m.t) + abs(m.r) * (f + m.strike)) / 365
    _close(theta, float(g.theta_per_day), scale, "theta (F held)")
    hr = 1e-4 / max(m.t, 1e-2)
    rho = (price(r=m.r + hr) - price(r=m.r - hr)) / (2 * hr) / 100
    _close(rho, float(g.rho_per_pct), m.t * (f + m.strike) / 100, "rho (F held)")


# ---------------------------------------------------------------------------------------------
# Twins and consistency


@given(st.lists(markets(), min_size=1, max_size=20))
def test_vectorised_equals_scalar_twin(ms: list[Market]) -> None:
    cols = list(zip(*ms, strict=True))
    s, k, t, v, r, q = (np.array(c, dtype=np.float64) for c in cols[:6])
    is_call = np.array(cols[6], dtype=bool)
    g = bsm_greeks(s, k, t, v, rate=r, div_yield=q, is_call=is_call)
    g76 = black76_greeks(s, k, t, v, rate=r, is_call=is_call)
    assert (g.reason == Reason.OK).all()
    for i, m in enumerate(ms):
        twin = bsm_greeks_scalar(
            m.spot, m.strike, m.t, m.vol, rate=m.r, div_yield=m.q, is_call=m.is_call
        )
        twin76 = black76_greeks_scalar(m.spot, m.strike, m.t, m.vol, rate=m.r, is_call=m.is_call)
        # The twins differ only in the normal CDF (scipy's cephes ndtr vs libm's erfc, ~1e-14
        # apart in the far tail) and in log/exp ulps. An out-of-the-money price is the
        # difference of two nearly equal products (see black.py), which amplifies those
        # differences by about |d1| / (sigma sqrt(T)); Black-76 rho is -T * price.
        d1_black76 = math.log(m.spot / m.strike) / m.sst + 0.5 * m.sst
        amplified = 1e-12 * (1.0 + max(abs(m.d1), abs(d1_black76)) / m.sst)
        theta_scale = (m.spot + m.strike) * (abs(m.r) + m.q + m.vol / math.sqrt(m.t)) / 365
        for field in FIELDS:
            rtol = amplified if field in {"price", "rho_per_pct"} else 1e-12
            atol = 1e-15 * theta_scale if field == "theta_per_day" else 1e-300
            for vec, sca in ((g, twin), (g76, twin76)):
                want = getattr(sca, field)
                got = float(getattr(vec, field)[i])
                assert got == pytest.approx(want, rel=rtol, abs=atol), (field, m)


@given(markets())
def test_black76_on_the_forward_equals_bsm(m: Market) -> None:
    # BSM is Black-76 on F = S e^{(r-q)T}; spot Greeks are forward Greeks times dF/dS = F/S,
    # theta and rho pick up the forward's own dependence on T and r (dF/dT = (r-q) F,
    # dF/dr = T F).
    g = bsm_greeks(m.spot, m.strike, m.t, m.vol, rate=m.r, div_yield=m.q, is_call=m.is_call)
    growth = math.exp((m.r - m.q) * m.t)
    f = m.spot * growth
    b = black76_greeks(f, m.strike, m.t, m.vol, rate=m.r, is_call=m.is_call)
    # The two paths round log(F/K) differently (log(S/K) + (r-q)T vs log(S e^{(r-q)T} / K)):
    # ~1e-16 (1 + |x|) in x, i.e. dd in d1 and d2. Each Greek may move by its natural scale
    # times (1 + d1^2) dd in absolute terms (d1, d2 and n(d1) all enter), on top of 1e-13.
    x = math.log(m.spot / m.strike) + (m.r - m.q) * m.t
    dd = 1e-15 * (1.0 + abs(x)) / m.sst
    slack = 1e-13 + (1.0 + m.d1**2) * dd
    scale = m.spot + m.strike
    vega_scale = m.spot * math.sqrt(m.t) / 100

    def same(x: float, y: float, name: str, unit: float) -> None:
        assert x == pytest.approx(y, rel=1e-9, abs=unit * slack), name

    same(float(g.price), float(b.price), "price", scale)
    same(float(g.delta), float(b.delta) * growth, "delta", 1.0)
    same(float(g.gamma), float(b.gamma) * growth**2, "gamma", 1 / (m.spot * m.sst))
    same(float(g.vega_per_volpt), float(b.vega_per_volpt), "vega", vega_scale)
    vanna_unit = (1.0 + abs(m.d1)) / m.vol / 100
    same(float(g.vanna_per_volpt), float(b.vanna_per_volpt) * growth, "vanna", vanna_unit)
    volga_unit = vega_scale * (1.0 + m.d1**2) / m.vol / 100
    same(float(g.volga_per_volpt), float(b.volga_per_volpt), "volga", volga_unit)
    theta = float(b.theta_per_day) - float(b.delta) * f * (m.r - m.q) / 365
    theta_unit = scale * (abs(m.r) + m.q + m.vol / math.sqrt(m.t)) / 365
    same(float(g.theta_per_day), theta, "theta", theta_unit)
    rho = float(b.rho_per_pct) + float(b.delta) * f * m.t / 100
    same(float(g.rho_per_pct), rho, "rho", m.t * scale / 100)
