r"""The decision core: :func:`run_day`, the single place a trading decision is made.

The daily signal (``vixshield signal``) and the backtest call the same function with the same
inputs: a market history, a session, a clock, the strategy configuration, the user's open book
and the account equity. It returns a :class:`~vixshield.domain.decisions.DayDecision`: the
regime and its drivers, the indicator snapshot, the order intents (each with its reasons), the
refusals (rules that considered acting and declined, with why), the resulting book's Greeks,
break-evens and delta band, the scenario table and notes on which inputs were modelled.

Pipeline
--------
1. **Snapshot.** ``history.snapshot(session, clock=clock)``: refuses a session whose data is
   stamped after the clock (:class:`~vixshield.data.market.LookaheadError`).
2. **Indicators** (METHOD §3) on ``history.upto(session)``: causal, nothing after the session
   is read. A backtest may pass a precomputed ``indicators`` frame (and ``regimes``) over a
   longer history; because every indicator is causal, its row for the session equals the
   causal computation (``tests/unit/test_engine.py`` checks it).
3. **Regime** (METHOD §4) with its drivers, from the indicator frame (only the last
   ``persistence.step_down_after`` rows are needed; the result is the same).
4. **The day's SPX chain**: the stored real chain for the session, else a model chain from the
   VIX family (:meth:`MarketHistory.spx_chain`). The stages never read its ``modelled``
   column; implied vols and deltas are re-solved from the mids either way.
5. **Stages**, in order; each is a small object with one method,
   ``decide(ctx, proposed) -> StageOutput``, that sees the day (:class:`DayContext`) and the
   intents proposed by the stages before it:

   a. :class:`ManagementStage` (METHOD §5): the user's open SPX credit structures, marked at
      the chain's mids: profit target, stop, DTE exit, tested side (roll the untested side
      closer, or close the tested side), crowding (cut size by half). One intent per open
      structure (``hold`` included, with its reason). Ladder rungs are held to expiry
      (``exit_dte`` 0); VIX structures are left to the hedge stage.
   b. :class:`CoreCondorStage` (METHOD §5, 9): a new 45-DTE iron condor, refused in
      ``crisis``, on an FOMC decision day, with the regime unknown, or while the book still
      holds a core condor; built by :func:`~vixshield.strategy.condor.build_iron_condor`
      (break-even alignment included) and sized by
      :func:`~vixshield.strategy.sizing.contracts_for` for the regime.
   c. :class:`LadderStage` (METHOD §6): at most one new 7-21 DTE rung, on VIX MACD
      compression, cadence and rung count permitting
      (:func:`~vixshield.strategy.ladder.ladder_decision`).
   d. :class:`HedgeStage` (METHOD §8): the ALVH score from six triggers (the delta band of the
      book after the orders so far among them), tranche targets per layer, monetising and the
      time-shift roll of open tranches, cost discipline and the per-initiation cap
      (:func:`~vixshield.strategy.alvh.hedge_decision`, VIX options on a model chain over the
      VX curve).
   e. :class:`RiskStage` (METHOD §7): the delta band of the book after the proposed orders.

   :class:`NoStage` is the do-nothing stage (any stage can be replaced by it to test the others
   alone) and :class:`CompositeStage` runs several as one.
6. **Resulting book** = open book with the proposed closes, resizes and rolls applied, plus the
   proposed opens at their mids: book Greeks (:func:`~vixshield.strategy.book.book_greeks` on
   the chain's implied vols, a VIX-skew surface where the chain lacks an expiry), break-evens,
   the delta band and the scenario table (SPX -20/-10/-5/+5/+10%, VIX +10/+20 points, 1 and 7
   days on, and the combined shocks of the config; P&L against today's marks).
7. **Notes**: which snapshot inputs were modelled, whether the chain was real or modelled, where
   the rate came from, the assumed dividend yield.

Deterministic: the same inputs give the same :meth:`DayDecision.to_json` text; ``as_of`` is the
clock's time, so a fixed clock (the backtest's, or the CLI's at the session's data stamp) makes
the whole decision reproducible.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel

from vixshield import calendar
from vixshield.clock import Clock
from vixshield.config import StrategyConfig, fingerprint
from vixshield.data.market import MarketHistory
from vixshield.domain.decisions import Action, DayDecision, Layer, OrderIntent, Refusal
from vixshield.domain.market import MarketSnapshot
from vixshield.domain.positions import Book, Leg, OptionContract, Right, Structure
from vixshield.errors import DataError, InvalidInputError
from vixshield.signals.indicators import compute_indicators, indicator_snapshot
from vixshield.signals.regime import classify, regime_levels
from vixshield.signals.regime import snapshot as regime_snapshot
from vixshield.strategy.alvh import (
    HedgeLayer,
    HedgeParams,
    HedgePosition,
    hedge_decision,
    hedge_layer_of,
)
from vixshield.strategy.analytics import breakevens, pnl_at_expiry
from vixshield.strategy.book import (
    BookGreeks,
    BookParams,
    ChainVolSurface,
    DeltaBand,
    MarketState,
    VixSkewSurface,
    VolSurface,
    book_greeks,
    delta_band,
    equity_betas_from_returns,
    leg_frame,
)
from vixshield.strategy.condor import Candidate, build_iron_condor, price_chain
from vixshield.strategy.ladder import LadderParams, Rung, ladder_decision
from vixshield.strategy.management import Action as MgmtAction
from vixshield.strategy.management import (
    Decision,
    ManagementParams,
    PositionState,
    manage,
)
from vixshield.strategy.scenarios import (
    DESCRIPTOR_COLUMNS,
    TOTAL_COLUMN,
    Scenario,
    scenario_table,
)
from vixshield.strategy.sizing import contracts_for

__all__ = [
    "ASSUMED_RATE",
    "DEFAULT_STAGES",
    "CompositeStage",
    "CoreCondorStage",
    "DayContext",
    "HedgeStage",
    "LadderStage",
    "ManagementStage",
    "NoStage",
    "RiskStage",
    "Stage",
    "StageOutput",
    "apply_orders",
    "run_day",
]

ASSUMED_RATE: Final = 0.04
"""Rate used when neither the caller nor the history gives one that day (said in the notes)."""

FloatArray = npt.NDArray[np.float64]

_SPX_ROOTS: Final = ("SPX", "SPXW")
_MULTIPLIER: Final = 100


# --------------------------------------------------------------------------------------------
# The day and the stages


@dataclass(frozen=True, slots=True)
class DayContext:
    """Everything a stage may read about the day (nothing stamped after ``as_of``).

    Attributes
    ----------
    session, as_of
        The trading day and the clock's time.
    config
        The strategy configuration.
    snapshot
        The market at the session's close.
    indicators
        The frame of :func:`~vixshield.signals.indicators.compute_indicators` up to the
        session (later rows, if any were passed in, are cut off).
    indicator_row
        The session's indicator snapshot (JSON-able).
    regime, regime_level, regime_drivers
        The session's regime name and level 0..4 (None when unknown) and why.
    chain
        The day's SPX/SPXW chain as the history gives it (real or model).
    priced
        The chain's SPX/SPXW rows with ``mid``, ``iv``, ``delta``, ``forward``, ``dte``,
        ``liquid`` (:func:`~vixshield.strategy.condor.price_chain`).
    rate, div_yield
        Continuously compounded rate and SPX dividend yield used today.
    equity_usd
        Account equity.
    book
        The user's open book.
    market, surface
        Valuation inputs and implied vols for book Greeks and scenarios.
    """

    session: date
    as_of: datetime
    config: StrategyConfig
    snapshot: MarketSnapshot
    indicators: pd.DataFrame
    indicator_row: Mapping[str, Any]
    regime: str | None
    regime_level: int | None
    regime_drivers: tuple[str, ...]
    chain: pd.DataFrame
    priced: pd.DataFrame
    rate: float
    div_yield: float
    equity_usd: float
    book: Book
    market: MarketState
    surface: VolSurface


_RUNS: list[tuple[pd.DataFrame, dict[Any, list[tuple[int, int]]]]] = []
"""The expiry runs of the last priced chain read (one entry, the frame kept alive with them)."""


def _expiry_rows(priced: pd.DataFrame, expiry: date) -> slice | npt.NDArray[np.intp] | None:
    """The rows of ``expiry`` in ``priced`` (a slice when they are listed together), in order.

    The day's priced chain is searched several times (marks, one vol surface per expiry of the
    book): its runs of equal expiries are found once, by comparing neighbours.
    """
    last = _RUNS[0] if _RUNS else None  # one read: another thread may replace the entry
    if last is not None and last[0] is priced:
        runs = last[1]
    else:
        expiries = priced["expiry"].to_numpy(dtype=object)
        starts = np.flatnonzero(np.r_[True, expiries[1:] != expiries[:-1]]).tolist()
        runs = {}
        for start, stop in zip(starts, [*starts[1:], expiries.size], strict=True):
            runs.setdefault(expiries[start], []).append((start, stop))
        _RUNS[:] = [(priced, runs)]
    found = runs.get(expiry)
    if found is None:
        return None
    if len(found) == 1:
        return slice(*found[0])
    return np.concatenate([np.arange(a, b, dtype=np.intp) for a, b in found])


class _LazyChainSurface:
    """:class:`ChainVolSurface` built one expiry at a time, on first use (a chain lists
    hundreds of expiry-strike nodes; a book needs a few expiries)."""

    def __init__(self, priced: pd.DataFrame, fallback: VolSurface) -> None:
        self._priced = priced
        # the columns ChainVolSurface reads (taking only these rows and columns is cheap)
        self._node_columns = [
            i
            for i, c in enumerate(priced.columns)
            if c in ("root", "expiry", "strike", "right", "iv", "forward")
        ]
        self._fallback = fallback
        self._built: dict[date, VolSurface] = {}

    def _surface(self, expiry: date) -> VolSurface:
        if expiry not in self._built:
            rows = _expiry_rows(self._priced, expiry)
            self._built[expiry] = (
                self._fallback
                if rows is None
                else ChainVolSurface(
                    self._priced.iloc[rows, self._node_columns], fallback=self._fallback
                )
            )
        return self._built[expiry]

    def spx_vol(self, expiry: date, strike: npt.ArrayLike) -> FloatArray:
        return self._surface(expiry).spx_vol(expiry, strike)

    def vix_vol(self, expiry: date, strike: npt.ArrayLike) -> FloatArray:
        return self._fallback.vix_vol(expiry, strike)


@dataclass(frozen=True, slots=True)
class StageOutput:
    """What one stage adds to the day: intents, refusals, notes and a JSON-able report."""

    orders: tuple[OrderIntent, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    notes: tuple[str, ...] = ()
    report: Mapping[str, Any] = field(default_factory=dict)


class Stage(Protocol):
    """One step of the pipeline: reads the day and the intents proposed so far."""

    @property
    def name(self) -> str:
        """Key of the stage's report in the decision's ``book["stages"]``."""
        ...

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:
        """The stage's intents, refusals and notes for the day."""
        ...


