"""Behaviour tests for the ``[indicators]``, ``[regime]``, ``[sizing]`` and ``[book]`` keys.

Each check runs the code a key governs with the default configuration and with that one key
changed (through :func:`vixshield.config.parse_config`, so the new value passes the key's
bounds), and asserts that the output differs, in the expected direction where there is one.
``CASES`` feeds the meta-test (``test_every_key_covered.py``); ``test_key_changes_behaviour``
runs every case under pytest.

Keys that only act while their rule is on (``regime.realised_vol.steps`` and
``regime.realised_vol.vrp_below_volpts``; the rule is off by default) are checked against the
default with the rule switched on, then with the key changed as well.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from vixshield.config import StrategyConfig, parse_config
from vixshield.data.market import MarketHistory
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.signals.indicators import compute_indicators
from vixshield.signals.regime import classify
from vixshield.strategy.book import (
    Book,
    MarketState,
    book_greeks,
    delta_band,
    equity_betas_from_returns,
)
from vixshield.strategy.scenarios import TOTAL_COLUMN, scenario_table
from vixshield.strategy.sizing import contracts_for
from vixshield.units import NEW_YORK

FloatArray = npt.NDArray[np.float64]

DEFAULT = StrategyConfig()


def changed(key: str, value: Any, base: StrategyConfig = DEFAULT) -> StrategyConfig:
    """``base`` with the dotted ``key`` set to ``value``, validated as a config file would be."""
    data = base.model_dump()
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        node = node[part]
    assert leaf in node, f"{key} is not a key of the configuration"
    node[leaf] = value
    return parse_config(data, source=f"test: {key}")


# --------------------------------------------------------------------------- fixtures


@functools.lru_cache(maxsize=1)
def history() -> MarketHistory:
    """Four years of the synthetic market: VIX 11..45, every indicator input present."""
    return MarketHistory.from_synthetic(
        synthetic_market(date(2005, 1, 3), date(2008, 12, 31), seed=11)
    )


@functools.cache
def indicators(config: StrategyConfig = DEFAULT) -> pd.DataFrame:
    return compute_indicators(history(), config.indicators)


def _regime_levels(frame: pd.DataFrame, config: StrategyConfig) -> FloatArray:
    levels = classify(frame, config.regime)["regime_level"]
    return np.asarray(levels.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _sessions(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2020-01-02", periods=n)


@functools.lru_cache(maxsize=1)
def lift_frame() -> pd.DataFrame:
    """Hand-built regime inputs: VIX 17 (normal) throughout, slope and VRP varying."""
    slope = [0.05, 0.02, -0.01, -0.03, 0.08, 0.01, -0.02, 0.04]
    vrp = [3.0, -1.0, 2.0, -4.0, -0.5, 1.5, -2.0, 0.5]
    n = len(slope)
    return pd.DataFrame(
        {"vix": np.full(n, 17.0), "term_slope": slope, "vrp_volpts": vrp}, index=_sessions(n)
    )


# The book: one short SPX put 51 days out, one long VIX call 3 weeks out.
AS_OF = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
SPX_EXPIRY = date(2019, 8, 16)
VIX_EXPIRY = date(2019, 7, 17)
MARKET = MarketState(AS_OF, 2913.78, 15.8, 0.021, 0.019, {VIX_EXPIRY: 16.5})
SHORT_PUT = Book(
    (
        Structure(
            "short put", (Leg(OptionContract("SPX", SPX_EXPIRY, 2700.0, Right.PUT), -1, 12.0),)
        ),
    )
)
LONG_VIX_CALL = Book(
    (Structure("vix call", (Leg(OptionContract("VIX", VIX_EXPIRY, 20.0, Right.CALL), 1, 0.9),)),)
)


class FlatSurface:
    """18% SPX vol and 95% VIX vol at every strike: the vol response is the scenario's alone."""

    def spx_vol(self, expiry: date, strike: npt.ArrayLike) -> FloatArray:
        return np.full(np.shape(strike), 0.18)

    def vix_vol(self, expiry: date, strike: npt.ArrayLike) -> FloatArray:
        return np.full(np.shape(strike), 0.95)


