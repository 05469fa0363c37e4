/* The CUDA semantics libdlcuda's kernels rely on, checked on the device: on the emulated
 * device (DLC_CUDA=EMULATE) this tests the emulation itself, on a GPU it tests the same
 * expectations against the hardware. Each kernel of tests/gpu_semantics.cu has a right
 * version, which must match a CPU reference, and most have a planted bug, which must
 * differ: a wrong shuffle offset, a lane missing from a mask, a block sum that skips the
 * cross-warp stage, a capped grid without a grid-stride loop, a missing __syncthreads,
 * and a cuBLAS call with swapped operands. Launch checks (zero blocks, too many threads,
 * too much shared memory) must fail without poisoning later launches. On the emulated
 * device only: copies are deferred until a synchronisation, fresh memory is NaN, and a
 * deadlocked block or an out-of-bounds GEMM is a sticky fault (run in a child process).
 * Label gpu: exits 77 without a device. */
#define _POSIX_C_SOURCE 200809L
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu_semantics.h"
#include "testutil.h"

static cudaStream_t st;
static int emulated;

/* Runs kernel `which` on nx inputs; y (ny floats) is poisoned (NaN) first. Returns the
 * launch's error; y gets the result. */
static int run(int which, int wrong, const float *x, int64_t nx, float *y, int64_t ny, int64_t a, int b) {
  float *dx = NULL, *dy = NULL;
  cudaMalloc((void **)&dx, (size_t)(nx > 0 ? nx : 1) * 4);
  cudaMalloc((void **)&dy, (size_t)ny * 4);
  if (nx > 0) cudaMemcpyAsync(dx, x, (size_t)nx * 4, cudaMemcpyHostToDevice, st);
  cudaMemsetAsync(dy, 0xff, (size_t)ny * 4, st);
  int e = sem_launch(which, wrong, dx, dy, a, b, st);
  cudaMemcpyAsync(y, dy, (size_t)ny * 4, cudaMemcpyDeviceToHost, st);
  T_CHECK(cudaStreamSynchronize(st) == cudaSuccess, "synchronising after kernel %d", which);
  cudaFree(dx);
  cudaFree(dy);
  return e;
}

static int close_to(const float *ref, const float *got, int64_t n, double rtol) {
  for (int64_t i = 0; i < n; i++)
    if (!(fabs((double)ref[i] - got[i]) <= rtol * (1.0 + fabs((double)ref[i])))) return 0;
  return 1;
}

/* The right version must match; the wrong one must differ (always, or on the emulated
 * device only, where the GPU's result is undefined rather than wrong). */
static void right_and_wrong(const char *what, int which, const float *x, int64_t nx, const float *ref,
                            int64_t ny, int64_t a, int b, int wrong_differs_on_gpu) {
  float *y = malloc((size_t)ny * 4);
  T_CHECK(run(which, 0, x, nx, y, ny, a, b) == cudaSuccess, "%s: launch", what);
  int ok = close_to(ref, y, ny, 1e-5);
  printf("%-40s right version matches the CPU: %s\n", what, ok ? "yes" : "NO");
  T_CHECK(ok, "%s: the right kernel differs from the CPU reference", what);
  T_CHECK(run(which, 1, x, nx, y, ny, a, b) == cudaSuccess, "%s: launch (wrong)", what);
  int differs = !close_to(ref, y, ny, 1e-5);
  printf("%-40s planted bug %s\n", what, differs ? "caught" : "NOT caught");
  if (emulated || wrong_differs_on_gpu)
    T_CHECK(differs, "%s: the planted bug gives the right answer", what);
  free(y);
}

/* ref[w] = the sum of x's warp w (32 values), for warps < n. */
static void ref_warp_sums(const float *x, int n, float *ref) {
  for (int w = 0; w < n; w++) {
    double s = 0;
    for (int l = 0; l < 32; l++) s += x[w * 32 + l];
    ref[w] = (float)s;
  }
}

/* Row-major C[m x n] = A[m x k] B[k x n], in double. */
static void ref_gemm(int m, int n, int k, const float *A, const float *B, float *C) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int p = 0; p < k; p++) s += (double)A[i * k + p] * B[p * n + j];
      C[i * n + j] = (float)s;
    }
}

