"""The API served by a real uvicorn server on 127.0.0.1 (a free port), hit with httpx.

Health, a signal, the dashboard and the plotly bundle over HTTP; then readers in threads while
``POST /api/runs`` journals a new signal (a stub daily job that writes a real run and decision
into the same SQLite journal): no answer is a server error, a second trigger meanwhile is 409,
and the new signal is served once the run is done.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig, fingerprint
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.decisions import DayDecision
from vixshield.engine import run_day
from vixshield.journal import Journal
from vixshield.service.api import SIGNAL_MODE, create_app
from vixshield.service.daily import DailyOutcome
from vixshield.service.settings import ApiSettings, ServiceSettings
from vixshield.strategy.condor import CondorParams

CONFIG = StrategyConfig(condor=CondorParams(wing_points=25.0))
TOKEN_ENV = "VIXSHIELD_API_SERVER_TOKEN"
TOKEN = "server-token-xyz"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAYS = (date(2018, 1, 2), date(2018, 1, 3), date(2018, 1, 4), date(2018, 1, 5))
CLOCK = FixedClock(datetime(2018, 1, 5, 22, 0, tzinfo=UTC))  # 17:00 New York
CHROMIUM = Path(os.environ.get("VIXSHIELD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def decisions() -> dict[date, DayDecision]:
    history = MarketHistory.from_synthetic(
        synthetic_market(date(2017, 1, 3), date(2018, 2, 28), seed=7)
    )
    return {
        day: run_day(history, day, clock=FixedClock(stamp(day)), config=CONFIG, equity_usd=1e6)
        for day in DAYS
    }


def _record(journal: Journal, decision: DayDecision) -> None:
    run = journal.start_run(
        decision.session, SIGNAL_MODE, CONFIG.model_dump_json(), fingerprint(CONFIG)
    )
    journal.record_decision(run, decision)
    journal.finish(run)


class _Server:
    """uvicorn in a thread on a socket bound to a free port; ``should_exit`` stops it."""

    def __init__(self, app: Any) -> None:
        # IPPROTO_TCP named, so that asyncio sets TCP_NODELAY on the connections it accepts
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", ws="none", http="h11"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()
        assert not self.thread.is_alive()


@pytest.fixture
def served(
    tmp_path: Path, decisions: dict[date, DayDecision], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Journal, dict[str, Any]]]:
    """A server over a journal holding the first three sessions; its stub runner journals
    the fourth (slowly, so that readers overlap it)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    journal = Journal.open(data_dir=tmp_path)
    for day in DAYS[:3]:
        _record(journal, decisions[day])
    state: dict[str, Any] = {"calls": 0, "entered": threading.Event()}

    def runner(_settings: ServiceSettings, **kw: Any) -> DailyOutcome:
        state["calls"] += 1
        j: Journal = kw["journal"]
        decision = decisions[DAYS[3]]
        run = j.start_run(
            decision.session, SIGNAL_MODE, CONFIG.model_dump_json(), fingerprint(CONFIG)
        )
        state["entered"].set()
        time.sleep(0.8)  # the readers keep reading meanwhile
        j.record_decision(run, decision)
        done = j.finish(run)
        return DailyOutcome(
            "recorded", decision.session, "recorded", run=done, decision=decision.to_json()
        )

    settings = ServiceSettings(api=ApiSettings(token_env=TOKEN_ENV))
    app = create_app(settings, journal=journal, clock=CLOCK, runner=runner)
    with _Server(app) as server:
        yield server.url, journal, state
    journal.close()


