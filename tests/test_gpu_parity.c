/* The op-level CPU-vs-device parity test, driven by the op cases (bench/op_cases.h): for
 * every row of the ops asked for, random inputs on both sides, guarded and NaN-poisoned
 * device buffers (testutil), the op on the CPU and on the device, and every output
 * compared within the row's limits; a failure names op, case, output, the worst index,
 * both values and the limit. One small adapter per op sets up its inputs, calls it and
 * lists its outputs; what no table holds (the allocator, chunking and cuDNN's algorithm
 * choice, a fully ignored batch) are the extras at the end.
 *
 *   test_gpu_parity [--cpu-self-test] GROUP|OP [CASE]
 *
 * GROUP is a CTest test's (ops, dense, softmax, loss, pool, norm, layernorm, optim, conv,
 * rnn: test_gpu_parity_GROUP), OP one op of the table, CASE a row's name. --cpu-self-test
 * runs a second CPU context in the device's place: it checks the test's own plumbing
 * (guards, poison, limits) on a machine without one. Label gpu: exits 77 without a device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/batchnorm.h"
#include "op_cases.h"
#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

/* ================================================================ the generic part */

#define MAX_PAIRS 24

/* One row's run: the device under test, the CPU reference, the row, and the host/device
 * pairs its adapter made (freed after it). */
typedef struct run {
  dlc_ctx *g, *c;
  const op_case *k;
  uint64_t seed;
  t_pair *pairs[MAX_PAIRS];
  int npairs;
} run;

static int on_cuda(dlc_ctx *ctx) { return dlc_ctx_device(ctx).kind == DLC_DEVICE_CUDA; }

/* A host tensor and its guarded device twin with the same uniform values in [lo, hi). */
static t_pair *in(run *r, int ndim, const int64_t *shape, float lo, float hi) {
  t_pair *p = calloc(1, sizeof *p);
  T_CHECK(p && r->npairs < MAX_PAIRS, "%s %s: too many buffers", oc_op_name(r->k->op), r->k->name);
  if (!p || r->npairs >= MAX_PAIRS) exit(1);
  t_pair_init(r->g, r->c, p, ndim, shape, r->seed++, lo, hi);
  r->pairs[r->npairs++] = p;
  return p;
}

static void poison(dlc_ctx *g, t_guarded *d) {
  float *nan = malloc(d->t.nbytes ? d->t.nbytes : 1);
  for (int64_t i = 0; i < d->t.numel; i++) nan[i] = NAN;
  t_guarded_upload(g, d, nan);
  free(nan);
}

/* NaN on both sides: an output, or scratch that nothing may read before writing. */
static t_pair *nan_pair(run *r, int ndim, const int64_t *shape) {
  t_pair *p = in(r, ndim, shape, 0, 1);
  for (int64_t i = 0; i < p->h.numel; i++) ((float *)p->h.data)[i] = NAN;
  poison(r->g, &p->d);
  return p;
}

static void pairs_free(run *r) {
  for (int i = 0; i < r->npairs; i++) {
    t_pair_free(r->g, r->c, r->pairs[i]);
    free(r->pairs[i]);
  }
  r->npairs = 0;
}

/* "op case output", in one of 4 rotating buffers. */
static const char *label(const run *r, const char *output) {
  static char buf[4][256];
  static int next;
  char *b = buf[next++ % 4];
  snprintf(b, sizeof buf[0], "%s %s %s", oc_op_name(r->k->op), r->k->name, output);
  return b;
}

/* The rule of t_parity_measure: a non-finite value on one side only, or two different ones. */
static int nonfinite_mismatch(float a, float b) {
  int af = isfinite(a), bf = isfinite(b);
  return af != bf || (!af && !(isnan(a) && isnan(b)) && a != b);
}

/* Compares got with the CPU's ref within tol; prints a line, and on failure the first
 * non-finite mismatch or else the largest difference. Counts a check. */
static int compare(const run *r, const char *output, const float *ref, const float *got, int64_t n,
                   oc_tol tol) {
  const char *what = label(r, output);
  t_parity_result m = t_parity_measure(ref, got, n);
  int ok = m.mismatched_nonfinite == 0 && m.nse <= tol.nse && m.max_abs <= tol.abs;
  printf("%-60s n=%-9lld nse=%.3e max_abs=%.3e (<=%.1e) nonfinite_mismatch=%lld %s\n", what,
         (long long)n, m.nse, m.max_abs, tol.abs, (long long)m.mismatched_nonfinite, ok ? "ok" : "FAIL");
  int64_t at = 0;
  double worst = -1;
  for (int64_t i = 0; !ok && i < n; i++) {
    if (nonfinite_mismatch(ref[i], got[i])) {
      at = i;
      break;
    }
    double d = fabs((double)ref[i] - (double)got[i]);
    if (d > worst) worst = d, at = i;
  }
  T_CHECK(ok, "%s: at [%lld] cpu %.9g device %.9g; nse %.3e (limit %g), max |diff| %.3e (limit %g), %lld non-finite mismatches",
          what, (long long)at, n ? ref[at] : 0.f, n ? got[at] : 0.f, m.nse, tol.nse, m.max_abs, tol.abs,
          (long long)m.mismatched_nonfinite);
  return ok;
}

/* Bit for bit: n 4-byte elements (floats, or int32 when ints). Counts a check. */
static int compare_bits(const run *r, const char *output, const void *ref, const void *got, int64_t n,
                        int ints) {
  const char *what = label(r, output);
  int64_t diff = 0, first = -1;
  for (int64_t i = 0; i < n; i++)
    if (memcmp((const char *)ref + 4 * i, (const char *)got + 4 * i, 4) != 0) {
      if (first < 0) first = i;
      diff++;
    }
  printf("%-60s n=%-9lld bit mismatches %lld\n", what, (long long)n, (long long)diff);
  if (diff) {
    int32_t a, b;
    float fa, fb;
    memcpy(&a, (const char *)ref + 4 * first, 4);
    memcpy(&b, (const char *)got + 4 * first, 4);
    memcpy(&fa, &a, 4);
    memcpy(&fb, &b, 4);
    if (ints)
      T_CHECK(0, "%s: %lld elements differ, first at [%lld]: %d against %d, wanted bit for bit", what,
              (long long)diff, (long long)first, (int)a, (int)b);
    else
      T_CHECK(0, "%s: %lld elements differ, first at [%lld]: %.9g (0x%08x) against %.9g (0x%08x), wanted bit for bit",
              what, (long long)diff, (long long)first, fa, (unsigned)a, fb, (unsigned)b);
    return 0;
  }
  t_checks++;
  return 1;
}

/* Downloads p's device side (checking its guards) and compares it with ref. */
static void check_against(run *r, t_pair *p, const float *ref, const char *output, oc_tol tol) {
  if (t_guarded_download(r->g, &p->d, p->back, label(r, output)))
    compare(r, output, ref, p->back, p->h.numel, tol);
}

static void check(run *r, t_pair *p, const char *output, oc_tol tol) {
  check_against(r, p, p->h.data, output, tol);
}

/* A borrowed view of shape at offset off into a guarded buffer, or a host array. */
static dlc_tensor view(dlc_ctx *ctx, float *base, int64_t off, int ndim, const int64_t *shape) {
  dlc_tensor v;
  dlc_tensor_borrow(ctx, &v, base + off, DLC_F32, ndim, shape, dlc_ctx_device(ctx));
  return v;
}

static oc_tol widen(oc_tol t, double abs) { return (oc_tol){t.nse, fmax(t.abs, abs)}; }

static const char *const act_names[DLC_ACT_COUNT] = {"none", "tanh", "sigmoid", "relu", "leaky"};

/* ================================================================ the adapters */

/* fill, scale, axpy, copy on views 16-byte aligned and not: untouched neighbours keep
 * their values, the view matches the CPU. */
static void run_elementwise(run *r) {
  const int64_t n = r->k->n, padded = n + 3;
  for (int64_t off = 0; off < 4; off += 3) {
    float *x = malloc((size_t)padded * 4), *y = malloc((size_t)padded * 4);
    float *ref = malloc((size_t)n * 4), *got = malloc((size_t)padded * 4);
    t_fill_uniform(x, padded, r->seed++, -3, 3);
    t_fill_uniform(y, padded, r->seed++, -3, 3);
    t_guarded gx, gy;
    T_CHECK(t_guarded_alloc(r->g, &gx, 1, &padded) && t_guarded_alloc(r->g, &gy, 1, &padded), "alloc");
    t_guarded_upload(r->g, &gx, x);
    const char *names[4] = {"fill", "scale", "axpy", "copy"};
    for (int op = 0; op < 4; op++) {
      t_guarded_upload(r->g, &gy, y);
      dlc_tensor dx = view(r->g, gx.t.data, off, 1, &n), dy = view(r->g, gy.t.data, off, 1, &n);
      dlc_tensor hx = view(r->c, x, off, 1, &n), hy = view(r->c, ref, 0, 1, &n);
      memcpy(ref, y + off, (size_t)n * 4);
      switch (op) {
        case 0: T_OK(r->g, dlc_op_fill(r->g, &dy, -1.25f)); T_OK(r->c, dlc_op_fill(r->c, &hy, -1.25f)); break;
        case 1: T_OK(r->g, dlc_op_scale(r->g, 0.3f, &dx, &dy)); T_OK(r->c, dlc_op_scale(r->c, 0.3f, &hx, &hy)); break;
        case 2: T_OK(r->g, dlc_op_axpy(r->g, 0.3f, &dx, &dy)); T_OK(r->c, dlc_op_axpy(r->c, 0.3f, &hx, &hy)); break;
        default: T_OK(r->g, dlc_op_copy(r->g, &dx, &dy)); T_OK(r->c, dlc_op_copy(r->c, &hx, &hy)); break;
      }
      char out[64];
      snprintf(out, sizeof out, "%s off=%lld", names[op], (long long)off);
      t_guarded_download(r->g, &gy, got, label(r, out));
      T_CHECK(off == 0 || got[0] == y[0], "%s: element before the view changed", label(r, out));
      T_CHECK(got[off + n] == y[off + n] || off + n >= padded, "%s: element after changed", label(r, out));
      compare(r, out, ref, got + off, n, r->k->tol[op == 2]);
    }
    t_guarded_free(r->g, &gx);
    t_guarded_free(r->g, &gy);
    free(x); free(y); free(ref); free(got);
  }
}

