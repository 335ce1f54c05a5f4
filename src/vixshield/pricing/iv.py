r"""Vectorised implied volatility for Black-76 and Black-Scholes-Merton, accurate to the last bits.

The solver is a vectorised numpy transcription of Peter Jäckel's "Let's Be Rational" (LBR):
his rational guess and third-order Householder iterations on his three objective functions,
with every far-wing price handled in *log* form, so that options 10-40 standard deviations out
of the money (prices down to the bottom of the normal float range) neither underflow nor stall.
Calls and puts, in and out of the money, are solved in one pass without per-option branching.

Normalised form
---------------
With forward :math:`F`, strike :math:`K`, discount factor :math:`D = e^{-rT}` and total
volatility :math:`s = \sigma\sqrt{T}`, put

.. math::

    x = \ln(F/K), \qquad \beta = \frac{P}{D\sqrt{FK}}, \qquad
    b(x, s, \theta) = \theta\left[e^{x/2}\Phi(\theta(x/s + s/2))
                     - e^{-x/2}\Phi(\theta(x/s - s/2))\right],

where :math:`\theta = +1` for a call and :math:`-1` for a put. Put-call symmetry and parity give
:math:`b(x, s, \theta) = \iota(x, \theta) + b(-|x|, s, +1)` with the normalised intrinsic value
:math:`\iota = \max(\theta(e^{x/2} - e^{-x/2}), 0)`, so every option is solved as the
out-of-the-money *call* :math:`b(s) := b(-|x|, s, +1)`, :math:`x \le 0`, whose price lies in
:math:`(0, b_{\max})`, :math:`b_{\max} = e^{x/2}`. In price units the two gaps are

.. math::

    \tau = P/D - \max(\theta(F-K), 0) \quad\text{(time value)}, \qquad
    \nu = U - P/D,\ U = F \text{ (call) or } K \text{ (put)} \quad\text{(room to the cap)},

so :math:`\beta = \tau/\sqrt{FK}` and :math:`b_{\max} - \beta = \nu/\sqrt{FK}`; both are formed
in price space, which makes the complement exact to one rounding instead of a cancellation.
Below :math:`\beta = 10^{-280}` the log-price :math:`\ln\beta = \ln P + rT - \ln\sqrt{FK}` is
formed from logs, since products of numbers that small lose bits to gradual underflow.

Evaluating :math:`b`; with :math:`h = x/s`, :math:`t = s/2`:

* ``LOW`` segment, log form (Jäckel 2015, eq. (2.10)); no underflow however deep the wing:

  .. math::

      \ln b = -\tfrac12(h^2 + t^2)
              + \ln\tfrac12\left[\mathrm{erfcx}(-\tfrac{h+t}{\sqrt2})
              - \mathrm{erfcx}(-\tfrac{h-t}{\sqrt2})\right],
      \qquad
      \frac{b'}{b} = \frac{\sqrt{2/\pi}}{\mathrm{erfcx}(\cdot) - \mathrm{erfcx}(\cdot)};

* ``MID`` segment and the guess: the plain formula :math:`b = e^{x/2}\Phi(h+t) - e^{-x/2}\Phi(h-t)`
  (two ``ndtr`` instead of two ``erfcx``: faster). Its absolute error
  :math:`\approx\varepsilon e^{x/2}\Phi(h+t)` moves :math:`s` by
  :math:`\varepsilon\Phi(h+t)/\varphi(h+t) \lesssim 5\varepsilon` there (``h + t`` <= ~1.3),
  i.e. the vol by :math:`\lesssim 10^{-15}/\sqrt{T}`: below 1e-12 even one minute from expiry;
* ``HIGH`` segment: :math:`b_{\max} - b = e^{x/2}\Phi(-h-t) + e^{-x/2}\Phi(h-t)`, a sum of two
  positive terms (no cancellation next to the cap).

Vega and its logarithmic derivatives: :math:`b' = e^{-(h^2+t^2)/2}/\sqrt{2\pi}`,
:math:`b''/b' = h^2/s - s/4`, :math:`b'''/b' = (b''/b')^2 - 3h^2/s^2 - 1/4`.

Algorithm (what the C transcription reproduces)
-----------------------------------------------
1. **Guess** (LBR section 4). :math:`s_c = \sqrt{2|x|}` (inflexion point of :math:`b`),
   :math:`b_c = \tfrac12 e^{x/2}(1 - \mathrm{erfcx}(\sqrt{|x|}))`,
   :math:`v_c = b'(s_c) = e^{x/2}/\sqrt{2\pi}`. If :math:`\beta < b_c` the second node is
   :math:`s_l = s_c - b_c/v_c`, else :math:`s_h = s_c + (b_{\max} - b_c)/v_c`; one Black
   evaluation there gives :math:`b_l` or :math:`b_h`. Segments:

   * ``LOW`` (:math:`\beta < b_l`): rational cubic (slopes 1 at 0 and :math:`f_l'` at
     :math:`b_l`, control parameter matching :math:`f_l''` at :math:`b_l`, floored by the
     shape-preserving minimum) of the lower map
     :math:`f_l(s) = \frac{2\pi|x|}{\sqrt{27}}\Phi(-|x|/(\sqrt3 s))^3` between :math:`(0, 0)`
     and :math:`(b_l, f_l(s_l))`, then
     :math:`s_0 = |x| / (\sqrt3\,|\Phi^{-1}((f/(2\pi|x|/\sqrt{27}))^{1/3})|)`;
     bracket :math:`(0, s_l]`.
   * ``MID`` (:math:`b_l \le \beta < b_c` or :math:`b_c \le \beta \le b_h`): rational cubic of
     :math:`s(\beta)` through the two nodes with slopes :math:`1/b'`, parameter matching a zero
     second derivative at the far node; bracket: the two nodes.
   * ``HIGH`` (:math:`\beta > b_h`): rational cubic of the upper map :math:`f_u(s) = \Phi(-s/2)`
     between :math:`(b_h, f_u(s_h))` and :math:`(b_{\max}, 0)`, :math:`s_0 = -2\Phi^{-1}(f)`;
     bracket :math:`[s_h, \infty)`. If :math:`\beta \le b_{\max}/2` the element is iterated on
     the ``MID`` objective instead.

2. **Iteration**: third-order Householder steps
   :math:`s \leftarrow s + n\,\frac{1 + \eta n/2}{1 + n(\eta + \kappa n/6)}`, each clamped to
   :math:`\Delta s \ge -s/2`, with :math:`n = -g/g'`, :math:`\eta = g''/g'`,
   :math:`\kappa = g'''/g'` on the objective

   * ``LOW``: :math:`g = 1/\ln b(s) - 1/\ln\beta` (nearly linear in the far wing: the step in
     log-price that a plain Newton solver lacks where prices fall below 1e-29);
   * ``MID``: :math:`g = b(s) - \beta`;
   * ``HIGH``: :math:`g = \ln(b_{\max}-\beta) - \ln(b_{\max}-b(s))`.

   Every element takes two plain steps (LBR's budget). Elements whose second step was not yet
   small continue in a safeguarded loop: each evaluation tightens the bracket (:math:`b > \beta`
   moves the right end, :math:`b < \beta` the left) and a step that would leave it is replaced by
   bisection (doubling while the bracket is open above). Converged elements leave the working
   set after every step.

3. **Stopping rule / accuracy check**: an element is converged when a Householder step computed
   at :math:`s_k` satisfies :math:`|\Delta s| \le 10^{-7} s_k + 10^{-15}` (or the bracket has
   shrunk below :math:`4\varepsilon s`); :math:`s_{k+1} = s_k + \Delta s` is returned. The step
   is to first order the error of :math:`s_k`, and a third-order step leaves a relative error of
   order :math:`(10^{-7})^3`: only the rounding of the evaluation remains. The absolute floor
   covers the plain formula's :math:`O(\varepsilon)` noise in ``MID`` at tiny :math:`s`. After
   ``_MAX_ITERATIONS`` steps an element that never met the rule is ``NO_CONVERGENCE`` (not seen
   on millions of random options across |ln F/K| <= 30 and s from 1e-7 to 40).

Implementations
---------------
The numpy code in this module is the specification. Where the compiled kernel has it and its
AVX2 path is active (``_native.IV_AVAILABLE`` and ``_native.VECTOR_MATH``), each chunk runs
through its C transcription instead (``vxs_iv_black76`` in ``pricing/_kernel.c``): the same fast
validity check (with numpy's discount factor, so both accept exactly the same prices; numpy then
names the reasons of the rejected ones), the same guess, objectives, steps and stopping rule
(this module's constants are passed in), evaluated stage by stage over blocks of 256 options
with glibc's AVX2 ``exp``, ``log`` and ``erfc`` (libmvec). The special functions that these lack
are built from them: :math:`\Phi(z) = \tfrac12\mathrm{erfc}(-z/\sqrt2)` (as scipy's ``ndtr``),
:math:`\mathrm{erfcx}(z) = e^{z^2}\mathrm{erfc}(z)` with :math:`z^2` split exactly (asymptotic
series from :math:`z = 26`), and :math:`\Phi^{-1}` by Abramowitz-Stegun 26.2.23 and two Halley
steps (guess only). The two implementations differ by the rounding of those functions only,
which moves the vol by about what an ulp of the price does (under 1e-12 on identifiable prices),
with identical reason codes (tested). The kernel's portable path (element by element with libm)
is no faster than numpy, so numpy runs where the AVX2 path does not; that path is the test twin.

Arrays are processed in chunks of ``_CHUNK`` elements so that temporaries stay in cache.
Measured on this project's 2-core AMD EPYC machine (AVX2), one thread, 1M random SPX-like
options: about 9-10 million implied vols per second of CPU time with the C kernel, about 3 with
numpy alone (plain vectorised Newton: about 2).

Accuracy and the floating-point bounds
--------------------------------------
A price is *strictly inside the bounds* when, in float64, :math:`\tau > 0`, :math:`\nu > 0`,
:math:`P > D\max(\theta(F-K), 0)` and :math:`P < DU` with :math:`D` = ``exp(-r*T)``: the
undiscounted gaps the solver uses and the discounted comparison a caller would make, which can
differ by an ulp. For such input the result is the implied volatility of the input to within
the solver error (a few :math:`10^{-16}` relative in :math:`s`) plus the conditioning of the
input itself: the price carries half an ulp of rounding and :math:`\tau` one more, so the vol is
determined only to about :math:`\mathrm{ulp}(P)/\text{vega}`. Out of and near the money this is
far below 1e-10. Deep in the money the time value is a small difference of large numbers; once
it is near the float resolution of the price the vol is not identifiable from the price (a
range of vols gives the same double) and the result is merely *a* vol that reprices to the input
within a few ulps; once it is below that resolution the price equals intrinsic in float64 and
gets ``BELOW_INTRINSIC``. The 1e-10 guarantee is therefore stated, and tested, for inputs
whose vol is identifiable: 8 ulps of the price move the vol by at most 1e-11, with a price
(normalised by :math:`\sqrt{FK}`) in the normal float range; subnormal prices carry too few
significant bits.

A price *equal* to the intrinsic value gets NaN and ``BELOW_INTRINSIC`` ("at or below
intrinsic"): its implied vol is 0 only in the limit, and any vol small enough to leave the time
value under half an ulp reproduces the same price, so no number would be honest. A price equal
to the cap gets ``ABOVE_UPPER_BOUND`` ("at or above").

Sources
-------
P. Jäckel, "Let's Be Rational", Wilmott (2015) 40-53, and its reference implementation
(py_lets_be_rational 1.0.1, the test oracle); R. Delbourgo and J. Gregory, "Shape preserving
piecewise rational interpolation", SIAM J. Sci. Stat. Comput. 6 (1985); F. Black, "The pricing
of commodity contracts", J. Financial Economics 3 (1976); J. Hull, *Options, Futures, and Other
Derivatives* (9th ed.), implied volatility (section 15.11) and Black's model (chapter 18).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import special

from vixshield.errors import InvalidInputError
from vixshield.pricing import _native, _threads
from vixshield.pricing.reasons import Reason

__all__ = ["ImpliedVol", "implied_vol_black76", "implied_vol_bsm"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_EPS: Final = float(np.finfo(np.float64).eps)
_DBL_MAX: Final = float(np.finfo(np.float64).max)
_SQRT_HALF: Final = 0.7071067811865475244008443621048490392848359376887
_INV_SQRT_2PI: Final = 0.3989422804014326779399460599343818684758586311649
_SQRT_2_OVER_PI: Final = 0.7978845608028653558798921198687637369517172623298
_SQRT_THREE: Final = 1.732050807568877293527446341505872366942805253810
_SQRT_ONE_THIRD: Final = 0.577350269189625764509148780501957455647601751270
_TWO_PI: Final = 6.283185307179586476925286766559005768394338798750
_TWO_PI_OVER_SQRT_27: Final = 1.209199576156145233729385505094770488189377498728
_PI_OVER_SIX: Final = 0.523598775598298873077107230546583814032861566563
_SQRT_PI_OVER_TWO: Final = 1.253314137315500251207882642405522626503493370305

# erfcx(z) overflows for z < -26.6; arguments that negative mean b is b_max to full precision.
_ERFCX_MIN_ARG: Final = -26.0
_RC_MIN: Final = -(1.0 - float(np.sqrt(_EPS)))  # LBR's bounds on the rational-cubic parameter
_RC_MAX: Final = 2.0 / (_EPS * _EPS)
_TINY_BETA: Final = 1e-280  # below this, ln(beta) is formed from logs of the inputs

_STEP_TOLERANCE: Final = 1e-7  # |ds| <= tol * s: converged (next iterate exact to rounding)
# Absolute floor: plain-formula noise in s is a few eps; 1e-15 in s is 1e-12 in vol at 1 minute.
_STEP_FLOOR: Final = 1e-15
_MAX_ITERATIONS: Final = 12  # the bracket makes even a bisection-only tail finish well before

# 32k elements (256 KiB arrays): temporaries stay in cache, and the peak working set stays small
# enough that glibc keeps reusing heap pages (64k chunks page-faulted ~80k times per 1M call).
_CHUNK: Final = 1 << 15
_LOW: Final = 0
_MID: Final = 1
_HIGH: Final = 2
# The C transcription of this solver (pricing/_kernel.c) where the library has it and its AVX2
# path runs (about 3x faster than numpy; its portable scalar path is only as fast as numpy).
# The numpy code below is the specification and the fallback; tests switch between the two.
_USE_NATIVE: bool = _native.IV_AVAILABLE and _native.VECTOR_MATH


@dataclass(frozen=True, slots=True)
class ImpliedVol:
    """Implied volatilities with a per-element reason code.

    Attributes
    ----------
    vol : ndarray of float64
        Implied volatility, decimal per year (0.20 is 20%); NaN where ``reason != OK``.
    reason : ndarray of int8
        :class:`~vixshield.pricing.reasons.Reason` code of each element (``OK`` is 0).
    """

    vol: FloatArray
    reason: npt.NDArray[np.int8]


# --------------------------------------------------------------------------------------------
# Normalised Black for the out-of-the-money call (x <= 0)
# --------------------------------------------------------------------------------------------


def _log_black_otm(x: FloatArray, s: FloatArray) -> tuple[FloatArray, FloatArray]:
    r"""Return :math:`(\ln b, b'/b)` for the normalised OTM call, :math:`x \le 0`, :math:`s > 0`.

    Uses the scaled complementary error function form (Jäckel 2015, eq. (2.10)), which neither
    underflows in the far wing nor loses more than :math:`O(\varepsilon/t)` relative accuracy
    near the money (harmless for the volatility: the error in :math:`s` stays
    :math:`O(\varepsilon)`).
    """
    h = x / s
    t = 0.5 * s
    e1 = special.erfcx(np.maximum(-(h + t) * _SQRT_HALF, _ERFCX_MIN_ARG))
    e2 = special.erfcx((t - h) * _SQRT_HALF)
    diff = e1 - e2
    with np.errstate(divide="ignore"):
        ln_b = np.log(0.5 * diff) - 0.5 * (h * h + t * t)
        b_prime_over_b = _SQRT_2_OVER_PI / diff
    return ln_b, b_prime_over_b


def _black_complement_otm(x: FloatArray, s: FloatArray, b_max: FloatArray) -> FloatArray:
    r"""Return :math:`b_{\max} - b = e^{x/2}\Phi(-h-t) + e^{-x/2}\Phi(h-t)` (no cancellation)."""
    h = x / s
    t = 0.5 * s
    complement: FloatArray = b_max * special.ndtr(-h - t) + special.ndtr(h - t) / b_max
    return complement


def _normalised_black_otm(
    x: FloatArray, s: FloatArray, b_max: FloatArray
) -> tuple[FloatArray, FloatArray]:
    r"""Return :math:`(b, b')` for the normalised OTM call by the plain formula (0 at ``s = 0``).

    :math:`b = e^{x/2}\Phi(h+t) - e^{-x/2}\Phi(h-t)`, :math:`b' = e^{-(h^2+t^2)/2}/\sqrt{2\pi}`.
    Used in the ``MID`` segment and the guess only, where it is backward stable for the
    volatility: its absolute error :math:`\approx \varepsilon e^{x/2}\Phi(h+t)` moves :math:`s`
    by :math:`\varepsilon\,\Phi(h+t)/\varphi(h+t) \lesssim 5\varepsilon` (``h + t`` is at
    most about 1.3 there), i.e. :math:`\sigma` by about :math:`10^{-15}/\sqrt{T}`, and it costs
    two ``ndtr`` calls instead of two ``erfcx`` calls.
    """
    with np.errstate(all="ignore"):
        h = x / s
        t = 0.5 * s
        b = b_max * special.ndtr(h + t) - special.ndtr(h - t) / b_max
        b_prime = _INV_SQRT_2PI * np.exp(-0.5 * (h * h + t * t))
        nonpositive = ~(s > 0.0)
        if nonpositive.any():
            b = np.where(nonpositive, 0.0, b)
            b_prime = np.where(nonpositive & (x == 0.0), _INV_SQRT_2PI, b_prime)
            b_prime = np.where(nonpositive & (x < 0.0), 0.0, b_prime)
    return b, b_prime


# --------------------------------------------------------------------------------------------
# Rational cubic interpolation (Delbourgo & Gregory 1985, as used by LBR)
# --------------------------------------------------------------------------------------------


def _rc_interpolate(
    xv: FloatArray,
    x_l: FloatArray,
    x_r: FloatArray,
    y_l: FloatArray,
    y_r: FloatArray,
    *,
    d_l: FloatArray,
    d_r: FloatArray,
    r: FloatArray,
) -> FloatArray:
    """Rational cubic through ``(x_l, y_l)``, ``(x_r, y_r)`` with slopes ``d_l``, ``d_r``."""
    with np.errstate(all="ignore"):
        h = x_r - x_l
        t = (xv - x_l) / h
        omt = 1.0 - t
        t2 = t * t
        omt2 = omt * omt
        cubic = (
            y_r * t2 * t
            + (r * y_r - h * d_r) * t2 * omt
            + (r * y_l + h * d_l) * t * omt2
            + y_l * omt2 * omt
        ) / (1.0 + (r - 3.0) * t * omt)
        linear = y_r * t + y_l * omt
        out = np.where(r >= _RC_MAX, linear, cubic)
        return np.where(np.abs(h) > 0.0, out, 0.5 * (y_l + y_r))


def _rc_minimum_parameter(
    d_l: FloatArray, d_r: FloatArray, slope: FloatArray, *, prefer_shape: bool
) -> FloatArray:
    """Smallest control parameter that keeps the interpolant monotone/convex (LBR's rule)."""
    tiny = np.finfo(np.float64).tiny
    monotonic = (d_l * slope >= 0.0) & (d_r * slope >= 0.0)
    convex = (d_l <= slope) & (slope <= d_r)
    concave = (d_l >= slope) & (slope >= d_r)
    with np.errstate(all="ignore"):
        s_zero = np.abs(slope) < tiny
        r1_value = np.where(s_zero, _RC_MAX if prefer_shape else -_DBL_MAX, (d_r + d_l) / slope)
        r1 = np.where(monotonic, r1_value, -_DBL_MAX)
        d_r_m_d_l = d_r - d_l
        d_r_m_s = d_r - slope
        s_m_d_l = slope - d_l
        degenerate = (np.abs(s_m_d_l) < tiny) | (np.abs(d_r_m_s) < tiny)
        r2_value = np.where(
            degenerate,
            _RC_MAX if prefer_shape else -_DBL_MAX,
            np.maximum(np.abs(d_r_m_d_l / d_r_m_s), np.abs(d_r_m_d_l / s_m_d_l)),
        )
    fallback = _RC_MAX if prefer_shape else -_DBL_MAX
    r2 = np.where(convex | concave, r2_value, np.where(monotonic, fallback, -_DBL_MAX))
    shaped = np.maximum(_RC_MIN, np.maximum(r1, r2))
    return np.where(monotonic | convex | concave, shaped, _RC_MIN)


def _rc_parameter(
    x_l: FloatArray,
    x_r: FloatArray,
    y_l: FloatArray,
    y_r: FloatArray,
    *,
    d_l: FloatArray,
    d_r: FloatArray,
    second_derivative: FloatArray,
    right_side: bool,
    prefer_shape: bool,
) -> FloatArray:
    """Control parameter matching the second derivative at one end, made shape-preserving."""
    tiny = np.finfo(np.float64).tiny
    with np.errstate(all="ignore"):
        h = x_r - x_l
        numerator = 0.5 * h * second_derivative + (d_r - d_l)
        secant = (y_r - y_l) / h
        denominator = d_r - secant if right_side else secant - d_l
        r = np.where(
            np.abs(denominator) < tiny,
            np.where(numerator > 0.0, _RC_MAX, _RC_MIN),
            numerator / denominator,
        )
    r = np.where(np.abs(numerator) < tiny, 0.0, r)
    return np.maximum(r, _rc_minimum_parameter(d_l, d_r, secant, prefer_shape=prefer_shape))


# --------------------------------------------------------------------------------------------
# Guess
# --------------------------------------------------------------------------------------------


def _guess(
    x: FloatArray, beta: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.int8], FloatArray, FloatArray]:
    """Jäckel's transformed rational guess: ``(s0, segment, s_left, s_right)``."""
    ax = -x
    b_max = np.exp(0.5 * x)
    s_c = np.sqrt(2.0 * ax)
    # At s_c: h = -t, so erfcx(-(h+t)/sqrt2) = 1 and (t-h)/sqrt2 = sqrt|x|: one erfcx, no log.
    b_c = 0.5 * b_max * (1.0 - special.erfcx(np.sqrt(ax)))
    v_c = _INV_SQRT_2PI * b_max
    below_c = beta < b_c
    lower_half = below_c.astype(np.float64)
    with np.errstate(all="ignore"):
        # s_l = s_c - b_c/v_c below b_c, s_h = s_c + (b_max - b_c)/v_c above it.
        s_2 = np.maximum(s_c + (b_max * (1.0 - lower_half) - b_c) / v_c, 0.0)
    b_2, v_2 = _normalised_black_otm(x, s_2, b_max)

    low = below_c & (beta < b_2)
    high = ~below_c & (beta > b_2)
    seg = np.full(beta.shape, _MID, dtype=np.int8)

    # Middle segments, computed for every element (cheaper than gathering the ~80% that are):
    # rational cubic s(beta) through (b_2, s_2) and (b_c, s_c) with slopes 1/b', its control
    # parameter fitting a zero second derivative at the far end (right end in the lower half,
    # left end in the upper half), floored by the shape-preserving minimum (LBR section 4).
    with np.errstate(all="ignore"):
        # b and s increase together, so the ends sort by min/max (cheaper than np.where).
        xl = np.minimum(b_2, b_c)
        xr = np.maximum(b_2, b_c)
        s_left = np.minimum(s_2, s_c)
        s_right = np.maximum(s_2, s_c)
        inv_v2 = 1.0 / v_2
        inv_vc = 1.0 / v_c
        # 0/1 blends instead of np.where (several times slower on random masks); the guess
        # does not need the last bit.
        dl = inv_vc + (inv_v2 - inv_vc) * lower_half
        dr = inv_v2 + (inv_vc - inv_v2) * lower_half
        span = xr - xl
        secant = (s_right - s_left) / span
        d_diff = dr - dl
        r = d_diff / ((dr - secant) * lower_half + (secant - dl) * (1.0 - lower_half))
        convex_or_concave = ((dl <= secant) & (secant <= dr)) | ((dl >= secant) & (secant >= dr))
        r_shape = (
            np.fmax(np.abs(d_diff / (dr - secant)), np.abs(d_diff / (secant - dl)))
            * convex_or_concave
            - _DBL_MAX * ~convex_or_concave
        )
        r = np.fmax(np.fmax(r, (dr + dl) / secant), np.fmax(r_shape, _RC_MIN))
        tt = (beta - xl) / span
        omt = 1.0 - tt
        cubic = (
            s_right * tt * tt * tt
            + (r * s_right - span * dr) * tt * tt * omt
            + (r * s_left + span * dl) * tt * omt * omt
            + s_left * omt * omt * omt
        ) / (1.0 + (r - 3.0) * tt * omt)
        s0 = cubic
        odd = ~np.isfinite(s0) | (r >= _RC_MAX)  # linear limit, or a degenerate interval
        if odd.any():
            linear = np.where(span > 0.0, s_left * omt + s_right * tt, 0.5 * (s_left + s_right))
            s0 = np.where(odd, linear, s0)

    if low.any():
        i = np.flatnonzero(low)
        xi, axi, bl, sl, bi = x[i], ax[i], b_2[i], s_2[i], beta[i]
        with np.errstate(all="ignore"):
            z = _SQRT_ONE_THIRD * axi / sl
            y = z * z
            s2 = sl * sl
            phi_cdf = special.ndtr(-z)
            phi_pdf = _INV_SQRT_2PI * np.exp(-0.5 * y)
            fpp = (
                _PI_OVER_SIX
                * y
                / (s2 * sl)
                * phi_cdf
                * (
                    8.0 * _SQRT_THREE * sl * axi
                    + (3.0 * s2 * (s2 - 8.0) - 8.0 * xi * xi) * phi_cdf / phi_pdf
                )
                * np.exp(2.0 * y + 0.25 * s2)
            )
            phi2 = phi_cdf * phi_cdf
            fp = _TWO_PI * y * phi2 * np.exp(y + 0.125 * s2)
            f_l = _TWO_PI_OVER_SQRT_27 * axi * (phi2 * phi_cdf)
            # Rational cubic f(beta) on [0, b_l] through (0, 0) and (b_l, f_l) with slopes 1 and
            # f', matching f'' at b_l (LBR's parameter, specialised: the data are monotone).
            secant = f_l / bl
            d_diff = fp - 1.0
            r = (0.5 * bl * fpp + d_diff) / (fp - secant)
            convex_or_concave = ((secant >= 1.0) & (secant <= fp)) | (
                (secant <= 1.0) & (secant >= fp)
            )
            r_shape = np.fmax(np.abs(d_diff / (fp - secant)), np.abs(d_diff / (secant - 1.0)))
            r_shape = np.where(convex_or_concave, r_shape, _RC_MAX)
            r = np.fmax(np.fmax(r, (fp + 1.0) / secant), np.fmax(r_shape, _RC_MIN))
            tt = bi / bl
            omt = 1.0 - tt
            f = (f_l * tt * tt * tt + (r * f_l - bl * fp) * tt * tt * omt + bl * tt * omt * omt) / (
                1.0 + (r - 3.0) * tt * omt
            )
            f = np.where(r >= _RC_MAX, f_l * tt, f)
            tt = bi / bl
            f = np.where(f > 0.0, f, (f_l * tt + bl * (1.0 - tt)) * tt)
            s0[i] = np.abs(
                xi
                / (
                    _SQRT_THREE
                    * special.ndtri(np.exp(np.log(f / (_TWO_PI_OVER_SQRT_27 * axi)) / 3.0))
                )
            )
        seg[i] = _LOW
        s_left[i] = 0.0
        s_right[i] = sl

    if high.any():
        i = np.flatnonzero(high)
        xi, sh, bh, bi, bm = x[i], s_2[i], b_2[i], beta[i], b_max[i]
        with np.errstate(all="ignore"):
            f_h = special.ndtr(-0.5 * sh)
            w = (xi / sh) ** 2
            fp = -0.5 * np.exp(0.5 * w)
            fpp = _SQRT_PI_OVER_TWO * np.exp(w + 0.125 * sh * sh) * w / sh
            zero = np.zeros_like(bh)
            half = np.full_like(bh, -0.5)
            r = _rc_parameter(
                bh,
                bm,
                f_h,
                zero,
                d_l=fp,
                d_r=half,
                second_derivative=fpp,
                right_side=False,
                prefer_shape=True,
            )
            f = _rc_interpolate(bi, bh, bm, f_h, zero, d_l=fp, d_r=half, r=r)
            span = bm - bh
            tt = (bi - bh) / span
            f = np.where(f > 0.0, f, (f_h * (1.0 - tt) + 0.5 * span * tt) * (1.0 - tt))
            s0[i] = -2.0 * special.ndtri(f)
        seg[i] = np.where(bi > 0.5 * bm, _HIGH, _MID).astype(np.int8)
        s_left[i] = sh
        s_right[i] = np.inf
    return s0, seg, s_left, s_right


