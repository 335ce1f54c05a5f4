"""The service dashboard: history items, the backtest folder reader, and the rendered page.

The page is checked as text (sections in order, every order's reasons, numbers as traders read
them, escaping, no resource from another host) and its figures as the JSON the browser draws
(``tests/integration/test_dashboard_browser.py`` draws them in chromium).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from vixshield.backtest.baselines import run_baseline
from vixshield.backtest.fills import FillParams
from vixshield.backtest.runner import BacktestResult
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory
from vixshield.data.synthetic import synthetic_market
from vixshield.errors import DataError, InvalidInputError
from vixshield.report.backtest_report import write_backtest_report
from vixshield.service import dashboard as dash
from vixshield.service.dashboard import (
    CSP,
    DashboardView,
    history_item,
    load_backtest,
    plotly_js,
    render_dashboard,
)
from vixshield.strategy.condor import CondorParams

NY = ZoneInfo("America/New_York")
SESSION = "2026-11-20"  # a Friday
AFTER_CLOSE = datetime(2026, 11, 20, 16, 40, tzinfo=NY)
CONDOR = "SPXW 2027-01-15 iron condor 5900/5950P 6500/6550C"
SPREAD = "ALVH medium tranche 1 2026-11-20 VIX 2027-03-17 23/34C call spread"
SHORT = "ALVH short tranche 1 2026-10-30 VIX 2026-12-16 21C call"
EVIL = "<script>alert('x')</script> & more"
SECTIONS = ("top", "signal", "book", "payoff", "positions", "scenarios", "history", "equity")


def _leg(contract: str, qty: int, price: float) -> dict[str, Any]:
    root, expiry, strike = contract.split()
    return {
        "contract": contract,
        "root": root,
        "expiry": expiry,
        "strike": float(strike[:-1]),
        "right": strike[-1],
        "quantity": qty,
        "price": price,
    }


def _condor_at_expiry(s: float) -> float:
    """The condor's P&L at expiry (2 lots, credit 8.25): break-evens 5941.75 and 6508.25."""
    return 1650.0 + 200.0 * (
        max(0.0, 5900 - s) - max(0.0, 5950 - s) - max(0.0, s - 6500) + max(0.0, s - 6550)
    )


LEVELS = [5500.0 + 50.0 * i for i in range(29)]  # 5500 .. 6900


def _mark(structure: str, contract: str, qty: int, fill: float, mark: float) -> dict[str, Any]:
    leg = _leg(contract, qty, fill)
    return {
        "structure": structure,
        "contract": contract,
        "root": leg["root"],
        "expiry": leg["expiry"],
        "strike": leg["strike"],
        "right": leg["right"],
        "quantity": qty,
        "fill_price": fill,
        "mark": mark,
        "vol": 0.1834 if leg["root"] != "VIX" else 0.9512,
        "value_usd": mark * qty * 100.0,
    }