@dataclass(frozen=True, slots=True)
class NoStage:
    """The do-nothing stage; with ``note`` it says so in the decision's notes."""

    name: str = "none"
    note: str | None = None

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:  # noqa: ARG002 (the Stage protocol)
        return StageOutput(notes=() if self.note is None else (self.note,))


@dataclass(frozen=True, slots=True)
class CompositeStage:
    """Several stages run in order as one; each sees the intents of those before it."""

    stages: tuple[Stage, ...]
    name: str = "composite"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:
        orders: list[OrderIntent] = []
        refusals: list[Refusal] = []
        notes: list[str] = []
        report: dict[str, Any] = {}
        for stage in self.stages:
            out = stage.decide(ctx, (*proposed, *orders))
            orders += out.orders
            refusals += out.refusals
            notes += out.notes
            if out.report:
                report[stage.name] = dict(out.report)
        return StageOutput(tuple(orders), tuple(refusals), tuple(notes), report)


# --------------------------------------------------------------------------------------------
# Book Greeks, once per day and book

_GREEKS_MEMO: list[tuple[DayContext, Book, BookGreeks]] = []
"""The last Greeks computed (one entry): the hedge stage, the risk stage and the resulting-book
section value the same book on most days (no hedge order in between)."""


def _book_greeks(ctx: DayContext, book: Book) -> BookGreeks:
    """:func:`book_greeks` on the day's market and surface, reused for an equal book that day.

    The Greeks are a pure function of the book, ``ctx.market`` and ``ctx.surface``; the
    context is matched by identity (one per ``run_day``), the book by equality.
    """
    last = _GREEKS_MEMO[0] if _GREEKS_MEMO else None  # one read (threads)
    if last is not None and last[0] is ctx and last[1] == book:
        return last[2]
    got = book_greeks(book, ctx.market, ctx.surface)
    _GREEKS_MEMO[:] = [(ctx, book, got)]
    return got


# --------------------------------------------------------------------------------------------
# Marks from the chain


def _mark_table(
    priced: pd.DataFrame, contracts: Iterable[OptionContract] | None = None
) -> dict[tuple[str, date, float, str], tuple[float, float]]:
    """``(root, expiry, strike, right) -> (mid, forward delta)`` of quotes with an implied vol.

    With ``contracts``, only the rows at their expiries and strikes (any root and right): the
    same answer for those contracts, without a key per quote of the chain.
    """
    keep = np.isfinite(priced["iv"].to_numpy(dtype=np.float64, na_value=np.nan))
    strike = priced["strike"].to_numpy(dtype=np.float64)
    if contracts is not None:
        wanted = list(contracts)
        at_expiry = np.zeros(len(priced), dtype=np.bool_)
        for expiry in {c.expiry for c in wanted}:
            found = _expiry_rows(priced, expiry)
            if found is not None:
                at_expiry[found] = True
        keep &= at_expiry & np.isin(strike, sorted({c.strike for c in wanted}))
    rows = np.flatnonzero(keep)
    keys = zip(
        [str(r) for r in priced["root"].array[rows].tolist()],
        priced["expiry"].to_numpy(dtype=object)[rows].tolist(),
        strike[rows].tolist(),
        [str(r) for r in priced["right"].array[rows].tolist()],
        strict=True,
    )
    values = zip(
        priced["mid"].to_numpy(dtype=np.float64)[rows].tolist(),
        priced["delta"].to_numpy(dtype=np.float64)[rows].tolist(),
        strict=True,
    )
    return {(r, e, k, w): v for (r, e, k, w), v in zip(keys, values, strict=True)}


