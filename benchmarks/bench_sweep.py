"""Sweep throughput: configurations per minute on the local cores (and optionally on Ray).

A fixed small grid (``condor.short_delta`` 0.10/0.12/0.14 x ``management.profit_target_frac``
0.5/0.75: 6 configurations, default settings otherwise) over a fixed window (2018-01-02 to
2018-02-28, 40 sessions) of the embedded default market (seed 7 from 1990, as ``vixshield
sweep --data synthetic`` builds it), run

* serially in this process (no pool: the floor of what one core does),
* on a spawn process pool of 1 worker and of 2 workers (each worker starts an interpreter and
  unpickles the history once: that start-up is inside the wall time),
* with ``--ray ADDRESS`` also on a Ray cluster (``local``: an in-process one),

and prints wall seconds, configurations per minute and the speedup over serial, with the
machine's cores and load average before and after (the cores may be shared: compare runs at
low load), and the CPU seconds spent (this process and the pool's workers; Ray's workers are
not counted), which do not depend on the load: a pool's extra CPU over serial is its workers'
start-up (interpreter, imports, unpickling the history) and their cold caches. It checks
that every backend gave the same table. Not a test: it asserts nothing.

Usage: ``python benchmarks/bench_sweep.py [--repeat N] [--ray ADDRESS] [--window-end DATE]``
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import date
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from vixshield.backtest.sweep import Backend, SweepResult, SweepSpec, load_history, run_sweep

START = date(2018, 1, 2)
END = date(2018, 2, 28)
SPEC: dict[str, Any] = {
    "sweep": {
        "mode": "grid",
        "objective": "sharpe",
        "grid": {
            "condor.short_delta": [0.10, 0.12, 0.14],
            "management.profit_target_frac": [0.5, 0.75],
        },
    }
}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per backend (best kept)")
    parser.add_argument("--ray", default=None, help="also time a Ray cluster at ADDRESS")
    parser.add_argument("--window-end", default=END.isoformat(), help="last day of the window")
    args = parser.parse_args()
    end = date.fromisoformat(args.window_end)

    console = Console(width=max(100, Console().width))
    console.print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    console.print(f"usable cores: {_cores()}  (os.cpu_count() {os.cpu_count()})")
    console.print(f"load average before: {_load()}")
    t0 = time.perf_counter()
    history = load_history("synthetic", end=end)
    console.print(
        f"history: embedded default market seed 7, {history.sessions[0]}..{history.sessions[-1]}"
        f" ({len(history.sessions)} sessions) built in {time.perf_counter() - t0:.1f} s"
    )
    spec = SweepSpec.from_dict(SPEC)
    n = spec.size()
    sessions = sum(1 for d in history.sessions if START <= d <= end)
    console.print(f"spec: {n} configurations x {sessions} sessions ({START}..{end})")

    backends: list[tuple[str, Backend]] = [
        ("serial", Backend.serial()),
        ("process x1", Backend.process(1)),
        ("process x2", Backend.process(2)),
    ]
    if args.ray:
        backends.append((f"ray {args.ray}", Backend.ray(args.ray, workers=2)))

    rows: list[tuple[str, float, float]] = []
    results: list[SweepResult] = []
    for name, backend in backends:
        best, best_cpu = float("inf"), float("inf")
        for _ in range(max(1, args.repeat)):
            t, c = time.perf_counter(), _cpu()
            res = run_sweep(spec, history, start=START, end=end, backend=backend)
            best = min(best, time.perf_counter() - t)
            best_cpu = min(best_cpu, _cpu() - c)
        rows.append((name, best, best_cpu))
        results.append(res)
        console.print(f"  {name}: {best:.1f} s wall, {best_cpu:.1f} s CPU  (load {_load()})")

    serial = rows[0][1]
    table = Table(title=f"sweep throughput: {n} configurations, {sessions} sessions each")
    for col in ("backend", "wall (s)", "configs / min", "speedup", "CPU (s)", "CPU s / config"):
        table.add_column(col, justify="left" if col == "backend" else "right")
    for name, wall, cpu in rows:
        table.add_row(
            name, f"{wall:.1f}", f"{60.0 * n / wall:.1f}", f"{serial / wall:.2f}x", f"{cpu:.1f}",
            f"{cpu / n:.2f}",
        )  # fmt: skip
    console.print(table)
    same = all(r.frame.equals(results[0].frame) for r in results[1:])
    if not same:
        for r in results[1:]:
            pd.testing.assert_frame_equal(r.frame, results[0].frame)  # shows the difference
    console.print(f"identical tables across backends: {same}")
    console.print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
