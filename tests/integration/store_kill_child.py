"""Subprocess entry point for ``test_store_kill.py``: one import, stopped at a chosen moment.

Usage: ``python store_kill_child.py DATA_DIR SOURCE PHASE READY_FILE``.

The fake loader turns SOURCE (a text file holding a version number) into a large-ish frame
whose every value encodes that version. PHASE picks where the process stops and waits to be
killed; it writes READY_FILE first so the parent knows the moment has come:

* ``load``: inside the loader, before anything is written;
* ``temp-written``: the new Parquet temp file is written but not yet fsynced;
* ``before-commit``: the new manifest is about to replace the old one;
* ``after-commit``: the manifest is committed, the data file not yet moved into place;
* ``loop``: no stop; import two sources alternately, forever (the parent kills it at an
  arbitrary moment).

The stops wrap ``os.fsync`` and ``os.replace``, so the store's code runs unmodified.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vixshield.clock import FixedClock
from vixshield.data.store import Store
from vixshield.data.validation import Loaded, LoadReport, Mode

ROWS = 400_000
CLOCK = FixedClock(dt.datetime(2026, 2, 1, tzinfo=dt.UTC))


def make_frame(version: int) -> pd.DataFrame:
    """The frame a source holding ``version`` loads to (the parent checks against this)."""
    n = np.arange(ROWS, dtype=np.int64)
    return pd.DataFrame(
        {
            "date": pd.Timestamp("2019-07-01") + pd.to_timedelta(n // 1000, unit="D"),
            "strike": (n % 1000).astype(np.float64) * 5.0,
            "version": np.full(ROWS, version, dtype=np.int64),
            "value": np.sin(n * 1e-3) + version,
        }
    )


def version_loader(path: Path, mode: Mode) -> Loaded:
    version = int(path.read_text(encoding="utf-8"))
    return Loaded(make_frame(version), LoadReport(str(path), ROWS, ROWS))


def stop_forever(ready: Path) -> None:
    ready.write_text(str(os.getpid()), encoding="utf-8")
    while True:
        time.sleep(60)


def main(data_dir: Path, source: Path, phase: str, ready: Path) -> None:
    real_fsync = os.fsync
    real_replace = os.replace

    def fsync(fd: Any) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}") if isinstance(fd, int) else ""
        if phase == "temp-written" and target.endswith(".parquet.tmp"):
            stop_forever(ready)
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        if phase == "before-commit" and Path(dst).name == "manifest.json":
            stop_forever(ready)
        if phase == "after-commit" and Path(src).name.endswith(".parquet.tmp"):
            stop_forever(ready)
        real_replace(src, dst)

    def loader(path: Path, mode: Mode) -> Loaded:
        if phase == "load":
            stop_forever(ready)
        return version_loader(path, mode)

    os.fsync = fsync
    os.replace = replace
    store = Store(data_dir, clock=CLOCK)
    if phase == "loop":
        # Alternate between SOURCE and a second source one version up, so a reader that got
        # one version's data under the other's manifest entry would notice.
        alt = source.with_name(f"alt-{source.name}")
        alt.write_text(str(int(source.read_text(encoding="utf-8")) + 1), encoding="utf-8")
        ready.write_text(str(os.getpid()), encoding="utf-8")
        while True:
            for src in (alt, source):
                store.import_series("vx_contracts", src, loader)
    store.import_series("vx_contracts", source, loader, loader_name="fake.version_loader")
    raise SystemExit(f"phase {phase!r} never stopped the import")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
