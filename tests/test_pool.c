/* Pooling on the CPU: PyTorch fixtures (max with its argmax, average with
 * count_include_pad both ways, padding, ceil_mode, global average, NaN and -inf inputs),
 * finite-difference gradients, PyTorch's output-size rules, bad shapes and arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

typedef struct pool_case {
  const char *name;
  dlc_pool_mode mode;
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw;
  int ceil_mode, count_include_pad;
} pool_case;

/* The grid of tests/fixtures/gen_pool.py. */
static const pool_case cases[] = {
    {"max_k2s2", DLC_POOL_MAX, 2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 0, 1},
    {"max_k3s2p1", DLC_POOL_MAX, 2, 3, 9, 7, 3, 3, 2, 2, 1, 1, 0, 1},
    {"max_ceil", DLC_POOL_MAX, 2, 2, 10, 9, 3, 3, 2, 2, 0, 0, 1, 1},
    {"max_ceil_pad", DLC_POOL_MAX, 1, 2, 7, 8, 3, 2, 2, 3, 1, 1, 1, 1},
    {"max_rect_s1", DLC_POOL_MAX, 2, 3, 6, 7, 2, 3, 1, 2, 1, 1, 0, 1},
    {"max_nan", DLC_POOL_MAX, 1, 2, 6, 6, 2, 2, 2, 2, 0, 0, 0, 1},
    {"max_batch33", DLC_POOL_MAX, 33, 1, 4, 5, 2, 2, 2, 2, 0, 0, 1, 1},
    {"avg_k2", DLC_POOL_AVG, 2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 0, 1},
    {"avg_pad_cip", DLC_POOL_AVG, 2, 3, 7, 7, 3, 3, 2, 2, 1, 1, 0, 1},
    {"avg_pad_nocip", DLC_POOL_AVG, 2, 3, 7, 7, 3, 3, 2, 2, 1, 1, 0, 0},
    {"avg_ceil_cip", DLC_POOL_AVG, 2, 2, 10, 9, 3, 3, 2, 2, 1, 1, 1, 1},
    {"avg_ceil_nocip", DLC_POOL_AVG, 2, 2, 10, 9, 3, 3, 2, 2, 1, 1, 1, 0},
    {"avg_rect_ceil", DLC_POOL_AVG, 1, 2, 9, 8, 3, 2, 2, 3, 1, 1, 1, 1},
    {"global", DLC_POOL_GLOBAL_AVG, 2, 5, 7, 6, 0, 0, 0, 0, 0, 0, 0, 1},
    {"global_1x1", DLC_POOL_GLOBAL_AVG, 3, 4, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1},
};
static const int num_cases = (int)(sizeof cases / sizeof cases[0]);

static dlc_pool2d_params params_of(const pool_case *k) {
  dlc_pool2d_params p = dlc_pool2d_params_make(k->mode, k->kh, k->kw);
  p.stride_h = k->sh;
  p.stride_w = k->sw;
  p.pad_h = k->ph;
  p.pad_w = k->pw;
  p.ceil_mode = k->ceil_mode;
  p.count_include_pad = k->count_include_pad;
  return p;
}

static dlc_tensor make(dlc_ctx *ctx, dlc_dtype dt, int ndim, const int64_t *shape) {
  dlc_tensor t;
  memset(&t, 0, sizeof t);
  dlc_tensor_alloc(ctx, &t, dt, ndim, shape, cpu);
  return t;
}

