/* The ops the core itself runs on tensors: elementwise fills and updates, random fills and
 * the GEMM wrapper (declared in the public dlcuda_ops.h but the random fills, which the
 * public API offers as dlc_tensor_rand_*). Each checks its arguments and dispatches on the
 * tensors' device. */
#ifndef DLC_CORE_OPS_H
#define DLC_CORE_OPS_H

#include "core/internal.h"
#include "dlcuda_ops.h" /* the public ops: fills, axpy, copy, GEMM, and the rest */

/* Random fills (see dlc_tensor_rand_*): advance the context's generator. */
dlc_status dlc_op_rand_uniform(dlc_ctx *ctx, dlc_tensor *y, float lo, float hi);
dlc_status dlc_op_rand_normal(dlc_ctx *ctx, dlc_tensor *y, float mean, float std);

#endif