SURFACE = FlatSurface()


@functools.cache
def scenarios(config: StrategyConfig = DEFAULT, book: str = "put") -> pd.DataFrame:
    positions = SHORT_PUT if book == "put" else LONG_VIX_CALL
    return scenario_table(positions, MARKET, SURFACE, params=config.book)


def _cell(table: pd.DataFrame, row: str, column: str) -> float:
    return float(table[column].astype("float64")[row])


# --------------------------------------------------------------------------- [indicators]


def _first_valid(frame: pd.DataFrame, column: str) -> int:
    return int(np.flatnonzero(frame[column].notna().to_numpy())[0])


def _count(frame: pd.DataFrame, column: str) -> int:
    return int(frame[column].to_numpy(dtype=np.bool_).sum())


def _is_subset(small: pd.Series[Any], big: pd.Series[Any]) -> bool:
    return bool((~small.to_numpy(dtype=np.bool_) | big.to_numpy(dtype=np.bool_)).all())


def check_rsi_days() -> None:
    base, new = indicators(), indicators(changed("indicators.rsi_days", 28))
    for col in ("rsi_spx", "rsi_vx1", "rsi_vvix"):
        assert _first_valid(new, col) == _first_valid(base, col) + 14
        # A longer Wilder window smooths more: the RSI strays less from 50.
        assert new[col].std() < base[col].std()


def check_macd_fast_days() -> None:
    base, new = indicators(), indicators(changed("indicators.macd_fast_days", 5))
    assert _first_valid(new, "vix_macd") == _first_valid(base, "vix_macd")
    # A faster fast EMA tracks VIX more closely: the MACD line swings wider.
    assert new["vix_macd"].abs().mean() > base["vix_macd"].abs().mean()
    assert not np.allclose(new["spx_macd"].dropna(), base["spx_macd"].dropna())


def check_macd_slow_days() -> None:
    base, new = indicators(), indicators(changed("indicators.macd_slow_days", 50))
    # The first MACD value comes on input slow + signal - 1.
    assert _first_valid(new, "vix_macd") == _first_valid(base, "vix_macd") + 24
    assert new["vix_macd"].abs().mean() > base["vix_macd"].abs().mean()


def check_macd_signal_days() -> None:
    base, new = indicators(), indicators(changed("indicators.macd_signal_days", 20))
    assert _first_valid(new, "vix_macd_signal") == _first_valid(base, "vix_macd_signal") + 11
    both = base.index[new["vix_macd_signal"].notna()]
    # The MACD line itself does not depend on the signal period; its signal line does.
    np.testing.assert_allclose(new.loc[both, "vix_macd"], base.loc[both, "vix_macd"])
    assert not np.allclose(new.loc[both, "vix_macd_signal"], base.loc[both, "vix_macd_signal"])


def check_compression_mean_days() -> None:
    base, new = indicators(), indicators(changed("indicators.compression_mean_days", 60))
    for col in ("vix_macd_compressed", "spx_macd_compressed"):
        assert not new[col].equals(base[col])


def check_compression_falling_days() -> None:
    base, new = indicators(), indicators(changed("indicators.compression_falling_days", 5))
    for col in ("vix_macd_compressed", "spx_macd_compressed"):
        # Requiring |hist| to fall on more sessions in a row only removes days.
        assert _is_subset(new[col], base[col])
        assert _count(new, col) < _count(base, col)


def check_turn_window_days() -> None:
    base, new = indicators(), indicators(changed("indicators.turn_window_days", 15))
    col = "vix_macd_turning_up"
    # A longer look-back for the compression only adds days.
    assert _is_subset(base[col], new[col])
    assert _count(new, col) > _count(base, col)


