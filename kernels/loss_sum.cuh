/* The deterministic sum that turns per-row or per-element loss terms into the loss (and,
 * for the cross-entropy backward, into its coefficients). Defined in loss.cu, used by
 * xent.cu too.
 *
 * No atomics: each thread adds its strided share in order (in double), blocks reduce with
 * a fixed tree; more than DLC_SUM_SINGLE_MAX terms go through a first kernel writing one
 * partial per block (the block count depends on n alone) and a one-block final kernel.
 * The same inputs therefore give the same bits on every run. */
#ifndef DLC_LOSS_SUM_CUH
#define DLC_LOSS_SUM_CUH

#include "common.cuh"

#define DLC_SUM_SINGLE_MAX 32768 /* terms the final kernel sums alone */

enum dlc_sum_mode {
  DLC_SUM_ONE = 0,    /* s0 = sum a */
  DLC_SUM_PAIR = 1,   /* s0 = sum a, s1 = sum b */
  DLC_SUM_SQDIFF = 2  /* s0 = sum (a - b)^2 */
};

enum dlc_finish_kind {
  DLC_FINISH_XENT = 0, /* out[0] = s0 (sum of row losses) / s1 (sum of row weights) if mean */
  DLC_FINISH_MSE = 1,  /* out[0] = s0 / n if mean */
  DLC_FINISH_XENT_COEF = 2 /* out[0..2] = a, b, W of dlc_xent_grad, s0 = sum of row weights */
};

typedef struct dlc_finish_args {
  int kind, mean;
  float dloss, eps;       /* DLC_FINISH_XENT_COEF */
  int64_t C;              /* DLC_FINISH_XENT_COEF */
  const float *class_w;   /* DLC_FINISH_XENT_COEF: [C] or NULL */
} dlc_finish_args;

/* Scratch bytes dlc_loss_sum needs for n terms (0 when one kernel does it). */
size_t dlc_loss_sum_scratch_bytes(int64_t n);
cudaError_t dlc_loss_sum(int mode, const float *a, const float *b, int64_t n, dlc_finish_args f,
                         float *out, void *scratch, cudaStream_t st);

/* Rounds scratch offsets up so that every part stays aligned. */
static inline size_t dlc_scratch_align(size_t bytes) { return (bytes + 255) / 256 * 256; }

#endif
