"""Vectorised BSM / Black-76 kernel and its scalar twin against published values and rules.

Expected numbers are printed values from two textbooks, compared to half a unit in the last
printed digit:

* Hull: J. C. Hull, *Options, Futures and Other Derivatives*, 7th edition (the example
  numbers shift between editions: the BSM example is Example 13.6 in the 7th and 15.6 in the
  8th/9th; the Greeks examples are 17.x in the 7th and 19.x in the 8th).
* Haug: E. G. Haug, *The Complete Guide to Option Pricing Formulas*, 2nd edition (2007),
  worked examples of chapter 1 (formulas) and chapter 2 (Greeks). Haug writes the generalised
  BSM with a cost of carry ``b``; here ``div_yield = r - b``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vixshield.errors import InvalidInputError
from vixshield.pricing import (
    OptionGreeks,
    Reason,
    black76_greeks,
    black76_price,
    black_forward_price,
    bsm_greeks,
    bsm_price,
)
from vixshield.pricing.scalar import (
    black76_greeks_scalar,
    black76_price_scalar,
    bsm_greeks_scalar,
    bsm_price_scalar,
)

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


def half_unit(printed: str) -> float:
    """Half a unit in the last printed digit: the rounding tolerance of a printed value."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return 0.5 * 10.0**-decimals


def assert_printed(value: float, printed: str) -> None:
    assert abs(value - float(printed)) <= half_unit(printed) * (1 + 1e-9), (value, printed)


# ---------------------------------------------------------------------------------------------
# Published prices


@pytest.mark.parametrize(
    ("is_call", "printed"),
    [(True, "4.76"), (False, "0.81")],
)
def test_hull_bsm_example_13_6(is_call: bool, printed: str) -> None:
    # Hull 7th ed. Example 13.6 (8th ed. Example 15.6): S=42, K=40, r=10%, sigma=20%, T=0.5.
    price = bsm_price(42.0, 40.0, 0.5, 0.2, rate=0.1, is_call=is_call)
    assert_printed(float(price), printed)
    assert_printed(bsm_price_scalar(42.0, 40.0, 0.5, 0.2, rate=0.1, is_call=is_call), printed)


def test_hull_black76_example_16_6_put() -> None:
    # Hull 7th ed. Example 16.6: European put on a futures, F=K=20, r=9%, sigma=25%, T=4 months.
    price = black76_price(20.0, 20.0, 4 / 12, 0.25, rate=0.09, is_call=False)
    assert_printed(float(price), "1.12")
    assert_printed(black76_price_scalar(20.0, 20.0, 4 / 12, 0.25, rate=0.09, is_call=False), "1.12")


def test_hull_black76_example_16_7_call() -> None:
    # Hull 7th ed. Example 16.7: F=620, K=600, r=5%, sigma=20%, T=0.5; call 44.19.
    assert_printed(float(black76_price(620.0, 600.0, 0.5, 0.2, rate=0.05, is_call=True)), "44.19")


@pytest.mark.parametrize(
    ("case", "printed"),
    [
        # Haug ch. 1, Black-Scholes (1973): S=60, X=65, T=0.25, r=8%, sigma=30%: call 2.1334.
        ((60.0, 65.0, 0.25, 0.08, 0.0, 0.3, True), "2.1334"),
        # Haug ch. 1, Merton (1973): S=100, X=95, T=0.5, r=10%, q=5%, sigma=20%: put 2.4648.
        ((100.0, 95.0, 0.5, 0.1, 0.05, 0.2, False), "2.4648"),
        # Haug ch. 1, generalised BSM: S=75, X=70, T=0.5, r=10%, b=5%, sigma=35%: put 4.0870.
        ((75.0, 70.0, 0.5, 0.1, 0.05, 0.35, False), "4.0870"),
    ],
)
def test_haug_bsm_prices(
    case: tuple[float, float, float, float, float, float, bool], printed: str
) -> None:
    spot, strike, t, r, q, vol, is_call = case
    price = bsm_price(spot, strike, t, vol, rate=r, div_yield=q, is_call=is_call)
    assert_printed(float(price), printed)
    assert_printed(
        bsm_price_scalar(spot, strike, t, vol, rate=r, div_yield=q, is_call=is_call), printed
    )


@pytest.mark.parametrize("is_call", [True, False])
def test_haug_black76_example(is_call: bool) -> None:
    # Haug ch. 1, Black (1976): F=X=19, T=0.75, r=10%, sigma=28%: call = put = 1.7011.
    assert_printed(
        float(black76_price(19.0, 19.0, 0.75, 0.28, rate=0.1, is_call=is_call)), "1.7011"
    )


