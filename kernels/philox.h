/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11)
 * and the float transforms on top of it. Everything here uses integer ops and correctly
 * rounded +, *, /, sqrt only (no libm), so a CPU loop and a CUDA kernel give the same bits.
 *
 * Stream layout: element i of a request whose generator offset is `off` is lane (i % 4) of
 * block (off + i / 4); a block is one Philox call with counter (lo32, hi32, 0, 0) of its
 * index and key (lo32, hi32) of the seed. */
#ifndef DLC_PHILOX_H
#define DLC_PHILOX_H

#include "dlc_hd.h"

#ifndef __CUDACC__
#include <math.h>
#endif

DLC_HD static inline void dlc_philox4x32_10(const uint32_t ctr[4], uint32_t k0, uint32_t k1,
                                            uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  for (int r = 0; r < 10; r++) {
    if (r) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

DLC_HD static inline void dlc_philox_block(uint64_t block, uint64_t seed, uint32_t out[4]) {
  uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0u, 0u};
  dlc_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32), out);
}

/* [0, 1): the top 24 bits scaled exactly. */
DLC_HD static inline float dlc_u32_to_unit(uint32_t x) {
  return (float)(x >> 8) * (1.0f / 16777216.0f);
}

/* ln(x) for normal floats x > 0, to about 1 ulp of the result's scale, from +, *, /.
 * x = m 2^e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s), s = (m-1)/(m+1). */
DLC_HD static inline float dlc_portable_logf(float x) {
  uint32_t b = dlc_f2u(x);
  int e = (int)((b >> 23) & 0xff) - 127;
  float m = dlc_u2f((b & 0x7fffffu) | 0x3f800000u);
  if (m > 1.41421356f) {
    m = DLC_MUL_RN(m, 0.5f);
    e += 1;
  }
  float s = DLC_DIV_RN(DLC_ADD_RN(m, -1.0f), DLC_ADD_RN(m, 1.0f));
  float s2 = DLC_MUL_RN(s, s);
  float p = 1.0f / 9.0f;
  p = DLC_ADD_RN(DLC_MUL_RN(p, s2), 1.0f / 7.0f);
  p = DLC_ADD_RN(DLC_MUL_RN(p, s2), 1.0f / 5.0f);
  p = DLC_ADD_RN(DLC_MUL_RN(p, s2), 1.0f / 3.0f);
  p = DLC_ADD_RN(DLC_MUL_RN(p, s2), 1.0f);
  float lnm = DLC_MUL_RN(DLC_MUL_RN(2.0f, s), p);
  return DLC_ADD_RN(DLC_MUL_RN((float)e, 0.693147180559945f), lnm);
}

/* sin and cos of 2*pi*u for u in [0, 1): quadrant from u*4 (exact), then Taylor series
 * around pi/4 on |a| <= pi/4. */
DLC_HD static inline void dlc_portable_sincos2pi(float u, float *sn, float *cs) {
  float v = DLC_MUL_RN(u, 4.0f);
  int q = (int)v;
  float t = DLC_ADD_RN(DLC_ADD_RN(v, -(float)q), -0.5f); /* [-0.5, 0.5) */
  float a = DLC_MUL_RN(t, 1.57079632679f);
  float a2 = DLC_MUL_RN(a, a);
  float ps = DLC_ADD_RN(DLC_MUL_RN(a2, 1.0f / 362880.0f), -1.0f / 5040.0f);
  ps = DLC_ADD_RN(DLC_MUL_RN(ps, a2), 1.0f / 120.0f);
  ps = DLC_ADD_RN(DLC_MUL_RN(ps, a2), -1.0f / 6.0f);
  ps = DLC_ADD_RN(DLC_MUL_RN(ps, a2), 1.0f);
  float sa = DLC_MUL_RN(ps, a);
  float pc = DLC_ADD_RN(DLC_MUL_RN(a2, -1.0f / 3628800.0f), 1.0f / 40320.0f);
  pc = DLC_ADD_RN(DLC_MUL_RN(pc, a2), -1.0f / 720.0f);
  pc = DLC_ADD_RN(DLC_MUL_RN(pc, a2), 1.0f / 24.0f);
  pc = DLC_ADD_RN(DLC_MUL_RN(pc, a2), -0.5f);
  float ca = DLC_ADD_RN(DLC_MUL_RN(pc, a2), 1.0f);
  const float r2 = 0.70710678118654752f; /* sin and cos of pi/4 */
  float s = DLC_MUL_RN(DLC_ADD_RN(sa, ca), r2);  /* sin(pi/4 + a) */
  float c = DLC_MUL_RN(DLC_ADD_RN(ca, -sa), r2); /* cos(pi/4 + a) */
  switch (q & 3) {
    case 0: *sn = s; *cs = c; break;
    case 1: *sn = c; *cs = -s; break;
    case 2: *sn = -s; *cs = -c; break;
    default: *sn = -c; *cs = s; break;
  }
}

/* Four uniforms in [lo, hi) from one block. */
DLC_HD static inline void dlc_rand_uniform4(uint64_t block, uint64_t seed, float lo, float hi,
                                            float out[4]) {
  uint32_t r[4];
  dlc_philox_block(block, seed, r);
  float w = DLC_ADD_RN(hi, -lo);
  for (int k = 0; k < 4; k++) out[k] = DLC_ADD_RN(lo, DLC_MUL_RN(w, dlc_u32_to_unit(r[k])));
}

/* Four normals (two Box-Muller pairs) from one block: mean + std * z. */
DLC_HD static inline void dlc_rand_normal4(uint64_t block, uint64_t seed, float mean, float std,
                                           float out[4]) {
  uint32_t r[4];
  dlc_philox_block(block, seed, r);
  for (int k = 0; k < 4; k += 2) {
    float u1 = (float)((r[k] >> 8) + 1u) * (1.0f / 16777216.0f); /* (0, 1]: ln finite */
    float u2 = dlc_u32_to_unit(r[k + 1]);
    float rad = DLC_SQRT_RN(DLC_MUL_RN(-2.0f, dlc_portable_logf(u1)));
    float sn, cs;
    dlc_portable_sincos2pi(u2, &sn, &cs);
    out[k] = DLC_ADD_RN(mean, DLC_MUL_RN(std, DLC_MUL_RN(rad, cs)));
    out[k + 1] = DLC_ADD_RN(mean, DLC_MUL_RN(std, DLC_MUL_RN(rad, sn)));
  }
}

#endif
