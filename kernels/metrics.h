/* The mark the metrics leave for the first batch whose loss is not finite: batch + 1 for
 * NaN, -(batch + 1) for an infinity; 0 means none. Shared by the CPU loop and the kernel. */
#ifndef DLC_METRICS_H
#define DLC_METRICS_H

#include "dlc_hd.h"

DLC_HD static inline double dlc_metrics_bad_mark(float loss, int64_t batch) {
  return loss != loss ? (double)(batch + 1) : -(double)(batch + 1);
}

#endif
