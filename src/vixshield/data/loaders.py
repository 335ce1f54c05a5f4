"""Loaders for the daily file formats users download: prices, Cboe indices, breadth, events, rates.

Every loader reads one file (``load_breadth`` reads a folder), checks every row, and returns
:class:`~vixshield.data.validation.Loaded` ``(frame, report)``. With ``mode=Mode.STRICT`` (the
default) a file with any bad value is refused with a :class:`~vixshield.errors.DataError` naming
the file, 1-based line, field and value. With ``mode=Mode.SKIP`` the bad rows are dropped and
listed in ``report.skipped``. Nothing is ever filled in: missing sessions are reported in
``report.notes``, never interpolated. :func:`load_any` recognises the format from the first line.

Canonical frames
----------------
Each frame also exists as a pandera schema (``PRICE_SCHEMA``, ``BREADTH_FILE_SCHEMA``,
``BREADTH_SCHEMA``, ``MACRO_EVENTS_SCHEMA``, ``FOMC_MEETINGS_SCHEMA``, ``TBILL_RATE_SCHEMA``)
that any producer of the same frame can validate against.

Dates are ``datetime64[ns]``, timezone-naive, normalised to midnight: a session date, not an
instant. Text columns use the pandas string dtype (``str``). Rows are sorted by date, dates are
unique (per event for macro events), and the index is a fresh ``RangeIndex``.

**Daily OHLC(V) prices** (:func:`load_ohlcv`: Yahoo ``Date,Open,High,Low,Close,Adj Close,Volume``
or Stooq ``Date,Open,High,Low,Close,Volume``; :func:`load_cboe_index`: Cboe
``DATE,OPEN,HIGH,LOW,CLOSE`` with ``MM/DD/YYYY`` dates, or ``DATE,<SERIES>`` such as
``DATE,VVIX`` and ``DATE,SKEW``):

============= ================ ================================================================
column        dtype            meaning
============= ================ ================================================================
``date``      datetime64[ns]   session date
``open``      float64          index points (absent for single-value Cboe files)
``high``      float64          index points (absent for single-value Cboe files)
``low``       float64          index points (absent for single-value Cboe files)
``close``     float64          index points
``adj_close`` float64          Yahoo only: close adjusted for dividends/splits (= close for
                               an index)
``volume``    float64          Yahoo/Stooq only: volume as the source reports it (shares)
``modelled``  bool             always False: a published value, not a model output
============= ================ ================================================================

Checks: prices finite and positive; ``low <= open <= high``, ``low <= close <= high``,
``low <= high``; volume finite and non-negative. With ``close_only=True`` the frame is
``date, close, modelled`` and only those are checked.

**NYSE breadth, one file** (:func:`load_breadth_file`, Unicorn Research ``YYYYMMDD, value`` with
no header): ``date`` datetime64[ns], ``issues`` int64 (a count of NYSE issues, >= 0).

**NYSE breadth, the folder** (:func:`load_breadth`: ``NYSE_advn.csv``, ``NYSE_decln.csv``,
``NYSE_unchn.csv``): ``date`` datetime64[ns], ``advances``, ``declines``, ``unchanged`` int64
(counts of NYSE issues). Only dates present in all three files are kept.

**Macro events** (:func:`load_macro_events`, ``date,event,detail,ref_period,time_et,source``):
``date`` datetime64[ns] (release or event day), ``event`` str (``cpi``, ``ppi``, ``nfp``,
``fomc_decision``, ``fomc_minutes``, ``fomc_intermeeting``, ``opex``, ``quad_witching``,
``vix_expiry``, ``jackson_hole``, ``election``), ``detail`` str, ``ref_period`` str (as
published, for example ``"December 1999"``; ``""`` when none), ``time_et`` str (``"HH:MM"``
New York time, ``""`` when unknown), ``source`` str. Sorted by date then line; ``(date, event)``
is unique.

**FOMC meetings** (:func:`load_fomc_meetings`,
``raw_date_text,original_date_string,start_date,end_date,scheduled``): ``start_date`` and
``end_date`` datetime64[ns] (the meeting's first and last day; the decision is announced on
``end_date``), ``scheduled`` bool (False for unscheduled meetings such as 2020-03-03 and
2020-03-15), ``raw_date_text`` str and ``original_date_string`` str as published. Sorted by
``start_date`` (unique).

**13-week T-bill rate** (:func:`load_tbill_rate`, ``Date,Value``): ``date`` datetime64[ns],
``rate_decimal`` float64, the quoted 13-week T-bill rate as a **decimal per year** (0.05 is 5%).
The file's values are decimals, not percent: they run about 0.049-0.050 in early 2007, when the
rate was about 5%. The quote basis is the source's (Yahoo ``^IRX`` is a discount rate) and is
not converted to the continuously compounded rate that :mod:`vixshield.units` uses for pricing.
Values are kept as read, including binary noise such as ``0.049699999999999994``.

**FRED series** (:func:`load_fred`, ``observation_date,<SERIES>`` or, in files saved before
late 2024, ``DATE,<SERIES>``; ISO ``YYYY-MM-DD`` dates; the files ``vixshield data fetch``
saves as ``fred/<SERIES>.csv``). FRED writes ``.`` (newer files: an empty field) on days with
no observation, mostly holidays: such a row is **not** a value. It is dropped with a note
listing its dates, never read as 0 and never filled. The series, named by the header, decides
the frame:

* ``SP500`` (:data:`FRED_PRICE_SERIES`): the S&P 500 close in index points, as the close-only
  price frame ``date, close, modelled`` (``PRICE_SCHEMA``; ``modelled`` always False). FRED
  carries only the last 10 years (S&P's licence), and no open, high or low.
* ``DTB3``, ``DTB4WK``, ``DTB6``, ``DTB1YR`` (:data:`FRED_RATE_SERIES`): Treasury bill
  secondary-market rates, which FRED publishes in **percent per year on the discount basis**
  (bank discount yield ``d = (face - price) / face * 360 / days``). The frame is the rate frame
  ``date, rate_decimal`` (``TBILL_RATE_SCHEMA``) with ``rate_decimal = value / 100`` (3.91 ->
  0.0391), so it reads like the 13-week T-bill file above: a decimal per year, still on the
  quoted discount basis and **not** converted to the continuously compounded rate that
  :mod:`vixshield.units` uses for pricing. Values outside -5..50 percent are refused.

Decisions and known quirks (kept, reported, never repaired)
----------------------------------------------------------
* **Duplicates.** Rows that repeat an earlier row field for field (in the columns loaded) are
  harmless: both modes drop the later copy and say so in ``report.notes`` (they count in
  ``rows_read`` but are not in ``skipped``). Two different rows for the same key (a date;
  ``(date, event)`` for events; a ``start_date`` for FOMC meetings) are errors on every such
  row: we cannot tell which is right.
* **Gaps.** For daily series, XNYS sessions (:func:`vixshield.calendar.sessions`) between the
  first and last date that have no row are listed in a note, as are rows dated on days that are
  not sessions (kept: for example VIX has a row on 2004-06-11, when NYSE was closed).
  The real SKEW file misses 2000-09-20..29; VIX misses four sessions.
* **SPX open before 2006** (Yahoo ``^GSPC``): the Open is mostly the previous close, so an
  open-based (SOQ) settlement proxy there is really a prior-close one. Not fixed; a note names
  the years where the open equals the previous close on more than half the rows.
* **Cboe 1990-91 rows** (VIX; also VIX9D 2011-13 and VIX6M 2008-13) have O=H=L=C: only a close
  was published. Kept; a note counts them. Some real VIX rows (47, mostly 1992-94) and one VIX6M
  row (2019-07-05) break ``low <= open/close <= high``: STRICT refuses those files, SKIP drops
  those rows, and ``close_only=True`` loads (and checks) only the closes, keeping every day.
* **VVIX before 2007** is sparse with implausible values (15.71 on 2006-03-15). The loader keeps
  the rows as published and adds a note (rather than a ``min_date`` option, so nothing is
  dropped out of sight); callers who need a clean series use
  ``frame[frame["date"] >= pd.Timestamp(VVIX_RELIABLE_FROM)]``.
* **Macro events.** For the monthly releases (``cpi``, ``ppi``, ``nfp``) ``ref_period`` must be a
  month (``"December 1999"``) that ended before the release date. The real file has 20 January
  rows from 2000-2007 that break this (for example ``2000-01-05,nfp,...,December 2000``): each
  looks like the *next* January's release dated a year early (``2000-01-17,cpi``: that day was
  Martin Luther King Day, a federal holiday), and in 2000 (nfp, ppi, cpi; the README's
  "spurious duplicate rows") and 2006 (nfp) they sit beside that month's true release. They
  are errors: SKIP drops them, STRICT refuses the file. Reference months missing from a series
  are listed in a note (October 2025 CPI was never released because of the federal shutdown;
  the file rightly has no row for it).
* **FOMC meetings.** The file is not in date order (2020-2026 blocks are out of order); it is
  sorted, with a note. It misses the 2012-07-31/08-01 meeting (the decision is in the macro
  events file); the loader cannot know and does not invent it.
* **Breadth** ends 2015-11-11 and has rows on some NYSE holidays (2002-07-04, ...): kept and
  reported in a note.
* **Rates.** Dates are descending in the file; sorted, with a note.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.pandas as pa

from vixshield.calendar import CALENDAR_END, CALENDAR_START, sessions
from vixshield.data.validation import Loaded, LoadReport, Mode, Problems
from vixshield.errors import DataError, InvalidInputError

__all__ = [
    "BREADTH_FILE_SCHEMA",
    "BREADTH_SCHEMA",
    "FOMC_MEETINGS_SCHEMA",
    "FRED_PRICE_SERIES",
    "FRED_RATE_SERIES",
    "MACRO_EVENTS_SCHEMA",
    "PRICE_SCHEMA",
    "SCHEMAS",
    "TBILL_RATE_SCHEMA",
    "VVIX_RELIABLE_FROM",
    "FileFormat",
    "detect_format",
    "load_any",
    "load_breadth",
    "load_breadth_file",
    "load_cboe_index",
    "load_fomc_meetings",
    "load_fred",
    "load_macro_events",
    "load_ohlcv",
    "load_tbill_rate",
]

PathLike = str | os.PathLike[str]

VVIX_RELIABLE_FROM: Final = dt.date(2007, 1, 3)
"""First VVIX date after the sparse, implausible 2006 values (first session of 2007)."""

_DATE_DTYPE: Final = "datetime64[ns]"
_LINE: Final = "line"
_MAX_RUNS: Final = 12  # gap runs quoted in one note
_MONTHLY_RELEASES: Final = frozenset({"cpi", "ppi", "nfp"})
_RATE_BOUNDS: Final = (-0.05, 0.5)  # plausible decimal per year; 5.0 would be percent
_OPEN_IS_PREV_CLOSE_SHARE: Final = 0.5

_YAHOO: Final = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume")
_STOOQ: Final = ("Date", "Open", "High", "Low", "Close", "Volume")
_CBOE_OHLC: Final = ("DATE", "OPEN", "HIGH", "LOW", "CLOSE")
_EVENTS: Final = ("date", "event", "detail", "ref_period", "time_et", "source")
_FOMC: Final = ("raw_date_text", "original_date_string", "start_date", "end_date", "scheduled")
_TBILL: Final = ("Date", "Value")
_BREADTH: Final = ("date", "issues")
_BREADTH_FILES: Final = (
    ("advances", "advn"),
    ("declines", "decln"),
    ("unchanged", "unchn"),
)
_BREADTH_LINE: Final = re.compile(r"^\s*\d{8}\s*,\s*-?\d+\s*,?\s*$")
_SERIES_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TIME_ET: Final = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
_EVENT_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_OHLC: Final = ("open", "high", "low", "close")
_FRED_DATE_HEADS: Final = ("observation_date", "DATE")
_FRED_MISSING: Final = frozenset({".", ""})
_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")

FRED_PRICE_SERIES: Final[dict[str, str]] = {"SP500": "S&P 500 close, index points"}
"""FRED series :func:`load_fred` reads as a close-only price frame, with what each is."""
FRED_RATE_SERIES: Final[dict[str, str]] = {
    "DTB3": "3-month (13-week) T-bill, secondary market, discount basis, percent",
    "DTB4WK": "4-week T-bill, secondary market, discount basis, percent",
    "DTB6": "6-month T-bill, secondary market, discount basis, percent",
    "DTB1YR": "1-year T-bill, secondary market, discount basis, percent",
}
"""FRED series :func:`load_fred` reads as a rate frame (percent converted to a decimal)."""


class FileFormat(StrEnum):
    """The file formats :func:`load_any` recognises from the first line."""

    YAHOO_OHLCV = "yahoo-ohlcv"  # Date,Open,High,Low,Close,Adj Close,Volume
    STOOQ_OHLCV = "stooq-ohlcv"  # Date,Open,High,Low,Close,Volume
    CBOE_OHLC = "cboe-ohlc"  # DATE,OPEN,HIGH,LOW,CLOSE (MM/DD/YYYY)
    CBOE_SINGLE = "cboe-single"  # DATE,<SERIES>, e.g. DATE,VVIX
    BREADTH = "unicorn-breadth"  # YYYYMMDD, value (no header)
    MACRO_EVENTS = "macro-events"  # date,event,detail,ref_period,time_et,source
    FOMC_MEETINGS = "fomc-meetings"  # raw_date_text,original_date_string,start_date,...
    TBILL_RATE = "tbill-rate"  # Date,Value
    FRED_PRICE = "fred-price"  # observation_date,SP500 (or DATE,SP500 with ISO dates)
    FRED_RATE = "fred-rate"  # observation_date,DTB3 (DTB4WK, DTB6, DTB1YR; percent)


# ----------------------------------------------------------------------------- schemas
# The canonical frames as pandera schemas: a checkable copy of the table in the module
# docstring, for anything that produces or consumes these frames (fetchers, the store, tests).
# The loaders' own checks are the vectorised rules below, whose messages name file and line.


def _increasing(series: pd.Series) -> bool:
    return bool(series.is_monotonic_increasing and series.is_unique)


def _date(*, unique: bool = True) -> pa.Column:
    checks = [pa.Check(_increasing, error="dates must be unique and increasing")] if unique else []
    return pa.Column(_DATE_DTYPE, checks=checks, nullable=False)


def _price(*, required: bool = True) -> pa.Column:
    return pa.Column("float64", pa.Check.gt(0), nullable=False, required=required)


def _count() -> pa.Column:
    return pa.Column("int64", pa.Check.ge(0), nullable=False)


def _text() -> pa.Column:
    return pa.Column(str, nullable=False)


PRICE_SCHEMA: Final = pa.DataFrameSchema(
    {
        "date": _date(),
        "open": _price(required=False),
        "high": _price(required=False),
        "low": _price(required=False),
        "close": _price(),
        "adj_close": _price(required=False),
        "volume": pa.Column("float64", pa.Check.ge(0), nullable=False, required=False),
        "modelled": pa.Column(bool, nullable=False),
    },
    strict=True,
    name="daily prices (load_ohlcv, load_cboe_index)",
)
BREADTH_FILE_SCHEMA: Final = pa.DataFrameSchema(
    {"date": _date(), "issues": _count()}, strict=True, name="one breadth file"
)
BREADTH_SCHEMA: Final = pa.DataFrameSchema(
    {"date": _date(), "advances": _count(), "declines": _count(), "unchanged": _count()},
    strict=True,
    name="NYSE breadth",
)
MACRO_EVENTS_SCHEMA: Final = pa.DataFrameSchema(
    {
        "date": pa.Column(
            _DATE_DTYPE, pa.Check(lambda s: bool(s.is_monotonic_increasing)), nullable=False
        ),
        "event": _text(),
        "detail": _text(),
        "ref_period": _text(),
        "time_et": _text(),
        "source": _text(),
    },
    strict=True,
    unique=["date", "event"],
    name="macro events",
)
FOMC_MEETINGS_SCHEMA: Final = pa.DataFrameSchema(
    {
        "start_date": _date(),
        "end_date": pa.Column(_DATE_DTYPE, nullable=False),
        "scheduled": pa.Column(bool, nullable=False),
        "raw_date_text": _text(),
        "original_date_string": _text(),
    },
    strict=True,
    name="FOMC meetings",
)
TBILL_RATE_SCHEMA: Final = pa.DataFrameSchema(
    {
        "date": _date(),
        "rate_decimal": pa.Column("float64", pa.Check.in_range(*_RATE_BOUNDS), nullable=False),
    },
    strict=True,
    name="13-week T-bill rate",
)


_KNOWN_FORMATS: Final = (
    "Yahoo OHLCV 'Date,Open,High,Low,Close,Adj Close,Volume'; "
    "Stooq OHLCV 'Date,Open,High,Low,Close,Volume'; "
    "Cboe index 'DATE,OPEN,HIGH,LOW,CLOSE' or 'DATE,<SERIES>' (e.g. DATE,VVIX); "
    "Unicorn breadth 'YYYYMMDD, value' (no header); "
    "macro events 'date,event,detail,ref_period,time_et,source'; "
    "FOMC meetings 'raw_date_text,original_date_string,start_date,end_date,scheduled'; "
    "T-bill rate 'Date,Value'; "
    "FRED 'observation_date,<SERIES>' or 'DATE,<SERIES>' with ISO dates, for the series "
    f"{', '.join((*FRED_PRICE_SERIES, *FRED_RATE_SERIES))}"
)


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class _Table:
    """A file split into fields: one str column per field plus the 1-based ``line``."""

    source: str
    header: tuple[str, ...]
    frame: pd.DataFrame
    rows_read: int
    notes: list[str]


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig drops a byte-order mark, which some Cboe downloads carry.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; check the path.") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder; pass a file.") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); "
            "re-save the file as UTF-8 CSV."
        ) from None


def _first_line(path: Path) -> str:
    return _first_lines(path, 1)[0]


def _first_lines(path: Path, n: int) -> list[str]:
    """Up to ``n`` first non-blank lines, stripped (at least one, else DataError)."""
    out: list[str] = []
    for line in _read_text(path).splitlines():
        if line.strip():
            out.append(line.strip())
            if len(out) == n:
                break
    if not out:
        raise DataError(f"{path}: the file is empty; nothing to load.")
    return out


def _norm_header(fields: Sequence[str]) -> tuple[str, ...]:
    return tuple(f.strip().lower() for f in fields)


def _tokenise(
    path: Path,
    *,
    columns: Sequence[str],
    header: Sequence[Sequence[str]] | None,
    problems: Problems,
) -> _Table:
    """Split ``path`` into fields; ``header`` lists the accepted header lines (None: no header).

    A row with the wrong number of fields is a problem (field ``row``); trailing empty fields
    (a trailing comma) are ignored with a note; blank lines are ignored.
    """
    source = str(path)
    reader = csv.reader(
        io.StringIO(_read_text(path), newline=""), skipinitialspace=True, strict=True
    )
    width = len(columns)
    rows: list[list[str]] = []
    lines: list[int] = []
    got_header: tuple[str, ...] = ()
    rows_read = 0
    trailing: list[int] = []
    for record in _records(reader, source):
        line = reader.line_num
        fields = [f.strip() for f in record]
        if not any(fields):
            continue
        if header is not None and not got_header:
            got_header = tuple(fields)
            accepted = {_norm_header(h) for h in header}
            if _norm_header(fields) not in accepted:
                wanted = " or ".join(repr(",".join(h)) for h in header)
                raise DataError(
                    f"{source}, line {line}: header {','.join(fields)!r} is not the expected "
                    f"{wanted}; check that this is the right kind of file (load_any "
                    "recognises every known format)."
                )
            continue
        rows_read += 1
        if len(fields) > width and not any(fields[width:]):
            trailing.append(line)
            fields = fields[:width]
        if len(fields) != width:
            problems.add(
                line,
                "row",
                ",".join(record),
                f"has {len(fields)} fields; expected {width} ({', '.join(columns)})",
            )
            continue
        rows.append(fields)
        lines.append(line)
    if header is not None and not got_header:
        raise DataError(f"{source}: the file is empty; nothing to load.")
    notes = []
    if trailing:
        notes.append(
            f"{len(trailing)} row(s) ended with empty extra fields (a trailing comma), "
            f"ignored: lines {_list_ints(trailing)}"
        )
    frame = pd.DataFrame(rows, columns=list(columns), dtype="str")
    frame[_LINE] = np.asarray(lines, dtype=np.int64)
    return _Table(source, got_header, frame, rows_read, notes)


def _records(reader: Iterator[list[str]], source: str) -> Iterator[list[str]]:
    try:
        yield from reader
    except csv.Error as exc:
        line = getattr(reader, "line_num", "?")
        raise DataError(
            f"{source}, line {line}: not readable as CSV ({exc}); fix the file."
        ) from None


def _as_mode(mode: Mode | str) -> Mode:
    try:
        return Mode(mode)
    except ValueError:
        raise InvalidInputError(
            f"mode={mode!r} is not a load mode; use Mode.STRICT ('strict') or Mode.SKIP ('skip')"
        ) from None


def _list_ints(values: Sequence[int], limit: int = _MAX_RUNS) -> str:
    text = ", ".join(str(v) for v in values[:limit])
    return text + (f", ... ({len(values)} in all)" if len(values) > limit else "")


# ----------------------------------------------------------------------------- parsing


def _parse_dates(
    frame: pd.DataFrame, column: str, *, fmt: str, shown: str, field: str, problems: Problems
) -> pd.Series:
    """Parse ``frame[column]`` with ``fmt``; unparsable values are problems and become NaT."""
    parsed = pd.to_datetime(frame[column], format=fmt, errors="coerce")
    problems.check(
        parsed.isna(),
        lines=frame[_LINE],
        field_name=field,
        values=frame[column],
        message=f"is not a date in the form {shown}",
    )
    return parsed.dt.normalize().astype(_DATE_DTYPE)


def _parse_numbers(
    frame: pd.DataFrame, column: str, *, field: str, problems: Problems
) -> npt.NDArray[np.float64]:
    """Parse ``frame[column]`` as float64; text that is not a number is a problem (NaN)."""
    parsed = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    problems.check(
        np.isnan(parsed),
        lines=frame[_LINE],
        field_name=field,
        values=frame[column],
        message="is not a number",
    )
    return parsed


def _check_positive(
    values: npt.NDArray[np.float64],
    frame: pd.DataFrame,
    column: str,
    *,
    field: str,
    problems: Problems,
) -> None:
    # NaN is already a parse problem; inf and non-positive are checked here.
    bad = ~np.isnan(values) & (~np.isfinite(values) | (values <= 0.0))
    problems.check(
        bad,
        lines=frame[_LINE],
        field_name=field,
        values=frame[column],
        message="must be a finite positive price",
    )


def _check_non_negative(
    values: npt.NDArray[np.float64],
    frame: pd.DataFrame,
    column: str,
    *,
    field: str,
    what: str,
    problems: Problems,
) -> None:
    bad = ~np.isnan(values) & (~np.isfinite(values) | (values < 0.0))
    problems.check(
        bad,
        lines=frame[_LINE],
        field_name=field,
        values=frame[column],
        message=f"must be a finite non-negative {what}",
    )


def _check_pairs(
    bad: npt.NDArray[np.bool_],
    frame: pd.DataFrame,
    *,
    field: str,
    shown: pd.Series,
    describe: Callable[[int], str],
    problems: Problems,
) -> None:
    """Record rows where ``bad``, quoting ``shown``; the message depends on the row."""
    line_arr = frame[_LINE].to_numpy()
    text = shown.to_numpy(dtype=object)
    for i in np.flatnonzero(bad):
        problems.add(int(line_arr[i]), field, text[i], describe(int(i)))


def _fmt(value: float) -> str:
    return f"{value:g}"


def _check_ohlc(
    prices: dict[str, npt.NDArray[np.float64]],
    frame: pd.DataFrame,
    *,
    names: dict[str, str],
    problems: Problems,
) -> None:
    """``low <= open, close <= high`` and ``low <= high`` on rows where all four parsed."""
    o, h, lo, c = (prices[k] for k in _OHLC)
    valid = ~(np.isnan(o) | np.isnan(h) | np.isnan(lo) | np.isnan(c))
    high, low = names["high"], names["low"]
    for key, arr in (("open", o), ("close", c)):
        _check_pairs(
            valid & (arr > h),
            frame,
            field=names[key],
            shown=frame[key],
            describe=_beyond("above", high, h, f"need low <= {key} <= high"),
            problems=problems,
        )
        _check_pairs(
            valid & (arr < lo),
            frame,
            field=names[key],
            shown=frame[key],
            describe=_beyond("below", low, lo, f"need low <= {key} <= high"),
            problems=problems,
        )
    _check_pairs(
        valid & (lo > h),
        frame,
        field=low,
        shown=frame["low"],
        describe=_beyond("above", high, h, "need low <= high"),
        problems=problems,
    )


def _beyond(
    side: str, name: str, limit: npt.NDArray[np.float64], rule: str
) -> Callable[[int], str]:
    def describe(i: int) -> str:
        return f"is {side} {name} ({_fmt(float(limit[i]))}); {rule}"

    return describe


# ----------------------------------------------------------------------------- keys and order


def _drop_exact_duplicates(table: _Table, columns: Sequence[str], notes: list[str]) -> pd.DataFrame:
    """Drop rows that repeat an earlier row field for field (harmless), with a note."""
    frame = table.frame
    repeat = frame.duplicated(subset=list(columns), keep="first")
    if not repeat.any():
        return frame
    first_line = frame.groupby(list(columns), sort=False)[_LINE].transform("min")
    pairs = [
        f"{int(line)} (= line {int(orig)})"
        for line, orig in zip(frame.loc[repeat, _LINE], first_line[repeat], strict=True)
    ]
    notes.append(
        f"{len(pairs)} exact duplicate row(s) dropped (harmless: they repeat an earlier row "
        f"field for field): lines {_list_strs(pairs)}"
    )
    return frame.loc[~repeat].reset_index(drop=True)


def _list_strs(values: Sequence[str], limit: int = _MAX_RUNS) -> str:
    text = ", ".join(values[:limit])
    return text + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _check_unique(
    frame: pd.DataFrame,
    keys: Sequence[str],
    *,
    field: str,
    shown: pd.Series,
    what: str,
    problems: Problems,
    where: npt.NDArray[np.bool_] | None = None,
) -> None:
    """Every row (of ``where``) whose parsed key appears more than once is a problem."""
    scope = frame[list(keys)].notna().all(axis=1).to_numpy(dtype=np.bool_)
    if where is not None:
        scope = scope & where
    sub = frame.loc[scope]
    dup = sub.duplicated(subset=list(keys), keep=False)
    if not dup.any():
        return
    clash = sub.loc[dup]
    others = clash.groupby(list(keys), sort=False)[_LINE].transform(
        lambda s: ", ".join(str(int(v)) for v in s)
    )
    text = shown.loc[clash.index]
    for line, value, lines in zip(clash[_LINE], text, others, strict=True):
        problems.add(
            int(line),
            field,
            value,
            f"{what} appears on lines {lines} with different values; keep one row per "
            f"{what} (exact duplicate rows are dropped automatically)",
        )


def _sort_by(frame: pd.DataFrame, column: str, notes: list[str], what: str) -> pd.DataFrame:
    dates = frame[column]
    ok = dates.dropna()
    if not ok.is_monotonic_increasing:
        descending = ok.is_monotonic_decreasing
        notes.append(
            f"rows were in {'descending' if descending else 'mixed'} {what} order in the file; "
            f"sorted by {what}"
        )
    return frame.sort_values([column, _LINE], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- session notes


def _runs(days: pd.DatetimeIndex, within: pd.DatetimeIndex) -> list[str]:
    """Describe ``days`` (a subset of ``within``) as runs of consecutive members of ``within``."""
    pos = within.get_indexer(days)
    breaks = np.flatnonzero(np.diff(pos) != 1) + 1
    out = []
    for run in np.split(np.arange(len(pos)), breaks):
        first, last = days[run[0]], days[run[-1]]
        if len(run) == 1:
            out.append(f"{first:%Y-%m-%d}")
        else:
            out.append(f"{first:%Y-%m-%d}..{last:%Y-%m-%d} ({len(run)} sessions)")
    return out


def _session_notes(dates: pd.Series, what: str) -> list[str]:
    """Notes on XNYS sessions with no row, and rows on days that are not sessions."""
    if dates.empty:
        return []
    lo = max(dates.min().date(), CALENDAR_START)
    hi = min(dates.max().date(), CALENDAR_END)
    notes = []
    if lo > hi:
        return [f"{what}: dates outside the trading calendar; no session check was made"]
    expected = pd.DatetimeIndex(pd.DatetimeIndex(sessions(lo, hi)).astype(_DATE_DTYPE))
    inside = dates[(dates >= pd.Timestamp(lo)) & (dates <= pd.Timestamp(hi))]
    have = pd.DatetimeIndex(pd.DatetimeIndex(inside).astype(_DATE_DTYPE))
    missing = pd.DatetimeIndex(expected.difference(have))
    if len(missing):
        runs = _runs(missing, expected)
        notes.append(
            f"{what}: {len(missing)} XNYS session(s) between {lo} and {hi} have no row "
            f"(not filled): {_list_strs(runs)}"
        )
    extra = have.difference(expected)
    if len(extra):
        days = [f"{d:%Y-%m-%d} ({d:%a})" for d in extra]
        notes.append(
            f"{what}: {len(extra)} row(s) dated on days that are not XNYS sessions (kept): "
            f"{_list_strs(days)}"
        )
    return notes


def _years(years: Sequence[int]) -> str:
    """``[1990, 1991, 1992, 1995]`` -> ``"1990-1992, 1995"``."""
    parts: list[str] = []
    start = prev = years[0]
    for y in [*years[1:], None]:
        if y is not None and y == prev + 1:
            prev = y
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if y is not None:
            start = prev = y
    return ", ".join(parts)


# ----------------------------------------------------------------------------- prices


def load_ohlcv(path: PathLike, *, mode: Mode = Mode.STRICT, close_only: bool = False) -> Loaded:
    """Load a Yahoo (``Date,Open,High,Low,Close,Adj Close,Volume``) or Stooq daily price file.

    Parameters
    ----------
    path
        The CSV file. Dates are ``YYYY-MM-DD``.
    mode
        ``Mode.STRICT`` refuses a file with any bad value; ``Mode.SKIP`` drops those rows and
        lists them in the report.
    close_only
        Load and check only ``date`` and ``close`` (plus ``modelled``): for callers who need
        closes from a file whose intraday fields are unreliable.

    Returns
    -------
    Loaded
        ``date, open, high, low, close, [adj_close,] volume, modelled`` (see the module
        docstring). Notes list sessions with no row, rows on non-sessions, and the years where
        the open equals the previous close on most rows (Yahoo ``^GSPC`` before 2006: the Open
        there is a prior-close proxy, not a real open).

    Raises
    ------
    DataError
        The header is not Yahoo's or Stooq's, or (strict) a value is bad.
    """
    mode = _as_mode(mode)
    file = Path(path)
    problems = Problems(str(file))
    # Both headers have Volume last; the column set is decided by the header line.
    first = _norm_header(_first_line(file).split(","))
    layout = _YAHOO if first == _norm_header(_YAHOO) else _STOOQ
    canon = ["date", *_OHLC, *(["adj_close"] if layout is _YAHOO else []), "volume"]
    table = _tokenise(file, columns=canon, header=[_YAHOO, _STOOQ], problems=problems)
    names = dict(zip(canon, table.header, strict=True))
    return _finish_prices(
        table,
        names=names,
        date_fmt="%Y-%m-%d",
        date_shown="YYYY-MM-DD",
        problems=problems,
        mode=mode,
        label=file.name,
        close_only=close_only,
    )


def load_cboe_index(
    path: PathLike, *, mode: Mode = Mode.STRICT, close_only: bool = False
) -> Loaded:
    """Load a Cboe index history: ``DATE,OPEN,HIGH,LOW,CLOSE`` or ``DATE,<SERIES>``.

    The series is named by the header for single-value files (``DATE,VVIX``, ``DATE,SKEW``:
    the value becomes ``close``) and by the file name for OHLC files (``VIX9D_History.csv``);
    ``report.notes[0]`` says which. Dates are ``MM/DD/YYYY`` (zero padding optional).

    Parameters
    ----------
    path
        The CSV file (VIX, VIX9D, VIX3M, VIX6M, VVIX, SKEW, ... history from cboe.com).
    mode
        ``Mode.STRICT`` or ``Mode.SKIP``, as for :func:`load_ohlcv`.
    close_only
        Load and check only ``date`` and ``close``. The real VIX file has 47 rows (1992-2006)
        whose open lies outside low..high: strict refuses the file, skip drops those days, and
        ``close_only=True`` keeps every close.

    Returns
    -------
    Loaded
        ``date, open, high, low, close, modelled`` or ``date, close, modelled``. Notes: the
        series; session gaps (SKEW misses 2000-09-20..29); O=H=L=C rows (VIX 1990-91: only a
        close was published); for VVIX, the rows before :data:`VVIX_RELIABLE_FROM`, which are
        kept as published but are sparse and implausible (15.71 on 2006-03-15).

    Raises
    ------
    DataError
        The header is neither Cboe layout, or (strict) a value is bad.
    """
    mode = _as_mode(mode)
    file = Path(path)
    problems = Problems(str(file))
    first = _first_line(file).split(",")
    if _norm_header(first) == _norm_header(_CBOE_OHLC):
        series = file.stem.removesuffix("_History").removesuffix("_history").upper()
        canon = ["date", *_OHLC]
        header: list[Sequence[str]] = [_CBOE_OHLC]
        origin = "file name"
    elif (
        len(first) == 2
        and first[0].strip().lower() == "date"
        and _SERIES_NAME.match(first[1].strip())
        and first[1].strip().lower() != "value"
    ):
        series = first[1].strip().upper()
        canon = ["date", "close"]
        header = [("DATE", first[1].strip())]
        origin = "header"
    else:
        raise DataError(
            f"{file}, line 1: header {','.join(first)!r} is not a Cboe index history; expected "
            "'DATE,OPEN,HIGH,LOW,CLOSE' or 'DATE,<SERIES>' (e.g. 'DATE,VVIX')."
        )
    table = _tokenise(file, columns=canon, header=header, problems=problems)
    names = dict(zip(canon, table.header, strict=True))
    return _finish_prices(
        table,
        names=names,
        date_fmt="%m/%d/%Y",
        date_shown="MM/DD/YYYY",
        problems=problems,
        mode=mode,
        label=series,
        close_only=close_only,
        first_note=f"series {series} (from the {origin})",
    )


def _finish_prices(
    table: _Table,
    *,
    names: dict[str, str],
    date_fmt: str,
    date_shown: str,
    problems: Problems,
    mode: Mode,
    label: str,
    close_only: bool,
    first_note: str | None = None,
) -> Loaded:
    notes = [first_note] if first_note else []
    notes += table.notes
    # close_only: the other columns are neither returned nor checked.
    canon = ["date", "close"] if close_only else list(names)
    if close_only and len(names) > len(canon):
        notes.append("close_only: open/high/low (and adj_close/volume) were not loaded or checked")
    frame = _drop_exact_duplicates(table, canon, notes)
    out = pd.DataFrame({_LINE: frame[_LINE].to_numpy()})
    out["date"] = _parse_dates(
        frame, "date", fmt=date_fmt, shown=date_shown, field=names["date"], problems=problems
    )
    prices = {}
    for key in canon[1:]:
        values = _parse_numbers(frame, key, field=names[key], problems=problems)
        if key == "volume":
            _check_non_negative(
                values, frame, key, field=names[key], what="volume", problems=problems
            )
        else:
            _check_positive(values, frame, key, field=names[key], problems=problems)
            prices[key] = values
        out[key] = values
    if "open" in prices:
        _check_ohlc(prices, frame, names=names, problems=problems)
    _check_unique(
        out, ["date"], field=names["date"], shown=frame["date"], what="date", problems=problems
    )
    out["modelled"] = np.zeros(len(out), dtype=np.bool_)
    out = _sort_by(out, "date", notes, "date")
    # Gaps are the file's own: a row dropped in skip mode is listed in report.skipped.
    notes += _session_notes(out["date"].dropna(), label)
    good = out.loc[~out[_LINE].isin(problems.bad_lines)]
    notes += _price_quirk_notes(good, label)
    columns = [_LINE, "date", *canon[1:], "modelled"]
    return problems.finish(
        out[columns], mode=mode, rows_read=table.rows_read, line_column=_LINE, notes=notes
    )


def _price_quirk_notes(frame: pd.DataFrame, label: str) -> list[str]:
    notes = []
    if "open" in frame and len(frame):
        flat = (
            (frame["open"] == frame["high"])
            & (frame["high"] == frame["low"])
            & (frame["low"] == frame["close"])
        )
        if flat.any():
            years = sorted({int(y) for y in frame.loc[flat, "date"].dt.year})
            notes.append(
                f"{label}: {int(flat.sum())} row(s) have open = high = low = close (only a close "
                f"was published; their open/high/low are not intraday values), in {_years(years)}"
            )
        same = frame["open"] == frame["close"].shift(1)
        share = same.groupby(frame["date"].dt.year).mean()
        years = [
            int(y)
            for y, s in zip(share.index.to_numpy(), share.to_numpy(), strict=True)
            if s > _OPEN_IS_PREV_CLOSE_SHARE
        ]
        if years:
            notes.append(
                f"{label}: the open equals the previous close on more than half the rows in "
                f"{_years(years)}; there the open is a prior-close proxy, not a real open "
                "(Yahoo ^GSPC before 2006)"
            )
    if label == "VVIX" and len(frame):
        early = frame.loc[frame["date"] < pd.Timestamp(VVIX_RELIABLE_FROM)]
        if len(early):
            low = early.iloc[int(np.argmin(early["close"].to_numpy()))]
            notes.append(
                f"VVIX: {len(early)} row(s) before {VVIX_RELIABLE_FROM} are sparse with "
                f"implausible values (lowest {low['close']:g} on {low['date']:%Y-%m-%d}); kept as "
                "published: use frame[frame['date'] >= pd.Timestamp(VVIX_RELIABLE_FROM)] for a "
                "clean series"
            )
    return notes


# ----------------------------------------------------------------------------- breadth


def load_breadth_file(path: PathLike, *, mode: Mode = Mode.STRICT) -> Loaded:
    """Load one Unicorn Research breadth file (``YYYYMMDD, value``, no header).

    Parameters
    ----------
    path
        For example ``NYSE_advn.csv`` (advancing issues). Fields in messages are named
        ``date`` and ``issues``.
    mode
        ``Mode.STRICT`` or ``Mode.SKIP``.

    Returns
    -------
    Loaded
        ``date`` datetime64[ns], ``issues`` int64 (a count, >= 0). Notes list session gaps
        and rows on non-sessions (the real files have rows on some holidays, e.g. 2002-07-04).
    """
    mode = _as_mode(mode)
    file = Path(path)
    problems = Problems(str(file))
    table = _tokenise(file, columns=_BREADTH, header=None, problems=problems)
    notes = list(table.notes)
    frame = _drop_exact_duplicates(table, _BREADTH, notes)
    out = pd.DataFrame({_LINE: frame[_LINE].to_numpy()})
    out["date"] = _parse_dates(
        frame, "date", fmt="%Y%m%d", shown="YYYYMMDD", field="date", problems=problems
    )
    counts = _parse_numbers(frame, "issues", field="issues", problems=problems)
    bad = ~np.isnan(counts) & (~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts)))
    problems.check(
        bad,
        lines=frame[_LINE],
        field_name="issues",
        values=frame["issues"],
        message="must be a whole non-negative count of issues",
    )
    out["issues"] = np.where(np.isfinite(counts) & ~bad, counts, 0).astype(np.int64)
    _check_unique(out, ["date"], field="date", shown=frame["date"], what="date", problems=problems)
    out = _sort_by(out, "date", notes, "date")
    notes += _session_notes(out["date"].dropna(), file.name)
    return problems.finish(out, mode=mode, rows_read=table.rows_read, notes=notes)


def load_breadth(folder: PathLike, *, prefix: str = "NYSE", mode: Mode = Mode.STRICT) -> Loaded:
    """Load ``<prefix>_advn.csv``, ``<prefix>_decln.csv`` and ``<prefix>_unchn.csv`` together.

    Parameters
    ----------
    folder
        The folder holding the three files.
    prefix
        The exchange prefix of the file names.
    mode
        Applied to each file, and to dates that are not in all three files: strict refuses
        them, skip drops them (listed in the notes, since they are not bad values of one row).

    Returns
    -------
    Loaded
        ``date, advances, declines, unchanged`` (int64 counts). ``report.skipped`` collects
        the three files' skipped rows; ``rows_read`` counts the distinct dates that passed
        each file's own checks, so ``rows_skipped`` counts the dates dropped for being absent
        from (or bad in) one of the files.
    """
    mode = _as_mode(mode)
    base = Path(folder)
    if not base.is_dir():
        raise DataError(f"{base}: not a folder; pass the folder holding {prefix}_advn.csv etc.")
    parts = {
        name: load_breadth_file(base / f"{prefix}_{stem}.csv", mode=mode)
        for name, stem in _BREADTH_FILES
    }
    frames = [p.frame.set_index("date")["issues"].rename(name) for name, p in parts.items()]
    joined = pd.concat(frames, axis=1, join="outer").sort_index()
    partial = joined.isna().any(axis=1)
    notes = [note for p in parts.values() for note in p.report.notes]
    if partial.any():
        lacking = [
            f"{d:%Y-%m-%d} (missing from {', '.join(c for c in joined.columns if pd.isna(row[c]))})"
            for d, row in joined.loc[partial].iterrows()
            if isinstance(d, pd.Timestamp)
        ]
        text = (
            f"{int(partial.sum())} date(s) are not in all three breadth files (after each "
            f"file's own checks): "
            f"{_list_strs(lacking)}"
        )
        if mode is Mode.STRICT:
            raise DataError(
                f"{base}: {text}; nothing was loaded. Fix the files, or load with "
                "mode='skip' to keep only the dates present in all three."
            )
        notes.append(text + "; dropped")
    kept = joined.loc[~partial].astype(np.int64).rename_axis("date").reset_index()
    kept["date"] = kept["date"].astype(_DATE_DTYPE)
    skipped = tuple(
        sorted(
            (s for p in parts.values() for s in p.report.skipped),
            key=lambda s: (s.source, s.line, s.field),
        )
    )
    report = LoadReport(
        source=str(base),
        rows_read=len(joined),
        rows_kept=len(kept),
        skipped=skipped,
        notes=tuple(notes),
    )
    return Loaded(frame=kept, report=report)


# ----------------------------------------------------------------------------- events


def load_macro_events(path: PathLike, *, mode: Mode = Mode.STRICT) -> Loaded:
    """Load the macro events calendar ``date,event,detail,ref_period,time_et,source``.

    Parameters
    ----------
    path
        The CSV file. Dates are ``YYYY-MM-DD``.
    mode
        ``Mode.STRICT`` or ``Mode.SKIP``.

    Returns
    -------
    Loaded
        ``date, event, detail, ref_period, time_et, source`` (see the module docstring).
        Notes list reference months missing from each monthly release series.

    Notes
    -----
    Checks: a date; ``event`` a lower-case identifier; ``time_et`` empty or ``HH:MM``; a
    unique ``(date, event)``; for ``cpi``, ``ppi`` and ``nfp`` a ``ref_period`` of the form
    ``"December 1999"`` that ended before the release date and appears once per series.
    """
    mode = _as_mode(mode)
    file = Path(path)
    problems = Problems(str(file))
    table = _tokenise(file, columns=_EVENTS, header=[_EVENTS], problems=problems)
    notes = list(table.notes)
    frame = _drop_exact_duplicates(table, _EVENTS, notes)
    out = frame.copy()
    out["date"] = _parse_dates(
        frame, "date", fmt="%Y-%m-%d", shown="YYYY-MM-DD", field="date", problems=problems
    )
    problems.check(
        ~frame["event"].str.fullmatch(_EVENT_NAME.pattern).to_numpy(dtype=np.bool_),
        lines=frame[_LINE],
        field_name="event",
        values=frame["event"],
        message="must be a lower-case event name such as 'cpi' or 'fomc_decision'",
    )
    bad_time = (frame["time_et"] != "") & ~frame["time_et"].str.fullmatch(_TIME_ET.pattern)
    problems.check(
        bad_time.to_numpy(dtype=np.bool_),
        lines=frame[_LINE],
        field_name="time_et",
        values=frame["time_et"],
        message="must be empty or a New York time HH:MM (00:00..23:59)",
    )
    _check_unique(
        out,
        ["date", "event"],
        field="date",
        shown=frame["date"] + " " + frame["event"],
        what="(date, event)",
        problems=problems,
    )
    monthly = frame["event"].isin(_MONTHLY_RELEASES).to_numpy(dtype=np.bool_)
    ref = pd.to_datetime(frame["ref_period"], format="%B %Y", errors="coerce")
    problems.check(
        monthly & ref.isna().to_numpy(),
        lines=frame[_LINE],
        field_name="ref_period",
        values=frame["ref_period"],
        message="must be a reference month such as 'December 1999' for a cpi/ppi/nfp release",
    )
    ref_end = ref + pd.offsets.MonthEnd(0)
    early = monthly & (ref_end >= out["date"]).to_numpy(dtype=np.bool_)
    dates = out["date"]
    _check_pairs(
        early,
        frame,
        field="ref_period",
        shown=frame["ref_period"],
        describe=lambda i: (
            f"ends after the release date {dates.iloc[i]:%Y-%m-%d}: a release cannot precede "
            "the end of its reference month (the row is likely the next year's release dated "
            "a year early); fix the date or drop the row"
        ),
        problems=problems,
    )
    _check_unique(
        out.assign(ref=ref),
        ["event", "ref"],
        field="ref_period",
        shown=frame["event"] + " " + frame["ref_period"],
        what="(event, ref_period) release",
        problems=problems,
        where=monthly,
    )
    out = _sort_by(out, "date", notes, "date")
    good_mask = ~out[_LINE].isin(problems.bad_lines)
    notes += _release_gap_notes(out.loc[good_mask])
    columns = [_LINE, *_EVENTS]
    return problems.finish(out[columns], mode=mode, rows_read=table.rows_read, notes=notes)


def _release_gap_notes(frame: pd.DataFrame) -> list[str]:
    notes = []
    for event in sorted(_MONTHLY_RELEASES):
        rows = frame.loc[frame["event"] == event, "ref_period"]
        months = pd.to_datetime(rows, format="%B %Y", errors="coerce").dropna()
        if months.empty:
            continue
        have = pd.PeriodIndex(months, freq="M")
        every = pd.period_range(have.min(), have.max(), freq="M")
        missing = every.difference(have)
        if len(missing):
            listed = [f"{m:%B %Y}" for m in missing]
            notes.append(
                f"{event}: {len(missing)} reference month(s) between {have.min():%B %Y} and "
                f"{have.max():%B %Y} have no release row (not filled): {_list_strs(listed)}"
            )
    return notes


def load_fomc_meetings(path: PathLike, *, mode: Mode = Mode.STRICT) -> Loaded:
    """Load FOMC meetings ``raw_date_text,original_date_string,start_date,end_date,scheduled``.

    Parameters
    ----------
    path
        The CSV file. ``start_date`` and ``end_date`` are ``YYYY-MM-DD``; ``scheduled`` is
        ``True`` or ``False``.
    mode
        ``Mode.STRICT`` or ``Mode.SKIP``.

    Returns
    -------
    Loaded
        ``start_date, end_date, scheduled, raw_date_text, original_date_string``, sorted by
        ``start_date``. The real file misses the 2012-07-31/08-01 meeting; it is not invented.

    Notes
    -----
    Checks: both dates parse; ``start_date <= end_date`` and the meeting lasts at most three
    days; ``scheduled`` is a boolean; ``start_date`` is unique; a meeting starts after the
    previous one ended.
    """
    mode = _as_mode(mode)
    file = Path(path)
    problems = Problems(str(file))
    table = _tokenise(file, columns=_FOMC, header=[_FOMC], problems=problems)
    notes = list(table.notes)
    frame = _drop_exact_duplicates(table, _FOMC, notes)
    out = pd.DataFrame({_LINE: frame[_LINE].to_numpy()})
    for column in ("start_date", "end_date"):
        out[column] = _parse_dates(
            frame, column, fmt="%Y-%m-%d", shown="YYYY-MM-DD", field=column, problems=problems
        )
    flag = frame["scheduled"].str.lower()
    problems.check(
        ~flag.isin(["true", "false"]).to_numpy(dtype=np.bool_),
        lines=frame[_LINE],
        field_name="scheduled",
        values=frame["scheduled"],
        message="must be True or False",
    )
    out["scheduled"] = (flag == "true").to_numpy(dtype=np.bool_)
    out["raw_date_text"] = frame["raw_date_text"]
    out["original_date_string"] = frame["original_date_string"]
    length = (out["end_date"] - out["start_date"]).dt.days.to_numpy(dtype=np.float64)
    start_text = frame["start_date"]
    _check_pairs(
        (length < 0) | (length > 2),
        frame,
        field="end_date",
        shown=frame["end_date"],
        describe=lambda i: (
            f"is {int(length[i])} day(s) after start_date {start_text.iloc[i]}; a meeting "
            "lasts one to three days (end_date >= start_date)"
        ),
        problems=problems,
    )
    _check_unique(
        out,
        ["start_date"],
        field="start_date",
        shown=frame["start_date"],
        what="start_date",
        problems=problems,
    )
    out = _sort_by(out, "start_date", notes, "start_date")
    good = out.loc[~out[_LINE].isin(problems.bad_lines)]
    overlap = (good["start_date"] <= good["end_date"].shift(1)).to_numpy(dtype=np.bool_)
    prev_end = good["end_date"].shift(1)
    for line, start, end in zip(
        good[_LINE][overlap], good["start_date"][overlap], prev_end[overlap], strict=True
    ):
        problems.add(
            int(line),
            "start_date",
            f"{start:%Y-%m-%d}",
            f"is not after the previous meeting's end_date {end:%Y-%m-%d}; meetings cannot overlap",
        )
    return problems.finish(out, mode=mode, rows_read=table.rows_read, notes=notes)


# ----------------------------------------------------------------------------- rates


def load_tbill_rate(path: PathLike, *, mode: Mode = Mode.STRICT) -> Loaded:
    """Load the 13-week T-bill rate file ``Date,Value`` (values are decimals per year).

    Parameters
    ----------
    path
        The CSV file; dates ``YYYY-MM-DD`` in any order (the real file is descending).
    mode
        ``Mode.STRICT`` or ``Mode.SKIP``.

    Returns
    -------
    Loaded
        ``date`` datetime64[ns], ``rate_decimal`` float64 (0.05 is 5% per year, quoted basis).
        A value outside -0.05..0.5 is refused: it is most likely a percent (5.0 for 5%).
    """
    mode = _as_mode(mode)
    file = Path(path)
    problems = Problems(str(file))
    canon = ["date", "rate_decimal"]
    table = _tokenise(file, columns=canon, header=[_TBILL], problems=problems)
    names = dict(zip(canon, table.header, strict=True))
    notes = list(table.notes)
    frame = _drop_exact_duplicates(table, canon, notes)
    out = pd.DataFrame({_LINE: frame[_LINE].to_numpy()})
    out["date"] = _parse_dates(
        frame, "date", fmt="%Y-%m-%d", shown="YYYY-MM-DD", field=names["date"], problems=problems
    )
    rate = _parse_numbers(frame, "rate_decimal", field=names["rate_decimal"], problems=problems)
    lo, hi = _RATE_BOUNDS
    problems.check(
        ~np.isnan(rate) & ~((rate >= lo) & (rate <= hi)),
        lines=frame[_LINE],
        field_name=names["rate_decimal"],
        values=frame["rate_decimal"],
        message=(
            f"is outside {lo}..{hi}: rates here are decimals per year (0.05 is 5%); "
            "a percent-quoted file must be divided by 100 first"
        ),
    )
    out["rate_decimal"] = rate
    _check_unique(
        out, ["date"], field=names["date"], shown=frame["date"], what="date", problems=problems
    )
    out = _sort_by(out, "date", notes, "date")
    notes += _session_notes(out["date"].dropna(), file.name)
    return problems.finish(out, mode=mode, rows_read=table.rows_read, notes=notes)


# ----------------------------------------------------------------------------- FRED


def _fred_series(file: Path) -> str:
    """The FRED series id a file's header names; DataError if not a known FRED file."""
    fields = [f.strip() for f in next(csv.reader([_first_line(file)]))]
    heads = {h.lower() for h in _FRED_DATE_HEADS}
    if len(fields) != 2 or fields[0].lower() not in heads or not _SERIES_NAME.match(fields[1]):
        raise DataError(
            f"{file}, line 1: header {','.join(fields)!r} is not a FRED series file; expected "
            "'observation_date,<SERIES>' or 'DATE,<SERIES>' (e.g. 'observation_date,SP500')."
        )
    return _known_fred(file, fields[1])


