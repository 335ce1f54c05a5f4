"""Sessions and expiries against hand-listed dates.

Every expected value below was written by hand from a named source: the NYSE holiday
schedule, Cboe notices and circulars quoted in the module docstring, CFE files, or day
counting on a paper calendar. None was produced by the code under test.
"""

from __future__ import annotations

import datetime as dt

import pytest

from vixshield.calendar import (
    Expiry,
    ExpiryKind,
    close_time,
    expiries,
    holidays,
    is_early_close,
    is_expiry,
    is_session,
    last_trade_date,
    next_session,
    previous_session,
    sessions,
    settlement_datetime,
    spx_expiries,
    spx_expiry,
    spxw_expiries,
    t_years,
    third_friday,
    vx_expiries,
    vx_expiry,
)
from vixshield.errors import CalendarError, InvalidInputError
from vixshield.units import NEW_YORK

D = dt.date


def ny(y: int, m: int, d: int, hh: int, mm: int) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=NEW_YORK)


# ------------------------------------------------------------------------------ sessions


@pytest.mark.parametrize(
    "day",
    [
        pytest.param(D(2019, 1, 1), id="new-year-2019"),
        pytest.param(D(2019, 1, 21), id="mlk-2019"),
        pytest.param(D(2019, 2, 18), id="presidents-2019"),
        pytest.param(D(2019, 4, 19), id="good-friday-2019"),
        pytest.param(D(2014, 4, 18), id="good-friday-2014"),
        pytest.param(D(2019, 5, 27), id="memorial-2019"),
        pytest.param(D(2019, 7, 4), id="independence-2019"),
        pytest.param(D(2019, 9, 2), id="labor-2019"),
        pytest.param(D(2019, 11, 28), id="thanksgiving-2019"),
        pytest.param(D(2019, 12, 25), id="christmas-2019"),
        pytest.param(D(2022, 6, 20), id="juneteenth-observed-2022"),
        pytest.param(D(2026, 6, 19), id="juneteenth-2026"),
        pytest.param(D(1985, 9, 27), id="hurricane-gloria"),
        pytest.param(D(1994, 4, 27), id="nixon"),
        pytest.param(D(2001, 9, 11), id="sept-11"),
        pytest.param(D(2001, 9, 12), id="sept-12"),
        pytest.param(D(2001, 9, 13), id="sept-13"),
        pytest.param(D(2001, 9, 14), id="sept-14"),
        pytest.param(D(2004, 6, 11), id="reagan"),
        pytest.param(D(2007, 1, 2), id="ford"),
        pytest.param(D(2012, 10, 29), id="sandy-1"),
        pytest.param(D(2012, 10, 30), id="sandy-2"),
        pytest.param(D(2018, 12, 5), id="bush"),
        pytest.param(D(2025, 1, 9), id="carter"),
        pytest.param(D(2019, 7, 6), id="saturday"),
        pytest.param(D(2019, 7, 7), id="sunday"),
    ],
)
def test_holidays_and_closures_are_not_sessions(day: dt.date) -> None:
    assert not is_session(day)


@pytest.mark.parametrize(
    "day",
    [
        D(2019, 7, 3),  # early close, still a session
        D(2019, 7, 5),
        D(2001, 9, 10),
        D(2001, 9, 17),  # reopened after 9/11
        D(2012, 10, 31),  # reopened after Sandy
        D(2018, 12, 4),
        D(2018, 12, 6),
        D(2019, 10, 14),  # Columbus Day: NYSE open
        D(2019, 11, 11),  # Veterans Day: NYSE open
        D(2019, 11, 29),  # day after Thanksgiving
    ],
)
def test_ordinary_and_federal_holiday_weekdays_are_sessions(day: dt.date) -> None:
    assert is_session(day)


@pytest.mark.parametrize(
    ("year", "count"),
    [(2001, 248), (2012, 250), (2018, 251), (2019, 252)],
)
def test_sessions_per_year(year: int, count: int) -> None:
    # 2001 lost four days to 9/11, 2012 two to Sandy, 2018 one to the Bush funeral.
    assert len(sessions(D(year, 1, 1), D(year, 12, 31))) == count


def test_holidays_of_2019() -> None:
    assert holidays(D(2019, 1, 1), D(2019, 12, 31)) == [
        D(2019, 1, 1),
        D(2019, 1, 21),
        D(2019, 2, 18),
        D(2019, 4, 19),
        D(2019, 5, 27),
        D(2019, 7, 4),
        D(2019, 9, 2),
        D(2019, 11, 28),
        D(2019, 12, 25),
    ]