FULL: dict[str, Any] = {
    "session": SESSION,
    "as_of": "2026-11-20T16:15:00-05:00",
    "regime": "elevated",
    "regime_drivers": [
        "VIX 22.10 ≥ 20 (elevated cut) and < 30 (stressed cut): base elevated",
        "no backwardation: VIX3M/VIX-1 = +0.032 ≥ 0, no lift",
    ],
    "indicators": {"session": SESSION, "vix": 22.1},
    "orders": [
        {
            "action": "open",
            "layer": "core",
            "structure": CONDOR,
            "legs": [
                _leg("SPXW 2027-01-15 5900P", 2, 10.4),
                _leg("SPXW 2027-01-15 5950P", -2, 14.9),
                _leg("SPXW 2027-01-15 6500C", -2, 9.85),
                _leg("SPXW 2027-01-15 6550C", 2, 6.1),
            ],
            "limit_price": 8.25,
            "closes": [],
            "quantity_change": None,
            "reasons": [
                "45-DTE iron condor, short strikes at 16 delta",
                "credit 8.25 points is 16.5% of the 50-point width (>= 10%)",
            ],
        },
        {
            "action": "open",
            "layer": "hedge",
            "structure": SPREAD,
            "legs": [_leg("VIX 2027-03-17 23C", 3, 1.875), _leg("VIX 2027-03-17 34C", -3, 0.65)],
            "limit_price": -1.225,
            "closes": [],
            "quantity_change": None,
            "reasons": ["score 2 targets 2 of 4 medium-layer tranches; 1 held", EVIL],
        },
        {
            "action": "close",
            "layer": "hedge",
            "structure": SHORT,
            "legs": [_leg("VIX 2026-12-16 21C", 1, 0.625)],
            "limit_price": 0.625,
            "closes": [SHORT],
            "quantity_change": None,
            "reasons": ["take profit: worth $380.00 = 3.04x its cost $125.00 >= 3x"],
        },
    ],
    "refusals": [
        {
            "layer": "ladder",
            "what": "new ladder rung",
            "reasons": ["no trigger: VIX MACD histogram not compressed (|h| 1.01)"],
        }
    ],
    "book": {
        "equity_usd": 1002421.6113176002,
        "spx_spot": 6183.4567,
        "open_structures": [SHORT],
        "structures": [
            {
                "name": CONDOR,
                "expiries": ["2027-01-15"],
                "dte": 56,
                "legs": 4,
                "net_premium_usd": 1650.0000000000005,
                "max_loss_usd": 8350.0,
                "breakevens_points": [5941.75, 6508.25],
            },
            {
                "name": SPREAD,
                "expiries": ["2027-03-17"],
                "dte": 117,
                "legs": 2,
                "net_premium_usd": -367.5,
                "max_loss_usd": 367.49999999999994,
                "breakevens_points": [24.225],
            },
            {
                "name": "SPX 2026-12-18 short 6600C",
                "expiries": ["2026-12-18"],
                "dte": 28,
                "legs": 1,
                "net_premium_usd": 1210.0,
                "max_loss_usd": None,
                "breakevens_points": [6612.1],
            },
        ],
        "greeks": {
            "options_value_usd": -484.1080188773425,
            "equity_value_usd": 0.0,
            "delta_spx_points": 19.629322499745832,
            "delta_usd_per_pct": 131.85760447440623,
            "gamma_usd_per_pct_sq": -45.956658095774245,
            "vega_usd_per_volpt": -103.60579828795122,
            "theta_usd_per_day": 27.383236515113104,
            "vix_delta_usd_per_vixpt": 137.97415470496432,
            "vix_vega_usd_per_volpt": 14.614693658665693,
        },
        "delta_band": {
            "fraction": 0.00013153906797868246,
            "band_frac": 0.0015,
            "breached": False,
            "reason": "book delta $132 per 1% SPX move is +0.0132% of equity $1,002,422: "
            "inside the ±0.1500% band",
        },
        "stages": {
            "ladder": {"rungs_open": 0, "sessions_since_last_rung": None},
            "hedge": {
                "score": 2,
                "live_triggers": ["event", "vvix_rsi"],
                "triggers": [
                    {"name": "event", "live": True, "reason": "event within 5 sessions: CPI"},
                    {"name": "vvix_rsi", "live": True, "reason": "VVIX RSI 71.2 > 70"},
                    {"name": "ad_divergence", "live": False, "reason": "no A/D divergence"},
                ],
                "condor_max_loss_usd": 8350.0,
                "credit_window_usd": 6860.0,
                "spend_window_usd": 1787.5,
                "plan": [
                    {
                        "layer": "short",
                        "budget_usd": 334.0,
                        "tranche_budget_usd": 83.5,
                        "held": 1,
                        "target": 2,
                        "bought": 0,
                        "rolled_in": 0,
                    },
                    {
                        "layer": "medium",
                        "budget_usd": 334.0,
                        "tranche_budget_usd": 83.5,
                        "held": 2,
                        "target": 2,
                        "bought": 1,
                        "rolled_in": 0,
                    },
                    {
                        "layer": "long",
                        "budget_usd": 167.0,
                        "tranche_budget_usd": 41.75,
                        "held": 0,
                        "target": 2,
                        "bought": 0,
                        "rolled_in": 0,
                    },
                ],
            },
            "risk": {"fraction": 0.00013, "band_frac": 0.0015, "breached": False},
        },
        "marks": [
            _mark(CONDOR, "SPXW 2027-01-15 5900P", 2, 10.4, 8.1),
            _mark(CONDOR, "SPXW 2027-01-15 5950P", -2, 14.9, 12.35),
            _mark(CONDOR, "SPXW 2027-01-15 6500C", -2, 9.85, 11.2),
            _mark(CONDOR, "SPXW 2027-01-15 6550C", 2, 6.1, 7.05),
            _mark(SPREAD, "VIX 2027-03-17 23C", 3, 1.875, 1.875),
            _mark(SPREAD, "VIX 2027-03-17 34C", -3, 0.65, 0.65),
        ],
        "payoff": {
            "spx": LEVELS,
            "now_usd": [0.6 * _condor_at_expiry(s) - 300.0 for s in LEVELS],
            "expiry_usd": [_condor_at_expiry(s) for s in LEVELS],
            "expiry": "2027-01-15",
            "spot": 6183.4567,
            "basis": "SPX legs at today's vols; VIX hedges at their value today",
        },
    },
    "scenarios": [
        {
            "scenario": "SPX -10%",
            "spx_move_pct": -10.0,
            "vix_move_pts": 10.000000000000004,
            "days": 0.0,
            "spx": 5565.11103,
            "vix": 32.1,
            "pnl_usd": {CONDOR: -6900.534800352044, SPREAD: 990.3260910303859},
            "total_pnl_usd": -5910.208709321658,
        },
        {
            "scenario": "7d on",
            "spx_move_pct": 0.0,
            "vix_move_pts": 0.0,
            "days": 7.0,
            "spx": 6183.4567,
            "vix": 22.1,
            "pnl_usd": {CONDOR: 412.5, SPREAD: -20.25},
            "total_pnl_usd": 392.25,
        },
    ],
    "notes": ["rate 4.3000% from the history (real)"],
    "config_fingerprint": "ab12" * 16,
}

