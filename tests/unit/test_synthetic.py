"""The embedded synthetic market: determinism, calendar, canonical frames, model formulas.

Expected values come from outside the code under test where it matters: the sessions and VX
expiries from :mod:`vixshield.calendar`, the canonical dtypes from the real loaders run on a
tiny hand-written file, and the analytic risk-neutral variance from a numerical ODE solution
(:func:`scipy.integrate.solve_ivp`).

Speed (not asserted here: DESIGN keeps timings out of tests): a 1990-2019 run (7,559
sessions, ~61,000 VX rows) takes about 0.1 s warm (0.35 s with the first calendar build).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp

from vixshield.calendar import sessions, vx_expiries
from vixshield.clock import FixedClock
from vixshield.data.cfe import CFE_COLUMNS, load_cfe_file
from vixshield.data.chains import validate_chain
from vixshield.data.loaders import (
    BREADTH_SCHEMA,
    MACRO_EVENTS_SCHEMA,
    PRICE_SCHEMA,
    TBILL_RATE_SCHEMA,
    load_macro_events,
)
from vixshield.data.market import MarketHistory
from vixshield.data.synthetic import (
    DEFAULT_PARAMS,
    INDEX_TENOR_DAYS,
    SOURCE,
    ChainInputs,
    SyntheticMarket,
    SyntheticParams,
    index_variance,
    simulate_paths,
    skew_level,
    synthetic_market,
    vvix_level,
    vx_price,
)
from vixshield.data.vx_curve import constant_maturity, term_structure_slope, vx_term_structure
from vixshield.errors import DataError, InvalidInputError
from vixshield.units import NEW_YORK

START, END = dt.date(2013, 6, 1), dt.date(2015, 6, 30)
DAILY = ("spx", "vix", "vix9d", "vix3m", "vix6m", "vvix", "skew", "breadth", "rates", "latent")
OHLC = ("spx", "vix", "vix9d", "vix3m", "vix6m")


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    return synthetic_market(START, END, seed=7)


# ------------------------------------------------------------------------ determinism


def test_same_seed_and_range_give_identical_frames(market: SyntheticMarket) -> None:
    again = synthetic_market(START, END, seed=7)
    for name in (*DAILY, "vx", "events"):
        pd.testing.assert_frame_equal(getattr(market, name), getattr(again, name))
    assert again.params == market.params == DEFAULT_PARAMS


def test_another_seed_gives_another_path(market: SyntheticMarket) -> None:
    other = synthetic_market(START, END, seed=8)
    assert not np.allclose(other.spx["close"], market.spx["close"])
    # The event calendar is a fixed pattern, not random.
    pd.testing.assert_frame_equal(other.events, market.events)


def test_sub_range_is_a_separate_run_as_documented(market: SyntheticMarket) -> None:
    short = synthetic_market(dt.date(2014, 1, 1), END, seed=7)
    assert short.sessions == tuple(d for d in market.sessions if d >= dt.date(2014, 1, 1))
    joined = short.spx.merge(market.spx, on="date")
    assert not np.allclose(joined["close_x"], joined["close_y"])


# ------------------------------------------------------------------------ calendar


def test_daily_frames_hold_exactly_the_xnys_sessions(market: SyntheticMarket) -> None:
    expected = pd.Series(pd.to_datetime(sessions(START, END)), dtype="datetime64[ns]")
    for name in DAILY:
        got = getattr(market, name)["date"]
        pd.testing.assert_series_equal(got.reset_index(drop=True), expected, check_names=False)
    assert market.sessions == tuple(sessions(START, END))


def test_weekend_steps_carry_more_variance_than_weeknights() -> None:
    days = sessions(dt.date(2019, 1, 1), dt.date(2019, 3, 1))
    paths = simulate_paths(days, rng=np.random.default_rng(0))
    p = DEFAULT_PARAMS
    gaps = np.diff([dt.date(2018, 12, 31).toordinal(), *(d.toordinal() for d in days)])
    expected = (1 + p.overnight_weight + p.weekend_weight * (gaps - 1)) / p.year_weight
    np.testing.assert_allclose(paths.tau_session, expected, rtol=1e-12)
    # One year of sessions carries one year of variance on average.
    assert p.year_weight == pytest.approx(252 * 1.2 + 0.1 * 113.25)


# ------------------------------------------------------------------------ frames


def test_price_frames_pass_the_loader_schema(market: SyntheticMarket) -> None:
    for name in (*OHLC, "vvix", "skew"):
        frame = getattr(market, name)
        PRICE_SCHEMA.validate(frame)
        assert frame["modelled"].all()
        assert frame["modelled"].dtype == bool
    assert list(market.spx.columns) == [
        "date",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "modelled",
    ]
    assert list(market.vix.columns) == ["date", "open", "high", "low", "close", "modelled"]
    assert list(market.vvix.columns) == ["date", "close", "modelled"]


def test_ohlc_is_consistent(market: SyntheticMarket) -> None:
    for name in OHLC:
        f = market.__getattribute__(name)
        assert (f["low"] <= f["open"]).all(), name
        assert (f["low"] <= f["close"]).all(), name
        assert (f["open"] <= f["high"]).all(), name
        assert (f["close"] <= f["high"]).all(), name
        assert (f["low"] < f["high"]).all(), name
        assert np.isfinite(f[["open", "high", "low", "close"]].to_numpy()).all()


def test_vol_indices_are_positive_and_plausible(market: SyntheticMarket) -> None:
    for name in ("vix", "vix9d", "vix3m", "vix6m"):
        close = getattr(market, name)["close"]
        assert (close > 0).all()
        assert close.between(5, 150).all()
    assert market.vvix["close"].between(20, 250).all()
    assert market.skew["close"].between(100, 170).all()


def test_other_frames_pass_the_loader_schemas(market: SyntheticMarket) -> None:
    BREADTH_SCHEMA.validate(market.breadth)
    MACRO_EVENTS_SCHEMA.validate(market.events)
    TBILL_RATE_SCHEMA.validate(market.rates)
    b = market.breadth
    total = b["advances"] + b["declines"] + b["unchanged"]
    assert (total == DEFAULT_PARAMS.issues).all()


def test_events_round_trip_through_the_real_loader(market: SyntheticMarket, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    out = market.events.assign(date=market.events["date"].dt.strftime("%Y-%m-%d"))
    out.to_csv(path, index=False)
    loaded = load_macro_events(path)  # strict: every reference-month rule holds
    pd.testing.assert_frame_equal(loaded.frame, market.events)


def test_event_calendar_pattern(market: SyntheticMarket) -> None:
    ev = market.events
    assert set(ev["event"]) == {"fomc_decision", "cpi", "ppi"}
    assert (ev["source"] == SOURCE).all()
    year = ev.loc[ev["date"].dt.year == 2014]
    counts = year["event"].value_counts()
    assert counts["fomc_decision"] == 8
    assert counts["cpi"] == counts["ppi"] == 12
    fomc = year.loc[year["event"] == "fomc_decision"]
    assert (fomc["date"].dt.day_of_week == 2).all()  # Wednesdays (no holiday hit one in 2014)
    assert list(fomc["date"].dt.month) == [1, 3, 4, 6, 7, 9, 10, 12]
    assert (fomc["time_et"] == "14:00").all()
    cpi = year.loc[year["event"] == "cpi"]
    assert cpi["date"].dt.day.between(12, 20).all()
    assert (year.loc[year["event"] != "fomc_decision", "time_et"] == "08:30").all()
    # Scheduled events are known a year ahead.
    assert ev["date"].max() > pd.Timestamp(END) + pd.Timedelta(days=300)
    sessions_set = set(sessions(START, END + dt.timedelta(days=366)))
    assert all(d.date() in sessions_set for d in ev["date"])


def test_rates_are_a_slow_positive_series(market: SyntheticMarket) -> None:
    r = market.rates["rate_decimal"]
    assert (r >= 0).all()
    assert r.diff().abs().max() < 0.005
    np.testing.assert_allclose(r, np.round(r, 4))


def test_breadth_follows_spx(market: SyntheticMarket) -> None:
    b = market.breadth
    net = (b["advances"] - b["declines"]) / DEFAULT_PARAMS.issues
    ret = np.log(market.spx["close"]).diff()
    assert np.corrcoef(net[1:], ret[1:])[0, 1] > 0.6


# ------------------------------------------------------------------------ VX futures


def _cfe_dtypes(tmp_path: Path) -> pd.Series:
    """The real loader's dtypes, from a two-row hand-written CFE file."""
    path = tmp_path / "CFE_F14_VX.csv"
    path.write_text(
        "Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
        "01/17/2014,F (Jan 14),12.50,12.90,12.40,12.60,12.55,0.05,1000,0,5000\n"
        "01/22/2014,F (Jan 14),0,0,0,0,12.36,0,0,0,0\n"
    )
    return load_cfe_file(path).frame.dtypes


