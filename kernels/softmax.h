/* Per-element bodies of softmax and log-softmax over a row, forward and backward, shared by
 * the CPU loops (host/ops/op_softmax.c) and the row kernels (kernels/softmax_rows.cuh,
 * kernels/softmax.cu). The row reductions themselves (max, sum) differ by device: a
 * sequential loop on the CPU, shuffle trees on the GPU; parity tests cover them. */
#ifndef DLC_SOFTMAX_H
#define DLC_SOFTMAX_H

#include <math.h>

#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

/* With m the row max and s = sum_j exp(x_j - m), the number the output needs:
 * softmax multiplies by 1 / s, log-softmax subtracts log(s). */
DLC_HD static inline float dlc_softmax_scale(float s, int log_softmax) {
  return log_softmax ? logf(s) : 1.f / s;
}

/*   softmax:     y = exp(x - m) / s
 *   log-softmax: y = (x - m) - log(s)
 * The max is subtracted first (as a float), so exp never overflows and x = +-1e30 is
 * harmless. A row that is all -inf has m = -inf and x - m = NaN: the output is NaN, as in
 * PyTorch; a NaN anywhere in the row makes s NaN and with it the whole row. */
DLC_HD static inline float dlc_softmax_out(float x, float m, float scale, int log_softmax) {
  return log_softmax ? (x - m) - scale : expf(x - m) * scale;
}

/* The backward's row reduction is the sum of this term: sum(dy * y) for softmax, sum(dy)
 * for log-softmax. */
DLC_HD static inline float dlc_softmax_bwd_term(float y, float dy, int log_softmax) {
  return log_softmax ? dy : dy * y;
}

/* dx + the input gradient, red being the row sum of dlc_softmax_bwd_term:
 *   softmax:     dx += y (dy - sum(dy y))
 *   log-softmax: dx += dy - exp(y) sum(dy) */
DLC_HD static inline float dlc_softmax_bwd_out(float y, float dy, float dx, float red,
                                               int log_softmax) {
  return log_softmax ? dx + (dy - expf(y) * red) : dx + y * (dy - red);
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* Softmax (log_softmax = 0) or log-softmax (1) over `rows` rows of C floats; y may be x. */
int dlc_launch_softmax_fwd(int log_softmax, const float *x, float *y, int64_t rows, int64_t C,
                           void *stream);
/* Per row: dx += y (dy - sum(dy y)), or for log-softmax dx += dy - exp(y) sum(dy). */
int dlc_launch_softmax_bwd(int log_softmax, const float *y, const float *dy, float *dx,
                           int64_t rows, int64_t C, void *stream);

#ifdef __cplusplus
}
#endif

#endif
