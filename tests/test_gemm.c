/* The row-major GEMM wrapper on the CPU against a double reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "gemm_ref.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

static void one_case(dlc_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                     float beta, int64_t pad) {
  /* Leading dimensions padded by `pad` columns: the op must respect the strides. */
  int64_t arows = ta ? K : M, acols = ta ? M : K, brows = tb ? N : K, bcols = tb ? K : N;
  int64_t lda = acols + pad, ldb = bcols + pad, ldc = N + pad;
  float *A = malloc((size_t)(arows * lda + 1) * 4), *B = malloc((size_t)(brows * ldb + 1) * 4);
  float *C = malloc((size_t)(M * ldc + 1) * 4), *R = malloc((size_t)(M * ldc + 1) * 4);
  t_fill_uniform(A, arows * lda, 1 + (uint64_t)M, -1.f, 1.f);
  t_fill_uniform(B, brows * ldb, 2 + (uint64_t)N, -1.f, 1.f);
  t_fill_uniform(C, M * ldc, 3 + (uint64_t)K, -1.f, 1.f);
  if (beta == 0.f)
    for (int64_t i = 0; i < M * ldc; i++) C[i] = NAN; /* beta = 0 must ignore C */
  memcpy(R, C, (size_t)(M * ldc) * 4);
  gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
  T_OK(ctx, dlc_op_gemm(ctx, cpu, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
  char what[128];
  snprintf(what, sizeof what, "gemm %c%c M=%lld N=%lld K=%lld a=%g b=%g", ta ? 'T' : 'N',
           tb ? 'T' : 'N', (long long)M, (long long)N, (long long)K, alpha, beta);
  /* Compare only the M x N block, not the padding. */
  float *r = malloc((size_t)(M * N) * 4), *c = malloc((size_t)(M * N) * 4);
  for (int64_t i = 0; i < M; i++) {
    memcpy(r + i * N, R + i * ldc, (size_t)N * 4);
    memcpy(c + i * N, C + i * ldc, (size_t)N * 4);
  }
  t_parity(what, r, c, M * N, 1e-10, 1e-4 * (1 + sqrt((double)K)));
  free(A); free(B); free(C); free(R); free(r); free(c);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(5);
  const int64_t dims[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 1, 129}, {1, 100, 31},
                             {127, 129, 61}};
  for (int d = 0; d < 6; d++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        one_case(ctx, ta, tb, dims[d][0], dims[d][1], dims[d][2], 1.f, 0.f, 0);
        one_case(ctx, ta, tb, dims[d][0], dims[d][1], dims[d][2], -0.5f, 1.5f, 3);
      }

  /* K = 0: C = beta * C. */
  float C[6] = {1, 2, 3, 4, 5, 6};
  T_OK(ctx, dlc_op_gemm(ctx, cpu, 0, 0, 2, 3, 0, 1.f, NULL, 1, NULL, 3, 2.f, C, 3));
  T_CHECK(C[0] == 2.f && C[5] == 12.f, "K=0 scales C");
  T_OK(ctx, dlc_op_gemm(ctx, cpu, 0, 0, 2, 3, 0, 1.f, NULL, 1, NULL, 3, 0.f, C, 3));
  T_CHECK(C[0] == 0.f && C[5] == 0.f, "K=0, beta=0 zeroes C");

  /* Strided batched: 5 products of 9x4 by 4x6, compared one by one. */
  int64_t M = 9, N = 6, K = 4, batch = 5;
  float *A = malloc(sizeof(float) * (size_t)(batch * M * K)), *B = malloc(sizeof(float) * (size_t)(batch * K * N));
  float *Cb = calloc((size_t)(batch * M * N), 4), *Rb = calloc((size_t)(batch * M * N), 4);
  t_fill_uniform(A, batch * M * K, 11, -1, 1);
  t_fill_uniform(B, batch * K * N, 12, -1, 1);
  T_OK(ctx, dlc_op_gemm_strided_batched(ctx, cpu, 0, 0, M, N, K, 1.f, A, K, M * K, B, N, K * N,
                                        0.f, Cb, N, M * N, batch));
  for (int64_t b = 0; b < batch; b++)
    gemm_ref(0, 0, M, N, K, 1.f, A + b * M * K, K, B + b * K * N, N, 0.f, Rb + b * M * N, N);
  t_parity("gemm strided batched x5", Rb, Cb, batch * M * N, 1e-10, 1e-5);
  free(A); free(B); free(Cb); free(Rb);

  /* Bad arguments. */
  float x[4];
  T_FAILS(ctx, DLC_ERR_SHAPE, "must be >= 0", dlc_op_gemm(ctx, cpu, 0, 0, -1, 2, 2, 1.f, x, 2, x, 2, 0.f, x, 2));
  T_FAILS(ctx, DLC_ERR_SHAPE, "leading dimensions", dlc_op_gemm(ctx, cpu, 0, 0, 2, 2, 3, 1.f, x, 2, x, 2, 0.f, x, 2));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "NULL", dlc_op_gemm(ctx, cpu, 0, 0, 2, 2, 2, 1.f, NULL, 2, x, 2, 0.f, x, 2));
  T_FAILS(ctx, DLC_ERR_SHAPE, "int range", dlc_op_gemm(ctx, cpu, 0, 0, 2, INT64_C(1) << 33, 2, 1.f, x, 2, x, INT64_C(1) << 33, 0.f, x, INT64_C(1) << 33));
  dlc_device gpu = {DLC_DEVICE_CUDA, 0};
  T_FAILS(ctx, DLC_ERR_DEVICE, "runs on the CPU", dlc_op_gemm(ctx, gpu, 0, 0, 2, 2, 2, 1.f, x, 2, x, 2, 0.f, x, 2));
  dlc_ctx_destroy(ctx);
  return t_finish("test_gemm");
}
