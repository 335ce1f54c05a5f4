r"""The backtest driver: the same :func:`~vixshield.engine.run_day` over a history's sessions.

:func:`run_backtest` walks the sessions of a :class:`~vixshield.data.market.MarketHistory` in
``[start, end]`` with a :class:`~vixshield.clock.FixedClock` at each session's data stamp
(:func:`~vixshield.data.market.stamp`), so every read refuses data dated after the decision.
Each session, in order:

1. **Interest** on the cash balance for the calendar days since the previous session walked,
   at the previous session's rate (the history's, else
   :data:`~vixshield.engine.ASSUMED_RATE`), simple ACT/360
   (:meth:`Portfolio.accrue_interest`). Booking it on the next session keeps every figure of a
   session independent of what follows it (a weekend accrues on Monday). Then **dividends**
   on the index units held (only with an index sleeve): ``units * previous close * div_yield
   * calendar days / 365`` in cash (:meth:`Portfolio.accrue_dividends`), the total-return
   approximation: the data holds no dividends, so the S&P 500 price index plus a continuous
   yield stands in for the total-return index.
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
   its reasons. An ``OPEN`` also passes the **margin check** below first.
5. **Close settlement** of PM-settled SPXW expiries at the S&P 500 close.
6. **Index sleeve** (optional, :class:`IndexSleeve`): asked for its target units with the
   equity just before the trade (cash + option marks at the day's mids + units x close); the
   difference is traded at the S&P 500 close, a cost of ``index_cost_bps`` of the notional
   charged as a fee (ledger kind ``index``).
7. **Mark** every open leg at the day's chain mids; a leg without a quote gets a model price
   flagged ``model``: its intrinsic value against the S&P 500 close (SPX/SPXW) or the VX future
   of its expiry, else the VIX close (VIX) -- a lower bound. On model chains this is common
   but small: the model lists strikes in a band around the day's forward, so a far
   out-of-the-money wing (typically a long call wing after the market fell) drifts off the
   grid and is marked at intrinsic, 0, instead of its few cents of time value; the daily
   series' ``marks_modelled`` says on which sessions. Equity = cash + option marks + index
   units x close. **Data gaps**: a session on which ``run_day`` raises a
   :class:`~vixshield.errors.DataError` (the real VIX file lacks 51 closes between 1991 and
   2006, so there is no chain to model) is recorded in ``data_gaps`` with the error: no
   orders, no fills (settlements still happen), every open leg marked at its last known mid
   (flagged modelled). Nothing is filled in for the missing datum; a look-ahead
   (:class:`~vixshield.data.market.LookaheadError`) is never treated as a gap.
8. **Margin** of the open book against that equity, recorded every session
   (:attr:`DayRecord.margin_usd`).

Margin policy
-------------
The requirement is the Cboe strategy-based one of :func:`~vixshield.backtest.costs.margin_check`
(``CBOE.md`` §12: a condor needs its wider wing x 100 less the credit, long options are paid
in full, naked shorts the Reg-T broad-based rule), scaled by the fill model's
:attr:`~vixshield.backtest.costs.CostParams.margin_multiplier`, with the S&P 500 and VIX
closes as the index levels. Equity counts the index units at the close; they are paid in full
and are not counted as cover for short calls (a covered call is charged as naked:
conservative). A structure whose rule is not modelled (several expiries, uncovered short
calls in a spread) makes the day's requirement NaN: no call is recorded and no open is
refused on it (no requirement is guessed).

* **Margin call**: the closing requirement exceeds the closing equity. The session and the
  reason are recorded (:attr:`BacktestResult.margin_calls`); nothing is liquidated (the
  strategy's own exits decide), but new opens are refused while it lasts (next point).
* **Refused open**: before an ``OPEN`` is filled, the portfolio with the fill applied is
  marked at the day's mids; when its requirement would exceed its equity, the intent is not
  filled and a :class:`~vixshield.backtest.fills.FillRefusal` whose reason starts
  ``margin:`` is recorded. Closes, resizes and rolls are never refused for margin (they
  reduce or move risk that is already held). ``enforce_margin=False`` turns the refusal off.

Results
-------
:class:`BacktestResult` keeps the per-session records; its :attr:`~BacktestResult.daily`
frame, :attr:`~BacktestResult.hedge_events` and :meth:`~BacktestResult.ledger_frame` are
built from them on demand.

Closed trades (for :func:`~vixshield.backtest.metrics.compute_metrics`) are the positions from
their opening fill until they leave the portfolio (closed or settled): ``credit_usd`` is the
opening premium (net of nothing), ``pnl_usd`` the sum of their ledger entries' realised P&L
(net of fees). Deterministic: the same history, configuration and options give an equal
:class:`BacktestResult`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Final, Protocol

import numpy as np
import pandas as pd

from vixshield.backtest.costs import CostParams, MarginCheck, margin_check
from vixshield.backtest.fills import Fill, FillParams, FillRefusal, QuoteTable, fill_intent
from vixshield.backtest.fills import quote_table as make_quote_table
from vixshield.backtest.metrics import ClosedTrade, Metrics, compute_metrics
from vixshield.backtest.portfolio import LedgerEntry, Portfolio, SettlementPrices
from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import LookaheadError, MarketHistory, stamp
from vixshield.data.model_chains import model_vix_chain
from vixshield.domain.decisions import Action, DayDecision, Layer, OrderIntent, Refusal
from vixshield.domain.market import MarketSnapshot
from vixshield.domain.positions import Book, OptionContract, Right, Structure
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
from vixshield.errors import DataError, InvalidInputError
from vixshield.signals.indicators import compute_indicators
from vixshield.signals.regime import classify
from vixshield.strategy.alvh import hedge_layer_of

__all__ = [
    "BacktestResult",
    "DayRecord",
    "IndexSleeve",
    "StageFactory",
    "backtest_stages",
    "run_backtest",
]

Progress = Callable[[int, int], None]
"""``progress(done, total)`` after each session."""
StageFactory = Callable[[float, float], Sequence[Stage]]
"""The day's stages from the hedge cost window (credit, spend), USD."""

