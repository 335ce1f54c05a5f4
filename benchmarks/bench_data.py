"""Load and validate all of ../shared/data, then build 30 years of daily snapshots.

Prints a table of wall seconds and peak memory per stage. Repeatable: the same files, the
same code path as ``vixshield data import`` (the catalog's loaders in skip mode, which
validate every row) followed by :class:`vixshield.data.market.MarketHistory`. Not a test.

Usage: ``python benchmarks/bench_data.py [DATA_DIR]`` (default ``$VIXSHIELD_REAL_DATA`` or
``../shared/data``).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vixshield.data.catalog import plan_imports
from vixshield.data.market import MarketHistory
from vixshield.data.store import Store
from vixshield.data.validation import Mode


def main() -> None:
    default = os.environ.get(
        "VIXSHIELD_REAL_DATA", str(Path(__file__).parents[2] / "shared" / "data")
    )
    data_dir = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    rows: list[tuple[str, float, float, str]] = []

    def stage(name: str, t0: float, detail: str) -> None:
        # ru_maxrss is the process's peak resident set so far (KiB on Linux).
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append((name, time.perf_counter() - t0, peak, detail))

    t0 = time.perf_counter()
    plans, skipped = plan_imports(data_dir)
    loaded = {p.name: p.loader(p.source, mode=Mode.SKIP) for p in plans}
    n_rows = sum(len(x.frame) for x in loaded.values())
    n_skipped = sum(x.report.rows_skipped for x in loaded.values())
    stage(
        "load + validate every file",
        t0,
        f"{len(plans)} series, {n_rows:,} rows kept, {n_skipped} skipped",
    )

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        t0 = time.perf_counter()
        for p in plans:
            store.import_series(
                p.name, p.source, p.loader, mode=Mode.SKIP, kind=p.kind, loader_name=p.loader_name
            )
        stage("import into a fresh store", t0, "Parquet + manifest, atomic, checksummed")

        t0 = time.perf_counter()
        history = MarketHistory.from_store(store)
        stage(
            "build MarketHistory",
            t0,
            f"{len(history.sessions):,} sessions, VX curve {len(history.curve):,} rows",
        )

    t0 = time.perf_counter()
    count = sum(1 for _ in history.snapshots())
    stage("walk every daily snapshot", t0, f"{count:,} snapshots")

    table = Table(title=f"Market data benchmark on {data_dir}")
    for col in ("stage", "seconds", "peak RSS so far, MiB", "detail"):
        table.add_column(col)
    for name, secs, mib, detail in rows:
        table.add_row(name, f"{secs:.2f}", f"{mib:.0f}", detail)
    console = Console(width=140)
    console.print(table)
    total = sum(r[1] for r in rows)
    console.print(f"total {total:.1f} s; peak RSS includes the interpreter and libraries")
    if skipped:
        console.print(f"not market data, left out: {', '.join(s.path.name for s in skipped)}")


if __name__ == "__main__":
    main()
