"""Indicators (METHOD section 3) against published and hand-computed values, and causality."""

from __future__ import annotations

import itertools
import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from vixshield.data.market import MarketHistory
from vixshield.data.synthetic import SyntheticMarket, synthetic_market
from vixshield.errors import DataError
from vixshield.signals import IndicatorParams, compute_indicators, indicator_snapshot
from vixshield.signals.indicators import (
    ad_divergence,
    compressed,
    iv_rank_percentile,
    macd,
    realised_vol,
    rsi,
    turning_up,
)

# StockCharts ChartSchool, "Relative Strength Index (RSI)", calculation spreadsheet
# (cs-rsi.xls): 33 closes and the published 14-day Wilder RSI from the 15th close on
# (J. Welles Wilder, New Concepts in Technical Trading Systems, 1978).
STOCKCHARTS_CLOSES = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433,
    46.0826, 45.8931, 46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116,
    46.2222, 45.6439, 46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548, 44.0288,
    44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314,
]  # fmt: skip
STOCKCHARTS_RSI = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71,
    50.42, 39.99, 41.46, 41.87, 45.46, 37.30,
]  # fmt: skip


def wilder_rsi(x: list[float], n: int) -> list[float]:
    """Wilder's RSI written out as in the StockCharts table (a plain-Python oracle)."""
    out = [math.nan] * len(x)
    d = [b - a for a, b in itertools.pairwise(x)]
    up = sum(max(v, 0.0) for v in d[:n]) / n
    dn = sum(max(-v, 0.0) for v in d[:n]) / n
    out[n] = 100.0 * up / (up + dn)
    for i in range(n, len(d)):
        up = (up * (n - 1) + max(d[i], 0.0)) / n
        dn = (dn * (n - 1) + max(-d[i], 0.0)) / n
        out[i + 1] = 100.0 * up / (up + dn)
    return out


def seeded_ema(x: list[float], p: int, start: int) -> list[float]:
    """EMA with alpha = 2/(p+1) whose first value, at ``start``, is the mean of x[start-p+1..]."""
    out = [math.nan] * len(x)
    out[start] = sum(x[start - p + 1 : start + 1]) / p
    k = 2.0 / (p + 1)
    for i in range(start + 1, len(x)):
        out[i] = out[i - 1] + k * (x[i] - out[i - 1])
    return out


def hand_macd(x: list[float], fast: int, slow: int, signal: int) -> tuple[list[float], ...]:
    """MACD as TA-Lib aligns it: both EMAs start on the ``slow``-th value."""
    s = slow - 1
    f_ema, s_ema = seeded_ema(x, fast, s), seeded_ema(x, slow, s)
    line = [a - b for a, b in zip(f_ema, s_ema, strict=True)]
    first = s + signal - 1
    sig = [math.nan] * s + seeded_ema(line[s:], signal, signal - 1)
    line = [v if i >= first else math.nan for i, v in enumerate(line)]
    hist = [a - b for a, b in zip(line, sig, strict=True)]
    return line, sig, hist


# ----------------------------------------------------------------------- RSI / MACD


def test_rsi_matches_the_published_stockcharts_table() -> None:
    got = rsi(np.array(STOCKCHARTS_CLOSES), 14)
    assert np.isnan(got[:14]).all()
    np.testing.assert_allclose(got[14 : 14 + len(STOCKCHARTS_RSI)], STOCKCHARTS_RSI, atol=0.005)
    np.testing.assert_allclose(got, wilder_rsi(STOCKCHARTS_CLOSES, 14), rtol=1e-12)


def test_rsi_skips_missing_days() -> None:
    x = np.array(STOCKCHARTS_CLOSES)
    gappy = np.insert(x, 20, np.nan)
    got = rsi(gappy, 14)
    assert np.isnan(got[20])
    np.testing.assert_array_equal(np.delete(got, 20), rsi(x, 14))
    assert np.isnan(rsi(np.full(5, np.nan), 14)).all()


