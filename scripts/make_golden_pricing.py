"""Generate tests/golden/pricing_vollib.csv: BSM and Black-76 prices and Greeks from py_vollib.

Run from the repository root (writes the file, prints a summary)::

    .venv/bin/python scripts/make_golden_pricing.py

The expected values come from another library, never from vixshield:

* price, delta, gamma, vega, theta, rho: py_vollib 1.0.1 (prices through Peter Jaeckel's
  "Let's Be Rational" Black formula in py_lets_be_rational 1.0.1; Greeks from
  ``py_vollib.*.greeks.analytical``). ``py_vollib_vectorized`` is deliberately NOT imported:
  importing it monkeypatches py_vollib's functions.
* vanna and volga: py_vollib has none, so they are the complex-step derivatives (with respect
  to sigma) of the textbook delta and vega formulas that py_vollib uses, re-evaluated here in
  complex arithmetic: ``f'(s) = Im f(s + i h) / h``. The complex step has no subtractive
  cancellation, so with ``h = 1e-30`` it is exact to rounding; the script checks that the real
  parts reproduce py_vollib's delta and vega, and that a plain central difference of
  py_vollib's own delta and vega agrees to the accuracy a finite difference can give. None of
  vixshield's vanna/volga formulas is used.

Unit conversions, from py_vollib's conventions to vixshield.units:

* delta, gamma: same (BSM: w.r.t. spot; Black-76: w.r.t. the forward, of the discounted price).
* vega: py_vollib returns ``dV/dsigma * 0.01`` (per 1% vol) = ``vega_per_volpt``: factor 1.
* theta: py_vollib returns ``-dV/dT / 365`` (per calendar day) = ``theta_per_day``: factor 1.
  (BSM holds S, r, q; Black-76 holds F, r, as vixshield does.)
* rho: py_vollib returns ``dV/dr * 0.01`` (per 1% rate) = ``rho_per_pct``: factor 1.
  (BSM: ``t K e^{-rt} N(d2)``, q held; Black-76: ``-t V``, F held, as vixshield does.)
* vanna_per_volpt = d(delta)/dsigma * 0.01; volga_per_volpt = d(vega_per_volpt)/dsigma * 0.01.
"""

from __future__ import annotations

import csv
import importlib.metadata
import math
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from py_vollib.black import black
from py_vollib.black.greeks import analytical as black_greeks
from py_vollib.black_scholes_merton import black_scholes_merton
from py_vollib.black_scholes_merton.greeks import analytical as bsm_greeks
from scipy.special import ndtr

OUT = Path(__file__).resolve().parents[1] / "tests" / "golden" / "pricing_vollib.csv"
SEED = 20_260_101
N_BSM = 300
N_BLACK76 = 150
COMPLEX_STEP = 1e-30

# Per-unit conversion factors from py_vollib to vixshield.units (see the module docstring).
VEGA_TO_PER_VOLPT = 1.0  # py_vollib vega is already per 1% vol
THETA_TO_PER_DAY = 1.0  # py_vollib theta is already per calendar day (/365)
RHO_TO_PER_PCT = 1.0  # py_vollib rho is already per 1% rate

COLUMNS = [
    "model",
    "is_call",
    "underlying",
    "strike",
    "t_years",
    "vol",
    "rate",
    "div_yield",
    "price",
    "delta",
    "gamma",
    "vega_per_volpt",
    "theta_per_day",
    "rho_per_pct",
    "vanna_per_volpt",
    "volga_per_volpt",
]


class Case(NamedTuple):
    """One option. For Black-76 ``underlying`` is the forward and ``q`` is unused (0)."""

    underlying: float
    strike: float
    t: float
    vol: float
    r: float
    q: float
    call: bool


def _delta_vega_complex(c: Case, sigma: complex, q: float) -> tuple[complex, complex]:
    """Textbook delta and vega-per-volpt (py_vollib's formulas) in complex arithmetic.

    For Black-76 pass ``q = r`` and the forward as ``underlying`` (then ``r - q = 0`` and
    ``e^{-qT} = e^{-rT}``).
    """
    w = 1.0 if c.call else -1.0
    sqrt_t = math.sqrt(c.t)
    d1 = (np.log(c.underlying / c.strike) + (c.r - q + 0.5 * sigma * sigma) * c.t) / (
        sigma * sqrt_t
    )
    delta = w * math.exp(-q * c.t) * ndtr(w * d1)
    vega = c.underlying * math.exp(-q * c.t) * np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    return delta, vega * sqrt_t * 0.01


def _vanna_volga(c: Case, q: float) -> tuple[float, float, float, float]:
    h = COMPLEX_STEP
    delta, vega = _delta_vega_complex(c, complex(c.vol, h), q)
    vanna = delta.imag / h * 0.01
    volga = vega.imag / h * 0.01
    return vanna, volga, delta.real, vega.real


def _central(f: Any, sigma: float) -> float:
    h = 1e-5 * sigma
    return float((f(sigma + h) - f(sigma - h)) / (2 * h))


def _check_close(name: str, got: float, want: float, rtol: float, atol: float) -> None:
    if not abs(got - want) <= atol + rtol * abs(want):
        sys.exit(f"self-check failed for {name}: {got!r} vs {want!r}")


