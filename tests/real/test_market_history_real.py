"""30 years of real snapshots through the local store: values, flags and the VX fallback."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vixshield.cli import app
from vixshield.clock import FixedClock
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.store import Store

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def history(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> MarketHistory:
    store_dir = tmp_path_factory.mktemp("store")
    res = CliRunner().invoke(
        app, ["data", "import", str(real_data), "--data-dir", str(store_dir), "--skip-bad-rows"]
    )
    assert res.exit_code == 0, res.output
    return MarketHistory.from_store(Store(store_dir))


def test_spine_is_the_sp500_sessions(history: MarketHistory) -> None:
    assert len(history.sessions) == 7559
    assert history.sessions[0] == date(1990, 1, 2)
    assert history.sessions[-1] == date(2019, 12, 31)


def test_2008_10_24_snapshot_matches_the_files(history: MarketHistory) -> None:
    day = date(2008, 10, 24)
    s = history.snapshot(day, clock=FixedClock(stamp(day)))
    assert s.spx.close == 876.77
    assert s.index("vix") == 79.13
    assert s.index("vvix") == 128.09
    assert s.index("skew") == 116.67
    assert [p.settle for p in s.vx_curve] == [
        55.82,
        43.56,
        40.69,
        39.23,
        37.75,
        37.39,
        35.99,
        36.25,
    ]
    assert s.breadth is not None
    assert (s.breadth.advances, s.breadth.declines) == (591, 2622)
    assert s.modelled_fields() == ()


def test_vx_curve_is_modelled_only_without_futures(history: MarketHistory) -> None:
    with_futures = history.snapshot(date(2012, 6, 1), clock=FixedClock(stamp(date(2012, 6, 1))))
    after = history.snapshot(date(2019, 6, 26), clock=FixedClock(stamp(date(2019, 6, 26))))
    assert with_futures.vx_curve
    assert not any(p.modelled for p in with_futures.vx_curve)
    assert after.vx_curve
    assert all(p.modelled for p in after.vx_curve)
    assert after.modelled_fields()[:2] == ("vx1", "vx2")
    # The breadth file ends in 2015: later snapshots have none rather than a stale value.
    assert after.breadth is None


def test_whole_walk(history: MarketHistory) -> None:
    snaps = list(history.snapshots())
    assert len(snaps) == 7559
    assert all(s.as_of == stamp(s.session) for s in snaps[:50])


def test_real_chain_on_its_day_model_chain_elsewhere(history: MarketHistory) -> None:
    day = date(2019, 6, 26)
    real = history.spx_chain(day, clock=FixedClock(stamp(day)), rate=0.0217, div_yield=0.019)
    assert len(real) == 10384
    assert not real["modelled"].any()
    other = date(2019, 6, 25)
    model = history.spx_chain(other, clock=FixedClock(stamp(other)), rate=0.0217, div_yield=0.019)
    assert model["modelled"].all()
    # Same columns either way: the decision code sees one format.
    assert set(real.columns) >= {
        "quote_time",
        "expiry",
        "strike",
        "right",
        "bid",
        "ask",
        "modelled",
    }
    assert set(model.columns) >= {
        "quote_time",
        "expiry",
        "strike",
        "right",
        "bid",
        "ask",
        "modelled",
    }
