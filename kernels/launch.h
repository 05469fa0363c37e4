/* The CUDA launchers, callable from C. Each returns the launch's cudaError_t as an int
 * (0 on success); the host op turns it into a dlc_status with file:line. `stream` is a
 * cudaStream_t. */
#ifndef DLC_LAUNCH_H
#define DLC_LAUNCH_H

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
