"""Our VIX from the real SPXW chain of 2019-06-26 (15:45 ET) against that day's published close.

Data: ``chains/spxw_20190626_datashop.csv`` (Cboe DataShop layout, UTF-8 BOM, 30 SPXW expiries,
quotes at 15:45 ET) and ``cboe/VIX_History.csv`` (``DATE,OPEN,HIGH,LOW,CLOSE``, MM/DD/YYYY).
The DataShop file is parsed minimally here; a full loader is separate work.

Terms used. 2019-06-26 is a Wednesday. Its Fridays are 23 days (2019-07-19, the third Friday, the
AM SPX monthly, absent from this SPXW-only file), 30 days (SPXW 2019-07-26, PM) and 37 days (SPXW
2019-08-02, PM). The 23-day expiry is outside the window (more than 23 days is required), and the
white paper's Wednesday roll takes the 30- and 37-day Fridays, so Cboe's own terms that day were
the two SPXW PM expiries in this file: the missing AM monthly costs nothing on this date.

Rate. 0.0217 continuously compounded for both terms: the 1-month US Treasury CMT stood at about
2.1-2.2% in late June 2019 (US Treasury daily par yield curve; the table is not bundled and the
exact 2019-06-26 value was not re-checked, so take +/-0.1 pt). Cboe splines the CMT curve to each
expiry; at one month a whole percentage point of rate moves this result by about 0.007 vol point,
which the test checks, so the rate assumption is immaterial at the tolerance used.

Result (recorded): ours 16.2153 vs published close 16.21, difference +0.005 vol point.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from vixshield.pricing.vix import (
    ExpiryQuotes,
    OptionQuotes,
    settlement_instant,
    vix_index,
)
from vixshield.units import NEW_YORK

pytestmark = pytest.mark.real

QUOTE_TIME = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
RATE = 0.0217  # ~1-month CMT in late June 2019, see module docstring
PUBLISHED_CLOSE = 16.21  # cboe/VIX_History.csv, 06/26/2019 CLOSE (asserted below)
OURS = 16.2153  # recorded output of this test's calculation
# Tolerance: 0.5 vol point. The dominant gap is timing: 15:45 quotes vs the 16:15 close; that day
# VIX traded 15.47-16.60, and half an hour of SPX movement near the close routinely moves VIX by
# a few tenths. The rate input (< 0.01 point) and Cboe's real-time quote filtering are smaller.
TOLERANCE_VOL_POINTS = 0.5


def _load_chain(path: Path) -> list[ExpiryQuotes]:
    by_expiry: dict[str, dict[str, list[tuple[float, float, float]]]] = defaultdict(
        lambda: {"C": [], "P": []}
    )
    with path.open(newline="", encoding="utf-8-sig") as f:  # the file starts with a BOM
        for row in csv.DictReader(f):
            assert row["quote_date"] == "2019-06-26", row
            by_expiry[row["expiration"]][row["option_type"]].append(
                (float(row["strike"]), float(row["bid_1545"]), float(row["ask_1545"]))
            )
    chain = []
    for expiration, sides in by_expiry.items():
        expiry = date.fromisoformat(expiration)
        calls, puts = (np.array(sides[t]).reshape(-1, 3) for t in ("C", "P"))
        chain.append(
            ExpiryQuotes(
                expiry,
                settlement_instant(expiry, "PM"),  # SPXW: PM-settled, 16:00 ET
                OptionQuotes(calls[:, 0], calls[:, 1], calls[:, 2]),
                OptionQuotes(puts[:, 0], puts[:, 1], puts[:, 2]),
                root="SPXW",
            )
        )
    return chain


def _published_close(path: Path, day: str) -> float:
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["DATE"] == day:
                return float(row["CLOSE"])
    pytest.fail(f"{day} not found in {path}")


@pytest.fixture(scope="module")
def chain(real_data: Path) -> list[ExpiryQuotes]:
    return _load_chain(real_data / "chains" / "spxw_20190626_datashop.csv")


def test_vix_from_real_spxw_chain_matches_published_close(
    chain: list[ExpiryQuotes], real_data: Path
) -> None:
    """Ours 16.2153 vs published 16.21 (difference +0.005); asserted within 0.5 vol point."""
    published = _published_close(real_data / "cboe" / "VIX_History.csv", "06/26/2019")
    assert published == PUBLISHED_CLOSE
    assert len(chain) == 30

    result = vix_index(chain, QUOTE_TIME, rate=RATE)

    assert result.near.expiry == date(2019, 7, 26)
    assert result.next_term is not None
    assert result.next_term.expiry == date(2019, 8, 2)
    # 30 days + 15 minutes and 37 days + 15 minutes from 15:45 to 16:00 settlement.
    assert result.near.minutes == pytest.approx(30 * 1440 + 15, abs=1e-6)
    assert result.next_term.minutes == pytest.approx(37 * 1440 + 15, abs=1e-6)
    # Forwards near the 15:45 SPX quote of 2917.8 / 2918.42 plus a little carry; K0 = 2920.
    assert 2915.0 < result.near.forward < 2925.0
    assert result.near.k0 == result.next_term.k0 == 2920.0

    difference = result.value - published
    print(
        f"VIX 2019-06-26: ours {result.value:.4f}, published {published:.2f}, "
        f"difference {difference:+.4f}; {result.summary()}"
    )
    assert result.value == pytest.approx(OURS, abs=5e-5)
    assert abs(difference) <= TOLERANCE_VOL_POINTS


def test_rate_assumption_is_immaterial(chain: list[ExpiryQuotes]) -> None:
    """One percentage point of rate moves the result by less than 0.02 vol point."""
    low = vix_index(chain, QUOTE_TIME, rate=RATE - 0.01).value
    high = vix_index(chain, QUOTE_TIME, rate=RATE + 0.01).value
    assert 0.0 < high - low < 0.04
