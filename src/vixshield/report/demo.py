"""The demo report: one day of the market, as the decision code will see it, made checkable.

The market is the user's local store when it holds an S&P 500 series, otherwise the
**embedded default market** (:mod:`vixshield.data.synthetic`, seeded, every datum flagged
``modelled``). For the last session of that history the report shows:

1. the snapshot: SPX, the VIX family, the VX curve, breadth, rate and the sessions to the next
   FOMC, CPI and PPI, each value marked real or model;
2. the SPX, SPXW and VIX expiries of the next 45 days with their settlement instants;
3. that day's option chain (the stored real chain, or a model chain) and a 45-DTE SPX iron
   condor chosen from it by METHOD §5 defaults (shorts nearest 12 delta, 50-point wings): each
   leg's bid, ask, mid, implied vol and Greeks, credit, max loss and break-evens;
4. the Cboe VIX formula run on that chain, next to the day's VIX.

It opens with the daily signal for that session (:func:`vixshield.engine.run_day` with the
default configuration and $1,000,000 of equity): regime and drivers, orders with reasons,
refusals, the scenario table and the notes on what was modelled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from vixshield import calendar
from vixshield.clock import FixedClock
from vixshield.config import StrategyConfig
from vixshield.data.chains import add_implied_vols, chain_quote_time, chain_to_vix_quotes
from vixshield.data.market import MarketHistory, stamp
from vixshield.data.store import Store
from vixshield.data.synthetic import synthetic_market
from vixshield.domain.market import MarketSnapshot
from vixshield.engine import run_day
from vixshield.errors import DataError, VixShieldError
from vixshield.pricing.black import black76_greeks
from vixshield.pricing.vix import vix_index
from vixshield.units import SPX_MULTIPLIER

CONDOR_TARGET_DTE: Final = 45
SHORT_DELTA: Final = 0.12
WING_POINTS: Final = 50.0
DEFAULT_DIV_YIELD: Final = 0.015  # the history holds no dividend yield: a stated assumption
DEFAULT_RATE: Final = 0.04  # used only when the history has no rate that day
DEMO_EQUITY_USD: Final = 1_000_000.0


@dataclass(frozen=True, slots=True)
class DemoSource:
    """Where the demo's market came from, in words a report can print."""

    label: str
    modelled: bool


def _snapshot_section(snap: MarketSnapshot) -> dict[str, Any]:
    def tag(modelled: bool) -> str:
        return "model" if modelled else "real"

    return {
        "session": snap.session.isoformat(),
        "spx": {"close": snap.spx.close, "source": tag(snap.spx.modelled)},
        "indices": {
            k: {"value": d.value, "source": tag(d.modelled)}
            for k, d in sorted(snap.indices.items())
        },
        "vx_curve": [
            {
                "rank": p.rank,
                "expiry": p.expiry.isoformat(),
                "dte": p.dte,
                "settle": p.settle,
                "source": tag(p.modelled),
            }
            for p in snap.vx_curve
        ],
        "breadth": None
        if snap.breadth is None
        else {
            "advances": snap.breadth.advances,
            "declines": snap.breadth.declines,
            "source": tag(snap.breadth.modelled),
        },
        "rate": None
        if snap.rate is None
        else {"value": snap.rate.value, "source": tag(snap.rate.modelled)},
        "trading_days_to": dict(snap.trading_days_to),
        "modelled_fields": list(snap.modelled_fields()),
    }


def _expiry_section(today: date) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for kind in calendar.ExpiryKind:
        for e in calendar.expiries(kind, today, today + timedelta(days=45)):
            out.append(
                {
                    "kind": kind.value,
                    "expiry": e.expiry_date.isoformat(),
                    "weekday": e.expiry_date.strftime("%a"),
                    "settlement": e.settlement.isoformat(),
                    "last_trade_date": e.last_trade_date.isoformat(),
                }
            )
    out.sort(key=lambda r: (r["expiry"], r["kind"]))
    return out


