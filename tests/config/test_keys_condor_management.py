"""Every ``condor.*`` and ``management.*`` key changes what the method does.

Each check builds (or manages) with a base configuration and with that configuration with ONE key
changed, and asserts the outputs differ, in the expected direction where there is one. The base
is the documented default except where the key only acts under another setting: the ``short_sd*``
keys act under ``short_rule = "sd"``, ``wing_delta`` under ``wing_rule = "delta"``,
``aligned_put_delta_min`` and ``align_breakeven`` only when the put break-even needs moving
(``drawdown_tolerance = 0.10`` on this chain), and a few window edges only when the target lies
beyond them (each base says why). Condors are built on the deterministic model chain of
2019-06-26 (the default builds SPX 2019-08-16, 51 DTE, 2625/2675P 3070/3120C).

(A former key, ``condor.liquidity.require_short_bid``, was removed: a quote is liquid only with
an implied vol, which needs a non-zero bid, so the key could never change a build.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from vixshield.data.model_chains import model_spx_chain
from vixshield.strategy.condor import (
    Candidate,
    CondorParams,
    LiquidityParams,
    Refusal,
    build_iron_condor,
    price_chain,
)
from vixshield.strategy.management import Action, Decision, ManagementParams, PositionState, manage

SESSION = date(2019, 6, 26)
SPOT = 2917.0
RATE = 0.0217
ROOTS = ("SPX", "SPXW")

# --------------------------------------------------------------------------------------------
# condor fixtures


@lru_cache(maxsize=1)
def _chain() -> pd.DataFrame:
    return model_spx_chain(
        SESSION, SPOT, vix=16.0, vix9d=14.5, vix3m=17.0, vix6m=18.0, skew=117.0,
        rate=RATE, div_yield=0.019,
    )  # fmt: skip


@lru_cache(maxsize=1)
def _priced() -> pd.DataFrame:
    return price_chain(_chain(), rate=RATE, roots=ROOTS, liquidity=LiquidityParams())


@lru_cache(maxsize=64)
def _build(params: CondorParams) -> Candidate | Refusal:
    return build_iron_condor(_chain(), rate=RATE, params=params)


def _candidate(result: Candidate | Refusal) -> Candidate:
    assert isinstance(result, Candidate), result
    return result


def _refusal(result: Candidate | Refusal) -> Refusal:
    assert isinstance(result, Refusal), result
    return result


def _pair(base: CondorParams, **change: object) -> tuple[Candidate | Refusal, Candidate | Refusal]:
    """The build with ``base`` and with ``base`` with one key changed (validated)."""
    assert len(change) == 1
    changed = CondorParams.model_validate({**base.model_dump(), **change})
    assert changed != base
    return _build(base), _build(changed)


def _liq(**change: object) -> dict[str, LiquidityParams]:
    assert len(change) == 1
    return {"liquidity": LiquidityParams.model_validate(change)}


def _strikes(c: Candidate) -> dict[str, float]:
    """Long put, short put, short call, long call strikes by name."""
    legs = {(leg.contract.right.value, leg.quantity > 0): leg for leg in c.structure.legs}
    return {
        "lp": legs[("P", True)].contract.strike,
        "sp": legs[("P", False)].contract.strike,
        "sc": legs[("C", False)].contract.strike,
        "lc": legs[("C", True)].contract.strike,
    }


def _quotes(c: Candidate, chain: pd.DataFrame | None = None) -> pd.DataFrame:
    """The candidate's four quotes (bid, ask, delta, ...) from the priced chain."""
    priced = _priced() if chain is None else chain
    rows = []
    for leg in c.structure.legs:
        k = leg.contract
        hit = priced.loc[
            (priced["root"] == k.root)
            & (priced["expiry"] == k.expiry)
            & (priced["strike"] == k.strike)
            & (priced["right"] == k.right.value)
        ]
        assert len(hit) == 1
        rows.append(hit)
    return pd.concat(rows)


def _widths(quotes: pd.DataFrame) -> npt.NDArray[np.float64]:
    """``ask - bid`` of each quote."""
    ask: npt.NDArray[np.float64] = quotes["ask"].to_numpy(dtype=np.float64)
    bid: npt.NDArray[np.float64] = quotes["bid"].to_numpy(dtype=np.float64)
    return ask - bid


