/* Activations forward/backward and the bias gradient: checks, then the CPU loop over the
 * bodies in kernels/activation.h or the CUDA launcher. */
#include "../../kernels/activation.h"
#include "ops/ops.h"

dlc_status dlc_check_act(dlc_ctx *ctx, dlc_act act) {
  if ((int)act < 0 || act >= DLC_ACT_COUNT)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "activation %d is not a dlc_act", (int)act);
  return DLC_OK;
}

/* Same element count and device as ref. */
dlc_status dlc_check_like(dlc_ctx *ctx, const dlc_tensor *ref, const dlc_tensor *t,
                          const char *what) {
  DLC_TRY(dlc_check_f32(ctx, t, what));
  if (t->numel != ref->numel) {
    char a[96], b[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s %s has %lld elements, expected %lld (%s)", what,
                    dlc_shape_str(t, a, sizeof a), (long long)t->numel, (long long)ref->numel,
                    dlc_shape_str(ref, b, sizeof b));
  }
  if (t->device.kind != ref->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "%s is on another device than its operands", what);
  return DLC_OK;
}

/* The CPU loops: one inlined copy per activation with `act` a constant, so the switch in
 * the body folds away and the loop vectorises (see dlc_omp_range). */
#define DLC_ACT_CPU_SWITCH(act, CALL)                                        \
  switch (act) {                                                             \
    case DLC_ACT_TANH: { const int A = DLC_K_ACT_TANH; CALL; break; }       \
    case DLC_ACT_SIGMOID: { const int A = DLC_K_ACT_SIGMOID; CALL; break; } \
    case DLC_ACT_RELU: { const int A = DLC_K_ACT_RELU; CALL; break; }       \
    case DLC_ACT_LEAKY_RELU: { const int A = DLC_K_ACT_LEAKY; CALL; break; } \
    default: { const int A = DLC_K_ACT_NONE; CALL; break; }                 \
  }
#define DLC_INLINE static inline __attribute__((always_inline))

DLC_INLINE void act_fwd_range(int act, float slope, const float *x, float *y, int64_t lo,
                              int64_t hi) {
  for (int64_t i = lo; i < hi; i++) y[i] = dlc_act_apply(act, slope, x[i]);
}

DLC_INLINE void act_grad_range(int act, float slope, const float *src, const float *dy,
                               float *dx, int64_t lo, int64_t hi, int accumulate) {
  for (int64_t i = lo; i < hi; i++) {
    float s = act == DLC_K_ACT_NONE ? 0.f : src[i];
    float g = dy[i] * dlc_act_grad(act, slope, s, s);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

DLC_INLINE void bias_act_rows(int act, float slope, const float *b, float *y, int64_t cols,
                              int64_t lo, int64_t hi) {
  for (int64_t r = lo; r < hi; r++) {
    float *yr = y + r * cols;
    if (b)
      for (int64_t c = 0; c < cols; c++) yr[c] = dlc_act_apply(act, slope, yr[c] + b[c]);
    else
      for (int64_t c = 0; c < cols; c++) yr[c] = dlc_act_apply(act, slope, yr[c]);
  }
}

void dlc_bias_act_cpu(dlc_ctx *ctx, dlc_act act, float slope, const float *b, float *y,
                      int64_t rows, int64_t cols) {
#pragma omp parallel if (rows * cols > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  {
    int64_t lo, hi;
    dlc_omp_range(rows, &lo, &hi);
    DLC_ACT_CPU_SWITCH(act, bias_act_rows(A, slope, b, y, cols, lo, hi));
  }
}

dlc_status dlc_op_act_fwd(dlc_ctx *ctx, dlc_act act, float slope, const dlc_tensor *x,
                          dlc_tensor *y) {
  DLC_TRY(dlc_check_act(ctx, act));
  DLC_TRY(dlc_check_f32(ctx, x, "x"));
  DLC_TRY(dlc_check_like(ctx, x, y, "y"));
  if (dlc_on_cuda(y))
    return DLC_LAUNCH(ctx, "act_fwd",
                      dlc_launch_act_fwd((int)act, slope, x->data, y->data, y->numel, ctx->stream));
  const float *xp = x->data;
  float *yp = y->data;
  int64_t n = y->numel;
#pragma omp parallel if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
    DLC_ACT_CPU_SWITCH(act, act_fwd_range(A, slope, xp, yp, lo, hi));
  }
  return DLC_OK;
}

/* dx (+)= dy * act'(x, y); the pointer act' does not read may be NULL. */
dlc_status dlc_act_grad_run(dlc_ctx *ctx, dlc_act act, float slope, const float *x,
                            const float *y, const float *dy, float *dx, int64_t n, int accumulate,
                            int on_cuda) {
  if (on_cuda)
    return DLC_LAUNCH(ctx, "act_bwd",
                      dlc_launch_act_bwd((int)act, slope, x, y, dy, dx, n, accumulate, ctx->stream));
  const float *src = dlc_act_grad_needs_x((int)act) ? x : y;
#pragma omp parallel if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
    if (accumulate)
      DLC_ACT_CPU_SWITCH(act, act_grad_range(A, slope, src, dy, dx, lo, hi, 1))
    else
      DLC_ACT_CPU_SWITCH(act, act_grad_range(A, slope, src, dy, dx, lo, hi, 0))
  }
  return DLC_OK;
}

dlc_status dlc_op_act_bwd(dlc_ctx *ctx, dlc_act act, float slope, const dlc_tensor *x,
                          const dlc_tensor *y, const dlc_tensor *dy, dlc_tensor *dx) {
  DLC_TRY(dlc_check_act(ctx, act));
  DLC_TRY(dlc_check_f32(ctx, dy, "dy"));
  DLC_TRY(dlc_check_like(ctx, dy, dx, "dx"));
  const dlc_tensor *src = dlc_act_grad_needs_x((int)act) ? x : y;
  if (act != DLC_ACT_NONE) DLC_TRY(dlc_check_like(ctx, dy, src, src == x ? "x" : "y"));
  return dlc_act_grad_run(ctx, act, slope, act != DLC_ACT_NONE && src == x ? x->data : NULL,
                          act != DLC_ACT_NONE && src == y ? y->data : NULL, dy->data, dx->data,
                          dx->numel, 1, dlc_on_cuda(dx));
}

dlc_status dlc_op_bias_grad(dlc_ctx *ctx, const dlc_tensor *dz, dlc_tensor *db) {
  DLC_TRY(dlc_check_f32(ctx, dz, "dz"));
  DLC_TRY(dlc_check_f32(ctx, db, "db"));
  int64_t cols = db->numel;
  if (dz->ndim < 1 || dz->shape[dz->ndim - 1] != cols || db->device.kind != dz->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "bias gradient: dz's last dimension must equal db's %lld elements",
                    (long long)cols);
  int64_t rows = dz->numel / cols;
  if (dlc_on_cuda(db))
    return DLC_LAUNCH(ctx, "bias_grad", dlc_launch_bias_grad(dz->data, db->data, rows, cols, ctx->stream));
  const float *z = dz->data;
  float *b = db->data;
  /* Each thread owns whole columns, summed in row order in double (as the CUDA kernel
   * does): deterministic for any thread count, and exact to float rounding for any batch. */
#pragma omp parallel for if (rows * cols > DLC_OMP_MIN_WORK && cols > 1) num_threads(dlc_cpu_threads(ctx))
  for (int64_t c = 0; c < cols; c++) {
    double s = 0.0;
    for (int64_t r = 0; r < rows; r++) s += z[r * cols + c];
    b[c] = (float)((double)b[c] + s);
  }
  return DLC_OK;
}
