/*
 * VixShield native pricing kernel: Black-Scholes-Merton (continuous dividend yield) and
 * Black-76 prices with all Greeks over float64 arrays, and the Black-76 implied-volatility
 * solver of pricing/iv.py (vxs_iv_black76, in its own section at the end of this file).
 *
 * Plain C, no Python C-API: loaded with ctypes by vixshield/pricing/_native.py, which owns
 * broadcasting, threading and the choice of path. The specification is the docstring of
 * vixshield/pricing/black.py (the numpy kernel): the same steps in the same order, so the two
 * differ only by the rounding of exp, log and the normal CDF. In short, with w = +1 (call) or
 * -1 (put) and N(x) = erfc(-x/sqrt 2)/2 (accurate in both tails):
 *
 *   d1 = (ln(U/K) + (r - q) T) / (sigma sqrt T) + sigma sqrt T / 2,  d2 = d1 - sigma sqrt T
 *   a = U e^{-qT} N(w d1),  b = K e^{-rT} N(w d2),  price = max(w (a - b), 0)
 *   delta = w e^{-qT} N(w d1)          gamma = e^{-qT} n(d1) / (U sigma sqrt T)
 *   vega  = U e^{-qT} n(d1) sqrt T     theta = w (q a - r b) - vega sigma / (2T)
 *   rho   = w T b                      vanna = -e^{-qT} n(d1) d2 / sigma
 *   volga = vega d1 d2 / sigma
 * reported per vol point (/100), per calendar day (/365), per 1% (/100), per vol point^2 (/1e4).
 * Black-76 (model = VXS_BLACK76): U = F, q = r (the r - q carry term is dropped), theta's
 * carry is r * price and rho = -T price (F held). The model flag switches these three terms
 * inside the kernel, so Black-76 costs one exp less and needs no second pass.
 * Sources: Hull, Options, Futures and Other Derivatives, 7th ed., 13.8, 16.8, ch. 17; Haug,
 * The Complete Guide to Option Pricing Formulas, 2nd ed., 1.1 and 2.3.
 *
 * Two paths compute these formulas:
 *   - scalar: libm exp, log, erfc, one element at a time; runs on any CPU.
 *   - AVX2+FMA: four lanes at a time with glibc's libmvec vector exp, log and erfc
 *     (_ZGVdN4v_*, documented max error 4 ulp). The wrapper looks these up in libmvec.so.1
 *     and hands the pointers over with vxs_set_vector_math(), so this library has no link
 *     dependency on libmvec and still loads where it is missing (musl, old glibc, aarch64).
 *     The path runs only if the CPU reports AVX2 and FMA (__builtin_cpu_supports); the code
 *     is compiled with target attributes, so the rest of the library needs no -mavx2.
 *     The remainder n % 4 is padded into one more vector block instead of a scalar tail, so
 *     every element goes through the same code whatever the array length, its offset or the
 *     chunking into threads: threaded results equal single-threaded ones bit for bit.
 *   Define VXS_NO_SIMD to build the scalar path only (non-x86-64 builds get it anyway).
 *
 * Invalid elements get NaN in every output and a reason code (pricing/reasons.py), checked
 * in this order: 1 NaN/inf input, 2 U <= 0, 3 K <= 0, 4 T <= 0, 5 sigma <= 0,
 * 10 is_call byte other than 0 or 1. Built without -ffast-math so the NaN/inf tests keep
 * their IEEE meaning (-fno-math-errno only lets sqrt inline).
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(VXS_NO_SIMD)
#define VXS_X86_SIMD 1
#include <immintrin.h>
#else
#define VXS_X86_SIMD 0
#endif

#if defined(_WIN32)
#define VXS_EXPORT __declspec(dllexport)
#else
#define VXS_EXPORT __attribute__((visibility("default")))
#endif

#define VXS_ABI_VERSION 1

#define VXS_BSM 0
#define VXS_BLACK76 1

#define VXS_PATH_AUTO 0
#define VXS_PATH_SCALAR 1
#define VXS_PATH_AVX2 2

#define VXS_OK 0
#define VXS_ERR_MODEL (-1)
#define VXS_ERR_PATH (-2)
#define VXS_ERR_AVX2_UNAVAILABLE (-3)
#define VXS_ERR_STRIDE (-4)

enum {
    R_OK = 0,
    R_NAN_INPUT = 1,
    R_NONPOSITIVE_UNDERLYING = 2,
    R_NONPOSITIVE_STRIKE = 3,
    R_NONPOSITIVE_TIME = 4,
    R_NONPOSITIVE_VOL = 5,
    R_BAD_RIGHT = 10,
};

static const double INV_SQRT_2PI = 0.39894228040143267793994605993438;
static const double MSQRT1_2 = -0.70710678118654752440084436210485; /* N(x) = erfc(-x/sqrt2)/2 */
static const double PER_DAY = 1.0 / 365.0;

/* Inputs and outputs of one call. Input strides are in elements and are 0 (one value
 * broadcast to every element) or 1 (contiguous). */
typedef struct {
    const double *S, *K, *T, *V, *R, *Q;
    const uint8_t *C;
    int64_t sS, sK, sT, sV, sR, sQ, sC;
    double *price, *delta, *gamma, *vega, *theta, *rho, *vanna, *volga;
    int8_t *reason;
    int model;
} vxs_args;

/* ------------------------------------------------------------------------------------------
 * Scalar path
 * ---------------------------------------------------------------------------------------- */

static int8_t reason_of(double S, double K, double t, double v, double r, double q, uint8_t c) {
    if (!(isfinite(S) && isfinite(K) && isfinite(t) && isfinite(v) && isfinite(r) &&
          isfinite(q)))
        return R_NAN_INPUT;
    if (S <= 0.0) return R_NONPOSITIVE_UNDERLYING;
    if (K <= 0.0) return R_NONPOSITIVE_STRIKE;
    if (t <= 0.0) return R_NONPOSITIVE_TIME;
    if (v <= 0.0) return R_NONPOSITIVE_VOL;
    if (c > 1) return R_BAD_RIGHT;
    return R_OK;
}

static void run_scalar(const vxs_args *a, int64_t lo, int64_t hi) {
    const int b76 = a->model == VXS_BLACK76;
    for (int64_t i = lo; i < hi; ++i) {
        const double U = a->S[i * a->sS], K = a->K[i * a->sK], T = a->T[i * a->sT];
        const double v = a->V[i * a->sV], r = a->R[i * a->sR], q = a->Q[i * a->sQ];
        const uint8_t c = a->C[i * a->sC];
        const int8_t why = reason_of(U, K, T, v, r, q, c);
        a->reason[i] = why;
        if (why != R_OK) {
            a->price[i] = a->delta[i] = a->gamma[i] = a->vega[i] = NAN;
            a->theta[i] = a->rho[i] = a->vanna[i] = a->volga[i] = NAN;
            continue;
        }
        const double w = c ? 1.0 : -1.0;
        /* The steps and their order follow pricing/black.py's _kernel. */
        const double sqrt_t = sqrt(T);
        const double sst = v * sqrt_t;
        const double log_fk = b76 ? log(U / K) : log(U / K) + (r - q) * T;
        const double d1 = log_fk / sst + 0.5 * sst;
        const double d2 = d1 - sst;
        const double dfk = exp(-r * T);
        const double dfu = b76 ? dfk : exp(-q * T);
        const double fd = U * dfu;
        const double kd = K * dfk;
        const double nd1 = 0.5 * erfc(w * d1 * MSQRT1_2);
        const double ea = fd * nd1;
        const double eb = kd * (0.5 * erfc(w * d2 * MSQRT1_2));
        const double p = (ea - eb) * w;
        const double price = p < 0.0 ? 0.0 : p; /* like np.maximum: NaN stays NaN */
        const double pdf = exp(-0.5 * (d1 * d1)) * INV_SQRT_2PI;
        const double vega = pdf * fd * sqrt_t;
        const double decay = vega * (v / (2.0 * T));
        const double pdf_u = pdf * dfu;
        a->price[i] = price;
        a->delta[i] = nd1 * dfu * w;
        a->gamma[i] = pdf_u / (U * sst);
        a->vega[i] = vega * 0.01;
        a->theta[i] = (b76 ? price * r - decay : (ea * q - eb * r) * w - decay) * PER_DAY;
        a->rho[i] = b76 ? price * (-0.01 * T) : eb * w * (0.01 * T);
        a->vanna[i] = pdf_u * d2 / v * -0.01;
        a->volga[i] = d1 * d2 * vega / v * 1e-4;
    }
}

/* ------------------------------------------------------------------------------------------
 * AVX2 + FMA path with libmvec
 * ---------------------------------------------------------------------------------------- */

static void *g_vexp = NULL, *g_vlog = NULL, *g_verfc = NULL;

#if VXS_X86_SIMD
#define VXS_AVX2 __attribute__((target("avx2,fma")))

typedef __m256d (*vxs_vfn)(__m256d);

static VXS_AVX2 inline __m256d ld(const double *p, int64_t stride, int64_t i) {
    return stride ? _mm256_loadu_pd(p + i) : _mm256_broadcast_sd(p);
}

