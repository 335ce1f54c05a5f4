"""API latency and throughput: one uvicorn worker serving a journal of ~250 signals.

The journal (SQLite, WAL) is filled with real decisions of the embedded synthetic market (seed
7, the last sessions of 2018; ``--journal DIR`` keeps it there, and reuses it next time), then
a uvicorn server with one worker is started in a subprocess on 127.0.0.1 at a free port (bound
by host and port, as ``vixshield serve`` does), its clock stopped at 17:00 New York on the last
journaled session so that
``/api/signal/today`` finds its signal. A local load generator (asyncio, one
``httpx.AsyncClient`` with N connections, N tasks each sending its next request as soon as the
last one answered) runs, per concurrency level and endpoint, a warm-up and then a fixed
duration against

* ``GET /api/signal/today``, and
* ``GET /api/signal/{day}`` with ``day`` drawn at random (fixed seed) from the journaled
  sessions,

and prints a table of concurrency, requests, latency p50/p90/p99 (ms, as the client saw it:
queueing in the generator included), requests per second, non-200 answers and errors, and the
CPU milliseconds per request of the server and of the generator (from ``/proc``). The load
generator runs on the same machine and shares its cores with the server: on a 2-core machine
it takes roughly one of them, so these figures are a floor for what a separate client would
see. Not a test: it asserts nothing.

Usage: ``python benchmarks/bench_api.py [--seconds S] [--warmup S] [--concurrency 1,4,16,64]
[--sessions N] [--journal DIR]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from vixshield.units import NEW_YORK

WING_POINTS = 25.0  # the synthetic market's SPX is near 700: 25-point wings, as in the tests
FIRST, LAST = date(2018, 1, 2), date(2018, 12, 31)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# -- the journal -------------------------------------------------------------------------------


def build_journal(folder: Path, sessions: int, console: Console) -> list[date]:
    """Journal ``sessions`` decisions (the last ones up to LAST) into ``folder``; their days."""
    from vixshield.clock import FixedClock
    from vixshield.config import StrategyConfig, fingerprint
    from vixshield.data.market import MarketHistory, stamp
    from vixshield.data.synthetic import synthetic_market
    from vixshield.engine import run_day
    from vixshield.journal import Journal
    from vixshield.service.api import SIGNAL_MODE
    from vixshield.strategy.condor import CondorParams

    t0 = time.perf_counter()
    history = MarketHistory.from_synthetic(synthetic_market(date(2017, 1, 3), LAST, seed=7))
    days = [d for d in history.sessions if FIRST <= d <= LAST][-sessions:]
    config = StrategyConfig(condor=CondorParams(wing_points=WING_POINTS))
    text, fp = config.model_dump_json(), fingerprint(config)
    with Journal.open(data_dir=folder) as journal:
        for day in days:
            decision = run_day(
                history, day, clock=FixedClock(stamp(day)), config=config, equity_usd=1e6
            )
            run = journal.start_run(day, SIGNAL_MODE, text, fp)
            journal.record_decision(run, decision)
            journal.finish(run)
    console.print(
        f"journal: {len(days)} decisions {days[0]}..{days[-1]} written to {folder} in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return days


def journaled_days(folder: Path) -> list[date]:
    from vixshield.journal import Journal
    from vixshield.service.api import SIGNAL_MODE

    with Journal.open(data_dir=folder) as journal:
        return sorted({d.session for d in journal.history(SIGNAL_MODE, limit=100_000)})


# -- the server (a subprocess) -----------------------------------------------------------------


def serve(folder: Path, port: int, now: datetime) -> None:
    """Run uvicorn, one worker, on 127.0.0.1:``port`` (as ``vixshield serve`` binds)."""
    import logging

    import uvicorn

    from vixshield.clock import FixedClock
    from vixshield.journal import Journal
    from vixshield.service.api import create_app
    from vixshield.service.settings import ServiceSettings

    logging.getLogger("vixshield").setLevel(logging.WARNING)
    journal = Journal.open(data_dir=folder)
    app = create_app(ServiceSettings(), journal=journal, clock=FixedClock(now))
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        workers=1,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    uvicorn.Server(config).run()


@dataclass(frozen=True, slots=True)
class Result:
    endpoint: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: np.ndarray
    not_ok: int
    errors: int
    server_cpu_s: float
    client_cpu_s: float


class _RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: a GET, then its whole answer.

    A load generator that costs little CPU per request (no HTTP library), so that on a shared
    2-core machine the server, not the client, is what is measured.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            sock = self.writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def _drive(
    url: str,
    paths: list[str],
    *,
    concurrency: int,
    warmup: float,
    seconds: float,
    pid: int,
    client: str,
) -> tuple[np.ndarray, int, int, float, float, float]:
    """N tasks, each on its own connection, sending the next GET when the last answered."""
    rng = random.Random(7)
    latencies: list[float] = []
    counts = {"not_ok": 0, "errors": 0}
    phase = {"measure": False, "stop": False}
    host, port = url.removeprefix("http://").split(":")
    # TCP_NODELAY, as browsers and curl set it (the server's side sets it too)
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    pooled = httpx.AsyncClient(
        base_url=url,
        transport=httpx.AsyncHTTPTransport(limits=limits, socket_options=nodelay),
        timeout=60.0,
    )

    async def worker() -> None:
        raw = _RawConnection(host, int(port))
        try:
            while not phase["stop"]:
                path = paths[rng.randrange(len(paths))]
                t = time.perf_counter()
                try:
                    if client == "raw":
                        status = await raw.get(path)
                    else:
                        r = await pooled.get(path)
                        await r.aread()
                        status = r.status_code
                except (OSError, asyncio.IncompleteReadError, httpx.HTTPError):
                    raw = _RawConnection(host, int(port))
                    if phase["measure"]:
                        counts["errors"] += 1
                    continue
                if phase["measure"]:
                    latencies.append((time.perf_counter() - t) * 1000.0)
                    if status != 200:
                        counts["not_ok"] += 1
        finally:
            await raw.close()

    async with pooled:
        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        phase["measure"] = True
        cpu0, mine0, t0 = _cpu_seconds(pid), _cpu_seconds(os.getpid()), time.perf_counter()
        await asyncio.sleep(seconds)
        phase["stop"] = True
        elapsed = time.perf_counter() - t0
        cpu, mine = _cpu_seconds(pid) - cpu0, _cpu_seconds(os.getpid()) - mine0
        await asyncio.gather(*tasks)
    return np.array(latencies), counts["not_ok"], counts["errors"], elapsed, cpu, mine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per row")
    parser.add_argument("--concurrency", default="1,4,16,64", help="comma-separated levels")
    parser.add_argument("--sessions", type=int, default=250, help="decisions to journal")
    parser.add_argument("--journal", type=Path, default=None, help="reuse (or keep) this journal")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: raw asyncio streams (cheap) or httpx.AsyncClient",
    )
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--now", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.port, datetime.fromisoformat(args.now))
        return

    console = Console(width=max(140, Console().width))
    console.print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    console.print(f"usable cores: {_cores()}  (os.cpu_count() {os.cpu_count()})")
    console.print(f"load average before: {_load()}")
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]

    temp: Path | None = None
    if args.journal is not None and (args.journal / "journal.sqlite").is_file():
        folder = args.journal
        days = journaled_days(folder)
        console.print(f"journal: reusing {folder} ({len(days)} sessions)")
    else:
        if args.journal is None:
            temp = Path(tempfile.mkdtemp(prefix="api_bench_"))
        folder = args.journal or temp
        assert folder is not None
        days = build_journal(folder, args.sessions, console)

    last = days[-1]
    now = datetime(last.year, last.month, last.day, 17, 0, tzinfo=NEW_YORK)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))  # a free port (the server binds it a moment later)
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, __file__, "--serve", str(folder), "--port", str(port),
        "--now", now.isoformat(),
    ]  # fmt: skip
    server = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        size = len(httpx.get(url + "/api/signal/today").content)
        console.print(
            f"server: uvicorn {url} pid {server.pid}, one worker; /api/signal/today body "
            f"{size:,} bytes (session {last})"
        )
        endpoints = {
            "/api/signal/today": ["/api/signal/today"],
            "/api/signal/{day}": [f"/api/signal/{d.isoformat()}" for d in days],
        }
        results: list[Result] = []
        for c in levels:
            for name, paths in endpoints.items():
                lat, not_ok, errors, elapsed, cpu, mine = asyncio.run(
                    _drive(
                        url,
                        paths,
                        concurrency=c,
                        warmup=args.warmup,
                        seconds=args.seconds,
                        pid=server.pid,
                        client=args.client,
                    )
                )
                results.append(Result(name, c, len(lat), elapsed, lat, not_ok, errors, cpu, mine))
                console.print(
                    f"  {name} x{c}: {len(lat)} requests in {elapsed:.1f} s (load {_load()})"
                )
    finally:
        server.terminate()
        server.wait(30)
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    table = Table(
        title=f"API latency: one uvicorn worker, {len(days)} journaled signals, "
        f"{args.client} client"
    )
    columns = (
        "endpoint", "concurrency", "requests", "p50 ms", "p90 ms", "p99 ms", "req/s",
        "non-200", "errors", "server CPU ms/req", "client CPU ms/req",
    )  # fmt: skip
    for col in columns:
        if col == "endpoint":
            table.add_column(col, no_wrap=True)
        else:
            table.add_column(col, justify="right")
    for r in results:
        p50, p90, p99 = np.percentile(r.latencies_ms, [50, 90, 99]) if r.requests else (np.nan,) * 3
        table.add_row(
            r.endpoint, str(r.concurrency), f"{r.requests:,}", f"{p50:.1f}", f"{p90:.1f}",
            f"{p99:.1f}", f"{r.requests / r.seconds:.0f}", str(r.not_ok), str(r.errors),
            f"{1000.0 * r.server_cpu_s / max(r.requests, 1):.2f}",
            f"{1000.0 * r.client_cpu_s / max(r.requests, 1):.2f}",
        )  # fmt: skip
    console.print(table)
    console.print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
