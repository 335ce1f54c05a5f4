"""The backtest report on small real runs of the synthetic market: files, numbers, HTML, atomicity.

The runs are the embedded default market (seed 7) from 2018-01-02 to 2018-02-02 with 25-point
wings (as ``tests/unit/test_runner.py``): the full ALVH at k = 0 and 1 (condors, ALVH tranches
opened and closed, calm/normal/elevated regimes), the unhedged condors at k = 0 only (a
strategy with one fill fraction) and SPX buy-and-hold at k = 0 and 1 (no option trade: NaN
trade statistics). The runs are module fixtures; every test reads them.
"""

from __future__ import annotations

import html
import json
import math
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.offline
import pytest

from vixshield.backtest.baselines import run_baseline
from vixshield.backtest.cboe import STATS_COLUMNS, BenchmarkComparison
from vixshield.backtest.fills import FillParams
from vixshield.backtest.metrics import monthly_returns_table, yearly_returns
from vixshield.backtest.runner import BacktestResult
from vixshield.config import StrategyConfig
from vixshield.data.market import MarketHistory
from vixshield.data.synthetic import synthetic_market
from vixshield.errors import InvalidInputError
from vixshield.report import backtest_report as br
from vixshield.report.backtest_report import (
    DEFAULT_PROXIES,
    ReportPaths,
    fmt_money,
    fmt_pct,
    fmt_pp,
    fmt_ratio,
    write_backtest_report,
)
from vixshield.strategy.condor import CondorParams

EQUITY = 1_000_000.0
CONFIG = StrategyConfig(condor=CondorParams(wing_points=25.0))
START, END = date(2018, 1, 2), date(2018, 2, 2)
PLAN: dict[str, tuple[float, ...]] = {
    "full_alvh": (0.0, 1.0),
    "unhedged": (0.0,),
    "buy_and_hold": (0.0, 1.0),
}
CONFIG_TEXT = '[condor]\nwing_points = 25.0  # <narrow> & "tested"\n'
SECTIONS = ("proxies", "runs", "metrics", "equity", "alvh", "greeks", "monthly", "benchmarks")

Runs = dict[str, dict[float, BacktestResult]]


@pytest.fixture(scope="module")
def runs() -> Runs:
    history = MarketHistory.from_synthetic(synthetic_market(date(2017, 1, 3), END, seed=7))
    return {
        name: {
            k: run_baseline(
                name,
                history,
                start=START,
                end=END,
                config=CONFIG,
                equity_usd=EQUITY,
                fill=FillParams(half_spread_fraction=k),
            )
            for k in ks
        }
        for name, ks in PLAN.items()
    }


def _benchmarks() -> BenchmarkComparison:
    """A small comparison: CNDR with both sides, VXTH with no published series."""
    months = pd.DatetimeIndex(pd.date_range("2017-01-31", periods=6, freq="ME"))
    monthly = pd.DataFrame(
        {
            "CNDR_model": [0.01, -0.02, 0.005, 0.0, 0.012, -0.004],
            "CNDR_published": [0.012, -0.018, 0.004, 0.001, 0.01, -0.006],
            "VXTH_model": [0.02, 0.01, -0.03, 0.0, 0.01, 0.0],
            "VXTH_published": [math.nan] * 6,
        },
        index=months,
    )
    stats = pd.DataFrame(
        [
            [6, 0.98, 0.0043, 0.0105, 0.0061, 0.0044, -0.02, -0.018, -0.002, 0.04, 0.038],
            [6, *[math.nan] * 10],
        ],
        index=pd.Index(["CNDR", "VXTH"], name="benchmark"),
        columns=list(STATS_COLUMNS),
    )
    notes = ("CNDR: test numbers", "VXTH: the published file has no VXTH column")
    return BenchmarkComparison(monthly, stats, notes)


def _write(out: Path, runs: Runs, **kw: Any) -> ReportPaths:
    args: dict[str, Any] = {
        "title": "Test backtest <synthetic> & co",
        "config_text": CONFIG_TEXT,
        "data_description": "embedded default market (synthetic, seed 7); model chains",
        "benchmarks": _benchmarks(),
    }
    args.update(kw)
    return write_backtest_report(out, runs, **args)


