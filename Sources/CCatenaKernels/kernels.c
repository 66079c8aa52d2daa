// CPU-specific kernels for Catena: GEMM micro-kernels and vectorised transcendental loops.
//
// Every kernel exists twice: an AVX2+FMA version (x86-64 only, compiled per function with a target attribute, so no
// compiler flag is needed) and a portable version; the single-precision GEMM tiles have an AVX-512F version too. The choice is made once per process from CPUID; other CPUs and
// other architectures get the portable code. The transcendental functions are written with arithmetic and bit
// operations only (no library calls), so the compiler vectorises the loops at the width the target allows.
#include "CatenaKernels.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define CATENA_X86 1
#else
#define CATENA_X86 0
#endif

// ---------------------------------------------------------------------------------------------------- dispatch

static int g_mode = -1;           // -1: not yet detected, 0: portable, 1: AVX2+FMA, 2: AVX-512F as well
static int g_force_portable = 0;
static int g_limit = 2;           // the highest level the process may use (catena_kernels_limit)

static int detect_level(void) {
#if CATENA_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6) != 6) return 0;  // the OS must save XMM and YMM state
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (!((b >> 5) & 1)) return 0;
    // AVX-512F, with the OS saving the opmask and all 32 ZMM registers.
    return ((b >> 16) & 1) && (xlo & 0xe0) == 0xe0 ? 2 : 1;
#else
    return 0;
#endif
}

static inline int kernel_level(void) {
    if (__atomic_load_n(&g_force_portable, __ATOMIC_RELAXED)) return 0;
    int m = __atomic_load_n(&g_mode, __ATOMIC_RELAXED);
    if (m < 0) {
        m = detect_level();
        __atomic_store_n(&g_mode, m, __ATOMIC_RELAXED);
    }
    int limit = __atomic_load_n(&g_limit, __ATOMIC_RELAXED);
    return m < limit ? m : limit;
}

static inline int use_avx2(void) { return kernel_level() >= 1; }
static inline int use_avx512(void) { return kernel_level() >= 2; }

int catena_kernels_level(void) { return kernel_level(); }

void catena_kernels_limit(int level) { __atomic_store_n(&g_limit, level < 0 ? 0 : level, __ATOMIC_RELAXED); }

int catena_kernels_use_avx2(void) { return use_avx2(); }

void catena_kernels_force_portable(int force) { __atomic_store_n(&g_force_portable, force ? 1 : 0, __ATOMIC_RELAXED); }

// ---------------------------------------------------------------------------------------------------- GEMM

static void sgemm_portable(long k, float alpha, const float *a, long rsa, long csa, const float *b, long rsb,
                           float *c, long rsc, int accumulate) {
    float acc[CATENA_SGEMM_MR][CATENA_SGEMM_NR];
    memset(acc, 0, sizeof acc);
    for (long p = 0; p < k; p++) {
        const float *bp = b + p * rsb;
        for (int i = 0; i < CATENA_SGEMM_MR; i++) {
            float ai = a[i * rsa + p * csa];
            for (int j = 0; j < CATENA_SGEMM_NR; j++) acc[i][j] += ai * bp[j];
        }
    }
    for (int i = 0; i < CATENA_SGEMM_MR; i++) {
        float *ci = c + i * rsc;
        if (accumulate) {
            for (int j = 0; j < CATENA_SGEMM_NR; j++) ci[j] += alpha * acc[i][j];
        } else {
            for (int j = 0; j < CATENA_SGEMM_NR; j++) ci[j] = alpha * acc[i][j];
        }
    }
}

static void dgemm_portable(long k, double alpha, const double *a, long rsa, long csa, const double *b, long rsb,
                           double *c, long rsc, int accumulate) {
    double acc[CATENA_DGEMM_MR][CATENA_DGEMM_NR];
    memset(acc, 0, sizeof acc);
    for (long p = 0; p < k; p++) {
        const double *bp = b + p * rsb;
        for (int i = 0; i < CATENA_DGEMM_MR; i++) {
            double ai = a[i * rsa + p * csa];
            for (int j = 0; j < CATENA_DGEMM_NR; j++) acc[i][j] += ai * bp[j];
        }
    }
    for (int i = 0; i < CATENA_DGEMM_MR; i++) {
        double *ci = c + i * rsc;
        if (accumulate) {
            for (int j = 0; j < CATENA_DGEMM_NR; j++) ci[j] += alpha * acc[i][j];
        } else {
            for (int j = 0; j < CATENA_DGEMM_NR; j++) ci[j] = alpha * acc[i][j];
        }
    }
}