def test_vx_frame_has_the_canonical_cfe_layout(market: SyntheticMarket, tmp_path: Path) -> None:
    vx = market.vx
    assert tuple(vx.columns) == CFE_COLUMNS
    pd.testing.assert_series_equal(vx.dtypes, _cfe_dtypes(tmp_path))
    assert vx["modelled"].all()
    assert not vx["rescaled"].any()
    assert (vx["settle"] > 0).all()
    assert not vx.duplicated(["date", "expiry"]).any()
    assert (vx["contract"] == vx["expiry"].dt.strftime("VX %Y-%m")).all()


def test_vx_listing_follows_the_cfe_expiries(market: SyntheticMarket) -> None:
    vx = market.vx
    listed = DEFAULT_PARAMS.vx_listed
    expiries = [pd.Timestamp(e) for e in vx_expiries(START, END + dt.timedelta(days=400))]
    assert set(vx["expiry"]) <= set(expiries)
    for date, rows in vx.groupby("date"):
        day = pd.Timestamp(str(date))
        live = rows.loc[rows["expiry"] > day]
        nxt = [e for e in expiries if e > day][:listed]
        assert list(live["expiry"]) == nxt
        assert len(rows) == listed + (1 if day in expiries else 0)


def test_vx_contracts_roll_and_settle_on_the_vro(market: SyntheticMarket) -> None:
    vx = market.vx
    final = vx.loc[vx["date"] == vx["expiry"]]
    assert len(final) > 20  # one expiry a month over two years
    assert final[["open", "high", "low", "close"]].isna().all().all()
    assert (final["volume"] == 0).all()
    vix_open = market.vix.set_index("date")["open"]
    np.testing.assert_allclose(final["settle"], vix_open.loc[final["date"]].to_numpy())
    live = vx.loc[vx["date"] < vx["expiry"]]
    assert (live["low"] <= live[["open", "close"]].min(axis=1)).all()
    assert (live["high"] >= live[["open", "close"]].max(axis=1)).all()
    np.testing.assert_array_equal(live["close"], live["settle"])
    # Each contract trades on consecutive sessions from listing to expiry.
    days = pd.DatetimeIndex(market.spx["date"])
    for _, rows in vx.groupby("contract"):
        pos = days.get_indexer(pd.DatetimeIndex(rows["date"]))
        assert (np.diff(pos) == 1).all()


