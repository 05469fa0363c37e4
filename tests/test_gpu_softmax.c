/* CUDA against the CPU path for softmax, log-softmax (forward, backward, in place), the
 * fused softmax cross-entropy (every kernel form: one block, group per row, cached and
 * online block per row, one- and two-stage loss sums) and MSE, on awkward sizes, aligned
 * and not (float4, float2 and scalar packs), with guarded, NaN-poisoned device buffers.
 * Also: extreme rows (+-1e30, -inf masks, NaN, Inf), bit-identical reruns (no atomics), a
 * bad label giving NaN on the GPU. Label gpu: exits 77 without a device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

/* Row lengths for every kernel form: groups of 2..32 lanes with one pack, full warps with
 * 2..32 packs, the cached block (<= 8192) and the online block (longer). */
static const int64_t lengths[] = {1,   2,   3,    4,    7,    8,    31,   32,   33,   63,
                                  64,  100, 127,  128,  255,  256,  257,  511,  512,  513,
                                  1000, 1023, 1024, 1025, 2047, 4096, 4097, 8191, 8192, 8193,
                                  12289, 32768, 32771};

static int64_t rows_for(int64_t C) {
  if (C <= 8) return 1003; /* many rows per warp */
  if (C <= 128) return 67;
  if (C <= 1024) return 13;
  return C <= 8192 ? 5 : 3;
}

/* A 2-D view of rows x C floats at offset `off` inside a guarded buffer. */
static dlc_tensor view2(dlc_ctx *g, t_guarded *buf, int64_t off, int64_t rows, int64_t C) {
  dlc_tensor v;
  int64_t shape[2] = {rows, C};
  dlc_tensor_borrow(g, &v, (float *)buf->t.data + off, DLC_F32, 2, shape, dlc_ctx_device(g));
  return v;
}

static dlc_tensor host2(dlc_ctx *c, float *p, int64_t rows, int64_t C) {
  dlc_tensor v;
  int64_t shape[2] = {rows, C};
  dlc_tensor_borrow(c, &v, p, DLC_F32, 2, shape, cpu);
  return v;
}

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

