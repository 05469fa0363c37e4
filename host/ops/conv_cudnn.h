/* The cuDNN side of a convolution state (conv_cudnn.c); stubs without cuDNN. */
#ifndef DLC_CONV_CUDNN_H
#define DLC_CONV_CUDNN_H

#include "ops/conv.h"

/* 1 when this build has cuDNN and the context holds a cuDNN handle. */
int dlc_conv_cudnn_available(const dlc_ctx *ctx);
/* The path cuDNN is raced against for AUTO, given by the planner (conv_plan.c) so that this
 * file calls nothing of the other paths: direction dir over n images with the operands of
 * dlc_conv_cudnn_run (a, b in; out written). */
typedef dlc_status (*dlc_conv_rival_fn)(dlc_ctx *ctx, const dlc_conv2d_state *s, int dir,
                                         int64_t n, const float *a, const float *b, float *out,
                                         float *ws, size_t ws_bytes);
/* At create: descriptors and the algorithm search for each direction (workspace capped by
 * the context's limit; the fastest deterministic algorithm, or any with
 * p.cudnn_nondeterministic). Sets s->use_cudnn[d] where an algorithm fits and bytes[d], its
 * workspace. With a rival (AUTO), also times both paths on the same scratch buffers into
 * s->ms_cudnn[d] and s->ms_im2col[d]; the planner decides from them. rival_bytes[d] is the
 * workspace the rival needs for the state's batch. */
dlc_status dlc_conv_cudnn_setup(dlc_ctx *ctx, dlc_conv2d_state *s, size_t bytes[DLC_CONV_DIRS],
                                dlc_conv_rival_fn rival, const size_t rival_bytes[DLC_CONV_DIRS]);
void dlc_conv_cudnn_destroy(dlc_ctx *ctx, dlc_conv2d_state *s);
/* Direction dir over n images: FWD y = conv(x = a, w = b); BWD_DATA dx (out) += from
 * dy = a, w = b; BWD_WEIGHTS dw (out) += from x = a, dy = b. Sets *ran = 0 and returns
 * DLC_OK, doing nothing, when the chosen algorithm needs more than ws_bytes for n images
 * (a smaller batch than the state's): the caller then runs im2col. */
dlc_status dlc_conv_cudnn_run(dlc_ctx *ctx, dlc_conv2d_state *s, int dir, int64_t n,
                              const float *a, const float *b, float *out, void *ws,
                              size_t ws_bytes, int *ran);

#endif
