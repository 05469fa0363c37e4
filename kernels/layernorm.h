/* Per-element bodies of layer normalisation (nn.LayerNorm) over rows of D values: each of
 * the R = numel / D rows is normalised by its own mean and biased variance, then scaled
 * and shifted per column by weight[D] and bias[D]. */
#ifndef DLC_LAYERNORM_H
#define DLC_LAYERNORM_H

#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

/* The CUDA weight and bias gradients are column sums over the R rows: the rows are cut
 * into P contiguous chunks (one block row each), and a second kernel adds each column's P
 * partial sums in order. P depends only on R (deterministic), at most DLC_LN_MAX_SPLIT. */
#define DLC_LN_MAX_SPLIT 64
static inline int dlc_ln_splits(int64_t R) {
  int64_t p = R / 64;
  if (p < 1) p = 1;
  if (p > DLC_LN_MAX_SPLIT) p = DLC_LN_MAX_SPLIT;
  return (int)p;
}
/* Floats of device scratch backward needs for rows of D values (any R). */
static inline int64_t dlc_ln_scratch_floats(int64_t D) { return 2 * D * DLC_LN_MAX_SPLIT; }

/* y = (x - mean) * rstd * w + b */
DLC_HD static inline float dlc_ln_apply(float x, float mean, float rstd, float w, float b) {
  return (x - mean) * rstd * w + b;
}

/* dx of one element: rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w, where the
 * two means run over the element's row. */
DLC_HD static inline float dlc_ln_grad(float x, float g, float mean, float rstd, float mean_g, float mean_gx) {
  float xhat = (x - mean) * rstd;
  return rstd * (g - mean_g - xhat * mean_gx);
}

/* ---- launchers: the extern "C" entry points of layernorm.cu; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH. */
#ifdef __cplusplus
extern "C" {
#endif

/* Rows of D: saved mean and 1/std per row, y = normalised x (w, b may be NULL: 1 and 0). */
int dlc_launch_ln_forward(const float *x, float *y, int64_t R, int64_t D, const float *w, const float *b, float eps,
                          float *save_mean, float *save_rstd, void *stream);
/* dx += (may be NULL), dw += and db += (each may be NULL) from dy; partials: 2 * D *
 * dlc_ln_splits(R) floats of scratch. */
int dlc_launch_ln_backward(const float *x, const float *dy, float *dx, int64_t R, int64_t D, const float *w,
                           const float *save_mean, const float *save_rstd, float *dw, float *db, float *partials,
                           void *stream);

#ifdef __cplusplus
}
#endif

#endif
