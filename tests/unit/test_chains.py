"""Option chains: canonical CSV/Parquet, the DataShop loader, validation rules and the bridges.

Every chain here is small, synthetic and written to ``tmp_path``. Expected values are written
out by hand (quote instants, line numbers, settlement rules from the Cboe product specs) or come
from the textbook Black-76 formula evaluated in this file with ``math.erf``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vixshield.data.chains import (
    CANONICAL_COLUMNS,
    IV_REASON_NO_FORWARD,
    IV_REASON_ZERO_BID,
    add_implied_vols,
    chain_quote_time,
    chain_to_vix_quotes,
    load_datashop,
    read_chain,
    validate_chain,
    write_chain,
)
from vixshield.data.validation import Mode
from vixshield.errors import DataError, InvalidInputError
from vixshield.units import NEW_YORK

QUOTE_TIME = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)  # a Wednesday, EDT (UTC-4)
SPXW_FRIDAY = date(2019, 7, 26)  # a PM weekly
SPX_MONTHLY = date(2019, 7, 19)  # third Friday: AM monthly (and a PM weekly)

CSV_HEADER = "quote_time,expiry,settlement,root,strike,right,bid,ask,modelled"
GOOD_ROWS = [
    "2019-06-26T15:45:00-04:00,2019-07-26,PM,SPXW,2900,C,60.2,60.7,false",
    "2019-06-26T15:45:00-04:00,2019-07-26,PM,SPXW,2900,P,38.8,39.2,false",
    "2019-06-26T15:45:00-04:00,2019-07-26,PM,SPXW,3200,C,0,0.05,false",
    "2019-06-26T15:45:00-04:00,2019-07-19,AM,SPX,2900,C,55.0,56.0,false",
]


def _write(path: Path, header: str, rows: list[str], *, bom: bool = False) -> Path:
    text = "\n".join([header, *rows]) + "\n"
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return path


def _frame(**extra: Any) -> pd.DataFrame:
    """A canonical chain with every optional column (some values missing)."""
    n = 4
    frame = pd.DataFrame(
        {
            "quote_time": pd.Series([QUOTE_TIME] * n).dt.tz_convert(NEW_YORK).dt.as_unit("ns"),
            "expiry": [SPXW_FRIDAY, SPXW_FRIDAY, SPX_MONTHLY, SPX_MONTHLY],
            "settlement": ["PM", "PM", "AM", "AM"],
            "root": ["SPXW", "SPXW", "SPX", "SPX"],
            "strike": [2900.0, 2900.0, 2900.0, 2905.5],
            "right": ["C", "P", "C", "P"],
            "bid": [60.2, 38.8, 0.0, 0.1],
            "ask": [60.7, 39.2, 0.05, 0.1],
            "bid_size": [10.0, np.nan, 3.0, 0.0],
            "ask_size": [12.0, 1.0, 3.0, 5.0],
            "volume": [0.0, 19195.0, np.nan, 1.0],
            "open_interest": [43569.0, 0.0, 24.0, np.nan],
            "underlying_bid": [2917.8] * n,
            "underlying_ask": [2918.42] * n,
            "underlying": [np.nan, 2918.11, np.nan, 2918.11],
            "iv": [0.1473, np.nan, 0.3, 1e-9],
            "delta": [0.5773, -0.4221, 0.0, -1.0],
            "modelled": [False, False, True, True],
        }
    )
    return frame.assign(**extra)


# ---------------------------------------------------------------------------------------------
# Canonical format: round trips
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    frame = validate_chain(_frame()).frame
    path = tmp_path / f"chain{suffix}"
    write_chain(frame, path)
    loaded = read_chain(path)
    pd.testing.assert_frame_equal(loaded.frame, frame, check_exact=True)
    assert list(loaded.frame.columns) == list(CANONICAL_COLUMNS)
    assert str(loaded.frame["quote_time"].dtype) == "datetime64[ns, America/New_York]"
    assert loaded.frame["quote_time"].iloc[0] == QUOTE_TIME
    assert loaded.frame["expiry"].iloc[0] == SPXW_FRIDAY
    assert loaded.report.rows_read == loaded.report.rows_kept == 4


@pytest.mark.parametrize("suffix", [".csv", ".pq"])
def test_round_trip_keeps_winter_offset_and_subsecond_times(tmp_path: Path, suffix: str) -> None:
    # 2019-12-02 is in EST (UTC-5); the instant carries microseconds.
    winter = pd.Timestamp("2019-12-02 10:30:00.123456", tz=NEW_YORK).as_unit("ns")
    frame = _frame(quote_time=winter, expiry=date(2019, 12, 20), root="SPX", settlement="AM")
    frame = validate_chain(frame.drop_duplicates(["strike", "right"])).frame
    path = tmp_path / f"winter{suffix}"
    write_chain(frame, path)
    loaded = read_chain(path).frame
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
    assert loaded["quote_time"].iloc[0].utcoffset().total_seconds() == -5 * 3600


def test_csv_text_is_the_documented_format(tmp_path: Path) -> None:
    path = tmp_path / "chain.csv"
    write_chain(validate_chain(_frame()).frame, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(CANONICAL_COLUMNS)
    assert lines[1].startswith("2019-06-26T15:45:00-04:00,2019-07-26,PM,SPXW,2900.0,C,60.2,60.7,")
    assert lines[1].endswith(",false")
    assert lines[2].split(",")[8] == ""  # missing bid_size is an empty cell


def test_minimal_csv_with_bom_loads(tmp_path: Path) -> None:
    path = _write(tmp_path / "min.csv", CSV_HEADER, GOOD_ROWS, bom=True)
    frame = read_chain(path).frame
    assert list(frame.columns) == CSV_HEADER.split(",")
    assert frame["strike"].tolist() == [2900.0, 2900.0, 3200.0, 2900.0]
    assert frame["bid"].iloc[2] == 0.0  # a zero bid is a real quote
    assert not frame["modelled"].any()
    assert frame["quote_time"].iloc[0] == QUOTE_TIME


def test_utc_quote_time_is_converted_to_new_york(tmp_path: Path) -> None:
    rows = [GOOD_ROWS[0].replace("2019-06-26T15:45:00-04:00", "2019-06-26T19:45:00Z")]
    frame = read_chain(_write(tmp_path / "utc.csv", CSV_HEADER, rows)).frame
    stamp = frame["quote_time"].iloc[0]
    assert stamp == QUOTE_TIME
    assert (stamp.hour, stamp.minute) == (15, 45)


def test_modelled_flag_is_the_only_difference(tmp_path: Path) -> None:
    real = validate_chain(_frame(modelled=False)).frame
    model = validate_chain(_frame(modelled=True)).frame
    assert real.drop(columns="modelled").equals(model.drop(columns="modelled"))
    path = tmp_path / "model.csv"
    write_chain(model, path)
    assert read_chain(path).frame["modelled"].all()


# ---------------------------------------------------------------------------------------------
# Canonical format: each validation rule, strict (refuse, naming file/line/field/value) and skip
# ---------------------------------------------------------------------------------------------

# (row index in GOOD_ROWS to break, column, bad value, field reported, message fragment)
BAD_CELLS = [
    (0, "bid", "61.0", "bid", "above the ask"),
    (1, "ask", "-0.05", "ask", "must be finite and >= 0"),
    (1, "bid", "inf", "bid", "must be finite and >= 0"),
    (1, "bid", "nan", "bid", "is not a number"),
    (0, "bid", "abc", "bid", "is not a number"),
    (0, "ask", "", "ask", "is missing"),
    (0, "strike", "0", "strike", "must be finite and > 0"),
    (0, "strike", "-5", "strike", "must be finite and > 0"),
    (0, "right", "X", "right", "must be one of"),
    (0, "right", "call", "right", "must be one of"),
    (0, "expiry", "2019-06-25", "expiry", "before the quote date"),
    (0, "expiry", "2019-07-25", "expiry", "not a SPXW expiry"),  # a Thursday
    (0, "expiry", "26/07/2019", "expiry", "not a date"),
    (0, "settlement", "AM", "settlement", "contradicts the root"),
    (0, "settlement", "noon", "settlement", "must be one of"),
    (3, "settlement", "PM", "settlement", "contradicts the root"),
    (0, "root", "", "root", "is missing"),
    (0, "quote_time", "2019-06-26T15:45:00", "quote_time", "has no UTC offset"),
    (0, "quote_time", "2019-06-26T25:45:00-04:00", "quote_time", "not a valid date/time"),
    (0, "modelled", "maybe", "modelled", "must be true or false"),
    (0, "modelled", "", "modelled", "is missing"),
]
COLUMNS = CSV_HEADER.split(",")


def _break(row: int, column: str, value: str) -> list[str]:
    rows = list(GOOD_ROWS)
    cells = rows[row].split(",")
    cells[COLUMNS.index(column)] = value
    rows[row] = ",".join(cells)
    return rows


@pytest.mark.parametrize("case", BAD_CELLS, ids=lambda c: f"{c[1]}={c[2]!r}")
def test_strict_refuses_each_bad_value(
    tmp_path: Path, case: tuple[int, str, str, str, str]
) -> None:
    row, column, value, field, fragment = case
    path = _write(tmp_path / "bad.csv", CSV_HEADER, _break(row, column, value))
    with pytest.raises(DataError) as err:
        read_chain(path)
    text = str(err.value)
    assert f"{path}, line {row + 2}, field '{field}'" in text  # header is line 1
    assert fragment in text
    assert "nothing was loaded" in text


@pytest.mark.parametrize("case", BAD_CELLS, ids=lambda c: f"{c[1]}={c[2]!r}")
def test_skip_drops_exactly_the_bad_row(
    tmp_path: Path, case: tuple[int, str, str, str, str]
) -> None:
    row, column, value, field, fragment = case
    path = _write(tmp_path / "bad.csv", CSV_HEADER, _break(row, column, value))
    loaded = read_chain(path, mode=Mode.SKIP)
    report = loaded.report
    assert (report.rows_read, report.rows_kept) == (4, 3)
    assert {p.line for p in report.skipped} == {row + 2}
    assert any(p.field == field and fragment in p.message for p in report.skipped)
    good = read_chain(_write(tmp_path / "good.csv", CSV_HEADER, GOOD_ROWS)).frame
    pd.testing.assert_frame_equal(loaded.frame, good.drop(index=row).reset_index(drop=True))


def test_duplicate_rows_are_all_reported(tmp_path: Path) -> None:
    rows = [*GOOD_ROWS, GOOD_ROWS[1].replace("38.8", "38.7")]
    path = _write(tmp_path / "dup.csv", CSV_HEADER, rows)
    with pytest.raises(DataError, match=r"line 3, field 'strike': '2019-07-26 2900 P'"):
        read_chain(path)
    loaded = read_chain(path, mode=Mode.SKIP)
    assert sorted(p.line for p in loaded.report.skipped) == [3, 6]
    assert loaded.report.rows_kept == 3


def test_am_and_pm_roots_on_one_third_friday_are_not_duplicates(tmp_path: Path) -> None:
    pm = GOOD_ROWS[3].replace(",AM,SPX,", ",PM,SPXW,")
    frame = read_chain(_write(tmp_path / "both.csv", CSV_HEADER, [*GOOD_ROWS, pm])).frame
    third = frame[frame["expiry"] == SPX_MONTHLY]
    assert sorted(third["root"]) == ["SPX", "SPXW"]


def test_same_option_at_two_quote_times_is_not_a_duplicate(tmp_path: Path) -> None:
    later = GOOD_ROWS[0].replace("15:45:00", "15:50:00")
    frame = read_chain(_write(tmp_path / "two.csv", CSV_HEADER, [*GOOD_ROWS, later])).frame
    assert frame["quote_time"].nunique() == 2
    with pytest.raises(InvalidInputError, match="2 quote instants"):
        chain_quote_time(frame)


def test_unknown_root_is_accepted_with_its_stated_settlement(tmp_path: Path) -> None:
    row = GOOD_ROWS[0].replace(",SPXW,", ",XSP,").replace("2019-07-26", "2019-07-25")
    frame = read_chain(_write(tmp_path / "xsp.csv", CSV_HEADER, [row])).frame
    assert frame["root"].tolist() == ["XSP"]


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("bid_size", -1.0, "must be >= 0"),
        ("volume", math.inf, "must be >= 0"),
        ("underlying", 0.0, "must be > 0"),
        ("iv", -0.1, "must be > 0"),
        ("delta", 1.5, "[0, 1] (C)"),
        ("underlying_bid", 3000.0, "above underlying_ask"),
    ],
)
def test_optional_columns_are_checked_where_given(column: str, value: float, fragment: str) -> None:
    frame = _frame()
    frame.loc[0, column] = value
    with pytest.raises(DataError, match=r"chain frame, line 1, field '" + column) as err:
        validate_chain(frame)
    assert fragment in str(err.value)


def test_put_delta_must_be_negative() -> None:
    frame = _frame()
    frame.loc[1, "delta"] = 0.4
    loaded = validate_chain(frame, mode=Mode.SKIP)
    assert [(p.line, p.field) for p in loaded.report.skipped] == [(2, "delta")]


def test_parquet_lines_are_row_numbers(tmp_path: Path) -> None:
    frame = validate_chain(_frame()).frame
    frame.loc[2, "ask"] = -1.0
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path, index=False)
    with pytest.raises(DataError, match=r"bad.parquet, line 3, field 'ask': '-1.0'"):
        read_chain(path)


def test_naive_quote_time_in_parquet_is_refused(tmp_path: Path) -> None:
    frame = validate_chain(_frame()).frame
    frame["quote_time"] = frame["quote_time"].dt.tz_localize(None)
    path = tmp_path / "naive.parquet"
    frame.to_parquet(path, index=False)
    with pytest.raises(DataError, match="has no UTC offset"):
        read_chain(path)


def test_blank_line_is_reported_at_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "blank.csv", CSV_HEADER, [GOOD_ROWS[0], "", GOOD_ROWS[1]])
    loaded = read_chain(path, mode=Mode.SKIP)
    assert {p.line for p in loaded.report.skipped} == {3}
    assert loaded.report.rows_kept == 2


def test_missing_and_unknown_columns_are_refused(tmp_path: Path) -> None:
    header = CSV_HEADER.replace(",modelled", ",vendor_note")
    path = _write(tmp_path / "cols.csv", header, [r.replace("false", "x") for r in GOOD_ROWS])
    with pytest.raises(DataError, match=r"missing required column\(s\) \['modelled'\]") as err:
        read_chain(path)
    assert "unknown column(s) ['vendor_note']" in str(err.value)


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"\.txt"):
        read_chain(tmp_path / "chain.txt")
    with pytest.raises(InvalidInputError, match=r"\.xlsx"):
        write_chain(_frame(), tmp_path / "chain.xlsx")


def test_write_refuses_bad_rows_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with pytest.raises(DataError, match="above the ask"):
        write_chain(_frame(bid=100.0), path)
    with pytest.raises(InvalidInputError, match=r"unknown column\(s\) \['forward'\]"):
        write_chain(_frame(forward=1.0), path)
    assert not path.exists()


def test_validate_accepts_strings_like_a_csv() -> None:
    frame = _frame().astype({"strike": str, "bid": str, "modelled": str})
    frame["expiry"] = [d.isoformat() for d in frame["expiry"]]
    canonical = validate_chain(frame).frame
    pd.testing.assert_frame_equal(canonical, validate_chain(_frame()).frame)


# ---------------------------------------------------------------------------------------------
# Cboe DataShop
# ---------------------------------------------------------------------------------------------

DS_HEADER = (
    "quote_date,expiration,strike,option_type,bid_size_{t},bid_{t},ask_size_{t},ask_{t},"
    "underlying_bid_{t},underlying_ask_{t},trade_volume,open_interest"
)
DS_ROWS = [
    "2019-06-26,2019-07-26,2900,C,10,60.2,12,60.7,2917.8,2918.42,5,100",
    "2019-06-26,2019-07-26,2900,P,11,38.8,13,39.2,2917.8,2918.42,0,24",
    "2019-06-26,2019-07-19,2900,C,1,55,2,56,2917.8,2918.42,0,0",
    "2019-06-26,2019-07-19,2900,P,0,0,1699,0.05,2917.8,2918.42,0,24",
]


def _datashop(path: Path, rows: list[str] = DS_ROWS, *, snapshot: str = "1545") -> Path:
    return _write(path, DS_HEADER.format(t=snapshot), rows, bom=True)


def test_datashop_maps_onto_the_canonical_format(tmp_path: Path) -> None:
    loaded = load_datashop(_datashop(tmp_path / "spxw_20190626_datashop.csv"))
    frame = loaded.frame
    assert list(frame.columns) == [
        "quote_time",
        "expiry",
        "settlement",
        "root",
        "strike",
        "right",
        "bid",
        "ask",
        "bid_size",
        "ask_size",
        "volume",
        "open_interest",
        "underlying_bid",
        "underlying_ask",
        "modelled",
    ]
    assert (frame["quote_time"] == QUOTE_TIME).all()
    # The file name says SPXW, so the third Friday is the PM weekly too.
    assert frame["root"].tolist() == ["SPXW"] * 4
    assert frame["settlement"].tolist() == ["PM"] * 4
    quoted = ["bid_size", "bid", "ask_size", "ask", "volume", "open_interest"]
    assert frame[quoted].iloc[1].tolist() == [11.0, 38.8, 13.0, 39.2, 0.0, 24.0]
    assert not frame["modelled"].any()
    assert "root SPXW from the file name" in loaded.report.notes
    assert any("_1545" in note for note in loaded.report.notes)


def test_datashop_snapshot_time_comes_from_the_header(tmp_path: Path) -> None:
    frame = load_datashop(_datashop(tmp_path / "spxw.csv", snapshot="0945")).frame
    assert frame["quote_time"].iloc[0] == datetime(2019, 6, 26, 9, 45, tzinfo=NEW_YORK)
    winter = [r.replace("2019-06-26", "2019-12-02").replace("07-26", "12-27") for r in DS_ROWS[:2]]
    frame = load_datashop(_datashop(tmp_path / "spxw_w.csv", winter, snapshot="1600")).frame
    stamp = frame["quote_time"].iloc[0]
    assert (stamp.hour, stamp.minute, stamp.utcoffset().total_seconds()) == (16, 0, -5 * 3600)


def test_datashop_root_from_the_calendar_rule(tmp_path: Path) -> None:
    loaded = load_datashop(_datashop(tmp_path / "quotes.csv"))
    frame = loaded.frame
    assert frame["root"].tolist() == ["SPXW", "SPXW", "SPX", "SPX"]
    assert frame["settlement"].tolist() == ["PM", "PM", "AM", "AM"]
    assert any("calendar rule" in note for note in loaded.report.notes)


def test_datashop_root_argument_wins(tmp_path: Path) -> None:
    path = _datashop(tmp_path / "quotes.csv", DS_ROWS[2:])
    frame = load_datashop(path, root="SPXW").frame
    assert frame["root"].tolist() == ["SPXW", "SPXW"]
    assert frame["settlement"].tolist() == ["PM", "PM"]
    with pytest.raises(InvalidInputError, match="root='XSP'"):
        load_datashop(path, root="XSP")


def test_datashop_root_argument_must_fit_the_calendar(tmp_path: Path) -> None:
    path = _datashop(tmp_path / "quotes.csv", DS_ROWS[:2])  # 2019-07-26 is no SPX monthly
    with pytest.raises(
        DataError, match=r"line 2, field 'expiration': '2019-07-26' is not a SPX expiry"
    ):
        load_datashop(path, root="SPX")


def test_datashop_root_column(tmp_path: Path) -> None:
    header = "root," + DS_HEADER.format(t="1545") + ",open_1545"
    rows = [
        f"{root},{row},1.0"
        for root, row in zip(["SPXW", "SPXW", "SPX", "SPXW"], DS_ROWS, strict=True)
    ]
    path = _write(tmp_path / "quotes.csv", header, rows)
    loaded = load_datashop(path)
    assert loaded.frame["settlement"].tolist() == ["PM", "PM", "AM", "PM"]
    assert "ignored columns: open_1545" in loaded.report.notes
    with pytest.raises(DataError, match=r"line 4, field 'root': 'SPX' differs from the root"):
        load_datashop(path, root="SPXW")
    bad = _write(tmp_path / "bad.csv", header, [rows[0].replace("SPXW", "XSP", 1)])
    with pytest.raises(DataError, match=r"line 2, field 'root': 'XSP' has no known settlement"):
        load_datashop(bad)


def test_datashop_messages_use_the_file_field_names(tmp_path: Path) -> None:
    rows = [DS_ROWS[0].replace("60.2", "61.0"), DS_ROWS[1].replace(",P,", ",Q,")]
    path = _datashop(tmp_path / "spxw.csv", rows)
    with pytest.raises(DataError) as err:
        load_datashop(path)
    text = str(err.value)
    assert "line 2, field 'bid_1545': '61.0 > ask 60.7' is above the ask" in text
    assert "line 3, field 'option_type': 'Q' must be one of" in text
    loaded = load_datashop(path, mode=Mode.SKIP)
    assert loaded.report.rows_kept == 0


def test_datashop_bad_quote_date_names_the_column(tmp_path: Path) -> None:
    path = _datashop(tmp_path / "spxw.csv", [DS_ROWS[0].replace("2019-06-26", "2019-13-26", 1)])
    with pytest.raises(DataError, match=r"field 'quote_date': '2019-13-26' is not a valid"):
        load_datashop(path)


def test_datashop_zero_iv_means_not_given(tmp_path: Path) -> None:
    header = DS_HEADER.format(t="1545") + ",implied_volatility_1545,delta_1545"
    rows = [DS_ROWS[0] + ",0.1473,0.5773", DS_ROWS[1] + ",0,-0.4221"]
    loaded = load_datashop(_write(tmp_path / "spxw.csv", header, rows))
    assert loaded.frame["iv"].iloc[0] == 0.1473
    assert np.isnan(loaded.frame["iv"].iloc[1])
    assert loaded.frame["delta"].tolist() == [0.5773, -0.4221]
    assert "1 rows with implied_volatility_1545 = 0 read as not given" in loaded.report.notes


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (DS_HEADER.format(t="1545").replace("option_type", "type"), "missing DataShop column"),
        (DS_HEADER.format(t="1545").replace("ask_1545", "ask_1600"), "suffixes ['1545', '1600']"),
        (DS_HEADER.format(t="2575"), "not a time of day"),
        ("quote_date,expiration,strike,option_type,bid_eod,ask_eod", "found suffixes none"),
    ],
)
def test_datashop_header_problems(tmp_path: Path, header: str, fragment: str) -> None:
    path = _write(tmp_path / "spxw.csv", header, [])
    with pytest.raises(DataError) as err:
        load_datashop(path)
    assert fragment in str(err.value)


# ---------------------------------------------------------------------------------------------
# Bridges: VIX quotes, implied vols
# ---------------------------------------------------------------------------------------------


def test_chain_to_vix_quotes_groups_by_root_expiry_settlement(tmp_path: Path) -> None:
    pm = GOOD_ROWS[3].replace(",AM,SPX,", ",PM,SPXW,").replace("55.0", "54.0")
    frame = read_chain(_write(tmp_path / "c.csv", CSV_HEADER, [*GOOD_ROWS, pm])).frame
    quotes = chain_to_vix_quotes(frame)
    assert [(q.root, q.expiry, q.settlement.time()) for q in quotes] == [
        ("SPX", SPX_MONTHLY, time(9, 30)),
        ("SPXW", SPX_MONTHLY, time(16, 0)),
        ("SPXW", SPXW_FRIDAY, time(16, 0)),
    ]
    last = quotes[2]
    assert last.calls.strikes.tolist() == [2900.0, 3200.0]
    assert last.calls.bid.tolist() == [60.2, 0.0]
    assert last.puts.ask.tolist() == [39.2]
    assert quotes[1].calls.bid.tolist() == [54.0]
    assert quotes[0].puts.strikes.size == 0
    assert chain_quote_time(frame) == QUOTE_TIME


def test_chain_to_vix_quotes_needs_one_snapshot(tmp_path: Path) -> None:
    later = GOOD_ROWS[0].replace("15:45:00", "15:50:00")
    frame = read_chain(_write(tmp_path / "two.csv", CSV_HEADER, [*GOOD_ROWS, later])).frame
    with pytest.raises(InvalidInputError, match="select one snapshot"):
        chain_to_vix_quotes(frame)
    with pytest.raises(InvalidInputError, match=r"\['bid'\]"):
        chain_to_vix_quotes(frame.drop(columns="bid"))


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _black76(
    forward: float, strike: float, t: float, vol: float, *, rate: float, call: bool
) -> float:
    """Textbook Black-76 (Hull, ch. 18), written out here as the oracle."""
    s = vol * math.sqrt(t)
    d1 = math.log(forward / strike) / s + 0.5 * s
    d2 = d1 - s
    w = 1.0 if call else -1.0
    return math.exp(-rate * t) * w * (forward * _norm_cdf(w * d1) - strike * _norm_cdf(w * d2))


# 2019-06-26 15:45 EDT to 2019-07-26 16:00 EDT: 30 days and 15 minutes of real time.
T_JULY = (30 * 1440 + 15) / 525_600


def _model_chain(
    forward: float, vol: float, rate: float, *, strikes: tuple[float, ...], half_spread: float
) -> pd.DataFrame:
    rows = []
    for k in strikes:
        for right in ("C", "P"):
            price = _black76(forward, k, T_JULY, vol, rate=rate, call=right == "C")
            bid = round(max(price - half_spread, 0.0), 10)
            rows.append(
                {
                    "quote_time": QUOTE_TIME,
                    "expiry": SPXW_FRIDAY,
                    "settlement": "PM",
                    "root": "SPXW",
                    "strike": k,
                    "right": right,
                    "bid": bid,
                    "ask": bid + 2 * half_spread if bid > 0 else price + half_spread,
                    "modelled": True,
                }
            )
    frame = pd.DataFrame(rows)
    frame["quote_time"] = frame["quote_time"].dt.tz_convert(NEW_YORK).dt.as_unit("ns")
    return validate_chain(frame).frame


def test_implied_vols_recover_the_model_vol_and_parity_forward() -> None:
    forward, vol, rate = 2921.5, 0.15, 0.0217
    frame = _model_chain(
        forward, vol, rate, strikes=(2800.0, 2900.0, 2920.0, 3000.0), half_spread=0.05
    )
    out = add_implied_vols(frame, rate=rate)
    assert (out["iv_reason"] == "OK").all()
    assert out["t_years"].to_numpy() == pytest.approx(T_JULY, rel=1e-12)
    # Parity at 2920 (smallest |C - P|): F = K + e^{rT}(C - P); the spread cancels.
    assert out["forward"].to_numpy() == pytest.approx(forward, abs=1e-9)
    assert out["iv"].to_numpy() == pytest.approx(vol, abs=1e-9)
    # Forward delta: N(d1) for a call, N(d1) - 1 for a put.
    s = vol * math.sqrt(T_JULY)
    d1 = math.log(forward / 2900.0) / s + 0.5 * s
    row = out[(out["strike"] == 2900.0) & (out["right"] == "C")]
    assert row["delta"].iloc[0] == pytest.approx(_norm_cdf(d1), abs=1e-9)
    put = out[(out["strike"] == 2900.0) & (out["right"] == "P")]
    assert put["delta"].iloc[0] == pytest.approx(_norm_cdf(d1) - 1.0, abs=1e-9)
    assert "iv_reason" not in frame.columns  # the input is not modified


def test_delta_is_the_forward_delta_whatever_the_underlying() -> None:
    forward, vol, rate = 2921.5, 0.15, 0.0217
    frame = _model_chain(forward, vol, rate, strikes=(2900.0, 2920.0), half_spread=0.05)
    plain = add_implied_vols(frame, rate=rate)
    quoted = add_implied_vols(frame.assign(underlying=2918.11), rate=rate)
    pd.testing.assert_series_equal(plain["delta"], quoted["delta"])
    s = vol * math.sqrt(T_JULY)
    d1 = math.log(forward / 2900.0) / s + 0.5 * s
    assert plain["delta"].iloc[0] == pytest.approx(_norm_cdf(d1), abs=1e-9)


def test_reasons_for_quotes_without_an_iv() -> None:
    forward, vol, rate = 2921.5, 0.15, 0.0217
    frame = _model_chain(forward, vol, rate, strikes=(2000.0, 2920.0, 4000.0), half_spread=0.05)
    frame.loc[(frame["strike"] == 4000.0) & (frame["right"] == "C"), "bid"] = 0.0
    # deep in the money: a mid below intrinsic value
    itm = (frame["strike"] == 2000.0) & (frame["right"] == "C")
    frame.loc[itm, ["bid", "ask"]] = [900.0, 910.0]
    out = add_implied_vols(frame, rate=rate).set_index(["strike", "right"])
    assert out.loc[(4000.0, "C"), "iv_reason"] == IV_REASON_ZERO_BID
    assert out.loc[(2000.0, "C"), "iv_reason"] == "BELOW_INTRINSIC"
    assert out.loc[(2920.0, "C"), "iv_reason"] == "OK"
    assert out["iv"].isna().loc[(4000.0, "C")]
    assert out["delta"].isna().loc[(2000.0, "C")]


def test_no_forward_without_a_bid_pair() -> None:
    frame = _model_chain(2921.5, 0.15, 0.0217, strikes=(2900.0, 2920.0), half_spread=0.05)
    calls_only = frame[frame["right"] == "C"]
    out = add_implied_vols(calls_only, rate=0.0217)
    assert (out["iv_reason"] == IV_REASON_NO_FORWARD).all()
    assert out["forward"].isna().all()
    # A given forward needs no parity pair.
    given = add_implied_vols(calls_only, rate=0.0217, forward={SPXW_FRIDAY: 2921.5})
    assert given["iv"].to_numpy() == pytest.approx(0.15, abs=1e-9)
    flat = add_implied_vols(calls_only, rate=0.0217, forward=2921.5)
    assert flat["iv"].to_numpy() == pytest.approx(0.15, abs=1e-9)
    with pytest.raises(InvalidInputError, match="2019-07-26"):
        add_implied_vols(calls_only, rate=0.0217, forward={SPX_MONTHLY: 2921.5})


def test_rate_curve_is_called_once_per_expiry() -> None:
    frame = _model_chain(2921.5, 0.15, 0.0217, strikes=(2900.0, 2920.0), half_spread=0.05)
    seen: list[float] = []

    def curve(t: float) -> float:
        seen.append(t)
        return 0.0217

    out = add_implied_vols(frame, rate=curve)
    assert seen == [pytest.approx(T_JULY)]
    assert out["iv"].to_numpy() == pytest.approx(0.15, abs=1e-9)
    bad: Callable[[float], float] = lambda t: math.nan  # noqa: E731
    with pytest.raises(InvalidInputError, match="non-finite"):
        add_implied_vols(frame, rate=bad)


def test_early_close_pm_expiry_settles_at_13_00() -> None:
    # 2019-11-29 (day after Thanksgiving) closes at 13:00; SPXW settles on that close.
    quote = pd.Timestamp("2019-11-27 15:45", tz=NEW_YORK).as_unit("ns")
    frame = validate_chain(
        _frame(quote_time=quote, expiry=date(2019, 11, 29), root="SPXW", settlement="PM")
        .drop_duplicates(["strike", "right"])
        .drop(columns=["iv", "delta"])
    ).frame
    out = add_implied_vols(frame, rate=0.02)
    minutes = (8 * 60 + 15) + 1440 + 13 * 60  # to midnight, Thanksgiving, 00:00-13:00
    assert out["t_years"].iloc[0] == pytest.approx(minutes / 525_600, rel=1e-12)


def test_quote_after_settlement_has_no_iv() -> None:
    quote = pd.Timestamp("2019-07-26 16:15", tz=NEW_YORK).as_unit("ns")
    frame = _model_chain(2921.5, 0.15, 0.0217, strikes=(2900.0, 2920.0), half_spread=0.05)
    out = add_implied_vols(frame.assign(quote_time=quote), rate=0.0217, forward=2921.5)
    assert (out["iv_reason"] == "NONPOSITIVE_TIME").all()


def test_empty_chain() -> None:
    frame = validate_chain(_frame().iloc[0:0]).frame
    out = add_implied_vols(frame, rate=0.02)
    assert out.empty
    assert {"iv", "delta", "t_years", "forward", "iv_reason"} <= set(out.columns)
