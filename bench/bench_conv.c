/* Convolution forward, backward-data and backward-weights on the layers of small CNNs
 * (LeNet-5, a Fashion-MNIST CNN, VGG- and ResNet-style 3x3, a 1x1 and a depthwise 3x3):
 * ms and TFLOP/s of the im2col + GEMM path against cuDNN through the same layer state
 * (fastest algorithm found by timing, non-deterministic ones allowed), in exact fp32
 * (CUDNN_FMA_MATH, cuBLAS pedantic) and in TF32. Then pooling (max, average, global
 * average) forward and backward in GB/s against cudnnPoolingForward/Backward. Every result
 * is validated against the CPU path before it is timed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "dlcuda_ops.h"
#include "op_cases.h"

#ifdef DLC_HAVE_CUDNN
#include <cudnn.h>
#endif

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

static const char *dir_names[DLC_CONV_DIRS] = {"fwd", "bwd-data", "bwd-weights"};

typedef struct conv_job {
  bench *b;
  dlc_conv2d_state *s;
  int dir;
  dlc_tensor *x, *w, *y, *dy, *dx, *dw, *ws;
} conv_job;

static dlc_status run_conv(void *p) {
  conv_job *j = p;
  dlc_ctx *ctx = j->b->ctx;
  if (j->dir == DLC_CONV_FWD) return dlc_conv2d_forward(ctx, j->s, j->x, j->w, NULL, j->y, j->ws);
  if (j->dir == DLC_CONV_BWD_DATA) return dlc_conv2d_backward_data(ctx, j->s, j->dy, j->w, j->dx, j->ws);
  return dlc_conv2d_backward_weights(ctx, j->s, j->x, j->dy, j->dw, NULL, j->ws);
}

static double max_abs(const float *a, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++)
    if (fabs(a[i]) > m) m = fabs(a[i]);
  return m;
}

static int alloc2(bench *b, dlc_tensor *dev, dlc_tensor *host, int ndim, const int64_t *shape) {
  if (dlc_tensor_alloc(b->ctx, dev, DLC_F32, ndim, shape, dlc_ctx_device(b->ctx)) != DLC_OK ||
      dlc_tensor_alloc(b->cpu, host, DLC_F32, ndim, shape, cpu) != DLC_OK) {
    fprintf(stderr, "allocation failed: %s %s\n", dlc_ctx_error(b->ctx), dlc_ctx_error(b->cpu));
    return 0;
  }
  return 1;
}

/* Runs each direction once on the device (gradients from zero) and compares with the CPU
 * references; tolerances scale with the largest reference value. */
static void validate_conv(bench *b, conv_job *j, const char *tag, dlc_tensor *ref[3], float *got,
                          int tf32) {
  dlc_tensor *out[3] = {j->y, j->dx, j->dw};
  for (int d = 0; d < DLC_CONV_DIRS; d++) {
    if (d) dlc_tensor_fill(b->ctx, out[d], 0.f);
    j->dir = d;
    if (run_conv(j) != DLC_OK) {
      fprintf(stderr, "%s %s failed: %s\n", tag, dir_names[d], dlc_ctx_error(b->ctx));
      b->failures++;
      continue;
    }
    dlc_tensor_download(b->ctx, out[d], got, out[d]->nbytes);
    char what[256];
    snprintf(what, sizeof what, "%s %s", tag, dir_names[d]);
    double m = max_abs(ref[d]->data, ref[d]->numel);
    bench_validate(b, what, ref[d]->data, got, (size_t)ref[d]->numel, tf32 ? 1e-5 : 1e-9,
                   (tf32 ? 1e-2 : 1e-4) * (m > 1 ? m : 1));
  }
}

