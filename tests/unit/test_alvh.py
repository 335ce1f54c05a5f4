"""The Adaptive Layered VIX Hedge (METHOD §8): score, tranches, budgets, monetise, discipline."""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from vixshield import calendar
from vixshield.data.chains import add_implied_vols
from vixshield.data.model_chains import model_vix_chain
from vixshield.domain.decisions import Action, Layer, OrderIntent, Refusal
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.strategy.alvh import (
    HedgeDecision,
    HedgeLayer,
    HedgeLayerParams,
    HedgeParams,
    HedgePosition,
    hedge_decision,
    hedge_layer_of,
    hedge_score,
    tranche_targets,
)
from vixshield.strategy.book import delta_band
from vixshield.units import NEW_YORK

RATE = 0.02
SESSION = date(2019, 6, 17)  # 30 calendar days before the 2019-07-17 VIX expiry
JUL, SEP, NOV = date(2019, 7, 17), date(2019, 9, 18), date(2019, 11, 20)
QUIET: dict[str, Any] = {
    "term_toward_backwardation": False,
    "vix_macd_turning_up": False,
    "ad_divergence": False,
    "ad_line": 1000.0,
    "days_to_fomc": 20.0,
    "days_to_cpi": 12.0,
    "days_to_ppi": 9.0,
    "rsi_vvix": 50.0,
}
ONE = {**QUIET, "rsi_vvix": 75.0}  # one live trigger: score 1


def _vix_chain(session: date, rows: list[tuple[date, float, float, float]]) -> pd.DataFrame:
    """A canonical VIX chain of calls: (expiry, strike, bid, ask)."""
    stamp = pd.Timestamp(datetime.combine(session, time(15, 45), tzinfo=NEW_YORK))
    n = len(rows)
    return pd.DataFrame(
        {
            "quote_time": pd.DatetimeIndex([stamp] * n).as_unit("ns"),
            "expiry": pd.Series([r[0] for r in rows], dtype=object),
            "settlement": ["AM"] * n,
            "root": ["VIX"] * n,
            "strike": [r[1] for r in rows],
            "right": ["C"] * n,
            "bid": [r[2] for r in rows],
            "ask": [r[3] for r in rows],
            "modelled": [False] * n,
        }
    )


# one 30-DTE VIX call at 1.30/1.40 (mid 1.35) on a VX future of 18
SHORT_CHAIN = _vix_chain(SESSION, [(JUL, 20.0, 1.30, 1.40)])
FUTURES = {JUL: 18.0, SEP: 19.0, NOV: 19.5}


def _decide(**kw: Any) -> HedgeDecision:
    args: dict[str, Any] = {
        "session": SESSION,
        "indicators": ONE,
        "regime_level": 1,
        "peak_regime_level": 1,
        "delta_band_breached": False,
        "open_hedges": (),
        "condor_max_loss_usd": 40_000.0,
        "condor_credit_window_usd": 30_000.0,
        "hedge_spend_window_usd": 0.0,
        "equity_usd": 1_000_000.0,
        "vix_chain": SHORT_CHAIN,
        "vx_futures": FUTURES,
        "rate": RATE,
    }
    args.update(kw)
    return hedge_decision(**args)


def _opens(d: HedgeDecision, layer: HedgeLayer | None = None) -> list[OrderIntent]:
    out = [o for o in d.orders if o.action is Action.OPEN]
    for o in out:
        assert o.layer is Layer.HEDGE
    if layer is None:
        return out
    return [o for o in out if o.structure is not None and hedge_layer_of(o.structure.name) is layer]


def _refused(d: HedgeDecision, layer: HedgeLayer) -> list[Refusal]:
    return [r for r in d.refusals if r.what.startswith(f"{layer}-layer")]


def _short_position(
    *, cost: float = 270.0, value: float | None = None, expiry: date = JUL, peak: int | None = None
) -> HedgePosition:
    leg = Leg(OptionContract("VIX", expiry, 20.0, Right.CALL), 2, 1.35)
    return HedgePosition(
        Structure(f"ALVH short tranche 1 2019-06-10 VIX {expiry} 20C call", (leg,)),
        HedgeLayer.SHORT,
        date(2019, 6, 10),
        cost,
        value_usd=value,
        peak_regime_level=peak,
    )


# ------------------------------------------------------------------ score


