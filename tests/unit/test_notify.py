"""Notifications: the signal's text, HTML and Slack payload, and delivery with retries.

Webhooks go to a local ``pytest-httpserver``; e-mail to a local ``aiosmtpd`` server. The retry
waits are recorded by an injected ``sleep``, so nothing here waits for a backoff.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd import smtp as aiosmtp
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from vixshield.clock import SystemClock
from vixshield.domain.decisions import Action, DayDecision, Layer, OrderIntent, Refusal
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.service.notify import (
    MAX_WAIT_SECONDS,
    SLACK_FIELD_MAX,
    SLACK_HEADER_MAX,
    SLACK_MAX_BLOCKS,
    SLACK_MAX_FIELDS,
    SLACK_SECTION_MAX,
    SendResult,
    format_failure,
    format_signal,
    mask_url,
    notify_signal,
    send_email,
    send_webhook,
)
from vixshield.service.settings import EmailSettings, NotifySettings, WebhookSettings

SESSION = date(2026, 9, 1)
AS_OF = datetime(2026, 9, 1, 16, 15, tzinfo=timezone(timedelta(hours=-4)))
FINGERPRINT = "67685af54470644edbfc43384602044db6c08bb5f51c66d3e2e6f6bb12ef121d"
CONDOR = "SPX 2026-10-16 iron condor 6725/6775P 7625/7675C"
OLD_CONDOR = "SPX 2026-09-18 iron condor 6500/6550P 7400/7450C"
HEDGE = "ALVH short tranche 1 2026-09-01 VIX 2026-10-21 25/35C call spread"
RUN = {"id": 12, "revision": 2, "mode": "live", "code_version": "0.1.0", "status": "succeeded"}


# --------------------------------------------------------------------------------------------
# Decisions, built from the domain types so the JSON is exactly DayDecision.to_json's


def _leg(  # noqa: PLR0917 - a leg reads best as one positional row
    root: str, expiry: date, strike: float, right: Right, qty: int, price: float
) -> Leg:
    return Leg(OptionContract(root, expiry, strike, right), qty, price)


def _condor(name: str = CONDOR, n: int = 4) -> Structure:
    exp = date(2026, 10, 16)
    return Structure(
        name,
        (
            _leg("SPX", exp, 6725, Right.PUT, n, 24.05),
            _leg("SPX", exp, 6775, Right.PUT, -n, 28.00),
            _leg("SPX", exp, 7625, Right.CALL, -n, 16.00),
            _leg("SPX", exp, 7675, Right.CALL, n, 10.15),
        ),
    )


def _open_core(name: str = CONDOR, *reasons: str) -> OrderIntent:
    return OrderIntent(
        Action.OPEN,
        Layer.CORE,
        _condor(name),
        9.8,
        reasons
        or (
            "calm regime, no FOMC decision today: enter the core condor (45 DTE, target 45)",
            "4 contract(s): max loss $16,080.00 = 1.61% of equity",
        ),
    )


def _decision(
    orders: tuple[OrderIntent, ...] = (),
    *,
    refusals: tuple[Refusal, ...] = (),
    with_book: bool = True,
) -> dict[str, Any]:
    book: dict[str, Any] = {"equity_usd": 1_000_000.0, "spx_spot": 7277.001644818534}
    if with_book:
        book |= {
            "open_structures": [OLD_CONDOR],
            "structures": [
                {
                    "name": CONDOR,
                    "expiries": ["2026-10-16"],
                    "dte": 45,
                    "legs": 4,
                    "net_premium_usd": 3920.0,
                    "max_loss_usd": 16079.999999999998,
                    "breakevens_points": [6765.2, 7634.8],
                }
            ],
            "greeks": {
                "options_value_usd": -3905.35,
                "equity_value_usd": 0.0,
                "delta_spx_points": -8.35,
                "delta_usd_per_pct": -607.3797283973386,
                "gamma_usd_per_pct_sq": -444.8663408165877,
                "vega_usd_per_volpt": -672.6908671992521,
                "theta_usd_per_day": 95.22974097692727,
                "vix_delta_usd_per_vixpt": 0.0,
                "vix_vega_usd_per_volpt": 1234.5,
            },
            "delta_band": {
                "fraction": -0.0006073797283973386,
                "band_frac": 0.0015,
                "breached": False,
                "reason": "book delta $-607 per 1% SPX move is -0.0607% of equity: inside the band",
            },
            "stages": {"hedge": {"score": 2, "live_triggers": ["event", "vvix_rsi"]}},
        }
    d = DayDecision(
        session=SESSION,
        as_of=AS_OF,
        regime="calm",
        regime_drivers=(
            "VIX 14.18 < 15 (normal cut): base calm",
            "no backwardation: VIX3M/VIX-1 = +0.139 ≥ 0, no lift",
        ),
        indicators={"spx_close": 7277.0, "vix": 14.18, "term_slope": 0.139, "ivr_252": 0.19},
        orders=orders,
        refusals=refusals,
        book=book,
        scenarios=(
            {"scenario": "SPX -20%", "total_pnl_usd": -15904.691842594348 * with_book},
            {"scenario": "1d on", "total_pnl_usd": 96.44 * with_book},
        ),
        notes=(
            "option chain: model chain (no stored quotes for 2026-09-01)",
            "hedge score 2 (2 live trigger(s))",
            "book delta $-607 per 1% SPX move is -0.0607% of equity: inside the band",
        ),
        config_fingerprint=FINGERPRINT,
    )
    # Through JSON text, as the journal stores it and `vixshield signal --json` prints it.
    parsed: dict[str, Any] = json.loads(json.dumps(d.to_json(), allow_nan=False))
    return parsed


def _busy_decision() -> dict[str, Any]:
    """An open, a close, a hedge buy, a hold and two refusals."""
    exp = date(2026, 9, 18)
    close = OrderIntent(
        Action.CLOSE,
        Layer.CORE,
        Structure(
            OLD_CONDOR,
            (
                _leg("SPX", exp, 6500, Right.PUT, 2, 0.35),
                _leg("SPX", exp, 6550, Right.PUT, -2, 0.60),
                _leg("SPX", exp, 7400, Right.CALL, -2, 0.80),
                _leg("SPX", exp, 7450, Right.CALL, 2, 0.40),
            ),
        ),
        -0.65,
        ("profit target 50% of credit reached", "open P&L 1,170.00 USD"),
        (OLD_CONDOR,),
    )
    vexp = date(2026, 10, 21)
    hedge = OrderIntent(
        Action.OPEN,
        Layer.HEDGE,
        Structure(
            HEDGE,
            (
                _leg("VIX", vexp, 25, Right.CALL, 30, 1.10),
                _leg("VIX", vexp, 35, Right.CALL, -30, 0.45),
            ),
        ),
        -0.65,
        ("short layer budget 0.50% of condor book max loss", "score 2: event, vvix_rsi"),
    )
    hold = OrderIntent(
        Action.HOLD, Layer.CORE, None, None, ("21 DTE, inside every rule",), ("SPX other",)
    )
    refusals = (
        Refusal(Layer.LADDER, "new ladder rung", ("no trigger: VIX MACD not compressed",)),
        Refusal(Layer.HEDGE, "medium-layer tranche 1", ("rounds to zero contracts",)),
    )
    return _decision((_open_core(), close, hedge, hold), refusals=refusals)


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


def _slack_texts(payload: dict[str, Any]) -> list[str]:
    out = []
    for b in payload["blocks"]:
        if "text" in b:
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields", [])]
        out += [e["text"] for e in b.get("elements", [])]
    return out


# --------------------------------------------------------------------------------------------
# Formatting


def test_text_lists_each_order_with_legs_limit_and_reasons() -> None:
    msg = format_signal(_busy_decision(), run=RUN, dashboard_url="https://vix.example/dash")
    text = msg.text
    assert msg.subject == "VixShield 2026-09-01: calm, 2 orders, 1 hedge action"
    orders = _section(text, "ORDERS (2)", "HOLDING")
    assert f"1. OPEN core: {CONDOR}" in orders
    assert "limit  9.80 credit per unit" in orders
    assert re.search(r"legs\s+\+4  SPX 2026-10-16 6725P  @ 24\.05", orders)
    assert re.search(r"-4  SPX 2026-10-16 6775P  @ 28\.00", orders)
    assert "enter the core condor (45 DTE, target 45)" in orders
    assert f"2. CLOSE core: {OLD_CONDOR}" in orders
    assert "0.65 debit per unit" in orders
    assert f"closes  {OLD_CONDOR}" in orders or re.search(
        rf"closes\s+{re.escape(OLD_CONDOR)}", orders
    )
    assert "profit target 50% of credit reached" in orders
    assert HEDGE not in orders  # hedge actions are shown apart
    hedges = _section(text, "HEDGE ACTIONS (1)", "REFUSALS")
    assert "Hedge score 2; live triggers: event, vvix_rsi" in hedges
    assert f"1. OPEN hedge: {HEDGE}" in hedges
    assert re.search(r"\+30  VIX 2026-10-21 25C\s+@ 1\.10", hedges)
    assert "0.65 debit per unit" in hedges
    holding = _section(text, "HOLDING (1)", "HEDGE ACTIONS")
    assert "SPX other" in holding
    assert "21 DTE, inside every rule" in holding
    refusals = _section(text, "REFUSALS (2)", "BOOK")
    assert "ladder: new ladder rung" in refusals
    assert "rounds to zero contracts" in refusals


def test_text_shows_regime_book_greeks_breakevens_and_provenance() -> None:
    text = format_signal(_busy_decision(), run=RUN, dashboard_url="https://vix.example/d").text
    assert "REGIME: calm" in text
    assert "VIX 14.18 < 15 (normal cut): base calm" in text
    assert "SPX 7277.00 · VIX 14.18 · term slope +0.139 · IV rank 19%" in text
    book = _section(text, "BOOK", "BREAK-EVENS")
    assert re.search(r"Equity\s+\$1,000,000\.00", book)
    assert re.search(r"SPX spot\s+7277\.00", book)
    assert re.search(r"Delta\s+-\$607\.38 per 1% SPX", book)
    assert re.search(r"Gamma\s+-\$444\.87 per \(1% SPX\)²", book)
    assert re.search(r"Vega\s+-\$672\.69 per vol point", book)
    assert re.search(r"Theta\s+\+\$95\.23 per day", book)
    assert re.search(r"VIX vega\s+\+\$1,234\.50 per vol point", book)
    assert "inside: -0.0607% of equity (band ±0.1500%)" in book
    assert "6765.20 / 7634.80 (45 DTE, max loss $16,080.00)" in text
    assert re.search(r"SPX -20%\s+-\$15,904\.69", text)
    assert re.search(r"1d on\s+\+\$96\.44", text)
    notes = _section(text, "NOTES", "Config")
    assert "option chain: model chain" in notes
    assert "hedge score" not in notes
    assert "book delta" not in notes
    assert "Config     67685af54470\n" in text
    assert FINGERPRINT not in text
    assert "Run        #12 revision 2 (live)" in text
    assert "Dashboard  https://vix.example/d" in text


def test_no_orders_says_hold_everywhere() -> None:
    msg = format_signal(_decision(with_book=False))
    assert msg.subject == "VixShield 2026-09-01: calm, no orders (hold)"
    assert "No orders today: hold." in msg.text
    assert "No orders today: hold." in msg.html
    assert "No orders today: hold." in msg.slack["text"]
    assert any("No orders today: hold." in t for t in _slack_texts(msg.slack))
    assert "Greeks      not computed" in msg.text or re.search(r"Greeks\s+not computed", msg.text)
    assert "SCENARIOS" not in msg.text  # a flat book has nothing to show
    assert "not journaled" in msg.text


def test_only_hold_intents_is_still_a_hold_day() -> None:
    hold = OrderIntent(Action.HOLD, Layer.CORE, None, None, ("inside every rule",), (CONDOR,))
    msg = format_signal(_decision((hold,)), status="replayed")
    assert msg.subject == "VixShield 2026-09-01: calm, no orders (hold) [replayed]"
    assert "No orders today: hold." in msg.text
    assert "HOLDING (1)" in msg.text
    assert "inside every rule" in msg.text


def test_a_hedge_only_day_is_not_a_hold() -> None:
    exp = date(2026, 10, 21)
    hedge = OrderIntent(
        Action.OPEN,
        Layer.HEDGE,
        Structure(HEDGE, (_leg("VIX", exp, 25, Right.CALL, 3, 1.1),)),
        -1.1,
        ("buy the short layer",),
    )
    msg = format_signal(_decision((hedge,)))
    assert msg.subject == "VixShield 2026-09-01: calm, 1 hedge action"
    assert "No orders today: hold." not in msg.text
    assert "No orders for the condor book (hedge actions below)." in msg.text
    assert "1.10 debit per unit" in _section(msg.text, "HEDGE ACTIONS (1)", "BOOK")


def test_missing_parts_are_shown_as_missing() -> None:
    msg = format_signal({})
    assert "unknown session" in msg.subject
    assert "No orders today: hold." in msg.text
    msg = format_signal({"session": "2026-09-01", "orders": [{"action": "roll", "layer": "core"}]})
    assert "1. ROLL core: (no structure)" in msg.text
    assert "limit  none (see the reasons)" in msg.text


def test_html_is_escaped_and_self_contained() -> None:
    evil = "<script>alert('x')</script> & <b>"
    msg = format_signal(
        _decision((_open_core(CONDOR, evil),)),
        dashboard_url="https://vix.example/?a=1&b=<2>",
    )
    assert "<script>" not in msg.html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;" in msg.html
    assert 'href="https://vix.example/?a=1&amp;b=&lt;2&gt;"' in msg.html
    for external in ("<link", "<img", "<script", "src=", "url(", "<style", "@import"):
        assert external not in msg.html
    assert CONDOR in msg.html
    assert "9.80 credit per unit" in msg.html
    assert evil in msg.text  # plain text stays plain
    ticket = next(t for t in _slack_texts(msg.slack) if CONDOR in t)
    assert "&lt;script&gt;" in ticket
    assert "<script>" not in ticket


def test_a_non_http_dashboard_url_is_dropped() -> None:
    msg = format_signal(_decision(), dashboard_url="javascript:alert(1)")
    assert "javascript" not in msg.html
    assert "javascript" not in msg.text


def _check_slack_limits(payload: dict[str, Any]) -> None:
    blocks = payload["blocks"]
    assert len(blocks) <= SLACK_MAX_BLOCKS
    assert blocks[0]["type"] == "header"
    assert len(blocks[0]["text"]["text"]) <= SLACK_HEADER_MAX
    for b in blocks[1:]:
        assert b["type"] in {"section", "divider", "context"}
        if "text" in b:
            assert len(b["text"]["text"]) <= SLACK_SECTION_MAX
        assert len(b.get("fields", [])) <= SLACK_MAX_FIELDS
        assert all(len(f["text"]) <= SLACK_FIELD_MAX for f in b.get("fields", []))
    assert len(payload["text"]) <= 3000
    json.dumps(payload, allow_nan=False)


def test_slack_payload_has_text_and_blocks() -> None:
    msg = format_signal(_busy_decision(), run=RUN)
    _check_slack_limits(msg.slack)
    assert set(msg.slack) == {"text", "blocks"}
    assert msg.slack["text"].startswith("VixShield signal 2026-09-01 (recorded)")
    assert msg.slack["blocks"][0]["text"]["text"] == msg.subject
    texts = "\n".join(_slack_texts(msg.slack))
    assert CONDOR in texts
    assert HEDGE in texts
    assert "*Hedge actions (1)*" in texts
    assert "-$607.38 per 1% SPX" in texts
    assert "#12 revision 2" in texts


def test_slack_limits_hold_for_200_orders() -> None:
    orders = tuple(_open_core(f"SPX condor #{i}") for i in range(200))
    exp = date(2026, 10, 21)
    hedge = OrderIntent(
        Action.OPEN,
        Layer.HEDGE,
        Structure(HEDGE, (_leg("VIX", exp, 25, Right.CALL, 3, 1.1),)),
        -1.1,
        ("buy the short layer",),
    )
    long_reason = "a very long reason " * 400
    decision = _decision((*orders, hedge), refusals=(Refusal(Layer.RISK, "x", (long_reason,)),))
    msg = format_signal(decision)
    _check_slack_limits(msg.slack)
    texts = _slack_texts(msg.slack)
    shown = sum(1 for t in texts if re.match(r"\*\d+\. OPEN core", t))
    assert 0 < shown < 200
    assert any(f"… {200 - shown} more orders not shown" in t for t in texts)
    assert any(HEDGE in t for t in texts)  # the hedge is not crowded out
    assert any("…" in t and "x" in t for t in texts if "Refusals" in t)
    assert msg.text.count("OPEN core: SPX condor #") == 200  # e-mail text: every order
    assert msg.html.count("OPEN core: SPX condor #") == 200


def test_slack_section_over_3000_characters_is_cut_with_a_count() -> None:
    reasons = tuple(f"reason {i} " + "x" * 150 for i in range(40))
    msg = format_signal(_decision((_open_core(CONDOR, *reasons),)))
    _check_slack_limits(msg.slack)
    ticket = next(t for t in _slack_texts(msg.slack) if CONDOR in t)
    more = re.search(r"… (\d+) more lines$", ticket)
    assert more is not None
    assert ticket.count("• reason ") + int(more.group(1)) == 40


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
            "https://hooks.slack.com/services/…",
        ),
        ("http://user:pw@127.0.0.1:8080/hook?token=abc", "http://127.0.0.1:8080/hook/…"),
        ("http://localhost:9000/hook", "http://localhost:9000/hook"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/?key=1", "https://example.com/…"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


# --------------------------------------------------------------------------------------------
# Webhooks


@dataclass
class Sleeps:
    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _settings(**kw: Any) -> NotifySettings:
    base: dict[str, Any] = {"retries": 3, "backoff_seconds": 0.5, "timeout_seconds": 5.0}
    return NotifySettings(**(base | kw))


SECRET_PATH = "/services/T000/B000/XXXXSECRET"


def test_webhook_posts_slack_json(httpserver: HTTPServer) -> None:
    msg = format_signal(_busy_decision(), run=RUN)
    httpserver.expect_request(SECRET_PATH, method="POST").respond_with_data("ok")
    sleeps = Sleeps()
    result = send_webhook(httpserver.url_for(SECRET_PATH), msg.slack, _settings(), sleep=sleeps)
    assert result == SendResult(
        "webhook",
        mask_url(httpserver.url_for(SECRET_PATH)),
        ok=True,
        attempts=1,
        status_code=200,
    )
    assert "XXXXSECRET" not in result.target
    assert result.target.endswith("/services/…")
    assert sleeps.waits == []
    ((request, _),) = httpserver.log
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["User-Agent"].startswith("vixshield/")
    body = json.loads(request.get_data())
    assert body == msg.slack
    assert isinstance(body["text"], str)
    assert body["blocks"][0]["type"] == "header"


def test_webhook_retries_5xx_then_succeeds(httpserver: HTTPServer) -> None:
    for status in (500, 500, 200):
        httpserver.expect_ordered_request("/hook", method="POST").respond_with_data(
            "x", status=status
        )
    sleeps = Sleeps()
    result = send_webhook(httpserver.url_for("/hook"), {"text": "t"}, _settings(), sleep=sleeps)
    assert (result.ok, result.attempts, result.status_code, result.error) == (True, 3, 200, None)
    assert sleeps.waits == [0.5, 1.0]
    assert len(httpserver.log) == 3


def test_webhook_gives_up_after_the_retries(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request(SECRET_PATH).respond_with_data("down for maintenance", status=503)
    sleeps = Sleeps()
    with caplog.at_level(logging.WARNING, logger="vixshield.service.notify"):
        result = send_webhook(
            httpserver.url_for(SECRET_PATH), {"text": "t"}, _settings(retries=2), sleep=sleeps
        )
    assert (result.ok, result.attempts, result.status_code) == (False, 3, 503)
    assert result.error == "HTTP 503 SERVICE UNAVAILABLE: down for maintenance"
    assert sleeps.waits == [0.5, 1.0]  # no Retry-After: the backoff
    assert len(httpserver.log) == 3
    assert "retrying in 0.5 s" in caplog.text
    assert "not delivered after 3" in caplog.text
    assert "XXXXSECRET" not in caplog.text


def test_webhook_honours_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "3"}
    )
    httpserver.expect_ordered_request("/hook").respond_with_data(
        "busy", status=503, headers={"Retry-After": "600"}
    )
    httpserver.expect_ordered_request("/hook").respond_with_data("slow down", status=429)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    sleeps = Sleeps()
    result = send_webhook(httpserver.url_for("/hook"), {"text": "t"}, _settings(), sleep=sleeps)
    assert (result.ok, result.attempts) == (True, 4)
    # Retry-After 3; Retry-After 600 capped at 60; no header: the third backoff 0.5 * 4
    assert sleeps.waits == [3.0, MAX_WAIT_SECONDS, 2.0]


def test_webhook_retry_after_only_once_is_enough(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "3"}
    )
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    sleeps = Sleeps()
    result = send_webhook(httpserver.url_for("/hook"), {"text": "t"}, _settings(), sleep=sleeps)
    assert (result.ok, result.attempts, sleeps.waits) == (True, 2, [3.0])


def test_webhook_retry_after_as_an_http_date(httpserver: HTTPServer) -> None:
    later = email.utils.format_datetime(SystemClock().now() + timedelta(hours=1), usegmt=True)
    httpserver.expect_ordered_request("/hook").respond_with_data(
        "busy", status=503, headers={"Retry-After": later}
    )
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    sleeps = Sleeps()
    result = send_webhook(httpserver.url_for("/hook"), {"text": "t"}, _settings(), sleep=sleeps)
    assert (result.ok, result.attempts, sleeps.waits) == (True, 2, [MAX_WAIT_SECONDS])


def test_webhook_4xx_is_reported_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("invalid_blocks", status=400)
    sleeps = Sleeps()
    result = send_webhook(httpserver.url_for("/hook"), {"text": "t"}, _settings(), sleep=sleeps)
    assert (result.ok, result.attempts, result.status_code) == (False, 1, 400)
    assert result.error == "HTTP 400 BAD REQUEST: invalid_blocks"
    assert sleeps.waits == []
    assert len(httpserver.log) == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_webhook_connection_refused_exhausts_the_retries_with_capped_waits() -> None:
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{_closed_port()}/services/T0/B0/SECRET"
    result = send_webhook(url, {"text": "t"}, _settings(backoff_seconds=40.0), sleep=sleeps)
    assert (result.ok, result.attempts, result.status_code) == (False, 4, None)
    assert result.error is not None
    assert result.error.startswith("ConnectError")
    assert "SECRET" not in result.error
    assert "SECRET" not in result.target
    assert sleeps.waits == [40.0, 60.0, 60.0]  # 40, 80 -> 60, 160 -> 60


def test_webhook_timeout_is_retried(httpserver: HTTPServer) -> None:
    release = threading.Event()
    served: list[int] = []

    def slow(request: Request) -> Response:
        release.wait(10)
        served.append(1)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    sleeps = Sleeps()
    settings = _settings(retries=1, timeout_seconds=0.2)
    started = time.monotonic()
    result = send_webhook(httpserver.url_for("/slow"), {"text": "t"}, settings, sleep=sleeps)
    elapsed = time.monotonic() - started
    release.set()
    deadline = time.monotonic() + 10
    while len(served) < 2 and time.monotonic() < deadline:  # let the server finish both
        time.sleep(0.01)
    assert (result.ok, result.attempts, result.status_code) == (False, 2, None)
    assert result.error is not None
    assert result.error.startswith("timed out after 0.2 s")
    assert sleeps.waits == [0.5]
    assert elapsed < 5


def test_webhook_uses_a_given_client_and_leaves_it_open(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    with httpx.Client() as client:
        result = send_webhook(
            httpserver.url_for("/hook"), {"text": "t"}, _settings(), client=client
        )
        assert result.ok
        assert not client.is_closed


def test_webhook_payload_that_is_not_json_is_reported() -> None:
    result = send_webhook("http://127.0.0.1:1/x", {"text": float("nan")}, _settings())
    assert (result.ok, result.attempts) == (False, 0)
    assert result.error is not None
    assert result.error.startswith("not JSON")


# --------------------------------------------------------------------------------------------
# E-mail


def _free_port() -> int:
    return _closed_port()


@dataclass
class MailHandler:
    """Answers DATA from ``answers`` in turn (then 250) and keeps what it accepted."""

    answers: list[str] = field(default_factory=list)
    received: list[Envelope] = field(default_factory=list)
    calls: int = 0

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: aiosmtp.SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else "250 OK"
        if answer.startswith("250"):
            self.received.append(envelope)
        return answer


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., Controller]]:
    started: list[Controller] = []

    def start(handler: MailHandler, **kw: Any) -> Controller:
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), **kw)
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


def _mail_settings(controller: Controller, **kw: Any) -> NotifySettings:
    email_kw: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": controller.port,
        "starttls": False,
        "sender": "VixShield <signal@desk.example>",
        "recipients": ("trader@desk.example", "risk@desk.example"),
    }
    return _settings(email=EmailSettings(**(email_kw | kw)))


def _parse(envelope: Envelope) -> EmailMessage:
    assert isinstance(envelope.content, bytes)
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_email_arrives_as_text_and_html(smtp_server: Callable[..., Controller]) -> None:
    handler = MailHandler()
    settings = _mail_settings(smtp_server(handler))
    message = format_signal(_busy_decision(), run=RUN)
    result = send_email(message, settings, sleep=Sleeps())
    assert (result.channel, result.ok, result.attempts, result.error) == ("email", True, 1, None)
    assert result.target == f"smtp://127.0.0.1:{settings.email.port}"
    (envelope,) = handler.received
    assert envelope.mail_from == "signal@desk.example"
    assert envelope.rcpt_tos == ["trader@desk.example", "risk@desk.example"]
    msg = _parse(envelope)
    assert msg["Subject"] == message.subject
    assert msg["From"] == "VixShield <signal@desk.example>"
    assert msg["To"] == "trader@desk.example, risk@desk.example"
    assert msg["Date"] is not None
    assert email.utils.parsedate_to_datetime(msg["Date"]).tzinfo
    assert re.fullmatch(r"<[^@>]+@desk\.example>", msg["Message-ID"])
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().replace("\r\n", "\n") == message.text
    assert CONDOR in html.get_content()
    assert "No orders today" not in html.get_content()


def test_email_retries_transient_4xx(smtp_server: Callable[..., Controller]) -> None:
    handler = MailHandler(["451 4.3.0 try again later", "451 4.3.0 try again later"])
    settings = _mail_settings(smtp_server(handler))
    sleeps = Sleeps()
    result = send_email(format_signal(_decision()), settings, sleep=sleeps)
    assert (result.ok, result.attempts, result.error) == (True, 3, None)
    assert sleeps.waits == [0.5, 1.0]
    assert handler.calls == 3
    assert len(handler.received) == 1


def test_email_permanent_5xx_is_not_retried(smtp_server: Callable[..., Controller]) -> None:
    handler = MailHandler(["550 5.7.1 message rejected"])
    settings = _mail_settings(smtp_server(handler))
    sleeps = Sleeps()
    result = send_email(format_signal(_decision()), settings, sleep=sleeps)
    assert (result.ok, result.attempts) == (False, 1)
    assert result.error == "SMTP 550 5.7.1 message rejected"
    assert sleeps.waits == []
    assert handler.received == []


@dataclass
class Authenticator:
    seen: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    def __call__(
        self, server: aiosmtp.SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.seen.append((mechanism, data.login, data.password))
        ok = data.login == b"desk" and data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


def test_email_logs_in_with_the_password_from_the_environment(
    smtp_server: Callable[..., Controller], monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = Authenticator()
    handler = MailHandler()
    controller = smtp_server(handler, authenticator=auth, auth_require_tls=False)
    monkeypatch.setenv("NTFY_TEST_SMTP_PASSWORD", "s3cret")
    settings = _mail_settings(controller, username="desk", password_env="NTFY_TEST_SMTP_PASSWORD")
    result = send_email(format_signal(_decision()), settings, sleep=Sleeps())
    assert result.ok
    assert result.attempts == 1
    assert [(login, pw) for _, login, pw in auth.seen] == [(b"desk", b"s3cret")]
    assert len(handler.received) == 1


def test_email_wrong_password_is_not_retried(
    smtp_server: Callable[..., Controller], monkeypatch: pytest.MonkeyPatch
) -> None:
    controller = smtp_server(MailHandler(), authenticator=Authenticator(), auth_require_tls=False)
    monkeypatch.setenv("NTFY_TEST_SMTP_PASSWORD", "wrong")
    settings = _mail_settings(controller, username="desk", password_env="NTFY_TEST_SMTP_PASSWORD")
    sleeps = Sleeps()
    result = send_email(format_signal(_decision()), settings, sleep=sleeps)
    assert (result.ok, result.attempts, sleeps.waits) == (False, 1, [])
    assert result.error is not None
    assert result.error.startswith("SMTP 535")


def test_email_username_without_password_is_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NTFY_TEST_SMTP_PASSWORD", raising=False)
    settings = _settings(
        email=EmailSettings(
            host="127.0.0.1",
            port=_closed_port(),
            username="desk",
            password_env="NTFY_TEST_SMTP_PASSWORD",
            sender="s@desk.example",
            recipients=("t@desk.example",),
        )
    )
    result = send_email(format_signal(_decision()), settings)
    assert (result.ok, result.attempts) == (False, 0)
    assert result.error is not None
    assert "$NTFY_TEST_SMTP_PASSWORD" in result.error


def test_email_starttls_required_but_not_offered_is_not_sent_in_clear(
    smtp_server: Callable[..., Controller],
) -> None:
    handler = MailHandler()
    settings = _mail_settings(smtp_server(handler), starttls=True)
    sleeps = Sleeps()
    result = send_email(format_signal(_decision()), settings, sleep=sleeps)
    assert (result.ok, result.attempts, sleeps.waits) == (False, 1, [])
    assert result.error is not None
    assert "STARTTLS" in result.error
    assert handler.calls == 0


def test_email_connection_refused_is_retried() -> None:
    settings = _settings(
        retries=2,
        email=EmailSettings(
            host="127.0.0.1",
            port=_closed_port(),
            starttls=False,
            sender="s@desk.example",
            recipients=("t@desk.example",),
        ),
    )
    sleeps = Sleeps()
    result = send_email(format_signal(_decision()), settings, sleep=sleeps)
    assert (result.ok, result.attempts, sleeps.waits) == (False, 3, [0.5, 1.0])
    assert result.error is not None
    assert result.error.startswith("ConnectionRefusedError")


@pytest.mark.parametrize(
    ("email_kw", "error"),
    [
        ({}, "not configured"),
        ({"host": "127.0.0.1", "recipients": ("t@x.example",)}, "sender is empty"),
        ({"host": "127.0.0.1", "sender": "s@x.example"}, "recipients is empty"),
    ],
)
def test_email_incomplete_settings_are_reported(email_kw: dict[str, Any], error: str) -> None:
    result = send_email(format_signal(_decision()), _settings(email=EmailSettings(**email_kw)))
    assert (result.ok, result.attempts) == (False, 0)
    assert result.error is not None
    assert error in result.error


# --------------------------------------------------------------------------------------------
# Everything at once


def test_notify_signal_sends_to_every_channel(
    httpserver: HTTPServer, smtp_server: Callable[..., Controller]
) -> None:
    httpserver.expect_request("/a").respond_with_data("ok")
    httpserver.expect_request("/b").respond_with_data("nope", status=404)
    handler = MailHandler()
    controller = smtp_server(handler)
    settings = _mail_settings(controller).model_copy(
        update={
            "webhook": WebhookSettings(urls=(httpserver.url_for("/a"), httpserver.url_for("/b")))
        }
    )
    results = notify_signal(
        _busy_decision(), settings, run=RUN, dashboard_url="https://vix.example/", sleep=Sleeps()
    )
    assert [(r.channel, r.ok, r.status_code) for r in results] == [
        ("webhook", True, 200),
        ("webhook", False, 404),
        ("email", True, None),
    ]
    posted = [json.loads(req.get_data()) for req, _ in httpserver.log]
    assert posted[0] == posted[1]
    assert posted[0]["blocks"][0]["type"] == "header"
    (envelope,) = handler.received
    assert _parse(envelope)["Subject"] == "VixShield 2026-09-01: calm, 2 orders, 1 hedge action"


def test_notify_signal_with_nothing_configured_sends_nothing() -> None:
    assert notify_signal(_decision(), NotifySettings()) == []


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by the openssl command line."""
    cert, key = tmp_path / "smtp-cert.pem", tmp_path / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_email_over_starttls_trusting_the_configured_ca(
    smtp_server: Callable[..., Controller], tmp_path: Path
) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make the test certificate")
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    handler = MailHandler()
    controller = smtp_server(handler, tls_context=server_tls, require_starttls=True)
    trusted = _mail_settings(controller, starttls=True, ca_file=str(cert))
    result = send_email(format_signal(_decision()), trusted, sleep=Sleeps())
    assert (result.ok, result.attempts, result.error) == (True, 1, None)
    assert len(handler.received) == 1
    # Without the CA the certificate is not trusted: refused at once, never sent in clear.
    untrusted = _mail_settings(controller, starttls=True)
    refused = send_email(format_signal(_decision()), untrusted, sleep=Sleeps())
    assert (refused.ok, refused.attempts) == (False, 1)
    assert refused.error is not None
    assert "certificate" in refused.error.lower()
    assert len(handler.received) == 1


