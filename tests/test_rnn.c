/* Recurrent layers on the CPU: PyTorch fixtures (nn.RNN tanh/relu, nn.LSTM, nn.GRU; 1 and 2
 * layers, T = 1 and 37, batch_first both ways, every step or the last only, with and
 * without an initial state and biases), finite-difference gradients for every parameter,
 * the input and the initial state, the parameter layout, gradient clipping, bad shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

static dlc_tensor mk(dlc_ctx *ctx, int ndim, const int64_t *shape) {
  dlc_tensor t;
  if (dlc_tensor_alloc(ctx, &t, DLC_F32, ndim, shape, cpu) != DLC_OK) {
    fprintf(stderr, "allocation failed: %s\n", dlc_ctx_error(ctx));
    exit(1);
  }
  return t;
}
static dlc_tensor mk1(dlc_ctx *ctx, int64_t n) { return mk(ctx, 1, &n); }
static dlc_tensor mk3(dlc_ctx *ctx, int64_t a, int64_t b, int64_t c) {
  int64_t s[3] = {a, b, c};
  return mk(ctx, 3, s);
}
static void fill(dlc_ctx *ctx, dlc_tensor *t, float v) { dlc_op_fill(ctx, t, v); }

/* Workspace and reserve for T x N (bytes rounded up to floats). */
static void buffers(dlc_ctx *ctx, const dlc_rnn_state *s, int64_t T, int64_t N, dlc_tensor *ws,
                    dlc_tensor *res) {
  size_t wb = 0, rb = 0;
  T_OK(ctx, dlc_rnn_workspace_bytes(ctx, s, T, N, 1, &wb));
  T_OK(ctx, dlc_rnn_reserve_bytes(ctx, s, T, N, &rb));
  *ws = mk1(ctx, (int64_t)(wb / 4));
  *res = mk1(ctx, (int64_t)(rb / 4));
  fill(ctx, ws, NAN); /* nothing may read what it did not write */
  fill(ctx, res, NAN);
}

/* ---------------------------------------------------------------- PyTorch fixtures */

typedef struct fx_case {
  const char *name;
  dlc_rnn_mode mode;
  int L;
  int64_t T, N, F, H;
  int batch_first, last_only, with_h0, bias;
} fx_case;

/* Mirrors CASES in tests/fixtures/gen_rnn.py. */
static const fx_case fx_cases[] = {
    {"tanh_l1_t1", DLC_RNN_TANH, 1, 1, 3, 4, 7, 0, 0, 1, 1},
    {"tanh_l2_t37_bf", DLC_RNN_TANH, 2, 37, 2, 3, 5, 1, 0, 1, 1},
    {"relu_l2_t37_last_noh0", DLC_RNN_RELU, 2, 37, 3, 4, 5, 0, 1, 0, 1},
    {"relu_l1_t1_bf", DLC_RNN_RELU, 1, 1, 2, 3, 7, 1, 0, 1, 1},
    {"lstm_l1_t1", DLC_RNN_LSTM, 1, 1, 3, 4, 7, 0, 0, 1, 1},
    {"lstm_l2_t37_bf", DLC_RNN_LSTM, 2, 37, 2, 3, 5, 1, 0, 1, 1},
    {"lstm_l2_t37_last_noh0", DLC_RNN_LSTM, 2, 37, 3, 4, 5, 0, 1, 0, 1},
    {"lstm_l1_t37_bf_nobias", DLC_RNN_LSTM, 1, 37, 2, 3, 3, 1, 0, 1, 0},
    {"gru_l1_t1_bf", DLC_RNN_GRU, 1, 1, 3, 4, 7, 1, 0, 1, 1},
    {"gru_l2_t37", DLC_RNN_GRU, 2, 37, 2, 3, 5, 0, 0, 1, 1},
    {"gru_l2_t37_bf_last_noh0", DLC_RNN_GRU, 2, 37, 3, 4, 5, 1, 1, 0, 1},
    {"gru_l1_t37_nobias", DLC_RNN_GRU, 1, 37, 2, 3, 3, 0, 0, 1, 0},
};

static int load(dlc_ctx *ctx, const char *cname, const char *what, dlc_tensor *t) {
  char path[160];
  snprintf(path, sizeof path, "rnn/%s_%s.npy", cname, what);
  return t_fixture(ctx, path, t);
}

/* Gradients that vanish over 37 steps (dh0 of a sequence started from zeros) sit at float
 * rounding of the values they cancel from: there only the absolute error means anything. */
