"""The backtest runner on a short synthetic market: the DESIGN invariants and hand checks.

The market is the embedded default one (seed 7) from 2017-01-03, walked from 2018-01-02 to
2018-03-29 with 25-point wings (the default market trades near 700 points; see
``tests/unit/test_engine.py``). In that quarter core condors open, one is stopped out, one is
settled at the SPXW close, and ALVH tranches open and close.

The pinned final equities and trade counts (``PINNED``) are a regression record: changing them
is a deliberate edit, with the reason in the commit message.
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from vixshield.backtest.fills import FillParams
from vixshield.backtest.portfolio import Portfolio, Position, SettlementPrices
from vixshield.backtest.runner import (
    _AM_ROOTS,
    _VIX_OPEN_NOTE,
    BacktestResult,
    _pricer,
    _settle,
    _vix_chain,
    backtest_stages,
    run_backtest,
)
from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.decisions import Action, DayDecision
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.engine import CoreCondorStage, Stage, run_day
from vixshield.strategy.condor import CondorParams

EQUITY = 1_000_000.0
CONFIG = StrategyConfig(condor=CondorParams(wing_points=25.0))
START, END = date(2018, 1, 2), date(2018, 3, 29)
LATER = date(2018, 6, 29)  # the history runs past END: nothing after END may matter

# k -> (final equity USD, closed trades, fill ledger entries); deliberate edits only.
PINNED: dict[float, tuple[float, int, int]] = {
    0.0: (1_000_904.752677469, 11, 24),
    1.0: (1_003_989.4035531115, 11, 23),
}


def _market(end: date) -> MarketHistory:
    return MarketHistory.from_synthetic(synthetic_market(date(2017, 1, 3), end, seed=7))


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    return _market(LATER)


def _run(history: MarketHistory, k: float) -> BacktestResult:
    return run_backtest(
        history,
        start=START,
        end=END,
        config=CONFIG,
        equity_usd=EQUITY,
        fill=FillParams(half_spread_fraction=k),
    )


@pytest.fixture(scope="module")
def at_mid(history: MarketHistory) -> BacktestResult:
    return _run(history, 0.0)


@pytest.fixture(scope="module")
def at_touch(history: MarketHistory) -> BacktestResult:
    return _run(history, 1.0)


def _text(d: DayDecision) -> str:
    return json.dumps(d.to_json(), sort_keys=True, allow_nan=False)


def test_replayed_days_give_the_identical_decision(
    history: MarketHistory, at_mid: BacktestResult
) -> None:
    """Invariant 1: run_day alone, with the recorded book and equity, decides the same."""
    opening = next(
        r for r in at_mid.days if any(o.action is Action.OPEN for o in r.decision.orders)
    )
    holding = next(r for r in at_mid.days if r.book.structures and r.session > opening.session)
    for rec in (opening, holding):
        direct = run_day(
            history.upto(rec.session),  # nothing later exists; indicators computed per day
            rec.session,
            clock=FixedClock(stamp(rec.session)),
            config=CONFIG,
            book=rec.book,
            equity_usd=rec.equity_in_usd,
            stages=backtest_stages(rec.credit_window_usd, rec.spend_window_usd),
        )
        assert _text(direct) == _text(rec.decision)


def _same(a: BacktestResult, b: BacktestResult) -> None:
    pd.testing.assert_series_equal(a.equity, b.equity, check_exact=True)
    assert a.ledger == b.ledger
    assert a.trades == b.trades
    assert a.refusals == b.refusals
    assert [_text(x) for x in a.decisions] == [_text(x) for x in b.decisions]


def test_no_decision_reads_after_its_clock_and_runs_repeat(at_mid: BacktestResult) -> None:
    """Invariants 2 and 3: a history built afresh from the same seed and cut at END (no later
    session exists) gives the identical result as the run over the longer history."""
    short = _market(LATER).upto(END)
    assert short.sessions[-1] == END
    _same(_run(short, 0.0), at_mid)


def test_cash_is_the_ledger_and_equity_is_cash_plus_marks(
    history: MarketHistory, at_mid: BacktestResult
) -> None:
    r = at_mid
    assert r.portfolio.cash_usd == pytest.approx(
        EQUITY + sum(e.cash_usd for e in r.ledger), abs=1e-6
    )
    chain = history.spx_chain(
        END,
        clock=FixedClock(stamp(END)),
        rate=history.snapshot(END, clock=FixedClock(stamp(END))).rate.value,
        div_yield=0.015,  # type: ignore[union-attr]
    )
    mids = {
        (str(row.root), pd.Timestamp(row.expiry).date(), float(row.strike), str(row.right)): 0.5
        * (row.bid + row.ask)
        for row in chain.itertuples()
    }
    spx_value = 0.0
    for p in r.portfolio.positions:
        for g in p.structure.legs:
            c = g.contract
            if c.root in ("SPX", "SPXW"):
                spx_value += g.quantity * mids[(c.root, c.expiry, c.strike, c.right.value)] * 100
    assert r.equity.index[-1] == pd.Timestamp(END)
    # SPX legs marked at the chain mids by hand; VIX legs on the runner's model VIX chain.
    snap = history.snapshot(END, clock=FixedClock(stamp(END)))
    vix_chain = _vix_chain(snap, snap.rate.value)  # type: ignore[union-attr]
    vix_marks = r.portfolio.mark([] if vix_chain is None else [vix_chain], pricer=_pricer(snap))
    vix_value = sum(m.value_usd for m in vix_marks.legs if m.contract.root == "VIX")
    assert r.equity.iloc[-1] == pytest.approx(r.portfolio.cash_usd + spx_value + vix_value)


def test_a_condor_settles_at_the_spxw_close_by_hand(
    history: MarketHistory, at_mid: BacktestResult
) -> None:
    settles = [e for e in at_mid.ledger if e.kind == "settle" and "iron condor" in e.structure]
    assert settles, "no condor settled in the quarter"
    opened = {e.structure for e in at_mid.ledger if e.kind == "open"}
    for e in settles:
        assert e.structure in opened
        close = float(history.daily.loc[pd.Timestamp(e.session), "spx_close"])
        expected = 0.0
        held = next(
            r.book for r in at_mid.days if r.session == e.session
        ).structures  # the book that morning
        legs = next(s for s in held if s.name == e.structure).legs
        for g in legs:
            k = g.contract.strike
            intrinsic = max(0.0, close - k if g.contract.right is Right.CALL else k - close)
            expected += intrinsic * g.quantity * 100
        assert e.cash_usd == pytest.approx(expected)
        assert f"settled at close {e.session.isoformat()} = {close:.2f}" in e.reason


def test_paying_the_spread_costs_money(history: MarketHistory) -> None:
    """With the same trades, filling at the touch ends poorer than at the mid.

    Only the core stage runs (condors held to expiry), so both runs make the same trades; with
    the full pipeline the paths differ (marks feed the stops and the sizing), and k = 1 may
    end higher by chance (it does on this quarter).
    """

    def core(credit: float, spend: float) -> tuple[Stage, ...]:
        return (CoreCondorStage(),)

    mid, touch = (
        run_backtest(
            history, start=START, end=END, config=CONFIG, equity_usd=EQUITY,
            fill=FillParams(half_spread_fraction=k), stages=core,
        )
        for k in (0.0, 1.0)
    )  # fmt: skip
    assert mid.fills > 0
    assert [e.legs and [g[:2] for g in e.legs] for e in mid.ledger if e.kind == "open"] == [
        e.legs and [g[:2] for g in e.legs] for e in touch.ledger if e.kind == "open"
    ]
    assert mid.equity.iloc[-1] > touch.equity.iloc[-1]


def test_pinned_small_runs(at_mid: BacktestResult, at_touch: BacktestResult) -> None:
    """Regression record: a change here is deliberate (say why in the commit)."""
    for k, r in ((0.0, at_mid), (1.0, at_touch)):
        equity, trades, fills = PINNED[k]
        assert r.equity.iloc[-1] == pytest.approx(equity, rel=1e-9)
        assert len(r.trades) == trades
        assert r.fills == fills
        assert r.metrics.cagr == r.metrics.cagr  # defined (not NaN) on a quarter's curve


def test_am_settlement_leaves_spxw_for_the_close_and_names_the_vix_proxy() -> None:
    """VIX settles in the morning at the VIX open proxy (noted); SPXW waits for the close."""
    day = date(2018, 3, 21)
    vix = Structure(
        "ALVH short tranche 1", (Leg(OptionContract("VIX", day, 20.0, Right.CALL), 2, 1.5),)
    )
    spxw = Structure("SPXW put", (Leg(OptionContract("SPXW", day, 700.0, Right.PUT), -1, 3.0),))
    pf = Portfolio(10_000.0, (Position(spxw, date(2018, 3, 1)), Position(vix, date(2018, 3, 1))))
    morning = _settle(
        pf, SettlementPrices(day, spx_open=690.0, vix_open=23.0), _AM_ROOTS, _VIX_OPEN_NOTE
    )
    assert [p.name for p in morning.positions] == ["SPXW put"]
    (entry,) = morning.ledger
    assert entry.cash_usd == pytest.approx((23.0 - 20.0) * 2 * 100)
    assert "settled at VRO proxy (VIX open) 2018-03-21 = 23.00" in entry.reason
    assert _VIX_OPEN_NOTE in entry.reason
    evening = _settle(morning, SettlementPrices(day, spx_close=695.0), frozenset({"SPXW"}), None)
    assert evening.positions == ()
    assert evening.ledger[-1].cash_usd == pytest.approx(-(700.0 - 695.0) * 100)
    assert evening.cash_usd == pytest.approx(10_000.0 + 600.0 - 500.0)
