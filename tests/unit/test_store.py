"""The local data store: provenance, idempotent and atomic imports, status gaps, exports, locking.

Loaders here are small fakes with the real loader signature ``(path, mode) -> Loaded``; the real
ones (``data/loaders.py``, ``data/cfe.py``, ``data/chains.py``) are tested on their own.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import hashlib
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vixshield.clock import FixedClock
from vixshield.data.store import (
    LOCK_NAME,
    ExportFormat,
    ImportStatus,
    Provenance,
    SeriesKind,
    Store,
    StoreLockedError,
    default_kind,
    read_csv_export,
    source_sha256,
)
from vixshield.data.validation import Loaded, LoadReport, Mode, Problems
from vixshield.errors import DataError, InvalidInputError

T0 = dt.datetime(2026, 1, 5, 22, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 1, 6, 22, 0, tzinfo=dt.UTC)


def load_closes(path: Path, mode: Mode) -> Loaded:
    """Fake daily loader: ``date,close`` CSV; a close that is not a positive number is bad."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw["line"] = np.arange(2, len(raw) + 2)
    close = pd.to_numeric(raw["close"], errors="coerce")
    problems = Problems(str(path))
    problems.check(
        ~(close > 0),
        lines=raw["line"],
        field_name="close",
        values=raw["close"],
        message="is not a positive number",
    )
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(raw["date"], format="%Y-%m-%d"),
            "close": close,
            "line": raw["line"],
        }
    )
    return problems.finish(frame, mode=mode, rows_read=len(raw))


def write_closes(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("date,close\n" + "".join(f"{d},{c}\n" for d, c in rows), encoding="utf-8")
    return path


def daily_rows(days: list[str]) -> list[tuple[str, str]]:
    return [(d, f"{100 + i}.25") for i, d in enumerate(days)]


# Sessions of 2019-07-01..2019-07-12 written out by hand: 4 July is a holiday, weekends skipped.
JULY_2019 = [
    "2019-07-01",
    "2019-07-02",
    "2019-07-03",
    "2019-07-05",
    "2019-07-08",
    "2019-07-09",
    "2019-07-10",
    "2019-07-11",
    "2019-07-12",
]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data", clock=FixedClock(T0))


@pytest.fixture
def spx_csv(tmp_path: Path) -> Path:
    return write_closes(tmp_path / "spx.csv", daily_rows(JULY_2019))


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (the lock file aside) with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME
    }


# ---------------------------------------------------------------------------- import and read


def test_import_then_read_returns_frame_and_provenance(store: Store, spx_csv: Path) -> None:
    result = store.import_series("spx", spx_csv, load_closes)
    assert result.status is ImportStatus.IMPORTED
    assert result.previous is None
    stored = store.read("spx")
    expected = load_closes(spx_csv, Mode.STRICT).frame
    pd.testing.assert_frame_equal(stored.frame, expected, check_exact=True)
    prov = stored.provenance
    assert prov == result.provenance
    assert prov.source == str(spx_csv.resolve())
    assert prov.source_sha256 == hashlib.sha256(spx_csv.read_bytes()).hexdigest()
    assert prov.imported_at == T0
    assert prov.loader == f"{__name__}.load_closes"
    assert prov.mode is Mode.STRICT
    assert (prov.rows, prov.rows_read, prov.rows_skipped) == (9, 9, 0)
    assert (prov.first_date, prov.last_date) == (dt.date(2019, 7, 1), dt.date(2019, 7, 12))
    assert [(c.name, c.dtype) for c in prov.columns] == [
        ("date", "datetime64[us]"),
        ("close", "float64"),
    ]
    assert prov.index == ()
    assert prov.kind is SeriesKind.DAILY
    assert prov.schema_version == 1
    data = store.data_path("spx")
    assert data == store.root / "series" / "spx.parquet"
    assert prov.data_sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
    assert prov.data_bytes == data.stat().st_size
    assert "spx.csv" in prov.cite()
    assert store.names() == ("spx",)


