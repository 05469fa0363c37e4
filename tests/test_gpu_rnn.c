/* Recurrent layers on CUDA against the CPU path: every mode, 1 to 3 layers, batch_first and
 * time-major, every step and the last only, with and without h0/c0 and biases, awkward sizes
 * (N = 1, F = 1, H odd and above a block). Forward (training, and inference from a freshly
 * poisoned output), the whole reserve it keeps, and backward accumulating into random
 * gradients. Every device buffer, workspace and reserve included, is guarded and starts
 * poisoned with NaN. Also gradient clipping. Label gpu: exits 77 without a device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

/* A host tensor and a guarded device twin holding the same data. */
typedef struct pair {
  dlc_tensor h;
  t_guarded d;
  float *back;
  int live;
} pair;

static void pair_alloc(dlc_ctx *g, dlc_ctx *c, pair *p, int ndim, const int64_t *shape) {
  memset(p, 0, sizeof *p);
  T_CHECK(dlc_tensor_alloc(c, &p->h, DLC_F32, ndim, shape, cpu) == DLC_OK, "host alloc");
  T_CHECK(t_guarded_alloc(g, &p->d, ndim, shape), "device alloc: %s", dlc_ctx_error(g));
  p->back = malloc(p->h.nbytes);
  p->live = 1;
}

/* Random contents on both sides. */
static void pair_rand(dlc_ctx *g, dlc_ctx *c, pair *p, int ndim, const int64_t *shape,
                      uint64_t seed, float lo, float hi) {
  pair_alloc(g, c, p, ndim, shape);
  t_fill_uniform(p->h.data, p->h.numel, seed, lo, hi);
  t_guarded_upload(g, &p->d, p->h.data);
}

/* NaN on both sides: an output, or scratch that nothing may read before writing. */
static void pair_nan(dlc_ctx *g, dlc_ctx *c, pair *p, int ndim, const int64_t *shape) {
  pair_alloc(g, c, p, ndim, shape);
  dlc_op_fill(c, &p->h, NAN);
}

static void repoison(dlc_ctx *g, t_guarded *d) {
  float *nan = malloc(d->t.nbytes);
  for (int64_t i = 0; i < d->t.numel; i++) nan[i] = NAN;
  t_guarded_upload(g, d, nan);
  free(nan);
}

static void pair_check(dlc_ctx *g, pair *p, const char *what, double tol_nse, double tol_abs) {
  if (t_guarded_download(g, &p->d, p->back, what))
    t_parity(what, p->h.data, p->back, p->h.numel, tol_nse, tol_abs);
}

static void pair_free(dlc_ctx *g, dlc_ctx *c, pair *p) {
  if (!p->live) return;
  dlc_tensor_free(c, &p->h);
  t_guarded_free(g, &p->d);
  free(p->back);
  memset(p, 0, sizeof *p);
}

typedef struct cfg {
  dlc_rnn_mode mode;
  int L;
  int64_t T, N, F, H;
  int batch_first, last_only, with_h0, bias;
} cfg;

static const cfg cfgs[] = {
    {DLC_RNN_TANH, 2, 37, 33, 19, 65, 0, 0, 1, 1},
    {DLC_RNN_RELU, 1, 5, 7, 9, 257, 1, 0, 1, 1},
    {DLC_RNN_RELU, 2, 9, 5, 3, 31, 0, 1, 0, 1},
    {DLC_RNN_LSTM, 2, 37, 33, 19, 65, 1, 0, 1, 1},
    {DLC_RNN_LSTM, 1, 3, 1, 1, 129, 0, 1, 0, 0},
    {DLC_RNN_LSTM, 3, 4, 64, 96, 128, 0, 0, 1, 1},
    {DLC_RNN_GRU, 2, 37, 33, 19, 65, 0, 1, 1, 1},
    {DLC_RNN_GRU, 3, 6, 17, 31, 33, 1, 0, 0, 1},
    {DLC_RNN_GRU, 1, 1, 2, 5, 300, 1, 0, 1, 0},
};

