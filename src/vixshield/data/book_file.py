"""The user's current book: open option positions and equity holdings from a CSV or JSON file.

Format
------
**Option legs**, one per row (CSV) or object (JSON ``"legs"`` array):

==============  ========  ==================================================================
field           required  rule
==============  ========  ==================================================================
``structure``   yes       name grouping legs into one structure (a condor, a VIX call spread)
``root``        yes       ``SPX`` (AM monthly), ``SPXW`` (PM) or ``VIX``; case-insensitive
``expiry``      yes       ``YYYY-MM-DD``, a listed expiry of the root per
                          :mod:`vixshield.calendar` (SPX: standard monthly AM expiry; SPXW:
                          a PM expiry; VIX: a VIX expiry)
``strike``      yes       index points, finite, > 0
``right``       yes       ``C`` or ``P`` (case-insensitive)
``quantity``    yes       signed whole contracts, not 0 (``-1`` is short one)
``fill_price``  yes       premium per unit at the fill (index points), finite, >= 0
``opened``      no        ``YYYY-MM-DD``, not after the expiry
``fees``        no        USD paid for the leg, finite, >= 0 (summed per structure)
==============  ========  ==================================================================

**Equity holdings** (CSV rows with a ``symbol``; JSON ``"equities"`` array): ``symbol``
(required, unique), ``shares`` (finite, not 0; may be fractional), ``price`` (USD, finite,
> 0) and optional ``beta`` (finite; beta to SPX, see :func:`vixshield.strategy.book.capm_beta`).

* **CSV**: UTF-8 (a byte-order mark is accepted), header on line 1. The header holds the option
  columns, the equity columns, or both; a row with a non-empty ``symbol`` is an equity row and
  must leave the option fields empty, every other row is an option leg. Empty cells are
  "not given". Blank lines are ignored.
* **JSON**: an object ``{"legs": [...], "equities": [...]}`` (either array may be absent), or a
  bare array of legs. Numbers may be JSON numbers or strings.
* A leg appearing twice (same structure, root, expiry, strike and right) is refused, every copy
  named: merge the quantities into one row.
* Unknown columns or keys are refused (a misspelt ``fees`` would otherwise be lost silently).

Validation is strict: every bad value is collected (:class:`vixshield.data.validation.Problems`)
and the file is refused with one :class:`~vixshield.errors.DataError` naming file, line (CSV:
the physical line, header = 1; JSON: ``legs[i]`` / ``equities[i]``, 0-based), field and value.
Nothing is half-read: either every position is returned or none.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from vixshield import calendar
from vixshield.data.validation import MAX_LISTED, Problems, RowProblem
from vixshield.domain.positions import (
    ROOT_KIND,
    Book,
    EquityHolding,
    Leg,
    OptionContract,
    Right,
    Structure,
)
from vixshield.errors import DataError, InvalidInputError

__all__ = ["EQUITY_FIELDS", "FILL_FIELDS", "LEG_FIELDS", "FillRow", "read_book", "read_fills"]

LEG_REQUIRED: Final = ("structure", "root", "expiry", "strike", "right", "quantity", "fill_price")
LEG_FIELDS: Final = (*LEG_REQUIRED, "opened", "fees")
"""Option-leg fields in their documented order (the last two optional)."""
EQUITY_REQUIRED: Final = ("symbol", "shares", "price")
EQUITY_FIELDS: Final = (*EQUITY_REQUIRED, "beta")
"""Equity fields in their documented order (``beta`` optional)."""

_ROOT_WORDS: Final = {
    "SPX": "a standard monthly SPX (AM-settled) expiry",
    "SPXW": "an SPXW (PM-settled) expiry",
    "VIX": "a VIX expiry",
}
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT: Final = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True, slots=True)
class _Record:
    where: int  # CSV physical line, or JSON array index
    section: str  # "legs" or "equities"
    values: Mapping[str, Any]


def _given(value: Any) -> bool:
    return not (value is None or (isinstance(value, str) and value.strip() == ""))


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    """A finite float, or None when the value is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return x if math.isfinite(x) else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT.match(value.strip()):
        return int(value.strip())
    return None


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Reading the two formats into records


