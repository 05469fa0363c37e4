/* Image augmentation for the loader: what one sample's transform is (drawn from the seed,
 * the epoch and the sample, so a run and its resumption see the same images), and the
 * transform itself, from uint8 pixels to the normalised float sample. */
#ifndef DLC_AUGMENT_H
#define DLC_AUGMENT_H

#include "core/internal.h"

typedef struct dlc_aug {
  int flip, ox, oy;            /* horizontal mirror; crop offset into the zero-padded image */
  double angle;                /* rotation about the centre, radians (0: none) */
  float brightness, contrast;  /* factors (1: none) */
  int erase, ex, ey, ew, eh;   /* an erased rectangle of the output (value 0 after normalising) */
} dlc_aug;

/* The transform of sample idx; key depends on the seed and the epoch. */
void dlc_aug_draw(const dlc_loader_options *o, int H, int W, uint64_t key, uint64_t idx, dlc_aug *a);
/* dst [C, H, W] from src [C, H, W]: output pixel (y, x) shows the input at the point that
 * the inverse rotation, the mirror and the crop offset map it to (bilinear between pixels
 * when rotated, zero outside), scaled to [0, 1], then brightness (v * b) and contrast
 * ((v - m) * c + m, m the image's mean) each clamped to [0, 1], normalised as o says, and
 * the erased rectangle set to 0. */
void dlc_aug_image(const uint8_t *src, int C, int H, int W, const dlc_aug *a, const dlc_loader_options *o, float *dst);

#endif
