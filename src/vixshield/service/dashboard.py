r"""The service dashboard: one server-rendered HTML page of the journal, offline, no CDN.

:func:`render_dashboard` turns a :class:`DashboardView` (built by the API from the journal)
into one HTML page rendered with Jinja2 (``templates/dashboard.html``, autoescape on). The page
loads plotly.js from the same server at ``view.plotly_src`` (the API serves
:func:`plotly_js` there) and draws each figure with ``Plotly.newPlot`` from JSON embedded in
the page (``<script type="application/json">`` blocks). A Content-Security-Policy meta tag
allows nothing but the page's own origin (:data:`CSP`): the page requests nothing from any
other host.

Sections, in page order:

1. **Header**: session, as-of, run id and revision, code version, configuration fingerprint,
   the time the page was generated (with its zone) and banners: the service's notes, and a
   warning when the latest decision's session is older than the last session whose data is
   out at ``generated_at`` (the daily job did not run, or failed).
2. **Today's signal**: regime and its drivers, the orders (legs, quantity, limit, reasons),
   the ALVH hedge (score, triggers, layer plan), refusals with their reasons.
3. **Book Greeks and break-evens**: Greeks with their units, the delta band, every structure
   with DTE, premium, max loss and break-evens.
4. **Payoff of the book** (``book["payoff"]``): P&L today and at the first SPX expiry against
   the SPX level, spot and break-evens marked.
5. **Positions and marks** (``book["marks"]``): each leg with its fill, mark, vol and value.
6. **Scenarios**: the decision's stress table (total, and per structure).
7. **Regime history and hedge layers**: regime, hedge score and ALVH tranches held per layer
   over the journaled sessions, with the hedge activations.
8. **Equity curves**: the journaled book equity, and the runs of a ``vixshield backtest
   --out`` folder (:func:`load_backtest`) when one is configured.

Decisions journaled before ``book["marks"]`` and ``book["payoff"]`` existed render with a
note in place of those sections. An empty journal renders a page saying how to make the first
signal. Money is USD with thousands separators (P&L signed), index levels and prices are
points with two decimals. Nothing here reads the clock: "now" is ``view.generated_at``.
"""

from __future__ import annotations

import csv
import functools
import html
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import jinja2
import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.offline  # type: ignore[import-untyped]
from markupsafe import Markup
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from vixshield import calendar
from vixshield.data.market import stamp
from vixshield.errors import CalendarError, DataError, InvalidInputError
from vixshield.report.backtest_report import (
    BASE_CSS,
    PALETTE,
    fmt_money,
    fmt_pct,
    fmt_ratio,
    k_label,
)
from vixshield.signals.regime import LABELS as REGIME_LABELS
from vixshield.units import NEW_YORK

__all__ = [
    "CSP",
    "DEFAULT_PLOTLY_SRC",
    "LAYERS",
    "DashboardView",
    "history_item",
    "load_backtest",
    "plotly_js",
    "render_dashboard",
]

DEFAULT_PLOTLY_SRC: Final = "/static/plotly.min.js"
CSP: Final = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'"
)
"""The page's Content-Security-Policy: its own origin only (plotly.js is served there)."""

LAYERS: Final[tuple[str, ...]] = ("short", "medium", "long")
"""The ALVH layers, in the order shown."""

# The backtest report's colours, so both pages read alike.
_PALETTE: Final = PALETTE
_REGIME_COLOUR: Final[Mapping[str, str]] = {
    "calm": "rgba(44, 160, 44, 0.55)",
    "normal": "rgba(31, 119, 180, 0.45)",
    "elevated": "rgba(255, 191, 0, 0.65)",
    "stressed": "rgba(255, 127, 14, 0.7)",
    "crisis": "rgba(214, 39, 40, 0.75)",
    "unknown": "rgba(127, 127, 127, 0.35)",
}
_LAYER_COLOUR: Final[Mapping[str, str]] = {
    "short": "#1f77b4",
    "medium": "#9467bd",
    "long": "#8c564b",
    "other": "#444444",
}
_ACTION_SYMBOL: Final[Mapping[str, str]] = {
    "open": "triangle-up",
    "close": "triangle-down",
    "settle": "x",
    "roll": "diamond",
    "resize": "square",
}
_PLOT_CONFIG: Final[Mapping[str, Any]] = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
}
_FONT: Final = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}
_MULTIPLIER: Final = 100.0  # SPX, SPXW and VIX options: USD per point per contract
_LAYER_IN_NAME: Final = re.compile(r"\b(short|medium|long)\b")
_RUN_LABEL: Final = re.compile(r"^(?P<name>.+)_k(?P<k>[0-9.eE+-]+)$")
_GREEK_COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("options_value_usd", "Options value", "USD"),
    ("delta_usd_per_pct", "Delta", "$ per 1% SPX"),
    ("gamma_usd_per_pct_sq", "Gamma", "$ per (1% SPX)²"),
    ("vega_usd_per_volpt", "Vega", "$ per SPX vol point"),
    ("theta_usd_per_day", "Theta", "$ per day"),
    ("vix_delta_usd_per_vixpt", "VIX delta", "$ per VX point"),
    ("vix_vega_usd_per_volpt", "VIX vega", "$ per VIX vol point"),
)
_METRIC_COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("cagr", "CAGR", "pct"),
    ("vol_annual", "Volatility (ann.)", "pct"),
    ("sharpe", "Sharpe", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("hedge_spend_usd", "Hedge spend (USD)", "money"),
    ("hedge_payoff_usd", "Hedge payoff (USD)", "money"),
)


