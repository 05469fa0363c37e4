#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef DLC_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int bench_init(bench *b, const char *name, int argc, char **argv) {
  memset(b, 0, sizeof *b);
  b->name = name;
  b->runs = 25;
  b->warmup = 3;
  b->json = stdout;
  int want_cpu = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--cpu")) want_cpu = 1;
    else if (!strcmp(argv[i], "--quick")) b->quick = 1;
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc) b->runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
      b->json = fopen(argv[++i], "a");
      if (!b->json) { perror(argv[i]); return 0; }
    } else {
      fprintf(stderr, "usage: %s [--cpu] [--quick] [--runs N] [--json FILE]\n", argv[0]);
      return 0;
    }
  }
  if (b->runs < 1) b->runs = 1;
  if (b->quick && b->runs > 5) b->runs = 5;
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = DLC_DEVICE_CPU;
  if (dlc_ctx_create(&b->cpu, &o) != DLC_OK) {
    fprintf(stderr, "%s: %s\n", name, dlc_ctx_error(b->cpu));
    return 0;
  }
  /* A GPU benchmark that silently ran on the CPU would report CPU figures as GPU ones:
   * without --cpu it needs a CUDA device, or it fails saying why. */
  o.device = want_cpu ? DLC_DEVICE_CPU : DLC_DEVICE_CUDA;
  if (dlc_ctx_create(&b->ctx, &o) != DLC_OK) {
    fprintf(stderr, "%s: %s (--cpu benchmarks the CPU path)\n", name, dlc_ctx_error(b->ctx));
    return 0;
  }
  b->cuda = dlc_ctx_device(b->ctx).kind == DLC_DEVICE_CUDA;
#ifdef DLC_CUDA_EMULATED
  /* The emulated device runs every kernel on the CPU: the benchmark still validates each
   * op there, once, but reports no time, bandwidth or ratio. */
  b->emulated = b->cuda;
  if (b->emulated) b->runs = 1, b->warmup = 0;
#endif
  if (dlc_ctx_notice(b->ctx)[0]) printf("# %s\n", dlc_ctx_notice(b->ctx));
#ifdef DLC_HAVE_CUDA
  if (b->cuda) {
    int dev = dlc_ctx_device(b->ctx).index, l2 = 0;
    cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev);
    b->flush_bytes = (size_t)(l2 > 0 ? l2 : 64 << 20) * 2;
    if (cudaMalloc(&b->flush, b->flush_bytes) != cudaSuccess) return 0;
    cudaEventCreate((cudaEvent_t *)&b->ev[0]);
    cudaEventCreate((cudaEvent_t *)&b->ev[1]);
    struct cudaDeviceProp p;
    cudaGetDeviceProperties(&p, dev);
    printf("# %s on cuda:%d %s, %d SMs, L2 %d MiB, %s\n", name, dev, p.name,
           p.multiProcessorCount, l2 >> 20, dlc_build_info());
  }
#endif
  if (!b->cuda) {
    b->flush_bytes = (size_t)64 << 20;
    b->flush = malloc(b->flush_bytes);
    if (!b->flush) return 0;
    printf("# %s on the CPU (%d threads), %s\n", name, dlc_ctx_threads(b->ctx), dlc_build_info());
  }
  if (b->emulated)
    printf("# EMULATED device: each op is validated once; no speed figures\n");
  else
    printf("# median of %d runs after %d warm-up, cache flushed before each\n", b->runs, b->warmup);
  return 1;
}

void bench_finish(bench *b) {
#ifdef DLC_HAVE_CUDA
  if (b->cuda) {
    cudaFree(b->flush);
    cudaEventDestroy((cudaEvent_t)b->ev[0]);
    cudaEventDestroy((cudaEvent_t)b->ev[1]);
  } else
#endif
    free(b->flush);
  if (b->json && b->json != stdout) fclose(b->json);
  dlc_ctx_destroy(b->ctx);
  dlc_ctx_destroy(b->cpu);
}

static void flush_cache(bench *b) {
#ifdef DLC_HAVE_CUDA
  if (b->cuda) {
    cudaMemsetAsync(b->flush, 0x5a, b->flush_bytes, (cudaStream_t)dlc_ctx_cuda_stream(b->ctx));
    return;
  }
#endif
  memset(b->flush, 0x5a, b->flush_bytes);
}

/* Times fn once; returns ms, or -1 on failure. */
static double time_once(bench *b, bench_fn fn, void *arg) {
  flush_cache(b);
#ifdef DLC_HAVE_CUDA
  if (b->cuda) {
    cudaStream_t s = (cudaStream_t)dlc_ctx_cuda_stream(b->ctx);
    cudaEventRecord((cudaEvent_t)b->ev[0], s);
    if (fn(arg) != DLC_OK) return -1;
    cudaEventRecord((cudaEvent_t)b->ev[1], s);
    if (cudaEventSynchronize((cudaEvent_t)b->ev[1]) != cudaSuccess) return -1;
    float ms = 0;
    cudaEventElapsedTime(&ms, (cudaEvent_t)b->ev[0], (cudaEvent_t)b->ev[1]);
    return ms;
  }
#endif
  double t0 = now_ms();
  if (fn(arg) != DLC_OK) return -1;
  return now_ms() - t0;
}

