/* The convolution building blocks: each runs one body from kernels/im2col.h over its
 * output, in a CPU loop (OpenMP, see dlc_omp_range) or as a CUDA kernel; and the per-channel
 * sum, a reduction with a CPU loop and a CUDA kernel of its own. */
#include "../kernels/launch.h"
#include "conv.h"

#define DLC_PAR(n) if ((int64_t)(n) > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))

dlc_status dlc_im2col_run(dlc_ctx *ctx, int on_cuda, int transposed, dlc_conv_geom g,
                          const float *x, float *col) {
  int n = g.N * g.C * g.KH * g.KW * g.OH * g.OW;
  if (on_cuda)
    return DLC_LAUNCH(ctx, "im2col", dlc_launch_im2col(transposed, g, x, col, n, ctx->stream));
#pragma omp parallel DLC_PAR(n)
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
    if (transposed)
      for (int i = (int)lo; i < (int)hi; i++) dlc_im2col_t_at(i, g, x, col);
    else
      for (int i = (int)lo; i < (int)hi; i++) dlc_im2col_at(i, g, x, col);
  }
  return DLC_OK;
}

dlc_status dlc_col2im_run(dlc_ctx *ctx, int on_cuda, dlc_conv_geom g, const float *col, float *dx) {
  int n = g.N * g.C * g.H * g.W;
  if (on_cuda) return DLC_LAUNCH(ctx, "col2im", dlc_launch_col2im(g, col, dx, n, ctx->stream));
#pragma omp parallel DLC_PAR((int64_t)n * g.KH * g.KW)
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
    for (int i = (int)lo; i < (int)hi; i++) dlc_col2im_at(i, g, col, dx);
  }
  return DLC_OK;
}

dlc_status dlc_nchw_to_cnhw_run(dlc_ctx *ctx, int on_cuda, int N, int C, int P, const float *in,
                                float *out) {
  if (on_cuda)
    return DLC_LAUNCH(ctx, "nchw_to_cnhw", dlc_launch_nchw_to_cnhw(N, C, P, in, out, ctx->stream));
  int n = N * C * P;
#pragma omp parallel DLC_PAR(n)
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
    for (int i = (int)lo; i < (int)hi; i++) dlc_nchw_to_cnhw_at(i, N, C, P, in, out);
  }
  return DLC_OK;
}

dlc_status dlc_tile_run(dlc_ctx *ctx, int on_cuda, const float *src, int len, int copies,
                        float *out) {
  int n = len * copies;
  if (on_cuda) return DLC_LAUNCH(ctx, "tile", dlc_launch_tile(src, len, out, n, ctx->stream));
#pragma omp parallel DLC_PAR(n)
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
    for (int i = (int)lo; i < (int)hi; i++) dlc_tile_at(i, len, src, out);
  }
  return DLC_OK;
}

dlc_status dlc_channel_bias_run(dlc_ctx *ctx, int on_cuda, const float *b, float *y, int N, int C,
                                int P) {
  if (on_cuda)
    return DLC_LAUNCH(ctx, "channel_bias", dlc_launch_channel_bias(b, y, N, C, P, ctx->stream));
  int n = N * C * P;
#pragma omp parallel DLC_PAR(n)
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
    for (int i = (int)lo; i < (int)hi; i++) dlc_channel_bias_at(i, C, P, b, y);
  }
  return DLC_OK;
}

dlc_status dlc_channel_sum_run(dlc_ctx *ctx, int on_cuda, const float *in, float *out, int64_t N,
                               int64_t C, int64_t P, int64_t stride, float divisor,
                               int accumulate) {
  if (on_cuda)
    return DLC_LAUNCH(ctx, "channel_sum",
                      dlc_launch_channel_sum(in, out, N, C, P, stride, divisor, accumulate,
                                             ctx->stream));
  /* One channel per iteration, summed in a fixed order (in double: this is also the
   * reference the GPU's float tree is compared with). */
#pragma omp parallel for DLC_PAR(N * C * P)
  for (int64_t c = 0; c < C; c++) {
    double s = 0;
    for (int64_t n = 0; n < N; n++) {
      const float *row = in + n * stride + c * P;
      for (int64_t p = 0; p < P; p++) s += row[p];
    }
    float v = (float)s / divisor;
    out[c] = accumulate ? out[c] + v : v;
  }
  return DLC_OK;
}