def test_sessions_are_inclusive_dates() -> None:
    assert sessions(D(2019, 7, 1), D(2019, 7, 8)) == [
        D(2019, 7, 1),
        D(2019, 7, 2),
        D(2019, 7, 3),
        D(2019, 7, 5),
        D(2019, 7, 8),
    ]
    assert sessions(D(2012, 10, 26), D(2012, 11, 1)) == [
        D(2012, 10, 26),
        D(2012, 10, 31),
        D(2012, 11, 1),
    ]
    assert sessions(D(2019, 7, 6), D(2019, 7, 7)) == []
    assert all(type(day) is dt.date for day in sessions(D(1990, 1, 1), D(2026, 12, 31)))


def test_sessions_refuses_a_reversed_range() -> None:
    with pytest.raises(InvalidInputError, match="after end"):
        sessions(D(2019, 7, 8), D(2019, 7, 1))


@pytest.mark.parametrize(
    ("day", "previous", "following"),
    [
        (D(2019, 7, 4), D(2019, 7, 3), D(2019, 7, 5)),
        (D(2019, 7, 5), D(2019, 7, 3), D(2019, 7, 8)),
        (D(2012, 10, 29), D(2012, 10, 26), D(2012, 10, 31)),
        (D(2001, 9, 17), D(2001, 9, 10), D(2001, 9, 18)),
        (D(2018, 12, 5), D(2018, 12, 4), D(2018, 12, 6)),
    ],
)
def test_previous_and_next_session(day: dt.date, previous: dt.date, following: dt.date) -> None:
    assert previous_session(day) == previous
    assert next_session(day) == following


def test_inclusive_session_steps() -> None:
    assert previous_session(D(2019, 7, 5), inclusive=True) == D(2019, 7, 5)
    assert previous_session(D(2019, 7, 6), inclusive=True) == D(2019, 7, 5)
    assert next_session(D(2019, 7, 5), inclusive=True) == D(2019, 7, 5)
    assert next_session(D(2019, 7, 4), inclusive=True) == D(2019, 7, 5)


@pytest.mark.parametrize(
    ("day", "hour"),
    [
        (D(2019, 7, 3), 13),  # eve of Independence Day
        (D(2019, 11, 29), 13),  # day after Thanksgiving
        (D(2019, 12, 24), 13),  # Christmas Eve
        (D(2013, 7, 3), 13),  # an ad hoc early close (a Wednesday)
        (D(2019, 7, 2), 16),
        (D(2019, 7, 5), 16),
        (D(2019, 12, 31), 16),
    ],
)
def test_close_time(day: dt.date, hour: int) -> None:
    close = close_time(day)
    assert close == ny(day.year, day.month, day.day, hour, 0)
    assert close.utcoffset() == dt.timedelta(hours=-5 if day.month >= 11 else -4)  # EST from Nov 3
    assert is_early_close(day) is (hour == 13)


def test_close_time_of_an_early_close_in_utc() -> None:
    # 13:00 EDT is 17:00 UTC.
    assert close_time(D(2019, 7, 3)).astimezone(dt.UTC) == dt.datetime(
        2019, 7, 3, 17, 0, tzinfo=dt.UTC
    )


@pytest.mark.parametrize("day", [D(2019, 7, 4), D(2012, 10, 29), D(2019, 7, 6)])
def test_close_time_of_a_non_session_is_refused(day: dt.date) -> None:
    with pytest.raises(CalendarError, match="not an NYSE session"):
        close_time(day)
    with pytest.raises(CalendarError, match="not an NYSE session"):
        is_early_close(day)


def test_dates_outside_the_calendar_are_refused() -> None:
    with pytest.raises(CalendarError, match="outside the trading calendar"):
        is_session(D(1900, 1, 2))
    with pytest.raises(CalendarError, match="outside the trading calendar"):
        sessions(D(1990, 1, 1), D(2100, 1, 1))
    with pytest.raises(CalendarError, match="outside the trading calendar"):
        spx_expiry(1900, 1)
    with pytest.raises(CalendarError, match="outside the trading calendar"):
        vx_expiry(2040, 12)  # needs January 2041


