/* Built only without CUDA: the launchers the ops name, so that the CPU-only library links.
 * They are unreachable, since no tensor can live on a CUDA device in such a build, and
 * report failure (1, cudaErrorInvalidValue) if reached anyway. */
#include "../kernels/launch.h"

int dlc_launch_elementwise(int op, float a, const float *x, float *y, int64_t n, void *stream) {
  (void)op; (void)a; (void)x; (void)y; (void)n; (void)stream;
  return 1;
}

int dlc_launch_rand(int normal, float p0, float p1, uint64_t seed, uint64_t block0, float *y,
                    int64_t n, void *stream) {
  (void)normal; (void)p0; (void)p1; (void)seed; (void)block0; (void)y; (void)n; (void)stream;
  return 1;
}
