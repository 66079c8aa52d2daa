// CPU-specific kernels for Catena.
//
// Each entry point picks, once per process, an AVX2+FMA version when the CPU has both, and otherwise a portable
// version compiled for the baseline target. Both versions compute the same functions; the portable ones are plain
// C that the compiler vectorises for whatever the baseline offers.
#ifndef CATENA_KERNELS_H
#define CATENA_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the AVX2+FMA kernels are in use, 0 when the portable ones are.
int catena_kernels_use_avx2(void);
/// Forces the portable kernels (1) or restores automatic selection (0). For tests and benchmarks.
void catena_kernels_force_portable(int force);
/// The instruction-set level in use: 0 portable, 1 AVX2+FMA, 2 AVX-512F (for the single-precision GEMM tiles).
int catena_kernels_level(void);
/// Caps the level the process uses (2: whatever the CPU has, 1: at most AVX2, 0: portable). For tests and benchmarks.
void catena_kernels_limit(int level);

/// Register-tile sizes of the single-precision micro-kernel.
#define CATENA_SGEMM_MR 6
#define CATENA_SGEMM_NR 16
/// Register-tile sizes of the double-precision micro-kernel.
#define CATENA_DGEMM_MR 6
#define CATENA_DGEMM_NR 8

/// C[0..<6, 0..<16] = (accumulate ? C : 0) + alpha * A[0..<6, 0..<k] * B[0..<k, 0..<16].
///
/// A element (i, p) is at a[i*rsa + p*csa]; B element (p, j) at b[p*rsb + j] (rows of 16 contiguous floats);
/// C element (i, j) at c[i*rsc + j]. All 6 rows of A and all 16 columns of B must be readable.
void catena_sgemm_kernel(long k, float alpha, const float *a, long rsa, long csa,
                         const float *b, long rsb, float *c, long rsc, int accumulate);

/// `catena_sgemm_kernel` for a tile of `mr` ≤ 6 rows (≤ 8 when `catena_sgemm_has_wide_kernel()`) and `nr` ≤ 16 columns: only those rows of A are read and
/// only those elements of C are read and written (B rows must hold 16 readable floats, or 8 when nr ≤ 8, e.g. a
/// zero-padded packed panel). Used for edges and for row-tile heights other than 6.
void catena_sgemm_kernel_edge(long k, int mr, int nr, float alpha, const float *a, long rsa, long csa,
                              const float *b, long rsb, float *c, long rsc, int accumulate);

/// `catena_sgemm_kernel_edge` for a ragged last panel of `nr` ≤ 8 columns whose B rows hold only those `nr` readable
/// floats (B read in place, `rsb` apart, not packed into a zero-padded panel): the same results as the edge kernel on
/// a padded copy of B. Returns 0 (and does nothing) where the CPU or `mr`/`nr` do not allow it (no AVX2; `mr` > 6
/// without AVX-512F).
int catena_sgemm_kernel_edge_narrow(long k, int mr, int nr, float alpha, const float *a, long rsa, long csa,
                                    const float *b, long rsb, float *c, long rsc, int accumulate);

/// The most columns `catena_sgemm_kernel_edge_narrow` takes on this CPU (for tiles of the heights the row tiling
/// uses here: up to 8 rows with AVX-512F, 6 with AVX2), 0 where it takes none.
int catena_sgemm_narrow_edge_columns(void);

/// The most columns `catena_sgemm_kernel_columns` takes.
#define CATENA_SGEMM_COLUMNS_MAX 12

/// The last `nr` ≤ 12 columns of a product (a ragged last panel of B) over `rows` rows of A packed as 8-row panels
/// (`mr` must be 8): C[0..<rows, 0..<nr] = (accumulate ? C : 0) + alpha · A · B, with A element (i, p) of panel
/// i/8 at a[(i/8)·ps + p·8 + i%8] (the last panel zero-padded) and B element (p, j) at b[p·rsb + j]. Only those
/// elements of C are read and written. C's rows run along the vector lanes, so the cost follows `nr` instead of
/// a full 16-column tile's. Returns 0 (and does nothing) where the CPU or `mr`/`nr` do not allow it.
int catena_sgemm_kernel_columns(long k, long rows, int mr, int nr, float alpha, const float *a, long ps, const float *b,
                                long rsb, float *c, long rsc, int accumulate);

/// 1 when `catena_sgemm_kernel_wide` has a kernel of its own (AVX-512F), 0 when it would run the edge kernel twice.
int catena_sgemm_has_wide_kernel(void);

