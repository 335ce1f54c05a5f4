"""Parameter sweeps and walk-forward evaluation (``vixshield.backtest.sweep``).

Spec parsing, expansion and ranking run no backtest. The walk-forward logic is checked with a
stand-in runner (a deterministic curve per configuration and window, so the in-sample winner
loses out of sample) and then, in the ``slow`` tests, with the real runner on the embedded
default market (seed 7 from 2017-01-03, 25-point wings as in ``test_runner.py``) over windows
of a few weeks.
"""

from __future__ import annotations

import json
import math
import pickle
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vixshield.backtest import sweep as sw
from vixshield.backtest.metrics import compute_metrics
from vixshield.backtest.runner import run_backtest
from vixshield.backtest.sweep import (
    Backend,
    Choice,
    Fold,
    Objective,
    SweepResult,
    SweepSpec,
    SweepSpecError,
    Uniform,
    apply_overrides,
    run_sweep,
    stitch_equity,
    walk_forward,
    walk_forward_folds,
    write_outputs,
)
from vixshield.config import StrategyConfig, fingerprint
from vixshield.data.market import MarketHistory
from vixshield.data.synthetic import synthetic_market
from vixshield.errors import InvalidInputError, VixShieldError

EQUITY = 1_000_000.0
BASE = {"condor": {"wing_points": 25.0}}


def _spec(grid: dict[str, Any], **sweep: Any) -> SweepSpec:
    return SweepSpec.from_dict({"sweep": {"grid": grid, **sweep}, "base": BASE})


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    return MarketHistory.from_synthetic(
        synthetic_market(date(2017, 1, 3), date(2018, 6, 29), seed=7)
    )


# --------------------------------------------------------------------------- spec


def test_grid_expands_to_the_product_last_key_fastest() -> None:
    spec = _spec(
        {
            "condor.short_delta": [0.10, 0.12, 0.14],
            "management.profit_target_frac": [0.5, 0.6],
            "hedge.cost_ratio_max": [0.25],
        }
    )
    cands = spec.expand()
    assert len(cands) == spec.size() == 6
    assert [c.index for c in cands] == list(range(6))
    assert [tuple(c.overrides.values()) for c in cands[:3]] == [
        (0.10, 0.5, 0.25),
        (0.10, 0.6, 0.25),
        (0.12, 0.5, 0.25),
    ]
    c = cands[3]
    assert c.config is not None
    assert c.config.condor.short_delta == 0.12
    assert c.config.management.profit_target_frac == 0.6
    assert c.config.condor.wing_points == 25.0  # the [base] table
    assert spec.keys == (
        "condor.short_delta",
        "management.profit_target_frac",
        "hedge.cost_ratio_max",
    )


