/* Pooling bodies shared by the CPU loops and the CUDA kernels, with PyTorch's semantics
 * (aten/src/ATen/native/Pool.h and its CPU/CUDA kernels):
 *  - window (oh, ow) starts at (oh*SH - PH, ow*SW - PW) and spans KH x KW;
 *  - max pooling skips the padding; NaN wins (propagates); the argmax is the flat index
 *    ih*W + iw within the input plane, and a window of -inf keeps its first element;
 *  - average pooling divides by the window clipped to the padded input (count_include_pad)
 *    or to the input itself (count_include_pad = 0);
 *  - backward gathers: each input element sums what the windows containing it send back, in
 *    a fixed order, with no atomics.
 * The host splits the N*C planes into launches of under 2^31 elements, so indices are int.
 * Element i of an output is (plane, oh, ow), of an input (plane, ih, iw). */
#ifndef DLC_POOL_H
#define DLC_POOL_H

#include <math.h>

#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dlc_pool_geom {
  int H, W;        /* input plane */
  int OH, OW;      /* output plane */
  int KH, KW, SH, SW, PH, PW;
  int count_include_pad;
} dlc_pool_geom;

DLC_HD static inline int dlc_pool_imin(int a, int b) { return a < b ? a : b; }
DLC_HD static inline int dlc_pool_imax(int a, int b) { return a > b ? a : b; }

/* The bodies come in two forms: *_px at coordinates (plane, row, column), which the CPU
 * loops call row by row, and *_at at a flat index i, which one GPU thread decomposes. */
DLC_HD static inline void dlc_maxpool_fwd_px(int i, int plane, int oh, int ow, const dlc_pool_geom g,
                                             const float *x, float *y, int32_t *argmax) {
  int h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
  int h1 = dlc_pool_imin(h0 + g.KH, g.H), w1 = dlc_pool_imin(w0 + g.KW, g.W);
  h0 = dlc_pool_imax(h0, 0);
  w0 = dlc_pool_imax(w0, 0);
  const float *xp = x + plane * g.H * g.W;
  float m = -INFINITY;
  int am = h0 * g.W + w0;
  for (int ih = h0; ih < h1; ih++)
    for (int iw = w0; iw < w1; iw++) {
      float v = xp[ih * g.W + iw];
      /* Selects rather than a branch: which tap wins is data-dependent, so a branch
       * mispredicts about half the time on the CPU. A NaN wins, as in PyTorch. */
      int take = (v > m) | (v != v);
      m = take ? v : m;
      am = take ? ih * g.W + iw : am;
    }
  y[i] = m;
  argmax[i] = am;
}

DLC_HD static inline void dlc_maxpool_fwd_at(int i, const dlc_pool_geom g, const float *x,
                                             float *y, int32_t *argmax) {
  int ow = i % g.OW, t = i / g.OW;
  dlc_maxpool_fwd_px(i, t / g.OH, t % g.OH, ow, g, x, y, argmax);
}

/* The output rows whose windows contain input row ih: oh*S - P <= ih <= oh*S - P + K - 1. */
DLC_HD static inline void dlc_pool_out_range(int ih, int K, int S, int P, int O, int *lo, int *hi) {
  *lo = ih + P < K ? 0 : (ih + P - K) / S + 1;
  *hi = dlc_pool_imin((ih + P) / S, O - 1);
}

/* Sums, for input (ih, iw) of a plane, dy over the windows [oh0, oh1] x [ow0, ow1] that
 * contain it and chose it as their maximum. */
DLC_HD static inline void dlc_maxpool_bwd_win(int i, int plane, int ih, int iw, int oh0, int oh1,
                                              int ow0, int ow1, const dlc_pool_geom g,
                                              const float *dy, const int32_t *argmax, float *dx) {
  int base = plane * g.OH * g.OW, me = ih * g.W + iw;
  float s = 0.0f;
  for (int oh = oh0; oh <= oh1; oh++)
    for (int ow = ow0; ow <= ow1; ow++) {
      int o = base + oh * g.OW + ow;
      s += argmax[o] == me ? dy[o] : 0.0f; /* a select, not a data-dependent branch */
    }
  dx[i] += s;
}