# --------------------------------------------------------------------------------------------
# Householder iterations
# --------------------------------------------------------------------------------------------


def _householder(newton: FloatArray, halley: FloatArray, hh3: FloatArray) -> FloatArray:
    return newton * (1.0 + 0.5 * halley * newton) / (1.0 + newton * (halley + hh3 * newton / 6.0))


def _step(
    segment: int,
    x: FloatArray,
    s: FloatArray,
    beta: FloatArray,
    beta_bar: FloatArray,
    *,
    aux: FloatArray,
) -> tuple[FloatArray, BoolArray]:
    r"""One Householder(3) step on ``segment``'s objective: ``(ds, b(s) > beta)``.

    ``aux`` is :math:`\ln\beta` for ``LOW`` and :math:`b_{\max} = e^{x/2}` otherwise.
    """
    h = x / s
    b_halley = h * h / s - 0.25 * s  # b''/b'
    b_hh3 = b_halley * b_halley - 3.0 * (h / s) ** 2 - 0.25  # b'''/b'
    if segment == _HIGH:
        b_bar = _black_complement_otm(x, s, aux)
        b_prime = _INV_SQRT_2PI * np.exp(-0.5 * (h * h + 0.25 * s * s))
        gp = b_prime / b_bar
        newton = -np.log(beta_bar / b_bar) / gp
        halley = b_halley + gp
        hh3 = b_hh3 + gp * (2.0 * gp + 3.0 * b_halley)
        return _householder(newton, halley, hh3), b_bar < beta_bar
    if segment == _MID:
        b, b_prime = _normalised_black_otm(x, s, aux)
        return _householder((beta - b) / b_prime, b_halley, b_hh3), b > beta
    # _LOW: g = 1/ln b - 1/ln beta, evaluated in log form (no underflow in the far wing).
    ln_b, bpob = _log_black_otm(x, s)
    inv = 1.0 / ln_b
    ln_beta = aux
    newton = (ln_beta - ln_b) * ln_b / ln_beta / bpob
    halley = b_halley - bpob * (1.0 + 2.0 * inv)
    hh3 = (
        b_hh3
        + 2.0 * bpob * bpob * (1.0 + 3.0 * inv * (1.0 + inv))
        - 3.0 * b_halley * bpob * (1.0 + 2.0 * inv)
    )
    return _householder(newton, halley, hh3), ln_b > ln_beta


