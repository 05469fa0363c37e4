/* The forward row kernels of softmax and log-softmax, and of the fused softmax
 * cross-entropy (XENT = true, always log-softmax), shared by softmax.cu and xent.cu. Which
 * kernel runs depends on the row length C:
 *
 *  - warp (C <= 1024): a group of W lanes (W a power of two, 2..32) owns a row and keeps it
 *    in registers, P packs of VEC floats per lane: the row is read once and written once.
 *    Short rows put several groups in a warp, and each group takes ROWS rows per step so
 *    that every lane has at least eight floats in flight (enough loads to cover DRAM latency).
 *  - cached (C <= 8192): a block owns a row and parks it in shared memory (32 KiB at most:
 *    under the 48 KiB a block gets without opt-in, and several blocks per SM): one read,
 *    one write.
 *  - online (longer rows): pass 1 reads the row once keeping a running max and a sum
 *    rescaled whenever the max grows (Milakov and Gimelshein, "Online normalizer calculation
 *    for softmax", 2018); pass 2 reads it again, mostly from L2, and writes.
 *
 * The max is subtracted as a float and reductions are butterflies, so every lane ends with
 * bitwise the same max and sum; no atomics anywhere, results are reproducible run to run.
 * y may alias x: each element is read before it is written, by the thread that writes it.
 */
#ifndef DLC_SOFTMAX_ROWS_CUH
#define DLC_SOFTMAX_ROWS_CUH

#include <limits.h>

#include "common.cuh"
#include "loss.h"
#include "softmax.h"

#define DLC_SOFTMAX_WARP_MAX 1024    /* longest row of the warp kernels */
#define DLC_SOFTMAX_CACHED_MAX 8192  /* longest row cached in shared memory (32 KiB) */
#define DLC_SOFTMAX_WARP_THREADS 128 /* block size of the warp kernels */
#define DLC_SOFTMAX_ONLINE_UNROLL 4  /* packs each thread loads at once in the online pass */
#define DLC_SOFTMAX_MAX_ROW_BLOCKS (1 << 24)

/* What the fused cross-entropy forward writes besides logp. */
typedef struct dlc_xent_rows_out {
  dlc_xent_params p;
  float *row_w;    /* [rows] label weight of each row */
  float *row_loss; /* [rows] (scratch), or NULL: the single block reduces into loss itself */
  float *loss;     /* [1], written only by the single-block warp form */
} dlc_xent_rows_out;

static constexpr int dlc_imin(int a, int b) { return a < b ? a : b; }

/* Rows per group and step: at least eight floats per lane, so that even a warp of short
 * rows (10 classes: 5 of 8 lanes busy) has about 1 KiB of loads in flight. */
static constexpr int dlc_rows_per_group(int floats_per_lane) {
  return floats_per_lane >= 8 ? 1 : 8 / floats_per_lane;
}

/* VEC floats from/to p, 4*VEC-byte aligned. */
template <int VEC>
static __device__ __forceinline__ void dlc_vload(float *v, const float *p) {
  if (VEC == 4) {
    float4 t = *(const float4 *)p;
    v[0] = t.x; v[1] = t.y; v[2] = t.z; v[3] = t.w;
  } else if (VEC == 2) {
    float2 t = *(const float2 *)p;
    v[0] = t.x; v[1] = t.y;
  } else {
    v[0] = *p;
  }
}

template <int VEC>
static __device__ __forceinline__ void dlc_vstore(float *p, const float *v) {
  if (VEC == 4)
    *(float4 *)p = make_float4(v[0], v[1], v[2], v[3]);
  else if (VEC == 2)
    *(float2 *)p = make_float2(v[0], v[1]);
  else
    *p = v[0];
}

/* The widest pack (4, 2 or 1 floats) that every row start of every pointer allows. */
static inline int dlc_softmax_vec(int64_t C, const void *a, const void *b, const void *c) {
  uintptr_t m = (uintptr_t)a | (uintptr_t)b | (uintptr_t)c;
  if (C % 4 == 0 && m % 16 == 0) return 4;
  if (C % 2 == 0 && m % 8 == 0) return 2;
  return 1;
}

/* Butterfly reductions within groups of W lanes: every lane gets the same result (the
 * operations are commutative, so partners compute identical values). The whole warp must
 * take part. */
template <int W>
static __device__ __forceinline__ float dlc_group_max(float v) {
#pragma unroll
  for (int o = W / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o, W));
  return v;
}

template <int W>
static __device__ __forceinline__ float dlc_group_sum(float v) {
#pragma unroll
  for (int o = W / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o, W);
  return v;
}

