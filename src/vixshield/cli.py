"""The ``vixshield`` command line: a thin front end over the library, no logic of its own.

Every command prints a readable table and takes ``--json`` for scripts. Errors the user can
fix (a bad date, a malformed CSV) print one line naming the problem and exit with status 2.
"""

from __future__ import annotations

import json
import math
import os
import sys
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vixshield import __version__
from vixshield import calendar as cal
from vixshield.clock import SystemClock
from vixshield.errors import VixShieldError
from vixshield.pricing.table import (
    OUTPUT_FIELDS,
    PricedTable,
    price_table,
    read_option_csv,
    table_from_records,
)
from vixshield.units import NEW_YORK

app = typer.Typer(
    name="vixshield",
    help="SPX iron condors with an Adaptive Layered VIX Hedge: the daily signal, market data, "
    "option pricing and implied vol, the SPX/SPXW/VIX expiry calendar, the strategy config.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


def _fail(exc: Exception) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(exc))}")
    return typer.Exit(code=2)


def _print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")


def _parse_date(text: str | None, *, default: date, name: str) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(ValueError(f"{name} {text!r} is not a date; use YYYY-MM-DD")) from None


class KindOption(StrEnum):
    """Expiry kinds the calendar command lists."""

    spx = "spx"
    spxw = "spxw"
    vix = "vix"
    all = "all"


class ModelOption(StrEnum):
    """Pricing models."""

    bsm = "bsm"
    black76 = "black76"


class RightOption(StrEnum):
    """Option rights."""

    call = "call"
    put = "put"


@app.command()
def version() -> None:
    """Print the VixShield version."""
    console.print(__version__)


@app.command("calendar")
def calendar_cmd(
    start: Annotated[
        str | None, typer.Option(help="First date, YYYY-MM-DD (default today).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last date, YYYY-MM-DD (default start + 60 days).")
    ] = None,
    kind: Annotated[KindOption, typer.Option(help="Which expiries to list.")] = KindOption.all,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List expiries between two dates: SPX monthlies (AM), SPXW (PM) and VX/VIX (AM).

    Each row gives the settlement instant (New York time) and the last trading day.
    """
    today = SystemClock().now().astimezone(NEW_YORK).date()
    first = _parse_date(start, default=today, name="--start")
    last = _parse_date(end, default=first + timedelta(days=60), name="--end")
    kinds = list(cal.ExpiryKind) if kind is KindOption.all else [cal.ExpiryKind(kind.value)]
    try:
        rows = sorted(
            (e for k in kinds for e in cal.expiries(k, first, last)),
            key=lambda e: (e.expiry_date, e.kind.value),
        )
    except VixShieldError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(
            [
                {
                    "expiry": e.expiry_date.isoformat(),
                    "kind": e.kind.value,
                    "settlement": e.settlement.isoformat(),
                    "last_trade_date": e.last_trade_date.isoformat(),
                }
                for e in rows
            ]
        )
        return
    table = Table(title=f"Expiries {first} to {last}")
    for col in ("expiry", "day", "kind", "settles (New York)", "last trade"):
        table.add_column(col)
    for e in rows:
        table.add_row(
            e.expiry_date.isoformat(),
            e.expiry_date.strftime("%a"),
            e.kind.value,
            e.settlement.strftime("%Y-%m-%d %H:%M"),
            e.last_trade_date.isoformat(),
        )
    console.print(table)


def _fmt(x: object) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return "-" if math.isnan(x) else f"{x:.6g}"
    return str(x)


@app.command()
def price(
    underlying: Annotated[
        float | None, typer.Option(help="Spot (bsm) or forward/futures price (black76).")
    ] = None,
    strike: Annotated[float | None, typer.Option(help="Strike price.")] = None,
    right: Annotated[RightOption, typer.Option(help="call or put.")] = RightOption.call,
    t_years: Annotated[
        float | None, typer.Option(help="Years to settlement (ACT/365 minutes / 525,600).")
    ] = None,
    expiry: Annotated[
        str | None,
        typer.Option(help="Expiry date YYYY-MM-DD instead of --t-years (with --kind and --at)."),
    ] = None,
    kind: Annotated[
        KindOption, typer.Option(help="Expiry kind for --expiry: spx (AM), spxw (PM), vix (AM).")
    ] = KindOption.spx,
    at: Annotated[
        str | None,
        typer.Option(help="Valuation time for --expiry, ISO, New York if no zone (default now)."),
    ] = None,
    vol: Annotated[float | None, typer.Option(help="Volatility as a decimal (0.2 = 20%).")] = None,
    premium: Annotated[
        float | None, typer.Option(help="Option price: solve the implied vol.")
    ] = None,
    rate: Annotated[float, typer.Option(help="Continuously compounded rate.")] = 0.0,
    div_yield: Annotated[float, typer.Option(help="Dividend yield (bsm only).")] = 0.0,
    model: Annotated[ModelOption, typer.Option(help="bsm or black76.")] = ModelOption.bsm,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="CSV of options: underlying,strike,t_years,right and vol and/or premium; "
            "optional rate,div_yield,model.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Price, Greeks and implied vol for one option, or for every row of a CSV.

    Greeks are per unit of underlying (multiply by 100 for one SPX contract): vega per vol
    point, theta per calendar day, rho per 1% rate, vanna and volga per vol point. A row whose
    inputs are out of range gets blanks and a reason instead of stopping the table.
    """
    try:
        if csv_file is not None:
            table = read_option_csv(csv_file)
        else:
            if underlying is None or strike is None:
                raise VixShieldError("give --underlying and --strike (or --csv FILE)")
            years = _years(t_years, expiry, kind, at)
            record = {
                "underlying": repr(underlying),
                "strike": repr(strike),
                "t_years": repr(years),
                "right": right.value,
                "vol": "" if vol is None else repr(vol),
                "premium": "" if premium is None else repr(premium),
                "rate": repr(rate),
                "div_yield": repr(div_yield),
                "model": model.value,
            }
            table = table_from_records([record], source="command line")
        priced = price_table(table)
    except VixShieldError as exc:
        raise _fail(exc) from None
    _show_priced(priced, as_json=as_json)


def _years(t_years: float | None, expiry: str | None, kind: KindOption, at: str | None) -> float:
    if (t_years is None) == (expiry is None):
        raise VixShieldError("give exactly one of --t-years and --expiry")
    if t_years is not None:
        return t_years
    assert expiry is not None
    if kind is KindOption.all:
        raise VixShieldError("--kind must be spx, spxw or vix with --expiry")
    try:
        exp = date.fromisoformat(expiry)
        now = SystemClock().now() if at is None else datetime.fromisoformat(at)
    except ValueError as exc:
        raise VixShieldError(f"bad --expiry or --at: {exc}") from None
    if now.tzinfo is None:
        now = now.replace(tzinfo=NEW_YORK)
    return cal.t_years(now, exp, cal.ExpiryKind(kind.value))


_SHORT = {
    "underlying": "und",
    "strike": "K",
    "t_years": "T (y)",
    "vega_per_volpt": "vega/volpt",
    "theta_per_day": "theta/day",
    "rho_per_pct": "rho/1%",
    "vanna_per_volpt": "vanna/volpt",
    "volga_per_volpt": "volga/volpt",
    "implied_vol": "IV",
}


def _reason_text(r: dict[str, object]) -> str:
    parts = [] if r["reason"] == "OK" else [str(r["reason"])]
    if r["iv_reason"] not in ("OK", "NOT_GIVEN"):
        parts.append(f"iv:{r['iv_reason']}")
    return " ".join(parts) or "ok"


def _show_priced(priced: PricedTable, *, as_json: bool) -> None:
    rows = priced.rows()
    if as_json:
        _print_json(rows if len(rows) != 1 else rows[0])
        return
    if len(rows) == 1:
        r = rows[0]
        single = Table(title="Option price and Greeks (per unit of underlying)")
        single.add_column("field")
        single.add_column("value", justify="right")
        for key, value in r.items():
            if key not in ("reason", "iv_reason"):
                single.add_row(key, _fmt(value))
        single.add_row("status", _reason_text(r))
        console.print(single)
        return
    cols = ("model", "right", "underlying", "strike", "t_years", "vol", *OUTPUT_FIELDS)
    table = Table(title="Option prices and Greeks (per unit of underlying)")
    for col in ("#", *(_SHORT.get(c, c) for c in cols), "IV", "status"):
        table.add_column(col, justify="right", no_wrap=True)
    for i, r in enumerate(rows, start=1):
        vol = r["vol"] if r["vol"] is not None else r["implied_vol"]
        cells = [_fmt(vol) if c == "vol" else _fmt(r[c]) for c in cols]
        table.add_row(str(i), *cells, _fmt(r["implied_vol"]), _reason_text(r))
    Console(width=max(console.width, 240)).print(table)


data_app = typer.Typer(
    help="Market data: import files into the local store, show coverage, export, fetch.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The local store (default $VIXSHIELD_DATA_DIR, else ~/.vixshield/data).",
    ),
]