/* Four lanes starting at element i of a. Only a->reason and the eight outputs are written. */
static VXS_AVX2 inline void block4(const vxs_args *a, int64_t i, vxs_vfn vexp, vxs_vfn vlog,
                                    vxs_vfn verfc) {
    const __m256d U = ld(a->S, a->sS, i), K = ld(a->K, a->sK, i), T = ld(a->T, a->sT, i);
    const __m256d v = ld(a->V, a->sV, i), r = ld(a->R, a->sR, i), q = ld(a->Q, a->sQ, i);
    const int b76 = a->model == VXS_BLACK76;
    uint32_t c4;
    if (a->sC) {
        memcpy(&c4, a->C + i, 4);
    } else {
        c4 = 0x01010101u * a->C[0];
    }
    const __m256i c64 = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128((int)c4));
    const __m256d is_call = _mm256_castsi256_pd(_mm256_cmpeq_epi64(c64, _mm256_set1_epi64x(1)));
    const __m256d zero = _mm256_setzero_pd(), half = _mm256_set1_pd(0.5);
    const __m256d w = _mm256_blendv_pd(_mm256_set1_pd(-1.0), _mm256_set1_pd(1.0), is_call);

    /* Validity; the reason codes are resolved lane by lane only when some lane is bad. */
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256d big = _mm256_set1_pd(DBL_MAX);
#define FIN(x) _mm256_cmp_pd(_mm256_and_pd((x), absmask), big, _CMP_LE_OQ)
    const __m256d fin = _mm256_and_pd(_mm256_and_pd(_mm256_and_pd(FIN(U), FIN(K)), FIN(T)),
                                      _mm256_and_pd(_mm256_and_pd(FIN(v), FIN(r)), FIN(q)));
#undef FIN
    const __m256d b2 = _mm256_cmp_pd(U, zero, _CMP_LE_OQ);
    const __m256d b3 = _mm256_cmp_pd(K, zero, _CMP_LE_OQ);
    const __m256d b4 = _mm256_cmp_pd(T, zero, _CMP_LE_OQ);
    const __m256d b5 = _mm256_cmp_pd(v, zero, _CMP_LE_OQ);
    const __m256d b10 = _mm256_castsi256_pd(_mm256_cmpgt_epi64(c64, _mm256_set1_epi64x(1)));
    const __m256d bad = _mm256_or_pd(
        _mm256_or_pd(_mm256_xor_pd(fin, _mm256_castsi256_pd(_mm256_set1_epi64x(-1))), b10),
        _mm256_or_pd(_mm256_or_pd(b2, b3), _mm256_or_pd(b4, b5)));
    if (_mm256_movemask_pd(bad) == 0) {
        memset(a->reason + i, 0, 4);
    } else {
        const int m1 = ~_mm256_movemask_pd(fin) & 0xf, m2 = _mm256_movemask_pd(b2);
        const int m3 = _mm256_movemask_pd(b3), m4 = _mm256_movemask_pd(b4);
        const int m5 = _mm256_movemask_pd(b5), m10 = _mm256_movemask_pd(b10);
        for (int l = 0; l < 4; ++l) {
            const int b = 1 << l;
            a->reason[i + l] = (int8_t)((m1 & b)    ? R_NAN_INPUT
                                        : (m2 & b)  ? R_NONPOSITIVE_UNDERLYING
                                        : (m3 & b)  ? R_NONPOSITIVE_STRIKE
                                        : (m4 & b)  ? R_NONPOSITIVE_TIME
                                        : (m5 & b)  ? R_NONPOSITIVE_VOL
                                        : (m10 & b) ? R_BAD_RIGHT
                                                    : R_OK);
        }
    }

    /* The steps and their order follow pricing/black.py's _kernel (see run_scalar). */
    const __m256d sqrt_t = _mm256_sqrt_pd(T);
    const __m256d sst = _mm256_mul_pd(v, sqrt_t);
    const __m256d lnUK = vlog(_mm256_div_pd(U, K));
    const __m256d log_fk = b76 ? lnUK : _mm256_add_pd(lnUK, _mm256_mul_pd(_mm256_sub_pd(r, q), T));
    const __m256d d1 = _mm256_add_pd(_mm256_div_pd(log_fk, sst), _mm256_mul_pd(half, sst));
    const __m256d d2 = _mm256_sub_pd(d1, sst);
    const __m256d dfk = vexp(_mm256_mul_pd(_mm256_sub_pd(zero, r), T));
    const __m256d dfu = b76 ? dfk : vexp(_mm256_mul_pd(_mm256_sub_pd(zero, q), T));
    const __m256d fd = _mm256_mul_pd(U, dfu);
    const __m256d kd = _mm256_mul_pd(K, dfk);
    const __m256d m = _mm256_set1_pd(MSQRT1_2);
    const __m256d nd1 = _mm256_mul_pd(half, verfc(_mm256_mul_pd(_mm256_mul_pd(w, d1), m)));
    const __m256d nd2 = _mm256_mul_pd(half, verfc(_mm256_mul_pd(_mm256_mul_pd(w, d2), m)));
    const __m256d ea = _mm256_mul_pd(fd, nd1);
    const __m256d eb = _mm256_mul_pd(kd, nd2);
    /* max(0, p) returns p when p is NaN, as np.maximum does */
    const __m256d price = _mm256_max_pd(zero, _mm256_mul_pd(_mm256_sub_pd(ea, eb), w));
    const __m256d pdf = _mm256_mul_pd(vexp(_mm256_mul_pd(_mm256_set1_pd(-0.5), _mm256_mul_pd(d1, d1))),
                                      _mm256_set1_pd(INV_SQRT_2PI));
    const __m256d vega = _mm256_mul_pd(_mm256_mul_pd(pdf, fd), sqrt_t);
    const __m256d decay =
        _mm256_mul_pd(vega, _mm256_div_pd(v, _mm256_mul_pd(_mm256_set1_pd(2.0), T)));
    const __m256d pdf_u = _mm256_mul_pd(pdf, dfu);
    const __m256d delta = _mm256_mul_pd(_mm256_mul_pd(nd1, dfu), w);
    const __m256d gamma = _mm256_div_pd(pdf_u, _mm256_mul_pd(U, sst));
    const __m256d carry =
        b76 ? _mm256_mul_pd(price, r)
            : _mm256_mul_pd(_mm256_sub_pd(_mm256_mul_pd(ea, q), _mm256_mul_pd(eb, r)), w);
    const __m256d theta = _mm256_mul_pd(_mm256_sub_pd(carry, decay), _mm256_set1_pd(PER_DAY));
    const __m256d rho =
        b76 ? _mm256_mul_pd(price, _mm256_mul_pd(_mm256_set1_pd(-0.01), T))
            : _mm256_mul_pd(_mm256_mul_pd(eb, w), _mm256_mul_pd(_mm256_set1_pd(0.01), T));
    const __m256d vanna =
        _mm256_mul_pd(_mm256_div_pd(_mm256_mul_pd(pdf_u, d2), v), _mm256_set1_pd(-0.01));
    const __m256d volga = _mm256_mul_pd(
        _mm256_div_pd(_mm256_mul_pd(_mm256_mul_pd(d1, d2), vega), v), _mm256_set1_pd(1e-4));
    const __m256d nan = _mm256_set1_pd(NAN);
#define PUT(dst, x) _mm256_storeu_pd((dst) + i, _mm256_blendv_pd((x), nan, bad))
    PUT(a->price, price);
    PUT(a->delta, delta);
    PUT(a->gamma, gamma);
    PUT(a->vega, _mm256_mul_pd(vega, _mm256_set1_pd(0.01)));
    PUT(a->theta, theta);
    PUT(a->rho, rho);
    PUT(a->vanna, vanna);
    PUT(a->volga, volga);
#undef PUT
}

static VXS_AVX2 void run_avx2(const vxs_args *a, int64_t lo, int64_t hi) {
    vxs_vfn vexp, vlog, verfc; /* memcpy: ISO C has no object-to-function pointer cast */
    memcpy(&vexp, &g_vexp, sizeof vexp);
    memcpy(&vlog, &g_vlog, sizeof vlog);
    memcpy(&verfc, &g_verfc, sizeof verfc);
    int64_t i = lo;
    for (; i + 4 <= hi; i += 4) block4(a, i, vexp, vlog, verfc);
    const int64_t rest = hi - i;
    if (rest == 0) return;
    /* Pad the last 1-3 elements to a full vector (the pad lanes hold a valid dummy option)
     * so they take the same code as every other element. */
    double S[4] = {1, 1, 1, 1}, K[4] = {1, 1, 1, 1}, T[4] = {1, 1, 1, 1}, V[4] = {1, 1, 1, 1};
    double R[4] = {0, 0, 0, 0}, Q[4] = {0, 0, 0, 0};
    uint8_t C[4] = {1, 1, 1, 1};
    double o[8][4];
    int8_t why[4];
    for (int64_t l = 0; l < rest; ++l) {
        const int64_t j = i + l;
        S[l] = a->S[j * a->sS];
        K[l] = a->K[j * a->sK];
        T[l] = a->T[j * a->sT];
        V[l] = a->V[j * a->sV];
        R[l] = a->R[j * a->sR];
        Q[l] = a->Q[j * a->sQ];
        C[l] = a->C[j * a->sC];
    }
    vxs_args t = {S, K, T, V, R, Q, C, 1, 1, 1, 1, 1, 1, 1,
                  o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], why, a->model};
    block4(&t, 0, vexp, vlog, verfc);
    for (int64_t l = 0; l < rest; ++l) {
        const int64_t j = i + l;
        a->price[j] = o[0][l];
        a->delta[j] = o[1][l];
        a->gamma[j] = o[2][l];
        a->vega[j] = o[3][l];
        a->theta[j] = o[4][l];
        a->rho[j] = o[5][l];
        a->vanna[j] = o[6][l];
        a->volga[j] = o[7][l];
        a->reason[j] = why[l];
    }
}
#endif /* VXS_X86_SIMD */

