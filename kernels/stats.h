/* Layer statistics during training (host/nn/layer_stats.c), accumulated on the device so
 * that a step needs no host synchronisation:
 *  - of an activation x (n values): acc[0] += sum x, acc[1] += sum x^2, acc[2] += the
 *    values saturated (x < lo or x > hi: tanh and sigmoid within 1 % of their range's
 *    ends), acc[3] += n;
 *  - of a ReLU's output [rows, units]: alive[j] = 1 where some row has x[r, j] > 0 (a unit
 *    never positive over the epoch is dead);
 *  - of a parameter or gradient, over one or more ranges: work (+)= their partial sums of
 *    squares, then acc[0] (+)= sqrt(the sum): a norm.
 * Sums are doubles, in a fixed order on the GPU (DLC_STATS_PARTS block partials, then one
 * block in a fixed tree): deterministic; the CPU sums in its own fixed order. */
#ifndef DLC_STATS_H
#define DLC_STATS_H

#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

#define DLC_STATS_PARTS 256
/* Doubles of work a launch needs: three partials per block. */
#define DLC_STATS_WORK (3 * DLC_STATS_PARTS)

DLC_HD static inline int dlc_stats_saturated(float x, float lo, float hi) { return x < lo || x > hi; }

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* acc[0..3] += (sum, sum of squares, saturated count, n) of x[0 .. n). */
int dlc_launch_act_stats(const float *x, int64_t n, float lo, float hi, double *work, double *acc, void *stream);
/* alive[j] = 1 where max over r of x[r * units + j] > 0 (alive is 0 or 1 per unit). */
int dlc_launch_units_alive(const float *x, int64_t rows, int64_t units, float *alive, void *stream);
/* work[0 .. DLC_STATS_PARTS) (+)= partial sums of x[i]^2 (accumulate = 0 starts them). */
int dlc_launch_stats_sumsq(const float *x, int64_t n, double *work, int accumulate, void *stream);
/* acc[0] = (add ? acc[0] : 0) + sqrt(sum of work[0 .. DLC_STATS_PARTS)). */
int dlc_launch_stats_norm(const double *work, double *acc, int add, void *stream);

#ifdef __cplusplus
}
#endif

#endif
