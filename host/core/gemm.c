/* The one row-major GEMM wrapper: OpenBLAS or oneDNN on the CPU (the context's cpu_gemm),
 * cuBLAS on CUDA. cuBLAS is column-major; a row-major C = op(A) op(B) is the column-major
 * C^T = op(B)^T op(A)^T, so the operands swap and the dimensions M, N trade places. */
#include <cblas.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/core_ops.h"

#ifdef DLC_HAVE_ONEDNN
#include <dnnl.h>
#endif

#ifdef DLC_HAVE_CUDA
#include <cublas_v2.h>
#endif

static dlc_status check_gemm(dlc_ctx *ctx, dlc_device dev, int ta, int tb, int64_t M, int64_t N,
                             int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                             const float *C, int64_t ldc) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_TRY(dlc_check_device(ctx, dev));
  if (M < 0 || N < 0 || K < 0)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "gemm: M=%lld N=%lld K=%lld must be >= 0", (long long)M,
                    (long long)N, (long long)K);
  int64_t acols = ta ? M : K, bcols = tb ? K : N;
  if (lda < (acols > 1 ? acols : 1) || ldb < (bcols > 1 ? bcols : 1) || ldc < (N > 1 ? N : 1))
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "gemm: leading dimensions lda=%lld ldb=%lld ldc=%lld are smaller than the "
                    "rows they stride (%lld, %lld, %lld)",
                    (long long)lda, (long long)ldb, (long long)ldc, (long long)acols,
                    (long long)bcols, (long long)N);
  if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "gemm: a dimension exceeds the BLAS int range");
  if (M && N && (!C || (K && (!A || !B))))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "gemm: a matrix pointer is NULL");
  return DLC_OK;
}

/* C = beta * C for the K == 0 case, which BLAS libraries disagree about. */
static dlc_status scale_c(dlc_ctx *ctx, dlc_device dev, int64_t M, int64_t N, float beta, float *C,
                          int64_t ldc) {
  for (int64_t i = 0; i < M; i++) {
    dlc_tensor row;
    int64_t n = N;
    DLC_TRY(dlc_tensor_borrow(ctx, &row, C + i * ldc, DLC_F32, 1, &n, dev));
    if (beta == 0.f)
      DLC_TRY(dlc_op_fill(ctx, &row, 0.f));
    else
      DLC_TRY(dlc_op_scale(ctx, beta, &row, &row));
  }
  return DLC_OK;
}

#ifdef DLC_HAVE_CUDA
static dlc_status cublas_fail(dlc_ctx *ctx, cublasStatus_t s, const char *file, int line) {
  return dlc_fail(ctx, DLC_ERR_CUBLAS, file, line, "cublasSgemm: %s", cublasGetStatusString(s));
}
#endif

dlc_status dlc_op_gemm_strided_batched(dlc_ctx *ctx, dlc_device dev, int ta, int tb, int64_t M,
                                       int64_t N, int64_t K, float alpha, const float *A,
                                       int64_t lda, int64_t stride_a, const float *B, int64_t ldb,
                                       int64_t stride_b, float beta, float *C, int64_t ldc,
                                       int64_t stride_c, int64_t batch) {
  DLC_TRY(check_gemm(ctx, dev, ta, tb, M, N, K, A, lda, B, ldb, C, ldc));
  if (batch < 0) return DLC_FAIL(ctx, DLC_ERR_SHAPE, "gemm: batch %lld < 0", (long long)batch);
  if (M == 0 || N == 0 || batch == 0) return DLC_OK;
  if (K == 0) {
    for (int64_t b = 0; b < batch; b++) DLC_TRY(scale_c(ctx, dev, M, N, beta, C + b * stride_c, ldc));
    return DLC_OK;
  }
  if (dev.kind == DLC_DEVICE_CUDA) {
#ifdef DLC_HAVE_CUDA
    if (batch > INT_MAX) return DLC_FAIL(ctx, DLC_ERR_SHAPE, "gemm: batch exceeds the int range");
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t s;
    if (batch == 1)
      s = cublasSgemm((cublasHandle_t)ctx->cublas, opb, opa, (int)N, (int)M, (int)K, &alpha, B,
                      (int)ldb, A, (int)lda, &beta, C, (int)ldc);
    else
      s = cublasSgemmStridedBatched((cublasHandle_t)ctx->cublas, opb, opa, (int)N, (int)M, (int)K,
                                    &alpha, B, (int)ldb, stride_b, A, (int)lda, stride_a, &beta, C,
                                    (int)ldc, stride_c, (int)batch);
    if (s != CUBLAS_STATUS_SUCCESS) return cublas_fail(ctx, s, __FILE__, __LINE__);
    return DLC_OK;
#endif
  }
  for (int64_t b = 0; b < batch; b++) {
    const float *Ab = A + b * stride_a, *Bb = B + b * stride_b;
    float *Cb = C + b * stride_c;
    if (M == 1 || N == 1) {
      /* A product with one row or one column is a matrix-vector product: sgemv reads the
       * matrix once, where sgemm would first pack it (for a batch-1 dense layer, half the
       * time). BLAS lets beta = 0 ignore y, but not every kernel avoids 0 * NaN: clear it. */
      int64_t len = M == 1 ? N : M, inc_c = M == 1 ? 1 : ldc;
      if (beta == 0.f)
        for (int64_t i = 0; i < len; i++) Cb[i * inc_c] = 0.f;
      if (M == 1) /* C[0, :] = op(B)^T a, a = op(A)[0, :] */
        cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? (int)N : (int)K, tb ? (int)K : (int)N, alpha,
                    Bb, (int)ldb, Ab, ta ? (int)lda : 1, beta, Cb, 1);
      else /* C[:, 0] = op(A) b, b = op(B)[:, 0] */
        cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, ta ? (int)K : (int)M, ta ? (int)M : (int)K, alpha,
                    Ab, (int)lda, Bb, tb ? 1 : (int)ldb, beta, Cb, (int)ldc);
      continue;
    }
    dlc_sgemm_cpu(ctx, ta, tb, M, N, K, alpha, Ab, lda, Bb, ldb, beta, Cb, ldc);
  }
  return DLC_OK;
}

