/* Softmax and log-softmax on the CPU: PyTorch fixtures (row lengths 1 to 4097, extreme
 * rows), finite-difference gradients, accumulation into dx, in-place use, and bad
 * arguments. Fixtures: tests/fixtures/gen_softmax.py. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

/* |got - ref| <= atol + rtol |ref| everywhere; non-finite values must be the same
 * (NaN matches NaN). Counts one check. */
static int check_close(const char *what, const float *ref, const float *got, int64_t n,
                       double atol, double rtol) {
  int64_t bad = 0, worst = -1;
  double worst_excess = 0;
  for (int64_t i = 0; i < n; i++) {
    double excess;
    if (!isfinite(ref[i]) || !isfinite(got[i]))
      excess = (isnan(ref[i]) && isnan(got[i])) || ref[i] == got[i] ? 0 : INFINITY;
    else
      excess = fabs((double)got[i] - ref[i]) - (atol + rtol * fabs((double)ref[i]));
    if (excess > 0) {
      bad++;
      if (worst < 0 || excess > worst_excess) worst = i, worst_excess = excess;
    }
  }
  printf("%-44s n=%-7lld %s", what, (long long)n, bad ? "FAIL" : "ok");
  if (bad) printf(" (%lld off; worst i=%lld ref=%.9g got=%.9g)", (long long)bad, (long long)worst,
                  ref[worst], got[worst]);
  printf("\n");
  T_CHECK(bad == 0, "%s: %lld elements outside atol %g rtol %g", what, (long long)bad, atol, rtol);
  return bad == 0;
}

static int load(dlc_ctx *ctx, const char *name, const char *part, dlc_tensor *t) {
  char rel[256];
  snprintf(rel, sizeof rel, "softmax/%s_%s.npy", name, part);
  return t_fixture(ctx, rel, t);
}

static void test_fixture(dlc_ctx *ctx, const char *name) {
  dlc_tensor x, dy, ref[4];
  const char *parts[4] = {"y", "dx", "logy", "logdx"};
  int ok = load(ctx, name, "x", &x) && load(ctx, name, "dy", &dy);
  for (int i = 0; i < 4; i++) ok = ok && load(ctx, name, parts[i], &ref[i]);
  if (!ok) return;
  const int64_t n = x.numel;
  dlc_tensor y, dx, z;
  T_OK(ctx, dlc_tensor_alloc(ctx, &y, DLC_F32, x.ndim, x.shape, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &dx, DLC_F32, x.ndim, x.shape, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &z, DLC_F32, x.ndim, x.shape, cpu));
  for (int lg = 0; lg < 2; lg++) {
    char what[96];
    snprintf(what, sizeof what, "%s %s fwd", lg ? "log_softmax" : "softmax", name);
    T_OK(ctx, dlc_op_softmax_fwd(ctx, lg, &x, &y));
    /* Log-probabilities reach -2e30 in the extreme rows: relative there. */
    check_close(what, ref[2 * lg].data, y.data, n, lg ? 2e-6 : 1e-7, 2e-6);

    /* In place gives the same bits. */
    memcpy(z.data, x.data, x.nbytes);
    T_OK(ctx, dlc_op_softmax_fwd(ctx, lg, &z, &z));
    T_CHECK(memcmp(z.data, y.data, y.nbytes) == 0, "%s: in place differs", what);

    /* Backward accumulates: start dx at 0.25 and take 0.25 off again. */
    T_OK(ctx, dlc_op_fill(ctx, &dx, 0.25f));
    T_OK(ctx, dlc_op_softmax_bwd(ctx, lg, &y, &dy, &dx));
    float *d = dx.data;
    for (int64_t i = 0; i < n; i++) d[i] -= 0.25f;
    snprintf(what, sizeof what, "%s %s bwd", lg ? "log_softmax" : "softmax", name);
    check_close(what, ref[2 * lg + 1].data, d, n, 2e-6, 2e-5);
  }
  dlc_tensor_free(ctx, &x);
  dlc_tensor_free(ctx, &dy);
  for (int i = 0; i < 4; i++) dlc_tensor_free(ctx, &ref[i]);
  dlc_tensor_free(ctx, &y);
  dlc_tensor_free(ctx, &dx);
  dlc_tensor_free(ctx, &z);
}

