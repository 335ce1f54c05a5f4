"""The regime classifier on 30 years of real data (1990-2019), with the METHOD defaults.

Inputs are built here, not by the indicators module: VIX from the Cboe file, and the term
slope from :func:`vixshield.data.vx_curve.term_structure_slope` over the real history (real VX
futures 2004-03-26..2014-08-14, else VIX3M/VIX from 2009-09, else none before 2004).

What is asserted, with windows taken from the public record of each episode (not from the
classifier):

* **Stress episodes**: every session of the window is ``stressed`` or ``crisis``, and the
  session with the month's highest VIX close is ``crisis``.
* **Calm years**: at least 90% of all the year's sessions (unknown days count against)
  are ``calm`` or ``normal``.

The share of sessions per regime per year is printed as a table in the test output.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from vixshield.cli import app
from vixshield.data.market import MarketHistory
from vixshield.data.store import Store
from vixshield.data.vx_curve import term_structure_slope
from vixshield.signals.regime import (
    PersistenceRule,
    RegimeParams,
    classify,
    snapshot,
)

pytestmark = pytest.mark.real

STRESS_EPISODES = {
    # month: (first, last) session of the window; why these days
    "1998-08": ("1998-08-20", "1998-08-31"),  # Russia's default (08-17) and the LTCM run
    "2001-09": ("2001-09-17", "2001-09-28"),  # reopening after 9/11 to month end
    "2008-10": ("2008-10-01", "2008-10-31"),  # the month after Lehman, whole month
    "2011-08": ("2011-08-04", "2011-08-31"),  # the 08-04 sell-off and the US downgrade
    "2015-08": ("2015-08-21", "2015-08-31"),  # the 08-24 flash crash and the days around it
    "2018-02": ("2018-02-05", "2018-02-13"),  # "Volmageddon" (XIV) on 02-05 and after
}
CALM_YEARS = (1993, 1995, 2005, 2017)
CALM_SHARE = 0.90


@pytest.fixture(scope="module")
def history(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> MarketHistory:
    store_dir = tmp_path_factory.mktemp("store")
    res = CliRunner().invoke(
        app, ["data", "import", str(real_data), "--data-dir", str(store_dir), "--skip-bad-rows"]
    )
    assert res.exit_code == 0, res.output
    return MarketHistory.from_store(Store(store_dir))


@pytest.fixture(scope="module")
def inputs(history: MarketHistory) -> pd.DataFrame:
    daily = history.daily
    indices = pd.DataFrame(
        {"date": daily.index, "vix": daily["vix"].to_numpy(), "vix3m": daily["vix3m"].to_numpy()}
    )
    indices = indices.loc[indices["vix"].notna()]
    slope = term_structure_slope(history.curve, indices).set_index("date")
    return pd.DataFrame(
        {
            "vix": daily["vix"],
            "term_slope": slope["slope"].reindex(daily.index),
            "term_source": slope["source"].reindex(daily.index).fillna("none"),
        },
        index=daily.index,
    )


@pytest.fixture(scope="module")
def regimes(inputs: pd.DataFrame) -> pd.DataFrame:
    return classify(inputs)


def _shares(regimes: pd.DataFrame) -> pd.DataFrame:
    names = regimes["regime"].astype(object).fillna("unknown")
    table = pd.crosstab(regimes.index.year, names, normalize="index")
    order = ["calm", "normal", "elevated", "stressed", "crisis", "unknown"]
    return table.reindex(columns=order, fill_value=0.0).rename_axis("year")


def test_share_of_days_per_regime_per_year(
    regimes: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    table = _shares(regimes)
    with capsys.disabled():
        print("\nShare of sessions per regime per year (METHOD defaults):")
        print((table * 100).round(0).astype(int).to_string())
    assert list(table.index) == list(range(1990, 2020))
    assert (table.sum(axis=1) - 1.0).abs().max() < 1e-12


def test_slope_sources_follow_the_data(regimes: pd.DataFrame) -> None:
    src = regimes["term_source"]
    day = regimes.index
    assert set(src[day < pd.Timestamp("2004-03-26")]) == {"none"}
    futures = src[(day >= pd.Timestamp("2004-03-29")) & (day <= pd.Timestamp("2014-08-14"))]
    assert (futures == "vx").mean() > 0.99
    assert set(src[day > pd.Timestamp("2014-08-14")]) == {"vix3m/vix"}


@pytest.mark.parametrize("month", sorted(STRESS_EPISODES))
def test_stress_episodes_are_stressed_or_crisis(
    month: str, inputs: pd.DataFrame, regimes: pd.DataFrame
) -> None:
    first, last = STRESS_EPISODES[month]
    window = regimes.loc[first:last]
    assert len(window) >= 5
    bad = window.loc[~window["regime"].isin(["stressed", "crisis"])]
    assert bad.empty, bad[["regime", "drivers"]].to_string()
    peak = inputs.loc[month, "vix"].idxmax()
    assert regimes.loc[peak, "regime"] == "crisis", regimes.loc[peak, "drivers"]


@pytest.mark.parametrize("year", CALM_YEARS)
def test_calm_years_are_mostly_calm_or_normal(year: int, regimes: pd.DataFrame) -> None:
    days = regimes.loc[str(year)]
    share = days["regime"].isin(["calm", "normal"]).mean()
    assert share >= CALM_SHARE, f"{year}: {share:.1%} calm or normal"


def test_days_without_vix_are_unknown(inputs: pd.DataFrame, regimes: pd.DataFrame) -> None:
    no_vix = inputs["vix"].isna()
    assert no_vix.sum() > 0  # the Cboe file has gaps, 1991-2006
    assert regimes.loc[no_vix, "regime"].isna().all()
    assert regimes.loc[~no_vix, "regime"].notna().all()


def test_drivers_on_2011_08_01_and_2008_10_24(regimes: pd.DataFrame) -> None:
    day = snapshot(regimes, pd.Timestamp("2011-08-01"))
    assert day["base_regime"] == "elevated"
    assert day["regime"] == "stressed"
    assert day["drivers"][1].startswith("backwardation: VX2/VX1-1 = -0.0")
    crash = snapshot(regimes, pd.Timestamp("2008-10-24"))
    assert crash["regime"] == "crisis"
    assert crash["drivers"][0] == "VIX 79.13 ≥ 40 (crisis cut): base crisis"


def test_persistence_reduces_flapping(inputs: pd.DataFrame, regimes: pd.DataFrame) -> None:
    held = classify(inputs, RegimeParams(persistence=PersistenceRule(step_down_after=5)))
    known = regimes["regime_level"].notna()

    def changes(levels: pd.Series) -> int:
        lv = levels[known].astype(int)
        return int((lv.diff().fillna(0) != 0).sum())

    plain, sticky = changes(regimes["regime_level"]), changes(held["regime_level"])
    print(f"\nregime changes 1990-2019: {plain} without persistence, {sticky} with 5 sessions")
    assert sticky < plain
    assert (held.loc[known, "regime_level"] >= regimes.loc[known, "regime_level"]).all()
    assert held.loc[pd.Timestamp("2008-10-24"), "regime"] == "crisis"
