/* A model's inputs from a file (dlc_input_load): the pixels go through the loader's own
 * normaliser (dlc_aug_image with no augmentation), so a prediction sees what training saw. */
#include <string.h>

#include "data/augment.h"
#include "io/file_io.h"

/* Float32 values move from raw into out (raw is left empty); pixels are normalised into a
 * new tensor. */
static dlc_status convert(dlc_ctx *ctx, const char *path, dlc_tensor *raw, const dlc_loader_options *o, int ndim,
                          const int64_t *sample_shape, dlc_tensor *out) {
  int64_t sample = 1;
  for (int i = 0; i < ndim; i++) {
    if (sample_shape[i] < 1 || sample > INT64_MAX / sample_shape[i])
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: the sample shape's dimension %d is %lld", path, i,
                      (long long)sample_shape[i]);
    sample *= sample_shape[i];
  }
  if (raw->dtype != DLC_F32 && raw->dtype != DLC_U8)
    return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s: %s input; use float32 values or uint8 pixels", path,
                    dlc_dtype_name(raw->dtype));
  /* [N, sample...] with the sample's element count, or one sample without the batch. */
  int64_t n = raw->numel / sample, first = raw->ndim > 0 ? raw->shape[0] : 1;
  if (raw->numel % sample != 0 || n < 1 || (n != first && n != 1))
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: %lld values do not split into samples of %lld (the model's input)", path,
                    (long long)raw->numel, (long long)sample);
  int64_t shape[DLC_MAX_DIMS] = {n};
  memcpy(shape + 1, sample_shape, sizeof(int64_t) * (size_t)ndim);
  if (raw->dtype == DLC_F32) { /* as it is: the file's tensor itself, reshaped */
    DLC_TRY(dlc_tensor_reshape(ctx, raw, ndim + 1, shape));
    *out = *raw;
    memset(raw, 0, sizeof *raw);
    return DLC_OK;
  }
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  DLC_TRY(dlc_tensor_alloc(ctx, out, DLC_F32, ndim + 1, shape, cpu));
  /* Channels first for an image [C, H, W]; any other shape is one channel. */
  int64_t channels = ndim == 3 ? sample_shape[0] : 1;
  dlc_status s = dlc_input_pixels(ctx, raw->data, n, channels, sample / channels, o, out->data);
  if (s != DLC_OK) {
    dlc_tensor_free(ctx, out);
    return dlc_error_prefix(ctx, s, path);
  }
  return DLC_OK;
}

dlc_status dlc_input_pixels(dlc_ctx *ctx, const uint8_t *pixels, int64_t n, int64_t channels, int64_t plane,
                            const dlc_loader_options *o, float *out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, pixels);
  DLC_CHECK_NULL(ctx, o);
  DLC_CHECK_NULL(ctx, out);
  if (n < 0 || channels < 1 || plane < 1 || channels > INT32_MAX || plane > INT32_MAX)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%lld samples of %lld planes of %lld pixels: each count must be positive and "
                    "a plane's under 2^31 pixels", (long long)n, (long long)channels, (long long)plane);
  dlc_aug none;
  memset(&none, 0, sizeof none);
  none.brightness = none.contrast = 1.f;
  for (int64_t i = 0; i < n; i++)
    dlc_aug_image(pixels + i * channels * plane, (int)channels, 1, (int)plane, &none, o, out + i * channels * plane);
  return DLC_OK;
}

dlc_status dlc_input_load(dlc_ctx *ctx, const char *path, const dlc_loader_options *o, int ndim,
                          const int64_t *sample_shape, dlc_tensor *out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, o);
  DLC_CHECK_NULL(ctx, sample_shape);
  DLC_CHECK_NULL(ctx, out);
  memset(out, 0, sizeof *out);
  if (ndim < 1 || ndim > DLC_MAX_DIMS - 1)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: a sample of %d dimensions (1 to %d)", path, ndim, DLC_MAX_DIMS - 1);
  dlc_tensor raw;
  DLC_TRY(dlc_path_ends_with(path, ".npy") ? dlc_npy_load(ctx, path, &raw) : dlc_idx_load(ctx, path, &raw));
  dlc_status s = convert(ctx, path, &raw, o, ndim, sample_shape, out);
  dlc_tensor_free(ctx, &raw);
  return s;
}