/// A tile of `mr` ≤ 8 rows and 32 columns made of two 16-column panels of B, `b0` (columns 0..<16) and `b1`
/// (columns 16..<32), with the same row stride `rsb`: C[0..<mr, 0..<32] = (accumulate ? C : 0) + alpha · A · B.
/// All 32 columns of C are written. Each broadcast element of A feeds both panels, which the 6×16 tile cannot do.
void catena_sgemm_kernel_wide(long k, int mr, float alpha, const float *a, long rsa, long csa, const float *b0,
                              const float *b1, long rsb, float *c, long rsc, int accumulate);

/// The double-precision twin of `catena_sgemm_kernel`, on a 6 x 8 tile.
void catena_dgemm_kernel(long k, double alpha, const double *a, long rsa, long csa,
                         const double *b, long rsb, double *c, long rsc, int accumulate);

/// Packs B for the single-precision kernel when B is stored transposed (element (p, j) at b[p + j*cs], i.e. the
/// rows of a weight matrix W used as Wᵀ): `cols` columns of depth `k` become 16-column micro-panels, each k × 16
/// row-major, the last one zero-padded. `dst` holds ceil(cols/16) · k · 16 floats.
void catena_pack_bt_f32(const float *b, long cs, long k, long cols, float *dst);

/// Packs `rows` rows of A for the single-precision kernel when A is stored transposed (element (i, p) at
/// a[i + p*cs]): `mr`-row micro-panels, each depth × mr (column-major within the panel), the last zero-padded.
void catena_pack_at_f32(const float *a, long cs, long rows, long depth, long mr, float *dst);

/// Packs `rows` rows of A for the single-precision kernel when A is stored by rows (element (i, p) at
/// a[i*rs + p]): the same panels as `catena_pack_at_f32`.
void catena_pack_a_f32(const float *a, long rs, long rows, long depth, long mr, float *dst);

/// Packs B for the single-precision kernel when B is stored by rows (element (p, j) at b[p*rs + j]): the same
/// 16-column micro-panels as `catena_pack_bt_f32`, the last one zero-padded.
void catena_pack_b_f32(const float *b, long rs, long k, long cols, float *dst);

/// `catena_pack_at_f32` for an A whose columns lie anywhere: element (i, p) at `cols[p][i0 + i]`, for `rows` rows.
void catena_pack_at_rows_f32(const float *const *cols, long i0, long rows, long depth, long mr, float *dst);

/// `catena_pack_b_f32` for a B whose rows lie anywhere: element (p, j) at `rows[p][j0 + j]`, for `cols` columns.
void catena_pack_b_rows_f32(const float *const *rows, long j0, long k, long cols, float *dst);

// The element-wise functions below take `y == x` (in place) or buffers that do not overlap; a partial overlap is
// not allowed (the loops are vectorised on that assumption).

/// y[i] = exp(x[i]) for i in 0..<n (relative error below 2 ulp; exp(-inf) = 0, exp(+inf) = inf, NaN stays NaN).
void catena_vexp_f32(const float *x, float *y, long n);
/// y[i] = log(x[i]) (log(0) = -inf, log(negative) = NaN, log(inf) = inf).
void catena_vlog_f32(const float *x, float *y, long n);
/// y[i] = tanh(x[i]).
void catena_vtanh_f32(const float *x, float *y, long n);
/// y[i] = 1 / (1 + exp(-x[i])).
void catena_vsigmoid_f32(const float *x, float *y, long n);

/// Activates the gate pre-activations of Chainer's LSTM layout: x holds rows of 4*units values, interleaved per
/// unit as (a, i, f, o). Writes tanh to the a slots and the logistic sigmoid to the i, f and o slots.
/// `n` is the total element count (a multiple of 4).
void catena_lstm_gates_f32(const float *x, float *y, long n);
/// The gradient of one LSTM cell update over `n` units (Chainer's interleaved gates): from the activated gates `g`
/// (a, i, f, o per unit), the previous cell state `cp`, tanh of the new one `tc` and the gradients of the output `gh`
/// and of the new cell state `gc`, the gradients of the gate pre-activations `gx` (4n) and of the previous cell state
/// `gc_prev` (n, which may be `gc`).
void catena_lstm_cell_backward_f32(const float *g, const float *cp, const float *tc, const float *gh, const float *gc,
                                   float *gx, float *gc_prev, long n);

