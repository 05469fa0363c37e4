/* Layer normalisation with PyTorch's semantics (nn.LayerNorm, F.layer_norm): every row of
 * the last D values is normalised by its own mean and biased variance,
 * y = (x - mean) / sqrt(var + eps) * weight + bias; the same in training and evaluation. */
#include <math.h>

#include "../../kernels/layernorm.h"
#include "ops/ops.h"

/* x holds R rows of D: checks the row length and returns R. */
static dlc_status ln_rows(dlc_ctx *ctx, const dlc_tensor *x, int64_t D, int64_t *R) {
  DLC_TRY(dlc_check_f32(ctx, x, "x"));
  char a[96];
  if (D < 1 || x->ndim < 1 || x->numel % D != 0 || x->numel == 0)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "layernorm: input %s does not split into rows of %lld values",
                    dlc_shape_str(x, a, sizeof a), (long long)D);
  *R = x->numel / D;
  return DLC_OK;
}

/* t (NULL allowed when optional) holds n floats on x's device. */
static dlc_status check_vec(dlc_ctx *ctx, const dlc_tensor *t, int64_t n, const dlc_tensor *x, const char *what,
                            int optional) {
  if (!t) return optional ? DLC_OK : DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "layernorm: %s is NULL", what);
  DLC_TRY(dlc_check_f32(ctx, t, what));
  if (t->numel != n || t->device.kind != x->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "layernorm: %s must hold %lld floats on the input's device (has %lld)", what,
                    (long long)n, (long long)t->numel);
  return DLC_OK;
}

int64_t dlc_op_layernorm_scratch_floats(int64_t D) { return D > 0 ? dlc_ln_scratch_floats(D) : 0; }

dlc_status dlc_op_layernorm_fwd(dlc_ctx *ctx, const dlc_tensor *x, int64_t D, const dlc_tensor *weight,
                                const dlc_tensor *bias, float eps, dlc_tensor *y, dlc_tensor *save_mean,
                                dlc_tensor *save_rstd) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  int64_t R;
  DLC_TRY(ln_rows(ctx, x, D, &R));
  DLC_TRY(dlc_check_like(ctx, x, y, "y"));
  DLC_TRY(check_vec(ctx, weight, D, x, "weight", 1));
  DLC_TRY(check_vec(ctx, bias, D, x, "bias", 1));
  DLC_TRY(check_vec(ctx, save_mean, R, x, "save_mean", 0));
  DLC_TRY(check_vec(ctx, save_rstd, R, x, "save_rstd", 0));
  if (!(eps > 0.f)) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "layernorm: eps %g must be > 0", eps);
  const float *w = weight ? weight->data : NULL, *b = bias ? bias->data : NULL;
  float *mean = save_mean->data, *rstd = save_rstd->data;
  if (dlc_on_cuda(x))
    return DLC_LAUNCH(ctx, "ln_forward",
                      dlc_launch_ln_forward(x->data, y->data, R, D, w, b, eps, mean, rstd, ctx->stream));
  const float *xp = x->data;
  float *yp = y->data;
#pragma omp parallel for if (R * D > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t r = 0; r < R; r++) {
    const float *xr = xp + r * D;
    float *yr = yp + r * D;
    double s = 0, q = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t d = 0; d < D; d++) s += xr[d];
    double m = s / (double)D;
#pragma omp simd reduction(+ : q)
    for (int64_t d = 0; d < D; d++) q += (xr[d] - m) * (xr[d] - m);
    float mf = (float)m, rf = (float)(1.0 / sqrt(q / (double)D + eps));
    mean[r] = mf;
    rstd[r] = rf;
    for (int64_t d = 0; d < D; d++) yr[d] = dlc_ln_apply(xr[d], mf, rf, w ? w[d] : 1.f, b ? b[d] : 0.f);
  }
  return DLC_OK;
}

dlc_status dlc_op_layernorm_bwd(dlc_ctx *ctx, const dlc_tensor *x, int64_t D, const dlc_tensor *weight,
                                const dlc_tensor *save_mean, const dlc_tensor *save_rstd, const dlc_tensor *dy,
                                dlc_tensor *dx, dlc_tensor *dweight, dlc_tensor *dbias, dlc_tensor *scratch) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  int64_t R;
  DLC_TRY(ln_rows(ctx, x, D, &R));
  DLC_TRY(dlc_check_like(ctx, x, dy, "dy"));
  if (dx) DLC_TRY(dlc_check_like(ctx, x, dx, "dx"));
  DLC_TRY(check_vec(ctx, weight, D, x, "weight", 1));
  DLC_TRY(check_vec(ctx, save_mean, R, x, "save_mean", 0));
  DLC_TRY(check_vec(ctx, save_rstd, R, x, "save_rstd", 0));
  DLC_TRY(check_vec(ctx, dweight, D, x, "dweight", 1));
  DLC_TRY(check_vec(ctx, dbias, D, x, "dbias", 1));
  const float *w = weight ? weight->data : NULL, *mean = save_mean->data, *rstd = save_rstd->data;
  float *dw = dweight ? dweight->data : NULL, *db = dbias ? dbias->data : NULL;
  if (dlc_on_cuda(x)) {
    int64_t need = 2 * D * dlc_ln_splits(R);
    if ((dw || db) && (!scratch || dlc_check_f32(ctx, scratch, "scratch") != DLC_OK || scratch->numel < need ||
                       !dlc_on_cuda(scratch)))
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "layernorm backward: scratch needs %lld floats on the device",
                      (long long)need);
    return DLC_LAUNCH(ctx, "ln_backward",
                      dlc_launch_ln_backward(x->data, dy->data, dx ? dx->data : NULL, R, D, w, mean, rstd, dw, db,
                                             scratch ? scratch->data : NULL, ctx->stream));
  }
  const float *xp = x->data, *dyp = dy->data;
  float *dxp = dx ? dx->data : NULL;
  if (dxp) {
#pragma omp parallel for if (R * D > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
    for (int64_t r = 0; r < R; r++) {
      const float *xr = xp + r * D, *dyr = dyp + r * D;
      float m = mean[r], rs = rstd[r], a = 0.f, c = 0.f;
#pragma omp simd reduction(+ : a, c)
      for (int64_t d = 0; d < D; d++) {
        float g = dyr[d] * (w ? w[d] : 1.f);
        a += g;
        c += g * (xr[d] - m) * rs;
      }
      float mg = a / (float)D, mgx = c / (float)D;
      for (int64_t d = 0; d < D; d++) dxp[r * D + d] += dlc_ln_grad(xr[d], dyr[d] * (w ? w[d] : 1.f), m, rs, mg, mgx);
    }
  }
  /* Column sums over the rows, in row order (vectorised across the columns). */
  for (int64_t r = 0; r < R && (dw || db); r++) {
    const float *xr = xp + r * D, *dyr = dyp + r * D;
    float m = mean[r], rs = rstd[r];
    if (dw)
      for (int64_t d = 0; d < D; d++) dw[d] += dyr[d] * (xr[d] - m) * rs;
    if (db)
      for (int64_t d = 0; d < D; d++) db[d] += dyr[d];
  }
  return DLC_OK;
}
