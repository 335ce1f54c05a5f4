/*
 * VixShield native pricing kernel: Black-Scholes-Merton (continuous dividend yield) and
 * Black-76 prices with all Greeks over float64 arrays.
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
