/* libdlcuda's ops: the kernels under the layers, on tensors the caller owns.
 *
 * Each op checks its arguments (shapes, dtypes, devices; a mismatch is an error naming the
 * op and the operand), then runs its CPU loop or its CUDA kernels on the device the tensors
 * are on: every tensor of one call lives on one device. The contract is dlcuda.h's: a
 * dlc_status, and on failure a one-line message in dlc_ctx_error(ctx). Ops allocate
 * nothing per call: the ops that need scratch say how much (a workspace tensor the caller
 * passes), and the stateful ones (convolution, pooling, recurrent layers) are built once
 * for their shapes and then run many times.
 *
 * Gradients accumulate: a backward op adds into dx, dw, db (dx += ...), so a caller zeroes
 * them before a step (dlc_tensor_fill) and branches simply add up. CUDA ops are queued on
 * the context's stream; reading a result (dlc_tensor_download) waits for them.
 *
 * examples/mlp_ops.c trains the article's MLP with these ops alone. */
#ifndef DLCUDA_OPS_H
#define DLCUDA_OPS_H

#include "dlcuda.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- elementwise, GEMM */

/* y = value */
DLC_API dlc_status dlc_op_fill(dlc_ctx *ctx, dlc_tensor *y, float value);
/* y = a * x (x may be y) */
DLC_API dlc_status dlc_op_scale(dlc_ctx *ctx, float a, const dlc_tensor *x, dlc_tensor *y);
/* y += a * x */
DLC_API dlc_status dlc_op_axpy(dlc_ctx *ctx, float a, const dlc_tensor *x, dlc_tensor *y);
/* y = x, both on the same device */
DLC_API dlc_status dlc_op_copy(dlc_ctx *ctx, const dlc_tensor *x, dlc_tensor *y);

/* Row-major GEMM on raw float pointers on `dev`:
 *   C[M,N] = alpha * op(A) op(B) + beta * C,  op(A) is [M,K], op(B) is [K,N]
 * where op(X) = X, or X^T when trans_X. lda/ldb/ldc are the row strides of A, B, C as
 * stored. beta == 0 ignores C's contents (NaN included). On CUDA it runs through cuBLAS on
 * the context's stream; TF32 only when the context allows it. */
DLC_API dlc_status dlc_op_gemm(dlc_ctx *ctx, dlc_device dev, int trans_a, int trans_b, int64_t M,
                               int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                               const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* `batch` independent GEMMs, matrix i at A + i*stride_a and so on. */
DLC_API dlc_status dlc_op_gemm_strided_batched(dlc_ctx *ctx, dlc_device dev, int trans_a, int trans_b,
                                               int64_t M, int64_t N, int64_t K, float alpha,
                                               const float *A, int64_t lda, int64_t stride_a,
                                               const float *B, int64_t ldb, int64_t stride_b, float beta,
                                               float *C, int64_t ldc, int64_t stride_c, int64_t batch);

/* ---------------------------------------------------------------- activations */

/* y = act(x); y may be x. slope: leaky ReLU's negative slope. */
DLC_API dlc_status dlc_op_act_fwd(dlc_ctx *ctx, dlc_act act, float slope, const dlc_tensor *x,
                                  dlc_tensor *y);
/* dx += dy * act'(x). tanh and sigmoid read y (the output), ReLU and leaky ReLU read x. */
DLC_API dlc_status dlc_op_act_bwd(dlc_ctx *ctx, dlc_act act, float slope, const dlc_tensor *x,
                                  const dlc_tensor *y, const dlc_tensor *dy, dlc_tensor *dx);

/* ---------------------------------------------------------------- dense */

/* y[N,out] = act(x[N,in] W[out,in]^T + b[out]), bias and activation fused; b may be NULL. */
DLC_API dlc_status dlc_op_dense_fwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *w,
                                    const dlc_tensor *b, dlc_act act, float slope, dlc_tensor *y);
/* From dy and the saved output y: dz = dy * act'(y) (written into dz, [N,out], which may be
 * dy itself), then dw += dz^T x, db += colsum(dz), dx += dz W. dx and db may be NULL.
 * Leaky ReLU needs slope >= 0 here (the sign of x is read from y). */
