/* Softmax cross-entropy and MSE on the CPU: PyTorch fixtures (weights, label smoothing,
 * ignore_index, mean and sum, extreme logits, every row ignored), finite-difference
 * gradients, accumulation, thread-count independence, NaN propagation and bad arguments.
 * Fixtures: tests/fixtures/gen_softmax.py. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

static int same_or_close(float ref, float got, double rtol) {
  if (isnan(ref) || isnan(got)) return isnan(ref) && isnan(got);
  if (isinf(ref) || isinf(got)) return ref == got;
  return fabs((double)got - ref) <= rtol * fmax(1.0, fabs((double)ref));
}

static int load(dlc_ctx *ctx, const char *dir, const char *name, const char *part, dlc_tensor *t) {
  char rel[256];
  snprintf(rel, sizeof rel, "%s/%s_%s.npy", dir, name, part);
  return t_fixture(ctx, rel, t);
}

static dlc_tensor alloc_like(dlc_ctx *ctx, int ndim, const int64_t *shape) {
  dlc_tensor t;
  T_OK(ctx, dlc_tensor_alloc(ctx, &t, DLC_F32, ndim, shape, cpu));
  return t;
}

/* ------------------------------------------------------------------ cross-entropy */

static void test_xent_fixture(dlc_ctx *ctx, const char *name) {
  dlc_tensor x, labels, params, loss_ref, dx_ref, weight;
  if (!(load(ctx, "xent", name, "logits", &x) && load(ctx, "xent", name, "labels", &labels) &&
        load(ctx, "xent", name, "params", &params) && load(ctx, "xent", name, "loss", &loss_ref) &&
        load(ctx, "xent", name, "dlogits", &dx_ref)))
    return;
  const float *pp = params.data;
  dlc_xent_opts o = dlc_xent_opts_default();
  o.label_smoothing = pp[0];
  o.ignore_index = (int)pp[1];
  o.reduction = pp[2] == 0 ? DLC_REDUCE_MEAN : DLC_REDUCE_SUM;
  int has_w = pp[3] != 0;
  if (has_w) {
    if (!load(ctx, "xent", name, "weight", &weight)) return;
    o.class_weight = &weight;
  }
  int64_t rows = x.shape[0], one = 1;
  dlc_tensor logp = alloc_like(ctx, 2, x.shape), row_w = alloc_like(ctx, 1, &rows);
  dlc_tensor loss = alloc_like(ctx, 1, &one), dx = alloc_like(ctx, 2, x.shape);
  T_OK(ctx, dlc_op_softmax_xent_fwd(ctx, &x, &labels, &o, &logp, &row_w, &loss));
  float got = *(float *)loss.data, ref = *(float *)loss_ref.data;
  printf("xent %-24s loss %.8g, PyTorch %.8g\n", name, got, ref);
  T_CHECK(same_or_close(ref, got, 2e-6), "xent %s: loss %.9g, PyTorch %.9g", name, got, ref);

  /* Gradient (dloss = 1) accumulated on top of 1.0; the same again with dloss = -0.5. */
  T_OK(ctx, dlc_op_fill(ctx, &dx, 1.f));
  T_OK(ctx, dlc_op_softmax_xent_bwd(ctx, &logp, &labels, &row_w, &o, 1.f, &dx));
  const float *d = dx.data, *r = dx_ref.data;
  int64_t bad = 0;
  for (int64_t i = 0; i < dx.numel; i++) bad += !same_or_close(r[i], d[i] - 1.f, 2e-6);
  T_CHECK(bad == 0, "xent %s: %lld gradient entries differ from PyTorch", name, (long long)bad);
  T_OK(ctx, dlc_op_softmax_xent_bwd(ctx, &logp, &labels, &row_w, &o, -0.5f, &dx));
  bad = 0;
  for (int64_t i = 0; i < dx.numel; i++) bad += !same_or_close(0.5f * r[i], d[i] - 1.f, 4e-6);
  T_CHECK(bad == 0, "xent %s: dloss does not scale the gradient (%lld off)", name, (long long)bad);

  /* logp in place over the logits gives the same loss. */
  T_OK(ctx, dlc_op_softmax_xent_fwd(ctx, &x, &labels, &o, &x, &row_w, &loss));
  T_CHECK(memcmp(x.data, logp.data, x.nbytes) == 0, "xent %s: in-place logp differs", name);
  T_CHECK(same_or_close(got, *(float *)loss.data, 0), "xent %s: in-place loss differs", name);

  dlc_tensor *all[] = {&x, &labels, &params, &loss_ref, &dx_ref, &logp, &row_w, &loss, &dx};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dlc_tensor_free(ctx, all[i]);
  if (has_w) dlc_tensor_free(ctx, &weight);
}

