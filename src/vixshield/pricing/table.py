"""Price, Greeks and implied volatility for a table of options (the ``vixshield price`` engine).

A table row is one European option. Columns (CSV header names, case-insensitive):

=============  ========  ===============================================================
column         required  meaning
=============  ========  ===============================================================
underlying     yes       spot (``model=bsm``) or forward/futures price (``model=black76``)
strike         yes       strike price, > 0
t_years        yes       time to settlement in years (ACT/365 minutes / 525,600), > 0
right          yes       ``call``/``put`` (also ``c``/``p``)
vol            one of    volatility as a decimal (0.2 is 20%); Greeks at this vol
premium        one of    option price; the implied vol is solved and Greeks are at it
rate           no        continuously compounded rate, default 0
div_yield      no        continuous dividend yield (BSM only), default 0
model          no        ``bsm`` (default) or ``black76``
=============  ========  ===============================================================

When both ``vol`` and ``premium`` are given, the Greeks use ``vol`` and the implied vol of
``premium`` is reported beside them. Bad values in a row never stop the table: that row's
numbers are NaN with a reason code (:class:`vixshield.pricing.reasons.Reason`). A file whose
structure is wrong (missing column, text where a number belongs) raises
:class:`vixshield.errors.DataError` naming the file, line, field and value.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from vixshield.errors import DataError
from vixshield.pricing.black import GREEK_FIELDS, OptionGreeks, black76_greeks, bsm_greeks
from vixshield.pricing.iv import implied_vol_black76, implied_vol_bsm
from vixshield.pricing.reasons import Reason

FloatArray = npt.NDArray[np.float64]

REQUIRED: Final = ("underlying", "strike", "t_years", "right")
NUMERIC: Final = ("underlying", "strike", "t_years", "vol", "premium", "rate", "div_yield")
OUTPUT_FIELDS: Final = GREEK_FIELDS
_RIGHTS: Final = {"call": True, "c": True, "put": False, "p": False}
_MODELS: Final = ("bsm", "black76")


@dataclass(frozen=True, slots=True)
class OptionTable:
    """Columns of an option table, validated for structure (values are checked per element)."""

    underlying: FloatArray
    strike: FloatArray
    t_years: FloatArray
    is_call: npt.NDArray[np.bool_]
    vol: FloatArray
    premium: FloatArray
    rate: FloatArray
    div_yield: FloatArray
    is_black76: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.strike.shape[0])


@dataclass(frozen=True, slots=True)
class PricedTable:
    """Prices, Greeks and implied vols for each row of an :class:`OptionTable`."""

    table: OptionTable
    greeks: OptionGreeks
    implied_vol: FloatArray
    iv_reason: npt.NDArray[np.int8]

    def rows(self) -> list[dict[str, object]]:
        """One JSON-ready dict per option (NaN becomes ``None``, reasons become names)."""
        out: list[dict[str, object]] = []
        t = self.table
        for i in range(len(t)):
            row: dict[str, object] = {
                "model": "black76" if t.is_black76[i] else "bsm",
                "underlying": _clean(t.underlying[i]),
                "strike": _clean(t.strike[i]),
                "t_years": _clean(t.t_years[i]),
                "right": "call" if t.is_call[i] else "put",
                "vol": _clean(t.vol[i]),
                "premium": _clean(t.premium[i]),
                "rate": _clean(t.rate[i]),
                "div_yield": _clean(t.div_yield[i]),
            }
            for name in OUTPUT_FIELDS:
                row[name] = _clean(getattr(self.greeks, name)[i])
            row["reason"] = Reason(int(self.greeks.reason[i])).name
            row["implied_vol"] = _clean(self.implied_vol[i])
            row["iv_reason"] = Reason(int(self.iv_reason[i])).name
            out.append(row)
        return out


def _clean(x: float | np.floating) -> float | None:
    value = float(x)
    return None if math.isnan(value) else value


def table_from_records(
    records: Iterable[Mapping[str, str]], *, source: str = "<input>", first_line: int = 2
) -> OptionTable:
    """Build an :class:`OptionTable` from string records such as CSV rows.

    Raises
    ------
    DataError
        A required column is missing, neither ``vol`` nor ``premium`` is present, a number
        does not parse, or ``right``/``model`` has an unknown value; the message names
        ``source``, the line, the field and the value.
    """
    rows = [{k.strip().lower(): (v or "").strip() for k, v in r.items() if k} for r in records]
    if not rows:
        raise DataError(f"{source}: no option rows; expected a header and at least one row")
    columns = set(rows[0])
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED)}"
        )
    if "vol" not in columns and "premium" not in columns:
        raise DataError(f"{source}: needs a 'vol' or a 'premium' column (or both)")
    n = len(rows)
    num = {name: np.full(n, np.nan) for name in NUMERIC}
    num["rate"][:] = 0.0
    num["div_yield"][:] = 0.0
    is_call = np.zeros(n, dtype=np.bool_)
    is_black76 = np.zeros(n, dtype=np.bool_)
    for i, row in enumerate(rows):
        line = first_line + i
        for name in NUMERIC:
            text = row.get(name, "")
            if text == "":
                continue
            try:
                num[name][i] = float(text)
            except ValueError:
                raise DataError(
                    f"{source}, line {line}, field '{name}': {text!r} is not a number"
                ) from None
        if np.isnan(num["vol"][i]) and np.isnan(num["premium"][i]):
            raise DataError(
                f"{source}, line {line}: neither 'vol' nor 'premium' is given; fill one of them"
            )
        right = row["right"].lower()
        if right not in _RIGHTS:
            raise DataError(
                f"{source}, line {line}, field 'right': {row['right']!r}; use call/put (or c/p)"
            )
        is_call[i] = _RIGHTS[right]
        model = row.get("model", "").lower() or "bsm"
        if model not in _MODELS:
            raise DataError(
                f"{source}, line {line}, field 'model': {row.get('model')!r}; use bsm or black76"
            )
        is_black76[i] = model == "black76"
    return OptionTable(
        underlying=num["underlying"],
        strike=num["strike"],
        t_years=num["t_years"],
        is_call=is_call,
        vol=num["vol"],
        premium=num["premium"],
        rate=num["rate"],
        div_yield=num["div_yield"],
        is_black76=is_black76,
    )


def read_option_csv(path: Path) -> OptionTable:
    """Read an option table from a CSV file (see the module docstring for the columns)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return table_from_records(csv.DictReader(fh), source=str(path))
    except OSError as exc:
        raise DataError(f"{path}: cannot read the option CSV ({exc.strerror})") from exc