def test_layout_is_one_parquet_per_series_and_a_json_manifest(
    store: Store, spx_csv: Path, tmp_path: Path
) -> None:
    store.import_series("spx", spx_csv, load_closes)
    vix = write_closes(tmp_path / "vix.csv", daily_rows(JULY_2019[:3]))
    store.import_series("vix", vix, load_closes)
    assert sorted(snapshot(store.root)) == [
        "manifest.json",
        "series/spx.parquet",
        "series/vix.parquet",
    ]
    doc = json.loads((store.root / "manifest.json").read_text(encoding="utf-8"))
    assert doc["format"] == "vixshield-store"
    assert doc["manifest_version"] == 1
    assert sorted(doc["series"]) == ["spx", "vix"]
    entry = doc["series"]["vix"]
    assert entry["source_sha256"] == hashlib.sha256(vix.read_bytes()).hexdigest()
    assert entry["imported_at"] == "2026-01-05T22:00:00+00:00"
    assert entry["rows"] == 3
    assert entry["first_date"] == "2019-07-01"
    assert entry["last_date"] == "2019-07-03"


def test_parquet_file_carries_its_provenance(store: Store, spx_csv: Path) -> None:
    import pyarrow.parquet as pq

    store.import_series("spx", spx_csv, load_closes)
    meta = pq.read_schema(store.data_path("spx")).metadata
    embedded = json.loads(meta[b"vixshield"])
    assert embedded["source_sha256"] == hashlib.sha256(spx_csv.read_bytes()).hexdigest()
    assert embedded["name"] == "spx"
    assert "data_sha256" not in embedded


def test_manifest_round_trip(store: Store, spx_csv: Path, tmp_path: Path) -> None:
    bad = write_closes(tmp_path / "vvix.csv", [*daily_rows(JULY_2019[:4]), ("2019-07-08", "x")])
    store.import_series("vvix", bad, load_closes, mode=Mode.SKIP)
    store.import_series("spx", spx_csv, load_closes)
    for name in ("spx", "vvix"):
        prov = store.provenance(name)
        assert Provenance.from_json(json.loads(json.dumps(prov.to_json()))) == prov
        # A second store object on the same directory reads the same manifest.
        assert Store(store.root).provenance(name) == prov


# ---------------------------------------------------------------------------- idempotency


def test_same_source_is_a_no_op_and_the_loader_is_not_called(store: Store, spx_csv: Path) -> None:
    calls: list[Path] = []

    def counting(path: Path, mode: Mode) -> Loaded:
        calls.append(path)
        return load_closes(path, mode)

    first = store.import_series("spx", spx_csv, counting)
    before = snapshot(store.root)
    later = Store(store.root, clock=FixedClock(T1))
    again = later.import_series("spx", spx_csv, counting)
    assert again.status is ImportStatus.UNCHANGED
    assert again.provenance == first.provenance
    assert again.provenance.imported_at == T0
    assert again.report is None
    assert "unchanged" in again.summary()
    assert len(calls) == 1
    assert snapshot(store.root) == before


def test_force_reimports_the_same_source(store: Store, spx_csv: Path) -> None:
    first = store.import_series("spx", spx_csv, load_closes)
    later = Store(store.root, clock=FixedClock(T1))
    forced = later.import_series("spx", spx_csv, load_closes, force=True)
    assert forced.status is ImportStatus.REPLACED
    assert forced.previous == first.provenance
    assert forced.provenance.imported_at == T1
    assert forced.provenance.source_sha256 == first.provenance.source_sha256
    assert later.read("spx").provenance.imported_at == T1


def test_changed_source_or_schema_version_replaces(
    store: Store, spx_csv: Path, tmp_path: Path
) -> None:
    store.import_series("spx", spx_csv, load_closes)
    write_closes(spx_csv, daily_rows(JULY_2019[:5]))
    changed = store.import_series("spx", spx_csv, load_closes)
    assert changed.status is ImportStatus.REPLACED
    assert store.read("spx").provenance.rows == 5
    bumped = store.import_series("spx", spx_csv, load_closes, schema_version=2)
    assert bumped.status is ImportStatus.REPLACED
    assert bumped.provenance.schema_version == 2


# ---------------------------------------------------------------------------- refusals


def test_bad_file_in_strict_mode_leaves_everything_untouched(store: Store, spx_csv: Path) -> None:
    store.import_series("spx", spx_csv, load_closes)
    before = snapshot(store.root)
    write_closes(spx_csv, [*daily_rows(JULY_2019[:3]), ("2019-07-05", "-1")])
    with pytest.raises(DataError, match="line 5, field 'close'"):
        store.import_series("spx", spx_csv, load_closes)
    assert snapshot(store.root) == before
    assert store.read("spx").provenance.rows == 9