typedef struct xent_case {
  dlc_ctx *ctx;
  dlc_tensor x, labels, logp, row_w, loss;
  dlc_xent_opts o;
} xent_case;

static double xent_loss(void *u) {
  xent_case *c = u;
  dlc_op_softmax_xent_fwd(c->ctx, &c->x, &c->labels, &c->o, &c->logp, &c->row_w, &c->loss);
  return *(float *)c->loss.data;
}

static void test_xent_gradcheck(dlc_ctx *ctx, int64_t rows, int64_t C, int weighted, float eps,
                                dlc_reduction red) {
  int64_t shape[2] = {rows, C}, one = 1;
  xent_case c;
  memset(&c, 0, sizeof c);
  c.ctx = ctx;
  c.x = alloc_like(ctx, 2, shape);
  c.logp = alloc_like(ctx, 2, shape);
  c.row_w = alloc_like(ctx, 1, &rows);
  c.loss = alloc_like(ctx, 1, &one);
  T_OK(ctx, dlc_tensor_alloc(ctx, &c.labels, DLC_I32, 1, &rows, cpu));
  dlc_tensor w = alloc_like(ctx, 1, &C), g = alloc_like(ctx, 2, shape);
  t_fill_uniform(c.x.data, c.x.numel, 31, -3, 3);
  t_fill_uniform(w.data, C, 32, 0.2f, 2.f);
  int32_t *lab = c.labels.data;
  for (int64_t r = 0; r < rows; r++) lab[r] = (int32_t)((r * 7 + 3) % C);
  lab[1] = -100; /* an ignored row: its logits get no gradient */
  c.o = dlc_xent_opts_default();
  c.o.class_weight = weighted ? &w : NULL;
  c.o.label_smoothing = eps;
  c.o.reduction = red;
  xent_loss(&c);
  T_OK(ctx, dlc_op_fill(ctx, &g, 0.f));
  T_OK(ctx, dlc_op_softmax_xent_bwd(ctx, &c.logp, &c.labels, &c.row_w, &c.o, 1.f, &g));
  int zero_row = 1;
  for (int64_t k = 0; k < C; k++) zero_row &= ((float *)g.data)[C + k] == 0.f;
  T_CHECK(zero_row, "the ignored row has a zero gradient");
  char what[80];
  snprintf(what, sizeof what, "xent %lldx%lld w=%d eps=%g %s", (long long)rows, (long long)C,
           weighted, (double)eps, red == DLC_REDUCE_MEAN ? "mean" : "sum");
  t_gradcheck(what, c.x.data, g.data, c.x.numel, xent_loss, &c, 1e-2, 1e-2, 2e-4, 400);
  dlc_tensor *all[] = {&c.x, &c.labels, &c.logp, &c.row_w, &c.loss, &w, &g};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dlc_tensor_free(ctx, all[i]);
}