def check_ad_high_days() -> None:
    base, new = indicators(), indicators(changed("indicators.ad_high_days", 60))
    # A close that is the 60-session high is also the 20-session high, not the other way.
    assert _is_subset(new["spx_at_high20"], base["spx_at_high20"])
    assert _count(new, "spx_at_high20") < _count(base, "spx_at_high20")
    assert not new["ad_below_high_frac"].equals(base["ad_below_high_frac"])


def check_ad_below_high() -> None:
    base, new = indicators(), indicators(changed("indicators.ad_below_high", 0.05))
    assert _is_subset(new["ad_divergence"], base["ad_divergence"])
    assert _count(new, "ad_divergence") < _count(base, "ad_divergence")


def check_slope_change_days() -> None:
    base, new = indicators(), indicators(changed("indicators.slope_change_days", 20))
    assert _first_valid(new, "term_slope_fall_5d") == _first_valid(base, "term_slope_fall_5d") + 15
    # Over a longer horizon the slope moves further.
    assert new["term_slope_fall_5d"].abs().mean() > base["term_slope_fall_5d"].abs().mean()
    assert not new["term_toward_backwardation"].equals(base["term_toward_backwardation"])


def check_slope_fall_threshold() -> None:
    base, new = indicators(), indicators(changed("indicators.slope_fall_threshold", 0.1))
    col = "term_toward_backwardation"
    assert _is_subset(new[col], base[col])
    assert 0 < _count(new, col) < _count(base, col)


def check_iv_window_days() -> None:
    base, new = indicators(), indicators(changed("indicators.iv_window_days", 60))
    assert _first_valid(new, "ivr_252") == _first_valid(base, "ivr_252") - 192
    both = base["ivr_252"].notna()
    assert not np.allclose(new.loc[both, "ivr_252"], base.loc[both, "ivr_252"])
    assert not np.allclose(new.loc[both, "ivp_252"], base.loc[both, "ivp_252"])


def check_rv_days() -> None:
    base, new = indicators(), indicators(changed("indicators.rv_days", 60))
    assert _first_valid(new, "rv20_annual") == _first_valid(base, "rv20_annual") + 40
    # A longer window smooths realised vol (its day-to-day swings shrink) and moves the VRP.
    assert new["rv20_annual"].diff().abs().mean() < base["rv20_annual"].diff().abs().mean()
    both = new["vrp_volpts"].notna()
    assert not np.allclose(new.loc[both, "vrp_volpts"], base.loc[both, "vrp_volpts"])


def check_rv_demean() -> None:
    base, new = indicators(), indicators(changed("indicators.rv_demean", True))
    both = base["rv20_annual"].notna()
    diff = (new.loc[both, "rv20_annual"] - base.loc[both, "rv20_annual"]).abs()
    assert float(diff.max()) > 1e-4


def check_annualisation_days() -> None:
    base, new = indicators(), indicators(changed("indicators.annualisation_days", 365))
    ratio = (new["rv20_annual"] / base["rv20_annual"]).dropna()
    np.testing.assert_allclose(ratio, math.sqrt(365 / 252), rtol=1e-12)
    assert (new["vrp_volpts"] < base["vrp_volpts"]).sum() == ratio.size


def check_event_window_days() -> None:
    base, new = indicators(), indicators(changed("indicators.event_window_days", 1))
    col = "event_within_window"
    assert _is_subset(new[col], base[col])
    assert 0 < _count(new, col) < _count(base, col)


# --------------------------------------------------------------------------- [regime]


def _cut_check(name: str, level: int, new_cut: float) -> Callable[[], None]:
    def check() -> None:
        frame = indicators()
        base = _regime_levels(frame, DEFAULT)
        new = _regime_levels(frame, changed(f"regime.vix_cuts.{name}", new_cut))
        # A higher cut: fewer days at or above that regime, and only VIX between the cuts moves.
        assert (new >= level).sum() < (base >= level).sum()
        assert (new == level).sum() < (base == level).sum()
        moved = new != base
        old_cut = getattr(DEFAULT.regime.vix_cuts, name)
        vix = frame["vix"].to_numpy()
        assert ((vix[moved] >= old_cut) & (vix[moved] < new_cut)).all()

    check.__name__ = f"check_vix_cuts_{name}"
    return check