@pytest.mark.parametrize(
    ("change", "name", "reason"),
    [
        (
            {"term_toward_backwardation": True, "term_slope_fall_5d": 0.07, "term_slope": -0.01},
            "term_toward_backwardation",
            "term structure steepening toward backwardation (5-day fall +0.070, slope -0.010)",
        ),
        (
            {"vix_macd_turning_up": True, "vix_macd_hist": 0.21},
            "vix_macd_turning_up",
            "VIX MACD histogram turning up after compression (histogram +0.21)",
        ),
        (
            {"ad_divergence": True, "ad_below_high_frac": 0.015},
            "ad_divergence",
            "A/D divergence: SPX at its 20-day high (A/D line 1.5% below its high)",
        ),
        (
            {"days_to_cpi": 5.0, "days_to_fomc": 2.0},
            "event",
            "event within 5 sessions: FOMC in 2 session(s), CPI in 5 session(s)",
        ),
        ({"rsi_vvix": 70.5}, "vvix_rsi", "VVIX RSI 70.5 > 70"),
    ],
)
def test_each_indicator_trigger_counts_one(change: dict[str, Any], name: str, reason: str) -> None:
    s = hedge_score({**QUIET, **change}, False)
    assert s.score == 1
    live = [t for t in s.triggers if t.live]
    assert [(t.name, t.reason) for t in live] == [(name, reason)]
    assert s.reasons == (reason,)


def test_delta_band_trigger_and_its_reason() -> None:
    band = delta_band(2_000.0, 1_000_000.0)  # 0.20% of equity per 1% > the 0.15% band
    assert band.breached
    s = hedge_score(QUIET, band)
    assert s.score == 1
    assert s.reasons == (band.reason,)
    assert hedge_score(QUIET, True).reasons == ("delta band broken",)
    assert hedge_score(QUIET, False).score == 0


def test_score_zero_boundaries_and_missing_inputs() -> None:
    s = hedge_score(QUIET, False)
    assert s.score == 0
    assert s.triggers[2].reason == "no A/D divergence"
    assert s.live_count == 0
    assert len(s.triggers) == 6
    # the thresholds are strict / inclusive as documented: RSI 70 is not > 70, 6 sessions > 5
    assert hedge_score({**QUIET, "rsi_vvix": 70.0, "days_to_ppi": 6.0}, False).score == 0
    missing = hedge_score({}, False)
    assert missing.score == 0
    assert [t.reason for t in missing.triggers] == [
        "term structure: slope change unavailable",
        "VIX MACD turn: unavailable",
        "A/D divergence: breadth unavailable",
        "events: no FOMC/CPI/PPI dates known",
        "book delta inside the band",
        "VVIX RSI unavailable",
    ]
    # without dates, the indicator frame's event flag is used
    assert hedge_score({"event_within_window": True}, False).score == 1
    # breadth absent (NaN A/D line): no divergence, said so
    nan_ad = hedge_score({**QUIET, "ad_line": float("nan"), "ad_below_high_frac": None}, False)
    assert nan_ad.triggers[2].reason == "A/D divergence: breadth unavailable"


def test_score_is_capped_at_four() -> None:
    every = {
        "term_toward_backwardation": True,
        "vix_macd_turning_up": True,
        "ad_divergence": True,
        "days_to_fomc": 1.0,
        "rsi_vvix": 80.0,
    }
    s = hedge_score(every, True)
    assert s.live_count == 6
    assert s.score == 4
    score, triggers = s  # unpacks as (score, triggers)
    assert score == 4
    assert len(triggers) == 6
    assert hedge_score(every, True, params=HedgeParams(max_score=6)).score == 6


# ------------------------------------------------------------------ tranche mapping


@pytest.mark.parametrize("score", [0, 1, 2, 3, 4])
def test_score_n_targets_n_tranches_in_each_layer(score: int) -> None:
    assert tranche_targets(score) == {
        HedgeLayer.SHORT: score,
        HedgeLayer.MEDIUM: score,
        HedgeLayer.LONG: score,
    }


def test_tranche_targets_bounds() -> None:
    assert tranche_targets(6)[HedgeLayer.SHORT] == 4  # never more than the 4 tranches
    assert tranche_targets(3, HedgeParams(tranches_per_layer=2))[HedgeLayer.LONG] == 2
    with pytest.raises(InvalidInputError):
        tranche_targets(-1)


