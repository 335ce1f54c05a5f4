r"""The backtest driver: the same :func:`~vixshield.engine.run_day` over a history's sessions.

:func:`run_backtest` walks the sessions of a :class:`~vixshield.data.market.MarketHistory` in
``[start, end]`` with a :class:`~vixshield.clock.FixedClock` at each session's data stamp
(:func:`~vixshield.data.market.stamp`), so every read refuses data dated after the decision.
Each session, in order:

1. **Interest** on the cash balance for the calendar days since the previous session walked,
   at the previous session's rate (the history's, else
   :data:`~vixshield.engine.ASSUMED_RATE`), simple ACT/360
   (:meth:`Portfolio.accrue_interest`). Booking it on the next session keeps every figure of a
   session independent of what follows it (a weekend accrues on Monday).
2. **Morning settlement** of AM-settled expiries due that session: SPX at the **S&P 500
   opening print** (proxy for the SOQ) and VIX options at a **VIX open proxy** (proxy for the
   VRO). The history holds no VIX open, so the proxy is the **previous session's VIX close**
   (the last VIX print before the opening); the ledger reason says so. Both proxies are
   documented in :mod:`vixshield.backtest.portfolio`.
3. **The decision**: ``run_day`` with the portfolio's book, the previous session's closing
   equity (the starting equity on the first session), indicators and regimes computed once
   over the whole history (every indicator is causal, so each row equals the per-day
   computation), and the default stages with the hedge stage's cost-discipline window given
   exactly from the run's own opens (``credit_window_usd``: premium of SPX credit structures
   opened in the window; ``spend_window_usd``: premium paid for VIX hedges opened in it).
4. **Fills**: every non-``hold`` intent through :func:`~vixshield.backtest.fills.fill_intent`
   against the day's SPX chain (``history.spx_chain`` at the same rate and dividend yield the
   engine used, so the quotes are the ones it decided on) and, for VIX legs, the model VIX
   chain the hedge stage priced on (:func:`~vixshield.data.model_chains.model_vix_chain` on the
   day's VX curve and VVIX). A fill is applied to the portfolio; a refusal is recorded with
   its reasons.
5. **Close settlement** of PM-settled SPXW expiries at the S&P 500 close.
6. **Mark** every open leg at the day's chain mids; a leg without a quote gets a model price
   flagged ``model``: its intrinsic value against the S&P 500 close (SPX/SPXW) or the VX future
   of its expiry, else the VIX close (VIX) -- a lower bound, used rarely (a strike off the
   model chain's grid).

Closed trades (for :func:`~vixshield.backtest.metrics.compute_metrics`) are the positions from
their opening fill until they leave the portfolio (closed or settled): ``credit_usd`` is the
opening premium (net of nothing), ``pnl_usd`` the sum of their ledger entries' realised P&L
(net of fees). Deterministic: the same history, configuration and options give an equal
:class:`BacktestResult`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Final

import numpy as np
import pandas as pd

from vixshield.backtest.fills import Fill, FillParams, FillRefusal, QuoteTable, fill_intent
from vixshield.backtest.fills import quote_table as make_quote_table
from vixshield.backtest.metrics import ClosedTrade, Metrics, compute_metrics
from vixshield.backtest.portfolio import LedgerEntry, Portfolio, SettlementPrices
from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.model_chains import model_vix_chain
from vixshield.domain.decisions import Action, DayDecision, Layer, OrderIntent
from vixshield.domain.market import MarketSnapshot
from vixshield.domain.positions import Book, OptionContract, Right
from vixshield.engine import (
    ASSUMED_RATE,
    CoreCondorStage,
    HedgeStage,
    LadderStage,
    ManagementStage,
    RiskStage,
    Stage,
    run_day,
)
from vixshield.errors import InvalidInputError
from vixshield.signals.indicators import compute_indicators
from vixshield.signals.regime import classify

__all__ = [
    "BacktestResult",
    "DayRecord",
    "StageFactory",
    "backtest_stages",
    "run_backtest",
]

Progress = Callable[[int, int], None]
"""``progress(done, total)`` after each session."""
StageFactory = Callable[[float, float], Sequence[Stage]]
"""The day's stages from the hedge cost window (credit, spend), USD."""