RUN = {
    "id": 41,
    "trading_day": SESSION,
    "revision": 2,
    "status": "succeeded",
    "started_at": "2026-11-20T21:30:01+00:00",
    "finished_at": "2026-11-20T21:30:09+00:00",
    "code_version": "0.1.0+g1e7a590",
    "config_fingerprint": "ab12" * 16,
}


def _history() -> list[dict[str, Any]]:
    out = []
    regimes = ["calm", "normal", "normal", "elevated", "stressed", "elevated"]
    days = ["2026-11-12", "2026-11-13", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]
    for i, (day, regime) in enumerate(zip(days, regimes, strict=True)):
        d = copy.deepcopy(FULL)
        d["session"], d["regime"] = day, regime
        d["book"]["stages"]["hedge"]["score"] = i % 3
        d["book"]["stages"]["hedge"]["plan"][1]["held"] = i // 2
        out.append(history_item(d))
    out.append(history_item(FULL))
    return out


ACTIVATIONS = [
    {
        "session": "2026-11-17",
        "trading_day": "2026-11-17",
        "structure": "ALVH short tranche 1 2026-11-17 VIX 2026-12-16 <img src=x onerror=alert(1)>",
        "action": "open",
        "limit_price": -1.25,
        "contracts": 2,
        "reasons": ["score 1 targets 1 of 4 short-layer tranches"],
    },
    {
        "session": SESSION,
        "trading_day": SESSION,
        "structure": SPREAD,
        "action": "open",
        "limit_price": -1.225,
        "contracts": 3,
        "reasons": ["score 2 targets 2 of 4 medium-layer tranches; 1 held"],
    },
]

EQUITY = [
    {
        "session": s,
        "equity_usd": 1_000_000.0 + 350.5 * i,
        "options_value_usd": -400.0 - i,
        "cash_usd": 1_000_400.0 + 351.5 * i,
    }
    for i, s in enumerate(["2026-11-17", "2026-11-18", "2026-11-19", SESSION])
]


def _view(**changes: Any) -> DashboardView:
    base: dict[str, Any] = {
        "generated_at": AFTER_CLOSE,
        "decision": FULL,
        "run": RUN,
        "history": _history(),
        "hedge_activations": ACTIVATIONS,
        "book_equity": EQUITY,
        "backtest": None,
        "notes": (),
    }
    base.update(changes)
    return DashboardView(**base)


def _figures(page: str) -> dict[str, dict[str, Any]]:
    blocks = re.findall(r'<script type="application/json" id="([^"]+)-json">(.*?)</script>', page)
    for _, body in blocks:
        assert "<" not in body
        assert ">" not in body
        assert "&" not in body
    return {fid: json.loads(body) for fid, body in blocks}


def _traces(fig: dict[str, Any]) -> list[str]:
    return [t.get("name", "") for t in fig["data"]]


# -- a real backtest folder --------------------------------------------------------------------


@pytest.fixture(scope="module")
def backtest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, BacktestResult]]:
    history = MarketHistory.from_synthetic(
        synthetic_market(date(2017, 1, 3), date(2018, 2, 28), seed=7)
    )
    config = StrategyConfig(condor=CondorParams(wing_points=25.0))
    runs = {
        (name, k): run_baseline(
            name,
            history,
            start=date(2018, 1, 2),
            end=date(2018, 1, 31),
            config=config,
            equity_usd=1_000_000.0,
            fill=FillParams(half_spread_fraction=k),
        )
        for name, k in (("full_alvh", 0.0), ("full_alvh", 1.0), ("unhedged", 0.0))
    }
    out = tmp_path_factory.mktemp("dash_bt")
    by_name: dict[str, dict[float, BacktestResult]] = {}
    for (name, k), r in runs.items():
        by_name.setdefault(name, {})[k] = r
    write_backtest_report(
        out,
        by_name,
        title="dash test backtest",
        config_text="[condor]\nwing_points = 25.0\n",
        data_description="synthetic, seed 7",
        generated_at=datetime(2026, 11, 20, 21, 0, tzinfo=UTC),
    )
    return out, {f"{name}_k{k:g}": r for (name, k), r in runs.items()}


# -- history_item ------------------------------------------------------------------------------


