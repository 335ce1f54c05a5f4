"""Condor and broken-wing-butterfly construction on a model chain; params; refusals; the plot."""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from vixshield.data.model_chains import model_spx_chain
from vixshield.domain.positions import Right
from vixshield.errors import InvalidInputError
from vixshield.strategy.analytics import save_figure_html, structure_figure
from vixshield.strategy.condor import (
    BwbParams,
    Candidate,
    CondorParams,
    LiquidityParams,
    Refusal,
    build_bwb,
    build_iron_condor,
    price_chain,
)

SESSION = date(2019, 6, 26)
SPOT = 2917.0
RATE = 0.0217


@pytest.fixture(scope="module")
def chain() -> pd.DataFrame:
    return model_spx_chain(
        SESSION, SPOT, vix=16.0, vix9d=14.5, vix3m=17.0, vix6m=18.0, skew=117.0,
        rate=RATE, div_yield=0.019,
    )  # fmt: skip


def _candidate(result: Candidate | Refusal) -> Candidate:
    assert isinstance(result, Candidate), result
    return result


def _refusal(result: Candidate | Refusal) -> Refusal:
    assert isinstance(result, Refusal), result
    assert result.reasons
    assert all(isinstance(r, str) and len(r) > 20 for r in result.reasons)
    return result


def _legs(c: Candidate) -> dict[tuple[str, int], float]:
    return {
        (leg.contract.right.value, leg.quantity): leg.contract.strike for leg in c.structure.legs
    }


def test_default_condor_picks_12_delta_shorts_in_the_window(chain: pd.DataFrame) -> None:
    c = _candidate(build_iron_condor(chain, rate=RATE))
    assert 45 <= c.dte <= 60
    assert c.dte == (c.expiry - SESSION).days
    legs = _legs(c)
    sp, lp = legs[("P", -1)], legs[("P", 1)]
    sc, lc = legs[("C", -1)], legs[("C", 1)]
    assert sp - lp == 50.0
    assert lc - sc == 50.0
    # independently: among this expiry's shortable quotes in the 10-16 window, the short is
    # the one whose |delta| is nearest 0.12
    priced = price_chain(chain, rate=RATE, roots=("SPX", "SPXW"), liquidity=LiquidityParams())
    one = priced[(priced["root"] == c.root) & (priced["expiry"] == c.expiry)]
    for right, strike in (("P", sp), ("C", sc)):
        side = one[(one["right"] == right) & one["shortable"]]
        d = side["delta"].abs()
        ok = side[(d >= 0.10) & (d <= 0.16)]
        best = ok.loc[(ok["delta"].abs() - 0.12).abs().idxmin(), "strike"]
        assert strike == best
        assert 0.10 <= abs(float(side.loc[side["strike"] == strike, "delta"].iloc[0])) <= 0.16
    a = c.analytics
    assert a.credit_points >= 0.10 * 50.0
    assert a.max_loss_usd == pytest.approx((50.0 - a.credit_points) * 100.0)
    assert a.breakeven_low_points == pytest.approx(sp - a.credit_points)
    assert a.breakeven_high_points == pytest.approx(sc + a.credit_points)
    assert a.breakeven_low_points is not None
    assert a.breakeven_low_points <= SPOT * (1 - 0.07)
    assert a.margin_usd == pytest.approx(a.max_loss_usd)
    # legs priced at mids; the risk-neutral EV at the mids' own vols is about zero
    assert abs(a.expected_value_usd) < 1e-6
    assert 0.5 < a.prob_profit < 0.95
    assert a.theta_usd_per_day > 0 > a.vega_usd_per_volpt
    assert c.notes
    assert "delta rule" in c.notes[0]


def test_modelled_flag_is_not_read(chain: pd.DataFrame) -> None:
    flipped = chain.assign(modelled=False)
    a = _candidate(build_iron_condor(chain, rate=RATE))
    b = _candidate(build_iron_condor(flipped, rate=RATE))
    assert a.structure == b.structure


def test_no_expiry_in_the_window_is_refused(chain: pd.DataFrame) -> None:
    short = chain[chain["expiry"] <= date(2019, 8, 2)]  # nothing 45-60 days out
    r = _refusal(build_iron_condor(short, rate=RATE))
    assert "no SPX/SPXW expiry with 45-60 days to expiry" in r.reasons[0]
    assert "nearest listed: SPXW 2019-08-02 (37 DTE)" in r.reasons[0]
    bwb = _refusal(build_bwb(chain, rate=RATE, params=BwbParams(roots=("SPX",))))
    assert "7-21 days" in bwb.reasons[0]


def test_credit_below_the_minimum_share_of_width_is_refused(chain: pd.DataFrame) -> None:
    r = _refusal(build_iron_condor(chain, rate=RATE, params=CondorParams(min_credit_frac=0.5)))
    assert all("below 50% of the 50-point wing" in reason for reason in r.reasons)
    assert len(r.reasons) >= 2  # every expiry in the window was tried and is listed


