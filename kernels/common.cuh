/* Shared by the .cu files: launch geometry. */
#ifndef DLC_COMMON_CUH
#define DLC_COMMON_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#define DLC_BLOCK 256
/* Grid-stride kernels launch at most this many blocks: enough to fill any current GPU
 * several times over (an H200 holds 132 SMs x 8 blocks of 256). */
#define DLC_MAX_BLOCKS 8192

static inline unsigned dlc_grid_for(int64_t work_items) {
  int64_t b = (work_items + DLC_BLOCK - 1) / DLC_BLOCK;
  if (b < 1) b = 1;
  if (b > DLC_MAX_BLOCKS) b = DLC_MAX_BLOCKS;
  return (unsigned)b;
}

#endif