def test_score_zero_buys_nothing() -> None:
    d = _decide(indicators=QUIET)
    assert d.orders == ()
    assert d.refusals == ()
    assert [(p.held, p.target, p.bought) for p in d.plan] == [(0, 0, 0)] * 3


# ------------------------------------------------------------------ buying


def test_budget_arithmetic_short_tranche() -> None:
    d = _decide()
    (o,) = _opens(d, HedgeLayer.SHORT)
    assert o.structure is not None
    (leg,) = o.structure.legs
    # condor book max loss $40,000 x 4% = $1,600 short-layer budget; tranche 25% = $400;
    # one call at mid (1.30 + 1.40) / 2 = 1.35 costs $135; floor(400 / 135) = 2 contracts
    # = $270, leaving $130 unspent
    assert (leg.contract.expiry, leg.contract.strike, leg.quantity) == (JUL, 20.0, 2)
    assert leg.price == pytest.approx(1.35)
    assert o.limit_price == pytest.approx(-1.35)  # a debit at the mid
    assert o.structure.net_premium_usd == pytest.approx(-270.0)
    assert o.reasons[0] == "score 1 targets 1 of 4 short-layer tranches; 0 held"
    assert o.reasons[1] == (
        "short layer budget 4.00% of condor book max loss $40,000.00 = $1,600.00; "
        "tranche 25% = $400.00"
    )
    assert "VVIX RSI 75.0 > 70" in o.reasons
    assert o.reasons[-1] == (
        "2 contract(s) at 1.35 = $270.00; $130.00 of the tranche budget left unspent"
    )
    assert o.structure.name == "ALVH short tranche 1 2019-06-17 VIX 2019-07-17 20C call"
    assert d.spend_usd == pytest.approx(270.0)
    plan = {p.layer: p for p in d.plan}
    assert plan[HedgeLayer.SHORT].budget_usd == pytest.approx(1_600.0)
    assert plan[HedgeLayer.SHORT].tranche_budget_usd == pytest.approx(400.0)
    # medium $40,000 x 4% / 4 = $400; long $40,000 x 2% / 4 = $200
    assert plan[HedgeLayer.MEDIUM].tranche_budget_usd == pytest.approx(400.0)
    assert plan[HedgeLayer.LONG].tranche_budget_usd == pytest.approx(200.0)
    # this chain lists no 90-120 or 150-180 day expiry: refused with the reason
    (med,) = _refused(d, HedgeLayer.MEDIUM)
    assert med.what == "medium-layer tranche 1"
    assert med.reasons[-1] == (
        "medium layer: no VIX expiry with 90-120 DTE in the chain "
        "(listed with usable calls: 2019-07-17 (30 DTE))"
    )


def test_rounds_to_zero_contracts() -> None:
    # $10,000 x 4% / 4 = $100 < $135 for one call
    d = _decide(condor_max_loss_usd=10_000.0)
    (r,) = _refused(d, HedgeLayer.SHORT)
    assert r.reasons[-1] == (
        "rounds to zero contracts: one VIX 2019-07-17 20C call costs $135.00 (1.35 x 100) "
        "> tranche budget $100.00"
    )
    assert _opens(d) == []


def test_held_tranches_count_and_later_tranches_are_skipped_after_a_refusal() -> None:
    held = _short_position(value=300.0)
    # score 3: 3 short tranches wanted, 1 held, so tranches 2 and 3; the cap ($10,000 x 3%
    # = $300) takes tranche 2 ($270) and refuses tranche 3 ($270 + $270 = $540 > $300)
    d = _decide(
        indicators={**ONE, "vix_macd_turning_up": True, "ad_divergence": True},
        open_hedges=[held],
        equity_usd=10_000.0,
        params=HedgeParams(initiation_risk_frac=0.05),  # above the 3% hard cap: capped
    )
    (o,) = _opens(d, HedgeLayer.SHORT)
    assert o.structure is not None
    assert o.structure.name.startswith("ALVH short tranche 2 ")
    (r,) = _refused(d, HedgeLayer.SHORT)
    assert r.what == "short-layer tranche 3"
    assert r.reasons[-1] == (
        "per-initiation cap: today's hedge purchases would risk $540.00 = 5.40% of equity "
        "$10,000 > 3.00% ($300.00)"
    )
    plan = {p.layer: p for p in d.plan}[HedgeLayer.SHORT]
    assert (plan.held, plan.target, plan.bought) == (1, 3, 1)


