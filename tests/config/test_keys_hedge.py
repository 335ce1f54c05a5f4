"""Every ``hedge.*`` key (the ALVH, METHOD §8) changes what the hedge does.

Each check runs :func:`~vixshield.strategy.alvh.hedge_decision` (or
:func:`~vixshield.strategy.alvh.hedge_score`) with a base :class:`HedgeParams` and with ONE key
changed (``model_copy(update=...)``, then re-validated so the value is within its bounds), and
asserts the outputs differ, in the expected direction. The base is the documented default except
where a key only acts under another setting:

* ``<layer>.vx1_multiple`` acts under ``strike_rule = "vx1_multiple"`` (the base sets it);
* ``short.target_dte``: the default 20-45 DTE window is 25 days wide and VIX expiries are
  monthly (28 or 35 days apart), so the window never holds two expiries to choose between; the
  base widens it (``max_dte = 60``);
* ``cost_window_cycles`` sets how far back the engine's :class:`~vixshield.engine.HedgeStage`
  reads the condor credit and hedge spend (``hedge_decision`` receives those sums and only
  quotes the key in the refusal text), so its check runs the engine on a synthetic market.

The VIX options are the deterministic model chain (:func:`model_vix_chain`, VVIX 90) on a VX
curve of ``16.5 + 0.4 i`` over the monthly expiries; the default buys, at score 1 on
2019-06-26, one short-layer 2019-07-17 20C, one medium 2019-10-16 23/40C spread and one long
2019-12-18 28C. Which session a check uses depends on where the expiries fall against the
layer's DTE window (each check says why).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import lru_cache, partial
from typing import Any, TypeVar

import pandas as pd
import pytest
from pydantic import BaseModel

from vixshield import calendar
from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.model_chains import model_vix_chain
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.decisions import Action, DayDecision, Layer, OrderIntent
from vixshield.domain.positions import Book, Leg, OptionContract, Right, Structure
from vixshield.engine import CoreCondorStage, HedgeStage, run_day
from vixshield.strategy.alvh import (
    HedgeDecision,
    HedgeLayer,
    HedgeLayerParams,
    HedgeParams,
    HedgePosition,
    hedge_decision,
    hedge_layer_of,
    hedge_score,
)
from vixshield.strategy.condor import CondorParams

RATE = 0.02
VVIX = 90.0
SESSION = date(2019, 6, 26)  # VIX expiries at 21, 56, 84, 112, 147, 175 ... DTE
EARLY = date(2019, 6, 18)  # 29, 64, 92, 120, 155, 183 ... DTE; VX1 is the 2019-06-19 future
EARLIER = date(2019, 6, 12)  # 35, 70, 98, 126, 161, 189 ... DTE
AUTUMN = date(2019, 9, 20)  # ... 152 (2020-02-19), 180 (2020-03-18) DTE
JUL = date(2019, 7, 17)
P = HedgeParams()
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
ONE = {**QUIET, "rsi_vvix": 75.0}  # one live trigger (VVIX RSI 75 > 70): score 1
M = TypeVar("M", bound=BaseModel)
EVERY = {  # five indicator triggers live; with the delta band broken, all six
    **QUIET,
    "term_toward_backwardation": True,
    "vix_macd_turning_up": True,
    "ad_divergence": True,
    "days_to_fomc": 1.0,
    "rsi_vvix": 80.0,
}

# --------------------------------------------------------------------------------------------
# fixtures


@lru_cache(maxsize=8)
def _market(session: date) -> tuple[Mapping[date, float], pd.DataFrame]:
    """The VX curve (monthly expiries, ``16.5 + 0.4 i``) and the model VIX chain on it."""
    expiries = calendar.vx_expiries(session, date(session.year + 1, session.month, 28))
    futures = {e: 16.5 + 0.4 * i for i, e in enumerate(expiries) if e > session}
    return futures, model_vix_chain(session, futures, vvix=VVIX, rate=RATE)


def _valid(model: M) -> M:
    """``model`` re-validated: a changed value must be within its bounds and rules."""
    return type(model).model_validate(model.model_dump())


def _with(**change: Any) -> HedgeParams:
    return _valid(P.model_copy(update=change))


def _with_layer(layer: str, base: HedgeParams = P, **change: Any) -> HedgeParams:
    lp: HedgeLayerParams = getattr(base, layer)
    return _valid(base.model_copy(update={layer: lp.model_copy(update=change)}))


def _decide(params: HedgeParams = P, *, session: date = SESSION, **kw: Any) -> HedgeDecision:
    futures, chain = _market(session)
    args: dict[str, Any] = {
        "session": session,
        "indicators": ONE,
        "regime_level": 1,
        "peak_regime_level": 1,
        "delta_band_breached": False,
        "open_hedges": (),
        "condor_max_loss_usd": 40_000.0,
        "condor_credit_window_usd": 30_000.0,
        "hedge_spend_window_usd": 0.0,
        "equity_usd": 1_000_000.0,
        "vix_chain": chain,
        "vx_futures": futures,
        "rate": RATE,
        "params": params,
    }
    args.update(kw)
    return hedge_decision(**args)


def _opens(d: HedgeDecision, layer: str | None = None) -> list[OrderIntent]:
    out = [o for o in d.orders if o.action is Action.OPEN and o.structure is not None]
    if layer is None:
        return out
    return [o for o in out if hedge_layer_of(o.structure.name) is HedgeLayer(layer)]  # type: ignore[union-attr]


def _bought(d: HedgeDecision, layer: str) -> Structure | None:
    """The layer's first tranche bought (None: none bought)."""
    opens = _opens(d, layer)
    return None if not opens else opens[0].structure


