/* Batch normalisation with PyTorch's semantics (nn.BatchNorm1d/2d): training normalises
 * with the batch's biased variance and moves the running estimates toward the batch's
 * mean and unbiased variance by `momentum`; evaluation uses the running estimates. */
#include <math.h>

#include "../../kernels/batchnorm.h"
#include "ops/ops.h"

/* x is [N, C] or [N, C, H, W]: N, C and S = H*W. */
static dlc_status bn_dims(dlc_ctx *ctx, const dlc_tensor *x, int64_t C, int64_t *N, int64_t *S) {
  char a[96];
  if ((x->ndim != 2 && x->ndim != 4) || x->shape[1] != C)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "batchnorm over %lld channels: input %s must be [N, %lld] or [N, %lld, H, W]",
                    (long long)C, dlc_shape_str(x, a, sizeof a), (long long)C, (long long)C);
  *N = x->shape[0];
  *S = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
  return DLC_OK;
}

static dlc_status check_channel(dlc_ctx *ctx, const dlc_tensor *t, int64_t C, const dlc_tensor *x,
                                const char *what) {
  DLC_TRY(dlc_check_f32(ctx, t, what));
  if (t->numel != C || t->device.kind != x->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "batchnorm: %s must hold %lld floats on the input's device", what, (long long)C);
  return DLC_OK;
}

/* Floats of scratch this call needs: backward's two sums (need_sums), and on CUDA the
 * partial results of every chunk (kernels/batchnorm.h). */
static dlc_status check_scratch(dlc_ctx *ctx, const dlc_tensor *scratch, const dlc_tensor *x, int64_t N,
                                int64_t C, int64_t S, int need_sums, const char *op) {
  int64_t need = (need_sums ? 2 * C : 0) + (dlc_on_cuda(x) ? 2 * C * dlc_bn_splits(N, C, S) : 0);
  if (need == 0) return DLC_OK;
  if (!scratch)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "batchnorm %s: scratch is NULL (%lld floats needed)", op, (long long)need);
  DLC_TRY(dlc_check_f32(ctx, scratch, "scratch"));
  if (scratch->numel < need || scratch->device.kind != x->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "batchnorm %s: scratch needs %lld floats on the input's device (has %lld)", op,
                    (long long)need, (long long)scratch->numel);
  return DLC_OK;
}

int64_t dlc_op_batchnorm_scratch_floats(int64_t C) { return C > 0 ? dlc_bn_scratch_floats(C) : 0; }

dlc_status dlc_op_batchnorm_fwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *gamma,
                                const dlc_tensor *beta, dlc_tensor *run_mean, dlc_tensor *run_var,
                                float momentum, float eps, int train, dlc_tensor *save_mean,
                                dlc_tensor *save_invstd, dlc_tensor *y, dlc_tensor *scratch) {
  DLC_TRY(dlc_check_f32(ctx, x, "x"));
  DLC_TRY(dlc_check_like(ctx, x, y, "y"));
  int64_t C = gamma ? gamma->numel : 0, N, S;
  DLC_TRY(bn_dims(ctx, x, C, &N, &S));
  const dlc_tensor *ch[6] = {gamma, beta, run_mean, run_var, save_mean, save_invstd};
  const char *names[6] = {"gamma", "beta", "running_mean", "running_var", "save_mean", "save_invstd"};
  for (int k = 0; k < 6; k++) DLC_TRY(check_channel(ctx, ch[k], C, x, names[k]));
  if (train && N * S < 2)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "batchnorm in training needs more than one value per channel (got %lld)",
                    (long long)(N * S));
  if (train) DLC_TRY(check_scratch(ctx, scratch, x, N, C, S, 0, "forward"));
  float *mean = save_mean->data, *inv = save_invstd->data, *rm = run_mean->data, *rv = run_var->data;
  if (dlc_on_cuda(x)) {
    /* Training: batch statistics (and running estimates updated); evaluation: the saved
     * statistics are the running ones. */
    DLC_TRY(DLC_LAUNCH(ctx, "bn_stats",
                       train ? dlc_launch_bn_stats(x->data, N, C, S, momentum, eps, rm, rv, mean, inv,
                                                   scratch->data, ctx->stream)
                             : dlc_launch_bn_eval_stats(rm, rv, C, eps, mean, inv, ctx->stream)));
    return DLC_LAUNCH(ctx, "bn_apply", dlc_launch_bn_apply(x->data, y->data, N, C, S, mean, inv,
                                                          gamma->data, beta->data, ctx->stream));
  }
  const float *xp = x->data, *g = gamma->data, *b = beta->data;
  float *yp = y->data;