# ---------------------------------------------------------------------------------------------
# Published Greeks


def test_hull_greeks_examples_17_x() -> None:
    # Hull 7th ed. Examples 17.1-17.7 (8th ed. 19.1-19.7): a call with S=49, K=50, r=5%,
    # sigma=20%, T=20 weeks=0.3846. Hull prints price ~2.40 (section 17.1), delta 0.522,
    # theta -4.31 per year, gamma 0.066, vega 12.1 (per 1.0 of sigma) and rho 8.91 (per 1.0
    # of r). Convert ours back: per year = per day * 365, per 1.0 = per point * 100.
    g = bsm_greeks(49.0, 50.0, 0.3846, 0.2, rate=0.05, is_call=True)
    s = bsm_greeks_scalar(49.0, 50.0, 0.3846, 0.2, rate=0.05, is_call=True)
    for greeks in (g, s):
        assert_printed(float(greeks.price), "2.40")
        assert_printed(float(greeks.delta), "0.522")
        assert_printed(float(greeks.theta_per_day) * 365.0, "-4.31")
        assert_printed(float(greeks.gamma), "0.066")
        assert_printed(float(greeks.vega_per_volpt) * 100.0, "12.1")
        assert_printed(float(greeks.rho_per_pct) * 100.0, "8.91")


def test_haug_black76_delta_example() -> None:
    # Haug ch. 2, delta of futures options: F=105, X=100, T=0.5, r=10%, sigma=36%:
    # call delta 0.5946, put delta -0.3566 (w.r.t. the futures price).
    g = black76_greeks(105.0, 100.0, 0.5, 0.36, rate=0.1, is_call=np.array([True, False]))
    assert_printed(float(g.delta[0]), "0.5946")
    assert_printed(float(g.delta[1]), "-0.3566")


def test_haug_gamma_and_vega_example() -> None:
    # Haug ch. 2, gamma and vega: S=55, X=60, T=0.75, r=b=10%, sigma=30%:
    # gamma 0.0278, vega 18.9358 (per 1.0 of sigma).
    g = bsm_greeks(55.0, 60.0, 0.75, 0.3, rate=0.1, div_yield=0.0, is_call=True)
    assert_printed(float(g.gamma), "0.0278")
    assert_printed(float(g.vega_per_volpt) * 100.0, "18.9358")


def test_haug_theta_example() -> None:
    # Haug ch. 2, theta: S=430, X=405, T=0.0833, r=7%, b=2% (q=5%), sigma=20%:
    # put theta -31.1924 per year.
    g = bsm_greeks(430.0, 405.0, 0.0833, 0.2, rate=0.07, div_yield=0.05, is_call=False)
    assert_printed(float(g.theta_per_day) * 365.0, "-31.1924")


def test_haug_rho_example() -> None:
    # Haug ch. 2, rho: S=72, X=75, T=1, r=b=9%, sigma=19%: call rho 38.7325 (per 1.0 of r).
    g = bsm_greeks(72.0, 75.0, 1.0, 0.19, rate=0.09, is_call=True)
    assert_printed(float(g.rho_per_pct) * 100.0, "38.7325")


def test_black76_rho_is_minus_t_times_price() -> None:
    # Hull 7th ed. section 16.8 / Haug: with F held, V = e^{-rT} B(F), so dV/dr = -T V.
    g = black76_greeks(20.0, 20.0, 4 / 12, 0.25, rate=0.09, is_call=False)
    assert float(g.rho_per_pct) == pytest.approx(-(4 / 12) * float(g.price) / 100.0, rel=1e-14)


# ---------------------------------------------------------------------------------------------
# Reason codes: one bad input per element, each code, and the order of the checks