check_vix_cuts_normal = _cut_check("normal", 1, 17.0)
check_vix_cuts_elevated = _cut_check("elevated", 2, 25.0)
check_vix_cuts_stressed = _cut_check("stressed", 3, 35.0)
check_vix_cuts_crisis = _cut_check("crisis", 4, 43.0)


def check_backwardation_enabled() -> None:
    frame = lift_frame()
    base = _regime_levels(frame, DEFAULT)
    new = _regime_levels(frame, changed("regime.backwardation.enabled", False))
    backwardated = frame["term_slope"].to_numpy() < 0.0
    assert (base[backwardated] == 2).all()  # normal lifted to elevated
    assert (new == 1).all()  # the rule off: VIX alone


def check_backwardation_steps() -> None:
    frame = lift_frame()
    base = _regime_levels(frame, DEFAULT)
    new = _regime_levels(frame, changed("regime.backwardation.steps", 2))
    backwardated = frame["term_slope"].to_numpy() < 0.0
    np.testing.assert_array_equal(new[backwardated], base[backwardated] + 1)
    np.testing.assert_array_equal(new[~backwardated], base[~backwardated])


def check_backwardation_slope_below() -> None:
    frame = lift_frame()
    base = _regime_levels(frame, DEFAULT)
    new = _regime_levels(frame, changed("regime.backwardation.slope_below", 0.03))
    slope = frame["term_slope"].to_numpy()
    np.testing.assert_array_equal(new > base, (slope >= 0.0) & (slope < 0.03))
    assert (new >= base).all()
    assert (new > base).any()


def check_realised_vol_enabled() -> None:
    frame = lift_frame()
    base = _regime_levels(frame, DEFAULT)
    new = _regime_levels(frame, changed("regime.realised_vol.enabled", True))
    negative_vrp = frame["vrp_volpts"].to_numpy() < 0.0
    np.testing.assert_array_equal(new[negative_vrp], base[negative_vrp] + 1)
    np.testing.assert_array_equal(new[~negative_vrp], base[~negative_vrp])


RV_ON = changed("regime.realised_vol.enabled", True)


def check_realised_vol_steps() -> None:
    frame = lift_frame()
    base = _regime_levels(frame, RV_ON)
    new = _regime_levels(frame, changed("regime.realised_vol.steps", 2, RV_ON))
    negative_vrp = frame["vrp_volpts"].to_numpy() < 0.0
    np.testing.assert_array_equal(new[negative_vrp], base[negative_vrp] + 1)
    np.testing.assert_array_equal(new[~negative_vrp], base[~negative_vrp])


def check_realised_vol_vrp_below_volpts() -> None:
    frame = lift_frame()
    base = _regime_levels(frame, RV_ON)
    new = _regime_levels(frame, changed("regime.realised_vol.vrp_below_volpts", 2.0, RV_ON))
    vrp = frame["vrp_volpts"].to_numpy()
    np.testing.assert_array_equal(new > base, (vrp >= 0.0) & (vrp < 2.0))
    assert (new > base).any()


def check_persistence_step_down_after() -> None:
    vix = [16.0, 35.0, 16.0, 16.0, 16.0, 16.0]
    frame = pd.DataFrame({"vix": vix, "term_slope": 0.05}, index=_sessions(len(vix)))
    base = _regime_levels(frame, DEFAULT)
    new = _regime_levels(frame, changed("regime.persistence.step_down_after", 3))
    np.testing.assert_array_equal(base, [1, 3, 1, 1, 1, 1])
    # Stressed is held for two more sessions before stepping down.
    np.testing.assert_array_equal(new, [1, 3, 3, 3, 1, 1])


# --------------------------------------------------------------------------- [sizing]

EQUITY = 100_000.0
MAX_LOSS = 400.0  # USD per unit


def _contracts(regime: str, config: StrategyConfig = DEFAULT) -> int:
    return contracts_for(MAX_LOSS, EQUITY, regime, config.sizing).contracts