def _read_csv(path: Path) -> list[_Record]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: empty file; write a header line (see book_file docs)")
            names = [h.strip() for h in header]
            _check_header(names, path)
            records: list[_Record] = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                line = reader.line_num
                if len(row) != len(names):
                    raise DataError(
                        f"{path}, line {line}: {len(row)} fields where the header has "
                        f"{len(names)}; nothing was loaded. Fix the row."
                    )
                values = dict(zip(names, row, strict=True))
                is_equity = _given(values.get("symbol"))
                records.append(_Record(line, "equities" if is_equity else "legs", values))
            return records
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc}); check the file.") from exc


def _check_header(names: list[str], path: Path) -> None:
    known = set(LEG_FIELDS) | set(EQUITY_FIELDS)
    unknown = [n for n in names if n not in known]
    dup = sorted({n for n in names if names.count(n) > 1})
    has_legs = any(n in LEG_REQUIRED for n in names)
    has_eq = "symbol" in names
    missing: list[str] = []
    if has_legs or not has_eq:
        missing += [n for n in LEG_REQUIRED if n not in names]
    if has_eq or any(n in EQUITY_FIELDS for n in names):
        missing += [n for n in EQUITY_REQUIRED if n not in names]
    if unknown or dup or missing:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if unknown:
            parts.append(f"unknown column(s) {unknown}")
        if dup:
            parts.append(f"repeated column(s) {dup}")
        raise DataError(
            f"{path}, line 1: {'; '.join(parts)}; nothing was loaded. Option legs need "
            f"{list(LEG_REQUIRED)} (optional {['opened', 'fees']}), equity rows "
            f"{list(EQUITY_REQUIRED)} (optional ['beta'])."
        )


def _read_json(path: Path) -> list[_Record]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc}); check the file.") from exc
    if isinstance(data, list):
        data = {"legs": data}
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected an object with 'legs' and 'equities' arrays")
    unknown = sorted(set(data) - {"legs", "equities"})
    if unknown:
        raise DataError(f"{path}: unknown top-level key(s) {unknown}; use 'legs' and 'equities'")
    records: list[_Record] = []
    for section in ("legs", "equities"):
        items = data.get(section, [])
        if not isinstance(items, list):
            raise DataError(f"{path}: '{section}' must be an array of objects")
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise DataError(f"{path}, {section}[{i}]: expected an object, got {item!r}")
            records.append(_Record(i, section, item))
    return records


# --------------------------------------------------------------------------------------------
# Validation


@dataclass(slots=True)
class _Checked:
    legs: list[tuple[int, str, Leg, date | None, float]]
    equities: list[tuple[int, EquityHolding, float | None]]


