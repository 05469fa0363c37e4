/* Softmax and log-softmax forward and backward at 1M x 10, 65536 x 1000 and 4096 x 32768
 * (smaller on the CPU), and softmax cross-entropy at 64 x 10 (microseconds: launch-bound)
 * and 8192 x 1000. Each op is validated against the CPU path first; results give GB/s,
 * the fraction of the measured device-to-device copy, and, when built with cuDNN, the ratio
 * to cudnnSoftmaxForward / cudnnSoftmaxBackward (ACCURATE or LOG, MODE_INSTANCE on an
 * N x C x 1 x 1 tensor, backward with beta = 1 so that it accumulates like ours) on the
 * same data in the same run. */
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

typedef struct sm_arg {
  bench *b;
  int lg;
  dlc_tensor *x, *y, *dy, *dx;
#ifdef DLC_HAVE_CUDNN
  cudnnTensorDescriptor_t desc;
#endif
} sm_arg;

static dlc_status run_fwd(void *p) {
  sm_arg *a = p;
  return dlc_op_softmax_fwd(a->b->ctx, a->lg, a->x, a->y);
}

static dlc_status run_bwd(void *p) {
  sm_arg *a = p;
  return dlc_op_softmax_bwd(a->b->ctx, a->lg, a->y, a->dy, a->dx);
}

#ifdef DLC_HAVE_CUDNN
static dlc_status run_cudnn_fwd(void *p) {
  sm_arg *a = p;
  const float one = 1.f, zero = 0.f;
  cudnnStatus_t s = cudnnSoftmaxForward(
      dlc_ctx_cudnn_handle(a->b->ctx), a->lg ? CUDNN_SOFTMAX_LOG : CUDNN_SOFTMAX_ACCURATE,
      CUDNN_SOFTMAX_MODE_INSTANCE, &one, a->desc, a->x->data, &zero, a->desc, a->y->data);
  return s == CUDNN_STATUS_SUCCESS ? DLC_OK : DLC_ERR_CUDNN;
}

static dlc_status run_cudnn_bwd(void *p) {
  sm_arg *a = p;
  const float one = 1.f;
  cudnnStatus_t s = cudnnSoftmaxBackward(
      dlc_ctx_cudnn_handle(a->b->ctx), a->lg ? CUDNN_SOFTMAX_LOG : CUDNN_SOFTMAX_ACCURATE,
      CUDNN_SOFTMAX_MODE_INSTANCE, &one, a->desc, a->y->data, a->desc, a->dy->data, &one,
      a->desc, a->dx->data);
  return s == CUDNN_STATUS_SUCCESS ? DLC_OK : DLC_ERR_CUDNN;
}
#endif

/* Runs fn once on b->ctx and downloads `out` into got. */
static int run_once(bench *b, dlc_status (*fn)(void *), void *arg, const dlc_tensor *out,
                    float *got) {
  if (fn(arg) != DLC_OK || dlc_tensor_download(b->ctx, out, got, out->nbytes) != DLC_OK) {
    fprintf(stderr, "%s: %s\n", b->name, dlc_ctx_error(b->ctx));
    b->failures++;
    return 0;
  }
  return 1;
}

