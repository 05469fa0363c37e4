/* conv2d on the CPU: PyTorch fixtures over a grid of shapes (forward, backward-data,
 * backward-weights, bias), finite-difference gradients, chunking under a tiny workspace
 * limit (same results as unchunked), smaller batches than the state's, bad shapes and
 * arguments with their messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

typedef struct conv_case {
  const char *name;
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, g;
} conv_case;

/* The grid of tests/fixtures/gen_conv.py. */
static const conv_case cases[] = {
    {"basic", 2, 3, 7, 9, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1},
    {"s2p1", 2, 3, 11, 8, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1},
    {"rect", 2, 2, 9, 10, 3, 2, 5, 2, 1, 1, 2, 1, 1, 1},
    {"dil2", 2, 2, 9, 10, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1},
    {"dil_rect", 1, 3, 10, 7, 2, 3, 2, 2, 1, 1, 0, 2, 3, 1},
    {"groups2", 2, 4, 6, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2},
    {"depthwise", 2, 5, 8, 8, 5, 3, 3, 2, 2, 1, 1, 1, 1, 5},
    {"depthwise_mult", 2, 3, 7, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3},
    {"pointwise", 3, 6, 5, 7, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1},
    {"pointwise_g2", 2, 6, 5, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2},
    {"pointwise_s2", 2, 4, 7, 7, 3, 1, 1, 2, 2, 0, 0, 1, 1, 1},
    {"big_kernel", 2, 2, 3, 4, 3, 5, 5, 1, 1, 1, 1, 1, 1, 1},
    {"batch1", 1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"batch33", 33, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"lenet", 4, 1, 12, 12, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1},
    {"s3_groups_dil", 2, 6, 13, 11, 4, 3, 2, 3, 2, 2, 1, 2, 1, 2},
};
static const int num_cases = (int)(sizeof cases / sizeof cases[0]);

static dlc_conv2d_params params_of(const conv_case *k) {
  dlc_conv2d_params p = dlc_conv2d_params_make(k->c, k->o, k->kh, k->kw);
  p.stride_h = k->sh;
  p.stride_w = k->sw;
  p.pad_h = k->ph;
  p.pad_w = k->pw;
  p.dilation_h = k->dh;
  p.dilation_w = k->dw;
  p.groups = k->g;
  return p;
}

static dlc_tensor make(dlc_ctx *ctx, int ndim, const int64_t *shape) {
  dlc_tensor t;
  memset(&t, 0, sizeof t);
  dlc_tensor_alloc(ctx, &t, DLC_F32, ndim, shape, cpu);
  return t;
}

/* A workspace of the state's size (a zero-sized state gets none). */
static dlc_tensor make_ws(dlc_ctx *ctx, const dlc_conv2d_state *s) {
  dlc_tensor t;
  memset(&t, 0, sizeof t);
  int64_t n = (int64_t)((dlc_conv2d_workspace_bytes(s) + 3) / 4);
  if (n > 0) dlc_tensor_alloc(ctx, &t, DLC_F32, 1, &n, cpu);
  return t;
}

static dlc_tensor *ws_or_null(dlc_tensor *t) { return t->data ? t : NULL; }

/* Results of one forward and backward pass. */
typedef struct outputs {
  dlc_tensor y, dx, dw, db;
} outputs;

static void free_outputs(dlc_ctx *ctx, outputs *o) {
  dlc_tensor_free(ctx, &o->y);
  dlc_tensor_free(ctx, &o->dx);
  dlc_tensor_free(ctx, &o->dw);
  dlc_tensor_free(ctx, &o->db);
}

/* Forward, then the gradients accumulated onto dx = 0.5, dw = 0.25, db = -0.5 (subtracted
 * again, so that the outputs are the gradients and accumulation is checked). */
