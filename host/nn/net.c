/* The network: layers appended in order with their shapes inferred, then one build that
 * lays out the parameter, gradient and activation buffers; forward, the loss head, and
 * backward in reverse order with gradients accumulating. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net_internal.h"

dlc_tensor dlc_batch_view(const dlc_tensor *t, int64_t n) {
  dlc_tensor v = *t;
  v.owns = 0;
  if (v.ndim > 0 && v.shape[0] > 0) {
    int64_t per = t->numel / t->shape[0];
    v.shape[0] = n;
    v.numel = n * per;
    v.nbytes = (size_t)v.numel * dlc_dtype_size(v.dtype);
  }
  return v;
}

static dlc_layer *producer(dlc_net *net, int idx) { return idx >= 0 ? &net->layers[idx] : NULL; }

const dlc_tensor *dlc_layer_input(dlc_net *net, const dlc_layer *l, int which) {
  int idx = which ? l->in2 : l->in;
  return idx >= 0 ? &net->layers[idx].out : net->x;
}

dlc_tensor *dlc_layer_input_grad(dlc_net *net, const dlc_layer *l, int which) {
  int idx = which ? l->in2 : l->in;
  if (idx >= 0) return &net->layers[idx].dout;
  return net->want_input_grad ? &net->din : NULL;
}

int dlc_producer_shape(const dlc_net *net, int idx, int64_t shape[DLC_MAX_DIMS - 1]) {
  const int64_t *s = idx >= 0 ? net->layers[idx].shape : net->in_shape;
  int nd = idx >= 0 ? net->layers[idx].ndim : net->in_ndim;
  memcpy(shape, s, sizeof(int64_t) * (size_t)nd);
  return nd;
}

dlc_status dlc_net_create(dlc_ctx *ctx, int ndim, const int64_t *input_shape, int64_t max_batch,
                          dlc_net **out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  if (ndim < 1 || ndim > DLC_MAX_DIMS - 1)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "network input has %d dimensions; one sample has 1 to %d",
                    ndim, DLC_MAX_DIMS - 1);
  int64_t numel;
  DLC_TRY(dlc_shape_numel(ctx, ndim, input_shape, 4, &numel));
  if (max_batch <= 0) return DLC_FAIL(ctx, DLC_ERR_SHAPE, "max batch %lld must be positive", (long long)max_batch);
  dlc_net *net = calloc(1, sizeof *net);
  if (!net) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "network");
  net->ctx = ctx;
  net->in_ndim = ndim;
  memcpy(net->in_shape, input_shape, sizeof(int64_t) * (size_t)ndim);
  net->max_batch = max_batch;
  net->xent = dlc_xent_opts_default();
  *out = net;
  return DLC_OK;
}

void dlc_net_destroy(dlc_net *net) {
  if (!net) return;
  dlc_ctx *ctx = net->ctx;
  for (int i = 0; i < net->nlayers; i++) {
    dlc_layer *l = &net->layers[i];
    if (l->vt->destroy) l->vt->destroy(net, l);
    free(l->state);
  }
  if (net->nlayers < net->cap) free(net->layers[net->nlayers].state); /* a failed add's */
  dlc_tensor *bufs[] = {&net->params, &net->grads, &net->buffers, &net->acts, &net->dacts, &net->din,
                        &net->class_weight, &net->loss_value, &net->logp, &net->row_w};
  for (int k = 0; k < 10; k++) dlc_tensor_free(ctx, bufs[k]);
  dlc_net_stats_free(net);
  free(net->layers);
  free(net);
}

static dlc_layer *find(dlc_net *net, const char *name) {
  for (int i = 0; i < net->nlayers; i++)
    if (strcmp(net->layers[i].name, name) == 0) return &net->layers[i];
  return NULL;
}