static void compare(const char *cname, const char *what, const dlc_tensor *ref, const float *got,
                    double tol) {
  char label[128];
  double peak = 0;
  for (int64_t i = 0; i < ref->numel; i++) peak = fmax(peak, fabs(((float *)ref->data)[i]));
  int vanishing = peak < 100 * tol;
  snprintf(label, sizeof label, "%s %s%s", cname, what, vanishing ? " (abs only)" : "");
  t_parity(label, ref->data, got, ref->numel, vanishing ? 1.0 : tol * tol, tol);
}

/* Subtracts the 1.0 every gradient started from (backward accumulates), then compares. */
static void compare_grad(const char *cname, const char *what, const dlc_tensor *ref, dlc_tensor *got,
                         double tol) {
  float *g = got->data;
  for (int64_t i = 0; i < got->numel; i++) g[i] -= 1.f;
  compare(cname, what, ref, g, tol);
}

static void test_fixture_case(dlc_ctx *ctx, const fx_case *fc) {
  const int lstm = fc->mode == DLC_RNN_LSTM;
  dlc_tensor x, dy, dhT, params, y_ref, hT_ref, dx_ref, dh0_ref, grads_ref;
  dlc_tensor h0 = {0}, c0 = {0}, dcT = {0}, cT_ref = {0}, dc0_ref = {0};
  int ok = load(ctx, fc->name, "x", &x) & load(ctx, fc->name, "dy", &dy) &
           load(ctx, fc->name, "dhT", &dhT) & load(ctx, fc->name, "params", &params) &
           load(ctx, fc->name, "y", &y_ref) & load(ctx, fc->name, "hT", &hT_ref) &
           load(ctx, fc->name, "dx", &dx_ref) & load(ctx, fc->name, "dh0", &dh0_ref) &
           load(ctx, fc->name, "grads", &grads_ref);
  if (fc->with_h0) ok &= load(ctx, fc->name, "h0", &h0);
  if (lstm) {
    ok &= load(ctx, fc->name, "dcT", &dcT) & load(ctx, fc->name, "cT", &cT_ref) &
          load(ctx, fc->name, "dc0", &dc0_ref);
    if (fc->with_h0) ok &= load(ctx, fc->name, "c0", &c0);
  }
  if (!ok) return;
  dlc_rnn_desc d = dlc_rnn_desc_make(fc->mode, fc->F, fc->H, fc->L);
  d.batch_first = fc->batch_first;
  d.last_only = fc->last_only;
  d.bias = fc->bias;
  dlc_rnn_state *s = NULL;
  T_OK(ctx, dlc_rnn_create(ctx, &d, &s));
  if (!s) return;
  T_CHECK(params.numel == dlc_rnn_param_numel(s), "%s: %lld parameters, PyTorch has %lld", fc->name,
          (long long)dlc_rnn_param_numel(s), (long long)params.numel);
  dlc_tensor pv[8], gv[8], grads = mk1(ctx, params.numel);
  T_OK(ctx, dlc_rnn_param_views(ctx, s, params.data, cpu, pv));
  T_OK(ctx, dlc_rnn_param_views(ctx, s, grads.data, cpu, gv));
  /* Buffers sized for a larger batch than this one: a layer sizes for its maximum. */
  dlc_tensor ws, res;
  buffers(ctx, s, fc->T + 3, fc->N + 2, &ws, &res);
  const int64_t L = fc->L, N = fc->N, H = fc->H;
  dlc_tensor y = mk(ctx, y_ref.ndim, y_ref.shape), hT = mk3(ctx, L, N, H), cT = mk3(ctx, L, N, H);
  const dlc_tensor *h0p = fc->with_h0 ? &h0 : NULL, *c0p = fc->with_h0 && lstm ? &c0 : NULL;
  dlc_tensor *cTp = lstm ? &cT : NULL;
  const double tol = 3e-5;
  for (int train = 1; train >= 0; train--) {
    fill(ctx, &y, NAN); fill(ctx, &hT, NAN); fill(ctx, &cT, NAN);
    T_OK(ctx, dlc_op_rnn_fwd(ctx, s, pv, &x, h0p, c0p, &y, &hT, cTp, &ws, train ? &res : NULL, train));
    compare(fc->name, train ? "y (train)" : "y (inference)", &y_ref, y.data, tol);
    compare(fc->name, train ? "hT (train)" : "hT (inference)", &hT_ref, hT.data, tol);
    if (lstm) compare(fc->name, train ? "cT (train)" : "cT (inference)", &cT_ref, cT.data, tol);
    if (train) {
      /* Backward needs the training forward's reserve, so run it before inference. */
      dlc_tensor dx = mk(ctx, x.ndim, x.shape), dh0 = mk3(ctx, L, N, H), dc0 = mk3(ctx, L, N, H);
      fill(ctx, &dx, 1.f); fill(ctx, &dh0, 1.f); fill(ctx, &dc0, 1.f); fill(ctx, &grads, 1.f);
      T_OK(ctx, dlc_op_rnn_bwd(ctx, s, pv, &x, h0p, c0p, &dy, &dhT, lstm ? &dcT : NULL, &dx, &dh0,
                               lstm ? &dc0 : NULL, gv, &ws, &res));
      compare_grad(fc->name, "dx", &dx_ref, &dx, tol);
      compare_grad(fc->name, "dh0", &dh0_ref, &dh0, tol);
      if (lstm) compare_grad(fc->name, "dc0", &dc0_ref, &dc0, tol);
      compare_grad(fc->name, "parameter gradients", &grads_ref, &grads, tol);
      /* Per-tensor view of the worst-looking block, for a readable failure. */
      dlc_tensor_free(ctx, &dx); dlc_tensor_free(ctx, &dh0); dlc_tensor_free(ctx, &dc0);
    }
  }
  dlc_tensor *all[] = {&x, &dy, &dhT, &params, &y_ref, &hT_ref, &dx_ref, &dh0_ref, &grads_ref, &h0,
                       &c0, &dcT, &cT_ref, &dc0_ref, &grads, &ws, &res, &y, &hT, &cT};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) dlc_tensor_free(ctx, all[k]);
  dlc_rnn_destroy(s);
}