/* ------------------------------------------------------------------------------------------
 * Exported API
 * ---------------------------------------------------------------------------------------- */

VXS_EXPORT int vxs_abi_version(void) { return VXS_ABI_VERSION; }

/* 1 when the CPU has AVX2 and FMA (independent of whether libmvec was handed over). */
VXS_EXPORT int vxs_cpu_has_avx2_fma(void) {
#if VXS_X86_SIMD
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* Hand over libmvec's _ZGVdN4v_exp, _ZGVdN4v_log and _ZGVdN4v_erfc (NULLs switch the vector
 * path off). Call once, before any vxs_greeks call; not synchronised with running calls. */
VXS_EXPORT int vxs_set_vector_math(void *vexp, void *vlog, void *verfc) {
    g_vexp = vexp;
    g_vlog = vlog;
    g_verfc = verfc;
    return VXS_OK;
}

/* 1 when vxs_greeks with VXS_PATH_AUTO takes the AVX2 path. */
VXS_EXPORT int vxs_avx2_active(void) {
    return vxs_cpu_has_avx2_fma() && g_vexp != NULL && g_vlog != NULL && g_verfc != NULL;
}

/* Price and Greeks of elements [0, n). Strides are 0 (broadcast one value) or 1.
 * model: 0 BSM, 1 Black-76 (Q ignored, q = r; rho with F fixed).
 * path: 0 auto, 1 scalar, 2 AVX2 (error when unavailable). Returns 0 or a negative error. */
VXS_EXPORT int vxs_greeks(int64_t n, int model, int path, const double *S, int64_t sS,
                          const double *K, int64_t sK, const double *T, int64_t sT,
                          const double *V, int64_t sV, const double *R, int64_t sR,
                          const double *Q, int64_t sQ, const uint8_t *C, int64_t sC,
                          double *price, double *delta, double *gamma, double *vega,
                          double *theta, double *rho, double *vanna, double *volga,
                          int8_t *reason) {
    if (model != VXS_BSM && model != VXS_BLACK76) return VXS_ERR_MODEL;
    if (model == VXS_BLACK76) {
        Q = R;
        sQ = sR;
    }
    const int64_t strides[7] = {sS, sK, sT, sV, sR, sQ, sC};
    for (int k = 0; k < 7; ++k)
        if (strides[k] != 0 && strides[k] != 1) return VXS_ERR_STRIDE;
    const vxs_args a = {S,     K,     T,     V,     R,     Q,     C,     sS,    sK,
                        sT,    sV,    sR,    sQ,    sC,    price, delta, gamma, vega,
                        theta, rho,   vanna, volga, reason, model};
    if (n <= 0) return VXS_OK;
    switch (path) {
        case VXS_PATH_AUTO:
#if VXS_X86_SIMD
            if (vxs_avx2_active()) {
                run_avx2(&a, 0, n);
                return VXS_OK;
            }
#endif
            run_scalar(&a, 0, n);
            return VXS_OK;
        case VXS_PATH_SCALAR:
            run_scalar(&a, 0, n);
            return VXS_OK;
        case VXS_PATH_AVX2:
#if VXS_X86_SIMD
            if (vxs_avx2_active()) {
                run_avx2(&a, 0, n);
                return VXS_OK;
            }
#endif
            return VXS_ERR_AVX2_UNAVAILABLE;
        default:
            return VXS_ERR_PATH;
    }
}

/* ------------------------------------------------------------------------------------------
 * Implied volatility (Black-76): the solver of pricing/iv.py in C
 *
 * The specification is the module docstring of vixshield/pricing/iv.py ("Algorithm (what the
 * C transcription reproduces)"): Jaeckel's rational guess, then third-order Householder steps on
 * the LOW/MID/HIGH objectives, two plain steps and a bracketed loop, the same stopping rule.
 * It is that numpy code transcribed element by element (same formulas in the same order,
 * np.maximum/np.fmax NaN semantics kept), so the two differ only by the rounding of exp, log
 * and the special functions (a few 1e-16 in the vol; far below the 1e-10 requirement). The
 * fast validity check is iv.py's too, with the caller's discount factor, so both paths accept
 * exactly the same prices; the caller names the reason of a rejected element, and passes the
 * stopping rule (its constants).
 * Special functions:
 *   Phi(z)   = erfc(-z/sqrt2)/2, as scipy's ndtr (the same rounding of the argument);
 *   erfcx(z) = exp(z^2) erfc(z) with z^2 split exactly (hi + lo, fma) below z = 26, where
 *              erfc is still a normal number, and the asymptotic series (error < 1e-18) above;
 *   Phi^-1   = Abramowitz-Stegun 26.2.23 (|error| < 4.5e-4) and two Halley steps on Phi
 *              (cubic convergence: below the rounding of Phi); used by the guess only.
 * Paths: with AVX2 and libmvec (as vxs_greeks) each block of IV_BLOCK elements runs stage by
 * stage, like the numpy code: the special functions of a stage evaluated four lanes at a time
 * over the (compacted) elements that need them, padded, so that an element's result does not
 * depend on its neighbours or position; the arithmetic between them in element loops of the
 * same inline functions as the scalar path, branch-free so that GCC vectorises them. Only the
 * rare HIGH refinement of the guess runs scalar. Without AVX2/libmvec every element runs the
 * scalar path (libm), the same functions in the same order.
 * ---------------------------------------------------------------------------------------- */

/* No FP trap is ever enabled here, so let GCC if-convert the element loops (selects instead of
 * branches: the loops vectorise). This changes no result: rounding, NaN and inf semantics are
 * untouched (unlike -ffast-math). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
/* The stage arrays are filled for the first n (or m) elements by one loop and read back by
 * iv_vmap over exactly those; GCC cannot see that and warns. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define IV_LOW 0
#define IV_MID 1
#define IV_HIGH 2
#define IV_BLOCK 256

static const double IV_SQRT_HALF = 0.70710678118654752440084436210485;
static const double IV_SQRT_2_OVER_PI = 0.79788456080286535587989211986876;
static const double IV_SQRT_THREE = 1.7320508075688772935274463415059;
static const double IV_SQRT_ONE_THIRD = 0.57735026918962576450914878050196;
static const double IV_TWO_PI = 6.2831853071795864769252867665590;
static const double IV_SQRT_2PI = 2.5066282746310005024157652848110;
static const double IV_TWO_PI_OVER_SQRT_27 = 1.2091995761561452337293855050948;
static const double IV_PI_OVER_SIX = 0.52359877559829887307710723054658;
static const double IV_SQRT_PI_OVER_TWO = 1.2533141373155002512078826424055;
static const double IV_INV_SQRT_PI = 0.56418958354775628694807945156077;
static const double IV_ERFCX_MIN_ARG = -26.0;
static const double IV_ERFCX_SERIES = 26.0; /* erfcx by the asymptotic series from here on */
static const double IV_TINY_BETA = 1e-280;
/* The stopping rule, from the caller (iv.py's _STEP_TOLERANCE, _STEP_FLOOR, _MAX_ITERATIONS):
 * converged when |ds| <= tolerance * s + floor; at most max_iterations steps. */
typedef struct {
    double tolerance, floor;
    int max_iterations;
} iv_rule;
/* LBR's bounds on the rational-cubic parameter: -(1 - sqrt(eps)) and 2 / eps^2 */
#define IV_RC_MIN (-(1.0 - 1.4901161193847656e-08))
#define IV_RC_MAX (2.0 / (DBL_EPSILON * DBL_EPSILON))

/* np.maximum / np.minimum: NaN in either argument gives NaN; np.fmax: NaN is ignored (libm
 * fmax is a function call without -ffast-math) */
static inline double np_max(double a, double b) { return a > b ? a : (a != a ? a : b); }

static inline double np_min(double a, double b) { return a < b ? a : (a != a ? a : b); }

static inline double np_fmax(double a, double b) { return a > b ? a : (b != b ? a : b); }

static inline double iv_ndtr(double z) { return 0.5 * erfc(-(z * IV_SQRT_HALF)); }

