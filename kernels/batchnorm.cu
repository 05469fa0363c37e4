/* Batch normalisation. The per-channel reductions (statistics in forward, the two gradient
 * sums in backward) are split: channel c's M = N*S values are cut into P contiguous
 * chunks (dlc_bn_splits), one block per (channel, chunk), so that a layer of 32 channels
 * still fills every SM; a second, tiny kernel combines each channel's P partial results
 * in a fixed order (deterministic: no atomics). The elementwise kernels find an element's
 * channel with a multiply-high (fastdiv.h), not a 64-bit division. */
#include "batchnorm.h"
#include "common.cuh"
#include "fastdiv.h"

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

/* Walks this thread's share of the values [lo, hi) of one channel: value i (0 <= i < M) of
 * channel c lies at (i / S) * C * S + c * S + i % S. The division happens once, at the
 * start; each step of blockDim.x values then moves the offset with adds. */
struct bn_cursor {
  int64_t i, hi, s, off, S, step_off, step_s, wrap;
  __device__ bn_cursor(int64_t lo, int64_t hi_, int64_t C, int64_t S_) : i(lo + threadIdx.x), hi(hi_), S(S_) {
    int64_t n = i / S, dn = blockDim.x / S;
    s = i - n * S;
    off = n * C * S + s;
    step_s = blockDim.x - dn * S;
    step_off = dn * C * S + step_s;
    wrap = C * S - S; /* from the end of one image's plane to the start of the next */
  }
  __device__ bool more() const { return i < hi; }
  __device__ void next() {
    i += blockDim.x;
    off += step_off;
    s += step_s;
    if (s >= S) {
      s -= S;
      off += wrap;
    }
  }
};

/* Chunk p of P of M values: [M * p / P, M * (p + 1) / P). */
static __host__ __device__ inline int64_t bn_chunk_start(int64_t M, int p, int P) { return M * p / P; }

/* Partial statistics of chunk blockIdx.y of channel blockIdx.x: its mean and its centred
 * sum of squares (two passes over the chunk, which the second reads from L2). */
__global__ void bn_stats_partial_kernel(const float *x, int64_t N, int64_t C, int64_t S, float *part) {
  int64_t c = blockIdx.x, M = N * S;
  int p = blockIdx.y, P = gridDim.y;
  int64_t lo = bn_chunk_start(M, p, P), hi = bn_chunk_start(M, p + 1, P);
  const float *xc = x + c * S;
  float s = 0.f;
  for (bn_cursor k(lo, hi, C, S); k.more(); k.next()) s += xc[k.off];
  float mean = hi > lo ? bn_block_sum(s) / (float)(hi - lo) : 0.f;
  float q = 0.f;
  for (bn_cursor k(lo, hi, C, S); k.more(); k.next()) {
    float d = xc[k.off] - mean;
    q += d * d;
  }
  q = bn_block_sum(q);
  if (threadIdx.x == 0) {
    part[2 * (c * P + p)] = mean;
    part[2 * (c * P + p) + 1] = q;
  }
}

/* Channel c's P chunks combined in order (Chan, Golub and LeVeque's pairwise update of the
 * mean and centred sum of squares), in double. */
__global__ void bn_stats_final_kernel(const float *part, int64_t N, int64_t C, int64_t S, int P,
                                      float momentum, float eps, float *run_mean, float *run_var,
                                      float *save_mean, float *save_invstd) {
  int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  int64_t M = N * S;
  double na = 0, mean = 0, m2 = 0;
  for (int p = 0; p < P; p++) {
    double nb = (double)(bn_chunk_start(M, p + 1, P) - bn_chunk_start(M, p, P));
    if (nb == 0) continue;
    double mb = part[2 * (c * P + p)], qb = part[2 * (c * P + p) + 1];
    double n = na + nb, delta = mb - mean;
    mean += delta * nb / n;
    m2 += qb + delta * delta * na * nb / n;
    na = n;
  }
  double var = m2 / (double)M;
  save_mean[c] = (float)mean;
  save_invstd[c] = (float)(1.0 / sqrt(var + (double)eps));
  if (run_mean) {
    double unbiased = M > 1 ? m2 / (double)(M - 1) : var;
    run_mean[c] = (1.f - momentum) * run_mean[c] + momentum * (float)mean;
    run_var[c] = (1.f - momentum) * run_var[c] + momentum * (float)unbiased;
  }
}

/* The channel of flat element i of [N, C, S]: (i / S) % C, with two multiply-highs. */
__device__ static inline int64_t bn_channel(int64_t i, dlc_fastdiv S, dlc_fastdiv C) {
  uint64_t q = dlc_fastdiv_q((uint64_t)i, S);
  return (int64_t)(q - dlc_fastdiv_q(q, C) * C.d);
}

__global__ void bn_apply_kernel(const float *x, float *y, int64_t n, dlc_fastdiv C, dlc_fastdiv S,
                                const float *mean, const float *invstd, const float *gamma,
                                const float *beta) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t c = bn_channel(i, S, C);
    y[i] = dlc_bn_apply(x[i], mean[c], invstd[c], gamma[c], beta[c]);
  }
}

