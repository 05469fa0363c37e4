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

int dlc_launch_im2col(int transposed, dlc_conv_geom g, const float *x, float *col, int n,
                      void *stream) {
  (void)transposed; (void)g; (void)x; (void)col; (void)n; (void)stream;
  return 1;
}

int dlc_launch_col2im(dlc_conv_geom g, const float *col, float *dx, int n, void *stream) {
  (void)g; (void)col; (void)dx; (void)n; (void)stream;
  return 1;
}

int dlc_launch_nchw_to_cnhw(int N, int C, int P, const float *in, float *out, void *stream) {
  (void)N; (void)C; (void)P; (void)in; (void)out; (void)stream;
  return 1;
}

int dlc_launch_tile(const float *src, int len, float *out, int n, void *stream) {
  (void)src; (void)len; (void)out; (void)n; (void)stream;
  return 1;
}

int dlc_launch_channel_bias(const float *b, float *y, int N, int C, int P, void *stream) {
  (void)b; (void)y; (void)N; (void)C; (void)P; (void)stream;
  return 1;
}

int dlc_launch_channel_sum(const float *in, float *out, int64_t N, int64_t C, int64_t P,
                           int64_t stride, float divisor, int accumulate, void *stream) {
  (void)in; (void)out; (void)N; (void)C; (void)P; (void)stride; (void)divisor; (void)accumulate;
  (void)stream;
  return 1;
}

int dlc_launch_maxpool_fwd(dlc_pool_geom g, const float *x, float *y, int32_t *argmax, int n,
                           void *stream) {
  (void)g; (void)x; (void)y; (void)argmax; (void)n; (void)stream;
  return 1;
}

int dlc_launch_maxpool_bwd(dlc_pool_geom g, const float *dy, const int32_t *argmax, float *dx,
                           int n, void *stream) {
  (void)g; (void)dy; (void)argmax; (void)dx; (void)n; (void)stream;
  return 1;
}

int dlc_launch_avgpool_fwd(dlc_pool_geom g, const float *x, float *y, int n, void *stream) {
  (void)g; (void)x; (void)y; (void)n; (void)stream;
  return 1;
}

int dlc_launch_avgpool_bwd(dlc_pool_geom g, const float *dy, float *dx, int n, void *stream) {
  (void)g; (void)dy; (void)dx; (void)n; (void)stream;
  return 1;
}

int dlc_launch_global_avgpool_bwd(int HW, const float *dy, float *dx, int n, void *stream) {
  (void)HW; (void)dy; (void)dx; (void)n; (void)stream;
  return 1;
}