/* The same loss whatever the thread count (rows are summed in order). */
static void test_xent_threads(void) {
  int64_t rows = 3000, C = 40, shape[2] = {3000, 40}, one = 1;
  float results[2];
  for (int k = 0; k < 2; k++) {
    dlc_ctx_options opt = dlc_ctx_options_default();
    opt.device = DLC_DEVICE_CPU;
    opt.threads = k ? 2 : 1;
    dlc_ctx *ctx = NULL;
    T_CHECK(dlc_ctx_create(&ctx, &opt) == DLC_OK, "context");
    dlc_tensor x = alloc_like(ctx, 2, shape), lp = alloc_like(ctx, 2, shape);
    dlc_tensor rw = alloc_like(ctx, 1, &rows), loss = alloc_like(ctx, 1, &one), lab;
    T_OK(ctx, dlc_tensor_alloc(ctx, &lab, DLC_I32, 1, &rows, cpu));
    t_fill_uniform(x.data, x.numel, 5, -4, 4);
    for (int64_t r = 0; r < rows; r++) ((int32_t *)lab.data)[r] = (int32_t)(r % C);
    dlc_xent_opts o = dlc_xent_opts_default();
    o.label_smoothing = 0.05f;
    T_OK(ctx, dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
    results[k] = *(float *)loss.data;
    dlc_tensor *all[] = {&x, &lp, &rw, &loss, &lab};
    for (size_t i = 0; i < 5; i++) dlc_tensor_free(ctx, all[i]);
    dlc_ctx_destroy(ctx);
  }
  T_CHECK(memcmp(&results[0], &results[1], 4) == 0, "1 and 2 threads: %.9g vs %.9g", results[0],
          results[1]);
}

static void test_xent_nonfinite(dlc_ctx *ctx) {
  int64_t rows = 3, shape[2] = {3, 4}, one = 1;
  dlc_tensor x = alloc_like(ctx, 2, shape), lp = alloc_like(ctx, 2, shape);
  dlc_tensor rw = alloc_like(ctx, 1, &rows), loss = alloc_like(ctx, 1, &one), lab;
  T_OK(ctx, dlc_tensor_alloc(ctx, &lab, DLC_I32, 1, &rows, cpu));
  float *xp = x.data;
  int32_t *lb = lab.data;
  for (int i = 0; i < 12; i++) xp[i] = (float)(i % 5) - 2.f;
  lb[0] = 1; lb[1] = 2; lb[2] = -100;
  dlc_xent_opts o = dlc_xent_opts_default();
  xp[5] = NAN;
  T_OK(ctx, dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
  T_CHECK(isnan(*(float *)loss.data), "a NaN logit makes the loss NaN");
  xp[5] = 0.f;
  xp[9] = NAN; /* in the ignored row: no effect, as in PyTorch */
  T_OK(ctx, dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
  T_CHECK(isfinite(*(float *)loss.data), "a NaN in an ignored row does not count");
  xp[9] = 0.f;
  xp[4 + 2] = -INFINITY; /* the label's logit masked: infinite loss */
  T_OK(ctx, dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
  T_CHECK(isinf(*(float *)loss.data) && *(float *)loss.data > 0, "a -inf label logit: +inf loss");
  dlc_tensor *all[] = {&x, &lp, &rw, &loss, &lab};
  for (size_t i = 0; i < 5; i++) dlc_tensor_free(ctx, all[i]);
}

static void test_xent_bad_args(dlc_ctx *ctx) {
  int64_t rows = 4, C = 10, shape[2] = {4, 10}, one = 1, two = 2, c11 = 11, flat = 40;
  dlc_tensor x = alloc_like(ctx, 2, shape), lp = alloc_like(ctx, 2, shape);
  dlc_tensor rw = alloc_like(ctx, 1, &rows), loss = alloc_like(ctx, 1, &one);
  dlc_tensor loss2 = alloc_like(ctx, 1, &two), w11 = alloc_like(ctx, 1, &c11);
  dlc_tensor w = alloc_like(ctx, 1, &C), fl = alloc_like(ctx, 1, &rows), x1, lab, lab3;
  T_OK(ctx, dlc_tensor_borrow(ctx, &x1, x.data, DLC_F32, 1, &flat, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &lab, DLC_I32, 1, &rows, cpu));
  int64_t three = 3;
  T_OK(ctx, dlc_tensor_alloc(ctx, &lab3, DLC_I32, 1, &three, cpu));
  t_fill_uniform(x.data, 40, 1, -1, 1);
  T_OK(ctx, dlc_op_fill(ctx, &w, 1.f));
  int32_t *lb = lab.data;
  lb[0] = 0; lb[1] = 9; lb[2] = 10; lb[3] = -100;

  dlc_xent_opts o = dlc_xent_opts_default();
  T_CHECK(o.ignore_index == -100 && o.label_smoothing == 0.f && o.class_weight == NULL &&
              o.reduction == DLC_REDUCE_MEAN, "dlc_xent_opts_default is PyTorch's default");
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "label 10 at row 2",
          dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "label 10 at row 2",
          dlc_op_softmax_xent_bwd(ctx, &lp, &lab, &rw, &o, 1.f, &x));
  lb[2] = -1;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "label -1 at row 2",
          dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
  lb[2] = 5;
  T_OK(ctx, dlc_op_softmax_xent_fwd(ctx, &x, &lab, NULL, &lp, &rw, &loss)); /* NULL: defaults */
  const float bad_eps[3] = {-0.1f, 1.5f, NAN};
  for (int i = 0; i < 3; i++) {
    o.label_smoothing = bad_eps[i];
    T_FAILS(ctx, DLC_ERR_INVALID_ARG, "label_smoothing",
            dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
    T_FAILS(ctx, DLC_ERR_INVALID_ARG, "label_smoothing",
            dlc_op_softmax_xent_bwd(ctx, &lp, &lab, &rw, &o, 1.f, &x));
  }
  o = dlc_xent_opts_default();
  o.class_weight = &w11;
  T_FAILS(ctx, DLC_ERR_SHAPE, "class_weight",
          dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
  o.class_weight = &lab; /* int32 weights */
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "class_weight",
          dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
  o.class_weight = &w;
  o.reduction = (dlc_reduction)7;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "reduction",
          dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
  o.reduction = DLC_REDUCE_SUM;
  T_OK(ctx, dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss));
  T_FAILS(ctx, DLC_ERR_SHAPE, "[N, C]", dlc_op_softmax_xent_fwd(ctx, &x1, &lab, &o, &lp, &rw, &loss));
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "int32", dlc_op_softmax_xent_fwd(ctx, &x, &fl, &o, &lp, &rw, &loss));
  T_FAILS(ctx, DLC_ERR_SHAPE, "labels", dlc_op_softmax_xent_fwd(ctx, &x, &lab3, &o, &lp, &rw, &loss));
  T_FAILS(ctx, DLC_ERR_SHAPE, "loss", dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &rw, &loss2));
  T_FAILS(ctx, DLC_ERR_SHAPE, "row_w", dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &lp, &loss2, &loss));
  T_FAILS(ctx, DLC_ERR_SHAPE, "logp", dlc_op_softmax_xent_fwd(ctx, &x, &lab, &o, &rw, &rw, &loss));
  T_FAILS(ctx, DLC_ERR_SHAPE, "dlogits", dlc_op_softmax_xent_bwd(ctx, &lp, &lab, &rw, &o, 1.f, &rw));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "labels is NULL",
          dlc_op_softmax_xent_fwd(ctx, &x, NULL, &o, &lp, &rw, &loss));
  dlc_tensor *all[] = {&x, &lp, &rw, &loss, &loss2, &w11, &w, &fl, &lab, &lab3};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dlc_tensor_free(ctx, all[i]);
}

