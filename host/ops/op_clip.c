/* Gradient clipping (kernels/clip.h): by the global L2 norm over a list of gradient
 * tensors, as torch.nn.utils.clip_grad_norm_, or by value, as clip_grad_value_. */
#include <math.h>
#include <stdio.h>

#include "../../kernels/clip.h"
#include "ops/ops.h"

_Static_assert(DLC_CLIP_NORM_WORK == 1 + DLC_CLIP_PARTS, "clip work buffer: the norm, then the partials");

static dlc_status check_grads(dlc_ctx *ctx, dlc_tensor *const *grads, int count, const char *op) {
  DLC_CHECK_NULL(ctx, grads);
  if (count < 1) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: %d gradient tensors", op, count);
  for (int k = 0; k < count; k++) {
    char what[48];
    snprintf(what, sizeof what, "%s: gradient %d", op, k);
    if (!grads[k]) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s is NULL", what);
    DLC_TRY(dlc_check_f32(ctx, grads[k], what));
    if (grads[k]->device.kind != grads[0]->device.kind)
      return DLC_FAIL(ctx, DLC_ERR_DEVICE, "%s is on another device than gradient 0", what);
  }
  return DLC_OK;
}

dlc_status dlc_op_grad_norm(dlc_ctx *ctx, dlc_tensor *const *grads, int count, dlc_tensor *work) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_TRY(check_grads(ctx, grads, count, "gradient norm"));
  DLC_CHECK_NULL(ctx, work);
  DLC_TRY(dlc_check_f32(ctx, work, "gradient norm: work"));
  if (work->numel < DLC_CLIP_NORM_WORK || work->device.kind != grads[0]->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "gradient norm: work must hold %d floats on the gradients' device (has %lld)",
                    DLC_CLIP_NORM_WORK, (long long)work->numel);
  float *w = work->data;
  if (dlc_on_cuda(work)) {
    for (int k = 0; k < count; k++)
      DLC_TRY(DLC_LAUNCH(ctx, "sumsq_partials",
                         dlc_launch_sumsq_partials(grads[k]->data, grads[k]->numel, w + 1, k > 0,
                                                   ctx->stream)));
    return DLC_LAUNCH(ctx, "clip_norm_finish", dlc_launch_clip_norm_finish(w, ctx->stream));
  }
  double sum = 0;
  for (int k = 0; k < count; k++) {
    const float *g = grads[k]->data;
    int64_t n = grads[k]->numel;
    double part = 0;
#pragma omp parallel for reduction(+ : part) schedule(static) if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
    for (int64_t i = 0; i < n; i++) part += (double)g[i] * g[i];
    sum += part;
  }
  w[0] = (float)sqrt(sum);
  return DLC_OK;
}

dlc_status dlc_op_clip_grad_norm(dlc_ctx *ctx, dlc_tensor *const *grads, int count,
                                 float max_norm, dlc_tensor *work, float *norm_out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  if (!(max_norm >= 0.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "clip_grad_norm: max_norm %g must be >= 0", max_norm);
  DLC_TRY(dlc_op_grad_norm(ctx, grads, count, work));
  float *w = work->data;
  if (dlc_on_cuda(work)) {
    for (int k = 0; k < count; k++)
      DLC_TRY(DLC_LAUNCH(ctx, "clip_norm_scale",
                         dlc_launch_clip_norm_scale(grads[k]->data, grads[k]->numel, w, max_norm,
                                                    ctx->stream)));
    if (norm_out) {
      dlc_device cpu = {DLC_DEVICE_CPU, 0};
      DLC_TRY(dlc_cuda_memcpy(ctx, norm_out, cpu, w, work->device, sizeof(float)));
    }
    return DLC_OK;
  }
  float coef = dlc_clip_norm_coef(w[0], max_norm);
  for (int k = 0; k < count; k++) {
    float *g = grads[k]->data;
    int64_t n = grads[k]->numel;
#pragma omp parallel for schedule(static) if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
    for (int64_t i = 0; i < n; i++) g[i] *= coef;
  }
  if (norm_out) *norm_out = w[0];
  return DLC_OK;
}

dlc_status dlc_op_clip_grad_value(dlc_ctx *ctx, dlc_tensor *const *grads, int count, float limit) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_TRY(check_grads(ctx, grads, count, "clip_grad_value"));
  if (!(limit >= 0.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "clip_grad_value: limit %g must be >= 0", limit);
  for (int k = 0; k < count; k++) {
    float *g = grads[k]->data;
    int64_t n = grads[k]->numel;
    if (dlc_on_cuda(grads[k])) {
      DLC_TRY(DLC_LAUNCH(ctx, "clip_value", dlc_launch_clip_value(g, n, limit, ctx->stream)));
      continue;
    }
#pragma omp parallel for schedule(static) if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
    for (int64_t i = 0; i < n; i++) g[i] = dlc_clip_value_at(g[i], limit);
  }
  return DLC_OK;
}