/* erfcx(z) from e_sq = exp(z*z) and erfc_z = erfc(z) (both unused from z = 26 on) */
static inline double iv_erfcx_post(double z, double e_sq, double erfc_z) {
    const double hi = z * z, lo = fma(z, z, -hi); /* z^2 = hi + lo exactly */
    const double direct = e_sq * erfc_z * (1.0 + lo);
    const double w = 0.5 / hi;
    const double series =
        1.0 -
        w * (1.0 -
             3.0 * w *
                 (1.0 - 5.0 * w *
                            (1.0 - 7.0 * w *
                                       (1.0 - 9.0 * w *
                                                  (1.0 - 11.0 * w * (1.0 - 13.0 * w))))));
    const double asymptotic = IV_INV_SQRT_PI / z * series;
    /* +inf -> 0; NaN -> NaN (via the series) */
    return z < IV_ERFCX_SERIES ? direct : (z == INFINITY ? 0.0 : asymptotic);
}

static inline double iv_erfcx(double z) {
    return z < IV_ERFCX_SERIES ? iv_erfcx_post(z, exp(z * z), erfc(z)) : iv_erfcx_post(z, 0, 0);
}

/* Phi^-1 in stages (the batched path evaluates log, erfc and exp over a block between them):
 * iv_ndtri_q: the tail probability q <= 1/2 (0.25 where p is not in (0, 1));
 * iv_ndtri_start: the starting point from log(q); iv_ndtri_halley: one Halley step on
 * Phi(y) = q from erfc(-y/sqrt2) and exp(y^2/2); iv_ndtri_end: the sign, and the limits. */
static inline double iv_ndtri_q(double p) {
    const double q = p > 0.5 ? 1.0 - p : p; /* the guess asks only below 1/2: no loss there */
    return (p > 0.0 ? 1.0 : 0.0) * (p < 1.0 ? 1.0 : 0.0) > 0.0 ? q : 0.25;
}

static inline double iv_ndtri_start(double log_q) {
    const double t = sqrt(-2.0 * log_q);
    return -(t - (2.515517 + t * (0.802853 + t * 0.010328)) /
                     (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))));
}

static inline void iv_ndtri_halley_pre(double y, double *a_erfc, double *a_exp) {
    *a_erfc = -(y * IV_SQRT_HALF);
    *a_exp = 0.5 * y * y;
}

static inline double iv_ndtri_halley(double y, double q, double erfc_v, double exp_v) {
    const double e = 0.5 * erfc_v - q;
    const double u = e * IV_SQRT_2PI * exp_v;
    return y - u / (1.0 + 0.5 * y * u);
}

static inline double iv_ndtri_end(double p, double y) {
    const double limit = p == 0.0 ? -INFINITY : (p == 1.0 ? INFINITY : NAN);
    const double inside = (p > 0.0 ? 1.0 : 0.0) * (p < 1.0 ? 1.0 : 0.0);
    return inside > 0.0 ? (p > 0.5 ? -y : y) : limit;
}

static double iv_ndtri(double p) {
    const double q = iv_ndtri_q(p);
    double y = iv_ndtri_start(log(q)), a, b;
    for (int k = 0; k < 2; ++k) {
        iv_ndtri_halley_pre(y, &a, &b);
        y = iv_ndtri_halley(y, q, erfc(a), exp(b));
    }
    return iv_ndtri_end(p, y);
}

/* Normalised OTM call by the plain formula (iv.py _normalised_black_otm): the arguments of
 * its special functions, then (b, b') from e1 = erfc(a1), e2 = erfc(a2), e3 = exp(a3). */
static inline void iv_black_pre(double x, double s, double *a1, double *a2, double *a3) {
    const double h = x / s, t = 0.5 * s;
    *a1 = -((h + t) * IV_SQRT_HALF);
    *a2 = -((h - t) * IV_SQRT_HALF);
    *a3 = -0.5 * (h * h + t * t);
}

static inline void iv_black_post(double x, double s, double b_max, double e1, double e2,
                                 double e3, double *b, double *b_prime) {
    const double bb = b_max * (0.5 * e1) - (0.5 * e2) / b_max;
    const double bp = INV_SQRT_2PI * e3;
    const double bp0 = x == 0.0 ? INV_SQRT_2PI : (x < 0.0 ? 0.0 : bp); /* at s <= 0 */
    *b = s > 0.0 ? bb : 0.0;
    *b_prime = s > 0.0 ? bp : bp0;
}

static double iv_rc_minimum_parameter(double d_l, double d_r, double slope) {
    /* prefer_shape = True (the only use) */
    const double tiny = DBL_MIN;
    const int monotonic = (d_l * slope >= 0.0) && (d_r * slope >= 0.0);
    const int convex = (d_l <= slope) && (slope <= d_r);
    const int concave = (d_l >= slope) && (slope >= d_r);
    const double r1_value = fabs(slope) < tiny ? IV_RC_MAX : (d_r + d_l) / slope;
    const double r1 = monotonic ? r1_value : -DBL_MAX;
    const double d_r_m_d_l = d_r - d_l, d_r_m_s = d_r - slope, s_m_d_l = slope - d_l;
    const int degenerate = (fabs(s_m_d_l) < tiny) || (fabs(d_r_m_s) < tiny);
    const double r2_value =
        degenerate ? IV_RC_MAX : np_max(fabs(d_r_m_d_l / d_r_m_s), fabs(d_r_m_d_l / s_m_d_l));
    const double r2 = (convex || concave) ? r2_value : (monotonic ? IV_RC_MAX : -DBL_MAX);
    const double shaped = np_max(IV_RC_MIN, np_max(r1, r2));
    return (monotonic || convex || concave) ? shaped : IV_RC_MIN;
}

/* Control parameter matching the second derivative at the left end (right_side = False). */
static double iv_rc_parameter_left(double x_l, double x_r, double y_l, double y_r, double d_l,
                                   double d_r, double second_derivative) {
    const double tiny = DBL_MIN;
    const double h = x_r - x_l;
    const double numerator = 0.5 * h * second_derivative + (d_r - d_l);
    const double secant = (y_r - y_l) / h;
    const double denominator = secant - d_l;
    double r = fabs(denominator) < tiny ? (numerator > 0.0 ? IV_RC_MAX : IV_RC_MIN)
                                        : numerator / denominator;
    if (fabs(numerator) < tiny) r = 0.0;
    return np_max(r, iv_rc_minimum_parameter(d_l, d_r, secant));
}

static double iv_rc_interpolate(double xv, double x_l, double x_r, double y_l, double y_r,
                                double d_l, double d_r, double r) {
    const double h = x_r - x_l;
    const double t = (xv - x_l) / h, omt = 1.0 - t, t2 = t * t, omt2 = omt * omt;
    const double cubic = (y_r * t2 * t + (r * y_r - h * d_r) * t2 * omt +
                          (r * y_l + h * d_l) * t * omt2 + y_l * omt2 * omt) /
                         (1.0 + (r - 3.0) * t * omt);
    const double linear = y_r * t + y_l * omt;
    const double out = r >= IV_RC_MAX ? linear : cubic;
    return fabs(h) > 0.0 ? out : 0.5 * (y_l + y_r);
}

/* Second node of the guess: s_l below b_c, s_h above (iv.py _guess). */
static inline double iv_guess_node(double x, double beta, double b_max, double b_c) {
    const double s_c = sqrt(-2.0 * x);
    const double v_c = INV_SQRT_2PI * b_max;
    const double lower_half = beta < b_c ? 1.0 : 0.0;
    return np_max(s_c + (b_max * (1.0 - lower_half) - b_c) / v_c, 0.0);
}

/* The rest of Jaeckel's guess (iv.py _guess) once b_max = e^{x/2}, b_c, the second node s_2
 * and (b_2, v_2) = (b, b')(s_2) are known. iv_guess_mid: the middle segments' rational cubic
 * and bracket for every element (branch-free, so that a loop of it vectorises); it returns
 * IV_LOW or IV_HIGH where beta lies beyond the second node, and then iv_guess_low or
 * iv_guess_high replaces the guess and the bracket (and the latter gives the segment). */
