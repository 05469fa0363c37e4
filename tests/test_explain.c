/* Explanations against PyTorch (tests/fixtures/gen_explain.py): saliency, Grad-CAM and
 * integrated gradients of the trained CNN of tests/fixtures/io, for the predicted class and
 * for class 3, on the CPU; built as test_gpu_explain (test_gpu_explain.c), on the device
 * (or the emulated one) against the same fixtures, from the folder its argument names (the
 * GPU bundle carries them). Also the arguments refused and the PNG picture (read back with
 * libpng). */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const char *fixtures = DLC_FIXTURE_DIR;

static const char *fixture_path(const char *rel) { return t_join(fixtures, rel); }

static int fixture(dlc_ctx *ctx, const char *rel, dlc_tensor *out) {
  dlc_status s = dlc_npy_load(ctx, fixture_path(rel), out);
  T_CHECK(s == DLC_OK, "fixture %s: %s", rel, dlc_ctx_error(ctx));
  return s == DLC_OK;
}

/* A map against its fixture: tolerances scaled to the map's largest value (the maps are
 * sums of a few hundred products each, recomputed here in another order). */
static void check_map(dlc_ctx *ctx, const char *what, const char *rel, const float *got, int64_t n) {
  dlc_tensor ref;
  if (!fixture(ctx, rel, &ref)) return;
  T_CHECK(ref.numel == n, "%s: %lld values, the fixture %lld", what, (long long)n, (long long)ref.numel);
  if (ref.numel == n) t_parity(what, ref.data, got, n, 1e-9, 1e-4 * t_max_abs(ref.data, n) + 1e-7);
  dlc_tensor_free(ctx, &ref);
}

static void explain_on(dlc_ctx *ctx, const char *dev) {
  dlc_net *net = NULL;
  T_OK(ctx, dlc_model_load(ctx, fixture_path("io/cnn.cfg"), 4, &net, NULL)); /* a batch of 4: 5 inputs take two */
  if (!net) return;
  T_OK(ctx, dlc_net_load_weights(net, fixture_path("io/cnn_torch.safetensors")));
  dlc_tensor x;
  if (!fixture(ctx, "io/cnn_x.npy", &x)) {
    dlc_net_destroy(net);
    return;
  }
  int64_t n = x.shape[0], P = 144, S = 144;
  float *map = malloc(sizeof(float) * (size_t)(n * S)), *base = malloc(sizeof(float) * (size_t)S);
  for (int64_t i = 0; i < S; i++) base[i] = -0.5f;
  T_CHECK(dlc_net_last_conv(net) == 4 && dlc_net_layer_index(net, "conv2d4") == 4 && dlc_net_layer_index(net, "x") == -1,
          "the last conv2d is layer 4, named conv2d4 (%d)", dlc_net_last_conv(net));
  const char *tags[2] = {"pred", "c3"};
  for (int t = 0; t < 2; t++) {
    char rel[128], what[128];
    dlc_tensor cls;
    snprintf(rel, sizeof rel, "explain/cls_%s.npy", tags[t]);
    if (!fixture(ctx, rel, &cls)) continue;
    const int32_t *c = cls.data;
    snprintf(what, sizeof what, "%s saliency, class %s", dev, tags[t]);
    T_OK(ctx, dlc_net_saliency(net, x.data, n, c, map));
    snprintf(rel, sizeof rel, "explain/saliency_%s.npy", tags[t]);
    check_map(ctx, what, rel, map, n * P);
    snprintf(what, sizeof what, "%s Grad-CAM, class %s", dev, tags[t]);
    T_OK(ctx, dlc_net_gradcam(net, x.data, n, c, -1, map));
    snprintf(rel, sizeof rel, "explain/gradcam_%s.npy", tags[t]);
    check_map(ctx, what, rel, map, n * P);
    snprintf(what, sizeof what, "%s integrated gradients (8 steps), class %s", dev, tags[t]);
    T_OK(ctx, dlc_net_integrated_gradients(net, x.data, n, base, c, 8, map));
    snprintf(rel, sizeof rel, "explain/ig_%s.npy", tags[t]);
    check_map(ctx, what, rel, map, n * S);
    dlc_tensor_free(ctx, &cls);
  }
  /* What is refused, with a message naming it. */
  int32_t bad[5] = {0, 1, 10, 2, 3}, good[5] = {0, 1, 2, 3, 4};
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "class 10 of input 2", dlc_net_saliency(net, x.data, n, bad, map));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "0 steps", dlc_net_integrated_gradients(net, x.data, n, NULL, good, 0, map));
  T_FAILS(ctx, DLC_ERR_SHAPE, "is not a [channels, height, width] map", dlc_net_gradcam(net, x.data, 1, bad, 9, map));
  free(map);
  free(base);
  dlc_tensor_free(ctx, &x);
  dlc_net_destroy(net);
}

