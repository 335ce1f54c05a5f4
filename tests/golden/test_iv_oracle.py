"""Implied volatility against an independent oracle: Jäckel's "Let's Be Rational".

Input prices are generated from a known volatility with ``py_lets_be_rational.black`` (Jäckel's
accurate Black pricer, independent of the code under test), then inverted. The requirement
(1e-10 absolute in vol) is asserted wherever the input determines the vol to that accuracy:
where a few ulps of the price move the vol by at most 1e-11 (``_identifiable``). Deep in the
money the time value can be below the float resolution of the price; there the vol is not a
function of the double at all, and only "no failure" is asserted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from py_lets_be_rational import black as lbr_black
from py_lets_be_rational import implied_volatility_from_a_transformed_rational_guess as lbr_iv
from py_vollib.black.implied_volatility import implied_volatility as vollib_iv

from vixshield.pricing.iv import implied_vol_black76, implied_vol_bsm
from vixshield.pricing.reasons import Reason

MINUTE_YEARS = 1.0 / 525_600
REGIONS = ("near", "otm", "deep_otm", "itm", "deep_itm", "high_vol")
TOLERANCE = 1e-10
EPS = float(np.finfo(np.float64).eps)

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Case:
    """A seeded random set of options with their true vols and oracle prices."""

    forward: Floats
    strike: Floats
    t_years: Floats
    rate: Floats
    vol: Floats
    is_call: npt.NDArray[np.bool_]
    undiscounted: Floats  # oracle price, undiscounted
    price: Floats  # discounted input price
    region: npt.NDArray[np.str_]


def _make_case(n: int = 6000, seed: int = 20260415) -> Case:
    rng = np.random.default_rng(seed)
    forward = rng.uniform(5.0, 6000.0, n)
    t_years = np.exp(rng.uniform(math.log(MINUTE_YEARS), math.log(2.0), n))
    vol = np.exp(rng.uniform(math.log(0.01), math.log(3.0), n))
    is_call = rng.random(n) < 0.5
    region = rng.choice(np.array(REGIONS), n)
    # total vol up to 4.2 near the money: prices close to the cap (the solver's HIGH segment)
    high = region == "high_vol"
    vol = np.where(high, rng.uniform(0.8, 3.0, n), vol)
    t_years = np.where(high, rng.uniform(0.25, 2.0, n), t_years)
    s = vol * np.sqrt(t_years)
    # moneyness in standard deviations s = vol sqrt(T): ln(F/K) = theta * sd * s (sd > 0: ITM)
    sd = np.select(
        [region == name for name in REGIONS],
        [
            rng.uniform(-2.0, 2.0, n),
            rng.uniform(-10.0, -2.0, n),
            rng.uniform(-38.0, -10.0, n),
            rng.uniform(2.0, 6.0, n),
            rng.uniform(6.0, 38.0, n),
            rng.uniform(-1.5, 1.5, n),
        ],
    )
    theta = np.where(is_call, 1.0, -1.0)
    strike = forward * np.exp(-theta * sd * s)
    rate = rng.uniform(-0.01, 0.08, n)
    undiscounted = np.array(
        [
            lbr_black(float(f), float(k), float(v), float(t), 1.0 if c else -1.0)
            for f, k, v, t, c in zip(forward, strike, vol, t_years, is_call, strict=True)
        ]
    )
    price = undiscounted * np.exp(-rate * t_years)
    return Case(forward, strike, t_years, rate, vol, is_call, undiscounted, price, region)


@pytest.fixture(scope="module")
def case() -> Case:
    return _make_case()


def _strictly_inside(c: Case) -> npt.NDArray[np.bool_]:
    """The float64 bounds as the solver defines them (module docstring of ``iv``)."""
    df = np.exp(-c.rate * c.t_years)
    und = c.price / df
    intrinsic = np.maximum(np.where(c.is_call, c.forward - c.strike, c.strike - c.forward), 0.0)
    cap = np.where(c.is_call, c.forward, c.strike)
    return (
        (und - intrinsic > 0.0)
        & (cap - und > 0.0)
        & (c.price > df * intrinsic)
        & (c.price < df * cap)
    )


def _identifiable(c: Case) -> npt.NDArray[np.bool_]:
    """Where 8 ulps of the input price move the vol by at most 1e-11.

    ``d sigma / d P = 1 / vega`` with Black-76 vega ``F phi(d1) sqrt(T)`` (undiscounted),
    evaluated in logs so that far-wing vegas do not underflow. The relative size of an ulp is
    taken from the discounted input, which is what the solver sees (it is large for subnormal
    prices, which carry only a few significant bits). Prices whose *normalised* value
    ``P / sqrt(F K)`` is subnormal are left out as well: the oracle pricer forms that value
    first, so its own output has only a few correct digits there.
    """
    s = c.vol * np.sqrt(c.t_years)
    d1 = np.log(c.forward / c.strike) / s + 0.5 * s
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_vega = np.log(c.forward) - 0.5 * d1 * d1 - 0.5 * math.log(2 * math.pi)
        ln_vega += 0.5 * np.log(c.t_years)
        rel_ulp = np.maximum(
            np.spacing(c.price) / c.price, np.spacing(c.undiscounted) / c.undiscounted
        )
        ln_dvol = np.log(8.0 * rel_ulp * c.undiscounted) - ln_vega
    normal = c.undiscounted / np.sqrt(c.forward * c.strike) >= np.finfo(np.float64).tiny
    return _strictly_inside(c) & normal & (ln_dvol <= math.log(1e-11))


def test_every_price_strictly_inside_the_bounds_is_solved(case: Case) -> None:
    iv = implied_vol_black76(
        case.price, case.forward, case.strike, case.t_years, rate=case.rate, is_call=case.is_call
    )
    inside = _strictly_inside(case)
    assert inside.sum() > 0.7 * inside.size
    assert np.all(iv.reason[inside] == Reason.OK)
    assert np.all(np.isfinite(iv.vol[inside]))
    assert not np.any(iv.reason == Reason.NO_CONVERGENCE)


def test_vol_within_1e_10_wherever_the_price_determines_it(case: Case) -> None:
    iv = implied_vol_black76(
        case.price, case.forward, case.strike, case.t_years, rate=case.rate, is_call=case.is_call
    )
    ok = _identifiable(case)
    # the set must cover the hard regions, not just the easy middle
    for region in ("near", "otm", "deep_otm", "itm", "high_vol"):
        assert np.sum(ok & (case.region == region)) > 200, region
    assert np.sum(ok & (case.t_years < 1.0 / 365.0)) > 100
    err = np.abs(iv.vol[ok] - case.vol[ok])
    assert err.max() <= TOLERANCE, (err.max(), case.vol[ok][np.argmax(err)])


def test_deep_itm_vol_reprices_to_the_input(case: Case) -> None:
    """10-38 sd in the money the vol is not identifiable, but it must be *a* vol of the price.

    Undiscounted (rate 0, so the bounds are exact): the oracle reprices the returned vol to the
    input price within a few ulps, i.e. the answer is exact for a price indistinguishable from
    the one given.
    """
    und = case.undiscounted
    intrinsic = np.maximum(
        np.where(case.is_call, case.forward - case.strike, case.strike - case.forward), 0.0
    )
    cap = np.where(case.is_call, case.forward, case.strike)
    deep = np.flatnonzero((case.region == "deep_itm") & (und - intrinsic > 0.0) & (cap - und > 0.0))
    assert deep.size > 50
    iv = implied_vol_black76(
        und[deep],
        case.forward[deep],
        case.strike[deep],
        case.t_years[deep],
        rate=0.0,
        is_call=case.is_call[deep],
    )
    assert np.all(iv.reason == Reason.OK)
    repriced = np.array(
        [
            lbr_black(
                float(case.forward[i]),
                float(case.strike[i]),
                float(v),
                float(case.t_years[i]),
                1.0 if case.is_call[i] else -1.0,
            )
            for i, v in zip(deep, iv.vol, strict=True)
        ]
    )
    assert np.all(np.abs(repriced - und[deep]) <= 4.0 * np.spacing(und[deep]))


def test_far_wing_below_1e_29_is_solved(case: Case) -> None:
    """The known failure of a plain Newton solver: prices far below 1e-29, 10-38 sd OTM."""
    tiny = _identifiable(case) & (case.region == "deep_otm") & (case.undiscounted < 1e-29)
    assert tiny.sum() > 200
    iv = implied_vol_black76(
        case.price[tiny],
        case.forward[tiny],
        case.strike[tiny],
        case.t_years[tiny],
        rate=case.rate[tiny],
        is_call=case.is_call[tiny],
    )
    assert np.all(iv.reason == Reason.OK)
    assert np.max(np.abs(iv.vol - case.vol[tiny])) <= TOLERANCE


def test_agrees_with_lets_be_rational(case: Case) -> None:
    ok = np.flatnonzero(_identifiable(case))
    iv = implied_vol_black76(
        case.price[ok],
        case.forward[ok],
        case.strike[ok],
        case.t_years[ok],
        rate=case.rate[ok],
        is_call=case.is_call[ok],
    )
    oracle = np.array(
        [
            lbr_iv(
                float(case.undiscounted[i]),
                float(case.forward[i]),
                float(case.strike[i]),
                float(case.t_years[i]),
                1.0 if case.is_call[i] else -1.0,
            )
            for i in ok
        ]
    )
    assert np.max(np.abs(iv.vol - oracle)) <= TOLERANCE


def test_agrees_with_py_vollib_on_a_chain() -> None:
    """py_vollib's Black-76 implied vol (discounted price) on an ordinary SPX-like chain."""
    forward, t_years, rate = 5000.0, 30.0 / 365.0, 0.045
    strikes = np.arange(4000.0, 6001.0, 50.0)
    vol_true = 0.18 + 0.25 * (np.log(strikes / forward)) ** 2
    is_call = strikes >= forward
    df = math.exp(-rate * t_years)
    price = np.array(
        [
            df * lbr_black(forward, float(k), float(v), t_years, 1.0 if c else -1.0)
            for k, v, c in zip(strikes, vol_true, is_call, strict=True)
        ]
    )
    iv = implied_vol_black76(price, forward, strikes, t_years, rate=rate, is_call=is_call)
    oracle = np.array(
        [
            vollib_iv(float(p), forward, float(k), rate, t_years, "c" if c else "p")
            for p, k, c in zip(price, strikes, is_call, strict=True)
        ]
    )
    assert np.all(iv.reason == Reason.OK)
    np.testing.assert_allclose(iv.vol, oracle, rtol=0.0, atol=TOLERANCE)
    np.testing.assert_allclose(iv.vol, vol_true, rtol=0.0, atol=TOLERANCE)


def test_bsm_reduces_to_black76_on_the_forward(case: Case) -> None:
    """BSM with a dividend yield equals Black-76 on F = S exp((r - q) T)."""
    q = 0.013
    spot = case.forward * np.exp(-(case.rate - q) * case.t_years)
    ok = _identifiable(case)
    iv = implied_vol_bsm(
        case.price[ok],
        spot[ok],
        case.strike[ok],
        case.t_years[ok],
        rate=case.rate[ok],
        div_yield=q,
        is_call=case.is_call[ok],
    )
    near = ~np.isin(case.region[ok], ["itm", "deep_itm"])  # the spot round trip moves F an ulp
    assert np.all(iv.reason == Reason.OK)
    assert np.max(np.abs(iv.vol[near] - case.vol[ok][near])) <= TOLERANCE
