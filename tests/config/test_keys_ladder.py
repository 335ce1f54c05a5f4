"""Every ``[ladder]`` key changes the ladder's decision (METHOD §6).

Each case runs :func:`vixshield.strategy.ladder.ladder_decision` on a model SPX chain twice:
with a base :class:`LadderParams` and with one key changed to another valid value (bounds and
rules checked), and asserts that the decision differs, in the expected direction where there is
one. The base is the defaults, with ``structure = "condor"`` for the ``condor`` table, and the
setting a key depends on where it has one (``wing_delta`` under ``wing_rule = "delta"``).
Some keys only bite on a chain that makes them matter (a gap in the listed strikes, a missing
expiry, an open-interest column); those chains are derived from the same model chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import cache
from typing import Any

import pandas as pd
import pytest

from vixshield.data.model_chains import model_spx_chain
from vixshield.domain.decisions import OrderIntent, Refusal
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.strategy.ladder import LadderCondorParams, LadderParams, Rung, ladder_decision

SESSION = date(2019, 6, 26)
RATE = 0.0217
EQUITY = 1_000_000.0
RUNG_EXPIRY = date(2019, 7, 10)  # the default rung's expiry: SPXW, 14 DTE
TRIGGER: Mapping[str, Any] = {
    "vix_macd_compressed": True,
    "vix_macd_hist": -0.12,
    "rsi_vx1": 50.0,
    "rsi_spx": 55.0,
}
SKEW: Mapping[str, Any] = {**TRIGGER, "rsi_vx1": 30.0, "rsi_spx": 65.0}
Result = OrderIntent | Refusal


# --------------------------------------------------------------------------------------------
# Chains (cached; never mutated)


@cache
def _chain() -> pd.DataFrame:
    return model_spx_chain(
        SESSION, 2917.0, vix=16.0, vix9d=14.5, vix3m=17.0, vix6m=18.0, skew=117.0,
        rate=RATE, div_yield=0.019,
    )  # fmt: skip


def _is_put(chain: pd.DataFrame) -> pd.Series:
    return chain["right"].astype(str).str.upper().str.startswith("P")


@cache
def _rung_expiry_only() -> pd.DataFrame:
    c = _chain()
    return c.loc[(c["root"] == "SPXW") & (c["expiry"] == RUNG_EXPIRY)]


def _without_puts(lo: float, hi: float) -> pd.DataFrame:
    c = _rung_expiry_only()
    return c.loc[~(_is_put(c) & c["strike"].between(lo, hi))]


@cache
def _no_puts_near_skew_target() -> pd.DataFrame:
    """The rung expiry without the puts 2785-2790 (|delta| 0.100-0.107)."""
    return _without_puts(2785.0, 2790.0)


@cache
def _no_puts_near_target() -> pd.DataFrame:
    """The rung expiry without the puts 2795-2800 (|delta| 0.114-0.122)."""
    return _without_puts(2795.0, 2800.0)


@cache
def _far_wing_gap() -> pd.DataFrame:
    """The rung expiry without the puts 2725-2790: the 50-point far wing lands 80 out."""
    return _without_puts(2725.0, 2790.0)


@cache
def _no_target_expiry() -> pd.DataFrame:
    c = _chain()
    return c.loc[c["expiry"] != RUNG_EXPIRY]


@cache
def _beyond_max_dte() -> pd.DataFrame:
    c = _chain()
    return c.loc[[(e - SESSION).days > 21 for e in c["expiry"]]]


@cache
def _thin_at_2800(column: str) -> pd.DataFrame:
    """An open-interest or volume column: 1,000 everywhere, 10 on the 2800 puts."""
    c = _chain()
    thin = _is_put(c) & (c["strike"] == 2800.0)
    return c.assign(**{column: thin.map({True: 10.0, False: 1000.0}).astype("float64")})


# --------------------------------------------------------------------------------------------
# Helpers


def _set(base: LadderParams, key: str, value: Any) -> LadderParams:
    """``base`` with the dotted ``key`` set to ``value``, validated (bounds and rules)."""
    data = base.model_dump()
    *tables, leaf = key.split(".")
    node = data
    for t in tables:
        node = node[t]
    assert node[leaf] != value, f"{key} is already {value!r}"
    node[leaf] = value
    return LadderParams.model_validate(data)


def _decide(
    params: LadderParams,
    *,
    chain: pd.DataFrame | None = None,
    indicators: Mapping[str, Any] = TRIGGER,
    regime_level: int = 1,
    open_rungs: tuple[Rung, ...] = (),
    since: int | None = None,
) -> Result:
    return ladder_decision(
        session=SESSION,
        indicators=indicators,
        regime_level=regime_level,
        open_rungs=open_rungs,
        sessions_since_last_rung=since,
        chain=_chain() if chain is None else chain,
        rate=RATE,
        equity_usd=EQUITY,
        params=params,
    )


def _pair(
    key: str, value: Any, *, base: LadderParams | None = None, **kw: Any
) -> tuple[Result, Result]:
    """The decision with ``base`` (default: the defaults) and with ``key`` changed; differing."""
    before = base or LadderParams()
    a = _decide(before, **kw)
    b = _decide(_set(before, key, value), **kw)
    assert a != b, f"changing {key} to {value!r} left the decision unchanged: {a}"
    return a, b


def _intent(result: Result) -> Structure:
    assert isinstance(result, OrderIntent), result
    assert result.structure is not None
    return result.structure


def _refused(result: Result, text: str) -> None:
    assert isinstance(result, Refusal), result
    assert any(text in r for r in result.reasons), result.reasons


def _body(s: Structure) -> OptionContract:
    """A BWB's body (the short leg)."""
    (leg,) = [leg for leg in s.legs if leg.quantity < 0]
    return leg.contract