def _sizing_check(key: str, value: float, regimes: tuple[str, ...]) -> Callable[[], None]:
    untouched = tuple(
        r for r in ("calm", "normal", "elevated", "stressed", "crisis") if r not in regimes
    )

    def check() -> None:
        config = changed(f"sizing.{key}", value)
        direction = value > getattr(DEFAULT.sizing, key)
        for regime in regimes:
            base, new = _contracts(regime), _contracts(regime, config)
            assert (new > base) if direction else (new < base), (regime, base, new)
        for regime in untouched:
            assert _contracts(regime, config) == _contracts(regime)

    check.__name__ = f"check_{key}"
    return check


# 2% of 100k / 400 = 5 contracts by default; 3% gives 7.
check_budget_frac = _sizing_check("budget_frac", 0.03, ("calm", "normal"))
# 1% gives 2 contracts; 2% gives 5.
check_elevated_budget_frac = _sizing_check("elevated_budget_frac", 0.02, ("elevated",))
# 1% gives 2 contracts; 0.5% gives 1.
check_stressed_budget_frac = _sizing_check("stressed_budget_frac", 0.005, ("stressed",))
# 0% gives none; 0.5% gives 1.
check_crisis_budget_frac = _sizing_check("crisis_budget_frac", 0.005, ("crisis",))


def check_hard_cap_frac() -> None:
    config = changed("sizing.hard_cap_frac", 0.015)
    assert _contracts("normal") == 5
    capped = contracts_for(MAX_LOSS, EQUITY, "normal", config.sizing)
    assert capped.contracts == 3  # 1.5% of 100k / 400
    assert capped.budget_frac == 0.015
    assert any("hard cap" in r for r in capped.reasons)
    assert _contracts("elevated", config) == _contracts("elevated")  # 1% is under the cap


# --------------------------------------------------------------------------- [book]


def check_delta_band_frac() -> None:
    delta = book_greeks(SHORT_PUT, MARKET, SURFACE).delta_usd_per_pct
    assert delta > 0.0  # a short put is long SPX
    equity = delta / 0.0012  # the book's delta is 0.12% of equity per 1% SPX move
    assert not delta_band(delta, equity, DEFAULT.book).breached
    tight = delta_band(delta, equity, changed("book.delta_band_frac", 0.001).book)
    assert tight.breached
    assert "outside" in tight.reason


@functools.lru_cache(maxsize=1)
def beta_returns() -> tuple[pd.Series[float], pd.Series[float]]:
    """400 sessions of SPX returns; the stock's beta is 1.0, then 2.0 over the last 100."""
    rng = np.random.default_rng(5)
    index = _sessions(400)
    spx = pd.Series(rng.normal(0.0, 0.01, 400), index=index)
    beta = np.where(np.arange(400) >= 300, 2.0, 1.0)
    stock = pd.Series(beta * spx.to_numpy() + rng.normal(0.0, 0.002, 400), index=index)
    return stock, spx


def check_beta_window_days() -> None:
    stock, spx = beta_returns()
    window = changed("book.beta_window_days", 100).book
    base = equity_betas_from_returns({"X": stock}, spx, DEFAULT.book)["X"]
    new = equity_betas_from_returns({"X": stock}, spx, window)["X"]
    # The last 100 sessions see only the recent beta of 2; 252 mix in the older beta of 1.
    assert new == pytest.approx(2.0, abs=0.05)
    assert base < new - 0.3


def check_beta_min_obs() -> None:
    stock, spx = beta_returns()
    short = {"X": stock.iloc[-80:]}  # 80 paired returns: enough for 60, not for 100
    assert math.isfinite(equity_betas_from_returns(short, spx, DEFAULT.book)["X"])
    with pytest.raises(InvalidInputError):
        equity_betas_from_returns(short, spx, changed("book.beta_min_obs", 100).book)


