/* Fused log_softmax and its gradient over the rows of a C-contiguous
 * (rows, cols) float32 or float64 array: the compiled path of
 * coursepkg.compiled (the Python side says how it is built and loaded).
 *
 * One row at a time:
 *
 *   m    = max_j x_j
 *   rest = sum_{x_j < m} exp(x_j - m) + (number of ties at m) - 1
 *   L    = log1p(rest)
 *   out_j = (x_j - m) - L
 *
 * The float32 kernels do it in one sweep a row, which takes the sum for
 * row i, the maximum of row i+1 and writes the output of row i-1 (the
 * gradient's sweep likewise sums the next row's g): the exponentials are
 * what costs, and they hide the other rows' memory traffic.
 *
 * Everything inside is float64: for float32 input x_j - m is exact, the
 * exponentials carry 1.1e-12 relative error (exp32; 2e-13 in the
 * x86-64-v4 build's own sweeps, exp8_avx512; 2e-16 for float64
 * input, exp64), and `rest` is summed without the 1 of the maximal entry,
 * so L (and the largest entry, -L) has full relative precision even when
 * rest is 1e-30.  A float32 output is the float32 rounding of a float64
 * value within 2**-29 of the exact one: within 0.54 ULP.  float64 input
 * keeps the rounding error of x_j - m (TwoSum) and folds it into the
 * exponential and the output: within 3 ULP.
 *
 * The gradient for an upstream g is  g_j - p_j * sum(g),  p_j = exp(x_j - m - L),
 * with the maximal entry, when p_k > 0.6, as -(sum of the other g) - sum g * expm1(-L)
 * (no cancellation between g_k and p_k * sum g when p_k is close to one).
 * The difference may cancel elsewhere too (soft targets near the
 * prediction); the float32 kernel redoes a row where it cancels beyond
 * 2**12 with float64 exponentials (see cp_log_softmax_grad_f32).
 *
 * A row whose maximum is not finite, or that holds a NaN, is not computed:
 * the functions return 1 (the output is then unspecified) and the caller
 * hands the array to the teaching version, which documents those special
 * values.
 *
 * Build: any C99 compiler, -O3 -fno-trapping-math (lets the compiler turn
 * the clamps in the exponentials into vector blends).  On x86-64 with GCC or
 * Clang each kernel is compiled three times, for x86-64-v4 (AVX-512, whose
 * float32 sweeps are written with intrinsics), x86-64-v3 (AVX2 + FMA) and
 * the baseline; the caller picks one with cp_cpu_level().  No -ffast-math:
 * NaN, infinities and the order of the roundings above are relied on.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

/* round(t / ln 2) as a double and as an integer, for t in [-746, 0]
 * (the 1.5 * 2**52 trick: adding it leaves the integer in the low bits). */
#define ROUND_OVER_LN2(t, kd, k)                                              \
    do {                                                                       \
        const double SHIFT = 6755399441055744.0;                              \
        int64_t kbits_, shift_bits_;                                           \
        kd = (t) * 1.44269504088896338700e+00 + SHIFT;                         \
        memcpy(&kbits_, &kd, 8);                                               \
        memcpy(&shift_bits_, &SHIFT, 8);                                       \
        k = kbits_ - shift_bits_;                                              \
        kd -= SHIFT;                                                           \
    } while (0)

/* ln 2 in two parts; LN2_HI has 32 significant bits, so k * LN2_HI and
 * t - k * LN2_HI are exact for |k| < 2**20. */
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10

