"""The :class:`Journal`: runs, decisions, orders, errors, fills, positions and marks in SQL."""

from __future__ import annotations

import bisect
import json
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import vixshield
from vixshield.clock import SystemClock
from vixshield.domain.decisions import DayDecision
from vixshield.domain.positions import Book, EquityHolding
from vixshield.errors import JournalError
from vixshield.journal.models import (
    DecisionRow,
    ErrorRow,
    FillRow,
    HedgeActivationRow,
    MarkRow,
    OrderRow,
    PositionEquityRow,
    PositionLegRow,
    PositionSnapshotRow,
    RunRow,
)
from vixshield.journal.positions import (
    MARK_KEYS,
    BookBuilder,
    FillInput,
    FillRecord,
    cash_usd,
    check_book,
    check_fills,
    contract_of,
    hedge_rows,
    mark_rows,
)

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
INTERRUPTED = "interrupted"

MIGRATIONS = Path(__file__).parent / "migrations"
# The only columns that may change once written: a run's status transition.
_MUTABLE_RUN_COLUMNS = frozenset({"status", "finished_at", "error"})
# SQLite: how long a connection waits for another writer's lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000
# PostgreSQL: the advisory lock that serialises concurrent migrations of one database.
_MIGRATION_LOCK = 0x76697873  # "vixs"


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
        # first, so that switching to WAL also waits for a concurrent writer
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
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
        self.backend = engine.dialect.name  # "sqlite", "postgresql", ...
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
            _lock_migrations(conn)
            current = MigrationContext.configure(conn).get_current_revision()
            if current == head:  # another process migrated meanwhile
                return
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
        for values in mark_rows(decision):
            s.add(MarkRow(run_id=run_id, **values))
        for values in hedge_rows(decision):
            s.add(HedgeActivationRow(run_id=run_id, **values))
        s.flush()

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
        mark_rows(decision)  # refuse unjournalable marks now, inside the run, not at finish
        self._pending[run.id] = decision

    def finish(self, run: RunHandle, *, now: datetime | None = None) -> RunHandle:
        """Mark a running run succeeded; write its decision, orders, marks and hedge activations.

        All in one transaction: a run is succeeded with all of them or none.
        """
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

    # -- fills and positions ---------------------------------------------------------------

    def record_fills(
        self, fills: Sequence[FillInput], *, now: datetime | None = None
    ) -> list[FillRecord]:
        """Record executed trades, in one transaction: all of them or none.

        Every fill is checked first (a whole non-zero ``quantity``, a finite ``price`` and
        ``fees_usd`` >= 0, a non-empty ``structure``, a standard contract whose expiry is a
        listed expiry of its root, a trade date not after the expiry); any bad value refuses
        the batch with a :class:`JournalError` naming ``fills[i].field``.
        """
        fills = list(fills)
        check_fills(fills)
        if not fills:
            return []
        at = _utc(now)
        with self._sessions.begin() as s:
            rows = [
                FillRow(
                    recorded_at=at,
                    trade_date=f.trade_date,
                    structure=f.structure,
                    root=f.contract.root,
                    expiry=f.contract.expiry,
                    strike=float(f.contract.strike),
                    right=f.contract.right.value,
                    quantity=int(f.quantity),
                    price=float(f.price),
                    fees_usd=float(f.fees_usd),
                    note=f.note,
                )
                for f in fills
            ]
            s.add_all(rows)
            s.flush()
            return [_fill_record(r) for r in rows]

    def record_positions(
        self, book: Book, *, as_of: date, note: str = "", now: datetime | None = None
    ) -> int:
        """Record the whole book as of a date (e.g. exported from the broker); the snapshot id.

        Each leg is stored with its price as ``fill_price``, its structure's opening date
        (``book.opened``) and fees: a structure's ``book.fees_usd`` on its first leg, 0 on the
        others (:meth:`book` sums them back). Equity holdings keep their beta where the book
        has one. A later snapshot replaces this one from its own ``as_of`` on.
        """
        check_book(book, as_of, note)
        with self._sessions.begin() as s:
            snapshot = PositionSnapshotRow(recorded_at=_utc(now), as_of=as_of, note=note)
            s.add(snapshot)
            s.flush()
            for structure in book.structures:
                opened = book.opened.get(structure.name)
                fees = float(book.fees_usd.get(structure.name, 0.0))
                for j, leg in enumerate(structure.legs):
                    c = leg.contract
                    s.add(
                        PositionLegRow(
                            snapshot_id=snapshot.id,
                            structure=structure.name,
                            root=c.root,
                            expiry=c.expiry,
                            strike=float(c.strike),
                            right=c.right.value,
                            quantity=leg.quantity,
                            fill_price=float(leg.price),
                            opened=opened,
                            fees_usd=fees if j == 0 else 0.0,
                        )
                    )
            for holding in book.equities:
                beta = book.equity_betas.get(holding.symbol)
                s.add(
                    PositionEquityRow(
                        snapshot_id=snapshot.id,
                        symbol=holding.symbol,
                        shares=float(holding.shares),
                        price=float(holding.price),
                        beta=None if beta is None else float(beta),
                    )
                )
            s.flush()
            return snapshot.id

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

    def decisions_of_day(self, trading_day: date, mode: str) -> list[StoredDecision]:
        """Every succeeded revision's decision for the day and mode, latest revision first."""
        return self._decisions(mode, trading_day, 1_000_000)

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

    # -- reading fills, positions, marks ---------------------------------------------------

    def fills(self, *, since: date | None = None, until: date | None = None) -> list[FillRecord]:
        """Fills traded from ``since`` to ``until`` (both included), by trade date then id."""
        q = select(FillRow).order_by(FillRow.trade_date, FillRow.id)
        if since is not None:
            q = q.where(FillRow.trade_date >= since)
        if until is not None:
            q = q.where(FillRow.trade_date <= until)
        with self._sessions() as s:
            return [_fill_record(r) for r in s.scalars(q)]

    def book(self, as_of: date) -> Book:
        """The book on ``as_of``: the latest snapshot on or before it, then the fills after it.

        The snapshot is the one with the latest ``as_of`` not after the day (the last recorded
        among equals; none: an empty book). Fills traded after the snapshot's ``as_of`` up to
        and including ``as_of`` are applied in (trade date, id) order, by the rules of
        :mod:`vixshield.journal.positions` (weighted average price when a leg grows, unchanged
        when it shrinks, the fill's price when it flips; a leg at 0 and a structure without
        legs removed; fees added; a new structure opened on its first trade date). Legs
        whose expiry is before ``as_of`` are dropped (they settled). Equity holdings and betas
        come from the snapshot.
        """
        builder = BookBuilder()
        equities: list[EquityHolding] = []
        betas: dict[str, float] = {}
        with self._sessions() as s:
            snapshot = self._snapshot_on(s, as_of)
            fills = select(FillRow).where(FillRow.trade_date <= as_of)
            if snapshot is not None:
                fills = fills.where(FillRow.trade_date > snapshot.as_of)
                legs = (
                    select(PositionLegRow)
                    .where(PositionLegRow.snapshot_id == snapshot.id)
                    .order_by(PositionLegRow.id)
                )
                for leg in s.scalars(legs):
                    builder.add_leg(
                        leg.structure,
                        contract_of(leg.root, leg.expiry, leg.strike, leg.right),
                        leg.quantity,
                        leg.fill_price,
                        opened=leg.opened,
                        fees_usd=leg.fees_usd,
                    )
                held = (
                    select(PositionEquityRow)
                    .where(PositionEquityRow.snapshot_id == snapshot.id)
                    .order_by(PositionEquityRow.id)
                )
                for e in s.scalars(held):
                    equities.append(EquityHolding(e.symbol, e.shares, e.price))
                    if e.beta is not None:
                        betas[e.symbol] = e.beta
            for f in s.scalars(fills.order_by(FillRow.trade_date, FillRow.id)):
                builder.apply_fill(
                    f.structure,
                    contract_of(f.root, f.expiry, f.strike, f.right),
                    f.quantity,
                    f.price,
                    fees_usd=f.fees_usd,
                    trade_date=f.trade_date,
                )
        return builder.build(as_of, equities, betas)

    @staticmethod
    def _snapshot_on(s: Session, as_of: date) -> PositionSnapshotRow | None:
        q = (
            select(PositionSnapshotRow)
            .where(PositionSnapshotRow.as_of <= as_of)
            .order_by(PositionSnapshotRow.as_of.desc(), PositionSnapshotRow.id.desc())
            .limit(1)
        )
        return s.scalars(q).first()

    def marks(self, run: RunHandle) -> list[dict[str, Any]]:
        """The marks a run's decision wrote, as given (``expiry`` an ISO date), in order."""
        q = select(MarkRow).where(MarkRow.run_id == run.id).order_by(MarkRow.id)
        with self._sessions() as s:
            return [
                {
                    k: (getattr(m, k).isoformat() if k == "expiry" else getattr(m, k))
                    for k in MARK_KEYS
                }
                for m in s.scalars(q)
            ]

    def hedge_activations(self, *, since: date | None = None) -> list[dict[str, Any]]:
        """Hedge ``open``/``roll`` orders of succeeded runs from ``since`` on, oldest first.

        Each: ``run_id``, ``mode``, ``trading_day``, ``revision``, ``session``, ``structure``,
        ``action``, ``limit_price``, ``contracts`` (the sum of the order's absolute leg
        quantities), ``reasons`` (the list, as in the order) and ``json`` (the order's JSON
        text). Every revision of a day is listed (filter on ``revision`` for the latest).
        """
        q = (
            select(HedgeActivationRow, RunRow)
            .join(RunRow, HedgeActivationRow.run_id == RunRow.id)
            .where(RunRow.status == SUCCEEDED)
            .order_by(HedgeActivationRow.session, RunRow.id, HedgeActivationRow.id)
        )
        if since is not None:
            q = q.where(HedgeActivationRow.session >= since)
        with self._sessions() as s:
            return [
                {
                    "run_id": r.id,
                    "mode": r.mode,
                    "trading_day": r.trading_day,
                    "revision": r.revision,
                    "session": h.session,
                    "structure": h.structure,
                    "action": h.action,
                    "limit_price": h.limit_price,
                    "contracts": h.contracts,
                    "reasons": list(json.loads(h.json).get("reasons", [])),
                    "json": h.json,
                }
                for h, r in s.execute(q).all()
            ]

    def book_equity(self, mode: str, base_equity_usd: float) -> list[dict[str, Any]]:
        """The account's equity on each day with a succeeded run of ``mode``, oldest first.

        One row per trading day (its latest succeeded revision): ``session``, ``run_id``,
        ``revision``, ``options_value_usd`` (the sum of the run's marks' ``value_usd``),
        ``cash_usd`` and ``equity_usd`` = ``base_equity_usd + cash_usd + options_value_usd``.

        ``cash_usd`` is the premium cash up to and including the day, each leg or fill
        counting ``-quantity * price * multiplier - fees``, by the same rule as :meth:`book`:
        the latest snapshot with ``as_of`` on or before the day counts its legs (at their
        fill prices, with its fees) and *replaces* everything before it (earlier snapshots
        and the fills traded on or before its ``as_of``, whose cash it is taken to hold);
        fills traded after it, up to the day, add their cash. A snapshot therefore carries
        no realised profit of positions closed before it: put that in ``base_equity_usd``.
        Settlement of a leg in the money at expiry is not cash here until a closing fill at
        the settlement price is recorded.
        """
        with self._sessions() as s:
            runs = s.scalars(
                select(RunRow)
                .where(RunRow.mode == mode, RunRow.status == SUCCEEDED)
                .order_by(RunRow.trading_day, RunRow.revision)
            ).all()
            latest = {r.trading_day: r for r in runs}  # the last revision of each day wins
            ids = [r.id for r in latest.values()]
            values: dict[int, float] = {}
            for start in range(0, len(ids), 500):  # bounded IN lists
                chunk = ids[start : start + 500]
                q = (
                    select(MarkRow.run_id, func.sum(MarkRow.value_usd))
                    .where(MarkRow.run_id.in_(chunk))
                    .group_by(MarkRow.run_id)
                )
                values.update({run_id: float(v or 0.0) for run_id, v in s.execute(q).all()})
            snapshots = s.execute(
                select(PositionSnapshotRow.id, PositionSnapshotRow.as_of).order_by(
                    PositionSnapshotRow.as_of, PositionSnapshotRow.id
                )
            ).all()
            snapshot_cash: dict[int, float] = {}
            for leg in s.scalars(select(PositionLegRow).order_by(PositionLegRow.id)):
                contract = contract_of(leg.root, leg.expiry, leg.strike, leg.right)
                cash = cash_usd(contract, leg.quantity, leg.fill_price, leg.fees_usd)
                snapshot_cash[leg.snapshot_id] = snapshot_cash.get(leg.snapshot_id, 0.0) + cash
            fill_days: list[date] = []
            fill_cum = [0.0]  # cumulative cash of the fills in trade-date order
            for f in s.scalars(select(FillRow).order_by(FillRow.trade_date, FillRow.id)):
                contract = contract_of(f.root, f.expiry, f.strike, f.right)
                fill_days.append(f.trade_date)
                fill_cum.append(fill_cum[-1] + cash_usd(contract, f.quantity, f.price, f.fees_usd))
        snapshot_days = [d for _, d in snapshots]
        out: list[dict[str, Any]] = []
        for day, run in sorted(latest.items()):
            k = bisect.bisect_right(snapshot_days, day)  # snapshots[:k] are on or before day
            cash = 0.0
            after = 0  # fills[after:] trade after the snapshot
            if k:
                snapshot_id, snapshot_day = snapshots[k - 1]
                cash = snapshot_cash.get(snapshot_id, 0.0)
                after = bisect.bisect_right(fill_days, snapshot_day)
            upto = bisect.bisect_right(fill_days, day)
            cash += fill_cum[max(upto, after)] - fill_cum[after]
            options = values.get(run.id, 0.0)
            out.append(
                {
                    "session": day,
                    "run_id": run.id,
                    "revision": run.revision,
                    "options_value_usd": options,
                    "cash_usd": cash,
                    "equity_usd": base_equity_usd + cash + options,
                }
            )
        return out

    def errors(self, run: RunHandle) -> list[tuple[datetime, str, str]]:
        """The error rows of a run: (at, kind, message)."""
        q = select(ErrorRow).where(ErrorRow.run_id == run.id).order_by(ErrorRow.id)
        with self._sessions() as s:
            return [(e.at, e.kind, e.message) for e in s.scalars(q)]


def _fill_record(row: FillRow) -> FillRecord:
    return FillRecord(
        id=row.id,
        recorded_at=row.recorded_at,
        trade_date=row.trade_date,
        structure=row.structure,
        contract=contract_of(row.root, row.expiry, row.strike, row.right),
        quantity=row.quantity,
        price=row.price,
        fees_usd=row.fees_usd,
        note=row.note,
    )


def _lock_migrations(conn: Connection) -> None:
    """Hold the database's migration lock until the transaction ends.

    Processes opening a new database at once then migrate one after the other; each
    re-reads the revision once it holds the lock, so only the first migrates. PostgreSQL: a
    transaction-scoped advisory lock. SQLite: ``BEGIN IMMEDIATE`` (the write lock, waited for
    up to the busy timeout), which also makes the DDL one transaction: the sqlite3 module
    would otherwise run ``CREATE TABLE`` outside any transaction.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return SystemClock().now().astimezone(UTC)  # the one source of "now"
    if now.tzinfo is None:
        raise JournalError("journal timestamps must be timezone-aware")
    return now.astimezone(UTC)
