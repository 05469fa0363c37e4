/* Per-element bodies of the simple vector ops: y_i <- f(a, x_i, y_i). */
#ifndef DLC_ELEMENTWISE_H
#define DLC_ELEMENTWISE_H

#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

enum dlc_ew_op {
  DLC_EW_FILL = 0,  /* y = a       */
  DLC_EW_SCALE = 1, /* y = a * x   */
  DLC_EW_AXPY = 2,  /* y = a * x + y */
  DLC_EW_COPY = 3   /* y = x       */
};

DLC_HD static inline float dlc_ew_apply(int op, float a, float x, float y) {
  switch (op) {
    case DLC_EW_FILL: return a;
    case DLC_EW_SCALE: return a * x;
    case DLC_EW_AXPY: return a * x + y;
    default: return x;
  }
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* y_i <- dlc_ew_apply(op, a, x_i, y_i) for i < n (x unused by FILL). */
int dlc_launch_elementwise(int op, float a, const float *x, float *y, int64_t n, void *stream);

#ifdef __cplusplus
}
#endif

#endif