def test_vx_frame_feeds_the_term_structure_tools(market: SyntheticMarket) -> None:
    term = vx_term_structure(market.vx)
    assert term["rank"].max() == DEFAULT_PARAMS.vx_listed
    assert term["settle"].notna().all()
    assert term["modelled"].all()
    cm = constant_maturity(term)
    assert cm["settle"].between(5, 100).all()
    # Modelled futures are never used for the slope: the index ratio takes over.
    slope = term_structure_slope(term, market.indices())
    assert set(slope["source"]) == {"vix3m/vix"}


# ------------------------------------------------------------------------ model formulas


def test_index_variance_matches_the_risk_neutral_ode() -> None:
    """``<v>_tau`` against a numerical solution of the Q-expectation ODEs."""
    p = DEFAULT_PARAMS
    v0, m0, tau = 0.05, 0.03, 0.5
    lam_q = p.jump_intensity_q

    def rhs(_: float, y: np.ndarray) -> list[float]:
        ev, em, _integral = y
        return [
            p.kappa * em - p.kappa_q * ev + lam_q * p.cojump_mean,
            p.kappa_m * (p.theta - em),
            ev,
        ]

    sol = solve_ivp(rhs, (0.0, tau), [v0, m0, 0.0], rtol=1e-11, atol=1e-13)
    avg = sol.y[2, -1] / tau
    e_exp = math.exp(p.jump_mean + 0.5 * p.jump_std**2)
    jump_term = 2 * lam_q * (e_exp - 1 - p.jump_mean)
    got = index_variance(np.array([v0]), np.array([m0]), tau, p)[0]
    assert got == pytest.approx(avg + jump_term, rel=1e-8)
    # Short horizon: the spot variance plus the jump term.
    short = index_variance(np.array([v0]), np.array([m0]), 1e-10, p)[0]
    assert short == pytest.approx(v0 + jump_term, rel=1e-6)


