/* The convolution building blocks: each runs one body from kernels/im2col.h over its
 * output, in a CPU loop (OpenMP, see dlc_omp_range) or as a CUDA kernel; and the per-channel
 * sum, a reduction with a CPU loop and a CUDA kernel of its own. */
#include <string.h>

#include "../../kernels/im2col.h"
#include "ops/conv.h"

#define DLC_PAR(n) if ((int64_t)(n) > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))

/* The columns of a tap row of kernel column kw that land inside the input, [lo, hi] (empty
 * when hi < lo), at input column ow * SW + off; the others are padding. */
static void tap_cols(const dlc_conv_geom g, int kw, int *off, int *lo, int *hi) {
  *off = kw * g.DW - g.PW;
  /* Valid ow: 0 <= ow * SW + off <= W - 1. */
  *lo = *off >= 0 ? 0 : (-*off + g.SW - 1) / g.SW;
  *hi = g.W - 1 - *off < 0 ? -1 : (g.W - 1 - *off) / g.SW; /* last valid, or -1 */
  if (*hi > g.OW - 1) *hi = g.OW - 1;
  if (*lo > g.OW) *lo = g.OW;
  if (*hi < *lo - 1) *hi = *lo - 1;
}

/* The input row of tap row (kh, oh), or -1 when it lies in the padding. */
static int tap_ih(const dlc_conv_geom g, int kh, int oh) {
  int ih = oh * g.SH - g.PH + kh * g.DH;
  return (unsigned)ih < (unsigned)g.H ? ih : -1;
}

/* One row of taps, what dlc_im2col_tap gives one by one: the zeros of the padding at both
 * ends and between them the input row `in` (NULL: all padding), without a bounds check per
 * element. */
static inline void im2col_row(const dlc_conv_geom g, const float *in, int off, int lo, int hi, float *out) {
  if (!in) {
    memset(out, 0, sizeof(float) * (size_t)g.OW);
    return;
  }
  for (int ow = 0; ow < lo; ow++) out[ow] = 0.f;
  if (hi >= lo) { /* the first valid tap, input column lo * SW + off >= 0 */
    const float *first = in + (lo * g.SW + off);
    if (g.SW == 1)
      for (int ow = lo; ow <= hi; ow++) out[ow] = first[ow - lo];
    else
      for (int ow = lo; ow <= hi; ow++) out[ow] = first[(ow - lo) * g.SW];
  }
  for (int ow = hi + 1; ow < g.OW; ow++) out[ow] = 0.f;
}

static const float *input_row(const dlc_conv_geom g, const float *x, int nc, int ih) {
  return ih < 0 ? NULL : x + ((int64_t)nc * g.H + ih) * g.W;
}

/* Column rows [lo, hi) (rows of OW taps, in the layout of `transposed`) on this thread. */
static void im2col_cpu_rows(int transposed, const dlc_conv_geom g, const float *x, float *col, int64_t lo,
                            int64_t hi) {
  for (int r = (int)lo; r < (int)hi; r++) {
    int oh = r % g.OH, t = r / g.OH, nc, kh, kw, off, a, b;
    if (transposed) { /* [C][KH][KW][N][OH] rows */
      int img = t % g.N;
      t /= g.N;
      kw = t % g.KW;
      t /= g.KW;
      kh = t % g.KH;
      nc = img * g.C + t / g.KH;
    } else {          /* [N][C][KH][KW][OH] rows */
      kw = t % g.KW;
      t /= g.KW;
      kh = t % g.KH;
      nc = t / g.KH;
    }
    tap_cols(g, kw, &off, &a, &b);
    im2col_row(g, input_row(g, x, nc, tap_ih(g, kh, oh)), off, a, b, col + (int64_t)r * g.OW);
  }
}

void dlc_im2col_cpu_image(const dlc_conv_geom g, const float *x, float *col) {
  /* im2col_row's work with the loops over rows hoisted: a tap row's valid columns depend on
   * kw alone and its valid rows on kh alone; short rows (a 28 x 28 image's) are many. */
  for (int c = 0; c < g.C; c++)
    for (int kh = 0; kh < g.KH; kh++)
      for (int kw = 0; kw < g.KW; kw++) {
        int off, a, b;
        tap_cols(g, kw, &off, &a, &b);
        for (int oh = 0; oh < g.OH; oh++, col += g.OW)
          im2col_row(g, input_row(g, x, c, tap_ih(g, kh, oh)), off, a, b, col);
      }
}