static void bench_conv_cfg(bench *b, const op_case *row) {
  const oc_conv *cf = &row->conv;
  int64_t n = cf->n;
  if (!b->cuda) n = b->quick ? 2 : (n < 16 ? n : 16);
  else if (b->quick) n = n < 8 ? n : 8;
  dlc_conv2d_params p = dlc_conv2d_params_make(cf->c, cf->o, cf->kh, cf->kw);
  p.stride_h = cf->sh, p.stride_w = cf->sw;
  p.pad_h = cf->ph, p.pad_w = cf->pw;
  p.dilation_h = cf->dh, p.dilation_w = cf->dw;
  p.groups = cf->g;
  p.algo = DLC_CONV_IM2COL;
  dlc_conv2d_state *hs = NULL;
  if (dlc_conv2d_create(b->cpu, &p, n, cf->h, cf->w, &hs) != DLC_OK) {
    fprintf(stderr, "%s: %s\n", row->name, dlc_ctx_error(b->cpu));
    b->failures++;
    return;
  }
  dlc_conv2d_info hi;
  dlc_conv2d_get_info(hs, &hi);
  int64_t xs[4] = {n, cf->c, cf->h, cf->w}, ws4[4] = {cf->o, cf->c / cf->g, cf->kh, cf->kw};
  int64_t ys[4] = {n, cf->o, hi.out_h, hi.out_w};
  dlc_tensor x, w, y, dy, dx, dw, hx, hw, hy, hdy, hdx, hdw;
  if (!alloc2(b, &x, &hx, 4, xs) || !alloc2(b, &w, &hw, 4, ws4) || !alloc2(b, &y, &hy, 4, ys) ||
      !alloc2(b, &dy, &hdy, 4, ys) || !alloc2(b, &dx, &hdx, 4, xs) || !alloc2(b, &dw, &hdw, 4, ws4)) {
    b->failures++;
    return;
  }
  float fan = 1.f / sqrtf((float)(cf->c / cf->g * cf->kh * cf->kw));
  dlc_tensor_rand_uniform(b->cpu, &hx, -1, 1);
  dlc_tensor_rand_uniform(b->cpu, &hw, -fan, fan);
  dlc_tensor_rand_uniform(b->cpu, &hdy, -1, 1);
  dlc_tensor_fill(b->cpu, &hdx, 0.f);
  dlc_tensor_fill(b->cpu, &hdw, 0.f);
  int64_t hn = (int64_t)((dlc_conv2d_workspace_bytes(hs) + 3) / 4);
  dlc_tensor hws;
  memset(&hws, 0, sizeof hws);
  if (hn) dlc_tensor_alloc(b->cpu, &hws, DLC_F32, 1, &hn, cpu);
  dlc_tensor *hwsp = hn ? &hws : NULL;
  /* The CPU references. */
  if (dlc_conv2d_forward(b->cpu, hs, &hx, &hw, NULL, &hy, hwsp) != DLC_OK ||
      dlc_conv2d_backward_data(b->cpu, hs, &hdy, &hw, &hdx, hwsp) != DLC_OK ||
      dlc_conv2d_backward_weights(b->cpu, hs, &hx, &hdy, &hdw, NULL, hwsp) != DLC_OK) {
    fprintf(stderr, "%s: CPU reference: %s\n", row->name, dlc_ctx_error(b->cpu));
    b->failures++;
  }
  dlc_tensor_copy(b->ctx, &x, &hx);
  dlc_tensor_copy(b->ctx, &w, &hw);
  dlc_tensor_copy(b->ctx, &dy, &hdy);
  dlc_tensor *ref[3] = {&hy, &hdx, &hdw};
  float *got = malloc(hx.nbytes > hy.nbytes ? hx.nbytes : hy.nbytes);
  char shape[96];
  snprintf(shape, sizeof shape, "[%lld,%lld,%lld,%lld]->%lld", (long long)n, (long long)cf->c,
           (long long)cf->h, (long long)cf->w, (long long)cf->o);
  double flops = 2.0 * (double)n * (double)cf->o * (double)(hi.out_h * hi.out_w) *
                 (double)(cf->c / cf->g) * (double)(cf->kh * cf->kw);
  /* Minimal traffic of each direction: its two inputs and its output. */
  double bytes[3] = {(double)(x.nbytes + w.nbytes + y.nbytes), (double)(dy.nbytes + w.nbytes + 2 * dx.nbytes),
                     (double)(x.nbytes + dy.nbytes + 2 * dw.nbytes)};
  int have_cudnn = b->cuda && dlc_ctx_cudnn_handle(b->ctx) != NULL;
  for (int tf32 = 0; tf32 < (b->cuda ? 2 : 1); tf32++) {
    dlc_ctx_set_tf32(b->ctx, tf32);
    double ms[2][DLC_CONV_DIRS] = {{0, 0, 0}, {0, 0, 0}};
    for (int path = 0; path < (have_cudnn ? 2 : 1); path++) {
      p.algo = path ? DLC_CONV_CUDNN : DLC_CONV_IM2COL;
      p.cudnn_nondeterministic = 1;
      dlc_conv2d_state *s = NULL;
      if (dlc_conv2d_create(b->ctx, &p, n, cf->h, cf->w, &s) != DLC_OK) {
        fprintf(stderr, "%s: %s\n", row->name, dlc_ctx_error(b->ctx));
        b->failures++;
        continue;
      }
      int64_t wn = (int64_t)((dlc_conv2d_workspace_bytes(s) + 3) / 4);
      dlc_tensor ws;
      memset(&ws, 0, sizeof ws);
      if (wn) dlc_tensor_alloc(b->ctx, &ws, DLC_F32, 1, &wn, dlc_ctx_device(b->ctx));
      conv_job j = {b, s, 0, &x, &w, &y, &dy, &dx, &dw, wn ? &ws : NULL};
      dlc_conv2d_info si;
      dlc_conv2d_get_info(s, &si);
      char tag[160];
      snprintf(tag, sizeof tag, "%s %s%s", row->name, path ? "cudnn" : "im2col", tf32 ? " tf32" : "");
      if (path)
        printf("# %s: cuDNN for fwd/bwd-data/bwd-weights: %d/%d/%d (else im2col), workspace %zu bytes\n",
               tag, si.use_cudnn[0], si.use_cudnn[1], si.use_cudnn[2], si.workspace_bytes);
      validate_conv(b, &j, tag, ref, got, tf32);
      for (int d = 0; d < DLC_CONV_DIRS; d++) {
        j.dir = d;
        ms[path][d] = bench_time_ms(b, run_conv, &j);
      }
      if (path) {
        dlc_conv2d_get_info(s, &si); /* the fallbacks counted while timing */
        const int64_t *fb = si.cudnn_fallbacks;
        printf("# %s: cuDNN calls that fell back to im2col (workspace): %lld/%lld/%lld\n", tag,
               (long long)fb[0], (long long)fb[1], (long long)fb[2]);
        if (fb[0] + fb[1] + fb[2] > 0) {
          fprintf(stderr, "%s: cuDNN was chosen but fell back to im2col\n", tag);
          b->failures++;
        }
      }
      dlc_tensor_free(b->ctx, &ws);
      dlc_conv2d_destroy(b->ctx, s);
    }
    for (int d = 0; d < DLC_CONV_DIRS; d++) {
      char op[128];
      snprintf(op, sizeof op, "conv %s %s%s", dir_names[d], row->name, tf32 ? " TF32" : "");
      bench_report(b, op, shape, ms[0][d], bytes[d], flops, have_cudnn ? (tf32 ? "cuDNN TF32" : "cuDNN FMA") : NULL,
                   ms[1][d]);
    }
  }
  dlc_ctx_set_tf32(b->ctx, 0);
  free(got);
  dlc_tensor *dev[] = {&x, &w, &y, &dy, &dx, &dw}, *host[] = {&hx, &hw, &hy, &hdy, &hdx, &hdw, &hws};
  for (int i = 0; i < 6; i++) dlc_tensor_free(b->ctx, dev[i]);
  for (int i = 0; i < 7; i++) dlc_tensor_free(b->cpu, host[i]);
  dlc_conv2d_destroy(b->cpu, hs);
}

