"""Hand-computed structure analytics: every expected number is worked out in the comments.

The oracles are arithmetic on the legs (credit, max loss, break-evens, margin by CBOE.md §12),
``scipy.stats.norm`` on the textbook lognormal formula (probability of profit), the zero-vol
limit of Black-76 (expected value = intrinsic P&L at the forward), and a seeded Monte Carlo with
a Brownian-bridge crossing test (probability of touch).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from scipy.stats import norm

from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.strategy.analytics import (
    MarketInputs,
    analyze,
    breakevens,
    margin_usd,
    pnl_at_expiry,
    prob_touch,
)

EXPIRY = date(2019, 8, 16)  # a standard SPX monthly (third Friday)


def leg(strike: float, right: Right, qty: int, price: float) -> Leg:
    return Leg(OptionContract("SPX", EXPIRY, strike, right), qty, price)


def market(structure: Structure, *, vol: float = 0.2, forward: float = 3000.0) -> MarketInputs:
    return MarketInputs(
        spot=3000.0,
        forward=forward,
        t_years=0.125,
        rate=0.0,
        leg_vols=tuple(vol for _ in structure.legs),
    )


# Iron condor 2850/2900P 3100/3150C at mids:
#   long 2850P 3.20, short 2900P 5.70  -> put spread credit 5.70 - 3.20 = 2.50
#   short 3100C 4.15, long 3150C 1.45  -> call spread credit 4.15 - 1.45 = 2.70
#   credit = 2.50 + 2.70 = 5.20 points = 520 USD
#   max loss = (50 - 5.20) x 100 = 4,480 USD (either wing fully in the money)
#   break-evens: 2900 - 5.20 = 2894.80 and 3100 + 5.20 = 3105.20
#   margin (CBOE.md §12): max(50, 50) x 100 x 1 - 520 = 4,480 USD
#   credit / max loss = 520 / 4480 = 0.11607142857...
CONDOR = Structure(
    "golden condor",
    (
        leg(2850, Right.PUT, 1, 3.20),
        leg(2900, Right.PUT, -1, 5.70),
        leg(3100, Right.CALL, -1, 4.15),
        leg(3150, Right.CALL, 1, 1.45),
    ),
)


def test_condor_credit_loss_breakevens_margin() -> None:
    a = analyze(CONDOR, market(CONDOR))
    assert a.credit_points == pytest.approx(5.20, abs=1e-12)
    assert a.credit_usd == pytest.approx(520.0, abs=1e-9)
    assert a.max_profit_usd == pytest.approx(520.0, abs=1e-9)
    assert a.max_loss_usd == pytest.approx(4480.0, abs=1e-9)
    assert a.breakevens_points == pytest.approx((2894.80, 3105.20), abs=1e-9)
    assert a.breakeven_low_points == pytest.approx(2894.80, abs=1e-9)
    assert a.breakeven_high_points == pytest.approx(3105.20, abs=1e-9)
    assert a.margin_usd == pytest.approx(4480.0, abs=1e-9)
    assert "wider wing" in a.margin_rule
    assert a.credit_on_max_loss == pytest.approx(520.0 / 4480.0, rel=1e-12)
    assert a.short_strikes_points == (2900.0, 3100.0)


def test_condor_payoff_at_hand_picked_levels() -> None:
    # S = 3000: all legs out of the money -> +520
    # S = 2880: short 2900P pays -20 -> 520 - 2000 = -1480
    # S = 2800: put spread at full width -> 520 - 5000 = -4480
    # S = 3125: short 3100C pays -25 -> 520 - 2500 = -1980
    # S = 3200: call spread at full width -> -4480
    got = pnl_at_expiry(CONDOR, [3000.0, 2880.0, 2800.0, 3125.0, 3200.0])
    np.testing.assert_allclose(got, [520.0, -1480.0, -4480.0, -1980.0, -4480.0], atol=1e-9)


def test_two_lot_condor_with_unequal_wings() -> None:
    # 2 x (2825/2900P, 3100/3150C): put wing 75, call wing 50, same mids as above except the
    # long put 2825 at 2.40: credit = (5.70 - 2.40) + (4.15 - 1.45) = 3.30 + 2.70 = 6.00
    # per condor; two condors: 1,200 USD.
    # margin: wider wing 75 x 100 x 2 - 1200 = 13,800 USD
    # max loss: the put side, (75 - 6.00) x 100 x 2 = 13,800 USD
    # break-evens: 2900 - 6 = 2894, 3100 + 6 = 3106
    two = Structure(
        "two-lot",
        (
            leg(2825, Right.PUT, 2, 2.40),
            leg(2900, Right.PUT, -2, 5.70),
            leg(3100, Right.CALL, -2, 4.15),
            leg(3150, Right.CALL, 2, 1.45),
        ),
    )
    a = analyze(two, market(two))
    assert a.units == 2
    assert a.credit_points == pytest.approx(6.00, abs=1e-12)
    assert a.credit_usd == pytest.approx(1200.0, abs=1e-9)
    assert a.margin_usd == pytest.approx(13_800.0, abs=1e-9)
    assert a.max_loss_usd == pytest.approx(13_800.0, abs=1e-9)
    assert a.breakevens_points == pytest.approx((2894.0, 3106.0), abs=1e-9)


# Put broken-wing butterfly +1 2825P @ 6.00, -2 2800P @ 4.00, +1 2750P @ 1.50
#   credit = 2 x 4.00 - 6.00 - 1.50 = 0.50 points = 50 USD
#   S >= 2825: every put worthless -> +50 (the near side carries no risk)
#   S = 2800: 2825P worth 25 -> 2500 + 50 = 2,550 USD (max profit)
#   S = 2750: 2825P 75 -> 7500; 2 x 2800P short 50 -> -10000 -> -2500 + 50 = -2,450 USD
#   S < 2750: slope +1 - 2 + 1 = 0 -> flat at -2,450: max loss on the wide side
#             = (50 - 25) x 100 - 50 = 2,450 USD
#   break-even between 2750 and 2800, slope 100 USD/point: 2800 - 2550/100 = 2774.5
#   margin: not a condor -> maximum loss at expiry, 2,450 USD
BWB = Structure(
    "golden put bwb",
    (
        leg(2825, Right.PUT, 1, 6.00),
        leg(2800, Right.PUT, -2, 4.00),
        leg(2750, Right.PUT, 1, 1.50),
    ),
)


def test_bwb_max_loss_on_the_wide_side() -> None:
    a = analyze(BWB, market(BWB))
    assert a.credit_usd == pytest.approx(50.0, abs=1e-9)
    assert a.max_profit_usd == pytest.approx(2550.0, abs=1e-9)
    assert a.max_loss_usd == pytest.approx(2450.0, abs=1e-9)
    assert a.breakevens_points == pytest.approx((2774.5,), abs=1e-9)
    assert a.breakeven_high_points == a.breakeven_low_points
    assert a.margin_usd == pytest.approx(2450.0, abs=1e-9)
    assert "maximum loss" in a.margin_rule
    np.testing.assert_allclose(
        pnl_at_expiry(BWB, [3000.0, 2825.0, 2800.0, 2774.5, 2750.0, 2000.0]),
        [50.0, 50.0, 2550.0, 0.0, -2450.0, -2450.0],
        atol=1e-9,
    )


def test_call_debit_spread_margin_is_the_debit_and_naked_short_is_unbounded() -> None:
    # long 3000C 40.00, short 3050C 20.00: debit 20.00 = 2,000 USD = max loss = margin;
    # break-even 3000 + 20 = 3020; max profit (50 - 20) x 100 = 3,000
    spread = Structure("debit", (leg(3000, Right.CALL, 1, 40.0), leg(3050, Right.CALL, -1, 20.0)))
    m, _ = margin_usd(spread)
    assert m == pytest.approx(2000.0)
    assert breakevens(spread) == pytest.approx((3020.0,))
    a = analyze(spread, market(spread))
    assert a.credit_usd == pytest.approx(-2000.0)
    assert a.max_profit_usd == pytest.approx(3000.0)
    # a naked short call: loss unbounded, margin not modelled
    naked = Structure("naked", (leg(3100, Right.CALL, -1, 4.0),))
    assert math.isinf(analyze(naked, market(naked)).max_loss_usd)
    assert math.isinf(margin_usd(naked)[0])
    assert breakevens(naked) == pytest.approx((3104.0,))


def test_probability_of_profit_against_scipy_lognormal() -> None:
    # Flat vol sigma = 0.20, F = 3000, T = 0.125, r = 0 (every leg at the same vol, so the
    # terminal law is one lognormal): P(S_T < x) = N(-d2(x)),
    #   d2(x) = (ln(F/x) - sigma^2 T / 2) / (sigma sqrt(T)).
    # The condor profits between its break-evens 2894.80 and 3105.20:
    #   PoP = N(-d2(3105.20)) - N(-d2(2894.80)).
    F, T, s = 3000.0, 0.125, 0.20

    def d2(x: float) -> float:
        return (math.log(F / x) - 0.5 * s * s * T) / (s * math.sqrt(T))

    expected = norm.cdf(-d2(3105.20)) - norm.cdf(-d2(2894.80))
    a = analyze(CONDOR, market(CONDOR, vol=s, forward=F))
    assert a.prob_profit == pytest.approx(expected, abs=1e-12)
    # finishing beyond each short strike: below 2900, above 3100
    assert a.prob_finish_beyond_short_strikes == pytest.approx(
        (norm.cdf(-d2(2900.0)), norm.cdf(d2(3100.0))), abs=1e-12
    )
    # a short put spread 2850/2900 for 2.50 profits above 2897.5: PoP = N(d2(2897.5))
    put_spread = Structure(
        "put spread", (leg(2850, Right.PUT, 1, 3.20), leg(2900, Right.PUT, -1, 5.70))
    )
    b = analyze(put_spread, market(put_spread, vol=s, forward=F))
    assert b.breakevens_points == pytest.approx((2897.5,))
    assert b.prob_profit == pytest.approx(norm.cdf(d2(2897.5)), abs=1e-12)


def test_expected_value_in_the_zero_vol_limit_is_the_intrinsic_pnl_at_the_forward() -> None:
    # sigma -> 0: every Black-76 value tends to DF x intrinsic on F, so
    # EV = credit + DF x sum q m (w (F - K))^+ = PL at expiry at S_T = F (DF = 1 at r = 0).
    for fwd in (2700.0, 2880.0, 3000.0, 3125.0, 3300.0):
        a = analyze(CONDOR, market(CONDOR, vol=1e-9, forward=fwd))
        assert a.expected_value_usd == pytest.approx(float(pnl_at_expiry(CONDOR, fwd)), abs=1e-6)
    # with a rate: the payoff part is discounted, the premium is cash today.
    # F = 2880: put spread pays -20 x 100 = -2000 at expiry; r = 5%, T = 0.125:
    # EV = 520 - 2000 exp(-0.05 x 0.125) = 520 - 1987.539...
    m = MarketInputs(spot=2880.0, forward=2880.0, t_years=0.125, rate=0.05, leg_vols=(1e-9,) * 4)
    assert analyze(CONDOR, m).expected_value_usd == pytest.approx(
        520.0 - 2000.0 * math.exp(-0.05 * 0.125), abs=1e-6
    )


def test_probability_of_touch_against_a_bridge_corrected_monte_carlo() -> None:
    # Oracle: simulate the driftless lognormal forward, ln F_t = ln F - s^2 t / 2 + s W_t,
    # on 50 steps, and between steps count a crossing of ln B with the exact Brownian-bridge
    # probability exp(-2 (b - x0)(b - x1) / (s^2 dt)) (both ends on the same side), so the
    # estimate is unbiased for continuous monitoring. 40,000 paths: standard error <= 0.0025.
    F, T, s = 3000.0, 0.125, 0.20
    rng = np.random.default_rng(20190626)
    n_paths, n_steps = 40_000, 50
    dt = T / n_steps
    steps = -0.5 * s * s * dt + s * math.sqrt(dt) * rng.standard_normal((n_paths, n_steps))
    x = np.concatenate([np.zeros((n_paths, 1)), np.cumsum(steps, axis=1)], axis=1)
    u = rng.random((n_paths, n_steps))
    for barrier in (2800.0, 2900.0, 3100.0, 3250.0):
        b = math.log(barrier / F)
        x0, x1 = x[:, :-1], x[:, 1:]
        ends_beyond = (x1 >= b) if barrier > F else (x1 <= b)
        same_side = ((x0 - b) * (x1 - b)) > 0
        bridge = np.where(same_side, np.exp(-2.0 * (b - x0) * (b - x1) / (s * s * dt)), 1.0)
        crossed = ends_beyond | (u < bridge)
        mc = crossed.any(axis=1).mean()
        got = float(prob_touch(barrier, forward=F, t_years=T, vol=s))
        assert got == pytest.approx(mc, abs=0.01), barrier
        # and the "touch is about twice the finish" rule of thumb, loosely
        d2 = (math.log(F / barrier) - 0.5 * s * s * T) / (s * math.sqrt(T))
        finish = norm.cdf(d2) if barrier > F else norm.cdf(-d2)
        assert 1.8 * finish < got < 2.2 * finish
