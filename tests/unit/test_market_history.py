"""MarketHistory: alignment on sessions, no look-ahead, nothing filled in, model flags kept."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from vixshield.clock import FixedClock
from vixshield.data.market import LookaheadError, MarketHistory, stamp
from vixshield.errors import DataError, InvalidInputError
from vixshield.units import NEW_YORK

# 2019-07-01..2019-07-10: sessions 1, 2, 3 (early close), 5, 8, 9, 10 (4 July is a holiday).
SESSIONS = pd.to_datetime(
    [
        "2019-07-01",
        "2019-07-02",
        "2019-07-03",
        "2019-07-05",
        "2019-07-08",
        "2019-07-09",
        "2019-07-10",
    ]
)


def _spx() -> pd.DataFrame:
    close = np.linspace(2950.0, 2980.0, len(SESSIONS))
    return pd.DataFrame(
        {
            "date": SESSIONS,
            "open": close - 1,
            "high": close + 5,
            "low": close - 5,
            "close": close,
            "modelled": False,
        }
    )


def _index(values: list[float], dates: pd.DatetimeIndex, *, modelled: bool = False) -> pd.DataFrame:
    return pd.DataFrame({"date": dates, "close": values, "modelled": modelled})


def _history(**kw: object) -> MarketHistory:
    vix = _index([15.0, 14.5, 13.0, 13.3, 14.0, 14.2, 13.9], SESSIONS)
    vix3m = _index([17.0, 16.5, 15.5], SESSIONS[:3], modelled=True)
    events = pd.DataFrame(
        {
            "date": pd.to_datetime(["2019-07-04", "2019-07-11", "2019-07-10"]),
            "event": ["ppi", "cpi", "fomc_minutes"],
        }
    )
    return MarketHistory.from_frames(
        spx=_spx(), indices={"vix": vix, "vix3m": vix3m}, events=events, **kw
    )


def test_snapshot_values_flags_and_absences() -> None:
    h = _history()
    s = h.snapshot(date(2019, 7, 5), clock=FixedClock(stamp(date(2019, 7, 5))))
    assert s.spx.close == pytest.approx(2965.0)
    assert s.index("vix") == 13.3
    assert s.index("vix3m") is None  # no value that day: absent, not carried forward
    assert s.breadth is None
    assert s.rate is None
    early = h.snapshot(date(2019, 7, 3), clock=FixedClock(stamp(date(2019, 7, 3))))
    assert early.indices["vix3m"].modelled
    assert "vix3m" in early.modelled_fields()
    # No futures: the VX curve is the flagged model fallback from the VIX term structure.
    assert early.vx_curve
    assert all(p.modelled for p in early.vx_curve)


def test_event_distances_count_sessions() -> None:
    s = _history().snapshot(date(2019, 7, 1), clock=FixedClock(stamp(date(2019, 7, 10))))
    # PPI on the 4 July holiday counts from the next session (7-05): sessions 7-01 -> 7-05 = 3.
    # CPI on 2019-07-11 is after the history's last session; it is scheduled, so it still
    # counts on the exchange calendar: 7-01, 02, 03, 05, 08, 09, 10, 11 -> 7.
    # FOMC minutes are not a decision: no "fomc" entry.
    assert s.trading_days_to == {"ppi": 3, "cpi": 7}


def test_lookahead_is_refused() -> None:
    h = _history()
    session = date(2019, 7, 3)  # early close: data stamped 13:15
    assert stamp(session) == datetime(2019, 7, 3, 13, 15, tzinfo=NEW_YORK)
    with pytest.raises(LookaheadError, match="after the clock"):
        h.snapshot(session, clock=FixedClock(datetime(2019, 7, 3, 13, 14, tzinfo=NEW_YORK)))
    assert h.snapshot(session, clock=FixedClock(datetime(2019, 7, 3, 13, 15, tzinfo=NEW_YORK)))


def test_upto_cuts_every_series() -> None:
    h = _history().upto(date(2019, 7, 3))
    assert h.sessions[-1] == date(2019, 7, 3)
    assert pd.to_datetime(h.curve["date"]).max() <= pd.Timestamp("2019-07-03")
    with pytest.raises(DataError, match="not a session"):
        h.position(date(2019, 7, 5))


def test_snapshots_walk_is_stamped_at_each_close() -> None:
    snaps = list(_history().snapshots(date(2019, 7, 2), date(2019, 7, 5)))
    assert [s.session for s in snaps] == [date(2019, 7, 2), date(2019, 7, 3), date(2019, 7, 5)]
    assert [s.as_of for s in snaps] == [stamp(s.session) for s in snaps]


def test_snapshot_is_read_only() -> None:
    s = next(_history().snapshots())
    with pytest.raises(TypeError):
        s.indices["vix"] = s.indices["vix"]  # type: ignore[index]


def test_bad_inputs() -> None:
    with pytest.raises(DataError, match="unknown index"):
        MarketHistory.from_frames(spx=_spx(), indices={"vxx": _index([1.0], SESSIONS[:1])})
    with pytest.raises(DataError, match="empty"):
        MarketHistory.from_frames(spx=_spx().iloc[:0])
    bad = _spx()
    bad.loc[2, "close"] = -1.0
    with pytest.raises(InvalidInputError, match="close"):
        next(iter(MarketHistory.from_frames(spx=bad).snapshots(date(2019, 7, 3))))


def test_model_chain_when_no_real_chain_is_stored() -> None:
    h = _history()
    day = date(2019, 7, 5)
    chain = h.spx_chain(day, clock=FixedClock(stamp(day)), rate=0.02, div_yield=0.018)
    assert chain["modelled"].all()
    assert set(chain["right"]) == {"C", "P"}
    assert (chain["quote_time"].dt.date == day).all()
    with pytest.raises(LookaheadError):
        h.spx_chain(day, clock=FixedClock(stamp(day) - pd.Timedelta(minutes=1)), rate=0.02,
                    div_yield=0.018)  # fmt: skip


def test_stored_real_chain_wins_and_is_cut_by_upto() -> None:
    day = date(2019, 7, 5)
    quote = pd.Timestamp("2019-07-05 15:45", tz="America/New_York")
    real = pd.DataFrame(
        {
            "quote_time": [quote, quote],
            "expiry": [date(2019, 7, 19)] * 2,
            "settlement": ["AM", "AM"],
            "root": ["SPX", "SPX"],
            "strike": [2950.0, 2950.0],
            "right": ["C", "P"],
            "bid": [30.0, 12.0],
            "ask": [31.0, 12.6],
            "modelled": [False, False],
        }
    )
    vix = _index([15.0, 14.5, 13.0, 13.3, 14.0, 14.2, 13.9], SESSIONS)
    h = MarketHistory.from_frames(spx=_spx(), indices={"vix": vix}, chains=[real])
    got = h.spx_chain(day, clock=FixedClock(stamp(day)), rate=0.02, div_yield=0.018)
    assert not got["modelled"].any()
    assert len(got) == 2
    assert day not in h.upto(date(2019, 7, 3)).real_chains


def test_default_market_flags_every_datum() -> None:
    from vixshield.data.synthetic import synthetic_market

    market = synthetic_market(date(2019, 1, 2), date(2019, 3, 29), seed=3)
    h = MarketHistory.from_synthetic(market)
    s = h.snapshot(date(2019, 3, 29), clock=FixedClock(stamp(date(2019, 3, 29))))
    assert s.spx.modelled
    assert s.breadth is not None
    assert s.breadth.modelled
    assert s.rate is not None
    assert s.rate.modelled
    assert all(d.modelled for d in s.indices.values())
    assert all(p.modelled for p in s.vx_curve)
    assert set(s.trading_days_to) == {"fomc", "cpi", "ppi"}


def test_event_distance_unknown_before_the_calendar_starts() -> None:
    # The calendar's first CPI is 2019-09-20: sessions more than 45 days before it cannot
    # know the schedule, so their distance is unknown rather than "81 days to 2019-09-20".
    events = pd.DataFrame({"date": pd.to_datetime(["2019-09-20"]), "event": ["cpi"]})
    h = MarketHistory.from_frames(spx=_spx(), events=events)
    s = h.snapshot(date(2019, 7, 1), clock=FixedClock(stamp(date(2019, 7, 1))))
    assert "cpi" not in s.trading_days_to
    near = pd.DataFrame({"date": pd.to_datetime(["2019-07-11"]), "event": ["cpi"]})
    h = MarketHistory.from_frames(spx=_spx(), events=near)
    s = h.snapshot(date(2019, 7, 1), clock=FixedClock(stamp(date(2019, 7, 1))))
    assert s.trading_days_to["cpi"] == 7