def _quote(
    marks: Mapping[tuple[str, date, float, str], tuple[float, float]], contract: OptionContract
) -> tuple[float, float] | None:
    key = (contract.root, contract.expiry, contract.strike, contract.right.value)
    got = marks.get(key)
    if got is None and contract.root in _SPX_ROOTS:
        # SPX and SPXW share the 3rd-Friday expiry; either quote marks the same payoff date.
        other = "SPXW" if contract.root == "SPX" else "SPX"
        got = marks.get((other, *key[1:]))
    return got


def _units(structure: Structure) -> int:
    return math.gcd(*(abs(leg.quantity) for leg in structure.legs))


def _priced_legs(
    structure: Structure, marks: Mapping[tuple[str, date, float, str], tuple[float, float]]
) -> tuple[tuple[Leg, ...], tuple[float, ...]] | str:
    """Legs re-priced at the chain's mids with their deltas, or why they cannot be."""
    legs: list[Leg] = []
    deltas: list[float] = []
    for leg in structure.legs:
        got = _quote(marks, leg.contract)
        if got is None:
            return f"{leg.contract.label()} has no quote with an implied vol in today's chain"
        legs.append(leg.with_price(got[0]))
        deltas.append(got[1])
    return tuple(legs), tuple(deltas)


def _net_price(legs: Iterable[Leg], units: int) -> float:
    """Net price per unit of a ticket that opens ``legs`` (positive: a credit), points."""
    return -sum(leg.quantity * leg.price for leg in legs) / units


# --------------------------------------------------------------------------------------------
# Management of the open book


def _is_spx(structure: Structure) -> bool:
    return all(leg.contract.underlying == "SPX" for leg in structure.legs)


def _opened_on(structure: Structure, book: Book) -> date | None:
    """The opening session: the book's ``opened``, else the date in a signal-given name.

    The ladder names its rungs ``ladder <session> ...`` and the hedge its tranches
    ``ALVH <layer> tranche <k> <session> ...``.
    """
    known = book.opened.get(structure.name)
    if known is not None:
        return known
    parts = structure.name.split()
    at = {"ladder": 1, "ALVH": 4}.get(parts[0]) if parts else None
    if at is None or len(parts) <= at:
        return None
    try:
        return date.fromisoformat(parts[at])
    except ValueError:
        return None


def _is_rung(structure: Structure, book: Book, config: StrategyConfig) -> bool:
    """A ladder rung: named ``ladder ...``, or opened with fewer days to expiry than a core
    condor's ``min_dte``."""
    if structure.name.startswith("ladder "):
        return True
    opened = _opened_on(structure, book)
    if opened is None or len(structure.expiries) != 1:
        return False
    return (structure.expiries[0] - opened).days < config.condor.min_dte


def _short_delta(structure: Structure, deltas: tuple[float, ...], right: Right) -> float | None:
    found = [
        d
        for leg, d in zip(structure.legs, deltas, strict=True)
        if leg.quantity < 0 and leg.contract.right is right
    ]
    if not found:
        return None
    d = max(found, key=abs)
    return min(d, 0.0) if right is Right.PUT else max(d, 0.0)


def _roll_side(
    structure: Structure,
    marked: tuple[Leg, ...],
    *,
    side: Literal["put", "call"],
    target_delta: float,
    priced: pd.DataFrame,
) -> tuple[Structure, float] | str:
    """The structure with its ``side`` vertical moved to a short at ``target_delta``.

    Returns the structure as held after the roll (unchanged legs at their fills, new legs at
    mids) and the ticket's net price per unit (closing the old vertical, opening the new), or
    why it cannot be built.
    """
    right = Right.PUT if side == "put" else Right.CALL
    idx = [i for i, leg in enumerate(structure.legs) if leg.contract.right is right]
    shorts = [i for i in idx if structure.legs[i].quantity < 0]
    longs = [i for i in idx if structure.legs[i].quantity > 0]
    if len(shorts) != 1 or len(longs) != 1:
        return f"the {side} side is not one vertical spread; roll it by hand"
    s_old, l_old = structure.legs[shorts[0]], structure.legs[longs[0]]
    width = abs(l_old.contract.strike - s_old.contract.strike)
    c = s_old.contract
    rows = priced.loc[
        (priced["root"] == c.root)
        & (priced["expiry"] == c.expiry)
        & (priced["right"] == right.value)
        & priced["liquid"].to_numpy(dtype=np.bool_)
    ]
    if rows.empty:
        return f"no liquid {side} quotes at {c.root} {c.expiry.isoformat()}"
    strikes = rows["strike"].to_numpy(dtype=np.float64)
    mids = rows["mid"].to_numpy(dtype=np.float64)
    absd = np.abs(rows["delta"].to_numpy(dtype=np.float64))
    shortable = rows["shortable"].to_numpy(dtype=np.bool_)
    if not shortable.any():
        return f"no {side} at {c.root} {c.expiry.isoformat()} can be sold (no bid)"
    i_s = int(np.argmin(np.where(shortable, np.abs(absd - target_delta), np.inf)))
    k_s = float(strikes[i_s])
    outward = -1.0 if right is Right.PUT else 1.0
    beyond = (strikes - k_s) * outward > 0
    if not beyond.any():
        return f"no liquid {side} beyond the new short {k_s:g} for the wing"
    i_l = int(np.argmin(np.where(beyond, np.abs(strikes - (k_s + outward * width)), np.inf)))
    q_s, q_l = s_old.quantity, l_old.quantity
    new_short = Leg(OptionContract(c.root, c.expiry, k_s, right), q_s, float(mids[i_s]))
    new_long = Leg(
        OptionContract(c.root, c.expiry, float(strikes[i_l]), right), q_l, float(mids[i_l])
    )
    if new_short.contract == s_old.contract and new_long.contract == l_old.contract:
        return f"the {side} short is already the strike nearest |delta| {target_delta:.2f}"
    units = _units(structure)
    close_old = _net_price((marked[shorts[0]], marked[longs[0]]), units)
    ticket = _net_price((new_short, new_long), units) - close_old
    keep = [leg for i, leg in enumerate(structure.legs) if i not in (shorts[0], longs[0])]
    legs = sorted([*keep, new_short, new_long], key=lambda g: (g.contract.strike, g.contract.right))
    return Structure(structure.name, tuple(legs)), ticket


