/* Convolution and pooling layers (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d,
 * nn.AdaptiveAvgPool2d(1)) over the ops in conv.h and pool.h. A convolution layer builds
 * its op state (chunking, cuDNN algorithms) and workspace once, at dlc_net_build. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net_internal.h"

/* Each kind's settings: the op's parameters as the model gives them, and what it builds. */
typedef struct conv_layer {
  dlc_conv2d_params p;  /* in_channels from the input */
  int bias;
  dlc_conv2d_state *op; /* built at dlc_net_build */
  dlc_tensor ws;        /* its workspace */
} conv_layer;

typedef struct pool_layer {
  dlc_pool2d_params p;
  dlc_pool2d_state op;
  dlc_tensor argmax;    /* max pooling: the argmax of the largest batch */
} pool_layer;

static dlc_status need_image(dlc_net *net, dlc_layer *l, int64_t s[3]) {
  int64_t in[DLC_MAX_DIMS];
  int nd = dlc_producer_shape(net, l->in, in);
  if (nd != 3)
    return DLC_FAIL(net->ctx, DLC_ERR_SHAPE, "%s %s needs an image input [C, H, W], got %d dimensions",
                    l->vt->kind, l->name, nd);
  memcpy(s, in, sizeof(int64_t) * 3);
  return DLC_OK;
}

/* ---- conv2d */

static dlc_status conv_init(dlc_net *net, dlc_layer *l) {
  /* PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias,
   * fan_in = C/G * KH * KW. */
  const dlc_param *w = &l->param[0];
  float bound = 1.f / sqrtf((float)(w->shape[1] * w->shape[2] * w->shape[3]));
  for (int k = 0; k < l->nparam; k++) DLC_TRY(dlc_param_uniform(net, &l->param[k], bound));
  return DLC_OK;
}

static dlc_status conv_setup(dlc_net *net, dlc_layer *l) {
  dlc_ctx *ctx = net->ctx;
  conv_layer *c = l->state;
  int64_t in[DLC_MAX_DIMS];
  dlc_producer_shape(net, l->in, in);
  DLC_TRY(dlc_conv2d_create(ctx, &c->p, net->max_batch, in[1], in[2], &c->op));
  size_t bytes = dlc_conv2d_workspace_bytes(c->op);
  if (bytes == 0) return DLC_OK;
  int64_t floats = (int64_t)((bytes + 3) / 4);
  return dlc_tensor_alloc(ctx, &c->ws, DLC_F32, 1, &floats, ctx->device);
}

static dlc_tensor *ws_of(conv_layer *c) { return c->ws.data ? &c->ws : NULL; }

static dlc_status conv_forward(dlc_net *net, dlc_layer *l, int64_t n, int train) {
  (void)train;
  conv_layer *c = l->state;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), y = dlc_batch_view(&l->out, n);
  return dlc_conv2d_forward(net->ctx, c->op, &x, &l->param[0].value, c->bias ? &l->param[1].value : NULL, &y,
                            ws_of(c));
}

static dlc_status conv_backward(dlc_net *net, dlc_layer *l, int64_t n) {
  dlc_ctx *ctx = net->ctx;
  conv_layer *c = l->state;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), dy = dlc_batch_view(&l->dout, n);
  DLC_TRY(dlc_conv2d_backward_weights(ctx, c->op, &x, &dy, &l->param[0].grad, c->bias ? &l->param[1].grad : NULL,
                                      ws_of(c)));
  dlc_tensor *dxp = dlc_layer_input_grad(net, l, 0);
  if (!dxp) return DLC_OK; /* the first layer: no input gradient wanted */
  dlc_tensor dx = dlc_batch_view(dxp, n);
  return dlc_conv2d_backward_data(ctx, c->op, &dy, &l->param[0].value, &dx, ws_of(c));
}

static void conv_destroy(dlc_net *net, dlc_layer *l) {
  conv_layer *c = l->state;
  dlc_conv2d_destroy(net->ctx, c->op);
  dlc_tensor_free(net->ctx, &c->ws);
}

