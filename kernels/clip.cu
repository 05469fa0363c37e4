/* Gradient clipping: the global L2 norm as a deterministic two-level reduction (fixed grid
 * of DLC_CLIP_PARTS blocks, each summing squares in a fixed tree, then one block summing the
 * partials in double), and the scaling, which reads the norm from device memory so that no
 * host synchronisation is needed. */
#include "clip.h"
#include "common.cuh"

#define CLIP_THREADS 256

/* partials[b] (+)= sum of x[i]^2 over the elements block b visits. */
__global__ void sumsq_partials_kernel(const float *x, int64_t n, float *partials, int accumulate) {
  __shared__ double s[CLIP_THREADS];
  double acc = 0;
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float v = x[i];
    acc += (double)v * v;
  }
  s[threadIdx.x] = acc;
  __syncthreads();
  for (int w = CLIP_THREADS / 2; w > 0; w >>= 1) {
    if ((int)threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = (float)(accumulate ? partials[blockIdx.x] + s[0] : s[0]);
}

/* work[0] = sqrt(sum of work[1 .. DLC_CLIP_PARTS]). One block of DLC_CLIP_PARTS threads. */
__global__ void clip_norm_finish_kernel(float *work) {
  __shared__ double s[DLC_CLIP_PARTS];
  s[threadIdx.x] = work[1 + threadIdx.x];
  __syncthreads();
  for (int w = DLC_CLIP_PARTS / 2; w > 0; w >>= 1) {
    if ((int)threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) work[0] = (float)sqrt(s[0]);
}

__global__ void clip_norm_scale_kernel(float *g, int64_t n, const float *norm, float max_norm) {
  float coef = dlc_clip_norm_coef(*norm, max_norm);
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) g[i] *= coef;
}

__global__ void clip_value_kernel(float *g, int64_t n, float limit) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    g[i] = dlc_clip_value_at(g[i], limit);
}

extern "C" int dlc_launch_sumsq_partials(const float *x, int64_t n, float *partials,
                                         int accumulate, void *stream) {
  /* Always the full grid, so that every partial is written (zero past the data). */
  sumsq_partials_kernel<<<DLC_CLIP_PARTS, CLIP_THREADS, 0, (cudaStream_t)stream>>>(
      x, n, partials, accumulate);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_clip_norm_finish(float *work, void *stream) {
  clip_norm_finish_kernel<<<1, DLC_CLIP_PARTS, 0, (cudaStream_t)stream>>>(work);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_clip_norm_scale(float *g, int64_t n, const float *norm, float max_norm,
                                          void *stream) {
  if (n <= 0) return 0;
  clip_norm_scale_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(g, n, norm,
                                                                                  max_norm);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_clip_value(float *g, int64_t n, float limit, void *stream) {
  if (n <= 0) return 0;
  clip_value_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(g, n, limit);
  return (int)cudaGetLastError();
}