/* Uniform and normal numbers: the same bits on both devices, the offsets advance alike. */
static void run_random(run *r) {
  const int64_t n = r->k->n;
  t_pair *y = in(r, 1, &n, 0, 1);
  for (int normal = 0; normal < 2; normal++) {
    dlc_ctx_set_rng_offset(r->g, 12345 + r->seed);
    dlc_ctx_set_rng_offset(r->c, 12345 + r->seed);
    if (normal) {
      T_OK(r->g, dlc_tensor_rand_normal(r->g, &y->d.t, 0.5f, 2.f));
      T_OK(r->c, dlc_tensor_rand_normal(r->c, &y->h, 0.5f, 2.f));
    } else {
      T_OK(r->g, dlc_tensor_rand_uniform(r->g, &y->d.t, -2.f, 5.f));
      T_OK(r->c, dlc_tensor_rand_uniform(r->c, &y->h, -2.f, 5.f));
    }
    const char *out = normal ? "rand_normal" : "rand_uniform";
    if (t_guarded_download(r->g, &y->d, y->back, label(r, out)))
      compare_bits(r, out, y->h.data, y->back, n, 0);
    T_CHECK(dlc_ctx_rng_offset(r->g) == dlc_ctx_rng_offset(r->c), "%s: offsets advance alike", label(r, out));
  }
}

/* Every transpose; alpha 0.75 and beta -0.5 onto random C. */
static void run_gemm(run *r) {
  const int64_t M = r->k->gemm.m, N = r->k->gemm.n, K = r->k->gemm.k, batch = r->k->gemm.batch;
  const int64_t sa = M * K, sb = K * N, sc = M * N, na = sa * batch, nb = sb * batch, nc = sc * batch;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      t_pair *a = in(r, 1, &na, -1, 1), *b = in(r, 1, &nb, -1, 1), *c = in(r, 1, &nc, -1, 1);
      int64_t lda = ta ? M : K, ldb = tb ? K : N;
      T_OK(r->g, dlc_op_gemm_strided_batched(r->g, dlc_ctx_device(r->g), ta, tb, M, N, K, 0.75f, a->d.t.data,
                                             lda, sa, b->d.t.data, ldb, sb, -0.5f, c->d.t.data, N, sc, batch));
      T_OK(r->c, dlc_op_gemm_strided_batched(r->c, cpu, ta, tb, M, N, K, 0.75f, a->h.data, lda, sa, b->h.data,
                                             ldb, sb, -0.5f, c->h.data, N, sc, batch));
      check(r, c, ta ? (tb ? "TT" : "TN") : (tb ? "NT" : "NN"), r->k->tol[0]);
      pairs_free(r);
    }
}

/* Every activation forward and backward, and forward on views one float off (the scalar
 * path). */
static void run_act(run *r) {
  const int64_t n = r->k->n;
  for (int a = 0; a < DLC_ACT_COUNT; a++) {
    t_pair *x = in(r, 1, &n, -4, 4), *y = in(r, 1, &n, -1, 1), *dy = in(r, 1, &n, -1, 1),
           *dx = in(r, 1, &n, -1, 1);
    char out[64];
    T_OK(r->g, dlc_op_act_fwd(r->g, (dlc_act)a, 0.1f, &x->d.t, &y->d.t));
    T_OK(r->c, dlc_op_act_fwd(r->c, (dlc_act)a, 0.1f, &x->h, &y->h));
    snprintf(out, sizeof out, "%s fwd", act_names[a]);
    check(r, y, out, r->k->tol[0]);
    T_OK(r->g, dlc_op_act_bwd(r->g, (dlc_act)a, 0.1f, &x->d.t, &y->d.t, &dy->d.t, &dx->d.t));
    T_OK(r->c, dlc_op_act_bwd(r->c, (dlc_act)a, 0.1f, &x->h, &y->h, &dy->h, &dx->h));
    snprintf(out, sizeof out, "%s bwd", act_names[a]);
    check(r, dx, out, r->k->tol[0]);
    if (n > 1) {
      int64_t m = n - 1;
      dlc_tensor xv = view(r->g, x->d.t.data, 1, 1, &m), yv = view(r->g, y->d.t.data, 1, 1, &m);
      dlc_tensor hx = view(r->c, x->h.data, 1, 1, &m), hy = view(r->c, y->h.data, 1, 1, &m);
      T_OK(r->g, dlc_op_act_fwd(r->g, (dlc_act)a, 0.1f, &xv, &yv));
      T_OK(r->c, dlc_op_act_fwd(r->c, (dlc_act)a, 0.1f, &hx, &hy));
      snprintf(out, sizeof out, "%s fwd misaligned", act_names[a]);
      check(r, y, out, r->k->tol[0]);
    }
    pairs_free(r);
  }
}

/* Dense forward and backward for every activation; backward from the CPU's y on both
 * sides, so that the comparison isolates it. */
static void run_dense(run *r) {
  const int64_t n = r->k->dense.n, fin = r->k->dense.in, fout = r->k->dense.out;
  const int64_t xs[2] = {n, fin}, ws[2] = {fout, fin}, ys[2] = {n, fout};
  /* The absolute limits grow with what each output sums (t_sum_tol): y sums fin products
   * (|x| <= 1, |w| <= 0.3) and the bias, dx fout products dz*w, dw n products dz*x, db
   * n values of dz (|dz| <= 1). cuBLAS and OpenBLAS sum in different orders. */
  const oc_tol ty = widen(r->k->tol[0], t_sum_tol(fin + 1, 0.3)), tdx = widen(r->k->tol[1], t_sum_tol(fout, 0.3)),
               tdw = widen(r->k->tol[1], t_sum_tol(n, 1.0));
  for (int a = 0; a < DLC_ACT_COUNT; a++) {
    t_pair *x = in(r, 2, xs, -1, 1), *w = in(r, 2, ws, -0.3f, 0.3f), *b = in(r, 1, &fout, -0.2f, 0.2f);
    t_pair *y = in(r, 2, ys, 0, 1), *dy = in(r, 2, ys, -1, 1), *dz = in(r, 2, ys, 0, 1);
    t_pair *dx = in(r, 2, xs, -1, 1), *dw = in(r, 2, ws, -1, 1), *db = in(r, 1, &fout, -1, 1);
    T_OK(r->g, dlc_op_dense_fwd(r->g, &x->d.t, &w->d.t, &b->d.t, (dlc_act)a, 0.1f, &y->d.t));
    T_OK(r->c, dlc_op_dense_fwd(r->c, &x->h, &w->h, &b->h, (dlc_act)a, 0.1f, &y->h));
    char out[64];
    snprintf(out, sizeof out, "%s y", act_names[a]);
    check(r, y, out, ty);
    t_guarded_upload(r->g, &y->d, y->h.data);
    T_OK(r->g, dlc_op_dense_bwd(r->g, &x->d.t, &w->d.t, &y->d.t, &dy->d.t, (dlc_act)a, 0.1f, &dz->d.t, &dx->d.t,
                                &dw->d.t, &db->d.t));
    T_OK(r->c, dlc_op_dense_bwd(r->c, &x->h, &w->h, &y->h, &dy->h, (dlc_act)a, 0.1f, &dz->h, &dx->h, &dw->h, &db->h));
    snprintf(out, sizeof out, "%s dx", act_names[a]); check(r, dx, out, tdx);
    snprintf(out, sizeof out, "%s dw", act_names[a]); check(r, dw, out, tdw);
    snprintf(out, sizeof out, "%s db", act_names[a]); check(r, db, out, tdw);
    pairs_free(r);
  }
}

static void run_bias_grad(run *r) {
  const int64_t shape[2] = {r->k->mat.rows, r->k->mat.cols};
  t_pair *dz = in(r, 2, shape, -1, 1), *db = in(r, 1, &shape[1], -1, 1);
  T_OK(r->g, dlc_op_bias_grad(r->g, &dz->d.t, &db->d.t));
  T_OK(r->c, dlc_op_bias_grad(r->c, &dz->h, &db->h));
  check(r, db, "db", widen(r->k->tol[0], t_sum_tol(r->k->mat.rows + 1, 1.0))); /* rows of |dz| <= 1 */
}

static void run_dropout(run *r) {
  const int64_t n = r->k->n;
  t_pair *x = in(r, 1, &n, -1, 1), *y = in(r, 1, &n, -1, 1), *dx = in(r, 1, &n, -1, 1);
  dlc_ctx_set_rng_offset(r->g, 99);
  dlc_ctx_set_rng_offset(r->c, 99);
  uint64_t og, oc;
  T_OK(r->g, dlc_op_dropout_fwd(r->g, 0.37f, 1, &x->d.t, &y->d.t, &og));
  T_OK(r->c, dlc_op_dropout_fwd(r->c, 0.37f, 1, &x->h, &y->h, &oc));
  check(r, y, "fwd", r->k->tol[0]);
  T_OK(r->g, dlc_op_dropout_bwd(r->g, 0.37f, og, &x->d.t, &dx->d.t));
  T_OK(r->c, dlc_op_dropout_bwd(r->c, 0.37f, oc, &x->h, &dx->h));
  check(r, dx, "bwd", r->k->tol[1]);
}

/* ---------------------------------------------------------------- softmax */

/* Extreme rows by pattern: plain; one 1e30 among -1e30; every other -inf; all -inf; one
 * NaN; one +inf; all -inf but a NaN at the end (the online pass must keep that NaN). */
static void make_extreme(float *x, int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; r++) {
    float *xr = x + r * C;
    const int64_t k = (r * 7919) % C;
    switch (r % 7) {
      case 1: for (int64_t c = 0; c < C; c++) xr[c] = c == k ? 1e30f : -1e30f; break;
      case 2: for (int64_t c = 0; c < C; c++) if (c % 2) xr[c] = -INFINITY; break;
      case 3: for (int64_t c = 0; c < C; c++) xr[c] = -INFINITY; break;
      case 4: xr[k] = NAN; break;
      case 5: xr[k] = INFINITY; break;
      case 6: for (int64_t c = 0; c < C; c++) xr[c] = c == C - 1 ? NAN : -INFINITY; break;
      default: break;
    }
  }
}

/* True when the floats before the view are still the NaN poison (nothing wrote there). */
static int untouched(const float *p, int64_t off) {
  for (int64_t i = 0; i < off; i++)
    if (!isnan(p[i])) return 0;
  return 1;
}

/* Softmax and log-softmax of rows starting `off` floats into their buffers: forward,
 * in place (the same bits), backward accumulating onto random dx. */
