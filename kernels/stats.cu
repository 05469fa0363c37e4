/* Layer statistics (stats.h): per-block partial sums in double over a fixed grid, then one
 * block adding them in a fixed tree, so the result does not depend on timing. */
#include "common.cuh"
#include "stats.h"

#define STATS_THREADS 256

/* Sums v over the block in a fixed tree; thread 0 returns the total. */
__device__ static double block_sum(double v, double *s) {
  s[threadIdx.x] = v;
  __syncthreads();
  for (int w = STATS_THREADS / 2; w > 0; w >>= 1) {
    if ((int)threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
    __syncthreads();
  }
  double t = s[0];
  __syncthreads(); /* s is reused by the next sum */
  return t;
}

/* work[3b .. 3b+2] = block b's (sum, sum of squares, saturated count). */
__global__ void act_stats_parts_kernel(const float *x, int64_t n, float lo, float hi, double *work) {
  __shared__ double s[STATS_THREADS];
  double sum = 0, sq = 0, sat = 0;
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float v = x[i];
    sum += v;
    sq += (double)v * v;
    sat += dlc_stats_saturated(v, lo, hi);
  }
  sum = block_sum(sum, s);
  sq = block_sum(sq, s);
  sat = block_sum(sat, s);
  if (threadIdx.x == 0) {
    work[3 * blockIdx.x] = sum;
    work[3 * blockIdx.x + 1] = sq;
    work[3 * blockIdx.x + 2] = sat;
  }
}

/* acc[0..2] += the sums of the partials, acc[3] += n. One block of DLC_STATS_PARTS threads. */
__global__ void act_stats_finish_kernel(const double *work, int64_t n, double *acc) {
  __shared__ double s[STATS_THREADS];
  for (int k = 0; k < 3; k++) {
    double t = block_sum(work[3 * threadIdx.x + k], s);
    if (threadIdx.x == 0) acc[k] += t;
  }
  if (threadIdx.x == 0) acc[3] += (double)n;
}

__global__ void units_alive_kernel(const float *x, int64_t rows, int64_t units, float *alive) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < units; j += stride) {
    if (alive[j] != 0.f) continue;
    for (int64_t r = 0; r < rows; r++)
      if (x[r * units + j] > 0.f) {
        alive[j] = 1.f;
        break;
      }
  }
}

__global__ void stats_sumsq_kernel(const float *x, int64_t n, double *work, int accumulate) {
  __shared__ double s[STATS_THREADS];
  double sq = 0;
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float v = x[i];
    sq += (double)v * v;
  }
  sq = block_sum(sq, s);
  if (threadIdx.x == 0) work[blockIdx.x] = accumulate ? work[blockIdx.x] + sq : sq;
}

__global__ void stats_norm_kernel(const double *work, double *acc, int add) {
  __shared__ double s[STATS_THREADS];
  double t = block_sum(work[threadIdx.x], s);
  if (threadIdx.x == 0) acc[0] = (add ? acc[0] : 0.0) + sqrt(t);
}

static_assert(DLC_STATS_PARTS == STATS_THREADS, "the finishing block has a thread per partial");

extern "C" int dlc_launch_act_stats(const float *x, int64_t n, float lo, float hi, double *work, double *acc,
                                    void *stream) {
  cudaStream_t st = (cudaStream_t)stream;
  act_stats_parts_kernel<<<DLC_STATS_PARTS, STATS_THREADS, 0, st>>>(x, n, lo, hi, work);
  act_stats_finish_kernel<<<1, DLC_STATS_PARTS, 0, st>>>(work, n, acc);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_units_alive(const float *x, int64_t rows, int64_t units, float *alive, void *stream) {
  if (units <= 0) return 0;
  units_alive_kernel<<<dlc_grid_for(units), DLC_BLOCK, 0, (cudaStream_t)stream>>>(x, rows, units, alive);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_stats_sumsq(const float *x, int64_t n, double *work, int accumulate, void *stream) {
  stats_sumsq_kernel<<<DLC_STATS_PARTS, STATS_THREADS, 0, (cudaStream_t)stream>>>(x, n, work, accumulate);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_stats_norm(const double *work, double *acc, int add, void *stream) {
  stats_norm_kernel<<<1, DLC_STATS_PARTS, 0, (cudaStream_t)stream>>>(work, acc, add);
  return (int)cudaGetLastError();
}