def test_wing_wider_than_allowed_is_refused(chain: pd.DataFrame) -> None:
    params = CondorParams(wing_rule="delta", wing_delta=0.02, max_wing_points=100.0)
    r = _refusal(build_iron_condor(chain, rate=RATE, params=params))
    assert any("wider than max_wing_points 100" in reason for reason in r.reasons)


def test_wide_quotes_are_filtered(chain: pd.DataFrame) -> None:
    tight = CondorParams(liquidity=LiquidityParams(max_quote_width_points=0.05))
    r = _refusal(build_iron_condor(chain, rate=RATE, params=tight))
    assert any("no liquid put with |delta| in 10.0-16.0" in reason for reason in r.reasons)


def test_breakeven_alignment_moves_the_put_spread_out(chain: pd.DataFrame) -> None:
    base = _candidate(build_iron_condor(chain, rate=RATE))
    moved = _candidate(
        build_iron_condor(chain, rate=RATE, params=CondorParams(drawdown_tolerance=0.10))
    )
    assert base.analytics.breakeven_low_points is not None
    assert base.analytics.breakeven_low_points > SPOT * 0.90  # the default condor would fail
    assert moved.analytics.breakeven_low_points is not None
    assert moved.analytics.breakeven_low_points <= SPOT * 0.90
    b, m = _legs(base), _legs(moved)
    assert m[("P", -1)] < b[("P", -1)]
    assert m[("P", -1)] - m[("P", 1)] == 50.0
    assert (m[("C", -1)], m[("C", 1)]) == (b[("C", -1)], b[("C", 1)])  # call spread kept
    assert any("put spread moved out" in n for n in moved.notes)
    # with the move switched off the condor is refused, with the break-even arithmetic
    off = CondorParams(drawdown_tolerance=0.10, align_breakeven=False)
    r = _refusal(build_iron_condor(chain, rate=RATE, params=off))
    assert "below spot" in r.reasons[0]
    assert "alignment is off" in r.reasons[0]


def test_standard_deviation_rule(chain: pd.DataFrame) -> None:
    params = CondorParams(short_rule="sd", min_credit_frac=0.0)
    c = _candidate(build_iron_condor(chain, rate=RATE, params=params))
    legs = _legs(c)
    priced = price_chain(chain, rate=RATE, roots=("SPX", "SPXW"), liquidity=LiquidityParams())
    one = priced[(priced["root"] == c.root) & (priced["expiry"] == c.expiry)]
    fwd = float(one["forward"].iloc[0])
    atm = one.loc[(one["strike"] - fwd).abs() == (one["strike"] - fwd).abs().min(), "iv"].mean()
    sd = atm * math.sqrt(float(one["t_years"].iloc[0]))
    for strike in (legs[("P", -1)], legs[("C", -1)]):
        n = abs(math.log(strike / fwd)) / sd
        assert 1.5 <= n <= 2.0


def test_wings_by_delta(chain: pd.DataFrame) -> None:
    params = CondorParams(wing_rule="delta", min_credit_frac=0.0)
    c = _candidate(build_iron_condor(chain, rate=RATE, params=params))
    priced = price_chain(chain, rate=RATE, roots=("SPX", "SPXW"), liquidity=LiquidityParams())
    one = priced[(priced["root"] == c.root) & (priced["expiry"] == c.expiry)]
    legs = _legs(c)
    for right, strike in (("P", legs[("P", 1)]), ("C", legs[("C", 1)])):
        d = abs(float(one[(one["right"] == right) & (one["strike"] == strike)]["delta"].iloc[0]))
        assert d == pytest.approx(0.05, abs=0.01)


def test_quantity_and_spot_arguments(chain: pd.DataFrame) -> None:
    c = _candidate(build_iron_condor(chain, rate=RATE, quantity=3))
    assert sorted(leg.quantity for leg in c.structure.legs) == [-3, -3, 3, 3]
    assert c.analytics.units == 3
    with pytest.raises(InvalidInputError, match="quantity"):
        build_iron_condor(chain, rate=RATE, quantity=0)
    with pytest.raises(InvalidInputError, match="spot="):
        build_iron_condor(chain.drop(columns=["underlying"]), rate=RATE)
    given = _candidate(build_iron_condor(chain.drop(columns=["underlying"]), rate=RATE, spot=SPOT))
    assert given.market.spot == SPOT