INLINE double pow2(int64_t k) /* 2**k for -1022 <= k <= 1023 */
{
    int64_t bits = (k + 1023) << 52;
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* exp(t) for float32 results, t <= 0 and not NaN (the callers check for
 * NaN before); 0 below -300, so -inf gives 0 with no test of its own.
 * e**-300 = 5e-131, and that times any float32 sum (at most
 * 2**31 * 3.4e38 = 7e47) is below float32's smallest subnormal, so the
 * cut changes no float32 result.  t - k ln 2 in one FMA with ln 2 rounded
 * to double (|k| <= 433: 2e-14 relative error; without FMA, the rounding
 * of k ln 2, 3e-14).  On |r| <= ln(2)/2 a degree-8 polynomial interpolating
 * exp at the Chebyshev nodes (computed with mpmath at 50 digits,
 * coefficients rounded to double): relative error below 1.1e-12 in all.
 * The forward needs 1e-9 (a float32 ULP is 6e-8); the gradient's
 * cancellation check (cp_log_softmax_grad_f32) counts on 1.1e-12.
 * Branch-free, so loops vectorise. */
INLINE double exp32(double t)
{
    double kd, r, p, tc = t > -300.0 ? t : -300.0;
    int64_t k;
    ROUND_OVER_LN2(tc, kd, k);
    r = tc - kd * 6.93147180559945286227e-01;
    p = 2.4876164022625967e-05;
    p = p * r + 0.00019915866926782682;
    p = p * r + 0.0013888821677630362;
    p = p * r + 0.008333266097949614;
    p = p * r + 0.041666666890957;
    p = p * r + 0.16666666891045775;
    p = p * r + 0.49999999999797934;
    p = p * r + 0.9999999999797852;
    p = p * r + 1.0;
    return t > -300.0 ? p * pow2(k) : 0.0;
}

/* exp(t + c) for float64 results: t <= 0 and not NaN (the callers check
 * for NaN before), |c| <= 2**-40 |t| a
 * rounding error carried along; 0 below -746.  Taylor's polynomial to
 * degree 13 on |r| <= ln(2)/2 (remainder below 5e-18): about 2e-16
 * relative error with the roundings; subnormal results round once. */
INLINE double exp64(double t, double c)
{
    double kd, r, p;
    int64_t k, k1;
    t = t < -746.0 ? -746.0 : t;
    ROUND_OVER_LN2(t, kd, k);
    r = (t - kd * LN2_HI) - kd * LN2_LO + c;
    p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    k1 = k >> 1; /* k in [-1077, 0]: two normal powers of two */
    return (p * pow2(k1)) * pow2(k - k1);
}

/* The rounding error of a - b (Knuth's TwoSum), 0 where a - b is not finite. */
INLINE double minus_error(double a, double b, double d)
{
    double bb = d - a;
    double e = (a - (d - bb)) + (-b - bb);
    return d > -INFINITY && d < INFINITY ? e : 0.0;
}

/* Runs its loop over j in [lo, hi), on the row's whole blocks of 16
 * entries and then once more on its last 16, of which those below `from`
 * were done already: loops whose remainder is none or a whole vector,
 * instead of the scalar remainder loop GCC 12 would add (at 1000 columns,
 * 8 scalar exponentials a row).  Loops that only write or take a maximum
 * may ignore `from` (doing an entry twice does no harm); sums must not. */
#define OVER_ROW(cols, ...)                                                    \
    do {                                                                       \
        int64_t full_ = (cols) < 16 ? (cols) : (cols) & ~(int64_t)15;          \
        {                                                                      \
            int64_t lo = 0, hi = full_, from = 0;                              \
            (void)from;                                                        \
            __VA_ARGS__;                                                       \
        }                                                                      \
        if (full_ < (cols)) {                                                  \
            int64_t lo = (cols) - 16, hi = (cols), from = full_;               \
            (void)from;                                                        \
            __VA_ARGS__;                                                       \
        }                                                                      \
    } while (0)

/* OpenMP starts the private copies of a max reduction at the lowest value
 * of the type: -inf with GCC, but -FLT_MAX (-DBL_MAX) with Clang, under
 * which a row of -inf came out with the finite maximum -FLT_MAX and was
 * not refused.  A maximum equal to that value is taken again, one entry at
 * a time. */
#define TRUE_MAX(m, x, cols, LOWEST)                                           \
    do {                                                                       \
        if ((m) == -(LOWEST)) {                                                \
            (m) = -INFINITY;                                                   \
            for (int64_t j_ = 0; j_ < (cols); j_++)                            \
                (m) = (x)[j_] > (m) ? (x)[j_] : (m);                           \
        }                                                                      \
    } while (0)

/* g_k - sum(g) as minus the sum of the others: with g_k = 1 and the
 * others 3e-22, sum(g) rounds to 1 and g_k - sum(g) to 0. */
#define SUM_EXCEPT(T)                                                          \
INLINE double sum_except_##T(const T *g, int64_t cols, int64_t k)             \
{                                                                              \
    double rest = 0.0;                                                         \
    _Pragma("omp simd reduction(+:rest)")                                     \
    for (int64_t j = 0; j < cols; j++) rest += j == k ? 0.0 : (double)g[j];    \
    return rest;                                                               \
}
SUM_EXCEPT(float)
SUM_EXCEPT(double)
#define sum_except(g, cols, k) _Generic((g), const float *: sum_except_float, \
                                             const double *: sum_except_double)(g, cols, k)

