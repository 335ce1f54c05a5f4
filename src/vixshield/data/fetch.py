"""Fetchers: download the public sources VixShield reads, safely and incrementally.

Sources
-------
**Cboe index history** (VIX, VIX9D, VIX3M, VIX6M, VVIX, SKEW), one file per index::

    https://cdn.cboe.com/api/global/us_indices/daily_prices/{TICKER}_History.csv

Saved as ``cboe/{TICKER}_History.csv``. Layout ``DATE,OPEN,HIGH,LOW,CLOSE`` (VIX, VIX9D,
VIX3M, VIX6M) or ``DATE,{TICKER}`` (VVIX, SKEW), dates ``MM/DD/YYYY``. Each file is the
whole history, so it is downloaded whole; a conditional request (``If-None-Match`` /
``If-Modified-Since``) makes an unchanged file cost one 304. Quirks kept for the loaders:
1990-91 VIX rows have O=H=L=C, VVIX in 2006 is sparse with bogus values, SKEW has a gap in
2000-09.

**Cboe CFE VX futures**, one file per monthly contract, named by its final settlement date
(from :func:`vixshield.calendar.vx_expiries`)::

    https://cdn.cboe.com/data/us/futures/market_statistics/historical_data/VX/VX_{YYYY-MM-DD}.csv

Saved as ``cfe_vx/VX_{YYYY-MM-DD}.csv``. Layout ``Trade Date,Futures,Open,High,Low,Close,
Settle,Change,Total Volume,EFP,Open Interest``, ISO dates. Third-party downloaders report
that Cboe serves this path only for contracts expiring from about 2013 (older ones answer
403), and that the files of contracts that expired in 2013-14 start in 2013, not when the
contract listed. The legacy archive (copies seen end on 2014-08-14) holds the whole life of
every contract from K04 (first row 2004-03-26) up to N14 (expiring 2014-07-16); those expiring
before :data:`CFE_CURRENT_FROM` (2014-08-01) are therefore taken from it, same columns but
``M/D/YYYY`` dates (mixed styles in places), saved under Cboe's own name::

    https://cdn.cboe.com/resources/futures/archive/volume-and-price/CFE_{code}{yy}_VX.csv

(``code`` is the month code F G H J K M N Q U V X Z). Quirks kept for the loaders: prices
before 2007-03-26 are on the old 10x scale, expiry-day rows have O/H/L/C = 0 with only Settle,
rows with Settle = 0 before a contract traded, trailing commas on some rows, and a one-line
disclaimer above the header in the archive files of contracts from mid-2013. Only monthly
contracts are fetched; CFE weekly VX expiries are not. The URL patterns come from public
third-party downloaders, not from a Cboe specification: if Cboe moves them, pass new base URLs.

**FRED** (Federal Reserve Bank of St. Louis), one file per series::

    https://fred.stlouisfed.org/graph/fredgraph.csv?id={SERIES}[&cosd=YYYY-MM-DD]

Saved as ``fred/{SERIES}.csv``. Series: ``SP500`` (S&P 500 close; S&P licenses FRED only the
**last 10 years**, so older rows exist only in files fetched earlier, which the merge below
keeps), ``DTB3`` (3-month T-bill, secondary market, discount basis, percent) and ``DTB4WK``
(4-week T-bill, same basis, from 2001-07; the rate in the Cboe strategy-index T-bill
accrual). Layout ``observation_date,{SERIES}`` (``DATE,{SERIES}`` before late 2024; both are
accepted), ISO dates.
**A missing value is written ``.``** (holidays; newer files may leave it empty): it means
missing, never 0. FRED is fetched incrementally: ``cosd`` asks only for rows from the last
date already held, and the answer is merged into the file by date.

Behaviour
---------
* Connect and read timeouts, plus an overall per-attempt limit (:class:`FetchPolicy`).
* Retries with exponential backoff and jitter on 5xx, timeouts, dropped connections and
  truncated bodies; 429 (and 503) honour ``Retry-After``; other 4xx fail at once.
* A ``User-Agent`` naming VixShield on every request.
* The body streams to a temporary file in the destination folder; it replaces the previous
  file (atomic ``os.replace``) only after these checks pass: not empty, not HTML, all of
  ``Content-Length`` received, UTF-8 text, the expected header, every row has the expected
  columns and a date in the source's format, at least one data row. A refused download never
  touches the previous file. Without a ``Content-Length`` (chunked replies) a body cut inside a
  row fails the column check, but one cut exactly at a row boundary cannot be told apart from a
  shorter file; the row counts in :class:`FetchResult` (``removed_rows``) show it.
* A small JSON state file per source (``.fetch-state/``) keeps the ETag, Last-Modified, last
  date, row count and SHA-256 of the file it describes; conditional headers are sent only while
  the file on disk still matches it.
* Every source yields a :class:`FetchResult`; a failed source never stops the others.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import email.utils
import hashlib
import io
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import httpx

from vixshield import __version__
from vixshield.calendar import vx_expiries
from vixshield.clock import Clock
from vixshield.errors import InvalidInputError

CBOE_INDEX_URL: Final = "https://cdn.cboe.com/api/global/us_indices/daily_prices"
CFE_VX_URL: Final = "https://cdn.cboe.com/data/us/futures/market_statistics/historical_data/VX"
CFE_ARCHIVE_URL: Final = "https://cdn.cboe.com/resources/futures/archive/volume-and-price"
FRED_URL: Final = "https://fred.stlouisfed.org/graph/fredgraph.csv"

CBOE_INDICES: Final = ("VIX", "VIX9D", "VIX3M", "VIX6M", "VVIX", "SKEW")
FRED_SERIES: Final = ("SP500", "DTB3", "DTB4WK")
#: VX contracts expiring before this come from the legacy archive, which holds their whole
#: life; the current path starts 2013-14 contracts in 2013 (see the module docstring).
CFE_CURRENT_FROM: Final = dt.date(2014, 8, 1)

USER_AGENT: Final = (
    f"vixshield/{__version__} (market data fetcher; python-httpx/{httpx.__version__})"
)
STATE_DIR: Final = ".fetch-state"

_MONTH_CODES: Final = "FGHJKMNQUVXZ"
_NAME_RE: Final = re.compile(r"^[A-Z0-9]{1,20}$")
_HTML_MARKERS: Final = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<title")
_CHUNK: Final = 64 * 1024


class SourceKind(StrEnum):
    """Which publisher and layout a source has."""

    CBOE_INDEX = "cboe_index"
    CFE_VX = "cfe_vx"
    FRED = "fred"


class FetchStatus(StrEnum):
    """What happened to one source."""

    DOWNLOADED = "downloaded"  # the file on disk was created or replaced
    UNCHANGED = "unchanged"  # the server said 304, or sent what we already had
    FAILED = "failed"  # nothing changed on disk; FetchResult.error says why and what to do


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """What a source's CSV must look like to be accepted.

    Parameters
    ----------
    headers
        Accepted header rows (any one of them), compared field by field after stripping
        blanks and a UTF-8 byte-order mark.
    date_formats
        ``strptime`` formats the first column may use.
    missing
        Cell texts that mean "no value" (FRED writes ``.``), compared after stripping.
    preamble_lines_max
        Non-blank lines allowed before the header (the CFE archive files of contracts from
        2013 on start with a one-line disclaimer).
    """

    headers: tuple[tuple[str, ...], ...]
    date_formats: tuple[str, ...]
    missing: frozenset[str] = frozenset({""})
    preamble_lines_max: int = 0

    def __post_init__(self) -> None:
        if self.preamble_lines_max < 0:
            raise InvalidInputError(
                f"CsvLayout.preamble_lines_max must be >= 0, got {self.preamble_lines_max}"
            )
        if not self.headers or any(not h for h in self.headers):
            raise InvalidInputError(f"CsvLayout needs at least one non-empty header: {self!r}")
        if not self.date_formats:
            raise InvalidInputError("CsvLayout needs at least one date format")


@dataclass(frozen=True, slots=True)
class Source:
    """One file to download.

    Parameters
    ----------
    name
        Short unique label (``"cboe/VIX"``, ``"cfe_vx/VX_2024-01-17"``, ``"fred/SP500"``).
    kind
        Publisher; FRED sources are fetched incrementally and merged.
    url
        Full URL of the whole file.
    relpath
        Where the file goes, relative to the download directory (POSIX separators).
    layout
        The checks its content must pass.
    """

    name: str
    kind: SourceKind
    url: str
    relpath: str
    layout: CsvLayout

    def __post_init__(self) -> None:
        parts = Path(self.relpath).parts
        if not parts or Path(self.relpath).is_absolute() or ".." in parts:
            raise InvalidInputError(
                f"Source.relpath must be a relative path inside the download directory, "
                f"got {self.relpath!r}"
            )


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Timeouts, retries and limits for one fetch run.

    Parameters
    ----------
    connect_timeout_s, read_timeout_s
        Longest wait to connect, and longest silence while waiting for any byte of the reply.
    attempt_timeout_s
        Longest one attempt may take in all (a server trickling bytes is cut off).
    max_attempts
        Requests per source, the first included.
    backoff_base_s, backoff_max_s
        Exponential backoff start and cap.
    retry_after_max_s
        Longest ``Retry-After`` obeyed; a longer one fails the source at once.
    max_bytes
        Largest body accepted.
    user_agent
        Sent with every request.

    Notes
    -----
    The retry delay before attempt ``n + 1`` is ``d / 2 + U(0, d / 2)`` with
    ``d = min(backoff_max_s, backoff_base_s * 2**(n - 1))`` ("equal jitter"), unless the
    server sent ``Retry-After`` with a 429 or 503, which is then obeyed if it is at most
    ``retry_after_max_s``.
    """

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0  # longest silence between two chunks of the body
    attempt_timeout_s: float = 300.0  # longest one attempt may take in all
    max_attempts: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 120.0
    max_bytes: int = 64 * 1024 * 1024
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        for name in ("connect_timeout_s", "read_timeout_s", "attempt_timeout_s"):
            value = getattr(self, name)
            if not value > 0:
                raise InvalidInputError(f"FetchPolicy.{name} must be > 0 seconds, got {value!r}")
        for name in ("backoff_base_s", "backoff_max_s", "retry_after_max_s"):
            value = getattr(self, name)
            if not value >= 0:
                raise InvalidInputError(f"FetchPolicy.{name} must be >= 0 seconds, got {value!r}")
        if self.max_attempts < 1:
            raise InvalidInputError(
                f"FetchPolicy.max_attempts must be >= 1, got {self.max_attempts}"
            )
        if self.max_bytes < 1:
            raise InvalidInputError(f"FetchPolicy.max_bytes must be >= 1, got {self.max_bytes}")
        if not self.user_agent.strip():
            raise InvalidInputError("FetchPolicy.user_agent must not be empty")


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one source's fetch did.

    Attributes
    ----------
    name, url
        The source, and the URL last requested (with ``cosd`` for an incremental FRED fetch).
    status
        Downloaded, unchanged or failed.
    path
        The local file (it exists unless the source has never been fetched successfully).
    size_bytes
        Size of the local file after the call (0 if there is none).
    downloaded_bytes
        Body bytes received from the server in the successful attempt.
    rows
        Data rows in the local file after the call (0 if there is none).
    last_date
        Latest date in the local file after the call.
    new_rows
        Dates in the file now that it did not hold before.
    changed_dates
        Dates already held whose values the server changed (revised history).
    removed_rows
        Dates held before that the new whole file no longer has (never for FRED, which merges).
    attempts
        HTTP requests made.
    error
        For a failure: what happened and what to do. ``None`` otherwise.
    """

    name: str
    url: str
    status: FetchStatus
    path: Path
    size_bytes: int = 0
    downloaded_bytes: int = 0
    rows: int = 0
    last_date: dt.date | None = None
    new_rows: int = 0
    changed_dates: tuple[dt.date, ...] = ()
    removed_rows: int = 0
    attempts: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the source is usable (downloaded or unchanged)."""
        return self.status is not FetchStatus.FAILED


