"""The C transcription of the implied-vol solver against its numpy specification.

``vixshield.pricing.iv`` runs each chunk through ``vxs_iv_black76`` (``pricing/_kernel.c``) when
the compiled library has it, and through its numpy code otherwise. Both must accept and reject
exactly the same inputs with the same reason codes and agree on the vol to far below the 1e-10
requirement; the accuracy itself is asserted against the oracle in ``tests/golden`` and
``tests/property`` (which run whichever path is active).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from vixshield.errors import InvalidInputError, VixShieldError
from vixshield.pricing import _native
from vixshield.pricing import iv as iv_module
from vixshield.pricing.black import black76_price
from vixshield.pricing.iv import ImpliedVol, implied_vol_black76
from vixshield.pricing.reasons import Reason

pytestmark = pytest.mark.skipif(
    not _native.IV_AVAILABLE, reason="the compiled kernel has no implied-vol solver"
)

Floats = npt.NDArray[np.float64]
MINUTE_YEARS = 1.0 / 525_600


def _options(
    n: int, seed: int
) -> tuple[Floats, Floats, Floats, Floats, Floats, npt.NDArray[np.bool_]]:
    """Every region: near, 2-38 sd out of and in the money, total vol up to 4, 1 minute-2 years."""
    rng = np.random.default_rng(seed)
    forward = rng.uniform(5.0, 6000.0, n)
    t_years = np.exp(rng.uniform(math.log(MINUTE_YEARS), math.log(2.0), n))
    vol = np.exp(rng.uniform(math.log(0.01), math.log(3.0), n))
    is_call = rng.random(n) < 0.5
    sd = rng.uniform(-38.0, 38.0, n) * rng.random(n) ** 2  # denser near the money
    s = vol * np.sqrt(t_years)
    strike = forward * np.exp(-np.where(is_call, 1.0, -1.0) * sd * s)
    rate = rng.uniform(-0.01, 0.08, n)
    price = black76_price(forward, strike, t_years, vol, rate=rate, is_call=is_call)
    return np.array(price), forward, strike, t_years, rate, is_call


def _solve(native: bool, *args: npt.ArrayLike, **kwargs: npt.ArrayLike) -> ImpliedVol:
    saved = iv_module._USE_NATIVE
    iv_module._USE_NATIVE = native
    try:
        return implied_vol_black76(*args, **kwargs)  # type: ignore[arg-type]
    finally:
        iv_module._USE_NATIVE = saved


def _assert_same(a: ImpliedVol, b: ImpliedVol) -> None:
    np.testing.assert_array_equal(a.reason, b.reason)
    np.testing.assert_array_equal(np.isnan(a.vol), np.isnan(b.vol))
    both = np.isfinite(a.vol)
    assert np.all(np.abs(a.vol[both] - b.vol[both]) <= 1e-11)


def test_native_path_is_the_default_where_its_avx2_path_runs() -> None:
    assert iv_module._USE_NATIVE == _native.VECTOR_MATH


def test_native_matches_numpy_on_every_region() -> None:
    price, forward, strike, t_years, rate, is_call = _options(200_000, seed=7)
    numpy_iv = _solve(False, price, forward, strike, t_years, rate=rate, is_call=is_call)
    native_iv = _solve(True, price, forward, strike, t_years, rate=rate, is_call=is_call)
    assert (native_iv.reason == Reason.OK).mean() > 0.8
    _assert_same(numpy_iv, native_iv)


def test_native_matches_numpy_on_bad_elements_and_bounds() -> None:
    price, forward, strike, t_years, rate, is_call = _options(20_000, seed=8)
    rng = np.random.default_rng(9)
    kind = rng.integers(0, 11, price.size)
    price[kind == 0] = np.nan
    forward[kind == 1] = -1.0
    strike[kind == 2] = 0.0
    t_years[kind == 3] = 0.0
    price[kind == 4] = -1.0
    rate[kind == 5] = np.inf
    forward[kind == 6] = np.inf
    df = np.exp(-rate * t_years)
    intrinsic = np.maximum(np.where(is_call, forward - strike, strike - forward), 0.0)
    cap = np.where(is_call, forward, strike)
    at_intrinsic, at_cap = kind == 7, kind == 8
    price[at_intrinsic] = intrinsic[at_intrinsic] * df[at_intrinsic]
    price[at_cap] = cap[at_cap] * df[at_cap]
    above = kind == 9  # one ulp above intrinsic (discounted): inside or not, as numpy decides
    price[above] = np.nextafter(intrinsic[above] * df[above], np.inf)
    right = is_call.astype(np.float64)
    right[kind == 10] = 0.5  # BAD_RIGHT
    for flags in (is_call, right):
        numpy_iv = _solve(False, price, forward, strike, t_years, rate=rate, is_call=flags)
        native_iv = _solve(True, price, forward, strike, t_years, rate=rate, is_call=flags)
        _assert_same(numpy_iv, native_iv)
    assert set(np.unique(native_iv.reason)) >= {
        Reason.OK,
        Reason.NAN_INPUT,
        Reason.BAD_RIGHT,
        Reason.NONPOSITIVE_UNDERLYING,
        Reason.NONPOSITIVE_STRIKE,
        Reason.NONPOSITIVE_TIME,
        Reason.NONPOSITIVE_PRICE,
        Reason.BELOW_INTRINSIC,
        Reason.ABOVE_UPPER_BOUND,
    }


def test_no_convergence_is_reported_on_the_native_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stopping rule is the module's: forcing it to fail gives NO_CONVERGENCE in C too."""
    price, forward, strike, t_years, rate, is_call = _options(1000, seed=10)
    monkeypatch.setattr(iv_module, "_STEP_FLOOR", -1.0)
    monkeypatch.setattr(iv_module, "_MAX_ITERATIONS", 3)
    numpy_iv = _solve(False, price, forward, strike, t_years, rate=rate, is_call=is_call)
    native_iv = _solve(True, price, forward, strike, t_years, rate=rate, is_call=is_call)
    assert np.any(native_iv.reason == Reason.NO_CONVERGENCE)
    _assert_same(numpy_iv, native_iv)


