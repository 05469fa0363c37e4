/* 2-D pooling on NCHW tensors with PyTorch's semantics: max (keeping the argmax, an int32
 * index ih*W + iw within the input plane, as MaxPool2d(return_indices=True) gives), average
 * (count_include_pad either way) and global average; kernel, stride, padding and
 * ceil_mode as in PyTorch, including its rule that the last window must start inside the
 * input or the left padding. Backward gathers (each input element sums what the windows
 * that hold it send back, in a fixed order: deterministic, no atomics) and accumulates
 * into dx.
 *
 * A pooling layer keeps a dlc_pool2d_state by value: it owns no resources (nothing to
 * destroy) and pooling needs no workspace. */
#ifndef DLC_POOL2D_H
#define DLC_POOL2D_H

#include "../../kernels/pool.h"
#include "core/internal.h"

typedef struct dlc_pool2d_params {
  dlc_pool_mode mode;
  int64_t kernel_h, kernel_w; /* ignored by GLOBAL_AVG */
  int64_t stride_h, stride_w; /* >= 1 */
  int64_t pad_h, pad_w;       /* 0 to half the kernel, implicit -inf (max) or 0 (average) */
  int ceil_mode;
  int count_include_pad;      /* average pooling: divide by the padded window (PyTorch's default) */
} dlc_pool2d_params;

/* Stride = kernel, no padding, floor mode, count_include_pad = 1: PyTorch's defaults. */
dlc_pool2d_params dlc_pool2d_params_make(dlc_pool_mode mode, int64_t kernel_h, int64_t kernel_w);

typedef struct dlc_pool2d_state {
  dlc_pool2d_params p;
  int64_t channels, height, width;
  int64_t out_h, out_w; /* 1 x 1 for GLOBAL_AVG */
  dlc_pool_geom geom;
} dlc_pool2d_state;

/* PyTorch's pooling_output_shape for one dimension, with a DLC_ERR_SHAPE naming the
 * problem: padding over half the kernel, or a window that does not fit. */
dlc_status dlc_pool_out_size(dlc_ctx *ctx, const char *what, int64_t in, int64_t kernel,
                             int64_t stride, int64_t pad, int ceil_mode, int64_t *out);

/* Checks p against inputs [*, channels, height, width] and fills *s. */
dlc_status dlc_pool2d_init(dlc_ctx *ctx, dlc_pool2d_state *s, const dlc_pool2d_params *p,
                           int64_t channels, int64_t height, int64_t width);
/* y [n, C, OH, OW] = pool(x [n, C, H, W]), any batch n. argmax: int32 shaped like y,
 * written by MAX pooling (required there), ignored otherwise (may be NULL). */
dlc_status dlc_pool2d_forward(dlc_ctx *ctx, const dlc_pool2d_state *s, const dlc_tensor *x,
                              dlc_tensor *y, dlc_tensor *argmax);
/* dx += dL/dx from dy (and MAX pooling's argmax from forward). */
dlc_status dlc_pool2d_backward(dlc_ctx *ctx, const dlc_pool2d_state *s, const dlc_tensor *dy,
                               const dlc_tensor *argmax, dlc_tensor *dx);

#endif
