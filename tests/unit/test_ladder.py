"""The time-shifted ladder (METHOD §6) on a model chain: gates, skew, sizing, refusals."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from vixshield.data.model_chains import model_spx_chain
from vixshield.domain.decisions import Action, Layer, OrderIntent, Refusal
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.strategy.condor import BwbParams, Candidate, build_bwb
from vixshield.strategy.ladder import LadderParams, Rung, ladder_decision, open_rung_count

SESSION = date(2019, 6, 26)
SPOT = 2917.0
RATE = 0.0217
EQUITY = 1_000_000.0
TRIGGER: dict[str, Any] = {
    "vix_macd_compressed": True,
    "vix_macd_hist": -0.12,
    "rsi_vx1": 50.0,
    "rsi_spx": 55.0,
}


@pytest.fixture(scope="module")
def chain() -> pd.DataFrame:
    return model_spx_chain(
        SESSION, SPOT, vix=16.0, vix9d=14.5, vix3m=17.0, vix6m=18.0, skew=117.0,
        rate=RATE, div_yield=0.019,
    )  # fmt: skip


def _rung(expiry: date, opened: date, strike: float = 2800.0) -> Rung:
    c = OptionContract("SPXW", expiry, strike, Right.PUT)
    return Rung(Structure(f"rung {opened} {strike:g}", (Leg(c, -2, 5.0),)), opened)


def _decide(chain: pd.DataFrame, **kw: Any) -> OrderIntent | Refusal:
    args: dict[str, Any] = {
        "session": SESSION,
        "indicators": TRIGGER,
        "regime_level": 1,
        "open_rungs": (),
        "sessions_since_last_rung": None,
        "chain": chain,
        "rate": RATE,
        "equity_usd": EQUITY,
    }
    args.update(kw)
    return ladder_decision(**args)


def _intent(result: OrderIntent | Refusal) -> OrderIntent:
    assert isinstance(result, OrderIntent), result
    assert result.action is Action.OPEN
    assert result.layer is Layer.LADDER
    assert result.structure is not None
    return result


def _refusal(result: OrderIntent | Refusal) -> Refusal:
    assert isinstance(result, Refusal), result
    assert result.layer is Layer.LADDER
    assert result.what == "new ladder rung"
    return result


def test_opens_a_sized_bwb_rung_on_compression(chain: pd.DataFrame) -> None:
    intent = _intent(_decide(chain))
    assert intent.structure is not None
    legs = intent.structure.legs
    # independent: the same BWB built directly, one unit
    one = build_bwb(chain, rate=RATE, params=BwbParams())
    assert isinstance(one, Candidate)
    assert 7 <= one.dte <= 21
    max_loss = one.analytics.max_loss_usd
    # normal regime: budget 2% of $1,000,000 = $20,000; n = floor(20,000 / max loss)
    n = math.floor(20_000.0 / max_loss)
    assert n >= 1
    assert [leg.quantity for leg in legs] == [n, -2 * n, n]
    assert [leg.contract.strike for leg in legs] == [
        leg.contract.strike for leg in one.structure.legs
    ]
    assert intent.limit_price == pytest.approx(one.analytics.credit_points)
    assert intent.structure.name == f"ladder 2019-06-26 {one.structure.name}"
    assert intent.reasons[0].startswith("VIX MACD histogram compressed (|h| 0.12)")
    assert "rung 1 of max 4" in intent.reasons
    assert "first rung" in intent.reasons
    assert any(r.startswith("RSI skew rule off (VX1 RSI 50, needs < 35") for r in intent.reasons)
    assert f"{n} contract(s): max loss ${n * max_loss:,.2f} = " in " ".join(intent.reasons)


def test_cadence_one_rung_per_five_sessions(chain: pd.DataFrame) -> None:
    anchor = _rung(SESSION + timedelta(days=10), SESSION - timedelta(days=6))
    r = _refusal(_decide(chain, open_rungs=[anchor], sessions_since_last_rung=4))
    assert r.reasons == (
        "cadence: last rung 4 session(s) ago; at most one new rung per 5 sessions",
    )
    intent = _intent(_decide(chain, open_rungs=[anchor], sessions_since_last_rung=5))
    assert "rung 2 of max 4" in intent.reasons
    assert "cadence: last rung 5 sessions ago >= 5" in intent.reasons
    assert intent.reasons[-1] == f"older rungs stay as anchors: {anchor.name}"


def test_max_four_rungs_and_settled_rungs_do_not_count(chain: pd.DataFrame) -> None:
    live = [_rung(SESSION + timedelta(days=d), SESSION - timedelta(days=d)) for d in (2, 7, 12, 16)]
    r = _refusal(_decide(chain, open_rungs=live, sessions_since_last_rung=5))
    assert r.reasons == ("max rungs: 4 rungs open, at most 4",)
    # a rung that expired yesterday has settled: three open, the fourth may be added
    settled = [*live[1:], _rung(SESSION - timedelta(days=1), SESSION - timedelta(days=15))]
    assert open_rung_count(settled, SESSION) == 3
    intent = _intent(_decide(chain, open_rungs=settled, sessions_since_last_rung=5))
    assert "rung 4 of max 4" in intent.reasons


def test_no_trigger_refused(chain: pd.DataFrame) -> None:
    row = {**TRIGGER, "vix_macd_compressed": False, "vix_macd_hist": 0.31}
    r = _refusal(_decide(chain, indicators=row))
    assert r.reasons == ("no trigger: VIX MACD histogram not compressed (|h| 0.31)",)
    r = _refusal(_decide(chain, indicators={"vix_macd_compressed": None}))
    assert r.reasons == ("no trigger: VIX MACD compression unavailable",)


def test_rsi_skew_builds_a_put_bwb_at_the_lower_delta(chain: pd.DataFrame) -> None:
    row = {**TRIGGER, "rsi_vx1": 31.0, "rsi_spx": 64.0}
    # even when the configured rung is a condor, the skew rule gives a put-side BWB
    intent = _intent(_decide(chain, indicators=row, params=LadderParams(structure="condor")))
    assert intent.structure is not None
    assert "VX1 RSI 31 < 35 and SPX RSI 64 > 60: put-side BWB skewed to 10 delta" in (
        intent.reasons
    )
    assert all(leg.contract.right is Right.PUT for leg in intent.structure.legs)
    skewed = build_bwb(chain, rate=RATE, params=BwbParams(), prefer_put_side=True)
    assert isinstance(skewed, Candidate)
    assert [leg.contract.strike for leg in intent.structure.legs] == [
        leg.contract.strike for leg in skewed.structure.legs
    ]
    # the skewed body sits further out (lower delta) than the default 12.5-delta body
    plain = _intent(_decide(chain))
    assert plain.structure is not None
    assert intent.structure.legs[1].contract.strike < plain.structure.legs[1].contract.strike
    # boundaries are strict: VX1 RSI exactly 35 leaves the rule off
    edge = _intent(_decide(chain, indicators={**row, "rsi_vx1": 35.0}))
    assert any(r.startswith("RSI skew rule off (VX1 RSI 35") for r in edge.reasons)
    missing = _intent(_decide(chain, indicators={**row, "rsi_spx": float("nan")}))
    assert "RSI skew rule off: VX1 RSI or SPX RSI unavailable" in missing.reasons


def test_condor_rungs_when_configured(chain: pd.DataFrame) -> None:
    intent = _intent(_decide(chain, params=LadderParams(structure="condor")))
    assert intent.structure is not None
    rights = [leg.contract.right for leg in intent.structure.legs]
    assert rights == [Right.PUT, Right.PUT, Right.CALL, Right.CALL]
    assert "iron condor" in intent.structure.name
    expiry = intent.structure.expiries[0]
    assert 7 <= (expiry - SESSION).days <= 21
    # the core condor's break-even rule moved the put spread out, and the reasons say so
    assert any("put spread moved out" in r for r in intent.reasons)


def test_crisis_and_unknown_regime_refused_with_every_gate(chain: pd.DataFrame) -> None:
    row = {**TRIGGER, "vix_macd_compressed": False, "vix_macd_hist": 0.5}
    r = _refusal(_decide(chain, regime_level=4, indicators=row, sessions_since_last_rung=1))
    assert r.reasons == (
        "regime crisis (level 4 >= 4): no new rung",
        "cadence: last rung 1 session(s) ago; at most one new rung per 5 sessions",
        "no trigger: VIX MACD histogram not compressed (|h| 0.50)",
    )
    r = _refusal(_decide(chain, regime_level=None))
    assert r.reasons == ("regime unknown (VIX missing): no new rung",)
    with pytest.raises(InvalidInputError):
        _decide(chain, regime_level=5)
    with pytest.raises(InvalidInputError):
        _decide(chain, sessions_since_last_rung=-1)


def test_elevated_regime_halves_the_budget(chain: pd.DataFrame) -> None:
    one = build_bwb(chain, rate=RATE, params=BwbParams())
    assert isinstance(one, Candidate)
    intent = _intent(_decide(chain, regime_level=2))
    assert intent.structure is not None
    # elevated: 1% of $1,000,000 = $10,000; n = floor(10,000 / max loss)
    assert intent.structure.legs[0].quantity == math.floor(10_000.0 / one.analytics.max_loss_usd)


def test_rounds_to_zero_contracts(chain: pd.DataFrame) -> None:
    one = build_bwb(chain, rate=RATE, params=BwbParams())
    assert isinstance(one, Candidate)
    # 2% of $100,000 = $2,000 is less than one unit's max loss (about $2,450)
    assert one.analytics.max_loss_usd > 2_000.0
    r = _refusal(_decide(chain, equity_usd=100_000.0))
    assert r.reasons[-1] == (
        f"rounds to zero contracts: one unit's max loss ${one.analytics.max_loss_usd:,.2f} "
        "exceeds the $2,000.00 budget"
    )


def test_no_chain_expiry_in_the_window(chain: pd.DataFrame) -> None:
    far = chain.loc[[(e - SESSION).days > 21 for e in chain["expiry"]]]
    r = _refusal(_decide(far))
    assert "no put broken-wing butterfly:" in r.reasons
    assert any(
        x.startswith("no SPXW/SPX expiry with 7-21 days to expiry in the chain") for x in r.reasons
    )


def test_params_frozen_closed_bounded() -> None:
    p = LadderParams()
    assert (p.min_dte, p.target_dte, p.max_dte) == (7, 14, 21)
    assert (p.short_delta_min, p.short_delta_max, p.skewed_short_delta) == (0.10, 0.15, 0.10)
    assert (p.max_rungs, p.cadence_sessions) == (4, 5)
    assert (p.vx1_rsi_below, p.spx_rsi_above) == (35.0, 60.0)
    with pytest.raises(ValidationError):
        p.max_rungs = 5
    with pytest.raises(ValidationError, match="extra"):
        LadderParams(rungs=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        LadderParams(max_rungs=0)
    with pytest.raises(ValidationError, match="min_dte <= target_dte"):
        LadderParams(min_dte=15, target_dte=14)
    with pytest.raises(ValidationError, match="skewed_short_delta"):
        LadderParams(skewed_short_delta=0.05)
    # the ladder's window, deltas, roots and quote filters go to both builders
    assert LadderParams(max_dte=30, target_dte=20).bwb_params().max_dte == 30
    assert LadderParams().condor_params().min_dte == 7
