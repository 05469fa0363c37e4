/* The training and evaluation loops. Per batch: forward, loss, backward, optimizer step,
 * and metrics accumulated on the device; the host reads them every few batches (progress,
 * NaN check) and at the end, so the GPU is not stalled on every step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../kernels/metrics.h"
#include "nn/net_internal.h"

#define DLC_METRICS_EVERY 20 /* batches between host reads of the running metrics */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Rows of class scores per sample: 1, or T for a sequence of predictions. */
static int64_t rows_per_sample(const dlc_net *net) {
  const dlc_layer *last = &net->layers[net->nlayers - 1];
  return last->numel / last->shape[last->ndim - 1];
}

/* acc[0] += loss * samples, acc[1] += rows whose arg-max is their label (classification)
 * or the sum of |output - target| (regression), acc[2] the mark of the first batch whose
 * loss was not finite (kernels/metrics.h): three doubles, in a 6-float tensor (zero bits
 * are 0.0). */
#define ACC_DOUBLES 3
static dlc_status accumulate(dlc_net *net, const dlc_tensor *labels, dlc_tensor *acc, int64_t batch) {
  dlc_ctx *ctx = net->ctx;
  dlc_layer *last = &net->layers[net->nlayers - 1];
  int64_t C = last->shape[last->ndim - 1], rows = net->n * rows_per_sample(net);
  const float *logits = last->out.data;
  int regression = net->loss == 2 && labels->dtype == DLC_F32 && labels->numel == net->n * last->numel;
  if (net->loss != 1 || labels->numel != rows) C = 0; /* no accuracy without class labels */
  if (dlc_on_cuda(acc)) {
    DLC_TRY(DLC_LAUNCH(ctx, "metrics", dlc_launch_metrics(logits, C ? labels->data : NULL, rows, C, net->loss_value.data,
                                                           (float)net->n, batch, acc->data, ctx->stream)));
    if (regression)
      DLC_TRY(DLC_LAUNCH(ctx, "abs_err", dlc_launch_abs_err(logits, labels->data, labels->numel, acc->data, ctx->stream)));
    return DLC_OK;
  }
  double *a = acc->data;
  const float loss = *(const float *)net->loss_value.data;
  const int32_t *y = labels->data;
  a[0] += (double)loss * (double)net->n;
  if (a[2] == 0 && !isfinite(loss)) a[2] = dlc_metrics_bad_mark(loss, batch);
  if (regression) {
    const float *t = labels->data;
    double e = 0;
    for (int64_t i = 0; i < labels->numel; i++) e += fabs((double)logits[i] - (double)t[i]);
    a[1] += e;
  }
  for (int64_t r = 0; C && r < rows; r++) {
    const float *z = logits + r * C;
    int64_t best = 0;
    for (int64_t c = 1; c < C; c++)
      if (z[c] > z[best]) best = c;
    a[1] += best == y[r] ? 1.f : 0.f;
  }
  return DLC_OK;
}

/* Reads the metrics; *bad gets the mark of the first non-finite loss (0: none). */
static dlc_status read_stats(dlc_net *net, dlc_tensor *acc, int64_t samples, double t0, dlc_epoch_stats *st,
                             double *bad) {
  double a[ACC_DOUBLES];
  DLC_TRY(dlc_tensor_download(net->ctx, acc, a, sizeof a));
  *bad = a[2];
  st->samples = samples;
  st->loss = samples ? a[0] / (double)samples : 0;
  const dlc_layer *last = &net->layers[net->nlayers - 1];
  if (net->loss == 2) { /* regression: a[1] sums |output - target| */
    st->accuracy = 0;
    st->mae = samples ? a[1] / (double)(samples * last->numel) : 0;
  } else {
    st->accuracy = samples ? a[1] / (double)(samples * rows_per_sample(net)) : 0;
    st->mae = 0;
  }
  st->seconds = now_s() - t0;
  st->samples_per_second = st->seconds > 0 ? samples / st->seconds : 0;
  return DLC_OK;
}

/* The error for the first batch whose loss was not finite (mark from metrics.h). */
static dlc_status nonfinite_loss(dlc_net *net, double mark, int64_t epoch, int64_t nb, int train, const float *lr_of) {
  int64_t batch = (int64_t)(mark > 0 ? mark : -mark) - 1;
  const char *what = mark > 0 ? "NaN" : "infinite";
  if (!train)
    return DLC_FAIL(net->ctx, DLC_ERR_NUMERIC,
                    "the loss is %s at batch %lld of %lld: the network's weights or this data hold NaN or infinite "
                    "values (were the weights saved from a run that diverged?)",
                    what, (long long)batch + 1, (long long)nb);
  return DLC_FAIL(net->ctx, DLC_ERR_NUMERIC,
                  "the loss became %s at batch %lld of %lld in epoch %lld (learning rate %g at that batch): lower the "
                  "learning rate, or clip gradients (clip_norm)",
                  what, (long long)batch + 1, (long long)nb, (long long)epoch + 1,
                  (double)lr_of[batch % DLC_METRICS_EVERY]);
}