/* Block-wide versions; red holds at least 32 floats. Every thread gets the result, and red
 * may be reused right after. */
template <int BLOCK>
static __device__ __forceinline__ float dlc_block_max(float v, float *red) {
  v = dlc_group_max<32>(v);
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x % 32 < BLOCK / 32 ? red[threadIdx.x % 32] : -INFINITY;
  v = dlc_group_max<32>(v);
  __syncthreads();
  return v;
}

template <int BLOCK>
static __device__ __forceinline__ float dlc_block_sum(float v, float *red) {
  v = dlc_group_sum<32>(v);
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x % 32 < BLOCK / 32 ? red[threadIdx.x % 32] : 0.f;
  v = dlc_group_sum<32>(v);
  __syncthreads();
  return v;
}

/* Online softmax state (m, s): s = sum exp(x - m) over what was seen, m its max.
 * Merging rescales the smaller side; when a side's max is the merged max its sum is taken
 * as is, which also keeps (-inf, 0) + (-inf, 0) from becoming NaN. */
static __device__ __forceinline__ void dlc_online_merge(float *m, float *s, float m2, float s2) {
  const float mm = fmaxf(*m, m2);
  *s = (*m == mm ? *s : *s * expf(*m - mm)) + (m2 == mm ? s2 : s2 * expf(m2 - mm));
  *m = mm;
}

/* Adds a pack of VEC values. -inf values add nothing (so a row that starts with -inf does
 * not compute -inf - (-inf)); NaN values poison s, as they must. */
template <int VEC>
static __device__ __forceinline__ void dlc_online_add(float *m, float *s, const float *v) {
  float pm = v[0];
#pragma unroll
  for (int j = 1; j < VEC; j++) pm = fmaxf(pm, v[j]);
  const float mm = fmaxf(*m, pm);
  float acc = *m == mm ? *s : *s * expf(*m - mm);
#pragma unroll
  for (int j = 0; j < VEC; j++) acc += v[j] == -INFINITY ? 0.f : expf(v[j] - mm);
  *m = mm;
  *s = acc;
}

template <int BLOCK>
static __device__ __forceinline__ void dlc_block_online(float *m, float *s, float *red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    float m2 = __shfl_xor_sync(0xffffffffu, *m, o), s2 = __shfl_xor_sync(0xffffffffu, *s, o);
    dlc_online_merge(m, s, m2, s2);
  }
  if (threadIdx.x % 32 == 0) {
    red[threadIdx.x / 32] = *m;
    red[32 + threadIdx.x / 32] = *s;
  }
  __syncthreads();
  const int lane = threadIdx.x % 32;
  *m = lane < BLOCK / 32 ? red[lane] : -INFINITY;
  *s = lane < BLOCK / 32 ? red[32 + lane] : 0.f;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    float m2 = __shfl_xor_sync(0xffffffffu, *m, o), s2 = __shfl_xor_sync(0xffffffffu, *s, o);
    dlc_online_merge(m, s, m2, s2);
  }
  __syncthreads();
}

/* Cross-entropy terms one element of a row adds: its log-probability when it is the
 * label's, and w_c logp_c for the smoothing sum. */
static __device__ __forceinline__ void dlc_xent_take(const dlc_xent_params *p, int c, int t,
                                                     float lp, float *lt, float *ws) {
  if (c == t) *lt = lp;
  if (p->eps != 0.f) *ws += (p->class_w ? p->class_w[c] : 1.f) * lp;
}

/* A block's row is done: reduce the cross-entropy terms and record the row. */
template <int BLOCK>
static __device__ __forceinline__ void dlc_xent_row_block(const dlc_xent_rows_out *xo,
                                                          int64_t row, int t, int C, float lt,
                                                          float ws, float *red) {
  lt = dlc_block_sum<BLOCK>(lt, red);
  if (xo->p.eps != 0.f) ws = dlc_block_sum<BLOCK>(ws, red);
  if (threadIdx.x == 0) {
    const float wt = dlc_xent_label_weight(t, C, xo->p.ignore_index, xo->p.class_w);
    xo->row_w[row] = wt;
    xo->row_loss[row] = dlc_xent_row_loss(t == xo->p.ignore_index, lt, wt, ws, xo->p.eps, C);
  }
}

/* ------------------------------------------------------------------ warp per row */

