/* Activations, dense, bias gradient and dropout on the CPU: PyTorch fixtures,
 * finite-difference gradients, NaN/Inf behaviour, bad arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};
static const char *act_names[DLC_ACT_COUNT] = {"none", "tanh", "sigmoid", "relu", "leaky"};
static const float leaky_slope = 0.1f;

static dlc_tensor make(dlc_ctx *ctx, int ndim, const int64_t *shape) {
  dlc_tensor t;
  dlc_tensor_alloc(ctx, &t, DLC_F32, ndim, shape, cpu);
  return t;
}

static dlc_tensor make1(dlc_ctx *ctx, int64_t n) { return make(ctx, 1, &n); }

/* Element-wise comparison that treats NaN == NaN and equal infinities as equal. */
static void compare(const char *what, const dlc_tensor *ref, const dlc_tensor *got, double tol) {
  T_CHECK(ref->numel == got->numel, "%s: sizes differ", what);
  if (ref->numel == got->numel) t_parity(what, ref->data, got->data, ref->numel, tol * tol, tol);
}

static void test_activation_fixtures(dlc_ctx *ctx) {
  dlc_tensor x, dy;
  if (!t_fixture(ctx, "act/x.npy", &x) || !t_fixture(ctx, "act/dy.npy", &dy)) return;
  for (int a = 1; a < DLC_ACT_COUNT; a++) {
    char path[128], what[96];
    dlc_tensor yref, dxref;
    snprintf(path, sizeof path, "act/%s_y.npy", act_names[a]);
    if (!t_fixture(ctx, path, &yref)) continue;
    snprintf(path, sizeof path, "act/%s_dx.npy", act_names[a]);
    if (!t_fixture(ctx, path, &dxref)) continue;
    dlc_tensor y = make1(ctx, x.numel), dx = make1(ctx, x.numel);
    T_OK(ctx, dlc_op_act_fwd(ctx, (dlc_act)a, leaky_slope, &x, &y));
    snprintf(what, sizeof what, "%s forward vs PyTorch", act_names[a]);
    compare(what, &yref, &y, 2e-6);
    /* Backward accumulates: start from 1 and expect 1 + the gradient. */
    T_OK(ctx, dlc_op_fill(ctx, &dx, 1.f));
    T_OK(ctx, dlc_op_act_bwd(ctx, (dlc_act)a, leaky_slope, &x, &y, &dy, &dx));
    float *d = dx.data;
    for (int64_t i = 0; i < dx.numel; i++) d[i] -= 1.f;
    snprintf(what, sizeof what, "%s backward vs PyTorch", act_names[a]);
    compare(what, &dxref, &dx, 2e-6);
    dlc_tensor_free(ctx, &y); dlc_tensor_free(ctx, &dx);
    dlc_tensor_free(ctx, &yref); dlc_tensor_free(ctx, &dxref);
  }
  dlc_tensor_free(ctx, &x);
  dlc_tensor_free(ctx, &dy);
}

/* loss = sum(w .* act(x)) */
typedef struct act_case {
  dlc_ctx *ctx;
  dlc_act act;
  dlc_tensor x, y, w;
} act_case;

static double act_loss(void *u) {
  act_case *c = u;
  dlc_op_act_fwd(c->ctx, c->act, leaky_slope, &c->x, &c->y);
  double s = 0;
  for (int64_t i = 0; i < c->y.numel; i++) s += (double)((float *)c->w.data)[i] * ((float *)c->y.data)[i];
  return s;
}

