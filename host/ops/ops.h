/* The op API inside the library: the public ops (include/dlcuda_ops.h: activations,
 * dense, dropout, batchnorm, softmax, losses, clipping, conv2d, pooling, recurrent layers)
 * and the helpers their files share. Layers are written once against these; each op
 * checks its arguments, then dispatches on the tensors' device to a CPU loop or a CUDA
 * launcher. */
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

/* ---- recurrent layers: RNN, LSTM, GRU */
#include "ops/rnn.h"
/* ---- convolution and pooling: layers hold a state built once (conv.h, pool.h) */
#include "ops/conv.h"
#include "ops/pool.h"

#endif
