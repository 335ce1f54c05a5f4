"""The journal: an append-only record of each daily run and its decision in a SQL database.

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
* ``errors``: what went wrong in a failed or interrupted run.

SQLite by default, at ``<data_dir>/journal.sqlite``, in WAL mode with foreign keys on for
every connection; any SQLAlchemy URL is accepted.

Append-only: nothing in the API updates or deletes history except a run's status transition
(running to succeeded or failed); a session listener refuses any other change.

Failure semantics: :meth:`Journal.record_decision` holds the decision and
:meth:`Journal.finish` writes it, its orders and the run's success in one transaction, so a
failed or killed run never leaves half a decision (nor a decision on an unfinished run).
``with journal.run(...)`` marks the run failed (in its own transaction) on an exception and
re-raises. A killed process leaves its run
``running`` with no decision rows; :meth:`Journal.mark_stale` marks such runs
failed("interrupted").

Not yet here: fills, positions, marks and hedge activations (later increments of the daily
service), PostgreSQL in CI, the ``run-daily`` command and an API.
"""

from __future__ import annotations

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
    "Journal",
    "RunHandle",
    "StoredDecision",
    "decision_text",
    "default_url",
]
