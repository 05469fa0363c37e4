/* What a classifier's prediction rests on: saliency, Grad-CAM and integrated gradients
 * (dlcuda.h), each from the gradient of one class's raw score (the logit), computed by the
 * network's own backward on its device. The host then reduces what little comes back (one
 * map per input) in fixed loops, so both devices give the same maps from the same
 * gradients. PyTorch's definitions, checked against it in tests/test_explain.c:
 *  - saliency: max over channels of |d s / d x|;
 *  - Grad-CAM: ReLU(sum_k w_k A_k), w_k = spatial mean of d s / d A_k, for a layer's output
 *    A [K, h, w], upsampled to the input as F.interpolate(mode="bilinear",
 *    align_corners=False) does;
 *  - integrated gradients: (x - x0) * mean over k = 1..m of the gradient at
 *    x0 + (k / m) (x - x0) (the right Riemann sum of m steps). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net_internal.h"

/* The per-sample input [C, H, W] of an image model, or an error naming what it is. */
static dlc_status image_input(dlc_net *net, const char *what, int64_t *C, int64_t *H, int64_t *W) {
  if (!net->built) return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "%s: build the network first", what);
  if (net->in_ndim != 3)
    return DLC_FAIL(net->ctx, DLC_ERR_SHAPE, "%s: the network's input has %d dimensions, not an image's 3 (C, H, W)",
                    what, net->in_ndim);
  if (net->loss != 1) return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "%s: the network is not a classifier", what);
  *C = net->in_shape[0];
  *H = net->in_shape[1];
  *W = net->in_shape[2];
  return DLC_OK;
}

static int64_t classes_of(const dlc_net *net) {
  const dlc_layer *last = &net->layers[net->nlayers - 1];
  return last->ndim == 1 ? last->shape[0] : 0;
}

static dlc_status check_classes(dlc_net *net, const char *what, const int32_t *cls, int64_t n) {
  int64_t K = classes_of(net);
  if (K <= 0) return DLC_FAIL(net->ctx, DLC_ERR_SHAPE, "%s: the output is not one row of class scores per input", what);
  for (int64_t i = 0; i < n; i++)
    if (cls[i] < 0 || cls[i] >= K)
      return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "%s: class %d of input %lld is not one of the model's 0 to %lld",
                      what, cls[i], (long long)i, (long long)K - 1);
  return DLC_OK;
}

/* Forward (evaluation mode) on n host inputs, then backward from the one-hot scores of
 * cls: the input gradient in dx (host, n * C*H*W floats) when dx is not NULL. */
static dlc_status score_grad(dlc_net *net, const float *x, int64_t n, const int32_t *cls, float *dx) {
  dlc_ctx *ctx = net->ctx;
  int64_t C = net->in_shape[0], H = net->in_shape[1], W = net->in_shape[2], K = classes_of(net);
  int64_t xs[4] = {n, C, H, W}, ys[2] = {n, K};
  dlc_tensor xh, xd, dyd, dyh, y, din;
  memset(&xd, 0, sizeof xd);
  memset(&dyd, 0, sizeof dyd);
  float *onehot = calloc((size_t)(n * K), sizeof(float));
  if (!onehot) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "explain: %lld scores", (long long)(n * K));
  for (int64_t i = 0; i < n; i++) onehot[i * K + cls[i]] = 1.f;
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  dlc_status s = dlc_tensor_borrow(ctx, &xh, (void *)x, DLC_F32, 4, xs, cpu);
  if (s == DLC_OK) s = dlc_tensor_borrow(ctx, &dyh, onehot, DLC_F32, 2, ys, cpu);
  if (s == DLC_OK) s = dlc_tensor_alloc(ctx, &xd, DLC_F32, 4, xs, ctx->device);
  if (s == DLC_OK) s = dlc_tensor_alloc(ctx, &dyd, DLC_F32, 2, ys, ctx->device);
  if (s == DLC_OK) s = dlc_tensor_copy(ctx, &xd, &xh);
  if (s == DLC_OK) s = dlc_tensor_copy(ctx, &dyd, &dyh);
  int wanted = net->want_input_grad; /* restored after: training need not pay for it */
  if (s == DLC_OK) s = dlc_net_input_grad(net, 1, NULL);
  if (s == DLC_OK) s = dlc_net_forward(net, &xd, 0, &y);
  if (s == DLC_OK) s = dlc_net_backward_from(net, &dyd);
  if (s == DLC_OK && dx) {
    dlc_tensor dxh;
    s = dlc_net_input_grad(net, 1, &din);
    if (s == DLC_OK) s = dlc_tensor_borrow(ctx, &dxh, dx, DLC_F32, 1, &din.numel, cpu);
    if (s == DLC_OK) s = dlc_tensor_reshape(ctx, &din, 1, &din.numel);
    if (s == DLC_OK) s = dlc_tensor_copy(ctx, &dxh, &din);
  }
  net->want_input_grad = wanted;
  dlc_tensor_free(ctx, &xd);
  dlc_tensor_free(ctx, &dyd);
  free(onehot);
  return s;
}