def price_table(table: OptionTable) -> PricedTable:
    """Implied vols for rows with a premium, then price and Greeks for every row.

    Greeks use ``vol`` where it is given and the implied vol otherwise. BSM and Black-76 rows
    are computed in two vectorised passes, never row by row.
    """
    b76 = table.is_black76
    iv = np.full(len(table), np.nan)
    iv_reason = np.full(len(table), Reason.NOT_GIVEN, dtype=np.int8)
    has_premium = ~np.isnan(table.premium)
    for mask, black in ((~b76 & has_premium, False), (b76 & has_premium, True)):
        if not mask.any():
            continue
        if black:
            res = implied_vol_black76(
                table.premium[mask],
                table.underlying[mask],
                table.strike[mask],
                table.t_years[mask],
                rate=table.rate[mask],
                is_call=table.is_call[mask],
            )
        else:
            res = implied_vol_bsm(
                table.premium[mask],
                table.underlying[mask],
                table.strike[mask],
                table.t_years[mask],
                rate=table.rate[mask],
                div_yield=table.div_yield[mask],
                is_call=table.is_call[mask],
            )
        iv[mask] = res.vol
        iv_reason[mask] = res.reason
    vol = np.where(np.isnan(table.vol), iv, table.vol)
    bsm = bsm_greeks(
        table.underlying,
        table.strike,
        table.t_years,
        vol,
        rate=table.rate,
        div_yield=table.div_yield,
        is_call=table.is_call,
    )
    b = black76_greeks(
        table.underlying, table.strike, table.t_years, vol, rate=table.rate, is_call=table.is_call
    )
    merged = {name: np.where(b76, getattr(b, name), getattr(bsm, name)) for name in OUTPUT_FIELDS}
    reason = np.where(b76, b.reason, bsm.reason).astype(np.int8)
    # A row priced at its implied vol inherits the solver's reason when the solve failed.
    no_vol = np.isnan(table.vol)
    reason = np.where(no_vol & (iv_reason != Reason.OK), iv_reason, reason).astype(np.int8)
    return PricedTable(
        table=table,
        greeks=OptionGreeks(**merged, reason=reason),
        implied_vol=iv,
        iv_reason=iv_reason,
    )
