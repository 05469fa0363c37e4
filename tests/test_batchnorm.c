/* Batch normalisation against nn.BatchNorm1d/2d (training output, running statistics,
 * gradients, evaluation output), finite-difference gradients, bad shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "../kernels/batchnorm.h"
#include "../kernels/fastdiv.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

static dlc_tensor zeros_like(dlc_ctx *ctx, const dlc_tensor *t) {
  dlc_tensor z;
  dlc_tensor_alloc(ctx, &z, DLC_F32, t->ndim, t->shape, cpu);
  dlc_op_fill(ctx, &z, 0.f);
  return z;
}

static void fixture_case(dlc_ctx *ctx, const char *tag) {
  const char *names[] = {"x", "gamma", "beta", "rm0", "rv0", "y", "dy", "dx", "dgamma", "dbeta", "rm1", "rv1", "yeval"};
  dlc_tensor t[13];
  for (int k = 0; k < 13; k++) {
    char p[96];
    snprintf(p, sizeof p, "batchnorm/%s_%s.npy", tag, names[k]);
    if (!t_fixture(ctx, p, &t[k])) return;
  }
  dlc_tensor y = zeros_like(ctx, &t[0]), dx = zeros_like(ctx, &t[0]), dg = zeros_like(ctx, &t[1]),
             db = zeros_like(ctx, &t[1]), sm = zeros_like(ctx, &t[1]), si = zeros_like(ctx, &t[1]);
  int64_t two_c = 2 * t[1].numel;
  dlc_tensor scratch;
  dlc_tensor_alloc(ctx, &scratch, DLC_F32, 1, &two_c, cpu);
  T_OK(ctx, dlc_op_batchnorm_fwd(ctx, &t[0], &t[1], &t[2], &t[3], &t[4], 0.1f, 1e-5f, 1, &sm, &si, &y, NULL));
  char w[96];
  snprintf(w, sizeof w, "%s train y", tag); t_parity(w, t[5].data, y.data, y.numel, 1e-12, 1e-5);
  snprintf(w, sizeof w, "%s running_mean", tag); t_parity(w, t[10].data, t[3].data, t[3].numel, 1e-12, 1e-6);
  snprintf(w, sizeof w, "%s running_var", tag); t_parity(w, t[11].data, t[4].data, t[4].numel, 1e-12, 1e-5);
  T_OK(ctx, dlc_op_batchnorm_bwd(ctx, &t[0], &t[1], &sm, &si, &t[6], &dx, &dg, &db, &scratch));
  snprintf(w, sizeof w, "%s dx", tag); t_parity(w, t[7].data, dx.data, dx.numel, 1e-11, 1e-5);
  snprintf(w, sizeof w, "%s dgamma", tag); t_parity(w, t[8].data, dg.data, dg.numel, 1e-11, 1e-4);
  snprintf(w, sizeof w, "%s dbeta", tag); t_parity(w, t[9].data, db.data, db.numel, 1e-11, 1e-4);
  T_OK(ctx, dlc_op_batchnorm_fwd(ctx, &t[0], &t[1], &t[2], &t[3], &t[4], 0.1f, 1e-5f, 0, &sm, &si, &y, NULL));
  snprintf(w, sizeof w, "%s eval y", tag); t_parity(w, t[12].data, y.data, y.numel, 1e-12, 1e-5);
  dlc_tensor *all[] = {&y, &dx, &dg, &db, &sm, &si, &scratch};
  for (int k = 0; k < 7; k++) dlc_tensor_free(ctx, all[k]);
  for (int k = 0; k < 13; k++) dlc_tensor_free(ctx, &t[k]);
}

/* loss = sum(w .* bn(x)) in training mode (running statistics reset each time). */
typedef struct bn_case {
  dlc_ctx *ctx;
  dlc_tensor x, g, b, rm, rv, sm, si, y, w;
} bn_case;

static double bn_loss(void *u) {
  bn_case *c = u;
  dlc_op_batchnorm_fwd(c->ctx, &c->x, &c->g, &c->b, &c->rm, &c->rv, 0.1f, 1e-5f, 1, &c->sm, &c->si, &c->y, NULL);
  double s = 0;
  for (int64_t i = 0; i < c->y.numel; i++) s += (double)((float *)c->w.data)[i] * ((float *)c->y.data)[i];
  return s;
}