static void test_fixtures(dlc_ctx *ctx) {
  for (size_t k = 0; k < sizeof fx_cases / sizeof fx_cases[0]; k++) test_fixture_case(ctx, &fx_cases[k]);
}

/* ---------------------------------------------------------------- gradient checks */

/* loss = sum(wy .* y) + sum(whT .* hT) + sum(wcT .* cT) */
typedef struct gc_case {
  dlc_ctx *ctx;
  dlc_rnn_state *s;
  dlc_tensor params, pv[8], x, h0, c0, y, hT, cT, wy, whT, wcT, ws, res;
  int lstm;
} gc_case;

static double dot(const dlc_tensor *a, const dlc_tensor *b) {
  double s = 0;
  for (int64_t i = 0; i < a->numel; i++) s += (double)((float *)a->data)[i] * ((float *)b->data)[i];
  return s;
}

static double gc_loss(void *u) {
  gc_case *c = u;
  dlc_op_rnn_fwd(c->ctx, c->s, c->pv, &c->x, &c->h0, c->lstm ? &c->c0 : NULL, &c->y, &c->hT,
                 c->lstm ? &c->cT : NULL, &c->ws, &c->res, 1);
  return dot(&c->y, &c->wy) + dot(&c->hT, &c->whT) + (c->lstm ? dot(&c->cT, &c->wcT) : 0);
}

