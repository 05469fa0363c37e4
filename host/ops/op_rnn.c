/* Recurrent layers forward and backward through time (rnn.h): argument checks, then per
 * layer one input-projection GEMM, per step one recurrent GEMM and one fused cell step (the
 * bodies in kernels/rnn_cell.h, run by a CPU loop or the CUDA launcher), and in backward
 * one GEMM each for dW_ih, dW_hh and dx after the loop. */
#include <stdio.h>
#include <string.h>

#include "../../kernels/rnn_cell.h"
#include "ops/ops.h"

/* What one call works with, checked. Sequence operands are addressed by step and row:
 * time-major (t, n) at (t * N + n) * width, batch-first at (n * T + t) * width. */
typedef struct rnn_call {
  dlc_ctx *ctx;
  const dlc_rnn_state *s;
  const dlc_rnn_desc *d;
  int64_t T, N, F, H, G;
  int L, ppl, cuda;
  dlc_device dev;
  dlc_rnn_plan plan;
} rnn_call;

static const char *mname(const rnn_call *c) { return dlc_rnn_mode_name(c->d->mode); }

/* Offset of step t's first row and the row stride, for a sequence of rows `width` wide. */
static int64_t seq_step(const rnn_call *c, int batch_first, int64_t t, int64_t width) {
  return batch_first ? t * width : t * c->N * width;
}
static int64_t seq_ld(const rnn_call *c, int batch_first, int64_t width) {
  return batch_first ? c->T * width : width;
}

static const char *dims_str(int ndim, const int64_t *d, char *buf, size_t len) {
  int k = snprintf(buf, len, "[");
  for (int i = 0; i < ndim && k < (int)len; i++)
    k += snprintf(buf + k, len - (size_t)k, i ? ", %lld" : "%lld", (long long)d[i]);
  if (k < (int)len) snprintf(buf + k, len - (size_t)k, "]");
  return buf;
}

/* t is a float32 tensor of exactly `want` (described by `names`), on x's device. */
static dlc_status want_shape(rnn_call *c, const dlc_tensor *t, const char *what, int ndim,
                             const int64_t *want, const char *names) {
  DLC_TRY(dlc_check_f32(c->ctx, t, what));
  int ok = t->ndim == ndim;
  for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == want[i];
  if (!ok) {
    char a[96], b[96];
    return DLC_FAIL(c->ctx, DLC_ERR_SHAPE, "rnn %s: %s %s must be %s = %s", mname(c), what,
                    dlc_shape_str(t, a, sizeof a), names, dims_str(ndim, want, b, sizeof b));
  }
  if (t->device.kind != c->dev.kind)
    return DLC_FAIL(c->ctx, DLC_ERR_DEVICE, "rnn %s: %s is on another device than x", mname(c), what);
  return DLC_OK;
}

/* An optional [L, N, H] state tensor (h0, c0, hT, cT and their gradients). */
static dlc_status want_state(rnn_call *c, const dlc_tensor *t, const char *what, int allowed) {
  if (!t) return DLC_OK;
  if (!allowed)
    return DLC_FAIL(c->ctx, DLC_ERR_INVALID_ARG, "rnn %s: %s is only for LSTM; pass NULL", mname(c), what);
  int64_t w[3] = {c->L, c->N, c->H};
  return want_shape(c, t, what, 3, w, "[num_layers, N, hidden_size]");
}

/* y or dy: [T, N, H], [N, T, H] or [N, H]. */
static dlc_status want_output(rnn_call *c, const dlc_tensor *t, const char *what) {
  if (!t) return DLC_OK;
  if (c->d->last_only) {
    int64_t w[2] = {c->N, c->H};
    return want_shape(c, t, what, 2, w, "[N, hidden_size] (last_only)");
  }
  int64_t w[3] = {c->T, c->N, c->H};
  if (c->d->batch_first) {
    w[0] = c->N;
    w[1] = c->T;
    return want_shape(c, t, what, 3, w, "[N, T, hidden_size] (batch_first)");
  }
  return want_shape(c, t, what, 3, w, "[T, N, hidden_size]");
}