def test_toml_file_with_quoted_and_unquoted_dotted_keys(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text(
        """
[sweep]
mode = "grid"
objective = "-max_drawdown_days"
[sweep.grid]
"condor.short_delta" = [0.10, 0.14]
management.profit_target_frac = [0.5, 0.75]
[base.condor]
wing_points = 25.0
""",
        encoding="utf-8",
    )
    spec = SweepSpec.from_toml(path)
    assert spec.keys == ("condor.short_delta", "management.profit_target_frac")
    assert spec.objective == Objective("max_drawdown_days", maximise=False)
    assert spec.base.condor.wing_points == 25.0
    assert spec.size() == 4
    # --config's file is the base under [base]
    base = StrategyConfig.model_validate({"management": {"exit_dte": 14}})
    assert SweepSpec.from_toml(path, base=base).base.management.exit_dte == 14


def test_unknown_key_names_it_and_close_matches() -> None:
    with pytest.raises(
        SweepSpecError, match=r"unknown configuration key 'condor\.target_dtee'"
    ) as e:
        _spec({"condor.target_dtee": [45]})
    assert "condor.target_dte" in str(e.value)
    with pytest.raises(SweepSpecError, match="short_delta") as e:
        _spec({"short_delta": [0.1]})  # the leaf alone: every key ending in it is suggested
    assert "condor.short_delta" in str(e.value)
    assert "ladder.short_delta" in str(e.value)
    with pytest.raises(SweepSpecError, match=r"'condor\.liquidity' is a table"):
        _spec({"condor.liquidity": [1.0]})
    with pytest.raises(
        SweepSpecError, match=r"\[base\].*unknown configuration key 'condor\.wings'"
    ):
        SweepSpec.from_dict(
            {"sweep": {"grid": {"condor.short_delta": [0.1]}}, "base": {"condor.wings": 1}}
        )


def test_bad_values_are_refused_naming_key_and_value() -> None:
    with pytest.raises(SweepSpecError, match=r"condor\.target_dte = 'abc' is refused"):
        _spec({"condor.target_dte": [45, "abc"]})
    with pytest.raises(SweepSpecError, match=r"condor\.short_delta = 0\.7 is refused"):
        _spec({"condor.short_delta": [0.1, 0.7]})  # outside the field's bounds
    with pytest.raises(SweepSpecError, match="has an empty list"):
        _spec({"condor.short_delta": []})
    with pytest.raises(SweepSpecError, match="give a list of values"):
        _spec({"condor.short_delta": 0.1})
    with pytest.raises(SweepSpecError, match="needs a non-empty"):
        _spec({})


def test_values_are_taken_as_the_field_takes_them() -> None:
    spec = _spec({"condor.target_dte": [50.0], "condor.roots": [["SPX"], ["SPX", "SPXW"]]})
    assert spec.grid["condor.target_dte"] == (50,)
    assert spec.grid["condor.roots"] == (("SPX",), ("SPX", "SPXW"))
    config = spec.expand()[1].config
    assert config is not None
    assert config.condor.roots == ("SPX", "SPXW")


def test_spec_level_errors() -> None:
    grid = {"condor.short_delta": [0.1]}
    with pytest.raises(SweepSpecError, match="no \\[sweep\\] table"):
        SweepSpec.from_dict({"base": {}})
    with pytest.raises(SweepSpecError, match="unknown top-level"):
        SweepSpec.from_dict({"sweep": {"grid": grid}, "sweeps": {}})
    with pytest.raises(SweepSpecError, match=r"unknown \[sweep\] key\(s\) \['sample'\]"):
        _spec(grid, sample=3)
    with pytest.raises(SweepSpecError, match="mode must be"):
        _spec(grid, mode="bayes")
    with pytest.raises(SweepSpecError, match='set mode = "random"'):
        _spec(grid, random={"condor.short_delta_max": {"low": 0.15, "high": 0.2}})
    with pytest.raises(SweepSpecError, match="samples >= 1"):
        _spec(grid, mode="random")
    with pytest.raises(SweepSpecError, match="samples must be an integer"):
        _spec(grid, mode="random", samples=2.5)


def test_invalid_combination_is_named_or_recorded() -> None:
    # target_dte 30 is a valid value, but below the base's min_dte 45 unless min_dte moves too
    grid = {"condor.min_dte": [30, 45], "condor.target_dte": [30, 45]}
    with pytest.raises(SweepSpecError, match="1 of 4 sweep candidates") as e:
        _spec(grid)
    assert "candidate 2 {condor.min_dte=45, condor.target_dte=30}" in str(e.value)
    assert "min_dte <= target_dte <= max_dte" in str(e.value)
    spec = _spec(grid, on_invalid="record")
    cands = spec.expand()
    assert [c.config is None for c in cands] == [False, False, True, False]
    assert cands[2].error is not None
    assert cands[2].error.startswith("invalid configuration:")


def test_apply_overrides_round_trips_and_validates() -> None:
    base = StrategyConfig()
    assert apply_overrides(base, {}) == base
    assert fingerprint(apply_overrides(base, {})) == fingerprint(base)
    assert apply_overrides(base, {"hedge.short.budget_frac": 0.03}).hedge.short.budget_frac == 0.03
    with pytest.raises(SweepSpecError, match="unknown configuration key"):
        apply_overrides(base, {"hedge.shrt.budget_frac": 0.03})


# --------------------------------------------------------------------------- random search


RANDOM = {
    "condor.short_delta": {"low": 0.10, "high": 0.16},
    "management.exit_dte": {"low": 14, "high": 28},
    "sizing.budget_frac": {"low": 0.01, "high": 0.025, "log": True},
    "condor.wing_points": {"low": 20, "high": 60, "step": 5},
    "ladder.structure": {"choices": ["bwb", "condor"]},
}


def _random(seed: int, samples: int = 12) -> SweepSpec:
    return SweepSpec.from_dict(
        {
            "sweep": {
                "mode": "random",
                "samples": samples,
                "seed": seed,
                "grid": {"management.profit_target_frac": [0.5, 0.75]},
                "random": RANDOM,
            }
        }
    )


def test_random_sampling_is_reproducible_and_in_bounds() -> None:
    a, b, c = _random(1).overrides(), _random(1).overrides(), _random(2).overrides()
    assert a == b
    assert a != c
    assert len(a) == 12
    assert _random(1, samples=5).overrides() == a[:5]  # a longer run extends a shorter one
    for over in a:
        assert list(over) == ["management.profit_target_frac", *RANDOM]
        assert 0.10 <= over["condor.short_delta"] <= 0.16
        assert isinstance(over["management.exit_dte"], int)
        assert 14 <= over["management.exit_dte"] <= 28
        assert 0.01 <= over["sizing.budget_frac"] <= 0.025
        assert over["condor.wing_points"] in {20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0, 60.0}
        assert over["ladder.structure"] in {"bwb", "condor"}
        assert over["management.profit_target_frac"] in {0.5, 0.75}
    assert len({o["management.exit_dte"] for o in a}) > 3  # it does vary
    spec = _random(1)
    assert all(c.config is not None for c in spec.expand())
    assert spec.to_dict()["random"]["sizing.budget_frac"] == {
        "low": 0.01,
        "high": 0.025,
        "log": True,
    }


def test_distributions_draw_as_documented() -> None:
    rng = np.random.default_rng(0)
    ints = [Uniform(1, 3, integer=True).draw(rng) for _ in range(300)]
    assert set(ints) == {1, 2, 3}  # both ends inclusive
    logs = [Uniform(1, 1000, log=True).draw(rng) for _ in range(2000)]
    assert 0.4 < np.mean(np.log10(logs)) / 1.5 < 1.6  # log-uniform: mean log10 near 1.5
    assert Choice(("a",)).draw(rng) == "a"


@pytest.mark.parametrize(
    ("key", "dist", "message"),
    [
        ("condor.short_delta", {"low": 0.16, "high": 0.10}, "is above high"),
        ("sizing.budget_frac", {"low": 0.0, "high": 0.02, "log": True}, "needs low > 0"),
        ("management.exit_dte", {"low": 14.5, "high": 28}, "integer field"),
        ("ladder.structure", {"low": 0, "high": 1}, "not a number field"),
        ("condor.short_delta", {"low": 0.1, "high": 0.9}, r"condor\.short_delta = 0\.9"),
        ("condor.short_delta", {"low": 0.1}, "needs both low and high"),
        ("condor.short_delta", {"low": 0.1, "high": 0.2, "mean": 1}, "unknown field"),
        ("condor.short_delta", [0.1, 0.2], "give {low"),
        ("ladder.structure", {"choices": ["bwb", "strangle"]}, "'strangle' is refused"),
    ],
)
def test_bad_distributions_are_refused(key: str, dist: Any, message: str) -> None:
    with pytest.raises(SweepSpecError, match=message):
        SweepSpec.from_dict({"sweep": {"mode": "random", "samples": 2, "random": {key: dist}}})


# --------------------------------------------------------------------------- objective


def test_objective_parse() -> None:
    assert Objective.parse("sharpe") == Objective("sharpe", maximise=True)
    assert Objective.parse("-max_drawdown_days") == Objective("max_drawdown_days", maximise=False)
    assert Objective.parse("-vol_annual").label == "-vol_annual"
    with pytest.raises(SweepSpecError, match="did you mean sharpe"):
        Objective.parse("sharp")
    with pytest.raises(SweepSpecError, match="not a numeric Metrics field"):
        Objective.parse("max_drawdown_recovered")  # a bool: nothing to rank
    with pytest.raises(SweepSpecError, match="objective 'sharp'"):
        _spec({"condor.short_delta": [0.1]}, objective="sharp")


def test_objective_order_nan_last_ties_by_index() -> None:
    values = [1.0, math.nan, 3.0, 1.0, -math.inf, math.inf]
    assert Objective("sharpe").order(values) == [5, 2, 0, 3, 4, 1]
    assert Objective("sharpe", maximise=False).order(values) == [4, 0, 3, 2, 5, 1]


def _metrics(sharpe: float) -> Any:
    curve = pd.Series(
        [EQUITY, EQUITY * 1.01, EQUITY * 1.005],
        index=pd.DatetimeIndex(["2018-01-02", "2018-01-03", "2018-01-04"]),
    )
    m = compute_metrics(curve)
    return type(m)(**{**m.to_dict(), "sharpe": sharpe})


def _outcome(key: int, sharpe: float | None, error: str | None = None) -> Any:
    metrics = None if sharpe is None else _metrics(sharpe)
    return sw._Outcome(key, metrics, error, None, (), 0, 1)


def test_sweep_result_ranks_by_the_objective() -> None:
    spec = _spec({"condor.short_delta": [0.10, 0.12, 0.14, 0.16]})
    outcomes = {
        0: _outcome(0, 0.5),
        1: _outcome(1, None, "boom"),
        2: _outcome(2, 1.5),
        3: _outcome(3, 0.5),
    }
    res = SweepResult._build(
        spec,
        spec.expand(),
        outcomes,
        start=date(2018, 1, 2),
        end=date(2018, 1, 4),
        equity_usd=EQUITY,
    )
    assert res.frame["rank"].tolist() == [2, 4, 1, 3]
    assert res.best() == 2
    assert res.overrides(2) == {"condor.short_delta": 0.14}
    assert res.ranked()["config"].tolist() == [2, 0, 3, 1]
    assert res.frame.loc[1, "error"] == "boom"
    assert math.isnan(res.frame.loc[1, "sharpe"])
    assert res.frame["fingerprint"].nunique() == 4
    # minimising ranks the other way, the failed row still last
    spec_min = _spec({"condor.short_delta": [0.10, 0.12, 0.14, 0.16]}, objective="-sharpe")
    res_min = SweepResult._build(
        spec_min, spec_min.expand(), outcomes, start=date(2018, 1, 2), end=date(2018, 1, 4),
        equity_usd=EQUITY,
    )  # fmt: skip
    assert res_min.ranked()["config"].tolist() == [0, 3, 2, 1]
    # no defined objective anywhere: no best
    nan_outcomes = {i: _outcome(i, math.nan) for i in range(4)}
    res_nan = SweepResult._build(
        spec, spec.expand(), nan_outcomes, start=date(2018, 1, 2), end=date(2018, 1, 4),
        equity_usd=EQUITY,
    )  # fmt: skip
    assert res_nan.best() is None


# --------------------------------------------------------------------------- a stand-in runner


def _fake_runner(history: MarketHistory, **kw: Any) -> Any:
    """Daily return (short_delta - 0.12) / 100 in odd months, the opposite in even months.

    So the highest delta wins in January and March and loses in February: the in-sample
    winner is the out-of-sample loser. A short_delta of exactly 0.16 raises.
    """
    config: StrategyConfig = kw["config"]
    d = config.condor.short_delta
    if d == 0.16:
        raise RuntimeError("this configuration fails")
    days = [s for s in history.sessions if kw["start"] <= s <= kw["end"]]
    if not days:
        raise InvalidInputError("no session")
    r = np.array([(d - 0.12) / 100 * (1 if s.month % 2 else -1) for s in days])
    r = r + 0.0002 * np.sin(np.arange(len(days)))  # some noise so a Sharpe ratio exists
    curve = pd.Series(
        kw["equity_usd"] * np.cumprod(1 + r), index=pd.DatetimeIndex(days), name="equity_usd"
    )
    return SimpleNamespace(metrics=compute_metrics(curve), equity=curve, trades=())


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sw, "run_backtest", _fake_runner)


