/* The CUDA launchers, callable from C. Each returns the launch's cudaError_t as an int
 * (0 on success); the host op turns it into a dlc_status with file:line. `stream` is a
 * cudaStream_t. */
#ifndef DLC_LAUNCH_H
#define DLC_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#include "im2col.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y_i <- dlc_ew_apply(op, a, x_i, y_i) for i < n (x unused by FILL). */
int dlc_launch_elementwise(int op, float a, const float *x, float *y, int64_t n, void *stream);

/* y_i <- uniform [p0, p1) (normal = 0) or p0 + p1 * N(0,1) (normal = 1), element i taken
 * from Philox block (block0 + i / 4), lane i % 4. */
int dlc_launch_rand(int normal, float p0, float p1, uint64_t seed, uint64_t block0, float *y,
                    int64_t n, void *stream);

/* y_i = act(x_i); act is a dlc_act value. */
int dlc_launch_act_fwd(int act, float slope, const float *x, float *y, int64_t n, void *stream);
/* dx_i = (accumulate ? dx_i : 0) + dy_i * act'(x_i, y_i); x or y may be NULL when the
 * activation's derivative does not read it (see dlc_act_grad_needs_x). */
int dlc_launch_act_bwd(int act, float slope, const float *x, const float *y, const float *dy,
                       float *dx, int64_t n, int accumulate, void *stream);
/* y[r, c] = act(y[r, c] + b[c]) over rows x cols; b may be NULL. */
int dlc_launch_bias_act_fwd(int act, float slope, const float *b, float *y, int64_t rows,
                            int64_t cols, void *stream);
/* db[c] += sum_r dz[r, c]. */
int dlc_launch_bias_grad(const float *dz, float *db, int64_t rows, int64_t cols, void *stream);
/* Forward: out = in * m; backward: out += in * m; m_i = keep_i ? scale : 0 (dropout.h). */
int dlc_launch_dropout(int backward, float p, float scale, uint64_t seed, uint64_t block0,
                       const float *in, float *out, int64_t n, void *stream);

/* One optimizer step over n parameters (kernels/optim.h); norm, when not NULL, is the
 * device scalar holding the gradient's L2 norm for clipping. h is a
 * const dlc_optim_hparams * (kept opaque here so C callers need not include optim.h). */
struct dlc_optim_hparams;
int dlc_launch_optim(const struct dlc_optim_hparams *h, float *p, const float *g, float *s1,
                     float *s2, int64_t n, const float *norm, void *stream);

/* Batch normalisation over [N, C, S]: statistics per channel (saved mean and 1/std, and
 * the running estimates updated when run_mean is not NULL), y = normalised x, and the
 * backward (sums: 2C floats written; dx may be NULL). partials: device scratch of 2 * C *
 * dlc_bn_splits(N, C, S) floats (batchnorm.h). */
int dlc_launch_bn_stats(const float *x, int64_t N, int64_t C, int64_t S, float momentum, float eps,
                        float *run_mean, float *run_var, float *save_mean, float *save_invstd,
                        float *partials, void *stream);
int dlc_launch_bn_eval_stats(const float *run_mean, const float *run_var, int64_t C, float eps,
                             float *save_mean, float *save_invstd, void *stream);
int dlc_launch_bn_apply(const float *x, float *y, int64_t N, int64_t C, int64_t S, const float *mean,
                        const float *invstd, const float *gamma, const float *beta, void *stream);
int dlc_launch_bn_backward(const float *x, const float *dy, float *dx, int64_t N, int64_t C,
                           int64_t S, const float *mean, const float *invstd, const float *gamma,
                           float *sums, float *partials, float *dgamma, float *dbeta, int batch_stats,
                           void *stream);

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
/* Softmax (log_softmax = 0) or log-softmax (1) over `rows` rows of C floats; y may be x. */
int dlc_launch_softmax_fwd(int log_softmax, const float *x, float *y, int64_t rows, int64_t C,
                           void *stream);
/* Per row: dx += y (dy - sum(dy y)), or for log-softmax dx += dy - exp(y) sum(dy). */
int dlc_launch_softmax_bwd(int log_softmax, const float *y, const float *dy, float *dx,
                           int64_t rows, int64_t C, void *stream);

/* Softmax cross-entropy: what forward and backward share (see dlc_xent_opts). All
 * pointers are on the device. */
typedef struct dlc_xent_params {
  const int32_t *labels; /* [rows] */
  const float *class_w;  /* [C], or NULL for weight 1 */
  float eps;             /* label smoothing in [0, 1] */
  int ignore_index;
  int mean;              /* 1: divide by the summed label weights of the counted rows */
} dlc_xent_params;

