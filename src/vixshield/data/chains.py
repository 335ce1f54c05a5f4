r"""Option chains: one canonical format, the Cboe DataShop loader, and bridges to the pricers.

Every option chain VixShield reads, real or modelled, is a :class:`pandas.DataFrame` in the
*canonical chain format* below. Vendor files are mapped onto it by a loader
(:func:`load_datashop`); canonical files are read and written with :func:`read_chain` and
:func:`write_chain` (CSV or Parquet, chosen by the file suffix); a model chain built in memory
goes through :func:`validate_chain`, the same checks. Everything downstream (the VIX,
implied vols, the strategy) sees only this format, so the decision code cannot tell a real chain
from a model chain except by the ``modelled`` flag.

Canonical chain format
----------------------
One row per quoted option (one root, expiry, strike and right at one quote instant).

==================  ======================================  ========================================
column              type (in the DataFrame)                 meaning and rule
==================  ======================================  ========================================
``quote_time``      ``datetime64[ns, America/New_York]``    instant of the quote; CSV: ISO 8601
                                                            *with* a UTC offset
                                                            (``2019-06-26T15:45:00-04:00``); a time
                                                            without an offset is refused
``expiry``          ``object`` (:class:`datetime.date`)     expiration date, CSV ``YYYY-MM-DD``;
                                                            on or after the quote's New York date
``settlement``      ``str``: ``"AM"`` or ``"PM"``           AM: opening quotation (09:30 ET);
                                                            PM: the close
``root``            ``str``                                 option root (``SPX``, ``SPXW``,
                                                            ``VIX``, ...), not empty
``strike``          ``float64``                             index points, finite, > 0
``right``           ``str``: ``"C"`` or ``"P"``             call or put
``bid``, ``ask``    ``float64``                             finite, >= 0, bid <= ask (a zero bid is
                                                            a real quote: no buyer)
``bid_size``,       ``float64``, optional                   contracts; >= 0 where given
``ask_size``
``volume``,         ``float64``, optional                   contracts; >= 0 where given
``open_interest``
``underlying_bid``  ``float64``, optional                   index quote at ``quote_time``; > 0
``underlying_ask``                                          where given, bid <= ask
``underlying``      ``float64``, optional                   index level (a single price); > 0
``iv``              ``float64``, optional                   implied vol, decimal (0.15); > 0
``delta``           ``float64``, optional                   change per point of the underlying;
                                                            calls in [0, 1], puts in [-1, 0]
                                                            (vendors: spot delta;
                                                            :func:`add_implied_vols`: forward
                                                            delta, :math:`e^{qT}` times larger)
``modelled``        ``bool``                                False: real quotes; True: a model chain
==================  ======================================  ========================================

* Column order is the order above; optional columns may be absent (then they are absent from the
  frame too). In an optional column an empty CSV cell (NaN) means "not given". Any other column
  is refused: extra vendor fields belong in the vendor's loader, not in the canonical file.
* Known roots are checked against :mod:`vixshield.calendar`: ``SPX`` is AM-settled and must
  expire on a standard monthly SPX expiry; ``SPXW`` (and the older PM roots ``SPXQ``,
  ``SPXPM``) is PM-settled on a PM expiry; ``VIX`` is AM-settled on a VIX expiry
  (:data:`ROOT_FAMILIES`). Other roots are accepted with the settlement the file states.
* A row is a duplicate when another row has the same ``(quote_time, root, expiry, strike,
  right)``; *every* copy is reported, since picking one would be a silent choice. The root is in
  the key because on a third Friday the AM monthly (SPX) and the PM weekly (SPXW) share expiry,
  strike and right.
* A file may hold several quote instants (a history of snapshots); :func:`chain_quote_time` and
  :func:`chain_to_vix_quotes` need exactly one.
* Parquet stores the same columns with the same types (``quote_time`` as a timezone-aware
  timestamp, ``expiry`` as ``date32``). :func:`write_chain` then :func:`read_chain` gives back an
  identical frame (values, dtypes, time zone and column order), in CSV and in Parquet.

Validation
----------
Every loader validates through :class:`vixshield.data.validation.Problems`, one vectorised mask
per rule: ``Mode.STRICT`` (default) refuses the file naming file, line, field and value;
``Mode.SKIP`` drops the bad rows and lists them in the
:class:`~vixshield.data.validation.LoadReport`. Nothing is filled in. Field names in messages
are the *source file's* names (``bid_1545`` for DataShop). In CSV files the line is the physical
line (header = line 1); for Parquet files and in-memory frames it is the 1-based row number.

Cboe DataShop
-------------
:func:`load_datashop` reads the DataShop "Option Quotes" layout (``quote_date, expiration,
strike, option_type, bid_size_HHMM, bid_HHMM, ask_size_HHMM, ask_HHMM, underlying_bid_HHMM,
underlying_ask_HHMM, trade_volume, open_interest``, UTF-8 with or without a byte-order mark). The
snapshot time is read from the column suffix (``_1545`` is 15:45 ET), so other snapshot times
load unchanged. The layout has no settlement field, and the sample files have no root field;
the root, and from it the settlement, is known from, in order:

1. the ``root=`` argument, for the whole file (rows of a ``root`` column naming another root
   are rejected);
2. a ``root`` column, where the file has one (DataShop's full layout does);
3. the file name: the first ``_``/``-``/``.``-separated token that is a known root
   (``spxw_20190626_datashop.csv`` is SPXW, so its third-Friday rows are PM-settled SPXW);
4. otherwise the calendar rule, per expiry: a standard monthly SPX expiry (third Friday, or the
   session before when that is a holiday) is SPX (AM), every other date SPXW (PM). This is wrong
   for an SPXW-only file holding a third Friday: name the root in that case.

Where present, ``implied_volatility_HHMM`` and ``delta_HHMM`` (DataShop's "calcs" files) become
``iv`` and ``delta``; DataShop writes an implied vol of 0 where it computed none, which is read
as "not given" (and counted in the report's notes). ``modelled`` is always False.

Bridges
-------
* :func:`chain_to_vix_quotes` turns a loaded chain into :class:`vixshield.pricing.vix.
  ExpiryQuotes`, so that ``vix_index(chain_to_vix_quotes(f), chain_quote_time(f), rate=r)``
  runs on any chain.
* :func:`add_implied_vols` solves Black-76 implied vols from mids on each expiry's put-call
  parity forward (the VIX method) and adds forward deltas, with a reason for every quote that
  has no implied vol; :func:`implied_vols` gives the same columns as arrays, for callers that
  read a few of them. Both are vectorised: the rows are grouped by expiry once (a chain lists
  an expiry's rows together, so neighbours are compared rather than every row hashed), each
  expiry's settlement instant is computed once (and cached: an expiry is quoted for months),
  and the parity pairs are matched without a merge.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]

from vixshield import calendar
from vixshield.calendar import ExpiryKind
from vixshield.data.validation import Loaded, Mode, Problems
from vixshield.errors import CalendarError, DataError, InvalidInputError
from vixshield.pricing.black import black76_greeks
from vixshield.pricing.iv import implied_vol_black76
from vixshield.pricing.reasons import Reason
from vixshield.pricing.vix import ExpiryQuotes, OptionQuotes, SettlementStyle, settlement_instant
from vixshield.units import MINUTES_PER_YEAR, NEW_YORK

__all__ = [
    "CANONICAL_COLUMNS",
    "IV_REASON_NO_FORWARD",
    "IV_REASON_OK",
    "IV_REASON_ZERO_BID",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "ROOT_FAMILIES",
    "ImpliedVols",
    "add_implied_vols",
    "chain_quote_time",
    "chain_to_vix_quotes",
    "implied_vols",
    "load_datashop",
    "read_chain",
    "validate_chain",
    "write_chain",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
RateInput = float | Callable[[float], float]

REQUIRED_COLUMNS: Final = (
    "quote_time",
    "expiry",
    "settlement",
    "root",
    "strike",
    "right",
    "bid",
    "ask",
    "modelled",
)
"""Columns every canonical chain has."""

OPTIONAL_COLUMNS: Final = (
    "bid_size",
    "ask_size",
    "volume",
    "open_interest",
    "underlying_bid",
    "underlying_ask",
    "underlying",
    "iv",
    "delta",
)
"""Columns a canonical chain may have (NaN where a row does not give the value)."""

CANONICAL_COLUMNS: Final = (*REQUIRED_COLUMNS[:-1], *OPTIONAL_COLUMNS, "modelled")
"""All canonical columns in their canonical order."""

ROOT_FAMILIES: Final[Mapping[str, tuple[SettlementStyle, ExpiryKind]]] = MappingProxyType(
    {
        "SPX": ("AM", ExpiryKind.SPX_AM),
        "SPXW": ("PM", ExpiryKind.SPXW_PM),
        "SPXQ": ("PM", ExpiryKind.SPXW_PM),  # end-of-quarter root before 2014
        "SPXPM": ("PM", ExpiryKind.SPXW_PM),  # third-Friday PM root 2011-2017
        "VIX": ("AM", ExpiryKind.VIX_AM),
    }
)
"""Roots whose settlement and expiry dates :mod:`vixshield.calendar` knows."""

IV_REASON_OK: Final = Reason.OK.name
IV_REASON_ZERO_BID: Final = "ZERO_BID"
"""No bid: the midpoint of a one-sided quote is not a price, so no implied vol is solved."""
IV_REASON_NO_FORWARD: Final = "NO_FORWARD"
"""The expiry has no strike with a call and a put both bid, so put-call parity gives no forward."""

_RIGHTS: Final = ("C", "P")
_STYLES: Final = ("AM", "PM")
_NONNEGATIVE_OPTIONAL: Final = ("bid_size", "ask_size", "volume", "open_interest")
_POSITIVE_OPTIONAL: Final = ("underlying_bid", "underlying_ask", "underlying", "iv")
_DUPLICATE_KEY: Final = ("quote_time", "root", "expiry", "strike", "right")
_EXPIRY_KEY: Final = ["quote_time", "root", "expiry", "settlement"]
_OFFSET: Final = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_TRUE: Final = frozenset({"true", "1"})
_FALSE: Final = frozenset({"false", "0"})
_SUFFIXES: Final = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

_DATASHOP_SNAPSHOT: Final = re.compile(
    r"^(bid_size|bid|ask_size|ask|underlying_bid|underlying_ask|implied_volatility|delta)_(\d{4})$"
)
_DATASHOP_FIELDS: Final = {
    "bid_size": "bid_size",
    "bid": "bid",
    "ask_size": "ask_size",
    "ask": "ask",
    "underlying_bid": "underlying_bid",
    "underlying_ask": "underlying_ask",
    "implied_volatility": "iv",
    "delta": "delta",
}
_DATASHOP_PLAIN: Final = {"trade_volume": "volume", "open_interest": "open_interest"}
_DATASHOP_REQUIRED: Final = ("quote_date", "expiration", "strike", "option_type")


# --------------------------------------------------------------------------------------------
# Parsing one column (vectorised); every parser returns values plus masks of bad entries
# --------------------------------------------------------------------------------------------


def _text(col: pd.Series) -> pd.Series:
    """Stripped strings, NaN where missing or empty."""
    text = col.astype("str").str.strip()
    return text.mask(text == "")


def _parse_float(col: pd.Series) -> tuple[FloatArray, BoolArray, BoolArray]:
    """Values, missing mask, unparseable mask."""
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.isnan(values), np.zeros(values.size, dtype=np.bool_)
    text = _text(col)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    missing = text.isna().to_numpy()
    return values, missing, ~missing & np.isnan(values)


def _parse_instant(col: pd.Series) -> tuple[pd.Series, BoolArray, BoolArray, BoolArray]:
    """New York instants (ns), missing mask, unparseable mask, no-offset mask."""
    none = np.zeros(len(col), dtype=np.bool_)
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        parsed = col.dt.tz_convert(NEW_YORK).dt.as_unit("ns")
        return parsed, col.isna().to_numpy(), none, none
    if pd.api.types.is_datetime64_dtype(col.dtype):
        missing = col.isna().to_numpy()
        empty = pd.Series(pd.NaT, index=col.index, dtype="datetime64[ns, America/New_York]")
        return empty, missing, none, ~missing
    text = _text(col)
    missing = text.isna().to_numpy()
    zoned = text.str.contains(_OFFSET, regex=True, na=False).to_numpy(dtype=np.bool_)
    parsed = pd.to_datetime(text.where(zoned), utc=True, errors="coerce", format="ISO8601")
    parsed = parsed.dt.tz_convert(NEW_YORK).dt.as_unit("ns")
    unparseable = zoned & parsed.isna().to_numpy()
    return parsed, missing, unparseable, ~missing & ~zoned


def _parse_date(col: pd.Series) -> tuple[pd.Series, BoolArray, BoolArray]:
    """Naive midnight timestamps, missing mask, unparseable (or not a plain date) mask."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        missing = col.isna().to_numpy()
        return pd.Series(pd.NaT, index=col.index, dtype="datetime64[s]"), missing, ~missing
    if pd.api.types.is_datetime64_dtype(col.dtype):
        parsed = col
        missing = col.isna().to_numpy()
    elif pd.api.types.is_string_dtype(col.dtype) and not pd.api.types.is_object_dtype(col.dtype):
        text = _text(col)
        missing = text.isna().to_numpy()
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    else:  # object: datetime.date values (Parquet date32), or anything a caller built
        missing = col.isna().to_numpy()
        parsed = pd.to_datetime(col, errors="coerce")
    not_date = (parsed != parsed.dt.normalize()).to_numpy(dtype=np.bool_)
    bad = ~missing & (parsed.isna().to_numpy() | not_date)
    return parsed, missing, bad


