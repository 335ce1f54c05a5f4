"""Every real daily file in ../shared/data through the loaders: counts, dates, known values.

Expected values were read off the files with ``grep`` (line numbers below are the files' own),
not computed by the loaders; the session calendar comes from ``exchange_calendars`` (XNYS).
The quirks asserted here are the ones ../shared/data/README.md lists for each file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from vixshield.calendar import sessions
from vixshield.data.loaders import (
    BREADTH_SCHEMA,
    SCHEMAS,
    VVIX_RELIABLE_FROM,
    FileFormat,
    detect_format,
    load_any,
    load_breadth,
    load_breadth_file,
    load_cboe_index,
    load_fomc_meetings,
    load_macro_events,
    load_ohlcv,
    load_tbill_rate,
)
from vixshield.data.validation import Loaded, Mode
from vixshield.errors import DataError

pytestmark = pytest.mark.real


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def value(loaded: Loaded, day: str, column: str = "close") -> float:
    frame = loaded.frame
    [out] = frame.loc[frame["date"] == ts(day), column].tolist()
    return float(out)


def notes(loaded: Loaded) -> str:
    return " | ".join(loaded.report.notes)


def assert_clean(loaded: Loaded, rows: int, first: str, last: str) -> None:
    frame = loaded.frame
    assert (loaded.report.rows_read, loaded.report.rows_kept) == (rows, rows)
    assert loaded.report.skipped == ()
    assert frame["date"].iloc[0] == ts(first)
    assert frame["date"].iloc[-1] == ts(last)
    assert frame["date"].is_monotonic_increasing
    assert frame["date"].is_unique


# ----------------------------------------------------------------------------- SPX


def test_spx_yahoo(real_data: Path) -> None:
    path = real_data / "spx" / "GSPC_daily_1990_2019.csv"
    assert detect_format(path) is FileFormat.YAHOO_OHLCV
    loaded = load_ohlcv(path)
    assert_clean(loaded, 7559, "1990-01-02", "2019-12-31")
    expected = pd.DatetimeIndex(sessions(dt.date(1990, 1, 2), dt.date(2019, 12, 31)))
    assert pd.DatetimeIndex(loaded.frame["date"]).equals(expected.astype("datetime64[ns]"))
    # line 4746: 2008-10-24,895.22,896.30,852.85,876.77,876.77,6550050000
    row = loaded.frame.loc[loaded.frame["date"] == ts("2008-10-24")].iloc[0]
    assert row[["open", "high", "low", "close", "adj_close", "volume"]].tolist() == [
        895.22,
        896.30,
        852.85,
        876.77,
        876.77,
        6550050000.0,
    ]
    # line 2956: the market reopened on 2001-09-17 after 2001-09-10 (no rows in between).
    dates = loaded.frame["date"]
    assert dates[dates.searchsorted(ts("2001-09-17")) - 1] == ts("2001-09-10")
    # The documented quirk: before 2006 the open is mostly the previous close.
    assert "open equals the previous close on more than half the rows in 1990-1993, 1995-2005" in (
        notes(loaded)
    )
    assert not loaded.frame["modelled"].any()


# ----------------------------------------------------------------------------- Cboe


def test_vix_strict_refuses_inconsistent_ohlc_rows(real_data: Path) -> None:
    path = real_data / "cboe" / "VIX_History.csv"
    with pytest.raises(DataError) as info:
        load_cboe_index(path)
    text = str(info.value)
    assert "47 bad value(s)" in text
    # line 535: 02/11/1992,19.240000,18.570000,17.610000,17.700000
    assert "VIX_History.csv, line 535, field 'OPEN': '19.240000' is above HIGH (18.57)" in text


def test_vix_skip(real_data: Path) -> None:
    loaded = load_cboe_index(real_data / "cboe" / "VIX_History.csv", mode=Mode.SKIP)
    report = loaded.report
    assert (report.rows_read, report.rows_kept) == (7556, 7509)
    assert {p.field for p in report.skipped} <= {"OPEN", "CLOSE", "LOW"}
    assert len({p.line for p in report.skipped}) == 47
    assert value(loaded, "2008-10-24") == 79.13  # line 4743
    assert value(loaded, "2008-10-24", "high") == 89.53
    assert value(loaded, "1990-01-02") == 17.24
    assert value(loaded, "2019-12-31") == 13.78
    text = notes(loaded)
    assert text.startswith("series VIX (from the file name)")
    assert "4 XNYS session(s)" in text
    assert "1991-03-01, 1997-01-31, 1997-11-26, 1999-12-31" in text
    assert "not XNYS sessions (kept): 2004-06-11 (Fri)" in text
    # 1990-91 rows have O=H=L=C (plus one row on 2004-06-11).
    assert "506 row(s) have open = high = low = close" in text
    assert "in 1990-1991, 2004" in text


@pytest.mark.parametrize(
    ("name", "rows", "first", "last_close"),
    [("VIX9D", 2263, "2011-01-04", 13.26), ("VIX3M", 2589, "2009-09-18", 15.87)],
)
def test_vix_term_indices(
    real_data: Path, name: str, rows: int, first: str, last_close: float
) -> None:
    path = real_data / "cboe" / f"{name}_History.csv"
    assert detect_format(path) is FileFormat.CBOE_OHLC
    loaded = load_cboe_index(path)
    assert_clean(loaded, rows, first, "2019-12-31")
    assert value(loaded, "2019-12-31") == last_close
    assert loaded.report.notes[0] == f"series {name} (from the file name)"


def test_vix6m_has_one_inconsistent_row(real_data: Path) -> None:
    path = real_data / "cboe" / "VIX6M_History.csv"
    with pytest.raises(DataError, match=r"line 2898, field 'LOW': '16.500000' is above HIGH"):
        load_cboe_index(path)
    loaded = load_cboe_index(path, mode=Mode.SKIP)
    assert (loaded.report.rows_read, loaded.report.rows_kept) == (3021, 3020)
    assert loaded.frame["date"].iloc[0] == ts("2008-01-02")
    assert value(loaded, "2008-10-24") == 50.85
    assert value(loaded, "2019-12-31") == 17.13
    assert ts("2019-07-05") not in set(loaded.frame["date"])


def test_vvix(real_data: Path) -> None:
    path = real_data / "cboe" / "VVIX_History.csv"
    assert detect_format(path) is FileFormat.CBOE_SINGLE
    loaded = load_cboe_index(path)
    assert_clean(loaded, 3420, "2006-03-06", "2019-12-31")
    assert list(loaded.frame.columns) == ["date", "close", "modelled"]
    assert value(loaded, "2006-03-15") == 15.71  # the bogus value is kept, not hidden
    assert value(loaded, "2008-10-24") == 128.09
    text = notes(loaded)
    assert text.startswith("series VVIX (from the header)")
    assert "VVIX: 150 row(s) before 2007-01-03" in text
    assert "lowest 15.71 on 2006-03-15" in text
    clean = loaded.frame[loaded.frame["date"] >= pd.Timestamp(VVIX_RELIABLE_FROM)]
    assert clean["date"].iloc[0] == ts("2007-01-03")
    assert clean["close"].min() > 50.0
    # From 2007 only two sessions are missing.
    missing = set(sessions(VVIX_RELIABLE_FROM, dt.date(2019, 12, 31))) - {
        d.date() for d in clean["date"]
    }
    assert missing == {dt.date(2010, 11, 11), dt.date(2013, 5, 13)}


def test_skew(real_data: Path) -> None:
    loaded = load_cboe_index(real_data / "cboe" / "SKEW_History.csv")
    assert_clean(loaded, 7544, "1990-01-02", "2019-12-31")
    assert value(loaded, "1990-01-02") == 126.09
    assert value(loaded, "2019-12-31") == 139.52
    assert value(loaded, "2008-10-24") == 116.67
    text = notes(loaded)
    assert "SKEW: 15 XNYS session(s)" in text
    assert "2000-09-20..2000-09-29 (8 sessions)" in text


# ----------------------------------------------------------------------------- breadth


@pytest.mark.parametrize(
    ("stem", "first", "on_20081010", "last"),
    [("advn", 550, 1146, 1347), ("decln", 561, 2130, 1792), ("unchn", 261, 30, 82)],
)
def test_breadth_files(real_data: Path, stem: str, first: int, on_20081010: int, last: int) -> None:
    path = real_data / "breadth" / f"NYSE_{stem}.csv"
    assert detect_format(path) is FileFormat.BREADTH
    loaded = load_breadth_file(path)
    assert_clean(loaded, 12796, "1965-03-01", "2015-11-11")
    counts = loaded.frame["issues"].tolist()
    assert (counts[0], counts[-1]) == (first, last)
    assert value(loaded, "2008-10-10", "issues") == on_20081010
    assert "not XNYS sessions (kept): 2002-07-04 (Thu)" in notes(loaded)


def test_breadth_folder(real_data: Path) -> None:
    loaded = load_breadth(real_data / "breadth")
    assert_clean(loaded, 12796, "1965-03-01", "2015-11-11")
    row = loaded.frame.loc[loaded.frame["date"] == ts("2015-11-11")].iloc[0]
    assert row[["advances", "declines", "unchanged"]].tolist() == [1347, 1792, 82]


# ----------------------------------------------------------------------------- events


def test_macro_events_strict_refuses_the_misdated_january_releases(real_data: Path) -> None:
    path = real_data / "events" / "macro_events_2000_2027.csv"
    assert detect_format(path) is FileFormat.MACRO_EVENTS
    with pytest.raises(DataError) as info:
        load_macro_events(path)
    text = str(info.value)
    assert "20 bad value(s)" in text
    # line 2: 2000-01-05,nfp,Employment Situation release,December 2000,08:30,bls:sched2000
    assert "line 2, field 'ref_period': 'December 2000' ends after the release date 2000-01-05" in (
        text
    )


def test_macro_events_skip(real_data: Path) -> None:
    loaded = load_macro_events(real_data / "events" / "macro_events_2000_2027.csv", mode=Mode.SKIP)
    report = loaded.report
    assert (report.rows_read, report.rows_kept) == (2237, 2217)
    skipped = {(p.line, p.value) for p in report.skipped}
    # The spurious 2000 rows (lines 2, 4, 7) duplicate that January's real releases.
    assert {(2, "December 2000"), (4, "December 2000"), (7, "December 2000")} <= skipped
    frame = loaded.frame
    assert frame["date"].iloc[0] == ts("2000-01-07")
    assert frame["date"].iloc[-1] == ts("2027-12-22")
    january_2000 = frame[(frame["date"] < ts("2000-02-01")) & frame["event"].isin(["nfp", "cpi"])]
    assert january_2000["ref_period"].tolist() == ["December 1999", "December 1999"]
    # 2025-10 CPI (October 2025) was never released: no row, and a note says so.
    cpi = frame[frame["event"] == "cpi"]
    assert "October 2025" not in set(cpi["ref_period"])
    assert "September 2025" in set(cpi["ref_period"])  # released late, on 2025-10-24
    cpi_note = next(n for n in report.notes if n.startswith("cpi:"))
    assert cpi_note.endswith("October 2025")
    # The FOMC decision of the 2012-07-31/08-01 meeting is here, unlike in the meetings file.
    fomc = frame[frame["event"] == "fomc_decision"]
    assert ts("2012-08-01") in set(fomc["date"])


def test_fomc_meetings(real_data: Path) -> None:
    path = real_data / "events" / "FOMC_meetings_1940_2026.csv"
    assert detect_format(path) is FileFormat.FOMC_MEETINGS
    loaded = load_fomc_meetings(path)
    frame = loaded.frame
    assert (loaded.report.rows_read, loaded.report.rows_kept) == (825, 825)
    assert frame["start_date"].iloc[0] == ts("1940-03-20")
    assert frame["end_date"].iloc[-1] == ts("2026-12-09")
    assert frame["start_date"].is_monotonic_increasing
    assert "sorted by start_date" in notes(loaded)
    unscheduled = frame.loc[~frame["scheduled"], "start_date"].tolist()
    assert unscheduled == [ts("2020-03-03"), ts("2020-03-15")]
    # The documented gap: the 2012-07-31/08-01 meeting is missing and is not invented.
    in_2012 = frame.loc[frame["start_date"].dt.year == 2012, "start_date"]
    assert len(in_2012) == 7
    assert ts("2012-07-31") not in set(in_2012)


# ----------------------------------------------------------------------------- rates


def test_tbill_rate(real_data: Path) -> None:
    path = real_data / "rates" / "tbill13week_2005_2014.csv"
    assert detect_format(path) is FileFormat.TBILL_RATE
    loaded = load_tbill_rate(path)
    assert_clean(loaded, 2419, "2005-01-03", "2014-08-15")
    assert "descending date order" in notes(loaded)
    # Decimal per year, not percent: the 13-week bill yielded about 5% in early 2007.
    assert value(loaded, "2007-01-03", "rate_decimal") == 0.0493
    rates_2007h1 = loaded.frame.loc[
        loaded.frame["date"].between(ts("2007-01-01"), ts("2007-06-30")), "rate_decimal"
    ]
    assert 0.04 < rates_2007h1.min() <= rates_2007h1.max() < 0.055
    assert value(loaded, "2008-12-10", "rate_decimal") == 0.0


# ----------------------------------------------------------------------------- every file


def test_load_any_reads_every_daily_file(real_data: Path) -> None:
    folders = ("spx", "cboe", "breadth", "events", "rates")
    paths = sorted(p for folder in folders for p in (real_data / folder).glob("*.csv"))
    assert len(paths) == 13  # 1 spx, 6 cboe, 3 breadth, 2 events, 1 rates
    for path in paths:
        loaded = load_any(path, mode=Mode.SKIP)
        assert loaded.report.rows_kept > 0, path
        assert loaded.report.rows_kept == len(loaded.frame), path
        SCHEMAS[detect_format(path)].validate(loaded.frame)
    BREADTH_SCHEMA.validate(load_breadth(real_data / "breadth").frame)


def test_vix_close_only_keeps_every_close(real_data: Path) -> None:
    loaded = load_cboe_index(real_data / "cboe" / "VIX_History.csv", close_only=True)
    assert_clean(loaded, 7556, "1990-01-02", "2019-12-31")
    assert list(loaded.frame.columns) == ["date", "close", "modelled"]
    assert value(loaded, "2008-10-24") == 79.13
    assert value(loaded, "1992-02-11") == 17.70  # line 535, dropped by the OHLC rule otherwise