static void softmax_case(dlc_ctx *g, dlc_ctx *c, int64_t rows, int64_t C, int64_t off,
                         int extreme) {
  const int64_t n = rows * C, padded = n + off;
  float *x = malloc((size_t)padded * 4), *dy = malloc((size_t)padded * 4);
  float *dx0 = malloc((size_t)padded * 4), *ref = malloc((size_t)padded * 4);
  float *got = malloc((size_t)padded * 4), *gdx = malloc((size_t)padded * 4);
  float *hdx = malloc((size_t)n * 4);
  t_fill_uniform(x, padded, 1000 + (uint64_t)C, -8, 8);
  t_fill_uniform(dy, padded, 2000 + (uint64_t)C, -1, 1);
  t_fill_uniform(dx0, padded, 3000 + (uint64_t)C, -1, 1);
  if (extreme) make_extreme(x + off, rows, C);
  for (int64_t i = 0; i < off; i++) ref[i] = NAN; /* keeps the poison when uploaded */
  t_guarded bx, by, bdy, bdx, bz;
  int ok = t_guarded_alloc(g, &bx, 1, &padded) && t_guarded_alloc(g, &by, 1, &padded) &&
           t_guarded_alloc(g, &bdy, 1, &padded) && t_guarded_alloc(g, &bdx, 1, &padded) &&
           t_guarded_alloc(g, &bz, 1, &padded);
  T_CHECK(ok, "guarded allocation: %s", dlc_ctx_error(g));
  t_guarded_upload(g, &bx, x);
  t_guarded_upload(g, &bdy, dy);
  dlc_tensor vx = view2(g, &bx, off, rows, C), vy = view2(g, &by, off, rows, C);
  dlc_tensor vdy = view2(g, &bdy, off, rows, C), vdx = view2(g, &bdx, off, rows, C);
  dlc_tensor vz = view2(g, &bz, off, rows, C);
  dlc_tensor hx = host2(c, x + off, rows, C), hy = host2(c, ref + off, rows, C);
  dlc_tensor hdy = host2(c, dy + off, rows, C), hd = host2(c, hdx, rows, C);
  for (int lg = 0; lg < 2; lg++) {
    char what[112];
    snprintf(what, sizeof what, "%s%s fwd %lldx%lld off=%lld", lg ? "log_softmax" : "softmax",
             extreme ? " extreme" : "", (long long)rows, (long long)C, (long long)off);
    T_OK(c, dlc_op_softmax_fwd(c, lg, &hx, &hy));
    T_OK(g, dlc_op_softmax_fwd(g, lg, &vx, &vy));
    t_guarded_download(g, &by, got, what);
    T_CHECK(untouched(got, off), "%s: wrote before the view", what);
    /* expf differs by an ulp or two between host and device, and the sums' order differs. */
    t_parity(what, ref + off, got + off, n, 1e-11, lg ? 2e-5 : 2e-6);

    /* In place: the same bits as out of place. */
    t_guarded_upload(g, &bz, x);
    T_OK(g, dlc_op_softmax_fwd(g, lg, &vz, &vz));
    float *gz = malloc((size_t)padded * 4);
    snprintf(what, sizeof what, "%s in place %lldx%lld off=%lld", lg ? "log_softmax" : "softmax",
             (long long)rows, (long long)C, (long long)off);
    t_guarded_download(g, &bz, gz, what);
    int64_t diff = 0;
    for (int64_t i = off; i < padded; i++) diff += memcmp(&gz[i], &got[i], 4) != 0;
    T_CHECK(diff == 0, "%s: %lld elements differ from out of place", what, (long long)diff);
    free(gz);

    /* Backward from the same y (the CPU's) on both sides, accumulating onto dx0. */
    t_guarded_upload(g, &by, ref);
    t_guarded_upload(g, &bdx, dx0);
    memcpy(hdx, dx0 + off, (size_t)n * 4);
    T_OK(c, dlc_op_softmax_bwd(c, lg, &hy, &hdy, &hd));
    T_OK(g, dlc_op_softmax_bwd(g, lg, &vy, &vdy, &vdx));
    snprintf(what, sizeof what, "%s%s bwd %lldx%lld off=%lld", lg ? "log_softmax" : "softmax",
             extreme ? " extreme" : "", (long long)rows, (long long)C, (long long)off);
    t_guarded_download(g, &bdx, gdx, what);
    T_CHECK(off == 0 || memcmp(gdx, dx0, (size_t)off * 4) == 0, "%s: wrote before the view", what);
    t_parity(what, hdx, gdx + off, n, 1e-10, 2e-5);
  }
  t_guarded_free(g, &bx); t_guarded_free(g, &by); t_guarded_free(g, &bdy);
  t_guarded_free(g, &bdx); t_guarded_free(g, &bz);
  free(x); free(dy); free(dx0); free(ref); free(got); free(gdx); free(hdx);
}

static void test_softmax(dlc_ctx *g, dlc_ctx *c) {
  const int nl = (int)(sizeof lengths / sizeof lengths[0]);
  for (int i = 0; i < nl; i++) {
    const int64_t C = lengths[i], rows = rows_for(C);
    softmax_case(g, c, rows, C, 0, 0); /* float4 when C % 4 == 0 */
    softmax_case(g, c, rows, C, 1, 0); /* scalar */
    if (C % 2 == 0) softmax_case(g, c, rows, C, 2, 0); /* float2 */
  }
  const int64_t ext[] = {1, 7, 33, 1000, 4097, 12289};
  for (int i = 0; i < 6; i++) softmax_case(g, c, 14, ext[i], 0, 1);
  softmax_case(g, c, 100003, 3, 1, 0); /* many rows: grid-stride loops */
  softmax_case(g, c, 70001, 32, 0, 0);
}

/* ------------------------------------------------------------------ cross-entropy */

typedef struct xent_setup {
  int64_t rows, C;
  int weighted;
  float eps;
  int ignore;
  dlc_reduction red;
} xent_setup;

