"""Loader for Cboe CFE per-contract VIX futures (VX) history files.

Source format
-------------
One file per contract, with the header::

    Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest

The contract comes from the file name, in either of Cboe's two naming styles:

* the legacy archive ``CFE_<month code><yy>_VX.csv`` (``CFE_K04_VX.csv`` is May 2004; ``yy``
  is read as ``20yy``), ``M/D/YYYY`` dates and ``Futures`` labels such as ``K (May 04)``;
* the current files ``VX_<YYYY-MM-DD>.csv``, named by the contract's final settlement date
  (``VX_2024-01-17.csv`` is January 2024), ISO dates and labels such as ``F (Jan 2024)``.
  The date must be the final settlement date of a monthly contract per
  :func:`vixshield.calendar.vx_expiry` (the contract is the month whose expiry it is);
  anything else, such as a weekly VX expiry, is refused with the file named.

``vixshield data fetch`` saves both styles into one ``cfe_vx/`` folder (archive files for
expiries before 2014-08-01, current ones after); :func:`load_cfe_folder` reads them together.
Either label style is accepted in either file.

Canonical frame
---------------
One row per contract and trade date, sorted by ``date`` (then ``expiry`` for a folder):

================= ============== =============================================================
column            dtype          meaning
================= ============== =============================================================
``date``          datetime64[ns] trade date (a session)
``contract``      str            ``"VX 2004-05"``: the contract month, sortable
``expiry``        datetime64[ns] final settlement date, :func:`vixshield.calendar.vx_expiry`
``open``          float64        first trade; NaN when the row has no traded range
``high``          float64        highest trade; NaN likewise
``low``           float64        lowest trade; NaN likewise
``close``         float64        last trade; NaN likewise
``settle``        float64        daily settlement price (on ``date == expiry``: the final
                                 settlement value, the VRO), always finite and > 0
``volume``        int64          contracts traded (``Total Volume``)
``open_interest`` int64          open interest
``rescaled``      bool           True where prices were divided by 10 (before 2007-03-26)
``modelled``      bool           always False here: these are exchange prices
================= ============== =============================================================

All prices are in VIX points on today's scale.

Quirks handled (each counted in the report's notes)
---------------------------------------------------
* **Old 10x scale.** Before 2007-03-26, VX was quoted on VBI = 10 x VIX. Open, High, Low,
  Close and Settle on trade dates before that day are divided by 10 and flagged ``rescaled``.
* **Zero means missing for O/H/L/C.** Expiry-day rows carry only the final settlement
  (O/H/L/C = 0), and rows on days without trades carry zeros too. A zero or empty
  O/H/L/C is never a price.
* **Incomplete ranges.** Some listing-day rows have Open = Close = 0 beside non-zero High
  and Low that are quotes, not trades (12 of them have High < Low), with zero volume. When
  any of the four is missing the row has no traded range and all four are set to missing.
* **Settle = 0 before the first trade.** A freshly listed contract may show Settle = 0
  (no settlement price yet) until it first trades. Such rows are dropped with a note; a
  zero Settle after the first trade is a bad value.
* Disclaimer lines and blank lines are skipped, trailing commas ignored, and dates read as
  ``M/D/YYYY`` with or without zero padding (``YYYY-MM-DD`` is accepted too).

Known oddities that pass validation: a few zero-volume, zero-open-interest listing-phase
settles sit far from the curve (G14 at 10.25 on 2013-05-28, Q09 at 26.94 on 2008-10-24
beside 36-37 for its neighbours). Both are beyond VX8 on those dates.

Validation (per row, through :class:`vixshield.data.validation.Problems`)
------------------------------------------------------------------------
* the row has 11 fields; the date parses, strictly increases, and is not after the expiry;
* the ``Futures`` label matches the file name (``K (May 04)`` or ``K (May 2004)`` in
  ``CFE_K04_VX.csv``; ``F (Jan 2024)`` or ``F (Jan 24)`` in ``VX_2024-01-17.csv``);
* numbers parse; Settle is finite and > 0 after the scale fix, and not below ``min_settle``
  (5 VIX points by default: F09 and G09 on 2008-04-21 carry a placeholder settle of 1.00,
  which strict mode refuses and skip mode drops);
* High >= Low, and Low <= Open, Close <= High, when the range is present;
* volume and open interest are whole numbers >= 0.

``Mode.STRICT`` refuses the file naming file, line, field and value; ``Mode.SKIP`` drops the
row and reports it. A wrong file name (including a ``VX_`` date that is not a monthly VX
expiry) or header is refused in both modes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from vixshield.calendar import vx_expiry
from vixshield.data.validation import Loaded, LoadReport, Mode, Problems, RowProblem
from vixshield.errors import DataError, VixShieldError

__all__ = [
    "CFE_COLUMNS",
    "CFE_FILE_PATTERNS",
    "CFE_HEADER",
    "MIN_SETTLE",
    "MONTH_CODES",
    "VBI_RESCALE_BEFORE",
    "VBI_SCALE",
    "cfe_contract",
    "load_cfe_file",
    "load_cfe_folder",
]

CFE_HEADER: Final = (
    "Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest"
)
_FIELDS: Final = tuple(CFE_HEADER.split(","))
_DISCLAIMER: Final = "CFE data is compiled for the convenience of site visitors"

CFE_COLUMNS: Final = (
    "date",
    "contract",
    "expiry",
    "open",
    "high",
    "low",
    "close",
    "settle",
    "volume",
    "open_interest",
    "rescaled",
    "modelled",
)

VBI_RESCALE_BEFORE: Final = dt.date(2007, 3, 26)
"""Trade dates before this day quote VX on the old VBI scale (10 x VIX)."""
VBI_SCALE: Final = 10.0
MIN_SETTLE: Final = 5.0
"""Smallest plausible VX settle, in VIX points. VIX has never closed below 9 (low 9.14,
2017-11-24); the CFE files carry placeholder settles of 1.00 (F09 and G09 on 2008-04-21)."""

MONTH_CODES: Final[dict[str, int]] = {
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
# English, as in the files (calendar.month_abbr follows the locale).
_MONTH_NAMES: Final = (
    "",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_FILE_NAME: Final = re.compile(r"^CFE_([FGHJKMNQUVXZ])(\d{2})_VX\.csv$")
_CURRENT_NAME: Final = re.compile(r"^VX_(\d{4}-\d{2}-\d{2})\.csv$")
CFE_FILE_PATTERNS: Final = ("CFE_*_VX.csv", "VX_*.csv")
"""Glob patterns of the two file name styles :func:`load_cfe_folder` reads by default."""
_OHLC: Final = (("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close"))
_PRICE = "must be a finite price > 0"
_NOTE_TEMPLATES: Final = {
    "rescaled": (
        f"prices before {VBI_RESCALE_BEFORE.isoformat()} on the old VBI scale (10 x VIX) "
        f"divided by {VBI_SCALE:g} (column 'rescaled')"
    ),
    "no_range": "O/H/L/C = 0 or empty read as missing (no trades, or the expiry-day row)",
    "partial_range": (
        "incomplete O/H/L/C (zeros beside quote-like High/Low, no traded range) set to missing"
    ),
    "pre_trade_zero_settle": "rows with Settle = 0 before the contract first traded dropped",
}


def cfe_contract(file_name: str) -> tuple[int, int]:
    """The contract ``(year, month)`` named by a CFE VX file name.

    ``"CFE_K04_VX.csv"`` gives ``(2004, 5)`` (the two-digit year is read as ``20yy``);
    ``"VX_2024-01-17.csv"`` gives ``(2024, 1)``: the month whose
    :func:`~vixshield.calendar.vx_expiry` is the date in the name.

    Raises
    ------
    DataError
        If the name is neither ``CFE_<month code><yy>_VX.csv`` nor ``VX_<YYYY-MM-DD>.csv``,
        or its date is not the final settlement date of a monthly VX contract.
    """
    match = _FILE_NAME.match(file_name)
    if match is not None:
        code, yy = match.groups()
        return 2000 + int(yy), MONTH_CODES[code]
    current = _CURRENT_NAME.match(file_name)
    if current is None:
        raise DataError(
            f"{file_name}: not a CFE VX file name; expected CFE_<month code><yy>_VX.csv "
            "such as CFE_K04_VX.csv (month codes FGHJKMNQUVXZ), or VX_<YYYY-MM-DD>.csv named "
            "by the contract's final settlement date, such as VX_2024-01-17.csv."
        )
    return _contract_settling_on(file_name, current.group(1))


def _contract_settling_on(file_name: str, text: str) -> tuple[int, int]:
    """The monthly VX contract whose final settlement date is ``text`` (ISO), or DataError."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise DataError(
            f"{file_name}: {text!r} in the file name is not a date; expected "
            "VX_<YYYY-MM-DD>.csv named by the contract's final settlement date."
        ) from None
    # A monthly VX expiry falls in its own contract month; the neighbours are checked too so
    # that the answer rests on the calendar alone.
    months = [(day.year, day.month)]
    months += [(day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)]
    months += [(day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)]
    expiries: dict[tuple[int, int], dt.date] = {}
    for year, month in months:
        try:
            expiries[year, month] = vx_expiry(year, month)
        except VixShieldError:
            continue  # outside the trading calendar
        if expiries[year, month] == day:
            return year, month
    own = expiries.get((day.year, day.month))
    hint = (
        f"; the {_MONTH_NAMES[day.month]} {day.year} contract settles on {own.isoformat()}"
        if own is not None
        else "; it is outside the trading calendar"
    )
    raise DataError(
        f"{file_name}: {day.isoformat()} ({day:%A}) is not the final settlement date of a "
        f"monthly VX contract per vixshield.calendar.vx_expiry{hint}. Weekly VX files are "
        "not read; rename the file to its contract's settlement date or remove it."
    )