static int run_pass(dlc_ctx *ctx, dlc_conv2d_state *s, const dlc_tensor *x, const dlc_tensor *w,
                    const dlc_tensor *b, const dlc_tensor *dy, outputs *o) {
  int64_t n = x->shape[0];
  int64_t ys[4] = {n, s->p.out_channels, s->out_h, s->out_w};
  o->y = make(ctx, 4, ys);
  o->dx = make(ctx, 4, x->shape);
  o->dw = make(ctx, 4, w->shape);
  o->db = make(ctx, 1, &s->p.out_channels);
  dlc_tensor ws = make_ws(ctx, s);
  int ok = 1;
  dlc_status st = dlc_conv2d_forward(ctx, s, x, w, b, &o->y, ws_or_null(&ws));
  T_CHECK(st == DLC_OK, "forward: %s", dlc_ctx_error(ctx));
  ok &= st == DLC_OK;
  dlc_op_fill(ctx, &o->dx, 0.5f);
  dlc_op_fill(ctx, &o->dw, 0.25f);
  dlc_op_fill(ctx, &o->db, -0.5f);
  st = dlc_conv2d_backward_data(ctx, s, dy, w, &o->dx, ws_or_null(&ws));
  T_CHECK(st == DLC_OK, "backward-data: %s", dlc_ctx_error(ctx));
  ok &= st == DLC_OK;
  st = dlc_conv2d_backward_weights(ctx, s, x, dy, &o->dw, &o->db, ws_or_null(&ws));
  T_CHECK(st == DLC_OK, "backward-weights: %s", dlc_ctx_error(ctx));
  ok &= st == DLC_OK;
  dlc_op_scale(ctx, 1.f, &o->dx, &o->dx);
  float *p;
  p = o->dx.data;
  for (int64_t i = 0; i < o->dx.numel; i++) p[i] -= 0.5f;
  p = o->dw.data;
  for (int64_t i = 0; i < o->dw.numel; i++) p[i] -= 0.25f;
  p = o->db.data;
  for (int64_t i = 0; i < o->db.numel; i++) p[i] += 0.5f;
  dlc_tensor_free(ctx, &ws);
  return ok;
}

static void compare(const char *what, const dlc_tensor *ref, const dlc_tensor *got, double tol_nse,
                    double tol_abs) {
  T_CHECK(ref->numel == got->numel, "%s: %lld vs %lld elements", what, (long long)ref->numel,
          (long long)got->numel);
  if (ref->numel == got->numel) t_parity(what, ref->data, got->data, ref->numel, tol_nse, tol_abs);
}

/* Absolute limits from what each output sums (testutil.h t_sum_tol): y sums C/g*kh*kw
 * products x*w and the bias, dx sums O/g*kh*kw products dy*w, dw sums N*Ho*Wo products
 * dy*x and db N*Ho*Wo values of dy; the gradients also add and subtract run_pass's
 * starting values (at most 0.5): two more terms. */
typedef struct tol {
  double y, dx, dw, db;
} tol;

static tol tolerances(const conv_case *k, const dlc_tensor *x, const dlc_tensor *w, const dlc_tensor *b,
                      const dlc_tensor *dy) {
  double mx = t_max_abs(x->data, x->numel), mw = t_max_abs(w->data, w->numel),
         mb = t_max_abs(b->data, b->numel), mdy = t_max_abs(dy->data, dy->numel);
  int64_t taps = k->kh * k->kw, out_px = dy->numel / (dy->shape[0] * dy->shape[1]);
  tol t;
  t.y = t_sum_tol(k->c / k->g * taps + 1, fmax(mx * mw, mb));
  t.dx = t_sum_tol(k->o / k->g * taps + 2, fmax(mdy * mw, 0.5));
  t.dw = t_sum_tol(k->n * out_px + 2, fmax(mdy * mx, 0.5));
  t.db = t_sum_tol(k->n * out_px + 2, fmax(mdy, 0.5));
  return t;
}

static dlc_ctx *ctx_with_limit(size_t bytes) {
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = DLC_DEVICE_CPU;
  o.workspace_limit = bytes > 4 ? bytes : 4; /* 0 would mean the default */
  return t_ctx_make(&o);
}