def _condor_section(chain: pd.DataFrame, rate: float, today: date) -> dict[str, Any]:
    spx = chain.loc[chain["root"].isin(["SPX", "SPXW"])]
    priced = add_implied_vols(spx, rate=rate)
    priced = priced.loc[priced["iv_reason"] == "OK"]
    expiries = sorted(set(priced["expiry"]))
    if not expiries:
        raise DataError(f"{today}: no SPX quote in the chain has an implied vol")
    expiry = min(expiries, key=lambda d: abs((d - today).days - CONDOR_TARGET_DTE))
    one = priced.loc[priced["expiry"] == expiry]
    puts = one.loc[one["right"] == "P"].set_index("strike")
    calls = one.loc[one["right"] == "C"].set_index("strike")
    short_put = float((puts["delta"] + SHORT_DELTA).abs().idxmin())
    short_call = float((calls["delta"] - SHORT_DELTA).abs().idxmin())
    wanted = [
        ("sell", "P", short_put),
        ("buy", "P", short_put - WING_POINTS),
        ("sell", "C", short_call),
        ("buy", "C", short_call + WING_POINTS),
    ]
    legs_frame = []
    for side, right, strike in wanted:
        book = puts if right == "P" else calls
        if strike not in book.index:
            raise DataError(f"{today}: no {right} {strike:.0f} quote with an IV for {expiry}")
        legs_frame.append((side, right, strike, book.loc[strike]))
    t = float(legs_frame[0][3]["t_years"])
    fwd = float(legs_frame[0][3]["forward"])
    strikes = np.array([k for _, _, k, _ in legs_frame])
    vols = np.array([float(r["iv"]) for *_, r in legs_frame])
    is_call = np.array([right == "C" for _, right, _, _ in legs_frame])
    g = black76_greeks(fwd, strikes, t, vols, rate=rate, is_call=is_call)
    sign = np.array([-1.0 if side == "sell" else 1.0 for side, *_ in legs_frame])
    mids = np.array([(float(r["bid"]) + float(r["ask"])) / 2 for *_, r in legs_frame])
    legs = [
        {
            "side": side,
            "right": right,
            "strike": strike,
            "bid": float(row["bid"]),
            "ask": float(row["ask"]),
            "mid": float(mids[i]),
            "iv": float(vols[i]),
            "model_price_at_iv": float(g.price[i]),
            "delta": float(g.delta[i]),
            "gamma": float(g.gamma[i]),
            "vega_per_volpt": float(g.vega_per_volpt[i]),
            "theta_per_day": float(g.theta_per_day[i]),
        }
        for i, (side, right, strike, row) in enumerate(legs_frame)
    ]
    credit = float(-(sign * mids).sum())
    position = {
        name: float((sign * getattr(g, name)).sum()) * SPX_MULTIPLIER
        for name in ("delta", "gamma", "vega_per_volpt", "theta_per_day")
    }
    return {
        "expiry": expiry.isoformat(),
        "root": str(legs_frame[0][3]["root"]),
        "t_years": t,
        "forward": fwd,
        "legs": legs,
        "credit_points": credit,
        "credit_usd": credit * SPX_MULTIPLIER,
        "max_loss_usd": (WING_POINTS - credit) * SPX_MULTIPLIER,
        "breakeven_low": short_put - credit,
        "breakeven_high": short_call + credit,
        "position_greeks_usd": position,
        "reprice_max_abs_error": float(np.max(np.abs(g.price - mids))),
    }


def _vix_section(chain: pd.DataFrame, rate: float, snap: MarketSnapshot) -> dict[str, Any]:
    spx = chain.loc[chain["root"].isin(["SPX", "SPXW"])]
    res = vix_index(chain_to_vix_quotes(spx), chain_quote_time(spx), rate=rate)
    published = snap.index("vix")
    return {
        "vix_from_chain": res.value,
        "vix_of_the_day": published,
        "difference": None if published is None else res.value - published,
        "terms": [t.expiry.isoformat() for t in (res.near, res.next_term) if t is not None],
        "strikes_used": [t.n_strikes for t in (res.near, res.next_term) if t is not None],
    }