static void xent_case(dlc_ctx *g, dlc_ctx *c, xent_setup s, int bad_label) {
  const int64_t rows = s.rows, C = s.C, n = rows * C, one = 1;
  float *x = malloc((size_t)n * 4), *w = malloc((size_t)C * 4), *dx0 = malloc((size_t)n * 4);
  float *lp = malloc((size_t)n * 4), *hlp = malloc((size_t)n * 4), *rw = malloc((size_t)rows * 4);
  float *hrw = malloc((size_t)rows * 4), *gdx = malloc((size_t)n * 4), *hdx = malloc((size_t)n * 4);
  int32_t *lab = malloc((size_t)rows * 4);
  t_fill_uniform(x, n, 77 + (uint64_t)C, -6, 6);
  t_fill_uniform(w, C, 78, 0.2f, 2.f);
  t_fill_uniform(dx0, n, 79, -1, 1);
  for (int64_t r = 0; r < rows; r++) lab[r] = r % 7 == 3 ? s.ignore : (int32_t)((r * 131 + 5) % C);
  if (bad_label) lab[rows / 2] = (int32_t)C;
  int64_t shape[2] = {rows, C};
  dlc_device dev = dlc_ctx_device(g);
  dlc_tensor dlab, dw, hlab, hw, hx, hlogp, hrow, hloss, hd;
  t_guarded bx, blp, brw, bloss, bdx;
  int ok = t_guarded_alloc(g, &bx, 2, shape) && t_guarded_alloc(g, &blp, 2, shape) &&
           t_guarded_alloc(g, &brw, 1, &rows) && t_guarded_alloc(g, &bloss, 1, &one) &&
           t_guarded_alloc(g, &bdx, 2, shape) &&
           dlc_tensor_alloc(g, &dlab, DLC_I32, 1, &rows, dev) == DLC_OK &&
           dlc_tensor_alloc(g, &dw, DLC_F32, 1, &C, dev) == DLC_OK;
  T_CHECK(ok, "allocation: %s", dlc_ctx_error(g));
  t_guarded_upload(g, &bx, x);
  T_OK(g, dlc_tensor_upload(g, &dlab, lab, (size_t)rows * 4));
  T_OK(g, dlc_tensor_upload(g, &dw, w, (size_t)C * 4));
  dlc_tensor_borrow(c, &hx, x, DLC_F32, 2, shape, cpu);
  dlc_tensor_borrow(c, &hlogp, hlp, DLC_F32, 2, shape, cpu);
  dlc_tensor_borrow(c, &hrow, hrw, DLC_F32, 1, &rows, cpu);
  dlc_tensor_borrow(c, &hlab, lab, DLC_I32, 1, &rows, cpu);
  dlc_tensor_borrow(c, &hw, w, DLC_F32, 1, &C, cpu);
  dlc_tensor_borrow(c, &hd, hdx, DLC_F32, 2, shape, cpu);
  float hl = 0, gl = 0, gl2 = 0;
  dlc_tensor_borrow(c, &hloss, &hl, DLC_F32, 1, &one, cpu);
  dlc_xent_opts og = dlc_xent_opts_default(), oc = og;
  og.class_weight = s.weighted ? &dw : NULL;
  oc.class_weight = s.weighted ? &hw : NULL;
  og.label_smoothing = oc.label_smoothing = s.eps;
  og.ignore_index = oc.ignore_index = s.ignore;
  og.reduction = oc.reduction = s.red;

  char what[128];
  snprintf(what, sizeof what, "xent %lldx%lld w=%d eps=%g %s%s", (long long)rows, (long long)C,
           s.weighted, (double)s.eps, s.red == DLC_REDUCE_MEAN ? "mean" : "sum",
           bad_label ? " bad label" : "");
  T_OK(g, dlc_op_softmax_xent_fwd(g, &bx.t, &dlab, &og, &blp.t, &brw.t, &bloss.t));
  t_guarded_download(g, &bloss, &gl, what);
  if (bad_label) {
    /* The documented GPU answer to a label out of range: a NaN loss. */
    printf("%-44s loss %g\n", what, gl);
    T_CHECK(isnan(gl), "%s: loss %g, NaN expected", what, gl);
    goto done;
  }
  T_OK(c, dlc_op_softmax_xent_fwd(c, &hx, &hlab, &oc, &hlogp, &hrow, &hloss));
  t_guarded_download(g, &blp, lp, what);
  t_guarded_download(g, &brw, rw, what);
  printf("%-44s loss cpu %.9g gpu %.9g\n", what, hl, gl);
  T_CHECK((isnan(hl) && isnan(gl)) || fabs((double)gl - hl) <= 1e-5 * fmax(1.0, fabs((double)hl)),
          "%s: loss cpu %.9g gpu %.9g", what, hl, gl);
  t_parity("  logp", hlp, lp, n, 1e-11, 2e-5);
  t_parity("  row_w", hrw, rw, rows, 0, 0);

  /* Run again: the same bits (fixed-order sums, no atomics). */
  T_OK(g, dlc_op_softmax_xent_fwd(g, &bx.t, &dlab, &og, &blp.t, &brw.t, &bloss.t));
  t_guarded_download(g, &bloss, &gl2, what);
  T_CHECK(memcmp(&gl, &gl2, 4) == 0, "%s: rerun gives %.9g after %.9g", what, gl2, gl);

  /* Backward from the CPU's logp on both sides, accumulating onto dx0, dloss = 0.75. */
  t_guarded_upload(g, &blp, hlp);
  for (int k = 0; k < 2; k++) {
    t_guarded_upload(g, &bdx, dx0);
    T_OK(g, dlc_op_softmax_xent_bwd(g, &blp.t, &dlab, &brw.t, &og, 0.75f, &bdx.t));
    float *dst = k ? hdx : gdx;
    t_guarded_download(g, &bdx, dst, what);
  }
  int64_t diff = 0;
  for (int64_t i = 0; i < n; i++) diff += memcmp(&gdx[i], &hdx[i], 4) != 0;
  T_CHECK(diff == 0, "%s: backward rerun differs in %lld places", what, (long long)diff);
  memcpy(hdx, dx0, (size_t)n * 4);
  T_OK(c, dlc_op_softmax_xent_bwd(c, &hlogp, &hlab, &hrow, &oc, 0.75f, &hd));
  /* FMA contraction and expf differ by a few ulps of values up to ~2.5. */
  t_parity("  dlogits", hdx, gdx, n, 1e-11, 4e-6);

done:
  t_guarded_free(g, &bx); t_guarded_free(g, &blp); t_guarded_free(g, &brw);
  t_guarded_free(g, &bloss); t_guarded_free(g, &bdx);
  dlc_tensor_free(g, &dlab); dlc_tensor_free(g, &dw);
  free(x); free(w); free(dx0); free(lp); free(hlp); free(rw); free(hrw); free(gdx); free(hdx);
  free(lab);
}

