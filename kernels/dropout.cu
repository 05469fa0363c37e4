/* Dropout forward (out = in * m) and backward (out += in * m), m from dropout.h: one thread
 * per Philox block of four elements. */
#include "common.cuh"
#include "dropout.h"

__global__ void dropout_kernel(int backward, float p, float scale, uint64_t seed, uint64_t block0,
                               const float *in, float *out, int64_t n) {
  int64_t nblocks = (n + 3) / 4, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < nblocks; b += stride) {
    float m[4];
    dlc_dropout_scale4(block0 + (uint64_t)b, seed, p, scale, m);
    int64_t i0 = b * 4;
    for (int k = 0; k < 4 && i0 + k < n; k++) {
      float v = in[i0 + k] * m[k];
      out[i0 + k] = backward ? out[i0 + k] + v : v;
    }
  }
}

extern "C" int dlc_launch_dropout(int backward, float p, float scale, uint64_t seed,
                                  uint64_t block0, const float *in, float *out, int64_t n,
                                  void *stream) {
  if (n <= 0) return 0;
  dropout_kernel<<<dlc_grid_for((n + 3) / 4), DLC_BLOCK, 0, (cudaStream_t)stream>>>(
      backward, p, scale, seed, block0, in, out, n);
  return (int)cudaGetLastError();
}
