r"""The baselines the method is compared with (METHOD §11), each a named strategy for the runner.

Every baseline runs through the same :func:`~vixshield.backtest.runner.run_backtest` with the
same configuration, history, fill model, fees, margin policy and interest, so their equity
curves differ only by the rule named here:

``full_alvh``
    The method: :func:`~vixshield.backtest.runner.backtest_stages` (management, core condor,
    ladder, the Adaptive Layered VIX Hedge, risk).
``unhedged``
    The same pipeline with the hedge stage replaced by :class:`~vixshield.engine.NoStage`
    (the risk stage still runs and reports the delta band). Never holds a VIX option.
``static_442``
    Condors plus a **static, always-on 4/4/2 hedge**: the ALVH's three layers, each held at
    its full budget at all times (``HedgeStage(always_on=True)``: every layer targets all its
    tranches whatever the score). The budgets still scale with the condor book's max loss, so
    nothing is bought before the first condor. A short-layer tranche that reaches the roll DTE
    is sold and replaced by a fresh short-layer tranche; medium and long tranches settle at
    expiry and are bought again the same session; the per-initiation cap applies. The
    monetise rules (take profit at 3x, regime fall-back) and the **3:1 cost discipline do not
    apply**: "always on" means the hedge is never sold early nor refused for cost, so the
    comparison with ``full_alvh`` prices exactly the adaptive part (the score-driven tranche
    count, monetising and the discipline).
``vxth_hedge``
    Condors plus a **VXTH-style hedge** (``CBOE.md`` §7) in place of the ALVH:
    :class:`VxthHedgeStage`.
``buy_and_hold``
    SPX buy-and-hold: no option stage; :class:`BuyAndHoldSleeve` puts all the equity into
    S&P 500 index units on the first session and never trades again. Dividends accrue at the
    run's ``div_yield`` (the runner's total-return approximation) and are kept in cash, which
    earns interest.

VXTH-style hedge
----------------
On each VIX option expiry (the monthly roll; the expiring calls have settled that morning at
the runner's VRO proxy), :class:`VxthHedgeStage` buys **one-month ~30-delta VIX calls**: the
expiry is the first VIX expiry after the session, the strike the call whose Black-76 forward
delta :math:`N(d_1)` on the **same-expiry VX future** is nearest 0.30, on the model VIX chain
the ALVH and the runner's fills use (:func:`~vixshield.data.model_chains.model_vix_chain` on
the day's VX curve and VVIX). The calls are held to expiry and cash-settled. The weight of
equity spent comes from the Cboe VXTH table keyed on the one-month forward VIX :math:`X`, the
VX future expiring with the new calls (:func:`vxth_weight`):

=================== ======
:math:`X \le 15`    0
:math:`15 < X \le 30` 1.0%
:math:`30 < X \le 50` 0.5%
:math:`X > 50`      0
=================== ======

Contracts: :math:`n = \lfloor w E / (100\,p) \rfloor` with :math:`E` the equity the engine
was given (the previous close) and :math:`p` the call's mid. Departures from the index,
said so: whole contracts (the index holds fractional calls); bought at the roll session's
close (the index's purchase time is unknown, ``CBOE.md`` §7 rule 5); the first purchase
waits for the first VIX expiry in the run; no S&P 500 holding (the sleeve hedges the condor
book, not an index).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final

import numpy as np

from vixshield import calendar
from vixshield.backtest.fills import FillParams
from vixshield.backtest.portfolio import Portfolio
from vixshield.backtest.runner import (
    BacktestResult,
    IndexSleeve,
    Progress,
    StageFactory,
    backtest_stages,
    run_backtest,
)
from vixshield.config import StrategyConfig
from vixshield.data.chains import IV_REASON_OK, add_implied_vols
from vixshield.data.market import MarketHistory
from vixshield.data.model_chains import model_vix_chain
from vixshield.domain.decisions import Action, Layer, OrderIntent, Refusal
from vixshield.domain.market import MarketSnapshot
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.engine import (
    CoreCondorStage,
    DayContext,
    HedgeStage,
    LadderStage,
    ManagementStage,
    NoStage,
    RiskStage,
    Stage,
    StageOutput,
)
from vixshield.errors import InvalidInputError

__all__ = [
    "BASELINES",
    "VXTH_WEIGHTS",
    "Baseline",
    "BuyAndHoldSleeve",
    "VxthHedgeStage",
    "run_baseline",
    "vxth_weight",
]

VXTH_WEIGHTS: Final[tuple[tuple[float, float], ...]] = (
    (15.0, 0.0),
    (30.0, 0.010),
    (50.0, 0.005),
    (math.inf, 0.0),
)
"""``(upper bound of the one-month forward VIX, inclusive; weight of equity)``, CBOE.md §7."""

VXTH_NAME_PREFIX: Final = "VXTH"


def vxth_weight(forward_vix: float) -> float:
    """The VXTH weight of VIX calls for a one-month forward VIX (``CBOE.md`` §7 table).

    ``X <= 15``: 0; ``15 < X <= 30``: 1.0%; ``30 < X <= 50``: 0.5%; ``X > 50``: 0.
    """
    if not (math.isfinite(forward_vix) and forward_vix > 0):
        raise InvalidInputError(f"forward VIX must be a finite number > 0, got {forward_vix!r}")
    for upper, weight in VXTH_WEIGHTS:
        if forward_vix <= upper:
            return weight
    return 0.0  # unreachable: the last bound is infinite


@dataclass(frozen=True, slots=True)
class VxthHedgeStage:
    """The VXTH-style hedge: monthly one-month ~30-delta VIX calls (module docstring)."""

    target_delta: float = 0.30
    name: str = "vxth"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:  # noqa: ARG002 (the Stage protocol)
        session = ctx.session
        what = "VXTH roll: one-month VIX calls"
        if not calendar.is_expiry(session, calendar.ExpiryKind.VIX_AM):
            return StageOutput()

        def refuse(*reasons: str, **report: object) -> StageOutput:
            return StageOutput(refusals=(Refusal(Layer.HEDGE, what, reasons),), report=report)

        futures = {
            p.expiry: p.settle
            for p in ctx.snapshot.vx_curve
            if p.expiry > session and math.isfinite(p.settle) and p.settle > 0
        }
        if not futures:
            return refuse("no VX future after the session: no forward VIX for the weight")
        expiry = min(futures)
        forward = futures[expiry]
        weight = vxth_weight(forward)
        report: dict[str, object] = {
            "expiry": expiry.isoformat(),
            "forward_vix": forward,
            "weight": weight,
        }
        table = f"one-month forward VIX (VX {expiry.isoformat()}) {forward:.2f}"
        if weight == 0:
            return refuse(
                f"{table} outside (15, 50]: weight 0, no VIX calls bought (CBOE.md §7)", **report
            )
        vvix = ctx.snapshot.index("vvix")
        if vvix is None or not (math.isfinite(vvix) and vvix > 0):
            return refuse("no VVIX: no model VIX chain to buy from", **report)
        chain = model_vix_chain(session, futures, vvix=vvix, rate=ctx.rate)
        rows = chain.loc[(chain["expiry"] == expiry) & (chain["right"] == Right.CALL.value)]
        if rows.empty:
            return refuse(f"no VIX calls listed for {expiry.isoformat()}", **report)
        priced = add_implied_vols(rows, rate=ctx.rate, forward={expiry: forward})
        mids = 0.5 * (priced["bid"].to_numpy(np.float64) + priced["ask"].to_numpy(np.float64))
        ok = (priced["iv_reason"] == IV_REASON_OK).to_numpy(np.bool_) & (mids > 0)
        if not ok.any():
            return refuse(f"no VIX call with a bid and an implied vol on {expiry}", **report)
        strikes = priced["strike"].to_numpy(np.float64)
        deltas = priced["delta"].to_numpy(np.float64)
        i = int(np.argmin(np.where(ok, np.abs(deltas - self.target_delta), np.inf)))
        strike, mid, delta = float(strikes[i]), float(mids[i]), float(deltas[i])
        budget = weight * ctx.equity_usd
        n = math.floor(budget / (100.0 * mid) + 1e-9)
        report |= {"strike": strike, "delta": delta, "mid": mid, "contracts": n}
        sizing = (
            f"weight {weight:.1%} x equity {ctx.equity_usd:,.2f} USD = {budget:,.2f} USD; "
            f"{strike:g}C at {mid:.4g} (delta {delta:.2f}, target {self.target_delta:.2f}, "
            f"Black-76 on the VX future of {expiry.isoformat()})"
        )
        if n == 0:
            return refuse(table, sizing, "rounds to zero contracts", **report)
        contract = OptionContract("VIX", expiry, strike, Right.CALL)
        name = f"{VXTH_NAME_PREFIX} {session.isoformat()} VIX {expiry.isoformat()} {strike:g}C"
        order = OrderIntent(
            Action.OPEN,
            Layer.HEDGE,
            Structure(name, (Leg(contract, n, mid),)),
            -round(mid, 6),
            (
                "VXTH monthly roll on the VIX expiry: buy one-month ~30-delta VIX calls, held to "
                "expiry",
                f"{table}: weight {weight:.1%} (CBOE.md §7)",
                sizing,
                f"{n} contract(s) = {n * 100 * mid:,.2f} USD",
            ),
        )
        return StageOutput(orders=(order,), report=report)


@dataclass(frozen=True, slots=True)
class BuyAndHoldSleeve:
    """All the equity into S&P 500 index units on the first session; never traded again."""

    def target_units(
        self,
        session: date,  # noqa: ARG002 (the IndexSleeve protocol)
        snapshot: MarketSnapshot,
        equity_usd: float,
        units_held: float,
        portfolio: Portfolio,  # noqa: ARG002 (the IndexSleeve protocol)
    ) -> float | None:
        if units_held != 0:
            return None
        return equity_usd / snapshot.spx.close


@dataclass(frozen=True, slots=True)
class Baseline:
    """A named strategy for the runner: display name, one-sentence description, stages, sleeve."""

    display_name: str
    description: str
    stages: StageFactory
    sleeve: IndexSleeve | None = None


def _unhedged(credit_window_usd: float, spend_window_usd: float) -> tuple[Stage, ...]:  # noqa: ARG001 (a StageFactory)
    return (
        ManagementStage(),
        CoreCondorStage(),
        LadderStage(),
        NoStage(name="hedge", note="unhedged baseline: no VIX hedge"),
        RiskStage(),
    )


def _static_442(credit_window_usd: float, spend_window_usd: float) -> tuple[Stage, ...]:
    return (
        ManagementStage(),
        CoreCondorStage(),
        LadderStage(),
        HedgeStage(
            credit_window_usd=credit_window_usd, spend_window_usd=spend_window_usd, always_on=True
        ),
        RiskStage(),
    )


def _vxth(credit_window_usd: float, spend_window_usd: float) -> tuple[Stage, ...]:  # noqa: ARG001 (a StageFactory)
    return (ManagementStage(), CoreCondorStage(), LadderStage(), VxthHedgeStage(), RiskStage())


def _no_options(credit_window_usd: float, spend_window_usd: float) -> tuple[Stage, ...]:  # noqa: ARG001 (a StageFactory)
    return (NoStage(name="none", note="buy-and-hold baseline: no option stage"),)


BASELINES: Final[Mapping[str, Baseline]] = MappingProxyType(
    {
        "full_alvh": Baseline(
            "Condors + adaptive layered VIX hedge",
            "The full method: iron condors and the ladder, hedged by VIX call tranches bought "
            "as the hedge score rises and sold when they pay off.",
            backtest_stages,
        ),
        "unhedged": Baseline(
            "Condors, unhedged",
            "The same iron condors and ladder with no VIX hedge at all.",
            _unhedged,
        ),
        "static_442": Baseline(
            "Condors + static 4/4/2 VIX hedge",
            "The same condors with all three VIX call layers always held at their full 4/4/2 "
            "budgets, rolled at expiry, never sold early and never refused for cost.",
            _static_442,
        ),
        "vxth_hedge": Baseline(
            "Condors + VXTH-style hedge",
            "The same condors hedged the Cboe VXTH way: each month 30-delta one-month VIX calls "
            "worth 1% of equity (0.5% when VIX futures are above 30, none below 15 or above 50).",
            _vxth,
        ),
        "buy_and_hold": Baseline(
            "S&P 500 buy-and-hold",
            "All the money in the S&P 500 on the first day, dividends kept in cash, no options.",
            _no_options,
            BuyAndHoldSleeve(),
        ),
    }
)
"""The baselines by key (METHOD §11), the method itself first."""


def run_baseline(
    name: str,
    history: MarketHistory,
    *,
    start: date,
    end: date,
    config: StrategyConfig,
    equity_usd: float,
    fill: FillParams | None = None,
    progress: Progress | None = None,
    div_yield: float = 0.015,
    index_cost_bps: float = 0.0,
) -> BacktestResult:
    """Run the baseline ``name`` of :data:`BASELINES` (see :func:`run_backtest` for the rest).

    Raises
    ------
    InvalidInputError
        An unknown name (the message lists the known ones), or any error of the run.
    """
    baseline = BASELINES.get(name)
    if baseline is None:
        raise InvalidInputError(f"unknown baseline {name!r}; choose from {sorted(BASELINES)}")
    return run_backtest(
        history,
        start=start,
        end=end,
        config=config,
        equity_usd=equity_usd,
        fill=fill,
        div_yield=div_yield,
        progress=progress,
        stages=baseline.stages,
        sleeve=baseline.sleeve,
        index_cost_bps=index_cost_bps,
    )
