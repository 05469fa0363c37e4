/* Small kernels for test_gpu_semantics: the CUDA semantics libdlcuda's kernels rely on
 * (warp shuffles with masks and widths, block barriers, shared memory, grid-stride loops,
 * launch checks), each in a right version and, where a bug is planted, a wrong one. The
 * test expects the right one to match a CPU reference, on the emulated device and on a
 * GPU, and the wrong one to differ: proof that the emulation would catch that bug.
 * Not library code: kernels/ holds none of this. */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "gpu_semantics.h"

/* Each warp sums its 32 values with a butterfly; lane 0 writes y[warp]. The wrong version
 * starts the butterfly at offset 8: each lane then sums only 16 values. */
__global__ void sem_warp_sum_kernel(int wrong, const float *x, float *y) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = x[i];
  for (int o = wrong ? 8 : 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) y[i / 32] = v;
}

/* The first `lanes` lanes of one warp sum their values with a shfl_down tree under the mask
 * of exactly those lanes. The wrong version leaves the last lane out of the mask (it does
 * not take part) while the sum still reads it. */
__global__ void sem_partial_sum_kernel(int wrong, int lanes, const float *x, float *y) {
  const int lane = threadIdx.x;
  const int members = wrong ? lanes - 1 : lanes;
  if (lane >= members) return;
  const unsigned mask = members == 32 ? 0xffffffffu : (1u << members) - 1u;
  float v = x[lane];
  for (int o = 16; o > 0; o >>= 1) {
    float t = __shfl_down_sync(mask, v, o);
    if (lane + o < lanes) v += t;
  }
  if (lane == 0) y[0] = v;
}

/* One block sums n values: a grid-stride share per thread, a butterfly per warp, the warp
 * totals through shared memory, then warp 0 alone shuffles them (a pattern HIP-CPU's
 * block-wide shuffles got wrong). The wrong version forgets the shared-memory stage and
 * returns warp 0's total. */
__global__ void sem_block_sum_kernel(int wrong, const float *x, float *y, int n) {
  __shared__ float red[32];
  float v = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) v += x[i];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (!wrong) {
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
      v = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : 0.f;
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    }
  }
  if (threadIdx.x == 0) y[0] = v;
}

/* Row maxima, a block per row; the grid is capped at `cap` blocks. The right version loops
 * over rows with a grid stride (64-bit); the wrong one does only row blockIdx.x. */
__global__ void sem_row_max_kernel(int wrong, const float *x, float *y, int64_t rows, int cols) {
  __shared__ float red[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float m = -INFINITY;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, x[r * cols + c]);
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
      for (unsigned w = 1; w < blockDim.x / 32; w++) m = fmaxf(m, red[w]);
      y[r] = m;
    }
    __syncthreads();
    if (wrong) break;
  }
}

/* A block reverses its values through shared memory. The wrong version has no barrier
 * between the writes and the reads. */
__global__ void sem_reverse_kernel(int wrong, const float *x, float *y) {
  __shared__ float buf[1024];
  const int t = threadIdx.x, n = blockDim.x;
  buf[t] = x[blockIdx.x * n + t];
  if (!wrong) __syncthreads();
  y[blockIdx.x * n + t] = buf[n - 1 - t];
}

/* The same reversal through dynamic shared memory (n floats). */
__global__ void sem_reverse_dynamic_kernel(const float *x, float *y) {
  extern __shared__ float dbuf[];
  const int t = threadIdx.x, n = blockDim.x;
  dbuf[t] = x[blockIdx.x * n + t];
  __syncthreads();
  y[blockIdx.x * n + t] = dbuf[n - 1 - t];
}

/* Every shuffle form with several widths and offsets, on lane-tagged values; out gets
 * SEM_SHFL_CASES x 32 ints. */
