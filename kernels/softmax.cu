/* Softmax and log-softmax over the last dimension: the forward launcher (kernels in
 * softmax_rows.cuh) and the backward kernels.
 *
 * Backward, per row: red = sum(dy * y) (softmax) or sum(dy) (log-softmax), then
 * dx += dlc_softmax_bwd_out(y, dy, dx, red). Rows of up to 1024 floats: a group of lanes
 * keeps y and dy in registers (one read of each, then dx read and written). Longer rows:
 * a block per row, pass 1 reduces, pass 2 reads y and dy again (mostly from L2) with dx. */
#include "softmax_rows.cuh"

extern "C" int dlc_launch_softmax_fwd(int log_softmax, const float *x, float *y, int64_t rows,
                                      int64_t C, void *stream) {
  dlc_xent_rows_out none;
  memset(&none, 0, sizeof none);
  return (int)dlc_softmax_fwd_rows<false>(x, y, rows, C, log_softmax != 0, none, 0,
                                          (cudaStream_t)stream);
}

/* ------------------------------------------------------------------ warp per row */

template <int W, int P, int VEC>
__global__ void __launch_bounds__(DLC_SOFTMAX_WARP_THREADS)
    dlc_softmax_bwd_warp(const float *y, const float *dy, float *dx, int64_t rows, int C,
                         int lg) {
  constexpr int N = P * VEC;
  constexpr int ROWS = dlc_rows_per_group(N);
  constexpr int GROUPS = DLC_SOFTMAX_WARP_THREADS / W;
  const int lane = threadIdx.x % W;
  const int64_t group = (int64_t)blockIdx.x * GROUPS + threadIdx.x / W;
  const int64_t warp_group0 = group - (threadIdx.x % 32) / W; /* see dlc_softmax_fwd_warp */
  const int64_t step = (int64_t)gridDim.x * GROUPS * ROWS;

  for (int64_t base = warp_group0 * ROWS; base < rows; base += step) {
    const int64_t row0 = base + (group - warp_group0) * ROWS;
    float vy[ROWS][N], vd[ROWS][N], red[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#pragma unroll
      for (int k = 0; k < P; k++) {
        const int col = (k * W + lane) * VEC;
        if (row0 + r < rows && col < C) {
          const int64_t at = (row0 + r) * C + col;
          dlc_vload<VEC>(&vy[r][k * VEC], y + at);
          dlc_vload<VEC>(&vd[r][k * VEC], dy + at);
        } else {
#pragma unroll
          for (int j = 0; j < VEC; j++) vy[r][k * VEC + j] = vd[r][k * VEC + j] = 0.f;
        }
      }
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      red[r] = 0.f;
#pragma unroll
      for (int i = 0; i < N; i++) red[r] += dlc_softmax_bwd_term(vy[r][i], vd[r][i], lg);
      red[r] = dlc_group_sum<W>(red[r]);
    }
    /* The gradient into vd (0 + g is g exactly), then dx into vy, all packs of a row
     * loaded before any is stored so the loads overlap. */
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      const int64_t row = row0 + r;
#pragma unroll
      for (int i = 0; i < N; i++) vd[r][i] = dlc_softmax_bwd_out(vy[r][i], vd[r][i], 0.f, red[r], lg);
#pragma unroll
      for (int k = 0; k < P; k++) {
        const int col = (k * W + lane) * VEC;
        if (row < rows && col < C) dlc_vload<VEC>(&vy[r][k * VEC], dx + row * C + col);
      }
#pragma unroll
      for (int k = 0; k < P; k++) {
        const int col = (k * W + lane) * VEC;
        if (row < rows && col < C) {
#pragma unroll
          for (int j = 0; j < VEC; j++) vy[r][k * VEC + j] += vd[r][k * VEC + j];
          dlc_vstore<VEC>(dx + row * C + col, &vy[r][k * VEC]);
        }
      }
    }
  }
}