/* Partial gradient sums of chunk blockIdx.y of channel blockIdx.x: sum dy and
 * sum dy * (x - mean) (the 1/std factor is applied once, in the final kernel). */
__global__ void bn_grad_partial_kernel(const float *x, const float *dy, int64_t N, int64_t C, int64_t S,
                                       const float *mean, float *part) {
  int64_t c = blockIdx.x, M = N * S;
  int p = blockIdx.y, P = gridDim.y;
  int64_t lo = bn_chunk_start(M, p, P), hi = bn_chunk_start(M, p + 1, P);
  const float *xc = x + c * S, *dyc = dy + c * S;
  float mc = mean[c], a = 0.f, b = 0.f;
  for (bn_cursor k(lo, hi, C, S); k.more(); k.next()) {
    float d = dyc[k.off];
    a += d;
    b += d * (xc[k.off] - mc);
  }
  a = bn_block_sum(a);
  b = bn_block_sum(b);
  if (threadIdx.x == 0) {
    part[2 * (c * P + p)] = a;
    part[2 * (c * P + p) + 1] = b;
  }
}

/* sums[c] = sum dy, sums[C + c] = sum dy * xhat; dgamma += the second, dbeta += the first. */
__global__ void bn_grad_final_kernel(const float *part, int64_t C, int P, const float *invstd,
                                     float *sums, float *dgamma, float *dbeta) {
  int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double a = 0, b = 0;
  for (int p = 0; p < P; p++) {
    a += part[2 * (c * P + p)];
    b += part[2 * (c * P + p) + 1];
  }
  float fa = (float)a, fb = (float)(b * invstd[c]);
  sums[c] = fa;
  sums[C + c] = fb;
  dgamma[c] += fb;
  dbeta[c] += fa;
}

__global__ void bn_grad_kernel(const float *x, const float *dy, float *dx, int64_t n, dlc_fastdiv C,
                               dlc_fastdiv S, float inv_m, const float *mean, const float *invstd,
                               const float *gamma, const float *sums) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t c = bn_channel(i, S, C);
    dx[i] += dlc_bn_grad(x[i], dy[i], mean[c], invstd[c], gamma[c], sums[c] * inv_m,
                         sums[C.d + c] * inv_m);
  }
}

static unsigned bn_channel_grid(int64_t C) { return (unsigned)((C + DLC_BLOCK - 1) / DLC_BLOCK); }

extern "C" int dlc_launch_bn_stats(const float *x, int64_t N, int64_t C, int64_t S, float momentum,
                                   float eps, float *run_mean, float *run_var, float *save_mean,
                                   float *save_invstd, float *partials, void *stream) {
  cudaStream_t st = (cudaStream_t)stream;
  int P = dlc_bn_splits(N, C, S);
  bn_stats_partial_kernel<<<dim3((unsigned)C, (unsigned)P), DLC_BLOCK, 0, st>>>(x, N, C, S, partials);
  bn_stats_final_kernel<<<bn_channel_grid(C), DLC_BLOCK, 0, st>>>(
      partials, N, C, S, P, momentum, eps, run_mean, run_var, save_mean, save_invstd);
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
  bn_eval_stats_kernel<<<bn_channel_grid(C), DLC_BLOCK, 0, (cudaStream_t)stream>>>(
      run_mean, run_var, C, eps, save_mean, save_invstd);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_bn_apply(const float *x, float *y, int64_t N, int64_t C, int64_t S,
                                   const float *mean, const float *invstd, const float *gamma,
                                   const float *beta, void *stream) {
  int64_t n = N * C * S;
  bn_apply_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(
      x, y, n, dlc_fastdiv_make((uint64_t)C), dlc_fastdiv_make((uint64_t)S), mean, invstd, gamma, beta);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_bn_backward(const float *x, const float *dy, float *dx, int64_t N,
                                      int64_t C, int64_t S, const float *mean, const float *invstd,
                                      const float *gamma, float *sums, float *partials,
                                      float *dgamma, float *dbeta, int batch_stats, void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  int P = dlc_bn_splits(N, C, S);
  bn_grad_partial_kernel<<<dim3((unsigned)C, (unsigned)P), DLC_BLOCK, 0, s>>>(x, dy, N, C, S, mean, partials);
  bn_grad_final_kernel<<<bn_channel_grid(C), DLC_BLOCK, 0, s>>>(partials, C, P, invstd, sums, dgamma, dbeta);
  if (dx) {
    int64_t n = N * C * S;
    /* Constant (running) statistics: no gradient through the mean and variance. */
    float inv_m = batch_stats ? 1.f / (float)(N * S) : 0.f;
    bn_grad_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, s>>>(x, dy, dx, n, dlc_fastdiv_make((uint64_t)C),
                                                        dlc_fastdiv_make((uint64_t)S), inv_m, mean,
                                                        invstd, gamma, sums);
  }
  return (int)cudaGetLastError();
}
