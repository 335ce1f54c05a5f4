"""The journal on SQLite and on PostgreSQL (the ``journal_url`` fixture, tests/conftest.py):
schema and migrations, round trips, idempotency, failure semantics (an exception, a SIGKILL
midway) and append-only history."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.orm import Session

from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig, fingerprint
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.decisions import DayDecision
from vixshield.engine import run_day
from vixshield.errors import JournalError
from vixshield.journal import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    Journal,
    RunHandle,
    decision_text,
    default_url,
)
from vixshield.journal.models import DecisionRow, OrderRow, RunRow
from vixshield.journal.store import _alembic_config
from vixshield.strategy.condor import CondorParams

CONFIG = StrategyConfig(condor=CondorParams(wing_points=25.0))
CONFIG_TEXT = CONFIG.model_dump_json()
FP = fingerprint(CONFIG)
DAY = date(2018, 3, 1)


@pytest.fixture(scope="module")
def decision() -> DayDecision:
    """A decision of the synthetic market with at least one order."""
    history = MarketHistory.from_synthetic(
        synthetic_market(date(2017, 1, 3), date(2018, 3, 29), seed=7)
    )
    for day in history.sessions:
        if day < date(2018, 1, 2):
            continue
        d = run_day(history, day, clock=FixedClock(stamp(day)), config=CONFIG, equity_usd=1e6)
        if d.orders:
            return d
    raise AssertionError("no orders in early 2018 on the synthetic market")


TABLES = {
    "runs",
    "decisions",
    "orders",
    "errors",
    "fills",
    "position_snapshots",
    "position_legs",
    "position_equities",
    "marks",
    "hedge_activations",
    "alembic_version",
}


@pytest.fixture
def journal(journal_url: str) -> Iterator[Journal]:
    j = Journal.open(journal_url)
    yield j
    j.close()


def test_migrations_create_every_table_and_reopening_is_a_no_op(journal_url: str) -> None:
    j = Journal.open(journal_url)
    tables = set(inspect(j.engine).get_table_names())
    assert tables == TABLES
    head = j.schema_revision()
    assert head == "0002"
    run = j.start_run(DAY, "signal", CONFIG_TEXT, FP)
    j.close()
    again = Journal.open(journal_url)
    assert again.schema_revision() == head
    assert set(inspect(again.engine).get_table_names()) == tables
    assert [r.id for r in again.runs()] == [run.id]
    again.close()


def test_a_journal_at_0001_is_upgraded_keeping_its_history(journal_url: str) -> None:
    engine = create_engine(journal_url)
    try:
        with engine.begin() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
        assert "fills" not in inspect(engine).get_table_names()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO runs (trading_day, mode, status, config_text, "
                    "config_fingerprint, code_version, revision, started_at) VALUES "
                    "('2018-03-01', 'signal', 'running', 'cfg', 'fp', '0', 1, :at)"
                ),
                {"at": datetime(2018, 3, 1, 21, tzinfo=UTC)},
            )
    finally:
        engine.dispose()
    with Journal.open(journal_url) as j:
        assert j.schema_revision() == "0002"
        assert set(inspect(j.engine).get_table_names()) == TABLES
        (run,) = j.runs()
        assert (run.trading_day, run.status, run.revision) == (DAY, RUNNING, 1)
        assert j.finish(run).status == SUCCEEDED


def test_open_with_a_data_dir_makes_journal_sqlite(tmp_path: Path) -> None:
    with Journal.open(data_dir=tmp_path / "data") as j:
        assert j.backend == "sqlite"
        run = j.start_run(DAY, "signal", CONFIG_TEXT, FP)
    assert (tmp_path / "data" / "journal.sqlite").exists()
    with Journal.open(default_url(tmp_path / "data")) as again:
        assert [r.id for r in again.runs()] == [run.id]


def test_foreign_keys_are_enforced(journal: Journal) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"), journal.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO decisions (run_id, session, regime, decision_json) "
                "VALUES (999, '2018-01-02', NULL, '{}')"
            )
        )


def test_backend_settings(journal: Journal, journal_url: str) -> None:
    """SQLite: WAL, foreign keys and a busy timeout on every connection. PostgreSQL: ids from
    sequences and timestamps with time zone."""
    assert journal.backend == journal_url.partition(":")[0].partition("+")[0]
    with journal.engine.connect() as conn:
        if journal.backend == "sqlite":
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
            return
        columns = {
            (t, c): (dtype, default)
            for t, c, dtype, default in conn.execute(
                text(
                    "SELECT table_name, column_name, data_type, column_default "
                    "FROM information_schema.columns WHERE table_schema = 'public'"
                )
            )
        }
    for table in TABLES - {"alembic_version"}:
        dtype, default = columns[(table, "id")]
        assert dtype == "integer"
        assert default is not None
        assert default.startswith("nextval(")
    for key in [
        ("runs", "started_at"),
        ("runs", "finished_at"),
        ("errors", "at"),
        ("fills", "recorded_at"),
        ("position_snapshots", "recorded_at"),
    ]:
        assert columns[key][0] == "timestamp with time zone"
    start = datetime(2018, 3, 1, 16, 5, 7, 123456, tzinfo=UTC)
    run = journal.start_run(DAY, "signal", CONFIG_TEXT, FP, now=start)
    (back,) = journal.runs()
    assert back.started_at == start
    assert back.started_at.tzinfo is not None
    assert back.started_at.utcoffset() == timedelta(0)
    assert run.id == back.id


def test_a_decision_round_trips(journal: Journal, decision: DayDecision) -> None:
    with journal.run(decision.session, "signal", CONFIG_TEXT, FP) as run:
        journal.record_decision(run, decision)
        # nothing is written before the run finishes
        assert journal.orders(run) == []
        assert journal.runs()[0].status == RUNNING
    stored = journal.latest_decision(decision.session, "signal")
    assert stored is not None
    assert stored.decision_json == decision_text(decision)
    assert stored.data() == decision.to_json()
    assert stored.session == decision.session
    assert stored.regime == decision.regime
    assert stored.run.status == SUCCEEDED
    assert stored.run.revision == 1
    assert stored.run.config_fingerprint == FP
    assert stored.run.finished_at is not None
    assert stored.run.finished_at.tzinfo is not None
    assert stored.run.started_at <= stored.run.finished_at
    rows = journal.orders(stored.run)
    assert len(rows) == len(decision.orders) > 0
    for i, (row, order) in enumerate(zip(rows, decision.orders, strict=True)):
        assert row["index"] == i
        assert row["action"] == order.action.value
        assert row["layer"] == order.layer.value
        assert row["structure"] == (None if order.structure is None else order.structure.name)
        assert row["limit_price"] == order.limit_price
        assert json.loads(row["json"]) == order.to_json()
    assert [d.run.id for d in journal.history("signal")] == [run.id]
    assert journal.history("backtest") == []


def test_a_second_run_of_a_day_is_refused_and_force_adds_a_revision(
    journal: Journal, decision: DayDecision
) -> None:
    with journal.run(DAY, "signal", CONFIG_TEXT, FP) as first:
        journal.record_decision(first, decision)
    with pytest.raises(JournalError, match=rf"run {first.id} \(revision 1"):
        journal.start_run(DAY, "signal", CONFIG_TEXT, FP)
    # another mode of the same day is independent
    other = journal.start_run(DAY, "backtest", CONFIG_TEXT, FP)
    assert other.revision == 1
    with journal.run(DAY, "signal", CONFIG_TEXT, FP, force=True) as second:
        journal.record_decision(second, decision)
    assert second.revision == 2
    runs = journal.runs(trading_day=DAY, mode="signal")
    assert [(r.id, r.revision, r.status) for r in runs] == [
        (first.id, 1, SUCCEEDED),
        (second.id, 2, SUCCEEDED),
    ]
    latest = journal.latest_decision(DAY, "signal")
    assert latest is not None
    assert latest.run.id == second.id
    assert [d.run.revision for d in journal.history("signal")] == [2, 1]
    assert [d.run.revision for d in journal.decisions_of_day(DAY, "signal")] == [2, 1]
    assert journal.decisions_of_day(DAY, "backtest") == []


def test_a_failure_inside_a_run_is_recorded_without_a_decision(
    journal: Journal, decision: DayDecision
) -> None:
    class BoomError(RuntimeError):
        pass

    def decide_then_fail(run: RunHandle) -> None:
        journal.record_decision(run, decision)
        raise BoomError("market data missing")

    with (
        pytest.raises(BoomError, match="market data missing"),
        journal.run(DAY, "signal", CONFIG_TEXT, FP) as running,
    ):
        decide_then_fail(running)
    (run,) = journal.runs()
    assert run.status == FAILED
    assert run.error is not None
    assert "market data missing" in run.error
    assert run.finished_at is not None
    ((_at, kind, message),) = journal.errors(run)
    assert kind == "test_a_failure_inside_a_run_is_recorded_without_a_decision.<locals>.BoomError"
    assert "market data missing" in message
    assert journal.latest_decision(DAY, "signal") is None
    with Session(journal.engine) as s:
        assert s.scalars(select(DecisionRow)).all() == []
        assert s.scalars(select(OrderRow)).all() == []
    # a failed run does not block the day: the next run is revision 2
    assert journal.start_run(DAY, "signal", CONFIG_TEXT, FP).revision == 2


def test_history_is_append_only(journal: Journal, decision: DayDecision) -> None:
    with journal.run(DAY, "signal", CONFIG_TEXT, FP) as run:
        journal.record_decision(run, decision)
    public = {n for n in dir(Journal) if not n.startswith("_")}
    assert not {n for n in public if n.startswith(("delete", "update", "remove", "edit"))}
    # a finished run cannot change state again, nor get a second decision
    with pytest.raises(JournalError, match="succeeded, not running"):
        journal.fail(run, "late")
    with pytest.raises(JournalError, match="succeeded, not running"):
        journal.finish(run)
    with pytest.raises(JournalError, match="succeeded, not running"):
        journal.record_decision(run, decision)
    # the journal's sessions refuse deletes and edits of history
    sessions = journal._sessions
    with pytest.raises(JournalError, match="append-only"), sessions.begin() as s:
        s.delete(s.scalars(select(OrderRow)).first())
    with sessions.begin() as s:
        d = s.scalars(select(DecisionRow)).one()
        d.decision_json = "{}"
        with pytest.raises(JournalError, match="append-only"):
            s.flush()
        s.rollback()
    with sessions.begin() as s:
        r = s.get(RunRow, run.id)
        assert r is not None
        r.config_text = "edited"
        with pytest.raises(JournalError, match="append-only"):
            s.flush()
        s.rollback()
    stored = journal.latest_decision(DAY, "signal")
    assert stored is not None
    assert stored.decision_json == decision_text(decision)
    assert len(journal.orders(run)) == len(decision.orders)


CHILD = """
import sys, time
from datetime import date
from vixshield.journal import Journal
from vixshield.journal.store import Journal as J
from vixshield.domain.decisions import Action, DayDecision, Layer, OrderIntent
from datetime import UTC, datetime

