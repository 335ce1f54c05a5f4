"""The local data store: one Parquet file per series, and a manifest of where each came from.

Layout
------
::

    <data_dir>/
      manifest.json            one entry per series: its provenance (see below)
      .lock                    fcntl.flock lock file; every operation holds it
      .manifest.json.<token>.tmp    a manifest being written (hidden; removed if left)
      series/
        <name>.parquet         the canonical frame, written by pyarrow
        .<name>.<token>.parquet.tmp   an import in flight (hidden; recovered or removed)

A series name is lower case letters, digits, ``_`` and ``-`` (``spx``, ``vix3m``, ``breadth``,
``events``, ``vx_contracts``, ``chain_spxw_20190626``). The manifest is JSON (readable with any
tool, diffable, small). Its top level is ``{"format": "vixshield-store", "manifest_version": 1,
"series": {<name>: <entry>}}``; each entry is :meth:`Provenance.to_json`: the source path and
its sha256 (for a folder, such as the CFE VX files, a sha256 over the sorted relative paths and
file digests), the import time (from the :class:`~vixshield.clock.Clock`), the loader's name and
mode, the rows read / kept / skipped with the reasons, the first and last date, the columns with
their dtypes, the series kind, its schema version, the missing XNYS sessions (daily series only),
and the sha256 of the Parquet file itself. The Parquet file also carries the provenance (less its
own checksum) in its schema metadata under ``vixshield``, so an exported file still names its
source.

Guarantees
----------
* **Validation first.** The loader runs before anything is written; a
  :class:`~vixshield.errors.DataError` (a bad file in strict mode) or any other exception leaves
  the data and the manifest exactly as they were.
* **Atomic imports.** The new Parquet file is written to a hidden temp file in ``series/`` and
  fsynced; then the new manifest is written to a temp file, fsynced and moved over
  ``manifest.json`` with ``os.replace`` (the commit point); then the temp data file is moved
  over ``series/<name>.parquet``; each rename is followed by an fsync of its directory. A crash
  before the commit point leaves the previous data and manifest (the orphan temp file is removed
  by the next operation). A crash after it is rolled forward by the next operation: the manifest
  names the token of the temp file, which is moved into place. Either way every reader sees a
  manifest and data files that agree; :meth:`Store.read` checks the file's sha256 against the
  manifest and refuses a mismatch. ``tests/integration/test_store_kill.py`` checks this by
  SIGKILLing real import processes before, at and after the commit point.
* **Idempotent imports.** Importing the same source bytes (same sha256) through the same loader
  at the same schema version is a no-op reported as :attr:`ImportStatus.UNCHANGED`; the loader
  is not even called. ``force=True`` re-imports.
* **One writer at a time.** Every operation holds an exclusive ``fcntl.flock`` on ``.lock``
  (imports for their whole duration, loader included), so concurrent imports never interleave;
  the second waits, then sees the first one's result. The lock is released by the kernel when a
  process dies. POSIX only.
* **Atomic exports.** :meth:`Store.export` writes a temp file beside the target, fsyncs it and
  moves it into place. A Parquet export is a byte copy of the stored file (so its sha256 is the
  recorded ``data_sha256``); a CSV export, read back with :func:`read_csv_export`, gives the
  stored frame with identical dtypes and time zones (floats are written with ``repr``, so they
  round-trip exactly; an empty text cell reads back as a missing value if the column had
  any, else as an empty string, so only a text column holding both is not exact).

Nothing here reads the wall clock: import times come from the clock the store is given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal, Protocol

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from pandas.api.types import pandas_dtype

from vixshield import calendar
from vixshield.clock import Clock, SystemClock
from vixshield.data.validation import Loaded, LoadReport, Mode
from vixshield.errors import DataError, InvalidInputError, VixShieldError

__all__ = [
    "MANIFEST_VERSION",
    "Column",
    "ExportFormat",
    "ExportResult",
    "ImportResult",
    "ImportStatus",
    "Loader",
    "Provenance",
    "SeriesKind",
    "SeriesStatus",
    "SkipReason",
    "Store",
    "StoreLockedError",
    "StoredFrame",
    "default_kind",
    "read_csv_export",
    "source_sha256",
]


class Loader(Protocol):
    """What the store calls to read a source: ``loader(path, mode=mode) -> Loaded``.

    Every loader in :mod:`vixshield.data` fits (``load_any``, ``load_ohlcv``,
    ``load_cfe_folder``, ``read_chain``, ...); bind other options with ``functools.partial``.
    """

    def __call__(self, path: Path, /, *, mode: Mode) -> Loaded: ...


MANIFEST_VERSION: Final = 1
MANIFEST_NAME: Final = "manifest.json"
SERIES_DIR: Final = "series"
LOCK_NAME: Final = ".lock"
_FORMAT: Final = "vixshield-store"
_META_KEY: Final = b"vixshield"
_TMP_SUFFIX: Final = ".tmp"
_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_DATA_TMP_RE: Final = re.compile(
    r"^\.(?P<name>[a-z0-9][a-z0-9_-]*)\.(?P<token>[0-9a-f]{32})\.parquet\.tmp$"
)
_DATE_COLUMNS: Final = ("date", "trade_date", "quote_date", "session", "quote_time", "start_date")
_EXAMPLES: Final = 10  # skipped rows quoted in the manifest, beyond the per-reason counts
_CHUNK: Final = 1 << 20
_LOCK_POLL_S: Final = 0.05


class StoreLockedError(VixShieldError):
    """Another process held the store's lock for longer than the timeout."""