def test_wrong_types_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"datetime\.date"):
        is_session(dt.datetime(2019, 7, 3, 12, 0, tzinfo=NEW_YORK))
    with pytest.raises(InvalidInputError, match=r"datetime\.date"):
        is_session("2019-07-03")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="month"):
        spx_expiry(2019, 13)
    with pytest.raises(InvalidInputError, match="year"):
        spx_expiry(2019.0, 1)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ SPX monthlies


def test_third_friday_is_a_plain_calendar_date() -> None:
    assert third_friday(2014, 4) == D(2014, 4, 18)  # Good Friday, still the third Friday
    assert third_friday(2019, 6) == D(2019, 6, 21)  # June 2019 starts on a Saturday
    assert third_friday(2019, 11) == D(2019, 11, 15)  # November 2019 starts on a Friday


@pytest.mark.parametrize(
    ("year", "month", "expiry"),
    [
        (2019, 1, D(2019, 1, 18)),
        (2019, 7, D(2019, 7, 19)),
        (2008, 3, D(2008, 3, 20)),  # Good Friday 2008-03-21 was the third Friday
        (2014, 4, D(2014, 4, 17)),  # Good Friday 2014-04-18
        (2019, 4, D(2019, 4, 18)),  # Good Friday 2019-04-19
        (2022, 4, D(2022, 4, 14)),  # Good Friday 2022-04-15 (April 1 was a Friday)
        (2025, 4, D(2025, 4, 17)),  # Good Friday 2025-04-18
        (2026, 6, D(2026, 6, 18)),  # Juneteenth 2026-06-19
    ],
)
def test_spx_monthly_expiry(year: int, month: int, expiry: dt.date) -> None:
    assert spx_expiry(year, month) == expiry


def test_spx_expiries_2019() -> None:
    assert spx_expiries(D(2019, 1, 1), D(2019, 12, 31)) == [
        D(2019, 1, 18),
        D(2019, 2, 15),
        D(2019, 3, 15),
        D(2019, 4, 18),
        D(2019, 5, 17),
        D(2019, 6, 21),
        D(2019, 7, 19),
        D(2019, 8, 16),
        D(2019, 9, 20),
        D(2019, 10, 18),
        D(2019, 11, 15),
        D(2019, 12, 20),
    ]


# --------------------------------------------------------------------------- VX / VIX


@pytest.mark.parametrize(
    ("year", "month", "expiry"),
    [
        (2004, 5, D(2004, 5, 19)),  # K04, the first VX contract
        (2004, 7, D(2004, 7, 14)),  # N04: original 2004 rule (file CFE_N04_VX.csv)
        (2004, 10, D(2004, 10, 13)),  # V04: original 2004 rule (file CFE_V04_VX.csv)
        (2004, 11, D(2004, 11, 17)),  # X04: both rules agree
        (2005, 12, D(2005, 12, 21)),  # Z05: 30-day rule (file CFE_Z05_VX.csv)
        (2008, 2, D(2008, 2, 19)),  # 30 days before Thu 2008-03-20 (Good Friday 03-21)
        (2014, 3, D(2014, 3, 18)),  # 30 days before Thu 2014-04-17 (Good Friday 04-18)
        (2019, 7, D(2019, 7, 17)),
        (2024, 6, D(2024, 6, 18)),  # Wed 2024-06-19 is Juneteenth: preceding business day
        (2026, 5, D(2026, 5, 19)),  # 30 days before Thu 2026-06-18 (Juneteenth Friday)
    ],
)
def test_vx_expiry(year: int, month: int, expiry: dt.date) -> None:
    assert vx_expiry(year, month) == expiry


def test_vx_expiries_2014_2015() -> None:
    # reference/CBOE.md section 9 list, with 2014-03-19 corrected to 2014-03-18: the CFE
    # file CFE_H14_VX.csv ends on 2014-03-18 (Good Friday 2014-04-18 moves the rule).
    assert vx_expiries(D(2014, 1, 1), D(2015, 4, 30)) == [
        D(2014, 1, 22),
        D(2014, 2, 19),
        D(2014, 3, 18),
        D(2014, 4, 16),
        D(2014, 5, 21),
        D(2014, 6, 18),
        D(2014, 7, 16),
        D(2014, 8, 20),
        D(2014, 9, 17),
        D(2014, 10, 22),
        D(2014, 11, 19),
        D(2014, 12, 17),
        D(2015, 1, 21),
        D(2015, 2, 18),
        D(2015, 3, 18),
        D(2015, 4, 15),
    ]


