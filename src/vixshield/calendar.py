"""Trading sessions, early closes, and SPX / SPXW / VIX expiries, built on ``exchange_calendars``.

Sessions are :class:`datetime.date` values. Times are timezone-aware ``America/New_York``
datetimes. Every function is pure: it reads no clock, and the exchange calendar behind it is
built once per process and cached.

Why ``exchange_calendars`` (XNYS)
---------------------------------
We chose ``exchange_calendars`` over ``pandas_market_calendars`` for these reasons:

* It is already a pinned dependency, so we add nothing.
* Its XNYS calendar encodes NYSE history back to 1885, ad hoc closures included: 1985-09-27
  (Gloria), 1994-04-27 (Nixon), 2001-09-11..14, 2004-06-11 (Reagan), 2007-01-02 (Ford),
  2012-10-29/30 (Sandy), 2018-12-05 (Bush) and 2025-01-09 (Carter). It also has the early
  closes: 13:00 from 1993, 14:00 before.
* It refuses dates outside the range it was built for (``DateOutOfBounds``) instead of
  guessing. That matches our "fail loudly" rule.
* Its session API works on dates, which is how VixShield counts.

It also ships ``XCBF`` (CFE): a rules-only calendar in Chicago time without NYSE's long
history. Because CFE trade dates match XNYS exactly (see below), we use XNYS for both.

``pandas_market_calendars`` has Cboe-specific calendars (for example 13:15 closes for index
options on early-close days). We do not need them, because every instant we use is an
*index* instant: the SPX open (SOQ), the SPX close (PM settlement) and the SPX-option open
(VRO). Those follow the NYSE schedule.

We build the calendar for the fixed range ``CALENDAR_START``..``CALENDAR_END``. The start is
1953-01-01 because the library does not model the NYSE Saturday sessions that ended in 1952.
The end is 2040-12-31; any date after the library's release is a projection of its regular
rules, so it cannot know future ad hoc closures. The library's own default range is "20 years
back from today". That default reads the wall clock, so we never use it.

Cboe / CFE versus NYSE
----------------------
Cboe index options and CFE follow NYSE holidays in practice. Known differences:

* CFE trade dates 2004-03-26..2014-08-14 coincide exactly with XNYS sessions. This is
  checked against the real CFE files in ``tests/real/test_calendar_cfe.py``.
* On 2018-12-05 (Bush) CFE had no regular session. It did run an extended-hours session
  dated 2018-12-05 (OCC memo #44124). We treat the day as closed.
* On NYSE early-close days, SPX options trade until 13:15 ET [M]. The SPX close, and hence
  the PM settlement value, is struck at 13:00. :func:`close_time` returns the 13:00 index
  close.
* CFE runs short extended-hours sessions on some NYSE holidays. Their trade date is the next
  business day, so the set of trade dates is unchanged [M].

Expiry rules
------------
**SPX monthly (``ExpiryKind.SPX_AM``).**

* Expires on the third Friday of the month, or the preceding business day when that Friday
  is a holiday (for example Good Friday 2014-04-18 gives 2014-04-17, and Juneteenth
  2026-06-19 gives 2026-06-18).
* Settles at the open: SOQ/SET, nominally 09:30 ET.
* Trading stops on the business day before expiry.
* Before 2015-02-15 the OCC's formal expiration date was the Saturday after the third
  Friday. We always use the settlement day, which is what matters for pricing.
* The rule is applied to every month in range, with no listing-era check. SPX options were
  first listed in 1983. That SPX moved to AM settlement around 1992 is **unverified**: no
  primary source was found.

**PM-settled SPX (``ExpiryKind.SPXW_PM``)**, by listing era. Each date below is the first
*expiry* of that series.

=========== ================================ ============ ==========================================
series      rule                             first expiry source
=========== ================================ ============ ==========================================
EOQ         last session of Mar/Jun/Sep/Dec  2006-09-29   Cboe Quarterlys page: "first launched by
                                                          CBOE in July 2006" (root SPXQ, moved to
                                                          SPXW 2014-07-03). A 2014 Cboe blog says
                                                          2007. The first expiry is **unverified**.
EOW Friday  every Friday except the third    2010-12-10   Cboe Weeklys microsite, quoting IC10-174:
                                                          PM "Week-End" SPX began trading
                                                          2010-12-02 for expiry 2010-12-10. The
                                                          AM-settled weeklys (from 2005-10) ended
                                                          2010-12-03 and are not returned here.
3rd Friday  same day as the SPX monthly      2011-10-21   SPXpm began trading on C2 on 2011-10-04
                                                          (Cboe press release, 2011-09-13). It
                                                          moved to CBOE on 2013-02-19 (RG13-012)
                                                          and became root SPXW on 2017-05-01
                                                          (RG17-002). The first listed month is
                                                          **unverified**.
EOM         last session of every month      2014-07-31   Cboe blog 2014-05-29 and press release:
                                                          EOM trading began 2014-07-07, root SPXW.
Wednesday   every Wednesday                  2016-03-02   Cboe blog 2016-02-22: listed from
                                                          2016-02-23; first expiries 2016-03-02
                                                          and 2016-03-09.
Monday      every Monday                     2016-08-22   Cboe press release 2016-07-12 and blog
                                                          2016-08-17: listed from 2016-08-15; first
                                                          expiries 2016-08-22 and 2016-08-29.
Tuesday     every Tuesday                    2022-04-26   Cboe press release (Traders Magazine):
                                                          listed from 2022-04-18. First expiries
                                                          2022-04-26 and 2022-05-03 per Vix and
                                                          More blog, 2022-04-19 [S].
Thursday    every Thursday                   2022-05-19   Same Cboe release: listed from
                                                          2022-05-11. The first expiry 2022-05-19
                                                          is **unverified** (blog: "likely").
=========== ================================ ============ ==========================================

Holiday rules for PM-settled expiries:

* A Monday expiry that falls on a holiday moves to the next business day. This is stated
  in the Cboe Monday Weeklys notice; example: Tuesday 2016-09-06, after Labor Day.
* An expiry on any other weekday moves to the preceding business day. This is stated on the
  Cboe SPX page, and Cboe circular C2018120300 moved the Wednesday 2018-12-05 expiries to
  Tuesday 2018-12-04.
* Cboe lists no weekly on a day that already has an EOM or standard expiry. Since we return
  a set of dates, that rule only deduplicates.
* From 2022-05-19 on, every session is a PM expiry.

The third-Friday PM series is included. ``spxw_expiries`` means "every date on which a
PM-settled S&P 500 option expires", whatever its root (SPXQ, SPXPM or SPXW). Code that reads
real quotes must load every root for those dates.

**VIX (``ExpiryKind.VIX_AM``): VX futures and standard monthly VIX options.**

* Expiry (the final settlement date) is the Wednesday 30 days before the third Friday of the
  *following* month. If that Friday is a holiday, count 30 days back from the preceding
  business day instead. If the resulting day is a holiday, use the preceding business day.
  Equivalently: ``previous_session(spx_expiry(next month) - 30 days, inclusive=True)``.
* The current CFE wording is: "if that Wednesday or the Friday 30 days later is a holiday,
  the business day before that Wednesday". It gives the same day unless the Thursday
  before a holiday Friday is also closed, which has not happened.
* **2004 contracts follow the original rule**: the Wednesday before the third Friday of the
  contract month itself. Evidence: the CFE files end N04 on 2004-07-14 and V04 on
  2004-10-13, a week before the 30-day rule's dates (07-21, 10-20). A CFE notice of
  2004-06-14 gives the last trading day as "usually the Tuesday prior to the third Friday"
  [S, Mondo Visione]. The two rules disagree only when the next third Friday is five weeks
  away, and no such month was listed between V04 and Z05 (Dec 2005, the 30-day rule). We
  switch at contract month 2005-01. CFE's DJIA volatility futures, launched 2005-04-25,
  already used the 30-day wording [S, MarketsWiki]. The switch date itself is
  **unverified**; only the never-listed Z04, J05, N05 and U05 depend on it.
* Examples: Feb 2008 expired on Tuesday 2008-02-19 (Good Friday 2008-03-21). Mar 2014
  expired on Tuesday 2014-03-18; the CFE file confirms this against the 2014-03-19 in
  ``reference/CBOE.md`` §9. Jun 2024 expired on Tuesday 2024-06-18 (Juneteenth Wednesday).
* The contract month is the month the future is named for, and the expiry always falls
  inside it.
* Settlement is the VRO, from SPX option opening prices at 09:30 ET.
* ``last_trade_date`` is the last *regular* session before the settlement morning, i.e.
  the previous session. That is the rule for monthly VIX options. For VX futures it holds
  too, with exceptions. In the CFE files the expiry-day row carries only the final
  settlement value and zero volume, except Z11: for 2011-12-21 only, expiring VX traded
  07:00-08:15 CT before settlement (CFE IC11-73). A filing certified 2012-01-17 reverted
  this. CFE moved the futures' last trading day to the settlement morning again by a
  filing certified 2014-11-17; the first contract affected is **unverified**. Those
  pre-open minutes are not modelled.
* The rule is applied to every month in range. Listing began with K04 (May 2004); VIX
  options began 2006-02-24 [M].

Time to expiry
--------------
``t_years(now, expiry_date, kind)`` is the minutes from ``now`` to the settlement instant,
divided by 525,600. Minutes are real elapsed minutes, as in :func:`vixshield.units.years_between`.
The VIX white paper counts wall-clock minutes, so across a daylight-saving change the two
differ by one hour.

Source tags follow ``reference/CBOE.md``: [S] secondary, [M] memory/unverified.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import functools
import warnings
from dataclasses import dataclass
from typing import Final

import exchange_calendars as xc

from vixshield.errors import CalendarError, InvalidInputError
from vixshield.units import AM_SETTLEMENT_TIME, NEW_YORK, PM_SETTLEMENT_TIME, years_between

__all__ = [
    "CALENDAR_END",
    "CALENDAR_START",
    "Expiry",
    "ExpiryKind",
    "close_time",
    "expiries",
    "holidays",
    "is_early_close",
    "is_expiry",
    "is_session",
    "last_trade_date",
    "next_session",
    "previous_session",
    "sessions",
    "settlement_datetime",
    "spx_expiries",
    "spx_expiry",
    "spxw_expiries",
    "t_years",
    "third_friday",
    "vx_expiries",
    "vx_expiry",
]

CALENDAR_START: Final = dt.date(1953, 1, 1)
CALENDAR_END: Final = dt.date(2040, 12, 31)
_EXCHANGE: Final = "XNYS"
_REGULAR_CLOSE: Final = PM_SETTLEMENT_TIME  # 16:00 ET, the NYSE regular close
_ONE_DAY: Final = dt.timedelta(days=1)
_VX_DAYS_BEFORE_SPX: Final = dt.timedelta(days=30)
# First VX contract month under the 30-day rule. The CFE files only narrow the change to
# after V04 (Oct 2004) and no later than Z05 (Dec 2005): the two rules agree on every contract
# listed in between. The cutover month is a documented choice (see the module docstring).
_VX_30_DAY_RULE_FROM: Final = (2005, 1)

# First expiry of each PM-settled S&P 500 series (see the module docstring for sources).
_FIRST_EOQ: Final = dt.date(2006, 9, 29)
_FIRST_FRIDAY_WEEKLY: Final = dt.date(2010, 12, 10)
_FIRST_THIRD_FRIDAY_PM: Final = dt.date(2011, 10, 21)
_FIRST_EOM: Final = dt.date(2014, 7, 31)
_FIRST_WEEKLY_BY_WEEKDAY: Final[dict[int, dt.date]] = {
    0: dt.date(2016, 8, 22),  # Monday
    1: dt.date(2022, 4, 26),  # Tuesday
    2: dt.date(2016, 3, 2),  # Wednesday
    3: dt.date(2022, 5, 19),  # Thursday (first expiry unverified)
    4: _FIRST_FRIDAY_WEEKLY,  # Friday (third Fridays belong to the monthly series)
}
_MONDAY: Final = 0
_FRIDAY: Final = 4
_QUARTER_END_MONTHS: Final = frozenset({3, 6, 9, 12})


class ExpiryKind(enum.StrEnum):
    """Which contract family an expiry belongs to; the value is the CLI spelling."""

    SPX_AM = "spx"
    """Standard monthly SPX: third Friday, AM-settled on the SOQ (09:30 ET)."""
    SPXW_PM = "spxw"
    """Any PM-settled S&P 500 expiry (SPXW, and SPXQ/SPXPM in their eras): the close."""
    VIX_AM = "vix"
    """VX futures and standard monthly VIX options: AM-settled on the VRO (09:30 ET)."""


@dataclass(frozen=True, slots=True)
class Expiry:
    """One expiry of one contract family.

    Attributes
    ----------
    expiry_date
        The expiration (settlement) day, a session.
    kind
        The contract family.
    settlement
        The settlement instant, timezone-aware ``America/New_York``.
    last_trade_date
        The last session on which the expiring contract trades. This is the previous
        session for SPX AM and VIX, and the expiry day itself for SPXW.
    """

    expiry_date: dt.date
    kind: ExpiryKind
    settlement: dt.datetime
    last_trade_date: dt.date

    def __post_init__(self) -> None:
        if self.settlement.tzinfo is None:
            raise InvalidInputError(f"Expiry.settlement must be timezone-aware: {self!r}")
        if self.settlement.astimezone(NEW_YORK).date() != self.expiry_date:
            raise InvalidInputError(f"Expiry.settlement is not on the expiry day: {self!r}")
        if self.last_trade_date > self.expiry_date:
            raise InvalidInputError(f"Expiry.last_trade_date is after the expiry: {self!r}")


@dataclass(frozen=True, slots=True)
class _Table:
    """Everything read from the exchange calendar, once."""

    sessions: tuple[dt.date, ...]
    session_set: frozenset[dt.date]
    closes: dict[dt.date, dt.time]  # only sessions whose close is not the regular 16:00


@functools.cache
def _table() -> _Table:
    with warnings.catch_warnings():
        # exchange_calendars 4.13 calls Series.values on tz-aware columns while it builds,
        # which pandas 3.1 deprecates (Pandas4Warning). The values it needs are UTC either
        # way; silence exactly that message, only here, so a new warning still fails tests.
        warnings.filterwarnings(
            "ignore",
            message=r"Series\.values returning an ndarray that drops timezone information",
            category=DeprecationWarning,
        )
        cal = xc.get_calendar(
            _EXCHANGE, start=CALENDAR_START.isoformat(), end=CALENDAR_END.isoformat()
        )
    days: list[dt.date] = list(cal.sessions.date)
    local_closes = cal.closes.dt.tz_convert(NEW_YORK.key)
    hours: list[int] = local_closes.dt.hour.tolist()
    minutes: list[int] = local_closes.dt.minute.tolist()
    closes = {
        day: dt.time(h, m)
        for day, h, m in zip(days, hours, minutes, strict=True)
        if dt.time(h, m) != _REGULAR_CLOSE
    }
    return _Table(sessions=tuple(days), session_set=frozenset(days), closes=closes)


def _check_day(day: object, name: str) -> dt.date:
    # datetime (and pandas.Timestamp) subclass date; a time of day here is a caller's bug.
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise InvalidInputError(
            f"{name} must be a datetime.date (not a datetime or string), got {day!r}"
        )
    if not CALENDAR_START <= day <= CALENDAR_END:
        raise CalendarError(
            f"{name}={day.isoformat()} is outside the trading calendar "
            f"({CALENDAR_START.isoformat()}..{CALENDAR_END.isoformat()}, NYSE via "
            "exchange_calendars); use a date inside that range."
        )
    return day


def _check_range(start: dt.date, end: dt.date) -> None:
    _check_day(start, "start")
    _check_day(end, "end")
    if start > end:
        raise InvalidInputError(f"start={start.isoformat()} is after end={end.isoformat()}")


def _check_month(year: int, month: int) -> dt.date:
    if isinstance(year, bool) or not isinstance(year, int):
        raise InvalidInputError(f"year must be an int, got {year!r}")
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise InvalidInputError(f"month must be an int in 1..12, got {month!r}")
    first = dt.date(year, month, 1) if dt.MINYEAR <= year <= dt.MAXYEAR else None
    if first is None or not CALENDAR_START <= first <= CALENDAR_END:
        raise CalendarError(
            f"{year}-{month:02d} is outside the trading calendar "
            f"({CALENDAR_START.isoformat()}..{CALENDAR_END.isoformat()})"
        )
    return first


def _check_session(day: dt.date, name: str) -> dt.date:
    if _check_day(day, name) not in _table().session_set:
        raise CalendarError(
            f"{name}={day.isoformat()} ({day:%A}) is not an NYSE session; "
            "check it with is_session() or move it with previous_session()/next_session()."
        )
    return day


def _slice(days: tuple[dt.date, ...], start: dt.date, end: dt.date) -> list[dt.date]:
    return list(days[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)])


# ---------------------------------------------------------------------------- sessions


def is_session(day: dt.date) -> bool:
    """Whether ``day`` is an NYSE trading session.

    Raises
    ------
    CalendarError
        If ``day`` is outside ``CALENDAR_START``..``CALENDAR_END``.
    """
    return _check_day(day, "day") in _table().session_set


def sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    """Sessions from ``start`` to ``end``, both inclusive, in ascending order.

    Takes O(log n) plus the length of the result. The table is cached, so 1990-2026 takes
    microseconds.
    """
    _check_range(start, end)
    return _slice(_table().sessions, start, end)


def holidays(start: dt.date, end: dt.date) -> list[dt.date]:
    """Weekdays from ``start`` to ``end`` (inclusive) on which the NYSE was or is closed."""
    _check_range(start, end)
    open_days = _table().session_set
    out: list[dt.date] = []
    day = start
    while day <= end:
        if day.weekday() < 5 and day not in open_days:
            out.append(day)
        day += _ONE_DAY
    return out


def previous_session(day: dt.date, *, inclusive: bool = False) -> dt.date:
    """The last session before ``day``, or on it when ``inclusive`` and it is a session.

    Raises
    ------
    CalendarError
        If no such session exists inside the calendar's range.
    """
    days = _table().sessions
    _check_day(day, "day")
    i = (bisect.bisect_right if inclusive else bisect.bisect_left)(days, day) - 1
    if i < 0:
        raise CalendarError(f"no session before {day.isoformat()} in the calendar")
    return days[i]


def next_session(day: dt.date, *, inclusive: bool = False) -> dt.date:
    """The first session after ``day``, or ``day`` itself when ``inclusive`` and a session.

    Raises
    ------
    CalendarError
        If no such session exists inside the calendar's range.
    """
    days = _table().sessions
    _check_day(day, "day")
    i = (bisect.bisect_left if inclusive else bisect.bisect_right)(days, day)
    if i >= len(days):
        raise CalendarError(f"no session after {day.isoformat()} in the calendar")
    return days[i]


def close_time(session: dt.date) -> dt.datetime:
    """The NYSE close of ``session`` in New York time.

    This is 16:00, or 13:00 on early-close days (14:00 before 1993).

    Raises
    ------
    CalendarError
        If ``session`` is not a session.
    """
    _check_session(session, "session")
    local = _table().closes.get(session, _REGULAR_CLOSE)
    return dt.datetime.combine(session, local, tzinfo=NEW_YORK)


def is_early_close(session: dt.date) -> bool:
    """Whether ``session`` closes before the regular 16:00 ET.

    Raises
    ------
    CalendarError
        If ``session`` is not a session.
    """
    _check_session(session, "session")
    return session in _table().closes and _table().closes[session] < _REGULAR_CLOSE


# ---------------------------------------------------------------------------- expiries


def third_friday(year: int, month: int) -> dt.date:
    """The third Friday of ``year``-``month`` (a plain calendar date, holiday or not)."""
    first = _check_month(year, month)
    return first + dt.timedelta(days=(_FRIDAY - first.weekday()) % 7 + 14)


def spx_expiry(year: int, month: int) -> dt.date:
    """Expiry of the standard monthly SPX option for ``year``-``month``.

    This is the third Friday, or the preceding business day when that Friday is a holiday.
    """
    return previous_session(third_friday(year, month), inclusive=True)


def vx_expiry(year: int, month: int) -> dt.date:
    """Final settlement date of the VX future (and monthly VIX option) named ``year``-``month``.

    From contract month 2005-01 this is
    ``previous_session(spx_expiry(next month) - 30 days, inclusive=True)``: the Wednesday
    30 days before the third Friday of the next month, moved for holidays. Earlier months
    use the original 2004 rule, the Wednesday before the contract month's own third Friday.
    See the module docstring. Examples: K04 gives 2004-05-19, N04 2004-07-14, G08
    2008-02-19.
    """
    _check_month(year, month)
    if (year, month) < _VX_30_DAY_RULE_FROM:
        # The original 2004 VX contract (on VXB = 10 x VIX) settled on the Wednesday before
        # the contract month's own third Friday: N04 ended 2004-07-14 and V04 2004-10-13.
        wednesday = third_friday(year, month) - dt.timedelta(days=2)
        return previous_session(wednesday, inclusive=True)
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return previous_session(spx_expiry(next_year, next_month) - _VX_DAYS_BEFORE_SPX, inclusive=True)


def _months() -> list[tuple[int, int]]:
    return [
        (y, m)
        for y in range(CALENDAR_START.year, CALENDAR_END.year + 1)
        for m in range(1, 13)
        if CALENDAR_START <= dt.date(y, m, 1) <= CALENDAR_END
    ]


@functools.cache
def _all_spx() -> tuple[dt.date, ...]:
    return tuple(spx_expiry(y, m) for y, m in _months())


@functools.cache
def _all_vx() -> tuple[dt.date, ...]:
    # The last month's expiry needs the next year's January, past the calendar's end.
    return tuple(vx_expiry(y, m) for y, m in _months()[:-1])


@functools.cache
def _all_spxw() -> tuple[dt.date, ...]:
    table = _table()
    out: set[dt.date] = set()
    # Month-end series: EOQ from 2006-09, EOM from 2014-07; the third-Friday PM series.
    for y, m in _months()[:-1]:
        next_first = dt.date(y + 1, 1, 1) if m == 12 else dt.date(y, m + 1, 1)
        last = previous_session(next_first)
        if last >= _FIRST_EOM or (last >= _FIRST_EOQ and m in _QUARTER_END_MONTHS):
            out.add(last)
        monthly = spx_expiry(y, m)
        if monthly >= _FIRST_THIRD_FRIDAY_PM:
            out.add(monthly)
    # Weekly series: nominal weekday dates from each series' first expiry, holiday-moved.
    day = min(_FIRST_WEEKLY_BY_WEEKDAY.values())
    last_day = CALENDAR_END - dt.timedelta(days=7)
    while day <= last_day:
        weekday = day.weekday()
        first = _FIRST_WEEKLY_BY_WEEKDAY.get(weekday)
        if first is not None and day >= first:
            is_third_friday = weekday == _FRIDAY and 15 <= day.day <= 21
            if not is_third_friday:
                if day in table.session_set:
                    out.add(day)
                elif weekday == _MONDAY:
                    out.add(next_session(day))
                else:
                    out.add(previous_session(day))
        day += _ONE_DAY
    return tuple(sorted(out))


def spx_expiries(start: dt.date, end: dt.date) -> list[dt.date]:
    """Standard monthly SPX (AM) expiries from ``start`` to ``end`` inclusive, ascending."""
    _check_range(start, end)
    return _slice(_all_spx(), start, end)


def spxw_expiries(start: dt.date, end: dt.date) -> list[dt.date]:
    """PM-settled S&P 500 expiries from ``start`` to ``end`` inclusive, ascending.

    The result is the union of the series listed in each era (EOQ, EOW Friday, third-Friday
    PM, EOM, Wednesday, Monday, Tuesday, Thursday), with holiday moves applied. See the
    module docstring for the era dates, the sources and the holiday rules. Before
    2006-09-29 the result is empty: no PM-settled S&P 500 option had been listed yet.
    """
    _check_range(start, end)
    return _slice(_all_spxw(), start, end)


def vx_expiries(start: dt.date, end: dt.date) -> list[dt.date]:
    """VX future / monthly VIX option expiries from ``start`` to ``end`` inclusive, ascending."""
    _check_range(start, end)
    return _slice(_all_vx(), start, end)


def _all_expiries(kind: ExpiryKind) -> tuple[dt.date, ...]:
    if kind is ExpiryKind.SPX_AM:
        return _all_spx()
    if kind is ExpiryKind.SPXW_PM:
        return _all_spxw()
    if kind is ExpiryKind.VIX_AM:
        return _all_vx()
    raise InvalidInputError(f"kind must be an ExpiryKind, got {kind!r}")


def is_expiry(day: dt.date, kind: ExpiryKind) -> bool:
    """Whether ``day`` is an expiry of the ``kind`` family."""
    _check_day(day, "day")
    days = _all_expiries(kind)
    i = bisect.bisect_left(days, day)
    return i < len(days) and days[i] == day


def _check_expiry(expiry_date: dt.date, kind: ExpiryKind) -> None:
    if not is_expiry(expiry_date, kind):
        raise CalendarError(
            f"{expiry_date.isoformat()} ({expiry_date:%A}) is not an expiry of kind "
            f"{kind.name}; list valid ones with expiries({kind.name}, start, end)."
        )


def _settlement(expiry_date: dt.date, kind: ExpiryKind) -> dt.datetime:
    if kind is ExpiryKind.SPXW_PM:
        return close_time(expiry_date)
    return dt.datetime.combine(expiry_date, AM_SETTLEMENT_TIME, tzinfo=NEW_YORK)


def _last_trade(expiry_date: dt.date, kind: ExpiryKind) -> dt.date:
    if kind is ExpiryKind.SPXW_PM:
        return expiry_date
    return previous_session(expiry_date)


def settlement_datetime(expiry_date: dt.date, kind: ExpiryKind) -> dt.datetime:
    """The settlement instant of an expiry, in New York time.

    * ``SPX_AM`` and ``VIX_AM``: 09:30 ET on the expiry day. This is the opening (SOQ) and
      the VRO.
    * ``SPXW_PM``: the SPX close on the expiry day, normally 16:00 ET. On an early-close day
      it is 13:00 ET, because the official close is struck then (for example SPXW expiring
      2019-11-29).

    Raises
    ------
    CalendarError
        If ``expiry_date`` is not an expiry of ``kind``.
    """
    _check_expiry(expiry_date, kind)
    return _settlement(expiry_date, kind)


def last_trade_date(expiry_date: dt.date, kind: ExpiryKind) -> dt.date:
    """The last session on which a contract expiring on ``expiry_date`` trades.

    This is the previous session for ``SPX_AM`` and ``VIX_AM``, which settle at the next
    morning's open, and the expiry day itself for ``SPXW_PM``.

    Raises
    ------
    CalendarError
        If ``expiry_date`` is not an expiry of ``kind``.
    """
    _check_expiry(expiry_date, kind)
    return _last_trade(expiry_date, kind)


def t_years(now: dt.datetime, expiry_date: dt.date, kind: ExpiryKind) -> float:
    """Time from ``now`` to the settlement instant, in years of 525,600 minutes.

    ``T = minutes(now -> settlement_datetime(expiry_date, kind)) / 525_600``, counting real
    elapsed minutes (:func:`vixshield.units.years_between`). The result is negative after
    settlement; callers treat ``T <= 0`` as expired.

    Parameters
    ----------
    now
        A timezone-aware datetime, in any zone.
    expiry_date
        An expiry of ``kind``.
    kind
        The contract family, which fixes the settlement time of day.

    Raises
    ------
    InvalidInputError
        If ``now`` is naive.
    CalendarError
        If ``expiry_date`` is not an expiry of ``kind``.
    """
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise InvalidInputError(
            f"now must be a timezone-aware datetime, got {now!r}; use the Clock's now()."
        )
    return years_between(now, settlement_datetime(expiry_date, kind))


def expiries(kind: ExpiryKind, start: dt.date, end: dt.date) -> list[Expiry]:
    """All expiries of ``kind`` from ``start`` to ``end`` inclusive, ascending by date.

    Each :class:`Expiry` carries its settlement instant and its last trade date. This is
    the function behind ``vixshield calendar``.
    """
    _check_range(start, end)
    out: list[Expiry] = []
    for day in _slice(_all_expiries(kind), start, end):
        out.append(
            Expiry(
                expiry_date=day,
                kind=kind,
                settlement=_settlement(day, kind),
                last_trade_date=_last_trade(day, kind),
            )
        )
    return out
