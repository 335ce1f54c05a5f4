"""The service settings file and the daily job's schedule (explicit zones, DST, misfires)."""

from __future__ import annotations

import threading
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from vixshield.clock import SystemClock
from vixshield.config import ConfigError
from vixshield.service.scheduler import (
    CATCH_UP_ID,
    JOB_ID,
    daily_trigger,
    describe_schedule,
    next_fire_times,
    start_scheduler,
)
from vixshield.service.settings import (
    DEFAULT_SETTINGS_TOML,
    ScheduleSettings,
    ServiceSettings,
    load_settings,
    parse_settings,
)

NY = ZoneInfo("America/New_York")


def test_the_default_file_lists_every_key_and_loads_to_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text(DEFAULT_SETTINGS_TOML, encoding="utf-8")
    assert load_settings(path) == ServiceSettings()
    data = tomllib.loads(DEFAULT_SETTINGS_TOML)

    def keys(model: object, prefix: str = "") -> set[str]:
        out: set[str] = set()
        for name in type(model).model_fields:  # type: ignore[attr-defined]
            value = getattr(model, name)
            if hasattr(type(value), "model_fields"):
                out |= keys(value, f"{prefix}{name}.")
            else:
                out.add(f"{prefix}{name}")
        return out

    def toml_keys(d: dict[str, object], prefix: str = "") -> set[str]:
        out: set[str] = set()
        for k, v in d.items():
            out |= toml_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
        return out

    assert toml_keys(data) == keys(ServiceSettings())


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"schedule": {"time": "4:30pm"}}, "'schedule.time' = '4:30pm'"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "not an IANA time zone"),
        ({"api": {"port": 0}}, "'api.port' = 0"),
        ({"notify": {"webhook": {"urls": ["ftp://x"]}}}, "not an http(s) URL"),
        ({"data": {"source": "yahoo"}}, "'data.source' = 'yahoo'"),
        ({"jounral": {"url": ""}}, "unknown key 'jounral'"),
        ({"strategy": {"equity_usd": -5}}, "'strategy.equity_usd' = -5"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(data: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(data, source="service.toml")
    assert says in str(err.value)
    assert "service.toml" in str(err.value)


def test_unreadable_and_malformed_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[api\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_settings(bad)


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    s = parse_settings({"api": {"token_env": "MY_TOKEN"}})
    monkeypatch.delenv("MY_TOKEN", raising=False)
    assert s.api.token() is None
    monkeypatch.setenv("MY_TOKEN", "")
    assert s.api.token() is None
    monkeypatch.setenv("MY_TOKEN", "s3cret")
    assert s.api.token() == "s3cret"


def test_the_journal_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    s = parse_settings({"data": {"data_dir": str(tmp_path)}})
    assert s.journal_url() == f"sqlite:///{tmp_path / 'journal.sqlite'}"
    pg = parse_settings({"journal": {"url": "postgresql+psycopg://u@h/db"}})
    assert pg.journal_url() == "postgresql+psycopg://u@h/db"


def test_new_york_1630_is_2030_utc_in_summer_and_2130_in_winter() -> None:
    fires = next_fire_times(ScheduleSettings(), datetime(2026, 10, 30, 12, tzinfo=UTC), 4)
    utc = [f.astimezone(UTC) for f in fires]
    assert [(u.day, u.hour, u.minute) for u in utc] == [
        (30, 20, 30), (31, 20, 30), (1, 21, 30), (2, 21, 30)
    ]  # fmt: skip
    assert all(f.astimezone(NY).hour == 16 and f.astimezone(NY).minute == 30 for f in fires)
    spring = next_fire_times(ScheduleSettings(), datetime(2026, 3, 7, 12, tzinfo=UTC), 2)
    assert [f.astimezone(UTC).hour for f in spring] == [21, 20]  # DST starts 2026-03-08


def test_a_zone_ahead_of_new_york_fires_on_the_new_york_session() -> None:
    tokyo = ScheduleSettings(time="07:00", timezone="Asia/Tokyo")
    lines = describe_schedule(tokyo, datetime(2026, 10, 30, 12, tzinfo=UTC), 4)
    assert lines[0].startswith("2026-10-31 07:00 JST = 2026-10-30 18:00 EDT New York")
    assert "(trading session)" in lines[0]
    assert "(not a session: skipped)" in lines[1]
    assert not any("warning" in line for line in lines)


def test_a_time_before_the_data_stamp_is_warned_about() -> None:
    early = ScheduleSettings(time="16:00")
    lines = describe_schedule(early, datetime(2026, 11, 20, 12, tzinfo=UTC), 1)
    assert "before that session's data stamp (16:15 EST)" in lines[1]


def test_the_trigger_carries_the_zone() -> None:
    trig = daily_trigger(ScheduleSettings(time="17:05", timezone="Europe/London"))
    assert str(trig.timezone) == "Europe/London"


def test_the_scheduler_runs_the_job_and_survives_a_failing_day() -> None:
    ran = threading.Event()
    calls: list[int] = []

    def job() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("data vendor down")
        ran.set()
        return "ok"

    sched = start_scheduler(ScheduleSettings(misfire_grace_minutes=30), job, start=False)
    try:
        (scheduled,) = sched.get_jobs()
        assert scheduled.id == JOB_ID
        assert scheduled.misfire_grace_time == 30 * 60
        assert scheduled.coalesce is True
        assert scheduled.max_instances == 1
        sched.start()
        sched.modify_job(JOB_ID, next_run_time=SystemClock().now())
        for _ in range(50):
            if calls:
                break
            threading.Event().wait(0.05)
        sched.modify_job(JOB_ID, next_run_time=SystemClock().now())
        assert ran.wait(5.0)
        assert len(calls) == 2
    finally:
        sched.shutdown(wait=True)


def test_the_scheduled_job_waits_for_a_run_the_api_holds() -> None:
    lock = threading.Lock()
    done = threading.Event()
    sched = start_scheduler(ScheduleSettings(), done.set, lock=lock, start=False)
    try:
        sched.start()
        with lock:  # a run triggered through the API is in progress
            sched.modify_job(JOB_ID, next_run_time=SystemClock().now())
            assert not done.wait(0.5)
        assert done.wait(5.0)
    finally:
        sched.shutdown(wait=True)


def test_the_catch_up_runs_once_at_start_under_the_lock() -> None:
    lock = threading.Lock()
    caught = threading.Event()
    sched = start_scheduler(ScheduleSettings(), lambda: None, lock=lock, catch_up=caught.set,
                            start=False)  # fmt: skip
    try:
        assert {j.id for j in sched.get_jobs()} == {JOB_ID, CATCH_UP_ID}
        with lock:
            sched.start()
            assert not caught.wait(0.5)  # it waits for a run in progress
        assert caught.wait(5.0)
        for _ in range(50):
            if [j.id for j in sched.get_jobs()] == [JOB_ID]:
                break
            threading.Event().wait(0.05)
        assert [j.id for j in sched.get_jobs()] == [JOB_ID]  # a one-off: gone once run
    finally:
        sched.shutdown(wait=True)
