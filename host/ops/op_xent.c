/* Softmax cross-entropy with integer labels, PyTorch's nn.CrossEntropyLoss: class weights,
 * label smoothing, an ignored label, mean or sum. Argument checks, then a CPU loop per row
 * over the bodies of kernels/loss.h and kernels/softmax.h, or the CUDA launchers.
 *
 * With logp = log_softmax(logits), w_c the class weights (1 without), t_i the labels:
 *   loss_i = (1 - eps) (-w_t logp_{i,t}) + (eps / C) (-sum_c w_c logp_{i,c}), 0 if ignored
 *   loss   = sum_i loss_i, or for MEAN sum_i loss_i / sum_i w_{t_i} over counted rows. */
#include <math.h>

#include "../../kernels/loss.h"
#include "../../kernels/softmax.h"
#include "ops/ops.h"

dlc_xent_opts dlc_xent_opts_default(void) {
  dlc_xent_opts o;
  o.class_weight = NULL;
  o.label_smoothing = 0.f;
  o.ignore_index = -100;
  o.reduction = DLC_REDUCE_MEAN;
  return o;
}

static dlc_status check_i32(dlc_ctx *ctx, const dlc_tensor *t, const char *what, const char *op) {
  if (t == NULL) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: %s is NULL", op, what);
  if (t->data == NULL) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: %s has no data", op, what);
  if (t->dtype != DLC_I32)
    return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s: %s is %s; labels are int32", op, what,
                    dlc_dtype_name(t->dtype));
  return dlc_check_device(ctx, t->device);
}

/* t holds n elements on the device of `ref`. */
static dlc_status check_like(dlc_ctx *ctx, const dlc_tensor *t, int64_t n, const char *what,
                             const dlc_tensor *ref, const char *op) {
  if (t->numel != n) {
    char s[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: %s %s has %lld elements, %lld expected", op, what,
                    dlc_shape_str(t, s, sizeof s), (long long)t->numel, (long long)n);
  }
  if (t->device.kind != ref->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "%s: %s is not on the logits' device", op, what);
  return DLC_OK;
}

/* x is [N, C]; labels [N] int32; the options are valid for C classes on x's device. */
static dlc_status check_rows(dlc_ctx *ctx, const dlc_tensor *x, const char *xname,
                             const dlc_tensor *labels, const dlc_xent_opts *o, const char *op,
                             int64_t *rows, int64_t *C) {
  DLC_TRY(dlc_check_f32(ctx, x, xname));
  if (x->ndim != 2) {
    char s[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: %s is %s; it must be [N, C]", op, xname,
                    dlc_shape_str(x, s, sizeof s));
  }
  *rows = x->shape[0];
  *C = x->shape[1];
  if (dlc_on_cuda(x) && *C > INT32_MAX)
    return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s: %lld classes exceed the kernels' %d", op,
                    (long long)*C, INT32_MAX);
  DLC_TRY(check_i32(ctx, labels, "labels", op));
  DLC_TRY(check_like(ctx, labels, *rows, "labels", x, op));
  if (!(o->label_smoothing >= 0.f && o->label_smoothing <= 1.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: label_smoothing %g is outside [0, 1]", op,
                    (double)o->label_smoothing);
  if (o->reduction != DLC_REDUCE_MEAN && o->reduction != DLC_REDUCE_SUM)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: reduction %d is not MEAN or SUM", op,
                    (int)o->reduction);
  if (o->class_weight) {
    const dlc_tensor *w = o->class_weight;
    DLC_TRY(dlc_check_f32(ctx, w, "class_weight"));
    if (w->ndim != 1 || w->shape[0] != *C) {
      char s[96];
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: class_weight is %s; it must be [%lld], one per class",
                      op, dlc_shape_str(w, s, sizeof s), (long long)*C);
    }
    DLC_TRY(check_like(ctx, w, *C, "class_weight", x, op));
  }
  return DLC_OK;
}

/* The CPU's label check: a label out of [0, C) that is not ignore_index is an error naming
 * the first such row. (The GPU cannot check without a synchronisation: it yields NaN.) */
static dlc_status check_labels(dlc_ctx *ctx, const int32_t *labels, int64_t rows, int64_t C,
                               int ignore, const char *op) {
  for (int64_t r = 0; r < rows; r++) {
    const int32_t t = labels[r];
    if (t != ignore && (t < 0 || t >= C))
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG,
                      "%s: label %d at row %lld is outside [0, %lld) and is not ignore_index (%d)",
                      op, (int)t, (long long)r, (long long)C, ignore);
  }
  return DLC_OK;
}

static dlc_xent_params launch_params(const dlc_tensor *labels, const dlc_xent_opts *o) {
  dlc_xent_params p;
  p.labels = labels->data;
  p.class_w = o->class_weight ? o->class_weight->data : NULL;
  p.eps = o->label_smoothing;
  p.ignore_index = o->ignore_index;
  p.mean = o->reduction == DLC_REDUCE_MEAN;
  return p;
}

/* Scratch from the caching allocator: freed right after the launch, which is safe because
 * the context has one stream and the next user of the block queues behind these kernels. */
static dlc_status scratch_alloc(dlc_ctx *ctx, size_t bytes, void **p) {
  *p = NULL;
  return bytes ? dlc_device_alloc(ctx, p, bytes) : DLC_OK;
}

