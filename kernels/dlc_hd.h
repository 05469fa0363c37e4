/* DLC_HD marks a per-element body shared by the CPU loop and the CUDA kernel:
 * __host__ __device__ under nvcc, nothing under a C compiler. Index math and formulas are
 * written once, in such bodies, so CPU tests exercise the code the GPU runs. */
#ifndef DLC_HD_H
#define DLC_HD_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define DLC_HD __host__ __device__
#else
#define DLC_HD
#endif

/* Correctly rounded float arithmetic that the compiler may not fuse into an FMA. Bodies
 * whose results must be bit-identical on both devices (the random generator) use these;
 * on the host their file is compiled with -ffp-contract=off. */
#if defined(__CUDA_ARCH__)
#define DLC_MUL_RN(a, b) __fmul_rn((a), (b))
#define DLC_ADD_RN(a, b) __fadd_rn((a), (b))
#define DLC_DIV_RN(a, b) __fdiv_rn((a), (b))
#define DLC_SQRT_RN(a) __fsqrt_rn(a)
#else
#define DLC_MUL_RN(a, b) ((a) * (b))
#define DLC_ADD_RN(a, b) ((a) + (b))
#define DLC_DIV_RN(a, b) ((a) / (b))
#define DLC_SQRT_RN(a) sqrtf(a)
#endif

DLC_HD static inline uint32_t dlc_f2u(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
#endif
}

DLC_HD static inline float dlc_u2f(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
#endif
}

#endif
