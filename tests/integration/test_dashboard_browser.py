"""The service dashboard in a real browser: Debian chromium driven by Playwright.

A realistic view is built from a short synthetic full-ALVH backtest (2017-12-01 to 2018-03-12,
seed 7, 25-point wings): the last session's decision (condors, VIX call spreads, five orders
that day), one history item per session, the book's closing equity, the hedge events as
activations, and a real backtest folder (``write_backtest_report`` of that run and an unhedged
one) read back with :func:`load_backtest`. Backtest decisions leave ``book["marks"]`` and
``book["payoff"]`` out; the fixture has the engine compute them for the positions held at the
end, as the daily job journals them.

Each page is served with plotly.js from a tiny HTTP server on 127.0.0.1 (a free port), the
page's ``plotly_src`` pointing at it; every request to any other origin is aborted and recorded,
and none may happen. The page must log no console error (a CSP violation is one) and every
figure must draw its ``.main-svg``. Full-page screenshots go to the test's temporary folder and
to ``$VIXSHIELD_DASHBOARD_SHOTS`` (default ``/tmp/dash_shots``) for a person to look at.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from vixshield.backtest.baselines import run_baseline
from vixshield.backtest.runner import BacktestResult
from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.synthetic import synthetic_market
from vixshield.engine import NoStage, run_day
from vixshield.report.backtest_report import write_backtest_report
from vixshield.service.dashboard import (
    DashboardView,
    history_item,
    load_backtest,
    plotly_js,
    render_dashboard,
)
from vixshield.strategy.condor import CondorParams

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("VIXSHIELD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(os.environ.get("VIXSHIELD_DASHBOARD_SHOTS", "/tmp/dash_shots"))
START, END = date(2017, 12, 1), date(2018, 3, 12)
RENDER_TIMEOUT_MS = 60_000


def _chromium() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"chromium not found at {CHROMIUM}: the dashboard's browser test needs it. Run "
            "`bash scripts/ensure-chromium.sh`, or set VIXSHIELD_CHROMIUM to a chromium binary.",
            pytrace=False,
        )
    return CHROMIUM


# -- the view ---------------------------------------------------------------------------------


def _activations(result: BacktestResult) -> list[dict[str, Any]]:
    out = []
    for row in result.hedge_events.to_dict(orient="records"):
        contracts = int(row["contracts"])
        out.append(
            {
                "session": str(row["session"])[:10],
                "trading_day": str(row["session"])[:10],
                "structure": str(row["structure"]),
                "action": str(row["action"]),
                # + a credit (a sale), - a debit (a purchase), per contract in points
                "limit_price": float(row["premium_usd"]) / (100.0 * contracts),
                "contracts": contracts,
                "reasons": [str(row["reason"])],
            }
        )
    return out


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DashboardView]:
    history = MarketHistory.from_synthetic(synthetic_market(date(2017, 1, 3), END, seed=7))
    config = StrategyConfig(condor=CondorParams(wing_points=25.0))
    runs = {
        name: run_baseline(
            name, history, start=START, end=END, config=config, equity_usd=1_000_000.0
        )
        for name in ("full_alvh", "unhedged")
    }
    result = runs["full_alvh"]
    decisions = [d.to_json() for d in result.decisions]
    latest = json.loads(json.dumps(decisions[-1]))
    book = result.portfolio.book()
    assert any(s.underlying == "VIX" for s in book.structures)
    assert latest["orders"], "the fixture wants a session with orders"
    # Backtests leave the book views out (run_day(book_views=False)); the engine computes the
    # marks and payoff of the book held at the end, as the daily job journals them.
    views_of_book = run_day(
        history, END, clock=FixedClock(stamp(END)), config=config, book=book,
        equity_usd=float(result.daily["equity_usd"].iloc[-1]),
        stages=(NoStage("views", "marks and payoff only"),),
    ).to_json()["book"]  # fmt: skip
    latest["book"]["marks"] = views_of_book["marks"]
    latest["book"]["payoff"] = views_of_book["payoff"]
    daily = result.daily
    out_dir = tmp_path_factory.mktemp("dash_backtest")
    write_backtest_report(
        out_dir,
        {name: {0.0: r} for name, r in runs.items()},
        title="VixShield backtest: synthetic market, 2017-12-01 to 2018-03-12",
        config_text="[condor]\nwing_points = 25.0\n",
        data_description="embedded default market (synthetic, seed 7)",
    )
    generated = stamp(END) + timedelta(minutes=20)
    full = DashboardView(
        generated_at=generated,
        decision=latest,
        run={
            "id": 68,
            "trading_day": END.isoformat(),
            "revision": 1,
            "status": "succeeded",
            "started_at": (generated - timedelta(seconds=9)).isoformat(),
            "finished_at": (generated - timedelta(seconds=2)).isoformat(),
            "code_version": "0.1.0+g1e7a590",
            "config_fingerprint": latest["config_fingerprint"],
        },
        history=[history_item(d) for d in decisions],
        hedge_activations=_activations(result),
        book_equity=[
            {
                "session": t.date().isoformat(),
                "equity_usd": float(row["equity_usd"]),
                "options_value_usd": float(row["option_value_usd"]),
                "cash_usd": float(row["cash_usd"]),
            }
            for t, row in daily.iterrows()
        ],
        backtest=load_backtest(out_dir),
        notes=("Fixture page: synthetic market, seed 7.",),
    )
    legacy_decision = json.loads(json.dumps(decisions[-1]))
    legacy_decision["book"].pop("payoff", None)
    legacy_decision["book"].pop("marks", None)
    return {
        "full": full,
        # An older decision (no marks, no payoff), two sessions late, no backtest configured.
        "legacy": replace(
            full,
            decision=legacy_decision,
            generated_at=datetime(2018, 3, 14, 23, 0, tzinfo=UTC),
            backtest=None,
            notes=(),
        ),
        "empty": DashboardView(
            generated_at=generated,
            decision=None,
            run=None,
            history=[],
            hedge_activations=[],
            book_equity=[],
            backtest=None,
        ),
    }


# -- serving and browsing ------------------------------------------------------------------------


class _Site:
    """A local HTTP server: ``/`` is the page, ``/static/plotly.min.js`` plotly.js."""

    def __init__(self) -> None:
        self.page = ""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/":
                    body, kind = site.page.encode("utf-8"), "text/html; charset=utf-8"
                elif self.path == "/static/plotly.min.js":
                    body, kind = plotly_js().encode("utf-8"), "text/javascript; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def site() -> Iterator[_Site]:
    with _Site() as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _browse(
    browser: Any, site: _Site, html: str, shot: Path, *, width: int = 1400
) -> dict[str, Any]:
    """Open ``html`` from the site; return what the page shows, errors and blocked requests."""
    from playwright.sync_api import Route

    site.page = html
    errors: list[str] = []
    blocked: list[str] = []

    def route(r: Route) -> None:
        if r.request.url.startswith(site.origin + "/"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context = browser.new_context(viewport={"width": width, "height": 1000})
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        page.route("**/*", route)
        page.goto(site.origin + "/", wait_until="load")
        n = page.evaluate("document.querySelectorAll('[data-figure]').length")
        page.wait_for_function(
            f"document.querySelectorAll('[data-figure] .main-svg').length >= {n}",
            timeout=RENDER_TIMEOUT_MS,
        )
        # A full-page screenshot grows the viewport, which makes the responsive plots redraw
        # while being captured: grow it first and let them settle.
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(500)
        seen: dict[str, Any] = page.evaluate(
            """() => {
                const figs = [...document.querySelectorAll('[data-figure]')];
                return {
                    ids: figs.map(f => f.id),
                    drawn: figs.filter(f => f.querySelector('.main-svg')).length,
                    // a plot taller than its div spills over the next section
                    spilled: figs.filter(f => [...f.querySelectorAll('.main-svg')].some(
                        s => s.getBoundingClientRect().bottom
                            > f.getBoundingClientRect().bottom + 1)).map(f => f.id),
                    traces: figs.map(f => (f.data || []).length),
                    sections: [...document.querySelectorAll('main > section')].map(s => s.id),
                    text: document.body.innerText,
                    scripts: [...document.scripts].map(s => s.src).filter(Boolean),
                    overflow: document.documentElement.scrollWidth
                        - document.documentElement.clientWidth,
                };
            }"""
        )
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SHOTS / shot.name)
    return {**seen, "errors": errors, "blocked": blocked}


SECTIONS = ["signal", "book", "payoff", "positions", "scenarios", "history", "equity"]


def test_full_dashboard_draws_every_figure_offline(
    views: Mapping[str, DashboardView], site: _Site, browser: Any, tmp_path: Path
) -> None:
    view = replace(views["full"], plotly_src=site.origin + "/static/plotly.min.js")
    shot = tmp_path / "dash_full.png"
    seen = _browse(browser, site, render_dashboard(view), shot)
    assert seen["errors"] == []
    assert seen["blocked"] == []
    assert seen["scripts"] == [site.origin + "/static/plotly.min.js"]
    assert seen["ids"] == ["fig-payoff", "fig-history", "fig-book-equity", "fig-backtest"]
    assert seen["drawn"] == 4
    assert seen["spilled"] == []
    assert all(t > 0 for t in seen["traces"]), seen["traces"]
    assert seen["sections"] == SECTIONS
    assert seen["overflow"] <= 0, "the page scrolls sideways"
    text = seen["text"]
    decision = view.decision
    assert decision is not None
    for order in decision["orders"]:
        for reason in order["reasons"]:
            assert reason in text
    assert "No orders today" not in text
    assert "No backtest configured" not in text
    assert shot.stat().st_size > 100_000


def test_full_dashboard_on_a_narrow_screen(
    views: Mapping[str, DashboardView], site: _Site, browser: Any, tmp_path: Path
) -> None:
    view = replace(views["full"], plotly_src=site.origin + "/static/plotly.min.js")
    seen = _browse(browser, site, render_dashboard(view), tmp_path / "dash_narrow.png", width=820)
    assert seen["errors"] == []
    assert seen["blocked"] == []
    assert seen["drawn"] == 4
    assert seen["spilled"] == []
    assert seen["overflow"] <= 0, "the page scrolls sideways: wide tables must scroll inside"


def test_relative_plotly_src_is_the_same_origin(
    views: Mapping[str, DashboardView], site: _Site, browser: Any, tmp_path: Path
) -> None:
    """The default ``/static/plotly.min.js`` loads from the page's own server."""
    seen = _browse(browser, site, render_dashboard(views["legacy"]), tmp_path / "dash_legacy.png")
    assert seen["errors"] == []
    assert seen["blocked"] == []
    assert seen["ids"] == ["fig-history", "fig-book-equity"]
    assert seen["drawn"] == 2
    text = seen["text"]
    assert "Stale: the latest signal is for 2018-03-12" in text
    assert "journaled before payoffs were recorded" in text
    assert "journaled before marks were recorded" in text
    assert "No backtest configured" in text