dlc_status dlc_net_append(dlc_net *net, const dlc_layer_vt *vt, const char *name, dlc_layer **out) {
  dlc_ctx *ctx = net->ctx;
  if (net->built) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "the network is already built");
  if (name && (!name[0] || strlen(name) >= sizeof net->layers[0].name))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "layer name \"%s\" is empty or too long", name);
  if (name && find(net, name))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "two layers are named \"%s\"", name);
  if (net->nlayers == net->cap) {
    int cap = net->cap ? net->cap * 2 : 16;
    dlc_layer *nl = realloc(net->layers, sizeof *nl * (size_t)cap);
    if (!nl) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "layers");
    memset(nl + net->cap, 0, sizeof *nl * (size_t)(cap - net->cap));
    net->layers = nl;
    net->cap = cap;
  }
  dlc_layer *l = &net->layers[net->nlayers];
  free(l->state); /* the settings of an add that failed after allocating them */
  memset(l, 0, sizeof *l);
  l->vt = vt;
  l->in = net->nlayers - 1;
  l->in2 = -2;
  l->seq = net->next_seq;
  if (name)
    snprintf(l->name, sizeof l->name, "%s", name);
  else
    snprintf(l->name, sizeof l->name, "%s%d", vt->kind, l->seq);
  *out = l;
  return DLC_OK; /* the caller commits it with net->nlayers++ once its shape checks out */
}

void dlc_layer_param(dlc_layer *l, const char *name, int ndim, const int64_t *shape, int is_buffer) {
  dlc_param *p = &l->param[l->nparam++];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  p->ndim = ndim;
  p->numel = 1;
  for (int i = 0; i < ndim; i++) {
    p->shape[i] = shape[i];
    p->numel *= shape[i];
  }
  p->is_buffer = is_buffer;
}

void *dlc_layer_state(dlc_net *net, dlc_layer *l, size_t size) {
  l->state = calloc(1, size);
  if (!l->state) DLC_FAIL(net->ctx, DLC_ERR_OUT_OF_MEMORY, "layer %s: %zu bytes of settings", l->name, size);
  return l->state;
}

void dlc_layer_counter(dlc_layer *l, const char *name) {
  dlc_layer_param(l, name, 0, NULL, 1);
  l->param[l->nparam - 1].is_counter = 1;
}

dlc_status dlc_param_uniform(dlc_net *net, dlc_param *p, float bound) {
  if (bound <= 0.f) return dlc_op_fill(net->ctx, &p->value, 0.f);
  return dlc_op_rand_uniform(net->ctx, &p->value, -bound, bound);
}

dlc_status dlc_net_set_loss_xent(dlc_net *net, const dlc_xent_opts *opts) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  if (net->built) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "the network is already built");
  dlc_xent_opts o = opts ? *opts : dlc_xent_opts_default();
  if (!(o.label_smoothing >= 0.f && o.label_smoothing <= 1.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "label smoothing %g is not in [0, 1]", o.label_smoothing);
  dlc_tensor_free(ctx, &net->class_weight);
  if (o.class_weight) {
    DLC_TRY(dlc_check_f32(ctx, o.class_weight, "class_weight"));
    DLC_TRY(dlc_tensor_alloc(ctx, &net->class_weight, DLC_F32, 1, &o.class_weight->numel, ctx->device));
    DLC_TRY(dlc_tensor_copy(ctx, &net->class_weight, o.class_weight));
    o.class_weight = &net->class_weight;
  }
  net->xent = o;
  net->loss = 1;
  return DLC_OK;
}

dlc_status dlc_net_set_loss_mse(dlc_net *net, dlc_reduction reduction) {
  if (!net) return DLC_ERR_INVALID_ARG;
  if (net->built) return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "the network is already built");
  net->mse_reduction = reduction;
  net->loss = 2;
  return DLC_OK;
}

/* Fuses an activation into the dense layer feeding it when nothing else reads the dense
 * layer's pre-activation output. */
static void fuse(dlc_net *net) {
  for (int i = 0; i + 1 < net->nlayers; i++) {
    dlc_layer *d = &net->layers[i], *a = &net->layers[i + 1];
    if (d->vt != &dlc_vt_dense || a->vt != &dlc_vt_activation || a->in != i || d->act != DLC_ACT_NONE)
      continue;
    if (a->act == DLC_ACT_LEAKY_RELU && a->slope < 0.f) continue; /* backward reads the sign from y */
    int readers = 0;
    for (int j = 0; j < net->nlayers; j++) readers += (net->layers[j].in == i) + (net->layers[j].in2 == i);
    if (readers != 1) continue;
    d->act = a->act;
    d->slope = a->slope;
    a->absorbed = 1;
    a->alias_input = 1;
  }
}

static dlc_status alloc_zero(dlc_ctx *ctx, dlc_tensor *t, int64_t n) {
  if (n < 1) n = 1;
  DLC_TRY(dlc_tensor_alloc(ctx, t, DLC_F32, 1, &n, ctx->device));
  return dlc_op_fill(ctx, t, 0.f);
}

