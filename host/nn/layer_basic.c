/* The simple layers: dense, activation, dropout, flatten, residual add. */
#include <math.h>
#include <string.h>

#include "nn/net_internal.h"

static dlc_status commit(dlc_net *net) {
  net->nlayers++;
  net->next_seq++;
  return DLC_OK;
}

/* ---- dense: nn.Linear on the last dimension; weight [units, in], bias [units]; its
 * activation (l->act) is the one the network fuses into it */

typedef struct dense_layer {
  int bias;
} dense_layer;

static int dense_bias(const dlc_layer *l) { return ((const dense_layer *)l->state)->bias; }

static dlc_status dense_init(dlc_net *net, dlc_layer *l) {
  /* PyTorch: kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in)), and so does the bias. */
  float bound = 1.f / sqrtf((float)l->param[0].shape[1]);
  for (int k = 0; k < l->nparam; k++) DLC_TRY(dlc_param_uniform(net, &l->param[k], bound));
  return DLC_OK;
}

static dlc_status dense_forward(dlc_net *net, dlc_layer *l, int64_t n, int train) {
  (void)train;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), y = dlc_batch_view(&l->out, n);
  return dlc_op_dense_fwd(net->ctx, &x, &l->param[0].value, dense_bias(l) ? &l->param[1].value : NULL, l->act,
                          l->slope, &y);
}

static dlc_status dense_backward(dlc_net *net, dlc_layer *l, int64_t n) {
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), y = dlc_batch_view(&l->out, n),
             dy = dlc_batch_view(&l->dout, n);
  dlc_tensor *dxp = dlc_layer_input_grad(net, l, 0), dx;
  if (dxp) dx = dlc_batch_view(dxp, n);
  /* dz = dy * act'(y) overwrites dy: nothing else reads this layer's output gradient. */
  return dlc_op_dense_bwd(net->ctx, &x, &l->param[0].value, &y, &dy, l->act, l->slope, &dy,
                          dxp ? &dx : NULL, &l->param[0].grad, dense_bias(l) ? &l->param[1].grad : NULL);
}

const dlc_layer_vt dlc_vt_dense = {"dense", dense_init, NULL, dense_forward, dense_backward, NULL};

dlc_status dlc_net_add_dense(dlc_net *net, const char *name, int64_t units, int bias) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_layer *l;
  DLC_TRY(dlc_net_append(net, &dlc_vt_dense, name, &l));
  int64_t in_shape[DLC_MAX_DIMS];
  int nd = dlc_producer_shape(net, l->in, in_shape);
  if (units <= 0) return DLC_FAIL(net->ctx, DLC_ERR_SHAPE, "dense layer %s: %lld units", l->name, (long long)units);
  int64_t in = in_shape[nd - 1], w[2] = {units, in};
  l->ndim = nd;
  memcpy(l->shape, in_shape, sizeof(int64_t) * (size_t)nd);
  l->shape[nd - 1] = units;
  l->numel = 1;
  for (int i = 0; i < nd; i++) l->numel *= l->shape[i];
  dense_layer *s = dlc_layer_state(net, l, sizeof *s);
  if (!s) return DLC_ERR_OUT_OF_MEMORY;
  s->bias = bias != 0;
  l->flops = 2 * in * l->numel;
  dlc_layer_param(l, "weight", 2, w, 0);
  if (s->bias) dlc_layer_param(l, "bias", 1, &units, 0);
  return commit(net);
}

/* Copies the producer's per-sample shape into l. */
static void same_shape(dlc_net *net, dlc_layer *l) {
  l->ndim = dlc_producer_shape(net, l->in, l->shape);
  l->numel = 1;
  for (int i = 0; i < l->ndim; i++) l->numel *= l->shape[i];
}

/* ---- activation */

static dlc_status act_forward(dlc_net *net, dlc_layer *l, int64_t n, int train) {
  (void)train;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), y = dlc_batch_view(&l->out, n);
  return dlc_op_act_fwd(net->ctx, l->act, l->slope, &x, &y);
}

static dlc_status act_backward(dlc_net *net, dlc_layer *l, int64_t n) {
  dlc_tensor *dxp = dlc_layer_input_grad(net, l, 0);
  if (!dxp) return DLC_OK;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), y = dlc_batch_view(&l->out, n),
             dy = dlc_batch_view(&l->dout, n), dx = dlc_batch_view(dxp, n);
  return dlc_op_act_bwd(net->ctx, l->act, l->slope, &x, &y, &dy, &dx);
}

const dlc_layer_vt dlc_vt_activation = {"activation", NULL, NULL, act_forward, act_backward, NULL};

dlc_status dlc_net_add_activation(dlc_net *net, const char *name, dlc_act act, float slope) {
  if (!net) return DLC_ERR_INVALID_ARG;
  DLC_TRY(dlc_check_act(net->ctx, act));
  dlc_layer *l;
  DLC_TRY(dlc_net_append(net, &dlc_vt_activation, name, &l));
  same_shape(net, l);
  l->act = act;
  l->slope = slope;
  l->flops = l->numel;
  return commit(net);
}

