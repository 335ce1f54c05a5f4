"""Shared test fixtures: the real-data location and the hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

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
