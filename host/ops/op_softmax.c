/* Softmax and log-softmax over the last dimension, forward and backward: argument checks,
 * then a CPU loop per row over the bodies of kernels/softmax.h, or the CUDA launcher. */
#include <math.h>

#include "../../kernels/softmax.h"
#include "ops/ops.h"

/* Rows of the last dimension: a scalar is one row of one element. */
static void row_split(const dlc_tensor *t, int64_t *rows, int64_t *C) {
  *C = t->ndim > 0 ? t->shape[t->ndim - 1] : 1;
  *rows = t->numel / *C;
}

static dlc_status same_size(dlc_ctx *ctx, const dlc_tensor *a, const char *an,
                            const dlc_tensor *b, const char *bn, const char *op) {
  if (a->numel != b->numel) {
    char sa[96], sb[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: %s %s and %s %s differ in element count", op, an,
                    dlc_shape_str(a, sa, sizeof sa), bn, dlc_shape_str(b, sb, sizeof sb));
  }
  if (a->device.kind != b->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "%s: %s and %s are on different devices", op, an, bn);
  return DLC_OK;
}

static dlc_status check_row_length(dlc_ctx *ctx, const dlc_tensor *t, int64_t C, const char *op) {
  if (dlc_on_cuda(t) && C > INT32_MAX)
    return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s: rows of %lld elements exceed the kernels' %d",
                    op, (long long)C, INT32_MAX);
  return DLC_OK;
}

/* One row: m = max, s = sum exp(x - m) (in double), then y = dlc_softmax_out. Softmax keeps
 * exp(x - m) in y from the sum pass and scales it (the same bits as dlc_softmax_out, one exp
 * per element instead of two). y may be x: each y_c is written after the last read of x_c. */
static void softmax_row(const float *x, float *y, int64_t C, int lg) {
  float m = -INFINITY;
  for (int64_t c = 0; c < C; c++) m = fmaxf(m, x[c]);
  double s = 0;
  if (lg) {
    for (int64_t c = 0; c < C; c++) s += expf(x[c] - m);
    const float scale = dlc_softmax_scale((float)s, 1);
    for (int64_t c = 0; c < C; c++) y[c] = dlc_softmax_out(x[c], m, scale, 1);
  } else {
    for (int64_t c = 0; c < C; c++) {
      y[c] = expf(x[c] - m);
      s += y[c];
    }
    const float scale = dlc_softmax_scale((float)s, 0);
    for (int64_t c = 0; c < C; c++) y[c] *= scale;
  }
}

dlc_status dlc_op_softmax_fwd(dlc_ctx *ctx, int log_softmax, const dlc_tensor *x, dlc_tensor *y) {
  DLC_TRY(dlc_check_f32(ctx, x, "x"));
  DLC_TRY(dlc_check_f32(ctx, y, "y"));
  DLC_TRY(same_size(ctx, x, "x", y, "y", "softmax_fwd"));
  int64_t rows, C;
  row_split(x, &rows, &C);
  DLC_TRY(check_row_length(ctx, x, C, "softmax_fwd"));
  const int lg = log_softmax != 0;
  if (dlc_on_cuda(x))
    return DLC_LAUNCH(ctx, lg ? "log_softmax_fwd" : "softmax_fwd",
                      dlc_launch_softmax_fwd(lg, x->data, y->data, rows, C, ctx->stream));
  const float *xp = x->data;
  float *yp = y->data;
#pragma omp parallel for if (x->numel > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t r = 0; r < rows; r++) softmax_row(xp + r * C, yp + r * C, C, lg);
  return DLC_OK;
}

dlc_status dlc_op_softmax_bwd(dlc_ctx *ctx, int log_softmax, const dlc_tensor *y,
                              const dlc_tensor *dy, dlc_tensor *dx) {
  DLC_TRY(dlc_check_f32(ctx, y, "y"));
  DLC_TRY(dlc_check_f32(ctx, dy, "dy"));
  DLC_TRY(dlc_check_f32(ctx, dx, "dx"));
  DLC_TRY(same_size(ctx, y, "y", dy, "dy", "softmax_bwd"));
  DLC_TRY(same_size(ctx, y, "y", dx, "dx", "softmax_bwd"));
  int64_t rows, C;
  row_split(y, &rows, &C);
  DLC_TRY(check_row_length(ctx, y, C, "softmax_bwd"));
  const int lg = log_softmax != 0;
  if (dlc_on_cuda(y))
    return DLC_LAUNCH(ctx, lg ? "log_softmax_bwd" : "softmax_bwd",
                      dlc_launch_softmax_bwd(lg, y->data, dy->data, dx->data, rows, C,
                                             ctx->stream));
  const float *yp = y->data, *dyp = dy->data;
  float *dxp = dx->data;
#pragma omp parallel for if (y->numel > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t r = 0; r < rows; r++) {
    const float *yr = yp + r * C, *dyr = dyp + r * C;
    float *dxr = dxp + r * C;
    double red = 0;
    for (int64_t c = 0; c < C; c++) red += dlc_softmax_bwd_term(yr[c], dyr[c], lg);
    for (int64_t c = 0; c < C; c++)
      dxr[c] = dlc_softmax_bwd_out(yr[c], dyr[c], dxr[c], (float)red, lg);
  }
  return DLC_OK;
}