#if CATENA_X86
#define ROW_FMA(r)                                                \
    do {                                                          \
        __m256 t = _mm256_broadcast_ss(a##r);                     \
        c##r##0 = _mm256_fmadd_ps(t, b0, c##r##0);                \
        c##r##1 = _mm256_fmadd_ps(t, b1, c##r##1);                \
        a##r += csa;                                              \
    } while (0)

#define ROW_STORE(r)                                                                          \
    do {                                                                                      \
        float *cr = c + (r) * rsc;                                                            \
        if (accumulate) {                                                                     \
            _mm256_storeu_ps(cr, _mm256_fmadd_ps(al, c##r##0, _mm256_loadu_ps(cr)));          \
            _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(al, c##r##1, _mm256_loadu_ps(cr + 8)));  \
        } else {                                                                              \
            _mm256_storeu_ps(cr, _mm256_mul_ps(al, c##r##0));                                 \
            _mm256_storeu_ps(cr + 8, _mm256_mul_ps(al, c##r##1));                             \
        }                                                                                     \
    } while (0)

__attribute__((target("avx2,fma")))
static void sgemm_avx2(long k, float alpha, const float *a, long rsa, long csa, const float *b, long rsb,
                       float *c, long rsc, int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    const float *a0 = a, *a1 = a + rsa, *a2 = a + 2 * rsa, *a3 = a + 3 * rsa, *a4 = a + 4 * rsa, *a5 = a + 5 * rsa;
    // Start fetching the C tile now: in large products it is far from the core, and waiting for it after the
    // loop costs as much as the loop itself.
    for (int r = 0; r < 6; r++) {
        _mm_prefetch((const char *)(c + r * rsc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * rsc + 15), _MM_HINT_T0);
    }
    for (long p = 0; p < k; p++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        b += rsb;
        ROW_FMA(0); ROW_FMA(1); ROW_FMA(2); ROW_FMA(3); ROW_FMA(4); ROW_FMA(5);
    }
    __m256 al = _mm256_set1_ps(alpha);
    ROW_STORE(0); ROW_STORE(1); ROW_STORE(2); ROW_STORE(3); ROW_STORE(4); ROW_STORE(5);
}
#undef ROW_FMA
#undef ROW_STORE

#define ROW_FMA(r)                                                \
    do {                                                          \
        __m256d t = _mm256_broadcast_sd(a##r);                    \
        c##r##0 = _mm256_fmadd_pd(t, b0, c##r##0);                \
        c##r##1 = _mm256_fmadd_pd(t, b1, c##r##1);                \
        a##r += csa;                                              \
    } while (0)

#define ROW_STORE(r)                                                                          \
    do {                                                                                      \
        double *cr = c + (r) * rsc;                                                           \
        if (accumulate) {                                                                     \
            _mm256_storeu_pd(cr, _mm256_fmadd_pd(al, c##r##0, _mm256_loadu_pd(cr)));          \
            _mm256_storeu_pd(cr + 4, _mm256_fmadd_pd(al, c##r##1, _mm256_loadu_pd(cr + 4)));  \
        } else {                                                                              \
            _mm256_storeu_pd(cr, _mm256_mul_pd(al, c##r##0));                                 \
            _mm256_storeu_pd(cr + 4, _mm256_mul_pd(al, c##r##1));                             \
        }                                                                                     \
    } while (0)

__attribute__((target("avx2,fma")))
static void dgemm_avx2(long k, double alpha, const double *a, long rsa, long csa, const double *b, long rsb,
                       double *c, long rsc, int accumulate) {
    __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
    __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
    __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
    __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
    __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
    __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
    const double *a0 = a, *a1 = a + rsa, *a2 = a + 2 * rsa, *a3 = a + 3 * rsa, *a4 = a + 4 * rsa, *a5 = a + 5 * rsa;
    for (int r = 0; r < 6; r++) {
        _mm_prefetch((const char *)(c + r * rsc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * rsc + 7), _MM_HINT_T0);
    }
    for (long p = 0; p < k; p++) {
        __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
        b += rsb;
        ROW_FMA(0); ROW_FMA(1); ROW_FMA(2); ROW_FMA(3); ROW_FMA(4); ROW_FMA(5);
    }
    __m256d al = _mm256_set1_pd(alpha);
    ROW_STORE(0); ROW_STORE(1); ROW_STORE(2); ROW_STORE(3); ROW_STORE(4); ROW_STORE(5);
}
#undef ROW_FMA
#undef ROW_STORE
#endif

// Calls TILE(R, ...) with the tile height R a compile-time constant (1 to 6) equal to `mr` (6 for anything above),
// so that each instantiation keeps its accumulators in registers: the AVX2 tiles and the 8-lane AVX-512 ones.
#define CATENA_ROWS_1_TO_6(mr, TILE, ...)                  \
    switch (mr) {                                          \
    case 1: TILE(1, __VA_ARGS__); break;                   \
    case 2: TILE(2, __VA_ARGS__); break;                   \
    case 3: TILE(3, __VA_ARGS__); break;                   \
    case 4: TILE(4, __VA_ARGS__); break;                   \
    case 5: TILE(5, __VA_ARGS__); break;                   \
    default: TILE(6, __VA_ARGS__); break;                  \
    }

// The same for heights 1 to 8 (8 for anything above): the 16-lane AVX-512 tiles.
#define CATENA_ROWS_1_TO_8(mr, TILE, ...)                  \
    if ((mr) >= 8) {                                       \
        TILE(8, __VA_ARGS__);                              \
    } else if ((mr) == 7) {                                \
        TILE(7, __VA_ARGS__);                              \
    } else {                                               \
        CATENA_ROWS_1_TO_6(mr, TILE, __VA_ARGS__)          \
    }

#if CATENA_X86
// AVX-512F versions of the 6×16 single-precision tile: one ZMM register per row instead of two YMM ones, and the
// k loop unrolled by two into a second set of accumulators so that the FMA latency is hidden. Same operands and
// packing as the AVX2 kernels.
__attribute__((target("avx512f"), always_inline))
static inline void sgemm_tile_avx512(const int R, long k, int nr, float alpha, const float *a, long rsa, long csa,
                                     const float *b, long rsb, float *c, long rsc, int accumulate) {
    __m512 acc[8], acc2[8];
    for (int r = 0; r < R; r++) {
        acc[r] = _mm512_setzero_ps();
        acc2[r] = _mm512_setzero_ps();
        _mm_prefetch((const char *)(c + r * rsc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * rsc + 15), _MM_HINT_T0);
    }
    long p = 0;
    for (; p + 1 < k; p += 2) {
        __m512 b0 = _mm512_loadu_ps(b + p * rsb), b1 = _mm512_loadu_ps(b + (p + 1) * rsb);
        for (int r = 0; r < R; r++) {
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * rsa + p * csa]), b0, acc[r]);
            acc2[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * rsa + (p + 1) * csa]), b1, acc2[r]);
        }
    }
    if (p < k) {
        __m512 b0 = _mm512_loadu_ps(b + p * rsb);
        for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * rsa + p * csa]), b0, acc[r]);
    }
    __m512 al = _mm512_set1_ps(alpha);
    __mmask16 m = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    for (int r = 0; r < R; r++) {
        float *cr = c + r * rsc;
        __m512 v = _mm512_mul_ps(al, _mm512_add_ps(acc[r], acc2[r]));
        if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, cr));
        _mm512_mask_storeu_ps(cr, m, v);
    }
}

__attribute__((target("avx512f")))
static void sgemm_avx512(long k, float alpha, const float *a, long rsa, long csa, const float *b, long rsb,
                         float *c, long rsc, int accumulate) {
    sgemm_tile_avx512(6, k, 16, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
}

// Exactly `nr` ≤ 8 floats from p into the low lanes of a register, zeros above, reading nothing past them: the
// last columns of a B read in place may end at an unmapped page, and a masked load whose masked lanes cross a page
// boundary is many times slower than a plain one on some CPUs.
__attribute__((target("avx2,fma"), always_inline))
static inline __m128 load_floats4(const float *p, int n) {
    switch (n) {
    case 0: return _mm_setzero_ps();
    case 1: return _mm_load_ss(p);
    case 2: return _mm_castpd_ps(_mm_load_sd((const double *)p));
    case 3: return _mm_insert_ps(_mm_castpd_ps(_mm_load_sd((const double *)p)), _mm_load_ss(p + 2), 0x20);
    default: return _mm_loadu_ps(p);
    }
}

__attribute__((target("avx2,fma"), always_inline))
static inline __m256 load_floats8(const float *p, int nr) {
    if (nr >= 8) return _mm256_loadu_ps(p);
    if (nr <= 4) return _mm256_zextps128_ps256(load_floats4(p, nr));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)), load_floats4(p + 4, nr - 4), 1);
}

// The tile above for at most 8 columns (a ragged last panel) in 8-lane registers: the same sums in the same order
// (even and odd depth steps apart, then added), so the same results, at half the FMA cost where a 16-lane FMA takes
// two 8-lane slots (AMD's Zen 4). `maskb`: B's rows are read only in their first nr columns (B in place, unpacked).
// Up to 6 rows: 12 sums, two B rows and a broadcast fit the 16 registers 8-lane operations name without AVX-512VL.
__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void sgemm_tile8_avx512(const int R, const int maskb, long k, int nr, float alpha, const float *a, long rsa,
                                      long csa, const float *b, long rsb, float *c, long rsc, int accumulate) {
    __m256 acc[6], acc2[6];
    for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_ps();
        acc2[r] = _mm256_setzero_ps();
        _mm_prefetch((const char *)(c + r * rsc), _MM_HINT_T0);
    }
    long p = 0;
    for (; p + 1 < k; p += 2) {
        const float *p0 = b + p * rsb, *p1 = p0 + rsb;
        __m256 b0 = maskb ? load_floats8(p0, nr) : _mm256_loadu_ps(p0);
        __m256 b1 = maskb ? load_floats8(p1, nr) : _mm256_loadu_ps(p1);
        for (int r = 0; r < R; r++) {
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(a[r * rsa + p * csa]), b0, acc[r]);
            acc2[r] = _mm256_fmadd_ps(_mm256_set1_ps(a[r * rsa + (p + 1) * csa]), b1, acc2[r]);
        }
    }
    if (p < k) {
        const float *p0 = b + p * rsb;
        __m256 b0 = maskb ? load_floats8(p0, nr) : _mm256_loadu_ps(p0);
        for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(a[r * rsa + p * csa]), b0, acc[r]);
    }
    // C through AVX-512 masks (an AVX2 masked store is microcoded and slow on AMD's cores).
    __m256 al = _mm256_set1_ps(alpha);
    __mmask16 m = (__mmask16)((1u << nr) - 1);
    for (int r = 0; r < R; r++) {
        float *cr = c + r * rsc;
        __m256 v = _mm256_mul_ps(al, _mm256_add_ps(acc[r], acc2[r]));
        if (accumulate) v = _mm256_add_ps(v, _mm512_castps512_ps256(_mm512_maskz_loadu_ps(m, cr)));
        _mm512_mask_storeu_ps(cr, m, _mm512_castps256_ps512(v));
    }
}

// Rows of an at most 8-column tile in groups of at most 6 through sgemm_tile8_avx512 (each value the same sum).
__attribute__((target("avx512f,avx2,fma")))
static void sgemm_narrow_avx512(const int maskb, long k, int mr, int nr, float alpha, const float *a, long rsa, long csa,
                                const float *b, long rsb, float *c, long rsc, int accumulate) {
    for (int r0 = 0; r0 < mr;) {
        int h = mr - r0 > 6 ? (mr - r0 + 1) / 2 : mr - r0;
        const float *ar = a + r0 * rsa;
        float *cr = c + r0 * rsc;
#define CATENA_NARROW(R, ...) \
    (maskb ? sgemm_tile8_avx512(R, 1, __VA_ARGS__) : sgemm_tile8_avx512(R, 0, __VA_ARGS__))
        CATENA_ROWS_1_TO_6(h, CATENA_NARROW, k, nr, alpha, ar, rsa, csa, b, rsb, cr, rsc, accumulate)
#undef CATENA_NARROW
        r0 += h;
    }
}

__attribute__((target("avx512f,avx2,fma")))
static void sgemm_edge_avx512(long k, int mr, int nr, float alpha, const float *a, long rsa, long csa,
                              const float *b, long rsb, float *c, long rsc, int accumulate) {
    if (nr <= 8) {
        sgemm_narrow_avx512(0, k, mr, nr, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
        return;
    }
    CATENA_ROWS_1_TO_8(mr, sgemm_tile_avx512, k, nr, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate)
}
#endif

#if CATENA_X86
// A tile of R ≤ 8 rows and two adjacent 16-column panels of B (32 columns, all of them stored): two ZMM
// accumulators per row, so that each broadcast of an A element feeds two FMAs. The 6×16 tile is bound by its loads
// (one broadcast per FMA); this one issues 8 loads per 12 FMAs at R = 6, and keeps 2R independent sums in flight.
__attribute__((target("avx512f"), always_inline))
static inline void sgemm_wide_tile_avx512(const int R, long k, float alpha, const float *a, long rsa, long csa,
                                          const float *b0, const float *b1, long rsb, float *c, long rsc, int accumulate) {
    __m512 x[8], y[8];
    for (int r = 0; r < R; r++) {
        x[r] = _mm512_setzero_ps();
        y[r] = _mm512_setzero_ps();
        _mm_prefetch((const char *)(c + r * rsc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * rsc + 31), _MM_HINT_T0);
    }
    for (long p = 0; p < k; p++) {
        __m512 v0 = _mm512_loadu_ps(b0 + p * rsb), v1 = _mm512_loadu_ps(b1 + p * rsb);
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(a[r * rsa + p * csa]);
            x[r] = _mm512_fmadd_ps(av, v0, x[r]);
            y[r] = _mm512_fmadd_ps(av, v1, y[r]);
        }
    }
    __m512 al = _mm512_set1_ps(alpha);
    for (int r = 0; r < R; r++) {
        float *cr = c + r * rsc;
        __m512 u = _mm512_mul_ps(al, x[r]), w = _mm512_mul_ps(al, y[r]);
        if (accumulate) {
            u = _mm512_add_ps(u, _mm512_loadu_ps(cr));
            w = _mm512_add_ps(w, _mm512_loadu_ps(cr + 16));
        }
        _mm512_storeu_ps(cr, u);
        _mm512_storeu_ps(cr + 16, w);
    }
}

__attribute__((target("avx512f")))
static void sgemm_wide_avx512(long k, int mr, float alpha, const float *a, long rsa, long csa, const float *b0,
                              const float *b1, long rsb, float *c, long rsc, int accumulate) {
    CATENA_ROWS_1_TO_8(mr, sgemm_wide_tile_avx512, k, alpha, a, rsa, csa, b0, b1, rsb, c, rsc, accumulate)
}
#endif

int catena_sgemm_has_wide_kernel(void) {
#if CATENA_X86
    return use_avx512();
#else
    return 0;
#endif
}

void catena_sgemm_kernel_wide(long k, int mr, float alpha, const float *a, long rsa, long csa, const float *b0,
                              const float *b1, long rsb, float *c, long rsc, int accumulate) {
#if CATENA_X86
    if (use_avx512()) {
        sgemm_wide_avx512(k, mr, alpha, a, rsa, csa, b0, b1, rsb, c, rsc, accumulate);
        return;
    }
#endif
    // Without AVX-512: the two panels one after the other, through the edge kernel, in row groups of at most 6
    // (the AVX2 and portable tiles' height). Same results.
    for (int r0 = 0; r0 < mr; r0 += 6) {
        int h = mr - r0 < 6 ? mr - r0 : 6;
        catena_sgemm_kernel_edge(k, h, 16, alpha, a + r0 * rsa, rsa, csa, b0, rsb, c + r0 * rsc, rsc, accumulate);
        catena_sgemm_kernel_edge(k, h, 16, alpha, a + r0 * rsa, rsa, csa, b1, rsb, c + r0 * rsc + 16, rsc, accumulate);
    }
}

static void sgemm_edge_portable(long k, int mr, int nr, float alpha, const float *a, long rsa, long csa,
                                const float *b, long rsb, float *c, long rsc, int accumulate) {
    float acc[CATENA_SGEMM_MR][CATENA_SGEMM_NR];
    memset(acc, 0, sizeof acc);
    for (long p = 0; p < k; p++) {
        const float *bp = b + p * rsb;
        for (int i = 0; i < mr; i++) {
            float ai = a[i * rsa + p * csa];
            for (int j = 0; j < CATENA_SGEMM_NR; j++) acc[i][j] += ai * bp[j];
        }
    }
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * rsc;
        for (int j = 0; j < nr; j++) ci[j] = accumulate ? ci[j] + alpha * acc[i][j] : alpha * acc[i][j];
    }
}

#if CATENA_X86
// One tile of R rows (a compile-time constant in each instantiation, so the accumulators stay in registers) and
// nr ≤ 16 columns: one register per row when nr ≤ 8, two otherwise; masked loads and stores of C when nr is not a
// full register width.
__attribute__((target("avx2,fma"), always_inline))
static inline void sgemm_tile_rows(const int R, const int maskb, long k, int nr, float alpha, const float *a, long rsa,
                                   long csa, const float *b, long rsb, float *c, long rsc, int accumulate) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lanes);
    __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lanes);
    __m256 al = _mm256_set1_ps(alpha);
    for (int r = 0; r < R; r++) {
        _mm_prefetch((const char *)(c + r * rsc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * rsc + 15), _MM_HINT_T0);
    }
    if (nr <= 8) {
        __m256 acc[6];
        for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
        for (long p = 0; p < k; p++) {
            __m256 b0 = maskb ? load_floats8(b + p * rsb, nr) : _mm256_loadu_ps(b + p * rsb);
            for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + r * rsa + p * csa), b0, acc[r]);
        }
        for (int r = 0; r < R; r++) {
            float *cr = c + r * rsc;
            __m256 v = _mm256_mul_ps(al, acc[r]);
            if (accumulate) v = _mm256_add_ps(v, _mm256_maskload_ps(cr, m0));
            _mm256_maskstore_ps(cr, m0, v);
        }
        return;
    }
    __m256 acc0[6], acc1[6];
    for (int r = 0; r < R; r++) {
        acc0[r] = _mm256_setzero_ps();
        acc1[r] = _mm256_setzero_ps();
    }
    for (long p = 0; p < k; p++) {
        __m256 b0 = _mm256_loadu_ps(b + p * rsb), b1 = _mm256_loadu_ps(b + p * rsb + 8);
        for (int r = 0; r < R; r++) {
            __m256 t = _mm256_broadcast_ss(a + r * rsa + p * csa);
            acc0[r] = _mm256_fmadd_ps(t, b0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(t, b1, acc1[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float *cr = c + r * rsc;
        __m256 v0 = _mm256_mul_ps(al, acc0[r]), v1 = _mm256_mul_ps(al, acc1[r]);
        if (nr == 16) {
            if (accumulate) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));
            }
            _mm256_storeu_ps(cr, v0);
            _mm256_storeu_ps(cr + 8, v1);
        } else {
            if (accumulate) {
                v0 = _mm256_add_ps(v0, _mm256_maskload_ps(cr, m0));
                v1 = _mm256_add_ps(v1, _mm256_maskload_ps(cr + 8, m1));
            }
            _mm256_maskstore_ps(cr, m0, v0);
            _mm256_maskstore_ps(cr + 8, m1, v1);
        }
    }
}

