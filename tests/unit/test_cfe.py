"""The CFE VX loader on small synthetic files: every quirk, strict messages, skip reports."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vixshield.calendar import vx_expiry
from vixshield.data.cfe import (
    CFE_COLUMNS,
    CFE_HEADER,
    cfe_contract,
    load_cfe_file,
    load_cfe_folder,
)
from vixshield.data.validation import Mode
from vixshield.errors import DataError

DISCLAIMER = (
    "CFE data is compiled for the convenience of site visitors and is furnished without "
    "responsibility for accuracy."
)


def _write(folder: Path, name: str, *rows: str, header: str = CFE_HEADER) -> Path:
    path = folder / name
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


# K04 (May 2004) expires 2004-05-19 under the original rule; every price is on the 10x scale.
K04_ROWS = (
    "3/24/2004,K (May 04),0,0,0,0,0,0,0,0,0",  # line 2: Settle 0 before the first trade
    "3/26/2004,K (May 04),212.4,212.5,202.7,202.7,203.2,0,216,0,144",  # line 3
    "",  # line 4: blank
    "03/29/2004,K (May 04),199,199.9,197.5,197.7,198,0,52,0,113,,",  # line 5: padded, commas
    "3/30/2004,K (May 04),,,,,196.2,-1.8,93,0,159",  # line 6: empty O/H/L/C
    "5/19/2004,K (May 04),0,0,0,0,183.55,-8.95,0,0,1111",  # line 7: expiry-day row
)


def test_a_clean_old_scale_file_loads_with_every_quirk_handled(tmp_path: Path) -> None:
    path = _write(tmp_path, "CFE_K04_VX.csv", *K04_ROWS, DISCLAIMER)
    loaded = load_cfe_file(path)
    frame = loaded.frame
    assert tuple(frame.columns) == CFE_COLUMNS
    assert frame["date"].dtype == "datetime64[ns]"
    assert frame["expiry"].dtype == "datetime64[ns]"
    assert frame["volume"].dtype == "int64"
    assert frame["open_interest"].dtype == "int64"
    assert frame["date"].dt.date.tolist() == [
        dt.date(2004, 3, 26),
        dt.date(2004, 3, 29),
        dt.date(2004, 3, 30),
        dt.date(2004, 5, 19),
    ]
    assert set(frame["contract"]) == {"VX 2004-05"}
    assert set(frame["expiry"].dt.date) == {dt.date(2004, 5, 19)}
    # Divided by 10 (old VBI scale); hand-computed.
    assert frame["settle"].tolist() == pytest.approx([20.32, 19.8, 19.62, 18.355])
    assert frame.loc[0, ["open", "high", "low", "close"]].tolist() == pytest.approx(
        [21.24, 21.25, 20.27, 20.27]
    )
    # Empty fields and the expiry-day zeros are missing, never a price of 0.
    assert frame.loc[2:3, ["open", "high", "low", "close"]].isna().all().all()
    assert frame["rescaled"].all()
    assert not frame["modelled"].any()
    assert frame["volume"].tolist() == [216, 52, 93, 0]
    report = loaded.report
    assert (report.source, report.rows_read, report.rows_kept) == ("CFE_K04_VX.csv", 5, 4)
    assert report.skipped == ()
    notes = "\n".join(report.notes)
    assert "divided by 10 (column 'rescaled'): 4 rows" in notes
    assert "read as missing (no trades, or the expiry-day row): 2 rows" in notes
    assert "Settle = 0 before the contract first traded dropped: 1 rows" in notes


def test_prices_from_2007_03_26_keep_their_scale(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "CFE_K07_VX.csv",
        "03/23/2007,K (May 07),138.00,139.00,137.50,138.70,138.70,1.50,10,0,100",
        "03/26/2007,K (May 07),13.80,13.90,13.70,13.79,13.79,0.00,10,0,100",
        "2007-03-27,K (May 07),13.95,14.00,13.90,13.99,13.99,0.20,10,0,100",  # ISO date
    )
    frame = load_cfe_file(path).frame
    assert frame["settle"].tolist() == pytest.approx([13.87, 13.79, 13.99])
    assert frame["rescaled"].tolist() == [True, False, False]
    assert frame["expiry"].iloc[0].date() == vx_expiry(2007, 5)


def test_an_incomplete_range_is_no_range(tmp_path: Path) -> None:
    # A listing-day row: Open = Close = 0 beside quote-like High < Low, no volume.
    path = _write(
        tmp_path,
        "CFE_F15_VX.csv",
        "04/21/2014,F (Jan 15),0.00,18.15,18.80,0.00,18.50,18.50,0,0,0",
        "04/22/2014,F (Jan 15),18.40,18.60,18.30,18.50,18.45,-0.05,5,0,5",
    )
    loaded = load_cfe_file(path)
    assert loaded.frame.loc[0, ["open", "high", "low", "close"]].isna().all()
    assert loaded.frame.loc[1, "high"] == 18.60
    assert any("incomplete O/H/L/C" in n and "1 rows" in n for n in loaded.report.notes)


def test_settle_zero_rows_before_the_first_trade_are_dropped_even_between_prices(
    tmp_path: Path,
) -> None:
    # N09 in the real data: 0, 23.87, 0 before its first trade; none of the zeros is a price.
    path = _write(
        tmp_path,
        "CFE_N09_VX.csv",
        "07/18/2008,N (Jul 09),0.00,0.00,0.00,0.00,0.00,0.00,0,0,0",
        "07/21/2008,N (Jul 09),0.00,0.00,0.00,0.00,23.87,23.87,0,0,0",
        "07/22/2008,N (Jul 09),0.00,0.00,0.00,0.00,0.00,-23.87,0,0,0",
        "09/30/2008,N (Jul 09),27.55,27.55,26.10,26.10,26.18,-1.04,12,0,10",
    )
    loaded = load_cfe_file(path)
    assert loaded.frame["settle"].tolist() == [23.87, 26.18]
    assert (loaded.report.rows_read, loaded.report.rows_kept) == (4, 2)


GOOD = "5/17/2004,K (May 04),190,191,189,190,190.5,0,10,0,100"  # line 2


@pytest.mark.parametrize(
    ("row", "field", "value", "why"),
    [
        ("13/45/2004,K (May 04),1,1,1,1,190,0,1,0,1", "Trade Date", "13/45/2004", "is not a date"),
        ("2004.05.18,K (May 04),1,1,1,1,190,0,1,0,1", "Trade Date", "2004.05.18", "is not a date"),
        ("5/17/2004,K (May 04),1,1,1,1,190,0,1,0,1", "Trade Date", "5/17/2004", "is not after"),
        ("5/20/2004,K (May 04),1,1,1,1,190,0,1,0,1", "Trade Date", "5/20/2004", "is after the"),
        ("5/18/2004,M (Jun 04),1,1,1,1,190,0,1,0,1", "Futures", "M (Jun 04)", "does not match"),
        ("5/18/2004,K (May 04),1,1,1,1,x,0,1,0,1", "Settle", "x", "is not a finite number"),
        ("5/18/2004,K (May 04),1,1,1,1,,0,1,0,1", "Settle", "", "is not a finite number"),
        ("5/18/2004,K (May 04),1,1,1,1,inf,0,1,0,1", "Settle", "inf", "is not a finite number"),
        ("5/18/2004,K (May 04),0,0,0,0,0,0,0,0,1", "Settle", "0", "must be a finite price > 0"),
        ("5/18/2004,K (May 04),0,0,0,0,-5,0,0,0,1", "Settle", "-5", "must be a finite price > 0"),
        ("5/18/2004,K (May 04),0,0,0,0,10,0,0,0,1", "Settle", "10", "is below 5 VIX points"),
        ("5/18/2004,K (May 04),190,189,191,190,190,0,1,0,1", "High", "189", "is below the row's"),
        ("5/18/2004,K (May 04),195,191,189,190,190,0,1,0,1", "Open", "195", "is outside the row"),
        ("5/18/2004,K (May 04),190,191,189,188,190,0,1,0,1", "Close", "188", "is outside the row"),
        ("5/18/2004,K (May 04),-1,191,189,190,190,0,1,0,1", "Open", "-1", "is negative"),
        ("5/18/2004,K (May 04),1,1,1,1,190,0,-1,0,1", "Total Volume", "-1", "whole number >= 0"),
        ("5/18/2004,K (May 04),1,1,1,1,190,0,1,0,1.5", "Open Interest", "1.5", "whole number"),
        ("5/18/2004,K (May 04),1,1,1,1,190,0,1,0", "(row)", "5/18/2004,K (May 04),", "has 10"),
    ],
)
def test_strict_refuses_a_bad_value_naming_file_line_field_value(
    tmp_path: Path, row: str, field: str, value: str, why: str
) -> None:
    path = _write(tmp_path, "CFE_K04_VX.csv", GOOD, row)
    with pytest.raises(DataError) as err:
        load_cfe_file(path)
    text = str(err.value)
    assert text.startswith("CFE_K04_VX.csv: 1 bad value(s); nothing was loaded.")
    assert f"CFE_K04_VX.csv, line 3, field '{field}': '{value}" in text
    assert why in text
    assert "mode='skip'" in text


def test_skip_drops_bad_rows_and_reports_them(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "CFE_K04_VX.csv",
        GOOD,
        "5/17/2004,K (May 04),1,1,1,1,x,0,1,0,1",  # line 3: bad Settle (and a repeated date)
        "5/18/2004,K (May 04),190,189,191,190,190,0,1,0,1",  # line 4: H < L
        "5/19/2004,K (May 04),0,0,0,0,183.55,-8.95,0,0,1111",  # line 5
    )
    loaded = load_cfe_file(path, mode=Mode.SKIP)
    assert loaded.frame["settle"].tolist() == pytest.approx([19.05, 18.355])
    report = loaded.report
    assert (report.rows_read, report.rows_kept, report.rows_skipped) == (4, 2, 2)
    assert [(p.line, p.field, p.value) for p in report.skipped] == [
        (3, "Settle", "x"),
        (3, "Trade Date", "5/17/2004"),
        (4, "High", "189"),
    ]
    assert report.summary().startswith("CFE_K04_VX.csv: 2 of 4 rows kept, 2 skipped")


def test_min_settle_is_a_parameter(tmp_path: Path) -> None:
    path = _write(tmp_path, "CFE_K07_VX.csv", "04/02/2007,K (May 07),0,0,0,0,1.00,0,0,0,0")
    with pytest.raises(DataError, match="is below 5 VIX points"):
        load_cfe_file(path)
    assert load_cfe_file(path, min_settle=0.5).frame["settle"].tolist() == [1.0]


@pytest.mark.parametrize("mode", [Mode.STRICT, Mode.SKIP])
def test_a_wrong_header_or_file_name_is_refused_in_every_mode(tmp_path: Path, mode: Mode) -> None:
    bad_header = _write(tmp_path, "CFE_K04_VX.csv", GOOD, header="Date,Futures,Settle")
    with pytest.raises(DataError, match=r"CFE_K04_VX\.csv, line 1: expected the CFE header"):
        load_cfe_file(bad_header, mode=mode)
    bad_name = _write(tmp_path, "VX_K04.csv", GOOD)
    with pytest.raises(DataError, match=r"VX_K04\.csv: not a CFE VX file name"):
        load_cfe_file(bad_name, mode=mode)
    only_disclaimer = tmp_path / "CFE_M04_VX.csv"
    only_disclaimer.write_text(DISCLAIMER + "\n")
    with pytest.raises(DataError, match="no CFE header line"):
        load_cfe_file(only_disclaimer, mode=mode)


def test_the_file_name_gives_the_contract() -> None:
    assert cfe_contract("CFE_K04_VX.csv") == (2004, 5)
    assert cfe_contract("CFE_F15_VX.csv") == (2015, 1)
    with pytest.raises(DataError):
        cfe_contract("CFE_A04_VX.csv")


def test_a_folder_loads_into_one_long_frame_with_an_aggregated_report(tmp_path: Path) -> None:
    _write(tmp_path, "CFE_K04_VX.csv", *K04_ROWS)
    _write(
        tmp_path,
        "CFE_M04_VX.csv",
        "3/26/2004,M (Jun 04),203.3,203.7,201,202,201.6,0,26,0,26",
        "3/29/2004,M (Jun 04),0,0,0,0,199.9,0,0,0,26",
    )
    (tmp_path / "notes.txt").write_text("not a CFE file")
    loaded = load_cfe_folder(tmp_path)
    frame = loaded.frame
    assert len(frame) == 6
    assert frame["date"].is_monotonic_increasing
    first_day = frame.loc[frame["date"] == pd.Timestamp("2004-03-26")]
    assert first_day["contract"].tolist() == ["VX 2004-05", "VX 2004-06"]
    report = loaded.report
    assert report.source == str(tmp_path)
    assert (report.rows_read, report.rows_kept) == (7, 6)
    assert report.notes[0] == "2 files, 2 contracts"
    assert any("divided by 10" in n and "6 rows in 2 files" in n for n in report.notes)
    assert any("first traded dropped: 1 rows in 1 files" in n for n in report.notes)


def test_a_folder_in_skip_mode_collects_every_file_s_problems(tmp_path: Path) -> None:
    _write(tmp_path, "CFE_K04_VX.csv", GOOD, "5/18/2004,K (May 04),1,1,1,1,x,0,1,0,1")
    _write(tmp_path, "CFE_M04_VX.csv", "3/26/2004,M (Jun 04),1,1,1,1,y,0,1,0,1")
    with pytest.raises(DataError, match=r"CFE_K04_VX\.csv, line 3, field 'Settle'"):
        load_cfe_folder(tmp_path)
    loaded = load_cfe_folder(tmp_path, mode=Mode.SKIP)
    assert [(p.source, p.line) for p in loaded.report.skipped] == [
        ("CFE_K04_VX.csv", 3),
        ("CFE_M04_VX.csv", 2),
    ]
    assert len(loaded.frame) == 1


def test_a_folder_refuses_no_files_and_duplicate_contracts(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no files matching"):
        load_cfe_folder(tmp_path)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        _write(tmp_path / sub, "CFE_K04_VX.csv", GOOD)
    with pytest.raises(DataError, match="both hold VX 2004-05"):
        load_cfe_folder(tmp_path, pattern="*/CFE_*_VX.csv")


def test_settles_are_finite_and_positive_on_any_loaded_frame(tmp_path: Path) -> None:
    path = _write(tmp_path, "CFE_K04_VX.csv", *K04_ROWS)
    settle = load_cfe_file(path).frame["settle"].to_numpy()
    assert np.isfinite(settle).all()
    assert (settle > 0).all()
    assert math.isclose(settle[-1], 18.355)


def test_a_header_only_file_gives_an_empty_canonical_frame(tmp_path: Path) -> None:
    loaded = load_cfe_file(_write(tmp_path, "CFE_K04_VX.csv"))
    assert tuple(loaded.frame.columns) == CFE_COLUMNS
    assert loaded.frame.empty
    assert (loaded.report.rows_read, loaded.report.rows_kept) == (0, 0)


# ----------------------------------------------------------------------------- current names
# Cboe's current per-contract files are named by the final settlement date. The dates below
# are Cboe's published VX settlement dates: 2024-01-17 (Jan 2024), 2024-02-14 (Feb 2024),
# 2015-01-21 (Jan 2015), 2014-08-20 (Aug 2014), 2004-05-19 (May 2004, the original rule).

JAN24_ROWS = (
    "2024-01-12,F (Jan 2024),13.25,13.40,12.95,13.05,13.0500,-0.20,51234,12,180234",  # line 2
    "2024-01-16,F (Jan 2024),13.60,14.10,13.50,13.95,13.9500,0.90,60123,8,150111",  # line 3
    "2024-01-17,F (Jan 2024),0,0,0,0,13.7800,-0.17,0,0,0",  # line 4: final settlement only
)


@pytest.mark.parametrize(
    ("name", "contract"),
    [
        ("VX_2024-01-17.csv", (2024, 1)),
        ("VX_2024-02-14.csv", (2024, 2)),
        ("VX_2015-01-21.csv", (2015, 1)),
        ("VX_2014-08-20.csv", (2014, 8)),
        ("VX_2004-05-19.csv", (2004, 5)),
    ],
)
def test_a_current_file_name_gives_the_contract_settling_that_day(
    name: str, contract: tuple[int, int]
) -> None:
    assert cfe_contract(name) == contract


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("VX_2024-01-18.csv", "2024-01-18 (Thursday) is not the final settlement date"),
        ("VX_2024-01-10.csv", "the Jan 2024 contract settles on 2024-01-17"),  # a weekly
        ("VX_2024-13-01.csv", "'2024-13-01' in the file name is not a date"),
        ("VX_1900-01-17.csv", "outside the trading calendar"),
        ("VX_20240117.csv", "not a CFE VX file name"),
    ],
)
def test_a_current_file_name_must_name_a_monthly_vx_expiry(name: str, why: str) -> None:
    with pytest.raises(DataError) as err:
        cfe_contract(name)
    text = str(err.value)
    assert text.startswith(f"{name}: ")
    assert why in text


def test_a_current_format_file_loads_with_iso_dates_and_long_labels(tmp_path: Path) -> None:
    loaded = load_cfe_file(_write(tmp_path, "VX_2024-01-17.csv", *JAN24_ROWS))
    frame = loaded.frame
    assert tuple(frame.columns) == CFE_COLUMNS
    assert frame["date"].dt.date.tolist() == [
        dt.date(2024, 1, 12),
        dt.date(2024, 1, 16),
        dt.date(2024, 1, 17),
    ]
    assert set(frame["contract"]) == {"VX 2024-01"}
    assert set(frame["expiry"].dt.date) == {dt.date(2024, 1, 17)}
    assert frame["settle"].tolist() == [13.05, 13.95, 13.78]
    assert frame.loc[2, ["open", "high", "low", "close"]].isna().all()
    assert not frame["rescaled"].any()
    assert loaded.report.source == "VX_2024-01-17.csv"


def test_a_current_format_file_refuses_another_contract_s_label(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "VX_2024-01-17.csv",
        JAN24_ROWS[0],
        "2024-01-16,G (Feb 2024),14.80,15.05,14.70,14.95,14.95,0.35,40000,5,200000",
    )
    with pytest.raises(DataError) as err:
        load_cfe_file(path)
    text = str(err.value)
    assert "VX_2024-01-17.csv, line 3, field 'Futures': 'G (Feb 2024)'" in text
    assert "expected 'F (Jan 24)' or 'F (Jan 2024)'" in text


@pytest.mark.parametrize("mode", [Mode.STRICT, Mode.SKIP])
def test_a_current_file_not_named_by_an_expiry_is_refused_in_every_mode(
    tmp_path: Path, mode: Mode
) -> None:
    path = _write(tmp_path, "VX_2024-01-18.csv", *JAN24_ROWS)
    with pytest.raises(DataError, match=r"VX_2024-01-18\.csv: 2024-01-18 \(Thursday\) is not"):
        load_cfe_file(path, mode=mode)
    with pytest.raises(DataError, match=r"VX_2024-01-18\.csv: 2024-01-18"):
        load_cfe_folder(tmp_path, mode=mode)


def test_a_folder_mixing_both_name_styles_is_one_frame(tmp_path: Path) -> None:
    _write(tmp_path, "CFE_K04_VX.csv", *K04_ROWS)
    _write(tmp_path, "VX_2024-01-17.csv", *JAN24_ROWS)
    _write(
        tmp_path,
        "VX_2024-02-14.csv",
        "2024-01-16,G (Feb 2024),14.80,15.05,14.70,14.95,14.9500,0.35,40000,5,200000",
    )
    loaded = load_cfe_folder(tmp_path)
    frame = loaded.frame
    assert frame["contract"].tolist() == ["VX 2004-05"] * 4 + [
        "VX 2024-01",
        "VX 2024-01",
        "VX 2024-02",
        "VX 2024-01",
    ]
    assert frame["date"].is_monotonic_increasing
    assert loaded.report.notes[0] == "3 files, 3 contracts"
    assert (loaded.report.rows_read, loaded.report.rows_kept) == (9, 8)


def test_the_same_contract_under_both_name_styles_is_refused(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "CFE_F15_VX.csv",
        "01/20/2015,F (Jan 15),19.50,20.00,19.00,19.80,19.80,0.30,10,0,100",
    )
    _write(
        tmp_path,
        "VX_2015-01-21.csv",
        "2015-01-20,F (Jan 2015),19.50,20.00,19.00,19.80,19.80,0.30,10,0,100",
    )
    with pytest.raises(
        DataError, match=r"CFE_F15_VX\.csv and VX_2015-01-21\.csv both hold VX 2015-01"
    ):
        load_cfe_folder(tmp_path)


def test_an_empty_folder_names_both_file_name_styles(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_cfe_folder(tmp_path)
    assert "'CFE_*_VX.csv' or 'VX_*.csv'" in str(err.value)
