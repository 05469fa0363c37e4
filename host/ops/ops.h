/* The internal op API. Layers are written once against these; each op checks its
 * arguments, then dispatches on the tensors' device to a CPU loop or a CUDA launcher. */
#ifndef DLC_OPS_H
#define DLC_OPS_H

#include "core/core_ops.h"

/* ---- helpers the op files share */
dlc_status dlc_check_act(dlc_ctx *ctx, dlc_act act);
/* a and b are float32 with the same element count on one device; messages name op, an, bn. */
dlc_status dlc_check_pair(dlc_ctx *ctx, const char *op, const dlc_tensor *a, const char *an,
                          const dlc_tensor *b, const char *bn);
/* t is float32 with ref's element count, on ref's device. */
dlc_status dlc_check_like(dlc_ctx *ctx, const dlc_tensor *ref, const dlc_tensor *t,
                          const char *what);
/* dx (+)= dy * act'(x, y) over raw pointers; the one act' does not read may be NULL. */
dlc_status dlc_act_grad_run(dlc_ctx *ctx, dlc_act act, float slope, const float *x,
                            const float *y, const float *dy, float *dx, int64_t n, int accumulate,
                            int on_cuda);

/* y[r, c] = act(y[r, c] + b[c]) on the CPU; b may be NULL. */
void dlc_bias_act_cpu(dlc_ctx *ctx, dlc_act act, float slope, const float *b, float *y,
                      int64_t rows, int64_t cols);

/* ---- activations (bodies in kernels/activation.h) */
/* y = act(x); y may be x. slope: leaky ReLU's negative slope. */
dlc_status dlc_op_act_fwd(dlc_ctx *ctx, dlc_act act, float slope, const dlc_tensor *x,
                          dlc_tensor *y);
/* dx += dy * act'(x). tanh and sigmoid read y (the output), ReLU and leaky ReLU read x. */
dlc_status dlc_op_act_bwd(dlc_ctx *ctx, dlc_act act, float slope, const dlc_tensor *x,
                          const dlc_tensor *y, const dlc_tensor *dy, dlc_tensor *dx);

/* ---- dense: y[N,out] = act(x[N,in] W[out,in]^T + b[out]), bias and activation fused */
dlc_status dlc_op_dense_fwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *w,
                            const dlc_tensor *b, dlc_act act, float slope, dlc_tensor *y);
/* From dy and the saved output y: dz = dy * act'(y) (written into dz, [N,out], which may be
 * dy itself), then dw += dz^T x, db += colsum(dz), dx += dz W. dx and db may be NULL.
 * Leaky ReLU needs slope >= 0 here (the sign of x is read from y). */
dlc_status dlc_op_dense_bwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *w,
                            const dlc_tensor *y, const dlc_tensor *dy, dlc_act act, float slope,
                            dlc_tensor *dz, dlc_tensor *dx, dlc_tensor *dw, dlc_tensor *db);
/* db[C] += sum over rows of dz[rows, C]. */
dlc_status dlc_op_bias_grad(dlc_ctx *ctx, const dlc_tensor *dz, dlc_tensor *db);

/* ---- dropout: the mask is regenerated from the generator position, not stored */
/* Train: y = x * keep / (1 - p), keep_i = uniform_i >= p from block (*offset + i/4);
 * *offset receives the position used, which backward needs. Eval (train = 0) or p = 0:
 * y = x. Dropout in eval mode for p = 0 consumes no random numbers. */
dlc_status dlc_op_dropout_fwd(dlc_ctx *ctx, float p, int train, const dlc_tensor *x,
                              dlc_tensor *y, uint64_t *offset);
/* dx += dy * keep / (1 - p), with the mask of the forward at `offset`. */
dlc_status dlc_op_dropout_bwd(dlc_ctx *ctx, float p, uint64_t offset, const dlc_tensor *dy,
                              dlc_tensor *dx);

/* ---- batch normalisation (nn.BatchNorm1d / 2d) over x [N, C] or [N, C, H, W] */
/* Train: normalise with the batch statistics (saved in save_mean / save_invstd) and update
 * run_mean / run_var by momentum (unbiased variance); eval: use the running statistics.
 * scratch: float32 on x's device, dlc_bn_scratch_floats(C) (kernels/batchnorm.h) is
 * always enough; only a CUDA training forward uses it (elsewhere it may be NULL). */
dlc_status dlc_op_batchnorm_fwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *gamma,
                                const dlc_tensor *beta, dlc_tensor *run_mean, dlc_tensor *run_var,
                                float momentum, float eps, int train, dlc_tensor *save_mean,
                                dlc_tensor *save_invstd, dlc_tensor *y, dlc_tensor *scratch);
