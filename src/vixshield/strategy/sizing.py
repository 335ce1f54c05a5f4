r"""Sizing new condors from the risk budget (METHOD section 9).

A new structure's **max loss** (USD for one unit: one contract of each leg) times the number
of units must stay within the regime's budget, a fraction of equity:

======================  =========================  ======================================
regime                  budget (default)           ``SizingParams`` field
======================  =========================  ======================================
``calm``, ``normal``    2% of equity               ``budget_frac``
``elevated``            1%                         ``elevated_budget_frac``
``stressed``            1%                         ``stressed_budget_frac``
``crisis``              0 (no new risk)            ``crisis_budget_frac``
======================  =========================  ======================================

Every budget is also held under the **hard cap** (default 3%, ``hard_cap_frac``), whatever the
configuration says. METHOD names budgets for normal conditions, ``elevated`` and ``crisis``
only; ``stressed`` lies between the last two and gets the ``elevated`` budget by default (a
stated choice: a worse regime never gets more risk than a milder one; the model validator
enforces that order).

.. math::
    n = \left\lfloor \frac{b \cdot E}{L} \right\rfloor,\qquad
    b = \min(b_{regime}, b_{cap})

with :math:`E` the equity and :math:`L` the max loss per unit (both USD). Only whole contracts
are traded; a budget smaller than one unit's max loss gives :math:`n = 0`, and the decision says
so in its reasons ("rounds to zero contracts"). The outcome is a value
(:class:`SizeDecision`) with reasons, never an exception; only invalid inputs raise.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vixshield.errors import InvalidInputError

__all__ = ["REGIMES", "SizeDecision", "SizingParams", "contracts_for"]

REGIMES: Final = ("calm", "normal", "elevated", "stressed", "crisis")
"""Regime names (METHOD section 4), mildest first."""

_ROUNDING_SLACK: Final = 1e-9  # 0.01 * 11_000 / 4.4 must give 25, not 24.999999999999996


class SizingParams(BaseModel):
    """Sizing: max loss of a new structure as a fraction of equity, by regime, under a hard cap."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget_frac: float = Field(
        default=0.02,
        ge=0.0,
        le=0.05,
        description="max loss of a new condor / equity in calm and normal regimes",
    )
    elevated_budget_frac: float = Field(
        default=0.01, ge=0.0, le=0.05, description="max loss / equity in the elevated regime"
    )
    stressed_budget_frac: float = Field(
        default=0.01, ge=0.0, le=0.05, description="max loss / equity in the stressed regime"
    )
    crisis_budget_frac: float = Field(
        default=0.0,
        ge=0.0,
        le=0.05,
        description="max loss / equity in the crisis regime (0: no new risk)",
    )
    hard_cap_frac: float = Field(
        default=0.03,
        gt=0.0,
        le=0.05,
        description="hard cap on max loss / equity of one new structure, in any regime",
    )

    @model_validator(mode="after")
    def _check(self) -> SizingParams:
        order = [
            self.budget_frac,
            self.elevated_budget_frac,
            self.stressed_budget_frac,
            self.crisis_budget_frac,
        ]
        if any(a < b for a, b in itertools.pairwise(order)):
            raise ValueError(
                "budgets must not grow as the regime worsens: budget_frac >= "
                "elevated_budget_frac >= stressed_budget_frac >= crisis_budget_frac"
            )
        return self

    def budget_for(self, regime: str) -> float:
        """The regime's budget fraction before the hard cap."""
        if regime in ("calm", "normal"):
            return self.budget_frac
        if regime == "elevated":
            return self.elevated_budget_frac
        if regime == "stressed":
            return self.stressed_budget_frac
        if regime == "crisis":
            return self.crisis_budget_frac
        raise InvalidInputError(f"unknown regime {regime!r}; use one of {list(REGIMES)}")


@dataclass(frozen=True, slots=True)
class SizeDecision:
    """How many units to open and why.

    Attributes
    ----------
    contracts
        Whole units (one contract of each leg), >= 0.
    regime
        The regime sized for.
    budget_frac, budget_usd
        The budget applied (after the hard cap), as a fraction of equity and in USD.
    max_loss_per_unit_usd
        Max loss of one unit.
    max_loss_usd
        ``contracts * max_loss_per_unit_usd``.
    risk_frac
        ``max_loss_usd / equity_usd``: never above ``budget_frac``.
    reasons
        Plain-language reasons, in order.
    """

    contracts: int
    regime: str
    equity_usd: float
    budget_frac: float
    budget_usd: float
    max_loss_per_unit_usd: float
    max_loss_usd: float
    risk_frac: float
    reasons: tuple[str, ...]

    @property
    def rounds_to_zero(self) -> bool:
        """True when a positive budget is smaller than one unit's max loss."""
        return self.contracts == 0 and self.budget_usd > 0.0


def contracts_for(
    max_loss_per_unit_usd: float,
    equity_usd: float,
    regime: str,
    params: SizingParams | None = None,
) -> SizeDecision:
    r"""Whole units of a new structure within the regime's risk budget.

    :math:`n = \lfloor \min(b_{regime}, b_{cap}) E / L \rfloor` (module docstring).

    Parameters
    ----------
    max_loss_per_unit_usd
        Max loss of one unit in USD (for an iron condor: wider wing x 100 - credit), > 0.
    equity_usd
        Account equity in USD, > 0.
    regime
        One of :data:`REGIMES` (a ``StrEnum`` member works too).
    params
        Budgets (default :class:`SizingParams`).

    Raises
    ------
    InvalidInputError
        A non-finite or non-positive max loss or equity, or an unknown regime.
    """
    p = params or SizingParams()
    for name, value in (
        ("max_loss_per_unit_usd", max_loss_per_unit_usd),
        ("equity_usd", equity_usd),
    ):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise InvalidInputError(f"{name} must be a finite number > 0 USD, got {value!r}")
    regime = str(regime)
    wanted = p.budget_for(regime)
    frac = min(wanted, p.hard_cap_frac)
    budget = frac * equity_usd
    reasons: list[str] = []
    if wanted > p.hard_cap_frac:
        reasons.append(
            f"the {regime} budget {wanted:.2%} is above the hard cap; capped at "
            f"{p.hard_cap_frac:.2%} of equity"
        )
    if frac == 0.0:
        n = 0
        reasons.append(f"no new risk in the {regime} regime (budget 0% of equity): 0 contracts")
    else:
        n = math.floor(budget / max_loss_per_unit_usd + _ROUNDING_SLACK)
        reasons.append(
            f"{regime} budget {frac:.2%} of equity ${equity_usd:,.0f} = ${budget:,.2f}; "
            f"max loss ${max_loss_per_unit_usd:,.2f} per unit"
        )
        if n == 0:
            reasons.append(
                f"rounds to zero contracts: one unit's max loss ${max_loss_per_unit_usd:,.2f} "
                f"exceeds the ${budget:,.2f} budget"
            )
        else:
            reasons.append(
                f"{n} contract(s): max loss ${n * max_loss_per_unit_usd:,.2f} = "
                f"{n * max_loss_per_unit_usd / equity_usd:.2%} of equity"
            )
    max_loss = n * max_loss_per_unit_usd
    return SizeDecision(
        contracts=n,
        regime=regime,
        equity_usd=float(equity_usd),
        budget_frac=frac,
        budget_usd=budget,
        max_loss_per_unit_usd=float(max_loss_per_unit_usd),
        max_loss_usd=max_loss,
        risk_frac=max_loss / equity_usd,
        reasons=tuple(reasons),
    )
