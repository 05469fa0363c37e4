/* Inference sessions (dlc_infer_*): the outputs of the network's own evaluation forward,
 * for batches of 1 to max, with nothing allocated per call; bad arguments refused. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(3);
  dlc_net *net = NULL;
  dlc_train_config cfg;
  T_OK(ctx, dlc_model_load(ctx, DLC_SOURCE_DIR "/models/lenet5.cfg", 8, &net, &cfg));
  if (!net) return t_finish("test_infer");
  int64_t in[DLC_MAX_DIMS], outs[DLC_MAX_DIMS], per_in = 1, per_out = 1;
  for (int i = 0, nd = dlc_net_input_shape(net, in); i < nd; i++) per_in *= in[i];
  for (int i = 0, nd = dlc_net_output_shape(net, outs); i < nd; i++) per_out *= outs[i];
  float *x = malloc(sizeof(float) * (size_t)(8 * per_in)), *y = malloc(sizeof(float) * (size_t)(8 * per_out));
  float *ref = malloc(sizeof(float) * (size_t)(8 * per_out));
  t_fill_uniform(x, 8 * per_in, 5, -1, 1);
  dlc_infer *s = NULL;
  T_OK(ctx, dlc_infer_create(net, 8, &s));
  T_CHECK(dlc_infer_output_values(s) == per_out, "output values %lld", (long long)dlc_infer_output_values(s));
  for (int64_t n = 1; n <= 8; n += 7) {
    /* The reference: the network's own forward in evaluation mode on the same batch. */
    int64_t shape[DLC_MAX_DIMS] = {n};
    memcpy(shape + 1, in, sizeof(int64_t) * 3);
    dlc_tensor xt, yt;
    dlc_device cpu = {DLC_DEVICE_CPU, 0};
    T_OK(ctx, dlc_tensor_borrow(ctx, &xt, x, DLC_F32, 4, shape, cpu));
    T_OK(ctx, dlc_net_forward(net, &xt, 0, &yt));
    T_OK(ctx, dlc_tensor_download(ctx, &yt, ref, sizeof(float) * (size_t)(n * per_out)));
    T_OK(ctx, dlc_infer_run(s, x, n, y));
    char what[64];
    snprintf(what, sizeof what, "infer batch %lld vs forward", (long long)n);
    t_parity(what, ref, y, n * per_out, 0, 0);
  }
  /* Warm: a thousand calls change no allocation. */
  dlc_memory_stats before = dlc_ctx_memory_stats(ctx);
  for (int k = 0; k < 1000; k++) T_OK(ctx, dlc_infer_run(s, x, 1 + k % 8, y));
  dlc_memory_stats after = dlc_ctx_memory_stats(ctx);
  T_CHECK(after.bytes_in_use == before.bytes_in_use && after.device_mallocs == before.device_mallocs &&
              after.peak_bytes_in_use == before.peak_bytes_in_use,
          "1000 calls allocated nothing (in use %zu -> %zu, peak %zu -> %zu)", before.bytes_in_use, after.bytes_in_use,
          before.peak_bytes_in_use, after.peak_bytes_in_use);
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "the session takes 1 to 8", dlc_infer_run(s, x, 9, y));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "the session takes 1 to 8", dlc_infer_run(s, x, 0, y));
  dlc_infer *big = NULL;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "built for 8", dlc_infer_create(net, 9, &big));
  dlc_infer_destroy(s);
  dlc_net_destroy(net);
  free(x);
  free(y);
  free(ref);
  dlc_ctx_destroy(ctx);
  return t_finish("test_infer");
}