static void softmax_at(run *r, int64_t off) {
  const int64_t rows = r->k->softmax.rows, C = r->k->softmax.cols, n = rows * C, padded = n + off;
  const int64_t shape[2] = {rows, C};
  float *x = malloc((size_t)padded * 4), *dy = malloc((size_t)padded * 4);
  float *dx0 = malloc((size_t)padded * 4), *ref = malloc((size_t)padded * 4);
  float *got = malloc((size_t)padded * 4), *gdx = malloc((size_t)padded * 4);
  float *hdx = malloc((size_t)n * 4), *gz = malloc((size_t)padded * 4);
  t_fill_uniform(x, padded, 1000 + (uint64_t)C, -8, 8);
  t_fill_uniform(dy, padded, 2000 + (uint64_t)C, -1, 1);
  t_fill_uniform(dx0, padded, 3000 + (uint64_t)C, -1, 1);
  if (r->k->softmax.extreme) make_extreme(x + off, rows, C);
  for (int64_t i = 0; i < off; i++) ref[i] = NAN; /* keeps the poison when uploaded */
  t_guarded bx, by, bdy, bdx, bz;
  int ok = t_guarded_alloc(r->g, &bx, 1, &padded) && t_guarded_alloc(r->g, &by, 1, &padded) &&
           t_guarded_alloc(r->g, &bdy, 1, &padded) && t_guarded_alloc(r->g, &bdx, 1, &padded) &&
           t_guarded_alloc(r->g, &bz, 1, &padded);
  T_CHECK(ok, "guarded allocation: %s", dlc_ctx_error(r->g));
  t_guarded_upload(r->g, &bx, x);
  t_guarded_upload(r->g, &bdy, dy);
  dlc_tensor vx = view(r->g, bx.t.data, off, 2, shape), vy = view(r->g, by.t.data, off, 2, shape);
  dlc_tensor vdy = view(r->g, bdy.t.data, off, 2, shape), vdx = view(r->g, bdx.t.data, off, 2, shape);
  dlc_tensor vz = view(r->g, bz.t.data, off, 2, shape);
  dlc_tensor hx = view(r->c, x, off, 2, shape), hy = view(r->c, ref, off, 2, shape);
  dlc_tensor hdy = view(r->c, dy, off, 2, shape), hd = view(r->c, hdx, 0, 2, shape);
  for (int lg = 0; lg < 2; lg++) {
    const char *name = lg ? "log_softmax" : "softmax";
    char out[64];
    snprintf(out, sizeof out, "%s fwd off=%lld", name, (long long)off);
    T_OK(r->c, dlc_op_softmax_fwd(r->c, lg, &hx, &hy));
    T_OK(r->g, dlc_op_softmax_fwd(r->g, lg, &vx, &vy));
    t_guarded_download(r->g, &by, got, label(r, out));
    T_CHECK(untouched(got, off), "%s: wrote before the view", label(r, out));
    compare(r, out, ref + off, got + off, n, r->k->tol[lg]);

    t_guarded_upload(r->g, &bz, x);
    T_OK(r->g, dlc_op_softmax_fwd(r->g, lg, &vz, &vz));
    snprintf(out, sizeof out, "%s in place off=%lld", name, (long long)off);
    if (t_guarded_download(r->g, &bz, gz, label(r, out))) compare_bits(r, out, got + off, gz + off, n, 0);

    /* Backward from the same y (the CPU's) on both sides, accumulating onto dx0. */
    t_guarded_upload(r->g, &by, ref);
    t_guarded_upload(r->g, &bdx, dx0);
    memcpy(hdx, dx0 + off, (size_t)n * 4);
    T_OK(r->c, dlc_op_softmax_bwd(r->c, lg, &hy, &hdy, &hd));
    T_OK(r->g, dlc_op_softmax_bwd(r->g, lg, &vy, &vdy, &vdx));
    snprintf(out, sizeof out, "%s bwd off=%lld", name, (long long)off);
    t_guarded_download(r->g, &bdx, gdx, label(r, out));
    T_CHECK(off == 0 || memcmp(gdx, dx0, (size_t)off * 4) == 0, "%s: wrote before the view", label(r, out));
    compare(r, out, hdx, gdx + off, n, r->k->tol[2]);
  }
  t_guarded_free(r->g, &bx); t_guarded_free(r->g, &by); t_guarded_free(r->g, &bdy);
  t_guarded_free(r->g, &bdx); t_guarded_free(r->g, &bz);
  free(x); free(dy); free(dx0); free(ref); free(got); free(gdx); free(hdx); free(gz);
}

static void run_softmax(run *r) {
  for (int64_t off = 0; off < 3; off++)
    if (r->k->softmax.offsets & (1 << off)) softmax_at(r, off);
}

/* ---------------------------------------------------------------- cross-entropy */

typedef struct xent_setup {
  int weighted;
  float eps;
  int ignore;
  dlc_reduction red;
} xent_setup;

static void xent_variant(run *r, xent_setup s) {
  const int bad_label = r->k->xent.bad_label;
  const int64_t rows = r->k->xent.rows, C = r->k->xent.cols, n = rows * C, one = 1;
  const int64_t shape[2] = {rows, C};
  float *x = malloc((size_t)n * 4), *w = malloc((size_t)C * 4), *dx0 = malloc((size_t)n * 4);
  float *gdx = malloc((size_t)n * 4), *gdx2 = malloc((size_t)n * 4);
  int32_t *lab = malloc((size_t)rows * 4);
  t_fill_uniform(x, n, 77 + (uint64_t)C, -6, 6);
  t_fill_uniform(w, C, 78, 0.2f, 2.f);
  t_fill_uniform(dx0, n, 79, -1, 1);
  for (int64_t i = 0; i < rows; i++) lab[i] = i % 7 == 3 ? s.ignore : (int32_t)((i * 131 + 5) % C);
  if (bad_label) lab[rows / 2] = (int32_t)C;
  dlc_device dev = dlc_ctx_device(r->g);
  dlc_tensor dlab, dw, hlab, hw, hx;
  t_pair *lp = in(r, 2, shape, 0, 1), *rw = in(r, 1, &rows, 0, 1), *dx = in(r, 2, shape, 0, 1);
  t_guarded bx, bloss;
  int ok = t_guarded_alloc(r->g, &bx, 2, shape) && t_guarded_alloc(r->g, &bloss, 1, &one) &&
           dlc_tensor_alloc(r->g, &dlab, DLC_I32, 1, &rows, dev) == DLC_OK &&
           dlc_tensor_alloc(r->g, &dw, DLC_F32, 1, &C, dev) == DLC_OK;
  T_CHECK(ok, "allocation: %s", dlc_ctx_error(r->g));
  /* The outputs start poisoned on the device. */
  poison(r->g, &lp->d);
  poison(r->g, &rw->d);
  t_guarded_upload(r->g, &bx, x);
  T_OK(r->g, dlc_tensor_upload(r->g, &dlab, lab, (size_t)rows * 4));
  T_OK(r->g, dlc_tensor_upload(r->g, &dw, w, (size_t)C * 4));
  hx = view(r->c, x, 0, 2, shape);
  dlc_tensor_borrow(r->c, &hlab, lab, DLC_I32, 1, &rows, cpu);
  dlc_tensor_borrow(r->c, &hw, w, DLC_F32, 1, &C, cpu);
  float hl = 0, gl = 0, gl2 = 0;
  dlc_tensor hloss = view(r->c, &hl, 0, 1, &one);
  dlc_xent_opts og = dlc_xent_opts_default(), oc = og;
  og.class_weight = s.weighted ? &dw : NULL;
  oc.class_weight = s.weighted ? &hw : NULL;
  og.label_smoothing = oc.label_smoothing = s.eps;
  og.ignore_index = oc.ignore_index = s.ignore;
  og.reduction = oc.reduction = s.red;

  char v[64], out[96];
  snprintf(v, sizeof v, "w=%d eps=%g ignore=%d %s", s.weighted, (double)s.eps, s.ignore,
           s.red == DLC_REDUCE_MEAN ? "mean" : "sum");
  snprintf(out, sizeof out, "%s loss", v);
  if (bad_label && !on_cuda(r->g)) {
    /* The CPU's answer to a label out of range (with --cpu-self-test): an error. */
    T_FAILS(r->g, DLC_ERR_INVALID_ARG, "outside", dlc_op_softmax_xent_fwd(r->g, &bx.t, &dlab, &og, &lp->d.t, &rw->d.t, &bloss.t));
    goto done;
  }
  T_OK(r->g, dlc_op_softmax_xent_fwd(r->g, &bx.t, &dlab, &og, &lp->d.t, &rw->d.t, &bloss.t));
  t_guarded_download(r->g, &bloss, &gl, label(r, out));
  if (bad_label) {
    /* The documented device answer to a label out of range: a NaN loss. */
    printf("%-60s %g\n", label(r, out), gl);
    T_CHECK(isnan(gl), "%s %g, NaN expected", label(r, out), gl);
    goto done;
  }
  T_OK(r->c, dlc_op_softmax_xent_fwd(r->c, &hx, &hlab, &oc, &lp->h, &rw->h, &hloss));
  printf("%-60s cpu %.9g device %.9g\n", label(r, out), hl, gl);
  const double tl = r->k->tol[2].abs * fmax(1.0, fabs((double)hl));
  T_CHECK((isnan(hl) && isnan(gl)) || fabs((double)gl - hl) <= tl, "%s: cpu %.9g device %.9g, limit %g",
          label(r, out), hl, gl, tl);
  snprintf(out, sizeof out, "%s logp", v); check(r, lp, out, r->k->tol[0]);
  snprintf(out, sizeof out, "%s row_w", v); check(r, rw, out, (oc_tol){0, 0});

  /* Run again: the same bits (fixed-order sums, no atomics). */
  T_OK(r->g, dlc_op_softmax_xent_fwd(r->g, &bx.t, &dlab, &og, &lp->d.t, &rw->d.t, &bloss.t));
  snprintf(out, sizeof out, "%s loss rerun", v);
  t_guarded_download(r->g, &bloss, &gl2, label(r, out));
  compare_bits(r, out, &gl, &gl2, 1, 0);

  /* Backward from the CPU's logp on both sides, accumulating onto dx0, dloss = 0.75; twice
   * on the device, the same bits. */
  t_guarded_upload(r->g, &lp->d, lp->h.data);
  for (int k = 0; k < 2; k++) {
    t_guarded_upload(r->g, &dx->d, dx0);
    T_OK(r->g, dlc_op_softmax_xent_bwd(r->g, &lp->d.t, &dlab, &rw->d.t, &og, 0.75f, &dx->d.t));
    snprintf(out, sizeof out, "%s dlogits", v);
    t_guarded_download(r->g, &dx->d, k ? gdx2 : gdx, label(r, out));
  }
  snprintf(out, sizeof out, "%s dlogits rerun", v);
  compare_bits(r, out, gdx, gdx2, n, 0);
  memcpy(dx->h.data, dx0, (size_t)n * 4);
  T_OK(r->c, dlc_op_softmax_xent_bwd(r->c, &lp->h, &hlab, &rw->h, &oc, 0.75f, &dx->h));
  snprintf(out, sizeof out, "%s dlogits", v);
  compare(r, out, dx->h.data, gdx, n, r->k->tol[1]);

done:
  t_guarded_free(r->g, &bx); t_guarded_free(r->g, &bloss);
  dlc_tensor_free(r->g, &dlab); dlc_tensor_free(r->g, &dw);
  pairs_free(r);
  free(x); free(w); free(dx0); free(gdx); free(gdx2); free(lab);
}