DLC_HD static inline void dlc_maxpool_bwd_px(int i, int plane, int ih, int iw, const dlc_pool_geom g,
                                             const float *dy, const int32_t *argmax, float *dx) {
  int oh0, oh1, ow0, ow1;
  dlc_pool_out_range(ih, g.KH, g.SH, g.PH, g.OH, &oh0, &oh1);
  dlc_pool_out_range(iw, g.KW, g.SW, g.PW, g.OW, &ow0, &ow1);
  dlc_maxpool_bwd_win(i, plane, ih, iw, oh0, oh1, ow0, ow1, g, dy, argmax, dx);
}

DLC_HD static inline void dlc_maxpool_bwd_at(int i, const dlc_pool_geom g, const float *dy,
                                             const int32_t *argmax, float *dx) {
  int iw = i % g.W, t = i / g.W;
  dlc_maxpool_bwd_px(i, t / g.H, t % g.H, iw, g, dy, argmax, dx);
}

/* The divisor of window (oh, ow) and its clipped bounds. */
DLC_HD static inline int dlc_avgpool_window(const dlc_pool_geom g, int oh, int ow, int *h0, int *h1,
                                            int *w0, int *w1) {
  int hs = oh * g.SH - g.PH, ws = ow * g.SW - g.PW;
  int he = dlc_pool_imin(hs + g.KH, g.H + g.PH), we = dlc_pool_imin(ws + g.KW, g.W + g.PW);
  int padded = (he - hs) * (we - ws);
  *h0 = dlc_pool_imax(hs, 0);
  *w0 = dlc_pool_imax(ws, 0);
  *h1 = dlc_pool_imin(he, g.H);
  *w1 = dlc_pool_imin(we, g.W);
  return g.count_include_pad ? padded : (*h1 - *h0) * (*w1 - *w0);
}

DLC_HD static inline void dlc_avgpool_fwd_px(int i, int plane, int oh, int ow, const dlc_pool_geom g,
                                             const float *x, float *y) {
  int h0, h1, w0, w1;
  int div = dlc_avgpool_window(g, oh, ow, &h0, &h1, &w0, &w1);
  const float *xp = x + plane * g.H * g.W;
  float s = 0.0f;
  for (int ih = h0; ih < h1; ih++)
    for (int iw = w0; iw < w1; iw++) s += xp[ih * g.W + iw];
  y[i] = s / (float)div;
}

DLC_HD static inline void dlc_avgpool_fwd_at(int i, const dlc_pool_geom g, const float *x, float *y) {
  int ow = i % g.OW, t = i / g.OW;
  dlc_avgpool_fwd_px(i, t / g.OH, t % g.OH, ow, g, x, y);
}

DLC_HD static inline void dlc_avgpool_bwd_win(int i, int plane, int oh0, int oh1, int ow0, int ow1,
                                              const dlc_pool_geom g, const float *dy, float *dx) {
  const float *dp = dy + plane * g.OH * g.OW;
  float s = 0.0f;
  for (int oh = oh0; oh <= oh1; oh++)
    for (int ow = ow0; ow <= ow1; ow++) {
      int h0, h1, w0, w1;
      int div = dlc_avgpool_window(g, oh, ow, &h0, &h1, &w0, &w1);
      s += dp[oh * g.OW + ow] / (float)div;
    }
  dx[i] += s;
}

DLC_HD static inline void dlc_avgpool_bwd_px(int i, int plane, int ih, int iw, const dlc_pool_geom g,
                                             const float *dy, float *dx) {
  int oh0, oh1, ow0, ow1;
  dlc_pool_out_range(ih, g.KH, g.SH, g.PH, g.OH, &oh0, &oh1);
  dlc_pool_out_range(iw, g.KW, g.SW, g.PW, g.OW, &ow0, &ow1);
  dlc_avgpool_bwd_win(i, plane, oh0, oh1, ow0, ow1, g, dy, dx);
}

DLC_HD static inline void dlc_avgpool_bwd_at(int i, const dlc_pool_geom g, const float *dy, float *dx) {
  int iw = i % g.W, t = i / g.W;
  dlc_avgpool_bwd_px(i, t / g.H, t % g.H, iw, g, dy, dx);
}

/* Global average pooling backward: dx [planes][HW] += dy[plane] / HW. */
DLC_HD static inline void dlc_global_avgpool_bwd_at(int i, int HW, const float *dy, float *dx) {
  dx[i] += dy[i / HW] / (float)HW;
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* n is the element count of the output (forward) or of dx (backward). */
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
