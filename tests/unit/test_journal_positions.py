"""Fills, book snapshots, book rebuilding, marks, hedge activations and the book's equity, on
SQLite and PostgreSQL (``journal_url``); every expected number is worked out by hand."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from vixshield.domain.decisions import Action, DayDecision, Layer, OrderIntent
from vixshield.domain.positions import Book, EquityHolding, Leg, OptionContract, Right, Structure
from vixshield.errors import JournalError
from vixshield.journal import FAILED, SUCCEEDED, FillInput, FillRecord, Journal
from vixshield.journal.models import (
    FillRow,
    HedgeActivationRow,
    MarkRow,
    PositionEquityRow,
    PositionLegRow,
    PositionSnapshotRow,
)

D0, D1, D2, D3, D4, D5 = (date(2018, 3, d) for d in (1, 2, 5, 6, 7, 8))
SPX_APR = date(2018, 4, 20)  # standard monthly (AM)
SPXW_MAR9 = date(2018, 3, 9)  # a PM weekly
VIX_APR = date(2018, 4, 18)
NOW = datetime(2018, 3, 1, 21, 15, tzinfo=UTC)


def spx(strike: float, right: str, expiry: date = SPX_APR) -> OptionContract:
    return OptionContract("SPX", expiry, strike, Right(right))


def vix(strike: float, right: str = "C") -> OptionContract:
    return OptionContract("VIX", VIX_APR, strike, Right(right))


P2700, P2675, C2900, C2925 = spx(2700, "P"), spx(2675, "P"), spx(2900, "C"), spx(2925, "C")


def condor(fees: float = 0.0) -> Book:
    """One iron condor opened at a 2.00 credit: 3.00 - 1.50 + 1.00 - 0.50 (cash +200)."""
    legs = (Leg(P2700, -1, 3.0), Leg(P2675, 1, 1.5), Leg(C2900, -1, 1.0), Leg(C2925, 1, 0.5))
    return Book(
        structures=(Structure("IC", legs),),
        fees_usd={"IC": fees} if fees else {},
        opened={"IC": D0},
    )


@pytest.fixture
def journal(journal_url: str) -> Iterator[Journal]:
    j = Journal.open(journal_url)
    yield j
    j.close()


def legs_of(book: Book) -> dict[str, dict[str, tuple[int, float]]]:
    """structure -> contract label -> (quantity, price), prices rounded to 1e-9."""
    return {
        s.name: {leg.contract.label(): (leg.quantity, round(leg.price, 9)) for leg in s.legs}
        for s in book.structures
    }


# --------------------------------------------------------------------------------------------
# Fills


def test_fills_round_trip_in_trade_date_order(journal: Journal) -> None:
    recorded = journal.record_fills(
        [
            FillInput(D2, "IC", P2700, -1, 3.25, fees_usd=1.3, note="adjust"),
            FillInput(D1, "VIXC", vix(20), 5, 1.2, fees_usd=6.5),
        ],
        now=NOW,
    )
    (later,) = journal.record_fills([FillInput(D1, "IC", C2900, 1, 0.4)], now=NOW)
    assert [type(r) for r in recorded] == [FillRecord, FillRecord]
    first, second = recorded
    assert first.id < second.id < later.id
    assert first.recorded_at == NOW
    assert first.contract == P2700
    assert (first.trade_date, first.structure, first.quantity, first.price) == (D2, "IC", -1, 3.25)
    assert (first.fees_usd, first.note) == (1.3, "adjust")
    assert later.fees_usd == 0.0
    assert later.note == ""
    # by trade date, then id
    assert [f.id for f in journal.fills()] == [second.id, later.id, first.id]
    assert journal.fills() == [second, later, first]
    assert [f.id for f in journal.fills(since=D2)] == [first.id]
    assert [f.id for f in journal.fills(until=D1)] == [second.id, later.id]
    assert journal.fills(since=D3) == []
    assert first.to_json() == {
        "id": first.id,
        "recorded_at": "2018-03-01T21:15:00+00:00",
        "trade_date": "2018-03-05",
        "structure": "IC",
        "contract": "SPX 2018-04-20 2700P",
        "root": "SPX",
        "expiry": "2018-04-20",
        "strike": 2700.0,
        "right": "P",
        "quantity": -1,
        "price": 3.25,
        "fees_usd": 1.3,
        "note": "adjust",
    }
    json.dumps(first.to_json(), allow_nan=False)
    assert first.cash_usd == pytest.approx(325.0 - 1.3)
    assert journal.record_fills([]) == []


@pytest.mark.parametrize(
    ("field", "fill", "message"),
    [
        ("quantity", FillInput(D1, "IC", P2700, 0, 1.0), "not 0"),
        ("quantity", FillInput(D1, "IC", P2700, 1.5, 1.0), "whole number"),  # type: ignore[arg-type]
        ("quantity", FillInput(D1, "IC", P2700, True, 1.0), "whole number"),
        ("price", FillInput(D1, "IC", P2700, 1, -0.05), ">= 0"),
        ("price", FillInput(D1, "IC", P2700, 1, math.nan), "finite"),
        ("fees_usd", FillInput(D1, "IC", P2700, 1, 1.0, fees_usd=-1.0), ">= 0"),
        ("fees_usd", FillInput(D1, "IC", P2700, 1, 1.0, fees_usd=math.inf), "finite"),
        ("structure", FillInput(D1, "  ", P2700, 1, 1.0), "non-empty"),
        ("contract", FillInput(D1, "IC", spx(2700, "P", date(2018, 4, 19)), 1, 1.0), "listed"),
        (
            "contract",
            FillInput(D1, "IC", OptionContract("SPX", SPX_APR, 2700, Right.PUT, 10), 1, 1.0),
            "multiplier",
        ),
        ("trade_date", FillInput(date(2018, 4, 23), "IC", P2700, 1, 1.0), "after the contract"),
        ("trade_date", FillInput(NOW, "IC", P2700, 1, 1.0), "not a date"),
    ],
)
def test_a_bad_fill_refuses_the_whole_batch_naming_index_and_field(
    journal: Journal, field: str, fill: FillInput, message: str
) -> None:
    good = FillInput(D1, "IC", P2700, -1, 3.0)
    with pytest.raises(JournalError, match=r"fills\[1\]\." + field + ".*" + message) as err:
        journal.record_fills([good, fill, good])
    assert "nothing was recorded" in str(err.value)
    assert "fills[0]" not in str(err.value)
    assert "fills[2]" not in str(err.value)
    assert journal.fills() == []


def test_every_bad_fill_is_listed(journal: Journal) -> None:
    with pytest.raises(JournalError, match="2 bad value") as err:
        journal.record_fills(
            [
                FillInput(D1, "IC", P2700, 1, -1.0),
                FillInput(D1, "IC", P2700, 1, 1.0),
                FillInput(D1, "IC", P2700, 0, 1.0),
            ]
        )
    assert "fills[0].price" in str(err.value)
    assert "fills[2].quantity" in str(err.value)


# --------------------------------------------------------------------------------------------
# Snapshots and rebuilding the book


def test_a_snapshot_round_trips(journal: Journal) -> None:
    spread = Structure("VIXC", (Leg(vix(20), 2, 1.2), Leg(vix(30), -2, 0.45)))
    book = Book(
        structures=(condor(fees=5.2).structures[0], spread),
        equities=(EquityHolding("SPY", 100, 270.5), EquityHolding("QQQ", 10.5, 170.0)),
        equity_betas={"SPY": 1.0},
        fees_usd={"IC": 5.2, "VIXC": 2.6},
        opened={"IC": D0, "VIXC": date(2018, 2, 27)},
    )
    snapshot = journal.record_positions(book, as_of=D1, note="broker export", now=NOW)
    assert isinstance(snapshot, int)
    back = journal.book(D1)
    assert back == book
    assert legs_of(back) == legs_of(book)
    assert dict(back.fees_usd) == {"IC": 5.2, "VIXC": 2.6}
    assert dict(back.opened) == {"IC": D0, "VIXC": date(2018, 2, 27)}
    assert back.equities == book.equities
    assert dict(back.equity_betas) == {"SPY": 1.0}
    # the fees sit on each structure's first leg
    with journal._sessions() as s:
        fees = s.execute(
            select(PositionLegRow.structure, PositionLegRow.fees_usd).order_by(PositionLegRow.id)
        ).all()
        snap = s.get(PositionSnapshotRow, snapshot)
        assert snap is not None
        assert (snap.as_of, snap.note, snap.recorded_at) == (D1, "broker export", NOW)
    assert [tuple(r) for r in fees] == [
        ("IC", 5.2),
        ("IC", 0.0),
        ("IC", 0.0),
        ("IC", 0.0),
        ("VIXC", 2.6),
        ("VIXC", 0.0),
    ]
    # before the snapshot: nothing; later: the same book
    assert journal.book(D0) == Book()
    assert journal.book(D3) == book


def test_a_snapshot_refuses_what_it_cannot_store(journal: Journal) -> None:
    base = condor()
    with pytest.raises(JournalError, match=r"fees_usd\['IC'\].*>= 0"):
        journal.record_positions(dataclasses.replace(base, fees_usd={"IC": -1.0}), as_of=D1)
    with pytest.raises(JournalError, match=r"fees_usd\['XX'\].*no structure"):
        journal.record_positions(dataclasses.replace(base, fees_usd={"XX": 1.0}), as_of=D1)
    with pytest.raises(JournalError, match="as_of"):
        journal.record_positions(base, as_of=NOW)
    tenfold = OptionContract("SPX", SPX_APR, 2700, Right.PUT, 10)
    odd = Book(structures=(Structure("X", (Leg(tenfold, 1, 1.0),)),))
    with pytest.raises(JournalError, match="multiplier"):
        journal.record_positions(odd, as_of=D1)
    assert journal.book(D5) == Book()


def test_fills_grow_shrink_flip_and_close_legs(journal: Journal) -> None:
    """Snapshot on D0: IC short 2 2700P at 3.00, long 2 2675P at 1.50, fees 5.20."""
    snap = Book(
        structures=(Structure("IC", (Leg(P2700, -2, 3.0), Leg(P2675, 2, 1.5))),),
        fees_usd={"IC": 5.2},
        opened={"IC": D0},
    )
    journal.record_positions(snap, as_of=D0)
    journal.record_fills(
        [
            # on the snapshot's day: already in the snapshot, never applied
            FillInput(D0, "IC", P2700, -7, 9.99, fees_usd=99.0),
            # D1: sell one more 2700P at 4.00: -3 at (2 * 3.00 + 1 * 4.00) / 3
            FillInput(D1, "IC", P2700, -1, 4.0, fees_usd=1.3),
            # D2: buy back two at 1.00: -1, the opening price stays
            FillInput(D2, "IC", P2700, 2, 1.0, fees_usd=1.3),
            # D2: a new structure, opened that day
            FillInput(D2, "VIXC", vix(20), 5, 1.2, fees_usd=6.5),
        ]
    )
    # recorded later but traded earlier: applied in trade-date order
    journal.record_fills(
        [
            # D3: sell 3 2675P at 2.00 while long 2: flips to short 1 at the fill's price
            FillInput(D3, "IC", P2675, -3, 2.0),
            # D4: the VIX calls are sold: the leg and the structure are gone
            FillInput(D4, "VIXC", vix(20), -5, 2.0, fees_usd=6.5),
            # D4: a new leg in the open structure
            FillInput(D4, "IC", C2900, -1, 1.1, fees_usd=0.65),
        ]
    )
    at_d0 = journal.book(D0)
    assert legs_of(at_d0) == {"IC": {P2700.label(): (-2, 3.0), P2675.label(): (2, 1.5)}}
    assert dict(at_d0.fees_usd) == {"IC": 5.2}

    at_d1 = journal.book(D1)
    assert legs_of(at_d1)["IC"][P2700.label()] == (-3, round(10.0 / 3, 9))
    assert dict(at_d1.fees_usd) == {"IC": pytest.approx(6.5)}

    at_d2 = journal.book(D2)
    assert legs_of(at_d2) == {
        "IC": {P2700.label(): (-1, round(10.0 / 3, 9)), P2675.label(): (2, 1.5)},
        "VIXC": {vix(20).label(): (5, 1.2)},
    }
    assert dict(at_d2.fees_usd) == {"IC": pytest.approx(7.8), "VIXC": 6.5}
    assert dict(at_d2.opened) == {"IC": D0, "VIXC": D2}

    at_d3 = journal.book(D3)
    assert legs_of(at_d3)["IC"][P2675.label()] == (-1, 2.0)

    at_d4 = journal.book(D4)
    assert legs_of(at_d4) == {
        "IC": {
            P2700.label(): (-1, round(10.0 / 3, 9)),
            P2675.label(): (-1, 2.0),
            C2900.label(): (-1, 1.1),
        }
    }
    assert dict(at_d4.fees_usd) == {"IC": pytest.approx(8.45)}
    assert dict(at_d4.opened) == {"IC": D0}
    # a closing fill removes the leg; the last leg takes the structure with it
    journal.record_fills(
        [
            FillInput(D5, "IC", P2700, 1, 0.2),
            FillInput(D5, "IC", P2675, 1, 0.1),
            FillInput(D5, "IC", C2900, 1, 0.3),
        ]
    )
    assert journal.book(D5) == Book()
    # a new structure of the same name starts over: opened on its first fill, its own fees
    journal.record_fills([FillInput(date(2018, 3, 9), "IC", P2700, -1, 2.5, fees_usd=0.65)])
    again = journal.book(date(2018, 3, 9))
    assert dict(again.opened) == {"IC": date(2018, 3, 9)}
    assert dict(again.fees_usd) == {"IC": 0.65}


def test_fills_alone_make_a_book(journal: Journal) -> None:
    journal.record_fills(
        [FillInput(D1, "VIXC", vix(20), 3, 1.0), FillInput(D2, "VIXC", vix(20), 1, 2.0)]
    )
    assert journal.book(D0) == Book()
    book = journal.book(D2)
    assert legs_of(book) == {"VIXC": {vix(20).label(): (4, 1.25)}}  # (3 * 1.00 + 1 * 2.00) / 4
    assert dict(book.opened) == {"VIXC": D1}
    assert dict(book.fees_usd) == {}


def test_expired_legs_are_dropped(journal: Journal) -> None:
    weekly = OptionContract("SPXW", SPXW_MAR9, 2650, Right.PUT)
    book = Book(
        structures=(
            Structure("W", (Leg(weekly, -1, 1.0),)),
            Structure("MIX", (Leg(weekly, 1, 0.5), Leg(P2700, -1, 3.0))),
        ),
        fees_usd={"W": 1.0, "MIX": 2.0},
    )
    journal.record_positions(book, as_of=D1)
    on_expiry = journal.book(SPXW_MAR9)
    assert legs_of(on_expiry) == legs_of(book)
    after = journal.book(date(2018, 3, 12))
    assert legs_of(after) == {"MIX": {P2700.label(): (-1, 3.0)}}
    assert dict(after.fees_usd) == {"MIX": 2.0}


def test_a_later_snapshot_replaces_the_earlier_one_and_its_fills(journal: Journal) -> None:
    journal.record_positions(condor(), as_of=D0)
    journal.record_fills([FillInput(D1, "IC", P2700, -1, 3.5), FillInput(D2, "IC", C2900, 1, 0.2)])
    assert legs_of(journal.book(D1))["IC"][P2700.label()] == (-2, 3.25)
    replacement = Book(structures=(Structure("VIXC", (Leg(vix(25), 10, 0.8),)),))
    journal.record_positions(replacement, as_of=D2)
    # the snapshot holds everything up to its day, the D2 fill included
    assert legs_of(journal.book(D2)) == {"VIXC": {vix(25).label(): (10, 0.8)}}
    assert legs_of(journal.book(D1))["IC"][P2700.label()] == (-2, 3.25)
    journal.record_fills([FillInput(D3, "VIXC", vix(25), -4, 1.0)])
    assert legs_of(journal.book(D3)) == {"VIXC": {vix(25).label(): (6, 0.8)}}
    # two snapshots of one day: the last recorded wins
    journal.record_positions(condor(), as_of=D2)
    assert set(legs_of(journal.book(D2))) == {"IC"}


# --------------------------------------------------------------------------------------------
# Marks and hedge activations, written at finish


def mark(
    structure: str,
    contract: OptionContract,
    quantity: int,
    fill_price: float,
    price: float,
    *,
    vol: float | None = 0.2,
) -> dict[str, Any]:
    return {
        "structure": structure,
        "contract": contract.label(),
        "root": contract.root,
        "expiry": contract.expiry.isoformat(),
        "strike": contract.strike,
        "right": contract.right.value,
        "quantity": quantity,
        "fill_price": fill_price,
        "mark": price,
        "vol": vol,
        "value_usd": quantity * price * 100,
    }


CONDOR_MARKS = [  # value -150: -250 + 50 - 100 + 150
    mark("IC", P2700, -1, 3.0, 2.5),
    mark("IC", P2675, 1, 1.5, 0.5),
    mark("IC", C2900, -1, 1.0, 1.0),
    mark("IC", C2925, 1, 0.5, 1.5, vol=None),
]
HEDGE = Structure("VIX 20/30", (Leg(vix(20), 2, 1.2), Leg(vix(30), -2, 0.45)))
ROLLED = Structure("VIX 25", (Leg(vix(25), 3, 0.8),))


def a_decision(session: date, marks: list[dict[str, Any]] | None = None) -> DayDecision:
    orders = (
        OrderIntent(Action.OPEN, Layer.CORE, condor().structures[0], 2.0, ("45 DTE",)),
        OrderIntent(Action.OPEN, Layer.HEDGE, HEDGE, -1.5, ("regime rising", "VIX 22")),
        OrderIntent(Action.ROLL, Layer.HEDGE, ROLLED, -0.8, ("roll up",), closes=("VIX 20/30",)),
        OrderIntent(Action.CLOSE, Layer.HEDGE, None, 0.5, ("take profit",), closes=("old",)),
        OrderIntent(Action.ROLL, Layer.HEDGE, None, None, ("roll, nothing to open",)),
    )
    book = {} if marks is None else {"marks": marks}
    return DayDecision(
        session=session,
        as_of=datetime.combine(session, datetime.min.time(), UTC).replace(hour=21),
        regime="calm",
        regime_drivers=(),
        indicators={},
        orders=orders,
        book=book,
    )


def test_marks_and_hedge_activations_are_written_at_finish(journal: Journal) -> None:
    decision = a_decision(D1, CONDOR_MARKS)
    run = journal.start_run(D1, "signal", "cfg", "fp")
    journal.record_decision(run, decision)
    assert journal.marks(run) == []
    assert journal.hedge_activations() == []
    done = journal.finish(run)
    assert journal.marks(done) == CONDOR_MARKS
    rows = journal.hedge_activations()
    assert [(r["action"], r["structure"], r["contracts"], r["limit_price"]) for r in rows] == [
        ("open", "VIX 20/30", 4, -1.5),
        ("roll", "VIX 25", 3, -0.8),
        ("roll", None, 0, None),
    ]
    first = rows[0]
    assert first["run_id"] == run.id
    assert (first["mode"], first["trading_day"], first["revision"]) == ("signal", D1, 1)
    assert first["session"] == D1
    assert first["reasons"] == ["regime rising", "VIX 22"]
    assert json.loads(first["json"]) == decision.orders[1].to_json()
    with journal._sessions() as s:
        stored = s.scalars(select(HedgeActivationRow).order_by(HedgeActivationRow.id)).first()
        assert stored is not None
        assert stored.reasons == "regime rising\nVIX 22"
    # a forced re-run of the day adds its own rows; `since` filters by session
    with journal.run(D1, "signal", "cfg", "fp", force=True) as again:
        journal.record_decision(again, a_decision(D1))
    assert journal.marks(again) == []
    assert [r["revision"] for r in journal.hedge_activations()] == [1, 1, 1, 2, 2, 2]
    with journal.run(D2, "signal", "cfg", "fp") as later:
        journal.record_decision(later, dataclasses.replace(a_decision(D2), orders=()))
    assert journal.hedge_activations(since=D2) == []
    assert len(journal.hedge_activations(since=D1)) == 6


def fail_a_run(journal: Journal, day: date, why: str) -> None:
    """A run that records a decision with marks and hedge orders, then raises ``why``."""
    with journal.run(day, "signal", "c", "f") as run:
        journal.record_decision(run, a_decision(day, CONDOR_MARKS))
        raise RuntimeError(why)


def test_a_failed_run_writes_no_marks_nor_activations(journal: Journal) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        fail_a_run(journal, D1, "boom")
    (failed,) = journal.runs()
    assert failed.status == FAILED
    assert journal.marks(failed) == []
    assert journal.hedge_activations() == []
    with journal._sessions() as s:
        assert s.scalar(select(func.count()).select_from(MarkRow)) == 0
        assert s.scalar(select(func.count()).select_from(HedgeActivationRow)) == 0
    assert journal.book_equity("signal", 1000.0) == []


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        ([{k: v for k, v in CONDOR_MARKS[0].items() if k != "vol"}], r"\[0\]: missing key.*vol"),
        ([CONDOR_MARKS[0], {**CONDOR_MARKS[1], "delta": 0.1}], r"\[1\]: unknown key.*delta"),
        ([{**CONDOR_MARKS[0], "expiry": "20/04/2018"}], r"\[0\]\.expiry"),
        ([{**CONDOR_MARKS[0], "mark": math.nan}], r"\[0\]\.mark"),
        ([{**CONDOR_MARKS[0], "right": "X"}], r"\[0\]\.right"),
        ([{**CONDOR_MARKS[0], "quantity": 1.5}], r"\[0\]\.quantity"),
        ("not a list", "must be a list"),
    ],
)
def test_unjournalable_marks_fail_the_run(journal: Journal, marks: Any, message: str) -> None:
    with pytest.raises(JournalError, match=message), journal.run(D1, "signal", "c", "f") as run:
        journal.record_decision(run, a_decision(D1, marks))
    (failed,) = journal.runs()
    assert failed.status == FAILED
    assert journal.latest_decision(D1, "signal") is None


def test_no_marks_key_or_empty_marks_write_no_rows(journal: Journal) -> None:
    for day, decision in ((D1, a_decision(D1)), (D2, a_decision(D2, []))):
        with journal.run(day, "signal", "c", "f") as run:
            journal.record_decision(run, decision)
        assert journal.marks(run) == []
    assert [r.status for r in journal.runs()] == [SUCCEEDED, SUCCEEDED]


# --------------------------------------------------------------------------------------------
# The book's equity


def run_with_marks(
    journal: Journal,
    day: date,
    marks: list[dict[str, Any]],
    *,
    mode: str = "signal",
    force: bool = False,
) -> None:
    with journal.run(day, mode, "c", "f", force=force) as run:
        journal.record_decision(run, a_decision(day, marks))


def scaled(marks: list[dict[str, Any]], total: float) -> list[dict[str, Any]]:
    """The marks with values set so that they sum to ``total`` (spread over the legs)."""
    return [{**m, "value_usd": total / len(marks)} for m in marks]


def test_book_equity_by_hand(journal: Journal) -> None:
    base = 10_000.0
    run_with_marks(journal, date(2018, 2, 28), [])  # before anything: no cash, no options
    journal.record_positions(condor(), as_of=D0)  # 2.00 credit, one contract: +200
    run_with_marks(journal, D1, CONDOR_MARKS)  # value -150
    # D2: buy back the short call at 0.40 with 1.30 fees: cash -41.30
    journal.record_fills([FillInput(D2, "IC", C2900, 1, 0.4, fees_usd=1.3)])
    run_with_marks(journal, D2, scaled(CONDOR_MARKS, -100.0))
    run_with_marks(journal, D2, scaled(CONDOR_MARKS, -90.0), force=True)  # latest revision
    run_with_marks(journal, D2, scaled(CONDOR_MARKS, -1e6), mode="backtest")  # another mode
    with pytest.raises(RuntimeError, match="no data"):
        fail_a_run(journal, D3, "no data")
    # D3: a fill, then a snapshot of the same day (it holds that fill): the snapshot replaces
    # the D0 snapshot and the fills up to D3; with 5.20 fees its cash is 200 - 5.20
    journal.record_fills([FillInput(D3, "IC", C2900, -1, 0.5)])
    journal.record_positions(condor(fees=5.2), as_of=D3)
    run_with_marks(journal, D4, CONDOR_MARKS)
    # D5: fees only (a structure's extra fee): cash -0.65
    journal.record_fills([FillInput(D5, "VIXC", vix(20), 2, 1.0, fees_usd=0.65)])
    run_with_marks(journal, D5, [*CONDOR_MARKS, mark("VIXC", vix(20), 2, 1.0, 1.1)])

    rows = journal.book_equity("signal", base)
    got = [
        (r["session"], r["revision"], r["cash_usd"], r["options_value_usd"], r["equity_usd"])
        for r in rows
    ]
    expected = [
        (date(2018, 2, 28), 1, 0.0, 0.0, base),
        (D1, 1, 200.0, -150.0, base + 50.0),
        (D2, 2, 158.7, -90.0, base + 68.7),
        (D4, 1, 194.8, -150.0, base + 44.8),
        (D5, 1, 194.8 - 200.0 - 0.65, -150.0 + 220.0, base + 194.8 - 200.65 + 70.0),
    ]
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g[2:] == pytest.approx(e[2:], abs=1e-9)
    assert rows[1]["run_id"] == journal.runs(trading_day=D1)[0].id
    backtest = journal.book_equity("backtest", 0.0)
    assert [(r["session"], r["options_value_usd"]) for r in backtest] == [(D2, -1e6)]
    assert journal.book_equity("nothing", base) == []


# --------------------------------------------------------------------------------------------
# Append-only


@pytest.mark.parametrize(
    "model",
    [
        FillRow,
        PositionSnapshotRow,
        PositionLegRow,
        PositionEquityRow,
        MarkRow,
        HedgeActivationRow,
    ],
)
def test_the_new_tables_are_append_only(journal: Journal, model: type[Any]) -> None:
    book = dataclasses.replace(condor(fees=1.0), equities=(EquityHolding("SPY", 10, 270.0),))
    journal.record_positions(book, as_of=D0)
    journal.record_fills([FillInput(D1, "IC", P2700, 1, 2.0)])
    run_with_marks(journal, D1, CONDOR_MARKS)
    column = {
        FillRow: "price",
        PositionSnapshotRow: "note",
        PositionLegRow: "quantity",
        PositionEquityRow: "shares",
        MarkRow: "mark",
        HedgeActivationRow: "contracts",
    }[model]
    sessions = journal._sessions
    with pytest.raises(JournalError, match="append-only"), sessions.begin() as s:
        s.delete(s.scalars(select(model)).first())
    with sessions.begin() as s:
        row = s.scalars(select(model)).first()
        old = getattr(row, column)
        setattr(row, column, 7 if isinstance(old, int) else "x" if isinstance(old, str) else 7.5)
        with pytest.raises(
            JournalError, match=f"append-only: cannot change.*{model.__tablename__}"
        ):
            s.flush()
        s.rollback()
    assert journal.book(D0) == book
    assert P2700.label() not in legs_of(journal.book(D1))["IC"]  # closed by the D1 fill
    assert journal.marks(journal.runs()[0]) == CONDOR_MARKS
    assert [f.price for f in journal.fills()] == [2.0]
