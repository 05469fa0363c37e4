/* Per-element bodies of softmax and log-softmax over a row, forward and backward, shared by
 * the CPU loops (host/ops/op_softmax.c) and the row kernels (kernels/softmax_rows.cuh,
 * kernels/softmax.cu). The row reductions themselves (max, sum) differ by device: a
 * sequential loop on the CPU, shuffle trees on the GPU; parity tests cover them. */
#ifndef DLC_SOFTMAX_H
#define DLC_SOFTMAX_H

#include <math.h>

#include "dlc_hd.h"

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

#endif