static void test_fixtures(dlc_ctx *ctx) {
  for (int c = 0; c < num_cases; c++) {
    const pool_case *k = &cases[c];
    int max = k->mode == DLC_POOL_MAX;
    const char *names[5] = {"x", "y", "dy", "dx", "argmax"};
    dlc_tensor t[5];
    memset(t, 0, sizeof t);
    int ok = 1;
    for (int i = 0; i < (max ? 5 : 4); i++) {
      char path[160];
      snprintf(path, sizeof path, "pool/%s_%s.npy", k->name, names[i]);
      ok &= t_fixture(ctx, path, &t[i]);
    }
    if (!ok) continue;
    dlc_pool2d_params p = params_of(k);
    dlc_pool2d_state s;
    T_OK(ctx, dlc_pool2d_init(ctx, &s, &p, k->c, k->h, k->w));
    int64_t ys[4] = {k->n, k->c, s.out_h, s.out_w};
    T_CHECK(t[1].ndim == 4 && t[1].shape[2] == s.out_h && t[1].shape[3] == s.out_w,
            "%s: output %lldx%lld, PyTorch's %lldx%lld", k->name, (long long)s.out_h,
            (long long)s.out_w, (long long)t[1].shape[2], (long long)t[1].shape[3]);
    dlc_tensor y = make(ctx, DLC_F32, 4, ys), am = make(ctx, DLC_I32, 4, ys);
    dlc_tensor dx = make(ctx, DLC_F32, 4, t[0].shape);
    if (y.numel != t[1].numel) {
      dlc_tensor_free(ctx, &y); dlc_tensor_free(ctx, &am); dlc_tensor_free(ctx, &dx);
      for (int i = 0; i < 5; i++) dlc_tensor_free(ctx, &t[i]);
      continue;
    }
    T_OK(ctx, dlc_pool2d_forward(ctx, &s, &t[0], &y, max ? &am : NULL));
    char what[128];
    snprintf(what, sizeof what, "pool %s y vs PyTorch", k->name);
    t_parity(what, t[1].data, y.data, y.numel, 1e-13, 1e-6);
    if (max) {
      int64_t wrong = 0;
      for (int64_t i = 0; i < am.numel; i++)
        wrong += ((int32_t *)am.data)[i] != ((int32_t *)t[4].data)[i];
      T_CHECK(wrong == 0, "%s: %lld argmax entries differ from PyTorch's", k->name, (long long)wrong);
    }
    dlc_op_fill(ctx, &dx, 0.5f);
    T_OK(ctx, dlc_pool2d_backward(ctx, &s, &t[2], max ? &am : NULL, &dx));
    for (int64_t i = 0; i < dx.numel; i++) ((float *)dx.data)[i] -= 0.5f;
    snprintf(what, sizeof what, "pool %s dx vs PyTorch", k->name);
    t_parity(what, t[3].data, dx.data, dx.numel, 1e-12, 1e-6);
    dlc_tensor_free(ctx, &y); dlc_tensor_free(ctx, &am); dlc_tensor_free(ctx, &dx);
    for (int i = 0; i < 5; i++) dlc_tensor_free(ctx, &t[i]);
  }
}

/* loss = sum(G .* pool(x)) */
typedef struct grad_case {
  dlc_ctx *ctx;
  dlc_pool2d_state s;
  dlc_tensor x, y, am, G;
} grad_case;

static double pool_loss(void *u) {
  grad_case *c = u;
  dlc_pool2d_forward(c->ctx, &c->s, &c->x, &c->y, &c->am);
  double sum = 0;
  for (int64_t i = 0; i < c->y.numel; i++) sum += (double)((float *)c->G.data)[i] * ((float *)c->y.data)[i];
  return sum;
}