static dlc_status want_params(rnn_call *c, const dlc_tensor *p, const char *what) {
  for (int k = 0; k < dlc_rnn_param_count(c->s); k++) {
    dlc_rnn_param_info info;
    DLC_TRY(dlc_rnn_param_get_info(c->ctx, c->s, k, &info));
    char name[64];
    snprintf(name, sizeof name, "%s%s", what, info.name);
    const char *names = info.ndim == 1 ? "[gates * hidden_size]"
                        : info.kind == DLC_RNN_WEIGHT_IH && info.layer == 0
                            ? "[gates * hidden_size, input_size]"
                            : "[gates * hidden_size, hidden_size]";
    DLC_TRY(want_shape(c, &p[k], name, info.ndim, info.shape, names));
  }
  return DLC_OK;
}

static dlc_status want_buffer(rnn_call *c, const dlc_tensor *t, const char *what, int64_t floats,
                              const char *query) {
  if (!t || !t->data)
    return DLC_FAIL(c->ctx, DLC_ERR_INVALID_ARG, "rnn %s: %s is NULL", mname(c), what);
  DLC_TRY(dlc_check_device(c->ctx, t->device));
  if (t->device.kind != c->dev.kind)
    return DLC_FAIL(c->ctx, DLC_ERR_DEVICE, "rnn %s: %s is on another device than x", mname(c), what);
  size_t need = (size_t)floats * sizeof(float);
  if (t->nbytes < need)
    return DLC_FAIL(c->ctx, DLC_ERR_SHAPE,
                    "rnn %s: %s of %zu bytes is smaller than the %zu bytes needed for T = %lld, "
                    "N = %lld (%s)", mname(c), what, t->nbytes, need, (long long)c->T,
                    (long long)c->N, query);
  return DLC_OK;
}

/* Reads T and N from x and checks x and the parameters. */
static dlc_status begin(rnn_call *c, dlc_ctx *ctx, const dlc_rnn_state *s, const dlc_tensor *params,
                        const dlc_tensor *x, int train) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, s);
  DLC_CHECK_NULL(ctx, params);
  DLC_CHECK_NULL(ctx, x);
  c->ctx = ctx;
  c->s = s;
  c->d = &s->desc;
  c->F = s->desc.input_size;
  c->H = s->desc.hidden_size;
  c->G = s->gates * c->H;
  c->L = s->desc.num_layers;
  c->ppl = s->params_per_layer;
  DLC_TRY(dlc_check_f32(ctx, x, "x"));
  c->dev = x->device;
  c->cuda = dlc_on_cuda(x);
  if (x->ndim != 3 || x->shape[2] != c->F) {
    char a[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "rnn %s: x %s must be %s = %lld]", mname(c),
                    dlc_shape_str(x, a, sizeof a), c->d->batch_first ? "[N, T, input_size" : "[T, N, input_size",
                    (long long)c->F);
  }
  c->T = c->d->batch_first ? x->shape[1] : x->shape[0];
  c->N = c->d->batch_first ? x->shape[0] : x->shape[1];
  DLC_TRY(dlc_rnn_plan_make(ctx, s, c->T, c->N, train, &c->plan));
  return want_params(c, params, "");
}

static const float *cptr(const dlc_tensor *t) { return t ? (const float *)t->data : NULL; }
static float *mptr(dlc_tensor *t) { return t ? (float *)t->data : NULL; }
/* Layer l's [N, H] slice of an optional [L, N, H] state. */
static const float *state_at(const rnn_call *c, const dlc_tensor *t, int l) {
  return t ? (const float *)t->data + (int64_t)l * c->N * c->H : NULL;
}
static float *state_at_mut(const rnn_call *c, dlc_tensor *t, int l) {
  return t ? (float *)t->data + (int64_t)l * c->N * c->H : NULL;
}

