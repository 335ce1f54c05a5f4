"""The Cboe benchmark rules: strike rules and sizing by hand, one roll cycle, the comparison.

Strike selection and sizing are checked on small handmade chains, the VXTH weight table at
its boundaries, the comparison statistics against hand computations on a handmade frame, and
one roll cycle of each SPX rule on the embedded default market (seed 7, trading near 700
points) from 2018-01-02: the January roll (2018-01-19) opens, the February roll (2018-02-16)
settles at the SOQ proxy (that morning's open) and opens again.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vixshield.backtest import cboe
from vixshield.backtest.portfolio import LedgerEntry
from vixshield.backtest.runner import BacktestResult
from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.decisions import Action, OrderIntent
from vixshield.domain.positions import Right
from vixshield.engine import DayContext, StageOutput, run_day
from vixshield.errors import DataError, InvalidInputError

START, END = date(2018, 1, 2), date(2018, 2, 28)
JAN_ROLL, FEB_ROLL = date(2018, 1, 19), date(2018, 2, 16)
MAR_EXPIRY = date(2018, 3, 16)
EXPIRY = date(2018, 2, 16)
T = 28 / 365


def _ncdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _delta(f: float, k: float, t: float, vol: float, *, call: bool) -> float:
    d1 = (math.log(f / k) + 0.5 * vol * vol * t) / (vol * math.sqrt(t))
    return _ncdf(d1) if call else _ncdf(d1) - 1.0


# --------------------------------------------------------------------------------------------
# Calendar


def test_roll_dates_are_monthly_spx_and_vix_expiries() -> None:
    assert cboe.is_spx_roll(date(2018, 1, 19))
    assert not cboe.is_spx_roll(date(2018, 1, 18))
    assert cboe.is_spx_roll(date(2014, 4, 17))  # Good Friday 2014-04-18: the day before
    assert cboe.next_spx_monthly(date(2018, 1, 19)) == date(2018, 2, 16)
    assert cboe.next_spx_monthly(date(2018, 1, 18)) == date(2018, 1, 19)
    assert cboe.is_vix_roll(date(2018, 2, 14))
    assert not cboe.is_vix_roll(date(2018, 2, 16))
    assert cboe.next_vix_expiry(date(2018, 2, 14)) == date(2018, 3, 21)


# --------------------------------------------------------------------------------------------
# Strike rules on handmade chains


def _side(strikes: np.ndarray, vol: float | np.ndarray, mid: float = 1.0) -> cboe.SideQuotes:
    n = strikes.size
    return cboe.SideQuotes(
        strikes.astype(float), np.full(n, mid), np.broadcast_to(vol, (n,)).astype(float)
    )


def test_nearest_delta_by_hand_and_the_tie_goes_out_of_the_money() -> None:
    strikes = np.array([700.0, 705, 710, 715, 720, 725])
    calls = np.array([0.40, 0.26, 0.21, 0.18, 0.07, 0.049])
    assert cboe.nearest_delta_strike(strikes, calls, 0.20) == 710.0  # |0.21-0.20| < |0.18-0.20|
    assert cboe.nearest_delta_strike(strikes, calls, 0.05) == 725.0  # 0.049 beats 0.07
    tie = np.array([0.40, 0.30, 0.22, 0.18, 0.10, 0.05])
    assert cboe.nearest_delta_strike(strikes, tie, 0.20) == 715.0  # 0.22 vs 0.18: further OTM
    puts = np.array([-0.05, -0.18, -0.22, -0.40, -0.50, -0.60])
    assert cboe.nearest_delta_strike(strikes, puts, -0.20) == 705.0  # tie: -0.18 is further OTM
    with pytest.raises(InvalidInputError, match="no strike has a delta"):
        cboe.nearest_delta_strike(strikes, np.full(6, np.nan), 0.2)


def test_cndr_picks_the_strikes_nearest_20_and_5_delta_by_hand() -> None:
    f, vol = 700.0, 0.16
    strikes = np.arange(550.0, 801.0, 5.0)
    q = cboe.ExpiryQuotes("SPX", EXPIRY, f, T, _side(strikes, vol), _side(strikes, vol))
    call_d = {k: _delta(f, k, T, vol, call=True) for k in strikes}
    put_d = {k: _delta(f, k, T, vol, call=False) for k in strikes}
    k = cboe.cndr_strikes(q)
    assert k.call_short == min(strikes, key=lambda s: abs(call_d[s] - 0.20))
    assert k.call_long == min(strikes, key=lambda s: abs(call_d[s] - 0.05))
    assert k.put_short == min(strikes, key=lambda s: abs(put_d[s] + 0.20))
    assert k.put_long == min(strikes, key=lambda s: abs(put_d[s] + 0.05))
    # flat 16% vol, 28 days (sd 0.0443): |delta| 0.20 at K = F exp(-/+0.8416 sd + sd^2/2),
    # i.e. 727.3 (call) and 675.0 (put); 0.05 at 1.6449 sd: 754.9 and 651.4
    assert (k.put_long, k.put_short, k.call_short, k.call_long) == (650.0, 675.0, 725.0, 755.0)
    assert k.max_width == 30.0
    # the forward delta: N(d1), not discounted
    np.testing.assert_allclose(q.call_deltas(), [call_d[s] for s in strikes], rtol=1e-12)


def test_cndr_fills_missing_vols_across_strikes_and_pushes_a_wing_outward() -> None:
    f = 700.0
    strikes = np.arange(600.0, 801.0, 5.0)
    iv = np.full(strikes.size, 0.16)
    iv[strikes >= 755] = np.nan  # no bid up there: no solved vol
    q = cboe.ExpiryQuotes(
        "SPX", EXPIRY, f, T, cboe.SideQuotes(strikes, np.ones(strikes.size), iv),
        _side(strikes, 0.16),
    )  # fmt: skip
    # the 755+ calls take the 750 vol (flat beyond the last solved strike): same as flat 16%
    assert cboe.cndr_strikes(q).call_long == 755.0
    coarse = np.array([600.0, 650.0, 700.0, 750.0, 800.0])
    q2 = cboe.ExpiryQuotes("SPX", EXPIRY, f, T, _side(coarse, 0.16), _side(coarse, 0.16))
    k = cboe.cndr_strikes(q2)
    # both the 20 and the 5 delta call are nearest 750: the wing moves one strike out
    assert (k.call_short, k.call_long) == (750.0, 800.0)
    assert (k.put_long, k.put_short) == (600.0, 650.0)


def test_bfly_put_and_bxm_strike_rules_by_hand() -> None:
    strikes = np.arange(600.0, 801.0, 5.0)
    k = cboe.bfly_strikes(strikes, strikes, 702.3)
    # body: first strike above 702.3; wings: first above 737.415, first below 667.185
    assert (k.put_long, k.put_short, k.call_short, k.call_long) == (665.0, 705.0, 705.0, 740.0)
    assert k.max_width == 40.0  # the put wing is wider
    k = cboe.bfly_strikes(strikes, strikes, 700.0)
    assert k.put_short == 705.0  # strictly above: a spot on a strike moves up
    assert k.call_long == 740.0  # above 735 exactly
    assert k.put_long == 660.0  # below 665 exactly
    # the body needs both rights quoted
    k = cboe.bfly_strikes(strikes, strikes[strikes != 705.0], 702.3)
    assert k.call_short == 710.0
    with pytest.raises(InvalidInputError, match="105%"):
        cboe.bfly_strikes(np.array([700.0, 705.0]), np.array([700.0, 705.0]), 702.3)
    assert cboe.put_strike(strikes, 702.3) == 700.0
    assert cboe.put_strike(strikes, 700.0) == 700.0  # at
    assert cboe.bxm_strike(strikes, 702.3) == 705.0
    assert cboe.bxm_strike(strikes, 700.0) == 700.0  # at or above
    with pytest.raises(InvalidInputError):
        cboe.put_strike(strikes, 599.0)
    with pytest.raises(InvalidInputError):
        cboe.bxm_strike(strikes, 801.0)


def test_strike_records_check_their_order() -> None:
    with pytest.raises(InvalidInputError, match="put_long < put_short"):
        cboe.CondorStrikes(650.0, 640.0, 700.0, 750.0)
    with pytest.raises(InvalidInputError, match="strictly increasing"):
        cboe.SideQuotes(np.array([2.0, 1.0]), np.ones(2), np.ones(2))


# --------------------------------------------------------------------------------------------
# Sizing and the weight table


def test_whole_contracts_round_half_up() -> None:
    assert cboe.whole_contracts(4761.49) == 4761
    assert cboe.whole_contracts(4761.5) == 4762
    assert cboe.whole_contracts(0.4) == 0
    with pytest.raises(InvalidInputError):
        cboe.whole_contracts(-1.0)
    with pytest.raises(InvalidInputError):
        cboe.whole_contracts(math.nan)


@pytest.mark.parametrize(
    ("forward", "weight"),
    [
        (10.0, 0.0),
        (15.0, 0.0),
        (15.0001, 0.01),
        (22.0, 0.01),
        (30.0, 0.01),
        (30.0001, 0.005),
        (50.0, 0.005),
        (50.0001, 0.0),
        (80.0, 0.0),
    ],
)
def test_vxth_weight_table_boundaries(forward: float, weight: float) -> None:
    assert cboe.vxth_weight(forward) == weight


def test_vxth_weight_needs_a_number() -> None:
    with pytest.raises(InvalidInputError):
        cboe.vxth_weight(math.nan)


# --------------------------------------------------------------------------------------------
# The stages on a roll day with a handmade chain


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    return MarketHistory.from_synthetic(
        synthetic_market(date(2017, 1, 3), date(2018, 6, 29), seed=7)
    )


@dataclass
class _Spy:
    """A stage that keeps the day's context (to replay stages on handmade chains)."""

    name: str = "spy"
    ctx: DayContext | None = None

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:
        self.ctx = ctx
        return StageOutput()