static void test_gradcheck(dlc_ctx *ctx) {
  const pool_case gc[] = {
      {"max k3 s2 p1 ceil", DLC_POOL_MAX, 2, 2, 9, 8, 3, 3, 2, 2, 1, 1, 1, 1},
      {"max k2x3 s1x2", DLC_POOL_MAX, 1, 3, 5, 7, 2, 3, 1, 2, 0, 1, 0, 1},
      {"avg k3 s2 p1 ceil cip", DLC_POOL_AVG, 2, 2, 9, 8, 3, 3, 2, 2, 1, 1, 1, 1},
      {"avg k3 s2 p1 ceil nocip", DLC_POOL_AVG, 2, 2, 9, 8, 3, 3, 2, 2, 1, 1, 1, 0},
      {"avg k2x3 s1 p1", DLC_POOL_AVG, 1, 3, 5, 7, 2, 3, 1, 1, 1, 1, 0, 0},
      {"global", DLC_POOL_GLOBAL_AVG, 2, 3, 5, 4, 0, 0, 0, 0, 0, 0, 0, 1},
      /* Windows that tile the input (the CPU's row loops), rows and columns left over. */
      {"max k2 s2 tiling 7x9", DLC_POOL_MAX, 1, 2, 7, 9, 2, 2, 2, 2, 0, 0, 0, 1},
      {"avg k3 s3 tiling 7x8", DLC_POOL_AVG, 2, 2, 7, 8, 3, 3, 3, 3, 0, 0, 0, 1},
      {"avg k2x3 s2x3 tiling nocip", DLC_POOL_AVG, 1, 2, 5, 7, 2, 3, 2, 3, 0, 0, 0, 0},
  };
  for (int k = 0; k < (int)(sizeof gc / sizeof gc[0]); k++) {
    const pool_case *q = &gc[k];
    grad_case c;
    memset(&c, 0, sizeof c);
    c.ctx = ctx;
    dlc_pool2d_params p = params_of(q);
    T_OK(ctx, dlc_pool2d_init(ctx, &c.s, &p, q->c, q->h, q->w));
    int64_t xs[4] = {q->n, q->c, q->h, q->w}, ys[4] = {q->n, q->c, c.s.out_h, c.s.out_w};
    c.x = make(ctx, DLC_F32, 4, xs);
    c.y = make(ctx, DLC_F32, 4, ys);
    c.am = make(ctx, DLC_I32, 4, ys);
    c.G = make(ctx, DLC_F32, 4, ys);
    /* Distinct values 0.01 apart in a shuffled order: a +-eps nudge never changes a max. */
    float *x = c.x.data;
    for (int64_t i = 0; i < c.x.numel; i++) x[i] = 0.01f * (float)i - 1.f;
    float r[1];
    for (int64_t i = c.x.numel - 1; i > 0; i--) {
      t_fill_uniform(r, 1, 100 + (uint64_t)i, 0, 1);
      int64_t j = (int64_t)(r[0] * (float)(i + 1));
      if (j > i) j = i;
      float tmp = x[i]; x[i] = x[j]; x[j] = tmp;
    }
    t_fill_uniform(c.G.data, c.G.numel, 7, -1, 1);
    dlc_tensor dx = make(ctx, DLC_F32, 4, xs);
    dlc_op_fill(ctx, &dx, 0.f);
    T_OK(ctx, dlc_pool2d_forward(ctx, &c.s, &c.x, &c.y, &c.am));
    T_OK(ctx, dlc_pool2d_backward(ctx, &c.s, &c.G, &c.am, &dx));
    char what[96];
    snprintf(what, sizeof what, "pool %s dx", q->name);
    t_gradcheck(what, c.x.data, dx.data, c.x.numel, pool_loss, &c, 2e-3, 1e-3, 2e-4, 400);
    dlc_tensor *all[] = {&c.x, &c.y, &c.am, &c.G, &dx};
    for (int i = 0; i < 5; i++) dlc_tensor_free(ctx, all[i]);
  }
}

static void test_output_sizes(dlc_ctx *ctx) {
  /* (in, kernel, stride, pad, ceil) -> PyTorch's output size. */
  const int64_t rows[][6] = {
      {8, 2, 2, 0, 0, 4}, {9, 2, 2, 0, 0, 4}, {9, 2, 2, 0, 1, 5}, {10, 3, 2, 0, 0, 4},
      {10, 3, 2, 0, 1, 5}, {8, 2, 3, 1, 0, 3}, {8, 2, 3, 1, 1, 3}, /* the last window would start in the right padding */
      {7, 3, 2, 1, 1, 4}, {5, 5, 1, 2, 0, 5}, {1, 1, 1, 0, 1, 1}, {112, 3, 2, 1, 0, 56},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int64_t o = -1;
    T_OK(ctx, dlc_pool_out_size(ctx, "height", rows[i][0], rows[i][1], rows[i][2], rows[i][3],
                                (int)rows[i][4], &o));
    T_CHECK(o == rows[i][5], "in %lld k %lld s %lld p %lld ceil %lld: %lld, expected %lld",
            (long long)rows[i][0], (long long)rows[i][1], (long long)rows[i][2],
            (long long)rows[i][3], (long long)rows[i][4], (long long)o, (long long)rows[i][5]);
  }
}

