/* The fused optimizer step over the whole parameter buffer. With clipping, the gradient's
 * norm (dlc_op_grad_norm) is read from device memory, so no host synchronisation. */
#include "common.cuh"
#include "optim.h"

__global__ void optim_kernel(dlc_optim_hparams h, float *p, const float *g, float *s1, float *s2,
                             int64_t n, const float *norm) {
  float clip = norm ? dlc_optim_clip(&h, *norm) : 1.f;
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float a = s1 ? s1[i] : 0.f, b = s2 ? s2[i] : 0.f;
    dlc_optim_update(&h, &p[i], g[i] * clip, &a, &b);
    if (s1) s1[i] = a;
    if (s2) s2[i] = b;
  }
}

extern "C" int dlc_launch_optim(const dlc_optim_hparams *h, float *p, const float *g, float *s1,
                                float *s2, int64_t n, const float *norm, void *stream) {
  if (n <= 0) return 0;
  optim_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(*h, p, g, s1, s2, n, norm);
  return (int)cudaGetLastError();
}
