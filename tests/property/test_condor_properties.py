"""Properties of structure analytics over random condors and broken-wing butterflies."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.pricing.black import black76_greeks
from vixshield.strategy.analytics import (
    MarketInputs,
    analyze,
    breakevens,
    pnl_at_expiry,
    pnl_before_expiry,
)

EXPIRY = date(2019, 8, 16)
prices = st.floats(0.05, 60.0, allow_nan=False)
vols = st.floats(0.05, 0.8, allow_nan=False)


def _leg(strike: float, right: Right, qty: int, price: float) -> Leg:
    return Leg(OptionContract("SPX", EXPIRY, strike, right), qty, price)


@st.composite
def condors(draw: st.DrawFn) -> Structure:
    qty = draw(st.integers(1, 5))
    sp = 5.0 * draw(st.integers(400, 600))
    sc = sp + 5.0 * draw(st.integers(0, 100))  # sc == sp is an iron butterfly
    lp = sp - 5.0 * draw(st.integers(1, 40))
    lc = sc + 5.0 * draw(st.integers(1, 40))
    p = [draw(prices) for _ in range(4)]
    return Structure(
        "condor",
        (
            _leg(lp, Right.PUT, qty, p[0]),
            _leg(sp, Right.PUT, -qty, p[1]),
            _leg(sc, Right.CALL, -qty, p[2]),
            _leg(lc, Right.CALL, qty, p[3]),
        ),
    )


@st.composite
def bwbs(draw: st.DrawFn) -> Structure:
    qty = draw(st.integers(1, 5))
    right = draw(st.sampled_from([Right.PUT, Right.CALL]))
    body = 5.0 * draw(st.integers(400, 700))
    narrow = 5.0 * draw(st.integers(1, 20))
    wide = narrow + 5.0 * draw(st.integers(1, 20))
    out = -1.0 if right is Right.PUT else 1.0
    p = [draw(prices) for _ in range(3)]
    return Structure(
        "bwb",
        (
            _leg(body - out * narrow, right, qty, p[0]),
            _leg(body, right, -2 * qty, p[1]),
            _leg(body + out * wide, right, qty, p[2]),
        ),
    )


structures = st.one_of(condors(), bwbs())


@st.composite
def markets(draw: st.DrawFn, structure: Structure) -> MarketInputs:
    spot = draw(st.floats(2000.0, 3500.0))
    return MarketInputs(
        spot=spot,
        forward=spot * draw(st.floats(0.99, 1.01)),
        t_years=draw(st.floats(5.0 / 365, 0.5)),
        rate=draw(st.floats(-0.01, 0.06)),
        leg_vols=tuple(draw(vols) for _ in structure.legs),
    )


def _grid(s: Structure) -> np.ndarray:
    strikes = [leg.contract.strike for leg in s.legs]
    return np.concatenate(
        [np.linspace(1.0, 2.0 * max(strikes), 2001), np.array(strikes, dtype=np.float64)]
    )


@given(structures, st.data())
def test_expiry_pnl_within_minus_max_loss_and_max_profit(s: Structure, data: st.DataObject) -> None:
    a = analyze(s, data.draw(markets(s)))
    pnl = pnl_at_expiry(s, _grid(s))
    tol = 1e-7 * (1.0 + abs(a.max_loss_usd) + abs(a.max_profit_usd))
    assert pnl.min() >= -a.max_loss_usd - tol
    assert pnl.max() <= a.max_profit_usd + tol
    assert pnl.min() == pytest.approx(-a.max_loss_usd, abs=tol)  # attained at a strike
    if len(s.legs) == 4:  # condors: the most they can make is the credit
        assert a.max_profit_usd == pytest.approx(a.credit_usd, abs=tol)
        assert pnl.max() <= a.credit_usd + tol


@given(structures)
def test_pnl_is_zero_at_every_breakeven_and_changes_sign(s: Structure) -> None:
    roots = breakevens(s)
    if not roots:
        return
    scale = 1e-7 * sum(abs(leg.quantity) * leg.contract.strike * 100 for leg in s.legs)
    np.testing.assert_allclose(pnl_at_expiry(s, roots), 0.0, atol=scale)
    for r in roots:
        left, right = pnl_at_expiry(s, [r - 0.01, r + 0.01])
        assert left * right <= 0.0 or abs(left) < scale or abs(right) < scale


@given(structures, st.data())
def test_t0_pnl_converges_to_expiry_pnl(s: Structure, data: st.DataObject) -> None:
    m = data.draw(markets(s))
    levels = _grid(s)[::20]
    expiry = pnl_at_expiry(s, levels)
    # an at-the-money leg is worth about 0.4 F sigma sqrt(tau): bound the gap by that
    size = sum(abs(leg.quantity) for leg in s.legs) * 100.0
    for tau in (1e-6, 1e-10):
        near = pnl_before_expiry(s, m, levels, t_years_left=tau)
        bound = size * 0.4 * 2.0 * levels.max() * max(m.leg_vols) * math.sqrt(tau) + 1e-6
        assert np.max(np.abs(near - expiry)) <= bound
    np.testing.assert_array_equal(pnl_before_expiry(s, m, levels, t_years_left=0.0), expiry)


@given(structures, st.data())
def test_structure_greeks_are_the_sum_of_leg_greeks(s: Structure, data: st.DataObject) -> None:
    m = data.draw(markets(s))
    a = analyze(s, m)
    total = dict.fromkeys(("delta", "gamma", "vega", "theta", "value"), 0.0)
    dfds = m.forward / m.spot
    for leg, vol in zip(s.legs, m.leg_vols, strict=True):
        g = black76_greeks(
            m.forward, leg.contract.strike, m.t_years, vol, rate=m.rate,
            is_call=leg.contract.is_call,
        )  # fmt: skip
        scale = leg.quantity * leg.contract.multiplier
        total["delta"] += scale * float(g.delta) * dfds
        total["gamma"] += scale * float(g.gamma) * dfds**2
        total["vega"] += scale * float(g.vega_per_volpt)
        total["theta"] += scale * float(g.theta_per_day)
        total["value"] += scale * float(g.price)
    assert a.delta_usd_per_point == pytest.approx(total["delta"], rel=1e-9, abs=1e-9)
    assert a.delta_usd_per_pct == pytest.approx(total["delta"] * m.spot / 100, rel=1e-9, abs=1e-9)
    assert a.gamma_usd_per_point == pytest.approx(total["gamma"], rel=1e-9, abs=1e-12)
    assert a.vega_usd_per_volpt == pytest.approx(total["vega"], rel=1e-9, abs=1e-9)
    assert a.theta_usd_per_day == pytest.approx(total["theta"], rel=1e-9, abs=1e-9)
    assert a.expected_value_usd == pytest.approx(s.net_premium_usd + total["value"], abs=1e-6)


@given(condors())
def test_condor_margin_is_at_least_the_max_loss(s: Structure) -> None:
    m = MarketInputs(spot=2500.0, forward=2500.0, t_years=0.12, rate=0.0, leg_vols=(0.2,) * 4)
    a = analyze(s, m)
    assert a.margin_usd >= a.max_loss_usd - 1e-7 * (1.0 + a.max_loss_usd)
    assert "wider wing" in a.margin_rule


@given(structures, st.data())
def test_probabilities_are_probabilities(s: Structure, data: st.DataObject) -> None:
    a = analyze(s, data.draw(markets(s)))
    assert 0.0 <= a.prob_profit <= 1.0
    for beyond, touch in zip(
        a.prob_finish_beyond_short_strikes, a.prob_touch_short_strikes, strict=True
    ):
        assert 0.0 <= beyond <= touch + 1e-12 <= 1.0 + 1e-12
    assert all(0.0 <= p <= 1.0 for p in a.prob_touch_breakevens)
