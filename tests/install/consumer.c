/* A user's program: only the public headers, linked against the installed library. */
#include <dlcuda.h>
#include <dlcuda_ops.h>
#include <stdio.h>

int main(void) {
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = DLC_DEVICE_CPU;
  dlc_ctx *ctx = NULL;
  if (dlc_ctx_create(&ctx, &o) != DLC_OK) return 1;
  int64_t shape[2] = {3, 4};
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  dlc_tensor t, p;
  float host[12];
  int ok = dlc_tensor_alloc(ctx, &t, DLC_F32, 2, shape, cpu) == DLC_OK &&
           dlc_tensor_fill(ctx, &t, 1.5f) == DLC_OK &&
           dlc_tensor_download(ctx, &t, host, sizeof host) == DLC_OK && host[11] == 1.5f;
  /* An op of dlcuda_ops.h: softmax of equal logits is 1/4 everywhere. */
  ok = ok && dlc_tensor_alloc(ctx, &p, DLC_F32, 2, shape, cpu) == DLC_OK &&
       dlc_op_softmax_fwd(ctx, 0, &t, &p) == DLC_OK &&
       dlc_tensor_download(ctx, &p, host, sizeof host) == DLC_OK && host[5] > 0.2499f && host[5] < 0.2501f;
  printf("consumer: %s, %s\n", ok ? "ok" : "FAILED", dlc_build_info());
  dlc_tensor_free(ctx, &t);
  dlc_tensor_free(ctx, &p);
  dlc_ctx_destroy(ctx);
  return ok ? 0 : 1;
}