@dataclass(frozen=True, slots=True)
class DashboardView:
    """Everything the page shows, as plain JSON-like values (built by the API from the journal).

    Attributes
    ----------
    generated_at
        When the page is generated (timezone-aware): shown, and "now" for the staleness check.
    decision
        ``DayDecision.to_json()`` of the latest succeeded signal run, or None (empty journal).
    run
        That run: ``id``, ``trading_day``, ``revision``, ``status``, ``started_at``,
        ``finished_at``, ``code_version``, ``config_fingerprint`` (ISO strings), or None.
    history
        One :func:`history_item` per journaled session, oldest first.
    hedge_activations
        Hedge orders journaled: ``session``, ``trading_day``, ``structure``, ``action``,
        ``limit_price``, ``contracts``, ``reasons``.
    book_equity
        The book's closing equity by session, oldest first: ``session``, ``equity_usd``,
        ``options_value_usd``, ``cash_usd``.
    backtest
        :func:`load_backtest` of the configured backtest folder, or None.
    notes
        Service messages shown in a banner at the top.
    plotly_src
        Where the page loads plotly.js from (same origin).
    """

    generated_at: datetime
    decision: Mapping[str, Any] | None
    run: Mapping[str, Any] | None
    history: Sequence[Mapping[str, Any]]
    hedge_activations: Sequence[Mapping[str, Any]]
    book_equity: Sequence[Mapping[str, Any]]
    backtest: Mapping[str, Any] | None
    notes: Sequence[str] = ()
    plotly_src: str = DEFAULT_PLOTLY_SRC

    def __post_init__(self) -> None:
        if not isinstance(self.generated_at, datetime) or self.generated_at.tzinfo is None:
            raise InvalidInputError(
                f"DashboardView.generated_at must be a timezone-aware datetime, "
                f"got {self.generated_at!r}"
            )


# --------------------------------------------------------------------------------------------
# Safe access to JSON-like values


def _map(x: object) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _list(x: object) -> list[Any]:
    if isinstance(x, Sequence) and not isinstance(x, str | bytes):
        return list(x)
    return []


