/* The ops the core itself runs on tensors: elementwise fills and updates, random fills and
 * the GEMM wrapper. Each checks its arguments and dispatches on the tensors' device. */
#ifndef DLC_CORE_OPS_H
#define DLC_CORE_OPS_H

#include "core/internal.h"

/* y = value */
dlc_status dlc_op_fill(dlc_ctx *ctx, dlc_tensor *y, float value);
/* y = a * x (x may be y) */
dlc_status dlc_op_scale(dlc_ctx *ctx, float a, const dlc_tensor *x, dlc_tensor *y);
/* y += a * x */
dlc_status dlc_op_axpy(dlc_ctx *ctx, float a, const dlc_tensor *x, dlc_tensor *y);
/* y = x, both on the same device */
dlc_status dlc_op_copy(dlc_ctx *ctx, const dlc_tensor *x, dlc_tensor *y);
/* Random fills (see dlc_tensor_rand_*): advance the context's generator. */
dlc_status dlc_op_rand_uniform(dlc_ctx *ctx, dlc_tensor *y, float lo, float hi);
dlc_status dlc_op_rand_normal(dlc_ctx *ctx, dlc_tensor *y, float mean, float std);

/* Row-major GEMM on raw float pointers on `dev`:
 *   C[M,N] = alpha * op(A) op(B) + beta * C,  op(A) is [M,K], op(B) is [K,N]
 * where op(X) = X, or X^T when trans_X. lda/ldb/ldc are the row strides of A, B, C as
 * stored. beta == 0 ignores C's contents (NaN included). On CUDA it runs through cuBLAS on
 * the context's stream; TF32 only when the context allows it. */
dlc_status dlc_op_gemm(dlc_ctx *ctx, dlc_device dev, int trans_a, int trans_b, int64_t M,
                       int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                       const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* `batch` independent GEMMs, matrix i at A + i*stride_a and so on. */
dlc_status dlc_op_gemm_strided_batched(dlc_ctx *ctx, dlc_device dev, int trans_a, int trans_b,
                                       int64_t M, int64_t N, int64_t K, float alpha,
                                       const float *A, int64_t lda, int64_t stride_a,
                                       const float *B, int64_t ldb, int64_t stride_b, float beta,
                                       float *C, int64_t ldc, int64_t stride_c, int64_t batch);

#endif