def build_demo_report(history: MarketHistory, source: DemoSource, out_dir: Path) -> Path:
    """Write ``demo.md`` and ``demo.json`` for the last session of ``history``."""
    session = history.sessions[-1]
    clock = FixedClock(stamp(session))
    snap = history.snapshot(session, clock=clock)
    rate = snap.rate.value if snap.rate is not None else DEFAULT_RATE
    chain = history.spx_chain(session, clock=clock, rate=rate, div_yield=DEFAULT_DIV_YIELD)
    data: dict[str, Any] = {
        "as_of": clock.now().isoformat(),
        "market": source.label,
        "all_modelled": source.modelled,
        "chain_source": "model" if bool(chain["modelled"].all()) else "real",
        "assumptions": {
            "rate": rate,
            "rate_source": "history" if snap.rate is not None else "default (no rate that day)",
            "div_yield": DEFAULT_DIV_YIELD,
        },
        "snapshot": _snapshot_section(snap),
        "expiries": _expiry_section(session),
        "iron_condor": _condor_section(chain, rate, session),
        "vix_check": _vix_section(chain, rate, snap),
        "signal": run_day(
            history,
            session,
            clock=clock,
            config=StrategyConfig(),
            equity_usd=DEMO_EQUITY_USD,
            rate=rate,
            div_yield=DEFAULT_DIV_YIELD,
        ).to_json(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "demo.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md = out_dir / "demo.md"
    md.write_text(_markdown(data), encoding="utf-8")
    return md


def _signal_lines(sig: dict[str, Any]) -> list[str]:
    lines = [
        f"## The daily signal: regime {sig['regime']}",
        "",
        *[f"- {d}" for d in sig["regime_drivers"]],
        "",
    ]
    if sig["orders"]:
        lines += [
            "| action | layer | structure | limit (per unit) | legs |",
            "|---|---|---|---|---|",
        ]
        for o in sig["orders"]:
            legs = ", ".join(f"{leg['quantity']:+d} {leg['contract']}" for leg in o["legs"])
            limit = "-" if o["limit_price"] is None else f"{o['limit_price']:.2f}"
            lines.append(f"| {o['action']} | {o['layer']} | {o['structure']} | {limit} | {legs} |")
        lines.append("")
        for o in sig["orders"]:
            lines.append(f"- **{o['structure']}**: " + "; ".join(o["reasons"]))
    else:
        lines.append("No orders today.")
    for r in sig["refusals"]:
        lines.append(f"- refused, {r['what']}: " + "; ".join(r["reasons"]))
    if sig["scenarios"] and sig["book"].get("structures"):
        lines += [
            "",
            "Scenarios for the resulting book:",
            "",
            "| scenario | P&L USD |",
            "|---|---|",
        ]
        for sc in sig["scenarios"]:
            lines.append(f"| {sc['scenario']} | {sc['total_pnl_usd']:,.0f} |")
    lines += ["", *[f"- note: {n}" for n in sig["notes"]], ""]
    return lines


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _markdown(data: dict[str, Any]) -> str:
    s = data["snapshot"]
    c = data["iron_condor"]
    v = data["vix_check"]
    a = data["assumptions"]
    lines = [
        "# VixShield demo",
        "",
        f"Market: **{data['market']}**. Session {s['session']}, data as of {data['as_of']}.",
        "",
        f"The daily signal for this session (default configuration, equity "
        f"${DEMO_EQUITY_USD:,.0f}) comes first; then the building blocks it stands on.",
        "",
        *_signal_lines(data["signal"]),
        "## The day's snapshot",
        "",
        "| series | value | source |",
        "|---|---|---|",
        f"| SPX close | {s['spx']['close']:.2f} | {s['spx']['source']} |",
    ]
    for name, d in s["indices"].items():
        lines.append(f"| {name.upper()} | {d['value']:.2f} | {d['source']} |")
    for p in s["vx_curve"]:
        lines.append(
            f"| VX{p['rank']} ({p['expiry']}, {p['dte']} d) | {p['settle']:.2f} | {p['source']} |"
        )
    if s["breadth"] is not None:
        b = s["breadth"]
        lines.append(
            f"| NYSE advances / declines | {b['advances']} / {b['declines']} | {b['source']} |"
        )
    if s["rate"] is not None:
        lines.append(f"| short rate | {s['rate']['value']:.4f} | {s['rate']['source']} |")
    events = ", ".join(f"{k.upper()} in {n}" for k, n in sorted(s["trading_days_to"].items()))
    lines += [
        "",
        f"Sessions to the next events: {events or 'none scheduled'}.",
        "",
        "## Expiries in the next 45 days",
        "",
        "| expiry | day | kind | settles | last trade |",
        "|---|---|---|---|---|",
    ]
    for e in data["expiries"]:
        lines.append(
            f"| {e['expiry']} | {e['weekday']} | {e['kind']} | {e['settlement']} | "
            f"{e['last_trade_date']} |"
        )
    lines += [
        "",
        f"## A {CONDOR_TARGET_DTE}-DTE iron condor from the {data['chain_source']} chain",
        "",
        f"Expiry {c['expiry']} ({c['root']}), T = {c['t_years']:.6f} years to settlement, "
        f"parity forward {c['forward']:.2f}; rate {a['rate']:.4f} ({a['rate_source']}), "
        f"dividend yield {a['div_yield']} (assumed). Shorts nearest {SHORT_DELTA:.2f} delta, "
        f"wings {WING_POINTS:.0f} points, fills at mid.",
        "",
        "| side | right | strike | bid | ask | mid | IV | delta | gamma | vega/volpt | theta/day |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for leg in c["legs"]:
        lines.append(
            f"| {leg['side']} | {leg['right']} | {leg['strike']:.0f} | {leg['bid']:.2f} | "
            f"{leg['ask']:.2f} | {leg['mid']:.3f} | {leg['iv']:.4f} | {leg['delta']:.4f} | "
            f"{leg['gamma']:.6f} | {leg['vega_per_volpt']:.4f} | {leg['theta_per_day']:.4f} |"
        )
    g = c["position_greeks_usd"]
    lines += [
        "",
        f"- Credit {c['credit_points']:.2f} points (${c['credit_usd']:.0f}); max loss "
        f"${c['max_loss_usd']:.0f}; break-evens {c['breakeven_low']:.2f} / "
        f"{c['breakeven_high']:.2f}.",
        f"- One condor: delta {g['delta']:.2f}, gamma {g['gamma']:.4f}, vega per vol point "
        f"{g['vega_per_volpt']:.2f}, theta per day {g['theta_per_day']:.2f} (x100, USD).",
        f"- Each leg repriced at its implied vol: max error {c['reprice_max_abs_error']:.1e}.",
        "",
        "## The VIX formula on this chain",
        "",
        f"Cboe's method on the chain (terms {', '.join(v['terms'])}, {v['strikes_used']} "
        f"strikes) gives **{v['vix_from_chain']:.2f}**; the day's VIX is "
        f"{_fmt(v['vix_of_the_day'])} (difference {_fmt(v['difference'])}).",
        "",
    ]
    if data["chain_source"] == "model":
        lines += [
            "The chain is a model chain: its smile is calibrated so that its variance swap is "
            "0.945 times the index variance (model wings beyond 5 delta are thinner than real "
            "ones), so the VIX computed on it runs about 3% below the day's index by "
            "construction.",
            "",
        ]
    return "\n".join(lines)


def default_history(today: date, *, seed: int = 7) -> MarketHistory:
    """The embedded default market from 1990 to the last session on or before ``today``."""
    end = calendar.previous_session(today, inclusive=True)
    return MarketHistory.from_synthetic(synthetic_market(date(1990, 1, 2), end, seed=seed))


def history_for_demo(store_dir: Path | None, today: date) -> tuple[MarketHistory, DemoSource]:
    """The user's store when it has an ``spx`` series, else the embedded default market."""
    if store_dir is not None and (store_dir / "manifest.json").exists():
        try:
            history = MarketHistory.from_store(Store(store_dir))
        except VixShieldError:
            pass
        else:
            return history, DemoSource(f"local store {store_dir}", modelled=False)
    seed = 7
    return default_history(today, seed=seed), DemoSource(
        f"embedded default market (seed {seed}, no data imported)", modelled=True
    )


__all__ = ["DemoSource", "build_demo_report", "default_history", "history_for_demo"]
