/* The CUDA launchers, callable from C. Each returns the launch's cudaError_t as an int
 * (0 on success); the host op turns it into a dlc_status with file:line. `stream` is a
 * cudaStream_t. */
#ifndef DLC_LAUNCH_H
#define DLC_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y_i <- dlc_ew_apply(op, a, x_i, y_i) for i < n (x unused by FILL). */
int dlc_launch_elementwise(int op, float a, const float *x, float *y, int64_t n, void *stream);

/* y_i <- uniform [p0, p1) (normal = 0) or p0 + p1 * N(0,1) (normal = 1), element i taken
 * from Philox block (block0 + i / 4), lane i % 4. */
int dlc_launch_rand(int normal, float p0, float p1, uint64_t seed, uint64_t block0, float *y,
                    int64_t n, void *stream);

/* Softmax (log_softmax = 0) or log-softmax (1) over `rows` rows of C floats; y may be x. */
int dlc_launch_softmax_fwd(int log_softmax, const float *x, float *y, int64_t rows, int64_t C,
                           void *stream);
/* Per row: dx += y (dy - sum(dy y)), or for log-softmax dx += dy - exp(y) sum(dy). */
int dlc_launch_softmax_bwd(int log_softmax, const float *y, const float *dy, float *dx,
                           int64_t rows, int64_t C, void *stream);

/* Softmax cross-entropy: what forward and backward share (see dlc_xent_opts). All
 * pointers are on the device. */
typedef struct dlc_xent_params {
  const int32_t *labels; /* [rows] */
  const float *class_w;  /* [C], or NULL for weight 1 */
  float eps;             /* label smoothing in [0, 1] */
  int ignore_index;
  int mean;              /* 1: divide by the summed label weights of the counted rows */
} dlc_xent_params;

/* Device scratch (bytes) the launcher below needs for this size, 0 when none; the caller
 * passes a buffer at least that large (its contents are not kept). */
size_t dlc_xent_fwd_scratch_bytes(int64_t rows, int64_t C);
/* logp = log_softmax(logits) [rows, C] (may be logits), row_w [rows] = each row's label
 * weight (0 ignored, NaN for a label out of range), loss [1] = the reduced loss (NaN when a
 * label is out of range). Deterministic: fixed-order reductions, no atomics. */
int dlc_launch_xent_fwd(dlc_xent_params p, const float *logits, float *logp, float *row_w,
                        float *loss, int64_t rows, int64_t C, void *scratch, void *stream);
size_t dlc_xent_bwd_scratch_bytes(int64_t rows, int64_t C);
/* dlogits += dloss * d loss / d logits, from the forward's logp and row_w. */
int dlc_launch_xent_bwd(dlc_xent_params p, const float *logp, const float *row_w, float dloss,
                        float *dlogits, int64_t rows, int64_t C, void *scratch, void *stream);

/* MSE over n elements: loss [1] = sum (or mean) of (x - t)^2, deterministically. */
size_t dlc_mse_fwd_scratch_bytes(int64_t n);
int dlc_launch_mse_fwd(const float *x, const float *t, int mean, float *loss, int64_t n,
                       void *scratch, void *stream);
/* dx += k (x - t), k = 2 dloss (/ n for the mean). */
int dlc_launch_mse_bwd(const float *x, const float *t, float k, float *dx, int64_t n,
                       void *stream);

#ifdef __cplusplus
}
#endif
#endif