static void bench_softmax_size(bench *b, int64_t rows, int64_t C) {
  int64_t shape[2] = {rows, C};
  const int64_t n = rows * C;
  dlc_device d = dlc_ctx_device(b->ctx);
  dlc_tensor x, y, dy, dx, hx, hy, hdy, hdx;
  if (dlc_tensor_alloc(b->ctx, &x, DLC_F32, 2, shape, d) || dlc_tensor_alloc(b->ctx, &y, DLC_F32, 2, shape, d) ||
      dlc_tensor_alloc(b->ctx, &dy, DLC_F32, 2, shape, d) || dlc_tensor_alloc(b->ctx, &dx, DLC_F32, 2, shape, d) ||
      dlc_tensor_alloc(b->cpu, &hx, DLC_F32, 2, shape, cpu) || dlc_tensor_alloc(b->cpu, &hy, DLC_F32, 2, shape, cpu) ||
      dlc_tensor_alloc(b->cpu, &hdy, DLC_F32, 2, shape, cpu) || dlc_tensor_alloc(b->cpu, &hdx, DLC_F32, 2, shape, cpu)) {
    fprintf(stderr, "allocation failed: %s %s\n", dlc_ctx_error(b->ctx), dlc_ctx_error(b->cpu));
    b->failures++;
    return;
  }
  float *got = malloc((size_t)n * 4), *dx0 = malloc((size_t)n * 4);
  dlc_tensor_rand_normal(b->cpu, &hx, 0.f, 3.f);
  dlc_tensor_rand_normal(b->cpu, &hdy, 0.f, 1.f);
  dlc_tensor_rand_uniform(b->cpu, &hdx, -1.f, 1.f);
  memcpy(dx0, hdx.data, (size_t)n * 4);
  dlc_tensor_copy(b->ctx, &x, &hx);
  dlc_tensor_copy(b->ctx, &dy, &hdy);
  char shape_s[48];
  snprintf(shape_s, sizeof shape_s, "%lld x %lld", (long long)rows, (long long)C);
  sm_arg a;
  memset(&a, 0, sizeof a);
  a.b = b;
  a.x = &x;
  a.y = &y;
  a.dy = &dy;
  a.dx = &dx;
#ifdef DLC_HAVE_CUDNN
  if (b->cuda) {
    cudnnCreateTensorDescriptor(&a.desc);
    if (cudnnSetTensor4dDescriptor(a.desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)rows, (int)C,
                                   1, 1) != CUDNN_STATUS_SUCCESS) {
      cudnnDestroyTensorDescriptor(a.desc);
      a.desc = NULL;
    }
  }
#endif
  for (int lg = 0; lg < 2; lg++) {
    a.lg = lg;
    const char *name = lg ? "log_softmax" : "softmax";
    char what[96];
    /* forward: validate, then time; bytes = read x + write y */
    dlc_op_softmax_fwd(b->cpu, lg, &hx, &hy);
    snprintf(what, sizeof what, "%s fwd %s", name, shape_s);
    if (!run_once(b, run_fwd, &a, &y, got)) break;
    bench_validate(b, what, hy.data, got, (size_t)n, 1e-10, lg ? 1e-4 : 1e-5);
    double ms = bench_time_ms(b, run_fwd, &a), peer_ms = 0;
    const char *peer = NULL;
#ifdef DLC_HAVE_CUDNN
    if (a.desc) {
      snprintf(what, sizeof what, "cudnn %s fwd %s", name, shape_s);
      if (run_once(b, run_cudnn_fwd, &a, &y, got) &&
          bench_validate(b, what, hy.data, got, (size_t)n, 1e-10, lg ? 1e-4 : 1e-5)) {
        peer_ms = bench_time_ms(b, run_cudnn_fwd, &a);
        peer = "cudnnSoftmaxForward";
      }
    }
#endif
    snprintf(what, sizeof what, "%s fwd", name);
    bench_report(b, what, shape_s, ms, 8.0 * (double)n, 0, peer, peer_ms);

    /* backward from the CPU's y onto dx0: bytes = read y, dy, dx + write dx */
    dlc_tensor_copy(b->ctx, &y, &hy);
    memcpy(hdx.data, dx0, (size_t)n * 4);
    dlc_op_softmax_bwd(b->cpu, lg, &hy, &hdy, &hdx);
    dlc_tensor_upload(b->ctx, &dx, dx0, (size_t)n * 4);
    snprintf(what, sizeof what, "%s bwd %s", name, shape_s);
    if (!run_once(b, run_bwd, &a, &dx, got)) break;
    bench_validate(b, what, hdx.data, got, (size_t)n, 1e-10, 1e-4);
    ms = bench_time_ms(b, run_bwd, &a);
    peer_ms = 0;
    peer = NULL;
#ifdef DLC_HAVE_CUDNN
    if (a.desc) {
      dlc_tensor_upload(b->ctx, &dx, dx0, (size_t)n * 4);
      snprintf(what, sizeof what, "cudnn %s bwd %s", name, shape_s);
      if (run_once(b, run_cudnn_bwd, &a, &dx, got) &&
          bench_validate(b, what, hdx.data, got, (size_t)n, 1e-10, 1e-4)) {
        peer_ms = bench_time_ms(b, run_cudnn_bwd, &a);
        peer = "cudnnSoftmaxBackward";
      }
    }
#endif
    snprintf(what, sizeof what, "%s bwd", name);
    bench_report(b, what, shape_s, ms, 16.0 * (double)n, 0, peer, peer_ms);
  }
