"""Loaders on small synthetic files: each format, each quirk, each validation rule.

Expected values are written by hand from the file text in each test; the session calendar
facts used (2000-09-04 Labor Day, 2000-09-09/10 a weekend) are public NYSE history.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vixshield.data.loaders import (
    BREADTH_FILE_SCHEMA,
    BREADTH_SCHEMA,
    FOMC_MEETINGS_SCHEMA,
    MACRO_EVENTS_SCHEMA,
    PRICE_SCHEMA,
    SCHEMAS,
    TBILL_RATE_SCHEMA,
    VVIX_RELIABLE_FROM,
    FileFormat,
    detect_format,
    load_any,
    load_breadth,
    load_breadth_file,
    load_cboe_index,
    load_fomc_meetings,
    load_fred,
    load_macro_events,
    load_ohlcv,
    load_tbill_rate,
)
from vixshield.data.validation import Mode
from vixshield.errors import DataError, InvalidInputError

YAHOO = "Date,Open,High,Low,Close,Adj Close,Volume\n"
STOOQ = "Date,Open,High,Low,Close,Volume\n"
CBOE = "DATE,OPEN,HIGH,LOW,CLOSE\n"
EVENTS = "date,event,detail,ref_period,time_et,source\n"
FOMC = "raw_date_text,original_date_string,start_date,end_date,scheduled\n"
TBILL = "Date,Value\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, loader: object, *, line: int, field: str, value: str) -> str:
    """Load strictly, expect a DataError naming file, line, field and value; return it."""
    assert callable(loader)
    with pytest.raises(DataError) as info:
        loader(path)
    text = str(info.value)
    assert str(path) in text
    assert f"line {line}, field '{field}': {value!r}" in text, text
    assert "nothing was loaded" in text
    return text


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# ----------------------------------------------------------------------------- OHLCV


def yahoo_rows() -> str:
    return (
        "2000-09-05,100.0,101.0,99.0,100.5,100.5,1000\n"
        "2000-09-06,100.5,102.0,100.0,101.0,101.0,2000\n"
        "2000-09-07,101.0,101.5,100.5,101.2,101.2,1500\n"
    )


def test_yahoo_canonical_frame(tmp_path: Path) -> None:
    loaded = load_ohlcv(write(tmp_path, "spx.csv", YAHOO + yahoo_rows()))
    frame = loaded.frame
    assert list(frame.columns) == [
        "date",
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
        "modelled",
    ]
    assert frame["date"].dtype == np.dtype("datetime64[ns]")
    for column in ("open", "high", "low", "close", "adj_close", "volume"):
        assert frame[column].dtype == np.float64
    assert frame["modelled"].dtype == np.bool_
    assert not frame["modelled"].any()
    assert list(frame["date"]) == [ts("2000-09-05"), ts("2000-09-06"), ts("2000-09-07")]
    assert frame["close"].tolist() == [100.5, 101.0, 101.2]
    assert frame["volume"].tolist() == [1000.0, 2000.0, 1500.0]
    assert isinstance(frame.index, pd.RangeIndex)
    assert loaded.report.rows_read == 3
    assert loaded.report.rows_kept == 3
    assert loaded.report.skipped == ()
    PRICE_SCHEMA.validate(frame)


def test_stooq_has_no_adj_close(tmp_path: Path) -> None:
    path = write(tmp_path, "spx_stooq.csv", STOOQ + "2000-09-05,100,101,99,100.5,1000\n")
    frame = load_ohlcv(path).frame
    assert list(frame.columns) == ["date", "open", "high", "low", "close", "volume", "modelled"]
    assert detect_format(path) is FileFormat.STOOQ_OHLCV


def test_byte_order_mark_and_blank_lines_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    text = YAHOO + "2000-09-05,100,101,99,100.5,100.5,1000\n\n\n2000-09-06,100,101,99,x,1,1\n"
    path.write_text(text, encoding="utf-8-sig")
    # The bad row is on line 5: header 1, row 2, blank lines 3 and 4.
    refused(path, load_ohlcv, line=5, field="Close", value="x")


@pytest.mark.parametrize(
    ("row", "field", "value", "message"),
    [
        ("2000/09/06,100,101,99,100.5,100.5,1", "Date", "2000/09/06", "is not a date"),
        ("2000-09-06,100,101,99,null,100.5,1", "Close", "null", "is not a number"),
        ("2000-09-06,100,101,99,,100.5,1", "Close", "", "is not a number"),
        ("2000-09-06,0,101,-1,100.5,100.5,1", "Low", "-1", "finite positive price"),
        ("2000-09-06,100,inf,99,100.5,100.5,1", "High", "inf", "finite positive price"),
        ("2000-09-06,100,101,99,100.5,100.5,-5", "Volume", "-5", "non-negative volume"),
        ("2000-09-06,102,101,99,100.5,100.5,1", "Open", "102", "is above High (101)"),
        ("2000-09-06,98,101,99,100.5,100.5,1", "Open", "98", "is below Low (99)"),
        ("2000-09-06,100,101,99,101.5,100.5,1", "Close", "101.5", "is above High (101)"),
        ("2000-09-06,100,101,99,98.5,100.5,1", "Close", "98.5", "is below Low (99)"),
        ("2000-09-06,100,101,102,100.5,100.5,1", "Low", "102", "is above High (101)"),
    ],
)
def test_strict_refuses_each_rule_naming_file_line_field_value(
    tmp_path: Path, row: str, field: str, value: str, message: str
) -> None:
    path = write(tmp_path, "bad.csv", YAHOO + "2000-09-05,100,101,99,100.5,100.5,1\n" + row + "\n")
    text = refused(path, load_ohlcv, line=3, field=field, value=value)
    assert message in text
    assert "mode='skip'" in text  # says what to do


def test_skip_drops_bad_rows_and_reports_them(tmp_path: Path) -> None:
    rows = (
        "2000-09-05,100,101,99,100.5,100.5,1\n"
        "2000-09-06,100,101,99,oops,100.5,1\n"
        "2000-09-07,100,101,102,100.5,100.5,1\n"
        "2000-09-08,100,101,99,100.5,100.5,1\n"
    )
    loaded = load_ohlcv(write(tmp_path, "skip.csv", YAHOO + rows), mode=Mode.SKIP)
    assert list(loaded.frame["date"]) == [ts("2000-09-05"), ts("2000-09-08")]
    report = loaded.report
    assert (report.rows_read, report.rows_kept, report.rows_skipped) == (4, 2, 2)
    # One bad row can break several rules: each is listed.
    assert {p.line for p in report.skipped} == {3, 4}
    assert (3, "Close", "oops") in [(p.line, p.field, p.value) for p in report.skipped]
    assert (4, "Low", "102") in [(p.line, p.field, p.value) for p in report.skipped]
    assert "2 of 4 rows kept" in report.summary()


def test_mode_may_be_given_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", YAHOO + "2000-09-05,100,101,99,x,1,1\n")
    assert load_ohlcv(path, mode="skip").frame.empty  # type: ignore[arg-type]


def test_unknown_mode_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", YAHOO + yahoo_rows())
    with pytest.raises(InvalidInputError, match="'lenient' is not a load mode"):
        load_ohlcv(path, mode="lenient")  # type: ignore[arg-type]


def test_unreadable_csv_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "nul.csv", YAHOO + '2000-09-05,"100"x,101,99,100,100,1\n')
    with pytest.raises(DataError, match=r"nul\.csv, line \d+: not readable as CSV"):
        load_ohlcv(path)


def test_exact_duplicate_rows_are_dropped_with_a_note_in_both_modes(tmp_path: Path) -> None:
    row = "2000-09-05,100,101,99,100.5,100.5,1\n"
    path = write(tmp_path, "dup.csv", YAHOO + row + row + "2000-09-06,100,101,99,100,100,1\n")
    for mode in Mode:
        loaded = load_ohlcv(path, mode=mode)
        assert len(loaded.frame) == 2
        assert loaded.report.rows_read == 3
        assert loaded.report.skipped == ()
        assert any("exact duplicate" in n and "3 (= line 2)" in n for n in loaded.report.notes)


def test_conflicting_duplicate_dates_are_errors_on_every_copy(tmp_path: Path) -> None:
    rows = (
        "2000-09-05,100,101,99,100.5,100.5,1\n"
        "2000-09-06,100,101,99,100,100,1\n"
        "2000-09-05,100,101,99,100.7,100.7,1\n"
    )
    path = write(tmp_path, "conflict.csv", YAHOO + rows)
    text = refused(path, load_ohlcv, line=2, field="Date", value="2000-09-05")
    assert "appears on lines 2, 4" in text
    loaded = load_ohlcv(path, mode=Mode.SKIP)
    assert list(loaded.frame["date"]) == [ts("2000-09-06")]
    assert sorted(p.line for p in loaded.report.skipped) == [2, 4]


def test_descending_file_is_sorted_with_a_note(tmp_path: Path) -> None:
    rows = "".join(reversed(yahoo_rows().splitlines(keepends=True)))
    loaded = load_ohlcv(write(tmp_path, "desc.csv", YAHOO + rows))
    assert loaded.frame["date"].is_monotonic_increasing
    assert any("descending date order" in n for n in loaded.report.notes)


def test_wrong_field_count_is_a_row_problem_and_a_trailing_comma_is_not(tmp_path: Path) -> None:
    rows = (
        "2000-09-05,100,101,99,100.5,100.5,1,\n"  # trailing comma: harmless
        "2000-09-06,100,101,99,100.5\n"  # too few fields
    )
    path = write(tmp_path, "fields.csv", YAHOO + rows)
    with pytest.raises(DataError, match=r"line 3, field 'row'.*has 5 fields; expected 7"):
        load_ohlcv(path)
    loaded = load_ohlcv(path, mode=Mode.SKIP)
    assert len(loaded.frame) == 1
    assert loaded.report.rows_read == 2
    assert any("trailing comma" in n and "lines 2" in n for n in loaded.report.notes)


def test_session_gaps_and_non_sessions_are_reported_never_filled(tmp_path: Path) -> None:
    rows = (
        "2000-09-01,100,101,99,100,100,1\n"  # Friday
        # 2000-09-04 is Labor Day: not a gap. 2000-09-05, 06 and 08 are missing sessions.
        "2000-09-07,100,101,99,100,100,1\n"
        "2000-09-09,100,101,99,100,100,1\n"  # a Saturday
        "2000-09-11,100,101,99,100,100,1\n"
    )
    loaded = load_ohlcv(write(tmp_path, "gaps.csv", YAHOO + rows))
    assert len(loaded.frame) == 4  # nothing added, nothing removed
    notes = " | ".join(loaded.report.notes)
    assert "3 XNYS session(s)" in notes
    assert "2000-09-05..2000-09-06 (2 sessions), 2000-09-08" in notes
    assert "not XNYS sessions (kept): 2000-09-09 (Sat)" in notes
    assert "2000-09-04" not in notes


def test_open_equal_to_previous_close_is_noted(tmp_path: Path) -> None:
    rows = (
        "2003-01-02,100,102,99,101,101,1\n"
        "2003-01-03,101,103,100,102,102,1\n"
        "2003-01-06,102,104,101,103,103,1\n"
        "2007-01-03,200,202,199,201,201,1\n"
        "2007-01-04,201.5,203,200,202,202,1\n"
    )
    notes = load_ohlcv(write(tmp_path, "open.csv", YAHOO + rows)).report.notes
    quirk = [n for n in notes if "previous close" in n]
    assert len(quirk) == 1
    assert "in 2003;" in quirk[0]


def test_wrong_header_is_refused_in_both_modes(tmp_path: Path) -> None:
    path = write(tmp_path, "hdr.csv", "Date,Price\n2000-01-03,1\n")
    for mode in Mode:
        with pytest.raises(DataError, match=r"hdr\.csv, line 1: header 'Date,Price'"):
            load_ohlcv(path, mode=mode)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_ohlcv(tmp_path / "absent.csv")
    with pytest.raises(DataError, match="empty"):
        load_ohlcv(write(tmp_path, "empty.csv", "\n\n"))
    header_only = load_ohlcv(write(tmp_path, "header.csv", YAHOO))
    assert header_only.frame.empty
    assert "date" in header_only.frame.columns


# ----------------------------------------------------------------------------- Cboe


def test_cboe_ohlc_with_unpadded_dates_and_flat_rows(tmp_path: Path) -> None:
    rows = (
        "01/02/1990,17.24,17.24,17.24,17.24\n"
        "1/3/1990,18.19,18.19,18.19,18.19\n"
        "01/04/1990,19.22,19.50,19.00,19.22\n"
    )
    loaded = load_cboe_index(write(tmp_path, "VIX_History.csv", CBOE + rows))
    frame = loaded.frame
    assert list(frame.columns) == ["date", "open", "high", "low", "close", "modelled"]
    assert frame["date"].tolist() == [ts("1990-01-02"), ts("1990-01-03"), ts("1990-01-04")]
    PRICE_SCHEMA.validate(frame)
    assert loaded.report.notes[0] == "series VIX (from the file name)"
    assert any("2 row(s) have open = high = low = close" in n for n in loaded.report.notes)


def test_cboe_strict_names_the_cboe_field(tmp_path: Path) -> None:
    path = write(tmp_path, "VIX6M_History.csv", CBOE + "07/05/2019,16.18,15.87,16.50,15.99\n")
    text = refused(path, load_cboe_index, line=2, field="LOW", value="16.50")
    assert "is above HIGH (15.87)" in text


def test_close_only_loads_and_checks_only_the_close(tmp_path: Path) -> None:
    rows = "07/05/2019,16.18,15.87,16.50,15.99\n07/08/2019,16,17,15,x\n"
    path = write(tmp_path, "VIX6M_History.csv", CBOE + rows)
    refused(path, lambda p: load_cboe_index(p, close_only=True), line=3, field="CLOSE", value="x")
    loaded = load_cboe_index(path, close_only=True, mode=Mode.SKIP)
    assert list(loaded.frame.columns) == ["date", "close", "modelled"]
    assert loaded.frame["close"].tolist() == [15.99]
    assert any(n.startswith("close_only:") for n in loaded.report.notes)
    spx = load_ohlcv(write(tmp_path, "s.csv", YAHOO + yahoo_rows()), close_only=True)
    assert list(spx.frame.columns) == ["date", "close", "modelled"]


def test_cboe_single_value_series_from_header(tmp_path: Path) -> None:
    path = write(tmp_path, "anything.csv", "DATE,SKEW\n01/02/1990,126.09\n01/03/1990,123.34\n")
    loaded = load_cboe_index(path)
    assert list(loaded.frame.columns) == ["date", "close", "modelled"]
    assert loaded.frame["close"].tolist() == [126.09, 123.34]
    assert loaded.report.notes[0] == "series SKEW (from the header)"
    assert detect_format(path) is FileFormat.CBOE_SINGLE


def test_skew_style_gap_is_reported(tmp_path: Path) -> None:
    rows = "09/19/2000,120\n10/02/2000,121\n"  # 2000-09-20..29 missing: 8 sessions
    notes = load_cboe_index(write(tmp_path, "s.csv", "DATE,SKEW\n" + rows)).report.notes
    assert any("2000-09-20..2000-09-29 (8 sessions)" in n for n in notes)


def test_vvix_before_2007_is_kept_with_a_note(tmp_path: Path) -> None:
    rows = "03/06/2006,71.73\n03/15/2006,15.71\n01/03/2007,87.63\n"
    loaded = load_cboe_index(write(tmp_path, "VVIX_History.csv", "DATE,VVIX\n" + rows))
    assert len(loaded.frame) == 3  # kept as published
    note = next(n for n in loaded.report.notes if n.startswith("VVIX: 2 row(s) before"))
    assert "lowest 15.71 on 2006-03-15" in note
    clean = loaded.frame[loaded.frame["date"] >= pd.Timestamp(VVIX_RELIABLE_FROM)]
    assert clean["close"].tolist() == [87.63]


def test_cboe_rejects_other_headers(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a Cboe index history"):
        load_cboe_index(write(tmp_path, "x.csv", "Date,Value\n2000-01-03,1\n"))


# ----------------------------------------------------------------------------- breadth


def test_breadth_file(tmp_path: Path) -> None:
    path = write(tmp_path, "NYSE_advn.csv", "19650301, 550\n19650302, 590\n")
    loaded = load_breadth_file(path)
    assert list(loaded.frame.columns) == ["date", "issues"]
    assert loaded.frame["issues"].dtype == np.int64
    assert loaded.frame["issues"].tolist() == [550, 590]
    BREADTH_FILE_SCHEMA.validate(loaded.frame)
    assert detect_format(path) is FileFormat.BREADTH


@pytest.mark.parametrize(
    ("row", "field", "value", "message"),
    [
        ("19650302, -3", "issues", "-3", "whole non-negative count"),
        ("19650302, 2.5", "issues", "2.5", "whole non-negative count"),
        ("19650302, many", "issues", "many", "is not a number"),
        ("19651302, 5", "date", "19651302", "is not a date in the form YYYYMMDD"),
    ],
)
def test_breadth_rules(tmp_path: Path, row: str, field: str, value: str, message: str) -> None:
    path = write(tmp_path, "NYSE_decln.csv", "19650301, 561\n" + row + "\n")
    assert message in refused(path, load_breadth_file, line=2, field=field, value=value)
    skipped = load_breadth_file(path, mode=Mode.SKIP)
    assert skipped.frame["issues"].tolist() == [561]
    assert skipped.report.rows_skipped == 1


def write_breadth(tmp_path: Path, unchanged_rows: str) -> Path:
    write(tmp_path, "NYSE_advn.csv", "19650301, 550\n19650302, 590\n")
    write(tmp_path, "NYSE_decln.csv", "19650301, 561\n19650302, 520\n")
    write(tmp_path, "NYSE_unchn.csv", unchanged_rows)
    return tmp_path


def test_breadth_folder(tmp_path: Path) -> None:
    loaded = load_breadth(write_breadth(tmp_path, "19650301, 261\n19650302, 258\n"))
    frame = loaded.frame
    assert list(frame.columns) == ["date", "advances", "declines", "unchanged"]
    assert frame["date"].dtype == np.dtype("datetime64[ns]")
    assert frame.iloc[1].tolist() == [ts("1965-03-02"), 590, 520, 258]
    assert all(frame[c].dtype == np.int64 for c in ("advances", "declines", "unchanged"))
    BREADTH_SCHEMA.validate(frame)


def test_breadth_folder_dates_missing_from_one_file(tmp_path: Path) -> None:
    folder = write_breadth(tmp_path, "19650301, 261\n")
    with pytest.raises(DataError, match=r"1965-03-02 \(missing from unchanged\)"):
        load_breadth(folder)
    loaded = load_breadth(folder, mode=Mode.SKIP)
    assert loaded.frame["date"].tolist() == [ts("1965-03-01")]
    assert (loaded.report.rows_read, loaded.report.rows_kept) == (2, 1)
    assert any("dropped" in n for n in loaded.report.notes)


def test_breadth_folder_skip_collects_each_files_problems(tmp_path: Path) -> None:
    folder = write_breadth(tmp_path, "19650301, 261\n19650302, -1\n")
    loaded = load_breadth(folder, mode=Mode.SKIP)
    assert len(loaded.frame) == 1
    [problem] = loaded.report.skipped
    assert (Path(problem.source).name, problem.line, problem.value) == ("NYSE_unchn.csv", 2, "-1")


def test_breadth_folder_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder"):
        load_breadth(tmp_path / "nope")


# ----------------------------------------------------------------------------- events


EVENT_ROWS = (
    "2000-01-07,nfp,Employment Situation release,December 1999,08:30,bls:sched2000\n"
    "2000-01-14,cpi,Consumer Price Index release,December 1999,08:30,bls:sched2000\n"
    '2000-08-25,jackson_hole,"Jackson Hole symposium Aug 24-26, 2000",2000,10:00,manual\n'
    "2001-01-03,fomc_intermeeting,surprise 50bp cut,,,manual\n"
)


def test_macro_events_canonical_frame(tmp_path: Path) -> None:
    path = write(tmp_path, "events.csv", EVENTS + EVENT_ROWS)
    loaded = load_macro_events(path)
    frame = loaded.frame
    assert list(frame.columns) == ["date", "event", "detail", "ref_period", "time_et", "source"]
    assert frame["date"].dtype == np.dtype("datetime64[ns]")
    assert frame.loc[2, "detail"] == "Jackson Hole symposium Aug 24-26, 2000"  # quoted comma
    assert frame.loc[3, "time_et"] == ""
    assert frame.loc[3, "ref_period"] == ""
    MACRO_EVENTS_SCHEMA.validate(frame)
    assert detect_format(path) is FileFormat.MACRO_EVENTS


def test_macro_events_exact_duplicate_dropped_with_note(tmp_path: Path) -> None:
    first = EVENT_ROWS.splitlines(keepends=True)[0]
    path = write(tmp_path, "events.csv", EVENTS + first + EVENT_ROWS)
    loaded = load_macro_events(path)  # strict: harmless, so not refused
    assert len(loaded.frame) == 4
    assert any(
        "1 exact duplicate row(s) dropped" in n and "3 (= line 2)" in n for n in loaded.report.notes
    )


def test_macro_events_release_before_its_reference_month_ends(tmp_path: Path) -> None:
    # The real file's shape: next January's release dated a year early (a spurious duplicate).
    spurious = "2000-01-05,nfp,Employment Situation release,December 2000,08:30,bls:sched2000\n"
    path = write(tmp_path, "events.csv", EVENTS + spurious + EVENT_ROWS)
    text = refused(path, load_macro_events, line=2, field="ref_period", value="December 2000")
    assert "ends after the release date 2000-01-05" in text
    loaded = load_macro_events(path, mode=Mode.SKIP)
    assert loaded.frame["date"].tolist()[0] == ts("2000-01-07")
    assert loaded.report.rows_skipped == 1


@pytest.mark.parametrize(
    ("row", "field", "value", "message"),
    [
        ("2000-13-01,cpi,x,December 1999,08:30,s", "date", "2000-13-01", "is not a date"),
        ("2000-02-18,CPI!,x,January 2000,08:30,s", "event", "CPI!", "lower-case event name"),
        ("2000-02-18,cpi,x,January 2000,8:30am,s", "time_et", "8:30am", "HH:MM"),
        ("2000-02-18,cpi,x,Q1 2000,08:30,s", "ref_period", "Q1 2000", "reference month"),
        ("2000-01-14,cpi,other,December 1999,08:30,s", "date", "2000-01-14 cpi", "(date, event)"),
        ("2000-02-18,nfp,late,December 1999,08:30,s", "ref_period", "nfp December 1999", "release"),
    ],
)
def test_macro_events_rules(tmp_path: Path, row: str, field: str, value: str, message: str) -> None:
    path = write(tmp_path, "events.csv", EVENTS + EVENT_ROWS + row + "\n")
    assert message in refused(path, load_macro_events, line=6, field=field, value=value)


def test_macro_events_missing_reference_month_is_noted_not_filled(tmp_path: Path) -> None:
    rows = (
        "2025-09-11,cpi,CPI release,August 2025,08:30,bls\n"
        "2025-10-24,cpi,CPI release,September 2025,08:30,bls\n"
        "2025-12-18,cpi,CPI release,November 2025,08:30,bls\n"
    )
    loaded = load_macro_events(write(tmp_path, "events.csv", EVENTS + rows))
    assert len(loaded.frame) == 3
    assert any(
        n.startswith("cpi: 1 reference month(s)") and n.endswith("October 2025")
        for n in loaded.report.notes
    )


# ----------------------------------------------------------------------------- FOMC


FOMC_ROWS = (
    "2020 FOMC Meetings,28 January 2020 - 29 January 2020,2020-01-28,2020-01-29,True\n"
    "2020 FOMC Meetings,3 March 2020 - 3 March 2020,2020-03-03,2020-03-03,False\n"
    "December 11-12 Meeting - 2012,December 11-12 2012,2012-12-11,2012-12-12,True\n"
)


def test_fomc_meetings_sorted_with_note(tmp_path: Path) -> None:
    path = write(tmp_path, "fomc.csv", FOMC + FOMC_ROWS)
    loaded = load_fomc_meetings(path)
    frame = loaded.frame
    assert list(frame.columns) == [
        "start_date",
        "end_date",
        "scheduled",
        "raw_date_text",
        "original_date_string",
    ]
    assert frame["start_date"].tolist() == [ts("2012-12-11"), ts("2020-01-28"), ts("2020-03-03")]
    assert frame["scheduled"].tolist() == [True, True, False]
    assert frame["scheduled"].dtype == np.bool_
    FOMC_MEETINGS_SCHEMA.validate(frame)
    assert any("sorted by start_date" in n for n in loaded.report.notes)
    assert detect_format(path) is FileFormat.FOMC_MEETINGS


@pytest.mark.parametrize(
    ("row", "field", "value", "message"),
    [
        ("x,y,2021-01-27,2021-01-26,True", "end_date", "2021-01-26", "end_date >= start_date"),
        ("x,y,2021-01-20,2021-01-27,True", "end_date", "2021-01-27", "one to three days"),
        ("x,y,2021-01-26,2021-01-27,yes", "scheduled", "yes", "True or False"),
        ("x,y,2020-01-29,2020-01-30,True", "start_date", "2020-01-29", "cannot overlap"),
        ("x,y,2020-01-28,2020-01-28,True", "start_date", "2020-01-28", "start_date appears"),
    ],
)
def test_fomc_rules(tmp_path: Path, row: str, field: str, value: str, message: str) -> None:
    path = write(tmp_path, "fomc.csv", FOMC + FOMC_ROWS + row + "\n")
    assert message in refused(path, load_fomc_meetings, line=5, field=field, value=value)


# ----------------------------------------------------------------------------- rates


def test_tbill_rate_descending_and_decimal(tmp_path: Path) -> None:
    path = write(tmp_path, "tbill.csv", TBILL + "2007-01-04,0.0496\n2007-01-03,0.0497")
    loaded = load_tbill_rate(path)
    assert list(loaded.frame.columns) == ["date", "rate_decimal"]
    assert loaded.frame["rate_decimal"].tolist() == [0.0497, 0.0496]
    TBILL_RATE_SCHEMA.validate(loaded.frame)
    assert any("descending" in n for n in loaded.report.notes)
    assert detect_format(path) is FileFormat.TBILL_RATE


def test_tbill_rate_in_percent_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "tbill.csv", TBILL + "2007-01-03,4.97\n")
    text = refused(path, load_tbill_rate, line=2, field="Value", value="4.97")
    assert "divided by 100" in text


# ----------------------------------------------------------------------------- dispatch


def test_load_any_dispatches_on_the_first_line(tmp_path: Path) -> None:
    cases = {
        "a.csv": (YAHOO + yahoo_rows(), "adj_close"),
        "VIX_History.csv": (CBOE + "01/02/1990,17.24,17.24,17.24,17.24\n", "open"),
        "b.csv": ("DATE,VVIX\n01/03/2007,87.63\n", "close"),
        "NYSE_unchn.csv": ("19650301, 261\n", "issues"),
        "c.csv": (EVENTS + EVENT_ROWS, "event"),
        "d.csv": (FOMC + FOMC_ROWS, "scheduled"),
        "e.csv": (TBILL + "2007-01-03,0.0497\n", "rate_decimal"),
    }
    for name, (text, column) in cases.items():
        path = write(tmp_path, name, text)
        frame = load_any(path).frame
        assert column in frame.columns, name
        SCHEMAS[detect_format(path)].validate(frame)


def test_empty_frames_keep_the_canonical_dtypes(tmp_path: Path) -> None:
    frame = load_ohlcv(write(tmp_path, "h.csv", YAHOO)).frame
    PRICE_SCHEMA.validate(frame)
    events = load_macro_events(write(tmp_path, "e.csv", EVENTS)).frame
    MACRO_EVENTS_SCHEMA.validate(events)


def test_load_any_lists_known_formats_when_it_cannot_tell(tmp_path: Path) -> None:
    path = write(tmp_path, "mystery.csv", "Trade Date,Futures,Settle\n")
    with pytest.raises(DataError) as info:
        load_any(path)
    text = str(info.value)
    assert "mystery.csv, line 1" in text
    for known in ("Yahoo", "Stooq", "Cboe", "Unicorn", "macro events", "FOMC", "T-bill"):
        assert known in text
    assert re.search(r"Known formats", text)


# ----------------------------------------------------------------------------- FRED
# 2024-01-01 (New Year's Day) and 2024-01-15 (Martin Luther King Day) are NYSE holidays; FRED
# writes "." on them. Rates are FRED's percent; 5.24 percent is 0.0524 as a decimal.

FRED_SP500 = (
    "observation_date,SP500\n"
    "2024-01-01,.\n"
    "2024-01-02,4742.83\n"
    "2024-01-03,4704.81\n"
    "2024-01-12,4783.83\n"
    "2024-01-15,\n"
    "2024-01-16,4765.98\n"
)


def test_fred_sp500_is_a_close_only_price_frame_without_its_holidays(tmp_path: Path) -> None:
    path = write(tmp_path, "SP500.csv", FRED_SP500)
    assert detect_format(path) is FileFormat.FRED_PRICE
    loaded = load_fred(path)
    frame = loaded.frame
    assert list(frame.columns) == ["date", "close", "modelled"]
    assert frame["date"].tolist() == [
        ts("2024-01-02"),
        ts("2024-01-03"),
        ts("2024-01-12"),
        ts("2024-01-16"),
    ]
    assert frame["close"].tolist() == [4742.83, 4704.81, 4783.83, 4765.98]
    assert not frame["modelled"].any()
    PRICE_SCHEMA.validate(frame)
    report = loaded.report
    assert (report.rows_read, report.rows_kept, report.skipped) == (6, 4, ())
    notes = "\n".join(report.notes)
    assert "series SP500 (FRED" in notes
    assert "2 row(s) with no value" in notes
    assert "dropped, not filled: 2024-01-01, 2024-01-15" in notes
    # 2024-01-04..11 are sessions with no row in this extract: reported, not filled.
    assert "SP500: 6 XNYS session(s)" in notes
    assert load_any(path).frame.equals(frame)


@pytest.mark.parametrize(("header", "series"), [("DATE", "DTB3"), ("observation_date", "DTB4WK")])
def test_fred_tbill_rates_become_decimals(tmp_path: Path, header: str, series: str) -> None:
    path = write(
        tmp_path,
        f"{series}.csv",
        f"{header},{series}\n2024-01-02,5.24\n2024-01-01,.\n2024-01-03,5.23\n2024-01-04,0.05\n",
    )
    assert detect_format(path) is FileFormat.FRED_RATE
    loaded = load_any(path)
    frame = loaded.frame
    assert list(frame.columns) == ["date", "rate_decimal"]
    assert frame["date"].tolist() == [ts("2024-01-02"), ts("2024-01-03"), ts("2024-01-04")]
    assert frame["rate_decimal"].tolist() == pytest.approx([0.0524, 0.0523, 0.0005], abs=1e-15)
    TBILL_RATE_SCHEMA.validate(frame)
    SCHEMAS[FileFormat.FRED_RATE].validate(frame)
    notes = "\n".join(loaded.report.notes)
    assert "discount basis, percent" in notes
    assert "rate_decimal = value / 100" in notes
    assert "dropped, not filled: 2024-01-01" in notes
    assert "mixed date order" in notes


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("observation_date,SP500\n2024-01-02,4742.83\n01/03/2024,4704.81\n",
         (3, "observation_date", "01/03/2024"), "is not a date in the form YYYY-MM-DD"),
        ("observation_date,SP500\n2024-01-02,n/a\n", (2, "SP500", "n/a"), "is not a number"),
        ("observation_date,SP500\n2024-01-02,0\n", (2, "SP500", "0"), "finite positive price"),
        ("observation_date,SP500\n2024-01-02,-1\n", (2, "SP500", "-1"), "finite positive price"),
        ("observation_date,SP500\n2024-01-02,inf\n", (2, "SP500", "inf"), "finite positive"),
        ("observation_date,SP500\n2024-01-02,4742.83\n2024-01-02,.\n",
         (2, "observation_date", "2024-01-02"), "appears on lines 2, 3"),
        ("DATE,DTB3\n2024-01-02,75\n", (2, "DTB3", "75"), "is outside -5..50"),
        ("DATE,DTB3\n2024-01-02,5.24,1\n", (2, "row", "2024-01-02,5.24,1"), "has 3 fields"),
    ],
)  # fmt: skip
def test_fred_rules_name_file_line_field_value(
    tmp_path: Path, text: str, where: tuple[int, str, str], message: str
) -> None:
    line, field, value = where
    path = write(tmp_path, "fred.csv", text)
    assert message in refused(path, load_fred, line=line, field=field, value=value)


def test_fred_skip_drops_bad_rows_and_reports_only_them(tmp_path: Path) -> None:
    path = write(tmp_path, "SP500.csv", FRED_SP500 + "2024-01-17,x\n")
    loaded = load_fred(path, mode=Mode.SKIP)
    assert len(loaded.frame) == 4
    assert [(p.line, p.field, p.value) for p in loaded.report.skipped] == [(8, "SP500", "x")]
    assert loaded.report.rows_read == 7


def test_fred_is_told_from_cboe_by_its_dates_and_unknown_series_are_named(
    tmp_path: Path,
) -> None:
    cboe = write(tmp_path, "VVIX_History.csv", "DATE,VVIX\n01/03/2007,87.63\n")
    assert detect_format(cboe) is FileFormat.CBOE_SINGLE
    old_fred = write(tmp_path, "SP500.csv", "DATE,SP500\n2024-01-02,4742.83\n")
    assert detect_format(old_fred) is FileFormat.FRED_PRICE
    header_only = write(tmp_path, "DTB3.csv", "DATE,DTB3\n")
    assert detect_format(header_only) is FileFormat.FRED_RATE
    assert load_fred(header_only).frame.empty
    TBILL_RATE_SCHEMA.validate(load_fred(header_only).frame)
    for text in ("observation_date,VIXCLS\n2024-01-02,13.2\n", "DATE,VIXCLS\n2024-01-02,13.2\n"):
        path = write(tmp_path, "VIXCLS.csv", text)
        with pytest.raises(DataError, match=r"VIXCLS\.csv, line 1: FRED series 'VIXCLS' is not"):
            detect_format(path)
        with pytest.raises(DataError, match="known FRED series: SP500, DTB3"):
            load_fred(path)
    yahoo = write(tmp_path, "GSPC.csv", YAHOO + yahoo_rows())
    with pytest.raises(DataError, match=r"GSPC\.csv, line 1: header .* is not a FRED series file"):
        load_fred(yahoo)