def _parse_bool(col: pd.Series) -> tuple[BoolArray, BoolArray, BoolArray]:
    """Values, missing mask, unparseable mask."""
    if pd.api.types.is_bool_dtype(col.dtype) and not col.isna().any():
        values = col.to_numpy(dtype=np.bool_)
        return values, np.zeros(values.size, np.bool_), np.zeros(values.size, np.bool_)
    text = _text(col).str.lower()
    missing = text.isna().to_numpy()
    is_true = text.isin(_TRUE).to_numpy()
    is_false = text.isin(_FALSE).to_numpy()
    return is_true, missing, ~missing & ~is_true & ~is_false


# --------------------------------------------------------------------------------------------
# The shared validator: raw columns (canonical names) -> checked canonical frame
# --------------------------------------------------------------------------------------------


def _calendar_ok(
    expiry: pd.Series, root: pd.Series, rows: BoolArray
) -> tuple[BoolArray, BoolArray]:
    """For ``rows`` (known root, parsed expiry): (outside the calendar, not an expiry of it)."""
    n = len(root)
    outside = np.zeros(n, dtype=np.bool_)
    wrong = np.zeros(n, dtype=np.bool_)
    if not rows.any():
        return outside, wrong
    keys = pd.DataFrame({"expiry": expiry[rows].dt.date, "root": root[rows]})
    table = keys.drop_duplicates().reset_index(drop=True)
    out_flags: list[bool] = []
    wrong_flags: list[bool] = []
    for day, name in zip(table["expiry"], table["root"], strict=True):  # unique pairs only
        in_range = calendar.CALENDAR_START <= day <= calendar.CALENDAR_END
        out_flags.append(not in_range)
        wrong_flags.append(in_range and not calendar.is_expiry(day, ROOT_FAMILIES[name][1]))
    table["outside"] = out_flags
    table["wrong"] = wrong_flags
    flags = keys.merge(table, how="left", on=["expiry", "root"])
    outside[rows] = flags["outside"].to_numpy(dtype=np.bool_)
    wrong[rows] = flags["wrong"].to_numpy(dtype=np.bool_)
    return outside, wrong