/* Class weights, label smoothing, ignore_index and the reduction vary independently
 * (smoothing without class weights on the multi-block path once gave W = 1024 C: the
 * emulated device's first find). */
static void run_xent(run *r) {
  if (r->k->xent.bad_label) {
    xent_variant(r, (xent_setup){1, 0.1f, -100, r->k->xent.red});
    return;
  }
  for (int v = 0; v < 8; v++)
    xent_variant(r, (xent_setup){v & 1, v & 4 ? 0.1f : 0.f, v == 2 ? 0 : -100,
                                 v & 2 ? DLC_REDUCE_SUM : DLC_REDUCE_MEAN});
}

/* ---------------------------------------------------------------- MSE */

static void run_mse(run *r) {
  const int64_t n = r->k->n, one = 1;
  for (int64_t off = 0; off < 2; off++) {
    const int64_t padded = n + off;
    float *x = malloc((size_t)padded * 4), *t = malloc((size_t)padded * 4);
    float *dx0 = malloc((size_t)padded * 4), *hdx = malloc((size_t)n * 4);
    float *gdx = malloc((size_t)padded * 4);
    t_fill_uniform(x, padded, r->seed++, -3, 3);
    t_fill_uniform(t, padded, r->seed++, -3, 3);
    t_fill_uniform(dx0, padded, r->seed++, -1, 1);
    t_guarded bx, bt, bdx, bl;
    T_CHECK(t_guarded_alloc(r->g, &bx, 1, &padded) && t_guarded_alloc(r->g, &bt, 1, &padded) &&
                t_guarded_alloc(r->g, &bdx, 1, &padded) && t_guarded_alloc(r->g, &bl, 1, &one),
            "alloc");
    t_guarded_upload(r->g, &bx, x);
    t_guarded_upload(r->g, &bt, t);
    dlc_tensor vx = view(r->g, bx.t.data, off, 1, &n), vt = view(r->g, bt.t.data, off, 1, &n);
    dlc_tensor vdx = view(r->g, bdx.t.data, off, 1, &n);
    dlc_tensor hx = view(r->c, x, off, 1, &n), ht = view(r->c, t, off, 1, &n), hd = view(r->c, hdx, 0, 1, &n);
    for (int red = 0; red < 2; red++) {
      char out[64];
      snprintf(out, sizeof out, "%s off=%lld loss", red ? "sum" : "mean", (long long)off);
      float hl = 0, gl = 0;
      dlc_tensor hloss = view(r->c, &hl, 0, 1, &one);
      T_OK(r->c, dlc_op_mse_fwd(r->c, &hx, &ht, (dlc_reduction)red, &hloss));
      T_OK(r->g, dlc_op_mse_fwd(r->g, &vx, &vt, (dlc_reduction)red, &bl.t));
      t_guarded_download(r->g, &bl, &gl, label(r, out));
      printf("%-60s cpu %.9g device %.9g\n", label(r, out), hl, gl);
      const double tl = r->k->tol[0].abs * fabs((double)hl);
      T_CHECK(fabs((double)gl - hl) <= tl, "%s: cpu %.9g device %.9g, limit %g", label(r, out), hl, gl, tl);
      t_guarded_upload(r->g, &bdx, dx0);
      memcpy(hdx, dx0 + off, (size_t)n * 4);
      T_OK(r->c, dlc_op_mse_bwd(r->c, &hx, &ht, (dlc_reduction)red, 1.5f, &hd));
      T_OK(r->g, dlc_op_mse_bwd(r->g, &vx, &vt, (dlc_reduction)red, 1.5f, &vdx));
      snprintf(out, sizeof out, "%s off=%lld dx", red ? "sum" : "mean", (long long)off);
      t_guarded_download(r->g, &bdx, gdx, label(r, out));
      T_CHECK(off == 0 || gdx[0] == dx0[0], "%s: wrote before the view", label(r, out));
      compare(r, out, hdx, gdx + off, n, r->k->tol[1]);
    }
    t_guarded_free(r->g, &bx); t_guarded_free(r->g, &bt); t_guarded_free(r->g, &bdx);
    t_guarded_free(r->g, &bl);
    free(x); free(t); free(dx0); free(hdx); free(gdx);
  }
}

/* ---------------------------------------------------------------- pooling */

/* Forward (max: the argmax bit for bit, ties and NaN included), backward accumulating. */
static void run_pool(run *r) {
  const oc_pool *q = &r->k->pool;
  dlc_pool2d_params p = dlc_pool2d_params_make(q->mode, q->kh, q->kw);
  p.stride_h = q->sh; p.stride_w = q->sw;
  p.pad_h = q->ph; p.pad_w = q->pw;
  p.ceil_mode = q->ceil_mode;
  p.count_include_pad = q->count_include_pad;
  dlc_pool2d_state s;
  T_OK(r->c, dlc_pool2d_init(r->c, &s, &p, q->c, q->h, q->w));
  const int64_t xs[4] = {q->n, q->c, q->h, q->w}, ys[4] = {q->n, q->c, s.out_h, s.out_w};
  const int max = q->mode == DLC_POOL_MAX;
  t_pair *x = in(r, 4, xs, -2, 2), *dx = in(r, 4, xs, -1, 1), *y = nan_pair(r, 4, ys), *dy = in(r, 4, ys, -1, 1);
  t_pair *am = nan_pair(r, 4, ys);
  /* Ties and NaN: max must pick the same element on both devices. */
  if (max && x->h.numel > 40) {
    float *xh = x->h.data;
    for (int64_t i = 0; i < x->h.numel; i += 37) xh[i] = 1.5f;
    xh[5] = NAN;
    xh[x->h.numel - 3] = -INFINITY;
    t_guarded_upload(r->g, &x->d, xh);
  }
  /* The argmax as int32 views of float buffers (the same element size). */
  dlc_tensor amd, amh;
  dlc_tensor_borrow(r->g, &amd, am->d.t.data, DLC_I32, 4, ys, dlc_ctx_device(r->g));
  dlc_tensor_borrow(r->c, &amh, am->h.data, DLC_I32, 4, ys, cpu);
  T_OK(r->g, dlc_pool2d_forward(r->g, &s, &x->d.t, &y->d.t, max ? &amd : NULL));
  T_OK(r->c, dlc_pool2d_forward(r->c, &s, &x->h, &y->h, max ? &amh : NULL));
  check(r, y, "y", r->k->tol[0]);
  if (max && t_guarded_download(r->g, &am->d, am->back, label(r, "argmax")))
    compare_bits(r, "argmax", am->h.data, am->back, am->h.numel, 1);
  /* Backward from the same argmax on both sides. */
  T_OK(r->g, dlc_pool2d_backward(r->g, &s, &dy->d.t, max ? &amd : NULL, &dx->d.t));
  T_OK(r->c, dlc_pool2d_backward(r->c, &s, &dy->h, max ? &amh : NULL, &dx->h));
  check(r, dx, "dx (accumulated)", r->k->tol[1]);
}

/* ---------------------------------------------------------------- normalisation */

/* Training forward (output, saved and running statistics), evaluation forward, backward. */
static void run_batchnorm(run *r) {
  const int64_t shape[4] = {r->k->bn.n, r->k->bn.c, r->k->bn.h, r->k->bn.w};
  const int64_t C = r->k->bn.c, two_c = dlc_bn_scratch_floats(C);
  const int nd = r->k->bn.h == 1 && r->k->bn.w == 1 ? 2 : 4;
  t_pair *x = in(r, nd, shape, -3, 5), *y = in(r, nd, shape, 0, 1), *dy = in(r, nd, shape, -1, 1);
  t_pair *dx = in(r, nd, shape, -1, 1), *gm = in(r, 1, &C, 0.5f, 1.5f), *bt = in(r, 1, &C, -1, 1);
  t_pair *rm = in(r, 1, &C, -0.1f, 0.1f), *rv = in(r, 1, &C, 0.5f, 1.5f), *sm = in(r, 1, &C, 0, 1);
  t_pair *si = in(r, 1, &C, 0, 1), *dg = in(r, 1, &C, -1, 1), *db = in(r, 1, &C, -1, 1);
  t_pair *sc = in(r, 1, &two_c, 0, 1);
  for (int train = 1; train >= 0; train--) {
    T_OK(r->g, dlc_op_batchnorm_fwd(r->g, &x->d.t, &gm->d.t, &bt->d.t, &rm->d.t, &rv->d.t, 0.1f, 1e-5f, train,
                                    &sm->d.t, &si->d.t, &y->d.t, &sc->d.t));
    T_OK(r->c, dlc_op_batchnorm_fwd(r->c, &x->h, &gm->h, &bt->h, &rm->h, &rv->h, 0.1f, 1e-5f, train, &sm->h,
                                    &si->h, &y->h, &sc->h));
    check(r, y, train ? "train y" : "eval y", r->k->tol[0]);
    check(r, si, train ? "train invstd" : "eval invstd", r->k->tol[0]);
    check(r, rv, train ? "train running_var" : "eval running_var", r->k->tol[0]);
  }
  T_OK(r->g, dlc_op_batchnorm_fwd(r->g, &x->d.t, &gm->d.t, &bt->d.t, &rm->d.t, &rv->d.t, 0.1f, 1e-5f, 1, &sm->d.t,
                                  &si->d.t, &y->d.t, &sc->d.t));
  T_OK(r->c, dlc_op_batchnorm_fwd(r->c, &x->h, &gm->h, &bt->h, &rm->h, &rv->h, 0.1f, 1e-5f, 1, &sm->h, &si->h,
                                  &y->h, &sc->h));
  T_OK(r->g, dlc_op_batchnorm_bwd(r->g, &x->d.t, &gm->d.t, &sm->d.t, &si->d.t, &dy->d.t, &dx->d.t, &dg->d.t,
                                  &db->d.t, &sc->d.t));
  T_OK(r->c, dlc_op_batchnorm_bwd(r->c, &x->h, &gm->h, &sm->h, &si->h, &dy->h, &dx->h, &dg->h, &db->h, &sc->h));
  check(r, dx, "bwd dx", r->k->tol[1]);
  /* dgamma and dbeta are sums of M = N*S terms of magnitude <= 2 (|dy| <= 1, |xhat| <~ 2),
   * in float on the CPU in an order its vector width decides: a bound that grows with M. */
  oc_tol ts = r->k->tol[2];
  ts.abs += 1e-6 * (double)(r->k->bn.n * r->k->bn.h * r->k->bn.w);
  check(r, dg, "bwd dgamma", ts);
  check(r, db, "bwd dbeta", ts);
}

/* Forward (output and saved statistics) and backward (dx, dweight, dbias), with and
 * without weight and bias. */