int dlc_blas_per_thread(const dlc_ctx *ctx) {
#ifdef DLC_HAVE_ONEDNN
  /* oneDNN on OpenMP runs a GEMM called inside a parallel region on its caller alone (its
   * TBB or thread-pool builds would start threads of their own). */
  if (ctx && ctx->cpu_gemm == DLC_CPU_GEMM_ONEDNN) {
    unsigned rt = dnnl_version()->cpu_runtime;
    return rt == DNNL_RUNTIME_OMP || rt == DNNL_RUNTIME_SEQ;
  }
#else
  (void)ctx;
#endif
  int model = openblas_get_parallel(); /* 0 sequential, 1 pthreads, 2 OpenMP */
  return model == 0 || model == 2;
}

void dlc_sgemm_cpu(const dlc_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                   int64_t ldc) {
#ifdef DLC_HAVE_ONEDNN
  /* Row-major, as ours. It fails only on arguments check_gemm and the callers' plans have
   * already refused (negative sizes, leading dimensions shorter than their rows). */
  if (ctx->cpu_gemm == DLC_CPU_GEMM_ONEDNN) {
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#else
  (void)ctx;
#endif
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* OpenBLAS's kernels use AVX-512 only on these cores (0.3.21 to 0.3.28 names). */
static int openblas_core_has_avx512(const char *core) {
  static const char *const cores[] = {"skylakex", "cooperlake", "sapphirerapids"};
  char low[32] = "";
  for (size_t i = 0; core && core[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)core[i]);
  for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++)
    if (strcmp(low, cores[i]) == 0) return 1;
  return 0;
}

dlc_status dlc_cpu_gemm_init(dlc_ctx *ctx) {
  dlc_cpu_gemm want = ctx->opts.cpu_gemm;
  const char *core = openblas_get_corename();
  if ((int)want < 0 || want >= DLC_CPU_GEMM_COUNT)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "cpu_gemm %d is not AUTO, OPENBLAS or ONEDNN", (int)want);
#ifdef DLC_HAVE_ONEDNN
  if (want == DLC_CPU_GEMM_AUTO) {
    /* The kernels a library can run are the CPU's; the ones OpenBLAS runs are its core's,
     * which its detection or OPENBLAS_CORETYPE chose, often an older one on a new or a
     * virtual CPU. With AVX-512 left unused, oneDNN's GEMMs are 1.7-3.2x faster than
     * OpenBLAS's Haswell kernels on the models' shapes, 3-7x than its Prescott ones; with
     * OpenBLAS's AVX-512 kernels the small per-image GEMMs are as fast or faster there
     * (bench_cpu_gemm, bench/RESULTS.md). */
    __builtin_cpu_init();
    int cpu512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    want = cpu512 && !openblas_core_has_avx512(core) ? DLC_CPU_GEMM_ONEDNN : DLC_CPU_GEMM_OPENBLAS;
  }
#else
  if (want == DLC_CPU_GEMM_ONEDNN)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG,
                    "cpu_gemm onednn: libdlcuda was built without oneDNN (DLC_ONEDNN=OFF or no libdnnl-dev)");
  want = DLC_CPU_GEMM_OPENBLAS;
#endif
  ctx->cpu_gemm = want;
  /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ...": its second word is the version. */
  const char *config = openblas_get_config();
  int vlen = config && !strncmp(config, "OpenBLAS ", 9) ? (int)strcspn(config + 9, " ") : 0;
  char blas[96];
  snprintf(blas, sizeof blas, "OpenBLAS%s%.*s with %s kernels", vlen ? " " : "", vlen, vlen ? config + 9 : "",
           core ? core : "unknown");
  snprintf(ctx->cpu_gemm_info, sizeof ctx->cpu_gemm_info, "%s", blas);
#ifdef DLC_HAVE_ONEDNN
  if (want == DLC_CPU_GEMM_ONEDNN) { /* OpenBLAS still runs the matrix-vector products */
    const dnnl_version_t *v = dnnl_version();
    snprintf(ctx->cpu_gemm_info, sizeof ctx->cpu_gemm_info, "oneDNN %d.%d.%d (%s for matrix-vector)", v->major,
             v->minor, v->patch, blas);
  }
#endif
  return DLC_OK;
}

dlc_cpu_gemm dlc_ctx_cpu_gemm(const dlc_ctx *ctx) { return ctx ? ctx->cpu_gemm : DLC_CPU_GEMM_OPENBLAS; }
const char *dlc_ctx_cpu_gemm_info(const dlc_ctx *ctx) { return ctx ? ctx->cpu_gemm_info : ""; }

dlc_status dlc_op_gemm(dlc_ctx *ctx, dlc_device dev, int ta, int tb, int64_t M, int64_t N,
                       int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                       int64_t ldb, float beta, float *C, int64_t ldc) {
  return dlc_op_gemm_strided_batched(ctx, dev, ta, tb, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta,
                                     C, ldc, 0, 1);
}
