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

int dlc_launch_act_fwd(int act, float slope, const float *x, float *y, int64_t n, void *stream) {
  (void)act; (void)slope; (void)x; (void)y; (void)n; (void)stream;
  return 1;
}

int dlc_launch_act_bwd(int act, float slope, const float *x, const float *y, const float *dy,
                       float *dx, int64_t n, int accumulate, void *stream) {
  (void)act; (void)slope; (void)x; (void)y; (void)dy; (void)dx; (void)n; (void)accumulate;
  (void)stream;
  return 1;
}

int dlc_launch_bias_act_fwd(int act, float slope, const float *b, float *y, int64_t rows,
                            int64_t cols, void *stream) {
  (void)act; (void)slope; (void)b; (void)y; (void)rows; (void)cols; (void)stream;
  return 1;
}

int dlc_launch_bias_grad(const float *dz, float *db, int64_t rows, int64_t cols, void *stream) {
  (void)dz; (void)db; (void)rows; (void)cols; (void)stream;
  return 1;
}

int dlc_launch_dropout(int backward, float p, float scale, uint64_t seed, uint64_t block0,
                       const float *in, float *out, int64_t n, void *stream) {
  (void)backward; (void)p; (void)scale; (void)seed; (void)block0; (void)in; (void)out; (void)n;
  (void)stream;
  return 1;
}

int dlc_launch_rnn_fwd_step(const struct dlc_rnn_fwd_args *a, void *stream) {
  (void)a; (void)stream;
  return 1;
}

int dlc_launch_rnn_bwd_step(const struct dlc_rnn_bwd_args *a, void *stream) {
  (void)a; (void)stream;
  return 1;
}

int dlc_launch_sumsq_partials(const float *x, int64_t n, float *partials, int accumulate,
                              void *stream) {
  (void)x; (void)n; (void)partials; (void)accumulate; (void)stream;
  return 1;
}

int dlc_launch_clip_norm_finish(float *work, void *stream) {
  (void)work; (void)stream;
  return 1;
}

int dlc_launch_clip_norm_scale(float *g, int64_t n, const float *norm, float max_norm,
                               void *stream) {
  (void)g; (void)n; (void)norm; (void)max_norm; (void)stream;
  return 1;
}

int dlc_launch_clip_value(float *g, int64_t n, float limit, void *stream) {
  (void)g; (void)n; (void)limit; (void)stream;
  return 1;
}
