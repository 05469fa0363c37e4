/* fill, scale, axpy, copy: float4 grid-stride loops over dlc_ew_apply. */
#include "common.cuh"
#include "elementwise.h"

template <int OP>
__global__ void dlc_elementwise_vec4(float a, const float4 *x, float4 *y, int64_t n4) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += stride) {
    float4 xv = make_float4(0.f, 0.f, 0.f, 0.f), yv = make_float4(0.f, 0.f, 0.f, 0.f);
    if (OP != DLC_EW_FILL) xv = x[i];
    if (OP == DLC_EW_AXPY) yv = y[i];
    float4 r;
    r.x = dlc_ew_apply(OP, a, xv.x, yv.x);
    r.y = dlc_ew_apply(OP, a, xv.y, yv.y);
    r.z = dlc_ew_apply(OP, a, xv.z, yv.z);
    r.w = dlc_ew_apply(OP, a, xv.w, yv.w);
    y[i] = r;
  }
}

template <int OP>
__global__ void dlc_elementwise_scalar(float a, const float *x, float *y, int64_t n) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = dlc_ew_apply(OP, a, OP == DLC_EW_FILL ? 0.f : x[i], OP == DLC_EW_AXPY ? y[i] : 0.f);
}

template <int OP>
static cudaError_t launch_op(float a, const float *x, float *y, int64_t n, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  int aligned = ((uintptr_t)y % 16 == 0) && (OP == DLC_EW_FILL || (uintptr_t)x % 16 == 0);
  int64_t done = 0;
  if (aligned && n >= 4) {
    int64_t n4 = n / 4;
    dlc_elementwise_vec4<OP><<<dlc_grid_for(n4), DLC_BLOCK, 0, s>>>(a, (const float4 *)x,
                                                                   (float4 *)y, n4);
    done = n4 * 4;
  }
  if (done < n)
    dlc_elementwise_scalar<OP><<<dlc_grid_for(n - done), DLC_BLOCK, 0, s>>>(
        a, OP == DLC_EW_FILL ? x : x + done, y + done, n - done);
  return cudaGetLastError();
}

extern "C" int dlc_launch_elementwise(int op, float a, const float *x, float *y, int64_t n,
                                      void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  switch (op) {
    case DLC_EW_FILL: return (int)launch_op<DLC_EW_FILL>(a, x, y, n, s);
    case DLC_EW_SCALE: return (int)launch_op<DLC_EW_SCALE>(a, x, y, n, s);
    case DLC_EW_AXPY: return (int)launch_op<DLC_EW_AXPY>(a, x, y, n, s);
    case DLC_EW_COPY: return (int)launch_op<DLC_EW_COPY>(a, x, y, n, s);
    default: return (int)cudaErrorInvalidValue;
  }
}
