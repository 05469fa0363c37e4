/* 2-D pooling inside the library: the public part (parameters, state, forward and
 * backward) is in dlcuda_ops.h; the kernels' geometry in kernels/pool.h. */
#ifndef DLC_POOL2D_H
#define DLC_POOL2D_H

#include "../../kernels/pool.h"
#include "core/internal.h"
#include "dlcuda_ops.h"

/* PyTorch's pooling_output_shape for one dimension, with a DLC_ERR_SHAPE naming the
 * problem: padding over half the kernel, or a window that does not fit. */
dlc_status dlc_pool_out_size(dlc_ctx *ctx, const char *what, int64_t in, int64_t kernel,
                             int64_t stride, int64_t pad, int ceil_mode, int64_t *out);

#endif