def _validate(
    raw: pd.DataFrame,
    *,
    lines: npt.NDArray[np.int64],
    source: str,
    fields: Mapping[str, str],
    mode: Mode,
    notes: Sequence[str] = (),
    quote_time: pd.Series | None = None,
    problems: Problems | None = None,
) -> Loaded:
    """Parse and check ``raw`` (canonical column names, source values) and finish the load.

    ``quote_time`` may be given already parsed (DataShop builds it from the date and the
    header); the messages then quote ``raw["quote_time"]`` (the source's date).
    """
    problems = Problems(source) if problems is None else problems
    n = len(raw)

    def field(col: str) -> str:
        return fields.get(col, col)

    def shown(col: str) -> npt.NDArray[np.object_]:
        return raw[col].to_numpy(dtype=object)

    def check(
        bad: BoolArray, col: str, message: str, values: npt.NDArray[np.object_] | None = None
    ) -> None:
        vals = shown(col) if values is None else values
        problems.check(bad, lines=lines, field_name=field(col), values=vals, message=message)

    # quote_time
    if quote_time is None:
        qt, qt_missing, qt_bad, qt_naive = _parse_instant(raw["quote_time"])
        check(qt_naive, "quote_time", "has no UTC offset; write e.g. 2019-06-26T15:45:00-04:00")
    else:
        qt = quote_time.dt.tz_convert(NEW_YORK).dt.as_unit("ns")
        qt_missing = raw["quote_time"].isna().to_numpy()
        qt_bad = ~qt_missing & qt.isna().to_numpy()
    check(qt_missing, "quote_time", "is missing; every quote needs its instant")
    check(qt_bad, "quote_time", "is not a valid date/time")
    qt_ok = ~(qt_missing | qt_bad) & qt.notna().to_numpy()

    # expiry
    exp, exp_missing, exp_bad = _parse_date(raw["expiry"])
    check(exp_missing, "expiry", "is missing")
    check(exp_bad, "expiry", "is not a date (YYYY-MM-DD)")
    exp_ok = ~(exp_missing | exp_bad)
    quote_day = qt.dt.tz_localize(None).dt.normalize()
    before = qt_ok & exp_ok & (exp < quote_day).to_numpy(dtype=np.bool_)
    check(before, "expiry", "is before the quote date; an expired option has no quote")

    # settlement, root, right
    settlement = _text(raw["settlement"])
    root = _text(raw["root"])
    right = _text(raw["right"])
    for col, text, allowed in (("settlement", settlement, _STYLES), ("right", right, _RIGHTS)):
        missing = text.isna().to_numpy()
        check(missing, col, "is missing")
        check(~missing & ~text.isin(allowed).to_numpy(), col, f"must be one of {allowed}")
    check(root.isna().to_numpy(), "root", "is missing")

    known = root.isin(list(ROOT_FAMILIES)).to_numpy()
    expected = root.map({k: v[0] for k, v in ROOT_FAMILIES.items()})
    mismatch = known & settlement.isin(_STYLES).to_numpy() & (settlement != expected).to_numpy()
    check(mismatch, "settlement", "contradicts the root (SPX, VIX: AM; SPXW, SPXQ, SPXPM: PM)")
    outside, wrong = _calendar_ok(exp, root, known & exp_ok)
    check(outside, "expiry", "is outside the calendar (1953-2040)")
    for name in ROOT_FAMILIES:  # one message per root family
        check(
            wrong & (root == name).to_numpy(dtype=np.bool_),
            "expiry",
            f"is not a {name} expiry by vixshield.calendar; check the root and the date",
        )

    # strike, bid, ask
    numbers: dict[str, FloatArray] = {}
    for col in ("strike", "bid", "ask"):
        values, missing, unparseable = _parse_float(raw[col])
        check(missing, col, "is missing")
        check(unparseable, col, "is not a number")
        numbers[col] = values
    strike, bid, ask = numbers["strike"], numbers["bid"], numbers["ask"]
    with np.errstate(invalid="ignore"):
        given = ~np.isnan(strike)
        check(given & ~(np.isfinite(strike) & (strike > 0.0)), "strike", "must be finite and > 0")
        for col, arr in (("bid", bid), ("ask", ask)):
            bad = ~np.isnan(arr) & ~(np.isfinite(arr) & (arr >= 0.0))
            check(bad, col, "must be finite and >= 0 (a missing quote is not a price)")
        crossed = np.isfinite(bid) & np.isfinite(ask) & (bid > ask)
    crossed_shown = raw["bid"].astype("str") + " > ask " + raw["ask"].astype("str")
    check(crossed, "bid", "is above the ask (crossed quote)", crossed_shown.to_numpy(dtype=object))

    # optional numbers
    present = [c for c in OPTIONAL_COLUMNS if c in raw.columns]
    for col in present:
        values, _, unparseable = _parse_float(raw[col])
        check(unparseable, col, "is not a number")
        numbers[col] = values
        given = ~np.isnan(values)
        with np.errstate(invalid="ignore"):
            if col in _NONNEGATIVE_OPTIONAL:
                check(given & ~(np.isfinite(values) & (values >= 0.0)), col, "must be >= 0")
            elif col in _POSITIVE_OPTIONAL:
                check(given & ~(np.isfinite(values) & (values > 0.0)), col, "must be > 0")
    if "underlying_bid" in numbers and "underlying_ask" in numbers:
        ub, ua = numbers["underlying_bid"], numbers["underlying_ask"]
        with np.errstate(invalid="ignore"):
            check(ub > ua, "underlying_bid", "is above underlying_ask (crossed quote)")
    if "delta" in numbers:
        d = numbers["delta"]
        with np.errstate(invalid="ignore"):
            bad_call = (right == "C").to_numpy() & ~((d >= 0.0) & (d <= 1.0))
            bad_put = (right == "P").to_numpy() & ~((d >= -1.0) & (d <= 0.0))
        check(~np.isnan(d) & (bad_call | bad_put), "delta", "must be in [0, 1] (C) or [-1, 0] (P)")

    # modelled
    modelled, mod_missing, mod_bad = _parse_bool(raw["modelled"])
    check(mod_missing, "modelled", "is missing; say whether the quote is real (false)")
    check(mod_bad, "modelled", "must be true or false")

    # duplicates, among rows whose key parsed
    key_rows = (
        qt_ok
        & exp_ok
        & root.notna().to_numpy(dtype=np.bool_)
        & np.isfinite(strike)
        & right.isin(_RIGHTS).to_numpy(dtype=np.bool_)
    )
    key = pd.DataFrame(
        {"quote_time": qt, "root": root, "expiry": exp, "strike": strike, "right": right}
    )
    dup = np.zeros(n, dtype=np.bool_)
    dup[key_rows] = key.loc[key_rows, list(_DUPLICATE_KEY)].duplicated(keep=False).to_numpy()
    dup_shown = (
        raw["expiry"].astype("str")
        + " "
        + raw["strike"].astype("str")
        + " "
        + raw["right"].astype("str")
    )
    check(
        dup,
        "strike",
        "is quoted more than once for this quote time, root, expiry and right; keep one row",
        dup_shown.to_numpy(dtype=object),
    )

    # the canonical frame (bad rows hold placeholders; finish drops or refuses them)
    out = pd.DataFrame(
        {
            "quote_time": qt,
            "expiry": exp.dt.date,
            "settlement": settlement.astype("str"),
            "root": root.astype("str"),
            "strike": strike,
            "right": right.astype("str"),
            "bid": bid,
            "ask": ask,
        },
        index=raw.index,
    )
    for col in present:
        out[col] = numbers[col]
    out["modelled"] = modelled
    out["line"] = lines
    return problems.finish(out, mode=mode, rows_read=n, notes=notes)


