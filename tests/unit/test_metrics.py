"""Backtest metrics against values worked out by hand or from published examples.

Every expected number is written out here, computed outside the code under test (by hand,
with mpmath to 30 digits, or from Excel's XIRR documentation); the formulas in the comments
say how.
"""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vixshield.backtest.metrics import (
    ClosedTrade,
    Metrics,
    annual_volatility,
    cagr,
    compute_metrics,
    cvar,
    daily_returns,
    hedge_stats,
    max_drawdown,
    monthly_returns_table,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    wealth_index,
    win_rate,
    xirr,
    yearly_returns,
)
from vixshield.domain.decisions import Layer
from vixshield.errors import InvalidInputError


def _curve(points: dict[str, float]) -> pd.Series:
    return pd.Series(list(points.values()), index=pd.to_datetime(list(points)), dtype=np.float64)


def _returns(values: list[float], start: str = "2024-01-02") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), dtype=np.float64)


# --------------------------------------------------------------------------- growth, drawdown


def test_constant_growth_curve() -> None:
    # 523 weekday sessions 2020-01-01 .. 2021-12-31 (730 calendar days), 100 -> 121 at a
    # constant per-session rate. CAGR = 1.21 ** (365.25 / 730) - 1 (mpmath, 30 digits);
    # XIRR = 1.21 ** (365 / 730) - 1 = 0.1 exactly.
    idx = pd.bdate_range("2020-01-01", "2021-12-31")
    assert len(idx) == 523
    g = 1.21 ** (1 / 522)
    equity = pd.Series(100.0 * g ** np.arange(523), index=idx)
    m = compute_metrics(equity)
    assert m.cagr == pytest.approx(0.10007181138351058952, rel=1e-12)
    assert cagr(equity) == m.cagr
    assert m.vol_annual == pytest.approx(0.0, abs=1e-12)
    assert m.max_drawdown == 0.0
    assert (m.max_drawdown_sessions, m.max_drawdown_days, m.max_drawdown_recovered) == (0, 0, True)
    assert math.isnan(m.sharpe)  # returns do not vary: undefined, not 1e15 of float noise
    assert math.isnan(m.sortino)  # no downside
    assert math.isnan(m.calmar)  # no drawdown
    assert m.cvar95_daily == pytest.approx(g - 1.0, rel=1e-9)
    assert m.xirr == pytest.approx(0.1, rel=1e-12)


def test_one_drawdown_by_hand() -> None:
    equity = _curve(
        {
            "2024-01-02": 100.0,
            "2024-01-03": 110.0,  # peak
            "2024-01-04": 99.0,
            "2024-01-05": 88.0,  # trough: 88 / 110 - 1 = -0.2
            "2024-01-08": 100.0,
            "2024-01-09": 110.0,  # back at the peak: recovered
            "2024-01-10": 121.0,
        }
    )
    dd = max_drawdown(equity)
    assert dd.depth == pytest.approx(-0.2, rel=1e-15)
    assert dd.peak == pd.Timestamp("2024-01-03")
    assert dd.trough == pd.Timestamp("2024-01-05")
    assert dd.recovery == pd.Timestamp("2024-01-09")
    assert dd.sessions == 4  # 01-03 -> 01-09: sessions 1 .. 5
    assert dd.days == 6
    assert dd.recovered
    m = compute_metrics(equity)
    # CAGR = 1.21 ** (365.25 / 8) - 1; Calmar = CAGR / 0.2 (mpmath).
    assert m.cagr == pytest.approx(6020.0129807960657453, rel=1e-12)
    assert m.calmar == pytest.approx(30100.064903980328726, rel=1e-12)
    assert (m.max_drawdown, m.max_drawdown_sessions, m.max_drawdown_days) == (
        dd.depth,
        4,
        6,
    )