#ifdef DLC_HAVE_CUDNN
  if (a.desc) cudnnDestroyTensorDescriptor(a.desc);
#endif
  free(got);
  free(dx0);
  dlc_tensor *all[] = {&x, &y, &dy, &dx};
  for (int i = 0; i < 4; i++) dlc_tensor_free(b->ctx, all[i]);
  dlc_tensor *hall[] = {&hx, &hy, &hdy, &hdx};
  for (int i = 0; i < 4; i++) dlc_tensor_free(b->cpu, hall[i]);
}

/* ------------------------------------------------------------------ cross-entropy */

typedef struct xent_arg {
  bench *b;
  dlc_tensor *logits, *labels, *logp, *row_w, *loss, *dlogits;
  dlc_xent_opts o;
} xent_arg;

static dlc_status run_xent_fwd(void *p) {
  xent_arg *a = p;
  return dlc_op_softmax_xent_fwd(a->b->ctx, a->logits, a->labels, &a->o, a->logp, a->row_w,
                                 a->loss);
}

static dlc_status run_xent_bwd(void *p) {
  xent_arg *a = p;
  return dlc_op_softmax_xent_bwd(a->b->ctx, a->logp, a->labels, a->row_w, &a->o, 1.f,
                                 a->dlogits);
}

static dlc_status run_xent_both(void *p) {
  dlc_status s = run_xent_fwd(p);
  return s ? s : run_xent_bwd(p);
}