// `maskb`: B's rows are read only in their first nr ≤ 8 columns (B in place, see catena_sgemm_kernel_edge_narrow).
__attribute__((target("avx2,fma")))
static void sgemm_rows_avx2(const int maskb, long k, int mr, int nr, float alpha, const float *a, long rsa, long csa,
                            const float *b, long rsb, float *c, long rsc, int accumulate) {
#define CATENA_ROWS_AVX2(R, ...) \
    (maskb ? sgemm_tile_rows(R, 1, __VA_ARGS__) : sgemm_tile_rows(R, 0, __VA_ARGS__))
    CATENA_ROWS_1_TO_6(mr, CATENA_ROWS_AVX2, k, nr, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate)
#undef CATENA_ROWS_AVX2
}

__attribute__((target("avx2,fma")))
static void sgemm_edge_avx2(long k, int mr, int nr, float alpha, const float *a, long rsa, long csa,
                            const float *b, long rsb, float *c, long rsc, int accumulate) {
    sgemm_rows_avx2(0, k, mr, nr, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
}
#endif

void catena_sgemm_kernel_edge(long k, int mr, int nr, float alpha, const float *a, long rsa, long csa,
                              const float *b, long rsb, float *c, long rsc, int accumulate) {
#if CATENA_X86
    if (use_avx512()) {
        sgemm_edge_avx512(k, mr, nr, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
        return;
    }
    if (use_avx2()) {
        if (mr == 6 && nr == 16) {
            sgemm_avx2(k, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
            return;
        }
        sgemm_edge_avx2(k, mr, nr, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
        return;
    }
#endif
    sgemm_edge_portable(k, mr, nr, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
}

int catena_sgemm_narrow_edge_columns(void) {
#if CATENA_X86
    return use_avx2() ? 8 : 0;
#else
    return 0;
#endif
}

int catena_sgemm_kernel_edge_narrow(long k, int mr, int nr, float alpha, const float *a, long rsa, long csa,
                                    const float *b, long rsb, float *c, long rsc, int accumulate) {
#if CATENA_X86
    if (nr < 1 || nr > 8) return 0;
    if (use_avx512()) {
        sgemm_narrow_avx512(1, k, mr, nr, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
        return 1;
    }
    if (use_avx2() && mr <= 6) {
        sgemm_rows_avx2(1, k, mr, nr, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
        return 1;
    }
#endif
    return 0;
}

#if CATENA_X86
// A few columns of C (the ragged last panel of B) over P packed 8-row panels of A, with C's rows along the vector
// lanes: per depth step, one load of each panel's 8 values, one broadcast per column of B and P·NC FMAs. The
// row-major edge tile spends a full 16-lane FMA per row whatever the number of columns (4 columns beside 96 cost
// as much as 16); here the cost follows the columns. Each value is one sum over the depth in order.
__attribute__((target("avx2,fma"), always_inline))
static inline void sgemm_cols_tile_avx2(const int P, const int NC, long k, float alpha, const float *a, long ps,
                                        const float *b, long rsb, float *c, long rsc, long rows, int accumulate) {
    __m256 s[4][12];
    for (int i = 0; i < P; i++)
        for (int j = 0; j < NC; j++) s[i][j] = _mm256_setzero_ps();
    for (long p = 0; p < k; p++) {
        const float *bp = b + p * rsb, *ap = a + p * 8;
        for (int j = 0; j < NC; j++) {
            __m256 bj = _mm256_broadcast_ss(bp + j);
            for (int i = 0; i < P; i++) s[i][j] = _mm256_fmadd_ps(_mm256_loadu_ps(ap + i * ps), bj, s[i][j]);
        }
    }
    __m256 al = _mm256_set1_ps(alpha);
    for (int i = 0; i < P; i++) {
        long h = rows - 8 * i < 8 ? rows - 8 * i : 8;
        for (int j = 0; j < NC; j++) {
            float t[8];
            _mm256_storeu_ps(t, _mm256_mul_ps(al, s[i][j]));
            for (long r = 0; r < h; r++) {
                float *cr = c + (8 * i + r) * rsc + j;
                *cr = accumulate ? t[r] + *cr : t[r];
            }
        }
    }
}

// Panels per call for NC columns: P·NC sums, P panel loads and a broadcast must fit the 16 YMM registers (one
// more and a sum goes through the stack on every step, which halves the speed).
#define CATENA_COLS_PANELS(NC) ((NC) <= 2 ? 4 : (NC) == 3 ? 3 : (NC) <= 6 ? 2 : 1)

#define CATENA_COLS_CASE(NC)                                                                                      \
    case NC:                                                                                                      \
        for (long i = 0; i < panels;) {                                                                           \
            long left = panels - i;                                                                               \
            const float *ai = a + i * ps;                                                                         \
            float *ci = c + 8 * i * rsc;                                                                          \
            long ri = rows - 8 * i;                                                                               \
            if (left >= CATENA_COLS_PANELS(NC)) {                                                                 \
                sgemm_cols_tile_avx2(CATENA_COLS_PANELS(NC), NC, k, alpha, ai, ps, b, rsb, ci, rsc, ri, accumulate); \
                i += CATENA_COLS_PANELS(NC);                                                                      \
            } else if (CATENA_COLS_PANELS(NC) > 3 && left >= 3) {                                                 \
                sgemm_cols_tile_avx2(3, NC, k, alpha, ai, ps, b, rsb, ci, rsc, ri, accumulate);                   \
                i += 3;                                                                                           \
            } else if (CATENA_COLS_PANELS(NC) > 2 && left >= 2) {                                                 \
                sgemm_cols_tile_avx2(2, NC, k, alpha, ai, ps, b, rsb, ci, rsc, ri, accumulate);                   \
                i += 2;                                                                                           \
            } else {                                                                                              \
                sgemm_cols_tile_avx2(1, NC, k, alpha, ai, ps, b, rsb, ci, rsc, ri, accumulate);                   \
                i += 1;                                                                                           \
            }                                                                                                     \
        }                                                                                                         \
        break;

__attribute__((target("avx2,fma")))
static void sgemm_columns_avx2(long k, long rows, int nr, float alpha, const float *a, long ps, const float *b, long rsb,
                               float *c, long rsc, int accumulate) {
    long panels = (rows + 7) / 8;
    switch (nr) {
        CATENA_COLS_CASE(1) CATENA_COLS_CASE(2) CATENA_COLS_CASE(3) CATENA_COLS_CASE(4)
        CATENA_COLS_CASE(5) CATENA_COLS_CASE(6) CATENA_COLS_CASE(7) CATENA_COLS_CASE(8)
        CATENA_COLS_CASE(9) CATENA_COLS_CASE(10) CATENA_COLS_CASE(11) CATENA_COLS_CASE(12)
    }
}
#undef CATENA_COLS_CASE
#endif

int catena_sgemm_kernel_columns(long k, long rows, int mr, int nr, float alpha, const float *a, long ps, const float *b,
                                long rsb, float *c, long rsc, int accumulate) {
#if CATENA_X86
    if (mr == 8 && nr >= 1 && nr <= CATENA_SGEMM_COLUMNS_MAX && use_avx2()) {
        if (rows > 0) sgemm_columns_avx2(k, rows, nr, alpha, a, ps, b, rsb, c, rsc, accumulate);
        return 1;
    }
#endif
    (void)k; (void)rows; (void)mr; (void)nr; (void)alpha; (void)a; (void)ps; (void)b; (void)rsb; (void)c; (void)rsc; (void)accumulate;
    return 0;
}

void catena_sgemm_kernel(long k, float alpha, const float *a, long rsa, long csa, const float *b, long rsb,
                         float *c, long rsc, int accumulate) {
#if CATENA_X86
    if (use_avx512()) {
        sgemm_avx512(k, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
        return;
    }
    if (use_avx2()) {
        sgemm_avx2(k, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
        return;
    }
#endif
    sgemm_portable(k, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
}

void catena_dgemm_kernel(long k, double alpha, const double *a, long rsa, long csa, const double *b, long rsb,
                         double *c, long rsc, int accumulate) {
#if CATENA_X86
    if (use_avx2()) {
        dgemm_avx2(k, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
        return;
    }
#endif
    dgemm_portable(k, alpha, a, rsa, csa, b, rsb, c, rsc, accumulate);
}

// ---------------------------------------------------------------------------------------------------- packing

static void pack_bt_portable(const float *b, long cs, long k, long cols, float *dst) {
    for (long j0 = 0; j0 < cols; j0 += 16) {
        long w = cols - j0 < 16 ? cols - j0 : 16;
        for (long j = 0; j < 16; j++) {
            if (j < w) {
                const float *src = b + (j0 + j) * cs;
                for (long p = 0; p < k; p++) dst[p * 16 + j] = src[p];
            } else {
                for (long p = 0; p < k; p++) dst[p * 16 + j] = 0.0f;
            }
        }
        dst += 16 * k;
    }
}

#if CATENA_X86
// Transposes the 8×8 block whose rows are r[0..7] and stores its rows (the columns of the input) at out + i*stride.
__attribute__((target("avx2,fma")))
static inline void transpose8_store(__m256 r0, __m256 r1, __m256 r2, __m256 r3, __m256 r4, __m256 r5, __m256 r6, __m256 r7,
                                    float *out, long stride) {
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(out + 0 * stride, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(out + 1 * stride, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(out + 2 * stride, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(out + 3 * stride, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(out + 4 * stride, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(out + 5 * stride, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(out + 6 * stride, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(out + 7 * stride, _mm256_permute2f128_ps(u3, u7, 0x31));
}

__attribute__((target("avx2,fma")))
static void pack_bt_avx2(const float *b, long cs, long k, long cols, float *dst) {
    long full = cols / 16 * 16;
    for (long j0 = 0; j0 < full; j0 += 16) {
        const float *s = b + j0 * cs;
        long p = 0;
        for (; p + 8 <= k; p += 8) {
            for (int half = 0; half < 2; half++) {
                const float *r = s + half * 8 * cs + p;
                transpose8_store(_mm256_loadu_ps(r), _mm256_loadu_ps(r + cs), _mm256_loadu_ps(r + 2 * cs),
                                 _mm256_loadu_ps(r + 3 * cs), _mm256_loadu_ps(r + 4 * cs), _mm256_loadu_ps(r + 5 * cs),
                                 _mm256_loadu_ps(r + 6 * cs), _mm256_loadu_ps(r + 7 * cs), dst + p * 16 + half * 8, 16);
            }
        }
        for (; p < k; p++) {
            for (long j = 0; j < 16; j++) dst[p * 16 + j] = s[j * cs + p];
        }
        dst += 16 * k;
    }
    if (full < cols) pack_bt_portable(b + full * cs, cs, k, cols - full, dst);
}
#endif

// Copies w ≤ 16 floats with a constant-size copy per case: a loop of element copies (or zeros) of a variable length
// is turned by the compiler into a memcpy (memset) call, which on the short rows of a partial panel costs more than
// the copy.
static inline void copy_short(float *d, const float *s, long w) {
    switch (w) {
#define CATENA_COPY_CASE(W) case W: memcpy(d, s, W * sizeof(float)); break;
        CATENA_COPY_CASE(1) CATENA_COPY_CASE(2) CATENA_COPY_CASE(3) CATENA_COPY_CASE(4) CATENA_COPY_CASE(5)
        CATENA_COPY_CASE(6) CATENA_COPY_CASE(7) CATENA_COPY_CASE(8) CATENA_COPY_CASE(9) CATENA_COPY_CASE(10)
        CATENA_COPY_CASE(11) CATENA_COPY_CASE(12) CATENA_COPY_CASE(13) CATENA_COPY_CASE(14) CATENA_COPY_CASE(15)
        CATENA_COPY_CASE(16)
#undef CATENA_COPY_CASE
        default: memcpy(d, s, (size_t)w * sizeof(float)); break;
    }
}

// Packs lines of contiguous values — A's columns (packed into mr-row panels) or B's rows (into 16-column panels) —
// that lie `stride` apart from `base`, or anywhere, listed in `lines` (each shifted by `offset`): `count` values of
// each of `depth` lines, `width` values per panel step. Each exported routine below calls it with its operand form
// fixed, so it is compiled once per form. A full panel takes a constant-size copy per step, which the compiler turns
// into a few moves; a partial one is zeroed once, then filled with short copies (a loop of element copies or zeros
// of a variable length becomes a memcpy or memset call per step, which on short rows costs more than the copy).
static inline void pack_lines(const float *base, long stride, const float *const *lines, long offset, long count, long depth,
                              long width, float *dst) {
    for (long c0 = 0; c0 < count; c0 += width, dst += width * depth) {
        long w = count - c0 < width ? count - c0 : width;
#define CATENA_LINE(P) ((lines ? lines[P] + offset : base + (P) * stride) + c0)
#define CATENA_FULL_PANEL(W)                                                                                 \
        if (w == W && width == W) {                                                                          \
            for (long p = 0; p < depth; p++) memcpy(dst + p * W, CATENA_LINE(p), W * sizeof(float));         \
            continue;                                                                                        \
        }
        CATENA_FULL_PANEL(16) CATENA_FULL_PANEL(8) CATENA_FULL_PANEL(6) CATENA_FULL_PANEL(5) CATENA_FULL_PANEL(4)
        if (w < width) memset(dst, 0, (size_t)(width * depth) * sizeof(float));
        for (long p = 0; p < depth; p++) copy_short(dst + p * width, CATENA_LINE(p), w);
#undef CATENA_FULL_PANEL
#undef CATENA_LINE
    }
}

void catena_pack_at_f32(const float *a, long cs, long rows, long depth, long mr, float *dst) {
    pack_lines(a, cs, NULL, 0, rows, depth, mr, dst);
}

// Row-major A: each step p gathers one value from each of the panel's rows. With the height a constant the rows'
// pointers stay in registers and the panel is written front to back (the loop over rows inside the loop over p would
// otherwise store with a stride of mr floats and recompute addresses per element).
#define CATENA_PACK_A_ROWS(MR)                                                                   \
    for (long p = 0; p < depth; p++) {                                                           \
        for (int i = 0; i < MR; i++) dst[p * MR + i] = src[i * rs + p];                          \
    }

void catena_pack_a_f32(const float *a, long rs, long rows, long depth, long mr, float *dst) {
    for (long i0 = 0; i0 < rows; i0 += mr, dst += mr * depth) {
        long h = rows - i0 < mr ? rows - i0 : mr;
        const float *src = a + i0 * rs;
        if (h == 8 && mr == 8) {
            CATENA_PACK_A_ROWS(8)
        } else if (h == 6 && mr == 6) {
            CATENA_PACK_A_ROWS(6)
        } else if (h == 5 && mr == 5) {
            CATENA_PACK_A_ROWS(5)
        } else if (h == 4 && mr == 4) {
            CATENA_PACK_A_ROWS(4)
        } else {
            // A partial panel: zeroed once (not a memset call per step), then the rows present gathered.
            memset(dst, 0, (size_t)(mr * depth) * sizeof(float));
            for (long p = 0; p < depth; p++) {
                for (long i = 0; i < h; i++) dst[p * mr + i] = src[i * rs + p];
            }
        }
    }
}

void catena_pack_b_f32(const float *b, long rs, long k, long cols, float *dst) {
    pack_lines(b, rs, NULL, 0, cols, k, 16, dst);
}

void catena_pack_at_rows_f32(const float *const *cols, long i0, long rows, long depth, long mr, float *dst) {
    pack_lines(NULL, 0, cols, i0, rows, depth, mr, dst);
}

void catena_pack_b_rows_f32(const float *const *rows, long j0, long k, long cols, float *dst) {
    pack_lines(NULL, 0, rows, j0, cols, k, 16, dst);
}

void catena_pack_bt_f32(const float *b, long cs, long k, long cols, float *dst) {
#if CATENA_X86
    if (use_avx2()) {
        pack_bt_avx2(b, cs, k, cols, dst);
        return;
    }
#endif
    pack_bt_portable(b, cs, k, cols, dst);
}

// ---------------------------------------------------------------------------------------------------- math
//
// Single-precision exp, log and tanh after the Cephes library's range reductions and minimax polynomials
// (relative error about 1 ulp). Branches are written as selects so that the loops vectorise.

static inline float f_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t f_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static inline float exp_core(float x) {
    const float hi = 88.72283935546875f;   // above: +inf
    const float lo = -103.97208404541016f; // below: 0 (smallest subnormal is exp(-103.28))
    float xc = x > hi ? hi : x;            // NaN fails both comparisons and stays NaN
    xc = xc < lo ? lo : xc;
    float t = xc * 1.44269504088896341f + 12582912.0f;  // round to nearest by the 1.5 * 2^23 trick
    float n = t - 12582912.0f;
    int32_t ni = (int32_t)(f_bits(t) - 0x4B400000u);
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    int32_t h = ni >> 1;  // scale in two steps so that 2^n never leaves the normal range
    float s1 = f_from_bits((uint32_t)(h + 127) << 23);
    float s2 = f_from_bits((uint32_t)(ni - h + 127) << 23);
    y = y * s1 * s2;
    y = x > hi ? f_from_bits(0x7f800000u) : y;
    y = x < lo ? 0.0f : y;
    return y;
}

static inline float log_core(float x) {
    int sub = x < 1.17549435e-38f;  // subnormal (or zero, negative): scale up first
    float xs = sub ? x * 8388608.0f : x;
    uint32_t ix = f_bits(xs);
    int32_t e = (int32_t)((ix >> 23) & 0xff) - 126 - (sub ? 23 : 0);
    float m = f_from_bits((ix & 0x007fffffu) | 0x3f000000u);  // mantissa in [0.5, 1)
    int small = m < 0.707106781186547524f;
    e = small ? e - 1 : e;
    m = small ? m + m - 1.0f : m - 1.0f;
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    float fe = (float)e;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    float r = m + y;
    r += 0.693359375f * fe;
    r = x == 0.0f ? f_from_bits(0xff800000u) : r;                   // log(0) = -inf
    r = x < 0.0f ? f_from_bits(0x7fc00000u) : r;                    // log(negative) = NaN
    r = x == f_from_bits(0x7f800000u) ? x : r;                      // log(inf) = inf
    r = x != x ? x : r;                                             // NaN stays NaN
    return r;
}

static inline float tanh_core(float x) {
    float ax = f_from_bits(f_bits(x) & 0x7fffffffu);
    float z = x * x;
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z
                    + 1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
    float e = exp_core(ax + ax);
    float large = 1.0f - 2.0f / (e + 1.0f);
    large = f_from_bits(f_bits(large) | (f_bits(x) & 0x80000000u));  // copy the sign of x
    return ax < 0.625f ? small : large;
}

static inline float sigmoid_core(float x) {
    // One exponential of a non-positive argument (never overflows): σ(x) = 1/(1+e) for x ≥ 0, e/(1+e) for x < 0,
    // with e = exp(-|x|).
    float ax = f_from_bits(f_bits(x) & 0x7fffffffu);
    float e = exp_core(-ax);
    float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;
}

// An LSTM gate: tanh for the cell input a (as 2 sigmoid(2x) - 1), the logistic sigmoid for the others.
static inline float lstm_gate_value(float x, int is_a) {
    float s = sigmoid_core(is_a ? x + x : x);
    return is_a ? s + s - 1.0f : s;
}

// The gate at position i of Chainer's interleaved layout: slot 0 of each unit's four is the cell input a.
static inline float lstm_gate_core(float x, long i) { return lstm_gate_value(x, (i & 3) == 0); }

// One LSTM cell update (see catena_lstm_cell_forward_f32). The cell state's products and sum are rounded one by one
// (no fused multiply-add), as the float64 Swift loop computes them; tanh is the same tanh_core as catena_vtanh_f32.
// The activated gates a, i, f, o of unit k are at ga[s·k], gi[s·k], gf[s·k], go[s·k]: s = 4 in Chainer's interleaved
// layout, 1 in one row of the gate-block layout (see catena_lstm_blocks_forward_f32).
static inline __attribute__((always_inline)) void lstm_cell_forward_loop(const float *ga, const float *gi, const float *gf,
                                                                       const float *go, long s, const float *cp,
                                                                       float *cn, float *tc, float *h, long n) {
    _Pragma("clang fp contract(off)")
    _Pragma("clang loop vectorize(assume_safety)") for (long k = 0; k < n; k++) {
        float c = ga[s * k] * gi[s * k] + gf[s * k] * cp[k];
        float t = tanh_core(c);
        cn[k] = c;
        tc[k] = t;
        h[k] = go[s * k] * t;
    }
}

// The gradient of one unit's LSTM cell update from its gates a, i, f, o, the previous cell state, tanh of the new one
// and the gradients of the output and the new cell state: the gate pre-activations' (ga … go) and the previous cell
// state's (the return value).
static inline __attribute__((always_inline)) float lstm_unit_backward(float a, float i, float f, float o, float cp,
                                                                    float co, float gh, float gc, float *ga, float *gi,
                                                                    float *gf, float *go) {
    float total = gh * o * (1.0f - co * co) + gc;
    *ga = total * i * (1.0f - a * a);
    *gi = total * a * i * (1.0f - i);
    *gf = total * cp * f * (1.0f - f);
    *go = gh * co * o * (1.0f - o);
    return total * f;
}

// The gradient of one LSTM cell update (see catena_lstm_cell_backward_f32), vectorised behind clang's run-time overlap
// checks. The NStep recurrence updates the cell gradient in place (gc_prev == gc): the caller then passes one pointer
// for both, which the checks accept (same element read, then written, in each iteration), so that case vectorises too.
static inline __attribute__((always_inline)) void lstm_cell_backward_loop(const float *g, const float *cp, const float *tc,
                                                                        const float *gh, const float *gc, float *gx,
                                                                        float *gc_prev, long n) {
    for (long k = 0; k < n; k++) {
        gc_prev[k] = lstm_unit_backward(g[4 * k], g[4 * k + 1], g[4 * k + 2], g[4 * k + 3], cp[k], tc[k], gh[k], gc[k],
                                        &gx[4 * k], &gx[4 * k + 1], &gx[4 * k + 2], &gx[4 * k + 3]);
    }
}

// The same over rows of the gate-block layout (see catena_lstm_blocks_backward_f32). Each element is read before it
// is written and gx overlaps no input, so the loop vectorises without run-time checks (too many for clang here).
// With `gy`, the output's gradient is gh + gy (the state's gradient from the next step plus the output's own).
static inline __attribute__((always_inline)) void lstm_blocks_backward_loop(const float *g, const float *cp,
                                                                          const float *tc, const float *gh,
                                                                          const float *gy, const float *gc, float *gx,
                                                                          float *gc_prev, long rows, long u) {
    for (long r = 0; r < rows; r++) {
        const float *gr = g + r * 4 * u;
        float *xr = gx + r * 4 * u;
        long o = r * u;
        if (gy) {
            _Pragma("clang loop vectorize(assume_safety)") for (long k = 0; k < u; k++) {
                gc_prev[o + k] = lstm_unit_backward(gr[2 * u + k], gr[k], gr[u + k], gr[3 * u + k], cp[o + k], tc[o + k],
                                                    gh[o + k] + gy[o + k], gc[o + k], &xr[2 * u + k], &xr[k], &xr[u + k],
                                                    &xr[3 * u + k]);
            }
        } else {
            _Pragma("clang loop vectorize(assume_safety)") for (long k = 0; k < u; k++) {
                gc_prev[o + k] = lstm_unit_backward(gr[2 * u + k], gr[k], gr[u + k], gr[3 * u + k], cp[o + k], tc[o + k],
                                                    gh[o + k], gc[o + k], &xr[2 * u + k], &xr[k], &xr[u + k], &xr[3 * u + k]);
            }
        }
    }
}

// One Adam step (see catena_adam_f32). The multiply-adds stay separate roundings, so that every level (and Swift's
// float64 loop, written the same way) computes the formula's bits; each element is on its own, so the loop vectorises
// although the parameter and its state are updated in place.
static inline __attribute__((always_inline)) void adam_loop(float *p, const float *g, float *m, float *v, float *vhat,
                                                          long n, float c1, float c2, float eps, float decay,
                                                          float step) {
    _Pragma("clang fp contract(off)")
    if (vhat) {
        _Pragma("clang loop vectorize(assume_safety)") for (long i = 0; i < n; i++) {
            float gi = g[i];
            float mi = m[i] + c1 * (gi - m[i]), vi = v[i] + c2 * (gi * gi - v[i]);
            float h = vi > vhat[i] ? vi : vhat[i];
            m[i] = mi;
            v[i] = vi;
            vhat[i] = h;
            p[i] = decay * p[i] - step * mi / (__builtin_elementwise_sqrt(h) + eps);
        }
    } else {
        _Pragma("clang loop vectorize(assume_safety)") for (long i = 0; i < n; i++) {
            float gi = g[i];
            float mi = m[i] + c1 * (gi - m[i]), vi = v[i] + c2 * (gi * gi - v[i]);
            m[i] = mi;
            v[i] = vi;
            p[i] = decay * p[i] - step * mi / (__builtin_elementwise_sqrt(vi) + eps);
        }
    }
}

// The sum of squares of n floats in double (see catena_sum_squares_f32): sixteen running sums, element i into sum
// i mod 16, added pairwise at the end, and no fused multiply-adds, so that every level gives the same bits (the
// sixteen sums vectorise as they stand; a single running sum would need its additions reordered).
static inline __attribute__((always_inline)) double sum_squares_loop(const float *x, long n) {
    _Pragma("clang fp contract(off)")
    double acc[16] = {0};
    long full = n - n % 16;
    for (long i = 0; i < full; i += 16) {
        for (int j = 0; j < 16; j++) {
            double v = (double)x[i + j];
            acc[j] += v * v;
        }
    }
    for (long i = full; i < n; i++) {
        double v = (double)x[i];
        acc[i - full] += v * v;
    }
    for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) acc[j] += acc[j + w];
    return acc[0];
}

// The column sums of `rows` rows (see catena_sum_rows_f32): blocks of 128, 64 and 16 columns whose running sums stay
// in registers while every row is read once (the inner loops have constant counts, so they are unrolled into vector
// registers), then fewer than 16 last columns added row by row into `o`. Plain adds in row order, so every level
// gives the same bits.
#define CATENA_SUM_ROWS_BLOCK(W)                                                                        \
    for (; j0 + (W) <= width; j0 += (W)) {                                                              \
        float acc[W];                                                                                   \
        for (int j = 0; j < (W); j++) acc[j] = x[j0 + j];                                               \
        for (long r = 1; r < rows; r++) {                                                               \
            const float *xr = x + r * stride + j0;                                                      \
            for (int j = 0; j < (W); j++) acc[j] += xr[j];                                              \
        }                                                                                               \
        for (int j = 0; j < (W); j++) o[j0 + j] = acc[j];                                               \
    }
static inline __attribute__((always_inline)) void sum_rows_loop(const float *x, float *o, long rows, long width,
                                                              long stride) {
    _Pragma("clang fp contract(off)")
    long j0 = 0;
    CATENA_SUM_ROWS_BLOCK(128)
    CATENA_SUM_ROWS_BLOCK(64)
    CATENA_SUM_ROWS_BLOCK(16)
    long w = width - j0;
    if (w <= 0) return;
    float *dst = o + j0;
    const float *src = x + j0;
    for (long j = 0; j < w; j++) dst[j] = src[j];
    for (long r = 1; r < rows; r++) {
        const float *xr = src + r * stride;
        for (long j = 0; j < w; j++) dst[j] += xr[j];
    }
}
#undef CATENA_SUM_ROWS_BLOCK

// One of the four arithmetic operations over n floats (see catena_binary_f32); each element on its own, so the
// loop vectorises and is safe in place (y == a or y == b).
#define CATENA_BINARY_LOOPS(OP)                                                                   \
    do {                                                                                          \
        if (mode == 0) {                                                                          \
            _Pragma("clang loop vectorize(assume_safety)") for (long i = 0; i < n; i++) y[i] = a[i] OP b[i]; \
        } else if (mode == 1) {                                                                   \
            const float s = b[0];                                                                 \
            _Pragma("clang loop vectorize(assume_safety)") for (long i = 0; i < n; i++) y[i] = a[i] OP s; \
        } else {                                                                                  \
            const float s = a[0];                                                                 \
            _Pragma("clang loop vectorize(assume_safety)") for (long i = 0; i < n; i++) y[i] = s OP b[i]; \
        }                                                                                         \
    } while (0)

static inline __attribute__((always_inline)) void binary_loop(int op, const float *a, const float *b, float *y,
                                                            long n, int mode) {
    switch (op) {
    case 0: CATENA_BINARY_LOOPS(+); break;
    case 1: CATENA_BINARY_LOOPS(-); break;
    case 2: CATENA_BINARY_LOOPS(*); break;
    default: CATENA_BINARY_LOOPS(/); break;
    }
}

// A recurrent step's activation from its four terms (see catena_step_sum_f32), and the simple cells' gradient (see
// catena_rnn_backward_f32). ReLU as a select (NaN gives 0); tanh is tanh_core and the LSTM gates lstm_gate_value, as
// in the one-term loops; no fused multiply-adds, so that the results are those of the separate passes they replace.
static inline __attribute__((always_inline)) void step_sum_loop(int activation, const float *x, const float *y,
                                                              const float *bias, const float *bias2, float *dst,
                                                              long rows, long width) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * width, *yr = y + r * width;
        float *dr = dst + r * width;
        switch (activation) {
        case 1:
            _Pragma("clang loop vectorize(assume_safety)") for (long k = 0; k < width; k++)
                dr[k] = tanh_core(((xr[k] + bias[k]) + bias2[k]) + yr[k]);
            break;
        case 3: {
            // Gate blocks i, f, a, o of width / 4: the cell input a is the third.
            long u = width / 4;
            _Pragma("clang loop vectorize(assume_safety)") for (long k = 0; k < 2 * u; k++)
                dr[k] = lstm_gate_value(((xr[k] + bias[k]) + bias2[k]) + yr[k], 0);
            _Pragma("clang loop vectorize(assume_safety)") for (long k = 2 * u; k < 3 * u; k++)
                dr[k] = lstm_gate_value(((xr[k] + bias[k]) + bias2[k]) + yr[k], 1);
            _Pragma("clang loop vectorize(assume_safety)") for (long k = 3 * u; k < width; k++)
                dr[k] = lstm_gate_value(((xr[k] + bias[k]) + bias2[k]) + yr[k], 0);
            break;
        }
        default:
            _Pragma("clang loop vectorize(assume_safety)") for (long k = 0; k < width; k++) {
                float v = ((xr[k] + bias[k]) + bias2[k]) + yr[k];
                dr[k] = v > 0.0f ? v : 0.0f;
            }
        }
    }
}

static inline __attribute__((always_inline)) void rnn_backward_loop(int relu, const float *y, const float *gy, float *dh,
                                                                  float *gx, long n) {
    _Pragma("clang fp contract(off)")
    if (gy) {
        _Pragma("clang loop vectorize(assume_safety)") for (long k = 0; k < n; k++) dh[k] += gy[k];
    }
    if (relu) {
        _Pragma("clang loop vectorize(assume_safety)") for (long k = 0; k < n; k++) gx[k] = y[k] > 0.0f ? dh[k] : 0.0f;
    } else {
        _Pragma("clang loop vectorize(assume_safety)") for (long k = 0; k < n; k++) gx[k] = dh[k] * (1.0f - y[k] * y[k]);
    }
}

// Each output element depends only on the same input element, so the loops are safe in place (y == x), which the
// recurrent kernels use: without the pragma, clang's run-time overlap check sends an in-place call to the scalar loop
// (about 5x slower).
#define CATENA_ELEMENTWISE _Pragma("clang loop vectorize(assume_safety)")
#define CATENA_MATH_LOOPS(suffix, attr)                                                                     \
    attr static void vexp_##suffix(const float *x, float *y, long n) {                                     \
        CATENA_ELEMENTWISE for (long i = 0; i < n; i++) y[i] = exp_core(x[i]);                             \
    }                                                                                                       \
    attr static void vlog_##suffix(const float *x, float *y, long n) {                                     \
        CATENA_ELEMENTWISE for (long i = 0; i < n; i++) y[i] = log_core(x[i]);                             \
    }                                                                                                       \
    attr static void vtanh_##suffix(const float *x, float *y, long n) {                                    \
        CATENA_ELEMENTWISE for (long i = 0; i < n; i++) y[i] = tanh_core(x[i]);                            \
    }                                                                                                       \
    attr static void vsigmoid_##suffix(const float *x, float *y, long n) {                                 \
        CATENA_ELEMENTWISE for (long i = 0; i < n; i++) y[i] = sigmoid_core(x[i]);                         \
    }                                                                                                       \
    attr static void lstm_gates_##suffix(const float *x, float *y, long n) {                               \
        CATENA_ELEMENTWISE for (long i = 0; i < n; i++) y[i] = lstm_gate_core(x[i], i);                    \
    }                                                                                                       \
    attr static void lstm_cell_backward_##suffix(const float *g, const float *cp, const float *tc,         \
                                                 const float *gh, const float *gc, float *gx,              \
                                                 float *gc_prev, long n) {                                  \
        if (gc_prev == gc) lstm_cell_backward_loop(g, cp, tc, gh, gc_prev, gx, gc_prev, n);                 \
        else lstm_cell_backward_loop(g, cp, tc, gh, gc, gx, gc_prev, n);                                    \
    }                                                                                                       \
    attr static void lstm_blocks_backward_##suffix(const float *g, const float *cp, const float *tc,       \
                                                   const float *gh, const float *gy, const float *gc,      \
                                                   float *gx, float *gc_prev, long rows, long u) {          \
        lstm_blocks_backward_loop(g, cp, tc, gh, gy, gc, gx, gc_prev, rows, u);                             \
    }                                                                                                       \
    attr static void step_sum_##suffix(int activation, const float *x, const float *y, const float *bias,   \
                                       const float *bias2, float *dst, long rows, long width) {              \
        step_sum_loop(activation, x, y, bias, bias2, dst, rows, width);                                     \
    }                                                                                                       \
    attr static void rnn_backward_##suffix(int relu, const float *y, const float *gy, float *dh, float *gx,  \
                                           long n) {                                                        \
        rnn_backward_loop(relu, y, gy, dh, gx, n);                                                          \
    }                                                                                                       \
    attr static void lstm_cell_forward_##suffix(const float *g, const float *cp, float *cn, float *tc,     \
                                                float *h, long n) {                                         \
        lstm_cell_forward_loop(g, g + 1, g + 2, g + 3, 4, cp, cn, tc, h, n);                                \
    }                                                                                                       \
    attr static void lstm_blocks_forward_##suffix(const float *g, const float *cp, float *cn, float *tc,   \
                                                  float *h, long rows, long u) {                            \
        for (long r = 0; r < rows; r++) {                                                                   \
            const float *gr = g + r * 4 * u;                                                                \
            long o = r * u;                                                                                 \
            lstm_cell_forward_loop(gr + 2 * u, gr, gr + u, gr + 3 * u, 1, cp + o, cn + o, tc + o, h + o, u); \
        }                                                                                                   \
    }                                                                                                       \
    attr static void binary_##suffix(int op, const float *a, const float *b, float *y, long n, int mode) {  \
        binary_loop(op, a, b, y, n, mode);                                                                  \
    }                                                                                                       \
    attr static double sum_squares_##suffix(const float *x, long n) { return sum_squares_loop(x, n); }       \
    attr static void sum_rows_##suffix(const float *x, float *o, long rows, long width, long stride) {       \
        sum_rows_loop(x, o, rows, width, stride);                                                           \
    }                                                                                                       \
    attr static void adam_##suffix(float *p, const float *g, float *m, float *v, float *vhat, long n,       \
                                   float c1, float c2, float eps, float decay, float step) {                \
        adam_loop(p, g, m, v, vhat, n, c1, c2, eps, decay, step);                                           \
    }

CATENA_MATH_LOOPS(portable, )
#if CATENA_X86
CATENA_MATH_LOOPS(avx2, __attribute__((target("avx2,fma"))))
CATENA_MATH_LOOPS(avx512, __attribute__((target("avx512f,avx2,fma"))))
#define CATENA_DISPATCH(name, ...)                        \
    do {                                                  \
        if (use_avx512()) name##_avx512(__VA_ARGS__);     \
        else if (use_avx2()) name##_avx2(__VA_ARGS__);    \
        else name##_portable(__VA_ARGS__);                \
    } while (0)
#else
#define CATENA_DISPATCH(name, ...) name##_portable(__VA_ARGS__)
#endif

void catena_vexp_f32(const float *x, float *y, long n) { CATENA_DISPATCH(vexp, x, y, n); }
void catena_vlog_f32(const float *x, float *y, long n) { CATENA_DISPATCH(vlog, x, y, n); }
void catena_vtanh_f32(const float *x, float *y, long n) { CATENA_DISPATCH(vtanh, x, y, n); }
void catena_vsigmoid_f32(const float *x, float *y, long n) { CATENA_DISPATCH(vsigmoid, x, y, n); }
void catena_lstm_gates_f32(const float *x, float *y, long n) { CATENA_DISPATCH(lstm_gates, x, y, n); }
void catena_lstm_cell_backward_f32(const float *g, const float *cp, const float *tc, const float *gh, const float *gc,
                                   float *gx, float *gc_prev, long n) {
    CATENA_DISPATCH(lstm_cell_backward, g, cp, tc, gh, gc, gx, gc_prev, n);
}
void catena_step_sum_f32(int activation, const float *x, const float *y, const float *bias, const float *bias2,
                         float *dst, long rows, long width) {
    CATENA_DISPATCH(step_sum, activation, x, y, bias, bias2, dst, rows, width);
}
void catena_rnn_backward_f32(int relu, const float *y, const float *gy, float *dh, float *gx, long n) {
    CATENA_DISPATCH(rnn_backward, relu, y, gy, dh, gx, n);
}
void catena_lstm_cell_forward_f32(const float *g, const float *cp, float *cn, float *tc, float *h, long n) {
    CATENA_DISPATCH(lstm_cell_forward, g, cp, cn, tc, h, n);
}
void catena_lstm_blocks_forward_f32(const float *g, const float *cp, float *cn, float *tc, float *h, long rows,
                                    long units) {
    CATENA_DISPATCH(lstm_blocks_forward, g, cp, cn, tc, h, rows, units);
}
void catena_lstm_blocks_backward_f32(const float *g, const float *cp, const float *tc, const float *gh, const float *gy,
                                     const float *gc, float *gx, float *gc_prev, long rows, long units) {
    CATENA_DISPATCH(lstm_blocks_backward, g, cp, tc, gh, gy, gc, gx, gc_prev, rows, units);
}
void catena_binary_f32(int op, const float *a, const float *b, float *y, long n, int mode) {
    CATENA_DISPATCH(binary, op, a, b, y, n, mode);
}
void catena_sum_rows_f32(const float *x, float *o, long rows, long width, long stride) {
    CATENA_DISPATCH(sum_rows, x, o, rows, width, stride);
}
double catena_sum_squares_f32(const float *x, long n) {
#if CATENA_X86
    if (use_avx512()) return sum_squares_avx512(x, n);
    if (use_avx2()) return sum_squares_avx2(x, n);
#endif
    return sum_squares_portable(x, n);
}
void catena_adam_f32(float *p, const float *g, float *m, float *v, float *vhat, long n, float c1, float c2, float eps,
                     float decay, float step) {
    CATENA_DISPATCH(adam, p, g, m, v, vhat, n, c1, c2, eps, decay, step);
}