static void run_layernorm(run *r) {
  const int64_t R = r->k->mat.rows, D = r->k->mat.cols, xs[2] = {R, D};
  const int64_t scratch = dlc_op_layernorm_scratch_floats(D);
  for (int affine = 1; affine >= 0; affine--) {
    t_pair *x = in(r, 2, xs, -3, 5), *y = in(r, 2, xs, 0, 1), *dy = in(r, 2, xs, -1, 1), *dx = in(r, 2, xs, -1, 1);
    t_pair *w = in(r, 1, &D, 0.5f, 1.5f), *b = in(r, 1, &D, -1, 1), *m = in(r, 1, &R, 0, 1), *rs = in(r, 1, &R, 0, 1);
    t_pair *dw = in(r, 1, &D, -1, 1), *db = in(r, 1, &D, -1, 1), *sc = in(r, 1, &scratch, 0, 1);
    const dlc_tensor *wg = affine ? &w->d.t : NULL, *bg = affine ? &b->d.t : NULL;
    const dlc_tensor *wc = affine ? &w->h : NULL, *bc = affine ? &b->h : NULL;
    T_OK(r->g, dlc_op_layernorm_fwd(r->g, &x->d.t, D, wg, bg, 1e-5f, &y->d.t, &m->d.t, &rs->d.t));
    T_OK(r->c, dlc_op_layernorm_fwd(r->c, &x->h, D, wc, bc, 1e-5f, &y->h, &m->h, &rs->h));
    /* Short rows can have a small spread and so a large 1/std, which scales the errors of
     * rstd and dx (each side's mean and variance round differently). */
    double max_rstd = fmax(1, t_max_abs(rs->h.data, R));
    oc_tol trs = r->k->tol[1], tdx = r->k->tol[2];
    trs.abs *= max_rstd;
    tdx.abs *= max_rstd;
    check(r, y, affine ? "affine y" : "y", r->k->tol[0]);
    check(r, m, affine ? "affine mean" : "mean", r->k->tol[1]);
    check(r, rs, affine ? "affine rstd" : "rstd", trs);
    T_OK(r->g, dlc_op_layernorm_bwd(r->g, &x->d.t, D, wg, &m->d.t, &rs->d.t, &dy->d.t, &dx->d.t,
                                    affine ? &dw->d.t : NULL, affine ? &db->d.t : NULL, &sc->d.t));
    T_OK(r->c, dlc_op_layernorm_bwd(r->c, &x->h, D, wc, &m->h, &rs->h, &dy->h, &dx->h, affine ? &dw->h : NULL,
                                    affine ? &db->h : NULL, NULL));
    check(r, dx, affine ? "affine dx" : "dx", tdx);
    if (affine) {
      /* Column sums of R terms of magnitude <= ~3 (|dy| <= 1, |xhat| <~ 3) in another order
       * on each side: a bound that grows with R. */
      oc_tol tp = r->k->tol[3];
      tp.abs += 2e-6 * (double)R;
      check(r, dw, "dweight", tp);
      check(r, db, "dbias", tp);
    }
    pairs_free(r);
  }
}

/* ---------------------------------------------------------------- optimizers */

/* Three steps of the row's optimizer, with and without clipping (the gradient's norm is
 * about 0.58 at 1M elements of +-1e-3: a limit of 0.1 acts). */
static void run_optim(run *r) {
  const int64_t n = r->k->optim.n;
  for (int clip = 0; clip < 2; clip++) {
    t_pair *p = in(r, 1, &n, -1, 1), *gr = in(r, 1, &n, -1e-3f, 1e-3f);
    dlc_optim_options o = dlc_optim_options_default();
    o.kind = r->k->optim.kind;
    o.lr = o.kind == DLC_OPT_SGD ? 0.1f : 1e-3f;
    o.momentum = o.kind == DLC_OPT_SGD ? 0.9f : 0.f;
    o.nesterov = o.kind == DLC_OPT_SGD;
    o.weight_decay = 0.01f;
    o.clip_norm = clip ? 0.1f : 0.f;
    dlc_optim *og = NULL, *oc = NULL;
    T_OK(r->g, dlc_optim_create(r->g, &o, n, &og));
    T_OK(r->c, dlc_optim_create(r->c, &o, n, &oc));
    for (int t = 0; og && oc && t < 3; t++) {
      T_OK(r->g, dlc_optim_step(og, &p->d.t, &gr->d.t));
      T_OK(r->c, dlc_optim_step(oc, &p->h, &gr->h));
    }
    check(r, p, clip ? "clip 0.1, 3 steps" : "3 steps", r->k->tol[0]);
    dlc_optim_destroy(og);
    dlc_optim_destroy(oc);
    pairs_free(r);
  }
}

/* Clipping by the global norm of three tensors (the norm too), then by value. */
static void run_clip(run *r) {
  t_pair *p[3];
  for (int i = 0; i < 3; i++) p[i] = in(r, 1, &r->k->clip.n[i], -1, 1);
  const int64_t wn = DLC_CLIP_NORM_WORK;
  t_pair *work = nan_pair(r, 1, &wn);
  dlc_tensor *hs[3] = {&p[0]->h, &p[1]->h, &p[2]->h}, *ds[3] = {&p[0]->d.t, &p[1]->d.t, &p[2]->d.t};
  float nh = 0, nd = 0;
  T_OK(r->c, dlc_op_clip_grad_norm(r->c, hs, 3, 10.f, &work->h, &nh));
  T_OK(r->g, dlc_op_clip_grad_norm(r->g, ds, 3, 10.f, &work->d.t, &nd));
  printf("%-60s cpu %.7g device %.7g\n", label(r, "norm"), nh, nd);
  T_CHECK(fabsf(nh - nd) <= r->k->tol[1].abs * nh, "%s: cpu %g device %g", label(r, "norm"), nh, nd);
  char out[64];
  for (int i = 0; i < 3; i++) {
    snprintf(out, sizeof out, "by norm [%d]", i);
    check(r, p[i], out, r->k->tol[0]);
  }
  for (int i = 0; i < 3; i++) t_guarded_upload(r->g, &p[i]->d, p[i]->h.data); /* isolate clip by value */
  T_OK(r->c, dlc_op_clip_grad_value(r->c, hs, 3, 0.003f));
  T_OK(r->g, dlc_op_clip_grad_value(r->g, ds, 3, 0.003f));
  for (int i = 0; i < 3; i++) {
    snprintf(out, sizeof out, "by value [%d]", i);
    check(r, p[i], out, (oc_tol){0, 0});
  }
}

/* ---------------------------------------------------------------- conv building blocks */

static float *dptr(t_pair *p) { return p->d.t.data; }

/* im2col in both layouts and col2im: the same index math, bit for bit. */
static void run_im2col(run *r) {
  const oc_im2col *q = &r->k->im2col;
  const int dev = on_cuda(r->g);
  dlc_conv_geom gm = {q->n, q->c, q->h, q->w, q->kh, q->kw, q->sh, q->sw, q->ph, q->pw, q->dh, q->dw, 0, 0};
  gm.OH = (gm.H + 2 * gm.PH - gm.DH * (gm.KH - 1) - 1) / gm.SH + 1;
  gm.OW = (gm.W + 2 * gm.PW - gm.DW * (gm.KW - 1) - 1) / gm.SW + 1;
  const int64_t xn = (int64_t)gm.N * gm.C * gm.H * gm.W, coln = (int64_t)gm.N * gm.C * gm.KH * gm.KW * gm.OH * gm.OW;
  t_pair *x = in(r, 1, &xn, -1, 1), *col = in(r, 1, &coln, -1, 1), *colt = in(r, 1, &coln, -1, 1);
  t_pair *dx = in(r, 1, &xn, -1, 1);
  const oc_tol exact = {0, 0};
  T_OK(r->g, dlc_im2col_run(r->g, dev, 0, gm, dptr(x), dptr(col)));
  T_OK(r->c, dlc_im2col_run(r->c, 0, 0, gm, x->h.data, col->h.data));
  check(r, col, "im2col", exact);
  T_OK(r->g, dlc_im2col_run(r->g, dev, 1, gm, dptr(x), dptr(colt)));
  T_OK(r->c, dlc_im2col_run(r->c, 0, 1, gm, x->h.data, colt->h.data));
  check(r, colt, "im2col transposed", exact);
  /* col2im gathers a fresh column buffer into dx (accumulating); the same order of
   * additions on both devices. */
  t_fill_uniform(col->h.data, coln, r->seed++, -1, 1);
  t_guarded_upload(r->g, &col->d, col->h.data);
  T_OK(r->g, dlc_col2im_run(r->g, dev, gm, dptr(col), dptr(dx)));
  T_OK(r->c, dlc_col2im_run(r->c, 0, gm, col->h.data, dx->h.data));
  check(r, dx, "col2im", exact);
}

/* NCHW to CNHW, the channel bias, the tile, and per-channel sums: short segments (a warp
 * each) and long ones (a block each), accumulating and not, then as plane means, twice
 * the same bits. */
static void run_channel(run *r) {
  const int N = r->k->channel.n, C = r->k->channel.c, P = r->k->channel.p, dev = on_cuda(r->g);
  const int64_t n = (int64_t)N * C * P, cc = C, nc = (int64_t)N * C;
  t_pair *x = in(r, 1, &n, -1, 1), *out = in(r, 1, &n, -1, 1), *b = in(r, 1, &cc, -1, 1), *y = in(r, 1, &n, -1, 1);
  t_pair *planes = in(r, 1, &nc, -1, 1);
  const oc_tol exact = {0, 0};
  T_OK(r->g, dlc_nchw_to_cnhw_run(r->g, dev, N, C, P, dptr(x), dptr(out)));
  T_OK(r->c, dlc_nchw_to_cnhw_run(r->c, 0, N, C, P, x->h.data, out->h.data));
  check(r, out, "nchw_to_cnhw", exact);
  T_OK(r->g, dlc_channel_bias_run(r->g, dev, dptr(b), dptr(y), N, C, P));
  T_OK(r->c, dlc_channel_bias_run(r->c, 0, b->h.data, y->h.data, N, C, P));
  check(r, y, "channel_bias", exact);
  /* The tile of b, N*P times (the output buffer is large enough). */
  T_OK(r->g, dlc_tile_run(r->g, dev, dptr(b), C, N * P, dptr(out)));
  T_OK(r->c, dlc_tile_run(r->c, 0, b->h.data, C, N * P, out->h.data));
  check(r, out, "tile", exact);
  for (int acc = 0; acc < 2; acc++) {
    T_OK(r->g, dlc_channel_sum_run(r->g, dev, dptr(x), dptr(b), N, C, P, (int64_t)C * P, 1.f, acc));
    T_OK(r->c, dlc_channel_sum_run(r->c, 0, x->h.data, b->h.data, N, C, P, (int64_t)C * P, 1.f, acc));
    check(r, b, acc ? "channel_sum accumulating" : "channel_sum", r->k->tol[0]);
  }
  T_OK(r->g, dlc_channel_sum_run(r->g, dev, dptr(x), dptr(planes), 1, nc, P, 0, (float)P, 0));
  T_OK(r->c, dlc_channel_sum_run(r->c, 0, x->h.data, planes->h.data, 1, nc, P, 0, (float)P, 0));
  check(r, planes, "plane means", r->k->tol[1]);
  float *first = malloc((size_t)nc * 4);
  if (t_guarded_download(r->g, &planes->d, first, label(r, "plane means (first)"))) {
    T_OK(r->g, dlc_channel_sum_run(r->g, dev, dptr(x), dptr(planes), 1, nc, P, 0, (float)P, 0));
    if (t_guarded_download(r->g, &planes->d, planes->back, label(r, "plane means rerun")))
      compare_bits(r, "plane means rerun", first, planes->back, nc, 0);
  }
  free(first);
}

