/* Per-element and per-row bodies of the losses, shared by the CPU loops (host/ops/op_xent.c,
 * host/ops/op_mse.c) and the kernels (kernels/xent.cu, kernels/loss.cu). Softmax
 * cross-entropy follows PyTorch's nn.CrossEntropyLoss; see dlc_op_softmax_xent_fwd. */
#ifndef DLC_LOSS_H
#define DLC_LOSS_H

#include <math.h>
#include <stdint.h>

#include "dlc_hd.h"

/* The weight a row's label t carries (w_t): 0 when t is ignore_index, NaN when t is out
 * of [0, C) (the GPU's answer to a bad label: it poisons the loss instead of reading out of
 * bounds; the CPU rejects such labels before computing), else w[t], or 1 without weights. */
DLC_HD static inline float dlc_xent_label_weight(int t, int64_t C, int ignore_index,
                                                 const float *w) {
  if (t == ignore_index) return 0.f;
  if (t < 0 || (int64_t)t >= C) return dlc_u2f(0x7fc00000u); /* NaN */
  return w ? w[t] : 1.f;
}

/* One row's loss before reduction, with logp the row's log-softmax:
 *   (1 - eps) * (-w_t logp_t) + (eps / C) * (-sum_c w_c logp_c)
 * wlogp_sum is sum_c w_c logp_c. An ignored row counts 0. With eps == 0 the smoothing
 * term is left out, as PyTorch does (it calls plain nll_loss), so that a -inf log-probability
 * of another class (a masked logit) cannot turn 0 * inf into NaN. */
DLC_HD static inline float dlc_xent_row_loss(int ignored, float logp_t, float w_t,
                                             float wlogp_sum, float eps, int64_t C) {
  if (ignored) return 0.f;
  float nll = -(w_t * logp_t);
  if (eps == 0.f) return nll;
  return (1.f - eps) * nll + (eps / (float)C) * -wlogp_sum;
}

/* The reduced loss from the sum of the row losses: MEAN divides by den (for softmax
 * cross-entropy the summed label weights of the counted rows, for MSE the element count);
 * 0 / 0 is NaN, as PyTorch answers when every row is ignored. */
DLC_HD static inline float dlc_loss_finish(double sum, double den, int mean) {
  return (float)(mean ? sum / den : sum);
}

/* The two coefficients of the cross-entropy gradient (dlc_xent_grad):
 *   a = dloss (1 - eps) / den,  b = dloss (eps / C) / den,  den = 1 for SUM. */
DLC_HD static inline void dlc_xent_coefs(float dloss, float eps, int64_t C, double den, int mean,
                                         float *a, float *b) {
  double d = mean ? den : 1.0;
  *a = (float)((double)dloss * (1.0 - (double)eps) / d);
  *b = (float)((double)dloss * ((double)eps / (double)C) / d);
}

/* dx + d loss / d logit_c for a counted row with label t, p_c = exp(logp_c), W = sum_c w_c:
 *   a w_t (p_c - [c == t]) + b (W p_c - w_c)
 * (d logp_k / d x_c = [k == c] - p_c, applied to both terms of dlc_xent_row_loss.) */
DLC_HD static inline float dlc_xent_grad(float logp, int is_target, float w_t, float w_c,
                                         float W, float a, float b, float dx) {
  float p = expf(logp);
  float g = a * w_t * (p - (is_target ? 1.f : 0.f));
  if (b != 0.f) g += b * (W * p - w_c);
  return dx + g;
}

/* MSE: the squared difference one element adds to the loss, and dx + its gradient with
 * k = 2 dloss (/ numel for MEAN). */
DLC_HD static inline float dlc_mse_sq(float x, float t) {
  float d = x - t;
  return d * d;
}

DLC_HD static inline float dlc_mse_grad(float x, float t, float k, float dx) {
  return dx + k * (x - t);
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* Softmax cross-entropy: what forward and backward share (see dlc_xent_opts). All
 * pointers are on the device. */
typedef struct dlc_xent_params {
  const int32_t *labels; /* [rows] */
  const float *class_w;  /* [C], or NULL for weight 1 */
  float eps;             /* label smoothing in [0, 1] */
  int ignore_index;
  int mean;              /* 1: divide by the summed label weights of the counted rows */
} dlc_xent_params;
/* Device scratch (bytes) the launcher below needs for this size, 0 when none; the caller
 * passes a buffer at least that large (its contents are not kept). */
size_t dlc_xent_fwd_scratch_bytes(int64_t rows, int64_t C);
/* logp = log_softmax(logits) [rows, C] (may be logits), row_w [rows] = each row's label
 * weight (0 ignored, NaN for a label out of range), loss [1] = the reduced loss (NaN when a
 * label is out of range). Deterministic: fixed-order reductions, no atomics. */
int dlc_launch_xent_fwd(dlc_xent_params p, const float *logits, float *logp, float *row_w,
                        float *loss, int64_t rows, int64_t C, void *scratch, void *stream);
size_t dlc_xent_bwd_scratch_bytes(int64_t rows, int64_t C);
/* dlogits += dloss * d loss / d logits, from the forward's logp and row_w. */
int dlc_launch_xent_bwd(dlc_xent_params p, const float *logp, const float *row_w, float dloss,
                        float *dlogits, int64_t rows, int64_t C, void *scratch, void *stream);
/* MSE over n elements: loss [1] = sum (or mean) of (x - t)^2, deterministically. */
size_t dlc_mse_fwd_scratch_bytes(int64_t n);
int dlc_launch_mse_fwd(const float *x, const float *t, int mean, float *loss, int64_t n,
                       void *scratch, void *stream);
/* dx += k (x - t), k = 2 dloss (/ n for the mean). */
int dlc_launch_mse_bwd(const float *x, const float *t, float k, float *dx, int64_t n,
                       void *stream);

#ifdef __cplusplus
}
#endif

#endif
