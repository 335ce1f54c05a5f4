r"""The backtest report: one self-contained offline HTML page, and every number as JSON and CSV.

:func:`write_backtest_report` takes the runs of a backtest suite, ``runs[strategy][k]`` (each
strategy at each fill fraction ``k``: 0 fills every leg at the mid, 1 at the touch), and writes
into one folder:

========================================  =======================================================
``report.html``                           the report (below); plotly.js is inlined once, so the
                                          page opens offline and requests nothing from the network
``summary.json``                          every run's metrics (``Metrics.to_json``: NaN is
                                          ``null``, infinities ``"inf"``/``"-inf"``) and counts,
                                          the spread cost, the benchmark comparison, settings,
                                          settlement proxies, data description, configuration,
                                          software versions and the list of files
``equity.csv``                            closing equity (USD) of every run, one column
                                          ``<strategy>_k<k>`` per run, by session
``daily_<strategy>_k<k>.csv``             :attr:`BacktestResult.daily` of one run (equity, cash,
                                          option value, index units, margin, regime, hedge score,
                                          book Greeks with their units in the column names, ...)
``ledger_<strategy>_k<k>.csv``            :meth:`BacktestResult.ledger_frame`: one row per leg of
                                          every fill and settlement, one per interest or dividend
``trades_<strategy>_k<k>.csv``            closed trades (layer, opening credit, realised P&L)
``monthly_returns_<strategy>_k<k>.csv``   monthly returns (decimals), years by months, and
                                          ``full_year``
``decisions_<strategy>_k<k>.jsonl.gz``    every session's decision (``DayDecision.to_json``:
                                          regime, indicators, orders and refusals with their
                                          reasons, book, scenarios, notes), one JSON object a
                                          line, gzip (no timestamp: same inputs, same bytes)
``benchmarks_monthly.csv``,               the benchmark comparison, when one is given
``benchmarks_stats.csv``
========================================  =======================================================

``k`` in file names is written with ``%g`` (``k0``, ``k1``, ``k0.5``); a strategy name is kept
as given when it is made of letters, digits, ``_`` and ``-`` (anything else becomes ``_``).

The page
--------
1. **Header**: title, period, data description, configuration fingerprint, the time it was
   generated (only when ``generated_at`` is given: the same inputs give the same bytes), the
   settlement proxies the backtest used, and the configuration text.
2. **Runs**: what each strategy is, and what each run did (sessions, final equity, fills,
   refusals, fees, interest, dividends, sessions marked with a model price, margin calls).
3. **Metrics**: one row per strategy and fill fraction, with a *spread cost* row (the value at
   the largest ``k`` minus the value at the smallest): how much of the edge is the spread.
4. **Equity and drawdown** of every run (k selectable).
5. **The full ALVH run** (``full_alvh``, else the first strategy, at its largest ``k``): equity
   on regime bands, VIX option opens/closes/rolls/settlements by ALVH layer, and a table of
   that activity.
6. **Book Greeks** over time (delta, gamma, vega, theta, VIX delta) and the hedge score.
7. **Monthly returns** (year by month, and the year) of every run.
8. **Benchmarks**: model against published Cboe index returns, when given.

Every section says how to read it. All text is HTML-escaped. Money is in USD with thousands
separators; returns are percentages with two decimals; differences of percentages are
percentage points (pp).

Writes are atomic: everything is rendered in memory first, then every file is written (and
fsynced) to a temporary file in ``out_dir``, and only then moved over its name with
:func:`os.replace`, ``report.html`` last. A failure while rendering or writing leaves the
folder as it was (a previous report intact, no temporary file); every file is always whole.
Files listed by the previous ``summary.json`` that the new report does not write are then
removed, so the folder does not mix two reports; other files are left alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import html
import json
import math
import os
import platform
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.offline  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from vixshield.backtest.baselines import BASELINES
from vixshield.backtest.cboe import BenchmarkComparison
from vixshield.backtest.metrics import ClosedTrade, monthly_returns_table, yearly_returns
from vixshield.backtest.runner import BacktestResult
from vixshield.errors import InvalidInputError
from vixshield.signals.regime import LABELS as REGIME_LABELS
from vixshield.units import SPX_MULTIPLIER

__all__ = [
    "DEFAULT_DESCRIPTIONS",
    "DEFAULT_PROXIES",
    "ReportPaths",
    "write_backtest_report",
]

DEFAULT_PROXIES: Final[tuple[str, ...]] = (
    "SPX monthly options (AM-settled) settle at the S&P 500 opening print, a proxy for the "
    "Special Opening Quotation (SOQ). Before 2006 the recorded S&P 500 open is mostly the "
    "previous session's close, so there the proxy misses the overnight move.",
    "SPXW options (PM-settled) settle at the S&P 500 close of the expiry day (the official "
    "settlement value).",
    "VIX options (AM-settled) settle at a VIX open proxy for the VIX Special Opening Quotation "
    "(VRO). The history holds no VIX open, so the proxy is the previous session's VIX close.",
)
"""The settlement proxies of :mod:`vixshield.backtest.runner`, in words."""

DEFAULT_DESCRIPTIONS: Final[Mapping[str, str]] = {
    key: f"{b.display_name}: {b.description}" for key, b in BASELINES.items()
}
"""Descriptions of the suite's strategies (``descriptions`` overrides them)."""

PRIMARY: Final = "full_alvh"

_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9_-]")
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
PALETTE: Final = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_REGIME_FILL: Final[Mapping[str, str]] = {
    "calm": "rgba(44, 160, 44, 0.16)",
    "normal": "rgba(31, 119, 180, 0.12)",
    "elevated": "rgba(255, 191, 0, 0.22)",
    "stressed": "rgba(255, 127, 14, 0.26)",
    "crisis": "rgba(214, 39, 40, 0.28)",
    "unknown": "rgba(127, 127, 127, 0.15)",
}
_LAYER_COLOUR: Final[Mapping[str, str]] = {
    "short": "#1f77b4",
    "medium": "#9467bd",
    "long": "#8c564b",
}
_ACTION_SYMBOL: Final[Mapping[str, str]] = {
    "open": "triangle-up",
    "close": "triangle-down",
    "settle": "x",
    "roll": "diamond",
    "resize": "square",
}
_GREEKS: Final[tuple[tuple[str, str], ...]] = (
    ("delta_usd_per_pct", "Delta: USD per 1% SPX move"),
    ("gamma_usd_per_pct_sq", "Gamma: USD per (1% SPX move)²"),
    ("vega_usd_per_volpt", "Vega: USD per SPX implied-vol point"),
    ("theta_usd_per_day", "Theta: USD per calendar day"),
    ("vix_delta_usd_per_vixpt", "VIX delta: USD per point of the VX future"),
)
_PLOT_CONFIG: Final[Mapping[str, Any]] = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
}


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Where the report's files are.

    ``daily``, ``ledger``, ``trades`` and ``monthly_returns`` map ``(strategy, k)`` to the
    run's CSV; ``figures`` are the ids of the plotly figures in ``report.html`` (in page
    order), so a browser test knows how many graphs to expect.
    """

    out_dir: Path
    html: Path
    summary: Path
    equity: Path
    daily: Mapping[tuple[str, float], Path]
    ledger: Mapping[tuple[str, float], Path]
    trades: Mapping[tuple[str, float], Path]
    monthly_returns: Mapping[tuple[str, float], Path]
    decisions: Mapping[tuple[str, float], Path]
    benchmarks_monthly: Path | None
    benchmarks_stats: Path | None
    figures: tuple[str, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file written, CSVs first, ``summary.json`` and ``report.html`` last."""
        out: list[Path] = [self.equity]
        for group in (self.daily, self.ledger, self.trades, self.monthly_returns, self.decisions):
            out.extend(group.values())
        out.extend(p for p in (self.benchmarks_monthly, self.benchmarks_stats) if p is not None)
        return (*out, self.summary, self.html)


# --------------------------------------------------------------------------------------------
# Formatting


def _finite(x: object) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and math.isfinite(float(x))


def _nonfinite(x: object) -> str:
    if isinstance(x, float | np.floating) and math.isinf(float(x)):
        return "inf" if float(x) > 0 else "-inf"
    return "n/a"


