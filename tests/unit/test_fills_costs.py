"""Fees, fills and margin, against numbers worked out by hand in the comments."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from vixshield.backtest.costs import (
    CostParams,
    fee_per_contract_usd,
    fees_usd,
    fees_usd_many,
    margin_check,
    structure_margin,
)
from vixshield.backtest.fills import Fill, FillParams, FillRefusal, fill_intent, fill_price
from vixshield.domain.decisions import Action, Layer, OrderIntent
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.units import NEW_YORK

EXP = date(2019, 8, 16)  # third Friday: SPX AM expiry
P2750 = OptionContract("SPX", EXP, 2750.0, Right.PUT)
P2800 = OptionContract("SPX", EXP, 2800.0, Right.PUT)
C3050 = OptionContract("SPX", EXP, 3050.0, Right.CALL)
C3125 = OptionContract("SPX", EXP, 3125.0, Right.CALL)

# (contract, bid, ask): mids 5.00, 7.80, 3.60, 0.90; half-spreads 0.20, 0.20, 0.20, 0.10
OPEN_QUOTES = [
    (P2750, 4.80, 5.20),
    (P2800, 7.60, 8.00),
    (C3050, 3.40, 3.80),
    (C3125, 0.80, 1.00),
]
EXCHANGE_ONLY = CostParams(commission_usd=0.0, regulatory_clearing_usd=0.0)


def make_chain(quotes: list[tuple[OptionContract, float, float]]) -> pd.DataFrame:
    """A minimal canonical chain of one quote instant."""
    t = pd.Timestamp("2019-07-01 15:45", tz=NEW_YORK)
    return pd.DataFrame(
        {
            "quote_time": [t] * len(quotes),
            "expiry": [c.expiry for c, _, _ in quotes],
            "settlement": [c.settlement for c, _, _ in quotes],
            "root": [c.root for c, _, _ in quotes],
            "strike": [c.strike for c, _, _ in quotes],
            "right": [c.right.value for c, _, _ in quotes],
            "bid": [b for _, b, _ in quotes],
            "ask": [a for _, _, a in quotes],
            "modelled": [False] * len(quotes),
        }
    )


def condor(units: int = 2, name: str = "core") -> Structure:
    """Long 2750P, short 2800P, short 3050C, long 3125C: put wing 50, call wing 75."""
    return Structure(
        name,
        (
            Leg(P2750, units, 5.00),
            Leg(P2800, -units, 7.80),
            Leg(C3050, -units, 3.60),
            Leg(C3125, units, 0.90),
        ),
    )


def open_intent(units: int = 2) -> OrderIntent:
    return OrderIntent(Action.OPEN, Layer.CORE, condor(units), 5.50, ("test open",))


# -- fees --------------------------------------------------------------------------------------


def test_cost_defaults_match_cboe_md_section_13() -> None:
    p = CostParams()
    assert (p.spx_fee_low_usd, p.spx_fee_high_usd, p.spx_fee_break) == (0.36, 0.45, 1.0)
    assert (
        p.vix_fee_upto_010_usd,
        p.vix_fee_below_1_usd,
        p.vix_fee_below_2_usd,
        p.vix_fee_from_2_usd,
    ) == (0.10, 0.25, 0.40, 0.45)
    assert p.commission_usd == 0.65


def test_cost_params_are_closed_and_bounded() -> None:
    with pytest.raises(ValidationError):
        CostParams(commission_usd=-1.0)
    with pytest.raises(ValidationError):
        CostParams.model_validate({"commision_usd": 1.0})  # misspelt: refused


@pytest.mark.parametrize(
    ("root", "price", "fee"),
    [
        ("SPX", 0.99, 0.36),  # premium < $1
        ("SPXW", 1.00, 0.45),  # premium >= $1
        ("SPX", 25.0, 0.45),
        ("VIX", 0.05, 0.10),  # <= $0.10
        ("VIX", 0.10, 0.10),
        ("VIX", 0.11, 0.25),  # $0.11-0.99
        ("VIX", 0.99, 0.25),
        ("VIX", 1.00, 0.40),  # $1.00-1.99
        ("VIX", 1.99, 0.40),
        ("VIX", 2.00, 0.45),  # >= $2.00
    ],
)
def test_exchange_fee_bands(root: str, price: float, fee: float) -> None:
    assert fee_per_contract_usd(root, price, EXCHANGE_ONLY) == pytest.approx(fee)


def test_all_in_fee_per_leg_and_vectorised() -> None:
    # 3 contracts of SPX at 5.10: 3 x (0.45 + 0.65 + 0.05) = 3.45
    assert fees_usd(Leg(P2750, -3, 5.0), 5.10, CostParams()) == pytest.approx(3.45)
    got = fees_usd_many(["SPX", "VIX"], [0.50, 2.50], [2, -1], CostParams())
    # SPX 2 x (0.36 + 0.70) = 2.12; VIX 1 x (0.45 + 0.70) = 1.15
    np.testing.assert_allclose(got, [2.12, 1.15])
    with pytest.raises(InvalidInputError, match="no fee schedule"):
        fees_usd_many(["XSP"], [1.0], [1], CostParams())


# -- fills -------------------------------------------------------------------------------------


def test_fill_price_convention() -> None:
    # bid 4.80 ask 5.20: mid 5.00, half 0.20
    assert fill_price(4.80, 5.20, +1, 0.0) == pytest.approx(5.00)
    assert fill_price(4.80, 5.20, +1, 0.5) == pytest.approx(5.10)
    assert fill_price(4.80, 5.20, -1, 0.5) == pytest.approx(4.90)
    assert fill_price(4.80, 5.20, +1, 1.0) == pytest.approx(5.20)  # the ask
    assert fill_price(4.80, 5.20, -1, 1.0) == pytest.approx(4.80)  # the bid


def test_condor_fill_at_half_the_half_spread_by_hand() -> None:
    fill = fill_intent(open_intent(), make_chain(OPEN_QUOTES), FillParams(half_spread_fraction=0.5))
    assert isinstance(fill, Fill)
    prices = {g.contract: g.price for g in fill.legs}
    # buy 2750P at 5.00 + 0.5*0.20 = 5.10; sell 2800P at 7.80 - 0.10 = 7.70
    # sell 3050C at 3.60 - 0.10 = 3.50; buy 3125C at 0.90 + 0.5*0.10 = 0.95
    assert prices[P2750] == pytest.approx(5.10)
    assert prices[P2800] == pytest.approx(7.70)
    assert prices[C3050] == pytest.approx(3.50)
    assert prices[C3125] == pytest.approx(0.95)
    # credit 7.70 + 3.50 - 5.10 - 0.95 = 5.15 points x 100 x 2 = 1,030 USD
    assert fill.premium_usd == pytest.approx(1030.0)
    # fees per unit: 3 legs >= $1 at 0.45 + 0.70 = 1.15 and 3125C (< $1) at 0.36 + 0.70 = 1.06
    # = 4.51, x 2 units = 9.02
    assert fill.fees_usd == pytest.approx(9.02)
    assert fill.net_cash_usd == pytest.approx(1020.98)
    # slippage against the mids: 2 x (0.10 + 0.10 + 0.10 + 0.05) x 100 = 70
    assert fill.slippage_usd == pytest.approx(70.0)


def test_mid_and_full_spread_side_by_side() -> None:
    chain = make_chain(OPEN_QUOTES)
    at_mid = fill_intent(open_intent(), chain, FillParams(half_spread_fraction=0.0))
    at_touch = fill_intent(open_intent(), chain, FillParams(half_spread_fraction=1.0))
    assert isinstance(at_mid, Fill)
    assert isinstance(at_touch, Fill)
    # mid: 7.80 + 3.60 - 5.00 - 0.90 = 5.50 -> 1,100; touch: 7.60 + 3.40 - 5.20 - 1.00 = 4.80 -> 960
    assert at_mid.premium_usd == pytest.approx(1100.0)
    assert at_touch.premium_usd == pytest.approx(960.0)
    # at the touch the 3125C costs 1.00, which moves it into the $0.45 band: 2 x 4 x 1.15 = 9.20
    assert at_mid.fees_usd == pytest.approx(9.02)
    assert at_touch.fees_usd == pytest.approx(9.20)


def test_missing_quote_is_a_refusal_with_reason() -> None:
    got = fill_intent(open_intent(), make_chain(OPEN_QUOTES[:3]))
    assert isinstance(got, FillRefusal)
    assert got.reasons == (
        "no quote for SPX 2019-08-16 3125C in the chain: not filled (no price is guessed)",
    )


def test_spx_and_spxw_quotes_are_not_interchangeable() -> None:
    spxw = OptionContract("SPXW", EXP, 3125.0, Right.CALL)
    got = fill_intent(open_intent(), make_chain([*OPEN_QUOTES[:3], (spxw, 0.8, 1.0)]))
    assert isinstance(got, FillRefusal)


def test_hold_and_unheld_roll_are_refused() -> None:
    hold = OrderIntent(Action.HOLD, Layer.CORE, None, None, ("nothing to do",))
    assert isinstance(fill_intent(hold, make_chain(OPEN_QUOTES)), FillRefusal)
    roll = OrderIntent(Action.ROLL, Layer.CORE, condor(), 0.0, ("roll",), ("core",))
    got = fill_intent(roll, make_chain(OPEN_QUOTES), held={})
    assert isinstance(got, FillRefusal)
    assert "not held" in got.reasons[0]


def test_close_without_legs_closes_every_held_leg() -> None:
    held = {"core": condor()}
    close = OrderIntent(Action.CLOSE, Layer.CORE, None, None, ("close all",), ("core",))
    fill = fill_intent(
        close, make_chain(OPEN_QUOTES), FillParams(half_spread_fraction=1.0), held=held
    )
    assert isinstance(fill, Fill)
    # buy back: 2800P at 8.00 and 3050C at 3.80; sell 2750P at 4.80 and 3125C at 0.80
    # cash = 2 x 100 x (4.80 + 0.80 - 8.00 - 3.80) = -1,240
    assert fill.premium_usd == pytest.approx(-1240.0)
    assert {g.contract: g.quantity for g in fill.legs} == {P2750: -2, P2800: 2, C3050: 2, C3125: -2}


# -- margin ------------------------------------------------------------------------------------


def filled_condor(units: int = 2) -> Structure:
    """The condor at the k = 0.5 fills above: credit 5.15 points a unit."""
    return Structure(
        "core",
        (
            Leg(P2750, units, 5.10),
            Leg(P2800, -units, 7.70),
            Leg(C3050, -units, 3.50),
            Leg(C3125, units, 0.95),
        ),
    )


def test_condor_margin_by_hand_and_margin_call() -> None:
    # wider wing 75 (call side) x 100 x 2 - credit 1,030 = 13,970
    usd, rule = structure_margin(filled_condor())
    assert usd == pytest.approx(13970.0)
    assert "strategy-based" in rule
    ok = margin_check([filled_condor()], 13970.0)
    assert ok.required_usd == pytest.approx(13970.0)
    assert not ok.call
    required, call, reason = margin_check([filled_condor()], 13000.0)
    assert required == pytest.approx(13970.0)
    assert call
    assert reason.startswith("margin call: requirement 13,970.00 USD exceeds equity 13,000.00")
    # a 102% house rule
    assert structure_margin(filled_condor(), params=CostParams(margin_multiplier=1.02))[
        0
    ] == pytest.approx(1.02 * 13970.0)


def test_vertical_long_and_naked_margin() -> None:
    credit_put_spread = Structure("ps", (Leg(P2750, 1, 5.10), Leg(P2800, -1, 7.70)))
    # 50 x 100 - (7.70 - 5.10) x 100 = 5,000 - 260 = 4,740
    assert structure_margin(credit_put_spread)[0] == pytest.approx(4740.0)
    long_call = Structure("lc", (Leg(C3125, 3, 0.95),))
    # premium paid: 3 x 0.95 x 100 = 285
    assert structure_margin(long_call)[0] == pytest.approx(285.0)
    naked = Structure("np", (Leg(P2800, -1, 10.0),))
    with pytest.raises(InvalidInputError, match="need the SPX level"):
        structure_margin(naked)
    # S = 3000, OTM 200: max(10 + 450 - 200, 10 + 0.10 x 2800) = max(260, 290) = 290 -> 29,000
    usd, _ = structure_margin(naked, underlying_levels={"SPX": 3000.0})
    assert usd == pytest.approx(29000.0)
    calendar = Structure(
        "cal",
        (
            Leg(P2800, -1, 7.7),
            Leg(OptionContract("SPX", date(2019, 9, 20), 2800.0, Right.PUT), 1, 9.0),
        ),
    )
    with pytest.raises(InvalidInputError, match="not modelled"):
        structure_margin(calendar)
