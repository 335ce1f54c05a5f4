"""The writer and the reader of ``test_journal_concurrency.py``: imported by the test (reader
threads) and run as scripts (the writer, and a reader in its own process).

    python journal_concurrency_child.py write URL DAYS
    python journal_concurrency_child.py read URL STOP_FILE   # until STOP_FILE exists
    python journal_concurrency_child.py open URL GO_FILE     # open (migrate) once GO_FILE exists

The writer records DAYS trading days of "signal" runs, each with a decision carrying two marks
and a hedge order; every 7th day first has a run that fails after recording its decision, every
5th day is re-run with ``force``. A reader loops over ``runs()``, ``history()``,
``latest_decision()``, ``marks()`` and ``hedge_activations()`` and checks what it sees is
consistent: every succeeded run has its decision, every decision its orders, marks and hedge
activation, no failed run has any. It prints one JSON line: reads, partial views, problems.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from vixshield.domain.decisions import Action, DayDecision, Layer, OrderIntent
from vixshield.domain.positions import Leg, OptionContract, Right, Structure
from vixshield.journal import FAILED, SUCCEEDED, Journal

MODE = "signal"
FIRST_DAY = date(2018, 1, 1)
MARKS_PER_DECISION = 2


def day_of(i: int) -> date:
    return FIRST_DAY + timedelta(days=i)


def fails_first(i: int) -> bool:
    return i % 7 == 3


def rerun(i: int) -> bool:
    return i % 5 == 0


def expected_counts(days: int) -> tuple[int, int]:
    """(succeeded, failed) runs the writer leaves."""
    succeeded = days + sum(1 for i in range(days) if rerun(i))
    failed = sum(1 for i in range(days) if fails_first(i))
    return succeeded, failed


def decision(day: date) -> DayDecision:
    call = OptionContract("VIX", date(2018, 4, 18), 20, Right.CALL)
    hedge = Structure("VIX 20C", (Leg(call, 2, 1.2),))
    marks = [
        {
            "structure": "VIX 20C",
            "contract": call.label(),
            "root": "VIX",
            "expiry": "2018-04-18",
            "strike": 20.0,
            "right": "C",
            "quantity": 2,
            "fill_price": 1.2,
            "mark": 1.0 + k / 10,
            "vol": None if k else 0.9,
            "value_usd": 200.0 * (1.0 + k / 10),
        }
        for k in range(MARKS_PER_DECISION)
    ]
    return DayDecision(
        session=day,
        as_of=datetime.combine(day, datetime.min.time(), UTC).replace(hour=21),
        regime="calm",
        regime_drivers=("vix low",),
        indicators={"vix": 12.5},
        orders=(
            OrderIntent(Action.OPEN, Layer.HEDGE, hedge, -1.2, ("regime rising",)),
            OrderIntent(Action.HOLD, Layer.CORE, None, None, ("hold",)),
        ),
        book={"marks": marks},
    )


def write(url: str, days: int) -> None:
    journal = Journal.open(url)
    try:
        for i in range(days):
            day = day_of(i)
            if fails_first(i):
                try:
                    with journal.run(day, MODE, "cfg", "fp") as run:
                        journal.record_decision(run, decision(day))
                        raise RuntimeError("simulated failure")
                except RuntimeError:
                    pass
            with journal.run(day, MODE, "cfg", "fp") as run:
                journal.record_decision(run, decision(day))
            if rerun(i):
                with journal.run(day, MODE, "cfg", "fp", force=True) as run:
                    journal.record_decision(run, decision(day))
    finally:
        journal.close()


def check_once(journal: Journal) -> tuple[int, list[str]]:
    """One pass of reads; (succeeded runs seen, problems)."""
    problems: list[str] = []
    runs = journal.runs(mode=MODE)
    succeeded = [r for r in runs if r.status == SUCCEEDED]
    for r in succeeded:
        latest = journal.latest_decision(r.trading_day, MODE)
        if latest is None:
            problems.append(f"succeeded run {r.id} ({r.trading_day}) has no decision")
        elif latest.run.revision < r.revision or latest.run.status != SUCCEEDED:
            problems.append(f"latest decision of {r.trading_day} is {latest.run}, saw {r}")
    history = journal.history(MODE, limit=100_000)
    if len(history) < len(succeeded):
        problems.append(f"history has {len(history)} decisions, runs() had {len(succeeded)}")
    for stored in history:
        if stored.run.status != SUCCEEDED:
            problems.append(f"history holds run {stored.run.id} in status {stored.run.status}")
        data: dict[str, Any] = stored.data()
        if data["session"] != stored.run.trading_day.isoformat():
            problems.append(f"run {stored.run.id}: decision of {data['session']}")
        if len(journal.orders(stored.run)) != len(data["orders"]):
            problems.append(f"run {stored.run.id}: orders missing")
        if len(journal.marks(stored.run)) != MARKS_PER_DECISION:
            problems.append(f"run {stored.run.id}: {len(journal.marks(stored.run))} marks")
    activations = journal.hedge_activations()  # one per decision, written with it
    if len(activations) < len(history):
        problems.append(f"{len(activations)} hedge activations for {len(history)} decisions")
    for r in runs:
        if r.status == FAILED and journal.marks(r):
            problems.append(f"failed run {r.id} has marks")
    return len(succeeded), problems


def read_until(journal: Journal, stop: threading.Event | Path) -> dict[str, Any]:
    """Read until ``stop`` (an event, or a file appearing); reads, partial views, problems."""
    reads = 0
    partial = 0
    errors: list[str] = []
    last = -1
    while True:
        done = stop.is_set() if isinstance(stop, threading.Event) else stop.exists()
        try:
            seen, problems = check_once(journal)
        except Exception as exc:  # reported, not raised: the parent checks the list
            errors.append(f"{type(exc).__name__}: {exc}")
            if len(errors) > 20:
                break
            continue
        reads += 1
        errors.extend(problems)
        if seen < last:
            errors.append(f"succeeded runs went from {last} to {seen}")
        if seen > 0 and not done and seen != last:
            partial += 1
        last = seen
        if done:
            break
        time.sleep(0.02)  # leave the writer some CPU on small machines
    return {"reads": reads, "partial_views": partial, "errors": errors[:50], "last_seen": last}


def main(argv: list[str]) -> None:
    what, url, arg = argv[1:4]
    if what == "write":
        write(url, int(arg))
        print("written", flush=True)
        return
    if what == "open":
        print("waiting", flush=True)
        while not Path(arg).exists():
            time.sleep(0.001)
        with Journal.open(url) as journal:
            print(journal.schema_revision(), flush=True)
        return
    journal = Journal.open(url)
    try:
        print("reading", flush=True)
        print(json.dumps(read_until(journal, Path(arg))), flush=True)
    finally:
        journal.close()


if __name__ == "__main__":
    main(sys.argv)