/* loss = sum w .* softmax(x) (or log_softmax), evaluated in double from a float pass. */
typedef struct sm_case {
  dlc_ctx *ctx;
  int lg;
  dlc_tensor x, y, w;
} sm_case;

static double sm_loss(void *u) {
  sm_case *c = u;
  dlc_op_softmax_fwd(c->ctx, c->lg, &c->x, &c->y);
  const float *y = c->y.data, *w = c->w.data;
  double s = 0;
  for (int64_t i = 0; i < c->y.numel; i++) s += (double)w[i] * y[i];
  return s;
}

static void test_gradcheck(dlc_ctx *ctx, int64_t rows, int64_t C) {
  int64_t shape[2] = {rows, C};
  for (int lg = 0; lg < 2; lg++) {
    sm_case c = {ctx, lg, {0}, {0}, {0}};
    dlc_tensor g;
    T_OK(ctx, dlc_tensor_alloc(ctx, &c.x, DLC_F32, 2, shape, cpu));
    T_OK(ctx, dlc_tensor_alloc(ctx, &c.y, DLC_F32, 2, shape, cpu));
    T_OK(ctx, dlc_tensor_alloc(ctx, &c.w, DLC_F32, 2, shape, cpu));
    T_OK(ctx, dlc_tensor_alloc(ctx, &g, DLC_F32, 2, shape, cpu));
    t_fill_uniform(c.x.data, c.x.numel, 10 + (uint64_t)C, -2, 2);
    t_fill_uniform(c.w.data, c.w.numel, 20 + (uint64_t)C, -1, 1);
    /* The analytic gradient: backward with dy = w into zeros. */
    T_OK(ctx, dlc_op_softmax_fwd(ctx, lg, &c.x, &c.y));
    T_OK(ctx, dlc_op_fill(ctx, &g, 0.f));
    T_OK(ctx, dlc_op_softmax_bwd(ctx, lg, &c.y, &c.w, &g));
    char what[64];
    snprintf(what, sizeof what, "%s %lldx%lld", lg ? "log_softmax" : "softmax", (long long)rows,
             (long long)C);
    t_gradcheck(what, c.x.data, g.data, c.x.numel, sm_loss, &c, 1e-2, 1e-2, 2e-4, 400);
    dlc_tensor_free(ctx, &c.x);
    dlc_tensor_free(ctx, &c.y);
    dlc_tensor_free(ctx, &c.w);
    dlc_tensor_free(ctx, &g);
  }
}

/* Direct checks on rows the fixtures do not hold: long rows with one huge logit, a row of
 * one element, -inf masks over a long row. */
