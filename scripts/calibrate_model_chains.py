"""Fit the model-chain parameters (vixshield.data.model_chains) to the real data; write the record.

Run from the repository root (reads ``$VIXSHIELD_REAL_DATA`` or ``../shared/data``; writes only
fitted numbers to ``src/vixshield/data/model_chain_params.json``, never data)::

    .venv/bin/python scripts/calibrate_model_chains.py

Steps (module docstring of vixshield.data.model_chains for the model):

1. SPX smile: ``calibrate_spx_smile`` on the SPXW chain of 2019-06-26 15:45 ET (implied vols
   from mids on parity forwards, rate 0.0217), OTM quotes with a bid, 5-50 delta, T >= 1 day,
   with that day's VIX-family closes and SKEW.
2. SKEW table: the model's 30-day SKEW (Cboe SKEW formula on model quotes on a 5-point grid,
   kept where the model bid is positive) for a grid of eta at that day's inputs; shifted so that
   the day's SKEW maps to the fitted eta.
3. Term shape when only VIX exists: (long-run vol, kappa) by least squares of the model's
   93- and 186-day variance-swap vols against VIX3M and VIX6M, all days 2009-09..2019.
4. Widths: log-linear regression of the real quoted widths (bid > 0) on ln(mid), sqrt(T), ITM;
   then the intercept is shifted so that the median width after tick rounding matches.
5. Vol-of-vol decay: realised vol of daily log VX settle changes by time to expiry
   (2007-03-26..2014), power law in T normalised at 30 days.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from vixshield.data.cfe import load_cfe_folder
from vixshield.data.chains import add_implied_vols, load_datashop
from vixshield.data.loaders import load_cboe_index
from vixshield.data.model_chains import (
    PARAMS_FILE,
    SpxModelParams,
    VixModelParams,
    WidthParams,
    calibrate_spx_smile,
    quote_from_value,
    spx_surface,
)
from vixshield.data.validation import Mode
from vixshield.pricing.black import black76_price
from vixshield.units import NEW_YORK

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VIXSHIELD_REAL_DATA", ROOT.parent / "shared" / "data"))
DAY = date(2019, 6, 26)
QUOTE_TIME = datetime(2019, 6, 26, 15, 45, tzinfo=NEW_YORK)
RATE = 0.0217  # ~1-month CMT, late June 2019 (as tests/real/test_vix_real_chain.py)


def index_close(name: str, day: date) -> float:
    frame = load_cboe_index(DATA / "cboe" / f"{name}_History.csv", close_only=True).frame
    row = frame.loc[frame["date"] == pd.Timestamp(day), "close"]
    return float(row.iloc[0])


def fit_selection(chain: pd.DataFrame) -> pd.DataFrame:
    """OTM quotes with a bid at 5-50 delta, T >= 1 day: the rows the model is judged on."""
    k = np.log(chain["strike"] / chain["forward"])
    otm = ((chain["right"] == "C") & (k > 0)) | ((chain["right"] == "P") & (k <= 0))
    band = chain["delta"].abs().between(0.05, 0.5)
    keep = otm & band & chain["iv"].notna() & (chain["t_years"] >= 1.0 / 365.0)
    return chain.loc[keep].reset_index(drop=True)


def cboe_skewness(strikes: np.ndarray, otm: np.ndarray, fwd: float, t: float, r: float) -> float:
    """Risk-neutral skewness S of Cboe's SKEW white paper from OTM prices on a strike grid."""
    k0 = strikes[strikes <= fwd].max()
    dk = np.gradient(strikes)
    lnk = np.log(strikes / fwd)
    g = np.exp(r * t)
    l0 = np.log(k0 / fwd)
    e1 = -(1.0 + np.log(fwd / k0) - fwd / k0)
    e2 = 2.0 * l0 * (fwd / k0 - 1.0) + 0.5 * l0**2
    e3 = 3.0 * l0**2 * (l0 / 3.0 - 1.0 + fwd / k0)
    base = otm * dk / strikes**2
    p1 = g * -np.sum(base) + e1
    p2 = g * np.sum(2.0 * (1.0 - lnk) * base) + e2
    p3 = g * np.sum(3.0 * (2.0 * lnk - lnk**2) * base) + e3
    return float((p3 - 3.0 * p1 * p2 + 2.0 * p1**3) / (p2 - p1**2) ** 1.5)