/* Inputs in chunks of at most the network's batch. */
#define CHUNKS(n, net, i0, m) \
  for (int64_t i0 = 0, m = 0; i0 < (n) && (m = (n) - i0 < (net)->max_batch ? (n) - i0 : (net)->max_batch, 1); i0 += m)

dlc_status dlc_net_saliency(dlc_net *net, const float *x, int64_t n, const int32_t *cls, float *map) {
  if (!net) return DLC_ERR_INVALID_ARG;
  int64_t C, H, W;
  DLC_TRY(image_input(net, "saliency", &C, &H, &W));
  DLC_TRY(check_classes(net, "saliency", cls, n));
  int64_t P = H * W, S = C * P;
  float *g = malloc(sizeof(float) * (size_t)(net->max_batch * S));
  if (!g) return DLC_FAIL(net->ctx, DLC_ERR_OUT_OF_MEMORY, "saliency: the input gradients");
  dlc_status s = DLC_OK;
  CHUNKS(n, net, i0, m) {
    if ((s = score_grad(net, x + i0 * S, m, cls + i0, g)) != DLC_OK) break;
    for (int64_t i = 0; i < m; i++)
      for (int64_t p = 0; p < P; p++) {
        float best = 0.f;
        for (int64_t c = 0; c < C; c++) best = fmaxf(best, fabsf(g[i * S + c * P + p]));
        map[(i0 + i) * P + p] = best;
      }
  }
  free(g);
  return s;
}

int dlc_net_layer_index(const dlc_net *net, const char *name) {
  for (int i = 0; net && name && i < net->nlayers; i++)
    if (!strcmp(net->layers[i].name, name)) return i;
  return -1;
}

int dlc_net_last_conv(const dlc_net *net) {
  for (int i = net ? net->nlayers - 1 : -1; i >= 0; i--)
    if (net->layers[i].vt == &dlc_vt_conv2d) return i;
  return -1;
}

/* F.interpolate(mode="bilinear", align_corners=False) of one [h, w] map to [H, W]. */
static void upsample_bilinear(const float *in, int64_t h, int64_t w, float *out, int64_t H, int64_t W) {
  float sh = (float)h / (float)H, sw = (float)w / (float)W;
  for (int64_t y = 0; y < H; y++) {
    float fy = fmaxf(((float)y + 0.5f) * sh - 0.5f, 0.f);
    int64_t y0 = (int64_t)fy, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
    float ly = fy - (float)y0;
    for (int64_t x = 0; x < W; x++) {
      float fx = fmaxf(((float)x + 0.5f) * sw - 0.5f, 0.f);
      int64_t x0 = (int64_t)fx, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
      float lx = fx - (float)x0;
      out[y * W + x] = (1.f - ly) * ((1.f - lx) * in[y0 * w + x0] + lx * in[y0 * w + x1]) +
                       ly * ((1.f - lx) * in[y1 * w + x0] + lx * in[y1 * w + x1]);
    }
  }
}

