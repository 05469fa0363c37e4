/* Pooling forward and backward: checks, then the bodies of kernels/pool.h in a CPU loop or
 * a CUDA kernel, over launches of whole planes under 2^31 elements each. */
#include <math.h>
#include <string.h>

#include <stdlib.h>

#include "../../kernels/pool.h"
#include "ops/conv.h"
#include "ops/pool.h"

static const char *bwd_kernel[DLC_POOL_MODE_COUNT] = {"maxpool_bwd", "avgpool_bwd",
                                                       "global_avgpool_bwd"};

dlc_pool2d_params dlc_pool2d_params_make(dlc_pool_mode mode, int64_t kernel_h, int64_t kernel_w) {
  dlc_pool2d_params p;
  memset(&p, 0, sizeof p);
  p.mode = mode;
  p.kernel_h = p.stride_h = kernel_h;
  p.kernel_w = p.stride_w = kernel_w;
  p.count_include_pad = 1;
  return p;
}

dlc_status dlc_pool_out_size(dlc_ctx *ctx, const char *what, int64_t in, int64_t kernel,
                             int64_t stride, int64_t pad, int ceil_mode, int64_t *out) {
  *out = 0;
  if (in <= 0 || kernel <= 0 || stride <= 0 || pad < 0)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "pool2d %s: input %lld, kernel %lld and stride %lld must be positive and "
                    "padding %lld >= 0",
                    what, (long long)in, (long long)kernel, (long long)stride, (long long)pad);
  if (in > INT32_MAX || kernel > INT32_MAX || stride > INT32_MAX || pad > INT32_MAX)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "pool2d %s: input %lld (or kernel, stride, padding) "
                    "overflows the 2^31 range of an image dimension", what, (long long)in);
  if (pad > kernel / 2)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "pool2d %s: padding %lld is more than half the kernel %lld", what,
                    (long long)pad, (long long)kernel);
  /* floor((in + 2 pad - kernel [+ stride - 1 in ceil mode]) / stride) + 1, rounding down
   * for negative numerators too; in ceil mode the last window must start inside the input
   * or the left padding. */
  int64_t num = in + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0);
  int64_t o = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  if (ceil_mode && (o - 1) * stride >= in + pad) o--;
  if (o < 1)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "pool2d %s: the kernel %lld does not fit the input %lld with padding %lld "
                    "(output size %lld)",
                    what, (long long)kernel, (long long)in, (long long)pad, (long long)o);
  *out = o;
  return DLC_OK;
}

dlc_status dlc_pool2d_init(dlc_ctx *ctx, dlc_pool2d_state *s, const dlc_pool2d_params *p,
                           int64_t channels, int64_t height, int64_t width) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, s);
  DLC_CHECK_NULL(ctx, p);
  memset(s, 0, sizeof *s);
  if ((int)p->mode < 0 || p->mode >= DLC_POOL_MODE_COUNT)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "pool2d: mode %d is not a dlc_pool_mode", (int)p->mode);
  if (channels <= 0 || height <= 0 || width <= 0)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "pool2d: channels %lld, height %lld, width %lld must be positive",
                    (long long)channels, (long long)height, (long long)width);
  if (height > INT32_MAX / width)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "pool2d: a %lld x %lld plane has 2^31 elements or more",
                    (long long)height, (long long)width);
  int64_t oh = 1, ow = 1;
  if (p->mode != DLC_POOL_GLOBAL_AVG) {
    DLC_TRY(dlc_pool_out_size(ctx, "height", height, p->kernel_h, p->stride_h, p->pad_h,
                              p->ceil_mode, &oh));
    DLC_TRY(dlc_pool_out_size(ctx, "width", width, p->kernel_w, p->stride_w, p->pad_w,
                              p->ceil_mode, &ow));
  }
  if (oh > INT32_MAX / ow)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "pool2d: a %lld x %lld output plane has 2^31 elements or more",
                    (long long)oh, (long long)ow);
  s->p = *p;
  s->channels = channels;
  s->height = height;
  s->width = width;
  s->out_h = oh;
  s->out_w = ow;
  return DLC_OK;
}

/* The kernels' geometry of a state dlc_pool2d_init filled (its sizes fit in int there). */
static dlc_pool_geom geom_of(const dlc_pool2d_state *s) {
  const dlc_pool2d_params *p = &s->p;
  dlc_pool_geom g = {(int)s->height, (int)s->width, (int)s->out_h, (int)s->out_w, (int)p->kernel_h,
                     (int)p->kernel_w, (int)p->stride_h, (int)p->stride_w, (int)p->pad_h,
                     (int)p->pad_w, p->count_include_pad != 0};
  return g;
}

