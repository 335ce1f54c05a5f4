r"""Management of open condors and butterflies (METHOD §5): pure rules, decisions with reasons.

Each rule is a pure function of a :class:`PositionState` (what the book knows about one open
structure today) and the frozen :class:`ManagementParams`; it returns a :class:`Decision`
value whose ``reasons`` say which rule fired and with which numbers. :func:`manage` applies
them all to a book and settles conflicts in a fixed, documented order.

Rules (defaults in brackets)
----------------------------
With credit :math:`c` (USD received at entry, > 0), cost to close now :math:`x` (USD, the
structure's mark as a debit to buy it back) and open P&L :math:`\mathrm{PL} = c - x`:

1. **Stop loss** (:func:`check_stop_loss`): close when :math:`\mathrm{PL} \le -k\,c`
   [``stop_loss_multiple`` = 2].
2. **Profit target** (:func:`check_profit_target`): close when :math:`\mathrm{PL} \ge f\,c`
   [``profit_target_frac`` = 0.5].
3. **Time exit** (:func:`check_time_exit`): close when days to expiry :math:`\le`
   ``exit_dte`` [21]. (Short-dated ladder rungs opened inside 21 DTE pass their own
   ``exit_dte``, e.g. 0 to hold to expiry.)
4. **Tested side** (:func:`check_tested_side`): when a short strike's :math:`|\Delta|`
   exceeds ``tested_delta`` [0.30], either ``roll_untested`` (roll the other side's short
   closer, to ``roll_target_delta`` [0.12]: it collects credit against the move) or
   ``close_tested`` (buy back the tested side's spread) [``tested_action`` =
   ``"roll_untested"``]. If both sides are tested (a very wide move) the structure is closed.
5. **Crowding** (:func:`check_crowding`): when at least ``crowding_min_count`` [2] open
   structures have the index within ``breakeven_proximity_frac`` [1%] of one of their
   break-evens (:math:`|S - BE| \le 0.01\,S`), each of them is **cut by half**
   (``size_cut_frac`` [0.5], rounded down to whole contracts: a 1-lot is closed, and the
   decision says so) instead of being closed by the tested-side rule.

Order in :func:`manage`, per structure: a stop loss closes (unless ``stop_yields_to_crowding``
[False], then a crowded structure is halved instead); a profit target or time exit closes;
else crowding halves; else the tested-side action; else hold. All rules that fired are kept in
the reasons, so the decision explains what it overrode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from vixshield.errors import InvalidInputError

__all__ = [
    "Action",
    "Decision",
    "ManagementParams",
    "PositionState",
    "check_crowding",
    "check_profit_target",
    "check_stop_loss",
    "check_tested_side",
    "check_time_exit",
    "manage",
    "near_breakeven",
]

_FROZEN: Final = ConfigDict(frozen=True, extra="forbid")


class ManagementParams(BaseModel):
    """The management rules' thresholds (module docstring)."""

    model_config = _FROZEN

    profit_target_frac: float = Field(default=0.5, gt=0.0, le=1.0)
    """Close when open P&L reaches this fraction of the credit."""
    stop_loss_multiple: float = Field(default=2.0, gt=0.0, le=10.0)
    """Close when the loss reaches this multiple of the credit."""
    exit_dte: int = Field(default=21, ge=0, le=365)
    """Close at or inside this many days to expiry."""
    tested_delta: float = Field(default=0.30, gt=0.0, lt=1.0)
    """A short strike is tested when its |delta| exceeds this."""
    tested_action: Literal["roll_untested", "close_tested"] = "roll_untested"
    roll_target_delta: float = Field(default=0.12, gt=0.0, lt=0.5)
    """|delta| of the new untested short when rolling closer."""
    breakeven_proximity_frac: float = Field(default=0.01, gt=0.0, le=0.1)
    """'Near a break-even': |spot - BE| <= this x spot."""
    crowding_min_count: int = Field(default=2, ge=2, le=100)
    size_cut_frac: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Fraction of contracts cut when crowded (0.5: halve)."""
    stop_yields_to_crowding: bool = False
    """If True, a crowded structure at its stop is halved rather than closed."""


class Action(StrEnum):
    """What to do with one open structure."""

    HOLD = "hold"
    CLOSE = "close"
    ROLL_UNTESTED = "roll_untested"
    CLOSE_TESTED = "close_tested"
    REDUCE = "reduce"


@dataclass(frozen=True, slots=True)
class PositionState:
    """One open structure as the management rules see it today.

    Attributes
    ----------
    name : the structure's name (for the reasons).
    quantity : whole structures held (>= 1).
    credit_usd : premium received at entry for the whole position, > 0.
    cost_to_close_usd : what buying it back costs now (its mark as a debit), >= 0.
    dte : calendar days to expiry.
    short_put_delta, short_call_delta : forward deltas of the short strikes (put <= 0 <= call);
        ``None`` when that side has no short (a one-sided butterfly).
    breakevens_points : break-evens at expiry.
    """

    name: str
    quantity: int
    credit_usd: float
    cost_to_close_usd: float
    dte: int
    short_put_delta: float | None
    short_call_delta: float | None
    breakevens_points: tuple[float, ...]

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or self.quantity < 1:
            raise InvalidInputError(f"{self.name}: quantity must be >= 1, got {self.quantity}")
        if not (math.isfinite(self.credit_usd) and self.credit_usd > 0):
            raise InvalidInputError(
                f"{self.name}: credit_usd must be > 0 (a credit structure), got {self.credit_usd}"
            )
        if not (math.isfinite(self.cost_to_close_usd) and self.cost_to_close_usd >= 0):
            raise InvalidInputError(
                f"{self.name}: cost_to_close_usd must be finite and >= 0, "
                f"got {self.cost_to_close_usd}"
            )
        if self.short_put_delta is not None and not -1.0 <= self.short_put_delta <= 0.0:
            raise InvalidInputError(f"{self.name}: short_put_delta must lie in [-1, 0]")
        if self.short_call_delta is not None and not 0.0 <= self.short_call_delta <= 1.0:
            raise InvalidInputError(f"{self.name}: short_call_delta must lie in [0, 1]")
        object.__setattr__(self, "breakevens_points", tuple(self.breakevens_points))

    @property
    def pnl_usd(self) -> float:
        """Open P&L: credit received minus the cost to close."""
        return self.credit_usd - self.cost_to_close_usd


@dataclass(frozen=True, slots=True)
class Decision:
    """A rule's verdict on one structure.

    ``side`` names the side acted on (``"put"``/``"call"``) for the tested-side actions;
    ``new_quantity`` is the size after a :attr:`Action.REDUCE` (0 means closed);
    ``target_delta`` is the |delta| of the new short for :attr:`Action.ROLL_UNTESTED`.
    """

    name: str
    action: Action
    reasons: tuple[str, ...]
    side: Literal["put", "call"] | None = None
    new_quantity: int | None = None
    target_delta: float | None = None


def _hold(state: PositionState, why: str) -> Decision:
    return Decision(state.name, Action.HOLD, (why,))


def check_profit_target(state: PositionState, params: ManagementParams) -> Decision:
    r"""Close when :math:`\mathrm{PL} \ge f c` (take profit), else hold."""
    goal = params.profit_target_frac * state.credit_usd
    if state.pnl_usd >= goal:
        return Decision(
            state.name,
            Action.CLOSE,
            (
                f"profit target: open P&L {state.pnl_usd:,.2f} USD >= "
                f"{100 * params.profit_target_frac:g}% of the {state.credit_usd:,.2f} USD "
                f"credit ({goal:,.2f})",
            ),
        )
    return _hold(state, f"profit {state.pnl_usd:,.2f} USD below the target {goal:,.2f}")


def check_stop_loss(state: PositionState, params: ManagementParams) -> Decision:
    r"""Close when :math:`\mathrm{PL} \le -k c` (stop), else hold."""
    limit = -params.stop_loss_multiple * state.credit_usd
    if state.pnl_usd <= limit:
        return Decision(
            state.name,
            Action.CLOSE,
            (
                f"stop loss: open P&L {state.pnl_usd:,.2f} USD is a loss of at least "
                f"{params.stop_loss_multiple:g}x the {state.credit_usd:,.2f} USD credit "
                f"({limit:,.2f})",
            ),
        )
    return _hold(state, f"P&L {state.pnl_usd:,.2f} USD above the stop {limit:,.2f}")


def check_time_exit(state: PositionState, params: ManagementParams) -> Decision:
    """Close at or inside ``exit_dte`` days to expiry, else hold."""
    if state.dte <= params.exit_dte:
        return Decision(
            state.name,
            Action.CLOSE,
            (f"time exit: {state.dte} days to expiry <= {params.exit_dte}",),
        )
    return _hold(state, f"{state.dte} days to expiry, exit at {params.exit_dte}")


def check_tested_side(state: PositionState, params: ManagementParams) -> Decision:
    """Roll the untested side closer or close the tested side when a short's |delta| passes."""
    put = abs(state.short_put_delta) if state.short_put_delta is not None else 0.0
    call = abs(state.short_call_delta) if state.short_call_delta is not None else 0.0
    limit = params.tested_delta
    tested = [s for s, d in (("put", put), ("call", call)) if d > limit]
    if not tested:
        return _hold(state, f"short |delta| put {put:.2f}, call {call:.2f} within {limit:.2f}")
    if len(tested) == 2:
        return Decision(
            state.name,
            Action.CLOSE,
            (f"both sides tested: short |delta| put {put:.2f} and call {call:.2f} > {limit:.2f}",),
        )
    side: Literal["put", "call"] = "put" if tested[0] == "put" else "call"
    other: Literal["put", "call"] = "call" if side == "put" else "put"
    size = put if side == "put" else call
    why = f"{side} side tested: short {side} |delta| {size:.2f} > {limit:.2f}"
    has_other = (state.short_call_delta if other == "call" else state.short_put_delta) is not None
    if params.tested_action == "roll_untested" and has_other:
        return Decision(
            state.name,
            Action.ROLL_UNTESTED,
            (f"{why}; roll the untested {other} spread closer to |delta| "
             f"{params.roll_target_delta:.2f}",),
            side=other,
            target_delta=params.roll_target_delta,
        )  # fmt: skip
    return Decision(
        state.name,
        Action.CLOSE_TESTED,
        (f"{why}; close the tested {side} side",),
        side=side,
    )