@dataclass(frozen=True, slots=True)
class _Raw:
    """The data lines of one file, split into fields (strings), with 1-based line numbers."""

    frame: pd.DataFrame
    bad_width: tuple[tuple[int, str, int], ...]  # (line, text, field count)


def _split(path: Path) -> _Raw:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    rows: list[list[str]] = []
    numbers: list[int] = []
    bad_width: list[tuple[int, str, int]] = []
    seen_header = False
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith(_DISCLAIMER):
            continue
        fields = [f.strip() for f in text.split(",")]
        while len(fields) > len(_FIELDS) and fields[-1] == "":
            fields.pop()  # trailing commas on some rows
        if not seen_header:
            if tuple(fields) != _FIELDS:
                raise DataError(
                    f"{path.name}, line {number}: expected the CFE header {CFE_HEADER!r}, "
                    f"got {text!r}. Is this a Cboe CFE VX history file?"
                )
            seen_header = True
            continue
        if len(fields) != len(_FIELDS):
            bad_width.append((number, text, len(fields)))
            continue
        rows.append(fields)
        numbers.append(number)
    if not seen_header:
        raise DataError(f"{path.name}: no CFE header line {CFE_HEADER!r}; nothing was loaded.")
    frame = pd.DataFrame(rows, columns=list(_FIELDS), dtype=object)
    frame.insert(0, "line", np.asarray(numbers, dtype=np.int64))
    return _Raw(frame=frame, bad_width=tuple(bad_width))


