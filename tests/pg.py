"""A throwaway PostgreSQL server and one fresh database per test, for the journal tests.

The same steps as ``scripts/ensure-postgresql.sh`` (which CI runs first and whose URL it
exports as ``VIXSHIELD_TEST_POSTGRES_URL``), done from Python when no URL is given: ``initdb``
a cluster in a temporary directory (as the ``postgres`` user when running as root: PostgreSQL
refuses to run as root), start it with ``pg_ctl`` on a free local port (TCP on 127.0.0.1, the
unix socket inside the directory, trust authentication, no fsync), create a role and database
``vixshield`` that may create databases, and stop and delete it all at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ENV_URL = "VIXSHIELD_TEST_POSTGRES_URL"
"""A server to use instead of starting one (a role that may ``CREATE DATABASE``)."""
ENV_BINDIR = "VIXSHIELD_PG_BINDIR"
"""Where ``initdb`` and ``pg_ctl`` are, when not found by ``pg_config`` or in /usr/lib."""
ROLE = "vixshield"
SERVER_USER = "postgres"  # runs the server when we are root


def find_bindir() -> Path | None:
    """The directory of the PostgreSQL server binaries (``initdb``, ``pg_ctl``), if any."""
    candidates: list[Path] = []
    if os.environ.get(ENV_BINDIR):
        candidates.append(Path(os.environ[ENV_BINDIR]))
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=30
            )
            candidates.append(Path(out.stdout.strip()))

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.name))

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(Path(initdb).parent)
    for d in candidates:
        if all(os.access(d / b, os.X_OK) for b in ("initdb", "pg_ctl")):
            return d
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _connect(url: str | URL, database: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit psycopg connection for a SQLAlchemy URL (optionally another database)."""
    u = make_url(url)
    query = {k: v if isinstance(v, str) else v[-1] for k, v in u.query.items()}
    return psycopg.connect(
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        dbname=database or u.database,
        autocommit=True,
        **query,
    )


class TempCluster:
    """A PostgreSQL cluster in a temporary directory: :meth:`start` returns its URL."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="jrnl_pg_"))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log = self.root / "server.log"
        self.port = 0
        self._as_root = os.geteuid() == 0
        self._started = False

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{shlex.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
                f"\n{log}"
            )

    def start(self) -> str:
        self.sockets.mkdir()
        if self._as_root:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise RuntimeError(
                    f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL "
                    "(the Debian package creates it: scripts/ensure-postgresql.sh)"
                ) from None
            for path in (self.root, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", SERVER_USER, "-A", "trust",
            "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        for attempt in range(5):
            self.port = _free_port()
            options = (
                f"-p {self.port} -h 127.0.0.1 -k {shlex.quote(str(self.sockets))} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                    "-o", options, "start",
                )  # fmt: skip
            except RuntimeError:
                if attempt == 4:
                    raise
                continue  # most likely the port was taken meanwhile: another one
            break
        self._started = True
        admin = URL.create(
            "postgresql+psycopg", username=SERVER_USER, host="127.0.0.1", port=self.port
        )
        with _connect(admin, "postgres") as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(ROLE)))
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(ROLE), sql.Identifier(ROLE)
                )
            )
        return url_of(self.port)

    def stop(self) -> None:
        try:
            if self._started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
                self._started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def url_of(port: int) -> str:
    return f"postgresql+psycopg://{ROLE}@127.0.0.1:{port}/{ROLE}"


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server (dropped afterwards); yields its URL."""
    name = f"jrnl_{uuid.uuid4().hex[:20]}"
    with _connect(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
        with _connect(server_url) as conn:
            if conn.info.server_version >= 130000:
                conn.execute(drop + sql.SQL(" WITH (FORCE)"))  # a killed client's session too
            else:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                conn.execute(drop)