static void test_gradcheck_mode(dlc_ctx *ctx, dlc_rnn_mode mode, int batch_first, int last_only,
                                uint64_t seed) {
  const int64_t L = 2, T = 4, N = 3, F = 5, H = 4;
  gc_case c;
  memset(&c, 0, sizeof c);
  c.ctx = ctx;
  c.lstm = mode == DLC_RNN_LSTM;
  dlc_rnn_desc d = dlc_rnn_desc_make(mode, F, H, (int)L);
  d.batch_first = batch_first;
  d.last_only = last_only;
  T_OK(ctx, dlc_rnn_create(ctx, &d, &c.s));
  c.params = mk1(ctx, dlc_rnn_param_numel(c.s));
  T_OK(ctx, dlc_rnn_param_views(ctx, c.s, c.params.data, cpu, c.pv));
  t_fill_uniform(c.params.data, c.params.numel, seed, -0.6f, 0.6f);
  if (mode == DLC_RNN_RELU)
    /* Positive biases keep most units alive, and the seeds below were chosen (offline,
     * with PyTorch in float64) so that every pre-activation is at least 0.1 from ReLU's
     * kink, beyond what a perturbation of eps can move it: across the kink, finite
     * differences see both sides and disagree with the one-sided derivative. */
    for (int k = 0; k < dlc_rnn_param_count(c.s); k++)
      if (c.pv[k].ndim == 1)
        for (int64_t i = 0; i < c.pv[k].numel; i++) ((float *)c.pv[k].data)[i] += 0.3f;
  c.x = batch_first ? mk3(ctx, N, T, F) : mk3(ctx, T, N, F);
  c.h0 = mk3(ctx, L, N, H);
  c.c0 = mk3(ctx, L, N, H);
  c.y = last_only ? mk(ctx, 2, (int64_t[]){N, H}) : batch_first ? mk3(ctx, N, T, H) : mk3(ctx, T, N, H);
  c.wy = mk(ctx, c.y.ndim, c.y.shape);
  c.hT = mk3(ctx, L, N, H); c.whT = mk3(ctx, L, N, H);
  c.cT = mk3(ctx, L, N, H); c.wcT = mk3(ctx, L, N, H);
  t_fill_uniform(c.x.data, c.x.numel, seed + 1, -1, 1);
  t_fill_uniform(c.h0.data, c.h0.numel, seed + 2, -1, 1);
  t_fill_uniform(c.c0.data, c.c0.numel, seed + 3, -1, 1);
  t_fill_uniform(c.wy.data, c.wy.numel, seed + 4, -1, 1);
  t_fill_uniform(c.whT.data, c.whT.numel, seed + 5, -1, 1);
  t_fill_uniform(c.wcT.data, c.wcT.numel, seed + 6, -1, 1);
  buffers(ctx, c.s, T, N, &c.ws, &c.res);

  dlc_tensor grads = mk1(ctx, c.params.numel), gv[8], dx = mk(ctx, 3, c.x.shape),
             dh0 = mk3(ctx, L, N, H), dc0 = mk3(ctx, L, N, H);
  T_OK(ctx, dlc_rnn_param_views(ctx, c.s, grads.data, cpu, gv));
  fill(ctx, &grads, 0.f); fill(ctx, &dx, 0.f); fill(ctx, &dh0, 0.f); fill(ctx, &dc0, 0.f);
  gc_loss(&c);
  T_OK(ctx, dlc_op_rnn_bwd(ctx, c.s, c.pv, &c.x, &c.h0, c.lstm ? &c.c0 : NULL, &c.wy, &c.whT,
                           c.lstm ? &c.wcT : NULL, &dx, &dh0, c.lstm ? &dc0 : NULL, gv, &c.ws, &c.res));
  char what[96];
  const char *tag = dlc_rnn_mode_name(mode);
  const char *lay = batch_first ? (last_only ? " bf last" : " bf") : (last_only ? " last" : "");
  /* Per parameter tensor, so a failure names it. */
  for (int k = 0; k < dlc_rnn_param_count(c.s); k++) {
    dlc_rnn_param_info info;
    dlc_rnn_param_get_info(ctx, c.s, k, &info);
    snprintf(what, sizeof what, "%s%s %s", tag, lay, info.name);
    t_gradcheck(what, c.pv[k].data, gv[k].data, info.numel, gc_loss, &c, 1e-2, 3e-3, 2e-4, 200);
  }
  snprintf(what, sizeof what, "%s%s dx", tag, lay);
  t_gradcheck(what, c.x.data, dx.data, c.x.numel, gc_loss, &c, 1e-2, 3e-3, 2e-4, 200);
  snprintf(what, sizeof what, "%s%s dh0", tag, lay);
  t_gradcheck(what, c.h0.data, dh0.data, c.h0.numel, gc_loss, &c, 1e-2, 3e-3, 2e-4, 200);
  if (c.lstm) {
    snprintf(what, sizeof what, "%s%s dc0", tag, lay);
    t_gradcheck(what, c.c0.data, dc0.data, c.c0.numel, gc_loss, &c, 1e-2, 3e-3, 2e-4, 200);
  }
  dlc_tensor *all[] = {&c.params, &c.x, &c.h0, &c.c0, &c.y, &c.hT, &c.cT, &c.wy, &c.whT, &c.wcT,
                       &c.ws, &c.res, &grads, &dx, &dh0, &dc0};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) dlc_tensor_free(ctx, all[k]);
  dlc_rnn_destroy(c.s);
}

static void test_gradchecks(dlc_ctx *ctx) {
  test_gradcheck_mode(ctx, DLC_RNN_TANH, 0, 0, 100);
  test_gradcheck_mode(ctx, DLC_RNN_RELU, 0, 1, 368);
  test_gradcheck_mode(ctx, DLC_RNN_RELU, 1, 0, 837);
  test_gradcheck_mode(ctx, DLC_RNN_LSTM, 0, 0, 300);
  test_gradcheck_mode(ctx, DLC_RNN_LSTM, 1, 1, 400);
  test_gradcheck_mode(ctx, DLC_RNN_GRU, 0, 1, 500);
  test_gradcheck_mode(ctx, DLC_RNN_GRU, 1, 0, 600);
}