static dlc_status check_nchw(dlc_ctx *ctx, const dlc_tensor *t, const char *what, dlc_dtype dt,
                             int64_t n, int64_t c, int64_t h, int64_t w, dlc_device dev) {
  return dlc_check_nchw(ctx, "pool2d", t, what, dt, n, c, h, w, dev);
}

/* The batch of `t` (x or dy), which must have 4 dimensions. */
static dlc_status batch_of(dlc_ctx *ctx, const dlc_pool2d_state *s, const dlc_tensor *t,
                           const char *what, int64_t *n) {
  *n = 0;
  if (!s) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "pool2d: the state is NULL");
  DLC_TRY(dlc_check_f32(ctx, t, what));
  *n = t->ndim == 4 ? t->shape[0] : 0;
  if (*n < 1) {
    char a[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "pool2d: %s is %s: expected [batch, C, H, W]", what,
                    dlc_shape_str(t, a, sizeof a));
  }
  return DLC_OK;
}

/* Planes per launch, so that a launch's inputs and outputs stay under 2^31 elements. */
static int64_t planes_per_launch(const dlc_pool2d_state *s) {
  int64_t in = s->height * s->width, out = s->out_h * s->out_w;
  return INT32_MAX / (in > out ? in : out);
}

#define DLC_PAR(n) if ((int64_t)(n) > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))

/* One output row of a 2x2, stride-2 max pool: the taps in dlc_maxpool_fwd_px's order and
 * with its rule (a larger value or a NaN takes the window), so the results are the same. */
static void maxpool2x2_row(const float *plane, int W, int oh, int OW, float *y, int32_t *argmax) {
  const float *r0 = plane + 2 * oh * W, *r1 = r0 + W;
  int base = 2 * oh * W;
  for (int ow = 0; ow < OW; ow++) {
    int c = 2 * ow;
    float m = -INFINITY, v;
    int am = base + c, take;
#define DLC_TAP(val, at) v = (val); take = (v > m) | (v != v); m = take ? v : m; am = take ? (at) : am
    DLC_TAP(r0[c], base + c);
    DLC_TAP(r0[c + 1], base + c + 1);
    DLC_TAP(r1[c], base + W + c);
    DLC_TAP(r1[c + 1], base + W + c + 1);
#undef DLC_TAP
    y[ow] = m;
    argmax[ow] = am;
  }
}

/* Windows that tile the input: stride = kernel, no padding, every window inside the input
 * (2x2 pools of stride 2, every shipped CNN's). Each input element then lies in at most
 * one window, which rows and columns find without divisions. */
static int tiles_input(const dlc_pool_geom g) {
  return g.SH == g.KH && g.SW == g.KW && g.PH == 0 && g.PW == 0 && g.OH * g.KH <= g.H &&
         g.OW * g.KW <= g.W;
}

/* One output row of a tiling average pool: dlc_avgpool_fwd_px's sum, in its order. */
static void avgpool_tiled_row(const dlc_pool_geom g, const float *plane, int oh, float *y) {
  const float *r0 = plane + oh * g.KH * g.W;
  float div = (float)(g.KH * g.KW);
  for (int ow = 0; ow < g.OW; ow++) {
    float s = 0.0f;
    for (int kh = 0; kh < g.KH; kh++)
      for (int kw = 0; kw < g.KW; kw++) s += r0[kh * g.W + ow * g.KW + kw];
    y[ow] = s / div;
  }
}

/* Input row ih of a tiling pool's backward (dx row d): each element adds what its one
 * window sends back, as dlc_maxpool_bwd_win and dlc_avgpool_bwd_win sum it. */
