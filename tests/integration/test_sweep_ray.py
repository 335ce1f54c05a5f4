"""Sweeps on a real local Ray instance equal the local-process sweeps.

A module fixture starts a head node with ``ray start --head --block`` in its own session (2
CPUs, a 150 MiB object store, free ports, a short temp dir: Ray's socket paths must fit in a
unix socket name) and ends it at teardown by signalling that process, then any process left
in its session, by id. ``ray stop --force`` is not used: it kills every Ray process of the
user on the machine, including other people's.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from vixshield.backtest import sweep as sw
from vixshield.backtest.sweep import Backend, SweepSpec, run_sweep
from vixshield.data.market import MarketHistory
from vixshield.data.synthetic import synthetic_market

pytestmark = [
    pytest.mark.slow,
    # Ray's own modules, imported by ray.init, may warn about their dependencies; nothing of ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:google.*"),
    pytest.mark.filterwarnings("ignore::ResourceWarning:ray.*"),
]

RAY = Path(sys.executable).with_name("ray")
# A test cluster on the loopback: no token. Left unset, a local ray.init() would turn token
# auth on for the whole test process (os.environ) and write ~/.ray/auth_token, after which a
# `ray start` on the machine demands a token that plain clients do not send.
NO_TOKEN = {"RAY_AUTH_MODE": "disabled"}
START, END = date(2018, 1, 2), date(2018, 1, 19)
SPEC = SweepSpec.from_dict(
    {
        "sweep": {"grid": {"condor.short_delta": [0.10, 0.14]}},
        "base": {"condor": {"wing_points": 25.0}},
    }
)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _session_pids(sid: int) -> list[int]:
    """Processes whose session id is ``sid`` (the head started with start_new_session)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # fields: state ppid pgrp session
            out.append(int(entry.name))
    return out


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    return MarketHistory.from_synthetic(
        synthetic_market(date(2017, 1, 3), date(2018, 3, 29), seed=7)
    )


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    tmp = tempfile.mkdtemp(prefix="vxray", dir="/tmp")
    port, agent_port = _free_ports(2)
    cmd = [
        str(RAY), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
        "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
        f"--object-store-memory={150 * 2**20}", f"--temp-dir={tmp}",
        f"--dashboard-agent-listen-port={agent_port}",
        "--block",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, **NO_TOKEN},
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("ray start --head did not start:\n" + "".join(log))
                continue
            log.append(line)
            if "Ray runtime started" in line:
                break
        yield f"127.0.0.1:{port}"
    finally:
        sid = proc.pid
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # ray start --block stops its processes
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for _ in range(20):
            left = _session_pids(sid)
            if not left:
                break
            time.sleep(0.5)
        for pid in _session_pids(sid):  # stragglers of our head only, by id
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in NO_TOKEN.items():
        monkeypatch.setenv(k, v)


@pytest.fixture(scope="module")
def local(history: MarketHistory) -> sw.SweepResult:
    return run_sweep(SPEC, history, start=START, end=END, backend=Backend.process(2))


def test_ray_sweep_equals_the_local_process_sweep(
    ray_head: str, history: MarketHistory, local: sw.SweepResult
) -> None:
    seen: list[tuple[int, int]] = []
    got = run_sweep(
        SPEC, history, start=START, end=END, backend=Backend.ray(ray_head),
        progress=lambda d, t: seen.append((d, t)),
    )  # fmt: skip
    pd.testing.assert_frame_equal(got.frame, local.frame)
    assert got.frame["error"].isna().all()
    assert seen == [(1, 2), (2, 2)]
    assert got.to_json() == local.to_json()


def test_ray_workers_fetch_the_history_once(ray_head: str, history: MarketHistory) -> None:
    grid = {"condor.short_delta": [0.10, 0.11, 0.12, 0.13, 0.14, 0.15]}
    spec = SweepSpec.from_dict({"sweep": {"grid": grid}, "base": {"condor": {"wing_points": 25.0}}})
    tasks = [
        sw._Task(c.index, c.config, START, date(2018, 1, 4), 1e6, None, False)
        for c in spec.expand()
        if c.config is not None
    ]
    with sw._executor(Backend.ray(ray_head), history) as run:
        outcomes = run(tasks, lambda: None)
    assert [o.key for o in outcomes] == list(range(6))
    assert all(o.error is None for o in outcomes)
    # every worker process got the history from the object store exactly once
    assert {o.loads for o in outcomes} == {1}
    assert len({o.pid for o in outcomes}) < len(tasks)


def test_ray_local_in_process_cluster(
    history: MarketHistory, local: sw.SweepResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tempfile.mkdtemp(prefix="vxrl", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", tmp)
    try:
        got: Any = run_sweep(
            SPEC, history, start=START, end=END, backend=Backend.ray("local", workers=2)
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pd.testing.assert_frame_equal(got.frame, local.frame)