def test_drawdown_not_recovered_starts_at_the_last_session_of_a_flat_peak() -> None:
    equity = _curve(
        {
            "2024-02-01": 100.0,
            "2024-02-02": 110.0,
            "2024-02-05": 110.0,  # the fall starts after this session
            "2024-02-06": 99.0,  # 99 / 110 - 1 = -0.1
            "2024-02-07": 105.0,  # still below 110 at the end
        }
    )
    dd = max_drawdown(equity)
    assert dd.depth == pytest.approx(-0.1, rel=1e-14)
    assert dd.peak == pd.Timestamp("2024-02-05")
    assert dd.recovery is None
    assert not dd.recovered
    assert dd.sessions == 2  # to the last session
    assert dd.days == 2
    assert not compute_metrics(equity).max_drawdown_recovered


def test_deepest_of_two_drawdowns_is_reported() -> None:
    equity = _curve(
        {
            "2024-03-01": 100.0,
            "2024-03-04": 90.0,  # -10%
            "2024-03-05": 101.0,  # recovered, new peak
            "2024-03-06": 75.75,  # 75.75 / 101 - 1 = -0.25
            "2024-03-07": 90.0,
            "2024-03-08": 101.0,  # recovered
        }
    )
    dd = max_drawdown(equity)
    assert dd.depth == pytest.approx(-0.25, rel=1e-14)
    assert (dd.peak, dd.recovery) == (pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-08"))
    assert (dd.sessions, dd.days) == (3, 3)


# --------------------------------------------------------------------------- Sharpe, Sortino, vol


HAND_RETURNS = [0.01, -0.02, 0.015, 0.005, -0.01, 0.02]


def test_sharpe_sortino_vol_textbook_formula_rf_zero() -> None:
    r = _returns(HAND_RETURNS)
    e = np.array(HAND_RETURNS)
    # Textbook: sqrt(252) * mean / sample sd; Sortino's downside deviation over all N:
    # mean = 0.02 / 6; DD = sqrt((0.02**2 + 0.01**2) / 6) = sqrt(0.0005 / 6).
    sharpe = math.sqrt(252) * e.mean() / e.std(ddof=1)
    sortino = math.sqrt(252) * e.mean() / math.sqrt(0.0005 / 6)
    assert sharpe == pytest.approx(3.4396200248709097412, rel=1e-12)  # mpmath
    assert sortino == pytest.approx(5.7965506984757754295, rel=1e-12)  # mpmath
    assert sharpe_ratio(r) == pytest.approx(sharpe, rel=1e-12)
    assert sortino_ratio(r) == pytest.approx(sortino, rel=1e-12)
    assert annual_volatility(r) == pytest.approx(0.24421302176583459162, rel=1e-12)


def test_sharpe_sortino_with_constant_annual_rf() -> None:
    r = _returns(HAND_RETURNS)
    # rf 5% a year -> per session 1.05 ** (1/252) - 1 (mpmath).
    rf_d = 0.00019363050654407987426
    e = np.array(HAND_RETURNS) - rf_d
    sharpe = math.sqrt(252) * e.mean() / e.std(ddof=1)
    sortino = math.sqrt(252) * e.mean() / math.sqrt(np.mean(np.minimum(e, 0.0) ** 2))
    assert sharpe == pytest.approx(3.2398154145504352806, rel=1e-10)
    assert sortino == pytest.approx(5.3970914851411955011, rel=1e-10)
    assert sharpe_ratio(r, rf=0.05) == pytest.approx(sharpe, rel=1e-12)
    assert sortino_ratio(r, rf=0.05) == pytest.approx(sortino, rel=1e-12)


def test_rf_series_is_taken_as_of_the_day_before_each_return() -> None:
    r = pd.Series(
        [0.01, -0.02, 0.015, 0.005],
        index=pd.to_datetime(["2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]),
    )
    quotes = pd.Series([0.05, 0.10], index=pd.to_datetime(["2024-01-01", "2024-01-04"]))
    # 01-03 and 01-04 start before the 01-04 quote: 5%; 01-05 and 01-08: 10%.
    five, ten = 1.05 ** (1 / 252) - 1, 1.10 ** (1 / 252) - 1
    e = np.array([0.01 - five, -0.02 - five, 0.015 - ten, 0.005 - ten])
    assert sharpe_ratio(r, rf=quotes) == pytest.approx(
        math.sqrt(252) * e.mean() / e.std(ddof=1), rel=1e-12
    )
    late = pd.Series([0.05], index=pd.to_datetime(["2024-01-04"]))
    with pytest.raises(InvalidInputError, match="no quote on or before 2024-01-02"):
        sharpe_ratio(r, rf=late)
    with pytest.raises(InvalidInputError, match="NaN"):
        sharpe_ratio(r, rf=pd.Series([0.05, math.nan], index=quotes.index))


# --------------------------------------------------------------------------- CVaR


TWENTY = [
    0.012, -0.004, 0.003, -0.031, 0.007, 0.0, -0.012, 0.009, 0.015, -0.006,
    0.002, -0.018, 0.011, 0.004, -0.001, 0.006, -0.009, 0.013, 0.001, -0.002,
]  # fmt: skip


def test_cvar_twenty_returns_by_hand() -> None:
    # Sorted: -0.031, -0.018, -0.012, -0.009, ... The worst 5% of 20 is one return.
    assert cvar(TWENTY) == pytest.approx(-0.031, rel=1e-15)
    # The worst 10% of 20 is two: (-0.031 - 0.018) / 2 = -0.0245.
    assert cvar(TWENTY, level=0.90) == pytest.approx(-0.0245, rel=1e-14)
    # 30 returns at 95%: 1.5 returns; the second worst weighs one half:
    # (-0.031 + 0.5 * -0.018) / 1.5 = -0.04 / 1.5.
    thirty = [*TWENTY, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01]
    assert cvar(thirty) == pytest.approx(-0.04 / 1.5, rel=1e-14)
    assert math.isnan(cvar([]))
    with pytest.raises(InvalidInputError, match="level"):
        cvar(TWENTY, level=95)


def test_compute_metrics_cvar_is_over_the_daily_returns() -> None:
    equity = pd.Series(
        100.0 * np.cumprod([1.0, *(1.0 + np.array(TWENTY))]),
        index=pd.bdate_range("2024-01-01", periods=21),
    )
    assert compute_metrics(equity).cvar95_daily == pytest.approx(-0.031, rel=1e-12)


# --------------------------------------------------------------------------- XIRR


def test_xirr_excel_documentation_example() -> None:
    flows = [
        (date(2008, 1, 1), -10_000.0),
        (date(2008, 3, 1), 2_750.0),
        (date(2008, 10, 30), 4_250.0),
        (date(2009, 2, 15), 3_250.0),
        (date(2009, 4, 1), 2_750.0),
    ]
    # Excel prints 0.373362535 (its iteration stops within 0.000001%); the root to 30 digits
    # (mpmath.findroot of the same NPV) is 0.373362533518831510308455411915.
    assert xirr(flows) == pytest.approx(0.373362535, abs=1e-8)
    assert xirr(flows) == pytest.approx(0.37336253351883151031, rel=1e-12)
    # The same as a Series, in any order.
    series = pd.Series(dict(reversed(flows)))
    assert xirr(series) == pytest.approx(0.37336253351883151031, rel=1e-12)


def test_xirr_long_horizon_and_extreme_bracket_without_overflow() -> None:
    # -1 on 1900-01-01, +2 exactly 36,525 days later: (1 + x) ** (36525 / 365) = 2.
    flows = [(date(1900, 1, 1), -1.0), (date(2000, 1, 1), 2.0)]
    assert (date(2000, 1, 1) - date(1900, 1, 1)).days == 36_524
    expected = 2.0 ** (365 / 36_524) - 1.0
    assert xirr(flows, bracket=(-0.999999, 1e9)) == pytest.approx(expected, rel=1e-12)


def test_xirr_errors_say_what_to_do() -> None:
    with pytest.raises(InvalidInputError, match="one negative and one positive"):
        xirr([(date(2020, 1, 1), -1.0), (date(2021, 1, 1), -2.0)])
    # A 10% rate is outside a bracket of [20%, 50%]: no sign change.
    with pytest.raises(InvalidInputError, match="same sign at both ends"):
        xirr([(date(2020, 1, 1), -100.0), (date(2021, 1, 1), 110.0)], bracket=(0.2, 0.5))
    with pytest.raises(InvalidInputError, match="bracket"):
        xirr([(date(2020, 1, 1), -100.0), (date(2021, 1, 1), 110.0)], bracket=(-1.0, 1.0))


# --------------------------------------------------------------------------- trades


TRADES = [
    ClosedTrade("core", credit_usd=350.0, pnl_usd=300.0),
    ClosedTrade("core", credit_usd=400.0, pnl_usd=-500.0),
    ClosedTrade("ladder", credit_usd=250.0, pnl_usd=200.0),
    ClosedTrade("ladder", credit_usd=300.0, pnl_usd=0.0),  # break-even: not a win
    ClosedTrade(Layer.CORE, credit_usd=200.0, pnl_usd=150.0),
    ClosedTrade(Layer.HEDGE, credit_usd=-400.0, pnl_usd=-400.0),  # expired worthless
    ClosedTrade("hedge", credit_usd=-300.0, pnl_usd=900.0),  # paid 300, sold for 1,200
]


def test_trade_statistics_by_hand() -> None:
    income_pnl = [300.0, -500.0, 200.0, 0.0, 150.0]
    assert win_rate(income_pnl) == 0.6  # 3 of 5
    assert profit_factor(income_pnl) == 1.3  # (300 + 200 + 150) / 500
    h = hedge_stats(TRADES)
    assert h.spend_usd == 700.0  # 400 + 300
    assert h.payoff_usd == 1_200.0  # 0 + 1,200
    assert h.credit_to_hedge_ratio == pytest.approx(1_500.0 / 700.0, rel=1e-15)
    m = compute_metrics(_curve({"2024-01-02": 1e5, "2024-01-03": 1.01e5}), trades=TRADES)
    assert (m.win_rate, m.profit_factor) == (0.6, 1.3)
    assert m.avg_credit_usd == 300.0  # (350 + 400 + 250 + 300 + 200) / 5
    assert m.avg_loss_usd == -500.0
    assert (m.hedge_spend_usd, m.hedge_payoff_usd) == (700.0, 1_200.0)
    assert m.credit_to_hedge_ratio == pytest.approx(2.142857142857142857, rel=1e-15)
    frame = pd.DataFrame(
        {
            "layer": [str(t.layer) for t in TRADES],
            "credit_usd": [t.credit_usd for t in TRADES],
            "pnl_usd": [t.pnl_usd for t in TRADES],
        }
    )
    assert compute_metrics(_curve({"2024-01-02": 1e5, "2024-01-03": 1.01e5}), trades=frame) == m


def test_profit_factor_and_ratio_zero_denominators() -> None:
    assert profit_factor([100.0, 50.0]) == math.inf
    assert math.isnan(profit_factor([0.0, 0.0]))
    assert math.isnan(profit_factor([]))
    assert math.isnan(win_rate([]))
    assert hedge_stats([ClosedTrade("core", 100.0, 100.0)]).credit_to_hedge_ratio == math.inf
    assert math.isnan(hedge_stats([]).credit_to_hedge_ratio)
    with pytest.raises(InvalidInputError, match="column"):
        hedge_stats(pd.DataFrame({"layer": ["core"], "pnl_usd": [1.0]}))
    with pytest.raises(InvalidInputError, match="finite"):
        hedge_stats([ClosedTrade("core", math.nan, 1.0)])


# --------------------------------------------------------------------------- tables


def test_monthly_and_yearly_tables_compound_by_hand() -> None:
    equity = _curve(
        {
            "2021-01-28": 100.0,
            "2021-01-29": 102.0,  # Jan: +2%
            "2021-02-01": 100.98,  # -1%
            "2021-02-26": 106.029,  # +5%; Feb = 1.05 * 0.99 - 1 = 0.0395
            "2021-03-01": 95.4261,  # Mar: -10%
            "2022-01-03": 104.96871,  # Jan 2022: +10%
        }
    )
    table = monthly_returns_table(equity)
    assert list(table.index) == [2021, 2022]
    assert [int(c) for c in table.columns] == list(range(1, 13))
    assert (table.index.name, table.columns.name) == ("year", "month")
    assert table.loc[2021, 1] == pytest.approx(0.02, rel=1e-12)
    assert table.loc[2021, 2] == pytest.approx(0.0395, rel=1e-12)
    assert table.loc[2021, 3] == pytest.approx(-0.1, rel=1e-12)
    assert table.loc[2022, 1] == pytest.approx(0.1, rel=1e-12)
    assert int(table.notna().sum().sum()) == 4
    years = yearly_returns(equity)
    assert years.loc[2021] == pytest.approx(95.4261 / 100.0 - 1.0, rel=1e-12)  # -0.045739
    assert years.loc[2022] == pytest.approx(0.1, rel=1e-12)


def test_first_session_alone_earns_nothing_in_its_month() -> None:
    equity = _curve({"2021-01-29": 100.0, "2021-02-01": 101.0})
    table = monthly_returns_table(equity)
    assert np.isnan(table.to_numpy()[0, 0])
    assert table.loc[2021, 2] == pytest.approx(0.01, rel=1e-12)


# --------------------------------------------------------------------------- external flows


def test_deposits_are_not_returns_and_enter_the_xirr() -> None:
    equity = _curve({"2023-01-03": 100.0, "2023-07-03": 110.0, "2024-01-03": 160.0})
    flows = [(date(2024, 1, 3), -50.0)]  # the investor adds 50 at the last close
    r = daily_returns(equity, cash_flows=flows)
    assert r.tolist() == pytest.approx([0.1, 0.0], rel=1e-15)  # (160 - 50) / 110 - 1 = 0
    assert wealth_index(equity, cash_flows=flows).tolist() == pytest.approx([1.0, 1.1, 1.1])
    m = compute_metrics(equity, cash_flows=flows)
    # -100 then +110 net a year (365 days) later: XIRR = 10%; CAGR = 1.1 ** (365.25/365) - 1.
    assert m.xirr == pytest.approx(0.1, rel=1e-12)
    assert m.cagr == pytest.approx(0.10007181138351058952, rel=1e-12)
    with pytest.raises(InvalidInputError, match="not a session"):
        daily_returns(equity, cash_flows=[(date(2023, 5, 1), -10.0)])
    with pytest.raises(InvalidInputError, match="larger than the equity"):
        daily_returns(equity, cash_flows=[(date(2024, 1, 3), -500.0)])


# --------------------------------------------------------------------------- edges, JSON


def test_empty_curve_gives_nan_metrics() -> None:
    m = compute_metrics(pd.Series([], index=pd.DatetimeIndex([]), dtype=np.float64))
    for name in ("cagr", "vol_annual", "sharpe", "sortino", "max_drawdown", "cvar95_daily"):
        assert math.isnan(getattr(m, name)), name
    assert math.isnan(m.xirr)
    assert monthly_returns_table(pd.Series([], index=pd.DatetimeIndex([]), dtype=float)).empty


def test_xirr_outside_the_default_bracket_is_nan_in_the_summary() -> None:
    # -99% in 3 days is an annual rate of 0.01 ** (365 / 3) - 1 = -1 + 1e-243: below the
    # bracket; the summary says "undefined" rather than failing the whole report.
    m = compute_metrics(_curve({"2024-01-05": 100.0, "2024-01-08": 1.0}))
    assert math.isnan(m.xirr)
    assert m.max_drawdown == pytest.approx(-0.99, rel=1e-14)


def test_one_session() -> None:
    m = compute_metrics(_curve({"2024-01-02": 100.0}))
    assert math.isnan(m.cagr)
    assert math.isnan(m.vol_annual)
    assert math.isnan(m.sharpe)
    assert m.max_drawdown == 0.0
    assert math.isnan(m.xirr)


def test_all_zero_returns_sharpe_nan_without_warning() -> None:
    equity = pd.Series(100.0, index=pd.bdate_range("2024-01-01", periods=30))
    m = compute_metrics(equity)  # pytest turns any RuntimeWarning into a failure
    assert math.isnan(m.sharpe)
    assert math.isnan(m.sortino)
    assert m.vol_annual == 0.0
    assert (m.cagr, m.max_drawdown, m.cvar95_daily) == (0.0, 0.0, 0.0)
    assert m.xirr == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(m.calmar)


def test_no_trades_win_rate_nan() -> None:
    m = compute_metrics(_curve({"2024-01-02": 100.0, "2024-01-03": 101.0}))
    assert math.isnan(m.win_rate)
    assert math.isnan(m.profit_factor)
    assert math.isnan(m.avg_credit_usd)
    assert math.isnan(m.avg_loss_usd)
    assert (m.hedge_spend_usd, m.hedge_payoff_usd) == (0.0, 0.0)


def test_to_json_is_strict_json() -> None:
    m = compute_metrics(
        _curve({"2024-01-02": 100.0, "2024-01-03": 101.0}),
        trades=[ClosedTrade("core", 100.0, 60.0)],
    )
    assert isinstance(m, Metrics)
    data = json.loads(m.to_json())
    assert list(data) == list(m.to_dict())
    assert data["sharpe"] is None  # NaN
    assert data["profit_factor"] == "inf"
    assert data["win_rate"] == 1.0
    assert data["max_drawdown_recovered"] is True


@pytest.mark.parametrize(
    "equity",
    [
        _curve({"2024-01-02": 100.0, "2024-01-03": math.nan}),
        _curve({"2024-01-02": 100.0, "2024-01-03": 0.0}),
        _curve({"2024-01-03": 100.0, "2024-01-02": 101.0}),
    ],
    ids=["nan", "zero", "unsorted"],
)
def test_bad_equity_fails_fast(equity: pd.Series) -> None:
    with pytest.raises(InvalidInputError, match="equity"):
        compute_metrics(equity)


def test_date_objects_index_is_accepted() -> None:
    equity = pd.Series([100.0, 121.0], index=[date(2020, 1, 1), date(2021, 12, 31)])
    # 730 calendar days: CAGR = 1.21 ** (365.25/730) - 1.
    assert cagr(equity) == pytest.approx(0.10007181138351058952, rel=1e-12)


# --------------------------------------------------------------------------- properties


@given(
    st.lists(st.floats(-0.2, 0.2, allow_nan=False), min_size=0, max_size=60),
    st.floats(1.0, 1e9),
)
def test_properties_hold_without_warnings(returns: list[float], scale: float) -> None:
    equity = pd.Series(
        scale * np.cumprod([1.0, *(1.0 + np.array(returns))]),
        index=pd.bdate_range("2010-01-01", periods=len(returns) + 1),
    )
    m = compute_metrics(equity)
    assert -1.0 < m.max_drawdown <= 0.0
    assert m.max_drawdown_days >= 0
    assert 0 <= m.max_drawdown_sessions <= len(returns)
    if len(returns) >= 2:
        assert m.vol_annual >= 0.0
    if returns:
        assert m.cvar95_daily <= float(np.mean(returns)) + 1e-12
        assert math.isfinite(m.cagr)
        # The curve's scale changes nothing.
        assert compute_metrics(equity * 3.0).cagr == pytest.approx(m.cagr, rel=1e-9, abs=1e-12)
    table = monthly_returns_table(equity)
    monthly = table.to_numpy().ravel()
    compounded = float(np.prod(1.0 + monthly[~np.isnan(monthly)])) - 1.0
    assert compounded == pytest.approx(float(equity.iloc[-1] / equity.iloc[0]) - 1.0, abs=1e-9)