DLC_API dlc_status dlc_op_dense_bwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *w,
                                    const dlc_tensor *y, const dlc_tensor *dy, dlc_act act, float slope,
                                    dlc_tensor *dz, dlc_tensor *dx, dlc_tensor *dw, dlc_tensor *db);
/* db[C] += sum over rows of dz[rows, C]. */
DLC_API dlc_status dlc_op_bias_grad(dlc_ctx *ctx, const dlc_tensor *dz, dlc_tensor *db);

/* ---------------------------------------------------------------- dropout */

/* The mask is regenerated from the context's generator position, not stored.
 * Train: y = x * keep / (1 - p), keep_i = uniform_i >= p from block (*offset + i/4);
 * *offset receives the position used, which backward needs. Eval (train = 0) or p = 0:
 * y = x. Dropout in eval mode for p = 0 consumes no random numbers. */
DLC_API dlc_status dlc_op_dropout_fwd(dlc_ctx *ctx, float p, int train, const dlc_tensor *x,
                                      dlc_tensor *y, uint64_t *offset);
/* dx += dy * keep / (1 - p), with the mask of the forward at `offset`. */
DLC_API dlc_status dlc_op_dropout_bwd(dlc_ctx *ctx, float p, uint64_t offset, const dlc_tensor *dy,
                                      dlc_tensor *dx);

/* ---------------------------------------------------------------- batch normalisation */

/* nn.BatchNorm1d / 2d over x [N, C] or [N, C, H, W].
 * Floats of scratch that a CUDA training forward and every backward need for C channels
 * (any N, H, W): allocate a float32 tensor of this many elements on x's device. */
DLC_API int64_t dlc_op_batchnorm_scratch_floats(int64_t C);
/* Train: normalise with the batch statistics (saved in save_mean / save_invstd) and update
 * run_mean / run_var by momentum (unbiased variance); eval: use the running statistics.
 * scratch: see dlc_op_batchnorm_scratch_floats; only a CUDA training forward uses it
 * (elsewhere it may be NULL). */
DLC_API dlc_status dlc_op_batchnorm_fwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *gamma,
                                        const dlc_tensor *beta, dlc_tensor *run_mean, dlc_tensor *run_var,
                                        float momentum, float eps, int train, dlc_tensor *save_mean,
                                        dlc_tensor *save_invstd, dlc_tensor *y, dlc_tensor *scratch);
/* dx += ..., dgamma += sum(dy * xhat), dbeta += sum(dy); dx may be NULL. After a training
 * forward (batch statistics). */
DLC_API dlc_status dlc_op_batchnorm_bwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *gamma,
                                        const dlc_tensor *save_mean, const dlc_tensor *save_invstd,
                                        const dlc_tensor *dy, dlc_tensor *dx, dlc_tensor *dgamma,
                                        dlc_tensor *dbeta, dlc_tensor *scratch);
/* The same after either forward: batch_stats = 0 (evaluation) treats the saved statistics
 * as constants, dx += dy * gamma * invstd, as PyTorch's eval-mode backward. */
DLC_API dlc_status dlc_op_batchnorm_bwd_mode(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *gamma,
                                             const dlc_tensor *save_mean, const dlc_tensor *save_invstd,
                                             const dlc_tensor *dy, dlc_tensor *dx, dlc_tensor *dgamma,
                                             dlc_tensor *dbeta, dlc_tensor *scratch, int batch_stats);

/* ---------------------------------------------------------------- layer normalisation */

/* nn.LayerNorm / F.layer_norm over rows of the last D values of x (R = numel / D rows),
 * eps added to the biased variance; weight and bias [D] may be NULL (1 and 0). save_mean
 * and save_rstd [R] receive each row's mean and 1/std for backward. y may be x. */
DLC_API dlc_status dlc_op_layernorm_fwd(dlc_ctx *ctx, const dlc_tensor *x, int64_t D, const dlc_tensor *weight,
                                        const dlc_tensor *bias, float eps, dlc_tensor *y, dlc_tensor *save_mean,
                                        dlc_tensor *save_rstd);
/* dx += (NULL: not wanted), dweight += and dbias += (NULL: skipped) from dy, after a forward
 * that saved the statistics. scratch: on a CUDA device, dlc_op_layernorm_scratch_floats(D)
 * floats there when dweight or dbias is given; unused on the CPU (may be NULL). */