def model_skew(params: SpxModelParams, eta: float, indices: dict[str, float], spot: float) -> float:
    """SKEW of the model at exactly 30 days (quotes kept where the model bid is positive)."""
    p = dataclasses.replace(params, eta_ref=eta, skew_elasticity=0.0)
    surface = spx_surface(spot, **indices, skew=None, rate=RATE, div_yield=0.0, params=p)
    t = 30.0 / 365.0
    fwd = float(surface.forward(t))
    strikes = np.arange(5.0, 3.0 * spot, 5.0)
    is_call = strikes > fwd
    vol = surface.implied_vol(t, strikes)
    price = black76_price(fwd, strikes, t, vol, rate=RATE, is_call=is_call)
    itm = np.zeros(strikes.size, dtype=bool)
    bid, _ = quote_from_value(price, params.widths.width(price, np.full(strikes.size, t), itm))
    keep = bid > 0
    return 100.0 - 10.0 * cboe_skewness(strikes[keep], price[keep], fwd, t, RATE)


def fit_widths(chain: pd.DataFrame) -> tuple[WidthParams, dict[str, float]]:
    quoted = chain.loc[(chain["bid"] > 0) & (chain["t_years"] >= 1.0 / 365.0)]
    mid = 0.5 * (quoted["bid"] + quoted["ask"]).to_numpy()
    width = (quoted["ask"] - quoted["bid"]).to_numpy()
    t = quoted["t_years"].to_numpy()
    itm = np.where(
        quoted["right"] == "C",
        quoted["strike"] < quoted["forward"],
        quoted["strike"] > quoted["forward"],
    ).astype(float)
    x = np.column_stack([np.ones_like(mid), np.log(mid), np.sqrt(t), itm, itm * np.log(mid)])
    coef, *_ = np.linalg.lstsq(x, np.log(width), rcond=None)

    def spread(shift: float) -> float:
        w = WidthParams(coef[0] + shift, *coef[1:])
        bid, ask = quote_from_value(mid, w.width(mid, t, itm.astype(bool)))
        return float(np.median(np.abs(np.log((ask - bid) / width))))

    shifts = np.linspace(-1.5, 0.5, 201)
    best = shifts[int(np.argmin([spread(s) for s in shifts]))]
    out = WidthParams(*(float(c) for c in (coef[0] + best, *coef[1:])))
    bid, ask = quote_from_value(mid, out.width(mid, t, itm.astype(bool)))
    ratio = (ask - bid) / width
    stats = {
        "median_model_over_real": float(np.median(ratio)),
        "share_within_factor_1_5": float(np.mean((ratio > 1 / 1.5) & (ratio < 1.5))),
        "n": int(width.size),
    }
    return out, stats


def fit_term_shape() -> tuple[float, float, float]:
    frames = []
    for name in ("VIX", "VIX3M", "VIX6M"):
        f = load_cboe_index(DATA / "cboe" / f"{name}_History.csv", close_only=True).frame
        frames.append(f[["date", "close"]].rename(columns={"close": name.lower()}))
    joined = frames[0].merge(frames[1], on="date").merge(frames[2], on="date").dropna()
    vix = joined["vix"].to_numpy() / 100.0
    t30, t3m, t6m = 30 / 365, 93 / 365, 186 / 365

    def shape(t: float, kap: float) -> float:
        return float(-np.expm1(-kap * t) / kap)

    def residuals(p: np.ndarray) -> np.ndarray:
        vbar, kap = p[0] ** 2, p[1]
        v0 = vbar + (vix**2 * t30 - vbar * t30) / shape(t30, kap)
        out = []
        for t, col in ((t3m, "vix3m"), (t6m, "vix6m")):
            w = vbar * t + (v0 - vbar) * shape(t, kap)
            out.append(100.0 * np.sqrt(np.maximum(w, 1e-12) / t) - joined[col].to_numpy())
        return np.concatenate(out)

    fit = least_squares(residuals, x0=[0.2, 2.0], bounds=([0.05, 0.05], [0.6, 20.0]))
    rmse = float(np.sqrt(np.mean(fit.fun**2)))
    return float(fit.x[0]), float(fit.x[1]), rmse


