/* conv2d on CUDA against the CPU path: every building block (im2col in both layouts,
 * col2im, the regrouping, tiling, bias and per-channel sum kernels) and the whole
 * forward/backward over awkward shapes (odd, prime, non-square, grouped, depthwise, 1x1,
 * batch 33, images larger than a block), with guarded and NaN-poisoned device buffers;
 * chunking under a small limit; a step allocates no device memory; then cuDNN against
 * im2col (exact fp32 and TF32), AUTO's choice. Label gpu: exits 77 without a device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"


static float *fptr(t_pair *p) { return p->d.t.data; }

/* ---------------------------------------------------------------- building blocks */

static void test_blocks(dlc_ctx *g, dlc_ctx *c) {
  /* N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW */
  const int geo[][12] = {
      {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1},   {3, 5, 17, 13, 3, 3, 1, 1, 1, 1, 1, 1},
      {2, 3, 11, 29, 3, 2, 2, 1, 1, 0, 2, 3}, {4, 2, 6, 7, 7, 7, 1, 1, 3, 3, 1, 1},
      {2, 7, 33, 31, 5, 5, 3, 2, 2, 2, 1, 1}, {1, 16, 64, 64, 3, 3, 2, 2, 1, 1, 1, 1},
      /* rows wider than the CPU col2im's 256-column segments, strided and dilated */
      {1, 2, 5, 600, 3, 4, 1, 3, 1, 2, 2, 2}, {1, 1, 3, 513, 1, 5, 1, 1, 0, 2, 1, 1},
  };
  for (int k = 0; k < (int)(sizeof geo / sizeof geo[0]); k++) {
    const int *q = geo[k];
    dlc_conv_geom gm = {q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11], 0, 0};
    gm.OH = (gm.H + 2 * gm.PH - gm.DH * (gm.KH - 1) - 1) / gm.SH + 1;
    gm.OW = (gm.W + 2 * gm.PW - gm.DW * (gm.KW - 1) - 1) / gm.SW + 1;
    int64_t xn = (int64_t)gm.N * gm.C * gm.H * gm.W, coln = (int64_t)gm.N * gm.C * gm.KH * gm.KW * gm.OH * gm.OW;
    t_pair x, col, colt, dx;
    t_pair_init(g, c, &x, 1, &xn, 100 + (uint64_t)k, -1, 1);
    t_pair_init(g, c, &col, 1, &coln, 101, -1, 1);
    t_pair_init(g, c, &colt, 1, &coln, 102, -1, 1);
    t_pair_init(g, c, &dx, 1, &xn, 103, -1, 1);
    char what[96];
    T_OK(g, dlc_im2col_run(g, 1, 0, gm, fptr(&x), fptr(&col)));
    T_OK(c, dlc_im2col_run(c, 0, 0, gm, x.h.data, col.h.data));
    snprintf(what, sizeof what, "im2col geometry %d (%lld)", k, (long long)coln);
    t_pair_check(g, &col, what, 0, 0);
    T_OK(g, dlc_im2col_run(g, 1, 1, gm, fptr(&x), fptr(&colt)));
    T_OK(c, dlc_im2col_run(c, 0, 1, gm, x.h.data, colt.h.data));
    snprintf(what, sizeof what, "im2col transposed geometry %d", k);
    t_pair_check(g, &colt, what, 0, 0);
    /* col2im gathers a fresh column buffer into dx (accumulating); the same order of
     * additions on both devices. */
    t_fill_uniform(col.h.data, coln, 104, -1, 1);
    t_guarded_upload(g, &col.d, col.h.data);
    T_OK(g, dlc_col2im_run(g, 1, gm, fptr(&col), fptr(&dx)));
    T_OK(c, dlc_col2im_run(c, 0, gm, col.h.data, dx.h.data));
    snprintf(what, sizeof what, "col2im geometry %d", k);
    t_pair_check(g, &dx, what, 0, 0);
    t_pair_free(g, c, &x); t_pair_free(g, c, &col); t_pair_free(g, c, &colt); t_pair_free(g, c, &dx);
  }

  const int ncp[][3] = {{1, 1, 1}, {2, 3, 5}, {33, 7, 31}, {3, 257, 1}, {5, 64, 3136}, {2, 3, 5000}};
  for (int k = 0; k < 6; k++) {
    int N = ncp[k][0], C = ncp[k][1], P = ncp[k][2];
    int64_t n = (int64_t)N * C * P;
    t_pair in, out, b, y;
    t_pair_init(g, c, &in, 1, &n, 200, -1, 1);
    t_pair_init(g, c, &out, 1, &n, 201, -1, 1);
    int64_t cc = C;
    t_pair_init(g, c, &b, 1, &cc, 202, -1, 1);
    t_pair_init(g, c, &y, 1, &n, 203, -1, 1);
    char what[96];
    T_OK(g, dlc_nchw_to_cnhw_run(g, 1, N, C, P, fptr(&in), fptr(&out)));
    T_OK(c, dlc_nchw_to_cnhw_run(c, 0, N, C, P, in.h.data, out.h.data));
    snprintf(what, sizeof what, "nchw_to_cnhw %dx%dx%d", N, C, P);
    t_pair_check(g, &out, what, 0, 0);
    T_OK(g, dlc_channel_bias_run(g, 1, fptr(&b), fptr(&y), N, C, P));
    T_OK(c, dlc_channel_bias_run(c, 0, b.h.data, y.h.data, N, C, P));
    snprintf(what, sizeof what, "channel_bias %dx%dx%d", N, C, P);
    t_pair_check(g, &y, what, 0, 0);
    /* The tile of b, N*P times (the output buffer is large enough). */
    T_OK(g, dlc_tile_run(g, 1, fptr(&b), C, N * P, fptr(&out)));
    T_OK(c, dlc_tile_run(c, 0, b.h.data, C, N * P, out.h.data));
    snprintf(what, sizeof what, "tile %d x %d", C, N * P);
    t_pair_check(g, &out, what, 0, 0);
    /* Per-channel sums, accumulating and not, short (a warp each) and long segments (a
     * block each): a float tree against the CPU's double. */
    for (int acc = 0; acc < 2; acc++) {
      T_OK(g, dlc_channel_sum_run(g, 1, fptr(&in), fptr(&b), N, C, P, (int64_t)C * P, 1.f, acc));
      T_OK(c, dlc_channel_sum_run(c, 0, in.h.data, b.h.data, N, C, P, (int64_t)C * P, 1.f, acc));
      snprintf(what, sizeof what, "channel_sum %dx%dx%d acc=%d", N, C, P, acc);
      t_pair_check(g, &b, what, 1e-10, 1e-3);
    }
    /* Then as global average pooling: each of N*C planes over P. */
    t_pair planes;
    int64_t nc = (int64_t)N * C;
    t_pair_init(g, c, &planes, 1, &nc, 204, -1, 1);
    T_OK(g, dlc_channel_sum_run(g, 1, fptr(&in), fptr(&planes), 1, nc, P, 0, (float)P, 0));
    T_OK(c, dlc_channel_sum_run(c, 0, in.h.data, planes.h.data, 1, nc, P, 0, (float)P, 0));
    snprintf(what, sizeof what, "plane means %lldx%d", (long long)nc, P);
    t_pair_check(g, &planes, what, 1e-10, 1e-5);
    /* Determinism: the same sum twice gives the same bits. */
    float *first = malloc((size_t)nc * 4);
    if (t_guarded_download(g, &planes.d, first, "plane means (first)")) {
      T_OK(g, dlc_channel_sum_run(g, 1, fptr(&in), fptr(&planes), 1, nc, P, 0, (float)P, 0));
      t_pair_check_against(g, &planes, first, "plane means rerun, bit for bit", 0, 0);
    }
    free(first);
    t_pair_free(g, c, &planes);
    t_pair_free(g, c, &in); t_pair_free(g, c, &out); t_pair_free(g, c, &b); t_pair_free(g, c, &y);
  }
}

