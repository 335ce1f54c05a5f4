"""The daily job: which day, idempotency and revisions, failures journaled, the book it reads,
the data update step, notifications; on the embedded default market and a SQLite journal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from vixshield.clock import FixedClock
from vixshield.data.market import MarketHistory, stamp
from vixshield.domain.positions import Book, Leg, OptionContract, Right, Structure
from vixshield.errors import DataError
from vixshield.journal import FAILED, SUCCEEDED, Journal
from vixshield.report.demo import default_history
from vixshield.service import daily
from vixshield.service.daily import SIGNAL_MODE, pick_session, run_daily
from vixshield.service.settings import ServiceSettings, parse_settings
from vixshield.units import NEW_YORK

FRIDAY = date(2026, 11, 20)
AFTER_CLOSE = datetime(2026, 11, 20, 17, 0, tzinfo=NEW_YORK)
SUNDAY_NOON = datetime(2026, 11, 22, 12, 0, tzinfo=NEW_YORK)


def _settings(tmp_path: Path, **extra: Any) -> ServiceSettings:
    data: dict[str, Any] = {"data": {"source": "synthetic", "data_dir": str(tmp_path / "d")}}
    for key, value in extra.items():
        data.setdefault(key, {}).update(value)
    return parse_settings(data)


@pytest.fixture(scope="module")
def market() -> MarketHistory:
    return default_history(FRIDAY)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal.open(data_dir=tmp_path / "j")
    yield j
    j.close()


def _loader(market: MarketHistory) -> Any:
    return lambda _settings, _day: market


# -- which day ----------------------------------------------------------------------------------


def test_a_weekend_is_skipped_naming_the_last_session() -> None:
    got = pick_session(SUNDAY_NOON)
    assert got.session is None
    assert "2026-11-22 (Sunday) is not a trading session" in got.message
    assert "2026-11-20" in got.message


def test_a_holiday_is_skipped() -> None:
    thanksgiving = datetime(2026, 11, 26, 18, 0, tzinfo=NEW_YORK)
    got = pick_session(thanksgiving)
    assert got.session is None
    assert "(Thursday) is not a trading session" in got.message
    assert "2026-11-25" in got.message


def test_a_session_before_its_data_stamp_is_skipped_saying_when() -> None:
    got = pick_session(datetime(2026, 11, 20, 16, 0, tzinfo=NEW_YORK))
    assert got.session is None
    assert "not out yet" in got.message
    assert "16:15" in got.message
    at_stamp = pick_session(stamp(FRIDAY))
    assert at_stamp.session == FRIDAY


def test_the_day_after_thanksgiving_closes_early_so_its_data_is_out_at_13_15() -> None:
    day = date(2026, 11, 27)
    assert pick_session(datetime(2026, 11, 27, 13, 20, tzinfo=NEW_YORK)).session == day
    assert pick_session(datetime(2026, 11, 27, 13, 10, tzinfo=NEW_YORK)).session is None


def test_an_explicit_day_must_be_a_session_with_its_data_out() -> None:
    assert pick_session(SUNDAY_NOON, FRIDAY).session == FRIDAY
    sat = pick_session(SUNDAY_NOON, date(2026, 11, 21))
    assert sat.session is None
    assert "(Saturday) is not a trading session" in sat.message
    future = pick_session(SUNDAY_NOON, date(2026, 11, 23))
    assert future.session is None
    assert "not out yet" in future.message


def test_run_daily_on_a_weekend_writes_nothing(tmp_path: Path, journal: Journal) -> None:
    out = run_daily(_settings(tmp_path), clock=FixedClock(SUNDAY_NOON), journal=journal)
    assert out.status == "skipped"
    assert out.session is None
    assert journal.runs() == []
    assert out.to_json()["status"] == "skipped"


# -- idempotency, revisions ---------------------------------------------------------------------


def test_second_run_reports_the_stored_signal_and_force_records_a_revision(
    tmp_path: Path, journal: Journal, market: MarketHistory
) -> None:
    settings = _settings(tmp_path)
    kw: dict[str, Any] = {"clock": FixedClock(AFTER_CLOSE), "journal": journal,
                          "history_loader": _loader(market)}  # fmt: skip
    first = run_daily(settings, **kw)
    assert first.status == "recorded", first.message
    assert first.session == FRIDAY
    assert first.run is not None
    assert first.run.revision == 1
    assert first.run.status == SUCCEEDED
    stored = journal.latest_decision(FRIDAY, SIGNAL_MODE)
    assert stored is not None
    assert stored.data() == json.loads(json.dumps(first.decision))

    second = run_daily(settings, **kw)
    assert second.status == "stored"
    assert "already journaled" in second.message
    assert "--force" in second.message
    assert second.decision == stored.data()
    assert len(journal.runs()) == 1

    forced = run_daily(settings, force=True, **kw)
    assert forced.status == "recorded"
    assert forced.run is not None
    assert forced.run.revision == 2
    runs = journal.runs(trading_day=FRIDAY)
    assert [(r.revision, r.status) for r in runs] == [(1, SUCCEEDED), (2, SUCCEEDED)]
    # The fixed decision clock (the data stamp) makes the revision's decision identical.
    assert forced.decision == first.decision


def test_a_failed_run_is_journaled_with_its_error_and_the_next_run_records(
    tmp_path: Path, journal: Journal, market: MarketHistory
) -> None:
    def broken(_s: ServiceSettings, _d: date) -> MarketHistory:
        raise DataError("vix.csv, line 12, field 'close': 'abc' is not a number")

    settings = _settings(tmp_path)
    out = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal,
                    history_loader=broken)  # fmt: skip
    assert out.status == "failed"
    assert "vix.csv, line 12" in out.message
    (run,) = journal.runs()
    assert run.status == FAILED
    assert run.error is not None
    assert "vix.csv" in run.error
    assert journal.latest_decision(FRIDAY, SIGNAL_MODE) is None
    assert [e[1] for e in journal.errors(run)] == ["DataError"]

    again = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal,
                      history_loader=_loader(market))  # fmt: skip
    assert again.status == "recorded"
    assert again.run is not None
    assert again.run.revision == 2


def test_a_bad_strategy_config_fails_before_any_run(tmp_path: Path, journal: Journal) -> None:
    bad = tmp_path / "strategy.toml"
    bad.write_text("[condor]\nwing_pointz = 3\n", encoding="utf-8")
    settings = _settings(tmp_path, strategy={"config": str(bad)})
    out = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal)
    assert out.status == "failed"
    assert "wing_pointz" in out.message
    assert journal.runs() == []


def test_the_strategy_config_text_and_fingerprint_are_journaled(
    tmp_path: Path, journal: Journal, market: MarketHistory
) -> None:
    cfg = tmp_path / "strategy.toml"
    cfg.write_text("[condor]\nwing_points = 30.0\n", encoding="utf-8")
    settings = _settings(tmp_path, strategy={"config": str(cfg)})
    out = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal,
                    history_loader=_loader(market))  # fmt: skip
    assert out.status == "recorded"
    assert out.decision is not None
    assert out.run is not None
    assert out.run.config_fingerprint == out.decision["config_fingerprint"]


# -- the book -----------------------------------------------------------------------------------


def _vix_spread() -> Book:
    legs = (
        Leg(OptionContract("VIX", date(2026, 12, 16), 35.0, Right.CALL), 5, 2.10),
        Leg(OptionContract("VIX", date(2026, 12, 16), 50.0, Right.CALL), -5, 0.80),
    )
    return Book((Structure("vix calls", legs),))


def test_the_journaled_positions_are_the_book_and_their_marks_are_journaled(
    tmp_path: Path, journal: Journal, market: MarketHistory
) -> None:
    journal.record_positions(_vix_spread(), as_of=date(2026, 11, 10), note="from the broker")
    out = run_daily(_settings(tmp_path), clock=FixedClock(AFTER_CLOSE), journal=journal,
                    history_loader=_loader(market))  # fmt: skip
    assert out.status == "recorded", out.message
    assert out.decision is not None
    assert out.decision["book"]["open_structures"] == ["vix calls"]
    assert out.run is not None
    marks = journal.marks(out.run)
    assert [m["contract"] for m in marks] == ["VIX 2026-12-16 35C", "VIX 2026-12-16 50C"]
    assert [m["value_usd"] for m in marks] == pytest.approx(
        [m["value_usd"] for m in out.decision["book"]["marks"]]
    )


def test_a_book_file_in_the_settings_overrides_the_journal(
    tmp_path: Path, journal: Journal, market: MarketHistory
) -> None:
    book = tmp_path / "book.csv"
    book.write_text(
        "structure,root,expiry,strike,right,quantity,fill_price\n"
        "file spread,VIX,2026-12-16,40,C,3,1.5\n",
        encoding="utf-8",
    )
    journal.record_positions(_vix_spread(), as_of=date(2026, 11, 10))
    settings = _settings(tmp_path, strategy={"book": str(book)})
    out = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal,
                    history_loader=_loader(market))  # fmt: skip
    assert out.decision is not None
    assert out.decision["book"]["open_structures"] == ["file spread"]


# -- the data update step -----------------------------------------------------------------------


def test_fetch_runs_before_the_signal_and_its_report_is_returned(
    tmp_path: Path, journal: Journal, market: MarketHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def fake_update(_s: ServiceSettings, day: date, _c: Any) -> list[dict[str, Any]]:
        calls.append(f"update {day}")
        return [{"step": "fetch", "name": "VIX", "status": "downloaded", "rows": 1}]

    def loader(_s: ServiceSettings, _d: date) -> MarketHistory:
        calls.append("signal")
        return market

    monkeypatch.setattr(daily, "update_data", fake_update)
    settings = _settings(tmp_path, data={"fetch": True})
    out = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal,
                    history_loader=loader)  # fmt: skip
    assert calls == [f"update {FRIDAY}", "signal"]
    assert out.status == "recorded"
    assert out.to_json()["data_updates"][0]["name"] == "VIX"


def test_a_data_update_that_raises_fails_the_run_in_the_journal(
    tmp_path: Path, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(_s: ServiceSettings, _d: date, _c: Any) -> list[dict[str, Any]]:
        raise DataError("downloads/cboe/VIX_History.csv: truncated body")

    monkeypatch.setattr(daily, "update_data", boom)
    out = run_daily(_settings(tmp_path, data={"fetch": True}), clock=FixedClock(AFTER_CLOSE),
                    journal=journal)  # fmt: skip
    assert out.status == "failed"
    (run,) = journal.runs()
    assert run.status == FAILED
    assert "truncated body" in (run.error or "")


def test_a_real_store_that_ends_before_the_day_says_what_to_do(tmp_path: Path) -> None:
    settings = parse_settings({"data": {"source": "real", "data_dir": str(tmp_path / "empty")}})
    with pytest.raises(DataError, match="empty: import the market data first"):
        daily.load_history(settings, FRIDAY)


# -- notifications ------------------------------------------------------------------------------


def test_the_webhook_gets_the_signal_after_the_journal_is_written(
    tmp_path: Path, journal: Journal, market: MarketHistory, httpserver: HTTPServer
) -> None:
    seen: list[int] = []

    def handler(request: Any) -> Any:
        from werkzeug.wrappers import Response

        # The run is already succeeded in the journal when the webhook is called.
        seen.append(len(journal.runs(status=SUCCEEDED)))
        return Response("ok", status=200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    settings = _settings(
        tmp_path,
        notify={"webhook": {"urls": [httpserver.url_for("/hook")]}},
        api={"public_url": "https://desk.example/vixshield/"},
    )
    out = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal,
                    history_loader=_loader(market))  # fmt: skip
    assert out.status == "recorded"
    assert seen == [1]
    assert out.notifications_ok
    (sent,) = out.to_json()["notifications"]
    assert sent["ok"] is True
    body = json.loads(httpserver.log[0][0].get_data())
    assert "2026-11-20" in body["text"]
    assert body["blocks"]
    assert "https://desk.example/vixshield/" in json.dumps(body)


def test_a_failing_webhook_is_reported_but_the_run_stands(
    tmp_path: Path, journal: Journal, market: MarketHistory, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    settings = _settings(
        tmp_path,
        notify={"retries": 2, "backoff_seconds": 1.0,
                "webhook": {"urls": [httpserver.url_for("/hook")]}},
    )  # fmt: skip
    waits: list[float] = []
    out = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal,
                    history_loader=_loader(market), sleep=waits.append)  # fmt: skip
    assert out.status == "recorded"
    assert not out.notifications_ok
    assert waits == [1.0, 2.0]
    assert journal.runs()[0].status == SUCCEEDED


def test_the_stored_answer_sends_nothing(
    tmp_path: Path, journal: Journal, market: MarketHistory, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    settings = _settings(tmp_path, notify={"webhook": {"urls": [httpserver.url_for("/hook")]}})
    kw: dict[str, Any] = {"clock": FixedClock(AFTER_CLOSE), "journal": journal,
                          "history_loader": _loader(market)}  # fmt: skip
    run_daily(settings, **kw)
    run_daily(settings, **kw)
    run_daily(settings, notify=False, force=True, **kw)
    assert len(httpserver.log) == 1


def test_a_failed_run_tells_the_trader_there_is_no_signal(
    tmp_path: Path, journal: Journal, httpserver: HTTPServer
) -> None:
    def broken(_s: ServiceSettings, _d: date) -> MarketHistory:
        raise DataError("the local store's data ends 2026-11-19, before 2026-11-20")

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    settings = _settings(tmp_path, notify={"webhook": {"urls": [httpserver.url_for("/hook")]}})
    out = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal,
                    history_loader=broken)  # fmt: skip
    assert out.status == "failed"
    assert out.notifications_ok
    body = json.loads(httpserver.log[0][0].get_data())
    assert body["text"] == "VixShield: NO SIGNAL for 2026-11-20: the daily run failed"
    section = body["blocks"][1]["text"]["text"]
    assert "ends 2026-11-19, before 2026-11-20" in section
    assert "vixshield run-daily --date 2026-11-20" in section
    quiet = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal,
                      history_loader=broken, notify=False)  # fmt: skip
    assert quiet.status == "failed"
    assert len(httpserver.log) == 1


def test_sizing_equity_can_follow_the_journaled_book(
    tmp_path: Path, journal: Journal, market: MarketHistory
) -> None:
    journal.record_positions(_vix_spread(), as_of=date(2026, 11, 10))
    fixed = _settings(tmp_path, strategy={"equity_usd": 500_000.0})
    follow = _settings(tmp_path, strategy={"equity_usd": 500_000.0, "equity_source": "journal"})
    assert daily.account_equity(follow, journal, FRIDAY) == 500_000.0  # nothing journaled yet
    thursday = datetime(2026, 11, 19, 17, 0, tzinfo=NEW_YORK)
    first = run_daily(fixed, clock=FixedClock(thursday), journal=journal,
                      history_loader=_loader(market))  # fmt: skip
    assert first.decision is not None
    marks = sum(m["value_usd"] for m in first.decision["book"]["marks"])
    cash = -(2.10 - 0.80) * 5 * 100.0  # the spread's debit
    expected = 500_000.0 + cash + marks
    assert daily.account_equity(follow, journal, FRIDAY) == pytest.approx(expected, abs=1e-6)
    assert daily.account_equity(fixed, journal, FRIDAY) == 500_000.0
    # Only sessions before the day count: Thursday's own equity does not size Thursday.
    assert daily.account_equity(follow, journal, date(2026, 11, 19)) == 500_000.0
    friday = run_daily(follow, clock=FixedClock(AFTER_CLOSE), journal=journal,
                       history_loader=_loader(market))  # fmt: skip
    assert friday.decision is not None
    assert friday.decision["book"]["equity_usd"] == pytest.approx(expected, abs=1e-6)


def test_catch_up_runs_every_missing_session_and_sends_only_the_last(
    tmp_path: Path, journal: Journal, market: MarketHistory, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    settings = _settings(tmp_path, notify={"webhook": {"urls": [httpserver.url_for("/hook")]}})
    kw: dict[str, Any] = {"clock": FixedClock(SUNDAY_NOON), "journal": journal,
                          "history_loader": _loader(market)}  # fmt: skip
    run_daily(settings, day=date(2026, 11, 18), notify=False, **kw)
    outs = daily.run_since(settings, date(2026, 11, 16), **kw)
    assert [(o.session, o.status) for o in outs] == [
        (date(2026, 11, 16), "recorded"),
        (date(2026, 11, 17), "recorded"),
        (date(2026, 11, 18), "stored"),
        (date(2026, 11, 19), "recorded"),
        (date(2026, 11, 20), "recorded"),
    ]
    assert len(httpserver.log) == 1
    assert "2026-11-20" in json.loads(httpserver.log[0][0].get_data())["text"]
    assert len(journal.runs(status=SUCCEEDED)) == 5


def test_catch_up_refuses_the_future_and_a_history(tmp_path: Path, journal: Journal) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(DataError, match="after the last session whose data is out"):
        daily.run_since(settings, date(2026, 11, 23), clock=FixedClock(SUNDAY_NOON),
                        journal=journal)  # fmt: skip
    with pytest.raises(DataError, match="run `vixshield backtest` for history"):
        daily.run_since(settings, date(2024, 1, 2), clock=FixedClock(SUNDAY_NOON),
                        journal=journal)  # fmt: skip
    assert journal.runs() == []


def _order(
    action: str, structure: str, legs: list[tuple[str, int]], price: float
) -> dict[str, Any]:
    return {
        "action": action, "layer": "core", "structure": structure,
        "closes": [structure] if action == "close" else [],
        "legs": [{"contract": c, "quantity": q, "price": price} for c, q in legs],
        "limit_price": price, "reasons": ["why"], "quantity_change": None,
    }  # fmt: skip


def test_repeated_orders_are_marked_with_the_first_session_of_their_run() -> None:
    close = [("SPX 2026-12-18 5400P", 2), ("SPX 2026-12-18 5350P", -2)]
    d = {
        "session": "2026-11-20",
        "orders": [
            _order("close", "condor", close, 25.9),  # prices move; the order is the same
            _order("open", "new condor", [("SPXW 2027-01-08 5090P", -1)], 3.0),
            {**_order("hold", "ladder", [], 0.0), "action": "hold"},
        ],
    }
    earlier = [
        {"session": "2026-11-19", "orders": [_order("close", "condor", close, 24.1),
                                             {**_order("hold", "ladder", [], 0.0)}]},
        {"session": "2026-11-18", "orders": [_order("close", "condor", close, 22.0)]},
        {"session": "2026-11-17", "orders": []},  # the run starts after this day
        {"session": "2026-11-16", "orders": [_order("close", "condor", close, 20.0)]},
    ]  # fmt: skip
    got = daily.with_repeats(d, earlier)
    assert got["orders"][0]["proposed_since"] == "2026-11-18"
    assert "proposed_since" not in got["orders"][1]  # new today
    assert "proposed_since" not in got["orders"][2]  # holds are never marked
    assert "proposed_since" not in d["orders"][0]  # a copy: the decision is unchanged
    # A session missing from the journal breaks the run: nothing is known of it.
    gap = daily.with_repeats(d, [e for e in earlier if e["session"] != "2026-11-19"])
    assert "proposed_since" not in gap["orders"][0]
    # Different legs (another size) are another order.
    bigger = [("SPX 2026-12-18 5400P", 3), ("SPX 2026-12-18 5350P", -3)]
    other = daily.with_repeats(
        d, [{"session": "2026-11-19", "orders": [_order("close", "condor", bigger, 24.1)]}]
    )
    assert "proposed_since" not in other["orders"][0]


def test_the_message_says_when_an_order_has_been_waiting(
    tmp_path: Path, journal: Journal, market: MarketHistory, httpserver: HTTPServer
) -> None:
    """The condor's stop-loss close, proposed on Thursday and again on Friday."""
    legs = (
        Leg(OptionContract("SPX", date(2026, 12, 18), 5350.0, Right.PUT), 2, 9.0),
        Leg(OptionContract("SPX", date(2026, 12, 18), 5400.0, Right.PUT), -2, 12.0),
        Leg(OptionContract("SPX", date(2026, 12, 18), 5950.0, Right.CALL), -2, 6.0),
        Leg(OptionContract("SPX", date(2026, 12, 18), 6000.0, Right.CALL), 2, 4.0),
    )
    journal.record_positions(Book((Structure("condor", legs),)), as_of=date(2026, 11, 2))
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    settings = _settings(tmp_path, notify={"webhook": {"urls": [httpserver.url_for("/hook")]}})
    thursday = datetime(2026, 11, 19, 17, 0, tzinfo=NEW_YORK)
    first = run_daily(settings, clock=FixedClock(thursday), journal=journal,
                      history_loader=_loader(market))  # fmt: skip
    friday = run_daily(settings, clock=FixedClock(AFTER_CLOSE), journal=journal,
                       history_loader=_loader(market))  # fmt: skip
    assert first.decision is not None
    assert friday.decision is not None
    closes = [o for o in friday.decision["orders"] if o["closes"] == ["condor"]]
    assert closes, "the synthetic market's Friday closes the condor (stop loss)"
    assert "proposed_since" not in closes[0]  # the journaled decision is as made
    thursday_text = json.loads(httpserver.log[0][0].get_data())["text"]
    friday_body = json.dumps(json.loads(httpserver.log[1][0].get_data()))
    assert "proposed since" not in thursday_text
    assert "2026-11-19, every session (no fill recorded)" in friday_body