static const float *param(const rnn_call *c, const dlc_tensor *p, int l, dlc_rnn_param_kind k) {
  if ((k == DLC_RNN_BIAS_IH || k == DLC_RNN_BIAS_HH) && !c->d->bias) return NULL;
  return (const float *)p[l * c->ppl + (int)k].data;
}

static dlc_status gemm(rnn_call *c, int ta, int tb, int64_t M, int64_t N, int64_t K,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc) {
  return dlc_op_gemm(c->ctx, c->dev, ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
}

/* ---------------------------------------------------------------- one step on the CPU */

#define DLC_INLINE static inline __attribute__((always_inline))

DLC_INLINE void fwd_range(int mode, const dlc_rnn_fwd_args *a, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) dlc_rnn_fwd_at(mode, a, i / a->H, i % a->H);
}
DLC_INLINE void bwd_range(int mode, const dlc_rnn_bwd_args *a, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) dlc_rnn_bwd_at(mode, a, i / a->H, i % a->H);
}

/* One inlined loop per mode, the switch inside the parallel region (see dlc_omp_range).
 * The threshold is high on purpose: every step alternates the cell with an OpenBLAS GEMM, and
 * OpenMP workers that spin after a region starve OpenBLAS's own threads (measured up to 25x
 * slower on a loaded 2-core machine with N * H = 4096). A step's cell is a few percent of its
 * GEMM, so it runs on one thread unless it is large. */
#define DLC_RNN_CELL_PARALLEL_MIN ((int64_t)1 << 16)
#define DLC_RNN_CPU_SWITCH(mode, RANGE)                                        \
  switch (mode) {                                                              \
    case DLC_K_RNN_TANH: RANGE(DLC_K_RNN_TANH); break;                         \
    case DLC_K_RNN_RELU: RANGE(DLC_K_RNN_RELU); break;                         \
    case DLC_K_RNN_LSTM: RANGE(DLC_K_RNN_LSTM); break;                         \
    default: RANGE(DLC_K_RNN_GRU); break;                                      \
  }

static dlc_status fwd_step(rnn_call *c, const dlc_rnn_fwd_args *a) {
  if (c->cuda) return DLC_LAUNCH(c->ctx, "rnn_fwd_step", dlc_launch_rnn_fwd_step(a, c->ctx->stream));
  int64_t n = a->N * a->H;
#pragma omp parallel if (n >= DLC_RNN_CELL_PARALLEL_MIN) num_threads(dlc_cpu_threads(c->ctx))
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
#define RANGE(M) fwd_range(M, a, lo, hi)
    DLC_RNN_CPU_SWITCH(a->mode, RANGE)
#undef RANGE
  }
  return DLC_OK;
}

static dlc_status bwd_step(rnn_call *c, const dlc_rnn_bwd_args *a) {
  if (c->cuda) return DLC_LAUNCH(c->ctx, "rnn_bwd_step", dlc_launch_rnn_bwd_step(a, c->ctx->stream));
  int64_t n = a->N * a->H;
#pragma omp parallel if (n >= DLC_RNN_CELL_PARALLEL_MIN) num_threads(dlc_cpu_threads(c->ctx))
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
#define RANGE(M) bwd_range(M, a, lo, hi)
    DLC_RNN_CPU_SWITCH(a->mode, RANGE)
#undef RANGE
  }
  return DLC_OK;
}

/* ---------------------------------------------------------------- forward */

