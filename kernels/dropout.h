/* Dropout's mask: element i keeps its value when the uniform of Philox block
 * (block0 + i / 4), lane i % 4, is >= p; P(keep) = 1 - p. The mask is a pure function of
 * (seed, block0, i), so backward regenerates it instead of storing it, and CPU and GPU
 * agree bit for bit. */
#ifndef DLC_DROPOUT_H
#define DLC_DROPOUT_H

#include "philox.h"

/* Multipliers (0 or 1/(1-p)) for the four elements of one Philox block. */
DLC_HD static inline void dlc_dropout_scale4(uint64_t block, uint64_t seed, float p, float scale,
                                             float out[4]) {
  uint32_t r[4];
  dlc_philox_block(block, seed, r);
  for (int k = 0; k < 4; k++) out[k] = dlc_u32_to_unit(r[k]) >= p ? scale : 0.0f;
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* Forward: out = in * m; backward: out += in * m; m_i = keep_i ? scale : 0 (dropout.h). */
int dlc_launch_dropout(int backward, float p, float scale, uint64_t seed, uint64_t block0,
                       const float *in, float *out, int64_t n, void *stream);

#ifdef __cplusplus
}
#endif

#endif