static void test_activation_gradcheck(dlc_ctx *ctx) {
  for (int a = 0; a < DLC_ACT_COUNT; a++) {
    act_case c = {ctx, (dlc_act)a, make1(ctx, 301), make1(ctx, 301), make1(ctx, 301)};
    float *x = c.x.data;
    t_fill_uniform(x, 301, 40 + (uint64_t)a, -3, 3);
    for (int i = 0; i < 301; i++) /* keep away from ReLU's kink, where no derivative exists */
      if (fabsf(x[i]) < 0.05f) x[i] = 0.5f;
    t_fill_uniform(c.w.data, 301, 50, -1, 1);
    dlc_tensor dx = make1(ctx, 301);
    T_OK(ctx, dlc_op_act_fwd(ctx, c.act, leaky_slope, &c.x, &c.y));
    T_OK(ctx, dlc_op_fill(ctx, &dx, 0.f));
    T_OK(ctx, dlc_op_act_bwd(ctx, c.act, leaky_slope, &c.x, &c.y, &c.w, &dx));
    char what[64];
    snprintf(what, sizeof what, "%s dx", act_names[a]);
    t_gradcheck(what, x, dx.data, 301, act_loss, &c, 1e-2, 2e-3, 1e-4, 301);
    dlc_tensor_free(ctx, &c.x); dlc_tensor_free(ctx, &c.y); dlc_tensor_free(ctx, &c.w);
    dlc_tensor_free(ctx, &dx);
  }
}

static void test_dense_fixtures(dlc_ctx *ctx) {
  const int64_t dims[3][3] = {{1, 7, 5}, {3, 33, 10}, {64, 100, 32}};
  for (int d = 0; d < 3; d++)
    for (int a = 0; a < DLC_ACT_COUNT; a++) {
      dlc_tensor t[8];
      const char *names[8] = {"x", "w", "b", "y", "dy", "dx", "dw", "db"};
      int ok = 1;
      for (int k = 0; k < 8; k++) {
        char path[160];
        snprintf(path, sizeof path, "dense/n%lld_i%lld_o%lld_%s_%s.npy", (long long)dims[d][0],
                 (long long)dims[d][1], (long long)dims[d][2], act_names[a], names[k]);
        ok &= t_fixture(ctx, path, &t[k]);
      }
      if (!ok) continue;
      int64_t n = dims[d][0], fin = dims[d][1], fout = dims[d][2];
      int64_t ys[2] = {n, fout};
      dlc_tensor y = make(ctx, 2, ys), dz = make(ctx, 2, ys), dx = make(ctx, t[0].ndim, t[0].shape);
      dlc_tensor dw = make(ctx, 2, t[1].shape), db = make1(ctx, fout);
      T_OK(ctx, dlc_op_dense_fwd(ctx, &t[0], &t[1], &t[2], (dlc_act)a, leaky_slope, &y));
      char what[128];
      snprintf(what, sizeof what, "dense %lldx%lld->%lld %s y", (long long)n, (long long)fin,
               (long long)fout, act_names[a]);
      /* Absolute limits that grow with what each output sums (testutil.h t_sum_tol): y sums
       * fin products x*w and the bias, dx fout products dz*w, dw n products dz*x, db n
       * values of dz (|dz| <= |dy| times the activation's slope, at most 1 here). */
      double mx = t_max_abs(t[0].data, t[0].numel), mw = t_max_abs(t[1].data, t[1].numel),
             mb = t_max_abs(t[2].data, t[2].numel), mdy = t_max_abs(t[4].data, t[4].numel);
      double tol_y = fmax(1e-5, t_sum_tol(fin + 1, fmax(mx * mw, mb))), tol_dx = fmax(1e-5, t_sum_tol(fout, mdy * mw)),
             tol_dw = fmax(1e-5, t_sum_tol(n, mdy * mx)), tol_db = fmax(1e-5, t_sum_tol(n, mdy));
      compare(what, &t[3], &y, tol_y);
      dlc_op_fill(ctx, &dx, 0.f);
      dlc_op_fill(ctx, &dw, 0.f);
      dlc_op_fill(ctx, &db, 0.f);
      T_OK(ctx, dlc_op_dense_bwd(ctx, &t[0], &t[1], &y, &t[4], (dlc_act)a, leaky_slope, &dz, &dx, &dw, &db));
      what[strlen(what) - 1] = '\0';
      char w2[140];
      snprintf(w2, sizeof w2, "%sdx", what); compare(w2, &t[5], &dx, tol_dx);
      snprintf(w2, sizeof w2, "%sdw", what); compare(w2, &t[6], &dw, tol_dw);
      snprintf(w2, sizeof w2, "%sdb", what); compare(w2, &t[7], &db, tol_db);
      for (int k = 0; k < 8; k++) dlc_tensor_free(ctx, &t[k]);
      dlc_tensor_free(ctx, &y); dlc_tensor_free(ctx, &dz); dlc_tensor_free(ctx, &dx);
      dlc_tensor_free(ctx, &dw); dlc_tensor_free(ctx, &db);
    }
}