#pragma omp parallel for if (N * C * S > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t c = 0; c < C; c++) {
    if (train) {
      /* omp simd: a vectorised sum (reassociated in a fixed way for a given build), where
       * a plain loop is one long chain of dependent adds. */
      double s = 0, q = 0;
      for (int64_t n = 0; n < N; n++) {
        const float *row = xp + (n * C + c) * S;
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < S; k++) s += row[k];
      }
      double m = s / (double)(N * S);
      for (int64_t n = 0; n < N; n++) {
        const float *row = xp + (n * C + c) * S;
#pragma omp simd reduction(+ : q)
        for (int64_t k = 0; k < S; k++) {
          double d = row[k] - m;
          q += d * d;
        }
      }
      double var = q / (double)(N * S);
      mean[c] = (float)m;
      inv[c] = (float)(1.0 / sqrt(var + eps));
      double unbiased = N * S > 1 ? var * (double)(N * S) / (double)(N * S - 1) : var;
      rm[c] = (1.f - momentum) * rm[c] + momentum * (float)m;
      rv[c] = (1.f - momentum) * rv[c] + momentum * (float)unbiased;
    } else {
      mean[c] = rm[c];
      inv[c] = 1.f / sqrtf(rv[c] + eps);
    }
    /* The channel's scalars in locals: y might alias them for the compiler, which would
     * then reload them per element instead of vectorising. */
    float mc = mean[c], ic = inv[c], gc = g[c], bc = b[c];
    for (int64_t n = 0; n < N; n++) {
      const float *xr = xp + (n * C + c) * S;
      float *yr = yp + (n * C + c) * S;
      for (int64_t k = 0; k < S; k++) yr[k] = dlc_bn_apply(xr[k], mc, ic, gc, bc);
    }
  }
  return DLC_OK;
}

dlc_status dlc_op_batchnorm_bwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *gamma,
                                const dlc_tensor *save_mean, const dlc_tensor *save_invstd,
                                const dlc_tensor *dy, dlc_tensor *dx, dlc_tensor *dgamma,
                                dlc_tensor *dbeta, dlc_tensor *scratch) {
  return dlc_op_batchnorm_bwd_mode(ctx, x, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta, scratch, 1);
}

dlc_status dlc_op_batchnorm_bwd_mode(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *gamma,
                                     const dlc_tensor *save_mean, const dlc_tensor *save_invstd,
                                     const dlc_tensor *dy, dlc_tensor *dx, dlc_tensor *dgamma,
                                     dlc_tensor *dbeta, dlc_tensor *scratch, int batch_stats) {
  DLC_TRY(dlc_check_f32(ctx, x, "x"));
  DLC_TRY(dlc_check_like(ctx, x, dy, "dy"));
  if (dx) DLC_TRY(dlc_check_like(ctx, x, dx, "dx"));
  int64_t C = gamma ? gamma->numel : 0, N, S;
  DLC_TRY(bn_dims(ctx, x, C, &N, &S));
  const dlc_tensor *ch[5] = {gamma, save_mean, save_invstd, dgamma, dbeta};
  const char *names[5] = {"gamma", "save_mean", "save_invstd", "dgamma", "dbeta"};
  for (int k = 0; k < 5; k++) DLC_TRY(check_channel(ctx, ch[k], C, x, names[k]));
  DLC_TRY(check_scratch(ctx, scratch, x, N, C, S, 1, "backward"));
  const float *mean = save_mean->data, *inv = save_invstd->data, *g = gamma->data;
  float *sums = scratch->data, *dg = dgamma->data, *db = dbeta->data;
  if (dlc_on_cuda(x))
    return DLC_LAUNCH(ctx, "bn_backward",
                      dlc_launch_bn_backward(x->data, dy->data, dx ? dx->data : NULL, N, C, S, mean, inv,
                                             g, sums, sums + 2 * C, dg, db, batch_stats != 0, ctx->stream));
  const float *xp = x->data, *dyp = dy->data;
  float *dxp = dx ? dx->data : NULL;
  float inv_m = batch_stats ? 1.f / (float)(N * S) : 0.f; /* eval: constant statistics */
#pragma omp parallel for if (N * C * S > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t c = 0; c < C; c++) {
    float a = 0.f, b = 0.f, mc = mean[c], ic = inv[c];
    for (int64_t n = 0; n < N; n++) {
      const float *dr = dyp + (n * C + c) * S, *xr = xp + (n * C + c) * S;
#pragma omp simd reduction(+ : a, b) /* vectorised sums, as in forward */
      for (int64_t k = 0; k < S; k++) {
        a += dr[k];
        b += dr[k] * (xr[k] - mc) * ic;
      }
    }
    sums[c] = a;
    sums[C + c] = b;
    dg[c] += b;
    db[c] += a;
    if (!dxp) continue;
    float gc = g[c], ma = a * inv_m, mb = b * inv_m; /* in locals, as in forward */
    for (int64_t n = 0; n < N; n++) {
      const float *dr = dyp + (n * C + c) * S, *xr = xp + (n * C + c) * S;
      float *dxr = dxp + (n * C + c) * S;
      for (int64_t k = 0; k < S; k++) dxr[k] += dlc_bn_grad(xr[k], dr[k], mc, ic, gc, ma, mb);
    }
  }
  return DLC_OK;
}