/* The x86-64-v4/v3 variants need GCC 11 or Clang 12 (the loader retries
 * with -DCOURSEPKG_BASELINE_ONLY when a compiler refuses them). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(COURSEPKG_BASELINE_ONLY)
#define COURSEPKG_VARIANTS 1
#include <immintrin.h>
#endif

/* The two sweeps of the float32 kernels that cost (an exponential per
 * entry), in portable C: every variant but x86-64-v4 compiles these, and
 * the compiler vectorises them.
 *
 * sweep_f32_c, the forward's, over row i: returns the sum of e**(x_j - m)
 * over the entries below m (-inf adds nothing: exp32 gives 0; -0.0 leaves
 * `below` as it is) and sets *ties to the number of entries equal to m.
 * The same loop takes the next row's maximum and NaN flag (xn: *mn, *nan)
 * and writes the previous row's output, op_j = (xp_j - a) - b, so that
 * the exponentials of one row hide the memory traffic of the others
 * (measured at (4096, 1000): the two sweeps apart were a third of the time). */
INLINE double sweep_f32_c(const float *xr, int64_t cols, float m, int64_t *ties_out,
                          const float *xn, float *mn_out, int *nan_out,
                          const float *xp, float *op, double a, double b)
{
    double md = m, below = 0.0;
    float mn = -INFINITY;
    int ties = 0, nan = 0; /* the callers refuse rows of more than INT32_MAX entries */
    OVER_ROW(cols,
        _Pragma("omp simd reduction(+:below,ties) reduction(max:mn) reduction(|:nan)")
        for (int64_t j = lo; j < hi; j++) {
            double e = exp32((double)xr[j] - md);
            int fresh = j >= from, at_max = xr[j] == m;
            below += (fresh & !at_max) ? e : -0.0;
            ties += fresh & at_max;
            mn = xn[j] > mn ? xn[j] : mn;
            nan |= xn[j] != xn[j];
            op[j] = (float)(((double)xp[j] - a) - b);
        });
    TRUE_MAX(mn, xn, cols, FLT_MAX);
    *ties_out = ties;
    *mn_out = mn;
    *nan_out = nan;
    return below;
}

/* grad_sweep_f32_c: out_j = g_j - e**(x_j - m) * ps, one rounding (FMA
 * where the variant has it); exp32 is 0 at -inf, so g_j - 0 * ps: +0.0 for
 * g_j = +0.0.  Returns the largest |g_j| - 2**12 |out_j| (the cancellation
 * check of cp_log_softmax_grad_f32), over the entries other than the row's
 * maximal one where `skip_max` (then it is the only entry equal to m).
 * The same loop sums the next row's g (gn: *sn), which hides its reading
 * (a fifth of the time, measured apart). */
INLINE float grad_sweep_f32_c(const float *xr, const float *gr, float *out,
                              int64_t cols, float m, double ps, int skip_max,
                              const float *gn, double *sn_out)
{
    double md = m, sn = 0.0;
    float cancel = -1.0f;
    OVER_ROW(cols,
        _Pragma("omp simd reduction(max:cancel) reduction(+:sn)")
        for (int64_t j = lo; j < hi; j++) {
            sn += j >= from ? gn[j] : -0.0;
            float o = (float)((double)gr[j] - exp32((double)xr[j] - md) * ps);
            float c = fabsf(gr[j]) - fabsf(o) * 0x1p12f;
            c = (skip_max & (xr[j] == m)) ? -1.0f : c;
            cancel = c > cancel ? c : cancel;
            out[j] = o;
        });
    *sn_out = sn;
    return cancel;
}

/* sum(g) over a row, in the order of grad_sweep_f32_c's. */
INLINE double sum_f32_c(const float *g, int64_t cols)
{
    double s = 0.0;
    OVER_ROW(cols,
        _Pragma("omp simd reduction(+:s)")
        for (int64_t j = lo; j < hi; j++) s += j >= from ? g[j] : -0.0);
    return s;
}

/* The first j with x_j == m (there is one), 16 entries at a time. */
INLINE int64_t first_at(const float *xr, int64_t cols, float m)
{
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) {
        int any = 0;
        _Pragma("omp simd reduction(|:any)")
        for (int64_t j = c; j < c + 16; j++) any |= xr[j] == m;
        if (any) break;
    }
    while (c < cols - 1 && xr[c] != m) c++;
    return c;
}

#if COURSEPKG_VARIANTS
/* The same two sweeps written with AVX-512 intrinsics for x86-64-v4.
 * The compiler's version of exp32 spends most of the sweep on the
 * polynomial (eight FMAs per eight entries) and on the clamps and selects
 * around it; here the exponential reduces further, with a table:
 *
 *   N = round(t * 16 / ln 2),  r = t - N ln(2)/16,  |r| <= ln(2)/32,
 *   e**t = 2**(N >> 4) * T[N & 15] * (1 + q(r)),   T[j] = 2**(j/16),
 *
 * q the degree-5 Taylor polynomial of e**r - 1 (remainder below
 * r**6/720 = 1.5e-13), the table looked up in registers (vpermt2pd reads
 * the low four bits of N), the power of two added to the exponent bits.
 * r from one FMA with ln(2)/16 rounded to double: |N| <= 6926 for t >= -300,
 * 2.4e-14.  In all below 2e-13 relative error, inside exp32's 1.1e-12.
 * Lanes where t < -300 (or -inf) are computed with garbage and then
 * masked: they add nothing and their exponential is 0. */