@pytest.mark.usefixtures("fake_runner")
def test_a_failing_configuration_is_recorded_not_fatal(history: MarketHistory) -> None:
    spec = _spec({"condor.short_delta": [0.10, 0.16, 0.14]}, objective="cagr")
    seen: list[tuple[int, int]] = []
    res = run_sweep(
        spec, history, start=date(2018, 1, 2), end=date(2018, 1, 31), backend=Backend.serial(),
        progress=lambda d, t: seen.append((d, t)),
    )  # fmt: skip
    assert seen == [(1, 3), (2, 3), (3, 3)]
    f = res.frame
    assert f["error"].isna().tolist() == [True, False, True]
    assert f.loc[1, "error"] == "RuntimeError: this configuration fails"
    assert f.loc[1, ["cagr", "sharpe", "max_drawdown"]].isna().all()
    assert f["rank"].tolist() == [2, 3, 1]  # January: the higher delta wins, the failure last
    assert res.best() == 2


@pytest.mark.usefixtures("fake_runner")
def test_recorded_invalid_candidates_are_rows_not_runs(history: MarketHistory) -> None:
    spec = _spec({"condor.min_dte": [30, 45], "condor.target_dte": [30]}, on_invalid="record")
    res = run_sweep(
        spec, history, start=date(2018, 1, 2), end=date(2018, 1, 31), backend=Backend.serial()
    )
    assert res.frame["error"].isna().tolist() == [True, False]
    assert res.frame.loc[1, "error"].startswith("invalid configuration:")
    assert pd.isna(res.frame.loc[1, "fingerprint"])
    assert res.frame["rank"].tolist() == [1, 2]


