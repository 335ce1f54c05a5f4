"""The Cboe benchmark rules on the real data against the published month-end levels.

The four SPX rules (PUT, BXM, CNDR, BFLY) run over WINDOW on
:func:`~vixshield.backtest.cboe.load_real_history` and are compared month by month with
``indices/cboe_strategy_monthly_1986_2015.csv``. The window holds calm months and the 2008
crash; the full 1990-2015 comparison (``scripts/cboe_benchmarks.py``, recorded in
``docs/cboe_benchmarks.md``) takes about half an hour on two cores and is not run here.

The thresholds are **measured figures with a margin**, not wishes: MEASURED records what this
window gave when the test was written (the same figures as the window's slice of the full
run), and each bound leaves room for small changes of the model chain or the runner while
still failing on a broken rule (a wrong strike rule, a wrong sizing or a missed roll moves
these figures far more: a put sold one strike too far out of the money every month changes
PUT's annual return by several points).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vixshield.backtest import cboe
from vixshield.backtest.runner import BacktestResult
from vixshield.clock import FixedClock
from vixshield.data.market import MarketHistory, stamp

pytestmark = pytest.mark.real

WINDOW = (date(2006, 1, 3), date(2010, 12, 31))
RULES = ("PUT", "BXM", "CNDR", "BFLY")

# Measured on WINDOW (59 common months, 2006-02..2010-12) when the test was written:
# (correlation, tracking error a year, model annual return, published annual return); the
# same figures as the window's slice of the full 1990-2015 run to four decimals.
MEASURED: dict[str, tuple[float, float, float, float]] = {
    "PUT": (0.9679, 0.0370, 0.0128, 0.0532),
    "BXM": (0.9816, 0.0264, 0.0352, 0.0244),
    "CNDR": (0.9188, 0.0316, 0.0161, 0.0369),
    "BFLY": (0.8919, 0.0530, 0.0006, 0.0255),
}

# (correlation floor, tracking-error ceiling, |annual return difference| ceiling): the
# measured figure with a margin of about 0.02-0.03 in correlation, 0.8-1.2 points of tracking
# error and 1-1.5 points of annual return. PUT's -4.0 points come mostly from three months
# (2007-08, 2008-09, 2008-11: -12.5 points of monthly return together), whose expiry mornings
# gapped past the open print that proxies the SOQ, or rallied after Cboe's noon sale (see
# docs/cboe_benchmarks.md); over 1990-2015 PUT is -0.5 points a year.
BOUNDS: dict[str, tuple[float, float, float]] = {
    "PUT": (0.95, 0.045, 0.050),
    "BXM": (0.97, 0.035, 0.025),
    "CNDR": (0.89, 0.040, 0.030),
    "BFLY": (0.86, 0.065, 0.035),
}


def _published(real_data: Path) -> Path:
    return real_data / "indices" / "cboe_strategy_monthly_1986_2015.csv"


def test_published_levels_load(real_data: Path) -> None:
    f = cboe.load_published_indices(_published(real_data))
    assert list(f.columns) == list(cboe.PUBLISHED_COLUMNS)
    assert len(f) == 355
    assert f.index[0] == pd.Timestamp("1986-06-30")
    assert f.index[-1] == pd.Timestamp("2015-12-31")
    assert f.loc["2015-12-31", "CNDR"] == 755.12
    assert f.loc["1986-06-30", "PUT"] == pytest.approx(89.9139451469504)
    assert f["VIX"].isna().sum() == 43  # VIX starts 1990
    assert "VXTH" not in f.columns


@pytest.fixture(scope="module")
def history(real_data: Path) -> MarketHistory:
    return cboe.load_real_history(real_data)


def test_every_session_has_a_vix_close_and_a_rate(history: MarketHistory) -> None:
    days = history.daily
    assert bool(np.isfinite(days["vix"].to_numpy()).all())
    assert bool(np.isfinite(days["rate"].to_numpy()).all())
    # the 13-week T-bill where the file has it; the previous month's GS3M elsewhere
    d = date(2008, 10, 24)
    real = history.snapshot(d, clock=FixedClock(stamp(d))).rate
    assert real is not None
    assert not real.modelled
    d = date(1995, 3, 15)
    filled = history.snapshot(d, clock=FixedClock(stamp(d))).rate
    assert filled is not None
    assert filled.modelled
    assert filled.value == pytest.approx(0.0594)  # GS3M of 1995-02-28: 5.94%
    gap = date(1999, 12, 31)  # no VIX close in the file: the previous one, flagged
    snap = history.snapshot(gap, clock=FixedClock(stamp(gap)))
    assert snap.indices["vix"].modelled


@pytest.fixture(scope="module")
def runs(history: MarketHistory) -> dict[str, BacktestResult]:
    start, end = WINDOW
    return {n: cboe.run_benchmark(n, history, start=start, end=end) for n in RULES}


@pytest.fixture(scope="module")
def comparison(runs: dict[str, BacktestResult], real_data: Path) -> cboe.BenchmarkComparison:
    return cboe.compare_with_published(runs, _published(real_data))


@pytest.mark.slow
def test_every_roll_opens_and_settles(runs: dict[str, BacktestResult]) -> None:
    start, end = WINDOW
    rolls = [d for d in pd.bdate_range(start, end).date if cboe.is_spx_roll(d)]
    assert len(rolls) == 60
    for name, r in runs.items():
        assert not r.refusals, name
        assert all(not d.decision.refusals for d in r.days), name
        opens = [e.session for e in r.ledger if e.kind == "open"]
        assert opens == rolls, name
        settles = [e.session for e in r.ledger if e.kind == "settle"]
        assert settles == rolls[1:], name


@pytest.mark.slow
@pytest.mark.parametrize("name", RULES)
def test_monthly_returns_track_the_published_index(
    comparison: cboe.BenchmarkComparison, name: str
) -> None:
    s = comparison.stats.loc[name]
    floor, te_cap, ret_cap = BOUNDS[name]
    assert s["months"] == 59
    assert s["correlation"] >= floor, (name, s.to_dict())
    assert s["tracking_error_ann"] <= te_cap, (name, s.to_dict())
    assert abs(s["ann_return_diff"]) <= ret_cap, (name, s.to_dict())
    # the published side is data: the same months give the same figure to rounding
    assert s["ann_return_published"] == pytest.approx(MEASURED[name][3], abs=5e-5)