static void test_fixtures(dlc_ctx *ctx) {
  const char *names[8] = {"x", "w", "b", "dy", "y", "dx", "dw", "db"};
  for (int c = 0; c < num_cases; c++) {
    const conv_case *k = &cases[c];
    dlc_tensor t[8];
    int ok = 1;
    for (int i = 0; i < 8; i++) {
      char path[160];
      snprintf(path, sizeof path, "conv/%s_%s.npy", k->name, names[i]);
      ok &= t_fixture(ctx, path, &t[i]);
    }
    if (!ok) continue;
    dlc_conv2d_params p = params_of(k);
    dlc_conv2d_state *s = NULL;
    T_OK(ctx, dlc_conv2d_create(ctx, &p, k->n, k->h, k->w, &s));
    if (!s) continue;
    T_CHECK(s->skip_im2col == (k->kh == 1 && k->kw == 1 && k->sh == 1 && k->sw == 1 && k->ph == 0 && k->pw == 0),
            "%s: skip_im2col %d", k->name, s->skip_im2col);
    T_CHECK(s->chunk[0] == k->n && s->chunk[1] == k->n && s->chunk[2] == k->n,
            "%s: the default limit holds the whole batch", k->name);
    outputs o;
    run_pass(ctx, s, &t[0], &t[1], &t[2], &t[3], &o);
    char what[128];
    const double nse = 1e-11;
    tol tl = tolerances(k, &t[0], &t[1], &t[2], &t[3]);
    snprintf(what, sizeof what, "conv %s y vs PyTorch", k->name);
    compare(what, &t[4], &o.y, nse, tl.y);
    snprintf(what, sizeof what, "conv %s dx vs PyTorch", k->name);
    compare(what, &t[5], &o.dx, nse, tl.dx);
    snprintf(what, sizeof what, "conv %s dw vs PyTorch", k->name);
    compare(what, &t[6], &o.dw, nse, tl.dw);
    snprintf(what, sizeof what, "conv %s db vs PyTorch", k->name);
    compare(what, &t[7], &o.db, nse, tl.db);

    /* The same under a workspace limit of one image (two for larger batches, so that a
     * last chunk of one follows chunks of two): many chunks, and the same numbers. */
    dlc_ctx *tiny = ctx_with_limit(t_conv_ws_bytes(s, k->n > 4 ? 2 : 1));
    dlc_conv2d_state *st = NULL;
    T_OK(tiny, dlc_conv2d_create(tiny, &p, k->n, k->h, k->w, &st));
    if (st) {
      T_CHECK(dlc_conv2d_workspace_bytes(st) <= dlc_ctx_workspace_limit(tiny),
              "%s: workspace %zu over the limit", k->name, dlc_conv2d_workspace_bytes(st));
      if (k->n > 4 && !s->skip_im2col)
        T_CHECK(st->chunk[0] < k->n && st->chunk[2] < k->n, "%s: chunks %lld %lld %lld", k->name,
                (long long)st->chunk[0], (long long)st->chunk[1], (long long)st->chunk[2]);
      outputs oc;
      run_pass(tiny, st, &t[0], &t[1], &t[2], &t[3], &oc);
      snprintf(what, sizeof what, "conv %s chunked (%lld/%lld/%lld) y", k->name,
               (long long)st->chunk[0], (long long)st->chunk[1], (long long)st->chunk[2]);
      compare(what, &o.y, &oc.y, 1e-13, tl.y);
      snprintf(what, sizeof what, "conv %s chunked dx", k->name);
      compare(what, &o.dx, &oc.dx, 1e-13, tl.dx);
      /* dw sums over the batch chunk by chunk: another rounding order. */
      snprintf(what, sizeof what, "conv %s chunked dw", k->name);
      compare(what, &o.dw, &oc.dw, 1e-12, tl.dw);
      snprintf(what, sizeof what, "conv %s chunked db", k->name);
      compare(what, &o.db, &oc.db, 1e-13, tl.db);
      free_outputs(tiny, &oc);
      dlc_conv2d_destroy(tiny, st);
    }
    dlc_ctx_destroy(tiny);
    free_outputs(ctx, &o);
    dlc_conv2d_destroy(ctx, s);
    for (int i = 0; i < 8; i++) dlc_tensor_free(ctx, &t[i]);
  }
}