def test_vx_price_converges_to_vix_and_is_below_forward_vol() -> None:
    p = DEFAULT_PARAMS
    v, m = np.array([0.02, 0.2]), np.array([0.025, 0.04])
    vix = 100 * np.sqrt(index_variance(v, m, 30 / 365, p))
    np.testing.assert_allclose(vx_price(v, m, np.zeros(2), p), vix, rtol=1e-12)
    t = np.array([0.25, 0.25])
    d = 30 / 365
    fwd = ((t + d) * index_variance(v, m, t + d, p) - t * index_variance(v, m, t, p)) / d
    price = vx_price(v, m, t, p)
    assert (price < 100 * np.sqrt(fwd)).all()  # convexity adjustment
    assert price[0] > vix[0]  # calm: contango
    assert price[1] < vix[1]  # stressed: backwardation


def test_vvix_and_skew_respond_to_the_state() -> None:
    p = DEFAULT_PARAMS
    v = np.array([0.01, 0.04])
    m = np.full(2, p.theta)
    skew = skew_level(v, m, p)
    assert skew[0] > skew[1] > 100  # calm markets carry the highest SKEW
    assert (vvix_level(v, m, p) > 0).all()
    no_jumps = dataclasses.replace(p, jump_intensity=0.0, cojump_mean=0.0)
    leverage_only = skew_level(v, m, no_jumps)
    assert (leverage_only > 100).all()  # rho < 0: negative skewness


def test_vix_family_is_upward_sloping_in_calm_markets(market: SyntheticMarket) -> None:
    assert set(INDEX_TENOR_DAYS) == {"vix9d", "vix", "vix3m", "vix6m"}
    calm = market.vix["close"] < market.vix["close"].quantile(0.3)
    assert (market.vix3m["close"][calm] > market.vix["close"][calm]).all()
    assert (market.vix6m["close"][calm] > market.vix3m["close"][calm]).all()


# ------------------------------------------------------------------------ inputs and chains


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kappa", 0.0),
        ("rho", -1.0),
        ("rho", 1.2),
        ("vol_risk_premium", 6.0),
        ("theta", float("nan")),
        ("jump_intensity", -1.0),
        ("issues", 0),
        ("vx_listed", 20),
        ("unchanged_share", 0.6),
    ],
)
def test_params_refuse_bad_values(field: str, value: float) -> None:
    changes: dict[str, object] = {field: value}
    with pytest.raises(InvalidInputError, match=field if field != "vol_risk_premium" else "kappa"):
        dataclasses.replace(DEFAULT_PARAMS, **changes)  # type: ignore[arg-type]


