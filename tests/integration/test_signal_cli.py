"""``vixshield signal`` on the embedded default market: JSON, the rich sections, errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vixshield.cli import app

runner = CliRunner()
DAY = "1993-06-30"
BASE = ["signal", "--data", "synthetic", "--date", DAY]


def test_signal_json_parses_and_is_the_same_twice() -> None:
    first = runner.invoke(app, [*BASE, "--equity", "1000000", "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["session"] == DAY
    assert out["as_of"] == "1993-06-30T16:15:00-04:00"  # the data stamp: close + 15 min
    assert out["regime"] in ("calm", "normal", "elevated", "stressed", "crisis")
    assert out["regime_drivers"]
    assert out["indicators"]["session"] == DAY
    assert [s["scenario"] for s in out["scenarios"]][:5] == [
        "SPX -20%",
        "SPX -10%",
        "SPX -5%",
        "SPX +5%",
        "SPX +10%",
    ]
    assert any(n.startswith("option chain: model chain") for n in out["notes"])
    assert "hedge" in out["book"]["stages"]
    second = runner.invoke(app, [*BASE, "--equity", "1000000", "--json"])
    assert second.stdout == first.stdout


def test_signal_prints_every_section() -> None:
    res = runner.invoke(app, BASE)
    assert res.exit_code == 0, res.output
    for section in (
        f"VixShield signal for {DAY}",
        "Regime:",
        "Indicators",
        "Orders",
        "Hedge actions",
        "Refusals",
        "Book Greeks",
        "Break-evens",
        "Scenarios",
        "Notes",
    ):
        assert section in res.stdout, section


def test_signal_reads_a_book(tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    book.write_text(
        "structure,root,expiry,strike,right,quantity,fill_price\n"
        "mine,SPX,1993-08-20,400,P,-1,1.5\n"
        "mine,SPX,1993-08-20,380,P,1,0.5\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, [*BASE, "--book", str(book), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["book"]["open_structures"] == ["mine"]
    assert any("mine" in o["closes"] for o in out["orders"]) or any(
        r["what"] == "manage mine" for r in out["refusals"]
    )


def test_a_bad_book_file_names_file_line_and_field(tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    book.write_text(
        "structure,root,expiry,strike,right,quantity,fill_price\nic,SPX,1993-08-20,abc,P,-1,1.5\n",
        encoding="utf-8",
    )
    res = runner.invoke(app, [*BASE, "--book", str(book)])
    assert res.exit_code == 2
    assert "book.csv" in res.output
    assert "line 2" in res.output
    assert "strike" in res.output


def test_an_empty_store_gives_advice(tmp_path: Path) -> None:
    res = runner.invoke(app, ["signal", "--date", DAY, "--data-dir", str(tmp_path / "none")])
    assert res.exit_code == 2
    assert "--data synthetic" in res.output


def test_a_bad_date_and_a_bad_equity_exit_2() -> None:
    bad_date = runner.invoke(app, ["signal", "--data", "synthetic", "--date", "1993-13-01"])
    assert bad_date.exit_code == 2
    assert "not a date" in bad_date.output
    weekend = runner.invoke(app, ["signal", "--data", "synthetic", "--date", "1993-07-03"])
    assert weekend.exit_code == 2
    assert "is not a trading session; the one before is 1993-07-02" in weekend.output
    broke = runner.invoke(app, [*BASE, "--equity", "-5"])
    assert broke.exit_code == 2
    assert "equity_usd" in broke.output
