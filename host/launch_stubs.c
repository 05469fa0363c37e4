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

int dlc_launch_softmax_fwd(int log_softmax, const float *x, float *y, int64_t rows, int64_t C,
                           void *stream) {
  (void)log_softmax; (void)x; (void)y; (void)rows; (void)C; (void)stream;
  return 1;
}

int dlc_launch_softmax_bwd(int log_softmax, const float *y, const float *dy, float *dx,
                           int64_t rows, int64_t C, void *stream) {
  (void)log_softmax; (void)y; (void)dy; (void)dx; (void)rows; (void)C; (void)stream;
  return 1;
}

size_t dlc_xent_fwd_scratch_bytes(int64_t rows, int64_t C) {
  (void)rows; (void)C;
  return 0;
}

int dlc_launch_xent_fwd(dlc_xent_params p, const float *logits, float *logp, float *row_w,
                        float *loss, int64_t rows, int64_t C, void *scratch, void *stream) {
  (void)p; (void)logits; (void)logp; (void)row_w; (void)loss; (void)rows; (void)C;
  (void)scratch; (void)stream;
  return 1;
}

size_t dlc_xent_bwd_scratch_bytes(int64_t rows, int64_t C) {
  (void)rows; (void)C;
  return 0;
}

int dlc_launch_xent_bwd(dlc_xent_params p, const float *logp, const float *row_w, float dloss,
                        float *dlogits, int64_t rows, int64_t C, void *scratch, void *stream) {
  (void)p; (void)logp; (void)row_w; (void)dloss; (void)dlogits; (void)rows; (void)C;
  (void)scratch; (void)stream;
  return 1;
}

size_t dlc_mse_fwd_scratch_bytes(int64_t n) {
  (void)n;
  return 0;
}

int dlc_launch_mse_fwd(const float *x, const float *t, int mean, float *loss, int64_t n,
                       void *scratch, void *stream) {
  (void)x; (void)t; (void)mean; (void)loss; (void)n; (void)scratch; (void)stream;
  return 1;
}

int dlc_launch_mse_bwd(const float *x, const float *t, float k, float *dx, int64_t n,
                       void *stream) {
  (void)x; (void)t; (void)k; (void)dx; (void)n; (void)stream;
  return 1;
}
