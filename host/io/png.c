/* PNG pictures of explanations: an input image with a map laid over it as a heat map,
 * encoded by libpng's simplified API in memory and written atomically (atomic_file.h). */
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/file_io.h"
#include "io/png.h"

/* A perceptual ramp from dark blue through green to yellow (viridis-like), 5 stops. */
static void heat(float t, float rgb[3]) {
  static const float stop[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = t < 0.f ? 0.f : t > 1.f ? 1.f : t;
  float f = t * 4.f;
  int i = f >= 4.f ? 3 : (int)f;
  float u = f - (float)i;
  for (int c = 0; c < 3; c++) rgb[c] = stop[i][c] + u * (stop[i + 1][c] - stop[i][c]);
}

/* Tile t (image [C, H, W] and map [H, W]) into rgb at (x0, y0), each pixel scale x scale. */
static void draw_tile(const float *image, const float *map, int64_t C, int64_t H, int64_t W, int scale, float alpha,
                      uint8_t *rgb, int64_t stride, int64_t x0, int64_t y0) {
  /* The image and the map, each scaled to [0, 1] by its own range (the map from 0). */
  float lo = INFINITY, hi = -INFINITY, top = 0.f;
  for (int64_t i = 0; i < C * H * W; i++)
    if (isfinite(image[i])) lo = fminf(lo, image[i]), hi = fmaxf(hi, image[i]);
  for (int64_t i = 0; i < H * W; i++)
    if (isfinite(map[i])) top = fmaxf(top, map[i]);
  float span = hi > lo ? hi - lo : 1.f;
  for (int64_t y = 0; y < H * scale; y++)
    for (int64_t x = 0; x < W * scale; x++) {
      int64_t p = (y / scale) * W + x / scale;
      float m = top > 0.f && isfinite(map[p]) ? map[p] / top : 0.f, h[3];
      heat(m, h);
      uint8_t *o = rgb + ((y0 + y) * stride + x0 + x) * 3;
      for (int c = 0; c < 3; c++) {
        float v = image[(C == 3 ? c : 0) * H * W + p];
        float g = isfinite(v) ? (v - lo) / span * 255.f : 0.f;
        float b = (1.f - alpha) * g + alpha * h[c];
        o[c] = (uint8_t)lrintf(b < 0.f ? 0.f : b > 255.f ? 255.f : b);
      }
    }
}

dlc_status dlc_png_encode_overlay(dlc_ctx *ctx, const char *what, const float *image, int64_t n, int64_t cols,
                                  int64_t C, int64_t H, int64_t W, const float *map, int scale, float alpha,
                                  void **png, size_t *png_len) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, what);
  DLC_CHECK_NULL(ctx, image);
  DLC_CHECK_NULL(ctx, png);
  DLC_CHECK_NULL(ctx, png_len);
  *png = NULL;
  *png_len = 0;
  if (cols > n) cols = n;
  int64_t rows = cols > 0 ? (n + cols - 1) / cols : 0, gap = n > 1 ? 2 : 0;
  if ((C != 1 && C != 3) || H < 1 || W < 1 || n < 1 || cols < 1 || scale < 1 || scale > 64 ||
      cols * (W * scale + gap) > 65536 || rows * (H * scale + gap) > 65536 || !(alpha >= 0.f && alpha <= 1.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG,
                    "%s: a picture of %lld tiles in %lld columns of %lld channels (1 or 3) and %lld x %lld pixels, "
                    "scale %d (1 to 64), alpha %g (0 to 1), at most 65536 pixels a side",
                    what, (long long)n, (long long)cols, (long long)C, (long long)H, (long long)W, scale, alpha);
  int64_t OW = cols * (W * scale + gap) - gap, OH = rows * (H * scale + gap) - gap;
  uint8_t *rgb = malloc((size_t)(OH * OW * 3));
  float *none = map ? NULL : calloc((size_t)(H * W), sizeof(float)); /* no map: the image alone */
  if (!rgb || (!map && !none)) {
    free(rgb);
    return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: a %lld x %lld picture", what, (long long)OH, (long long)OW);
  }
  memset(rgb, 255, (size_t)(OH * OW * 3)); /* white between the tiles */
  for (int64_t t = 0; t < n; t++)
    draw_tile(image + t * C * H * W, map ? map + t * H * W : none, C, H, W, scale, map ? alpha : 0.f, rgb, OW,
              (t % cols) * (W * scale + gap), (t / cols) * (H * scale + gap));
  free(none);
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = (png_uint_32)OW;
  im.height = (png_uint_32)OH;
  im.format = PNG_FORMAT_RGB;
  png_alloc_size_t len = 0;
  dlc_status s = DLC_OK;
  void *buf = NULL;
  if (!png_image_write_to_memory(&im, NULL, &len, 0, rgb, 0, NULL) || !(buf = malloc(len)) ||
      !png_image_write_to_memory(&im, buf, &len, 0, rgb, 0, NULL)) {
    s = DLC_FAIL(ctx, DLC_ERR_IO, "%s: encoding the PNG: %s", what, im.message[0] ? im.message : "out of memory");
    free(buf);
    buf = NULL;
  }
  png_image_free(&im);
  free(rgb);
  *png = buf;
  *png_len = buf ? (size_t)len : 0;
  return s;
}

dlc_status dlc_png_save_overlay(dlc_ctx *ctx, const char *path, const float *image, int64_t n, int64_t cols,
                                int64_t C, int64_t H, int64_t W, const float *map, int scale, float alpha) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, map);
  DLC_TRY(dlc_check_output_path(ctx, path));
  void *buf = NULL;
  size_t len = 0;
  DLC_TRY(dlc_png_encode_overlay(ctx, path, image, n, cols, C, H, W, map, scale, alpha, &buf, &len));
  dlc_atomic_file f;
  dlc_status s = dlc_atomic_open(ctx, &f, path);
  if (s == DLC_OK) {
    s = dlc_atomic_write(&f, buf, len);
    s = s == DLC_OK ? dlc_atomic_commit(&f) : (dlc_atomic_abort(&f), s);
  }
  free(buf);
  return s;
}