static void pool_tiled_bwd_row(const dlc_pool_geom g, int max, int ih, const float *dy_plane,
                               const int32_t *am_plane, float *d) {
  int oh = ih / g.KH;
  if (oh >= g.OH) return; /* below the last window */
  const float *dyr = dy_plane + oh * g.OW;
  float div = (float)(g.KH * g.KW);
  if (max && g.KW == 2) { /* the taps of window ow are columns 2 ow and 2 ow + 1 */
    const int32_t *amr = am_plane + oh * g.OW;
    int base = ih * g.W;
    for (int ow = 0; ow < g.OW; ow++) {
      int at = base + 2 * ow; /* compared, not subtracted: any argmax value is safe */
      float v = dyr[ow], s0 = 0.0f, s1 = 0.0f;
      s0 += amr[ow] == at ? v : 0.0f;
      s1 += amr[ow] == at + 1 ? v : 0.0f;
      d[2 * ow] += s0;
      d[2 * ow + 1] += s1;
    }
  } else if (max) {
    const int32_t *amr = am_plane + oh * g.OW;
    for (int ow = 0, iw = 0; ow < g.OW; ow++)
      for (int kw = 0; kw < g.KW; kw++, iw++) {
        float s = 0.0f;
        s += amr[ow] == ih * g.W + iw ? dyr[ow] : 0.0f;
        d[iw] += s;
      }
  } else {
    for (int ow = 0, iw = 0; ow < g.OW; ow++)
      for (int kw = 0; kw < g.KW; kw++, iw++) {
        float s = 0.0f;
        s += dyr[ow] / div;
        d[iw] += s;
      }
  }
}

dlc_status dlc_pool2d_forward(dlc_ctx *ctx, const dlc_pool2d_state *s, const dlc_tensor *x,
                              dlc_tensor *y, dlc_tensor *argmax) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  int64_t n;
  DLC_TRY(batch_of(ctx, s, x, "x", &n));
  dlc_device dev = x->device;
  int64_t C = s->channels;
  DLC_TRY(check_nchw(ctx, x, "x", DLC_F32, n, C, s->height, s->width, dev));
  DLC_TRY(check_nchw(ctx, y, "y", DLC_F32, n, C, s->out_h, s->out_w, dev));
  int max = s->p.mode == DLC_POOL_MAX, on_cuda = dev.kind == DLC_DEVICE_CUDA;
  if (max) DLC_TRY(check_nchw(ctx, argmax, "argmax", DLC_I32, n, C, s->out_h, s->out_w, dev));
  int64_t planes = n * C, in_plane = s->height * s->width;
  if (s->p.mode == DLC_POOL_GLOBAL_AVG)
    return dlc_channel_sum_run(ctx, on_cuda, x->data, y->data, 1, planes, in_plane, 0,
                               (float)in_plane, 0);
  int64_t out_plane = s->out_h * s->out_w, per = planes_per_launch(s);
  for (int64_t p0 = 0; p0 < planes; p0 += per) {
    int cnt = (int)((planes - p0 < per ? planes - p0 : per) * out_plane);
    const float *xp = (const float *)x->data + p0 * in_plane;
    float *yp = (float *)y->data + p0 * out_plane;
    int32_t *ap = max ? (int32_t *)argmax->data + p0 * out_plane : NULL;
    dlc_pool_geom g = geom_of(s);
    if (on_cuda) {
      DLC_TRY(max ? DLC_LAUNCH(ctx, "maxpool_fwd", dlc_launch_maxpool_fwd(g, xp, yp, ap, cnt, ctx->stream))
                  : DLC_LAUNCH(ctx, "avgpool_fwd", dlc_launch_avgpool_fwd(g, xp, yp, cnt, ctx->stream)));
      continue;
    }
    /* The CPU walks output rows (plane, oh) and calls the coordinate form of the body:
     * no per-element index divisions. 2x2 windows of stride 2 without padding (every
     * shipped CNN's) take a row loop with the four taps spelled out. */
    int two = max && g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 &&
              2 * g.OH <= g.H && 2 * g.OW <= g.W;
    int tiled = tiles_input(g);
#pragma omp parallel DLC_PAR((int64_t)cnt * g.KH * g.KW)
    {
      int64_t lo, hi;
      dlc_omp_range(cnt / g.OW, &lo, &hi);
      for (int r = (int)lo; r < (int)hi; r++) {
        int plane = r / g.OH, oh = r % g.OH;
        if (two)
          maxpool2x2_row(xp + (int64_t)plane * g.H * g.W, g.W, oh, g.OW, yp + (int64_t)r * g.OW, ap + (int64_t)r * g.OW);
        else if (max)
          for (int ow = 0; ow < g.OW; ow++) dlc_maxpool_fwd_px(r * g.OW + ow, plane, oh, ow, g, xp, yp, ap);
        else if (tiled)
          avgpool_tiled_row(g, xp + (int64_t)plane * g.H * g.W, oh, yp + (int64_t)r * g.OW);
        else
          for (int ow = 0; ow < g.OW; ow++) dlc_avgpool_fwd_px(r * g.OW + ow, plane, oh, ow, g, xp, yp);
      }
    }
  }
  return DLC_OK;
}

