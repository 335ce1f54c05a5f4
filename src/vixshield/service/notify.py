"""Notifications carrying the day's signal: webhooks (Slack-compatible JSON) and e-mail.

:func:`format_signal` turns a decision (the JSON of :meth:`DayDecision.to_json
<vixshield.domain.decisions.DayDecision.to_json>`, as printed by ``vixshield signal --json``
and stored by the journal) into one :class:`SignalMessage`: a subject, a plain-text body, an
HTML body (inline styles, no external resources) and a Slack incoming-webhook payload.
:func:`send_webhook` and :func:`send_email` deliver it; :func:`notify_signal` does both for every
channel of :class:`~vixshield.service.settings.NotifySettings`.

Delivery never raises: a failure is a :class:`SendResult` with ``ok=False`` and the error.

Retries (:mod:`tenacity`): at most ``notify.retries`` after the first attempt; before retry
``n`` (1, 2, ...) the wait is ``backoff_seconds * 2**(n - 1)`` capped at 60 s. A webhook is
retried on connection errors, timeouts, HTTP 5xx and 429, and a ``Retry-After`` header (seconds
or an HTTP date) on a 429 or 503 replaces the wait (also capped at 60 s); any other answer
(2xx aside) is reported at once. An e-mail is retried on connection errors and transient (4xx)
SMTP replies, not on permanent (5xx) ones, TLS failures or a missing STARTTLS.

Secrets stay out of the logs: a webhook URL is shown as its scheme, host and first path
segment followed by "…" (Slack webhook URLs carry a token in the path), and the SMTP password
is read from the environment (``notify.email.password_env``) at send time only.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
import json
import logging
import math
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from functools import partial
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt

from vixshield import __version__
from vixshield.clock import SystemClock
from vixshield.service.settings import EmailSettings, NotifySettings

__all__ = [
    "MAX_WAIT_SECONDS",
    "SendResult",
    "SignalMessage",
    "format_signal",
    "mask_url",
    "notify_signal",
    "send_email",
    "send_webhook",
]

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60.0
"""The longest wait between two attempts (backoff and ``Retry-After`` alike)."""

# Slack's documented limits for an incoming-webhook message.
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_MAX_FIELDS = 10
SLACK_FALLBACK_MAX = 3000  # the top-level "text": notifications and clients without blocks
_MIN_CUT = 80  # a line cut shorter than this is counted in "… N more lines" instead

_USER_AGENT = f"vixshield/{__version__} (signal notifier; python-httpx/{httpx.__version__})"
_ERROR_BODY_MAX = 200
_HTTP_TOO_MANY = 429
_HTTP_UNAVAILABLE = 503
_SMTP_IMPLICIT_TLS_PORT = 465


# --------------------------------------------------------------------------------------------
# Results and messages


@dataclass(frozen=True, slots=True)
class SignalMessage:
    """One signal, rendered for every channel (the same content in each)."""

    subject: str
    text: str
    html: str
    slack: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one delivery did: ``target`` is safe to log (secrets masked)."""

    channel: Literal["webhook", "email"]
    target: str
    ok: bool
    attempts: int
    error: str | None = None
    status_code: int | None = None


# --------------------------------------------------------------------------------------------
# Number formatting


def _num(x: Any) -> float | None:
    """A finite number, else None (JSON null, strings and booleans are not numbers)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def _usd(x: Any, *, signed: bool = False) -> str:
    """``$1,234.56``; ``-$1,234.56``; with ``signed``, ``+$1,234.56`` (P&L, sensitivities)."""
    v = _num(x)
    if v is None:
        return "n/a"
    if abs(v) < 0.005:
        return "$0.00"  # no "-$0.00" or "+$0.00"
    body = f"${abs(v):,.2f}"
    if v < 0:
        return "-" + body
    return "+" + body if signed else body


def _pts(x: Any) -> str:
    """Index (or option price) points, 2 dp."""
    v = _num(x)
    return "n/a" if v is None else f"{v:.2f}"


def _pct(x: Any, *, dp: int = 2, signed: bool = False) -> str:
    v = _num(x)
    if v is None:
        return "n/a"
    return f"{v:+.{dp}%}" if signed else f"{v:.{dp}%}"


def _limit(x: Any) -> str:
    """The ticket's net limit per unit: positive is a credit received."""
    v = _num(x)
    if v is None:
        return "none (see the reasons)"
    if abs(v) < 0.005:
        return "0.00 (even)"
    return f"{abs(v):.2f} {'credit' if v > 0 else 'debit'} per unit"


def _qty(x: Any) -> str:
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:+d}"
    v = _num(x)
    return "?" if v is None else f"{v:+g}"


def _text(x: Any) -> str:
    """Any value as one line of text."""
    return " ".join(str(x).split()) if x is not None else ""


def _when(value: Any) -> str:
    """``2026-09-01 16:15 UTC-04:00`` from an ISO timestamp (the text as is otherwise)."""
    if not isinstance(value, str):
        return _text(value)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return value
    if at.tzinfo is None:
        return f"{at:%Y-%m-%d %H:%M}"
    offset = at.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{at:%Y-%m-%d %H:%M} {zone}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --------------------------------------------------------------------------------------------
# The content model: rendered once, shown by three renderers