def test_per_initiation_cap_two_percent() -> None:
    # 2% of $10,000 = $200 < $270: refused, and the layer's other tranche not tried
    d = _decide(indicators={**ONE, "vix_macd_turning_up": True}, equity_usd=10_000.0)
    (r,) = _refused(d, HedgeLayer.SHORT)
    assert r.what == "short-layer tranche 1"
    assert r.reasons[-2:] == (
        "per-initiation cap: today's hedge purchases would risk $270.00 = 2.70% of equity "
        "$10,000 > 2.00% ($200.00)",
        "1 further short-layer tranche(s) not tried",
    )


def test_cost_discipline_three_to_one() -> None:
    # credit $900 over the window allows $900 / 3 = $300 of hedge spend
    ok = _decide(condor_credit_window_usd=900.0, hedge_spend_window_usd=0.0)
    assert len(_opens(ok, HedgeLayer.SHORT)) == 1  # $0 + $270 <= $300
    d = _decide(condor_credit_window_usd=900.0, hedge_spend_window_usd=100.0)
    (r,) = _refused(d, HedgeLayer.SHORT)
    # $100 + $0 + $270 = $370 > $300
    assert r.reasons[-1] == (
        "cost discipline: hedge spend over the trailing 3 condor cycles would be $370.00 "
        "($100.00 before, $0.00 earlier today, $270.00 this tranche) > 0.3333 of condor "
        "credit $900.00 = $300.00"
    )
    assert _opens(d) == []


def test_no_chain_and_no_budget_refusals() -> None:
    d = _decide(vix_chain=None, vvix=float("nan"))
    assert any(n.startswith("no VIX option chain, and no VVIX") for n in d.notes)
    assert _refused(d, HedgeLayer.SHORT)[0].reasons[-1] == (
        "no VIX option chain (and no VVIX to model one)"
    )
    d = _decide(condor_max_loss_usd=0.0)
    assert _refused(d, HedgeLayer.SHORT)[0].reasons[-1] == "no condor max loss: budget $0"
    with pytest.raises(InvalidInputError):
        _decide(equity_usd=0.0)
    with pytest.raises(InvalidInputError):
        _decide(hedge_spend_window_usd=-1.0)


def test_vx1_multiple_strike_rule() -> None:
    chain = _vix_chain(
        SESSION, [(JUL, k, b, b + 0.1) for k, b in ((20, 1.3), (21, 1.0), (22, 0.8), (23, 0.6))]
    )
    short = HedgeLayerParams(
        budget_frac=0.04, min_dte=20, target_dte=30, max_dte=45, long_delta=0.30,
        strike_rule="vx1_multiple",
    )  # fmt: skip
    d = _decide(vix_chain=chain, params=HedgeParams(short=short))
    (o,) = _opens(d, HedgeLayer.SHORT)
    assert o.structure is not None
    # VX1 = 18 (the first future after the session); 1.2 x 18 = 21.6, nearest listed 22
    assert o.structure.legs[0].contract.strike == 22.0
    assert "strike 22 nearest 1.2 x VX1 18.00 = 21.60" in o.reasons
    # mid 0.85: floor(400 / 85) = 4 contracts = $340
    assert o.structure.legs[0].quantity == 4


def _futures(session: date) -> dict[date, float]:
    exps = calendar.vx_expiries(session, date(session.year + 1, session.month, 1))
    return {e: 16.5 + 0.4 * i for i, e in enumerate(exps) if e > session}


def _nearest_strike(calls: pd.DataFrame, target: float) -> float:
    delta = calls["delta"].to_numpy(dtype=np.float64)
    return float(calls["strike"].to_numpy(dtype=np.float64)[np.argmin(np.abs(delta - target))])


