/* libFuzzer target for the safetensors parser (and the JSON reader under it): any bytes
 * either parse into a file whose every tensor and metadata entry can be read, or are
 * refused with an error; never a crash, a leak or a read out of bounds. Built as a fuzzer
 * where the compiler has -fsanitize=fuzzer (clang); test_fuzz_replay runs the committed
 * corpus through it everywhere else. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlcuda.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static dlc_ctx *ctx;
  if (!ctx) {
    dlc_ctx_options o = dlc_ctx_options_default();
    o.device = DLC_DEVICE_CPU;
    o.threads = 1;
    if (dlc_ctx_create(&ctx, &o) != DLC_OK) abort();
  }
  dlc_safetensors *st = NULL;
  if (dlc_safetensors_parse(ctx, data, size, &st) != DLC_OK) {
    if (st || !dlc_ctx_error(ctx)[0]) abort(); /* a refusal leaves no handle and says why */
    return 0;
  }
  uint64_t total = 0;
  for (int k = 0; k < dlc_safetensors_count(st); k++) {
    dlc_safetensors_tensor_info info;
    if (dlc_safetensors_info(st, k, &info) != DLC_OK) abort();
    if (dlc_safetensors_find(st, info.name) != k) abort(); /* names are unique */
    total += info.nbytes;
    dlc_tensor t;
    if (dlc_safetensors_load(st, k, &t) == DLC_OK) {
      if (t.nbytes != info.nbytes) abort();
      volatile unsigned char sink = 0;
      for (size_t i = 0; i < t.nbytes; i++) sink ^= ((const unsigned char *)t.data)[i];
      (void)sink;
      dlc_tensor_free(ctx, &t);
    }
  }
  if (total > size) abort(); /* the tensors tile the data, which lies inside the input */
  for (int i = 0; i < dlc_safetensors_metadata_count(st); i++) {
    const char *key, *value;
    if (dlc_safetensors_metadata_at(st, i, &key, &value) != DLC_OK) abort();
    if (strlen(key) > size || strlen(value) > size) abort();
  }
  dlc_safetensors_destroy(st);
  return 0;
}