def check_scenario_spx_moves_pct() -> None:
    config = changed("book.scenario_spx_moves_pct", (-30.0, -20.0, -10.0, -5.0, 5.0, 10.0))
    base, new = scenarios(), scenarios(config)
    assert set(new.index) - set(base.index) == {"SPX -30%"}
    # A deeper crash costs the short put more than the default grid's worst SPX move.
    assert _cell(new, "SPX -30%", TOTAL_COLUMN) < _cell(base, "SPX -20%", TOTAL_COLUMN)


def check_scenario_vix_moves_pts() -> None:
    config = changed("book.scenario_vix_moves_pts", (10.0, 20.0, 40.0))
    base, new = scenarios(), scenarios(config)
    assert set(new.index) - set(base.index) == {"VIX +40"}
    assert _cell(new, "VIX +40", TOTAL_COLUMN) < _cell(base, "VIX +20", TOTAL_COLUMN)


def check_scenario_days() -> None:
    config = changed("book.scenario_days", (1.0, 7.0, 30.0))
    base, new = scenarios(), scenarios(config)
    assert set(new.index) - set(base.index) == {"30d on"}
    # A short put earns its time decay: more days on, more P&L.
    assert _cell(new, "30d on", TOTAL_COLUMN) > _cell(base, "7d on", TOTAL_COLUMN) > 0.0


def check_scenario_combined() -> None:
    config = changed("book.scenario_combined", ((-10.0, 20.0), (-20.0, 30.0), (-30.0, 40.0)))
    base, new = scenarios(), scenarios(config)
    assert set(new.index) - set(base.index) == {"SPX -30% VIX +40"}
    worst = _cell(base, "SPX -20% VIX +30", TOTAL_COLUMN)
    assert _cell(new, "SPX -30% VIX +40", TOTAL_COLUMN) < worst


def check_vix_pts_per_spx_pct_down() -> None:
    base, new = scenarios(), scenarios(changed("book.vix_pts_per_spx_pct_down", 2.0))
    assert _cell(base, "SPX -10%", "vix_move_pts") == pytest.approx(10.0)
    assert _cell(new, "SPX -10%", "vix_move_pts") == pytest.approx(20.0)
    # More vol on the way down: the short put loses more.
    assert _cell(new, "SPX -10%", TOTAL_COLUMN) < _cell(base, "SPX -10%", TOTAL_COLUMN)
    assert _cell(new, "SPX +10%", TOTAL_COLUMN) == _cell(base, "SPX +10%", TOTAL_COLUMN)


def check_vix_pts_per_spx_pct_up() -> None:
    base, new = scenarios(), scenarios(changed("book.vix_pts_per_spx_pct_up", 0.1))
    assert _cell(base, "SPX +5%", "vix_move_pts") == pytest.approx(-2.5)
    assert _cell(new, "SPX +5%", "vix_move_pts") == pytest.approx(-0.5)
    # Less vol crush on a rally: the short put gains less.
    assert _cell(new, "SPX +5%", TOTAL_COLUMN) < _cell(base, "SPX +5%", TOTAL_COLUMN)
    assert _cell(new, "SPX -10%", TOTAL_COLUMN) == _cell(base, "SPX -10%", TOTAL_COLUMN)


def check_vix_floor() -> None:
    base, new = scenarios(), scenarios(changed("book.vix_floor", 12.0))
    # SPX +10% implies VIX 15.8 - 5 = 10.8: above the default floor of 9, below 12.
    assert _cell(base, "SPX +10%", "vix") == pytest.approx(10.8)
    assert _cell(new, "SPX +10%", "vix") == pytest.approx(12.0)
    assert _cell(new, "SPX +10%", TOTAL_COLUMN) < _cell(base, "SPX +10%", TOTAL_COLUMN)


def check_vx_decay_years() -> None:
    base = scenarios(book="vix")
    new = scenarios(changed("book.vx_decay_years", 2.0), book="vix")
    # A slower decay passes more of the VIX shock to the VX future: the long call gains more.
    assert _cell(new, "VIX +10", TOTAL_COLUMN) > _cell(base, "VIX +10", TOTAL_COLUMN) > 0.0