def test_vx_expiry_falls_in_its_contract_month_on_a_tuesday_or_wednesday() -> None:
    for year in range(2004, 2031):
        for month in range(1, 13):
            expiry = vx_expiry(year, month)
            assert (expiry.year, expiry.month) == (year, month)
            assert expiry.weekday() in (1, 2), expiry


# ------------------------------------------------------------------------------- SPXW


def test_spxw_matches_the_cboe_august_2016_listing() -> None:
    # Cboe options-hub blog 2016-08-17: the SPX expirations listed through 2016-09-09, with
    # Tue 2016-09-06 standing in for Labor Day Monday. Fri 2016-08-19 was the third Friday:
    # the blog lists only AM SPX there, but PM-settled SPXpm also expired that day.
    assert spxw_expiries(D(2016, 8, 12), D(2016, 9, 9)) == [
        D(2016, 8, 12),
        D(2016, 8, 17),
        D(2016, 8, 19),  # SPXpm third Friday
        D(2016, 8, 22),  # first Monday weekly
        D(2016, 8, 24),
        D(2016, 8, 26),
        D(2016, 8, 29),
        D(2016, 8, 31),  # Wednesday and EOM
        D(2016, 9, 2),
        D(2016, 9, 6),  # Labor Day Monday moved forward to Tuesday
        D(2016, 9, 7),
        D(2016, 9, 9),
    ]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(D(2000, 1, 1), D(2006, 9, 28), [], id="nothing-PM-before-the-first-quarterly"),
        pytest.param(
            D(2006, 1, 1),
            D(2007, 12, 31),
            [
                D(2006, 9, 29),
                D(2006, 12, 29),
                D(2007, 3, 30),
                D(2007, 6, 29),
                D(2007, 9, 28),
                D(2007, 12, 31),
            ],
            id="quarterlys-only",
        ),
        pytest.param(
            D(2010, 11, 1),
            D(2010, 12, 31),
            # 12-10 first PM weekly; 12-17 third Friday (AM only in 2010); Fri 12-24 closed
            # (Christmas observed) moves to Thu 12-23; 12-31 Friday and quarter end.
            [D(2010, 12, 10), D(2010, 12, 23), D(2010, 12, 31)],
            id="first-pm-friday-weeklys",
        ),
        pytest.param(
            D(2012, 4, 2),
            D(2012, 4, 30),
            # Good Friday 2012-04-06 moves to Thu 04-05; 04-20 is the SPXpm third Friday.
            [D(2012, 4, 5), D(2012, 4, 13), D(2012, 4, 20), D(2012, 4, 27)],
            id="good-friday-weekly-2012",
        ),
        pytest.param(
            D(2016, 2, 22),
            D(2016, 3, 4),
            # Leap-year EOM on Monday 02-29; first Wednesday expiry 2016-03-02.
            [D(2016, 2, 26), D(2016, 2, 29), D(2016, 3, 2), D(2016, 3, 4)],
            id="first-wednesdays",
        ),
        pytest.param(
            D(2018, 12, 3),
            D(2018, 12, 7),
            # Cboe circular C2018120300: Wednesday 12-05 weeklys expired Tuesday 12-04.
            [D(2018, 12, 3), D(2018, 12, 4), D(2018, 12, 7)],
            id="bush-funeral-wednesday",
        ),
        pytest.param(
            D(2019, 1, 21),
            D(2019, 1, 25),
            [D(2019, 1, 22), D(2019, 1, 23), D(2019, 1, 25)],
            id="mlk-monday-moves-to-tuesday",
        ),
        pytest.param(
            D(2019, 12, 23),
            D(2019, 12, 27),
            [D(2019, 12, 23), D(2019, 12, 24), D(2019, 12, 27)],
            id="christmas-wednesday-moves-to-tuesday",
        ),
        pytest.param(
            D(2022, 4, 18),
            D(2022, 4, 29),
            [
                D(2022, 4, 18),
                D(2022, 4, 20),
                D(2022, 4, 22),
                D(2022, 4, 25),
                D(2022, 4, 26),  # first Tuesday expiry
                D(2022, 4, 27),
                D(2022, 4, 29),
            ],
            id="first-tuesdays",
        ),
        pytest.param(
            D(2022, 5, 9),
            D(2022, 5, 20),
            [
                D(2022, 5, 9),
                D(2022, 5, 10),
                D(2022, 5, 11),
                D(2022, 5, 13),
                D(2022, 5, 16),
                D(2022, 5, 17),
                D(2022, 5, 18),
                D(2022, 5, 19),  # first Thursday expiry
                D(2022, 5, 20),
            ],
            id="first-thursdays",
        ),
        pytest.param(
            D(2022, 11, 21),
            D(2022, 11, 25),
            [D(2022, 11, 21), D(2022, 11, 22), D(2022, 11, 23), D(2022, 11, 25)],
            id="thanksgiving-2022",
        ),
        pytest.param(
            D(2025, 1, 6),
            D(2025, 1, 10),
            [D(2025, 1, 6), D(2025, 1, 7), D(2025, 1, 8), D(2025, 1, 10)],
            id="carter-thursday",
        ),
    ],
)
def test_spxw_expiries_by_era(start: dt.date, end: dt.date, expected: list[dt.date]) -> None:
    assert spxw_expiries(start, end) == expected