static inline double iv_guess_mid(double x, double beta, double b_max, double b_c, double s_2,
                                  double b_2, double v_2, double *s0_out, double *s_left_out,
                                  double *s_right_out) {
    const double ax = -x;
    const double s_c = sqrt(2.0 * ax);
    const double v_c = INV_SQRT_2PI * b_max;
    const double lower_half = beta < b_c ? 1.0 : 0.0;
    /* the segment as a double: a select of one width vectorises */
    const double low = IV_LOW, mid = IV_MID, high = IV_HIGH;
    const double segment = beta < b_c ? (beta < b_2 ? low : mid) : (beta > b_2 ? high : mid);

    const double xl = np_min(b_2, b_c), xr = np_max(b_2, b_c);
    double s_left = np_min(s_2, s_c), s_right = np_max(s_2, s_c);
    const double inv_v2 = 1.0 / v_2, inv_vc = 1.0 / v_c;
    const double dl = inv_vc + (inv_v2 - inv_vc) * lower_half;
    const double dr = inv_v2 + (inv_vc - inv_v2) * lower_half;
    const double span = xr - xl;
    const double secant = (s_right - s_left) / span;
    const double d_diff = dr - dl;
    double r = d_diff / ((dr - secant) * lower_half + (secant - dl) * (1.0 - lower_half));
    /* convex or concave data; conditions as doubles, so that the selects vectorise */
    const double convex = (dl <= secant ? 1.0 : 0.0) * (secant <= dr ? 1.0 : 0.0);
    const double concave = (dl >= secant ? 1.0 : 0.0) * (secant >= dr ? 1.0 : 0.0);
    const double r_shape = convex + concave > 0.0
                               ? np_fmax(fabs(d_diff / (dr - secant)), fabs(d_diff / (secant - dl)))
                               : -DBL_MAX;
    /* np.fmax against a number that is never NaN is a plain max with the number second */
    const double r_floor = r_shape > IV_RC_MIN ? r_shape : IV_RC_MIN;
    const double r_first = np_fmax(r, (dr + dl) / secant);
    r = r_first > r_floor ? r_first : r_floor;
    const double tt = (beta - xl) / span;
    const double omt = 1.0 - tt;
    const double s0 = (s_right * tt * tt * tt + (r * s_right - span * dr) * tt * tt * omt +
                       (r * s_left + span * dl) * tt * omt * omt + s_left * omt * omt * omt) /
                      (1.0 + (r - 3.0) * tt * omt);
    const double linear = span > 0.0 ? s_left * omt + s_right * tt : 0.5 * (s_left + s_right);
    /* not finite, or the linear limit */
    *s0_out = fabs(s0) <= DBL_MAX ? (r >= IV_RC_MAX ? linear : s0) : linear;
    *s_left_out = s_left;
    *s_right_out = s_right;
    return segment;
}

/* LOW segment of the guess, split around its special functions: iv_low_guess_pre gives
 * z = |x| / (sqrt3 s_l) and the arguments of erfc (a1: Phi(-z) = erfc(a1)/2) and of three exp;
 * iv_low_guess_mid the rational cubic f(beta) from their values, as q = f / (2 pi |x| / sqrt27),
 * whose cube root u = exp(log(q) / 3) gives s0 = |x| / (sqrt3 |Phi^-1(u)|). */
static inline void iv_low_guess_pre(double x, double s_l, double *a1, double *a2, double *a3,
                                    double *a4) {
    const double z = IV_SQRT_ONE_THIRD * -x / s_l;
    const double y = z * z, s2 = s_l * s_l;
    *a1 = z * IV_SQRT_HALF;
    *a2 = -0.5 * y;
    *a3 = 2.0 * y + 0.25 * s2;
    *a4 = y + 0.125 * s2;
}

static inline double iv_low_guess_mid(double x, double beta, double s_l, double b_l, double e1,
                                      double e2, double e3, double e4) {
    const double ax = -x, sl = s_l, bl = b_l;
    const double z = IV_SQRT_ONE_THIRD * ax / sl;
    const double y = z * z, s2 = sl * sl;
    const double phi_cdf = 0.5 * e1;
    const double phi_pdf = INV_SQRT_2PI * e2;
    const double fpp = IV_PI_OVER_SIX * y / (s2 * sl) * phi_cdf *
                       (8.0 * IV_SQRT_THREE * sl * ax +
                        (3.0 * s2 * (s2 - 8.0) - 8.0 * x * x) * phi_cdf / phi_pdf) *
                       e3;
    const double phi2 = phi_cdf * phi_cdf;
    const double fp = IV_TWO_PI * y * phi2 * e4;
    const double f_l = IV_TWO_PI_OVER_SQRT_27 * ax * (phi2 * phi_cdf);
    /* Rational cubic f(beta) on [0, b_l] through (0, 0) and (b_l, f_l) with slopes 1 and f',
     * matching f'' at b_l (iv.py: LBR's parameter, specialised: the data are monotone). */
    const double sec = f_l / bl;
    const double dd = fp - 1.0;
    const double r0 = (0.5 * bl * fpp + dd) / (fp - sec);
    const double cc = ((sec >= 1.0 ? 1.0 : 0.0) * (sec <= fp ? 1.0 : 0.0)) +
                      ((sec <= 1.0 ? 1.0 : 0.0) * (sec >= fp ? 1.0 : 0.0));
    const double rs =
        cc > 0.0 ? np_fmax(fabs(dd / (fp - sec)), fabs(dd / (sec - 1.0))) : IV_RC_MAX;
    const double r_floor = rs > IV_RC_MIN ? rs : IV_RC_MIN; /* np.fmax, rs never NaN */
    const double r_first = np_fmax(r0, (fp + 1.0) / sec);
    const double rl = r_first > r_floor ? r_first : r_floor;
    const double tt = beta / bl;
    const double omt = 1.0 - tt;
    const double cubic = (f_l * tt * tt * tt + (rl * f_l - bl * fp) * tt * tt * omt +
                          bl * tt * omt * omt) /
                         (1.0 + (rl - 3.0) * tt * omt);
    const double f1 = rl >= IV_RC_MAX ? f_l * tt : cubic;
    const double f = f1 > 0.0 ? f1 : (f_l * tt + bl * (1.0 - tt)) * tt;
    return f / (IV_TWO_PI_OVER_SQRT_27 * ax);
}

static void iv_guess_low(double x, double beta, double s_2, double b_2, double *s0_out,
                         double *s_left_out, double *s_right_out) {
    double a1, a2, a3, a4;
    iv_low_guess_pre(x, s_2, &a1, &a2, &a3, &a4);
    const double q = iv_low_guess_mid(x, beta, s_2, b_2, erfc(a1), exp(a2), exp(a3), exp(a4));
    *s0_out = fabs(x / (IV_SQRT_THREE * iv_ndtri(exp(log(q) / 3.0))));
    *s_left_out = 0.0;
    *s_right_out = s_2;
}

/* HIGH segment of the guess (scalar: rare): rational cubic of Phi(-s/2) between (b_h, f(s_h))
 * and (b_max, 0), s0 = -2 Phi^-1(f); returns the segment to iterate on (MID below b_max/2). */
static int iv_guess_high(double x, double beta, double b_max, double s_2, double b_2,
                         double *s0_out, double *s_left_out, double *s_right_out) {
    const double sh = s_2, bh = b_2, bm = b_max;
    const double f_h = iv_ndtr(-0.5 * sh);
    const double q = x / sh, w = q * q;
    const double fp = -0.5 * exp(0.5 * w);
    const double fpp = IV_SQRT_PI_OVER_TWO * exp(w + 0.125 * sh * sh) * w / sh;
    const double rh = iv_rc_parameter_left(bh, bm, f_h, 0.0, fp, -0.5, fpp);
    double f = iv_rc_interpolate(beta, bh, bm, f_h, 0.0, fp, -0.5, rh);
    const double sp = bm - bh;
    const double th = (beta - bh) / sp;
    if (!(f > 0.0)) f = (f_h * (1.0 - th) + 0.5 * sp * th) * (1.0 - th);
    *s0_out = -2.0 * iv_ndtri(f);
    *s_left_out = sh;
    *s_right_out = INFINITY;
    return beta > 0.5 * bm ? IV_HIGH : IV_MID;
}

/* The guess's tail for one element (the scalar path) */
static void iv_guess_tail(double x, double beta, double b_max, double b_c, double s_2,
                          double b_2, double v_2, double *s0, int *seg, double *s_left,
                          double *s_right) {
    *seg = (int)iv_guess_mid(x, beta, b_max, b_c, s_2, b_2, v_2, s0, s_left, s_right);
    if (*seg == IV_LOW)
        iv_guess_low(x, beta, s_2, b_2, s0, s_left, s_right);
    else if (*seg == IV_HIGH)
        *seg = iv_guess_high(x, beta, b_max, s_2, b_2, s0, s_left, s_right);
}

static inline double iv_householder(double newton, double halley, double hh3) {
    return newton * (1.0 + 0.5 * halley * newton) /
           (1.0 + newton * (halley + hh3 * newton / 6.0));
}

/* b''/b' and b'''/b' at s */
static inline void iv_log_derivatives(double x, double s, double *b_halley, double *b_hh3) {
    const double inv_s = 1.0 / s;
    const double h = x * inv_s, hs = h * inv_s;
    const double bh = h * hs - 0.25 * s;
    *b_halley = bh;
    *b_hh3 = bh * bh - 3.0 * (hs * hs) - 0.25;
}

/* One Householder(3) step on each objective (iv.py _step), split around its special
 * functions: *_pre gives their arguments, *_post the step from their values; *above is
 * b(s) > beta. aux: ln(beta) for LOW, b_max = e^{x/2} otherwise. */

/* MID: e1 = erfc(a1), e2 = erfc(a2), e3 = exp(a3) of iv_black_pre. */
static inline double iv_mid_post(double x, double s, double beta, double b_max, double e1,
                                 double e2, double e3, int *above) {
    double b, b_prime, b_halley, b_hh3;
    iv_log_derivatives(x, s, &b_halley, &b_hh3);
    iv_black_post(x, s, b_max, e1, e2, e3, &b, &b_prime);
    *above = b > beta;
    return iv_householder((beta - b) / b_prime, b_halley, b_hh3);
}

