/* Per-element bodies of the activations, shared by the CPU loops and the CUDA kernels.
 * NaN propagates as in PyTorch: relu(NaN) = NaN, and a NaN input passes its gradient. */
#ifndef DLC_ACTIVATION_H
#define DLC_ACTIVATION_H

#include "dlc_hd.h"

#ifndef __CUDACC__
#include <math.h>
#endif

/* Values match enum dlc_act in dlcuda.h (kernels do not include the public header). */
enum { DLC_K_ACT_NONE = 0, DLC_K_ACT_TANH, DLC_K_ACT_SIGMOID, DLC_K_ACT_RELU, DLC_K_ACT_LEAKY };

DLC_HD static inline float dlc_act_apply(int act, float slope, float x) {
  switch (act) {
    case DLC_K_ACT_TANH: return tanhf(x);
    /* exp(-x) overflows to inf for x < -88, giving exactly 0: no NaN. */
    case DLC_K_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case DLC_K_ACT_RELU: return x <= 0.0f ? 0.0f : x;
    case DLC_K_ACT_LEAKY: return x > 0.0f ? x : x * slope;
    default: return x;
  }
}

/* d act / d x, from the input x or the output y, whichever the formula needs:
 * tanh' = 1 - y^2, sigmoid' = y (1 - y), relu' = [x > 0], leaky' = x > 0 ? 1 : slope. */
DLC_HD static inline float dlc_act_grad(int act, float slope, float x, float y) {
  switch (act) {
    case DLC_K_ACT_TANH: return 1.0f - y * y;
    case DLC_K_ACT_SIGMOID: return y * (1.0f - y);
    case DLC_K_ACT_RELU: return x <= 0.0f ? 0.0f : 1.0f;
    case DLC_K_ACT_LEAKY: return x > 0.0f ? 1.0f : slope;
    default: return 1.0f;
  }
}

/* Whether dlc_act_grad reads x (else y). */
DLC_HD static inline int dlc_act_grad_needs_x(int act) {
  return act == DLC_K_ACT_RELU || act == DLC_K_ACT_LEAKY;
}

#endif