@dataclass(frozen=True, slots=True)
class ManagementStage:
    """METHOD §5 management of the user's open SPX credit structures (module docstring, 5a).

    Ladder rungs (opened with fewer days to expiry than the core condor's ``min_dte``, per the
    book's ``opened`` dates) are managed with ``exit_dte = 0``: held to expiry unless the
    profit target, the stop or the tested-side rule fires.
    """

    name: str = "management"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:  # noqa: ARG002 (the Stage protocol; management comes first)
        if not any(_is_spx(s) for s in ctx.book.structures):
            return StageOutput()
        marks = _mark_table(
            ctx.priced, (g.contract for s in ctx.book.structures if _is_spx(s) for g in s.legs)
        )
        p = ctx.config.management
        rung_params = p.model_copy(update={"exit_dte": 0})
        refusals: list[Refusal] = []
        notes: list[str] = []
        core: list[tuple[Structure, PositionState, tuple[Leg, ...]]] = []
        rungs: list[tuple[Structure, PositionState, tuple[Leg, ...]]] = []
        for s in ctx.book.structures:
            if not _is_spx(s):
                continue  # VIX structures belong to the hedge layer
            what = f"manage {s.name}"
            if len(s.expiries) != 1:
                refusals.append(Refusal(Layer.CORE, what, ("spans several expiries",)))
                continue
            credit = s.net_premium_usd
            if not credit > 0:
                notes.append(f"{s.name}: opened for a debit; not managed by the credit rules")
                continue
            got = _priced_legs(s, marks)
            if isinstance(got, str):
                refusals.append(Refusal(Layer.CORE, what, (f"cannot mark it: {got}",)))
                continue
            marked, deltas = got
            # buying back the legs costs what opening them at today's mids would receive
            cost = max(0.0, sum(g.cash_usd for g in marked))
            state = PositionState(
                name=s.name,
                quantity=_units(s),
                credit_usd=credit,
                cost_to_close_usd=cost,
                dte=(s.expiries[0] - ctx.session).days,
                short_put_delta=_short_delta(s, deltas, Right.PUT),
                short_call_delta=_short_delta(s, deltas, Right.CALL),
                breakevens_points=_breakevens(s),
            )
            (rungs if _is_rung(s, ctx.book, ctx.config) else core).append((s, state, marked))
        orders: list[OrderIntent] = []
        spot = ctx.snapshot.spx.close
        # Crowding counts every open credit structure, so the two groups are decided together
        # and only the time exit differs.
        everything = [*core, *rungs]
        states = [st for _, st, _ in everything]
        by_core = manage(states, spot, p) if states else ()
        by_rung = manage(states, spot, rung_params) if states else ()
        for i, (s, state, marked) in enumerate(everything):
            decision = by_core[i] if i < len(core) else by_rung[i]
            orders.append(_management_intent(s, state, marked, decision, ctx=ctx, p=p))
        return StageOutput(tuple(orders), tuple(refusals), tuple(notes))