DLC_API dlc_status dlc_op_layernorm_bwd(dlc_ctx *ctx, const dlc_tensor *x, int64_t D, const dlc_tensor *weight,
                                        const dlc_tensor *save_mean, const dlc_tensor *save_rstd,
                                        const dlc_tensor *dy, dlc_tensor *dx, dlc_tensor *dweight,
                                        dlc_tensor *dbias, dlc_tensor *scratch);
DLC_API int64_t dlc_op_layernorm_scratch_floats(int64_t D);

/* ---------------------------------------------------------------- softmax and losses */

/* Over the last dimension (rows = numel / last). y = softmax(x), or log_softmax(x) when
 * log; y may be x. */
DLC_API dlc_status dlc_op_softmax_fwd(dlc_ctx *ctx, int log, const dlc_tensor *x, dlc_tensor *y);
/* dx += y * (dy - sum(dy * y)); log: dx += dy - exp(y) * sum(dy). */
DLC_API dlc_status dlc_op_softmax_bwd(dlc_ctx *ctx, int log, const dlc_tensor *y, const dlc_tensor *dy,
                                      dlc_tensor *dx);

/* The loss is a 1-element tensor on the inputs' device (read it when needed).
 * logits [N,C], labels int32 [N]. Writes logp = log_softmax(logits) [N,C] and
 * row_w [N] (the weight of each row's label, 0 for ignored rows), both kept for backward,
 * and loss [1]. A label outside [0, C) other than ignore_index is an error on the CPU;
 * on the GPU it makes the loss NaN (a check there would cost a synchronisation). */
DLC_API dlc_status dlc_op_softmax_xent_fwd(dlc_ctx *ctx, const dlc_tensor *logits,
                                           const dlc_tensor *labels, const dlc_xent_opts *opts,
                                           dlc_tensor *logp, dlc_tensor *row_w, dlc_tensor *loss);
/* dlogits += dloss * dloss/dlogits. */
DLC_API dlc_status dlc_op_softmax_xent_bwd(dlc_ctx *ctx, const dlc_tensor *logp,
                                           const dlc_tensor *labels, const dlc_tensor *row_w,
                                           const dlc_xent_opts *opts, float dloss, dlc_tensor *dlogits);
/* loss[1] = mean or sum of (x - target)^2. */
DLC_API dlc_status dlc_op_mse_fwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *target,
                                  dlc_reduction reduction, dlc_tensor *loss);
/* dx += dloss * 2 (x - target) (/ numel for mean). */
DLC_API dlc_status dlc_op_mse_bwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *target,
                                  dlc_reduction reduction, float dloss, dlc_tensor *dx);

/* ---------------------------------------------------------------- gradient clipping */

/* Over a list of gradient tensors on one device.
 * By the global L2 norm, as torch.nn.utils.clip_grad_norm_: total = sqrt(sum of squares
 * over all the tensors), then every gradient *= min(1, max_norm / (total + 1e-6)) (a NaN
 * total makes them NaN, as in PyTorch). work: float32 of at least DLC_CLIP_NORM_WORK
 * elements on the gradients' device; work[0] receives total. On CUDA nothing synchronises
 * unless norm_out (host, may be NULL) asks for the total. Deterministic on both devices. */
#define DLC_CLIP_NORM_WORK 513
/* work[0] = the global L2 norm of the gradients (the first half of the above; no scaling). */
DLC_API dlc_status dlc_op_grad_norm(dlc_ctx *ctx, dlc_tensor *const *grads, int count, dlc_tensor *work);
DLC_API dlc_status dlc_op_clip_grad_norm(dlc_ctx *ctx, dlc_tensor *const *grads, int count,
                                         float max_norm, dlc_tensor *work, float *norm_out);
/* By value, as clip_grad_value_: g = clamp(g, -limit, limit). */
DLC_API dlc_status dlc_op_clip_grad_value(dlc_ctx *ctx, dlc_tensor *const *grads, int count, float limit);

/* ---------------------------------------------------------------- 2-D convolution */

