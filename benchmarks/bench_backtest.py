"""Time a daily backtest on one core: 1990-01-02 to 2019-12-31, real data, model chains, full ALVH.

The history is built as ``bench_signal.py --data real`` builds it (the real data imported
into a temporary store, then :meth:`MarketHistory.from_store`), or from the embedded default
market (``--data synthetic``, seed 7). Then :func:`~vixshield.backtest.runner.run_backtest`
walks every session in ``[--start, --end]`` with the default :class:`StrategyConfig` (core
condor, ladder, the full ALVH hedge, risk) and $1,000,000, single process.

**One core.** Before numpy is imported the BLAS/OpenMP thread variables are set to 1, the
process is pinned to one CPU (``sched_setaffinity``, so the C pricing kernel and the implied-vol
solver, which size their thread pools from the affinity mask, run on the calling thread only),
and threadpoolctl caps every pool it finds at 1 thread.

**Sessions without a VIX close.** The real VIX file lacks 51 S&P 500 sessions (1991-03-01
.. 2006-02-08). ``run_day`` refuses such a day (``DataError``: no stored option chain and no
VIX close to model one from). By default (``--vix-gaps previous``) the benchmark's store gives
those sessions the previous VIX close, flagged ``modelled``, and the table says how many;
``--vix-gaps raise`` keeps the data as is, and the runner records each as a data gap (no
decision, no fills, legs at their last mids; ``BacktestResult.data_gaps``).

Prints a table: sessions, wall seconds of the walk (the history build is timed apart),
milliseconds per session, the process CPU time (below the wall time when other processes
share the cores), peak RSS (``ru_maxrss``), optionally the tracemalloc peak
(``--tracemalloc``: it slows the run several times), final equity, fills, ledger entries,
refusals and a digest of the result (SHA-1 of the equity curve, the ledger and the decisions'
orders and refusals) to check that a change left every figure as it was, and the load
average. ``--profile N`` prints the top N cProfile entries by cumulative and by own time.

Not a test: it asserts nothing. Aim (the issue): the 1990-2019 run under 30 s on one core.

Usage: ``python benchmarks/bench_backtest.py [--start YYYY-MM-DD] [--end YYYY-MM-DD]
[--data real|synthetic] [--vix-gaps previous|raise] [--profile N] [--tracemalloc]
[--progress]`` (real data from ``$VIXSHIELD_REAL_DATA`` or ``../shared/data``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402 (the thread variables must be set before numpy loads)
import cProfile  # noqa: E402
import hashlib  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from dataclasses import replace  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from vixshield.backtest.runner import BacktestResult, run_backtest  # noqa: E402
from vixshield.config import StrategyConfig  # noqa: E402
from vixshield.data.market import MarketHistory  # noqa: E402
from vixshield.data.store import Store, StoredFrame  # noqa: E402
from vixshield.pricing._threads import default_threads  # noqa: E402


def _pin_one_core() -> str:
    """Pin the process to one CPU of its affinity mask; returns which."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
    except (AttributeError, OSError) as exc:  # not on Linux
        return f"not pinned ({exc})"
    return f"CPU {cpus[-1]} of {len(cpus)}"


class _PreviousVixStore(Store):
    """The store, with each S&P 500 session that has no VIX close given the previous close.

    The filled rows are flagged ``modelled``; ``filled`` lists their dates once read.
    """

    filled: tuple[date, ...] = ()

    def read(self, name: str, *, verify: bool = True) -> StoredFrame:
        got = super().read(name, verify=verify)
        if name not in ("vix", "vix_close"):
            return got
        spx = super().read("spx" if "spx" in self.names() else "spx_fred", verify=verify)
        vix = got.frame.set_index("date")
        spine = pd.DatetimeIndex(spx.frame["date"])
        spine = spine[spine >= vix.index.min()]
        gaps = spine.difference(vix.index)
        self.filled = tuple(d.date() for d in gaps)
        full = vix.reindex(vix.index.union(spine)).ffill()
        full.loc[gaps, "modelled"] = True
        frame = full.reset_index().rename(columns={"index": "date"})
        frame["modelled"] = frame["modelled"].astype(bool)
        return replace(got, frame=frame[got.frame.columns])


def _real_history(tmp: Path, *, vix_gaps: str) -> tuple[MarketHistory, tuple[date, ...]]:
    from vixshield.data.catalog import default_mode, plan_imports

    data_dir = Path(
        os.environ.get("VIXSHIELD_REAL_DATA", str(Path(__file__).parents[2] / "shared" / "data"))
    )
    store = _PreviousVixStore(tmp) if vix_gaps == "previous" else Store(tmp)
    plans, _ = plan_imports(data_dir)
    for p in plans:
        store.import_series(
            p.name, p.source, p.loader, mode=default_mode(True), kind=p.kind,
            loader_name=p.loader_name,
        )  # fmt: skip
    history = MarketHistory.from_store(store)
    return history, getattr(store, "filled", ())