const dlc_layer_vt dlc_vt_conv2d = {"conv2d", conv_init, conv_setup, conv_forward, conv_backward, conv_destroy};

dlc_status dlc_net_add_conv2d(dlc_net *net, const char *name, int64_t filters, const int64_t kernel[2],
                              const int64_t stride[2], const int64_t pad[2], const int64_t dilation[2],
                              int64_t groups, int bias, dlc_conv_algo algo) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, kernel);
  dlc_layer *l;
  DLC_TRY(dlc_net_append(net, &dlc_vt_conv2d, name, &l));
  int64_t in[3] = {0, 0, 0};
  DLC_TRY(need_image(net, l, in));
  int64_t one[2] = {1, 1}, zero[2] = {0, 0};
  const int64_t *st = stride ? stride : one, *pd = pad ? pad : zero, *dl = dilation ? dilation : one;
  if ((int)algo < 0 || algo >= DLC_CONV_ALGO_COUNT)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "conv2d %s: algorithm %d", l->name, (int)algo);
  int64_t v[9] = {kernel[0], kernel[1], st[0], st[1], pd[0], pd[1], dl[0], dl[1], groups};
  for (int i = 0; i < 9; i++)
    if (v[i] < (i == 4 || i == 5 ? 0 : 1) || v[i] > (1 << 20))
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "conv2d %s: kernel, stride, dilation and groups must be >= 1 and "
                      "padding >= 0 (got %lld)", l->name, (long long)v[i]);
  if (filters <= 0 || in[0] % groups != 0 || filters % groups != 0)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "conv2d %s: %lld input and %lld output channels must both be divisible "
                    "by groups = %lld", l->name, (long long)in[0], (long long)filters, (long long)groups);
  int64_t oh, ow;
  DLC_TRY(dlc_conv_out_size(ctx, "height", in[1], kernel[0], st[0], pd[0], dl[0], &oh));
  DLC_TRY(dlc_conv_out_size(ctx, "width", in[2], kernel[1], st[1], pd[1], dl[1], &ow));
  l->ndim = 3;
  l->shape[0] = filters;
  l->shape[1] = oh;
  l->shape[2] = ow;
  l->numel = filters * oh * ow;
  conv_layer *c = dlc_layer_state(net, l, sizeof *c);
  if (!c) return DLC_ERR_OUT_OF_MEMORY;
  c->p = dlc_conv2d_params_make(in[0], filters, kernel[0], kernel[1]);
  c->p.stride_h = st[0];
  c->p.stride_w = st[1];
  c->p.pad_h = pd[0];
  c->p.pad_w = pd[1];
  c->p.dilation_h = dl[0];
  c->p.dilation_w = dl[1];
  c->p.groups = groups;
  c->p.algo = algo;
  c->bias = bias != 0;
  int64_t w[4] = {filters, in[0] / groups, kernel[0], kernel[1]};
  l->flops = 2 * l->numel * w[1] * w[2] * w[3];
  dlc_layer_param(l, "weight", 4, w, 0);
  if (c->bias) dlc_layer_param(l, "bias", 1, &filters, 0);
  net->nlayers++;
  net->next_seq++;
  return DLC_OK;
}

/* ---- pooling */

static dlc_status pool_setup(dlc_net *net, dlc_layer *l) {
  dlc_ctx *ctx = net->ctx;
  pool_layer *s = l->state;
  int64_t in[DLC_MAX_DIMS];
  dlc_producer_shape(net, l->in, in);
  DLC_TRY(dlc_pool2d_init(ctx, &s->op, &s->p, in[0], in[1], in[2]));
  if (s->p.mode != DLC_POOL_MAX) return DLC_OK;
  int64_t shape[4] = {net->max_batch, l->shape[0], l->shape[1], l->shape[2]};
  return dlc_tensor_alloc(ctx, &s->argmax, DLC_I32, 4, shape, ctx->device);
}