def _num(x: object, decimals: int, *, signed: bool, scale: float = 1.0) -> str:
    """``x * scale`` with thousands separators; a value that rounds to zero shows no sign
    of its own (``+0.00`` when signed, never ``-0.00``); ``n/a`` / ``inf`` when not finite."""
    if not _finite(x):
        return _nonfinite(x)
    v = round(scale * float(x), decimals) + 0.0  # type: ignore[arg-type]
    return f"{v:+,.{decimals}f}" if signed else f"{v:,.{decimals}f}"


def fmt_money(x: object, *, decimals: int = 2, signed: bool = False) -> str:
    """``1,234,567.89`` (the unit, USD, is in the label); ``n/a`` for a missing value."""
    return _num(x, decimals, signed=signed)


def fmt_pct(x: object, *, signed: bool = False) -> str:
    """A decimal as a percentage with 2 decimals: ``0.01234`` -> ``1.23%``."""
    text = _num(x, 2, signed=signed, scale=100.0)
    return text + "%" if _finite(x) else text


def fmt_pp(x: object) -> str:
    """A difference of two decimals in percentage points: ``-0.0031`` -> ``-0.31 pp``."""
    text = _num(x, 2, signed=True, scale=100.0)
    return text + " pp" if _finite(x) else text


def fmt_ratio(x: object, *, signed: bool = False, decimals: int = 2) -> str:
    """A plain number (ratio, count) with ``decimals`` decimals."""
    return _num(x, decimals, signed=signed)


def k_label(k: float) -> str:
    """``k=0 (mid)``, ``k=1 (touch)``, ``k=0.5``."""
    if k == 0.0:
        return "k=0 (mid)"
    if k == 1.0:
        return "k=1 (touch)"
    return f"k={k:g}"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


# --------------------------------------------------------------------------------------------
# Adapters over BacktestResult (the runner may give these frames itself)


def _safe_name(name: str) -> str:
    return _SAFE_NAME.sub("_", name)


def _run_key(name: str, k: float) -> str:
    return f"{_safe_name(name)}_k{k:g}"


def _trades_frame(result: BacktestResult) -> pd.DataFrame:
    frame = pd.DataFrame(
        [dataclasses.asdict(t) for t in result.trades],
        columns=[f.name for f in dataclasses.fields(ClosedTrade)],
    )
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="trade")
    return frame


def _hedge_events(result: BacktestResult) -> pd.DataFrame:
    """``result.hedge_events`` with a layer name on every row (``other`` outside the ALVH)."""
    events = result.hedge_events.copy()
    events["layer"] = events["layer"].astype(object).where(events["layer"].notna(), "other")
    return events


def _drawdown(equity: pd.Series) -> pd.Series:
    values = equity.to_numpy(dtype=np.float64)
    peak = np.maximum.accumulate(values)
    return pd.Series(values / peak - 1.0, index=equity.index, dtype=np.float64)


def _fingerprint(result: BacktestResult) -> str:
    return next((d.decision.config_fingerprint for d in result.days), "")


# --------------------------------------------------------------------------------------------
# The runs


@dataclass(frozen=True, slots=True)
class _Run:
    name: str
    k: float
    result: BacktestResult
    daily: pd.DataFrame
    ledger: pd.DataFrame
    trades: pd.DataFrame
    monthly: pd.DataFrame
    hedges: pd.DataFrame

    @property
    def key(self) -> str:
        return _run_key(self.name, self.k)

    @property
    def label(self) -> str:
        return f"{self.name} {k_label(self.k)}"


def _monthly(result: BacktestResult) -> pd.DataFrame:
    eq = result.equity
    if len(eq) < 2:
        table = pd.DataFrame(columns=[*_MONTHS, "full_year"], dtype=np.float64)
        table.index.name = "year"
        return table
    table = monthly_returns_table(eq)
    table.columns = pd.Index(list(_MONTHS))
    table["full_year"] = yearly_returns(eq).reindex(table.index)
    table.index.name = "year"
    return table


def _collect(runs: Mapping[str, Mapping[float, BacktestResult]]) -> list[_Run]:
    if not runs:
        raise InvalidInputError("no run to report: runs is empty")
    out: list[_Run] = []
    seen: dict[str, str] = {}
    for name, by_k in runs.items():
        safe = _safe_name(name)
        if not name or safe in seen:
            raise InvalidInputError(
                f"strategy name {name!r} is empty or gives the same file names as "
                f"{seen.get(safe)!r}; rename one"
            )
        seen[safe] = name
        if not by_k:
            raise InvalidInputError(f"strategy {name!r} has no run")
        for k in sorted(by_k):
            if not (math.isfinite(k) and 0.0 <= k <= 1.0):
                raise InvalidInputError(f"{name}: fill fraction k must be in [0, 1], got {k!r}")
            r = by_k[k]
            out.append(
                _Run(
                    name,
                    float(k),
                    r,
                    r.daily,
                    r.ledger_frame(),
                    _trades_frame(r),
                    _monthly(r),
                    _hedge_events(r),
                )
            )
    return out


def _primary(runs: Sequence[_Run]) -> _Run:
    """The full-ALVH run (else the first strategy) at its largest k."""
    name = PRIMARY if any(r.name == PRIMARY for r in runs) else runs[0].name
    return max((r for r in runs if r.name == name), key=lambda r: r.k)


# --------------------------------------------------------------------------------------------
# Metrics table


@dataclass(frozen=True, slots=True)
class _Col:
    key: str
    label: str
    kind: str  # pct, money, ratio, duration
    title: str


_RISK_COLS: Final = (
    _Col("final_equity_usd", "Final equity (USD)", "money", "closing equity on the last session"),
    _Col("cagr", "CAGR", "pct", "compound annual growth over calendar days"),
    _Col("vol_annual", "Volatility (ann.)", "pct", "sd of daily returns x sqrt(252)"),
    _Col("sharpe", "Sharpe", "ratio", "annualised, daily excess returns"),
    _Col("sortino", "Sortino", "ratio", "annualised, downside deviation"),
    _Col("max_drawdown", "Max drawdown", "pct", "deepest fall from a running peak"),
    _Col(
        "max_drawdown_sessions",
        "DD duration (sessions / days)",
        "duration",
        "peak to recovery; * not recovered by the last session",
    ),
    _Col("calmar", "Calmar", "ratio", "CAGR / |max drawdown|"),
    _Col("cvar95_daily", "CVaR 95% (daily)", "pct", "mean of the worst 5% of daily returns"),
    _Col("xirr", "XIRR", "pct", "money-weighted annual return"),
)
_TRADE_COLS: Final = (
    _Col("win_rate", "Win rate", "pct", "income trades with P&L > 0"),
    _Col("profit_factor", "Profit factor", "ratio", "gross wins / gross losses, income trades"),
    _Col("avg_credit_usd", "Avg credit (USD)", "money", "mean opening credit, income trades"),
    _Col("avg_loss_usd", "Avg loss (USD)", "money", "mean P&L of the losing income trades"),
    _Col("hedge_spend_usd", "Hedge spend (USD)", "money", "premium paid for hedges"),
    _Col(
        "hedge_payoff_usd", "Hedge payoff (USD)", "money", "what the hedges returned, net of fees"
    ),
    _Col(
        "credit_to_hedge_ratio",
        "Credit / hedge",
        "ratio",
        "income credit collected per USD of hedge spend",
    ),
)


def _values(run: _Run) -> dict[str, Any]:
    v: dict[str, Any] = dict(run.result.metrics.to_dict())
    eq = run.result.equity
    v["final_equity_usd"] = float(eq.iloc[-1]) if len(eq) else math.nan
    return v


def _cell(col: _Col, v: Mapping[str, Any]) -> str:
    x = v.get(col.key)
    if col.kind == "pct":
        return fmt_pct(x)
    if col.kind == "money":
        return fmt_money(x)
    if col.kind == "ratio":
        return fmt_ratio(x)
    days = v.get("max_drawdown_days")
    star = "" if v.get("max_drawdown_recovered", True) else "*"
    return f"{int(x or 0):,} / {int(days or 0):,}{star}"