/* ---------------------------------------------------------------- pooling */

typedef struct pool_job {
  bench *b;
  const dlc_pool2d_state *s;
  int backward;
  dlc_tensor *x, *y, *am, *dy, *dx;
#ifdef DLC_HAVE_CUDNN
  cudnnPoolingDescriptor_t pd;
  cudnnTensorDescriptor_t xd, yd;
#endif
} pool_job;

static dlc_status run_pool(void *p) {
  pool_job *j = p;
  if (!j->backward) return dlc_pool2d_forward(j->b->ctx, j->s, j->x, j->y, j->am);
  return dlc_pool2d_backward(j->b->ctx, j->s, j->dy, j->am, j->dx);
}

#ifdef DLC_HAVE_CUDNN
/* cuDNN's backward reads y, dy and x; beta = 1 accumulates into dx like ours. */
static dlc_status run_cudnn_pool(void *p) {
  pool_job *j = p;
  cudnnHandle_t h = dlc_ctx_cudnn_handle(j->b->ctx);
  float one = 1.f, zero = 0.f;
  cudnnStatus_t st =
      j->backward ? cudnnPoolingBackward(h, j->pd, &one, j->yd, j->y->data, j->yd, j->dy->data, j->xd,
                                         j->x->data, &one, j->xd, j->dx->data)
                  : cudnnPoolingForward(h, j->pd, &one, j->xd, j->x->data, &zero, j->yd, j->y->data);
  return st == CUDNN_STATUS_SUCCESS ? DLC_OK : DLC_ERR_CUDNN;
}
#endif

