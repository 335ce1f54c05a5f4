"""The user's book file: good CSV and JSON read whole; every bad value named, nothing read."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from vixshield.data.book_file import read_book
from vixshield.domain.positions import Right
from vixshield.errors import DataError, InvalidInputError

HEADER = (
    "structure,root,expiry,strike,right,quantity,fill_price,opened,fees,symbol,shares,price,beta"
)
GOOD_ROWS = [
    "ic1,SPX,2019-08-16,2650,P,1,5.00,2019-06-20,1.30,,,,",
    "ic1,SPX,2019-08-16,2700,P,-1,6.50,2019-06-20,1.30,,,,",
    "ic1,SPX,2019-08-16,3050,C,-1,4.50,2019-06-21,1.30,,,,",
    "ic1,SPX,2019-08-16,3100,C,1,3.00,2019-06-21,1.30,,,,",
    "hedge,VIX,2019-07-17,20,c,2,0.90,,,,,,",
    "weekly,spxw,2019-07-26,2800,P,-3,4.10,,,,,,",
    ",,,,,,,,,SPY,100,291.00,1.0",
    ",,,,,,,,,QQQ,50,190.00,",
]


def _csv(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "book.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


GOOD_JSON: dict[str, Any] = {
    "legs": [
        {"structure": "ic1", "root": "SPX", "expiry": "2019-08-16", "strike": 2650, "right": "P",
         "quantity": 1, "fill_price": 5.0, "opened": "2019-06-20", "fees": 1.3},
        {"structure": "ic1", "root": "SPX", "expiry": "2019-08-16", "strike": 2700, "right": "P",
         "quantity": -1, "fill_price": 6.5, "opened": "2019-06-20", "fees": 1.3},
        {"structure": "ic1", "root": "SPX", "expiry": "2019-08-16", "strike": 3050, "right": "C",
         "quantity": -1, "fill_price": 4.5, "opened": "2019-06-21", "fees": 1.3},
        {"structure": "ic1", "root": "SPX", "expiry": "2019-08-16", "strike": "3100",
         "right": "C", "quantity": "1", "fill_price": "3.00", "opened": "2019-06-21",
         "fees": 1.3},
        {"structure": "hedge", "root": "VIX", "expiry": "2019-07-17", "strike": 20, "right": "C",
         "quantity": 2, "fill_price": 0.9},
        {"structure": "weekly", "root": "SPXW", "expiry": "2019-07-26", "strike": 2800,
         "right": "P", "quantity": -3, "fill_price": 4.1},
    ],
    "equities": [
        {"symbol": "SPY", "shares": 100, "price": 291.0, "beta": 1.0},
        {"symbol": "QQQ", "shares": 50, "price": 190.0},
    ],
}  # fmt: skip


def _json(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "book.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _check_good(book: Any) -> None:
    assert [s.name for s in book.structures] == ["ic1", "hedge", "weekly"]
    ic = book.structures[0]
    assert [leg.contract.strike for leg in ic.legs] == [2650, 2700, 3050, 3100]
    assert [leg.quantity for leg in ic.legs] == [1, -1, -1, 1]
    assert ic.net_premium_usd == pytest.approx((6.5 - 5.0 + 4.5 - 3.0) * 100)
    hedge = book.structures[1].legs[0]
    assert (hedge.contract.root, hedge.contract.right, hedge.quantity) == ("VIX", Right.CALL, 2)
    assert book.structures[2].legs[0].contract.root == "SPXW"
    assert book.fees_usd == {"ic1": pytest.approx(5.2)}
    assert book.opened == {"ic1": date(2019, 6, 20)}
    assert [(e.symbol, e.shares, e.price) for e in book.equities] == [
        ("SPY", 100, 291.0),
        ("QQQ", 50, 190.0),
    ]
    assert dict(book.equity_betas) == {"SPY": 1.0}


def test_good_csv(tmp_path: Path) -> None:
    _check_good(read_book(_csv(tmp_path, GOOD_ROWS)))


def test_good_json(tmp_path: Path) -> None:
    _check_good(read_book(_json(tmp_path, GOOD_JSON)))


def test_csv_with_option_columns_only_and_blank_lines(tmp_path: Path) -> None:
    header = "structure,root,expiry,strike,right,quantity,fill_price"
    path = _csv(tmp_path, ["", "p,SPX,2019-08-16,2700,P,-1,6.5", ""], header=header)
    book = read_book(path)
    assert len(book.structures) == 1
    assert book.equities == ()


def test_json_bare_array_is_legs(tmp_path: Path) -> None:
    book = read_book(_json(tmp_path, GOOD_JSON["legs"]))
    assert len(book.structures) == 3


BAD_CSV = [
    # (row replacing line 3 = second data row, field, value, words in the message)
    ("ic1,SPY,2019-08-16,2700,P,-1,6.50,,,,,,", "root", "SPY", "not a known root"),
    ("ic1,SPX,2019-8-16,2700,P,-1,6.50,,,,,,", "expiry", "2019-8-16", "not a date"),
    ("ic1,SPX,2019-08-09,2700,P,-1,6.50,,,,,,", "expiry", "2019-08-09", "standard monthly"),
    ("ic1,SPXW,2019-07-16,2700,P,-1,6.50,,,,,,", "expiry", "2019-07-16", "not an SPXW"),
    ("ic1,VIX,2019-08-16,20,C,1,0.9,,,,,,", "expiry", "2019-08-16", "not a VIX expiry"),
    ("ic1,SPX,2019-08-16,-5,P,-1,6.50,,,,,,", "strike", "-5", "> 0"),
    ("ic1,SPX,2019-08-16,abc,P,-1,6.50,,,,,,", "strike", "abc", "> 0"),
    ("ic1,SPX,2019-08-16,2700,X,-1,6.50,,,,,,", "right", "X", "C (call) or P (put)"),
    ("ic1,SPX,2019-08-16,2700,P,0,6.50,,,,,,", "quantity", "0", "non-zero whole"),
    ("ic1,SPX,2019-08-16,2700,P,1.5,6.50,,,,,,", "quantity", "1.5", "non-zero whole"),
    ("ic1,SPX,2019-08-16,2700,P,-1,-0.1,,,,,,", "fill_price", "-0.1", ">= 0"),
    ("ic1,SPX,2019-08-16,2700,P,-1,nan,,,,,,", "fill_price", "nan", ">= 0"),
    ("ic1,SPX,2019-08-16,2700,P,-1,6.5,2019-09-01,,,,,", "opened", "2019-09-01", "after"),
    ("ic1,SPX,2019-08-16,2700,P,-1,6.5,,-1,,,,", "fees", "-1", ">= 0"),
    ("ic1,SPX,2019-08-16,2700,P,-1,,,,,,,", "fill_price", "", "required"),
    (",,,,,,,,,SPY,0,291.00,1.0", "shares", "0", "non-zero"),
    (",,,,,,,,,SPY,100,0,1.0", "price", "0", "> 0"),
    (",,,,,,,,,SPY,100,291,high", "beta", "high", "finite number"),
    ("ic1,,,,,,,,,SPY,100,291,1", "structure", "ic1", "not a field of an equity row"),
]


@pytest.mark.parametrize(("row", "field", "value", "words"), BAD_CSV)
def test_bad_csv_value_is_named(
    tmp_path: Path, row: str, field: str, value: str, words: str
) -> None:
    rows = [GOOD_ROWS[0], row, *GOOD_ROWS[2:4]]
    path = _csv(tmp_path, rows)
    with pytest.raises(DataError) as err:
        read_book(path)
    text = str(err.value)
    assert f"{path}, line 3, field '{field}': {value!r}" in text
    assert words in text
    assert "nothing was loaded" in text


def test_duplicate_legs_name_every_copy(tmp_path: Path) -> None:
    path = _csv(tmp_path, [*GOOD_ROWS, GOOD_ROWS[1], ",,,,,,,,,SPY,5,291,1"])
    with pytest.raises(DataError) as err:
        read_book(path)
    text = str(err.value)
    assert "line 3, field 'structure': 'ic1: SPX 2019-08-16 2700P' duplicate leg" in text
    assert "line 10, field 'structure': 'ic1: SPX 2019-08-16 2700P' duplicate leg" in text
    assert "line 8, field 'symbol': 'SPY' duplicate equity holding (also at 11)" in text
    assert "line 11, field 'symbol'" in text


def test_same_contract_in_two_structures_is_fine(tmp_path: Path) -> None:
    other = GOOD_ROWS[1].replace("ic1", "ic2")
    book = read_book(_csv(tmp_path, [*GOOD_ROWS, other]))
    assert [s.name for s in book.structures] == ["ic1", "hedge", "weekly", "ic2"]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("root", "OEX", "not a known root"),
        ("expiry", "2019-08-15", "not a standard monthly"),
        ("strike", 0, "> 0"),
        ("quantity", 1.5, "non-zero whole"),
        ("quantity", True, "non-zero whole"),
        ("fill_price", -2, ">= 0"),
        ("right", "call", "C (call) or P (put)"),
        ("strik", 2700, "not a field of an option leg"),
    ],
)
def test_bad_json_value_is_named(tmp_path: Path, key: str, value: Any, words: str) -> None:
    data = json.loads(json.dumps(GOOD_JSON))
    data["legs"][1][key] = value
    path = _json(tmp_path, data)
    with pytest.raises(DataError) as err:
        read_book(path)
    text = str(err.value)
    assert f"{path}, legs[1], field '{key}': {str(value)!r}" in text
    assert words in text


def test_bad_json_equity_is_named(tmp_path: Path) -> None:
    data = json.loads(json.dumps(GOOD_JSON))
    data["equities"][1]["price"] = "free"
    path = _json(tmp_path, data)
    with pytest.raises(DataError, match=r"equities\[1\], field 'price': 'free'"):
        read_book(path)


def test_all_problems_are_listed_at_once(tmp_path: Path) -> None:
    rows = [
        "ic1,SPX,2019-08-16,-1,P,0,6.50,,,,,,",
        "ic1,XYZ,2019-08-16,2700,P,-1,6.50,,,,,,",
    ]
    with pytest.raises(DataError) as err:
        read_book(_csv(tmp_path, rows))
    text = str(err.value)
    assert "3 bad value(s)" in text
    assert text.index("line 2, field 'quantity'") < text.index("line 3, field 'root'")


def test_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"line 1: unknown column\(s\) \['strke'\]"):
        read_book(_csv(tmp_path, [], header=HEADER + ",strke"))
    with pytest.raises(DataError, match=r"missing column\(s\) \['fill_price'\]"):
        read_book(_csv(tmp_path, [], header="structure,root,expiry,strike,right,quantity"))
    with pytest.raises(DataError, match="line 2: 3 fields"):
        read_book(_csv(tmp_path, ["a,b,c"]))
    with pytest.raises(DataError, match="unknown top-level key"):
        read_book(_json(tmp_path, {"legs": [], "cash": 1}))
    (tmp_path / "x.json").write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match="not a readable JSON"):
        read_book(tmp_path / "x.json")
    with pytest.raises(InvalidInputError, match=r"use \.csv or \.json"):
        read_book(tmp_path / "book.xlsx")