template <int W, int P, int VEC, bool XENT>
__global__ void __launch_bounds__(DLC_SOFTMAX_WARP_THREADS)
    dlc_softmax_fwd_warp(const float *x, float *y, int64_t rows, int C, int log_softmax,
                         dlc_xent_rows_out xo) {
  constexpr int N = P * VEC; /* floats per lane and row */
  constexpr int ROWS = dlc_rows_per_group(N);
  constexpr int GROUPS = DLC_SOFTMAX_WARP_THREADS / W;
  const int lg = XENT ? 1 : log_softmax;
  const int lane = threadIdx.x % W;
  const int64_t group = (int64_t)blockIdx.x * GROUPS + threadIdx.x / W;
  /* Loop on the warp's first group, so that all 32 lanes run the same number of steps and
   * the full-mask shuffles are legal; groups past the last row compute on -inf padding
   * and store nothing. */
  const int64_t warp_group0 = group - (threadIdx.x % 32) / W;
  const int64_t step = (int64_t)gridDim.x * GROUPS * ROWS;
  double acc_loss = 0, acc_w = 0;

  for (int64_t base = warp_group0 * ROWS; base < rows; base += step) {
    const int64_t row0 = base + (group - warp_group0) * ROWS;
    float v[ROWS][N], m[ROWS], s[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
#pragma unroll
      for (int k = 0; k < P; k++) {
        const int col = (k * W + lane) * VEC;
        if (row0 + r < rows && col < C) {
          dlc_vload<VEC>(&v[r][k * VEC], x + (row0 + r) * C + col);
        } else {
#pragma unroll
          for (int j = 0; j < VEC; j++) v[r][k * VEC + j] = -INFINITY;
        }
      }
    }
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      m[r] = v[r][0];
#pragma unroll
      for (int i = 1; i < N; i++) m[r] = fmaxf(m[r], v[r][i]);
      m[r] = dlc_group_max<W>(m[r]);
    }
    /* Keep exp(x - m) for softmax, x - m for log-softmax: one exp per element. */
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      s[r] = 0.f;
#pragma unroll
      for (int i = 0; i < N; i++) {
        const float d = v[r][i] - m[r], e = expf(d);
        s[r] += e;
        v[r][i] = lg ? d : e;
      }
      s[r] = dlc_group_sum<W>(s[r]);
    }
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      const int64_t row = row0 + r;
      const float scale = dlc_softmax_scale(s[r], lg);
      const int t = XENT && row < rows ? xo.p.labels[row] : 0;
      float lt = 0.f, ws = 0.f;
#pragma unroll
      for (int k = 0; k < P; k++) {
        const int col = (k * W + lane) * VEC;
#pragma unroll
        for (int j = 0; j < VEC; j++) {
          float *o = &v[r][k * VEC + j];
          *o = lg ? *o - scale : *o * scale;
          if (XENT && col + j < C) dlc_xent_take(&xo.p, col + j, t, *o, &lt, &ws);
        }
        if (row < rows && col < C) dlc_vstore<VEC>(y + row * C + col, &v[r][k * VEC]);
      }
      if (XENT) {
        lt = dlc_group_sum<W>(lt); /* one lane holds logp_t, the others add 0 */
        if (xo.p.eps != 0.f) ws = dlc_group_sum<W>(ws);
        if (lane == 0 && row < rows) {
          const int ignored = t == xo.p.ignore_index;
          const float wt = dlc_xent_label_weight(t, C, xo.p.ignore_index, xo.p.class_w);
          const float l = dlc_xent_row_loss(ignored, lt, wt, ws, xo.p.eps, C);
          xo.row_w[row] = wt;
          if (xo.row_loss) {
            xo.row_loss[row] = l;
          } else {
            acc_loss += l;
            acc_w += wt;
          }
        }
      }
    }
  }

  if (XENT && xo.loss) {
    /* The single-block form: the groups' sums, added in group order. */
    __shared__ double part_loss[GROUPS], part_w[GROUPS];
    if (lane == 0) {
      part_loss[threadIdx.x / W] = acc_loss;
      part_w[threadIdx.x / W] = acc_w;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      double l = 0, w = 0;
      for (int g = 0; g < GROUPS; g++) {
        l += part_loss[g];
        w += part_w[g];
      }
      xo.loss[0] = dlc_loss_finish(l, w, xo.p.mean);
    }
  }
}

/* ------------------------------------------------------------------ block per row */