_AM_ROOTS: Final = frozenset({"SPX", "VIX"})
_VIX_OPEN_NOTE: Final = (
    "the history has no VIX open: the previous session's VIX close is the VIX open proxy"
)


@dataclass(frozen=True, slots=True)
class DayRecord:
    """One session of the run: the engine's inputs and decision, and the closing equity.

    ``book``, ``equity_in_usd``, ``credit_window_usd`` and ``spend_window_usd`` are exactly
    what ``run_day`` was given (with the run's stage factory), so the decision can be replayed.
    """

    session: date
    book: Book
    equity_in_usd: float
    credit_window_usd: float
    spend_window_usd: float
    decision: DayDecision
    equity_usd: float
    marks_modelled: bool


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """What a run produced.

    Attributes
    ----------
    equity
        Closing equity (USD) by session (a DatetimeIndex).
    ledger
        Every cash event: fills, settlements, interest.
    days
        One :class:`DayRecord` per session (the decisions and their inputs).
    refusals
        ``(session, refusal)`` for every intent the fill model did not fill.
    trades
        Closed trades (layer, opening credit, realised P&L net of fees).
    portfolio
        The portfolio after the last session.
    metrics
        :func:`~vixshield.backtest.metrics.compute_metrics` of the curve and trades.
    starting_cash_usd
        The starting cash.
    """

    equity: pd.Series
    ledger: tuple[LedgerEntry, ...]
    days: tuple[DayRecord, ...]
    refusals: tuple[tuple[date, FillRefusal], ...]
    trades: tuple[ClosedTrade, ...]
    portfolio: Portfolio
    metrics: Metrics
    starting_cash_usd: float

    @property
    def decisions(self) -> tuple[DayDecision, ...]:
        return tuple(d.decision for d in self.days)

    @property
    def fills(self) -> int:
        """Number of ledger entries from fills (opens, closes, resizes, rolls)."""
        return sum(e.kind not in ("settle", "interest") for e in self.ledger)


def backtest_stages(credit_window_usd: float, spend_window_usd: float) -> tuple[Stage, ...]:
    """The default pipeline with the hedge stage's cost window given exactly."""
    return (
        ManagementStage(),
        CoreCondorStage(),
        LadderStage(),
        HedgeStage(credit_window_usd=credit_window_usd, spend_window_usd=spend_window_usd),
        RiskStage(),
    )


def _day_rate(snap: MarketSnapshot) -> float:
    return snap.rate.value if snap.rate is not None else ASSUMED_RATE


def _vix_chain(snap: MarketSnapshot, rate: float) -> pd.DataFrame | None:
    """The hedge stage's model VIX chain for the day, or None without VVIX or VX futures."""
    vvix = snap.index("vvix")
    futures = {
        p.expiry: p.settle
        for p in snap.vx_curve
        if p.expiry > snap.session and math.isfinite(p.settle) and p.settle > 0
    }
    if vvix is None or not (math.isfinite(vvix) and vvix > 0) or not futures:
        return None
    return model_vix_chain(snap.session, futures, vvix=vvix, rate=rate)


def _pricer(snap: MarketSnapshot) -> Callable[[OptionContract], float | None]:
    """Intrinsic value against the day's close (SPX) or VX future / VIX close (VIX)."""
    futures = {p.expiry: p.settle for p in snap.vx_curve}
    vix = snap.index("vix")

    def price(c: OptionContract) -> float | None:
        if c.root in ("SPX", "SPXW"):
            level: float | None = snap.spx.close
        else:
            level = futures.get(c.expiry, vix)
        if level is None:
            return None
        return max(0.0, level - c.strike if c.right is Right.CALL else c.strike - level)

    return price