def _expiry(d: HedgeDecision, layer: str) -> date | None:
    s = _bought(d, layer)
    return None if s is None else s.expiries[0]


def _strikes(d: HedgeDecision, layer: str) -> tuple[float, ...]:
    s = _bought(d, layer)
    assert s is not None, f"the {layer} layer bought nothing: {d.refusals}"
    return tuple(leg.contract.strike for leg in s.legs)


def _contracts(d: HedgeDecision, layer: str) -> int:
    s = _bought(d, layer)
    assert s is not None, f"the {layer} layer bought nothing: {d.refusals}"
    return s.legs[0].quantity


def _refusal_text(d: HedgeDecision, layer: str | None = None) -> str:
    return "\n".join(
        " ".join(r.reasons)
        for r in d.refusals
        if layer is None or r.what.startswith(f"{layer}-layer")
    )


def _short_tranche(*, value: float, expiry: date = JUL) -> HedgePosition:
    """A held short-layer tranche: 2 VIX 20C bought for $270 on 2019-06-10."""
    leg = Leg(OptionContract("VIX", expiry, 20.0, Right.CALL), 2, 1.35)
    name = f"ALVH short tranche 1 2019-06-10 VIX {expiry} 20C call"
    return HedgePosition(
        Structure(name, (leg,)), HedgeLayer.SHORT, date(2019, 6, 10), 270.0, value_usd=value
    )


# --------------------------------------------------------------------------------------------
# layer keys


def _budget_frac(layer: str) -> None:
    lp: HedgeLayerParams = getattr(P, layer)
    base = _decide()
    changed = _decide(_with_layer(layer, budget_frac=2 * lp.budget_frac))
    # twice the layer budget buys more contracts of the same structure
    assert _strikes(changed, layer) == _strikes(base, layer)
    assert _contracts(changed, layer) > _contracts(base, layer)


# min_dte: on EARLY the default picks an expiry below the target (short 29 < 30, medium
# 92 < 105, long 155 < 165); a min_dte at the target leaves it out: a later one or none.
def _min_dte(layer: str) -> None:
    lp: HedgeLayerParams = getattr(P, layer)
    base = _decide(session=EARLY)
    default = _expiry(base, layer)
    assert default is not None
    assert (default - EARLY).days < lp.target_dte
    changed = _decide(_with_layer(layer, min_dte=lp.target_dte), session=EARLY)
    moved = _expiry(changed, layer)
    if moved is None:
        assert f"no VIX expiry with {lp.target_dte}-{lp.max_dte} DTE" in _refusal_text(
            changed, layer
        )
    else:
        assert moved > default


# max_dte: the default expiry must lie above the target: short on EARLIER (35 > 30), medium
# (112 > 105) and long (175 > 165) on SESSION; a max_dte at the target leaves it out.
MAX_DTE_SESSION = {"short": EARLIER, "medium": SESSION, "long": SESSION}


