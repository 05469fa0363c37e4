/* Pooling kernels: grid-stride loops over the bodies in pool.h, one thread per output
 * element (forward) or per input element (backward, gathering). Global average pooling
 * forward is a reduction: dlc_launch_channel_sum. */
#include "common.cuh"
#include "pool.h"

#define DLC_GRID_LOOP(i, n)                                                          \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);          \
       i += (int64_t)gridDim.x * blockDim.x)

__global__ void maxpool_fwd_kernel(dlc_pool_geom g, const float *x, float *y, int32_t *argmax, int n) {
  DLC_GRID_LOOP(i, n) dlc_maxpool_fwd_at((int)i, g, x, y, argmax);
}

__global__ void maxpool_bwd_kernel(dlc_pool_geom g, const float *dy, const int32_t *argmax,
                                   float *dx, int n) {
  DLC_GRID_LOOP(i, n) dlc_maxpool_bwd_at((int)i, g, dy, argmax, dx);
}

__global__ void avgpool_fwd_kernel(dlc_pool_geom g, const float *x, float *y, int n) {
  DLC_GRID_LOOP(i, n) dlc_avgpool_fwd_at((int)i, g, x, y);
}

__global__ void avgpool_bwd_kernel(dlc_pool_geom g, const float *dy, float *dx, int n) {
  DLC_GRID_LOOP(i, n) dlc_avgpool_bwd_at((int)i, g, dy, dx);
}

__global__ void global_avgpool_bwd_kernel(int HW, const float *dy, float *dx, int n) {
  DLC_GRID_LOOP(i, n) dlc_global_avgpool_bwd_at((int)i, HW, dy, dx);
}

extern "C" int dlc_launch_maxpool_fwd(dlc_pool_geom g, const float *x, float *y, int32_t *argmax,
                                      int n, void *stream) {
  if (n <= 0) return 0;
  maxpool_fwd_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(g, x, y, argmax, n);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_maxpool_bwd(dlc_pool_geom g, const float *dy, const int32_t *argmax,
                                      float *dx, int n, void *stream) {
  if (n <= 0) return 0;
  maxpool_bwd_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(g, dy, argmax, dx, n);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_avgpool_fwd(dlc_pool_geom g, const float *x, float *y, int n,
                                      void *stream) {
  if (n <= 0) return 0;
  avgpool_fwd_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(g, x, y, n);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_avgpool_bwd(dlc_pool_geom g, const float *dy, float *dx, int n,
                                      void *stream) {
  if (n <= 0) return 0;
  avgpool_bwd_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(g, dy, dx, n);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_global_avgpool_bwd(int HW, const float *dy, float *dx, int n,
                                             void *stream) {
  if (n <= 0 || HW <= 0) return 0;
  global_avgpool_bwd_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(HW, dy, dx, n);
  return (int)cudaGetLastError();
}