def test_health_signal_dashboard_and_plotly_over_http(
    served: tuple[str, Journal, dict[str, Any]], decisions: dict[date, DayDecision]
) -> None:
    url, journal, _ = served
    with httpx.Client(base_url=url, timeout=30) as client:
        health = client.get("/api/health")
        assert health.status_code == 200
        assert health.json()["journal"]["schema_revision"] == journal.schema_revision()
        assert health.json()["last_signal_run"]["day"] == "2018-01-04"
        signal = client.get("/api/signal/2018-01-04")
        assert signal.status_code == 200
        assert signal.json()["decision"] == decisions[date(2018, 1, 4)].to_json()
        missing = client.get("/api/signal/today")  # 2018-01-05 is not journaled yet
        assert missing.status_code == 404
        assert missing.json()["detail"].startswith("no signal journaled for 2018-01-05")
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "content-security-policy" in page.headers
        assert "/static/plotly.min.js" in page.text
        js = client.get("/static/plotly.min.js")
        assert js.status_code == 200
        assert js.headers["content-type"].startswith("application/javascript")
        assert js.headers["content-encoding"] == "gzip"  # httpx asks for it and decodes it
        assert "max-age=31536000" in js.headers["cache-control"]
        assert len(js.content) > 1_000_000


def test_readers_during_a_run_see_no_server_error(
    served: tuple[str, Journal, dict[str, Any]],
) -> None:
    url, journal, state = served
    paths = ["/api/signal/2018-01-04", "/api/signals", "/api/book", "/api/runs", "/api/health"]
    statuses: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def reader(k: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            i = k
            while not stop.is_set():
                r = client.get(paths[i % len(paths)])
                with lock:
                    statuses.append(r.status_code)
                i += 1

    readers = [threading.Thread(target=reader, args=(k,)) for k in range(6)]
    for t in readers:
        t.start()
    result: dict[str, httpx.Response] = {}

    def trigger() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            result["run"] = client.post("/api/runs", json={}, headers=AUTH)

    first = threading.Thread(target=trigger)
    first.start()
    try:
        assert state["entered"].wait(20)
        with httpx.Client(base_url=url, timeout=30) as client:
            again = client.post("/api/runs", json={"force": True}, headers=AUTH)
        assert again.status_code == 409
        assert again.json()["error"] == "run_in_progress"
        first.join(30)
    finally:
        stop.set()
        for t in readers:
            t.join(30)
    assert result["run"].status_code == 201
    assert result["run"].json()["session"] == "2018-01-05"
    assert state["calls"] == 1
    assert len(statuses) > 20
    assert all(s == 200 for s in statuses), sorted(set(statuses))
    with httpx.Client(base_url=url, timeout=30) as client:
        today = client.get("/api/signal/today")
        assert today.status_code == 200
        assert today.json()["session"] == "2018-01-05"
        assert client.get("/api/signals").json()["count"] == 4
    assert journal.runs()[-1].status == "succeeded"


def test_the_served_dashboard_draws_every_figure_under_its_csp(
    served: tuple[str, Journal, dict[str, Any]],
) -> None:
    """Chromium loads ``/`` from the server: the header CSP (inline scripts allowed by hash)
    refuses nothing the page needs, nothing is fetched from another origin, every figure draws."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"chromium not found at {CHROMIUM}: run `bash scripts/ensure-chromium.sh`, or set "
            "VIXSHIELD_CHROMIUM to a chromium binary.",
            pytrace=False,
        )
    from playwright.sync_api import Route, sync_playwright

    url = served[0]
    errors: list[str] = []
    foreign: list[str] = []

    def route(r: Route) -> None:
        if r.request.url.startswith(url + "/"):
            r.continue_()
        else:
            foreign.append(r.request.url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", route)
            page.goto(url + "/", wait_until="load")
            page.wait_for_function(
                "document.querySelectorAll('[data-figure] .main-svg').length >= 1",
                timeout=60_000,
            )
            page.wait_for_load_state("networkidle")
            figures = page.evaluate("document.querySelectorAll('[data-figure]').length")
            drawn = page.evaluate(
                "[...document.querySelectorAll('[data-figure]')]"
                ".filter(f => f.querySelector('.main-svg')).length"
            )
        finally:
            browser.close()
    assert errors == []
    assert foreign == []
    assert figures >= 2
    assert drawn == figures