def test_params_refuse_a_bool() -> None:
    with pytest.raises(InvalidInputError, match="issues"):
        SyntheticParams(issues=True)


@pytest.mark.parametrize(
    ("start", "end", "seed"),
    [
        (dt.date(2015, 1, 2), dt.date(2015, 1, 1), 0),
        (dt.date(2015, 1, 3), dt.date(2015, 1, 4), 0),  # a weekend: no session
        (dt.date(1953, 1, 2), dt.date(1953, 3, 1), 0),
        (dt.date(2040, 1, 2), dt.date(2040, 3, 1), 0),
        (dt.date(2015, 1, 2), dt.date(2015, 3, 1), -1),
    ],
)
def test_bad_ranges_and_seeds_are_refused(start: dt.date, end: dt.date, seed: int) -> None:
    with pytest.raises(InvalidInputError):
        synthetic_market(start, end, seed=seed)


def test_default_chain_is_a_valid_modelled_spx_and_vix_chain(market: SyntheticMarket) -> None:
    day = dt.date(2014, 6, 2)
    frame = market.chain(day)
    checked = validate_chain(frame).frame  # the canonical chain rules, strict
    assert len(checked) == len(frame)
    assert frame["modelled"].all()
    assert {"SPX", "SPXW", "VIX"} <= set(frame["root"])
    spot = market.spx.set_index("date").loc[pd.Timestamp(day), "close"]
    spx_rows = frame.loc[frame["root"] != "VIX"]
    assert (spx_rows["underlying"] == spot).all()
    # VIX options sit on the synthetic VX settles of their expiry.
    vx = market.vx.loc[market.vx["date"] == pd.Timestamp(day)].set_index("expiry")["settle"]
    vix_rows = frame.loc[frame["root"] == "VIX"]
    expected = vx.loc[pd.to_datetime(vix_rows["expiry"])].to_numpy()
    np.testing.assert_allclose(vix_rows["underlying"], expected)


def test_frames_build_a_market_history(market: SyntheticMarket) -> None:
    history = MarketHistory.from_frames(
        spx=market.spx,
        indices=market.index_frames(),
        vx_contracts=market.vx,
        breadth=market.breadth,
        rate=market.rates,
        events=market.events,
    )
    day = dt.date(2014, 6, 2)
    clock = FixedClock(dt.datetime(2014, 6, 2, 17, 0, tzinfo=NEW_YORK))
    snap = history.snapshot(day, clock=clock)
    assert snap.spx.close == market.spx.set_index("date").loc[pd.Timestamp(day), "close"]
    assert len(snap.vx_curve) == DEFAULT_PARAMS.vx_listed
    assert snap.breadth is not None
    assert set(snap.trading_days_to) >= {"fomc", "cpi", "ppi"}


def test_chain_passes_the_model_state_to_the_builder(market: SyntheticMarket) -> None:
    seen: list[ChainInputs] = []

    def builder(inputs: ChainInputs) -> pd.DataFrame:
        seen.append(inputs)
        return pd.DataFrame({"strike": [inputs.spot], "modelled": [True]})

    day = dt.date(2014, 6, 2)
    frame = market.chain(day, builder=builder)
    assert len(frame) == 1
    got = seen[0]
    row = market.spx.set_index("date").loc[pd.Timestamp(day)]
    assert got.spot == row["close"]
    assert got.vix == market.vix.set_index("date").loc[pd.Timestamp(day), "close"]
    assert got.dividend_yield == DEFAULT_PARAMS.dividend_yield
    assert len(got.vx_curve) == DEFAULT_PARAMS.vx_listed
    assert (got.vx_curve["expiry"] > pd.Timestamp(day)).all()
    with pytest.raises(InvalidInputError, match="not a session"):
        market.chain_inputs(dt.date(2014, 6, 1))


def test_chain_refuses_unflagged_rows(market: SyntheticMarket) -> None:
    with pytest.raises(DataError, match="modelled"):
        market.chain(dt.date(2014, 6, 2), builder=lambda _: pd.DataFrame({"modelled": [False]}))
