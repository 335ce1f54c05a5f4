"""The decision core on the embedded default market: determinism, causality, the entry rules,
management of the user's book, and each stage alone.

The default market starting in 2010 trades near 700 index points, where the METHOD default
50-point wing is about 7% of spot and rarely earns 10% of its width; the tests use 25-point
wings (a config value) so that condors are built on ordinary days.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import pytest

from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import LookaheadError, MarketHistory, stamp
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.decisions import Action, DayDecision, Layer, OrderIntent
from vixshield.domain.positions import Book, Leg, Structure
from vixshield.engine import (
    CompositeStage,
    CoreCondorStage,
    DayContext,
    ManagementStage,
    NoStage,
    StageOutput,
    apply_orders,
    run_day,
)
from vixshield.errors import InvalidInputError
from vixshield.signals.indicators import compute_indicators
from vixshield.signals.regime import classify
from vixshield.strategy.condor import CondorParams

EQUITY = 1_000_000.0
CONFIG = StrategyConfig(condor=CondorParams(wing_points=25.0))


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    return MarketHistory.from_synthetic(
        synthetic_market(date(2010, 1, 4), date(2013, 6, 28), seed=7)
    )


@pytest.fixture(scope="module")
def regimes(history: MarketHistory) -> pd.DataFrame:
    ind = compute_indicators(history, CONFIG.indicators)
    return ind.join(classify(ind, CONFIG.regime)[["regime"]])


def _run(history: MarketHistory, day: date, **kw: object) -> DayDecision:
    return run_day(
        history, day, clock=FixedClock(stamp(day)), config=CONFIG, equity_usd=EQUITY, **kw
    )  # type: ignore[arg-type]


def _text(decision: DayDecision) -> str:
    return json.dumps(decision.to_json(), sort_keys=True, allow_nan=False)


@pytest.fixture(scope="module")
def opening(history: MarketHistory) -> tuple[date, DayDecision]:
    """The first session of 2013 on which a core condor opens, and the core stage's decision."""
    for day in history.sessions:
        if day < date(2013, 1, 2):
            continue
        d = _run(history, day, stages=(CoreCondorStage(),))
        if d.orders:
            return day, d
    raise AssertionError("no core condor opened in 2013")


def test_same_inputs_give_the_same_decision(history: MarketHistory) -> None:
    day = history.sessions[-1]
    first, second = _run(history, day), _run(history, day)
    assert _text(first) == _text(second)
    assert first.config_fingerprint
    assert first.session == day


def test_clock_before_the_data_stamp_is_refused(history: MarketHistory) -> None:
    day = history.sessions[-1]
    early = FixedClock(stamp(day) - timedelta(minutes=1))
    with pytest.raises(LookaheadError, match="cannot read it yet"):
        run_day(history, day, clock=early, config=CONFIG, equity_usd=EQUITY)


def test_decision_does_not_depend_on_later_data(history: MarketHistory) -> None:
    day = history.sessions[-200]
    later = _run(history, day)
    cut = _run(history.upto(day), day)
    assert _text(later) == _text(cut)
    # A backtest's precomputed frames over the whole history give the same decision.
    ind = compute_indicators(history, CONFIG.indicators)
    cached = _run(history, day, indicators=ind, regimes=classify(ind, CONFIG.regime))
    assert _text(cached) == _text(cut)


def test_no_new_condor_in_crisis(history: MarketHistory, regimes: pd.DataFrame) -> None:
    late = regimes.loc["2012-01-01":]
    day = late.index[late["regime"] == "crisis"][0].date()
    d = _run(history, day)
    assert d.regime == "crisis"
    assert not [o for o in d.orders if o.action is Action.OPEN and o.layer is Layer.CORE]
    core = [r for r in d.refusals if r.layer is Layer.CORE]
    assert core
    assert core[0].reasons[0] == "no new entry in the crisis regime (METHOD 5)"


def test_no_new_condor_on_an_fomc_decision_day(
    history: MarketHistory, regimes: pd.DataFrame
) -> None:
    late = regimes.loc["2012-01-01":]
    days = late.index[(late["days_to_fomc"] == 0) & (late["regime"] != "crisis")]
    day = days[0].date()
    d = _run(history, day)
    assert not [o for o in d.orders if o.layer is Layer.CORE]
    reasons = [r.reasons for r in d.refusals if r.layer is Layer.CORE]
    assert reasons == [("no new entry on the day of an FOMC decision (METHOD 5)",)]


