/* Built only without CUDA: the launchers that the ops name (kernels/launch.h), so that the
 * CPU-only library links. They are unreachable, since no tensor can live on a CUDA device
 * in such a build, and report failure (1, cudaErrorInvalidValue) if reached anyway.
 * One stub per declaration in launch.h, in its order. */
#include "ops/conv.h"
#include "ops/pool.h"
#include "../../kernels/launch.h"

int dlc_launch_elementwise(int op, float a, const float *x, float *y, int64_t n, void *stream) {
  (void)op; (void)a; (void)x; (void)y; (void)n; (void)stream;
  return 1;
}

int dlc_launch_rand(int normal, float p0, float p1, uint64_t seed, uint64_t block0, float *y, int64_t n, void *stream) {
  (void)normal; (void)p0; (void)p1; (void)seed; (void)block0; (void)y; (void)n; (void)stream;
  return 1;
}

int dlc_launch_act_fwd(int act, float slope, const float *x, float *y, int64_t n, void *stream) {
  (void)act; (void)slope; (void)x; (void)y; (void)n; (void)stream;
  return 1;
}

int dlc_launch_act_bwd(int act, float slope, const float *x, const float *y, const float *dy, float *dx, int64_t n, int accumulate, void *stream) {
  (void)act; (void)slope; (void)x; (void)y; (void)dy; (void)dx; (void)n; (void)accumulate; (void)stream;
  return 1;
}

int dlc_launch_bias_act_fwd(int act, float slope, const float *b, float *y, int64_t rows, int64_t cols, void *stream) {
  (void)act; (void)slope; (void)b; (void)y; (void)rows; (void)cols; (void)stream;
  return 1;
}

int dlc_launch_bias_grad(const float *dz, float *db, int64_t rows, int64_t cols, void *stream) {
  (void)dz; (void)db; (void)rows; (void)cols; (void)stream;
  return 1;
}

int dlc_launch_dropout(int backward, float p, float scale, uint64_t seed, uint64_t block0, const float *in, float *out, int64_t n, void *stream) {
  (void)backward; (void)p; (void)scale; (void)seed; (void)block0; (void)in; (void)out; (void)n; (void)stream;
  return 1;
}

int dlc_launch_optim(const struct dlc_optim_hparams *h, float *p, const float *g, float *s1, float *s2, int64_t n, const float *norm, void *stream) {
  (void)h; (void)p; (void)g; (void)s1; (void)s2; (void)n; (void)norm; (void)stream;
  return 1;
}

int dlc_launch_bn_stats(const float *x, int64_t N, int64_t C, int64_t S, float momentum, float eps, float *run_mean, float *run_var, float *save_mean, float *save_invstd, float *partials, void *stream) {
  (void)x; (void)N; (void)C; (void)S; (void)momentum; (void)eps; (void)run_mean; (void)run_var; (void)save_mean; (void)save_invstd; (void)partials; (void)stream;
  return 1;
}

int dlc_launch_bn_eval_stats(const float *run_mean, const float *run_var, int64_t C, float eps, float *save_mean, float *save_invstd, void *stream) {
  (void)run_mean; (void)run_var; (void)C; (void)eps; (void)save_mean; (void)save_invstd; (void)stream;
  return 1;
}

int dlc_launch_bn_apply(const float *x, float *y, int64_t N, int64_t C, int64_t S, const float *mean, const float *invstd, const float *gamma, const float *beta, void *stream) {
  (void)x; (void)y; (void)N; (void)C; (void)S; (void)mean; (void)invstd; (void)gamma; (void)beta; (void)stream;
  return 1;
}

int dlc_launch_bn_backward(const float *x, const float *dy, float *dx, int64_t N, int64_t C, int64_t S, const float *mean, const float *invstd, const float *gamma, float *sums, float *partials, float *dgamma, float *dbeta, int batch_stats, void *stream) {
  (void)x; (void)dy; (void)dx; (void)N; (void)C; (void)S; (void)mean; (void)invstd; (void)gamma; (void)sums; (void)partials; (void)dgamma; (void)dbeta; (void)batch_stats; (void)stream;
  return 1;
}

int dlc_launch_confusion(const float *logits, const int32_t *labels, int64_t rows, int64_t C, unsigned long long *cm, void *stream) {
  (void)logits; (void)labels; (void)rows; (void)C; (void)cm; (void)stream;
  return 1;
}

