/* Inference sessions (dlc_infer_*): the outputs of the network's own evaluation forward,
 * for batches of 1 to max, with nothing allocated per call; bad arguments refused. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

  /* dlc_net_predict: any number of samples, in the network's batches (8, 8, 3 here), the
   * same numbers as sessions run on those batches. */
  float *x19 = malloc(sizeof(float) * (size_t)(19 * per_in)), *y19 = malloc(sizeof(float) * (size_t)(19 * per_out));
  float *r19 = malloc(sizeof(float) * (size_t)(19 * per_out));
  t_fill_uniform(x19, 19 * per_in, 6, -1, 1);
  T_OK(ctx, dlc_net_predict(net, x19, 19, y19));
  T_OK(ctx, dlc_infer_create(net, 8, &s));
  for (int64_t at = 0; at < 19; at += 8)
    T_OK(ctx, dlc_infer_run(s, x19 + at * per_in, 19 - at < 8 ? 19 - at : 8, r19 + at * per_out));
  dlc_infer_destroy(s);
  t_parity("predict 19 samples vs sessions of 8, 8, 3", r19, y19, 19 * per_out, 0, 0);
  T_OK(ctx, dlc_net_predict(net, x19, 0, y19));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "-1 samples", dlc_net_predict(net, x19, -1, y19));
  free(x19);
  free(y19);
  free(r19);

  /* dlc_input_load: uint8 pixels normalised as the loader normalises them (the same bits),
   * float32 as it is, and values that are not whole samples refused naming the file. */
  int64_t pshape[4] = {3, 1, 28, 28}, sample[3] = {1, 28, 28};
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  dlc_tensor px;
  T_OK(ctx, dlc_tensor_alloc(ctx, &px, DLC_U8, 4, pshape, cpu));
  for (int64_t i = 0; i < px.numel; i++) ((uint8_t *)px.data)[i] = (uint8_t)((i * 37 + 11) % 256);
  char path[256];
  snprintf(path, sizeof path, "%s/dlc_test_input_%d.npy", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  T_OK(ctx, dlc_npy_save(ctx, path, &px));
  dlc_loader_options lo = dlc_loader_options_default();
  lo.normalize = 1;
  lo.mean[0] = 0.2860f;
  lo.std[0] = 0.3530f;
  lo.flip = 1; /* augmentation the evaluation options turn off */
  lo.batch = 3;
  dlc_loader_options eo = dlc_loader_options_eval(&lo);
  T_CHECK(!eo.shuffle && !eo.flip && eo.normalize && eo.mean[0] == lo.mean[0] && eo.batch == 3, "evaluation options");
  dlc_tensor got;
  T_OK(ctx, dlc_input_load(ctx, path, &lo, 3, sample, &got));
  int32_t labels[3] = {0, 1, 2};
  dlc_dataset ds = {3, 1, 28, 28, 3, px.data, NULL, labels, NULL, 0, "pixels"};
  dlc_loader *ld = NULL;
  dlc_tensor bx, by;
  int64_t bn = 0;
  T_OK(ctx, dlc_loader_create(ctx, &ds, &eo, &ld));
  T_OK(ctx, dlc_loader_start(ld, 0, 0));
  T_OK(ctx, dlc_loader_next(ld, &bx, &by, &bn));
  T_CHECK(got.ndim == 4 && got.shape[0] == 3 && got.dtype == DLC_F32 && bn == 3, "input shape");
  if (got.numel == bx.numel) t_parity("input_load vs the loader's normalisation", bx.data, got.data, got.numel, 0, 0);
  dlc_loader_destroy(ld);
  dlc_tensor_free(ctx, &got);
  int64_t odd[1] = {785};
  dlc_tensor bad;
  T_OK(ctx, dlc_tensor_alloc(ctx, &bad, DLC_F32, 1, odd, cpu));
  T_OK(ctx, dlc_tensor_fill(ctx, &bad, 0.5f));
  T_OK(ctx, dlc_npy_save(ctx, path, &bad));
  T_FAILS(ctx, DLC_ERR_SHAPE, "785 values do not split into samples of 784", dlc_input_load(ctx, path, &lo, 3, sample, &got));
  dlc_tensor_free(ctx, &bad);
  dlc_tensor_free(ctx, &px);
  remove(path);

  dlc_net_destroy(net);
  free(x);
  free(y);
  free(ref);
  dlc_ctx_destroy(ctx);
  return t_finish("test_infer");
}
