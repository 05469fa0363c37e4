/* Dropout with its mask regenerated from the generator position (kernels/dropout.h). */
#include "../../kernels/dropout.h"
#include "ops/ops.h"

static dlc_status check_p(dlc_ctx *ctx, float p) {
  if (!(p >= 0.f && p <= 1.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "dropout probability %g is not in [0, 1]", p);
  return DLC_OK;
}

/* out = in * m (backward = 0) or out += in * m (backward = 1). */
static dlc_status dropout_run(dlc_ctx *ctx, int backward, float p, uint64_t block0,
                              const dlc_tensor *in, dlc_tensor *out) {
  float scale = p < 1.f ? 1.f / (1.f - p) : 0.f; /* p = 1 drops everything */
  uint64_t seed = ctx->opts.seed;
  int64_t n = out->numel;
  if (dlc_on_cuda(out))
    return DLC_LAUNCH(ctx, "dropout", dlc_launch_dropout(backward, p, scale, seed, block0, in->data,
                                                        out->data, n, ctx->stream));
  const float *ip = in->data;
  float *op = out->data;
  int64_t nblocks = (n + 3) / 4;
#pragma omp parallel for if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t b = 0; b < nblocks; b++) {
    float m[4];
    dlc_dropout_scale4(block0 + (uint64_t)b, seed, p, scale, m);
    for (int64_t k = 0; k < 4 && b * 4 + k < n; k++) {
      float v = ip[b * 4 + k] * m[k];
      op[b * 4 + k] = backward ? op[b * 4 + k] + v : v;
    }
  }
  return DLC_OK;
}

dlc_status dlc_op_dropout_fwd(dlc_ctx *ctx, float p, int train, const dlc_tensor *x,
                              dlc_tensor *y, uint64_t *offset) {
  DLC_TRY(check_p(ctx, p));
  DLC_TRY(dlc_check_f32(ctx, x, "x"));
  DLC_TRY(dlc_check_like(ctx, x, y, "y"));
  DLC_CHECK_NULL(ctx, offset);
  *offset = ctx->rng_offset;
  if (!train || p == 0.f) return x->data == y->data ? DLC_OK : dlc_op_copy(ctx, x, y);
  ctx->rng_offset += (uint64_t)(y->numel + 3) / 4;
  return dropout_run(ctx, 0, p, *offset, x, y);
}

dlc_status dlc_op_dropout_bwd(dlc_ctx *ctx, float p, uint64_t offset, const dlc_tensor *dy,
                              dlc_tensor *dx) {
  DLC_TRY(check_p(ctx, p));
  DLC_TRY(dlc_check_f32(ctx, dy, "dy"));
  DLC_TRY(dlc_check_like(ctx, dy, dx, "dx"));
  if (p == 0.f) return dlc_op_axpy(ctx, 1.f, dy, dx);
  return dropout_run(ctx, 1, p, offset, dy, dx);
}