def test_expiry_kind_parses_cli_spellings() -> None:
    assert ExpiryKind("spx") is ExpiryKind.SPX_AM
    assert ExpiryKind("spxw") is ExpiryKind.SPXW_PM
    assert ExpiryKind("vix") is ExpiryKind.VIX_AM


def test_is_expiry() -> None:
    assert is_expiry(D(2014, 4, 17), ExpiryKind.SPX_AM)
    assert not is_expiry(D(2014, 4, 18), ExpiryKind.SPX_AM)
    assert is_expiry(D(2014, 3, 18), ExpiryKind.VIX_AM)
    assert not is_expiry(D(2014, 3, 19), ExpiryKind.VIX_AM)
    assert is_expiry(D(2019, 7, 19), ExpiryKind.SPXW_PM)
    assert not is_expiry(D(2019, 7, 18), ExpiryKind.SPXW_PM)  # a Thursday in 2019


# ------------------------------------------------------------- settlement and time to expiry


@pytest.mark.parametrize(
    ("expiry", "kind", "settlement"),
    [
        (D(2019, 7, 19), ExpiryKind.SPX_AM, ny(2019, 7, 19, 9, 30)),
        (D(2019, 7, 19), ExpiryKind.SPXW_PM, ny(2019, 7, 19, 16, 0)),
        (D(2019, 7, 26), ExpiryKind.SPXW_PM, ny(2019, 7, 26, 16, 0)),
        (D(2019, 7, 17), ExpiryKind.VIX_AM, ny(2019, 7, 17, 9, 30)),
        (D(2019, 11, 29), ExpiryKind.SPXW_PM, ny(2019, 11, 29, 13, 0)),  # early close
        (D(2015, 12, 24), ExpiryKind.SPXW_PM, ny(2015, 12, 24, 13, 0)),  # moved + early close
    ],
)
def test_settlement_datetime(expiry: dt.date, kind: ExpiryKind, settlement: dt.datetime) -> None:
    assert settlement_datetime(expiry, kind) == settlement


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (D(2019, 7, 18), ExpiryKind.SPX_AM),
        (D(2019, 7, 19), ExpiryKind.VIX_AM),
        (D(2019, 7, 18), ExpiryKind.SPXW_PM),
        (D(2019, 7, 4), ExpiryKind.SPXW_PM),
    ],
)
def test_settlement_of_a_non_expiry_is_refused(day: dt.date, kind: ExpiryKind) -> None:
    with pytest.raises(CalendarError, match="is not an expiry"):
        settlement_datetime(day, kind)


def test_t_years_from_the_2019_06_26_chain_snapshot() -> None:
    now = ny(2019, 6, 26, 15, 45)
    # SPXW 2019-07-26 16:00: 30 days and 15 minutes = 30 * 1440 + 15 = 43,215 minutes.
    assert t_years(now, D(2019, 7, 26), ExpiryKind.SPXW_PM) == pytest.approx(43_215 / 525_600)
    # SPX AM 2019-07-19 09:30: 23 days less 6 h 15 min = 33,120 - 375 = 32,745 minutes.
    assert t_years(now, D(2019, 7, 19), ExpiryKind.SPX_AM) == pytest.approx(32_745 / 525_600)
    # VIX 2019-07-17 09:30: 21 days less 6 h 15 min = 30,240 - 375 = 29,865 minutes.
    assert t_years(now, D(2019, 7, 17), ExpiryKind.VIX_AM) == pytest.approx(29_865 / 525_600)


