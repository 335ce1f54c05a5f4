"""The VIX formula: Cboe's published worked example, and hand-built chains for each rule.

Every expected number here comes from outside the code under test: Cboe's published worked
example (tests/golden/vix_whitepaper_*.csv, whose header names the source) or arithmetic written
out by hand in the comments.
"""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from vixshield.errors import DataError, InvalidInputError
from vixshield.pricing.vix import (
    ExpiryQuotes,
    OptionQuotes,
    SettlementStyle,
    TermVariance,
    select_terms,
    settlement_instant,
    term_variance,
    vix_from_terms,
    vix_index,
)
from vixshield.units import NEW_YORK

GOLDEN = Path(__file__).resolve().parents[1] / "golden"

# ---------------------------------------------------------------------------------------------
# Cboe's worked example (Cboe Volatility Index Methodology, appendices; see the CSV headers).
# Quote instant 2022-09-27 10:46 ET; near = SPX AM 2022-10-21 (24 days), next = SPXW PM
# 2022-10-28 (31 days).
# ---------------------------------------------------------------------------------------------

WP_QUOTE_TIME = datetime(2022, 9, 27, 10, 46, tzinfo=NEW_YORK)
WP_NEAR_EXPIRY = date(2022, 10, 21)
WP_NEXT_EXPIRY = date(2022, 10, 28)
WP_R1 = 0.00031664
WP_R2 = 0.00028797


