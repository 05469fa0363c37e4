/* Layer normalisation layer: nn.LayerNorm(normalized_shape, eps, elementwise_affine) over
 * the last `dims` dimensions of each sample (all of them by default), with parameters
 * weight and bias shaped like those dimensions; the same computation in training and
 * evaluation. Its settings and buffers live in its own struct behind l->state, and it
 * reads its own model-file section:
 *
 *   [layernorm]
 *   dims = 1        ; trailing dimensions normalised (default: the whole sample)
 *   eps = 1e-5
 *   affine = 1      ; 0: no weight and bias (elementwise_affine=False) */
#include <string.h>

#include "nn/model_cfg.h"
#include "nn/net_internal.h"

typedef struct ln_layer {
  int64_t D;        /* values per row: the product of the normalised dimensions */
  int64_t rows;     /* rows per sample */
  float eps;
  int affine;
  dlc_tensor mean, rstd, scratch; /* [max_batch * rows] statistics kept for backward; CUDA scratch */
} ln_layer;

static dlc_status ln_init(dlc_net *net, dlc_layer *l) {
  ln_layer *s = l->state;
  if (!s->affine) return DLC_OK;
  DLC_TRY(dlc_op_fill(net->ctx, &l->param[0].value, 1.f)); /* weight */
  return dlc_op_fill(net->ctx, &l->param[1].value, 0.f);   /* bias */
}

static dlc_status ln_setup(dlc_net *net, dlc_layer *l) {
  dlc_ctx *ctx = net->ctx;
  ln_layer *s = l->state;
  int64_t r = net->max_batch * s->rows, scratch = dlc_op_layernorm_scratch_floats(s->D);
  DLC_TRY(dlc_tensor_alloc(ctx, &s->mean, DLC_F32, 1, &r, ctx->device));
  DLC_TRY(dlc_tensor_alloc(ctx, &s->rstd, DLC_F32, 1, &r, ctx->device));
  if (ctx->device.kind == DLC_DEVICE_CUDA && s->affine)
    DLC_TRY(dlc_tensor_alloc(ctx, &s->scratch, DLC_F32, 1, &scratch, ctx->device));
  return DLC_OK;
}

/* The first n samples' statistics. */
static void stats_of(const ln_layer *s, int64_t n, dlc_tensor *mean, dlc_tensor *rstd) {
  *mean = dlc_batch_view(&s->mean, n * s->rows);
  *rstd = dlc_batch_view(&s->rstd, n * s->rows);
}

static dlc_status ln_forward(dlc_net *net, dlc_layer *l, int64_t n, int train) {
  (void)train;
  ln_layer *s = l->state;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), y = dlc_batch_view(&l->out, n), m, r;
  stats_of(s, n, &m, &r);
  return dlc_op_layernorm_fwd(net->ctx, &x, s->D, s->affine ? &l->param[0].value : NULL,
                              s->affine ? &l->param[1].value : NULL, s->eps, &y, &m, &r);
}

static dlc_status ln_backward(dlc_net *net, dlc_layer *l, int64_t n) {
  ln_layer *s = l->state;
  dlc_tensor x = dlc_batch_view(dlc_layer_input(net, l, 0), n), dy = dlc_batch_view(&l->dout, n), m, r, dx;
  dlc_tensor *dxp = dlc_layer_input_grad(net, l, 0);
  if (dxp) dx = dlc_batch_view(dxp, n);
  stats_of(s, n, &m, &r);
  return dlc_op_layernorm_bwd(net->ctx, &x, s->D, s->affine ? &l->param[0].value : NULL, &m, &r, &dy,
                              dxp ? &dx : NULL, s->affine ? &l->param[0].grad : NULL,
                              s->affine ? &l->param[1].grad : NULL, s->scratch.data ? &s->scratch : NULL);
}

static void ln_destroy(dlc_net *net, dlc_layer *l) {
  ln_layer *s = l->state;
  dlc_tensor_free(net->ctx, &s->mean);
  dlc_tensor_free(net->ctx, &s->rstd);
  dlc_tensor_free(net->ctx, &s->scratch);
}

static const dlc_layer_vt vt_layernorm = {"layernorm", ln_init, ln_setup, ln_forward, ln_backward, ln_destroy};

dlc_status dlc_net_add_layernorm(dlc_net *net, const char *name, int dims, float eps, int affine) {
  if (!net) return DLC_ERR_INVALID_ARG;
  if (!(eps > 0.f) || (affine != 0 && affine != 1))
    return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "layernorm eps %g must be > 0 and affine 0 or 1", eps);
  dlc_layer *l;
  DLC_TRY(dlc_net_append(net, &vt_layernorm, name, &l));
  l->ndim = dlc_producer_shape(net, l->in, l->shape);
  if (l->ndim < 1)
    return DLC_FAIL(net->ctx, DLC_ERR_SHAPE, "layernorm %s: the input has no dimensions to normalise", l->name);
  if (dims == 0) dims = l->ndim;
  if (dims < 0 || dims > l->ndim)
    return DLC_FAIL(net->ctx, DLC_ERR_SHAPE, "layernorm %s: dims = %d, but the input [%d dimensions per sample] has "
                                             "1 to %d to normalise", l->name, dims, l->ndim, l->ndim);
  ln_layer *s = dlc_layer_state(net, l, sizeof *s);
  if (!s) return DLC_ERR_OUT_OF_MEMORY;
  l->numel = 1;
  for (int i = 0; i < l->ndim; i++) l->numel *= l->shape[i];
  s->D = 1;
  for (int i = l->ndim - dims; i < l->ndim; i++) s->D *= l->shape[i];
  s->rows = l->numel / s->D;
  s->eps = eps;
  s->affine = affine;
  l->flops = 8 * l->numel;
  if (affine) {
    dlc_layer_param(l, "weight", dims, l->shape + l->ndim - dims, 0);
    dlc_layer_param(l, "bias", dims, l->shape + l->ndim - dims, 0);
  }
  net->nlayers++;
  net->next_seq++;
  return DLC_OK;
}

dlc_status dlc_cfg_section_layernorm(dlc_cfg_section *sc, dlc_net *net) {
  int64_t dims, affine;
  float eps;
  DLC_TRY(dlc_cfg_int(sc, "dims", &dims, 0, 1, DLC_MAX_DIMS - 1));
  DLC_TRY(dlc_cfg_float(sc, "eps", &eps, 1e-5f, 1e-12f, 1.f));
  DLC_TRY(dlc_cfg_int(sc, "affine", &affine, 1, 0, 1));
  return dlc_net_add_layernorm(net, dlc_cfg_str(sc, "name"), (int)dims, eps, (int)affine);
}