/* HIGH, first stage: e1 = erfc(a1), e2 = erfc(a2), e3 = exp(a3) give b_max - b and g';
 * its return value r (beta_bar / (b_max - b)) goes through log for the second stage. */
static inline void iv_high_pre(double x, double s, double *a1, double *a2, double *a3) {
    const double h = x / s, t = 0.5 * s;
    *a1 = (h + t) * IV_SQRT_HALF; /* Phi(-h-t) = erfc(((h+t)/sqrt2)) / 2 */
    *a2 = -((h - t) * IV_SQRT_HALF);
    *a3 = -0.5 * (h * h + 0.25 * s * s);
}

static inline double iv_high_mid(double beta_bar, double b_max, double e1, double e2, double e3,
                                 double *b_bar, double *gp) {
    const double bb = b_max * (0.5 * e1) + (0.5 * e2) / b_max;
    *b_bar = bb;
    *gp = INV_SQRT_2PI * e3 / bb;
    return beta_bar / bb;
}

static inline double iv_high_post(double x, double s, double beta_bar, double b_bar, double gp,
                                  double log_ratio, int *above) {
    double b_halley, b_hh3;
    iv_log_derivatives(x, s, &b_halley, &b_hh3);
    const double newton = -log_ratio / gp;
    const double halley = b_halley + gp;
    const double hh3 = b_hh3 + gp * (2.0 * gp + 3.0 * b_halley);
    *above = b_bar < beta_bar;
    return iv_householder(newton, halley, hh3);
}

/* LOW (log form), first stage: erfcx at z1 and z2 (exp(z^2) and erfc(z) each); the
 * difference d = erfcx(z1) - erfcx(z2) goes through log(d/2) for the second stage. */
static inline void iv_low_pre(double x, double s, double *z1, double *z2) {
    const double h = x / s, t = 0.5 * s;
    *z1 = np_max(-(h + t) * IV_SQRT_HALF, IV_ERFCX_MIN_ARG);
    *z2 = (t - h) * IV_SQRT_HALF;
}

static inline double iv_low_post(double x, double s, double ln_beta, double diff, double log_half,
                                 int *above) {
    double b_halley, b_hh3;
    iv_log_derivatives(x, s, &b_halley, &b_hh3);
    const double h = x / s, t = 0.5 * s;
    const double ln_b = log_half - 0.5 * (h * h + t * t);
    const double bpob = IV_SQRT_2_OVER_PI / diff;
    const double inv = 1.0 / ln_b;
    const double newton = (ln_beta - ln_b) * ln_b / ln_beta / bpob;
    const double halley = b_halley - bpob * (1.0 + 2.0 * inv);
    const double hh3 = b_hh3 + 2.0 * bpob * bpob * (1.0 + 3.0 * inv * (1.0 + inv)) -
                       3.0 * b_halley * bpob * (1.0 + 2.0 * inv);
    *above = ln_b > ln_beta;
    return iv_householder(newton, halley, hh3);
}

/* One step, scalar libm */
static double iv_step(int seg, double x, double s, double beta, double beta_bar, double aux,
                      int *above) {
    double a1, a2, a3;
    if (seg == IV_MID) {
        iv_black_pre(x, s, &a1, &a2, &a3);
        return iv_mid_post(x, s, beta, aux, erfc(a1), erfc(a2), exp(a3), above);
    }
    if (seg == IV_HIGH) {
        double b_bar, gp;
        iv_high_pre(x, s, &a1, &a2, &a3);
        const double ratio = iv_high_mid(beta_bar, aux, erfc(a1), erfc(a2), exp(a3), &b_bar, &gp);
        return iv_high_post(x, s, beta_bar, b_bar, gp, log(ratio), above);
    }
    iv_low_pre(x, s, &a1, &a2);
    const double diff = iv_erfcx(a1) - iv_erfcx(a2);
    return iv_low_post(x, s, aux, diff, log(0.5 * diff), above);
}

static inline double iv_bisect(double s_left, double s_right) {
    return isfinite(s_right) ? 0.5 * (s_left + s_right) : 2.0 * s_left;
}

/* After the two plain steps (iv.py _iterate): an element whose second step was not small
 * continues here, scalar, with the guess's bracket. Returns 1 when converged. */
static int iv_bracketed(const iv_rule *rule, int seg, double x, double beta, double beta_bar,
                        double aux, double s, double s_left, double s_right, double *s_out) {
    double out = s;
    int above;
    if (!((s > s_left) && (s < s_right))) s = iv_bisect(s_left, s_right);
    for (int it = 0; it < rule->max_iterations - 2; ++it) {
        double ds = iv_step(seg, x, s, beta, beta_bar, aux, &above);
        if (above && s < s_right) s_right = s;
        if (!above && s > s_left) s_left = s;
        ds = np_max(ds, -0.5 * s);
        double s_new = s + ds;
        const int small = fabs(ds) <= rule->tolerance * s + rule->floor;
        /* A tiny step is accepted as is: at the root a bracket end may sit on s itself. */
        if (!small && !((s_new > s_left) && (s_new < s_right))) s_new = iv_bisect(s_left, s_right);
        out = s_new;
        if (small || (s_right - s_left <= 4.0 * DBL_EPSILON * s)) {
            *s_out = out;
            return 1;
        }
        s = s_new;
    }
    *s_out = out;
    return 0;
}

static inline int iv_finish(int converged, double s) {
    return converged && (s > 0.0) && (s < INFINITY);
}

/* ln(beta); from the logs of the inputs where beta is near the subnormal range (an option
 * that far out has no intrinsic value: its time value is the undiscounted price). */
static inline double iv_ln_beta(double beta, double P, double R, double T, double sqrt_fk) {
    return beta < IV_TINY_BETA ? log(P) + R * T - log(sqrt_fk) : log(beta);
}

/* iv.py's fast validity check (_black76_chunk), the same operations in the same order:
 * strictly inside the bounds, both as the undiscounted gaps the solver uses (returned in
 * *time_value and *room) and as discounted comparisons with df = exp(-r T) from the caller. */
static inline double iv_valid(double p, double f, double k, double t, double df, double c,
                              double *time_value, double *room) {
    const double undiscounted = p / df;
    const double intrinsic = np_max((f - k) * (c == 1.0 ? 1.0 : -1.0), 0.0);
    const double cap = c == 1.0 ? f : k;
    const double tv = undiscounted - intrinsic, rm = cap - undiscounted;
    *time_value = tv;
    *room = rm;
    /* 1.0 when every condition holds: a product of selects, so that the loop vectorises */
    return (tv > 0.0 ? 1.0 : 0.0) * (rm > 0.0 ? 1.0 : 0.0) * (p > df * intrinsic ? 1.0 : 0.0) *
           (p < df * cap ? 1.0 : 0.0) * (p > 0.0 ? 1.0 : 0.0) * (t > 0.0 ? 1.0 : 0.0) *
           (f > 0.0 ? 1.0 : 0.0) * (f < INFINITY ? 1.0 : 0.0) * (k > 0.0 ? 1.0 : 0.0) *
           (k < INFINITY ? 1.0 : 0.0) * (c <= 1.0 ? 1.0 : 0.0);
}

/* One element, scalar libm (iv.py _black76_solve and _normalised_implied_vol). */
static int iv_scalar(const iv_rule *rule, double P, double F, double K, double T, double R,
                     double time_value, double room, double *vol) {
    const double sqrt_fk = sqrt(F) * sqrt(K);
    const double x = -fabs(log(F / K));
    const double beta = time_value / sqrt_fk, beta_bar = room / sqrt_fk;
    const double b_max = exp(0.5 * x);
    const double b_c = 0.5 * b_max * (1.0 - iv_erfcx(sqrt(-x)));
    const double s_2 = iv_guess_node(x, beta, b_max, b_c);
    double a1, a2, a3, b_2, v_2, s, s_left, s_right;
    int seg, above;
    iv_black_pre(x, s_2, &a1, &a2, &a3);
    iv_black_post(x, s_2, b_max, erfc(a1), erfc(a2), exp(a3), &b_2, &v_2);
    iv_guess_tail(x, beta, b_max, b_c, s_2, b_2, v_2, &s, &seg, &s_left, &s_right);
    const double aux = seg == IV_LOW ? iv_ln_beta(beta, P, R, T, sqrt_fk) : b_max;
    double ds = iv_step(seg, x, s, beta, beta_bar, aux, &above);
    s = s + np_max(ds, -0.5 * s);
    ds = iv_step(seg, x, s, beta, beta_bar, aux, &above);
    double out = s + np_max(ds, -0.5 * s);
    int converged = fabs(ds) <= rule->tolerance * s + rule->floor;
    if (!converged)
        converged = iv_bracketed(rule, seg, x, beta, beta_bar, aux, out, s_left, s_right, &out);
    *vol = out / sqrt(T);
    return iv_finish(converged, out);
}

