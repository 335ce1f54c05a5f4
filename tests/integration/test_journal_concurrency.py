"""One writer process and several readers (threads, and a process) on one journal, on SQLite
and on PostgreSQL: no reader errors (no "database is locked"), and every reader sees a
consistent journal throughout: a succeeded run always has its decision, orders, marks and hedge
activation (they are committed together), a failed run none (journal_concurrency_child.py)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from vixshield.journal import FAILED, SUCCEEDED, Journal

pytestmark = pytest.mark.slow

CHILD = Path(__file__).with_name("journal_concurrency_child.py")
DAYS = 40
READER_THREADS = 3
TIMEOUT_S = 300


def _child_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("journal_concurrency_child", CHILD)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


child = _child_module()


def test_readers_see_a_consistent_journal_while_a_process_writes(
    journal_url: str, tmp_path: Path
) -> None:
    Journal.open(journal_url).close()  # migrated before anyone reads or writes
    stop_file = tmp_path / "stop"
    reader_proc = subprocess.Popen(
        [sys.executable, str(CHILD), "read", journal_url, str(stop_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()
    results: list[dict[str, Any]] = []
    shared = Journal.open(journal_url)  # the threads share one journal (one engine, one pool)

    def reader() -> None:
        try:
            results.append(child.read_until(shared, stop))
        except BaseException as exc:  # reported to the test, never left to the thread
            results.append({"reads": 0, "partial_views": 0, "errors": [repr(exc)]})

    threads = [threading.Thread(target=reader) for _ in range(READER_THREADS)]
    try:
        assert reader_proc.stdout is not None
        assert reader_proc.stdout.readline().strip() == "reading"
        for t in threads:
            t.start()
        writer = subprocess.run(
            [sys.executable, str(CHILD), "write", journal_url, str(DAYS)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    finally:
        stop.set()
        stop_file.touch()
        for t in threads:
            t.join(timeout=TIMEOUT_S)
        out, _ = reader_proc.communicate(timeout=TIMEOUT_S)
        shared.close()
    assert writer.returncode == 0, writer.stderr
    assert writer.stdout.strip() == "written"
    assert reader_proc.returncode == 0
    results.append(json.loads(out.strip().splitlines()[-1]))

    assert len(results) == READER_THREADS + 1
    for result in results:
        assert result["errors"] == []
        assert result["reads"] > 0
    # the readers did read while the writer wrote (a history that grew under them)
    assert sum(r["partial_views"] for r in results) > 0

    succeeded, failed = child.expected_counts(DAYS)
    with Journal.open(journal_url) as j:
        runs = j.runs()
        assert sum(r.status == SUCCEEDED for r in runs) == succeeded
        assert sum(r.status == FAILED for r in runs) == failed
        assert len(runs) == succeeded + failed
        assert len(j.history("signal", limit=10_000)) == succeeded
        assert len(j.hedge_activations()) == succeeded
        assert child.check_once(j) == (succeeded, [])


def test_processes_opening_a_new_journal_at_once_migrate_it_once(
    journal_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(CHILD), "open", journal_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "waiting"
        go.touch()
        outcomes = [proc.communicate(timeout=TIMEOUT_S) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for proc, (out, err) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "0002"
    with Journal.open(journal_url) as j:
        assert j.schema_revision() == "0002"
        assert j.runs() == []
