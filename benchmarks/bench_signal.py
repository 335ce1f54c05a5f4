"""Time the daily signal from 30 years of history: history build, indicators, ``run_day``.

Prints a table of wall seconds (best of ``--repeat`` runs for the decision stages). The
history comes from the real data (imported into a temporary store, then
:meth:`MarketHistory.from_store`) or from the embedded default market (seed 7, 1990-01-02 to
the last session of 2019). Then, for the last session:

* ``history.upto(d) + indicators``: the causal indicator frame for a day before the end
  (``run_day`` skips the cut when ``d`` is the last session);
* ``run_day (indicators inside)``: the whole daily decision as ``vixshield signal`` makes it
  (indicators, regime, chain, the five stages, book Greeks and scenarios), no open book;
* ``run_day (precomputed indicators)``: the same with the frames passed in (a backtest's path);
* ``run_day on 2019-06-26`` (real data only): the day with a real 10,384-quote SPXW chain.

Not a test: it asserts nothing. Aim: under 1 s for indicators + ``run_day``.

Usage: ``python benchmarks/bench_signal.py [--data real|synthetic] [--repeat N]``
(real data from ``$VIXSHIELD_REAL_DATA`` or ``../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory, stamp
from vixshield.engine import run_day
from vixshield.signals.indicators import compute_indicators
from vixshield.signals.regime import classify


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _real_history(tmp: Path) -> MarketHistory:
    from vixshield.data.catalog import default_mode, plan_imports
    from vixshield.data.store import Store

    data_dir = Path(
        os.environ.get("VIXSHIELD_REAL_DATA", str(Path(__file__).parents[2] / "shared" / "data"))
    )
    store = Store(tmp)
    plans, _ = plan_imports(data_dir)
    for p in plans:
        store.import_series(
            p.name, p.source, p.loader, mode=default_mode(True), kind=p.kind,
            loader_name=p.loader_name,
        )  # fmt: skip
    return MarketHistory.from_store(store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("real", "synthetic"), default="real")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = StrategyConfig()
    rows: list[tuple[str, float, str]] = []

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if args.data == "real":
            history = _real_history(Path(tmp))
            how = "import ../shared/data into a fresh store + MarketHistory.from_store"
        else:
            from vixshield.report.demo import default_history

            history = default_history(date(2019, 12, 31))
            how = "embedded default market, seed 7, 1990-2019"
        rows.append(("build the history (once)", time.perf_counter() - t0, how))

    day = history.sessions[-1]
    clock = FixedClock(stamp(day))
    n = len(history.sessions)

    secs, frame = _best(lambda: compute_indicators(history.upto(day), config.indicators), 3)
    rows.append(("history.upto(d) + indicators", secs, f"{n:,} sessions, {frame.shape[1]} columns"))

    def decide(**kw: Any) -> Any:
        return run_day(history, day, clock=clock, config=config, equity_usd=1e6, **kw)

    secs, d = _best(decide, args.repeat)
    rows.append(
        (f"run_day {day} (indicators inside)", secs, f"{len(d.orders)} orders, regime {d.regime}")
    )
    regimes = classify(frame, config.regime)
    secs, _ = _best(lambda: decide(indicators=frame, regimes=regimes), args.repeat)
    rows.append(("run_day (precomputed indicators)", secs, "the backtest's path"))
    real_day = date(2019, 6, 26)
    if real_day in history.real_chains:
        secs, d = _best(
            lambda: run_day(
                history, real_day, clock=FixedClock(stamp(real_day)), config=config,
                equity_usd=1e6,
            ),
            args.repeat,
        )  # fmt: skip
        rows.append((f"run_day {real_day} (real chain)", secs, f"{len(d.orders)} orders"))

    table = Table(title=f"Daily signal from 30 years of history ({args.data} data)")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("detail")
    for name, s, detail in rows:
        table.add_row(name, f"{s:.3f}", detail)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