def _bad_input_case() -> tuple[dict[str, np.ndarray], np.ndarray]:
    inf, nan = math.inf, math.nan
    cases = [
        # (spot, strike, t, vol, rate, q, is_call, expected)
        (100.0, 100.0, 1.0, 0.2, 0.01, 0.0, 1, Reason.OK),
        (nan, 100.0, 1.0, 0.2, 0.01, 0.0, 1, Reason.NAN_INPUT),
        (100.0, inf, 1.0, 0.2, 0.01, 0.0, 1, Reason.NAN_INPUT),
        (100.0, 100.0, -inf, 0.2, 0.01, 0.0, 1, Reason.NAN_INPUT),
        (100.0, 100.0, 1.0, nan, 0.01, 0.0, 1, Reason.NAN_INPUT),
        (100.0, 100.0, 1.0, 0.2, nan, 0.0, 1, Reason.NAN_INPUT),
        (100.0, 100.0, 1.0, 0.2, 0.01, inf, 1, Reason.NAN_INPUT),
        (0.0, 100.0, 1.0, 0.2, 0.01, 0.0, 1, Reason.NONPOSITIVE_UNDERLYING),
        (-5.0, 100.0, 1.0, 0.2, 0.01, 0.0, 1, Reason.NONPOSITIVE_UNDERLYING),
        (100.0, 0.0, 1.0, 0.2, 0.01, 0.0, 1, Reason.NONPOSITIVE_STRIKE),
        (100.0, -1.0, 1.0, 0.2, 0.01, 0.0, 0, Reason.NONPOSITIVE_STRIKE),
        (100.0, 100.0, 0.0, 0.2, 0.01, 0.0, 1, Reason.NONPOSITIVE_TIME),
        (100.0, 100.0, -0.1, 0.2, 0.01, 0.0, 0, Reason.NONPOSITIVE_TIME),
        (100.0, 100.0, 1.0, 0.0, 0.01, 0.0, 1, Reason.NONPOSITIVE_VOL),
        (100.0, 100.0, 1.0, -0.2, 0.01, 0.0, 0, Reason.NONPOSITIVE_VOL),
        (100.0, 100.0, 1.0, 0.2, 0.01, 0.0, 2, Reason.BAD_RIGHT),
        # order: the first failing check wins
        (-1.0, -1.0, -1.0, -1.0, nan, 0.0, 2, Reason.NAN_INPUT),
        (-1.0, -1.0, -1.0, -1.0, 0.01, 0.0, 2, Reason.NONPOSITIVE_UNDERLYING),
        (100.0, -1.0, -1.0, -1.0, 0.01, 0.0, 2, Reason.NONPOSITIVE_STRIKE),
        (100.0, 100.0, -1.0, -1.0, 0.01, 0.0, 2, Reason.NONPOSITIVE_TIME),
        (100.0, 100.0, 1.0, -1.0, 0.01, 0.0, 2, Reason.NONPOSITIVE_VOL),
        (100.0, 100.0, 1.0, 0.2, 0.01, 0.0, 0, Reason.OK),
    ]
    cols = list(zip(*cases, strict=True))
    args = {
        name: np.array(col, dtype=np.float64)
        for name, col in zip(("spot", "strike", "t", "vol", "rate", "q"), cols[:6], strict=True)
    }
    args["is_call"] = np.array(cols[6], dtype=np.int64)
    return args, np.array([int(c) for c in cols[7]], dtype=np.int8)


def test_reason_codes_each_code_and_order() -> None:
    args, expected = _bad_input_case()
    g = bsm_greeks(
        args["spot"],
        args["strike"],
        args["t"],
        args["vol"],
        rate=args["rate"],
        div_yield=args["q"],
        is_call=args["is_call"],
    )
    np.testing.assert_array_equal(g.reason, expected)
    bad = expected != Reason.OK
    for field in FIELDS:
        values = getattr(g, field)
        assert np.isnan(values[bad]).all(), field
        assert np.isfinite(values[~bad]).all(), field
    # the valid elements are exactly what they are when priced alone
    alone = bsm_greeks(100.0, 100.0, 1.0, 0.2, rate=0.01, is_call=np.array([True, False]))
    for field in FIELDS:
        # not bit-for-bit: numpy may take a SIMD or a scalar exp/log by array position
        np.testing.assert_allclose(getattr(g, field)[~bad], getattr(alone, field), rtol=1e-14)


def test_reason_codes_black76_and_price_only() -> None:
    args, expected = _bad_input_case()
    keep = np.isfinite(args["q"])  # Black-76 has no dividend yield
    g = black76_greeks(
        args["spot"][keep],
        args["strike"][keep],
        args["t"][keep],
        args["vol"][keep],
        rate=args["rate"][keep],
        is_call=args["is_call"][keep],
    )
    np.testing.assert_array_equal(g.reason, expected[keep])
    price = black76_price(
        args["spot"][keep],
        args["strike"][keep],
        args["t"][keep],
        args["vol"][keep],
        rate=args["rate"][keep],
        is_call=args["is_call"][keep],
    )
    np.testing.assert_array_equal(np.isnan(price), expected[keep] != Reason.OK)