template <int BLOCK, int VEC, bool XENT>
__global__ void __launch_bounds__(BLOCK)
    dlc_softmax_fwd_cached(const float *x, float *y, int64_t rows, int C, int log_softmax,
                           dlc_xent_rows_out xo) {
  extern __shared__ float4 dlc_row_cache4[]; /* C floats, 16-byte aligned */
  float *cache = (float *)dlc_row_cache4;
  __shared__ float red[32];
  const int lg = XENT ? 1 : log_softmax;
  /* Each thread reads back only the cache entries it wrote itself: no barrier guards the
   * cache, only the reductions synchronise. */
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *xr = x + row * C;
    float *yr = y + row * C;
    float m = -INFINITY, s = 0.f, v[VEC];
#pragma unroll 4
    for (int c = threadIdx.x * VEC; c < C; c += BLOCK * VEC) {
      dlc_vload<VEC>(v, xr + c);
#pragma unroll
      for (int j = 0; j < VEC; j++) m = fmaxf(m, v[j]);
      dlc_vstore<VEC>(cache + c, v);
    }
    m = dlc_block_max<BLOCK>(m, red);
    for (int c = threadIdx.x * VEC; c < C; c += BLOCK * VEC) {
      dlc_vload<VEC>(v, cache + c);
#pragma unroll
      for (int j = 0; j < VEC; j++) {
        const float d = v[j] - m, e = expf(d);
        s += e;
        v[j] = lg ? d : e;
      }
      dlc_vstore<VEC>(cache + c, v);
    }
    s = dlc_block_sum<BLOCK>(s, red);
    const float scale = dlc_softmax_scale(s, lg);
    const int t = XENT ? xo.p.labels[row] : 0;
    float lt = 0.f, ws = 0.f;
    for (int c = threadIdx.x * VEC; c < C; c += BLOCK * VEC) {
      dlc_vload<VEC>(v, cache + c);
#pragma unroll
      for (int j = 0; j < VEC; j++) {
        v[j] = lg ? v[j] - scale : v[j] * scale;
        if (XENT) dlc_xent_take(&xo.p, c + j, t, v[j], &lt, &ws);
      }
      dlc_vstore<VEC>(yr + c, v);
    }
    if (XENT) dlc_xent_row_block<BLOCK>(&xo, row, t, C, lt, ws, red);
  }
}

template <int BLOCK, int VEC, bool XENT>
__global__ void __launch_bounds__(BLOCK)
    dlc_softmax_fwd_online(const float *x, float *y, int64_t rows, int C, int log_softmax,
                           dlc_xent_rows_out xo) {
  constexpr int U = DLC_SOFTMAX_ONLINE_UNROLL;
  __shared__ float red[64];
  const int lg = XENT ? 1 : log_softmax;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *xr = x + row * C;
    float *yr = y + row * C;
    float m = -INFINITY, s = 0.f;
    for (int c0 = threadIdx.x * VEC; c0 < C; c0 += U * BLOCK * VEC) {
      float v[U][VEC];
#pragma unroll
      for (int u = 0; u < U; u++) {
        const int c = c0 + u * BLOCK * VEC;
        if (c < C) {
          dlc_vload<VEC>(v[u], xr + c);
        } else {
#pragma unroll
          for (int j = 0; j < VEC; j++) v[u][j] = -INFINITY;
        }
      }
#pragma unroll
      for (int u = 0; u < U; u++) dlc_online_add<VEC>(&m, &s, v[u]);
    }
    dlc_block_online<BLOCK>(&m, &s, red);
    const float scale = dlc_softmax_scale(s, lg);
    const int t = XENT ? xo.p.labels[row] : 0;
    float lt = 0.f, ws = 0.f;
#pragma unroll 4
    for (int c = threadIdx.x * VEC; c < C; c += BLOCK * VEC) {
      float v[VEC];
      dlc_vload<VEC>(v, xr + c);
#pragma unroll
      for (int j = 0; j < VEC; j++) {
        v[j] = dlc_softmax_out(v[j], m, scale, lg);
        if (XENT) dlc_xent_take(&xo.p, c + j, t, v[j], &lt, &ws);
      }
      dlc_vstore<VEC>(yr + c, v);
    }
    if (XENT) dlc_xent_row_block<BLOCK>(&xo, row, t, C, lt, ws, red);
  }
}

/* ------------------------------------------------------------------ dispatch */