def _max_dte(layer: str) -> None:
    lp: HedgeLayerParams = getattr(P, layer)
    session = MAX_DTE_SESSION[layer]
    base = _decide(session=session)
    default = _expiry(base, layer)
    assert default is not None
    assert (default - session).days > lp.target_dte
    changed = _decide(_with_layer(layer, max_dte=lp.target_dte), session=session)
    moved = _expiry(changed, layer)
    if moved is None:
        assert f"no VIX expiry with {lp.min_dte}-{lp.target_dte} DTE" in _refusal_text(
            changed, layer
        )
    else:
        assert moved < default


# target_dte: a window holding two expiries. Medium on EARLY: 92 and 120 DTE (105 picks 92);
# long on AUTUMN: 152 and 180 (165 picks 152); short on SESSION with the window widened to
# 20-60: 21 and 56 (30 picks 21). A target near the other expiry picks it.
TARGET_DTE = {
    "short": (SESSION, _with_layer("short", max_dte=60), 50),
    "medium": (EARLY, P, 115),
    "long": (AUTUMN, P, 175),
}


def _target_dte(layer: str) -> None:
    session, base_params, target = TARGET_DTE[layer]
    base = _decide(base_params, session=session)
    changed = _decide(_with_layer(layer, base_params, target_dte=target), session=session)
    default, moved = _expiry(base, layer), _expiry(changed, layer)
    assert default is not None
    assert moved is not None
    assert moved != default
    assert abs((moved - session).days - target) < abs((default - session).days - target)


LONG_DELTA = {"short": 0.50, "medium": 0.50, "long": 0.35}


def _long_delta(layer: str) -> None:
    base = _decide()
    changed = _decide(_with_layer(layer, long_delta=LONG_DELTA[layer]))
    # a higher call delta is a lower strike
    assert _strikes(changed, layer)[0] < _strikes(base, layer)[0]


def _short_delta(layer: str) -> None:
    lp: HedgeLayerParams = getattr(P, layer)
    base = _decide()
    if lp.short_delta is None:
        # a plain call becomes a call spread: the same long call and a 10-delta call sold
        changed = _decide(_with_layer(layer, short_delta=0.10))
        assert len(_strikes(base, layer)) == 1
        long_k, short_k = _strikes(changed, layer)
        assert long_k == _strikes(base, layer)[0]
        assert short_k > long_k
    else:
        # a higher short delta sells a lower strike (still above the long one)
        changed = _decide(_with_layer(layer, short_delta=2 * lp.short_delta))
        (long0, short0), (long1, short1) = _strikes(base, layer), _strikes(changed, layer)
        assert long1 == long0
        assert long0 < short1 < short0


# strike_rule and vx1_multiple on EARLY: VX1 = 16.5 (the 2019-06-19 future), 1.2 x 16.5 = 19.8:
# strike 20, away from every layer's delta strike (short 21, medium 23, long 27).
def _strike_rule(layer: str) -> None:
    base = _decide(session=EARLY)
    changed = _decide(_with_layer(layer, strike_rule="vx1_multiple"), session=EARLY)
    assert _strikes(base, layer)[0] != 20.0
    assert _strikes(changed, layer)[0] == 20.0
    opened = _opens(changed, layer)[0]
    assert "strike 20 nearest 1.2 x VX1 16.50 = 19.80" in opened.reasons


def _vx1_multiple(layer: str) -> None:
    rule = _with_layer(layer, strike_rule="vx1_multiple")
    base = _decide(rule, session=EARLY)
    changed = _decide(_with_layer(layer, rule, vx1_multiple=1.6), session=EARLY)
    # 1.6 x 16.5 = 26.4: a higher strike than 1.2 x VX1's 20
    assert _strikes(changed, layer)[0] > _strikes(base, layer)[0]


# --------------------------------------------------------------------------------------------
# score, tranches, monetise, discipline


def _tranches_per_layer() -> None:
    base = _decide()
    changed = _decide(_with(tranches_per_layer=2))
    # 2 tranches of 50% instead of 4 of 25%: the score-1 tranche is twice as large
    b_plan, c_plan = base.plan[0], changed.plan[0]
    assert c_plan.tranche_budget_usd == pytest.approx(2 * b_plan.tranche_budget_usd)
    assert _contracts(changed, "short") > _contracts(base, "short")