static void test_reductions(void) {
  float x[4096], ref[128];
  t_fill_uniform(x, 4096, 11, -1, 1);
  ref_warp_sums(x, 8, ref);
  right_and_wrong("warp butterfly sum", SEM_WARP_SUM, x, 256, ref, 8, 256, 0, 1);

  double s = 0;
  for (int l = 0; l < 20; l++) s += x[l];
  ref[0] = (float)s;
  right_and_wrong("masked sum of 20 lanes", SEM_PARTIAL_SUM, x, 32, ref, 1, 20, 0, 0);

  const int blocks[3] = {96, 256, 1024};
  s = 0;
  for (int i = 0; i < 4000; i++) s += x[i];
  ref[0] = (float)s;
  for (int k = 0; k < 3; k++) {
    char what[64];
    snprintf(what, sizeof what, "block sum, %d threads", blocks[k]);
    right_and_wrong(what, SEM_BLOCK_SUM, x, 4000, ref, 1, 4000, blocks[k], 1);
  }

  const int rows = 50, cols = 300;
  float *m = malloc(sizeof(float) * rows * cols), rmax[50];
  t_fill_uniform(m, rows * cols, 12, -5, 5);
  for (int r = 0; r < rows; r++) {
    rmax[r] = -INFINITY;
    for (int c = 0; c < cols; c++) rmax[r] = fmaxf(rmax[r], m[r * cols + c]);
  }
  right_and_wrong("row max, grid capped at 7 blocks", SEM_ROW_MAX, m, rows * cols, rmax, rows, rows, cols, 1);
  free(m);

  float rev[768];
  for (int b = 0; b < 3; b++)
    for (int t = 0; t < 256; t++) rev[b * 256 + t] = x[b * 256 + 255 - t];
  right_and_wrong("reverse through shared memory", SEM_REVERSE, x, 768, rev, 768, 3, 256, 0);
  float y[768];
  T_CHECK(run(SEM_REVERSE_DYNAMIC, 0, x, 768, y, 768, 3, 256) == cudaSuccess, "dynamic shared launch");
  T_CHECK(close_to(rev, y, 768, 0), "reverse through dynamic shared memory");
}

/* CUDA's documented shuffle rules, written independently of any device. */
static int ref_shfl(int mode, int lane, int v0, int b, int w) {
  const int seg = lane / w * w;
  int src = lane;
  switch (mode) {
    case 0: src = seg + (b % w); break;                       /* __shfl_sync */
    case 1: src = lane - seg >= b ? lane - b : lane; break;   /* up */
    case 2: src = lane - seg + b < w ? lane + b : lane; break; /* down */
    case 3: src = (lane ^ b) < seg + w ? lane ^ b : lane; break; /* xor: later groups give own */
  }
  return v0 + src;
}

static void test_shuffles(void) {
  int *got = malloc(sizeof(int) * SEM_SHFL_CASES * 32), *ref = malloc(sizeof(int) * SEM_SHFL_CASES * 32);
  T_CHECK(run(SEM_SHFL, 0, NULL, 0, (float *)got, SEM_SHFL_CASES * 32, 0, 0) == cudaSuccess, "shfl launch");
  const int widths[4] = {32, 16, 8, 2};
  const int modes[8] = {0, 0, 1, 1, 2, 2, 3, 3}, args[8] = {3, 37, 1, 5, 1, 3, 1, 16};
  int k = 0;
  for (int wi = 0; wi < 4; wi++)
    for (int c = 0; c < 8; c++, k++)
      for (int l = 0; l < 32; l++) ref[k * 32 + l] = ref_shfl(modes[c], l, 1000, args[c], widths[wi]);
  unsigned ballot = 0;
  for (int l = 0; l < 32; l++) ballot |= (l % 3 == 0 ? 1u : 0u) << l;
  for (int l = 0; l < 32; l++) {
    ref[k * 32 + l] = (int)ballot;
    ref[(k + 1) * 32 + l] = 1;
    ref[(k + 2) * 32 + l] = 0;
    ref[(k + 3) * 32 + l] = (int)(4 * (0.5 + (l ^ 5)));
  }
  int bad = 0;
  for (int i = 0; i < SEM_SHFL_CASES * 32; i++)
    if (got[i] != ref[i]) {
      if (bad++ < 5) fprintf(stderr, "shuffle case %d lane %d: got %d, CUDA gives %d\n", i / 32, i % 32, got[i], ref[i]);
    }
  printf("%-40s %d of %d lanes as CUDA documents\n", "shuffles (idx/up/down/xor x widths)",
         SEM_SHFL_CASES * 32 - bad, SEM_SHFL_CASES * 32);
  T_CHECK(bad == 0, "%d shuffle results differ from CUDA's rules", bad);
  free(got);
  free(ref);
}