def test_nan_in_float_is_call_is_bad_right() -> None:
    g = bsm_greeks(100.0, 100.0, 1.0, 0.2, rate=0.0, is_call=np.array([1.0, 0.0, np.nan, 0.5]))
    np.testing.assert_array_equal(
        g.reason, [Reason.OK, Reason.OK, Reason.BAD_RIGHT, Reason.BAD_RIGHT]
    )


def test_bad_values_never_raise_or_warn() -> None:
    # pytest turns warnings into errors, so this also checks no RuntimeWarning escapes.
    g = bsm_greeks(np.array([-1.0, 0.0, np.nan]), 0.0, -1.0, np.inf, rate=np.nan, is_call=True)
    assert (g.reason == Reason.NAN_INPUT).all()


# ---------------------------------------------------------------------------------------------
# Calls and puts mixed, shapes, dtypes, broadcasting


def test_mixed_calls_and_puts_match_separate_runs() -> None:
    rng = np.random.default_rng(7)
    n = 50
    strikes = rng.uniform(3000.0, 7000.0, n)
    is_call = rng.random(n) < 0.5
    mixed = bsm_greeks(5000.0, strikes, 0.1, 0.2, rate=0.04, div_yield=0.015, is_call=is_call)
    calls = bsm_greeks(5000.0, strikes, 0.1, 0.2, rate=0.04, div_yield=0.015, is_call=True)
    puts = bsm_greeks(5000.0, strikes, 0.1, 0.2, rate=0.04, div_yield=0.015, is_call=False)
    for field in FIELDS:
        want = np.where(is_call, getattr(calls, field), getattr(puts, field))
        np.testing.assert_array_equal(getattr(mixed, field), want, err_msg=field)


def test_broadcasting_grid_and_dtypes() -> None:
    strikes = np.linspace(4000.0, 6000.0, 7)  # (7,)
    t_years = np.array([[7 / 365], [30 / 365], [0.5]])  # (3, 1)
    g = bsm_greeks(5000.0, strikes, t_years, 0.2, rate=0.04, is_call=True)
    for field in FIELDS:
        arr = getattr(g, field)
        assert arr.shape == (3, 7), field
        assert arr.dtype == np.float64, field
        assert not arr.flags.writeable, field
    assert g.reason.shape == (3, 7)
    assert g.reason.dtype == np.int8
    # row i equals pricing that expiry alone
    row = bsm_greeks(5000.0, strikes, 30 / 365, 0.2, rate=0.04, is_call=True)
    np.testing.assert_array_equal(g.price[1], row.price)
    np.testing.assert_array_equal(g.vega_per_volpt[1], row.vega_per_volpt)


def test_scalars_give_zero_d_arrays() -> None:
    g = bsm_greeks(100.0, 100.0, 1.0, 0.2, rate=0.0, is_call=True)
    assert isinstance(g, OptionGreeks)
    for field in (*FIELDS, "reason"):
        arr = getattr(g, field)
        assert isinstance(arr, np.ndarray), field
        assert arr.shape == (), field
    assert bsm_price(100.0, 100.0, 1.0, 0.2, rate=0.0, is_call=True).shape == ()
    one = bsm_price([100.0], 100.0, 1.0, 0.2, rate=0.0, is_call=True)
    assert one.shape == (1,)


def test_large_inputs_evaluated_in_blocks_match_row_by_row() -> None:
    # 200 x 150 = 30_000 options go through the cache-blocked path (blocks of 8192 across
    # row boundaries); each row of 150 alone goes through the single-block path.
    strikes = np.linspace(3000.0, 7000.0, 150)
    strikes[7] = np.nan
    t_years = np.asfortranarray(np.geomspace(1 / 365, 2.0, 200)[:, None])
    vol = np.full((200, 150), 0.25)[:, ::-1]  # non-contiguous view
    vol[3, 11] = -0.1
    is_call = np.arange(150) % 3 == 0
    g = bsm_greeks(5000.0, strikes, t_years, vol, rate=0.04, div_yield=0.01, is_call=is_call)
    assert g.price.shape == (200, 150)
    assert g.reason[0, 7] == Reason.NAN_INPUT
    assert g.reason[3, 11] == Reason.NONPOSITIVE_VOL
    assert (g.reason != Reason.OK).sum() == 201
    for i in (0, 3, 54, 55, 199):  # rows 54/55 straddle a block boundary (8192 / 150)
        row = bsm_greeks(
            5000.0, strikes, t_years[i, 0], vol[i], rate=0.04, div_yield=0.01, is_call=is_call
        )
        np.testing.assert_array_equal(g.reason[i], row.reason)
        for field in FIELDS:
            np.testing.assert_allclose(
                getattr(g, field)[i], getattr(row, field), rtol=1e-13, atol=0, err_msg=field
            )
    # the other two entry points take the same blocked path
    p76 = black76_price(5000.0, strikes, t_years, vol, rate=0.04, is_call=is_call)
    pfw = black_forward_price(
        5000.0, strikes, t_years, vol, discount_factor=np.exp(-0.04 * t_years), is_call=is_call
    )
    for i in (0, 55, 199):
        row76 = black76_price(5000.0, strikes, t_years[i, 0], vol[i], rate=0.04, is_call=is_call)
        np.testing.assert_allclose(p76[i], row76, rtol=1e-13, atol=0)
        np.testing.assert_allclose(pfw[i], row76, rtol=1e-13, atol=0)


