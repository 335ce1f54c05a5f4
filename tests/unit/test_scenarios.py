"""Scenario P&L by full repricing, against prices computed here from the formulas."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import vixshield.strategy.scenarios as scen_mod
from vixshield.domain.positions import EquityHolding, Leg, OptionContract, Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.strategy.book import Book, BookParams, MarketState, VixSkewSurface
from vixshield.strategy.scenarios import (
    EQUITY_COLUMN,
    TOTAL_COLUMN,
    Scenario,
    default_scenarios,
    pnl_column,
    scenario_table,
)
from vixshield.units import NEW_YORK

AS_OF = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
SPX_EXPIRY = date(2019, 8, 16)
VIX_EXPIRY = date(2019, 7, 17)
S, R, Q, VIX, VX = 2913.78, 0.021, 0.019, 15.8, 16.5
T_PUT = (datetime(2019, 8, 16, 9, 30, tzinfo=NEW_YORK) - AS_OF).total_seconds() / 60 / 525_600
T_VIX = (datetime(2019, 7, 17, 9, 30, tzinfo=NEW_YORK) - AS_OF).total_seconds() / 60 / 525_600


@dataclass(frozen=True)
class FlatSurface:
    spx: float = 0.18
    vix: float = 0.95

    def spx_vol(self, expiry: date, strike: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.full(np.shape(strike), self.spx)

    def vix_vol(self, expiry: date, strike: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.full(np.shape(strike), self.vix)


def _num(value: Any) -> float:
    """A table cell as a float (pandas types cells loosely)."""
    return float(value)


MARKET = MarketState(AS_OF, S, VIX, R, Q, {VIX_EXPIRY: VX})


def _cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def bsm_put(spot: float, K: float, t: float, vol: float) -> float:
    d1 = (math.log(spot / K) + (R - Q + 0.5 * vol**2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    return K * math.exp(-R * t) * _cdf(-d2) - spot * math.exp(-Q * t) * _cdf(-d1)


def black_call(F: float, K: float, t: float, vol: float) -> float:
    d1 = (math.log(F / K) + 0.5 * vol**2 * t) / (vol * math.sqrt(t))
    return math.exp(-R * t) * (F * _cdf(d1) - K * _cdf(d1 - vol * math.sqrt(t)))


def _put(strike: float = 2700.0, qty: int = -1, price: float = 12.0) -> Leg:
    return Leg(OptionContract("SPX", SPX_EXPIRY, strike, Right.PUT), qty, price)


SHORT_PUT = Book((Structure("short put", (_put(),)),))
LONG_VIX_CALL = Book(
    (Structure("vix call", (Leg(OptionContract("VIX", VIX_EXPIRY, 20, Right.CALL), 1, 0.9),)),)
)


def test_short_put_spx_shock_is_the_bsm_price_difference() -> None:
    # VIX pinned (vix_move_pts=0) and a flat smile: only the spot moves.
    table = scenario_table(
        SHORT_PUT, MARKET, FlatSurface(), [Scenario("down", spx_move_pct=-10.0, vix_move_pts=0.0)]
    )
    expect = -100 * (bsm_put(0.9 * S, 2700, T_PUT, 0.18) - bsm_put(S, 2700, T_PUT, 0.18))
    assert table.loc["down", pnl_column("short put")] == pytest.approx(expect, rel=1e-10)
    assert table.loc["down", TOTAL_COLUMN] == pytest.approx(expect, rel=1e-10)
    assert table.loc["down", "spx"] == pytest.approx(0.9 * S)


def test_short_put_vix_shock_follows_the_documented_vol_response() -> None:
    p = BookParams()
    table = scenario_table(
        SHORT_PUT, MARKET, FlatSurface(), [Scenario("vix", vix_move_pts=10.0)], params=p
    )
    f = S * math.exp((R - Q) * T_PUT)
    k = math.log(2700 / f)
    beta_t = min((30 / 365 / T_PUT) ** p.iv_term_exponent, 2.0)
    beta_k = min(max(1 - p.iv_skew_beta * k, 0.25), 3.0)
    vol = 0.18 + 10 / 100 * beta_t * beta_k
    expect = -100 * (bsm_put(S, 2700, T_PUT, vol) - bsm_put(S, 2700, T_PUT, 0.18))
    assert table.loc["vix", pnl_column("short put")] == pytest.approx(expect, rel=1e-10)
    assert expect < 0


def test_spx_shock_without_vix_uses_the_spot_vol_beta() -> None:
    table = scenario_table(
        SHORT_PUT,
        MARKET,
        FlatSurface(),
        [Scenario("down", spx_move_pct=-10.0), Scenario("up", spx_move_pct=10.0)],
    )
    assert table.loc["down", "vix_move_pts"] == pytest.approx(10.0)  # 1 point per 1% down
    assert table.loc["up", "vix_move_pts"] == pytest.approx(-5.0)  # 0.5 point per 1% up
    flat = BookParams(vix_pts_per_spx_pct_down=0.0, vix_pts_per_spx_pct_up=0.0)
    pinned = scenario_table(
        SHORT_PUT, MARKET, FlatSurface(), [Scenario("down", spx_move_pct=-10.0)], params=flat
    )
    assert pinned.loc["down", "vix_move_pts"] == 0.0
    # A crash cannot take VIX below the floor.
    floor = scenario_table(SHORT_PUT, MARKET, FlatSurface(), [Scenario("v", vix_move_pts=-50)])
    assert floor.loc["v", "vix"] == pytest.approx(9.0)


def test_long_vix_call_gains_when_vix_rises() -> None:
    table = scenario_table(LONG_VIX_CALL, MARKET, FlatSurface(), [Scenario("v", vix_move_pts=10)])
    f_new = VX + 10 * math.exp(-T_VIX / 0.4)  # VX future moves by exp(-T/tau) of the shock
    expect = 100 * (black_call(f_new, 20, T_VIX, 0.95) - black_call(VX, 20, T_VIX, 0.95))
    got = _num(table.loc["v", pnl_column("vix call")])
    assert got > 0
    assert got == pytest.approx(expect, rel=1e-10)


def test_one_day_on_has_the_sign_of_theta() -> None:
    book = Book((*SHORT_PUT.structures, *LONG_VIX_CALL.structures))
    table = scenario_table(book, MARKET, FlatSurface(), [Scenario("1d", vix_move_pts=0, days=1)])
    put_decay = -100 * (bsm_put(S, 2700, T_PUT - 1 / 365, 0.18) - bsm_put(S, 2700, T_PUT, 0.18))
    assert table.loc["1d", pnl_column("short put")] == pytest.approx(put_decay, rel=1e-10)
    assert put_decay > 0  # short options earn the decay
    assert _num(table.loc["1d", pnl_column("vix call")]) < 0  # long options pay it


def condor(credit_each: float = 1.5) -> Structure:
    c = SPX_EXPIRY
    return Structure(
        "condor",
        (
            Leg(OptionContract("SPX", c, 2650, Right.PUT), 1, 5.0),
            Leg(OptionContract("SPX", c, 2700, Right.PUT), -1, 5.0 + credit_each),
            Leg(OptionContract("SPX", c, 3050, Right.CALL), -1, 3.0 + credit_each),
            Leg(OptionContract("SPX", c, 3100, Right.CALL), 1, 3.0),
        ),
    )


def test_condor_at_expiry_lies_between_max_loss_and_credit() -> None:
    book = Book((condor(),))
    credit = 300.0  # 2 x 1.5 x 100
    max_loss = 50 * 100 - credit
    moves = np.linspace(-20, 20, 81)
    grid = [Scenario(f"{m:+.1f}", spx_move_pct=float(m), days=60) for m in moves]
    table = scenario_table(book, MARKET, VixSkewSurface(MARKET), grid, basis="fill")
    pnl = table[pnl_column("condor")].to_numpy()
    assert np.all(pnl >= -max_loss - 1e-9)
    assert np.all(pnl <= credit + 1e-9)
    assert pnl.min() == pytest.approx(-max_loss)
    assert pnl.max() == pytest.approx(credit)
    # At expiry the condor pays exactly its intrinsic value: check one point by hand.
    spot = S * (1 - 0.08)  # 2680.68: the short 2700 put is 19.32 in the money
    assert table.loc["-8.0", pnl_column("condor")] == pytest.approx(credit - 100 * (2700 - spot))


def test_fill_basis_subtracts_fees_and_equity_moves_by_beta() -> None:
    book = Book(
        (condor(),),
        (EquityHolding("SPY", 100, 291.0),),
        {"SPY": 1.2},
        fees_usd={"condor": 6.0},
    )
    table = scenario_table(
        book, MARKET, FlatSurface(), [Scenario("exp", spx_move_pct=-5.0, days=60)], basis="fill"
    )
    assert table.loc["exp", pnl_column("condor")] == pytest.approx(300.0 - 6.0)
    assert table.loc["exp", EQUITY_COLUMN] == pytest.approx(100 * 291.0 * 1.2 * -0.05)
    assert table.loc["exp", TOTAL_COLUMN] == pytest.approx(294.0 + 100 * 291.0 * 1.2 * -0.05)


def test_default_table_shape_and_totals() -> None:
    book = Book(
        (condor(), *LONG_VIX_CALL.structures), (EquityHolding("SPY", 100, 291.0),), {"SPY": 1.0}
    )
    table = scenario_table(book, MARKET, VixSkewSurface(MARKET))
    assert list(table.index) == [s.name for s in default_scenarios()]
    assert list(table.index) == [
        "SPX -20%", "SPX -10%", "SPX -5%", "SPX +5%", "SPX +10%", "VIX +10", "VIX +20",
        "1d on", "7d on", "SPX -10% VIX +20", "SPX -20% VIX +30",
    ]  # fmt: skip
    parts = [pnl_column("condor"), pnl_column("vix call"), EQUITY_COLUMN]
    assert table[parts].sum(axis=1).to_numpy() == pytest.approx(table[TOTAL_COLUMN].to_numpy())
    # The hedge pays in the crash scenarios; the condor loses.
    assert _num(table.loc["SPX -10% VIX +20", pnl_column("vix call")]) > 0
    assert _num(table.loc["SPX -10%", pnl_column("condor")]) < 0


def test_all_legs_and_scenarios_in_one_pricer_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, ...]] = []
    real = scen_mod.black_forward_price  # type: ignore[attr-defined]

    def counting(*args: Any, **kw: Any) -> Any:
        out = real(*args, **kw)
        calls.append(out.shape)
        return out

    monkeypatch.setattr(scen_mod, "black_forward_price", counting)
    book = Book((condor(), *LONG_VIX_CALL.structures))
    scenario_table(book, MARKET, FlatSurface())
    assert calls == [(len(default_scenarios()) + 1, 5)]


def test_expired_legs_in_the_horizon_use_the_scenario_underlying() -> None:
    # 30 days on, the July VIX call has settled: intrinsic on the scenario VIX (15.8 + 10).
    table = scenario_table(
        LONG_VIX_CALL, MARKET, FlatSurface(), [Scenario("x", vix_move_pts=10, days=30)]
    )
    base = black_call(VX, 20, T_VIX, 0.95)
    assert table.loc["x", pnl_column("vix call")] == pytest.approx(100 * (25.8 - 20 - base))


def test_bad_scenarios_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="spx_move_pct"):
        Scenario("x", spx_move_pct=-100.0)
    with pytest.raises(InvalidInputError, match="days"):
        Scenario("x", days=-1)
    with pytest.raises(InvalidInputError, match="unique"):
        scenario_table(SHORT_PUT, MARKET, FlatSurface(), [Scenario("a"), Scenario("a")])