@pytest.fixture(scope="module")
def report(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    return _write(tmp_path_factory.mktemp("report"), runs)


@pytest.fixture(scope="module")
def page(report: ReportPaths) -> str:
    return report.html.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def summary(report: ReportPaths) -> dict[str, Any]:
    def refuse(token: str) -> None:
        raise AssertionError(f"summary.json is not strict JSON: {token}")

    return dict(json.loads(report.summary.read_text(encoding="utf-8"), parse_constant=refuse))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------------------------
# Files


def test_decisions_file_holds_every_session_decision(runs: Runs, report: ReportPaths) -> None:
    import gzip

    for name, by_k in runs.items():
        for k, result in by_k.items():
            raw = gzip.decompress(report.decisions[name, k].read_bytes()).decode("utf-8")
            lines = [json.loads(line) for line in raw.splitlines()]
            assert lines == [
                json.loads(json.dumps(d.to_json(), default=str)) for d in result.decisions
            ]
            assert [x["session"] for x in lines] == [
                d.isoformat() for d in result.equity.index.date
            ]


def test_every_file_is_written_and_nothing_else(report: ReportPaths) -> None:
    expected = {"report.html", "summary.json", "equity.csv"}
    expected |= {"benchmarks_monthly.csv", "benchmarks_stats.csv"}
    for name, ks in PLAN.items():
        for k in ks:
            for kind in ("daily", "ledger", "trades", "monthly_returns"):
                expected.add(f"{kind}_{name}_k{k:g}.csv")
            expected.add(f"decisions_{name}_k{k:g}.jsonl.gz")
    assert {p.name for p in report.out_dir.iterdir()} == expected
    assert {p.name for p in report.files} == expected
    assert report.daily["full_alvh", 1.0].name == "daily_full_alvh_k1.csv"
    assert report.benchmarks_stats is not None
    assert report.benchmarks_stats.name == "benchmarks_stats.csv"
    for p in report.files:
        assert p.stat().st_size > 0, p


def test_summary_metrics_equal_the_results(runs: Runs, summary: dict[str, Any]) -> None:
    for name, by_k in runs.items():
        for k, result in by_k.items():
            entry = summary["runs"][name]["k"][f"{k:g}"]
            assert entry["metrics"] == json.loads(result.metrics.to_json())
            assert entry["final_equity_usd"] == float(result.equity.iloc[-1])
            assert entry["sessions"] == len(result.equity)
            assert entry["fills"] == result.fills
            assert entry["closed_trades"] == len(result.trades)
            assert entry["fees_usd"] == pytest.approx(sum(e.fees_usd for e in result.ledger))
            by_hand = sum(
                (g.price - g.mid) * g.quantity * 100
                for e in result.ledger
                for g in e.legs
                if e.kind not in ("settle", "interest", "dividend", "index")
            )
            assert entry["spread_paid_usd"] == pytest.approx(by_hand)
            if k == 0.0:
                assert entry["spread_paid_usd"] == pytest.approx(0.0, abs=1e-6)
            elif result.fills:
                assert entry["spread_paid_usd"] > 0
    # buy-and-hold trades no option: its trade statistics are undefined (null), not zero
    bh = summary["runs"]["buy_and_hold"]["k"]["0"]["metrics"]
    assert bh["win_rate"] is None
    assert bh["profit_factor"] is None


def test_summary_spread_cost_is_touch_minus_mid(runs: Runs, summary: dict[str, Any]) -> None:
    lo, hi = runs["full_alvh"][0.0].metrics, runs["full_alvh"][1.0].metrics
    cost = summary["spread_cost"]["full_alvh"]
    assert (cost["k_low"], cost["k_high"]) == (0.0, 1.0)
    assert cost["cagr"] == pytest.approx(hi.cagr - lo.cagr, abs=1e-15)
    assert cost["max_drawdown"] == pytest.approx(hi.max_drawdown - lo.max_drawdown, abs=1e-15)
    assert "unhedged" not in summary["spread_cost"]  # one fill fraction: nothing to compare


def test_summary_settings_proxies_benchmarks_versions(
    runs: Runs, summary: dict[str, Any], report: ReportPaths
) -> None:
    assert summary["settlement_proxies"] == list(DEFAULT_PROXIES)
    assert summary["config_text"] == CONFIG_TEXT
    assert summary["data_description"].startswith("embedded default market")
    assert summary["period"] == {"start": "2018-01-02", "end": "2018-02-02", "sessions": 23}
    assert summary["fill_fractions"] == [0.0, 1.0]
    assert summary["primary_run"] == {"strategy": "full_alvh", "k": 1.0}
    fp = runs["full_alvh"][1.0].days[0].decision.config_fingerprint
    assert summary["config_fingerprint"] == fp
    assert len(fp) == 64
    assert summary["generated_at"] is None
    assert summary["benchmarks"] == json.loads(json.dumps(_benchmarks().to_json()))
    assert {"python", "vixshield", "numpy", "pandas", "plotly"} <= set(summary["versions"])
    assert set(summary["files"]) == {p.name for p in report.files}


def test_equity_csv_equals_the_curves(runs: Runs, report: ReportPaths) -> None:
    frame = pd.read_csv(report.equity, index_col="session", parse_dates=["session"])
    assert frame.index.name == "session"
    for name, by_k in runs.items():
        for k, result in by_k.items():
            got = frame[f"{name}_k{k:g}"]
            np.testing.assert_array_equal(got.to_numpy(), result.equity.to_numpy())
            assert list(got.index) == list(result.equity.index)


def test_daily_ledger_trades_csvs_equal_the_result(runs: Runs, report: ReportPaths) -> None:
    result = runs["full_alvh"][1.0]
    daily = pd.read_csv(report.daily["full_alvh", 1.0], index_col="session", parse_dates=True)
    expected = result.daily
    assert list(daily.columns) == list(expected.columns)
    np.testing.assert_array_equal(daily["equity_usd"].to_numpy(), result.equity.to_numpy())
    np.testing.assert_array_equal(
        daily["delta_usd_per_pct"].to_numpy(), expected["delta_usd_per_pct"].to_numpy()
    )
    assert list(daily["regime"]) == list(expected["regime"])

    ledger = pd.read_csv(report.ledger["full_alvh", 1.0])
    frame = result.ledger_frame()
    assert len(ledger) == len(frame)
    assert ledger["cash_usd"].sum() == pytest.approx(sum(e.cash_usd for e in result.ledger))
    assert (ledger["kind"] == "open").any()

    trades = pd.read_csv(report.trades["full_alvh", 1.0], index_col="trade")
    assert len(trades) == len(result.trades)
    assert list(trades.columns) == ["layer", "credit_usd", "pnl_usd"]
    np.testing.assert_array_equal(trades["pnl_usd"], [t.pnl_usd for t in result.trades])
    empty = pd.read_csv(report.trades["buy_and_hold", 0.0])
    assert empty.empty


def test_monthly_csv_equals_the_metrics_tables(runs: Runs, report: ReportPaths) -> None:
    result = runs["full_alvh"][0.0]
    got = pd.read_csv(report.monthly_returns["full_alvh", 0.0], index_col="year")
    table = monthly_returns_table(result.equity)
    assert list(got.columns) == [*br._MONTHS, "full_year"]
    np.testing.assert_array_equal(got.iloc[:, :12].to_numpy(), table.to_numpy())
    np.testing.assert_array_equal(got["full_year"].to_numpy(), yearly_returns(result.equity))
    assert got.loc[2018, "Feb"] == pytest.approx(table.loc[2018, 2])


def test_benchmark_csvs(report: ReportPaths) -> None:
    assert report.benchmarks_monthly is not None
    assert report.benchmarks_stats is not None
    monthly = pd.read_csv(report.benchmarks_monthly, index_col=0, parse_dates=True)
    pd.testing.assert_frame_equal(monthly, _benchmarks().monthly, check_freq=False)
    stats = pd.read_csv(report.benchmarks_stats, index_col="benchmark")
    assert list(stats.columns) == list(STATS_COLUMNS)
    assert stats.loc["CNDR", "correlation"] == 0.98


# --------------------------------------------------------------------------------------------
# The page


def test_page_is_offline_and_inlines_plotly_once(page: str) -> None:
    # nothing is loaded from elsewhere: no script, link, img or iframe with a source, and no
    # URL in any attribute of the page (script bodies aside: plotly.js mentions URLs)
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", page, re.I)
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "<script></script>", page, flags=re.S)
    assert not re.search(r"""\b(src|href|action)\s*=\s*["']?\s*(https?:)?//""", markup, re.I)
    assert "http://" not in markup
    assert "https://" not in markup
    head = plotly.offline.get_plotlyjs()[:200]
    assert page.count(head) == 1
    assert page.count("Content-Security-Policy") == 1
    assert "default-src 'none'" in page