_AM_ROOTS: Final = frozenset({"SPX", "VIX"})
_FILL_KINDS: Final = frozenset({"open", "close", "resize", "roll"})
_GREEKS: Final = (
    "delta_usd_per_pct",
    "gamma_usd_per_pct_sq",
    "vega_usd_per_volpt",
    "theta_usd_per_day",
    "vix_delta_usd_per_vixpt",
    "vix_vega_usd_per_volpt",
)
_DAILY_COLUMNS: Final = (
    "equity_usd",
    "cash_usd",
    "option_value_usd",
    "index_units",
    "index_level",
    "index_value_usd",
    "margin_usd",
    "margin_call",
    "regime",
    "regime_level",
    "hedge_score",
    *_GREEKS,
    "index_delta_usd_per_pct",
    "orders",
    "refused_fills",
    "marks_modelled",
)
_HEDGE_EVENT_COLUMNS: Final = (
    "session",
    "action",
    "kind",
    "layer",
    "structure",
    "contracts",
    "premium_usd",
    "fees_usd",
    "cash_usd",
    "realised_pnl_usd",
    "reason",
)
_LEDGER_COLUMNS: Final = (
    "session",
    "kind",
    "structure",
    "leg",
    "quantity",
    "price",
    "mid",
    "fees_usd",
    "cash_usd",
    "realised_pnl_usd",
    "reason",
)


def _num(x: object) -> float:
    """A JSON number as float; None or anything else as NaN."""
    if isinstance(x, int | float) and not isinstance(x, bool):
        return float(x)
    return math.nan


_VIX_OPEN_NOTE: Final = (
    "the history has no VIX open: the previous session's VIX close is the VIX open proxy"
)


