/* fill, scale, axpy and copy over 2^26 floats (2^24 on the CPU): GB/s against the
 * measured copy bandwidth, and scale/axpy against cuBLAS's sscal/saxpy in the same run. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "dlcuda_ops.h"
#include "op_cases.h"

#ifdef DLC_HAVE_CUDA
#include <cublas_v2.h>
#endif

typedef struct ew_arg {
  bench *b;
  int op;
  dlc_tensor *x, *y;
} ew_arg;

static dlc_status run_op(dlc_ctx *ctx, int op, dlc_tensor *x, dlc_tensor *y) {
  switch (op) {
    case 0: return dlc_op_fill(ctx, y, 0.5f);
    case 1: return dlc_op_scale(ctx, 1.0001f, x, y);
    case 2: return dlc_op_axpy(ctx, 1e-4f, x, y);
    default: return dlc_op_copy(ctx, x, y);
  }
}

static dlc_status run_ew(void *p) {
  ew_arg *a = p;
  return run_op(a->b->ctx, a->op, a->x, a->y);
}

#ifdef DLC_HAVE_CUDA
static dlc_status run_cublas(void *p) {
  ew_arg *a = p;
  cublasHandle_t h = dlc_ctx_cublas_handle(a->b->ctx);
  float alpha = a->op == 1 ? 1.0001f : 1e-4f;
  int n = (int)a->y->numel;
  cublasStatus_t s = a->op == 1 ? cublasSscal(h, n, &alpha, a->y->data, 1)
                                : cublasSaxpy(h, n, &alpha, a->x->data, 1, a->y->data, 1);
  return s == CUBLAS_STATUS_SUCCESS ? DLC_OK : DLC_ERR_CUBLAS;
}
#endif

int main(int argc, char **argv) {
  bench b;
  if (!bench_init(&b, "elementwise", argc, argv)) return 1;
  const op_case *row = oc_bench_next(NULL, OC_ELEMENTWISE, b.cuda, b.quick); /* op_cases.c */
  int64_t n = row ? row->n : 0;
  bench_measure_copy(&b, (size_t)n * 4);
  dlc_device d = dlc_ctx_device(b.ctx), cpu = {DLC_DEVICE_CPU, 0};
  dlc_tensor x, y, hx, hy;
  if (dlc_tensor_alloc(b.ctx, &x, DLC_F32, 1, &n, d) || dlc_tensor_alloc(b.ctx, &y, DLC_F32, 1, &n, d) ||
      dlc_tensor_alloc(b.cpu, &hx, DLC_F32, 1, &n, cpu) || dlc_tensor_alloc(b.cpu, &hy, DLC_F32, 1, &n, cpu)) {
    fprintf(stderr, "allocation failed: %s %s\n", dlc_ctx_error(b.ctx), dlc_ctx_error(b.cpu));
    return 1;
  }
  float *got = malloc((size_t)n * 4);
  const char *names[4] = {"fill", "scale", "axpy", "copy (kernel)"};
  /* bytes per element moved: fill writes; scale/copy read+write; axpy reads two, writes one */
  const double bytes_per[4] = {4, 8, 12, 8};
  char shape[32];
  snprintf(shape, sizeof shape, "%lld floats", (long long)n);
  for (int op = 0; op < 4; op++) {
    /* Validate one run against the CPU path on the same data. */
    dlc_tensor_rand_uniform(b.cpu, &hx, -1, 1);
    dlc_tensor_rand_uniform(b.cpu, &hy, -1, 1);
    dlc_tensor_copy(b.ctx, &x, &hx);
    dlc_tensor_copy(b.ctx, &y, &hy);
    if (run_op(b.ctx, op, &x, &y) || run_op(b.cpu, op, &hx, &hy) ||
        dlc_tensor_download(b.ctx, &y, got, y.nbytes)) {
      fprintf(stderr, "%s failed: %s\n", names[op], dlc_ctx_error(b.ctx));
      return 1;
    }
    bench_validate(&b, names[op], hy.data, got, (size_t)n, 1e-12, 1e-6);
    ew_arg a = {&b, op, &x, &y};
    double ms = bench_time_ms(&b, run_ew, &a), peer_ms = 0;
    const char *peer = NULL;
#ifdef DLC_HAVE_CUDA
    if (b.cuda && (op == 1 || op == 2)) {
      peer_ms = bench_time_ms(&b, run_cublas, &a);
      peer = op == 1 ? "cublasSscal" : "cublasSaxpy";
    }
#endif
    bench_report(&b, names[op], shape, ms, bytes_per[op] * (double)n, 0, peer, peer_ms);
  }
  free(got);
  dlc_tensor_free(b.ctx, &x);
  dlc_tensor_free(b.ctx, &y);
  dlc_tensor_free(b.cpu, &hx);
  dlc_tensor_free(b.cpu, &hy);
  int failed = b.failures;
  bench_finish(&b);
  return failed ? 1 : 0;
}