def test_put_bwb_default_and_skewed(chain: pd.DataFrame) -> None:
    c = _candidate(build_bwb(chain, rate=RATE))
    assert 7 <= c.dte <= 21
    legs = c.structure.legs
    assert [leg.quantity for leg in legs] == [1, -2, 1]
    assert all(leg.contract.right is Right.PUT for leg in legs)
    near, body, far = (leg.contract.strike for leg in legs)
    assert near - body == 25.0
    assert body - far == 50.0
    a = c.analytics
    assert a.credit_usd >= 0.0
    # risk on the wide side: (wide - narrow) x 100 - credit
    assert a.max_loss_usd == pytest.approx((50.0 - 25.0) * 100.0 - a.credit_usd)
    assert a.margin_usd == pytest.approx(a.max_loss_usd)
    skewed = _candidate(build_bwb(chain, rate=RATE, prefer_put_side=True))
    assert skewed.structure.legs[1].contract.strike < body  # lower delta: further out
    assert "target 10.0" in skewed.notes[0]


def test_call_bwb(chain: pd.DataFrame) -> None:
    c = _candidate(
        build_bwb(chain, rate=RATE, params=BwbParams(side="call", min_credit_points=-5.0))
    )
    near, body, far = (leg.contract.strike for leg in c.structure.legs)
    assert all(leg.contract.right is Right.CALL for leg in c.structure.legs)
    assert body - near == 25.0
    assert far - body == 50.0
    # prefer_put_side overrides the configured side
    p = _candidate(build_bwb(chain, rate=RATE, params=BwbParams(side="call"), prefer_put_side=True))
    assert p.structure.legs[1].contract.right is Right.PUT


def test_bwb_credit_requirement(chain: pd.DataFrame) -> None:
    r = _refusal(build_bwb(chain, rate=RATE, params=BwbParams(min_credit_points=20.0)))
    assert all("below min_credit_points 20" in reason for reason in r.reasons)


def test_params_are_frozen_closed_and_bounded() -> None:
    p = CondorParams()
    with pytest.raises(ValidationError):
        p.short_delta = 0.2  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        CondorParams(shortdelta=0.2)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        CondorParams(drawdown_tolerance=0.05)  # 7-10% only
    with pytest.raises(ValidationError, match="short_delta_min <= short_delta"):
        CondorParams(short_delta=0.2)
    with pytest.raises(ValidationError, match="min_dte <= target_dte"):
        CondorParams(target_dte=30)
    with pytest.raises(ValidationError):
        CondorParams(roots=("SPXQ",))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="narrow_wing_points < wide_wing_points"):
        BwbParams(narrow_wing_points=50.0, wide_wing_points=50.0)
    with pytest.raises(ValidationError):
        LiquidityParams(max_quote_width_frac=0.0)
    # every default lies inside its bounds: constructing from the dumped values round-trips
    assert CondorParams(**p.model_dump()) == p
    assert BwbParams(**BwbParams().model_dump()) == BwbParams()


def test_refusal_needs_a_reason() -> None:
    with pytest.raises(InvalidInputError):
        Refusal("iron condor", ())


def test_plot_is_self_contained_html(chain: pd.DataFrame, tmp_path: Path) -> None:
    c = _candidate(build_iron_condor(chain, rate=RATE))
    fig = structure_figure(c.structure, c.market, c.analytics)
    path = save_figure_html(fig, tmp_path / "plots" / "condor.html")
    html = path.read_text(encoding="utf-8")
    assert "plotly.js v" in html  # the bundle is inlined
    assert re.search(r"<script[^>]*\bsrc=", html) is None  # nothing loaded from outside
    # the inlined bundle carries default URLs of its own (topojson, map tiles); outside it, no
    # CDN is referenced
    outside = re.sub(r"<script[^>]*>/\*\*\s*\* plotly\.js.*?</script>", "", html, flags=re.S)
    assert len(outside) < len(html) / 10
    assert "cdn." not in outside
    data = fig.to_dict()  # type: ignore[attr-defined]
    assert [t["name"] for t in data["data"]] == ["P&L at expiry (USD)", "P&L today, T+0 (USD)"]
    x = np.asarray(fig.data[0].x, dtype=np.float64)  # type: ignore[attr-defined]
    assert x.min() < c.analytics.breakevens_points[0] < c.analytics.breakevens_points[1] < x.max()
    lines = [s["x0"] for s in data["layout"]["shapes"] if s.get("x0") is not None]
    for level in (*c.analytics.breakevens_points, *c.analytics.short_strikes_points, SPOT):
        assert any(abs(v - level) < 1e-9 for v in lines)


def test_open_interest_and_volume_are_checked_where_given(chain: pd.DataFrame) -> None:
    thin = chain.assign(open_interest=0.0, volume=np.nan)
    oi = CondorParams(liquidity=LiquidityParams(min_open_interest=10.0, min_volume=5.0))
    r = _refusal(build_iron_condor(thin, rate=RATE, params=oi))
    assert "no liquid put" in r.reasons[0]
    # NaN volume means "not given": only the open interest filter bites, and given OI passes
    ok = _candidate(build_iron_condor(thin.assign(open_interest=100.0), rate=RATE, params=oi))
    assert ok.dte >= 45