/* NCHW input and OIHW weights as in PyTorch's nn.Conv2d, forward and backward, by
 * im2col + GEMM or through cuDNN (dlc_conv_algo).
 *
 * Build a state once for the largest batch (shapes, the batch chunking under the context's
 * workspace limit, and on a GPU the cuDNN descriptors and algorithms), allocate
 * dlc_conv2d_workspace_bytes() of scratch (a network shares one buffer of the largest size
 * among its layers, which run one at a time), then call forward and backward with tensors
 * and that workspace: nothing is allocated per call. Gradients accumulate. */
typedef struct dlc_conv2d_params {
  int64_t in_channels, out_channels;
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;     /* >= 1 */
  int64_t pad_h, pad_w;           /* >= 0, zeros on both sides */
  int64_t dilation_h, dilation_w; /* >= 1 */
  int64_t groups;                 /* divides both channel counts; = in_channels: depthwise */
  dlc_conv_algo algo;
  /* cuDNN: also consider its algorithms that are not deterministic (atomics); off by
   * default, since the im2col path and the reductions here are deterministic. */
  int cudnn_nondeterministic;
} dlc_conv2d_params;

/* Stride 1, no padding, dilation 1, one group, AUTO. */
DLC_API dlc_conv2d_params dlc_conv2d_params_make(int64_t in_channels, int64_t out_channels,
                                                 int64_t kernel_h, int64_t kernel_w);

/* The three directions, indexing dlc_conv2d_info's arrays. */
enum { DLC_CONV_FWD = 0, DLC_CONV_BWD_DATA = 1, DLC_CONV_BWD_WEIGHTS = 2, DLC_CONV_DIRS = 3 };

typedef struct dlc_conv2d_state dlc_conv2d_state;

/* What a built convolution decided. */
typedef struct dlc_conv2d_info {
  int64_t out_h, out_w;
  size_t workspace_bytes;
  int64_t chunk[DLC_CONV_DIRS];  /* images per im2col pass */
  int use_cudnn[DLC_CONV_DIRS];  /* the path each direction takes on CUDA tensors */
  /* Calls of a cuDNN direction that ran im2col instead because the batch's workspace did
   * not fit (a fallback is never silent). */
  int64_t cudnn_fallbacks[DLC_CONV_DIRS];
  float ms_im2col[DLC_CONV_DIRS], ms_cudnn[DLC_CONV_DIRS]; /* AUTO's timings, else 0 */
} dlc_conv2d_info;

/* Validates p against an input [batch, C, height, width] and builds the state for the
 * context's device. On a GPU with cuDNN and algo CUDNN or AUTO this searches cuDNN's
 * algorithms (and for AUTO times both paths) on scratch buffers, synchronising: do it
 * before the training loop. The cuDNN math is exact fp32 (CUDNN_FMA_MATH) unless the
 * context allows TF32 at this point. On failure *out is NULL. */
DLC_API dlc_status dlc_conv2d_create(dlc_ctx *ctx, const dlc_conv2d_params *p, int64_t batch,
                                     int64_t height, int64_t width, dlc_conv2d_state **out);
DLC_API void dlc_conv2d_destroy(dlc_ctx *ctx, dlc_conv2d_state *s);
DLC_API dlc_status dlc_conv2d_get_info(const dlc_conv2d_state *s, dlc_conv2d_info *out);
/* Scratch that forward and backward need, at most the context's workspace limit (0 is
 * possible: then the workspace tensor may be NULL). */
DLC_API size_t dlc_conv2d_workspace_bytes(const dlc_conv2d_state *s);

/* y [n, O, OH, OW] = conv(x [n, C, H, W], w [O, C/G, KH, KW]) + b [O]; n <= batch; b may
 * be NULL. ws: any tensor on the operands' device of at least workspace_bytes. */
DLC_API dlc_status dlc_conv2d_forward(dlc_ctx *ctx, dlc_conv2d_state *s, const dlc_tensor *x,
                                      const dlc_tensor *w, const dlc_tensor *b, dlc_tensor *y,
                                      dlc_tensor *ws);
/* dx += dL/dx from dy. */
DLC_API dlc_status dlc_conv2d_backward_data(dlc_ctx *ctx, dlc_conv2d_state *s, const dlc_tensor *dy,
                                            const dlc_tensor *w, dlc_tensor *dx, dlc_tensor *ws);