double bench_time_ms(bench *b, bench_fn fn, void *arg) {
  double *t = malloc(sizeof(double) * (size_t)b->runs);
  if (!t) return -1;
  for (int i = 0; i < b->warmup + b->runs; i++) {
    double ms = time_once(b, fn, arg);
    if (ms < 0) {
      fprintf(stderr, "%s: the op failed: %s\n", b->name, dlc_ctx_error(b->ctx));
      b->failures++;
      free(t);
      return -1;
    }
    if (i >= b->warmup) t[i - b->warmup] = ms;
  }
  qsort(t, (size_t)b->runs, sizeof *t, cmp_double);
  double med = b->runs % 2 ? t[b->runs / 2] : 0.5 * (t[b->runs / 2 - 1] + t[b->runs / 2]);
  free(t);
  return med;
}

typedef struct copy_arg {
  bench *b;
  void *dst, *src;
  size_t bytes;
} copy_arg;

static dlc_status do_copy(void *p) {
  copy_arg *c = p;
#ifdef DLC_HAVE_CUDA
  if (c->b->cuda)
    return cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice,
                           (cudaStream_t)dlc_ctx_cuda_stream(c->b->ctx)) == cudaSuccess
               ? DLC_OK : DLC_ERR_CUDA;
#endif
  memcpy(c->dst, c->src, c->bytes);
  return DLC_OK;
}

double bench_measure_copy(bench *b, size_t bytes) {
  int64_t n = (int64_t)(bytes / 4);
  dlc_tensor src, dst;
  dlc_device d = dlc_ctx_device(b->ctx);
  if (dlc_tensor_alloc(b->ctx, &src, DLC_F32, 1, &n, d) != DLC_OK ||
      dlc_tensor_alloc(b->ctx, &dst, DLC_F32, 1, &n, d) != DLC_OK) {
    fprintf(stderr, "%s: %s\n", b->name, dlc_ctx_error(b->ctx));
    b->failures++;
    return 0;
  }
  dlc_tensor_fill(b->ctx, &src, 1.f);
  copy_arg c = {b, dst.data, src.data, (size_t)n * 4};
  double ms = bench_time_ms(b, do_copy, &c);
  dlc_tensor_free(b->ctx, &src);
  dlc_tensor_free(b->ctx, &dst);
  b->copy_gbps = ms > 0 ? 2.0 * (double)c.bytes / (ms * 1e6) : 0;
  char shape[64];
  snprintf(shape, sizeof shape, "%zu MiB", c.bytes >> 20);
  bench_report(b, b->cuda ? "cudaMemcpy D2D (ceiling)" : "memcpy (ceiling)", shape, ms,
               2.0 * (double)c.bytes, 0, NULL, 0);
  return b->copy_gbps;
}

int bench_validate(bench *b, const char *what, const float *ref, const float *got, size_t n,
                   double tol_nse, double tol_abs) {
  double num = 0, den = 0, max_abs = 0;
  size_t nonfinite = 0;
  for (size_t i = 0; i < n; i++) {
    if (isfinite(ref[i]) != isfinite(got[i])) { nonfinite++; continue; }
    if (!isfinite(ref[i])) continue;
    double d = (double)ref[i] - got[i];
    num += d * d;
    den += (double)ref[i] * ref[i];
    if (fabs(d) > max_abs) max_abs = fabs(d);
  }
  double nse = num / (den > 1e-30 ? den : 1e-30);
  int ok = nonfinite == 0 && nse <= tol_nse && max_abs <= tol_abs;
  printf("# validate %-30s nse=%.2e max_abs=%.2e %s\n", what, nse, max_abs, ok ? "ok" : "FAILED");
  if (!ok) b->failures++;
  return ok;
}

void bench_report(bench *b, const char *op, const char *shape, double ms, double bytes,
                  double flops, const char *peer, double peer_ms) {
  if (b->emulated) {
    printf("%-28s %-22s ran on the emulated device (no timing)\n", op, shape);
    if (b->json == stdout) fputs("JSON ", stdout);
    fprintf(b->json, "{\"bench\":\"%s\",\"op\":\"%s\",\"shape\":\"%s\",\"device\":\"emulated\"}\n",
            b->name, op, shape);
    fflush(b->json);
    return;
  }
  double gbps = ms > 0 ? bytes / (ms * 1e6) : 0, tflops = ms > 0 ? flops / (ms * 1e9) : 0;
  double copy_frac = b->copy_gbps > 0 ? gbps / b->copy_gbps : 0;
  const char *dev = b->cuda ? "cuda" : "cpu";
  printf("%-28s %-22s %10.4f ms %9.1f GB/s", op, shape, ms, gbps);
  if (b->copy_gbps > 0 && bytes > 0) printf(" %5.1f%% of copy", 100 * copy_frac);
  if (flops > 0) printf(" %8.3f TFLOP/s", tflops);
  if (peer && peer_ms > 0) printf("  %s %.4f ms, ratio %.2fx", peer, peer_ms, peer_ms / ms);
  printf("\n");
  if (b->json == stdout) fputs("JSON ", stdout);
  fprintf(b->json,
          "{\"bench\":\"%s\",\"op\":\"%s\",\"shape\":\"%s\",\"device\":\"%s\",\"ms\":%.6g,"
          "\"gbps\":%.6g,\"copy_frac\":%.4g,\"tflops\":%.6g",
          b->name, op, shape, dev, ms, gbps, copy_frac, tflops);
  if (peer && peer_ms > 0)
    fprintf(b->json, ",\"peer\":\"%s\",\"peer_ms\":%.6g,\"speedup\":%.4g", peer, peer_ms, peer_ms / ms);
  fprintf(b->json, "}\n");
  fflush(b->json);
}
