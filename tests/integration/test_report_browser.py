"""The backtest report in a real browser: Debian chromium driven by Playwright, network cut off.

The report of a short synthetic backtest (the full ALVH at k = 0 and 1 and SPX buy-and-hold,
2018-01-02 to 2018-02-28, with a small benchmark comparison) is opened from its file with every
non-``file://`` request aborted. The page must log no console error, request nothing from the
network, and draw every plotly figure (each ``.js-plotly-plot`` holds its ``.main-svg``). A
full-page screenshot is saved under the test's temporary folder and, when
``VIXSHIELD_SCREENSHOT_DIR`` is set, copied there (``backtest_report.png``).

The browser is ``$VIXSHIELD_CHROMIUM`` (default ``/usr/bin/chromium``, installed by
``scripts/ensure-chromium.sh``, which ``make test`` runs first). When it is missing the test
**fails** saying how to install it: it never skips.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from vixshield.backtest.baselines import run_baseline
from vixshield.backtest.cboe import STATS_COLUMNS, BenchmarkComparison
from vixshield.backtest.fills import FillParams
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory
from vixshield.data.synthetic import synthetic_market
from vixshield.report.backtest_report import ReportPaths, write_backtest_report
from vixshield.strategy.condor import CondorParams

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("VIXSHIELD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START, END = date(2018, 1, 2), date(2018, 2, 28)
PLAN = {"full_alvh": (0.0, 1.0), "buy_and_hold": (0.0,)}
RENDER_TIMEOUT_MS = 60_000


def _chromium() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"chromium not found at {CHROMIUM}: the report's browser test needs it. Run "
            "`bash scripts/ensure-chromium.sh` (as root it installs the Debian packages: "
            "apt-get install -y --no-install-recommends chromium chromium-driver), or set "
            "VIXSHIELD_CHROMIUM to a chromium binary.",
            pytrace=False,
        )
    return CHROMIUM


def _benchmarks() -> BenchmarkComparison:
    months = pd.DatetimeIndex(pd.date_range("2017-09-30", periods=6, freq="ME"))
    monthly = pd.DataFrame(
        {
            "CNDR_model": [0.01, -0.02, 0.005, 0.0, 0.012, -0.004],
            "CNDR_published": [0.012, -0.018, 0.004, 0.001, 0.01, -0.006],
        },
        index=months,
    )
    stats = pd.DataFrame(
        [[6, 0.98, 0.0043, 0.0105, 0.0061, 0.0044, -0.02, -0.018, -0.002, 0.04, 0.038]],
        index=pd.Index(["CNDR"], name="benchmark"),
        columns=list(STATS_COLUMNS),
    )
    return BenchmarkComparison(monthly, stats, ("CNDR: test numbers, not Cboe's",))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    history = MarketHistory.from_synthetic(synthetic_market(date(2017, 1, 3), END, seed=7))
    config = StrategyConfig(condor=CondorParams(wing_points=25.0))
    runs = {
        name: {
            k: run_baseline(
                name,
                history,
                start=START,
                end=END,
                config=config,
                equity_usd=1_000_000.0,
                fill=FillParams(half_spread_fraction=k),
            )
            for k in ks
        }
        for name, ks in PLAN.items()
    }
    return write_backtest_report(
        tmp_path_factory.mktemp("browser_report"),
        runs,
        title="VixShield backtest: synthetic market, 2018-01-02 to 2018-02-28",
        config_text="[condor]\nwing_points = 25.0\n",
        data_description="embedded default market (synthetic, seed 7); model SPX and VIX chains",
        benchmarks=_benchmarks(),
    )


def test_report_renders_offline_in_chromium(report: ReportPaths, tmp_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    executable = _chromium()
    errors: list[str] = []
    blocked: list[str] = []

    def route(r: Route) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    shot = tmp_path / "backtest_report.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
            page.route("**/*", route)
            page.goto(report.html.as_uri(), wait_until="load")
            n = len(report.figures)
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n}",
                timeout=RENDER_TIMEOUT_MS,
            )
            counts: dict[str, Any] = page.evaluate(
                """() => {
                    const plots = [...document.querySelectorAll('.js-plotly-plot')];
                    return {
                        plots: plots.length,
                        drawn: plots.filter(p => p.querySelector('.main-svg')).length,
                        ids: plots.map(p => p.id),
                        traces: plots.map(p => (p.data || []).length),
                        tables: document.querySelectorAll('#metrics table').length,
                    };
                }"""
            )
            title = page.title()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert errors == []
    assert blocked == []
    assert counts["plots"] == len(report.figures)
    assert counts["drawn"] == len(report.figures)
    assert counts["ids"] == list(report.figures)
    assert all(t > 0 for t in counts["traces"]), counts
    assert counts["tables"] == 2
    assert title.startswith("VixShield backtest")
    assert shot.stat().st_size > 50_000  # a real picture, not a blank page
    keep = os.environ.get("VIXSHIELD_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(keep) / shot.name)


def test_missing_chromium_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.CHROMIUM", Path("/nonexistent/chromium"))
    with pytest.raises(pytest.fail.Exception, match=r"ensure-chromium\.sh"):
        _chromium()
