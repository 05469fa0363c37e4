/* fill, scale, axpy, copy: argument checks, then the CPU loop over the
 * shared body or the CUDA launcher. */
#include "../../kernels/elementwise.h"
#include "core/core_ops.h"

dlc_status dlc_check_pair(dlc_ctx *ctx, const char *op, const dlc_tensor *a, const char *an,
                          const dlc_tensor *b, const char *bn) {
  DLC_TRY(dlc_check_f32(ctx, a, an));
  DLC_TRY(dlc_check_f32(ctx, b, bn));
  if (a->numel != b->numel) {
    char sa[96], sb[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: %s %s and %s %s differ in element count", op, an,
                    dlc_shape_str(a, sa, sizeof sa), bn, dlc_shape_str(b, sb, sizeof sb));
  }
  if (a->device.kind != b->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "%s: %s and %s are on different devices", op, an, bn);
  return DLC_OK;
}

static dlc_status check_pair(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *y,
                             const char *op) {
  return dlc_check_pair(ctx, op, x, "x", y, "y");
}

/* One inlined loop per op with `op` a constant, the switch inside the parallel region
 * (see dlc_omp_range), so each loop vectorises. */
static inline __attribute__((always_inline)) void ew_range(int op, float a, const float *x,
                                                           float *y, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++)
    y[i] = dlc_ew_apply(op, a, op == DLC_EW_FILL ? 0.f : x[i], op == DLC_EW_AXPY ? y[i] : 0.f);
}

static dlc_status ew(dlc_ctx *ctx, int op, float a, const dlc_tensor *x, dlc_tensor *y,
                     const char *name) {
  if (dlc_on_cuda(y))
    return DLC_LAUNCH(ctx, name,
                      dlc_launch_elementwise(op, a, x ? (const float *)x->data : NULL,
                                             (float *)y->data, y->numel, ctx->stream));
  const float *xp = x ? (const float *)x->data : NULL;
  float *yp = (float *)y->data;
  int64_t n = y->numel;
#pragma omp parallel if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
    switch (op) {
      case DLC_EW_FILL: ew_range(DLC_EW_FILL, a, xp, yp, lo, hi); break;
      case DLC_EW_SCALE: ew_range(DLC_EW_SCALE, a, xp, yp, lo, hi); break;
      case DLC_EW_AXPY: ew_range(DLC_EW_AXPY, a, xp, yp, lo, hi); break;
      default: ew_range(DLC_EW_COPY, a, xp, yp, lo, hi); break;
    }
  }
  return DLC_OK;
}

dlc_status dlc_op_fill(dlc_ctx *ctx, dlc_tensor *y, float value) {
  DLC_TRY(dlc_check_f32(ctx, y, "y"));
  return ew(ctx, DLC_EW_FILL, value, NULL, y, "fill");
}

dlc_status dlc_op_scale(dlc_ctx *ctx, float a, const dlc_tensor *x, dlc_tensor *y) {
  DLC_TRY(check_pair(ctx, x, y, "scale"));
  return ew(ctx, DLC_EW_SCALE, a, x, y, "scale");
}

dlc_status dlc_op_axpy(dlc_ctx *ctx, float a, const dlc_tensor *x, dlc_tensor *y) {
  DLC_TRY(check_pair(ctx, x, y, "axpy"));
  return ew(ctx, DLC_EW_AXPY, a, x, y, "axpy");
}

dlc_status dlc_op_copy(dlc_ctx *ctx, const dlc_tensor *x, dlc_tensor *y) {
  DLC_TRY(check_pair(ctx, x, y, "copy"));
  return ew(ctx, DLC_EW_COPY, 0.f, x, y, "copy");
}
