"""The decision's book views for the journal, API and dashboard: ``book["marks"]`` and
``book["payoff"]``, checked against independent computations (the structure analytics'
expiry P&L, the leg valuation, hand arithmetic)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.decisions import DayDecision
from vixshield.domain.positions import Book, Leg, OptionContract, Right, Structure
from vixshield.engine import PAYOFF_POINTS, CoreCondorStage, NoStage, run_day
from vixshield.strategy.analytics import pnl_at_expiry
from vixshield.strategy.condor import CondorParams

CONFIG = StrategyConfig(condor=CondorParams(wing_points=25.0))
DAY = date(2013, 3, 1)
EXPIRY = date(2013, 4, 19)  # the April 2013 SPX AM monthly


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    return MarketHistory.from_synthetic(
        synthetic_market(date(2012, 1, 3), date(2013, 6, 28), seed=7)
    )


def _condor(spot: float) -> Structure:
    k = round(spot / 5.0) * 5.0
    legs = (
        Leg(OptionContract("SPX", EXPIRY, k - 60, Right.PUT), 2, 1.10),
        Leg(OptionContract("SPX", EXPIRY, k - 35, Right.PUT), -2, 2.40),
        Leg(OptionContract("SPX", EXPIRY, k + 35, Right.CALL), -2, 1.90),
        Leg(OptionContract("SPX", EXPIRY, k + 60, Right.CALL), 2, 0.80),
    )
    return Structure("condor", legs)


def _decide(history: MarketHistory, book: Book, **kw: object) -> DayDecision:
    return run_day(
        history,
        DAY,
        clock=FixedClock(stamp(DAY)),
        config=CONFIG,
        equity_usd=1_000_000.0,
        book=book,
        stages=(NoStage("quiet", "views only"),),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def spot(history: MarketHistory) -> float:
    d = _decide(history, Book())
    return float(d.book["spx_spot"])


@pytest.fixture(scope="module")
def decision(history: MarketHistory, spot: float) -> DayDecision:
    book = Book((_condor(spot),), fees_usd={"condor": 12.0})
    return _decide(history, book)


def test_marks_value_every_held_leg(decision: DayDecision, spot: float) -> None:
    marks = decision.book["marks"]
    condor = _condor(spot)
    assert [m["contract"] for m in marks] == [g.contract.label() for g in condor.legs]
    for m, leg in zip(marks, condor.legs, strict=True):
        assert m["structure"] == "condor"
        assert m["quantity"] == leg.quantity
        assert m["fill_price"] == leg.price
        assert m["value_usd"] == pytest.approx(m["mark"] * leg.quantity * 100.0, rel=1e-12)
        assert m["mark"] > 0
        assert 0.02 < m["vol"] < 2.0
    # The marks sum to the book Greeks' option value (one valuation, two views).
    total = sum(m["value_usd"] for m in marks)
    assert total == pytest.approx(decision.book["greeks"]["options_value_usd"], rel=1e-9)


def test_payoff_at_expiry_is_the_structure_expiry_pnl_less_fees(
    decision: DayDecision, spot: float
) -> None:
    p = decision.book["payoff"]
    assert p["expiry"] == EXPIRY.isoformat()
    levels = np.array(p["spx"])
    assert len(levels) == PAYOFF_POINTS
    assert levels[PAYOFF_POINTS // 2] == pytest.approx(spot, rel=1e-12)
    assert np.all(np.diff(levels) > 0)
    expected = pnl_at_expiry(_condor(spot), levels) - 12.0
    np.testing.assert_allclose(p["expiry_usd"], expected, rtol=0, atol=1e-6)
    # Hand check: the credit is (2.40 + 1.90 - 1.10 - 0.80) x 2 x 100 = 480 USD, less fees.
    assert max(p["expiry_usd"]) == pytest.approx(480.0 - 12.0, abs=1e-6)
    assert min(p["expiry_usd"]) == pytest.approx(480.0 - 12.0 - 25 * 2 * 100.0, abs=1e-6)


def test_payoff_now_at_spot_is_marks_less_opening_cost(decision: DayDecision) -> None:
    p = decision.book["payoff"]
    marks = decision.book["marks"]
    cost = sum(m["fill_price"] * m["quantity"] * 100.0 for m in marks)
    value = sum(m["value_usd"] for m in marks)
    now = p["now_usd"][PAYOFF_POINTS // 2]
    assert now == pytest.approx(value - cost - 12.0, abs=1e-6)
    # Before expiry a short condor is worth less to its seller than at expiry near the middle,
    # and it cannot lose more than the wing width at any level.
    assert now < p["expiry_usd"][PAYOFF_POINTS // 2]
    assert min(p["now_usd"]) >= -25 * 2 * 100.0 - 12.0 - 1e-6


def test_an_empty_book_has_no_marks_and_no_payoff(history: MarketHistory) -> None:
    d = _decide(history, Book())
    assert d.book["marks"] == []
    assert d.book["payoff"] is None


def test_backtests_can_leave_the_views_out(history: MarketHistory, spot: float) -> None:
    book = Book((_condor(spot),))
    with_views = _decide(history, book)
    without = _decide(history, book, book_views=False)
    assert "marks" not in without.book
    assert "payoff" not in without.book
    stripped = {k: v for k, v in with_views.book.items() if k not in ("marks", "payoff")}
    assert stripped == dict(without.book)
    assert with_views.orders == without.orders


def test_payoff_covers_the_proposed_orders(history: MarketHistory) -> None:
    """The payoff is of the resulting book: a condor the core stage opens appears in it."""
    for day in history.sessions:
        if day < date(2013, 1, 2):
            continue
        d = run_day(
            history, day, clock=FixedClock(stamp(day)), config=CONFIG,
            equity_usd=1_000_000.0, stages=(CoreCondorStage(),),
        )  # fmt: skip
        if d.orders:
            break
    else:
        raise AssertionError("no condor opened in 2013")
    p = d.book["payoff"]
    assert d.book["marks"] == []  # nothing was held
    order = d.orders[0]
    assert order.structure is not None
    levels = np.array(p["spx"])
    np.testing.assert_allclose(
        p["expiry_usd"], pnl_at_expiry(order.structure, levels), rtol=0, atol=1e-6
    )