@pytest.mark.usefixtures("fake_runner")
def test_outputs_are_strict_json_and_csv(history: MarketHistory, tmp_path: Path) -> None:
    spec = _spec({"condor.short_delta": [0.10, 0.16]}, objective="cagr")
    res = run_sweep(
        spec, history, start=date(2018, 1, 2), end=date(2018, 1, 31), backend=Backend.serial()
    )
    doc = json.loads(res.to_json())
    assert doc["best"] == 0
    assert doc["spec"]["grid"] == {"condor.short_delta": [0.10, 0.16]}
    assert doc["spec"]["base_overrides"] == {"condor.wing_points": 25.0}
    assert doc["rows"][1]["cagr"] is None  # NaN is null
    assert doc["rows"][1]["error"].startswith("RuntimeError")
    paths = write_outputs(res, tmp_path / "out")
    assert [p.name for p in paths] == ["sweep.json", "sweep.csv"]
    back = pd.read_csv(paths[1])
    assert back["config"].tolist() == [0, 1]
    assert back["condor.short_delta"].tolist() == [0.10, 0.16]
    assert back.loc[0, "cagr"] == res.frame.loc[0, "cagr"]  # full precision


# --------------------------------------------------------------------------- walk-forward


def test_fold_boundaries_by_hand() -> None:
    folds = walk_forward_folds(date(2018, 1, 1), date(2018, 12, 31), is_months=6, oos_months=3)
    assert folds == (
        Fold(1, date(2018, 1, 1), date(2018, 6, 30), date(2018, 7, 1), date(2018, 9, 30)),
        Fold(2, date(2018, 4, 1), date(2018, 9, 30), date(2018, 10, 1), date(2018, 12, 31)),
    )
    anchored = walk_forward_folds(
        date(2018, 1, 1), date(2018, 12, 31), is_months=6, oos_months=3, anchored=True
    )
    assert [(f.is_start, f.is_end) for f in anchored] == [
        (date(2018, 1, 1), date(2018, 6, 30)),
        (date(2018, 1, 1), date(2018, 9, 30)),
    ]
    # an incomplete last fold is dropped: Oct-Nov is left over
    assert (
        len(walk_forward_folds(date(2018, 1, 1), date(2018, 11, 30), is_months=6, oos_months=3))
        == 1
    )
    # month ends clip; every window is counted from start, so the OOS windows stay contiguous
    clipped = walk_forward_folds(date(2018, 1, 31), date(2018, 4, 30), is_months=1, oos_months=1)
    assert clipped == (
        Fold(1, date(2018, 1, 31), date(2018, 2, 27), date(2018, 2, 28), date(2018, 3, 30)),
        Fold(2, date(2018, 2, 28), date(2018, 3, 30), date(2018, 3, 31), date(2018, 4, 29)),
    )
    with pytest.raises(InvalidInputError, match="shorter than one fold"):
        walk_forward_folds(date(2018, 1, 1), date(2018, 3, 31), is_months=3, oos_months=1)
    with pytest.raises(InvalidInputError, match="must be >= 1"):
        walk_forward_folds(date(2018, 1, 1), date(2018, 12, 31), is_months=0, oos_months=1)