def _iterate(
    segment: int,
    x: FloatArray,
    beta: FloatArray,
    beta_bar: FloatArray,
    s: FloatArray,
    *,
    s_left: FloatArray,
    s_right: FloatArray,
    ln_beta: FloatArray | None,
) -> tuple[FloatArray, BoolArray]:
    """Iterate one segment's elements to convergence: ``(s, converged)``.

    Two plain steps for every element (LBR's budget: the guess is close enough for cubic
    convergence), then a bracketed loop for the few whose second step was not yet tiny.
    """
    with np.errstate(all="ignore"):
        if segment != _LOW:
            aux = np.exp(0.5 * x)
        elif ln_beta is None:
            aux = np.log(beta)
        else:
            aux = ln_beta
        ds, _ = _step(segment, x, s, beta, beta_bar, aux=aux)
        s = s + np.maximum(ds, -0.5 * s)
        ds, _ = _step(segment, x, s, beta, beta_bar, aux=aux)
        out = s + np.maximum(ds, -0.5 * s)
        converged = np.abs(ds) <= _STEP_TOLERANCE * s + _STEP_FLOOR
    work = np.flatnonzero(~converged)
    if work.size == 0:
        return out, converged
    x, beta, beta_bar, aux = x[work], beta[work], beta_bar[work], aux[work]
    s, s_left, s_right = out[work], s_left[work], s_right[work]
    # The guess's bracket still holds the root; an iterate outside it restarts by bisection.
    outside = ~((s > s_left) & (s < s_right))
    s = np.where(outside, _bisect(s_left, s_right), s)
    for _ in range(_MAX_ITERATIONS - 2):
        with np.errstate(all="ignore"):
            ds, above = _step(segment, x, s, beta, beta_bar, aux=aux)
            s_right = np.where(above & (s < s_right), s, s_right)
            s_left = np.where(~above & (s > s_left), s, s_left)
            ds = np.maximum(ds, -0.5 * s)
            s_new = s + ds
            small = np.abs(ds) <= _STEP_TOLERANCE * s + _STEP_FLOOR
            # A tiny step is accepted as is: at the root a bracket end may sit on s itself.
            outside = ~small & ~((s_new > s_left) & (s_new < s_right))
            s_new = np.where(outside, _bisect(s_left, s_right), s_new)
            done = small | (s_right - s_left <= 4.0 * _EPS * s)
        out[work] = s_new
        converged[work[done]] = True
        keep = np.flatnonzero(~done)
        if keep.size == 0:
            break
        work = work[keep]
        x, beta, beta_bar, aux = x[keep], beta[keep], beta_bar[keep], aux[keep]
        s, s_left, s_right = s_new[keep], s_left[keep], s_right[keep]
    return out, converged