def near_breakeven(state: PositionState, spot: float, params: ManagementParams) -> float | None:
    """The break-even within ``breakeven_proximity_frac x spot`` of spot (nearest), or None."""
    if not (math.isfinite(spot) and spot > 0):
        raise InvalidInputError(f"spot must be finite and > 0, got {spot}")
    close = [
        b
        for b in state.breakevens_points
        if abs(spot - b) <= params.breakeven_proximity_frac * spot
    ]
    return min(close, key=lambda b: abs(spot - b)) if close else None


def check_crowding(
    states: Sequence[PositionState], spot: float, params: ManagementParams
) -> tuple[Decision, ...]:
    """Per structure: REDUCE by ``size_cut_frac`` when enough structures are near a break-even.

    Returns one decision per state, in order: REDUCE for each crowded structure, HOLD otherwise.
    """
    near = [near_breakeven(s, spot, params) for s in states]
    count = sum(b is not None for b in near)
    out: list[Decision] = []
    for state, be in zip(states, near, strict=True):
        if be is None or count < params.crowding_min_count:
            why = (
                "no break-even within "
                f"{100 * params.breakeven_proximity_frac:g}% of spot {spot:.2f}"
                if be is None
                else f"only {count} structure(s) near a break-even "
                f"(crowding needs {params.crowding_min_count})"
            )
            out.append(_hold(state, why))
            continue
        keep = math.floor(state.quantity * (1.0 - params.size_cut_frac))
        tail = " (a 1-lot cannot be halved: this closes it)" if keep == 0 else ""
        out.append(
            Decision(
                state.name,
                Action.REDUCE,
                (
                    f"crowding: {count} open structures within "
                    f"{100 * params.breakeven_proximity_frac:g}% of a break-even (this one "
                    f"{be:.2f}, spot {spot:.2f}); cut size from {state.quantity} to {keep} "
                    f"instead of closing{tail}",
                ),
                new_quantity=keep,
            )
        )
    return tuple(out)