/* A state built for a larger batch runs fewer images, chunk boundaries included. */
static void test_smaller_batch(dlc_ctx *ctx) {
  const char *names[8] = {"x", "w", "b", "dy", "y", "dx", "dw", "db"};
  dlc_tensor t[8];
  int ok = 1;
  for (int i = 0; i < 8; i++) {
    char path[160];
    snprintf(path, sizeof path, "conv/batch33_%s.npy", names[i]);
    ok &= t_fixture(ctx, path, &t[i]);
  }
  if (!ok) return;
  dlc_conv2d_params p = params_of(&cases[13]);
  /* Five images of forward scratch: 33 images run as 5+5+...+3. */
  dlc_conv2d_state *probe = NULL;
  T_OK(ctx, dlc_conv2d_create(ctx, &p, 40, 5, 5, &probe));
  if (!probe) return;
  dlc_ctx *c5 = ctx_with_limit(t_conv_ws_bytes(probe, 5));
  dlc_conv2d_destroy(ctx, probe);
  dlc_conv2d_state *s = NULL;
  T_OK(c5, dlc_conv2d_create(c5, &p, 40, 5, 5, &s));
  if (s) {
    T_CHECK(s->chunk[2] == 5, "backward-weights chunk %lld, expected 5", (long long)s->chunk[2]);
    outputs out;
    run_pass(c5, s, &t[0], &t[1], &t[2], &t[3], &out);
    tol tl = tolerances(&cases[13], &t[0], &t[1], &t[2], &t[3]);
    compare("conv batch 33 of 40, chunks of <=5: y", &t[4], &out.y, 1e-11, tl.y);
    compare("conv batch 33 of 40, chunks of <=5: dx", &t[5], &out.dx, 1e-11, tl.dx);
    compare("conv batch 33 of 40, chunks of <=5: dw", &t[6], &out.dw, 1e-11, tl.dw);
    compare("conv batch 33 of 40, chunks of <=5: db", &t[7], &out.db, 1e-11, tl.db);
    free_outputs(c5, &out);
    dlc_conv2d_destroy(c5, s);
  }
  dlc_ctx_destroy(c5);
  for (int i = 0; i < 8; i++) dlc_tensor_free(ctx, &t[i]);
}

/* loss = sum(G .* conv(x; w, b)) */
typedef struct grad_case {
  dlc_ctx *ctx;
  dlc_conv2d_state *s;
  dlc_tensor x, w, b, y, G, ws;
} grad_case;

static double conv_loss(void *u) {
  grad_case *c = u;
  dlc_conv2d_forward(c->ctx, c->s, &c->x, &c->w, &c->b, &c->y, ws_or_null(&c->ws));
  double sum = 0;
  for (int64_t i = 0; i < c->y.numel; i++) sum += (double)((float *)c->G.data)[i] * ((float *)c->y.data)[i];
  return sum;
}

