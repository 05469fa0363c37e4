/* The deterministic loss sum (loss_sum.cuh) and the MSE kernels. */
#include "loss.h"
#include "loss_sum.cuh"

#define DLC_SUM_THREADS 256        /* block of the partials kernel */
#define DLC_SUM_FINAL_THREADS 1024 /* the one block of the final kernel */
#define DLC_SUM_PER_BLOCK 8192     /* terms per partials block, at least */
#define DLC_SUM_MAX_PARTS 1024

static __device__ __forceinline__ double2 dlc_sum_term(int mode, const float *a, const float *b,
                                                       int64_t i) {
  if (mode == DLC_SUM_SQDIFF) return make_double2((double)dlc_mse_sq(a[i], b[i]), 0.0);
  return make_double2((double)a[i], mode == DLC_SUM_PAIR ? (double)b[i] : 0.0);
}

/* Terms first, first + stride, ... < n added in that order; four loaded at a time. */
static __device__ double2 dlc_sum_strided(int mode, const float *a, const float *b,
                                          int64_t first, int64_t stride, int64_t n) {
  double2 s = make_double2(0.0, 0.0);
  int64_t i = first;
  for (; i + 3 * stride < n; i += 4 * stride) {
    double2 t[4];
#pragma unroll
    for (int u = 0; u < 4; u++) t[u] = dlc_sum_term(mode, a, b, i + u * stride);
#pragma unroll
    for (int u = 0; u < 4; u++) {
      s.x += t[u].x;
      s.y += t[u].y;
    }
  }
  for (; i < n; i += stride) {
    double2 t = dlc_sum_term(mode, a, b, i);
    s.x += t.x;
    s.y += t.y;
  }
  return s;
}

/* A fixed butterfly then warp order; the result is valid in thread 0. red: 32 entries. */
template <int BLOCK>
static __device__ double2 dlc_block_sum2(double2 v, double2 *red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    v.x += __shfl_xor_sync(0xffffffffu, v.x, o);
    v.y += __shfl_xor_sync(0xffffffffu, v.y, o);
  }
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    v = threadIdx.x < BLOCK / 32 ? red[threadIdx.x] : make_double2(0.0, 0.0);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      v.x += __shfl_xor_sync(0xffffffffu, v.x, o);
      v.y += __shfl_xor_sync(0xffffffffu, v.y, o);
    }
  }
  __syncthreads();
  return v;
}

__global__ void __launch_bounds__(DLC_SUM_THREADS)
    dlc_loss_sum_partials(int mode, const float *a, const float *b, int64_t n, double2 *parts) {
  __shared__ double2 red[32];
  const int64_t stride = (int64_t)gridDim.x * DLC_SUM_THREADS;
  double2 s = dlc_sum_strided(mode, a, b, (int64_t)blockIdx.x * DLC_SUM_THREADS + threadIdx.x,
                              stride, n);
  s = dlc_block_sum2<DLC_SUM_THREADS>(s, red);
  if (threadIdx.x == 0) parts[blockIdx.x] = s;
}

/* Sums the partials (or, with parts NULL, the n terms themselves) and writes the result
 * the finish kind asks for. */
__global__ void __launch_bounds__(DLC_SUM_FINAL_THREADS)
    dlc_loss_sum_final(int mode, const float *a, const float *b, int64_t n,
                       const double2 *parts, int nparts, dlc_finish_args f, float *out) {
  __shared__ double2 red[32];
  double2 s = make_double2(0.0, 0.0);
  if (parts) {
    for (int i = threadIdx.x; i < nparts; i += DLC_SUM_FINAL_THREADS) {
      s.x += parts[i].x;
      s.y += parts[i].y;
    }
  } else {
    s = dlc_sum_strided(mode, a, b, threadIdx.x, DLC_SUM_FINAL_THREADS, n);
  }
  s = dlc_block_sum2<DLC_SUM_FINAL_THREADS>(s, red);
  if (f.kind == DLC_FINISH_XENT_COEF) {
    /* W = sum of the class weights (C without weights), reduced here so the gradient
     * kernel need not. Every thread adds its share; the block sums the shares. */
    double2 w = make_double2(0.0, 0.0);
    if (f.class_w)
      for (int64_t c = threadIdx.x; c < f.C; c += DLC_SUM_FINAL_THREADS) w.x += f.class_w[c];
    w = dlc_block_sum2<DLC_SUM_FINAL_THREADS>(w, red);
    if (threadIdx.x == 0) {
      dlc_xent_coefs(f.dloss, f.eps, f.C, s.x, f.mean, &out[0], &out[1]);
      out[2] = f.class_w ? (float)w.x : (float)f.C;
    }
  } else if (threadIdx.x == 0) {
    out[0] = dlc_loss_finish(s.x, f.kind == DLC_FINISH_MSE ? (double)n : s.y, f.mean);
  }
}

