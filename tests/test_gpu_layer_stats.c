/* test_layer_stats.c on the device (or the emulated one): the statistics from kernels/stats.cu. */
#define DLC_LAYER_STATS_ON_GPU 1
#include "test_layer_stats.c"