def test_stitched_curve_chains_the_fold_returns() -> None:
    a = pd.Series(
        [101.0, 99.0, 110.0], index=pd.DatetimeIndex(["2018-01-02", "2018-01-03", "2018-01-04"])
    )
    b = pd.Series([95.0, 90.0], index=pd.DatetimeIndex(["2018-01-05", "2018-01-08"]))
    c = pd.Series([100.0, 120.0], index=pd.DatetimeIndex(["2018-01-09", "2018-01-10"]))
    s = stitch_equity([a, b, c], 100.0)
    assert s.iloc[-1] / 100.0 == pytest.approx(1.10 * 0.90 * 1.20, rel=1e-15)
    assert s.tolist() == pytest.approx([101.0, 99.0, 110.0, 104.5, 99.0, 99.0, 118.8])
    with pytest.raises(InvalidInputError, match="overlap"):
        stitch_equity([a, a], 100.0)


@pytest.mark.usefixtures("fake_runner")
def test_walk_forward_tunes_in_sample_and_judges_out_of_sample(history: MarketHistory) -> None:
    spec = _spec({"condor.short_delta": [0.10, 0.14, 0.16]}, objective="cagr")
    seen: list[tuple[int, int]] = []
    res = walk_forward(
        spec, history, start=date(2018, 1, 1), end=date(2018, 4, 15), is_months=1, oos_months=1,
        backend=Backend.serial(), progress=lambda d, t: seen.append((d, t)),
    )  # fmt: skip
    assert [(f.fold.oos_start, f.fold.oos_end) for f in res.folds] == [
        (date(2018, 2, 1), date(2018, 2, 28)),
        (date(2018, 3, 1), date(2018, 3, 31)),
    ]
    assert res.unused_tail == (date(2018, 4, 1), date(2018, 4, 15))
    assert seen[-1] == (2 * (3 + 2), 2 * (3 + 2))
    assert [d for d, _ in seen] == list(range(1, 11))
    jan, feb = res.folds
    # January (odd) rewards the higher delta: 0.14 wins (0.16 fails); it loses in February
    assert jan.best_config == 1
    assert jan.best_overrides == {"condor.short_delta": 0.14}
    assert jan.is_objective == jan.in_sample.frame.loc[1, "cagr"]
    assert jan.in_sample.frame["error"].notna().tolist() == [False, False, True]
    assert feb.best_config == 0  # February rewards the lower delta; March punishes it
    direct = _fake_runner(
        history, start=date(2018, 2, 1), end=date(2018, 2, 28), equity_usd=EQUITY,
        config=apply_overrides(spec.base, {"condor.short_delta": 0.14}),
    )  # fmt: skip
    assert jan.oos_metrics == direct.metrics
    assert jan.oos_objective == direct.metrics.cagr < 0
    assert jan.oos_return < jan.base_oos_return  # the base (delta 0.12) is flat
    # the stitched curve is the folds chained: its growth is the product of theirs
    growth = [float(f.oos_equity.iloc[-1]) / EQUITY for f in res.folds if f.oos_equity is not None]
    assert res.stitched_equity.iloc[-1] / EQUITY == pytest.approx(math.prod(growth), rel=1e-14)
    assert res.stitched_return < 0 < res.stitched_return + 1
    assert res.stitched_metrics == compute_metrics(res.stitched_equity, ())
    assert res.stitched_equity.index[0] == pd.Timestamp("2018-02-01")
    assert res.stitched_equity.index[-1] == pd.Timestamp("2018-03-29")  # the last session
    comp = res.comparison()
    assert comp["tuned_oos_return"] < comp["base_oos_return"]
    assert comp["folds_tuned_better"] == 0
    assert res.complete
    frame = res.frame
    assert frame["best_config"].tolist() == [1, 0]
    assert frame["condor.short_delta"].tolist() == [0.14, 0.10]
    assert "oos_sharpe" in frame.columns
    doc = json.loads(res.to_json())
    assert doc["folds"][0]["best_overrides"] == {"condor.short_delta": 0.14}
    assert doc["comparison"]["folds"] == 2
    assert len(res.in_sample_frame()) == 6


