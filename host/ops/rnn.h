/* Recurrent layers: RNN (tanh or ReLU), LSTM and GRU with PyTorch's equations, gate order,
 * parameter names and shapes; one or more layers, one direction.
 *
 * A network layer builds a dlc_rnn_state once, asks it for the parameter layout and the
 * sizes of the two buffers it must provide, and then calls forward and backward with views
 * into its own memory; neither call allocates.
 *
 *   dlc_rnn_desc d = dlc_rnn_desc_make(DLC_RNN_LSTM, F, H, L);
 *   dlc_rnn_create(ctx, &d, &s);
 *   dlc_rnn_param_numel(s)                      floats of parameters (and of gradients)
 *   dlc_rnn_param_views(ctx, s, base, dev, v)   views of weight_ih_l0, weight_hh_l0, ...
 *   dlc_rnn_workspace_bytes(ctx, s, T, N, train, &ws)   scratch, needed only during a call
 *   dlc_rnn_reserve_bytes(ctx, s, T, N, &rs)    activations kept from forward for backward
 *   dlc_op_rnn_fwd(...), dlc_op_rnn_bwd(...)
 *   dlc_rnn_destroy(s);
 *
 * Shapes (F = input_size, H = hidden_size, L = num_layers, G = gates * H, gates = 1 for RNN,
 * 4 for LSTM, 3 for GRU):
 *   x, dx     [T, N, F], or [N, T, F] with batch_first
 *   y, dy     [T, N, H] (every step of the top layer), or [N, T, H] with batch_first,
 *             or [N, H] with last_only (the top layer's last step)
 *   h0, hT    [L, N, H]; c0, cT (LSTM only) [L, N, H]; and their gradients alike
 *   parameters, in this order for each layer k (PyTorch's named_parameters order):
 *     weight_ih_l{k} [G, F or H], weight_hh_l{k} [G, H], bias_ih_l{k} [G], bias_hh_l{k} [G]
 *
 * Backward runs through time over the whole sequence and accumulates (+=) into every
 * gradient it is given: dx, dh0, dc0 and the parameter gradients. It does not clip: clip
 * the gradient buffer afterwards with dlc_op_clip_grad_norm (global L2 norm, like
 * torch.nn.utils.clip_grad_norm_) or dlc_op_clip_grad_value (ops.h).
 *
 * Schedule, on either device: for each layer, one GEMM projects the inputs of all T steps
 * (X[T*N, F] W_ih^T); then per step one GEMM h W_hh^T and one fused kernel for all gates
 * (kernels/rnn_cell.h). Backward mirrors it: per step one fused kernel and one GEMM
 * (dG W_hh), then after the loop one GEMM each for dW_ih, dW_hh and dx over all steps. */
#ifndef DLC_RNN_H
#define DLC_RNN_H

#include "core/internal.h"

typedef struct dlc_rnn_desc {
  dlc_rnn_mode mode;
  int64_t input_size;  /* F */
  int64_t hidden_size; /* H */
  int num_layers;      /* L >= 1; layer k > 0 takes layer k - 1's h as input */
  int bias;            /* 1 (PyTorch's default): bias_ih and bias_hh per layer; 0: none */
  int batch_first;     /* 1: x, y and their gradients are [N, T, *] */
  int last_only;       /* 1: y is only the top layer's last h, [N, H] */
} dlc_rnn_desc;

/* A description with PyTorch's defaults: bias, time-major, every step in y. */
dlc_rnn_desc dlc_rnn_desc_make(dlc_rnn_mode mode, int64_t input_size, int64_t hidden_size,
                               int num_layers);

/* "RNN_TANH", "RNN_RELU", "LSTM", "GRU"; "?" for anything else. */
const char *dlc_rnn_mode_name(dlc_rnn_mode m);

typedef struct dlc_rnn_state {
  dlc_rnn_desc desc;
  int gates;            /* 1, 4 or 3 */
  int params_per_layer; /* 4, or 2 without bias */
  int64_t param_numel;
} dlc_rnn_state;

/* Validates desc (DLC_ERR_INVALID_ARG for a bad mode, DLC_ERR_SHAPE for sizes < 1 or too
 * large) and allocates the state. */
dlc_status dlc_rnn_create(dlc_ctx *ctx, const dlc_rnn_desc *desc, dlc_rnn_state **out);
void dlc_rnn_destroy(dlc_rnn_state *s);

/* ---- parameters: packed one after another in PyTorch's order, each row-major */
typedef enum dlc_rnn_param_kind {
  DLC_RNN_WEIGHT_IH = 0,
  DLC_RNN_WEIGHT_HH = 1,
  DLC_RNN_BIAS_IH = 2,
  DLC_RNN_BIAS_HH = 3
} dlc_rnn_param_kind;

typedef struct dlc_rnn_param_info {
  char name[32];  /* "weight_ih_l0", PyTorch's state_dict name within the module */
  int layer;
  dlc_rnn_param_kind kind;
  int ndim;       /* 2 for weights, 1 for biases */
  int64_t shape[2];
  int64_t numel;
  int64_t offset; /* floats from the start of the packed block */
} dlc_rnn_param_info;