template <int W, int P, int VEC, bool XENT>
static cudaError_t dlc_softmax_fwd_warp_launch(const float *x, float *y, int64_t rows, int C,
                                               int lg, dlc_xent_rows_out xo, int single_block,
                                               cudaStream_t st) {
  constexpr int64_t ROWS_PER_BLOCK =
      (DLC_SOFTMAX_WARP_THREADS / W) * dlc_rows_per_group(P * VEC);
  int64_t blocks = single_block ? 1 : (rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
  if (blocks > DLC_MAX_BLOCKS) blocks = DLC_MAX_BLOCKS;
  dlc_softmax_fwd_warp<W, P, VEC, XENT>
      <<<(unsigned)blocks, DLC_SOFTMAX_WARP_THREADS, 0, st>>>(x, y, rows, C, lg, xo);
  return cudaGetLastError();
}

/* The narrowest group that holds the row: W lanes of one pack for rows of up to 32 packs,
 * else a full warp with P packs per lane (a power of two, so few instantiations). */
template <int VEC, bool XENT>
static cudaError_t dlc_softmax_fwd_warp_dispatch(const float *x, float *y, int64_t rows, int C,
                                                 int lg, dlc_xent_rows_out xo,
                                                 int single_block, cudaStream_t st) {
  const int packs = (C + VEC - 1) / VEC;
#define DLC_FWD_WARP(W_, P_) \
  dlc_softmax_fwd_warp_launch<W_, P_, VEC, XENT>(x, y, rows, C, lg, xo, single_block, st)
  if (packs <= 2) return DLC_FWD_WARP(2, 1);
  if (packs <= 4) return DLC_FWD_WARP(4, 1);
  if (packs <= 8) return DLC_FWD_WARP(8, 1);
  if (packs <= 16) return DLC_FWD_WARP(16, 1);
  if (packs <= 32) return DLC_FWD_WARP(32, 1);
  if (packs <= 64) return DLC_FWD_WARP(32, 2);
  if (packs <= 128) return DLC_FWD_WARP(32, 4);
  if (packs <= 256) return DLC_FWD_WARP(32, 8);
  /* Only VEC <= 2 gets here (C <= 1024); min() avoids instantiating packs past 1024. */
  if (packs <= 512) return DLC_FWD_WARP(32, dlc_imin(16, 32 / VEC));
  return DLC_FWD_WARP(32, 32 / VEC);
#undef DLC_FWD_WARP
}

template <int VEC, bool XENT>
static cudaError_t dlc_softmax_fwd_block_dispatch(const float *x, float *y, int64_t rows, int C,
                                                  int lg, dlc_xent_rows_out xo,
                                                  cudaStream_t st) {
  const unsigned grid =
      (unsigned)(rows < DLC_SOFTMAX_MAX_ROW_BLOCKS ? rows : DLC_SOFTMAX_MAX_ROW_BLOCKS);
  const size_t cache = (size_t)C * sizeof(float);
  if (C <= 4096)
    dlc_softmax_fwd_cached<256, VEC, XENT><<<grid, 256, cache, st>>>(x, y, rows, C, lg, xo);
  else if (C <= DLC_SOFTMAX_CACHED_MAX)
    dlc_softmax_fwd_cached<512, VEC, XENT><<<grid, 512, cache, st>>>(x, y, rows, C, lg, xo);
  else
    dlc_softmax_fwd_online<1024, VEC, XENT><<<grid, 1024, 0, st>>>(x, y, rows, C, lg, xo);
  return cudaGetLastError();
}

/* Runs the right kernel for rows of length C. single_block (XENT with C <= 1024 only):
 * one block does every row and reduces the loss itself. */
template <bool XENT>
static cudaError_t dlc_softmax_fwd_rows(const float *x, float *y, int64_t rows, int64_t C,
                                        int lg, dlc_xent_rows_out xo, int single_block,
                                        cudaStream_t st) {
  if (rows <= 0 || C <= 0) return cudaSuccess;
  if (C > INT_MAX) return cudaErrorInvalidValue;
  const int c = (int)C;
  const int vec = dlc_softmax_vec(C, x, y, y);
  if (C <= DLC_SOFTMAX_WARP_MAX) {
    if (vec == 4) return dlc_softmax_fwd_warp_dispatch<4, XENT>(x, y, rows, c, lg, xo, single_block, st);
    if (vec == 2) return dlc_softmax_fwd_warp_dispatch<2, XENT>(x, y, rows, c, lg, xo, single_block, st);
    return dlc_softmax_fwd_warp_dispatch<1, XENT>(x, y, rows, c, lg, xo, single_block, st);
  }
  if (single_block) return cudaErrorInvalidValue;
  if (vec == 4) return dlc_softmax_fwd_block_dispatch<4, XENT>(x, y, rows, c, lg, xo, st);
  if (vec == 2) return dlc_softmax_fwd_block_dispatch<2, XENT>(x, y, rows, c, lg, xo, st);
  return dlc_softmax_fwd_block_dispatch<1, XENT>(x, y, rows, c, lg, xo, st);
}

#endif
