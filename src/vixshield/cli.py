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
) -> None:
    """Show one day of the market (your store, or the embedded default market) and where the
    report is: the daily signal, the snapshot, expiries, a 45-DTE iron condor from the day's
    chain, the VIX on that chain."""
    from vixshield.report.demo import build_demo_report, history_for_demo

    today = SystemClock().now().astimezone(NEW_YORK).date()
    day = _parse_date(as_of, default=today, name="--date")
    try:
        store = _data_dir(data_dir) if use_store else None
        history, source = history_for_demo(store, day)
        path = build_demo_report(history, source, out)
    except VixShieldError as exc:
        raise _fail(exc) from None
    console.print(path.read_text(encoding="utf-8"), markup=False, highlight=False)
    console.print(f"\nReport written to [bold]{path.resolve()}[/] (and demo.json beside it).")


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


def main() -> None:  # pragma: no cover - console entry point
    app()