/* Number of parameter tensors (4 per layer, 2 without bias) and their total floats. */
int dlc_rnn_param_count(const dlc_rnn_state *s);
int64_t dlc_rnn_param_numel(const dlc_rnn_state *s);
dlc_status dlc_rnn_param_get_info(dlc_ctx *ctx, const dlc_rnn_state *s, int index,
                                  dlc_rnn_param_info *out);
/* Fills views[0 .. param_count) with borrowed tensors over the packed block at base. */
dlc_status dlc_rnn_param_views(dlc_ctx *ctx, const dlc_rnn_state *s, float *base, dlc_device dev,
                               dlc_tensor *views);
/* PyTorch's initialisation: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)), from the
 * context's generator. */
dlc_status dlc_rnn_init_params(dlc_ctx *ctx, const dlc_rnn_state *s, dlc_tensor *params);

/* ---- buffers, sized for T steps of N sequences (larger T or N need more; a buffer sized
 * for the largest batch serves every smaller one) */
/* Scratch used during one forward or backward call; train = 1 sizes it for both, and for
 * an inference forward as well. */
dlc_status dlc_rnn_workspace_bytes(dlc_ctx *ctx, const dlc_rnn_state *s, int64_t T, int64_t N,
                                   int train, size_t *bytes);
/* Activations written by a training forward and read by the backward that follows:
 * per layer its h for every step, plus the gates and c (LSTM) or the gates and
 * W_hn h + b_hn (GRU). */
dlc_status dlc_rnn_reserve_bytes(dlc_ctx *ctx, const dlc_rnn_state *s, int64_t T, int64_t N,
                                 size_t *bytes);

/* ---- forward and backward
 * params: dlc_rnn_param_count tensors in the order above. h0, c0 may be NULL (zeros); y, hT,
 * cT may be NULL (not wanted). c0 and cT must be NULL unless the mode is LSTM. workspace:
 * any dtype, at least dlc_rnn_workspace_bytes(train). train = 1 writes the reserve (at
 * least dlc_rnn_reserve_bytes) for backward; train = 0 needs none (reserve may be NULL).
 * Every tensor is on x's device. */
dlc_status dlc_op_rnn_fwd(dlc_ctx *ctx, const dlc_rnn_state *s, const dlc_tensor *params,
                          const dlc_tensor *x, const dlc_tensor *h0, const dlc_tensor *c0,
                          dlc_tensor *y, dlc_tensor *hT, dlc_tensor *cT, dlc_tensor *workspace,
                          dlc_tensor *reserve, int train);
/* After a training forward with the same params, x, h0, c0 and the reserve it wrote:
 * dy, dhT, dcT are the gradients of the loss with respect to y, hT, cT (each may be NULL,
 * meaning zero). Accumulates into dx, dh0, dc0 (each may be NULL, not wanted) and into
 * grads (dlc_rnn_param_count tensors shaped like params, or NULL to skip the parameter
 * gradients). The reserve is read, not changed: backward may be run again. */
dlc_status dlc_op_rnn_bwd(dlc_ctx *ctx, const dlc_rnn_state *s, const dlc_tensor *params,
                          const dlc_tensor *x, const dlc_tensor *h0, const dlc_tensor *c0,
                          const dlc_tensor *dy, const dlc_tensor *dhT, const dlc_tensor *dcT,
                          dlc_tensor *dx, dlc_tensor *dh0, dlc_tensor *dc0, dlc_tensor *grads,
                          dlc_tensor *workspace, const dlc_tensor *reserve);

/* ---- the buffer plan shared by the sizing queries and the ops (offsets in floats, each
 * sub-buffer starting on a 256-byte boundary; -1 where absent) */
typedef struct dlc_rnn_plan {
  int64_t T, N, H, G;
  /* reserve, layer l at l * res_layer */
  int64_t res_h;     /* [T, N, H] the layer's output */
  int64_t res_gates; /* [T, N, G] LSTM, GRU */
  int64_t res_aux;   /* [T, N, H] LSTM c, GRU W_hn h + b_hn */
  int64_t res_layer, res_floats;
  /* workspace, forward */
  int64_t ws_xproj;  /* [T, N, G] input projection of one layer */
  int64_t ws_hproj;  /* [N, G] recurrent projection of one step */
  int64_t ws_seq;    /* inference: [T, N, H] the layer's output (overwriting its input) */
  int64_t ws_c;      /* inference, LSTM: [N, H] c, updated in place */
  /* workspace, backward (overlapping the forward's: they are not live at once) */
  int64_t ws_dgx;    /* [T, N, G] gradient of the input-side pre-activations */
  int64_t ws_dgh;    /* [T, N, G] recurrent-side, time-major: GRU, or batch_first */
  int64_t ws_dseq;   /* [T, N, H] gradient reaching the layer below's output (L > 1) */
  int64_t ws_dh;     /* [N, H] gradient reaching h_{t-1} through the recurrence */
  int64_t ws_dc;     /* [N, H] LSTM gradient reaching c_{t-1} */
  int64_t ws_floats;
} dlc_rnn_plan;

dlc_status dlc_rnn_plan_make(dlc_ctx *ctx, const dlc_rnn_state *s, int64_t T, int64_t N,
                             int train, dlc_rnn_plan *p);

#endif
