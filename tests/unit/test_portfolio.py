"""The portfolio: single trades through cash settlement, P&L worked out by hand in comments.

The condor (2 units) is long 2750P, short 2800P, short 3050C, long 3125C on the 2019-08-16 AM
expiry, filled at k = 0.5 at 5.10, 7.70, 3.50, 0.95: a credit of 5.15 points, 1,030 USD, and
fees of 9.02 USD (see test_fills_costs.py for the arithmetic).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vixshield.backtest.fills import Fill, FillParams, fill_intent
from vixshield.backtest.portfolio import Portfolio, SettlementPrices
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


def open_intent(units: int = 2) -> OrderIntent:
    """Open the condor: long 2750P, short 2800P, short 3050C, long 3125C (limit at mids)."""
    legs = (
        Leg(P2750, units, 5.00),
        Leg(P2800, -units, 7.80),
        Leg(C3050, -units, 3.60),
        Leg(C3125, units, 0.90),
    )
    return OrderIntent(Action.OPEN, Layer.CORE, Structure("core", legs), 5.50, ("test open",))


OPENED = date(2019, 7, 1)
START = 100_000.0
CREDIT = 1030.0
FEES = 9.02
K_HALF = FillParams(half_spread_fraction=0.5)


def opened() -> Portfolio:
    fill = fill_intent(open_intent(), make_chain(OPEN_QUOTES), K_HALF)
    assert isinstance(fill, Fill)
    return Portfolio(START).apply_fill(fill, OPENED)


def test_open_books_cash_basis_and_fees() -> None:
    pf = opened()
    assert pf.cash_usd == pytest.approx(START + CREDIT - FEES)
    assert pf.realised_pnl_usd == pytest.approx(-FEES)  # fees are realised when paid
    assert pf.fees_usd == pytest.approx(FEES)
    pos = pf.position("core")
    assert pos.opened == OPENED
    assert pos.fees_usd == pytest.approx(FEES)
    assert {g.contract: (g.quantity, round(g.price, 9)) for g in pos.structure.legs} == {
        P2750: (2, 5.10),
        P2800: (-2, 7.70),
        C3050: (-2, 3.50),
        C3125: (2, 0.95),
    }
    (entry,) = pf.ledger
    assert entry.kind == "open"
    assert entry.cash_usd == pytest.approx(CREDIT - FEES)
    book = pf.book()
    assert book.fees_usd["core"] == pytest.approx(FEES)
    assert book.opened["core"] == OPENED


@pytest.mark.parametrize(
    ("soq", "settlement_cash"),
    [
        # all four legs out of the money: nothing paid, the credit is kept
        (2926.32, 0.0),
        # between short and long put: short 2800P pays (2800 - 2780) x 100 x 2 = 4,000
        (2780.0, -4000.0),
        # beyond the put wing: (2800 - 2700) - (2750 - 2700) = 50 points x 100 x 2 = 10,000
        (2700.0, -10000.0),
        # beyond the (wider) call wing, the max loss: (3200 - 3050) - (3200 - 3125) = 75 points
        # x 100 x 2 = 15,000; P&L = 1,030 - 15,000 = -13,970 = -(75 x 200 - 1,030)
        (3200.0, -15000.0),
    ],
)
def test_condor_held_to_am_expiry_settles_on_the_open(soq: float, settlement_cash: float) -> None:
    pf = opened().settle(SettlementPrices(EXP, spx_open=soq, spx_close=2888.68))
    assert pf.positions == ()
    assert pf.cash_usd == pytest.approx(START + CREDIT - FEES + settlement_cash)
    # the trade's P&L: credit + settlement cash - fees, e.g. OTM 1,030 - 9.02 = 1,020.98
    assert pf.realised_pnl_usd == pytest.approx(CREDIT + settlement_cash - FEES)
    entry = pf.ledger[-1]
    assert entry.kind == "settle"
    assert entry.reason == f"settled at SOQ proxy (open) 2019-08-16 = {soq:.2f}"
    assert entry.fees_usd == 0.0  # cash settlement is free


def test_otm_condor_keeps_credit_minus_fees() -> None:
    pf = opened().settle(SettlementPrices(EXP, spx_open=2926.32))
    assert pf.realised_pnl_usd == pytest.approx(1020.98)
    assert pf.cash_usd == pytest.approx(101_020.98)


@given(
    k1=st.integers(1000, 3000),
    w_put=st.integers(1, 200),
    gap=st.integers(0, 400),
    w_call=st.integers(1, 200),
    prices=st.lists(st.floats(0.0, 60.0), min_size=4, max_size=4),
    units=st.integers(1, 5),
    level=st.floats(1.0, 6000.0),
)
def test_condor_settlement_pnl_within_bounds(
    *,
    k1: int,
    w_put: int,
    gap: int,
    w_call: int,
    prices: list[float],
    units: int,
    level: float,
) -> None:
    """DESIGN invariant 4: P&L at expiry, before fees, lies in [-max loss, credit]."""
    k2, k3 = k1 + w_put, k1 + w_put + gap
    k4 = k3 + w_call
    contracts = [
        OptionContract("SPX", EXP, float(k), r)
        for k, r in ((k1, Right.PUT), (k2, Right.PUT), (k3, Right.CALL), (k4, Right.CALL))
    ]
    signs = (1, -1, -1, 1)
    structure = Structure(
        "ic", tuple(Leg(c, s * units, p) for c, s, p in zip(contracts, signs, prices, strict=True))
    )
    chain = make_chain([(c, p, p) for c, p in zip(contracts, prices, strict=True)])
    fill = fill_intent(OrderIntent(Action.OPEN, Layer.CORE, structure, None, ("p",)), chain)
    assert isinstance(fill, Fill)
    credit = fill.premium_usd
    max_loss = max(w_put, w_call) * 100 * units - credit
    pf = Portfolio(0.0).apply_fill(fill, OPENED).settle(SettlementPrices(EXP, spx_open=level))
    pnl_before_fees = pf.realised_pnl_usd + pf.fees_usd
    assert -max_loss - 1e-6 <= pnl_before_fees <= credit + 1e-6


def test_spxw_settles_on_the_close() -> None:
    expiry = date(2019, 8, 23)  # a Friday SPXW (PM) expiry
    put = OptionContract("SPXW", expiry, 2875.0, Right.PUT)
    intent = OrderIntent(
        Action.OPEN, Layer.LADDER, Structure("p", (Leg(put, -1, 10.0),)), 10.0, ("x",)
    )
    fill = fill_intent(
        intent, make_chain([(put, 10.0, 10.0)]), FillParams(half_spread_fraction=0.0)
    )
    assert isinstance(fill, Fill)
    # open 2,900 (OTM) but close 2,850: intrinsic 25, cash -25 x 100 = -2,500;
    # realised (25 - 10) x (-1) x 100 = -1,500 before the opening fee
    pf = Portfolio(0.0).apply_fill(fill, OPENED)
    pf = pf.settle(SettlementPrices(expiry, spx_open=2900.0, spx_close=2850.0))
    assert pf.ledger[-1].cash_usd == pytest.approx(-2500.0)
    assert pf.ledger[-1].realised_pnl_usd == pytest.approx(-1500.0)
    assert pf.ledger[-1].reason == "settled at close 2019-08-23 = 2850.00"


def test_vix_call_settles_on_the_vix_open() -> None:
    expiry = date(2019, 8, 21)  # VIX expiry (Wednesday)
    call = OptionContract("VIX", expiry, 15.0, Right.CALL)
    intent = OrderIntent(
        Action.OPEN, Layer.HEDGE, Structure("h", (Leg(call, 1, 1.20),)), -1.2, ("x",)
    )
    fill = fill_intent(intent, make_chain([(call, 1.10, 1.30)]), K_HALF)
    assert isinstance(fill, Fill)
    # buy at 1.20 + 0.5 x 0.10 = 1.25; VIX fee band $1.00-1.99: 0.40 + 0.65 + 0.05 = 1.10
    assert fill.legs[0].price == pytest.approx(1.25)
    assert fill.fees_usd == pytest.approx(1.10)
    pf = Portfolio(0.0).apply_fill(fill, OPENED)
    pf = pf.settle(SettlementPrices(expiry, spx_open=2900.0, spx_close=2920.0, vix_open=18.5))
    # VRO proxy 18.50: intrinsic 3.50 -> +350 USD; P&L (3.50 - 1.25) x 100 - 1.10 = 223.90
    assert pf.ledger[-1].cash_usd == pytest.approx(350.0)
    assert pf.realised_pnl_usd == pytest.approx(223.90)
    assert pf.cash_usd == pytest.approx(-125.0 - 1.10 + 350.0)
    assert pf.ledger[-1].reason == "settled at VRO proxy (VIX open) 2019-08-21 = 18.50"


def test_pre_2006_open_is_flagged_as_a_prior_close_proxy() -> None:
    prices = SettlementPrices(date(2005, 8, 19), spx_open=1230.0)
    c = OptionContract("SPX", date(2005, 8, 19), 1200.0, Right.PUT)
    assert prices.spx_open_is_prior_close
    assert "previous close" in prices.proxy_note(c)
    assert not SettlementPrices(EXP, spx_open=2926.32).spx_open_is_prior_close


def test_missing_settlement_price_and_skipped_expiry_fail_fast() -> None:
    with pytest.raises(InvalidInputError, match="no price to settle"):
        opened().settle(SettlementPrices(EXP, spx_close=2900.0))
    with pytest.raises(InvalidInputError, match="never settled"):
        opened().settle(SettlementPrices(date(2019, 8, 19), spx_open=2900.0))


# Quotes at the resize/roll: mids 2.00, 3.00, 1.10, 0.25; half-spreads 0.10, 0.10, 0.10, 0.05
LATER_QUOTES = [
    (P2750, 1.90, 2.10),
    (P2800, 2.90, 3.10),
    (C3050, 1.00, 1.20),
    (C3125, 0.20, 0.30),
    (OptionContract("SPX", EXP, 2700.0, Right.PUT), 0.90, 1.10),
]


def test_resize_one_unit_by_hand() -> None:
    pf = opened()
    cut = Structure(
        "core",
        (Leg(P2750, 1, 2.0), Leg(P2800, -1, 3.0), Leg(C3050, -1, 1.1), Leg(C3125, 1, 0.25)),
    )
    intent = OrderIntent(Action.RESIZE, Layer.RISK, cut, -2.0, ("cut to 1",), ("core",), -1)
    fill = fill_intent(intent, make_chain(LATER_QUOTES), K_HALF, held=pf.structures)
    assert isinstance(fill, Fill)
    after = pf.apply_fill(fill, date(2019, 7, 20))
    # sell 2750P at 1.95, buy 2800P at 3.05, buy 3050C at 1.15, sell 3125C at 0.225
    # realised: (1.95-5.10)(+1) + (3.05-7.70)(-1) + (1.15-3.50)(-1) + (0.225-0.95)(+1)
    #         = -3.15 + 4.65 + 2.35 - 0.725 = 3.125 points = 312.50 USD
    # fees: three legs >= $1 at 1.15 and the 0.225 call at 1.06 = 4.51
    entry = after.ledger[-1]
    assert entry.kind == "resize"
    assert entry.fees_usd == pytest.approx(4.51)
    assert entry.realised_pnl_usd == pytest.approx(312.50 - 4.51)
    # cash: -(3.05 + 1.15 - 1.95 - 0.225) x 100 - 4.51 = -202.50 - 4.51
    assert entry.cash_usd == pytest.approx(-207.01)
    legs = {
        g.contract: (g.quantity, round(g.price, 9)) for g in after.position("core").structure.legs
    }
    assert legs[P2800] == (-1, 7.70)  # the basis is unchanged
    assert after.position("core").fees_usd == pytest.approx(FEES + 4.51)


def test_roll_put_side_by_hand() -> None:
    pf = opened()
    p2700 = OptionContract("SPX", EXP, 2700.0, Right.PUT)
    new = Structure(
        "core",
        (Leg(p2700, 2, 1.0), Leg(P2750, -2, 2.0), Leg(C3050, -2, 3.5), Leg(C3125, 2, 0.95)),
    )
    intent = OrderIntent(Action.ROLL, Layer.CORE, new, -0.2, ("roll puts down",), ("core",))
    fill = fill_intent(intent, make_chain(LATER_QUOTES), K_HALF, held=pf.structures)
    assert isinstance(fill, Fill)
    # trades: buy 2 2800P at 3.05; sell 4 2750P at 1.95 (close +2, open -2); buy 2 2700P at 1.05
    assert {g.contract: g.quantity for g in fill.legs} == {P2800: 2, P2750: -4, p2700: 2}
    after = pf.apply_fill(fill, date(2019, 7, 20))
    entry = after.ledger[-1]
    # premium: (-2 x 3.05 + 4 x 1.95 - 2 x 1.05) x 100 = -610 + 780 - 210 = -40
    # fees: 8 contracts, all >= $1: 8 x 1.15 = 9.20
    assert entry.fees_usd == pytest.approx(9.20)
    assert entry.cash_usd == pytest.approx(-40.0 - 9.20)
    # realised: 2800P (3.05 - 7.70) x (-2) x 100 = 930; 2750P closed (1.95 - 5.10) x 2 x 100 = -630
    assert entry.realised_pnl_usd == pytest.approx(300.0 - 9.20)
    legs = {
        g.contract: (g.quantity, round(g.price, 9)) for g in after.position("core").structure.legs
    }
    assert legs == {
        p2700: (2, 1.05),
        P2750: (-2, 1.95),  # flipped: the new short opens at its fill
        C3050: (-2, 3.50),  # untouched legs keep their basis
        C3125: (2, 0.95),
    }


def test_close_more_than_held_is_refused() -> None:
    pf = opened()
    too_much = Structure("core", (Leg(P2800, -3, 3.0),))
    intent = OrderIntent(Action.CLOSE, Layer.CORE, too_much, None, ("x",), ("core",))
    fill = fill_intent(intent, make_chain(LATER_QUOTES), K_HALF, held=pf.structures)
    assert isinstance(fill, Fill)
    with pytest.raises(InvalidInputError, match="would not reduce"):
        pf.apply_fill(fill, date(2019, 7, 20))


def test_open_of_a_taken_name_is_renamed() -> None:
    fill = fill_intent(open_intent(1), make_chain(OPEN_QUOTES), K_HALF)
    assert isinstance(fill, Fill)
    pf = opened().apply_fill(fill, date(2019, 7, 2))
    assert [p.name for p in pf.positions] == ["core", "core #2"]


def test_interest_accrual_by_hand() -> None:
    pf = Portfolio(100_000.0)
    # 100,000 x 5% x 3 / 360 = 41.6667 (a weekend: Friday to Monday)
    act360 = pf.accrue_interest(0.05, 3, date(2019, 7, 8))
    assert act360.cash_usd == pytest.approx(100_041.666_667)
    assert act360.interest_usd == pytest.approx(41.666_667)
    # 100,000 x 5% x 3 / 365 = 41.0959
    act365 = pf.accrue_interest(0.05, 3, date(2019, 7, 8), basis=365)
    assert act365.cash_usd == pytest.approx(100_041.095_890)
    assert act365.ledger[-1].kind == "interest"


def test_mark_at_chain_mids_and_a_model_for_vix() -> None:
    pf = opened()
    marks = pf.mark(make_chain(LATER_QUOTES))
    # value: 2 x 100 x (2.00 - 3.00 - 1.10 + 0.25) = -370
    assert marks.value_usd == pytest.approx(-370.0)
    assert pf.equity_usd(marks) == pytest.approx(START + CREDIT - FEES - 370.0)
    call = OptionContract("VIX", date(2019, 8, 21), 15.0, Right.CALL)
    hedge = Fill(
        OrderIntent(Action.OPEN, Layer.HEDGE, Structure("h", (Leg(call, 1, 1.2),)), None, ("x",)),
        (),
        0.0,
    )
    assert hedge.fees_usd == 0.0
    vix_fill = fill_intent(hedge.intent, make_chain([(call, 1.2, 1.2)]), K_HALF)
    assert isinstance(vix_fill, Fill)
    both = pf.apply_fill(vix_fill, OPENED)
    assert both.mark(make_chain(LATER_QUOTES)).value_usd is None  # no VIX quote, no model
    marks = both.mark(make_chain(LATER_QUOTES), pricer=lambda c: 2.0 if c.root == "VIX" else None)
    # -370 + 1 x 2.00 x 100 = -170
    assert marks.value_usd == pytest.approx(-170.0)
    assert marks.modelled


# -- the index sleeve -------------------------------------------------------------------------


def test_index_trades_cash_basis_and_realised_by_hand() -> None:
    pf = Portfolio(10_000.0)
    # buy 2 units at 2,900 with a 1 bp fee: 2 x 2,900 = 5,800; fee 0.58
    pf = pf.trade_index(2.0, 2900.0, OPENED, fee_usd=0.58, reason="buy")
    assert pf.cash_usd == pytest.approx(10_000.0 - 5_800.0 - 0.58)
    assert (pf.index_units, pf.index_basis) == (2.0, 2900.0)
    assert pf.realised_pnl_usd == pytest.approx(-0.58)
    # add 1 at 3,000: basis (2 x 2,900 + 3,000) / 3 = 2,933.33
    pf = pf.trade_index(1.0, 3000.0, OPENED, reason="add")
    assert pf.index_basis == pytest.approx(8800.0 / 3.0)
    # sell 1.5 at 3,100: realised (3,100 - 2,933.33) x 1.5 = 250; basis unchanged
    pf = pf.trade_index(-1.5, 3100.0, date(2019, 7, 2), reason="trim")
    assert pf.index_units == pytest.approx(1.5)
    assert pf.index_basis == pytest.approx(8800.0 / 3.0)
    assert pf.realised_pnl_usd == pytest.approx(-0.58 + 250.0)
    assert pf.cash_usd == pytest.approx(10_000.0 - 5_800.58 - 3_000.0 + 4_650.0)
    entry = pf.ledger[-1]
    assert entry.kind == "index"
    assert entry.legs[0][:4] == ("SPX index", -1.5, 3100.0, 0.0)
    # equity needs the index level: 1.5 units at 3,050 plus the cash
    marks = pf.mark()
    assert pf.equity_usd(marks) is None
    assert pf.equity_usd(marks, index_level=3050.0) == pytest.approx(pf.cash_usd + 4575.0)
    assert pf.cash_usd == pytest.approx(10_000.0 + sum(e.cash_usd for e in pf.ledger))


def test_dividends_by_hand() -> None:
    pf = Portfolio(0.0).trade_index(10.0, 2900.0, OPENED, reason="buy")
    # 10 units x 2,900 x 1.5% x 3 / 365 = 3.5753 (a weekend, booked on Monday)
    after = pf.accrue_dividends(2900.0, 0.015, 3, date(2019, 7, 8))
    assert after.cash_usd - pf.cash_usd == pytest.approx(10 * 2900 * 0.015 * 3 / 365)
    assert after.dividends_usd == pytest.approx(3.575_342_47)
    assert after.realised_pnl_usd == pytest.approx(3.575_342_47)
    assert after.ledger[-1].kind == "dividend"
    assert "total-return approximation" in after.ledger[-1].reason
    # nothing held, nothing booked
    assert Portfolio(5.0).accrue_dividends(2900.0, 0.015, 3, OPENED) == Portfolio(5.0)


_EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("index"), st.floats(-50.0, 50.0), st.floats(100.0, 5000.0)),
        st.tuples(st.just("dividend"), st.integers(0, 5), st.floats(100.0, 5000.0)),
        st.tuples(st.just("interest"), st.integers(0, 5), st.floats(-0.05, 0.2)),
        st.tuples(st.just("condor"), st.integers(1, 3), st.floats(0.0, 1.0)),
    ),
    max_size=12,
)


@given(events=_EVENTS, soq=st.floats(2500.0, 3300.0))
def test_cash_is_initial_plus_the_ledger(
    events: list[tuple[str, float, float]], soq: float
) -> None:
    """The accounting invariant over any sequence of transitions."""
    pf = Portfolio(START)
    for kind, a, b in events:
        if kind == "index":
            pf = pf.trade_index(a, b, OPENED, fee_usd=abs(a) * b * 1e-4, reason="p")
        elif kind == "dividend":
            pf = pf.accrue_dividends(b, 0.015, int(a), OPENED)
        elif kind == "interest":
            pf = pf.accrue_interest(b, int(a), OPENED)
        else:
            fill = fill_intent(
                open_intent(int(a)), make_chain(OPEN_QUOTES), FillParams(half_spread_fraction=b)
            )
            assert isinstance(fill, Fill)
            pf = pf.apply_fill(fill, OPENED)
    pf = pf.settle(SettlementPrices(EXP, spx_open=soq))
    assert pf.cash_usd == pytest.approx(START + sum(e.cash_usd for e in pf.ledger), abs=1e-6)
    legs = [g for e in pf.ledger for g in e.legs]
    # every leg's share sums to its entry: the per-leg ledger (CSV export) adds up
    assert sum(g.cash_usd for g in legs) + sum(
        e.cash_usd for e in pf.ledger if not e.legs
    ) == pytest.approx(sum(e.cash_usd for e in pf.ledger), abs=1e-6)
    assert sum(g.realised_pnl_usd for g in legs) + sum(
        e.realised_pnl_usd for e in pf.ledger if not e.legs
    ) == pytest.approx(pf.realised_pnl_usd, abs=1e-6)