def manage(
    states: Sequence[PositionState], spot: float, params: ManagementParams | None = None
) -> tuple[Decision, ...]:
    """One decision per open structure, in order, by the priority in the module docstring."""
    p = params or ManagementParams()
    crowding = check_crowding(states, spot, p)
    out: list[Decision] = []
    for state, crowd in zip(states, crowding, strict=True):
        stop = check_stop_loss(state, p)
        profit = check_profit_target(state, p)
        timed = check_time_exit(state, p)
        tested = check_tested_side(state, p)
        crowded = crowd.action is Action.REDUCE
        if stop.action is Action.CLOSE and not (crowded and p.stop_yields_to_crowding):
            out.append(stop)
        elif profit.action is Action.CLOSE or timed.action is Action.CLOSE:
            fired = [d for d in (profit, timed) if d.action is Action.CLOSE]
            out.append(
                Decision(state.name, Action.CLOSE, tuple(r for d in fired for r in d.reasons))
            )
        elif crowded:
            extra = [d.reasons[0] for d in (stop, tested) if d.action is not Action.HOLD]
            note = tuple(f"overridden by crowding: {r}" for r in extra)
            out.append(
                Decision(
                    state.name,
                    Action.REDUCE,
                    crowd.reasons + note,
                    new_quantity=crowd.new_quantity,
                )
            )
        elif tested.action is not Action.HOLD:
            out.append(tested)
        else:
            out.append(
                Decision(
                    state.name,
                    Action.HOLD,
                    (
                        "no rule fired: "
                        + "; ".join(d.reasons[0] for d in (profit, stop, timed, tested)),
                    ),
                )
            )
    return tuple(out)