def stall(self, s, decision_id, decision):
    s.flush()
    print("in transaction", flush=True)
    time.sleep(60)

J._write_orders = stall
j = Journal.open(sys.argv[1])
run = j.start_run(date(2018, 3, 1), "signal", "cfg", "fp")
d = DayDecision(
    session=date(2018, 3, 1),
    as_of=datetime(2018, 3, 1, 21, tzinfo=UTC),
    regime="calm",
    regime_drivers=(),
    indicators={},
    orders=(OrderIntent(Action.HOLD, Layer.CORE, None, None, ("hold",)),),
)
j.record_decision(run, d)
j.finish(run)
"""


def _count(url: str, table: str) -> int:
    """Rows of a table as another connection sees them (committed rows only)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_a_killed_run_leaves_the_journal_consistent(journal_url: str, tmp_path: Path) -> None:
    url = journal_url
    Journal.open(url).close()
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    child = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "in transaction"
        # the decision row is written but not committed: another reader does not see it
        assert _count(url, "decisions") == 0
        assert _count(url, "runs") == 1
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    j = Journal.open(url)
    try:
        (run,) = j.runs()
        assert run.status == RUNNING
        assert j.latest_decision(run.trading_day, "signal") is None
        with Session(j.engine) as s:
            assert s.scalars(select(DecisionRow)).all() == []
            assert s.scalars(select(OrderRow)).all() == []
        if j.backend == "sqlite":
            with j.engine.connect() as conn:
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        # a run younger than the threshold is left alone
        assert j.mark_stale(timedelta(hours=1)) == []
        later = datetime.now(UTC) + timedelta(hours=2)
        (stale,) = j.mark_stale(timedelta(hours=1), now=later)
        assert stale.id == run.id
        (after,) = j.runs()
        assert after.status == FAILED
        assert after.error == "interrupted"
        assert j.errors(after)[0][1:] == ("interrupted", "interrupted")
        # the day can run again: revision 2
        assert j.start_run(run.trading_day, "signal", "cfg", "fp").revision == 2
    finally:
        j.close()


def test_open_needs_a_url_or_a_data_dir() -> None:
    with pytest.raises(JournalError, match="URL or a data directory"):
        Journal.open()
