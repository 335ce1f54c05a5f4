"""The foundation demo: what the calendar, the pricer, the IV solver and the VIX formula do.

Until the market-data layer lands there is no embedded default market, so this report uses an
**illustrative market** stated in full below (spot, rate, yield and a quadratic smile). It is
not a trading signal. It shows, on numbers a trader can recompute by hand:

1. the SPX, SPXW and VIX expiries of the next weeks, with settlement instants;
2. the legs of a 45-DTE SPX iron condor chosen by METHOD §5 defaults (shorts nearest 12 delta,
   50-point wings), priced with Black-Scholes-Merton, every Greek, and the implied vol
   recovered from each leg's price;
3. the Cboe VIX formula run on a synthetic chain priced at one flat volatility, where the
   answer must come back as that volatility (the gap is the strike-grid discretisation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from vixshield import calendar
from vixshield.pricing.black import bsm_greeks, bsm_price
from vixshield.pricing.iv import implied_vol_bsm
from vixshield.pricing.vix import ExpiryQuotes, OptionQuotes, vix_index
from vixshield.units import NEW_YORK, SPX_MULTIPLIER, years_between

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class IllustrativeMarket:
    """A stated, hand-checkable market: spot, carry and a quadratic smile in log-moneyness.

    ``vol(K) = atm_vol + skew * ln(K/F) + smile * ln(K/F)**2``, clipped to [min_vol, max_vol].
    """

    spot: float = 5000.0
    rate: float = 0.04
    div_yield: float = 0.013
    atm_vol: float = 0.16
    skew: float = -0.25
    smile: float = 0.6
    min_vol: float = 0.08
    max_vol: float = 0.80

    def forward(self, t_years: float) -> float:
        return self.spot * float(np.exp((self.rate - self.div_yield) * t_years))

    def vol(self, strike: FloatArray, t_years: float) -> FloatArray:
        k = np.log(strike / self.forward(t_years))
        raw = self.atm_vol + self.skew * k + self.smile * k * k
        return np.clip(raw, self.min_vol, self.max_vol)


CONDOR_TARGET_DTE: Final = 45
SHORT_DELTA: Final = 0.12
WING_POINTS: Final = 50.0
STRIKE_STEP: Final = 5.0
FLAT_VIX_VOL: Final = 0.20


def _expiry_section(today: date) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    end = today + timedelta(days=45)
    for kind in calendar.ExpiryKind:
        for e in calendar.expiries(kind, today, end):
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


def _condor_section(now: datetime, market: IllustrativeMarket) -> dict[str, object]:
    today = now.astimezone(NEW_YORK).date()
    monthlies = calendar.spx_expiries(today + timedelta(days=20), today + timedelta(days=90))
    expiry = min(monthlies, key=lambda d: abs((d - today).days - CONDOR_TARGET_DTE))
    t = calendar.t_years(now, expiry, calendar.ExpiryKind.SPX_AM)
    fwd = market.forward(t)
    strikes = np.arange(
        np.floor(fwd * 0.6 / STRIKE_STEP), np.ceil(fwd * 1.4 / STRIKE_STEP) + 1
    ) * float(STRIKE_STEP)
    vols = market.vol(strikes, t)
    calls = bsm_greeks(
        market.spot, strikes, t, vols, rate=market.rate, div_yield=market.div_yield, is_call=True
    )
    puts = bsm_greeks(
        market.spot, strikes, t, vols, rate=market.rate, div_yield=market.div_yield, is_call=False
    )
    short_call = float(strikes[np.argmin(np.abs(calls.delta - SHORT_DELTA))])
    short_put = float(strikes[np.argmin(np.abs(puts.delta + SHORT_DELTA))])
    legs_spec = [
        ("sell", "put", short_put),
        ("buy", "put", short_put - WING_POINTS),
        ("sell", "call", short_call),
        ("buy", "call", short_call + WING_POINTS),
    ]
    leg_k = np.array([k for _, _, k in legs_spec])
    leg_call = np.array([r == "call" for _, r, _ in legs_spec])
    leg_vol = market.vol(leg_k, t)
    g = bsm_greeks(
        market.spot,
        leg_k,
        t,
        leg_vol,
        rate=market.rate,
        div_yield=market.div_yield,
        is_call=leg_call,
    )
    iv = implied_vol_bsm(
        g.price,
        market.spot,
        leg_k,
        t,
        rate=market.rate,
        div_yield=market.div_yield,
        is_call=leg_call,
    )
    sign = np.array([-1.0 if side == "sell" else 1.0 for side, _, _ in legs_spec])
    legs = []
    for i, (side, right, k) in enumerate(legs_spec):
        legs.append(
            {
                "side": side,
                "right": right,
                "strike": k,
                "vol": float(leg_vol[i]),
                "price": float(g.price[i]),
                "delta": float(g.delta[i]),
                "gamma": float(g.gamma[i]),
                "vega_per_volpt": float(g.vega_per_volpt[i]),
                "theta_per_day": float(g.theta_per_day[i]),
                "implied_vol_from_price": float(iv.vol[i]),
            }
        )
    credit = float(-(sign * g.price).sum())
    max_loss = WING_POINTS - credit
    position = {
        name: float((sign * getattr(g, name)).sum()) * SPX_MULTIPLIER
        for name in ("delta", "gamma", "vega_per_volpt", "theta_per_day")
    }
    return {
        "expiry": expiry.isoformat(),
        "t_years": t,
        "forward": fwd,
        "legs": legs,
        "credit_points": credit,
        "credit_usd": credit * SPX_MULTIPLIER,
        "max_loss_usd": max_loss * SPX_MULTIPLIER,
        "breakeven_low": short_put - credit,
        "breakeven_high": short_call + credit,
        "position_greeks_usd_per_unit": position,
        "iv_roundtrip_max_abs_error": float(np.max(np.abs(iv.vol - leg_vol))),
    }


def _flat_chain(now: datetime, vol: float, rate: float, spot: float) -> list[ExpiryQuotes]:
    today = now.astimezone(NEW_YORK).date()
    chain = []
    for d in calendar.spxw_expiries(today + timedelta(days=20), today + timedelta(days=45)):
        settlement = calendar.settlement_datetime(d, calendar.ExpiryKind.SPXW_PM)
        t = years_between(now, settlement)
        strikes = np.arange(spot * 0.3 // STRIKE_STEP, spot * 2.0 // STRIKE_STEP) * STRIKE_STEP
        quotes = {}
        for right in (True, False):
            mid = bsm_price(spot, strikes, t, vol, rate=rate, is_call=right)
            half = np.maximum(0.05, 0.02 * mid)
            bid = np.where(mid > 0.10, mid - half, 0.0)
            ask = np.where(mid > 0.10, mid + half, 0.05)
            quotes[right] = OptionQuotes(strikes, bid, ask)
        chain.append(ExpiryQuotes(d, settlement, quotes[True], quotes[False], root="SPXW"))
    return chain


def _vix_section(now: datetime, market: IllustrativeMarket) -> dict[str, object]:
    chain = _flat_chain(now, FLAT_VIX_VOL, market.rate, market.spot)
    res = vix_index(chain, now, rate=market.rate)
    return {
        "flat_vol_points": FLAT_VIX_VOL * 100,
        "vix": res.value,
        "difference_points": res.value - FLAT_VIX_VOL * 100,
        "terms": [t.expiry.isoformat() for t in (res.near, res.next_term) if t is not None],
        "strikes_used": [t.n_strikes for t in (res.near, res.next_term) if t is not None],
    }


def build_foundation_report(now: datetime, out_dir: Path) -> Path:
    """Write ``foundation.md`` and ``foundation.json`` into ``out_dir``; return the .md path."""
    market = IllustrativeMarket()
    today = calendar.previous_session(now.astimezone(NEW_YORK).date(), inclusive=True)
    quote_time = datetime.combine(today, time(15, 45), tzinfo=NEW_YORK)
    data: dict[str, Any] = {
        "as_of": quote_time.isoformat(),
        "market": {
            "spot": market.spot,
            "rate": market.rate,
            "div_yield": market.div_yield,
            "smile": f"vol = {market.atm_vol} + {market.skew}*ln(K/F) + {market.smile}*ln(K/F)^2",
        },
        "expiries": _expiry_section(today),
        "iron_condor": _condor_section(quote_time, market),
        "vix_self_check": _vix_section(quote_time, market),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "foundation.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md = out_dir / "foundation.md"
    md.write_text(_markdown(data), encoding="utf-8")
    return md


def _markdown(data: dict[str, Any]) -> str:
    m = data["market"]
    c = data["iron_condor"]
    v = data["vix_self_check"]
    lines = [
        "# VixShield foundation demo",
        "",
        f"As of {data['as_of']} (quotes at 15:45 New York, the last session on or before today).",
        "",
        "**Illustrative market, not real data and not a signal:** "
        f"spot {m['spot']}, rate {m['rate']}, dividend yield {m['div_yield']}, {m['smile']}.",
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
        f"## A {CONDOR_TARGET_DTE}-DTE SPX iron condor (expiry {c['expiry']}, AM-settled)",
        "",
        f"T = {c['t_years']:.6f} years to the 09:30 settlement; forward {c['forward']:.2f}. "
        f"Shorts nearest {SHORT_DELTA:.2f} delta, wings {WING_POINTS:.0f} points.",
        "",
        "| side | right | strike | vol | price | delta | gamma | vega/volpt | theta/day "
        "| IV from price |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for leg in c["legs"]:
        lines.append(
            f"| {leg['side']} | {leg['right']} | {leg['strike']:.0f} | {leg['vol']:.4f} | "
            f"{leg['price']:.4f} | {leg['delta']:.4f} | {leg['gamma']:.6f} | "
            f"{leg['vega_per_volpt']:.4f} | {leg['theta_per_day']:.4f} | "
            f"{leg['implied_vol_from_price']:.10f} |"
        )
    g = c["position_greeks_usd_per_unit"]
    lines += [
        "",
        f"- Credit {c['credit_points']:.2f} points (${c['credit_usd']:.0f}); "
        f"max loss ${c['max_loss_usd']:.0f}; break-evens {c['breakeven_low']:.2f} / "
        f"{c['breakeven_high']:.2f}.",
        f"- One condor: delta {g['delta']:.2f}, gamma {g['gamma']:.4f}, vega per vol point "
        f"{g['vega_per_volpt']:.2f}, theta per day {g['theta_per_day']:.2f} (USD, x100).",
        "- Implied vol recovered from each leg's price: max error "
        f"{c['iv_roundtrip_max_abs_error']:.1e}.",
        "",
        "## VIX formula self-check",
        "",
        f"A synthetic SPXW chain priced at a flat {v['flat_vol_points']:.0f}% volatility "
        f"(terms {', '.join(v['terms'])}, {v['strikes_used']} strikes) gives VIX "
        f"**{v['vix']:.4f}**, {v['difference_points']:+.4f} points from the flat vol: the "
        "strike grid and the two-zero-bid cut-off of the far wings.",
        "",
    ]
    return "\n".join(lines)