/* *total += rows * n floats, rounded up to 16, unless the sum would pass 2^61 floats (2^63
 * bytes): each tensor's size was checked alone, but a batch of them, or many, can overflow. */
static dlc_status add_floats(dlc_ctx *ctx, int64_t *total, int64_t rows, int64_t n, const dlc_layer *l,
                             const char *what) {
  const int64_t lim = INT64_MAX / 4;
  if (n > (lim - 15 - *total) / rows)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "layer %s: the network's %s would pass 2^61 floats (%lld so far, plus %lld x %lld for this layer)",
                    l->name, what, (long long)*total, (long long)rows, (long long)n);
  *total += (rows * n + 15) / 16 * 16;
  return DLC_OK;
}

dlc_status dlc_net_build(dlc_net *net) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  if (net->built) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "the network is already built");
  if (net->nlayers == 0) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "the network has no layers");
  fuse(net);
  /* Offsets: parameters and buffers in their own buffers, activations in the arenas. */
  net->nparams = net->nbuffers = net->nacts = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dlc_layer *l = &net->layers[i];
    for (int k = 0; k < l->nparam; k++) {
      dlc_param *p = &l->param[k];
      if (p->is_counter) continue;
      int64_t *total = p->is_buffer ? &net->nbuffers : &net->nparams;
      p->offset = *total; /* 64-byte aligned starts, for float4 kernels */
      DLC_TRY(add_floats(ctx, total, 1, p->numel, l, p->is_buffer ? "buffers" : "parameters"));
    }
    if (!l->alias_input) DLC_TRY(add_floats(ctx, &net->nacts, net->max_batch, l->numel, l, "activations"));
  }
  DLC_TRY(alloc_zero(ctx, &net->params, net->nparams));
  DLC_TRY(alloc_zero(ctx, &net->grads, net->nparams));
  DLC_TRY(alloc_zero(ctx, &net->buffers, net->nbuffers));
  DLC_TRY(alloc_zero(ctx, &net->acts, net->nacts));
  DLC_TRY(alloc_zero(ctx, &net->dacts, net->nacts));
  int64_t in_shape[DLC_MAX_DIMS] = {net->max_batch};
  memcpy(in_shape + 1, net->in_shape, sizeof(int64_t) * (size_t)net->in_ndim);
  DLC_TRY(dlc_tensor_alloc(ctx, &net->din, DLC_F32, net->in_ndim + 1, in_shape, ctx->device));
  int64_t at = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dlc_layer *l = &net->layers[i];
    int64_t shape[DLC_MAX_DIMS] = {net->max_batch};
    memcpy(shape + 1, l->shape, sizeof(int64_t) * (size_t)l->ndim);
    float *a, *d;
    if (l->alias_input) {
      dlc_layer *src = producer(net, l->in);
      a = src ? src->out.data : NULL;
      d = src ? src->dout.data : NULL;
      if (!src) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "layer %s cannot alias the network input", l->name);
    } else {
      a = (float *)net->acts.data + at;
      d = (float *)net->dacts.data + at;
      at += (net->max_batch * l->numel + 15) / 16 * 16;
    }
    DLC_TRY(dlc_tensor_borrow(ctx, &l->out, a, DLC_F32, l->ndim + 1, shape, ctx->device));
    DLC_TRY(dlc_tensor_borrow(ctx, &l->dout, d, DLC_F32, l->ndim + 1, shape, ctx->device));
    for (int k = 0; k < l->nparam; k++) {
      dlc_param *p = &l->param[k];
      if (p->is_counter) {
        dlc_device host = {DLC_DEVICE_CPU, 0};
        DLC_TRY(dlc_tensor_borrow(ctx, &p->value, &l->counter, DLC_I64, 0, NULL, host));
        continue;
      }
      float *base = p->is_buffer ? net->buffers.data : net->params.data;
      DLC_TRY(dlc_tensor_borrow(ctx, &p->value, base + p->offset, DLC_F32, p->ndim, p->shape, ctx->device));
      if (!p->is_buffer)
        DLC_TRY(dlc_tensor_borrow(ctx, &p->grad, (float *)net->grads.data + p->offset, DLC_F32, p->ndim, p->shape, ctx->device));
    }
  }
  for (int i = 0; i < net->nlayers; i++) {
    dlc_layer *l = &net->layers[i];
    if (l->vt->init) DLC_TRY(l->vt->init(net, l));
    if (l->vt->setup) DLC_TRY(l->vt->setup(net, l));
  }
  dlc_layer *last = &net->layers[net->nlayers - 1];
  int64_t one = 1;
  DLC_TRY(dlc_tensor_alloc(ctx, &net->loss_value, DLC_F32, 1, &one, ctx->device));
  if (net->loss == 1) {
    int64_t classes = last->shape[last->ndim - 1], rows = net->max_batch * (last->numel / classes);
    int64_t lp[2] = {rows, classes};
    if (net->class_weight.data && net->class_weight.numel != classes)
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%lld class weights for %lld classes", (long long)net->class_weight.numel,
                      (long long)classes);
    DLC_TRY(dlc_tensor_alloc(ctx, &net->logp, DLC_F32, 2, lp, ctx->device));
    DLC_TRY(dlc_tensor_alloc(ctx, &net->row_w, DLC_F32, 1, &rows, ctx->device));
  }
  net->built = 1;
  return DLC_OK;
}