def _diff_cell(col: _Col, lo: Mapping[str, Any], hi: Mapping[str, Any]) -> str:
    if col.kind == "duration":
        ds = int(hi.get(col.key) or 0) - int(lo.get(col.key) or 0)
        dd = int(hi.get("max_drawdown_days") or 0) - int(lo.get("max_drawdown_days") or 0)
        return f"{ds:+,} / {dd:+,}"
    a, b = lo.get(col.key), hi.get(col.key)
    d = float(b) - float(a) if _finite(a) and _finite(b) else math.nan  # type: ignore[arg-type]
    if col.kind == "pct":
        return fmt_pp(d)
    if col.kind == "money":
        return fmt_money(d, signed=True)
    return fmt_ratio(d, signed=True)


def _spread_cost(runs: Sequence[_Run]) -> dict[str, dict[str, Any]]:
    """Per strategy, value at the largest k minus value at the smallest, per metric."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r.name for r in runs):
        mine = [r for r in runs if r.name == name]
        if len(mine) < 2:
            continue
        lo, hi = _values(mine[0]), _values(mine[-1])
        diff: dict[str, Any] = {"k_low": mine[0].k, "k_high": mine[-1].k}
        for key, a in lo.items():
            b = hi.get(key)
            if isinstance(a, bool) or isinstance(b, bool):
                continue
            diff[key] = (
                _json_float(float(b) - float(a)) if _finite(a) and _finite(b) else None  # type: ignore[arg-type]
            )
        out[name] = diff
    return out


def _metrics_table(runs: Sequence[_Run], cols: Sequence[_Col], caption: str) -> str:
    head = "".join(f'<th title="{_esc(c.title)}">{_esc(c.label)}</th>' for c in cols)
    body: list[str] = []
    for name in dict.fromkeys(r.name for r in runs):
        mine = [r for r in runs if r.name == name]
        span = len(mine) + (1 if len(mine) > 1 else 0)
        for i, r in enumerate(mine):
            v = _values(r)
            first = f'<th rowspan="{span}" class="strat">{_esc(name)}</th>' if i == 0 else ""
            cells = "".join(f'<td class="num">{_esc(_cell(c, v))}</td>' for c in cols)
            body.append(
                f'<tr class="k">{first}<td class="fill">{_esc(k_label(r.k))}</td>{cells}</tr>'
            )
        if len(mine) > 1:
            lo, hi = _values(mine[0]), _values(mine[-1])
            cells = "".join(f'<td class="num">{_esc(_diff_cell(c, lo, hi))}</td>' for c in cols)
            what = (
                f"spread cost ({k_label(mine[-1].k).split()[0]} - {k_label(mine[0].k).split()[0]})"
            )
            body.append(f'<tr class="spread"><td class="fill">{_esc(what)}</td>{cells}</tr>')
    return (
        f'<div class="scroll"><table class="metrics"><caption>{_esc(caption)}</caption>'
        f"<thead><tr><th>Strategy</th><th>Fills</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _run_facts(res: BacktestResult) -> dict[str, Any]:
    """What a run did, in numbers (the runs table and ``summary.json``)."""
    eq = res.equity
    final = float(eq.iloc[-1]) if len(eq) else math.nan
    return {
        "starting_equity_usd": res.starting_cash_usd,
        "final_equity_usd": final,
        "total_return": final / res.starting_cash_usd - 1.0 if len(eq) else math.nan,
        "first_session": eq.index[0].date().isoformat() if len(eq) else None,
        "last_session": eq.index[-1].date().isoformat() if len(eq) else None,
        "sessions": len(eq),
        "fills": res.fills,
        "refusals": len(res.refusals),
        "closed_trades": len(res.trades),
        "fees_usd": sum(e.fees_usd for e in res.ledger),
        "spread_paid_usd": spread_paid_usd(res),
        "interest_usd": sum(e.cash_usd for e in res.ledger if e.kind == "interest"),
        "dividends_usd": sum(e.cash_usd for e in res.ledger if e.kind == "dividend"),
        "sessions_with_model_marks": sum(1 for d in res.days if d.marks_modelled),
        "margin_call_sessions": len(res.margin_calls),
        "config_fingerprint": _fingerprint(res),
    }


def spread_paid_usd(res: BacktestResult) -> float:
    """What the run's fills paid away from the mids: ``sum((fill - mid) * quantity * 100)``.

    Positive is a cost (bought above or sold below the mid). Unlike the difference of two
    runs at different ``k``, which trade differently once fills change marks, stops and
    sizing, this is the spread cost of the trades this run actually made.
    """
    total = 0.0
    for e in res.ledger:
        for g in e.legs:
            if math.isfinite(g.mid):
                total += (g.price - g.mid) * g.quantity * SPX_MULTIPLIER
    return total


def _runs_table(runs: Sequence[_Run]) -> str:
    facts = [_run_facts(r.result) for r in runs]
    dividends = any(f["dividends_usd"] != 0.0 for f in facts)
    starts = len({f["starting_equity_usd"] for f in facts}) > 1
    head = (
        "<tr><th>Strategy</th><th>Fills</th><th>Sessions</th><th>First session</th>"
        "<th>Last session</th>"
        + ("<th>Starting equity (USD)</th>" if starts else "")
        + "<th>Final equity (USD)</th><th>Total return</th><th>Option fills</th>"
        "<th>Refused orders</th><th>Closed trades</th><th>Fees (USD)</th>"
        "<th>Spread paid (USD)</th>"
        "<th>Interest (USD)</th>"
        + ("<th>Dividends (USD)</th>" if dividends else "")
        + "<th>Model-mark sessions</th><th>Margin calls (sessions)</th>"
        "<th>Config (SHA-256)</th></tr>"
    )
    rows: list[str] = []
    names = list(dict.fromkeys(r.name for r in runs))
    for name in names:
        mine = [(r, f) for r, f in zip(runs, facts, strict=True) if r.name == name]
        for i, (r, f) in enumerate(mine):
            fp = str(f["config_fingerprint"])
            cells = [
                f'<th rowspan="{len(mine)}" class="strat">{_esc(name)}</th>' if i == 0 else "",
                f'<td class="fill">{_esc(k_label(r.k))}</td>',
                f'<td class="num">{f["sessions"]:,}</td>',
                f'<td class="num">{_esc(f["first_session"] or "n/a")}</td>',
                f'<td class="num">{_esc(f["last_session"] or "n/a")}</td>',
                f'<td class="num">{_esc(fmt_money(f["starting_equity_usd"]))}</td>'
                if starts
                else "",
                f'<td class="num">{_esc(fmt_money(f["final_equity_usd"]))}</td>',
                f'<td class="num">{_esc(fmt_pct(f["total_return"]))}</td>',
                f'<td class="num">{f["fills"]:,}</td>',
                f'<td class="num">{f["refusals"]:,}</td>',
                f'<td class="num">{f["closed_trades"]:,}</td>',
                f'<td class="num">{_esc(fmt_money(f["fees_usd"]))}</td>',
                f'<td class="num">{_esc(fmt_money(f["spread_paid_usd"]))}</td>',
                f'<td class="num">{_esc(fmt_money(f["interest_usd"]))}</td>',
                f'<td class="num">{_esc(fmt_money(f["dividends_usd"]))}</td>' if dividends else "",
                f'<td class="num">{f["sessions_with_model_marks"]:,}</td>',
                f'<td class="num">{f["margin_call_sessions"]:,}</td>',
                f'<td><code title="{_esc(fp)}">{_esc(fp[:12] or "n/a")}</code></td>',
            ]
            rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table class="runs"><thead>{head}</thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _strategy_list(runs: Sequence[_Run], descriptions: Mapping[str, str]) -> str:
    items = "".join(
        f"<dt>{_esc(name)}</dt><dd>{_esc(descriptions.get(name) or '(no description)')}</dd>"
        for name in dict.fromkeys(r.name for r in runs)
    )
    return f'<dl class="facts strategies">{items}</dl>'


# --------------------------------------------------------------------------------------------
# Figures


def _layout(fig: Any, *, title: str, height: int, yaxis_title: str | None = None) -> None:
    fig.update_layout(
        title={"text": _esc(title), "x": 0.01, "xanchor": "left", "font": {"size": 16}},
        template="plotly_white",
        height=height,
        margin={"l": 80, "r": 30, "t": 60, "b": 50},
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0.0},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    )
    if yaxis_title is not None:
        fig.update_yaxes(title_text=_esc(yaxis_title))


def _k_buttons(trace_ks: Sequence[float], ks: Sequence[float]) -> list[dict[str, Any]]:
    """Dropdown: every trace, or the traces of one k (``trace_ks``: each trace's k)."""
    buttons = [{"label": "all fills", "method": "restyle", "args": [{"visible": True}]}]
    for k in ks:
        vis = [kk == k for kk in trace_ks]
        buttons.append({"label": k_label(k), "method": "restyle", "args": [{"visible": vis}]})
    return buttons


def _dash(k: float, ks: Sequence[float]) -> str:
    if k == ks[0]:
        return "solid"
    if k == ks[-1]:
        return "dash"
    return "dot"


def _colours(runs: Sequence[_Run]) -> dict[str, str]:
    names = list(dict.fromkeys(r.name for r in runs))
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def _dates(index: pd.Index) -> list[str]:
    return [pd.Timestamp(t).date().isoformat() for t in index]


def _fig_runs(
    runs: Sequence[_Run],
    ks: Sequence[float],
    series: Callable[[pd.Series], pd.Series],
    *,
    width: float,
    hover: str,
    title: str,
    height: int,
    yaxis: Mapping[str, Any],
    menu: Mapping[str, Any],
) -> Any:
    """One line per run of ``series(equity)``: colour by strategy, dash by ``k``, and a menu
    to show one ``k`` at a time when there are several."""
    fig = go.Figure()
    colours = _colours(runs)
    for r in runs:
        eq = r.result.equity
        fig.add_trace(
            go.Scatter(
                x=_dates(eq.index),
                y=series(eq).to_numpy(dtype=np.float64),
                name=_esc(r.label),
                legendgroup=_esc(r.name),
                mode="lines",
                line={"color": colours[r.name], "dash": _dash(r.k, ks), "width": width},
                hovertemplate=hover + "<extra>" + _esc(r.label) + "</extra>",
            )
        )
    _layout(fig, title=title, height=height)
    fig.update_yaxes(**yaxis)
    if len(ks) > 1:
        fig.update_layout(
            updatemenus=[
                {
                    "buttons": _k_buttons([r.k for r in runs], ks),
                    "direction": "down",
                    "x": 1.0,
                    "xanchor": "right",
                    **menu,
                }
            ]
        )
    return fig


def _fig_equity(runs: Sequence[_Run], ks: Sequence[float]) -> Any:
    return _fig_runs(
        runs, ks, lambda eq: eq, width=1.6, hover="%{y:,.2f} USD",
        title="Equity of every run (USD, closing marks)", height=480,
        yaxis={"title_text": "Equity (USD)", "tickformat": ",.0f"},
        menu={"y": 1.12, "yanchor": "top", "showactive": True},
    )  # fmt: skip


def _underwater_pct(eq: pd.Series) -> pd.Series:
    return 100.0 * _drawdown(eq) if len(eq) else pd.Series(dtype=np.float64)


def _fig_drawdown(runs: Sequence[_Run], ks: Sequence[float]) -> Any:
    return _fig_runs(
        runs, ks, _underwater_pct, width=1.4, hover="%{y:.2f}%",
        title="Drawdown: fall of equity from its running peak (%)", height=380,
        yaxis={"title_text": "Drawdown (%)", "ticksuffix": "%", "tickformat": ".2f"},
        menu={"y": 1.15, "yanchor": "top"},
    )  # fmt: skip


def _regime_runs(daily: pd.DataFrame) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    """Contiguous regime spans: (label, first session, start of the next span or last + 1 d)."""
    if daily.empty or "regime" not in daily.columns:
        return []
    idx = pd.DatetimeIndex(daily.index)
    labels = [str(x) if isinstance(x, str) and x else "unknown" for x in daily["regime"]]
    spans: list[tuple[str, pd.Timestamp, pd.Timestamp]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            end = idx[i] if i < len(labels) else idx[-1] + pd.Timedelta(days=1)
            spans.append((labels[start], idx[start], end))
            start = i
    return spans


def _fig_regimes(run: _Run) -> Any:
    fig = go.Figure()
    spans = _regime_runs(run.daily)
    order = [*REGIME_LABELS, "unknown"]
    for label in order:
        mine = [(a, b) for lab, a, b in spans if lab == label]
        if not mine:
            continue
        xs: list[str | None] = []
        ys: list[float | None] = []
        for a, b in mine:
            x0, x1 = a.date().isoformat(), b.date().isoformat()
            xs += [x0, x1, x1, x0, x0, None]
            ys += [0.0, 0.0, 1.0, 1.0, 0.0, None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name=f"regime: {label}",
                mode="lines",
                fill="toself",
                fillcolor=_REGIME_FILL.get(label, _REGIME_FILL["unknown"]),
                line={"width": 0},
                hoverinfo="skip",
                yaxis="y",
                legendgroup="regime",
            )
        )
    eq = run.result.equity
    regimes = (
        run.daily["regime"].reindex(eq.index).astype(object).where(lambda s: s.notna(), "n/a")
        if "regime" in run.daily.columns
        else pd.Series("n/a", index=eq.index)
    )
    fig.add_trace(
        go.Scatter(
            x=_dates(eq.index),
            y=eq.to_numpy(dtype=np.float64),
            name=_esc(f"equity, {run.label}"),
            mode="lines",
            line={"color": "#222222", "width": 1.8},
            customdata=[_esc(x) for x in regimes],
            hovertemplate="equity %{y:,.2f} USD<br>regime %{customdata}<extra></extra>",
            yaxis="y2",
        )
    )
    ev = run.hedges
    if not ev.empty:
        when = pd.DatetimeIndex(pd.to_datetime(ev["session"]))
        level = eq.reindex(when).to_numpy(dtype=np.float64)
        frame = ev.assign(_x=when, _y=level)
        for (layer, action), g in frame.groupby(["layer", "action"], sort=True):
            texts = [
                "<br>".join(
                    (
                        _esc(f"{layer} layer: {action}"),
                        _esc(str(s)[:80]),
                        _esc(f"cash {fmt_money(p, signed=True)} USD, net of fees"),
                    )
                )
                for s, p in zip(g["structure"], g["cash_usd"], strict=True)
            ]
            fig.add_trace(
                go.Scatter(
                    x=_dates(pd.DatetimeIndex(g["_x"])),
                    y=g["_y"].to_numpy(dtype=np.float64),
                    name=_esc(f"{layer} tranche {action}"),
                    mode="markers",
                    marker={
                        "symbol": _ACTION_SYMBOL.get(str(action), "circle"),
                        "color": _LAYER_COLOUR.get(str(layer), "#444444"),
                        "size": 11,
                        "line": {"width": 1, "color": "#ffffff"},
                    },
                    hovertext=texts,
                    hovertemplate="%{hovertext}<extra></extra>",
                    yaxis="y2",
                )
            )
    _layout(
        fig,
        title=f"{run.label}: equity (USD) on regime bands, with hedge tranche events",
        height=520,
    )
    fig.update_layout(
        hovermode="closest",
        yaxis={"range": [0, 1], "visible": False, "fixedrange": True},
        yaxis2={
            "overlaying": "y",
            "side": "left",
            "title": {"text": "Equity (USD)"},
            "tickformat": ",.0f",
            "tickmode": "auto",
            "showgrid": True,
        },
    )
    if len(eq):
        last = (eq.index[-1] + pd.Timedelta(days=1)).date().isoformat()
        fig.update_xaxes(range=[eq.index[0].date().isoformat(), last])
    return fig


def _fig_greeks(run: _Run) -> Any:
    rows = len(_GREEKS) + 1
    titles = [_esc(t) for _, t in _GREEKS] + ["Hedge score: live triggers (0 = none)"]
    fig = make_subplots(
        rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.05, subplot_titles=titles
    )
    d = run.daily
    x = _dates(d.index)
    units = ("USD", "USD", "USD", "USD", "USD")
    for i, ((col, title), unit) in enumerate(zip(_GREEKS, units, strict=True), start=1):
        y = (
            d[col].to_numpy(dtype=np.float64)
            if col in d.columns
            else np.full(len(d), np.nan, dtype=np.float64)
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=_esc(title.split(":")[0]),
                mode="lines",
                line={"width": 1.4, "color": PALETTE[i - 1]},
                hovertemplate="%{y:,.2f} " + unit + "<extra>" + _esc(title) + "</extra>",
                showlegend=False,
            ),
            row=i,
            col=1,
        )
        fig.add_hline(y=0.0, line={"color": "#bbbbbb", "width": 1}, row=i, col=1)
        fig.update_yaxes(title_text=unit, tickformat=",.0f", row=i, col=1)
    score = (
        d["hedge_score"].to_numpy(dtype=np.float64)
        if "hedge_score" in d.columns
        else np.full(len(d), np.nan, dtype=np.float64)
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=score,
            name="hedge score",
            mode="lines",
            line={"width": 1.6, "color": "#d62728", "shape": "hv"},
            hovertemplate="%{y:.0f}<extra>hedge score</extra>",
            showlegend=False,
        ),
        row=rows,
        col=1,
    )
    fig.update_yaxes(title_text="triggers", dtick=1, rangemode="tozero", row=rows, col=1)
    _layout(fig, title=f"{run.label}: book Greeks after each session's orders", height=1150)
    fig.update_layout(hovermode="x", margin={"t": 80})
    fig.update_annotations(font={"size": 13}, x=0.0, xanchor="left")
    return fig


