"""The backtest suite: every strategy at every fill fraction, in-process or in worker processes.

A short window of the embedded default market (seed 7, 25-point wings as in
``tests/unit/test_runner.py``) keeps each run to a few seconds.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from vixshield.backtest import suite as suite_mod
from vixshield.backtest.baselines import run_baseline
from vixshield.backtest.fills import FillParams
from vixshield.backtest.suite import SuiteResult, run_suite
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory
from vixshield.data.synthetic import synthetic_market
from vixshield.errors import InvalidInputError
from vixshield.strategy.condor import CondorParams

CONFIG = StrategyConfig(condor=CondorParams(wing_points=25.0))
START, END = date(2018, 1, 2), date(2018, 1, 31)
EQUITY = 1_000_000.0
STRATEGIES = ("unhedged", "buy_and_hold")


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    return MarketHistory.from_synthetic(synthetic_market(date(2017, 1, 3), END, seed=7))


@pytest.fixture(scope="module")
def serial(history: MarketHistory) -> tuple[SuiteResult, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []
    got = run_suite(
        history, start=START, end=END, config=CONFIG, equity_usd=EQUITY,
        strategies=STRATEGIES, ks=(0.0, 1.0), workers=1,
        progress=lambda d, t: calls.append((d, t)),
    )  # fmt: skip
    return got, calls


def _sessions(history: MarketHistory) -> int:
    return sum(1 for d in history.sessions if START <= d <= END)


def test_every_strategy_at_every_k_in_order(serial: tuple[SuiteResult, list[tuple[int, int]]]):
    got, _ = serial
    assert list(got.runs) == list(STRATEGIES)
    assert all(list(by_k) == [0.0, 1.0] for by_k in got.runs.values())
    assert got.ks == (0.0, 1.0)
    assert (got.start, got.end, got.equity_usd) == (START, END, EQUITY)


def test_a_suite_run_is_the_baseline_run(
    history: MarketHistory, serial: tuple[SuiteResult, list[tuple[int, int]]]
):
    got, _ = serial
    alone = run_baseline(
        "unhedged", history, start=START, end=END, config=CONFIG, equity_usd=EQUITY,
        fill=FillParams(half_spread_fraction=1.0),
    )  # fmt: skip
    pd.testing.assert_series_equal(got.result("unhedged", 1.0).equity, alone.equity)
    assert got.result("unhedged", 1.0).ledger == alone.ledger


def test_progress_counts_every_session_of_every_run(
    history: MarketHistory, serial: tuple[SuiteResult, list[tuple[int, int]]]
):
    _, calls = serial
    total = _sessions(history) * len(STRATEGIES) * 2
    assert calls[-1] == (total, total)
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert {t for _, t in calls} == {total}


@pytest.mark.slow
def test_worker_processes_give_the_same_results(
    history: MarketHistory, serial: tuple[SuiteResult, list[tuple[int, int]]]
):
    got, _ = serial
    calls: list[tuple[int, int]] = []
    pooled = run_suite(
        history, start=START, end=END, config=CONFIG, equity_usd=EQUITY,
        strategies=STRATEGIES, ks=(0.0, 1.0), workers=2,
        progress=lambda d, t: calls.append((d, t)),
    )  # fmt: skip
    for name in STRATEGIES:
        for k in (0.0, 1.0):
            a, b = got.result(name, k), pooled.result(name, k)
            pd.testing.assert_series_equal(a.equity, b.equity)
            assert a.ledger == b.ledger
            assert a.metrics.to_json() == b.metrics.to_json()
    total = _sessions(history) * len(STRATEGIES) * 2
    assert calls[-1] == (total, total)


def test_the_history_goes_to_a_worker_once_not_with_each_task(
    history: MarketHistory, monkeypatch: pytest.MonkeyPatch
):
    """A task carries only (strategy, k); the history arrives through the initializer."""
    inits: list[int] = []
    submitted: list[tuple[object, ...]] = []

    class FakePool:
        def __init__(self, *, max_workers, mp_context, initializer, initargs):
            inits.append(max_workers)
            initializer(*initargs)

        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            suite_mod._WORKER.clear()

        def submit(self, fn, *args):
            submitted.append(args)

            class Done:
                def result(self):
                    return fn(*args)

            return Done()

    monkeypatch.setattr(suite_mod, "ProcessPoolExecutor", FakePool)
    got = run_suite(
        history, start=START, end=date(2018, 1, 5), config=CONFIG, equity_usd=EQUITY,
        strategies=STRATEGIES, ks=(0.0, 1.0), workers=2,
    )  # fmt: skip
    assert inits == [2]
    assert submitted == [(s, k) for s in STRATEGIES for k in (0.0, 1.0)]
    assert all(not isinstance(a, MarketHistory) for args in submitted for a in args)
    assert got.result("buy_and_hold", 0.0).equity.index[0] == pd.Timestamp(START)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategies": ("nope",)}, "unknown strategies"),
        ({"strategies": ()}, "no strategy"),
        ({"ks": (1.5,)}, "fill fractions"),
        ({"ks": ()}, "fill fractions"),
        ({"workers": 0}, "workers"),
        ({"start": date(2030, 1, 2), "end": date(2030, 2, 1)}, "no session"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    history: MarketHistory, kwargs: dict[str, object], message: str
):
    args: dict[str, object] = {
        "start": START, "end": END, "config": CONFIG, "equity_usd": EQUITY,
        "strategies": STRATEGIES, "ks": (0.0,), "workers": 1,
    }  # fmt: skip
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=message):
        run_suite(history, **args)  # type: ignore[arg-type]


def test_results_survive_a_process_boundary(serial: tuple[SuiteResult, list[tuple[int, int]]]):
    """Decisions, books and snapshots hold read-only mappings; they must still pickle."""
    import pickle

    got, _ = serial
    result = got.result("unhedged", 0.0)
    back = pickle.loads(pickle.dumps(result))
    assert back.days == result.days
    assert back.ledger == result.ledger
    pd.testing.assert_series_equal(back.equity, result.equity)
    assert type(back.days[0].decision.book).__name__ == "mappingproxy"
