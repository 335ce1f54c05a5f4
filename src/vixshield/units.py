"""The conventions table: every unit VixShield uses, in one place.

| quantity          | convention                                                        |
|-------------------|-------------------------------------------------------------------|
| time to expiry    | years, ACT/365 to the settlement instant, counted in minutes      |
|                   | (``minutes / 525_600``), as in the Cboe VIX methodology           |
| volatility        | decimal per year (0.20 is 20%)                                    |
| rates, yields     | decimal per year, continuously compounded                         |
| vega              | price change per 1 vol point (``dV/dsigma / 100``)               |
| theta             | price change per calendar day (``-dV/dT / 365``)                 |
| rho               | price change per 1% rate move (``dV/dr / 100``)                  |
| vanna             | change of delta per 1 vol point (``d2V/dS dsigma / 100``)        |
| volga             | change of vega-per-vol-point per 1 vol point (``d2V/dsigma2 / 1e4``)|
| settlement        | SPX AM-settled: 09:30 ET; SPXW PM-settled: 16:00 ET; VIX: 09:30 ET|
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Final
from zoneinfo import ZoneInfo

from vixshield.errors import InvalidInputError

NEW_YORK: Final = ZoneInfo("America/New_York")
MINUTES_PER_YEAR: Final = 525_600  # N365 in the VIX white paper
MINUTES_PER_30_DAYS: Final = 43_200  # N30 in the VIX white paper
DAYS_PER_YEAR: Final = 365.0
VOL_POINT: Final = 0.01  # one vol point in decimal volatility
RATE_PERCENT: Final = 0.01  # one percentage point of rate

AM_SETTLEMENT_TIME: Final = time(9, 30)  # SOQ of standard SPX, VRO of VIX
PM_SETTLEMENT_TIME: Final = time(16, 0)  # official close for SPXW

SPX_MULTIPLIER: Final = 100
VIX_OPTION_MULTIPLIER: Final = 100
VX_FUTURE_MULTIPLIER: Final = 1000


def years_between(start: datetime, end: datetime) -> float:
    """Time from ``start`` to ``end`` in years, ACT/365 counted in whole and fractional minutes.

    Both datetimes must be timezone-aware; this is elapsed real minutes ``/ 525_600`` as in
    the VIX methodology (a calendar year of 365 days regardless of leap years).
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInputError(
            "years_between needs timezone-aware datetimes; "
            f"got start={start!r}, end={end!r}. Attach a zone, e.g. vixshield.units.NEW_YORK."
        )
    # Convert to UTC first: Python subtracts two datetimes that share a tzinfo object as wall
    # clock times, which would lose or gain an hour across a daylight-saving change.
    minutes = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 60.0
    return minutes / MINUTES_PER_YEAR


def wall_clock_years_between(start: datetime, end: datetime) -> float:
    """Time from ``start`` to ``end`` in years counted on New York wall clocks, as Cboe's VIX does.

    The VIX methodology sums minutes to midnight, whole days of 1,440 minutes and the minutes
    of the settlement day, so a daylight-saving change inside the term neither adds nor removes
    an hour. This is the convention for reproducing the VIX; option pricing uses the real
    elapsed time of :func:`years_between`.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInputError(
            "wall_clock_years_between needs timezone-aware datetimes; "
            f"got start={start!r}, end={end!r}. Attach a zone, e.g. vixshield.units.NEW_YORK."
        )
    local_start = start.astimezone(NEW_YORK).replace(tzinfo=None)
    local_end = end.astimezone(NEW_YORK).replace(tzinfo=None)
    return (local_end - local_start).total_seconds() / 60.0 / MINUTES_PER_YEAR