#if VXS_X86_SIMD
/* out[i] = f(in[i]) for i < n, four lanes at a time; the last 1-3 are padded with 0. */
static VXS_AVX2 void iv_vmap(vxs_vfn f, const double *in, double *out, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, f(_mm256_loadu_pd(in + i)));
    if (i < n) {
        double a[4] = {0.0, 0.0, 0.0, 0.0}, b[4];
        memcpy(a, in + i, (size_t)(n - i) * sizeof(double));
        _mm256_storeu_pd(b, f(_mm256_loadu_pd(a)));
        memcpy(out + i, b, (size_t)(n - i) * sizeof(double));
    }
}

typedef struct {
    vxs_vfn exp, log, erfc;
} iv_vmath;

/* One Householder(3) step (iv_step) for the m elements of one segment, held in compact
 * arrays: ds and above (b(s) > beta) from s. */
static VXS_AVX2 void iv_step_batch(const iv_vmath *vm, int seg, int m, const double *x,
                                   const double *s, const double *beta, const double *beta_bar,
                                   const double *aux, double *ds, int *above) {
    double a1[IV_BLOCK], a2[IV_BLOCK], a3[IV_BLOCK], a4[IV_BLOCK];
    double e1[IV_BLOCK], e2[IV_BLOCK], e3[IV_BLOCK], e4[IV_BLOCK];
    double bb[IV_BLOCK], gp[IV_BLOCK];
    if (seg == IV_MID) {
        for (int j = 0; j < m; ++j) iv_black_pre(x[j], s[j], &a1[j], &a2[j], &a3[j]);
        iv_vmap(vm->erfc, a1, e1, m);
        iv_vmap(vm->erfc, a2, e2, m);
        iv_vmap(vm->exp, a3, e3, m);
        for (int j = 0; j < m; ++j)
            ds[j] = iv_mid_post(x[j], s[j], beta[j], aux[j], e1[j], e2[j], e3[j], &above[j]);
    } else if (seg == IV_HIGH) {
        for (int j = 0; j < m; ++j) iv_high_pre(x[j], s[j], &a1[j], &a2[j], &a3[j]);
        iv_vmap(vm->erfc, a1, e1, m);
        iv_vmap(vm->erfc, a2, e2, m);
        iv_vmap(vm->exp, a3, e3, m);
        for (int j = 0; j < m; ++j)
            a4[j] = iv_high_mid(beta_bar[j], aux[j], e1[j], e2[j], e3[j], &bb[j], &gp[j]);
        iv_vmap(vm->log, a4, e4, m);
        for (int j = 0; j < m; ++j)
            ds[j] = iv_high_post(x[j], s[j], beta_bar[j], bb[j], gp[j], e4[j], &above[j]);
    } else {
        for (int j = 0; j < m; ++j) {
            iv_low_pre(x[j], s[j], &a1[j], &a3[j]);
            a2[j] = a1[j] * a1[j];
            a4[j] = a3[j] * a3[j];
        }
        iv_vmap(vm->erfc, a1, e1, m);
        iv_vmap(vm->exp, a2, e2, m);
        iv_vmap(vm->erfc, a3, e3, m);
        iv_vmap(vm->exp, a4, e4, m);
        for (int j = 0; j < m; ++j) {
            bb[j] = iv_erfcx_post(a1[j], e2[j], e1[j]) - iv_erfcx_post(a3[j], e4[j], e3[j]);
            a2[j] = 0.5 * bb[j];
        }
        iv_vmap(vm->log, a2, e2, m);
        for (int j = 0; j < m; ++j)
            ds[j] = iv_low_post(x[j], s[j], aux[j], bb[j], e2[j], &above[j]);
    }
}

/* Iterate the m elements of one segment (iv.py _iterate, as iv_scalar and iv_bracketed):
 * two plain steps for all, then the bracketed loop over the shrinking set of those not yet
 * converged. s holds the guesses and receives the results; ok is set where converged. */
static VXS_AVX2 void iv_iterate_batch(const iv_vmath *vm, const iv_rule *rule, int seg, int m,
                                      const double *x, const double *beta,
                                      const double *beta_bar, const double *aux, double *s,
                                      const double *s_left0, const double *s_right0, int *ok) {
    double ds[IV_BLOCK], wx[IV_BLOCK], wb[IV_BLOCK], wbb[IV_BLOCK], wa[IV_BLOCK];
    double ws[IV_BLOCK], wl[IV_BLOCK], wr[IV_BLOCK];
    int above[IV_BLOCK], work[IV_BLOCK];
    iv_step_batch(vm, seg, m, x, s, beta, beta_bar, aux, ds, above);
    for (int j = 0; j < m; ++j) s[j] = s[j] + np_max(ds[j], -0.5 * s[j]);
    iv_step_batch(vm, seg, m, x, s, beta, beta_bar, aux, ds, above);
    int k = 0;
    for (int j = 0; j < m; ++j) {
        ok[j] = fabs(ds[j]) <= rule->tolerance * s[j] + rule->floor;
        s[j] = s[j] + np_max(ds[j], -0.5 * s[j]);
        if (ok[j]) continue;
        /* the guess's bracket still holds the root; an iterate outside it restarts by
         * bisection */
        const double sj = s[j];
        const int inside = (sj > s_left0[j]) && (sj < s_right0[j]);
        work[k] = j;
        wx[k] = x[j];
        wb[k] = beta[j];
        wbb[k] = beta_bar[j];
        wa[k] = aux[j];
        wl[k] = s_left0[j];
        wr[k] = s_right0[j];
        ws[k] = inside ? sj : iv_bisect(s_left0[j], s_right0[j]);
        ++k;
    }
    for (int it = 0; it < rule->max_iterations - 2 && k > 0; ++it) {
        iv_step_batch(vm, seg, k, wx, ws, wb, wbb, wa, ds, above);
        int kept = 0;
        for (int q = 0; q < k; ++q) {
            const double sq = ws[q];
            double sl = wl[q], sr = wr[q];
            if (above[q] && sq < sr) sr = sq;
            if (!above[q] && sq > sl) sl = sq;
            const double d = np_max(ds[q], -0.5 * sq);
            double s_new = sq + d;
            const int small = fabs(d) <= rule->tolerance * sq + rule->floor;
            /* A tiny step is accepted as is: at the root a bracket end may sit on s itself. */
            if (!small && !((s_new > sl) && (s_new < sr))) s_new = iv_bisect(sl, sr);
            s[work[q]] = s_new;
            if (small || (sr - sl <= 4.0 * DBL_EPSILON * sq)) {
                ok[work[q]] = 1;
                continue;
            }
            work[kept] = work[q];
            wx[kept] = wx[q];
            wb[kept] = wb[q];
            wbb[kept] = wbb[q];
            wa[kept] = wa[q];
            wl[kept] = sl;
            wr[kept] = sr;
            ws[kept] = s_new;
            ++kept;
        }
        k = kept;
    }
}

/* Elements [0, nin) of one block, nin <= IV_BLOCK: the valid ones are gathered and solved
 * stage by stage (as iv_scalar); status 0 solved, 1 invalid, 2 no convergence. */