@pytest.mark.usefixtures("fake_runner")
def test_walk_forward_falls_back_to_the_base_without_an_is_objective(
    history: MarketHistory, tmp_path: Path
) -> None:
    spec = _spec({"condor.short_delta": [0.16]}, objective="cagr")  # every run fails
    res = walk_forward(
        spec, history, start=date(2018, 1, 1), end=date(2018, 2, 28), is_months=1, oos_months=1,
        backend=Backend.serial(),
    )  # fmt: skip
    (fold,) = res.folds
    assert fold.best_config is None
    assert fold.note is not None
    assert "base configuration was used" in fold.note
    assert fold.oos_metrics == fold.base_oos_metrics
    pd.testing.assert_series_equal(res.stitched_equity, res.base_stitched_equity)
    names = [p.name for p in write_outputs(res, tmp_path)]
    assert names == ["walk_forward.json", "folds.csv", "in_sample.csv", "oos_equity.csv"]
    eq = pd.read_csv(tmp_path / "oos_equity.csv", index_col="date", parse_dates=True)
    assert eq.columns.tolist() == ["tuned", "base"]


# --------------------------------------------------------------------------- processes


def test_tasks_do_not_carry_the_history(history: MarketHistory) -> None:
    spec = _spec({"condor.short_delta": [0.10, 0.14]})
    config = spec.expand()[0].config
    assert config is not None
    task = sw._Task(0, config, date(2018, 1, 2), date(2018, 1, 31), EQUITY, None, False)
    task_bytes = len(pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL))
    history_bytes = len(pickle.dumps(history, protocol=pickle.HIGHEST_PROTOCOL))
    assert task_bytes < 10_000 < 100 * task_bytes < history_bytes