static void bench_pool_cfg(bench *b, const op_case *row) {
  const oc_pool *cf = &row->pool;
  int64_t n = cf->n;
  if (!b->cuda) n = b->quick ? 2 : (n < 8 ? n : 8);
  else if (b->quick) n = n < 8 ? n : 8;
  dlc_pool2d_params p = dlc_pool2d_params_make(cf->mode, cf->kh, cf->kw);
  p.stride_h = cf->sh, p.stride_w = cf->sw;
  p.pad_h = cf->ph, p.pad_w = cf->pw;
  p.ceil_mode = cf->ceil_mode;
  p.count_include_pad = cf->count_include_pad;
  dlc_pool2d_state s;
  if (dlc_pool2d_init(b->ctx, &s, &p, cf->c, cf->h, cf->w) != DLC_OK) {
    fprintf(stderr, "%s: %s\n", row->name, dlc_ctx_error(b->ctx));
    b->failures++;
    return;
  }
  int64_t xs[4] = {n, cf->c, cf->h, cf->w}, ys[4] = {n, cf->c, s.out_h, s.out_w};
  dlc_tensor x, y, dy, dx, am, hx, hy, hdy, hdx, ham;
  if (!alloc2(b, &x, &hx, 4, xs) || !alloc2(b, &y, &hy, 4, ys) || !alloc2(b, &dy, &hdy, 4, ys) ||
      !alloc2(b, &dx, &hdx, 4, xs) ||
      dlc_tensor_alloc(b->ctx, &am, DLC_I32, 4, ys, dlc_ctx_device(b->ctx)) != DLC_OK ||
      dlc_tensor_alloc(b->cpu, &ham, DLC_I32, 4, ys, cpu) != DLC_OK) {
    b->failures++;
    return;
  }
  int max = cf->mode == DLC_POOL_MAX;
  dlc_tensor_rand_uniform(b->cpu, &hx, -1, 1);
  dlc_tensor_rand_uniform(b->cpu, &hdy, -1, 1);
  dlc_tensor_fill(b->cpu, &hdx, 0.f);
  dlc_pool2d_forward(b->cpu, &s, &hx, &hy, &ham);
  dlc_pool2d_backward(b->cpu, &s, &hdy, &ham, &hdx);
  dlc_tensor_copy(b->ctx, &x, &hx);
  dlc_tensor_copy(b->ctx, &dy, &hdy);
  dlc_tensor_fill(b->ctx, &dx, 0.f);
  pool_job j;
  memset(&j, 0, sizeof j);
  j.b = b; j.s = &s; j.x = &x; j.y = &y; j.am = max ? &am : NULL; j.dy = &dy; j.dx = &dx;
  float *got = malloc(hx.nbytes);
  char shape[96];
  snprintf(shape, sizeof shape, "[%lld,%lld,%lld,%lld]", (long long)n, (long long)cf->c,
           (long long)cf->h, (long long)cf->w);
  double xb = (double)hx.nbytes, yb = (double)hy.nbytes, ab = max ? (double)ham.nbytes : 0;
  /* Traffic: forward reads x, writes y (and the argmax); backward reads dy (and the
   * argmax) and reads and writes dx. */
  double bytes[2] = {xb + yb + ab, yb + ab + 2 * xb};
  for (int backward = 0; backward < 2; backward++) {
    j.backward = backward;
    char what[128];
    snprintf(what, sizeof what, "%s %s", row->name, backward ? "backward" : "forward");
    if (run_pool(&j) != DLC_OK) {
      fprintf(stderr, "%s failed: %s\n", what, dlc_ctx_error(b->ctx));
      b->failures++;
      continue;
    }
    dlc_tensor *out = backward ? &dx : &y, *ref = backward ? &hdx : &hy;
    dlc_tensor_download(b->ctx, out, got, out->nbytes);
    bench_validate(b, what, ref->data, got, (size_t)ref->numel, 1e-12, 1e-5);
    double ms = bench_time_ms(b, run_pool, &j), peer_ms = 0;
    const char *peer = NULL;
#ifdef DLC_HAVE_CUDNN
    if (b->cuda && dlc_ctx_cudnn_handle(b->ctx)) {
      const int global = cf->mode == DLC_POOL_GLOBAL_AVG;
      int kh = (int)(global ? cf->h : cf->kh), kw = (int)(global ? cf->w : cf->kw);
      int sh = (int)(global ? 1 : cf->sh), sw = (int)(global ? 1 : cf->sw);
      cudnnPoolingMode_t mode = max ? CUDNN_POOLING_MAX
                                    : cf->count_include_pad ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                                            : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
      if (cudnnCreatePoolingDescriptor(&j.pd) != CUDNN_STATUS_SUCCESS ||
          cudnnCreateTensorDescriptor(&j.xd) != CUDNN_STATUS_SUCCESS ||
          cudnnCreateTensorDescriptor(&j.yd) != CUDNN_STATUS_SUCCESS ||
          cudnnSetPooling2dDescriptor(j.pd, mode, CUDNN_PROPAGATE_NAN, kh, kw, (int)cf->ph,
                                      (int)cf->pw, sh, sw) != CUDNN_STATUS_SUCCESS ||
          cudnnSetTensor4dDescriptor(j.xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n, (int)cf->c,
                                     (int)cf->h, (int)cf->w) != CUDNN_STATUS_SUCCESS ||
          cudnnSetTensor4dDescriptor(j.yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n, (int)cf->c,
                                     (int)s.out_h, (int)s.out_w) != CUDNN_STATUS_SUCCESS) {
        fprintf(stderr, "%s: cuDNN pooling descriptors failed\n", what);
        b->failures++;
      }
      /* The peer computes the same thing: its forward is checked against the CPU too. */
      if (!backward) {
        if (run_cudnn_pool(&j) == DLC_OK) {
          dlc_tensor_download(b->ctx, &y, got, y.nbytes);
          char pw[160];
          snprintf(pw, sizeof pw, "%s (cuDNN)", what);
          bench_validate(b, pw, hy.data, got, (size_t)hy.numel, 1e-10, 1e-5);
        } else {
          fprintf(stderr, "%s: cudnnPoolingForward failed\n", what);
          b->failures++;
        }
      }
      peer_ms = bench_time_ms(b, run_cudnn_pool, &j);
      peer = backward ? "cudnnPoolingBackward" : "cudnnPoolingForward";
      cudnnDestroyTensorDescriptor(j.yd);
      cudnnDestroyTensorDescriptor(j.xd);
      cudnnDestroyPoolingDescriptor(j.pd);
      /* cuDNN overwrote y: restore ours for the backward pass's argmax consistency. */
      if (!backward && max) run_pool(&j);
    }
#endif
    bench_report(b, what, shape, ms, bytes[backward], 0, peer, peer_ms);
  }
  free(got);
  dlc_tensor *dev[] = {&x, &y, &dy, &dx, &am}, *host[] = {&hx, &hy, &hdy, &hdx, &ham};
  for (int i = 0; i < 5; i++) {
    dlc_tensor_free(b->ctx, dev[i]);
    dlc_tensor_free(b->cpu, host[i]);
  }
}

int main(int argc, char **argv) {
  bench b;
  if (!bench_init(&b, "conv", argc, argv)) return 1;
  bench_measure_copy(&b, (size_t)(b.cuda ? 256 : 64) << 20);
  /* The layers are the op cases' benchmark rows (op_cases.c); N is capped above. */
  for (const op_case *k = NULL; (k = oc_bench_next(k, OC_CONV, b.cuda, b.quick));) bench_conv_cfg(&b, k);
  for (const op_case *k = NULL; (k = oc_bench_next(k, OC_POOL, b.cuda, b.quick));) bench_pool_cfg(&b, k);
  int failed = b.failures;
  bench_finish(&b);
  return failed ? 1 : 0;
}
