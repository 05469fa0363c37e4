/* Random fills from the counter-based generator. Compiled with -ffp-contract=off so that
 * the shared Philox bodies give the same bits here as in the CUDA kernel. */
#include "../../kernels/random.h"
#include "../../kernels/philox.h"
#include "core/core_ops.h"

static dlc_status rand_fill(dlc_ctx *ctx, dlc_tensor *y, int normal, float p0, float p1) {
  DLC_TRY(dlc_check_f32(ctx, y, "y"));
  int64_t n = y->numel;
  uint64_t block0 = ctx->rng_offset, seed = ctx->opts.seed;
  ctx->rng_offset += (uint64_t)(n + 3) / 4;
  if (dlc_on_cuda(y))
    return DLC_LAUNCH(ctx, normal ? "rand_normal" : "rand_uniform",
                      dlc_launch_rand(normal, p0, p1, seed, block0, (float *)y->data, n,
                                      ctx->stream));
  float *yp = (float *)y->data;
  int64_t nblocks = (n + 3) / 4;
#pragma omp parallel for if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t b = 0; b < nblocks; b++) {
    float v[4];
    if (normal)
      dlc_rand_normal4(block0 + (uint64_t)b, seed, p0, p1, v);
    else
      dlc_rand_uniform4(block0 + (uint64_t)b, seed, p0, p1, v);
    for (int64_t k = 0; k < 4 && b * 4 + k < n; k++) yp[b * 4 + k] = v[k];
  }
  return DLC_OK;
}

dlc_status dlc_op_rand_uniform(dlc_ctx *ctx, dlc_tensor *y, float lo, float hi) {
  if (!(lo < hi))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "uniform range [%g, %g) is empty", lo, hi);
  return rand_fill(ctx, y, 0, lo, hi);
}

dlc_status dlc_op_rand_normal(dlc_ctx *ctx, dlc_tensor *y, float mean, float std) {
  if (!(std >= 0.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "normal std %g must be >= 0", std);
  return rand_fill(ctx, y, 1, mean, std);
}

dlc_status dlc_tensor_rand_uniform(dlc_ctx *ctx, dlc_tensor *t, float lo, float hi) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  return dlc_op_rand_uniform(ctx, t, lo, hi);
}

dlc_status dlc_tensor_rand_normal(dlc_ctx *ctx, dlc_tensor *t, float mean, float std) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  return dlc_op_rand_normal(ctx, t, mean, std);
}
