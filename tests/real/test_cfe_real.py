"""The CFE VX loader and the VX term structure on the real Cboe files (2004-03-26..2014-08-14).

Known settles are read off the raw files by hand. The Cboe index files are parsed minimally
here (``DATE,OPEN,HIGH,LOW,CLOSE`` with ``MM/DD/YYYY``); the index loaders live elsewhere.

Measured on this data (pinned below):

* 128 files, 20,356 data rows; 338 ``Settle = 0`` rows before a first trade dropped; two
  placeholder settles of 1.00 (F09 and G09 on 2008-04-21) refused in strict mode and
  skipped in skip mode; 20,016 rows kept; 3,918 rows rescaled from the 10x VBI scale.
* VX2 > VX1 (contango) on 83.7% of the 2,615 trade dates 2004-03-26..2014-08-14.
* The 30-day constant-maturity future correlates with spot VIX at 0.969 (levels) and
  0.880 (daily changes) over 2004-2014.
* Fallback model vs real settles, 2009-09-18..2014-08-14 (VIX, VIX3M, VIX6M, and VIX9D
  from 2011): RMSE 0.63 vol points for VX1 and 0.81 for VX2; 0.58 for the 30-day constant
  maturity. With only VIX and VIX6M in the 2008 crisis (2008-01-02..2009-09-17): 1.50 and
  2.19.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vixshield.calendar import vx_expiry
from vixshield.data.cfe import load_cfe_file, load_cfe_folder
from vixshield.data.validation import Loaded, Mode
from vixshield.data.vx_curve import (
    VixFuturesModel,
    calibrate_model,
    constant_maturity,
    contango_share,
    model_errors,
    model_term_structure,
    term_structure_slope,
    vx_term_structure,
    with_fallback,
)
from vixshield.errors import DataError

pytestmark = pytest.mark.real

CFE_FILES = 128
DATA_END = pd.Timestamp("2014-08-14")
VIX3M_START = pd.Timestamp("2009-09-18")


@pytest.fixture(scope="module")
def cfe(real_data: Path) -> Loaded:
    return load_cfe_folder(real_data / "cfe_vx", mode=Mode.SKIP)


@pytest.fixture(scope="module")
def term(cfe: Loaded) -> pd.DataFrame:
    return vx_term_structure(cfe.frame)


@pytest.fixture(scope="module")
def indices(real_data: Path) -> pd.DataFrame:
    out: pd.DataFrame | None = None
    for name in ("VIX", "VIX9D", "VIX3M", "VIX6M"):
        raw = pd.read_csv(real_data / "cboe" / f"{name}_History.csv")
        frame = pd.DataFrame(
            {
                "date": pd.to_datetime(raw["DATE"], format="%m/%d/%Y"),
                name.lower(): raw["CLOSE"].astype("float64"),
            }
        )
        out = frame if out is None else out.merge(frame, on="date", how="left")
    assert out is not None
    return out


def test_strict_mode_refuses_the_placeholder_settles(real_data: Path) -> None:
    with pytest.raises(DataError, match=r"CFE_F09_VX\.csv, line 3, field 'Settle': '1\.00'"):
        load_cfe_folder(real_data / "cfe_vx")
    # A clean file loads strictly.
    assert len(load_cfe_file(real_data / "cfe_vx" / "CFE_X08_VX.csv").frame) > 200


def test_all_files_load_with_the_quirks_counted(cfe: Loaded) -> None:
    report = cfe.report
    assert report.notes[0] == f"{CFE_FILES} files, {CFE_FILES} contracts"
    assert (report.rows_read, report.rows_kept) == (20_356, 20_016)
    assert [(p.source, p.line, p.field, p.value) for p in report.skipped] == [
        ("CFE_F09_VX.csv", 3, "Settle", "1.00"),
        ("CFE_G09_VX.csv", 45, "Settle", "1.00"),
    ]
    notes = "\n".join(report.notes)
    assert "(column 'rescaled'): 3918 rows in 39 files" in notes
    assert "first traded dropped: 338 rows in 83 files" in notes
    assert "set to missing: 16 rows in 15 files" in notes
    frame = cfe.frame
    assert frame["contract"].nunique() == CFE_FILES
    assert frame["date"].min() == pd.Timestamp("2004-03-26")
    assert frame["date"].max() == DATA_END
    assert not frame.duplicated(["date", "contract"]).any()
    assert np.isfinite(frame["settle"]).all()
    assert (frame["settle"] > 5).all()
    ohlc = frame.dropna(subset=["high", "low"])
    assert (ohlc["high"] >= ohlc["low"]).all()


def test_old_scale_prices_are_divided_by_ten(cfe: Loaded) -> None:
    frame = cfe.frame
    old = frame.loc[frame["date"] < pd.Timestamp("2007-03-26")]
    assert old["rescaled"].all()
    assert not frame.loc[frame["date"] >= pd.Timestamp("2007-03-26"), "rescaled"].any()
    assert old["settle"].between(9.9, 22.0).all()  # VIX points, not 99..220
    first = frame.loc[frame["date"] == pd.Timestamp("2004-03-26")].set_index("contract")
    # CFE_K04_VX.csv: 3/26/2004 ... Settle 203.2; CFE_M04_VX.csv: 201.6.
    assert first.loc["VX 2004-05", "settle"] == pytest.approx(20.32)
    assert first.loc["VX 2004-06", "settle"] == pytest.approx(20.16)
    assert first.loc["VX 2004-05", "open"] == pytest.approx(21.24)


def test_expiry_is_attached_and_expired_contracts_end_on_it(cfe: Loaded) -> None:
    frame = cfe.frame
    last = frame.groupby("contract").agg(last=("date", "max"), expiry=("expiry", "first"))
    expired = last.loc[last["expiry"] <= DATA_END]
    assert len(expired) == CFE_FILES - 9
    assert (expired["last"] == expired["expiry"]).all()
    assert last.loc["VX 2008-11", "expiry"].date() == vx_expiry(2008, 11)
    # The expiry-day row: final settlement (VRO) only, O/H/L/C missing.
    row = frame.loc[(frame["contract"] == "VX 2008-11") & (frame["date"] == "2008-11-19")]
    assert row["settle"].tolist() == [67.22]
    assert row[["open", "high", "low", "close"]].isna().all(axis=None)


def test_the_2008_10_24_curve(term: pd.DataFrame) -> None:
    day = term.loc[term["date"] == pd.Timestamp("2008-10-24")]
    assert day["contract"].tolist() == [f"VX 2008-{m}" for m in (11, 12)] + [
        f"VX 2009-0{m}" for m in range(1, 7)
    ]
    # Settles read off CFE_X08 .. CFE_M09 for 10/24/2008.
    assert day["settle"].tolist() == [55.82, 43.56, 40.69, 39.23, 37.75, 37.39, 35.99, 36.25]
    assert day["dte"].tolist() == [26, 54, 89, 117, 145, 173, 208, 236]
    assert not day["modelled"].any()


def test_vx1_is_between_one_day_and_five_weeks_out(term: pd.DataFrame) -> None:
    vx1 = term.loc[term["rank"] == 1]
    assert vx1["date"].nunique() == 2615
    assert vx1["settle"].notna().all()
    assert (vx1["t_years"] > 0).all()
    # Once CFE listed every month (from 2005-09-14), VX1 is 1..35 calendar days out.
    monthly = vx1.loc[vx1["date"] >= pd.Timestamp("2005-09-14")]
    assert monthly["dte"].between(1, 35).all()
    assert (monthly["dte"].min(), monthly["dte"].max()) == (1, 35)
    # Before, the sparse 2004-2005 listing left VX1 up to 63 days out on 88 days.
    sparse = vx1.loc[vx1["date"] < pd.Timestamp("2005-09-14")]
    assert (sparse["dte"] > 35).sum() == 88
    assert sparse["dte"].max() == 63
    assert (term.groupby("date")["rank"].max() <= 8).all()
    # The one hole inside VX1..VX8: June 2007, listed 2006-11-20, no rows until 2006-12-27.
    holes = term.loc[term["settle"].isna()]
    assert set(holes["contract"]) == {"VX 2007-06"}
    assert len(holes) == 24


def test_the_30_day_constant_maturity_lies_in_its_bracket_and_tracks_vix(
    term: pd.DataFrame, indices: pd.DataFrame
) -> None:
    cm = constant_maturity(term)
    assert len(cm) == 2615
    assert cm["settle"].notna().all()
    wide = term.pivot_table(index="date", columns="rank", values="settle")
    near = wide.to_numpy()[np.arange(len(cm)), cm["near_rank"].to_numpy() - 1]
    far = wide.to_numpy()[np.arange(len(cm)), cm["near_rank"].to_numpy()]
    lo, hi = np.minimum(near, far), np.maximum(near, far)
    assert ((cm["settle"] >= lo - 1e-12) & (cm["settle"] <= hi + 1e-12)).all()
    assert set(cm["near_rank"]) == {1, 2}
    joined = cm.merge(indices, on="date")
    assert len(joined) == 2615
    level = np.corrcoef(joined["settle"], joined["vix"])[0, 1]
    change = np.corrcoef(joined["settle"].diff()[1:], joined["vix"].diff()[1:])[0, 1]
    assert level == pytest.approx(0.969, abs=0.001)
    assert change == pytest.approx(0.880, abs=0.001)


def test_contango_share_2004_2014(term: pd.DataFrame, indices: pd.DataFrame) -> None:
    slope = term_structure_slope(term, indices)
    futures_era = slope.loc[slope["date"] <= DATA_END]
    assert (futures_era["source"] == "vx").sum() == 2615
    share = contango_share(futures_era.loc[futures_era["source"] == "vx"])
    assert share == pytest.approx(0.837, abs=0.001)
    # After the futures data ends, the slope falls back to VIX3M / VIX - 1.
    after = slope.loc[slope["date"] > DATA_END]
    assert (after["source"] == "vix3m/vix").all()
    assert len(after) == 1354


def test_fallback_model_error_against_real_settles(
    term: pd.DataFrame, indices: pd.DataFrame
) -> None:
    recent = term.loc[term["date"] >= VIX3M_START]
    errors = model_errors(recent, indices).set_index("rank")
    assert errors.loc[1, "n"] == errors.loc[2, "n"] == 1235
    assert errors.loc[1, "rmse"] == pytest.approx(0.63, abs=0.01)
    assert errors.loc[2, "rmse"] == pytest.approx(0.81, abs=0.01)
    assert abs(errors.loc[1, "bias"]) < 0.15
    assert abs(errors.loc[2, "bias"]) < 0.15
    crisis = model_errors(term.loc[term["date"] < VIX3M_START], indices).set_index("rank")
    assert crisis.loc[1, "n"] == 1380
    assert crisis.loc[1, "rmse"] == pytest.approx(1.50, abs=0.01)
    assert crisis.loc[2, "rmse"] == pytest.approx(2.19, abs=0.01)
    # The 30-day constant maturity from the modelled curve against the real one.
    window = indices.loc[(indices["date"] >= VIX3M_START) & (indices["date"] <= DATA_END)]
    modelled = constant_maturity(model_term_structure(window))
    assert modelled["modelled"].all()
    real = constant_maturity(recent)
    both = real.merge(modelled, on="date", suffixes=("_real", "_model"))
    rmse = float(np.sqrt(np.mean((both["settle_real"] - both["settle_model"]) ** 2)))
    assert rmse == pytest.approx(0.58, abs=0.01)


def test_the_default_model_is_the_calibrated_one(term: pd.DataFrame, indices: pd.DataFrame) -> None:
    fitted = calibrate_model(
        term.loc[term["date"] >= VIX3M_START], indices.loc[indices["date"] <= DATA_END]
    )
    default = VixFuturesModel()
    assert fitted.omega == pytest.approx(default.omega, abs=0.01)
    assert fitted.decay_years == pytest.approx(default.decay_years, abs=0.0005)


def test_the_curve_continues_with_modelled_values_after_the_futures_end(
    term: pd.DataFrame, indices: pd.DataFrame
) -> None:
    full = with_fallback(term, indices)
    futures_era = full["date"].between(pd.Timestamp("2004-03-26"), DATA_END)
    assert full.loc[~futures_era, "modelled"].all()  # VIX from 1990, VIX3M from 2009
    # Inside the futures era only 2004-06-11 is modelled: NYSE and CFE were closed
    # (Reagan's funeral) but Cboe published a VIX.
    inside = full.loc[futures_era & full["modelled"], "date"].unique()
    assert list(inside) == [pd.Timestamp("2004-06-11")]
    after = full.loc[full["date"] > DATA_END]
    assert after["modelled"].all()
    assert after["date"].max() == pd.Timestamp("2019-12-31")
    assert after.groupby("date").size().eq(8).all()
    assert after["settle"].between(9.0, 45.0).all()
    first = after.loc[after["date"] == after["date"].min()]
    assert first["expiry"].dt.date.tolist()[0] == dt.date(2014, 8, 20)