static int dlc_loss_sum_parts(int64_t n) {
  if (n <= DLC_SUM_SINGLE_MAX) return 0;
  int64_t p = (n + DLC_SUM_PER_BLOCK - 1) / DLC_SUM_PER_BLOCK;
  return (int)(p < DLC_SUM_MAX_PARTS ? p : DLC_SUM_MAX_PARTS);
}

size_t dlc_loss_sum_scratch_bytes(int64_t n) {
  return (size_t)dlc_loss_sum_parts(n) * sizeof(double2);
}

cudaError_t dlc_loss_sum(int mode, const float *a, const float *b, int64_t n, dlc_finish_args f,
                         float *out, void *scratch, cudaStream_t st) {
  const int parts = dlc_loss_sum_parts(n);
  if (parts > 0) {
    if (!scratch) return cudaErrorInvalidValue;
    dlc_loss_sum_partials<<<parts, DLC_SUM_THREADS, 0, st>>>(mode, a, b, n, (double2 *)scratch);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
  }
  dlc_loss_sum_final<<<1, DLC_SUM_FINAL_THREADS, 0, st>>>(
      mode, a, b, n, parts ? (const double2 *)scratch : NULL, parts, f, out);
  return cudaGetLastError();
}

/* ------------------------------------------------------------------ MSE */

size_t dlc_mse_fwd_scratch_bytes(int64_t n) { return dlc_loss_sum_scratch_bytes(n); }

extern "C" int dlc_launch_mse_fwd(const float *x, const float *t, int mean, float *loss,
                                  int64_t n, void *scratch, void *stream) {
  if (n <= 0) return (int)cudaErrorInvalidValue;
  dlc_finish_args f;
  memset(&f, 0, sizeof f);
  f.kind = DLC_FINISH_MSE;
  f.mean = mean;
  return (int)dlc_loss_sum(DLC_SUM_SQDIFF, x, t, n, f, loss, scratch, (cudaStream_t)stream);
}

/* dx += k (x - t): float4 packs over the first n4 * 4 elements, the tail one by one. */
__global__ void dlc_mse_bwd_kernel(const float *x, const float *t, float k, float *dx,
                                   int64_t n, int64_t n4) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  const int64_t first = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (int64_t i = first; i < n4; i += stride) {
    float4 a = ((const float4 *)x)[i], b = ((const float4 *)t)[i], d = ((float4 *)dx)[i];
    d.x = dlc_mse_grad(a.x, b.x, k, d.x);
    d.y = dlc_mse_grad(a.y, b.y, k, d.y);
    d.z = dlc_mse_grad(a.z, b.z, k, d.z);
    d.w = dlc_mse_grad(a.w, b.w, k, d.w);
    ((float4 *)dx)[i] = d;
  }
  for (int64_t i = n4 * 4 + first; i < n; i += stride) dx[i] = dlc_mse_grad(x[i], t[i], k, dx[i]);
}

extern "C" int dlc_launch_mse_bwd(const float *x, const float *t, float k, float *dx, int64_t n,
                                  void *stream) {
  if (n <= 0) return (int)cudaSuccess;
  const int aligned = (((uintptr_t)x | (uintptr_t)t | (uintptr_t)dx) % 16) == 0;
  const int64_t n4 = aligned ? n / 4 : 0;
  dlc_mse_bwd_kernel<<<dlc_grid_for(n4 > 0 ? n4 : n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(
      x, t, k, dx, n, n4);
  return cudaGetLastError();
}
