"""The real SPXW chain of 2019-06-26 (15:45 ET) through the chain loader, the VIX and the IV solver.

Data: ``chains/spxw_20190626_datashop.csv`` (Cboe DataShop layout, UTF-8 BOM, 10,384 quotes on
30 SPXW expiries, no root or settlement column). Expected quotes are read from the file here with
the standard ``csv`` module, independently of the loader.

Recorded results (this test pins them):

* VIX via ``chain_to_vix_quotes``: 16.2153, as in ``test_vix_real_chain.py`` (published close
  16.21); rate 0.0217, see that test's docstring.
* Implied vols from mids on each expiry's parity forward, same rate: 8,939 of 10,384 quotes
  (86.1%) have an IV. The others: 706 ``ZERO_BID`` (every zero bid in the file: a one-sided quote
  has no price to invert) and 739 ``BELOW_INTRINSIC`` (in-the-money quotes whose mid is at or
  below intrinsic value on the parity forward; their wide markets put the mid there).
* 30-day at-the-money IV (SPXW 2019-07-26, K = 2920 next to F = 2921.50): 14.11% for both the
  call and the put, below the VIX (16.2) as the skew makes it; within the 14-16% expected that day.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vixshield.data.chains import (
    add_implied_vols,
    chain_quote_time,
    chain_to_vix_quotes,
    load_datashop,
    read_chain,
    write_chain,
)
from vixshield.data.validation import Loaded
from vixshield.pricing.vix import vix_index
from vixshield.units import NEW_YORK

pytestmark = pytest.mark.real

QUOTE_TIME = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
RATE = 0.0217  # as in tests/real/test_vix_real_chain.py
VIX_OURS = 16.2153  # recorded, identical to test_vix_real_chain.py
ROWS = 10_384
EXPIRIES = 30
IV_OK = 8_939  # recorded
IV_BELOW_INTRINSIC = 739  # recorded
ATM_IV_30D = 0.1411  # recorded: SPXW 2019-07-26, K = 2920
NEAR = date(2019, 7, 26)


@pytest.fixture(scope="module")
def chain_path(real_data: Path) -> Path:
    return real_data / "chains" / "spxw_20190626_datashop.csv"


@pytest.fixture(scope="module")
def loaded(chain_path: Path) -> Loaded:
    return load_datashop(chain_path)


@pytest.fixture(scope="module")
def file_rows(chain_path: Path) -> list[dict[str, str]]:
    with chain_path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def with_ivs(loaded: Loaded) -> pd.DataFrame:
    return add_implied_vols(loaded.frame, rate=RATE)


def test_loads_every_row_of_the_real_chain(loaded: Loaded, file_rows: list[dict[str, str]]) -> None:
    frame = loaded.frame
    assert len(file_rows) == ROWS
    assert (loaded.report.rows_read, loaded.report.rows_kept) == (ROWS, ROWS)
    assert loaded.report.skipped == ()
    assert frame["expiry"].nunique() == EXPIRIES
    assert (frame["right"] == "C").sum() == (frame["right"] == "P").sum() == ROWS // 2
    assert (frame["quote_time"] == QUOTE_TIME).all()
    assert chain_quote_time(frame) == QUOTE_TIME
    assert set(frame["root"]) == {"SPXW"}  # from the file name
    assert set(frame["settlement"]) == {"PM"}  # so the third Friday 2019-07-19 is PM too
    assert not frame["modelled"].any()
    assert loaded.report.notes == (
        "quote time 15:45 America/New_York from the column suffix _1545",
        "root SPXW from the file name",
    )
    assert frame["expiry"].min() == date(2019, 6, 26)
    assert frame["expiry"].max() == date(2020, 6, 30)


@pytest.mark.parametrize(
    ("expiry", "strike", "right"),
    [
        ("2019-06-26", 1700.0, "C"),  # first row
        ("2019-06-26", 1700.0, "P"),  # zero bid, open interest 24
        ("2019-07-19", 2900.0, "C"),  # third Friday (PM weekly in this SPXW file)
        ("2019-07-26", 2920.0, "P"),  # the VIX's near-term K0
        ("2020-06-30", 4200.0, "P"),  # last row
    ],
)
def test_quotes_match_the_file(
    loaded: Loaded, file_rows: list[dict[str, str]], expiry: str, strike: float, right: str
) -> None:
    (row,) = [
        r
        for r in file_rows
        if (r["expiration"], float(r["strike"]), r["option_type"]) == (expiry, strike, right)
    ]
    frame = loaded.frame
    hit = frame[
        (frame["expiry"] == date.fromisoformat(expiry))
        & (frame["strike"] == strike)
        & (frame["right"] == right)
    ]
    assert len(hit) == 1
    got = hit.iloc[0]
    for canonical, source in [
        ("bid", "bid_1545"),
        ("ask", "ask_1545"),
        ("bid_size", "bid_size_1545"),
        ("ask_size", "ask_size_1545"),
        ("underlying_bid", "underlying_bid_1545"),
        ("underlying_ask", "underlying_ask_1545"),
        ("volume", "trade_volume"),
        ("open_interest", "open_interest"),
    ]:
        assert got[canonical] == float(row[source]), canonical


def test_vix_from_the_loaded_chain(loaded: Loaded) -> None:
    frame = loaded.frame
    quotes = chain_to_vix_quotes(frame)
    assert len(quotes) == EXPIRIES
    result = vix_index(quotes, chain_quote_time(frame), rate=RATE)
    assert (result.near.expiry, result.next_term and result.next_term.expiry) == (
        NEAR,
        date(2019, 8, 2),
    )
    assert result.value == pytest.approx(VIX_OURS, abs=5e-5)
    assert abs(result.value - 16.21) <= 0.5  # published close, cboe/VIX_History.csv


def test_implied_vols_of_the_real_chain(
    with_ivs: pd.DataFrame, loaded: Loaded, file_rows: list[dict[str, str]]
) -> None:
    reasons = with_ivs["iv_reason"].value_counts().to_dict()
    zero_bids = sum(float(r["bid_1545"]) == 0.0 for r in file_rows)
    ok = int(reasons.get("OK", 0))
    by_right = with_ivs.groupby(["iv_reason", "right"]).size().to_dict()
    print(
        f"IV 2019-06-26: {ok} of {ROWS} quotes ({ok / ROWS:.1%}) have an IV; "
        f"reasons {reasons}; by right {by_right}"
    )
    assert reasons == {
        "OK": IV_OK,
        "ZERO_BID": zero_bids,
        "BELOW_INTRINSIC": IV_BELOW_INTRINSIC,
    }
    assert zero_bids == 706
    valid = with_ivs[with_ivs["iv_reason"] == "OK"]
    assert valid["delta"].abs().le(1.0).all()
    # Out of the money every bid quote solves, to a plausible vol (10.6% to 63.7% that day).
    otm = np.where(
        valid["right"] == "C",
        valid["strike"] >= valid["forward"],
        valid["strike"] <= valid["forward"],
    )
    assert otm.sum() == 4_487
    assert valid.loc[otm, "iv"].between(0.10, 0.65).all()
    # In the money the mid of a wide market over a tiny time value solves to absurd vols close
    # to expiry: valid inversions of the quote, not information. Recorded, not hidden.
    wild = valid.loc[~otm & (valid["iv"] > 1.0), "expiry"]
    print(f"ITM IVs above 100%: {len(wild)}, expiries {sorted(set(wild))[-1]} and earlier")
    assert len(wild) == 154
    assert wild.max() <= date(2019, 7, 5)
    # Every quote without an IV is flagged, every flagged quote has none.
    assert with_ivs["iv"].isna().sum() == ROWS - IV_OK
    # BELOW_INTRINSIC only happens in the money (calls below F, puts above).
    below = with_ivs[with_ivs["iv_reason"] == "BELOW_INTRINSIC"]
    itm = np.where(
        below["right"] == "C",
        below["strike"] < below["forward"],
        below["strike"] > below["forward"],
    )
    assert itm.all()
    # The parity forward is the VIX's own near-term forward.
    near = vix_index(chain_to_vix_quotes(loaded.frame), QUOTE_TIME, rate=RATE).near
    forward = with_ivs.loc[with_ivs["expiry"] == NEAR, "forward"].unique()
    assert forward == pytest.approx([near.forward], abs=1e-9)


def test_atm_30_day_implied_vol(with_ivs: pd.DataFrame) -> None:
    near = with_ivs[with_ivs["expiry"] == NEAR]
    forward = float(near["forward"].iloc[0])
    assert 2921.0 < forward < 2922.0
    atm_strike = near["strike"].iloc[int(np.argmin(np.abs(near["strike"] - forward)))]
    atm = near[near["strike"] == atm_strike].set_index("right")
    assert atm_strike == 2920.0
    call_iv, put_iv = float(atm.loc["C", "iv"]), float(atm.loc["P", "iv"])
    print(f"ATM 30-day IV: K {atm_strike:g}, F {forward:.2f}, C {call_iv:.4%}, P {put_iv:.4%}")
    assert call_iv == pytest.approx(ATM_IV_30D, abs=5e-5)
    assert put_iv == pytest.approx(call_iv, abs=1e-4)  # parity holds at the money
    assert 0.14 <= call_iv <= 0.16
    assert call_iv < VIX_OURS / 100.0  # the VIX prices the skew, ATM vol does not
    assert 0.45 < float(atm.loc["C", "delta"]) < 0.55
    assert float(atm.loc["C", "delta"]) - float(atm.loc["P", "delta"]) == pytest.approx(
        1.0, abs=0.01
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_real_chain_round_trips_through_the_canonical_format(
    loaded: Loaded, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"spxw_20190626{suffix}"  # tmp only: never copy real data into the repo
    write_chain(loaded.frame, path)
    pd.testing.assert_frame_equal(read_chain(path).frame, loaded.frame, check_exact=True)
