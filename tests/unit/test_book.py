"""Book Greeks against hand formulas, CAPM beta against OLS, the delta band, vol surfaces."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from pydantic import ValidationError

from vixshield.domain.market import Bar, CurvePoint, Datum, MarketSnapshot
from vixshield.domain.positions import EquityHolding, Leg, OptionContract, Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.pricing.scalar import black76_greeks_scalar, bsm_greeks_scalar
from vixshield.strategy.book import (
    Book,
    BookParams,
    ChainVolSurface,
    MarketState,
    VixSkewSurface,
    book_greeks,
    capm_beta,
    delta_band,
)
from vixshield.units import NEW_YORK

AS_OF = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
SPX_EXPIRY = date(2019, 8, 16)  # third Friday, AM-settled monthly
VIX_EXPIRY = date(2019, 7, 17)  # VIX expiry (Wednesday 30 days before 2019-08-16)
S, R, Q = 2913.78, 0.021, 0.019
VX = 16.5
SPX_VOL, VIX_VOL = 0.18, 0.95


@dataclass(frozen=True)
class FlatSurface:
    """One vol for every SPX strike and one for every VIX strike."""

    spx: float = SPX_VOL
    vix: float = VIX_VOL

    def spx_vol(self, expiry: date, strike: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.full(np.shape(strike), self.spx)

    def vix_vol(self, expiry: date, strike: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.full(np.shape(strike), self.vix)


def market(**kw: object) -> MarketState:
    args: dict[str, object] = {
        "as_of": AS_OF,
        "spx_spot": S,
        "vix": 15.8,
        "rate": R,
        "div_yield": Q,
        "vx_futures": {VIX_EXPIRY: VX},
    }
    args.update(kw)
    return MarketState(**args)  # type: ignore[arg-type]


def tiny_book() -> Book:
    short_put = Leg(OptionContract("SPX", SPX_EXPIRY, 2700, Right.PUT), -1, 12.0)
    vix_call = Leg(OptionContract("VIX", VIX_EXPIRY, 20, Right.CALL), 1, 0.9)
    put = Structure("short put", (short_put,))
    call = Structure("vix call", (vix_call,))
    return Book((put, call), (EquityHolding("SPY", 100, 291.0),), {"SPY": 1.0})


def _cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _n(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _years(settle: datetime) -> float:
    return (settle - AS_OF).total_seconds() / 60.0 / 525_600.0


def test_tiny_book_greeks_by_hand() -> None:
    # Short 1 SPX 2700P (BSM on spot), long 1 VIX 20C (Black-76 on the July VX), 100 SPY, beta 1.
    t_p = _years(datetime(2019, 8, 16, 9, 30, tzinfo=NEW_YORK))
    t_c = _years(datetime(2019, 7, 17, 9, 30, tzinfo=NEW_YORK))
    K, sig = 2700.0, SPX_VOL
    d1 = (math.log(S / K) + (R - Q + 0.5 * sig**2) * t_p) / (sig * math.sqrt(t_p))
    d2 = d1 - sig * math.sqrt(t_p)
    eq, er = math.exp(-Q * t_p), math.exp(-R * t_p)
    put = K * er * _cdf(-d2) - S * eq * _cdf(-d1)
    put_delta = -eq * _cdf(-d1)
    put_gamma = eq * _n(d1) / (S * sig * math.sqrt(t_p))
    put_vega = S * eq * _n(d1) * math.sqrt(t_p) / 100.0
    put_theta = (
        -S * eq * _n(d1) * sig / (2 * math.sqrt(t_p))
        + R * K * er * _cdf(-d2)
        - Q * S * eq * _cdf(-d1)
    ) / 365.0

    Kc, v = 20.0, VIX_VOL
    e1 = (math.log(VX / Kc) + 0.5 * v**2 * t_c) / (v * math.sqrt(t_c))
    e2 = e1 - v * math.sqrt(t_c)
    dfc = math.exp(-R * t_c)
    call = dfc * (VX * _cdf(e1) - Kc * _cdf(e2))
    call_delta = dfc * _cdf(e1)
    call_gamma = dfc * _n(e1) / (VX * v * math.sqrt(t_c))
    call_vega = VX * dfc * _n(e1) * math.sqrt(t_c) / 100.0
    call_theta = (-VX * dfc * _n(e1) * v / (2 * math.sqrt(t_c)) + R * call) / 365.0

    g = book_greeks(tiny_book(), market(), FlatSurface())

    spy_value = 100 * 291.0
    delta_pts = -100 * put_delta + spy_value * 1.0 / S
    assert g.delta_spx_points == pytest.approx(delta_pts, rel=1e-10)
    assert g.delta_usd_per_pct == pytest.approx(delta_pts * S / 100, rel=1e-10)
    assert g.equity_delta_usd_per_pct == pytest.approx(291.0)
    assert g.gamma_spx_points_per_point == pytest.approx(-100 * put_gamma, rel=1e-10)
    assert g.gamma_usd_per_pct_sq == pytest.approx(-100 * put_gamma * (S / 100) ** 2, rel=1e-10)
    assert g.vega_usd_per_volpt == pytest.approx(-100 * put_vega, rel=1e-10)
    assert g.theta_usd_per_day == pytest.approx(-100 * put_theta + 100 * call_theta, rel=1e-9)
    assert g.vix_delta_usd_per_vixpt == pytest.approx(100 * call_delta, rel=1e-10)
    assert g.vix_gamma_usd_per_vixpt_sq == pytest.approx(100 * call_gamma, rel=1e-10)
    assert g.vix_vega_usd_per_volpt == pytest.approx(100 * call_vega, rel=1e-10)
    assert g.options_value_usd == pytest.approx(-100 * put + 100 * call, rel=1e-10)
    assert g.equity_value_usd == pytest.approx(spy_value)
    assert g.value_usd == pytest.approx(-100 * put + 100 * call + spy_value, rel=1e-10)
    # VIX vega is vol of vol: kept apart from the SPX vega.
    assert g.vega_usd_per_volpt < 0 < g.vix_vega_usd_per_volpt


def test_book_greeks_match_the_scalar_twin() -> None:
    g = book_greeks(tiny_book(), market(), FlatSurface())
    t_p = _years(datetime(2019, 8, 16, 9, 30, tzinfo=NEW_YORK))
    t_c = _years(datetime(2019, 7, 17, 9, 30, tzinfo=NEW_YORK))
    p = bsm_greeks_scalar(S, 2700.0, t_p, SPX_VOL, rate=R, div_yield=Q, is_call=False)
    c = black76_greeks_scalar(VX, 20.0, t_c, VIX_VOL, rate=R, is_call=True)
    legs = g.legs.set_index("structure")
    assert legs.loc["short put", "price"] == pytest.approx(p.price, rel=1e-12)
    assert legs.loc["vix call", "price"] == pytest.approx(c.price, rel=1e-12)
    assert g.theta_usd_per_day == pytest.approx(-100 * p.theta_per_day + 100 * c.theta_per_day)
    assert list(legs["t_years"]) == pytest.approx([t_p, t_c], rel=1e-12)


def test_expired_leg_is_intrinsic_with_no_greeks() -> None:
    old = Structure(
        "old put", (Leg(OptionContract("SPXW", date(2019, 6, 21), 3000, Right.PUT), 2, 5.0),)
    )
    g = book_greeks(Book((old,)), market(), FlatSurface())
    assert g.options_value_usd == pytest.approx(2 * 100 * (3000 - S))
    assert g.delta_spx_points == 0.0
    assert g.theta_usd_per_day == 0.0


def test_missing_beta_and_missing_vx_future_say_what_to_do() -> None:
    book = Book((), (EquityHolding("QQQ", 10, 180.0),))
    with pytest.raises(InvalidInputError, match="capm_beta"):
        book_greeks(book, market(), FlatSurface())
    with pytest.raises(InvalidInputError, match="no VX future for expiry 2019-07-17"):
        book_greeks(tiny_book(), market(vx_futures={}), FlatSurface())
    g = book_greeks(book.with_betas({"QQQ": 1.2}), market(), FlatSurface())
    assert g.delta_usd_per_pct == pytest.approx(10 * 180.0 * 1.2 / 100)


def test_book_refuses_duplicate_names() -> None:
    s = tiny_book().structures[0]
    with pytest.raises(InvalidInputError, match="unique"):
        Book((s, s))
    with pytest.raises(InvalidInputError, match="unique"):
        Book((), (EquityHolding("SPY", 1, 1.0), EquityHolding("SPY", 2, 1.0)))


# --------------------------------------------------------------------------------------------
# CAPM beta


def test_capm_beta_is_the_ols_slope() -> None:
    rng = np.random.default_rng(7)
    m = rng.normal(0.0, 0.01, 300)
    s = 0.0002 + 1.3 * m + rng.normal(0.0, 0.004, 300)
    slope = np.polyfit(m[-252:], s[-252:], 1)[0]
    xm, xs = m[-252:] - m[-252:].mean(), s[-252:] - s[-252:].mean()
    hand = float(np.sum(xm * xs) / np.sum(xm * xm))
    assert capm_beta(s, m) == pytest.approx(slope, rel=1e-12)
    assert capm_beta(s, m) == pytest.approx(hand, rel=1e-12)


def test_capm_beta_uses_the_trailing_window_and_aligns_series() -> None:
    rng = np.random.default_rng(1)
    m = rng.normal(0.0, 0.01, 400)
    s = np.concatenate([0.5 * m[:100], 2.0 * m[100:]])  # beta 0.5, then exactly 2 for 300 days
    assert capm_beta(s, m, window=300) == pytest.approx(2.0, rel=1e-12)
    assert capm_beta(s, m, window=301) < 2.0  # one day more reaches the old regime
    days = pd.bdate_range("2020-01-01", periods=400)
    stock = pd.Series(s, index=days).drop(days[-10:-5])  # the stock misses five days
    spx = pd.Series(m, index=days)
    spx.iloc[-3] = np.nan  # and SPX has a gap
    assert capm_beta(stock, spx, window=252) == pytest.approx(2.0, rel=1e-12)


def test_capm_beta_refuses_too_little_data() -> None:
    with pytest.raises(InvalidInputError, match="at least 60"):
        capm_beta(np.ones(30), np.linspace(0, 1, 30))
    with pytest.raises(InvalidInputError, match="differ in length"):
        capm_beta(np.ones(70), np.ones(71))
    with pytest.raises(InvalidInputError, match="zero variance"):
        capm_beta(np.linspace(0, 1, 70), np.ones(70))


# --------------------------------------------------------------------------------------------
# Delta band


def test_delta_band_on_and_off() -> None:
    # $1,000,000 equity: band 0.15% = $1,500 per 1% move.
    inside = delta_band(1_499.0, 1_000_000.0)
    assert not inside.breached
    assert inside.fraction == pytest.approx(0.001499)
    outside = delta_band(-1_600.0, 1_000_000.0)
    assert outside.breached
    assert outside.fraction == pytest.approx(-0.0016)
    assert "outside" in outside.reason
    assert "0.1500%" in outside.reason
    wide = delta_band(-1_600.0, 1_000_000.0, BookParams(delta_band_frac=0.002))
    assert not wide.breached
    with pytest.raises(InvalidInputError, match="equity_usd"):
        delta_band(1.0, 0.0)


def test_delta_band_from_book_greeks() -> None:
    g = book_greeks(tiny_book(), market(), FlatSurface())
    band = delta_band(g.delta_usd_per_pct, 100_000.0)
    assert band.fraction == pytest.approx(g.delta_usd_per_pct / 100_000.0)
    assert band.breached == (abs(band.fraction) > 0.0015)


def test_book_params_are_closed_and_bounded() -> None:
    assert BookParams().delta_band_frac == 0.0015
    with pytest.raises(ValidationError):
        BookParams(delta_band_frac=0.0)
    with pytest.raises(ValidationError):
        BookParams(delta_band=0.001)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        BookParams(beta_window_days=30, beta_min_obs=40)
    with pytest.raises(ValidationError):
        BookParams().delta_band_frac = 0.01


# --------------------------------------------------------------------------------------------
# Market state and vol surfaces


def test_market_state_from_snapshot() -> None:
    snap = MarketSnapshot(
        session=date(2019, 6, 26),
        as_of=AS_OF,
        spx=Bar(math.nan, math.nan, math.nan, S),
        indices={"vix": Datum(15.8), "vvix": Datum(88.0)},
        vx_curve=(CurvePoint(1, VIX_EXPIRY, 21, 0.057, VX),),
        rate=Datum(R),
    )
    m = MarketState.from_snapshot(snap, div_yield=Q)
    assert (m.spx_spot, m.vix, m.rate, m.vvix) == (S, 15.8, R, 88.0)
    assert m.vx_future(VIX_EXPIRY) == VX
    assert float(m.spx_forward(0.5)) == pytest.approx(S * math.exp((R - Q) * 0.5))
    with pytest.raises(InvalidInputError, match="timezone"):
        MarketState(datetime(2019, 6, 26, 16), S, 15.8, R)  # noqa: DTZ001


def test_vix_skew_surface_formulas() -> None:
    m = market(vvix=90.0)
    surf = VixSkewSurface(m)
    t = (SPX_EXPIRY - AS_OF.date()).days / 365.0
    f = S * math.exp((R - Q) * t)
    k = np.array([0.9 * f, f, 1.05 * f])
    expect = 0.87 * 0.158 * np.clip(1 - 6.0 * np.log(k / f) / math.sqrt(t / (30 / 365)), 0.6, 3)
    assert surf.spx_vol(SPX_EXPIRY, k) == pytest.approx(expect, rel=1e-12)
    tv = (VIX_EXPIRY - AS_OF.date()).days / 365.0
    kv = np.array([15.0, 20.0])
    expect_v = 0.9 * (tv / (30 / 365)) ** -0.33 * np.clip(1 + 0.8 * np.log(kv / VX), 0.6, 3)
    assert surf.vix_vol(VIX_EXPIRY, kv) == pytest.approx(expect_v, rel=1e-12)


def test_chain_vol_surface_interpolates_prefers_otm_and_falls_back() -> None:
    chain = pd.DataFrame(
        {
            "root": ["SPXW", "SPXW", "SPXW", "SPXW", "VIX"],
            "expiry": [SPX_EXPIRY] * 4 + [VIX_EXPIRY],
            "strike": [2800.0, 2900.0, 2900.0, 3000.0, 20.0],
            "right": ["P", "P", "C", "C", "C"],
            "iv": [0.20, 0.15, 0.17, 0.11, 0.9],
            "forward": [2910.0] * 4 + [VX],
        }
    )
    surf = ChainVolSurface(chain)
    # At 2900 (below the forward) the put is out of the money: 0.15, not the call's 0.17.
    got = surf.spx_vol(SPX_EXPIRY, [2700.0, 2850.0, 2900.0, 2950.0, 3100.0])
    assert got == pytest.approx([0.20, 0.175, 0.15, 0.13, 0.11])
    assert surf.vix_vol(VIX_EXPIRY, [25.0]) == pytest.approx([0.9])
    with pytest.raises(InvalidInputError, match="no SPX implied vols at expiry 2019-09-20"):
        surf.spx_vol(date(2019, 9, 20), [2900.0])
    backed = ChainVolSurface(chain, fallback=FlatSurface())
    assert backed.spx_vol(date(2019, 9, 20), [2900.0]) == pytest.approx([SPX_VOL])