static void test_extreme_long(dlc_ctx *ctx) {
  int64_t shape[2] = {3, 4097};
  dlc_tensor x, y;
  T_OK(ctx, dlc_tensor_alloc(ctx, &x, DLC_F32, 2, shape, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &y, DLC_F32, 2, shape, cpu));
  float *xp = x.data, *yp = y.data;
  for (int64_t i = 0; i < x.numel; i++) xp[i] = -1e30f;
  xp[1234] = 1e30f;                        /* row 0: one-hot */
  for (int64_t c = 0; c < 4097; c++) xp[4097 + c] = c % 2 ? -INFINITY : 0.f; /* row 1: masked */
  for (int64_t c = 0; c < 4097; c++) xp[2 * 4097 + c] = -INFINITY; /* row 2: all masked */
  T_OK(ctx, dlc_op_softmax_fwd(ctx, 0, &x, &y));
  int onehot = 1, masked = 1, nan_row = 1;
  for (int64_t c = 0; c < 4097; c++) {
    onehot &= yp[c] == (c == 1234 ? 1.f : 0.f);
    masked &= fabsf(yp[4097 + c] - (c % 2 ? 0.f : 1.f / 2049)) < 1e-9f;
    nan_row &= isnan(yp[2 * 4097 + c]);
  }
  T_CHECK(onehot, "a 1e30 logit among -1e30 gives a one-hot row");
  T_CHECK(masked, "-inf entries get 0, the rest share 1");
  T_CHECK(nan_row, "a row of -inf gives NaN, as PyTorch");
  T_OK(ctx, dlc_op_softmax_fwd(ctx, 1, &x, &y));
  T_CHECK(yp[1234] == 0.f && yp[0] == -2e30f, "log_softmax of the one-hot row: %g %g", yp[1234],
          yp[0]);
  T_CHECK(isinf(yp[4097 + 1]) && yp[4097 + 1] < 0, "log_softmax of -inf is -inf");

  /* A scalar is one row of one element. */
  dlc_tensor s;
  float v = 3.f;
  T_OK(ctx, dlc_tensor_borrow(ctx, &s, &v, DLC_F32, 0, NULL, cpu));
  T_OK(ctx, dlc_op_softmax_fwd(ctx, 0, &s, &s));
  T_CHECK(v == 1.f, "softmax of a scalar is 1, got %g", v);
  dlc_tensor_free(ctx, &x);
  dlc_tensor_free(ctx, &y);
}

static void test_bad_args(dlc_ctx *ctx) {
  int64_t s23[2] = {2, 3}, s5[1] = {5}, s6[1] = {6};
  dlc_tensor a, b, c, l;
  T_OK(ctx, dlc_tensor_alloc(ctx, &a, DLC_F32, 2, s23, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &b, DLC_F32, 1, s5, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &c, DLC_F32, 1, s6, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &l, DLC_I32, 1, s6, cpu));
  T_OK(ctx, dlc_op_fill(ctx, &a, 0.f));
  T_FAILS(ctx, DLC_ERR_SHAPE, "differ in element count", dlc_op_softmax_fwd(ctx, 0, &a, &b));
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "float32", dlc_op_softmax_fwd(ctx, 0, &l, &c));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "x is NULL", dlc_op_softmax_fwd(ctx, 0, NULL, &a));
  T_FAILS(ctx, DLC_ERR_SHAPE, "dy", dlc_op_softmax_bwd(ctx, 0, &a, &b, &c));
  T_FAILS(ctx, DLC_ERR_SHAPE, "dx", dlc_op_softmax_bwd(ctx, 1, &a, &c, &b));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "dx is NULL", dlc_op_softmax_bwd(ctx, 1, &a, &c, NULL));
  /* Same element count, another shape: allowed, the rows come from x. */
  T_OK(ctx, dlc_op_softmax_fwd(ctx, 0, &a, &c));
  dlc_tensor_free(ctx, &a);
  dlc_tensor_free(ctx, &b);
  dlc_tensor_free(ctx, &c);
  dlc_tensor_free(ctx, &l);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(7);
  const int64_t batches[3] = {1, 3, 64}, lengths[5] = {1, 7, 33, 1000, 4097};
  for (int c = 0; c < 5; c++)
    for (int b = 0; b < 3; b++) {
      if (lengths[c] >= 1000 && batches[b] == 64) continue; /* not generated: size */
      char name[32];
      snprintf(name, sizeof name, "%lldx%lld", (long long)batches[b], (long long)lengths[c]);
      test_fixture(ctx, name);
    }
  test_fixture(ctx, "extreme");
  test_fixture(ctx, "extreme1");
  test_gradcheck(ctx, 4, 9);
  test_gradcheck(ctx, 2, 33);
  test_gradcheck(ctx, 3, 1);
  test_extreme_long(ctx);
  test_bad_args(ctx);
  dlc_ctx_destroy(ctx);
  return t_finish("test_softmax");
}
