"""The :class:`Journal`: runs, decisions, orders and errors in a SQL database."""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import vixshield
from vixshield.clock import SystemClock
from vixshield.domain.decisions import DayDecision
from vixshield.errors import JournalError
from vixshield.journal.models import DecisionRow, ErrorRow, OrderRow, RunRow

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
INTERRUPTED = "interrupted"

MIGRATIONS = Path(__file__).parent / "migrations"
# The only columns that may change once written: a run's status transition.
_MUTABLE_RUN_COLUMNS = frozenset({"status", "finished_at", "error"})


def default_url(data_dir: Path) -> str:
    """The SQLite journal of a data directory: ``<data_dir>/journal.sqlite``."""
    return f"sqlite:///{Path(data_dir) / 'journal.sqlite'}"


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _guard_history(session: Session, _context: Any, _instances: Any) -> None:
    """Append-only: no deletes, no changes except a run's status transition."""
    if session.deleted:
        raise JournalError("the journal is append-only: rows cannot be deleted")
    for obj in session.dirty:
        if not session.is_modified(obj):
            continue
        state = inspect(obj)
        changed = {a.key for a in state.attrs if a.history.has_changes()}
        if not isinstance(obj, RunRow) or not changed <= _MUTABLE_RUN_COLUMNS:
            raise JournalError(
                f"the journal is append-only: cannot change {sorted(changed)} of "
                f"{type(obj).__tablename__}"
            )