static void test_cfg(dlc_ctx *g, dlc_ctx *c, const cfg *k, int idx) {
  const int lstm = k->mode == DLC_RNN_LSTM;
  const int64_t L = k->L, T = k->T, N = k->N, F = k->F, H = k->H;
  dlc_rnn_desc d = dlc_rnn_desc_make(k->mode, F, H, k->L);
  d.batch_first = k->batch_first;
  d.last_only = k->last_only;
  d.bias = k->bias;
  dlc_rnn_state *s = NULL;
  T_OK(c, dlc_rnn_create(c, &d, &s));
  if (!s) return;
  char tag[128];
  snprintf(tag, sizeof tag, "%s L%lld T%lld N%lld F%lld H%lld%s%s%s%s", dlc_rnn_mode_name(k->mode),
           (long long)L, (long long)T, (long long)N, (long long)F, (long long)H,
           k->batch_first ? " bf" : "", k->last_only ? " last" : "", k->with_h0 ? "" : " no-h0",
           k->bias ? "" : " no-bias");
  printf("== %s\n", tag);
  uint64_t seed = 1000 * (uint64_t)(idx + 1);
  int64_t np = dlc_rnn_param_numel(s);
  int64_t xs[3] = {T, N, F}, ys3[3] = {T, N, H}, ys2[2] = {N, H}, st[3] = {L, N, H};
  if (k->batch_first) xs[0] = N, xs[1] = T, ys3[0] = N, ys3[1] = T;
  float wk = 1.f / sqrtf((float)H);
  pair params, grads, x, y, hT, cT, dy, dhT, dcT, dx, dh0, dc0, h0, c0, ws, res;
  memset(&h0, 0, sizeof h0);
  memset(&c0, 0, sizeof c0);
  memset(&cT, 0, sizeof cT);
  memset(&dcT, 0, sizeof dcT);
  memset(&dc0, 0, sizeof dc0);
  pair_rand(g, c, &params, 1, &np, seed + 1, -wk, wk);
  pair_rand(g, c, &grads, 1, &np, seed + 2, -1, 1);
  pair_rand(g, c, &x, 3, xs, seed + 3, -1, 1);
  if (k->with_h0) pair_rand(g, c, &h0, 3, st, seed + 4, -1, 1);
  if (k->with_h0 && lstm) pair_rand(g, c, &c0, 3, st, seed + 5, -1, 1);
  pair_nan(g, c, &y, k->last_only ? 2 : 3, k->last_only ? ys2 : ys3);
  pair_nan(g, c, &hT, 3, st);
  if (lstm) pair_nan(g, c, &cT, 3, st);
  pair_rand(g, c, &dy, k->last_only ? 2 : 3, k->last_only ? ys2 : ys3, seed + 6, -1, 1);
  pair_rand(g, c, &dhT, 3, st, seed + 7, -1, 1);
  if (lstm) pair_rand(g, c, &dcT, 3, st, seed + 8, -1, 1);
  pair_rand(g, c, &dx, 3, xs, seed + 9, -1, 1);
  pair_rand(g, c, &dh0, 3, st, seed + 10, -1, 1);
  if (lstm) pair_rand(g, c, &dc0, 3, st, seed + 11, -1, 1);
  size_t wb = 0, rb = 0;
  T_OK(c, dlc_rnn_workspace_bytes(c, s, T, N, 1, &wb));
  T_OK(c, dlc_rnn_reserve_bytes(c, s, T, N, &rb));
  int64_t wn = (int64_t)(wb / 4), rn = (int64_t)(rb / 4);
  pair_nan(g, c, &ws, 1, &wn);
  pair_nan(g, c, &res, 1, &rn);

  dlc_tensor pvh[12], pvd[12], gvh[12], gvd[12];
  T_OK(c, dlc_rnn_param_views(c, s, params.h.data, cpu, pvh));
  T_OK(g, dlc_rnn_param_views(g, s, params.d.t.data, dlc_ctx_device(g), pvd));
  T_OK(c, dlc_rnn_param_views(c, s, grads.h.data, cpu, gvh));
  T_OK(g, dlc_rnn_param_views(g, s, grads.d.t.data, dlc_ctx_device(g), gvd));
#define H_(p) ((p).live ? &(p).h : NULL)
#define D_(p) ((p).live ? &(p).d.t : NULL)

  /* Forward, training. A training step performs no device allocation. */
  uint64_t mallocs = dlc_ctx_memory_stats(g).device_mallocs;
  T_OK(c, dlc_op_rnn_fwd(c, s, pvh, &x.h, H_(h0), H_(c0), &y.h, &hT.h, H_(cT), &ws.h, &res.h, 1));
  T_OK(g, dlc_op_rnn_fwd(g, s, pvd, &x.d.t, D_(h0), D_(c0), &y.d.t, &hT.d.t, D_(cT), &ws.d.t, &res.d.t, 1));
  char what[192];
  const double fn = 1e-10, fa = 2e-5; /* forward: GEMM summation order and expf differ */
  snprintf(what, sizeof what, "%s y", tag); pair_check(g, &y, what, fn, fa);
  snprintf(what, sizeof what, "%s hT", tag); pair_check(g, &hT, what, fn, fa);
  if (lstm) { snprintf(what, sizeof what, "%s cT", tag); pair_check(g, &cT, what, fn, fa); }
  /* The whole reserve: every stored h, gate and c; its padding stays NaN on both sides. */
  snprintf(what, sizeof what, "%s reserve", tag); pair_check(g, &res, what, fn, fa);

  /* Backward from the CPU's reserve on both devices, so that it isolates backward. */
  t_guarded_upload(g, &res.d, res.h.data);
  T_OK(c, dlc_op_rnn_bwd(c, s, pvh, &x.h, H_(h0), H_(c0), &dy.h, &dhT.h, H_(dcT), &dx.h, &dh0.h,
                         H_(dc0), gvh, &ws.h, &res.h));
  T_OK(g, dlc_op_rnn_bwd(g, s, pvd, &x.d.t, D_(h0), D_(c0), &dy.d.t, &dhT.d.t, D_(dcT), &dx.d.t,
                         &dh0.d.t, D_(dc0), gvd, &ws.d.t, &res.d.t));
  T_CHECK(dlc_ctx_memory_stats(g).device_mallocs == mallocs, "%s: forward/backward called cudaMalloc", tag);
  const double bn = 1e-9, ba = 2e-4; /* backward sums T * N terms into each weight */
  snprintf(what, sizeof what, "%s dx", tag); pair_check(g, &dx, what, bn, ba);
  snprintf(what, sizeof what, "%s dh0", tag); pair_check(g, &dh0, what, bn, ba);
  if (lstm) { snprintf(what, sizeof what, "%s dc0", tag); pair_check(g, &dc0, what, bn, ba); }
  snprintf(what, sizeof what, "%s parameter gradients", tag); pair_check(g, &grads, what, bn, 1e-3);
  snprintf(what, sizeof what, "%s workspace guards", tag);
  t_guarded_download(g, &ws.d, ws.back, what);

  /* Inference into poisoned outputs and a poisoned workspace, without a reserve. */
  repoison(g, &y.d);
  repoison(g, &hT.d);
  if (lstm) repoison(g, &cT.d);
  repoison(g, &ws.d);
  T_OK(g, dlc_op_rnn_fwd(g, s, pvd, &x.d.t, D_(h0), D_(c0), &y.d.t, &hT.d.t, D_(cT), &ws.d.t, NULL, 0));
  snprintf(what, sizeof what, "%s y (inference)", tag); pair_check(g, &y, what, fn, fa);
  snprintf(what, sizeof what, "%s hT (inference)", tag); pair_check(g, &hT, what, fn, fa);
  if (lstm) { snprintf(what, sizeof what, "%s cT (inference)", tag); pair_check(g, &cT, what, fn, fa); }
#undef H_
#undef D_
  pair *all[] = {&params, &grads, &x, &y, &hT, &cT, &dy, &dhT, &dcT, &dx, &dh0, &dc0, &h0, &c0, &ws, &res};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(g, c, all[i]);
  dlc_rnn_destroy(s);
}