#ifndef DLC_EXPLAIN_ON_GPU
static void test_png(dlc_ctx *ctx) {
  float img[12], map[12];
  for (int i = 0; i < 12; i++) img[i] = (float)i, map[i] = i == 5 ? 2.f : 0.f;
  char path[256];
  snprintf(path, sizeof path, "%s/explain-test-%d.png", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  T_OK(ctx, dlc_png_save_overlay(ctx, path, img, 1, 1, 1, 3, 4, map, 2, 0.5f));
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  uint8_t px[8 * 6 * 3];
  int ok = png_image_begin_read_from_file(&im, path) && (im.format = PNG_FORMAT_RGB, 1) && im.width == 8 &&
           im.height == 6 && png_image_finish_read(&im, NULL, px, 0, NULL);
  T_CHECK(ok, "the PNG reads back as 8 x 6 RGB: %s", im.message);
  if (ok) {
    /* Pixel (0, 0): image 0 (black), map 0 (the ramp's dark blue 68,1,84), half each. */
    T_CHECK(px[0] == 34 && px[1] == 0 && px[2] == 42, "the corner is half black, half the map's 0: %d %d %d", px[0],
            px[1], px[2]);
    /* Input pixel 5 = (1, 1) drawn at (2..3, 2..3): image 5/11 of white, map at its top (yellow). */
    const uint8_t *q = px + (2 * 8 + 2) * 3;
    T_CHECK(q[0] == (uint8_t)lrintf(0.5f * 5.f / 11.f * 255.f + 0.5f * 253.f) && q[2] == (uint8_t)lrintf(0.5f * 5.f / 11.f * 255.f + 0.5f * 37.f),
            "the map's maximum is the ramp's top, blended: %d %d %d", q[0], q[1], q[2]);
  }
  png_image_free(&im);
  /* Three tiles in two columns: 2 x 2 tiles of 8 x 6 with a 2-pixel white gap. */
  float imgs[36], maps[36];
  for (int i = 0; i < 36; i++) imgs[i] = (float)(i % 12), maps[i] = (float)(i / 12);
  T_OK(ctx, dlc_png_save_overlay(ctx, path, imgs, 3, 2, 1, 3, 4, maps, 2, 0.5f));
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  uint8_t grid[18 * 14 * 3];
  ok = png_image_begin_read_from_file(&im, path) && (im.format = PNG_FORMAT_RGB, 1) && im.width == 18 &&
       im.height == 14 && png_image_finish_read(&im, NULL, grid, 0, NULL);
  T_CHECK(ok, "a grid of 3 tiles in 2 columns is 18 x 14: %s (%u x %u)", im.message, im.width, im.height);
  if (ok) {
    const uint8_t *gap = grid + (0 * 18 + 8) * 3, *empty = grid + (13 * 18 + 17) * 3;
    T_CHECK(gap[0] == 255 && gap[1] == 255 && empty[2] == 255, "white between the tiles and where none is");
  }
  png_image_free(&im);
  remove(path);
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "2 channels", dlc_png_save_overlay(ctx, path, img, 1, 1, 2, 3, 2, map, 2, 0.5f));
  T_FAILS(ctx, DLC_ERR_IO, "its folder", dlc_png_save_overlay(ctx, "/no-such-dir/x.png", img, 1, 1, 1, 3, 4, map, 2, 0.5f));
}
#endif

int main(int argc, char **argv) {
#ifdef DLC_EXPLAIN_ON_GPU
  if (argc > 1) fixtures = argv[1];
  dlc_ctx *g = t_gpu_ctx_or_skip(1);
  explain_on(g, "cuda");
  dlc_ctx_destroy(g);
  return t_finish("test_gpu_explain");
#else
  (void)argc;
  (void)argv;
  dlc_ctx *ctx = t_cpu_ctx(1);
  explain_on(ctx, "cpu");
  test_png(ctx);
  dlc_ctx_destroy(ctx);
  return t_finish("test_explain");
#endif
}