# --------------------------------------------------------------------------------------------
# Canonical files
# --------------------------------------------------------------------------------------------


def _kind_of(path: Path) -> Literal["csv", "parquet"]:
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InvalidInputError(
            f"{path}: unknown chain file type {path.suffix!r}; use .csv, .parquet or .pq"
        )
    return cast(Literal["csv", "parquet"], kind)


def _check_columns(columns: Sequence[str], source: str, error: type[Exception]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in CANONICAL_COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing required column(s) {missing}")
        if unknown:
            parts.append(f"unknown column(s) {unknown}")
        raise error(
            f"{source}: {'; '.join(parts)}. A canonical chain has the columns "
            f"{list(CANONICAL_COLUMNS)} (optional ones may be left out); see "
            "vixshield.data.chains for the format, or use a vendor loader such as load_datashop."
        )


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in CANONICAL_COLUMNS if c in frame.columns]]


def _read_csv_text(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            encoding="utf-8-sig",  # tolerates a byte-order mark
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc}); check the file.") from exc


def validate_chain(
    frame: pd.DataFrame, *, mode: Mode = Mode.STRICT, source: str = "chain frame"
) -> Loaded:
    """Check an in-memory chain and return it in canonical form (dtypes, column order).

    Model-chain builders call this so that what they hand on is exactly what :func:`read_chain`
    would give for the same data.

    Parameters
    ----------
    frame
        Canonical column names; values may be typed or strings (parsed as in a CSV file).
    mode
        ``Mode.STRICT`` raises on the first bad rows; ``Mode.SKIP`` drops and reports them.
    source
        Name used in messages. Lines are 1-based row positions.

    Returns
    -------
    Loaded
        The canonical frame and the load report.

    Raises
    ------
    InvalidInputError
        A required column is missing or an unknown column is present.
    DataError
        Bad rows in strict mode (file, line, field, value named).
    """
    _check_columns(list(frame.columns), source, InvalidInputError)
    raw = frame.reset_index(drop=True)
    lines = np.arange(1, len(raw) + 1, dtype=np.int64)
    return _validate(raw, lines=lines, source=source, fields={}, mode=mode)


def read_chain(path: str | Path, *, mode: Mode = Mode.STRICT) -> Loaded:
    """Read a canonical chain file (CSV or Parquet, by suffix) and validate every row.

    Parameters
    ----------
    path
        ``.csv`` (UTF-8, optional byte-order mark) or ``.parquet`` / ``.pq``.
    mode
        ``Mode.STRICT`` refuses a file with any bad row; ``Mode.SKIP`` drops and reports them.

    Returns
    -------
    Loaded
        ``frame`` in the canonical format (module docstring), in file order; ``report``.

    Raises
    ------
    DataError
        Unreadable file, missing or unknown columns, or bad rows in strict mode.
    InvalidInputError
        An unknown file suffix.
    """
    path = Path(path)
    source = str(path)
    if _kind_of(path) == "csv":
        raw = _read_csv_text(path)
        lines = np.arange(2, len(raw) + 2, dtype=np.int64)  # line 1 is the header
    else:
        try:
            raw = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc}).") from exc
        raw = raw.reset_index(drop=True)
        lines = np.arange(1, len(raw) + 1, dtype=np.int64)
    _check_columns([str(c) for c in raw.columns], source, DataError)
    return _validate(raw, lines=lines, source=source, fields={}, mode=mode)


def write_chain(frame: pd.DataFrame, path: str | Path) -> None:
    """Validate ``frame`` (strictly) and write it as a canonical CSV or Parquet file.

    Parameters
    ----------
    frame
        A chain with canonical columns only (analysis columns such as ``forward`` or
        ``iv_reason`` from :func:`add_implied_vols` must be dropped first).
    path
        ``.csv`` or ``.parquet`` / ``.pq``; parent folders must exist. CSV writes
        ``quote_time`` as ISO 8601 with its UTC offset, ``expiry`` as ``YYYY-MM-DD``, NaN as an
        empty cell and floats in their shortest exact form, so reading it back is lossless.

    Raises
    ------
    InvalidInputError
        Unknown suffix, missing or unknown columns.
    DataError
        A row breaks a rule (nothing is written).
    """
    path = Path(path)
    kind = _kind_of(path)
    canonical = validate_chain(frame, mode=Mode.STRICT, source=f"chain for {path}").frame
    if kind == "parquet":
        canonical.to_parquet(path, index=False)
        return
    text = canonical.copy()
    instants = pd.Series(text["quote_time"].unique())
    iso = dict(zip(instants, (t.isoformat() for t in instants), strict=True))  # unique only
    text["quote_time"] = text["quote_time"].map(iso)
    text["expiry"] = pd.to_datetime(text["expiry"]).dt.strftime("%Y-%m-%d")
    text["modelled"] = np.where(text["modelled"].to_numpy(dtype=np.bool_), "true", "false")
    text.to_csv(path, index=False, na_rep="", lineterminator="\n")


# --------------------------------------------------------------------------------------------
# Cboe DataShop
# --------------------------------------------------------------------------------------------


def _snapshot(columns: Sequence[str], source: str) -> tuple[str, int, int]:
    """The ``HHMM`` suffix of the quote columns and the time it encodes."""
    suffixes = {m.group(2) for c in columns if (m := _DATASHOP_SNAPSHOT.match(c))}
    if len(suffixes) != 1:
        found = sorted(suffixes) or "none"
        raise DataError(
            f"{source}: expected the quote columns of exactly one snapshot (bid_HHMM, ask_HHMM, "
            f"... with one HHMM); found suffixes {found}. Split the file by snapshot."
        )
    suffix = suffixes.pop()
    hour, minute = int(suffix[:2]), int(suffix[2:])
    if not (hour < 24 and minute < 60):
        raise DataError(f"{source}: column suffix _{suffix} is not a time of day HHMM.")
    return suffix, hour, minute