def _known_fred(file: Path, name: str) -> str:
    series = name.upper()
    if series not in FRED_PRICE_SERIES and series not in FRED_RATE_SERIES:
        known = ", ".join((*FRED_PRICE_SERIES, *FRED_RATE_SERIES))
        raise DataError(
            f"{file}, line 1: FRED series {name!r} is not one VixShield reads (its unit and "
            f"meaning are unknown here); known FRED series: {known}."
        )
    return series


def load_fred(path: PathLike, *, mode: Mode = Mode.STRICT) -> Loaded:
    """Load a FRED series CSV (``observation_date,<SERIES>`` or ``DATE,<SERIES>``).

    Parameters
    ----------
    path
        The CSV file, as FRED's ``fredgraph.csv`` serves it (``vixshield data fetch`` saves
        it as ``fred/<SERIES>.csv``). Dates are ``YYYY-MM-DD``.
    mode
        ``Mode.STRICT`` or ``Mode.SKIP``.

    Returns
    -------
    Loaded
        For ``SP500`` the close-only price frame ``date, close, modelled``; for the T-bill
        series (``DTB3``, ``DTB4WK``, ``DTB6``, ``DTB1YR``) the rate frame
        ``date, rate_decimal`` with ``rate_decimal = percent / 100``, still on FRED's
        discount basis (see the module docstring). Rows whose value is ``.`` or empty (days
        without an observation, such as holidays) are dropped and their dates listed in a
        note; they count in ``rows_read`` but are not bad rows. Other notes: the series,
        session gaps, rows on non-sessions.

    Raises
    ------
    DataError
        The header is not a FRED one or names a series not listed above, or (strict) a value
        is bad: a date that is not ``YYYY-MM-DD``, a value that is not a number, a price that
        is not finite and > 0, a rate outside -5..50 percent, or one date with two values.
    """
    mode = _as_mode(mode)
    file = Path(path)
    problems = Problems(str(file))
    series = _fred_series(file)
    is_rate = series in FRED_RATE_SERIES
    canon = ["date", "value"]
    header = [(head, series) for head in _FRED_DATE_HEADS]
    table = _tokenise(file, columns=canon, header=header, problems=problems)
    names = dict(zip(canon, table.header, strict=True))
    about = FRED_RATE_SERIES[series] if is_rate else FRED_PRICE_SERIES[series]
    notes = [f"series {series} (FRED: {about})"]
    if is_rate:
        notes.append(
            f"{series}: percent per year converted to a decimal (rate_decimal = value / 100)"
        )
    notes += table.notes
    frame = _drop_exact_duplicates(table, canon, notes)
    out = pd.DataFrame({_LINE: frame[_LINE].to_numpy()})
    out["date"] = _parse_dates(
        frame, "date", fmt="%Y-%m-%d", shown="YYYY-MM-DD", field=names["date"], problems=problems
    )
    missing = frame["value"].isin(list(_FRED_MISSING)).to_numpy(dtype=np.bool_)
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64)
    problems.check(
        ~missing & np.isnan(values),
        lines=frame[_LINE],
        field_name=names["value"],
        values=frame["value"],
        message="is not a number (FRED marks a day without a value with '.' or an empty field)",
    )
    if is_rate:
        lo, hi = (100.0 * b for b in _RATE_BOUNDS)
        problems.check(
            ~np.isnan(values) & ~((values >= lo) & (values <= hi)),
            lines=frame[_LINE],
            field_name=names["value"],
            values=frame["value"],
            message=(
                f"is outside {lo:g}..{hi:g}: FRED T-bill rates are percent per year (3.91 is 3.91%)"
            ),
        )
        out["rate_decimal"] = values / 100.0
        columns = [_LINE, "date", "rate_decimal"]
    else:
        _check_positive(values, frame, "value", field=names["value"], problems=problems)
        out["close"] = values
        out["modelled"] = np.zeros(len(out), dtype=np.bool_)
        columns = [_LINE, "date", "close", "modelled"]
    # One date with a value and a "." is as ambiguous as two values: checked on every row.
    _check_unique(
        out, ["date"], field=names["date"], shown=frame["date"], what="date", problems=problems
    )
    out["missing"] = missing
    out = _sort_by(out, "date", notes, "date")
    bad = out[_LINE].isin(problems.bad_lines).to_numpy(dtype=np.bool_)
    gone = out["missing"].to_numpy(dtype=np.bool_) & ~bad  # a bad row is reported instead
    if gone.any():
        days = [f"{d:%Y-%m-%d}" for d in out.loc[gone, "date"]]
        notes.append(
            f"{series}: {len(days)} row(s) with no value ('.' or empty: FRED's mark for a day "
            f"without an observation, such as a holiday) dropped, not filled: {_list_strs(days)}"
        )
    out = out.loc[~gone].reset_index(drop=True)
    notes += _session_notes(out["date"].dropna(), series)
    return problems.finish(out[columns], mode=mode, rows_read=table.rows_read, notes=notes)


