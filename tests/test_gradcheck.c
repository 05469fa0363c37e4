/* The finite-difference checker itself: it passes true gradients of ops built on the
 * library (GEMM in all transposes, scale, axpy) and fails wrong ones. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

/* loss = sum(W .* (op(A) op(B))), so dloss/dA = W op(B)^T (transposed back if ta). */
typedef struct gemm_case {
  dlc_ctx *ctx;
  int ta, tb;
  int64_t M, N, K;
  float *A, *B, *W, *C;
} gemm_case;

static double gemm_loss(void *u) {
  gemm_case *g = u;
  int64_t lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
  dlc_op_gemm(g->ctx, cpu, g->ta, g->tb, g->M, g->N, g->K, 1.f, g->A, lda, g->B, ldb, 0.f, g->C, g->N);
  double s = 0;
  for (int64_t i = 0; i < g->M * g->N; i++) s += (double)g->W[i] * g->C[i];
  return s;
}

static void check_gemm_grads(dlc_ctx *ctx, int ta, int tb) {
  gemm_case g = {ctx, ta, tb, 5, 7, 3, 0, 0, 0, 0};
  int64_t M = g.M, N = g.N, K = g.K;
  g.A = malloc(sizeof(float) * (size_t)(M * K));
  g.B = malloc(sizeof(float) * (size_t)(K * N));
  g.W = malloc(sizeof(float) * (size_t)(M * N));
  g.C = malloc(sizeof(float) * (size_t)(M * N));
  float *dA = malloc(sizeof(float) * (size_t)(M * K)), *dB = malloc(sizeof(float) * (size_t)(K * N));
  t_fill_uniform(g.A, M * K, 1, -1, 1);
  t_fill_uniform(g.B, K * N, 2, -1, 1);
  t_fill_uniform(g.W, M * N, 3, -1, 1);
  /* dA (as stored) = ta ? op(B) W^T : W op(B)^T, both through the GEMM wrapper. */
  if (!ta)
    T_OK(ctx, dlc_op_gemm(ctx, cpu, 0, !tb, M, K, N, 1.f, g.W, N, g.B, tb ? K : N, 0.f, dA, K));
  else
    T_OK(ctx, dlc_op_gemm(ctx, cpu, tb, 1, K, M, N, 1.f, g.B, tb ? K : N, g.W, N, 0.f, dA, M));
  /* dB (as stored) = tb ? W^T op(A) : op(A)^T W. */
  if (!tb)
    T_OK(ctx, dlc_op_gemm(ctx, cpu, !ta, 0, K, N, M, 1.f, g.A, ta ? M : K, g.W, N, 0.f, dB, N));
  else
    T_OK(ctx, dlc_op_gemm(ctx, cpu, 1, ta, N, K, M, 1.f, g.W, N, g.A, ta ? M : K, 0.f, dB, K));
  char what[64];
  snprintf(what, sizeof what, "gemm %c%c dA", ta ? 'T' : 'N', tb ? 'T' : 'N');
  t_gradcheck(what, g.A, dA, M * K, gemm_loss, &g, 1e-2, 1e-3, 1e-4, 1000);
  snprintf(what, sizeof what, "gemm %c%c dB", ta ? 'T' : 'N', tb ? 'T' : 'N');
  t_gradcheck(what, g.B, dB, K * N, gemm_loss, &g, 1e-2, 1e-3, 1e-4, 1000);
  free(g.A); free(g.B); free(g.W); free(g.C); free(dA); free(dB);
}

/* loss = sum(w .* (a x + y)) through axpy; dloss/dx = a w. */
typedef struct axpy_case {
  dlc_ctx *ctx;
  dlc_tensor x, y, w;
  float a;
} axpy_case;

static double axpy_loss(void *u) {
  axpy_case *c = u;
  dlc_op_fill(c->ctx, &c->y, 0.5f);
  dlc_op_axpy(c->ctx, c->a, &c->x, &c->y);
  const float *y = c->y.data, *w = c->w.data;
  double s = 0;
  for (int64_t i = 0; i < c->y.numel; i++) s += (double)w[i] * y[i];
  return s;
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(9);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) check_gemm_grads(ctx, ta, tb);

  axpy_case c = {ctx, {0}, {0}, {0}, -1.75f};
  int64_t n = 1001;
  T_OK(ctx, dlc_tensor_alloc(ctx, &c.x, DLC_F32, 1, &n, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &c.y, DLC_F32, 1, &n, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &c.w, DLC_F32, 1, &n, cpu));
  T_OK(ctx, dlc_tensor_rand_uniform(ctx, &c.x, -1, 1));
  T_OK(ctx, dlc_tensor_rand_uniform(ctx, &c.w, -1, 1));
  dlc_tensor g;
  T_OK(ctx, dlc_tensor_alloc(ctx, &g, DLC_F32, 1, &n, cpu));
  T_OK(ctx, dlc_op_scale(ctx, c.a, &c.w, &g));
  t_gradcheck("axpy dx", c.x.data, g.data, n, axpy_loss, &c, 1e-2, 1e-3, 1e-4, 200);

  /* A wrong gradient must fail: off by 1% at one element, or with the sign flipped. */
  float *gp = g.data;
  gp[500] *= 1.01f;
  int before = t_failures, checks = t_checks;
  int passed = t_gradcheck("axpy dx, one entry 1% off (must FAIL)", c.x.data, gp, n, axpy_loss, &c,
                           1e-2, 1e-3, 1e-4, 1001);
  t_failures = before; /* that failure was the point */
  t_checks = checks;
  T_CHECK(!passed, "the checker caught a 1%% error at one entry");
  gp[500] /= 1.01f;
  T_OK(ctx, dlc_op_scale(ctx, -1.f, &g, &g));
  passed = t_gradcheck("axpy dx, negated (must FAIL)", c.x.data, gp, n, axpy_loss, &c, 1e-2, 1e-3,
                       1e-4, 50);
  t_failures = before;
  t_checks = checks;
  T_CHECK(!passed, "the checker caught a negated gradient");

  dlc_tensor_free(ctx, &c.x);
  dlc_tensor_free(ctx, &c.y);
  dlc_tensor_free(ctx, &c.w);
  dlc_tensor_free(ctx, &g);
  dlc_ctx_destroy(ctx);
  return t_finish("test_gradcheck");
}
