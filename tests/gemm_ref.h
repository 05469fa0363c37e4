/* A double-precision reference GEMM for tests: row-major, same arguments as dlc_op_gemm. */
#ifndef DLC_GEMM_REF_H
#define DLC_GEMM_REF_H
#include <stdint.h>

static void gemm_ref(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++)
        s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
      C[i * ldc + j] = (float)(alpha * s + (beta == 0.f ? 0.0 : (double)beta * C[i * ldc + j]));
    }
}
#endif