def test_loader_crash_or_unstorable_frame_leaves_everything_untouched(
    store: Store, spx_csv: Path
) -> None:
    store.import_series("spx", spx_csv, load_closes)
    before = snapshot(store.root)

    def crashing(path: Path, mode: Mode) -> Loaded:
        raise RuntimeError("disk on fire")

    def unstorable(path: Path, mode: Mode) -> Loaded:
        loaded = load_closes(path, mode)
        frame = loaded.frame.assign(bad=[object()] * len(loaded.frame))
        return Loaded(frame, loaded.report)

    with pytest.raises(RuntimeError, match="disk on fire"):
        store.import_series("spx", spx_csv, crashing, force=True)
    with pytest.raises(DataError, match="cannot be stored as Parquet"):
        store.import_series("spx", spx_csv, unstorable, force=True)
    assert snapshot(store.root) == before


def test_skip_mode_records_the_reasons(store: Store, tmp_path: Path) -> None:
    rows = [
        *daily_rows(JULY_2019[:4]),
        ("2019-07-08", "x"),
        ("2019-07-09", "0"),
        ("2019-07-10", ""),
    ]
    src = write_closes(tmp_path / "skew.csv", rows)
    prov = store.import_series("skew", src, load_closes, mode=Mode.SKIP).provenance
    assert (prov.rows, prov.rows_read, prov.rows_skipped) == (4, 7, 3)
    assert prov.mode is Mode.SKIP
    [reason] = prov.skipped
    assert (reason.field, reason.message, reason.count, reason.first_line) == (
        "close",
        "is not a positive number",
        3,
        6,
    )
    assert len(prov.skipped_examples) == 3
    assert "line 6" in prov.skipped_examples[0]
    assert "3 skipped" in prov.report_summary


def test_bad_names_and_unknown_series_are_refused(store: Store, spx_csv: Path) -> None:
    for name in ("SPX", "../x", "", "a.b", "spx/1"):
        with pytest.raises(InvalidInputError, match="series name"):
            store.import_series(name, spx_csv, load_closes)
    with pytest.raises(InvalidInputError, match="does not exist"):
        store.import_series("spx", spx_csv.with_name("nope.csv"), load_closes)
    store.import_series("spx", spx_csv, load_closes)
    with pytest.raises(InvalidInputError, match=r"no series 'vix'.*holds: spx"):
        store.read("vix")


def test_data_changed_outside_the_store_is_refused(store: Store, spx_csv: Path) -> None:
    store.import_series("spx", spx_csv, load_closes)
    path = store.data_path("spx")
    payload = bytearray(path.read_bytes())
    payload[-20] ^= 0xFF
    path.write_bytes(bytes(payload))
    with pytest.raises(DataError, match="sha256 differs"):
        store.read("spx")
    [line] = store.status(verify=True)
    assert not line.ok
    assert line.problem is not None
    assert "sha256" in line.problem
    path.unlink()
    [line] = store.status()
    assert not line.ok
    with pytest.raises(DataError, match="missing"):
        store.read("spx")


def test_unreadable_manifest_is_reported_with_what_to_do(store: Store, spx_csv: Path) -> None:
    store.import_series("spx", spx_csv, load_closes)
    store.manifest_path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="manifest is unreadable"):
        store.read("spx")


# ---------------------------------------------------------------------------- crash recovery