/* ---------------------------------------------------------------- layout, init */

static void test_layout(dlc_ctx *ctx) {
  const int64_t F = 6, H = 5, G = 4 * H;
  dlc_rnn_desc d = dlc_rnn_desc_make(DLC_RNN_LSTM, F, H, 2);
  dlc_rnn_state *s = NULL;
  T_OK(ctx, dlc_rnn_create(ctx, &d, &s));
  if (!s) return;
  T_CHECK(dlc_rnn_param_count(s) == 8, "8 tensors, got %d", dlc_rnn_param_count(s));
  const char *names[8] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                          "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"};
  const int64_t cols[8] = {F, H, 0, 0, H, H, 0, 0};
  int64_t offset = 0;
  for (int k = 0; k < 8; k++) {
    dlc_rnn_param_info info;
    T_OK(ctx, dlc_rnn_param_get_info(ctx, s, k, &info));
    T_CHECK(!strcmp(info.name, names[k]), "parameter %d is %s, expected %s", k, info.name, names[k]);
    T_CHECK(info.offset == offset, "%s at %lld, expected %lld", info.name, (long long)info.offset,
            (long long)offset);
    T_CHECK(info.shape[0] == G && (cols[k] ? info.ndim == 2 && info.shape[1] == cols[k] : info.ndim == 1),
            "%s shape", info.name);
    offset += info.numel;
  }
  T_CHECK(offset == dlc_rnn_param_numel(s), "packed size %lld", (long long)offset);
  /* As nn.LSTM(6, 5, 2): 4*5*(6+5+2) + 4*5*(5+5+2) parameters. */
  T_CHECK(dlc_rnn_param_numel(s) == 20 * 13 + 20 * 12, "LSTM(6, 5, 2) has %lld parameters",
          (long long)dlc_rnn_param_numel(s));
  dlc_rnn_param_info info;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "parameter 8 of 8", dlc_rnn_param_get_info(ctx, s, 8, &info));

  /* PyTorch's init: uniform in [-1/sqrt(H), 1/sqrt(H)). */
  dlc_tensor block = mk1(ctx, dlc_rnn_param_numel(s)), pv[8];
  T_OK(ctx, dlc_rnn_param_views(ctx, s, block.data, cpu, pv));
  T_OK(ctx, dlc_rnn_init_params(ctx, s, pv));
  float k = 1.f / sqrtf((float)H), lo = 1, hi = -1;
  for (int64_t i = 0; i < block.numel; i++) {
    float v = ((float *)block.data)[i];
    lo = fminf(lo, v);
    hi = fmaxf(hi, v);
  }
  T_CHECK(lo >= -k && hi <= k && lo < -0.8f * k && hi > 0.8f * k, "init range [%g, %g] vs +-%g", lo, hi, k);
  dlc_tensor_free(ctx, &block);
  dlc_rnn_destroy(s);

  /* Without bias: two tensors per layer. */
  d = dlc_rnn_desc_make(DLC_RNN_GRU, 3, 2, 3);
  d.bias = 0;
  T_OK(ctx, dlc_rnn_create(ctx, &d, &s));
  T_CHECK(dlc_rnn_param_count(s) == 6 && dlc_rnn_param_numel(s) == 6 * 5 + 2 * 6 * 4,
          "GRU(3, 2, 3, bias=False): %d tensors, %lld floats", dlc_rnn_param_count(s),
          (long long)dlc_rnn_param_numel(s));
  dlc_rnn_destroy(s);
}