/* loss = sum(g .* dense(x; w, b)) */
typedef struct dense_case {
  dlc_ctx *ctx;
  dlc_act act;
  dlc_tensor x, w, b, y, g;
} dense_case;

static double dense_loss(void *u) {
  dense_case *c = u;
  dlc_op_dense_fwd(c->ctx, &c->x, &c->w, &c->b, c->act, leaky_slope, &c->y);
  double s = 0;
  for (int64_t i = 0; i < c->y.numel; i++) s += (double)((float *)c->g.data)[i] * ((float *)c->y.data)[i];
  return s;
}

static void test_dense_gradcheck(dlc_ctx *ctx) {
  for (int a = 0; a < DLC_ACT_COUNT; a++) {
    int64_t xs[2] = {6, 9}, ws[2] = {5, 9}, ys[2] = {6, 5};
    dense_case c = {ctx, (dlc_act)a, make(ctx, 2, xs), make(ctx, 2, ws), make1(ctx, 5),
                    make(ctx, 2, ys), make(ctx, 2, ys)};
    t_fill_uniform(c.x.data, 54, 1, -1, 1);
    t_fill_uniform(c.w.data, 45, 2, -0.6f, 0.6f);
    t_fill_uniform(c.b.data, 5, 3, -0.5f, 0.5f);
    t_fill_uniform(c.g.data, 30, 4, -1, 1);
    /* Nudge pre-activations away from ReLU's kink so finite differences see one side. */
    T_OK(ctx, dlc_op_dense_fwd(ctx, &c.x, &c.w, &c.b, DLC_ACT_NONE, 0, &c.y));
    for (int i = 0; i < 5; i++) {
      float z_min = 1e9f;
      for (int r = 0; r < 6; r++) z_min = fminf(z_min, fabsf(((float *)c.y.data)[r * 5 + i]));
      if (z_min < 0.05f) ((float *)c.b.data)[i] += 0.1f;
    }
    dlc_tensor y = make(ctx, 2, ys), dz = make(ctx, 2, ys), dx = make(ctx, 2, xs),
               dw = make(ctx, 2, ws), db = make1(ctx, 5);
    T_OK(ctx, dlc_op_dense_fwd(ctx, &c.x, &c.w, &c.b, c.act, leaky_slope, &y));
    dlc_op_fill(ctx, &dx, 0.f); dlc_op_fill(ctx, &dw, 0.f); dlc_op_fill(ctx, &db, 0.f);
    T_OK(ctx, dlc_op_dense_bwd(ctx, &c.x, &c.w, &y, &c.g, c.act, leaky_slope, &dz, &dx, &dw, &db));
    char what[64];
    snprintf(what, sizeof what, "dense %s dx", act_names[a]);
    t_gradcheck(what, c.x.data, dx.data, 54, dense_loss, &c, 1e-2, 2e-3, 1e-4, 54);
    snprintf(what, sizeof what, "dense %s dw", act_names[a]);
    t_gradcheck(what, c.w.data, dw.data, 45, dense_loss, &c, 1e-2, 2e-3, 1e-4, 45);
    snprintf(what, sizeof what, "dense %s db", act_names[a]);
    t_gradcheck(what, c.b.data, db.data, 5, dense_loss, &c, 1e-2, 2e-3, 1e-4, 5);
    dlc_tensor *all[] = {&c.x, &c.w, &c.b, &c.y, &c.g, &y, &dz, &dx, &dw, &db};
    for (int k = 0; k < 10; k++) dlc_tensor_free(ctx, all[k]);
  }
}

