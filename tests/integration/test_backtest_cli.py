"""``vixshield backtest`` and ``vixshield demo``: files, JSON summary, errors, benchmarks on
real data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from vixshield import cli
from vixshield.backtest.suite import DEFAULT_STRATEGIES
from vixshield.cli import app

runner = CliRunner()
SYNTH = ["backtest", "--data", "synthetic", "--start", "1993-06-01", "--end", "1993-06-30"]


def test_the_cli_offers_the_suite_strategies() -> None:
    assert cli._ALL_STRATEGIES == DEFAULT_STRATEGIES


@pytest.mark.slow
def test_backtest_on_the_default_market_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    res = runner.invoke(
        app,
        [*SYNTH, "--strategies", "unhedged,buy_and_hold", "--k", "0,1", "--workers", "1",
         "--out", str(out), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["start"] == "1993-06-01"
    assert summary["end"] == "1993-06-30"
    assert set(summary["runs"]) == {"unhedged", "buy_and_hold"}
    assert set(summary["runs"]["unhedged"]) == {"0", "1"}
    assert isinstance(summary["runs"]["unhedged"]["0"]["cagr"], float)
    html = Path(summary["report"])
    assert html == (out / "report.html").resolve()
    page = html.read_text(encoding="utf-8")
    assert "https://" not in page.split("<script", 1)[0]
    stored = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert stored["runs"]["unhedged"]["k"]["1"]["metrics"] == summary["runs"]["unhedged"]["1"]
    equity = pd.read_csv(out / "equity.csv")
    assert len(equity) == 22  # the sessions of June 1993 (22 weekdays, no holiday)
    assert (out / "ledger_unhedged_k1.csv").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--strategies", "nope"], "unknown strategies"),
        (["--k", "x"], "--k"),
        (["--k", "2"], "fill fractions"),
        (["--end", "2999-01-04"], "after the history's last session"),
        (["--start", "June"], "--start"),
    ],
)
def test_bad_options_exit_2_with_one_line(extra: list[str], message: str, tmp_path: Path) -> None:
    res = runner.invoke(app, [*SYNTH, *extra, "--workers", "1", "--out", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_an_empty_store_gives_advice(tmp_path: Path) -> None:
    res = runner.invoke(app, ["backtest", "--data-dir", str(tmp_path / "empty")])
    assert res.exit_code == 2
    assert "vixshield data import" in res.output


@pytest.mark.real
@pytest.mark.slow
def test_real_data_runs_the_cboe_rules_and_compares_them(real_data: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    imported = runner.invoke(
        app, ["data", "import", str(real_data), "--data-dir", str(store), "--skip-bad-rows"]
    )
    assert "spx: imported" in imported.output, imported.output
    # The VIX file has 47 days whose OPEN is outside high/low: keep every close.
    vix = runner.invoke(
        app,
        ["data", "import", str(real_data / "cboe" / "VIX_History.csv"), "--data-dir",
         str(store), "--close-only"],
    )  # fmt: skip
    assert vix.exit_code == 0, vix.output
    out = tmp_path / "bt"
    res = runner.invoke(
        app,
        ["backtest", "--data", "real", "--data-dir", str(store), "--start", "2008-08-01",
         "--end", "2008-12-31", "--strategies", "unhedged", "--k", "0", "--workers", "2",
         "--indices", str(real_data / "indices" / "cboe_strategy_monthly_1986_2015.csv"),
         "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    stats = pd.read_csv(out / "benchmarks_stats.csv", index_col=0)
    assert {"PUT", "BXM", "CNDR", "BFLY"} <= set(stats.index)
    # Autumn 2008: the published PUT and BXM lost heavily; the model must see the same sign.
    assert stats.loc["PUT", "ann_return_published"] < 0
    assert stats.loc["PUT", "ann_return_model"] < 0
    assert stats.loc["BXM", "correlation"] > 0.8
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Benchmarks" in page


SPEC = """
[sweep]
mode = "grid"
objective = "sharpe"
[sweep.grid]
"condor.wing_points" = [20.0, 25.0]
"""


@pytest.mark.slow
def test_sweep_ranks_the_grid_and_writes_json_and_csv(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "sweep"
    res = runner.invoke(
        app,
        ["sweep", str(spec), "--start", "1993-06-01", "--end", "1993-06-30", "--workers", "1",
         "--out", str(out), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    stored = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    assert got == stored
    table = pd.read_csv(out / "sweep.csv")
    assert sorted(table["condor.wing_points"]) == [20.0, 25.0]
    assert sorted(table["rank"]) == [1, 2]
    best = table.loc[table["rank"] == 1]
    assert float(best["sharpe"].iloc[0]) == table["sharpe"].max()


@pytest.mark.slow
def test_sweep_walk_forward_writes_the_folds(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "wf"
    res = runner.invoke(
        app,
        ["sweep", str(spec), "--start", "1993-04-01", "--end", "1993-06-30", "--workers", "1",
         "--walk-forward", "--is-months", "1", "--oos-months", "1", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    folds = pd.read_csv(out / "folds.csv")
    assert len(folds) == 2  # IS April -> OOS May, IS May -> OOS June
    assert (out / "oos_equity.csv").exists()


def test_a_bad_sweep_key_names_it(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("condor.wing_points", "condor.wing_pts"), encoding="utf-8")
    res = runner.invoke(app, ["sweep", str(spec), "--start", "1993-06-01", "--end", "1993-06-30"])
    assert res.exit_code == 2
    assert "condor.wing_pts" in res.output
    assert "condor.wing_points" in res.output  # the close match
