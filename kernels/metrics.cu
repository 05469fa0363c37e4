/* Training metrics accumulated on the device, so a step needs no host synchronisation:
 * acc[0] += loss * weight (the batch's samples), acc[1] += number of rows whose arg-max is
 * their label, both doubles (counted in integers), and acc[2] marks the first batch whose
 * loss was not finite. One block, rows split over its threads, a fixed-order reduction:
 * deterministic. */
#include "common.cuh"
#include "metrics.h"

__global__ void metrics_kernel(const float *logits, const int32_t *labels, int64_t rows, int64_t C,
                               const float *loss, float weight, int64_t batch, double *acc) {
  __shared__ long long part[DLC_BLOCK];
  long long correct = 0;
  for (int64_t r = threadIdx.x; C > 0 && r < rows; r += blockDim.x) { /* C = 0: loss only */
    const float *z = logits + r * C;
    int64_t best = 0;
    for (int64_t c = 1; c < C; c++)
      if (z[c] > z[best]) best = c;
    correct += best == labels[r];
  }
  part[threadIdx.x] = correct;
  __syncthreads();
  for (int s = DLC_BLOCK / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    acc[0] += (double)loss[0] * weight;
    acc[1] += (double)part[0];
    if (acc[2] == 0 && !isfinite(loss[0])) acc[2] = dlc_metrics_bad_mark(loss[0], batch);
  }
}

/* cm[label * C + argmax] += 1 per row whose label is in [0, C): integer atomics, so the
 * counts are exact and independent of the order. */
__global__ void confusion_kernel(const float *logits, const int32_t *labels, int64_t rows, int64_t C,
                                 unsigned long long *cm) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += stride) {
    int32_t y = labels[r];
    if (y < 0 || y >= C) continue;
    const float *z = logits + r * C;
    int64_t best = 0;
    for (int64_t c = 1; c < C; c++)
      if (z[c] > z[best]) best = c;
    atomicAdd(cm + (int64_t)y * C + best, 1ull);
  }
}

extern "C" int dlc_launch_confusion(const float *logits, const int32_t *labels, int64_t rows, int64_t C,
                                    unsigned long long *cm, void *stream) {
  confusion_kernel<<<dlc_grid_for(rows), DLC_BLOCK, 0, (cudaStream_t)stream>>>(logits, labels, rows, C, cm);
  return (int)cudaGetLastError();
}

/* acc[1] += sum |y - t| over n values (regression's mean absolute error, summed). */
__global__ void abs_err_kernel(const float *y, const float *t, int64_t n, double *acc) {
  __shared__ double part[DLC_BLOCK];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += fabs((double)y[i] - (double)t[i]);
  part[threadIdx.x] = s;
  __syncthreads();
  for (int k = DLC_BLOCK / 2; k > 0; k >>= 1) {
    if ((int)threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) acc[1] += part[0];
}

extern "C" int dlc_launch_abs_err(const float *y, const float *t, int64_t n, double *acc, void *stream) {
  abs_err_kernel<<<1, DLC_BLOCK, 0, (cudaStream_t)stream>>>(y, t, n, acc);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_metrics(const float *logits, const int32_t *labels, int64_t rows, int64_t C,
                                  const float *loss, float weight, int64_t batch, double *acc,
                                  void *stream) {
  metrics_kernel<<<1, DLC_BLOCK, 0, (cudaStream_t)stream>>>(logits, labels, rows, C, loss, weight, batch, acc);
  return (int)cudaGetLastError();
}