static dlc_status check_built(dlc_net *net) {
  if (!net) return DLC_ERR_INVALID_ARG;
  if (!net->built) return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "build the network first (dlc_net_build)");
  return DLC_OK;
}

dlc_status dlc_net_forward(dlc_net *net, const dlc_tensor *x, int train, dlc_tensor *out) {
  DLC_TRY(check_built(net));
  dlc_ctx *ctx = net->ctx;
  DLC_TRY(dlc_check_f32(ctx, x, "input"));
  char a[96];
  int shape_ok = x->ndim == net->in_ndim + 1 && x->shape[0] >= 1 && x->shape[0] <= net->max_batch;
  for (int i = 0; shape_ok && i < net->in_ndim; i++) shape_ok = x->shape[i + 1] == net->in_shape[i];
  if (!shape_ok) {
    char want[96];
    dlc_tensor w;
    int64_t ws[DLC_MAX_DIMS] = {net->max_batch};
    memcpy(ws + 1, net->in_shape, sizeof(int64_t) * (size_t)net->in_ndim);
    w.ndim = net->in_ndim + 1;
    memcpy(w.shape, ws, sizeof ws);
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "input %s does not fit the network's %s (batch up to %lld)",
                    dlc_shape_str(x, a, sizeof a), dlc_shape_str(&w, want, sizeof want),
                    (long long)net->max_batch);
  }
  if (x->device.kind != ctx->device.kind)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "the input is not on the network's device");
  net->x = x;
  net->target = NULL;
  net->n = x->shape[0];
  net->train = train != 0;
  for (int i = 0; i < net->nlayers; i++) {
    dlc_layer *l = &net->layers[i];
    if (l->absorbed) continue;
    dlc_status s = l->vt->forward(net, l, net->n, train);
    if (s != DLC_OK) {
      char msg[DLC_MSG_LEN];
      snprintf(msg, sizeof msg, "%s", dlc_ctx_error(ctx));
      return DLC_FAIL(ctx, s, "layer %d (%s, %s) forward: %.900s", l->seq, l->name, l->vt->kind, msg);
    }
  }
  if (out) *out = dlc_batch_view(&net->layers[net->nlayers - 1].out, net->n);
  return DLC_OK;
}

dlc_status dlc_net_loss(dlc_net *net, const dlc_tensor *target, dlc_tensor *loss) {
  DLC_TRY(check_built(net));
  dlc_ctx *ctx = net->ctx;
  if (!net->x) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "run forward before the loss");
  dlc_layer *last = &net->layers[net->nlayers - 1];
  dlc_tensor y = dlc_batch_view(&last->out, net->n);
  if (net->loss == 1) {
    int64_t classes = last->shape[last->ndim - 1], rows = y.numel / classes;
    int64_t s2[2] = {rows, classes};
    DLC_TRY(dlc_tensor_reshape(ctx, &y, 2, s2));
    if (!target || target->dtype != DLC_I32 || target->numel != rows)
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "cross-entropy needs %lld int32 labels", (long long)rows);
    dlc_tensor lp = dlc_batch_view(&net->logp, rows), rw = dlc_batch_view(&net->row_w, rows);
    DLC_TRY(dlc_op_softmax_xent_fwd(ctx, &y, target, &net->xent, &lp, &rw, &net->loss_value));
  } else if (net->loss == 2) {
    DLC_TRY(dlc_op_mse_fwd(ctx, &y, target, net->mse_reduction, &net->loss_value));
  } else {
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "the network has no loss head");
  }
  net->target = target;
  if (loss) *loss = net->loss_value;
  return DLC_OK;
}