def _sd_distance(c: Candidate, strike: float) -> float:
    """|ln(K/F)| / (sigma_ATM sqrt T) on the candidate's expiry, as the sd rule measures it."""
    priced = _priced()
    one = priced.loc[(priced["root"] == c.root) & (priced["expiry"] == c.expiry)]
    fwd = float(one["forward"].iloc[0])
    gap = (one["strike"] - fwd).abs()
    atm = float(one.loc[gap == gap.min(), "iv"].mean())
    return abs(math.log(strike / fwd)) / (atm * math.sqrt(float(one["t_years"].iloc[0])))


DEFAULT = CondorParams()
NO_CREDIT_FLOOR = CondorParams(min_credit_frac=0.0)
SD = CondorParams(short_rule="sd", min_credit_frac=0.0)  # the sd rule's call credit is small
WING_DELTA = CondorParams(wing_rule="delta", min_credit_frac=0.0)
ALIGNING = CondorParams(drawdown_tolerance=0.10)  # the default put break-even fails 10%


# --------------------------------------------------------------------------------------------
# condor checks


def check_roots() -> None:
    a, b = map(_candidate, _pair(DEFAULT, roots=("SPXW",)))
    assert (a.root, b.root) == ("SPX", "SPXW")  # same 51-DTE expiry, the weekly root


def check_target_dte() -> None:
    a, b = map(_candidate, _pair(DEFAULT, target_dte=58))
    assert (a.dte, b.dte) == (51, 58)


def check_min_dte() -> None:
    a, b = map(_candidate, _pair(DEFAULT, min_dte=44))
    assert a.dte == 51
    assert b.dte == 44  # the 44-DTE weekly is now in the window and nearest the 45 target


def check_max_dte() -> None:
    a, b = _pair(DEFAULT, max_dte=50)
    _candidate(a)
    assert "no SPX/SPXW expiry with 45-50 days to expiry" in _refusal(b).reasons[0]


def check_short_rule() -> None:
    a, b = map(_candidate, _pair(NO_CREDIT_FLOOR, short_rule="sd"))
    assert "by the delta rule" in a.notes[0]
    assert "by the sd rule" in b.notes[0]
    sa, sb = _strikes(a), _strikes(b)
    assert (sa["sp"], sa["sc"]) != (sb["sp"], sb["sc"])


def check_short_delta() -> None:
    a, b = map(_candidate, _pair(DEFAULT, short_delta=0.15))
    sa, sb = _strikes(a), _strikes(b)
    assert sb["sp"] > sa["sp"]  # a larger delta: both shorts nearer the money
    assert sb["sc"] < sa["sc"]


def check_short_delta_min() -> None:
    # the default shorts are at |delta| 0.118; a floor of 0.12 excludes them
    a, b = map(_candidate, _pair(DEFAULT, short_delta_min=0.12))
    qa, qb = _quotes(a), _quotes(b)
    shorts_a = qa.loc[qa["strike"].isin([_strikes(a)["sp"], _strikes(a)["sc"]]), "delta"].abs()
    shorts_b = qb.loc[qb["strike"].isin([_strikes(b)["sp"], _strikes(b)["sc"]]), "delta"].abs()
    assert (shorts_a < 0.12).all()
    assert (shorts_b >= 0.12).all()
    assert _strikes(b)["sp"] > _strikes(a)["sp"]


def check_short_delta_max() -> None:
    # target 0.125: the nearest put is at |delta| 0.1255, just above a cap of 0.125
    base = CondorParams(short_delta=0.125)
    a, b = map(_candidate, _pair(base, short_delta_max=0.125))
    sa, sb = _strikes(a), _strikes(b)
    assert sb["sp"] < sa["sp"]  # the cap pushes the short put further out
    qb = _quotes(b)
    assert (qb["delta"].abs() <= 0.125).all()


def check_short_sd() -> None:
    a, b = map(_candidate, _pair(SD, short_sd=1.5))
    sa, sb = _strikes(a), _strikes(b)
    assert sb["sp"] > sa["sp"]  # fewer standard deviations: both shorts nearer the money
    assert sb["sc"] < sa["sc"]


