"""Run the Cboe benchmark rules on the real data and compare them with the published levels.

Each rule (:data:`vixshield.backtest.cboe.BENCHMARKS`) runs through
:func:`vixshield.backtest.cboe.run_benchmark` on :func:`~vixshield.backtest.cboe.load_real_history`
in its own worker process (the runs are independent); the month-end equities come back and
:func:`~vixshield.backtest.cboe.compare_month_ends` compares them with
``indices/cboe_strategy_monthly_1986_2015.csv``. Prints the statistics table, the notes, the
worst monthly differences of each rule and, with ``--json PATH``, writes the whole comparison.
The measured full-period table is recorded in ``docs/cboe_benchmarks.md``.

Usage::

    python scripts/cboe_benchmarks.py [--start 1990-01-02] [--end 2015-12-31]
        [--names PUT,BXM,CNDR,BFLY,SPTR,VXTH] [--workers 2] [--json out.json]
        [--premium-outside-account]

VXTH starts at ``max(--start, 2007-01-03)``: VVIX (and so the model VIX chain) is usable from
2007. Real data from ``$VIXSHIELD_REAL_DATA`` or ``../shared/data``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

_VXTH_FROM = date(2007, 1, 3)


def _data_dir() -> Path:
    here = Path(__file__).resolve().parents[1]
    return Path(os.environ.get("VIXSHIELD_REAL_DATA", str(here.parent / "shared" / "data")))


@dataclass(frozen=True)
class _Run:
    name: str
    month_ends: pd.Series
    sessions: int
    seconds: float
    refusals: int
    modelled_mark_days: int
    final_equity: float


def _one(name: str, start: date, end: date, premium_in_account: bool) -> _Run:
    from vixshield.backtest.cboe import load_real_history, month_end_equity, run_benchmark

    history = load_real_history(_data_dir())
    first = max(start, _VXTH_FROM) if name == "VXTH" else start
    t0 = time.perf_counter()
    result = run_benchmark(
        name, history, start=first, end=end, premium_in_account=premium_in_account
    )
    return _Run(
        name,
        month_end_equity(result),
        len(result.equity),
        time.perf_counter() - t0,
        sum(len(d.decision.refusals) for d in result.days) + len(result.refusals),
        sum(d.marks_modelled for d in result.days),
        float(result.equity.iloc[-1]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(1990, 1, 2))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2015, 12, 31))
    parser.add_argument("--names", default="PUT,BXM,CNDR,BFLY,SPTR,VXTH")
    parser.add_argument("--workers", type=int, default=min(6, os.cpu_count() or 1))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--premium-outside-account",
        action="store_true",
        help="size CNDR/BFLY/PUT with the premium outside the T-bill account",
    )
    args = parser.parse_args()

    from vixshield.backtest.cboe import (
        BenchmarkComparison,
        compare_month_ends,
        comparison_stats,
        describe_table,
    )

    names = [n.strip() for n in args.names.split(",") if n.strip()]
    t0 = time.perf_counter()
    premium_in = not args.premium_outside_account
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_one, n, args.start, args.end, premium_in) for n in names]
        runs = [f.result() for f in futures]
    comparison = compare_month_ends(
        {r.name: r.month_ends for r in runs},
        _data_dir() / "indices" / "cboe_strategy_monthly_1986_2015.csv",
    )
    print(
        f"Cboe benchmark rules {args.start} to {args.end} (premium "
        f"{'inside' if premium_in else 'outside'} the T-bill account), "
        f"{time.perf_counter() - t0:.0f} s wall"
    )
    for r in runs:
        print(
            f"  {r.name:<5} {r.sessions} sessions in {r.seconds:.0f} s "
            f"({r.seconds / max(r.sessions, 1):.3f} s/session); refusals {r.refusals}; "
            f"days with a model mark {r.modelled_mark_days}; final equity {r.final_equity:,.0f}"
        )
    print()
    print(describe_table(comparison))
    print()
    for note in comparison.notes:
        print(f"- {note}")
    m = comparison.monthly
    for lo, hi in (("1990-01", "2005-12"), ("2006-01", "2015-12")):
        part = m.loc[lo:hi]
        rows = {
            r.name: comparison_stats(part[f"{r.name}_model"], part[f"{r.name}_published"])
            for r in runs
            if f"{r.name}_model" in part and part[f"{r.name}_model"].notna().any()
        }
        if rows:
            sub = BenchmarkComparison(part, pd.DataFrame.from_dict(rows, orient="index"))
            print(f"\n{lo} to {hi}:\n{describe_table(sub)}")
    print()
    for r in runs:
        pub = f"{r.name}_published"
        if pub not in m or m[pub].isna().all():
            continue
        diff = (m[f"{r.name}_model"] - m[pub]).dropna()
        worst = diff.abs().sort_values(ascending=False).head(6)
        cells = ", ".join(f"{d:%Y-%m} {diff[d]:+.2%}" for d in worst.index)
        print(f"{r.name} largest monthly differences (model - published): {cells}")
    if args.json is not None:
        args.json.write_text(json.dumps(comparison.to_json(), indent=1), encoding="utf-8")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
