"""Condor and butterfly construction on the real SPXW chain of 2019-06-26 (15:45 ET).

Recorded with the default parameters (this test pins them), rate 0.0217 as in
``test_chains_real.py``: the chain is SPXW only, so the 45-60 DTE window holds 2019-08-16 (51
days) and 2019-08-23 (58); the nearer wins. Shorts 2680P (|delta| 12.1) and 3070C (11.9), 50-point
wings, credit 7.875 at mids, put break-even 2672.125 = 8.4% below spot 2918.11 (no move needed).
The put BWB is 2745/2795/2820P on SPXW 2019-07-10 (14 DTE), credit 0.55.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vixshield.data.chains import load_datashop
from vixshield.strategy.condor import Candidate, build_bwb, build_iron_condor

pytestmark = pytest.mark.real

RATE = 0.0217


def test_real_chain_condor_and_bwb(real_data: Path) -> None:
    chain = load_datashop(real_data / "chains" / "spxw_20190626_datashop.csv").frame
    c = build_iron_condor(chain, rate=RATE)
    assert isinstance(c, Candidate), c
    assert c.structure.name == "SPXW 2019-08-16 iron condor 2630/2680P 3070/3120C"
    assert c.dte == 51
    a = c.analytics
    assert a.credit_points == pytest.approx(7.875, abs=1e-9)
    assert a.breakevens_points == pytest.approx((2672.125, 3077.875), abs=1e-9)
    assert a.max_loss_usd == pytest.approx(4212.5, abs=1e-9)
    assert a.spot_points == pytest.approx(2918.11, abs=0.01)
    assert len(c.notes) == 1  # no break-even move on this day
    b = build_bwb(chain, rate=RATE)
    assert isinstance(b, Candidate), b
    assert b.structure.name == "SPXW 2019-07-10 put broken-wing butterfly 2745/2795/2820P"
    assert b.analytics.credit_points == pytest.approx(0.55, abs=1e-9)