def _dte(s: Structure) -> int:
    return (s.expiries[0] - SESSION).days


def _wings(s: Structure) -> tuple[float, float]:
    """An iron condor's put and call wing widths, points."""
    by = {(g.contract.right, g.quantity < 0): g.contract.strike for g in s.legs}
    put = by[(Right.PUT, True)] - by[(Right.PUT, False)]
    call = by[(Right.CALL, False)] - by[(Right.CALL, True)]
    return put, call


def _quote(leg: Leg) -> tuple[float, float]:
    c = _chain()
    k = leg.contract
    row = c.loc[
        (c["root"] == k.root)
        & (c["expiry"] == k.expiry)
        & (c["strike"] == k.strike)
        & (c["right"].astype(str).str.upper().str.startswith(k.right.value[0]))
    ]
    assert len(row) == 1
    return float(row["bid"].iloc[0]), float(row["ask"].iloc[0])


def _rung(days_to_expiry: int, opened_days_ago: int) -> Rung:
    c = OptionContract("SPXW", SESSION + timedelta(days=days_to_expiry), 2800.0, Right.PUT)
    opened = SESSION - timedelta(days=opened_days_ago)
    return Rung(Structure(f"rung {opened}", (Leg(c, -2, 5.0),)), opened)


CONDOR = LadderParams(structure="condor")
DELTA_WINGS = _set(CONDOR, "condor.wing_rule", "delta")
# 0.015-delta longs: 70- and 55-point wings at 14 DTE, allowed by a 5% credit floor
WIDE_WINGS = LadderParams(
    structure="condor",
    condor=LadderCondorParams(wing_rule="delta", wing_delta=0.015, min_credit_frac=0.05),
)


# --------------------------------------------------------------------------------------------
# The ladder's own keys


def structure() -> None:
    a, b = _pair("structure", "condor")
    assert "broken-wing butterfly" in _intent(a).name
    assert "iron condor" in _intent(b).name
    assert len(_intent(b).legs) == 4


def min_dte() -> None:
    # without the 14-DTE expiry the nearest to target is 12 DTE; min 13 takes the 16-DTE one
    a, b = _pair("min_dte", 13, chain=_no_target_expiry())
    assert _dte(_intent(a)) == 12
    assert _dte(_intent(b)) == 16


def target_dte() -> None:
    a, b = _pair("target_dte", 20)
    assert _dte(_intent(a)) == 14
    assert abs(_dte(_intent(b)) - 20) <= 2


def max_dte() -> None:
    # only expiries past 21 days: refused by default, a 30-day window opens a rung
    a, b = _pair("max_dte", 30, chain=_beyond_max_dte())
    _refused(a, "expiry with 7-21 days to expiry")
    assert 21 < _dte(_intent(b)) <= 30


def short_delta() -> None:
    a, b = _pair("short_delta", 0.15)
    assert _body(_intent(b)).strike > _body(_intent(a)).strike  # a put body nearer the money


def short_delta_min() -> None:
    # the skewed body targets 0.10; without 2785-2790 the nearest put inside 0.10-0.15 is 2795
    # (|delta| 0.114), and a 0.09 floor lets in the nearer 2780 (|delta| 0.094)
    a, b = _pair("short_delta_min", 0.09, chain=_no_puts_near_skew_target(), indicators=SKEW)
    assert _body(_intent(a)).strike == 2795.0
    assert _body(_intent(b)).strike == 2780.0


def short_delta_max() -> None:
    # without 2795-2800 the put nearest 0.125 is 2805 (|delta| 0.130); a 0.125 cap excludes it
    a, b = _pair("short_delta_max", 0.125, chain=_no_puts_near_target())
    assert _body(_intent(a)).strike == 2805.0
    assert _body(_intent(b)).strike == 2790.0  # |delta| 0.107, further out