def _max_score() -> None:
    base = _decide(indicators=EVERY, delta_band_breached=True)
    changed = _decide(_with(max_score=3), indicators=EVERY, delta_band_breached=True)
    assert (base.score.score, changed.score.score) == (4, 3)
    assert [p.bought for p in base.plan] == [4, 4, 4]
    assert [p.bought for p in changed.plan] == [3, 3, 3]


def _vvix_rsi_above() -> None:
    assert hedge_score(ONE, False).score == 1  # VVIX RSI 75 > 70
    assert hedge_score(ONE, False, params=_with(vvix_rsi_above=80.0)).score == 0
    assert len(_opens(_decide())) == 3
    assert _decide(_with(vvix_rsi_above=80.0)).orders == ()


def _event_window_days() -> None:
    assert hedge_score(QUIET, False).score == 0  # PPI in 9 sessions > 5
    assert hedge_score(QUIET, False, params=_with(event_window_days=9)).score == 1
    assert _decide(indicators=QUIET).orders == ()
    assert len(_opens(_decide(_with(event_window_days=9), indicators=QUIET))) == 3


def _closes(d: HedgeDecision) -> list[OrderIntent]:
    return [o for o in d.orders if o.action is Action.CLOSE]


def _take_profit_multiple() -> None:
    held = [_short_tranche(value=810.0)]  # 3x its $270 cost
    base = _decide(indicators=QUIET, open_hedges=held)
    changed = _decide(_with(take_profit_multiple=4.0), indicators=QUIET, open_hedges=held)
    (sold,) = _closes(base)
    assert sold.reasons[1].startswith("take profit")
    assert changed.orders == ()  # held for 4x


def _regime_fallback_steps() -> None:
    held = [_short_tranche(value=300.0)]
    kw: dict[str, Any] = {
        "indicators": QUIET, "open_hedges": held, "regime_level": 1, "peak_regime_level": 3,
    }  # fmt: skip
    base = _decide(**kw)
    changed = _decide(_with(regime_fallback_steps=3), **kw)
    (sold,) = _closes(base)  # two levels below the peak: the spike is passing
    assert sold.reasons[1].startswith("regime fell back 2 steps")
    assert changed.orders == ()  # three steps needed


def _roll_below_dte() -> None:
    held = [_short_tranche(value=300.0)]  # 21 DTE on SESSION: not rolled below 10 DTE
    base = _decide(indicators=QUIET, open_hedges=held)
    changed = _decide(_with(roll_below_dte=25), indicators=QUIET, open_hedges=held)
    assert base.orders == ()
    (close,) = _closes(changed)
    assert close.reasons[1].startswith("time-shift: short-layer tranche has 21 DTE < 25")
    (rolled,) = _opens(changed, "medium")
    assert rolled.reasons[0].startswith("time-shift roll of ALVH short tranche 1")


@lru_cache(maxsize=1)
def _spend() -> float:
    """Premium of the default score-1 purchases (one tranche per layer)."""
    d = _decide()
    assert len(_opens(d)) == 3
    return d.spend_usd


def _cost_ratio_max() -> None:
    credit = 3.15 * _spend()  # a third of it is 1.05x today's purchases: all bought
    base = _decide(condor_credit_window_usd=credit)
    changed = _decide(_with(cost_ratio_max=0.25), condor_credit_window_usd=credit)
    assert len(_opens(base)) == 3
    assert base.refusals == ()
    assert len(_opens(changed)) < 3
    assert "cost discipline" in _refusal_text(changed)


def _initiation_cap(key: str) -> None:
    equity = _spend() / 0.015  # the default 2% cap is 1.33x today's purchases: all bought
    base = _decide(equity_usd=equity)
    changed = _decide(_with(**{key: 0.01}), equity_usd=equity)
    assert len(_opens(base)) == 3
    assert base.refusals == ()
    assert len(_opens(changed)) < 3
    assert "per-initiation cap" in _refusal_text(changed)