def _bisect(s_left: FloatArray, s_right: FloatArray) -> FloatArray:
    """Midpoint of the bracket; doubling of the left end while the right end is still open."""
    with np.errstate(all="ignore"):
        return np.where(np.isfinite(s_right), 0.5 * (s_left + s_right), 2.0 * s_left)


def _normalised_implied_vol(
    x: FloatArray, beta: FloatArray, beta_bar: FloatArray, ln_beta: FloatArray | None = None
) -> tuple[FloatArray, BoolArray]:
    """Total vol of the OTM call; ``x <= 0``, ``beta > 0``, ``beta_bar = b_max - beta > 0``."""
    s0, seg, s_left, s_right = _guess(x, beta)
    s = np.empty_like(beta)
    ok = np.zeros(beta.shape, dtype=np.bool_)
    for segment in (_LOW, _MID, _HIGH):
        i = np.flatnonzero(seg == segment)
        if i.size == beta.size:  # one segment only: no gathers
            return _finish(
                *_iterate(
                    segment, x, beta, beta_bar, s0, s_left=s_left, s_right=s_right, ln_beta=ln_beta
                )
            )
        if i.size:
            s[i], ok[i] = _iterate(
                segment,
                x[i],
                beta[i],
                beta_bar[i],
                s0[i],
                s_left=s_left[i],
                s_right=s_right[i],
                ln_beta=None if ln_beta is None else ln_beta[i],
            )
    return _finish(s, ok)


