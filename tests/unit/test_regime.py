"""The regime classifier on constructed inputs: cut points, lifts, persistence, validation.

Expected regimes are read off the rule table by hand (METHOD section 4 and the module
docstring), and a plain scalar reference twin written here checks the vectorised core.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from vixshield.errors import InvalidInputError
from vixshield.signals.regime import (
    REGIME_DTYPE,
    BackwardationRule,
    PersistenceRule,
    RealisedVolRule,
    Regime,
    RegimeParams,
    VixCuts,
    classify,
    explain,
    snapshot,
)

NAN = float("nan")
CONTANGO = 0.05


def _inputs(
    vix: list[float],
    slope: list[float] | None = None,
    **extra: list[float] | list[str],
) -> pd.DataFrame:
    n = len(vix)
    return pd.DataFrame(
        {"vix": vix, "term_slope": slope if slope is not None else [CONTANGO] * n, **extra},
        index=pd.bdate_range("2020-01-01", periods=n, name="date"),
    )


def _one(vix: float, slope: float = CONTANGO, params: RegimeParams | None = None) -> pd.Series:
    return classify(_inputs([vix], [slope], term_source=["vx"]), params).iloc[0]


# ------------------------------------------------------------------------------ enum


def test_regimes_are_ordered_and_named() -> None:
    assert [r.label for r in Regime] == ["calm", "normal", "elevated", "stressed", "crisis"]
    assert [int(r) for r in Regime] == [0, 1, 2, 3, 4]
    assert Regime.CALM < Regime.NORMAL < Regime.ELEVATED < Regime.STRESSED < Regime.CRISIS
    assert str(Regime.STRESSED) == "stressed"
    assert f"{Regime.CRISIS}" == "crisis"
    assert Regime.parse(" Elevated ") is Regime.ELEVATED
    assert list(REGIME_DTYPE.categories) == [r.label for r in Regime]
    assert REGIME_DTYPE.ordered


def test_parse_rejects_unknown_names() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown regime 'panic'.*calm, normal"):
        Regime.parse("panic")


# ------------------------------------------------------------------------------ cut points


@pytest.mark.parametrize(
    ("vix", "expected"),
    [
        (9.0, Regime.CALM),
        (np.nextafter(15.0, 0.0), Regime.CALM),
        (15.0, Regime.NORMAL),  # a cut point belongs to the regime above it (VIX >= cut)
        (19.99, Regime.NORMAL),
        (20.0, Regime.ELEVATED),
        (np.nextafter(30.0, 0.0), Regime.ELEVATED),
        (30.0, Regime.STRESSED),
        (39.99, Regime.STRESSED),
        (40.0, Regime.CRISIS),
        (89.53, Regime.CRISIS),
    ],
)
def test_every_cut_point_boundary(vix: float, expected: Regime) -> None:
    row = _one(vix)
    assert row["regime"] == expected.label
    assert row["regime_level"] == int(expected)
    assert row["base_level"] == int(expected)
    assert row["lift_steps"] == 0


def test_custom_cut_points_move_the_boundaries() -> None:
    params = RegimeParams(vix_cuts=VixCuts(normal=12, elevated=18, stressed=25, crisis=35))
    got = classify(_inputs([11.99, 12, 18, 25, 34.99, 35]), params)
    assert list(got["regime"]) == ["calm", "normal", "elevated", "stressed", "stressed", "crisis"]


def test_base_drivers_name_the_cuts() -> None:
    assert explain(_one(12.4))[0] == "VIX 12.40 < 15 (normal cut): base calm"
    assert explain(_one(32.1))[0] == (
        "VIX 32.10 ≥ 30 (stressed cut) and < 40 (crisis cut): base stressed"
    )
    assert explain(_one(45.0))[0] == "VIX 45.00 ≥ 40 (crisis cut): base crisis"


# ------------------------------------------------------------------------------ backwardation


@pytest.mark.parametrize(
    ("vix", "expected"),
    [
        (12.0, Regime.NORMAL),
        (17.0, Regime.ELEVATED),
        (25.0, Regime.STRESSED),
        (32.1, Regime.CRISIS),
        (55.0, Regime.CRISIS),  # nothing above crisis
    ],
)
def test_backwardation_lifts_one_step(vix: float, expected: Regime) -> None:
    row = _one(vix, -0.042)
    assert row["regime_level"] == int(expected)
    assert row["backwardation"]
    assert row["lift_steps"] == int(expected) - row["base_level"]


def test_backwardation_drivers() -> None:
    row = _one(32.1, -0.042)
    assert explain(row) == [
        "VIX 32.10 ≥ 30 (stressed cut) and < 40 (crisis cut): base stressed",
        "backwardation: VX2/VX1-1 = -0.042 < 0 lifts 1 step (stressed -> crisis)",
    ]
    top = _one(45.0, -0.2)
    assert top["lift_steps"] == 0
    assert explain(top)[1] == (
        "backwardation: VX2/VX1-1 = -0.200 < 0, no lift: already crisis (the top regime)"
    )
    flat = _one(25.0, 0.0)  # strictly below the threshold: a flat curve does not lift
    assert flat["regime"] == "elevated"
    assert not flat["backwardation"]
    assert explain(flat)[1] == "no backwardation: VX2/VX1-1 = +0.000 ≥ 0, no lift"


def test_source_labels_the_slope() -> None:
    frame = _inputs([25.0, 25.0], [-0.01, -0.01], term_source=["vx", "vix3m/vix"])
    drivers = classify(frame)["drivers"]
    assert drivers.iloc[0][1].startswith("backwardation: VX2/VX1-1 = -0.010")
    assert drivers.iloc[1][1].startswith("backwardation: VIX3M/VIX-1 = -0.010")


def test_indicator_source_labels_are_understood() -> None:
    frame = _inputs(
        [25.0, 25.0, 25.0],
        [-0.01, 0.02, -0.03],
        term_slope_source=["futures", "indices", "model"],
    )
    got = classify(frame)
    assert list(got["term_source"]) == ["futures", "indices", "model"]
    assert [explain(row)[1] for _, row in got.iterrows()] == [
        "backwardation: VX2/VX1-1 = -0.010 < 0 lifts 1 step (elevated -> stressed)",
        "no backwardation: VIX3M/VIX-1 = +0.020 ≥ 0, no lift",
        "backwardation: modelled VX2/VX1-1 = -0.030 < 0 lifts 1 step (elevated -> stressed)",
    ]


def test_missing_slope_applies_no_lift_and_says_so() -> None:
    row = _one(25.0, NAN)
    assert row["regime"] == "elevated"
    assert pd.isna(row["backwardation"])
    assert row["term_source"] == "none"
    assert row["missing"] == ("term_slope",)
    assert explain(row)[1] == (
        "term slope unavailable (no real VX futures, no VIX3M): backwardation rule not applied"
    )


def test_vix3m_fills_the_slope_only_where_term_slope_is_missing() -> None:
    frame = _inputs([25.0, 25.0, 25.0], [NAN, 0.03, NAN], vix3m=[24.0, 24.0, NAN])
    got = classify(frame)
    assert got["term_slope"].iloc[0] == pytest.approx(24.0 / 25.0 - 1.0)
    assert list(got["term_source"]) == ["vix3m/vix", "input", "none"]
    assert explain(got.iloc[1])[1] == "no backwardation: term slope = +0.030 ≥ 0, no lift"
    assert list(got["regime"]) == ["stressed", "elevated", "elevated"]
    assert explain(got.iloc[0])[1] == (
        "backwardation: VIX3M/VIX-1 = -0.040 < 0 lifts 1 step (elevated -> stressed)"
    )
    only_vix3m = pd.DataFrame({"vix": [25.0], "vix3m": [26.0]}, index=[dt.date(2020, 1, 2)])
    assert classify(only_vix3m)["regime"].iloc[0] == "elevated"


def test_lift_steps_and_threshold_are_configurable() -> None:
    two = RegimeParams(backwardation=BackwardationRule(steps=2))
    got = classify(_inputs([17.0, 25.0, 35.0], [-0.01] * 3), two)
    assert list(got["regime"]) == ["stressed", "crisis", "crisis"]
    assert list(got["lift_steps"]) == [2, 2, 1]
    assert explain(got.iloc[2])[1].endswith("lifts 1 step (stressed -> crisis)")
    assert explain(got.iloc[0])[1].endswith("lifts 2 steps (normal -> stressed)")
    near = RegimeParams(backwardation=BackwardationRule(slope_below=0.02))
    assert _one(25.0, 0.01, near)["regime"] == "stressed"
    assert _one(25.0, 0.02, near)["regime"] == "elevated"
    off = RegimeParams(backwardation=BackwardationRule(enabled=False))
    row = _one(25.0, -0.3, off)
    assert row["regime"] == "elevated"
    assert len(explain(row)) == 1
    # With the rule off no slope column is needed.
    assert classify(pd.DataFrame({"vix": [25.0]}), off)["regime"].iloc[0] == "elevated"


# ------------------------------------------------------------------------------ realised vol


def test_realised_vol_rule_is_off_by_default() -> None:
    row = _one(25.0)
    assert row["missing"] == ()
    assert len(explain(row)) == 2


def test_realised_vol_rule_lifts_when_realised_exceeds_implied() -> None:
    params = RegimeParams(realised_vol=RealisedVolRule(enabled=True))
    frame = _inputs([25.0, 25.0, 25.0, 25.0], [CONTANGO, CONTANGO, -0.02, CONTANGO])
    frame["rv20_annual"] = [0.30, 0.20, 0.30, NAN]
    got = classify(frame, params)
    assert list(got["regime"]) == ["stressed", "elevated", "crisis", "elevated"]
    assert explain(got.iloc[0])[2] == (
        "realised vol above implied: VIX - RV20 = -5.0 vol pts < 0 lifts 1 step "
        "(elevated -> stressed)"
    )
    assert (
        explain(got.iloc[1])[2]
        == "implied vol above realised: VIX - RV20 = +5.0 vol pts ≥ 0, no lift"
    )
    assert explain(got.iloc[2])[2].endswith("(stressed -> crisis)")
    assert got["missing"].iloc[3] == ("rv20",)
    # A given premium is used as is.
    vrp = pd.DataFrame({"vix": [25.0], "term_slope": [CONTANGO], "vrp_volpts": [-1.0]})
    assert classify(vrp, params)["regime"].iloc[0] == "stressed"
    with pytest.raises(InvalidInputError, match="rv20_annual"):
        classify(_inputs([25.0]), params)


# ------------------------------------------------------------------------------ missing VIX


def test_missing_vix_is_unknown_never_guessed() -> None:
    got = classify(_inputs([45.0, NAN, 12.0], [-0.1, -0.1, CONTANGO]))
    day = got.iloc[1]
    assert pd.isna(day["regime"])
    assert pd.isna(day["regime_level"])
    assert pd.isna(day["base_level"])
    assert day["missing"] == ("vix",)
    assert explain(day) == ["VIX missing: regime unknown (never guessed)"]
    assert list(got["regime"].iloc[[0, 2]]) == ["crisis", "calm"]


# ------------------------------------------------------------------------------ persistence


def test_persistence_steps_down_only_after_n_sessions() -> None:
    params = RegimeParams(persistence=PersistenceRule(step_down_after=3))
    vix = [12.0, 35.0, 12.0, 12.0, 12.0, 22.0, 12.0, 12.0, 12.0]
    got = classify(_inputs(vix), params)
    assert list(got["regime"]) == [
        "calm",
        "stressed",  # up at once
        "stressed",
        "stressed",
        "calm",  # the stressed day left the 3-session window
        "elevated",
        "elevated",
        "elevated",
        "calm",
    ]
    assert list(got["rule_level"]) == [0, 3, 0, 0, 0, 2, 0, 0, 0]
    held = explain(got.iloc[3])
    assert held[-1] == (
        "held at stressed: stressed on 2020-01-02, within the last 3 sessions "
        "(persistence: step down only after 3 sessions below)"
    )
    assert not any(d.startswith("held") for d in explain(got.iloc[4]))


def test_persistence_skips_unknown_days_but_never_fills_them() -> None:
    params = RegimeParams(persistence=PersistenceRule(step_down_after=3))
    got = classify(_inputs([35.0, NAN, 12.0, 12.0]), params)
    assert list(got["regime"].astype(object).fillna("?")) == ["stressed", "?", "stressed", "calm"]


def test_persistence_is_off_by_default() -> None:
    got = classify(_inputs([35.0, 12.0, 25.0, 12.0]))
    assert list(got["regime_level"]) == list(got["rule_level"])


# ------------------------------------------------------------------------------ params


def test_defaults_are_the_method_table() -> None:
    p = RegimeParams()
    assert p.vix_cuts.as_tuple() == (15.0, 20.0, 30.0, 40.0)
    assert (p.backwardation.enabled, p.backwardation.steps) == (True, 1)
    assert p.backwardation.slope_below == 0.0
    assert not p.realised_vol.enabled
    assert p.persistence.step_down_after == 1
    names = [row.name for row in p.table()]
    assert names == ["vix_cuts"] * 5 + ["backwardation", "realised_vol", "cap", "persistence"]
    assert p.table()[3].condition == "VIX ≥ 30 and < 40"
    assert p.table()[3].effect == "base stressed"


@pytest.mark.parametrize(
    ("cuts", "field"),
    [
        ({"elevated": 15.0}, "vix_cuts.elevated (15) must be greater than vix_cuts.normal (15)"),
        ({"normal": 25.0}, "vix_cuts.elevated (20) must be greater than vix_cuts.normal (25)"),
        ({"stressed": 50.0}, "vix_cuts.crisis (40) must be greater than vix_cuts.stressed (50)"),
    ],
)
def test_cut_points_must_increase(cuts: dict[str, float], field: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(field)):
        RegimeParams.model_validate({"vix_cuts": cuts})


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"vix_cuts": {"normal": -1.0}}, "vix_cuts.normal"),
        ({"vix_cuts": {"crisis": float("inf")}}, "vix_cuts.crisis"),
        ({"backwardation": {"steps": 0}}, "backwardation.steps"),
        ({"backwardation": {"slope_below": 0.9}}, "backwardation.slope_below"),
        ({"realised_vol": {"steps": 5}}, "realised_vol.steps"),
        ({"persistence": {"step_down_after": 0}}, "persistence.step_down_after"),
        ({"vix_cut": {"normal": 15.0}}, "vix_cut"),
        ({"backwardation": {"lift": 1}}, "backwardation.lift"),
    ],
)
def test_bad_params_name_the_field(data: dict[str, dict[str, float]], field: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(field)):
        RegimeParams.model_validate(data)


def test_params_are_frozen() -> None:
    p = RegimeParams()
    with pytest.raises(ValidationError, match="frozen"):
        p.vix_cuts.normal = 10.0  # type: ignore[misc]


# ------------------------------------------------------------------------------ inputs


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"term_slope": [0.1]}), "'vix' column"),
        (pd.DataFrame({"vix": [0.0], "term_slope": [0.1]}), r"inputs\.vix must be > 0"),
        (pd.DataFrame({"vix": [-3.0], "term_slope": [0.1]}), r"inputs\.vix must be > 0"),
        (pd.DataFrame({"vix": [math.inf], "term_slope": [0.1]}), r"inputs\.vix must be > 0"),
        (pd.DataFrame({"vix": [20.0], "term_slope": [math.inf]}), r"term_slope must be finite"),
        (pd.DataFrame({"vix": ["x"], "term_slope": [0.1]}), r"inputs\.vix must be numeric"),
        (pd.DataFrame({"vix": [20.0]}), "'term_slope' column"),
        (pd.DataFrame({"vix": [20.0, 21.0], "term_slope": 0.1}, index=[2, 1]), "increasing"),
        (pd.DataFrame({"vix": [20.0, 21.0], "term_slope": 0.1}, index=[1, 1]), "increasing"),
    ],
)
def test_bad_inputs_are_refused(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        classify(frame)


def test_empty_frame_gives_empty_result() -> None:
    got = classify(pd.DataFrame({"vix": [], "term_slope": []}, dtype="float64"))
    assert got.empty
    assert got["regime"].dtype == REGIME_DTYPE


# ------------------------------------------------------------------------------ output


def test_output_columns_and_dtypes() -> None:
    frame = _inputs([12.0, 25.0, NAN], [CONTANGO, -0.01, CONTANGO])
    got = classify(frame)
    assert list(got.columns) == [
        "regime",
        "regime_level",
        "base_level",
        "lift_steps",
        "rule_level",
        "term_slope",
        "term_source",
        "backwardation",
        "missing",
        "drivers",
    ]
    assert got.index.equals(frame.index)
    assert got["regime"].dtype == REGIME_DTYPE
    assert str(got["regime_level"].dtype) == "Int8"
    # The ordered categories compare by level.
    assert list(got["regime"] >= "stressed") == [False, True, False]


def test_snapshot_is_json_ready() -> None:
    frame = _inputs([32.1, NAN], [-0.042, NAN], term_source=["vx", "none"])
    got = classify(frame)
    day = snapshot(got, pd.Timestamp("2020-01-01"), inputs=frame)
    assert json.loads(json.dumps(day)) == day
    assert day == {
        "session": "2020-01-01",
        "regime": "crisis",
        "regime_level": 4,
        "base_regime": "stressed",
        "base_level": 3,
        "lift_steps": 1,
        "rule_level": 4,
        "term_slope": -0.042,
        "term_source": "vx",
        "backwardation": True,
        "missing": [],
        "drivers": [
            "VIX 32.10 ≥ 30 (stressed cut) and < 40 (crisis cut): base stressed",
            "backwardation: VX2/VX1-1 = -0.042 < 0 lifts 1 step (stressed -> crisis)",
        ],
        "inputs": {"vix": 32.1, "term_slope": -0.042},
    }
    unknown = snapshot(got, pd.Timestamp("2020-01-02"))
    assert unknown["regime"] is None
    assert unknown["regime_level"] is None
    assert unknown["backwardation"] is None
    assert unknown["missing"] == ["vix", "term_slope"]
    assert "inputs" not in unknown
    with pytest.raises(InvalidInputError, match=r"not .* in the classified frame"):
        snapshot(got, pd.Timestamp("2021-01-01"))


def test_date_index_works_too() -> None:
    frame = pd.DataFrame(
        {"vix": [14.0, 41.0], "term_slope": [0.1, 0.1]},
        index=[dt.date(2019, 1, 2), dt.date(2019, 1, 3)],
    )
    got = classify(frame)
    assert snapshot(got, dt.date(2019, 1, 3))["regime"] == "crisis"
    assert snapshot(got, dt.date(2019, 1, 3))["session"] == "2019-01-03"


# ------------------------------------------------------------------------------ reference twin


def _reference_level(vix: float, slope: float, params: RegimeParams) -> int | None:
    """Scalar twin of the rule table, written from METHOD section 4 without the module."""
    if math.isnan(vix):
        return None
    c = params.vix_cuts
    if vix >= c.crisis:
        level = 4
    elif vix >= c.stressed:
        level = 3
    elif vix >= c.elevated:
        level = 2
    elif vix >= c.normal:
        level = 1
    else:
        level = 0
    b = params.backwardation
    if b.enabled and not math.isnan(slope) and slope < b.slope_below:
        level += b.steps
    return min(level, 4)


vix_values = st.one_of(
    st.floats(min_value=5.0, max_value=90.0),
    st.sampled_from([15.0, 20.0, 30.0, 40.0, NAN]),
)
slope_values = st.one_of(
    st.floats(min_value=-0.4, max_value=0.4),
    st.sampled_from([0.0, NAN]),
)


@given(
    days=st.lists(st.tuples(vix_values, slope_values), min_size=1, max_size=40),
    steps=st.integers(min_value=1, max_value=4),
)
def test_vectorised_core_matches_the_scalar_twin(
    days: list[tuple[float, float]], steps: int
) -> None:
    params = RegimeParams(backwardation=BackwardationRule(steps=steps))
    got = classify(_inputs([d[0] for d in days], [d[1] for d in days]), params)
    for (vix, slope), level in zip(days, got["regime_level"], strict=True):
        expected = _reference_level(vix, slope, params)
        assert (None if pd.isna(level) else int(level)) == expected


@given(
    vix=st.floats(min_value=5.0, max_value=90.0),
    bump=st.floats(min_value=0.0, max_value=30.0),
    slope=slope_values,
)
def test_higher_vix_never_lowers_the_regime(vix: float, bump: float, slope: float) -> None:
    got = classify(_inputs([vix, vix + bump], [slope, slope]))["regime_level"]
    assert got.iloc[1] >= got.iloc[0]


@given(
    vix=st.lists(st.floats(min_value=5.0, max_value=90.0), min_size=1, max_size=30),
    n=st.integers(min_value=1, max_value=6),
)
def test_persistence_is_the_trailing_max_of_rule_levels(vix: list[float], n: int) -> None:
    params = RegimeParams(persistence=PersistenceRule(step_down_after=n))
    got = classify(_inputs(vix), params)
    rule = [int(x) for x in got["rule_level"]]
    for i, level in enumerate(got["regime_level"]):
        assert int(level) == max(rule[max(0, i - n + 1) : i + 1])
