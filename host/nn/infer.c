/* Inference sessions (dlcuda.h): the memory of a network's evaluation-mode forward pass is
 * planned when the network is built; the session adds the device copy of the input and
 * needs nothing else, so a call allocates nothing. On a GPU it is three stream-ordered
 * steps (copy in, the layers' kernels, copy out) and one synchronisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net_internal.h"

struct dlc_infer {
  dlc_net *net;
  int64_t max_batch, in_values, out_values;
  dlc_tensor x_dev; /* CUDA: the input on the device */
  int cuda;
};

dlc_status dlc_infer_create(dlc_net *net, int64_t max_batch, dlc_infer **out) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  if (!net->built) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "inference: build the network first (dlc_net_build)");
  if (max_batch < 1 || max_batch > net->max_batch)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "inference: batches of up to %lld, but the network was built for %lld",
                    (long long)max_batch, (long long)net->max_batch);
  dlc_infer *s = calloc(1, sizeof *s);
  if (!s) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "inference session");
  s->net = net;
  s->max_batch = max_batch;
  s->in_values = 1;
  for (int i = 0; i < net->in_ndim; i++) s->in_values *= net->in_shape[i];
  s->out_values = net->layers[net->nlayers - 1].numel;
  s->cuda = ctx->device.kind == DLC_DEVICE_CUDA;
  if (s->cuda) {
    int64_t shape[DLC_MAX_DIMS] = {max_batch};
    memcpy(shape + 1, net->in_shape, sizeof(int64_t) * (size_t)net->in_ndim);
    dlc_status st = dlc_tensor_alloc(ctx, &s->x_dev, DLC_F32, net->in_ndim + 1, shape, ctx->device);
    if (st != DLC_OK) {
      free(s);
      return st;
    }
  }
  *out = s;
  return DLC_OK;
}

dlc_status dlc_infer_run(dlc_infer *s, const float *x, int64_t n, float *y) {
  if (!s) return DLC_ERR_INVALID_ARG;
  dlc_net *net = s->net;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, x);
  DLC_CHECK_NULL(ctx, y);
  if (n < 1 || n > s->max_batch)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "inference: %lld samples, the session takes 1 to %lld", (long long)n,
                    (long long)s->max_batch);
  int64_t shape[DLC_MAX_DIMS] = {n};
  memcpy(shape + 1, net->in_shape, sizeof(int64_t) * (size_t)net->in_ndim);
  dlc_tensor in, out;
  if (s->cuda) {
    DLC_TRY(dlc_tensor_borrow(ctx, &in, s->x_dev.data, DLC_F32, net->in_ndim + 1, shape, ctx->device));
    DLC_TRY(dlc_tensor_upload(ctx, &in, x, sizeof(float) * (size_t)(n * s->in_values)));
  } else {
    dlc_device cpu = {DLC_DEVICE_CPU, 0};
    DLC_TRY(dlc_tensor_borrow(ctx, &in, (float *)x, DLC_F32, net->in_ndim + 1, shape, cpu));
  }
  DLC_TRY(dlc_net_forward(net, &in, 0, &out));
  return dlc_tensor_download(ctx, &out, y, sizeof(float) * (size_t)(n * s->out_values));
}

int64_t dlc_infer_output_values(const dlc_infer *s) { return s ? s->out_values : 0; }

void dlc_infer_destroy(dlc_infer *s) {
  if (!s) return;
  dlc_tensor_free(s->net->ctx, &s->x_dev);
  free(s);
}

dlc_status dlc_net_predict(dlc_net *net, const float *x, int64_t n, float *y) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, x);
  DLC_CHECK_NULL(ctx, y);
  if (n < 0) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "predict: %lld samples", (long long)n);
  if (n == 0) return DLC_OK;
  dlc_infer *s;
  DLC_TRY(dlc_infer_create(net, net->max_batch, &s));
  dlc_status st = DLC_OK;
  for (int64_t at = 0; at < n && st == DLC_OK; at += s->max_batch) {
    int64_t m = n - at < s->max_batch ? n - at : s->max_batch;
    st = dlc_infer_run(s, x + at * s->in_values, m, y + at * s->out_values);
  }
  dlc_infer_destroy(s);
  return st;
}

dlc_status dlc_net_predict_classes(dlc_net *net, const float *x, int64_t n, float *probs, int64_t *best) {
  if (!net) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(net->ctx, best);
  int64_t shape[DLC_MAX_DIMS], K = 1;
  int nd = dlc_net_output_shape(net, shape);
  for (int i = 0; i < nd; i++) K *= shape[i];
  if (nd < 1 || K != shape[nd - 1])
    return DLC_FAIL(net->ctx, DLC_ERR_SHAPE, "the model's output is not one row of class scores per input");
  DLC_TRY(dlc_net_predict(net, x, n, probs));
  for (int64_t r = 0; r < n; r++) {
    float *z = probs + r * K;
    int finite = 1;
    for (int64_t c = 0; c < K; c++) finite &= isfinite(z[c]) != 0;
    best[r] = -1;
    if (!finite) continue; /* NaN or infinite scores rank nothing */
    double mx = z[0], sum = 0;
    for (int64_t c = 1; c < K; c++) mx = z[c] > mx ? z[c] : mx;
    for (int64_t c = 0; c < K; c++) sum += exp(z[c] - mx);
    best[r] = 0;
    for (int64_t c = 0; c < K; c++) {
      z[c] = (float)(exp(z[c] - mx) / sum);
      if (z[c] > z[best[r]]) best[r] = c;
    }
  }
  return DLC_OK;
}