def test_page_has_every_section_and_figure(runs: Runs, page: str, report: ReportPaths) -> None:
    for sid in (*SECTIONS, "files"):
        assert page.count(f'<section id="{sid}">') == 1, sid
    assert report.figures == (
        "fig-equity",
        "fig-drawdown",
        "fig-regimes",
        "fig-greeks",
        "fig-bench-0",
        "fig-bench-1",
    )
    for fid in report.figures:
        assert page.count(f'id="{fid}"') == 1, fid
    assert page.count("How to read this.") == len(SECTIONS)  # every section but the proxies
    for proxy in DEFAULT_PROXIES:
        assert html.escape(proxy) in page
    for text in ("Settlement proxies", "(SOQ)", "(VRO)", "previous session&#x27;s VIX close"):
        assert text in page
    fp = runs["full_alvh"][1.0].days[0].decision.config_fingerprint
    assert f"sha256 {fp}" in page
    assert "Generated" not in page  # no clock unless given


def test_page_numbers_are_formatted(runs: Runs, page: str) -> None:
    result = runs["full_alvh"][1.0]
    final = result.equity.iloc[-1]
    assert f">{fmt_money(final)}<" in page
    assert re.fullmatch(r"\d{1,3}(,\d{3})+\.\d\d", fmt_money(final))
    assert f">{fmt_pct(result.metrics.cagr)}<" in page
    assert f">{fmt_pct(result.metrics.max_drawdown)}<" in page
    lo = runs["full_alvh"][0.0].metrics
    assert f">{fmt_pp(result.metrics.cagr - lo.cagr)}<" in page
    assert "spread cost (k=1 - k=0)" in page
    assert ">n/a<" in page  # buy-and-hold's win rate
    assert "Final equity (USD)" in page
    assert "Starting equity" in page
    assert "1,000,000.00 USD" in page
    # the monthly table of the primary run is open, the others folded
    assert "<details open><summary>full_alvh k=1 (touch)</summary>" in page
    assert "<details><summary>full_alvh k=0 (mid)</summary>" in page