def check_short_sd_min() -> None:
    a, b = map(_candidate, _pair(SD, short_sd_min=1.75))
    sa, sb = _strikes(a), _strikes(b)
    assert min(_sd_distance(a, sa["sp"]), _sd_distance(a, sa["sc"])) < 1.75
    assert min(_sd_distance(b, sb["sp"]), _sd_distance(b, sb["sc"])) >= 1.75
    assert (b.expiry, sb["sp"]) != (a.expiry, sa["sp"])


def check_short_sd_max() -> None:
    # target 1.8 sd: the nearest put lies beyond 1.8; a cap at 1.8 moves it in
    base = SD.model_copy(update={"short_sd": 1.8})
    a, b = map(_candidate, _pair(base, short_sd_max=1.8))
    sa, sb = _strikes(a), _strikes(b)
    assert _sd_distance(a, sa["sp"]) > 1.8
    assert _sd_distance(b, sb["sp"]) <= 1.8
    assert sb["sp"] > sa["sp"]


def check_wing_rule() -> None:
    a, b = map(_candidate, _pair(NO_CREDIT_FLOOR, wing_rule="delta"))
    sa, sb = _strikes(a), _strikes(b)
    assert (sa["sp"], sa["sc"]) == (sb["sp"], sb["sc"])  # same shorts, other wings
    assert sa["sp"] - sa["lp"] == 50.0
    assert sb["sp"] - sb["lp"] != 50.0
    assert "wings by the delta rule" in b.notes[0]


def check_wing_points() -> None:
    a, b = map(_candidate, _pair(DEFAULT, wing_points=100.0))
    sa, sb = _strikes(a), _strikes(b)
    assert sa["sp"] - sa["lp"] == 50.0
    assert sb["sp"] - sb["lp"] == 100.0
    assert b.analytics.max_loss_usd > a.analytics.max_loss_usd


def check_wing_delta() -> None:
    a, b = map(_candidate, _pair(WING_DELTA, wing_delta=0.08))
    sa, sb = _strikes(a), _strikes(b)
    assert sb["lp"] > sa["lp"]  # a larger wing delta: wings nearer the shorts
    assert sb["lc"] < sa["lc"]


def check_max_wing_points() -> None:
    # delta wings are 140 points wide on this chain; points wings never exceed wing_points
    a, b = _pair(WING_DELTA, max_wing_points=100.0)
    _candidate(a)
    assert all("wider than max_wing_points 100" in r for r in _refusal(b).reasons)


def check_min_credit_frac() -> None:
    a, b = _pair(DEFAULT, min_credit_frac=0.3)
    assert _candidate(a).analytics.credit_points < 0.3 * 50.0
    assert all("credit" in r and "below 30%" in r for r in _refusal(b).reasons)


def check_drawdown_tolerance() -> None:
    a, b = map(_candidate, _pair(DEFAULT, drawdown_tolerance=0.10))
    sa, sb = _strikes(a), _strikes(b)
    assert sb["sp"] < sa["sp"]  # the put spread moved out
    assert (sb["sc"], sb["lc"]) == (sa["sc"], sa["lc"])
    assert b.analytics.breakeven_low_points is not None
    assert b.analytics.breakeven_low_points <= SPOT * 0.90
    assert any("put spread moved out" in n for n in b.notes)


def check_align_breakeven() -> None:
    a, b = _pair(ALIGNING, align_breakeven=False)
    assert any("put spread moved out" in n for n in _candidate(a).notes)
    assert all("alignment is off" in r for r in _refusal(b).reasons)


def check_aligned_put_delta_min() -> None:
    # the move takes the SPX short put to |delta| 0.090; a floor of 0.10 forbids that
    a, b = map(_candidate, _pair(ALIGNING, aligned_put_delta_min=0.10))
    qa, qb = _quotes(a), _quotes(b)
    put_a = abs(float(qa.loc[qa["strike"] == _strikes(a)["sp"], "delta"].iloc[0]))
    put_b = abs(float(qb.loc[qb["strike"] == _strikes(b)["sp"], "delta"].iloc[0]))
    assert put_a < 0.10 <= put_b
    assert (b.root, b.expiry) != (a.root, a.expiry)  # only a later expiry can clear it


def check_max_quote_width_points() -> None:
    a, b = map(_candidate, _pair(DEFAULT, **_liq(max_quote_width_points=0.25)))
    wa, wb = _widths(_quotes(a)), _widths(_quotes(b))
    assert (wa > 0.25 + 1e-9).any()
    assert (wb <= 0.25 + 1e-9).all()
    assert _strikes(b) != _strikes(a)