@pytest.mark.parametrize(("fast", "slow", "signal", "length"), [(3, 6, 4, 20), (12, 26, 9, 60)])
def test_macd_matches_a_hand_rolled_ema(fast: int, slow: int, signal: int, length: int) -> None:
    rng = np.random.default_rng(5)
    x = list(20.0 + np.cumsum(rng.normal(0.0, 1.0, length)))
    line, sig, hist = macd(np.array(x), fast, slow, signal)
    want = hand_macd(x, fast, slow, signal)
    first = slow + signal - 2
    for got, expected in zip((line, sig, hist), want, strict=True):
        assert np.isnan(got[:first]).all()
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_macd_tiny_example_by_hand() -> None:
    # fast 2, slow 3, signal 2 on 1..6 then 3: EMA3 from the mean of 1,2,3 = 2; EMA2 from the
    # mean of 2,3 = 2.5; line(2) = 0.5; EMA3(3) = 2 + 0.5*(4-2) = 3, EMA2(3) = 2.5 + 2/3*1.5
    # = 3.5, line(3) = 0.5; signal(3) = mean(0.5, 0.5) = 0.5, hist(3) = 0.
    line, sig, hist = macd(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 3.0]), 2, 3, 2)
    assert line[3] == pytest.approx(0.5)
    assert sig[3] == pytest.approx(0.5)
    assert hist[3] == pytest.approx(0.0)
    # Day 6: EMA3 = 5 + 0.5*(3-5) = 4; EMA2 = 5.5 + 2/3*(3-5.5) = 23/6; line = -1/6.
    assert line[6] == pytest.approx(23 / 6 - 4)
    assert sig[6] == pytest.approx(0.5 + 2 / 3 * (line[6] - 0.5))


# ----------------------------------------------------------------- compression, turning up


def test_compression_and_turning_up_on_a_constructed_histogram() -> None:
    # 20 days of |h| = 1 alternating in sign, then a fade 0.9, 0.6, 0.3, 0.2, then a rise.
    h = np.array([(-1.0) ** i for i in range(20)] + [0.9, 0.6, 0.3, 0.2, 0.5, 0.8, 1.2])
    comp = compressed(h, mean_days=20, falling_days=3)
    # Day 22 (0.3): below the mean and fell 1 -> 0.9 -> 0.6 -> 0.3 (three declines running).
    # Day 21 (0.6) has only two declines since the flat stretch.
    assert comp.tolist() == [False] * 22 + [True, True, False, False, False]
    up = turning_up(h, comp, window_days=5)
    assert up.tolist() == [False] * 24 + [True, True, True]
    assert turning_up(h, comp, window_days=1).tolist() == [False] * 24 + [True, False, False]
    # Rising but negative is not "turning up".
    assert not turning_up(-h, comp, window_days=5)[20:].any()


# --------------------------------------------------------------------------- breadth


def test_ad_divergence_on_a_constructed_series() -> None:
    spx = np.array([100.0 + i for i in range(25)])  # a new 20-day high every day
    ad = np.full(25, 990.0)
    ad[19] = 1010.0  # the A/D line's high inside the window
    ad[22] = 1010.0 * 0.99  # exactly 1% below that high
    ad[23] = 1010.0 * 0.995  # only 0.5% below
    at_high, frac, div = ad_divergence(spx, ad, high_days=20, below_high=0.01)
    assert not at_high[:19].any()
    assert at_high[19:].all()
    assert frac[22] == pytest.approx(0.01)
    assert div.tolist() == [False] * 19 + [False, True, True, True, False, True]
    # SPX off its high: no divergence whatever the A/D line does.
    spx[20:] = 50.0
    assert not ad_divergence(spx, ad)[2][20:].any()


# --------------------------------------------------------------------- IV rank, RV


def test_iv_rank_and_percentile_on_a_constructed_series() -> None:
    v = np.array([20.0, 10.0, 30.0, 15.0, 25.0, 12.0])
    rank, pct = iv_rank_percentile(v, 5)
    assert np.isnan(rank[:4]).all()
    # Window 20,10,30,15,25: (25-10)/(30-10) = 0.75; 3 of the other 4 below 25.
    assert rank[4] == pytest.approx(0.75)
    assert pct[4] == pytest.approx(0.75)
    # Window 10,30,15,25,12: (12-10)/20 = 0.1; 1 of 4 below.
    assert rank[5] == pytest.approx(0.1)
    assert pct[5] == pytest.approx(0.25)
    flat_rank, flat_pct = iv_rank_percentile(np.full(6, 15.0), 5)
    assert np.isnan(flat_rank[4:]).all()
    assert flat_pct[4] == 0.0


def test_realised_vol_on_constructed_returns() -> None:
    r = 0.01
    logs = np.cumsum([0.0] + [r if i % 2 else -r for i in range(30)])
    close = 100.0 * np.exp(logs)
    rv = realised_vol(close, 20)
    assert np.isnan(rv[:20]).all()
    np.testing.assert_allclose(rv[20:], r * math.sqrt(252), rtol=1e-12)
    # Sample standard deviation: the mean of 20 alternating returns is 0, ddof=1.
    sd = realised_vol(close, 20, demean=True)
    np.testing.assert_allclose(sd[20:], r * math.sqrt(20 / 19) * math.sqrt(252), rtol=1e-12)


