"""The HTTP API of the daily service: signals, the book, fills, runs, backtests, the dashboard.

:func:`create_app` builds a FastAPI application over a :class:`~vixshield.journal.Journal`;
``vixshield serve`` runs it with uvicorn. The API is documented by its OpenAPI description at
``/openapi.json`` (every operation with a summary, a description, its response models with
field descriptions and units, and its error responses); ``docs/api.md`` is the guide.

Rules
-----
* **Time.** "Now" comes from the :class:`~vixshield.clock.Clock` only. The signal of "today"
  is the one of the last session whose data is out (:func:`vixshield.data.market.stamp`: the
  close plus 15 minutes), in New York time.
* **Auth.** ``Authorization: Bearer <token>``, compared in constant time
  (:func:`hmac.compare_digest`) with the environment variable named by ``[api] token_env``
  (read on every request, so a rotated token applies at once). Writes always need it; with
  the variable unset they answer 503. Reads need it when ``[api] public_reads = false``
  (the dashboard too); ``/api/health``, ``/openapi.json`` and the static plotly bundle stay
  public (they hold no data).
* **Errors.** Every error is JSON ``{"error": "<code>", "detail": "<what to do>"}``
  (validation errors add ``fields``: one entry per bad field, named like ``fills[0].strike``).
  Library errors (:class:`~vixshield.errors.VixShieldError`) keep their message; anything
  unexpected is logged with its traceback under a request id and answered 500 without one.
* **Headers.** ``X-Content-Type-Options: nosniff`` and ``X-Request-ID`` on every response,
  ``Cache-Control: no-store`` on API responses, a Content-Security-Policy on HTML (the
  dashboard's inline scripts allowed by their SHA-256 hashes, nothing from other origins).
* **Docs pages.** Swagger UI and ReDoc load their assets from a CDN, and the package ships no
  offline copy: both pages are disabled; ``/openapi.json`` is served.
"""

import base64
import gzip
import hashlib
import hmac
import json
import logging
import re
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import anyio.to_thread
from fastapi import Body, Depends, FastAPI, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import vixshield
from vixshield import calendar
from vixshield.clock import Clock, SystemClock
from vixshield.data.book_file import read_book
from vixshield.data.market import stamp
from vixshield.domain.positions import ROOT_KIND, Book, OptionContract, Right
from vixshield.errors import (
    CalendarError,
    DataError,
    InvalidInputError,
    JournalError,
    VixShieldError,
)
from vixshield.journal import Journal, RunHandle, StoredDecision
from vixshield.journal.positions import FillInput
from vixshield.service.daily import (
    DailyOutcome,
    earlier_decisions,
    last_published_session,
    run_daily,
    with_repeats,
)
from vixshield.service.dashboard import (
    DashboardView,
    history_item,
    load_backtest,
    plotly_js,
    render_dashboard,
)
from vixshield.service.settings import ServiceSettings
from vixshield.units import NEW_YORK

__all__ = ["SIGNAL_MODE", "create_app", "expected_session"]

log = logging.getLogger("vixshield.api")

SIGNAL_MODE: Final = "signal"
"""The journal mode of the daily signal."""
PLOTLY_PATH: Final = "/static/plotly.min.js"
DASHBOARD_HISTORY: Final = 250
"""Decisions the dashboard charts (the latest revision of each, oldest first)."""
MAX_LIMIT: Final = 1000
WORKER_THREADS: Final = 4
"""Threads serving the sync endpoints (the journal is synchronous). The server sets anyio's
default thread limiter to this at startup: more threads than cores only contend for the GIL
(measured on 2 cores at 64 concurrent readers: 40 threads gave 574 req/s and a p90 of 197 ms,
4 threads 724 req/s and 92 ms; benchmarks/README.md). A run (``POST /api/runs``) holds one."""
_PLOTLY_CACHE: Final = "public, max-age=31536000, immutable"
_DEFAULT_CSP: Final = "default-src 'none'; frame-ancestors 'none'"
_INLINE_SCRIPT: Final = re.compile(
    r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL
)
_BOOK_PROBLEM: Final = re.compile(r"^(legs|equities)\[(\d+)\], field '([^']*)': (.*)$")
_FILL_PROBLEM: Final = re.compile(r"^(fills\[\d+\](?:\.\w+)?): (.*)$")

Runner = Callable[..., DailyOutcome]


MAX_POINTS: Final = 1e6
"""Largest strike or option price accepted (index points)."""
MAX_CONTRACTS: Final = 1_000_000
"""Largest quantity of one fill or leg (contracts)."""
MAX_USD: Final = 1e12
MAX_SHARES: Final = 1e12