@dataclass(frozen=True, slots=True)
class _Ticket:
    """One order intent as a trader reads it."""

    heading: str
    legs: tuple[tuple[str, str, str], ...]  # signed quantity, contract, price
    facts: tuple[tuple[str, str], ...]  # limit, closes, quantity change
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Item:
    """A titled list: a refusal with its reasons, a held position with why."""

    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Content:
    subject: str
    title: str
    summary: tuple[tuple[str, str], ...]
    regime: str
    drivers: tuple[str, ...]
    indicators: tuple[tuple[str, str], ...]
    orders: tuple[_Ticket, ...]
    holds: tuple[_Item, ...]
    hedges: tuple[_Ticket, ...]
    hedge_status: tuple[str, ...]
    refusals: tuple[_Item, ...]
    book: tuple[tuple[str, str], ...]
    breakevens: tuple[tuple[str, str], ...]
    scenarios: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    footer: tuple[tuple[str, str], ...]
    dashboard_url: str | None

    @property
    def hold(self) -> bool:
        return not self.orders and not self.hedges


HOLD_LINE = "No orders today: hold."
_NO_HEDGE_LINE = "No hedge actions today."


def _seq(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list | tuple) else []


def _map(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _ticket(order: Mapping[str, Any], number: int) -> _Ticket:
    action = _text(order.get("action") or "?").upper()
    layer = _text(order.get("layer") or "?")
    structure = order.get("structure")
    what = _text(structure) if structure else "(no structure)"
    legs = tuple(
        (
            _qty(leg.get("quantity")),
            _text(leg.get("contract") or "?"),
            _pts(leg.get("price")),
        )
        for leg in map(_map, _seq(order.get("legs")))
    )
    facts: list[tuple[str, str]] = [("limit", _limit(order.get("limit_price")))]
    closes = [_text(c) for c in _seq(order.get("closes"))]
    if closes:
        facts.append(("closes", "; ".join(closes)))
    change = order.get("quantity_change")
    if isinstance(change, int) and not isinstance(change, bool):
        facts.append(("quantity change", f"{change:+d}"))
    since = order.get("proposed_since")
    if since:
        facts.append(("proposed since", f"{_text(since)}, every session (no fill recorded)"))
    reasons = tuple(_text(r) for r in _seq(order.get("reasons")))
    return _Ticket(f"{number}. {action} {layer}: {what}", legs, tuple(facts), reasons)


def _hold_item(order: Mapping[str, Any]) -> _Item:
    closes = [_text(c) for c in _seq(order.get("closes"))]
    name = "; ".join(closes) or _text(order.get("structure") or "the book")
    return _Item(name, tuple(_text(r) for r in _seq(order.get("reasons"))))


def _indicators(ind: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    if _num(ind.get("spx_close")) is not None:
        out.append(("SPX", _pts(ind["spx_close"])))
    if _num(ind.get("vix")) is not None:
        out.append(("VIX", _pts(ind["vix"])))
    if _num(ind.get("term_slope")) is not None:
        out.append(("term slope", f"{ind['term_slope']:+.3f}"))
    if _num(ind.get("ivr_252")) is not None:
        out.append(("IV rank", _pct(ind["ivr_252"], dp=0)))
    if _num(ind.get("days_to_event")) is not None:
        out.append(("next event", f"{ind['days_to_event']:g} sessions"))
    return tuple(out)


def _book(book: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    if "equity_usd" in book:
        out.append(("Equity", _usd(book.get("equity_usd"))))
    if "spx_spot" in book:
        out.append(("SPX spot", _pts(book.get("spx_spot"))))
    g = _map(book.get("greeks"))
    if g:
        out += [
            ("Delta", f"{_usd(g.get('delta_usd_per_pct'), signed=True)} per 1% SPX"),
            ("Gamma", f"{_usd(g.get('gamma_usd_per_pct_sq'), signed=True)} per (1% SPX)²"),
            ("Vega", f"{_usd(g.get('vega_usd_per_volpt'), signed=True)} per vol point"),
            ("Theta", f"{_usd(g.get('theta_usd_per_day'), signed=True)} per day"),
            ("VIX vega", f"{_usd(g.get('vix_vega_usd_per_volpt'), signed=True)} per vol point"),
        ]
        if _num(g.get("vix_delta_usd_per_vixpt")) not in {None, 0.0}:
            out.append(
                ("VIX delta", f"{_usd(g['vix_delta_usd_per_vixpt'], signed=True)} per VIX point")
            )
    else:
        out.append(("Greeks", "not computed (see the notes)"))
    band = _map(book.get("delta_band"))
    if band:
        where = "BREACHED" if band.get("breached") else "inside"
        out.append(
            (
                "Delta band",
                f"{where}: {_pct(band.get('fraction'), dp=4, signed=True)} of equity "
                f"(band ±{_pct(band.get('band_frac'), dp=4)})",
            )
        )
    return tuple(out)


def _breakevens(book: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for s in map(_map, _seq(book.get("structures"))):
        points = [_pts(p) for p in _seq(s.get("breakevens_points"))]
        if not points:
            continue
        extra = []
        if isinstance(s.get("dte"), int):
            extra.append(f"{s['dte']} DTE")
        if "max_loss_usd" in s:
            loss = s.get("max_loss_usd")
            extra.append("max loss unbounded" if loss is None else f"max loss {_usd(loss)}")
        tail = f" ({', '.join(extra)})" if extra else ""
        out.append((_text(s.get("name") or "?"), " / ".join(points) + tail))
    return tuple(out)


def _scenarios(decision: Mapping[str, Any], book: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    rows = [_map(r) for r in _seq(decision.get("scenarios"))]
    if not _seq(book.get("structures")) and all(not _num(r.get("total_pnl_usd")) for r in rows):
        return ()  # a flat book: every scenario is $0
    return tuple(
        (_text(r.get("scenario") or "?"), _usd(r.get("total_pnl_usd"), signed=True)) for r in rows
    )


def _hedge_status(book: Mapping[str, Any]) -> tuple[str, ...]:
    hedge = _map(_map(book.get("stages")).get("hedge"))
    if not hedge:
        return ()
    live = [_text(t) for t in _seq(hedge.get("live_triggers"))]
    score = hedge.get("score")
    line = f"Hedge score {_text(score) if score is not None else 'n/a'}"
    line += f"; live triggers: {', '.join(live)}" if live else "; no live trigger"
    return (line,)


def _content(
    decision: Mapping[str, Any],
    run: Mapping[str, Any] | None,
    dashboard_url: str | None,
    status: str,
) -> _Content:
    session = _text(decision.get("session") or "unknown session")
    regime = _text(decision.get("regime") or "unknown")
    status = _text(status) or "recorded"
    intents = [_map(o) for o in _seq(decision.get("orders"))]
    actionable = [o for o in intents if o.get("action") != "hold"]
    trade = [o for o in actionable if o.get("layer") != "hedge"]
    hedge = [o for o in actionable if o.get("layer") == "hedge"]
    orders = tuple(_ticket(o, i) for i, o in enumerate(trade, 1))
    hedges = tuple(_ticket(o, i) for i, o in enumerate(hedge, 1))
    holds = tuple(_hold_item(o) for o in intents if o.get("action") == "hold")
    refusals = tuple(
        _Item(
            f"{_text(r.get('layer') or '?')}: {_text(r.get('what') or '?')}",
            tuple(_text(x) for x in _seq(r.get("reasons"))),
        )
        for r in map(_map, _seq(decision.get("refusals")))
    )
    book = _map(decision.get("book"))
    drivers = tuple(_text(d) for d in _seq(decision.get("regime_drivers")))
    hedge_status = _hedge_status(book)

    # Notes that matter: what the other sections do not already say.
    shown = set(drivers) | {_text(_map(book.get("delta_band")).get("reason"))}
    notes = tuple(
        n
        for n in (_text(x) for x in _seq(decision.get("notes")))
        if n and n not in shown and not (hedge_status and n.startswith("hedge score "))
    )

    fingerprint = _text(decision.get("config_fingerprint") or (run or {}).get("config_fingerprint"))
    short = fingerprint[:12] if fingerprint else "n/a"
    run_line = "not journaled"
    if run:
        parts = [f"#{_text(run.get('id', '?'))}", f"revision {_text(run.get('revision', '?'))}"]
        if run.get("mode"):
            parts.append(f"({_text(run['mode'])})")
        run_line = " ".join(parts)
    code = _text((run or {}).get("code_version") or __version__)
    url = _web_url(dashboard_url)

    if orders or hedges:
        counts = [_plural(len(orders), "order")] if orders else []
        if hedges:
            counts.append(_plural(len(hedges), "hedge action"))
        what = ", ".join(counts)
    else:
        what = "no orders (hold)"
    subject = f"VixShield {session}: {regime}, {what}"
    if status != "recorded":
        subject += f" [{status}]"
    summary = (
        ("Session", session),
        ("As of", _when(decision.get("as_of"))),
        ("Status", status),
        ("Regime", regime),
        ("Orders", str(len(orders)) if orders else "none: hold" if not hedges else "none"),
        ("Hedge actions", str(len(hedges)) if hedges else "none"),
        ("Run", run_line),
        ("Config", short),
    )
    footer = [("Config", short), ("Run", run_line), ("Code", f"vixshield {code}")]
    if url:
        footer.append(("Dashboard", url))
    return _Content(
        subject=subject,
        title=f"VixShield signal {session} ({status})",
        summary=summary,
        regime=regime,
        drivers=drivers,
        indicators=_indicators(_map(decision.get("indicators"))),
        orders=orders,
        holds=holds,
        hedges=hedges,
        hedge_status=hedge_status,
        refusals=refusals,
        book=_book(book),
        breakevens=_breakevens(book),
        scenarios=_scenarios(decision, book),
        notes=notes,
        footer=tuple(footer),
        dashboard_url=url,
    )


# --------------------------------------------------------------------------------------------
# Plain text


def _kv_lines(pairs: Iterable[tuple[str, str]], indent: str = "  ") -> list[str]:
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    return [f"{indent}{k.ljust(width)}  {v}" for k, v in pairs]


def _ticket_lines(t: _Ticket) -> list[str]:
    lines = [f"  {t.heading}"]
    pad = "     "
    width = max(len("limit"), *(len(k) for k, _ in t.facts), len("legs"), len("why"))
    for k, v in t.facts:
        lines.append(f"{pad}{k.ljust(width)}  {v}")
    if t.legs:
        qw = max(len(q) for q, _, _ in t.legs)
        cw = max(len(c) for _, c, _ in t.legs)
        for i, (q, c, p) in enumerate(t.legs):
            label = "legs" if i == 0 else ""
            lines.append(f"{pad}{label.ljust(width)}  {q.rjust(qw)}  {c.ljust(cw)}  @ {p}")
    for i, r in enumerate(t.reasons):
        label = "why" if i == 0 else ""
        lines.append(f"{pad}{label.ljust(width)}  - {r}")
    return lines


def _render_text(c: _Content) -> str:
    out: list[str] = [c.title, "=" * len(c.title), *_kv_lines(c.summary, indent=""), ""]
    out.append(f"REGIME: {c.regime}")
    out += [f"  - {d}" for d in c.drivers]
    if c.indicators:
        out.append("  " + " · ".join(f"{k} {v}" for k, v in c.indicators))
    out.append("")
    out.append(f"ORDERS ({len(c.orders)})")
    if c.hold:
        out.append(f"  {HOLD_LINE}")
    elif not c.orders:
        out.append("  No orders for the condor book (hedge actions below).")
    for t in c.orders:
        out += _ticket_lines(t)
    if c.holds:
        out += ["", f"HOLDING ({len(c.holds)})"]
        for h in c.holds:
            out.append(f"  - {h.title}")
            out += [f"      {x}" for x in h.lines]
    out += ["", f"HEDGE ACTIONS ({len(c.hedges)})"]
    out += [f"  {x}" for x in c.hedge_status]
    if not c.hedges:
        out.append(f"  {_NO_HEDGE_LINE}")
    for t in c.hedges:
        out += _ticket_lines(t)
    if c.refusals:
        out += ["", f"REFUSALS ({len(c.refusals)})"]
        for r in c.refusals:
            out.append(f"  - {r.title}")
            out += [f"      {x}" for x in r.lines]
    out += ["", "BOOK (after today's orders)", *_kv_lines(c.book)]
    if c.breakevens:
        out += ["", "BREAK-EVENS (index points)", *_kv_lines(c.breakevens)]
    if c.scenarios:
        out += ["", "SCENARIOS (book P&L)", *_kv_lines(c.scenarios)]
    if c.notes:
        out += ["", "NOTES", *(f"  - {n}" for n in c.notes)]
    out += ["", *_kv_lines(c.footer, indent="")]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# HTML (e-mail): inline styles only, nothing fetched


_E = partial(html.escape, quote=True)
_REGIME_COLOURS = {
    "calm": "#1f7a3a",
    "normal": "#2b6cb0",
    "elevated": "#b7791f",
    "stressed": "#c05621",
    "crisis": "#b91c1c",
}
_H2 = "font-size:15px;margin:20px 0 8px;padding-bottom:4px;border-bottom:1px solid #dde1e6"
_TD = "padding:2px 12px 2px 0;vertical-align:top"
_TDK = _TD + ";color:#5a6470;white-space:nowrap"
_MONO = "font-family:Menlo,Consolas,'DejaVu Sans Mono',monospace;font-size:13px"


def _html_table(pairs: Iterable[tuple[str, str]], *, mono: bool = False) -> str:
    style = _TD + (";" + _MONO if mono else "")
    rows = "".join(
        f'<tr><td style="{_TDK}">{_E(k)}</td><td style="{style}">{_E(v)}</td></tr>'
        for k, v in pairs
    )
    return f'<table style="border-collapse:collapse;margin:0">{rows}</table>'


def _html_list(items: Iterable[str]) -> str:
    lis = "".join(f'<li style="margin:2px 0">{_E(x)}</li>' for x in items)
    return f'<ul style="margin:4px 0 4px 18px;padding:0">{lis}</ul>' if lis else ""


def _html_ticket(t: _Ticket, colour: str) -> str:
    parts = [
        f'<div style="border-left:3px solid {colour};padding:4px 0 4px 12px;margin:10px 0">',
        f'<div style="font-weight:bold;margin-bottom:4px">{_E(t.heading)}</div>',
        _html_table(t.facts),
    ]
    if t.legs:
        rows = "".join(
            f'<tr><td style="{_TD};text-align:right;{_MONO}">{_E(q)}</td>'
            f'<td style="{_TD};{_MONO}">{_E(c)}</td>'
            f'<td style="{_TD};text-align:right;{_MONO}">@ {_E(p)}</td></tr>'
            for q, c, p in t.legs
        )
        parts.append(f'<table style="border-collapse:collapse;margin:4px 0">{rows}</table>')
    parts.append(_html_list(t.reasons))
    parts.append("</div>")
    return "".join(parts)


def _html_items(items: Iterable[_Item]) -> str:
    return "".join(
        f'<div style="margin:6px 0"><div style="font-weight:bold">{_E(i.title)}</div>'
        f"{_html_list(i.lines)}</div>"
        for i in items
    )


def _render_html(c: _Content) -> str:
    colour = _REGIME_COLOURS.get(c.regime, "#4a5568")
    body: list[str] = [
        f'<h1 style="font-size:20px;margin:0 0 12px">{_E(c.title)}</h1>',
        _html_table(c.summary),
        f'<h2 style="{_H2}">Regime: <span style="color:{colour}">{_E(c.regime)}</span></h2>',
        _html_list(c.drivers),
    ]
    if c.indicators:
        body.append(
            f'<div style="color:#5a6470">{_E(" · ".join(f"{k} {v}" for k, v in c.indicators))}'
            "</div>"
        )
    body.append(f'<h2 style="{_H2}">Orders ({len(c.orders)})</h2>')
    if c.hold:
        body.append(
            '<div style="padding:8px 12px;background:#edf2f7;border:1px solid #cbd5e0;'
            f'font-weight:bold">{_E(HOLD_LINE)}</div>'
        )
    elif not c.orders:
        body.append("<p>No orders for the condor book (hedge actions below).</p>")
    body += [_html_ticket(t, "#2b6cb0") for t in c.orders]
    if c.holds:
        body += [f'<h2 style="{_H2}">Holding ({len(c.holds)})</h2>', _html_items(c.holds)]
    body.append(f'<h2 style="{_H2}">Hedge actions ({len(c.hedges)})</h2>')
    body += [f'<p style="margin:4px 0">{_E(x)}</p>' for x in c.hedge_status]
    if not c.hedges:
        body.append(f'<p style="margin:4px 0">{_E(_NO_HEDGE_LINE)}</p>')
    body += [_html_ticket(t, "#6b46c1") for t in c.hedges]
    if c.refusals:
        body += [f'<h2 style="{_H2}">Refusals ({len(c.refusals)})</h2>', _html_items(c.refusals)]
    body += [f'<h2 style="{_H2}">Book (after today\'s orders)</h2>', _html_table(c.book)]
    if c.breakevens:
        body += [
            f'<h2 style="{_H2}">Break-evens (index points)</h2>',
            _html_table(c.breakevens, mono=True),
        ]
    if c.scenarios:
        body += [
            f'<h2 style="{_H2}">Scenarios (book P&amp;L)</h2>',
            _html_table(c.scenarios, mono=True),
        ]
    if c.notes:
        body += [f'<h2 style="{_H2}">Notes</h2>', _html_list(c.notes)]
    footer = [(k, v) for k, v in c.footer if k != "Dashboard"]
    body.append(
        '<div style="margin-top:20px;color:#5a6470;font-size:12px">'
        + " · ".join(f"{_E(k)} {_E(v)}" for k, v in footer)
        + "</div>"
    )
    if c.dashboard_url:
        body.append(
            f'<p style="margin-top:8px"><a href="{_E(c.dashboard_url)}" '
            f'style="color:#2b6cb0">Open the dashboard</a></p>'
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_E(c.subject)}</title></head>\n"
        '<body style="margin:0;padding:16px;background:#f6f7f9;color:#1a1d21;'
        "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;"
        'line-height:1.45">\n'
        '<div style="max-width:780px;margin:0 auto;background:#ffffff;border:1px solid #dde1e6;'
        'padding:20px">\n' + "\n".join(body) + "\n</div>\n</body></html>\n"
    )


# --------------------------------------------------------------------------------------------
# Slack (incoming webhook): blocks within Slack's limits


def _web_url(url: str | None) -> str | None:
    """An http(s) URL, else None (a ``javascript:`` or other scheme is never linked)."""
    return url if url and url.startswith(("http://", "https://")) else None


def _mrkdwn(s: str) -> str:
    """Slack's three control characters, escaped."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _more(n: int) -> str:
    return f"… {n} more line" if n == 1 else f"… {n} more lines"


def _clip(lines: Sequence[str], limit: int) -> str:
    """Lines joined by newlines, at most ``limit`` characters.

    The first line that does not fit is cut (ending in "…") when a useful part of it fits, and
    the lines after it are replaced by one "… N more lines" line.
    """
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    n = len(lines)
    kept: list[str] = []
    used = -1  # len("\n".join(kept)); -1 so that the first line costs no separator
    for i, line in enumerate(lines):
        left = n - i - 1  # lines after this one
        tail = 1 + len(_more(left)) if left else 0
        if used + 1 + len(line) + tail <= limit:
            kept.append(line)
            used += 1 + len(line)
            continue
        room = limit - used - 1 - tail - 1  # this line cut, with its "…"
        if room >= min(len(line), _MIN_CUT) or not kept:
            kept.append(line[: max(0, room)] + "…")
            return "\n".join([*kept, _more(left)] if left else kept)[:limit]
        return "\n".join([*kept, _more(n - i)])
    return "\n".join(kept)  # pragma: no cover - the whole text would have fit


def _section(lines: Sequence[str]) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(lines, SLACK_SECTION_MAX)}}


def _fields(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    fields = [
        {"type": "mrkdwn", "text": _clip([f"*{_mrkdwn(k)}*", _mrkdwn(v)], SLACK_FIELD_MAX)}
        for k, v in pairs[:SLACK_MAX_FIELDS]
    ]
    return {"type": "section", "fields": fields}


def _slack_ticket(t: _Ticket) -> dict[str, Any]:
    lines = [f"*{_mrkdwn(t.heading)}*"]
    lines += [f"{_mrkdwn(k)}: `{_mrkdwn(v)}`" for k, v in t.facts]
    lines += [f"`{q:>4}  {_mrkdwn(c)}  @ {p}`" for q, c, p in t.legs]
    lines += [f"• {_mrkdwn(r)}" for r in t.reasons]
    return _section(lines)


def _allot(n_orders: int, n_hedges: int, room: int) -> tuple[int, int]:
    """How many order and hedge blocks fit in ``room`` blocks (a "… N more" each if cut)."""
    if n_orders + n_hedges <= room:
        return n_orders, n_hedges
    room -= 2  # one "… N more" block per cut list, at worst
    h = min(n_hedges, max(room // 2, room - n_orders))
    return min(n_orders, room - h), h


def _render_slack(c: _Content, text: str) -> dict[str, Any]:
    head: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip([c.subject], SLACK_HEADER_MAX)},
        },
        _fields(c.summary),
    ]
    regime = [f"*Regime: {_mrkdwn(c.regime)}*", *(f"• {_mrkdwn(d)}" for d in c.drivers)]
    if c.indicators:
        regime.append("_" + _mrkdwn(" · ".join(f"{k} {v}" for k, v in c.indicators)) + "_")
    head += [_section(regime), {"type": "divider"}]
    if c.hold:
        head.append(_section([f"*{HOLD_LINE}*"]))
    elif c.orders:
        head.append(_section([f"*Orders ({len(c.orders)})*"]))
    else:
        head.append(_section(["*Orders (0)*: none for the condor book (hedge actions below)"]))
    hedge_head = _section(
        [f"*Hedge actions ({len(c.hedges)})*", *map(_mrkdwn, c.hedge_status)]
        + ([] if c.hedges else [_NO_HEDGE_LINE])
    )

    tail: list[dict[str, Any]] = []
    if c.holds:
        lines = [f"*Holding ({len(c.holds)})*"]
        for h in c.holds:
            lines.append(f"• {_mrkdwn(h.title)}: {_mrkdwn('; '.join(h.lines))}")
        tail.append(_section(lines))
    if c.refusals:
        lines = [f"*Refusals ({len(c.refusals)})*"]
        for r in c.refusals:
            lines.append(f"• *{_mrkdwn(r.title)}*: {_mrkdwn('; '.join(r.lines))}")
        tail.append(_section(lines))
    book = _fields(c.book)
    book["text"] = {"type": "mrkdwn", "text": "*Book (after today's orders)*"}
    tail.append(book)
    if c.breakevens:
        tail.append(
            _section(
                ["*Break-evens (index points)*"]
                + [f"• {_mrkdwn(k)}: `{_mrkdwn(v)}`" for k, v in c.breakevens]
            )
        )
    if c.scenarios:
        tail.append(
            _section(
                ["*Scenarios (book P&amp;L)*"]
                + [f"• {_mrkdwn(k)}: `{_mrkdwn(v)}`" for k, v in c.scenarios]
            )
        )
    if c.notes:
        tail.append(_section(["*Notes*", *(f"• {_mrkdwn(n)}" for n in c.notes)]))
    foot = " · ".join(f"{k} {_mrkdwn(v)}" for k, v in c.footer if k != "Dashboard")
    if c.dashboard_url:
        foot += f" · <{_mrkdwn(c.dashboard_url)}|Open the dashboard>"
    tail.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip([foot], 2000)}]})

    room = SLACK_MAX_BLOCKS - len(head) - len(tail) - 1  # - the hedge heading
    n_o, n_h = _allot(len(c.orders), len(c.hedges), room)
    blocks = list(head)
    blocks += [_slack_ticket(t) for t in c.orders[:n_o]]
    if n_o < len(c.orders):
        left = len(c.orders) - n_o
        what = "order" if left == 1 else "orders"
        blocks.append(
            _section(
                [f"… {left} more {what} not shown (full list in the e-mail and on the dashboard)"]
            )
        )
    blocks.append(hedge_head)
    blocks += [_slack_ticket(t) for t in c.hedges[:n_h]]
    if n_h < len(c.hedges):
        left = len(c.hedges) - n_h
        blocks.append(
            _section([f"… {left} more hedge {'action' if left == 1 else 'actions'} not shown"])
        )
    blocks += tail
    return {"text": _clip(text.splitlines(), SLACK_FALLBACK_MAX), "blocks": blocks}


def format_signal(
    decision: Mapping[str, Any],
    *,
    run: Mapping[str, Any] | None = None,
    dashboard_url: str | None = None,
    status: str = "recorded",
) -> SignalMessage:
    """The day's signal as a subject, plain text, HTML and a Slack payload.

    ``decision`` is the JSON of :meth:`DayDecision.to_json
    <vixshield.domain.decisions.DayDecision.to_json>` (missing parts are shown as such, never
    an error); ``run`` the journal's run (``dataclasses.asdict`` of a
    :class:`~vixshield.journal.store.RunHandle`: ``id``, ``revision``, ``mode``,
    ``code_version``...); ``status`` what the job did with the signal ("recorded" is left out
    of the subject). Intents with the ``hold`` action are listed as held positions, not
    orders: a day with nothing else says "No orders today: hold.".
    """
    content = _content(decision, run, dashboard_url, status)
    text = _render_text(content)
    return SignalMessage(
        subject=content.subject,
        text=text,
        html=_render_html(content),
        slack=_render_slack(content, text),
    )


# --------------------------------------------------------------------------------------------
# Delivery: retries


@dataclass(frozen=True, slots=True)
class _Try:
    """One attempt's outcome (attempts never raise)."""

    ok: bool
    retry: bool = False
    error: str | None = None
    status_code: int | None = None
    retry_after: float | None = None


def _wait(backoff: float, state: RetryCallState) -> float:
    """Before retry n: ``backoff * 2**(n - 1)``, or the server's Retry-After; at most 60 s."""
    delay = backoff * 2.0 ** (state.attempt_number - 1)
    outcome = state.outcome
    if outcome is not None and not outcome.failed:
        got = outcome.result()
        if isinstance(got, _Try) and got.retry_after is not None:
            delay = got.retry_after
    return min(MAX_WAIT_SECONDS, max(0.0, delay))


def _log_retry(channel: str, target: str, state: RetryCallState) -> None:
    outcome = state.outcome
    got = outcome.result() if outcome is not None and not outcome.failed else None
    why = got.error if isinstance(got, _Try) else "error"
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.warning(
        "%s %s: attempt %d failed (%s); retrying in %.1f s",
        channel,
        target,
        state.attempt_number,
        why,
        wait,
    )


def _last(state: RetryCallState) -> _Try:
    """When the retries are spent: the last attempt's outcome."""
    outcome = state.outcome
    if outcome is None:  # pragma: no cover - tenacity always has one here
        return _Try(ok=False, error="no attempt made")
    if outcome.failed:  # pragma: no cover - attempts catch everything
        exc = outcome.exception()
        return _Try(ok=False, error=f"{type(exc).__name__}: {exc}")
    got = outcome.result()
    return got if isinstance(got, _Try) else _Try(ok=False, error="no result")


def _attempts(
    settings: NotifySettings,
    sleep: Callable[[float], None],
    *,
    channel: str,
    target: str,
    attempt: Callable[[], _Try],
) -> tuple[_Try, int]:
    """Run ``attempt`` under the retry policy: its last outcome and how many attempts ran."""
    count = 0

    def counted() -> _Try:
        nonlocal count
        count += 1
        try:
            return attempt()
        except Exception as exc:  # never raise for a delivery: report it
            return _Try(ok=False, error=f"{type(exc).__name__}: {exc}")

    retrying = Retrying(
        stop=stop_after_attempt(settings.retries + 1),
        wait=partial(_wait, settings.backoff_seconds),
        retry=retry_if_result(lambda t: isinstance(t, _Try) and t.retry),
        sleep=sleep,
        before_sleep=partial(_log_retry, channel, target),
        retry_error_callback=_last,
    )
    result: _Try = retrying(counted)
    return result, count


# --------------------------------------------------------------------------------------------
# Webhooks


def mask_url(url: str) -> str:
    """A URL safe to log: scheme, host (and port), the first path segment, then "…".

    ``https://hooks.slack.com/services/T0/B0/XXXX`` -> ``https://hooks.slack.com/services/…``.
    Credentials before the host, the rest of the path, the query and the fragment are dropped.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    segments = [s for s in parts.path.split("/") if s]
    hidden = len(segments) > 1 or bool(parts.query) or bool(parts.fragment)
    base = f"{parts.scheme}://{netloc}/"
    if segments:
        base += segments[0] + ("/…" if hidden else "")
    elif hidden:
        base += "…"
    return base


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date; None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - SystemClock().now()).total_seconds())


def _one_line(text: str, limit: int = _ERROR_BODY_MAX) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _answer(response: httpx.Response) -> _Try:
    code = response.status_code
    if 200 <= code < 300:
        return _Try(ok=True, status_code=code)
    body = _one_line(response.text) if response.content else ""
    error = f"HTTP {code} {response.reason_phrase}" + (f": {body}" if body else "")
    if code in {_HTTP_TOO_MANY, _HTTP_UNAVAILABLE}:
        wait = _retry_after(response.headers.get("Retry-After"))
        return _Try(ok=False, retry=True, error=error, status_code=code, retry_after=wait)
    if code >= 500:
        return _Try(ok=False, retry=True, error=error, status_code=code)
    return _Try(ok=False, error=error, status_code=code)  # 3xx, 4xx: retrying will not help


def send_webhook(
    url: str,
    payload: Mapping[str, Any],
    settings: NotifySettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    client: httpx.Client | None = None,
) -> SendResult:
    """POST ``payload`` as JSON to ``url``, retrying transient failures; never raises.

    ``client`` is used as given (and left open); without one a client is made and closed.
    """
    target = mask_url(url)
    try:
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        return SendResult("webhook", target, ok=False, attempts=0, error=f"not JSON: {exc}")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": _USER_AGENT}
    timeout = httpx.Timeout(settings.timeout_seconds)

    def scrub(text: str) -> str:
        return text.replace(url, target)

    def attempt(http: httpx.Client) -> _Try:
        try:
            response = http.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            what = f"timed out after {settings.timeout_seconds:g} s"
            return _Try(ok=False, retry=True, error=scrub(f"{what} ({type(exc).__name__})"))
        except httpx.UnsupportedProtocol as exc:
            return _Try(ok=False, error=scrub(f"{type(exc).__name__}: {exc}"))
        except httpx.TransportError as exc:  # refused, reset, DNS, broken connection
            return _Try(ok=False, retry=True, error=scrub(f"{type(exc).__name__}: {exc}"))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return _Try(ok=False, error=scrub(f"{type(exc).__name__}: {exc}"))
        got = _answer(response)
        return got if got.error is None else replace(got, error=scrub(got.error))

    def run(http: httpx.Client) -> SendResult:
        got, count = _attempts(
            settings, sleep, channel="webhook", target=target, attempt=partial(attempt, http)
        )
        if not got.ok:
            log.error("webhook %s: not delivered after %d attempt(s): %s", target, count, got.error)
        return SendResult(
            "webhook",
            target,
            ok=got.ok,
            attempts=count,
            error=got.error,
            status_code=got.status_code,
        )

    if client is not None:
        return run(client)
    with httpx.Client(follow_redirects=False) as own:
        return run(own)


# --------------------------------------------------------------------------------------------
# E-mail


def _email_problem(cfg: EmailSettings) -> str | None:
    """What keeps the e-mail from being sent at all (no attempt is made), if anything."""
    if not cfg.enabled:
        return "e-mail is not configured (notify.email.host is empty)"
    if not cfg.sender:
        return "notify.email.sender is empty"
    if not cfg.recipients:
        return "notify.email.recipients is empty"
    if cfg.username and cfg.password() is None:
        return (
            f"notify.email.username is set but ${cfg.password_env} (notify.email.password_env) "
            "is empty"
        )
    return None


def _email_message(message: SignalMessage, cfg: EmailSettings) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = " ".join(message.subject.split())
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.recipients)
    msg["Date"] = email.utils.format_datetime(SystemClock().now())
    domain = cfg.sender.rpartition("@")[2].strip(" >") or "vixshield.localdomain"
    msg["Message-ID"] = email.utils.make_msgid(idstring="vixshield", domain=domain)
    msg["X-Mailer"] = f"vixshield {__version__}"
    msg.set_content(message.text)
    msg.add_alternative(message.html, subtype="html")
    return msg


def _smtp_reply(code: int, text: bytes | str) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"SMTP {code} {_one_line(said)}".rstrip()


def _deliver(msg: EmailMessage, cfg: EmailSettings, timeout: float) -> _Try:
    # The system's CAs, or the PEM file the settings name (a relay with a private CA).
    context = ssl.create_default_context(cafile=cfg.ca_file or None)
    smtp: smtplib.SMTP
    if cfg.port == _SMTP_IMPLICIT_TLS_PORT:  # SMTPS: TLS from the first byte
        smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
    with smtp:
        if cfg.starttls and cfg.port != _SMTP_IMPLICIT_TLS_PORT:
            smtp.starttls(context=context)
        if cfg.username:
            smtp.login(cfg.username, cfg.password() or "")
        refused = smtp.send_message(msg, from_addr=cfg.sender, to_addrs=list(cfg.recipients))
    if refused:
        who = "; ".join(f"{addr} ({_smtp_reply(*why)})" for addr, why in refused.items())
        n = len(cfg.recipients)
        return _Try(ok=False, error=f"delivered to {n - len(refused)} of {n}; refused: {who}")
    return _Try(ok=True)


def _smtp_attempt(msg: EmailMessage, cfg: EmailSettings, timeout: float) -> _Try:
    try:
        return _deliver(msg, cfg, timeout)
    except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
        codes = [code for code, _ in exc.recipients.values()]
        who = "; ".join(f"{a} ({_smtp_reply(*why)})" for a, why in exc.recipients.items())
        transient = all(400 <= c < 500 for c in codes)
        return _Try(ok=False, retry=transient, error=f"recipients refused: {who}")
    except smtplib.SMTPResponseException as exc:  # 4xx transient, 5xx permanent
        code = exc.smtp_code
        return _Try(ok=False, retry=400 <= code < 500, error=_smtp_reply(code, exc.smtp_error))
    except smtplib.SMTPServerDisconnected as exc:
        return _Try(ok=False, retry=True, error=f"SMTPServerDisconnected: {exc}")
    except smtplib.SMTPNotSupportedError as exc:  # e.g. no STARTTLS: never send in clear
        return _Try(ok=False, error=f"SMTPNotSupportedError: {exc}")
    except smtplib.SMTPException as exc:
        return _Try(ok=False, error=f"{type(exc).__name__}: {exc}")
    except ssl.SSLError as exc:  # certificate or protocol: retrying will not fix it
        return _Try(ok=False, error=f"TLS: {type(exc).__name__}: {exc}")
    except OSError as exc:  # refused, reset, timed out, DNS
        return _Try(ok=False, retry=True, error=f"{type(exc).__name__}: {exc}")


def send_email(
    message: SignalMessage,
    settings: NotifySettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> SendResult:
    """Send ``message`` (multipart/alternative: text and HTML) by SMTP; never raises.

    STARTTLS when ``email.starttls`` (a server that does not offer it is refused, not used in
    clear); port 465 is SMTPS (TLS from the start). Login when ``email.username`` is set, with
    the password from ``$<email.password_env>``.
    """
    cfg = settings.email
    scheme = "smtps" if cfg.port == _SMTP_IMPLICIT_TLS_PORT else "smtp"
    target = f"{scheme}://{cfg.host}:{cfg.port}"
    problem = _email_problem(cfg)
    if problem is not None:
        return SendResult("email", target, ok=False, attempts=0, error=problem)
    try:
        msg = _email_message(message, cfg)
    except (ValueError, TypeError) as exc:  # a malformed address or header
        return SendResult("email", target, ok=False, attempts=0, error=f"bad message: {exc}")
    got, count = _attempts(
        settings,
        sleep,
        channel="email",
        target=target,
        attempt=partial(_smtp_attempt, msg, cfg, settings.timeout_seconds),
    )
    if not got.ok:
        log.error("email %s: not delivered after %d attempt(s): %s", target, count, got.error)
    return SendResult("email", target, ok=got.ok, attempts=count, error=got.error)


# --------------------------------------------------------------------------------------------
# Everything


def notify_signal(
    decision: Mapping[str, Any],
    settings: NotifySettings,
    *,
    run: Mapping[str, Any] | None = None,
    dashboard_url: str | None = None,
    status: str = "recorded",
    sleep: Callable[[float], None] = time.sleep,
) -> list[SendResult]:
    """Format the signal once and send it to every webhook and (when configured) by e-mail.

    Returns one :class:`SendResult` per channel (webhooks in order, then the e-mail); none
    when nothing is configured.
    """
    message = format_signal(decision, run=run, dashboard_url=dashboard_url, status=status)
    return send_message(message, settings, sleep=sleep)


def send_message(
    message: SignalMessage,
    settings: NotifySettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[SendResult]:
    """Send a formatted message to every configured channel (webhooks, then the e-mail)."""
    results: list[SendResult] = []
    if settings.webhook.urls:
        with httpx.Client(follow_redirects=False) as client:
            results += [
                send_webhook(url, message.slack, settings, sleep=sleep, client=client)
                for url in settings.webhook.urls
            ]
    if settings.email.enabled:
        results.append(send_email(message, settings, sleep=sleep))
    return results


def format_failure(
    session: str,
    reason: str,
    *,
    run: Mapping[str, Any] | None = None,
    dashboard_url: str | None = None,
) -> SignalMessage:
    """The message of a daily run that failed: no signal today, why, and what to do."""
    run_part = ""
    if run:
        run_part = f" (run {run.get('id', '?')}, revision {run.get('revision', '?')})"
    subject = f"VixShield: NO SIGNAL for {session}: the daily run failed"
    lines = [
        f"The daily run for {session} failed{run_part}; no signal was journaled.",
        "",
        f"Why: {reason}",
        "",
        "Fix the cause, then run `vixshield run-daily --date " + session + "` (or POST "
        "/api/runs). Until then trade on your own judgement: the previous signal is stale.",
    ]
    url = _web_url(dashboard_url)
    if url:
        lines += ["", f"Dashboard: {url}"]
    text = "\n".join(lines) + "\n"
    html_body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    slack = {
        "text": subject,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _mrkdwn("\n".join(lines))[:3000]},
            },
        ],
    }
    page = (
        '<!DOCTYPE html><html><body style="font-family:sans-serif">'
        f'<h2 style="color:#b00020">{html.escape(subject)}</h2>{html_body}</body></html>'
    )
    return SignalMessage(subject=subject, text=text, html=page, slack=slack)