static void bench_xent_size(bench *b, int64_t rows, int64_t C) {
  int64_t shape[2] = {rows, C}, one = 1;
  const int64_t n = rows * C;
  dlc_device d = dlc_ctx_device(b->ctx);
  dlc_tensor x, lab, lp, rw, loss, dx, hx, hlab, hlp, hrw, hloss, hdx;
  if (dlc_tensor_alloc(b->ctx, &x, DLC_F32, 2, shape, d) || dlc_tensor_alloc(b->ctx, &lab, DLC_I32, 1, &rows, d) ||
      dlc_tensor_alloc(b->ctx, &lp, DLC_F32, 2, shape, d) || dlc_tensor_alloc(b->ctx, &rw, DLC_F32, 1, &rows, d) ||
      dlc_tensor_alloc(b->ctx, &loss, DLC_F32, 1, &one, d) || dlc_tensor_alloc(b->ctx, &dx, DLC_F32, 2, shape, d) ||
      dlc_tensor_alloc(b->cpu, &hx, DLC_F32, 2, shape, cpu) || dlc_tensor_alloc(b->cpu, &hlab, DLC_I32, 1, &rows, cpu) ||
      dlc_tensor_alloc(b->cpu, &hlp, DLC_F32, 2, shape, cpu) || dlc_tensor_alloc(b->cpu, &hrw, DLC_F32, 1, &rows, cpu) ||
      dlc_tensor_alloc(b->cpu, &hloss, DLC_F32, 1, &one, cpu) || dlc_tensor_alloc(b->cpu, &hdx, DLC_F32, 2, shape, cpu)) {
    fprintf(stderr, "allocation failed: %s %s\n", dlc_ctx_error(b->ctx), dlc_ctx_error(b->cpu));
    b->failures++;
    return;
  }
  dlc_tensor_rand_normal(b->cpu, &hx, 0.f, 2.f);
  int32_t *lb = hlab.data;
  for (int64_t r = 0; r < rows; r++) lb[r] = (int32_t)((r * 2654435761u) % (uint64_t)C);
  dlc_tensor_copy(b->ctx, &x, &hx);
  dlc_tensor_copy(b->ctx, &lab, &hlab);
  xent_arg a = {b, &x, &lab, &lp, &rw, &loss, &dx, dlc_xent_opts_default()};
  a.o.label_smoothing = 0.1f;
  char shape_s[48];
  snprintf(shape_s, sizeof shape_s, "%lld x %lld", (long long)rows, (long long)C);
  float *got = malloc((size_t)n * 4), gl = 0;
  /* Validate forward (loss, logp) and backward (dlogits from zero) against the CPU. */
  xent_arg h = {b, &hx, &hlab, &hlp, &hrw, &hloss, &hdx, a.o};
  dlc_op_fill(b->cpu, &hdx, 0.f);
  dlc_op_fill(b->ctx, &dx, 0.f);
  if (dlc_op_softmax_xent_fwd(b->cpu, h.logits, h.labels, &h.o, h.logp, h.row_w, h.loss) ||
      dlc_op_softmax_xent_bwd(b->cpu, h.logp, h.labels, h.row_w, &h.o, 1.f, h.dlogits) ||
      !run_once(b, run_xent_fwd, &a, &loss, &gl)) {
    fprintf(stderr, "xent validation run failed: %s\n", dlc_ctx_error(b->cpu));
    b->failures++;
  } else {
    char what[96];
    snprintf(what, sizeof what, "xent loss %s", shape_s);
    bench_validate(b, what, hloss.data, &gl, 1, 1e-10, 1e-4);
    if (run_once(b, run_xent_bwd, &a, &dx, got)) {
      snprintf(what, sizeof what, "xent dlogits %s", shape_s);
      bench_validate(b, what, hdx.data, got, (size_t)n, 1e-10, 1e-6);
    }
  }
  const double bytes_fwd = 8.0 * (double)n + 8.0 * (double)rows; /* logits, logp, labels, row_w */
  const double bytes_bwd = 12.0 * (double)n + 8.0 * (double)rows; /* logp, dlogits r+w */
  const double f = bench_time_ms(b, run_xent_fwd, &a);
  bench_report(b, "softmax_xent fwd", shape_s, f, bytes_fwd, 0, NULL, 0);
  const double g = bench_time_ms(b, run_xent_bwd, &a);
  bench_report(b, "softmax_xent bwd", shape_s, g, bytes_bwd, 0, NULL, 0);
  const double both = bench_time_ms(b, run_xent_both, &a);
  bench_report(b, "softmax_xent fwd+bwd", shape_s, both, bytes_fwd + bytes_bwd, 0, NULL, 0);
  if (!b->emulated)
    printf("# softmax_xent %s: fwd %.2f us, bwd %.2f us, fwd+bwd %.2f us\n", shape_s, f * 1e3,
           g * 1e3, both * 1e3);
  free(got);
  dlc_tensor *all[] = {&x, &lab, &lp, &rw, &loss, &dx};
  for (int i = 0; i < 6; i++) dlc_tensor_free(b->ctx, all[i]);
  dlc_tensor *hall[] = {&hx, &hlab, &hlp, &hrw, &hloss, &hdx};
  for (int i = 0; i < 6; i++) dlc_tensor_free(b->cpu, hall[i]);
}

int main(int argc, char **argv) {
  bench b;
  if (!bench_init(&b, "softmax", argc, argv)) return 1;
  /* rows x C: the op cases' benchmark rows (op_cases.c); the CPU runs smaller problems of
   * the same row lengths. */
  bench_measure_copy(&b, (size_t)(b.cuda ? 256 : (b.quick ? 16 : 64)) << 20);
  for (const op_case *k = NULL; (k = oc_bench_next(k, OC_SOFTMAX, b.cuda, b.quick));)
    bench_softmax_size(&b, k->softmax.rows, k->softmax.cols);
  for (const op_case *k = NULL; (k = oc_bench_next(k, OC_XENT, b.cuda, b.quick));)
    bench_xent_size(&b, k->xent.rows, k->xent.cols);
  int failed = b.failures;
  bench_finish(&b);
  return failed ? 1 : 0;
}