def _check_leg(rec: _Record, problems: Problems) -> tuple[str, Leg, date | None, float] | None:
    v = rec.values
    at = rec.where
    before = len(problems.items)
    for name in v:
        if name not in LEG_FIELDS and (name not in EQUITY_FIELDS or _given(v[name])):
            problems.add(at, name, v[name], "is not a field of an option leg; remove it")
    for name in LEG_REQUIRED:
        if not _given(v.get(name)):
            problems.add(at, name, v.get(name, ""), "is required")
    structure = _text(v.get("structure", ""))
    root = _text(v.get("root", "")).upper()
    if _given(v.get("root")) and root not in ROOT_KIND:
        problems.add(at, "root", v["root"], f"is not a known root; use one of {sorted(ROOT_KIND)}")
    expiry = _day(v.get("expiry")) if _given(v.get("expiry")) else None
    if _given(v.get("expiry")):
        if expiry is None:
            problems.add(at, "expiry", v["expiry"], "is not a date YYYY-MM-DD")
        elif root in ROOT_KIND:
            if not (calendar.CALENDAR_START <= expiry <= calendar.CALENDAR_END):
                problems.add(
                    at,
                    "expiry",
                    v["expiry"],
                    f"is outside the calendar ({calendar.CALENDAR_START} to "
                    f"{calendar.CALENDAR_END})",
                )
            elif not calendar.is_expiry(expiry, ROOT_KIND[root]):
                problems.add(
                    at,
                    "expiry",
                    v["expiry"],
                    f"({expiry:%A}) is not {_ROOT_WORDS[root]}; check the date or the root",
                )
    strike = _number(v.get("strike")) if _given(v.get("strike")) else None
    if _given(v.get("strike")) and (strike is None or strike <= 0):
        problems.add(at, "strike", v["strike"], "must be a finite number > 0")
    right = _text(v.get("right", "")).upper()
    if _given(v.get("right")) and right not in ("C", "P"):
        problems.add(at, "right", v["right"], "must be C (call) or P (put)")
    quantity = _integer(v.get("quantity")) if _given(v.get("quantity")) else None
    if _given(v.get("quantity")) and (quantity is None or quantity == 0):
        problems.add(at, "quantity", v["quantity"], "must be a non-zero whole number of contracts")
    fill = _number(v.get("fill_price")) if _given(v.get("fill_price")) else None
    if _given(v.get("fill_price")) and (fill is None or fill < 0):
        problems.add(at, "fill_price", v["fill_price"], "must be a finite number >= 0")
    opened: date | None = None
    if _given(v.get("opened")):
        opened = _day(v["opened"])
        if opened is None:
            problems.add(at, "opened", v["opened"], "is not a date YYYY-MM-DD")
        elif expiry is not None and opened > expiry:
            problems.add(at, "opened", v["opened"], f"is after the expiry {expiry}")
    fees = 0.0
    if _given(v.get("fees")):
        parsed = _number(v["fees"])
        if parsed is None or parsed < 0:
            problems.add(at, "fees", v["fees"], "must be a finite number >= 0 (USD)")
        else:
            fees = parsed
    if len(problems.items) > before:
        return None
    assert expiry is not None
    assert strike is not None
    assert quantity is not None
    assert fill is not None
    contract = OptionContract(root, expiry, strike, Right(right))
    return structure, Leg(contract, quantity, fill), opened, fees


def _check_equity(rec: _Record, problems: Problems) -> tuple[EquityHolding, float | None] | None:
    v = rec.values
    at = rec.where
    before = len(problems.items)
    for name in v:
        if name not in EQUITY_FIELDS and (name not in LEG_FIELDS or _given(v[name])):
            problems.add(at, name, v[name], "is not a field of an equity row; remove it")
    for name in EQUITY_REQUIRED:
        if not _given(v.get(name)):
            problems.add(at, name, v.get(name, ""), "is required")
    shares = _number(v.get("shares")) if _given(v.get("shares")) else None
    if _given(v.get("shares")) and (shares is None or shares == 0):
        problems.add(at, "shares", v["shares"], "must be a finite non-zero number")
    price = _number(v.get("price")) if _given(v.get("price")) else None
    if _given(v.get("price")) and (price is None or price <= 0):
        problems.add(at, "price", v["price"], "must be a finite number > 0 (USD)")
    beta: float | None = None
    if _given(v.get("beta")):
        beta = _number(v["beta"])
        if beta is None:
            problems.add(at, "beta", v["beta"], "must be a finite number")
    if len(problems.items) > before:
        return None
    assert shares is not None
    assert price is not None
    return EquityHolding(_text(v["symbol"]), shares, price), beta


def _duplicates(keys: list[tuple[int, str]], problems: Problems, field: str, what: str) -> None:
    seen: dict[str, list[int]] = {}
    for at, key in keys:
        seen.setdefault(key, []).append(at)
    for key, ats in seen.items():
        if len(ats) > 1:
            for at in ats:
                others = ", ".join(str(a) for a in ats if a != at)
                problems.add(at, field, key, f"duplicate {what} (also at {others}); merge them")


def _format(p: RowProblem, *, json_section: str | None) -> str:
    if json_section is None:
        return str(p)
    return f"{p.source}, {json_section}[{p.line}], field '{p.field}': {p.value!r} {p.message}"