def test_history_item_of_a_full_decision() -> None:
    assert type(history_item(FULL)["hedge_score"]) is int
    assert history_item(FULL) == {
        "session": SESSION,
        "regime": "elevated",
        "hedge_score": 2,
        "layers": {"short": 1, "medium": 2, "long": 0},
        "orders": 3,
        "delta_usd_per_pct": 131.85760447440623,
        "vega_usd_per_volpt": -103.60579828795122,
    }


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        ({}, {}),
        ({"session": SESSION, "orders": []}, {"session": SESSION, "orders": 0}),
        ({"book": {"greeks": {"delta_usd_per_pct": None}}, "orders": None}, {}),
        (
            {"book": {"stages": {"hedge": {"score": 1, "plan": [{"layer": "medium", "held": 3}]}}}},
            {"hedge_score": 1, "layers": {"short": None, "medium": 3, "long": None}},
        ),
        ({"book": {"stages": {"hedge": {"plan": [{"held": 1}, "junk", None]}}}}, {}),
        ({"book": "not a mapping", "regime": None, "orders": "x"}, {}),
        ({"book": {"stages": {"hedge": {"score": float("nan")}}}}, {}),
    ],
)
def test_history_item_of_a_partial_decision_fills_none(
    decision: dict[str, Any], expected: dict[str, Any]
) -> None:
    empty = {
        "session": None,
        "regime": None,
        "hedge_score": None,
        "layers": {"short": None, "medium": None, "long": None},
        "orders": None,
        "delta_usd_per_pct": None,
        "vega_usd_per_volpt": None,
    }
    assert history_item(decision) == {**empty, **expected}


def test_history_item_of_real_decisions(backtest: tuple[Path, dict[str, BacktestResult]]) -> None:
    result = backtest[1]["full_alvh_k0"]
    for d in result.decisions:
        item = history_item(d.to_json())
        hedge = d.book["stages"]["hedge"]
        assert item["session"] == d.session.isoformat()
        assert item["regime"] == d.regime
        assert item["hedge_score"] == hedge["score"]
        assert item["layers"] == {p["layer"]: p["held"] for p in hedge["plan"]}
        assert item["orders"] == len(d.orders)
        assert item["delta_usd_per_pct"] == d.book["greeks"]["delta_usd_per_pct"]
    json.dumps([history_item(d.to_json()) for d in result.decisions], allow_nan=False)


# -- load_backtest -----------------------------------------------------------------------------


def test_load_backtest_reads_a_real_folder(
    backtest: tuple[Path, dict[str, BacktestResult]],
) -> None:
    out, runs = backtest
    got = load_backtest(out)
    assert got is not None
    assert got["source"] == str(out)
    assert set(got["equity_usd"]) == set(runs) == {"full_alvh_k0", "full_alvh_k1", "unhedged_k0"}
    equity = runs["full_alvh_k0"].equity
    assert got["dates"] == [t.date().isoformat() for t in equity.index]
    for label, r in runs.items():
        assert got["equity_usd"][label] == pytest.approx(r.equity.tolist(), rel=1e-15)
    summary = json.loads((out / "summary.json").read_text())
    assert got["summary"] == summary
    assert got["summary"]["title"] == "dash test backtest"
    json.dumps(got, allow_nan=False)


def test_load_backtest_absent_is_none(
    tmp_path: Path, backtest: tuple[Path, dict[str, BacktestResult]]
) -> None:
    assert load_backtest(tmp_path / "dash_missing") is None
    assert load_backtest(tmp_path) is None  # an empty folder
    (tmp_path / "equity.csv").write_text("session,a_k0\n2026-01-02,1\n")
    assert load_backtest(tmp_path) is None  # no summary.json
    (tmp_path / "equity.csv").unlink()
    (tmp_path / "summary.json").write_text("{}")
    assert load_backtest(tmp_path) is None  # no equity.csv


def _folder(tmp_path: Path, equity: str, summary: str = '{"runs": {}}') -> Path:
    (tmp_path / "equity.csv").write_text(equity, encoding="utf-8")
    (tmp_path / "summary.json").write_text(summary, encoding="utf-8")
    return tmp_path


def test_load_backtest_minimal_folder_and_gaps(tmp_path: Path) -> None:
    got = load_backtest(
        _folder(
            tmp_path,
            "session,full_alvh_k0,buy_and_hold_k0\n"
            "2026-01-02,1000000.0,1000000.0\n"
            "2026-01-05,1000123.5,\n",
        )
    )
    assert got == {
        "source": str(tmp_path),
        "dates": ["2026-01-02", "2026-01-05"],
        "equity_usd": {
            "full_alvh_k0": [1_000_000.0, 1_000_123.5],
            "buy_and_hold_k0": [1_000_000.0, None],
        },
        "summary": {"runs": {}},
    }


