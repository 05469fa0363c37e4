/* The device side of the emulated CUDA device (DLC_CUDA=EMULATE). Every kernel file is
 * compiled as C++ with this header included first, after kernels/emu/rewrite.c has turned
 * its launches `k<<<g, b, shm, s>>>(args)` into calls of dlc_emu::config::run and its
 * `extern __shared__` arrays into pointers to the block's dynamic shared memory.
 *
 * What it gives the kernels, with CUDA's semantics (kernels/emu/README.md says what it does
 * not cover):
 *  - threadIdx, blockIdx, blockDim, gridDim and warpSize = 32, as on every NVIDIA GPU;
 *  - every CUDA thread is a fiber; the threads of one block run on one host thread, so
 *    `__shared__` variables (static thread_local here) are shared by the block; a block
 *    starts with its shared memory, static and dynamic, poisoned (all bits set: NaN), and
 *    its threads run in ascending order in even blocks and descending order in odd ones,
 *    so a read that a missing __syncthreads leaves unordered sees poison either way;
 *  - __syncthreads waits for every thread of the block that has not exited;
 *  - __syncwarp and the __shfl*_sync / __ballot_sync / __any_sync / __all_sync family wait
 *    for the lanes named in the mask (exited lanes excepted), within the calling warp only,
 *    and compute the PTX shfl.sync lane rules exactly (width, clamping at the segment
 *    edge); a value read from a lane outside the mask is poison (all bits set: NaN);
 *  - a deadlock (threads waiting for each other forever), a mask that does not name the
 *    calling lane, lanes of one mask at different intrinsics or with different masks, a
 *    width that is not a power of two: a fault that names the kernel and block, reported
 *    as a sticky launch failure like a GPU fault.
 * __CUDA_ARCH__ stays undefined: the DLC_HD bodies take their host branches. */
#ifndef DLC_EMU_DEVICE_H
#define DLC_EMU_DEVICE_H

/* CUDA's host_defines.h keeps these when they are already defined. */
#define __shared__ static thread_local
#define __global__
#define __launch_bounds__(...)
#define __grid_constant__

#include <cuda_runtime.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace dlc_emu {

/* One CUDA thread of the block being run (kernels/emu/exec.cpp owns these). */
struct thread_rec;
struct block_rec {
  uint3 block_idx;
  dim3 block_dim, grid_dim;
  thread_rec *threads;
  int cur; /* index of the running thread */
  void *dyn_shared;
};
extern thread_local block_rec *tls_block;
const uint3 &thread_index();

enum warp_op { WARP_SYNC, WARP_SHFL_IDX, WARP_SHFL_UP, WARP_SHFL_DOWN, WARP_SHFL_XOR, WARP_BALLOT };
/* The warp collective of the calling lane: returns its result (a shuffled value, a ballot). */
unsigned long long warp_collective(int op, unsigned mask, unsigned long long value, int b, int width);
void block_barrier();

/* Launch: the rewritten `k<<<g, b, shm, s>>>(args...)` is
 * `dlc_emu::config(g, b, shm, s).run("k", k, args...)`. Arguments are converted to the
 * kernel's parameter types and copied, as CUDA does; the launch is checked and queued on
 * the stream (an invalid configuration sets the error cudaGetLastError returns). */
void launch(const char *name, dim3 grid, dim3 block, size_t shared, cudaStream_t stream,
            std::function<void()> body);

struct config {
  dim3 grid, block;
  size_t shared;
  cudaStream_t stream;
  config(dim3 g, dim3 b, size_t shm = 0, cudaStream_t s = 0) : grid(g), block(b), shared(shm), stream(s) {}
  template <class... P, class... A>
  void run(const char *name, void (*kernel)(P...), A &&...args) const {
    static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
    auto params = std::make_shared<std::tuple<std::decay_t<P>...>>(std::forward<A>(args)...);
    launch(name, grid, block, shared, stream, [kernel, params]() { std::apply(kernel, *params); });
  }
};

inline void *dynamic_shared() { return tls_block->dyn_shared; }
/* Called (by the rewritten source) where a block's thread passes a __shared__ declaration:
 * the first thread of each block to pass it poisons the variable. */
void shared_poison(void *p, size_t bytes);

template <class T>
inline T shfl(int op, unsigned mask, T v, int b, int width) {
  static_assert(std::is_arithmetic<T>::value && sizeof(T) <= 8,
                "CUDA shuffles take 32- and 64-bit arithmetic values");
  unsigned long long bits = 0;
  memcpy(&bits, &v, sizeof v);
  bits = warp_collective(op, mask, bits, b, width);
  T r;
  memcpy(&r, &bits, sizeof r);
  return r;
}

} /* namespace dlc_emu */

#define threadIdx (::dlc_emu::thread_index())
#define blockIdx (::dlc_emu::tls_block->block_idx)
#define blockDim (::dlc_emu::tls_block->block_dim)
#define gridDim (::dlc_emu::tls_block->grid_dim)
#define warpSize 32

inline void __syncthreads() { ::dlc_emu::block_barrier(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::dlc_emu::warp_collective(::dlc_emu::WARP_SYNC, mask, 0, 0, 32);
}
template <class T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  return ::dlc_emu::shfl(::dlc_emu::WARP_SHFL_IDX, mask, v, src, width);
}
template <class T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return ::dlc_emu::shfl(::dlc_emu::WARP_SHFL_UP, mask, v, (int)delta, width);
}
template <class T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return ::dlc_emu::shfl(::dlc_emu::WARP_SHFL_DOWN, mask, v, (int)delta, width);
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  return ::dlc_emu::shfl(::dlc_emu::WARP_SHFL_XOR, mask, v, lane_mask, width);
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  return (unsigned)::dlc_emu::warp_collective(::dlc_emu::WARP_BALLOT, mask, pred != 0, 0, 32);
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) == mask; }

/* Device intrinsics. The kernels are compiled with -ffp-contract=off, so each _rn form is
 * one correctly rounded IEEE operation, as on the GPU; the fast approximations are given
 * their exact values, which lie within the GPU's documented error. */
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float a) { return expf(a); }
inline float __logf(float a) { return logf(a); }
inline float __tanhf(float a) { return tanhf(a); }
inline float rsqrtf(float a) { return 1.0f / sqrtf(a); }
inline double rsqrt(double a) { return 1.0 / sqrt(a); }
inline float __saturatef(float a) { return a < 0.f ? 0.f : (a > 1.f ? 1.f : (a != a ? 0.f : a)); }
/* Atomics: fibers switch only at barriers and warp collectives, so a read-modify-write is
 * never interleaved; __atomic keeps them atomic should blocks ever run on host threads. */
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) {
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
inline int atomicAdd(int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned *p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline int __float_as_int(float f) { int u; memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; memcpy(&f, &u, 4); return f; }
inline long long __double_as_longlong(double d) { long long u; memcpy(&u, &d, 8); return u; }
inline double __longlong_as_double(long long u) { double d; memcpy(&d, &u, 8); return d; }
template <class T> inline T __ldg(const T *p) { return *p; }

#endif