@pytest.fixture(scope="module")
def roll_ctx(history: MarketHistory) -> DayContext:
    spy = _Spy()
    run_day(
        history, JAN_ROLL, clock=FixedClock(stamp(JAN_ROLL)), config=StrategyConfig(),
        equity_usd=1e9, stages=(spy,),
    )  # fmt: skip
    assert spy.ctx is not None
    return spy.ctx


def _priced(spot: float, strikes: np.ndarray, mids: dict[tuple[float, str], float]) -> pd.DataFrame:
    """A priced chain of one expiry (flat 16% vol, forward = spot) with the given mids."""
    rows = []
    for k in strikes:
        for right in ("C", "P"):
            rows.append(
                {
                    "root": "SPX", "expiry": EXPIRY, "strike": float(k), "right": right,
                    "mid": mids.get((float(k), right), 1.0), "iv": 0.16, "forward": spot,
                    "t_years": T,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def _with(ctx: DayContext, spot: float, priced: pd.DataFrame, equity: float) -> DayContext:
    snap = dataclasses.replace(ctx.snapshot, spx=dataclasses.replace(ctx.snapshot.spx, close=spot))
    return dataclasses.replace(ctx, snapshot=snap, priced=priced, equity_usd=equity)


def _only_order(out: StageOutput) -> OrderIntent:
    assert out.refusals == ()
    assert len(out.orders) == 1
    o = out.orders[0]
    assert o.action is Action.OPEN
    assert o.structure is not None
    return o


def test_cndr_sizing_by_hand(roll_ctx: DayContext) -> None:
    strikes = np.arange(550.0, 801.0, 5.0)
    mids = {(650.0, "P"): 0.40, (675.0, "P"): 2.10, (725.0, "C"): 1.90, (755.0, "C"): 0.30}
    ctx = _with(roll_ctx, 700.0, _priced(700.0, strikes, mids), 1e9)
    o = _only_order(cboe.CondorIndexStage().decide(ctx, ()))
    credit = 2.10 + 1.90 - 0.40 - 0.30  # 3.30
    # strikes 650/675P 725/755C (the flat-vol test above); wider wing 30 points;
    # account per condor 10 x 30 - 3.30 = 296.70 points; 1e9 / 29,670 = 33,704.08
    n = round(1e9 / (100 * (10 * 30 - credit)))
    assert n == 33704
    legs = {(g.contract.strike, g.contract.right): g for g in o.structure.legs}  # type: ignore[union-attr]
    assert {k: g.quantity for k, g in legs.items()} == {
        (650.0, Right.PUT): n, (675.0, Right.PUT): -n, (725.0, Right.CALL): -n,
        (755.0, Right.CALL): n,
    }  # fmt: skip
    assert all(g.contract.root == "SPX" and g.contract.expiry == EXPIRY for g in legs.values())
    assert legs[(675.0, Right.PUT)].price == 2.10
    assert o.limit_price == pytest.approx(credit)
    outside = _only_order(cboe.CondorIndexStage(premium_in_account=False).decide(ctx, ()))
    assert outside.structure.legs[0].quantity == round(1e9 / (100 * 300))  # type: ignore[union-attr]


def test_bfly_put_and_bxm_sizing_by_hand(roll_ctx: DayContext) -> None:
    strikes = np.arange(550.0, 801.0, 5.0)
    mids = {
        (705.0, "C"): 12.0, (705.0, "P"): 15.5, (740.0, "C"): 1.2, (665.0, "P"): 2.3,
        (700.0, "P"): 13.0,
    }  # fmt: skip
    ctx = _with(roll_ctx, 702.3, _priced(702.3, strikes, mids), 1e9)
    o = _only_order(cboe.ButterflyIndexStage().decide(ctx, ()))
    credit = 12.0 + 15.5 - 1.2 - 2.3  # 24.0
    n = round(1e9 / (100 * (10 * 40 - credit)))  # wider wing 705 - 665 = 40
    legs = o.structure.legs  # type: ignore[union-attr]
    assert sorted((g.contract.strike, g.contract.right.value, g.quantity) for g in legs) == [
        (665.0, "P", n), (705.0, "C", -n), (705.0, "P", -n), (740.0, "C", n),
    ]  # fmt: skip
    assert n == 26596

    p = _only_order(cboe.PutWriteStage().decide(ctx, ()))
    (leg,) = p.structure.legs  # type: ignore[union-attr]
    assert (leg.contract.strike, leg.contract.right, leg.price) == (700.0, Right.PUT, 13.0)
    assert leg.quantity == -round(1e9 / (100 * (700.0 - 13.0))) == -14556
    p2 = _only_order(cboe.PutWriteStage(premium_in_collateral=False).decide(ctx, ()))
    assert p2.structure.legs[0].quantity == -round(1e9 / (100 * 700.0)) == -14286  # type: ignore[union-attr]

    b = _only_order(cboe.BuyWriteStage().decide(ctx, ()))
    (leg,) = b.structure.legs  # type: ignore[union-attr]
    assert (leg.contract.strike, leg.contract.right, leg.price) == (705.0, Right.CALL, 12.0)
    assert leg.quantity == -round(1e9 / (100 * (702.3 - 12.0))) == -14486  # 14,486.46


def test_stages_do_nothing_off_the_roll_and_refuse_without_the_expiry(
    roll_ctx: DayContext,
) -> None:
    off = dataclasses.replace(roll_ctx, session=date(2018, 1, 18))
    for stage in (cboe.CondorIndexStage(), cboe.PutWriteStage(), cboe.TailHedgeStage()):
        assert stage.decide(off, ()) == StageOutput()
    empty = roll_ctx.priced.iloc[:0]
    out = cboe.PutWriteStage().decide(dataclasses.replace(roll_ctx, priced=empty), ())
    assert out.orders == ()
    assert "no SPX 2018-02-16 quotes" in out.refusals[0].reasons[0]
    with pytest.raises(InvalidInputError, match="unknown benchmark"):
        cboe.benchmark_stage("CLL")


# --------------------------------------------------------------------------------------------
# One roll cycle on the default market


@pytest.fixture(scope="module")
def runs(history: MarketHistory) -> dict[str, BacktestResult]:
    return {
        n: cboe.run_benchmark(n, history, start=START, end=END)
        for n in ("PUT", "CNDR", "BFLY", "BXM")
    }


def test_each_rule_opens_on_the_rolls_and_settles_at_the_soq_proxy_by_hand(
    history: MarketHistory, runs: dict[str, BacktestResult]
) -> None:
    soq = float(history.daily.loc[pd.Timestamp(FEB_ROLL), "spx_open"])
    for name, r in runs.items():
        opens = [e for e in r.ledger if e.kind == "open"]
        assert [e.session for e in opens] == [JAN_ROLL, FEB_ROLL], name
        assert opens[0].structure == f"{name} {FEB_ROLL.isoformat()}"
        assert opens[1].structure == f"{name} {MAR_EXPIRY.isoformat()}"
        (settle,) = [e for e in r.ledger if e.kind == "settle"]
        assert settle.session == FEB_ROLL
        assert f"settled at SOQ proxy (open) {FEB_ROLL.isoformat()} = {soq:.2f}" in settle.reason
        # by hand: every leg pays its intrinsic value at the open print
        held = next(s for s in r.days if s.session == FEB_ROLL - timedelta(days=1)).book
        legs = held.structures[0].legs
        payoff = sum(
            g.quantity * 100 * max(0.0, soq - g.contract.strike if g.contract.is_call
                                   else g.contract.strike - soq)
            for g in legs
        )  # fmt: skip
        assert settle.cash_usd == pytest.approx(payoff, rel=1e-12, abs=1e-6)
        premium = opens[0].cash_usd
        assert premium == pytest.approx(-sum(g.quantity * g.price * 100 for g in legs))
        # the cycle realises the premium less the payoff (no fees at the mid)
        assert settle.realised_pnl_usd == pytest.approx(
            payoff - sum(g.quantity * g.price * 100 for g in legs)
        )
        assert opens[0].realised_pnl_usd == 0.0
        assert opens[0].fees_usd == 0.0
        assert opens[0].cash_usd + settle.cash_usd == pytest.approx(
            settle.realised_pnl_usd, rel=1e-9, abs=1e-3
        )


def test_the_put_cycle_by_hand(history: MarketHistory, runs: dict[str, BacktestResult]) -> None:
    """PUT from the January roll to the February settlement: cash = E + N P + interest - payoff."""
    r = runs["PUT"]
    opened = next(e for e in r.ledger if e.kind == "open")
    ((label, q, price, _fee, *_),) = opened.legs
    strike = float(label.split()[-1][:-1])
    spot = float(history.daily.loc[pd.Timestamp(JAN_ROLL), "spx_close"])
    e_in = next(d.equity_in_usd for d in r.days if d.session == JAN_ROLL)
    assert strike == 5 * math.floor(spot / 5)  # at or just below the close, 5-point grid
    assert q == -round(e_in / (100 * (strike - price)))
    soq = float(history.daily.loc[pd.Timestamp(FEB_ROLL), "spx_open"])
    settle = next(e for e in r.ledger if e.kind == "settle")
    assert settle.cash_usd == pytest.approx(q * 100 * max(0.0, strike - soq))
    interest = sum(
        e.cash_usd for e in r.ledger if e.kind == "interest" and JAN_ROLL < e.session <= FEB_ROLL
    )
    cash_before = next(d.cash_usd for d in r.days if d.session == JAN_ROLL)
    premium = -q * price * 100
    assert cash_before == pytest.approx(1e9 + sum(
        e.cash_usd for e in r.ledger if e.kind == "interest" and e.session <= JAN_ROLL
    ) + premium)  # fmt: skip
    after = next(d for d in r.days if d.session == FEB_ROLL)
    second = [e for e in r.ledger if e.kind == "open"][1]
    assert after.cash_usd == pytest.approx(
        cash_before + interest + settle.cash_usd + second.cash_usd
    )


def test_bxm_holds_one_index_unit_per_call(
    history: MarketHistory, runs: dict[str, BacktestResult]
) -> None:
    r = runs["BXM"]
    assert all(d.cash_usd == pytest.approx(0.0, abs=1e-3) for d in r.days)  # all in the index
    (position,) = r.portfolio.positions
    (leg,) = position.structure.legs
    assert leg.contract.right is Right.CALL
    roll = next(d for d in r.days if d.session == FEB_ROLL)
    close = float(history.daily.loc[pd.Timestamp(FEB_ROLL), "spx_close"])
    assert -leg.quantity == round(roll.equity_in_usd / (100 * (close - leg.price)))
    # sized on the previous close's equity: the units the sleeve buys with every dollar at the
    # roll's close differ from 100 per call by that day's equity change
    assert roll.index_units == pytest.approx(-100 * leg.quantity, rel=1e-2)
    moved = roll.equity_usd / roll.equity_in_usd - 1.0
    assert roll.index_units / (-100 * leg.quantity) - 1.0 == pytest.approx(moved, abs=2e-3)
    # before the first roll the index alone: month returns start after it
    first = cboe.month_end_equity(r)
    assert first.index[0] == pd.Timestamp("2018-01-31")


def test_vxth_buys_30_delta_calls_on_vix_expiries(history: MarketHistory) -> None:
    r = cboe.run_benchmark("VXTH", history, start=date(2018, 1, 2), end=date(2018, 3, 29))
    opens = [e for e in r.ledger if e.kind == "open"]
    assert opens, "no VIX calls bought"
    for e in opens:
        assert cboe.is_vix_roll(e.session)
        ((label, q, price, *_),) = e.legs
        assert label.startswith(f"VIX {cboe.next_vix_expiry(e.session).isoformat()}")
        d = next(x for x in r.days if x.session == e.session)
        report = d.decision.book["stages"]["VXTH"]
        assert report["weight"] == cboe.vxth_weight(report["forward_vix"])
        assert q == round(report["weight"] * d.equity_in_usd / (100 * price))
    assert all(d.cash_usd == pytest.approx(0.0, abs=1e-3) for d in r.days)
    # the first VIX roll (2018-01-17) ends the partial month: February is the first full one
    assert cboe.month_end_equity(r).index[0] == pd.Timestamp("2018-01-31")


# --------------------------------------------------------------------------------------------
# Comparison statistics by hand


M = [0.01, -0.02, 0.03, 0.00]
P = [0.012, -0.018, 0.025, 0.001]


def _hand_corr(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def _hand_sd(x: list[float]) -> float:
    m = sum(x) / len(x)
    return math.sqrt(sum((a - m) ** 2 for a in x) / (len(x) - 1))


def test_comparison_stats_by_hand() -> None:
    idx = pd.DatetimeIndex(["2020-01-31", "2020-02-29", "2020-03-31", "2020-04-30"])
    s = cboe.comparison_stats(pd.Series(M, index=idx), pd.Series(P, index=idx))
    assert s["months"] == 4
    assert s["correlation"] == pytest.approx(_hand_corr(M, P), rel=1e-12)
    diff = [a - b for a, b in zip(M, P, strict=True)]  # -0.002, -0.002, 0.005, -0.001
    assert s["tracking_error_ann"] == pytest.approx(_hand_sd(diff) * math.sqrt(12), rel=1e-12)
    # mean 0, squares sum 34e-6, sd sqrt(34e-6 / 3) = 0.0033665, x sqrt(12)
    assert s["tracking_error_ann"] == pytest.approx(0.0116619, rel=1e-5)
    growth_m = 1.01 * 0.98 * 1.03 * 1.00
    assert s["ann_return_model"] == pytest.approx(growth_m**3 - 1, rel=1e-12)  # 12 / 4 months
    growth_p = 1.012 * 0.982 * 1.025 * 1.001
    assert s["ann_return_published"] == pytest.approx(growth_p**3 - 1, rel=1e-12)
    assert s["ann_return_diff"] == pytest.approx(growth_m**3 - growth_p**3, rel=1e-12)
    # wealth 1, 1.01, 0.9898, ...: the fall from the 1.01 peak
    assert s["max_dd_model"] == pytest.approx(0.98 - 1.0, rel=1e-12)
    assert s["max_dd_published"] == pytest.approx(0.982 - 1.0, rel=1e-12)
    assert s["max_dd_diff"] == pytest.approx(-0.002, rel=1e-9)
    assert s["ann_vol_model"] == pytest.approx(_hand_sd(M) * math.sqrt(12), rel=1e-12)
    assert s["ann_vol_published"] == pytest.approx(_hand_sd(P) * math.sqrt(12), rel=1e-12)


def test_drawdown_from_the_start_counts_a_first_month_loss() -> None:
    idx = pd.DatetimeIndex(["2020-01-31", "2020-02-29", "2020-03-31"])
    s = cboe.comparison_stats(
        pd.Series([-0.10, 0.05, -0.10], index=idx), pd.Series([0.0, 0.0, 0.0], index=idx)
    )
    assert s["max_dd_model"] == pytest.approx(0.9 * 1.05 * 0.9 - 1.0)  # never back above 1
    assert s["max_dd_published"] == 0.0
    assert math.isnan(s["correlation"])  # a constant series has no correlation


PUBLISHED = """Date,BXM,PUT,CNDR,SPTR,GS3M
2019-11-29,100,200,300,400,1.5
2019-12-31,101,202,300,404,1.5
2020-01-31,102.01,201.798,303,400,0
2020-02-28,,205.83396,306.03,410,1.4
"""


def _month_ends(values: list[float], months: list[str]) -> pd.Series:
    return pd.Series(values, index=pd.DatetimeIndex(months), dtype=float)


def test_compare_month_ends_aligns_overlapping_complete_months(tmp_path: Path) -> None:
    path = tmp_path / "levels.csv"
    path.write_text(PUBLISHED, encoding="utf-8")
    months = ["2019-12-31", "2020-01-31", "2020-02-29"]
    c = cboe.compare_month_ends(
        {
            "PUT": _month_ends([1e9, 1.02e9, 1.0098e9], months),
            "VXTH": _month_ends([1e9, 1.1e9, 1.21e9], months),
        },
        path,
    )
    assert list(c.monthly.columns) == ["PUT_model", "PUT_published", "VXTH_model", "VXTH_published"]
    assert list(c.monthly.index) == [pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-29")]
    np.testing.assert_allclose(c.monthly["PUT_model"], [0.02, -0.01])
    np.testing.assert_allclose(c.monthly["PUT_published"], [201.798 / 202 - 1, 0.02])
    assert c.stats.loc["PUT", "months"] == 2
    assert c.stats.loc["PUT", "correlation"] == pytest.approx(-1.0)  # two points, opposite
    assert c.stats.loc["VXTH", "months"] == 2
    assert c.stats.loc["VXTH", "ann_return_model"] == pytest.approx(1.1**12 - 1)
    assert math.isnan(c.stats.loc["VXTH", "ann_return_published"])
    assert any("no VXTH column" in n for n in c.notes)
    assert any("SOQ" in n for n in c.notes)
    j = c.to_json()
    assert j["monthly"][0]["month_end"] == "2020-01-31"
    assert j["monthly"][0]["VXTH_published"] is None
    assert j["stats"]["PUT"]["months"] == 2.0
    assert isinstance(j["notes"], list)
    assert "PUT" in cboe.describe_table(c)


def test_month_end_equity_drops_the_months_before_the_first_trade_and_a_cut_month() -> None:
    days = pd.bdate_range("2018-01-02", "2018-04-17")
    equity = pd.Series(np.linspace(1e9, 1.1e9, days.size), index=days)

    def entry(day: date, kind: Any) -> LedgerEntry:
        return LedgerEntry(day, kind, "x", 0.0, 0.0, 0.0, (), "")

    fake: Any = SimpleNamespace(
        equity=equity,
        ledger=(entry(date(2018, 1, 3), "interest"), entry(date(2018, 1, 19), "open")),
    )
    got = cboe.month_end_equity(fake)
    # January (opened on the 19th) is the base; April stops on the 17th: no month end
    assert list(got.index) == [pd.Timestamp(d) for d in ("2018-01-31", "2018-02-28", "2018-03-31")]
    assert got.iloc[0] == equity.loc["2018-01-31"]
    r = cboe.monthly_returns(got)
    assert list(r.index) == [pd.Timestamp("2018-02-28"), pd.Timestamp("2018-03-31")]


def test_monthly_returns_leave_a_gap_empty() -> None:
    s = _month_ends([100.0, 110.0, 121.0], ["2020-01-31", "2020-02-29", "2020-04-30"])
    r = cboe.monthly_returns(s)
    assert r.loc["2020-02-29"] == pytest.approx(0.1)
    assert math.isnan(r.loc["2020-03-31"])
    assert math.isnan(r.loc["2020-04-30"])


# --------------------------------------------------------------------------------------------
# The published file's loader


def test_loader_reads_levels_and_blanks(tmp_path: Path) -> None:
    path = tmp_path / "levels.csv"
    path.write_text(PUBLISHED, encoding="utf-8")
    f = cboe.load_published_indices(path)
    assert list(f.columns) == ["BXM", "PUT", "CNDR", "SPTR", "GS3M"]
    assert f.index[0] == pd.Timestamp("2019-11-29")
    assert math.isnan(f.loc["2020-02-28", "BXM"])
    assert f.loc["2020-01-31", "GS3M"] == 0.0
    assert f.dtypes.unique().tolist() == [np.dtype("float64")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Day,PUT\n2020-01-31,1\n", r"line 1: the first column must be 'Date'"),
        ("Date,PUTT\n2020-01-31,1\n", r"line 1: unknown or repeated columns \['PUTT'\]"),
        ("Date,PUT\n2020-01-31,1\n2020-02-30,2\n", r"line 3, field 'Date': '2020-02-30' is not"),
        (
            "Date,PUT\n2020-01-31,1\n2020-01-31,2\n",
            r"line 3, field 'Date': 2020-01-31 is not after",
        ),
        ("Date,PUT\n2020-01-31,abc\n", r"line 2, field 'PUT': 'abc' is not a number"),
        ("Date,PUT\n2020-01-31,-5\n", r"line 2, field 'PUT': '-5' must be > 0"),
        ("Date,GS3M\n2020-01-31,-0.1\n", r"line 2, field 'GS3M': '-0.1' must be >= 0"),
        ("Date,PUT,BXM\n2020-01-31,1\n", r"line 2: 2 fields, the header has 3"),
        ("Date,PUT\n", r"no data rows"),
        ("", r"the file is empty"),
    ],
)
def test_loader_errors_name_the_file_line_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as got:
        cboe.load_published_indices(path)
    assert str(path) in str(got.value)


def test_loader_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        cboe.load_published_indices(tmp_path / "nope.csv")
