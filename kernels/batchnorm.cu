/* Batch normalisation: one block per channel for the statistics (two passes over the
 * channel: mean, then the centred sum of squares; deterministic), and grid-stride
 * elementwise kernels over the bodies in batchnorm.h. */
#include "batchnorm.h"
#include "common.cuh"
#include "launch.h"

__device__ float bn_block_sum(float v) {
  __shared__ float part[DLC_BLOCK / 32];
  __shared__ float total;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    v = threadIdx.x < DLC_BLOCK / 32 ? part[threadIdx.x] : 0.f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) total = v;
  }
  __syncthreads();
  float t = total;
  __syncthreads(); /* part/total are reused by the next call */
  return t;
}

/* Channel c's values: x[n * C * S + c * S + s]. */
__global__ void bn_stats_kernel(const float *x, int64_t N, int64_t C, int64_t S, float momentum,
                                float eps, float *run_mean, float *run_var, float *save_mean,
                                float *save_invstd) {
  int64_t c = blockIdx.x, M = N * S;
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < M; i += blockDim.x) s += x[(i / S) * C * S + c * S + i % S];
  float mean = bn_block_sum(s) / (float)M;
  float q = 0.f;
  for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
    float d = x[(i / S) * C * S + c * S + i % S] - mean;
    q += d * d;
  }
  float var = bn_block_sum(q) / (float)M;
  if (threadIdx.x == 0) {
    save_mean[c] = mean;
    save_invstd[c] = rsqrtf(var + eps);
    if (run_mean) {
      float unbiased = M > 1 ? var * (float)M / (float)(M - 1) : var;
      run_mean[c] = (1.f - momentum) * run_mean[c] + momentum * mean;
      run_var[c] = (1.f - momentum) * run_var[c] + momentum * unbiased;
    }
  }
}

__global__ void bn_apply_kernel(const float *x, float *y, int64_t n, int64_t C, int64_t S,
                                const float *mean, const float *invstd, const float *gamma,
                                const float *beta) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t c = (i / S) % C;
    y[i] = dlc_bn_apply(x[i], mean[c], invstd[c], gamma[c], beta[c]);
  }
}

/* sums[c] = sum dy, sums[C + c] = sum dy * xhat; dgamma += the second, dbeta += the first. */
__global__ void bn_grad_sums_kernel(const float *x, const float *dy, int64_t N, int64_t C, int64_t S,
                                    const float *mean, const float *invstd, float *sums,
                                    float *dgamma, float *dbeta) {
  int64_t c = blockIdx.x, M = N * S;
  float a = 0.f, b = 0.f;
  for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
    int64_t k = (i / S) * C * S + c * S + i % S;
    a += dy[k];
    b += dy[k] * (x[k] - mean[c]) * invstd[c];
  }
  a = bn_block_sum(a);
  b = bn_block_sum(b);
  if (threadIdx.x == 0) {
    sums[c] = a;
    sums[C + c] = b;
    dgamma[c] += b;
    dbeta[c] += a;
  }
}

__global__ void bn_grad_kernel(const float *x, const float *dy, float *dx, int64_t n, int64_t C,
                               int64_t S, float inv_m, const float *mean, const float *invstd,
                               const float *gamma, const float *sums) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t c = (i / S) % C;
    dx[i] += dlc_bn_grad(x[i], dy[i], mean[c], invstd[c], gamma[c], sums[c] * inv_m,
                         sums[C + c] * inv_m);
  }
}

extern "C" int dlc_launch_bn_stats(const float *x, int64_t N, int64_t C, int64_t S, float momentum,
                                   float eps, float *run_mean, float *run_var, float *save_mean,
                                   float *save_invstd, void *stream) {
  bn_stats_kernel<<<(unsigned)C, DLC_BLOCK, 0, (cudaStream_t)stream>>>(
      x, N, C, S, momentum, eps, run_mean, run_var, save_mean, save_invstd);
  return (int)cudaGetLastError();
}

__global__ void bn_eval_stats_kernel(const float *run_mean, const float *run_var, int64_t C,
                                     float eps, float *save_mean, float *save_invstd) {
  int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (c < C) {
    save_mean[c] = run_mean[c];
    save_invstd[c] = rsqrtf(run_var[c] + eps);
  }
}

extern "C" int dlc_launch_bn_eval_stats(const float *run_mean, const float *run_var, int64_t C,
                                        float eps, float *save_mean, float *save_invstd,
                                        void *stream) {
  bn_eval_stats_kernel<<<(unsigned)((C + DLC_BLOCK - 1) / DLC_BLOCK), DLC_BLOCK, 0,
                         (cudaStream_t)stream>>>(run_mean, run_var, C, eps, save_mean, save_invstd);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_bn_apply(const float *x, float *y, int64_t N, int64_t C, int64_t S,
                                   const float *mean, const float *invstd, const float *gamma,
                                   const float *beta, void *stream) {
  int64_t n = N * C * S;
  bn_apply_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(x, y, n, C, S, mean,
                                                                          invstd, gamma, beta);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_bn_backward(const float *x, const float *dy, float *dx, int64_t N,
                                      int64_t C, int64_t S, const float *mean, const float *invstd,
                                      const float *gamma, float *sums, float *dgamma,
                                      float *dbeta, int batch_stats, void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  bn_grad_sums_kernel<<<(unsigned)C, DLC_BLOCK, 0, s>>>(x, dy, N, C, S, mean, invstd, sums, dgamma, dbeta);
  if (dx) {
    int64_t n = N * C * S;
    /* Constant (running) statistics: no gradient through the mean and variance. */
    float inv_m = batch_stats ? 1.f / (float)(N * S) : 0.f;
    bn_grad_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, s>>>(x, dy, dx, n, C, S, inv_m,
                                                        mean, invstd, gamma, sums);
  }
  return (int)cudaGetLastError();
}