/* dx += ..., dgamma += sum(dy * xhat), dbeta += sum(dy); dx may be NULL; scratch: as for
 * forward (2C floats on the CPU). After a training forward (batch statistics). */
dlc_status dlc_op_batchnorm_bwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *gamma,
                                const dlc_tensor *save_mean, const dlc_tensor *save_invstd,
                                const dlc_tensor *dy, dlc_tensor *dx, dlc_tensor *dgamma,
                                dlc_tensor *dbeta, dlc_tensor *scratch);
/* The same after either forward: batch_stats = 0 (evaluation) treats the saved statistics
 * as constants, dx += dy * gamma * invstd, as PyTorch's eval-mode backward. */
dlc_status dlc_op_batchnorm_bwd_mode(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *gamma,
                                     const dlc_tensor *save_mean, const dlc_tensor *save_invstd,
                                     const dlc_tensor *dy, dlc_tensor *dx, dlc_tensor *dgamma,
                                     dlc_tensor *dbeta, dlc_tensor *scratch, int batch_stats);

/* ---- softmax over the last dimension (rows = numel / last) */
/* y = softmax(x), or log_softmax(x) when log; y may be x. */
dlc_status dlc_op_softmax_fwd(dlc_ctx *ctx, int log, const dlc_tensor *x, dlc_tensor *y);
/* dx += y * (dy - sum(dy * y)); log: dx += dy - exp(y) * sum(dy). */
dlc_status dlc_op_softmax_bwd(dlc_ctx *ctx, int log, const dlc_tensor *y, const dlc_tensor *dy,
                              dlc_tensor *dx);

/* ---- losses; the loss is a 1-element tensor on the inputs' device (read it when needed) */
/* logits [N,C], labels int32 [N]. Writes logp = log_softmax(logits) [N,C] and
 * row_w [N] (the weight of each row's label, 0 for ignored rows), both kept for backward,
 * and loss [1]. A label outside [0, C) other than ignore_index is an error on the CPU;
 * on the GPU it makes the loss NaN (a check there would cost a synchronisation). */
dlc_status dlc_op_softmax_xent_fwd(dlc_ctx *ctx, const dlc_tensor *logits,
                                   const dlc_tensor *labels, const dlc_xent_opts *opts,
                                   dlc_tensor *logp, dlc_tensor *row_w, dlc_tensor *loss);
/* dlogits += dloss * dloss/dlogits. */
dlc_status dlc_op_softmax_xent_bwd(dlc_ctx *ctx, const dlc_tensor *logp,
                                   const dlc_tensor *labels, const dlc_tensor *row_w,
                                   const dlc_xent_opts *opts, float dloss, dlc_tensor *dlogits);
/* loss[1] = mean or sum of (x - target)^2. */
dlc_status dlc_op_mse_fwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *target,
                          dlc_reduction reduction, dlc_tensor *loss);
/* dx += dloss * 2 (x - target) (/ numel for mean). */
dlc_status dlc_op_mse_bwd(dlc_ctx *ctx, const dlc_tensor *x, const dlc_tensor *target,
                          dlc_reduction reduction, float dloss, dlc_tensor *dx);

/* ---- gradient clipping, over a list of gradient tensors on one device
 * By the global L2 norm, as torch.nn.utils.clip_grad_norm_: total = sqrt(sum of squares
 * over all the tensors), then every gradient *= min(1, max_norm / (total + 1e-6)) (a NaN
 * total makes them NaN, as in PyTorch). work: float32 of at least DLC_CLIP_NORM_WORK
 * elements on the gradients' device; work[0] receives total. On CUDA nothing synchronises
 * unless norm_out (host, may be NULL) asks for the total. Deterministic on both devices. */
#define DLC_CLIP_NORM_WORK 513
/* work[0] = the global L2 norm of the gradients (the first half of the above; no scaling). */
dlc_status dlc_op_grad_norm(dlc_ctx *ctx, dlc_tensor *const *grads, int count, dlc_tensor *work);
dlc_status dlc_op_clip_grad_norm(dlc_ctx *ctx, dlc_tensor *const *grads, int count,
                                 float max_norm, dlc_tensor *work, float *norm_out);
/* By value, as clip_grad_value_: g = clamp(g, -limit, limit). */
dlc_status dlc_op_clip_grad_value(dlc_ctx *ctx, dlc_tensor *const *grads, int count, float limit);

/* ---- recurrent layers: RNN, LSTM, GRU */
#include "ops/rnn.h"
/* ---- convolution and pooling: layers hold a state built once (conv.h, pool.h) */
#include "ops/conv.h"
#include "ops/pool.h"

#endif
