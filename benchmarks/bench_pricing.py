"""Pricing benchmark: price + all Greeks and implied vol, VixShield against py_vollib(_vectorized).

Run with ``make bench`` (``.venv/bin/python benchmarks/bench_pricing.py``); ``--quick`` uses
100k instead of 1M options. Not a test: it asserts nothing and only prints tables.

What is measured
----------------
Random European options as in the issue (fixed seed): spot 4000-6000, strike 0.5-1.5 x spot,
1 day to 2 years, vol 5%-150%, calls and puts mixed, rate 0-5%, dividend yield 0-3%.

* Throughput: best of N wall-clock runs (``time.perf_counter``) of one call over the whole
  array, in million options per second; "1" core means one thread, "all" the threads of
  ``vixshield.pricing._native.default_threads()`` (the C kernel and our implied vol use
  threads; numpy and the peers run on one).
* py_vollib_vectorized 0.1.1: prices and IVs only. Its Greeks are finite differences and its
  rho moves r and q together, so they are not the same quantities. Its first call compiles
  with numba; that warm-up is excluded.
* py_vollib 1.0.1 (pure Python, one option per call): timed on a subsample and extrapolated,
  in a subprocess, because importing py_vollib_vectorized monkeypatches py_vollib.
* Price accuracy: on a fixed subsample, against mpmath at 40 significant digits when mpmath
  is installed, else against the scalar twin (``vixshield.pricing.scalar``, glibc libm).
  "max rel" is over prices >= 1e-6 (smaller prices are reported in "max abs").
* IV accuracy: prices made by the numpy kernel from known vols; "invertible" elements are
  those whose price pins the vol down to 1e-13 or better (2.2e-16 (S e^-qT + K e^-rT) / vega
  <= 1e-13); over those: failures (NaN / not converged), the largest |vol - true vol| and
  how many errors exceed 1e-10.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Arr = npt.NDArray[np.float64]
SEED = 20_240_601
ACC_N = 2_000  # subsample for the accuracy columns and for pure-Python timing
IV_INVERTIBLE_DSIGMA = 1e-13
IV_ERR_LIMIT = 1e-10


# --------------------------------------------------------------------------------------------
# Data


def make_options(n: int, seed: int = SEED) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    spot = rng.uniform(4000.0, 6000.0, n)
    return {
        "spot": spot,
        "strike": spot * rng.uniform(0.5, 1.5, n),
        "t_years": rng.uniform(1.0 / 365.0, 2.0, n),
        "vol": rng.uniform(0.05, 1.5, n),
        "rate": rng.uniform(0.0, 0.05, n),
        "div_yield": rng.uniform(0.0, 0.03, n),
        "is_call": rng.random(n) < 0.5,
    }


def subsample(opts: dict[str, Any], n: int) -> dict[str, Any]:
    return {k: v[:n] for k, v in opts.items()}


def best_time(fn: Callable[[], object], *, repeat: int, min_total: float = 0.2) -> float:
    """Best of ``repeat`` runs (more while the total stays under ``min_total`` seconds)."""
    fn()  # warm-up: caches, page faults, JIT
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - start < min_total and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# --------------------------------------------------------------------------------------------
# Reference prices


def reference_prices(opts: dict[str, Any]) -> tuple[Arr, str]:
    """High-accuracy prices: mpmath (40 digits) if importable, else the scalar twin."""
    try:
        import mpmath
    except ImportError:
        from vixshield.pricing.scalar import bsm_price_scalar

        out = [
            bsm_price_scalar(
                float(s), float(k), float(t), float(v), rate=float(r), div_yield=float(q),
                is_call=bool(c),
            )
            for s, k, t, v, r, q, c in zip(*opts.values(), strict=True)
        ]  # fmt: skip
        return np.array(out), "scalar twin (math.erfc; mpmath not installed)"

    mp = mpmath.mp
    mp.dps = 40
    out = []
    for s, k, t, v, r, q, c in zip(*opts.values(), strict=True):
        s_, k_, t_, v_, r_, q_ = (mpmath.mpf(float(x)) for x in (s, k, t, v, r, q))
        w = 1 if c else -1
        sst = v_ * mpmath.sqrt(t_)
        d1 = (mpmath.log(s_ / k_) + (r_ - q_) * t_) / sst + sst / 2
        d2 = d1 - sst
        fd = s_ * mpmath.exp(-q_ * t_)
        kd = k_ * mpmath.exp(-r_ * t_)
        out.append(float(w * (fd * mpmath.ncdf(w * d1) - kd * mpmath.ncdf(w * d2))))
    return np.array(out), "mpmath, 40 digits"


def price_accuracy(got: Arr, ref: Arr) -> tuple[float, float]:
    err = np.abs(np.asarray(got, dtype=np.float64) - ref)
    big = ref >= 1e-6
    rel = float(np.max(err[big] / ref[big])) if big.any() else float("nan")
    return float(np.max(err)), rel


# --------------------------------------------------------------------------------------------
# py_vollib (pure Python), in a subprocess so that py_vollib_vectorized cannot patch it


def vollib_scalar_worker(out_path: str, n_full: int) -> None:
    from py_vollib.black_scholes_merton import black_scholes_merton
    from py_vollib.black_scholes_merton.greeks import analytical as g
    from py_vollib.black_scholes_merton.implied_volatility import implied_volatility

    opts = subsample(make_options(n_full), ACC_N)
    rows = list(zip(*opts.values(), strict=True))
    args = [
        ("c" if c else "p", float(s), float(k), float(t), float(r), float(v), float(q))
        for s, k, t, v, r, q, c in rows
    ]

    def prices() -> list[float]:
        return [black_scholes_merton(*a) for a in args]

    def price_and_greeks() -> None:
        for a in args:
            black_scholes_merton(*a)
            for f in (g.delta, g.gamma, g.vega, g.theta, g.rho):
                f(*a)

    t_price = best_time(prices, repeat=3)
    t_greeks = best_time(price_and_greeks, repeat=2)
    p = prices()
    from vixshield.pricing.black import bsm_price

    iv_prices = np.asarray(bsm_price(**opts))
    iv_args = [
        (float(pr), float(s), float(k), float(t), float(r), float(q), "c" if c else "p")
        for pr, (s, k, t, _v, r, q, c) in zip(iv_prices, rows, strict=True)
    ]

    def ivs() -> list[float]:
        out = []
        for a in iv_args:
            try:
                out.append(implied_volatility(*a))
            except Exception:  # py_vollib raises for prices below intrinsic value
                out.append(float("nan"))
        return out

    t_iv = best_time(ivs, repeat=2)
    Path(out_path).write_text(
        json.dumps(
            {
                "n": len(args),
                "t_price": t_price,
                "t_greeks": t_greeks,
                "t_iv": t_iv,
                "prices": p,
                "ivs": ivs(),
            }
        )
    )


def run_vollib_scalar(n_full: int) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "vollib.json"
        cmd = [sys.executable, __file__, "--vollib-scalar-worker", str(out), "--n", str(n_full)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"py_vollib scalar worker failed:\n{proc.stderr[-2000:]}")
            return None
        result: dict[str, Any] = json.loads(out.read_text())
        return result


# --------------------------------------------------------------------------------------------
# Reporting


def machine_lines(argv: list[str]) -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = ""
    try:
        text = Path("/proc/cpuinfo").read_text()
        have = set(text.split("flags", 1)[1].split("\n", 1)[0].split())
        flags = " ".join(f for f in ("avx2", "fma", "avx512f") if f in have)
    except (OSError, IndexError):
        pass
    from vixshield.pricing import _native

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 1
    lines = [
        f"command: {shlex.join([sys.executable, *argv])}",
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; load average {load_average()}",
        f"cpu: {cpu} ({flags}); os.cpu_count()={os.cpu_count()}, usable cores={affinity}",
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"libc {' '.join(platform.libc_ver())}, {platform.machine()}",
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
        "(affects BLAS only, not elementwise numpy)",
        f"native kernel: AVAILABLE={_native.AVAILABLE}, VECTOR_MATH (AVX2+libmvec)="
        f"{_native.VECTOR_MATH}, default threads={_native.default_threads()}"
        + (f", load error: {_native.LOAD_ERROR}" if _native.LOAD_ERROR else ""),
    ]
    try:
        from threadpoolctl import threadpool_info

        pools = threadpool_info()
        desc = "; ".join(
            f"{p.get('internal_api')} {p.get('version')} threads={p.get('num_threads')}"
            for p in pools
        )
        lines.append(f"threadpoolctl: {desc or 'no native thread pools loaded'}")
    except ImportError:
        lines.append("threadpoolctl: not installed")
    for mod in ("py_vollib_vectorized", "py_vollib", "numba", "scipy"):
        try:
            version = importlib.metadata.version(mod.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        lines.append(f"{mod}: {version}")
    return lines


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(f"\n{title}")
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        return
    table = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i < 2 else "right")
    for r in rows:
        table.add_row(*r)
    Console(width=200).print(table)


def fmt_rate(n: int, seconds: float) -> str:
    return f"{n / seconds / 1e6:.2f}"


def fmt_err(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1e}"


# --------------------------------------------------------------------------------------------
# Main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="100k instead of 1M options")
    parser.add_argument("--vollib-scalar-worker", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    big = 100_000 if args.quick else 1_000_000
    if args.vollib_scalar_worker:
        vollib_scalar_worker(args.vollib_scalar_worker, args.n)
        return

    t0 = time.perf_counter()
    print("VixShield pricing benchmark")
    for line in machine_lines(sys.argv):
        print("  " + line)
    sizes = [10_000, big]
    from vixshield.pricing import _native

    threads_all = _native.default_threads()

    try:
        from vixshield.pricing import black
    except ImportError as exc:
        black = None  # type: ignore[assignment]
        print(f"  numpy kernel vixshield.pricing.black not importable ({exc}); its rows skipped")
    try:
        from vixshield.pricing.iv import implied_vol_bsm
    except ImportError as exc:
        implied_vol_bsm = None  # type: ignore[assignment]
        print(f"  vixshield.pricing.iv not importable ({exc}); its IV rows skipped")

    # py_vollib scalar first, in a subprocess (before py_vollib_vectorized is imported here)
    vollib = run_vollib_scalar(sizes[0])
    acc_opts = subsample(make_options(sizes[0]), ACC_N)
    ref, ref_name = reference_prices(acc_opts)
    import py_vollib_vectorized as pvv

    def pvv_price(o: dict[str, Any]) -> Arr:
        flag = np.where(o["is_call"], "c", "p")
        return np.asarray(
            pvv.vectorized_black_scholes_merton(
                flag, o["spot"], o["strike"], o["t_years"], o["rate"], o["vol"], o["div_yield"],
                return_as="numpy",
            )
        )  # fmt: skip

    # ---- price + Greeks ----------------------------------------------------------------------
    acc: dict[str, tuple[float, float]] = {}
    if black is not None:
        acc["numpy"] = price_accuracy(black.bsm_greeks(**acc_opts, backend="numpy").price, ref)
        acc["numpy_price"] = price_accuracy(black.bsm_price(**acc_opts), ref)
    if _native.AVAILABLE:
        acc["c_auto"] = price_accuracy(_native.bsm_greeks(**acc_opts).price, ref)
        acc["c_scalar"] = price_accuracy(_native.bsm_greeks(**acc_opts, path="scalar").price, ref)
    acc["pvv"] = price_accuracy(pvv_price(acc_opts), ref)
    if vollib is not None:
        acc["vollib"] = price_accuracy(np.array(vollib["prices"]), ref)

    c_label = "C kernel, " + ("AVX2+libmvec" if _native.VECTOR_MATH else "scalar path")
    rows: list[list[str]] = []
    numpy_rate: dict[int, float] = {}
    for n in sizes:
        opts = make_options(n)
        repeat = 7
        entries: list[tuple[str, str, str, Callable[[], object] | None, str]] = []
        if black is not None:
            entries.append(
                (
                    "numpy kernel (black, backend=numpy)",
                    "all",
                    "1",
                    lambda o=opts: black.bsm_greeks(**o, backend="numpy"),
                    "numpy",
                )
            )
        if _native.AVAILABLE:
            for th in sorted({1, _native.plan_threads(n, threads_all)}):
                entries.append(
                    (c_label, "all", str(_native.plan_threads(n, th)),
                     lambda o=opts, th=th: _native.bsm_greeks(**o, threads=th), "c_auto")
                )  # fmt: skip
            if _native.VECTOR_MATH:
                entries.append(
                    ("C kernel, scalar path (libm)", "all", "1",
                     lambda o=opts: _native.bsm_greeks(**o, threads=1, path="scalar"), "c_scalar")
                )  # fmt: skip
        if black is not None:
            entries.append(
                ("numpy black.bsm_price", "price", "1", lambda o=opts: black.bsm_price(**o),
                 "numpy_price")
            )  # fmt: skip
        entries.append(
            ("py_vollib_vectorized 0.1.1", "price", "1", lambda o=opts: pvv_price(o), "pvv")
        )
        for label, what, cores, fn, key in entries:
            assert fn is not None
            seconds = best_time(fn, repeat=repeat)
            rate = n / seconds / 1e6
            if key == "numpy":
                numpy_rate[n] = rate
            vs = f"{rate / numpy_rate[n]:.1f}x" if n in numpy_rate else "-"
            a_abs, a_rel = acc.get(key, (float("nan"), float("nan")))
            rows.append(
                [f"{n:,}", label, what, cores, f"{seconds * 1e3:.2f}", f"{rate:.2f}", vs,
                 fmt_err(a_abs), fmt_err(a_rel)]
            )  # fmt: skip
        if vollib is not None:
            for what, key_t in (("price", "t_price"), ("price+5 Greeks", "t_greeks")):
                per = vollib[key_t] / vollib["n"]
                rate = 1.0 / per / 1e6
                a_abs, a_rel = acc["vollib"]
                rows.append(
                    [f"{n:,}", "py_vollib 1.0.1 (pure Python)*", what, "1",
                     f"{per * n * 1e3:.0f}", f"{rate:.3f}",
                     f"{rate / numpy_rate[n]:.3f}x" if n in numpy_rate else "-",
                     fmt_err(a_abs), fmt_err(a_rel)]
                )  # fmt: skip
    print_table(
        f"Price + Greeks (all = price, delta, gamma, vega, theta, rho, vanna, volga); "
        f"accuracy on {ACC_N:,} options vs {ref_name}",
        ["n", "implementation", "outputs", "threads", "ms/call", "M opt/s", "vs numpy",
         "max abs err", "max rel err"],
        rows,
    )  # fmt: skip
    print(
        f"  * py_vollib timed on {ACC_N:,} options and extrapolated; its Greeks are delta, gamma, "
        "vega, theta, rho (no vanna/volga)."
    )

    # ---- AVX2 path vs scalar path ------------------------------------------------------------
    if _native.VECTOR_MATH:
        opts = make_options(big)
        fast = _native.bsm_greeks(**opts, path="avx2")
        slow = _native.bsm_greeks(**opts, path="scalar")
        from vixshield.pricing.greeks import GREEK_FIELDS

        path_rows = []
        for name in GREEK_FIELDS:
            a, b = getattr(fast, name), getattr(slow, name)
            scale = float(np.max(np.abs(b)))
            big_enough = np.abs(b) >= 1e-8 * scale
            diff = np.abs(a - b)
            rel = float(np.max(diff[big_enough] / np.abs(b[big_enough])))
            path_rows.append([name, f"{diff.max():.1e}", f"{rel:.1e}", f"{diff.max() / scale:.1e}"])
        print_table(
            f"AVX2 path (libmvec exp/log/erfc) vs scalar C path (glibc libm), {big:,} options",
            ["output", "max abs diff", "max rel diff (|x| >= 1e-8 max|x|)", "max diff / max|x|"],
            path_rows,
        )

    # ---- implied volatility ------------------------------------------------------------------
    if black is not None:
        iv_rows: list[list[str]] = []
        for n in sizes:
            opts = make_options(n)
            g = black.bsm_greeks(**opts)
            prices = np.asarray(g.price)
            true_vol = opts["vol"]
            t = opts["t_years"]
            fd = opts["spot"] * np.exp(-opts["div_yield"] * t)
            kd = opts["strike"] * np.exp(-opts["rate"] * t)
            vega = np.asarray(g.vega_per_volpt) * 100.0
            with np.errstate(divide="ignore", over="ignore"):
                dsigma = 2.2e-16 * (fd + kd) / vega
            invertible = (prices > 0) & (dsigma <= IV_INVERTIBLE_DSIGMA)
            flag = np.where(opts["is_call"], "c", "p")
            iv_entries: list[tuple[str, Callable[[], Arr]]] = []
            iv_impl = "C kernel" if (_native.IV_AVAILABLE and _native.VECTOR_MATH) else "numpy"
            if implied_vol_bsm is not None:
                for th in sorted({1, threads_all}):
                    iv_entries.append(
                        (f"ours iv.implied_vol_bsm ({iv_impl}), {th} thread(s)",
                         lambda o=opts, p=prices, th=th: np.asarray(implied_vol_bsm(
                             p, o["spot"], o["strike"], o["t_years"], rate=o["rate"],
                             div_yield=o["div_yield"], is_call=o["is_call"], threads=th).vol))
                    )  # fmt: skip
            iv_entries.append(
                ("py_vollib_vectorized 0.1.1",
                 lambda o=opts, p=prices, f=flag: np.asarray(pvv.vectorized_implied_volatility(
                     p, o["spot"], o["strike"], o["t_years"], o["rate"], f, q=o["div_yield"],
                     model="black_scholes_merton", return_as="numpy", on_error="ignore")))
            )  # fmt: skip
            repeat = 5 if n <= 100_000 else 3
            for label, fn in iv_entries:
                seconds = best_time(fn, repeat=repeat)
                vol = fn()
                e = np.abs(vol - true_vol)[invertible]
                fails = int(np.sum(~np.isfinite(e)))
                finite = e[np.isfinite(e)]
                iv_rows.append(
                    [f"{n:,}", label, f"{seconds * 1e3:.1f}", fmt_rate(n, seconds),
                     f"{int(invertible.sum()):,}", f"{fails:,}",
                     fmt_err(float(finite.max()) if finite.size else float("nan")),
                     f"{int(np.sum(finite > IV_ERR_LIMIT)):,}"]
                )  # fmt: skip
            if vollib is not None and n == sizes[0]:
                m = vollib["n"]
                vol = np.array(vollib["ivs"], dtype=np.float64)
                inv = invertible[:m]
                e = np.abs(vol - true_vol[:m])[inv]
                finite = e[np.isfinite(e)]
                per = vollib["t_iv"] / m
                iv_rows.append(
                    [f"{m:,} (subsample)", "py_vollib 1.0.1 (pure Python)", f"{per * n * 1e3:.0f}*",
                     f"{1 / per / 1e6:.3f}", f"{int(inv.sum()):,}",
                     f"{int(np.sum(~np.isfinite(e))):,}",
                     fmt_err(float(finite.max()) if finite.size else float("nan")),
                     f"{int(np.sum(finite > IV_ERR_LIMIT)):,}"]
                )  # fmt: skip
        print_table(
            "Implied volatility from prices of known vols (peers single-threaded)",
            ["n", "implementation", "ms/call", "M opt/s", "invertible", "fails",
             "max |err| (invertible)", f"err > {IV_ERR_LIMIT:g}"],
            iv_rows,
        )  # fmt: skip
        print(
            f"  invertible: price > 0 and 2.2e-16 (S e^-qT + K e^-rT) / vega <= "
            f"{IV_INVERTIBLE_DSIGMA:g}; * time for {sizes[0]:,} options extrapolated"
        )
    print(
        f"\n  total benchmark time {time.perf_counter() - t0:.0f} s; "
        f"load average at the end {load_average()} (other processes share the cores)"
    )


if __name__ == "__main__":
    main()