# --------------------------------------------------------------------------- params


def test_params_are_frozen_closed_and_bounded() -> None:
    p = IndicatorParams()
    assert (p.rsi_days, p.macd_fast_days, p.macd_slow_days, p.macd_signal_days) == (14, 12, 26, 9)
    assert (p.ad_high_days, p.ad_below_high, p.iv_window_days, p.rv_days) == (20, 0.01, 252, 20)
    with pytest.raises(ValidationError):
        p.rsi_days = 10
    with pytest.raises(ValidationError, match="extra"):
        IndicatorParams(rsi_period=14)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        IndicatorParams(rsi_days=1)
    with pytest.raises(ValidationError):
        IndicatorParams(slope_fall_threshold=float("nan"))
    with pytest.raises(ValidationError, match="below"):
        IndicatorParams(macd_fast_days=26, macd_slow_days=26)
    assert all(f.description for f in IndicatorParams.model_fields.values())


# --------------------------------------------------------------- the whole frame


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    return synthetic_market(date(2003, 1, 2), date(2008, 12, 31), seed=11)


@pytest.fixture(scope="module")
def history(market: SyntheticMarket) -> MarketHistory:
    return MarketHistory.from_synthetic(market)


@pytest.fixture(scope="module")
def frame(history: MarketHistory) -> pd.DataFrame:
    return compute_indicators(history)


COLUMNS = [
    "spx_close", "vix", "rsi_spx", "rsi_vx1", "rsi_vx1_source", "rsi_vvix",
    "vix_macd", "vix_macd_signal", "vix_macd_hist", "vix_macd_compressed",
    "vix_macd_turning_up", "spx_macd", "spx_macd_signal", "spx_macd_hist",
    "spx_macd_compressed", "ad_line", "ad_below_high_frac", "spx_at_high20", "ad_divergence",
    "term_slope", "term_slope_source", "term_slope_modelled", "backwardation",
    "term_slope_fall_5d", "term_toward_backwardation", "ivr_252", "ivp_252", "rv20_annual",
    "vrp_volpts", "days_to_fomc", "days_to_cpi", "days_to_ppi", "days_to_event",
    "event_within_window", "spx_modelled", "vix_modelled", "vvix_modelled",
    "breadth_modelled", "rsi_vx1_modelled",
]  # fmt: skip


def test_frame_columns_index_and_types(history: MarketHistory, frame: pd.DataFrame) -> None:
    assert list(frame.columns) == COLUMNS
    assert frame.index.equals(history.daily.index)
    for col in COLUMNS:
        if col.endswith("_source"):
            continue
        kind = frame[col].dtype.kind
        assert kind in "bf", (col, frame[col].dtype)
    assert frame["rsi_spx"].dropna().between(0, 100).all()
    assert frame["rsi_spx"].isna().sum() == 14
    assert frame["ivr_252"].dropna().between(0, 1).all()
    assert frame["ivp_252"].dropna().between(0, 1).all()
    np.testing.assert_allclose(
        frame["vrp_volpts"], frame["vix"] - 100 * frame["rv20_annual"], equal_nan=True
    )
    np.testing.assert_array_equal(frame["backwardation"], frame["term_slope"] < 0)
    # Every input of the default market is modelled, and the frame says so.
    assert frame[["spx_modelled", "vix_modelled", "breadth_modelled"]].all().all()
    assert frame["term_slope_modelled"].all()
    # Its futures are flagged modelled, so VIX3M/VIX gives the slope and VIX the RSI.
    assert set(frame["term_slope_source"]) == {"indices"}
    assert set(frame["rsi_vx1_source"]) == {"vix"}
    daily = history.daily
    np.testing.assert_allclose(frame["term_slope"], daily["vix3m"] / daily["vix"] - 1)
    np.testing.assert_allclose(frame["rsi_vx1"], rsi(daily["vix"].to_numpy(), 14), equal_nan=True)


def test_causal_upto_each_session_gives_the_same_row(
    history: MarketHistory, frame: pd.DataFrame
) -> None:
    rng = np.random.default_rng(2024)
    picks = sorted(rng.choice(len(history.sessions), size=12, replace=False))
    picks += [0, 40, 300, len(history.sessions) - 1]
    for i in picks:
        d = history.sessions[i]
        cut = compute_indicators(history.upto(d))
        assert len(cut) == i + 1
        assert cut.index[-1] == pd.Timestamp(d)
        pd.testing.assert_series_equal(cut.iloc[-1], frame.iloc[i])