def _management_intent(
    s: Structure,
    state: PositionState,
    marked: tuple[Leg, ...],
    decision: Decision,
    *,
    ctx: DayContext,
    p: ManagementParams,
) -> OrderIntent:
    units = state.quantity
    numbers = (
        f"credit {state.credit_usd:,.2f} USD, cost to close {state.cost_to_close_usd:,.2f} USD "
        f"at mids, open P&L {state.pnl_usd:,.2f} USD, {state.dte} DTE"
    )
    reasons = (*decision.reasons, numbers)
    close_price = -state.cost_to_close_usd / (units * _MULTIPLIER)
    act = decision.action
    if act is MgmtAction.CLOSE:
        return OrderIntent(
            Action.CLOSE, Layer.CORE, Structure(s.name, marked), close_price, reasons, (s.name,)
        )
    if act is MgmtAction.REDUCE:
        keep = decision.new_quantity or 0
        cut = tuple(Leg(g.contract, g.quantity // units * (units - keep), g.price) for g in marked)
        return OrderIntent(
            Action.RESIZE if keep else Action.CLOSE,
            Layer.RISK,
            Structure(s.name, cut),
            close_price,
            reasons,
            (s.name,),
            quantity_change=keep - units,
        )
    if act is MgmtAction.CLOSE_TESTED:
        right = Right.PUT if decision.side == "put" else Right.CALL
        side_legs = tuple(g for g in marked if g.contract.right is right)
        price = -_net_price(side_legs, units)
        return OrderIntent(
            Action.CLOSE, Layer.CORE, Structure(s.name, side_legs), price, reasons, (s.name,)
        )
    if act is MgmtAction.ROLL_UNTESTED:
        assert decision.side is not None
        rolled = _roll_side(
            s,
            marked,
            side=decision.side,
            target_delta=decision.target_delta or p.roll_target_delta,
            priced=ctx.priced,
        )
        if isinstance(rolled, str):
            return OrderIntent(
                Action.ROLL, Layer.CORE, None, None, (*reasons, f"no roll built: {rolled}"),
                (s.name,),
            )  # fmt: skip
        new, ticket = rolled
        return OrderIntent(Action.ROLL, Layer.CORE, new, ticket, reasons, (s.name,))
    return OrderIntent(Action.HOLD, Layer.CORE, None, None, reasons, (s.name,))


# --------------------------------------------------------------------------------------------
# The new core condor


def _holds_core(book: Book, proposed: Sequence[OrderIntent], ctx: DayContext) -> str | None:
    """Name of a core condor the book keeps after today's proposed closes, if any."""
    closing = {
        n
        for o in proposed
        if o.action is Action.CLOSE and o.structure is not None
        for n in o.closes
        if len(o.structure.legs) == len(_by_name(book, n).legs)
    }
    for s in book.structures:
        if s.name in closing or not _is_spx(s) or len(s.expiries) != 1:
            continue
        if _is_rung(s, book, ctx.config):
            continue
        if (s.expiries[0] - ctx.session).days > ctx.config.management.exit_dte:
            return s.name
    return None


def _by_name(book: Book, name: str) -> Structure:
    for s in book.structures:
        if s.name == name:
            return s
    raise InvalidInputError(f"no structure named {name!r} in the book")


@dataclass(frozen=True, slots=True)
class CoreCondorStage:
    """A new core iron condor (METHOD §5, sized by §9), or a refusal with reasons."""

    name: str = "core"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:
        what = "new core iron condor"

        def refuse(*reasons: str) -> StageOutput:
            return StageOutput(refusals=(Refusal(Layer.CORE, what, reasons),))

        if ctx.regime is None:
            return refuse("regime unknown (no VIX close): no new entry", *ctx.regime_drivers)
        if ctx.regime == "crisis":
            return refuse("no new entry in the crisis regime (METHOD 5)", *ctx.regime_drivers)
        if ctx.snapshot.trading_days_to.get("fomc") == 0:
            return refuse("no new entry on the day of an FOMC decision (METHOD 5)")
        held = _holds_core(ctx.book, proposed, ctx)
        if held is not None:
            return refuse(
                f"the book holds the core condor {held!r} past its exit "
                f"({ctx.config.management.exit_dte} DTE): one core condor at a time"
            )
        built = build_iron_condor(
            ctx.chain, rate=ctx.rate, params=ctx.config.condor, priced=ctx.priced
        )
        if not isinstance(built, Candidate):
            return refuse(*built.reasons)
        a = built.analytics
        size = contracts_for(a.max_loss_usd, ctx.equity_usd, ctx.regime, ctx.config.sizing)
        if size.contracts == 0:
            return refuse(*size.reasons)
        n = size.contracts
        legs = tuple(Leg(g.contract, g.quantity * n, g.price) for g in built.structure.legs)
        structure = Structure(built.structure.name, legs)
        be_lo = "-" if a.breakeven_low_points is None else f"{a.breakeven_low_points:.2f}"
        be_hi = "-" if a.breakeven_high_points is None else f"{a.breakeven_high_points:.2f}"
        reasons = (
            f"{ctx.regime} regime, no FOMC decision today: enter the core condor "
            f"({built.dte} DTE, target {ctx.config.condor.target_dte})",
            *built.notes,
            f"credit {a.credit_points:.2f} points at mids, max loss ${a.max_loss_usd:,.2f} per "
            f"condor, break-evens {be_lo} / {be_hi}, probability of profit {a.prob_profit:.1%}",
            *size.reasons,
        )
        order = OrderIntent(Action.OPEN, Layer.CORE, structure, a.credit_points, reasons)
        report = {
            "expiry": built.expiry.isoformat(),
            "dte": built.dte,
            "contracts": n,
            "credit_points": a.credit_points,
            "max_loss_usd": a.max_loss_usd * n,
            "breakevens_points": list(a.breakevens_points),
            "prob_profit": a.prob_profit,
            "risk_frac": size.risk_frac,
        }
        return StageOutput(orders=(order,), report=report)


# --------------------------------------------------------------------------------------------
# The resulting book and the risk stage


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    k = 2
    while f"{name} #{k}" in taken:
        k += 1
    return f"{name} #{k}"


def apply_orders(
    book: Book, orders: Iterable[OrderIntent], *, opened_on: date | None = None
) -> Book:
    """The book after ``orders``: closes and resizes remove legs, rolls replace, opens add.

    A close or resize removes the quantities of its ``structure``'s legs from the named open
    structure (a structure left without legs is gone); a roll replaces the named structure by
    its ``structure``; an open adds its structure at the limit (mid) prices, renamed ``name #2``
    when the name is taken, opened ``opened_on`` when given. Holds change nothing.
    """
    held: dict[str, Structure] = {s.name: s for s in book.structures}
    opened: dict[str, date] = dict(book.opened)
    fees = dict(book.fees_usd)
    for o in orders:
        if o.action is Action.OPEN:
            assert o.structure is not None
            name = _unique(o.structure.name, set(held))
            held[name] = Structure(name, o.structure.legs)
            if opened_on is not None:
                opened[name] = opened_on
        elif o.action is Action.ROLL and o.structure is not None:
            for n in o.closes:
                held.pop(n, None)
            held[o.closes[0] if o.closes else o.structure.name] = o.structure
        elif o.action in (Action.CLOSE, Action.RESIZE):
            for n in o.closes:
                if n not in held:
                    continue
                if o.structure is None:
                    held.pop(n)
                    continue
                take = {g.contract: g.quantity for g in o.structure.legs}
                left = []
                for g in held[n].legs:
                    q = g.quantity - take.get(g.contract, 0)
                    if q != 0:
                        left.append(Leg(g.contract, q, g.price))
                if left:
                    held[n] = Structure(n, tuple(left))
                else:
                    held.pop(n)
    return Book(
        tuple(held.values()),
        book.equities,
        book.equity_betas,
        {k: v for k, v in fees.items() if k in held},
        {k: v for k, v in opened.items() if k in held},
    )


@dataclass(frozen=True, slots=True)
class RiskStage:
    """METHOD §7: the delta band of the book after the proposed orders (a note and a report).

    A breach is reported here and counted by the hedge layer's score; it opens no order itself.
    """

    name: str = "risk"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:
        after = apply_orders(ctx.book, proposed, opened_on=ctx.session)
        try:
            g = _book_greeks(ctx, after)
        except InvalidInputError as exc:
            return StageOutput(notes=(f"delta band not checked: {exc}",))
        band = delta_band(g.delta_usd_per_pct, ctx.equity_usd, ctx.config.book)
        report = {"fraction": band.fraction, "band_frac": band.band_frac, "breached": band.breached}
        refusals: tuple[Refusal, ...] = ()
        if band.breached:
            refusals = (
                Refusal(
                    Layer.RISK,
                    "delta band",
                    (band.reason, "the hedge layer counts the breach; reduce the tested rung"),
                ),
            )
        return StageOutput(refusals=refusals, notes=(band.reason,), report=report)


# --------------------------------------------------------------------------------------------
# Ladder and hedge

_P = TypeVar("_P", bound=BaseModel)


def _config_part(config: StrategyConfig, name: str, kind: type[_P]) -> _P:
    """The config's ``name`` table when it has one of type ``kind``, else ``kind()``."""
    part = getattr(config, name, None)
    return part if isinstance(part, kind) else kind()


@dataclass(frozen=True, slots=True)
class LadderStage:
    """METHOD §6: at most one new short-dated rung (:func:`.ladder.ladder_decision`).

    Open rungs are the book's SPX structures named ``ladder ...`` or opened inside the core
    condor's DTE window; the cadence counts sessions since the latest of them opened.
    ``params`` default: the config's ``ladder`` table when it has one, else the defaults.
    """

    params: LadderParams | None = None
    name: str = "ladder"

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:
        p = self.params or _config_part(ctx.config, "ladder", LadderParams)
        after = apply_orders(ctx.book, proposed, opened_on=ctx.session)
        rungs: list[Rung] = []
        undated: list[str] = []
        for s in after.structures:
            if not (_is_spx(s) and _is_rung(s, after, ctx.config)):
                continue
            opened = _opened_on(s, after)
            if opened is None:
                undated.append(s.name)
                # counted as open (max rungs) but not for the cadence
                rungs.append(Rung(s, calendar.CALENDAR_START))
            else:
                rungs.append(Rung(s, opened))
        dated = [r.opened for r in rungs if r.name not in undated]
        since = None
        if dated:
            last = max(dated)
            since = (
                max(0, len(calendar.sessions(last, ctx.session)) - 1) if last <= ctx.session else 0
            )
        got = ladder_decision(
            session=ctx.session, indicators=ctx.indicator_row, regime_level=ctx.regime_level,
            open_rungs=rungs, sessions_since_last_rung=since, chain=ctx.chain, rate=ctx.rate,
            equity_usd=ctx.equity_usd, sizing=ctx.config.sizing, params=p, priced=ctx.priced,
        )  # fmt: skip
        notes = tuple(
            f"ladder rung {n}: no opening date; not counted for the cadence" for n in undated
        )
        report = {"rungs_open": len(rungs), "sessions_since_last_rung": since}
        if isinstance(got, OrderIntent):
            return StageOutput(orders=(got,), notes=notes, report=report)
        return StageOutput(refusals=(got,), notes=notes, report=report)


def _regime_levels(ctx: DayContext, start: date) -> pd.Series[Any]:
    """Regime levels from ``start`` to the session (persistence warm-up included)."""
    frame = ctx.indicators
    first = int(frame.index.searchsorted(pd.Timestamp(start)))
    warm = max(ctx.config.regime.persistence.step_down_after, 1) - 1
    levels = regime_levels(frame.iloc[max(0, first - warm) :], ctx.config.regime)
    return levels.iloc[first - max(0, first - warm) :]


@dataclass(frozen=True, slots=True)
class HedgeStage:
    """METHOD §8: the Adaptive Layered VIX Hedge (:func:`.alvh.hedge_decision`).

    Inputs from the day: the indicator row, the regime (and each open tranche's peak regime
    since it opened), the delta band of the book after the orders proposed so far, the open
    ALVH tranches (the book's VIX structures named ``ALVH <layer> ...``), the condor book's
    total max loss (SPX credit structures after the proposed orders), a model VIX chain on the
    VX curve and VVIX. The cost-discipline window (``cost_window_cycles`` x the condor's
    ``target_dte`` days) is read from the book: the credit of SPX credit structures and the
    cost of tranches opened in it and still held (the book knows no closed positions); a
    backtest passes the exact figures as ``credit_window_usd`` / ``spend_window_usd``.
    """

    params: HedgeParams | None = None
    credit_window_usd: float | None = None
    spend_window_usd: float | None = None
    name: str = "hedge"
    always_on: bool = False
    """The static always-on baseline (``hedge_decision(always_on=True)``), not the ALVH."""

    def decide(self, ctx: DayContext, proposed: tuple[OrderIntent, ...]) -> StageOutput:
        p = self.params or _config_part(ctx.config, "hedge", HedgeParams)
        notes: list[str] = []
        after = apply_orders(ctx.book, proposed, opened_on=ctx.session)
        band: bool | DeltaBand = False
        try:
            g = _book_greeks(ctx, after)
            band = delta_band(g.delta_usd_per_pct, ctx.equity_usd, ctx.config.book)
        except InvalidInputError as exc:
            notes.append(f"delta band unknown for the hedge score (not counted): {exc}")
        window_start = ctx.session - timedelta(
            days=p.cost_window_cycles * ctx.config.condor.target_dte
        )
        hedges: list[HedgePosition] = []
        for s in ctx.book.structures:
            if _is_spx(s):
                continue
            layer = hedge_layer_of(s.name)
            opened = _opened_on(s, ctx.book)
            if layer is None or opened is None or not -s.net_premium_usd > 0:
                notes.append(
                    f"{s.name}: not an ALVH tranche (name it 'ALVH <short|medium|long> "
                    "tranche <k> <YYYY-MM-DD> ...', opened for a debit); not managed"
                )
                continue
            hedges.append(HedgePosition(s, HedgeLayer(layer), opened, -s.net_premium_usd))
        peak: int | None = None
        if hedges:
            levels = _regime_levels(ctx, min(h.opened for h in hedges))
            # the highest level from each row to the end (NA skipped): one pass for all tranches
            values = levels.to_numpy(dtype=np.float64, na_value=np.nan)
            highest = np.fmax.accumulate(values[::-1])[::-1]
            at = levels.index.searchsorted([pd.Timestamp(h.opened) for h in hedges], side="left")
            with_peaks = []
            for h, i in zip(hedges, at.tolist(), strict=True):
                top = None if i >= len(values) or np.isnan(highest[i]) else int(highest[i])
                with_peaks.append(
                    HedgePosition(h.structure, h.layer, h.opened, h.cost_usd, peak_regime_level=top)
                )
                peak = top if peak is None or (top is not None and top > peak) else peak
            hedges = with_peaks
        condors = [s for s in after.structures if _is_spx(s) and s.net_premium_usd > 0]
        max_loss = sum(_max_loss_usd(s) or 0.0 for s in condors)
        credit = self.credit_window_usd
        if credit is None:
            credit = sum(
                s.net_premium_usd for s in condors
                if (_opened_on(s, after) or ctx.session) >= window_start
            )  # fmt: skip
        spend = self.spend_window_usd
        if spend is None:
            spend = sum(h.cost_usd for h in hedges if h.opened >= window_start)
        got = hedge_decision(
            session=ctx.session, indicators=ctx.indicator_row, regime_level=ctx.regime_level,
            peak_regime_level=peak, delta_band_breached=band, open_hedges=hedges,
            condor_max_loss_usd=max_loss, condor_credit_window_usd=credit,
            hedge_spend_window_usd=spend, equity_usd=ctx.equity_usd, vix_chain=None,
            vx_futures=ctx.market.vx_futures, rate=ctx.rate, vvix=ctx.snapshot.index("vvix"),
            params=p, always_on=self.always_on,
        )  # fmt: skip
        report = {
            "score": got.score.score,
            "live_triggers": [t.name for t in got.score.triggers if t.live],
            "triggers": [
                {"name": t.name, "live": t.live, "reason": t.reason} for t in got.score.triggers
            ],
            "condor_max_loss_usd": max_loss,
            "credit_window_usd": credit,
            "spend_window_usd": spend,
            "plan": [
                {
                    "layer": str(lp.layer),
                    "budget_usd": lp.budget_usd,
                    "tranche_budget_usd": lp.tranche_budget_usd,
                    "held": lp.held,
                    "target": lp.target,
                    "bought": lp.bought,
                    "rolled_in": lp.rolled_in,
                }
                for lp in got.plan
            ],
        }
        return StageOutput(got.orders, got.refusals, (*notes, *got.notes), report)


DEFAULT_STAGES: Final[tuple[Stage, ...]] = (
    ManagementStage(),
    CoreCondorStage(),
    LadderStage(),
    HedgeStage(),
    RiskStage(),
)
"""The METHOD pipeline, in order (module docstring, step 5)."""


# --------------------------------------------------------------------------------------------
# Reporting helpers


def _plain(x: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        f = float(x)
        return f if math.isfinite(f) else None
    if isinstance(x, date):
        return x.isoformat()
    return x


@functools.lru_cache(maxsize=4096)
def _breakevens(s: Structure) -> tuple[float, ...]:
    """:func:`~vixshield.strategy.analytics.breakevens`, kept by structure (a held structure is
    summarised every day; the answer depends on its legs only)."""
    return breakevens(s)


@functools.lru_cache(maxsize=4096)
def _max_loss_usd(s: Structure) -> float | None:
    """Worst P&L at expiry (as a positive loss, fills basis); None when unbounded."""
    if len(s.expiries) != 1:
        return None
    calls = sum(g.quantity for g in s.legs if g.contract.is_call)
    if calls < 0:
        return None
    strikes = sorted({g.contract.strike for g in s.legs})
    grid = np.array([0.0, *strikes, 2.0 * strikes[-1]])
    return float(max(0.0, -float(pnl_at_expiry(s, grid).min())))


def _structure_summary(s: Structure, ctx: DayContext) -> dict[str, Any]:
    single = len(s.expiries) == 1
    return {
        "name": s.name,
        "expiries": [e.isoformat() for e in s.expiries],
        "dte": (s.expiries[0] - ctx.session).days if single else None,
        "legs": len(s.legs),
        "net_premium_usd": s.net_premium_usd,
        "max_loss_usd": _max_loss_usd(s),
        "breakevens_points": list(_breakevens(s)) if single else [],
    }


def _book_section(
    ctx: DayContext, after: Book, stage_reports: Mapping[str, Any], *, views: bool
) -> tuple[dict[str, Any], tuple[Mapping[str, Any], ...], tuple[str, ...]]:
    notes: list[str] = []
    book: dict[str, Any] = {
        "equity_usd": ctx.equity_usd,
        "spx_spot": ctx.market.spx_spot,
        "open_structures": [s.name for s in ctx.book.structures],
        "structures": [_structure_summary(s, ctx) for s in after.structures],
    }
    scenarios: list[dict[str, Any]] = []
    try:
        g = _book_greeks(ctx, after)
        band = delta_band(g.delta_usd_per_pct, ctx.equity_usd, ctx.config.book)
        table = scenario_table(after, ctx.market, ctx.surface, params=ctx.config.book)
    except InvalidInputError as exc:
        notes.append(f"book Greeks and scenarios not computed: {exc}")
    else:
        book["greeks"] = {
            "options_value_usd": g.options_value_usd,
            "equity_value_usd": g.equity_value_usd,
            "delta_spx_points": g.delta_spx_points,
            "delta_usd_per_pct": g.delta_usd_per_pct,
            "gamma_usd_per_pct_sq": g.gamma_usd_per_pct_sq,
            "vega_usd_per_volpt": g.vega_usd_per_volpt,
            "theta_usd_per_day": g.theta_usd_per_day,
            "vix_delta_usd_per_vixpt": g.vix_delta_usd_per_vixpt,
            "vix_vega_usd_per_volpt": g.vix_vega_usd_per_volpt,
        }
        book["delta_band"] = {
            "fraction": band.fraction,
            "band_frac": band.band_frac,
            "breached": band.breached,
            "reason": band.reason,
        }
        pnl_cols = [c for c in table.columns if c not in DESCRIPTOR_COLUMNS]
        for name, row in table.iterrows():
            scenarios.append(
                _plain(
                    {
                        "scenario": str(name),
                        **{c: row[c] for c in DESCRIPTOR_COLUMNS},
                        "pnl_usd": {
                            c.removeprefix("pnl_usd:"): row[c]
                            for c in pnl_cols
                            if c != TOTAL_COLUMN
                        },
                        "total_pnl_usd": row[TOTAL_COLUMN],
                    }
                )
            )
    if views:
        try:
            book["marks"] = _marks(ctx)
            book["payoff"] = _payoff(ctx, after)
        except InvalidInputError as exc:
            notes.append(f"marks and payoff diagram not computed: {exc}")
    book["stages"] = dict(stage_reports)
    return _plain(book), tuple(scenarios), tuple(notes)


def _marks(ctx: DayContext) -> list[dict[str, Any]]:
    """Every option leg held at the session, marked on the day's surface (the Greeks' values).

    ``mark`` is the model price per unit (index points) at the leg's implied vol from the day's
    chain (VIX legs: Black-76 on the VX future); ``value_usd`` is ``mark * quantity *
    multiplier``; ``fill_price`` is the opening price the book gives.
    """
    frame = leg_frame(ctx.book, ctx.market, ctx.surface)
    legs = [(s.name, leg) for s in ctx.book.structures for leg in s.legs]
    names = [str(x) for x in frame["structure"].tolist()]
    labels = [str(x) for x in frame["contract"].tolist()]
    if names != [n for n, _ in legs] or labels != [g.contract.label() for _, g in legs]:
        raise InvalidInputError("the leg valuation came back in another order than the book")
    price = frame["price"].to_numpy(dtype=np.float64)
    value = frame["value_usd"].to_numpy(dtype=np.float64)
    vols = frame["vol"].to_numpy(dtype=np.float64)
    out: list[dict[str, Any]] = []
    for i, (name, leg) in enumerate(legs):
        vol = float(vols[i])
        out.append(
            {
                "structure": name,
                "contract": leg.contract.label(),
                "root": leg.contract.root,
                "expiry": leg.contract.expiry.isoformat(),
                "strike": leg.contract.strike,
                "right": leg.contract.right.value,
                "quantity": leg.quantity,
                "fill_price": leg.price,
                "mark": float(price[i]),
                "vol": vol if vol > 0 and math.isfinite(vol) else None,
                "value_usd": float(value[i]),
            }
        )
    return out


PAYOFF_POINTS = 121
"""SPX levels of the payoff diagram (an odd count puts one level at today's spot)."""


def _payoff(ctx: DayContext, after: Book) -> dict[str, Any] | None:
    """P&L of the resulting book against its opening prices and fees, by SPX level.

    Two curves from the scenario machinery (full repricing, VIX from the spot-vol beta of
    ``config.book``): ``now_usd`` at once and ``expiry_usd`` at the first SPX-family expiry of
    the book (the first expiry of any leg when it holds no SPX legs), when legs of that expiry
    are worth their intrinsic value and later legs (VIX legs included) are repriced with that
    much less time. The SPX range is at least +-8% around
    spot and 1.3 times the farthest SPX strike, at most +-30%. None for a book without options.
    """
    if not after.structures:
        return None
    spot = ctx.market.spx_spot
    spx_legs = [leg for s in after.structures for leg in s.legs if _is_spx_contract(leg.contract)]
    far = max((abs(leg.contract.strike / spot - 1.0) for leg in spx_legs), default=0.0)
    half = min(max(0.08, 1.3 * far), 0.30)
    moves = np.linspace(-half, half, PAYOFF_POINTS) * 100.0
    first = min(
        leg.contract.expiry for leg in spx_legs or [x for s in after.structures for x in s.legs]
    )
    horizon = float(max((first - ctx.session).days, 0))
    grids = [("now", 0.0), ("expiry", horizon)]
    scen = [
        Scenario(f"{tag} {i}", spx_move_pct=float(m), days=days)
        for tag, days in grids
        for i, m in enumerate(moves)
    ]
    table = scenario_table(
        after, ctx.market, ctx.surface, scen, params=ctx.config.book, basis="fill"
    )
    total = table[TOTAL_COLUMN].to_numpy(dtype=np.float64)
    n = len(moves)
    return {
        "spx": (spot * (1.0 + moves / 100.0)).tolist(),
        "now_usd": total[:n].tolist(),
        "expiry_usd": total[n:].tolist(),
        "expiry": first.isoformat(),
        "spot": spot,
        "basis": "resulting book (open positions and proposed orders): P&L in USD against "
        "opening prices and fees; VIX moves with SPX by the scenario spot-vol beta",
    }


def _is_spx_contract(contract: OptionContract) -> bool:
    return contract.root in _SPX_ROOTS


def _provenance(ctx: DayContext, *, real_chain: bool, rate_source: str) -> tuple[str, ...]:
    """Notes on which inputs were modelled (reporting only: no stage reads them)."""
    modelled = ctx.snapshot.modelled_fields()
    return (
        "modelled inputs: " + ", ".join(modelled) if modelled else "all snapshot inputs are real",
        f"option chain: real quotes stored for {ctx.session}"
        if real_chain
        else f"option chain: model chain (no stored quotes for {ctx.session})",
        rate_source,
        f"dividend yield assumed {ctx.div_yield:.2%} (the history holds none)",
    )


# --------------------------------------------------------------------------------------------
# run_day


_FINGERPRINT: list[tuple[StrategyConfig, str]] = []


def _fingerprint(config: StrategyConfig) -> str:
    """:func:`~vixshield.config.fingerprint`, kept for the last configuration object (frozen:
    the same object always has the same fingerprint; a backtest passes one every day)."""
    last = _FINGERPRINT[0] if _FINGERPRINT else None  # one read (threads)
    if last is not None and last[0] is config:
        return last[1]
    got = fingerprint(config)
    _FINGERPRINT[:] = [(config, got)]
    return got


def _indicator_frame(
    history: MarketHistory, session: date, config: StrategyConfig, given: pd.DataFrame | None
) -> pd.DataFrame:
    key = pd.Timestamp(session)
    if given is None:
        # upto() rebuilds the history; when the session is the last one there is nothing to cut.
        causal = history if history.sessions[-1] == session else history.upto(session)
        return compute_indicators(causal, config.indicators)
    if key not in given.index:
        raise DataError(
            f"{session} is not a row of the precomputed indicator frame; compute it over a "
            "history that includes the session"
        )
    return given.loc[:key]


def _estimate_betas(
    book: Book,
    history: MarketHistory,
    session: date,
    closes: Mapping[str, pd.Series],
    params: BookParams,
) -> tuple[Book, list[str]]:
    """CAPM betas for holdings without one, from log returns up to ``session`` (causal)."""
    missing = [h.symbol for h in book.equities if h.symbol not in book.equity_betas]
    if not missing:
        return book, []
    cut = pd.Timestamp(session)
    spx = history.daily["spx_close"]
    spx_logs = pd.Series(np.log(spx.loc[:cut].to_numpy(dtype=float)), index=spx.loc[:cut].index)
    spx_returns = spx_logs.diff().dropna()
    returns: dict[str, pd.Series] = {}
    for sym in missing:
        series = closes.get(sym)
        if series is None:
            continue
        s = series.copy()
        s.index = pd.DatetimeIndex(s.index).normalize()
        logs = pd.Series(np.log(s.loc[:cut].to_numpy(dtype=float)), index=s.loc[:cut].index)
        returns[sym] = logs.diff().dropna()
    betas = equity_betas_from_returns(returns, spx_returns, params)
    notes = [
        f"beta of {sym} {b:.3f}: CAPM on up to {params.beta_window_days} daily returns to {session}"
        for sym, b in sorted(betas.items())
    ]
    return book.with_betas(betas), notes


def run_day(
    history: MarketHistory,
    session: date,
    *,
    clock: Clock,
    config: StrategyConfig,
    book: Book | None = None,
    equity_usd: float,
    rate: float | None = None,
    div_yield: float = 0.015,
    indicators: pd.DataFrame | None = None,
    regimes: pd.DataFrame | None = None,
    stages: Sequence[Stage] | None = None,
    equity_closes: Mapping[str, pd.Series] | None = None,
    book_views: bool = True,
) -> DayDecision:
    """The day's decision: the pipeline of the module docstring.

    Parameters
    ----------
    history
        Market history holding ``session`` (it may run later: nothing after it is read).
    session
        The trading day decided.
    clock
        The only source of "now"; the session's data must be stamped at or before it.
    config
        The strategy configuration (its fingerprint is recorded in the decision).
    book
        The user's open positions (default: none).
    equity_usd
        Account equity in USD (> 0): sizing, delta band.
    rate
        Continuously compounded rate; default the history's that day, else
        :data:`ASSUMED_RATE` (the notes say which).
    div_yield
        SPX continuous dividend yield (the history holds none: an assumption, noted).
    indicators, regimes
        Optional precomputed :func:`~vixshield.signals.indicators.compute_indicators` and
        :func:`~vixshield.signals.regime.classify` frames (same config) over any history
        holding the session, for backtests; the result equals the causal computation.
    stages
        The pipeline after the market inputs (default :data:`DEFAULT_STAGES`).
    equity_closes
        Daily closes (indexed by date) of equity holdings whose beta the book does not give:
        their CAPM beta to SPX is estimated from trailing daily returns up to the session
        (``book.beta_window_days``, at least ``book.beta_min_obs`` paired returns).
    book_views
        Add ``book["marks"]`` (every held leg marked on the day's surface) and
        ``book["payoff"]`` (the resulting book's P&L by SPX level, now and at the first
        expiry) for the journal, API and dashboard; backtests pass False (nothing reads them
        there, and the payoff grid reprices the book 242 times a day).

    Returns
    -------
    DayDecision

    Raises
    ------
    LookaheadError
        The session's data is stamped after the clock.
    DataError
        The session is not in the history, or there is neither a stored chain nor a VIX close.
    InvalidInputError
        Equity not a finite number > 0.
    """
    if not (isinstance(equity_usd, int | float) and math.isfinite(equity_usd) and equity_usd > 0):
        raise InvalidInputError(f"equity_usd must be a finite number > 0, got {equity_usd!r}")
    snap = history.snapshot(session, clock=clock)  # refuses look-ahead first
    open_book = book if book is not None else Book()
    beta_notes: list[str] = []
    if equity_closes:
        open_book, beta_notes = _estimate_betas(
            open_book, history, session, equity_closes, config.book
        )

    frame = _indicator_frame(history, session, config, indicators)
    row = indicator_snapshot(frame, session)
    key = pd.Timestamp(session)
    if regimes is not None and key in regimes.index:
        classified = regimes
    else:
        # Persistence reads the last step_down_after rows; the tail gives the same last row.
        tail = max(config.regime.persistence.step_down_after, 1)
        classified = classify(frame.iloc[-tail:], config.regime)
    reg = regime_snapshot(classified, key)

    if rate is not None:
        day_rate, rate_note = float(rate), f"rate {rate:.4%} given by the caller"
    elif snap.rate is not None:
        day_rate = snap.rate.value
        kind = "modelled" if snap.rate.modelled else "real"
        rate_note = f"rate {day_rate:.4%} from the history ({kind})"
    else:
        day_rate = ASSUMED_RATE
        rate_note = f"rate assumed {ASSUMED_RATE:.2%} (no rate in the history that day)"

    chain = history.spx_chain(session, clock=clock, rate=day_rate, div_yield=div_yield)
    liquidity = config.condor.liquidity
    priced = price_chain(chain, rate=day_rate, roots=_SPX_ROOTS, liquidity=liquidity)
    market = MarketState.from_snapshot(snap, div_yield=div_yield, rate=day_rate)
    surface = _LazyChainSurface(priced, VixSkewSurface(market))
    ctx = DayContext(
        session=session,
        as_of=clock.now(),
        config=config,
        snapshot=snap,
        indicators=frame,
        indicator_row=row,
        regime=reg["regime"],
        regime_level=reg["regime_level"],
        regime_drivers=tuple(reg["drivers"]),
        chain=chain,
        priced=priced,
        rate=day_rate,
        div_yield=div_yield,
        equity_usd=float(equity_usd),
        book=open_book,
        market=market,
        surface=surface,
    )
    out = CompositeStage(tuple(stages if stages is not None else DEFAULT_STAGES)).decide(ctx, ())
    after = apply_orders(open_book, out.orders, opened_on=session)
    book_json, scenarios, book_notes = _book_section(ctx, after, out.report, views=book_views)
    notes = (
        *_provenance(ctx, real_chain=session in history.real_chains, rate_source=rate_note),
        *beta_notes,
        *out.notes,
        *book_notes,
    )
    return DayDecision(
        session=session,
        as_of=ctx.as_of,
        regime=ctx.regime,
        regime_drivers=ctx.regime_drivers,
        indicators=row,
        orders=out.orders,
        refusals=out.refusals,
        book=book_json,
        scenarios=scenarios,
        notes=notes,
        config_fingerprint=_fingerprint(config),
    )