dlc_status dlc_op_rnn_fwd(dlc_ctx *ctx, const dlc_rnn_state *s, const dlc_tensor *params,
                          const dlc_tensor *x, const dlc_tensor *h0, const dlc_tensor *c0,
                          dlc_tensor *y, dlc_tensor *hT, dlc_tensor *cT, dlc_tensor *workspace,
                          dlc_tensor *reserve, int train) {
  rnn_call c;
  train = train != 0;
  DLC_TRY(begin(&c, ctx, s, params, x, train));
  const int lstm = c.d->mode == DLC_RNN_LSTM, gru = c.d->mode == DLC_RNN_GRU;
  DLC_TRY(want_state(&c, h0, "h0", 1));
  DLC_TRY(want_state(&c, c0, "c0", lstm));
  DLC_TRY(want_output(&c, y, "y"));
  DLC_TRY(want_state(&c, hT, "hT", 1));
  DLC_TRY(want_state(&c, cT, "cT", lstm));
  DLC_TRY(want_buffer(&c, workspace, "workspace", c.plan.ws_floats, "dlc_rnn_workspace_bytes"));
  if (train) DLC_TRY(want_buffer(&c, reserve, "reserve", c.plan.res_floats, "dlc_rnn_reserve_bytes"));

  const dlc_rnn_plan *p = &c.plan;
  const int64_t T = c.T, N = c.N, H = c.H, G = c.G, NH = N * H;
  float *ws = workspace->data;
  for (int l = 0; l < c.L; l++) {
    float *res = train ? (float *)reserve->data + l * p->res_layer : NULL;
    /* The layer's input and where its outputs go: the reserve when training, else one
     * workspace sequence that layer l overwrites once its input is projected. */
    const int in_bf = l == 0 && c.d->batch_first;
    const int64_t in = l == 0 ? c.F : H;
    const float *X = l == 0 ? (const float *)x->data
                            : train ? (const float *)reserve->data + (l - 1) * p->res_layer + p->res_h
                                    : ws + p->ws_seq;
    float *Hl = train ? res + p->res_h : ws + p->ws_seq;
    float *xproj = ws + p->ws_xproj, *hproj = ws + p->ws_hproj;
    DLC_TRY(gemm(&c, 0, 1, T * N, G, in, X, in, param(&c, params, l, DLC_RNN_WEIGHT_IH), in, 0.f,
                 xproj, G));
    const float *w_hh = param(&c, params, l, DLC_RNN_WEIGHT_HH);
    const int top = l == c.L - 1;
    for (int64_t t = 0; t < T; t++) {
      const float *h_prev = t == 0 ? state_at(&c, h0, l) : Hl + (t - 1) * NH;
      if (h_prev) DLC_TRY(gemm(&c, 0, 1, N, G, H, h_prev, H, w_hh, H, 0.f, hproj, G));
      dlc_rnn_fwd_args a;
      memset(&a, 0, sizeof a);
      a.mode = (int)c.d->mode;
      a.N = N;
      a.H = H;
      a.xp = xproj + seq_step(&c, in_bf, t, G);
      a.xp_ld = seq_ld(&c, in_bf, G);
      a.hp = h_prev ? hproj : NULL;
      a.b_ih = param(&c, params, l, DLC_RNN_BIAS_IH);
      a.b_hh = param(&c, params, l, DLC_RNN_BIAS_HH);
      a.h = Hl + t * NH;
      if (lstm) {
        float *cs = train ? res + p->res_aux : ws + p->ws_c; /* inference: one c, in place */
        a.c_prev = t == 0 ? state_at(&c, c0, l) : train ? cs + (t - 1) * NH : cs;
        a.c = train ? cs + t * NH : cs;
      }
      if (gru) {
        a.h_prev = h_prev;
        a.hn = train ? res + p->res_aux + t * NH : NULL;
      }
      a.gates = train && (lstm || gru) ? res + p->res_gates + t * N * G : NULL;
      if (top && y) {
        if (!c.d->last_only) {
          a.y = mptr(y) + seq_step(&c, c.d->batch_first, t, H);
          a.y_ld = seq_ld(&c, c.d->batch_first, H);
        } else if (t == T - 1) {
          a.y = mptr(y);
          a.y_ld = H;
        }
      }
      if (t == T - 1) {
        a.h_last = state_at_mut(&c, hT, l);
        a.c_last = state_at_mut(&c, cT, l);
      }
      DLC_TRY(fwd_step(&c, &a));
    }
  }
  return DLC_OK;
}

