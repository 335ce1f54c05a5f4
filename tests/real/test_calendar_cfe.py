"""The calendar against real exchange files: every CFE VX contract, SPX dates, an SPXW chain.

The oracle: the last row of each CFE VX file ``CFE_<code><yy>_VX.csv`` is dated on the
contract's final settlement date. This includes the two 2004 contracts (N04, V04) that
settled under the original rule. The row carries the final settlement value only, with no
volume. That date must equal ``vx_expiry(year, month)`` exactly, for every contract that had
expired by the end of the data (2014-08-14). A contract still trading then must have its
last row on or before its expiry.

The small CFE parser lives here on purpose; the full loader comes later, with its own issue.
It tolerates the files' known quirks: disclaimer lines, blank lines, trailing commas,
empty Open/High/Low/Close fields in some 2004-2005 rows, and ``M/D/YYYY`` dates with or
without zero padding. Settle and Total Volume must be numbers. Anything else fails with
file and line.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from vixshield.calendar import (
    ExpiryKind,
    last_trade_date,
    sessions,
    spxw_expiries,
    vx_expiry,
)

pytestmark = pytest.mark.real

CFE_HEADER = "Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest"
CFE_FIELDS = 11
CFE_DISCLAIMER = "CFE data is compiled for the convenience of site visitors"
MONTH_CODES = {
    "F": 1,
    "G": 2,
    "H": 3,
    "J": 4,
    "K": 5,
    "M": 6,
    "N": 7,
    "Q": 8,
    "U": 9,
    "V": 10,
    "X": 11,
    "Z": 12,
}
MONTH_ABBREVIATIONS = {
    "Jan": 1,
    "Feb": 2,
    "Mar": 3,
    "Apr": 4,
    "May": 5,
    "Jun": 6,
    "Jul": 7,
    "Aug": 8,
    "Sep": 9,
    "Oct": 10,
    "Nov": 11,
    "Dec": 12,
}
FILE_NAME = re.compile(r"^CFE_([FGHJKMNQUVXZ])(\d{2})_VX\.csv$")
FUTURES_LABEL = re.compile(r"^([FGHJKMNQUVXZ]) \(([A-Z][a-z]{2}) (\d{2})\)$")
US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")

# From ../shared/data/README.md: K04..J15, trade dates 2004-03-26..2014-08-14.
CFE_FILES = 128
CFE_FIRST_TRADE_DATE = dt.date(2004, 3, 26)
CFE_LAST_TRADE_DATE = dt.date(2014, 8, 14)
# Q14, U14, V14, X14, Z14, F15, G15, H15, J15 all expire after 2014-08-14.
CFE_LIVE_AT_END = 9
# Z11 alone traded on its settlement morning, 07:00-08:15 CT (CFE IC11-73), so its
# expiry-day row has prices and volume; every other expired contract's is settle-only.
TRADED_ON_SETTLEMENT_DAY = frozenset({"CFE_Z11_VX.csv"})


class CfeParseError(AssertionError):
    """A CFE file line the test parser does not understand (names file and line)."""


@dataclass(frozen=True, slots=True)
class VxRow:
    line: int
    trade_date: dt.date
    label: str
    ohlc: tuple[float | None, ...]  # empty fields in some 2004-2005 rows
    settle: float
    volume: float


@dataclass(frozen=True, slots=True)
class VxFile:
    path: Path
    year: int
    month: int
    rows: tuple[VxRow, ...]


def _fail(path: Path, line: int, why: str, text: str) -> CfeParseError:
    return CfeParseError(f"{path.name}:{line}: {why}: {text!r}")


def _parse_date(path: Path, line: int, text: str) -> dt.date:
    try:
        if match := US_DATE.match(text):
            month, day, year = (int(g) for g in match.groups())
            return dt.date(year, month, day)
        if match := ISO_DATE.match(text):
            year, month, day = (int(g) for g in match.groups())
            return dt.date(year, month, day)
    except ValueError as exc:
        raise _fail(path, line, f"impossible date ({exc})", text) from exc
    raise _fail(path, line, "unrecognised date style", text)


def _parse_number(path: Path, line: int, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise _fail(path, line, f"{name} is not a number", text) from exc
    if not math.isfinite(value):
        raise _fail(path, line, f"{name} is not finite", text)
    return value


def _parse_optional(path: Path, line: int, name: str, text: str) -> float | None:
    return None if text == "" else _parse_number(path, line, name, text)


def parse_cfe_vx(path: Path) -> VxFile:
    """Parse one CFE VX contract file, tolerating only its documented quirks."""
    name = FILE_NAME.match(path.name)
    if name is None:
        raise _fail(path, 0, "file name is not CFE_<code><yy>_VX.csv", path.name)
    code, yy = name.groups()
    year, month = 2000 + int(yy), MONTH_CODES[code]
    rows: list[VxRow] = []
    seen_header = False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith(CFE_DISCLAIMER):
            continue
        if not seen_header:
            if text != CFE_HEADER:
                raise _fail(path, number, "expected the CFE header first", text)
            seen_header = True
            continue
        fields = [f.strip() for f in text.split(",")]
        while len(fields) > CFE_FIELDS and fields[-1] == "":
            fields.pop()  # trailing commas
        if len(fields) != CFE_FIELDS:
            raise _fail(path, number, f"{len(fields)} fields, expected {CFE_FIELDS}", text)
        label = FUTURES_LABEL.match(fields[1])
        if label is None:
            raise _fail(path, number, "unrecognised Futures label", fields[1])
        l_code, l_month, l_yy = label.groups()
        if (l_code, MONTH_ABBREVIATIONS.get(l_month), l_yy) != (code, month, yy):
            raise _fail(path, number, f"label does not match contract {code}{yy}", fields[1])
        ohlc = tuple(
            _parse_optional(path, number, col, fields[i])
            for i, col in enumerate(("Open", "High", "Low", "Close"), start=2)
        )
        rows.append(
            VxRow(
                line=number,
                trade_date=_parse_date(path, number, fields[0]),
                label=fields[1],
                ohlc=ohlc,
                settle=_parse_number(path, number, "Settle", fields[6]),
                volume=_parse_number(path, number, "Total Volume", fields[8]),
            )
        )
    if not seen_header or not rows:
        raise _fail(path, 0, "no header or no data rows", path.name)
    for before, after in itertools.pairwise(rows):
        if after.trade_date <= before.trade_date:
            raise _fail(path, after.line, "trade dates not strictly ascending", after.label)
    return VxFile(path=path, year=year, month=month, rows=tuple(rows))


@pytest.fixture(scope="module")
def vx_files(real_data: Path) -> list[VxFile]:
    paths = sorted((real_data / "cfe_vx").glob("CFE_*_VX.csv"))
    assert len(paths) == CFE_FILES, f"expected {CFE_FILES} CFE VX files, found {len(paths)}"
    return [parse_cfe_vx(p) for p in paths]


def test_every_cfe_vx_contract_ends_on_its_computed_expiry(vx_files: list[VxFile]) -> None:
    data_end = max(f.rows[-1].trade_date for f in vx_files)
    assert data_end == CFE_LAST_TRADE_DATE
    expired = live = 0
    mismatches: list[str] = []
    for f in vx_files:
        expiry = vx_expiry(f.year, f.month)
        last = f.rows[-1]
        if expiry > data_end:
            live += 1
            if last.trade_date > expiry:
                mismatches.append(f"{f.path.name}: last row {last.trade_date} after {expiry}")
            continue
        expired += 1
        if last.trade_date != expiry:
            mismatches.append(f"{f.path.name}: last row {last.trade_date}, computed {expiry}")
            continue
        # The expiry row is the final settlement only; trading ended the session before.
        settle_only = last.volume == 0 and last.settle > 0
        if settle_only == (f.path.name in TRADED_ON_SETTLEMENT_DAY):
            mismatches.append(f"{f.path.name}:{last.line}: settle-only={settle_only}")
        if f.rows[-2].trade_date != last_trade_date(expiry, ExpiryKind.VIX_AM):
            mismatches.append(
                f"{f.path.name}: last traded {f.rows[-2].trade_date}, "
                f"computed {last_trade_date(expiry, ExpiryKind.VIX_AM)}"
            )
    print(
        f"checked {len(vx_files)} CFE VX contracts: {expired} expired, last row == vx_expiry; "
        f"{live} still trading on {data_end}, last row <= vx_expiry"
    )
    assert mismatches == []
    assert (expired, live) == (CFE_FILES - CFE_LIVE_AT_END, CFE_LIVE_AT_END)


def test_cfe_trade_dates_are_exactly_the_nyse_sessions(vx_files: list[VxFile]) -> None:
    traded = {row.trade_date for f in vx_files for row in f.rows}
    expected = set(sessions(CFE_FIRST_TRADE_DATE, CFE_LAST_TRADE_DATE))
    assert sorted(traded - expected) == []
    assert sorted(expected - traded) == []


def test_spx_daily_history_dates_are_exactly_the_sessions(real_data: Path) -> None:
    # Yahoo ^GSPC 1990-01-02..2019-12-31: one row per NYSE session, 9/11 gap included.
    path = real_data / "spx" / "GSPC_daily_1990_2019.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("Date,")
    days = [dt.date.fromisoformat(line.split(",", 1)[0]) for line in lines[1:] if line.strip()]
    assert days == sessions(dt.date(1990, 1, 2), dt.date(2019, 12, 31))


def test_spxw_chain_expirations_are_spxw_expiries(real_data: Path) -> None:
    # A whole SPXW chain at 15:45 on 2019-06-26: every listed expiration is PM-settled,
    # and every PM expiry of the next five weeks (dailies M/W/F, EOM) is listed.
    path = real_data / "chains" / "spxw_20190626_datashop.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    column = header.index("expiration")
    listed = sorted({dt.date.fromisoformat(x.split(",")[column]) for x in lines[1:] if x})
    assert len(listed) == 30
    computed = spxw_expiries(dt.date(2019, 6, 26), listed[-1])
    assert [d for d in listed if d not in computed] == []
    near_term = spxw_expiries(dt.date(2019, 6, 26), dt.date(2019, 7, 31))
    assert [d for d in near_term if d not in listed] == []


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("13/45/2004,K (May 04),1,1,1,1,1,0,1,0,1", "impossible date"),
        ("2004.05.18,K (May 04),1,1,1,1,1,0,1,0,1", "unrecognised date style"),
        ("5/18/2004,K (May 04),1,1,1,1,x,0,1,0,1", "Settle is not a number"),
        ("5/18/2004,K (May 04),1,1,1,1,1,0,1,0", "10 fields"),
        ("5/18/2004,M (Jun 04),1,1,1,1,1,0,1,0,1", "label does not match"),
    ],
)
def test_parser_fails_loudly_with_file_and_line(tmp_path: Path, row: str, why: str) -> None:
    path = tmp_path / "CFE_K04_VX.csv"
    path.write_text(f"{CFE_HEADER}\n5/17/2004,K (May 04),1,1,1,1,1,0,1,0,1,,\n{row}\n")
    with pytest.raises(CfeParseError, match=rf"^CFE_K04_VX\.csv:3: {why}"):
        parse_cfe_vx(path)