@pytest.mark.slow
def test_pool_loads_the_history_once_per_worker(history: MarketHistory) -> None:
    spec = _spec({"condor.short_delta": [0.10, 0.11, 0.12, 0.13, 0.14, 0.15]})
    tasks = [
        sw._Task(c.index, c.config, date(2018, 1, 2), date(2018, 1, 4), EQUITY, None, False)
        for c in spec.expand()
        if c.config is not None
    ]
    with sw._executor(Backend.process(2), history) as run:
        outcomes = run(tasks, lambda: None)
    assert [o.key for o in outcomes] == list(range(6))
    assert all(o.error is None for o in outcomes)
    pids = {o.pid for o in outcomes}
    assert 1 <= len(pids) <= 2
    # 6 tasks on at most 2 processes, and each process loaded the history exactly once
    assert {o.loads for o in outcomes} == {1}


@pytest.mark.slow
def test_process_backend_equals_serial(history: MarketHistory) -> None:
    spec = _spec({"condor.short_delta": [0.10, 0.14], "management.profit_target_frac": [0.5]})
    kw: dict[str, Any] = {"start": date(2018, 1, 2), "end": date(2018, 1, 31)}
    serial = run_sweep(spec, history, backend=Backend.serial(), **kw)
    pooled = run_sweep(spec, history, backend=Backend.process(2), **kw)
    pd.testing.assert_frame_equal(serial.frame, pooled.frame)
    assert serial.frame["error"].isna().all()
    assert serial.to_json() == pooled.to_json()
    # and each row is the runner's own result for that configuration
    config = spec.expand()[1].config
    assert config is not None
    direct = run_backtest(history, config=config, equity_usd=EQUITY, **kw)
    assert serial.frame.loc[1, "sharpe"] == direct.metrics.sharpe
    assert serial.frame.loc[1, "cagr"] == direct.metrics.cagr