#define V4 static inline __attribute__((always_inline, target("arch=x86-64-v4")))

static const double EXP2_SIXTEENTHS[16] = {
    0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0,
};

/* m - 300 in float32, but below m: past 2**33 the float32 spacing at m is
 * 1024 or more and m - 300 rounds back to m, which left the entries equal
 * to m out of the lanes that get an exponential (the gradient of tied
 * maxima of 1e10 came out as g itself).  x > below_by_300(m) picks the
 * lanes whose x - m > -300 (those within a rounding of it either way add
 * e**-300 at most). */
V4 float below_by_300(float m)
{
    float low = m - 300.0f;
    return low < m ? low : nextafterf(m, -INFINITY);
}

V4 __m512d exp8_avx512(__m512d t)
{
    const __m512d shift = _mm512_set1_pd(0x1.8p52);
    __m512d nd = _mm512_fmadd_pd(t, _mm512_set1_pd(0x1.71547652b82fep+4), shift);
    /* nd's bits are those of 1.5 * 2**52 plus N: their low 16 bits are N's
     * (mod 2**16), which is all the lookup (4 bits) and the power of two
     * (bits 4-15, shifted into the exponent field) read */
    __m512i n = _mm512_castpd_si512(nd);
    nd = _mm512_sub_pd(nd, shift);
    __m512d r = _mm512_fnmadd_pd(nd, _mm512_set1_pd(0x1.62e42fefa39efp-5), t);
    __m512d q = _mm512_fmadd_pd(_mm512_set1_pd(1.0 / 120.0), r, _mm512_set1_pd(1.0 / 24.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 6.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.5));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0));
    q = _mm512_mul_pd(q, r);
    __m512d tab = _mm512_permutex2var_pd(_mm512_loadu_pd(EXP2_SIXTEENTHS), n,
                                         _mm512_loadu_pd(EXP2_SIXTEENTHS + 8));
    __m512d e = _mm512_fmadd_pd(tab, q, tab); /* in [0.97, 2.1): normal */
    __m512i scale = _mm512_slli_epi64(_mm512_srli_epi64(n, 4), 52);
    return _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(e), scale));
}

/* How far ahead (entries) the sweeps ask for the rows they read from
 * memory (measured: 64 and 128 entries 3% faster than none, 256 7% slower).
 * A prefetch past the end of an array does not fault. */
#define AHEAD 64

/* the lanes of the 16 entries from j that lie in a row of `cols` */
#define LIVE16(cols, j) \
    ((cols) - (j) >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << ((cols) - (j))) - 1u))

/* 16 floats from x + j (those past `cols` read as 0, not from memory),
 * as two halves of float64 minus m, and the mask of the lanes in the row */
#define LOAD16(x, j, cols, md, live, v, t0, t1)                                \
    __mmask16 live = LIVE16(cols, j);                                          \
    __m512 v = _mm512_maskz_loadu_ps(live, (x) + (j));                         \
    __m512d t0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), md); \
    __m512d t1 = _mm512_sub_pd(HIGH8(x, j, live), md)

/* entries 8-15 of the 16 at x + j as float64, loaded again (a load and a
 * conversion in one instruction, instead of a shuffle out of the 16) */
#define HIGH8(x, j, live) \
    _mm512_cvtps_pd(_mm256_maskz_loadu_ps((__mmask8)((live) >> 8), (x) + (j) + 8))