/* ---------------------------------------------------------------- whole convolutions */

static dlc_conv2d_params conv_params(const op_case *k, dlc_conv_algo algo) {
  dlc_conv2d_params p = dlc_conv2d_params_make(k->conv.c, k->conv.o, k->conv.kh, k->conv.kw);
  p.stride_h = k->conv.sh; p.stride_w = k->conv.sw;
  p.pad_h = k->conv.ph; p.pad_w = k->conv.pw;
  p.dilation_h = k->conv.dh; p.dilation_w = k->conv.dw;
  p.groups = k->conv.g;
  p.algo = algo;
  return p;
}

typedef struct conv_bufs {
  t_pair *x, *w, *b, *dy, *y, *dx, *dw, *db;
} conv_bufs;

static conv_bufs conv_alloc(run *r, int64_t oh, int64_t ow) {
  const oc_conv *k = &r->k->conv;
  const int64_t xs[4] = {k->n, k->c, k->h, k->w}, ws[4] = {k->o, k->c / k->g, k->kh, k->kw};
  const int64_t ys[4] = {k->n, k->o, oh, ow};
  conv_bufs v = {in(r, 4, xs, -1, 1), in(r, 4, ws, -0.3f, 0.3f), in(r, 1, &k->o, -0.5f, 0.5f),
                 in(r, 4, ys, -1, 1), nan_pair(r, 4, ys), in(r, 4, xs, -1, 1), in(r, 4, ws, -1, 1),
                 in(r, 1, &k->o, -1, 1)};
  return v;
}

static dlc_tensor alloc_ws(dlc_ctx *ctx, const dlc_conv2d_state *s) {
  dlc_tensor t;
  memset(&t, 0, sizeof t);
  int64_t n = (int64_t)((dlc_conv2d_workspace_bytes(s) + 3) / 4);
  if (n > 0) T_OK(ctx, dlc_tensor_alloc(ctx, &t, DLC_F32, 1, &n, dlc_ctx_device(ctx)));
  return t;
}

/* Forward and both backwards with state s on r->g, the references with hs on the CPU;
 * the accumulated gradients start from the same values on both sides. */
static void conv_compare(run *r, dlc_conv2d_state *s, dlc_conv2d_state *hs, conv_bufs *v, const char *variant,
                         oc_tol tol) {
  dlc_ctx *g = r->g, *c = r->c;
  dlc_tensor ws = alloc_ws(g, s), hws = alloc_ws(c, hs);
  dlc_tensor *wsp = ws.data ? &ws : NULL, *hwsp = hws.data ? &hws : NULL;
  t_pair *grads[3] = {v->dx, v->dw, v->db};
  for (int i = 0; i < 3; i++) {
    t_fill_uniform(grads[i]->h.data, grads[i]->h.numel, r->seed++, -1, 1);
    t_guarded_upload(g, &grads[i]->d, grads[i]->h.data);
  }
  T_OK(g, dlc_conv2d_forward(g, s, &v->x->d.t, &v->w->d.t, &v->b->d.t, &v->y->d.t, wsp));
  T_OK(c, dlc_conv2d_forward(c, hs, &v->x->h, &v->w->h, &v->b->h, &v->y->h, hwsp));
  T_OK(g, dlc_conv2d_backward_data(g, s, &v->dy->d.t, &v->w->d.t, &v->dx->d.t, wsp));
  T_OK(c, dlc_conv2d_backward_data(c, hs, &v->dy->h, &v->w->h, &v->dx->h, hwsp));
  T_OK(g, dlc_conv2d_backward_weights(g, s, &v->x->d.t, &v->dy->d.t, &v->dw->d.t, &v->db->d.t, wsp));
  T_OK(c, dlc_conv2d_backward_weights(c, hs, &v->x->h, &v->dy->h, &v->dw->h, &v->db->h, hwsp));
  /* The absolute limits grow with what each output sums (t_sum_tol), with conv_alloc's
   * ranges (|x|, |dy| <= 1, |w| <= 0.3, |b| <= 0.5) and the starting values (|.| <= 1) the
   * gradients accumulate onto: y sums C/g*kh*kw products, dx O/g*kh*kw, dw and db
   * N*Ho*Wo. */
  const dlc_conv2d_params *p = &hs->p;
  const int64_t taps = p->kernel_h * p->kernel_w, px = r->k->conv.n * hs->out_h * hs->out_w;
  const oc_tol ty = widen(tol, t_sum_tol(p->in_channels / p->groups * taps + 1, 0.5)),
               tdx = widen(tol, t_sum_tol(p->out_channels / p->groups * taps + 2, 1.0)),
               tdw = widen((oc_tol){tol.nse, tol.abs * 10}, t_sum_tol(px + 2, 1.0));
  char out[192];
  snprintf(out, sizeof out, "%s y", variant); check(r, v->y, out, ty);
  snprintf(out, sizeof out, "%s dx", variant); check(r, v->dx, out, tdx);
  snprintf(out, sizeof out, "%s dw", variant); check(r, v->dw, out, tdw);
  snprintf(out, sizeof out, "%s db", variant); check(r, v->db, out, tdw);
  dlc_tensor_free(g, &ws);
  dlc_tensor_free(c, &hws);
}

/* The im2col path; a second pass allocates no device memory. */
static void run_conv(run *r) {
  const oc_conv *q = &r->k->conv;
  dlc_conv2d_params p = conv_params(r->k, DLC_CONV_IM2COL);
  dlc_conv2d_state *s = NULL, *hs = NULL;
  T_OK(r->g, dlc_conv2d_create(r->g, &p, q->n, q->h, q->w, &s));
  T_OK(r->c, dlc_conv2d_create(r->c, &p, q->n, q->h, q->w, &hs));
  if (s && hs) {
    conv_bufs v = conv_alloc(r, s->out_h, s->out_w);
    conv_compare(r, s, hs, &v, "im2col", r->k->tol[0]);
    dlc_tensor ws = alloc_ws(r->g, s);
    dlc_tensor *wsp = ws.data ? &ws : NULL;
    dlc_memory_stats before = dlc_ctx_memory_stats(r->g);
    T_OK(r->g, dlc_conv2d_forward(r->g, s, &v.x->d.t, &v.w->d.t, &v.b->d.t, &v.y->d.t, wsp));
    T_OK(r->g, dlc_conv2d_backward_data(r->g, s, &v.dy->d.t, &v.w->d.t, &v.dx->d.t, wsp));
    T_OK(r->g, dlc_conv2d_backward_weights(r->g, s, &v.x->d.t, &v.dy->d.t, &v.dw->d.t, &v.db->d.t, wsp));
    dlc_memory_stats after = dlc_ctx_memory_stats(r->g);
    T_CHECK(after.device_mallocs == before.device_mallocs && after.bytes_in_use == before.bytes_in_use,
            "%s: a step allocated (%llu -> %llu mallocs)", label(r, "im2col"),
            (unsigned long long)before.device_mallocs, (unsigned long long)after.device_mallocs);
    dlc_tensor_free(r->g, &ws);
  }
  dlc_conv2d_destroy(r->g, s);
  dlc_conv2d_destroy(r->c, hs);
}

/* ---------------------------------------------------------------- recurrent layers */

/* Forward (training, and inference into freshly poisoned outputs), the whole reserve it
 * keeps, and backward accumulating into random gradients; every device buffer, the
 * workspace and the reserve included, guarded and starting poisoned. A training step
 * performs no device allocation. */