int dlc_launch_abs_err(const float *y, const float *t, int64_t n, double *acc, void *stream) {
  (void)y; (void)t; (void)n; (void)acc; (void)stream;
  return 1;
}

int dlc_launch_metrics(const float *logits, const int32_t *labels, int64_t rows, int64_t C, const float *loss, float weight, int64_t batch, double *acc, void *stream) {
  (void)logits; (void)labels; (void)rows; (void)C; (void)loss; (void)weight; (void)batch; (void)acc; (void)stream;
  return 1;
}

int dlc_launch_softmax_fwd(int log_softmax, const float *x, float *y, int64_t rows, int64_t C, void *stream) {
  (void)log_softmax; (void)x; (void)y; (void)rows; (void)C; (void)stream;
  return 1;
}

int dlc_launch_softmax_bwd(int log_softmax, const float *y, const float *dy, float *dx, int64_t rows, int64_t C, void *stream) {
  (void)log_softmax; (void)y; (void)dy; (void)dx; (void)rows; (void)C; (void)stream;
  return 1;
}

int dlc_launch_xent_fwd(dlc_xent_params p, const float *logits, float *logp, float *row_w, float *loss, int64_t rows, int64_t C, void *scratch, void *stream) {
  (void)p; (void)logits; (void)logp; (void)row_w; (void)loss; (void)rows; (void)C; (void)scratch; (void)stream;
  return 1;
}

int dlc_launch_xent_bwd(dlc_xent_params p, const float *logp, const float *row_w, float dloss, float *dlogits, int64_t rows, int64_t C, void *scratch, void *stream) {
  (void)p; (void)logp; (void)row_w; (void)dloss; (void)dlogits; (void)rows; (void)C; (void)scratch; (void)stream;
  return 1;
}

int dlc_launch_mse_fwd(const float *x, const float *t, int mean, float *loss, int64_t n, void *scratch, void *stream) {
  (void)x; (void)t; (void)mean; (void)loss; (void)n; (void)scratch; (void)stream;
  return 1;
}

int dlc_launch_mse_bwd(const float *x, const float *t, float k, float *dx, int64_t n, void *stream) {
  (void)x; (void)t; (void)k; (void)dx; (void)n; (void)stream;
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

int dlc_launch_sumsq_partials(const float *x, int64_t n, float *partials, int accumulate, void *stream) {
  (void)x; (void)n; (void)partials; (void)accumulate; (void)stream;
  return 1;
}

int dlc_launch_clip_norm_finish(float *work, void *stream) {
  (void)work; (void)stream;
  return 1;
}

int dlc_launch_clip_norm_scale(float *g, int64_t n, const float *norm, float max_norm, void *stream) {
  (void)g; (void)n; (void)norm; (void)max_norm; (void)stream;
  return 1;
}

int dlc_launch_clip_value(float *g, int64_t n, float limit, void *stream) {
  (void)g; (void)n; (void)limit; (void)stream;
  return 1;
}

int dlc_launch_im2col(int transposed, dlc_conv_geom g, const float *x, float *col, int n, void *stream) {
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

int dlc_launch_channel_sum(const float *in, float *out, int64_t N, int64_t C, int64_t P, int64_t stride, float divisor, int accumulate, void *stream) {
  (void)in; (void)out; (void)N; (void)C; (void)P; (void)stride; (void)divisor; (void)accumulate; (void)stream;
  return 1;
}

int dlc_launch_maxpool_fwd(dlc_pool_geom g, const float *x, float *y, int32_t *argmax, int n, void *stream) {
  (void)g; (void)x; (void)y; (void)argmax; (void)n; (void)stream;
  return 1;
}

int dlc_launch_maxpool_bwd(dlc_pool_geom g, const float *dy, const int32_t *argmax, float *dx, int n, void *stream) {
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

size_t dlc_xent_fwd_scratch_bytes(int64_t rows, int64_t C) {
  (void)rows; (void)C;
  return 0; /* no scratch without CUDA */
}

size_t dlc_xent_bwd_scratch_bytes(int64_t rows, int64_t C) {
  (void)rows; (void)C;
  return 0; /* no scratch without CUDA */
}

size_t dlc_mse_fwd_scratch_bytes(int64_t n) {
  (void)n;
  return 0; /* no scratch without CUDA */
}
