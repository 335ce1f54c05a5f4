"""Management rules on hand-built position states: each rule, its reason, and the priorities."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vixshield.errors import InvalidInputError
from vixshield.strategy.management import (
    Action,
    ManagementParams,
    PositionState,
    check_crowding,
    check_profit_target,
    check_stop_loss,
    check_tested_side,
    check_time_exit,
    manage,
    near_breakeven,
)

P = ManagementParams()


def state(
    *,
    name: str = "IC",
    quantity: int = 2,
    credit: float = 1000.0,
    cost: float = 800.0,
    dte: int = 40,
    put_delta: float | None = -0.12,
    call_delta: float | None = 0.11,
    bes: tuple[float, ...] = (2700.0, 3100.0),
) -> PositionState:
    return PositionState(
        name=name,
        quantity=quantity,
        credit_usd=credit,
        cost_to_close_usd=cost,
        dte=dte,
        short_put_delta=put_delta,
        short_call_delta=call_delta,
        breakevens_points=bes,
    )


def test_profit_target_at_half_the_credit() -> None:
    # credit 1000, cost to close 500: P&L 500 = 50% of the credit -> close
    d = check_profit_target(state(cost=500.0), P)
    assert d.action is Action.CLOSE
    assert "profit target" in d.reasons[0]
    assert "500.00 USD >= 50% of the 1,000.00 USD credit" in d.reasons[0]
    # cost 501: P&L 499 < 500 -> hold
    assert check_profit_target(state(cost=501.0), P).action is Action.HOLD


def test_stop_at_a_loss_of_twice_the_credit() -> None:
    # credit 1000, cost 3000: P&L -2000 = -2 x credit -> close
    d = check_stop_loss(state(cost=3000.0), P)
    assert d.action is Action.CLOSE
    assert "stop loss" in d.reasons[0]
    assert "2x the 1,000.00 USD credit" in d.reasons[0]
    assert check_stop_loss(state(cost=2999.0), P).action is Action.HOLD


def test_time_exit_at_21_dte() -> None:
    d = check_time_exit(state(dte=21), P)
    assert d.action is Action.CLOSE
    assert d.reasons == ("time exit: 21 days to expiry <= 21",)
    assert check_time_exit(state(dte=22), P).action is Action.HOLD
    assert check_time_exit(state(dte=3), ManagementParams(exit_dte=0)).action is Action.HOLD


def test_tested_put_side_rolls_the_call_side() -> None:
    d = check_tested_side(state(put_delta=-0.31), P)
    assert d.action is Action.ROLL_UNTESTED
    assert d.side == "call"
    assert d.target_delta == pytest.approx(0.12)
    assert "put side tested: short put |delta| 0.31 > 0.30" in d.reasons[0]
    assert check_tested_side(state(put_delta=-0.30), P).action is Action.HOLD


def test_tested_side_can_close_instead() -> None:
    params = ManagementParams(tested_action="close_tested")
    d = check_tested_side(state(call_delta=0.35), params)
    assert d.action is Action.CLOSE_TESTED
    assert d.side == "call"
    assert "close the tested call side" in d.reasons[0]
    # a put butterfly has no call side to roll: it closes the tested side
    bwb = check_tested_side(state(call_delta=None, put_delta=-0.4), P)
    assert bwb.action is Action.CLOSE_TESTED
    assert bwb.side == "put"
    both = check_tested_side(state(put_delta=-0.4, call_delta=0.4), P)
    assert both.action is Action.CLOSE
    assert "both sides tested" in both.reasons[0]


def test_near_breakeven_within_one_percent() -> None:
    # spot 2720: |2720 - 2700| = 20 <= 27.2 -> near; spot 2730: 30 > 27.3 -> not
    assert near_breakeven(state(), 2720.0, P) == 2700.0
    assert near_breakeven(state(), 2730.0, P) is None
    with pytest.raises(InvalidInputError):
        near_breakeven(state(), 0.0, P)


def test_crowding_halves_each_structure_near_a_breakeven() -> None:
    a = state(name="A", quantity=4, bes=(2700.0, 3100.0))
    b = state(name="B", quantity=1, bes=(2710.0, 3150.0))
    c = state(name="C", quantity=2, bes=(2500.0, 3300.0))
    out = check_crowding([a, b, c], 2715.0, P)
    assert [d.action for d in out] == [Action.REDUCE, Action.REDUCE, Action.HOLD]
    assert out[0].new_quantity == 2
    assert out[1].new_quantity == 0
    assert "a 1-lot cannot be halved" in out[1].reasons[0]
    assert "crowding: 2 open structures within 1% of a break-even" in out[0].reasons[0]
    # one structure alone near its break-even is not crowding
    alone = check_crowding([a, c], 2715.0, P)
    assert [d.action for d in alone] == [Action.HOLD, Action.HOLD]
    assert "only 1 structure(s)" in alone[0].reasons[0]


def test_manage_priorities() -> None:
    spot = 2715.0
    stop = state(name="stop", cost=3500.0, bes=(2000.0, 4000.0))
    profit = state(name="profit", cost=100.0, bes=(2000.0, 4000.0))
    timed = state(name="time", dte=10, bes=(2000.0, 4000.0))
    tested = state(name="tested", put_delta=-0.45, bes=(2000.0, 4000.0))
    quiet = state(name="quiet", bes=(2000.0, 4000.0))
    out = manage([stop, profit, timed, tested, quiet], spot)
    assert [d.action for d in out] == [
        Action.CLOSE,
        Action.CLOSE,
        Action.CLOSE,
        Action.ROLL_UNTESTED,
        Action.HOLD,
    ]
    assert "stop loss" in out[0].reasons[0]
    assert "profit target" in out[1].reasons[0]
    assert "time exit" in out[2].reasons[0]
    assert out[4].reasons[0].startswith("no rule fired")


def test_manage_crowding_replaces_the_tested_side_close_but_not_the_stop() -> None:
    spot = 2715.0
    params = ManagementParams(tested_action="close_tested")
    a = state(name="A", quantity=4, put_delta=-0.40, bes=(2700.0, 3100.0))
    b = state(name="B", quantity=2, cost=3500.0, bes=(2710.0, 3100.0))  # at its stop
    out = manage([a, b], spot, params)
    assert out[0].action is Action.REDUCE
    assert out[0].new_quantity == 2
    assert any("overridden by crowding: put side tested" in r for r in out[0].reasons)
    assert out[1].action is Action.CLOSE  # a stop is a stop by default
    soft = manage([a, b], spot, params.model_copy(update={"stop_yields_to_crowding": True}))
    assert soft[1].action is Action.REDUCE
    assert any("overridden by crowding: stop loss" in r for r in soft[1].reasons)


def test_states_check_themselves() -> None:
    with pytest.raises(InvalidInputError, match="credit_usd"):
        state(credit=0.0)
    with pytest.raises(InvalidInputError, match="quantity"):
        state(quantity=0)
    with pytest.raises(InvalidInputError, match="short_put_delta"):
        state(put_delta=0.2)
    assert state(cost=1200.0).pnl_usd == pytest.approx(-200.0)


def test_params_frozen_closed_bounded() -> None:
    with pytest.raises(ValidationError):
        P.exit_dte = 10  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ManagementParams(exit_days=10)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ManagementParams(profit_target_frac=1.5)
    with pytest.raises(ValidationError):
        ManagementParams(crowding_min_count=1)
