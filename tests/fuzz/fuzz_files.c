/* libFuzzer targets for the readers that take a file path: .npy (DLC_FUZZ_NPY), IDX
 * (DLC_FUZZ_IDX), CSV data sets (DLC_FUZZ_CSV) and model files (DLC_FUZZ_CFG). The input
 * bytes are written to a scratch file, then read: any bytes either load, or are refused with
 * an error message and nothing allocated; never a crash, a leak or a read out of bounds.
 * Built as fuzzers where the compiler has -fsanitize=fuzzer (clang); test_fuzz_replay_*
 * runs the committed corpora through them in every build. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlcuda.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static dlc_ctx *ctx;
  static char path[64];
  if (!ctx) {
    dlc_ctx_options o = dlc_ctx_options_default();
    o.device = DLC_DEVICE_CPU;
    o.threads = 1;
    /* A few bytes can describe a network of 10^9 parameters, which the library rightly
     * builds on a machine that has the memory; past libFuzzer's 2 GB malloc limit that reads
     * as a crash. So allocations here are capped and larger ones refused with an error. */
    o.host_alloc_limit = (size_t)128 << 20;
    if (dlc_ctx_create(&ctx, &o) != DLC_OK) abort();
    snprintf(path, sizeof path, "/tmp/dlc_fuzz_%ld%s", (long)getpid(),
#if defined(DLC_FUZZ_CSV)
             ".csv"
#elif defined(DLC_FUZZ_CFG)
             ".cfg"
#else
             ".bin"
#endif
    );
  }
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
  dlc_ctx_clear_error(ctx);
  dlc_status s;
#if defined(DLC_FUZZ_NPY) || defined(DLC_FUZZ_IDX)
  dlc_tensor t;
#if defined(DLC_FUZZ_NPY)
  s = dlc_npy_load(ctx, path, &t);
#else
  s = dlc_idx_load(ctx, path, &t);
#endif
  if (s == DLC_OK) {
    volatile unsigned char sink = 0; /* every byte the tensor claims is readable */
    for (size_t i = 0; i < t.nbytes; i++) sink ^= ((const unsigned char *)t.data)[i];
    (void)sink;
    dlc_tensor_free(ctx, &t);
  } else if (t.data) {
    abort(); /* a refusal leaves nothing allocated */
  }
#elif defined(DLC_FUZZ_CSV)
  dlc_dataset ds;
  s = dlc_dataset_load_csv(ctx, path, -1, &ds);
  if (s == DLC_OK) {
    if (ds.count < 1 || !ds.features || !ds.labels) abort();
    dlc_dataset_free(&ds);
  } else if (ds.features || ds.labels) {
    abort();
  }
#elif defined(DLC_FUZZ_CFG)
  dlc_net *net = NULL;
  s = dlc_model_load(ctx, path, 4, &net, NULL); /* batch 4 keeps accepted networks small */
  if (s == DLC_OK)
    dlc_net_destroy(net);
  else if (net)
    abort();
#else
#error "define one of DLC_FUZZ_NPY, DLC_FUZZ_IDX, DLC_FUZZ_CSV, DLC_FUZZ_CFG"
#endif
  if (s != DLC_OK && !dlc_ctx_error(ctx)[0]) abort(); /* a refusal says why */
  return 0;
}
