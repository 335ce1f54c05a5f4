"""BSM and Black-76 prices and Greeks against py_vollib 1.0.1 (tests/golden/pricing_vollib.csv).

The file is written by ``scripts/make_golden_pricing.py`` (py_vollib's Let's Be Rational
prices and analytical Greeks; vanna/volga as complex-step derivatives of the textbook delta
and vega). The test never recomputes expected values.

Tolerance: 1e-9 relative. Both sides are double-precision evaluations of the same closed
forms through different normal CDFs (scipy's cephes ``ndtr`` here, Jaeckel's in
py_lets_be_rational), which agree to ~1e-15 near the money. Far out of the money the price is
the difference of two nearly equal tiny products and loses about ``log10(|d2| / (sigma
sqrt(T)))`` digits to cancellation on either side; on this grid that is at most ~6e-10
relative (prices near 1e-245). 1e-9 bounds that, while any formula, sign or unit error shows
up at 1e-6 or worse. The only absolute slack, 1e-300, is for values that underflow to 0.0 on
one side and to a subnormal on the other.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from vixshield.pricing import OptionGreeks, Reason, black76_greeks, bsm_greeks

GOLDEN = Path(__file__).with_name("pricing_vollib.csv")
RTOL = 1e-9
ATOL = 1e-300
FIELDS = (
    "price",
    "delta",
    "gamma",
    "vega_per_volpt",
    "theta_per_day",
    "rho_per_pct",
    "vanna_per_volpt",
    "volga_per_volpt",
)


def _load(model: str) -> dict[str, np.ndarray]:
    with GOLDEN.open(newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    rows = [r for r in rows if r["model"] == model]
    assert len(rows) >= 100, f"golden file has only {len(rows)} {model} rows"
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k != "model"}


def _priced(model: str, g: dict[str, np.ndarray]) -> OptionGreeks:
    is_call = g["is_call"] == 1
    if model == "bsm":
        return bsm_greeks(
            g["underlying"],
            g["strike"],
            g["t_years"],
            g["vol"],
            rate=g["rate"],
            div_yield=g["div_yield"],
            is_call=is_call,
        )
    return black76_greeks(
        g["underlying"], g["strike"], g["t_years"], g["vol"], rate=g["rate"], is_call=is_call
    )


@pytest.mark.parametrize("model", ["bsm", "black76"])
@pytest.mark.parametrize("field", FIELDS)
def test_matches_py_vollib(model: str, field: str) -> None:
    golden = _load(model)
    got = _priced(model, golden)
    assert (got.reason == Reason.OK).all()
    np.testing.assert_allclose(getattr(got, field), golden[field], rtol=RTOL, atol=ATOL)


def test_golden_grid_covers_calls_puts_and_the_wings() -> None:
    g = _load("bsm")
    moneyness = g["strike"] / g["underlying"]
    assert 0 < g["is_call"].sum() < len(g["is_call"])
    assert moneyness.min() < 0.6
    assert moneyness.max() > 1.4
    assert g["t_years"].min() < 2 / 365
    assert g["vol"].max() > 1.0