def test_failure_before_commit_keeps_old_version_and_cleans_temp(
    store: Store, spx_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.import_series("spx", spx_csv, load_closes)
    before = snapshot(store.root)
    real_replace = os.replace

    def failing_replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name == "manifest.json":
            raise OSError("simulated crash at the commit point")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="commit point"):
        store.import_series("spx", spx_csv, load_closes, force=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert any(p.name.endswith(".tmp") for p in store.series_dir.iterdir())  # left by the "crash"
    assert store.read("spx").provenance.imported_at == T0  # recovery runs first
    assert snapshot(store.root) == before


def test_failure_after_commit_rolls_forward(
    store: Store, spx_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.import_series("spx", spx_csv, load_closes)
    write_closes(spx_csv, daily_rows(JULY_2019[:2]))
    real_replace = os.replace

    def failing_replace(src: str | Path, dst: str | Path) -> None:
        if Path(src).name.endswith(".parquet.tmp"):
            raise OSError("simulated crash after the commit point")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="after the commit"):
        store.import_series("spx", spx_csv, load_closes)
    monkeypatch.setattr(os, "replace", real_replace)
    stored = store.read("spx")  # verifies the data sha256 against the manifest
    assert stored.provenance.rows == 2
    assert len(stored.frame) == 2
    assert sorted(p.name for p in store.series_dir.iterdir()) == ["spx.parquet"]


# ---------------------------------------------------------------------------- status


def test_status_lists_missing_sessions_of_daily_series(store: Store, tmp_path: Path) -> None:
    days = [d for d in JULY_2019 if d != "2019-07-09"]
    store.import_series("vix", write_closes(tmp_path / "vix.csv", daily_rows(days)), load_closes)
    store.import_series(
        "spx", write_closes(tmp_path / "spx.csv", daily_rows(JULY_2019)), load_closes
    )
    spx, vix = store.status()
    assert (spx.name, spx.gaps, spx.missing_sessions) == ("spx", 0, ())  # 4 July is a holiday
    assert vix.name == "vix"
    assert vix.missing_sessions == (dt.date(2019, 7, 9),)
    assert vix.gaps == 1
    assert (vix.rows, vix.first_date, vix.last_date) == (
        8,
        dt.date(2019, 7, 1),
        dt.date(2019, 7, 12),
    )
    assert vix.imported_at == T0
    assert vix.source == str((tmp_path / "vix.csv").resolve())
    assert vix.ok


def test_status_gaps_not_applicable_to_chains_and_events(store: Store, tmp_path: Path) -> None:
    src = write_closes(tmp_path / "chain.csv", daily_rows(["2019-06-26", "2019-06-26"]))
    store.import_series("chain_spxw_20190626", src, load_closes)
    store.import_series(
        "events", write_closes(tmp_path / "ev.csv", daily_rows(JULY_2019[::3])), load_closes
    )
    chain, events = store.status()
    assert chain.kind is SeriesKind.CHAIN
    assert events.kind is SeriesKind.EVENTS
    assert chain.gaps is None
    assert events.missing_sessions is None
    doc = json.loads(json.dumps(store.status_json()))
    assert [s["gaps"] for s in doc["series"]] == [None, None]
    assert doc["series"][0]["first_date"] == "2019-06-26"


def test_status_json_is_plain_json(store: Store, tmp_path: Path) -> None:
    days = [d for d in JULY_2019 if d not in {"2019-07-02", "2019-07-10"}]
    store.import_series("vix3m", write_closes(tmp_path / "v.csv", daily_rows(days)), load_closes)
    doc = json.loads(json.dumps(store.status_json(verify=True)))
    [line] = doc["series"]
    assert line["gaps"] == 2
    assert line["missing_sessions"] == ["2019-07-02", "2019-07-10"]
    assert line["imported_at"] == "2026-01-05T22:00:00+00:00"
    assert line["ok"] is True


def test_status_of_an_absent_store_is_empty(tmp_path: Path) -> None:
    store = Store(tmp_path / "nothing-here")
    assert store.status() == ()
    assert store.names() == ()
    assert not store.root.exists()


def test_default_kinds() -> None:
    assert default_kind("spx") is SeriesKind.DAILY
    assert default_kind("vx_contracts") is SeriesKind.DAILY
    assert default_kind("fomc") is SeriesKind.EVENTS
    assert default_kind("chain_spxw_20190626") is SeriesKind.CHAIN


def test_dates_from_an_index_and_from_tz_aware_stamps(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("anything\n", encoding="utf-8")

    def indexed(path: Path, mode: Mode) -> Loaded:
        idx = pd.DatetimeIndex(["2019-07-01", "2019-07-03"], name="date")
        frame = pd.DataFrame({"close": [1.0, 2.0]}, index=idx)
        return Loaded(frame, _report(path, 2))

    def stamped(path: Path, mode: Mode) -> Loaded:
        # 23:30 New York on 1 July is 2 July in UTC: the session is the local date.
        ts = pd.DatetimeIndex(["2019-07-01 23:30", "2019-07-02 09:30"]).tz_localize(
            "America/New_York"
        )
        frame = pd.DataFrame({"quote_date": ts, "bid": [1.0, 2.0]})
        return Loaded(frame, _report(path, 2))

    prov = store.import_series("a", src, indexed).provenance
    assert (prov.date_column, prov.first_date, prov.last_date) == (
        "date",
        dt.date(2019, 7, 1),
        dt.date(2019, 7, 3),
    )
    assert prov.missing_sessions == (dt.date(2019, 7, 2),)
    prov = store.import_series("b", src, stamped).provenance
    assert (prov.first_date, prov.last_date) == (dt.date(2019, 7, 1), dt.date(2019, 7, 2))
    assert prov.missing_sessions == ()


def _report(path: Path, rows: int) -> LoadReport:
    return LoadReport(str(path), rows, rows)


# ---------------------------------------------------------------------------- export


def rich_frame() -> pd.DataFrame:
    stamps = pd.DatetimeIndex(
        ["2019-03-08 15:45", "2019-03-11 15:45", "2019-11-01 16:00", "2019-11-04 09:30"]
    ).tz_localize("America/New_York")  # both sides of both DST changes
    return pd.DataFrame(
        {
            "date": pd.to_datetime(["2019-03-08", "2019-03-11", "2019-11-01", "2019-11-04"]),
            "quote_time": stamps,
            "utc_time": stamps.tz_convert("UTC").as_unit("ns"),
            "expiry": [dt.date(2019, 3, 15), dt.date(2019, 3, 15), dt.date(2019, 11, 15), None],
            "close": [0.1 + 0.2, 1 / 3, np.nan, -1e-300],
            "volume": np.array([1, 2, 3, 2**62], dtype=np.int64),
            "open_interest": pd.array([10, None, 30, 40], dtype="Int64"),
            "root": ["SPX", "SPXW", "SPX", "SPXW"],
            "detail": ["", "first", "", "last"],  # empty strings, no missing values
            "ref_period": ["2019-02", None, "2019-10", "2019-11"],  # a missing value
            "is_pm": [False, True, False, True],
            "right": pd.Categorical(["C", "P", "C", "P"]),
        }
    )


def frame_loader(frame: pd.DataFrame) -> functools.partial[Loaded]:
    return functools.partial(_give, frame)


def _give(frame: pd.DataFrame, path: Path, mode: Mode) -> Loaded:
    return Loaded(frame.copy(), LoadReport(str(path), len(frame), len(frame)))


@pytest.mark.parametrize("indexed", [False, True])
def test_export_round_trips_exactly(store: Store, tmp_path: Path, indexed: bool) -> None:
    frame = rich_frame()
    if indexed:
        frame = frame.set_index(["date", "root"])
    src = tmp_path / "src.bin"
    src.write_bytes(b"x")
    store.import_series("chain_test", src, frame_loader(frame))
    stored = store.read("chain_test")
    pd.testing.assert_frame_equal(stored.frame, frame, check_exact=True)

    out = store.export("chain_test", tmp_path / "out" / "c.parquet", fmt="parquet")
    assert out.fmt is ExportFormat.PARQUET
    assert hashlib.sha256(out.path.read_bytes()).hexdigest() == stored.provenance.data_sha256
    pd.testing.assert_frame_equal(pd.read_parquet(out.path), frame, check_exact=True)

    out = store.export("chain_test", tmp_path / "out" / "c.csv")
    assert out.fmt is ExportFormat.CSV
    assert out.rows == 4
    back = read_csv_export(out.path, stored.provenance)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back.dtypes.to_dict() == frame.dtypes.to_dict()
    text = out.path.read_text(encoding="utf-8")
    assert "2019-03-08T15:45:00-05:00" in text  # ISO 8601 with the offset
    assert "2019-03-11T15:45:00-04:00" in text
    assert sorted(p.name for p in out.path.parent.iterdir()) == ["c.csv", "c.parquet"]
    assert json.loads(json.dumps(out.to_json()))["series"] == "chain_test"


def test_export_replaces_atomically_and_refuses_bad_requests(
    store: Store, spx_csv: Path, tmp_path: Path
) -> None:
    store.import_series("spx", spx_csv, load_closes)
    target = tmp_path / "spx_out.csv"
    target.write_text("old", encoding="utf-8")
    store.export("spx", target, fmt=ExportFormat.CSV)
    assert target.read_text(encoding="utf-8").startswith("date,close\n2019-07-01T00:00:00,100.25\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(InvalidInputError, match="format"):
        store.export("spx", target, fmt="xlsx")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="directory"):
        store.export("spx", tmp_path)
    with pytest.raises(InvalidInputError, match="no series"):
        store.export("vix", target)


# ---------------------------------------------------------------------------- folders and names


def test_folder_source_checksum_covers_names_and_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "cfe_vx"
    folder.mkdir()
    (folder / "CFE_F10_VX.csv").write_text("a\n", encoding="utf-8")
    (folder / "CFE_G10_VX.csv").write_text("b\n", encoding="utf-8")
    first = source_sha256(folder)
    lines = "".join(
        f"{n}\0{hashlib.sha256(c).hexdigest()}\n"
        for n, c in (("CFE_F10_VX.csv", b"a\n"), ("CFE_G10_VX.csv", b"b\n"))
    )
    assert first == hashlib.sha256(lines.encode()).hexdigest()
    (folder / ".DS_Store").write_bytes(b"junk")  # hidden files do not count
    assert source_sha256(folder) == first
    (folder / "CFE_G10_VX.csv").write_text("c\n", encoding="utf-8")
    assert source_sha256(folder) != first
    (folder / "CFE_G10_VX.csv").write_text("b\n", encoding="utf-8")
    (folder / "CFE_G10_VX.csv").rename(folder / "CFE_H10_VX.csv")
    assert source_sha256(folder) != first


def test_loader_name_unwraps_partials_and_can_be_given(store: Store, spx_csv: Path) -> None:
    wrapped = functools.partial(load_closes)
    assert store.import_series("a", spx_csv, wrapped).provenance.loader == (
        f"{__name__}.load_closes"
    )
    named = store.import_series("b", spx_csv, load_closes, loader_name="loaders.load_ohlcv")
    assert named.provenance.loader == "loaders.load_ohlcv"
    # A different loader on the same bytes is not a no-op.
    again = store.import_series("b", spx_csv, load_closes)
    assert again.status is ImportStatus.REPLACED


# ---------------------------------------------------------------------------- locking


def test_concurrent_imports_do_not_interleave(store: Store, tmp_path: Path) -> None:
    spans: dict[str, tuple[float, float]] = {}
    barrier = threading.Barrier(2)

    def slow(path: Path, mode: Mode) -> Loaded:
        start = time.perf_counter()
        time.sleep(0.3)
        loaded = load_closes(path, mode)
        spans[path.stem] = (start, time.perf_counter())
        return loaded

    errors: list[BaseException] = []

    def run(name: str) -> None:
        src = write_closes(tmp_path / f"{name}.csv", daily_rows(JULY_2019))
        barrier.wait()
        try:
            Store(store.root, clock=FixedClock(T0)).import_series(name, src, slow)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("vix", "vvix")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    (_, a1), (b0, _) = sorted(spans.values())
    assert a1 <= b0, "the second import started loading before the first one finished"
    # No lost update: both entries are in the manifest and both files verify.
    assert store.names() == ("vix", "vvix")
    assert store.read("vix").provenance.rows == store.read("vvix").provenance.rows == 9


def test_lock_held_elsewhere_times_out(store: Store, spx_csv: Path) -> None:
    store.import_series("spx", spx_csv, load_closes)
    fd = os.open(store.root / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        impatient = Store(store.root, lock_timeout_s=0.1)
        with pytest.raises(StoreLockedError, match="locked by another process"):
            impatient.import_series("spx", spx_csv, load_closes, force=True)
        with pytest.raises(StoreLockedError):
            impatient.read("spx")
    finally:
        os.close(fd)
    assert Store(store.root, lock_timeout_s=0.1).read("spx").provenance.rows == 9


def test_naive_clock_is_refused(tmp_path: Path, spx_csv: Path) -> None:
    class Naive:
        def now(self) -> dt.datetime:
            return dt.datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test

    store = Store(tmp_path / "d", clock=Naive())
    with pytest.raises(InvalidInputError, match="naive"):
        store.import_series("spx", spx_csv, load_closes)
    assert not (tmp_path / "d" / "manifest.json").exists()


def test_source_changed_during_the_import_is_refused(store: Store, spx_csv: Path) -> None:
    def racing(path: Path, mode: Mode) -> Loaded:
        loaded = load_closes(path, mode)
        write_closes(path, daily_rows(JULY_2019[:2]))  # a download still being written
        return loaded

    with pytest.raises(DataError, match="changed while it was being imported"):
        store.import_series("spx", spx_csv, racing)
    assert store.names() == ()


def test_unnamed_index_is_dropped_and_partly_named_refused(store: Store, spx_csv: Path) -> None:
    def leftover_rows(path: Path, mode: Mode) -> Loaded:
        loaded = load_closes(path, mode)
        return Loaded(loaded.frame.iloc[[0, 2, 5]], loaded.report)

    stored = store.import_series("spx", spx_csv, leftover_rows).provenance
    assert stored.index == ()
    frame = store.read("spx").frame
    assert isinstance(frame.index, pd.RangeIndex)
    assert list(frame.index) == [0, 1, 2]

    def partly_named(path: Path, mode: Mode) -> Loaded:
        loaded = load_closes(path, mode)
        frame = loaded.frame.set_index(["date", loaded.frame.index])
        return Loaded(frame, loaded.report)

    with pytest.raises(DataError, match="partly unnamed"):
        store.import_series("vix", spx_csv, partly_named)