def test_a_condor_opens_sized_for_the_regime(
    history: MarketHistory, opening: tuple[date, DayDecision]
) -> None:
    _, d = opening
    (order,) = d.orders
    assert order.action is Action.OPEN
    assert order.layer is Layer.CORE
    assert order.structure is not None
    n = abs(order.structure.legs[0].quantity)
    assert n >= 1
    assert all(abs(leg.quantity) == n for leg in order.structure.legs)
    assert any("contract(s): max loss" in r for r in order.reasons)
    core = d.book["stages"]["core"]
    assert core["contracts"] == n
    assert core["risk_frac"] <= 0.02
    assert 45 <= core["dte"] <= 60
    # The resulting book holds the proposed condor: Greeks, break-evens, scenarios.
    (held,) = d.book["structures"]
    assert held["name"] == order.structure.name
    assert len(held["breakevens_points"]) == 2
    assert d.book["greeks"]["theta_usd_per_day"] > 0
    names = [s["scenario"] for s in d.scenarios]
    for wanted in ("SPX -20%", "SPX -10%", "SPX -5%", "SPX +5%", "SPX +10%", "VIX +10"):
        assert wanted in names
    assert {"VIX +20", "1d on", "7d on"} <= set(names)
    assert any(n.startswith("modelled inputs: ") for n in d.notes)
    assert any(n.startswith("option chain: model chain") for n in d.notes)


def _book_from(order: OrderIntent, fill_scale: float) -> Book:
    """The proposed condor as if filled at ``fill_scale`` times today's mids."""
    assert order.structure is not None
    legs = tuple(Leg(g.contract, g.quantity, g.price * fill_scale) for g in order.structure.legs)
    return Book((Structure("my condor", legs),))


def test_a_position_at_its_profit_target_is_closed(
    history: MarketHistory, opening: tuple[date, DayDecision]
) -> None:
    day, d = opening
    # Filled at 2.2x today's mids: the open P&L is 1.2x today's value = 55% of the credit.
    book = _book_from(d.orders[0], 2.2)
    decided = _run(history, day, book=book)
    closes = [o for o in decided.orders if o.closes == ("my condor",)]
    assert len(closes) == 1
    close = closes[0]
    assert close.action is Action.CLOSE
    assert close.reasons[0].startswith("profit target: open P&L")
    assert close.limit_price is not None
    assert close.limit_price < 0  # a debit to buy it back
    # With the old condor closing, the core stage may open the next one.
    assert not [r for r in decided.refusals if "one core condor at a time" in r.reasons[0]]


def test_a_held_condor_blocks_a_new_one(
    history: MarketHistory, opening: tuple[date, DayDecision]
) -> None:
    day, d = opening
    book = _book_from(d.orders[0], 1.0)  # filled at today's mids: P&L 0, hold
    decided = _run(history, day, book=book)
    holds = [o for o in decided.orders if o.action is Action.HOLD]
    assert [o.closes for o in holds] == [("my condor",)]
    assert holds[0].reasons[0].startswith("no rule fired")
    core = [r for r in decided.refusals if r.layer is Layer.CORE]
    assert "one core condor at a time" in core[0].reasons[0]
    held = [s["name"] for s in decided.book["structures"]]
    assert held[0] == "my condor"
    assert all(n.startswith(("ladder ", "ALVH ")) for n in held[1:])  # rungs and hedges only


def test_do_nothing_stages_leave_the_book_alone(
    history: MarketHistory, opening: tuple[date, DayDecision]
) -> None:
    day, d = opening
    book = _book_from(d.orders[0], 1.0)
    quiet = _run(history, day, book=book, stages=(NoStage("quiet", "nothing to do"),))
    assert quiet.orders == ()
    assert quiet.refusals == ()
    assert "nothing to do" in quiet.notes
    assert [s["name"] for s in quiet.book["structures"]] == ["my condor"]
    assert quiet.scenarios  # the book is still valued
    assert quiet.regime == d.regime


@dataclass(frozen=True, slots=True)
class _Spy:
    """A stage that records how many intents it saw before it."""

    name: str = "spy"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:
        return StageOutput(notes=(f"saw {len(proposed)} intent(s) on {ctx.session}",))


def test_each_stage_sees_the_intents_before_it(
    history: MarketHistory, opening: tuple[date, DayDecision]
) -> None:
    day, _ = opening
    d = _run(history, day, stages=(CompositeStage((CoreCondorStage(), _Spy())), _Spy()))
    assert f"saw 1 intent(s) on {day}" in d.notes
    assert d.notes.count(f"saw 1 intent(s) on {day}") == 2


def test_management_alone_does_not_open(
    history: MarketHistory, opening: tuple[date, DayDecision]
) -> None:
    day, d = opening
    book = _book_from(d.orders[0], 2.2)
    managed = _run(history, day, book=book, stages=(ManagementStage(),))
    assert [o.action for o in managed.orders] == [Action.CLOSE]
    assert managed.book["structures"] == []


