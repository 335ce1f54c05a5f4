"""The C pricing kernel (``vixshield.pricing._native``) against the numpy kernel and scalar twin.

References: :func:`vixshield.pricing.black.bsm_greeks` (numpy, scipy ``ndtr``) on large random
samples, and :mod:`vixshield.pricing.scalar` (pure :mod:`math`) on a subsample, so the C
kernel is checked against two independent implementations of the same formulas.

Tolerances. The AVX2 path uses glibc's libmvec ``exp``, ``log`` and ``erfc`` (documented bound
4 ulp; measured here <= 4 ulp against glibc's scalar functions); the numpy kernel uses scipy's
``ndtr`` and numpy's ``exp``/``log`` (<= 1-2 ulp). Each output is a short product of such
factors, so two correct implementations differ by ~10 ulp ~ 2e-15 relative in every term. Hence:

* ``rtol`` 1e-12 for price and delta, 1e-11 for the other Greeks (whose differences and
  zero crossings lose a little more; still 4 orders above the ~1e-15 actually seen);
* an absolute floor of ``4e-15`` times the magnitude of the terms each output is made of
  (e.g. ``S e^{-qT} + K e^{-rT}`` for the price, which is their difference): this covers
  cancellation in ``a - b`` and deep out-of-the-money prices, where ``N(d)`` of |d| > 37 is
  subnormal and has lost relative precision in any implementation.
"""

from __future__ import annotations

import os
import platform
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from vixshield.errors import InvalidInputError, VixShieldError
from vixshield.pricing import _native
from vixshield.pricing.black import black76_greeks, bsm_greeks
from vixshield.pricing.reasons import Reason
from vixshield.pricing.scalar import black76_greeks_scalar, bsm_greeks_scalar

needs_native = pytest.mark.skipif(
    not _native.AVAILABLE, reason=f"native kernel not built: {_native.LOAD_ERROR}"
)
needs_avx2 = pytest.mark.skipif(
    not _native.VECTOR_MATH, reason="no AVX2+FMA CPU or no libmvec with vector erfc"
)
PATHS = [
    pytest.param("scalar", marks=needs_native),
    pytest.param("avx2", marks=[needs_native, needs_avx2]),
]
FIELDS = (
    "price",
    "delta",
    "gamma",
    "vega_per_volpt",
    "theta_per_day",
    "rho_per_pct",
    "vanna_per_volpt",
    "volga_per_volpt",
)
Arr = npt.NDArray[np.float64]


def test_kernel_is_built_in_ci() -> None:
    """The project's own CI builds the C kernel (``pip install -e .`` with gcc)."""
    if os.environ.get("CI", "").lower() not in {"true", "1", "yes"}:
        pytest.skip("only asserted in CI (CI=true)")
    assert _native.AVAILABLE, _native.LOAD_ERROR
    cpuinfo = Path("/proc/cpuinfo")
    flags = set(cpuinfo.read_text().split()) if cpuinfo.is_file() else set()
    libc, version = platform.libc_ver()
    glibc = tuple(int(x) for x in version.split(".")[:2]) if libc == "glibc" else (0, 0)
    if platform.machine() == "x86_64" and {"avx2", "fma"} <= flags and glibc >= (2, 35):
        assert _native.VECTOR_MATH, "AVX2+FMA CPU with glibc >= 2.35, yet libmvec not in use"


def market(n: int, seed: int) -> dict[str, Any]:
    """Random options as in the benchmark: SPX-like, 1 day to 2 years, 5% to 150% vol."""
    rng = np.random.default_rng(seed)
    spot = rng.uniform(4000.0, 6000.0, n)
    return {
        "spot": spot,
        "strike": spot * rng.uniform(0.5, 1.5, n),
        "t_years": rng.uniform(1.0 / 365.0, 2.0, n),
        "vol": rng.uniform(0.05, 1.5, n),
        "rate": rng.uniform(-0.01, 0.06, n),
        "div_yield": rng.uniform(0.0, 0.04, n),
        "is_call": rng.random(n) < 0.5,
    }


def scales(m: dict[str, Any], *, black76: bool = False) -> dict[str, Arr]:
    """Magnitude of the terms each output is built from (the absolute-error yardstick)."""
    u, k, t, v, r = m["spot"], m["strike"], m["t_years"], m["vol"], m["rate"]
    q = r if black76 else m["div_yield"]
    sqrt_t = np.sqrt(t)
    dfu, dfk = np.exp(-q * t), np.exp(-r * t)
    fd, kd = u * dfu, k * dfk
    d1 = (np.log(u / k) + (0.0 if black76 else (r - q) * t)) / (v * sqrt_t) + 0.5 * v * sqrt_t
    d2 = d1 - v * sqrt_t
    pdf_max = 0.4
    return {
        "price": fd + kd,
        "delta": dfu,
        "gamma": dfu * pdf_max / (u * v * sqrt_t),
        "vega_per_volpt": fd * pdf_max * sqrt_t * 0.01,
        "theta_per_day": (fd * pdf_max * v / (2 * sqrt_t) + np.abs(q) * fd + np.abs(r) * kd)
        / 365.0,
        "rho_per_pct": (kd + fd) * t * 0.01,
        "vanna_per_volpt": dfu * pdf_max * (np.abs(d2) + 1.0) / v * 0.01,
        "volga_per_volpt": fd * sqrt_t * pdf_max * (np.abs(d1 * d2) + 1.0) / v * 1e-4,
    }


