/* Recurrent layers (nn.RNN, nn.LSTM, nn.GRU with batch_first=True) over the ops in rnn.h:
 * input [N, T, F], output [N, T, H] (or [N, H], the last step, with last_only). The
 * parameters are PyTorch's (weight_ih_l0, ...); workspace and the training reserve are
 * sized once for the largest batch. */
#include <string.h>

#include "nn/net_internal.h"

typedef struct rnn_layer {
  dlc_rnn_state *op;
  dlc_tensor ws, reserve; /* workspace, and the activations a training forward keeps for backward */
} rnn_layer;

/* The op takes one view per parameter (or gradient), in PyTorch's order. */
static void views(const dlc_layer *l, int grads, dlc_tensor out[DLC_MAX_PARAMS]) {
  for (int k = 0; k < l->nparam; k++) out[k] = grads ? l->param[k].grad : l->param[k].value;
}

static dlc_status rnn_init(dlc_net *net, dlc_layer *l) {
  dlc_tensor v[DLC_MAX_PARAMS];
  views(l, 0, v);
  return dlc_rnn_init_params(net->ctx, ((rnn_layer *)l->state)->op, v);
}

static dlc_status alloc_bytes(dlc_ctx *ctx, dlc_tensor *t, size_t bytes) {
  if (bytes == 0) return DLC_OK;
  int64_t floats = (int64_t)((bytes + 3) / 4);
  return dlc_tensor_alloc(ctx, t, DLC_F32, 1, &floats, ctx->device);
}

static dlc_status rnn_setup(dlc_net *net, dlc_layer *l) {
  dlc_ctx *ctx = net->ctx;
  rnn_layer *r = l->state;
  int64_t in[DLC_MAX_DIMS];
  dlc_producer_shape(net, l->in, in);
  size_t ws, res;
  DLC_TRY(dlc_rnn_workspace_bytes(ctx, r->op, in[0], net->max_batch, 1, &ws));
  DLC_TRY(dlc_rnn_reserve_bytes(ctx, r->op, in[0], net->max_batch, &res));
  DLC_TRY(alloc_bytes(ctx, &r->ws, ws));
  return alloc_bytes(ctx, &r->reserve, res);
}

static dlc_tensor *opt(dlc_tensor *t) { return t->data ? t : NULL; }

static dlc_status rnn_forward(dlc_net *net, dlc_layer *l, int64_t n, int train) {
  rnn_layer *r = l->state;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), y = dlc_batch_view(&l->out, n);
  dlc_tensor p[DLC_MAX_PARAMS];
  views(l, 0, p);
  return dlc_op_rnn_fwd(net->ctx, r->op, p, &x, NULL, NULL, &y, NULL, NULL, opt(&r->ws),
                        train ? opt(&r->reserve) : NULL, train);
}

static dlc_status rnn_backward(dlc_net *net, dlc_layer *l, int64_t n) {
  if (!net->train) /* the reserve backward reads is written by training forwards only */
    return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG,
                    "recurrent layer %s: backward needs a training-mode forward (the same outputs: no dropout)", l->name);
  rnn_layer *r = l->state;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), dy = dlc_batch_view(&l->dout, n);
  dlc_tensor *dxp = dlc_layer_input_grad(net, l, 0), dx;
  if (dxp) dx = dlc_batch_view(dxp, n);
  dlc_tensor p[DLC_MAX_PARAMS], g[DLC_MAX_PARAMS];
  views(l, 0, p);
  views(l, 1, g);
  return dlc_op_rnn_bwd(net->ctx, r->op, p, &x, NULL, NULL, &dy, NULL, NULL, dxp ? &dx : NULL, NULL,
                        NULL, g, opt(&r->ws), opt(&r->reserve));
}

static void rnn_destroy(dlc_net *net, dlc_layer *l) {
  rnn_layer *r = l->state;
  dlc_rnn_destroy(r->op);
  dlc_tensor_free(net->ctx, &r->ws);
  dlc_tensor_free(net->ctx, &r->reserve);
}

const dlc_layer_vt dlc_vt_rnn = {"rnn", rnn_init, rnn_setup, rnn_forward, rnn_backward, rnn_destroy};

dlc_status dlc_net_add_rnn(dlc_net *net, const char *name, dlc_rnn_mode mode, int64_t hidden, int layers,
                           int last_only, int bias) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  dlc_layer *l;
  DLC_TRY(dlc_net_append(net, &dlc_vt_rnn, name, &l));
  int64_t in[DLC_MAX_DIMS];
  if (dlc_producer_shape(net, l->in, in) != 2)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "recurrent layer %s needs sequences [T, F] per sample", l->name);
  if (layers < 1 || layers > DLC_MAX_PARAMS / 4)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "recurrent layer %s: %d layers (1 to %d)", l->name, layers,
                    DLC_MAX_PARAMS / 4);
  dlc_rnn_desc d = dlc_rnn_desc_make(mode, in[1], hidden, layers);
  d.batch_first = 1;
  d.last_only = last_only != 0;
  d.bias = bias != 0;
  dlc_rnn_state *s;
  DLC_TRY(dlc_rnn_create(ctx, &d, &s));
  /* Parameters in PyTorch's order and names. */
  int count = dlc_rnn_param_count(s);
  for (int k = 0; k < count; k++) {
    dlc_rnn_param_info info;
    dlc_status st = dlc_rnn_param_get_info(ctx, s, k, &info);
    if (st != DLC_OK) {
      dlc_rnn_destroy(s);
      return st;
    }
    dlc_layer_param(l, info.name, info.ndim, info.shape, 0);
  }
  rnn_layer *r = dlc_layer_state(net, l, sizeof *r);
  if (!r) {
    dlc_rnn_destroy(s);
    return DLC_ERR_OUT_OF_MEMORY;
  }
  r->op = s;
  l->ndim = last_only ? 1 : 2;
  l->shape[0] = last_only ? hidden : in[0];
  l->shape[1] = hidden;
  l->numel = last_only ? hidden : in[0] * hidden;
  int gates = mode == DLC_RNN_LSTM ? 4 : mode == DLC_RNN_GRU ? 3 : 1;
  l->flops = 2 * in[0] * gates * hidden * (in[1] + hidden + (layers - 1) * 2 * hidden);
  net->nlayers++;
  net->next_seq++;
  return DLC_OK;
}