def _growth(series: pd.Series) -> tuple[list[str], npt.NDArray[np.float64]]:
    """Growth of 1 USD from the start of the first month, compounding monthly returns."""
    if series.empty:
        return [], np.empty(0, dtype=np.float64)
    x = [_month_start(series.index[0]), *_month_dates(series.index)]
    y = np.concatenate(([1.0], np.cumprod(1.0 + series.to_numpy(dtype=np.float64))))
    return x, y


def _fig_benchmark(name: str, monthly: pd.DataFrame) -> Any:
    model = pd.to_numeric(monthly[f"{name}_model"], errors="coerce")
    published = pd.to_numeric(monthly[f"{name}_published"], errors="coerce")
    both = model.notna() & published.notna()
    if both.any():
        model, published = model[both], published[both]
        what = "months with both"
    else:
        model, published = model.dropna(), published.dropna()
        what = "no month with both: each side over its own months"
    fig = go.Figure()
    for series, label, colour in (
        (model, "model (this backtest's rules)", "#1f77b4"),
        (published, "published index", "#ff7f0e"),
    ):
        x, y = _growth(series)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=label,
                mode="lines",
                line={"color": colour, "width": 1.8},
                hovertemplate="%{y:.4f} USD<extra>" + label + "</extra>",
            )
        )
    _layout(
        fig,
        title=f"{name}: growth of 1 USD, model vs published ({what})",
        height=360,
        yaxis_title="Growth of 1 USD",
    )
    return fig