/* Workspace and reserve grow with T and N; inference needs no reserve. */
static void test_sizes(dlc_ctx *ctx) {
  dlc_rnn_desc d = dlc_rnn_desc_make(DLC_RNN_GRU, 10, 16, 2);
  dlc_rnn_state *s = NULL;
  T_OK(ctx, dlc_rnn_create(ctx, &d, &s));
  size_t a = 0, b = 0, r1 = 0, r2 = 0, inf = 0;
  T_OK(ctx, dlc_rnn_workspace_bytes(ctx, s, 5, 3, 1, &a));
  T_OK(ctx, dlc_rnn_workspace_bytes(ctx, s, 6, 3, 1, &b));
  T_OK(ctx, dlc_rnn_workspace_bytes(ctx, s, 5, 3, 0, &inf));
  T_OK(ctx, dlc_rnn_reserve_bytes(ctx, s, 5, 3, &r1));
  T_OK(ctx, dlc_rnn_reserve_bytes(ctx, s, 5, 4, &r2));
  T_CHECK(a > 0 && b > a && r2 > r1 && inf > 0, "sizes %zu %zu %zu %zu %zu", a, b, r1, r2, inf);
  /* GRU reserve per layer: h [T,N,H], gates [T,N,3H], W_hn h + b_hn [T,N,H], 256-byte aligned. */
  T_CHECK(r1 >= 2 * 5 * 3 * 16 * 5 * sizeof(float), "reserve %zu", r1);
  T_FAILS(ctx, DLC_ERR_SHAPE, "must be in [1,", dlc_rnn_workspace_bytes(ctx, s, 0, 3, 1, &a));
  T_FAILS(ctx, DLC_ERR_SHAPE, "overflow", dlc_rnn_reserve_bytes(ctx, s, 1 << 30, 1 << 30, &a));
  dlc_rnn_destroy(s);
}

/* ---------------------------------------------------------------- clipping */

static void test_clip(dlc_ctx *ctx) {
  dlc_tensor a = mk1(ctx, 1000), b = mk1(ctx, 37), work = mk1(ctx, DLC_CLIP_NORM_WORK);
  t_fill_uniform(a.data, a.numel, 1, -1, 1);
  t_fill_uniform(b.data, b.numel, 2, -3, 3);
  double ss = 0;
  for (int64_t i = 0; i < a.numel; i++) ss += (double)((float *)a.data)[i] * ((float *)a.data)[i];
  for (int64_t i = 0; i < b.numel; i++) ss += (double)((float *)b.data)[i] * ((float *)b.data)[i];
  float norm = (float)sqrt(ss), got = 0;
  float a0 = ((float *)a.data)[0], b5 = ((float *)b.data)[5];
  dlc_tensor *gs[2] = {&a, &b};
  /* Below the limit: unchanged (coefficient clamped to 1). */
  T_OK(ctx, dlc_op_clip_grad_norm(ctx, gs, 2, norm * 2, &work, &got));
  T_CHECK(fabsf(got - norm) <= 1e-5f * norm && ((float *)work.data)[0] == got, "norm %g vs %g", got, norm);
  T_CHECK(((float *)a.data)[0] == a0 && ((float *)b.data)[5] == b5, "unchanged below max_norm");
  /* Above: scaled to max_norm, as PyTorch: coef = max_norm / (norm + 1e-6). */
  T_OK(ctx, dlc_op_clip_grad_norm(ctx, gs, 2, 1.5f, &work, NULL));
  float coef = 1.5f / (norm + 1e-6f);
  T_CHECK(fabsf(((float *)a.data)[0] - a0 * coef) <= 1e-6f && fabsf(((float *)b.data)[5] - b5 * coef) <= 1e-6f,
          "scaled by %g", coef);
  double ss2 = 0;
  for (int64_t i = 0; i < a.numel; i++) ss2 += (double)((float *)a.data)[i] * ((float *)a.data)[i];
  for (int64_t i = 0; i < b.numel; i++) ss2 += (double)((float *)b.data)[i] * ((float *)b.data)[i];
  T_CHECK(fabs(sqrt(ss2) - 1.5) < 1e-5, "clipped norm %g", sqrt(ss2));
  /* A NaN gradient makes the norm NaN and every gradient NaN, as in PyTorch. */
  ((float *)b.data)[3] = NAN;
  T_OK(ctx, dlc_op_clip_grad_norm(ctx, gs, 2, 1.f, &work, &got));
  T_CHECK(isnan(got) && isnan(((float *)a.data)[7]), "NaN propagates");
  /* By value. */
  t_fill_uniform(a.data, a.numel, 3, -2, 2);
  ((float *)a.data)[0] = NAN;
  T_OK(ctx, dlc_op_clip_grad_value(ctx, gs, 1, 0.5f));
  int bad = 0;
  for (int64_t i = 1; i < a.numel; i++) bad += fabsf(((float *)a.data)[i]) > 0.5f;
  T_CHECK(bad == 0 && isnan(((float *)a.data)[0]), "clip by value: %d outside, NaN kept", bad);
  dlc_tensor small = mk1(ctx, 10);
  T_FAILS(ctx, DLC_ERR_SHAPE, "must hold 513 floats", dlc_op_clip_grad_norm(ctx, gs, 2, 1.f, &small, NULL));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "max_norm", dlc_op_clip_grad_norm(ctx, gs, 2, -1.f, &work, NULL));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "limit", dlc_op_clip_grad_value(ctx, gs, 2, NAN));
  dlc_tensor_free(ctx, &a); dlc_tensor_free(ctx, &b); dlc_tensor_free(ctx, &work);
  dlc_tensor_free(ctx, &small);
}