/* Device scratch (bytes) the launcher below needs for this size, 0 when none; the caller
 * passes a buffer at least that large (its contents are not kept). */
size_t dlc_xent_fwd_scratch_bytes(int64_t rows, int64_t C);
/* logp = log_softmax(logits) [rows, C] (may be logits), row_w [rows] = each row's label
 * weight (0 ignored, NaN for a label out of range), loss [1] = the reduced loss (NaN when a
 * label is out of range). Deterministic: fixed-order reductions, no atomics. */
int dlc_launch_xent_fwd(dlc_xent_params p, const float *logits, float *logp, float *row_w,
                        float *loss, int64_t rows, int64_t C, void *scratch, void *stream);
size_t dlc_xent_bwd_scratch_bytes(int64_t rows, int64_t C);
/* dlogits += dloss * d loss / d logits, from the forward's logp and row_w. */
int dlc_launch_xent_bwd(dlc_xent_params p, const float *logp, const float *row_w, float dloss,
                        float *dlogits, int64_t rows, int64_t C, void *scratch, void *stream);

/* MSE over n elements: loss [1] = sum (or mean) of (x - t)^2, deterministically. */
size_t dlc_mse_fwd_scratch_bytes(int64_t n);
int dlc_launch_mse_fwd(const float *x, const float *t, int mean, float *loss, int64_t n,
                       void *scratch, void *stream);
/* dx += k (x - t), k = 2 dloss (/ n for the mean). */
int dlc_launch_mse_bwd(const float *x, const float *t, float k, float *dx, int64_t n,
                       void *stream);

/* One time step of a recurrent layer, every gate fused (rnn_cell.h); the arguments are the
 * structs defined there. */
struct dlc_rnn_fwd_args;
struct dlc_rnn_bwd_args;
int dlc_launch_rnn_fwd_step(const struct dlc_rnn_fwd_args *a, void *stream);
int dlc_launch_rnn_bwd_step(const struct dlc_rnn_bwd_args *a, void *stream);

/* Gradient clipping (clip.h). partials[b] (+)= the sum of squares block b of DLC_CLIP_PARTS
 * visits; work[0] = sqrt(sum of work[1 .. DLC_CLIP_PARTS]); g *= coef(*norm, max_norm);
 * g = clamp(g, -limit, limit). */
int dlc_launch_sumsq_partials(const float *x, int64_t n, float *partials, int accumulate,
                              void *stream);
int dlc_launch_clip_norm_finish(float *work, void *stream);
int dlc_launch_clip_norm_scale(float *g, int64_t n, const float *norm, float max_norm,
                               void *stream);
int dlc_launch_clip_value(float *g, int64_t n, float limit, void *stream);
/* ---- convolution (bodies in im2col.h); n is the element count of the output */
/* col = im2col(x) over g.N images: forward layout, or weight-gradient layout when
 * transposed. */
int dlc_launch_im2col(int transposed, dlc_conv_geom g, const float *x, float *col, int n,
                      void *stream);
/* dx += col2im(col), gathering; n = g.N*C*H*W. */
int dlc_launch_col2im(dlc_conv_geom g, const float *col, float *dx, int n, void *stream);
/* out [C][N][P] = in [N][C][P]. */
int dlc_launch_nchw_to_cnhw(int N, int C, int P, const float *in, float *out, void *stream);
/* out[i] = src[i % len] for i < n. */
int dlc_launch_tile(const float *src, int len, float *out, int n, void *stream);
/* y [N][C][P] += b[c]. */
int dlc_launch_channel_bias(const float *b, float *y, int N, int C, int P, void *stream);
/* out[c] = (accumulate ? out[c] : 0) + (sum_{n<N, p<P} in[n*stride + c*P + p]) / divisor,
 * one segment per c, summed in a fixed order (deterministic). */
int dlc_launch_channel_sum(const float *in, float *out, int64_t N, int64_t C, int64_t P,
                           int64_t stride, float divisor, int accumulate, void *stream);

/* ---- pooling (bodies in pool.h); n is the element count of the output (forward) or of
 * dx (backward) */
int dlc_launch_maxpool_fwd(dlc_pool_geom g, const float *x, float *y, int32_t *argmax, int n,
                           void *stream);
int dlc_launch_maxpool_bwd(dlc_pool_geom g, const float *dy, const int32_t *argmax, float *dx,
                           int n, void *stream);
int dlc_launch_avgpool_fwd(dlc_pool_geom g, const float *x, float *y, int n, void *stream);
int dlc_launch_avgpool_bwd(dlc_pool_geom g, const float *dy, float *dx, int n, void *stream);
int dlc_launch_global_avgpool_bwd(int HW, const float *dy, float *dx, int n, void *stream);

#ifdef __cplusplus
}
#endif
#endif
