/* Mean squared error: loss[1] = sum or mean of (x - t)^2, and dx += dloss 2 (x - t)
 * (/ numel for the mean). Bodies in kernels/loss.h. */
#include "../../kernels/loss.h"
#include "ops/ops.h"

/* The CPU sum goes in fixed chunks, each added in double, then the chunks in order: the
 * result is the same whatever the thread count. */
#define MSE_CHUNK 65536

static dlc_status check_mse(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *target,
                            dlc_reduction reduction, const char *op) {
  DLC_TRY(dlc_check_pair(ctx, op, x, "x", target, "target"));
  if (reduction != DLC_REDUCE_MEAN && reduction != DLC_REDUCE_SUM)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: reduction %d is not MEAN or SUM", op,
                    (int)reduction);
  return DLC_OK;
}

dlc_status dlc_op_mse_fwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *target,
                          dlc_reduction reduction, dlc_tensor *loss) {
  const char *op = "mse_fwd";
  DLC_TRY(check_mse(ctx, x, target, reduction, op));
  DLC_TRY(dlc_check_f32(ctx, loss, "loss"));
  if (loss->numel != 1)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: loss has %lld elements, 1 expected", op,
                    (long long)loss->numel);
  if (loss->device.kind != x->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "%s: loss is not on x's device", op);
  const int mean = reduction == DLC_REDUCE_MEAN;
  const int64_t n = x->numel;

  if (dlc_on_cuda(x)) {
    void *scratch = NULL;
    size_t bytes = DLC_CUDA_ONLY(dlc_mse_fwd_scratch_bytes(n), 0);
    if (bytes) DLC_TRY(dlc_device_alloc(ctx, &scratch, bytes));
    /* Freed at once: the context's single stream orders any reuse after this kernel. */
    dlc_status s = DLC_LAUNCH(ctx, op,
                              dlc_launch_mse_fwd(x->data, target->data, mean, loss->data, n,
                                                 scratch, ctx->stream));
    dlc_device_free(ctx, scratch);
    return s;
  }

  const float *xp = x->data, *tp = target->data;
  const int64_t chunks = (n + MSE_CHUNK - 1) / MSE_CHUNK;
  double *part;
  DLC_TRY(dlc_host_alloc(ctx, (void **)&part, (size_t)chunks * sizeof(double)));
#pragma omp parallel for if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t k = 0; k < chunks; k++) {
    const int64_t end = (k + 1) * MSE_CHUNK < n ? (k + 1) * MSE_CHUNK : n;
    double s = 0;
    for (int64_t i = k * MSE_CHUNK; i < end; i++) s += dlc_mse_sq(xp[i], tp[i]);
    part[k] = s;
  }
  double sum = 0;
  for (int64_t k = 0; k < chunks; k++) sum += part[k];
  dlc_host_free(part);
  *(float *)loss->data = dlc_loss_finish(sum, (double)n, mean);
  return DLC_OK;
}

dlc_status dlc_op_mse_bwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *target,
                          dlc_reduction reduction, float dloss, dlc_tensor *dx) {
  const char *op = "mse_bwd";
  DLC_TRY(check_mse(ctx, x, target, reduction, op));
  DLC_TRY(dlc_check_f32(ctx, dx, "dx"));
  if (dx->numel != x->numel) {
    char a[96], b[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: dx %s and x %s differ in element count", op,
                    dlc_shape_str(dx, a, sizeof a), dlc_shape_str(x, b, sizeof b));
  }
  if (dx->device.kind != x->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "%s: dx is not on x's device", op);
  const int64_t n = x->numel;
  /* k in double first: a float numel would round above 2^24. */
  const float k = (float)(2.0 * (double)dloss / (reduction == DLC_REDUCE_MEAN ? (double)n : 1.0));
  if (dlc_on_cuda(x))
    return DLC_LAUNCH(ctx, op,
                      dlc_launch_mse_bwd(x->data, target->data, k, dx->data, n, ctx->stream));
  const float *xp = x->data, *tp = target->data;
  float *dp = dx->data;
#pragma omp parallel for if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t i = 0; i < n; i++) dp[i] = dlc_mse_grad(xp[i], tp[i], k, dp[i]);
  return DLC_OK;
}