def _root_from_name(path: Path) -> str | None:
    for token in re.split(r"[^A-Za-z0-9]+", path.stem):
        if token.upper() in ROOT_FAMILIES:
            return token.upper()
    return None


def _calendar_roots(expiry_text: pd.Series) -> pd.Series:
    """SPX on standard monthly SPX expiries, SPXW elsewhere (NaN where not a calendar date)."""
    parsed = pd.to_datetime(expiry_text, format="%Y-%m-%d", errors="coerce")
    days = pd.Series(parsed.dt.date, index=expiry_text.index)
    roots: dict[date, str] = {}
    for day in days.dropna().unique():  # unique expiries only
        if calendar.CALENDAR_START <= day <= calendar.CALENDAR_END:
            roots[day] = "SPX" if calendar.is_expiry(day, ExpiryKind.SPX_AM) else "SPXW"
    return days.map(roots)


def load_datashop(path: str | Path, *, root: str | None = None, mode: Mode = Mode.STRICT) -> Loaded:
    """Load a Cboe DataShop option-quotes file into the canonical chain format.

    Parameters
    ----------
    path
        A DataShop CSV: ``quote_date, expiration, strike, option_type, bid_size_HHMM,
        bid_HHMM, ask_size_HHMM, ask_HHMM, underlying_bid_HHMM, underlying_ask_HHMM,
        trade_volume, open_interest``; optionally ``root``, ``implied_volatility_HHMM`` and
        ``delta_HHMM``. Other columns (OHLC, ``_eod`` quotes, other Greeks) are ignored and
        listed in the report's notes.
    root
        The option root of every row (``"SPX"``, ``"SPXW"``, ...; a key of
        :data:`ROOT_FAMILIES`). Without it the root comes from a ``root`` column, else the file
        name, else the calendar rule (module docstring, "Cboe DataShop").
    mode
        ``Mode.STRICT`` refuses a file with any bad row; ``Mode.SKIP`` drops and reports them.

    Returns
    -------
    Loaded
        Canonical frame with ``quote_time`` = ``quote_date`` at the ``HHMM`` of the column
        suffix, New York time; ``settlement`` from the root; ``modelled`` False. The report's
        notes say where the snapshot time and the root came from.

    Raises
    ------
    DataError
        Missing columns, no single snapshot suffix, or bad rows in strict mode; the message
        uses the file's field names (``bid_1545``).
    InvalidInputError
        ``root`` is not a known root.
    """
    path = Path(path)
    source = str(path)
    if root is not None and root not in ROOT_FAMILIES:
        raise InvalidInputError(
            f"root={root!r} is not one of {sorted(ROOT_FAMILIES)}; its settlement is unknown."
        )
    text = _read_csv_text(path)
    columns = [str(c) for c in text.columns]
    suffix, hour, minute = _snapshot(columns, source)
    needed = [*_DATASHOP_REQUIRED, f"bid_{suffix}", f"ask_{suffix}"]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise DataError(
            f"{source}: missing DataShop column(s) {missing}; is this a DataShop option-quotes "
            "file? Its header is quote_date,expiration,strike,option_type,bid_size_1545,..."
        )
    lines = np.arange(2, len(text) + 2, dtype=np.int64)

    raw = pd.DataFrame(index=text.index)
    fields: dict[str, str] = {
        "quote_time": "quote_date",
        "expiry": "expiration",
        "strike": "strike",
        "right": "option_type",
        "root": "root",
        "settlement": "root",
        "modelled": "modelled",
    }
    raw["quote_time"] = text["quote_date"]
    raw["expiry"] = text["expiration"]
    raw["strike"] = text["strike"]
    raw["right"] = _text(text["option_type"]).str.upper()
    used = set(_DATASHOP_REQUIRED)
    for base, canonical in _DATASHOP_FIELDS.items():
        name = f"{base}_{suffix}"
        if name in columns:
            raw[canonical] = text[name]
            fields[canonical] = name
            used.add(name)
    for name, canonical in _DATASHOP_PLAIN.items():
        if name in columns:
            raw[canonical] = text[name]
            fields[canonical] = name
            used.add(name)

    notes = [
        f"quote time {hour:02d}:{minute:02d} America/New_York from the column suffix _{suffix}"
    ]
    if "iv" in raw.columns:
        # DataShop writes 0 where it computed no implied vol: that is "not given", not a vol.
        zero_iv = (pd.to_numeric(_text(raw["iv"]), errors="coerce") == 0.0).to_numpy(np.bool_)
        if zero_iv.any():
            raw["iv"] = raw["iv"].mask(zero_iv)
            notes.append(f"{int(zero_iv.sum())} rows with {fields['iv']} = 0 read as not given")
    root_problems = Problems(source)
    file_roots = _text(text["root"]).str.upper() if "root" in columns else None
    if "root" in columns:
        used.add("root")
    if root is not None:
        roots = pd.Series(root, index=text.index, dtype="str")
        notes.append(f"root {root} from the root argument")
        if file_roots is not None:
            clash = (file_roots.notna() & (file_roots != root)).to_numpy(dtype=np.bool_)
            root_problems.check(
                clash,
                lines=lines,
                field_name="root",
                values=file_roots.to_numpy(dtype=object),
                message=f"differs from the root {root!r} asked for",
            )
    elif file_roots is not None:
        roots = file_roots
        notes.append("root from the file's root column")
    elif (named := _root_from_name(path)) is not None:
        roots = pd.Series(named, index=text.index, dtype="str")
        notes.append(f"root {named} from the file name")
    else:
        roots = _calendar_roots(_text(text["expiration"]))
        notes.append(
            "root from the calendar rule: standard monthly SPX expiries are SPX (AM), other "
            "dates SPXW (PM); pass root= if the file holds SPXW third Fridays"
        )
    unknown = (roots.notna() & ~roots.isin(list(ROOT_FAMILIES))).to_numpy(dtype=np.bool_)
    root_problems.check(
        unknown,
        lines=lines,
        field_name="root",
        values=roots.to_numpy(dtype=object),
        message=f"has no known settlement (known roots: {sorted(ROOT_FAMILIES)}); pass root=",
    )
    raw["root"] = roots
    # rows with an unknown root are already rejected; "PM" only keeps them out of other checks
    raw["settlement"] = roots.map({k: v[0] for k, v in ROOT_FAMILIES.items()}).fillna("PM")
    raw["modelled"] = "false"
    ignored = [c for c in columns if c not in used]
    if ignored:
        notes.append(f"ignored columns: {', '.join(ignored)}")

    quote_day = pd.to_datetime(_text(text["quote_date"]), format="%Y-%m-%d", errors="coerce")
    offset = pd.Timedelta(hours=hour, minutes=minute)
    quote_time = (quote_day + offset).dt.tz_localize(NEW_YORK, nonexistent="NaT", ambiguous="NaT")
    return _validate(
        raw,
        lines=lines,
        source=source,
        fields=fields,
        mode=mode,
        notes=notes,
        quote_time=quote_time,
        problems=root_problems,
    )