static void test_gradcheck(dlc_ctx *ctx) {
  const conv_case gc[] = {
      {"stride/pad/dilation/groups", 2, 4, 7, 6, 4, 3, 2, 2, 1, 1, 1, 1, 2, 2},
      {"depthwise s2", 2, 3, 6, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1, 3},
      {"1x1", 3, 5, 3, 4, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1},
      /* the CPU's wide columns (stride 1, undilated, one group): pads that differ, and as
       * many extra columns as outputs (KW - 1 = OW) */
      {"wide pad 2x1", 2, 3, 6, 7, 4, 3, 3, 1, 1, 2, 1, 1, 1, 1},
      {"wide KW-1 = OW", 3, 2, 5, 4, 3, 2, 3, 1, 1, 1, 0, 1, 1, 1},
  };
  for (int k = 0; k < (int)(sizeof gc / sizeof gc[0]); k++) {
    const conv_case *q = &gc[k];
    dlc_conv2d_params p = params_of(q);
    grad_case c;
    memset(&c, 0, sizeof c);
    c.ctx = ctx;
    T_OK(ctx, dlc_conv2d_create(ctx, &p, q->n, q->h, q->w, &c.s));
    if (!c.s) continue;
    int64_t xs[4] = {q->n, q->c, q->h, q->w}, wsh[4] = {q->o, q->c / q->g, q->kh, q->kw};
    int64_t ys[4] = {q->n, q->o, c.s->out_h, c.s->out_w};
    c.x = make(ctx, 4, xs);
    c.w = make(ctx, 4, wsh);
    c.b = make(ctx, 1, &q->o);
    c.y = make(ctx, 4, ys);
    c.G = make(ctx, 4, ys);
    c.ws = make_ws(ctx, c.s);
    t_fill_uniform(c.x.data, c.x.numel, 11 + (uint64_t)k, -1, 1);
    t_fill_uniform(c.w.data, c.w.numel, 12, -0.5f, 0.5f);
    t_fill_uniform(c.b.data, c.b.numel, 13, -0.5f, 0.5f);
    t_fill_uniform(c.G.data, c.G.numel, 14, -1, 1);
    dlc_tensor dx = make(ctx, 4, xs), dw = make(ctx, 4, wsh), db = make(ctx, 1, &q->o);
    dlc_op_fill(ctx, &dx, 0.f);
    dlc_op_fill(ctx, &dw, 0.f);
    dlc_op_fill(ctx, &db, 0.f);
    T_OK(ctx, dlc_conv2d_backward_data(ctx, c.s, &c.G, &c.w, &dx, ws_or_null(&c.ws)));
    T_OK(ctx, dlc_conv2d_backward_weights(ctx, c.s, &c.x, &c.G, &dw, &db, ws_or_null(&c.ws)));
    char what[96];
    /* conv is linear in each operand: central differences are exact up to rounding. */
    snprintf(what, sizeof what, "conv %s dx", q->name);
    t_gradcheck(what, c.x.data, dx.data, c.x.numel, conv_loss, &c, 1e-2, 1e-3, 2e-4, 200);
    snprintf(what, sizeof what, "conv %s dw", q->name);
    t_gradcheck(what, c.w.data, dw.data, c.w.numel, conv_loss, &c, 1e-2, 1e-3, 2e-4, 200);
    snprintf(what, sizeof what, "conv %s db", q->name);
    t_gradcheck(what, c.b.data, db.data, c.b.numel, conv_loss, &c, 1e-2, 1e-3, 2e-4, 200);
    dlc_tensor *all[] = {&c.x, &c.w, &c.b, &c.y, &c.G, &c.ws, &dx, &dw, &db};
    for (int i = 0; i < 9; i++) dlc_tensor_free(ctx, all[i]);
    dlc_conv2d_destroy(ctx, c.s);
  }
}

static dlc_status try_create(dlc_ctx *ctx, dlc_conv2d_params p, int64_t n, int64_t h, int64_t w) {
  dlc_conv2d_state *s = NULL;
  dlc_status st = dlc_conv2d_create(ctx, &p, n, h, w, &s);
  T_CHECK(st != DLC_OK || s != NULL, "a successful create returns a state");
  T_CHECK(st == DLC_OK || s == NULL, "a failed create leaves *out NULL");
  dlc_conv2d_destroy(ctx, s);
  return st;
}