V4 double sweep_f32_avx512(const float *xr, int64_t cols, float m, int64_t *ties_out,
                           const float *xn, float *mn_out, int *nan_out,
                           const float *xp, float *op, double a, double b)
{
    const __m512 mv = _mm512_set1_ps(m), low = _mm512_set1_ps(below_by_300(m));
    const __m512d md = _mm512_set1_pd(m), av = _mm512_set1_pd(a), bv = _mm512_set1_pd(b);
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    __m512 mn = _mm512_set1_ps(-INFINITY);
    __mmask16 nan = 0;
    int64_t ties = 0;
    for (int64_t j = 0; j < cols; j += 16) {
        LOAD16(xr, j, cols, md, live, v, t0, t1);
        __mmask16 lt = _mm512_mask_cmp_ps_mask(live, v, mv, _CMP_LT_OQ);
        __mmask16 below = lt & _mm512_cmp_ps_mask(v, low, _CMP_GT_OQ);
        ties += __builtin_popcount(live & ~lt); /* m is the maximum, no NaN */
        acc0 = _mm512_mask_add_pd(acc0, (__mmask8)below, acc0, exp8_avx512(t0));
        acc1 = _mm512_mask_add_pd(acc1, (__mmask8)(below >> 8), acc1, exp8_avx512(t1));
        _mm_prefetch((const char *)(xn + j + AHEAD), _MM_HINT_T0);
        __m512 vn = _mm512_maskz_loadu_ps(live, xn + j);
        mn = _mm512_mask_max_ps(mn, live, vn, mn); /* a NaN keeps mn; flagged below */
        nan |= _mm512_mask_cmp_ps_mask(live, vn, vn, _CMP_UNORD_Q);
        __m512 vp = _mm512_maskz_loadu_ps(live, xp + j);
        __m512d p0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(vp)), av);
        __m512d p1 = _mm512_sub_pd(HIGH8(xp, j, live), av);
        if (b != 0.0) { /* loop-invariant: the compiler makes two loops */
            p0 = _mm512_sub_pd(p0, bv);
            p1 = _mm512_sub_pd(p1, bv);
        }
        _mm256_mask_storeu_ps(op + j, (__mmask8)live, _mm512_cvtpd_ps(p0));
        _mm256_mask_storeu_ps(op + j + 8, (__mmask8)(live >> 8), _mm512_cvtpd_ps(p1));
    }
    *ties_out = ties;
    *mn_out = _mm512_reduce_max_ps(mn);
    *nan_out = nan != 0;
    return _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
}

/* sum(g) over a row, in the order of grad_sweep_f32_avx512's. */
V4 double sum_f32_avx512(const float *g, int64_t cols)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (int64_t j = 0; j < cols; j += 16) {
        __mmask16 live = LIVE16(cols, j);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm256_maskz_loadu_ps((__mmask8)live, g + j)));
        s1 = _mm512_add_pd(s1, HIGH8(g, j, live));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

V4 float grad_sweep_f32_avx512(const float *xr, const float *gr, float *out,
                               int64_t cols, float m, double ps, int skip_max,
                               const float *gn, double *sn_out)
{
    const __m512 mv = _mm512_set1_ps(m), low = _mm512_set1_ps(below_by_300(m));
    const __m512d md = _mm512_set1_pd(m), psv = _mm512_set1_pd(ps);
    const __mmask16 skip = skip_max ? 0xFFFF : 0;
    __m512 cancel = _mm512_set1_ps(-1.0f);
    __m512d sn0 = _mm512_setzero_pd(), sn1 = _mm512_setzero_pd();
    for (int64_t j = 0; j < cols; j += 16) {
        _mm_prefetch((const char *)(xr + j + AHEAD), _MM_HINT_T0);
        _mm_prefetch((const char *)(gn + j + AHEAD), _MM_HINT_T0);
        LOAD16(xr, j, cols, md, live, v, t0, t1);
        sn0 = _mm512_add_pd(sn0, _mm512_cvtps_pd(_mm256_maskz_loadu_ps((__mmask8)live, gn + j)));
        sn1 = _mm512_add_pd(sn1, HIGH8(gn, j, live));
        __mmask16 some = _mm512_cmp_ps_mask(v, low, _CMP_GT_OQ); /* else e = 0 */
        __m512 g = _mm512_maskz_loadu_ps(live, gr + j);
        /* g - e * ps in one rounding, with e = 0 where x - m < -300 (and
         * at -inf): g - 0 * ps, whose zero takes its sign as the generic
         * sweep's does (-0.0 - 0 * ps is +0.0 for ps < 0) */
        __m512d e0 = _mm512_maskz_mov_pd((__mmask8)some, exp8_avx512(t0));
        __m512d e1 = _mm512_maskz_mov_pd((__mmask8)(some >> 8), exp8_avx512(t1));
        __m512d o0 = _mm512_fnmadd_pd(e0, psv, _mm512_cvtps_pd(_mm512_castps512_ps256(g)));
        __m512d o1 = _mm512_fnmadd_pd(e1, psv, HIGH8(gr, j, live));
        __m512 o = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(o0)),
                                      _mm512_cvtpd_ps(o1), 1);
        _mm512_mask_storeu_ps(out + j, live, o);
        __m512 c = _mm512_fnmadd_ps(_mm512_abs_ps(o), _mm512_set1_ps(0x1p12f),
                                    _mm512_abs_ps(g));
        __mmask16 use = live & ~(skip & _mm512_cmp_ps_mask(v, mv, _CMP_EQ_OQ));
        cancel = _mm512_mask_max_ps(cancel, use, c, cancel); /* NaN: keeps cancel */
    }
    *sn_out = _mm512_reduce_add_pd(_mm512_add_pd(sn0, sn1));
    return _mm512_reduce_max_ps(cancel);
}
#endif

