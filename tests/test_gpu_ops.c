/* CUDA against the CPU path for the foundation ops: elementwise (aligned and not), random
 * (bit-identical), GEMM (all transposes, batched, TF32 off by default), copies, the
 * caching allocator and out-of-memory errors. Label gpu: exits 77 without a device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

/* A view of n floats at offset `off` inside a guarded buffer of n + 3. */
static dlc_tensor view(dlc_ctx *g, t_guarded *buf, int64_t off, int64_t n) {
  dlc_tensor v;
  dlc_tensor_borrow(g, &v, (float *)buf->t.data + off, DLC_F32, 1, &n, dlc_ctx_device(g));
  return v;
}

static void test_elementwise(dlc_ctx *g, dlc_ctx *c) {
  for (int k = 0; k < t_num_awkward_sizes; k++)
    for (int64_t off = 0; off < 4; off += 3) { /* 16-byte aligned, then not */
      int64_t n = t_awkward_sizes[k], padded = n + 3;
      float *x = malloc((size_t)padded * 4), *y = malloc((size_t)padded * 4);
      float *ref = malloc((size_t)n * 4), *got = malloc((size_t)padded * 4);
      t_fill_uniform(x, padded, 100 + (uint64_t)k, -3, 3);
      t_fill_uniform(y, padded, 200 + (uint64_t)k, -3, 3);
      t_guarded gx, gy;
      T_CHECK(t_guarded_alloc(g, &gx, 1, &padded) && t_guarded_alloc(g, &gy, 1, &padded), "alloc");
      t_guarded_upload(g, &gx, x);
      const char *names[4] = {"fill", "scale", "axpy", "copy"};
      for (int op = 0; op < 4; op++) {
        t_guarded_upload(g, &gy, y);
        dlc_tensor dx = view(g, &gx, off, n), dy = view(g, &gy, off, n), hx, hy;
        memcpy(ref, y + off, (size_t)n * 4);
        dlc_tensor_borrow(c, &hx, x + off, DLC_F32, 1, &n, cpu);
        dlc_tensor_borrow(c, &hy, ref, DLC_F32, 1, &n, cpu);
        switch (op) {
          case 0: T_OK(g, dlc_op_fill(g, &dy, -1.25f)); T_OK(c, dlc_op_fill(c, &hy, -1.25f)); break;
          case 1: T_OK(g, dlc_op_scale(g, 0.3f, &dx, &dy)); T_OK(c, dlc_op_scale(c, 0.3f, &hx, &hy)); break;
          case 2: T_OK(g, dlc_op_axpy(g, 0.3f, &dx, &dy)); T_OK(c, dlc_op_axpy(c, 0.3f, &hx, &hy)); break;
          default: T_OK(g, dlc_op_copy(g, &dx, &dy)); T_OK(c, dlc_op_copy(c, &hx, &hy)); break;
        }
        char what[96];
        snprintf(what, sizeof what, "%s n=%lld off=%lld", names[op], (long long)n, (long long)off);
        t_guarded_download(g, &gy, got, what);
        /* Untouched neighbours keep their values; the view must match the CPU. FMA may
         * change axpy's last bit, nothing else. */
        T_CHECK(off == 0 || got[0] == y[0], "%s: element before the view changed", what);
        T_CHECK(got[off + n] == y[off + n] || off + n >= padded, "%s: element after changed", what);
        t_parity(what, ref, got + off, n, op == 2 ? 1e-13 : 0, op == 2 ? 1e-6 : 0);
      }
      t_guarded_free(g, &gx);
      t_guarded_free(g, &gy);
      free(x); free(y); free(ref); free(got);
    }
}

