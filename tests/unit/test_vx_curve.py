"""The VX term structure, constant maturity, index-based fallback model and slope.

Expected values are hand-computed from the formulas in the module docstring, or come from
the calendar's scalar ``t_years`` (the vectorised time to expiry's twin).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from vixshield.calendar import ExpiryKind, t_years, vx_expiries
from vixshield.data.vx_curve import (
    CURVE_COLUMNS,
    SETTLE_TIME,
    VixFuturesModel,
    calibrate_model,
    constant_maturity,
    contango_share,
    curve_wide,
    model_errors,
    model_term_structure,
    term_structure_slope,
    vx_term_structure,
    with_fallback,
)
from vixshield.errors import InvalidInputError
from vixshield.units import NEW_YORK

JAN, FEB, MAR, APR = "2014-01-22", "2014-02-19", "2014-03-18", "2014-04-16"


def _futures(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.to_datetime([r[0] for r in rows]),
            "expiry": pd.to_datetime([r[1] for r in rows]),
            "settle": [r[2] for r in rows],
            "modelled": False,
        }
    )


FUTURES = _futures(
    [
        ("2014-01-17", JAN, 12.5),
        ("2014-01-17", FEB, 13.5),
        ("2014-01-17", MAR, 14.5),
        ("2014-01-17", APR, 15.0),
        ("2014-01-21", JAN, 12.6),
        ("2014-01-21", FEB, 13.6),
        # March has no row on 2014-01-21, though it is listed before and after.
        ("2014-01-21", APR, 15.1),
        ("2014-01-22", JAN, 12.36),  # expiry day: the final settlement only
        ("2014-01-22", FEB, 13.7),
        ("2014-01-22", MAR, 14.7),
        ("2014-01-22", APR, 15.2),
    ]
)


def _scalar_t(day: str, expiry: str) -> float:
    now = dt.datetime.combine(dt.date.fromisoformat(day), SETTLE_TIME, tzinfo=NEW_YORK)
    return t_years(now, dt.date.fromisoformat(expiry), ExpiryKind.VIX_AM)


def test_vx1_is_the_nearest_contract_expiring_strictly_after_the_date() -> None:
    term = vx_term_structure(FUTURES)
    assert tuple(term.columns) == CURVE_COLUMNS
    day = term.loc[term["date"] == pd.Timestamp("2014-01-22")]
    assert day["expiry"].dt.strftime("%Y-%m-%d").tolist() == [FEB, MAR, APR]
    assert day["rank"].tolist() == [1, 2, 3]
    assert day["contract"].tolist() == ["VX 2014-02", "VX 2014-03", "VX 2014-04"]
    assert day["dte"].tolist() == [28, 55, 84]
    assert day["settle"].tolist() == [13.7, 14.7, 15.2]


def test_a_listed_contract_without_a_row_keeps_its_rank_as_a_hole() -> None:
    term = vx_term_structure(FUTURES)
    day = term.loc[term["date"] == pd.Timestamp("2014-01-21")].set_index("rank")
    assert day["contract"].tolist() == ["VX 2014-01", "VX 2014-02", "VX 2014-03", "VX 2014-04"]
    assert math.isnan(day.loc[3, "settle"])
    assert day.loc[4, "settle"] == 15.1


def test_t_years_matches_the_calendar_at_16_15_new_york() -> None:
    term = vx_term_structure(FUTURES)
    for row in term.itertuples():
        expected = _scalar_t(f"{row.date:%Y-%m-%d}", f"{row.expiry:%Y-%m-%d}")
        assert row.t_years == pytest.approx(expected, abs=1e-15)
    # 2014-01-21 16:15 to 2014-01-22 09:30 is 17 h 15 min.
    first = term.loc[(term["date"] == pd.Timestamp("2014-01-21")) & (term["rank"] == 1)]
    assert first["t_years"].iloc[0] == pytest.approx((17 * 60 + 15) / 525_600)


def test_depth_cuts_the_curve_and_is_checked() -> None:
    term = vx_term_structure(FUTURES, depth=2)
    assert term.groupby("date")["rank"].max().tolist() == [2, 2, 2]
    with pytest.raises(InvalidInputError, match="depth"):
        vx_term_structure(FUTURES, depth=0)


def test_duplicate_rows_and_missing_columns_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="two rows for the contract expiring 2014-01-22"):
        vx_term_structure(pd.concat([FUTURES, FUTURES.iloc[:1]]))
    with pytest.raises(InvalidInputError, match="lacks column"):
        vx_term_structure(FUTURES.drop(columns="settle"))


def test_the_wide_view_has_one_row_per_date() -> None:
    wide = curve_wide(vx_term_structure(FUTURES))
    assert len(wide) == 3
    assert {"vx1_settle", "vx1_expiry", "vx1_dte", "vx1_t_years", "vx1_modelled"} <= set(wide)
    last = wide.iloc[-1]
    assert (last["vx1_settle"], last["vx2_settle"], last["vx3_settle"]) == (13.7, 14.7, 15.2)
    assert last["vx1_expiry"] == pd.Timestamp(FEB)
    assert last["vx1_dte"] == 28
    assert pd.isna(last["vx4_settle"])
    assert pd.isna(last["vx4_expiry"])


def _term(t_days: list[float], settles: list[float], modelled: list[bool]) -> pd.DataFrame:
    n = len(t_days)
    return pd.DataFrame(
        {
            "date": pd.Timestamp("2020-01-02"),
            "rank": range(1, n + 1),
            "contract": [f"VX {i}" for i in range(n)],
            "expiry": pd.Timestamp("2020-02-19"),
            "dte": [round(t) for t in t_days],
            "t_years": np.asarray(t_days) / 365.0,
            "settle": settles,
            "modelled": modelled,
        }
    )


def test_constant_maturity_interpolates_linearly_in_time_between_the_bracket() -> None:
    cm = constant_maturity(_term([10, 40, 70], [15.0, 18.0, 20.0], [False] * 3))
    # weight on VX1 = (40 - 30) / (40 - 10) = 1/3 -> 15/3 + 18 * 2/3 = 17.
    assert cm["settle"].iloc[0] == pytest.approx(17.0)
    assert cm["weight_near"].iloc[0] == pytest.approx(1 / 3)
    assert cm["near_rank"].iloc[0] == 1
    assert not cm["modelled"].iloc[0]


def test_constant_maturity_uses_vx2_vx3_when_vx2_is_inside_30_days() -> None:
    cm = constant_maturity(_term([0.5, 28.5, 63.5], [14.0, 16.0, 19.0], [False, False, True]))
    w = (63.5 - 30) / (63.5 - 28.5)
    assert cm["settle"].iloc[0] == pytest.approx(16 * w + 19 * (1 - w))
    assert cm["near_rank"].iloc[0] == 2
    assert cm["modelled"].iloc[0]  # VX3 is modelled and has weight


def test_constant_maturity_does_not_extrapolate_before_vx1() -> None:
    cm = constant_maturity(_term([33, 61], [21.0, 22.0], [False, True]))
    assert cm["settle"].iloc[0] == 21.0
    assert cm["weight_near"].iloc[0] == 1.0
    assert not cm["modelled"].iloc[0]  # VX2 has no weight
    assert constant_maturity(_term([33, 61], [21.0, 22.0], [False] * 2), days=45)["settle"].iloc[
        0
    ] == pytest.approx(21.0 + (22.0 - 21.0) * 12 / 28)


def test_constant_maturity_is_nan_when_a_needed_settle_is_missing() -> None:
    cm = constant_maturity(_term([10, 40], [15.0, np.nan], [False] * 2))
    assert math.isnan(cm["settle"].iloc[0])


# --------------------------------------------------------------------------- the model


def _idx(**cols: list[float]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"date": pd.bdate_range("2015-01-05", periods=n), **cols})


def test_a_flat_index_term_structure_gives_a_flat_forward_vol() -> None:
    model = VixFuturesModel()
    idx = _idx(vix=[20.0] * 4, vix3m=[20.0] * 4, vix6m=[20.0] * 4)
    t = np.array([0.0, 10, 100, 300]) / 365
    assert model.forward_vol(idx, t) == pytest.approx([20.0] * 4)
    # F(0) is the spot 30-day vol: no convexity at expiry.
    assert model.price(idx, t)[0] == pytest.approx(20.0)


def test_forward_vol_by_hand_between_and_beyond_the_nodes() -> None:
    model = VixFuturesModel()
    idx = _idx(vix=[20.0, 20.0], vix3m=[25.0, 25.0])
    # Total variance in vol^2 x days: w(10) = 4000, w30 = 12000, w93 = 58125.
    w40 = 12000 + (58125 - 12000) * 10 / 63
    inside = math.sqrt((w40 - 4000) / 30)
    beyond = math.sqrt((58125 - 12000) / 63)  # the last forward variance continues
    got = model.forward_vol(idx, np.array([10.0, 100.0]) / 365)
    assert got == pytest.approx([inside, beyond], rel=1e-12)


def test_vix9d_is_a_node_when_present() -> None:
    model = VixFuturesModel()
    idx = _idx(vix9d=[10.0], vix=[20.0])
    w5, w30 = 100.0 * 5, 400.0 * 30
    w35 = w30 + (w30 - 100.0 * 9) / 21 * 5
    expected = math.sqrt((w35 - w5) / 30)
    assert model.forward_vol(idx, np.array([5 / 365])) == pytest.approx([expected], rel=1e-12)


def test_missing_vix_or_negative_forward_variance_give_no_value() -> None:
    model = VixFuturesModel()
    idx = _idx(vix=[np.nan, 80.0], vix3m=[20.0, 30.0])
    got = model.forward_vol(idx, np.array([10, 40]) / 365)
    assert np.isnan(got).all()


def test_price_applies_the_log_normal_convexity() -> None:
    model = VixFuturesModel(omega=1.5, decay_years=0.05)
    t = np.array([0.0, 0.1, 5.0])
    s2 = 1.5**2 * 0.05 * (1 - np.exp(-t / 0.05))
    assert model.log_variance(t) == pytest.approx(s2)
    idx = _idx(vix=[20.0] * 3)
    assert model.price(idx, t) == pytest.approx(20.0 * np.exp(-s2 / 2))


@pytest.mark.parametrize(
    "kwargs", [{"omega": -1.0}, {"omega": math.nan}, {"decay_years": 0.0}, {"decay_years": -1}]
)
def test_model_parameters_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError):
        VixFuturesModel(**kwargs)


def test_index_inputs_are_checked() -> None:
    with pytest.raises(InvalidInputError, match=r"indices\.vix must be > 0"):
        model_term_structure(_idx(vix=[20.0, -1.0]))
    backwards = _idx(vix=[20.0, 21.0]).iloc[::-1]
    with pytest.raises(InvalidInputError, match="strictly increasing"):
        model_term_structure(backwards)
    with pytest.raises(InvalidInputError, match="one value per indices row"):
        VixFuturesModel().forward_vol(_idx(vix=[20.0]), np.array([0.1, 0.2]))


def test_the_modelled_curve_uses_the_calendar_s_expiries_and_is_flagged() -> None:
    idx = pd.DataFrame({"date": pd.to_datetime(["2014-01-21", "2014-01-22"]), "vix": [12, 13]})
    term = model_term_structure(idx, depth=3)
    assert tuple(term.columns) == CURVE_COLUMNS
    assert term["modelled"].all()
    assert term["expiry"].dt.date.tolist() == [
        *vx_expiries(dt.date(2014, 1, 21), dt.date(2014, 3, 31))[:3],
        *vx_expiries(dt.date(2014, 1, 23), dt.date(2014, 4, 30))[:3],
    ]
    flat = VixFuturesModel().price(idx.iloc[[0]], np.array([term["t_years"].iloc[0]]))
    assert term["settle"].iloc[0] == pytest.approx(flat[0])
    assert term["dte"].iloc[0] == 1


def test_with_fallback_models_only_the_dates_without_futures() -> None:
    term = vx_term_structure(FUTURES)
    idx = pd.DataFrame(
        {"date": pd.to_datetime(["2014-01-21", "2014-01-22", "2014-01-23"]), "vix": [12.0] * 3}
    )
    both = with_fallback(term, idx, depth=4)
    by_date = both.groupby("date")["modelled"].agg(["all", "any", "size"])
    assert not by_date.loc[pd.Timestamp("2014-01-21"), "any"]
    assert by_date.loc[pd.Timestamp("2014-01-23"), "all"]
    assert by_date.loc[pd.Timestamp("2014-01-23"), "size"] == 4
    assert pd.Timestamp("2014-01-17") in set(both["date"])  # real dates outside indices stay
    # A real hole stays a hole: nothing is filled in.
    assert both.loc[(both["date"] == pd.Timestamp("2014-01-21")), "settle"].isna().sum() == 1


def test_calibration_recovers_the_parameters_of_synthetic_settles() -> None:
    rng = np.random.default_rng(7)
    n = 60
    vix = rng.uniform(12, 35, n)
    idx = pd.DataFrame(
        {
            "date": pd.bdate_range("2015-01-05", periods=n),
            "vix": vix,
            "vix3m": vix * rng.uniform(0.9, 1.2, n),
            "vix6m": vix * rng.uniform(0.95, 1.3, n),
        }
    )
    truth = VixFuturesModel(omega=1.2, decay_years=0.05)
    synthetic = model_term_structure(idx, model=truth).assign(modelled=False)
    fitted = calibrate_model(synthetic, idx)
    assert fitted.omega == pytest.approx(1.2, rel=1e-5)
    assert fitted.decay_years == pytest.approx(0.05, rel=1e-5)
    errors = model_errors(synthetic, idx, model=truth, ranks=(1, 2))
    assert errors["rank"].tolist() == [1, 2]
    assert errors["n"].tolist() == [n, n]
    assert errors["rmse"].max() < 1e-12
    with pytest.raises(InvalidInputError, match="at least 10"):
        calibrate_model(synthetic.iloc[:8], idx)


def test_slope_is_vx2_over_vx1_else_vix3m_over_vix_never_modelled_futures() -> None:
    term = vx_term_structure(FUTURES)
    modelled = model_term_structure(
        pd.DataFrame({"date": pd.to_datetime(["2014-01-24"]), "vix": [20.0], "vix3m": [18.0]})
    )
    idx = pd.DataFrame(
        {
            "date": pd.to_datetime(["2014-01-22", "2014-01-23", "2014-01-24"]),
            "vix": [12.0, 20.0, 20.0],
            "vix3m": [13.0, 18.0, 18.0],
        }
    )
    slope = term_structure_slope(pd.concat([term, modelled]), idx).set_index("date")
    assert slope.loc[pd.Timestamp("2014-01-22"), "slope"] == pytest.approx(14.7 / 13.7 - 1)
    assert slope.loc[pd.Timestamp("2014-01-22"), "source"] == "vx"
    assert slope.loc[pd.Timestamp("2014-01-24"), "slope"] == pytest.approx(18 / 20 - 1)
    assert slope.loc[pd.Timestamp("2014-01-24"), "source"] == "vix3m/vix"
    assert slope.loc[pd.Timestamp("2014-01-24"), "backwardation"]
    assert slope.loc[pd.Timestamp("2014-01-17"), "source"] == "vx"
    # 2014-01-21: VX1 and VX2 are real (the hole is VX3).
    assert slope.loc[pd.Timestamp("2014-01-21"), "slope"] == pytest.approx(13.6 / 12.6 - 1)
    assert contango_share(slope["slope"]) == pytest.approx(3 / 5)  # 3 vx days up, 2 idx down
    no_idx = term_structure_slope(term)
    assert no_idx["source"].eq("vx").all()
    assert math.isnan(contango_share(pd.Series([np.nan])))
    assert contango_share(no_idx) == 1.0