/* a * b + c: one instruction with FMA, two roundings without (the
 * baseline variant: fma() would be a libm call per entry there) */
#define MUL_ADD(a, b, c) ((a) * (b) + (c))

#define DEFINE_KERNELS(SUFFIX, ATTR, FMA, SWEEP)                                        \
ATTR int cp_log_softmax_f32##SUFFIX(const float *x, float *out, float *mx,     \
                                    double *lognorm, int64_t rows,             \
                                    int64_t cols)                              \
{                                                                              \
    if (rows <= 0) return 0;                                                   \
    if (cols > INT32_MAX) return 1; /* the sweep counts ties in an int */      \
    /* Row i's sweep takes row i+1's maximum and writes row i-1's output    \
     * (sweep_f32_c).  At i = 0 there is no row i-1: the sweep copies row 0 \
     * of x into row 0 of the output, which the next sweep (or the last     \
     * loop, after the rows) overwrites. */                                 \
    float mn = -INFINITY;                                                      \
    int nan = 0;                                                               \
    OVER_ROW(cols,                                                             \
        _Pragma("omp simd reduction(max:mn) reduction(|:nan)")                 \
        for (int64_t j = lo; j < hi; j++) {                                    \
            mn = x[j] > mn ? x[j] : mn;                                        \
            nan |= x[j] != x[j];                                               \
        });                                                                    \
    TRUE_MAX(mn, x, cols, FLT_MAX);                                            \
    double a = 0.0, b = 0.0; /* the previous row's output is (x - a) - b */    \
    for (int64_t i = 0; i < rows; i++) {                                       \
        if (nan || !(mn > -INFINITY && mn < INFINITY)) return 1;               \
        const float *xr = x + i * cols;                                        \
        float m = mn;                                                          \
        int64_t ties;                                                          \
        double md = m, below = sweep_f32##SWEEP(                               \
            xr, cols, m, &ties, i + 1 < rows ? xr + cols : xr, &mn, &nan,      \
            i > 0 ? xr - cols : xr, out + (i > 0 ? i - 1 : 0) * cols, a, b);   \
        double L = log1p(below + (double)(ties - 1));                          \
        /* x - (m + L) in one subtraction where m + L is exact to 2**-29 of  \
         * every |out_j| >= L (0.03 ULP), else (x - m) - L */                 \
        int one = fabs(md) <= 0x1p24 * L;                                      \
        /* L = 0: (x - m) - 0, so that x = m = -0.0 gives +0.0 (as          \
         * log(1) is), not -0.0 - (m + 0) = -0.0 */                          \
        a = one && L > 0.0 ? md + L : md;                                      \
        b = one ? 0.0 : L;                                                     \
        mx[i] = m;                                                             \
        lognorm[i] = L;                                                        \
    }                                                                          \
    const float *xl = x + (rows - 1) * cols;                                   \
    float *ol = out + (rows - 1) * cols;                                       \
    OVER_ROW(cols,                                                             \
        _Pragma("omp simd")                                                    \
        for (int64_t j = lo; j < hi; j++)                                      \
            ol[j] = (float)(((double)xl[j] - a) - b));                         \
    return 0;                                                                  \
}                                                                              \
                                                                               \
ATTR int cp_log_softmax_f64##SUFFIX(const double *x, double *out, double *mx,  \
                                    double *lognorm, int64_t rows,             \
                                    int64_t cols)                              \
{                                                                              \
    for (int64_t i = 0; i < rows; i++) {                                       \
        const double *xr = x + i * cols;                                       \
        double *o = out + i * cols;                                            \
        double m = -INFINITY;                                                  \
        int nan = 0;                                                           \
        _Pragma("omp simd reduction(max:m) reduction(|:nan)")                  \
        for (int64_t j = 0; j < cols; j++) {                                   \
            m = xr[j] > m ? xr[j] : m;                                         \
            nan |= xr[j] != xr[j];                                             \
        }                                                                      \
        TRUE_MAX(m, xr, cols, DBL_MAX);                                        \
        if (nan || !(m > -INFINITY && m < INFINITY)) return 1;                 \
        double below = 0.0, ties = 0.0;                                        \
        _Pragma("omp simd reduction(+:below,ties)")                            \
        for (int64_t j = 0; j < cols; j++) {                                   \
            double t = xr[j] - m;                                              \
            double e = exp64(t, minus_error(xr[j], m, t));                \
            below += xr[j] == m ? 0.0 : e;                                     \
            ties += xr[j] == m ? 1.0 : 0.0;                                    \
        }                                                                      \
        double L = log1p(below + (ties - 1.0));                                \
        _Pragma("omp simd")                                                    \
        for (int64_t j = 0; j < cols; j++) {                                   \
            double t = xr[j] - m;                                              \
            o[j] = (t - L) + minus_error(xr[j], m, t);                         \
        }                                                                      \
        mx[i] = m;                                                             \
        lognorm[i] = L;                                                        \
    }                                                                          \
    return 0;                                                                  \
}                                                                              \
                                                                               \