class IndexSleeve(Protocol):
    """An S&P 500 total-return holding beside the options (buy-and-hold, BXM, VXTH).

    Called once per session after the option fills and the SPXW close settlement, before the
    marks; the runner trades ``target - units_held`` units at the S&P 500 close.
    """

    def target_units(
        self,
        session: date,
        snapshot: MarketSnapshot,
        equity_usd: float,
        units_held: float,
        portfolio: Portfolio,
    ) -> float | None:
        """Index units to hold after the close (1 unit = one index level in USD; fractional
        allowed), or None to keep what is held.

        ``equity_usd`` is the equity just before the trade: cash + option marks at the day's
        mids + ``units_held`` x the S&P 500 close.
        """
        ...


@dataclass(frozen=True, slots=True)
class DayRecord:
    """One session of the run: the engine's inputs and decision, and the closing equity.

    ``book``, ``equity_in_usd``, ``credit_window_usd`` and ``spend_window_usd`` are exactly
    what ``run_day`` was given (with the run's stage factory), so the decision can be replayed.
    The rest is the session's close: ``equity_usd`` = ``cash_usd`` + ``option_value_usd``
    (open legs at the day's mids) + ``index_units`` x ``index_level`` (the S&P 500 close);
    ``margin_usd`` the book's strategy-based requirement (NaN when not modelled) and
    ``margin_call`` whether it exceeded ``equity_usd``; ``regime_level`` 0..4 (NaN unknown).
    """

    session: date
    book: Book
    equity_in_usd: float
    credit_window_usd: float
    spend_window_usd: float
    decision: DayDecision
    equity_usd: float
    marks_modelled: bool
    cash_usd: float = math.nan
    index_units: float = 0.0
    index_level: float = math.nan
    option_value_usd: float = math.nan
    margin_usd: float = math.nan
    margin_call: bool = False
    regime_level: float = math.nan


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
    margin_calls
        ``(session, reason)`` for every session whose closing margin requirement exceeded
        the closing equity.
    data_gaps
        ``(session, reason)`` for every session the engine could not decide on (a
        :class:`~vixshield.errors.DataError`, e.g. no VIX close to model the chain from): no
        orders, no fills, open legs marked at their last mid (flagged modelled).
    """

    equity: pd.Series
    ledger: tuple[LedgerEntry, ...]
    days: tuple[DayRecord, ...]
    refusals: tuple[tuple[date, FillRefusal], ...]
    trades: tuple[ClosedTrade, ...]
    portfolio: Portfolio
    metrics: Metrics
    starting_cash_usd: float
    margin_calls: tuple[tuple[date, str], ...] = ()
    data_gaps: tuple[tuple[date, str], ...] = ()

    @property
    def decisions(self) -> tuple[DayDecision, ...]:
        return tuple(d.decision for d in self.days)

    @property
    def fills(self) -> int:
        """Number of ledger entries from option fills (opens, closes, resizes, rolls)."""
        return sum(e.kind in _FILL_KINDS for e in self.ledger)

    @property
    def daily(self) -> pd.DataFrame:
        """One row per session (DatetimeIndex), built from :attr:`days` on demand.

        Columns
        -------
        equity_usd, cash_usd, option_value_usd
            Closing equity, cash and marked value of the open options (USD).
        index_units, index_level, index_value_usd
            Index units held after the close, the S&P 500 close, and their product.
        margin_usd, margin_call
            The book's strategy-based requirement at the close (NaN when not modelled) and
            whether it exceeded the equity.
        regime, regime_level
            The session's regime name and level 0..4 (None / NaN when unknown).
        hedge_score
            The ALVH score the hedge stage used (NaN when no hedge stage ran).
        delta_usd_per_pct, gamma_usd_per_pct_sq, vega_usd_per_volpt, theta_usd_per_day,
        vix_delta_usd_per_vixpt, vix_vega_usd_per_volpt
            The engine's book Greeks (``decision.book["greeks"]``): the open book **after the
            day's proposed orders at their mids**, before fills, refusals and the close
            settlement; options only (NaN when not computed).
        index_delta_usd_per_pct
            The index units' delta: ``units * close / 100`` USD per 1% S&P 500 move.
        orders, refused_fills
            Non-hold intents decided, and those the fill model (or the margin check) refused.
        marks_modelled
            Whether a leg was marked at a model price.
        """
        refused: dict[date, int] = {}
        for day, _ in self.refusals:
            refused[day] = refused.get(day, 0) + 1
        cols: dict[str, list[Any]] = {c: [] for c in _DAILY_COLUMNS}
        for d in self.days:
            greeks = d.decision.book.get("greeks") or {}
            stages = d.decision.book.get("stages") or {}
            hedge = stages.get("hedge") if isinstance(stages, Mapping) else None
            score = hedge.get("score") if isinstance(hedge, Mapping) else None
            row: dict[str, Any] = {
                "equity_usd": d.equity_usd,
                "cash_usd": d.cash_usd,
                "option_value_usd": d.option_value_usd,
                "index_units": d.index_units,
                "index_level": d.index_level,
                "index_value_usd": d.index_units * d.index_level,
                "margin_usd": d.margin_usd,
                "margin_call": d.margin_call,
                "regime": d.decision.regime,
                "regime_level": d.regime_level,
                "hedge_score": math.nan if score is None else float(score),
                **{g: _num(greeks.get(g)) for g in _GREEKS},
                "index_delta_usd_per_pct": d.index_units * d.index_level / 100.0,
                "orders": sum(o.action is not Action.HOLD for o in d.decision.orders),
                "refused_fills": refused.get(d.session, 0),
                "marks_modelled": d.marks_modelled,
            }
            for c in _DAILY_COLUMNS:
                cols[c].append(row[c])
        frame = pd.DataFrame(
            cols, index=pd.DatetimeIndex([pd.Timestamp(d.session) for d in self.days])
        )
        frame.index.name = "session"
        return frame.astype({"margin_call": bool, "marks_modelled": bool})

    @property
    def hedge_events(self) -> pd.DataFrame:
        """VIX-option ledger entries (hedge opens, closes, rolls, settlements), one row each.

        Columns: ``session``, ``action`` (``open``, ``close``, ``resize``, ``settle``, or
        ``roll`` for both halves of an ALVH time-shift roll), ``kind`` (the ledger kind),
        ``layer`` (``short``/``medium``/``long`` for ALVH tranches, else None), ``structure``,
        ``contracts`` (largest leg quantity traded or settled, unsigned), ``premium_usd``
        (premium cash before fees, negative when paid; for a settlement the settlement cash),
        ``fees_usd``, ``cash_usd``, ``realised_pnl_usd``, ``reason``.
        """
        rows = []
        for e in self.ledger:
            if not any(g.label.startswith("VIX") for g in e.legs):
                continue
            layer = hedge_layer_of(e.structure)
            rows.append(
                {
                    "session": pd.Timestamp(e.session),
                    "action": "roll" if "time-shift" in e.reason else e.kind,
                    "kind": e.kind,
                    "layer": None if layer is None else str(layer),
                    "structure": e.structure,
                    "contracts": max(abs(g.quantity) for g in e.legs),
                    "premium_usd": e.cash_usd + e.fees_usd,
                    "fees_usd": e.fees_usd,
                    "cash_usd": e.cash_usd,
                    "realised_pnl_usd": e.realised_pnl_usd,
                    "reason": e.reason,
                }
            )
        return pd.DataFrame(rows, columns=list(_HEDGE_EVENT_COLUMNS))

    def ledger_frame(self) -> pd.DataFrame:
        """The ledger, one row per entry per leg (interest and dividends: one row, no leg).

        Columns: ``session``, ``kind``, ``structure``, ``leg`` (contract label, ``SPX index``
        or empty), ``quantity`` (signed), ``price`` (fill or settlement price, points),
        ``mid`` (the quote's mid at the fill; NaN for settlements), ``fees_usd``,
        ``cash_usd`` and ``realised_pnl_usd`` (the leg's share, net of its fees; they sum to
        the ledger's totals), ``reason``. For CSV export.
        """
        rows: list[tuple[Any, ...]] = []
        for e in self.ledger:
            day = pd.Timestamp(e.session)
            if not e.legs:
                rows.append(
                    (day, e.kind, e.structure, "", math.nan, math.nan, math.nan, e.fees_usd,
                     e.cash_usd, e.realised_pnl_usd, e.reason)
                )  # fmt: skip
            for g in e.legs:
                rows.append(
                    (day, e.kind, e.structure, g.label, float(g.quantity), g.price, g.mid,
                     g.fees_usd, g.cash_usd, g.realised_pnl_usd, e.reason)
                )  # fmt: skip
        return pd.DataFrame(rows, columns=list(_LEDGER_COLUMNS))


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


def _quote_key(c: OptionContract) -> tuple[str, date, float, str]:
    return (c.root, c.expiry, float(c.strike), c.right.value)


def _quotes_for(
    chain: pd.DataFrame, keys: set[tuple[str, date, float, str]]
) -> dict[tuple[str, date, float, str], tuple[float, float]]:
    """:func:`~vixshield.backtest.fills.quote_table` restricted to ``keys`` (built from the
    chain rows of those expiries and strikes only: a day's chain has thousands of quotes)."""
    if chain.empty:
        return {}
    rows = chain.loc[
        chain["strike"].isin({k[2] for k in keys}) & chain["expiry"].isin({k[1] for k in keys})
    ]
    return {k: v for k, v in make_quote_table(rows).items() if k in keys}


def _pricer(
    snap: MarketSnapshot, last_mid: Mapping[tuple[str, date, float, str], float] | None = None
) -> Callable[[OptionContract], float | None]:
    """A leg's last mid (on a data-gap session, when given and known), else its intrinsic value
    against the day's close (SPX) or VX future / VIX close (VIX)."""
    futures = {p.expiry: p.settle for p in snap.vx_curve}
    vix = snap.index("vix")

    def price(c: OptionContract) -> float | None:
        if last_mid is not None and (key := _quote_key(c)) in last_mid:
            return last_mid[key]
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
    sleeve: IndexSleeve | None = None,
    index_cost_bps: float = 0.0,
    enforce_margin: bool = True,
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
        SPX dividend yield for the chains (as :func:`run_day`), and the yield credited on
        index units held (the total-return approximation; the data holds no dividends).
    progress
        Called as ``progress(done, total)`` after each session.
    stages
        ``stages(credit_window_usd, spend_window_usd)``: the pipeline for the day (default
        :func:`backtest_stages`; a smaller one tests a stage alone).
    sleeve
        An :class:`IndexSleeve`: S&P 500 index units held beside the options (default none).
    index_cost_bps
        Cost of an index trade, basis points of the notional traded (``|du| * close``),
        charged as a fee.
    enforce_margin
        Refuse an opening fill whose margin requirement would exceed equity (module
        docstring); False records the requirement and margin calls but fills every open.

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
    if not (math.isfinite(index_cost_bps) and 0.0 <= index_cost_bps <= 1000.0):
        raise InvalidInputError(f"index_cost_bps must be in [0, 1000], got {index_cost_bps!r}")
    params = fill or FillParams()
    indicators = compute_indicators(history, config.indicators)
    regimes = classify(indicators, config.regime)
    level_of = _levels(regimes)

    pf = Portfolio(float(equity_usd))
    equity_in = float(equity_usd)
    days: list[DayRecord] = []
    refusals: list[tuple[date, FillRefusal]] = []
    margin_calls: list[tuple[date, str]] = []
    gaps: list[tuple[date, str]] = []
    last_mid: dict[tuple[str, date, float, str], float] = {}
    trades: list[ClosedTrade] = []
    opens: list[tuple[date, Layer, float]] = []
    layer_of: dict[str, Layer] = {}
    credit_of: dict[str, float] = {}
    pnl_of: dict[str, float] = {}
    prev: tuple[date, float, float | None, float] | None = None  # session, rate, VIX, SPX close

    for n, session in enumerate(sessions, 1):
        clock = FixedClock(stamp(session))
        key = pd.Timestamp(session)
        snap = history.snapshot(session, clock=clock)
        rate = _day_rate(snap)
        if prev is not None:
            days_since = (session - prev[0]).days
            pf = pf.accrue_interest(prev[1], days_since, session)
            pf = pf.accrue_dividends(prev[3], div_yield, days_since, session)
        seen = len(pf.ledger)

        # Morning: AM-settled SPX (open print) and VIX (VIX open proxy).
        vix_open = prev[2] if prev is not None else None
        spx_open: float | None = snap.spx.open
        if spx_open is not None and not (math.isfinite(spx_open) and spx_open > 0):
            spx_open = None  # never guessed: an SPX AM expiry that day refuses to settle
        try:
            pf = _settle(
                pf,
                SettlementPrices(session, spx_open=spx_open, vix_open=vix_open),
                _AM_ROOTS,
                _VIX_OPEN_NOTE,
            )
        except InvalidInputError as exc:
            raise DataError(
                f"{session}: {exc}. The history has no S&P 500 opening print that session "
                "(imported with --close-only?); re-import the S&P 500 file with its opens"
                if spx_open is None
                else f"{session}: {exc}"
            ) from exc

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
        try:
            decision = run_day(
                history, session, clock=clock, config=config, book=book, equity_usd=equity_in,
                rate=None, div_yield=div_yield, indicators=indicators, regimes=regimes,
                stages=stages(credit, spend), book_views=False,
            )  # fmt: skip
            gap = None
        except LookaheadError:
            raise
        except DataError as exc:  # a data gap: no decision, no fills, stale marks (flagged)
            gap = f"{session}: no decision, no fills, legs marked at their last mid: {exc}"
            decision = _no_decision(session, clock, gap)
            gaps.append((session, gap))

        # Quotes of the contracts the day can touch: the held legs and the orders' legs (a
        # fill or a mark reads nothing else, so the result equals a table of every quote).
        wanted = {
            _quote_key(g.contract)
            for s in (*book.structures, *(o.structure for o in decision.orders if o.structure))
            for g in s.legs
        }
        tables: list[QuoteTable] = []
        if gap is None and wanted:
            chain = history.spx_chain(session, clock=clock, rate=rate, div_yield=div_yield)
            tables.append(_quotes_for(chain, wanted))
            if any(k[0] == "VIX" for k in wanted):
                vix_chain = _vix_chain(snap, rate)
                if vix_chain is not None:
                    tables.append(_quotes_for(vix_chain, wanted))
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
            if enforce_margin and intent.action is Action.OPEN:
                blocked = _margin_refusal(
                    got, pf, session=session, quotes=merged, snap=snap, costs=params.costs
                )
                if blocked is not None:
                    refusals.append((session, blocked))
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

        marks = pf.mark(merged, pricer=_pricer(snap, last_mid if gap is not None else None))
        last_mid = {
            k: 0.5 * (merged[k][0] + merged[k][1]) if k in merged else last_mid[k]
            for p in pf.positions
            for g in p.structure.legs
            if (k := _quote_key(g.contract)) in merged or k in last_mid
        }
        option_value = marks.value_usd
        if option_value is None:  # the pricer prices every leg; a defensive message all the same
            raise InvalidInputError(f"{session}: unpriced legs {marks.missing}")
        close = snap.spx.close
        if sleeve is not None:
            pf = _trade_sleeve(
                pf, sleeve, session=session, snap=snap, option_value=option_value,
                cost_bps=index_cost_bps,
            )  # fmt: skip
        eq = pf.cash_usd + option_value + pf.index_units * close
        margin = _margin(pf.structures.values(), eq, snap, params.costs)
        if margin.call:
            margin_calls.append((session, margin.reason))
        days.append(
            DayRecord(
                session, book, equity_in, credit, spend, decision, eq, marks.modelled,
                cash_usd=pf.cash_usd, index_units=pf.index_units, index_level=close,
                option_value_usd=option_value, regime_level=level_of.get(key, math.nan),
                margin_usd=margin.required_usd, margin_call=margin.call,
            )
        )  # fmt: skip
        # run_day needs equity > 0; a wiped-out account keeps sizing on its last positive equity.
        equity_in = eq if eq > 0 else equity_in
        vix = snap.index("vix")
        prev = (session, rate, vix, close)
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
        margin_calls=tuple(margin_calls),
        data_gaps=tuple(gaps),
    )


def _no_decision(session: date, clock: FixedClock, reason: str) -> DayDecision:
    """The record of a session the engine could not decide on (a data gap)."""
    return DayDecision(
        session=session,
        as_of=clock.now(),
        regime=None,
        regime_drivers=(),
        indicators={},
        orders=(),
        refusals=(Refusal(Layer.RISK, "the day's decision", (reason,)),),
        notes=(reason,),
    )


def _margin(
    structures: Iterable[Structure], equity: float, snap: MarketSnapshot, costs: CostParams
) -> MarginCheck:
    """The open book's strategy-based requirement against ``equity`` (NaN: not modelled)."""
    levels = {"SPX": snap.spx.close}
    vix = snap.index("vix")
    if vix is not None and math.isfinite(vix) and vix > 0:
        levels["VIX"] = vix
    try:
        return margin_check(structures, equity, underlying_levels=levels, params=costs)
    except InvalidInputError as exc:
        return MarginCheck(math.nan, False, f"margin not modelled for the book: {exc}")


def _margin_refusal(
    got: Fill,
    pf: Portfolio,
    *,
    session: date,
    quotes: QuoteTable,
    snap: MarketSnapshot,
    costs: CostParams,
) -> FillRefusal | None:
    """A refusal when the book's requirement after the opening fill exceeds equity after it."""
    after = pf.apply_fill(got, session)
    value = after.mark(quotes, pricer=_pricer(snap)).value_usd
    if value is None:  # the pricer prices every leg
        return None
    equity = after.cash_usd + value + after.index_units * snap.spx.close
    check = _margin(after.structures.values(), equity, snap, costs)
    if not check.call:
        return None
    return FillRefusal(
        got.intent,
        (
            f"margin: the requirement after this open, {check.required_usd:,.2f} USD, would "
            f"exceed equity {equity:,.2f} USD (Cboe strategy-based rules x "
            f"{costs.margin_multiplier:g}); not filled",
            check.reason,
        ),
    )


def _levels(regimes: pd.DataFrame) -> dict[pd.Timestamp, float]:
    """Regime level by session (NaN where unknown)."""
    if "regime_level" not in regimes.columns:
        return {}
    values = pd.to_numeric(regimes["regime_level"], errors="coerce").to_numpy(dtype=np.float64)
    return dict(zip(pd.DatetimeIndex(regimes.index), values.tolist(), strict=True))


def _trade_sleeve(
    pf: Portfolio,
    sleeve: IndexSleeve,
    *,
    session: date,
    snap: MarketSnapshot,
    option_value: float,
    cost_bps: float,
) -> Portfolio:
    """Trade the sleeve to its target at the S&P 500 close (None or no change: no trade)."""
    close = snap.spx.close
    held = pf.index_units
    equity = pf.cash_usd + option_value + held * close
    target = sleeve.target_units(session, snap, equity, held, pf)
    if target is None:
        return pf
    if not math.isfinite(target):
        raise InvalidInputError(f"{session}: the index sleeve asked for {target!r} units")
    du = target - held
    if du == 0:
        return pf
    fee = cost_bps * 1e-4 * abs(du) * close
    reason = (
        f"index sleeve {type(sleeve).__name__}: {held:,.6g} -> {target:,.6g} units at the "
        f"S&P 500 close {close:.2f} (equity before {equity:,.2f} USD); cost {cost_bps:g} bp "
        f"of {abs(du) * close:,.2f} USD = {fee:,.2f} USD"
    )
    return pf.trade_index(du, close, session, fee_usd=fee, reason=reason)


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