def _golden_rows(term: str) -> list[dict[str, str]]:
    with (GOLDEN / f"vix_whitepaper_{term}.csv").open(newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def _side(rows: list[dict[str, str]], option_type: str) -> OptionQuotes:
    chosen = [r for r in rows if r["option_type"] == option_type]
    return OptionQuotes(
        np.array([float(r["strike"]) for r in chosen]),
        np.array([float(r["bid"]) for r in chosen]),
        np.array([float(r["ask"]) for r in chosen]),
    )


def _whitepaper_expiry(term: str, expiry: date | None = None) -> ExpiryQuotes:
    rows = _golden_rows(term)
    style: SettlementStyle
    if term == "near":
        exp, style, root = expiry or WP_NEAR_EXPIRY, "AM", "SPX"
    else:
        exp, style, root = expiry or WP_NEXT_EXPIRY, "PM", "SPXW"
    return ExpiryQuotes(
        exp, settlement_instant(exp, style), _side(rows, "C"), _side(rows, "P"), root=root
    )


@pytest.fixture(scope="module")
def wp_near() -> TermVariance:
    return term_variance(_whitepaper_expiry("near"), WP_QUOTE_TIME, rate=WP_R1)


@pytest.fixture(scope="module")
def wp_next() -> TermVariance:
    return term_variance(_whitepaper_expiry("next"), WP_QUOTE_TIME, rate=WP_R2)


def test_whitepaper_times_in_minutes(wp_near: TermVariance, wp_next: TermVariance) -> None:
    # Published: T1 = 34,484 / 525,600 = 0.0656088 (854 + 510 + 33,120 minutes, Central time),
    #            T2 = 44,954 / 525,600 = 0.0855289 (854 + 900 + 43,200).
    assert wp_near.minutes == pytest.approx(34_484, abs=1e-6)
    assert wp_next.minutes == pytest.approx(44_954, abs=1e-6)
    assert round(wp_near.t_years, 7) == 0.0656088
    assert round(wp_next.t_years, 7) == 0.0855289


def test_whitepaper_forward_and_k0(wp_near: TermVariance, wp_next: TermVariance) -> None:
    # Published: F1 = 1965 + e^{RT}(21.05 - 23.15) = 1962.89996,
    #            F2 = 1960 + e^{RT}(27.30 - 24.90) = 1962.40006; K0 = 1960 for both.
    assert wp_near.parity_strike == 1965.0
    assert wp_next.parity_strike == 1960.0
    assert round(wp_near.forward, 5) == 1962.89996
    assert round(wp_next.forward, 5) == 1962.40006
    assert wp_near.k0 == wp_next.k0 == 1960.0


@pytest.mark.parametrize(
    ("term", "n_strikes", "lowest", "highest", "excluded"),
    [
        # Near: puts stop at the 1365/1360 zero-bid pair (1355 and 1350 carry bids but lie
        # beyond the stop); calls stop at 2150/2175; lone zero bids 1405, 1415, 2120 skipped.
        ("near", 146, 1370.0, 2125.0, (1405.0, 1415.0, 2120.0, 1350.0, 1355.0, 2225.0)),
        # Next: puts stop at 1250/1225; lone zero bid 1300 skipped; calls run out at 2200.
        ("next", 122, 1275.0, 2200.0, (1300.0,)),
    ],
)
def test_whitepaper_strip_membership(
    term: str, n_strikes: int, lowest: float, highest: float, excluded: tuple[float, ...]
) -> None:
    result = term_variance(
        _whitepaper_expiry(term), WP_QUOTE_TIME, rate=WP_R1 if term == "near" else WP_R2
    )
    assert result.n_strikes == n_strikes
    assert (result.strikes[0], result.strikes[-1]) == (lowest, highest)
    assert not set(excluded) & set(result.strikes.tolist())
    assert result.put_wing_stopped
    assert result.call_wing_stopped == (term == "near")


@pytest.mark.parametrize("term", ["near", "next"])
def test_whitepaper_every_strike_mid_and_delta_k(term: str) -> None:
    """Each strip strike's Q(K) and dK equal Appendix 5 (dK over strip strikes, e.g. the near
    1400 put has dK = (1410 - 1395)/2 = 7.5 because the zero-bid 1405 put is skipped)."""
    rows = [r for r in _golden_rows(term) if r["published_dk"]]
    published = {float(r["strike"]): float(r["published_dk"]) for r in rows}
    published_mid = {
        float(r["strike"]): (float(r["bid"]) + float(r["ask"])) / 2
        for r in rows
        if float(r["strike"]) != 1960.0
    }
    published_mid[1960.0] = (
        22.775 if term == "near" else 26.10
    )  # (24.25 + 21.30)/2, (27.30 + 24.90)/2
    result = term_variance(
        _whitepaper_expiry(term), WP_QUOTE_TIME, rate=WP_R1 if term == "near" else WP_R2
    )
    assert result.strikes.tolist() == sorted(published)
    assert result.delta_k.tolist() == [published[k] for k in result.strikes]
    np.testing.assert_allclose(
        result.mids, [published_mid[k] for k in result.strikes], rtol=0, atol=1e-12
    )
    assert result.option_types[result.strikes.tolist().index(1960.0)] == "put/call average"


def test_whitepaper_variances(wp_near: TermVariance, wp_next: TermVariance) -> None:
    # Published (Appendix 5 sums to 10 dp; (2/T)*sum to 6 dp; adjustment to 8 dp; sigma^2 to 9 dp):
    #   near: sum 0.0006320516, (2/T1) sum 0.019267, (1/T1)(F1/K0 - 1)^2 0.00003337, 0.019233906
    #   next: sum 0.0008314016, (2/T2) sum 0.019441, (1/T2)(F2/K0 - 1)^2 0.00001753, 0.019423884
    assert wp_near.strip_sum == pytest.approx(0.0006320516, abs=5e-11)
    assert wp_next.strip_sum == pytest.approx(0.0008314016, abs=5e-11)
    assert round(2 * wp_near.strip_sum / wp_near.t_years, 6) == 0.019267
    assert round(2 * wp_next.strip_sum / wp_next.t_years, 6) == 0.019441
    assert round(wp_near.forward_adjustment, 8) == 0.00003337
    assert round(wp_next.forward_adjustment, 8) == 0.00001753
    assert round(wp_near.variance, 9) == 0.019233906
    assert round(wp_next.variance, 9) == 0.019423884


def test_whitepaper_vix(wp_near: TermVariance, wp_next: TermVariance) -> None:
    # Published: 100 * sqrt{[T1 s1^2 (N2 - N30)/(N2 - N1) + T2 s2^2 (N30 - N1)/(N2 - N1)] N365/N30}
    #            = 100 * 0.13927842 = 13.93.
    result = vix_from_terms(wp_near, wp_next)
    assert round(result.value / 100, 8) == 0.13927842
    assert round(result.value, 2) == 13.93
    # Weights (44,954 - 43,200)/(44,954 - 34,484) = 1,754/10,470 and 8,716/10,470.
    assert result.weight_near == pytest.approx(1_754 / 10_470, rel=1e-12)
    assert result.weight_next == pytest.approx(8_716 / 10_470, rel=1e-12)
    assert result.notes == ()


def test_whitepaper_end_to_end_selects_the_published_terms() -> None:
    # Decoys around the two real terms: 17 days (too near), 38 days (too far), a Wednesday.
    # The term quotes are re-used under other dates; only the selection is under test here.
    near, nxt = _whitepaper_expiry("near"), _whitepaper_expiry("next")
    decoys = [
        _whitepaper_expiry("next", date(2022, 10, 14)),
        _whitepaper_expiry("next", date(2022, 11, 4)),
        _whitepaper_expiry("next", date(2022, 10, 26)),
    ]
    rates = {WP_NEAR_EXPIRY: WP_R1, WP_NEXT_EXPIRY: WP_R2}

    def curve(t_years: float) -> float:
        return WP_R1 if t_years < 0.07 else WP_R2

    result = vix_index([*decoys, nxt, near], WP_QUOTE_TIME, rate=curve)
    assert result.near.expiry == WP_NEAR_EXPIRY
    assert result.next_term is not None
    assert result.next_term.expiry == WP_NEXT_EXPIRY
    assert round(result.value, 2) == 13.93
    summary = result.summary()
    assert summary["k0_1"] == summary["k0_2"] == 1960.0
    assert (summary["n_strikes_1"], summary["n_strikes_2"]) == (146, 122)
    assert summary["rate_1"] == rates[WP_NEAR_EXPIRY]
    table = result.near.to_frame()
    assert list(table.columns) == ["strike", "option_type", "mid", "delta_k", "contribution"]
    assert len(table) == 146


# ---------------------------------------------------------------------------------------------
# Hand-built chains. T = 52,560 minutes (36.5 days) = 0.1 year exactly; R = 0 unless stated, so
# e^{RT} = 1 and every number below can be checked on paper.
# ---------------------------------------------------------------------------------------------

QT = datetime(2024, 4, 1, 10, 0, tzinfo=NEW_YORK)  # no DST change before settlement
SETTLE = QT + timedelta(minutes=52_560)
EXP = SETTLE.date()

# Uneven strikes so that the one-sided end rule and the central rule give different dK.
#        strike: 70           90           100         105         120
CALLS = {
    70.0: (30.0, 31.0),
    90.0: (10.5, 11.5),
    100.0: (3.8, 4.2),
    105.0: (1.9, 2.1),
    120.0: (0.1, 0.3),
}
PUTS = {
    70.0: (0.2, 0.4),
    90.0: (0.9, 1.1),
    100.0: (2.8, 3.2),
    105.0: (5.8, 6.2),
    120.0: (19.0, 20.2),
}


def _quotes(book: dict[float, tuple[float, float]]) -> OptionQuotes:
    ks = sorted(book)
    return OptionQuotes(
        np.array(ks), np.array([book[k][0] for k in ks]), np.array([book[k][1] for k in ks])
    )


def _expiry(
    calls: dict[float, tuple[float, float]] = CALLS,
    puts: dict[float, tuple[float, float]] = PUTS,
    *,
    expiry: date = EXP,
    settlement: datetime = SETTLE,
) -> ExpiryQuotes:
    return ExpiryQuotes(expiry, settlement, _quotes(calls), _quotes(puts), root="TEST")


def test_hand_chain_forward_k0_strip_and_variance() -> None:
    # Call mids 30.5, 11, 4, 2, 0.2; put mids 0.3, 1, 3, 6, 19.6.
    # |C - P| = 30.2, 10, 1, 4, 19.4 -> K* = 100, F = 100 + 1 * (4 - 3) = 101, K0 = 100.
    # Strip: 70 put 0.3 | 90 put 1 | 100 avg (4 + 3)/2 = 3.5 | 105 call 2 | 120 call 0.2
    # dK:    90 - 70 = 20 (one-sided) | (100 - 70)/2 = 15 | (105 - 90)/2 = 7.5 |
    #        (120 - 100)/2 = 10 | 120 - 105 = 15 (one-sided)
    # contributions dK/K^2 * Q: 20*0.3/4900 = 0.00122448979591837,
    #        15*1/8100 = 0.00185185185185185, 7.5*3.5/10000 = 0.002625,
    #        10*2/11025 = 0.00181405895691610, 15*0.2/14400 = 0.000208333333333333
    # sum = 0.00772373393801965
    # sigma^2 = (2/0.1) * 0.00772373393801965 - (1/0.1) * (101/100 - 1)^2
    #         = 0.154474678760393 - 0.001 = 0.153474678760393
    result = term_variance(_expiry(), QT, rate=0.0)
    assert result.t_years == pytest.approx(0.1, rel=1e-15)
    assert result.parity_strike == 100.0
    assert result.forward == pytest.approx(101.0, abs=1e-12)
    assert result.k0 == 100.0
    assert result.strikes.tolist() == [70.0, 90.0, 100.0, 105.0, 120.0]
    assert result.option_types == ("put", "put", "put/call average", "call", "call")
    np.testing.assert_allclose(result.mids, [0.3, 1.0, 3.5, 2.0, 0.2], atol=1e-12)
    assert result.delta_k.tolist() == [20.0, 15.0, 7.5, 10.0, 15.0]
    np.testing.assert_allclose(
        result.contributions,
        [
            0.00122448979591837,
            0.00185185185185185,
            0.002625,
            0.00181405895691610,
            0.000208333333333333,
        ],
        rtol=1e-13,
    )
    assert result.strip_sum == pytest.approx(0.00772373393801965, rel=1e-13)
    assert result.variance == pytest.approx(0.153474678760393, rel=1e-12)
    assert not result.put_wing_stopped
    assert not result.call_wing_stopped


def test_hand_chain_rate_enters_through_e_rt() -> None:
    # R = 5%, T = 0.1: e^{RT} = e^{0.005} = 1.00501252085940.
    # F = 100 + 1.00501252085940 * (4 - 3) = 101.00501252085940; K0 still 100.
    # Each contribution is the R = 0 one times 1.00501252085940.
    flat = term_variance(_expiry(), QT, rate=0.0)
    result = term_variance(_expiry(), QT, rate=0.05)
    assert result.forward == pytest.approx(101.00501252085940, rel=1e-14)
    np.testing.assert_allclose(
        result.contributions, flat.contributions * 1.00501252085940, rtol=1e-13
    )


def test_zero_bids_single_skipped_and_two_consecutive_stop() -> None:
    # Puts walking down from K0 = 100: 90 ok, 80 ok (0.1/0.3), 70 zero bid (skipped),
    # 65 ok (0.05/0.15), 60 zero, 55 zero -> stop; the 50 put has a bid but lies beyond the stop.
    # Calls walking up: 105 ok, 120 ok, 125 zero (skipped), 130 ok (0.05/0.1), 135 zero,
    # 140 zero -> stop; the 145 call is beyond the stop.
    puts = {
        **PUTS,
        50.0: (0.05, 0.15),
        55.0: (0.0, 0.1),
        60.0: (0.0, 0.1),
        65.0: (0.05, 0.15),
        70.0: (0.0, 0.2),
        80.0: (0.1, 0.3),
    }
    calls = {
        **CALLS,
        125.0: (0.0, 0.05),
        130.0: (0.05, 0.1),
        135.0: (0.0, 0.05),
        140.0: (0.0, 0.05),
        145.0: (0.05, 0.1),
    }
    result = term_variance(_expiry(calls, puts), QT, rate=0.0)
    assert result.strikes.tolist() == [65.0, 80.0, 90.0, 100.0, 105.0, 120.0, 130.0]
    # dK over strip strikes: 65: 80 - 65 = 15 (one-sided); 80: (90 - 65)/2 = 12.5;
    # 90: (100 - 80)/2 = 10; 100: (105 - 90)/2 = 7.5; 105: (120 - 100)/2 = 10;
    # 120: (130 - 105)/2 = 12.5; 130: 130 - 120 = 10 (one-sided).
    assert result.delta_k.tolist() == [15.0, 12.5, 10.0, 7.5, 10.0, 12.5, 10.0]
    # End contributions: 15 * 0.1 / 65^2 = 0.000355029585798817; 10 * 0.075 / 130^2 = 4.43786982e-5
    assert result.contributions[0] == pytest.approx(0.000355029585798817, rel=1e-13)
    assert result.contributions[-1] == pytest.approx(0.75 / 16_900, rel=1e-13)
    assert result.put_wing_stopped
    assert result.call_wing_stopped


def test_lone_zero_bid_at_wing_end_does_not_stop() -> None:
    # A single zero bid at the last listed put (70) is skipped; the wing ran off the listing.
    puts = {**PUTS, 70.0: (0.0, 0.2)}
    result = term_variance(_expiry(CALLS, puts), QT, rate=0.0)
    assert result.strikes.tolist() == [90.0, 100.0, 105.0, 120.0]
    assert result.delta_k[0] == 10.0  # one-sided: 100 - 90
    assert not result.put_wing_stopped


def test_forward_exactly_on_a_strike_gives_zero_adjustment() -> None:
    # Make C = P at 100 (call 2.8/3.2): F = 100 exactly, K0 = 100, (F/K0 - 1)^2 = 0.
    calls = {**CALLS, 100.0: (2.8, 3.2)}
    result = term_variance(_expiry(calls, PUTS), QT, rate=0.0)
    assert result.forward == 100.0
    assert result.k0 == 100.0
    assert result.forward_adjustment == 0.0
    assert result.mids[result.strikes.tolist().index(100.0)] == pytest.approx(3.0)


# ---------------------------------------------------------------------------------------------
# 30-day interpolation by hand.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_term() -> TermVariance:
    return term_variance(_expiry(), QT, rate=0.0)


def test_interpolation_by_hand(base_term: TermVariance) -> None:
    # N1 = 34,560 (24 days), N2 = 44,640 (31 days), N30 = 43,200, N365 = 525,600;
    # sigma1^2 = 0.04, sigma2^2 = 0.09.
    # w1 = (44,640 - 43,200)/10,080 = 1/7, w2 = 8,640/10,080 = 6/7.
    # [T1 s1^2 w1 + T2 s2^2 w2] * N365/N30 = [34,560*0.04/7 + 44,640*0.09*6/7] / 43,200
    #   = (1,382.4 + 24,105.6) / 7 / 43,200 = 25,488 / 302,400 = 0.0842857142857...
    # VIX = 100 * sqrt(0.0842857142857) = 29.0320...
    near = replace(base_term, t_years=34_560 / 525_600, variance=0.04)
    nxt = replace(base_term, t_years=44_640 / 525_600, variance=0.09)
    result = vix_from_terms(near, nxt)
    assert result.weight_near == pytest.approx(1 / 7, rel=1e-14)
    assert result.weight_next == pytest.approx(6 / 7, rel=1e-14)
    assert result.value == pytest.approx(100 * math.sqrt(25_488 / 302_400), rel=1e-13)
    assert result.value == pytest.approx(29.0320, abs=5e-5)


def test_single_term_exact_30_days(base_term: TermVariance) -> None:
    # VRO case: one term at N = 43,200 with sigma^2 = 0.0625 -> VIX = 100 * 0.25 = 25.
    term = replace(base_term, t_years=43_200 / 525_600, variance=0.0625)
    result = vix_from_terms(term)
    assert result.value == pytest.approx(25.0, rel=1e-15)
    assert result.next_term is None
    assert (result.weight_near, result.weight_next) == (1.0, 0.0)


def test_interpolation_refuses_out_of_order_terms(base_term: TermVariance) -> None:
    near = replace(base_term, t_years=34_560 / 525_600, variance=0.04)
    nxt = replace(base_term, t_years=44_640 / 525_600, variance=0.09)
    with pytest.raises(InvalidInputError, match="must settle after the near term"):
        vix_from_terms(nxt, near)


def test_negative_variance_is_an_error(base_term: TermVariance) -> None:
    bad = replace(base_term, variance=-0.01)
    with pytest.raises(DataError, match="< 0"):
        vix_from_terms(bad)


# ---------------------------------------------------------------------------------------------
# Term selection.
# ---------------------------------------------------------------------------------------------


def _on(expiry: date, style: SettlementStyle = "PM", root: str = "SPXW") -> ExpiryQuotes:
    return ExpiryQuotes(
        expiry, settlement_instant(expiry, style), _quotes(CALLS), _quotes(PUTS), root=root
    )


def test_select_tuesday_prefers_am_monthly_on_third_friday() -> None:
    # Tuesday 2022-09-27: Fridays at 3, 10, 17, 24 (AM SPX and PM SPXW), 31, 38 days; and a
    # Wednesday at 29 days. Window 23 < days <= 37 -> 24 (AM preferred) and 31.
    quote_time = datetime(2022, 9, 27, 10, 0, tzinfo=NEW_YORK)
    days = (3, 10, 17, 31, 38, 29)
    chain = [_on(date(2022, 9, 27) + timedelta(days=d)) for d in days]
    chain += [_on(date(2022, 10, 21), "PM", "SPXW2"), _on(date(2022, 10, 21), "AM", "SPX")]
    near, nxt = select_terms(chain, quote_time)
    assert (near.expiry, near.root) == (date(2022, 10, 21), "SPX")
    assert nxt is not None
    assert nxt.expiry == date(2022, 10, 28)


def test_select_wednesday_takes_30_and_37_days() -> None:
    # Wednesday 2019-06-26: Fridays at 23 (excluded: not more than 23), 30 and 37 days
    # (the white paper's Wednesday roll: 30-day near, 37-day next).
    quote_time = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
    chain = [_on(date(2019, 7, 19), "AM", "SPX"), _on(date(2019, 7, 26)), _on(date(2019, 8, 2))]
    near, nxt = select_terms(chain, quote_time)
    assert near.expiry == date(2019, 7, 26)
    assert nxt is not None
    assert nxt.expiry == date(2019, 8, 2)


def test_select_exact_30_days_is_single_term() -> None:
    # VRO: quotes at 09:30 on Wednesday 2019-06-19, SPX AM expiry 2019-07-19 09:30:
    # exactly 30 * 1,440 = 43,200 minutes.
    quote_time = datetime(2019, 6, 19, 9, 30, tzinfo=NEW_YORK)
    chain = [_on(date(2019, 7, 12)), _on(date(2019, 7, 19), "AM", "SPX"), _on(date(2019, 7, 26))]
    near, nxt = select_terms(chain, quote_time)
    assert near.expiry == date(2019, 7, 19)
    assert nxt is None
    result = vix_index(chain, quote_time, rate=0.0)
    assert result.next_term is None
    assert result.near.minutes == pytest.approx(43_200, abs=1e-9)
    assert result.value == pytest.approx(100 * math.sqrt(result.near.variance), rel=1e-15)


def test_select_needs_two_terms() -> None:
    quote_time = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
    with pytest.raises(DataError, match="need two Friday expiries"):
        select_terms([_on(date(2019, 7, 26)), _on(date(2019, 7, 31))], quote_time)


def test_settlement_instants() -> None:
    assert settlement_instant(date(2019, 7, 19), "AM") == datetime(
        2019, 7, 19, 9, 30, tzinfo=NEW_YORK
    )
    assert settlement_instant(date(2019, 7, 26), "PM") == datetime(
        2019, 7, 26, 16, 0, tzinfo=NEW_YORK
    )
    with pytest.raises(InvalidInputError, match="'AM' or 'PM'"):
        settlement_instant(date(2019, 7, 26), "XX")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Bad input: a clear error naming expiry, strike and field, never a number.
# ---------------------------------------------------------------------------------------------

EXP_TEXT = EXP.isoformat()


def test_crossed_quote_names_expiry_strike_and_field() -> None:
    calls = {**CALLS, 100.0: (4.3, 4.2)}
    with pytest.raises(
        DataError, match=rf"expiry {EXP_TEXT} call strike 100: crossed quote, field 'bid'"
    ):
        _expiry(calls, PUTS)


def test_nan_quote_names_field() -> None:
    puts = {**PUTS, 90.0: (math.nan, 1.1)}
    with pytest.raises(DataError, match=rf"expiry {EXP_TEXT} put strike 90: field 'bid' = nan"):
        _expiry(CALLS, puts)


def test_negative_ask_names_field() -> None:
    puts = {**PUTS, 90.0: (0.0, -1.0)}
    with pytest.raises(DataError, match=r"put strike 90: field 'ask' = -1.0"):
        _expiry(CALLS, puts)


def test_duplicate_strike_is_refused() -> None:
    quotes = OptionQuotes(np.array([100.0, 100.0]), np.array([1.0, 1.0]), np.array([1.1, 1.1]))
    with pytest.raises(DataError, match="strike 100 appears more than once"):
        ExpiryQuotes(EXP, SETTLE, quotes, _quotes(PUTS))


def test_missing_put_at_k0() -> None:
    # Without the 100 put, parity uses 105: F = 105 + (2 - 6) = 101, K0 = 100 (a listed call
    # strike) and the put there is missing.
    puts = {k: v for k, v in PUTS.items() if k != 100.0}
    with pytest.raises(DataError, match=rf"expiry {EXP_TEXT} strike 100: the put at K0 is missing"):
        term_variance(_expiry(CALLS, puts), QT, rate=0.0)


def test_missing_call_at_k0() -> None:
    calls = {k: v for k, v in CALLS.items() if k != 100.0}
    with pytest.raises(
        DataError, match=rf"expiry {EXP_TEXT} strike 100: the call at K0 is missing"
    ):
        term_variance(_expiry(calls, PUTS), QT, rate=0.0)


def test_zero_bid_at_k0() -> None:
    puts = {**PUTS, 100.0: (0.0, 3.2)}
    with pytest.raises(DataError, match=r"strike 100: the put at K0 has field 'bid' = 0"):
        term_variance(_expiry(CALLS, puts), QT, rate=0.0)


def test_no_two_sided_strike_means_no_forward() -> None:
    calls = {k: v for k, v in CALLS.items() if k > 100.0}
    puts = {k: v for k, v in PUTS.items() if k <= 100.0}
    with pytest.raises(DataError, match="cannot be found"):
        term_variance(_expiry(calls, puts), QT, rate=0.0)


def test_quote_after_settlement_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="is not before settlement"):
        term_variance(_expiry(), SETTLE + timedelta(minutes=1), rate=0.0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="naive"):
        _expiry(settlement=datetime(2024, 5, 7, 16, 0))  # noqa: DTZ001 - the point of the test
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        term_variance(_expiry(), datetime(2024, 4, 1, 10, 0), rate=0.0)  # noqa: DTZ001


def test_non_finite_rate_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="rate"):
        term_variance(_expiry(), QT, rate=math.nan)


def test_arrays_are_read_only(base_term: TermVariance) -> None:
    with pytest.raises(ValueError, match="read-only"):
        base_term.contributions[0] = 1.0


def test_holiday_thursday_stands_in_for_its_friday() -> None:
    # Christmas 2026 is a Friday: the SPXW weekly settles Thursday 2026-12-24 (13:00 early
    # close is irrelevant here, only the date). From Friday 2026-11-20 the window 23 < d <= 37
    # holds 2026-12-18 (28 days) and 2026-12-24 (34 days, standing in for 2026-12-25).
    from vixshield.pricing.vix import _is_friday_expiry

    assert _is_friday_expiry(date(2026, 12, 24))
    assert _is_friday_expiry(date(2026, 12, 18))
    assert not _is_friday_expiry(date(2026, 12, 17))  # an ordinary Thursday
    assert not _is_friday_expiry(date(2026, 12, 23))