static void test_xent(dlc_ctx *g, dlc_ctx *c) {
  /* rows x C: one block (<= 32768 logits, C <= 1024); groups per row over many blocks with
   * a one-stage and a two-stage sum; cached and online block per row. */
  const int64_t sizes[][2] = {{64, 10}, {7, 1000}, {1, 1}, {5000, 10}, {40000, 3},
                              {300, 129}, {33, 1025}, {3, 4097}, {2, 12289}, {9, 32768}};
  /* Class weights, label smoothing and the reduction vary independently (smoothing without
   * class weights on the multi-block path once gave W = 1024 C: the emulated device's
   * first find). */
  for (int i = 0; i < 10; i++)
    for (int v = 0; v < 8; v++) {
      xent_setup s = {sizes[i][0], sizes[i][1], v & 1, v & 4 ? 0.1f : 0.f,
                      v == 2 ? 0 : -100, v & 2 ? DLC_REDUCE_SUM : DLC_REDUCE_MEAN};
      xent_case(g, c, s, 0);
    }
  xent_setup s = {64, 10, 1, 0.1f, -100, DLC_REDUCE_MEAN};
  xent_case(g, c, s, 1);
  s.rows = 5000;
  xent_case(g, c, s, 1);
  s.rows = 3;
  s.C = 4097;
  s.red = DLC_REDUCE_SUM;
  xent_case(g, c, s, 1);

  /* Every row ignored under the mean: NaN, as on the CPU and in PyTorch. */
  int64_t rows = 4, C = 5, shape[2] = {4, 5}, one = 1;
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
  T_CHECK(isnan(l), "every row ignored under the mean: NaN, got %g", l);
  (void)C;
  dlc_tensor_free(g, &x); dlc_tensor_free(g, &lp); dlc_tensor_free(g, &rw);
  dlc_tensor_free(g, &loss); dlc_tensor_free(g, &lab);
}

/* ------------------------------------------------------------------ MSE */