def _settle(
    pf: Portfolio, prices: SettlementPrices, roots: frozenset[str], note: str | None
) -> Portfolio:
    """Settle the legs of ``roots`` expiring on ``prices.session``; others wait."""
    day = prices.session
    due = [
        p
        for p in pf.positions
        if any(g.contract.expiry == day for g in p.structure.legs)
        and all(g.contract.root in roots for g in p.structure.legs if g.contract.expiry == day)
    ]
    if not due:
        return pf
    names = {p.name for p in due}
    settled = replace(pf, positions=tuple(due), ledger=()).settle(prices)
    entries = tuple(
        replace(e, reason=f"{e.reason}; {note}")
        if note is not None and any(leg[0].startswith("VIX") for leg in e.legs)
        else e
        for e in settled.ledger
    )
    after = {p.name: p for p in settled.positions}
    positions = tuple(
        after.get(p.name, p) for p in pf.positions if p.name not in names or p.name in after
    )
    return replace(settled, positions=positions, ledger=(*pf.ledger, *entries))


def _windows(
    opens: list[tuple[date, Layer, float]], session: date, config: StrategyConfig
) -> tuple[float, float]:
    start = session - timedelta(days=config.hedge.cost_window_cycles * config.condor.target_dte)
    credit = sum(c for d, lay, c in opens if d >= start and lay is not Layer.HEDGE and c > 0)
    spend = sum(-c for d, lay, c in opens if d >= start and lay is Layer.HEDGE and c < 0)
    return float(credit), float(spend)


