"""The journal: an append-only record of each daily run, its decision and the user's book, in
a SQL database (SQLite or PostgreSQL; ``docs/journal.md``).

What is stored (tables created by the Alembic migrations in ``migrations/``, applied by
:meth:`Journal.open`):

* ``runs``: one row per run of a trading day and mode ("signal", "backtest", ...): status
  (running, succeeded, failed), the config text and fingerprint, the code version, the
  revision (1 for the first run of a day and mode, one more for each re-run), start and
  finish times (UTC) and the error text of a failed run;
* ``decisions``: the run's :class:`~vixshield.domain.decisions.DayDecision` as the JSON text of
  ``to_json()``, with its session and regime;
* ``orders``: one row per order intent of a decision (action, layer, structure, limit price,
  the intent's JSON);
* ``errors``: what went wrong in a failed or interrupted run;
* ``fills`` (:meth:`Journal.record_fills`): executed trades, one contract each, signed
  quantity (+ bought), price per unit in points, fees in USD;
* ``position_snapshots`` with ``position_legs`` and ``position_equities``
  (:meth:`Journal.record_positions`): the user's whole book as of a date, e.g. exported from
  the broker; :meth:`Journal.book` rebuilds the book of any day from the latest snapshot and
  the fills after it (rules in :mod:`vixshield.journal.positions`);
* ``marks``: the legs as a run's decision marked them (``decision.book["marks"]``);
* ``hedge_activations``: the hedge-layer ``open`` and ``roll`` orders of a decision.
  :meth:`Journal.book_equity` adds the premium cash of snapshots and fills to the marks.

SQLite by default, at ``<data_dir>/journal.sqlite``, in WAL mode with foreign keys on and a
10 s busy timeout for every connection; any SQLAlchemy URL is accepted, and PostgreSQL
(``postgresql+psycopg://user@host:port/db``) is tested in CI beside SQLite.

Append-only: nothing in the API updates or deletes history except a run's status transition
(running to succeeded or failed); a session listener refuses any other change, to every table.

Failure semantics: :meth:`Journal.record_decision` holds the decision (checking its marks) and
:meth:`Journal.finish` writes it, its orders, marks and hedge activations and the run's success
in one transaction, so a failed or killed run never leaves half a decision (nor a decision on
an unfinished run). ``with journal.run(...)`` marks the run failed (in its own transaction) on
an exception and re-raises. A killed process leaves its run ``running`` with no decision rows;
:meth:`Journal.mark_stale` marks such runs failed("interrupted"). :meth:`Journal.record_fills`
records a batch in one transaction, all or none.

Not yet here: the ``run-daily`` command and an API.
"""

from __future__ import annotations

from vixshield.journal.positions import FillInput, FillRecord
from vixshield.journal.store import (
    FAILED,
    INTERRUPTED,
    RUNNING,
    SUCCEEDED,
    Journal,
    RunHandle,
    StoredDecision,
    decision_text,
    default_url,
)

__all__ = [
    "FAILED",
    "INTERRUPTED",
    "RUNNING",
    "SUCCEEDED",
    "FillInput",
    "FillRecord",
    "Journal",
    "RunHandle",
    "StoredDecision",
    "decision_text",
    "default_url",
]