static void test_bias_grad(dlc_ctx *ctx) {
  int64_t s[2] = {333, 37};
  dlc_tensor dz = make(ctx, 2, s), db = make1(ctx, 37);
  t_fill_uniform(dz.data, dz.numel, 9, -1, 1);
  float ref[37];
  for (int c = 0; c < 37; c++) {
    double acc = 0.5;
    for (int r = 0; r < 333; r++) acc += ((float *)dz.data)[r * 37 + c];
    ref[c] = (float)acc;
  }
  dlc_op_fill(ctx, &db, 0.5f);
  T_OK(ctx, dlc_op_bias_grad(ctx, &dz, &db));
  t_parity("bias_grad 333x37 (accumulating)", ref, db.data, 37, 1e-12, fmax(1e-5, t_sum_tol(333 + 1, 1.0)));
  dlc_tensor bad = make1(ctx, 36);
  T_FAILS(ctx, DLC_ERR_SHAPE, "last dimension", dlc_op_bias_grad(ctx, &dz, &bad));
  dlc_tensor_free(ctx, &bad); dlc_tensor_free(ctx, &dz); dlc_tensor_free(ctx, &db);
}

typedef struct drop_case {
  dlc_ctx *ctx;
  float p;
  dlc_tensor x, y, w;
} drop_case;

static double drop_loss(void *u) {
  drop_case *c = u;
  uint64_t off;
  dlc_ctx_set_rng_offset(c->ctx, 777); /* the same mask every evaluation */
  dlc_op_dropout_fwd(c->ctx, c->p, 1, &c->x, &c->y, &off);
  double s = 0;
  for (int64_t i = 0; i < c->y.numel; i++) s += (double)((float *)c->w.data)[i] * ((float *)c->y.data)[i];
  return s;
}

static void test_dropout(dlc_ctx *ctx) {
  int64_t n = 100003;
  dlc_tensor x = make1(ctx, n), y = make1(ctx, n), dx = make1(ctx, n), dy = make1(ctx, n);
  t_fill_uniform(x.data, n, 5, 0.5f, 1.5f); /* nonzero, so a zero output means dropped */
  const float ps[3] = {0.1f, 0.5f, 0.9f};
  for (int k = 0; k < 3; k++) {
    float p = ps[k], scale = 1.f / (1.f - p);
    uint64_t off, before = dlc_ctx_rng_offset(ctx);
    T_OK(ctx, dlc_op_dropout_fwd(ctx, p, 1, &x, &y, &off));
    T_CHECK(off == before && dlc_ctx_rng_offset(ctx) == before + (uint64_t)(n + 3) / 4, "offset");
    int64_t kept = 0, wrong = 0;
    const float *xp = x.data, *yp = y.data;
    for (int64_t i = 0; i < n; i++) {
      if (yp[i] != 0.f) {
        kept++;
        wrong += yp[i] != xp[i] * scale;
      }
    }
    double expect = n * (1 - p), sd = sqrt(n * p * (1 - p));
    printf("dropout p=%.1f: kept %lld of %lld (expected %.0f +- %.0f)\n", p, (long long)kept,
           (long long)n, expect, sd);
    T_CHECK(fabs(kept - expect) < 5 * sd, "dropout p=%g keeps %lld", p, (long long)kept);
    T_CHECK(wrong == 0, "kept values are x / (1 - p)");
    /* Backward regenerates the same mask: dx is nonzero exactly where y is. */
    dlc_op_fill(ctx, &dy, 2.f);
    dlc_op_fill(ctx, &dx, 0.f);
    T_OK(ctx, dlc_op_dropout_bwd(ctx, p, off, &dy, &dx));
    const float *dxp = dx.data;
    int64_t mism = 0;
    for (int64_t i = 0; i < n; i++) mism += (dxp[i] != 0.f) != (yp[i] != 0.f) || (dxp[i] != 0.f && dxp[i] != 2.f * scale);
    T_CHECK(mism == 0, "backward mask matches forward (%lld mismatches)", (long long)mism);
  }
  /* Eval mode and p = 0 are the identity and use no random numbers; p = 1 drops all. */
  uint64_t off, before = dlc_ctx_rng_offset(ctx);
  T_OK(ctx, dlc_op_dropout_fwd(ctx, 0.5f, 0, &x, &y, &off));
  T_CHECK(memcmp(x.data, y.data, x.nbytes) == 0 && dlc_ctx_rng_offset(ctx) == before, "eval identity");
  T_OK(ctx, dlc_op_dropout_fwd(ctx, 0.f, 1, &x, &y, &off));
  T_CHECK(memcmp(x.data, y.data, x.nbytes) == 0, "p = 0 identity");
  T_OK(ctx, dlc_op_dropout_fwd(ctx, 1.f, 1, &x, &y, &off));
  int nz = 0;
  for (int64_t i = 0; i < n; i++) nz += ((float *)y.data)[i] != 0.f;
  T_CHECK(nz == 0, "p = 1 drops everything");
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "not in [0, 1]", dlc_op_dropout_fwd(ctx, 1.5f, 1, &x, &y, &off));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "not in [0, 1]", dlc_op_dropout_fwd(ctx, NAN, 1, &x, &y, &off));

  /* Gradient check with the mask held fixed. */
  drop_case c = {ctx, 0.3f, make1(ctx, 200), make1(ctx, 200), make1(ctx, 200)};
  t_fill_uniform(c.x.data, 200, 6, -1, 1);
  t_fill_uniform(c.w.data, 200, 7, -1, 1);
  dlc_tensor g = make1(ctx, 200);
  dlc_op_fill(ctx, &g, 0.f);
  drop_loss(&c);
  T_OK(ctx, dlc_op_dropout_bwd(ctx, c.p, 777, &c.w, &g));
  t_gradcheck("dropout p=0.3 dx", c.x.data, g.data, 200, drop_loss, &c, 1e-2, 1e-3, 1e-4, 200);
  dlc_tensor *all[] = {&x, &y, &dx, &dy, &c.x, &c.y, &c.w, &g};
  for (int k = 0; k < 8; k++) dlc_tensor_free(ctx, all[k]);
}

