/* Per-element bodies of the optimizers, with PyTorch's update rules (torch.optim.SGD, Adam,
 * AdamW), shared by the CPU loop and the one fused CUDA kernel over the parameter buffer. */
#ifndef DLC_OPTIM_H
#define DLC_OPTIM_H

#include "clip.h"
#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

#ifndef __CUDACC__
#include <math.h>
#endif

/* The step's scalars, computed once on the host. */
struct dlc_optim_hparams {
  int kind;          /* 0 SGD, 1 Adam, 2 AdamW */
  float lr, momentum, dampening, weight_decay, beta1, beta2, eps;
  float bias_corr1, bias_corr2; /* 1 - beta^t */
  int nesterov, first;          /* first: SGD's momentum buffer starts as the gradient */
  float max_norm;               /* > 0: clip the gradient to this global norm */
};
typedef struct dlc_optim_hparams dlc_optim_hparams;

/* The gradient's factor: clip_grad_norm_'s min(1, max_norm / (norm + 1e-6)) when clipping. */
DLC_HD static inline float dlc_optim_clip(const dlc_optim_hparams *h, float norm) {
  return h->max_norm > 0.f ? dlc_clip_norm_coef(norm, h->max_norm) : 1.f;
}

/* Updates parameter i: p, its gradient g (already clipped), and the state s1 (SGD momentum
 * or Adam's m) and s2 (Adam's v). */
DLC_HD static inline void dlc_optim_update(const dlc_optim_hparams *h, float *p, float g, float *s1,
                                           float *s2) {
  float w = *p;
  if (h->kind == 0) {
    g = g + h->weight_decay * w;
    if (h->momentum != 0.f) {
      float b = h->first ? g : h->momentum * *s1 + (1.f - h->dampening) * g;
      *s1 = b;
      g = h->nesterov ? g + h->momentum * b : b;
    }
    *p = w - h->lr * g;
    return;
  }
  if (h->kind == 2)
    w = w * (1.f - h->lr * h->weight_decay); /* AdamW: decoupled decay */
  else
    g = g + h->weight_decay * w;             /* Adam: L2 in the gradient */
  float m = h->beta1 * *s1 + (1.f - h->beta1) * g;
  float v = h->beta2 * *s2 + (1.f - h->beta2) * g * g;
  *s1 = m;
  *s2 = v;
  /* PyTorch: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps) */
  float denom = sqrtf(v) / sqrtf(h->bias_corr2) + h->eps;
  *p = w - (h->lr / h->bias_corr1) * m / denom;
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* One optimizer step over n parameters (kernels/optim.h); norm, when not NULL, is the
 * device scalar holding the gradient's L2 norm for clipping. h is a
 * const dlc_optim_hparams * (kept opaque here so C callers need not include optim.h). */
struct dlc_optim_hparams;
int dlc_launch_optim(const struct dlc_optim_hparams *h, float *p, const float *g, float *s1,
                     float *s2, int64_t n, const float *norm, void *stream);

#ifdef __cplusplus
}
#endif

#endif