def test_t_years_is_the_same_instant_in_any_zone() -> None:
    utc = dt.datetime(2019, 6, 26, 19, 45, tzinfo=dt.UTC)  # 15:45 EDT
    assert t_years(utc, D(2019, 7, 26), ExpiryKind.SPXW_PM) == pytest.approx(43_215 / 525_600)


def test_t_years_counts_real_minutes_across_dst() -> None:
    # Fri 2019-03-08 16:00 EST to Fri 2019-03-15 16:00 EDT: clocks sprang forward on
    # 2019-03-10, so 7 * 1440 - 60 = 10,020 real minutes (the white paper's wall clock: 10,080).
    now = ny(2019, 3, 8, 16, 0)
    assert t_years(now, D(2019, 3, 15), ExpiryKind.SPXW_PM) == pytest.approx(10_020 / 525_600)


def test_t_years_after_settlement_is_negative() -> None:
    now = ny(2019, 7, 26, 16, 30)
    assert t_years(now, D(2019, 7, 26), ExpiryKind.SPXW_PM) == pytest.approx(-30 / 525_600)


def test_t_years_refuses_a_naive_now() -> None:
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        t_years(dt.datetime(2019, 6, 26, 15, 45), D(2019, 7, 26), ExpiryKind.SPXW_PM)  # noqa: DTZ001


# ----------------------------------------------------------------------------- Expiry


def test_expiries_spx_on_good_friday_month() -> None:
    assert expiries(ExpiryKind.SPX_AM, D(2014, 4, 1), D(2014, 4, 30)) == [
        Expiry(
            expiry_date=D(2014, 4, 17),
            kind=ExpiryKind.SPX_AM,
            settlement=ny(2014, 4, 17, 9, 30),
            last_trade_date=D(2014, 4, 16),
        )
    ]


def test_expiries_vix_february_2008() -> None:
    # Tuesday expiry after Presidents' Day: the last trading session is Friday 2008-02-15.
    assert expiries(ExpiryKind.VIX_AM, D(2008, 2, 1), D(2008, 2, 29)) == [
        Expiry(
            expiry_date=D(2008, 2, 19),
            kind=ExpiryKind.VIX_AM,
            settlement=ny(2008, 2, 19, 9, 30),
            last_trade_date=D(2008, 2, 15),
        )
    ]


def test_expiries_spxw_thanksgiving_week_2019() -> None:
    got = expiries(ExpiryKind.SPXW_PM, D(2019, 11, 25), D(2019, 11, 29))
    assert [e.expiry_date for e in got] == [D(2019, 11, 25), D(2019, 11, 27), D(2019, 11, 29)]
    assert [e.last_trade_date for e in got] == [e.expiry_date for e in got]
    assert [e.settlement for e in got] == [
        ny(2019, 11, 25, 16, 0),
        ny(2019, 11, 27, 16, 0),
        ny(2019, 11, 29, 13, 0),
    ]


def test_last_trade_date() -> None:
    assert last_trade_date(D(2026, 6, 18), ExpiryKind.SPX_AM) == D(2026, 6, 17)
    assert last_trade_date(D(2019, 4, 18), ExpiryKind.SPX_AM) == D(2019, 4, 17)
    assert last_trade_date(D(2019, 7, 26), ExpiryKind.SPXW_PM) == D(2019, 7, 26)
    assert last_trade_date(D(2014, 3, 18), ExpiryKind.VIX_AM) == D(2014, 3, 17)


def test_expiry_checks_itself() -> None:
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        Expiry(
            expiry_date=D(2019, 7, 19),
            kind=ExpiryKind.SPX_AM,
            settlement=dt.datetime(2019, 7, 19, 9, 30),  # noqa: DTZ001
            last_trade_date=D(2019, 7, 18),
        )
    with pytest.raises(InvalidInputError, match="not on the expiry day"):
        Expiry(
            expiry_date=D(2019, 7, 19),
            kind=ExpiryKind.SPX_AM,
            settlement=ny(2019, 7, 18, 9, 30),
            last_trade_date=D(2019, 7, 18),
        )
    with pytest.raises(InvalidInputError, match="after the expiry"):
        Expiry(
            expiry_date=D(2019, 7, 19),
            kind=ExpiryKind.SPX_AM,
            settlement=ny(2019, 7, 19, 9, 30),
            last_trade_date=D(2019, 7, 22),
        )