def check_iv_term_exponent() -> None:
    base, new = scenarios(), scenarios(changed("book.iv_term_exponent", 1.0))
    # The put has 51 days left, longer than 30: a steeper term response moves its vol less.
    assert _cell(base, "VIX +10", TOTAL_COLUMN) < _cell(new, "VIX +10", TOTAL_COLUMN) < 0.0


def check_iv_skew_beta() -> None:
    base, new = scenarios(), scenarios(changed("book.iv_skew_beta", 5.0))
    # The put is out of the money (ln K/F < 0): more skew response, more vol, a bigger loss.
    assert _cell(new, "VIX +10", TOTAL_COLUMN) < _cell(base, "VIX +10", TOTAL_COLUMN) < 0.0


# --------------------------------------------------------------------------- cases

CASES: dict[str, Callable[[], None]] = {
    "indicators.rsi_days": check_rsi_days,
    "indicators.macd_fast_days": check_macd_fast_days,
    "indicators.macd_slow_days": check_macd_slow_days,
    "indicators.macd_signal_days": check_macd_signal_days,
    "indicators.compression_mean_days": check_compression_mean_days,
    "indicators.compression_falling_days": check_compression_falling_days,
    "indicators.turn_window_days": check_turn_window_days,
    "indicators.ad_high_days": check_ad_high_days,
    "indicators.ad_below_high": check_ad_below_high,
    "indicators.slope_change_days": check_slope_change_days,
    "indicators.slope_fall_threshold": check_slope_fall_threshold,
    "indicators.iv_window_days": check_iv_window_days,
    "indicators.rv_days": check_rv_days,
    "indicators.rv_demean": check_rv_demean,
    "indicators.annualisation_days": check_annualisation_days,
    "indicators.event_window_days": check_event_window_days,
    "regime.vix_cuts.normal": check_vix_cuts_normal,
    "regime.vix_cuts.elevated": check_vix_cuts_elevated,
    "regime.vix_cuts.stressed": check_vix_cuts_stressed,
    "regime.vix_cuts.crisis": check_vix_cuts_crisis,
    "regime.backwardation.enabled": check_backwardation_enabled,
    "regime.backwardation.steps": check_backwardation_steps,
    "regime.backwardation.slope_below": check_backwardation_slope_below,
    "regime.realised_vol.enabled": check_realised_vol_enabled,
    "regime.realised_vol.steps": check_realised_vol_steps,
    "regime.realised_vol.vrp_below_volpts": check_realised_vol_vrp_below_volpts,
    "regime.persistence.step_down_after": check_persistence_step_down_after,
    "sizing.budget_frac": check_budget_frac,
    "sizing.elevated_budget_frac": check_elevated_budget_frac,
    "sizing.stressed_budget_frac": check_stressed_budget_frac,
    "sizing.crisis_budget_frac": check_crisis_budget_frac,
    "sizing.hard_cap_frac": check_hard_cap_frac,
    "book.delta_band_frac": check_delta_band_frac,
    "book.beta_window_days": check_beta_window_days,
    "book.beta_min_obs": check_beta_min_obs,
    "book.scenario_spx_moves_pct": check_scenario_spx_moves_pct,
    "book.scenario_vix_moves_pts": check_scenario_vix_moves_pts,
    "book.scenario_days": check_scenario_days,
    "book.scenario_combined": check_scenario_combined,
    "book.vix_pts_per_spx_pct_down": check_vix_pts_per_spx_pct_down,
    "book.vix_pts_per_spx_pct_up": check_vix_pts_per_spx_pct_up,
    "book.vix_floor": check_vix_floor,
    "book.vx_decay_years": check_vx_decay_years,
    "book.iv_term_exponent": check_iv_term_exponent,
    "book.iv_skew_beta": check_iv_skew_beta,
}


@pytest.mark.parametrize("key", sorted(CASES))
def test_key_changes_behaviour(key: str) -> None:
    CASES[key]()