def _finish(s: FloatArray, ok: BoolArray) -> tuple[FloatArray, BoolArray]:
    with np.errstate(invalid="ignore"):
        return s, ok & (s > 0.0) & (s < np.inf)


# --------------------------------------------------------------------------------------------
# Validation, reduction to normalised form, and the public API
# --------------------------------------------------------------------------------------------


def _reasons(
    p: FloatArray,
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    *,
    bad_right: BoolArray,
    below: BoolArray,
    above: BoolArray,
) -> npt.NDArray[np.int8]:
    """Reason codes of elements that failed the fast validity check, first match wins."""
    with np.errstate(invalid="ignore"):
        non_finite = ~(
            np.isfinite(p) & np.isfinite(f) & np.isfinite(k) & np.isfinite(t) & np.isfinite(r)
        )
        conditions = [
            non_finite,
            bad_right,
            f <= 0.0,
            k <= 0.0,
            t <= 0.0,
            p <= 0.0,
            below,
            above,
        ]
    codes = [
        Reason.NAN_INPUT,
        Reason.BAD_RIGHT,
        Reason.NONPOSITIVE_UNDERLYING,
        Reason.NONPOSITIVE_STRIKE,
        Reason.NONPOSITIVE_TIME,
        Reason.NONPOSITIVE_PRICE,
        Reason.BELOW_INTRINSIC,
        Reason.ABOVE_UPPER_BOUND,
    ]
    # Anything else that slipped the fast check (cannot happen) is reported, not solved.
    return np.select(conditions, [np.int8(c) for c in codes], np.int8(Reason.NAN_INPUT)).astype(
        np.int8
    )


