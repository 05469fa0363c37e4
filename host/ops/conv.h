/* 2-D convolution inside the library (the public part: dlcuda_ops.h), NCHW input and
 * OIHW weights as in PyTorch's nn.Conv2d, forward and backward, by im2col + GEMM or
 * through cuDNN.
 *
 * A layer builds a dlc_conv2d_state once (shapes, parameters, the batch chunking under the
 * context's workspace limit, and on a GPU the cuDNN descriptors and algorithms), allocates
 * dlc_conv2d_workspace_bytes() of scratch (or shares one buffer of the largest size among
 * its layers, which run one at a time), and then calls forward/backward with tensors and
 * that workspace: a training step allocates nothing.
 *
 * im2col path, per chunk of nb images (G groups, K = C/G*KH*KW, P = OH*OW, Og = O/G):
 *   forward         col = im2col(x); y_(n,g) = W_g col_(n,g): one strided-batched GEMM over
 *                   all nb*G (image, group) pairs (W tiled nb times when G > 1, so the A
 *                   operand has a constant stride), then y += b;
 *   backward-data   col = W_g^T dy_(n,g) (the same batched GEMM), dx += col2im(col);
 *   backward-weights col^T = im2col in [C*KH*KW][nb*P] layout and dy regrouped to
 *                   [O][nb*P], then dW_g += dy_g col_g^T: one GEMM per group, batched,
 *                   summing over the chunk inside the GEMM; db += sum of dy per channel.
 * On the CPU the same products run image by image instead, each thread on its own images
 * with a column slot of its own (one image's column matrix stays in cache) and
 * single-threaded GEMMs; backward-weights sums per-thread partial dW in thread order.
 * A 1x1 convolution with stride 1 and no padding skips im2col: x is the column matrix.
 * Gradients accumulate (dx += ..., dw += ..., db += ...). */
#ifndef DLC_CONV_H
#define DLC_CONV_H

#include "../../kernels/im2col.h"
#include "core/internal.h"
#include "dlcuda_ops.h"

struct dlc_conv_cudnn; /* conv_cudnn.c: descriptors and chosen algorithms */

/* The state behind dlc_conv2d_state (dlcuda_ops.h: opaque to programs). */
struct dlc_conv2d_state {
  dlc_conv2d_params p;
  int64_t batch, height, width; /* input [batch, C, H, W]; calls may pass fewer images */
  int64_t out_h, out_w;
  dlc_conv_geom geom;           /* geom.N = 1; a chunk's copy sets N */
  int64_t group_k;              /* K = C/G * KH * KW: rows of one group's column matrix */
  int skip_im2col;              /* 1x1, stride 1, no padding */
  int cpu_wide;                 /* the CPU's wide-column forward and backward-weights (op_conv.c) */
  int64_t chunk[DLC_CONV_DIRS]; /* images per im2col pass */
  int use_cudnn[DLC_CONV_DIRS]; /* the path each direction takes on CUDA tensors */
  /* Calls of a cuDNN direction that ran im2col instead because the batch's workspace did
   * not fit (the benchmark prints them: a fallback must never be silent). */
  int64_t cudnn_fallbacks[DLC_CONV_DIRS];
  float ms_im2col[DLC_CONV_DIRS], ms_cudnn[DLC_CONV_DIRS]; /* AUTO's timings, else 0 */
  size_t workspace_bytes;
  struct dlc_conv_cudnn *cudnn; /* NULL unless a direction may use cuDNN */
};

/* Output size of one spatial dimension, with a clear DLC_ERR_SHAPE when the kernel does
 * not fit the padded input or a value is out of range. `what` names it ("height"). */
dlc_status dlc_conv_out_size(dlc_ctx *ctx, const char *what, int64_t in, int64_t kernel,
                             int64_t stride, int64_t pad, int64_t dilation, int64_t *out);

/* ---- inside the library: planning, the im2col path on raw pointers, building blocks */

/* Where direction dir's scratch lies for a chunk of nb images, in floats from the start
 * of the workspace: area a, then area b (each may be empty). */
typedef struct dlc_conv_ws_layout {
  int64_t a, a_len, b, b_len, total;
} dlc_conv_ws_layout;
dlc_conv_ws_layout dlc_conv_ws_layout_for(const dlc_conv2d_state *s, int dir, int64_t nb);
/* The most images (<= max_images) whose direction-dir scratch fits in `bytes`; 0 if
 * not even one does. Also keeps every per-chunk buffer under 2^31 elements. */
int64_t dlc_conv_chunk_for(const dlc_conv2d_state *s, int dir, int64_t max_images, size_t bytes);

/* Scratch for the CPU's per-image im2col path (op_conv.c): a slot per thread, as many
 * threads of ctx as fit in `limit` (at least one). */
size_t dlc_conv_cpu_workspace_bytes(dlc_ctx *ctx, const dlc_conv2d_state *s, size_t limit);

/* The im2col path over n images of device dev, with `ws_bytes` of scratch at ws; forward
 * adds the bias when it is not NULL. */
dlc_status dlc_conv_im2col_forward(dlc_ctx *ctx, const dlc_conv2d_state *s, dlc_device dev,
                                   int64_t n, const float *x, const float *w, const float *bias,
                                   float *y, float *ws, size_t ws_bytes);
dlc_status dlc_conv_im2col_backward_data(dlc_ctx *ctx, const dlc_conv2d_state *s,
                                         dlc_device dev, int64_t n, const float *dy,
                                         const float *w, float *dx, float *ws, size_t ws_bytes);
dlc_status dlc_conv_im2col_backward_weights(dlc_ctx *ctx, const dlc_conv2d_state *s,
                                            dlc_device dev, int64_t n, const float *x,
                                            const float *dy, float *dw, float *ws,
                                            size_t ws_bytes);

/* Building blocks (op_im2col.c): each runs its body from im2col.h in a CPU loop or its
 * CUDA kernel; element counts under 2^31. */
dlc_status dlc_im2col_run(dlc_ctx *ctx, int on_cuda, int transposed, dlc_conv_geom g,
                          const float *x, float *col);
dlc_status dlc_col2im_run(dlc_ctx *ctx, int on_cuda, dlc_conv_geom g, const float *col, float *dx);
/* The CPU bodies on the calling thread: the whole column matrix [C][KH][KW][OH][OW] of one
 * image (g.N = 1), and dx += col2im(col) for input planes (n, c) in [lo, hi), row by row:
 * each element sums its taps in dlc_col2im_at's order, so the bits agree. */
void dlc_im2col_cpu_image(const dlc_conv_geom g, const float *x, float *col);
void dlc_col2im_cpu_planes(const dlc_conv_geom g, const float *col, float *dx, int64_t lo,
                           int64_t hi);
dlc_status dlc_nchw_to_cnhw_run(dlc_ctx *ctx, int on_cuda, int N, int C, int P, const float *in,
                                float *out);
dlc_status dlc_tile_run(dlc_ctx *ctx, int on_cuda, const float *src, int len, int copies,
                        float *out);
dlc_status dlc_channel_bias_run(dlc_ctx *ctx, int on_cuda, const float *b, float *y, int N, int C,
                                int P);
/* out[c] = (accumulate ? out[c] : 0) + (sum_{n<N, p<P} in[n*stride + c*P + p]) / divisor,
 * deterministic on both devices. */
dlc_status dlc_channel_sum_run(dlc_ctx *ctx, int on_cuda, const float *in, float *out, int64_t N,
                               int64_t C, int64_t P, int64_t stride, float divisor,
                               int accumulate);

#endif