# --------------------------------------------------------------------------------------------
# Bridges to the pricers
# --------------------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"{what} needs the canonical column(s) {missing}; load the chain with read_chain, "
            "load_datashop or validate_chain."
        )


def _i8(values: pd.arrays.DatetimeArray) -> npt.NDArray[np.int64]:
    """The timestamps as integers in their unit (NaT as the smallest int64), not copied."""
    return np.asarray(cast(Any, values).asi8, dtype=np.int64)


def chain_quote_time(frame: pd.DataFrame) -> datetime:
    """The single quote instant of a chain (timezone-aware, New York).

    Raises
    ------
    InvalidInputError
        The frame is empty or holds more than one quote instant.
    """
    _require(frame, ["quote_time"], "chain_quote_time")
    values = frame["quote_time"].array
    if isinstance(values, pd.arrays.DatetimeArray) and values.tz is not None:
        i8 = _i8(values)
        known = np.flatnonzero(i8 != np.iinfo(np.int64).min)  # NaT is the smallest int64
        if known.size and (i8[known] == i8[known[0]]).all():  # one instant: no hashing
            first = cast(pd.Timestamp, values[int(known[0])])
            return first.tz_convert(NEW_YORK).to_pydatetime()
    instants = frame["quote_time"].dropna().unique()
    if len(instants) != 1:
        raise InvalidInputError(
            f"the chain holds {len(instants)} quote instants; select one snapshot first, e.g. "
            "frame[frame['quote_time'] == t]."
        )
    stamp = pd.Timestamp(instants[0])
    return stamp.tz_convert(NEW_YORK).to_pydatetime()


def chain_to_vix_quotes(frame: pd.DataFrame) -> list[ExpiryQuotes]:
    """One :class:`~vixshield.pricing.vix.ExpiryQuotes` per (root, expiry, settlement).

    Parameters
    ----------
    frame
        A canonical chain of one quote instant.

    Returns
    -------
    list of ExpiryQuotes
        Ordered by settlement instant, then root. Settlement instants are Cboe's convention for
        the VIX (:func:`vixshield.pricing.vix.settlement_instant`: 09:30 or 16:00 ET). Use as
        ``vix_index(chain_to_vix_quotes(f), chain_quote_time(f), rate=r)``.

    Raises
    ------
    InvalidInputError
        Missing columns or more than one quote instant.
    DataError
        Bad quotes (from :class:`ExpiryQuotes`, naming expiry, strike and field).
    """
    _require(frame, ["root", "expiry", "settlement", "strike", "right", "bid", "ask"], "VIX quotes")
    chain_quote_time(frame)
    out: list[ExpiryQuotes] = []
    for (root, expiry, style), group in frame.groupby(
        ["root", "expiry", "settlement"], sort=True
    ):  # one iteration per expiry, never per quote
        sides = []
        for right in _RIGHTS:
            side = group[group["right"] == right]
            sides.append(
                OptionQuotes(
                    side["strike"].to_numpy(dtype=np.float64),
                    side["bid"].to_numpy(dtype=np.float64),
                    side["ask"].to_numpy(dtype=np.float64),
                )
            )
        day = cast(date, expiry)
        out.append(
            ExpiryQuotes(
                day,
                settlement_instant(day, cast(SettlementStyle, style)),
                calls=sides[0],
                puts=sides[1],
                root=str(root),
            )
        )
    out.sort(key=lambda e: (e.settlement, e.root))
    return out


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_MAX_RUNS: Final = 256  # more runs of equal keys than this: hash the rows instead


@dataclass(frozen=True, slots=True)
class _Groups:
    """Rows grouped by ``(quote_time, root, expiry, settlement)``, numbered by first appearance."""

    of_row: npt.NDArray[np.intp]
    first: npt.NDArray[np.intp]
    """Each group's first row."""
    keys: list[tuple[str, date, str]]
    """Each group's ``(root, expiry, settlement)``."""


def _runs_of(column: pd.Series) -> tuple[BoolArray, Callable[[npt.NDArray[np.intp]], list[Any]]]:
    """Where row ``i + 1`` differs from row ``i`` (missing values differ from nothing), and a
    reader of the values at given rows (timestamps as integers: they only group)."""
    values = column.array
    if isinstance(values, pd.arrays.DatetimeArray):
        i8 = _i8(values)
        return np.asarray(i8[1:] != i8[:-1], dtype=np.bool_), lambda at: i8[at].tolist()
    to_arrow = getattr(values, "__arrow_array__", None)
    if to_arrow is not None:  # pyarrow-backed strings: compared and read in C
        arrow = to_arrow()
        if isinstance(arrow, pa.ChunkedArray):
            arrow = arrow.combine_chunks()
        n = len(arrow)
        ne = pc.not_equal(arrow.slice(1), arrow.slice(0, n - 1)).fill_null(True)
        changes = np.asarray(ne.to_numpy(zero_copy_only=False), dtype=np.bool_)
        return changes, lambda at: list(arrow.take(pa.array(at)).to_pylist())
    objects = column.to_numpy(dtype=object)
    return np.asarray(objects[1:] != objects[:-1], dtype=np.bool_), lambda at: objects[at].tolist()


def _expiry_groups(frame: pd.DataFrame) -> _Groups:
    """Group the rows by ``(quote_time, root, expiry, settlement)`` (:class:`_Groups`).

    Chains list an expiry's rows together, so the keys are compared row to row and only the
    first row of each run is read (one vectorised comparison per column); a frame with many
    short runs is hashed row by row instead (``pandas.factorize``).
    """
    n = len(frame)
    change = np.zeros(n, dtype=np.bool_)
    change[0] = True
    readers = []
    for column in _EXPIRY_KEY:
        changes, read = _runs_of(frame[column])
        change[1:] |= changes
        readers.append(read)
    starts = np.flatnonzero(change)
    if starts.size > _MAX_RUNS:
        return _hashed_groups(frame)
    code_of: dict[tuple[Any, ...], int] = {}
    firsts: list[int] = []
    run_codes: list[int] = []
    for start, key in zip(
        starts.tolist(), zip(*(read(starts) for read in readers), strict=True), strict=True
    ):
        code = code_of.setdefault(key, len(code_of))
        if code == len(firsts):
            firsts.append(start)
        run_codes.append(code)
    of_row = np.repeat(np.asarray(run_codes, dtype=np.intp), np.diff(np.r_[starts, n]))
    keys = [(str(k[1]), cast(date, k[2]), str(k[3])) for k in code_of]
    return _Groups(of_row, np.asarray(firsts, dtype=np.intp), keys)


def _hashed_groups(frame: pd.DataFrame) -> _Groups:
    """:func:`_expiry_groups` by hashing every row's key."""
    combined = np.zeros(len(frame), dtype=np.int64)
    bound = 1  # combined < bound
    for column in _EXPIRY_KEY:
        codes, uniques = pd.factorize(frame[column], use_na_sentinel=False)
        if bound * max(len(uniques), 1) >= 2**62:  # renumber densely before it could overflow
            combined, seen = pd.factorize(combined)
            bound = len(seen)
        combined = combined * max(len(uniques), 1) + codes
        bound *= max(len(uniques), 1)
    groups, _ = pd.factorize(combined)
    _, first = np.unique(groups, return_index=True)
    keys = list(
        zip(
            frame["root"].iloc[first].tolist(),
            frame["expiry"].iloc[first].tolist(),
            frame["settlement"].iloc[first].tolist(),
            strict=True,
        )
    )
    return _Groups(groups.astype(np.intp, copy=False), first.astype(np.intp, copy=False), keys)


