"""Unit tests of the vectorised implied-volatility solver: API, reason codes, textbook values."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from py_lets_be_rational import black as lbr_black

import vixshield.pricing.iv as iv_module
from vixshield.errors import InvalidInputError
from vixshield.pricing.black import black76_price
from vixshield.pricing.iv import ImpliedVol, implied_vol_black76, implied_vol_bsm
from vixshield.pricing.reasons import Reason

F, K, T, R = 100.0, 110.0, 0.5, 0.03
DF = math.exp(-R * T)


def _price(
    forward: float, strike: float, vol: float, *, call: bool, t: float = T, rate: float = R
) -> float:
    """Discounted Black-76 price from the independent oracle (Jäckel's pricer)."""
    return math.exp(-rate * t) * float(lbr_black(forward, strike, vol, t, 1.0 if call else -1.0))


# ---------------------------------------------------------------------------- textbook values


def test_hull_bsm_example() -> None:
    """Hull, Options, Futures and Other Derivatives (9th ed.), section 15.11: S0 = 21, K = 20,
    r = 0.1, T = 0.25, call worth 1.875 -> implied volatility 23.5%."""
    iv = implied_vol_bsm(1.875, 21.0, 20.0, 0.25, rate=0.1, is_call=True)
    assert iv.reason == Reason.OK
    assert round(float(iv.vol), 3) == 0.235


def test_hull_black76_futures_put_example() -> None:
    """Hull (9th ed.), Example 18.x: futures put, F0 = K = 20, r = 9%, T = 4 months,
    sigma = 25% is worth 1.12 (quoted to the cent, so the vol is recovered to ~1e-3)."""
    iv = implied_vol_black76(1.12, 20.0, 20.0, 4.0 / 12.0, rate=0.09, is_call=False)
    assert iv.reason == Reason.OK
    assert abs(float(iv.vol) - 0.25) < 2e-3


def test_atm_closed_form() -> None:
    """At the money b = erf(s / (2 sqrt 2)), so s = 2 sqrt(2) erfinv(beta) in closed form."""
    from scipy.special import erfinv

    beta = 0.02
    iv = implied_vol_black76(beta * 100.0 * DF, 100.0, 100.0, T, rate=R, is_call=True)
    expected = 2.0 * math.sqrt(2.0) * float(erfinv(beta)) / math.sqrt(T)
    assert abs(float(iv.vol) - expected) < 1e-14


# ---------------------------------------------------------------------------- result type


def test_result_is_frozen_slotted_and_typed() -> None:
    iv = implied_vol_black76([5.0, 6.0], F, K, T, rate=R, is_call=True)
    assert isinstance(iv, ImpliedVol)
    assert iv.vol.dtype == np.float64
    assert iv.reason.dtype == np.int8
    assert not hasattr(iv, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        iv.vol = np.zeros(2)  # type: ignore[misc]


def test_scalar_inputs_give_zero_dimensional_arrays() -> None:
    price = _price(F, K, 0.2, call=True)
    iv = implied_vol_black76(price, F, K, T, rate=R, is_call=True)
    assert iv.vol.shape == ()
    assert iv.reason.shape == ()
    assert abs(float(iv.vol) - 0.2) < 1e-12


def test_broadcasting() -> None:
    strikes = np.array([[90.0, 100.0, 110.0, 120.0]])  # (1, 4)
    vols = np.array([[0.1], [0.2], [0.4]])  # (3, 1)
    prices = np.vectorize(lambda k, v: _price(F, k, v, call=False))(strikes, vols)  # (3, 4)
    iv = implied_vol_black76(prices, F, strikes, T, rate=R, is_call=np.array(False))
    assert iv.vol.shape == (3, 4)
    assert np.all(iv.reason == Reason.OK)
    np.testing.assert_allclose(iv.vol, np.broadcast_to(vols, (3, 4)), rtol=0, atol=1e-12)


def test_integer_rights_are_accepted() -> None:
    call = _price(F, K, 0.3, call=True)
    put = _price(F, K, 0.3, call=False)
    iv = implied_vol_black76([call, put], F, K, T, rate=R, is_call=[1, 0])
    assert np.all(iv.reason == Reason.OK)
    np.testing.assert_allclose(iv.vol, 0.3, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------- reason codes


@pytest.mark.parametrize(
    ("price", "forward", "strike", "t_years", "rate", "is_call", "reason"),
    [
        (float("nan"), F, K, T, R, True, Reason.NAN_INPUT),
        (5.0, float("inf"), K, T, R, True, Reason.NAN_INPUT),
        (5.0, F, float("inf"), T, R, True, Reason.NAN_INPUT),
        (5.0, F, K, float("nan"), R, False, Reason.NAN_INPUT),
        (5.0, F, K, T, float("nan"), False, Reason.NAN_INPUT),
        (5.0, F, K, float("inf"), R, False, Reason.NAN_INPUT),
        (5.0, F, K, T, R, 2, Reason.BAD_RIGHT),
        (5.0, 0.0, K, T, R, True, Reason.NONPOSITIVE_UNDERLYING),
        (5.0, -F, K, T, R, True, Reason.NONPOSITIVE_UNDERLYING),
        (5.0, F, 0.0, T, R, False, Reason.NONPOSITIVE_STRIKE),
        (5.0, F, -K, T, R, False, Reason.NONPOSITIVE_STRIKE),
        (5.0, F, K, 0.0, R, True, Reason.NONPOSITIVE_TIME),
        (5.0, F, K, -0.1, R, True, Reason.NONPOSITIVE_TIME),
        (0.0, F, K, T, R, True, Reason.NONPOSITIVE_PRICE),
        (-1.0, F, K, T, R, True, Reason.NONPOSITIVE_PRICE),
        # ITM put: intrinsic DF * (K - F) = 9.85...; 9.0 is below it
        (9.0, F, K, T, R, False, Reason.BELOW_INTRINSIC),
        # call at/above DF * F, put at/above DF * K
        (F * DF, F, K, T, R, True, Reason.ABOVE_UPPER_BOUND),
        (F, F, K, T, R, True, Reason.ABOVE_UPPER_BOUND),
        (K * DF, F, K, T, R, False, Reason.ABOVE_UPPER_BOUND),
    ],
)
def test_reason_codes(
    price: float,
    forward: float,
    strike: float,
    t_years: float,
    rate: float,
    *,
    is_call: bool | int,
    reason: Reason,
) -> None:
    iv = implied_vol_black76(price, forward, strike, t_years, rate=rate, is_call=is_call)
    assert int(iv.reason) == reason
    assert math.isnan(float(iv.vol))


def test_nan_input_takes_precedence() -> None:
    iv = implied_vol_black76(float("nan"), -1.0, -1.0, -1.0, rate=R, is_call=True)
    assert int(iv.reason) == Reason.NAN_INPUT


def test_price_exactly_at_intrinsic_is_below_intrinsic() -> None:
    """Documented choice: at intrinsic the vol is not identifiable -> NaN, BELOW_INTRINSIC."""
    iv = implied_vol_black76(K - F, F, K, T, rate=0.0, is_call=False)
    assert int(iv.reason) == Reason.BELOW_INTRINSIC
    assert math.isnan(float(iv.vol))
    # one ulp above intrinsic is strictly inside and solved
    iv = implied_vol_black76(np.nextafter(K - F, np.inf), F, K, T, rate=0.0, is_call=False)
    assert int(iv.reason) == Reason.OK
    assert float(iv.vol) > 0.0


def test_no_convergence_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the stopping rule to fail: the element is NaN with NO_CONVERGENCE."""
    monkeypatch.setattr(iv_module, "_STEP_FLOOR", -1.0)
    monkeypatch.setattr(iv_module, "_MAX_ITERATIONS", 3)
    iv = implied_vol_black76(_price(F, K, 0.2, call=True), F, K, T, rate=R, is_call=True)
    assert int(iv.reason) == Reason.NO_CONVERGENCE
    assert math.isnan(float(iv.vol))


def test_mixed_chain_with_bad_quotes_in_the_middle() -> None:
    strikes = np.array([80.0, 90.0, 95.0, 100.0, 105.0, 110.0, 120.0, 130.0])
    is_call = strikes >= F
    vols = np.array([0.30, 0.26, 0.24, 0.22, 0.21, 0.20, 0.21, 0.23])
    prices = np.array(
        [_price(F, k, v, call=bool(c)) for k, v, c in zip(strikes, vols, is_call, strict=True)]
    )
    prices[2] = -0.5  # nonsense quote
    prices[4] = F  # call above the cap
    prices[5] = float("nan")  # missing
    iv = implied_vol_black76(prices, F, strikes, T, rate=R, is_call=is_call)
    good = np.array([True, True, False, True, False, False, True, True])
    np.testing.assert_allclose(iv.vol[good], vols[good], rtol=0, atol=1e-12)
    assert list(iv.reason[~good]) == [
        Reason.NONPOSITIVE_PRICE,
        Reason.ABOVE_UPPER_BOUND,
        Reason.NAN_INPUT,
    ]
    assert np.all(np.isnan(iv.vol[~good]))


def test_bsm_reason_for_nonpositive_spot() -> None:
    iv = implied_vol_bsm([1.0, 1.0], [0.0, -5.0], 20.0, 0.25, rate=0.1, is_call=True)
    assert list(iv.reason) == [Reason.NONPOSITIVE_UNDERLYING] * 2


def test_bsm_nan_dividend_yield() -> None:
    iv = implied_vol_bsm(1.875, 21.0, 20.0, 0.25, rate=0.1, div_yield=float("nan"), is_call=True)
    assert int(iv.reason) == Reason.NAN_INPUT


def test_rights_as_labels_are_a_programming_error() -> None:
    with pytest.raises(InvalidInputError, match="is_call"):
        implied_vol_black76(5.0, F, K, T, rate=R, is_call=np.array(["C"]))


def test_empty_input() -> None:
    iv = implied_vol_black76(np.array([]), F, K, T, rate=R, is_call=True)
    assert iv.vol.shape == (0,)
    assert iv.reason.shape == (0,)


# ---------------------------------------------------------------------------- robustness


def test_no_convergence_never_happens_on_a_large_random_set() -> None:
    """Wide ranges on purpose (|ln F/K| to 30, total vol 1e-7 to 40, any price inside the
    bounds): every element strictly inside the bounds must come back OK and finite."""
    rng = np.random.default_rng(11)
    n = 300_000
    forward = np.exp(rng.uniform(math.log(1e-3), math.log(1e5), n))
    x = rng.uniform(-1.0, 1.0, n) * np.exp(rng.uniform(math.log(1e-12), math.log(30.0), n))
    strike = forward * np.exp(-x)
    t_years = np.exp(rng.uniform(math.log(1.0 / 525_600), math.log(30.0), n))
    is_call = rng.random(n) < 0.5
    intrinsic = np.maximum(np.where(is_call, forward - strike, strike - forward), 0.0)
    cap = np.where(is_call, forward, strike)
    # prices spread over the whole no-arbitrage interval, log-uniform towards both ends
    u = np.exp(rng.uniform(math.log(1e-300), 0.0, n))
    u = np.where(rng.random(n) < 0.5, u, 1.0 - u)
    price = intrinsic + u * (cap - intrinsic)
    iv = implied_vol_black76(price, forward, strike, t_years, rate=0.0, is_call=is_call)
    inside = (price - intrinsic > 0.0) & (cap - price > 0.0)
    assert inside.sum() > 0.25 * n
    assert not np.any(iv.reason == Reason.NO_CONVERGENCE)
    assert np.all(iv.reason[inside] == Reason.OK)
    assert np.all(np.isfinite(iv.vol[inside]) & (iv.vol[inside] > 0.0))


def test_one_minute_to_expiry_far_otm() -> None:
    """A 1-minute SPX put 1.6% out of the money at 40% vol: 29 standard deviations."""
    t_years = 1.0 / 525_600
    forward, strike, vol = 5000.0, 4920.0, 0.40
    price = _price(forward, strike, vol, call=False, t=t_years, rate=0.0)
    assert 0.0 < price < 1e-150
    iv = implied_vol_black76(price, forward, strike, t_years, rate=0.0, is_call=False)
    assert int(iv.reason) == Reason.OK
    assert abs(float(iv.vol) - vol) < 1e-10


def test_threads_do_not_change_results() -> None:
    # 5 chunks of 32,768 options: one thread and several must give identical bits.
    rng = np.random.default_rng(7)
    n = 5 * 32_768 + 11
    f = rng.uniform(4000.0, 6000.0, n)
    k = f * rng.uniform(0.5, 1.5, n)
    t = rng.uniform(1 / 365, 2.0, n)
    is_call = rng.random(n) < 0.5
    price = black76_price(f, k, t, rng.uniform(0.05, 1.5, n), rate=0.03, is_call=is_call)
    one = implied_vol_black76(price, f, k, t, rate=0.03, is_call=is_call, threads=1)
    for threads in (2, 3, None):
        many = implied_vol_black76(price, f, k, t, rate=0.03, is_call=is_call, threads=threads)
        np.testing.assert_array_equal(many.vol, one.vol)
        np.testing.assert_array_equal(many.reason, one.reason)
    with pytest.raises(InvalidInputError, match="threads"):
        implied_vol_black76(price, f, k, t, rate=0.03, is_call=is_call, threads=0)