static void test_launch_checks(void) {
  float y[8];
  const int cases[3] = {SEM_ZERO_GRID, SEM_HUGE_BLOCK, SEM_TOO_MUCH_SHARED};
  const char *names[3] = {"0 blocks", "2048 threads per block", "64 KiB dynamic shared memory"};
  for (int k = 0; k < 3; k++) {
    int e = run(cases[k], 0, NULL, 0, y, 8, 0, 0);
    printf("%-40s launch error %d (%s)\n", names[k], e, cudaGetErrorName((cudaError_t)e));
    T_CHECK(e != cudaSuccess, "a launch with %s succeeded", names[k]);
    T_CHECK(cudaGetLastError() == cudaSuccess, "the launch error of %s is not cleared", names[k]);
  }
  /* Not sticky: the next launch works. */
  float x[64], ref[2];
  t_fill_uniform(x, 64, 5, -1, 1);
  ref_warp_sums(x, 2, ref);
  T_CHECK(run(SEM_WARP_SUM, 0, x, 64, y, 2, 64, 0) == cudaSuccess && close_to(ref, y, 2, 1e-5),
          "a good launch after the bad ones");
}

static void test_cublas(dlc_ctx *g) {
  /* Row-major C[m x n] = A[m x k] B[k x n] is column-major C^T = B^T A^T: cuBLAS gets
   * (n, m, k, B, n, A, k, C, n), as host/gemm.c maps it. */
  const int m = 5, n = 7, k = 3;
  float A[15], B[21], C[35], ref[35], *dA, *dB, *dC;
  t_fill_uniform(A, 15, 1, -1, 1);
  t_fill_uniform(B, 21, 2, -1, 1);
  ref_gemm(m, n, k, A, B, ref);
  cudaMalloc((void **)&dA, sizeof A);
  cudaMalloc((void **)&dB, sizeof B);
  cudaMalloc((void **)&dC, sizeof C);
  /* On the stream cuBLAS uses: a legacy-stream cudaMemcpy from pageable memory need not
   * have landed when a non-blocking stream reads (the emulated device makes sure it has
   * not). */
  cudaMemcpyAsync(dA, A, sizeof A, cudaMemcpyHostToDevice, st);
  cudaMemcpyAsync(dB, B, sizeof B, cudaMemcpyHostToDevice, st);
  cublasHandle_t h = (cublasHandle_t)dlc_ctx_cublas_handle(g);
  const float one = 1.f, zero = 0.f;
  cudaMemsetAsync(dC, 0xff, sizeof C, st); /* NaN: beta = 0 must not read it */
  cublasStatus_t s = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, dB, n, dA, k, &zero, dC, n);
  cudaMemcpyAsync(C, dC, sizeof C, cudaMemcpyDeviceToHost, st);
  cudaStreamSynchronize(st);
  T_CHECK(s == CUBLAS_STATUS_SUCCESS && close_to(ref, C, 35, 1e-5), "cublasSgemm, row-major mapping");
  printf("%-40s right operands match the CPU: %s\n", "cublasSgemm", close_to(ref, C, 35, 1e-5) ? "yes" : "NO");
  /* Planted bug: A and B swapped (with their leading dimensions): n = 7 rows of op(A)
   * cannot fit lda = 3, which cuBLAS rejects. */
  s = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, dA, k, dB, n, &zero, dC, n);
  printf("%-40s planted bug: status %d (%s)\n", "cublasSgemm with A and B swapped", (int)s,
         s == CUBLAS_STATUS_INVALID_VALUE ? "rejected" : "accepted");
  T_CHECK(s == CUBLAS_STATUS_INVALID_VALUE, "swapped operands with an impossible lda were accepted");
  /* Square: swapping computes B A instead of A B. */
  float S1[16], S2[16], SR[16], SG[16], *d1, *d2, *d3;
  t_fill_uniform(S1, 16, 3, -1, 1);
  t_fill_uniform(S2, 16, 4, -1, 1);
  ref_gemm(4, 4, 4, S1, S2, SR);
  cudaMalloc((void **)&d1, 64);
  cudaMalloc((void **)&d2, 64);
  cudaMalloc((void **)&d3, 64);
  cudaMemcpyAsync(d1, S1, 64, cudaMemcpyHostToDevice, st);
  cudaMemcpyAsync(d2, S2, 64, cudaMemcpyHostToDevice, st);
  s = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d1, 4, d2, 4, &zero, d3, 4);
  cudaMemcpyAsync(SG, d3, 64, cudaMemcpyDeviceToHost, st);
  cudaStreamSynchronize(st);
  T_CHECK(s == CUBLAS_STATUS_SUCCESS && !close_to(SR, SG, 16, 1e-5),
          "square GEMM with swapped operands gives A B (the bug is invisible)");
  s = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d2, 4, d1, 4, &zero, d3, 4);
  cudaMemcpyAsync(SG, d3, 64, cudaMemcpyDeviceToHost, st);
  cudaStreamSynchronize(st);
  T_CHECK(s == CUBLAS_STATUS_SUCCESS && close_to(SR, SG, 16, 1e-5), "square GEMM, right operands");
  cudaFree(dA), cudaFree(dB), cudaFree(dC), cudaFree(d1), cudaFree(d2), cudaFree(d3);
}