def fit_vvix_decay() -> tuple[float, list[dict[str, float]]]:
    futures = load_cfe_folder(DATA / "cfe_vx", mode=Mode.SKIP).frame
    futures = futures.loc[futures["date"] >= pd.Timestamp("2007-03-26")].sort_values(
        ["contract", "date"]
    )
    futures = futures.assign(
        ret=futures.groupby("contract")["settle"].transform(lambda s: np.log(s).diff()),
        dte=(futures["expiry"] - futures["date"]).dt.days,
        gap=futures.groupby("contract")["date"].diff().dt.days,
    )
    # one-day returns only (gap <= 4 calendar days), dte at the end of the return day
    moves = futures.loc[futures["ret"].notna() & (futures["gap"] <= 4) & (futures["dte"] >= 5)]
    edges = [5, 15, 30, 45, 60, 90, 120, 160, 210]
    rows = []
    for lo, hi in itertools.pairwise(edges):
        sel = moves.loc[(moves["dte"] >= lo) & (moves["dte"] < hi), ["ret", "dte"]]
        rows.append(
            {
                "dte_mid": float(sel["dte"].mean()),
                "vol": float(sel["ret"].std() * np.sqrt(252.0)),
                "n": float(len(sel)),
            }
        )
    t = np.array([r["dte_mid"] for r in rows]) / 365.0
    vol = np.array([r["vol"] for r in rows])
    slope, _ = np.polyfit(np.log(t / (30 / 365)), np.log(vol), 1)
    return float(-slope), rows


def main() -> None:
    chain = add_implied_vols(
        load_datashop(DATA / "chains" / "spxw_20190626_datashop.csv").frame, rate=RATE
    )
    spot = float(0.5 * (chain["underlying_bid"].iloc[0] + chain["underlying_ask"].iloc[0]))
    indices = {
        "vix": index_close("VIX", DAY),
        "vix9d": index_close("VIX9D", DAY),
        "vix3m": index_close("VIX3M", DAY),
        "vix6m": index_close("VIX6M", DAY),
    }
    skew = index_close("SKEW", DAY)
    sel = fit_selection(chain)

    widths, width_stats = fit_widths(chain)
    long_run_vol, kappa, term_rmse = fit_term_shape()
    base = dataclasses.replace(
        SpxModelParams(),
        widths=WidthParams(*(round(getattr(widths, c), 4) for c in ("c0", "c1", "c2", "c3", "c4"))),
        long_run_vol=round(long_run_vol, 4),
        kappa=round(kappa, 4),
    )
    fitted = calibrate_spx_smile(sel, **indices, skew=skew, base=base)
    fitted = dataclasses.replace(  # the record keeps 4 decimals; the table uses those values
        fitted,
        rho=round(fitted.rho, 4),
        eta_ref=round(fitted.eta_ref, 4),
        gamma=round(fitted.gamma, 4),
        vs_scale=round(fitted.vs_scale, 4),
    )

    etas = np.round(np.linspace(0.4, 5.0, 24), 3)
    skews = np.array([model_skew(fitted, float(e), indices, spot) for e in etas])
    at_ref = model_skew(fitted, fitted.eta_ref, indices, spot)
    shifted = skews + (skew - at_ref)
    # the phi cap flattens the table at large eta: keep its strictly increasing head
    rising = np.concatenate(([True], np.diff(shifted) > 0))
    keep = np.arange(etas.size) < (etas.size if rising.all() else int(np.argmin(rising)))
    fitted = dataclasses.replace(
        fitted,
        skew_table=tuple(round(float(s), 3) for s in shifted[keep]),
        eta_table=tuple(float(e) for e in etas[keep]),
    )
    alpha, vov_rows = fit_vvix_decay()
    vix_params = dataclasses.replace(VixModelParams(), vvix_decay=round(alpha, 4))

    def as_dict(p: Any) -> dict[str, Any]:
        out = dataclasses.asdict(p)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}

    record = {
        "source": (
            "scripts/calibrate_model_chains.py on the real data: SPXW chain 2019-06-26 15:45 ET, "
            "Cboe VIX/VIX9D/VIX3M/VIX6M/SKEW closes, CFE VX futures 2007-2014. Fitted numbers "
            "only; no data."
        ),
        "spx": as_dict(fitted),
        "vix": as_dict(vix_params),
        "diagnostics": {
            "smile_fit_rows": len(sel),
            "model_skew_at_fitted_eta_before_shift": round(at_ref, 3),
            "term_shape_rmse_volpts": round(term_rmse, 3),
            "widths": width_stats,
            "vol_of_vol_by_dte": vov_rows,
        },
    }
    PARAMS_FILE.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