void dlc_col2im_cpu_planes(const dlc_conv_geom g, const float *col, float *dx, int64_t lo,
                           int64_t hi) {
  /* Input rows in segments of SEG columns: acc sums a segment's taps in increasing (kh, kw)
   * from 0, dlc_col2im_at's sum s exactly, and is then added to dx as s is. */
  enum { SEG = 256 };
  float acc[SEG];
  int64_t P = (int64_t)g.OH * g.OW;
  for (int64_t nc = lo; nc < hi; nc++)
    for (int ih = 0; ih < g.H; ih++)
      for (int x0 = 0; x0 < g.W; x0 += SEG) {
        int x1 = g.W - x0 < SEG ? g.W : x0 + SEG;
        for (int i = 0; i < x1 - x0; i++) acc[i] = 0.f;
        for (int kh = 0; kh < g.KH; kh++) {
          int oh, hs = ih + g.PH - kh * g.DH;
          if (hs < 0) break;
          if (!dlc_exact_div(hs, g.SH, &oh) || oh >= g.OH) continue;
          for (int kw = 0; kw < g.KW; kw++) {
            /* Output columns ow of this tap row read input column ow * SW + off: those
             * inside the input ([a, b]) and inside the segment. */
            int off, a, b, t0 = x0 - (kw * g.DW - g.PW), t1 = x1 - 1 - (kw * g.DW - g.PW);
            tap_cols(g, kw, &off, &a, &b);
            if (t1 < 0) continue;
            if (t0 > 0 && (t0 + g.SW - 1) / g.SW > a) a = (t0 + g.SW - 1) / g.SW;
            if (t1 / g.SW < b) b = t1 / g.SW;
            if (b < a) continue;
            const float *c = col + ((nc * g.KH + kh) * g.KW + kw) * P + (int64_t)oh * g.OW;
            float *d = acc + (a * g.SW + off - x0);
            if (g.SW == 1)
              for (int ow = a; ow <= b; ow++) d[ow - a] += c[ow];
            else
              for (int ow = a; ow <= b; ow++) d[(ow - a) * g.SW] += c[ow];
          }
        }
        float *row = dx + (nc * g.H + ih) * g.W;
        for (int i = x0; i < x1; i++) row[i] += acc[i - x0];
      }
}

dlc_status dlc_im2col_run(dlc_ctx *ctx, int on_cuda, int transposed, dlc_conv_geom g,
                          const float *x, float *col) {
  int n = g.N * g.C * g.KH * g.KW * g.OH * g.OW;
  if (on_cuda)
    return DLC_LAUNCH(ctx, "im2col", dlc_launch_im2col(transposed, g, x, col, n, ctx->stream));
  /* The CPU walks whole output rows (fixed n, c, kh, kw, oh; OW taps): the row's indices
   * are decomposed once, and each element is the shared tap body, without the divisions
   * that the per-element form (one GPU thread each) needs. */
#pragma omp parallel DLC_PAR(n)
  {
    int64_t lo, hi;
    dlc_omp_range(n / g.OW, &lo, &hi);
    im2col_cpu_rows(transposed, g, x, col, lo, hi);
  }
  return DLC_OK;
}

dlc_status dlc_col2im_run(dlc_ctx *ctx, int on_cuda, dlc_conv_geom g, const float *col, float *dx) {
  int n = g.N * g.C * g.H * g.W;
  if (on_cuda) return DLC_LAUNCH(ctx, "col2im", dlc_launch_col2im(g, col, dx, n, ctx->stream));
  /* The CPU sums whole column rows into input rows, planes split among the threads (see
   * dlc_col2im_cpu_planes): no two threads write one element. */
#pragma omp parallel DLC_PAR((int64_t)n * g.KH * g.KW)
  {
    int64_t lo, hi;
    dlc_omp_range((int64_t)g.N * g.C, &lo, &hi);
    dlc_col2im_cpu_planes(g, col, dx, lo, hi);
  }
  return DLC_OK;
}

dlc_status dlc_nchw_to_cnhw_run(dlc_ctx *ctx, int on_cuda, int N, int C, int P, const float *in,
                                float *out) {
  if (on_cuda)
    return DLC_LAUNCH(ctx, "nchw_to_cnhw", dlc_launch_nchw_to_cnhw(N, C, P, in, out, ctx->stream));
  int n = N * C * P;
  /* CPU: whole planes: out plane r = (c, n) is in plane (n, c), P contiguous floats. */
#pragma omp parallel DLC_PAR(n)
  {
    int64_t lo, hi;
    dlc_omp_range((int64_t)N * C, &lo, &hi);
    for (int r = (int)lo; r < (int)hi; r++)
      memcpy(out + (int64_t)r * P, in + ((int64_t)(r % N) * C + r / N) * P, sizeof(float) * (size_t)P);
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
  /* CPU: one plane (image n, channel c) at a time, adding its bias to P values. */
#pragma omp parallel DLC_PAR(n)
  {
    int64_t lo, hi;
    dlc_omp_range((int64_t)N * C, &lo, &hi);
    for (int r = (int)lo; r < (int)hi; r++) {
      float bc = b[r % C], *yr = y + (int64_t)r * P;
      for (int p = 0; p < P; p++) yr[p] += bc;
    }
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