static void test_bad_shapes(dlc_ctx *ctx) {
  dlc_conv2d_params p = dlc_conv2d_params_make(4, 6, 3, 3);
  T_OK(ctx, try_create(ctx, p, 2, 5, 5));
  T_FAILS(ctx, DLC_ERR_SHAPE, "larger than the padded input", try_create(ctx, p, 2, 2, 5));
  dlc_conv2d_params q = p;
  q.pad_w = 1;
  q.kernel_w = 8;
  T_FAILS(ctx, DLC_ERR_SHAPE, "conv2d width: the kernel spans 8", try_create(ctx, q, 2, 5, 5));
  q = p;
  q.dilation_h = 3; /* spans 7 > 5 + 2*0 */
  T_FAILS(ctx, DLC_ERR_SHAPE, "the kernel spans 7 (size 3, dilation 3)", try_create(ctx, q, 2, 5, 5));
  q.pad_h = 1; /* 5 + 2 = 7: fits exactly */
  T_OK(ctx, try_create(ctx, q, 2, 5, 5));
  q = p;
  q.groups = 3;
  T_FAILS(ctx, DLC_ERR_SHAPE, "must both be divisible by groups 3", try_create(ctx, q, 2, 5, 5));
  q.groups = 4; /* 4 divides 4 but not 6 */
  T_FAILS(ctx, DLC_ERR_SHAPE, "divisible by groups 4", try_create(ctx, q, 2, 5, 5));
  q.groups = 0;
  T_FAILS(ctx, DLC_ERR_SHAPE, "groups 0 must be positive", try_create(ctx, q, 2, 5, 5));
  q = p;
  q.in_channels = 0;
  T_FAILS(ctx, DLC_ERR_SHAPE, "in_channels 0", try_create(ctx, q, 2, 5, 5));
  q = p;
  q.out_channels = -2;
  T_FAILS(ctx, DLC_ERR_SHAPE, "out_channels -2", try_create(ctx, q, 2, 5, 5));
  T_FAILS(ctx, DLC_ERR_SHAPE, "batch 0", try_create(ctx, p, 0, 5, 5));
  T_FAILS(ctx, DLC_ERR_SHAPE, "conv2d height: input -5", try_create(ctx, p, 2, -5, 5));
  T_FAILS(ctx, DLC_ERR_SHAPE, "conv2d width: input 0", try_create(ctx, p, 2, 5, 0));
  q = p;
  q.stride_w = 0;
  T_FAILS(ctx, DLC_ERR_SHAPE, "stride 0", try_create(ctx, q, 2, 5, 5));
  q = p;
  q.pad_h = -1;
  T_FAILS(ctx, DLC_ERR_SHAPE, "padding -1 >= 0", try_create(ctx, q, 2, 5, 5));
  q = p;
  q.dilation_w = 0;
  T_FAILS(ctx, DLC_ERR_SHAPE, "dilation 0", try_create(ctx, q, 2, 5, 5));
  q = p;
  q.kernel_h = 0;
  T_FAILS(ctx, DLC_ERR_SHAPE, "kernel 0", try_create(ctx, q, 2, 5, 5));
  /* Sizes that overflow. */
  T_FAILS(ctx, DLC_ERR_SHAPE, "overflows the 2^31 range", try_create(ctx, p, 2, INT64_C(1) << 31, 5));
  q = p;
  q.pad_h = INT64_C(1) << 30; /* 5 + 2^31 */
  T_FAILS(ctx, DLC_ERR_SHAPE, "overflows the 2^31 range", try_create(ctx, q, 2, 5, 5));
  q = dlc_conv2d_params_make(1 << 20, 1 << 20, 1, 1);
  T_FAILS(ctx, DLC_ERR_SHAPE, "an element count overflows",
          try_create(ctx, q, INT64_C(1) << 30, INT64_C(1) << 20, INT64_C(1) << 20));
  q = p;
  q.algo = (dlc_conv_algo)7;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "not a dlc_conv_algo", try_create(ctx, q, 2, 5, 5));
  q = p;
  q.algo = DLC_CONV_CUDNN;
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "algo CUDNN needs a CUDA context", try_create(ctx, q, 2, 5, 5));
  q.algo = DLC_CONV_AUTO; /* AUTO on the CPU is im2col */
  T_OK(ctx, try_create(ctx, q, 2, 5, 5));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "p is NULL", dlc_conv2d_create(ctx, NULL, 2, 5, 5, &(dlc_conv2d_state *){NULL}));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "out is NULL", dlc_conv2d_create(ctx, &p, 2, 5, 5, NULL));

  /* A workspace limit below one image's column matrix. */
  dlc_ctx *small = ctx_with_limit(256);
  T_FAILS(small, DLC_ERR_OUT_OF_MEMORY, "but the context's workspace limit is 256 bytes",
          try_create(small, p, 2, 5, 5));
  dlc_ctx_destroy(small);
}