/* dw += dL/dw, and db += sum of dy over images and pixels when db is not NULL. */
DLC_API dlc_status dlc_conv2d_backward_weights(dlc_ctx *ctx, dlc_conv2d_state *s, const dlc_tensor *x,
                                               const dlc_tensor *dy, dlc_tensor *dw, dlc_tensor *db,
                                               dlc_tensor *ws);

/* ---------------------------------------------------------------- 2-D pooling */

/* NCHW, with PyTorch's semantics: max (keeping the argmax, an int32 index ih*W + iw within
 * the input plane, as MaxPool2d(return_indices=True) gives), average (count_include_pad
 * either way) and global average; kernel, stride, padding and ceil_mode as in PyTorch,
 * including its rule that the last window must start inside the input or the left
 * padding. Backward gathers (each input element sums what the windows that hold it send
 * back, in a fixed order: deterministic, no atomics) and accumulates into dx. The state is
 * a plain value: it owns nothing, and pooling needs no workspace. */
typedef struct dlc_pool2d_params {
  dlc_pool_mode mode;
  int64_t kernel_h, kernel_w; /* ignored by GLOBAL_AVG */
  int64_t stride_h, stride_w; /* >= 1 */
  int64_t pad_h, pad_w;       /* 0 to half the kernel, implicit -inf (max) or 0 (average) */
  int ceil_mode;
  int count_include_pad;      /* average pooling: divide by the padded window (PyTorch's default) */
} dlc_pool2d_params;

/* Stride = kernel, no padding, floor mode, count_include_pad = 1: PyTorch's defaults. */
DLC_API dlc_pool2d_params dlc_pool2d_params_make(dlc_pool_mode mode, int64_t kernel_h, int64_t kernel_w);

typedef struct dlc_pool2d_state {
  dlc_pool2d_params p;
  int64_t channels, height, width;
  int64_t out_h, out_w; /* 1 x 1 for GLOBAL_AVG */
} dlc_pool2d_state;

/* Checks p against inputs [*, channels, height, width] and fills *s. */
DLC_API dlc_status dlc_pool2d_init(dlc_ctx *ctx, dlc_pool2d_state *s, const dlc_pool2d_params *p,
                                   int64_t channels, int64_t height, int64_t width);
/* y [n, C, OH, OW] = pool(x [n, C, H, W]), any batch n. argmax: int32 shaped like y,
 * written by MAX pooling (required there), ignored otherwise (may be NULL). */
DLC_API dlc_status dlc_pool2d_forward(dlc_ctx *ctx, const dlc_pool2d_state *s, const dlc_tensor *x,
                                      dlc_tensor *y, dlc_tensor *argmax);
/* dx += dL/dx from dy (and MAX pooling's argmax from forward). */
DLC_API dlc_status dlc_pool2d_backward(dlc_ctx *ctx, const dlc_pool2d_state *s, const dlc_tensor *dy,
                                       const dlc_tensor *argmax, dlc_tensor *dx);

/* ---------------------------------------------------------------- recurrent layers */

/* RNN (tanh or ReLU), LSTM and GRU with PyTorch's equations, gate order, parameter names
 * and shapes; one or more layers, one direction.
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
 * the gradients afterwards with dlc_op_clip_grad_norm or dlc_op_clip_grad_value.
 *
 * Schedule, on either device: for each layer, one GEMM projects the inputs of all T steps
 * (X[T*N, F] W_ih^T); then per step one GEMM h W_hh^T and one fused kernel for all gates
 * (kernels/rnn_cell.h). Backward mirrors it: per step one fused kernel and one GEMM
 * (dG W_hh), then after the loop one GEMM each for dW_ih, dW_hh and dx over all steps. */
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
DLC_API dlc_rnn_desc dlc_rnn_desc_make(dlc_rnn_mode mode, int64_t input_size, int64_t hidden_size,
                                       int num_layers);

/* "RNN_TANH", "RNN_RELU", "LSTM", "GRU"; "?" for anything else. */
DLC_API const char *dlc_rnn_mode_name(dlc_rnn_mode m);

