/* A network's work on files: predictions for a file's inputs (dlc_net_predict_file),
 * explanations written as maps and pictures (dlc_net_explain_files) and a forward/backward
 * run from .npy files to .npy and safetensors files (dlc_model_run_npy), as `dlcuda
 * predict`, `explain` and `forward` do it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net_internal.h"

dlc_explain_options dlc_explain_options_default(void) {
  dlc_explain_options o;
  memset(&o, 0, sizeof o);
  o.klass = o.layer = -1;
  return o;
}

void dlc_explain_result_free(dlc_explain_result *r) {
  if (!r) return;
  free(r->predicted);
  free(r->probability);
  free(r->explained);
  memset(r, 0, sizeof *r);
}

void dlc_predictions_free(dlc_predictions *r) {
  if (!r) return;
  free(r->values);
  free(r->best);
  memset(r, 0, sizeof *r);
}

dlc_status dlc_net_predict_file(dlc_net *net, const char *input, const dlc_loader_options *norm, dlc_predictions *r) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, input);
  DLC_CHECK_NULL(ctx, norm);
  DLC_CHECK_NULL(ctx, r);
  memset(r, 0, sizeof *r);
  int64_t shape[DLC_MAX_DIMS], oshape[DLC_MAX_DIMS];
  int nd = dlc_net_input_shape(net, shape), ond = dlc_net_output_shape(net, oshape);
  dlc_tensor x;
  DLC_TRY(dlc_input_load(ctx, input, norm, nd, shape, &x));
  r->n = x.shape[0];
  r->k = 1;
  for (int i = 0; i < ond; i++) r->k *= oshape[i];
  r->classifier = dlc_net_classes(net) > 0;
  r->first_bad = -1;
  r->values = malloc(sizeof(float) * (size_t)(r->n * r->k + 1));
  r->best = malloc(sizeof(int64_t) * (size_t)(r->n + 1));
  dlc_status st = !r->values || !r->best ? DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "predict: %lld inputs", (long long)r->n)
                  : r->classifier         ? dlc_net_predict_classes(net, x.data, r->n, r->values, r->best)
                                          : dlc_net_predict(net, x.data, r->n, r->values);
  dlc_tensor_free(ctx, &x);
  for (int64_t i = 0; st == DLC_OK && i < r->n; i++) { /* a classifier's best is -1 where not finite */
    if (!r->classifier) r->best[i] = 0;
    for (int64_t c = 0; c < r->k && !r->classifier; c++)
      if (!isfinite(r->values[i * r->k + c])) r->best[i] = -1;
    if (r->best[i] < 0 && r->bad++ == 0) r->first_bad = i;
  }
  if (st != DLC_OK) dlc_predictions_free(r);
  return st;
}

/* Input i's map as .npy and as a picture over the input. */
static dlc_status write_one(dlc_ctx *ctx, const dlc_explain_options *o, int64_t i, const float *map, int64_t C,
                            int64_t H, int64_t W, const float *image, const float *heat) {
  const char *m = dlc_explain_method_name(o->method);
  char path[4096];
  int64_t shape[3] = {C, H, W};
  int ig = o->method == DLC_EXPLAIN_IG;
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  dlc_tensor t;
  snprintf(path, sizeof path, "%s/%05lld-%s.npy", o->out, (long long)i, m);
  DLC_TRY(dlc_tensor_borrow(ctx, &t, (void *)map, DLC_F32, ig ? 3 : 2, ig ? shape : shape + 1, cpu));
  DLC_TRY(dlc_npy_save(ctx, path, &t));
  snprintf(path, sizeof path, "%s/%05lld-%s.png", o->out, (long long)i, m);
  return dlc_png_save_overlay(ctx, path, image, 1, 1, C, H, W, heat, 8, 0.5f);
}