def test_outputs_do_not_alias_inputs() -> None:
    spot = np.full(4, 100.0)
    g = bsm_greeks(spot, 100.0, 1.0, 0.2, rate=0.0, is_call=True)
    for field in FIELDS:
        assert not np.shares_memory(getattr(g, field), spot)
    np.testing.assert_array_equal(spot, 100.0)


def test_outputs_broadcast_even_when_a_greek_ignores_an_argument() -> None:
    # vega does not depend on call/put; it must still have the full broadcast shape
    g = bsm_greeks(100.0, 100.0, 1.0, 0.2, rate=0.0, is_call=np.array([True, False, True]))
    assert g.vega_per_volpt.shape == (3,)
    assert g.vega_per_volpt[0] == g.vega_per_volpt[1]


def test_shapes_that_do_not_broadcast_raise_naming_arguments() -> None:
    with pytest.raises(InvalidInputError, match=r"spot \(3,\).*strike \(4,\)"):
        bsm_greeks(np.ones(3), np.ones(4), 1.0, 0.2, rate=0.0, is_call=True)
    with pytest.raises(InvalidInputError, match=r"is_call \(2,\)"):
        black76_greeks(np.ones(3), 1.0, 1.0, 0.2, rate=0.0, is_call=np.array([True, False]))


def test_non_numeric_arguments_raise() -> None:
    with pytest.raises(InvalidInputError, match="strike"):
        bsm_price(100.0, "abc", 1.0, 0.2, rate=0.0, is_call=True)
    with pytest.raises(InvalidInputError, match="is_call"):
        bsm_price(100.0, 100.0, 1.0, 0.2, rate=0.0, is_call=np.array(["call"]))


def test_price_only_equals_greeks_price() -> None:
    strikes = np.linspace(2500.0, 7500.0, 41)
    is_call = np.arange(41) % 2 == 0
    kw = {"rate": 0.03, "is_call": is_call}
    p = bsm_price(5000.0, strikes, 0.25, 0.3, div_yield=0.01, **kw)
    p76 = black76_price(5000.0, strikes, 0.25, 0.3, **kw)
    # The numpy Greeks kernel runs the same steps as the price-only one: bit for bit.
    g = bsm_greeks(5000.0, strikes, 0.25, 0.3, div_yield=0.01, backend="numpy", **kw)
    np.testing.assert_array_equal(p, g.price)
    g76 = black76_greeks(5000.0, strikes, 0.25, 0.3, backend="numpy", **kw)
    np.testing.assert_array_equal(p76, g76.price)
    # The default (C kernel when built) uses vector exp/log/erfc within a few ulp.
    np.testing.assert_allclose(
        bsm_greeks(5000.0, strikes, 0.25, 0.3, div_yield=0.01, **kw).price, p, rtol=1e-12
    )
    np.testing.assert_allclose(
        black76_greeks(5000.0, strikes, 0.25, 0.3, **kw).price, p76, rtol=1e-12
    )


def test_forward_form_matches_black76_and_rejects_bad_discount_factor() -> None:
    t = 0.3
    df = math.exp(-0.05 * t)
    strikes = np.array([80.0, 100.0, 120.0])
    got = black_forward_price(100.0, strikes, t, 0.25, discount_factor=df, is_call=True)
    want = black76_price(100.0, strikes, t, 0.25, rate=0.05, is_call=True)
    np.testing.assert_allclose(got, want, rtol=1e-15)
    bad = black_forward_price(
        100.0, 100.0, t, 0.25, discount_factor=np.array([0.0, -1.0, np.nan, 0.9]), is_call=True
    )
    np.testing.assert_array_equal(np.isnan(bad), [True, True, True, False])