# ----------------------------------------------------------------------------- dispatch


def detect_format(path: PathLike) -> FileFormat:
    """Recognise a file's format from its first non-blank line.

    Raises
    ------
    DataError
        The first line matches no known format; the message lists the known ones.
    """
    file = Path(path)
    line = _first_line(file)
    head = _norm_header(next(csv.reader([line])))
    known = {
        _norm_header(_YAHOO): FileFormat.YAHOO_OHLCV,
        _norm_header(_STOOQ): FileFormat.STOOQ_OHLCV,
        _norm_header(_CBOE_OHLC): FileFormat.CBOE_OHLC,
        _norm_header(_EVENTS): FileFormat.MACRO_EVENTS,
        _norm_header(_FOMC): FileFormat.FOMC_MEETINGS,
        _norm_header(_TBILL): FileFormat.TBILL_RATE,
    }
    if head in known:
        return known[head]
    if len(head) == 2 and head[0] in ("date", "observation_date") and _SERIES_NAME.match(head[1]):
        # Cboe and older FRED files share the header 'DATE,<SERIES>'; the first data row
        # tells them apart (Cboe MM/DD/YYYY, FRED ISO); a header-only file goes by the series.
        lines = _first_lines(file, 2)
        if len(lines) > 1:
            fred = bool(_ISO_DATE.match(lines[1].split(",")[0].strip()))
        else:
            fred = head[1].upper() in FRED_PRICE_SERIES or head[1].upper() in FRED_RATE_SERIES
        if head[0] == "observation_date" or fred:
            series = _known_fred(file, next(csv.reader([line]))[1].strip())
            return FileFormat.FRED_RATE if series in FRED_RATE_SERIES else FileFormat.FRED_PRICE
        return FileFormat.CBOE_SINGLE
    if _BREADTH_LINE.match(line):
        return FileFormat.BREADTH
    raise DataError(
        f"{file}, line 1: {line[:80]!r} matches no known file format. Known formats: "
        f"{_KNOWN_FORMATS}."
    )


