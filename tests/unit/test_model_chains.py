"""Model option chains (vixshield.data.model_chains): format, no-arbitrage, quotes, VIX options.

Inputs are synthetic index levels; the real-data checks are in
``tests/real/test_model_chains_real.py``. Expected values come from outside the code under test
where possible: put-call parity and convexity (model-free), Cboe's tick rules, hand-rounded
quotes, the flat-smile variance swap (equal to the ATM variance).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest

from vixshield import calendar
from vixshield.calendar import ExpiryKind
from vixshield.data.chains import CANONICAL_COLUMNS, validate_chain
from vixshield.data.model_chains import (
    PARAMS_FILE,
    SpxModelParams,
    VixModelParams,
    listed_spx_expiries,
    load_params,
    model_spx_chain,
    model_vix_chain,
    quote_from_value,
    spx_surface,
    ssvi_total_variance,
    variance_swap_total_variance,
)
from vixshield.errors import InvalidInputError
from vixshield.pricing.black import black76_price
from vixshield.units import NEW_YORK, years_between

SESSION = date(2019, 6, 26)
SPOT = 2918.11
RATE = 0.0217
DIV = 0.018
INDICES: dict[str, Any] = {
    "vix": 16.21,
    "vix9d": 16.8,
    "vix3m": 17.05,
    "vix6m": 17.8,
    "skew": 117.16,
}
QUOTE_TIME = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)

# Stress days: a 2008-style crisis (inverted term structure, flat SKEW), a 1990s day with
# VIX only, and a calm day with a very high SKEW.
SCENARIOS: dict[str, dict[str, Any]] = {
    "2019": INDICES,
    "crisis": {"vix": 60.0, "vix9d": 75.0, "vix3m": 48.0, "vix6m": 40.0, "skew": 105.0},
    "vix_only": {"vix": 22.0, "skew": 125.0},
    "calm_high_skew": {"vix": 10.0, "vix9d": 8.5, "vix3m": 12.5, "vix6m": 14.0, "skew": 155.0},
}


def _chain(**overrides: object) -> pd.DataFrame:
    kwargs: dict[str, object] = {**INDICES, "rate": RATE, "div_yield": DIV}
    kwargs.update(overrides)
    return model_spx_chain(SESSION, SPOT, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def chain() -> pd.DataFrame:
    return _chain()


def _t_years(frame: pd.DataFrame) -> np.ndarray:
    keys = frame[["expiry", "root"]].drop_duplicates()
    times = {
        (d, r): years_between(
            QUOTE_TIME,
            calendar.settlement_datetime(
                d, ExpiryKind.SPX_AM if r == "SPX" else ExpiryKind.SPXW_PM
            ),
        )
        for d, r in zip(keys["expiry"], keys["root"], strict=True)
    }
    return np.array([times[(d, r)] for d, r in zip(frame["expiry"], frame["root"], strict=True)])


# ------------------------------------------------------------------------------ format


def test_canonical_and_validated(chain: pd.DataFrame) -> None:
    validated = validate_chain(chain).frame
    pd.testing.assert_frame_equal(chain, validated)
    assert list(chain.columns) == [c for c in CANONICAL_COLUMNS if c in chain.columns]
    assert {"underlying", "iv", "delta"} <= set(chain.columns)
    assert chain["modelled"].all()
    assert set(chain["root"]) == {"SPX", "SPXW"}
    assert (chain.loc[chain["root"] == "SPX", "settlement"] == "AM").all()
    assert (chain.loc[chain["root"] == "SPXW", "settlement"] == "PM").all()
    assert chain["quote_time"].iloc[0] == pd.Timestamp(QUOTE_TIME)
    pd.testing.assert_frame_equal(_chain(validate=True), chain)


def test_quote_time_is_configurable() -> None:
    at = datetime(2019, 6, 26, 16, 0, tzinfo=NEW_YORK)
    frame = _chain(quote_time=at.timetz())
    assert frame["quote_time"].iloc[0] == pd.Timestamp(at)
    # at 16:00 the same-day PM expiry has settled and is not listed
    assert SESSION not in set(frame["expiry"])
    assert SESSION in set(_chain()["expiry"])


def test_deterministic(chain: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(_chain(), chain)


def test_listing_like_2019(chain: pd.DataFrame) -> None:
    expiries = set(chain["expiry"])
    # the 2019-06-26 SPXW listing (DataShop file): Mondays, Wednesdays, Fridays, month-ends
    for day in ("2019-07-01", "2019-07-03", "2019-07-29", "2019-08-23", "2019-11-29", "2020-06-30"):
        assert date.fromisoformat(day) in expiries
    for day in ("2019-08-05", "2019-09-06"):  # not listed that day
        assert date.fromisoformat(day) not in expiries
    assert (chain.loc[chain["root"] == "SPX", "expiry"].map(lambda d: d.weekday()) == 4).all()
    near = chain.loc[(chain["expiry"] == date(2019, 7, 26)) & (chain["right"] == "C"), "strike"]
    steps = np.diff(near.to_numpy())
    atm = near.to_numpy()[:-1]
    assert set(steps[np.abs(atm / SPOT - 1.0) < 0.05]) == {5.0}
    # 5 near the money, widening to 25, 50, 100 (10/15-point joins where rungs meet, as listed)
    assert {5.0, 25.0, 50.0, 100.0} <= set(steps) <= {5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 100.0}
    assert 150 <= near.size <= 300


def test_listing_before_weeklies() -> None:
    early = listed_spx_expiries(datetime(1995, 3, 15, 15, 45, tzinfo=NEW_YORK), max_days=200)
    assert {root for _, root in early} == {"SPX"}
    assert [d for d, _ in early][:2] == [date(1995, 3, 17), date(1995, 4, 21)]
    frame = model_spx_chain(date(1995, 3, 15), 490.0, vix=13.0, rate=0.058, div_yield=0.028)
    validate_chain(frame)


# ------------------------------------------------------------------------------ no-arbitrage


def test_put_call_parity_on_mids(chain: pd.DataFrame) -> None:
    t = _t_years(chain)
    fwd = SPOT * np.exp((RATE - DIV) * t)
    calls = chain["right"] == "C"
    c, p = chain.loc[calls].reset_index(drop=True), chain.loc[~calls].reset_index(drop=True)
    assert (c["strike"].to_numpy() == p["strike"].to_numpy()).all()
    df = np.exp(-RATE * t[calls.to_numpy()])
    gap = (c["bid"] + c["ask"] - p["bid"] - p["ask"]) / 2 - df * (
        fwd[calls.to_numpy()] - c["strike"]
    )
    half_spreads = ((c["ask"] - c["bid"]) + (p["ask"] - p["bid"])) / 2
    assert (np.abs(gap) <= half_spreads + 1e-9).all()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_no_butterfly_arbitrage(name: str) -> None:
    frame = _chain(**dict.fromkeys(INDICES) | SCENARIOS[name])
    t = _t_years(frame)
    for _, group in frame.assign(t=t).groupby(["expiry", "root"]):
        calls = group.loc[group["right"] == "C"].sort_values("strike")
        k = calls["strike"].to_numpy()
        tt = calls["t"].to_numpy()
        fwd = SPOT * np.exp((RATE - DIV) * tt)
        value = black76_price(fwd, k, tt, calls["iv"].to_numpy(), rate=RATE, is_call=True)
        slopes = np.diff(value) / np.diff(k)
        assert (np.diff(slopes) >= -1e-9 * np.maximum(1.0, np.abs(slopes[1:]))).all(), name
        # tradeable: no butterfly is bought for less than nothing at the quotes
        a = (k[2:] - k[1:-1]) / (k[2:] - k[:-2])
        ask, bid = calls["ask"].to_numpy(), calls["bid"].to_numpy()
        assert (a * ask[:-2] + (1 - a) * ask[2:] - bid[1:-1] >= -1e-9).all(), name


@pytest.mark.parametrize("theta", [1e-6, 1e-4, 0.002, 0.02, 0.2, 1.0])
@pytest.mark.parametrize("eta", [0.4, 2.0, 8.0])
@pytest.mark.parametrize("rho", [-0.95, -0.66, 0.7])
def test_ssvi_slices_have_no_butterfly_arbitrage(theta: float, eta: float, rho: float) -> None:
    # Durrleman's condition (Gatheral and Jacquier 2014, Lemma 2.2): a smile w(k) is free of
    # butterfly arbitrage iff g(k) = (1 - k w'/(2w))^2 - w'^2/4 (1/w + 1/4) + w''/2 >= 0.
    # Derivatives by hand: w' = theta/2 (rho phi + phi (phi k + rho)/R),
    # w'' = theta/2 phi^2 (1 - rho^2)/R^3, R = sqrt((phi k + rho)^2 + 1 - rho^2); phi is the
    # documented power law with its cap. Parameters reach far beyond the calibrated ones.
    gamma = 0.35
    bound = 4.0 / (theta * (1.0 + abs(rho)))
    phi = min(eta / (theta**gamma * (1 + theta) ** (1 - gamma)), 0.999 * min(bound, bound**0.5))
    k = np.linspace(-40.0, 40.0, 8001) * np.sqrt(theta)
    w = ssvi_total_variance(k, theta, rho=rho, eta=eta, gamma=gamma)
    root = np.sqrt((phi * k + rho) ** 2 + 1 - rho**2)
    np.testing.assert_allclose(w, theta / 2 * (1 + rho * phi * k + root), rtol=1e-12)
    w1 = theta / 2 * (rho * phi + phi * (phi * k + rho) / root)
    w2 = theta / 2 * phi**2 * (1 - rho**2) / root**3
    g = (1 - k * w1 / (2 * w)) ** 2 - w1**2 / 4 * (1 / w + 0.25) + w2 / 2
    assert (g >= 0.0).all()
    # Lee's moment bound: total variance grows at most like 2|k| in the wings
    assert (w1[[0, -1]] * np.array([-1, 1]) <= 2.0).all()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_no_calendar_arbitrage(name: str) -> None:
    inputs = dict.fromkeys(INDICES) | SCENARIOS[name]
    surface = spx_surface(SPOT, rate=RATE, div_yield=DIV, **inputs)  # type: ignore[arg-type]
    t = np.linspace(1.0, 730.0, 400) / 365.0
    theta = surface.atm_total_variance(t)
    assert (np.diff(theta) >= 0.0).all(), name
    k = np.linspace(-1.0, 0.5, 61)
    w = ssvi_total_variance(
        k[None, :], theta[:, None], rho=surface.rho, eta=surface.eta, gamma=surface.gamma
    )
    assert (np.diff(w, axis=0) >= -1e-15).all(), name


# ------------------------------------------------------------------------------ term structure


def test_variance_swap_of_flat_smile_is_atm_variance() -> None:
    theta = np.array([1e-4, 0.01, 0.3])
    vs = variance_swap_total_variance(theta, rho=0.0, eta=1e-9, gamma=0.5)
    np.testing.assert_allclose(vs, theta, rtol=1e-6)


def test_atm_matches_scaled_index_variance() -> None:
    surface = spx_surface(SPOT, rate=RATE, div_yield=DIV, **INDICES)
    t = np.array([9.0, 30.0, 93.0, 186.0]) / 365.0
    vs = variance_swap_total_variance(
        surface.atm_total_variance(t), rho=surface.rho, eta=surface.eta, gamma=surface.gamma
    )
    index = (np.array([16.8, 16.21, 17.05, 17.8]) / 100) ** 2 * t
    np.testing.assert_allclose(vs, surface.vs_scale * index, rtol=1e-10)
    atm_over_vix = np.sqrt(surface.atm_total_variance(30 / 365) / (30 / 365)) / 0.1621
    assert 0.82 < float(atm_over_vix[0]) < 0.92  # VIX includes the skew: ATM is lower


def test_vix_only_term_shape() -> None:
    p = SpxModelParams()
    low = spx_surface(SPOT, vix=12.0, rate=RATE, div_yield=DIV)
    high = spx_surface(SPOT, vix=45.0, rate=RATE, div_yield=DIV)
    t30 = 30 / 365
    for s, vix in ((low, 12.0), (high, 45.0)):
        np.testing.assert_allclose(s.index_total_variance(t30), (vix / 100) ** 2 * t30, rtol=1e-12)
    t = np.array([0.25, 0.5, 1.0, 5.0])
    low_vol = np.sqrt(low.index_total_variance(t) / t)
    high_vol = np.sqrt(high.index_total_variance(t) / t)
    assert (np.diff(low_vol) > 0).all()  # mean reversion up from a low VIX
    assert (np.diff(high_vol) < 0).all()  # and down from a high one
    assert (low_vol < p.long_run_vol).all()
    assert (high_vol > p.long_run_vol).all()


def test_skew_drives_eta() -> None:
    p = SpxModelParams()
    assert p.eta_for_skew(None) == p.eta_ref
    assert p.eta_for_skew(float("nan")) == p.eta_ref
    assert p.eta_for_skew(p.skew_ref) == pytest.approx(p.eta_ref, rel=1e-3)
    etas = [p.eta_for_skew(s) for s in (105.0, 117.16, 130.0, 150.0)]
    assert etas == sorted(etas)
    flat = dataclasses.replace(p, skew_elasticity=0.0)
    assert flat.eta_for_skew(150.0) == p.eta_ref
    # steeper put skew at higher SKEW, same ATM input
    lo = spx_surface(SPOT, rate=RATE, div_yield=DIV, **(INDICES | {"skew": 105.0}))
    hi = spx_surface(SPOT, rate=RATE, div_yield=DIV, **(INDICES | {"skew": 140.0}))
    t = 30 / 365
    skew_lo = lo.implied_vol(t, 2700.0) - lo.implied_vol(t, 2900.0)
    skew_hi = hi.implied_vol(t, 2700.0) - hi.implied_vol(t, 2900.0)
    assert skew_hi > skew_lo > 0


# ------------------------------------------------------------------------------ quotes


def test_quote_from_value_hand_cases() -> None:
    value = np.array([0.01, 0.12, 2.96, 3.04, 10.02, 250.0])
    width = np.array([0.05, 0.10, 0.10, 0.10, 0.30, 2.0])
    bid, ask = quote_from_value(value, width)
    # 0.01 +- 0.025 -> no bid, ask 0.05; 0.12 +- 0.05 -> 0.05 / 0.20 (0.17 up to a nickel);
    # 2.96 +- 0.05 -> 2.90 / 3.10 (3.01 is above $3: dime tick); 3.04 -> 2.95 / 3.10;
    # 10.02 +- 0.15 -> 9.80 / 10.20; 250 +- 1 -> 249.00 / 251.00
    np.testing.assert_allclose(bid, [0.0, 0.05, 2.90, 2.95, 9.80, 249.0])
    np.testing.assert_allclose(ask, [0.05, 0.20, 3.10, 3.10, 10.20, 251.0])


def test_ticks_widths_and_zero_bids(chain: pd.DataFrame) -> None:
    bid_c = np.round(chain["bid"].to_numpy() * 100).astype(int)
    ask_c = np.round(chain["ask"].to_numpy() * 100).astype(int)
    np.testing.assert_allclose(bid_c / 100, chain["bid"], atol=1e-9)
    assert (bid_c % 5 == 0).all()
    assert (ask_c % 5 == 0).all()
    assert (bid_c[bid_c >= 300] % 10 == 0).all()
    assert (ask_c[ask_c > 300] % 10 == 0).all()
    assert (ask_c > bid_c).all()
    assert (ask_c >= 5).all()
    zero = chain["bid"] == 0
    assert zero.any()
    assert (chain.loc[zero, "ask"] <= 0.15).all()
    assert (chain.loc[zero, "delta"].abs() < 0.01).all()  # only far out of the money
    month = chain.loc[(chain["expiry"] == date(2019, 7, 26))]
    atm = month.loc[(month["strike"] - SPOT).abs() < 10]
    assert ((atm["ask"] - atm["bid"]).between(0.2, 1.0)).all()
    assert (atm["bid"] > 0).all()
    # wider for pricier options
    calls = month.loc[month["right"] == "C"].sort_values("strike")
    width = (calls["ask"] - calls["bid"]).to_numpy()
    assert width[0] > width[len(width) // 2] > width[-1]


def test_iv_and_delta_columns(chain: pd.DataFrame) -> None:
    assert (chain["iv"] > 0.03).all()
    assert (chain["iv"] < 2.0).all()
    calls = chain["right"] == "C"
    assert chain.loc[calls, "delta"].between(0, 1).all()
    assert chain.loc[~calls, "delta"].between(-1, 0).all()
    # spot delta: call minus put delta is e^{-qT}
    t = _t_years(chain)[calls.to_numpy()]
    diff = chain.loc[calls, "delta"].to_numpy() - chain.loc[~calls, "delta"].to_numpy()
    np.testing.assert_allclose(diff, np.exp(-DIV * t), atol=1e-9)


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInputError):
        _chain(vix=-1.0)
    with pytest.raises(InvalidInputError):
        _chain(vix3m=0.0)
    with pytest.raises(InvalidInputError):
        model_spx_chain(SESSION, float("nan"), vix=16.0, rate=RATE, div_yield=DIV)
    with pytest.raises(InvalidInputError):
        _chain(quote_time=datetime(2019, 6, 26, 15, 45))  # noqa: DTZ001 - naive on purpose
    with pytest.raises(InvalidInputError):
        SpxModelParams(rho=1.5)


def test_params_match_calibration_record() -> None:
    assert PARAMS_FILE.is_file()
    spx, vix = load_params()
    assert spx == SpxModelParams()
    assert vix == VixModelParams()


# ------------------------------------------------------------------------------ VIX options

VX_EXPIRIES = calendar.vx_expiries(date(2019, 6, 27), date(2020, 2, 28))
FUTURES: dict[date, float] = dict(
    zip(VX_EXPIRIES, (16.6, 17.4, 18.1, 18.6, 18.9, 19.1, 19.3, 19.4), strict=False)
)


@pytest.fixture(scope="module")
def vix_chain() -> pd.DataFrame:
    return model_vix_chain(SESSION, FUTURES, vvix=85.39, rate=RATE)


def test_vix_chain_format(vix_chain: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(validate_chain(vix_chain).frame, vix_chain)
    assert (vix_chain["root"] == "VIX").all()
    assert (vix_chain["settlement"] == "AM").all()
    assert vix_chain["modelled"].all()
    assert set(vix_chain["expiry"]) == set(FUTURES)
    front = vix_chain.loc[vix_chain["expiry"] == VX_EXPIRIES[0], "strike"].unique()
    assert {10.0, 10.5, 15.5, 20.0, 21.0, 30.0} <= set(front)
    assert 20.5 not in set(front)
    pd.testing.assert_frame_equal(
        model_vix_chain(SESSION, FUTURES, vvix=85.39, rate=RATE), vix_chain
    )


def test_vix_calls_skew_upward(vix_chain: pd.DataFrame) -> None:
    for expiry, group in vix_chain.groupby("expiry"):
        calls = group.loc[group["right"] == "C"].sort_values("strike")
        fwd = float(calls["underlying"].iloc[0])
        assert fwd == FUTURES[cast(date, expiry)]
        above = calls.loc[calls["strike"] >= fwd, "iv"].to_numpy()
        assert (np.diff(above) > 0).all(), expiry
        atm = calls.iloc[int(np.argmin(np.abs(calls["strike"] - fwd)))]
        assert calls.loc[calls["strike"] >= 1.5 * fwd, "iv"].iloc[0] > atm["iv"] + 0.15


def test_vix_vol_of_vol_term_structure(vix_chain: pd.DataFrame) -> None:
    atm = []
    for expiry in sorted(FUTURES):
        group = vix_chain.loc[(vix_chain["expiry"] == expiry) & (vix_chain["right"] == "C")]
        atm.append(group.iloc[int(np.argmin(np.abs(group["strike"] - FUTURES[expiry])))]["iv"])
    assert (np.diff(atm) < 0).all()  # shorter expiries carry more vol of vol
    assert 0.7 < atm[0] < 0.95  # VVIX 85 is the variance-swap vol, above ATM with upward skew


def test_vix_parity_and_ticks(vix_chain: pd.DataFrame) -> None:
    calls = vix_chain.loc[vix_chain["right"] == "C"].reset_index(drop=True)
    puts = vix_chain.loc[vix_chain["right"] == "P"].reset_index(drop=True)
    t = np.array(
        [
            years_between(QUOTE_TIME, calendar.settlement_datetime(d, ExpiryKind.VIX_AM))
            for d in calls["expiry"]
        ]
    )
    gap = (calls["bid"] + calls["ask"] - puts["bid"] - puts["ask"]) / 2 - np.exp(-RATE * t) * (
        calls["underlying"] - calls["strike"]
    )
    half = ((calls["ask"] - calls["bid"]) + (puts["ask"] - puts["bid"])) / 2
    assert (np.abs(gap) <= half + 1e-9).all()
    cents = np.round(vix_chain[["bid", "ask"]].to_numpy() * 100).astype(int)
    assert (cents % 5 == 0).all()
    assert (vix_chain["bid"] == 0).any()


def test_vix_chain_drops_settled_and_checks_inputs() -> None:
    on_expiry = model_vix_chain(VX_EXPIRIES[0], FUTURES, vvix=90.0, rate=RATE)
    assert VX_EXPIRIES[0] not in set(on_expiry["expiry"])  # settled at 09:30
    with pytest.raises(InvalidInputError):
        model_vix_chain(SESSION, FUTURES, vvix=0.0, rate=RATE)
    with pytest.raises(InvalidInputError):
        model_vix_chain(SESSION, {VX_EXPIRIES[0]: -1.0}, vvix=85.0, rate=RATE)