/* ---------------------------------------------------------------- bad arguments */

static void test_bad_arguments(dlc_ctx *ctx) {
  const int64_t T = 4, N = 3, F = 5, H = 6, L = 2;
  dlc_rnn_state *s = NULL;
  dlc_rnn_desc d = dlc_rnn_desc_make((dlc_rnn_mode)9, F, H, 2);
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "not a dlc_rnn_mode", dlc_rnn_create(ctx, &d, &s));
  d = dlc_rnn_desc_make(DLC_RNN_LSTM, F, 0, 2);
  T_FAILS(ctx, DLC_ERR_SHAPE, "must be >= 1", dlc_rnn_create(ctx, &d, &s));
  d = dlc_rnn_desc_make(DLC_RNN_LSTM, F, H, 0);
  T_FAILS(ctx, DLC_ERR_SHAPE, "must be >= 1", dlc_rnn_create(ctx, &d, &s));

  d = dlc_rnn_desc_make(DLC_RNN_LSTM, F, H, (int)L);
  T_OK(ctx, dlc_rnn_create(ctx, &d, &s));
  dlc_tensor params = mk1(ctx, dlc_rnn_param_numel(s)), pv[8];
  dlc_rnn_param_views(ctx, s, params.data, cpu, pv);
  dlc_rnn_init_params(ctx, s, pv);
  dlc_tensor x = mk3(ctx, T, N, F), xb = mk3(ctx, T, N, F + 1), h0 = mk3(ctx, L, N, H),
             hbad = mk3(ctx, L, N + 1, H), y = mk3(ctx, T, N, H), ybad = mk3(ctx, N, T, H), ws, res;
  fill(ctx, &x, 0.1f); fill(ctx, &h0, 0.f);
  buffers(ctx, s, T, N, &ws, &res);
  T_OK(ctx, dlc_op_rnn_fwd(ctx, s, pv, &x, &h0, &h0, &y, NULL, NULL, &ws, &res, 1));
  T_FAILS(ctx, DLC_ERR_SHAPE, "x [4, 3, 6] must be [T, N, input_size = 5]",
          dlc_op_rnn_fwd(ctx, s, pv, &xb, NULL, NULL, &y, NULL, NULL, &ws, &res, 1));
  T_FAILS(ctx, DLC_ERR_SHAPE, "h0 [2, 4, 6] must be [num_layers, N, hidden_size] = [2, 3, 6]",
          dlc_op_rnn_fwd(ctx, s, pv, &x, &hbad, NULL, &y, NULL, NULL, &ws, &res, 1));
  T_FAILS(ctx, DLC_ERR_SHAPE, "c0 [2, 4, 6]",
          dlc_op_rnn_fwd(ctx, s, pv, &x, &h0, &hbad, &y, NULL, NULL, &ws, &res, 1));
  T_FAILS(ctx, DLC_ERR_SHAPE, "y [3, 4, 6] must be [T, N, hidden_size] = [4, 3, 6]",
          dlc_op_rnn_fwd(ctx, s, pv, &x, NULL, NULL, &ybad, NULL, NULL, &ws, &res, 1));
  T_FAILS(ctx, DLC_ERR_SHAPE, "hT [2, 4, 6]",
          dlc_op_rnn_fwd(ctx, s, pv, &x, NULL, NULL, &y, &hbad, NULL, &ws, &res, 1));
  /* A parameter of the wrong shape is named. */
  dlc_tensor swapped[8];
  memcpy(swapped, pv, sizeof swapped);
  swapped[5] = pv[4]; /* weight_hh_l1 [24, 6] given weight_ih_l1's place: same shape, fine */
  T_OK(ctx, dlc_op_rnn_fwd(ctx, s, swapped, &x, NULL, NULL, &y, NULL, NULL, &ws, &res, 1));
  swapped[1] = pv[0]; /* weight_hh_l0 given weight_ih_l0 [24, 5] */
  T_FAILS(ctx, DLC_ERR_SHAPE, "weight_hh_l0 [24, 5] must be [gates * hidden_size, hidden_size] = [24, 6]",
          dlc_op_rnn_fwd(ctx, s, swapped, &x, NULL, NULL, &y, NULL, NULL, &ws, &res, 1));
  /* Buffers too small, or missing. */
  dlc_tensor tiny = mk1(ctx, 16);
  T_FAILS(ctx, DLC_ERR_SHAPE, "workspace of 64 bytes is smaller",
          dlc_op_rnn_fwd(ctx, s, pv, &x, NULL, NULL, &y, NULL, NULL, &tiny, &res, 1));
  T_FAILS(ctx, DLC_ERR_SHAPE, "reserve of 64 bytes is smaller",
          dlc_op_rnn_fwd(ctx, s, pv, &x, NULL, NULL, &y, NULL, NULL, &ws, &tiny, 1));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "reserve is NULL",
          dlc_op_rnn_fwd(ctx, s, pv, &x, NULL, NULL, &y, NULL, NULL, &ws, NULL, 1));
  T_OK(ctx, dlc_op_rnn_fwd(ctx, s, pv, &x, NULL, NULL, &y, NULL, NULL, &ws, NULL, 0));
  /* Backward: dx must match x, gradients must match the parameters. */
  T_FAILS(ctx, DLC_ERR_SHAPE, "dx [4, 3, 6] must be x's shape = [4, 3, 5]",
          dlc_op_rnn_bwd(ctx, s, pv, &x, NULL, NULL, &y, NULL, NULL, &xb, NULL, NULL, NULL, &ws, &res));
  T_FAILS(ctx, DLC_ERR_SHAPE, "gradient of weight_hh_l0",
          dlc_op_rnn_bwd(ctx, s, pv, &x, NULL, NULL, &y, NULL, NULL, NULL, NULL, NULL, swapped, &ws, &res));
  T_FAILS(ctx, DLC_ERR_SHAPE, "dy [3, 4, 6]",
          dlc_op_rnn_bwd(ctx, s, pv, &x, NULL, NULL, &ybad, NULL, NULL, NULL, NULL, NULL, NULL, &ws, &res));
  dlc_rnn_destroy(s);

  /* c0 and cT belong to LSTM only; batch_first and last_only change y's shape. */
  d = dlc_rnn_desc_make(DLC_RNN_GRU, F, H, (int)L);
  d.batch_first = 1;
  T_OK(ctx, dlc_rnn_create(ctx, &d, &s));
  dlc_tensor gp = mk1(ctx, dlc_rnn_param_numel(s)), gpv[8], ws2, res2;
  dlc_rnn_param_views(ctx, s, gp.data, cpu, gpv);
  dlc_rnn_init_params(ctx, s, gpv);
  buffers(ctx, s, T, N, &ws2, &res2);
  dlc_tensor xbf = mk3(ctx, N, T, F);
  fill(ctx, &xbf, 0.2f);
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "c0 is only for LSTM",
          dlc_op_rnn_fwd(ctx, s, gpv, &xbf, &h0, &h0, &ybad, NULL, NULL, &ws2, &res2, 1));
  T_FAILS(ctx, DLC_ERR_SHAPE, "must be [N, T, hidden_size] (batch_first) = [3, 4, 6]",
          dlc_op_rnn_fwd(ctx, s, gpv, &xbf, NULL, NULL, &y, NULL, NULL, &ws2, &res2, 1));
  T_OK(ctx, dlc_op_rnn_fwd(ctx, s, gpv, &xbf, NULL, NULL, &ybad, NULL, NULL, &ws2, &res2, 1));
  dlc_rnn_destroy(s);
  d.last_only = 1;
  T_OK(ctx, dlc_rnn_create(ctx, &d, &s));
  T_FAILS(ctx, DLC_ERR_SHAPE, "must be [N, hidden_size] (last_only) = [3, 6]",
          dlc_op_rnn_fwd(ctx, s, gpv, &xbf, NULL, NULL, &ybad, NULL, NULL, &ws2, &res2, 1));
  dlc_rnn_destroy(s);

  dlc_tensor *all[] = {&params, &x, &xb, &h0, &hbad, &y, &ybad, &ws, &res, &tiny, &gp, &ws2, &res2, &xbf};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) dlc_tensor_free(ctx, all[k]);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(23);
  test_layout(ctx);
  test_sizes(ctx);
  test_fixtures(ctx);
  test_gradchecks(ctx);
  test_clip(ctx);
  test_bad_arguments(ctx);
  dlc_ctx_destroy(ctx);
  return t_finish("test_rnn");
}
