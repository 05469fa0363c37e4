/* Gradient clipping, per element, with PyTorch's formulas:
 *   clip_grad_norm_:  g *= min(1, max_norm / (||g||_2 + 1e-6))   (NaN norm -> NaN grads)
 *   clip_grad_value_: g = clamp(g, -limit, limit)                 (NaN stays NaN)
 * The norm itself is a reduction: per-block partial sums of squares (DLC_CLIP_PARTS of them,
 * in a fixed order on the GPU), then one sum; it cannot share a body with the CPU. */
#ifndef DLC_CLIP_H
#define DLC_CLIP_H

#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

/* Partial sums the GPU reduction uses; the work buffer holds the norm, then these. */
#define DLC_CLIP_PARTS 512

DLC_HD static inline float dlc_clip_norm_coef(float norm, float max_norm) {
  float coef = max_norm / (norm + 1e-6f);
  return coef > 1.f ? 1.f : coef; /* a select that keeps NaN, like torch.clamp(max=1) */
}

DLC_HD static inline float dlc_clip_value_at(float g, float limit) {
  float lo = -limit;
  return g > limit ? limit : (g < lo ? lo : g);
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* Gradient clipping (clip.h). partials[b] (+)= the sum of squares block b of DLC_CLIP_PARTS
 * visits; work[0] = sqrt(sum of work[1 .. DLC_CLIP_PARTS]); g *= coef(*norm, max_norm);
 * g = clamp(g, -limit, limit). */
int dlc_launch_sumsq_partials(const float *x, int64_t n, float *partials, int accumulate,
                              void *stream);
int dlc_launch_clip_norm_finish(float *work, void *stream);
int dlc_launch_clip_norm_scale(float *g, int64_t n, const float *norm, float max_norm,
                               void *stream);
int dlc_launch_clip_value(float *g, int64_t n, float limit, void *stream);

#ifdef __cplusplus
}
#endif

#endif