def test_the_failure_message_says_no_signal_why_and_what_to_do() -> None:
    msg = format_failure(
        "2026-11-20",
        "DataError: vix.csv, line 12, field 'close': '<b>' is not a number",
        run={"id": 9, "revision": 2},
        dashboard_url="https://desk.example/vix/",
    )
    assert msg.subject == "VixShield: NO SIGNAL for 2026-11-20: the daily run failed"
    assert "(run 9, revision 2)" in msg.text
    assert "vix.csv, line 12" in msg.text
    assert "vixshield run-daily --date 2026-11-20" in msg.text
    assert "https://desk.example/vix/" in msg.text
    assert "&lt;b&gt;" in msg.html
    assert "<b>" not in msg.html.replace("<b>'", "")
    assert "&lt;b&gt;" in msg.slack["blocks"][1]["text"]["text"]
    assert len(msg.slack["blocks"][0]["text"]["text"]) <= 150


def test_an_order_waiting_since_earlier_sessions_says_so() -> None:
    decision = _busy_decision()
    decision["orders"][0]["proposed_since"] = "2026-11-17"
    msg = format_signal(decision, run=RUN)
    assert re.search(r"proposed since\s+2026-11-17, every session \(no fill recorded\)", msg.text)
    assert "2026-11-17, every session" in msg.html
    assert "2026-11-17" in json.dumps(msg.slack)
    plain = format_signal(_busy_decision(), run=RUN)
    assert "proposed since" not in plain.text