ATTR int cp_log_softmax_grad_f32##SUFFIX(const float *x, const float *mx,      \
                                         const double *lognorm,                \
                                         const float *g, float *grad,          \
                                         int64_t rows, int64_t cols)           \
{                                                                              \
    if (rows <= 0) return 0;                                                   \
    /* the next row's sum(g), taken in the sweep before; the first row's in  \
     * the same order, so that a row's result does not depend on whether it \
     * starts a block of rows (threads) */                                   \
    double sn = sum_f32##SWEEP(g, cols);                                       \
    for (int64_t i = 0; i < rows; i++) {                                       \
        const float *xr = x + i * cols, *gr = g + i * cols;                    \
        float *out = grad + i * cols;                                          \
        float m = mx[i];                                                       \
        double md = m, L = lognorm[i], s = sn;                                 \
        /* g_j - p_j * s may cancel (soft targets near the prediction): the \
         * result keeps p_j's relative error (exp32's and L's, 1.1e-12     \
         * each) times p_j * s / |result|.  Up to 2**12 that is 0.15 ULP; a \
         * row with an entry beyond is done again with float64             \
         * exponentials, L summed again from them and one rounding (FMA)   \
         * per entry. */                                                    \
        double ps = exp(-L) * s; /* p_j * s = e**(x_j - m) * ps, x_j - m exact */ \
        /* cancellation beyond 2**12 leaves |out_j| below 2**-12 |g_j| (and  \
         * only then, as g_j and p_j * s are then within 2**-12): checked  \
         * in float32 lanes in the same sweep.  The maximal entry of a row \
         * with p_k > 0.6 is left out: it is computed apart below (and     \
         * cancels whenever a confident prediction meets the loss's        \
         * upstream gradient at its target). */                            \
        float cancel = grad_sweep_f32##SWEEP(xr, gr, out, cols, m, ps, L < 0.5, \
                                             i + 1 < rows ? gr + cols : gr, &sn); \
        if (cancel > 0.0f) {                                                   \
            double below = 0.0, ties = 0.0;                                    \
            _Pragma("omp simd reduction(+:below,ties)")                        \
            for (int64_t j = 0; j < cols; j++) {                               \
                double e = exp64((double)xr[j] - md, 0.0);                     \
                below += ((xr[j] == m) | (xr[j] == -INFINITY)) ? 0.0 : e;      \
                ties += xr[j] == m ? 1.0 : 0.0;                                \
            }                                                                  \
            L = log1p(below + (ties - 1.0));                                   \
            ps = exp(-L) * s;                                                  \
            _Pragma("omp simd")                                                \
            for (int64_t j = 0; j < cols; j++) {                               \
                double e = exp64((double)xr[j] - md, 0.0);                     \
                e = xr[j] == -INFINITY ? 0.0 : e;                              \
                out[j] = (float)FMA(-e, ps, (double)gr[j]);                    \
            }                                                                  \
        }                                                                      \
        if (L < 0.5) { /* one maximal entry, p_k > 0.6 */                      \
            int64_t k = first_at(xr, cols, m);                                 \
            out[k] = (float)(-sum_except(gr, cols, k) - s * expm1(-L));        \
        }                                                                      \
    }                                                                          \
    return 0;                                                                  \
}                                                                              \
                                                                               \
ATTR int cp_log_softmax_grad_f64##SUFFIX( const double *x, const double *mx,   \
                                          const double *lognorm,               \
                                          const double *g, double *grad,       \
                                          int64_t rows, int64_t cols)          \
{                                                                              \
    for (int64_t i = 0; i < rows; i++) {                                       \
        const double *xr = x + i * cols, *gr = g + i * cols;                   \
        double *out = grad + i * cols;                                         \
        double m = mx[i], L = lognorm[i], s = 0.0;                             \
        _Pragma("omp simd reduction(+:s)")                                     \
        for (int64_t j = 0; j < cols; j++) s += gr[j];                         \
        _Pragma("omp simd")                                                    \
        for (int64_t j = 0; j < cols; j++) {                                   \
            double t = xr[j] - m, u = t - L;                                   \
            double c = minus_error(xr[j], m, t) + minus_error(t, L, u);        \
            out[j] = gr[j] - exp64(u, c) * s;                             \
        }                                                                      \
        if (L < 0.5) {                                                         \
            int64_t k = 0;                                                     \
            while (k < cols - 1 && xr[k] != m) k++;                            \
            out[k] = -sum_except(gr, cols, k) - s * expm1(-L);                 \
        }                                                                      \
    }                                                                          \
    return 0;                                                                  \
}

