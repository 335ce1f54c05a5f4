"""Which loader reads which file: the plan behind ``vixshield data import``.

A path is either one file or a folder.

* One file: its format is recognised from its first line (:func:`loaders.detect_format`);
  Cboe DataShop and canonical option chains by their headers. The series name is derived
  from the file name (``VIX_History.csv`` -> ``vix``, ``GSPC_daily_1990_2019.csv`` ->
  ``spx``) unless the caller gives one.
* A folder of CFE per-contract VX files is one series, ``vx_contracts``: legacy archive
  names ``CFE_<code><yy>_VX.csv``, current names ``VX_<YYYY-MM-DD>.csv`` (the settlement
  date), or both mixed, as ``vixshield data fetch`` saves them in ``cfe_vx/``. A folder of
  Unicorn breadth files (``NYSE_advn.csv`` ...) is ``breadth``.
* Any other folder (for example ``../shared/data`` or a ``vixshield data fetch`` download
  folder) is walked: each recognised file or folder above becomes one import, anything
  unrecognised is listed as skipped with the reason. Hidden entries (``.fetch-state/``,
  partial downloads) are ignored.

FRED series
-----------
FRED files (``fred/<SERIES>.csv`` from ``vixshield data fetch``, read by
:func:`loaders.load_fred`) are named by the series in their header, always with a ``_fred``
suffix, so that they never replace a fuller series of the same kind (a Yahoo S&P 500 file has
the open, high and low FRED lacks, and history beyond FRED's 10 years).
:meth:`vixshield.data.market.MarketHistory.from_store` reads ``spx`` and falls back to
``spx_fred`` (likewise ``tbill13w`` then ``tbill13w_fred``), so ``vixshield data fetch
--import`` alone gives a usable history:

========== ================= ============================================================
FRED id    series name       frame
========== ================= ============================================================
``SP500``  ``spx_fred``      S&P 500 close only (``date, close, modelled``), last 10 years
``DTB3``   ``tbill13w_fred`` 3-month (13-week) T-bill, decimal per year, discount basis
``DTB4WK`` ``tbill4w_fred``  4-week T-bill, likewise
``DTB6``   ``tbill26w_fred`` 6-month T-bill, likewise
``DTB1YR`` ``tbill52w_fred`` 1-year T-bill, likewise
========== ================= ============================================================
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final

from vixshield.data import cfe, chains, loaders
from vixshield.data.store import Loader, SeriesKind
from vixshield.data.validation import Loaded, Mode
from vixshield.errors import DataError

_SERIES_NAMES: Final = {
    "gspc": "spx",
    "^gspc": "spx",
    "spx": "spx",
    "macro_events": "events",
    "fomc_meetings": "fomc",
    "tbill13week": "tbill13w",
}
_CFE_FILE: Final = re.compile(
    r"^(CFE_[FGHJKMNQUVXZ]\d{2}_VX|VX_\d{4}-\d{2}-\d{2})\.csv$", re.IGNORECASE
)
FRED_SERIES_NAMES: Final[dict[str, str]] = {
    "SP500": "spx_fred",
    "DTB3": "tbill13w_fred",
    "DTB4WK": "tbill4w_fred",
    "DTB6": "tbill26w_fred",
    "DTB1YR": "tbill52w_fred",
}
"""Store series name of each FRED series (see the module docstring)."""
_FRED_FORMATS: Final = (loaders.FileFormat.FRED_PRICE, loaders.FileFormat.FRED_RATE)
_BREADTH_FILE: Final = re.compile(r"^(?P<prefix>[A-Z]+)_(advn|decln|unchn)\.csv$", re.IGNORECASE)
_DATASHOP_HEAD: Final = "quote_date,expiration,strike,option_type"
_CANONICAL_HEAD: Final = "quote_time,"


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """One import: the series name, its source and the loader that reads it."""

    name: str
    source: Path
    loader: Loader
    loader_name: str
    kind: SeriesKind = SeriesKind.DAILY


@dataclass(frozen=True, slots=True)
class Skipped:
    """A path a folder walk did not import, and why."""

    path: Path
    reason: str


def series_name(path: Path) -> str:
    """A store series name from a file name: ``VIX_History.csv`` -> ``vix``."""
    stem = path.stem.lower()
    for suffix in ("_history", "_daily"):
        stem = stem.split(suffix)[0]
    stem = re.sub(r"_(19|20)\d{2}(_(19|20)\d{2})?$", "", stem)
    stem = _SERIES_NAMES.get(stem, stem)
    stem = re.sub(r"[^a-z0-9_-]+", "_", stem).strip("_-")
    if not stem:
        raise DataError(f"{path}: cannot derive a series name; give one with --name")
    return stem


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        return fh.readline().strip().lower()


def _with_options(
    fn: Callable[..., Loaded], **options: object
) -> Loader:  # a loader with fixed keyword options still fits the Loader protocol
    loader: Loader = partial(fn, **options)
    return loader


def plan_file(path: Path, *, name: str | None = None, close_only: bool = False) -> ImportPlan:
    """The import plan for one file.

    Raises
    ------
    DataError
        The format is not recognised; the message lists the known formats.
    """
    head = _first_line(path)
    if head.startswith(_DATASHOP_HEAD):
        return ImportPlan(
            name or series_name(path), path, chains.load_datashop, "datashop", SeriesKind.CHAIN
        )
    if head.startswith(_CANONICAL_HEAD):
        return ImportPlan(
            name or series_name(path), path, chains.read_chain, "canonical-chain", SeriesKind.CHAIN
        )
    if _CFE_FILE.match(path.name):
        return ImportPlan(name or series_name(path), path, cfe.load_cfe_file, "cfe-vx")
    fmt = loaders.detect_format(path)
    loader: Loader = loaders.load_any
    label = f"load_any:{fmt.value}"
    if fmt in _FRED_FORMATS:
        if name is not None:
            return ImportPlan(name, path, loader, label)
        fred_id = next(csv.reader([head]))[1].strip().upper()
        series = FRED_SERIES_NAMES.get(fred_id, f"{fred_id.lower()}_fred")
        return ImportPlan(series, path, loader, label)
    if close_only and fmt in (loaders.FileFormat.CBOE_OHLC,):
        loader = _with_options(loaders.load_cboe_index, close_only=True)
        label = f"load_cboe_index:{fmt.value}:close_only"
    elif close_only and fmt in (loaders.FileFormat.YAHOO_OHLCV, loaders.FileFormat.STOOQ_OHLCV):
        loader = _with_options(loaders.load_ohlcv, close_only=True)
        label = f"load_ohlcv:{fmt.value}:close_only"
    events = fmt in (loaders.FileFormat.MACRO_EVENTS, loaders.FileFormat.FOMC_MEETINGS)
    kind = SeriesKind.EVENTS if events else SeriesKind.DAILY
    return ImportPlan(name or series_name(path), path, loader, label, kind)


def plan_folder_series(folder: Path, *, name: str | None = None) -> ImportPlan | None:
    """A plan if ``folder`` is itself one series (CFE contracts or breadth files), else None."""
    files = [p for p in folder.iterdir() if p.is_file()]
    csvs = [p for p in files if p.suffix.lower() == ".csv"]
    if csvs and all(_CFE_FILE.match(p.name) for p in csvs):
        return ImportPlan(name or "vx_contracts", folder, cfe.load_cfe_folder, "cfe-vx-folder")
    prefixes = {m.group("prefix") for p in files if (m := _BREADTH_FILE.match(p.name))}
    if len(prefixes) == 1:
        prefix = prefixes.pop()
        loader = _with_options(loaders.load_breadth, prefix=prefix)
        return ImportPlan(name or "breadth", folder, loader, f"load_breadth:{prefix}")
    return None


def plan_imports(
    path: Path, *, name: str | None = None, close_only: bool = False
) -> tuple[list[ImportPlan], list[Skipped]]:
    """Plan the imports for a file or a folder (see the module docstring)."""
    return _plan(path, name=name, close_only=close_only)


def _plan(
    path: Path, *, name: str | None = None, close_only: bool = False
) -> tuple[list[ImportPlan], list[Skipped]]:
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        return [plan_file(path, name=name, close_only=close_only)], []
    single = plan_folder_series(path, name=name)
    if single is not None:
        return [single], []
    if name is not None:
        raise DataError(
            f"{path}: --name applies to one file or one series folder, and this folder holds "
            "several series; import them without --name or one at a time"
        )
    plans: list[ImportPlan] = []
    skipped: list[Skipped] = []
    for child in sorted(path.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            sub_plans, sub_skipped = _plan(child, close_only=close_only)
            plans += sub_plans
            skipped += sub_skipped
        elif child.suffix.lower() in (".csv", ".parquet", ".pq"):
            try:
                plans.append(plan_file(child, close_only=close_only))
            except DataError as exc:
                skipped.append(Skipped(child, str(exc).splitlines()[0]))
        else:
            skipped.append(Skipped(child, "not a CSV or Parquet file"))
    return plans, skipped


def default_mode(skip_bad_rows: bool) -> Mode:
    """The validation mode the CLI flag asks for."""
    return Mode.SKIP if skip_bad_rows else Mode.STRICT