def read_book(path: str | Path) -> Book:
    """Read the user's open positions from ``.csv`` or ``.json`` (module docstring: format).

    Returns
    -------
    vixshield.strategy.book.Book
        Structures in order of first appearance, legs in file order; equity holdings with
        the betas the file gives; fees summed per structure; ``opened`` the earliest leg date.

    Raises
    ------
    DataError
        Unreadable file, bad header or layout, or any bad value (all listed, up to 10, with
        file, line or JSON index, field and value); nothing is returned.
    InvalidInputError
        A suffix other than ``.csv`` or ``.json``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _read_csv(path)
    elif suffix == ".json":
        records = _read_json(path)
    else:
        raise InvalidInputError(f"{path}: unknown book file type {suffix!r}; use .csv or .json")
    is_json = suffix == ".json"
    leg_problems = Problems(str(path))
    eq_problems = Problems(str(path))
    checked = _Checked([], [])
    leg_keys: list[tuple[int, str]] = []
    eq_keys: list[tuple[int, str]] = []
    for rec in records:
        if rec.section == "legs":
            leg = _check_leg(rec, leg_problems)
            if leg is not None:
                name, lg, opened, fees = leg
                checked.legs.append((rec.where, name, lg, opened, fees))
                leg_keys.append((rec.where, f"{name}: {lg.contract.label()}"))
        else:
            eq = _check_equity(rec, eq_problems)
            if eq is not None:
                checked.equities.append((rec.where, eq[0], eq[1]))
                eq_keys.append((rec.where, eq[0].symbol))
    _duplicates(leg_keys, leg_problems, "structure", "leg")
    _duplicates(eq_keys, eq_problems, "symbol", "equity holding")
    _raise_if_any(path, leg_problems, eq_problems, is_json=is_json)
    return _assemble(checked)


def _raise_if_any(path: Path, legs: Problems, equities: Problems, *, is_json: bool) -> None:
    listed: list[tuple[int, int, str]] = []
    for section, problems in (("legs", legs), ("equities", equities)):
        for p in problems.items:
            text = _format(p, json_section=section if is_json else None)
            listed.append((0 if section == "legs" or not is_json else 1, p.line, text))
    if not listed:
        return
    ordered = [t for *_, t in sorted(listed)]
    more = f"\n  ... and {len(ordered) - MAX_LISTED} more" if len(ordered) > MAX_LISTED else ""
    raise DataError(
        f"{path}: {len(ordered)} bad value(s); nothing was loaded.\n  "
        + "\n  ".join(ordered[:MAX_LISTED])
        + more
        + "\nFix the file and read it again."
    )


def _assemble(checked: _Checked) -> Book:
    grouped: dict[str, list[Leg]] = {}
    fees: dict[str, float] = {}
    opened: dict[str, date] = {}
    for _, name, leg, day, fee in checked.legs:
        grouped.setdefault(name, []).append(leg)
        fees[name] = fees.get(name, 0.0) + fee
        if day is not None:
            opened[name] = min(day, opened.get(name, day))
    structures = tuple(Structure(name, tuple(legs)) for name, legs in grouped.items())
    betas = {h.symbol: b for _, h, b in checked.equities if b is not None}
    return Book(
        structures=structures,
        equities=tuple(h for _, h, _ in checked.equities),
        equity_betas=betas,
        fees_usd={k: v for k, v in fees.items() if v > 0},
        opened=opened,
    )


# --------------------------------------------------------------------------------------------
# Fills: executions the user records against the journaled book

FILL_REQUIRED: Final = (
    "trade_date", "structure", "root", "expiry", "strike", "right", "quantity", "price",
)  # fmt: skip
FILL_FIELDS: Final = (*FILL_REQUIRED, "fees", "note")
"""Fill fields in their documented order (the last two optional)."""


@dataclass(frozen=True, slots=True)
class FillRow:
    """One execution: ``leg.quantity`` signed (+ bought), ``leg.price`` per unit in points."""

    where: int
    trade_date: date
    structure: str
    leg: Leg
    fees_usd: float
    note: str


def read_fills(path: str | Path) -> list[FillRow]:
    """Read executions from ``.csv`` (header on line 1) or ``.json`` (an array of objects, or
    ``{"fills": [...]}``).

    Fields: ``trade_date`` (``YYYY-MM-DD``, not after the expiry), ``structure``, ``root``,
    ``expiry``, ``strike``, ``right``, ``quantity`` (signed whole contracts, + bought, not 0),
    ``price`` (per unit, index points, >= 0) with the same rules as the book file's legs, and
    optional ``fees`` (USD >= 0) and ``note``. Every bad value is listed (file, line or JSON
    index, field, value) and nothing is returned.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _fill_records_csv(path)
    elif suffix == ".json":
        records = _fill_records_json(path)
    else:
        raise InvalidInputError(f"{path}: unknown fills file type {suffix!r}; use .csv or .json")
    problems = Problems(str(path))
    rows: list[FillRow] = []
    for at, values in records:
        before = len(problems.items)
        for name in values:
            if name not in FILL_FIELDS:
                problems.add(at, name, values[name], "is not a field of a fill; remove it")
        for name in ("trade_date", "price"):
            if not _given(values.get(name)):
                problems.add(at, name, values.get(name, ""), "is required")
        leg_values: dict[str, Any] = {
            k: values[k] for k in LEG_REQUIRED if k in values and k != "fill_price"
        }
        if _given(values.get("price")):
            leg_values["fill_price"] = values["price"]
        if _given(values.get("fees")):
            leg_values["fees"] = values["fees"]
        if _given(values.get("trade_date")):
            leg_values["opened"] = values["trade_date"]
        leg_problems = Problems(str(path))
        checked = _check_leg(_Record(at, "legs", leg_values), leg_problems)
        for p in leg_problems.items:
            if p.field == "fill_price" and not _given(values.get("price")):
                continue  # already reported as 'price' is required
            field = {"fill_price": "price", "opened": "trade_date"}.get(p.field, p.field)
            problems.add(p.line, field, p.value, p.message)
        if checked is None or len(problems.items) > before:
            continue
        name, leg, opened, fees = checked
        assert opened is not None
        rows.append(FillRow(at, opened, name, leg, fees, _text(values.get("note") or "")))
    if problems.items:
        listed = [
            _format(p, json_section="fills" if suffix == ".json" else None)
            for p in sorted(problems.items, key=lambda p: p.line)
        ]
        more = f"\n  ... and {len(listed) - MAX_LISTED} more" if len(listed) > MAX_LISTED else ""
        raise DataError(
            f"{path}: {len(listed)} bad value(s); nothing was recorded.\n  "
            + "\n  ".join(listed[:MAX_LISTED])
            + more
            + "\nFix the file and record it again."
        )
    return rows