template <int W, int P, int VEC>
static cudaError_t dlc_softmax_bwd_warp_launch(const float *y, const float *dy, float *dx,
                                               int64_t rows, int C, int lg, cudaStream_t st) {
  constexpr int64_t ROWS_PER_BLOCK =
      (DLC_SOFTMAX_WARP_THREADS / W) * dlc_rows_per_group(P * VEC);
  int64_t blocks = (rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
  if (blocks > DLC_MAX_BLOCKS) blocks = DLC_MAX_BLOCKS;
  dlc_softmax_bwd_warp<W, P, VEC>
      <<<(unsigned)blocks, DLC_SOFTMAX_WARP_THREADS, 0, st>>>(y, dy, dx, rows, C, lg);
  return cudaGetLastError();
}

template <int VEC>
static cudaError_t dlc_softmax_bwd_warp_dispatch(const float *y, const float *dy, float *dx,
                                                 int64_t rows, int C, int lg, cudaStream_t st) {
  const int packs = (C + VEC - 1) / VEC;
#define DLC_BWD_WARP(W_, P_) dlc_softmax_bwd_warp_launch<W_, P_, VEC>(y, dy, dx, rows, C, lg, st)
  if (packs <= 2) return DLC_BWD_WARP(2, 1);
  if (packs <= 4) return DLC_BWD_WARP(4, 1);
  if (packs <= 8) return DLC_BWD_WARP(8, 1);
  if (packs <= 16) return DLC_BWD_WARP(16, 1);
  if (packs <= 32) return DLC_BWD_WARP(32, 1);
  if (packs <= 64) return DLC_BWD_WARP(32, 2);
  if (packs <= 128) return DLC_BWD_WARP(32, 4);
  if (packs <= 256) return DLC_BWD_WARP(32, 8);
  if (packs <= 512) return DLC_BWD_WARP(32, dlc_imin(16, 32 / VEC));
  return DLC_BWD_WARP(32, 32 / VEC);
#undef DLC_BWD_WARP
}

/* ------------------------------------------------------------------ block per row */

template <int BLOCK, int VEC>
__global__ void __launch_bounds__(BLOCK)
    dlc_softmax_bwd_block(const float *y, const float *dy, float *dx, int64_t rows, int C,
                          int lg) {
  constexpr int U = DLC_SOFTMAX_ONLINE_UNROLL;
  __shared__ float redbuf[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *yr = y + row * C, *dyr = dy + row * C;
    float *dxr = dx + row * C;
    float red = 0.f;
    for (int c0 = threadIdx.x * VEC; c0 < C; c0 += U * BLOCK * VEC) {
      float a[U][VEC], b[U][VEC];
#pragma unroll
      for (int u = 0; u < U; u++) {
        const int c = c0 + u * BLOCK * VEC;
#pragma unroll
        for (int j = 0; j < VEC; j++) a[u][j] = b[u][j] = 0.f;
        if (c < C) {
          dlc_vload<VEC>(b[u], dyr + c);
          if (!lg) dlc_vload<VEC>(a[u], yr + c); /* log-softmax's sum needs dy alone */
        }
      }
#pragma unroll
      for (int u = 0; u < U; u++)
#pragma unroll
        for (int j = 0; j < VEC; j++) red += dlc_softmax_bwd_term(a[u][j], b[u][j], lg);
    }
    red = dlc_block_sum<BLOCK>(red, redbuf);
#pragma unroll 2
    for (int c = threadIdx.x * VEC; c < C; c += BLOCK * VEC) {
      float a[VEC], b[VEC], d[VEC];
      dlc_vload<VEC>(a, yr + c);
      dlc_vload<VEC>(b, dyr + c);
      dlc_vload<VEC>(d, dxr + c);
#pragma unroll
      for (int j = 0; j < VEC; j++) d[j] = dlc_softmax_bwd_out(a[j], b[j], d[j], red, lg);
      dlc_vstore<VEC>(dxr + c, d);
    }
  }
}

template <int VEC>
static cudaError_t dlc_softmax_bwd_block_launch(const float *y, const float *dy, float *dx,
                                                int64_t rows, int C, int lg, cudaStream_t st) {
  const unsigned grid =
      (unsigned)(rows < DLC_SOFTMAX_MAX_ROW_BLOCKS ? rows : DLC_SOFTMAX_MAX_ROW_BLOCKS);
  if (C <= 4096)
    dlc_softmax_bwd_block<256, VEC><<<grid, 256, 0, st>>>(y, dy, dx, rows, C, lg);
  else
    dlc_softmax_bwd_block<1024, VEC><<<grid, 1024, 0, st>>>(y, dy, dx, rows, C, lg);
  return cudaGetLastError();
}

extern "C" int dlc_launch_softmax_bwd(int log_softmax, const float *y, const float *dy,
                                      float *dx, int64_t rows, int64_t C, void *stream) {
  cudaStream_t st = (cudaStream_t)stream;
  if (rows <= 0 || C <= 0) return (int)cudaSuccess;
  if (C > INT_MAX) return (int)cudaErrorInvalidValue;
  const int c = (int)C, lg = log_softmax != 0;
  const int vec = dlc_softmax_vec(C, y, dy, dx);
  if (C <= DLC_SOFTMAX_WARP_MAX) {
    if (vec == 4) return (int)dlc_softmax_bwd_warp_dispatch<4>(y, dy, dx, rows, c, lg, st);
    if (vec == 2) return (int)dlc_softmax_bwd_warp_dispatch<2>(y, dy, dx, rows, c, lg, st);
    return (int)dlc_softmax_bwd_warp_dispatch<1>(y, dy, dx, rows, c, lg, st);
  }
  if (vec == 4) return (int)dlc_softmax_bwd_block_launch<4>(y, dy, dx, rows, c, lg, st);
  if (vec == 2) return (int)dlc_softmax_bwd_block_launch<2>(y, dy, dx, rows, c, lg, st);
  return (int)dlc_softmax_bwd_block_launch<1>(y, dy, dx, rows, c, lg, st);
}
