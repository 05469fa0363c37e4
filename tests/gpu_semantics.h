/* The launcher of tests/gpu_semantics.cu (kernels that check the CUDA semantics the
 * library relies on, with planted bugs), called by test_gpu_semantics.c. */
#ifndef DLC_GPU_SEMANTICS_H
#define DLC_GPU_SEMANTICS_H

#include <stdint.h>

enum {
  SEM_WARP_SUM,         /* a: values (a multiple of 64); y[a/32] = per-warp sums */
  SEM_PARTIAL_SUM,      /* a: lanes taking part (<= 32); y[0] = their sum */
  SEM_BLOCK_SUM,        /* a: values, b: block size; y[0] = the sum */
  SEM_ROW_MAX,          /* a: rows, b: columns; y[a] = row maxima, grid capped at 7 */
  SEM_REVERSE,          /* a: blocks, b: block size; y = x reversed within each block */
  SEM_REVERSE_DYNAMIC,  /* the same through dynamic shared memory */
  SEM_SHFL,             /* y: SEM_SHFL_CASES x 32 ints */
  SEM_DEADLOCK,         /* half a warp shuffles, the other half waits at __syncthreads */
  SEM_ZERO_GRID,        /* a launch of 0 blocks: an invalid configuration */
  SEM_HUGE_BLOCK,       /* 2048 threads per block: an invalid configuration */
  SEM_TOO_MUCH_SHARED   /* 64 KiB of dynamic shared memory without the opt-in */
};
#define SEM_SHFL_CASES (4 * 8 + 4)

#ifdef __cplusplus
extern "C" {
#endif
/* Launches kernel `which` (its wrong version when wrong != 0); returns the cudaError_t of
 * the launch as an int. */
int sem_launch(int which, int wrong, const float *x, float *y, int64_t a, int b, void *stream);
#ifdef __cplusplus
}
#endif

#endif