def assert_close(got: Any, ref: Any, scale: dict[str, Arr]) -> None:
    np.testing.assert_array_equal(got.reason, ref.reason)
    for name in FIELDS:
        rtol = 1e-12 if name in {"price", "delta"} else 1e-11
        g, e = np.asarray(getattr(got, name)), np.asarray(getattr(ref, name))
        assert np.array_equal(np.isnan(g), np.isnan(e)), name
        ok = ~np.isnan(e)
        err = np.abs(g - e)[ok]
        tol = (rtol * np.abs(e) + 4e-15 * scale[name])[ok]
        worst = int(np.argmax(err / tol)) if err.size else 0
        assert np.all(err <= tol), (
            f"{name}: {int(np.sum(err > tol))} elements out of tolerance; worst "
            f"got {g[ok][worst]!r} ref {e[ok][worst]!r} tol {tol[worst]:.3g}"
        )


# --------------------------------------------------------------------------------------------
# Agreement with the numpy kernel and the scalar twin


@pytest.mark.parametrize("path", PATHS)
def test_bsm_matches_numpy_kernel(path: str) -> None:
    m = market(200_003, seed=1)
    got = _native.bsm_greeks(**m, path=path)  # type: ignore[arg-type]
    assert_close(got, bsm_greeks(**m), scales(m))


@pytest.mark.parametrize("path", PATHS)
def test_black76_matches_numpy_kernel(path: str) -> None:
    m = market(100_001, seed=2)
    del m["div_yield"]
    got = _native.black76_greeks(
        m["spot"], m["strike"], m["t_years"], m["vol"], rate=m["rate"], is_call=m["is_call"],
        path=path,  # type: ignore[arg-type]
    )  # fmt: skip
    ref = black76_greeks(
        m["spot"], m["strike"], m["t_years"], m["vol"], rate=m["rate"], is_call=m["is_call"]
    )
    assert_close(got, ref, scales(m, black76=True))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("model", ["bsm", "black76"])
def test_matches_scalar_twin(path: str, model: str) -> None:
    m = market(2_001, seed=3)
    if model == "bsm":
        got = _native.bsm_greeks(**m, path=path)  # type: ignore[arg-type]
    else:
        m["div_yield"] = m["rate"]  # Black-76 is BSM with q = r for the scales
        args = {k: v for k, v in m.items() if k != "div_yield"}
        got = _native.black76_greeks(
            args["spot"], args["strike"], args["t_years"], args["vol"], rate=args["rate"],
            is_call=args["is_call"], path=path,  # type: ignore[arg-type]
        )  # fmt: skip
    rows = []
    for i in range(len(m["spot"])):
        u, k, t, v = (float(m[key][i]) for key in ("spot", "strike", "t_years", "vol"))
        r, q, c = float(m["rate"][i]), float(m["div_yield"][i]), bool(m["is_call"][i])
        if model == "bsm":
            rows.append(bsm_greeks_scalar(u, k, t, v, rate=r, div_yield=q, is_call=c))
        else:
            rows.append(black76_greeks_scalar(u, k, t, v, rate=r, is_call=c))

    class Ref:
        reason = np.zeros(len(rows), dtype=np.int8)

    ref = Ref()
    for name in FIELDS:
        setattr(ref, name, np.array([getattr(row, name) for row in rows]))
    assert_close(got, ref, scales(m, black76=model == "black76"))


@needs_native
@needs_avx2
def test_avx2_and_scalar_paths_agree() -> None:
    m = market(100_000, seed=4)
    assert_close(
        _native.bsm_greeks(**m, path="avx2"), _native.bsm_greeks(**m, path="scalar"), scales(m)
    )


@pytest.mark.parametrize("path", PATHS)
def test_textbook_value(path: str) -> None:
    """Hull 7th ed. example 13.6: S=42, K=40, r=10%, sigma=20%, T=0.5: call 4.76, put 0.81."""
    g = _native.bsm_greeks(42.0, 40.0, 0.5, 0.2, rate=0.1, is_call=[True, False], path=path)  # type: ignore[arg-type]
    np.testing.assert_allclose(g.price, [4.76, 0.81], atol=5e-3)