/* The first n samples' argmax, or NULL (average pooling keeps none). */
static dlc_tensor *argmax_of(pool_layer *s, int64_t n, dlc_tensor *view) {
  if (!s->argmax.data) return NULL;
  *view = dlc_batch_view(&s->argmax, n);
  return view;
}

static dlc_status pool_forward(dlc_net *net, dlc_layer *l, int64_t n, int train) {
  (void)train;
  pool_layer *s = l->state;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), y = dlc_batch_view(&l->out, n), am;
  return dlc_pool2d_forward(net->ctx, &s->op, &x, &y, argmax_of(s, n, &am));
}

static dlc_status pool_backward(dlc_net *net, dlc_layer *l, int64_t n) {
  dlc_tensor *dxp = dlc_layer_input_grad(net, l, 0);
  if (!dxp) return DLC_OK;
  pool_layer *s = l->state;
  dlc_tensor dy = dlc_batch_view(&l->dout, n), dx = dlc_batch_view(dxp, n), am;
  return dlc_pool2d_backward(net->ctx, &s->op, &dy, argmax_of(s, n, &am), &dx);
}

static void pool_destroy(dlc_net *net, dlc_layer *l) {
  pool_layer *s = l->state;
  dlc_tensor_free(net->ctx, &s->argmax);
}

const dlc_layer_vt dlc_vt_pool = {"pool", NULL, pool_setup, pool_forward, pool_backward, pool_destroy};

dlc_status dlc_net_add_pool(dlc_net *net, const char *name, dlc_pool_mode mode, const int64_t kernel[2],
                            const int64_t stride[2], const int64_t pad[2], int ceil_mode, int count_include_pad) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  if ((int)mode < 0 || mode >= DLC_POOL_MODE_COUNT)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "pooling mode %d", (int)mode);
  if (mode != DLC_POOL_GLOBAL_AVG) DLC_CHECK_NULL(ctx, kernel);
  dlc_layer *l;
  DLC_TRY(dlc_net_append(net, &dlc_vt_pool, name, &l));
  int64_t in[3] = {0, 0, 0};
  DLC_TRY(need_image(net, l, in));
  int64_t one[2] = {1, 1}, zero[2] = {0, 0};
  const int64_t *k = kernel ? kernel : one, *st = stride ? stride : k, *pd = pad ? pad : zero;
  int64_t v[6] = {k[0], k[1], st[0], st[1], pd[0], pd[1]};
  for (int i = 0; i < 6; i++)
    if (v[i] < (i >= 4 ? 0 : 1) || v[i] > (1 << 20))
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "pool %s: kernel and stride must be >= 1 and padding >= 0 (got %lld)",
                      l->name, (long long)v[i]);
  int64_t oh = 1, ow = 1;
  if (mode != DLC_POOL_GLOBAL_AVG) {
    DLC_TRY(dlc_pool_out_size(ctx, "height", in[1], k[0], st[0], pd[0], ceil_mode, &oh));
    DLC_TRY(dlc_pool_out_size(ctx, "width", in[2], k[1], st[1], pd[1], ceil_mode, &ow));
  }
  l->ndim = 3;
  l->shape[0] = in[0];
  l->shape[1] = oh;
  l->shape[2] = ow;
  l->numel = in[0] * oh * ow;
  l->flops = mode == DLC_POOL_GLOBAL_AVG ? in[0] * in[1] * in[2] : l->numel * k[0] * k[1];
  pool_layer *s = dlc_layer_state(net, l, sizeof *s);
  if (!s) return DLC_ERR_OUT_OF_MEMORY;
  s->p = dlc_pool2d_params_make(mode, k[0], k[1]);
  s->p.stride_h = st[0];
  s->p.stride_w = st[1];
  s->p.pad_h = pd[0];
  s->p.pad_w = pd[1];
  s->p.ceil_mode = ceil_mode != 0;
  s->p.count_include_pad = count_include_pad != 0;
  net->nlayers++;
  net->next_seq++;
  return DLC_OK;
}
