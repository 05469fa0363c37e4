/* The network graph's innards, shared by net.c and the layer files (layer_*.c). */
#ifndef DLC_NET_INTERNAL_H
#define DLC_NET_INTERNAL_H

#include "ops/ops.h"

#define DLC_MAX_PARAMS 16 /* per layer: 4 per RNN layer x up to 4 layers */

typedef struct dlc_layer dlc_layer;

/* A layer kind's behaviour. forward/backward run on the current batch n; setup runs once
 * after the parameter and activation buffers exist (op states, workspaces); init fills the
 * parameters (PyTorch's default initialisation). All but forward may be NULL. */
typedef struct dlc_layer_vt {
  const char *kind;
  dlc_status (*init)(dlc_net *net, dlc_layer *l);
  dlc_status (*setup)(dlc_net *net, dlc_layer *l);
  dlc_status (*forward)(dlc_net *net, dlc_layer *l, int64_t n, int train);
  dlc_status (*backward)(dlc_net *net, dlc_layer *l, int64_t n);
  void (*destroy)(dlc_net *net, dlc_layer *l);
} dlc_layer_vt;

/* A parameter (or buffer, like running statistics) of a layer, at `offset` floats into the
 * network's parameter buffer (buffers: into its state buffer). */
typedef struct dlc_param {
  char name[48]; /* PyTorch's name within the module: weight, bias, weight_ih_l0, ... */
  int ndim;
  int64_t shape[4];
  int64_t numel, offset;
  int is_buffer;   /* running_mean, running_var: saved, not trained */
  int is_counter;  /* num_batches_tracked: an int64 scalar in the layer, in host memory */
  dlc_tensor value, grad; /* views, set at build */
} dlc_param;

struct dlc_layer {
  const dlc_layer_vt *vt;
  char name[64];
  int seq;           /* index in the model (nn.Sequential's), -1 for none */
  int in, in2;       /* producers: layer indices, -1 = the network input, -2 = none */
  int ndim;          /* per-sample output shape (without the batch) */
  int64_t shape[DLC_MAX_DIMS - 1];
  int64_t numel;     /* per sample */
  int64_t flops;     /* per sample, forward (multiply-adds count 2) */
  dlc_tensor out, dout; /* [max_batch, shape...] views into the activation arenas */
  int alias_input;   /* out/dout are the input's (flatten, an absorbed activation) */
  int nparam;
  dlc_param param[DLC_MAX_PARAMS];
  /* The activation of an activation layer, or the one fused into a dense layer (the
   * network's fusion pass moves it): the only kind-specific settings kept here. */
  dlc_act act;
  float slope;
  int absorbed;      /* an activation computed by the dense layer before it */
  int64_t counter;   /* the value of a dlc_layer_counter buffer (num_batches_tracked) */
  /* Everything else a kind keeps (its settings, op state, workspaces) is its own struct,
   * defined in its layer file: dlc_layer_state allocates it, the kind's destroy releases
   * what it holds, and the network frees it. */
  void *state;
};

struct dlc_net {
  dlc_ctx *ctx;
  int in_ndim;
  int64_t in_shape[DLC_MAX_DIMS - 1];
  int64_t max_batch;
  dlc_layer *layers;
  int nlayers, cap, next_seq;
  /* The loss head. */
  int loss;          /* 0 none, 1 softmax cross-entropy, 2 MSE */
  dlc_xent_opts xent;
  dlc_tensor class_weight;
  dlc_reduction mse_reduction;
  dlc_tensor loss_value, logp, row_w, dlogits;
  /* Buffers, planned at build. */
  int built;
  int64_t nparams, nbuffers, nacts;
  dlc_tensor params, grads, buffers, acts, dacts, din;
  /* The current batch. */
  const dlc_tensor *x;      /* the last forward's input ... */
  const dlc_tensor *target; /* ... and the last loss's target: both read by backward */
  int64_t n;
  int train;           /* the last forward's mode: backward follows it */
  int want_input_grad;
  /* Layer statistics (layer_stats.c), while enabled: DLC_STATS_SLOTS doubles per layer
   * (float storage) and the ReLU layers' unit flags, on the network's device. */
  int stats_on;
  int64_t stats_steps;
  dlc_tensor stats_acc, stats_alive, stats_work;
  int64_t *stats_alive_at; /* per layer: its first flag in stats_alive, or -1 */
};

/* Layer statistics (layer_stats.c): called by the training loop after a step's forward
 * (the activations) and after its backward (the gradients), when enabled. */
dlc_status dlc_net_stats_forward(dlc_net *net);
dlc_status dlc_net_stats_backward(dlc_net *net);
void dlc_net_stats_free(dlc_net *net);

/* A view of the first n samples of a [max_batch, ...] tensor. */
dlc_tensor dlc_batch_view(const dlc_tensor *t, int64_t n);
/* The tensors layer l reads from (its input, or the network input) and the gradient it
 * accumulates into (NULL when it is the network input and no input gradient is wanted). */
const dlc_tensor *dlc_layer_input(dlc_net *net, const dlc_layer *l, int which);
dlc_tensor *dlc_layer_input_grad(dlc_net *net, const dlc_layer *l, int which);
/* Per-sample shape of a producer (-1: the network input). */
int dlc_producer_shape(const dlc_net *net, int producer, int64_t shape[DLC_MAX_DIMS - 1]);
/* Appends a layer fed by the previous one; returns it with its name set. */
dlc_status dlc_net_append(dlc_net *net, const dlc_layer_vt *vt, const char *name, dlc_layer **out);
/* Declares parameter k of layer l. */
void dlc_layer_param(dlc_layer *l, const char *name, int ndim, const int64_t *shape, int is_buffer);
/* Declares an int64 scalar buffer of layer l held in l->counter. */
void dlc_layer_counter(dlc_layer *l, const char *name);
/* Allocates layer l's zeroed settings struct of `size` bytes into l->state (once its
 * arguments are checked: the network frees it with the layer); NULL when out of memory. */
void *dlc_layer_state(dlc_net *net, dlc_layer *l, size_t size);
/* Fills a parameter with U(-bound, bound) from the context's generator. */
dlc_status dlc_param_uniform(dlc_net *net, dlc_param *p, float bound);

/* The layer kinds, defined in layer_*.c. */
extern const dlc_layer_vt dlc_vt_dense, dlc_vt_activation, dlc_vt_dropout, dlc_vt_flatten,
    dlc_vt_add, dlc_vt_batchnorm, dlc_vt_rnn, dlc_vt_conv2d, dlc_vt_pool;

#endif
