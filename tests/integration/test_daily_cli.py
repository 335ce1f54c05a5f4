"""``vixshield run-daily`` and ``vixshield serve`` as a user runs them: exit codes, the stored
signal on a second run, ``--force`` revisions, a job killed midway, the served API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from vixshield.cli import app
from vixshield.journal import FAILED, RUNNING, SUCCEEDED, Journal

runner = CliRunner()
DAY = "2026-11-20"


def _settings_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "service.toml"
    path.write_text(
        f'[data]\nsource = "synthetic"\ndata_dir = "{tmp_path / "data"}"\n{extra}',
        encoding="utf-8",
    )
    return path


def _journal(tmp_path: Path) -> Journal:
    return Journal.open(data_dir=tmp_path / "data")


def test_run_daily_records_then_reports_the_stored_signal_then_forces(tmp_path: Path) -> None:
    settings = str(_settings_file(tmp_path))
    first = runner.invoke(app, ["run-daily", "--settings", settings, "--date", DAY, "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["status"] == "recorded"
    assert out["run"]["revision"] == 1
    assert out["decision"]["session"] == DAY

    second = runner.invoke(app, ["run-daily", "--settings", settings, "--date", DAY])
    assert second.exit_code == 0, second.output
    assert "stored" in second.stdout
    assert "already journaled" in second.stdout
    assert f"VixShield signal for {DAY}" in second.stdout  # the stored signal is shown

    forced = runner.invoke(
        app, ["run-daily", "--settings", settings, "--date", DAY, "--force", "--json"]
    )
    assert forced.exit_code == 0, forced.output
    again = json.loads(forced.stdout)
    assert again["run"]["revision"] == 2
    assert again["decision"] == out["decision"]
    with _journal(tmp_path) as j:
        assert [r.revision for r in j.runs(status=SUCCEEDED)] == [1, 2]


def test_a_non_trading_day_is_skipped_with_a_message(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["run-daily", "--settings", str(_settings_file(tmp_path)), "--date", "2026-11-26"]
    )
    assert res.exit_code == 0, res.output
    assert "skipped" in res.stdout
    assert "2026-11-26 (Thursday) is not a trading session" in res.stdout


def test_bad_settings_exit_2_naming_the_key(tmp_path: Path) -> None:
    path = _settings_file(tmp_path, '[schedule]\ntime = "25:00"\n')
    res = runner.invoke(app, ["run-daily", "--settings", str(path)])
    assert res.exit_code == 2
    assert "schedule.time" in res.output


def test_an_undeliverable_notification_exits_3_after_journaling(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    extra = (
        "[notify]\nretries = 0\ntimeout_seconds = 2.0\n"
        f'[notify.webhook]\nurls = ["http://127.0.0.1:{port}/hook"]\n'
    )
    res = runner.invoke(
        app, ["run-daily", "--settings", str(_settings_file(tmp_path, extra)), "--date", DAY]
    )
    assert res.exit_code == 3, res.output
    assert "FAILED" in res.stdout
    with _journal(tmp_path) as j:
        assert [r.status for r in j.runs()] == [SUCCEEDED]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    return env


def test_a_job_killed_midway_leaves_no_half_decision_and_the_next_run_records(
    tmp_path: Path,
) -> None:
    settings = _settings_file(tmp_path)
    watcher = _journal(tmp_path)  # migrated before the job starts: the watcher only reads
    log = tmp_path / "job.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vixshield.cli", "run-daily", "--settings", str(settings),
             "--date", DAY],
            env=_env(), stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        running = False
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                running = any(r.status == RUNNING for r in watcher.runs())
                if running:
                    break
                time.sleep(0.02)
        finally:
            watcher.close()
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
    assert running, f"the job never showed a running row: {log.read_text()}"
    with _journal(tmp_path) as j:
        (run,) = j.runs()
        assert run.status == RUNNING
        assert j.latest_decision(date.fromisoformat(DAY), "signal") is None
        assert j.marks(run) == []
    res = runner.invoke(app, ["run-daily", "--settings", str(settings), "--date", DAY, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["run"]["revision"] == 2
    with _journal(tmp_path) as j:
        stale = j.mark_stale(timedelta(0))
        assert [r.id for r in stale] == [run.id]
        assert [r.status for r in j.runs()] == [FAILED, SUCCEEDED]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
def test_serve_answers_health_and_the_dashboard_and_stops_on_sigint(tmp_path: Path) -> None:
    settings = _settings_file(tmp_path)
    assert (
        runner.invoke(app, ["run-daily", "--settings", str(settings), "--date", DAY]).exit_code == 0
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vixshield.cli", "serve", "--settings", str(settings),
         "--port", str(port)],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{base}/api/health", timeout=2.0)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, "the server never answered"
        assert health.status_code == 200
        signal_ = httpx.get(f"{base}/api/signal/{DAY}", timeout=10.0)
        assert signal_.status_code == 200
        page = httpx.get(f"{base}/", timeout=30.0)
        assert page.status_code == 200
        assert DAY in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "Daily job" in out
    assert "New York" in out
    assert "catch-up now: the signal for" in out
    assert proc.returncode == 0, out


def test_settings_init_writes_a_loadable_file_and_keeps_an_existing_one(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    res = runner.invoke(app, ["settings-init", str(path)])
    assert res.exit_code == 0, res.output
    assert "[notify.email]" in path.read_text(encoding="utf-8")
    again = runner.invoke(app, ["settings-init", str(path)])
    assert again.exit_code == 2
    assert "--force" in again.output
    assert runner.invoke(app, ["settings-init", str(path), "--force"]).exit_code == 0


@pytest.mark.slow
def test_readers_of_the_served_api_while_the_daily_job_writes(tmp_path: Path) -> None:
    """The real job in its own process journals three sessions while readers hit the server."""
    settings = _settings_file(tmp_path)
    _journal(tmp_path).close()  # migrated before either process starts
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "vixshield.cli", "serve", "--settings", str(settings),
         "--port", str(port), "--no-schedule"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    statuses: list[int] = []
    stop = threading.Event()

    def reader(k: int) -> None:
        paths = ["/api/signals", "/api/book", "/api/health", "/api/runs", "/"]
        with httpx.Client(base_url=base, timeout=30.0) as client:
            while not stop.is_set():
                statuses.append(client.get(paths[k % len(paths)]).status_code)
                k += 1

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/api/health", timeout=2.0)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        readers = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
        for t in readers:
            t.start()
        for day in ("2026-11-18", "2026-11-19", "2026-11-20"):
            job = subprocess.run(
                [sys.executable, "-m", "vixshield.cli", "run-daily", "--settings",
                 str(settings), "--date", day, "--no-notify"],
                env=_env(), capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert job.returncode == 0, job.stdout + job.stderr
        stop.set()
        for t in readers:
            t.join(30)
        signals = httpx.get(f"{base}/api/signals", timeout=10.0).json()
    finally:
        stop.set()
        server.send_signal(signal.SIGINT)
        server.wait(30)
    assert len(statuses) > 20
    assert all(s == 200 for s in statuses), sorted(set(statuses))
    assert signals["count"] == 3


def test_catch_up_arguments_are_checked(tmp_path: Path) -> None:
    s = ["--settings", str(_settings_file(tmp_path))]
    both = runner.invoke(app, ["run-daily", *s, "--date", DAY, "--since", DAY])
    assert both.exit_code == 2
    assert "not both" in both.output
    future = runner.invoke(app, ["run-daily", *s, "--since", "2999-01-04"])
    assert future.exit_code == 2
    assert "nothing to catch up" in " ".join(future.output.split())
