"""The daily job's schedule (APScheduler), with its time zone explicit.

The job fires **every calendar day** at ``schedule.time`` in ``schedule.timezone`` (default
16:30 America/New_York: after the 16:15 data stamp of the SPX close); the job itself decides
whether that New York day is a trading session and skips holidays and weekends with a message
(:func:`vixshield.service.daily.pick_session`). Firing daily rather than Monday to Friday keeps
the schedule right for a user whose zone is a calendar day ahead of or behind New York.

Daylight-saving changes are the trigger's business: APScheduler's cron trigger computes each
fire time as a wall-clock time in the given zone, so 16:30 New York is 21:30 UTC in winter and
20:30 UTC in summer (tested across the 2026 changes). A fire missed while the process was
down or busy runs late within ``misfire_grace_minutes``; missed fires are coalesced into one.
:func:`describe_schedule` says when the next runs happen in the zone, in New York and in UTC,
and warns when the time falls before the New York data stamp.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from vixshield import calendar as cal
from vixshield.data.market import stamp
from vixshield.service.settings import ScheduleSettings
from vixshield.units import NEW_YORK

JOB_ID = "vixshield-run-daily"
CATCH_UP_ID = "vixshield-run-daily-catch-up"
log = logging.getLogger("vixshield.service")


def daily_trigger(schedule: ScheduleSettings) -> CronTrigger:
    """Every day at ``schedule.time`` in ``schedule.timezone``."""
    hour, minute = schedule.hour_minute()
    return CronTrigger(hour=hour, minute=minute, second=0, timezone=schedule.zone())


def next_fire_times(schedule: ScheduleSettings, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times after ``after`` (tz-aware), in the schedule's zone."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    trigger = daily_trigger(schedule)
    out: list[datetime] = []
    previous: datetime | None = None
    now = after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:  # pragma: no cover - a cron trigger without an end always has one
            break
        out.append(fire)
        previous = fire
        now = fire + timedelta(seconds=1)
    return out


def describe_schedule(schedule: ScheduleSettings, now: datetime, count: int = 3) -> list[str]:
    """Readable lines: the next fire times (zone, New York, UTC) and any early-time warning."""
    lines: list[str] = []
    for fire in next_fire_times(schedule, now, count):
        ny = fire.astimezone(NEW_YORK)
        day = ny.date()
        what = "trading session" if cal.is_session(day) else "not a session: skipped"
        lines.append(
            f"{fire:%Y-%m-%d %H:%M %Z} = {ny:%Y-%m-%d %H:%M %Z} New York = "
            f"{fire.astimezone(UTC):%H:%M} UTC ({what})"
        )
        if cal.is_session(day) and stamp(day) > fire:
            lines.append(
                f"  warning: {ny:%H:%M %Z} is before that session's data stamp "
                f"({stamp(day).astimezone(NEW_YORK):%H:%M %Z}); the job will skip it. Set "
                "schedule.time later."
            )
    return lines


def start_scheduler(
    schedule: ScheduleSettings,
    job: Callable[[], Any],
    *,
    lock: AbstractContextManager[Any] | None = None,
    catch_up: Callable[[], Any] | None = None,
    start: bool = True,
) -> BackgroundScheduler:
    """A background scheduler running ``job`` daily (module docstring); started unless told.

    ``lock`` is held while the job runs: the server passes the API's run lock, so a scheduled
    run waits for a run triggered by ``POST /api/runs`` (and that request answers 409 while the
    scheduled one runs); the waiting job then finds the day journaled and reports it.

    ``catch_up`` runs once at start (under the same lock): the server passes the job for the
    last session whose data is out, so a server that was down at the scheduled time (beyond
    the misfire grace) still journals that session's signal when it comes back; the job is
    idempotent, so an already journaled day is only reported.
    """
    scheduler = BackgroundScheduler(timezone=schedule.zone())
    scheduler.add_job(
        _logged(job, lock),
        daily_trigger(schedule),
        id=JOB_ID,
        name="vixshield run-daily",
        misfire_grace_time=schedule.misfire_grace_minutes * 60,
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    if catch_up is not None:
        scheduler.add_job(
            _logged(catch_up, lock),
            "date",  # no run date: as soon as the scheduler starts
            id=CATCH_UP_ID,
            name="vixshield run-daily catch-up",
            misfire_grace_time=None,
        )
    if start:
        scheduler.start()
    return scheduler


def _logged(job: Callable[[], Any], lock: AbstractContextManager[Any] | None) -> Callable[[], None]:
    def run() -> None:
        try:
            with lock if lock is not None else nullcontext():
                outcome = job()
        except Exception:  # the scheduler thread must survive a bad day
            log.exception("the scheduled daily job raised")
            return
        message = getattr(outcome, "message", outcome)
        status = getattr(outcome, "status", "done")
        log.info("scheduled daily job: %s: %s", status, message)

    return run