static void test_bad_calls(dlc_ctx *ctx) {
  dlc_conv2d_params p = dlc_conv2d_params_make(4, 6, 3, 3);
  p.pad_h = p.pad_w = 1;
  p.groups = 2;
  dlc_conv2d_state *s = NULL;
  T_OK(ctx, dlc_conv2d_create(ctx, &p, 3, 5, 6, &s));
  if (!s) return;
  int64_t xs[4] = {3, 4, 5, 6}, ws4[4] = {6, 2, 3, 3}, ys[4] = {3, 6, 5, 6}, b1 = 6;
  dlc_tensor x = make(ctx, 4, xs), w = make(ctx, 4, ws4), y = make(ctx, 4, ys), b = make(ctx, 1, &b1);
  dlc_tensor ws = make_ws(ctx, s);
  dlc_op_fill(ctx, &x, 1.f);
  dlc_op_fill(ctx, &w, 1.f);
  dlc_op_fill(ctx, &b, 0.f);
  T_OK(ctx, dlc_conv2d_forward(ctx, s, &x, &w, &b, &y, &ws));
  /* An interior output sees 2 channels x 9 taps of ones. */
  T_CHECK(((float *)y.data)[1 * 6 + 1] == 18.f, "y[0,0,1,1] = %g", ((float *)y.data)[7]);
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "s is NULL", dlc_conv2d_forward(ctx, NULL, &x, &w, &b, &y, &ws));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "x is NULL", dlc_conv2d_forward(ctx, s, NULL, &w, &b, &y, &ws));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "a workspace of 0 bytes is too small",
          dlc_conv2d_forward(ctx, s, &x, &w, &b, &y, NULL));
  dlc_tensor small;
  int64_t one = 1;
  dlc_tensor_alloc(ctx, &small, DLC_F32, 1, &one, cpu);
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "dlc_conv2d_workspace_bytes",
          dlc_conv2d_backward_data(ctx, s, &y, &w, &x, &small));
  dlc_tensor_free(ctx, &small);
  dlc_tensor bad;
  int64_t xb[4] = {4, 4, 5, 6};
  bad = make(ctx, 4, xb);
  T_FAILS(ctx, DLC_ERR_SHAPE, "batch of 1 to 3", dlc_conv2d_forward(ctx, s, &bad, &w, &b, &y, &ws));
  dlc_tensor_free(ctx, &bad);
  int64_t xc[4] = {3, 4, 6, 5};
  bad = make(ctx, 4, xc);
  T_FAILS(ctx, DLC_ERR_SHAPE, "x is [3, 4, 6, 5], expected [3, 4, 5, 6]",
          dlc_conv2d_forward(ctx, s, &bad, &w, &b, &y, &ws));
  dlc_tensor_free(ctx, &bad);
  int64_t wb[4] = {6, 4, 3, 3};
  bad = make(ctx, 4, wb);
  T_FAILS(ctx, DLC_ERR_SHAPE, "w is [6, 4, 3, 3], expected [6, 2, 3, 3]",
          dlc_conv2d_forward(ctx, s, &x, &bad, &b, &y, &ws));
  T_FAILS(ctx, DLC_ERR_SHAPE, "dw is [6, 4, 3, 3]",
          dlc_conv2d_backward_weights(ctx, s, &x, &y, &bad, NULL, &ws));
  dlc_tensor_free(ctx, &bad);
  int64_t b5 = 5;
  bad = make(ctx, 1, &b5);
  T_FAILS(ctx, DLC_ERR_SHAPE, "b is [5], expected 6 elements", dlc_conv2d_forward(ctx, s, &x, &w, &bad, &y, &ws));
  T_FAILS(ctx, DLC_ERR_SHAPE, "db is [5]", dlc_conv2d_backward_weights(ctx, s, &x, &y, &w, &bad, &ws));
  dlc_tensor_free(ctx, &bad);
  int64_t yb[4] = {2, 6, 5, 6};
  bad = make(ctx, 4, yb);
  T_FAILS(ctx, DLC_ERR_SHAPE, "y is [2, 6, 5, 6], expected [3, 6, 5, 6]",
          dlc_conv2d_forward(ctx, s, &x, &w, &b, &bad, &ws));
  T_FAILS(ctx, DLC_ERR_SHAPE, "dx is [3, 4, 5, 6], expected [2, 4, 5, 6]",
          dlc_conv2d_backward_data(ctx, s, &bad, &w, &x, &ws));
  dlc_tensor_free(ctx, &bad);
  dlc_tensor i32;
  dlc_tensor_alloc(ctx, &i32, DLC_I32, 4, xs, cpu);
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "x is int32", dlc_conv2d_forward(ctx, s, &i32, &w, &b, &y, &ws));
  dlc_tensor_free(ctx, &i32);
  dlc_tensor_free(ctx, &x);
  dlc_tensor_free(ctx, &w);
  dlc_tensor_free(ctx, &y);
  dlc_tensor_free(ctx, &b);
  dlc_tensor_free(ctx, &ws);
  dlc_conv2d_destroy(ctx, s);
  dlc_conv2d_destroy(ctx, NULL);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(3);
  test_fixtures(ctx);
  test_smaller_batch(ctx);
  test_gradcheck(ctx);
  test_bad_shapes(ctx);
  test_bad_calls(ctx);
  dlc_ctx_destroy(ctx);
  return t_finish("test_conv");
}