static void gradcheck(dlc_ctx *ctx) {
  int64_t xs[4] = {3, 2, 3, 4}, cs = 2;
  bn_case c;
  c.ctx = ctx;
  dlc_tensor *t4[] = {&c.x, &c.y, &c.w};
  dlc_tensor *t1[] = {&c.g, &c.b, &c.rm, &c.rv, &c.sm, &c.si};
  for (int k = 0; k < 3; k++) dlc_tensor_alloc(ctx, t4[k], DLC_F32, 4, xs, cpu);
  for (int k = 0; k < 6; k++) dlc_tensor_alloc(ctx, t1[k], DLC_F32, 1, &cs, cpu);
  t_fill_uniform(c.x.data, c.x.numel, 1, -2, 2);
  t_fill_uniform(c.w.data, c.w.numel, 2, -1, 1);
  t_fill_uniform(c.g.data, 2, 3, 0.5f, 1.5f);
  t_fill_uniform(c.b.data, 2, 4, -1, 1);
  dlc_op_fill(ctx, &c.rm, 0.f);
  dlc_op_fill(ctx, &c.rv, 1.f);
  dlc_tensor dx = zeros_like(ctx, &c.x), dg = zeros_like(ctx, &c.g), db = zeros_like(ctx, &c.g), scratch;
  int64_t four = 4;
  dlc_tensor_alloc(ctx, &scratch, DLC_F32, 1, &four, cpu);
  bn_loss(&c);
  T_OK(ctx, dlc_op_batchnorm_bwd(ctx, &c.x, &c.g, &c.sm, &c.si, &c.w, &dx, &dg, &db, &scratch));
  t_gradcheck("batchnorm2d dx", c.x.data, dx.data, c.x.numel, bn_loss, &c, 1e-2, 3e-3, 2e-4, 72);
  t_gradcheck("batchnorm2d dgamma", c.g.data, dg.data, 2, bn_loss, &c, 1e-2, 2e-3, 1e-4, 2);
  t_gradcheck("batchnorm2d dbeta", c.b.data, db.data, 2, bn_loss, &c, 1e-2, 2e-3, 1e-4, 2);
  int64_t bad[2] = {3, 5};
  dlc_tensor xb;
  dlc_tensor_alloc(ctx, &xb, DLC_F32, 2, bad, cpu);
  T_FAILS(ctx, DLC_ERR_SHAPE, "over 2 channels", dlc_op_batchnorm_fwd(ctx, &xb, &c.g, &c.b, &c.rm, &c.rv, 0.1f, 1e-5f, 1, &c.sm, &c.si, &xb, NULL));
  int64_t one[2] = {1, 2};
  dlc_tensor x1;
  dlc_tensor_alloc(ctx, &x1, DLC_F32, 2, one, cpu);
  T_FAILS(ctx, DLC_ERR_SHAPE, "more than one value", dlc_op_batchnorm_fwd(ctx, &x1, &c.g, &c.b, &c.rm, &c.rv, 0.1f, 1e-5f, 1, &c.sm, &c.si, &x1, NULL));
  dlc_tensor *all[] = {&c.x, &c.y, &c.w, &c.g, &c.b, &c.rm, &c.rv, &c.sm, &c.si, &dx, &dg, &db, &scratch, &xb, &x1};
  for (int k = 0; k < 15; k++) dlc_tensor_free(ctx, all[k]);
}

/* kernels/fastdiv.h: n / d by multiply-high for every n, d in [0, 2^63) x [1, 2^63): the
 * divisors and dividends where an off-by-one would show (powers of two and their
 * neighbours, the largest values, multiples of d and their neighbours), then random ones
 * of every bit length. */
static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void fastdiv_case(uint64_t n, uint64_t d, long *bad) {
  uint64_t q = dlc_fastdiv_q(n, dlc_fastdiv_make(d));
  if (q != n / d && (*bad)++ < 5)
    fprintf(stderr, "fastdiv: %llu / %llu gave %llu, not %llu\n", (unsigned long long)n, (unsigned long long)d,
            (unsigned long long)q, (unsigned long long)(n / d));
}

static void fastdiv_check(void) {
  const uint64_t top = (1ull << 63) - 1;
  uint64_t ds[200];
  int nd = 0;
  for (int b = 0; b < 63; b++)
    for (int o = -1; o <= 1; o++) {
      uint64_t d = (1ull << b) + (uint64_t)(int64_t)o;
      if (d >= 1 && d <= top) ds[nd++] = d;
    }
  ds[nd++] = top;
  ds[nd++] = 3 * 7 * 11 * 13;
  long bad = 0, cases = 0;
  for (int k = 0; k < nd; k++) {
    uint64_t d = ds[k], ns[] = {0, 1, d - 1, d, d + 1, 2 * d - 1, 2 * d, top, top - 1, top / d * d, top / d * d - 1,
                                (1ull << 31) - 1, 1ull << 31, (1ull << 32) + 1};
    for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++, cases++)
      if (ns[j] <= top) fastdiv_case(ns[j], d, &bad);
  }
  uint64_t s = 88172645463325252ull;
  for (int k = 0; k < 200000; k++, cases++) {
    uint64_t d = xorshift(&s) >> (1 + xorshift(&s) % 63), n = xorshift(&s) >> (1 + xorshift(&s) % 63);
    if (d == 0) d = 1;
    fastdiv_case(n, d, &bad);
  }
  T_CHECK(bad == 0, "fastdiv: %ld of %ld quotients wrong", bad, cases);
}

/* The split of each channel's values among blocks: at most DLC_BN_MAX_SPLIT chunks, at
 * least 4096 values each unless there is one, and the scratch bound holds. */
static void splits_check(void) {
  const int64_t shapes[][3] = {{2, 3, 1}, {128, 32, 784}, {64, 3, 400}, {20000, 5, 1}, {1, 1, 2}, {4096, 1, 1}, {256, 2048, 49}};
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    int64_t N = shapes[k][0], C = shapes[k][1], S = shapes[k][2];
    int P = dlc_bn_splits(N, C, S);
    T_CHECK(P >= 1 && P <= DLC_BN_MAX_SPLIT && (P == 1 || N * S / P >= 4096) && 2 * C + 2 * C * P <= dlc_bn_scratch_floats(C),
            "bn splits of [%lld, %lld, %lld]: %d", (long long)N, (long long)C, (long long)S, P);
  }
  T_CHECK(dlc_bn_splits(128, 32, 784) >= 8, "a 32-channel layer of 100352 values per channel uses %d blocks per channel",
          dlc_bn_splits(128, 32, 784));
}

int main(void) {
  fastdiv_check();
  splits_check();
  dlc_ctx *ctx = t_cpu_ctx(1);
  fixture_case(ctx, "bn2d");
  fixture_case(ctx, "bn1d");
  gradcheck(ctx);
  dlc_ctx_destroy(ctx);
  return t_finish("test_batchnorm");
}
