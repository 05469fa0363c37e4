/* Random fills: one thread per Philox block of four outputs. */
#include "common.cuh"
#include "random.h"
#include "philox.h"

__global__ void dlc_rand_kernel(int normal, float p0, float p1, uint64_t seed, uint64_t block0,
                                float *y, int64_t n) {
  int64_t nblocks = (n + 3) / 4;
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < nblocks; b += stride) {
    float v[4];
    if (normal)
      dlc_rand_normal4(block0 + (uint64_t)b, seed, p0, p1, v);
    else
      dlc_rand_uniform4(block0 + (uint64_t)b, seed, p0, p1, v);
    int64_t i0 = b * 4;
    for (int k = 0; k < 4 && i0 + k < n; k++) y[i0 + k] = v[k];
  }
}

extern "C" int dlc_launch_rand(int normal, float p0, float p1, uint64_t seed, uint64_t block0,
                               float *y, int64_t n, void *stream) {
  if (n <= 0) return 0;
  dlc_rand_kernel<<<dlc_grid_for((n + 3) / 4), DLC_BLOCK, 0, (cudaStream_t)stream>>>(
      normal, p0, p1, seed, block0, y, n);
  return (int)cudaGetLastError();
}
