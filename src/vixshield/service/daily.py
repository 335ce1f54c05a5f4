"""The daily job (``vixshield run-daily``): update data, compute the signal, journal it, notify.

Steps, in order, for one trading day:

1. **The day.** Without ``day``: today in New York. A day that is not a trading session is
   *skipped* with a message naming the previous session; a session whose data is not out yet
   (before the close plus 15 minutes, :func:`vixshield.data.market.stamp`) is skipped too,
   saying when it will be. An explicit ``day`` must be a session whose data is out.
2. **Idempotency.** If the journal already holds a succeeded ``signal`` run for the day, the
   stored decision is reported (status ``stored``) and nothing is recomputed or re-sent, unless
   ``force``: then a new revision is recorded and sent.
3. **The run.** A ``running`` row is written first, so everything after it (the data update
   included) is journaled: on any error the run is recorded ``failed`` with its error and the
   job reports ``failed``; a killed job leaves no half decision (see :mod:`vixshield.journal`).

   a. Data update when ``data.fetch`` is set: every source of
      :func:`vixshield.data.fetch.default_sources` is downloaded (incremental, with retries) into
      ``data.download_dir`` and imported strictly into the store. A source that fails to
      download or import is reported; the run goes on with the data the store holds, and the
      signal step fails with a clear message if that does not reach the day.
   b. The signal: :func:`vixshield.engine.run_day` at the day's data stamp (a fixed clock, so a
      re-run gives the same decision) on the store (``data.source = "real"``) or the embedded
      default market (``"synthetic"``), with the strategy TOML, and the book: the
      ``strategy.book`` file when given, else the journaled positions and fills
      (:meth:`vixshield.journal.Journal.book`).
   c. The journal: the decision, its orders, the book's marks and hedge activations, with the
      run's success, in one transaction.

4. **Notifications** (after the journal is written): webhook and e-mail per ``[notify]``;
   failures are retried with backoff and reported in the outcome, never undo the run. A failed
   run sends a "no signal today" message with the error, so a failure never looks like a quiet
   day.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from vixshield import calendar as cal
from vixshield.clock import Clock, FixedClock, SystemClock
from vixshield.config import fingerprint, load_config, render_defaults
from vixshield.data.book_file import read_book
from vixshield.data.catalog import default_mode, plan_imports
from vixshield.data.fetch import default_sources, fetch_sources
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.store import Store
from vixshield.domain.positions import Book
from vixshield.engine import run_day
from vixshield.errors import DataError, VixShieldError
from vixshield.journal import Journal, RunHandle
from vixshield.report.demo import default_history
from vixshield.service.notify import SendResult, format_failure, notify_signal, send_message
from vixshield.service.settings import ServiceSettings
from vixshield.units import NEW_YORK

SIGNAL_MODE = "signal"
STALE_AFTER = timedelta(hours=6)
"""A ``running`` signal run older than this is from a killed job: it is marked failed."""

Status = Literal["recorded", "stored", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class DailyOutcome:
    """What one run of the daily job did (``to_json`` for the CLI and the API)."""

    status: Status
    session: date | None
    message: str
    run: RunHandle | None = None
    decision: Mapping[str, Any] | None = None
    notifications: tuple[SendResult, ...] = ()
    data_updates: tuple[Mapping[str, Any], ...] = ()

    @property
    def notifications_ok(self) -> bool:
        return all(n.ok for n in self.notifications)

    def to_json(self) -> dict[str, Any]:
        run = None
        if self.run is not None:
            r = self.run
            run = {
                "id": r.id,
                "trading_day": r.trading_day.isoformat(),
                "mode": r.mode,
                "status": r.status,
                "revision": r.revision,
                "config_fingerprint": r.config_fingerprint,
                "code_version": r.code_version,
                "started_at": r.started_at.isoformat(),
                "finished_at": None if r.finished_at is None else r.finished_at.isoformat(),
                "error": r.error,
            }
        return {
            "status": self.status,
            "session": None if self.session is None else self.session.isoformat(),
            "message": self.message,
            "run": run,
            "decision": None if self.decision is None else dict(self.decision),
            "notifications": [asdict(n) for n in self.notifications],
            "data_updates": [dict(u) for u in self.data_updates],
        }


@dataclass(frozen=True, slots=True)
class _Day:
    session: date | None
    message: str


def pick_session(now: datetime, day: date | None = None) -> _Day:
    """The session to run for at ``now`` (tz-aware), or why there is none (a skip message)."""
    if day is None:
        today = now.astimezone(NEW_YORK).date()
        if not cal.is_session(today):
            before = cal.previous_session(today)
            return _Day(
                None,
                f"{today} ({today:%A}) is not a trading session (New York): nothing to do. "
                f"The last session was {before}; `vixshield run-daily --date {before}` runs it.",
            )
        day = today
    elif not cal.is_session(day):
        before = cal.previous_session(day)
        return _Day(
            None,
            f"{day} ({day:%A}) is not a trading session: nothing to do. "
            f"The session before it is {before}.",
        )
    ready = stamp(day)
    if ready > now:
        before = cal.previous_session(day)
        return _Day(
            None,
            f"{day}'s data is not out yet: it is stamped "
            f"{ready.astimezone(NEW_YORK):%Y-%m-%d %H:%M %Z} (the close plus 15 minutes). "
            f"Run after then, or pass --date {before}.",
        )
    return _Day(day, "")


def last_published_session(now: datetime) -> date:
    """The last session whose data is out at ``now`` (today's once the close + 15 min passed)."""
    day = now.astimezone(NEW_YORK).date()
    session = cal.previous_session(day, inclusive=True)
    if stamp(session) > now:
        session = cal.previous_session(session)
    return session


def run_daily(
    settings: ServiceSettings,
    *,
    day: date | None = None,
    force: bool = False,
    clock: Clock | None = None,
    journal: Journal | None = None,
    notify: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    history_loader: Callable[[ServiceSettings, date], MarketHistory] | None = None,
) -> DailyOutcome:
    """Run the daily job once (module docstring); never raises for a failed run.

    ``journal`` defaults to ``settings.journal_url()`` (opened and closed here);
    ``history_loader`` replaces the market-history step (tests); ``sleep`` is handed to the
    notification retries.
    """
    clock = clock or SystemClock()
    picked = pick_session(clock.now(), day)
    if picked.session is None:
        return DailyOutcome("skipped", None, picked.message)
    session = picked.session
    own = journal is None
    j = journal if journal is not None else open_journal(settings)
    try:
        return _run(
            settings, session=session, force=force, clock=clock, journal=j, notify=notify,
            notify_failure=notify, sleep=sleep, history_loader=history_loader,
        )  # fmt: skip
    finally:
        if own:
            j.close()


MAX_BACKFILL_SESSIONS = 260
"""``run_since`` refuses more sessions than about a year: a longer history is a backtest."""


def run_since(
    settings: ServiceSettings,
    since: date,
    *,
    force: bool = False,
    clock: Clock | None = None,
    journal: Journal | None = None,
    notify: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    history_loader: Callable[[ServiceSettings, date], MarketHistory] | None = None,
) -> list[DailyOutcome]:
    """Catch up: the daily job for every session from ``since`` to the last published one.

    Sessions already journaled are reported from the journal (``stored``) unless ``force``;
    a failed session does not stop the others. Only the last session's signal is sent (a
    failure of any session is): the earlier ones are history by the time they are journaled.
    """
    clock = clock or SystemClock()
    last = last_published_session(clock.now())
    if since > last:
        raise DataError(
            f"--since {since} is after the last session whose data is out ({last}); "
            "nothing to catch up"
        )
    days = cal.sessions(since, last)
    if len(days) > MAX_BACKFILL_SESSIONS:
        raise DataError(
            f"--since {since} spans {len(days)} sessions (at most {MAX_BACKFILL_SESSIONS}); "
            "run `vixshield backtest` for history, or catch up from a later day"
        )
    own = journal is None
    j = journal if journal is not None else open_journal(settings)
    try:
        return [
            _run(
                settings,
                session=day,
                force=force,
                clock=clock,
                journal=j,
                notify=notify and day == last,
                notify_failure=notify,
                sleep=sleep,
                history_loader=history_loader,
            )
            for day in days
        ]
    finally:
        if own:
            j.close()


def order_key(order: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two days' orders "the same order": action, layer, structure, what it closes
    and its legs (contract and signed quantity); prices and reasons may differ day to day."""
    legs = tuple(
        sorted((str(g.get("contract")), g.get("quantity")) for g in order.get("legs") or ())
    )
    closes = tuple(str(c) for c in order.get("closes") or ())
    return (order.get("action"), order.get("layer"), order.get("structure"), closes, legs)


def with_repeats(
    decision: Mapping[str, Any], earlier: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A copy of ``decision`` whose orders proposed on the previous sessions too carry
    ``"proposed_since"``: the first session of that unbroken run (ISO date).

    ``earlier`` holds the journaled decisions of earlier sessions, newest first, one per
    session. A session missing from the journal breaks the run (nothing is known of it), and
    so does a session without the order. Holds are never marked. The journal keeps the
    decision as it was made; this is for the messages and the dashboard, which tell the trader
    that an order has been waiting (the journaled book changes only when fills are recorded).
    """
    out = dict(decision)
    orders = [dict(o) for o in decision.get("orders") or ()]
    session = date.fromisoformat(str(decision["session"]))
    by_day = {date.fromisoformat(str(d["session"])): d for d in earlier}
    for order in orders:
        if order.get("action") == "hold":
            continue
        key = order_key(order)
        since: date | None = None
        day = session
        while True:
            day = cal.previous_session(day)
            previous = by_day.get(day)
            if previous is None or all(order_key(o) != key for o in previous.get("orders") or ()):
                break
            since = day
        if since is not None:
            order["proposed_since"] = since.isoformat()
    out["orders"] = orders
    return out


def earlier_decisions(journal: Journal, session: date, limit: int = 60) -> list[dict[str, Any]]:
    """The latest decision of each journaled session before ``session``, newest first."""
    seen: set[date] = set()
    out: list[dict[str, Any]] = []
    for stored in journal.history(SIGNAL_MODE, limit=limit * 3):
        if stored.session >= session or stored.session in seen:
            continue
        seen.add(stored.session)
        out.append(stored.data())
        if len(out) == limit:
            break
    return out


def open_journal(settings: ServiceSettings) -> Journal:
    """The journal the settings name (the default SQLite file's folder is created)."""
    if not settings.journal.url:
        settings.data.store_dir().mkdir(parents=True, exist_ok=True)
    return Journal.open(settings.journal_url())


def _run(
    settings: ServiceSettings,
    *,
    session: date,
    force: bool,
    clock: Clock,
    journal: Journal,
    notify: bool,
    notify_failure: bool,
    sleep: Callable[[float], None],
    history_loader: Callable[[ServiceSettings, date], MarketHistory] | None,
) -> DailyOutcome:
    journal.mark_stale(STALE_AFTER, now=clock.now())
    stored = journal.latest_decision(session, SIGNAL_MODE)
    if stored is not None and not force:
        return DailyOutcome(
            "stored",
            session,
            f"the signal for {session} is already journaled (run {stored.run.id}, revision "
            f"{stored.run.revision}, finished {_when(stored.run.finished_at)}); reporting it. "
            "Pass --force to record a new revision.",
            run=stored.run,
            decision=stored.data(),
        )
    try:
        config_path = Path(settings.strategy.config) if settings.strategy.config else None
        config = load_config(config_path)
        config_text = (
            config_path.read_text(encoding="utf-8")
            if config_path is not None
            else render_defaults()
        )
    except (VixShieldError, OSError) as exc:
        return DailyOutcome("failed", session, f"the strategy configuration is unusable: {exc}")
    run = journal.start_run(
        session, SIGNAL_MODE, config_text, fingerprint(config), force=force, now=clock.now()
    )
    updates: tuple[Mapping[str, Any], ...] = ()
    try:
        if settings.data.fetch:
            updates = tuple(update_data(settings, session, clock))
        loader = history_loader or load_history
        history = loader(settings, session)
        book = _book(settings, journal, session)
        decision = run_day(
            history,
            session,
            clock=FixedClock(stamp(session)),
            config=config,
            book=book,
            equity_usd=account_equity(settings, journal, session),
        )
        journal.record_decision(run, decision)
        done = journal.finish(run, now=clock.now())
    except Exception as exc:  # recorded in the journal, reported, never half-written
        failed = journal.fail(run, exc, now=clock.now())
        warned: tuple[SendResult, ...] = ()
        if notify_failure:
            warned = tuple(_notify_failure(settings, session, failed, sleep))
        return DailyOutcome(
            "failed",
            session,
            f"the signal for {session} failed and is journaled as failed (run {failed.id}, "
            f"revision {failed.revision}): {failed.error}",
            run=failed,
            notifications=warned,
            data_updates=updates,
        )
    payload = decision.to_json()
    sent: tuple[SendResult, ...] = ()
    if notify:
        told = with_repeats(payload, earlier_decisions(journal, session))
        sent = tuple(_notify(settings, told, done, sleep))
    n_orders = len(payload["orders"])
    return DailyOutcome(
        "recorded",
        session,
        f"signal for {session} journaled (run {done.id}, revision {done.revision}): regime "
        f"{payload['regime'] or 'unknown'}, {n_orders} order(s)"
        + (f", {len(sent)} notification(s) sent" if sent else ""),
        run=done,
        decision=payload,
        notifications=sent,
        data_updates=updates,
    )


def _when(at: datetime | None) -> str:
    return "?" if at is None else at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")


def _book(settings: ServiceSettings, journal: Journal, session: date) -> Book:
    if settings.strategy.book:
        return read_book(Path(settings.strategy.book).expanduser())
    return journal.book(session)


def account_equity(settings: ServiceSettings, journal: Journal, session: date) -> float:
    """The equity that sizes the day's orders.

    ``strategy.equity_source = "fixed"``: ``strategy.equity_usd``. ``"journal"``: the journaled
    book's equity at the last journaled session before ``session`` (``equity_usd`` plus the
    premium cash of the recorded positions and fills plus that day's marks,
    :meth:`~vixshield.journal.Journal.book_equity`), ``equity_usd`` when nothing is journaled
    yet.
    """
    base = settings.strategy.equity_usd
    if settings.strategy.equity_source == "fixed":
        return base
    rows = [r for r in journal.book_equity(SIGNAL_MODE, base) if _as_date(r["session"]) < session]
    return float(rows[-1]["equity_usd"]) if rows else base


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def load_history(settings: ServiceSettings, session: date) -> MarketHistory:
    """The market history for the signal: the local store, or the embedded default market."""
    if settings.data.source == "synthetic":
        return default_history(session)
    store_dir = settings.data.store_dir()
    if not (store_dir / "manifest.json").exists():
        raise DataError(
            f"the local store at {store_dir} is empty: import the market data first "
            "(vixshield data import FOLDER), set data.fetch = true, or set "
            'data.source = "synthetic" in the service settings'
        )
    history = MarketHistory.from_store(Store(store_dir))
    last = history.sessions[-1]
    if session > last:
        raise DataError(
            f"the local store's data ends {last}, before {session}: import newer data "
            "(vixshield data fetch --import) or set data.fetch = true"
        )
    return history


def update_data(settings: ServiceSettings, session: date, clock: Clock) -> list[dict[str, Any]]:
    """Download every source incrementally and import it strictly (step 3a)."""
    out_dir = settings.data.downloads()
    sources = default_sources(session - timedelta(days=45), session + timedelta(days=270))
    fetched = fetch_sources(sources, out_dir, clock=clock)
    report: list[dict[str, Any]] = [
        {"step": "fetch", "name": r.name, "status": r.status.value, "rows": r.rows,
         "error": r.error}
        for r in fetched
    ]  # fmt: skip
    plans, _skipped = plan_imports(out_dir)
    store = Store(settings.data.store_dir())
    for plan in plans:
        try:
            res = store.import_series(
                plan.name,
                plan.source,
                plan.loader,
                mode=default_mode(False),
                loader_name=plan.loader_name,
                kind=plan.kind,
            )
        except VixShieldError as exc:
            report.append({"step": "import", "name": plan.name, "status": "failed",
                           "error": str(exc)})  # fmt: skip
        else:
            report.append({"step": "import", "name": plan.name, "status": "ok",
                           "summary": res.summary()})  # fmt: skip
    return report


def _notify_failure(
    settings: ServiceSettings,
    session: date,
    run: RunHandle,
    sleep: Callable[[float], None],
) -> list[SendResult]:
    """Tell the trader there is no signal today, and why (a silent failure would look like a
    quiet day)."""
    cfg = settings.notify
    if not cfg.webhook.urls and not cfg.email.enabled:
        return []
    message = format_failure(
        session.isoformat(),
        run.error or "unknown error",
        run={"id": run.id, "revision": run.revision},
        dashboard_url=settings.api.public_url or None,
    )
    return send_message(message, cfg, sleep=sleep)


def _notify(
    settings: ServiceSettings,
    payload: Mapping[str, Any],
    run: RunHandle,
    sleep: Callable[[float], None],
) -> list[SendResult]:
    cfg = settings.notify
    if not cfg.webhook.urls and not cfg.email.enabled:
        return []
    run_info = {"id": run.id, "revision": run.revision, "trading_day": run.trading_day.isoformat()}
    return notify_signal(
        payload,
        cfg,
        run=run_info,
        dashboard_url=settings.api.public_url or None,
        status="recorded",
        sleep=sleep,
    )


__all__ = [
    "SIGNAL_MODE",
    "DailyOutcome",
    "account_equity",
    "earlier_decisions",
    "last_published_session",
    "load_history",
    "open_journal",
    "order_key",
    "pick_session",
    "run_daily",
    "run_since",
    "update_data",
    "with_repeats",
]