static void test_random(dlc_ctx *g, dlc_ctx *c) {
  for (int k = 0; k < t_num_awkward_sizes; k++) {
    int64_t n = t_awkward_sizes[k];
    t_guarded gy;
    T_CHECK(t_guarded_alloc(g, &gy, 1, &n), "alloc");
    float *ref = malloc((size_t)n * 4), *got = malloc((size_t)n * 4);
    dlc_tensor hy;
    dlc_tensor_borrow(c, &hy, ref, DLC_F32, 1, &n, cpu);
    for (int normal = 0; normal < 2; normal++) {
      dlc_ctx_set_rng_offset(g, 12345 + (uint64_t)k);
      dlc_ctx_set_rng_offset(c, 12345 + (uint64_t)k);
      if (normal) {
        T_OK(g, dlc_tensor_rand_normal(g, &gy.t, 0.5f, 2.f));
        T_OK(c, dlc_tensor_rand_normal(c, &hy, 0.5f, 2.f));
      } else {
        T_OK(g, dlc_tensor_rand_uniform(g, &gy.t, -2.f, 5.f));
        T_OK(c, dlc_tensor_rand_uniform(c, &hy, -2.f, 5.f));
      }
      char what[64];
      snprintf(what, sizeof what, "rand_%s n=%lld", normal ? "normal" : "uniform", (long long)n);
      t_guarded_download(g, &gy, got, what);
      int64_t diff = 0;
      for (int64_t i = 0; i < n; i++) diff += memcmp(&ref[i], &got[i], 4) != 0;
      printf("%-44s bit mismatches %lld\n", what, (long long)diff);
      T_CHECK(diff == 0, "%s: CPU and GPU random numbers differ in %lld places", what, (long long)diff);
      T_CHECK(dlc_ctx_rng_offset(g) == dlc_ctx_rng_offset(c), "offsets advance alike");
    }
    t_guarded_free(g, &gy);
    free(ref); free(got);
  }
}

static void test_gemm(dlc_ctx *g, dlc_ctx *c) {
  const int64_t dims[][3] = {{1, 1, 1}, {33, 17, 65}, {127, 129, 61}, {300, 257, 1024}};
  for (int d = 0; d < 4; d++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        int64_t M = dims[d][0], N = dims[d][1], K = dims[d][2], batch = d == 1 ? 3 : 1;
        int64_t sa = M * K, sb = K * N, sc = M * N, na = sa * batch, nb = sb * batch, nc = sc * batch;
        float *A = malloc((size_t)na * 4), *B = malloc((size_t)nb * 4), *C = malloc((size_t)nc * 4);
        float *R = malloc((size_t)nc * 4), *G = malloc((size_t)nc * 4);
        t_fill_uniform(A, na, 7, -1, 1);
        t_fill_uniform(B, nb, 8, -1, 1);
        t_fill_uniform(C, nc, 9, -1, 1);
        memcpy(R, C, (size_t)nc * 4);
        t_guarded ga, gb, gc;
        t_guarded_alloc(g, &ga, 1, &na);
        t_guarded_alloc(g, &gb, 1, &nb);
        t_guarded_alloc(g, &gc, 1, &nc);
        t_guarded_upload(g, &ga, A);
        t_guarded_upload(g, &gb, B);
        t_guarded_upload(g, &gc, C);
        int64_t lda = ta ? M : K, ldb = tb ? K : N;
        T_OK(g, dlc_op_gemm_strided_batched(g, dlc_ctx_device(g), ta, tb, M, N, K, 0.75f, ga.t.data,
                                            lda, sa, gb.t.data, ldb, sb, -0.5f, gc.t.data, N, sc, batch));
        T_OK(c, dlc_op_gemm_strided_batched(c, cpu, ta, tb, M, N, K, 0.75f, A, lda, sa, B, ldb, sb,
                                            -0.5f, R, N, sc, batch));
        char what[96];
        snprintf(what, sizeof what, "gemm %c%c %lldx%lldx%lld batch %lld", ta ? 'T' : 'N',
                 tb ? 'T' : 'N', (long long)M, (long long)N, (long long)K, (long long)batch);
        t_guarded_download(g, &gc, G, what);
        /* fp32 accumulation orders differ; TF32 (10-bit mantissa) would give ~1e-6. */
        t_parity(what, R, G, nc, 1e-11, 1e-4);
        t_guarded_free(g, &ga); t_guarded_free(g, &gb); t_guarded_free(g, &gc);
        free(A); free(B); free(C); free(R); free(G);
      }
}

