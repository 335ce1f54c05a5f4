"""METHOD section 3 indicators over 30 years of real data: TA-Lib oracles and known facts."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib
from typer.testing import CliRunner

from vixshield.cli import app
from vixshield.data.market import MarketHistory
from vixshield.data.store import Store
from vixshield.signals import compute_indicators

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def history(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> MarketHistory:
    store_dir = tmp_path_factory.mktemp("store")
    res = CliRunner().invoke(
        app, ["data", "import", str(real_data), "--data-dir", str(store_dir), "--skip-bad-rows"]
    )
    assert res.exit_code == 0, res.output
    return MarketHistory.from_store(Store(store_dir))


@pytest.fixture(scope="module")
def frame(history: MarketHistory) -> pd.DataFrame:
    return compute_indicators(history)


def raw_closes(path: Path, date_col: str, close_col: str, fmt: str | None) -> pd.Series:
    """Closes straight from a source file, without the project's loaders."""
    raw = pd.read_csv(path)
    index = pd.DatetimeIndex(pd.to_datetime(raw[date_col], format=fmt)).as_unit("ns")
    return pd.Series(raw[close_col].to_numpy(dtype=np.float64), index=index).sort_index()


def on_history_days(raw: pd.Series, kept: pd.Series) -> pd.Series:
    """The raw closes on the sessions where the history kept the series.

    The import refuses a few rows (VIX rows whose open lies outside high/low); the history has
    no value there and the indicators skip those days, so the oracle skips them too.
    """
    days = kept.index[kept.notna()]
    return raw.loc[raw.index.isin(days)]


def test_rsi_and_macd_match_talib_on_the_raw_closes(
    real_data: Path, history: MarketHistory, frame: pd.DataFrame
) -> None:
    spx = raw_closes(real_data / "spx" / "GSPC_daily_1990_2019.csv", "Date", "Close", None)
    assert spx.index.equals(frame.index)
    x = spx.to_numpy()
    np.testing.assert_allclose(frame["rsi_spx"], talib.RSI(x, 14), rtol=1e-12, equal_nan=True)
    line, sig, hist = talib.MACD(x, 12, 26, 9)
    np.testing.assert_allclose(frame["spx_macd"], line, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(frame["spx_macd_signal"], sig, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(frame["spx_macd_hist"], hist, rtol=1e-12, equal_nan=True)

    vix_file = real_data / "cboe" / "VIX_History.csv"
    vix = on_history_days(raw_closes(vix_file, "DATE", "CLOSE", "%m/%d/%Y"), history.daily["vix"])
    assert len(vix) == history.daily["vix"].notna().sum()
    hist = talib.MACD(vix.to_numpy(), 12, 26, 9)[2]
    np.testing.assert_allclose(frame.loc[vix.index, "vix_macd_hist"], hist, rtol=1e-9, atol=1e-12)
    # Before the first VIX future (2004-03-26) the "front VX" RSI is the VIX's.
    pre = frame.index < pd.Timestamp("2004-03-26")
    assert (frame.loc[pre, "rsi_vx1_source"] == "vix").all()
    want = pd.Series(talib.RSI(vix.to_numpy(), 14), index=vix.index)
    got = frame.loc[pre, "rsi_vx1"].dropna()
    np.testing.assert_allclose(got, want.loc[got.index], rtol=1e-12)

    vvix_file = real_data / "cboe" / "VVIX_History.csv"
    vvix = on_history_days(raw_closes(vvix_file, "DATE", "VVIX", "%m/%d/%Y"), history.daily["vvix"])
    want_vvix = talib.RSI(vvix.to_numpy(), 14)
    got_vvix = frame.loc[vvix.index, "rsi_vvix"]
    np.testing.assert_allclose(got_vvix, want_vvix, rtol=1e-12, equal_nan=True)


def test_known_facts(frame: pd.DataFrame) -> None:
    # The variance risk premium: VIX above 20-day realised vol on most days, 1990-2019.
    vrp = frame["vrp_volpts"].dropna()
    share_vrp = float((vrp > 0).mean())
    assert 0.86 <= share_vrp <= 0.92
    # Backwardation on the real futures days (2004-03-26..2014-08-14): about one day in six.
    fut = frame.loc[frame["term_slope_source"] == "futures"]
    assert fut.index.min() == pd.Timestamp("2004-03-26")
    assert fut.index.max() == pd.Timestamp("2014-08-14")
    share_back = float(fut["backwardation"].mean())
    assert 0.13 <= share_back <= 0.19
    # Lehman: deep backwardation, VX2/VX1 - 1 = 43.56 / 55.82 - 1 on 2008-10-24.
    day = frame.loc[pd.Timestamp("2008-10-24")]
    assert day["term_slope"] == pytest.approx(43.56 / 55.82 - 1, rel=1e-12)
    assert bool(day["backwardation"])
    # VIX 79.13: the highest close of its trailing year.
    assert (day["ivr_252"], day["ivp_252"]) == (1.0, 1.0)
    # Without futures the slope is VIX3M/VIX (from 2014-08-15); before VIX3M and futures, none.
    later = frame.loc["2014-08-15":]
    assert (later["term_slope_source"] == "indices").all()
    assert (frame.loc[:"2004-03-25", "term_slope_source"] == "none").all()
    # Breadth ends 2015-11-11: divergences before, none after, and the method still runs.
    div = frame["ad_divergence"]
    before = int(div.loc[:"2015-11-11"].sum())
    assert before > 100
    assert not div.loc["2015-11-12":].any()
    assert frame.loc["2015-11-12":, "ad_line"].isna().all()
    assert frame.loc["2015-11-12":, "rsi_spx"].notna().all()

    print(f"\nVRP > 0 on {share_vrp:.1%} of {len(vrp)} days; backwardation on {share_back:.1%}")
    print(f"A/D divergence days before 2015-11-12: {before}")
    for col in (
        "vix_macd_compressed",
        "vix_macd_turning_up",
        "term_toward_backwardation",
        "event_within_window",
    ):
        print(f"{col}: {frame[col].mean():.1%} of sessions")
    print(frame.loc["2008-10-24"].to_string())


def test_thirty_years_in_well_under_a_second(history: MarketHistory) -> None:
    t0 = time.perf_counter()
    compute_indicators(history)
    elapsed = time.perf_counter() - t0
    print(f"\ncompute_indicators over {len(history.sessions)} sessions: {elapsed * 1e3:.1f} ms")