@functools.lru_cache(maxsize=4096)
def _settlement_us(root: str, day: date, style: SettlementStyle) -> int:
    """Microseconds since 1970 UTC of the settlement instant (the calendar's for known roots:
    13:00 on early closes). Cached: an expiry is quoted on many days."""
    family = ROOT_FAMILIES.get(root)
    instant = settlement_instant(day, style)
    if family is not None and family[0] == style:
        # not on the calendar (an unvalidated frame): keep the nominal instant
        with contextlib.suppress(CalendarError):
            instant = calendar.settlement_datetime(day, family[1])
    return (instant - _EPOCH) // _MICROSECOND


def _years_to_settlement(frame: pd.DataFrame, groups: _Groups) -> FloatArray:
    """Each row's real elapsed minutes from ``quote_time`` to settlement over 525,600.

    Computed once per expiry group (a value depends only on the row's group) and spread to
    the rows. The settlement instants are microsecond timestamps, so pandas subtracts and
    converts to seconds exactly as it does for any datetime column.
    """
    us = np.array(
        [_settlement_us(r, e, cast(SettlementStyle, s)) for r, e, s in groups.keys],
        dtype=np.int64,
    )
    settles = pd.DatetimeIndex(us.view("datetime64[us]"), tz="UTC").array
    elapsed = settles - frame["quote_time"].array[groups.first]
    seconds = np.asarray(elapsed.total_seconds(), dtype=np.float64)
    return np.asarray((seconds / 60.0 / MINUTES_PER_YEAR)[groups.of_row], dtype=np.float64)


def _rates(rate: RateInput, t_years: FloatArray) -> FloatArray:
    if not callable(rate):
        value = float(rate)
        if not math.isfinite(value):
            raise InvalidInputError(f"rate {rate!r} must be finite")
        return np.full(t_years.shape, value)
    unique, inverse = np.unique(t_years, return_inverse=True)
    values = np.array([float(rate(float(t))) for t in unique])  # one call per expiry
    if not np.isfinite(values).all():
        raise InvalidInputError("the rate function returned a non-finite rate")
    return values[inverse]


def _parity_forwards(
    frame: pd.DataFrame,
    mid: FloatArray,
    t_years: FloatArray,
    rate: FloatArray,
    *,
    groups: npt.NDArray[np.intp],
    is_call: BoolArray,
) -> FloatArray:
    r"""Per expiry :math:`F = K^* + e^{RT}(C - P)` at the strike with the smallest :math:`|C-P|`.

    Only strikes where both the call and the put are bid take part (as in the VIX); ties go
    to the lower strike. ``groups`` numbers the rows' ``(quote_time, root, expiry,
    settlement)`` (:func:`_expiry_groups`); ``is_call`` is ``right == "C"``. Vectorised: the
    bid calls and puts are put in (group, strike, call first) order (a chain listed that way
    needs no sort), a call followed by a put at its strike is a pair, and each group's best
    pair is found by a minimum per group. A chain that lists a (group, strike, right) twice
    among bid quotes, a NaN strike or a NaN mid in a pair takes
    :func:`_parity_forwards_merge`, the general merge.
    """
    bid_ok = frame["bid"].to_numpy(dtype=np.float64, na_value=np.nan) > 0.0
    is_put = (frame["right"] == "P").to_numpy(dtype=np.bool_)
    strike = frame["strike"].to_numpy(dtype=np.float64, na_value=np.nan)
    rows = np.flatnonzero(bid_ok & (is_call | is_put))
    if rows.size == 0:
        return np.full(len(frame), np.nan)
    g, k, side = groups[rows], strike[rows], is_put[rows]
    if np.isnan(k).any():
        return _parity_forwards_merge(frame, mid, t_years, rate)
    after = (g[1:] > g[:-1]) | (
        (g[1:] == g[:-1]) & ((k[1:] > k[:-1]) | ((k[1:] == k[:-1]) & (side[1:] >= side[:-1])))
    )
    if not after.all():  # not listed in (group, strike, call first) order: sort
        order = np.lexsort((side, k, g))
        rows, g, k, side = rows[order], g[order], k[order], side[order]
    same = (g[1:] == g[:-1]) & (k[1:] == k[:-1])
    if (same & (side[1:] == side[:-1])).any():  # a listed twice: the merge pairs every copy
        return _parity_forwards_merge(frame, mid, t_years, rate)
    pair = np.flatnonzero(same)  # call at rows[pair], put at rows[pair + 1]
    if pair.size == 0:
        return np.full(len(frame), np.nan)
    c, p = rows[pair], rows[pair + 1]
    diff = mid[c] - mid[p]
    if np.isnan(diff).any():
        return _parity_forwards_merge(frame, mid, t_years, rate)
    growth = np.exp(rate * t_years)
    # smallest gap per group, the lower strike on ties (pairs are in strike order)
    gap = np.abs(diff)
    pg, pk = g[pair], k[pair]
    starts = np.flatnonzero(np.r_[True, pg[1:] != pg[:-1]])
    segment = np.cumsum(np.r_[False, pg[1:] != pg[:-1]])
    at_min = np.flatnonzero(gap == np.minimum.reduceat(gap, starts)[segment])
    best = at_min[np.r_[True, segment[at_min][1:] != segment[at_min][:-1]]]
    forward = np.full(int(groups.max()) + 1, np.nan)
    forward[pg[best]] = pk[best] + growth[c[best]] * diff[best]
    return np.asarray(forward[groups], dtype=np.float64)


def _parity_forwards_merge(
    frame: pd.DataFrame, mid: FloatArray, t_years: FloatArray, rate: FloatArray
) -> FloatArray:
    """:func:`_parity_forwards` by merging the calls and puts frames (any chain)."""
    work = frame[[*_EXPIRY_KEY, "strike", "right", "bid"]].copy()
    work["mid"] = mid
    work["growth"] = np.exp(rate * t_years)
    bid_ok = work["bid"] > 0.0
    calls = work[bid_ok & (work["right"] == "C")]
    puts = work[bid_ok & (work["right"] == "P")]
    pairs = calls.merge(puts, on=[*_EXPIRY_KEY, "strike"], suffixes=("_c", "_p"))
    pairs = pairs.sort_values([*_EXPIRY_KEY, "strike"], kind="stable").reset_index(drop=True)
    pairs["diff"] = pairs["mid_c"] - pairs["mid_p"]
    pairs["gap"] = pairs["diff"].abs()
    best = pairs.loc[pairs.groupby(_EXPIRY_KEY, sort=False)["gap"].idxmin()]
    best = best.assign(forward=best["strike"] + best["growth_c"] * best["diff"])
    merged = frame[_EXPIRY_KEY].merge(best[[*_EXPIRY_KEY, "forward"]], how="left", on=_EXPIRY_KEY)
    return merged["forward"].to_numpy(dtype=np.float64, na_value=np.nan)


