/* Activations forward and backward, bias + activation fused, bias gradient.
 * Elementwise kernels: float4 grid-stride loops when every pointer is 16-byte aligned,
 * scalar otherwise, over the bodies in activation.h; ACT is a template constant so the
 * switch in the body folds away. */
#include "activation.h"
#include "common.cuh"

static inline bool aligned16(const void *p) { return p == NULL || (uintptr_t)p % 16 == 0; }

__device__ __forceinline__ float4 ld4(const float *p, int64_t i) { return ((const float4 *)p)[i]; }
__device__ __forceinline__ void st4(float *p, int64_t i, float4 v) { ((float4 *)p)[i] = v; }

template <int ACT>
__global__ void act_fwd_kernel(float slope, const float *x, float *y, int64_t n, bool vec) {
  int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
  int64_t start = 0;
  if (vec) {
    int64_t n4 = n / 4;
    for (int64_t i = t; i < n4; i += stride) {
      float4 v = ld4(x, i);
      v.x = dlc_act_apply(ACT, slope, v.x);
      v.y = dlc_act_apply(ACT, slope, v.y);
      v.z = dlc_act_apply(ACT, slope, v.z);
      v.w = dlc_act_apply(ACT, slope, v.w);
      st4(y, i, v);
    }
    start = n4 * 4;
  }
  for (int64_t i = start + t; i < n; i += stride) y[i] = dlc_act_apply(ACT, slope, x[i]);
}

/* dx = (ACC ? dx : 0) + dy * act'(x, y). Only the operand the formula reads is loaded. */
template <int ACT, bool ACC>
__device__ __forceinline__ float grad_one(float slope, float x, float y, float dy, float dx) {
  float g = dy * dlc_act_grad(ACT, slope, x, y);
  return ACC ? dx + g : g;
}

template <int ACT, bool ACC>
__global__ void act_bwd_kernel(float slope, const float *x, const float *y, const float *dy,
                               float *dx, int64_t n, bool vec) {
  const bool need_x = dlc_act_grad_needs_x(ACT);
  const float *src = need_x ? x : y; /* the operand act' reads; unused for NONE */
  int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
  int64_t start = 0;
  if (vec) {
    int64_t n4 = n / 4;
    for (int64_t i = t; i < n4; i += stride) {
      float4 s = ACT == DLC_K_ACT_NONE ? make_float4(0.f, 0.f, 0.f, 0.f) : ld4(src, i);
      float4 g = ld4(dy, i);
      float4 d = ACC ? ld4(dx, i) : make_float4(0.f, 0.f, 0.f, 0.f);
      d.x = grad_one<ACT, ACC>(slope, s.x, s.x, g.x, d.x);
      d.y = grad_one<ACT, ACC>(slope, s.y, s.y, g.y, d.y);
      d.z = grad_one<ACT, ACC>(slope, s.z, s.z, g.z, d.z);
      d.w = grad_one<ACT, ACC>(slope, s.w, s.w, g.w, d.w);
      st4(dx, i, d);
    }
    start = n4 * 4;
  }
  for (int64_t i = start + t; i < n; i += stride) {
    float s = ACT == DLC_K_ACT_NONE ? 0.f : src[i];
    dx[i] = grad_one<ACT, ACC>(slope, s, s, dy[i], ACC ? dx[i] : 0.f);
  }
}

/* y[r, c] = act(y[r, c] + b[c]); b may be NULL. vec: cols % 4 == 0 and aligned. */
template <int ACT>
__global__ void bias_act_kernel(float slope, const float *b, float *y, int64_t rows, int64_t cols,
                                bool vec) {
  int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
  int64_t n = rows * cols;
  if (vec) {
    int64_t n4 = n / 4, c4 = cols / 4;
    for (int64_t i = t; i < n4; i += stride) {
      float4 v = ld4(y, i);
      if (b) {
        float4 bv = ld4(b, i % c4);
        v.x += bv.x; v.y += bv.y; v.z += bv.z; v.w += bv.w;
      }
      v.x = dlc_act_apply(ACT, slope, v.x);
      v.y = dlc_act_apply(ACT, slope, v.y);
      v.z = dlc_act_apply(ACT, slope, v.z);
      v.w = dlc_act_apply(ACT, slope, v.w);
      st4(y, i, v);
    }
    return;
  }
  for (int64_t i = t; i < n; i += stride)
    y[i] = dlc_act_apply(ACT, slope, b ? y[i] + b[i % cols] : y[i]);
}