/* ---------------------------------------------------------------- backward */

dlc_status dlc_op_rnn_bwd(dlc_ctx *ctx, const dlc_rnn_state *s, const dlc_tensor *params,
                          const dlc_tensor *x, const dlc_tensor *h0, const dlc_tensor *c0,
                          const dlc_tensor *dy, const dlc_tensor *dhT, const dlc_tensor *dcT,
                          dlc_tensor *dx, dlc_tensor *dh0, dlc_tensor *dc0, dlc_tensor *grads,
                          dlc_tensor *workspace, const dlc_tensor *reserve) {
  rnn_call c;
  DLC_TRY(begin(&c, ctx, s, params, x, 1));
  const int lstm = c.d->mode == DLC_RNN_LSTM, gru = c.d->mode == DLC_RNN_GRU;
  DLC_TRY(want_state(&c, h0, "h0", 1));
  DLC_TRY(want_state(&c, c0, "c0", lstm));
  DLC_TRY(want_output(&c, dy, "dy"));
  DLC_TRY(want_state(&c, dhT, "dhT", 1));
  DLC_TRY(want_state(&c, dcT, "dcT", lstm));
  if (dx) {
    int64_t w[3] = {c.T, c.N, c.F};
    if (c.d->batch_first) w[0] = c.N, w[1] = c.T;
    DLC_TRY(want_shape(&c, dx, "dx", 3, w, "x's shape"));
  }
  DLC_TRY(want_state(&c, dh0, "dh0", 1));
  DLC_TRY(want_state(&c, dc0, "dc0", lstm));
  if (grads) DLC_TRY(want_params(&c, grads, "gradient of "));
  DLC_TRY(want_buffer(&c, workspace, "workspace", c.plan.ws_floats, "dlc_rnn_workspace_bytes with train = 1"));
  DLC_TRY(want_buffer(&c, reserve, "reserve", c.plan.res_floats, "dlc_rnn_reserve_bytes"));

  const dlc_rnn_plan *p = &c.plan;
  const int64_t T = c.T, N = c.N, H = c.H, G = c.G, NH = N * H;
  float *ws = workspace->data;
  float *dgx = ws + p->ws_dgx, *dh_buf = ws + p->ws_dh;
  float *dc_buf = lstm ? ws + p->ws_dc : NULL;
  float *dseq = c.L > 1 ? ws + p->ws_dseq : NULL;
  for (int l = c.L - 1; l >= 0; l--) {
    const float *res = (const float *)reserve->data + l * p->res_layer;
    const int in_bf = l == 0 && c.d->batch_first, top = l == c.L - 1;
    const int64_t in = l == 0 ? c.F : H;
    const float *X = l == 0 ? (const float *)x->data
                            : (const float *)reserve->data + (l - 1) * p->res_layer + p->res_h;
    const float *Hl = res + p->res_h;
    const float *w_hh = param(&c, params, l, DLC_RNN_WEIGHT_HH);
    const float *h0l = state_at(&c, h0, l);
    /* The recurrent-side gradient, time-major: its own buffer for GRU (it differs from the
     * input side's) and for a batch-first input (whose gradient rows go batch-first). */
    float *dgh = gru || in_bf ? ws + p->ws_dgh : NULL;
    const float *dgh_all = dgh ? dgh : dgx;
    for (int64_t t = T - 1; t >= 0; t--) {
      dlc_rnn_bwd_args a;
      memset(&a, 0, sizeof a);
      a.mode = (int)c.d->mode;
      a.N = N;
      a.H = H;
      if (!top) {
        a.dy = dseq + t * NH;
        a.dy_ld = H;
      } else if (dy && !c.d->last_only) {
        a.dy = cptr(dy) + seq_step(&c, c.d->batch_first, t, H);
        a.dy_ld = seq_ld(&c, c.d->batch_first, H);
      } else if (dy && t == T - 1) {
        a.dy = cptr(dy);
        a.dy_ld = H;
      }
      a.dh_rec = t == T - 1 ? state_at(&c, dhT, l) : dh_buf;
      a.h = Hl + t * NH;
      if (lstm || gru) a.gates = res + p->res_gates + t * N * G;
      if (lstm) {
        const float *cs = res + p->res_aux;
        a.c = cs + t * NH;
        a.c_prev = t == 0 ? state_at(&c, c0, l) : cs + (t - 1) * NH;
        a.dc_in = t == T - 1 ? state_at(&c, dcT, l) : dc_buf;
        a.dc_prev = t == 0 ? state_at_mut(&c, dc0, l) : dc_buf;
        a.dc_acc = t == 0;
      }
      if (gru) {
        a.hn = res + p->res_aux + t * NH;
        a.h_prev = t == 0 ? h0l : Hl + (t - 1) * NH;
        a.dh_prev = t == 0 ? state_at_mut(&c, dh0, l) : dh_buf;
        a.dh_acc = t == 0;
      }
      a.dgx = dgx + seq_step(&c, in_bf, t, G);
      a.dgx_ld = seq_ld(&c, in_bf, G);
      a.dgh = dgh ? dgh + t * N * G : NULL;
      DLC_TRY(bwd_step(&c, &a));
      /* dL/dh_{t-1} through W_hh; GRU adds to the direct part the step just wrote. */
      const float *dgh_t = dgh_all + t * N * G;
      if (t > 0)
        DLC_TRY(gemm(&c, 0, 0, N, H, G, dgh_t, G, w_hh, H, gru ? 1.f : 0.f, dh_buf, H));
      else if (dh0)
        DLC_TRY(gemm(&c, 0, 0, N, H, G, dgh_t, G, w_hh, H, 1.f, state_at_mut(&c, dh0, l), H));
    }
    if (grads) {
      dlc_tensor *g = grads + l * c.ppl;
      /* dW_ih += dG_x^T X over all T * N rows (both in the input's row order). */
      DLC_TRY(gemm(&c, 1, 0, G, in, T * N, dgx, G, X, in, 1.f, mptr(&g[DLC_RNN_WEIGHT_IH]), in));
      /* dW_hh += sum_t dG_h(t)^T h_{t-1}: steps 1.. pair with the stored h of steps ..T-2. */
      float *dwhh = mptr(&g[DLC_RNN_WEIGHT_HH]);
      if (T > 1) DLC_TRY(gemm(&c, 1, 0, G, H, (T - 1) * N, dgh_all + N * G, G, Hl, H, 1.f, dwhh, H));
      if (h0l) DLC_TRY(gemm(&c, 1, 0, G, H, N, dgh_all, G, h0l, H, 1.f, dwhh, H));
      if (c.d->bias) {
        dlc_tensor vx, vh;
        int64_t shape[2] = {T * N, G};
        DLC_TRY(dlc_tensor_borrow(ctx, &vx, dgx, DLC_F32, 2, shape, c.dev));
        DLC_TRY(dlc_tensor_borrow(ctx, &vh, (float *)dgh_all, DLC_F32, 2, shape, c.dev));
        DLC_TRY(dlc_op_bias_grad(ctx, &vx, &g[DLC_RNN_BIAS_IH]));
        DLC_TRY(dlc_op_bias_grad(ctx, &vh, &g[DLC_RNN_BIAS_HH]));
      }
    }
    /* The gradient reaching this layer's input: the layer below's output, or dx. */
    const float *w_ih = param(&c, params, l, DLC_RNN_WEIGHT_IH);
    if (l > 0)
      DLC_TRY(gemm(&c, 0, 0, T * N, H, G, dgx, G, w_ih, H, 0.f, dseq, H));
    else if (dx)
      DLC_TRY(gemm(&c, 0, 0, T * N, c.F, G, dgx, G, w_ih, c.F, 1.f, mptr(dx), c.F));
  }
  return DLC_OK;
}