def _month_dates(index: pd.Index) -> list[str]:
    if isinstance(index, pd.PeriodIndex):
        return [p.to_timestamp(how="end").date().isoformat() for p in index]
    try:
        return [pd.Timestamp(t).date().isoformat() for t in index]
    except (TypeError, ValueError):
        return [str(t) for t in index]


def _month_start(month: object) -> str:
    """Where a growth curve starts: the first day of the first month."""
    if isinstance(month, pd.Period):
        return month.start_time.date().isoformat()
    try:
        return pd.Timestamp(month).to_period("M").start_time.date().isoformat()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(month)


def _benchmark_names(monthly: pd.DataFrame) -> list[str]:
    cols = [str(c) for c in monthly.columns]
    return [
        c.removesuffix("_model")
        for c in cols
        if c.endswith("_model") and f"{c.removesuffix('_model')}_published" in cols
    ]


def _figure_html(fig: Any, div_id: str) -> str:
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config=dict(_PLOT_CONFIG),
            default_width="100%",
        )
    )


# --------------------------------------------------------------------------------------------
# HTML tables


def _heat(value: float, scale: float) -> str:
    if not math.isfinite(value) or scale <= 0:
        return ""
    a = min(1.0, abs(value) / scale) * 0.55
    colour = "44, 160, 44" if value > 0 else "214, 39, 40"
    return f' style="background: rgba({colour}, {a:.3f})"'