@pytest.mark.parametrize(
    ("equity", "match"),
    [
        ("", r"equity\.csv: empty file"),
        ("day,a_k0\n2026-01-02,1\n", r"equity\.csv, line 1, field 1: 'day'"),
        ("session\n2026-01-02\n", r"equity\.csv, line 1: expected one named column per run"),
        ("session,a,a\n", r"equity\.csv, line 1: run columns repeat"),
        ("session,a_k0\n2026-01-02,1,2\n", r"equity\.csv, line 2: 3 fields, the header has 2"),
        ("session,a_k0\n2026-13-02,1\n", r"equity\.csv, line 2, field 'session': '2026-13-02'"),
        (
            "session,a_k0,b_k0\n2026-01-02,1,2\n2026-01-05,3,abc\n",
            r"equity\.csv, line 3, field 'b_k0': 'abc' is not a finite number",
        ),
        ("session,a_k0\n2026-01-02,nan\n", r"equity\.csv, line 2, field 'a_k0': 'nan'"),
        ("session,a_k0\n2026-01-02,inf\n", r"equity\.csv, line 2, field 'a_k0': 'inf'"),
        (
            "session,a_k0\n2026-01-05,1\n2026-01-02,2\n",
            r"equity\.csv, line 3, field 'session': 2026-01-02 is not after 2026-01-05",
        ),
    ],
)
def test_load_backtest_malformed_equity_names_the_file(
    tmp_path: Path, equity: str, match: str
) -> None:
    with pytest.raises(DataError, match=match) as info:
        load_backtest(_folder(tmp_path, equity))
    assert str(tmp_path / "equity.csv") in str(info.value)


@pytest.mark.parametrize(
    ("summary", "match"),
    [
        ('{"runs": ', r"summary\.json: not valid JSON: .*line 1 column"),
        ('{"x": NaN}', r"summary\.json: not valid JSON: NaN is not valid JSON"),
        ("[1, 2]", r"summary\.json: expected a JSON object, got list"),
        ('{"runs": [1]}', r"summary\.json, field 'runs': expected an object"),
    ],
)
def test_load_backtest_malformed_summary_names_the_file(
    tmp_path: Path, summary: str, match: str
) -> None:
    with pytest.raises(DataError, match=match) as info:
        load_backtest(_folder(tmp_path, "session,a_k0\n2026-01-02,1\n", summary))
    assert str(tmp_path / "summary.json") in str(info.value)


def test_load_backtest_undecodable_file(tmp_path: Path) -> None:
    _folder(tmp_path, "session,a_k0\n")
    (tmp_path / "equity.csv").write_bytes(b"session,a_k0\n\xff\xfe,1\n")
    with pytest.raises(DataError, match=r"equity\.csv: cannot read it"):
        load_backtest(tmp_path)


# -- the page ----------------------------------------------------------------------------------


def test_full_page_has_every_section_in_order() -> None:
    page = render_dashboard(_view())
    where = [page.index(f'id="{s}"') for s in SECTIONS]
    assert where == sorted(where)
    assert page.startswith("<!DOCTYPE html>")
    csp = str(escape(CSP))  # the browser reads &#39; in an attribute as '
    assert f'<meta http-equiv="Content-Security-Policy" content="{csp}">' in page
    assert CSP == (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data:; connect-src 'self'"
    )
    assert '<script src="/static/plotly.min.js"></script>' in page
    assert "No signal journaled yet" not in page
    assert "No orders today" not in page


def test_header_shows_session_run_and_generated_time_with_zone() -> None:
    page = render_dashboard(_view())
    assert "<title>VixShield dashboard: 2026-11-20</title>" in page
    assert "2026-11-20 16:15:00 UTC-05:00" in page  # as of
    assert "#41 revision 2 (succeeded)" in page
    assert "2026-11-20 21:30:09 UTC+00:00" in page  # run finished
    assert "0.1.0+g1e7a590" in page
    assert "ab12ab12ab12ab12" in page
    assert "2026-11-20 16:40:00 EST (UTC-05:00)" in page  # generated, with its zone
    utc = render_dashboard(_view(generated_at=datetime(2026, 11, 20, 21, 40, tzinfo=UTC)))
    assert "2026-11-20 21:40:00 UTC+00:00" in utc


def test_every_order_reason_and_refusal_is_on_the_page() -> None:
    page = render_dashboard(_view())
    for order in FULL["orders"]:
        for reason in order["reasons"]:
            assert str(escape(reason)) in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in page
    assert "no trigger: VIX MACD histogram not compressed (|h| 1.01)" in page
    for driver in FULL["regime_drivers"]:
        assert str(escape(driver)) in page
    assert "rate 4.3000% from the history (real)" in page  # engine notes


def test_orders_legs_limits_and_tickets_are_formatted() -> None:
    page = render_dashboard(_view())
    assert "+2 SPXW 2027-01-15 5900P @ 10.40" in page
    assert "-2 SPXW 2027-01-15 5950P @ 14.90" in page
    assert "8.25 credit" in page
    assert "+1,650.00" in page  # 8.25 x 2 units x 100
    assert "+3 VIX 2027-03-17 23C @ 1.875" in page  # a third decimal is kept, never rounded
    assert "1.225 debit" in page
    assert "-367.50" in page  # -1.225 x 3 x 100
    assert "0.625 credit" in page
    assert "+62.50" in page
    # a close of the structure it names does not repeat it as "closes:"
    assert f"closes: {SHORT}" not in page