static dlc_status backward_layers(dlc_net *net) {
  dlc_ctx *ctx = net->ctx;
  for (int i = net->nlayers - 1; i >= 0; i--) {
    dlc_layer *l = &net->layers[i];
    if (l->absorbed || !l->vt->backward) continue;
    dlc_status s = l->vt->backward(net, l, net->n);
    if (s != DLC_OK) {
      char msg[DLC_MSG_LEN];
      snprintf(msg, sizeof msg, "%s", dlc_ctx_error(ctx));
      return DLC_FAIL(ctx, s, "layer %d (%s, %s) backward: %.900s", l->seq, l->name, l->vt->kind, msg);
    }
  }
  return DLC_OK;
}

/* Activation gradients start at zero every backward: layers accumulate into them. */
static dlc_status clear_dacts(dlc_net *net) {
  DLC_TRY(dlc_op_fill(net->ctx, &net->dacts, 0.f));
  if (net->want_input_grad) DLC_TRY(dlc_op_fill(net->ctx, &net->din, 0.f));
  return DLC_OK;
}

dlc_status dlc_net_backward(dlc_net *net) {
  DLC_TRY(check_built(net));
  dlc_ctx *ctx = net->ctx;
  if (!net->x || !net->target)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "run forward and the loss before backward");
  DLC_TRY(clear_dacts(net));
  dlc_layer *last = &net->layers[net->nlayers - 1];
  dlc_tensor dy = dlc_batch_view(&last->dout, net->n), y = dlc_batch_view(&last->out, net->n);
  if (net->loss == 1) {
    int64_t classes = last->shape[last->ndim - 1], rows = y.numel / classes;
    int64_t s2[2] = {rows, classes};
    DLC_TRY(dlc_tensor_reshape(ctx, &dy, 2, s2));
    dlc_tensor lp = dlc_batch_view(&net->logp, rows), rw = dlc_batch_view(&net->row_w, rows);
    DLC_TRY(dlc_op_softmax_xent_bwd(ctx, &lp, net->target, &rw, &net->xent, 1.f, &dy));
  } else if (net->loss == 2) {
    DLC_TRY(dlc_op_mse_bwd(ctx, &y, net->target, net->mse_reduction, 1.f, &dy));
  } else {
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "the network has no loss head");
  }
  return backward_layers(net);
}

dlc_status dlc_net_backward_from(dlc_net *net, const dlc_tensor *dout) {
  DLC_TRY(check_built(net));
  dlc_ctx *ctx = net->ctx;
  if (!net->x) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "run forward before backward");
  dlc_layer *last = &net->layers[net->nlayers - 1];
  dlc_tensor dy = dlc_batch_view(&last->dout, net->n);
  DLC_TRY(dlc_check_like(ctx, &dy, dout, "output gradient"));
  DLC_TRY(clear_dacts(net));
  DLC_TRY(dlc_op_copy(ctx, dout, &dy));
  return backward_layers(net);
}

dlc_status dlc_net_zero_grad(dlc_net *net) {
  DLC_TRY(check_built(net));
  return dlc_op_fill(net->ctx, &net->grads, 0.f);
}

dlc_status dlc_net_input_grad(dlc_net *net, int enable, dlc_tensor *dx) {
  DLC_TRY(check_built(net));
  net->want_input_grad = enable != 0;
  if (dx) *dx = dlc_batch_view(&net->din, net->n > 0 ? net->n : net->max_batch);
  return DLC_OK;
}

dlc_tensor *dlc_net_params(dlc_net *net) { return net && net->built ? &net->params : NULL; }
dlc_tensor *dlc_net_grads(dlc_net *net) { return net && net->built ? &net->grads : NULL; }