def test_empty_journal_page(
    views: Mapping[str, DashboardView], site: _Site, browser: Any, tmp_path: Path
) -> None:
    seen = _browse(browser, site, render_dashboard(views["empty"]), tmp_path / "dash_empty.png")
    assert seen["errors"] == []
    assert seen["blocked"] == []
    assert seen["ids"] == []
    assert "No signal journaled yet — run vixshield run-daily" in seen["text"]
    assert seen["sections"] == SECTIONS


def test_the_csp_refuses_other_origins(
    views: Mapping[str, DashboardView], site: _Site, browser: Any, tmp_path: Path
) -> None:
    """The page's CSP is in force: an image from another host is refused before any request
    (and the refusal is a console error, which the tests above would have caught)."""
    html = render_dashboard(views["empty"]).replace(
        "</body>", '<img src="http://192.0.2.1/x.png" alt=""></body>'
    )
    seen = _browse(browser, site, html, tmp_path / "dash_guard.png")
    assert seen["blocked"] == []
    assert any("Content Security Policy" in e for e in seen["errors"]), seen["errors"]


def test_missing_chromium_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.CHROMIUM", Path("/nonexistent/chromium"))
    with pytest.raises(pytest.fail.Exception, match=r"ensure-chromium\.sh"):
        _chromium()