def test_apply_orders_closes_resizes_and_opens(
    history: MarketHistory, opening: tuple[date, DayDecision]
) -> None:
    _, d = opening
    order = d.orders[0]
    assert order.structure is not None
    book = _book_from(order, 1.0)
    held = book.structures[0]
    n = abs(held.legs[0].quantity)
    cut = Structure(held.name, tuple(Leg(g.contract, g.quantity // n, g.price) for g in held.legs))
    resized = apply_orders(
        book, [OrderIntent(Action.RESIZE, Layer.RISK, cut, -1.0, ("test",), (held.name,), -1)]
    )
    if n > 1:
        assert abs(resized.structures[0].legs[0].quantity) == n - 1
    else:
        assert resized.structures == ()
    opened = apply_orders(book, [order], opened_on=date(2013, 1, 2))
    assert [s.name for s in opened.structures] == ["my condor", order.structure.name]
    assert opened.opened[order.structure.name] == date(2013, 1, 2)


def test_equity_must_be_positive(history: MarketHistory) -> None:
    day = history.sessions[-1]
    with pytest.raises(InvalidInputError, match="equity_usd"):
        run_day(history, day, clock=FixedClock(stamp(day)), config=CONFIG, equity_usd=0.0)


def test_a_tested_put_side_rolls_the_call_side_closer(
    history: MarketHistory, opening: tuple[date, DayDecision]
) -> None:
    from vixshield.domain.positions import OptionContract, Right
    from vixshield.strategy.condor import price_chain

    day, d = opening
    order = d.orders[0]
    assert order.structure is not None
    expiry = order.structure.legs[0].contract.expiry
    root = order.structure.legs[0].contract.root
    chain = history.spx_chain(day, clock=FixedClock(stamp(day)), rate=0.02, div_yield=0.015)
    priced = price_chain(chain, rate=0.02, roots=(root,), liquidity=CONFIG.condor.liquidity)
    one = priced.loc[(priced["expiry"] == expiry) & priced["liquid"]]
    puts, calls = one.loc[one["right"] == "P"], one.loc[one["right"] == "C"]

    def strike(side: pd.DataFrame, delta: float) -> float:
        return float(side.loc[(side["delta"].abs() - delta).abs().idxmin(), "strike"])

    def mid(side: pd.DataFrame, k: float) -> float:
        return float(side.loc[side["strike"] == k, "mid"].iloc[0])

    def near(side: pd.DataFrame, k: float) -> float:
        return float(side.loc[(side["strike"] - k).abs().idxmin(), "strike"])

    sp, sc = strike(puts, 0.40), strike(calls, 0.03)  # put side tested, call side far out
    lp, lc = near(puts, sp - 25.0), near(calls, sc + 25.0)
    legs = (
        Leg(OptionContract(root, expiry, lp, Right.PUT), 1, mid(puts, lp)),
        Leg(OptionContract(root, expiry, sp, Right.PUT), -1, mid(puts, sp)),
        Leg(OptionContract(root, expiry, sc, Right.CALL), -1, mid(calls, sc)),
        Leg(OptionContract(root, expiry, lc, Right.CALL), 1, mid(calls, lc)),
    )
    book = Book((Structure("tested", legs),))
    decided = _run(history, day, book=book, stages=(ManagementStage(),))
    (roll,) = decided.orders
    assert roll.action is Action.ROLL
    assert roll.closes == ("tested",)
    assert roll.reasons[0].startswith("put side tested: short put |delta| 0.4")
    assert roll.structure is not None
    new_calls = sorted(g.contract.strike for g in roll.structure.legs if g.contract.is_call)
    assert new_calls[0] < sc  # the untested short call moved closer to the money
    assert new_calls[1] - new_calls[0] == pytest.approx(lc - sc, abs=10.0)
    puts_kept = sorted(g.contract.strike for g in roll.structure.legs if not g.contract.is_call)
    assert puts_kept == [lp, sp]
    assert roll.limit_price is not None
    assert roll.limit_price > 0  # rolling the untested side closer collects credit
    (after,) = decided.book["structures"]
    assert after["name"] == "tested"


def test_equity_beta_is_estimated_from_trailing_returns(history: MarketHistory) -> None:
    # A holding whose daily log returns are exactly 1.5x SPX's has a CAPM beta of 1.5; only
    # returns up to the session count (later prices are made wild to prove it).
    import numpy as np

    from vixshield.domain.positions import EquityHolding

    spx = history.daily["spx_close"]
    logs = 1.5 * np.log(spx.to_numpy())
    closes = pd.Series(np.exp(logs - logs[0]) * 100.0, index=spx.index)
    day = history.sessions[-30]
    closes.iloc[-29:] = closes.iloc[-29:] * np.linspace(0.5, 3.0, 29)
    book = Book(equities=(EquityHolding("XYZ", 100, float(closes.loc[pd.Timestamp(day)])),))
    decision = _run(history, day, book=book, equity_closes={"XYZ": closes})
    note = next(n for n in decision.notes if n.startswith("beta of XYZ"))
    assert note.startswith("beta of XYZ 1.500")
