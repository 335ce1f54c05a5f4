"""The backtest runner on a short synthetic market: the DESIGN invariants and hand checks.

The market is the embedded default one (seed 7) from 2017-01-03, walked from 2018-01-02 to
2018-03-29 with 25-point wings (the default market trades near 700 points; see
``tests/unit/test_engine.py``). In that quarter core condors open, one is stopped out, one is
settled at the SPXW close, and ALVH tranches open and close.

The pinned final equities and trade counts (``PINNED``) are a regression record: changing them
is a deliberate edit, with the reason in the commit message.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, replace
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
from vixshield.domain.decisions import Action, DayDecision, OrderIntent
from vixshield.domain.market import MarketSnapshot
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.engine import CoreCondorStage, DayContext, NoStage, Stage, StageOutput, run_day
from vixshield.signals.regime import Regime
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
            book_views=False,  # the backtest leaves the marks and payoff views out
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


# -- the index sleeve -------------------------------------------------------------------------


class _AllIn:
    """All equity into index units on the first session; never traded again."""

    def target_units(
        self,
        session: date,
        snapshot: MarketSnapshot,
        equity_usd: float,
        units_held: float,
        portfolio: Portfolio,
    ) -> float | None:
        return equity_usd / snapshot.spx.close if units_held == 0 else None


def _no_options(credit: float, spend: float) -> tuple[Stage, ...]:
    return (NoStage(),)


def test_index_sleeve_equity_is_units_times_close_plus_dividends_by_hand(
    history: MarketHistory,
) -> None:
    """Buy-and-hold through the sleeve, walked by hand: interest on the cash (ACT/360 at the
    previous session's rate), dividends on the units (ACT/365 at the previous close)."""
    end = date(2018, 1, 10)
    r = run_backtest(
        history, start=START, end=end, config=CONFIG, equity_usd=EQUITY, stages=_no_options,
        sleeve=_AllIn(), index_cost_bps=2.0, div_yield=0.02,
    )  # fmt: skip
    closes = history.daily["spx_close"]
    sessions = [d for d in history.sessions if START <= d <= end]
    s0 = float(closes[pd.Timestamp(START)])
    units = EQUITY / s0
    cash = EQUITY - units * s0 - 2e-4 * units * s0  # the 2 bp cost is paid in cash
    expected = [cash + units * s0]
    for prev, day in itertools.pairwise(sessions):
        snap = history.snapshot(prev, clock=FixedClock(stamp(prev)))
        rate = snap.rate.value  # type: ignore[union-attr]
        days = (day - prev).days
        cash += cash * rate * days / 360  # interest first, on the cash before the dividend
        cash += units * float(closes[pd.Timestamp(prev)]) * 0.02 * days / 365
        expected.append(cash + units * float(closes[pd.Timestamp(day)]))
    assert r.equity.to_numpy() == pytest.approx(expected, rel=1e-12)
    assert r.portfolio.index_units == pytest.approx(units)
    kinds = [e.kind for e in r.ledger]
    assert kinds.count("index") == 1
    assert kinds.count("dividend") == len(sessions) - 1
    assert r.fills == 0  # index trades are not option fills
    assert r.ledger[0].fees_usd == pytest.approx(2e-4 * EQUITY)
    assert r.portfolio.cash_usd == pytest.approx(EQUITY + sum(e.cash_usd for e in r.ledger))
    assert r.days[-1].index_units == pytest.approx(units)
    assert r.days[-1].cash_usd == pytest.approx(r.portfolio.cash_usd)


# -- margin -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Oversized:
    """The core condor stage with every order's quantities multiplied by ``factor``."""

    factor: int = 60
    name: str = "core"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:
        out = CoreCondorStage().decide(ctx, proposed)
        orders = tuple(
            replace(
                o,
                structure=Structure(
                    o.structure.name,
                    tuple(
                        Leg(g.contract, g.quantity * self.factor, g.price) for g in o.structure.legs
                    ),
                ),
            )
            if o.structure is not None
            else o
            for o in out.orders
        )
        return StageOutput(orders, out.refusals, out.notes, out.report)


def _oversized(credit: float, spend: float) -> tuple[Stage, ...]:
    return (_Oversized(),)


def _small_run(history: MarketHistory, *, enforce: bool) -> BacktestResult:
    return run_backtest(
        history, start=START, end=date(2018, 1, 4), config=CONFIG, equity_usd=EQUITY,
        fill=FillParams(half_spread_fraction=0.0), stages=_oversized, enforce_margin=enforce,
    )  # fmt: skip


def test_first_day_margin_is_the_condor_requirement_by_hand(at_mid: BacktestResult) -> None:
    """Cboe strategy-based: max(wing widths) x 100 x contracts - credit at the fill prices."""
    day1 = at_mid.daily.iloc[0]
    (entry,) = [e for e in at_mid.ledger if e.session == START]
    strikes = sorted(float(g.label.split()[-1][:-1]) for g in entry.legs)  # 740P 765P 860C 875C
    contracts = abs(entry.legs[0].quantity)
    width = max(strikes[1] - strikes[0], strikes[3] - strikes[2])
    credit = entry.cash_usd + entry.fees_usd  # premium before fees
    assert (width, contracts) == (25.0, 8)
    assert credit == pytest.approx(2060.0)  # 8 x (2.575 + 1.65 - 1.225 - 0.425) x 100
    assert day1["margin_usd"] == pytest.approx(25 * 100 * 8 - 2060.0)  # 17,940
    assert not day1["margin_call"]
    # the next day adds two long VIX hedges, paid in full: their premiums
    day2 = at_mid.daily.iloc[1]
    paid = -sum(
        e.cash_usd + e.fees_usd
        for e in at_mid.ledger
        if e.kind == "open" and e.session == date(2018, 1, 3)
    )
    assert day2["margin_usd"] == pytest.approx(17_940.0 + paid)
    assert at_mid.margin_calls == ()


def test_an_open_beyond_equity_is_refused_for_margin(history: MarketHistory) -> None:
    r = _small_run(history, enforce=True)
    assert [e for e in r.ledger if e.kind == "open"] == []
    assert [d for d, _ in r.refusals] == [
        d for d in history.sessions if START <= d <= date(2018, 1, 4)
    ]
    _, refusal = r.refusals[0]
    s = refusal.intent.structure
    assert s is not None
    # 480 condors of 25-point wings, filled at the mids (k = 0) for the intent's credit
    units = abs(s.legs[0].quantity)
    credit = sum(-g.quantity * g.price * 100 for g in s.legs)
    required = 25 * 100 * units - credit
    assert units == 480
    assert required > EQUITY
    assert refusal.reasons[0].startswith(
        f"margin: the requirement after this open, {required:,.2f} USD"
    )
    assert r.daily["margin_usd"].eq(0.0).all()
    assert r.daily["refused_fills"].tolist() == [1, 1, 1]
    assert r.equity.iloc[-1] > EQUITY  # cash only, earning interest


def test_a_margin_call_is_recorded_when_not_enforced(history: MarketHistory) -> None:
    r = _small_run(history, enforce=False)
    (entry,) = [e for e in r.ledger if e.kind == "open"]
    required = 25 * 100 * 480 - (entry.cash_usd + entry.fees_usd)
    days = r.daily
    assert days["margin_usd"].iloc[0] == pytest.approx(required)
    assert days["margin_call"].tolist() == [True, True, True]
    assert [d for d, _ in r.margin_calls] == [d.date() for d in days.index]
    assert r.margin_calls[0][1].startswith(
        f"margin call: requirement {required:,.2f} USD exceeds equity {r.equity.iloc[0]:,.2f} USD"
    )


# -- stored series ----------------------------------------------------------------------------


def test_daily_series_agrees_with_the_records(at_mid: BacktestResult) -> None:
    d = at_mid.daily
    for col in (
        "equity_usd", "cash_usd", "index_units", "option_value_usd", "margin_usd", "margin_call",
        "regime", "regime_level", "hedge_score", "delta_usd_per_pct", "gamma_usd_per_pct_sq",
        "vega_usd_per_volpt", "theta_usd_per_day", "marks_modelled",
    ):  # fmt: skip
        assert col in d.columns
    assert isinstance(d.index, pd.DatetimeIndex)
    pd.testing.assert_series_equal(d["equity_usd"], at_mid.equity, check_names=False)
    assert (d["equity_usd"] - d["cash_usd"] - d["option_value_usd"]).abs().max() < 1e-6
    assert d["cash_usd"].iloc[-1] == pytest.approx(at_mid.portfolio.cash_usd, abs=1e-9)
    assert d["index_units"].eq(0.0).all()
    for rec, (_, row) in zip(at_mid.days, d.iterrows(), strict=True):
        book = rec.decision.book
        assert row["hedge_score"] == book["stages"]["hedge"]["score"]
        assert row["delta_usd_per_pct"] == pytest.approx(book["greeks"]["delta_usd_per_pct"])
        assert row["theta_usd_per_day"] == pytest.approx(book["greeks"]["theta_usd_per_day"])
        assert row["regime"] == rec.decision.regime
        assert row["regime_level"] == int(Regime[str(rec.decision.regime).upper()])
    assert set(d["hedge_score"]) <= {0.0, 1.0, 2.0, 3.0, 4.0}


def test_hedge_events_match_the_ledger(at_mid: BacktestResult) -> None:
    ev = at_mid.hedge_events
    vix = [e for e in at_mid.ledger if any(g.label.startswith("VIX ") for g in e.legs)]
    assert len(ev) == len(vix) > 0
    assert ev["structure"].tolist() == [e.structure for e in vix]
    assert ev["premium_usd"].tolist() == pytest.approx([e.cash_usd + e.fees_usd for e in vix])
    assert ev["realised_pnl_usd"].sum() == pytest.approx(sum(e.realised_pnl_usd for e in vix))
    assert set(ev["layer"]) <= {"short", "medium", "long"}
    assert all(n.split()[1] == lay for n, lay in zip(ev["structure"], ev["layer"], strict=True))
    opens = ev.loc[ev["kind"] == "open"]
    assert (opens["premium_usd"] < 0).all()  # hedges are bought
    assert set(ev["action"]) <= {"open", "close", "roll", "resize", "settle"}


def test_ledger_frame_has_a_row_per_leg_and_adds_up(at_mid: BacktestResult) -> None:
    f = at_mid.ledger_frame()
    assert len(f) == sum(max(1, len(e.legs)) for e in at_mid.ledger)
    assert f["cash_usd"].sum() == pytest.approx(sum(e.cash_usd for e in at_mid.ledger))
    assert f["realised_pnl_usd"].sum() == pytest.approx(
        sum(e.realised_pnl_usd for e in at_mid.ledger)
    )
    fills = f.loc[f["kind"].isin(["open", "close", "resize", "roll"])]
    assert (fills["price"] == fills["mid"]).all()  # k = 0: every leg at its mid
    first = f.iloc[0]
    assert (first["leg"], first["quantity"], first["price"]) == ("SPX 2018-02-16 740P", 8.0, 1.225)
    assert first["cash_usd"] == pytest.approx(-8 * 1.225 * 100 - first["fees_usd"])


def test_a_data_gap_day_holds_the_book_at_its_last_mids(
    history: MarketHistory, at_mid: BacktestResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session the engine cannot decide on (a DataError, e.g. no VIX close) is recorded as a
    gap: no orders, no fills, open legs marked at their last mid and flagged; the walk goes on.
    """
    import vixshield.backtest.runner as runner_mod
    from vixshield.errors import DataError

    day = at_mid.days[10].session
    real_run_day = runner_mod.run_day

    def gappy(history: MarketHistory, session: date, **kw: object) -> DayDecision:
        if session == day:
            raise DataError(f"{session}: no stored option chain and no VIX close")
        return real_run_day(history, session, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(runner_mod, "run_day", gappy)
    got = _run(history, 0.0)
    assert [d for d, _ in got.data_gaps] == [day]
    assert "no VIX close" in got.data_gaps[0][1]
    rec = next(r for r in got.days if r.session == day)
    assert rec.decision.orders == ()
    assert rec.decision.regime is None
    assert rec.marks_modelled or not rec.book.structures
    assert not any(e.session == day and e.kind in ("open", "close", "roll", "resize")
                   for e in got.ledger)  # fmt: skip
    # The day before is untouched, and the gap day's option value is the previous mids'.
    before = next(i for i, r in enumerate(got.days) if r.session == day) - 1
    assert got.days[before].equity_usd == at_mid.days[before].equity_usd
    prev = got.days[before]
    assert rec.option_value_usd == pytest.approx(prev.option_value_usd, rel=0, abs=1e-6) or (
        any(e.session == day and e.kind == "settle" for e in got.ledger)
    )
    assert len(got.days) == len(at_mid.days)


def test_a_look_ahead_is_never_treated_as_a_gap(
    history: MarketHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vixshield.backtest.runner as runner_mod
    from vixshield.data.market import LookaheadError

    def peeking(history: MarketHistory, session: date, **kw: object) -> DayDecision:
        raise LookaheadError(f"{session}: data stamped after the clock")

    monkeypatch.setattr(runner_mod, "run_day", peeking)
    with pytest.raises(LookaheadError):
        _run(history, 0.0)
