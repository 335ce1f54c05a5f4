"""The daily signal for 2019-06-26 on the real data (the one day with a real SPXW chain).

PINNED. These numbers are the decision the method makes on that day with the default
configuration, equity $1,000,000, rate 0.0217 (as ``test_chains_real.py``) and the default
1.5% dividend yield, no open book. Changing any of them is a deliberate edit: say in the commit
which rule or input changed and why the new decision is right.

Recorded: regime ``normal`` (VIX 16.21, VIX3M/VIX - 1 = +0.052, no backwardation); the core
condor is ``test_condor_real.py``'s, SPXW 2019-08-16 2630/2680P 3070/3120C (51 DTE, credit
7.875 at mids, max loss $4,212.50 per condor), 4 contracts = $16,850 = 1.685% of equity
(normal budget 2%); the ladder's put BWB 2745/2795/2820P on 2019-07-10 (8 lots, credit 0.55),
as ``test_condor_real.py`` builds it; hedge score 1 (term structure toward backwardation: the
VIX3M/VIX slope fell 0.072 in 5 sessions), so one tranche in each ALVH layer on the model VIX
chain: 4 x VIX 2019-07-17 19.5C, 5 x 2019-10-16 23/39C spread, 1 x 2019-12-18 26C.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vixshield.cli import app
from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.store import Store
from vixshield.domain.decisions import Action, DayDecision, Layer
from vixshield.engine import run_day

pytestmark = pytest.mark.real

DAY = date(2019, 6, 26)


@pytest.fixture(scope="module")
def store_dir(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("store")
    res = CliRunner().invoke(
        app, ["data", "import", str(real_data), "--data-dir", str(store), "--skip-bad-rows"]
    )
    assert res.exit_code == 0, res.output
    return store


@pytest.fixture(scope="module")
def decision(store_dir: Path) -> DayDecision:
    history = MarketHistory.from_store(Store(store_dir))
    return run_day(
        history,
        DAY,
        clock=FixedClock(stamp(DAY)),
        config=StrategyConfig(),
        equity_usd=1_000_000.0,
        rate=0.0217,
    )


def _legs(decision: DayDecision, layer: Layer) -> list[list[tuple[str, int]]]:
    return [
        [(leg.contract.label(), leg.quantity) for leg in o.structure.legs]
        for o in decision.orders
        if o.layer is layer and o.structure is not None
    ]


def test_regime_and_drivers(decision: DayDecision) -> None:
    assert decision.regime == "normal"
    assert decision.regime_drivers == (
        "VIX 16.21 ≥ 15 (normal cut) and < 20 (elevated cut): base normal",
        "no backwardation: VIX3M/VIX-1 = +0.052 ≥ 0, no lift",
    )
    assert decision.refusals == ()


def test_core_condor_expiry_strikes_and_size(decision: DayDecision) -> None:
    (core,) = [o for o in decision.orders if o.layer is Layer.CORE]
    assert core.action is Action.OPEN
    assert core.structure is not None
    assert core.structure.name == "SPXW 2019-08-16 iron condor 2630/2680P 3070/3120C"
    assert _legs(decision, Layer.CORE) == [
        [
            ("SPXW 2019-08-16 2630P", 4),
            ("SPXW 2019-08-16 2680P", -4),
            ("SPXW 2019-08-16 3070C", -4),
            ("SPXW 2019-08-16 3120C", 4),
        ]
    ]
    assert core.limit_price == pytest.approx(7.875, abs=1e-9)
    stage = decision.book["stages"]["core"]
    assert stage["contracts"] == 4
    assert stage["dte"] == 51
    assert stage["max_loss_usd"] == pytest.approx(16_850.0, abs=1e-6)
    assert stage["breakevens_points"] == pytest.approx([2672.125, 3077.875], abs=1e-9)


def test_ladder_rung(decision: DayDecision) -> None:
    assert _legs(decision, Layer.LADDER) == [
        [
            ("SPXW 2019-07-10 2820P", 8),
            ("SPXW 2019-07-10 2795P", -16),
            ("SPXW 2019-07-10 2745P", 8),
        ]
    ]


def test_hedge_score_and_tranches(decision: DayDecision) -> None:
    hedge = decision.book["stages"]["hedge"]
    assert hedge["score"] == 1
    assert hedge["live_triggers"] == ["term_toward_backwardation"]
    assert [(p["layer"], p["target"], p["bought"]) for p in hedge["plan"]] == [
        ("short", 1, 1),
        ("medium", 1, 1),
        ("long", 1, 1),
    ]
    assert _legs(decision, Layer.HEDGE) == [
        [("VIX 2019-07-17 19.5C", 4)],
        [("VIX 2019-10-16 23C", 5), ("VIX 2019-10-16 39C", -5)],
        [("VIX 2019-12-18 26C", 1)],
    ]


def test_notes_say_what_was_modelled(decision: DayDecision) -> None:
    assert decision.notes[:4] == (
        "modelled inputs: vx1, vx2, vx3, vx4, vx5, vx6, vx7, vx8",
        "option chain: real quotes stored for 2019-06-26",
        "rate 2.1700% given by the caller",
        "dividend yield assumed 1.50% (the history holds none)",
    )


def test_cli_signal_on_the_store(store_dir: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["signal", "--date", "2019-06-26", "--data-dir", str(store_dir), "--equity", "1000000"],
    )
    assert res.exit_code == 0, res.output
    assert "SPXW 2019-08-16 iron condor 2630/2680P 3070/3120C" in res.stdout
    late = CliRunner().invoke(app, ["signal", "--date", "2020-06-26", "--data-dir", str(store_dir)])
    assert late.exit_code == 2
    assert "data ends 2019-12-31" in late.output
