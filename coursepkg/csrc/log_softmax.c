/* Fused log_softmax and its gradient over the rows of a C-contiguous
 * (rows, cols) float32 or float64 array: the compiled path of
 * coursepkg.compiled (the Python side says how it is built and loaded).
 *
 * One row at a time, in three sweeps that stay in the cache:
 *
 *   m    = max_j x_j
 *   rest = sum_{x_j < m} exp(x_j - m) + (number of ties at m) - 1
 *   L    = log1p(rest)
 *   out_j = (x_j - m) - L
 *
 * Everything inside is float64: for float32 input x_j - m is exact, the
 * exponentials carry 1.1e-12 relative error (exp32; 2e-16 for float64
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
 * the functions return 1 and the caller hands the array to the teaching
 * version, which documents those special values.
 *
 * Build: any C99 compiler, -O3 -fno-trapping-math (lets the compiler turn
 * the clamps in the exponentials into vector blends).  On x86-64 with GCC or
 * Clang each kernel is compiled three times, for x86-64-v4 (AVX-512),
 * x86-64-v3 (AVX2 + FMA) and the baseline; the caller picks one with
 * cp_cpu_level().  No -ffast-math: NaN, infinities and the order of the
 * roundings above are relied on.
 */
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
 * NaN before).  t is clamped at -300: e**-300 = 5e-131, and that times any
 * float32 sum (at most 2**31 * 3.4e38 = 7e47) is below float32's smallest
 * subnormal, so the clamp changes no float32 result.  On |r| <= ln(2)/2 a
 * degree-8 polynomial interpolating exp at the Chebyshev nodes (computed
 * with mpmath at 50 digits, coefficients rounded to double): relative error
 * below 1.1e-12.  The forward needs 1e-9 (a float32 ULP is 6e-8); the
 * gradient's cancellation check (cp_log_softmax_grad_f32) counts on 1.1e-12.
 * Branch-free, so loops vectorise. */
INLINE double exp32(double t)
{
    double kd, r, p;
    int64_t k;
    t = t > -300.0 ? t : -300.0;                       /* one vmaxpd */
    ROUND_OVER_LN2(t, kd, k);
    r = (t - kd * LN2_HI) - kd * LN2_LO;
    p = 2.4876164022625967e-05;
    p = p * r + 0.00019915866926782682;
    p = p * r + 0.0013888821677630362;
    p = p * r + 0.008333266097949614;
    p = p * r + 0.041666666890957;
    p = p * r + 0.16666666891045775;
    p = p * r + 0.49999999999797934;
    p = p * r + 0.9999999999797852;
    p = p * r + 1.0;
    return p * pow2(k);
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

/* g_k - sum(g) as minus the sum of the others: with g_k = 1 and the
 * others 3e-22, sum(g) rounds to 1 and g_k - sum(g) to 0. */
#define SUM_EXCEPT(T)                                                          \
INLINE double sum_except_##T(const T *g, int64_t cols, int64_t k)             \
{                                                                              \
    double rest = 0.0;                                                         \
    for (int64_t j = 0; j < cols; j++) rest += j == k ? 0.0 : (double)g[j];    \
    return rest;                                                               \
}
SUM_EXCEPT(float)
SUM_EXCEPT(double)
#define sum_except(g, cols, k) _Generic((g), const float *: sum_except_float, \
                                             const double *: sum_except_double)(g, cols, k)

/* a * b + c: one instruction with FMA, two roundings without (the
 * baseline variant: fma() would be a libm call per entry there) */
#define MUL_ADD(a, b, c) ((a) * (b) + (c))