/* ---------------------------------------------------------------- whole convolutions */

typedef struct conv_case {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, g;
} conv_case;

static const conv_case cases[] = {
    {3, 5, 17, 13, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {33, 4, 9, 11, 6, 3, 2, 2, 1, 1, 0, 2, 1, 2},
    {2, 16, 31, 29, 16, 3, 3, 2, 2, 1, 1, 1, 1, 16},  /* depthwise */
    {3, 8, 13, 11, 16, 3, 3, 1, 1, 1, 1, 1, 1, 8},    /* depthwise, multiplier 2 */
    {5, 24, 15, 15, 12, 1, 1, 1, 1, 0, 0, 1, 1, 1},   /* 1x1: no im2col */
    {4, 12, 14, 14, 8, 1, 1, 1, 1, 0, 0, 1, 1, 4},    /* grouped 1x1 */
    {3, 6, 9, 9, 5, 1, 1, 2, 2, 0, 0, 1, 1, 1},       /* 1x1 stride 2: im2col */
    {2, 3, 64, 48, 32, 5, 5, 1, 1, 2, 2, 1, 1, 1},
    {7, 8, 6, 7, 9, 7, 7, 1, 1, 3, 3, 1, 1, 1},       /* kernel larger than the input */
    {1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1},     /* LeNet's first, batch 1 */
    {2, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1},
};
static const int num_cases = (int)(sizeof cases / sizeof cases[0]);

static dlc_conv2d_params params_of(const conv_case *k, dlc_conv_algo algo) {
  dlc_conv2d_params p = dlc_conv2d_params_make(k->c, k->o, k->kh, k->kw);
  p.stride_h = k->sh; p.stride_w = k->sw;
  p.pad_h = k->ph; p.pad_w = k->pw;
  p.dilation_h = k->dh; p.dilation_w = k->dw;
  p.groups = k->g;
  p.algo = algo;
  return p;
}

/* Host references for one case: y, dx, dw, db from the CPU path, gradients accumulated
 * onto the same starting values the device buffers hold. */
typedef struct conv_run {
  t_pair x, w, b, dy, y, dx, dw, db;
} conv_run;

static void run_init(dlc_ctx *g, dlc_ctx *c, conv_run *r, const conv_case *k, int64_t oh, int64_t ow) {
  int64_t xs[4] = {k->n, k->c, k->h, k->w}, ws[4] = {k->o, k->c / k->g, k->kh, k->kw};
  int64_t ys[4] = {k->n, k->o, oh, ow};
  t_pair_init(g, c, &r->x, 4, xs, 1, -1, 1);
  t_pair_init(g, c, &r->w, 4, ws, 2, -0.3f, 0.3f);
  t_pair_init(g, c, &r->b, 1, &k->o, 3, -0.5f, 0.5f);
  t_pair_init(g, c, &r->dy, 4, ys, 4, -1, 1);
  t_pair_init(g, c, &r->y, 4, ys, 5, -1, 1);
  t_pair_init(g, c, &r->dx, 4, xs, 6, -1, 1);
  t_pair_init(g, c, &r->dw, 4, ws, 7, -1, 1);
  t_pair_init(g, c, &r->db, 1, &k->o, 8, -1, 1);
}

static void run_free(dlc_ctx *g, dlc_ctx *c, conv_run *r) {
  t_pair *all[] = {&r->x, &r->w, &r->b, &r->dy, &r->y, &r->dx, &r->dw, &r->db};
  for (int i = 0; i < 8; i++) t_pair_free(g, c, all[i]);
}

static dlc_tensor alloc_ws(dlc_ctx *ctx, const dlc_conv2d_state *s) {
  dlc_tensor t;
  memset(&t, 0, sizeof t);
  int64_t n = (int64_t)((dlc_conv2d_workspace_bytes(s) + 3) / 4);
  if (n > 0) T_OK(ctx, dlc_tensor_alloc(ctx, &t, DLC_F32, 1, &n, dlc_ctx_device(ctx)));
  return t;
}

/* Forward and both backwards with state s on the device; references on the CPU. The
 * device gradients start from the host's starting values (uploaded again). */
static void compare_state(dlc_ctx *g, dlc_ctx *c, dlc_conv2d_state *s, dlc_conv2d_state *hs,
                          conv_run *r, const char *tag, double tol_nse, double tol_abs) {
  dlc_tensor ws = alloc_ws(g, s), hws = alloc_ws(c, hs);
  dlc_tensor *wsp = ws.data ? &ws : NULL, *hwsp = hws.data ? &hws : NULL;
  /* Fresh starting values for the accumulated gradients on both sides. */
  t_fill_uniform(r->dx.h.data, r->dx.h.numel, 6, -1, 1);
  t_fill_uniform(r->dw.h.data, r->dw.h.numel, 7, -1, 1);
  t_fill_uniform(r->db.h.data, r->db.h.numel, 8, -1, 1);
  t_guarded_upload(g, &r->dx.d, r->dx.h.data);
  t_guarded_upload(g, &r->dw.d, r->dw.h.data);
  t_guarded_upload(g, &r->db.d, r->db.h.data);
  T_OK(g, dlc_conv2d_forward(g, s, &r->x.d.t, &r->w.d.t, &r->b.d.t, &r->y.d.t, wsp));
  T_OK(c, dlc_conv2d_forward(c, hs, &r->x.h, &r->w.h, &r->b.h, &r->y.h, hwsp));
  T_OK(g, dlc_conv2d_backward_data(g, s, &r->dy.d.t, &r->w.d.t, &r->dx.d.t, wsp));
  T_OK(c, dlc_conv2d_backward_data(c, hs, &r->dy.h, &r->w.h, &r->dx.h, hwsp));
  T_OK(g, dlc_conv2d_backward_weights(g, s, &r->x.d.t, &r->dy.d.t, &r->dw.d.t, &r->db.d.t, wsp));
  T_OK(c, dlc_conv2d_backward_weights(c, hs, &r->x.h, &r->dy.h, &r->dw.h, &r->db.h, hwsp));
  /* The absolute limits grow with what each output sums (t_sum_tol), with run_init's
   * ranges (|x|, |dy| <= 1, |w| <= 0.3, |b| <= 0.5) and the starting values (|.| <= 1) the
   * gradients accumulate onto: y sums C/g*kh*kw products, dx O/g*kh*kw, dw and db
   * N*Ho*Wo. */
  const dlc_conv2d_params *p = &hs->p;
  int64_t taps = p->kernel_h * p->kernel_w, px = r->x.h.shape[0] * hs->out_h * hs->out_w;
  double ty = fmax(tol_abs, t_sum_tol(p->in_channels / p->groups * taps + 1, 0.5)),
         tdx = fmax(tol_abs, t_sum_tol(p->out_channels / p->groups * taps + 2, 1.0)),
         tdw = fmax(tol_abs * 10, t_sum_tol(px + 2, 1.0));
  char what[160];
  snprintf(what, sizeof what, "%s y", tag);
  t_pair_check(g, &r->y, what, tol_nse, ty);
  snprintf(what, sizeof what, "%s dx", tag);
  t_pair_check(g, &r->dx, what, tol_nse, tdx);
  snprintf(what, sizeof what, "%s dw", tag);
  t_pair_check(g, &r->dw, what, tol_nse, tdw);
  snprintf(what, sizeof what, "%s db", tag);
  t_pair_check(g, &r->db, what, tol_nse, tdw);
  dlc_tensor_free(g, &ws);
  dlc_tensor_free(c, &hws);
}

static dlc_ctx *gpu_ctx_with(size_t limit, int tf32) {
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = DLC_DEVICE_CUDA;
  o.seed = 7;
  o.workspace_limit = limit;
  o.allow_tf32 = tf32;
  dlc_ctx *ctx = NULL;
  if (dlc_ctx_create(&ctx, &o) != DLC_OK) {
    fprintf(stderr, "FAIL: CUDA context: %s\n", dlc_ctx_error(ctx));
    exit(1);
  }
  return ctx;
}

/* Exact fp32 on both sides: only the GEMMs' summation order differs. */
#define TOL_NSE 1e-10
#define TOL_ABS 2e-4

static void test_im2col_path(dlc_ctx *g, dlc_ctx *c) {
  for (int k = 0; k < num_cases; k++) {
    const conv_case *q = &cases[k];
    dlc_conv2d_params p = params_of(q, DLC_CONV_IM2COL);
    dlc_conv2d_state *s = NULL, *hs = NULL;
    T_OK(g, dlc_conv2d_create(g, &p, q->n, q->h, q->w, &s));
    T_OK(c, dlc_conv2d_create(c, &p, q->n, q->h, q->w, &hs));
    if (!s || !hs) continue;
    conv_run r;
    run_init(g, c, &r, q, s->out_h, s->out_w);
    char tag[128];
    snprintf(tag, sizeof tag, "im2col case %d [%lld,%lld,%lld,%lld]->%lld g%lld", k, (long long)q->n,
             (long long)q->c, (long long)q->h, (long long)q->w, (long long)q->o, (long long)q->g);
    compare_state(g, c, s, hs, &r, tag, TOL_NSE, TOL_ABS);

    /* A second pass allocates no device memory: the workspace and every buffer exist. */
    dlc_tensor ws = alloc_ws(g, s);
    dlc_memory_stats before = dlc_ctx_memory_stats(g);
    dlc_tensor *wsp = ws.data ? &ws : NULL;
    T_OK(g, dlc_conv2d_forward(g, s, &r.x.d.t, &r.w.d.t, &r.b.d.t, &r.y.d.t, wsp));
    T_OK(g, dlc_conv2d_backward_data(g, s, &r.dy.d.t, &r.w.d.t, &r.dx.d.t, wsp));
    T_OK(g, dlc_conv2d_backward_weights(g, s, &r.x.d.t, &r.dy.d.t, &r.dw.d.t, &r.db.d.t, wsp));
    dlc_memory_stats after = dlc_ctx_memory_stats(g);
    T_CHECK(after.device_mallocs == before.device_mallocs && after.bytes_in_use == before.bytes_in_use,
            "%s: a step allocated (%llu -> %llu mallocs)", tag,
            (unsigned long long)before.device_mallocs, (unsigned long long)after.device_mallocs);
    dlc_tensor_free(g, &ws);
    run_free(g, c, &r);
    dlc_conv2d_destroy(g, s);
    dlc_conv2d_destroy(c, hs);
  }
}

/* Under a limit of about two images' scratch: chunks on the GPU, one pass on the CPU. */
static void test_chunked(dlc_ctx *c) {
  const int picks[] = {1, 3, 7};
  for (int i = 0; i < 3; i++) {
    const conv_case *q = &cases[picks[i]];
    dlc_conv2d_params p = params_of(q, DLC_CONV_IM2COL);
    dlc_conv2d_state *hs = NULL;
    T_OK(c, dlc_conv2d_create(c, &p, q->n, q->h, q->w, &hs));
    if (!hs) continue;
    size_t two = 0;
    for (int d = 0; d < DLC_CONV_DIRS; d++) {
      size_t b = (size_t)dlc_conv_ws_layout_for(hs, d, 2).total * 4;
      if (b > two) two = b;
    }
    dlc_ctx *g = gpu_ctx_with(two, 0);
    dlc_conv2d_state *s = NULL;
    T_OK(g, dlc_conv2d_create(g, &p, q->n, q->h, q->w, &s));
    if (s) {
      conv_run r;
      run_init(g, c, &r, q, s->out_h, s->out_w);
      char tag[128];
      snprintf(tag, sizeof tag, "im2col case %d chunked %lld/%lld/%lld", picks[i],
               (long long)s->chunk[0], (long long)s->chunk[1], (long long)s->chunk[2]);
      T_CHECK(s->chunk[2] <= 2, "%s: a chunk of two at most", tag);
      compare_state(g, c, s, hs, &r, tag, TOL_NSE, TOL_ABS);
      run_free(g, c, &r);
      dlc_conv2d_destroy(g, s);
    }
    dlc_ctx_destroy(g);
    dlc_conv2d_destroy(c, hs);
  }
}

static void test_cudnn(dlc_ctx *c) {
  dlc_ctx *g = gpu_ctx_with(0, 0);
  if (!dlc_ctx_cudnn_handle(g)) {
    printf("cuDNN: not in this build, its checks skipped\n");
    dlc_conv2d_params p = params_of(&cases[0], DLC_CONV_CUDNN);
    dlc_conv2d_state *s = NULL;
    T_FAILS(g, DLC_ERR_UNSUPPORTED, "built without cuDNN", dlc_conv2d_create(g, &p, 3, 17, 13, &s));
    dlc_ctx_destroy(g);
    return;
  }
  dlc_ctx *gt = gpu_ctx_with(0, 1);
  for (int k = 0; k < num_cases; k++) {
    const conv_case *q = &cases[k];
    /* The variants below (non-deterministic algorithms, smaller batches, TF32) on a few
     * cases only: each state searches cuDNN's algorithms, slow under compute-sanitizer. */
    int more = k == 1 || k == 2 || k == 10;
    dlc_conv2d_state *hs = NULL;
    dlc_conv2d_params ph = params_of(q, DLC_CONV_IM2COL);
    T_OK(c, dlc_conv2d_create(c, &ph, q->n, q->h, q->w, &hs));
    if (!hs) continue;
    const dlc_conv_algo algos[2] = {DLC_CONV_CUDNN, DLC_CONV_AUTO};
    for (int a = 0; a < 2; a++) {
      for (int nondet = 0; nondet < 2; nondet++) {
        if (nondet && (a == 1 || !more)) continue;
        dlc_conv2d_params p = params_of(q, algos[a]);
        p.cudnn_nondeterministic = nondet;
        dlc_conv2d_state *s = NULL;
        T_OK(g, dlc_conv2d_create(g, &p, q->n, q->h, q->w, &s));
        if (!s) continue;
        char tag[160];
        snprintf(tag, sizeof tag, "%s%s case %d (cudnn %d%d%d, ws %zu)", a ? "auto" : "cudnn",
                 nondet ? " nondet" : "", k, s->use_cudnn[0], s->use_cudnn[1], s->use_cudnn[2],
                 dlc_conv2d_workspace_bytes(s));
        T_CHECK(dlc_conv2d_workspace_bytes(s) <= dlc_ctx_workspace_limit(g), "%s: over the limit", tag);
        if (a == 0)
          T_CHECK(s->use_cudnn[0] + s->use_cudnn[1] + s->use_cudnn[2] >= 1,
                  "%s: cuDNN found no algorithm for any direction", tag);
        if (a == 1)
          for (int d = 0; d < DLC_CONV_DIRS; d++) {
            printf("  auto case %d direction %d: im2col %.4f ms, cudnn %.4f ms -> %s\n", k, d,
                   s->ms_im2col[d], s->ms_cudnn[d], s->use_cudnn[d] ? "cudnn" : "im2col");
            if (s->ms_cudnn[d] > 0)
              T_CHECK(s->use_cudnn[d] == (s->ms_cudnn[d] < s->ms_im2col[d]),
                      "%s: direction %d keeps the slower path", tag, d);
          }
        conv_run r;
        run_init(g, c, &r, q, s->out_h, s->out_w);
        /* Non-deterministic algorithms sum in another order, nothing worse. */
        compare_state(g, c, s, hs, &r, tag, TOL_NSE, TOL_ABS);
        run_free(g, c, &r);
        dlc_conv2d_destroy(g, s);
      }
    }
    /* Fewer images than the state was built for: cuDNN re-describes the batch (or
     * falls back to im2col when its workspace would not fit). */
    if (more && q->n > 1) {
      dlc_conv2d_params p = params_of(q, DLC_CONV_CUDNN);
      dlc_conv2d_state *s = NULL;
      T_OK(g, dlc_conv2d_create(g, &p, q->n + 5, q->h, q->w, &s));
      if (s) {
        conv_run r;
        run_init(g, c, &r, q, s->out_h, s->out_w);
        char tag[96];
        snprintf(tag, sizeof tag, "cudnn case %d, %lld of %lld images", k, (long long)q->n,
                 (long long)q->n + 5);
        compare_state(g, c, s, hs, &r, tag, TOL_NSE, TOL_ABS);
        run_free(g, c, &r);
        dlc_conv2d_destroy(g, s);
      }
    }
    /* TF32 on both GPU paths (10-bit mantissas): looser, against exact fp32. */
    for (int a = 0; a < 2 && more; a++) {
      dlc_conv2d_params p = params_of(q, a ? DLC_CONV_CUDNN : DLC_CONV_IM2COL);
      dlc_conv2d_state *s = NULL;
      T_OK(gt, dlc_conv2d_create(gt, &p, q->n, q->h, q->w, &s));
      if (!s) continue;
      conv_run r;
      run_init(gt, c, &r, q, s->out_h, s->out_w);
      char tag[96];
      snprintf(tag, sizeof tag, "%s TF32 case %d", a ? "cudnn" : "im2col", k);
      compare_state(gt, c, s, hs, &r, tag, 1e-5, 5e-2);
      run_free(gt, c, &r);
      dlc_conv2d_destroy(gt, s);
    }
    dlc_conv2d_destroy(c, hs);
  }
  /* A limit too small for any cuDNN workspace leaves only zero-workspace algorithms (or
   * im2col); the results hold either way. */
  const conv_case *q = &cases[7];
  dlc_conv2d_params p = params_of(q, DLC_CONV_CUDNN), ph = params_of(q, DLC_CONV_IM2COL);
  dlc_conv2d_state *hs = NULL, *probe = NULL;
  T_OK(c, dlc_conv2d_create(c, &ph, q->n, q->h, q->w, &hs));
  T_OK(c, dlc_conv2d_create(c, &ph, q->n, q->h, q->w, &probe));
  if (hs && probe) {
    size_t one = 0;
    for (int d = 0; d < DLC_CONV_DIRS; d++) {
      size_t b = (size_t)dlc_conv_ws_layout_for(probe, d, 1).total * 4;
      if (b > one) one = b;
    }
    dlc_ctx *gs = gpu_ctx_with(one, 0);
    dlc_conv2d_state *s = NULL;
    T_OK(gs, dlc_conv2d_create(gs, &p, q->n, q->h, q->w, &s));
    if (s) {
      conv_run r;
      run_init(gs, c, &r, q, s->out_h, s->out_w);
      char tag[96];
      snprintf(tag, sizeof tag, "cudnn under a %zu-byte limit (cudnn %d%d%d)", one, s->use_cudnn[0],
               s->use_cudnn[1], s->use_cudnn[2]);
      compare_state(gs, c, s, hs, &r, tag, TOL_NSE, TOL_ABS);
      run_free(gs, c, &r);
      dlc_conv2d_destroy(gs, s);
    }
    dlc_ctx_destroy(gs);
  }
  dlc_conv2d_destroy(c, hs);
  dlc_conv2d_destroy(c, probe);
  T_OK(g, dlc_ctx_synchronize(g));
  T_OK(gt, dlc_ctx_synchronize(gt));
  dlc_ctx_destroy(gt);
  dlc_ctx_destroy(g);
}

int main(void) {
  dlc_ctx *g = t_gpu_ctx_or_skip(7), *c = t_cpu_ctx(7);
  test_blocks(g, c);
  test_im2col_path(g, c);
  test_chunked(c);
  test_cudnn(c);
  T_OK(g, dlc_ctx_synchronize(g));
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_conv");
}
