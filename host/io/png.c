/* PNG pictures of explanations: an input image with a map laid over it as a heat map,
 * encoded by libpng's simplified API in memory and written atomically (atomic_file.h). */
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/file_io.h"

/* A perceptual ramp from dark blue through green to yellow (viridis-like), 5 stops. */
static void heat(float t, float rgb[3]) {
  static const float stop[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = t < 0.f ? 0.f : t > 1.f ? 1.f : t;
  float f = t * 4.f;
  int i = f >= 4.f ? 3 : (int)f;
  float u = f - (float)i;
  for (int c = 0; c < 3; c++) rgb[c] = stop[i][c] + u * (stop[i + 1][c] - stop[i][c]);
}

dlc_status dlc_png_save_overlay(dlc_ctx *ctx, const char *path, const float *image, int64_t C, int64_t H,
                                int64_t W, const float *map, int scale, float alpha) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, image);
  DLC_CHECK_NULL(ctx, map);
  if ((C != 1 && C != 3) || H < 1 || W < 1 || scale < 1 || scale > 64 || H * scale > 65536 || W * scale > 65536 ||
      !(alpha >= 0.f && alpha <= 1.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG,
                    "%s: a picture of %lld channels (1 or 3), %lld x %lld pixels, scale %d (1 to 64) and alpha %g "
                    "(0 to 1)",
                    path, (long long)C, (long long)H, (long long)W, scale, alpha);
  DLC_TRY(dlc_check_output_path(ctx, path));
  /* The image and the map, each scaled to [0, 1] by its own range (the map from 0). */
  float lo = INFINITY, hi = -INFINITY, top = 0.f;
  for (int64_t i = 0; i < C * H * W; i++)
    if (isfinite(image[i])) lo = fminf(lo, image[i]), hi = fmaxf(hi, image[i]);
  for (int64_t i = 0; i < H * W; i++)
    if (isfinite(map[i])) top = fmaxf(top, map[i]);
  float span = hi > lo ? hi - lo : 1.f;
  int64_t OH = H * scale, OW = W * scale;
  uint8_t *rgb = malloc((size_t)(OH * OW * 3));
  if (!rgb) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: a %lld x %lld picture", path, (long long)OH, (long long)OW);
  for (int64_t y = 0; y < OH; y++)
    for (int64_t x = 0; x < OW; x++) {
      int64_t p = (y / scale) * W + x / scale;
      float m = top > 0.f && isfinite(map[p]) ? map[p] / top : 0.f, h[3];
      heat(m, h);
      for (int c = 0; c < 3; c++) {
        float v = image[(C == 3 ? c : 0) * H * W + p];
        float g = isfinite(v) ? (v - lo) / span * 255.f : 0.f;
        float o = (1.f - alpha) * g + alpha * h[c];
        rgb[(y * OW + x) * 3 + c] = (uint8_t)lrintf(o < 0.f ? 0.f : o > 255.f ? 255.f : o);
      }
    }
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
      !png_image_write_to_memory(&im, buf, &len, 0, rgb, 0, NULL))
    s = DLC_FAIL(ctx, DLC_ERR_IO, "%s: encoding the PNG: %s", path, im.message[0] ? im.message : "out of memory");
  free(rgb);
  dlc_atomic_file f;
  if (s == DLC_OK) s = dlc_atomic_open(ctx, &f, path);
  if (s == DLC_OK) {
    s = dlc_atomic_write(&f, buf, len);
    s = s == DLC_OK ? dlc_atomic_commit(&f) : (dlc_atomic_abort(&f), s);
  }
  free(buf);
  return s;
}