def _monthly_table(run: _Run) -> str:
    t = run.monthly
    if t.empty:
        return '<p class="note">Fewer than two sessions: no monthly return.</p>'
    months = t[list(_MONTHS)].to_numpy(dtype=np.float64)
    finite = months[np.isfinite(months)]
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    years = t["full_year"].to_numpy(dtype=np.float64)
    fy = years[np.isfinite(years)]
    yscale = float(np.abs(fy).max()) if fy.size else 0.0
    head = "".join(f"<th>{m}</th>" for m in _MONTHS)
    rows: list[str] = []
    for year, row in t.iterrows():
        cells = []
        for m in _MONTHS:
            v = float(row[m])
            text = _esc(fmt_pct(v)) if math.isfinite(v) else ""
            cells.append(f'<td class="num"{_heat(v, scale)}>{text}</td>')
        yv = float(row["full_year"])
        text = _esc(fmt_pct(yv)) if math.isfinite(yv) else ""
        cells.append(f'<td class="num year"{_heat(yv, yscale)}>{text}</td>')
        rows.append(f"<tr><th>{_esc(year)}</th>{''.join(cells)}</tr>")
    return (
        '<div class="scroll"><table class="monthly">'
        f"<thead><tr><th>Year</th>{head}<th>Full year</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _hedge_table(run: _Run) -> str:
    ev = run.hedges
    if ev.empty:
        return '<p class="note">No VIX option event in this run.</p>'
    g = ev.groupby(["layer", "action"], sort=True).agg(
        count=("session", "size"),
        contracts=("contracts", "sum"),
        premium=("premium_usd", "sum"),
        fees=("fees_usd", "sum"),
        cash=("cash_usd", "sum"),
    )
    rows = "".join(
        f"<tr><td>{_esc(layer)}</td><td>{_esc(action)}</td>"
        f'<td class="num">{int(n):,}</td><td class="num">{_esc(fmt_ratio(c, decimals=0))}</td>'
        f'<td class="num">{_esc(fmt_money(p, signed=True))}</td>'
        f'<td class="num">{_esc(fmt_money(f))}</td>'
        f'<td class="num">{_esc(fmt_money(cash, signed=True))}</td></tr>'
        for (layer, action), n, c, p, f, cash in zip(
            g.index.tolist(),
            g["count"].tolist(),
            g["contracts"].tolist(),
            g["premium"].tolist(),
            g["fees"].tolist(),
            g["cash"].tolist(),
            strict=True,
        )
    )
    premium, fees, cash = (float(ev[c].sum()) for c in ("premium_usd", "fees_usd", "cash_usd"))
    return (
        '<table class="hedges"><thead><tr><th>Layer</th><th>Event</th><th>Entries</th>'
        "<th>Contracts</th><th>Premium / settlement (USD)</th><th>Fees (USD)</th>"
        "<th>Cash, net of fees (USD)</th></tr></thead>"
        f'<tbody>{rows}</tbody><tfoot><tr><th colspan="4">All VIX option events</th>'
        f'<td class="num">{_esc(fmt_money(premium, signed=True))}</td>'
        f'<td class="num">{_esc(fmt_money(fees))}</td>'
        f'<td class="num">{_esc(fmt_money(cash, signed=True))}</td></tr></tfoot></table>'
    )


def _fmt4(x: object) -> str:
    return fmt_ratio(x, decimals=4)


_STAT_FORMATS: Final[Mapping[str, Callable[[object], str]]] = {
    "months": lambda x: fmt_ratio(x, decimals=0),
    "correlation": lambda x: fmt_ratio(x, decimals=3),
    "tracking_error_ann": fmt_pct,
    "ann_return_model": fmt_pct,
    "ann_return_published": fmt_pct,
    "ann_return_diff": fmt_pp,
    "max_dd_model": fmt_pct,
    "max_dd_published": fmt_pct,
    "max_dd_diff": fmt_pp,
    "ann_vol_model": fmt_pct,
    "ann_vol_published": fmt_pct,
}
_STAT_LABELS: Final[Mapping[str, str]] = {
    "months": "Months",
    "correlation": "Correlation",
    "tracking_error_ann": "Tracking error (ann.)",
    "ann_return_model": "Ann. return, model",
    "ann_return_published": "Ann. return, published",
    "ann_return_diff": "Ann. return, difference",
    "max_dd_model": "Max DD, model",
    "max_dd_published": "Max DD, published",
    "max_dd_diff": "Max DD, difference",
    "ann_vol_model": "Ann. vol, model",
    "ann_vol_published": "Ann. vol, published",
}


def _stats_table(stats: pd.DataFrame) -> str:
    cols = [str(c) for c in stats.columns]
    head = "".join(f"<th>{_esc(_STAT_LABELS.get(c, c))}</th>" for c in cols)
    rows: list[str] = []
    for name, row in stats.iterrows():
        cells = "".join(
            f'<td class="num">{_esc(_STAT_FORMATS.get(c, _fmt4)(row[c]))}</td>' for c in cols
        )
        rows.append(f'<tr><th class="strat">{_esc(name)}</th>{cells}</tr>')
    return (
        '<div class="scroll"><table class="bench"><thead><tr><th>Benchmark</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


# --------------------------------------------------------------------------------------------
# The page

BASE_CSS: Final = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --band: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #ffffff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1360px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-top: 12px; border-top: 2px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
nav { position: sticky; top: 0; z-index: 10; background: #ffffffee;
  border-bottom: 1px solid var(--line); padding: 8px 28px; font-size: 13px; }
nav a { margin-right: 14px; color: #1f5fa8; text-decoration: none; }
nav a:hover { text-decoration: underline; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 12px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
"""
"""The look both offline pages share (this report and the service dashboard): colours, type,
the sticky nav, fact lists."""

_CSS: Final = (
    BASE_CSS
    + """\
.how { background: var(--band); border-left: 4px solid #8aa4c8; padding: 8px 12px;
  margin: 8px 0 14px; color: #2d3545; font-size: 13px; }
.how p { margin: 4px 0; }
.note { color: var(--muted); font-size: 13px; }
.scroll { overflow-x: auto; margin: 8px 0 16px; }
table { border-collapse: collapse; font-size: 12.5px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid var(--line); padding: 3px 7px; vertical-align: top; }
thead th { background: #eef1f6; font-weight: 600; text-align: center; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.fill { white-space: nowrap; color: var(--muted); }
th.strat { text-align: left; background: #fafbfd; white-space: nowrap; }
tr.spread td { background: #fff7e6; font-style: italic; }
table.monthly td.num { min-width: 64px; }
table.monthly td.year { font-weight: 600; border-left: 2px solid #9aa3b2; }
details { margin: 6px 0; }
details > summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
pre { background: var(--band); padding: 10px; overflow-x: auto; font-size: 12px; }
ul.proxies li, ul.notes li { margin: 3px 0; }
ul.files { columns: 3; font-size: 13px; }
code { font-size: 12px; }
.figure { margin: 8px 0 18px; border: 1px solid var(--line); border-radius: 4px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""
)

_CSP: Final = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)


def _how(*paragraphs: str) -> str:
    body = "".join(f"<p>{_esc(p)}</p>" for p in paragraphs)
    return f'<div class="how"><strong>How to read this.</strong>{body}</div>'


def _section(sid: str, title: str, *parts: str) -> str:
    return f'<section id="{sid}"><h2>{_esc(title)}</h2>{"".join(parts)}</section>'


def _period(runs: Sequence[_Run]) -> tuple[str, str, int]:
    starts = [r.result.equity.index[0] for r in runs if len(r.result.equity)]
    ends = [r.result.equity.index[-1] for r in runs if len(r.result.equity)]
    sessions = max((len(r.result.equity) for r in runs), default=0)
    if not starts:
        return "n/a", "n/a", 0
    return min(starts).date().isoformat(), max(ends).date().isoformat(), sessions


def _render(
    runs: Sequence[_Run],
    *,
    title: str,
    config_text: str,
    data_description: str,
    benchmarks: BenchmarkComparison | None,
    descriptions: Mapping[str, str],
    proxies: Sequence[str],
    generated_at: datetime | None,
    settings: Mapping[str, Any],
    files: Sequence[str],
) -> tuple[str, tuple[str, ...]]:
    """The page and its figure ids."""
    ks = sorted({r.k for r in runs})
    primary = _primary(runs)
    figures: list[tuple[str, Any]] = [
        ("fig-equity", _fig_equity(runs, ks)),
        ("fig-drawdown", _fig_drawdown(runs, ks)),
        ("fig-regimes", _fig_regimes(primary)),
        ("fig-greeks", _fig_greeks(primary)),
    ]
    bench_names: list[str] = []
    if benchmarks is not None:
        bench_names = _benchmark_names(benchmarks.monthly)
        for i, name in enumerate(bench_names):
            figures.append((f"fig-bench-{i}", _fig_benchmark(name, benchmarks.monthly)))
    divs = {fid: _figure_html(fig, fid) for fid, fig in figures}

    def fig(fid: str) -> str:
        return f'<div class="figure">{divs[fid]}</div>'

    start, end, sessions = _period(runs)
    fp = _fingerprint(primary.result) or hashlib.sha256(config_text.encode()).hexdigest()
    facts = [
        ("Period", f"{start} to {end} ({sessions:,} sessions)"),
        ("Data", data_description),
        ("Fill fractions", ", ".join(k_label(k) for k in ks)),
        ("Strategies", ", ".join(dict.fromkeys(r.name for r in runs))),
        ("Config fingerprint", f"sha256 {fp}"),
    ]
    equities = sorted({r.result.starting_cash_usd for r in runs})
    if len(equities) == 1:
        facts.append(("Starting equity", f"{fmt_money(equities[0])} USD"))
    facts += [(str(k), str(v)) for k, v in settings.items()]
    if generated_at is not None:
        facts.append(("Generated", generated_at.isoformat(timespec="seconds")))
    facts_html = "".join(f"<dt>{_esc(a)}</dt><dd>{_esc(b)}</dd>" for a, b in facts)
    header = (
        f"<header><h1>{_esc(title)}</h1>"
        f'<dl class="facts">{facts_html}</dl>'
        '<section id="proxies"><h3>Settlement proxies used by the backtest</h3>'
        f'<ul class="proxies">{"".join(f"<li>{_esc(p)}</li>" for p in proxies)}</ul></section>'
        "<details><summary>Configuration</summary>"
        f"<pre>{_esc(config_text)}</pre></details></header>"
    )
    nav_items = [
        ("runs", "Runs"),
        ("metrics", "Metrics"),
        ("equity", "Equity & drawdown"),
        ("alvh", "Regimes & hedges"),
        ("greeks", "Greeks"),
        ("monthly", "Monthly returns"),
    ]
    if benchmarks is not None:
        nav_items.append(("benchmarks", "Benchmarks"))
    nav_items.append(("files", "Files"))
    nav = "<nav>" + "".join(f'<a href="#{a}">{_esc(b)}</a>' for a, b in nav_items) + "</nav>"

    lo, hi = k_label(ks[0]), k_label(ks[-1])
    runs_sec = _section(
        "runs",
        "Runs",
        _how(
            "One row per strategy and fill fraction k. k = 0 fills every option leg at the "
            "mid; k = 1 at the touch (buy at the ask, sell at the bid); in between, the mid "
            "moved k half-spreads against the trader. Fees are Cboe fees per contract.",
            "Equity is cash plus the open legs marked at the chain mids at the close, plus "
            "any S&P 500 units held at the close. Option fills counts ledger entries from "
            "fills (opens, closes, rolls, resizes); refused orders are intents that were not "
            "filled (no quote, or the margin check). Fees are every fee paid (USD). Spread "
            "paid is what this run's own fills gave away against the mids, "
            "sum((fill - mid) x quantity x 100), positive a cost: what the spread took from the "
            "trades the run made. The k = 1 minus k = 0 rows under Metrics compare two runs "
            "that can trade differently (a fill changes marks, stops and sizing), so they "
            "can even favour k = 1; spread paid cannot. Interest "
            "is earned on the cash (simple, ACT/360). A model mark is a leg with "
            "no chain quote valued at its intrinsic value (a lower bound); the count says on "
            "how many sessions that happened. On model chains it is usually a far "
            "out-of-the-money wing that drifted off the model's strike band, worth cents. "
            "A margin-call session is one whose closing "
            "strategy-based margin requirement exceeded the equity (nothing is liquidated; "
            "new opens are refused while it lasts). Config is the start of the "
            "configuration's SHA-256 (hover for all of it).",
        ),
        _strategy_list(runs, descriptions),
        _runs_table(runs),
    )
    metrics_sec = _section(
        "metrics",
        "Metrics",
        _how(
            (
                f"Rows: each strategy at each fill fraction, then its spread cost: the value "
                f"at {hi} minus the value at {lo}. A negative CAGR spread cost is return lost "
                "to the bid-ask spread; pp = percentage points."
            )
            if len(ks) > 1
            else (
                f"Rows: each strategy, every run at {lo}. Run the strategies at k = 0 and "
                "k = 1 to see how much of the result is the bid-ask spread."
            ),
            "Returns are daily, from closing equity. CAGR compounds over calendar days "
            "(365.25 a year); volatility, Sharpe and Sortino are annualised with √252 sessions, "
            "against the risk-free rate the run used (0 unless set). Max drawdown is the "
            "deepest fall of equity from a running peak (negative); its duration runs from "
            "that peak to the recovery, in sessions / calendar days (* = not recovered by the "
            "last session). Calmar = CAGR / |max drawdown|. CVaR 95% is the mean of the "
            "worst 5% of daily returns. XIRR is the money-weighted annual return of the "
            "starting and final equity.",
            "Trade statistics are over closed trades. Win rate, profit factor (gross wins / "
            "gross losses), average credit (opening premium received) and average loss (mean "
            "P&L of the losing trades, negative) are over the income trades (condors and "
            "ladder). Hedge spend is the premium paid for VIX hedges (positive); hedge payoff "
            "what they returned when sold or settled, net of fees; credit / hedge the income "
            "credit collected per USD of hedge spend. n/a = undefined (no trade, no loss, no "
            "drawdown); inf = a positive amount over zero.",
        ),
        _metrics_table(runs, _RISK_COLS, "Returns and risk"),
        _metrics_table(runs, _TRADE_COLS, "Trades and hedges"),
    )
    equity_sec = _section(
        "equity",
        "Equity and drawdown",
        _how(
            (
                f"Closing equity (USD) of every run: one colour per strategy, solid at {lo}, "
                f"dashed at {hi} (dotted in between). The menu at the top right shows one "
                "fill fraction at a time."
                if len(ks) > 1
                else f"Closing equity (USD) of every run ({lo}): one colour per strategy."
            )
            + " Click a legend entry to hide a run, drag to zoom, double-click to reset.",
            "The drawdown is the fall from the highest equity so far, in percent: 0 at a new "
            "high, -10% when equity is 10% below its peak.",
        ),
        fig("fig-equity"),
        fig("fig-drawdown"),
    )
    alvh_sec = _section(
        "alvh",
        f"Regimes and hedges: {primary.label}",
        _how(
            "The background colour is the market regime the decision saw that session "
            "(calm < normal < elevated < stressed < crisis, from VIX and the term structure). "
            "Markers on the equity line are VIX option events: colour = ALVH layer "
            "(short, medium, long; other = a VIX option outside the ALVH), ▲ = tranche "
            "opened (premium paid), ▼ = closed (monetised), ◆ = rolled (time-shift), "
            "x = settled at expiry. Hover for the structure and its cash.",
            "The table sums those events by layer and kind. Premium / settlement is the "
            "option cash before fees (+ received, - paid); cash is net of fees. The total "
            "cash is what the VIX options cost (negative) or returned (positive) over the "
            "run, not counting tranches still open at the end. Every event with its reason "
            "is in the ledger CSV.",
        ),
        fig("fig-regimes"),
        _hedge_table(primary),
    )
    greeks_sec = _section(
        "greeks",
        f"Book Greeks and hedge score: {primary.label}",
        _how(
            "The book's Greeks after each session's orders, as the decision computed them "
            "(USD for the whole position). Delta: P&L for a +1% SPX move. Gamma: the "
            "second-order term, P&L ≈ delta·x + ½·gamma·x² for an x% move (negative = short "
            "gamma, losses grow with the move). Vega: P&L for +1 point of SPX implied vol "
            "(negative = short vol). Theta: P&L per calendar day from time decay (positive = "
            "the book earns decay). VIX delta: P&L for +1 point in the VX futures of the "
            "hedges' expiries (the hedge's exposure).",
            "The hedge score counts the live ALVH triggers (term structure toward "
            "backwardation, VIX MACD turning up, A/D divergence, an event within 5 sessions, "
            "the delta band broken, VVIX RSI > 70); score n targets n tranches per layer.",
        ),
        fig("fig-greeks"),
    )
    monthly_parts: list[str] = []
    for r in runs:
        opened = " open" if r is primary else ""
        monthly_parts.append(
            f"<details{opened}><summary>{_esc(r.label)}</summary>{_monthly_table(r)}</details>"
        )
    monthly_sec = _section(
        "monthly",
        "Monthly returns",
        _how(
            "Each cell is the month's return in percent, compounded from the daily returns "
            "ending in that month (the first session of a month carries the move from the "
            "previous month's last close); the last column is the calendar year. Green is a "
            "gain, red a loss, deeper for larger moves. The first and last year may be "
            "partial. Click a strategy to open its table.",
        ),
        *monthly_parts,
    )
    bench_sec = ""
    if benchmarks is not None:
        notes = "".join(f"<li>{_esc(n)}</li>" for n in benchmarks.notes)
        bench_sec = _section(
            "benchmarks",
            "Benchmarks: model vs published",
            _how(
                "Each Cboe benchmark index is rebuilt by this backtest from its published "
                "rules (model) and compared month by month with the index's published "
                "levels. Correlation and tracking error (annualised sd of the monthly "
                "differences) measure how closely the model follows; the differences are "
                "model minus published, in pp. The charts compound the monthly returns of "
                "the months where both exist, from 1 USD.",
            ),
            _stats_table(benchmarks.stats),
            *(fig(f"fig-bench-{i}") for i in range(len(bench_names))),
            f'<h3>Notes</h3><ul class="notes">{notes}</ul>' if notes else "",
        )
    files_sec = _section(
        "files",
        "Files",
        _how(
            "Every number on this page is in the files beside it: summary.json (all metrics, "
            "strict JSON: null = undefined), equity.csv (every run's closing equity, USD), "
            "and per run daily_<strategy>_k<k>.csv (daily series; Greeks in USD with the unit "
            "in the column name), ledger_... (one row per leg of every fill and settlement, and "
            "one per interest or dividend entry, with its reason; cash + received / - paid), "
            "trades_... (closed trades: layer, opening credit, realised P&L net of fees), "
            "monthly_returns_... (decimals: 0.0123 = 1.23%) and decisions_....jsonl.gz "
            "(every session's decision with its reasons, one JSON object a line).",
        ),
        '<ul class="files">'
        + "".join(f'<li><a href="{_esc(f)}">{_esc(f)}</a></li>' for f in files)
        + "</ul>",
    )
    body = "".join(
        (
            nav,
            "<main>",
            header,
            runs_sec,
            metrics_sec,
            equity_sec,
            alvh_sec,
            greeks_sec,
            monthly_sec,
            bench_sec,
            files_sec,
            "<footer>VixShield backtest report. All amounts in USD unless stated. "
            "Offline page: nothing is requested from the network.</footer>",
            "</main>",
        )
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>'
        f"</head><body>{body}</body></html>\n"
    )
    return page, tuple(fid for fid, _ in figures)


# --------------------------------------------------------------------------------------------
# JSON


def _json_float(x: float) -> float | str | None:
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return _json_float(float(x))
    if x is None or isinstance(x, str):
        return x
    return str(x)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("vixshield", "numpy", "pandas", "plotly"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _summary(
    runs: Sequence[_Run],
    *,
    title: str,
    config_text: str,
    data_description: str,
    benchmarks: BenchmarkComparison | None,
    descriptions: Mapping[str, str],
    proxies: Sequence[str],
    generated_at: datetime | None,
    settings: Mapping[str, Any],
    files: Mapping[tuple[str, float], Mapping[str, str]],
    all_files: Sequence[str],
) -> str:
    start, end, sessions = _period(runs)
    by_name: dict[str, Any] = {}
    for r in runs:
        res = r.result
        entry = by_name.setdefault(r.name, {"description": descriptions.get(r.name, ""), "k": {}})
        entry["k"][f"{r.k:g}"] = {
            "k": r.k,
            "metrics": json.loads(res.metrics.to_json()),
            **_run_facts(res),
            "files": dict(files[r.name, r.k]),
        }
    bench: Any = None
    if benchmarks is not None:
        bench = _jsonable(benchmarks.to_json())
    doc = {
        "title": title,
        "period": {"start": start, "end": end, "sessions": sessions},
        "generated_at": None if generated_at is None else generated_at.isoformat(),
        "data_description": data_description,
        "config_fingerprint": _fingerprint(_primary(runs).result),
        "config_text": config_text,
        "settlement_proxies": list(proxies),
        "fill_fractions": sorted({r.k for r in runs}),
        "settings": _jsonable(dict(settings)),
        "primary_run": {"strategy": _primary(runs).name, "k": _primary(runs).k},
        "units": {
            "money": "USD",
            "returns": "decimals (0.01 = 1%)",
            "max_drawdown_sessions": "trading sessions",
            "max_drawdown_days": "calendar days",
            "spread_cost": "value at the largest k minus value at the smallest k",
        },
        "runs": by_name,
        "spread_cost": _spread_cost(runs),
        "benchmarks": bench,
        "versions": _versions(),
        "files": list(all_files),
    }
    return json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n"


# --------------------------------------------------------------------------------------------
# Writing


def _decisions(result: BacktestResult) -> bytes:
    """Every session's decision as JSON lines, gzip-compressed without a timestamp."""
    lines = "".join(
        json.dumps(d.to_json(), allow_nan=False, default=str) + "\n" for d in result.decisions
    )
    return gzip.compress(lines.encode("utf-8"), mtime=0)


def _csv(frame: pd.DataFrame | pd.Series, *, index_label: str | None = None) -> bytes:
    text = frame.to_csv(index=True, index_label=index_label, date_format="%Y-%m-%d")
    return text.encode("utf-8")


def _previous_files(summary: Path) -> list[str]:
    try:
        doc = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    names = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(names, list):
        return []
    return [n for n in names if isinstance(n, str) and n == Path(n).name and n.strip(".")]


def _commit(out_dir: Path, files: Mapping[str, bytes]) -> None:
    """Write every file to a temporary file, then move each over its name (in order)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = _previous_files(out_dir / "summary.json")
    staged: list[tuple[Path, Path]] = []
    try:
        for name, data in files.items():
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            staged.append((Path(tmp_name), out_dir / name))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp_name, 0o644)
        for tmp, final in staged:
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    for name in previous:
        if name not in files:
            with contextlib.suppress(OSError):
                (out_dir / name).unlink()


def write_backtest_report(
    out_dir: Path,
    runs: Mapping[str, Mapping[float, BacktestResult]],
    *,
    title: str,
    config_text: str,
    data_description: str,
    benchmarks: BenchmarkComparison | None = None,
    descriptions: Mapping[str, str] | None = None,
    proxies: Sequence[str] = DEFAULT_PROXIES,
    generated_at: datetime | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ReportPaths:
    """Write the report of ``runs`` into ``out_dir``; see the module docstring.

    Parameters
    ----------
    out_dir
        The folder (created if missing). Files of a previous report there are replaced.
    runs
        ``runs[strategy][k]``: each strategy's result at each fill fraction ``k`` in [0, 1].
        ``full_alvh`` (else the first strategy) at its largest ``k`` is the run shown with
        regimes, hedge events and Greeks.
    title
        The page title.
    config_text
        The configuration as the user wrote it (TOML), shown and stored verbatim.
    data_description
        Where the market came from (real or synthetic; model or real chains), in words.
    benchmarks
        The Cboe benchmark comparison (:func:`~vixshield.backtest.cboe.compare_with_published`),
        or None.
    descriptions
        A sentence per strategy (default :data:`DEFAULT_DESCRIPTIONS`).
    proxies
        The settlement proxies in words (default :data:`DEFAULT_PROXIES`).
    generated_at
        Shown as the generation time; None shows none (the output depends only on inputs).
    settings
        Extra facts shown in the header and stored in ``summary.json`` (e.g. the starting
        equity, the window asked for, the worker count).

    Raises
    ------
    InvalidInputError
        No run, a strategy without runs, a ``k`` outside [0, 1], or two strategy names that
        give the same file names.
    """
    out = Path(out_dir)
    collected = _collect(runs)
    desc = {**DEFAULT_DESCRIPTIONS, **(descriptions or {})}
    desc = {r.name: desc.get(r.name, "") for r in collected}
    extra = dict(settings or {})

    payload: dict[str, bytes] = {}
    per_run: dict[tuple[str, float], dict[str, str]] = {}
    equity = pd.concat(
        {r.key: r.result.equity.rename(r.key) for r in collected}, axis=1
    ).sort_index()
    equity.index = pd.DatetimeIndex(equity.index, name="session")
    payload["equity.csv"] = _csv(equity)
    for r in collected:
        names = {
            "daily": f"daily_{r.key}.csv",
            "ledger": f"ledger_{r.key}.csv",
            "trades": f"trades_{r.key}.csv",
            "monthly_returns": f"monthly_returns_{r.key}.csv",
            "decisions": f"decisions_{r.key}.jsonl.gz",
        }
        per_run[r.name, r.k] = names
        payload[names["daily"]] = _csv(r.daily)
        payload[names["ledger"]] = r.ledger.to_csv(index=False).encode("utf-8")
        payload[names["trades"]] = _csv(r.trades)
        payload[names["monthly_returns"]] = _csv(r.monthly)
        payload[names["decisions"]] = _decisions(r.result)
    if benchmarks is not None:
        payload["benchmarks_monthly.csv"] = _csv(benchmarks.monthly)
        payload["benchmarks_stats.csv"] = _csv(benchmarks.stats)

    all_files = [*payload, "summary.json", "report.html"]
    page, figures = _render(
        collected,
        title=title,
        config_text=config_text,
        data_description=data_description,
        benchmarks=benchmarks,
        descriptions=desc,
        proxies=proxies,
        generated_at=generated_at,
        settings=extra,
        files=all_files,
    )
    payload["summary.json"] = _summary(
        collected,
        title=title,
        config_text=config_text,
        data_description=data_description,
        benchmarks=benchmarks,
        descriptions=desc,
        proxies=proxies,
        generated_at=generated_at,
        settings=extra,
        files=per_run,
        all_files=all_files,
    ).encode("utf-8")
    payload["report.html"] = page.encode("utf-8")
    _commit(out, payload)

    def paths(kind: str) -> dict[tuple[str, float], Path]:
        return {key: out / names[kind] for key, names in per_run.items()}

    return ReportPaths(
        out_dir=out,
        html=out / "report.html",
        summary=out / "summary.json",
        equity=out / "equity.csv",
        daily=paths("daily"),
        ledger=paths("ledger"),
        trades=paths("trades"),
        monthly_returns=paths("monthly_returns"),
        decisions=paths("decisions"),
        benchmarks_monthly=out / "benchmarks_monthly.csv" if benchmarks is not None else None,
        benchmarks_stats=out / "benchmarks_stats.csv" if benchmarks is not None else None,
        figures=figures,
    )
