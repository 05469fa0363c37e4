/* The random fills (random.cu): Philox streams of uniform or normal floats (philox.h). */
#ifndef DLC_RANDOM_H
#define DLC_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* y_i <- uniform [p0, p1) (normal = 0) or p0 + p1 * N(0,1) (normal = 1), element i taken
 * from Philox block (block0 + i / 4), lane i % 4. */
int dlc_launch_rand(int normal, float p0, float p1, uint64_t seed, uint64_t block0, float *y,
                    int64_t n, void *stream);

#ifdef __cplusplus
}
#endif

#endif
