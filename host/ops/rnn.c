/* Recurrent layer state: validation, the PyTorch parameter layout, initialisation, and the
 * plan of the workspace and reserve buffers (rnn.h). */
#include "ops/rnn.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

static const char *const mode_names[DLC_RNN_MODE_COUNT] = {"RNN_TANH", "RNN_RELU", "LSTM", "GRU"};
const char *dlc_rnn_mode_name(dlc_rnn_mode m) {
  return (int)m >= 0 && m < DLC_RNN_MODE_COUNT ? mode_names[m] : "?";
}

static const char *const kind_names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};

dlc_rnn_desc dlc_rnn_desc_make(dlc_rnn_mode mode, int64_t input_size, int64_t hidden_size,
                               int num_layers) {
  dlc_rnn_desc d = {mode, input_size, hidden_size, num_layers, 1, 0, 0};
  return d;
}

dlc_status dlc_rnn_create(dlc_ctx *ctx, const dlc_rnn_desc *desc, dlc_rnn_state **out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  DLC_CHECK_NULL(ctx, desc);
  if ((int)desc->mode < 0 || desc->mode >= DLC_RNN_MODE_COUNT)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "rnn: mode %d is not a dlc_rnn_mode", (int)desc->mode);
  /* Sizes must fit the BLAS int range, and a layer's gate rows (4 H) too. */
  if (desc->input_size < 1 || desc->hidden_size < 1 || desc->num_layers < 1 ||
      desc->input_size > INT_MAX || desc->hidden_size > INT_MAX / 4 || desc->num_layers > 1 << 16)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "rnn: input_size %lld, hidden_size %lld and num_layers %d must be >= 1 "
                    "(and input_size <= %d, hidden_size <= %d, num_layers <= 65536)",
                    (long long)desc->input_size, (long long)desc->hidden_size, desc->num_layers,
                    INT_MAX, INT_MAX / 4);
  dlc_rnn_state *s = calloc(1, sizeof *s);
  if (!s) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "rnn: host allocation of the state failed");
  s->desc = *desc;
  s->desc.bias = desc->bias != 0;
  s->desc.batch_first = desc->batch_first != 0;
  s->desc.last_only = desc->last_only != 0;
  s->gates = desc->mode == DLC_RNN_LSTM ? 4 : desc->mode == DLC_RNN_GRU ? 3 : 1;
  s->params_per_layer = s->desc.bias ? 4 : 2;
  int64_t H = desc->hidden_size, G = s->gates * H, F = desc->input_size;
  /* Per layer G * (in + H) + 2 G; checked against overflow in double first. */
  double total = (double)G * (double)(F + H + 2) +
                 (double)(desc->num_layers - 1) * (double)G * (double)(2 * H + 2);
  if (total > 9e18) {
    free(s);
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "rnn: %.3g parameters overflow int64", total);
  }
  int64_t n = 0;
  for (int k = 0; k < dlc_rnn_param_count(s); k++) {
    dlc_rnn_param_info info;
    dlc_rnn_param_get_info(ctx, s, k, &info);
    n += info.numel;
  }
  s->param_numel = n;
  *out = s;
  return DLC_OK;
}

void dlc_rnn_destroy(dlc_rnn_state *s) { free(s); }

int dlc_rnn_param_count(const dlc_rnn_state *s) {
  return s ? s->params_per_layer * s->desc.num_layers : 0;
}

int64_t dlc_rnn_param_numel(const dlc_rnn_state *s) { return s ? s->param_numel : 0; }

dlc_status dlc_rnn_param_get_info(dlc_ctx *ctx, const dlc_rnn_state *s, int index,
                                  dlc_rnn_param_info *out) {
  DLC_CHECK_NULL(ctx, s);
  DLC_CHECK_NULL(ctx, out);
  if (index < 0 || index >= dlc_rnn_param_count(s))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "rnn: parameter %d of %d", index,
                    dlc_rnn_param_count(s));
  const int64_t H = s->desc.hidden_size, G = s->gates * H, F = s->desc.input_size;
  const int ppl = s->params_per_layer;
  int layer = index / ppl;
  /* Everything before this layer: layer 0 is G (F + H) + biases, later ones G (2 H) + biases. */
  int64_t bias_per_layer = s->desc.bias ? 2 * G : 0;
  int64_t offset = layer == 0 ? 0 : G * (F + H) + bias_per_layer + (int64_t)(layer - 1) * (G * 2 * H + bias_per_layer);
  int64_t in = layer == 0 ? F : H;
  memset(out, 0, sizeof *out);
  out->layer = layer;
  out->kind = (dlc_rnn_param_kind)(index % ppl);
  switch (out->kind) {
    case DLC_RNN_WEIGHT_IH: out->ndim = 2; out->shape[0] = G; out->shape[1] = in; break;
    case DLC_RNN_WEIGHT_HH: out->ndim = 2; out->shape[0] = G; out->shape[1] = H; offset += G * in; break;
    case DLC_RNN_BIAS_IH: out->ndim = 1; out->shape[0] = G; offset += G * (in + H); break;
    default: out->ndim = 1; out->shape[0] = G; offset += G * (in + H) + G; break;
  }
  out->numel = out->shape[0] * (out->ndim == 2 ? out->shape[1] : 1);
  out->offset = offset;
  snprintf(out->name, sizeof out->name, "%s_l%d", kind_names[out->kind], layer);
  return DLC_OK;
}