def skewed_short_delta() -> None:
    a, b = _pair("skewed_short_delta", 0.14, indicators=SKEW)
    assert _body(_intent(b)).strike > _body(_intent(a)).strike


def max_rungs() -> None:
    held = (_rung(3, 15), _rung(8, 10), _rung(12, 5))
    a, b = _pair("max_rungs", 3, open_rungs=held, since=5)
    assert isinstance(a, OrderIntent)
    assert "rung 4 of max 4" in a.reasons
    _refused(b, "max rungs: 3 rungs open, at most 3")


def cadence_sessions() -> None:
    a, b = _pair("cadence_sessions", 6, since=5)
    assert isinstance(a, OrderIntent)
    _refused(b, "cadence: last rung 5 session(s) ago; at most one new rung per 6 sessions")


def _skew_on(result: Result) -> bool:
    assert isinstance(result, OrderIntent), result
    return any("put-side BWB skewed to" in r for r in result.reasons)


def vx1_rsi_below() -> None:
    row = {**SKEW, "rsi_vx1": 40.0}
    a, b = _pair("vx1_rsi_below", 45.0, indicators=row)
    assert not _skew_on(a)
    assert _skew_on(b)
    assert _body(_intent(b)).strike < _body(_intent(a)).strike  # the lower delta


def spx_rsi_above() -> None:
    row = {**SKEW, "rsi_spx": 55.0}
    a, b = _pair("spx_rsi_above", 50.0, indicators=row)
    assert not _skew_on(a)
    assert _skew_on(b)
    assert _body(_intent(b)).strike < _body(_intent(a)).strike


def no_new_rung_from_level() -> None:
    a, b = _pair("no_new_rung_from_level", 3, regime_level=3)
    assert isinstance(a, OrderIntent)
    _refused(b, "regime stressed (level 3 >= 3): no new rung")


def roots() -> None:
    # SPX monthlies only: the nearest (2019-07-19) is 23 days out
    a, b = _pair("roots", ("SPX",))
    assert _intent(a).legs[0].contract.root == "SPXW"
    _refused(b, "no SPX expiry with 7-21 days to expiry")


# --------------------------------------------------------------------------------------------
# [ladder.liquidity]: quote filters on every leg


def max_quote_width_points() -> None:
    a, b = _pair("liquidity.max_quote_width_points", 0.2)
    assert any(ask - bid > 0.2 for bid, ask in map(_quote, _intent(a).legs))
    s = _intent(b)  # another rung, every leg quoted at most 0.2 wide
    assert all(ask - bid <= 0.2 + 1e-9 for bid, ask in map(_quote, s.legs))


def max_quote_width_frac() -> None:
    a, b = _pair("liquidity.max_quote_width_frac", 0.03)
    assert any(ask - bid > 0.03 * (bid + ask) / 2 for bid, ask in map(_quote, _intent(a).legs))
    _refused(b, "no liquid put with |delta| in 10.0-15.0")


def min_open_interest() -> None:
    a, b = _pair("liquidity.min_open_interest", 100.0, chain=_thin_at_2800("open_interest"))
    assert _body(_intent(a)).strike == 2800.0
    assert _body(_intent(b)).strike != 2800.0


def min_volume() -> None:
    a, b = _pair("liquidity.min_volume", 100.0, chain=_thin_at_2800("volume"))
    assert _body(_intent(a)).strike == 2800.0
    assert _body(_intent(b)).strike != 2800.0


# --------------------------------------------------------------------------------------------
# [ladder.bwb]


def bwb_side() -> None:
    a, b = _pair("bwb.side", "call")
    assert {g.contract.right for g in _intent(a).legs} == {Right.PUT}
    # call-side butterflies on this chain cost a debit, below the 0-point credit floor
    _refused(b, "no call broken-wing butterfly:")


def bwb_narrow_wing_points() -> None:
    _, b = _pair("bwb.narrow_wing_points", 10.0)
    s = _intent(b)
    assert max(g.contract.strike for g in s.legs) - _body(s).strike == 10.0


def bwb_wide_wing_points() -> None:
    a, b = _pair("bwb.wide_wing_points", 75.0)
    s = _intent(b)
    assert _body(s).strike - min(g.contract.strike for g in s.legs) == 75.0
    # more risk per unit on the wide side: fewer contracts for the same budget
    assert s.legs[0].quantity < _intent(a).legs[0].quantity


def bwb_max_wing_points() -> None:
    a, b = _pair("bwb.max_wing_points", 50.0, chain=_far_wing_gap())
    s = _intent(a)
    assert _body(s).strike - min(g.contract.strike for g in s.legs) == 80.0
    _refused(b, "wing width 80 points is wider than max_wing_points 50")