dlc_status dlc_op_softmax_xent_fwd(dlc_ctx *ctx, const dlc_tensor *logits,
                                   const dlc_tensor *labels, const dlc_xent_opts *opts,
                                   dlc_tensor *logp, dlc_tensor *row_w, dlc_tensor *loss) {
  const char *op = "softmax_xent_fwd";
  const dlc_xent_opts o = opts ? *opts : dlc_xent_opts_default();
  int64_t rows, C;
  DLC_TRY(check_rows(ctx, logits, "logits", labels, &o, op, &rows, &C));
  DLC_TRY(dlc_check_f32(ctx, logp, "logp"));
  DLC_TRY(dlc_check_f32(ctx, row_w, "row_w"));
  DLC_TRY(dlc_check_f32(ctx, loss, "loss"));
  DLC_TRY(check_like(ctx, logp, logits->numel, "logp", logits, op));
  DLC_TRY(check_like(ctx, row_w, rows, "row_w", logits, op));
  DLC_TRY(check_like(ctx, loss, 1, "loss", logits, op));

  if (dlc_on_cuda(logits)) {
    void *scratch;
    DLC_TRY(scratch_alloc(ctx, DLC_CUDA_ONLY(dlc_xent_fwd_scratch_bytes(rows, C), 0), &scratch));
    dlc_status s = DLC_LAUNCH(ctx, op,
                              dlc_launch_xent_fwd(launch_params(labels, &o), logits->data,
                                                  logp->data, row_w->data, loss->data, rows, C,
                                                  scratch, ctx->stream));
    dlc_device_free(ctx, scratch);
    return s;
  }

  const int32_t *lab = labels->data;
  DLC_TRY(check_labels(ctx, lab, rows, C, o.ignore_index, op));
  const float *x = logits->data, *cw = o.class_weight ? o.class_weight->data : NULL;
  float *lp = logp->data, *rw = row_w->data, *row_loss;
  const float eps = o.label_smoothing;
  DLC_TRY(dlc_host_alloc(ctx, (void **)&row_loss, (size_t)rows * sizeof(float)));
#pragma omp parallel for if (logits->numel > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * C;
    float *lr = lp + r * C;
    float m = -INFINITY;
    for (int64_t c = 0; c < C; c++) m = fmaxf(m, xr[c]);
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += expf(xr[c] - m);
    const float scale = dlc_softmax_scale((float)s, 1);
    for (int64_t c = 0; c < C; c++) lr[c] = dlc_softmax_out(xr[c], m, scale, 1);
    const int t = lab[r], ignored = t == o.ignore_index;
    double ws = 0;
    if (eps != 0.f)
      for (int64_t c = 0; c < C; c++) ws += (double)(cw ? cw[c] : 1.f) * lr[c];
    rw[r] = dlc_xent_label_weight(t, C, o.ignore_index, cw);
    row_loss[r] = dlc_xent_row_loss(ignored, ignored ? 0.f : lr[t], rw[r], (float)ws, eps, C);
  }
  /* Added in row order, so the result does not depend on the thread count. */
  double sum = 0, den = 0;
  for (int64_t r = 0; r < rows; r++) {
    sum += row_loss[r];
    den += rw[r];
  }
  dlc_host_free(row_loss);
  *(float *)loss->data = dlc_loss_finish(sum, den, o.reduction == DLC_REDUCE_MEAN);
  return DLC_OK;
}

dlc_status dlc_op_softmax_xent_bwd(dlc_ctx *ctx, const dlc_tensor *logp,
                                   const dlc_tensor *labels, const dlc_tensor *row_w,
                                   const dlc_xent_opts *opts, float dloss, dlc_tensor *dlogits) {
  const char *op = "softmax_xent_bwd";
  const dlc_xent_opts o = opts ? *opts : dlc_xent_opts_default();
  int64_t rows, C;
  DLC_TRY(check_rows(ctx, logp, "logp", labels, &o, op, &rows, &C));
  DLC_TRY(dlc_check_f32(ctx, row_w, "row_w"));
  DLC_TRY(dlc_check_f32(ctx, dlogits, "dlogits"));
  DLC_TRY(check_like(ctx, row_w, rows, "row_w", logp, op));
  DLC_TRY(check_like(ctx, dlogits, logp->numel, "dlogits", logp, op));

  if (dlc_on_cuda(logp)) {
    void *scratch;
    DLC_TRY(scratch_alloc(ctx, DLC_CUDA_ONLY(dlc_xent_bwd_scratch_bytes(rows, C), 0), &scratch));
    dlc_status s = DLC_LAUNCH(ctx, op,
                              dlc_launch_xent_bwd(launch_params(labels, &o), logp->data,
                                                  row_w->data, dloss, dlogits->data, rows, C,
                                                  scratch, ctx->stream));
    dlc_device_free(ctx, scratch);
    return s;
  }

  const int32_t *lab = labels->data;
  DLC_TRY(check_labels(ctx, lab, rows, C, o.ignore_index, op));
  const float *lp = logp->data, *rw = row_w->data;
  const float *cw = o.class_weight ? o.class_weight->data : NULL;
  float *dx = dlogits->data;
  double den = 0, wsum = cw ? 0 : (double)C;
  for (int64_t r = 0; r < rows; r++) den += rw[r];
  for (int64_t c = 0; cw && c < C; c++) wsum += cw[c];
  float a, b;
  dlc_xent_coefs(dloss, o.label_smoothing, C, den, o.reduction == DLC_REDUCE_MEAN, &a, &b);
  const float W = (float)wsum;
#pragma omp parallel for if (logp->numel > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
  for (int64_t r = 0; r < rows; r++) {
    const int t = lab[r];
    if (t == o.ignore_index) continue; /* ignored rows have no gradient */
    const float *lr = lp + r * C;
    float *dr = dx + r * C;
    for (int64_t c = 0; c < C; c++)
      dr[c] = dlc_xent_grad(lr[c], c == t, rw[r], cw ? cw[c] : 1.f, W, a, b, dr[c]);
  }
  return DLC_OK;
}