# --------------------------------------------------------------------------------------------
# Reason codes


@pytest.mark.parametrize("path", PATHS)
def test_reason_codes_in_order(path: str) -> None:
    nan, inf = np.nan, np.inf
    cases = [  # spot, strike, t, vol, rate, q, is_call, expected
        (100.0, 100.0, 1.0, 0.2, 0.01, 0.0, 1, Reason.OK),
        (nan, 100.0, 1.0, 0.2, 0.01, 0.0, 1, Reason.NAN_INPUT),
        (100.0, 100.0, 1.0, 0.2, inf, 0.0, 1, Reason.NAN_INPUT),
        (100.0, 100.0, 1.0, 0.2, 0.01, -inf, 0, Reason.NAN_INPUT),
        (-1.0, 100.0, 0.0, 0.2, 0.01, nan, 1, Reason.NAN_INPUT),  # NaN wins over the rest
        (0.0, -5.0, 0.0, -0.2, 0.01, 0.0, 1, Reason.NONPOSITIVE_UNDERLYING),
        (100.0, 0.0, -1.0, 0.0, 0.01, 0.0, 0, Reason.NONPOSITIVE_STRIKE),
        (100.0, 100.0, 0.0, 0.0, 0.01, 0.0, 1, Reason.NONPOSITIVE_TIME),
        (100.0, 100.0, 1.0, -0.2, 0.01, 0.0, 0, Reason.NONPOSITIVE_VOL),
        (100.0, 100.0, 1.0, 0.2, 0.01, 0.0, 2, Reason.BAD_RIGHT),
        (100.0, 100.0, 1.0, -0.2, 0.01, 0.0, 2, Reason.NONPOSITIVE_VOL),
    ]
    # repeat so every case lands in every SIMD lane and in the padded tail
    cols = [np.array([c[j] for c in cases] * 5) for j in range(8)]
    spot, strike, t, vol, rate, q, right, expected = cols
    got = _native.bsm_greeks(
        spot, strike, t, vol, rate=rate, div_yield=q, is_call=right.astype(np.int64), path=path,  # type: ignore[arg-type]
    )  # fmt: skip
    np.testing.assert_array_equal(got.reason, expected.astype(np.int8))
    ref = bsm_greeks(spot, strike, t, vol, rate=rate, div_yield=q, is_call=right.astype(np.int64))
    np.testing.assert_array_equal(got.reason, ref.reason)
    bad = expected != Reason.OK
    for name in FIELDS:
        out = getattr(got, name)
        assert np.all(np.isnan(out[bad])), name
        assert np.all(np.isfinite(out[~bad])), name


@needs_native
def test_is_call_accepts_bool_and_zero_one() -> None:
    as_bool = _native.bsm_greeks(100.0, [90.0, 110.0], 0.5, 0.3, rate=0.0, is_call=[True, False])
    as_int = _native.bsm_greeks(100.0, [90.0, 110.0], 0.5, 0.3, rate=0.0, is_call=[1, 0])
    as_float = _native.bsm_greeks(100.0, [90.0, 110.0], 0.5, 0.3, rate=0.0, is_call=[1.0, 0.0])
    np.testing.assert_array_equal(as_bool.price, as_int.price)
    np.testing.assert_array_equal(as_bool.price, as_float.price)
    bad = _native.bsm_greeks(100.0, 100.0, 0.5, 0.3, rate=0.0, is_call=[0.5, -1, np.nan])
    np.testing.assert_array_equal(bad.reason, [Reason.BAD_RIGHT] * 3)


# --------------------------------------------------------------------------------------------
# Threads, chunking, broadcasting


@pytest.mark.parametrize("path", PATHS)
def test_threads_give_identical_bits(path: str) -> None:
    n = 4 * _native.MIN_CHUNK + 3  # splits into several chunks, with a ragged end
    m = market(n, seed=5)
    one = _native.bsm_greeks(**m, threads=1, path=path)  # type: ignore[arg-type]
    for threads in (2, 3, 7):
        many = _native.bsm_greeks(**m, threads=threads, path=path)  # type: ignore[arg-type]
        for name in (*FIELDS, "reason"):
            assert getattr(one, name).tobytes() == getattr(many, name).tobytes(), (threads, name)


@pytest.mark.parametrize("path", PATHS)
def test_result_independent_of_position(path: str) -> None:
    """An element gives the same bits in any lane, in the padded tail, or on its own."""
    m = market(37, seed=6)
    full = _native.bsm_greeks(**m, path=path)  # type: ignore[arg-type]
    for start in (1, 2, 3, 34, 36):
        part = _native.bsm_greeks(**{k: v[start:] for k, v in m.items()}, path=path)  # type: ignore[arg-type]
        for name in FIELDS:
            assert getattr(part, name).tobytes() == getattr(full, name)[start:].tobytes(), name


