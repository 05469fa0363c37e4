/* Image augmentation (augment.h). */
#include "data/augment.h"

#include <math.h>
#include <string.h>

#include "../../kernels/philox.h"

static double unit(uint32_t r) { return (double)r * (1.0 / 4294967296.0); } /* [0, 1) */

void dlc_aug_draw(const dlc_loader_options *o, int H, int W, uint64_t key, uint64_t idx, dlc_aug *a) {
  memset(a, 0, sizeof *a);
  a->brightness = a->contrast = 1.f;
  int pad = o->crop_pad;
  if (o->flip || pad) { /* the first block, as before rotation and the rest existed */
    uint32_t r[4];
    dlc_philox_block(idx, key, r);
    a->flip = o->flip && (r[0] & 1);
    if (pad) {
      a->ox = (int)(r[1] % (uint32_t)(2 * pad + 1)) - pad;
      a->oy = (int)(r[2] % (uint32_t)(2 * pad + 1)) - pad;
    }
  }
  if (o->rotate > 0 || o->brightness > 0 || o->contrast > 0) {
    uint32_t r[4];
    dlc_philox_block(idx, key ^ 0xa06e11a7e5ull, r);
    if (o->rotate > 0) a->angle = (2 * unit(r[0]) - 1) * (double)o->rotate * (3.14159265358979323846 / 180.0);
    if (o->brightness > 0) a->brightness = (float)(1 + (2 * unit(r[1]) - 1) * o->brightness);
    if (o->contrast > 0) a->contrast = (float)(1 + (2 * unit(r[2]) - 1) * o->contrast);
  }
  if (o->erase > 0) { /* torchvision's RandomErasing: area 2-33 %, aspect 0.3-3.3, 10 tries */
    uint32_t r[4];
    dlc_philox_block(idx, key ^ 0xe7a5e0000ull, r);
    if (unit(r[0]) >= o->erase) return;
    for (uint64_t t = 0; t < 10; t++) {
      dlc_philox_block(idx | (t + 1) << 48, key ^ 0xe7a5e0001ull, r);
      double area = (0.02 + unit(r[0]) * (0.33 - 0.02)) * H * W;
      double aspect = exp(log(0.3) + unit(r[1]) * (log(3.3) - log(0.3)));
      int h = (int)lround(sqrt(area * aspect)), w = (int)lround(sqrt(area / aspect));
      if (h < 1 || w < 1 || h > H || w > W) continue;
      a->erase = 1;
      a->eh = h;
      a->ew = w;
      a->ey = (int)(r[2] % (uint32_t)(H - h + 1));
      a->ex = (int)(r[3] % (uint32_t)(W - w + 1));
      return;
    }
  }
}

/* Pixel (sy, sx) of plane p in [0, 1], 0 outside. */
static float px(const uint8_t *p, int H, int W, int sy, int sx) {
  return sy >= 0 && sy < H && sx >= 0 && sx < W ? p[sy * W + sx] / 255.f : 0.f;
}

/* The common case, no rotation and no jitter: plane rows shifted by (ox, oy) and mirrored,
 * with the general loop's arithmetic per pixel, but the valid columns of a row found once
 * instead of tested per pixel. */
static void shift_plane(const uint8_t *plane, int H, int W, const dlc_aug *a, float m, float inv,
                        float *dst) {
  float zero = (0.f - m) * inv;
  /* Valid x: 0 <= sx < W, sx = x + ox (or W - 1 - x + ox mirrored). */
  int lo = a->flip ? a->ox : -a->ox, hi = a->flip ? W + a->ox : W - a->ox;
  if (lo < 0) lo = 0;
  if (lo > W) lo = W; /* a shift past the whole width */
  if (hi > W) hi = W;
  if (hi < lo) hi = lo;
  for (int y = 0; y < H; y++, dst += W) {
    int sy = y + a->oy;
    if (sy < 0 || sy >= H) {
      for (int x = 0; x < W; x++) dst[x] = zero;
      continue;
    }
    const uint8_t *row = plane + (int64_t)sy * W;
    for (int x = 0; x < lo; x++) dst[x] = zero;
    if (a->flip)
      for (int x = lo; x < hi; x++) dst[x] = (row[W - 1 - x + a->ox] / 255.f - m) * inv;
    else
      for (int x = lo; x < hi; x++) dst[x] = (row[x + a->ox] / 255.f - m) * inv;
    for (int x = hi; x < W; x++) dst[x] = zero;
  }
}

void dlc_aug_image(const uint8_t *src, int C, int H, int W, const dlc_aug *a, const dlc_loader_options *o, float *dst) {
  if (a->angle == 0 && a->brightness == 1.f && a->contrast == 1.f) {
    for (int c = 0; c < C; c++) {
      float m = o->normalize ? o->mean[c < 3 ? c : 0] : 0.f;
      float inv = 1.f / (o->normalize ? o->std[c < 3 ? c : 0] : 1.f);
      float *d = dst + (int64_t)c * H * W;
      shift_plane(src + (int64_t)c * H * W, H, W, a, m, inv, d);
      for (int y = a->ey; a->erase && y < a->ey + a->eh; y++)
        for (int x = a->ex; x < a->ex + a->ew; x++) d[(int64_t)y * W + x] = 0.f;
    }
    return;
  }
  double cs = cos(a->angle), sn = sin(a->angle), cx = (W - 1) / 2.0, cy = (H - 1) / 2.0;
  int jitter = a->brightness != 1.f || a->contrast != 1.f;
  float mean = 0.f;
  if (a->contrast != 1.f) { /* the brightness-adjusted image's mean, for contrast */
    double s = 0;
    int64_t n = (int64_t)C * H * W;
    for (int64_t i = 0; i < n; i++) s += fminf(src[i] / 255.f * a->brightness, 1.f);
    mean = (float)(s / (double)n);
  }
  for (int c = 0; c < C; c++) {
    const uint8_t *plane = src + (int64_t)c * H * W;
    float m = o->normalize ? o->mean[c < 3 ? c : 0] : 0.f;
    float inv = 1.f / (o->normalize ? o->std[c < 3 ? c : 0] : 1.f);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        float v;
        if (a->angle == 0) {
          /* Output (y, x) shows input (y + oy, x + ox) of the zero-padded image, mirrored. */
          int sx = (a->flip ? W - 1 - x : x) + a->ox, sy = y + a->oy;
          v = px(plane, H, W, sy, sx);
        } else {
          double u = cx + cs * (x - cx) + sn * (y - cy), w = cy - sn * (x - cx) + cs * (y - cy);
          if (a->flip) u = W - 1 - u;
          u += a->ox;
          w += a->oy;
          double fu = floor(u), fw = floor(w), du = u - fu, dw = w - fw;
          int iu = (int)fu, iw = (int)fw;
          v = (float)((1 - dw) * ((1 - du) * px(plane, H, W, iw, iu) + du * px(plane, H, W, iw, iu + 1)) +
                      dw * ((1 - du) * px(plane, H, W, iw + 1, iu) + du * px(plane, H, W, iw + 1, iu + 1)));
        }
        if (jitter) {
          v = fminf(fmaxf(v * a->brightness, 0.f), 1.f);
          if (a->contrast != 1.f) v = fminf(fmaxf((v - mean) * a->contrast + mean, 0.f), 1.f);
        }
        float out = (v - m) * inv;
        if (a->erase && y >= a->ey && y < a->ey + a->eh && x >= a->ex && x < a->ex + a->ew) out = 0.f;
        dst[((int64_t)c * H + y) * W + x] = out;
      }
  }
}
