"""Property tests of the implied-volatility solver (hypothesis; CI profile in tests/conftest.py).

Prices come from Jäckel's independent Black pricer (``py_lets_be_rational.black``). Tolerances
are the 1e-10 vol requirement plus the part that the price's own rounding leaves undetermined
(a few ulps of the price divided by vega), so a property can only fail on a real solver error.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from py_lets_be_rational import black as lbr_black

from vixshield.pricing.iv import implied_vol_black76
from vixshield.pricing.reasons import Reason

TOLERANCE = 1e-10
MINUTE_YEARS = 1.0 / 525_600

forwards = st.floats(1.0, 10_000.0)
vols = st.floats(0.01, 3.0)
times = st.floats(math.log(MINUTE_YEARS), math.log(2.0)).map(math.exp)
rates = st.floats(-0.01, 0.08)
# moneyness in standard deviations of the terminal distribution: ln(F/K) = sd * vol * sqrt(T)
moneyness_sd = st.floats(-6.0, 6.0)


def _black(forward: float, strike: float, vol: float, t: float, *, call: bool) -> float:
    return float(lbr_black(forward, strike, vol, t, 1.0 if call else -1.0))


def _vega(forward: float, strike: float, vol: float, t: float) -> float:
    """Undiscounted Black-76 vega ``F phi(d1) sqrt(T)`` (dP/dsigma)."""
    s = vol * math.sqrt(t)
    d1 = math.log(forward / strike) / s + 0.5 * s
    return forward * math.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi) * math.sqrt(t)


def _vol_slack(price: float, vega: float) -> float:
    """Vol uncertainty left by 8 ulps of the price."""
    return 8.0 * float(np.spacing(price)) / vega if vega > 0.0 else math.inf


@given(forward=forwards, sd=moneyness_sd, vol=vols, t=times, rate=rates, call=st.booleans())
def test_round_trip_price_vol_price(
    *, forward: float, sd: float, vol: float, t: float, rate: float, call: bool
) -> None:
    strike = forward * math.exp(-sd * vol * math.sqrt(t))
    undiscounted = _black(forward, strike, vol, t, call=call)
    intrinsic = max((forward - strike) if call else (strike - forward), 0.0)
    if not undiscounted > intrinsic:  # time value below the price's resolution
        return
    price = undiscounted * math.exp(-rate * t)
    iv = implied_vol_black76(price, forward, strike, t, rate=rate, is_call=call)
    assert int(iv.reason) == Reason.OK
    got = float(iv.vol)
    vega = _vega(forward, strike, vol, t)
    assert abs(got - vol) <= TOLERANCE + _vol_slack(undiscounted, vega)
    # price -> vol -> price: back to the input up to the vol error times vega and the
    # pricer's own relative accuracy (about 1e-14 in the wings)
    repriced = _black(forward, strike, got, t, call=call)
    assert abs(repriced - undiscounted) <= abs(got - vol) * vega * 1.01 + 1e-12 * undiscounted


@given(forwards, moneyness_sd, vols, times, rates)
def test_parity_consistent_call_and_put_give_the_same_vol(
    forward: float, sd: float, vol: float, t: float, rate: float
) -> None:
    """Put priced from the call by parity, P = C - DF (F - K): same implied vol."""
    strike = forward * math.exp(-sd * vol * math.sqrt(t))
    df = math.exp(-rate * t)
    call_price = df * _black(forward, strike, vol, t, call=True)
    put_price = call_price - df * (forward - strike)
    iv = implied_vol_black76(
        np.array([call_price, put_price]),
        forward,
        strike,
        t,
        rate=rate,
        is_call=np.array([True, False]),
    )
    if not np.all(iv.reason == Reason.OK):  # one side's time value lost in rounding
        assert np.all(np.isin(iv.reason, [Reason.OK, Reason.BELOW_INTRINSIC]))
        return
    vega = _vega(forward, strike, vol, t) * df
    slack = _vol_slack(max(call_price, abs(put_price)), vega)
    assert abs(float(iv.vol[0] - iv.vol[1])) <= 2.0 * TOLERANCE + 2.0 * slack


@given(
    forward=forwards,
    log_moneyness=st.floats(-3.0, 3.0),
    t=times,
    rate=rates,
    call=st.booleans(),
    fractions=st.lists(st.floats(1e-6, 1.0 - 1e-6), min_size=2, max_size=40, unique=True),
)
def test_vol_is_increasing_in_price(
    *,
    forward: float,
    log_moneyness: float,
    t: float,
    rate: float,
    call: bool,
    fractions: list[float],
) -> None:
    """Prices spread across the no-arbitrage interval map to strictly increasing vols."""
    strike = forward * math.exp(-log_moneyness)
    df = math.exp(-rate * t)
    intrinsic = max((forward - strike) if call else (strike - forward), 0.0)
    cap = forward if call else strike
    u = np.sort(np.asarray(fractions))
    u = u[np.concatenate(([True], np.diff(u) > 1e-6))]  # distinct enough to order the vols
    price = df * (intrinsic + u * (cap - intrinsic))
    iv = implied_vol_black76(price, forward, strike, t, rate=rate, is_call=call)
    ok = iv.reason == Reason.OK
    # everything that is not solved is a price that rounded onto a bound
    assert np.all(np.isin(iv.reason[~ok], [Reason.BELOW_INTRINSIC, Reason.ABOVE_UPPER_BOUND]))
    assert np.all(np.diff(iv.vol[ok]) > 0.0)