def test_hold_and_hedge_plan() -> None:
    hold = copy.deepcopy(FULL)
    hold["orders"] = []
    page = render_dashboard(_view(decision=hold))
    assert "No orders today: hold." in page
    assert "Hedge (ALVH): score 2" in page
    assert page.count('<span class="badge live">live</span>') == 2
    assert "VVIX RSI 71.2 &gt; 70" in page
    assert "8,350.00" in page  # condor book max loss
    assert re.search(r"<td>medium</td><td class=\"num\">334.00</td>", page)


def test_greeks_band_and_structures_are_formatted_with_units() -> None:
    page = render_dashboard(_view())
    for unit in ("$ per 1% SPX", "$ per SPX vol point", "$ per day", "$ per VX point"):
        assert unit in page
    for text in ("+131.86", "-45.96", "-103.61", "+27.38", "+137.97", "+14.61", "-484.11"):
        assert f'<td class="num">{text}</td>' in page
    assert "1,002,421.61" in page  # equity
    assert "6,183.46" in page  # spot
    assert "+19.63" in page  # delta in SPX points
    assert "inside the band" in page
    assert "+0.0132%" in page
    assert "0.1500%" in page
    assert "5,941.75, 6,508.25" in page  # the condor's break-evens
    assert "24.23" in page  # the spread's, in VIX points
    assert "+1,650.00" in page
    assert "-367.50" in page
    assert "8,350.00" in page
    assert "unbounded" in page  # the naked call's max loss
    assert '<td class="num">56</td>' in page  # DTE


def test_breached_band_is_flagged() -> None:
    d = copy.deepcopy(FULL)
    d["book"]["delta_band"] = {**d["book"]["delta_band"], "breached": True, "fraction": 0.0021}
    page = render_dashboard(_view(decision=d))
    assert "BREACHED" in page
    assert "+0.2100%" in page


def test_payoff_figure_has_both_curves_spot_and_break_evens() -> None:
    page = render_dashboard(_view())
    figs = _figures(page)
    assert list(figs) == ["fig-payoff", "fig-history", "fig-book-equity"]
    fig = figs["fig-payoff"]
    assert _traces(fig) == ["today (T+0)", "at expiry 2027-01-15", "break-even at expiry"]
    today, expiry, be = fig["data"]
    assert today["x"] == LEVELS
    assert expiry["y"] == [_condor_at_expiry(s) for s in LEVELS]
    assert be["x"] == pytest.approx([5941.75, 6508.25])
    assert be["y"] == [0.0, 0.0]
    shapes = fig["layout"]["shapes"]
    assert any(s["type"] == "line" and s["x0"] == s["x1"] == 6183.4567 for s in shapes)  # spot
    assert any(s["type"] == "line" and s["y0"] == s["y1"] == 0.0 for s in shapes)  # zero line
    assert fig["layout"]["xaxis"]["title"]["text"] == "SPX level (points)"
    assert fig["layout"]["yaxis"]["title"]["text"] == "P&L (USD)"
    assert fig["config"]["displaylogo"] is False
    assert "5,941.75, 6,508.25" in page  # break-evens in the caption too
    assert "SPX legs at today&#39;s vols" in page  # the basis


def test_positions_and_marks_table() -> None:
    page = render_dashboard(_view())
    assert "SPXW 2027-01-15 5950P" in page
    assert "12.35" in page
    assert "14.90" in page
    assert "+510.00" in page  # (12.35 - 14.90) x -2 x 100
    assert "18.34%" in page
    assert "95.12%" in page
    assert "-2,470.00" in page  # 12.35 x -2 x 100: the leg's value
    # total value: 1620 - 2470 - 2240 + 1410 + 562.5 - 195
    assert "-1,312.50" in page
    marks = page[page.index('id="positions"') : page.index('id="scenarios"')]
    assert marks.count(f'<td class="name">{CONDOR}</td>') == 1  # once, on its first leg
    assert marks.count('<td class="name"></td>') == 4  # the other legs


def test_scenarios_table() -> None:
    page = render_dashboard(_view())
    assert "SPX -10%" in page
    assert "7d on" in page
    assert "-5,910.21" in page
    assert "+392.25" in page
    assert "5,565.11" in page
    assert "-6,900.53" in page
    assert "+990.33" in page
    assert "+10.00" in page  # VIX move in points