/* The maps of n inputs x into the result and the files. */
static dlc_status explain(dlc_net *net, const float *x, int64_t n, const dlc_loader_options *norm,
                          const dlc_explain_options *o, dlc_explain_result *r, float *scratch[4]) {
  dlc_ctx *ctx = net->ctx;
  int64_t shape[DLC_MAX_DIMS], oshape[DLC_MAX_DIMS];
  dlc_net_input_shape(net, shape);
  dlc_net_output_shape(net, oshape);
  int64_t C = shape[0], H = shape[1], W = shape[2], S = C * H * W, K = oshape[0], P = H * W;
  float *probs = scratch[0], *map = scratch[1], *base = scratch[2], *heat = scratch[3];
  DLC_TRY(dlc_net_predict_classes(net, x, n, probs, r->predicted));
  for (int64_t i = 0; i < n; i++) {
    r->probability[i] = r->predicted[i] >= 0 ? probs[i * K + r->predicted[i]] : NAN;
    r->explained[i] = o->klass >= 0 ? o->klass : (int32_t)(r->predicted[i] >= 0 ? r->predicted[i] : 0);
  }
  dlc_status st;
  if (o->method == DLC_EXPLAIN_SALIENCY) st = dlc_net_saliency(net, x, n, r->explained, map);
  else if (o->method == DLC_EXPLAIN_GRADCAM) st = dlc_net_gradcam(net, x, n, r->explained, o->layer, map);
  else {
    /* The baseline: a black image, as the loader normalises it. */
    uint8_t *black = calloc((size_t)S, 1);
    if (!black) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "explain: %lld bytes", (long long)S);
    st = dlc_input_pixels(ctx, black, 1, C, P, norm, base);
    free(black);
    if (st == DLC_OK) st = dlc_net_integrated_gradients(net, x, n, base, r->explained, o->steps ? o->steps : 32, map);
  }
  if (st != DLC_OK) return dlc_error_prefix(ctx, st, dlc_explain_method_name(o->method));
  /* The pictures' maps: ig's |attribution| summed over channels. */
  if (o->method == DLC_EXPLAIN_IG)
    for (int64_t i = 0; i < n * P; i++) {
      float a = 0.f;
      for (int64_t c = 0; c < C; c++) a += fabsf(map[(i / P) * S + c * P + i % P]);
      heat[i] = a;
    }
  else heat = map;
  int64_t per = o->method == DLC_EXPLAIN_IG ? S : P;
  for (int64_t i = 0; i < n; i++) DLC_TRY(write_one(ctx, o, i, map + i * per, C, H, W, x + i * S, heat + i * P));
  char path[4096];
  snprintf(path, sizeof path, "%s/grid-%s.png", o->out, dlc_explain_method_name(o->method));
  return dlc_png_save_overlay(ctx, path, x, n, 8, C, H, W, heat, 4, 0.5f);
}

dlc_status dlc_net_explain_files(dlc_net *net, const char *input, const dlc_loader_options *norm,
                                 const dlc_explain_options *o, dlc_explain_result *r) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, input);
  DLC_CHECK_NULL(ctx, norm);
  DLC_CHECK_NULL(ctx, o);
  DLC_CHECK_NULL(ctx, o->out);
  DLC_CHECK_NULL(ctx, r);
  memset(r, 0, sizeof *r);
  if (o->method < 0 || o->method >= DLC_EXPLAIN_COUNT)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "explain: method %d is not a dlc_explain_method", (int)o->method);
  int64_t shape[DLC_MAX_DIMS], oshape[DLC_MAX_DIMS];
  int nd = dlc_net_input_shape(net, shape), ond = dlc_net_output_shape(net, oshape);
  if (nd != 3 || ond != 1)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "explain needs an image classifier (input [C, H, W], output [classes])");
  if (o->klass >= oshape[0])
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "explain: class %d, and the model has %lld classes", o->klass,
                    (long long)oshape[0]);
  char first[4096]; /* the folder is checked before any work */
  snprintf(first, sizeof first, "%s/00000-%s.npy", o->out, dlc_explain_method_name(o->method));
  DLC_TRY(dlc_check_output_path(ctx, first));
  dlc_tensor x;
  DLC_TRY(dlc_input_load(ctx, input, norm, nd, shape, &x));
  int64_t n = o->first > 0 && o->first < x.shape[0] ? o->first : x.shape[0];
  int64_t S = shape[0] * shape[1] * shape[2], P = shape[1] * shape[2];
  size_t sizes[4] = {(size_t)(n * oshape[0]), (size_t)(n * S), (size_t)S, (size_t)(n * P)};
  float *scratch[4];
  int ok = 1;
  for (int k = 0; k < 4; k++) ok &= (scratch[k] = malloc(sizeof(float) * sizes[k])) != NULL;
  r->n = n;
  r->predicted = malloc(sizeof(int64_t) * (size_t)n);
  r->probability = malloc(sizeof(float) * (size_t)n);
  r->explained = malloc(sizeof(int32_t) * (size_t)n);
  dlc_status st = ok && r->predicted && r->probability && r->explained
                      ? explain(net, x.data, n, norm, o, r, scratch)
                      : DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "explain: maps of %lld inputs", (long long)n);
  for (int k = 0; k < 4; k++) free(scratch[k]);
  dlc_tensor_free(ctx, &x);
  if (st != DLC_OK) dlc_explain_result_free(r);
  return st;
}

/* ---------------------------------------------------------------- forward from .npy */

