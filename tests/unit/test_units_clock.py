"""Units and clock: the two modules every other one leans on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vixshield.clock import FixedClock, SystemClock
from vixshield.errors import InvalidInputError
from vixshield.units import NEW_YORK, wall_clock_years_between, years_between


def test_years_between_counts_minutes_over_525600() -> None:
    # 30 days exactly is 43,200 minutes: the VIX white paper's N30 over N365.
    start = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
    assert years_between(start, start + timedelta(days=30)) == pytest.approx(43_200 / 525_600)


def test_years_between_crosses_dst_in_real_minutes() -> None:
    # 2019-11-03 01:59 EDT -> 2019-11-04 01:59 EST is 25 hours of real time (fall back).
    start = datetime(2019, 11, 2, 12, 0, tzinfo=NEW_YORK)
    end = datetime(2019, 11, 3, 12, 0, tzinfo=NEW_YORK)
    assert years_between(start, end) == pytest.approx(25 * 60 / 525_600)


def test_years_between_refuses_naive_datetimes() -> None:
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        years_between(datetime(2019, 1, 1), datetime(2019, 2, 1, tzinfo=UTC))  # noqa: DTZ001


def test_fixed_clock_is_fixed_and_aware() -> None:
    at = datetime(2019, 6, 26, 16, 0, tzinfo=NEW_YORK)
    clock = FixedClock(at)
    assert clock.now() == at
    assert clock.now() == clock.now()
    with pytest.raises(InvalidInputError):
        FixedClock(datetime(2019, 6, 26))  # noqa: DTZ001


def test_system_clock_is_aware() -> None:
    assert SystemClock().now().tzinfo is not None


def test_wall_clock_years_ignore_dst_as_the_vix_does() -> None:
    # Across the 2019-11-03 fall-back, the VIX counts one day as 1,440 minutes.
    start = datetime(2019, 11, 2, 12, 0, tzinfo=NEW_YORK)
    end = datetime(2019, 11, 3, 12, 0, tzinfo=NEW_YORK)
    assert wall_clock_years_between(start, end) == pytest.approx(1_440 / 525_600)
    assert years_between(start, end) == pytest.approx(1_500 / 525_600)