def test_model_chain_strikes_by_black76_delta() -> None:
    session = date(2019, 6, 26)
    fut = _futures(session)
    chain = model_vix_chain(session, fut, vvix=90.0, rate=RATE)
    four = {**ONE, "vix_macd_turning_up": True, "ad_divergence": True, "days_to_cpi": 1.0}
    d = _decide(session=session, indicators=four, vix_chain=chain, vx_futures=fut)
    assert d.score.score == 4
    assert d.refusals == ()
    assert [p.bought for p in d.plan] == [4, 4, 4]
    # independent check: forward deltas of the mids on the same-expiry future
    priced = add_implied_vols(chain, rate=RATE, forward=fut)
    calls = priced[(priced["right"] == "C") & priced["iv"].notna()]
    for layer, target in ((HedgeLayer.SHORT, 0.30), (HedgeLayer.LONG, 0.25)):
        o = _opens(d, layer)[0]
        assert o.structure is not None
        (leg,) = o.structure.legs
        one = calls[calls["expiry"] == leg.contract.expiry]
        assert leg.contract.strike == _nearest_strike(one, target)
    spread = _opens(d, HedgeLayer.MEDIUM)[0].structure
    assert spread is not None
    long_leg, short_leg = spread.legs
    assert 90 <= (long_leg.contract.expiry - session).days <= 120
    assert long_leg.quantity == -short_leg.quantity > 0
    one = calls[calls["expiry"] == long_leg.contract.expiry]
    assert long_leg.contract.strike == _nearest_strike(one, 0.30)
    above = one[one["strike"] > long_leg.contract.strike]
    assert short_leg.contract.strike == _nearest_strike(above, 0.10)
    # the spread's limit is the net debit at the mids
    o = _opens(d, HedgeLayer.MEDIUM)[0]
    assert o.limit_price == pytest.approx(-(long_leg.price - short_leg.price))
    # names are unique (one structure per tranche)
    names = [x.structure.name for x in d.orders if x.structure is not None]
    assert len(set(names)) == len(names) == 12


def test_model_chain_from_vvix_when_no_chain_given() -> None:
    session = date(2019, 6, 26)
    d = _decide(session=session, vix_chain=None, vvix=90.0, vx_futures=_futures(session))
    assert "VIX options priced on a model chain (Black-76 on the VX curve)" in d.notes
    assert len(_opens(d)) == 3  # score 1: one tranche per layer


# ------------------------------------------------------------------ monetise and roll


def test_take_profit_at_three_times_cost() -> None:
    # cost $270; worth $810 = 3.00 x cost: sold
    d = _decide(indicators=QUIET, open_hedges=[_short_position(value=810.0)])
    (o,) = d.orders
    assert o.action is Action.CLOSE
    assert o.closes == ("ALVH short tranche 1 2019-06-10 VIX 2019-07-17 20C call",)
    assert o.reasons[1] == "take profit: worth $810.00 = 3.00x its cost $270.00 >= 3x"
    # marked by the engine's value: 810 / (2 contracts x 100) = 4.05 per unit
    assert o.limit_price == pytest.approx(4.05)
    assert _decide(indicators=QUIET, open_hedges=[_short_position(value=809.0)]).orders == ()


def test_take_profit_marked_from_the_chain() -> None:
    chain = _vix_chain(SESSION, [(JUL, 20.0, 4.00, 4.10)])
    d = _decide(indicators=QUIET, vix_chain=chain, open_hedges=[_short_position()])
    (o,) = d.orders
    # 2 x mid 4.05 x 100 = $810 = 3 x $270
    assert o.reasons[1] == "take profit: worth $810.00 = 3.00x its cost $270.00 >= 3x"
    assert o.structure is not None
    assert o.structure.legs[0].price == pytest.approx(4.05)


def test_regime_fall_back_two_steps_from_the_peak() -> None:
    pos = _short_position(value=300.0)
    # peak stressed (3) since it opened, normal (1) today: two steps down, sold
    d = _decide(indicators=QUIET, open_hedges=[pos], regime_level=1, peak_regime_level=3)
    (o,) = d.orders
    assert o.action is Action.CLOSE
    assert o.reasons[1] == (
        "regime fell back 2 steps from its peak stressed since the tranche opened to normal "
        "(>= 2): the spike is passing"
    )
    # one step down: held
    assert (
        _decide(indicators=QUIET, open_hedges=[pos], regime_level=2, peak_regime_level=3).orders
        == ()
    )
    # the position's own peak wins over the decision's
    own = _short_position(value=300.0, peak=2)
    assert (
        _decide(indicators=QUIET, open_hedges=[own], regime_level=1, peak_regime_level=4).orders
        == ()
    )
    # regime unknown: the rule is not applied
    assert (
        _decide(indicators=QUIET, open_hedges=[pos], regime_level=None, peak_regime_level=4).orders
        == ()
    )


