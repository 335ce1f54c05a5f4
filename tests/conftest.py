"""Shared test fixtures: the real-data location and the hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import pg  # tests/pg.py: the throwaway PostgreSQL server of the journal tests

REPO_ROOT = Path(__file__).resolve().parents[1]

# CI gets a fixed, derandomised profile so a red run can be reproduced exactly.
settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def real_data_dir() -> Path:
    """Where the real market data lives: ``$VIXSHIELD_REAL_DATA`` or ``../shared/data``."""
    return Path(os.environ.get("VIXSHIELD_REAL_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real-data folder; tests marked ``real`` fail loudly (never skip) when it is absent."""
    path = real_data_dir()
    if not path.is_dir():
        pytest.fail(
            f"real market data not found at {path}: set VIXSHIELD_REAL_DATA to the folder "
            "holding cboe/, cfe_vx/, chains/ ... (see ../shared/data/README.md)"
        )
    return path


# -- the journal on SQLite and PostgreSQL (tests/pg.py) ---------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server URL: ``$VIXSHIELD_TEST_POSTGRES_URL``, else a temporary cluster.

    Without PostgreSQL server binaries the PostgreSQL tests skip, except under CI (``CI`` set),
    where they fail: CI must run the journal on both backends.
    """
    given = os.environ.get(pg.ENV_URL)
    if given:
        yield given
        return
    bindir = pg.find_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(
                "CI must run the journal tests on PostgreSQL: .ci/run installs it "
                "(scripts/ensure-postgresql.sh) and exports VIXSHIELD_TEST_POSTGRES_URL"
            )
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl): install the `postgresql` package "
            "or set VIXSHIELD_TEST_POSTGRES_URL (see docs/journal.md)"
        )
    cluster = pg.TempCluster(bindir)
    try:
        url = cluster.start()
    except BaseException:
        cluster.stop()
        raise
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty journal database URL on each backend: SQLite in ``tmp_path``, or a new
    database on the session's PostgreSQL server (dropped after the test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'journal.sqlite'}"
        return
    server: str = request.getfixturevalue("postgres_server")
    with pg.fresh_database(server) as url:
        yield url