dlc_status dlc_net_gradcam(dlc_net *net, const float *x, int64_t n, const int32_t *cls, int layer, float *map) {
  if (!net) return DLC_ERR_INVALID_ARG;
  int64_t C, H, W;
  DLC_TRY(image_input(net, "Grad-CAM", &C, &H, &W));
  DLC_TRY(check_classes(net, "Grad-CAM", cls, n));
  if (layer < 0) layer = dlc_net_last_conv(net);
  if (layer < 0 || layer >= net->nlayers)
    return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "Grad-CAM: %s", layer < 0 ? "the network has no conv2d layer"
                                                                            : "no such layer");
  dlc_layer *l = &net->layers[layer];
  if (l->ndim != 3)
    return DLC_FAIL(net->ctx, DLC_ERR_SHAPE, "Grad-CAM: layer %s's output is not a [channels, height, width] map",
                    l->name);
  int64_t K = l->shape[0], h = l->shape[1], w = l->shape[2], hw = h * w, S = C * H * W;
  float *a = malloc(sizeof(float) * (size_t)(net->max_batch * K * hw * 2)), *da = a ? a + net->max_batch * K * hw : NULL;
  float *cam = malloc(sizeof(float) * (size_t)hw);
  dlc_status s = a && cam ? DLC_OK : DLC_FAIL(net->ctx, DLC_ERR_OUT_OF_MEMORY, "Grad-CAM: layer %s's maps", l->name);
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  CHUNKS(n, net, i0, m) {
    if (s != DLC_OK || (s = score_grad(net, x + i0 * S, m, cls + i0, NULL)) != DLC_OK) break;
    int64_t len = m * K * hw;
    dlc_tensor ah, dah, av = dlc_batch_view(&l->out, m), dav = dlc_batch_view(&l->dout, m);
    s = dlc_tensor_borrow(net->ctx, &ah, a, DLC_F32, 1, &len, cpu);
    if (s == DLC_OK) s = dlc_tensor_borrow(net->ctx, &dah, da, DLC_F32, 1, &len, cpu);
    if (s == DLC_OK) s = dlc_tensor_reshape(net->ctx, &av, 1, &len);
    if (s == DLC_OK) s = dlc_tensor_reshape(net->ctx, &dav, 1, &len);
    if (s == DLC_OK) s = dlc_tensor_copy(net->ctx, &ah, &av);
    if (s == DLC_OK) s = dlc_tensor_copy(net->ctx, &dah, &dav);
    for (int64_t i = 0; s == DLC_OK && i < m; i++) {
      for (int64_t p = 0; p < hw; p++) cam[p] = 0.f;
      for (int64_t k = 0; k < K; k++) {
        const float *ak = a + (i * K + k) * hw, *gk = da + (i * K + k) * hw;
        double mean = 0;
        for (int64_t p = 0; p < hw; p++) mean += gk[p];
        float wk = (float)(mean / (double)hw);
        for (int64_t p = 0; p < hw; p++) cam[p] += wk * ak[p];
      }
      for (int64_t p = 0; p < hw; p++) cam[p] = fmaxf(cam[p], 0.f);
      upsample_bilinear(cam, h, w, map + (i0 + i) * H * W, H, W);
    }
  }
  free(a);
  free(cam);
  return s;
}

dlc_status dlc_net_integrated_gradients(dlc_net *net, const float *x, int64_t n, const float *baseline,
                                        const int32_t *cls, int steps, float *attr) {
  if (!net) return DLC_ERR_INVALID_ARG;
  int64_t C, H, W;
  DLC_TRY(image_input(net, "integrated gradients", &C, &H, &W));
  DLC_TRY(check_classes(net, "integrated gradients", cls, n));
  if (steps < 1 || steps > 100000)
    return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "integrated gradients: %d steps (1 to 100000)", steps);
  int64_t S = C * H * W, B = net->max_batch, rows = n * steps;
  float *xs = malloc(sizeof(float) * (size_t)(B * S * 2)), *g = xs ? xs + B * S : NULL;
  int32_t *rc = malloc(sizeof(int32_t) * (size_t)B);
  double *sum = calloc((size_t)(n * S), sizeof(double));
  dlc_status s = xs && rc && sum ? DLC_OK : DLC_FAIL(net->ctx, DLC_ERR_OUT_OF_MEMORY, "integrated gradients: %lld inputs", (long long)B);
  /* Rows r = (input r / steps, step r % steps + 1), in chunks of the batch. */
  CHUNKS(rows, net, r0, m) {
    if (s != DLC_OK) break;
    for (int64_t r = 0; r < m; r++) {
      int64_t i = (r0 + r) / steps, k = (r0 + r) % steps + 1;
      float t = (float)k / (float)steps;
      const float *xi = x + i * S;
      for (int64_t e = 0; e < S; e++) {
        float b = baseline ? baseline[e] : 0.f;
        xs[r * S + e] = b + t * (xi[e] - b);
      }
      rc[r] = cls[i];
    }
    if ((s = score_grad(net, xs, m, rc, g)) != DLC_OK) break;
    for (int64_t r = 0; r < m; r++) {
      double *si = sum + ((r0 + r) / steps) * S;
      for (int64_t e = 0; e < S; e++) si[e] += g[r * S + e];
    }
  }
  for (int64_t i = 0; s == DLC_OK && i < n; i++)
    for (int64_t e = 0; e < S; e++) {
      float b = baseline ? baseline[e] : 0.f;
      attr[i * S + e] = (x[i * S + e] - b) * (float)(sum[i * S + e] / (double)steps);
    }
  free(xs);
  free(rc);
  free(sum);
  return s;
}
