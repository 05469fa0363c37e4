/* Division by a divisor that is fixed for a whole launch, without a division instruction:
 * the quotient is a 64x64 multiply-high and a shift (Granlund and Montgomery, "Division by
 * invariant integers using multiplication", 1994). A 64-bit `/` on a GPU is a subroutine of
 * some 70 instructions; per element, in a kernel that moves 8 bytes per element, that makes
 * a memory-bound kernel compute-bound. The host computes the magic number once per launch.
 *
 * For a divisor d in [1, 2^63) and l = ceil(log2 d), m = ceil(2^(63+l) / d) fits in 64 bits,
 * and for every n in [0, 2^63):  n / d == (n * m) >> (63 + l)  (the error of m is e < d <=
 * 2^l, so n * e < 2^(63+l) and the product never crosses the next multiple of d). d = 1
 * is its own case (l = 0 would need a right shift of -1). tests/test_batchnorm.c checks
 * the identity on edge and random values. */
#ifndef DLC_FASTDIV_H
#define DLC_FASTDIV_H

#include "dlc_hd.h"

typedef struct dlc_fastdiv {
  uint64_t d;   /* the divisor, >= 1 */
  uint64_t mul; /* m, unused when d == 1 */
  uint32_t shr; /* l - 1 */
} dlc_fastdiv;

/* d in [1, 2^63). */
static inline dlc_fastdiv dlc_fastdiv_make(uint64_t d) {
  dlc_fastdiv f = {d, 0, 0};
  if (d <= 1) return f;
  uint32_t l = 0;
  while (l < 64 && (1ull << l) < d) l++;
  unsigned __int128 p = (unsigned __int128)1 << (63 + l);
  f.mul = (uint64_t)((p + d - 1) / d);
  f.shr = l - 1;
  return f;
}

DLC_HD static inline uint64_t dlc_fastdiv_q(uint64_t n, dlc_fastdiv f) {
  if (f.d == 1) return n;
#if defined(__CUDA_ARCH__)
  uint64_t hi = __umul64hi(n, f.mul);
#else
  uint64_t hi = (uint64_t)(((unsigned __int128)n * f.mul) >> 64);
#endif
  return hi >> f.shr;
}

#endif
