"""``vixshield journal``: record a broker snapshot and fills from files, show the journaled
book and the runs; bad files name the file, line and field and record nothing."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vixshield.cli import app
from vixshield.journal import Journal

runner = CliRunner()


def _settings(tmp_path: Path) -> list[str]:
    path = tmp_path / "service.toml"
    path.write_text(f'[data]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    return ["--settings", str(path)]


def test_positions_then_fills_make_the_journaled_book(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    book = tmp_path / "broker.csv"
    book.write_text(
        "structure,root,expiry,strike,right,quantity,fill_price,opened,fees\n"
        "condor,SPX,2026-12-18,5350,P,2,9.0,2026-11-02,10.5\n"
        "condor,SPX,2026-12-18,5400,P,-2,12.0,2026-11-02,\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["journal", "positions", str(book), "--as-of", "2026-11-10", *s])
    assert res.exit_code == 0, res.output
    assert "1 structure(s), 2 leg(s)" in res.stdout
    fills = tmp_path / "fills.csv"
    fills.write_text(
        "trade_date,structure,root,expiry,strike,right,quantity,price,fees,note\n"
        "2026-11-12,condor,SPX,2026-12-18,5400,P,1,15.5,1.2,half the short put back\n"
        "2026-11-13,vix calls,VIX,2026-12-16,35,C,5,2.10,3.0,\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["journal", "fills", str(fills), *s])
    assert res.exit_code == 0, res.output
    assert "recorded 2 fill(s)" in res.stdout
    res = runner.invoke(app, ["journal", "book", "--date", "2026-11-20", "--json", *s])
    assert res.exit_code == 0, res.output
    got = {(g["structure"], g["contract"]): g for g in json.loads(res.stdout)["legs"]}
    assert got["condor", "SPX 2026-12-18 5400P"]["quantity"] == -1
    assert got["condor", "SPX 2026-12-18 5400P"]["price"] == 12.0  # shrinking keeps the price
    assert got["condor", "SPX 2026-12-18 5350P"]["quantity"] == 2
    assert got["vix calls", "VIX 2026-12-16 35C"]["quantity"] == 5
    assert got["vix calls", "VIX 2026-12-16 35C"]["opened"] == "2026-11-13"
    table = runner.invoke(app, ["journal", "book", "--date", "2026-11-20", *s])
    assert "Journaled book on 2026-11-20" in table.stdout
    before = runner.invoke(app, ["journal", "book", "--date", "2026-11-11", "--json", *s])
    assert len(json.loads(before.stdout)["legs"]) == 2  # the fills came later


def test_a_bad_fills_file_names_line_and_field_and_records_nothing(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    fills = tmp_path / "fills.csv"
    fills.write_text(
        "trade_date,structure,root,expiry,strike,right,quantity,price\n"
        "2026-11-12,condor,SPX,2026-12-18,5400,P,1,15.5\n"
        "2026-11-12,condor,SPX,2026-12-17,5400,P,0,-1\n"
        "2027-01-12,condor,SPX,2026-12-18,5400,X,1,2\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, ["journal", "fills", str(fills), *s])
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    assert "line 3, field 'expiry'" in out
    assert "line 3, field 'quantity'" in out
    assert "line 3, field 'price'" in out
    assert "line 4, field 'right'" in out
    assert "line 4, field 'trade_date'" in out  # after the expiry
    assert "nothing was recorded" in out
    with Journal.open(data_dir=tmp_path / "data") as j:
        assert j.fills() == []


def test_fills_as_json_name_the_index(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    fills = tmp_path / "fills.json"
    fills.write_text(
        json.dumps({"fills": [
            {"trade_date": "2026-11-12", "structure": "x", "root": "SPXW",
             "expiry": "2026-12-18", "strike": 5400, "right": "P", "quantity": 1, "price": 3},
            {"trade_date": "2026-11-12", "structure": "x", "root": "SPXW",
             "expiry": "2026-12-18", "strike": 5400, "right": "P", "quantity": 1, "pric": 3},
        ]}),
        encoding="utf-8",
    )  # fmt: skip
    res = runner.invoke(app, ["journal", "fills", str(fills), *s])
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    assert "fills[1], field 'pric'" in out
    assert "fills[1], field 'price'" in out


def test_runs_lists_the_daily_job(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text(
        f'[data]\nsource = "synthetic"\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8"
    )
    s = ["--settings", str(path)]
    assert runner.invoke(app, ["run-daily", "--date", "2026-11-20", *s]).exit_code == 0
    res = runner.invoke(app, ["journal", "runs", "--json", *s])
    assert res.exit_code == 0, res.output
    (run,) = json.loads(res.stdout)
    assert run["trading_day"] == "2026-11-20"
    assert run["status"] == "succeeded"
    assert "Journal runs" in runner.invoke(app, ["journal", "runs", *s]).stdout