static VXS_AVX2 void iv_block(const iv_vmath *vm, const iv_rule *rule, int nin,
                              const double *Pin, const double *Fin, const double *Kin,
                              const double *Tin, const double *Rin, const double *DFin,
                              const uint8_t *Cin, double *vol, int8_t *status) {
    double P[IV_BLOCK], F[IV_BLOCK], K[IV_BLOCK], T[IV_BLOCK], R[IV_BLOCK];
    double time_value[IV_BLOCK], room[IV_BLOCK];
    double x[IV_BLOCK], beta[IV_BLOCK], beta_bar[IV_BLOCK], b_max[IV_BLOCK], sq[IV_BLOCK];
    double a1[IV_BLOCK], a2[IV_BLOCK], a3[IV_BLOCK], a4[IV_BLOCK];
    double e1[IV_BLOCK], e2[IV_BLOCK], e3[IV_BLOCK], e4[IV_BLOCK];
    double s[IV_BLOCK], s_left[IV_BLOCK], s_right[IV_BLOCK], b_c[IV_BLOCK], s_2[IV_BLOCK];
    double b_2[IV_BLOCK], seg[IV_BLOCK], sqrt_t[IV_BLOCK];
    int where[IV_BLOCK];
    int n = 0;
    for (int i = 0; i < nin; ++i) { /* (a1, a2, a3): validity, time value, room */
        a1[i] = iv_valid(Pin[i], Fin[i], Kin[i], Tin[i], DFin[i], (double)Cin[i], &a2[i], &a3[i]);
        vol[i] = NAN;
    }
    for (int i = 0; i < nin; ++i) { /* branch-free compaction of the valid elements */
        const int valid = a1[i] > 0.0;
        status[i] = valid ? 0 : 1;
        time_value[n] = a2[i];
        room[n] = a3[i];
        P[n] = Pin[i];
        F[n] = Fin[i];
        K[n] = Kin[i];
        T[n] = Tin[i];
        R[n] = Rin[i];
        where[n] = i;
        n += valid;
    }
    /* Reduction to the normalised OTM call, then the guess (iv_scalar, stage by stage) */
    for (int i = 0; i < n; ++i) {
        a1[i] = F[i] / K[i];
        sq[i] = sqrt(F[i]) * sqrt(K[i]);
        sqrt_t[i] = sqrt(T[i]);
    }
    iv_vmap(vm->log, a1, e1, n);
    for (int i = 0; i < n; ++i) {
        x[i] = -fabs(e1[i]);
        beta[i] = time_value[i] / sq[i];
        beta_bar[i] = room[i] / sq[i];
        a1[i] = 0.5 * x[i];
        a3[i] = sqrt(-x[i]); /* b_c = b_max (1 - erfcx(sqrt|x|)) / 2 */
        a2[i] = a3[i] * a3[i];
    }
    iv_vmap(vm->exp, a1, b_max, n);
    iv_vmap(vm->exp, a2, e2, n);
    iv_vmap(vm->erfc, a3, e3, n);
    for (int i = 0; i < n; ++i) {
        b_c[i] = 0.5 * b_max[i] * (1.0 - iv_erfcx_post(a3[i], e2[i], e3[i]));
        s_2[i] = iv_guess_node(x[i], beta[i], b_max[i], b_c[i]);
        iv_black_pre(x[i], s_2[i], &a1[i], &a2[i], &a3[i]);
    }
    iv_vmap(vm->erfc, a1, e1, n);
    iv_vmap(vm->erfc, a2, e2, n);
    iv_vmap(vm->exp, a3, e3, n);
    for (int i = 0; i < n; ++i)
        iv_black_post(x[i], s_2[i], b_max[i], e1[i], e2[i], e3[i], &b_2[i], &a2[i]);
    for (int i = 0; i < n; ++i) /* a2 = v_2 */
        seg[i] = iv_guess_mid(x[i], beta[i], b_max[i], b_c[i], s_2[i], b_2[i], a2[i], &s[i],
                              &s_left[i], &s_right[i]);
    /* The LOW guess over the LOW elements (gathered; their index in idx), the HIGH one scalar */
    int idx[IV_BLOCK];
    double lx[IV_BLOCK], lb[IV_BLOCK], ls[IV_BLOCK], lbl[IV_BLOCK], lq[IV_BLOCK], ly[IV_BLOCK];
    int m = 0;
    for (int i = 0; i < n; ++i) {
        if (seg[i] == IV_HIGH)
            seg[i] = iv_guess_high(x[i], beta[i], b_max[i], s_2[i], b_2[i], &s[i], &s_left[i],
                                   &s_right[i]);
        if (seg[i] != IV_LOW) continue;
        idx[m] = i;
        lx[m] = x[i];
        lb[m] = beta[i];
        ls[m] = s_2[i];
        lbl[m] = b_2[i];
        ++m;
    }
    if (m > 0) {
        for (int j = 0; j < m; ++j) iv_low_guess_pre(lx[j], ls[j], &a1[j], &a2[j], &a3[j], &a4[j]);
        iv_vmap(vm->erfc, a1, e1, m);
        iv_vmap(vm->exp, a2, e2, m);
        iv_vmap(vm->exp, a3, e3, m);
        iv_vmap(vm->exp, a4, e4, m);
        for (int j = 0; j < m; ++j)
            a1[j] = iv_low_guess_mid(lx[j], lb[j], ls[j], lbl[j], e1[j], e2[j], e3[j], e4[j]);
        iv_vmap(vm->log, a1, e1, m);
        for (int j = 0; j < m; ++j) a1[j] = e1[j] / 3.0;
        iv_vmap(vm->exp, a1, lq, m); /* u = q^(1/3): its Phi^-1, in stages */
        for (int j = 0; j < m; ++j) a1[j] = iv_ndtri_q(lq[j]);
        iv_vmap(vm->log, a1, e1, m);
        for (int j = 0; j < m; ++j) ly[j] = iv_ndtri_start(e1[j]);
        for (int k = 0; k < 2; ++k) {
            for (int j = 0; j < m; ++j) iv_ndtri_halley_pre(ly[j], &a2[j], &a3[j]);
            iv_vmap(vm->erfc, a2, e2, m);
            iv_vmap(vm->exp, a3, e3, m);
            for (int j = 0; j < m; ++j) ly[j] = iv_ndtri_halley(ly[j], a1[j], e2[j], e3[j]);
        }
        for (int j = 0; j < m; ++j) {
            const int i = idx[j];
            s[i] = fabs(lx[j] / (IV_SQRT_THREE * iv_ndtri_end(lq[j], ly[j])));
            s_left[i] = 0.0;
            s_right[i] = ls[j];
        }
    }
    /* Per segment: gather, iterate, scatter */
    for (int g = IV_LOW; g <= IV_HIGH; ++g) {
        double gx[IV_BLOCK], gb[IV_BLOCK], gbb[IV_BLOCK], ga[IV_BLOCK], gs[IV_BLOCK];
        double gl[IV_BLOCK], gr[IV_BLOCK];
        int ok[IV_BLOCK];
        m = 0;
        for (int i = 0; i < n; ++i) { /* branch-free compaction: write, advance if it belongs */
            idx[m] = i;
            gx[m] = x[i];
            gb[m] = beta[i];
            gbb[m] = beta_bar[i];
            gs[m] = s[i];
            gl[m] = s_left[i];
            gr[m] = s_right[i];
            ga[m] = g == IV_LOW ? beta[i] : b_max[i];
            m += seg[i] == g;
        }
        if (m == 0) continue;
        if (g == IV_LOW) { /* aux = ln(beta) (iv_ln_beta) */
            for (int j = 0; j < m; ++j) a1[j] = ga[j];
            iv_vmap(vm->log, a1, ga, m);
            for (int j = 0; j < m; ++j) {
                const int i = idx[j];
                if (a1[j] < IV_TINY_BETA) ga[j] = iv_ln_beta(a1[j], P[i], R[i], T[i], sq[i]);
            }
        }
        iv_iterate_batch(vm, rule, g, m, gx, gb, gbb, ga, gs, gl, gr, ok);
        for (int j = 0; j < m; ++j) {
            const int i = idx[j];
            const int solved = iv_finish(ok[j], gs[j]);
            status[where[i]] = solved ? 0 : 2;
            vol[where[i]] = solved ? gs[j] / sqrt_t[i] : NAN;
        }
    }
}
#endif /* VXS_X86_SIMD */

/* Black-76 implied vol (iv.py _black76_chunk and _black76_solve) of n elements: price P
 * (discounted), forward F, strike K, time T, rate R, discount factor DF = exp(-R T) (from the
 * caller, so that the bounds are those it checks), right C (1 call, 0 put, other: invalid).
 * Writes vol (NaN unless solved) and status: 0 solved, 1 not strictly inside the bounds or
 * any input invalid (the caller assigns the reason), 2 no convergence.
 * tolerance, floor, max_iterations: the stopping rule (iv.py passes its constants).
 * path: 0 auto, 1 scalar, 2 AVX2 (error when unavailable). Returns 0 or a negative error. */
VXS_EXPORT int vxs_iv_black76(int64_t n, int path, const double *P, const double *F,
                              const double *K, const double *T, const double *R,
                              const double *DF, const uint8_t *C, double *vol, int8_t *status,
                              double tolerance, double floor, int max_iterations) {
    const iv_rule rule = {tolerance, floor, max_iterations};
    if (path != VXS_PATH_AUTO && path != VXS_PATH_SCALAR && path != VXS_PATH_AVX2)
        return VXS_ERR_PATH;
#if VXS_X86_SIMD
    if (path != VXS_PATH_SCALAR && vxs_avx2_active()) {
        iv_vmath vm;
        memcpy(&vm.exp, &g_vexp, sizeof vm.exp);
        memcpy(&vm.log, &g_vlog, sizeof vm.log);
        memcpy(&vm.erfc, &g_verfc, sizeof vm.erfc);
        for (int64_t lo = 0; lo < n; lo += IV_BLOCK) {
            const int m = (int)(n - lo < IV_BLOCK ? n - lo : IV_BLOCK);
            iv_block(&vm, &rule, m, P + lo, F + lo, K + lo, T + lo, R + lo, DF + lo, C + lo,
                     vol + lo, status + lo);
        }
        return VXS_OK;
    }
#endif
    if (path == VXS_PATH_AVX2) return VXS_ERR_AVX2_UNAVAILABLE;
    for (int64_t i = 0; i < n; ++i) {
        double time_value, room, v;
        if (!(iv_valid(P[i], F[i], K[i], T[i], DF[i], (double)C[i], &time_value, &room) > 0.0)) {
            status[i] = 1;
            vol[i] = NAN;
            continue;
        }
        const int solved = iv_scalar(&rule, P[i], F[i], K[i], T[i], R[i], time_value, room, &v);
        status[i] = solved ? 0 : 2;
        vol[i] = solved ? v : NAN;
    }
    return VXS_OK;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
