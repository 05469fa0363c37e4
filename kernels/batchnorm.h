/* Per-element bodies of batch normalisation over [N, C, S] (S = H*W, or 1 for [N, C]):
 * statistics per channel c over the M = N*S values. */
#ifndef DLC_BATCHNORM_H
#define DLC_BATCHNORM_H

#include "dlc_hd.h"

#include <stddef.h>
#include <stdint.h>

/* The CUDA statistics and gradient sums cut channel c's M = N*S values into P contiguous
 * chunks, one block each, and combine the P partial results per channel in a second
 * kernel: P aims at about 1024 blocks in all (an H200 holds 132 SMs x 8 blocks of 256
 * threads), with at least 4096 values per chunk and at most DLC_BN_MAX_SPLIT chunks. P
 * depends only on the shape, so results are deterministic. */
#define DLC_BN_MAX_SPLIT 32
static inline int dlc_bn_splits(int64_t N, int64_t C, int64_t S) {
  int64_t M = N * S, p = (1024 + C - 1) / C, by_work = M / 4096;
  if (by_work < 1) by_work = 1;
  if (p > by_work) p = by_work;
  if (p > DLC_BN_MAX_SPLIT) p = DLC_BN_MAX_SPLIT;
  return (int)p;
}
/* Floats of device scratch that forward (training) and backward need for C channels, for
 * any N and S: the two sums of backward, then 2 floats per chunk of every channel. */
static inline int64_t dlc_bn_scratch_floats(int64_t C) { return 2 * C * (1 + DLC_BN_MAX_SPLIT); }

/* y = (x - mean) * invstd * gamma + beta */
DLC_HD static inline float dlc_bn_apply(float x, float mean, float invstd, float gamma, float beta) {
  return (x - mean) * invstd * gamma + beta;
}

/* dx contribution: gamma * invstd * (dy - sum_dy / M - xhat * sum_dy_xhat / M) */
DLC_HD static inline float dlc_bn_grad(float x, float dy, float mean, float invstd, float gamma,
                                       float mean_dy, float mean_dy_xhat) {
  float xhat = (x - mean) * invstd;
  return gamma * invstd * (dy - mean_dy - xhat * mean_dy_xhat);
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* Batch normalisation over [N, C, S]: statistics per channel (saved mean and 1/std, and
 * the running estimates updated when run_mean is not NULL), y = normalised x, and the
 * backward (sums: 2C floats written; dx may be NULL). partials: device scratch of 2 * C *
 * dlc_bn_splits(N, C, S) floats (batchnorm.h). */
int dlc_launch_bn_stats(const float *x, int64_t N, int64_t C, int64_t S, float momentum, float eps,
                        float *run_mean, float *run_var, float *save_mean, float *save_invstd,
                        float *partials, void *stream);
int dlc_launch_bn_eval_stats(const float *run_mean, const float *run_var, int64_t C, float eps,
                             float *save_mean, float *save_invstd, void *stream);
int dlc_launch_bn_apply(const float *x, float *y, int64_t N, int64_t C, int64_t S, const float *mean,
                        const float *invstd, const float *gamma, const float *beta, void *stream);
int dlc_launch_bn_backward(const float *x, const float *dy, float *dx, int64_t N, int64_t C,
                           int64_t S, const float *mean, const float *invstd, const float *gamma,
                           float *sums, float *partials, float *dgamma, float *dbeta, int batch_stats,
                           void *stream);

#ifdef __cplusplus
}
#endif

#endif
