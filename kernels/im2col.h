/* Convolution index math, shared by the CPU loops and the CUDA kernels: im2col in two
 * layouts, and col2im by gathering. A body computes one element of its output.
 *
 * The host runs these over one batch chunk at a time and keeps every buffer of a chunk
 * under 2^31 elements (conv_plan.c), so indices here are int. Input x is NCHW with
 * `g.N` images; the output position (oh, ow) reads input row
 *   ih = oh * SH - PH + kh * DH   (and likewise iw),
 * zero where (ih, iw) falls in the padding. */
#ifndef DLC_IM2COL_H
#define DLC_IM2COL_H

#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dlc_conv_geom {
  int N;             /* images in this chunk */
  int C, H, W;       /* input channels and image size */
  int KH, KW;        /* kernel */
  int SH, SW;        /* stride */
  int PH, PW;        /* zero padding */
  int DH, DW;        /* dilation */
  int OH, OW;        /* output size */
} dlc_conv_geom;

/* Column buffer element (n, c, kh, kw, oh, ow): x at the tap, or 0 in the padding.
 * (unsigned) compares catch negative rows and columns in one test. */
DLC_HD static inline float dlc_im2col_tap(const dlc_conv_geom g, const float *x, int nc, int kh,
                                          int kw, int oh, int ow) {
  int ih = oh * g.SH - g.PH + kh * g.DH, iw = ow * g.SW - g.PW + kw * g.DW;
  return (unsigned)ih < (unsigned)g.H && (unsigned)iw < (unsigned)g.W
             ? x[(nc * g.H + ih) * g.W + iw]
             : 0.0f;
}

/* Forward layout [N][C][KH][KW][OH][OW]: image n's group g is the row-major matrix
 * [K = C/G*KH*KW, P = OH*OW] at offset (n*G + g)*K*P, the B operand of y_ng = W_g col_ng. */
DLC_HD static inline void dlc_im2col_at(int i, const dlc_conv_geom g, const float *x, float *col) {
  int ow = i % g.OW, t = i / g.OW;
  int oh = t % g.OH;
  t /= g.OH;
  int kw = t % g.KW;
  t /= g.KW;
  int kh = t % g.KH;
  col[i] = dlc_im2col_tap(g, x, t / g.KH, kh, kw, oh, ow);
}

/* Weight-gradient layout [C][KH][KW][N][OH][OW]: group g is one matrix [K, N*P] at
 * offset g*K*N*P, so dW_g = dy_g [Og, N*P] x col_g^T sums over the chunk in one GEMM. */
DLC_HD static inline void dlc_im2col_t_at(int i, const dlc_conv_geom g, const float *x, float *col) {
  int ow = i % g.OW, t = i / g.OW;
  int oh = t % g.OH;
  t /= g.OH;
  int n = t % g.N;
  t /= g.N;
  int kw = t % g.KW;
  t /= g.KW;
  int kh = t % g.KH, c = t / g.KH;
  col[i] = dlc_im2col_tap(g, x, n * g.C + c, kh, kw, oh, ow);
}

/* o = v / S when S divides v (v >= 0); 0 otherwise. Stride 1, the common case, needs no
 * division. */
DLC_HD static inline int dlc_exact_div(int v, int S, int *o) {
  if (S == 1) {
    *o = v;
    return 1;
  }
  if (v % S) return 0;
  *o = v / S;
  return 1;
}

/* col2im by gathering: dx element i = (n, c, ih, iw) adds every column entry (forward
 * layout) that read it, i.e. each (kh, kw) with ih + PH - kh*DH = oh*SH for an output row
 * oh in [0, OH), and likewise for columns. Fixed (kh, kw) order, no atomics: deterministic.
 * hs and ws fall as kh and kw grow, so a negative one ends its loop. */
DLC_HD static inline void dlc_col2im_at(int i, const dlc_conv_geom g, const float *col, float *dx) {
  int iw = i % g.W, t = i / g.W;
  int ih = t % g.H, nc = t / g.H;
  int P = g.OH * g.OW;
  const float *cb = col + nc * g.KH * g.KW * P;
  float s = 0.0f;
  for (int kh = 0; kh < g.KH; kh++) {
    int hs = ih + g.PH - kh * g.DH, oh, ow;
    if (hs < 0) break;
    if (!dlc_exact_div(hs, g.SH, &oh) || oh >= g.OH) continue;
    for (int kw = 0; kw < g.KW; kw++) {
      int ws = iw + g.PW - kw * g.DW;
      if (ws < 0) break;
      if (!dlc_exact_div(ws, g.SW, &ow) || ow >= g.OW) continue;
      s += cb[(kh * g.KW + kw) * P + oh * g.OW + ow];
    }
  }
  dx[i] += s;
}

/* ---- layout moves around the GEMMs */

/* out [C][N][P] from in [N][C][P]: dy regrouped so a group's rows span the chunk. */
DLC_HD static inline void dlc_nchw_to_cnhw_at(int i, int N, int C, int P, const float *in,
                                              float *out) {
  int p = i % P, t = i / P;
  int n = t % N, c = t / N;
  out[i] = in[(n * C + c) * P + p];
}

/* out[i] = src[i % len]: the weights repeated once per image, so that one strided-batched
 * GEMM covers every (image, group) pair of a grouped convolution. */
DLC_HD static inline void dlc_tile_at(int i, int len, const float *src, float *out) {
  out[i] = src[i % len];
}

/* y [N][C][P] += b[c]. */
DLC_HD static inline void dlc_channel_bias_at(int i, int C, int P, const float *b, float *y) {
  y[i] += b[(i / P) % C];
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* n is the element count of the output. col = im2col(x) over g.N images: forward layout, or weight-gradient layout when
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

#ifdef __cplusplus
}
#endif

#endif