static void run_rnn(run *r) {
  const oc_rnn *k = &r->k->rnn;
  const int lstm = k->mode == DLC_RNN_LSTM;
  const int64_t L = k->layers, T = k->T, N = k->N, F = k->F, H = k->H;
  dlc_rnn_desc d = dlc_rnn_desc_make(k->mode, F, H, k->layers);
  d.batch_first = k->batch_first;
  d.last_only = k->last_only;
  d.bias = k->bias;
  dlc_rnn_state *s = NULL;
  T_OK(r->c, dlc_rnn_create(r->c, &d, &s));
  if (!s) return;
  const int64_t np = dlc_rnn_param_numel(s);
  int64_t xs[3] = {T, N, F}, ys3[3] = {T, N, H}, ys2[2] = {N, H}, st[3] = {L, N, H};
  if (k->batch_first) xs[0] = N, xs[1] = T, ys3[0] = N, ys3[1] = T;
  const int yd = k->last_only ? 2 : 3;
  const int64_t *ys = k->last_only ? ys2 : ys3;
  const float wk = 1.f / sqrtf((float)H);
  t_pair *params = in(r, 1, &np, -wk, wk), *grads = in(r, 1, &np, -1, 1), *x = in(r, 3, xs, -1, 1);
  t_pair *h0 = k->with_h0 ? in(r, 3, st, -1, 1) : NULL, *c0 = k->with_h0 && lstm ? in(r, 3, st, -1, 1) : NULL;
  t_pair *y = nan_pair(r, yd, ys), *hT = nan_pair(r, 3, st), *cT = lstm ? nan_pair(r, 3, st) : NULL;
  t_pair *dy = in(r, yd, ys, -1, 1), *dhT = in(r, 3, st, -1, 1), *dcT = lstm ? in(r, 3, st, -1, 1) : NULL;
  t_pair *dx = in(r, 3, xs, -1, 1), *dh0 = in(r, 3, st, -1, 1), *dc0 = lstm ? in(r, 3, st, -1, 1) : NULL;
  size_t wb = 0, rb = 0;
  T_OK(r->c, dlc_rnn_workspace_bytes(r->c, s, T, N, 1, &wb));
  T_OK(r->c, dlc_rnn_reserve_bytes(r->c, s, T, N, &rb));
  const int64_t wn = (int64_t)(wb / 4), rn = (int64_t)(rb / 4);
  t_pair *ws = nan_pair(r, 1, &wn), *res = nan_pair(r, 1, &rn);
  dlc_tensor pvh[12], pvd[12], gvh[12], gvd[12];
  T_OK(r->c, dlc_rnn_param_views(r->c, s, params->h.data, cpu, pvh));
  T_OK(r->g, dlc_rnn_param_views(r->g, s, params->d.t.data, dlc_ctx_device(r->g), pvd));
  T_OK(r->c, dlc_rnn_param_views(r->c, s, grads->h.data, cpu, gvh));
  T_OK(r->g, dlc_rnn_param_views(r->g, s, grads->d.t.data, dlc_ctx_device(r->g), gvd));
#define H_(p) ((p) ? &(p)->h : NULL)
#define D_(p) ((p) ? &(p)->d.t : NULL)
  const uint64_t mallocs = dlc_ctx_memory_stats(r->g).device_mallocs;
  T_OK(r->c, dlc_op_rnn_fwd(r->c, s, pvh, &x->h, H_(h0), H_(c0), &y->h, &hT->h, H_(cT), &ws->h, &res->h, 1));
  T_OK(r->g, dlc_op_rnn_fwd(r->g, s, pvd, &x->d.t, D_(h0), D_(c0), &y->d.t, &hT->d.t, D_(cT), &ws->d.t,
                            &res->d.t, 1));
  const oc_tol tf = r->k->tol[0], tb = r->k->tol[1];
  check(r, y, "y", tf);
  check(r, hT, "hT", tf);
  if (lstm) check(r, cT, "cT", tf);
  /* The whole reserve: every stored h, gate and c; its padding stays NaN on both sides. */
  check(r, res, "reserve", tf);

  /* Backward from the CPU's reserve on both devices, so that it isolates backward. */
  t_guarded_upload(r->g, &res->d, res->h.data);
  T_OK(r->c, dlc_op_rnn_bwd(r->c, s, pvh, &x->h, H_(h0), H_(c0), &dy->h, &dhT->h, H_(dcT), &dx->h, &dh0->h,
                            H_(dc0), gvh, &ws->h, &res->h));
  T_OK(r->g, dlc_op_rnn_bwd(r->g, s, pvd, &x->d.t, D_(h0), D_(c0), &dy->d.t, &dhT->d.t, D_(dcT), &dx->d.t,
                            &dh0->d.t, D_(dc0), gvd, &ws->d.t, &res->d.t));
  T_CHECK(dlc_ctx_memory_stats(r->g).device_mallocs == mallocs, "%s: forward/backward called cudaMalloc",
          label(r, "training step"));
  check(r, dx, "dx", tb);
  check(r, dh0, "dh0", tb);
  if (lstm) check(r, dc0, "dc0", tb);
  check(r, grads, "parameter gradients", r->k->tol[2]);
  t_guarded_download(r->g, &ws->d, ws->back, label(r, "workspace guards"));

  /* Inference into poisoned outputs and a poisoned workspace, without a reserve. */
  poison(r->g, &y->d);
  poison(r->g, &hT->d);
  if (lstm) poison(r->g, &cT->d);
  poison(r->g, &ws->d);
  T_OK(r->g, dlc_op_rnn_fwd(r->g, s, pvd, &x->d.t, D_(h0), D_(c0), &y->d.t, &hT->d.t, D_(cT), &ws->d.t, NULL, 0));
  check(r, y, "y (inference)", tf);
  check(r, hT, "hT (inference)", tf);
  if (lstm) check(r, cT, "cT (inference)", tf);
#undef H_
#undef D_
  dlc_rnn_destroy(s);
}

/* ================================================================ the extras */

/* Copies both ways, the caching allocator (a warm loop performs no cudaMalloc), and an
 * out-of-memory error that says what was asked and what is free. */
static void extra_memory(dlc_ctx *g, dlc_ctx *c) {
  (void)c;
  int64_t n = 1 << 20;
  dlc_tensor h, d1, d2, h2;
  T_OK(g, dlc_tensor_alloc(g, &h, DLC_F32, 1, &n, cpu));
  T_OK(g, dlc_tensor_alloc(g, &h2, DLC_F32, 1, &n, cpu));
  T_OK(g, dlc_tensor_alloc(g, &d1, DLC_F32, 1, &n, dlc_ctx_device(g)));
  T_OK(g, dlc_tensor_alloc(g, &d2, DLC_F32, 1, &n, dlc_ctx_device(g)));
  t_fill_uniform(h.data, n, 77, -1, 1);
  T_OK(g, dlc_tensor_copy(g, &d1, &h));
  T_OK(g, dlc_tensor_copy(g, &d2, &d1));
  T_OK(g, dlc_tensor_copy(g, &h2, &d2));
  T_CHECK(memcmp(h.data, h2.data, h.nbytes) == 0, "host->device->device->host round trip");

  dlc_tensor_free(g, &d2);
  dlc_memory_stats before = dlc_ctx_memory_stats(g);
  for (int i = 0; i < 100; i++) {
    dlc_tensor a, b;
    int64_t m = n - i * 7; /* nearby sizes reuse the cached block */
    T_OK(g, dlc_tensor_alloc(g, &a, DLC_F32, 1, &m, dlc_ctx_device(g)));
    T_OK(g, dlc_tensor_alloc(g, &b, DLC_F32, 1, &n, dlc_ctx_device(g)));
    dlc_tensor_free(g, &a);
    dlc_tensor_free(g, &b);
  }
  dlc_memory_stats after = dlc_ctx_memory_stats(g);
  printf("allocator: %llu mallocs before the loop, %llu after; %zu bytes cached\n",
         (unsigned long long)before.device_mallocs, (unsigned long long)after.device_mallocs,
         after.bytes_cached);
  T_CHECK(after.device_mallocs - before.device_mallocs <= 1, "warm loop allocates at most once");
  T_CHECK(after.bytes_in_use == before.bytes_in_use, "everything freed went back");

  int64_t huge = INT64_C(1) << 46; /* 256 TiB: more than any GPU */
  dlc_tensor x;
  T_FAILS(g, DLC_ERR_OUT_OF_MEMORY, "bytes free", dlc_tensor_alloc(g, &x, DLC_F32, 1, &huge, dlc_ctx_device(g)));
  printf("OOM message: %s\n", dlc_ctx_error(g));
  /* ... and the context still works afterwards. */
  T_OK(g, dlc_tensor_fill(g, &d1, 1.f));
  T_OK(g, dlc_ctx_synchronize(g));
  T_OK(g, dlc_ctx_release_cached(g));
  dlc_tensor_free(g, &h); dlc_tensor_free(g, &h2); dlc_tensor_free(g, &d1);
}

/* Every row ignored under the mean: NaN, as on the CPU and in PyTorch. */
static void extra_xent_all_ignored(dlc_ctx *g, dlc_ctx *c) {
  (void)c;
  const int64_t rows = 4, shape[2] = {4, 5}, one = 1;
  dlc_device dev = dlc_ctx_device(g);
  dlc_tensor x, lp, rw, loss, lab;
  T_OK(g, dlc_tensor_alloc(g, &x, DLC_F32, 2, shape, dev));
  T_OK(g, dlc_tensor_alloc(g, &lp, DLC_F32, 2, shape, dev));
  T_OK(g, dlc_tensor_alloc(g, &rw, DLC_F32, 1, &rows, dev));
  T_OK(g, dlc_tensor_alloc(g, &loss, DLC_F32, 1, &one, dev));
  T_OK(g, dlc_tensor_alloc(g, &lab, DLC_I32, 1, &rows, dev));
  int32_t ign[4] = {-100, -100, -100, -100};
  T_OK(g, dlc_tensor_upload(g, &lab, ign, sizeof ign));
  T_OK(g, dlc_tensor_fill(g, &x, 0.5f));
  T_OK(g, dlc_op_softmax_xent_fwd(g, &x, &lab, NULL, &lp, &rw, &loss));
  float l = 0;
  T_OK(g, dlc_tensor_download(g, &loss, &l, 4));
  T_CHECK(isnan(l), "xent, every row ignored under the mean: NaN, got %g", l);
  dlc_tensor_free(g, &x); dlc_tensor_free(g, &lp); dlc_tensor_free(g, &rw);
  dlc_tensor_free(g, &loss); dlc_tensor_free(g, &lab);
}

/* The batchnorm rows include shapes whose channels split among blocks. */
static void extra_bn_splits(dlc_ctx *g, dlc_ctx *c) {
  (void)g, (void)c;
  int split = 0;
  for (int i = 0; i < op_num_cases; i++) {
    const op_case *k = &op_cases[i];
    if (k->op == OC_BATCHNORM && (k->flags & OC_TEST)) split += dlc_bn_splits(k->bn.n, k->bn.c, k->bn.h * k->bn.w) > 1;
  }
  T_CHECK(split >= 3, "only %d batchnorm rows split their channels among blocks", split);
}

static dlc_ctx *gpu_ctx_with(size_t limit, int tf32) {
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = DLC_DEVICE_CUDA;
  o.seed = 7;
  o.workspace_limit = limit;
  o.allow_tf32 = tf32;
  return t_ctx_make(&o);
}

/* Row k's convolution with params p on device context g, its state built for `images`
 * images (at least the row's), against the CPU's im2col; inspect (or NULL) looks at the
 * device state first. */
static void conv_on(dlc_ctx *g, dlc_ctx *c, const op_case *k, dlc_conv2d_params p, int64_t images,
                    const char *variant, oc_tol tol, void (*inspect)(run *, dlc_conv2d_state *)) {
  run r = {.g = g, .c = c, .k = k, .seed = 500};
  dlc_conv2d_params ph = conv_params(k, DLC_CONV_IM2COL);
  dlc_conv2d_state *s = NULL, *hs = NULL;
  T_OK(c, dlc_conv2d_create(c, &ph, k->conv.n, k->conv.h, k->conv.w, &hs));
  T_OK(g, dlc_conv2d_create(g, &p, images, k->conv.h, k->conv.w, &s));
  if (s && hs) {
    char v[160];
    snprintf(v, sizeof v, "%s (cudnn %d%d%d, ws %zu, chunks %lld/%lld/%lld)", variant, s->use_cudnn[0],
             s->use_cudnn[1], s->use_cudnn[2], dlc_conv2d_workspace_bytes(s), (long long)s->chunk[0],
             (long long)s->chunk[1], (long long)s->chunk[2]);
    T_CHECK(dlc_conv2d_workspace_bytes(s) <= dlc_ctx_workspace_limit(g), "%s: over the limit", label(&r, v));
    if (inspect) inspect(&r, s);
    conv_bufs b = conv_alloc(&r, s->out_h, s->out_w);
    conv_compare(&r, s, hs, &b, v, tol);
    pairs_free(&r);
  }
  dlc_conv2d_destroy(g, s);
  dlc_conv2d_destroy(c, hs);
}