def _black76_chunk_native(
    p: FloatArray,
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    *,
    call: BoolArray,
    bad_right: BoolArray,
    right: npt.NDArray[np.uint8],
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """:func:`_black76_chunk` in C: the kernel validates and solves, numpy names the reasons."""
    with np.errstate(all="ignore"):
        df = np.exp(-r * t)  # numpy's exp: the bounds are exactly those of the numpy path
    vol, status = _native.iv_black76(
        p,
        f,
        k,
        t,
        rate=r,
        discount=df,
        right=right,
        tolerance=_STEP_TOLERANCE,
        floor=_STEP_FLOOR,
        max_iterations=_MAX_ITERATIONS,
    )
    reason = np.zeros(p.shape, dtype=np.int8)
    if status.any():
        bad = np.flatnonzero(status == 1)
        if bad.size:
            pb, fb, kb, tb, rb, db, cb = p[bad], f[bad], k[bad], t[bad], r[bad], df[bad], call[bad]
            with np.errstate(all="ignore"):
                undiscounted = pb / db
                intrinsic = np.maximum((fb - kb) * (2.0 * cb - 1.0), 0.0)
                cap = np.where(cb, fb, kb)
                below = ~((undiscounted - intrinsic > 0.0) & (pb > db * intrinsic))
                above = ~((cap - undiscounted > 0.0) & (pb < db * cap))
            reason[bad] = _reasons(
                pb, fb, kb, tb, rb, bad_right=bad_right[bad], below=below, above=above
            )
        reason[status == 2] = Reason.NO_CONVERGENCE
    return vol, reason


def _black76_chunk(
    p: FloatArray,
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    *,
    call: BoolArray,
    bad_right: BoolArray,
    right: npt.NDArray[np.uint8],
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """Validate, reduce to normalised form and solve one chunk of flat arrays."""
    if _USE_NATIVE:
        return _black76_chunk_native(p, f, k, t, r, call=call, bad_right=bad_right, right=right)
    with np.errstate(all="ignore"):
        df = np.exp(-r * t)
        undiscounted = p / df
        intrinsic = np.maximum((f - k) * (2.0 * call - 1.0), 0.0)
        cap = np.where(call, f, k)
        time_value = undiscounted - intrinsic
        room = cap - undiscounted
        # Strictly inside: discounted price against the discounted bounds (what a caller
        # computes) and the undiscounted gaps the solver uses (they differ within an ulp).
        # NaN fails every comparison; an infinite rate or time fails the gaps, so only the
        # forward and strike need an explicit finiteness check on this fast path.
        ok = (
            (time_value > 0.0)
            & (room > 0.0)
            & (p > df * intrinsic)
            & (p < df * cap)
            & (p > 0.0)
            & (t > 0.0)
            & (f > 0.0)
            & (f < np.inf)
            & (k > 0.0)
            & (k < np.inf)
            & ~bad_right
        )
    reason = np.zeros(p.shape, dtype=np.int8)
    if ok.all():
        vol, converged = _black76_solve(p, f, k, t, r, time_value=time_value, room=room)
    else:
        vol = np.full(p.shape, np.nan)
        bad = np.flatnonzero(~ok)
        with np.errstate(invalid="ignore"):
            below = ~((time_value > 0.0) & (p > df * intrinsic))
            above = ~((room > 0.0) & (p < df * cap))
        reason[bad] = _reasons(
            p[bad],
            f[bad],
            k[bad],
            t[bad],
            r[bad],
            bad_right=bad_right[bad],
            below=below[bad],
            above=above[bad],
        )
        good = np.flatnonzero(ok)
        converged = np.ones(p.shape, dtype=np.bool_)
        if good.size:
            vol[good], converged[good] = _black76_solve(
                p[good],
                f[good],
                k[good],
                t[good],
                r[good],
                time_value=time_value[good],
                room=room[good],
            )
    if not converged.all():
        failed = ~converged
        vol[failed] = np.nan
        reason[failed] = Reason.NO_CONVERGENCE
    return vol, reason


def _black76_solve(
    p: FloatArray,
    f: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    *,
    time_value: FloatArray,
    room: FloatArray,
) -> tuple[FloatArray, BoolArray]:
    """Vol and convergence flag of valid elements (time value and room both positive)."""
    sqrt_fk = np.sqrt(f) * np.sqrt(k)
    x = -np.abs(np.log(f / k))
    beta = time_value / sqrt_fk
    ln_beta = None
    tiny = beta < _TINY_BETA
    if tiny.any():
        # Far-wing prices near or below the subnormal range lose bits in every product; the
        # LOW objective needs only ln(beta), so form it from the logs of the inputs instead.
        # (An option this far out has no intrinsic value: time value = undiscounted price.)
        with np.errstate(divide="ignore"):
            ln_beta = np.log(beta)
            i = np.flatnonzero(tiny)
            ln_beta[i] = np.log(p[i]) + r[i] * t[i] - np.log(sqrt_fk[i])
    s, converged = _normalised_implied_vol(x, beta, room / sqrt_fk, ln_beta)
    return s / np.sqrt(t), converged


def implied_vol_black76(
    price: npt.ArrayLike,
    forward: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    *,
    rate: npt.ArrayLike,
    is_call: npt.ArrayLike,
    threads: int | None = None,
) -> ImpliedVol:
    r"""Black-76 implied volatility of European options on a forward, element by element.

    Solves :math:`P = e^{-rT}\,[\theta F\Phi(\theta d_1) - \theta K\Phi(\theta d_2)]`,
    :math:`d_{1,2} = (\ln(F/K) \pm \sigma^2 T/2)/(\sigma\sqrt T)`, for :math:`\sigma`. All
    arguments broadcast together; calls and puts may be mixed. The algorithm and its accuracy
    are described in the module docstring.

    Parameters
    ----------
    price : array_like
        Discounted option premium (what the option costs today).
    forward : array_like
        Forward (futures) price of the underlying for the option's expiry.
    strike : array_like
        Strike price.
    t_years : array_like
        Time to expiry in years (see :mod:`vixshield.units`).
    rate : array_like
        Continuously compounded risk-free rate used to discount the premium.
    is_call : array_like of bool
        ``True`` for calls, ``False`` for puts. Non-boolean input must be 0 or 1.
    threads : int or None, default None
        Threads to split the work over, in chunks of 32,768 options (None: every core this
        process may use). Results do not depend on it: each chunk is solved the same way.

    Returns
    -------
    ImpliedVol
        ``vol`` (float64) and ``reason`` (int8) arrays of the broadcast shape. Invalid elements
        are NaN with a reason, in this order of precedence: ``NAN_INPUT`` (any input NaN or
        infinite), ``BAD_RIGHT``, ``NONPOSITIVE_UNDERLYING``, ``NONPOSITIVE_STRIKE``,
        ``NONPOSITIVE_TIME``, ``NONPOSITIVE_PRICE``, ``BELOW_INTRINSIC`` (undiscounted price at
        or below :math:`\max(\theta(F-K), 0)`), ``ABOVE_UPPER_BOUND`` (at or above :math:`F` for a
        call, :math:`K` for a put), ``NO_CONVERGENCE``. Never raises for bad elements.

    Raises
    ------
    InvalidInputError
        If ``is_call`` is not boolean or numeric (e.g. an array of ``"C"``/``"P"`` labels):
        a programming error for the whole call, not a bad element.

    Examples
    --------
    >>> iv = implied_vol_black76(2.0, 100.0, 100.0, 0.25, rate=0.0, is_call=True)
    >>> round(float(iv.vol), 6), int(iv.reason)
    (0.100276, 0)
    """
    p, f, k, t, r, right = np.broadcast_arrays(
        np.asarray(price, dtype=np.float64),
        np.asarray(forward, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t_years, dtype=np.float64),
        np.asarray(rate, dtype=np.float64),
        np.asarray(is_call),
    )
    shape = p.shape
    p, f, k, t, r = (a.ravel() for a in (p, f, k, t, r))
    right = right.ravel()
    if right.dtype == np.bool_:
        call = right
        bad_right = np.zeros(shape=call.shape, dtype=np.bool_)
        flags = call.view(np.uint8)
    else:
        if right.dtype.kind not in "iuf":
            raise InvalidInputError(
                f"is_call must be a bool (or 0/1 numeric) array; got dtype {right.dtype}. "
                "Pass e.g. rights == 'C' instead of the option-right labels."
            )
        with np.errstate(invalid="ignore"):
            right_f = right.astype(np.float64)
        call = right_f == 1.0
        bad_right = ~(call | (right_f == 0.0))
        flags = call.view(np.uint8) | (bad_right.view(np.uint8) << np.uint8(1))  # 2: bad

    vol = np.empty(p.shape)
    reason = np.empty(p.shape, dtype=np.int8)

    # Whole pipeline chunk by chunk: the temporaries stay in cache (about 1.4x faster).
    # Chunks write disjoint slices, so threads can share the outputs; numpy releases the GIL.
    def solve(starts: range) -> None:
        for start in starts:
            c = slice(start, start + _CHUNK)
            vol[c], reason[c] = _black76_chunk(
                p[c], f[c], k[c], t[c], r[c], call=call[c], bad_right=bad_right[c], right=flags[c]
            )

    n_chunks = -(-p.size // _CHUNK)
    if threads is not None and threads < 1:
        raise InvalidInputError(f"threads must be >= 1 or None (all cores), got {threads!r}")
    workers = max(1, min(threads or _threads.default_threads(), n_chunks))
    if workers == 1:
        solve(range(0, p.size, _CHUNK))
    else:
        groups = [range(i * _CHUNK, p.size, workers * _CHUNK) for i in range(workers)]
        for future in [_threads.pool(workers).submit(solve, g) for g in groups]:
            future.result()
    return ImpliedVol(vol=vol.reshape(shape), reason=reason.reshape(shape))


def implied_vol_bsm(
    price: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    *,
    rate: npt.ArrayLike,
    div_yield: npt.ArrayLike = 0.0,
    is_call: npt.ArrayLike,
    threads: int | None = None,
) -> ImpliedVol:
    r"""Black-Scholes-Merton implied volatility (continuous dividend yield), element by element.

    Reduces to :func:`implied_vol_black76` on the forward :math:`F = S e^{(r-q)T}` with the same
    discount factor :math:`e^{-rT}`; see there for the result and the reason codes (a spot
    :math:`\le 0` gives ``NONPOSITIVE_UNDERLYING``).

    Parameters
    ----------
    price : array_like
        Option premium.
    spot : array_like
        Spot price of the underlying.
    strike : array_like
        Strike price.
    t_years : array_like
        Time to expiry in years.
    rate : array_like
        Continuously compounded risk-free rate.
    div_yield : array_like, default 0.0
        Continuously compounded dividend yield :math:`q`.
    is_call : array_like of bool
        ``True`` for calls, ``False`` for puts.
    threads : int or None, default None
        As :func:`implied_vol_black76`.

    Returns
    -------
    ImpliedVol
        As :func:`implied_vol_black76`.

    Examples
    --------
    Hull (9th ed., section 15.11): a European call with :math:`S_0 = 21`, :math:`K = 20`,
    :math:`r = 0.1`, :math:`T = 0.25` worth 1.875 has an implied volatility of about 23.5%:

    >>> iv = implied_vol_bsm(1.875, 21.0, 20.0, 0.25, rate=0.1, is_call=True)
    >>> round(float(iv.vol), 3)
    0.235
    """
    s_arr = np.asarray(spot, dtype=np.float64)
    t_arr = np.asarray(t_years, dtype=np.float64)
    r_arr = np.asarray(rate, dtype=np.float64)
    q_arr = np.asarray(div_yield, dtype=np.float64)
    with np.errstate(all="ignore"):
        forward = s_arr * np.exp((r_arr - q_arr) * t_arr)
        # exp(...) of a NaN or infinite carry already reaches forward; a finite spot must too
        forward = np.where(np.isfinite(q_arr), forward, np.nan)
    return implied_vol_black76(
        price, forward, strike, t_arr, rate=r_arr, is_call=is_call, threads=threads
    )
