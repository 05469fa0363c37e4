/* Dense (fully connected) forward and backward: one GEMM, then bias and activation fused in
 * one pass; backward: the activation gradient, then three GEMM-shaped reductions. */
#include "../../kernels/activation.h"
#include "ops/ops.h"

static dlc_status check_dense(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *w,
                              const dlc_tensor *b, const dlc_tensor *y, int64_t *N, int64_t *in,
                              int64_t *out) {
  DLC_TRY(dlc_check_f32(ctx, x, "x"));
  DLC_TRY(dlc_check_f32(ctx, w, "w"));
  DLC_TRY(dlc_check_f32(ctx, y, "y"));
  char a[96], c[96];
  if (w->ndim != 2)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "dense: weight %s must be [out, in]", dlc_shape_str(w, a, sizeof a));
  *out = w->shape[0];
  *in = w->shape[1];
  if (x->ndim < 1 || x->shape[x->ndim - 1] != *in)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "dense: input %s does not end in in_features = %lld (weight %s)",
                    dlc_shape_str(x, a, sizeof a), (long long)*in, dlc_shape_str(w, c, sizeof c));
  *N = x->numel / *in;
  if (y->numel != *N * *out)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "dense: output %s must hold %lld x %lld", dlc_shape_str(y, a, sizeof a),
                    (long long)*N, (long long)*out);
  if (b) {
    DLC_TRY(dlc_check_f32(ctx, b, "b"));
    if (b->numel != *out)
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "dense: bias %s must have out_features = %lld elements",
                      dlc_shape_str(b, a, sizeof a), (long long)*out);
  }
  if (w->device.kind != x->device.kind || y->device.kind != x->device.kind ||
      (b && b->device.kind != x->device.kind))
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "dense: x, w, b and y must be on one device");
  return DLC_OK;
}

dlc_status dlc_op_dense_fwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *w,
                            const dlc_tensor *b, dlc_act act, float slope, dlc_tensor *y) {
  int64_t N = 0, in = 0, out = 0;
  DLC_TRY(dlc_check_act(ctx, act));
  DLC_TRY(check_dense(ctx, x, w, b, y, &N, &in, &out));
  DLC_TRY(dlc_op_gemm(ctx, x->device, 0, 1, N, out, in, 1.f, x->data, in, w->data, in, 0.f,
                      y->data, out));
  if (!b && act == DLC_ACT_NONE) return DLC_OK;
  const float *bp = b ? b->data : NULL;
  if (dlc_on_cuda(y))
    return DLC_LAUNCH(ctx, "bias_act_fwd",
                      dlc_launch_bias_act_fwd((int)act, slope, bp, y->data, N, out, ctx->stream));
  dlc_bias_act_cpu(ctx, act, slope, bp, y->data, N, out);
  return DLC_OK;
}

dlc_status dlc_op_dense_bwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *w,
                            const dlc_tensor *y, const dlc_tensor *dy, dlc_act act, float slope,
                            dlc_tensor *dz, dlc_tensor *dx, dlc_tensor *dw, dlc_tensor *db) {
  int64_t N = 0, in = 0, out = 0;
  DLC_TRY(dlc_check_act(ctx, act));
  DLC_TRY(check_dense(ctx, x, w, db, y, &N, &in, &out));
  DLC_TRY(dlc_check_like(ctx, y, dy, "dy"));
  DLC_TRY(dlc_check_like(ctx, w, dw, "dw"));
  if (dx) DLC_TRY(dlc_check_like(ctx, x, dx, "dx"));
  if (act == DLC_ACT_LEAKY_RELU && !(slope >= 0.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG,
                    "dense backward: leaky ReLU slope %g < 0 cannot be recovered from the output", slope);
  const float *z = dy->data;
  if (act != DLC_ACT_NONE) {
    DLC_TRY(dlc_check_like(ctx, y, dz, "dz"));
    /* With slope >= 0, y > 0 exactly when x > 0, so y stands in for x in act'. */
    DLC_TRY(dlc_act_grad_run(ctx, act, slope, y->data, y->data, dy->data, dz->data, dz->numel, 0,
                             dlc_on_cuda(dz)));
    z = dz->data;
  }
  dlc_device dev = x->device;
  DLC_TRY(dlc_op_gemm(ctx, dev, 1, 0, out, in, N, 1.f, z, out, x->data, in, 1.f, dw->data, in));
  if (db) {
    dlc_tensor zt;
    int64_t shape[2] = {N, out};
    DLC_TRY(dlc_tensor_borrow(ctx, &zt, (void *)z, DLC_F32, 2, shape, dev));
    DLC_TRY(dlc_op_bias_grad(ctx, &zt, db));
  }
  if (dx)
    DLC_TRY(dlc_op_gemm(ctx, dev, 0, 0, N, in, out, 1.f, z, out, w->data, in, 1.f, dx->data, in));
  return DLC_OK;
}
