/* Tensors on the CPU, the context's device choice, and the elementwise ops' CPU path. */
#include <math.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static void test_auto_device(void) {
  char why[256] = "";
  int n = -1;
  T_CHECK(dlc_cuda_device_count(&n, why, sizeof why) == DLC_OK && n >= 0, "device count %d", n);
  T_CHECK(dlc_cuda_device_count(NULL, NULL, 0) == DLC_ERR_INVALID_ARG, "a NULL count");
  dlc_ctx *ctx = NULL;
  T_CHECK(dlc_ctx_create(&ctx, NULL) == DLC_OK, "AUTO never fails: %s", dlc_ctx_error(ctx));
  dlc_device d = dlc_ctx_device(ctx);
  if (n == 0) {
    T_CHECK(d.kind == DLC_DEVICE_CPU, "AUTO without a device runs on the CPU");
    T_CHECK(t_contains(dlc_ctx_notice(ctx), "running on the CPU") &&
                t_contains(dlc_ctx_notice(ctx), why),
            "notice \"%s\" explains \"%s\"", dlc_ctx_notice(ctx), why);
    printf("AUTO notice: %s\n", dlc_ctx_notice(ctx));
    /* Asking for CUDA explicitly is an error that says why. */
    dlc_ctx_options o = dlc_ctx_options_default();
    o.device = DLC_DEVICE_CUDA;
    dlc_ctx *c2 = NULL;
    T_CHECK(dlc_ctx_create(&c2, &o) == DLC_ERR_DEVICE && t_contains(dlc_ctx_error(c2), why),
            "CUDA without a device: %s", dlc_ctx_error(c2));
    dlc_ctx_destroy(c2);
  } else if (t_contains(dlc_build_info(), "cuda=EMULATED")) {
    /* The emulated device is usable, and the context says loudly what it is. */
    T_CHECK(d.kind == DLC_DEVICE_CUDA && t_contains(dlc_ctx_notice(ctx), "EMULATED"),
            "AUTO picks the emulated device and says so: \"%s\"", dlc_ctx_notice(ctx));
  } else {
    T_CHECK(d.kind == DLC_DEVICE_CUDA && dlc_ctx_notice(ctx)[0] == '\0', "AUTO picks the GPU");
  }
  T_CHECK(strlen(dlc_build_info()) > 10, "build info");
  printf("build: %s\n", dlc_build_info());
  dlc_ctx_destroy(ctx);
}

static void test_tensor_basics(dlc_ctx *ctx) {
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  int64_t shape[5] = {2, 3, 1, 5, 7};
  dlc_tensor t;
  T_OK(ctx, dlc_tensor_alloc(ctx, &t, DLC_F32, 5, shape, cpu));
  T_CHECK(t.numel == 210 && t.nbytes == 840 && t.owns && t.ndim == 5, "5-d tensor");
  T_CHECK(((uintptr_t)t.data & 63) == 0, "64-byte aligned");
  T_OK(ctx, dlc_tensor_fill(ctx, &t, 2.5f));
  float *p = t.data;
  int all = 1;
  for (int i = 0; i < 210; i++) all &= p[i] == 2.5f;
  T_CHECK(all, "fill");
  int64_t flat[2] = {14, 15};
  T_OK(ctx, dlc_tensor_reshape(ctx, &t, 2, flat));
  T_CHECK(t.ndim == 2 && t.shape[1] == 15 && t.shape[2] == 0, "reshape");

  dlc_tensor s; /* a scalar */
  T_OK(ctx, dlc_tensor_alloc(ctx, &s, DLC_F32, 0, NULL, cpu));
  T_CHECK(s.numel == 1 && s.nbytes == 4, "scalar");
  dlc_tensor_free(ctx, &s);

  float mine[6] = {1, 2, 3, 4, 5, 6}, back[6];
  int64_t s6 = 6;
  dlc_tensor b;
  T_OK(ctx, dlc_tensor_borrow(ctx, &b, mine, DLC_F32, 1, &s6, cpu));
  T_CHECK(!b.owns, "borrowed");
  dlc_tensor c;
  T_OK(ctx, dlc_tensor_alloc(ctx, &c, DLC_F32, 1, &s6, cpu));
  T_OK(ctx, dlc_tensor_copy(ctx, &c, &b));
  T_OK(ctx, dlc_tensor_download(ctx, &c, back, sizeof back));
  T_CHECK(memcmp(mine, back, sizeof mine) == 0, "copy round trip");
  dlc_tensor_free(ctx, &b);
  T_CHECK(mine[5] == 6.f, "freeing a borrowed tensor leaves the memory alone");
  dlc_tensor_free(ctx, &c);
  dlc_tensor_free(ctx, &t);
  dlc_memory_stats ms = dlc_ctx_memory_stats(ctx);
  T_CHECK(ms.device_mallocs == 0 && ms.bytes_in_use == 0, "no device memory on a CPU context");
}