_LOADERS: Final[dict[FileFormat, Callable[..., Loaded]]] = {
    FileFormat.YAHOO_OHLCV: load_ohlcv,
    FileFormat.STOOQ_OHLCV: load_ohlcv,
    FileFormat.CBOE_OHLC: load_cboe_index,
    FileFormat.CBOE_SINGLE: load_cboe_index,
    FileFormat.BREADTH: load_breadth_file,
    FileFormat.MACRO_EVENTS: load_macro_events,
    FileFormat.FOMC_MEETINGS: load_fomc_meetings,
    FileFormat.TBILL_RATE: load_tbill_rate,
    FileFormat.FRED_PRICE: load_fred,
    FileFormat.FRED_RATE: load_fred,
}


SCHEMAS: Final[dict[FileFormat, pa.DataFrameSchema]] = {
    FileFormat.YAHOO_OHLCV: PRICE_SCHEMA,
    FileFormat.STOOQ_OHLCV: PRICE_SCHEMA,
    FileFormat.CBOE_OHLC: PRICE_SCHEMA,
    FileFormat.CBOE_SINGLE: PRICE_SCHEMA,
    FileFormat.BREADTH: BREADTH_FILE_SCHEMA,
    FileFormat.MACRO_EVENTS: MACRO_EVENTS_SCHEMA,
    FileFormat.FOMC_MEETINGS: FOMC_MEETINGS_SCHEMA,
    FileFormat.TBILL_RATE: TBILL_RATE_SCHEMA,
    FileFormat.FRED_PRICE: PRICE_SCHEMA,
    FileFormat.FRED_RATE: TBILL_RATE_SCHEMA,
}
"""The schema of the frame :func:`load_any` returns for each format."""


def load_any(path: PathLike, *, mode: Mode = Mode.STRICT) -> Loaded:
    """Load any known daily file, recognising its format from the first line.

    See :func:`detect_format` for the formats and the module docstring for each frame.

    Raises
    ------
    DataError
        The format is not recognised (the message lists the known ones), or a load fails.
    """
    return _LOADERS[detect_format(path)](path, mode=mode)