def test_scalar_and_avx2_paths_agree() -> None:
    if not _native.VECTOR_MATH:
        pytest.skip("no AVX2/libmvec path on this machine")
    price, forward, strike, t_years, rate, is_call = _options(100_000, seed=11)
    runs = [
        _native.iv_black76(
            price,
            forward,
            strike,
            t_years,
            rate=rate,
            discount=np.exp(-rate * t_years),
            right=is_call.view(np.uint8),
            tolerance=iv_module._STEP_TOLERANCE,
            floor=iv_module._STEP_FLOOR,
            max_iterations=iv_module._MAX_ITERATIONS,
            path=path,
        )
        for path in ("avx2", "scalar")
    ]
    (vol_a, status_a), (vol_s, status_s) = runs
    np.testing.assert_array_equal(status_a, status_s)
    ok = status_a == 0
    assert ok.mean() > 0.8
    assert np.all(np.abs(vol_a[ok] - vol_s[ok]) <= 1e-11)


def test_result_does_not_depend_on_threads_or_position() -> None:
    price, forward, strike, t_years, rate, is_call = _options(100_003, seed=12)
    one = implied_vol_black76(
        price, forward, strike, t_years, rate=rate, is_call=is_call, threads=1
    )
    two = implied_vol_black76(
        price, forward, strike, t_years, rate=rate, is_call=is_call, threads=2
    )
    np.testing.assert_array_equal(one.vol, two.vol)
    np.testing.assert_array_equal(one.reason, two.reason)
    part = slice(37, 1234)  # another offset and length within the blocks of 256
    sub = implied_vol_black76(
        price[part],
        forward[part],
        strike[part],
        t_years[part],
        rate=rate[part],
        is_call=is_call[part],
    )
    np.testing.assert_array_equal(sub.vol, one.vol[part])
    np.testing.assert_array_equal(sub.reason, one.reason[part])


def test_iv_black76_structural_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    a = np.ones(3)
    kwargs = {
        "rate": a,
        "discount": a,
        "right": np.ones(3, dtype=np.uint8),
        "tolerance": 1e-7,
        "floor": 1e-15,
        "max_iterations": 12,
    }
    with pytest.raises(InvalidInputError, match="path"):
        _native.iv_black76(a, a, a, a, path="gpu", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="one length"):
        _native.iv_black76(np.ones(4), a, a, a, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(_native, "IV_AVAILABLE", False)
    with pytest.raises(VixShieldError, match="not available"):
        _native.iv_black76(a, a, a, a, **kwargs)  # type: ignore[arg-type]
