"""ctypes loader and wrapper of the C pricing kernel (``_kernel.c``): BSM and Black-76 with Greeks.

The same formulas, evaluation order, units and reason codes as :mod:`vixshield.pricing.black`
(whose docstring is the specification), about four times faster per core on AVX2 machines.

Design
------
* **Library.** ``_kernel.c`` is plain C compiled by ``setup.py`` into this package and loaded
  with :mod:`ctypes` (no Python C-API, so one binary serves every Python version). ctypes
  releases the GIL for the duration of each foreign call.
* **Dispatch.** Two paths: AVX2+FMA with glibc's libmvec vector ``exp``, ``log`` and ``erfc``
  (``_ZGVdN4v_*``, 4 lanes), and a portable scalar path with libm. This module looks the three
  vector functions up in ``libmvec.so.1`` and hands them to the library, which uses them when
  the CPU reports AVX2 and FMA (``__builtin_cpu_supports``). Without libmvec (musl, glibc
  older than 2.35, non-x86 machines) or without AVX2 the scalar path runs.
* **Threads.** Arrays are cut into contiguous chunks, run on a persistent
  :class:`~concurrent.futures.ThreadPoolExecutor` (the calling thread takes the last chunk).
  Chosen over OpenMP/pthreads inside C: no OpenMP runtime to ship or to clash with numpy's
  BLAS threads, the thread count is an ordinary argument, and the C stays a pure function of
  its slice. Chunks smaller than ``MIN_CHUNK`` elements are not split off, so small chains run on
  one thread with no hand-off cost. Every element takes the same instructions wherever it
  falls (the C pads the last 1-3 elements to a full vector instead of a scalar tail), so the
  result does not depend on the thread count, bit for bit.
* **Broadcasting.** Inputs that are one value (scalar rate, one expiry for a chain) are passed
  with stride 0 and never expanded; other inputs are broadcast to the common shape and made
  contiguous float64.

* **Implied vol.** :func:`iv_black76` runs the C transcription of the solver in
  :mod:`vixshield.pricing.iv` on one chunk, on the calling thread (that module splits the
  work over threads itself and falls back to its numpy code where :data:`IV_AVAILABLE` is
  False, e.g. a library built before the solver was added).

Without the compiled library (a build without a C compiler) :data:`AVAILABLE` is False and
the functions raise :class:`~vixshield.errors.VixShieldError`; callers fall back to
:func:`vixshield.pricing.black.bsm_greeks`.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import platform
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from vixshield.errors import InvalidInputError, VixShieldError
from vixshield.pricing import _threads
from vixshield.pricing._inputs import as_float
from vixshield.pricing._threads import default_threads
from vixshield.pricing.greeks import OptionGreeks

__all__ = [
    "AVAILABLE",
    "IV_AVAILABLE",
    "LOAD_ERROR",
    "MIN_CHUNK",
    "VECTOR_MATH",
    "PathName",
    "black76_greeks",
    "bsm_greeks",
    "default_threads",
    "iv_black76",
    "plan_threads",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
ReasonArray: TypeAlias = npt.NDArray[np.int8]
PathName: TypeAlias = Literal["auto", "scalar", "avx2"]

_ABI_VERSION: Final = 1
_MODEL_BSM: Final = 0
_MODEL_BLACK76: Final = 1
_PATHS: Final[dict[str, int]] = {"auto": 0, "scalar": 1, "avx2": 2}
_ERRORS: Final[dict[int, str]] = {
    -1: "unknown model",
    -2: "unknown path",
    -3: "the AVX2 path is not available on this machine (no AVX2/FMA or no libmvec)",
    -4: "bad stride",
}
_BAD_RIGHT: Final = 2  # any byte > 1 makes the kernel report Reason.BAD_RIGHT

#: Fewest elements worth handing to another thread (about 0.4 ms of work at 40 M/s, against
#: some 20-50 us to hand a chunk over and collect it).
MIN_CHUNK: Final = 16_384
_ALIGN: Final = 64  # chunk starts are multiples of 64 elements (cache lines of every array)


def _library_path() -> Path | None:
    here = Path(__file__).resolve().parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = here / f"_kernel{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _load() -> tuple[ctypes.CDLL | None, str | None]:
    path = _library_path()
    if path is None:
        return None, "the compiled kernel _kernel*.so is not installed (built with no C compiler?)"
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        return None, f"could not load {path}: {exc}"
    lib.vxs_abi_version.restype = ctypes.c_int
    if lib.vxs_abi_version() != _ABI_VERSION:
        return None, f"{path} has ABI {lib.vxs_abi_version()}, expected {_ABI_VERSION}; rebuild"
    i64, ptr, dbl = ctypes.c_int64, ctypes.c_void_p, ctypes.c_double
    # n, model, path; then (address, stride) for S, K, T, sigma, r, q, is_call; then 9 outputs
    argtypes: list[type[ctypes._SimpleCData[Any]]] = [i64, ctypes.c_int, ctypes.c_int]
    for _ in range(7):
        argtypes += [ptr, i64]
    argtypes += [ptr] * 9
    lib.vxs_greeks.restype = ctypes.c_int
    lib.vxs_greeks.argtypes = argtypes
    lib.vxs_set_vector_math.restype = ctypes.c_int
    lib.vxs_set_vector_math.argtypes = [ptr, ptr, ptr]
    lib.vxs_avx2_active.restype = ctypes.c_int
    lib.vxs_cpu_has_avx2_fma.restype = ctypes.c_int
    if hasattr(lib, "vxs_iv_black76"):  # a library built before the IV solver lacks it
        lib.vxs_iv_black76.restype = ctypes.c_int
        lib.vxs_iv_black76.argtypes = [i64, ctypes.c_int] + [ptr] * 9 + [dbl, dbl, ctypes.c_int]
    return lib, None


def _attach_libmvec(lib: ctypes.CDLL) -> bool:
    """Hand libmvec's AVX2 exp/log/erfc to the kernel; False where any is missing."""
    if platform.system() != "Linux" or platform.machine() not in {"x86_64", "AMD64"}:
        return False
    if not lib.vxs_cpu_has_avx2_fma():
        return False
    try:
        mvec = ctypes.CDLL("libmvec.so.1")
        fns = [mvec[f"_ZGVdN4v_{name}"] for name in ("exp", "log", "erfc")]
    except (OSError, AttributeError):  # no libmvec, or glibc < 2.35 (no vector erfc)
        return False
    addrs = [ctypes.cast(f, ctypes.c_void_p).value for f in fns]
    lib.vxs_set_vector_math(*addrs)
    return bool(lib.vxs_avx2_active())