/* cm[label * C + predicted] += 1 for the batch's rows (labels in [0, C) only). */
static dlc_status count_confusion(dlc_net *net, const dlc_tensor *labels, dlc_tensor *cm, int64_t C) {
  dlc_ctx *ctx = net->ctx;
  const dlc_layer *last = &net->layers[net->nlayers - 1];
  int64_t rows = net->n * rows_per_sample(net);
  if (last->shape[last->ndim - 1] != C)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "a confusion matrix of %lld classes for a model of %lld", (long long)C,
                    (long long)last->shape[last->ndim - 1]);
  if (labels->dtype != DLC_I32 || labels->numel != rows) return DLC_OK; /* no label per row: nothing to count */
  const float *logits = last->out.data;
  if (dlc_on_cuda(cm))
    return DLC_LAUNCH(ctx, "confusion", dlc_launch_confusion(logits, labels->data, rows, C, cm->data, ctx->stream));
  const int32_t *y = labels->data;
  uint64_t *m = cm->data;
  for (int64_t r = 0; r < rows; r++) {
    if (y[r] < 0 || y[r] >= C) continue;
    const float *z = logits + r * C;
    int64_t best = 0;
    for (int64_t c = 1; c < C; c++)
      if (z[c] > z[best]) best = c;
    m[(int64_t)y[r] * C + best]++;
  }
  return DLC_OK;
}

static dlc_status loop(dlc_net *net, dlc_optim *opt, dlc_loader *loader, int64_t epoch, int64_t start,
                       int64_t max_batches, int train, dlc_progress_fn cb, void *user, dlc_epoch_stats *st,
                       int64_t *confusion, int64_t classes) {
  dlc_ctx *ctx = net->ctx;
  if (!net->built) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "build the network first");
  if (!net->loss) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "the network has no loss head");
  if (train && !opt) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "training needs an optimizer");
  memset(st, 0, sizeof *st);
  dlc_tensor acc;
  int64_t floats = 2 * ACC_DOUBLES;
  DLC_TRY(dlc_tensor_alloc(ctx, &acc, DLC_F32, 1, &floats, ctx->device));
  dlc_status s = dlc_op_fill(ctx, &acc, 0.f);
  dlc_tensor cm; /* classes x classes 64-bit counts (as 2 floats each: zero bits are 0) */
  memset(&cm, 0, sizeof cm);
  int64_t cm_floats = 2 * classes * classes;
  if (s == DLC_OK && confusion) s = dlc_tensor_alloc(ctx, &cm, DLC_F32, 1, &cm_floats, ctx->device);
  if (s == DLC_OK && confusion) s = dlc_op_fill(ctx, &cm, 0.f);
  if (s == DLC_OK) s = dlc_loader_start(loader, epoch, start);
  int64_t nb = dlc_loader_batches(loader), b = start, samples = 0;
  double t0 = now_s();
  int64_t in_shape[DLC_MAX_DIMS] = {0};
  memcpy(in_shape + 1, net->in_shape, sizeof(int64_t) * (size_t)net->in_ndim);
  /* The learning rate of the batches since the last read, to name the one in force at a
   * batch whose loss was not finite (the schedule has moved on by the time it is read). */
  float lr_of[DLC_METRICS_EVERY] = {0};
  double bad = 0;
  while (s == DLC_OK && (max_batches <= 0 || b - start < max_batches)) {
    dlc_tensor x, y;
    int64_t n;
    s = dlc_loader_next(loader, &x, &y, &n);
    if (s != DLC_OK || n == 0) break;
    /* The data set's sample shape may differ from the input's with the same size. */
    in_shape[0] = n;
    if ((s = dlc_tensor_reshape(ctx, &x, net->in_ndim + 1, in_shape)) != DLC_OK) break;
    if (train) s = dlc_net_zero_grad(net);
    if (s == DLC_OK) s = dlc_net_forward(net, &x, train, NULL);
    if (s == DLC_OK && train) s = dlc_net_stats_forward(net);
    if (s == DLC_OK) s = dlc_net_loss(net, &y, NULL);
    if (s == DLC_OK) s = accumulate(net, &y, &acc, b);
    if (s == DLC_OK && confusion) s = count_confusion(net, &y, &cm, classes);
    lr_of[b % DLC_METRICS_EVERY] = opt ? dlc_optim_lr(opt) : 0.f;
    if (s == DLC_OK && train) s = dlc_net_backward(net);
    if (s == DLC_OK && train) s = dlc_net_stats_backward(net);
    if (s == DLC_OK && train) s = dlc_optim_step(opt, &net->params, &net->grads);
    samples += n;
    b++;
    /* Read at least every DLC_METRICS_EVERY batches: the window lr_of covers. */
    if (s == DLC_OK && (b % DLC_METRICS_EVERY == 0 || b == nb || b - start == max_batches)) {
      s = read_stats(net, &acc, samples, t0, st, &bad);
      if (s == DLC_OK && bad != 0) s = nonfinite_loss(net, bad, epoch, nb, train, lr_of);
      if (s == DLC_OK && cb) cb(user, b, nb, st);
    }
  }
  if (s == DLC_OK) s = read_stats(net, &acc, samples, t0, st, &bad);
  if (s == DLC_OK && bad != 0) s = nonfinite_loss(net, bad, epoch, nb, train, lr_of);
  if (s == DLC_OK && confusion) {
    s = dlc_tensor_download(ctx, &cm, confusion, sizeof(int64_t) * (size_t)(classes * classes));
  }
  dlc_tensor_free(ctx, &cm);
  dlc_tensor_free(ctx, &acc);
  return s;
}