static void test_bad_arguments(dlc_ctx *ctx) {
  int64_t xs[2] = {4, 6}, ws[2] = {3, 5}, ys[2] = {4, 3};
  dlc_tensor x = make(ctx, 2, xs), w = make(ctx, 2, ws), y = make(ctx, 2, ys), b = make1(ctx, 4);
  T_FAILS(ctx, DLC_ERR_SHAPE, "in_features = 5", dlc_op_dense_fwd(ctx, &x, &w, NULL, DLC_ACT_NONE, 0, &y));
  int64_t ws2[2] = {3, 6};
  dlc_tensor w2 = make(ctx, 2, ws2);
  T_FAILS(ctx, DLC_ERR_SHAPE, "out_features = 3", dlc_op_dense_fwd(ctx, &x, &w2, &b, DLC_ACT_NONE, 0, &y));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "not a dlc_act", dlc_op_dense_fwd(ctx, &x, &w2, NULL, (dlc_act)17, 0, &y));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "cannot be recovered",
          dlc_op_dense_bwd(ctx, &x, &w2, &y, &y, DLC_ACT_LEAKY_RELU, -0.5f, &y, NULL, &w2, NULL));
  T_FAILS(ctx, DLC_ERR_SHAPE, "expected", dlc_op_act_fwd(ctx, DLC_ACT_TANH, 0, &x, &y));
  dlc_tensor *all[] = {&x, &w, &y, &b, &w2};
  for (int k = 0; k < 5; k++) dlc_tensor_free(ctx, all[k]);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(11);
  test_activation_fixtures(ctx);
  test_activation_gradcheck(ctx);
  test_dense_fixtures(ctx);
  test_dense_gradcheck(ctx);
  test_bias_grad(ctx);
  test_dropout(ctx);
  test_bad_arguments(ctx);
  dlc_ctx_destroy(ctx);
  return t_finish("test_dense");
}