# ---------------------------------------------------------------------------------------------
# Numerical edge cases


def test_one_minute_to_expiry_and_deep_wings_are_finite_and_non_negative() -> None:
    one_minute = 1 / 525_600
    strikes = np.array([100.0, 4000.0, 4999.0, 5000.0, 5001.0, 6000.0, 20_000.0])
    for is_call in (True, False):
        g = bsm_greeks(
            5000.0, strikes, one_minute, 0.15, rate=0.05, div_yield=0.01, is_call=is_call
        )
        assert (g.reason == Reason.OK).all()
        for field in FIELDS:
            assert np.isfinite(getattr(g, field)).all(), field
        assert (g.price >= 0.0).all()


def test_far_otm_price_keeps_relative_accuracy() -> None:
    # A put struck 50% below spot with 1 day left: the price is far below 1e-16 of the
    # strike, which a 1 - N(x) evaluation would round to 0 or to noise.
    s, k, t, vol = 5000.0, 2500.0, 1 / 365, 0.6
    price = float(bsm_price(s, k, t, vol, rate=0.0, is_call=False))
    sst = vol * math.sqrt(t)
    d1 = math.log(s / k) / sst + 0.5 * sst
    d2 = d1 - sst
    # Reference: K N(-d2) - S N(-d1) with the tail CDF from libm's erfc rather than scipy's
    # ndtr (the golden file checks the same region against py_vollib's Let's Be Rational).
    want = k * 0.5 * math.erfc(d2 / math.sqrt(2)) - s * 0.5 * math.erfc(d1 / math.sqrt(2))
    assert 0.0 < price < 1e-100
    assert price == pytest.approx(want, rel=1e-10)


def test_deep_itm_call_is_discounted_intrinsic() -> None:
    g = bsm_greeks(5000.0, 1000.0, 0.1, 0.1, rate=0.05, div_yield=0.0, is_call=True)
    intrinsic = 5000.0 - 1000.0 * math.exp(-0.05 * 0.1)
    assert float(g.price) == pytest.approx(intrinsic, rel=1e-15)
    assert float(g.delta) == 1.0
    assert float(g.gamma) == 0.0


# ---------------------------------------------------------------------------------------------
# Scalar twin: invalid arguments raise, naming the argument, value and what is accepted


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"spot": -5.0}, r"spot must be a finite number > 0, got -5\.0"),
        ({"spot": math.nan}, r"spot must be a finite number > 0, got nan"),
        ({"strike": 0.0}, r"strike must be a finite number > 0, got 0\.0"),
        ({"strike": -5.0}, r"strike must be a finite number > 0, got -5\.0"),
        ({"t_years": 0.0}, r"t_years must be a finite number > 0, got 0\.0"),
        ({"vol": math.inf}, r"vol must be a finite number > 0, got inf"),
        ({"rate": math.nan}, r"rate must be a finite number, got nan"),
        ({"div_yield": -math.inf}, r"div_yield must be a finite number, got -inf"),
        ({"is_call": 1}, r"is_call must be a bool"),
        ({"strike": "100"}, r"strike must be a finite number"),
        ({"vol": True}, r"vol must be a finite number"),
    ],
)
def test_scalar_twin_raises_invalid_input(kwargs: dict[str, object], pattern: str) -> None:
    args: dict[str, object] = {
        "spot": 100.0,
        "strike": 100.0,
        "t_years": 1.0,
        "vol": 0.2,
        "rate": 0.01,
        "div_yield": 0.0,
        "is_call": True,
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=pattern) as info:
        bsm_greeks_scalar(**args)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_scalar_black76_names_forward() -> None:
    with pytest.raises(InvalidInputError, match=r"forward must be a finite number > 0, got 0"):
        black76_greeks_scalar(0, 100.0, 1.0, 0.2, rate=0.0, is_call=True)


def test_backend_choice_is_checked() -> None:
    with pytest.raises(InvalidInputError, match="backend must be"):
        bsm_greeks(100.0, 100.0, 1.0, 0.2, rate=0.0, is_call=True, backend="gpu")  # type: ignore[arg-type]
    numpy_g = bsm_greeks(100.0, 100.0, 1.0, 0.2, rate=0.0, is_call=True, backend="numpy")
    auto_g = bsm_greeks(100.0, 100.0, 1.0, 0.2, rate=0.0, is_call=True)
    assert float(auto_g.price) == pytest.approx(float(numpy_g.price), rel=1e-13)