def _storable(value: str) -> str:
    """Text any journal backend stores: no NUL (PostgreSQL refuses it), valid Unicode."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (a lone surrogate was sent)") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]


# ------------------------------------------------------------------------------------------
# Response and request models


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldProblem(_Out):
    field: str = Field(
        description="Where the bad value is: `fills[0].strike`, `legs[2].expiry`, "
        "`query.limit`, `path.day`, `body` ..."
    )
    message: str = Field(description="What is wrong with it and what is accepted.")


class ErrorOut(_Out):
    """Every error response."""

    error: str = Field(
        description="Short machine-readable code: `unauthorized`, `invalid_token`, "
        "`writes_disabled`, `reads_disabled`, `not_found`, `not_a_session`, "
        "`invalid_request`, `conflict`, `run_in_progress`, `run_failed`, "
        "`journal_unavailable`, `internal` ..."
    )
    detail: str = Field(description="What happened and what to do about it, for a human.")
    fields: list[FieldProblem] | None = Field(
        default=None, description="Validation errors only: one entry per bad field."
    )


class RunMeta(_Out):
    """A journaled run (the journal's ``runs`` row)."""

    run_id: int = Field(description="The run's id in the journal.")
    trading_day: date = Field(description="The session the run decided (New York date).")
    mode: str = Field(description='The run\'s mode: "signal" for the daily job.')
    status: str = Field(description="`running`, `succeeded` or `failed`.")
    revision: int = Field(
        description="1 for the first run of the day and mode, one more for each forced re-run."
    )
    started_at: datetime = Field(description="When the run started (UTC).")
    finished_at: datetime | None = Field(description="When it finished (UTC); null while running.")
    code_version: str = Field(description="The vixshield version that ran it.")
    config_fingerprint: str = Field(
        description="SHA-256 of the strategy configuration (hex): equal fingerprints, equal "
        "configuration."
    )
    error: str | None = Field(description="The error text of a failed run.")


class RunErrorOut(_Out):
    at: datetime = Field(description="When the error was recorded (UTC).")
    kind: str = Field(description="The exception type, or `interrupted`.")
    message: str = Field(description="The error message (no traceback).")


class RunWithErrors(RunMeta):
    errors: list[RunErrorOut] = Field(description="The run's error rows, oldest first.")


class RunsOut(_Out):
    count: int = Field(description="Runs listed.")
    runs: list[RunWithErrors] = Field(description="Newest first.")


class JournalHealth(_Out):
    backend: str = Field(description='SQLAlchemy dialect of the journal: "sqlite", "postgresql".')
    reachable: bool = Field(description="Whether the database answered.")
    schema_revision: str | None = Field(
        description="The Alembic revision the database is at (null when unreachable)."
    )
    error: str | None = Field(default=None, description="Why it is unreachable.")


class LastRun(_Out):
    day: date = Field(description="The session of the latest signal run.")
    status: str = Field(description="`running`, `succeeded` or `failed`.")
    run_id: int = Field(description="The run's id in the journal.")
    revision: int = Field(description="The run's revision for its day.")
    finished_at: datetime | None = Field(description="When it finished (UTC).")
    error: str | None = Field(description="The error text of a failed run.")


class HealthOut(_Out):
    status: Literal["ok", "degraded"] = Field(
        description="`ok`; `degraded` (HTTP 503) when the journal does not answer."
    )
    version: str = Field(description="The vixshield version serving the API.")
    journal: JournalHealth
    last_signal_run: LastRun | None = Field(description="The latest signal run of any status.")
    expected_session: date | None = Field(
        description="The session whose signal `/api/signal/today` serves now: the last "
        "session whose data is out (close + 15 min); null outside the trading calendar."
    )
    server_time_utc: datetime = Field(description="The server clock, UTC.")
    server_time_new_york: datetime = Field(description="The server clock, America/New_York.")


class OrderLegOut(_Out):
    contract: str = Field(description="Label, e.g. `SPX 2018-02-16 650P`.")
    root: str = Field(description="`SPX` (AM monthly), `SPXW` (PM) or `VIX`.")
    expiry: date = Field(description="Expiry (settlement) day.")
    strike: float = Field(description="Strike, index points.")
    right: str = Field(description="`C` or `P`.")
    quantity: int = Field(description="Signed contracts: + buy, - sell.")
    price: float = Field(description="Limit price per unit at the mid, index points.")


class OrderOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    action: str = Field(description="`open`, `close`, `roll`, `resize`, ...")
    layer: str = Field(description="`core`, `ladder`, `hedge` ...")
    structure: str | None = Field(description="Name of the structure opened (OPEN/ROLL).")
    legs: list[OrderLegOut] = Field(description="The legs to trade.")
    limit_price: float | None = Field(
        description="Net limit per structure unit, index points (credit positive)."
    )
    closes: list[str] = Field(description="Names of structures this order closes.")
    quantity_change: int | None = Field(description="Contracts added (+) or removed (-).")
    reasons: list[str] = Field(description="Why, in words.")


class RefusalOut(_Out):
    layer: str = Field(description="The layer that declined.")
    what: str = Field(description="What it declined to do.")
    reasons: list[str] = Field(description="Why.")


class ScenarioOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    scenario: str = Field(description="Label, e.g. `SPX -10% VIX +20`.")
    spx_move_pct: float = Field(description="SPX move, percent.")
    vix_move_pts: float = Field(description="VIX move, index points.")
    days: float = Field(description="Calendar days elapsed.")
    spx: float = Field(description="SPX level in the scenario, index points.")
    vix: float = Field(description="VIX level in the scenario, index points.")
    pnl_usd: dict[str, float] = Field(description="P&L by structure name, USD.")
    total_pnl_usd: float = Field(description="P&L of the whole book (options and equities), USD.")


class DecisionOut(BaseModel):
    """A day's decision exactly as journaled (``DayDecision.to_json``)."""

    model_config = ConfigDict(extra="allow")

    session: date = Field(description="The session decided.")
    as_of: datetime = Field(description="The instant the decision saw (data stamp), with offset.")
    regime: str | None = Field(description="`calm`, `normal`, `elevated`, `crisis` or null.")
    regime_drivers: list[str] = Field(description="Why that regime, in words.")
    indicators: dict[str, Any] = Field(
        description="The indicators of the day (`vix` index points, `rsi_*` 0-100, `*_pct` "
        "percent, `*_modelled` flags ...)."
    )
    orders: list[OrderOut] = Field(description="What to trade.")
    refusals: list[RefusalOut] = Field(description="Rules that considered acting and declined.")
    book: dict[str, Any] = Field(
        description="The resulting book: `greeks`, `delta_band`, `structures`, `marks`, "
        "`payoff`, `stages` (see `/api/book`)."
    )
    scenarios: list[ScenarioOut] = Field(description="The scenario table (P&L in USD).")
    notes: list[str] = Field(description="Provenance and caveats.")
    config_fingerprint: str = Field(description="SHA-256 of the strategy configuration.")


class SignalLinks(_Out):
    self_: str = Field(alias="self", description="This signal (its revision).")
    history: str = Field(description="The list of signals.")
    book: str = Field(description="The book on this session.")


class SignalOut(_Out):
    session: date = Field(description="The session of the signal.")
    run: RunMeta = Field(description="The run that journaled it.")
    links: SignalLinks
    decision: DecisionOut


class SignalSummary(_Out):
    session: date = Field(description="The session.")
    regime: str | None = Field(description="The regime of the day.")
    orders: int = Field(description="Number of orders of the decision.")
    hedge_score: int | None = Field(
        description="ALVH hedge score of the day (live triggers counted), null if absent."
    )
    run_id: int = Field(description="The run that journaled it.")
    revision: int = Field(description="Its revision (the latest of the day is listed).")
    finished_at: datetime | None = Field(description="When the run finished (UTC).")
    href: str = Field(description="The full signal.")


class SignalsOut(_Out):
    count: int = Field(description="Items listed.")
    limit: int = Field(description="The limit asked.")
    start: date | None = Field(description="First session asked (inclusive).")
    end: date | None = Field(description="Last session asked (inclusive).")
    items: list[SignalSummary] = Field(description="Newest first; one per session.")


class PositionLegOut(_Out):
    contract: str = Field(description="Label, e.g. `SPXW 2019-07-26 2900P`.")
    root: str = Field(description="`SPX`, `SPXW` or `VIX`.")
    expiry: date = Field(description="Expiry (settlement) day.")
    strike: float = Field(description="Strike, index points.")
    right: str = Field(description="`C` or `P`.")
    quantity: int = Field(description="Signed contracts: + long, - short.")
    fill_price: float = Field(description="Opening price per unit, index points.")


class PositionStructureOut(_Out):
    name: str = Field(description="Structure name (unique in the book).")
    opened: date | None = Field(description="Opening date, where known.")
    fees_usd: float = Field(description="Fees paid to open it, USD.")
    net_premium_usd: float = Field(
        description="Cash received to open it at the fill prices, USD (credit positive)."
    )
    legs: list[PositionLegOut]


class EquityOut(_Out):
    symbol: str = Field(description="Ticker.")
    shares: float = Field(description="Shares held (negative: short).")
    price: float = Field(description="Price per share, USD.")
    value_usd: float = Field(description="shares x price, USD.")
    beta: float | None = Field(description="Beta to SPX, where known.")


class PositionsOut(_Out):
    as_of: date = Field(description="The day the book is rebuilt for.")
    structures: list[PositionStructureOut] = Field(
        description="Open option structures: the latest snapshot on or before the day, then "
        "the fills after it (expired legs dropped)."
    )
    equities: list[EquityOut] = Field(description="Equity holdings of that snapshot.")


class GreeksOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    options_value_usd: float = Field(description="Option legs at model value, USD.")
    equity_value_usd: float = Field(description="Equity holdings at market value, USD.")
    delta_spx_points: float = Field(
        description="Book delta in SPX-equivalent units: USD per 1 SPX point / 1 (options "
        "x multiplier + beta-weighted equities)."
    )
    delta_usd_per_pct: float = Field(description="USD P&L for a +1% SPX move.")
    gamma_usd_per_pct_sq: float = Field(description="Change of delta_usd_per_pct per 1% move.")
    vega_usd_per_volpt: float = Field(description="USD per +1 vol point at every SPX strike.")
    theta_usd_per_day: float = Field(description="USD per calendar day, all else held.")
    vix_delta_usd_per_vixpt: float = Field(description="USD per +1 VX point (VIX legs).")
    vix_vega_usd_per_volpt: float = Field(description="USD per +1 vol point of VIX options.")


class DeltaBandOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    fraction: float = Field(description="delta_usd_per_pct / equity (a fraction, not percent).")
    band_frac: float = Field(description="The band: |fraction| above it is a breach.")
    breached: bool = Field(description="Whether the book is outside the band.")
    reason: str = Field(description="The check in words.")


class StructureRiskOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Structure name.")
    expiries: list[date] = Field(description="Its expiries.")
    dte: int | None = Field(description="Calendar days to its expiry (single-expiry only).")
    legs: int = Field(description="Number of legs.")
    net_premium_usd: float = Field(description="Cash received to open, USD (credit positive).")
    max_loss_usd: float | None = Field(
        description="Worst P&L at expiry as a positive loss, USD; null when unbounded."
    )
    breakevens_points: list[float] = Field(description="Break-evens at expiry, SPX points.")


class MarkOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    structure: str = Field(description="Structure name.")
    contract: str = Field(description="Contract label.")
    quantity: int = Field(description="Signed contracts.")
    fill_price: float = Field(description="Opening price per unit, index points.")
    mark: float = Field(description="Model price per unit on the day's surface, index points.")
    vol: float | None = Field(description="The leg's implied vol (a fraction, 0.2 = 20%).")
    value_usd: float = Field(description="mark x quantity x multiplier, USD.")


class PayoffOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    spx: list[float] = Field(description="SPX levels, index points.")
    now_usd: list[float] = Field(description="P&L at once at each level, USD.")
    expiry_usd: list[float] = Field(description="P&L at the first expiry at each level, USD.")
    expiry: date = Field(description="The expiry of the second curve.")
    spot: float = Field(description="SPX close of the session, index points.")
    basis: str = Field(description="What the curves measure.")


class DecisionRef(_Out):
    session: date = Field(description="Session of the decision the risk figures come from.")
    run_id: int = Field(description="Its run.")
    revision: int = Field(description="Its revision.")
    href: str = Field(description="The full signal.")


class BookOut(_Out):
    as_of: date = Field(description="The day asked (default: the session of today's signal).")
    positions: PositionsOut = Field(description="The journaled book on that day.")
    decision: DecisionRef | None = Field(
        description="The latest signal on or before the day (null: none journaled)."
    )
    equity_usd: float | None = Field(description="Account equity the decision used, USD.")
    spx_spot: float | None = Field(description="SPX close of the decision's session.")
    greeks: GreeksOut | None = Field(description="Book Greeks after the decision's orders.")
    delta_band: DeltaBandOut | None = Field(description="The delta-band check.")
    structures: list[StructureRiskOut] = Field(
        description="Structures after the decision's orders, with break-evens and max loss."
    )
    marks: list[MarkOut] = Field(description="Held legs marked on the decision's day.")
    payoff: PayoffOut | None = Field(description="P&L by SPX level, now and at expiry.")
    notes: list[str] = Field(description="Caveats (e.g. the decision is older than the day).")


class GreeksResponse(_Out):
    as_of: date = Field(description="The day asked.")
    decision: DecisionRef | None = Field(description="Where the figures come from.")
    greeks: GreeksOut | None
    delta_band: DeltaBandOut | None
    notes: list[str]


class ScenariosResponse(_Out):
    as_of: date = Field(description="The day asked.")
    decision: DecisionRef | None = Field(description="Where the table comes from.")
    scenarios: list[ScenarioOut] = Field(description="The scenario table (P&L USD).")
    notes: list[str]


class FillIn(_In):
    """One executed trade."""

    trade_date: date = Field(description="The trade's session, YYYY-MM-DD.")
    structure: Text = Field(
        min_length=1, max_length=128, description="The structure the leg belongs to."
    )
    root: Text = Field(
        min_length=1, max_length=8, description="`SPX`, `SPXW` or `VIX` (case-insensitive)."
    )
    expiry: date = Field(description="A listed expiry of the root, YYYY-MM-DD.")
    strike: float = Field(
        le=MAX_POINTS, allow_inf_nan=False, description="Strike, index points, > 0."
    )
    right: Text = Field(min_length=1, max_length=4, description="`C` or `P` (case-insensitive).")
    quantity: int = Field(
        ge=-MAX_CONTRACTS,
        le=MAX_CONTRACTS,
        description="Signed contracts, not 0: + bought, - sold.",
    )
    price: float = Field(
        ge=0, le=MAX_POINTS, allow_inf_nan=False, description="Fill price per unit, index points."
    )
    fees_usd: float = Field(
        default=0.0, ge=0, le=MAX_USD, allow_inf_nan=False, description="Commissions and fees, USD."
    )
    note: Text = Field(default="", max_length=2000, description="Free text.")


class FillsIn(_In):
    fills: list[FillIn] = Field(
        min_length=1, max_length=MAX_LIMIT, description="Recorded together: all or none."
    )


class FillOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int = Field(description="The fill's id in the journal.")
    recorded_at: datetime = Field(description="When it was recorded (UTC).")
    trade_date: date = Field(description="The trade's session.")
    structure: str = Field(description="Structure name.")
    contract: str = Field(description="Contract label.")
    root: str
    expiry: date
    strike: float = Field(description="Index points.")
    right: str
    quantity: int = Field(description="Signed contracts.")
    price: float = Field(description="Per unit, index points.")
    fees_usd: float = Field(description="USD.")
    note: str


class FillsOut(_Out):
    count: int = Field(description="Fills listed.")
    fills: list[FillOut] = Field(description="By trade date, then id.")


class BookLegIn(_In):
    """An option leg in the book-file format (``vixshield.data.book_file``)."""

    structure: Text = Field(max_length=128, description="Name grouping legs into one structure.")
    root: Text = Field(max_length=8, description="`SPX`, `SPXW` or `VIX` (case-insensitive).")
    expiry: date = Field(description="A listed expiry of the root.")
    strike: float = Field(le=MAX_POINTS, allow_inf_nan=False, description="Index points, > 0.")
    right: Text = Field(max_length=4, description="`C` or `P`.")
    quantity: int = Field(
        ge=-MAX_CONTRACTS, le=MAX_CONTRACTS, description="Signed whole contracts, not 0."
    )
    fill_price: float = Field(
        le=MAX_POINTS, allow_inf_nan=False, description="Per unit, index points, >= 0."
    )
    opened: date | None = Field(default=None, description="Opening date, not after the expiry.")
    fees: float | None = Field(
        default=None, le=MAX_USD, allow_inf_nan=False, description="USD paid for the leg, >= 0."
    )


class BookEquityIn(_In):
    symbol: Text = Field(max_length=32, description="Ticker, unique in the book.")
    shares: float = Field(
        ge=-MAX_SHARES, le=MAX_SHARES, allow_inf_nan=False, description="Shares, not 0."
    )
    price: float = Field(le=MAX_USD, allow_inf_nan=False, description="USD per share, > 0.")
    beta: float | None = Field(
        default=None, ge=-100, le=100, allow_inf_nan=False, description="Beta to SPX."
    )


class PositionsIn(_In):
    as_of: date = Field(description="The day the book is true for.")
    note: Text = Field(default="", max_length=2000, description="Free text (e.g. the source).")
    legs: list[BookLegIn] = Field(default_factory=list, max_length=10_000)
    equities: list[BookEquityIn] = Field(default_factory=list, max_length=10_000)


class PositionsSavedOut(_Out):
    snapshot_id: int = Field(description="The snapshot's id in the journal.")
    as_of: date = Field(description="The day it is true for.")
    structures: int = Field(description="Structures stored.")
    legs: int = Field(description="Option legs stored.")
    equities: int = Field(description="Equity holdings stored.")
    href: str = Field(description="The rebuilt book on that day.")


class RunIn(_In):
    day: date | None = Field(
        default=None,
        alias="date",
        description="The session to run, YYYY-MM-DD (default: today's, once its data is out).",
    )
    force: bool = Field(default=False, description="Record a new revision of a succeeded day.")
    notify: bool = Field(default=True, description="Send the configured notifications.")


class RunOutcomeOut(BaseModel):
    """``DailyOutcome.to_json()``."""

    model_config = ConfigDict(extra="allow")

    status: Literal["recorded", "stored", "skipped", "failed"] = Field(
        description="`recorded`: a new signal was journaled (201); `stored`: the day was "
        "already journaled (200); `skipped`: nothing to do, e.g. not a session (200); "
        "`failed`: the run failed (500)."
    )
    session: date | None = Field(description="The session run.")
    message: str = Field(description="What happened, in words.")
    run: dict[str, Any] | None = Field(
        description="The journaled run: `id`, `trading_day`, `revision`, `status`, "
        "`started_at`, `finished_at` (UTC), `code_version`, `config_fingerprint`, `error`."
    )
    decision: dict[str, Any] | None = Field(
        description="The decision recorded or stored (`DayDecision.to_json`)."
    )
    notifications: list[dict[str, Any]] = Field(
        description="Each notification sent: `channel`, `target`, `ok`, `attempts`, `error`."
    )


class RunFailedOut(ErrorOut):
    outcome: RunOutcomeOut | None = Field(
        default=None, description="The failed run's outcome (`POST /api/runs` only)."
    )


class BacktestOut(_Out):
    """The summary of the configured backtest folder (``vixshield backtest --out``)."""

    folder: str = Field(description="The folder's name (not its path).")
    start: date | None = Field(description="First session of the equity curves.")
    end: date | None = Field(description="Last session of the equity curves.")
    sessions: int = Field(description="Sessions in the equity curves.")
    runs: list[str] = Field(description="The runs (equity.csv columns, `<strategy>_k<k>`).")
    final_equity_usd: dict[str, float | None] = Field(
        description="Each run's last equity, USD (null: no close)."
    )
    summary: dict[str, Any] = Field(
        description="The folder's summary.json as written (metrics per run, period, data)."
    )
    links: dict[str, str] = Field(description="`equity`: the curves.")


class BacktestEquityOut(_Out):
    dates: list[date] = Field(description="Sessions, oldest first.")
    series: dict[str, list[float | None]] = Field(
        description="Equity curves by name (USD), aligned with `dates`."
    )


# ------------------------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    """An answer other than success: status, code, detail and optional fields and headers."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        fields: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.fields = fields
        self.headers = headers
        self.extra = extra


def _error_body(
    error: str, detail: str, fields: list[FieldProblem] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error, "detail": detail}
    if fields is not None:
        body["fields"] = [f.model_dump() for f in fields]
    return body


def _error_response(exc: ApiError) -> JSONResponse:
    body = _error_body(exc.error, exc.detail, exc.fields)
    if exc.extra:
        body.update(exc.extra)
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


_LIBRARY_STATUS: Final[tuple[tuple[type[VixShieldError], int, str], ...]] = (
    (JournalError, 409, "conflict"),
    (CalendarError, 422, "invalid_date"),
    (DataError, 422, "invalid_data"),
    (InvalidInputError, 422, "invalid_input"),
)


def _library_error(exc: VixShieldError) -> ApiError:
    for kind, status, code in _LIBRARY_STATUS:
        if isinstance(exc, kind):
            return ApiError(status, code, str(exc))
    return ApiError(400, "refused", str(exc))


def _loc_name(loc: tuple[int | str, ...]) -> str:
    parts = list(loc)
    where = ""
    if parts and parts[0] == "body":
        parts = parts[1:]
        if not parts:
            return "body"
    elif parts and parts[0] in {"query", "path", "header"}:
        where = f"{parts[0]}."
        parts = parts[1:]
    name = ""
    for p in parts:
        if isinstance(p, int):
            name += f"[{p}]"
        else:
            name += f".{p}" if name else str(p)
    return where + (name or "body")


def _validation_fields(exc: RequestValidationError) -> list[FieldProblem]:
    out: list[FieldProblem] = []
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        name = _loc_name(loc)
        message = str(e.get("msg", "invalid"))
        if e.get("type") == "missing":
            message = "is required"
        elif e.get("type") == "extra_forbidden":
            message = "is not a known field; remove it (or check its spelling)"
        elif e.get("type") in {"date_from_datetime_parsing", "date_parsing", "date_type"}:
            message = f"{e.get('input')!r} is not a date; use YYYY-MM-DD ({message})"
        elif e.get("type") == "json_invalid":
            message = f"the body is not valid JSON ({message})"
        out.append(FieldProblem(field=name, message=message))
    return out


# ------------------------------------------------------------------------------------------
# The ASGI guard: request ids, headers, and the last line against unexpected exceptions


class _Guard:
    """Adds the security headers and a request id; turns an escaped exception into a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        started = False
        is_api = str(scope.get("path", "")).startswith("/api/")

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Request-ID"] = rid
                headers.setdefault("Referrer-Policy", "no-referrer")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", _DEFAULT_CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
                if is_api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception as exc:
            log.error(
                "internal error on %s %s (request id %s)",
                scope.get("method"),
                scope.get("path"),
                rid,
                exc_info=exc,
            )
            if started:
                return
            response = JSONResponse(
                _error_body(
                    "internal",
                    "unexpected server error; the request may not have been carried out: "
                    f"see the server log (request id {rid})",
                ),
                status_code=500,
            )
            await response(scope, receive, guarded_send)


# ------------------------------------------------------------------------------------------
# Helpers


def _run_meta(run: RunHandle) -> RunMeta:
    return RunMeta(
        run_id=run.id,
        trading_day=run.trading_day,
        mode=run.mode,
        status=run.status,
        revision=run.revision,
        started_at=run.started_at,
        finished_at=run.finished_at,
        code_version=run.code_version,
        config_fingerprint=run.config_fingerprint,
        error=run.error,
    )


def _run_meta_json(run: RunHandle) -> dict[str, Any]:
    """A run as the dashboard reads it (``DashboardView.run``): ISO strings."""
    return {
        "id": run.id,
        "trading_day": run.trading_day.isoformat(),
        "mode": run.mode,
        "status": run.status,
        "revision": run.revision,
        "started_at": run.started_at.isoformat(),
        "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
        "code_version": run.code_version,
        "config_fingerprint": run.config_fingerprint,
    }


def _signal_href(session: date, revision: int | None = None) -> str:
    base = f"/api/signal/{session.isoformat()}"
    return base if revision is None else f"{base}?revision={revision}"


def _decision_ref(stored: StoredDecision) -> DecisionRef:
    return DecisionRef(
        session=stored.session,
        run_id=stored.run.id,
        revision=stored.run.revision,
        href=_signal_href(stored.session, stored.run.revision),
    )


expected_session = last_published_session
"""The last session whose data is out at ``now`` (the daily job's definition)."""


def _hedge_score(data: dict[str, Any]) -> int | None:
    try:
        score = data["book"]["stages"]["hedge"]["score"]
    except (KeyError, TypeError):
        return None
    return int(score) if isinstance(score, int | float) and not isinstance(score, bool) else None


@dataclass(frozen=True, slots=True)
class _PlotlyAsset:
    body: bytes
    gzipped: bytes
    etag: str


def _book_problems(message: str, temp: str) -> tuple[str, list[FieldProblem]]:
    text = message.replace(temp, "body")
    fields: list[FieldProblem] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("body, "):
            line = line[len("body, ") :]
        m = _BOOK_PROBLEM.match(line)
        if m:
            fields.append(FieldProblem(field=f"{m[1]}[{m[2]}].{m[3]}", message=m[4]))
    return text, fields


def _fill_problems(message: str) -> list[FieldProblem]:
    fields: list[FieldProblem] = []
    for raw in message.splitlines():
        m = _FILL_PROBLEM.match(raw.strip())
        if m:
            fields.append(FieldProblem(field=m[1], message=m[2]))
    return fields


def _positions(book: Book, as_of: date) -> PositionsOut:
    structures = [
        PositionStructureOut(
            name=s.name,
            opened=book.opened.get(s.name),
            fees_usd=float(book.fees_usd.get(s.name, 0.0)),
            net_premium_usd=s.net_premium_usd,
            legs=[
                PositionLegOut(
                    contract=leg.contract.label(),
                    root=leg.contract.root,
                    expiry=leg.contract.expiry,
                    strike=leg.contract.strike,
                    right=leg.contract.right.value,
                    quantity=leg.quantity,
                    fill_price=leg.price,
                )
                for leg in s.legs
            ],
        )
        for s in book.structures
    ]
    equities = [
        EquityOut(
            symbol=e.symbol,
            shares=e.shares,
            price=e.price,
            value_usd=e.value_usd,
            beta=book.equity_betas.get(e.symbol),
        )
        for e in book.equities
    ]
    return PositionsOut(as_of=as_of, structures=structures, equities=equities)


def _csp_for(html: str) -> str:
    hashes = sorted(
        {
            "'sha256-"
            + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
            + "'"
            for body in _INLINE_SCRIPT.findall(html)
        }
    )
    scripts = " ".join(["'self'", *hashes])
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _responses(*codes: int, page: bool = False) -> dict[int | str, dict[str, Any]]:
    """Declared error responses (``page``: of an HTML route, whose errors are still JSON)."""
    text = {
        401: "Missing or invalid bearer token (`WWW-Authenticate: Bearer`).",
        404: "Nothing journaled for what was asked; the detail says how to get it.",
        409: "Conflict: refused by the journal, or a run already in progress.",
        422: "Invalid request: each bad field listed in `fields`.",
        500: "Unexpected server error (no traceback; the detail gives the request id).",
        503: "Writes (or private reads) disabled: no token configured; or the journal is "
        "unavailable.",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"description": text[code]}
        if page:  # FastAPI would declare a model under the route's own media type
            ref = {"$ref": "#/components/schemas/ErrorOut"}
            entry["content"] = {"application/json": {"schema": ref}}
        else:
            entry["model"] = ErrorOut
        if code == 401:
            entry["headers"] = {
                "WWW-Authenticate": {
                    "description": '`Bearer` (with `error="invalid_token"` for a wrong one).',
                    "schema": {"type": "string"},
                }
            }
        out[code] = entry
    return out


# ------------------------------------------------------------------------------------------
# The application


_BEARER: Final = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    bearerFormat="opaque token",
    description="The value of the environment variable named by `[api] token_env` "
    "(default `VIXSHIELD_API_TOKEN`) on the server.",
)

_TAGS: Final = [
    {"name": "service", "description": "Health of the service."},
    {"name": "signals", "description": "The daily signals the journal holds."},
    {"name": "book", "description": "Positions, Greeks, scenarios, marks and payoff."},
    {"name": "fills", "description": "Executed trades."},
    {"name": "runs", "description": "Runs of the daily job."},
    {"name": "backtest", "description": "The configured backtest folder."},
    {"name": "dashboard", "description": "The HTML dashboard and its assets."},
]


def create_app(
    settings: ServiceSettings,
    *,
    journal: Journal,
    clock: Clock | None = None,
    runner: Runner | None = None,
) -> FastAPI:
    """The API over ``journal`` (module docstring: the rules; ``docs/api.md``: the guide).

    ``runner`` runs the daily job for ``POST /api/runs`` (default
    :func:`vixshield.service.daily.run_daily`); it is called as
    ``runner(settings, day=, force=, clock=, journal=, notify=)``.
    """
    the_clock: Clock = clock if clock is not None else SystemClock()
    run_job: Runner = runner if runner is not None else run_daily
    api = settings.api
    run_lock = threading.Lock()
    running_since: list[datetime] = []
    plotly_cache: list[_PlotlyAsset] = []
    plotly_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="VixShield API",
        version=vixshield.__version__,
        summary="Daily SPX iron-condor and ALVH hedge signals, the book, fills and runs.",
        description=(
            "Reads the journal of the daily service. Times are UTC unless named New York; "
            "sessions are New York dates (YYYY-MM-DD). Money is USD, option prices and "
            "strikes are index points (multiplier 100). Errors are "
            '`{"error": code, "detail": message}`. Writes need `Authorization: Bearer '
            f"<token>` (the server's `${api.token_env}`); reads need it too when "
            "`public_reads = false`."
        ),
        openapi_tags=_TAGS,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )

    # -- auth ------------------------------------------------------------------------------

    def _check_token(creds: HTTPAuthorizationCredentials | None, *, write: bool) -> None:
        token = api.token()
        if token is None:
            if write:
                raise ApiError(
                    503,
                    "writes_disabled",
                    f"writes are disabled: set {api.token_env} in the server's environment "
                    "to a secret token and send it as 'Authorization: Bearer <token>'",
                )
            raise ApiError(
                503,
                "reads_disabled",
                f"reads are private ([api] public_reads = false) and no token is configured: "
                f"set {api.token_env} in the server's environment",
            )
        if creds is None:
            raise ApiError(
                401,
                "unauthorized",
                "this endpoint needs a token: send 'Authorization: Bearer <token>' with the "
                f"value of {api.token_env} on the server",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(creds.credentials.encode("utf-8"), token.encode("utf-8")):
            raise ApiError(
                401,
                "invalid_token",
                f"the bearer token is not the one configured ({api.token_env}); check it",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    def require_write(
        creds: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> None:
        _check_token(creds, write=True)

    def require_read(
        creds: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> None:
        _check_token(creds, write=False)

    reads: list[Any] = [] if api.public_reads else [Depends(require_read)]
    writes: list[Any] = [Depends(require_write)]
    read_errors = (500, 503) if api.public_reads else (401, 500, 503)
    write_errors = (401, 409, 422, 500, 503)

    # -- error handlers --------------------------------------------------------------------

    async def on_api_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error_response(exc)

    async def on_library_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, VixShieldError)
        return _error_response(_library_error(exc))

    async def on_validation(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = _validation_fields(exc)
        listed = "; ".join(f"{f.field}: {f.message}" for f in fields[:10])
        more = f"; and {len(fields) - 10} more" if len(fields) > 10 else ""
        return _error_response(
            ApiError(
                422,
                "invalid_request",
                f"{len(fields)} invalid field(s): {listed}{more}",
                fields=fields,
            )
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return _error_response(
                ApiError(
                    404,
                    "not_found",
                    f"no such endpoint: {request.method} {request.url.path}; the endpoints "
                    "are listed in /openapi.json",
                )
            )
        if exc.status_code == 400:  # FastAPI could not decode the body (not UTF-8 JSON)
            problem = FieldProblem(field="body", message=f"{exc.detail}: send UTF-8 JSON")
            return _error_response(
                ApiError(
                    422,
                    "invalid_request",
                    f"the request body could not be read ({exc.detail}); send UTF-8 JSON",
                    fields=[problem],
                )
            )
        if exc.status_code == 405:
            return _error_response(
                ApiError(
                    405,
                    "method_not_allowed",
                    f"{request.method} is not allowed on {request.url.path}; see /openapi.json",
                    headers=dict(exc.headers or {}),
                )
            )
        return _error_response(
            ApiError(
                exc.status_code,
                "http_error",
                str(exc.detail),
                headers=dict(exc.headers) if exc.headers else None,
            )
        )

    async def on_database(request: Request, exc: Exception) -> Response:
        rid = request.scope.get("state", {}).get("request_id", "?")
        log.error("journal unavailable (request id %s)", rid, exc_info=exc)
        return _error_response(
            ApiError(
                503,
                "journal_unavailable",
                "the journal database did not answer; try again later, or check the "
                f"[journal] url and the database (request id {rid})",
            )
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(VixShieldError, on_library_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OperationalError, on_database)
    app.add_middleware(_Guard)

    # -- journal helpers -------------------------------------------------------------------

    def history_pages() -> Iterator[StoredDecision]:
        """Every succeeded signal decision, newest day and revision first, fetched in pages."""
        limit, seen = 64, 0
        while True:
            rows = journal.history(SIGNAL_MODE, limit=limit)
            yield from rows[seen:]
            if len(rows) < limit:
                return
            seen, limit = len(rows), limit * 4

    def latest_per_session() -> Iterator[StoredDecision]:
        last: date | None = None
        for stored in history_pages():
            if stored.session != last:
                last = stored.session
                yield stored

    def decision_on_or_before(day: date) -> StoredDecision | None:
        exact = journal.latest_decision(day, SIGNAL_MODE)
        if exact is not None:
            return exact
        for stored in latest_per_session():
            if stored.session <= day:
                return stored
        return None

    def check_session(day: date) -> None:
        if not calendar.is_session(day):
            previous = calendar.previous_session(day)
            raise ApiError(
                404,
                "not_a_session",
                f"{day.isoformat()} ({day:%A}) is not a trading session; the previous session "
                f"is {previous.isoformat()}: GET {_signal_href(previous)}",
            )

    def find_signal(day: date, revision: int | None) -> StoredDecision:
        check_session(day)
        if revision is None:
            stored = journal.latest_decision(day, SIGNAL_MODE)
        else:
            everything = journal.decisions_of_day(day, SIGNAL_MODE)
            matches = [d for d in everything if d.run.revision == revision]
            if not matches and everything:
                have = sorted(d.run.revision for d in everything)
                raise ApiError(
                    404,
                    "not_found",
                    f"no succeeded revision {revision} of the signal for {day.isoformat()}; "
                    f"the journal holds revision(s) {have}",
                )
            stored = matches[0] if matches else None
        if stored is None:
            now = the_clock.now()
            if stamp(day) > now:
                raise ApiError(
                    404,
                    "not_found",
                    f"no signal journaled for {day.isoformat()}: its data is out at "
                    f"{stamp(day).isoformat()} (close + 15 min); run vixshield run-daily or "
                    "POST /api/runs after that",
                )
            raise ApiError(
                404,
                "not_found",
                f"no signal journaled for {day.isoformat()}: run vixshield run-daily or POST "
                "/api/runs",
            )
        return stored

    def signal_response(stored: StoredDecision) -> Response:
        head = {
            "session": stored.session.isoformat(),
            "run": _run_meta(stored.run).model_dump(mode="json"),
            "links": {
                "self": _signal_href(stored.session, stored.run.revision),
                "history": "/api/signals",
                "book": f"/api/book?date={stored.session.isoformat()}",
            },
        }
        text = json.dumps(head, separators=(",", ":"))
        body = text[:-1] + ',"decision":' + stored.decision_json + "}"
        return Response(body, media_type="application/json")

    def book_day(day: date | None) -> date:
        return day if day is not None else expected_session(the_clock.now())

    def risk_of(as_of: date) -> tuple[StoredDecision | None, dict[str, Any], list[str]]:
        stored = decision_on_or_before(as_of)
        if stored is None:
            return (
                None,
                {},
                [
                    f"no signal journaled on or before {as_of.isoformat()}: Greeks, scenarios, "
                    "marks and payoff come from the daily signal (run vixshield run-daily or "
                    "POST /api/runs)"
                ],
            )
        notes: list[str] = []
        if stored.session != as_of:
            notes.append(
                f"risk figures are from the signal of {stored.session.isoformat()}, the latest "
                f"on or before {as_of.isoformat()}"
            )
        return stored, stored.data(), notes

    # -- service ---------------------------------------------------------------------------

    @app.get(
        "/api/health",
        tags=["service"],
        summary="Health of the service",
        description="Always public. The version, whether the journal answers (backend and "
        "schema revision), the latest signal run and the server clock in UTC and New York. "
        "503 with the same body when the journal does not answer.",
        response_model=HealthOut,
        responses={503: {"model": HealthOut, "description": "The journal does not answer."}},
    )
    def health() -> Response:
        now = the_clock.now()
        backend = journal.engine.dialect.name
        last: LastRun | None = None
        try:
            revision = journal.schema_revision()
            runs = journal.runs(mode=SIGNAL_MODE)
        except Exception as exc:  # the database is down: report, do not fail
            log.warning("health: the journal does not answer: %s", exc)
            state = JournalHealth(
                backend=backend,
                reachable=False,
                schema_revision=None,
                error=type(exc).__name__ + ": the journal database did not answer",
            )
        else:
            state = JournalHealth(backend=backend, reachable=True, schema_revision=revision)
            if runs:
                r = runs[-1]
                last = LastRun(
                    day=r.trading_day,
                    status=r.status,
                    run_id=r.id,
                    revision=r.revision,
                    finished_at=r.finished_at,
                    error=r.error,
                )
        try:
            session: date | None = expected_session(now)
        except CalendarError:
            session = None
        out = HealthOut(
            status="ok" if state.reachable else "degraded",
            version=vixshield.__version__,
            journal=state,
            last_signal_run=last,
            expected_session=session,
            server_time_utc=now.astimezone(UTC),
            server_time_new_york=now.astimezone(NEW_YORK),
        )
        return JSONResponse(
            out.model_dump(mode="json"), status_code=200 if state.reachable else 503
        )

    # -- signals ---------------------------------------------------------------------------

    @app.get(
        "/api/signal/today",
        tags=["signals"],
        summary="Today's signal",
        description="The signal of the last session whose data is out by the server clock "
        "(before 16:15 New York time, or on a holiday, that is the previous session), with "
        "the run that journaled it. 404 when it is not journaled yet.",
        response_model=SignalOut,
        responses=_responses(404, 422, *read_errors),
        dependencies=reads,
    )
    def signal_today(
        revision: Annotated[
            int | None, Query(ge=1, description="A revision (default: the latest).")
        ] = None,
    ) -> Response:
        return signal_response(find_signal(expected_session(the_clock.now()), revision))

    @app.get(
        "/api/signal/{day}",
        tags=["signals"],
        summary="The signal of a session",
        description="The journaled decision of a session (its latest succeeded revision, or "
        "`revision`), with its run. A day that is not a session answers 404 naming the "
        "previous session; a malformed date answers 422.",
        response_model=SignalOut,
        responses=_responses(404, 422, *read_errors),
        dependencies=reads,
    )
    def signal_of(
        day: Annotated[date, PathParam(description="The session, YYYY-MM-DD.")],
        revision: Annotated[
            int | None, Query(ge=1, description="A revision (default: the latest).")
        ] = None,
    ) -> Response:
        return signal_response(find_signal(day, revision))

    @app.get(
        "/api/signals",
        tags=["signals"],
        summary="Signal history",
        description="Journaled signals, newest first, one per session (its latest revision), "
        "each summarised with a link to the full signal.",
        response_model=SignalsOut,
        responses=_responses(422, *read_errors),
        dependencies=reads,
    )
    def signals(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many.")] = 30,
        start: Annotated[date | None, Query(description="First session (inclusive).")] = None,
        end: Annotated[date | None, Query(description="Last session (inclusive).")] = None,
    ) -> SignalsOut:
        if start is not None and end is not None and start > end:
            raise ApiError(
                422,
                "invalid_request",
                f"start {start.isoformat()} is after end {end.isoformat()}; swap them",
                fields=[FieldProblem(field="query.start", message="is after end")],
            )
        items: list[SignalSummary] = []
        for stored in latest_per_session():
            if end is not None and stored.session > end:
                continue
            if start is not None and stored.session < start:
                break
            data = stored.data()
            orders = data.get("orders")
            items.append(
                SignalSummary(
                    session=stored.session,
                    regime=stored.regime,
                    orders=len(orders) if isinstance(orders, list) else 0,
                    hedge_score=_hedge_score(data),
                    run_id=stored.run.id,
                    revision=stored.run.revision,
                    finished_at=stored.run.finished_at,
                    href=_signal_href(stored.session, stored.run.revision),
                )
            )
            if len(items) >= limit:
                break
        return SignalsOut(count=len(items), limit=limit, start=start, end=end, items=items)

    # -- book ------------------------------------------------------------------------------

    book_date = Annotated[
        date | None,
        Query(
            alias="date",
            description="The day (default: the session of today's signal), YYYY-MM-DD.",
        ),
    ]

    @app.get(
        "/api/book",
        tags=["book"],
        summary="The book with its risk",
        description="The journaled positions on the day (the latest snapshot on or before "
        "it, then the fills after it), and from the latest signal on or before the day: "
        "Greeks, the delta band, the structures with break-evens and max loss, the marks "
        "and the payoff diagram.",
        response_model=BookOut,
        responses=_responses(422, *read_errors),
        dependencies=reads,
    )
    def book(day: book_date = None) -> BookOut:
        as_of = book_day(day)
        positions = _positions(journal.book(as_of), as_of)
        stored, data, notes = risk_of(as_of)
        section: dict[str, Any] = data.get("book", {}) if data else {}
        if stored is not None and "greeks" not in section:
            notes.append("the signal holds no Greeks (see its notes)")
        return BookOut(
            as_of=as_of,
            positions=positions,
            decision=None if stored is None else _decision_ref(stored),
            equity_usd=section.get("equity_usd"),
            spx_spot=section.get("spx_spot"),
            greeks=section.get("greeks"),
            delta_band=section.get("delta_band"),
            structures=section.get("structures", []),
            marks=section.get("marks", []),
            payoff=section.get("payoff"),
            notes=notes,
        )

    @app.get(
        "/api/book/greeks",
        tags=["book"],
        summary="Book Greeks and the delta band",
        description="The Greeks (USD) and delta-band check of the latest signal on or before "
        "the day.",
        response_model=GreeksResponse,
        responses=_responses(422, *read_errors),
        dependencies=reads,
    )
    def book_greeks(day: book_date = None) -> GreeksResponse:
        as_of = book_day(day)
        stored, data, notes = risk_of(as_of)
        section: dict[str, Any] = data.get("book", {}) if data else {}
        return GreeksResponse(
            as_of=as_of,
            decision=None if stored is None else _decision_ref(stored),
            greeks=section.get("greeks"),
            delta_band=section.get("delta_band"),
            notes=notes,
        )

    @app.get(
        "/api/book/scenarios",
        tags=["book"],
        summary="The scenario table",
        description="P&L of the book (USD, by structure and in total) under the configured "
        "SPX/VIX/time scenarios, from the latest signal on or before the day.",
        response_model=ScenariosResponse,
        responses=_responses(422, *read_errors),
        dependencies=reads,
    )
    def book_scenarios(day: book_date = None) -> ScenariosResponse:
        as_of = book_day(day)
        stored, data, notes = risk_of(as_of)
        return ScenariosResponse(
            as_of=as_of,
            decision=None if stored is None else _decision_ref(stored),
            scenarios=data.get("scenarios", []) if data else [],
            notes=notes,
        )

    @app.get(
        "/api/book/positions",
        tags=["book"],
        summary="The journaled positions",
        description="Option legs (contract, signed quantity, fill price, opening date) and "
        "equity holdings on the day, rebuilt from the journal's snapshots and fills.",
        response_model=PositionsOut,
        responses=_responses(422, *read_errors),
        dependencies=reads,
    )
    def book_positions(day: book_date = None) -> PositionsOut:
        as_of = book_day(day)
        return _positions(journal.book(as_of), as_of)

    @app.post(
        "/api/positions",
        tags=["book"],
        summary="Record the whole book",
        description="A snapshot of the positions as of a day (e.g. exported from the broker), "
        "in the book-file JSON format: `legs` and `equities`. Validated like a book file "
        "(listed expiries, no duplicate legs, ...): nothing is stored unless every value is "
        "good; errors name `legs[i].field`. A later snapshot replaces this one from its "
        "`as_of` on. Needs the token.",
        status_code=201,
        response_model=PositionsSavedOut,
        responses=_responses(*write_errors),
        dependencies=writes,
    )
    def post_positions(body: PositionsIn) -> PositionsSavedOut:
        payload = {
            "legs": [leg.model_dump(mode="json", exclude_none=True) for leg in body.legs],
            "equities": [e.model_dump(mode="json", exclude_none=True) for e in body.equities],
        }
        with tempfile.NamedTemporaryFile(
            "w", suffix=".json", prefix="api_book_", encoding="utf-8", delete=False
        ) as handle:
            json.dump(payload, handle)
            temp = handle.name
        try:
            parsed = read_book(temp)
        except (DataError, InvalidInputError) as exc:  # the temporary file's path is scrubbed
            text, fields = _book_problems(str(exc), temp)
            raise ApiError(422, "invalid_book", text, fields=fields or None) from None
        finally:
            Path(temp).unlink(missing_ok=True)
        try:
            snapshot = journal.record_positions(parsed, as_of=body.as_of, note=body.note)
        except JournalError as exc:
            raise ApiError(422, "invalid_book", str(exc)) from None
        return PositionsSavedOut(
            snapshot_id=snapshot,
            as_of=body.as_of,
            structures=len(parsed.structures),
            legs=sum(len(s.legs) for s in parsed.structures),
            equities=len(parsed.equities),
            href=f"/api/book/positions?date={body.as_of.isoformat()}",
        )

    # -- fills -----------------------------------------------------------------------------

    @app.get(
        "/api/fills",
        tags=["fills"],
        summary="Recorded fills",
        description="Executed trades recorded in the journal, by trade date then id.",
        response_model=FillsOut,
        responses=_responses(422, *read_errors),
        dependencies=reads,
    )
    def get_fills(
        since: Annotated[date | None, Query(description="First trade date (inclusive).")] = None,
        until: Annotated[date | None, Query(description="Last trade date (inclusive).")] = None,
    ) -> FillsOut:
        records = journal.fills(since=since, until=until)
        return FillsOut(
            count=len(records), fills=[FillOut.model_validate(r.to_json()) for r in records]
        )

    @app.post(
        "/api/fills",
        tags=["fills"],
        summary="Record fills",
        description="Executed trades, recorded together: all or none. Each contract must be "
        "a listed expiry of its root, the trade date not after the expiry; errors name "
        "`fills[i].field`. Needs the token.",
        status_code=201,
        response_model=FillsOut,
        responses=_responses(*write_errors),
        dependencies=writes,
    )
    def post_fills(body: FillsIn) -> FillsOut:
        inputs: list[FillInput] = []
        problems: list[FieldProblem] = []
        for i, f in enumerate(body.fills):
            at = f"fills[{i}]"
            root = f.root.strip().upper()
            right = f.right.strip().upper()
            bad = len(problems)
            if root not in ROOT_KIND:
                problems.append(
                    FieldProblem(
                        field=f"{at}.root",
                        message=f"{f.root!r} is not a known root; use one of {sorted(ROOT_KIND)}",
                    )
                )
            if right not in {"C", "P"}:
                problems.append(
                    FieldProblem(field=f"{at}.right", message=f"{f.right!r} must be C or P")
                )
            if not f.strike > 0:
                problems.append(
                    FieldProblem(field=f"{at}.strike", message=f"{f.strike!r} must be > 0")
                )
            if f.quantity == 0:
                problems.append(
                    FieldProblem(field=f"{at}.quantity", message="must be a non-zero whole number")
                )
            if root in ROOT_KIND:
                try:
                    is_listed = calendar.is_expiry(f.expiry, ROOT_KIND[root])
                except CalendarError as exc:
                    problems.append(FieldProblem(field=f"{at}.expiry", message=str(exc)))
                else:
                    if not is_listed:
                        problems.append(
                            FieldProblem(
                                field=f"{at}.expiry",
                                message=f"{f.expiry.isoformat()} ({f.expiry:%A}) is not a "
                                f"listed {root} expiry; check the date or the root",
                            )
                        )
            if f.trade_date > f.expiry:
                problems.append(
                    FieldProblem(
                        field=f"{at}.trade_date",
                        message=f"{f.trade_date.isoformat()} is after the expiry "
                        f"{f.expiry.isoformat()}",
                    )
                )
            if len(problems) > bad:
                continue
            try:
                contract = OptionContract(root, f.expiry, f.strike, Right(right))
            except InvalidInputError as exc:
                problems.append(FieldProblem(field=at, message=str(exc)))
                continue
            inputs.append(
                FillInput(
                    trade_date=f.trade_date,
                    structure=f.structure,
                    contract=contract,
                    quantity=f.quantity,
                    price=f.price,
                    fees_usd=f.fees_usd,
                    note=f.note,
                )
            )
        if problems:
            listed = "; ".join(f"{p.field}: {p.message}" for p in problems[:10])
            raise ApiError(
                422,
                "invalid_fills",
                f"{len(problems)} bad value(s), nothing was recorded: {listed}",
                fields=problems,
            )
        try:
            records = journal.record_fills(inputs)
        except JournalError as exc:
            raise ApiError(
                422, "invalid_fills", str(exc), fields=_fill_problems(str(exc)) or None
            ) from None
        return FillsOut(
            count=len(records), fills=[FillOut.model_validate(r.to_json()) for r in records]
        )

    # -- runs ------------------------------------------------------------------------------

    @app.post(
        "/api/runs",
        tags=["runs"],
        summary="Run the daily job now",
        description="Runs the daily signal synchronously (as `vixshield run-daily`) and "
        "returns its outcome: 201 when a signal was recorded, 200 when the day was already "
        "journaled or skipped, 500 with the journal's error message when the run failed, "
        "409 while another run is in progress. Needs the token.",
        response_model=RunOutcomeOut,
        responses={
            201: {"model": RunOutcomeOut, "description": "A new signal was recorded."},
            **_responses(401, 409, 422, 503),
            500: {
                "model": RunFailedOut,
                "description": "The run failed (`run_failed`, with its outcome) or the "
                "server failed (`internal`).",
            },
        },
        dependencies=writes,
    )
    def post_run(
        body: Annotated[RunIn | None, Body(description="All fields optional.")] = None,
    ) -> Response:
        asked = body if body is not None else RunIn()
        if not run_lock.acquire(blocking=False):
            since = running_since[-1].isoformat() if running_since else "?"
            raise ApiError(
                409,
                "run_in_progress",
                f"a run is already in progress (started {since}); wait for it to finish, "
                "then look at GET /api/runs",
            )
        try:
            running_since.append(the_clock.now())
            outcome = run_job(
                settings,
                day=asked.day,
                force=asked.force,
                clock=the_clock,
                journal=journal,
                notify=asked.notify,
            )
        finally:
            running_since.clear()
            run_lock.release()
        out = outcome.to_json()
        if outcome.status == "failed":
            return JSONResponse(
                {
                    **_error_body("run_failed", f"the run failed: {outcome.message}"),
                    "outcome": out,
                },
                status_code=500,
            )
        return JSONResponse(out, status_code=201 if outcome.status == "recorded" else 200)

    @app.get(
        "/api/runs",
        tags=["runs"],
        summary="Recent runs",
        description="Runs of any status and mode (or the one asked), newest first, each with "
        "its error rows.",
        response_model=RunsOut,
        responses=_responses(422, *read_errors),
        dependencies=reads,
    )
    def get_runs(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many.")] = 30,
        mode: Annotated[
            str | None,
            Query(
                max_length=64,
                pattern=r"^[A-Za-z0-9_.-]+$",
                description='Only this mode, e.g. "signal".',
            ),
        ] = None,
    ) -> RunsOut:
        chosen = journal.runs(mode=mode)[-limit:][::-1]
        out = [
            RunWithErrors(
                **_run_meta(r).model_dump(),
                errors=[
                    RunErrorOut(at=at, kind=kind, message=message)
                    for at, kind, message in journal.errors(r)
                ],
            )
            for r in chosen
        ]
        return RunsOut(count=len(out), runs=out)

    # -- backtest --------------------------------------------------------------------------

    def backtest() -> dict[str, Any]:
        if not api.backtest_dir:
            raise ApiError(
                404,
                "not_configured",
                "no backtest is configured: set [api] backtest_dir in service.toml to a "
                "`vixshield backtest --out` folder and restart the server",
            )
        folder = Path(api.backtest_dir).expanduser()
        try:
            summary = load_backtest(folder)
        except DataError as exc:
            log.error("the backtest folder %s is unreadable: %s", folder, exc)
            raise ApiError(
                500,
                "backtest_unreadable",
                f"the configured backtest folder ({folder.name}) could not be read; see the "
                "server log, and re-run `vixshield backtest --out` into it",
            ) from None
        if summary is None:
            raise ApiError(
                404,
                "not_found",
                f"no backtest in the configured folder ({folder.name}): run `vixshield "
                "backtest --out <folder>` and point [api] backtest_dir at it",
            )
        return summary

    @app.get(
        "/api/backtest",
        tags=["backtest"],
        summary="The configured backtest",
        description="The summary of the latest backtest in `[api] backtest_dir`. 404 when "
        "none is configured or found.",
        response_model=BacktestOut,
        responses=_responses(404, *read_errors),
        dependencies=reads,
    )
    def get_backtest() -> BacktestOut:
        loaded = backtest()
        dates: list[str] = list(loaded.get("dates", []))
        series: dict[str, list[float | None]] = dict(loaded.get("equity_usd", {}))
        return BacktestOut(
            folder=Path(api.backtest_dir).expanduser().name,
            start=date.fromisoformat(dates[0]) if dates else None,
            end=date.fromisoformat(dates[-1]) if dates else None,
            sessions=len(dates),
            runs=list(series),
            final_equity_usd={k: (v[-1] if v else None) for k, v in series.items()},
            summary=dict(loaded.get("summary", {})),
            links={"equity": "/api/backtest/equity"},
        )

    @app.get(
        "/api/backtest/equity",
        tags=["backtest"],
        summary="The backtest's equity curves",
        description="Dates and equity series (USD) of the configured backtest.",
        response_model=BacktestEquityOut,
        responses=_responses(404, *read_errors),
        dependencies=reads,
    )
    def get_backtest_equity() -> BacktestEquityOut:
        loaded = backtest()
        return BacktestEquityOut(dates=loaded.get("dates", []), series=loaded.get("equity_usd", {}))

    # -- dashboard -------------------------------------------------------------------------

    @app.get(
        "/",
        tags=["dashboard"],
        summary="The dashboard",
        description="A server-rendered HTML page of the journal: today's signal, the history, "
        "hedge activations, the book's equity and the configured backtest. Works offline "
        f"(plotly from `{PLOTLY_PATH}`).",
        response_class=HTMLResponse,
        responses={
            200: {"content": {"text/html": {}}, "description": "The page."},
            **_responses(*read_errors, page=True),
        },
        dependencies=reads,
    )
    def dashboard() -> HTMLResponse:
        now = the_clock.now()
        rows = journal.history(SIGNAL_MODE, limit=DASHBOARD_HISTORY)
        notes: list[str] = []  # the page itself warns of a stale or missing signal
        latest = rows[0] if rows else None
        per_day: dict[date, StoredDecision] = {}
        for stored in rows:
            per_day.setdefault(stored.session, stored)
        history = [history_item(s.data()) for s in reversed(list(per_day.values()))]
        summary: dict[str, Any] | None = None
        if api.backtest_dir:
            try:
                summary = load_backtest(Path(api.backtest_dir).expanduser())
            except DataError as exc:
                log.error("dashboard: the backtest folder is unreadable: %s", exc)
                notes.append("the configured backtest folder could not be read (server log)")
        view = DashboardView(
            generated_at=now,
            decision=None
            if latest is None
            else with_repeats(latest.data(), earlier_decisions(journal, latest.session)),
            run=None if latest is None else _run_meta_json(latest.run),
            history=history,
            hedge_activations=journal.hedge_activations(),
            book_equity=journal.book_equity(SIGNAL_MODE, settings.strategy.equity_usd),
            backtest=summary,
            notes=tuple(notes),
            plotly_src=PLOTLY_PATH,
        )
        html = render_dashboard(view)
        return HTMLResponse(
            html,
            headers={"Content-Security-Policy": _csp_for(html), "Cache-Control": "no-store"},
        )

    def plotly_asset() -> _PlotlyAsset:
        with plotly_lock:
            if not plotly_cache:
                body = plotly_js().encode("utf-8")
                digest = hashlib.sha256(body).hexdigest()[:32]
                plotly_cache.append(
                    _PlotlyAsset(body, gzip.compress(body, compresslevel=6, mtime=0), f'"{digest}"')
                )
            return plotly_cache[0]

    @app.get(
        PLOTLY_PATH,
        tags=["dashboard"],
        summary="The plotly.js bundle",
        description="The plotly.js the dashboard uses (served locally so the page works "
        "offline; cached for a year, gzip when accepted). Always public.",
        response_class=Response,
        responses={
            200: {"content": {"application/javascript": {}}, "description": "plotly.min.js"},
            304: {"description": "Not modified (If-None-Match matched the ETag)."},
        },
    )
    def plotly_bundle(request: Request) -> Response:
        asset = plotly_asset()
        headers = {"Cache-Control": _PLOTLY_CACHE, "ETag": asset.etag, "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            return Response(
                asset.gzipped,
                media_type="application/javascript",
                headers={**headers, "Content-Encoding": "gzip"},
            )
        return Response(asset.body, media_type="application/javascript", headers=headers)

    app.state.run_lock = run_lock
    return app