/* Saves a tensor as .npy with the given shape. */
static dlc_status save_as(dlc_ctx *ctx, const char *path, const dlc_tensor *t, int ndim, const int64_t *shape) {
  dlc_tensor v = *t;
  DLC_TRY(dlc_tensor_reshape(ctx, &v, ndim, shape));
  return dlc_npy_save(ctx, path, &v);
}

/* A float32 host tensor of shape's values onto the context's device, shaped so. */
static dlc_status upload(dlc_ctx *ctx, dlc_tensor *h, const char *path, const char *what, const char *whose,
                         int ndim, const int64_t *shape, dlc_tensor *out) {
  int64_t n = 1;
  char dims[256];
  size_t at = 0;
  for (int i = 0; i < ndim; i++) {
    n *= shape[i];
    at += (size_t)snprintf(dims + at, sizeof dims - at, i ? ", %lld" : "%lld", (long long)shape[i]);
  }
  if (h->dtype != DLC_F32 || h->numel != n)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: the %s must be float32 with %s %lld values ([%s])", path, what, whose,
                    (long long)n, dims);
  DLC_TRY(dlc_tensor_reshape(ctx, h, ndim, shape));
  DLC_TRY(dlc_tensor_alloc(ctx, out, DLC_F32, ndim, shape, dlc_ctx_device(ctx)));
  return dlc_tensor_copy(ctx, out, h);
}

static dlc_status run_npy(dlc_net *net, const dlc_npy_run *r, dlc_tensor *raw, int ndim, const int64_t *shape,
                          dlc_tensor *t) {
  dlc_ctx *ctx = net->ctx;
  dlc_tensor *x = &t[0], *dy_host = &t[1], *dy = &t[2];
  DLC_TRY(upload(ctx, raw, r->input, "input", "the model input's", ndim, shape, x));
  if (r->grad_output) {
    DLC_TRY(dlc_net_input_grad(net, r->input_grad != NULL, NULL));
    DLC_TRY(dlc_net_zero_grad(net));
  }
  dlc_tensor y;
  DLC_TRY(dlc_net_forward(net, x, r->train, &y));
  DLC_TRY(save_as(ctx, r->output, &y, y.ndim, y.shape));
  if (!r->grad_output) return DLC_OK;
  DLC_TRY(dlc_npy_load(ctx, r->grad_output, dy_host));
  DLC_TRY(upload(ctx, dy_host, r->grad_output, "output gradient", "the output's", y.ndim, y.shape, dy));
  DLC_TRY(dlc_net_backward_from(net, dy));
  if (r->input_grad) {
    dlc_tensor dx;
    DLC_TRY(dlc_net_input_grad(net, 1, &dx));
    DLC_TRY(save_as(ctx, r->input_grad, &dx, ndim, shape));
  }
  return r->param_grads ? dlc_net_save_grads(net, r->param_grads) : DLC_OK;
}

dlc_status dlc_model_run_npy(dlc_ctx *ctx, const char *model, const char *weights, const dlc_npy_run *r) {
  DLC_CHECK_NULL(ctx, model);
  DLC_CHECK_NULL(ctx, r);
  DLC_CHECK_NULL(ctx, r->input);
  DLC_CHECK_NULL(ctx, r->output);
  if ((r->input_grad || r->param_grads) && !r->grad_output)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "the input's and the parameters' gradients need an output gradient");
  const char *outs[3] = {r->output, r->input_grad, r->param_grads};
  for (int i = 0; i < 3; i++)
    if (outs[i]) DLC_TRY(dlc_check_output_path(ctx, outs[i]));
  /* The network is built for the input's N samples. */
  dlc_tensor t[4]; /* the input on the host and the device, the output gradient likewise */
  memset(t, 0, sizeof t);
  DLC_TRY(dlc_npy_load(ctx, r->input, &t[3]));
  dlc_session *s = NULL;
  dlc_session_options so = dlc_session_options_default();
  so.kind = DLC_SESSION_MODEL;
  so.model = model;
  so.weights = weights;
  so.batch = t[3].ndim >= 1 ? t[3].shape[0] : 0;
  dlc_status st = t[3].dtype != DLC_F32 || t[3].ndim < 1
                      ? DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: the input must be float32 [N, ...]", r->input)
                      : dlc_session_open(ctx, &so, &s);
  if (st == DLC_OK) {
    int64_t shape[DLC_MAX_DIMS + 1]; /* [N, the input's shape] */
    int nd = dlc_net_input_shape(s->net, shape + 1);
    shape[0] = so.batch;
    st = run_npy(s->net, r, &t[3], nd + 1, shape, t);
  }
  for (int i = 0; i < 4; i++) dlc_tensor_free(ctx, &t[i]);
  dlc_session_destroy(s);
  return st;
}
