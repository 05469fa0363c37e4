/* Batch normalisation layer: nn.BatchNorm1d on [N, F] (or [N, C, L]) and nn.BatchNorm2d on
 * [N, C, H, W]; parameters weight and bias, buffers running_mean, running_var and
 * num_batches_tracked (which this momentum-based update only counts, as PyTorch's does). */
#include <string.h>

#include "../../kernels/batchnorm.h"
#include "nn/net_internal.h"

typedef struct bn_layer {
  float eps, momentum;
  dlc_tensor save_mean, save_invstd; /* [C] the last training forward's batch statistics */
  dlc_tensor scratch;
} bn_layer;

/* The op takes [N, C] or [N, C, H, W]: a 3-d [N, C, L] input is viewed as [N, C, L, 1]. */
static dlc_tensor as_bn_shape(const dlc_tensor *t) {
  dlc_tensor v = *t;
  if (v.ndim == 3) {
    v.shape[3] = 1;
    v.ndim = 4;
  }
  return v;
}

static dlc_status bn_init(dlc_net *net, dlc_layer *l) {
  dlc_ctx *ctx = net->ctx;
  DLC_TRY(dlc_op_fill(ctx, &l->param[0].value, 1.f)); /* weight */
  DLC_TRY(dlc_op_fill(ctx, &l->param[1].value, 0.f)); /* bias */
  l->counter = 0;
  DLC_TRY(dlc_op_fill(ctx, &l->param[2].value, 0.f)); /* running_mean */
  return dlc_op_fill(ctx, &l->param[3].value, 1.f);   /* running_var */
}

static dlc_status bn_setup(dlc_net *net, dlc_layer *l) {
  dlc_ctx *ctx = net->ctx;
  bn_layer *s = l->state;
  int64_t C = l->shape[0], floats = ctx->device.kind == DLC_DEVICE_CUDA ? dlc_bn_scratch_floats(C) : 2 * C;
  DLC_TRY(dlc_tensor_alloc(ctx, &s->save_mean, DLC_F32, 1, &C, ctx->device));
  DLC_TRY(dlc_tensor_alloc(ctx, &s->save_invstd, DLC_F32, 1, &C, ctx->device));
  return dlc_tensor_alloc(ctx, &s->scratch, DLC_F32, 1, &floats, ctx->device);
}

static dlc_status bn_forward(dlc_net *net, dlc_layer *l, int64_t n, int train) {
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), y = dlc_batch_view(&l->out, n);
  x = as_bn_shape(&x);
  y = as_bn_shape(&y);
  bn_layer *s = l->state;
  if (train) l->counter++;
  return dlc_op_batchnorm_fwd(net->ctx, &x, &l->param[0].value, &l->param[1].value, &l->param[2].value,
                              &l->param[3].value, s->momentum, s->eps, train, &s->save_mean,
                              &s->save_invstd, &y, &s->scratch);
}

static dlc_status bn_backward(dlc_net *net, dlc_layer *l, int64_t n) {
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), dy = dlc_batch_view(&l->dout, n);
  dlc_tensor *dxp = dlc_layer_input_grad(net, l, 0), dx;
  x = as_bn_shape(&x);
  dy = as_bn_shape(&dy);
  if (dxp) {
    dx = dlc_batch_view(dxp, n);
    dx = as_bn_shape(&dx);
  }
  bn_layer *s = l->state;
  return dlc_op_batchnorm_bwd_mode(net->ctx, &x, &l->param[0].value, &s->save_mean, &s->save_invstd, &dy,
                                   dxp ? &dx : NULL, &l->param[0].grad, &l->param[1].grad, &s->scratch, net->train);
}

static void bn_destroy(dlc_net *net, dlc_layer *l) {
  bn_layer *s = l->state;
  dlc_tensor_free(net->ctx, &s->save_mean);
  dlc_tensor_free(net->ctx, &s->save_invstd);
  dlc_tensor_free(net->ctx, &s->scratch);
}

const dlc_layer_vt dlc_vt_batchnorm = {"batchnorm", bn_init, bn_setup, bn_forward, bn_backward, bn_destroy};

dlc_status dlc_net_add_batchnorm(dlc_net *net, const char *name, float eps, float momentum) {
  if (!net) return DLC_ERR_INVALID_ARG;
  if (!(eps > 0.f) || !(momentum >= 0.f && momentum <= 1.f))
    return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "batchnorm eps %g must be > 0 and momentum %g in [0, 1]", eps, momentum);
  dlc_layer *l;
  DLC_TRY(dlc_net_append(net, &dlc_vt_batchnorm, name, &l));
  l->ndim = dlc_producer_shape(net, l->in, l->shape);
  if (l->ndim < 1 || l->ndim > 3)
    return DLC_FAIL(net->ctx, DLC_ERR_SHAPE, "batchnorm %s: input must be [N, F], [N, C, L] or [N, C, H, W]", l->name);
  l->numel = 1;
  for (int i = 0; i < l->ndim; i++) l->numel *= l->shape[i];
  int64_t C = l->shape[0];
  bn_layer *s = dlc_layer_state(net, l, sizeof *s);
  if (!s) return DLC_ERR_OUT_OF_MEMORY;
  s->eps = eps;
  s->momentum = momentum;
  l->flops = 4 * l->numel;
  dlc_layer_param(l, "weight", 1, &C, 0);
  dlc_layer_param(l, "bias", 1, &C, 0);
  dlc_layer_param(l, "running_mean", 1, &C, 1);
  dlc_layer_param(l, "running_var", 1, &C, 1);
  dlc_layer_counter(l, "num_batches_tracked");
  net->nlayers++;
  net->next_seq++;
  return DLC_OK;
}
