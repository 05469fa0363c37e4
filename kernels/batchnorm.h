/* Per-element bodies of batch normalisation over [N, C, S] (S = H*W, or 1 for [N, C]):
 * statistics per channel c over the M = N*S values. */
#ifndef DLC_BATCHNORM_H
#define DLC_BATCHNORM_H

#include "dlc_hd.h"

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

#endif
