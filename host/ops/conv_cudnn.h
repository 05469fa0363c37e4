/* The cuDNN side of a convolution state (conv_cudnn.c); stubs without cuDNN. */
#ifndef DLC_CONV_CUDNN_H
#define DLC_CONV_CUDNN_H

#include "ops/conv.h"

/* 1 when this build has cuDNN and the context holds a cuDNN handle. */
int dlc_conv_cudnn_available(const dlc_ctx *ctx);
/* At create: descriptors, the algorithm search for each direction (workspace capped by the
 * context's limit; the fastest deterministic algorithm, or any with
 * p.cudnn_nondeterministic), and for AUTO the timing against im2col. Sets s->use_cudnn,
 * s->ms_* and bytes[d], the workspace of the chosen cuDNN algorithm. A direction where no
 * algorithm fits stays on im2col. */
dlc_status dlc_conv_cudnn_setup(dlc_ctx *ctx, dlc_conv2d_state *s, size_t bytes[DLC_CONV_DIRS]);
void dlc_conv_cudnn_destroy(dlc_ctx *ctx, dlc_conv2d_state *s);
/* Direction dir over n images: FWD y = conv(x = a, w = b); BWD_DATA dx (out) += from
 * dy = a, w = b; BWD_WEIGHTS dw (out) += from x = a, dy = b. Sets *ran = 0 and returns
 * DLC_OK, doing nothing, when the chosen algorithm needs more than ws_bytes for n images
 * (a smaller batch than the state's): the caller then runs im2col. */
dlc_status dlc_conv_cudnn_run(dlc_ctx *ctx, dlc_conv2d_state *s, int dir, int64_t n,
                              const float *a, const float *b, float *out, void *ws,
                              size_t ws_bytes, int *ran);

#endif