def test_history_figure_has_regimes_score_and_layers() -> None:
    page = render_dashboard(_view())
    fig = _figures(page)["fig-history"]
    names = _traces(fig)
    assert names[:4] == ["regime: calm", "regime: normal", "regime: elevated", "regime: stressed"]
    assert "hedge score" in names
    layers = [t for t in fig["data"] if t["name"].endswith("layer tranches")]
    assert [t["name"] for t in layers] == [
        "short layer tranches",
        "medium layer tranches",
        "long layer tranches",
    ]
    assert layers[1]["y"] == [0, 0, 1, 1, 2, 2, 2]
    assert all(t["type"] == "bar" for t in layers)
    assert fig["layout"]["barmode"] == "stack"
    score = next(t for t in fig["data"] if t["name"] == "hedge score")
    assert score["y"] == [0, 1, 2, 0, 1, 2, 2]
    assert fig["layout"]["xaxis"]["categoryarray"][-1] == SESSION
    activations = [t for t in fig["data"] if "hedge open" in t["name"]]
    assert {t["name"] for t in activations} == {"short hedge open", "medium hedge open"}
    short = next(t for t in activations if t["name"] == "short hedge open")
    assert short["x"] == ["2026-11-17"]
    assert "&lt;img src=x" in short["hovertext"][0]  # escaped for plotly, then for the script
    assert "1.225 debit" in page  # the activations table


def test_book_equity_and_backtest_figures(
    backtest: tuple[Path, dict[str, BacktestResult]],
) -> None:
    out, runs = backtest
    page = render_dashboard(_view(backtest=load_backtest(out)))
    figs = _figures(page)
    assert list(figs) == ["fig-payoff", "fig-history", "fig-book-equity", "fig-backtest"]
    eq = figs["fig-book-equity"]["data"][0]
    assert eq["y"] == [r["equity_usd"] for r in EQUITY]
    assert eq["customdata"][0] == ["-400.00", "1,000,400.00"]
    bt = figs["fig-backtest"]
    assert _traces(bt) == ["full_alvh k=0 (mid)", "full_alvh k=1 (touch)", "unhedged k=0 (mid)"]
    assert [t["line"]["dash"] for t in bt["data"]] == ["solid", "dash", "solid"]
    assert bt["data"][2]["y"] == pytest.approx(runs["unhedged_k0"].equity.tolist())
    assert "dash test backtest" in page
    assert "No backtest configured" not in page
    final = runs["full_alvh_k0"].equity.iloc[-1]
    assert f"{final:,.2f}" in page  # the runs table


def test_book_equity_rows_as_the_journal_returns_them_draw() -> None:
    """``Journal.book_equity`` gives sessions as dates, with run ids: the curve is drawn."""
    rows = [
        {"session": date(2026, 11, 19), "run_id": 7, "revision": 1,
         "options_value_usd": -400.0, "cash_usd": 400.0, "equity_usd": 1_000_000.0},
        {"session": date(2026, 11, 20), "run_id": 8, "revision": 2,
         "options_value_usd": -150.0, "cash_usd": 400.0, "equity_usd": 1_000_250.0},
    ]  # fmt: skip
    page = render_dashboard(_view(book_equity=rows))
    eq = _figures(page)["fig-book-equity"]["data"][0]
    assert eq["x"] == ["2026-11-19", "2026-11-20"]
    assert eq["y"] == [1_000_000.0, 1_000_250.0]


def test_no_backtest_configured_message() -> None:
    page = render_dashboard(_view())
    assert "No backtest configured" in page
    assert "api.backtest_dir" in page


def test_empty_journal_renders_the_empty_state() -> None:
    view = DashboardView(
        generated_at=AFTER_CLOSE,
        decision=None,
        run=None,
        history=[],
        hedge_activations=[],
        book_equity=[],
        backtest=None,
    )
    page = render_dashboard(view)
    assert "No signal journaled yet — run <code>vixshield run-daily</code>" in page
    assert _figures(page) == {}
    assert "No session journaled yet" in page
    assert "No book equity journaled yet" in page
    assert "No backtest configured" in page
    where = [page.index(f'id="{s}"') for s in SECTIONS]
    assert where == sorted(where)
    assert "Stale" not in page


def test_older_decision_without_marks_or_payoff() -> None:
    d = copy.deepcopy(FULL)
    del d["book"]["marks"], d["book"]["payoff"]
    page = render_dashboard(_view(decision=d))
    assert "journaled before payoffs were recorded" in page
    assert "journaled before marks were recorded" in page
    assert "fig-payoff" not in _figures(page)


def test_no_open_positions() -> None:
    d = copy.deepcopy(FULL)
    d["book"].update(structures=[], marks=[], open_structures=[], payoff=None)
    d["scenarios"] = []
    page = render_dashboard(_view(decision=d))
    assert "No open positions: there is no payoff to draw." in page
    assert '<p class="note" id="marks-message">No open positions.</p>' in page
    assert "No scenario in this decision" in page