dlc_status dlc_rnn_param_views(dlc_ctx *ctx, const dlc_rnn_state *s, float *base, dlc_device dev,
                               dlc_tensor *views) {
  DLC_CHECK_NULL(ctx, s);
  DLC_CHECK_NULL(ctx, base);
  DLC_CHECK_NULL(ctx, views);
  for (int k = 0; k < dlc_rnn_param_count(s); k++) {
    dlc_rnn_param_info info;
    DLC_TRY(dlc_rnn_param_get_info(ctx, s, k, &info));
    DLC_TRY(dlc_tensor_borrow(ctx, &views[k], base + info.offset, DLC_F32, info.ndim, info.shape, dev));
  }
  return DLC_OK;
}

dlc_status dlc_rnn_init_params(dlc_ctx *ctx, const dlc_rnn_state *s, dlc_tensor *params) {
  DLC_CHECK_NULL(ctx, s);
  DLC_CHECK_NULL(ctx, params);
  float k = 1.f / sqrtf((float)s->desc.hidden_size);
  for (int i = 0; i < dlc_rnn_param_count(s); i++)
    DLC_TRY(dlc_op_rand_uniform(ctx, &params[i], -k, k));
  return DLC_OK;
}

/* ---------------------------------------------------------------- buffer plan */

typedef struct plan_cursor {
  int64_t at;
  int overflow;
} plan_cursor;

/* Reserves a*b*c floats at the next 64-float (256-byte) boundary; returns the offset. */
static int64_t take(plan_cursor *c, int64_t a, int64_t b, int64_t d) {
  int64_t n, start = (c->at + 63) / 64 * 64;
  if (__builtin_mul_overflow(a, b, &n) || __builtin_mul_overflow(n, d, &n) ||
      __builtin_add_overflow(start, n, &c->at) || c->at > INT64_MAX / 8) {
    c->overflow = 1;
    c->at = 0;
  }
  return start;
}

dlc_status dlc_rnn_plan_make(dlc_ctx *ctx, const dlc_rnn_state *s, int64_t T, int64_t N,
                             int train, dlc_rnn_plan *p) {
  DLC_CHECK_NULL(ctx, s);
  DLC_CHECK_NULL(ctx, p);
  if (T < 1 || N < 1 || T > INT_MAX || N > INT_MAX)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "rnn %s: T = %lld steps and N = %lld sequences must be in [1, %d]",
                    mode_names[s->desc.mode], (long long)T, (long long)N, INT_MAX);
  const int64_t H = s->desc.hidden_size, G = s->gates * H, L = s->desc.num_layers;
  const int lstm = s->desc.mode == DLC_RNN_LSTM, gru = s->desc.mode == DLC_RNN_GRU;
  int64_t none = -1;
  memset(p, 0, sizeof *p);
  p->T = T; p->N = N; p->H = H; p->G = G;

  plan_cursor r = {0, 0};
  p->res_h = take(&r, T, N, H);
  p->res_gates = lstm || gru ? take(&r, T, N, G) : none;
  p->res_aux = lstm || gru ? take(&r, T, N, H) : none;
  p->res_layer = (r.at + 63) / 64 * 64;
  int64_t res_total = 0;
  if (__builtin_mul_overflow(p->res_layer, L, &res_total)) r.overflow = 1;
  p->res_floats = res_total;

  plan_cursor f = {0, 0};
  p->ws_xproj = take(&f, T, N, G);
  p->ws_hproj = take(&f, N, G, 1);
  /* Laid out for training too, so that a workspace sized for training serves inference. */
  p->ws_seq = take(&f, T, N, H);
  p->ws_c = lstm ? take(&f, N, H, 1) : none;

  plan_cursor b = {0, 0};
  if (train) {
    p->ws_dgx = take(&b, T, N, G);
    p->ws_dgh = gru || s->desc.batch_first ? take(&b, T, N, G) : none;
    p->ws_dseq = L > 1 ? take(&b, T, N, H) : none;
    p->ws_dh = take(&b, N, H, 1);
    p->ws_dc = lstm ? take(&b, N, H, 1) : none;
  } else {
    p->ws_dgx = p->ws_dgh = p->ws_dseq = p->ws_dh = p->ws_dc = none;
  }
  p->ws_floats = f.at > b.at ? f.at : b.at;
  if (r.overflow || f.overflow || b.overflow || p->res_floats > INT64_MAX / 8)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "rnn %s: buffers for T = %lld, N = %lld, H = %lld overflow",
                    mode_names[s->desc.mode], (long long)T, (long long)N, (long long)H);
  return DLC_OK;
}

dlc_status dlc_rnn_workspace_bytes(dlc_ctx *ctx, const dlc_rnn_state *s, int64_t T, int64_t N,
                                   int train, size_t *bytes) {
  DLC_CHECK_NULL(ctx, bytes);
  dlc_rnn_plan p;
  DLC_TRY(dlc_rnn_plan_make(ctx, s, T, N, train, &p));
  *bytes = (size_t)p.ws_floats * sizeof(float);
  return DLC_OK;
}

dlc_status dlc_rnn_reserve_bytes(dlc_ctx *ctx, const dlc_rnn_state *s, int64_t T, int64_t N,
                                 size_t *bytes) {
  DLC_CHECK_NULL(ctx, bytes);
  dlc_rnn_plan p;
  DLC_TRY(dlc_rnn_plan_make(ctx, s, T, N, 1, &p));
  *bytes = (size_t)p.res_floats * sizeof(float);
  return DLC_OK;
}
