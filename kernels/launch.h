/* The CUDA launchers, callable from C. Each returns the launch's cudaError_t as an int
 * (0 on success); the host op turns it into a dlc_status with file:line. `stream` is a
 * cudaStream_t. */
#ifndef DLC_LAUNCH_H
#define DLC_LAUNCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y_i <- dlc_ew_apply(op, a, x_i, y_i) for i < n (x unused by FILL). */
int dlc_launch_elementwise(int op, float a, const float *x, float *y, int64_t n, void *stream);

/* y_i <- uniform [p0, p1) (normal = 0) or p0 + p1 * N(0,1) (normal = 1), element i taken
 * from Philox block (block0 + i / 4), lane i % 4. */
int dlc_launch_rand(int normal, float p0, float p1, uint64_t seed, uint64_t block0, float *y,
                    int64_t n, void *stream);

#ifdef __cplusplus
}
#endif
#endif
