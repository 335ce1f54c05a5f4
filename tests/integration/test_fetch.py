"""Fetchers against a local HTTP server (pytest-httpserver): no internet is ever touched.

Every body served here is a small synthetic CSV in the real layout of its source. Backoff
sleeps are recorded instead of slept, so retries cost nothing; only the timeout test waits
(a fraction of a second) for a real read timeout.

A truncated body is served with werkzeug's ``Response`` and a ``Content-Length`` larger than
the body: werkzeug's development server sends the short body and closes the connection, which
is exactly what a dropped download looks like to the client.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from vixshield.clock import FixedClock
from vixshield.data.fetch import (
    CBOE_INDICES,
    FRED_SERIES,
    STATE_DIR,
    USER_AGENT,
    FetchPolicy,
    FetchResult,
    FetchStatus,
    Source,
    cboe_index_source,
    default_sources,
    fetch_source,
    fetch_sources,
    fred_source,
    vx_future_source,
    vx_future_sources,
)
from vixshield.errors import InvalidInputError

NOW = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC)
CLOCK = FixedClock(NOW)

VIX_CSV = (
    b"DATE,OPEN,HIGH,LOW,CLOSE\n"
    b"01/02/2020,13.460000,13.720000,12.420000,12.470000\n"
    b"01/03/2020,15.010000,16.200000,13.130000,14.020000\n"
    b"01/06/2020,15.450000,16.390000,13.540000,13.850000\n"
)
VVIX_CSV = b"DATE,VVIX\n01/02/2020,91.820000\n01/03/2020,99.940000\n"
VX_JAN24_CSV = (
    b"Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
    b"2024-01-12,F (Jan 2024),13.25,13.40,12.95,13.05,13.0500,-0.20,51234,12,180234\n"
    b"2024-01-16,F (Jan 2024),13.60,14.10,13.50,13.95,13.9500,0.90,60123,8,150111\n"
    b"2024-01-17,F (Jan 2024),0,0,0,0,13.7800,-0.17,0,0,0\n"
)
VX_FEB24_CSV = (
    b"Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
    b"2024-01-16,G (Feb 2024),14.80,15.05,14.70,14.95,14.9500,0.35,40000,5,200000\n"
)
# Legacy archive layout: M/D/YYYY dates, the old 10x price scale and a trailing comma.
VX_K04_CSV = (
    b"Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
    b"3/26/2004,K (May 04),212.4,212.5,202.7,202.7,203.2,0,216,0,144\n"
    b"3/29/2004,K (May 04),199,199.9,197.5,197.7,198,0,52,0,113,\n"
)
FRED_SP500_CSV = b"observation_date,SP500\n2026-11-13,6010.50\n2026-11-16,6021.25\n2026-11-17,.\n"
FRED_DTB3_CSV = b"DATE,DTB3\n2026-11-16,3.91\n2026-11-17,3.90\n"
# Archive files of contracts from mid-2013 open with a one-line disclaimer, CRLF line ends.
VX_N13_CSV = (
    b"CFE data is compiled for the convenience of site visitors and is furnished without "
    b"responsibility for accuracy.\r\n"
    b"Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\r\n"
    b"07/16/2013,N (Jul 13),0.00,0.00,0.00,0.00,16.10,-0.35,0,0,21000\r\n"
)
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Access Denied</title></head>"
    b"<body>You don't have permission to access this resource.</body></html>\n"
)


@pytest.fixture(scope="module")
def running_server() -> Iterator[HTTPServer]:
    """A threaded local server, so a handler that sleeps never blocks the retry behind it."""
    srv = HTTPServer(threaded=True)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def server(running_server: HTTPServer) -> Iterator[HTTPServer]:
    """The shared server with no expectations, log or errors left from another test."""
    running_server.clear()
    yield running_server
    running_server.clear()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def fetch(tmp_path: Path, sleeps: list[float]) -> Callable[..., list[FetchResult]]:
    """``fetch(*sources, **overrides)``: fetch into tmp_path with a fixed clock, no real sleeps."""

    def run(*sources: Source, **overrides: object) -> list[FetchResult]:
        kwargs: dict[str, object] = {
            "clock": CLOCK,
            "policy": FetchPolicy(connect_timeout_s=2.0, read_timeout_s=2.0, max_attempts=3),
            "sleep": sleeps.append,
            "rng": random.Random(7),
        }
        kwargs.update(overrides)
        return fetch_sources(list(sources), tmp_path, **kwargs)  # type: ignore[arg-type]

    return run


def csv_response(body: bytes, **headers: str) -> Response:
    return Response(body, status=200, headers={"Content-Type": "text/csv", **headers})


def truncated_response(body: bytes, declared: int) -> Response:
    """``body`` under a ``Content-Length`` of ``declared`` > len(body).

    Set after construction, since werkzeug computes the header from the body; its development
    server then sends the short body and closes the connection.
    """
    response = Response(body, status=200, content_type="text/csv")
    response.headers["Content-Length"] = str(declared)
    return response


def sequence(*responses: Response | Callable[[], Response]) -> Callable[[Request], Response]:
    """A handler answering the n-th request with the n-th response (the last one repeats)."""
    calls = iter(range(10**6))

    def handler(request: Request) -> Response:
        i = min(next(calls), len(responses) - 1)
        answer = responses[i]
        return answer() if callable(answer) and not isinstance(answer, Response) else answer

    return handler


def vix(server: HTTPServer) -> Source:
    return cboe_index_source("VIX", base_url=server.url_for("/cboe"))


def seed(tmp_path: Path, source: Source, body: bytes) -> Path:
    """Put a previous good file in place, as an earlier fetch would have left it."""
    path = tmp_path / source.relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


# --- happy paths, one per source kind ------------------------------------------------------


def test_cboe_indices_download_whole_files_with_our_user_agent(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], tmp_path: Path
) -> None:
    server.expect_request(
        "/cboe/VIX_History.csv", headers={"User-Agent": USER_AGENT}
    ).respond_with_response(csv_response(VIX_CSV, ETag='"v1"'))
    server.expect_request("/cboe/VVIX_History.csv").respond_with_response(csv_response(VVIX_CSV))
    base = server.url_for("/cboe")
    results = fetch(
        cboe_index_source("VIX", base_url=base), cboe_index_source("VVIX", base_url=base)
    )

    vix_result, vvix_result = results
    assert vix_result.status is FetchStatus.DOWNLOADED
    assert vix_result.ok
    assert vix_result.error is None
    assert vix_result.url == f"{base}/VIX_History.csv"
    assert vix_result.path == tmp_path / "cboe" / "VIX_History.csv"
    assert vix_result.path.read_bytes() == VIX_CSV
    assert (vix_result.size_bytes, vix_result.downloaded_bytes) == (len(VIX_CSV), len(VIX_CSV))
    assert (vix_result.rows, vix_result.new_rows, vix_result.attempts) == (3, 3, 1)
    assert vix_result.last_date == dt.date(2020, 1, 6)
    assert vvix_result.status is FetchStatus.DOWNLOADED
    assert vvix_result.rows == 2
    assert (tmp_path / "cboe" / "VVIX_History.csv").read_bytes() == VVIX_CSV
    state = json.loads((tmp_path / STATE_DIR / "cboe" / "VIX_History.csv.json").read_text())
    assert state["etag"] == '"v1"'
    assert state["last_date"] == "2020-01-06"
    assert state["rows"] == 3
    assert state["fetched_at"] == NOW.isoformat()
    # No temporary file is left behind.
    assert sorted(p.name for p in (tmp_path / "cboe").iterdir()) == [
        "VIX_History.csv",
        "VVIX_History.csv",
    ]
    server.check_assertions()


def test_vx_contracts_come_from_the_calendar_and_the_archive(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], tmp_path: Path
) -> None:
    sources = vx_future_sources(
        dt.date(2024, 1, 1), dt.date(2024, 2, 29), base_url=server.url_for("/VX")
    )
    # Expiries from vixshield.calendar: the Wednesdays 30 days before the next SPX expiry.
    assert [s.url.rsplit("/", 1)[1] for s in sources] == ["VX_2024-01-17.csv", "VX_2024-02-14.csv"]
    archive = vx_future_source(dt.date(2004, 5, 19), archive_base_url=server.url_for("/archive"))
    assert archive.relpath == "cfe_vx/CFE_K04_VX.csv"
    # The archive holds whole lives up to N14; from Q14 the current path does.
    assert vx_future_source(dt.date(2014, 7, 16)).url.endswith("/CFE_N14_VX.csv")
    assert vx_future_source(dt.date(2014, 8, 20)).url.endswith("/VX/VX_2014-08-20.csv")
    forced = vx_future_source(dt.date(2014, 7, 16), archive=False)
    assert forced.relpath == "cfe_vx/VX_2014-07-16.csv"
    server.expect_request("/VX/VX_2024-01-17.csv").respond_with_data(VX_JAN24_CSV)
    server.expect_request("/VX/VX_2024-02-14.csv").respond_with_data(VX_FEB24_CSV)
    server.expect_request("/archive/CFE_K04_VX.csv").respond_with_data(VX_K04_CSV)
    server.expect_request("/archive/CFE_N13_VX.csv").respond_with_data(VX_N13_CSV)
    n13_source = vx_future_source(dt.date(2013, 7, 17), archive_base_url=server.url_for("/archive"))

    jan, feb, k04, n13 = fetch(*sources, archive, n13_source)

    assert [r.status for r in (jan, feb, k04, n13)] == [FetchStatus.DOWNLOADED] * 4
    assert n13.rows == 1  # the disclaimer line above the header is allowed
    assert (tmp_path / "cfe_vx" / "VX_2024-01-17.csv").read_bytes() == VX_JAN24_CSV
    assert (jan.rows, jan.last_date) == (3, dt.date(2024, 1, 17))
    assert feb.rows == 1
    assert (k04.rows, k04.last_date) == (2, dt.date(2004, 3, 29))  # trailing comma tolerated
    assert k04.path.read_bytes() == VX_K04_CSV  # quirks are kept for the loader


def test_fred_series_accept_both_headers_and_keep_dot_as_missing(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], tmp_path: Path
) -> None:
    base = server.url_for("/fred/fredgraph.csv")
    server.expect_request("/fred/fredgraph.csv", query_string={"id": "SP500"}).respond_with_data(
        FRED_SP500_CSV
    )
    server.expect_request("/fred/fredgraph.csv", query_string={"id": "DTB3"}).respond_with_data(
        FRED_DTB3_CSV
    )
    sp500, dtb3 = fetch(fred_source("SP500", base_url=base), fred_source("DTB3", base_url=base))

    assert sp500.status is FetchStatus.DOWNLOADED
    assert sp500.url == f"{base}?id=SP500"
    assert (sp500.rows, sp500.last_date) == (3, dt.date(2026, 11, 17))
    assert (tmp_path / "fred" / "SP500.csv").read_bytes() == FRED_SP500_CSV
    assert dtb3.status is FetchStatus.DOWNLOADED  # the pre-2024 "DATE" header
    assert dtb3.rows == 2


# --- retries -------------------------------------------------------------------------------


def test_a_500_is_retried_with_backoff_then_succeeds(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], sleeps: list[float]
) -> None:
    server.expect_request("/cboe/VIX_History.csv").respond_with_handler(
        sequence(Response("boom", status=500), csv_response(VIX_CSV))
    )
    (result,) = fetch(vix(server))

    assert result.status is FetchStatus.DOWNLOADED
    assert result.attempts == 2
    assert len(sleeps) == 1
    assert 0.5 <= sleeps[0] <= 1.0  # first backoff: d = 1 s, equal jitter in [d/2, d]


def test_a_persistent_500_fails_after_max_attempts_and_keeps_the_previous_file(
    server: HTTPServer,
    fetch: Callable[..., list[FetchResult]],
    sleeps: list[float],
    tmp_path: Path,
) -> None:
    source = vix(server)
    previous = seed(tmp_path, source, VIX_CSV)
    server.expect_request("/cboe/VIX_History.csv").respond_with_data("down", status=503)
    policy = FetchPolicy(max_attempts=4, backoff_base_s=1.0, backoff_max_s=3.0)

    (result,) = fetch(source, policy=policy)

    assert result.status is FetchStatus.FAILED
    assert not result.ok
    assert result.attempts == 4
    assert len(server.log) == 4
    # Delays before attempts 2..4: d = 1, 2, min(4, 3) = 3 s, each in [d/2, d].
    assert len(sleeps) == 3
    for slept, d in zip(sleeps, (1.0, 2.0, 3.0), strict=True):
        assert d / 2 <= slept <= d
    assert result.error is not None
    assert "gave up after 4 attempt(s)" in result.error
    assert "HTTP 503" in result.error
    assert "try again later" in result.error
    assert "previous file" in result.error
    assert previous.read_bytes() == VIX_CSV
    assert result.rows == 3  # what is on disk is still described


def test_a_read_timeout_is_retried_then_succeeds(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], sleeps: list[float]
) -> None:
    def slow() -> Response:
        time.sleep(3.0)  # well past the 0.5 s read timeout below
        return csv_response(VIX_CSV)

    server.expect_request("/cboe/VIX_History.csv").respond_with_handler(
        sequence(slow, csv_response(VIX_CSV))
    )
    policy = FetchPolicy(connect_timeout_s=2.0, read_timeout_s=0.5, max_attempts=3)

    (result,) = fetch(vix(server), policy=policy)

    assert result.status is FetchStatus.DOWNLOADED
    assert result.attempts == 2
    assert len(sleeps) == 1
    assert result.path.read_bytes() == VIX_CSV


def test_a_body_that_stalls_midway_is_retried_from_scratch(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], tmp_path: Path
) -> None:
    def stalled() -> Response:
        def body() -> Iterator[bytes]:
            yield VIX_CSV[:40]
            time.sleep(3.0)  # headers and a first chunk are out; then silence past 0.5 s
            yield VIX_CSV[40:]

        return Response(body(), content_type="text/csv")

    server.expect_request("/cboe/VIX_History.csv").respond_with_handler(
        sequence(stalled, csv_response(VIX_CSV))
    )
    policy = FetchPolicy(read_timeout_s=0.5, max_attempts=2)

    (result,) = fetch(vix(server), policy=policy)

    assert result.status is FetchStatus.DOWNLOADED
    assert result.attempts == 2
    assert result.path.read_bytes() == VIX_CSV  # no bytes of the first attempt survive
    assert [p.name for p in result.path.parent.iterdir()] == ["VIX_History.csv"]


def test_a_body_over_the_size_limit_is_refused(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]]
) -> None:
    server.expect_request("/cboe/VIX_History.csv").respond_with_data(VIX_CSV)

    (result,) = fetch(vix(server), policy=FetchPolicy(max_bytes=100))

    assert result.status is FetchStatus.FAILED
    assert result.attempts == 1
    assert result.error is not None
    assert "larger than FetchPolicy.max_bytes = 100" in result.error
    assert not result.path.exists()


def test_persistent_timeouts_fail_with_the_timeout_in_the_message(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]]
) -> None:
    def slow() -> Response:
        time.sleep(0.5)
        return csv_response(VIX_CSV)

    server.expect_request("/cboe/VIX_History.csv").respond_with_handler(sequence(slow))
    policy = FetchPolicy(read_timeout_s=0.1, max_attempts=2)

    (result,) = fetch(vix(server), policy=policy)

    assert result.status is FetchStatus.FAILED
    assert result.attempts == 2
    assert result.error is not None
    assert "timed out waiting for data" in result.error
    assert "read 0.1 s" in result.error
    assert "nothing was written" in result.error
    assert not result.path.exists()


def test_a_truncated_body_is_detected_and_retried(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], sleeps: list[float]
) -> None:
    server.expect_request("/cboe/VIX_History.csv").respond_with_handler(
        sequence(lambda: truncated_response(VIX_CSV[:-20], 500), csv_response(VIX_CSV))
    )
    (result,) = fetch(vix(server))

    assert result.status is FetchStatus.DOWNLOADED
    assert result.attempts == 2
    assert len(sleeps) == 1
    assert result.path.read_bytes() == VIX_CSV


def test_a_body_that_stays_truncated_is_refused_and_the_previous_file_kept(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], tmp_path: Path
) -> None:
    source = vix(server)
    previous = seed(tmp_path, source, VIX_CSV)
    server.expect_request("/cboe/VIX_History.csv").respond_with_handler(
        # The body cut at a row boundary would pass the CSV checks: only the length tells.
        sequence(lambda: truncated_response(VIX_CSV, len(VIX_CSV) + 52))
    )
    (result,) = fetch(source)

    assert result.status is FetchStatus.FAILED
    assert result.attempts == 3
    assert result.error is not None
    assert "truncated" in result.error
    assert previous.read_bytes() == VIX_CSV
    assert [p.name for p in previous.parent.iterdir()] == ["VIX_History.csv"]


def test_connection_errors_are_retried(
    fetch: Callable[..., list[FetchResult]], sleeps: list[float]
) -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = cboe_index_source("VIX", base_url=f"http://127.0.0.1:{port}/cboe")

    (result,) = fetch(source)

    assert result.status is FetchStatus.FAILED
    assert result.attempts == 3
    assert len(sleeps) == 2
    assert result.error is not None
    assert "network error: ConnectError" in result.error


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_honour_retry_after_in_seconds(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], sleeps: list[float], status: int
) -> None:
    server.expect_request("/cboe/VIX_History.csv").respond_with_handler(
        sequence(
            Response("slow down", status=status, headers={"Retry-After": "7"}),
            csv_response(VIX_CSV),
        )
    )
    (result,) = fetch(vix(server))

    assert result.status is FetchStatus.DOWNLOADED
    assert sleeps == [7.0]


def test_429_honours_retry_after_as_an_http_date_against_the_clock(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], sleeps: list[float]
) -> None:
    # The fixed clock says 2026-11-20 22:00:00 UTC.
    when = "Fri, 20 Nov 2026 22:00:05 GMT"
    server.expect_request("/cboe/VIX_History.csv").respond_with_handler(
        sequence(Response("", status=429, headers={"Retry-After": when}), csv_response(VIX_CSV))
    )
    (result,) = fetch(vix(server))

    assert result.status is FetchStatus.DOWNLOADED
    assert sleeps == [5.0]


def test_a_retry_after_beyond_the_limit_fails_at_once(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], sleeps: list[float]
) -> None:
    server.expect_request("/cboe/VIX_History.csv").respond_with_data(
        "", status=429, headers={"Retry-After": "3600"}
    )
    (result,) = fetch(vix(server))

    assert result.status is FetchStatus.FAILED
    assert result.attempts == 1
    assert sleeps == []
    assert result.error is not None
    assert "wait 3600 s" in result.error
    assert "try again later" in result.error


@pytest.mark.parametrize(
    ("status", "hint"),
    [(404, "no such file"), (403, "refused this client"), (400, "retrying will not fix")],
)
def test_client_errors_are_not_retried(
    server: HTTPServer,
    fetch: Callable[..., list[FetchResult]],
    sleeps: list[float],
    status: int,
    hint: str,
) -> None:
    server.expect_request("/cboe/VIX_History.csv").respond_with_data("no", status=status)
    (result,) = fetch(vix(server))

    assert result.status is FetchStatus.FAILED
    assert result.attempts == 1
    assert sleeps == []
    assert result.error is not None
    assert f"HTTP {status}" in result.error
    assert hint in result.error


# --- content checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (HTML_PAGE, "text/html", "is an HTML page, not a CSV"),
        (HTML_PAGE, "text/csv", "is an HTML page, not a CSV"),  # mislabelled error page
        (b"", "text/csv", "is empty"),
        (b"DATE,OPEN,HIGH,LOW,CLOSE\n", "text/csv", "no data rows"),
        (b"Date,Open,High,Low,Close\n01/02/2020,1,2,3,4\n", "text/csv", "expected"),
        (b"DATE,OPEN,HIGH,LOW,CLOSE\n2020-01-02,1,2,3,4\n", "text/csv", "not a date"),
        (b"DATE,OPEN,HIGH,LOW,CLOSE\n01/02/2020,1,2\n", "text/csv", "has 3 fields"),
        (b"\xff\xfeD\x00A\x00", "text/csv", "not UTF-8"),
    ],
    ids=["html", "html-as-csv", "empty", "header-only", "header", "date", "short-row", "utf16"],
)
def test_bad_content_with_status_200_is_refused_and_the_previous_file_kept(
    *,
    server: HTTPServer,
    fetch: Callable[..., list[FetchResult]],
    tmp_path: Path,
    body: bytes,
    content_type: str,
    message: str,
) -> None:
    source = vix(server)
    previous = seed(tmp_path, source, VIX_CSV)
    server.expect_request("/cboe/VIX_History.csv").respond_with_data(
        body, content_type=content_type
    )
    (result,) = fetch(source)

    assert result.status is FetchStatus.FAILED
    assert result.attempts == 1  # a wrong answer is not retried
    assert result.error is not None
    assert message in result.error
    assert "the previous file" in result.error
    assert previous.read_bytes() == VIX_CSV
    assert [p.name for p in previous.parent.iterdir()] == ["VIX_History.csv"]
    assert not (tmp_path / STATE_DIR).exists()


# --- incremental updates -------------------------------------------------------------------


def test_304_not_modified_leaves_the_file_untouched(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], tmp_path: Path
) -> None:
    modified = "Thu, 19 Nov 2026 21:00:00 GMT"
    server.expect_ordered_request("/cboe/VIX_History.csv").respond_with_response(
        csv_response(VIX_CSV, ETag='"abc"', **{"Last-Modified": modified})
    )
    server.expect_ordered_request(
        "/cboe/VIX_History.csv",
        headers={"If-None-Match": '"abc"', "If-Modified-Since": modified},
    ).respond_with_response(Response(status=304))
    source = vix(server)

    (first,) = fetch(source)
    mtime = first.path.stat().st_mtime_ns
    (second,) = fetch(source)

    assert first.status is FetchStatus.DOWNLOADED
    assert second.status is FetchStatus.UNCHANGED
    assert second.error is None
    assert (second.rows, second.last_date, second.new_rows) == (3, dt.date(2020, 1, 6), 0)
    assert second.size_bytes == len(VIX_CSV)
    assert second.path.read_bytes() == VIX_CSV
    assert second.path.stat().st_mtime_ns == mtime
    server.check_assertions()


def test_no_conditional_request_once_the_local_file_was_edited(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]]
) -> None:
    server.expect_request("/cboe/VIX_History.csv").respond_with_response(
        csv_response(VIX_CSV, ETag='"abc"')
    )
    source = vix(server)
    (first,) = fetch(source)
    first.path.write_bytes(b"".join(VIX_CSV.splitlines(keepends=True)[:3]))  # cut the last row

    (second,) = fetch(source)

    assert "If-None-Match" not in server.log[-1][0].headers
    assert second.status is FetchStatus.DOWNLOADED
    assert second.new_rows == 1
    assert second.path.read_bytes() == VIX_CSV


def test_a_whole_file_reports_revised_and_removed_history(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], tmp_path: Path
) -> None:
    source = cboe_index_source("VVIX", base_url=server.url_for("/cboe"))
    seed(tmp_path, source, b"DATE,VVIX\n12/31/2019,80.0\n01/02/2020,90.000000\n")
    server.expect_request("/cboe/VVIX_History.csv").respond_with_data(VVIX_CSV)

    (result,) = fetch(source)

    assert result.status is FetchStatus.DOWNLOADED
    assert result.changed_dates == (dt.date(2020, 1, 2),)  # 90.0 -> 91.82
    assert (result.new_rows, result.removed_rows) == (1, 1)


def test_fred_incremental_fetch_asks_from_the_last_date_and_merges(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], tmp_path: Path
) -> None:
    base = server.url_for("/fredgraph.csv")
    source = fred_source("SP500", base_url=base)
    # Rows FRED no longer serves (beyond its 10-year window) must survive the merge.
    seed(tmp_path, source, b"observation_date,SP500\n2016-01-04,2012.66\n" + FRED_SP500_CSV[23:])
    update = (
        b"observation_date,SP500\n"
        b"2026-11-17,6030.75\n"  # was "." : revised
        b"2026-11-18,.\n"  # missing stays missing
        b"2026-11-19,6044.00\n"
    )
    server.expect_request(
        "/fredgraph.csv", query_string={"id": "SP500", "cosd": "2026-11-17"}
    ).respond_with_data(update)

    (result,) = fetch(source)

    assert result.status is FetchStatus.DOWNLOADED
    assert result.url == f"{base}?id=SP500&cosd=2026-11-17"
    assert result.new_rows == 2
    assert result.changed_dates == (dt.date(2026, 11, 17),)
    assert result.removed_rows == 0
    assert (result.rows, result.last_date) == (6, dt.date(2026, 11, 19))
    assert result.path.read_text().splitlines() == [
        "observation_date,SP500",
        "2016-01-04,2012.66",
        "2026-11-13,6010.50",
        "2026-11-16,6021.25",
        "2026-11-17,6030.75",
        "2026-11-18,.",  # never 0
        "2026-11-19,6044.00",
    ]
    server.check_assertions()


def test_fred_incremental_fetch_with_nothing_new_is_unchanged(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], tmp_path: Path
) -> None:
    source = fred_source("SP500", base_url=server.url_for("/fredgraph.csv"))
    # CRLF line ends: an unchanged merge must not rewrite the file in another style.
    original = FRED_SP500_CSV.replace(b"\n", b"\r\n")
    path = seed(tmp_path, source, original)
    server.expect_request(
        "/fredgraph.csv", query_string={"id": "SP500", "cosd": "2026-11-17"}
    ).respond_with_data(b"observation_date,SP500\n2026-11-17,.\n")

    (result,) = fetch(source)

    assert result.status is FetchStatus.UNCHANGED
    assert (result.new_rows, result.changed_dates, result.rows) == (0, (), 3)
    assert path.read_bytes() == original


def test_fred_full_refresh_drops_cosd_but_still_merges(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]], tmp_path: Path
) -> None:
    source = fred_source("DTB3", base_url=server.url_for("/fredgraph.csv"))
    seed(tmp_path, source, b"DATE,DTB3\n2010-01-04,0.08\n")
    server.expect_request("/fredgraph.csv", query_string={"id": "DTB3"}).respond_with_data(
        FRED_DTB3_CSV
    )

    (result,) = fetch(source, full=True)

    assert result.status is FetchStatus.DOWNLOADED
    assert "cosd" not in result.url
    assert result.rows == 2  # a full refresh replaces the file with what FRED serves
    server.check_assertions()


# --- API checks ----------------------------------------------------------------------------


def test_default_sources_cover_every_publisher() -> None:
    sources = default_sources(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    names = [s.name for s in sources]
    assert names[: len(CBOE_INDICES)] == [f"cboe/{t}" for t in CBOE_INDICES]
    assert names[-len(FRED_SERIES) :] == [f"fred/{s}" for s in FRED_SERIES]
    assert sum(n.startswith("cfe_vx/VX_") for n in names) == 12
    assert (
        sources[0].url == "https://cdn.cboe.com/api/global/us_indices/daily_prices/VIX_History.csv"
    )
    assert "VX/VX_2024-01-17.csv" in sources[len(CBOE_INDICES)].url
    assert sources[-1].url == "https://fred.stlouisfed.org/graph/fredgraph.csv?id=DTB4WK"
    assert len({s.relpath for s in sources}) == len(sources)


@pytest.mark.parametrize(
    "make",
    [
        lambda: cboe_index_source("vix"),
        lambda: cboe_index_source("VIX/../x"),
        lambda: fred_source(""),
        lambda: fred_source("SP500", base_url="ftp://x"),
        lambda: vx_future_source(dt.datetime(2024, 1, 17, tzinfo=dt.UTC)),
        lambda: FetchPolicy(max_attempts=0),
        lambda: FetchPolicy(read_timeout_s=0),
        lambda: FetchPolicy(backoff_base_s=-1),
    ],
)
def test_bad_arguments_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(InvalidInputError):
        make()


def test_fetch_source_is_the_single_source_form(
    server: HTTPServer, tmp_path: Path, sleeps: list[float]
) -> None:
    server.expect_request("/cboe/VIX_History.csv").respond_with_data(VIX_CSV)
    result = fetch_source(vix(server), tmp_path, clock=CLOCK, sleep=sleeps.append)
    assert result.status is FetchStatus.DOWNLOADED


def test_sources_are_fetched_in_order_even_when_one_fails(
    server: HTTPServer, fetch: Callable[..., list[FetchResult]]
) -> None:
    base = server.url_for("/cboe")
    server.expect_request("/cboe/VIX_History.csv").respond_with_data("gone", status=404)
    server.expect_request("/cboe/VVIX_History.csv").respond_with_data(VVIX_CSV)
    results = fetch(
        cboe_index_source("VIX", base_url=base), cboe_index_source("VVIX", base_url=base)
    )
    assert [r.status for r in results] == [FetchStatus.FAILED, FetchStatus.DOWNLOADED]
