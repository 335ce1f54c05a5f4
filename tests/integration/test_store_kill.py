"""Atomic imports, proven by SIGKILLing a real import process at the worst moments.

A child process (``store_kill_child.py``) imports a 400,000-row series over a stored previous
version and stops at a chosen point inside the store's write sequence; the parent kills it with
SIGKILL (no cleanup handlers run, the lock is dropped by the kernel) and then checks, first on
the raw files and then through a fresh :class:`Store`, that

* the manifest is valid JSON and the only visible data file is ``series/<name>.parquet``;
* killed before the commit point, the previous data and manifest are byte-for-byte intact;
* killed after it, the next operation rolls the import forward to the new version;
* whatever the moment, what a reader gets matches the manifest (sha256 checked on read);
* temp files are gone after the next operation, and a further import succeeds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from vixshield.data.store import ImportStatus, Store

pytestmark = pytest.mark.slow

CHILD = Path(__file__).with_name("store_kill_child.py")
NAME = "vx_contracts"
READY_TIMEOUT_S = 120.0


def _child_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("store_kill_child", CHILD)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


child = _child_module()


def write_version(path: Path, version: int) -> Path:
    path.write_text(str(version), encoding="utf-8")
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_child_until(data_dir: Path, source: Path, phase: str, tmp: Path) -> subprocess.Popen[bytes]:
    """Start the child and return once it has reached ``phase`` (it is then waiting)."""
    ready = tmp / f"ready-{phase}"
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(data_dir), str(source), phase, str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    waited = 0.0
    while not ready.exists():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"child exited with {proc.returncode} before {phase}:\n{err.decode()}")
        if waited > READY_TIMEOUT_S:
            kill(proc)
            pytest.fail(f"child never reached {phase}")
        time.sleep(0.01)
        waited += 0.01
    return proc


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def visible_files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def hidden_temps(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*.tmp"))


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Store, Path]:
    """A store holding version 1 of the series, imported in this process."""
    store = Store(tmp_path / "data", clock=child.CLOCK)
    src = write_version(tmp_path / "v1.txt", 1)
    store.import_series(NAME, src, child.version_loader, loader_name="fake.version_loader")
    return store, src


@pytest.mark.parametrize(
    ("phase", "committed", "temps_left"),
    [
        ("load", False, False),
        ("temp-written", False, True),
        ("before-commit", False, True),
        ("after-commit", True, True),
    ],
)
def test_sigkill_mid_import_leaves_a_consistent_store(
    seeded: tuple[Store, Path], tmp_path: Path, phase: str, committed: bool, temps_left: bool
) -> None:
    store, v1 = seeded
    root = store.root
    data_file = store.data_path(NAME)
    manifest_before = store.manifest_path.read_bytes()
    data_before = data_file.read_bytes()
    v2 = write_version(tmp_path / "v2.txt", 2)

    kill(run_child_until(root, v2, phase, tmp_path))

    # Raw files, before any store code runs again.
    raw = json.loads(store.manifest_path.read_text(encoding="utf-8"))
    assert list(raw["series"]) == [NAME]
    assert visible_files(root) == ["manifest.json", f"series/{NAME}.parquet"]
    assert bool(hidden_temps(root)) is temps_left  # the kill did land mid-write
    assert data_file.read_bytes() == data_before  # the data file is only ever replaced whole
    if committed:
        assert raw["series"][NAME]["source_sha256"] == sha(v2)
    else:
        assert store.manifest_path.read_bytes() == manifest_before

    # A fresh store recovers (rolls back or forward) and reads a consistent version.
    fresh = Store(root, clock=child.CLOCK)
    stored = fresh.read(NAME)  # raises if the data does not match the manifest's sha256
    expected, source = (2, v2) if committed else (1, v1)
    pd.testing.assert_frame_equal(stored.frame, child.make_frame(expected), check_exact=True)
    assert stored.provenance.source_sha256 == sha(source)
    assert stored.provenance.data_sha256 == sha(data_file)
    assert hidden_temps(root) == []
    assert visible_files(root) == ["manifest.json", f"series/{NAME}.parquet"]
    [line] = fresh.status(verify=True)
    assert line.ok

    # And the next import goes through.
    v3 = write_version(tmp_path / "v3.txt", 3)
    result = fresh.import_series(NAME, v3, child.version_loader)
    assert result.status is ImportStatus.REPLACED
    assert int(fresh.read(NAME).frame["version"].iloc[0]) == 3


@pytest.mark.parametrize("delay_s", [0.05, 0.4, 0.9, 1.7])
def test_sigkill_at_an_arbitrary_moment_of_repeated_imports(
    seeded: tuple[Store, Path], tmp_path: Path, delay_s: float
) -> None:
    store, v1 = seeded
    proc = run_child_until(store.root, v1, "loop", tmp_path)
    time.sleep(delay_s)
    kill(proc)

    stored = Store(store.root).read(NAME)
    source = Path(stored.provenance.source)
    assert stored.provenance.source_sha256 == sha(source)
    version = int(source.read_text(encoding="utf-8"))
    pd.testing.assert_frame_equal(stored.frame, child.make_frame(version), check_exact=True)
    assert hidden_temps(store.root) == []
    assert visible_files(store.root) == ["manifest.json", f"series/{NAME}.parquet"]
