"""The command line, driven through typer's runner: output, --json and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vixshield.cli import app

runner = CliRunner()


def test_price_one_option_json_matches_hull() -> None:
    # Hull (9th ed.), Example 15.6: S=42, K=40, r=10%, sigma=20%, T=0.5 -> call 4.76.
    res = runner.invoke(
        app,
        [
            "price",
            "--underlying",
            "42",
            "--strike",
            "40",
            "--t-years",
            "0.5",
            "--vol",
            "0.2",
            "--rate",
            "0.1",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["price"] == pytest.approx(4.76, abs=0.005)
    assert out["reason"] == "OK"
    assert out["iv_reason"] == "NOT_GIVEN"
    assert out["implied_vol"] is None


def test_price_put_from_premium_recovers_the_vol() -> None:
    # Hull Example 15.6 put: 0.81; its implied vol must come back near 20%.
    res = runner.invoke(
        app,
        [
            "price",
            "--underlying",
            "42",
            "--strike",
            "40",
            "--t-years",
            "0.5",
            "--right",
            "put",
            "--premium",
            "0.8086",
            "--rate",
            "0.1",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["implied_vol"] == pytest.approx(0.20, abs=2e-4)


def test_price_with_expiry_uses_the_settlement_instant() -> None:
    # 2019-06-26 15:45 ET to the SPX AM expiry 2019-07-19 09:30 ET: 32,745 minutes.
    res = runner.invoke(
        app,
        [
            "price",
            "--underlying",
            "2900",
            "--strike",
            "2900",
            "--expiry",
            "2019-07-19",
            "--kind",
            "spx",
            "--at",
            "2019-06-26T15:45",
            "--vol",
            "0.15",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["t_years"] == pytest.approx(32_745 / 525_600)


def test_price_csv_mixes_good_and_bad_rows(tmp_path: Path) -> None:
    f = tmp_path / "opts.csv"
    f.write_text(
        "underlying,strike,t_years,right,vol,premium,rate,model\n"
        "42,40,0.5,call,0.2,,0.1,bsm\n"
        "42,-40,0.5,put,0.2,,0.1,bsm\n"
        "20,20,0.3333333333,put,0.25,,0.09,black76\n"
        "42,40,0.5,call,,0.5,0.1,bsm\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["price", "--csv", str(f), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["reason"] for r in rows] == ["OK", "NONPOSITIVE_STRIKE", "OK", "BELOW_INTRINSIC"]
    assert rows[1]["price"] is None
    # Hull, "Options, Futures and Other Derivatives", the Black-76 futures-put example
    # (F0 = K = 20, r = 9%, sigma = 25%, T = 4 months): 1.12.
    assert rows[2]["price"] == pytest.approx(1.12, abs=0.005)
    res = runner.invoke(app, ["price", "--csv", str(f)])
    assert res.exit_code == 0
    assert "NONPOSITIVE_STRIKE" in res.stdout


def test_price_csv_structural_error_names_file_line_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("underlying,strike,t_years,right,vol\n42,40,0.5,call,0.2\n42,abc,0.5,put,0.2\n")
    res = runner.invoke(app, ["price", "--csv", str(f)])
    assert res.exit_code == 2
    assert "bad.csv, line 3, field 'strike'" in res.stderr
    assert "'abc'" in res.stderr


def test_price_csv_missing_column(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("underlying,strike,right,vol\n42,40,call,0.2\n")
    res = runner.invoke(app, ["price", "--csv", str(f)])
    assert res.exit_code == 2
    assert "missing column(s) t_years" in res.stderr


def test_price_needs_exactly_one_time_input() -> None:
    res = runner.invoke(app, ["price", "--underlying", "42", "--strike", "40", "--vol", "0.2"])
    assert res.exit_code == 2
    assert "exactly one of --t-years and --expiry" in res.stderr


def test_calendar_json_lists_each_kind() -> None:
    res = runner.invoke(app, ["calendar", "--start", "2019-06-26", "--end", "2019-07-26", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    kinds = {(r["expiry"], r["kind"]) for r in rows}
    assert ("2019-07-19", "spx") in kinds  # third Friday, AM
    assert ("2019-07-17", "vix") in kinds  # 30 days before 2019-08-16
    assert ("2019-07-26", "spxw") in kinds
    assert ("2019-07-03", "spxw") in kinds  # Wednesday weekly (early close day)
    am = next(r for r in rows if r["kind"] == "spx")
    assert am["settlement"] == "2019-07-19T09:30:00-04:00"
    assert am["last_trade_date"] == "2019-07-18"


def test_calendar_rejects_a_bad_date() -> None:
    res = runner.invoke(app, ["calendar", "--start", "2019-13-01"])
    assert res.exit_code == 2
    assert "--start '2019-13-01' is not a date" in res.stderr


def test_demo_on_the_default_market(tmp_path: Path) -> None:
    out = tmp_path / "report"
    res = runner.invoke(
        app,
        ["demo", "--out", str(out), "--date", "2026-11-20", "--default-market",
         "--backtest-months", "1", "--workers", "1"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "backtest" / "summary.json").read_text())
    assert set(summary["runs"]) == {
        "full_alvh", "unhedged", "static_442", "vxth_hedge", "buy_and_hold"
    }  # fmt: skip
    assert all(set(r["k"]) == {"0", "1"} for r in summary["runs"].values())
    equity = (out / "backtest" / "equity.csv").read_text().splitlines()
    assert equity[1].startswith("2026-10-20")
    assert equity[-1].startswith("2026-11-20")
    data = json.loads((out / "demo.json").read_text())
    assert data["all_modelled"] is True
    assert data["chain_source"] == "model"
    signal = data["signal"]
    assert signal["session"] == "2026-11-20"
    assert signal["regime"] in {"calm", "normal", "elevated", "stressed", "crisis"}
    assert signal["regime_drivers"]
    assert signal["orders"] or signal["refusals"]  # it says what it does, or why not
    snap = data["snapshot"]
    assert snap["session"] == "2026-11-20"
    assert {d["source"] for d in snap["indices"].values()} == {"model"}
    assert set(snap["trading_days_to"]) == {"fomc", "cpi", "ppi"}
    condor = data["iron_condor"]
    legs = condor["legs"]
    # Credit, max loss and break-evens follow from the legs as printed (hand arithmetic).
    credit = legs[0]["mid"] - legs[1]["mid"] + legs[2]["mid"] - legs[3]["mid"]
    assert condor["credit_points"] == pytest.approx(credit)
    assert condor["max_loss_usd"] == pytest.approx((50 - credit) * 100)
    assert condor["breakeven_low"] == pytest.approx(legs[0]["strike"] - credit)
    assert condor["breakeven_high"] == pytest.approx(legs[2]["strike"] + credit)
    assert [leg["strike"] for leg in legs][1] == legs[0]["strike"] - 50
    assert all(leg["bid"] <= leg["mid"] <= leg["ask"] for leg in legs)
    assert condor["reprice_max_abs_error"] < 1e-8
    assert abs(data["vix_check"]["difference"]) < 0.1 * data["vix_check"]["vix_of_the_day"]
    assert "Backtest report:" in res.stdout
    assert "Signal report:" in res.stdout


@pytest.mark.real
def test_demo_uses_the_local_store_when_it_has_data(real_data: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    imp = runner.invoke(
        app, ["data", "import", str(real_data), "--data-dir", str(store), "--skip-bad-rows"]
    )
    assert imp.exit_code == 0, imp.output
    out = tmp_path / "report"
    res = runner.invoke(
        app, ["demo", "--out", str(out), "--data-dir", str(store), "--backtest-months", "0"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads((out / "demo.json").read_text())
    assert data["all_modelled"] is False
    assert data["snapshot"]["session"] == "2019-12-31"
    assert data["snapshot"]["indices"]["vix"] == {"value": 13.78, "source": "real"}
    # No futures after 2014 here: the VX curve is the flagged model fallback.
    assert {p["source"] for p in data["snapshot"]["vx_curve"]} == {"model"}
