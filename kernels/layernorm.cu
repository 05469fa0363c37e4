/* Layer normalisation. Forward and the input gradient take one block per row (a grid-
 * stride loop over rows): two block sums (the mean, then the centred sum of squares, so no
 * cancellation) and one pass writing y; backward's two row sums, then dx. The weight and
 * bias gradients are column sums over the rows: blocks of 256 columns by P row chunks
 * (dlc_ln_splits) write partial sums, a second kernel adds each column's P partials in
 * order. No atomics: the same inputs give the same bits on every run. */
#include "common.cuh"
#include "layernorm.h"
#include "softmax_rows.cuh" /* dlc_block_sum */

static unsigned ln_row_grid(int64_t R) { return (unsigned)(R < 65535 ? R : 65535); }

__global__ void ln_forward_kernel(const float *x, float *y, int64_t R, int64_t D, const float *w, const float *b,
                                  float eps, float *save_mean, float *save_rstd) {
  __shared__ float red[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float *xr = x + r * D;
    float *yr = y + r * D;
    float s = 0.f;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) s += xr[d];
    float mean = dlc_block_sum<DLC_BLOCK>(s, red) / (float)D;
    float q = 0.f;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      float t = xr[d] - mean;
      q += t * t;
    }
    float rstd = 1.f / sqrtf(dlc_block_sum<DLC_BLOCK>(q, red) / (float)D + eps);
    if (threadIdx.x == 0) {
      save_mean[r] = mean;
      save_rstd[r] = rstd;
    }
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
      yr[d] = dlc_ln_apply(xr[d], mean, rstd, w ? w[d] : 1.f, b ? b[d] : 0.f);
  }
}

__global__ void ln_input_grad_kernel(const float *x, const float *dy, float *dx, int64_t R, int64_t D,
                                     const float *w, const float *save_mean, const float *save_rstd) {
  __shared__ float red[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const float *xr = x + r * D, *dyr = dy + r * D;
    float *dxr = dx + r * D;
    float mean = save_mean[r], rstd = save_rstd[r], a = 0.f, c = 0.f;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      float g = dyr[d] * (w ? w[d] : 1.f);
      a += g;
      c += g * (xr[d] - mean) * rstd;
    }
    float mean_g = dlc_block_sum<DLC_BLOCK>(a, red) / (float)D;
    float mean_gx = dlc_block_sum<DLC_BLOCK>(c, red) / (float)D;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
      dxr[d] += dlc_ln_grad(xr[d], dyr[d] * (w ? w[d] : 1.f), mean, rstd, mean_g, mean_gx);
  }
}

/* Row chunk p = blockIdx.y of P, columns blockIdx.x * blockDim.x + threadIdx.x: partial
 * sums of dy * xhat (part[p * D + d]) and of dy (part[(P + p) * D + d]). */
__global__ void ln_param_partial_kernel(const float *x, const float *dy, int64_t R, int64_t D,
                                        const float *save_mean, const float *save_rstd, float *part) {
  int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int p = blockIdx.y, P = gridDim.y;
  if (d >= D) return;
  int64_t lo = R * p / P, hi = R * (p + 1) / P;
  float sw = 0.f, sb = 0.f;
  for (int64_t r = lo; r < hi; r++) {
    float g = dy[r * D + d];
    sw += g * (x[r * D + d] - save_mean[r]) * save_rstd[r];
    sb += g;
  }
  part[(int64_t)p * D + d] = sw;
  part[(int64_t)(P + p) * D + d] = sb;
}

__global__ void ln_param_final_kernel(const float *part, int64_t D, int P, float *dw, float *db) {
  int64_t d = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (d >= D) return;
  float sw = 0.f, sb = 0.f;
  for (int p = 0; p < P; p++) {
    sw += part[(int64_t)p * D + d];
    sb += part[(int64_t)(P + p) * D + d];
  }
  if (dw) dw[d] += sw;
  if (db) db[d] += sb;
}

extern "C" int dlc_launch_ln_forward(const float *x, float *y, int64_t R, int64_t D, const float *w,
                                     const float *b, float eps, float *save_mean, float *save_rstd,
                                     void *stream) {
  ln_forward_kernel<<<ln_row_grid(R), DLC_BLOCK, 0, (cudaStream_t)stream>>>(x, y, R, D, w, b, eps, save_mean,
                                                                             save_rstd);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_ln_backward(const float *x, const float *dy, float *dx, int64_t R, int64_t D,
                                      const float *w, const float *save_mean, const float *save_rstd, float *dw,
                                      float *db, float *partials, void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  if (dx) ln_input_grad_kernel<<<ln_row_grid(R), DLC_BLOCK, 0, s>>>(x, dy, dx, R, D, w, save_mean, save_rstd);
  if (dw || db) {
    int P = dlc_ln_splits(R);
    unsigned cols = (unsigned)((D + DLC_BLOCK - 1) / DLC_BLOCK);
    ln_param_partial_kernel<<<dim3(cols, (unsigned)P), DLC_BLOCK, 0, s>>>(x, dy, R, D, save_mean, save_rstd,
                                                                          partials);
    ln_param_final_kernel<<<cols, DLC_BLOCK, 0, s>>>(partials, D, P, dw, db);
  }
  return (int)cudaGetLastError();
}