# cost_window_cycles, through the engine: on the first 2013 session of a synthetic market a core
# condor opens (credit ~$2,100: a third is ~$700) and the hedge stage runs after it (VVIX RSI
# above 0: score >= 1). The book holds a $2,000 long-layer tranche opened 62 days earlier:
# inside the default window (3 x the condor's 45-day target DTE = 135 days), so its spend blocks
# every purchase; outside a one-cycle window (45 days), so the hedge buys.
ENGINE_DAY = date(2013, 1, 2)


@lru_cache(maxsize=1)
def _history() -> MarketHistory:
    return MarketHistory.from_synthetic(
        synthetic_market(date(2012, 1, 3), date(2013, 3, 28), seed=7)
    )


def _engine(hedge: HedgeParams) -> DayDecision:
    config = StrategyConfig(condor=CondorParams(wing_points=25.0), hedge=hedge)
    name = "ALVH long tranche 1 2012-11-01 VIX 2013-06-19 31C call"
    leg = Leg(OptionContract("VIX", date(2013, 6, 19), 31.0, Right.CALL), 10, 2.0)
    return run_day(
        _history(), ENGINE_DAY, clock=FixedClock(stamp(ENGINE_DAY)), config=config,
        book=Book((Structure(name, (leg,)),)), equity_usd=1_000_000.0,
        stages=(CoreCondorStage(), HedgeStage()),
    )  # fmt: skip


def _hedge_opens(d: DayDecision) -> list[OrderIntent]:
    return [o for o in d.orders if o.action is Action.OPEN and o.layer is Layer.HEDGE]


def _cost_window_cycles() -> None:
    base_params = _with(vvix_rsi_above=0.0)
    base = _engine(base_params)
    changed = _engine(_valid(base_params.model_copy(update={"cost_window_cycles": 1})))
    assert any(o.layer is Layer.CORE for o in base.orders)  # the condor: credit in the window
    assert _hedge_opens(base) == []
    hedge_refusals = [r for r in base.refusals if r.layer is Layer.HEDGE]
    assert any("cost discipline" in " ".join(r.reasons) for r in hedge_refusals)
    assert "over the trailing 3 condor cycles" in " ".join(hedge_refusals[0].reasons)
    assert _hedge_opens(changed)  # the old tranche's spend left the window


# --------------------------------------------------------------------------------------------
# the cases

LAYER_CHECKS: dict[str, Callable[[str], None]] = {
    "budget_frac": _budget_frac,
    "min_dte": _min_dte,
    "target_dte": _target_dte,
    "max_dte": _max_dte,
    "long_delta": _long_delta,
    "short_delta": _short_delta,
    "strike_rule": _strike_rule,
    "vx1_multiple": _vx1_multiple,
}

CASES: dict[str, Callable[[], None]] = {
    **{
        f"hedge.{layer}.{key}": partial(check, layer)
        for layer in ("short", "medium", "long")
        for key, check in LAYER_CHECKS.items()
    },
    "hedge.tranches_per_layer": _tranches_per_layer,
    "hedge.max_score": _max_score,
    "hedge.vvix_rsi_above": _vvix_rsi_above,
    "hedge.event_window_days": _event_window_days,
    "hedge.take_profit_multiple": _take_profit_multiple,
    "hedge.regime_fallback_steps": _regime_fallback_steps,
    "hedge.roll_below_dte": _roll_below_dte,
    "hedge.cost_ratio_max": _cost_ratio_max,
    "hedge.cost_window_cycles": _cost_window_cycles,
    "hedge.initiation_risk_frac": partial(_initiation_cap, "initiation_risk_frac"),
    "hedge.initiation_hard_cap_frac": partial(_initiation_cap, "initiation_hard_cap_frac"),
}


def _leaves(model: BaseModel, prefix: str) -> set[str]:
    out: set[str] = set()
    for name in type(model).model_fields:
        value = getattr(model, name)
        out |= (
            _leaves(value, f"{prefix}{name}.")
            if isinstance(value, BaseModel)
            else {f"{prefix}{name}"}
        )
    return out


def test_cases_cover_exactly_the_hedge_keys() -> None:
    assert set(CASES) == _leaves(StrategyConfig().hedge, "hedge.")


@pytest.mark.parametrize("key", sorted(CASES))
def test_key_changes_behaviour(key: str) -> None:
    CASES[key]()