def _fill_records_csv(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: empty file; write a header line {list(FILL_FIELDS)}")
            names = [h.strip() for h in header]
            missing = [n for n in FILL_REQUIRED if n not in names]
            unknown = [n for n in names if n not in FILL_FIELDS]
            if missing or unknown:
                raise DataError(
                    f"{path}, line 1: missing column(s) {missing}, unknown column(s) {unknown}; "
                    f"nothing was recorded. Fills need {list(FILL_REQUIRED)} (optional "
                    "['fees', 'note'])."
                )
            out: list[tuple[int, dict[str, Any]]] = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(names):
                    raise DataError(
                        f"{path}, line {reader.line_num}: {len(row)} fields where the header "
                        f"has {len(names)}; nothing was recorded. Fix the row."
                    )
                out.append((reader.line_num, dict(zip(names, row, strict=True))))
            return out
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc}); check the file.") from exc


def _fill_records_json(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc}); check the file.") from exc
    if isinstance(data, dict) and set(data) == {"fills"}:
        data = data["fills"]
    if not isinstance(data, list):
        raise DataError(f'{path}: expected an array of fills or {{"fills": [...]}}')
    out: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise DataError(f"{path}, fills[{i}]: expected an object, got {item!r}")
        out.append((i, item))
    return out