/* ------------------------------------------------------------------ MSE */

static void test_mse_fixture(dlc_ctx *ctx, const char *name) {
  dlc_tensor x, t;
  if (!(load(ctx, "mse", name, "x", &x) && load(ctx, "mse", name, "t", &t))) return;
  int64_t one = 1;
  dlc_tensor loss = alloc_like(ctx, 1, &one), dx = alloc_like(ctx, x.ndim, x.shape);
  for (int red = 0; red < 2; red++) {
    const char *rn = red ? "sum" : "mean";
    char part[32];
    dlc_tensor lref, dref;
    snprintf(part, sizeof part, "loss_%s", rn);
    if (!load(ctx, "mse", name, part, &lref)) continue;
    snprintf(part, sizeof part, "dx_%s", rn);
    if (!load(ctx, "mse", name, part, &dref)) continue;
    T_OK(ctx, dlc_op_mse_fwd(ctx, &x, &t, (dlc_reduction)red, &loss));
    float got = *(float *)loss.data, ref = *(float *)lref.data;
    printf("mse %s %-4s loss %.8g, PyTorch %.8g\n", name, rn, got, ref);
    T_CHECK(same_or_close(ref, got, 2e-6), "mse %s %s: %.9g vs %.9g", name, rn, got, ref);
    T_OK(ctx, dlc_op_fill(ctx, &dx, -2.f));
    T_OK(ctx, dlc_op_mse_bwd(ctx, &x, &t, (dlc_reduction)red, 1.f, &dx));
    int64_t bad = 0;
    for (int64_t i = 0; i < dx.numel; i++)
      bad += !same_or_close(((float *)dref.data)[i], ((float *)dx.data)[i] + 2.f, 2e-6);
    T_CHECK(bad == 0, "mse %s %s: %lld gradient entries off", name, rn, (long long)bad);
    dlc_tensor_free(ctx, &lref);
    dlc_tensor_free(ctx, &dref);
  }
  dlc_tensor_free(ctx, &x);
  dlc_tensor_free(ctx, &t);
  dlc_tensor_free(ctx, &loss);
  dlc_tensor_free(ctx, &dx);
}

typedef struct mse_case {
  dlc_ctx *ctx;
  dlc_tensor x, t, loss;
  dlc_reduction red;
} mse_case;

static double mse_loss(void *u) {
  mse_case *c = u;
  dlc_op_mse_fwd(c->ctx, &c->x, &c->t, c->red, &c->loss);
  return *(float *)c->loss.data;
}