/// A recurrent step's activation from its four terms (input term, state term, the input's and the state's biases):
/// `dst[r][k] = act(((x[r][k] + bias[k]) + bias2[k]) + y[r][k])` over `rows` rows of `width`, `act` tanh
/// (`activation` 1), ReLU (2; NaN gives 0) or the LSTM gates in gate blocks i, f, a, o of `width / 4` each, tanh on
/// the third and the logistic sigmoid on the others, as catena_lstm_gates_f32 computes each gate (3).
void catena_step_sum_f32(int activation, const float *x, const float *y, const float *bias, const float *bias2,
                         float *dst, long rows, long width);
/// The simple cells' gradient over `n` values: `dh += gy` (when `gy` is not null), then the pre-activation's gradient
/// `gx = y > 0 ? dh : 0` (ReLU) or `dh·(1 − y²)` (tanh), from the step's output `y`.
void catena_rnn_backward_f32(int relu, const float *y, const float *gy, float *dh, float *gx, long n);

/// One LSTM cell update of `n` units from the activated gates `g` (a, i, f, o per unit, 4n) and the previous cell
/// state `cp`: `cn = a·i + f·cp` (two products and a sum, each rounded), `tc = tanh(cn)`, `h = o·tc`. `cn` may be `cp`.
void catena_lstm_cell_forward_f32(const float *g, const float *cp, float *cn, float *tc, float *h, long n);
/// catena_lstm_cell_forward_f32 over `rows` rows of `units` in the gate-block layout of Chainer's NStep weights: row r
/// of `g` holds the activated gates as four blocks of `units`, (i, f, a, o); `cp`, `cn`, `tc` and `h` are rows of
/// `units`. The same formula and roundings. `cn` may be `cp`.
void catena_lstm_blocks_forward_f32(const float *g, const float *cp, float *cn, float *tc, float *h, long rows,
                                    long units);
/// catena_lstm_cell_backward_f32 over `rows` rows of `units` in the gate-block layout of
/// catena_lstm_blocks_forward_f32 (`gx` in the same layout as `g`, overlapping no input). `gc_prev` may be `gc`. When
/// `gy` is not NULL (rows of `units`), the gradient of `h` is `gh + gy`, added in that order.
void catena_lstm_blocks_backward_f32(const float *g, const float *cp, const float *tc, const float *gh, const float *gy,
                                     const float *gc, float *gx, float *gc_prev, long rows, long units);

/// `y[i] = a[i] op b[i]` over `n` floats, `op` 0 add, 1 subtract, 2 multiply, 3 divide; `mode` 1 reads `b[0]` for
/// every `i`, 2 reads `a[0]`. `y` may be `a` or `b`.
void catena_binary_f32(int op, const float *a, const float *b, float *y, long n, int mode);

/// `o[j] = x[0·stride + j] + x[1·stride + j] + … + x[(rows−1)·stride + j]` for `j < width` (`rows` ≥ 1), added in
/// that order, each addition rounded on its own: the sums of adding the rows into `o` one after another, with the
/// running sums of a block of columns kept in registers while the rows are read. Same results on every level.
void catena_sum_rows_f32(const float *x, float *o, long rows, long width, long stride);

/// Σ x[i]² over `n` floats, accumulated in double: element i into running sum i mod 16, the sixteen added pairwise
/// at the end, each operation rounded on its own, so that the result is the same on every instruction-set level.
double catena_sum_squares_f32(const float *x, long n);

/// One Adam step over `n` elements, in place (Catena's AdamRule; `vhat` null without AMSGrad), with
/// `c1 = 1 − β1`, `c2 = 1 − β2`: `m += c1·(g − m)`, `v += c2·(g² − v)`, `vhat = max(vhat, v)`,
/// `p = decay·p − step·m / (√(vhat or v) + eps)`, each operation rounded on its own (no fused multiply-adds).
void catena_adam_f32(float *p, const float *g, float *m, float *v, float *vhat, long n, float c1, float c2, float eps,
                     float decay, float step);

/// Runs fn(ctx, i) for i in 0..<count on up to `threads` threads (the caller and a pool of spinning workers
/// started on first use) and returns when all have finished. Calls made while another job runs (nested calls,
/// or calls from other threads) run serially on the calling thread. Returns 0 only if count is too large.
int catena_parallel_for(long count, int threads, void (*fn)(void *ctx, long i), void *ctx);
/// How long (µs) the pool's workers spin after a job before they sleep: `CATENA_SPIN_US` or 300 until set.
long catena_pool_spin_us(void);
/// Sets the spin time (µs, at least 0); applies from the workers' next wait.
void catena_pool_set_spin_us(long us);

#ifdef __cplusplus
}
#endif

#endif
