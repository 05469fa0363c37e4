/* The fused optimizer step over the whole parameter buffer, and the sum of squares that
 * gradient clipping needs (two passes, deterministic: per-block partials, then one block). */
#include "common.cuh"
#include "launch.h"
#include "optim.h"

__global__ void optim_kernel(dlc_optim_hparams h, float *p, const float *g, float *s1, float *s2,
                             int64_t n, const float *sumsq) {
  float clip = sumsq ? dlc_clip_coef(&h, *sumsq) : 1.f;
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float a = s1 ? s1[i] : 0.f, b = s2 ? s2[i] : 0.f;
    dlc_optim_update(&h, &p[i], g[i] * clip, &a, &b);
    if (s1) s1[i] = a;
    if (s2) s2[i] = b;
  }
}

extern "C" int dlc_launch_optim(const dlc_optim_hparams *h, float *p, const float *g, float *s1,
                                float *s2, int64_t n, const float *sumsq, void *stream) {
  if (n <= 0) return 0;
  optim_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(*h, p, g, s1, s2, n, sumsq);
  return (int)cudaGetLastError();
}

#define SQ_BLOCKS 1024

__device__ float block_sum(float v) {
  __shared__ float warp_sums[DLC_BLOCK / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = v;
  __syncthreads();
  v = threadIdx.x < DLC_BLOCK / 32 ? warp_sums[threadIdx.x] : 0.f;
  if (threadIdx.x < 32)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

__global__ void sumsq_partial(const float *x, int64_t n, float *partial) {
  float s = 0.f;
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) s += x[i] * x[i];
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sum_final(const float *partial, int count, float *out) {
  float s = 0.f;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *out = s;
}

extern "C" int64_t dlc_sumsq_scratch_floats(void) { return SQ_BLOCKS; }

extern "C" int dlc_launch_sumsq(const float *x, int64_t n, float *scratch, float *out, void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  int64_t blocks = (n + DLC_BLOCK - 1) / DLC_BLOCK;
  if (blocks > SQ_BLOCKS) blocks = SQ_BLOCKS;
  if (blocks < 1) blocks = 1;
  sumsq_partial<<<(unsigned)blocks, DLC_BLOCK, 0, s>>>(x, n, scratch);
  sum_final<<<1, DLC_BLOCK, 0, s>>>(scratch, (int)blocks, out);
  return (int)cudaGetLastError();
}
