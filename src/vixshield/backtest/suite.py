r"""A backtest suite: every baseline at every fill fraction on one history, in parallel.

:func:`run_suite` is what ``vixshield backtest`` (and ``make demo``) runs. For one market
history, window, configuration and starting equity it runs

* each strategy of ``strategies`` (default :data:`DEFAULT_STRATEGIES`: the full ALVH, condors
  unhedged, condors with a static always-on 4/4/2 hedge, condors with a VXTH-style hedge, and
  SPX buy-and-hold; see :mod:`vixshield.backtest.baselines`),
* at each fill fraction ``k`` of ``ks`` (default 0 and 1: every leg at the mid, and at the
  touch, ``mid ± 1 * half-spread``), so a report can show side by side how much of the edge
  is the spread,

and, on request (``benchmarks``), the Cboe benchmark rules of :mod:`vixshield.backtest.cboe`
(PUT, BXM, CNDR, BFLY, VXTH, SPTR) over the same window, each at its own convention (mids, no
fees, a large notional), for a month-by-month comparison with the published index levels
(:func:`~vixshield.backtest.cboe.compare_with_published`).

Parallelism
-----------
The runs are independent, so they go to a :class:`~concurrent.futures.ProcessPoolExecutor`
with ``workers`` processes started by ``spawn`` (1: in this process, no pool). The market
history is handed to each worker **once**, through the pool's initializer, not with every
task; a task is only ``(strategy, k)``. Workers report progress through a queue, so the
caller's ``progress(done, total)`` counts sessions over all runs. Results do not depend on
``workers``: each run is deterministic and the suite orders them by strategy and ``k``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from vixshield.backtest.baselines import BASELINES, run_baseline
from vixshield.backtest.cboe import BENCHMARKS, run_benchmark
from vixshield.backtest.fills import FillParams
from vixshield.backtest.runner import BacktestResult
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory
from vixshield.errors import InvalidInputError

__all__ = ["DEFAULT_KS", "DEFAULT_STRATEGIES", "SuiteResult", "run_suite"]

DEFAULT_STRATEGIES: Final = ("full_alvh", "unhedged", "static_442", "vxth_hedge", "buy_and_hold")
DEFAULT_KS: Final = (0.0, 1.0)
_PROGRESS_EVERY: Final = 5  # sessions between progress messages from a worker

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """Every run of the suite: ``runs[strategy][k]`` and ``benchmarks[name]``, in the order
    asked."""

    runs: Mapping[str, Mapping[float, BacktestResult]]
    start: date
    end: date
    equity_usd: float
    ks: tuple[float, ...]
    benchmarks: Mapping[str, BacktestResult] = field(default_factory=dict)

    def result(self, strategy: str, k: float) -> BacktestResult:
        return self.runs[strategy][k]


# -- worker side ---------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(
    history: MarketHistory, common: dict[str, Any], progress_queue: Any | None
) -> None:
    """Pool initializer: the history and the common arguments arrive once per worker."""
    _WORKER.clear()
    _WORKER.update(history=history, common=common, queue=progress_queue)


def _run_one(
    strategy: str, k: float | None, report: Callable[[int], None] | None
) -> BacktestResult:
    """One run: a baseline at fill fraction ``k``, or (``k`` None) the Cboe rule ``strategy``."""
    common = _WORKER["common"]
    last = [0]

    def progress(done: int, total: int) -> None:
        if report is not None and (done - last[0] >= _PROGRESS_EVERY or done == total):
            report(done - last[0])
            last[0] = done

    if k is None:
        return run_benchmark(
            strategy,
            _WORKER["history"],
            start=common["start"],
            end=common["end"],
            config=common["config"],
            progress=progress,
        )
    return run_baseline(
        strategy,
        _WORKER["history"],
        start=common["start"],
        end=common["end"],
        config=common["config"],
        equity_usd=common["equity_usd"],
        fill=FillParams(half_spread_fraction=k),
        progress=progress,
    )


def _task(strategy: str, k: float | None) -> BacktestResult:
    q = _WORKER["queue"]
    return _run_one(strategy, k, None if q is None else q.put)


# -- caller side ---------------------------------------------------------------------------


def run_suite(
    history: MarketHistory,
    *,
    start: date,
    end: date,
    config: StrategyConfig,
    equity_usd: float,
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    ks: Sequence[float] = DEFAULT_KS,
    workers: int = 1,
    progress: Progress | None = None,
    benchmarks: Sequence[str] = (),
) -> SuiteResult:
    """Run ``strategies`` x ``ks`` and the Cboe ``benchmarks`` on ``history`` over
    ``[start, end]``; see the module docstring.

    Raises
    ------
    InvalidInputError
        An unknown strategy or benchmark, no strategy, a bad ``k`` or ``workers``, or no
        session in the window.
    """
    names = tuple(dict.fromkeys(strategies))
    unknown = [s for s in names if s not in BASELINES]
    if unknown or not names:
        raise InvalidInputError(
            f"unknown strategies {unknown}; choose from {sorted(BASELINES)}"
            if unknown
            else "no strategy to run"
        )
    rules = tuple(dict.fromkeys(benchmarks))
    bad = [b for b in rules if b not in BENCHMARKS]
    if bad:
        raise InvalidInputError(f"unknown benchmarks {bad}; choose from {list(BENCHMARKS)}")
    fractions = tuple(dict.fromkeys(float(k) for k in ks))
    if not fractions or any(not (0.0 <= k <= 1.0) for k in fractions):
        raise InvalidInputError(f"fill fractions must be in [0, 1], got {list(ks)}")
    if workers < 1:
        raise InvalidInputError(f"workers must be >= 1, got {workers}")
    sessions = sum(1 for d in history.sessions if start <= d <= end)
    if sessions == 0:
        raise InvalidInputError(f"no session of the history in [{start}, {end}]")
    tasks: list[tuple[str, float | None]] = [(s, k) for s in names for k in fractions]
    tasks += [(b, None) for b in rules]
    total = sessions * len(tasks)
    common = {"start": start, "end": end, "config": config, "equity_usd": float(equity_usd)}
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    results: dict[tuple[str, float | None], BacktestResult] = {}  # benchmarks: (name, None)
    if workers == 1 or len(tasks) == 1:
        _init_worker(history, common, None)
        try:
            for s, k in tasks:
                results[s, k] = _run_one(s, k, tick)
        finally:
            _WORKER.clear()
    else:
        results = _run_pool(history, common, tasks, min(workers, len(tasks)), tick)
    runs = {s: {k: results[s, k] for k in fractions} for s in names}
    by_name = {s: r for (s, k), r in results.items() if k is None}
    return SuiteResult(
        runs, start, end, float(equity_usd), fractions, {b: by_name[b] for b in rules}
    )


def _run_pool(
    history: MarketHistory,
    common: dict[str, Any],
    tasks: list[tuple[str, float | None]],
    workers: int,
    tick: Callable[[int], None],
) -> dict[tuple[str, float | None], BacktestResult]:
    # spawn, not fork: the parent may run threads (the C kernel's, BLAS, the progress
    # reader), and a forked child inherits their locks in whatever state they were.
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            try:
                tick(q.get(timeout=0.1))
            except queue.Empty:
                continue

    reader = threading.Thread(target=drain, name="suite-progress", daemon=True)
    reader.start()
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(history, common, q),
        ) as pool:
            futures = {t: pool.submit(_task, *t) for t in tasks}
            out = {t: f.result() for t, f in futures.items()}
    finally:
        stop.set()
        reader.join()
        while True:  # messages that arrived after the reader stopped
            try:
                tick(q.get_nowait())
            except queue.Empty:
                break
    return out


def default_workers() -> int:
    """Worker processes for a suite: the usable cores (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