def test_page_escapes_all_text(page: str) -> None:
    assert "Test backtest &lt;synthetic&gt; &amp; co" in page
    assert "<synthetic>" not in page
    assert "# &lt;narrow&gt; &amp; &quot;tested&quot;" in page
    assert '<narrow> & "tested"' not in page


def test_page_regimes_and_hedge_events(runs: Runs, page: str) -> None:
    regimes = set(runs["full_alvh"][1.0].daily["regime"].dropna())
    assert len(regimes) >= 2
    for label in regimes:
        assert f"regime: {label}" in page
    events = runs["full_alvh"][1.0].hedge_events
    assert not events.empty
    assert "short tranche open" in page
    assert f">{fmt_money(events['cash_usd'].sum(), signed=True)}<" in page


def test_same_inputs_same_bytes(runs: Runs, tmp_path: Path) -> None:
    one = {"buy_and_hold": runs["buy_and_hold"]}
    a = _write(tmp_path / "a", one, benchmarks=None)
    b = _write(tmp_path / "b", one, benchmarks=None)
    assert _snapshot(a.out_dir) == _snapshot(b.out_dir)
    assert a.benchmarks_monthly is None
    assert not (a.out_dir / "benchmarks_monthly.csv").exists()
    assert '<section id="benchmarks">' not in a.html.read_text(encoding="utf-8")
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    c = _write(tmp_path / "c", one, benchmarks=None, generated_at=stamp)
    assert "2026-01-02T03:04:05+00:00" in c.html.read_text(encoding="utf-8")
    assert json.loads(c.summary.read_text())["generated_at"] == "2026-01-02T03:04:05+00:00"