static void test_bad(dlc_ctx *ctx) {
  dlc_pool2d_state s;
  dlc_pool2d_params p = dlc_pool2d_params_make(DLC_POOL_MAX, 3, 3);
  T_OK(ctx, dlc_pool2d_init(ctx, &s, &p, 2, 5, 5));
  p.pad_h = 2;
  T_FAILS(ctx, DLC_ERR_SHAPE, "pool2d height: padding 2 is more than half the kernel 3",
          dlc_pool2d_init(ctx, &s, &p, 2, 5, 5));
  p = dlc_pool2d_params_make(DLC_POOL_AVG, 3, 3);
  T_FAILS(ctx, DLC_ERR_SHAPE, "the kernel 3 does not fit the input 2", dlc_pool2d_init(ctx, &s, &p, 2, 2, 5));
  p.stride_w = 0;
  T_FAILS(ctx, DLC_ERR_SHAPE, "stride 0 must be positive", dlc_pool2d_init(ctx, &s, &p, 2, 5, 5));
  p = dlc_pool2d_params_make(DLC_POOL_AVG, 0, 3);
  T_FAILS(ctx, DLC_ERR_SHAPE, "kernel 0", dlc_pool2d_init(ctx, &s, &p, 2, 5, 5));
  p = dlc_pool2d_params_make(DLC_POOL_AVG, 2, 2);
  p.pad_w = -1;
  T_FAILS(ctx, DLC_ERR_SHAPE, "padding -1 >= 0", dlc_pool2d_init(ctx, &s, &p, 2, 5, 5));
  p = dlc_pool2d_params_make(DLC_POOL_AVG, 2, 2);
  T_FAILS(ctx, DLC_ERR_SHAPE, "channels 0", dlc_pool2d_init(ctx, &s, &p, 0, 5, 5));
  T_FAILS(ctx, DLC_ERR_SHAPE, "width -4", dlc_pool2d_init(ctx, &s, &p, 3, 5, -4));
  T_FAILS(ctx, DLC_ERR_SHAPE, "2^31 elements", dlc_pool2d_init(ctx, &s, &p, 3, INT64_C(1) << 16, INT64_C(1) << 16));
  p.mode = (dlc_pool_mode)9;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "not a dlc_pool_mode", dlc_pool2d_init(ctx, &s, &p, 3, 5, 5));
  p = dlc_pool2d_params_make(DLC_POOL_GLOBAL_AVG, 0, 0); /* the kernel is ignored */
  T_OK(ctx, dlc_pool2d_init(ctx, &s, &p, 3, 5, 4));
  T_CHECK(s.out_h == 1 && s.out_w == 1, "global pooling gives 1x1");

  /* Tensor checks at call time. */
  p = dlc_pool2d_params_make(DLC_POOL_MAX, 2, 2);
  T_OK(ctx, dlc_pool2d_init(ctx, &s, &p, 3, 6, 4));
  int64_t xs[4] = {2, 3, 6, 4}, ys[4] = {2, 3, 3, 2}, yb[4] = {2, 3, 3, 3};
  dlc_tensor x = make(ctx, DLC_F32, 4, xs), y = make(ctx, DLC_F32, 4, ys);
  dlc_tensor am = make(ctx, DLC_I32, 4, ys), amf = make(ctx, DLC_F32, 4, ys);
  dlc_tensor ybad = make(ctx, DLC_F32, 4, yb);
  dlc_op_fill(ctx, &x, 1.f);
  T_OK(ctx, dlc_pool2d_forward(ctx, &s, &x, &y, &am));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "argmax is NULL", dlc_pool2d_forward(ctx, &s, &x, &y, NULL));
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "argmax is float32, expected int32", dlc_pool2d_forward(ctx, &s, &x, &y, &amf));
  T_FAILS(ctx, DLC_ERR_SHAPE, "y is [2, 3, 3, 3], expected [2, 3, 3, 2]", dlc_pool2d_forward(ctx, &s, &x, &ybad, &am));
  T_FAILS(ctx, DLC_ERR_SHAPE, "dx is [2, 3, 3, 2], expected [2, 3, 6, 4]", dlc_pool2d_backward(ctx, &s, &y, &am, &y));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "the state is NULL", dlc_pool2d_forward(ctx, NULL, &x, &y, &am));
  int64_t x3[3] = {3, 6, 4};
  dlc_tensor flat = make(ctx, DLC_F32, 3, x3);
  T_FAILS(ctx, DLC_ERR_SHAPE, "x is [3, 6, 4]: expected [batch, C, H, W]", dlc_pool2d_forward(ctx, &s, &flat, &y, &am));
  dlc_tensor *all[] = {&x, &y, &am, &amf, &ybad, &flat};
  for (int i = 0; i < 6; i++) dlc_tensor_free(ctx, all[i]);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(5);
  test_fixtures(ctx);
  test_gradcheck(ctx);
  test_output_sizes(ctx);
  test_bad(ctx);
  dlc_ctx_destroy(ctx);
  return t_finish("test_pool");
}