class SeriesKind(StrEnum):
    """What a series is, which decides whether gaps in its dates mean anything."""

    DAILY = "daily"  # one row (or one group of rows, e.g. VX contracts) per XNYS session
    EVENTS = "events"  # dated events (macro releases, FOMC meetings): gaps not applicable
    CHAIN = "chain"  # one option-chain snapshot: gaps not applicable


class ImportStatus(StrEnum):
    """What an import did."""

    IMPORTED = "imported"  # a new series
    REPLACED = "replaced"  # a new version of an existing series
    UNCHANGED = "unchanged"  # same source checksum, loader and schema version: nothing done


class ExportFormat(StrEnum):
    """File formats :meth:`Store.export` writes."""

    CSV = "csv"
    PARQUET = "parquet"


def default_kind(name: str) -> SeriesKind:
    """The kind a series name implies: ``chain_*`` is a chain, ``events``/``fomc*`` events.

    Anything else is a daily series. Pass ``kind=`` to :meth:`Store.import_series` to override.
    """
    if name.startswith("chain"):
        return SeriesKind.CHAIN
    if name.startswith(("events", "fomc")):
        return SeriesKind.EVENTS
    return SeriesKind.DAILY


# ---------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Column:
    """One stored column: its name, pandas dtype and Arrow type, and whether it has gaps.

    ``has_missing`` tells a CSV reader what an empty text cell meant: a missing value if the
    column had any, else an empty string.
    """

    name: str
    dtype: str
    arrow_type: str
    has_missing: bool

    def to_json(self) -> dict[str, str | bool]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "arrow_type": self.arrow_type,
            "has_missing": self.has_missing,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Column:
        return cls(
            str(raw["name"]), str(raw["dtype"]), str(raw["arrow_type"]), bool(raw["has_missing"])
        )


