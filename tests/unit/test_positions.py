"""Contracts, legs and structures check themselves; cash signs are hand-computed."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from vixshield.domain.positions import EquityHolding, Leg, OptionContract, Right, Structure
from vixshield.errors import InvalidInputError
from vixshield.units import NEW_YORK


def _c(strike: float, right: str, root: str = "SPX") -> OptionContract:
    return OptionContract(root, date(2019, 8, 16), strike, Right(right))


def test_iron_condor_net_credit_by_hand() -> None:
    # Sell 2900P @ 20.00, buy 2850P @ 14.50, sell 3100C @ 9.00, buy 3150C @ 5.00:
    # credit per condor = (20 - 14.5 + 9 - 5) * 100 = $950.
    condor = Structure(
        "iron_condor",
        (
            Leg(_c(2900, "P"), -1, 20.0),
            Leg(_c(2850, "P"), 1, 14.5),
            Leg(_c(3100, "C"), -1, 9.0),
            Leg(_c(3150, "C"), 1, 5.0),
        ),
    )
    assert condor.net_premium_usd == pytest.approx(950.0)
    assert condor.underlying == "SPX"
    assert condor.expiries == (date(2019, 8, 16),)


def test_contract_settlement_and_time() -> None:
    am = _c(2900, "P")
    pm = OptionContract("SPXW", date(2019, 7, 26), 2900, Right.CALL)
    assert am.settlement == "AM"
    assert pm.settlement == "PM"
    assert am.settlement_time() == datetime(2019, 8, 16, 9, 30, tzinfo=NEW_YORK)
    now = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
    assert pm.t_years(now) == pytest.approx(43_215 / 525_600)  # 30 days and 15 minutes
    assert pm.label() == "SPXW 2019-07-26 2900C"
    assert OptionContract("VIX", date(2019, 7, 17), 20, Right.CALL).underlying == "VIX"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"root": "XSP"}, "root 'XSP' is not supported"),
        ({"strike": -5.0}, "strike must be a finite number > 0"),
        ({"strike": float("nan")}, "strike"),
    ],
)
def test_contract_refuses_bad_values(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "root": "SPX",
        "expiry": date(2019, 8, 16),
        "strike": 2900.0,
        "right": Right.PUT,
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        OptionContract(**args)  # type: ignore[arg-type]


def test_leg_and_structure_refusals() -> None:
    with pytest.raises(InvalidInputError, match="quantity must not be zero"):
        Leg(_c(2900, "P"), 0, 1.0)
    with pytest.raises(InvalidInputError, match="whole number"):
        Leg(_c(2900, "P"), 1.5, 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="price must be a finite number >= 0"):
        Leg(_c(2900, "P"), 1, -0.1)
    with pytest.raises(InvalidInputError, match="no legs"):
        Structure("empty", ())
    mixed = Structure(
        "mixed",
        (
            Leg(_c(2900, "P"), 1, 1.0),
            Leg(OptionContract("VIX", date(2019, 7, 17), 20, "C"), 1, 1.0),
        ),
    )
    with pytest.raises(InvalidInputError, match="mixes underlyings"):
        _ = mixed.underlying
    with pytest.raises(InvalidInputError, match="shares"):
        EquityHolding("SPY", 0, 290.0)
    assert EquityHolding("SPY", 100, 290.0).value_usd == 29_000.0