def _given_forwards(
    frame: pd.DataFrame, forward: float | Mapping[date, float], groups: _Groups
) -> FloatArray:
    if isinstance(forward, Mapping):
        expiries = [e for _, e, _ in groups.keys]
        missing = sorted(set(expiries) - set(forward))
        if missing:
            raise InvalidInputError(
                f"forward mapping has no entry for expiries {[d.isoformat() for d in missing]}; "
                "give every expiry or pass forward=None for put-call parity."
            )
        mapped = np.array([forward[e] for e in expiries], dtype=np.float64)
        return np.asarray(mapped[groups.of_row], dtype=np.float64)
    return np.full(len(frame), float(forward), dtype=np.float64)


def add_implied_vols(
    frame: pd.DataFrame,
    *,
    rate: RateInput,
    forward: float | Mapping[date, float] | None = None,
) -> pd.DataFrame:
    r"""A copy of the chain with implied vols and deltas from the bid/ask mids.

    Parameters
    ----------
    frame
        A canonical chain (one or several quote instants).
    rate
        Continuously compounded rate: a number, or a function ``t_years -> rate`` (a curve),
        called once per distinct time to settlement.
    forward
        ``None`` (default): per (quote time, root, expiry), the put-call parity forward
        :math:`F = K^* + e^{RT}(C - P)` at the strike with the smallest :math:`|C - P|` among
        strikes where both are bid, as the VIX does. A number: one forward for every row. A
        mapping: expiry date to forward (must cover every expiry).

    Returns
    -------
    pandas.DataFrame
        The input columns, with ``iv`` and ``delta`` replaced, plus

        * ``t_years``: real elapsed minutes from ``quote_time`` to the settlement instant over
          525,600 (:func:`vixshield.calendar.settlement_datetime` for known roots, so an
          early-close PM expiry settles at 13:00);
        * ``forward``: the forward used;
        * ``iv_reason``: ``"OK"``, ``"ZERO_BID"`` (no bid, so no price to invert),
          ``"NO_FORWARD"`` (no parity pair in the expiry), or the solver's
          :class:`~vixshield.pricing.reasons.Reason` name, e.g. ``"BELOW_INTRINSIC"`` when the
          mid is at or under :math:`\max(\pm(F-K), 0)e^{-RT}` (deep in the money) or
          ``"NONPOSITIVE_TIME"`` at or after settlement.

        ``iv`` is the Black-76 implied vol of the mid on ``forward``
        (:func:`vixshield.pricing.iv.implied_vol_black76`), NaN unless ``iv_reason`` is OK.
        ``delta`` is the forward delta :math:`e^{rT}\partial V/\partial F`: :math:`N(d_1)` for a
        call, :math:`N(d_1) - 1` for a put (from
        :func:`vixshield.pricing.black.black76_greeks`). A vendor's spot delta is
        :math:`e^{-qT}` times this (0.2% less at one month for SPX). The spot delta is not
        used because the dividend yield it needs, implied by :math:`F/S`, is noise at short
        expiries: on the 2019-06-26 chain the 15-minute expiry implies :math:`q = -46\%` and
        deep calls would get deltas above 1.

    Raises
    ------
    InvalidInputError
        Missing canonical columns, a non-finite rate, or a forward mapping missing expiries.
    """
    _require(frame, [*_EXPIRY_KEY, "strike", "right", "bid", "ask"], "add_implied_vols")
    if frame.empty:
        out = frame.copy()
        return out.assign(iv=np.nan, delta=np.nan, t_years=np.nan, forward=np.nan, iv_reason="")
    return implied_vols(frame, rate=rate, forward=forward).added_to(frame)


class ImpliedVols(NamedTuple):
    """:func:`add_implied_vols`'s columns as arrays, in the frame's row order."""

    iv: FloatArray
    delta: FloatArray
    t_years: FloatArray
    forward: FloatArray
    iv_reason: pd.api.extensions.ExtensionArray
    """``str`` labels (``"OK"``, ``"ZERO_BID"``, ...)."""
    ok: BoolArray
    """``iv_reason == "OK"``."""

    def added_to(self, frame: pd.DataFrame, **extra: npt.ArrayLike) -> pd.DataFrame:
        """``frame`` (the one these were computed on) as :func:`add_implied_vols` returns it,
        then the ``extra`` columns in order: one new frame, built once."""
        # with copy-on-write nothing is shared in a way a write could leak through: the
        # input's columns in order, iv and delta replaced where present
        data: dict[Hashable, Any] = {c: frame[c].array for c in frame.columns}
        data.update(
            iv=self.iv, delta=self.delta, t_years=self.t_years, forward=self.forward,
            iv_reason=self.iv_reason,
        )  # fmt: skip
        data.update(extra)
        out = pd.DataFrame(data, index=frame.index, copy=True)
        if out.columns.dtype != frame.columns.dtype:  # the labels' dtype as the frame's
            out.columns = out.columns.astype(frame.columns.dtype)
        return out


def implied_vols(
    frame: pd.DataFrame,
    *,
    rate: RateInput,
    forward: float | Mapping[date, float] | None = None,
) -> ImpliedVols:
    """The arrays :func:`add_implied_vols` adds to ``frame`` (same arguments), without the frame.

    For callers that read a few columns of the result: nothing is copied but the arrays.

    Raises
    ------
    InvalidInputError
        As :func:`add_implied_vols`.
    """
    _require(frame, [*_EXPIRY_KEY, "strike", "right", "bid", "ask"], "implied_vols")
    if frame.empty:
        nan = np.full(0, np.nan)
        reasons = pd.array(np.array([], dtype=object), dtype="str")
        return ImpliedVols(nan, nan.copy(), nan.copy(), nan.copy(), reasons, np.zeros(0, bool))
    groups = _expiry_groups(frame)
    t_years = _years_to_settlement(frame, groups)
    r = _rates(rate, t_years)
    bid = frame["bid"].to_numpy(dtype=np.float64)
    ask = frame["ask"].to_numpy(dtype=np.float64)
    mid = 0.5 * (bid + ask)
    strike = frame["strike"].to_numpy(dtype=np.float64)
    is_call = (frame["right"] == "C").to_numpy(dtype=np.bool_)
    fwd = (
        _parity_forwards(frame, mid, t_years, r, groups=groups.of_row, is_call=is_call)
        if forward is None
        else _given_forwards(frame, forward, groups)
    )

    solved = implied_vol_black76(mid, fwd, strike, t_years, rate=r, is_call=is_call)
    # the reason as an index into its labels: the string column is built once from them
    labels = [*(m.name for m in Reason), IV_REASON_NO_FORWARD, IV_REASON_ZERO_BID]
    codes = np.array([int(m) for m in Reason])
    reason = np.searchsorted(codes, solved.reason.astype(np.int64))
    reason = np.where(np.isnan(fwd), len(labels) - 2, reason)
    reason = np.where(bid > 0.0, reason, len(labels) - 1)
    ok = reason == labels.index(IV_REASON_OK)
    vol = np.where(ok, solved.vol, np.nan)

    greeks = black76_greeks(fwd, strike, t_years, np.where(ok, vol, 1.0), rate=r, is_call=is_call)
    # e^{rT} dV/dF = N(w d1) w; the clip only removes rounding (N(d1) = 1 times DF / DF).
    forward_delta = np.clip(greeks.delta * np.exp(r * t_years), -1.0, 1.0)
    delta = np.where(ok, forward_delta, np.nan)
    iv_reason = pd.array(np.array(labels, dtype=object), dtype="str").take(reason)
    return ImpliedVols(vol, delta, t_years, fwd, iv_reason, ok)