dlc_status dlc_net_train_epoch(dlc_net *net, dlc_optim *opt, dlc_loader *loader, int64_t epoch,
                               int64_t start_batch, dlc_progress_fn cb, void *user, dlc_epoch_stats *stats) {
  if (!net || !loader || !stats) return DLC_ERR_INVALID_ARG;
  return loop(net, opt, loader, epoch, start_batch, 0, 1, cb, user, stats, NULL, 0);
}

dlc_status dlc_net_train_batches(dlc_net *net, dlc_optim *opt, dlc_loader *loader, int64_t epoch, int64_t start_batch,
                                 int64_t max_batches, dlc_progress_fn cb, void *user, dlc_epoch_stats *stats) {
  if (!net || !loader || !stats) return DLC_ERR_INVALID_ARG;
  return loop(net, opt, loader, epoch, start_batch, max_batches, 1, cb, user, stats, NULL, 0);
}

dlc_status dlc_net_evaluate(dlc_net *net, dlc_loader *loader, dlc_epoch_stats *stats) {
  if (!net || !loader || !stats) return DLC_ERR_INVALID_ARG;
  return loop(net, NULL, loader, 0, 0, 0, 0, NULL, NULL, stats, NULL, 0);
}

dlc_status dlc_net_evaluate_confusion(dlc_net *net, dlc_loader *loader, dlc_epoch_stats *stats, int64_t *confusion,
                                      int64_t classes) {
  if (!net || !loader || !stats) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(net->ctx, confusion);
  if (classes < 1 || classes > 65536)
    return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "a confusion matrix of %lld classes", (long long)classes);
  return loop(net, NULL, loader, 0, 0, 0, 0, NULL, NULL, stats, confusion, classes);
}

dlc_status dlc_net_evaluate_classes(dlc_net *net, dlc_loader *loader, dlc_class_eval *r) {
  if (!net || !loader || !r) return DLC_ERR_INVALID_ARG;
  const int64_t C = dlc_net_classes(net);
  if (r->confusion && r->classes != C) dlc_class_eval_free(r); /* another model's arrays */
  r->classes = C;
  r->have_classes = 0;
  if (C == 0) return dlc_net_evaluate(net, loader, &r->stats);
  if (!r->confusion) {
    r->confusion = calloc((size_t)(C * C), sizeof *r->confusion);
    r->recall = calloc((size_t)C, sizeof *r->recall);
    r->precision = calloc((size_t)C, sizeof *r->precision);
    r->f1 = calloc((size_t)C, sizeof *r->f1);
    if (!r->confusion || !r->recall || !r->precision || !r->f1) {
      dlc_class_eval_free(r);
      return DLC_FAIL(net->ctx, DLC_ERR_OUT_OF_MEMORY, "a %lld-class confusion matrix", (long long)C);
    }
  }
  DLC_TRY(dlc_net_evaluate_confusion(net, loader, &r->stats, r->confusion, C));
  dlc_class_metrics(r->confusion, C, r->recall, r->precision, r->f1, &r->summary);
  r->have_classes = r->summary.classes_present > 0;
  return DLC_OK;
}

void dlc_class_eval_free(dlc_class_eval *r) {
  if (!r) return;
  free(r->confusion);
  free(r->recall);
  free(r->precision);
  free(r->f1);
  memset(r, 0, sizeof *r);
}