dlc_status dlc_pool2d_backward(dlc_ctx *ctx, const dlc_pool2d_state *s, const dlc_tensor *dy,
                               const dlc_tensor *argmax, dlc_tensor *dx) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  int64_t n;
  DLC_TRY(batch_of(ctx, s, dy, "dy", &n));
  dlc_device dev = dy->device;
  int64_t C = s->channels;
  DLC_TRY(check_nchw(ctx, dy, "dy", DLC_F32, n, C, s->out_h, s->out_w, dev));
  DLC_TRY(check_nchw(ctx, dx, "dx", DLC_F32, n, C, s->height, s->width, dev));
  dlc_pool_mode mode = s->p.mode;
  if (mode == DLC_POOL_MAX)
    DLC_TRY(check_nchw(ctx, argmax, "argmax", DLC_I32, n, C, s->out_h, s->out_w, dev));
  int on_cuda = dev.kind == DLC_DEVICE_CUDA;
  int64_t planes = n * C, in_plane = s->height * s->width, out_plane = s->out_h * s->out_w;
  int64_t per = planes_per_launch(s);
  for (int64_t p0 = 0; p0 < planes; p0 += per) {
    int cnt = (int)((planes - p0 < per ? planes - p0 : per) * in_plane);
    const float *dyp = (const float *)dy->data + p0 * out_plane;
    const int32_t *ap = mode == DLC_POOL_MAX ? (const int32_t *)argmax->data + p0 * out_plane : NULL;
    float *dxp = (float *)dx->data + p0 * in_plane;
    dlc_pool_geom g = geom_of(s);
    int hw = (int)in_plane;
    if (on_cuda) {
      DLC_TRY(DLC_LAUNCH(ctx, bwd_kernel[mode],
                         mode == DLC_POOL_MAX ? dlc_launch_maxpool_bwd(g, dyp, ap, dxp, cnt, ctx->stream)
                         : mode == DLC_POOL_AVG ? dlc_launch_avgpool_bwd(g, dyp, dxp, cnt, ctx->stream)
                                                : dlc_launch_global_avgpool_bwd(hw, dyp, dxp, cnt, ctx->stream)));
      continue;
    }
    int failed = 0;
#pragma omp parallel DLC_PAR(cnt) reduction(| : failed)
    {
      int64_t lo, hi;
      if (mode == DLC_POOL_GLOBAL_AVG) {
        dlc_omp_range(cnt, &lo, &hi);
        for (int i = (int)lo; i < (int)hi; i++) dlc_global_avgpool_bwd_at(i, hw, dyp, dxp);
      } else if (tiles_input(g)) {
        dlc_omp_range(cnt / g.W, &lo, &hi);
        for (int r = (int)lo; r < (int)hi; r++) {
          int plane = r / g.H;
          pool_tiled_bwd_row(g, mode == DLC_POOL_MAX, r % g.H, dyp + (int64_t)plane * out_plane,
                             ap ? ap + (int64_t)plane * out_plane : NULL, dxp + (int64_t)r * g.W);
        }
      } else {
        /* Input rows (plane, ih), as in forward; the window ranges of a row, and of each
         * column (the same in every row), are found once instead of per element. */
        int *ow_lo = malloc(sizeof(int) * 2 * (size_t)g.W), *ow_hi = ow_lo ? ow_lo + g.W : NULL;
        for (int iw = 0; ow_lo && iw < g.W; iw++)
          dlc_pool_out_range(iw, g.KW, g.SW, g.PW, g.OW, &ow_lo[iw], &ow_hi[iw]);
        dlc_omp_range(cnt / g.W, &lo, &hi);
        for (int r = (int)lo; ow_lo && r < (int)hi; r++) {
          int plane = r / g.H, ih = r % g.H, oh0, oh1;
          dlc_pool_out_range(ih, g.KH, g.SH, g.PH, g.OH, &oh0, &oh1);
          if (mode == DLC_POOL_MAX)
            for (int iw = 0; iw < g.W; iw++)
              dlc_maxpool_bwd_win(r * g.W + iw, plane, ih, iw, oh0, oh1, ow_lo[iw], ow_hi[iw], g, dyp, ap, dxp);
          else
            for (int iw = 0; iw < g.W; iw++)
              dlc_avgpool_bwd_win(r * g.W + iw, plane, oh0, oh1, ow_lo[iw], ow_hi[iw], g, dyp, dxp);
        }
        if (!ow_lo) failed = 1;
        free(ow_lo);
      }
    }
    if (failed) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "pooling backward: %d column ranges", g.W);
  }
  return DLC_OK;
}
