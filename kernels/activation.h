/* Per-element bodies of the activations, shared by the CPU loops and the CUDA kernels.
 * NaN propagates as in PyTorch: relu(NaN) = NaN, and a NaN input passes its gradient. */
#ifndef DLC_ACTIVATION_H
#define DLC_ACTIVATION_H

#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

#ifndef __CUDACC__
#include <math.h>
#endif

/* Values match enum dlc_act in dlcuda.h (kernels do not include the public header). */
enum { DLC_K_ACT_NONE = 0, DLC_K_ACT_TANH, DLC_K_ACT_SIGMOID, DLC_K_ACT_RELU, DLC_K_ACT_LEAKY };

/* tanh as a [13/6] rational function of x on |x| <= 7.905 (where tanh rounds to +-1 in
 * float), x itself below 4e-4. Max error 4e-7 (3 ulp at 1); unlike libm's tanhf it
 * vectorises on the CPU, and it gives the CPU and the GPU the same formula. NaN stays NaN. */
DLC_HD static inline float dlc_tanh(float x) {
  const float clamp = 7.90531110763549805f;
  /* Selects, not branches or fminf (which drops NaN), so the CPU loop vectorises. */
  float xc = x > clamp ? clamp : (x < -clamp ? -clamp : x);
  float x2 = xc * xc;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  float r = p * xc / q;
  return fabsf(x) < 0.0004f ? x : r;
}

DLC_HD static inline float dlc_act_apply(int act, float slope, float x) {
  switch (act) {
    case DLC_K_ACT_TANH: return dlc_tanh(x);
    /* exp(-x) overflows to inf for x < -88, giving exactly 0: no NaN. */
    case DLC_K_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case DLC_K_ACT_RELU: return x <= 0.0f ? 0.0f : x;
    case DLC_K_ACT_LEAKY: {
      float neg = x * slope; /* computed unconditionally: a select, not a branch */
      return x > 0.0f ? x : neg;
    }
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

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* y_i = act(x_i); act is a dlc_act value. */
int dlc_launch_act_fwd(int act, float slope, const float *x, float *y, int64_t n, void *stream);
/* dx_i = (accumulate ? dx_i : 0) + dy_i * act'(x_i, y_i); x or y may be NULL when the
 * activation's derivative does not read it (see dlc_act_grad_needs_x). */
int dlc_launch_act_bwd(int act, float slope, const float *x, const float *y, const float *dy,
                       float *dx, int64_t n, int accumulate, void *stream);
/* y[r, c] = act(y[r, c] + b[c]) over rows x cols; b may be NULL. */
int dlc_launch_bias_act_fwd(int act, float slope, const float *b, float *y, int64_t rows,
                            int64_t cols, void *stream);
/* db[c] += sum_r dz[r, c]. */
int dlc_launch_bias_grad(const float *dz, float *db, int64_t rows, int64_t cols, void *stream);

#ifdef __cplusplus
}
#endif

#endif