# --------------------------------------------------------------------------------------------
# Source builders


_OHLC: Final = ("DATE", "OPEN", "HIGH", "LOW", "CLOSE")
_CFE_HEADER: Final = (
    "Trade Date",
    "Futures",
    "Open",
    "High",
    "Low",
    "Close",
    "Settle",
    "Change",
    "Total Volume",
    "EFP",
    "Open Interest",
)


def _check_name(value: str, what: str, known: Sequence[str]) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise InvalidInputError(
            f"{what} must be 1-20 upper-case letters or digits (for example {', '.join(known)}), "
            f"got {value!r}"
        )
    return value


def _base(url: str, what: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidInputError(f"{what} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def cboe_index_source(ticker: str, *, base_url: str = CBOE_INDEX_URL) -> Source:
    """The Cboe daily history CSV of one index (``VIX``, ``VVIX``, ``SKEW``, ...).

    Parameters
    ----------
    ticker
        Cboe index symbol, upper case.
    base_url
        Folder URL holding ``{ticker}_History.csv``.

    Returns
    -------
    Source
        Saved as ``cboe/{ticker}_History.csv``; header ``DATE,OPEN,HIGH,LOW,CLOSE`` or
        ``DATE,{ticker}``, dates ``MM/DD/YYYY``.
    """
    ticker = _check_name(ticker, "ticker", CBOE_INDICES)
    return Source(
        name=f"cboe/{ticker}",
        kind=SourceKind.CBOE_INDEX,
        url=f"{_base(base_url, 'base_url')}/{ticker}_History.csv",
        relpath=f"cboe/{ticker}_History.csv",
        layout=CsvLayout(
            headers=(_OHLC, ("DATE", ticker)), date_formats=("%m/%d/%Y",), preamble_lines_max=3
        ),
    )


def vx_future_source(
    expiry: dt.date,
    *,
    base_url: str = CFE_VX_URL,
    archive_base_url: str = CFE_ARCHIVE_URL,
    archive: bool | None = None,
) -> Source:
    """The CFE daily history CSV of the monthly VX future settling on ``expiry``.

    Parameters
    ----------
    expiry
        Final settlement date, as given by :func:`vixshield.calendar.vx_expiries`.
    base_url
        Folder of the current per-contract files ``VX_{YYYY-MM-DD}.csv``.
    archive_base_url
        Folder of the legacy ``CFE_{code}{yy}_VX.csv`` files.
    archive
        Take the file from the legacy archive (``True``) or the current path (``False``);
        ``None`` picks the archive for expiries before :data:`CFE_CURRENT_FROM`.

    Returns
    -------
    Source
        Saved as ``cfe_vx/VX_{YYYY-MM-DD}.csv`` (current) or ``cfe_vx/CFE_{code}{yy}_VX.csv``
        (archive); header ``Trade Date,Futures,Open,High,Low,Close,Settle,Change,
        Total Volume,EFP,Open Interest``.
    """
    if not isinstance(expiry, dt.date) or isinstance(expiry, dt.datetime):
        raise InvalidInputError(f"expiry must be a datetime.date, got {expiry!r}")
    layout = CsvLayout(
        headers=(_CFE_HEADER,),
        date_formats=("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y"),
        preamble_lines_max=3,
    )
    if archive is None:
        archive = expiry < CFE_CURRENT_FROM
    if not archive:
        tag = expiry.isoformat()
        return Source(
            name=f"cfe_vx/VX_{tag}",
            kind=SourceKind.CFE_VX,
            url=f"{_base(base_url, 'base_url')}/VX_{tag}.csv",
            relpath=f"cfe_vx/VX_{tag}.csv",
            layout=layout,
        )
    stem = f"CFE_{_MONTH_CODES[expiry.month - 1]}{expiry.year % 100:02d}_VX"
    return Source(
        name=f"cfe_vx/{stem}",
        kind=SourceKind.CFE_VX,
        url=f"{_base(archive_base_url, 'archive_base_url')}/{stem}.csv",
        relpath=f"cfe_vx/{stem}.csv",
        layout=layout,
    )


def vx_future_sources(
    start: dt.date,
    end: dt.date,
    *,
    base_url: str = CFE_VX_URL,
    archive_base_url: str = CFE_ARCHIVE_URL,
) -> list[Source]:
    """One :func:`vx_future_source` per monthly VX expiry from ``start`` to ``end`` inclusive."""
    return [
        vx_future_source(e, base_url=base_url, archive_base_url=archive_base_url)
        for e in vx_expiries(start, end)
    ]


def fred_source(series: str, *, base_url: str = FRED_URL) -> Source:
    """The FRED CSV of one series (``SP500``, ``DTB3``, ``DTB4WK``, ...).

    Parameters
    ----------
    series
        FRED series id, upper case.
    base_url
        The ``fredgraph.csv`` endpoint; ``?id={series}`` is appended.

    Returns
    -------
    Source
        Saved as ``fred/{series}.csv``; header ``observation_date,{series}`` or
        ``DATE,{series}``, ISO dates, ``.`` or empty for a missing value.
    """
    series = _check_name(series, "series", FRED_SERIES)
    return Source(
        name=f"fred/{series}",
        kind=SourceKind.FRED,
        url=str(httpx.URL(_base(base_url, "base_url")).copy_merge_params({"id": series})),
        relpath=f"fred/{series}.csv",
        layout=CsvLayout(
            headers=(("observation_date", series), ("DATE", series)),
            date_formats=("%Y-%m-%d",),
            missing=frozenset({"", "."}),
        ),
    )


def default_sources(
    vx_start: dt.date,
    vx_end: dt.date,
    *,
    cboe_base_url: str = CBOE_INDEX_URL,
    cfe_base_url: str = CFE_VX_URL,
    cfe_archive_base_url: str = CFE_ARCHIVE_URL,
    fred_base_url: str = FRED_URL,
) -> list[Source]:
    """Everything VixShield reads: the six Cboe indices, VX contracts, SP500 and T-bill rates.

    Parameters
    ----------
    vx_start, vx_end
        VX contracts whose settlement date lies in this range are included.
    cboe_base_url, cfe_base_url, cfe_archive_base_url, fred_base_url
        Override the publishers' endpoints (mirrors, tests).
    """
    return [
        *(cboe_index_source(t, base_url=cboe_base_url) for t in CBOE_INDICES),
        *vx_future_sources(
            vx_start, vx_end, base_url=cfe_base_url, archive_base_url=cfe_archive_base_url
        ),
        *(fred_source(s, base_url=fred_base_url) for s in FRED_SERIES),
    ]


# --------------------------------------------------------------------------------------------
# CSV checks


class _RefusedError(Exception):
    """The answer is wrong in a way another attempt will not fix."""


class _TransientError(Exception):
    """The attempt failed in a way another attempt may fix."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


Values = tuple[float | str | None, ...]


@dataclass(frozen=True, slots=True)
class _Table:
    header: tuple[str, ...]
    rows: dict[dt.date, tuple[str, ...]]  # date -> raw cells (last one wins on a repeat)
    values: dict[dt.date, Values]


def _looks_like_html(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith(b"<") or any(m in text for m in _HTML_MARKERS)


def _parse_value(cell: str, missing: frozenset[str]) -> float | str | None:
    text = cell.strip()
    if text in missing:
        return None  # FRED's "." is a missing value, never 0
    try:
        return float(text)
    except ValueError:
        return text


def _parse_date(cell: str, formats: Sequence[str]) -> dt.date | None:
    text = cell.strip()
    for fmt in formats:
        with contextlib.suppress(ValueError):
            return dt.datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date
    return None


def _parse_csv(body: bytes, layout: CsvLayout, what: str) -> _Table:
    """Check ``body`` against ``layout`` and index its rows by date, or raise _RefusedError."""
    if not body.strip():
        raise _RefusedError(f"{what} is empty")
    if _looks_like_html(body[:2048]):
        raise _RefusedError(
            f"{what} is an HTML page, not a CSV (the site may be down, blocking automated "
            "clients, or the file may have moved); open the URL in a browser to see what it says"
        )
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _RefusedError(
            f"{what} is not UTF-8 text ({exc}); it is not the expected CSV"
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header: tuple[str, ...] | None = None
    skipped = 0  # non-blank lines before the header
    first: tuple[list[str], int] | None = None  # the first of them, for the error message
    rows: dict[dt.date, tuple[str, ...]] = {}
    values: dict[dt.date, Values] = {}
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            stripped = tuple(c.strip() for c in cells)
            if header is None:
                header = _match_header(stripped, layout)
                if header is None:
                    first = first or (cells, reader.line_num)
                    skipped += 1
                    if skipped > layout.preamble_lines_max:
                        raise _header_error(*first, layout, what)
                continue
            ncols = len(header)
            if len(stripped) < ncols or any(stripped[ncols:]):
                raise _RefusedError(
                    f"{what} line {reader.line_num} has {len(stripped)} fields where the header "
                    f"has {ncols} ({','.join(cells)!r}); the file is cut short or not in the "
                    "expected layout"
                )
            day = _parse_date(stripped[0], layout.date_formats)
            if day is None:
                raise _RefusedError(
                    f"{what} line {reader.line_num}: {header[0]} {stripped[0]!r} is not a date in "
                    f"the expected format ({' or '.join(layout.date_formats)})"
                )
            rows[day] = stripped[:ncols]
            values[day] = tuple(_parse_value(c, layout.missing) for c in stripped[1:ncols])
    except csv.Error as exc:
        raise _RefusedError(
            f"{what} does not parse as CSV (line {reader.line_num}: {exc})"
        ) from exc
    if header is None:
        if first is not None:
            raise _header_error(*first, layout, what)
        raise _RefusedError(f"{what} has no header")
    return _Table(header=header, rows=rows, values=values)


def _match_header(cells: tuple[str, ...], layout: CsvLayout) -> tuple[str, ...] | None:
    # Trailing empty fields (a trailing comma) are tolerated, as on the data rows.
    trimmed = list(cells)
    while trimmed and not trimmed[-1]:
        trimmed.pop()
    for expected in layout.headers:
        if tuple(trimmed) == expected:
            return expected
    return None


def _header_error(cells: list[str], line: int, layout: CsvLayout, what: str) -> _RefusedError:
    found = ",".join(cells)
    found = found if len(found) <= 120 else f"{found[:117]}..."
    wanted = " or ".join(",".join(h) for h in layout.headers)
    return _RefusedError(
        f"{what} line {line} is {found!r} where the header {wanted!r} was expected; the "
        "publisher may have changed the layout: check the URL, then the fetcher's layout"
    )


def _write_csv(table: _Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.header)
    for day in sorted(table.rows):
        writer.writerow(table.rows[day])
    return buffer.getvalue().encode("utf-8")


# --------------------------------------------------------------------------------------------
# State


@dataclass(frozen=True, slots=True)
class _State:
    url: str
    sha256: str
    etag: str | None = None
    last_modified: str | None = None
    last_date: str | None = None
    rows: int = 0
    fetched_at: str = ""


def _state_path(directory: Path, source: Source) -> Path:
    return directory / STATE_DIR / f"{source.relpath}.json"


def _read_state(path: Path) -> _State | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return _State(
            url=str(raw["url"]),
            sha256=str(raw["sha256"]),
            etag=raw.get("etag"),
            last_modified=raw.get("last_modified"),
            last_date=raw.get("last_date"),
            rows=int(raw.get("rows", 0)),
            fetched_at=str(raw.get("fetched_at", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no usable state: fetch the whole file unconditionally


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_state(path: Path, state: _State) -> None:
    payload = {
        "url": state.url,
        "sha256": state.sha256,
        "etag": state.etag,
        "last_modified": state.last_modified,
        "last_date": state.last_date,
        "rows": state.rows,
        "fetched_at": state.fetched_at,
    }
    _atomic_write(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------
# HTTP


@dataclass(slots=True)
class _Answer:
    not_modified: bool
    size: int = 0  # body bytes written to the part file
    etag: str | None = None
    last_modified: str | None = None


def _retry_after_s(value: str | None, clock: Clock) -> float | None:
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - clock.now()).total_seconds())


def _request(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    part: Path,
    *,
    policy: FetchPolicy,
    clock: Clock,
) -> _Answer:
    """One GET: the body streamed into ``part`` (overwritten), or a 304, or an exception."""
    timeout = httpx.Timeout(
        connect=policy.connect_timeout_s,
        read=policy.read_timeout_s,
        write=policy.read_timeout_s,
        pool=policy.connect_timeout_s,
    )
    deadline = time.monotonic() + policy.attempt_timeout_s
    try:
        with client.stream(
            "GET", url, headers=headers, timeout=timeout, follow_redirects=True
        ) as response:
            status = response.status_code
            if status == httpx.codes.NOT_MODIFIED:
                return _Answer(not_modified=True)
            if status in {httpx.codes.TOO_MANY_REQUESTS, httpx.codes.SERVICE_UNAVAILABLE}:
                wait = _retry_after_s(response.headers.get("Retry-After"), clock)
                if wait is not None and wait > policy.retry_after_max_s:
                    raise _RefusedError(
                        f"HTTP {status}: the server asks us to wait {wait:.0f} s "
                        f"(Retry-After), more than FetchPolicy.retry_after_max_s = "
                        f"{policy.retry_after_max_s:.0f} s; try again later"
                    )
                raise _TransientError(f"HTTP {status} {response.reason_phrase}", retry_after_s=wait)
            if status >= httpx.codes.INTERNAL_SERVER_ERROR:
                raise _TransientError(f"HTTP {status} {response.reason_phrase}")
            if status != httpx.codes.OK:
                raise _RefusedError(_client_error_message(status, response.reason_phrase))
            size = 0
            with part.open("wb") as sink:
                for chunk in response.iter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > policy.max_bytes:
                        raise _RefusedError(
                            f"the body is larger than FetchPolicy.max_bytes = {policy.max_bytes} "
                            "bytes; this is not the expected file (or raise the limit)"
                        )
                    if time.monotonic() > deadline:
                        raise _TransientError(
                            f"the download took longer than {policy.attempt_timeout_s:.0f} s"
                        )
                    sink.write(chunk)
                sink.flush()
                os.fsync(sink.fileno())
            declared = response.headers.get("Content-Length")
            received = response.num_bytes_downloaded
            if (
                declared is not None
                and declared.strip().isdigit()
                and "Content-Encoding" not in response.headers
                and received != int(declared)
            ):
                raise _TransientError(
                    f"truncated body: received {received} of {declared} bytes (Content-Length)"
                )
            return _Answer(
                not_modified=False,
                size=size,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
    except httpx.TimeoutException as exc:
        kind = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for data"
        raise _TransientError(
            f"timed out {kind} (connect {policy.connect_timeout_s:g} s, "
            f"read {policy.read_timeout_s:g} s)"
        ) from exc
    except httpx.RemoteProtocolError as exc:
        raise _TransientError(
            f"the connection broke before the whole body arrived (truncated): {exc}"
        ) from exc
    except httpx.TransportError as exc:
        raise _TransientError(f"network error: {type(exc).__name__}: {exc}") from exc


def _client_error_message(status: int, reason: str) -> str:
    hint = {
        401: "the server wants credentials, which these public files never need: check the URL",
        403: (
            "the server refused this client or file (Cboe answers 403 for VX contracts it does "
            "not serve at that path, e.g. before 2013: try the archive URL); check the URL"
        ),
        404: (
            "no such file: check the ticker, series or expiry (a VX contract appears only once "
            "it is listed) and the base URL"
        ),
        410: "the file was removed: check the publisher's site for its new location",
    }.get(status, "an answer that retrying will not fix: check the URL")
    return f"HTTP {status} {reason}: {hint}"


def _backoff_s(attempt: int, policy: FetchPolicy, rng: random.Random) -> float:
    d = min(policy.backoff_max_s, policy.backoff_base_s * 2.0 ** (attempt - 1))
    return d / 2.0 + rng.uniform(0.0, d / 2.0)


# --------------------------------------------------------------------------------------------
# Fetching


@contextlib.contextmanager
def _client_for(client: httpx.Client | None, policy: FetchPolicy) -> Iterator[httpx.Client]:
    if client is not None:
        yield client
        return
    with httpx.Client(headers={"User-Agent": policy.user_agent}, follow_redirects=True) as own:
        yield own


def fetch_sources(
    sources: Iterable[Source],
    directory: Path,
    *,
    clock: Clock,
    policy: FetchPolicy | None = None,
    full: bool = False,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> list[FetchResult]:
    """Fetch every source into ``directory``, one after another; failures do not stop the rest.

    Parameters
    ----------
    sources
        What to fetch (see :func:`default_sources`).
    directory
        Download root; files go to ``directory / source.relpath``, state to
        ``directory / .fetch-state``. Created if missing.
    clock
        Stamps the state files and turns an HTTP-date ``Retry-After`` into a delay.
    policy
        Timeouts, retries and limits; :class:`FetchPolicy` defaults if ``None``.
    full
        Ignore the saved state: no conditional headers and no FRED ``cosd`` (FRED answers are
        still merged into the existing file, which may hold rows FRED no longer serves).
    client
        An ``httpx.Client`` to reuse (its transport, proxies); one is made and closed if
        ``None``. The policy's timeouts and User-Agent are sent with every request.
    sleep
        Called with each backoff delay in seconds (inject a recorder in tests).
    rng
        Source of the backoff jitter.

    Returns
    -------
    list of FetchResult
        One per source, in order.
    """
    policy = FetchPolicy() if policy is None else policy
    rng = random.Random() if rng is None else rng  # jitter, not cryptography
    directory = Path(directory)
    with _client_for(client, policy) as http:
        return [
            _fetch_one(
                s, directory, http, clock=clock, policy=policy, full=full, sleep=sleep, rng=rng
            )
            for s in sources
        ]


def fetch_source(
    source: Source,
    directory: Path,
    *,
    clock: Clock,
    policy: FetchPolicy | None = None,
    full: bool = False,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> FetchResult:
    """Fetch one source; see :func:`fetch_sources` for the parameters."""
    return fetch_sources(
        [source],
        directory,
        clock=clock,
        policy=policy,
        full=full,
        client=client,
        sleep=sleep,
        rng=rng,
    )[0]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class _Job:
    """One source's fetch, planned from what is on disk."""

    source: Source
    path: Path
    state_path: Path
    url: str  # with cosd for an incremental FRED fetch
    headers: dict[str, str]
    old: _Table | None  # the file on disk, if it parses
    old_bytes: bytes | None
    incremental: bool

    @property
    def conditional(self) -> bool:
        return "If-None-Match" in self.headers or "If-Modified-Since" in self.headers

    def result(
        self,
        status: FetchStatus,
        table: _Table | None,
        *,
        attempts: int,
        error: str | None = None,
        downloaded_bytes: int = 0,
        new_rows: int = 0,
        changed_dates: tuple[dt.date, ...] = (),
        removed_rows: int = 0,
    ) -> FetchResult:
        return FetchResult(
            name=self.source.name,
            url=self.url,
            status=status,
            path=self.path,
            size_bytes=self.path.stat().st_size if self.path.is_file() else 0,
            downloaded_bytes=downloaded_bytes,
            rows=len(table.rows) if table is not None else 0,
            last_date=max(table.rows) if table is not None and table.rows else None,
            new_rows=new_rows,
            changed_dates=changed_dates,
            removed_rows=removed_rows,
            attempts=attempts,
            error=error,
        )

    def failed(self, reason: object, attempts: int) -> FetchResult:
        kept = (
            f"the previous file {self.path} was kept"
            if self.path.is_file()
            else f"nothing was written to {self.path}"
        )
        error = f"{self.source.name}: {self.url}: {reason}; {kept}"
        return self.result(FetchStatus.FAILED, self.old, attempts=attempts, error=error)


def _plan(source: Source, directory: Path, policy: FetchPolicy, *, full: bool) -> _Job:
    path = directory / source.relpath
    state_path = _state_path(directory, source)
    old_bytes = path.read_bytes() if path.is_file() else None
    old: _Table | None = None
    if old_bytes is not None:
        with contextlib.suppress(_RefusedError):
            old = _parse_csv(old_bytes, source.layout, str(path))
    state = _read_state(state_path)
    # Trust the state only while the file on disk is the one it describes.
    if state is not None and (old_bytes is None or _sha256(old_bytes) != state.sha256):
        state = None

    headers = {"User-Agent": policy.user_agent, "Accept": "text/csv, text/plain;q=0.9, */*;q=0.1"}
    url = source.url
    incremental = source.kind is SourceKind.FRED and not full and old is not None and bool(old.rows)
    if incremental and old is not None:
        # Ask from the last date held (inclusive), so a revised last value is seen too.
        url = str(httpx.URL(url).copy_merge_params({"cosd": max(old.rows).isoformat()}))
    elif state is not None and not full and state.url == url:
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
    return _Job(
        source=source,
        path=path,
        state_path=state_path,
        url=url,
        headers=headers,
        old=old,
        old_bytes=old_bytes,
        incremental=incremental,
    )


def _fetch_one(
    source: Source,
    directory: Path,
    client: httpx.Client,
    *,
    clock: Clock,
    policy: FetchPolicy,
    full: bool,
    sleep: Callable[[float], None],
    rng: random.Random,
) -> FetchResult:
    job = _plan(source, directory, policy, full=full)
    # The body streams into a part file beside the target, so the final rename is atomic.
    job.path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=job.path.parent, prefix=f".{job.path.name}.", suffix=".part")
    os.close(fd)
    part = Path(name)
    try:
        return _download(job, part, client, clock=clock, policy=policy, sleep=sleep, rng=rng)
    finally:
        part.unlink(missing_ok=True)


def _download(
    job: _Job,
    part: Path,
    client: httpx.Client,
    *,
    clock: Clock,
    policy: FetchPolicy,
    sleep: Callable[[float], None],
    rng: random.Random,
) -> FetchResult:
    answer: _Answer | None = None
    attempts = 0
    last_error = ""
    for attempt in range(1, policy.max_attempts + 1):
        attempts = attempt
        try:
            answer = _request(client, job.url, job.headers, part, policy=policy, clock=clock)
            break
        except _RefusedError as exc:
            return job.failed(exc, attempts)
        except _TransientError as exc:
            last_error = str(exc)
            if attempt < policy.max_attempts:
                wait = exc.retry_after_s
                sleep(_backoff_s(attempt, policy, rng) if wait is None else wait)
    if answer is None:
        return job.failed(
            f"gave up after {attempts} attempt(s), last error: {last_error}; the server or the "
            "network is failing: try again later",
            attempts,
        )
    if answer.not_modified:
        if not job.conditional:
            return job.failed(
                "HTTP 304 Not Modified to a request that was not conditional", attempts
            )
        return job.result(FetchStatus.UNCHANGED, job.old, attempts=attempts)

    body = part.read_bytes()
    try:
        new = _parse_csv(body, job.source.layout, "the downloaded file")
        if not new.rows and not job.incremental:
            raise _RefusedError("the downloaded file has a header but no data rows")
    except _RefusedError as exc:
        return job.failed(exc, attempts)
    return _install(job, part, body, new, answer, clock=clock, attempts=attempts)


def _install(
    job: _Job,
    part: Path,
    body: bytes,
    new: _Table,
    answer: _Answer,
    *,
    clock: Clock,
    attempts: int,
) -> FetchResult:
    """Compare the checked download with the file on disk, then replace or merge into it."""
    before = job.old if job.old is not None else _Table(header=new.header, rows={}, values={})
    changed = tuple(
        sorted(d for d in new.rows.keys() & before.rows.keys() if new.values[d] != before.values[d])
    )
    added = len(new.rows.keys() - before.rows.keys())
    if job.incremental:
        # Merge by date: rows FRED no longer serves (SP500 beyond 10 years) are kept, and the
        # server's value wins where both have a date.
        final = _Table(
            header=new.header,
            rows={**before.rows, **new.rows},
            values={**before.values, **new.values},
        )
        data = job.old_bytes if not added and not changed and job.old_bytes else _write_csv(final)
        removed = 0
    else:
        final = new
        data = body
        removed = len(before.rows.keys() - new.rows.keys())

    status = FetchStatus.UNCHANGED if data == job.old_bytes else FetchStatus.DOWNLOADED
    if status is FetchStatus.DOWNLOADED:
        if data is body:
            os.replace(part, job.path)  # the checked download itself, already fsynced
        else:
            _atomic_write(job.path, data)
    _write_state(
        job.state_path,
        _State(
            url=job.source.url,
            sha256=_sha256(data),
            etag=answer.etag,
            last_modified=answer.last_modified,
            last_date=max(final.rows).isoformat() if final.rows else None,
            rows=len(final.rows),
            fetched_at=clock.now().isoformat(),
        ),
    )
    return job.result(
        status,
        final,
        attempts=attempts,
        downloaded_bytes=answer.size,
        new_rows=added,
        changed_dates=changed,
        removed_rows=removed,
    )
