/* Deterministic per-channel sums: the bias gradient of a convolution (sum over images and
 * pixels) and global average pooling (sum over a plane).
 *   out[c] = (accumulate ? out[c] : 0) + (sum_{n<N, p<P} in[n*stride + c*P + p]) / divisor
 * TPS threads own one segment c: thread t adds elements t, t+TPS, ... of the segment's
 * N*P in order, then the TPS partial sums combine in a fixed tree (warp shuffles, then
 * shared memory across warps). The same input always gives the same bits; no atomics.
 * Long segments (a conv channel over a batch) get a whole block of 256; short ones (a 7x7
 * plane) a warp each, 8 segments per block. */
#include "common.cuh"
#include "im2col.h"

template <int TPS>
__global__ void channel_sum_kernel(const float *in, float *out, int64_t N, int64_t C, int64_t P,
                                   int64_t stride, float divisor, bool accumulate) {
  constexpr int SEGS = DLC_BLOCK / TPS; /* segments per block */
  __shared__ float warp_part[DLC_BLOCK / 32];
  int t = threadIdx.x % TPS, seg = threadIdx.x / TPS;
  int64_t c = (int64_t)blockIdx.x * SEGS + seg;
  float s = 0.f;
  if (c < C) {
    const float *base = in + c * P;
    int64_t n = t / P, p = t % P; /* element t of the segment, walked forward without dividing */
    while (n < N) {
      s += base[n * stride + p];
      p += TPS;
      if (p >= P) {
        n += p / P;
        p %= P;
      }
    }
  }
  for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
  if (TPS == 32) {
    if (t == 0 && c < C) out[c] = (accumulate ? out[c] : 0.f) + s / divisor;
    return;
  }
  /* TPS == DLC_BLOCK: one segment per block; lane 0 of each warp holds its partial. */
  if (threadIdx.x % 32 == 0) warp_part[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x == 0 && c < C) {
    float total = 0.f;
    for (int w = 0; w < DLC_BLOCK / 32; w++) total += warp_part[w];
    out[c] = (accumulate ? out[c] : 0.f) + total / divisor;
  }
}

extern "C" int dlc_launch_channel_sum(const float *in, float *out, int64_t N, int64_t C,
                                      int64_t P, int64_t stride, float divisor, int accumulate,
                                      void *stream) {
  if (C <= 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  if (N * P >= 4096) {
    if (C > INT32_MAX) return (int)cudaErrorInvalidValue;
    channel_sum_kernel<DLC_BLOCK><<<(unsigned)C, DLC_BLOCK, 0, s>>>(in, out, N, C, P, stride,
                                                                    divisor, accumulate != 0);
  } else {
    int64_t blocks = (C + DLC_BLOCK / 32 - 1) / (DLC_BLOCK / 32);
    if (blocks > INT32_MAX) return (int)cudaErrorInvalidValue;
    channel_sum_kernel<32><<<(unsigned)blocks, DLC_BLOCK, 0, s>>>(in, out, N, C, P, stride,
                                                                  divisor, accumulate != 0);
  }
  return (int)cudaGetLastError();
}