typedef struct dlc_rnn_state {
  dlc_rnn_desc desc;
  int gates;            /* 1, 4 or 3 */
  int params_per_layer; /* 4, or 2 without bias */
  int64_t param_numel;
} dlc_rnn_state;

/* Validates desc (DLC_ERR_INVALID_ARG for a bad mode, DLC_ERR_SHAPE for sizes < 1 or too
 * large) and allocates the state. */
DLC_API dlc_status dlc_rnn_create(dlc_ctx *ctx, const dlc_rnn_desc *desc, dlc_rnn_state **out);
DLC_API void dlc_rnn_destroy(dlc_rnn_state *s);

/* Parameters: packed one after another in PyTorch's order, each row-major. */
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
DLC_API int dlc_rnn_param_count(const dlc_rnn_state *s);
DLC_API int64_t dlc_rnn_param_numel(const dlc_rnn_state *s);
DLC_API dlc_status dlc_rnn_param_get_info(dlc_ctx *ctx, const dlc_rnn_state *s, int index,
                                          dlc_rnn_param_info *out);
/* Fills views[0 .. param_count) with borrowed tensors over the packed block at base. */
DLC_API dlc_status dlc_rnn_param_views(dlc_ctx *ctx, const dlc_rnn_state *s, float *base, dlc_device dev,
                                       dlc_tensor *views);
/* PyTorch's initialisation: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)), from the
 * context's generator. */
DLC_API dlc_status dlc_rnn_init_params(dlc_ctx *ctx, const dlc_rnn_state *s, dlc_tensor *params);

/* Buffers, sized for T steps of N sequences (a buffer sized for the largest batch serves
 * every smaller one). Scratch used during one forward or backward call; train = 1 sizes it
 * for both, and for an inference forward as well. */
DLC_API dlc_status dlc_rnn_workspace_bytes(dlc_ctx *ctx, const dlc_rnn_state *s, int64_t T, int64_t N,
                                           int train, size_t *bytes);
/* Activations written by a training forward and read by the backward that follows:
 * per layer its h for every step, plus the gates and c (LSTM) or the gates and
 * W_hn h + b_hn (GRU). */
DLC_API dlc_status dlc_rnn_reserve_bytes(dlc_ctx *ctx, const dlc_rnn_state *s, int64_t T, int64_t N,
                                         size_t *bytes);

/* params: dlc_rnn_param_count tensors in the order above. h0, c0 may be NULL (zeros); y, hT,
 * cT may be NULL (not wanted). c0 and cT must be NULL unless the mode is LSTM. workspace:
 * any dtype, at least dlc_rnn_workspace_bytes(train). train = 1 writes the reserve (at
 * least dlc_rnn_reserve_bytes) for backward; train = 0 needs none (reserve may be NULL).
 * Every tensor is on x's device. */
DLC_API dlc_status dlc_op_rnn_fwd(dlc_ctx *ctx, const dlc_rnn_state *s, const dlc_tensor *params,
                                  const dlc_tensor *x, const dlc_tensor *h0, const dlc_tensor *c0,
                                  dlc_tensor *y, dlc_tensor *hT, dlc_tensor *cT, dlc_tensor *workspace,
                                  dlc_tensor *reserve, int train);
/* After a training forward with the same params, x, h0, c0 and the reserve it wrote:
 * dy, dhT, dcT are the gradients of the loss with respect to y, hT, cT (each may be NULL,
 * meaning zero). Accumulates into dx, dh0, dc0 (each may be NULL, not wanted) and into
 * grads (dlc_rnn_param_count tensors shaped like params, or NULL to skip the parameter
 * gradients). The reserve is read, not changed: backward may be run again. */
DLC_API dlc_status dlc_op_rnn_bwd(dlc_ctx *ctx, const dlc_rnn_state *s, const dlc_tensor *params,
                                  const dlc_tensor *x, const dlc_tensor *h0, const dlc_tensor *c0,
                                  const dlc_tensor *dy, const dlc_tensor *dhT, const dlc_tensor *dcT,
                                  dlc_tensor *dx, dlc_tensor *dh0, dlc_tensor *dc0, dlc_tensor *grads,
                                  dlc_tensor *workspace, const dlc_tensor *reserve);

#ifdef __cplusplus
}
#endif
#endif /* DLCUDA_OPS_H */