def _data_dir(data_dir: Path | None) -> Path:
    if data_dir is not None:
        return data_dir
    env = os.environ.get("VIXSHIELD_DATA_DIR")
    return Path(env) if env else Path.home() / ".vixshield" / "data"


@data_app.command("import")
def data_import(
    path: Annotated[Path, typer.Argument(help="A file, a series folder, or a folder to walk.")],
    name: Annotated[
        str | None, typer.Option(help="Series name (default: from the file name).")
    ] = None,
    skip_bad_rows: Annotated[
        bool,
        typer.Option(
            "--skip-bad-rows", help="Drop bad rows and report them, instead of refusing the file."
        ),
    ] = False,
    close_only: Annotated[
        bool,
        typer.Option(
            "--close-only", help="OHLC files: load and check only the close (e.g. Cboe VIX)."
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help="Re-import even if the source is unchanged.")] = False,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Import files into the local store (atomic, idempotent, with provenance).

    A file that fails validation is refused whole and the store keeps its previous version;
    other files in the same folder are still imported. Exit status 1 if any file failed.
    """
    from vixshield.data.catalog import default_mode, plan_imports
    from vixshield.data.store import Store

    try:
        plans, skipped = plan_imports(path, name=name, close_only=close_only)
        store = Store(_data_dir(data_dir))
    except VixShieldError as exc:
        raise _fail(exc) from None
    results: list[dict[str, Any]] = []
    failed = 0
    for plan in plans:
        try:
            res = store.import_series(
                plan.name,
                plan.source,
                plan.loader,
                mode=default_mode(skip_bad_rows),
                force=force,
                loader_name=plan.loader_name,
                kind=plan.kind,
            )
        except VixShieldError as exc:
            failed += 1
            results.append({"name": plan.name, "status": "failed", "error": str(exc)})
            if not as_json:
                Console(stderr=True, soft_wrap=True).print(
                    f"[bold red]failed:[/] {escape(plan.name)}: {escape(str(exc))}"
                )
            continue
        results.append(res.to_json())
        if not as_json:
            console.print(escape(res.summary()), soft_wrap=True)
            if res.report is not None:
                for why in res.provenance.skipped:
                    console.print(
                        f"  skipped {why.count} row(s), field '{escape(why.field)}': "
                        f"{escape(why.message)} (first at line {why.first_line})",
                        soft_wrap=True,
                    )
    for skip in skipped:
        results.append(
            {"name": None, "status": "skipped", "path": str(skip.path), "error": skip.reason}
        )
        if not as_json:
            console.print(
                f"skipped {escape(str(skip.path))}: {escape(skip.reason)}", soft_wrap=True
            )
    if as_json:
        _print_json(results)
    if failed:
        raise typer.Exit(code=1)


@data_app.command("status")
def data_status(
    data_dir: DataDirOption = None,
    verify: Annotated[bool, typer.Option(help="Re-check every data file's checksum.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Coverage of each stored series: rows, first and last date, missing sessions, source."""
    from vixshield.data.store import Store

    try:
        store = Store(_data_dir(data_dir))
        if as_json:
            _print_json(store.status_json(verify=verify))
            return
        rows = store.status(verify=verify)
    except VixShieldError as exc:
        raise _fail(exc) from None
    table = Table(title=f"Local store {_data_dir(data_dir)}")
    for col in ("series", "kind", "rows", "first", "last", "gaps", "skipped", "imported", "ok"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        table.add_row(
            r.name,
            r.kind.value,
            str(r.rows),
            "-" if r.first_date is None else r.first_date.isoformat(),
            "-" if r.last_date is None else r.last_date.isoformat(),
            "n/a" if r.gaps is None else str(r.gaps),
            str(r.rows_skipped),
            r.imported_at.strftime("%Y-%m-%d %H:%M"),
            "ok" if r.ok else (r.problem or "NOT OK"),
        )
    Console(width=max(console.width, 160)).print(table)
    if not rows:
        console.print("The store is empty: run `vixshield data import PATH`.")


class ExportFormatOption(StrEnum):
    """Export file formats."""

    csv = "csv"
    parquet = "parquet"


@data_app.command("export")
def data_export(
    name: Annotated[str, typer.Argument(help="Series name (see `vixshield data status`).")],
    out: Annotated[Path, typer.Option(help="File to write.")],
    fmt: Annotated[
        ExportFormatOption, typer.Option("--format", help="csv or parquet.")
    ] = ExportFormatOption.csv,
    data_dir: DataDirOption = None,
) -> None:
    """Write one stored series to a CSV or Parquet file (atomically)."""
    from vixshield.data.store import Store

    try:
        res = Store(_data_dir(data_dir)).export(name, out, fmt=fmt.value)
    except VixShieldError as exc:
        raise _fail(exc) from None
    console.print(escape(json.dumps(res.to_json())), soft_wrap=True)


@data_app.command("fetch")
def data_fetch(
    out: Annotated[Path, typer.Option(help="Download folder (layout as ../shared/data).")] = Path(
        "downloads"
    ),
    vx_start: Annotated[
        str, typer.Option(help="First VX expiry to fetch, YYYY-MM-DD.")
    ] = "2004-05-19",
    vx_end: Annotated[
        str | None, typer.Option(help="Last VX expiry to fetch (default: 9 months ahead).")
    ] = None,
    full: Annotated[
        bool, typer.Option(help="Ignore incremental state; fetch whole files.")
    ] = False,
    do_import: Annotated[
        bool, typer.Option("--import", help="Import what was downloaded into the store.")
    ] = False,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Download Cboe index histories, CFE VX futures and FRED series (with retries)."""
    from vixshield.data.fetch import default_sources, fetch_sources

    now = SystemClock().now()
    today = now.astimezone(NEW_YORK).date()
    start = _parse_date(vx_start, default=today, name="--vx-start")
    end = _parse_date(vx_end, default=today + timedelta(days=270), name="--vx-end")
    try:
        results = fetch_sources(default_sources(start, end), out, clock=SystemClock(), full=full)
    except VixShieldError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json([{"name": r.name, "status": r.status.value, "url": r.url, "rows": r.rows,
                      "path": str(r.path), "error": r.error} for r in results])  # fmt: skip
    else:
        for r in results:
            line = f"{r.name}: {r.status.value} {r.rows} rows -> {r.path}"
            console.print(escape(line + (f" ({r.error})" if r.error else "")), soft_wrap=True)
    failed = any(not r.ok for r in results)
    if do_import:
        data_import(out, name=None, skip_bad_rows=False, close_only=False, force=False,
                    data_dir=data_dir, as_json=as_json)  # fmt: skip
    if failed:
        raise typer.Exit(code=1)


config_app = typer.Typer(
    help="The strategy configuration (TOML): write the defaults, check or show a file.",
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")


@config_app.command("init")
def config_init(
    out: Annotated[Path, typer.Option(help="File to write.")] = Path("vixshield.toml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write every parameter with its documented default, description and bounds."""
    from vixshield.config import render_defaults

    if out.exists() and not force:
        raise _fail(VixShieldError(f"{out} exists; pass --force to overwrite it"))
    out.write_text(render_defaults(), encoding="utf-8")
    console.print(f"wrote the default configuration to {escape(str(out))}")


@config_app.command("check")
def config_check(
    path: Annotated[Path, typer.Argument(help="TOML file to validate.")],
) -> None:
    """Validate a configuration: unknown keys and out-of-range values are named and refused."""
    from vixshield.config import fingerprint, load_config

    try:
        cfg = load_config(path)
    except VixShieldError as exc:
        raise _fail(exc) from None
    console.print(f"{escape(str(path))}: valid (fingerprint {fingerprint(cfg)[:16]})")


@config_app.command("show")
def config_show(
    path: Annotated[
        Path | None, typer.Argument(help="TOML file (default: the documented defaults).")
    ] = None,
) -> None:
    """Print the effective configuration as JSON (defaults filled in)."""
    from vixshield.config import load_config

    try:
        cfg = load_config(path)
    except VixShieldError as exc:
        raise _fail(exc) from None
    _print_json(cfg.model_dump(mode="json"))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("reports/demo"),
    as_of: Annotated[
        str | None,
        typer.Option("--date", help="Last day of the default market, YYYY-MM-DD (default today)."),
    ] = None,
    data_dir: DataDirOption = None,
    use_store: Annotated[
        bool,
        typer.Option(
            "--use-store/--default-market",
            help="Use the local store when it holds data (default), or always the embedded "
            "default market.",
        ),
    ] = True,
    backtest_months: Annotated[
        int,
        typer.Option(
            "--backtest-months",
            help="Months of history the demo backtest walks, ending on the demo's day "
            "(0 skips the backtest).",
        ),
    ] = 12,
    workers: Annotated[
        int, typer.Option(help="Worker processes for the backtest (default: usable cores).")
    ] = 0,
) -> None:
    """The demo: a backtest of the method and its baselines at the mid and at the touch, then
    the daily signal and the market for the last day (your store, or the embedded default
    market), with the paths of both reports."""
    from vixshield.backtest.suite import default_workers
    from vixshield.config import StrategyConfig
    from vixshield.report.backtest_report import write_backtest_report
    from vixshield.report.demo import DEMO_EQUITY_USD, build_demo_report, history_for_demo

    today = SystemClock().now().astimezone(NEW_YORK).date()
    day = _parse_date(as_of, default=today, name="--date")
    backtest_html: Path | None = None
    try:
        store = _data_dir(data_dir) if use_store else None
        history, source = history_for_demo(store, day)
        last = max(d for d in history.sessions if d <= day)
        if backtest_months > 0:
            first = _months_before(last, backtest_months)
            config = StrategyConfig()
            result, _ = _run_backtest_suite(
                history, first, last, config, DEMO_EQUITY_USD,
                list(_ALL_STRATEGIES), [0.0, 1.0], workers or default_workers(),
                quiet=False, benchmarks=False, indices_csv=None,
            )  # fmt: skip
            paths = write_backtest_report(
                out / "backtest",
                result.runs,
                title=f"VixShield demo backtest {result.start} to {result.end}",
                config_text="(defaults)",
                data_description=source.label,
            )
            backtest_html = paths.html
            _show_backtest(result)
        path = build_demo_report(history, source, out)
    except VixShieldError as exc:
        raise _fail(exc) from None
    console.print(path.read_text(encoding="utf-8"), markup=False, highlight=False)
    if backtest_html is not None:
        console.print(
            f"\nBacktest report: [bold]{backtest_html.resolve()}[/] (JSON/CSV beside it)."
        )
    console.print(f"Signal report: [bold]{path.resolve()}[/] (and demo.json beside it).")


_ALL_STRATEGIES = ("full_alvh", "unhedged", "static_442", "vxth_hedge", "buy_and_hold")


def _months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's end)."""
    import calendar as month_calendar

    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    last_day = month_calendar.monthrange(y, m + 1)[1]
    return date(y, m + 1, min(day.day, last_day))


class DataSourceOption(StrEnum):
    """Where the signal's market history comes from."""

    real = "real"
    synthetic = "synthetic"


def _signal_history(source: DataSourceOption, data_dir: Path | None, day: date) -> Any:
    """The market history for ``signal``: the local store, or the embedded default market."""
    from vixshield.data.market import MarketHistory
    from vixshield.data.store import Store
    from vixshield.report.demo import default_history

    if source is DataSourceOption.synthetic:
        return default_history(day)
    store_dir = _data_dir(data_dir)
    if not (store_dir / "manifest.json").exists():
        raise VixShieldError(
            f"the local store at {store_dir} is empty: import the market data first "
            "(vixshield data import FOLDER) or run with --data synthetic"
        )
    history = MarketHistory.from_store(Store(store_dir))
    last = history.sessions[-1]
    if day > last:
        raise VixShieldError(
            f"the local store's data ends {last}, before {day}: import newer data "
            f"(vixshield data fetch --import) or pass --date {last}"
        )
    return history


def _cell(x: Any, digits: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    if isinstance(x, list):
        return ", ".join(_cell(v, digits) for v in x) or "-"
    return str(x)


def _show_orders(title: str, orders: list[dict[str, Any]], out: Console) -> None:
    if not orders:
        out.print(f"[bold]{title}[/]: none")
        return
    table = Table(title=title, show_lines=True)
    for col in ("action", "layer", "structure / legs", "qty", "limit (mid)", "reasons"):
        table.add_column(col, overflow="fold")
    for o in orders:
        legs = "\n".join(f"{leg['contract']}" for leg in o["legs"])
        qty = "\n".join(f"{leg['quantity']:+d} @ {leg['price']:.2f}" for leg in o["legs"])
        if legs:
            qty = "\n" + qty  # the first line of the next cell is the structure's name
        name = o["structure"] or ", ".join(o["closes"]) or "-"
        if o["quantity_change"] is not None:
            qty = (qty + "\n" if qty else "") + f"change {o['quantity_change']:+d}"
        table.add_row(
            escape(o["action"]),
            escape(o["layer"]),
            escape(name + ("\n" + legs if legs else "")),
            escape(qty or "-"),
            _cell(o["limit_price"]),
            escape("\n".join(o["reasons"])),
        )
    out.print(table)


def _show_signal(d: dict[str, Any]) -> None:
    out = Console(width=max(console.width, 160))
    out.print(f"[bold]VixShield signal for {d['session']}[/] (as of {d['as_of']})")
    regime = Table(title=f"Regime: {d['regime'] or 'unknown'}")
    regime.add_column("drivers", overflow="fold")
    for line in d["regime_drivers"]:
        regime.add_row(escape(line))
    out.print(regime)
    ind = Table(title="Indicators")
    ind.add_column("indicator")
    ind.add_column("value", justify="right")
    for k, v in d["indicators"].items():
        if k != "session":
            ind.add_row(escape(k), escape(_cell(v, 4)))
    out.print(ind)
    orders = [o for o in d["orders"] if o["layer"] != "hedge"]
    _show_orders("Orders", orders, out)
    _show_orders("Hedge actions", [o for o in d["orders"] if o["layer"] == "hedge"], out)
    if d["refusals"]:
        ref = Table(title="Refusals", show_lines=True)
        for col in ("layer", "what", "reasons"):
            ref.add_column(col, overflow="fold")
        for r in d["refusals"]:
            ref.add_row(escape(r["layer"]), escape(r["what"]), escape("\n".join(r["reasons"])))
        out.print(ref)
    else:
        out.print("[bold]Refusals[/]: none")
    book = d["book"]
    greeks = Table(title="Book Greeks (resulting book: open positions and proposed orders)")
    greeks.add_column("measure")
    greeks.add_column("value", justify="right")
    for k, v in book.get("greeks", {}).items():
        greeks.add_row(escape(k), _cell(v))
    band = book.get("delta_band")
    if band is not None:
        greeks.add_row("delta band", escape(band["reason"]))
    out.print(greeks)
    be = Table(title="Break-evens")
    for col in ("structure", "DTE", "max loss USD", "break-evens"):
        be.add_column(col, overflow="fold")
    for s in book.get("structures", []):
        be.add_row(
            escape(s["name"]), _cell(s["dte"]), _cell(s["max_loss_usd"]),
            _cell(s["breakevens_points"]),
        )  # fmt: skip
    out.print(be if book.get("structures") else "[bold]Break-evens[/]: no positions")
    sc = Table(title="Scenarios (P&L USD against today's marks)")
    for col in ("scenario", "SPX", "VIX", "days", "total P&L USD"):
        sc.add_column(col, justify="right")
    for s in d["scenarios"]:
        sc.add_row(
            escape(s["scenario"]), _cell(s["spx"]), _cell(s["vix"]), _cell(s["days"], 0),
            _cell(s["total_pnl_usd"]),
        )  # fmt: skip
    out.print(sc)
    out.print("[bold]Notes[/]")
    for n in d["notes"]:
        out.print(f"- {escape(n)}", soft_wrap=True)
    out.print(f"config fingerprint {d['config_fingerprint'][:16]}")


def _equity_closes(specs: list[str]) -> dict[str, Any]:
    """``SYMBOL=FILE`` options to closes by date (read and validated by the OHLCV loader)."""
    import pandas as pd

    from vixshield.data.loaders import load_ohlcv

    out: dict[str, Any] = {}
    for spec in specs:
        symbol, sep, path = spec.partition("=")
        if not sep or not symbol or not path:
            raise VixShieldError(f"--equity-prices {spec!r}: use SYMBOL=FILE, e.g. SPY=spy.csv")
        frame = load_ohlcv(Path(path), close_only=True).frame
        out[symbol] = pd.Series(frame["close"].to_numpy(), index=pd.DatetimeIndex(frame["date"]))
    return out


@app.command()
def signal(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Session, YYYY-MM-DD (default: the last session whose data is out by now).",
        ),
    ] = None,
    data: Annotated[
        DataSourceOption,
        typer.Option(
            "--data",
            help="real: the local store; synthetic: the embedded default market (seed 7).",
        ),
    ] = DataSourceOption.real,
    book_file: Annotated[
        Path | None, typer.Option("--book", help="Your open positions, CSV or JSON.")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="Strategy configuration TOML.")
    ] = None,
    equity: Annotated[float, typer.Option("--equity", help="Account equity, USD.")] = 100_000.0,
    equity_prices: Annotated[
        list[str] | None,
        typer.Option(
            "--equity-prices",
            help="SYMBOL=FILE: daily prices (Yahoo/Stooq CSV) of an equity holding whose beta "
            "the book does not give; its CAPM beta is estimated from trailing returns. Repeat.",
        ),
    ] = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The daily signal: regime, indicators, orders, hedge actions, book risk and scenarios.

    The decision is made as of the session's data stamp (the close plus 15 minutes), so
    running it twice for a day gives the same signal.
    """
    from vixshield.clock import FixedClock
    from vixshield.config import load_config
    from vixshield.data.book_file import read_book
    from vixshield.data.market import stamp
    from vixshield.engine import run_day

    now = SystemClock().now()
    try:
        if as_of is None:
            day = cal.previous_session(now.astimezone(NEW_YORK).date(), inclusive=True)
            if stamp(day) > now:
                day = cal.previous_session(day)
        else:
            day = _parse_date(as_of, default=now.date(), name="--date")
            if not cal.is_session(day):
                raise VixShieldError(
                    f"{day} ({day:%A}) is not a trading session; the one before is "
                    f"{cal.previous_session(day)}"
                )
            if stamp(day) > now:
                raise VixShieldError(
                    f"{day}'s data is not out yet (stamped {stamp(day).isoformat()}); "
                    "pick an earlier --date"
                )
        config = load_config(config_file)
        book = read_book(book_file) if book_file is not None else None
        closes = _equity_closes(equity_prices or [])
        history = _signal_history(data, data_dir, day)
        decision = run_day(
            history, day, clock=FixedClock(stamp(day)), config=config, book=book,
            equity_usd=equity, equity_closes=closes,
        )  # fmt: skip
    except VixShieldError as exc:
        raise _fail(exc) from None
    payload = decision.to_json()
    if as_json:
        _print_json(payload)
        return
    _show_signal(payload)


def _backtest_history(source: DataSourceOption, data_dir: Path | None) -> tuple[Any, str]:
    """The market for ``backtest``: the local store, or the embedded default market."""
    from vixshield.data.market import MarketHistory
    from vixshield.data.store import Store
    from vixshield.report.demo import default_history

    if source is DataSourceOption.synthetic:
        today = SystemClock().now().astimezone(NEW_YORK).date()
        return default_history(today), "embedded default market (seed 7, every datum modelled)"
    store_dir = _data_dir(data_dir)
    if not (store_dir / "manifest.json").exists():
        raise VixShieldError(
            f"the local store at {store_dir} is empty: import the market data first "
            "(vixshield data import FOLDER) or run with --data synthetic"
        )
    return MarketHistory.from_store(Store(store_dir)), f"local store {store_dir} (real data)"


@app.command()
def backtest(
    config_file: Annotated[
        Path | None, typer.Option("--config", help="Strategy configuration TOML.")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="First session, YYYY-MM-DD (default: 24 months before --end)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last session, YYYY-MM-DD (default: the last one).")
    ] = None,
    data: Annotated[
        DataSourceOption,
        typer.Option(
            "--data",
            help="real: the local store; synthetic: the embedded default market (seed 7).",
        ),
    ] = DataSourceOption.real,
    equity: Annotated[float, typer.Option("--equity", help="Starting equity, USD.")] = 1_000_000.0,
    strategies: Annotated[
        str,
        typer.Option(
            help="Comma-separated strategies: full_alvh, unhedged, static_442, vxth_hedge, "
            "buy_and_hold."
        ),
    ] = ",".join(_ALL_STRATEGIES),
    fractions: Annotated[
        str,
        typer.Option(
            "--k",
            help="Comma-separated fill fractions of the half-spread: 0 fills at the mid, 1 at "
            "the touch. Each strategy runs at each.",
        ),
    ] = "0,1",
    benchmarks: Annotated[
        bool,
        typer.Option(
            "--benchmarks/--no-benchmarks",
            help="Also run the Cboe PUT/BXM/CNDR/BFLY/VXTH rules and compare them with the "
            "published monthly levels (real data overlapping 1990-2015 only).",
        ),
    ] = True,
    indices_csv: Annotated[
        Path | None,
        typer.Option(
            "--indices",
            help="Published Cboe strategy index levels (default "
            "$VIXSHIELD_REAL_DATA/indices/cboe_strategy_monthly_1986_2015.csv, else "
            "../shared/data/indices/...).",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (default: the usable cores).")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("reports/backtest"),
    data_dir: DataDirOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON for scripts.")
    ] = False,
) -> None:
    """Backtest the method and its baselines over history and write the report.

    Each strategy runs through the same decision code as `signal`, net of Cboe fees, at each
    fill fraction; the report (HTML, plotly inlined, works offline) and JSON/CSV of every
    series go to --out.
    """
    from vixshield.backtest.suite import default_workers
    from vixshield.config import load_config
    from vixshield.report.backtest_report import write_backtest_report

    try:
        config = load_config(config_file)
        config_text = config_file.read_text(encoding="utf-8") if config_file else "(defaults)"
        history, label = _backtest_history(data, data_dir)
        last = history.sessions[-1]
        stop = _parse_date(end, default=last, name="--end")
        if stop > last:
            raise VixShieldError(f"--end {stop} is after the history's last session {last}")
        first = _parse_date(start, default=_months_before(stop, 24), name="--start")
        names = [s.strip() for s in strategies.split(",") if s.strip()]
        try:
            ks = [float(k) for k in fractions.split(",") if k.strip()]
        except ValueError:
            raise VixShieldError(f"--k {fractions!r}: give numbers like 0,0.5,1") from None
        result, comparison = _run_backtest_suite(
            history, first, stop, config, equity, names, ks,
            workers or default_workers(), quiet=as_json,
            benchmarks=benchmarks and data is DataSourceOption.real,
            indices_csv=indices_csv,
        )  # fmt: skip
        paths = write_backtest_report(
            out,
            result.runs,
            title=f"VixShield backtest {result.start} to {result.end}",
            config_text=config_text,
            data_description=label,
            benchmarks=comparison,
            generated_at=SystemClock().now(),
            settings={
                "window asked": f"{first} to {stop}",
                "worker processes": workers or default_workers(),
            },
        )
    except VixShieldError as exc:
        raise _fail(exc) from None
    summary = {
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "data": label,
        "report": str(paths.html.resolve()),
        "runs": {
            name: {f"{k:g}": json.loads(r.metrics.to_json()) for k, r in by_k.items()}
            for name, by_k in result.runs.items()
        },
    }
    if as_json:
        _print_json(summary)
        return
    _show_backtest(result)
    console.print(f"\nReport written to [bold]{paths.html.resolve()}[/] (JSON/CSV beside it).")


def _run_backtest_suite(
    history: Any,
    first: date,
    stop: date,
    config: Any,
    equity: float,
    names: list[str],
    ks: list[float],
    workers: int,
    *,
    quiet: bool,
    benchmarks: bool,
    indices_csv: Path | None,
) -> tuple[Any, Any]:
    """The suite with a progress bar, and the Cboe comparison when asked and possible."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from vixshield.backtest.cboe import BENCHMARKS, compare_with_published
    from vixshield.backtest.suite import run_suite

    published = _indices_csv(indices_csv) if benchmarks else None
    rules: tuple[str, ...] = ()
    if published is not None:
        if first > _PUBLISHED_END:
            Console(stderr=True).print(
                f"[yellow]benchmarks skipped:[/] the published Cboe levels end "
                f"{_PUBLISHED_END}, before --start {first}"
            )
        else:
            rules = tuple(BENCHMARKS)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    ) as bar:
        task = bar.add_task("backtest sessions", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_suite(
            history, start=first, end=stop, config=config, equity_usd=equity,
            strategies=names, ks=ks, workers=workers, progress=progress, benchmarks=rules,
        )  # fmt: skip
    comparison = None
    if rules and published is not None:
        comparison = compare_with_published(result.benchmarks, published)
    return result, comparison


_PUBLISHED_END = date(2015, 12, 31)  # last month of the published Cboe file


def _indices_csv(given: Path | None) -> Path | None:
    """The published Cboe monthly levels: --indices, else the shared data folder, else None."""
    if given is not None:
        if not given.exists():
            raise VixShieldError(f"--indices {given}: no such file")
        return given
    name = Path("indices") / "cboe_strategy_monthly_1986_2015.csv"
    root = os.environ.get("VIXSHIELD_REAL_DATA")
    for base in ([Path(root)] if root else []) + [Path("..") / "shared" / "data"]:
        if (base / name).exists():
            return base / name
    Console(stderr=True).print(
        "[yellow]benchmarks skipped:[/] no published Cboe levels found; pass --indices FILE"
    )
    return None


def _show_backtest(result: Any) -> None:
    table = Table(title=f"Backtest {result.start} to {result.end} (net of fees)")
    table.add_column("strategy")
    table.add_column("k", justify="right")
    for col in ("CAGR", "vol", "Sharpe", "max DD", "Calmar", "CVaR95 (day)", "final equity"):
        table.add_column(col, justify="right")
    for name, by_k in result.runs.items():
        for k, r in by_k.items():
            m = r.metrics
            table.add_row(
                name,
                f"{k:g}",
                _pct(m.cagr),
                _pct(m.vol_annual),
                _cell(m.sharpe),
                _pct(m.max_drawdown),
                _cell(m.calmar),
                _pct(m.cvar95_daily),
                f"{float(r.equity.iloc[-1]):,.0f}",
            )
    Console(width=max(console.width, 120)).print(table)


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{100 * x:.2f}%"


@app.command()
def sweep(
    spec: Annotated[
        Path,
        typer.Argument(
            help="Sweep spec TOML: [sweep] mode/samples/seed/objective, [sweep.grid] or "
            "[sweep.random] over dotted config keys, optional [base]."
        ),
    ],
    start: Annotated[str, typer.Option(help="First session, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last session, YYYY-MM-DD.")],
    data: Annotated[
        DataSourceOption,
        typer.Option(
            "--data",
            help="real: the local store; synthetic: the embedded default market (seed 7).",
        ),
    ] = DataSourceOption.synthetic,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="Base configuration TOML (under [base]).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(help="Local worker processes (default: every core; 1 runs in-process)."),
    ] = 0,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Run on a Ray cluster at this address (host:port or auto; 'local' starts "
            "an in-process one). The market data goes into Ray's object store once.",
        ),
    ] = None,
    walk_forward: Annotated[
        bool,
        typer.Option(
            "--walk-forward",
            help="Walk-forward: pick the best config in each in-sample window, judge it on "
            "the next out-of-sample window, stitch the out-of-sample curve.",
        ),
    ] = False,
    is_months: Annotated[int, typer.Option(help="In-sample months per fold.")] = 12,
    oos_months: Annotated[int, typer.Option(help="Out-of-sample months per fold.")] = 3,
    anchored: Annotated[
        bool, typer.Option(help="In-sample windows all start at --start (expanding).")
    ] = False,
    equity: Annotated[float, typer.Option("--equity", help="Starting equity, USD.")] = 1e6,
    fill_k: Annotated[
        float | None,
        typer.Option("--k", help="Fill fraction of the half-spread (default 0.5)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for sweep.json/csv.")] = Path("reports/sweep"),
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Grid or random search over configurations, in parallel, with walk-forward evaluation.

    Each configuration is a full backtest (the same decision code as `signal`); the ranked
    table and every metric go to --out as JSON and CSV.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from vixshield.backtest.sweep import sweep_command_impl

    first = _parse_date(start, default=date.min, name="--start")
    last = _parse_date(end, default=date.max, name="--end")
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=as_json,
            transient=True,
        ) as bar:
            task = bar.add_task("configurations", total=None)
            result, paths = sweep_command_impl(
                spec, start=first, end=last, data=data.value,
                store_dir=_data_dir(data_dir) if data is DataSourceOption.real else None,
                config_path=config_file, workers=workers or None, ray_address=ray_address,
                walk_forward_eval=walk_forward, is_months=is_months, oos_months=oos_months,
                anchored=anchored, equity_usd=equity, fill_k=fill_k, out_dir=out,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )  # fmt: skip
    except VixShieldError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(result.to_json(indent=2) + "\n")
        return
    Console(width=max(console.width, 200)).print(
        result.summary().to_string(index=False), markup=False, highlight=False
    )
    console.print(f"\nWritten: {', '.join(str(p) for p in paths)}")


SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--settings",
        help="Service settings TOML (default $VIXSHIELD_SETTINGS, else every default; see "
        "`vixshield settings-init`).",
    ),
]


def _settings(path: Path | None) -> Any:
    from vixshield.service.settings import load_settings

    if path is None:
        env = os.environ.get("VIXSHIELD_SETTINGS")
        path = Path(env) if env else None
    return load_settings(path)


@app.command("settings-init")
def settings_init(
    out: Annotated[Path, typer.Argument(help="Where to write the file.")] = Path("service.toml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write the service settings (``service.toml``) with every key, default and comment."""
    from vixshield.service.settings import DEFAULT_SETTINGS_TOML, load_settings

    if out.exists() and not force:
        raise _fail(VixShieldError(f"{out} exists; pass --force to overwrite it"))
    out.write_text(DEFAULT_SETTINGS_TOML, encoding="utf-8")
    load_settings(out)  # the written file must load
    console.print(f"wrote {escape(str(out))}")


@app.command("run-daily")
def run_daily_cmd(
    settings_file: SettingsOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Trading day, YYYY-MM-DD (default: today in New York; skipped when today is "
            "not a session or its data is not out yet).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Catch up: run every session from this day (YYYY-MM-DD) to the last one "
            "whose data is out; journaled days are reported. Only the last day is sent.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Record a new revision even if the day is already journaled.")
    ] = False,
    notify: Annotated[
        bool, typer.Option("--notify/--no-notify", help="Send the configured notifications.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The daily job: update data (if configured), compute the signal, journal it, notify.

    Idempotent per trading day: a second run reports the stored signal (exit 0); --force
    records a new revision. Exit status: 0 recorded, stored or skipped; 1 the run failed (it
    is journaled as failed, with its error); 2 bad settings or arguments; 3 the signal was
    journaled but a notification could not be delivered after its retries.
    """
    from vixshield.service.daily import run_daily, run_since

    try:
        settings = _settings(settings_file)
        if since is not None:
            if as_of is not None:
                raise VixShieldError("give --date or --since, not both")
            first = _parse_date(since, default=date.min, name="--since")
            outcomes = run_since(settings, first, force=force, notify=notify)
            _show_catch_up(outcomes, as_json=as_json)
            return
        day = None if as_of is None else _parse_date(as_of, default=date.min, name="--date")
        outcome = run_daily(settings, day=day, force=force, notify=notify)
    except VixShieldError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(outcome.to_json())
    else:
        colour = {"recorded": "green", "stored": "cyan", "skipped": "yellow"}.get(
            outcome.status, "red"
        )
        console.print(f"[bold {colour}]{outcome.status}[/]: {escape(outcome.message)}",
                      soft_wrap=True)  # fmt: skip
        for u in outcome.data_updates:
            if u.get("status") not in ("ok", "downloaded", "not_modified"):
                console.print(f"  data: {escape(json.dumps(u))}", soft_wrap=True)
        for n in outcome.to_json()["notifications"]:
            state = "sent" if n.get("ok") else f"FAILED ({n.get('error')})"
            console.print(
                f"  {n.get('channel')} {escape(str(n.get('target')))}: {escape(state)} "
                f"after {n.get('attempts')} attempt(s)",
                soft_wrap=True,
            )
        if outcome.decision is not None and outcome.status in ("recorded", "stored"):
            _show_signal(dict(outcome.decision))
    if outcome.status == "failed":
        raise typer.Exit(code=1)
    if not outcome.notifications_ok:
        raise typer.Exit(code=3)


def _show_catch_up(outcomes: list[Any], *, as_json: bool) -> None:
    """Print a catch-up's outcomes; exit 1 if any session failed, 3 if a send failed."""
    if as_json:
        _print_json([o.to_json() for o in outcomes])
    else:
        table = Table(title="Catch-up")
        for col in ("session", "status", "message"):
            table.add_column(col, overflow="fold")
        for o in outcomes:
            table.add_row(str(o.session), escape(o.status), escape(o.message))
        console.print(table)
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(code=1)
    if not all(o.notifications_ok for o in outcomes):
        raise typer.Exit(code=3)


@app.command()
def serve(
    settings_file: SettingsOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default api.port).")] = None,
    schedule: Annotated[
        bool,
        typer.Option(
            "--schedule/--no-schedule", help="Run the daily job on its schedule in the server."
        ),
    ] = True,
    catch_up: Annotated[
        bool,
        typer.Option(
            "--catch-up/--no-catch-up",
            help="At start, journal the last published session's signal if it is missing.",
        ),
    ] = True,
) -> None:
    """The HTTP API and dashboard, with the daily job scheduled after the close.

    The schedule is ``schedule.time`` in ``schedule.timezone`` (default 16:30 New York) every
    day; the job skips days that are not sessions. The next fire times are printed in the zone,
    in New York and in UTC. At start the last published session is journaled if it is missing
    (--no-catch-up to skip).
    """
    import logging

    import uvicorn

    from vixshield.service.api import create_app
    from vixshield.service.daily import last_published_session, open_journal, run_daily
    from vixshield.service.scheduler import describe_schedule, start_scheduler

    try:
        settings = _settings(settings_file)
        journal = open_journal(settings)
    except VixShieldError as exc:
        raise _fail(exc) from None
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app_ = create_app(settings, journal=journal)

    def _last() -> date:
        return last_published_session(SystemClock().now())

    scheduler = None
    if schedule:
        scheduler = start_scheduler(
            settings.schedule,
            lambda: run_daily(settings, journal=journal),
            lock=app_.state.run_lock,  # one run at a time with POST /api/runs
            catch_up=(lambda: run_daily(settings, journal=journal, day=_last()))
            if catch_up
            else None,
        )
        console.print("[bold]Daily job[/] (next runs):")
        for line in describe_schedule(settings.schedule, SystemClock().now()):
            console.print(f"  {escape(line)}", soft_wrap=True)
        if catch_up:
            last = last_published_session(SystemClock().now())
            console.print(f"  catch-up now: the signal for {last} unless already journaled")
    if settings.api.token() is None:
        console.print(
            f"[yellow]writes are disabled:[/] set {escape(settings.api.token_env)} to enable "
            "POST /api/fills, /api/positions and /api/runs"
        )
    bind_host = host or settings.api.host
    bind_port = port or settings.api.port
    console.print(f"dashboard: http://{bind_host}:{bind_port}/  API: /api/health, /openapi.json")
    try:
        uvicorn.run(app_, host=bind_host, port=bind_port, log_level="info")
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        journal.close()


journal_app = typer.Typer(
    help="The journal: record your positions and fills, show runs and the journaled book.",
    no_args_is_help=True,
)
app.add_typer(journal_app, name="journal")


@journal_app.command("positions")
def journal_positions(
    path: Annotated[Path, typer.Argument(help="Your whole book: a book file (CSV or JSON).")],
    as_of: Annotated[str, typer.Option("--as-of", help="The day the book is as of, YYYY-MM-DD.")],
    note: Annotated[str, typer.Option(help="A note kept with the snapshot.")] = "",
    settings_file: SettingsOption = None,
) -> None:
    """Record your whole book as of a day (e.g. exported from your broker).

    The daily job then reads this snapshot plus the fills recorded after it. The file format
    is the ``signal --book`` one (README: "Your book").
    """
    from vixshield.data.book_file import read_book
    from vixshield.service.daily import open_journal

    try:
        day = _parse_date(as_of, default=date.min, name="--as-of")
        book = read_book(path)
        with open_journal(_settings(settings_file)) as journal:
            snapshot = journal.record_positions(book, as_of=day, note=note)
    except VixShieldError as exc:
        raise _fail(exc) from None
    legs = sum(len(s.legs) for s in book.structures)
    console.print(
        f"recorded snapshot {snapshot} as of {day}: {len(book.structures)} structure(s), "
        f"{legs} leg(s), {len(book.equities)} equity holding(s)"
    )


@journal_app.command("fills")
def journal_fills(
    path: Annotated[
        Path,
        typer.Argument(
            help="Executions, CSV or JSON: trade_date, structure, root, expiry, strike, right, "
            "quantity (+ bought), price, optional fees (USD) and note."
        ),
    ],
    settings_file: SettingsOption = None,
) -> None:
    """Record executed trades against the journaled book (all rows or none)."""
    from vixshield.data.book_file import read_fills
    from vixshield.journal import FillInput
    from vixshield.service.daily import open_journal

    try:
        rows = read_fills(path)
        fills = [
            FillInput(
                trade_date=r.trade_date,
                structure=r.structure,
                contract=r.leg.contract,
                quantity=r.leg.quantity,
                price=r.leg.price,
                fees_usd=r.fees_usd,
                note=r.note,
            )
            for r in rows
        ]
        with open_journal(_settings(settings_file)) as journal:
            stored = journal.record_fills(fills)
    except VixShieldError as exc:
        raise _fail(exc) from None
    console.print(f"recorded {len(stored)} fill(s) from {escape(str(path))}")


@journal_app.command("book")
def journal_book(
    as_of: Annotated[
        str | None, typer.Option("--date", help="Day, YYYY-MM-DD (default: today, New York).")
    ] = None,
    settings_file: SettingsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The journaled book on a day: the latest snapshot plus the fills after it."""
    from vixshield.service.daily import open_journal

    today = SystemClock().now().astimezone(NEW_YORK).date()
    try:
        day = _parse_date(as_of, default=today, name="--date")
        with open_journal(_settings(settings_file)) as journal:
            book = journal.book(day)
    except VixShieldError as exc:
        raise _fail(exc) from None
    legs: list[dict[str, Any]] = [
        {"structure": s.name, "contract": leg.contract.label(), "quantity": leg.quantity,
         "price": leg.price, "opened": _iso(book.opened.get(s.name)),
         "fees_usd": book.fees_usd.get(s.name, 0.0)}
        for s in book.structures
        for leg in s.legs
    ]  # fmt: skip
    equities: list[dict[str, Any]] = [{"symbol": e.symbol, "shares": e.shares, "price": e.price,
                 "beta": book.equity_betas.get(e.symbol)} for e in book.equities]  # fmt: skip
    if as_json:
        _print_json({"as_of": day.isoformat(), "legs": legs, "equities": equities})
        return
    table = Table(title=f"Journaled book on {day}")
    for col in ("structure", "contract", "qty", "open price", "opened", "fees USD"):
        table.add_column(col)
    for leg in legs:
        table.add_row(
            escape(leg["structure"]), escape(leg["contract"]), f"{leg['quantity']:+d}",
            f"{leg['price']:.2f}", leg["opened"] or "-", _cell(leg["fees_usd"]),
        )  # fmt: skip
    console.print(table if legs else f"no option positions on {day}")
    for e in equities:
        console.print(f"equity {escape(e['symbol'])}: {e['shares']:g} @ {e['price']:.2f}")


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


@journal_app.command("runs")
def journal_runs(
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest runs.")] = 20,
    settings_file: SettingsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The latest runs of every mode, newest first, with status, revision and error."""
    from vixshield.service.daily import open_journal

    try:
        with open_journal(_settings(settings_file)) as journal:
            runs = journal.runs()[-limit:][::-1]
    except VixShieldError as exc:
        raise _fail(exc) from None
    rows: list[dict[str, Any]] = [
        {"id": r.id, "trading_day": r.trading_day.isoformat(), "mode": r.mode,
         "status": r.status, "revision": r.revision, "started_at": r.started_at.isoformat(),
         "finished_at": None if r.finished_at is None else r.finished_at.isoformat(),
         "code_version": r.code_version, "error": r.error}
        for r in runs
    ]  # fmt: skip
    if as_json:
        _print_json(rows)
        return
    table = Table(title="Journal runs (newest first)")
    for col in ("id", "day", "mode", "rev", "status", "finished (UTC)", "error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["id"]), r["trading_day"], escape(r["mode"]), str(r["revision"]),
            escape(r["status"]), (r["finished_at"] or "-")[:19], escape(r["error"] or ""),
        )  # fmt: skip
    console.print(table)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover - `python -m vixshield.cli`
    main()