@needs_native
def test_broadcasting_matches_explicit_arrays() -> None:
    strikes = np.linspace(3000.0, 7000.0, 41)
    expiries = np.array([[1.0 / 365.0], [0.1], [1.0]])
    got = _native.bsm_greeks(
        5000.0, strikes, expiries, 0.2, rate=0.04, div_yield=0.01, is_call=True
    )
    assert got.price.shape == (3, 41)
    full: dict[str, Any] = {
        "spot": np.full((3, 41), 5000.0),
        "strike": np.broadcast_to(strikes, (3, 41)).copy(),
        "t_years": np.broadcast_to(expiries, (3, 41)).copy(),
        "vol": np.full((3, 41), 0.2),
        "rate": np.full((3, 41), 0.04),
        "div_yield": np.full((3, 41), 0.01),
        "is_call": np.ones((3, 41), dtype=bool),
    }
    explicit = _native.bsm_greeks(**full)
    for name in (*FIELDS, "reason"):
        np.testing.assert_array_equal(getattr(got, name), getattr(explicit, name))
    # a non-contiguous input (Fortran order) is copied to C order first
    fortran = np.asfortranarray(full["strike"])
    assert not fortran.flags.c_contiguous
    other = _native.bsm_greeks(
        5000.0, fortran, expiries, 0.2, rate=0.04, div_yield=0.01, is_call=True
    )
    np.testing.assert_array_equal(other.price, got.price)


@needs_native
def test_scalars_give_0d_read_only_arrays() -> None:
    g = _native.bsm_greeks(100.0, 100.0, 1.0, 0.2, rate=0.0, is_call=True)
    assert g.price.shape == ()
    assert g.reason.dtype == np.int8
    assert not g.price.flags.writeable
    assert float(g.price) == pytest.approx(7.965567455405804, rel=1e-14)


@needs_native
def test_empty_input() -> None:
    g = _native.bsm_greeks(np.empty(0), 100.0, 1.0, 0.2, rate=0.0, is_call=True)
    assert g.price.shape == (0,)
    assert g.reason.shape == (0,)


@needs_native
def test_structural_errors_raise() -> None:
    with pytest.raises(InvalidInputError, match="broadcast"):
        _native.bsm_greeks(np.ones(3), np.ones(4), 1.0, 0.2, rate=0.0, is_call=True)
    with pytest.raises(InvalidInputError, match="threads"):
        _native.bsm_greeks(1.0, 1.0, 1.0, 0.2, rate=0.0, is_call=True, threads=0)
    with pytest.raises(InvalidInputError, match="path"):
        _native.bsm_greeks(1.0, 1.0, 1.0, 0.2, rate=0.0, is_call=True, path="gpu")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="is_call"):
        _native.bsm_greeks(1.0, 1.0, 1.0, 0.2, rate=0.0, is_call="call")
    with pytest.raises(InvalidInputError, match="spot"):
        _native.bsm_greeks("x", 1.0, 1.0, 0.2, rate=0.0, is_call=True)


@needs_native
@pytest.mark.skipif(_native.VECTOR_MATH, reason="this machine has the AVX2 path")
def test_avx2_path_refused_where_unavailable() -> None:
    with pytest.raises(VixShieldError, match="AVX2"):
        _native.bsm_greeks(1.0, 1.0, 1.0, 0.2, rate=0.0, is_call=True, path="avx2")


def test_missing_library_raises_with_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_native, "_LIB", None)
    with pytest.raises(VixShieldError, match="not available"):
        _native.bsm_greeks(1.0, 1.0, 1.0, 0.2, rate=0.0, is_call=True)


def test_thread_plan() -> None:
    assert _native.plan_threads(10, 8) == 1
    assert _native.plan_threads(2 * _native.MIN_CHUNK, 8) == 2
    assert _native.plan_threads(100 * _native.MIN_CHUNK, 3) == 3
    assert _native.plan_threads(100 * _native.MIN_CHUNK) == _native.default_threads()


@needs_native
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_threads_work_in_a_forked_child() -> None:
    """A child forked after the thread pool exists must not wait on the parent's dead threads."""
    m = market(4 * _native.MIN_CHUNK, seed=7)
    parent = _native.bsm_greeks(**m, threads=2)
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns about fork() with threads alive
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child: compute with threads, report success through the pipe, exit at once
        ok = 0
        try:
            child = _native.bsm_greeks(**m, threads=2)
            ok = int(child.price.tobytes() == parent.price.tobytes())
        finally:
            os.write(write, bytes([ok]))
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == b"\x01"
    os.close(read)
    assert status == 0