def check_max_quote_width_frac() -> None:
    a, b = map(_candidate, _pair(DEFAULT, **_liq(max_quote_width_frac=0.05)))
    qa, qb = _quotes(a), _quotes(b)
    fa = _widths(qa) / qa["mid"].to_numpy(dtype=np.float64)
    fb = _widths(qb) / qb["mid"].to_numpy(dtype=np.float64)
    assert (fa > 0.05).any()
    assert (fb <= 0.05).all()
    assert _strikes(b)["lc"] < _strikes(a)["lc"]  # the quoted-wide far call wing is skipped


def _thin_at_default_shorts(column: str) -> pd.DataFrame:
    """The chain with ``column`` given: 0 at the default short strikes, 100 elsewhere."""
    s = _strikes(_candidate(_build(DEFAULT)))
    chain = _chain()
    thin = chain["strike"].isin([s["sp"], s["sc"]]).to_numpy()
    return chain.assign(**{column: np.where(thin, 0.0, 100.0)})


def _liquidity_floor(column: str, key: str) -> None:
    chain = _thin_at_default_shorts(column)
    base = build_iron_condor(chain, rate=RATE, params=DEFAULT)
    changed = build_iron_condor(
        chain, rate=RATE, params=DEFAULT.model_copy(update=_liq(**{key: 10.0}))
    )
    sa, sb = _strikes(_candidate(base)), _strikes(_candidate(changed))
    assert sa == _strikes(_candidate(_build(DEFAULT)))  # 0: not checked
    assert sb["sp"] != sa["sp"]
    assert sb["sc"] != sa["sc"]


def check_min_open_interest() -> None:
    _liquidity_floor("open_interest", "min_open_interest")


def check_min_volume() -> None:
    _liquidity_floor("volume", "min_volume")


# --------------------------------------------------------------------------------------------
# management fixtures and checks


def _state(
    *,
    name: str = "IC",
    quantity: int = 4,
    cost: float = 800.0,
    dte: int = 40,
    put_delta: float = -0.12,
    call_delta: float = 0.11,
    bes: tuple[float, ...] = (2700.0, 3100.0),
) -> PositionState:
    return PositionState(
        name=name, quantity=quantity, credit_usd=1000.0, cost_to_close_usd=cost, dte=dte,
        short_put_delta=put_delta, short_call_delta=call_delta, breakevens_points=bes,
    )  # fmt: skip


MGMT = ManagementParams()
MGMT_SPOT = 2900.0


def _manage(
    states: tuple[PositionState, ...], **change: object
) -> tuple[tuple[Decision, ...], tuple[Decision, ...]]:
    assert len(change) == 1
    changed = ManagementParams.model_validate({**MGMT.model_dump(), **change})
    assert changed != MGMT
    return manage(states, MGMT_SPOT, MGMT), manage(states, MGMT_SPOT, changed)


def _crowd(*, cost: float = 800.0) -> tuple[PositionState, ...]:
    """Two structures, each with a break-even 20 points (0.69%) below spot; A at ``cost``."""
    return (
        _state(name="A", cost=cost, bes=(2880.0, 3100.0)),
        _state(name="B", bes=(2880.0, 3200.0)),
    )


def check_profit_target_frac() -> None:
    (a,), (b,) = _manage((_state(cost=700.0),), profit_target_frac=0.25)  # P&L 30% of credit
    assert a.action is Action.HOLD
    assert b.action is Action.CLOSE
    assert "profit target" in b.reasons[0]


def check_stop_loss_multiple() -> None:
    (a,), (b,) = _manage((_state(cost=2600.0),), stop_loss_multiple=1.5)  # loss 1.6x credit
    assert a.action is Action.HOLD
    assert b.action is Action.CLOSE
    assert "stop loss" in b.reasons[0]


def check_exit_dte() -> None:
    (a,), (b,) = _manage((_state(dte=21),), exit_dte=0)  # a ladder rung held to expiry
    assert a.action is Action.CLOSE
    assert "time exit" in a.reasons[0]
    assert b.action is Action.HOLD


