"""Sizing from the risk budget: whole contracts, regime budgets, the hard cap, reasons."""

from __future__ import annotations

from enum import StrEnum

import pytest
from pydantic import ValidationError

from vixshield.errors import InvalidInputError
from vixshield.strategy.sizing import SizingParams, contracts_for


def test_normal_regime_two_percent_whole_contracts() -> None:
    # $1,000,000 x 2% = $20,000; 20,000 / 4,400 = 4.55 -> 4 condors, $17,600 at risk.
    d = contracts_for(4_400.0, 1_000_000.0, "normal")
    assert d.contracts == 4
    assert d.budget_frac == 0.02
    assert d.budget_usd == pytest.approx(20_000.0)
    assert d.max_loss_usd == pytest.approx(17_600.0)
    assert d.risk_frac == pytest.approx(0.0176)
    assert not d.rounds_to_zero
    assert any("4 contract(s)" in r for r in d.reasons)
    assert contracts_for(4_400.0, 1_000_000.0, "calm").contracts == 4


def test_exact_budget_is_not_lost_to_float_rounding() -> None:
    # 0.01 * 11,000 / 4.4 is 24.999999999999996 in floats; the budget fits 25 units exactly.
    assert 0.01 * 11_000 / 4.4 < 25
    assert contracts_for(4.4, 11_000.0, "elevated").contracts == 25
    assert contracts_for(4.41, 11_000.0, "elevated").contracts == 24


def test_rounds_to_zero_says_so() -> None:
    d = contracts_for(4_400.0, 100_000.0, "normal")  # budget $2,000 < $4,400
    assert d.contracts == 0
    assert d.rounds_to_zero
    assert any("rounds to zero contracts" in r for r in d.reasons)
    assert d.max_loss_usd == 0.0


def test_regime_budgets() -> None:
    elevated = contracts_for(4_400.0, 1_000_000.0, "elevated")  # $10,000 -> 2
    assert (elevated.contracts, elevated.budget_frac) == (2, 0.01)
    stressed = contracts_for(4_400.0, 1_000_000.0, "stressed")
    assert (stressed.contracts, stressed.budget_frac) == (2, 0.01)
    crisis = contracts_for(4_400.0, 1_000_000.0, "crisis")
    assert crisis.contracts == 0
    assert crisis.budget_usd == 0.0
    assert not crisis.rounds_to_zero  # refused by the regime, not by rounding
    assert any("no new risk in the crisis regime" in r for r in crisis.reasons)


def test_regime_as_a_str_enum() -> None:
    class Regime(StrEnum):
        ELEVATED = "elevated"

    assert contracts_for(4_400.0, 1_000_000.0, Regime.ELEVATED).contracts == 2


def test_hard_cap_holds_whatever_the_budget() -> None:
    p = SizingParams(budget_frac=0.05, hard_cap_frac=0.03)
    d = contracts_for(1_000.0, 100_000.0, "normal", p)  # wanted $5,000, capped at $3,000
    assert d.contracts == 3
    assert d.budget_frac == 0.03
    assert d.risk_frac <= p.hard_cap_frac
    assert any("hard cap" in r for r in d.reasons)


def test_bad_inputs_raise() -> None:
    with pytest.raises(InvalidInputError, match="unknown regime"):
        contracts_for(1_000.0, 100_000.0, "panic")
    with pytest.raises(InvalidInputError, match="max_loss_per_unit_usd"):
        contracts_for(0.0, 100_000.0, "normal")
    with pytest.raises(InvalidInputError, match="equity_usd"):
        contracts_for(1_000.0, float("nan"), "normal")


def test_sizing_params_are_closed_bounded_and_ordered() -> None:
    p = SizingParams()
    assert (p.budget_frac, p.elevated_budget_frac, p.crisis_budget_frac, p.hard_cap_frac) == (
        0.02,
        0.01,
        0.0,
        0.03,
    )
    with pytest.raises(ValidationError):
        SizingParams(budget_frac=-0.01)
    with pytest.raises(ValidationError):
        SizingParams(hard_cap_frac=0.5)
    with pytest.raises(ValidationError):
        SizingParams(max_contracts=5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="must not grow"):
        SizingParams(crisis_budget_frac=0.02)
    with pytest.raises(ValidationError):
        p.budget_frac = 0.01