def _row_bsm(c: Case) -> list[Any]:
    s, k, t, v, r, q, call = c
    flag = "c" if call else "p"
    delta = bsm_greeks.delta(flag, s, k, t, r, v, q)
    vega = bsm_greeks.vega(flag, s, k, t, r, v, q) * VEGA_TO_PER_VOLPT
    vanna, volga, delta_c, vega_c = _vanna_volga(c, q)
    _check_close("bsm delta (complex vs py_vollib)", delta_c, delta, 1e-12, 1e-15)
    _check_close("bsm vega (complex vs py_vollib)", vega_c, vega, 1e-12, 1e-15)
    fd_vanna = _central(lambda x: bsm_greeks.delta(flag, s, k, t, r, x, q), v) * 0.01
    fd_volga = _central(lambda x: bsm_greeks.vega(flag, s, k, t, r, x, q), v) * 0.01
    _check_close("bsm vanna (complex step vs FD)", vanna, fd_vanna, 1e-4, 1e-9)
    _check_close("bsm volga (complex step vs FD)", volga, fd_volga, 1e-4, 1e-9)
    return [
        "bsm",
        int(call),
        s,
        k,
        t,
        v,
        r,
        q,
        black_scholes_merton(flag, s, k, t, r, v, q),
        delta,
        bsm_greeks.gamma(flag, s, k, t, r, v, q),
        vega,
        bsm_greeks.theta(flag, s, k, t, r, v, q) * THETA_TO_PER_DAY,
        bsm_greeks.rho(flag, s, k, t, r, v, q) * RHO_TO_PER_PCT,
        vanna,
        volga,
    ]


def _row_black76(c: Case) -> list[Any]:
    f, k, t, v, r, _, call = c
    flag = "c" if call else "p"
    delta = black_greeks.delta(flag, f, k, t, r, v)
    vega = black_greeks.vega(flag, f, k, t, r, v) * VEGA_TO_PER_VOLPT
    vanna, volga, delta_c, vega_c = _vanna_volga(c, r)
    _check_close("black76 delta (complex vs py_vollib)", delta_c, delta, 1e-12, 1e-15)
    _check_close("black76 vega (complex vs py_vollib)", vega_c, vega, 1e-12, 1e-15)
    fd_vanna = _central(lambda x: black_greeks.delta(flag, f, k, t, r, x), v) * 0.01
    fd_volga = _central(lambda x: black_greeks.vega(flag, f, k, t, r, x), v) * 0.01
    _check_close("black76 vanna (complex step vs FD)", vanna, fd_vanna, 1e-4, 1e-9)
    _check_close("black76 volga (complex step vs FD)", volga, fd_volga, 1e-4, 1e-9)
    return [
        "black76",
        int(call),
        f,
        k,
        t,
        v,
        r,
        0.0,
        black(flag, f, k, t, r, v),
        delta,
        black_greeks.gamma(flag, f, k, t, r, v),
        vega,
        black_greeks.theta(flag, f, k, t, r, v) * THETA_TO_PER_DAY,
        black_greeks.rho(flag, f, k, t, r, v) * RHO_TO_PER_PCT,
        vanna,
        volga,
    ]


def _grid(rng: np.random.Generator, n: int, *, with_q: bool) -> list[Case]:
    """Seeded draws: underlying 4000-6000, strike 0.5-1.5x, t 1 day-2 years, vol 5%-150%."""
    u = rng.uniform(4000.0, 6000.0, n).round(2)
    k = (u * rng.uniform(0.5, 1.5, n)).round(0)
    t = np.exp(rng.uniform(math.log(1 / 365), math.log(2.0), n))
    v = np.exp(rng.uniform(math.log(0.05), math.log(1.5), n))
    r = rng.uniform(-0.005, 0.08, n)
    q = rng.uniform(0.0, 0.04, n) * with_q
    call = rng.random(n) < 0.5
    return [
        Case(float(a), float(b), float(c), float(d), float(e), float(f), bool(g))
        for a, b, c, d, e, f, g in zip(u, k, t, v, r, q, call, strict=True)
    ]


def main() -> None:
    rng = np.random.default_rng(SEED)
    rows: list[list[Any]] = []
    # A few hand-placed rows: at the money with one day and one hour left, and 2 years.
    for t in (1 / 365, 1 / (365 * 24), 2.0):
        for call in (True, False):
            rows.append(_row_bsm(Case(5000.0, 5000.0, t, 0.2, 0.045, 0.013, call)))
            rows.append(_row_black76(Case(5000.0, 5000.0, t, 0.2, 0.045, 0.0, call)))
    rows += [_row_bsm(c) for c in _grid(rng, N_BSM, with_q=True)]
    rows += [_row_black76(c) for c in _grid(rng, N_BLACK76, with_q=False)]

    versions = {
        p: importlib.metadata.version(p)
        for p in ("py_vollib", "py_lets_be_rational", "numpy", "scipy")
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as fh:
        fh.write(
            "# Golden BSM / Black-76 prices and Greeks for tests/golden/test_pricing_golden.py\n"
            "# Source: py_vollib "
            f"{versions['py_vollib']} (py_lets_be_rational {versions['py_lets_be_rational']}); "
            "vanna/volga: complex-step d/dsigma of the textbook delta and vega "
            f"(numpy {versions['numpy']}, scipy {versions['scipy']} ndtr)\n"
            "# Command: .venv/bin/python scripts/make_golden_pricing.py"
            f" (seed {SEED}); do not edit by hand\n"
            "# Units: vixshield.units (vega per vol point, theta per calendar day, rho per 1%,"
            " vanna per vol point, volga per vol point squared); is_call 1 = call\n"
        )
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([repr(float(x)) if isinstance(x, float) else x for x in row])
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