def _history(kind: str, end: date, vix_gaps: str) -> tuple[MarketHistory, tuple[date, ...]]:
    if kind == "real":
        with tempfile.TemporaryDirectory() as tmp:
            return _real_history(Path(tmp), vix_gaps=vix_gaps)
    from vixshield.report.demo import default_history

    return default_history(max(end, date(2019, 12, 31))), ()


def digest(result: BacktestResult) -> str:
    """SHA-1 of the equity curve, the ledger and every decision's orders and refusals."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(repr(result.equity.to_list()).encode())
    h.update(repr(result.ledger).encode())
    for d in result.days:
        h.update(repr((d.decision.orders, d.decision.refusals)).encode())
    h.update(repr(result.refusals).encode())
    return h.hexdigest()[:16]


def _peak_rss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(1990, 1, 2))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2019, 12, 31))
    parser.add_argument("--data", choices=("real", "synthetic"), default="real")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="top N entries")
    parser.add_argument("--tracemalloc", action="store_true", help="also the tracemalloc peak")
    parser.add_argument("--progress", action="store_true", help="a line every 250 sessions")
    parser.add_argument(
        "--vix-gaps",
        choices=("previous", "raise"),
        default="previous",
        help="real data: sessions without a VIX close get the previous close (flagged "
        "modelled; default), or are left empty: the runner records them as data gaps",
    )
    args = parser.parse_args()

    pinned = _pin_one_core()
    config = StrategyConfig()
    t0 = time.perf_counter()
    history, filled = _history(args.data, args.end, args.vix_gaps)
    build_s = time.perf_counter() - t0

    def progress(done: int, total: int) -> None:
        if done % 250 == 0 or done == total:
            el = time.perf_counter() - t1
            print(f"  {done:>5}/{total} sessions, {el:7.1f} s", file=sys.stderr, flush=True)

    profiler = cProfile.Profile() if args.profile else None
    if args.tracemalloc:
        tracemalloc.start()
    with threadpool_limits(limits=1):
        t1 = time.perf_counter()
        c1 = time.process_time()
        if profiler is not None:
            profiler.enable()
        result = run_backtest(
            history, start=args.start, end=args.end, config=config, equity_usd=1_000_000.0,
            progress=progress if args.progress else None,
        )  # fmt: skip
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - t1
        cpu = time.process_time() - c1
    traced = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
    n = len(result.days)

    rows: list[tuple[str, str]] = [
        ("window", f"{result.days[0].session} .. {result.days[-1].session} ({args.data} data)"),
        ("sessions", f"{n:,}"),
        ("history build (s, not in the walk)", f"{build_s:.1f}"),
        (
            "sessions given the previous VIX close",
            f"{len(filled)}" + (f" ({filled[0]} .. {filled[-1]})" if filled else ""),
        ),
        ("wall seconds (run_backtest)", f"{wall:.1f}"),
        ("ms per session", f"{1e3 * wall / n:.2f}"),
        ("CPU seconds (process time; < wall on a busy machine)", f"{cpu:.1f}"),
        ("CPU ms per session", f"{1e3 * cpu / n:.2f}"),
        ("peak RSS (MiB, ru_maxrss)", f"{_peak_rss_mib():,.0f}"),
    ]
    if traced is not None:
        rows.append(("tracemalloc peak (MiB)", f"{traced / 2**20:,.0f}"))
    rows += [
        ("final equity (USD)", f"{float(result.equity.iloc[-1]):,.2f}"),
        ("fills", f"{result.fills:,}"),
        ("ledger entries", f"{len(result.ledger):,}"),
        ("fill refusals", f"{len(result.refusals):,}"),
        ("result digest", digest(result)),
        ("threads", f"{pinned}; kernel threads {default_threads()}; BLAS/OpenMP 1"),
        ("machine", f"{platform.processor() or platform.machine()}, Python "
                    f"{platform.python_version()}, load average "
                    f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"),
    ]  # fmt: skip
    table = Table(title="Daily backtest, default config, one core")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    Console(width=120).print(table)

    if profiler is not None:
        stats: Any = pstats.Stats(profiler)
        for key in ("cumulative", "tottime"):
            stats.sort_stats(key).print_stats(args.profile)


if __name__ == "__main__":
    main()
