/* PNG pictures in memory: what dlc_png_save_overlay writes, for pages that embed them. */
#ifndef DLC_PNG_H
#define DLC_PNG_H
#include "core/internal.h"

/* The picture dlc_png_save_overlay describes, encoded into *png (malloc'd, *png_len bytes;
 * the caller frees it); map may be NULL for the images alone. `what` names it in messages. */
dlc_status dlc_png_encode_overlay(dlc_ctx *ctx, const char *what, const float *image, int64_t n, int64_t cols,
                                  int64_t C, int64_t H, int64_t W, const float *map, int scale, float alpha,
                                  void **png, size_t *png_len);
#endif