static void test_mse_gradcheck(dlc_ctx *ctx) {
  int64_t n = 123, one = 1;
  for (int red = 0; red < 2; red++) {
    mse_case c = {ctx, alloc_like(ctx, 1, &n), alloc_like(ctx, 1, &n), alloc_like(ctx, 1, &one),
                  (dlc_reduction)red};
    dlc_tensor g = alloc_like(ctx, 1, &n);
    t_fill_uniform(c.x.data, n, 41, -2, 2);
    t_fill_uniform(c.t.data, n, 42, -2, 2);
    T_OK(ctx, dlc_op_fill(ctx, &g, 0.f));
    T_OK(ctx, dlc_op_mse_bwd(ctx, &c.x, &c.t, c.red, 1.f, &g));
    /* The loss is quadratic, so a wide step is exact and keeps float rounding small. */
    t_gradcheck(red ? "mse sum" : "mse mean", c.x.data, g.data, n, mse_loss, &c, 0.25, 1e-3, 2e-4,
                200);
    dlc_tensor_free(ctx, &c.x);
    dlc_tensor_free(ctx, &c.t);
    dlc_tensor_free(ctx, &c.loss);
    dlc_tensor_free(ctx, &g);
  }
}

static void test_mse_misc(dlc_ctx *ctx) {
  int64_t n = 5, m = 6, one = 1, two = 2;
  dlc_tensor x = alloc_like(ctx, 1, &n), t = alloc_like(ctx, 1, &n), y = alloc_like(ctx, 1, &m);
  dlc_tensor loss = alloc_like(ctx, 1, &one), loss2 = alloc_like(ctx, 1, &two);
  T_OK(ctx, dlc_op_fill(ctx, &x, 1.f));
  T_OK(ctx, dlc_op_fill(ctx, &t, 0.f));
  ((float *)x.data)[3] = INFINITY;
  T_OK(ctx, dlc_op_mse_fwd(ctx, &x, &t, DLC_REDUCE_MEAN, &loss));
  T_CHECK(isinf(*(float *)loss.data), "an infinite input gives an infinite MSE");
  ((float *)x.data)[3] = NAN;
  T_OK(ctx, dlc_op_mse_fwd(ctx, &x, &t, DLC_REDUCE_SUM, &loss));
  T_CHECK(isnan(*(float *)loss.data), "NaN propagates into the MSE");
  T_FAILS(ctx, DLC_ERR_SHAPE, "differ in element count", dlc_op_mse_fwd(ctx, &x, &y, DLC_REDUCE_MEAN, &loss));
  T_FAILS(ctx, DLC_ERR_SHAPE, "loss", dlc_op_mse_fwd(ctx, &x, &t, DLC_REDUCE_MEAN, &loss2));
  T_FAILS(ctx, DLC_ERR_SHAPE, "dx", dlc_op_mse_bwd(ctx, &x, &t, DLC_REDUCE_MEAN, 1.f, &y));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "reduction", dlc_op_mse_fwd(ctx, &x, &t, (dlc_reduction)3, &loss));
  dlc_tensor *all[] = {&x, &t, &y, &loss, &loss2};
  for (size_t i = 0; i < 5; i++) dlc_tensor_free(ctx, all[i]);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(11);
  const char *xent_cases[] = {"basic_mean",  "basic_sum",        "full_mean",       "full_sum",
                              "smooth_ignore_mean", "weight_mean", "ignore3_mean",   "long_mean",
                              "all_ignored_mean", "all_ignored_sum", "extreme_mean", "eps1_sum"};
  for (size_t i = 0; i < sizeof xent_cases / sizeof xent_cases[0]; i++)
    test_xent_fixture(ctx, xent_cases[i]);
  for (int red = 0; red < 2; red++) {
    test_xent_gradcheck(ctx, 6, 5, 1, 0.1f, (dlc_reduction)red);
    test_xent_gradcheck(ctx, 6, 5, 0, 0.f, (dlc_reduction)red);
    test_xent_gradcheck(ctx, 3, 37, 1, 0.25f, (dlc_reduction)red);
  }
  test_xent_threads();
  test_xent_nonfinite(ctx);
  test_xent_bad_args(ctx);
  test_mse_fixture(ctx, "7x13");
  test_mse_fixture(ctx, "1");
  test_mse_gradcheck(ctx);
  test_mse_misc(ctx);
  dlc_ctx_destroy(ctx);
  return t_finish("test_loss");
}