#define DEFINE_KERNELS(SUFFIX, ATTR, FMA)                                           \
ATTR int cp_log_softmax_f32##SUFFIX(const float *x, float *out, float *mx,     \
                                    double *lognorm, int64_t rows,             \
                                    int64_t cols)                              \
{                                                                              \
    for (int64_t i = 0; i < rows; i++) {                                       \
        const float *xr = x + i * cols;                                        \
        float *o = out + i * cols;                                             \
        float m = -INFINITY;                                                   \
        int nan = 0;                                                           \
        _Pragma("omp simd reduction(max:m) reduction(|:nan)")                  \
        for (int64_t j = 0; j < cols; j++) {                                   \
            m = xr[j] > m ? xr[j] : m;                                         \
            nan |= xr[j] != xr[j];                                             \
        }                                                                      \
        if (nan || !(m > -INFINITY && m < INFINITY)) return 1;                 \
        double md = m, below = 0.0, ties = 0.0;                                \
        _Pragma("omp simd reduction(+:below,ties)")                            \
        for (int64_t j = 0; j < cols; j++) {                                   \
            double e = exp32((double)xr[j] - md);                              \
            /* -inf adds nothing (exp32 clamps it to e**-300) */               \
            below += (xr[j] == m) | (xr[j] == -INFINITY) ? 0.0 : e;            \
            ties += xr[j] == m ? 1.0 : 0.0;                                    \
        }                                                                      \
        double L = log1p(below + (ties - 1.0));                                \
        /* x - (m + L) in one subtraction where m + L is exact to 2**-29 of  \
         * every |out_j| >= L (0.03 ULP), else (x - m) - L */                 \
        double shift = md + L;                                                 \
        if (fabs(md) <= 0x1p24 * L) {                                          \
            _Pragma("omp simd")                                                \
            for (int64_t j = 0; j < cols; j++)                                 \
                o[j] = (float)((double)xr[j] - shift);                         \
        } else {                                                               \
            _Pragma("omp simd")                                                \
            for (int64_t j = 0; j < cols; j++)                                 \
                o[j] = (float)(((double)xr[j] - md) - L);                      \
        }                                                                      \
        mx[i] = m;                                                             \
        lognorm[i] = L;                                                        \
    }                                                                          \
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
    for (int64_t i = 0; i < rows; i++) {                                       \
        const float *xr = x + i * cols, *gr = g + i * cols;                    \
        float *out = grad + i * cols;                                          \
        float m = mx[i];                                                       \
        double md = m, L = lognorm[i], s = 0.0;                                \
        _Pragma("omp simd reduction(+:s)")                                     \
        for (int64_t j = 0; j < cols; j++) s += gr[j];                         \
        /* g_j - p_j * s may cancel (soft targets near the prediction): the \
         * result keeps p_j's relative error (exp32's and L's, 1.1e-12     \
         * each) times p_j * s / |result|.  Up to 2**12 that is 0.15 ULP; a \
         * row with an entry beyond is done again with float64             \
         * exponentials, L summed again from them and one rounding (FMA)   \
         * per entry. */                                                    \
        double ps = exp(-L) * s; /* p_j * s = e**(x_j - m) * ps, x_j - m exact */ \
        _Pragma("omp simd")                                                    \
        for (int64_t j = 0; j < cols; j++) {                                   \
            double e = exp32((double)xr[j] - md);                              \
            e = xr[j] == -INFINITY ? 0.0 : e; /* g_j - 0 * s: +0.0 for g = 0 */ \
            out[j] = (float)((double)gr[j] - e * ps);                          \
        }                                                                      \
        /* cancellation beyond 2**12 leaves |out_j| below 2**-12 |g_j| (and  \
         * only then, as g_j and p_j * s are then within 2**-12): a check in \
         * float32 lanes, a quarter of the cost of one in the loop above.   \
         * The maximal entry of a row with p_k > 0.6 is left out: it is     \
         * computed apart below (and cancels whenever a confident          \
         * prediction meets the loss's upstream gradient at its target). */ \
        int64_t k = -1;                                                        \
        if (L < 0.5)                                                           \
            for (k = 0; k < cols - 1 && xr[k] != m; k++) {}                    \
        float cancel = -1.0f;                                                  \
        _Pragma("omp simd reduction(max:cancel)")                              \
        for (int64_t j = 0; j < cols; j++) {                                   \
            float c = fabsf(gr[j]) - fabsf(out[j]) * 0x1p12f;                  \
            c = j == k ? -1.0f : c;                                            \
            cancel = c > cancel ? c : cancel;                                  \
        }                                                                      \
        if (cancel > 0.0f) {                                                   \
            double below = 0.0, ties = 0.0;                                    \
            _Pragma("omp simd reduction(+:below,ties)")                        \
            for (int64_t j = 0; j < cols; j++) {                               \
                double e = exp64((double)xr[j] - md, 0.0);                     \
                below += (xr[j] == m) | (xr[j] == -INFINITY) ? 0.0 : e;        \
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
            for (k = 0; k < cols - 1 && xr[k] != m; k++) {}                    \
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

/* The x86-64-v4/v3 variants need GCC 11 or Clang 12 (the loader retries
 * with -DCOURSEPKG_BASELINE_ONLY when a compiler refuses them). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(COURSEPKG_BASELINE_ONLY)
#define COURSEPKG_VARIANTS 1
#endif

#if COURSEPKG_VARIANTS
DEFINE_KERNELS(_v4, __attribute__((target("arch=x86-64-v4"))), __builtin_fma)
DEFINE_KERNELS(_v3, __attribute__((target("arch=x86-64-v3"))), __builtin_fma)
#endif
DEFINE_KERNELS(_base, , MUL_ADD)

/* The widest variant this CPU (and its operating system) runs:
 * 4 = x86-64-v4, 3 = x86-64-v3, 0 = the baseline build only. */
int cp_cpu_level(void)
{
#if COURSEPKG_VARIANTS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return 4;
    if (__builtin_cpu_supports("x86-64-v3")) return 3;
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
