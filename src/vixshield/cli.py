"""The ``vixshield`` command line: a thin front end over the library, no logic of its own.

Every command prints a readable table and takes ``--json`` for scripts. Errors the user can
fix (a bad date, a malformed CSV) print one line naming the problem and exit with status 2.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime, time, timedelta
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


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("reports/demo"),
    as_of: Annotated[
        str | None, typer.Option("--date", help="As-of date YYYY-MM-DD (default today).")
    ] = None,
) -> None:
    """Run the foundation demo on an illustrative market and print where the report is."""
    from vixshield.report.foundation import build_foundation_report

    now = SystemClock().now()
    if as_of is not None:
        day = _parse_date(as_of, default=now.date(), name="--date")
        now = datetime.combine(day, time(15, 45), tzinfo=NEW_YORK)
    try:
        path = build_foundation_report(now, out)
    except VixShieldError as exc:
        raise _fail(exc) from None
    console.print(path.read_text(encoding="utf-8"), markup=False, highlight=False)
    console.print(f"\nReport written to [bold]{path.resolve()}[/] (and foundation.json beside it).")


def main() -> None:  # pragma: no cover - console entry point
    app()
