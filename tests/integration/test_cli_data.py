"""`vixshield data import/status/export` end to end, on synthetic files and on the real data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from vixshield.cli import app
from vixshield.data.catalog import plan_imports, series_name
from vixshield.data.store import SeriesKind

runner = CliRunner()

GOOD = "DATE,OPEN,HIGH,LOW,CLOSE\n07/01/2019,15.1,15.9,14.8,15.3\n07/02/2019,15.3,15.4,14.6,14.9\n"
BAD = "DATE,OPEN,HIGH,LOW,CLOSE\n07/01/2019,15.1,15.9,14.8,15.3\n07/02/2019,15.3,15.4,14.6,x\n"


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("VIX_History.csv", "vix"),
        ("VIX3M_History.csv", "vix3m"),
        ("GSPC_daily_1990_2019.csv", "spx"),
        ("macro_events_2000_2027.csv", "events"),
        ("FOMC_meetings_1940_2026.csv", "fomc"),
        ("tbill13week_2005_2014.csv", "tbill13w"),
        ("spxw_20190626_datashop.csv", "spxw_20190626_datashop"),
    ],
)
def test_series_names(file_name: str, expected: str) -> None:
    assert series_name(Path(file_name)) == expected


def test_import_status_export_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "VIX_History.csv"
    src.write_text(GOOD)
    store = tmp_path / "store"
    res = runner.invoke(app, ["data", "import", str(src), "--data-dir", str(store), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["status"] == "imported"
    again = runner.invoke(app, ["data", "import", str(src), "--data-dir", str(store)])
    assert "unchanged" in again.stdout
    status = runner.invoke(app, ["data", "status", "--data-dir", str(store), "--json"])
    series = json.loads(status.stdout)["series"]
    assert [(s["name"], s["rows"], s["gaps"]) for s in series] == [("vix", 2, 0)]
    out = tmp_path / "vix.csv"
    exp = runner.invoke(app, ["data", "export", "vix", "--out", str(out), "--data-dir", str(store)])
    assert exp.exit_code == 0, exp.output
    assert pd.read_csv(out)["close"].tolist() == [15.3, 14.9]


def test_bad_file_is_refused_and_previous_version_kept(tmp_path: Path) -> None:
    src = tmp_path / "VIX_History.csv"
    store = tmp_path / "store"
    src.write_text(GOOD)
    assert runner.invoke(app, ["data", "import", str(src), "--data-dir", str(store)]).exit_code == 0
    src.write_text(BAD)
    res = runner.invoke(app, ["data", "import", str(src), "--data-dir", str(store)])
    assert res.exit_code == 1
    assert "line 3, field 'CLOSE'" in res.stderr
    status = json.loads(
        runner.invoke(app, ["data", "status", "--data-dir", str(store), "--json"]).stdout
    )
    assert status["series"][0]["rows"] == 2  # the good version is still there
    skip = runner.invoke(
        app, ["data", "import", str(src), "--data-dir", str(store), "--skip-bad-rows"]
    )
    assert skip.exit_code == 0, skip.output
    assert "1 rows skipped" in skip.stdout


def test_unknown_format_is_named(tmp_path: Path) -> None:
    src = tmp_path / "mystery.csv"
    src.write_text("a,b,c\n1,2,3\n")
    res = runner.invoke(app, ["data", "import", str(src), "--data-dir", str(tmp_path / "s")])
    assert res.exit_code == 2
    assert "matches no known file format" in res.stderr


@pytest.mark.real
def test_plan_for_the_real_data_folder(real_data: Path) -> None:
    plans, skipped = plan_imports(real_data)
    by_name = {p.name: p for p in plans}
    assert set(by_name) == {
        "breadth", "skew", "vix", "vix3m", "vix6m", "vix9d", "vvix", "vx_contracts",
        "spxw_20190626_datashop", "fomc", "events", "tbill13w", "spx",
    }  # fmt: skip
    assert by_name["spxw_20190626_datashop"].kind is SeriesKind.CHAIN
    assert by_name["events"].kind is SeriesKind.EVENTS
    assert by_name["vx_contracts"].source == real_data / "cfe_vx"
    # The strategy-index file is not a market-data series: listed as skipped with the reason.
    assert any("cboe_strategy_monthly" in str(s.path) for s in skipped)


@pytest.mark.real
def test_import_all_real_data_with_skip(real_data: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    res = runner.invoke(
        app,
        ["data", "import", str(real_data), "--data-dir", str(store), "--skip-bad-rows", "--json"],
    )
    assert res.exit_code == 0, res.output
    done = {r["provenance"]["name"]: r for r in json.loads(res.stdout) if "provenance" in r}
    assert len(done) == 13
    assert done["spx"]["provenance"]["rows"] == 7559
    assert done["vix"]["provenance"]["rows_skipped"] == 47  # inconsistent 1992-94 opens
    status = json.loads(
        runner.invoke(app, ["data", "status", "--data-dir", str(store), "--json"]).stdout
    )
    gaps = {s["name"]: s["gaps"] for s in status["series"]}
    assert gaps["spx"] == 0
    assert gaps["spxw_20190626_datashop"] is None
