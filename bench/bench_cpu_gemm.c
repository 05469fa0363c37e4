/* The CPU's GEMM libraries against each other on the shapes libdlcuda's models run: the
 * per-image convolution GEMMs (forward, backward-data, backward-weights) of fashion_cnn and
 * lenet5, and the dense layers of mlp, through dlc_op_gemm on a context per library
 * (dlc_ctx_options.cpu_gemm). oneDNN's result is first checked against OpenBLAS's; then
 * each shape is timed (median of 15 runs, each long enough to amortise the clock) and the
 * line gives GFLOP/s per library and the ratio oneDNN / OpenBLAS, in the same run.
 *   bench_cpu_gemm [--threads N] [--quick] [--json FILE]   (default 1 thread: the per-image
 *   case; --quick: 5 runs per shape)
 * OPENBLAS_CORETYPE in the environment chooses OpenBLAS's kernels, as for dlcuda. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlcuda.h"
#include "dlcuda_ops.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct shape {
  const char *what;
  int ta, tb, M, N, K;
} shape;

static const shape shapes[] = {
    {"fashion_cnn conv1 fwd", 0, 0, 32, 784, 9},      {"fashion_cnn conv1 bwd-weights", 0, 1, 32, 9, 784},
    {"fashion_cnn conv2 fwd", 0, 0, 64, 196, 288},    {"fashion_cnn conv2 bwd-data", 1, 0, 288, 196, 64},
    {"fashion_cnn conv2 bwd-weights", 0, 1, 64, 288, 196}, {"lenet5 conv1 fwd", 0, 0, 6, 784, 25},
    {"lenet5 conv2 fwd", 0, 0, 16, 100, 150},         {"lenet5 conv2 bwd-data", 1, 0, 150, 100, 16},
    {"lenet5 conv2 bwd-weights", 0, 1, 16, 150, 100}, {"mlp dense1 fwd (batch 64)", 0, 1, 64, 256, 784},
    {"mlp dense1 bwd-data", 0, 0, 64, 784, 256},      {"mlp dense1 bwd-weights", 1, 0, 256, 784, 64},
};

/* Median seconds of one GEMM over `runs` (at most 15) runs of `reps` calls. */
static double time_gemm(dlc_ctx *ctx, const shape *s, const float *A, const float *B, float *C, int reps, int runs) {
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
  double t[15];
  for (int r = -1; r < runs; r++) { /* r = -1: warm-up (oneDNN generates its kernel on first use) */
    double t0 = now_s();
    for (int i = 0; i < reps; i++)
      if (dlc_op_gemm(ctx, cpu, s->ta, s->tb, s->M, s->N, s->K, 1.f, A, lda, B, ldb, 0.f, C, s->N) != DLC_OK) return -1;
    if (r >= 0) t[r] = (now_s() - t0) / reps;
  }
  for (int i = 1; i < runs; i++) /* insertion sort, then the middle */
    for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
      double x = t[j];
      t[j] = t[j - 1], t[j - 1] = x;
    }
  return t[runs / 2];
}

int main(int argc, char **argv) {
  int threads = 1, runs = 15;
  FILE *json = stdout;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) runs = 5;
    else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
      if (!(json = fopen(argv[++i], "a"))) { perror(argv[i]); return 1; }
    } else {
      fprintf(stderr, "usage: bench_cpu_gemm [--threads N] [--quick] [--json FILE]\n");
      return 2;
    }
  }
  if (threads < 1) threads = 1;
  dlc_ctx *ctx[2] = {NULL, NULL};
  for (int k = 0; k < 2; k++) {
    dlc_ctx_options o = dlc_ctx_options_default();
    o.device = DLC_DEVICE_CPU;
    o.threads = threads;
    o.cpu_gemm = k ? DLC_CPU_GEMM_ONEDNN : DLC_CPU_GEMM_OPENBLAS;
    if (dlc_ctx_create(&ctx[k], &o) != DLC_OK) {
      printf("bench_cpu_gemm: %s\n", dlc_ctx_error(ctx[k]));
      for (int j = 0; j <= k; j++) dlc_ctx_destroy(ctx[j]);
      return k ? 0 : 1; /* a build without oneDNN has nothing to compare */
    }
  }
  printf("%d thread(s); A: %s; B: %s\n", threads, dlc_ctx_cpu_gemm_info(ctx[0]), dlc_ctx_cpu_gemm_info(ctx[1]));
  printf("%-30s %-16s %10s %10s %8s\n", "GEMM", "MxNxK", "OpenBLAS", "oneDNN", "oneDNN/");
  printf("%-30s %-16s %10s %10s %8s\n", "", "", "GFLOP/s", "GFLOP/s", "OpenBLAS");
  int failures = 0;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const shape *sh = &shapes[s];
    size_t na = (size_t)sh->M * sh->K, nb = (size_t)sh->K * sh->N, nc = (size_t)sh->M * sh->N;
    float *A = malloc(na * 4), *B = malloc(nb * 4), *C[2] = {malloc(nc * 4), malloc(nc * 4)};
    if (!A || !B || !C[0] || !C[1]) { fprintf(stderr, "out of memory\n"); return 1; }
    for (size_t i = 0; i < na; i++) A[i] = (float)((i * 2654435761u) % 2001) / 1000.f - 1.f;
    for (size_t i = 0; i < nb; i++) B[i] = (float)((i * 40503u) % 2001) / 1000.f - 1.f;
    double flops = 2.0 * sh->M * sh->N * sh->K, sec[2];
    int reps = (int)(2e7 / flops) + 1; /* about 20 MFLOP per timed run */
    for (int k = 0; k < 2; k++) sec[k] = time_gemm(ctx[k], sh, A, B, C[k], reps, runs);
    /* The two results: the same sums in other orders, each term |a b| <= 1. */
    double worst = 0;
    for (size_t i = 0; i < nc; i++) worst = fmax(worst, fabs((double)C[0][i] - C[1][i]));
    double tol = 4.0 * sh->K * ldexp(1.0, -24);
    char dims[32];
    snprintf(dims, sizeof dims, "%c%c %dx%dx%d", sh->ta ? 'T' : 'N', sh->tb ? 'T' : 'N', sh->M, sh->N, sh->K);
    if (sec[0] < 0 || sec[1] < 0 || !(worst <= tol)) {
      printf("%-30s %-16s FAILED (max difference %.3g, tolerance %.3g)\n", sh->what, dims, worst, tol);
      failures++;
    } else {
      printf("%-30s %-16s %10.1f %10.1f %8.2f\n", sh->what, dims, flops / sec[0] * 1e-9, flops / sec[1] * 1e-9,
             sec[0] / sec[1]);
      fprintf(json,
              "{\"bench\": \"cpu_gemm\", \"shape\": \"%s\", \"dims\": \"%s\", \"threads\": %d, "
              "\"openblas_gflops\": %.2f, \"onednn_gflops\": %.2f, \"ratio\": %.3f}\n",
              sh->what, dims, threads, flops / sec[0] * 1e-9, flops / sec[1] * 1e-9, sec[0] / sec[1]);
    }
    free(A), free(B), free(C[0]), free(C[1]);
  }
  if (json != stdout) fclose(json);
  dlc_ctx_destroy(ctx[0]);
  dlc_ctx_destroy(ctx[1]);
  return failures ? 1 : 0;
}
