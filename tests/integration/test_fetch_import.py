"""Fetch -> import -> MarketHistory end to end, against a local HTTP server (no internet).

A pytest-httpserver serves small synthetic files in each source's real layout: three Cboe
indices (two OHLC, one single-value), three VX contracts around the July 2014 expiry (N14 from
the legacy archive with its disclaimer line and M/D/YYYY dates; Q14 and U14 under the current
``VX_{settlement date}.csv`` names with ISO dates and four-digit-year labels) and FRED SP500
(new ``observation_date`` header) and DTB3 (old ``DATE`` header, percent). The library's
fetchers download them into a folder, the catalog plans its import into a Store, and
:meth:`MarketHistory.from_store` builds the history. Expected values are the fixture values
below, read by hand; the VX ranks follow the rule "VX1 is the nearest contract expiring strictly
after the trade date" with the settlement dates 2014-07-16 (N14), 2014-08-20 (Q14) and
2014-09-17 (U14), which are Cboe's published final settlement dates for those contracts.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Response

from vixshield.cli import app
from vixshield.clock import FixedClock
from vixshield.data import fetch as fetch_module
from vixshield.data.catalog import plan_imports
from vixshield.data.fetch import (
    FetchPolicy,
    FetchStatus,
    Source,
    cboe_index_source,
    fetch_sources,
    fred_source,
    vx_future_sources,
)
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.store import Store
from vixshield.data.validation import Mode
from vixshield.domain.market import MarketSnapshot

CLOCK = FixedClock(dt.datetime(2014, 7, 18, 12, 0, tzinfo=dt.UTC))
VX_START, VX_END = dt.date(2014, 7, 1), dt.date(2014, 9, 30)

VIX_CSV = (
    b"DATE,OPEN,HIGH,LOW,CLOSE\n"
    b"07/03/2014,10.34,10.44,10.28,10.32\n"
    b"07/07/2014,11.04,11.99,10.96,11.33\n"
    b"07/08/2014,11.80,12.34,11.62,11.98\n"
    b"07/09/2014,11.76,11.86,11.04,11.15\n"
    b"07/10/2014,12.51,13.04,11.98,12.59\n"
    b"07/11/2014,12.30,12.38,11.76,12.08\n"
    b"07/14/2014,11.79,11.96,11.53,11.82\n"
    b"07/15/2014,11.70,12.34,11.62,11.96\n"
    b"07/16/2014,11.59,11.70,11.00,11.00\n"
    b"07/17/2014,11.46,14.89,11.27,14.54\n"
)
VIX3M_CSV = (
    b"DATE,OPEN,HIGH,LOW,CLOSE\n"
    b"07/03/2014,12.60,12.60,12.60,12.60\n"
    b"07/07/2014,13.27,13.27,13.27,13.27\n"
    b"07/08/2014,13.81,13.81,13.81,13.81\n"
    b"07/09/2014,13.20,13.20,13.20,13.20\n"
    b"07/10/2014,14.02,14.02,14.02,14.02\n"
    b"07/11/2014,13.70,13.70,13.70,13.70\n"
    b"07/14/2014,13.52,13.52,13.52,13.52\n"
    b"07/15/2014,13.58,13.58,13.58,13.58\n"
    b"07/16/2014,13.09,13.09,13.09,13.09\n"
    b"07/17/2014,15.08,15.08,15.08,15.08\n"
)
VVIX_CSV = b"DATE,VVIX\n07/14/2014,83.71\n07/15/2014,84.20\n07/16/2014,82.37\n07/17/2014,93.90\n"
# Archive layout: a disclaimer above the header, M/D/YYYY dates, two-digit-year labels; the
# expiry-day row carries only the final settlement value.
VX_N14_CSV = (
    b"CFE data is compiled for the convenience of site visitors and is furnished without "
    b"responsibility for accuracy.\r\n"
    b"Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\r\n"
    b"07/14/2014,N (Jul 14),11.95,12.10,11.80,11.90,11.925,0,50000,0,60000\r\n"
    b"07/15/2014,N (Jul 14),11.90,12.25,11.75,12.05,12.025,0.10,48000,0,40000\r\n"
    b"07/16/2014,N (Jul 14),0,0,0,0,11.29,-0.735,0,0,0\r\n"
)
VX_Q14_CSV = (
    b"Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
    b"2014-07-14,Q (Aug 2014),13.60,13.75,13.45,13.55,13.575,0,40000,0,100000\n"
    b"2014-07-15,Q (Aug 2014),13.55,13.90,13.40,13.70,13.675,0.10,42000,0,101000\n"
    b"2014-07-16,Q (Aug 2014),13.65,13.70,13.20,13.25,13.275,-0.40,45000,0,102000\n"
    b"2014-07-17,Q (Aug 2014),13.30,15.20,13.25,15.05,15.025,1.75,90000,0,104000\n"
)
VX_U14_CSV = (
    b"Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
    b"2014-07-14,U (Sep 2014),14.90,15.00,14.80,14.85,14.875,0,20000,0,50000\n"
    b"2014-07-15,U (Sep 2014),14.85,15.10,14.75,14.95,14.925,0.05,21000,0,51000\n"
    b"2014-07-16,U (Sep 2014),14.90,14.95,14.60,14.65,14.675,-0.25,22000,0,52000\n"
    b"2014-07-17,U (Sep 2014),14.70,15.90,14.65,15.80,15.775,1.10,30000,0,53000\n"
)
# FRED: "." on Independence Day (a holiday, not a price); DTB3 in percent, with an empty
# value on the session 2014-07-14 (a missing observation: that day has no rate).
FRED_SP500_CSV = (
    b"observation_date,SP500\n"
    b"2014-07-03,1985.44\n"
    b"2014-07-04,.\n"
    b"2014-07-07,1977.65\n"
    b"2014-07-08,1963.71\n"
    b"2014-07-09,1972.83\n"
    b"2014-07-10,1964.68\n"
    b"2014-07-11,1967.57\n"
    b"2014-07-14,1977.10\n"
    b"2014-07-15,1973.28\n"
    b"2014-07-16,1981.57\n"
    b"2014-07-17,1958.12\n"
)
FRED_DTB3_CSV = (
    b"DATE,DTB3\n"
    b"2014-07-03,0.02\n"
    b"2014-07-04,.\n"
    b"2014-07-07,0.02\n"
    b"2014-07-08,0.02\n"
    b"2014-07-09,0.03\n"
    b"2014-07-10,0.03\n"
    b"2014-07-11,0.03\n"
    b"2014-07-14,\n"
    b"2014-07-15,0.02\n"
    b"2014-07-16,0.03\n"
    b"2014-07-17,0.02\n"
)
SESSIONS = tuple(
    dt.date(2014, 7, d) for d in (3, 7, 8, 9, 10, 11, 14, 15, 16, 17)
)  # 2014-07-04 (Independence Day) is not one
YAHOO_GSPC_CSV = (
    "Date,Open,High,Low,Close,Adj Close,Volume\n"
    "2014-07-03,1975.88,1985.59,1975.88,1985.44,1985.44,1998090000\n"
)
TBILL13W_CSV = "Date,Value\n2014-07-03,0.0002\n"


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(threaded=True)
    srv.start()
    try:
        yield srv
    finally:
        srv.clear()
        srv.stop()


def _serve(server: HTTPServer) -> None:
    def csv(body: bytes) -> Response:
        return Response(body, status=200, headers={"Content-Type": "text/csv"})

    for path, body in {
        "/cboe/VIX_History.csv": VIX_CSV,
        "/cboe/VIX3M_History.csv": VIX3M_CSV,
        "/cboe/VVIX_History.csv": VVIX_CSV,
        "/archive/CFE_N14_VX.csv": VX_N14_CSV,
        "/VX/VX_2014-08-20.csv": VX_Q14_CSV,
        "/VX/VX_2014-09-17.csv": VX_U14_CSV,
    }.items():
        server.expect_request(path).respond_with_response(csv(body))
    for series, body in {"SP500": FRED_SP500_CSV, "DTB3": FRED_DTB3_CSV}.items():
        server.expect_request(
            "/fred/fredgraph.csv", query_string={"id": series}
        ).respond_with_response(csv(body))


def _sources(server: HTTPServer, vx_start: dt.date, vx_end: dt.date) -> list[Source]:
    """The sources of this test: what ``default_sources`` gives, trimmed and pointed here."""
    fred = server.url_for("/fred/fredgraph.csv")
    return [
        *(cboe_index_source(t, base_url=server.url_for("/cboe")) for t in ("VIX", "VIX3M", "VVIX")),
        *vx_future_sources(
            vx_start,
            vx_end,
            base_url=server.url_for("/VX"),
            archive_base_url=server.url_for("/archive"),
        ),
        fred_source("SP500", base_url=fred),
        fred_source("DTB3", base_url=fred),
    ]


def _import_folder(folder: Path, store: Store) -> dict[str, str]:
    """What ``vixshield data import FOLDER`` does: plan, then import each plan strictly."""
    plans, skipped = plan_imports(folder)
    assert skipped == []
    for plan in plans:
        store.import_series(
            plan.name,
            plan.source,
            plan.loader,
            mode=Mode.STRICT,
            loader_name=plan.loader_name,
            kind=plan.kind,
        )
    return {p.name: p.loader_name for p in plans}


def test_fetch_import_and_build_a_market_history(server: HTTPServer, tmp_path: Path) -> None:
    _serve(server)
    downloads = tmp_path / "downloads"
    results = fetch_sources(
        _sources(server, VX_START, VX_END),
        downloads,
        clock=CLOCK,
        policy=FetchPolicy(connect_timeout_s=2.0, read_timeout_s=2.0, max_attempts=1),
        sleep=lambda _s: None,
        rng=random.Random(0),
    )
    assert [(r.name, r.status) for r in results] == [
        ("cboe/VIX", FetchStatus.DOWNLOADED),
        ("cboe/VIX3M", FetchStatus.DOWNLOADED),
        ("cboe/VVIX", FetchStatus.DOWNLOADED),
        ("cfe_vx/CFE_N14_VX", FetchStatus.DOWNLOADED),
        ("cfe_vx/VX_2014-08-20", FetchStatus.DOWNLOADED),
        ("cfe_vx/VX_2014-09-17", FetchStatus.DOWNLOADED),
        ("fred/SP500", FetchStatus.DOWNLOADED),
        ("fred/DTB3", FetchStatus.DOWNLOADED),
    ]
    server.check_assertions()

    store = Store(tmp_path / "store", clock=CLOCK)
    loaders = _import_folder(downloads, store)
    assert loaders == {
        "vix": "load_any:cboe-ohlc",
        "vix3m": "load_any:cboe-ohlc",
        "vvix": "load_any:cboe-single",
        "vx_contracts": "cfe-vx-folder",  # one series from both file name styles
        "spx_fred": "load_any:fred-price",
        "tbill13w_fred": "load_any:fred-rate",
    }
    assert store.names() == ("spx_fred", "tbill13w_fred", "vix", "vix3m", "vvix", "vx_contracts")

    spx = store.provenance("spx_fred")
    assert (spx.rows_read, spx.rows) == (11, 10)  # the "." row is not a price
    assert any("2014-07-04" in n and "no value" in n for n in spx.notes)
    rate = store.read("tbill13w_fred").frame
    assert len(rate) == 9  # "." on 07-04 and the empty 07-14 are dropped, not filled
    dates = [d.date() for d in pd.DatetimeIndex(rate["date"])]
    assert dates == [d for d in SESSIONS if d != dt.date(2014, 7, 14)]
    vx = store.read("vx_contracts").frame
    assert sorted(set(vx["contract"])) == ["VX 2014-07", "VX 2014-08", "VX 2014-09"]
    assert vx.loc[vx["contract"] == "VX 2014-07", "settle"].tolist() == [11.925, 12.025, 11.29]

    history = MarketHistory.from_store(store)
    assert history.sessions == SESSIONS

    def at(day: dt.date) -> MarketSnapshot:
        return history.snapshot(day, clock=FixedClock(stamp(day)))

    d14 = at(dt.date(2014, 7, 14))
    assert d14.spx.close == 1977.10
    assert math.isnan(d14.spx.open)  # FRED has closes only
    assert not d14.spx.modelled
    assert {k: (v.value, v.modelled) for k, v in d14.indices.items()} == {
        "vix": (11.82, False),
        "vix3m": (13.52, False),
        "vvix": (83.71, False),
    }
    assert d14.rate is None  # DTB3 had no value that day

    d15 = at(dt.date(2014, 7, 15))
    assert d15.rate is not None
    assert d15.rate.value == pytest.approx(0.0002)  # 0.02 percent, discount basis
    assert not d15.rate.modelled
    # VX1 is N14 (settles 07-16, from the archive file), then Q14 and U14 (current files).
    assert [(p.rank, p.expiry, p.dte, p.settle, p.modelled) for p in d15.vx_curve[:3]] == [
        (1, dt.date(2014, 7, 16), 1, 12.025, False),
        (2, dt.date(2014, 8, 20), 36, 13.675, False),
        (3, dt.date(2014, 9, 17), 64, 14.925, False),
    ]
    # On its expiry day N14 only carries the final settlement: the curve starts at Q14.
    d16 = at(dt.date(2014, 7, 16))
    assert [(p.rank, p.expiry, p.settle) for p in d16.vx_curve[:2]] == [
        (1, dt.date(2014, 8, 20), 13.275),
        (2, dt.date(2014, 9, 17), 14.675),
    ]
    assert d16.rate is not None
    assert d16.rate.value == pytest.approx(0.0003)
    # Before the first VX row the curve is the documented model fallback, flagged as such.
    d10 = at(dt.date(2014, 7, 10))
    assert d10.vx_curve
    assert all(p.modelled for p in d10.vx_curve)
    assert "vvix" not in d10.indices  # VVIX starts 07-14 here: absent, not filled
    assert d10.spx.close == 1964.68


def test_cli_data_fetch_import_fills_the_store(
    server: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI has no base-URL option: point its default sources at the local server.
    _serve(server)
    monkeypatch.setattr(
        fetch_module, "default_sources", lambda start, end: _sources(server, start, end)
    )
    out, data = tmp_path / "downloads", tmp_path / "store"
    args = ["data", "fetch", "--out", str(out), "--vx-start", "2014-07-01"]
    args += ["--vx-end", "2014-09-30", "--import", "--data-dir", str(data)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "failed" not in res.output
    # FRED's "." day counts as read but not kept (as exact duplicates do): 11 read, 10 kept.
    assert "spx_fred: imported 10 rows" in res.output
    store = Store(data)
    assert store.names() == ("spx_fred", "tbill13w_fred", "vix", "vix3m", "vvix", "vx_contracts")
    history = MarketHistory.from_store(store)
    assert history.sessions == SESSIONS
    assert history.daily["spx_close"].iloc[-1] == 1958.12


def test_fred_series_never_take_the_fuller_sources_names(tmp_path: Path) -> None:
    (tmp_path / "fred").mkdir()
    (tmp_path / "fred" / "SP500.csv").write_bytes(FRED_SP500_CSV)
    (tmp_path / "fred" / "DTB3.csv").write_bytes(FRED_DTB3_CSV)
    (tmp_path / "fred" / "DTB4WK.csv").write_text("observation_date,DTB4WK\n2014-07-03,0.01\n")
    plans, _ = plan_imports(tmp_path)
    assert sorted(p.name for p in plans) == ["spx_fred", "tbill13w_fred", "tbill4w_fred"]

    (tmp_path / "spx").mkdir()
    (tmp_path / "spx" / "GSPC_daily_2014.csv").write_text(YAHOO_GSPC_CSV)
    (tmp_path / "rates").mkdir()
    (tmp_path / "rates" / "tbill13week_2014.csv").write_text(TBILL13W_CSV)
    plans, skipped = plan_imports(tmp_path)
    assert skipped == []
    by_name = {p.name: p.source.relative_to(tmp_path).as_posix() for p in plans}
    assert by_name == {
        "spx": "spx/GSPC_daily_2014.csv",
        "spx_fred": "fred/SP500.csv",
        "tbill13w": "rates/tbill13week_2014.csv",
        "tbill13w_fred": "fred/DTB3.csv",
        "tbill4w_fred": "fred/DTB4WK.csv",
    }
    # A name given by the caller is kept as given.
    (plan,) = plan_imports(tmp_path / "fred" / "SP500.csv", name="sp500_close")[0]
    assert plan.name == "sp500_close"


def test_a_cfe_folder_of_both_name_styles_is_one_series(tmp_path: Path) -> None:
    folder = tmp_path / "cfe_vx"
    folder.mkdir()
    (folder / "CFE_N14_VX.csv").write_bytes(VX_N14_CSV)
    (folder / "VX_2014-08-20.csv").write_bytes(VX_Q14_CSV)
    (plan,), skipped = plan_imports(tmp_path)
    assert (plan.name, plan.source, plan.loader_name, skipped) == (
        "vx_contracts",
        folder,
        "cfe-vx-folder",
        [],
    )