_LIB, LOAD_ERROR = _load()
#: True when the compiled kernel is loaded; False means: use the numpy kernel.
AVAILABLE: Final[bool] = _LIB is not None
#: True when the AVX2 + libmvec path is active (else the scalar C path runs).
VECTOR_MATH: Final[bool] = _LIB is not None and _attach_libmvec(_LIB)
#: True when the library has the implied-vol solver (:func:`iv_black76`).
IV_AVAILABLE: Final[bool] = _LIB is not None and hasattr(_LIB, "vxs_iv_black76")


def plan_threads(n: int, threads: int | None = None) -> int:
    """Threads a call over ``n`` elements uses: ``threads`` (None: all cores), at most one per
    ``MIN_CHUNK`` elements, at least 1."""
    return max(1, min(threads or default_threads(), n // MIN_CHUNK))


class _Input(NamedTuple):
    array: npt.NDArray[np.generic]  # kept alive for the duration of the call
    address: int
    stride: int  # elements: 0 broadcasts one value, 1 is contiguous
    itemsize: int


def _as_right(is_call: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """1 call, 0 put, 2 for anything else (the kernel reports BAD_RIGHT), as pricing.black."""
    arr = np.asarray(is_call)
    if arr.dtype == np.bool_:
        return arr.view(np.uint8)
    if arr.dtype.kind in "iuf":
        with np.errstate(invalid="ignore"):
            return np.where(arr == 1, 1, np.where(arr == 0, 0, _BAD_RIGHT)).astype(np.uint8)
    raise InvalidInputError(
        f"is_call must be a bool or an array of bools (True = call), got dtype {arr.dtype}: "
        f"{is_call!r}"
    )


def _prepare(arr: npt.NDArray[np.generic], shape: tuple[int, ...]) -> _Input:
    if arr.size == 1:
        one = np.ascontiguousarray(arr.reshape(1))
        return _Input(one, one.ctypes.data, 0, one.itemsize)
    if arr.shape != shape or not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(np.broadcast_to(arr, shape))
    return _Input(arr, arr.ctypes.data, 1, arr.itemsize)


def _run(
    model: int,
    named: dict[str, FloatArray],
    right: npt.NDArray[np.uint8],
    threads: int | None,
    path: PathName,
) -> OptionGreeks:
    if _LIB is None:
        raise VixShieldError(
            f"the native pricing kernel is not available ({LOAD_ERROR}); "
            "use vixshield.pricing.black or reinstall with a C compiler (pip install -e .)"
        )
    if path not in _PATHS:
        raise InvalidInputError(f"path must be one of {sorted(_PATHS)}, got {path!r}")
    if threads is not None and threads < 1:
        raise InvalidInputError(f"threads must be >= 1 or None (all cores), got {threads!r}")
    try:
        shape = np.broadcast_shapes(*(a.shape for a in named.values()), right.shape)
    except ValueError as exc:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in named.items())
        raise InvalidInputError(
            f"arguments do not broadcast together: {shapes}, is_call {right.shape}; give "
            "arrays of one shape, or shapes that numpy broadcasting accepts"
        ) from exc
    n = int(np.prod(shape, dtype=np.int64))
    arrays: list[npt.NDArray[np.generic]] = [*named.values(), right]
    inputs = [_prepare(a, shape) for a in arrays]
    if model == _MODEL_BLACK76:  # the kernel ignores q for Black-76; pass the rate's slot
        inputs.insert(5, inputs[4])
    floats = np.empty((8, n), dtype=np.float64)
    reason = np.empty(n, dtype=np.int8)

    code = _PATHS[path]
    workers = plan_threads(n, threads)
    step = -(-n // workers)
    step = -(-step // _ALIGN) * _ALIGN
    bounds = [(lo, min(lo + step, n)) for lo in range(0, n, step)] if n else []

    def call(lo: int, hi: int) -> int:
        args: list[int] = []
        for inp in inputs:
            args += [inp.address + lo * inp.stride * inp.itemsize, inp.stride]
        outs = [floats.ctypes.data + (k * n + lo) * 8 for k in range(8)]
        return int(_LIB.vxs_greeks(hi - lo, model, code, *args, *outs, reason.ctypes.data + lo))

    if len(bounds) <= 1:
        codes = [call(0, n)]
    else:
        pool = _threads.pool(len(bounds) - 1)
        futures: list[Future[int]] = [pool.submit(call, lo, hi) for lo, hi in bounds[:-1]]
        codes = [call(*bounds[-1])] + [f.result() for f in futures]
    for rc in codes:
        if rc != 0:
            raise VixShieldError(f"native kernel failed: {_ERRORS.get(rc, rc)} (path={path!r})")

    floats.flags.writeable = False
    reason.flags.writeable = False
    return OptionGreeks.from_arrays(
        [floats[k].reshape(shape) for k in range(8)], reason.reshape(shape)
    )


def bsm_greeks(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    vol: npt.ArrayLike,
    *,
    rate: npt.ArrayLike,
    div_yield: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike,
    threads: int | None = None,
    path: PathName = "auto",
) -> OptionGreeks:
    """Black-Scholes-Merton price and Greeks; :func:`vixshield.pricing.black.bsm_greeks` in C.

    Parameters
    ----------
    spot, strike, t_years, vol, rate, div_yield, is_call
        As :func:`vixshield.pricing.black.bsm_greeks` (broadcast together).
    threads
        Threads to split the elements over; None uses every core this process may run on.
        Arrays under ``2 * MIN_CHUNK`` elements always run on the calling thread.
    path
        ``"auto"`` (AVX2 when :data:`VECTOR_MATH`, else scalar), ``"scalar"`` or ``"avx2"``
        (raises where unavailable). For tests and benchmarks.

    Returns
    -------
    OptionGreeks
        Read-only arrays of the broadcast shape (0-d for scalar inputs).

    Raises
    ------
    VixShieldError
        When the library is not :data:`AVAILABLE`, or ``path="avx2"`` cannot run here.
    InvalidInputError
        When shapes do not broadcast or an argument is not numeric.
    """
    named = {
        "spot": as_float("spot", spot),
        "strike": as_float("strike", strike),
        "t_years": as_float("t_years", t_years),
        "vol": as_float("vol", vol),
        "rate": as_float("rate", rate),
        "div_yield": as_float("div_yield", div_yield),
    }
    return _run(_MODEL_BSM, named, _as_right(is_call), threads, path)


def black76_greeks(
    forward: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    vol: npt.ArrayLike,
    *,
    rate: npt.ArrayLike,
    is_call: npt.ArrayLike,
    threads: int | None = None,
    path: PathName = "auto",
) -> OptionGreeks:
    """Black-76 price and Greeks; :func:`vixshield.pricing.black.black76_greeks` in C.

    The kernel runs the BSM steps with ``q = r`` and ``log(F/K)`` (the carry term is then
    exactly zero), with theta's carry ``r w (a - b)`` and ``rho = -T V / 100`` (F held), as
    the numpy kernel does. Delta, gamma and vanna are with respect to the forward. ``threads``
    and ``path`` as :func:`bsm_greeks`.
    """
    named = {
        "forward": as_float("forward", forward),
        "strike": as_float("strike", strike),
        "t_years": as_float("t_years", t_years),
        "vol": as_float("vol", vol),
        "rate": as_float("rate", rate),
    }
    return _run(_MODEL_BLACK76, named, _as_right(is_call), threads, path)


def iv_black76(
    price: FloatArray,
    forward: FloatArray,
    strike: FloatArray,
    t_years: FloatArray,
    *,
    rate: FloatArray,
    discount: FloatArray,
    right: npt.NDArray[np.uint8],
    tolerance: float,
    floor: float,
    max_iterations: int,
    path: PathName = "auto",
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """Black-76 implied vol of flat float64 arrays of one length, on the calling thread.

    The solver of :mod:`vixshield.pricing.iv` (whose docstring is the specification) in C, for
    that module's use: it validates (strictly inside the bounds, with the caller's
    ``discount = exp(-rate * t_years)``) and solves. ``right`` is 1 (call), 0 (put) or anything
    else (invalid); ``tolerance``, ``floor`` and ``max_iterations`` are the stopping rule
    (``|ds| <= tolerance * s + floor``, at most ``max_iterations`` steps). Returns
    ``(vol, status)``: status 0 solved, 1 invalid or not strictly inside the bounds (vol NaN;
    the caller assigns the reason), 2 no convergence (vol NaN). ``path`` as :func:`bsm_greeks`.
    """
    if _LIB is None or not IV_AVAILABLE:
        raise VixShieldError(
            f"the native implied-vol solver is not available ({LOAD_ERROR or 'old library'}); "
            "use vixshield.pricing.iv, which falls back to numpy, or rebuild (pip install -e .)"
        )
    if path not in _PATHS:
        raise InvalidInputError(f"path must be one of {sorted(_PATHS)}, got {path!r}")
    arrays = [
        np.ascontiguousarray(a, dtype=np.float64)
        for a in (price, forward, strike, t_years, rate, discount)
    ]
    flags = np.ascontiguousarray(right, dtype=np.uint8)
    n = flags.size
    if any(a.shape != (n,) for a in arrays) or flags.shape != (n,):
        raise InvalidInputError("iv_black76 takes flat arrays of one length")
    vol = np.empty(n, dtype=np.float64)
    status = np.empty(n, dtype=np.int8)
    rc = int(
        _LIB.vxs_iv_black76(
            n,
            _PATHS[path],
            *(a.ctypes.data for a in arrays),
            flags.ctypes.data,
            vol.ctypes.data,
            status.ctypes.data,
            float(tolerance),
            float(floor),
            int(max_iterations),
        )
    )
    if rc != 0:
        raise VixShieldError(f"native kernel failed: {_ERRORS.get(rc, rc)} (path={path!r})")
    return vol, status