static void test_mse(dlc_ctx *g, dlc_ctx *c) {
  for (int k = 0; k < t_num_awkward_sizes; k++)
    for (int64_t off = 0; off < 2; off++) {
      const int64_t n = t_awkward_sizes[k], padded = n + off, one = 1;
      float *x = malloc((size_t)padded * 4), *t = malloc((size_t)padded * 4);
      float *dx0 = malloc((size_t)padded * 4), *hdx = malloc((size_t)n * 4);
      float *gdx = malloc((size_t)padded * 4);
      t_fill_uniform(x, padded, 5 + (uint64_t)k, -3, 3);
      t_fill_uniform(t, padded, 6 + (uint64_t)k, -3, 3);
      t_fill_uniform(dx0, padded, 7 + (uint64_t)k, -1, 1);
      t_guarded bx, bt, bdx, bl;
      T_CHECK(t_guarded_alloc(g, &bx, 1, &padded) && t_guarded_alloc(g, &bt, 1, &padded) &&
                  t_guarded_alloc(g, &bdx, 1, &padded) && t_guarded_alloc(g, &bl, 1, &one),
              "alloc");
      t_guarded_upload(g, &bx, x);
      t_guarded_upload(g, &bt, t);
      dlc_tensor vx, vt, vdx, hx, ht, hd;
      dlc_device dev = dlc_ctx_device(g);
      dlc_tensor_borrow(g, &vx, (float *)bx.t.data + off, DLC_F32, 1, &n, dev);
      dlc_tensor_borrow(g, &vt, (float *)bt.t.data + off, DLC_F32, 1, &n, dev);
      dlc_tensor_borrow(g, &vdx, (float *)bdx.t.data + off, DLC_F32, 1, &n, dev);
      dlc_tensor_borrow(c, &hx, x + off, DLC_F32, 1, &n, cpu);
      dlc_tensor_borrow(c, &ht, t + off, DLC_F32, 1, &n, cpu);
      dlc_tensor_borrow(c, &hd, hdx, DLC_F32, 1, &n, cpu);
      for (int red = 0; red < 2; red++) {
        char what[96];
        snprintf(what, sizeof what, "mse %s n=%lld off=%lld", red ? "sum" : "mean", (long long)n,
                 (long long)off);
        float hl = 0, gl = 0;
        dlc_tensor hloss;
        dlc_tensor_borrow(c, &hloss, &hl, DLC_F32, 1, &one, cpu);
        T_OK(c, dlc_op_mse_fwd(c, &hx, &ht, (dlc_reduction)red, &hloss));
        T_OK(g, dlc_op_mse_fwd(g, &vx, &vt, (dlc_reduction)red, &bl.t));
        t_guarded_download(g, &bl, &gl, what);
        printf("%-44s loss cpu %.9g gpu %.9g\n", what, hl, gl);
        /* Both add float squares in double, in different orders. */
        T_CHECK(fabs((double)gl - hl) <= 1e-6 * fabs((double)hl), "%s: %.9g vs %.9g", what, gl, hl);
        t_guarded_upload(g, &bdx, dx0);
        memcpy(hdx, dx0 + off, (size_t)n * 4);
        T_OK(c, dlc_op_mse_bwd(c, &hx, &ht, (dlc_reduction)red, 1.5f, &hd));
        T_OK(g, dlc_op_mse_bwd(g, &vx, &vt, (dlc_reduction)red, 1.5f, &vdx));
        t_guarded_download(g, &bdx, gdx, what);
        T_CHECK(off == 0 || gdx[0] == dx0[0], "%s: wrote before the view", what);
        /* The device fuses dx + k (x - t) into an FMA: an ulp of |dx| <= ~20. */
        t_parity(what, hdx, gdx + off, n, 1e-13, 5e-6);
      }
      t_guarded_free(g, &bx); t_guarded_free(g, &bt); t_guarded_free(g, &bdx);
      t_guarded_free(g, &bl);
      free(x); free(t); free(dx0); free(hdx); free(gdx);
    }
}

int main(void) {
  dlc_ctx *g = t_gpu_ctx_or_skip(99), *c = t_cpu_ctx(99);
  printf("build: %s\n", dlc_build_info());
  test_softmax(g, c);
  test_xent(g, c);
  test_mse(g, c);
  T_OK(g, dlc_ctx_synchronize(g));
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_softmax");
}