int64_t dlc_net_param_count(const dlc_net *net) {
  if (!net) return 0;
  int64_t n = 0;
  for (int i = 0; i < net->nlayers; i++)
    for (int k = 0; k < net->layers[i].nparam; k++)
      if (!net->layers[i].param[k].is_buffer) n += net->layers[i].param[k].numel;
  return n;
}

int dlc_net_input_shape(const dlc_net *net, int64_t shape[DLC_MAX_DIMS]) {
  if (!net) return 0;
  memcpy(shape, net->in_shape, sizeof(int64_t) * (size_t)net->in_ndim);
  return net->in_ndim;
}

int dlc_net_output_shape(const dlc_net *net, int64_t shape[DLC_MAX_DIMS]) {
  if (!net || net->nlayers == 0) return 0;
  const dlc_layer *l = &net->layers[net->nlayers - 1];
  memcpy(shape, l->shape, sizeof(int64_t) * (size_t)l->ndim);
  return l->ndim;
}

int64_t dlc_net_classes(const dlc_net *net) {
  if (!net || net->loss == 2 || net->nlayers == 0) return 0;
  const dlc_layer *l = &net->layers[net->nlayers - 1];
  return l->ndim > 0 ? l->shape[l->ndim - 1] : 0;
}

int dlc_net_tensor_count(const dlc_net *net) {
  int n = 0;
  for (int i = 0; net && i < net->nlayers; i++) n += net->layers[i].nparam;
  return n;
}

dlc_status dlc_net_tensor(dlc_net *net, int k, char *name, size_t len, dlc_tensor *value,
                          dlc_tensor *grad, int *is_buffer) {
  DLC_TRY(check_built(net));
  for (int i = 0; i < net->nlayers; i++) {
    dlc_layer *l = &net->layers[i];
    if (k >= l->nparam) {
      k -= l->nparam;
      continue;
    }
    dlc_param *p = &l->param[k];
    if (name) snprintf(name, len, "%d.%s", l->seq, p->name);
    if (value) *value = p->value;
    if (grad) {
      if (p->is_buffer) memset(grad, 0, sizeof *grad);
      else *grad = p->grad;
    }
    if (is_buffer) *is_buffer = p->is_buffer;
    return DLC_OK;
  }
  return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "tensor %d of %d", k, dlc_net_tensor_count(net));
}

static void shape_text(int ndim, const int64_t *s, char *buf, size_t len) {
  size_t at = (size_t)snprintf(buf, len, "[N");
  for (int i = 0; i < ndim && at < len; i++) at += (size_t)snprintf(buf + at, len - at, ", %lld", (long long)s[i]);
  if (at < len) snprintf(buf + at, len - at, "]");
}

dlc_status dlc_net_summary(const dlc_net *net, char *buf, size_t len) {
  if (!net || !buf) return DLC_ERR_INVALID_ARG;
  size_t at = 0;
#define PUT(...) at += (size_t)snprintf(buf + at, at < len ? len - at : 0, __VA_ARGS__)
  char s[96];
  shape_text(net->in_ndim, net->in_shape, s, sizeof s);
  PUT("%-4s %-16s %-12s %-24s %12s %14s\n", "#", "layer", "kind", "output", "params", "FLOPs/sample");
  PUT("%-4s %-16s %-12s %-24s %12s %14s\n", "", "input", "", s, "", "");
  int64_t total_p = 0, total_f = 0;
  for (int i = 0; i < net->nlayers; i++) {
    const dlc_layer *l = &net->layers[i];
    int64_t np = 0;
    for (int k = 0; k < l->nparam; k++)
      if (!l->param[k].is_buffer) np += l->param[k].numel;
    shape_text(l->ndim, l->shape, s, sizeof s);
    char kind[32];
    snprintf(kind, sizeof kind, "%s%s", l->vt->kind, l->absorbed ? "*" : "");
    PUT("%-4d %-16s %-12s %-24s %12lld %14lld\n", l->seq, l->name, kind, s, (long long)np, (long long)l->flops);
    total_p += np;
    total_f += l->flops;
  }
  PUT("total: %lld parameters, %.3f MFLOPs per sample forward%s\n", (long long)total_p, total_f / 1e6,
      net->built ? "" : " (not built)");
  for (int i = 0; i < net->nlayers; i++)
    if (net->layers[i].absorbed) {
      PUT("* fused into the layer before\n");
      break;
    }
#undef PUT
  return at < len ? DLC_OK : DLC_ERR_INVALID_ARG;
}