@dataclass(frozen=True, slots=True)
class SkipReason:
    """Rows a lenient load skipped for one reason: the field, the message and how many."""

    field: str
    message: str
    count: int
    first_line: int

    def to_json(self) -> dict[str, str | int]:
        return {
            "field": self.field,
            "message": self.message,
            "count": self.count,
            "first_line": self.first_line,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SkipReason:
        return cls(
            str(raw["field"]), str(raw["message"]), int(raw["count"]), int(raw["first_line"])
        )


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a stored series came from and what it holds; one manifest entry.

    Attributes
    ----------
    name
        The series name (``spx``, ``chain_spxw_20190626``, ...).
    kind
        Daily series get gap checks; chains and events do not.
    source, source_sha256
        Absolute path of the imported file or folder and the sha256 of its bytes.
    imported_at
        When it was imported, from the store's clock (timezone-aware).
    loader, mode
        The loader's qualified name and the validation mode it ran in.
    rows, rows_read
        Rows stored, and rows the loader read; the difference was skipped (``mode=skip``).
    skipped, skipped_examples, report_summary, notes
        Why rows were skipped (counted per field and message), the first few rows skipped, the
        loader's one-line summary and its notes.
    first_date, last_date, date_column
        The date range, from ``date_column`` (``None`` when the frame has no date column).
    missing_sessions
        XNYS sessions between the first and last date with no row (``None``: not applicable).
    index, columns
        The frame's index levels (empty for a default range index) and columns, with dtypes.
    schema_version
        The version of the series' canonical schema, as given by the importer.
    data_file, data_sha256, data_bytes, data_token
        The Parquet file (relative to the store), its sha256 and size, and the token of the
        import that wrote it.
    """

    name: str
    kind: SeriesKind
    source: str
    source_sha256: str
    imported_at: datetime
    loader: str
    mode: Mode
    rows: int
    rows_read: int
    skipped: tuple[SkipReason, ...]
    skipped_examples: tuple[str, ...]
    report_summary: str
    notes: tuple[str, ...]
    first_date: date | None
    last_date: date | None
    date_column: str | None
    missing_sessions: tuple[date, ...] | None
    index: tuple[Column, ...]
    columns: tuple[Column, ...]
    schema_version: int
    data_file: str
    data_sha256: str
    data_bytes: int
    data_token: str

    @property
    def rows_skipped(self) -> int:
        return self.rows_read - self.rows

    def cite(self) -> str:
        """One line a report can quote: series, source, its checksum and the import time."""
        return (
            f"{self.name}: {self.source} (sha256 {self.source_sha256[:12]}…, "
            f"{self.rows} rows, imported {self.imported_at.isoformat()} by {self.loader})"
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest entry: plain JSON types only."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "source": self.source,
            "source_sha256": self.source_sha256,
            "imported_at": self.imported_at.isoformat(),
            "loader": self.loader,
            "mode": self.mode.value,
            "rows": self.rows,
            "rows_read": self.rows_read,
            "rows_skipped": self.rows_skipped,
            "skipped": [s.to_json() for s in self.skipped],
            "skipped_examples": list(self.skipped_examples),
            "report_summary": self.report_summary,
            "notes": list(self.notes),
            "first_date": _iso(self.first_date),
            "last_date": _iso(self.last_date),
            "date_column": self.date_column,
            "missing_sessions": (
                None
                if self.missing_sessions is None
                else [d.isoformat() for d in self.missing_sessions]
            ),
            "index": [c.to_json() for c in self.index],
            "columns": [c.to_json() for c in self.columns],
            "schema_version": self.schema_version,
            "data_file": self.data_file,
            "data_sha256": self.data_sha256,
            "data_bytes": self.data_bytes,
            "data_token": self.data_token,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Provenance:
        """Inverse of :meth:`to_json`."""
        missing = raw["missing_sessions"]
        imported_at = datetime.fromisoformat(str(raw["imported_at"]))
        if imported_at.tzinfo is None:
            raise ValueError(f"imported_at {raw['imported_at']!r} has no time zone")
        return cls(
            name=str(raw["name"]),
            kind=SeriesKind(raw["kind"]),
            source=str(raw["source"]),
            source_sha256=str(raw["source_sha256"]),
            imported_at=imported_at,
            loader=str(raw["loader"]),
            mode=Mode(raw["mode"]),
            rows=int(raw["rows"]),
            rows_read=int(raw["rows_read"]),
            skipped=tuple(SkipReason.from_json(s) for s in raw["skipped"]),
            skipped_examples=tuple(str(s) for s in raw["skipped_examples"]),
            report_summary=str(raw["report_summary"]),
            notes=tuple(str(n) for n in raw["notes"]),
            first_date=_date_or_none(raw["first_date"]),
            last_date=_date_or_none(raw["last_date"]),
            date_column=None if raw["date_column"] is None else str(raw["date_column"]),
            missing_sessions=(
                None if missing is None else tuple(date.fromisoformat(str(d)) for d in missing)
            ),
            index=tuple(Column.from_json(c) for c in raw["index"]),
            columns=tuple(Column.from_json(c) for c in raw["columns"]),
            schema_version=int(raw["schema_version"]),
            data_file=str(raw["data_file"]),
            data_sha256=str(raw["data_sha256"]),
            data_bytes=int(raw["data_bytes"]),
            data_token=str(raw["data_token"]),
        )


@dataclass(frozen=True, slots=True)
class StoredFrame:
    """A series as read from the store, with the provenance reports must cite."""

    frame: pd.DataFrame
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What :meth:`Store.import_series` did.

    ``report`` is the loader's report (``None`` when the import was a no-op and the loader was
    not called); ``previous`` is the provenance of the version this one replaced.
    """

    status: ImportStatus
    provenance: Provenance
    previous: Provenance | None = None
    report: LoadReport | None = None

    def summary(self) -> str:
        p = self.provenance
        if self.status is ImportStatus.UNCHANGED:
            return (
                f"{p.name}: unchanged (source sha256 {p.source_sha256[:12]}… already imported "
                f"{p.imported_at.isoformat()}); use force to re-import"
            )
        text = f"{p.name}: {self.status.value} {p.rows} rows from {p.source}"
        if p.first_date is not None and p.last_date is not None:
            text += f", {p.first_date.isoformat()}..{p.last_date.isoformat()}"
        if p.rows_skipped:
            text += f", {p.rows_skipped} rows skipped"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "summary": self.summary(),
            "provenance": self.provenance.to_json(),
            "previous": None if self.previous is None else self.previous.to_json(),
        }


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Where :meth:`Store.export` wrote a series, in which format, and from which version."""

    path: Path
    fmt: ExportFormat
    rows: int
    provenance: Provenance

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.fmt.value,
            "rows": self.rows,
            "series": self.provenance.name,
            "source": self.provenance.source,
            "source_sha256": self.provenance.source_sha256,
        }


@dataclass(frozen=True, slots=True)
class SeriesStatus:
    """One line of :meth:`Store.status`.

    ``missing_sessions`` is ``None`` when gaps do not apply (chains, events); ``ok`` is false
    when the data file is missing or (with ``verify``) its checksum differs from the manifest.
    """

    name: str
    kind: SeriesKind
    rows: int
    first_date: date | None
    last_date: date | None
    missing_sessions: tuple[date, ...] | None
    imported_at: datetime
    source: str
    source_sha256: str
    rows_skipped: int
    ok: bool
    problem: str | None = None

    @property
    def gaps(self) -> int | None:
        """How many sessions are missing, or ``None`` when not applicable."""
        return None if self.missing_sessions is None else len(self.missing_sessions)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "rows": self.rows,
            "first_date": _iso(self.first_date),
            "last_date": _iso(self.last_date),
            "gaps": self.gaps,
            "missing_sessions": (
                None
                if self.missing_sessions is None
                else [d.isoformat() for d in self.missing_sessions]
            ),
            "imported_at": self.imported_at.isoformat(),
            "source": self.source,
            "source_sha256": self.source_sha256,
            "rows_skipped": self.rows_skipped,
            "ok": self.ok,
            "problem": self.problem,
        }


# ---------------------------------------------------------------------------- the store


@dataclass(slots=True)
class Store:
    """A local data directory of series with their provenance (see the module docstring).

    Parameters
    ----------
    root
        The data directory; created on the first import.
    clock
        Source of import times; defaults to the system clock (tests and backtests pass a
        :class:`~vixshield.clock.FixedClock`).
    lock_timeout_s
        How long an operation waits for another process's lock before
        :class:`StoreLockedError`.
    """

    root: Path
    _: KW_ONLY
    clock: Clock = field(default_factory=SystemClock)
    lock_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if not self.lock_timeout_s >= 0:
            raise InvalidInputError(f"lock_timeout_s must be >= 0, got {self.lock_timeout_s!r}")

    # -- paths

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def series_dir(self) -> Path:
        return self.root / SERIES_DIR

    def data_path(self, name: str) -> Path:
        """Where series ``name`` is (or would be) stored."""
        return self.series_dir / f"{_check_name(name)}.parquet"

    # -- public operations

    def names(self) -> tuple[str, ...]:
        """The stored series, sorted."""
        with self._locked():
            return tuple(sorted(self._load_manifest()))

    def provenance(self, name: str) -> Provenance:
        """The manifest entry of series ``name``.

        Raises
        ------
        InvalidInputError
            If the store holds no such series.
        """
        with self._locked():
            return self._entry(self._load_manifest(), name)

    def import_series(
        self,
        name: str,
        source: Path,
        loader: Loader,
        *,
        mode: Mode = Mode.STRICT,
        kind: SeriesKind | None = None,
        force: bool = False,
        loader_name: str | None = None,
        date_column: str | None = None,
        schema_version: int = 1,
    ) -> ImportResult:
        """Load ``source`` with ``loader`` and store it as series ``name``, atomically.

        Parameters
        ----------
        name
            Series name: lower case letters, digits, ``_`` and ``-``.
        source
            The file (or folder, for loaders that read one) to import.
        loader
            ``loader(source, mode=mode) -> Loaded``; a :class:`~vixshield.errors.DataError` it
            raises propagates and leaves the store untouched.
        mode
            Passed to the loader: ``STRICT`` refuses a bad file, ``SKIP`` drops bad rows and
            the manifest records why.
        kind
            Defaults to :func:`default_kind` of ``name``.
        force
            Re-import even when the source checksum, loader and schema version are unchanged.
        loader_name
            Recorded name of the loader; defaults to its ``module.qualname``.
        date_column
            Column (or index level) holding the dates; by default the first of ``date``,
            ``trade_date``, ``quote_date``, ``session``, ``quote_time``, ``start_date``
            present, else none.
        schema_version
            Version of the series' canonical schema; a different version forces a re-import.

        Returns
        -------
        ImportResult
            ``UNCHANGED`` (nothing done, loader not called), ``IMPORTED`` or ``REPLACED``.

        Raises
        ------
        DataError
            From the loader (bad file), or if the frame cannot be stored.
        InvalidInputError
            For a bad name or a source that does not exist.
        StoreLockedError
            If another process held the lock longer than ``lock_timeout_s``.
        """
        _check_name(name)
        if (
            isinstance(schema_version, bool)
            or not isinstance(schema_version, int)
            or schema_version < 1
        ):
            raise InvalidInputError(f"schema_version must be an int >= 1, got {schema_version!r}")
        src = Path(source).resolve()
        if not src.exists():
            raise InvalidInputError(f"cannot import {name!r}: {src} does not exist")
        kind = default_kind(name) if kind is None else SeriesKind(kind)
        lname = loader_name if loader_name is not None else _loader_name(loader)
        mode = Mode(mode)

        with self._locked(create=True):
            manifest = self._load_manifest()
            previous = manifest.get(name)
            digest = source_sha256(src)
            if (
                not force
                and previous is not None
                and previous.source_sha256 == digest
                and previous.loader == lname
                and previous.schema_version == schema_version
            ):
                return ImportResult(ImportStatus.UNCHANGED, previous, previous=previous)

            loaded = loader(src, mode=mode)  # may raise DataError: nothing has been written yet
            if not isinstance(loaded, Loaded):
                raise InvalidInputError(
                    f"loader {lname} returned {type(loaded).__name__}, expected Loaded"
                )
            if source_sha256(src) != digest:
                raise DataError(
                    f"{src} changed while it was being imported; nothing was stored. "
                    "Import it again once it is complete."
                )
            frame = _canonical_frame(loaded.frame, name)
            dcol = date_column if date_column is not None else _find_date_column(frame)
            dates = _dates(frame, dcol, name) if dcol is not None else []
            # Gaps are defined for daily series with dates; None means "not applicable".
            missing = _missing_sessions(dates) if kind is SeriesKind.DAILY and dates else None
            index_cols, data_cols, table = _to_table(frame, name)
            token = uuid.uuid4().hex
            report = loaded.report
            draft = Provenance(
                name=name,
                kind=kind,
                source=str(src),
                source_sha256=digest,
                imported_at=self._now(),
                loader=lname,
                mode=mode,
                rows=len(frame),
                rows_read=max(report.rows_read, len(frame)),
                skipped=_skip_reasons(report),
                skipped_examples=tuple(str(p) for p in report.skipped[:_EXAMPLES]),
                report_summary=report.summary(),
                notes=tuple(report.notes),
                first_date=dates[0] if dates else None,
                last_date=dates[-1] if dates else None,
                date_column=dcol,
                missing_sessions=missing,
                index=index_cols,
                columns=data_cols,
                schema_version=schema_version,
                data_file=f"{SERIES_DIR}/{name}.parquet",
                data_sha256="",
                data_bytes=0,
                data_token=token,
            )
            # The file carries its own provenance, less the checksum and size of itself.
            meta = {
                k: v for k, v in draft.to_json().items() if k not in {"data_sha256", "data_bytes"}
            }
            payload = _parquet_bytes(table, json.dumps(meta, sort_keys=True).encode())
            provenance = dataclasses.replace(
                draft, data_sha256=hashlib.sha256(payload).hexdigest(), data_bytes=len(payload)
            )

            self.series_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.series_dir / f".{name}.{token}.parquet{_TMP_SUFFIX}"
            _write_durable(tmp, payload)
            _fsync_dir(self.series_dir)
            new_manifest = dict(manifest)
            new_manifest[name] = provenance
            self._write_manifest(new_manifest)  # the commit point
            os.replace(tmp, self.data_path(name))
            _fsync_dir(self.series_dir)
            status = ImportStatus.IMPORTED if previous is None else ImportStatus.REPLACED
            return ImportResult(status, provenance, previous=previous, report=report)

    def read(self, name: str, *, verify: bool = True) -> StoredFrame:
        """The stored frame of series ``name`` and its provenance.

        With ``verify`` (the default) the file's sha256 must match the manifest.

        Raises
        ------
        InvalidInputError
            If the store holds no such series.
        DataError
            If the data file is missing or does not match the manifest.
        """
        with self._locked():
            prov = self._entry(self._load_manifest(), name)
            data = self._read_bytes(prov, verify=verify)
        table = pq.read_table(pa.BufferReader(data))
        return StoredFrame(table.to_pandas(), prov)

    def status(self, *, verify: bool = False) -> tuple[SeriesStatus, ...]:
        """Per series: rows, date range, gaps, last import and source, sorted by name.

        Gaps come from the manifest (computed at import against the XNYS calendar). With
        ``verify`` every data file is hashed and compared with the manifest; otherwise only
        its presence and size are checked.
        """
        if not self.root.exists():
            return ()
        out: list[SeriesStatus] = []
        with self._locked():
            for name, prov in sorted(self._load_manifest().items()):
                problem = self._check_data(prov, verify=verify)
                out.append(
                    SeriesStatus(
                        name=name,
                        kind=prov.kind,
                        rows=prov.rows,
                        first_date=prov.first_date,
                        last_date=prov.last_date,
                        missing_sessions=prov.missing_sessions,
                        imported_at=prov.imported_at,
                        source=prov.source,
                        source_sha256=prov.source_sha256,
                        rows_skipped=prov.rows_skipped,
                        ok=problem is None,
                        problem=problem,
                    )
                )
        return tuple(out)

    def status_json(self, *, verify: bool = False) -> dict[str, Any]:
        """:meth:`status` as plain JSON types (for ``--json``)."""
        return {
            "data_dir": str(self.root),
            "manifest_version": MANIFEST_VERSION,
            "series": [s.to_json() for s in self.status(verify=verify)],
        }

    def export(
        self,
        name: str,
        path: Path,
        *,
        fmt: ExportFormat | Literal["csv", "parquet"] = ExportFormat.CSV,
    ) -> ExportResult:
        """Write series ``name`` to ``path`` as CSV or Parquet, atomically.

        Parquet is a byte copy of the stored file (provenance in its metadata). CSV holds the
        index levels (if not a default range index) then the columns; timestamps are ISO 8601
        with their UTC offset, floats use ``repr``. :func:`read_csv_export` reads it back
        exactly.

        Raises
        ------
        InvalidInputError
            For an unknown series or format, or a target that is a directory.
        DataError
            If the stored file does not match the manifest.
        """
        try:
            kind = ExportFormat(fmt)
        except ValueError:
            raise InvalidInputError(
                f"export format must be one of {[f.value for f in ExportFormat]}, got {fmt!r}"
            ) from None
        target = Path(path)
        if target.is_dir():
            raise InvalidInputError(f"export target {target} is a directory; give a file path")
        with self._locked():
            prov = self._entry(self._load_manifest(), name)
            data = self._read_bytes(prov, verify=True)
        if kind is ExportFormat.PARQUET:
            payload = data
        else:
            frame = pq.read_table(pa.BufferReader(data)).to_pandas()
            payload = _csv_bytes(frame, prov)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}{_TMP_SUFFIX}")
        try:
            _write_durable(tmp, payload)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _fsync_dir(target.parent)
        return ExportResult(target, kind, prov.rows, prov)

    # -- internals

    def _now(self) -> datetime:
        now = self.clock.now()
        if now.tzinfo is None:
            raise InvalidInputError(f"the store's clock returned a naive datetime {now!r}")
        return now

    @contextlib.contextmanager
    def _locked(self, *, create: bool = False) -> Iterator[None]:
        """Hold the store's exclusive lock, after recovering from any interrupted import."""
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            # Nothing to lock or recover; reads of an absent store find no series.
            yield
            return
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            attempts = max(1, int(self.lock_timeout_s / _LOCK_POLL_S) + 1)
            for attempt in range(attempts):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if attempt == attempts - 1:
                        raise StoreLockedError(
                            f"the data store {self.root} is locked by another process (an "
                            f"import?) for over {self.lock_timeout_s:g} s; wait for it to "
                            "finish and try again"
                        ) from None
                    time.sleep(_LOCK_POLL_S)
            self._recover()
            yield
        finally:
            os.close(fd)  # releases the flock

    def _recover(self) -> None:
        """Finish or discard what an interrupted import left (caller holds the lock)."""
        for orphan in self.root.glob(f".{MANIFEST_NAME}.*{_TMP_SUFFIX}"):
            orphan.unlink()
        if not self.series_dir.is_dir():
            return
        temps = [p for p in self.series_dir.iterdir() if p.name.endswith(_TMP_SUFFIX)]
        if not temps:
            return
        manifest = self._load_manifest()
        for tmp in temps:
            match = _DATA_TMP_RE.match(tmp.name)
            entry = manifest.get(match["name"]) if match else None
            if match and entry is not None and entry.data_token == match["token"]:
                # Committed in the manifest but not yet moved into place: roll forward.
                os.replace(tmp, self.data_path(match["name"]))
            else:
                tmp.unlink()  # never committed: the previous version stands
        _fsync_dir(self.series_dir)

    def _load_manifest(self) -> dict[str, Provenance]:
        path = self.manifest_path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            raw = json.loads(text)
            if raw.get("format") != _FORMAT:
                raise ValueError(f"format is {raw.get('format')!r}, expected {_FORMAT!r}")
            version = int(raw["manifest_version"])
            if version > MANIFEST_VERSION:
                raise ValueError(
                    f"manifest_version {version} is newer than this VixShield reads "
                    f"({MANIFEST_VERSION}); upgrade VixShield"
                )
            return {str(k): Provenance.from_json(v) for k, v in raw["series"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(
                f"{path}: the store manifest is unreadable ({exc}); restore it from a backup or "
                "move the data directory aside and re-import the sources"
            ) from exc

    def _write_manifest(self, manifest: Mapping[str, Provenance]) -> None:
        doc = {
            "format": _FORMAT,
            "manifest_version": MANIFEST_VERSION,
            "series": {k: manifest[k].to_json() for k in sorted(manifest)},
        }
        payload = (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode()
        tmp = self.root / f".{MANIFEST_NAME}.{uuid.uuid4().hex}{_TMP_SUFFIX}"
        try:
            _write_durable(tmp, payload)
            os.replace(tmp, self.manifest_path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _fsync_dir(self.root)

    def _entry(self, manifest: Mapping[str, Provenance], name: str) -> Provenance:
        _check_name(name)
        try:
            return manifest[name]
        except KeyError:
            have = ", ".join(sorted(manifest)) or "none"
            raise InvalidInputError(
                f"no series {name!r} in the data store {self.root} (it holds: {have}); "
                "import it first (vixshield data import)"
            ) from None

    def _check_data(self, prov: Provenance, *, verify: bool) -> str | None:
        path = self.root / prov.data_file
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return f"{path} is missing"
        if size != prov.data_bytes:
            return f"{path} has {size} bytes, the manifest says {prov.data_bytes}"
        if verify and _file_sha256(path) != prov.data_sha256:
            return f"{path} does not match the manifest's sha256"
        return None

    def _read_bytes(self, prov: Provenance, *, verify: bool) -> bytes:
        path = self.root / prov.data_file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DataError(
                f"{path} is missing although the manifest lists series {prov.name!r}; "
                f"re-import it with force (source: {prov.source})"
            ) from None
        if verify and hashlib.sha256(data).hexdigest() != prov.data_sha256:
            raise DataError(
                f"{path} does not match the manifest (sha256 differs): the file was changed "
                f"outside VixShield; re-import it with force (source: {prov.source})"
            )
        return data


# ---------------------------------------------------------------------------- helpers


def source_sha256(path: Path) -> str:
    """sha256 of a file's bytes, or of a folder's sorted ``relative path, file digest`` lines.

    Hidden files (``.*``) inside a folder are ignored.
    """
    path = Path(path)
    if path.is_file():
        return _file_sha256(path)
    if not path.is_dir():
        raise InvalidInputError(f"{path} is neither a file nor a folder")
    h = hashlib.sha256()
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    for p in files:
        h.update(f"{p.relative_to(path).as_posix()}\0{_file_sha256(p)}\n".encode())
    return h.hexdigest()


def read_csv_export(path: Path, provenance: Provenance) -> pd.DataFrame:
    """Read a CSV written by :meth:`Store.export`, restoring the stored dtypes and index.

    Parameters
    ----------
    path
        The exported CSV.
    provenance
        The provenance of the exported series (it records every column's dtype).
    """
    specs = (*provenance.index, *provenance.columns)
    names = [c.name for c in specs]
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if list(raw.columns) != names:
        raise DataError(
            f"{path}: columns {list(raw.columns)} differ from the series' {names}; "
            "was it written by vixshield data export?"
        )
    out = pd.DataFrame({c.name: _restore(raw[c.name], c) for c in specs})
    if provenance.index:
        out = out.set_index([c.name for c in provenance.index])
    return out


def _restore(values: pd.Series, col: Column) -> pd.Series:
    dtype = col.dtype
    target = pandas_dtype(dtype)
    if dtype.startswith("datetime64["):
        if "," in dtype:  # tz-aware: ISO strings with offsets
            tz = dtype.split(",", 1)[1].rstrip("]").strip()
            parsed = pd.to_datetime(values, format="ISO8601", utc=True).dt.tz_convert(tz)
        else:
            parsed = pd.to_datetime(values, format="ISO8601")
        return parsed.astype(target)
    if dtype.startswith("timedelta64["):
        return pd.to_timedelta(values).astype(target)
    if col.arrow_type.startswith("date32") or col.arrow_type.startswith("date64"):
        parsed = pd.to_datetime(values, format="ISO8601")
        return pd.Series(
            [None if pd.isna(v) else v.date() for v in parsed], index=values.index, dtype=object
        )
    if dtype == "bool":
        return values.map({"True": True, "False": False}).astype(bool)
    if dtype == "boolean":
        return values.map({"True": True, "False": False}, na_action="ignore").astype("boolean")
    if dtype.startswith(("float", "int", "uint", "Int", "UInt", "Float")):
        return pd.to_numeric(values).astype(target)
    if dtype == "category":
        return values.astype("category")
    if not col.has_missing:
        values = values.fillna("")  # an empty text cell was an empty string
    return values.astype(target)


def _csv_bytes(frame: pd.DataFrame, prov: Provenance) -> bytes:
    flat = frame.reset_index() if prov.index else frame
    out = flat.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
            out[col] = s.map(lambda v: "" if pd.isna(v) else v.isoformat())
    text: str = out.to_csv(index=False, lineterminator="\n")
    return text.encode("utf-8")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidInputError(
            f"series name {name!r} is not valid: use 1-100 lower case letters, digits, '_' or "
            "'-', starting with a letter or digit (e.g. 'spx', 'chain_spxw_20190626')"
        )
    return name


def _loader_name(loader: Loader) -> str:
    fn: Any = loader
    while isinstance(fn, functools.partial):
        fn = fn.func
    module = getattr(fn, "__module__", None) or "?"
    qual = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{qual}"


def _canonical_frame(frame: object, name: str) -> pd.DataFrame:
    """The frame as stored: string column names, and an unnamed index dropped."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"series {name!r}: the loader returned {type(frame).__name__}, not a DataFrame"
        )
    names = list(frame.index.names)
    if all(n is None for n in names):
        # An unnamed index carries no data (a loader's leftover row numbers): drop it.
        frame = frame.reset_index(drop=True)
    elif any(n is None for n in names):
        raise DataError(
            f"series {name!r}: index levels {names} are partly unnamed; name them all or "
            "reset the index in the loader"
        )
    labels = [*frame.columns, *(n for n in frame.index.names if n is not None)]
    if not all(isinstance(c, str) for c in labels):
        raise DataError(f"series {name!r}: column names must be strings, got {labels!r}")
    if len(set(labels)) != len(labels):
        raise DataError(f"series {name!r}: duplicate column names in {labels!r}")
    return frame


def _skip_reasons(report: LoadReport) -> tuple[SkipReason, ...]:
    """Skipped rows counted per (field, message), with the first line of each."""
    counts = Counter((p.field, p.message) for p in report.skipped)
    first_lines: dict[tuple[str, str], int] = {}
    for p in report.skipped:
        first_lines.setdefault((p.field, p.message), p.line)
    return tuple(SkipReason(f, m, n, first_lines[(f, m)]) for (f, m), n in sorted(counts.items()))


def _find_date_column(frame: pd.DataFrame) -> str | None:
    labels = [*frame.columns, *(n for n in frame.index.names if n is not None)]
    return next((c for c in _DATE_COLUMNS if c in labels), None)


def _dates(frame: pd.DataFrame, column: str, name: str) -> list[date]:
    """Sorted distinct calendar dates of ``column`` (a column or an index level)."""
    if column in frame.columns:
        values = frame[column]
    elif column in frame.index.names:
        values = frame.index.get_level_values(column).to_series()
    else:
        raise DataError(f"series {name!r}: date column {column!r} is not in the frame")
    values = values.dropna()
    if values.empty:
        return []
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
        values.dtype
    ):
        # Local calendar date for tz-aware stamps (a 15:45 ET quote is that day's session);
        # deduplicate before leaving numpy, since panels repeat each date many times.
        local = (
            values.dt.tz_localize(None) if isinstance(values.dtype, pd.DatetimeTZDtype) else values
        )
        days = set(local.dt.normalize().drop_duplicates().dt.date)
    else:
        try:
            days = {
                d if isinstance(d, date) and not isinstance(d, datetime) else pd.Timestamp(d).date()
                for d in values.drop_duplicates()
            }
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"series {name!r}: column {column!r} does not hold dates ({exc})"
            ) from exc
    return sorted(days)


def _missing_sessions(dates: Sequence[date]) -> tuple[date, ...]:
    lo = max(dates[0], calendar.CALENDAR_START)
    hi = min(dates[-1], calendar.CALENDAR_END)
    if lo > hi:
        return ()
    have = set(dates)
    return tuple(d for d in calendar.sessions(lo, hi) if d not in have)


def _to_table(
    frame: pd.DataFrame, name: str
) -> tuple[tuple[Column, ...], tuple[Column, ...], pa.Table]:
    try:
        table = pa.Table.from_pandas(frame, preserve_index=None)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise DataError(f"series {name!r}: the frame cannot be stored as Parquet ({exc})") from exc
    arrow = {f.name: str(f.type) for f in table.schema}
    default_index = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    index: tuple[Column, ...] = ()
    if not default_index:
        levels = frame.index.to_frame(index=False)
        index = tuple(
            Column(
                str(n), str(levels[n].dtype), arrow.get(str(n), ""), bool(levels[n].isna().any())
            )
            for n in levels.columns
        )
    columns = tuple(
        Column(str(c), str(frame[c].dtype), arrow[str(c)], bool(frame[c].isna().any()))
        for c in frame.columns
    )
    return index, columns, table


def _parquet_bytes(table: pa.Table, meta: bytes) -> bytes:
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[_META_KEY] = meta
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(schema_meta), sink)
    return bytes(sink.getvalue().to_pybytes())


def _write_durable(path: Path, payload: bytes) -> None:
    """Write ``payload`` to a new file and fsync it before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(payload)
        while view:
            written = os.write(fd, view[:_CHUNK])
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _date_or_none(raw: object) -> date | None:
    return None if raw is None else date.fromisoformat(str(raw))