static void test_elementwise_cpu(dlc_ctx *ctx) {
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  for (int k = 0; k < t_num_awkward_sizes; k++) {
    int64_t n = t_awkward_sizes[k];
    dlc_tensor x, y;
    T_OK(ctx, dlc_tensor_alloc(ctx, &x, DLC_F32, 1, &n, cpu));
    T_OK(ctx, dlc_tensor_alloc(ctx, &y, DLC_F32, 1, &n, cpu));
    float *xp = x.data, *yp = y.data;
    t_fill_uniform(xp, n, 10 + (uint64_t)k, -2.f, 2.f);
    t_fill_uniform(yp, n, 20 + (uint64_t)k, -2.f, 2.f);
    float y0 = yp[n - 1];
    T_OK(ctx, dlc_op_axpy(ctx, -0.5f, &x, &y));
    T_CHECK(yp[n - 1] == -0.5f * xp[n - 1] + y0, "axpy n=%lld", (long long)n);
    T_OK(ctx, dlc_op_scale(ctx, 3.f, &x, &y));
    int ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= yp[i] == 3.f * xp[i];
    T_CHECK(ok, "scale n=%lld", (long long)n);
    T_OK(ctx, dlc_op_scale(ctx, 0.25f, &y, &y));
    ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= yp[i] == 0.75f * xp[i];
    T_CHECK(ok, "in-place scale n=%lld", (long long)n);
    T_OK(ctx, dlc_op_copy(ctx, &x, &y));
    T_CHECK(memcmp(xp, yp, (size_t)n * 4) == 0, "copy n=%lld", (long long)n);
    dlc_tensor_free(ctx, &x);
    dlc_tensor_free(ctx, &y);
  }
  /* NaN and Inf pass through as IEEE arithmetic says; nothing is clamped. */
  float xv[3] = {NAN, INFINITY, -1.f}, yv[3] = {1.f, 1.f, INFINITY};
  int64_t three = 3;
  dlc_tensor x, y;
  T_OK(ctx, dlc_tensor_borrow(ctx, &x, xv, DLC_F32, 1, &three, cpu));
  T_OK(ctx, dlc_tensor_borrow(ctx, &y, yv, DLC_F32, 1, &three, cpu));
  T_OK(ctx, dlc_op_axpy(ctx, 2.f, &x, &y));
  T_CHECK(isnan(yv[0]) && isinf(yv[1]) && yv[1] > 0 && isinf(yv[2]), "non-finite propagate");
  int64_t two = 2;
  dlc_tensor z;
  T_OK(ctx, dlc_tensor_borrow(ctx, &z, yv, DLC_F32, 1, &two, cpu));
  T_FAILS(ctx, DLC_ERR_SHAPE, "differ in element count", dlc_op_axpy(ctx, 1.f, &x, &z));
}

int main(void) {
  test_auto_device();
  dlc_ctx *ctx = t_cpu_ctx(3);
  test_tensor_basics(ctx);
  test_elementwise_cpu(ctx);
  dlc_ctx_destroy(ctx);
  return t_finish("test_tensor");
}