# --------------------------------------------------------------------------------------------
# Atomic writes


def test_failure_while_rendering_leaves_previous_report(
    runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    _write(out, runs, benchmarks=None)
    before = _snapshot(out)

    def boom(*args: object) -> object:
        raise RuntimeError("figure failed")

    monkeypatch.setattr(br, "_fig_greeks", boom)
    with pytest.raises(RuntimeError, match="figure failed"):
        _write(out, runs, title="a new title")
    assert _snapshot(out) == before


def test_failure_while_writing_leaves_previous_report(
    runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    one = {"buy_and_hold": runs["buy_and_hold"]}
    _write(out, one, benchmarks=None)
    before = _snapshot(out)
    calls = {"n": 0}
    real_fsync = br.os.fsync

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 4:  # a few files staged, then the disk fails
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(br.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        _write(out, runs, title="a new title")
    assert _snapshot(out) == before  # no temporary file left, nothing replaced


def test_a_new_report_removes_the_files_of_the_old_one(runs: Runs, tmp_path: Path) -> None:
    out = tmp_path / "r"
    _write(out, {"full_alvh": runs["full_alvh"], "buy_and_hold": runs["buy_and_hold"]})
    (out / "notes.txt").write_text("mine")
    paths = _write(out, {"buy_and_hold": runs["buy_and_hold"]}, benchmarks=None)
    names = {p.name for p in out.iterdir()}
    assert names == {p.name for p in paths.files} | {"notes.txt"}  # a user's file stays
    assert not any("full_alvh" in n for n in names)


def test_one_session_and_no_full_alvh(tmp_path: Path) -> None:
    history = MarketHistory.from_synthetic(synthetic_market(date(2017, 1, 3), START, seed=7))
    one = run_baseline(
        "unhedged", history, start=START, end=START, config=CONFIG, equity_usd=EQUITY
    )
    paths = _write(tmp_path, {"unhedged": {0.5: one}}, benchmarks=None)
    page = paths.html.read_text(encoding="utf-8")
    assert "Fewer than two sessions: no monthly return." in page
    assert "Regimes and hedges: unhedged k=0.5" in page  # the first strategy stands in
    assert "spread cost" not in page
    assert paths.daily["unhedged", 0.5].name == "daily_unhedged_k0.5.csv"
    assert json.loads(paths.summary.read_text())["runs"]["unhedged"]["k"]["0.5"]["sessions"] == 1


# --------------------------------------------------------------------------------------------
# Inputs and formats


def test_bad_inputs_are_refused(runs: Runs, tmp_path: Path) -> None:
    result = runs["buy_and_hold"][0.0]
    with pytest.raises(InvalidInputError, match="no run"):
        _write(tmp_path, {})
    with pytest.raises(InvalidInputError, match="has no run"):
        _write(tmp_path, {"x": {}})
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        _write(tmp_path, {"x": {1.5: result}})
    with pytest.raises(InvalidInputError, match="same file names"):
        _write(tmp_path, {"a b": {0.0: result}, "a_b": {0.0: result}})
    assert not any(tmp_path.iterdir())


def test_formats() -> None:
    assert fmt_money(1_234_567.891) == "1,234,567.89"
    assert fmt_money(-5926.08, signed=True) == "-5,926.08"
    assert fmt_money(0.0, signed=True) == "+0.00"
    assert fmt_pct(0.012345) == "1.23%"
    assert fmt_pct(-0.0042612) == "-0.43%"
    assert fmt_pp(-0.0031) == "-0.31 pp"
    assert fmt_pp(-1e-9) == "+0.00 pp"  # never "-0.00"
    assert fmt_pct(-1e-9) == "0.00%"
    assert fmt_pct(math.nan) == "n/a"
    assert fmt_ratio(math.inf) == "inf"
    assert fmt_ratio(-math.inf) == "-inf"
    assert fmt_ratio(2.7466) == "2.75"
    assert br.k_label(0.0) == "k=0 (mid)"
    assert br.k_label(1.0) == "k=1 (touch)"
    assert br.k_label(0.5) == "k=0.5"
