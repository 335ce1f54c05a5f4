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
    help="SPX iron condors with an Adaptive Layered VIX Hedge. Today: option pricing and "
    "implied vol, the SPX/SPXW/VIX expiry calendar, and a demo report.",
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
    report is: the snapshot, expiries, a 45-DTE iron condor from the day's chain, the VIX."""
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


def main() -> None:  # pragma: no cover - console entry point
    app()
