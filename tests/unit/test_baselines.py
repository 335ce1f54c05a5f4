"""The baselines (METHOD §11) on the short synthetic market of ``test_runner.py``.

The market is the embedded default one (seed 7) walked from 2018-01-02 to 2018-03-29 with
25-point wings and 1,000,000 USD, filled at the default k = 0.5. The static 4/4/2 hedge is
also run with 10,000,000 USD: at 1,000,000 the condor book's max loss (about 18,000 USD) makes
a long-layer tranche budget of about 90 USD, less than one 150-180 DTE VIX call, so the long
layer rounds to zero contracts there (the rule working, not a failure of the baseline).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date
from typing import Any

import pandas as pd
import pytest

from vixshield import calendar
from vixshield.backtest.baselines import (
    BASELINES,
    BuyAndHoldSleeve,
    run_baseline,
    vxth_weight,
)
from vixshield.backtest.runner import BacktestResult, backtest_stages
from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.model_chains import model_vix_chain
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.decisions import Action
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.strategy.alvh import HedgeLayer, HedgePosition, hedge_decision, hedge_layer_of
from vixshield.strategy.condor import CondorParams

EQUITY = 1_000_000.0
CONFIG = StrategyConfig(condor=CondorParams(wing_points=25.0))
START, END = date(2018, 1, 2), date(2018, 3, 29)
PINNED_K0 = 1_000_904.752677469  # test_runner.PINNED[0.0]: the full method at k = 0


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    return MarketHistory.from_synthetic(
        synthetic_market(date(2017, 1, 3), date(2018, 6, 29), seed=7)
    )


_RUNS: dict[tuple[str, float], BacktestResult] = {}


def _run(history: MarketHistory, name: str, equity: float = EQUITY) -> BacktestResult:
    key = (name, equity)
    if key not in _RUNS:
        _RUNS[key] = run_baseline(
            name, history, start=START, end=END, config=CONFIG, equity_usd=equity
        )
    return _RUNS[key]


def _vix_labels(r: BacktestResult) -> list[str]:
    return [g.label for e in r.ledger for g in e.legs if g.label.startswith("VIX")]


# -- the table --------------------------------------------------------------------------------


def test_the_baselines_are_named_and_described() -> None:
    assert list(BASELINES) == ["full_alvh", "unhedged", "static_442", "vxth_hedge", "buy_and_hold"]
    for b in BASELINES.values():
        assert b.display_name
        assert b.description.endswith(".")
        assert b.description.count(". ") == 0  # one sentence
    assert BASELINES["full_alvh"].stages is backtest_stages
    assert isinstance(BASELINES["buy_and_hold"].sleeve, BuyAndHoldSleeve)
    assert all(BASELINES[k].sleeve is None for k in ("full_alvh", "unhedged", "static_442"))
    with pytest.raises(InvalidInputError, match="unknown baseline 'nope'; choose from"):
        run_baseline(
            "nope", MarketHistory.from_synthetic(synthetic_market(START, END, seed=7)),
            start=START, end=END, config=CONFIG, equity_usd=EQUITY,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("forward", "weight"),
    [
        (10.0, 0.0),
        (15.0, 0.0),  # X <= 15: none
        (15.000001, 0.01),
        (22.0, 0.01),
        (30.0, 0.01),  # 15 < X <= 30: 1%
        (30.000001, 0.005),
        (50.0, 0.005),  # 30 < X <= 50: 0.5%
        (50.000001, 0.0),  # X > 50: none
        (80.0, 0.0),
    ],
)
def test_vxth_weight_table_at_its_boundaries(forward: float, weight: float) -> None:
    assert vxth_weight(forward) == weight


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_vxth_weight_refuses_a_bad_forward(bad: float) -> None:
    with pytest.raises(InvalidInputError, match="forward VIX"):
        vxth_weight(bad)


# -- full method and unhedged -----------------------------------------------------------------


def test_full_alvh_is_the_default_run(history: MarketHistory) -> None:
    from vixshield.backtest.fills import FillParams

    r = run_baseline(
        "full_alvh", history, start=START, end=END, config=CONFIG, equity_usd=EQUITY,
        fill=FillParams(half_spread_fraction=0.0),
    )  # fmt: skip
    assert r.equity.iloc[-1] == pytest.approx(PINNED_K0, rel=1e-9)


def test_unhedged_never_holds_a_vix_leg(history: MarketHistory) -> None:
    r = _run(history, "unhedged")
    assert r.fills > 0  # condors traded
    assert _vix_labels(r) == []
    assert all(g.contract.root != "VIX" for d in r.days for s in d.book.structures for g in s.legs)
    assert all(
        o.structure is None or all(g.contract.root != "VIX" for g in o.structure.legs)
        for d in r.days
        for o in d.decision.orders
    )
    assert r.hedge_events.empty
    assert r.daily["hedge_score"].isna().all()  # no hedge stage ran
    assert all("risk" in d.decision.book["stages"] for d in r.days)  # the risk stage still runs
    assert r.daily["vix_delta_usd_per_vixpt"].eq(0.0).all()


# -- static 4/4/2 -----------------------------------------------------------------------------


def _layers(structures: tuple[Structure, ...]) -> dict[str, int]:
    return dict(Counter(str(hedge_layer_of(s.name)) for s in structures if hedge_layer_of(s.name)))


def test_static_442_holds_all_three_layers_from_the_first_day_it_can(
    history: MarketHistory,
) -> None:
    r = _run(history, "static_442", 10 * EQUITY)
    first = r.days[0]
    # the first session opens the first condor and, on its max loss, all 12 tranches
    opens = [o for o in first.decision.orders if o.action is Action.OPEN and o.structure]
    assert Counter(str(hedge_layer_of(o.structure.name)) for o in opens if o.structure) == {
        "short": 4, "medium": 4, "long": 4, "None": 1,
    }  # fmt: skip
    assert list(r.refusals) == []
    # every later morning book holds the full 4/4/4 tranches (4/4/2 of the budget), whatever
    # the score, rolls included (the short layer is replaced the session it is rolled)
    for d in r.days[1:]:
        assert _layers(d.book.structures) == {"short": 4, "medium": 4, "long": 4}, d.session
    assert set(r.daily["hedge_score"]) != {4.0}  # the score varies; the hedge does not follow it
    rolls = r.hedge_events.loc[r.hedge_events["action"] == "roll"]
    assert len(rolls) > 0
    assert set(rolls["layer"]) == {"short"}
    assert all("replaced by a new short-layer tranche" in x for x in rolls["reason"])
    # no monetising and no cost discipline: no tranche is closed but by the roll
    closes = r.hedge_events.loc[r.hedge_events["kind"] == "close"]
    assert (closes["action"] == "roll").all()
    assert not any(
        "cost discipline" in " ".join(f.reasons) for d in r.days for f in d.decision.refusals
    )


def test_static_442_at_one_million_still_holds_what_rounds_to_a_contract(
    history: MarketHistory,
) -> None:
    r = _run(history, "static_442")
    assert _layers(r.days[1].book.structures) == {"short": 4, "medium": 4}
    refused = [f for f in r.days[0].decision.refusals if f.what == "long-layer tranche 1"]
    assert "rounds to zero contracts" in refused[0].reasons[-2]


def test_always_on_targets_every_tranche_and_skips_monetise_and_discipline() -> None:
    """``hedge_decision(always_on=True)`` against the same inputs as the ALVH."""
    session = date(2019, 7, 10)  # 7 days before the 2019-07-17 VIX expiry
    exps = calendar.vx_expiries(session, date(2020, 7, 1))
    futures = {e: 16.5 + 0.4 * i for i, e in enumerate(exps) if e > session}
    quiet = {
        "term_toward_backwardation": False, "vix_macd_turning_up": False, "ad_divergence": False,
        "ad_line": 1000.0, "days_to_fomc": 20.0, "days_to_cpi": 12.0, "days_to_ppi": 9.0,
        "rsi_vvix": 50.0,
    }  # fmt: skip
    short = HedgePosition(
        Structure(
            "ALVH short tranche 1 2019-06-10 VIX 2019-07-17 20C call",
            (Leg(OptionContract("VIX", date(2019, 7, 17), 20.0, Right.CALL), 2, 1.35),),
        ),
        HedgeLayer.SHORT, date(2019, 6, 10), 270.0,
    )  # fmt: skip
    rich = HedgePosition(  # worth 10x its cost: the ALVH takes the profit
        Structure(
            "ALVH long tranche 1 2019-06-10 VIX 2019-12-18 25C call",
            (Leg(OptionContract("VIX", date(2019, 12, 18), 25.0, Right.CALL), 1, 1.0),),
        ),
        HedgeLayer.LONG, date(2019, 6, 10), 100.0, value_usd=1000.0,
    )  # fmt: skip
    args: dict[str, Any] = {
        "session": session, "indicators": quiet, "regime_level": 1, "peak_regime_level": 1,
        "delta_band_breached": False, "open_hedges": [short, rich],
        "condor_max_loss_usd": 400_000.0, "condor_credit_window_usd": 0.0,
        "hedge_spend_window_usd": 0.0, "equity_usd": 100_000_000.0,
        "vix_chain": model_vix_chain(session, futures, vvix=90.0, rate=0.02),
        "vx_futures": futures, "rate": 0.02,
    }  # fmt: skip
    alvh = hedge_decision(**args)
    assert alvh.score.score == 0
    # ALVH: the rich long tranche is sold (take profit), the short one is rolled into the
    # medium bucket, and the medium purchase is refused by the 3:1 rule (no condor credit)
    assert {o.closes[0] for o in alvh.orders if o.action is Action.CLOSE} == {short.name, rich.name}
    assert any("cost discipline" in r.reasons[-1] for r in alvh.refusals)
    static = hedge_decision(**args, always_on=True)
    assert static.score.score == 0  # the score is still computed and reported
    closes = [o for o in static.orders if o.action is Action.CLOSE]
    assert [o.closes[0] for o in closes] == [short.name]  # the rich tranche is kept
    assert "replaced by a new short-layer tranche (always-on)" in closes[0].reasons[1]
    plan = {p.layer: (p.held, p.target, p.bought, p.rolled_in) for p in static.plan}
    # the rolled short tranche does not count as held: four new short tranches today
    assert plan == {
        HedgeLayer.SHORT: (0, 4, 4, 0),
        HedgeLayer.MEDIUM: (0, 4, 4, 0),
        HedgeLayer.LONG: (1, 4, 3, 0),
    }
    assert static.refusals == ()


# -- VXTH-style hedge -------------------------------------------------------------------------


def _black76_call_delta(
    forward: float, strike: float, t: float, price: float, rate: float
) -> float:
    """Independent oracle: Black-76 implied vol by bisection, then N(d1)."""

    def n(x: float) -> float:
        return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))

    def call(vol: float) -> float:
        d1 = (math.log(forward / strike) + 0.5 * vol * vol * t) / (vol * math.sqrt(t))
        return math.exp(-rate * t) * (forward * n(d1) - strike * n(d1 - vol * math.sqrt(t)))

    lo, hi = 1e-4, 10.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if call(mid) < price else (lo, mid)
    vol = 0.5 * (lo + hi)
    return n((math.log(forward / strike) + 0.5 * vol * vol * t) / (vol * math.sqrt(t)))


def test_vxth_buys_one_month_thirty_delta_calls_on_each_vix_expiry(
    history: MarketHistory,
) -> None:
    r = _run(history, "vxth_hedge")
    ev = r.hedge_events
    opens = ev.loc[ev["kind"] == "open"]
    rolls = calendar.vx_expiries(START, END)
    assert rolls == [date(2018, 1, 17), date(2018, 2, 14), date(2018, 3, 21)]
    assert [t.date() for t in opens["session"]] == rolls  # only on VIX expiries
    frame = r.ledger_frame()
    by_day = {d.session: d for d in r.days}
    for day, nxt in zip(rolls, [*rolls[1:], date(2018, 4, 18)], strict=True):
        (row,) = frame.loc[(frame["kind"] == "open") & (frame["session"] == pd.Timestamp(day))
                           & frame["leg"].str.startswith("VIX")].itertuples()  # fmt: skip
        # one-month: the next VIX expiry
        assert row.leg.startswith(f"VIX {nxt.isoformat()} ")
        snap = history.snapshot(day, clock=FixedClock(stamp(day)))
        forward = next(p.settle for p in snap.vx_curve if p.expiry == nxt)
        weight = vxth_weight(forward)
        assert 15 < forward <= 30
        assert weight == 0.01
        # contracts by hand: floor(1% x the equity the engine was given / (100 x mid))
        equity = by_day[day].equity_in_usd
        assert row.quantity == math.floor(weight * equity / (100 * row.mid))
        # ~30 delta by an independent Black-76 on the same-expiry future
        strike = float(row.leg.split()[-1][:-1])
        rate = snap.rate.value  # type: ignore[union-attr]
        delta = _black76_call_delta(forward, strike, (nxt - day).days / 365.0, row.mid, rate)
        assert abs(delta - 0.30) < 0.05
        assert by_day[day].decision.book["stages"]["vxth"]["weight"] == weight
    # held to expiry and settled at the VRO proxy (the previous session's VIX close)
    settles = ev.loc[ev["kind"] == "settle"]
    assert [t.date() for t in settles["session"]] == rolls[1:]
    for t, structure, cash in zip(
        settles["session"], settles["structure"], settles["cash_usd"], strict=True
    ):
        day = t.date()
        prev = calendar.previous_session(day)
        vix = float(history.daily.loc[pd.Timestamp(prev), "vix"])
        strike = float(structure.split()[-1][:-1])
        n = ev.loc[(ev["structure"] == structure) & (ev["kind"] == "open"), "contracts"].iloc[0]
        assert cash == pytest.approx(max(0.0, vix - strike) * 100 * n)
    assert ev["layer"].isna().all()  # not ALVH tranches
    assert r.daily["hedge_score"].isna().all()


# -- buy and hold -----------------------------------------------------------------------------


def test_buy_and_hold_tracks_spx(history: MarketHistory) -> None:
    r = _run(history, "buy_and_hold")
    d = r.daily
    closes = history.daily["spx_close"].loc[pd.Timestamp(START) : pd.Timestamp(END)]
    units = EQUITY / float(closes.iloc[0])
    assert d["index_units"].to_numpy() == pytest.approx([units] * len(d), rel=1e-15)
    assert d["index_level"].to_numpy() == pytest.approx(closes.to_numpy(), rel=1e-15)
    assert r.fills == 0
    assert [e.kind for e in r.ledger if e.kind not in ("interest", "dividend")] == ["index"]
    # equity = units x close + the cash: dividends and the interest they earn, by the ledger
    carry = pd.Series(
        [e.cash_usd for e in r.ledger if e.kind != "index"],
        index=[pd.Timestamp(e.session) for e in r.ledger if e.kind != "index"],
    ).groupby(level=0).sum().reindex(d.index, fill_value=0.0).cumsum()  # fmt: skip
    assert d["equity_usd"].to_numpy() == pytest.approx(
        (units * closes + carry).to_numpy(), rel=1e-12
    )
    # tracks the index: the return differs by the carry only (about 1.5% a year in dividends)
    gap = d["equity_usd"] / EQUITY - closes / closes.iloc[0]
    assert (gap >= 0).all()
    assert gap.iloc[-1] < 0.015 * 90 / 365 * 1.2
    assert d["margin_usd"].eq(0.0).all()
    assert d["index_delta_usd_per_pct"].iloc[-1] == pytest.approx(units * closes.iloc[-1] / 100)