#define DLC_ACT_DISPATCH(act, CALL)              \
  switch (act) {                                 \
    case DLC_K_ACT_NONE: CALL(DLC_K_ACT_NONE); break;   \
    case DLC_K_ACT_TANH: CALL(DLC_K_ACT_TANH); break;   \
    case DLC_K_ACT_SIGMOID: CALL(DLC_K_ACT_SIGMOID); break; \
    case DLC_K_ACT_RELU: CALL(DLC_K_ACT_RELU); break;   \
    case DLC_K_ACT_LEAKY: CALL(DLC_K_ACT_LEAKY); break; \
    default: return (int)cudaErrorInvalidValue;  \
  }

extern "C" int dlc_launch_act_fwd(int act, float slope, const float *x, float *y, int64_t n,
                                  void *stream) {
  if (n <= 0) return 0;
  bool vec = aligned16(x) && aligned16(y);
  unsigned grid = dlc_grid_for(vec ? (n + 3) / 4 : n);
  cudaStream_t s = (cudaStream_t)stream;
#define CALL(A) act_fwd_kernel<A><<<grid, DLC_BLOCK, 0, s>>>(slope, x, y, n, vec)
  DLC_ACT_DISPATCH(act, CALL)
#undef CALL
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_act_bwd(int act, float slope, const float *x, const float *y,
                                  const float *dy, float *dx, int64_t n, int accumulate,
                                  void *stream) {
  if (n <= 0) return 0;
  bool vec = aligned16(x) && aligned16(y) && aligned16(dy) && aligned16(dx);
  unsigned grid = dlc_grid_for(vec ? (n + 3) / 4 : n);
  cudaStream_t s = (cudaStream_t)stream;
#define CALL(A)                                                                              \
  if (accumulate) act_bwd_kernel<A, true><<<grid, DLC_BLOCK, 0, s>>>(slope, x, y, dy, dx, n, vec); \
  else act_bwd_kernel<A, false><<<grid, DLC_BLOCK, 0, s>>>(slope, x, y, dy, dx, n, vec)
  DLC_ACT_DISPATCH(act, CALL)
#undef CALL
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_bias_act_fwd(int act, float slope, const float *b, float *y,
                                       int64_t rows, int64_t cols, void *stream) {
  if (rows <= 0 || cols <= 0) return 0;
  bool vec = cols % 4 == 0 && aligned16(b) && aligned16(y);
  unsigned grid = dlc_grid_for(vec ? rows * cols / 4 : rows * cols);
  cudaStream_t s = (cudaStream_t)stream;
#define CALL(A) bias_act_kernel<A><<<grid, DLC_BLOCK, 0, s>>>(slope, b, y, rows, cols, vec)
  DLC_ACT_DISPATCH(act, CALL)
#undef CALL
  return (int)cudaGetLastError();
}

/* db[c] += sum_r dz[r, c]. A block owns 32 adjacent columns (coalesced reads across a
 * warp); its 8 warps stride over the rows, then combine through shared memory in a fixed
 * order, so the result is deterministic. The sums are kept in double, like the CPU's: a
 * float chain over rows/8 terms (8192 for 65536 rows) loses about sqrt(rows) ulps, and the
 * kernel is bound by reading dz, so the wider adds cost nothing measurable. */
#define BG_COLS 32
#define BG_ROWS 8
__global__ void bias_grad_kernel(const float *dz, float *db, int64_t rows, int64_t cols) {
  __shared__ double part[BG_ROWS][BG_COLS];
  int64_t c = (int64_t)blockIdx.x * BG_COLS + threadIdx.x;
  double s = 0.0;
  if (c < cols)
    for (int64_t r = threadIdx.y; r < rows; r += BG_ROWS) s += dz[r * cols + c];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    double t = 0.0;
    for (int k = 0; k < BG_ROWS; k++) t += part[k][threadIdx.x];
    db[c] = (float)((double)db[c] + t);
  }
}

extern "C" int dlc_launch_bias_grad(const float *dz, float *db, int64_t rows, int64_t cols,
                                    void *stream) {
  if (rows <= 0 || cols <= 0) return 0;
  dim3 block(BG_COLS, BG_ROWS);
  unsigned grid = (unsigned)((cols + BG_COLS - 1) / BG_COLS);
  bias_grad_kernel<<<grid, block, 0, (cudaStream_t)stream>>>(dz, db, rows, cols);
  return (int)cudaGetLastError();
}
