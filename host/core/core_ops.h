/* The ops the core itself runs on tensors: elementwise fills and updates, random fills and
 * the GEMM wrapper (declared in the public dlcuda_ops.h but the random fills, which the
 * public API offers as dlc_tensor_rand_*). Each checks its arguments and dispatches on the
 * tensors' device. */
#ifndef DLC_CORE_OPS_H
#define DLC_CORE_OPS_H

#include "core/internal.h"
#include "dlcuda_ops.h" /* the public ops: fills, axpy, copy, GEMM, and the rest */

/* Random fills (see dlc_tensor_rand_*): advance the context's generator. */
dlc_status dlc_op_rand_uniform(dlc_ctx *ctx, dlc_tensor *y, float lo, float hi);
dlc_status dlc_op_rand_normal(dlc_ctx *ctx, dlc_tensor *y, float mean, float std);

/* Whether a BLAS call made inside an OpenMP parallel region runs on the calling thread
 * alone: true for oneDNN on OpenMP and for OpenBLAS built on OpenMP (what CMake links) or
 * sequential; false for OpenBLAS's pthread build, whose one thread pool such calls would
 * queue on. */
int dlc_blas_per_thread(const dlc_ctx *ctx);
/* One row-major CPU sgemm in the context's CPU GEMM library, without checks, for callers
 * whose shapes are already validated (each under 2^31), typically one image of a
 * convolution per OpenMP thread. */
void dlc_sgemm_cpu(const dlc_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                   const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                   int64_t ldc);
/* Resolves opts.cpu_gemm into ctx->cpu_gemm (dlc_ctx_create). */
dlc_status dlc_cpu_gemm_init(dlc_ctx *ctx);

#endif
