"""The HTTP API (vixshield.service.api) on a SQLite journal in a temporary directory.

Real decisions of the synthetic market are journaled as the daily job would; every endpoint is
called through FastAPI's TestClient and its numbers checked against the journal; then the
error paths (401, 404, 409, 422, 503, 500 without a traceback), private reads and headers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from starlette.exceptions import StarletteDeprecationWarning

from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig, fingerprint
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.decisions import DayDecision
from vixshield.domain.positions import Book, Leg, OptionContract, Right, Structure
from vixshield.engine import run_day
from vixshield.errors import JournalError
from vixshield.journal import Journal, RunHandle
from vixshield.service.api import SIGNAL_MODE, create_app, expected_session
from vixshield.service.daily import DailyOutcome
from vixshield.service.settings import ApiSettings, DataSettings, ServiceSettings
from vixshield.strategy.condor import CondorParams

with warnings.catch_warnings():
    # starlette's TestClient warns at import that it prefers httpx2 to httpx (installed)
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

CONFIG = StrategyConfig(condor=CondorParams(wing_points=25.0))
CONFIG_TEXT = CONFIG.model_dump_json()
FP = fingerprint(CONFIG)
DAYS = (date(2018, 1, 2), date(2018, 1, 3), date(2018, 1, 4))
EXPIRY = date(2018, 2, 16)  # the February 2018 SPX AM monthly
TOKEN = "api-test-token-0123456789"
TOKEN_ENV = "VIXSHIELD_API_TEST_TOKEN"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# 17:00 New York on 2018-01-04: that session's data is out (16:15)
AFTER_CLOSE = FixedClock(datetime(2018, 1, 4, 22, 0, tzinfo=UTC))
# 15:00 New York on 2018-01-04: only 2018-01-03's data is out
BEFORE_CLOSE = FixedClock(datetime(2018, 1, 4, 20, 0, tzinfo=UTC))


def _condor() -> Structure:
    legs = (
        Leg(OptionContract("SPX", EXPIRY, 650.0, Right.PUT), 2, 1.10),
        Leg(OptionContract("SPX", EXPIRY, 675.0, Right.PUT), -2, 2.40),
        Leg(OptionContract("SPX", EXPIRY, 765.0, Right.CALL), -2, 1.90),
        Leg(OptionContract("SPX", EXPIRY, 790.0, Right.CALL), 2, 0.80),
    )
    return Structure("held condor", legs)


HELD = Book((_condor(),), fees_usd={"held condor": 12.0}, opened={"held condor": date(2018, 1, 2)})


@pytest.fixture(scope="module")
def decisions() -> dict[date, DayDecision]:
    """Three consecutive sessions of the synthetic market, each holding the condor."""
    history = MarketHistory.from_synthetic(
        synthetic_market(date(2017, 1, 3), date(2018, 3, 29), seed=7)
    )
    return {
        day: run_day(
            history, day, clock=FixedClock(stamp(day)), config=CONFIG, book=HELD, equity_usd=1e6
        )
        for day in DAYS
    }


def _record(journal: Journal, decision: DayDecision, *, force: bool = False) -> RunHandle:
    run = journal.start_run(decision.session, SIGNAL_MODE, CONFIG_TEXT, FP, force=force)
    journal.record_decision(run, decision)
    return journal.finish(run)


@pytest.fixture
def journal(tmp_path: Path, decisions: dict[date, DayDecision]) -> Iterator[Journal]:
    j = Journal.open(data_dir=tmp_path / "journal")
    for d in decisions.values():
        _record(j, d)
    yield j
    j.close()


@pytest.fixture
def empty_journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal.open(data_dir=tmp_path / "empty")
    yield j
    j.close()


Make = Callable[..., TestClient]


@pytest.fixture
def make(monkeypatch: pytest.MonkeyPatch, journal: Journal) -> Make:
    """A client of an app over ``journal`` (or another), with the token set unless told."""

    def build(
        *,
        public_reads: bool = True,
        token: str | None = TOKEN,
        runner: Callable[..., DailyOutcome] | None = None,
        clock: FixedClock = AFTER_CLOSE,
        backtest_dir: str = "",
        on: Journal | None = None,
    ) -> TestClient:
        if token is None:
            monkeypatch.delenv(TOKEN_ENV, raising=False)
        else:
            monkeypatch.setenv(TOKEN_ENV, token)
        settings = ServiceSettings(
            api=ApiSettings(
                public_reads=public_reads, token_env=TOKEN_ENV, backtest_dir=backtest_dir
            )
        )
        app = create_app(
            settings, journal=on if on is not None else journal, clock=clock, runner=runner
        )
        return TestClient(app)

    return build


@pytest.fixture
def client(make: Make) -> TestClient:
    return make()


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert body["detail"]
    assert "Traceback" not in response.text
    return body


# -- health ------------------------------------------------------------------------------------


def test_health_reports_version_journal_last_run_and_both_clocks(
    client: TestClient, journal: Journal
) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["version"] == "0.1.0"
    assert body["journal"] == {
        "backend": "sqlite",
        "reachable": True,
        "schema_revision": journal.schema_revision(),
        "error": None,
    }
    last = journal.runs(mode=SIGNAL_MODE)[-1]
    assert body["last_signal_run"]["day"] == "2018-01-04"
    assert body["last_signal_run"]["run_id"] == last.id
    assert body["last_signal_run"]["status"] == "succeeded"
    assert body["expected_session"] == "2018-01-04"
    assert body["server_time_utc"] == "2018-01-04T22:00:00Z"
    assert body["server_time_new_york"] == "2018-01-04T17:00:00-05:00"


def test_health_outside_the_trading_calendar_still_answers(make: Make) -> None:
    later = FixedClock(datetime(2041, 6, 3, 22, 0, tzinfo=UTC))
    r = make(clock=later).get("/api/health")
    assert r.status_code == 200
    assert r.json()["expected_session"] is None
    assert r.json()["server_time_utc"] == "2041-06-03T22:00:00Z"


def test_health_is_public_even_with_private_reads(make: Make) -> None:
    assert make(public_reads=False).get("/api/health").status_code == 200


def test_health_says_degraded_with_503_when_the_journal_does_not_answer(
    make: Make, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> str:
        raise OperationalError("SELECT 1", {}, Exception("/secret/path/journal.sqlite locked"))

    monkeypatch.setattr(journal, "schema_revision", down)
    r = make().get("/api/health")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "degraded"
    assert body["journal"]["reachable"] is False
    assert "/secret/path" not in r.text


# -- signals -----------------------------------------------------------------------------------


def test_today_is_the_last_session_whose_data_is_out(
    make: Make, journal: Journal, decisions: dict[date, DayDecision]
) -> None:
    after = make().get("/api/signal/today")
    assert after.status_code == 200
    body = after.json()
    stored = journal.latest_decision(date(2018, 1, 4), SIGNAL_MODE)
    assert stored is not None
    assert body["session"] == "2018-01-04"
    assert body["decision"] == decisions[date(2018, 1, 4)].to_json()
    assert body["run"]["run_id"] == stored.run.id
    assert body["run"]["revision"] == 1
    assert body["run"]["config_fingerprint"] == FP
    assert body["run"]["code_version"] == "0.1.0"
    assert body["run"]["finished_at"] is not None
    assert body["links"]["self"] == "/api/signal/2018-01-04?revision=1"
    before = make(clock=BEFORE_CLOSE).get("/api/signal/today")
    assert before.json()["session"] == "2018-01-03"


def test_expected_session_skips_weekends_and_holidays() -> None:
    saturday = datetime(2018, 1, 6, 15, 0, tzinfo=UTC)
    assert expected_session(saturday) == date(2018, 1, 5)
    new_year = datetime(2018, 1, 1, 23, 0, tzinfo=UTC)
    assert expected_session(new_year) == date(2017, 12, 29)
    morning = datetime(2018, 1, 2, 14, 0, tzinfo=UTC)  # 09:00 New York
    assert expected_session(morning) == date(2017, 12, 29)


def test_today_without_a_signal_is_404_saying_how_to_make_it(
    make: Make, empty_journal: Journal
) -> None:
    r = make(on=empty_journal).get("/api/signal/today")
    body = _error(r, 404, "not_found")
    assert body["detail"] == (
        "no signal journaled for 2018-01-04: run vixshield run-daily or POST /api/runs"
    )


def test_a_signal_by_day_and_revision(
    client: TestClient, journal: Journal, decisions: dict[date, DayDecision]
) -> None:
    d = decisions[date(2018, 1, 3)]
    again = replace(d, notes=(*d.notes, "forced re-run"))
    second = _record(journal, again, force=True)
    latest = client.get("/api/signal/2018-01-03").json()
    assert latest["run"]["revision"] == 2
    assert latest["run"]["run_id"] == second.id
    assert latest["decision"]["notes"][-1] == "forced re-run"
    first = client.get("/api/signal/2018-01-03", params={"revision": 1}).json()
    assert first["run"]["revision"] == 1
    assert first["decision"] == d.to_json()
    missing = _error(client.get("/api/signal/2018-01-03", params={"revision": 7}), 404, "not_found")
    assert "[1, 2]" in missing["detail"]
    _error(client.get("/api/signal/2018-01-03", params={"revision": 0}), 422, "invalid_request")


def test_the_signal_body_is_the_journaled_text(client: TestClient, journal: Journal) -> None:
    stored = journal.latest_decision(date(2018, 1, 2), SIGNAL_MODE)
    assert stored is not None
    raw = client.get("/api/signal/2018-01-02").text
    assert raw.endswith(',"decision":' + stored.decision_json + "}")


def test_a_day_that_is_not_a_session_names_the_previous_session(client: TestClient) -> None:
    body = _error(client.get("/api/signal/2018-01-06"), 404, "not_a_session")
    assert "2018-01-06 (Saturday) is not a trading session" in body["detail"]
    assert "2018-01-05" in body["detail"]
    holiday = _error(client.get("/api/signal/2018-01-01"), 404, "not_a_session")
    assert "2017-12-29" in holiday["detail"]


def test_a_session_without_a_signal_and_one_in_the_future(client: TestClient) -> None:
    body = _error(client.get("/api/signal/2018-01-05"), 404, "not_found")
    assert "no signal journaled for 2018-01-05" in body["detail"]
    assert "2018-01-05T16:15:00-05:00" in body["detail"]  # when its data is out
    past = _error(client.get("/api/signal/2017-12-29"), 404, "not_found")
    assert past["detail"] == (
        "no signal journaled for 2017-12-29: run vixshield run-daily or POST /api/runs"
    )


@pytest.mark.parametrize("bad", ["2018-13-01", "yesterday", "2018-1-2x"])
def test_a_malformed_date_is_422_naming_the_field(client: TestClient, bad: str) -> None:
    body = _error(client.get(f"/api/signal/{bad}"), 422, "invalid_request")
    assert body["fields"][0]["field"] == "path.day"
    assert "YYYY-MM-DD" in body["fields"][0]["message"]


def test_a_date_outside_the_calendar_is_422(client: TestClient) -> None:
    body = _error(client.get("/api/signal/1900-01-02"), 422, "invalid_date")
    assert "outside the trading calendar" in body["detail"]


def test_signal_history_newest_first_one_per_session(
    client: TestClient, journal: Journal, decisions: dict[date, DayDecision]
) -> None:
    _record(journal, decisions[date(2018, 1, 2)], force=True)
    body = client.get("/api/signals").json()
    assert body["count"] == 3
    assert [i["session"] for i in body["items"]] == ["2018-01-04", "2018-01-03", "2018-01-02"]
    for item in body["items"]:
        d = decisions[date.fromisoformat(item["session"])]
        assert item["regime"] == d.regime
        assert item["orders"] == len(d.orders)
        assert item["hedge_score"] == d.book["stages"]["hedge"]["score"]
        assert item["href"] == f"/api/signal/{item['session']}?revision={item['revision']}"
    assert body["items"][2]["revision"] == 2  # the forced re-run of 2018-01-02
    limited = client.get("/api/signals", params={"limit": 1}).json()
    assert [i["session"] for i in limited["items"]] == ["2018-01-04"]
    window = client.get("/api/signals", params={"start": "2018-01-03", "end": "2018-01-03"})
    assert [i["session"] for i in window.json()["items"]] == ["2018-01-03"]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"start": "2018-02-01", "end": "2018-01-01"}],
)
def test_signal_history_refuses_bad_queries(client: TestClient, params: dict[str, Any]) -> None:
    body = _error(client.get("/api/signals", params=params), 422, "invalid_request")
    assert body["fields"][0]["field"].startswith("query.")


# -- book --------------------------------------------------------------------------------------


def test_the_book_holds_the_journaled_positions_and_the_decisions_risk(
    client: TestClient, journal: Journal, decisions: dict[date, DayDecision]
) -> None:
    journal.record_positions(HELD, as_of=date(2018, 1, 2), note="broker export")
    r = client.get("/api/book", params={"date": "2018-01-04"})
    assert r.status_code == 200
    body = r.json()
    d = decisions[date(2018, 1, 4)].to_json()
    assert body["as_of"] == "2018-01-04"
    assert body["decision"]["session"] == "2018-01-04"
    assert body["greeks"] == d["book"]["greeks"]
    assert body["delta_band"] == d["book"]["delta_band"]
    assert body["structures"] == d["book"]["structures"]
    assert body["marks"] == d["book"]["marks"]
    assert len(body["marks"]) == 4
    assert body["payoff"] == d["book"]["payoff"]
    assert body["equity_usd"] == 1e6
    assert body["spx_spot"] == d["book"]["spx_spot"]
    assert body["notes"] == []
    (structure,) = body["positions"]["structures"]
    assert structure["name"] == "held condor"
    assert structure["fees_usd"] == 12.0
    assert structure["opened"] == "2018-01-02"
    assert structure["net_premium_usd"] == pytest.approx(_condor().net_premium_usd)
    assert [leg["contract"] for leg in structure["legs"]] == [
        leg.contract.label() for leg in _condor().legs
    ]
    assert [leg["quantity"] for leg in structure["legs"]] == [2, -2, -2, 2]
    assert [leg["fill_price"] for leg in structure["legs"]] == [1.10, 2.40, 1.90, 0.80]


def test_the_book_defaults_to_todays_session_and_notes_an_older_decision(
    client: TestClient, make: Make
) -> None:
    assert client.get("/api/book").json()["as_of"] == "2018-01-04"
    later = client.get("/api/book", params={"date": "2018-01-08"}).json()
    assert later["decision"]["session"] == "2018-01-04"
    assert "latest on or before 2018-01-08" in later["notes"][0]
    before = client.get("/api/book", params={"date": "2017-12-29"}).json()
    assert before["decision"] is None
    assert before["greeks"] is None
    assert "no signal journaled on or before 2017-12-29" in before["notes"][0]


def test_book_greeks_scenarios_and_positions(
    client: TestClient, journal: Journal, decisions: dict[date, DayDecision]
) -> None:
    d = decisions[date(2018, 1, 3)].to_json()
    g = client.get("/api/book/greeks", params={"date": "2018-01-03"}).json()
    assert g["greeks"] == d["book"]["greeks"]
    assert g["greeks"]["delta_usd_per_pct"] == pytest.approx(
        g["greeks"]["delta_spx_points"] * d["book"]["spx_spot"] / 100.0
    )
    assert g["delta_band"]["fraction"] == pytest.approx(g["greeks"]["delta_usd_per_pct"] / 1e6)
    s = client.get("/api/book/scenarios", params={"date": "2018-01-03"}).json()
    assert s["scenarios"] == d["scenarios"]
    assert s["decision"]["run_id"] == g["decision"]["run_id"]
    for row in s["scenarios"]:
        assert row["total_pnl_usd"] == pytest.approx(sum(row["pnl_usd"].values()))
    empty = client.get("/api/book/positions").json()
    assert empty == {"as_of": "2018-01-04", "structures": [], "equities": []}
    _error(client.get("/api/book", params={"date": "soon"}), 422, "invalid_request")


# -- positions ---------------------------------------------------------------------------------


LEGS = [
    {
        "structure": "IC",
        "root": "spx",
        "expiry": "2018-02-16",
        "strike": 650,
        "right": "p",
        "quantity": 1,
        "fill_price": 1.1,
        "opened": "2018-01-02",
        "fees": 2.5,
    },
    {
        "structure": "IC",
        "root": "SPX",
        "expiry": "2018-02-16",
        "strike": "675",
        "right": "P",
        "quantity": -1,
        "fill_price": "2.4",
        "fees": 2.5,
    },
]


def test_posting_positions_stores_a_snapshot_the_book_rebuilds(client: TestClient) -> None:
    body = {
        "as_of": "2018-01-03",
        "note": "broker",
        "legs": LEGS,
        "equities": [{"symbol": "SPY", "shares": 10, "price": 270.5, "beta": 1.0}],
    }
    r = client.post("/api/positions", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["snapshot_id"] >= 1
    assert (saved["structures"], saved["legs"], saved["equities"]) == (1, 2, 1)
    book = client.get(saved["href"]).json()
    (ic,) = book["structures"]
    assert ic["fees_usd"] == 5.0
    assert ic["opened"] == "2018-01-02"
    assert [(leg["contract"], leg["quantity"]) for leg in ic["legs"]] == [
        ("SPX 2018-02-16 650P", 1),
        ("SPX 2018-02-16 675P", -1),
    ]
    assert ic["net_premium_usd"] == pytest.approx(-110.0 + 240.0)
    assert book["equities"] == [
        {"symbol": "SPY", "shares": 10.0, "price": 270.5, "value_usd": 2705.0, "beta": 1.0}
    ]
    before = client.get("/api/book/positions", params={"date": "2018-01-02"}).json()
    assert before["structures"] == []


def test_bad_positions_are_refused_naming_each_leg_and_field(
    client: TestClient, journal: Journal
) -> None:
    legs = [
        {**LEGS[0], "strike": -5},
        {**LEGS[1], "expiry": "2018-02-15"},
        {**LEGS[0], "structure": "B", "right": "X"},
    ]
    r = client.post("/api/positions", json={"as_of": "2018-01-03", "legs": legs}, headers=AUTH)
    body = _error(r, 422, "invalid_book")
    fields = {f["field"] for f in body["fields"]}
    assert {"legs[0].strike", "legs[1].expiry", "legs[2].right"} <= fields
    assert "api_book_" not in r.text
    assert "/tmp" not in r.text
    assert journal.book(date(2018, 1, 3)).structures == ()


def test_positions_schema_errors_name_the_field(client: TestClient) -> None:
    r = client.post(
        "/api/positions",
        json={"as_of": "2018-01-03", "legs": [{**LEGS[0], "feez": 1}, {"root": "SPX"}]},
        headers=AUTH,
    )
    fields = {f["field"] for f in _error(r, 422, "invalid_request")["fields"]}
    assert "legs[0].feez" in fields
    assert "legs[1].strike" in fields
    dup = client.post(
        "/api/positions", json={"as_of": "2018-01-03", "legs": [LEGS[0], LEGS[0]]}, headers=AUTH
    )
    assert "duplicate leg" in _error(dup, 422, "invalid_book")["detail"]


# -- fills -------------------------------------------------------------------------------------


FILL = {
    "trade_date": "2018-01-03",
    "structure": "IC",
    "root": "SPX",
    "expiry": "2018-02-16",
    "strike": 650.0,
    "right": "P",
    "quantity": 2,
    "price": 1.15,
    "fees_usd": 3.0,
    "note": "opening",
}


def test_fills_are_recorded_and_listed(client: TestClient, journal: Journal) -> None:
    second = {**FILL, "trade_date": "2018-01-04", "strike": 675, "right": "p", "quantity": -2}
    r = client.post("/api/fills", json={"fills": [FILL, second]}, headers=AUTH)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["count"] == 2
    first = body["fills"][0]
    assert first["contract"] == "SPX 2018-02-16 650P"
    assert (first["quantity"], first["price"], first["fees_usd"]) == (2, 1.15, 3.0)
    assert body["fills"][1]["contract"] == "SPX 2018-02-16 675P"
    assert [f.id for f in journal.fills()] == [f["id"] for f in body["fills"]]
    listed = client.get("/api/fills").json()
    assert listed["fills"] == body["fills"]
    since = client.get("/api/fills", params={"since": "2018-01-04"}).json()
    assert [f["trade_date"] for f in since["fills"]] == ["2018-01-04"]
    until = client.get("/api/fills", params={"until": "2018-01-03"}).json()
    assert [f["trade_date"] for f in until["fills"]] == ["2018-01-03"]
    book = client.get("/api/book/positions", params={"date": "2018-01-04"}).json()
    assert [leg["quantity"] for leg in book["structures"][0]["legs"]] == [2, -2]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strike": -5}, "fills[1].strike"),
        ({"root": "SPY"}, "fills[1].root"),
        ({"right": "X"}, "fills[1].right"),
        ({"quantity": 0}, "fills[1].quantity"),
        ({"expiry": "2018-02-15"}, "fills[1].expiry"),
        ({"trade_date": "2018-03-01"}, "fills[1].trade_date"),
        ({"price": -1}, "fills[1].price"),
        ({"quantity": 1.5}, "fills[1].quantity"),
        ({"expiry": "2018-02-30"}, "fills[1].expiry"),
        ({"colour": "red"}, "fills[1].colour"),
        ({"structure": ""}, "fills[1].structure"),
    ],
)
def test_a_bad_fill_refuses_the_whole_batch_naming_it(
    client: TestClient, journal: Journal, change: dict[str, Any], field: str
) -> None:
    r = client.post("/api/fills", json={"fills": [FILL, {**FILL, **change}]}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert field in {f["field"] for f in r.json()["fields"]}
    assert journal.fills() == []


def test_a_journal_refusal_of_fills_is_422_with_its_fields(
    client: TestClient, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_fills: object) -> None:
        raise JournalError("record_fills: 1 bad value(s)\n  fills[0].structure: 'x' too long")

    monkeypatch.setattr(journal, "record_fills", refuse)
    r = client.post("/api/fills", json={"fills": [FILL]}, headers=AUTH)
    body = _error(r, 422, "invalid_fills")
    assert body["fields"] == [{"field": "fills[0].structure", "message": "'x' too long"}]


@pytest.mark.parametrize("body", [{}, {"fills": []}, {"fills": "x"}, []])
def test_a_malformed_fills_body_is_422(client: TestClient, body: Any) -> None:
    _error(client.post("/api/fills", json=body, headers=AUTH), 422, "invalid_request")


def test_a_body_that_is_not_json_is_422(client: TestClient) -> None:
    r = client.post(
        "/api/fills",
        content=b"{not json",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    _error(r, 422, "invalid_request")


# -- auth --------------------------------------------------------------------------------------

WRITES = [
    ("/api/fills", {"fills": [FILL]}),
    ("/api/positions", {"as_of": "2018-01-03", "legs": LEGS}),
    ("/api/runs", {}),
]


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_writes_need_the_token(
    make: Make, journal: Journal, path: str, body: dict[str, Any]
) -> None:
    calls: list[object] = []
    client = make(runner=lambda *a, **k: calls.append(k))
    missing = _error(client.post(path, json=body), 401, "unauthorized")
    assert TOKEN_ENV in missing["detail"]
    assert client.post(path, json=body).headers["www-authenticate"] == "Bearer"
    wrong = client.post(path, json=body, headers={"Authorization": "Bearer nope"})
    _error(wrong, 401, "invalid_token")
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    basic = client.post(path, json=body, headers={"Authorization": f"Basic {TOKEN}"})
    _error(basic, 401, "unauthorized")
    assert calls == []
    assert journal.fills() == []


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_writes_without_a_configured_token_are_disabled(
    make: Make, path: str, body: dict[str, Any]
) -> None:
    client = make(token=None)
    r = client.post(path, json=body, headers=AUTH)
    detail = _error(r, 503, "writes_disabled")["detail"]
    assert detail.startswith(f"writes are disabled: set {TOKEN_ENV}")


def test_auth_comes_before_validation(client: TestClient) -> None:
    _error(client.post("/api/fills", json={"junk": 1}), 401, "unauthorized")


def _read_paths(client: TestClient) -> list[str]:
    spec = client.get("/openapi.json").json()
    out = []
    for path, ops in spec["paths"].items():
        if "get" in ops:
            out.append(path.replace("{day}", "2018-01-04"))
    return out


def test_private_reads_need_the_token_and_work_with_it(make: Make, tmp_path: Path) -> None:
    folder = _backtest_folder(tmp_path)
    client = make(public_reads=False, backtest_dir=str(folder))
    public = {"/api/health", "/static/plotly.min.js"}
    paths = _read_paths(client)
    assert len(paths) == 14
    for path in paths:
        if path in public:
            assert client.get(path).status_code == 200
            continue
        _error(client.get(path), 401, "unauthorized")
        wrong = client.get(path, headers={"Authorization": "Bearer wrong"})
        _error(wrong, 401, "invalid_token")
        ok = client.get(path, headers=AUTH)
        assert ok.status_code == 200, (path, ok.text)


def test_private_reads_without_a_configured_token_are_503(make: Make) -> None:
    client = make(public_reads=False, token=None)
    detail = _error(client.get("/api/signals", headers=AUTH), 503, "reads_disabled")["detail"]
    assert TOKEN_ENV in detail
    assert client.get("/", headers=AUTH).status_code == 503


def test_the_openapi_declares_the_bearer_scheme_on_writes(make: Make) -> None:
    spec = make().get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    ((name, scheme),) = schemes.items()
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    paths = spec["paths"]
    for path, method in [("/api/fills", "post"), ("/api/positions", "post"), ("/api/runs", "post")]:
        assert paths[path][method]["security"] == [{name: []}]
        assert "401" in paths[path][method]["responses"]
        assert "503" in paths[path][method]["responses"]
    assert "security" not in paths["/api/signals"]["get"]
    private = make(public_reads=False).get("/openapi.json").json()["paths"]
    assert private["/api/signals"]["get"]["security"] == [{name: []}]
    assert "security" not in private["/api/health"]["get"]


def test_the_openapi_documents_every_operation(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ops = [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]
    assert len(ops) == 17
    for path, method, op in ops:
        assert op.get("summary"), (path, method)
        assert op.get("description"), (path, method)
        for code, resp in op["responses"].items():
            assert resp.get("description"), (path, method, code)
            if code != "304":
                assert resp.get("content"), (path, method, code)
            if code.startswith(("4", "5")) and path != "/api/health":
                schema = resp["content"]["application/json"]["schema"]["$ref"]
                assert schema.endswith(("/ErrorOut", "/RunFailedOut")), (path, code)
    schemas = spec["components"]["schemas"]
    for name in ("HealthOut", "SignalOut", "BookOut", "GreeksOut", "FillOut", "ErrorOut"):
        props = schemas[name]["properties"]
        assert props, name
    greeks = schemas["GreeksOut"]["properties"]
    assert "USD" in greeks["vega_usd_per_volpt"]["description"]
    assert "/docs" not in spec["paths"]
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


# -- runs --------------------------------------------------------------------------------------


def _outcome(status: str, message: str = "done", run: RunHandle | None = None) -> DailyOutcome:
    return DailyOutcome(status, date(2018, 1, 4), message, run=run)  # type: ignore[arg-type]


def test_post_runs_calls_the_runner_with_the_journal_and_clock(
    make: Make, journal: Journal
) -> None:
    seen: list[dict[str, Any]] = []

    def runner(settings: ServiceSettings, **kw: Any) -> DailyOutcome:
        seen.append({"settings": settings, **kw})
        return _outcome("recorded", "signal journaled", journal.runs()[-1])

    client = make(runner=runner)
    r = client.post(
        "/api/runs", json={"date": "2018-01-04", "force": True, "notify": False}, headers=AUTH
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "recorded"
    assert body["session"] == "2018-01-04"
    assert body["run"]["id"] == journal.runs()[-1].id
    (call,) = seen
    assert call["journal"] is journal
    assert call["clock"] is AFTER_CLOSE
    assert (call["day"], call["force"], call["notify"]) == (date(2018, 1, 4), True, False)
    assert call["settings"].api.token_env == TOKEN_ENV
    r = client.post("/api/runs", headers=AUTH)  # no body: every default
    assert r.status_code == 201
    assert (seen[1]["day"], seen[1]["force"], seen[1]["notify"]) == (None, False, True)


@pytest.mark.parametrize(("status", "code"), [("stored", 200), ("skipped", 200)])
def test_post_runs_status_codes(make: Make, status: str, code: int) -> None:
    client = make(runner=lambda *a, **k: _outcome(status))
    r = client.post("/api/runs", json={}, headers=AUTH)
    assert r.status_code == code
    assert r.json()["status"] == status


def test_a_failed_run_is_500_with_the_journals_message(make: Make, journal: Journal) -> None:
    run = journal.start_run(date(2018, 1, 5), SIGNAL_MODE, CONFIG_TEXT, FP)
    failed = journal.fail(run, RuntimeError("no VIX close for 2018-01-05"))
    message = f"the signal for 2018-01-05 failed (run {failed.id}): {failed.error}"
    client = make(runner=lambda *a, **k: _outcome("failed", message, failed))
    r = client.post("/api/runs", json={"date": "2018-01-05"}, headers=AUTH)
    body = _error(r, 500, "run_failed")
    assert "RuntimeError: no VIX close for 2018-01-05" in body["detail"]
    assert body["outcome"]["status"] == "failed"
    assert body["outcome"]["run"]["error"] == failed.error
    runs = client.get("/api/runs", params={"limit": 1}).json()["runs"]
    assert runs[0]["status"] == "failed"
    assert runs[0]["errors"][0]["kind"] == "RuntimeError"
    assert runs[0]["errors"][0]["message"] == "RuntimeError: no VIX close for 2018-01-05"


def test_an_unexpected_error_is_500_without_a_traceback(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    def runner(*_a: Any, **_k: Any) -> DailyOutcome:
        raise RuntimeError(f"boom in {__file__}")

    client = make(runner=runner)
    with caplog.at_level("ERROR", logger="vixshield.api"):
        r = client.post("/api/runs", json={}, headers=AUTH)
    body = _error(r, 500, "internal")
    rid = r.headers["x-request-id"]
    assert f"request id {rid}" in body["detail"]
    assert "boom" not in r.text
    assert ".py" not in r.text
    assert "Traceback" not in r.text
    logged = [rec for rec in caplog.records if rid in rec.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
    # the lock was released: the next run goes ahead
    assert client.post("/api/runs", json={}, headers=AUTH).status_code == 500


def test_a_journal_refusal_is_409_with_its_message(make: Make) -> None:
    def runner(*_a: Any, **_k: Any) -> DailyOutcome:
        raise JournalError("signal run for 2018-01-04 already succeeded: pass force=True")

    r = make(runner=runner).post("/api/runs", json={}, headers=AUTH)
    assert "already succeeded" in _error(r, 409, "conflict")["detail"]


def test_a_second_run_while_one_runs_is_409(make: Make) -> None:
    entered, release = threading.Event(), threading.Event()

    def runner(*_a: Any, **_k: Any) -> DailyOutcome:
        entered.set()
        assert release.wait(10)
        return _outcome("recorded")

    client = make(runner=runner)
    results: list[int] = []
    first = threading.Thread(
        target=lambda: results.append(client.post("/api/runs", headers=AUTH).status_code)
    )
    first.start()
    try:
        assert entered.wait(10)
        body = _error(client.post("/api/runs", json={}, headers=AUTH), 409, "run_in_progress")
        assert "already in progress (started 2018-01-04T22:00:00+00:00)" in body["detail"]
        assert client.get("/api/signals").status_code == 200  # reads go on meanwhile
    finally:
        release.set()
        first.join(10)
    assert results == [201]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"date": "tomorrow"}, "date"), ({"force": "maybe"}, "force"), ({"dry": True}, "dry")],
)
def test_post_runs_validates_its_body(make: Make, body: dict[str, Any], field: str) -> None:
    client = make(runner=lambda *a, **k: _outcome("recorded"))
    r = client.post("/api/runs", json=body, headers=AUTH)
    assert _error(r, 422, "invalid_request")["fields"][0]["field"] == field


def test_runs_lists_newest_first_with_a_limit(client: TestClient, journal: Journal) -> None:
    body = client.get("/api/runs").json()
    ids = [r.id for r in journal.runs()]
    assert [r["run_id"] for r in body["runs"]] == ids[::-1]
    assert all(r["errors"] == [] for r in body["runs"])
    assert client.get("/api/runs", params={"limit": 2}).json()["count"] == 2
    assert client.get("/api/runs", params={"mode": "backtest"}).json()["count"] == 0
    _error(client.get("/api/runs", params={"limit": 0}), 422, "invalid_request")


# -- backtest ----------------------------------------------------------------------------------


def _backtest_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "api_bt"
    folder.mkdir()
    (folder / "equity.csv").write_text(
        "session,alvh_k1,spx_k1\n2018-01-02,1000000,1000000\n2018-01-03,1000500.5,999000\n"
        "2018-01-04,1001000,\n",
        encoding="utf-8",
    )
    summary = {"title": "test", "period": {"start": "2018-01-02", "end": "2018-01-04"}}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def test_backtest_summary_and_equity(make: Make, tmp_path: Path) -> None:
    client = make(backtest_dir=str(_backtest_folder(tmp_path)))
    body = client.get("/api/backtest").json()
    assert body["folder"] == "api_bt"
    assert (body["start"], body["end"], body["sessions"]) == ("2018-01-02", "2018-01-04", 3)
    assert body["runs"] == ["alvh_k1", "spx_k1"]
    assert body["final_equity_usd"] == {"alvh_k1": 1001000.0, "spx_k1": None}
    assert body["summary"]["title"] == "test"
    assert str(tmp_path) not in json.dumps(body)
    eq = client.get("/api/backtest/equity").json()
    assert eq["dates"] == ["2018-01-02", "2018-01-03", "2018-01-04"]
    assert eq["series"]["alvh_k1"] == [1000000.0, 1000500.5, 1001000.0]


def test_backtest_not_configured_absent_or_broken(make: Make, tmp_path: Path) -> None:
    unset = _error(make().get("/api/backtest"), 404, "not_configured")
    assert "backtest_dir" in unset["detail"]
    _error(make().get("/api/backtest/equity"), 404, "not_configured")
    absent = make(backtest_dir=str(tmp_path / "nowhere"))
    assert (
        "vixshield backtest --out"
        in _error(absent.get("/api/backtest"), 404, "not_found")["detail"]
    )
    broken = _backtest_folder(tmp_path)
    (broken / "equity.csv").write_text("when,x\n", encoding="utf-8")
    r = make(backtest_dir=str(broken)).get("/api/backtest")
    _error(r, 500, "backtest_unreadable")
    assert str(tmp_path) not in r.text


# -- dashboard and static ----------------------------------------------------------------------


def test_the_dashboard_is_html_with_a_strict_csp(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "2018-01-04" in r.text
    assert '<script src="/static/plotly.min.js">' in r.text
    # The journal's book equity rows (sessions as dates) draw the journaled equity curve.
    assert 'id="fig-book-equity"' in r.text
    assert "No book equity journaled yet" not in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", r.text, re.DOTALL)
    assert inline
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_the_dashboard_of_an_empty_journal_and_with_a_backtest(
    make: Make, empty_journal: Journal, tmp_path: Path
) -> None:
    r = make(on=empty_journal).get("/")
    assert r.status_code == 200
    with_bt = make(backtest_dir=str(_backtest_folder(tmp_path))).get("/")
    assert with_bt.status_code == 200
    assert "alvh" in with_bt.text


def test_plotly_is_served_with_a_long_cache_gzip_and_etag(client: TestClient) -> None:
    plain = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("application/javascript")
    assert "max-age=31536000" in plain.headers["cache-control"]
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert len(plain.content) > 1_000_000
    zipped = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decodes it
    etag = plain.headers["etag"]
    again = client.get("/static/plotly.min.js", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_every_response_has_nosniff_and_a_request_id(client: TestClient) -> None:
    for r in (
        client.get("/api/health"),
        client.get("/api/signal/2018-01-06"),
        client.get("/nowhere"),
        client.post("/api/signals"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert re.fullmatch(r"[0-9a-f]{16}", r.headers["x-request-id"])
    _error(client.get("/nowhere"), 404, "not_found")
    _error(client.post("/api/signals"), 405, "method_not_allowed")
    assert client.get("/api/signals").headers["cache-control"] == "no-store"


def test_a_database_error_is_503_journal_unavailable(
    client: TestClient, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_a: object, **_k: object) -> None:
        raise OperationalError("SELECT", {}, Exception("/var/secret/journal.sqlite is locked"))

    monkeypatch.setattr(journal, "latest_decision", down)
    r = client.get("/api/signal/2018-01-04")
    _error(r, 503, "journal_unavailable")
    assert "/var/secret" not in r.text


def test_the_server_serves_sync_endpoints_on_a_few_threads(make: Make) -> None:
    import anyio.to_thread

    from vixshield.service.api import WORKER_THREADS

    def tokens() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    with make() as client:  # the lifespan runs
        assert client.portal is not None
        assert client.portal.call(tokens) == WORKER_THREADS == 4
        assert client.get("/api/signal/today").status_code == 200


def test_the_default_runner_is_the_daily_job(
    monkeypatch: pytest.MonkeyPatch, empty_journal: Journal, tmp_path: Path
) -> None:
    """No stub: POST /api/runs runs run_daily on the embedded synthetic market."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    settings = ServiceSettings(
        data=DataSettings(source="synthetic", data_dir=str(tmp_path)),
        api=ApiSettings(token_env=TOKEN_ENV),
    )
    client = TestClient(create_app(settings, journal=empty_journal, clock=AFTER_CLOSE))
    first = client.post("/api/runs", json={"notify": False}, headers=AUTH)
    assert first.status_code == 201, first.text
    assert first.json()["session"] == "2018-01-04"
    stored = empty_journal.latest_decision(date(2018, 1, 4), SIGNAL_MODE)
    assert stored is not None
    assert first.json()["run"]["id"] == stored.run.id
    again = client.post("/api/runs", json={"notify": False}, headers=AUTH)
    assert again.status_code == 200
    assert again.json()["status"] == "stored"
    assert client.get("/api/signal/today").json()["decision"] == stored.data()
