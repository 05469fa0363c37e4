/* The mark the metrics leave for the first batch whose loss is not finite: batch + 1 for
 * NaN, -(batch + 1) for an infinity; 0 means none. Shared by the CPU loop and the kernel. */
#ifndef DLC_METRICS_H
#define DLC_METRICS_H

#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

DLC_HD static inline double dlc_metrics_bad_mark(float loss, int64_t batch) {
  return loss != loss ? (double)(batch + 1) : -(double)(batch + 1);
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* acc[0] += loss[0] * weight; acc[1] += rows whose arg-max over C logits equals the label
 * (C = 0: no labels to count, the loss only); acc[2], while 0, becomes
 * dlc_metrics_bad_mark(loss, batch) when the loss is not finite (metrics.h). acc is three
 * doubles: an epoch's count stays exact past 2^24 rows, and its loss sum does not lose the
 * last batches' digits. */
int dlc_launch_metrics(const float *logits, const int32_t *labels, int64_t rows, int64_t C,
                       const float *loss, float weight, int64_t batch, double *acc, void *stream);
/* cm[label * C + arg-max of the row's logits] += 1 for each row whose label is in [0, C). */
int dlc_launch_confusion(const float *logits, const int32_t *labels, int64_t rows, int64_t C,
                         unsigned long long *cm, void *stream);
/* acc[1] += sum over n values of |y - t| (double; one block, a fixed order). */
int dlc_launch_abs_err(const float *y, const float *t, int64_t n, double *acc, void *stream);

#ifdef __cplusplus
}
#endif

#endif