/* Emulated device only: what a GPU leaves to timing, the emulation makes certain. */
static void test_emulation_only(void) {
  float *d = NULL, host[4] = {7, 7, 7, 7}, fresh[4];
  T_CHECK(cudaMalloc((void **)&d, 16) == cudaSuccess, "cudaMalloc");
  cudaMemcpy(fresh, d, 16, cudaMemcpyDeviceToHost);
  T_CHECK(isnan(fresh[0]) && isnan(fresh[3]), "fresh device memory is poison (NaN)");
  const float ones[4] = {1, 1, 1, 1}, twos[4] = {2, 2, 2, 2};
  /* A legacy-stream copy from the host is not ordered before a non-blocking stream. */
  cudaMemcpy(d, ones, 16, cudaMemcpyHostToDevice);
  cudaMemcpyAsync(host, d, 16, cudaMemcpyDeviceToHost, st);
  cudaStreamSynchronize(st);
  T_CHECK(isnan(host[0]), "a non-blocking stream saw a legacy cudaMemcpy it did not wait for");
  cudaDeviceSynchronize();
  cudaMemcpyAsync(d, twos, 16, cudaMemcpyHostToDevice, st);
  host[0] = 7.f;
  cudaMemcpyAsync(host, d, 16, cudaMemcpyDeviceToHost, st);
  T_CHECK(host[0] == 7.f, "an asynchronous copy landed before the stream was synchronised");
  cudaStreamSynchronize(st);
  T_CHECK(host[0] == 2.f && host[3] == 2.f, "the copy landed at the synchronisation");
  cudaFree(d);
}

/* Runs this program as `--child NAME` and returns its exit status. */
static int child(const char *name) {
  pid_t p = fork();
  if (p == 0) {
    execl("/proc/self/exe", "test_gpu_semantics", "--child", name, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  if (p < 0 || waitpid(p, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Child: a fault must fail the synchronisation and every later call (sticky). */
static int run_child(const char *name) {
  dlc_ctx *g = t_gpu_ctx_or_skip(1);
  st = (cudaStream_t)dlc_ctx_cuda_stream(g);
  float *d = NULL;
  if (cudaMalloc((void **)&d, 4096) != cudaSuccess) return 10;
  if (!strcmp(name, "deadlock")) {
    if (sem_launch(SEM_DEADLOCK, 0, NULL, d, 0, 0, st) != cudaSuccess) return 11;
  } else if (!strcmp(name, "gemm_oob")) {
    /* C is 4 x 4 = 64 bytes into a 4096-byte buffer, A claims 40 x 40 with lda 40. */
    const float one = 1.f, zero = 0.f;
    if (cublasSgemm((cublasHandle_t)dlc_ctx_cublas_handle(g), CUBLAS_OP_N, CUBLAS_OP_N, 40, 4, 40, &one, d,
                    40, d, 40, &zero, d, 40) != CUBLAS_STATUS_SUCCESS)
      return 12;
  } else {
    return 13;
  }
  cudaError_t e = cudaStreamSynchronize(st);
  if (e == cudaSuccess) return 14;
  void *p = NULL;
  if (cudaMalloc(&p, 16) == cudaSuccess) return 15; /* sticky */
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--child")) return run_child(argv[2]);
  dlc_ctx *g = t_gpu_ctx_or_skip(1);
  emulated = strstr(dlc_build_info(), "cuda=EMULATED") != NULL;
  printf("device: %s\n", emulated ? "emulated" : "GPU");
  st = (cudaStream_t)dlc_ctx_cuda_stream(g);
  test_reductions();
  test_shuffles();
  test_launch_checks();
  test_cublas(g);
  if (emulated) {
    test_emulation_only();
    int r = child("deadlock");
    printf("%-40s child exit %d (0: the fault was reported and sticky)\n", "deadlocked block", r);
    T_CHECK(r == 0, "a deadlocked block: child exit %d", r);
    r = child("gemm_oob");
    printf("%-40s child exit %d (0: the fault was reported and sticky)\n", "GEMM past its buffer", r);
    T_CHECK(r == 0, "an out-of-bounds GEMM: child exit %d", r);
  }
  dlc_ctx_destroy(g);
  return t_finish("test_gpu_semantics");
}