def check_tested_delta() -> None:
    (a,), (b,) = _manage((_state(put_delta=-0.25),), tested_delta=0.20)
    assert a.action is Action.HOLD
    assert b.action is Action.ROLL_UNTESTED
    assert b.side == "call"


def check_tested_action() -> None:
    (a,), (b,) = _manage((_state(put_delta=-0.35),), tested_action="close_tested")
    assert (a.action, a.side) == (Action.ROLL_UNTESTED, "call")
    assert (b.action, b.side) == (Action.CLOSE_TESTED, "put")


def check_roll_target_delta() -> None:
    (a,), (b,) = _manage((_state(put_delta=-0.35),), roll_target_delta=0.20)
    assert a.action is b.action is Action.ROLL_UNTESTED
    assert a.target_delta == pytest.approx(0.12)
    assert b.target_delta == pytest.approx(0.20)  # the untested side rolls nearer the money


def check_breakeven_proximity_frac() -> None:
    # break-evens 40 points (1.4%) below spot: near only under a 2% band
    states = (_state(name="A", bes=(2860.0, 3100.0)), _state(name="B", bes=(2860.0, 3200.0)))
    a, b = _manage(states, breakeven_proximity_frac=0.02)
    assert all(d.action is Action.HOLD for d in a)
    assert all(d.action is Action.REDUCE for d in b)


def check_crowding_min_count() -> None:
    a, b = _manage(_crowd(), crowding_min_count=3)
    assert all(d.action is Action.REDUCE for d in a)
    assert all(d.action is Action.HOLD for d in b)


def check_size_cut_frac() -> None:
    a, b = _manage(_crowd(), size_cut_frac=0.75)
    assert [d.new_quantity for d in a] == [2, 2]  # 4 halved
    assert [d.new_quantity for d in b] == [1, 1]  # 4 cut by three quarters


def check_stop_yields_to_crowding() -> None:
    # structure A is crowded and at its stop (loss 2.5x the credit)
    a, b = _manage(_crowd(cost=3500.0), stop_yields_to_crowding=True)
    assert a[0].action is Action.CLOSE
    assert "stop loss" in a[0].reasons[0]
    assert b[0].action is Action.REDUCE
    assert b[0].new_quantity == 2
    assert any("overridden by crowding: stop loss" in r for r in b[0].reasons)


CASES: dict[str, Callable[[], None]] = {
    "condor.roots": check_roots,
    "condor.target_dte": check_target_dte,
    "condor.min_dte": check_min_dte,
    "condor.max_dte": check_max_dte,
    "condor.short_rule": check_short_rule,
    "condor.short_delta": check_short_delta,
    "condor.short_delta_min": check_short_delta_min,
    "condor.short_delta_max": check_short_delta_max,
    "condor.short_sd": check_short_sd,
    "condor.short_sd_min": check_short_sd_min,
    "condor.short_sd_max": check_short_sd_max,
    "condor.wing_rule": check_wing_rule,
    "condor.wing_points": check_wing_points,
    "condor.wing_delta": check_wing_delta,
    "condor.max_wing_points": check_max_wing_points,
    "condor.min_credit_frac": check_min_credit_frac,
    "condor.drawdown_tolerance": check_drawdown_tolerance,
    "condor.align_breakeven": check_align_breakeven,
    "condor.aligned_put_delta_min": check_aligned_put_delta_min,
    "condor.liquidity.max_quote_width_points": check_max_quote_width_points,
    "condor.liquidity.max_quote_width_frac": check_max_quote_width_frac,
    "condor.liquidity.min_open_interest": check_min_open_interest,
    "condor.liquidity.min_volume": check_min_volume,
    "management.profit_target_frac": check_profit_target_frac,
    "management.stop_loss_multiple": check_stop_loss_multiple,
    "management.exit_dte": check_exit_dte,
    "management.tested_delta": check_tested_delta,
    "management.tested_action": check_tested_action,
    "management.roll_target_delta": check_roll_target_delta,
    "management.breakeven_proximity_frac": check_breakeven_proximity_frac,
    "management.crowding_min_count": check_crowding_min_count,
    "management.size_cut_frac": check_size_cut_frac,
    "management.stop_yields_to_crowding": check_stop_yields_to_crowding,
}


@pytest.mark.parametrize("key", sorted(CASES))
def test_changing_the_key_changes_behaviour(key: str) -> None:
    CASES[key]()