__global__ void sem_shfl_kernel(int *out) {
  const int lane = threadIdx.x;
  const int v = 1000 + lane;
  int k = 0;
  const int widths[4] = {32, 16, 8, 2};
  for (int wi = 0; wi < 4; wi++) {
    const int w = widths[wi];
    out[(k++) * 32 + lane] = __shfl_sync(0xffffffffu, v, 3, w);
    out[(k++) * 32 + lane] = __shfl_sync(0xffffffffu, v, 37, w); /* src taken modulo w */
    out[(k++) * 32 + lane] = __shfl_up_sync(0xffffffffu, v, 1, w);
    out[(k++) * 32 + lane] = __shfl_up_sync(0xffffffffu, v, 5, w);
    out[(k++) * 32 + lane] = __shfl_down_sync(0xffffffffu, v, 1, w);
    out[(k++) * 32 + lane] = __shfl_down_sync(0xffffffffu, v, 3, w);
    out[(k++) * 32 + lane] = __shfl_xor_sync(0xffffffffu, v, 1, w);
    out[(k++) * 32 + lane] = __shfl_xor_sync(0xffffffffu, v, 16, w); /* across segments */
  }
  out[(k++) * 32 + lane] = (int)__ballot_sync(0xffffffffu, lane % 3 == 0);
  out[(k++) * 32 + lane] = __any_sync(0xffffffffu, lane == 17);
  out[(k++) * 32 + lane] = __all_sync(0xffffffffu, lane < 31);
  const double d = 0.5 + lane; /* 64-bit values shuffle whole */
  out[(k++) * 32 + lane] = (int)(4 * __shfl_xor_sync(0xffffffffu, d, 5));
}

/* Half a warp shuffles with a full mask while the other half waits at __syncthreads: a
 * deadlock (a GPU hangs or misbehaves; the emulated device reports a fault). */
__global__ void sem_deadlock_kernel(float *y) {
  float v = (float)threadIdx.x;
  if (threadIdx.x < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
  else __syncthreads();
  y[threadIdx.x] = v;
}

__global__ void sem_noop_kernel(float *y) {
  if (y) y[0] = 0.f;
}

extern "C" int sem_launch(int which, int wrong, const float *x, float *y, int64_t a, int b,
                          void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  switch (which) {
    case SEM_WARP_SUM: sem_warp_sum_kernel<<<(unsigned)(a / 64), 64, 0, s>>>(wrong, x, y); break;
    case SEM_PARTIAL_SUM: sem_partial_sum_kernel<<<1, 32, 0, s>>>(wrong, (int)a, x, y); break;
    case SEM_BLOCK_SUM: sem_block_sum_kernel<<<1, (unsigned)b, 0, s>>>(wrong, x, y, (int)a); break;
    case SEM_ROW_MAX: sem_row_max_kernel<<<(unsigned)(a < 7 ? a : 7), 96, 0, s>>>(wrong, x, y, a, b); break;
    case SEM_REVERSE: sem_reverse_kernel<<<(unsigned)a, (unsigned)b, 0, s>>>(wrong, x, y); break;
    case SEM_REVERSE_DYNAMIC:
      sem_reverse_dynamic_kernel<<<(unsigned)a, (unsigned)b, (size_t)b * sizeof(float), s>>>(x, y);
      break;
    case SEM_SHFL: sem_shfl_kernel<<<1, 32, 0, s>>>((int *)y); break;
    case SEM_DEADLOCK: sem_deadlock_kernel<<<1, 32, 0, s>>>(y); break;
    case SEM_ZERO_GRID: sem_noop_kernel<<<0, 32, 0, s>>>(y); break;
    case SEM_HUGE_BLOCK: sem_noop_kernel<<<1, 2048, 0, s>>>(y); break;
    case SEM_TOO_MUCH_SHARED: sem_noop_kernel<<<1, 32, 64 * 1024, s>>>(y); break;
    default: return (int)cudaErrorInvalidValue;
  }
  return (int)cudaGetLastError();
}