/* ---- dropout */

typedef struct dropout_layer {
  float p;
  uint64_t offset; /* the generator position of the last training forward's mask */
} dropout_layer;

static dlc_status dropout_forward(dlc_net *net, dlc_layer *l, int64_t n, int train) {
  dropout_layer *s = l->state;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), y = dlc_batch_view(&l->out, n);
  return dlc_op_dropout_fwd(net->ctx, s->p, train, &x, &y, &s->offset);
}

static dlc_status dropout_backward(dlc_net *net, dlc_layer *l, int64_t n) {
  dlc_tensor *dxp = dlc_layer_input_grad(net, l, 0);
  if (!dxp) return DLC_OK;
  dlc_tensor dy = dlc_batch_view(&l->dout, n), dx = dlc_batch_view(dxp, n);
  if (!net->train) return dlc_op_axpy(net->ctx, 1.f, &dy, &dx); /* evaluation: the identity */
  const dropout_layer *s = l->state;
  return dlc_op_dropout_bwd(net->ctx, s->p, s->offset, &dy, &dx);
}

const dlc_layer_vt dlc_vt_dropout = {"dropout", NULL, NULL, dropout_forward, dropout_backward, NULL};

dlc_status dlc_net_add_dropout(dlc_net *net, const char *name, float p) {
  if (!net) return DLC_ERR_INVALID_ARG;
  if (!(p >= 0.f && p < 1.f))
    return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "dropout probability %g is not in [0, 1)", p);
  dlc_layer *l;
  DLC_TRY(dlc_net_append(net, &dlc_vt_dropout, name, &l));
  same_shape(net, l);
  dropout_layer *s = dlc_layer_state(net, l, sizeof *s);
  if (!s) return DLC_ERR_OUT_OF_MEMORY;
  s->p = p;
  return commit(net);
}

/* ---- flatten: [C, H, W] -> [C*H*W], sharing the input's memory */

static dlc_status nothing(dlc_net *net, dlc_layer *l, int64_t n, int train) {
  (void)net; (void)l; (void)n; (void)train;
  return DLC_OK;
}

const dlc_layer_vt dlc_vt_flatten = {"flatten", NULL, NULL, nothing, NULL, NULL};

dlc_status dlc_net_add_flatten(dlc_net *net, const char *name) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_layer *l;
  DLC_TRY(dlc_net_append(net, &dlc_vt_flatten, name, &l));
  same_shape(net, l);
  if (l->in < 0)
    return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG,
                    "flatten as the first layer: give the network a flat input shape instead");
  l->ndim = 1;
  l->shape[0] = l->numel;
  l->alias_input = 1;
  return commit(net);
}

/* ---- residual add: y = a + b */

static dlc_status add_forward(dlc_net *net, dlc_layer *l, int64_t n, int train) {
  (void)train;
  dlc_tensor a = dlc_batch_view(dlc_layer_input(net, l, 0), n), b = dlc_batch_view(dlc_layer_input(net, l, 1), n),
             y = dlc_batch_view(&l->out, n);
  DLC_TRY(dlc_op_copy(net->ctx, &a, &y));
  return dlc_op_axpy(net->ctx, 1.f, &b, &y);
}

static dlc_status add_backward(dlc_net *net, dlc_layer *l, int64_t n) {
  dlc_tensor dy = dlc_batch_view(&l->dout, n);
  for (int k = 0; k < 2; k++) {
    dlc_tensor *dxp = dlc_layer_input_grad(net, l, k);
    if (!dxp) continue;
    dlc_tensor dx = dlc_batch_view(dxp, n);
    DLC_TRY(dlc_op_axpy(net->ctx, 1.f, &dy, &dx));
  }
  return DLC_OK;
}

const dlc_layer_vt dlc_vt_add = {"residual", NULL, NULL, add_forward, add_backward, NULL};

dlc_status dlc_net_add_residual(dlc_net *net, const char *name, const char *from) {
  if (!net) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(net->ctx, from);
  dlc_layer *l;
  DLC_TRY(dlc_net_append(net, &dlc_vt_add, name, &l));
  int src = -1;
  for (int i = 0; i < net->nlayers; i++)
    if (strcmp(net->layers[i].name, from) == 0) src = i;
  if (src < 0 && strcmp(from, "input") != 0)
    return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "residual %s: no earlier layer is named \"%s\"", l->name, from);
  l->in2 = src; /* -1: the network input */
  same_shape(net, l);
  int64_t other[DLC_MAX_DIMS];
  int nd = dlc_producer_shape(net, src, other);
  int same = nd == l->ndim;
  for (int i = 0; same && i < nd; i++) same = other[i] == l->shape[i];
  if (!same)
    return DLC_FAIL(net->ctx, DLC_ERR_SHAPE, "residual %s: the shapes of the previous layer and \"%s\" differ",
                    l->name, from);
  l->flops = l->numel;
  return commit(net);
}