def _parse_dates(text: pd.Series) -> pd.Series:
    us = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce")
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    return us.fillna(iso).astype("datetime64[ns]")


def _numbers(
    text: pd.Series,
) -> tuple[pd.Series, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Parsed floats, a mask of empty fields and a mask of unparseable or non-finite ones."""
    empty = (text == "").to_numpy()
    values = pd.to_numeric(text.where(~empty, None), errors="coerce").astype("float64")
    bad = ~empty & ~np.isfinite(values.to_numpy())
    return values, empty, bad


def _load(path: Path, mode: Mode, min_settle: float) -> tuple[Loaded, Counter[str]]:
    year, month = cfe_contract(path.name)
    expiry = pd.Timestamp(vx_expiry(year, month))
    code = next(c for c, m in MONTH_CODES.items() if m == month)
    label = f"{code} ({_MONTH_NAMES[month]} {year % 100:02d})"  # "K (May 04)", legacy files
    long_label = f"{code} ({_MONTH_NAMES[month]} {year:04d})"  # "F (Jan 2024)", current files
    raw = _split(path)
    frame = raw.frame
    problems = Problems(path.name)
    for number, text, width in raw.bad_width:
        problems.add(number, "(row)", text, f"has {width} fields, expected {len(_FIELDS)}")
    lines = frame["line"].to_numpy()
    counts: Counter[str] = Counter()

    dates = _parse_dates(frame["Trade Date"])
    problems.check(
        dates.isna(),
        lines=lines,
        field_name="Trade Date",
        values=frame["Trade Date"],
        message="is not a date (expected M/D/YYYY or YYYY-MM-DD)",
    )
    problems.check(
        ~frame["Futures"].isin([label, long_label]).to_numpy(dtype=np.bool_),
        lines=lines,
        field_name="Futures",
        values=frame["Futures"],
        message=f"does not match the file's contract, expected {label!r} or {long_label!r}",
    )

    parsed: dict[str, pd.Series] = {}
    for name in ("Open", "High", "Low", "Close", "Settle", "Total Volume", "Open Interest"):
        values, empty, bad = _numbers(frame[name])
        required = name not in {"Open", "High", "Low", "Close"}
        problems.check(
            bad | (empty & required),
            lines=lines,
            field_name=name,
            values=frame[name],
            message="is not a finite number",
        )
        parsed[name] = values

    rescaled = (dates < pd.Timestamp(VBI_RESCALE_BEFORE)).to_numpy()
    divisor = np.where(rescaled, VBI_SCALE, 1.0)

    # O/H/L/C: zero or empty is missing; a range with any part missing is no range at all.
    ohlc = pd.DataFrame({col: parsed[name] for col, name in _OHLC})
    for col, name in _OHLC:
        problems.check(
            (ohlc[col] < 0).to_numpy(),
            lines=lines,
            field_name=name,
            values=frame[name],
            message="is negative; O/H/L/C must be a price > 0, or 0/empty when missing",
        )
    present = (ohlc > 0).to_numpy()
    complete = present.all(axis=1)
    partial = present.any(axis=1) & ~complete
    none = ~present.any(axis=1)
    ohlc.loc[~complete] = np.nan
    ohlc = ohlc.div(divisor, axis=0)
    high, low = ohlc["high"].to_numpy(), ohlc["low"].to_numpy()
    problems.check(
        high < low,
        lines=lines,
        field_name="High",
        values=frame["High"],
        message="is below the row's Low",
    )
    for col, name in (("open", "Open"), ("close", "Close")):
        value = ohlc[col].to_numpy()
        problems.check(
            (high >= low) & ((value < low) | (value > high)),
            lines=lines,
            field_name=name,
            values=frame[name],
            message="is outside the row's Low..High range",
        )

    # Settle: zero before the first trade is "no price yet" and dropped; otherwise > 0.
    volume = parsed["Total Volume"]
    traded_yet = (volume.fillna(0) > 0).cummax().to_numpy()
    settle_raw = parsed["Settle"].to_numpy()
    pre_trade = (settle_raw == 0) & ~traded_yet
    settle = settle_raw / divisor
    problems.check(
        ~pre_trade & np.isfinite(settle) & ~(settle > 0),
        lines=lines,
        field_name="Settle",
        values=frame["Settle"],
        message=_PRICE,
    )
    problems.check(
        (settle > 0) & (settle < min_settle),
        lines=lines,
        field_name="Settle",
        values=frame["Settle"],
        message=(
            f"is below {min_settle:g} VIX points after the scale fix: a placeholder, not a "
            "price (VIX has never closed below 9)"
        ),
    )
    for name in ("Total Volume", "Open Interest"):
        value = parsed[name].to_numpy()
        problems.check(
            (value < 0) | (np.isfinite(value) & (value != np.round(value))),
            lines=lines,
            field_name=name,
            values=frame[name],
            message="must be a whole number >= 0",
        )

    # Dates strictly increasing (compared with the previous row that has a date), and never
    # after the contract's final settlement day.
    previous = dates.ffill().shift(1)
    problems.check(
        (dates <= previous).to_numpy(),
        lines=lines,
        field_name="Trade Date",
        values=frame["Trade Date"],
        message="is not after the previous row's date (rows must be in increasing date order)",
    )
    problems.check(
        (dates > expiry).to_numpy(),
        lines=lines,
        field_name="Trade Date",
        values=frame["Trade Date"],
        message=f"is after the contract's final settlement date {expiry.date().isoformat()}",
    )

    counts["no_range"] = int((none & ~pre_trade).sum())
    counts["partial_range"] = int((partial & ~pre_trade).sum())
    counts["pre_trade_zero_settle"] = int(pre_trade.sum())
    counts["rescaled"] = int(rescaled[~pre_trade].sum())
    out = pd.DataFrame(
        {
            "line": lines,
            "date": dates,
            "contract": f"VX {year:04d}-{month:02d}",
            "expiry": expiry,
            "open": ohlc["open"],
            "high": ohlc["high"],
            "low": ohlc["low"],
            "close": ohlc["close"],
            "settle": settle,
            "volume": volume,
            "open_interest": parsed["Open Interest"],
            "rescaled": rescaled,
            "modelled": False,
        }
    )
    out = out.loc[~pre_trade]
    rows_read = len(frame) + len(raw.bad_width)
    loaded = problems.finish(out, mode=mode, rows_read=rows_read, notes=_notes(counts))
    result = loaded.frame.astype({"volume": "int64", "open_interest": "int64"})
    result["expiry"] = result["expiry"].astype("datetime64[ns]")
    return Loaded(frame=result.reset_index(drop=True), report=loaded.report), counts


def load_cfe_file(
    path: str | Path, *, mode: Mode = Mode.STRICT, min_settle: float = MIN_SETTLE
) -> Loaded:
    """Load one CFE VX contract file into the canonical frame (see the module docstring).

    Parameters
    ----------
    path
        A ``CFE_<month code><yy>_VX.csv`` or ``VX_<YYYY-MM-DD>.csv`` file.
    mode
        ``Mode.STRICT`` refuses the file on the first bad rows; ``Mode.SKIP`` drops them and
        lists them in the report.
    min_settle
        Smallest plausible settle in VIX points (after the scale fix); lower values are
        reported as bad (see :data:`MIN_SETTLE`).

    Returns
    -------
    Loaded
        The frame and a :class:`LoadReport` whose notes count each quirk handled.

    Raises
    ------
    DataError
        In strict mode for any bad value (naming file, line, field and value); in both modes
        for a wrong file name (or a ``VX_`` date that is not a monthly VX expiry) or header.
    """
    return _load(Path(path), mode, min_settle)[0]


def load_cfe_folder(
    path: str | Path,
    *,
    mode: Mode = Mode.STRICT,
    pattern: str | None = None,
    min_settle: float = MIN_SETTLE,
) -> Loaded:
    """Load every CFE VX file in a folder into one long canonical frame.

    The frame is sorted by ``date`` then ``expiry``. The report's ``source`` is the folder;
    its row counts and skipped rows are the sums over the files, and its notes count each
    quirk over the folder (how many rows, in how many files).

    Parameters
    ----------
    path
        The folder.
    mode, min_settle
        As for :func:`load_cfe_file`.
    pattern
        A glob (relative to the folder) selecting the files; by default both name styles,
        :data:`CFE_FILE_PATTERNS` (``CFE_*_VX.csv`` and ``VX_*.csv``), which may be mixed.
        Every selected file must have a valid name (see :func:`cfe_contract`).

    Raises
    ------
    DataError
        If the folder holds no matching file, a selected file's name names no monthly
        contract, in strict mode for the first file with a bad value, or if two files hold
        the same contract (for example ``CFE_F15_VX.csv`` and ``VX_2015-01-21.csv``).
    """
    folder = Path(path)
    patterns = CFE_FILE_PATTERNS if pattern is None else (pattern,)
    paths = sorted({p for pat in patterns for p in folder.glob(pat)})
    if not paths:
        raise DataError(
            f"{folder}: no files matching {' or '.join(repr(p) for p in patterns)}; point this "
            "at the folder of Cboe CFE VX history files (CFE_<month code><yy>_VX.csv or "
            "VX_<YYYY-MM-DD>.csv)."
        )
    frames: list[pd.DataFrame] = []
    reports: list[LoadReport] = []
    totals: Counter[str] = Counter()
    files: Counter[str] = Counter()
    contracts: dict[str, str] = {}
    for file in paths:
        loaded, counts = _load(file, mode, min_settle)
        year, month = cfe_contract(file.name)
        key = f"VX {year:04d}-{month:02d}"
        if key in contracts:
            raise DataError(
                f"{folder}: {contracts[key]} and {file.name} both hold {key}; keep one file "
                "per contract."
            )
        contracts[key] = file.name
        frames.append(loaded.frame)
        reports.append(loaded.report)
        totals.update(counts)
        files.update(k for k, v in counts.items() if v)
    frame = pd.concat(frames, ignore_index=True).sort_values(["date", "expiry"], kind="stable")
    skipped: tuple[RowProblem, ...] = tuple(p for r in reports for p in r.skipped)
    report = LoadReport(
        source=str(folder),
        rows_read=sum(r.rows_read for r in reports),
        rows_kept=sum(r.rows_kept for r in reports),
        skipped=skipped,
        notes=(f"{len(paths)} files, {len(contracts)} contracts", *_notes(totals, files)),
    )
    return Loaded(frame=frame.reset_index(drop=True), report=report)


def _notes(counts: Counter[str], files: Counter[str] | None = None) -> tuple[str, ...]:
    out: list[str] = []
    for key, template in _NOTE_TEMPLATES.items():
        n = counts.get(key, 0)
        if n:
            where = f" in {files[key]} files" if files is not None else ""
            out.append(f"{template}: {n} rows{where}")
    return tuple(out)