def bwb_min_credit_points() -> None:
    a, b = _pair("bwb.min_credit_points", 1.0)
    assert isinstance(a, OrderIntent)
    assert isinstance(b, OrderIntent)
    assert a.limit_price is not None
    assert b.limit_price is not None
    assert a.limit_price < 1.0 <= b.limit_price  # a later expiry that pays the floor


# --------------------------------------------------------------------------------------------
# [ladder.condor] (with structure = "condor")


def condor_wing_rule() -> None:
    a, b = _pair("condor.wing_rule", "delta", base=CONDOR)
    assert _wings(_intent(a)) == (50.0, 50.0)
    assert _wings(_intent(b)) != (50.0, 50.0)


def condor_wing_points() -> None:
    _, b = _pair("condor.wing_points", 25.0, base=CONDOR)
    assert _wings(_intent(b)) == (25.0, 25.0)


def condor_wing_delta() -> None:
    a, b = _pair("condor.wing_delta", 0.04, base=DELTA_WINGS)
    # lower-delta longs sit further out: wider wings on both sides
    wa, wb = _wings(_intent(a)), _wings(_intent(b))
    assert wb[0] > wa[0]
    assert wb[1] > wa[1]


def condor_max_wing_points() -> None:
    a, b = _pair("condor.max_wing_points", 50.0, base=WIDE_WINGS)
    assert _wings(_intent(a)) == (70.0, 55.0)
    _refused(b, "(14 DTE): wing width 70 points is wider than max_wing_points 50")


def condor_min_credit_frac() -> None:
    a, b = _pair("condor.min_credit_frac", 0.5, base=CONDOR)
    assert isinstance(a, OrderIntent)
    _refused(b, "(19 DTE): credit 5.60 points at mids is below 50% of the 50-point wing")


def condor_drawdown_tolerance() -> None:
    # a put break-even 10% below spot cannot be reached above |delta| 0.03 at 7-21 days
    a, b = _pair("condor.drawdown_tolerance", 0.10, base=CONDOR)
    assert isinstance(a, OrderIntent)
    _refused(b, "less than the drawdown tolerance 10%")


def condor_align_breakeven() -> None:
    a, b = _pair("condor.align_breakeven", False, base=CONDOR)
    assert isinstance(a, OrderIntent)
    assert any("put spread moved out" in r for r in a.reasons)
    _refused(b, "break-even alignment is off")


def condor_aligned_put_delta_min() -> None:
    # the default moved the short put out to |delta| 0.062; a 0.07 floor stops short of that
    a, b = _pair("condor.aligned_put_delta_min", 0.07, base=CONDOR)
    assert isinstance(a, OrderIntent)
    _refused(b, "moving the put spread out down to |delta| 7.0 finds no strike that clears it")


CASES: dict[str, Callable[[], None]] = {
    "ladder.structure": structure,
    "ladder.min_dte": min_dte,
    "ladder.target_dte": target_dte,
    "ladder.max_dte": max_dte,
    "ladder.short_delta": short_delta,
    "ladder.short_delta_min": short_delta_min,
    "ladder.short_delta_max": short_delta_max,
    "ladder.skewed_short_delta": skewed_short_delta,
    "ladder.max_rungs": max_rungs,
    "ladder.cadence_sessions": cadence_sessions,
    "ladder.vx1_rsi_below": vx1_rsi_below,
    "ladder.spx_rsi_above": spx_rsi_above,
    "ladder.no_new_rung_from_level": no_new_rung_from_level,
    "ladder.roots": roots,
    "ladder.liquidity.max_quote_width_points": max_quote_width_points,
    "ladder.liquidity.max_quote_width_frac": max_quote_width_frac,
    "ladder.liquidity.min_open_interest": min_open_interest,
    "ladder.liquidity.min_volume": min_volume,
    "ladder.bwb.side": bwb_side,
    "ladder.bwb.narrow_wing_points": bwb_narrow_wing_points,
    "ladder.bwb.wide_wing_points": bwb_wide_wing_points,
    "ladder.bwb.max_wing_points": bwb_max_wing_points,
    "ladder.bwb.min_credit_points": bwb_min_credit_points,
    "ladder.condor.wing_rule": condor_wing_rule,
    "ladder.condor.wing_points": condor_wing_points,
    "ladder.condor.wing_delta": condor_wing_delta,
    "ladder.condor.max_wing_points": condor_max_wing_points,
    "ladder.condor.min_credit_frac": condor_min_credit_frac,
    "ladder.condor.drawdown_tolerance": condor_drawdown_tolerance,
    "ladder.condor.align_breakeven": condor_align_breakeven,
    "ladder.condor.aligned_put_delta_min": condor_aligned_put_delta_min,
}


@pytest.mark.parametrize("key", sorted(CASES))
def test_changing_the_key_changes_the_ladder(key: str) -> None:
    CASES[key]()