def run_backtest(
    history: MarketHistory,
    *,
    start: date,
    end: date,
    config: StrategyConfig,
    equity_usd: float,
    fill: FillParams | None = None,
    div_yield: float = 0.015,
    progress: Progress | None = None,
    stages: StageFactory = backtest_stages,
) -> BacktestResult:
    """Walk ``history``'s sessions in ``[start, end]``; see the module docstring.

    Parameters
    ----------
    history
        The market (it may run past ``end``: nothing later is read).
    start, end
        First and last session walked (inclusive).
    config
        The strategy configuration.
    equity_usd
        Starting cash (> 0).
    fill
        The fill model (default :class:`FillParams`: half the half-spread, Cboe fees).
    div_yield
        SPX dividend yield for the chains (as :func:`run_day`).
    progress
        Called as ``progress(done, total)`` after each session.
    stages
        ``stages(credit_window_usd, spend_window_usd)``: the pipeline for the day (default
        :func:`backtest_stages`; a smaller one tests a stage alone).

    Raises
    ------
    InvalidInputError
        Bad equity, or no session in ``[start, end]``.
    """
    if not (math.isfinite(equity_usd) and equity_usd > 0):
        raise InvalidInputError(f"equity_usd must be a finite number > 0, got {equity_usd!r}")
    sessions = [d for d in history.sessions if start <= d <= end]
    if not sessions:
        raise InvalidInputError(f"no session of the history in [{start}, {end}]")
    params = fill or FillParams()
    indicators = compute_indicators(history, config.indicators)
    regimes = classify(indicators, config.regime)

    pf = Portfolio(float(equity_usd))
    equity_in = float(equity_usd)
    days: list[DayRecord] = []
    refusals: list[tuple[date, FillRefusal]] = []
    trades: list[ClosedTrade] = []
    opens: list[tuple[date, Layer, float]] = []
    layer_of: dict[str, Layer] = {}
    credit_of: dict[str, float] = {}
    pnl_of: dict[str, float] = {}
    prev: tuple[date, float, float | None] | None = None  # session, rate, VIX close

    for n, session in enumerate(sessions, 1):
        clock = FixedClock(stamp(session))
        snap = history.snapshot(session, clock=clock)
        rate = _day_rate(snap)
        if prev is not None:
            pf = pf.accrue_interest(prev[1], (session - prev[0]).days, session)
        seen = len(pf.ledger)

        # Morning: AM-settled SPX (open print) and VIX (VIX open proxy).
        vix_open = prev[2] if prev is not None else None
        pf = _settle(
            pf,
            SettlementPrices(session, spx_open=snap.spx.open, vix_open=vix_open),
            _AM_ROOTS,
            _VIX_OPEN_NOTE,
        )

        stale = [
            f"{p.name}: {g.contract.label()}"
            for p in pf.positions
            for g in p.structure.legs
            if g.contract.expiry < session
        ]
        if stale:  # an expiry that was not a session walked: never settled
            raise InvalidInputError(f"{session}: legs expired unsettled: {stale}")
        book = pf.book()
        credit, spend = _windows(opens, session, config)
        decision = run_day(
            history, session, clock=clock, config=config, book=book, equity_usd=equity_in,
            rate=None, div_yield=div_yield, indicators=indicators, regimes=regimes,
            stages=stages(credit, spend),
        )  # fmt: skip

        chain = history.spx_chain(session, clock=clock, rate=rate, div_yield=div_yield)
        tables: list[QuoteTable] = [make_quote_table(chain)]
        needs_vix = any(
            g.contract.root == "VIX"
            for s in (*book.structures, *(o.structure for o in decision.orders if o.structure))
            for g in s.legs
        )
        if needs_vix:
            vix_chain = _vix_chain(snap, rate)
            if vix_chain is not None:
                tables.append(make_quote_table(vix_chain))
        merged: dict[tuple[str, date, float, str], tuple[float, float]] = {}
        for t in tables:
            merged.update(t)

        for intent in decision.orders:
            if intent.action is Action.HOLD:
                continue
            before = set(pf.structures)
            got = fill_intent(intent, merged, params, held=pf.structures)
            if isinstance(got, FillRefusal):
                refusals.append((session, got))
                continue
            pf = pf.apply_fill(got, session)
            _track_open(
                got, intent=intent, before=before, pf=pf, session=session, opens=opens,
                layer_of=layer_of, credit_of=credit_of,
            )  # fmt: skip

        # Close: PM-settled SPXW at the S&P 500 close.
        pf = _settle(
            pf, SettlementPrices(session, spx_close=snap.spx.close), frozenset({"SPXW"}), None
        )

        for e in pf.ledger[seen:]:
            if e.structure in layer_of:
                pnl_of[e.structure] = pnl_of.get(e.structure, 0.0) + e.realised_pnl_usd
        held = set(pf.structures)
        for name in [k for k in layer_of if k not in held]:
            trades.append(
                ClosedTrade(str(layer_of.pop(name)), credit_of.pop(name), pnl_of.pop(name, 0.0))
            )

        marks = pf.mark(merged, pricer=_pricer(snap))
        eq = pf.equity_usd(marks)
        if eq is None:  # the pricer prices every leg; a defensive message all the same
            raise InvalidInputError(f"{session}: unpriced legs {marks.missing}")
        days.append(
            DayRecord(session, book, equity_in, credit, spend, decision, eq, marks.modelled)
        )
        # run_day needs equity > 0; a wiped-out account keeps sizing on its last positive equity.
        equity_in = eq if eq > 0 else equity_in
        vix = snap.index("vix")
        prev = (session, rate, vix)
        if progress is not None:
            progress(n, len(sessions))

    curve = pd.Series(
        np.array([d.equity_usd for d in days], dtype=np.float64),
        index=pd.DatetimeIndex([pd.Timestamp(d.session) for d in days]),
        name="equity_usd",
    )
    return BacktestResult(
        equity=curve,
        ledger=pf.ledger,
        days=tuple(days),
        refusals=tuple(refusals),
        trades=tuple(trades),
        portfolio=pf,
        metrics=compute_metrics(curve, trades),
        starting_cash_usd=float(equity_usd),
    )


def _track_open(
    got: Fill,
    *,
    intent: OrderIntent,
    before: set[str],
    pf: Portfolio,
    session: date,
    opens: list[tuple[date, Layer, float]],
    layer_of: dict[str, Layer],
    credit_of: dict[str, float],
) -> None:
    """Record an opening fill: its layer and credit per new structure, and the cost window."""
    if intent.action is not Action.OPEN:
        return
    opens.append((session, intent.layer, got.premium_usd))
    for name in set(pf.structures) - before:
        layer_of[name] = intent.layer
        credit_of[name] = got.premium_usd