def test_roll_short_into_medium_under_ten_dte() -> None:
    session = date(2019, 7, 10)  # 7 days before the 2019-07-17 expiry
    fut = _futures(session)
    chain = model_vix_chain(session, fut, vvix=90.0, rate=RATE)
    pos = _short_position()
    d = _decide(
        session=session, indicators=QUIET, open_hedges=[pos], vix_chain=chain, vx_futures=fut
    )
    close, buy = d.orders
    assert close.action is Action.CLOSE
    assert close.closes == (pos.name,)
    assert close.reasons[1] == (
        "time-shift: short-layer tranche has 7 DTE < 10: sold and rolled into the medium bucket"
    )
    assert buy.action is Action.OPEN
    assert buy.structure is not None
    assert hedge_layer_of(buy.structure.name) is HedgeLayer.MEDIUM
    assert len(buy.structure.legs) == 2  # a call spread
    assert 90 <= (buy.structure.expiries[0] - session).days <= 120
    assert buy.reasons[0] == f"time-shift roll of {pos.name} into the medium bucket"
    plan = {p.layer: p for p in d.plan}
    # score 0: no target, but the rolled tranche is bought into the medium layer
    assert (plan[HedgeLayer.MEDIUM].target, plan[HedgeLayer.MEDIUM].rolled_in) == (0, 1)
    assert plan[HedgeLayer.MEDIUM].bought == 1
    # the sold short tranche still counts as held today (no same-day re-buy)
    assert plan[HedgeLayer.SHORT].held == 1


def test_no_roll_at_ten_dte_and_settled_tranches_are_not_held() -> None:
    # a pure function: the date need not be a session (2019-08-11 is 10 days before 08-21)
    pos = _short_position(value=300.0, expiry=date(2019, 8, 21))
    assert _decide(session=date(2019, 8, 11), indicators=QUIET, open_hedges=[pos]).orders == ()
    gone = _short_position(value=0.0, expiry=date(2019, 6, 12))
    d = _decide(open_hedges=[gone])
    assert any("expired on 2019-06-12, settles; not held" in n for n in d.notes)
    assert {p.layer: p for p in d.plan}[HedgeLayer.SHORT].held == 0
    assert len(_opens(d, HedgeLayer.SHORT)) == 1


# ------------------------------------------------------------------ values and params


def test_hedge_layer_of_and_position_checks() -> None:
    assert (
        hedge_layer_of("ALVH long tranche 3 2019-06-17 VIX 2019-12-18 28C call") is HedgeLayer.LONG
    )
    assert hedge_layer_of("ALVH other") is None
    assert hedge_layer_of("ladder 2019-06-26 x") is None
    with pytest.raises(InvalidInputError):
        _short_position(cost=0.0)
    with pytest.raises(InvalidInputError):
        _short_position(value=float("nan"))


def test_params_defaults_frozen_closed_bounded() -> None:
    p = HedgeParams()
    assert (p.short.budget_frac, p.medium.budget_frac, p.long.budget_frac) == (0.04, 0.04, 0.02)
    assert (p.short.target_dte, p.short.long_delta) == (30, 0.30)
    assert (p.medium.min_dte, p.medium.max_dte, p.medium.long_delta, p.medium.short_delta) == (
        90, 120, 0.30, 0.10,
    )  # fmt: skip
    assert (p.long.min_dte, p.long.max_dte, p.long.long_delta) == (150, 180, 0.25)
    assert p.short.vx1_multiple == 1.2
    assert (p.tranches_per_layer, p.max_score, p.vvix_rsi_above) == (4, 4, 70.0)
    assert (p.take_profit_multiple, p.regime_fallback_steps, p.roll_below_dte) == (3.0, 2, 10)
    assert math.isclose(p.cost_ratio_max, 1 / 3)
    assert (p.cost_window_cycles, p.initiation_risk_frac, p.initiation_hard_cap_frac) == (
        3, 0.02, 0.03,
    )  # fmt: skip
    with pytest.raises(ValidationError):
        p.max_score = 3
    with pytest.raises(ValidationError, match="extra"):
        HedgeParams(budget=0.1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        HedgeParams(initiation_risk_frac=0.06)
    with pytest.raises(ValidationError, match="short_delta must be below"):
        HedgeLayerParams(
            budget_frac=0.04, min_dte=90, target_dte=100, max_dte=120, long_delta=0.1,
            short_delta=0.3,
        )  # fmt: skip
    with pytest.raises(ValidationError, match="min_dte <= target_dte"):
        HedgeLayerParams(budget_frac=0.04, min_dte=40, target_dte=30, max_dte=45, long_delta=0.3)