static void test_copies_and_memory(dlc_ctx *g) {
  int64_t n = 1 << 20;
  dlc_tensor h, d1, d2, h2;
  T_OK(g, dlc_tensor_alloc(g, &h, DLC_F32, 1, &n, cpu));
  T_OK(g, dlc_tensor_alloc(g, &h2, DLC_F32, 1, &n, cpu));
  T_OK(g, dlc_tensor_alloc(g, &d1, DLC_F32, 1, &n, dlc_ctx_device(g)));
  T_OK(g, dlc_tensor_alloc(g, &d2, DLC_F32, 1, &n, dlc_ctx_device(g)));
  t_fill_uniform(h.data, n, 77, -1, 1);
  T_OK(g, dlc_tensor_copy(g, &d1, &h));
  T_OK(g, dlc_tensor_copy(g, &d2, &d1));
  T_OK(g, dlc_tensor_copy(g, &h2, &d2));
  T_CHECK(memcmp(h.data, h2.data, h.nbytes) == 0, "host->device->device->host round trip");

  /* The caching allocator: a warm loop of alloc/free performs no cudaMalloc. */
  dlc_tensor_free(g, &d2);
  dlc_memory_stats before = dlc_ctx_memory_stats(g);
  for (int i = 0; i < 100; i++) {
    dlc_tensor a, b;
    int64_t m = n - i * 7; /* nearby sizes reuse the cached block */
    T_OK(g, dlc_tensor_alloc(g, &a, DLC_F32, 1, &m, dlc_ctx_device(g)));
    T_OK(g, dlc_tensor_alloc(g, &b, DLC_F32, 1, &n, dlc_ctx_device(g)));
    dlc_tensor_free(g, &a);
    dlc_tensor_free(g, &b);
  }
  dlc_memory_stats after = dlc_ctx_memory_stats(g);
  printf("allocator: %llu mallocs before the loop, %llu after; %zu bytes cached\n",
         (unsigned long long)before.device_mallocs, (unsigned long long)after.device_mallocs,
         after.bytes_cached);
  T_CHECK(after.device_mallocs - before.device_mallocs <= 1, "warm loop allocates at most once");
  T_CHECK(after.bytes_in_use == before.bytes_in_use, "everything freed went back");

  /* Larger than the GPU: out of memory, with what was asked and what is free. */
  int64_t huge = INT64_C(1) << 46; /* 256 TiB */
  dlc_tensor x;
  T_FAILS(g, DLC_ERR_OUT_OF_MEMORY, "bytes free", dlc_tensor_alloc(g, &x, DLC_F32, 1, &huge, dlc_ctx_device(g)));
  printf("OOM message: %s\n", dlc_ctx_error(g));
  /* ... and the context still works afterwards. */
  T_OK(g, dlc_tensor_fill(g, &d1, 1.f));
  T_OK(g, dlc_ctx_synchronize(g));
  T_OK(g, dlc_ctx_release_cached(g));
  dlc_tensor_free(g, &h); dlc_tensor_free(g, &h2); dlc_tensor_free(g, &d1);
}

int main(void) {
  dlc_ctx *g = t_gpu_ctx_or_skip(2024), *c = t_cpu_ctx(2024);
  printf("build: %s\n", dlc_build_info());
  test_elementwise(g, c);
  test_random(g, c);
  test_gemm(g, c);
  test_copies_and_memory(g);
  T_OK(g, dlc_ctx_synchronize(g));
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_ops");
}