dlc_status dlc_net_check_dataset(dlc_net *net, const dlc_dataset *ds) {
  if (!net || !ds) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  int64_t want = 1;
  for (int i = 0; i < net->in_ndim; i++) want *= net->in_shape[i];
  int64_t have = (int64_t)ds->channels * ds->height * ds->width;
  if (have != want) {
    char s[96];
    size_t at = 0;
    for (int i = 0; i < net->in_ndim; i++)
      at += (size_t)snprintf(s + at, sizeof s - at, i ? "x%lld" : "%lld", (long long)net->in_shape[i]);
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: samples are %dx%dx%d (%lld values) but the model's input is %s (%lld)",
                    ds->source, ds->channels, ds->height, ds->width, (long long)have, s, (long long)want);
  }
  dlc_layer *out = &net->layers[net->nlayers - 1];
  if (net->loss == 2) {
    if (!ds->targets)
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: an [mse] model needs float targets, and this data set has class labels "
                      "(CSV: name the target columns in [net] targets = ...)", ds->source);
    if (ds->num_targets != out->numel)
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: %d targets per sample, but the model outputs %lld values per sample",
                      ds->source, ds->num_targets, (long long)out->numel);
    return DLC_OK;
  }
  if (!ds->labels)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: the data set has float targets, but the model is a classifier (end it with "
                    "[mse] for regression)", ds->source);
  if (net->loss == 1) {
    dlc_layer *last = out;
    int64_t C = last->shape[last->ndim - 1];
    for (int64_t i = 0; i < ds->count; i++)
      if (ds->labels[i] >= C && ds->labels[i] != net->xent.ignore_index)
        return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: label %d of sample %lld is outside the model's %lld classes",
                        ds->source, ds->labels[i], (long long)i, (long long)C);
  }
  return DLC_OK;
}

dlc_status dlc_net_balance_class_weights(dlc_net *net, const dlc_dataset *ds, float *weights, int64_t classes) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, ds);
  if (!net->built || net->loss != 1)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "balanced class weights need a built network with a cross-entropy head");
  if (!ds->labels) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: balanced class weights need class labels", ds->source);
  const dlc_layer *last = &net->layers[net->nlayers - 1];
  int64_t C = last->shape[last->ndim - 1];
  if (weights && classes < C)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "balanced class weights: room for %lld of %lld classes", (long long)classes,
                    (long long)C);
  int64_t *count = calloc((size_t)C, sizeof *count), n = 0, present = 0;
  float *w = malloc(sizeof(float) * (size_t)C);
  if (!count || !w) {
    free(count);
    free(w);
    return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "class weights");
  }
  for (int64_t i = 0; i < ds->count; i++) {
    int32_t y = ds->labels[i];
    if (y == net->xent.ignore_index || y < 0 || y >= C) continue;
    count[y]++;
    n++;
  }
  for (int64_t c = 0; c < C; c++) present += count[c] > 0;
  /* n_samples / (n_classes * count_c), n_classes = the classes present (scikit-learn). */
  for (int64_t c = 0; c < C; c++) w[c] = count[c] ? (float)((double)n / ((double)present * (double)count[c])) : 0.f;
  dlc_status s = DLC_OK;
  if (!net->class_weight.data) s = dlc_tensor_alloc(ctx, &net->class_weight, DLC_F32, 1, &C, ctx->device);
  if (s == DLC_OK) s = dlc_tensor_upload(ctx, &net->class_weight, w, sizeof(float) * (size_t)C);
  if (s == DLC_OK) {
    net->xent.class_weight = &net->class_weight;
    if (weights) memcpy(weights, w, sizeof(float) * (size_t)C);
  }
  free(count);
  free(w);
  return s;
}

void dlc_class_metrics(const int64_t *cm, int64_t C, double *recall, double *precision, double *f1,
                       dlc_class_summary *sum) {
  double sr = 0, sp = 0, sf = 0, correct = 0, total = 0;
  int64_t present = 0;
  for (int64_t c = 0; c < C; c++) {
    double tp = (double)cm[c * C + c], actual = 0, predicted = 0;
    for (int64_t k = 0; k < C; k++) {
      actual += (double)cm[c * C + k];
      predicted += (double)cm[k * C + c];
    }
    double r = actual > 0 ? tp / actual : 0, p = predicted > 0 ? tp / predicted : 0, f = r + p > 0 ? 2 * r * p / (r + p) : 0;
    if (recall) recall[c] = r;
    if (precision) precision[c] = p;
    if (f1) f1[c] = f;
    correct += tp;
    total += actual;
    if (actual > 0) {
      present++;
      sr += r;
      sp += p;
      sf += f;
    }
  }
  if (sum) {
    sum->accuracy = total > 0 ? correct / total : 0;
    sum->balanced_accuracy = present ? sr / (double)present : 0;
    sum->macro_precision = present ? sp / (double)present : 0;
    sum->macro_f1 = present ? sf / (double)present : 0;
    sum->classes_present = present;
  }
}
