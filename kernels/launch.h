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

#ifdef __cplusplus
}
#endif
#endif