def test_no_breadth_leaves_ad_empty_and_the_rest_unchanged(
    market: SyntheticMarket, frame: pd.DataFrame
) -> None:
    h = MarketHistory.from_frames(
        spx=market.spx,
        indices=market.index_frames(),
        vx_contracts=market.vx,
        rate=market.rates.assign(modelled=True),
        events=market.events,
    )
    f = compute_indicators(h)
    assert f["ad_line"].isna().all()
    assert f["ad_below_high_frac"].isna().all()
    assert not f["ad_divergence"].any()
    assert frame["ad_divergence"].any()  # the default market has breadth and divergences
    rest = [c for c in COLUMNS if c not in {"ad_line", "ad_below_high_frac", "ad_divergence"}]
    rest.remove("breadth_modelled")
    pd.testing.assert_frame_equal(f[rest], frame[rest])


def test_term_slope_sources(market: SyntheticMarket) -> None:
    indices = market.index_frames()
    # Futures treated as real: VX2/VX1 - 1 from the curve, and RSI on VX1.
    real = MarketHistory.from_frames(
        spx=market.spx, indices=indices, vx_contracts=market.vx.assign(modelled=False)
    )
    f = compute_indicators(real)
    assert set(f["term_slope_source"]) == {"futures"}
    assert not f["term_slope_modelled"].any()
    day = pd.Timestamp("2005-06-01")
    c = real.curve.loc[real.curve["date"] == day].set_index("rank")["settle"]
    assert f.loc[day, "term_slope"] == pytest.approx(c[2] / c[1] - 1)
    assert set(f["rsi_vx1_source"]) == {"futures"}
    assert not f["rsi_vx1_modelled"].any()
    # No VIX3M: a modelled curve that has VIX6M is used, flagged.
    no3m = {k: v for k, v in indices.items() if k != "vix3m"}
    f = compute_indicators(MarketHistory.from_frames(spx=market.spx, indices=no3m))
    assert set(f["term_slope_source"]) == {"model"}
    assert f["term_slope_modelled"].all()
    assert f["term_slope"].notna().all()
    # VIX alone: a curve modelled from one node has no slope information.
    only = {"vix": indices["vix"]}
    f = compute_indicators(MarketHistory.from_frames(spx=market.spx, indices=only))
    assert set(f["term_slope_source"]) == {"none"}
    assert f["term_slope"].isna().all()
    assert not f["backwardation"].any()
    assert f["rsi_vvix"].isna().all()


def test_slope_fall_is_the_move_toward_backwardation(frame: pd.DataFrame) -> None:
    s = frame["term_slope"]
    np.testing.assert_allclose(frame["term_slope_fall_5d"], s.shift(5) - s, equal_nan=True)
    fired = frame["term_toward_backwardation"]
    assert fired.any()
    assert (frame.loc[fired, "term_slope_fall_5d"] > 0.05).all()


def test_events_pass_through_with_nan_for_none(history: MarketHistory, frame: pd.DataFrame) -> None:
    for kind in ("fomc", "cpi", "ppi"):
        raw = history.daily[f"days_to_{kind}"].to_numpy()
        got = frame[f"days_to_{kind}"].to_numpy()
        np.testing.assert_array_equal(got, np.where(raw >= 0, raw, np.nan))
    near = frame[["days_to_fomc", "days_to_cpi", "days_to_ppi"]].min(axis=1)
    np.testing.assert_array_equal(frame["days_to_event"], near)
    np.testing.assert_array_equal(frame["event_within_window"], near <= 5)


def test_snapshot_is_json_able(frame: pd.DataFrame) -> None:
    snap = indicator_snapshot(frame, date(2003, 1, 2))
    assert snap["session"] == "2003-01-02"
    assert snap["rsi_spx"] is None  # not enough history yet: NaN becomes None
    assert isinstance(snap["backwardation"], bool)
    assert snap["term_slope_source"] == "indices"
    later = indicator_snapshot(frame, date(2008, 10, 1))
    assert isinstance(later["rsi_spx"], float)
    assert set(later) == {"session", *COLUMNS}
    json.dumps(later, allow_nan=False)
    with pytest.raises(DataError, match="not a session"):
        indicator_snapshot(frame, date(2008, 10, 4))