def _number(x: object) -> float | None:
    """A finite number as float; anything else (None, NaN, text, bool) None."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def _int(x: object) -> int | None:
    f = _number(x)
    return int(f) if f is not None and f == int(f) else None


def _text(x: object) -> str | None:
    return x if isinstance(x, str) and x else None


def _day_text(x: object) -> str | None:
    """A session as ISO text: a non-empty string as given, a date (the journal's) formatted."""
    if isinstance(x, date):
        return x.isoformat()
    return _text(x)


# --------------------------------------------------------------------------------------------
# Public helpers for the API


def history_item(decision: Mapping[str, Any]) -> dict[str, Any]:
    """One session of the regime/hedge history, from a ``DayDecision.to_json()``.

    ``{"session", "regime", "hedge_score", "layers": {"short", "medium", "long"}, "orders",
    "delta_usd_per_pct", "vega_usd_per_volpt"}``: ``layers`` holds the ALVH tranches held per
    layer (``book.stages.hedge.plan[*].held``), ``orders`` the number of orders. A piece the
    decision lacks is None; this never raises on a partial decision.
    """
    d = _map(decision)
    book = _map(d.get("book"))
    hedge = _map(_map(book.get("stages")).get("hedge"))
    layers: dict[str, int | None] = dict.fromkeys(LAYERS)
    for plan in _list(hedge.get("plan")):
        layer = _map(plan).get("layer")
        if layer in layers:
            layers[layer] = _int(_map(plan).get("held"))
    greeks = _map(book.get("greeks"))
    orders = d.get("orders")
    score = _int(hedge.get("score"))  # a count; a fractional score is kept as given
    return {
        "session": _text(d.get("session")),
        "regime": _text(d.get("regime")),
        "hedge_score": score if score is not None else _number(hedge.get("score")),
        "layers": layers,
        "orders": len(orders) if isinstance(orders, list | tuple) else None,
        "delta_usd_per_pct": _number(greeks.get("delta_usd_per_pct")),
        "vega_usd_per_volpt": _number(greeks.get("vega_usd_per_volpt")),
    }


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read it: {exc}") from exc


def _read_equity(path: Path) -> tuple[list[str], dict[str, list[float | None]]]:
    rows = list(csv.reader(_read_text(path).splitlines()))
    if not rows or not rows[0]:
        raise DataError(f"{path}: empty file; expected a header 'session,<run>,...'")
    header = [h.strip() for h in rows[0]]
    if header[0] not in {"session", "date"}:
        raise DataError(
            f"{path}, line 1, field 1: {header[0]!r}: the first column must be the session "
            "date ('session' or 'date')"
        )
    labels = header[1:]
    if not labels or any(not label for label in labels):
        raise DataError(f"{path}, line 1: expected one named column per run after the date")
    if len(set(labels)) != len(labels):
        raise DataError(f"{path}, line 1: run columns repeat: {labels}")
    dates: list[str] = []
    values: dict[str, list[float | None]] = {label: [] for label in labels}
    previous: date | None = None
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise DataError(
                f"{path}, line {line}, field '{header[0]}': {row[0]!r} is not a date YYYY-MM-DD"
            ) from None
        if previous is not None and day <= previous:
            raise DataError(
                f"{path}, line {line}, field '{header[0]}': {day} is not after {previous}; "
                "sessions must increase"
            )
        previous = day
        dates.append(day.isoformat())
        for label, cell in zip(labels, row[1:], strict=True):
            text = cell.strip()
            if not text:
                values[label].append(None)  # the run has no close that session
                continue
            try:
                v = float(text)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                raise DataError(
                    f"{path}, line {line}, field '{label}': {cell!r} is not a finite number "
                    "(equity in USD)"
                )
            values[label].append(v)
    return dates, values


def load_backtest(out_dir: Path) -> dict[str, Any] | None:
    """The equity curves and summary of a ``vixshield backtest --out DIR`` folder.

    Returns ``{"source": str(out_dir), "dates": [ISO dates], "equity_usd": {run: [USD or
    None]}, "summary": summary.json}``; ``run`` is an ``equity.csv`` column
    (``<strategy>_k<k>``), None where a run has no close that session. None when the folder,
    ``equity.csv`` or ``summary.json`` is absent.

    Raises
    ------
    DataError
        A malformed ``equity.csv`` (the message names the file, line and field) or
        ``summary.json`` (not a JSON object; the message names the file and position).
    """
    out = Path(out_dir)
    equity, summary = out / "equity.csv", out / "summary.json"
    if not (out.is_dir() and equity.is_file() and summary.is_file()):
        return None
    dates, values = _read_equity(equity)
    try:
        doc = json.loads(_read_text(summary), parse_constant=_reject_constant)
    except ValueError as exc:
        raise DataError(f"{summary}: not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise DataError(f"{summary}: expected a JSON object, got {type(doc).__name__}")
    if "runs" in doc and not isinstance(doc["runs"], dict):
        raise DataError(f"{summary}, field 'runs': expected an object of strategies")
    return {"source": str(out_dir), "dates": dates, "equity_usd": values, "summary": doc}


@functools.cache
def plotly_js() -> str:
    """The plotly.js bundle of the installed plotly (served at ``/static/plotly.min.js``)."""
    return str(plotly.offline.get_plotlyjs())


# --------------------------------------------------------------------------------------------
# Formatting: text for the page (escaped by the template)


def _usd(x: object) -> str:
    return fmt_money(_number(x))


def _pnl(x: object) -> str:
    return fmt_money(_number(x), signed=True)


def _pts(x: object) -> str:
    return fmt_ratio(_number(x), decimals=2)


def _price(x: object) -> str:
    """An option price in points: two decimals, more only when the price has them
    (``1.225`` stays ``1.225``: a limit is never rounded to a different tick)."""
    v = _number(x)
    if v is None:
        return "n/a"
    text = f"{round(v, 4) + 0.0:,.4f}"
    while text.endswith("0") and len(text.split(".")[1]) > 2:
        text = text[:-1]
    return text


def _signed(x: object, decimals: int = 2) -> str:
    return fmt_ratio(_number(x), signed=True, decimals=decimals)


def _pct4(x: object, *, signed: bool = False) -> str:
    """A small decimal as a percentage with four decimals (the delta band: ``+0.0030%``)."""
    v = _number(x)
    if v is None:
        return "n/a"
    return f"{round(100.0 * v, 4) + 0.0:{'+' if signed else ''}.4f}%"


def _count(x: object) -> str:
    n = _int(x)
    return f"{n:,}" if n is not None else "n/a"


def _sign_class(x: object) -> str:
    v = _number(x)
    if v is None or round(v, 2) == 0:
        return ""
    return "pos" if v > 0 else "neg"


def _esc(text: object) -> str:
    """Escaped for plotly's text (trace names, hover text, titles: plotly reads HTML tags)."""
    return html.escape(str(text), quote=True)


def _when(text: object) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM:SS ±HH:MM``; other text as given."""
    if not isinstance(text, str) or not text:
        return "n/a"
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return text
    return _stamp(t) if t.tzinfo is not None else t.isoformat(sep=" ", timespec="seconds")


def _stamp(t: datetime) -> str:
    """``2026-11-20 16:45:00 EST (UTC-05:00)``: the time in its own zone, offset spelled out."""
    offset = t.isoformat(timespec="seconds")[19:] or "+00:00"
    offset = "+00:00" if offset == "Z" else offset
    name = t.tzname() or ""
    zone = f"{name} (UTC{offset})" if name and not name.startswith(("UTC", "+", "-")) else ""
    return f"{t:%Y-%m-%d %H:%M:%S} {zone or 'UTC' + offset}"


# --------------------------------------------------------------------------------------------
# Figures


@dataclass(frozen=True, slots=True)
class _Figure:
    id: str
    spec: Markup  # the JSON, safe inside <script type="application/json">
    height: int  # pixels: the div is given it (a responsive plot fills its div)


def _figure(fid: str, fig: Any) -> _Figure:
    spec = json.loads(fig.to_json())
    text = json.dumps(
        {"data": spec["data"], "layout": spec["layout"], "config": dict(_PLOT_CONFIG)},
        separators=(",", ":"),
        allow_nan=False,
    )
    # No "<", ">" or "&" in the script element: nothing can close it or start a comment.
    safe = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _Figure(fid, Markup(safe), int(spec["layout"]["height"]))


def _layout(fig: Any, *, title: str, height: int) -> None:
    fig.update_layout(
        title={"text": _esc(title), "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        template="plotly_white",
        height=height,
        margin={"l": 80, "r": 30, "t": 56, "b": 50},
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "top", "y": -0.14, "x": 0.0},
        font=_FONT,
    )


def _crossings(x: Sequence[float], y: Sequence[float | None]) -> list[float]:
    """Where the piecewise-linear curve (x, y) crosses zero (linear interpolation)."""
    out: list[float] = []
    pts = [(a, b) for a, b in zip(x, y, strict=False) if b is not None]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if y0 == 0.0:
            if not out or out[-1] != x0:
                out.append(x0)
        elif y0 * y1 < 0.0:
            out.append(x0 + (x1 - x0) * (-y0) / (y1 - y0))
    if pts and pts[-1][1] == 0.0 and (not out or out[-1] != pts[-1][0]):
        out.append(pts[-1][0])
    return out


def _floats(xs: object) -> list[float | None]:
    return [_number(v) for v in _list(xs)]


def _payoff(book: Mapping[str, Any]) -> dict[str, Any]:
    """The payoff section: its figure (or a message), break-evens, basis."""
    structures = _list(book.get("structures"))
    raw = book.get("payoff")
    if not structures:
        return {"figure": None, "message": "No open positions: there is no payoff to draw."}
    if not isinstance(raw, Mapping):
        return {
            "figure": None,
            "message": "This decision carries no payoff curve (it was journaled before "
            "payoffs were recorded); the next signal will.",
        }
    spx = _floats(raw.get("spx"))
    now = _floats(raw.get("now_usd"))
    at_expiry = _floats(raw.get("expiry_usd"))
    xs = [v for v in spx if v is not None]
    if len(xs) < 2 or len(xs) != len(spx):
        return {"figure": None, "message": "The payoff curve of this decision is empty."}
    expiry = _text(raw.get("expiry"))
    spot = _number(raw.get("spot"))
    if spot is None:
        spot = _number(book.get("spx_spot"))
    expiry_label = f"at expiry {expiry}" if expiry else "at expiry"
    fig = go.Figure()
    fig.add_hline(y=0.0, line={"color": "#888888", "width": 1})
    if len(now) == len(xs):
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=now,
                name="today (T+0)",
                mode="lines",
                line={"color": "#1f77b4", "width": 2.2},
                hovertemplate="%{y:+,.2f} USD<extra>today</extra>",
            )
        )
    breakevens: list[float] = []
    if len(at_expiry) == len(xs):
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=at_expiry,
                name=_esc(expiry_label),
                mode="lines",
                line={"color": "#d62728", "width": 2.0, "dash": "dash"},
                hovertemplate="%{y:+,.2f} USD<extra>" + _esc(expiry_label) + "</extra>",
            )
        )
        breakevens = _crossings(xs, at_expiry)
        if breakevens:
            fig.add_trace(
                go.Scatter(
                    x=breakevens,
                    y=[0.0] * len(breakevens),
                    name="break-even at expiry",
                    mode="markers+text",
                    marker={"symbol": "diamond", "size": 10, "color": "#d62728"},
                    text=[f"{b:,.2f}" for b in breakevens],
                    textposition="top center",
                    hovertemplate="break-even %{x:,.2f}<extra></extra>",
                )
            )
    if spot is not None:
        fig.add_vline(x=spot, line={"color": "#2ca02c", "width": 1.5, "dash": "dot"})
        fig.add_annotation(
            x=spot,
            y=1.0,
            yref="paper",
            text=_esc(f"spot {spot:,.2f}"),
            showarrow=False,
            yanchor="bottom",
            font={"color": "#2ca02c", "size": 12},
        )
    _layout(
        fig, title=f"Book P&L (USD) against the SPX level: today and {expiry_label}", height=440
    )
    fig.update_layout(margin={"t": 70})
    fig.update_xaxes(title_text="SPX level (points)", tickformat=",.0f")
    fig.update_yaxes(title_text="P&L (USD)", tickformat=",.0f", zeroline=False)
    return {
        "figure": _figure("fig-payoff", fig),
        "message": None,
        "breakevens": [_pts(b) for b in breakevens],
        "basis": _text(raw.get("basis")),
        "expiry": expiry,
        "spot": _pts(spot),
    }


def _regime_name(x: object) -> str:
    return x if isinstance(x, str) and x in _REGIME_COLOUR else "unknown"


def _activation_layer(a: Mapping[str, Any]) -> str:
    m = _LAYER_IN_NAME.search(str(a.get("structure") or ""))
    return m.group(1) if m else "other"


def _history_figure(
    history: Sequence[Mapping[str, Any]], activations: Sequence[Mapping[str, Any]]
) -> _Figure | None:
    items = [h for h in history if _day_text(_map(h).get("session"))]
    if not items:
        return None
    x = [str(h["session"]) for h in items]
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        row_heights=[0.16, 0.3, 0.54],
        subplot_titles=(
            "Regime",
            "Hedge score: live ALVH triggers",
            "ALVH tranches held per layer (stacked), with hedge orders",
        ),
    )
    regimes = [_regime_name(h.get("regime")) for h in items]
    for label in [*REGIME_LABELS, "unknown"]:
        if label not in regimes:
            continue
        fig.add_trace(
            go.Bar(
                x=x,
                y=[1.0 if r == label else 0.0 for r in regimes],
                name=f"regime: {label}",
                marker={"color": _REGIME_COLOUR[label], "line": {"width": 0}},
                hovertemplate=f"regime {label}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[_number(h.get("hedge_score")) for h in items],
            name="hedge score",
            mode="lines+markers",
            line={"color": "#d62728", "width": 1.8, "shape": "hv"},
            marker={"size": 4},
            hovertemplate="score %{y:.0f}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    totals = [0] * len(items)
    for layer in LAYERS:
        held = [_int(_map(h.get("layers")).get(layer)) for h in items]
        totals = [t + (v or 0) for t, v in zip(totals, held, strict=True)]
        fig.add_trace(
            go.Bar(
                x=x,
                y=held,
                name=f"{layer} layer tranches",
                marker={"color": _LAYER_COLOUR[layer], "line": {"width": 0}},
                hovertemplate=f"{layer}: %{{y}} tranche(s)<extra></extra>",
            ),
            row=3,
            col=1,
        )
    where = {s: i for i, s in enumerate(x)}
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for raw in activations:
        a = _map(raw)
        if _day_text(a.get("session")) in where:
            groups.setdefault((_activation_layer(a), str(a.get("action") or "")), []).append(a)
    for (layer, action), acts in sorted(groups.items()):
        fig.add_trace(
            go.Scatter(
                x=[str(a["session"]) for a in acts],
                y=[totals[where[str(a["session"])]] + 0.45 for a in acts],
                name=_esc(f"{layer} hedge {action}"),
                mode="markers",
                marker={
                    "symbol": _ACTION_SYMBOL.get(action, "circle"),
                    "size": 11,
                    "color": _LAYER_COLOUR.get(layer, "#444444"),
                    "line": {"width": 1, "color": "#ffffff"},
                },
                hovertext=[
                    _esc(f"{action} {_count(a.get('contracts'))} x {a.get('structure')}")
                    for a in acts
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            ),
            row=3,
            col=1,
        )
    _layout(fig, title="Regime, hedge score and ALVH layers by session", height=620)
    fig.update_layout(
        barmode="stack",
        bargap=0.0,
        hovermode="x unified",
        legend={"y": -0.1},
        margin={"t": 80},
    )
    fig.update_xaxes(
        type="category",
        categoryorder="array",
        categoryarray=x,
        range=[-0.5, len(x) - 0.5],  # no padding for the markers: bands reach both edges
        nticks=12,
    )
    fig.update_yaxes(visible=False, fixedrange=True, range=[0, 1], row=1, col=1)
    top = max([5.0, *[float(v) + 1.0 for v in totals]])
    score_max = max([0.0, *[s for h in items if (s := _number(h.get("hedge_score"))) is not None]])
    fig.update_yaxes(
        title_text="triggers", dtick=1, range=[-0.3, max(3.0, score_max) + 0.5], row=2, col=1
    )
    fig.update_yaxes(title_text="tranches", dtick=1, range=[0, top], row=3, col=1)
    fig.update_annotations(font={"size": 12}, x=0.0, xanchor="left")
    return _figure("fig-history", fig)


def _book_equity_figure(rows: Sequence[Mapping[str, Any]]) -> _Figure | None:
    items = [_map(r) for r in rows if _day_text(_map(r).get("session"))]
    if not items:
        return None
    fig = go.Figure(
        go.Scatter(
            x=[str(r["session"]) for r in items],
            y=[_number(r.get("equity_usd")) for r in items],
            name="book equity",
            mode="lines+markers" if len(items) < 40 else "lines",
            line={"color": "#222222", "width": 1.8},
            customdata=[[_usd(r.get("options_value_usd")), _usd(r.get("cash_usd"))] for r in items],
            hovertemplate="equity %{y:,.2f} USD<br>options %{customdata[0]} USD<br>"
            "cash %{customdata[1]} USD<extra></extra>",
        )
    )
    _layout(fig, title="Book equity (USD), journaled closes", height=380)
    fig.update_yaxes(title_text="Equity (USD)", tickformat=",.0f")
    fig.update_layout(showlegend=False)
    return _figure("fig-book-equity", fig)


def _split_label(label: str) -> tuple[str, float | None]:
    m = _RUN_LABEL.match(label)
    if m is None:
        return label, None
    try:
        return m["name"], float(m["k"])
    except ValueError:
        return label, None


def _backtest_figure(bt: Mapping[str, Any]) -> _Figure | None:
    dates = [str(d) for d in _list(bt.get("dates"))]
    curves = _map(bt.get("equity_usd"))
    if not dates or not curves:
        return None
    names = list(dict.fromkeys(_split_label(str(label))[0] for label in curves))
    colours = {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(names)}
    ks = sorted({k for label in curves if (k := _split_label(str(label))[1]) is not None})
    fig = go.Figure()
    for label, ys in curves.items():
        name, k = _split_label(str(label))
        dash = "solid" if k is None or not ks or k == ks[0] else "dash"
        shown = f"{name} {k_label(k)}" if k is not None else name
        fig.add_trace(
            go.Scatter(
                x=dates,
                y=_floats(ys),
                name=_esc(shown),
                mode="lines",
                line={"color": colours[name], "dash": dash, "width": 1.6},
                hovertemplate="%{y:,.2f} USD<extra>" + _esc(shown) + "</extra>",
            )
        )
    _layout(fig, title="Backtest: equity of every run (USD, closing marks)", height=420)
    fig.update_yaxes(title_text="Equity (USD)", tickformat=",.0f")
    return _figure("fig-backtest", fig)


# --------------------------------------------------------------------------------------------
# Sections


def _limit(x: object, units: int | None) -> tuple[str, str]:
    """(limit per unit in points, credit or debit; the ticket in USD, + received)."""
    v = _number(x)
    if v is None:
        return "n/a", "n/a"
    side = "credit" if v > 0 else "debit" if v < 0 else "even"
    ticket = _pnl(v * (units or 1) * _MULTIPLIER)
    return f"{_price(abs(v))} {side}", ticket


def _units(legs: Sequence[Mapping[str, Any]]) -> int | None:
    qty = [abs(q) for g in legs if (q := _int(g.get("quantity"))) is not None and q != 0]
    return functools.reduce(math.gcd, qty) if qty else None


def _orders(decision: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for raw in _list(decision.get("orders")):
        o = _map(raw)
        legs = [_map(g) for g in _list(o.get("legs"))]
        units = _units(legs)
        change = _int(o.get("quantity_change"))
        action = str(o.get("action") or "n/a")
        hold = action == "hold"
        limit, ticket = ("", "") if hold else _limit(o.get("limit_price"), units)
        out.append(
            {
                "action": action,
                "acts_on": "holds" if hold else "closes",
                "layer": str(o.get("layer") or "n/a"),
                "structure": str(o.get("structure") or ""),
                "closes": [str(c) for c in _list(o.get("closes")) if str(c) != o.get("structure")],
                "legs": [
                    {
                        "qty": _signed(g.get("quantity"), 0),
                        "contract": str(g.get("contract") or ""),
                        "price": _price(g.get("price")),
                    }
                    for g in legs
                ],
                "qty": f"{change:+,}" if change is not None else "" if hold else _count(units),
                "limit": limit,
                "ticket": ticket,
                "ticket_class": _sign_class(o.get("limit_price")),
                "reasons": _since(o) + [str(r) for r in _list(o.get("reasons"))],
            }
        )
    return out


def _since(order: Mapping[str, Any]) -> list[str]:
    """The "waiting" line of an order proposed on the previous sessions too (the service adds
    ``proposed_since``; see :func:`vixshield.service.daily.with_repeats`)."""
    since = _text(order.get("proposed_since"))
    if since is None:
        return []
    return [f"proposed every session since {since}: no fill recorded in the journal yet"]


def _hedge(book: Mapping[str, Any]) -> dict[str, Any] | None:
    h = _map(_map(book.get("stages")).get("hedge"))
    if not h:
        return None
    facts = [
        (label, _usd(h[key]))
        for key, label in (
            ("condor_max_loss_usd", "Condor book max loss (USD)"),
            ("credit_window_usd", "Income credit in the window (USD)"),
            ("spend_window_usd", "Hedge spend in the window (USD)"),
        )
        if key in h
    ]
    return {
        "score": _count(h.get("score")),
        "facts": facts,
        "triggers": [
            {
                "name": str(_map(t).get("name") or ""),
                "live": _map(t).get("live") is True,
                "reason": str(_map(t).get("reason") or ""),
            }
            for t in _list(h.get("triggers"))
        ],
        "plan": [
            {
                "layer": str(_map(p).get("layer") or ""),
                "budget": _usd(_map(p).get("budget_usd")),
                "tranche_budget": _usd(_map(p).get("tranche_budget_usd")),
                "held": _count(_map(p).get("held")),
                "target": _count(_map(p).get("target")),
                "bought": _count(_map(p).get("bought")),
                "rolled_in": _count(_map(p).get("rolled_in")),
            }
            for p in _list(h.get("plan"))
        ],
    }


def _signal(decision: Mapping[str, Any]) -> dict[str, Any]:
    book = _map(decision.get("book"))
    return {
        "regime": _text(decision.get("regime")) or "unknown",
        "regime_class": _regime_name(decision.get("regime")),
        "drivers": [str(d) for d in _list(decision.get("regime_drivers"))],
        "orders": _orders(decision),
        "hedge": _hedge(book),
        "refusals": [
            {
                "layer": str(_map(r).get("layer") or ""),
                "what": str(_map(r).get("what") or ""),
                "reasons": [str(x) for x in _list(_map(r).get("reasons"))],
            }
            for r in _list(decision.get("refusals"))
        ],
        "notes": [str(n) for n in _list(decision.get("notes"))],
    }


def _book(book: Mapping[str, Any]) -> dict[str, Any]:
    greeks = _map(book.get("greeks"))
    band = _map(book.get("delta_band"))
    breached = band.get("breached")
    structures = []
    for raw in _list(book.get("structures")):
        s = _map(raw)
        max_loss = s.get("max_loss_usd")
        structures.append(
            {
                "name": str(s.get("name") or ""),
                "expiries": ", ".join(str(e) for e in _list(s.get("expiries"))) or "n/a",
                "dte": _count(s.get("dte")),
                "legs": _count(s.get("legs")),
                "premium": _pnl(s.get("net_premium_usd")),
                "premium_class": _sign_class(s.get("net_premium_usd")),
                "max_loss": _usd(max_loss) if _number(max_loss) is not None else "unbounded",
                "breakevens": ", ".join(_pts(b) for b in _list(s.get("breakevens_points")))
                or "n/a",
            }
        )
    return {
        "facts": [
            ("Equity (USD)", _usd(book.get("equity_usd"))),
            ("SPX spot (points)", _pts(book.get("spx_spot"))),
            ("Delta (SPX points)", _signed(greeks.get("delta_spx_points"))),
        ],
        "greeks": [
            (label, unit, _pnl(greeks.get(key)))  # a sign, not a colour: short vega is no loss
            for key, label, unit in _GREEK_COLUMNS
        ]
        if greeks
        else [],
        "band": {
            "reason": _text(band.get("reason")),
            "state": "breached" if breached is True else "inside" if breached is False else None,
            "fraction": _pct4(band.get("fraction"), signed=True),
            "band": _pct4(band.get("band_frac")),
        }
        if band
        else None,
        "structures": structures,
    }


def _marks(book: Mapping[str, Any]) -> dict[str, Any]:
    if not _list(book.get("structures")) and not _list(book.get("marks")):
        return {"rows": [], "message": "No open positions."}
    if not isinstance(book.get("marks"), list | tuple):
        return {
            "rows": [],
            "message": "This decision carries no marks (it was journaled before marks were "
            "recorded); the next signal will.",
        }
    rows: list[dict[str, Any]] = []
    total_value = 0.0
    total_pnl = 0.0
    previous = None
    for raw in _list(book.get("marks")):
        m = _map(raw)
        qty = _int(m.get("quantity"))
        fill, mark = _number(m.get("fill_price")), _number(m.get("mark"))
        pnl = None if None in (qty, fill, mark) else (mark - fill) * qty * _MULTIPLIER  # type: ignore[operator]
        value = _number(m.get("value_usd"))
        total_value += value or 0.0
        total_pnl += pnl or 0.0
        structure = str(m.get("structure") or "")
        vol = _number(m.get("vol"))
        rows.append(
            {
                "structure": structure if structure != previous else "",
                "contract": str(m.get("contract") or ""),
                "qty": _signed(qty, 0),
                "fill": _pts(fill),
                "mark": _pts(mark),
                "vol": fmt_pct(vol) if vol is not None else "n/a",
                "value": _pnl(value),
                "value_class": _sign_class(value),
                "pnl": _pnl(pnl),
                "pnl_class": _sign_class(pnl),
                "first": structure != previous,
            }
        )
        previous = structure
    return {
        "rows": rows,
        "message": None if rows else "No open positions.",
        "total_value": _pnl(total_value),
        "total_pnl": _pnl(total_pnl),
        "total_pnl_class": _sign_class(total_pnl),
    }


def _scenarios(decision: Mapping[str, Any]) -> dict[str, Any]:
    rows = [_map(s) for s in _list(decision.get("scenarios"))]
    structures = list(dict.fromkeys(k for s in rows for k in _map(s.get("pnl_usd"))))
    return {
        "rows": [
            {
                "name": str(s.get("scenario") or ""),
                "spx_move": _signed(s.get("spx_move_pct")),
                "vix_move": _signed(s.get("vix_move_pts")),
                "days": fmt_ratio(_number(s.get("days")), decimals=0),
                "spx": _pts(s.get("spx")),
                "vix": _pts(s.get("vix")),
                "total": _pnl(s.get("total_pnl_usd")),
                "total_class": _sign_class(s.get("total_pnl_usd")),
            }
            for s in rows
        ],
        "names": [str(s.get("scenario") or "") for s in rows],
        "by_structure": [
            {
                "structure": name,
                "cells": [
                    (_pnl(v), _sign_class(v))
                    for s in rows
                    for v in (_map(s.get("pnl_usd")).get(name),)
                ],
            }
            for name in structures
        ],
    }


def _activations(acts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for raw in reversed(list(acts)):  # newest first in the table
        a = _map(raw)
        limit, _ = _limit(a.get("limit_price"), None)
        out.append(
            {
                "session": str(a.get("session") or a.get("trading_day") or "n/a"),
                "layer": _activation_layer(a),
                "structure": str(a.get("structure") or ""),
                "action": str(a.get("action") or ""),
                "contracts": _count(a.get("contracts")),
                "limit": limit,
                "reasons": [str(r) for r in _list(a.get("reasons"))],
            }
        )
    return out


def _backtest(bt: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if bt is None:
        return None
    summary = _map(bt.get("summary"))
    rows = []
    for name, entry in _map(summary.get("runs")).items():
        for k, run in _map(_map(entry).get("k")).items():
            r = _map(run)
            metrics = _map(r.get("metrics"))
            cells = []
            for key, _label, kind in _METRIC_COLUMNS:
                v = _number(metrics.get(key))
                cells.append(
                    fmt_pct(v) if kind == "pct" else _usd(v) if kind == "money" else _pts(v)
                )
            kv = _number(r.get("k"))
            rows.append(
                {
                    "strategy": str(name),
                    "fills": k_label(kv) if kv is not None else f"k={k}",
                    "final": _usd(r.get("final_equity_usd")),
                    "total_return": fmt_pct(_number(r.get("total_return")), signed=True),
                    "cells": cells,
                }
            )
    period = _map(summary.get("period"))
    return {
        "source": str(bt.get("source") or ""),
        "title": _text(summary.get("title")),
        "period": f"{period.get('start', 'n/a')} to {period.get('end', 'n/a')}" if period else None,
        "data": _text(summary.get("data_description")),
        "generated": _when(summary.get("generated_at")),
        "columns": [label for _key, label, _kind in _METRIC_COLUMNS],
        "rows": rows,
        "figure": _backtest_figure(bt),
    }


def _last_session(now: datetime) -> date | None:
    """The last session whose data is out at ``now`` (None outside the calendar)."""
    try:
        day = calendar.previous_session(now.astimezone(NEW_YORK).date(), inclusive=True)
        if stamp(day) > now:
            day = calendar.previous_session(day)
    except CalendarError:
        return None
    return day


def _staleness(decision: Mapping[str, Any], now: datetime) -> str | None:
    try:
        session = date.fromisoformat(str(decision.get("session")))
    except ValueError:
        return "The latest decision has no readable session date."
    last = _last_session(now)
    if last is None or session >= last:
        return None
    behind = len(calendar.sessions(calendar.next_session(session), last))
    return (
        f"Stale: the latest signal is for {session.isoformat()}, but the last session whose "
        f"data is out is {last.isoformat()} ({behind} session{'s' if behind != 1 else ''} "
        "behind). The daily job has not journaled a signal since: check `vixshield run-daily` "
        "and the service notes."
    )


def _header(view: DashboardView) -> dict[str, Any]:
    d = _map(view.decision)
    run = _map(view.run)
    fp = _text(run.get("config_fingerprint")) or _text(d.get("config_fingerprint"))
    revision = run.get("revision")
    run_text = (
        f"#{run.get('id')} revision {revision} ({run.get('status') or 'n/a'})" if run else "n/a"
    )
    return {
        "session": _text(d.get("session")),
        "facts": [
            ("Session", _text(d.get("session")) or "n/a"),
            ("As of", _when(d.get("as_of"))),
            ("Run", run_text),
            ("Run finished", _when(run.get("finished_at"))),
            ("Code version", _text(run.get("code_version")) or "n/a"),
            ("Config fingerprint", fp[:16] if fp else "n/a"),
            ("Generated", _stamp(view.generated_at)),
        ],
        "fingerprint": fp or "",
    }


# --------------------------------------------------------------------------------------------
# The page


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("vixshield.service", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_dashboard(view: DashboardView) -> str:
    """The dashboard page of ``view`` (see the module docstring)."""
    decision = view.decision
    banners = [{"kind": "note", "text": str(n)} for n in view.notes]
    book = _map(_map(decision).get("book"))
    if decision is not None:
        stale = _staleness(decision, view.generated_at)
        if stale:
            banners.insert(0, {"kind": "warn", "text": stale})
    payoff = _payoff(book) if decision is not None else None
    history = _history_figure(view.history, view.hedge_activations)
    book_equity = _book_equity_figure(view.book_equity)
    backtest = _backtest(view.backtest)
    figures = [
        f
        for f in (
            payoff["figure"] if payoff else None,
            history,
            book_equity,
            backtest["figure"] if backtest else None,
        )
        if f is not None
    ]
    context = {
        "csp": CSP,
        "plotly_src": view.plotly_src,
        "header": _header(view),
        "banners": banners,
        "decision": decision is not None,
        "signal": _signal(decision) if decision is not None else None,
        "book": _book(book) if decision is not None else None,
        "payoff": payoff,
        "marks": _marks(book) if decision is not None else None,
        "scenarios": _scenarios(decision) if decision is not None else None,
        "history": history,
        "history_count": len(view.history),
        "activations": _activations(view.hedge_activations),
        "book_equity": book_equity,
        "backtest": backtest,
        "figure_ids": [f.id for f in figures],
        "base_css": Markup(BASE_CSS),  # the report's shared stylesheet (a constant)
    }
    return _environment().get_template("dashboard.html").render(context)