@pytest.mark.slow
def test_walk_forward_on_the_runner(history: MarketHistory) -> None:
    """Two one-month folds with the real runner; the OOS run is the runner's own run."""
    spec = _spec({"condor.short_delta": [0.10, 0.14]}, objective="sharpe")
    res = walk_forward(
        spec, history, start=date(2018, 1, 1), end=date(2018, 3, 31), is_months=1, oos_months=1,
        backend=Backend.serial(),
    )  # fmt: skip
    assert len(res.folds) == 2
    assert res.complete
    for fr in res.folds:
        ranked = fr.in_sample.ranked()
        assert fr.best_config == ranked.loc[0, "config"]
        assert fr.is_objective == ranked.loc[0, "sharpe"]
        config = apply_overrides(spec.base, fr.best_overrides)
        direct = run_backtest(
            history, start=fr.fold.oos_start, end=fr.fold.oos_end, config=config, equity_usd=EQUITY
        )
        assert fr.oos_metrics == direct.metrics
        assert fr.oos_equity is not None
        pd.testing.assert_series_equal(fr.oos_equity, direct.equity)
        if fr.fold.number == 1:
            base = run_backtest(
                history,
                start=fr.fold.oos_start,
                end=fr.fold.oos_end,
                config=spec.base,
                equity_usd=EQUITY,
            )
            assert fr.base_oos_metrics == base.metrics
    growth = math.prod(1.0 + fr.oos_return for fr in res.folds)
    assert res.stitched_equity.iloc[-1] / EQUITY == pytest.approx(growth, rel=1e-13)
    assert len(res.stitched_equity) == sum(
        len(fr.oos_equity) for fr in res.folds if fr.oos_equity is not None
    )


@pytest.mark.usefixtures("fake_runner")
def test_a_best_equal_to_the_base_reuses_the_base_run(history: MarketHistory) -> None:
    spec = _spec({"condor.short_delta": [0.12, 0.11]}, objective="cagr")  # 0.12 is the base's
    seen: list[tuple[int, int]] = []
    res = walk_forward(
        spec, history, start=date(2018, 2, 1), end=date(2018, 3, 31), is_months=1, oos_months=1,
        backend=Backend.serial(), progress=lambda d, t: seen.append((d, t)),
    )  # fmt: skip
    (fold,) = res.folds
    assert fold.best_config == 1  # February (even) rewards the lower delta
    assert seen[-1] == (4, 4)
    spec_base = _spec({"condor.short_delta": [0.12, 0.13]}, objective="cagr")
    res = walk_forward(
        spec_base, history, start=date(2018, 2, 1), end=date(2018, 3, 31), is_months=1,
        oos_months=1, backend=Backend.serial(),
    )  # fmt: skip
    (fold,) = res.folds
    assert fold.best_config == 0
    assert fold.best_overrides == {"condor.short_delta": 0.12}
    assert fold.oos_metrics is fold.base_oos_metrics  # one run, not two


@pytest.mark.usefixtures("fake_runner")
def test_sweep_command_impl(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text(
        '[sweep]\nobjective = "cagr"\n[sweep.grid]\n"condor.short_delta" = [0.10, 0.14]\n',
        encoding="utf-8",
    )
    res, paths = sw.sweep_command_impl(
        path, start=date(2018, 1, 2), end=date(2018, 1, 31), data="synthetic", workers=1,
        out_dir=tmp_path / "sweep", fill_k=0.0,
    )  # fmt: skip
    assert isinstance(res, SweepResult)
    assert res.best() == 1
    assert [p.name for p in paths] == ["sweep.json", "sweep.csv"]
    assert all(p.is_file() for p in paths)
    wf, paths = sw.sweep_command_impl(
        path, start=date(2018, 1, 1), end=date(2018, 3, 31), data="synthetic", workers=1,
        walk_forward_eval=True, is_months=1, oos_months=1,
    )  # fmt: skip
    assert isinstance(wf, sw.WalkForwardResult)
    assert len(wf.folds) == 2
    assert paths == []
    with pytest.raises(VixShieldError, match=r"store .* is empty"):
        sw.sweep_command_impl(
            path, start=date(2018, 1, 2), end=date(2018, 1, 31), data="real",
            store_dir=tmp_path / "nothing",
        )  # fmt: skip
    with pytest.raises(InvalidInputError, match="fill fraction"):
        sw.sweep_command_impl(
            path, start=date(2018, 1, 2), end=date(2018, 1, 31), data="synthetic", fill_k=2.0
        )