static void chunk_of_two(run *r, dlc_conv2d_state *s) {
  T_CHECK(s->chunk[2] <= 2, "%s: a chunk of two at most, got %lld", label(r, "chunked"), (long long)s->chunk[2]);
}

/* Under a limit of about two images' scratch: chunks on the device, one pass on the CPU. */
static void extra_conv_chunked(dlc_ctx *g0, dlc_ctx *c) {
  (void)g0;
  for (int i = 0; i < op_num_cases; i++) {
    const op_case *k = &op_cases[i];
    if (k->op != OC_CONV || !(k->flags & OC_TEST) || !(k->flags & OC_CONV_CHUNKED)) continue;
    dlc_conv2d_params p = conv_params(k, DLC_CONV_IM2COL);
    dlc_conv2d_state *hs = NULL;
    T_OK(c, dlc_conv2d_create(c, &p, k->conv.n, k->conv.h, k->conv.w, &hs));
    if (!hs) continue;
    dlc_ctx *g = gpu_ctx_with(t_conv_ws_bytes(hs, 2), 0);
    conv_on(g, c, k, p, k->conv.n, "im2col chunked", k->tol[0], chunk_of_two);
    dlc_ctx_destroy(g);
    dlc_conv2d_destroy(c, hs);
  }
}

static void found_some(run *r, dlc_conv2d_state *s) {
  T_CHECK(s->use_cudnn[0] + s->use_cudnn[1] + s->use_cudnn[2] >= 1, "%s: cuDNN found no algorithm for any direction",
          label(r, "cudnn"));
}

/* AUTO keeps, per direction, the faster of the two paths it timed. */
static void kept_faster(run *r, dlc_conv2d_state *s) {
  for (int d = 0; d < DLC_CONV_DIRS; d++) {
    printf("  %s direction %d: im2col %.4f ms, cudnn %.4f ms -> %s\n", label(r, "auto"), d, s->ms_im2col[d],
           s->ms_cudnn[d], s->use_cudnn[d] ? "cudnn" : "im2col");
    if (s->ms_cudnn[d] > 0)
      T_CHECK(s->use_cudnn[d] == (s->ms_cudnn[d] < s->ms_im2col[d]), "%s: direction %d keeps the slower path",
              label(r, "auto"), d);
  }
}

/* cuDNN against the CPU's im2col, exact fp32 and TF32, and AUTO's choice; the variants
 * (non-deterministic algorithms, fewer images than built for, TF32) on the rows flagged
 * for them only: each state searches cuDNN's algorithms, slow under compute-sanitizer. */
static void extra_conv_cudnn(dlc_ctx *g0, dlc_ctx *c) {
  (void)g0;
  dlc_ctx *g = gpu_ctx_with(0, 0);
  if (!dlc_ctx_cudnn_handle(g)) {
    printf("cuDNN: not in this build, its checks skipped\n");
    for (int i = 0; i < op_num_cases; i++) {
      const op_case *k = &op_cases[i];
      if (k->op != OC_CONV || !(k->flags & OC_TEST)) continue;
      dlc_conv2d_params p = conv_params(k, DLC_CONV_CUDNN);
      dlc_conv2d_state *s = NULL;
      T_FAILS(g, DLC_ERR_UNSUPPORTED, "built without cuDNN", dlc_conv2d_create(g, &p, k->conv.n, k->conv.h, k->conv.w, &s));
      break;
    }
    dlc_ctx_destroy(g);
    return;
  }
  dlc_ctx *gt = gpu_ctx_with(0, 1);
  for (int i = 0; i < op_num_cases; i++) {
    const op_case *k = &op_cases[i];
    if (k->op != OC_CONV || !(k->flags & OC_TEST)) continue;
    const int more = (k->flags & OC_CONV_CUDNN_MORE) != 0;
    dlc_conv2d_params p = conv_params(k, DLC_CONV_CUDNN);
    conv_on(g, c, k, p, k->conv.n, "cudnn", k->tol[0], found_some);
    if (more) {
      p.cudnn_nondeterministic = 1; /* another summation order, nothing worse */
      conv_on(g, c, k, p, k->conv.n, "cudnn nondet", k->tol[0], found_some);
      p.cudnn_nondeterministic = 0;
      /* Fewer images than the state was built for: cuDNN re-describes the batch (or falls
       * back to im2col when its workspace would not fit). */
      if (k->conv.n > 1) conv_on(g, c, k, p, k->conv.n + 5, "cudnn, 5 images fewer than built for", k->tol[0], NULL);
      /* TF32 on both device paths (10-bit mantissas): looser, against exact fp32. */
      conv_on(gt, c, k, conv_params(k, DLC_CONV_IM2COL), k->conv.n, "im2col TF32", k->tol[1], NULL);
      conv_on(gt, c, k, p, k->conv.n, "cudnn TF32", k->tol[1], NULL);
    }
    conv_on(g, c, k, conv_params(k, DLC_CONV_AUTO), k->conv.n, "auto", k->tol[0], kept_faster);
    /* A limit too small for any cuDNN workspace leaves only zero-workspace algorithms (or
     * im2col); the results hold either way. */
    if (k->flags & OC_CONV_TIGHT) {
      dlc_conv2d_params ph = conv_params(k, DLC_CONV_IM2COL);
      dlc_conv2d_state *probe = NULL;
      T_OK(c, dlc_conv2d_create(c, &ph, k->conv.n, k->conv.h, k->conv.w, &probe));
      if (probe) {
        dlc_ctx *gs = gpu_ctx_with(t_conv_ws_bytes(probe, 1), 0);
        conv_on(gs, c, k, p, k->conv.n, "cudnn under a one-image limit", k->tol[0], NULL);
        dlc_ctx_destroy(gs);
      }
      dlc_conv2d_destroy(c, probe);
    }
  }
  T_OK(g, dlc_ctx_synchronize(g));
  T_OK(gt, dlc_ctx_synchronize(gt));
  dlc_ctx_destroy(gt);
  dlc_ctx_destroy(g);
}

/* ================================================================ the runner */

typedef struct op_adapter {
  const char *group; /* the CTest test: test_gpu_parity_GROUP */
  void (*fn)(run *r);
} op_adapter;

static const op_adapter adapters[OC_COUNT] = {
    [OC_ELEMENTWISE] = {"ops", run_elementwise},  [OC_RANDOM] = {"ops", run_random},
    [OC_GEMM] = {"ops", run_gemm},                [OC_ACT] = {"dense", run_act},
    [OC_DENSE] = {"dense", run_dense},            [OC_BIAS_GRAD] = {"dense", run_bias_grad},
    [OC_DROPOUT] = {"dense", run_dropout},        [OC_SOFTMAX] = {"softmax", run_softmax},
    [OC_XENT] = {"loss", run_xent},               [OC_MSE] = {"loss", run_mse},
    [OC_POOL] = {"pool", run_pool},               [OC_BATCHNORM] = {"norm", run_batchnorm},
    [OC_LAYERNORM] = {"layernorm", run_layernorm}, [OC_OPTIM] = {"optim", run_optim},
    [OC_CLIP] = {"optim", run_clip},              [OC_IM2COL] = {"conv", run_im2col},
    [OC_CHANNEL] = {"conv", run_channel},         [OC_CONV] = {"conv", run_conv},
    [OC_RNN] = {"rnn", run_rnn},
};
_Static_assert(sizeof adapters / sizeof adapters[0] == OC_COUNT, "an adapter per op");

typedef struct extra {
  const char *group, *name;
  int needs_cuda; /* creates CUDA contexts or counts device mallocs: not with --cpu-self-test */
  void (*fn)(dlc_ctx *g, dlc_ctx *c);
} extra;

static const extra extras[] = {
    {"ops", "memory", 1, extra_memory},
    {"loss", "xent_all_ignored", 0, extra_xent_all_ignored},
    {"norm", "bn_splits", 0, extra_bn_splits},
    {"conv", "conv_chunked", 1, extra_conv_chunked},
    {"conv", "conv_cudnn", 1, extra_conv_cudnn},
};

static int usage(void) {
  fprintf(stderr, "usage: test_gpu_parity [--cpu-self-test] GROUP|OP|EXTRA [CASE]\n  groups:");
  for (int i = 0; i < OC_COUNT; i++) {
    int first = 1;
    for (int j = 0; j < i; j++) first &= strcmp(adapters[j].group, adapters[i].group) != 0;
    if (first) fprintf(stderr, " %s", adapters[i].group);
  }
  fprintf(stderr, "\n  ops:");
  for (int i = 0; i < OC_COUNT; i++) fprintf(stderr, " %s", oc_op_name((oc_op)i));
  fprintf(stderr, "\n  extras:");
  for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++) fprintf(stderr, " %s", extras[i].name);
  fputc('\n', stderr);
  return 2;
}

int main(int argc, char **argv) {
  int self_test = argc > 1 && !strcmp(argv[1], "--cpu-self-test");
  if (argc < 2 + self_test || argc > 3 + self_test) return usage();
  const char *what = argv[1 + self_test], *only = argc > 2 + self_test ? argv[2 + self_test] : NULL;
  int known = 0;
  for (int i = 0; i < OC_COUNT; i++) known |= !strcmp(what, adapters[i].group) || !strcmp(what, oc_op_name((oc_op)i));
  for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++) known |= !strcmp(what, extras[i].name);
  if (!known) return usage();
  dlc_ctx *g = self_test ? t_cpu_ctx(5) : t_gpu_ctx_or_skip(5), *c = t_cpu_ctx(5);
  printf("build: %s\n", dlc_build_info());
  int rows = 0;
  for (int i = 0; i < op_num_cases; i++) {
    const op_case *k = &op_cases[i];
    if (!(k->flags & OC_TEST) || (only && strcmp(only, k->name))) continue;
    if (strcmp(what, adapters[k->op].group) && strcmp(what, oc_op_name(k->op))) continue;
    run r = {.g = g, .c = c, .k = k, .seed = 1000 * (uint64_t)(i + 1)};
    adapters[k->op].fn(&r);
    pairs_free(&r);
    rows++;
  }
  for (size_t i = 0; i < sizeof extras / sizeof extras[0] && !only; i++) {
    const extra *e = &extras[i];
    if (strcmp(what, e->group) && strcmp(what, e->name)) continue;
    if (self_test && e->needs_cuda) {
      printf("%s: needs a CUDA context, not run with --cpu-self-test\n", e->name);
      continue;
    }
    printf("== %s\n", e->name);
    e->fn(g, c);
    rows++;
  }
  T_CHECK(rows > 0, "nothing ran for %s%s%s", what, only ? " " : "", only ? only : "");
  T_OK(g, dlc_ctx_synchronize(g));
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  char name[128];
  snprintf(name, sizeof name, "test_gpu_parity %s%s%s", what, only ? " " : "", only ? only : "");
  return t_finish(name);
}