def test_everything_is_escaped() -> None:
    d = copy.deepcopy(FULL)
    d["regime_drivers"] = ["<b>bold</b>"]
    d["refusals"][0]["what"] = "<iframe>"
    d["book"]["structures"][0]["name"] = '"><script>x()</script>'
    page = render_dashboard(
        _view(decision=d, notes=("<script>alert(1)</script>",), plotly_src="/s/p.js?a=1&b=2")
    )
    assert "<script>alert" not in page
    assert "<script>x()" not in page
    assert "<b>bold" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<iframe>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the note, as text
    assert '<script src="/s/p.js?a=1&amp;b=2"></script>' in page
    assert '"/s/p.js?a=1\\u0026b=2"' in page  # in the fallback message's JS string
    # the only script elements are plotly.js, the figures' JSON and the drawing code
    kinds = re.findall(r"<script( [^>]*)?>", page)
    assert sorted(set(kinds)) == sorted(
        {
            ' src="/s/p.js?a=1&amp;b=2"',
            "",
            *(f' type="application/json" id="{f}-json"' for f in _figures(page)),
        }
    )


def test_no_resource_from_another_host() -> None:
    page = render_dashboard(_view())
    assert not re.search(r"https?://", page)
    assert not re.search(r"//[a-z0-9.-]+\.[a-z]{2,}/", page)  # no protocol-relative URL either
    srcs = re.findall(r'\b(?:src|href)="([^"]*)"', page)
    assert all(s.startswith(("/", "#", "data:")) for s in srcs), srcs


def test_stale_decision_is_flagged() -> None:
    # Tuesday noon: Monday 2026-11-23 is the last session out; the signal is Friday's.
    late = datetime(2026, 11, 24, 12, 0, tzinfo=NY)
    page = render_dashboard(_view(generated_at=late))
    assert (
        "Stale: the latest signal is for 2026-11-20, but the last session whose data is out "
        "is 2026-11-23 (1 session behind)"
    ) in page
    assert 'role="alert"' in page
    # The same evening, before and after the data stamp (16:15 ET): not stale.
    for t in (datetime(2026, 11, 20, 16, 5, tzinfo=NY), AFTER_CLOSE):
        assert "Stale" not in render_dashboard(_view(generated_at=t))
    # Over a weekend and Thanksgiving (2026-11-26): 3 sessions.
    page = render_dashboard(_view(generated_at=datetime(2026, 11, 28, 9, 0, tzinfo=NY)))
    assert "is 2026-11-27 (4 sessions behind)" in page


def test_notes_are_shown_in_a_banner() -> None:
    page = render_dashboard(_view(notes=("journal: last run failed: data not out",)))
    assert '<div class="banner note" role="status">journal: last run failed: data not out' in page


def test_naive_generated_at_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        _view(generated_at=datetime(2026, 11, 20, 16, 40))  # noqa: DTZ001


def test_plotly_js_is_the_bundle_and_cached() -> None:
    js = plotly_js()
    assert js is plotly_js()
    assert "plotly.js v" in js[:200]
    assert len(js) > 1_000_000


@pytest.mark.parametrize(
    ("x", "text"),
    [(1.225, "1.225"), (1.2, "1.20"), (10.4, "10.40"), (0.05, "0.05"), (1234.5, "1,234.50"),
     (1.23456, "1.2346"), (None, "n/a"), (float("nan"), "n/a"), (-0.0, "0.00")],
)  # fmt: skip
def test_price_format(x: object, text: str) -> None:
    assert dash._price(x) == text


def test_zero_crossings() -> None:
    assert dash._crossings([0.0, 1.0, 2.0], [-1.0, 1.0, -1.0]) == [0.5, 1.5]
    assert dash._crossings([0.0, 1.0, 2.0], [0.0, 1.0, 0.0]) == [0.0, 2.0]
    assert dash._crossings([0.0, 1.0, 2.0], [1.0, None, -1.0]) == [1.0]
    assert dash._crossings([0.0, 1.0], [1.0, 2.0]) == []


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 10)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def _mangled(draw: st.DrawFn) -> dict[str, Any]:
    """FULL with some values, at any depth, replaced by arbitrary JSON-like junk."""
    d = copy.deepcopy(FULL)
    for _ in range(draw(st.integers(1, 6))):
        node: Any = d
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, dict | list) and child and draw(st.booleans()):
                node = child
                continue
            node[key] = draw(_JSON)
            break
    return d


@settings(max_examples=40, deadline=None)
@given(decision=_mangled())
def test_any_partial_decision_renders(decision: dict[str, Any]) -> None:
    item = history_item(decision)
    page = render_dashboard(_view(decision=decision, history=[item]))
    assert page.endswith("</html>\n")
    _figures(page)


def test_an_order_waiting_since_earlier_sessions_says_so() -> None:
    decision = json.loads(json.dumps(FULL))
    decision["orders"][0]["proposed_since"] = "2026-11-17"
    page = render_dashboard(_view(decision=decision))
    assert "proposed every session since 2026-11-17: no fill recorded in the journal yet" in page
    assert "proposed every session since" not in render_dashboard(_view())