#if COURSEPKG_VARIANTS
DEFINE_KERNELS(_v4, __attribute__((target("arch=x86-64-v4"))), __builtin_fma, _avx512)
DEFINE_KERNELS(_v3, __attribute__((target("arch=x86-64-v3"))), __builtin_fma, _c)
#endif
DEFINE_KERNELS(_base, , MUL_ADD, _c)

/* The widest variant this CPU (and its operating system) runs:
 * 4 = x86-64-v4, 3 = x86-64-v3, 0 = the baseline build only. */
int cp_cpu_level(void)
{
#if COURSEPKG_VARIANTS
    /* feature by feature: __builtin_cpu_supports("x86-64-v4") is GCC 12's
     * and Clang 15's (Clang 14 refuses the string, and the build fell back
     * to the baseline); each of these checks that the OS saves the
     * registers too.  Every CPU with these also has the rest of its level
     * (MOVBE, F16C, LZCNT). */
    __builtin_cpu_init();
    int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
             && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    if (v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512cd"))
        return 4;
    if (v3) return 3;
#endif
    return 0;
}

/* Row blocks on OpenMP threads (built with -fopenmp: in a process that has
 * loaded PyTorch, its libgomp, so these run on torch's own worker threads
 * instead of competing with them; without -fopenmp, one thread). */
#define BLOCK_ROWS(cols) ((cols) >= 65536 ? 1 : 65536 / ((cols) > 0 ? (cols) : 1))

/* The body every parallel entry point shares: row blocks of BLOCK_ROWS on
 * OpenMP threads (dynamic: a thread on a busy core takes fewer), each
 * block through CALL, which sees the block's first row b and its length
 * n; nonzero if any block refused. */
#define PAR_BLOCKS(CALL)                                                       \
    int64_t per = BLOCK_ROWS(cols), bad = 0;                                   \
    (void)threads;                                                             \
    _Pragma("omp parallel for num_threads(threads) schedule(dynamic) reduction(|:bad) if(rows * cols >= 131072)") \
    for (int64_t b = 0; b < rows; b += per) {                                  \
        int64_t n = rows - b < per ? rows - b : per;                           \
        bad |= CALL;                                                           \
    }                                                                          \
    return (int)bad;

#define DEFINE_PARALLEL(SUFFIX)                                                \
int cp_par_log_softmax_f32##SUFFIX(const float *x, float *out, float *mx,      \
                                   double *lognorm, int64_t rows,              \
                                   int64_t cols, int threads)                  \
{                                                                              \
    PAR_BLOCKS(cp_log_softmax_f32##SUFFIX(x + b * cols, out + b * cols,        \
                                          mx + b, lognorm + b, n, cols))       \
}                                                                              \
int cp_par_log_softmax_f64##SUFFIX(const double *x, double *out, double *mx,   \
                                   double *lognorm, int64_t rows,              \
                                   int64_t cols, int threads)                  \
{                                                                              \
    PAR_BLOCKS(cp_log_softmax_f64##SUFFIX(x + b * cols, out + b * cols,        \
                                          mx + b, lognorm + b, n, cols))       \
}                                                                              \
int cp_par_log_softmax_grad_f32##SUFFIX(const float *x, const float *mx,       \
                                        const double *lognorm,                 \
                                        const float *g, float *grad,           \
                                        int64_t rows, int64_t cols,            \
                                        int threads)                           \
{                                                                              \
    PAR_BLOCKS(cp_log_softmax_grad_f32##SUFFIX(x + b * cols, mx + b,           \
                                               lognorm + b, g + b * cols,      \
                                               grad + b * cols, n, cols))      \
}                                                                              \
int cp_par_log_softmax_grad_f64##SUFFIX(const double *x, const double *mx,     \
                                        const double *lognorm,                 \
                                        const double *g, double *grad,         \
                                        int64_t rows, int64_t cols,            \
                                        int threads)                           \
{                                                                              \
    PAR_BLOCKS(cp_log_softmax_grad_f64##SUFFIX(x + b * cols, mx + b,           \
                                               lognorm + b, g + b * cols,      \
                                               grad + b * cols, n, cols))      \
}

#if COURSEPKG_VARIANTS
DEFINE_PARALLEL(_v4)
DEFINE_PARALLEL(_v3)
#endif
DEFINE_PARALLEL(_base)
