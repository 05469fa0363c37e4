/* test_explain.c on the device: test_gpu_explain FIXTURE_DIR. */
#define DLC_EXPLAIN_ON_GPU 1
#include "test_explain.c"