@dataclass(frozen=True, slots=True)
class RunHandle:
    """A run as the journal recorded it (a snapshot; the database holds the truth)."""

    id: int
    trading_day: date
    mode: str
    status: str
    revision: int
    config_fingerprint: str
    code_version: str
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None

    @classmethod
    def _of(cls, row: RunRow) -> RunHandle:
        return cls(
            id=row.id,
            trading_day=row.trading_day,
            mode=row.mode,
            status=row.status,
            revision=row.revision,
            config_fingerprint=row.config_fingerprint,
            code_version=row.code_version,
            started_at=row.started_at,
            finished_at=row.finished_at,
            error=row.error,
        )


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A decision read back: its run, and the JSON text exactly as written."""

    run: RunHandle
    session: date
    regime: str | None
    decision_json: str

    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.decision_json)
        return parsed


def decision_text(decision: DayDecision) -> str:
    """The stored text of a decision: :meth:`DayDecision.to_json` as JSON."""
    return json.dumps(decision.to_json(), allow_nan=False, default=str)


class Journal:
    """Append-only record of the daily runs; open with :meth:`open`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._pending: dict[int, DayDecision] = {}  # run id -> decision written at finish
        event.listen(self._sessions, "before_flush", _guard_history)

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, data_dir: Path | None = None) -> Journal:
        """Connect to ``url`` (any SQLAlchemy URL) or ``<data_dir>/journal.sqlite``, migrate.

        Migrations run to the head revision; on a database already there nothing is done.
        """
        if url is None:
            if data_dir is None:
                raise JournalError("Journal.open needs a database URL or a data directory")
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            url = default_url(Path(data_dir))
        engine = create_engine(url)
        if make_url(url).get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            cls._migrate(engine)
        except Exception:
            engine.dispose()
            raise
        return cls(engine)

    @staticmethod
    def _migrate(engine: Engine) -> None:
        cfg = _alembic_config()
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # -- writing ---------------------------------------------------------------------------

    def start_run(
        self,
        trading_day: date,
        mode: str,
        config_text: str,
        config_fingerprint: str,
        *,
        force: bool = False,
        now: datetime | None = None,
    ) -> RunHandle:
        """Record a new run as ``running``.

        A day and mode with a succeeded run is refused unless ``force``; the revision is one
        more than the highest recorded for that day and mode (1 for the first).
        """
        started = _utc(now)
        with self._sessions.begin() as s:
            done = s.scalars(
                select(RunRow)
                .where(
                    RunRow.trading_day == trading_day,
                    RunRow.mode == mode,
                    RunRow.status == SUCCEEDED,
                )
                .order_by(RunRow.revision.desc())
            ).first()
            if done is not None and not force:
                raise JournalError(
                    f"{mode} run for {trading_day.isoformat()} already succeeded: run "
                    f"{done.id} (revision {done.revision}, finished "
                    f"{done.finished_at.isoformat() if done.finished_at else '?'}); "
                    "pass force=True (--force) to record a new revision"
                )
            last = s.scalar(
                select(func.max(RunRow.revision)).where(
                    RunRow.trading_day == trading_day, RunRow.mode == mode
                )
            )
            row = RunRow(
                trading_day=trading_day,
                mode=mode,
                status=RUNNING,
                config_text=config_text,
                config_fingerprint=config_fingerprint,
                code_version=vixshield.__version__,
                revision=(last or 0) + 1,
                started_at=started,
            )
            s.add(row)
            s.flush()
            return RunHandle._of(row)

    def _write_decision(self, s: Session, run_id: int, decision: DayDecision) -> None:
        row = DecisionRow(
            run_id=run_id,
            session=decision.session,
            regime=decision.regime,
            decision_json=decision_text(decision),
        )
        s.add(row)
        s.flush()
        self._write_orders(s, row.id, decision)

    def _write_orders(self, s: Session, decision_id: int, decision: DayDecision) -> None:
        for i, order in enumerate(decision.orders):
            s.add(
                OrderRow(
                    decision_id=decision_id,
                    index=i,
                    action=order.action.value,
                    layer=order.layer.value,
                    structure=None if order.structure is None else order.structure.name,
                    limit_price=order.limit_price,
                    json=json.dumps(order.to_json(), allow_nan=False, default=str),
                )
            )
        s.flush()

    def record_decision(self, run: RunHandle, decision: DayDecision) -> None:
        """Hold the run's decision; :meth:`finish` writes it with the status, in one transaction.

        So a run that fails or is killed before it finishes leaves no decision rows, and a
        succeeded run always has its decision.
        """
        with self._sessions() as s:
            self._running(s, run)
        if run.id in self._pending:
            raise JournalError(f"run {run.id} already has a decision")
        self._pending[run.id] = decision

    def finish(self, run: RunHandle, *, now: datetime | None = None) -> RunHandle:
        """Mark a running run succeeded and write its decision and orders, in one transaction."""
        decision = self._pending.get(run.id)
        with self._sessions.begin() as s:
            row = self._running(s, run)
            if decision is not None:
                self._write_decision(s, row.id, decision)
            row.status = SUCCEEDED
            row.finished_at = _utc(now)
            s.flush()
            handle = RunHandle._of(row)
        self._pending.pop(run.id, None)
        return handle

    def fail(
        self, run: RunHandle, exc: BaseException | str, *, now: datetime | None = None
    ) -> RunHandle:
        """Mark a running run failed, with the error text and an ``errors`` row."""
        at = _utc(now)
        if isinstance(exc, BaseException):
            kind = type(exc).__qualname__
            message = "".join(traceback.format_exception_only(exc)).strip()
        else:
            kind, message = "error", exc
        with self._sessions.begin() as s:
            row = self._running(s, run)
            self._pending.pop(run.id, None)
            row.status = FAILED
            row.finished_at = at
            row.error = message
            s.add(ErrorRow(run_id=row.id, at=at, kind=kind, message=message))
            s.flush()
            return RunHandle._of(row)

    @contextmanager
    def run(
        self,
        trading_day: date,
        mode: str,
        config_text: str,
        config_fingerprint: str,
        *,
        force: bool = False,
    ) -> Iterator[RunHandle]:
        """Start a run; finish it on a normal exit, mark it failed and re-raise on an error."""
        handle = self.start_run(trading_day, mode, config_text, config_fingerprint, force=force)
        try:
            yield handle
        except BaseException as exc:
            self.fail(handle, exc)
            raise
        self.finish(handle)

    def mark_stale(self, older_than: timedelta, *, now: datetime | None = None) -> list[RunHandle]:
        """Mark runs still ``running`` that started before ``now - older_than`` failed.

        A killed process leaves its run ``running`` with no decision rows (the decision is
        written in one transaction); this closes such runs as failed("interrupted").
        """
        at = _utc(now)
        with self._sessions.begin() as s:
            rows = s.scalars(
                select(RunRow)
                .where(RunRow.status == RUNNING, RunRow.started_at < at - older_than)
                .order_by(RunRow.id)
            ).all()
            for row in rows:
                row.status = FAILED
                row.finished_at = at
                row.error = INTERRUPTED
                s.add(ErrorRow(run_id=row.id, at=at, kind=INTERRUPTED, message=INTERRUPTED))
            s.flush()
            return [RunHandle._of(r) for r in rows]

    def _running(self, s: Session, run: RunHandle) -> RunRow:
        row = s.get(RunRow, run.id)
        if row is None:
            raise JournalError(f"no run {run.id} in the journal")
        if row.status != RUNNING:
            raise JournalError(f"run {row.id} is {row.status}, not running; history is final")
        return row

    # -- reading ---------------------------------------------------------------------------

    def runs(
        self,
        *,
        trading_day: date | None = None,
        mode: str | None = None,
        status: str | None = None,
    ) -> list[RunHandle]:
        """Runs matching the filters, oldest first."""
        q = select(RunRow).order_by(RunRow.id)
        if trading_day is not None:
            q = q.where(RunRow.trading_day == trading_day)
        if mode is not None:
            q = q.where(RunRow.mode == mode)
        if status is not None:
            q = q.where(RunRow.status == status)
        with self._sessions() as s:
            return [RunHandle._of(r) for r in s.scalars(q)]

    def _decisions(self, mode: str, trading_day: date | None, limit: int) -> list[StoredDecision]:
        q = (
            select(RunRow, DecisionRow)
            .join(DecisionRow, DecisionRow.run_id == RunRow.id)
            .where(RunRow.mode == mode, RunRow.status == SUCCEEDED)
            .order_by(RunRow.trading_day.desc(), RunRow.revision.desc())
            .limit(limit)
        )
        if trading_day is not None:
            q = q.where(RunRow.trading_day == trading_day)
        with self._sessions() as s:
            return [
                StoredDecision(RunHandle._of(r), d.session, d.regime, d.decision_json)
                for r, d in s.execute(q).all()
            ]

    def latest_decision(self, trading_day: date, mode: str) -> StoredDecision | None:
        """The decision of the latest succeeded revision for the day and mode."""
        found = self._decisions(mode, trading_day, 1)
        return found[0] if found else None

    def history(self, mode: str, limit: int = 30) -> list[StoredDecision]:
        """Succeeded decisions of a mode, newest day (and revision) first."""
        if limit < 1:
            raise JournalError(f"history limit must be at least 1, got {limit}")
        return self._decisions(mode, None, limit)

    def orders(self, run: RunHandle) -> list[dict[str, Any]]:
        """The order rows of a run's decision, in order."""
        q = (
            select(OrderRow)
            .join(DecisionRow, OrderRow.decision_id == DecisionRow.id)
            .where(DecisionRow.run_id == run.id)
            .order_by(OrderRow.index)
        )
        with self._sessions() as s:
            return [
                {
                    "index": o.index,
                    "action": o.action,
                    "layer": o.layer,
                    "structure": o.structure,
                    "limit_price": o.limit_price,
                    "json": o.json,
                }
                for o in s.scalars(q)
            ]

    def errors(self, run: RunHandle) -> list[tuple[datetime, str, str]]:
        """The error rows of a run: (at, kind, message)."""
        q = select(ErrorRow).where(ErrorRow.run_id == run.id).order_by(ErrorRow.id)
        with self._sessions() as s:
            return [(e.at, e.kind, e.message) for e in s.scalars(q)]


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return SystemClock().now().astimezone(UTC)  # the one source of "now"
    if now.tzinfo is None:
        raise JournalError("journal timestamps must be timezone-aware")
    return now.astimezone(UTC)