static void test_clip(dlc_ctx *g, dlc_ctx *c) {
  const int64_t sizes[3] = {1000003, 37, 1};
  pair p[3], work;
  for (int i = 0; i < 3; i++) pair_rand(g, c, &p[i], 1, &sizes[i], 70 + (uint64_t)i, -1, 1);
  int64_t wn = DLC_CLIP_NORM_WORK;
  pair_nan(g, c, &work, 1, &wn);
  dlc_tensor *hs[3] = {&p[0].h, &p[1].h, &p[2].h}, *ds[3] = {&p[0].d.t, &p[1].d.t, &p[2].d.t};
  float nh = 0, nd = 0;
  T_OK(c, dlc_op_clip_grad_norm(c, hs, 3, 10.f, &work.h, &nh));
  T_OK(g, dlc_op_clip_grad_norm(g, ds, 3, 10.f, &work.d.t, &nd));
  printf("clip_grad_norm: cpu norm %.7g, cuda norm %.7g\n", nh, nd);
  T_CHECK(fabsf(nh - nd) <= 1e-5f * nh, "norms %g vs %g", nh, nd);
  for (int i = 0; i < 3; i++) {
    char what[64];
    snprintf(what, sizeof what, "clip_grad_norm n=%lld", (long long)sizes[i]);
    pair_check(g, &p[i], what, 1e-12, 1e-6);
  }
  for (int i = 0; i < 3; i++) t_guarded_upload(g, &p[i].d, p[i].h.data); /* isolate clip by value */
  T_OK(c, dlc_op_clip_grad_value(c, hs, 3, 0.003f));
  T_OK(g, dlc_op_clip_grad_value(g, ds, 3, 0.003f));
  for (int i = 0; i < 3; i++) {
    char what[64];
    snprintf(what, sizeof what, "clip_grad_value n=%lld", (long long)sizes[i]);
    pair_check(g, &p[i], what, 0, 0);
  }
  for (int i = 0; i < 3; i++) pair_free(g, c, &p[i]);
  pair_free(g, c, &work);
}

/* --cpu-self-test runs everything with a second CPU context standing in for the GPU: it
 * checks the test's own plumbing (guards, poison, tolerances) on a machine without one. */
int main(int argc, char **argv) {
  int self_test = argc > 1 && !strcmp(argv[1], "--cpu-self-test");
  dlc_ctx *g = self_test ? t_cpu_ctx(5) : t_gpu_ctx_or_skip(5), *c = t_cpu_ctx(5);
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) test_cfg(g, c, &cfgs[i], (int)i);
  test_clip(g, c);
  T_OK(g, dlc_ctx_synchronize(g));
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_rnn");
}
