/* The counter-based generator: Philox known answers, position independence, the
 * portable log/sin/cos against libm, and the moments of its distributions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/philox.h"
#include "testutil.h"

static void test_known_answers(void) {
  /* Random123's kat_vectors for philox4x32 with 10 rounds. */
  static const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
       0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
       0x94fdcceb, 0x5001e420, 0x24126ea1}};
  for (int k = 0; k < 3; k++) {
    uint32_t out[4];
    dlc_philox4x32_10(kat[k], kat[k][4], kat[k][5], out);
    T_CHECK(memcmp(out, &kat[k][6], sizeof out) == 0, "KAT %d: %08x %08x %08x %08x", k, out[0],
            out[1], out[2], out[3]);
  }
}

static void test_portable_math(void) {
  double worst_log = 0, worst_trig = 0;
  for (int i = 1; i <= 200000; i++) {
    float u = (float)i / 200001.0f;
    double l = log((double)u), lp = dlc_portable_logf(u);
    worst_log = fmax(worst_log, fabs(lp - l) / fmax(1.0, fabs(l)));
    float s, c;
    dlc_portable_sincos2pi(u, &s, &c);
    double a = 6.283185307179586 * (double)u;
    worst_trig = fmax(worst_trig, fmax(fabs(s - sin(a)), fabs(c - cos(a))));
  }
  printf("portable log rel err %.3g, sin/cos abs err %.3g\n", worst_log, worst_trig);
  T_CHECK(worst_log < 4e-7, "portable log error %g", worst_log);
  T_CHECK(worst_trig < 4e-7, "portable sin/cos error %g", worst_trig);
  float tiny = 1.0f / 16777216.0f; /* the smallest u1 Box-Muller sees */
  T_CHECK(fabs(dlc_portable_logf(tiny) - log((double)tiny)) < 1e-5, "log(2^-24)");
  T_CHECK(dlc_portable_logf(1.0f) == 0.0f, "log(1) == 0");
}

static void moments(const float *x, int64_t n, double *mean, double *var) {
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  *mean = s / n;
  for (int64_t i = 0; i < n; i++) s2 += (x[i] - *mean) * (x[i] - *mean);
  *var = s2 / (n - 1);
}

static void test_tensor_random(void) {
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  int64_t n = 1 << 20;
  dlc_ctx *a = t_cpu_ctx(42), *b = t_cpu_ctx(42), *c = t_cpu_ctx(43);
  dlc_tensor x, y, z;
  T_OK(a, dlc_tensor_alloc(a, &x, DLC_F32, 1, &n, cpu));
  T_OK(b, dlc_tensor_alloc(b, &y, DLC_F32, 1, &n, cpu));
  T_OK(c, dlc_tensor_alloc(c, &z, DLC_F32, 1, &n, cpu));
  T_OK(a, dlc_tensor_rand_normal(a, &x, 0.f, 1.f));
  T_OK(b, dlc_tensor_rand_normal(b, &y, 0.f, 1.f));
  T_OK(c, dlc_tensor_rand_normal(c, &z, 0.f, 1.f));
  T_CHECK(memcmp(x.data, y.data, x.nbytes) == 0, "same seed, same numbers");
  T_CHECK(memcmp(x.data, z.data, x.nbytes) != 0, "another seed, other numbers");
  T_CHECK(dlc_ctx_rng_offset(a) == (uint64_t)n / 4, "offset advances by blocks used");
  double m, v;
  moments(x.data, n, &m, &v);
  printf("normal: mean %.5f var %.5f\n", m, v);
  /* n = 2^20: the standard error of the mean is 1e-3 and of the variance 1.4e-3. */
  T_CHECK(fabs(m) < 5e-3 && fabs(v - 1) < 7e-3, "N(0,1) moments %g %g", m, v);
  const float *xs = x.data;
  int64_t beyond3 = 0;
  for (int64_t i = 0; i < n; i++) beyond3 += fabsf(xs[i]) > 3.f;
  /* P(|z| > 3) = 0.0027. */
  T_CHECK(beyond3 > 2400 && beyond3 < 3300, "normal tails: %lld beyond 3 sigma", (long long)beyond3);

  T_OK(a, dlc_tensor_rand_normal(a, &x, 0.f, 1.f));
  T_CHECK(memcmp(x.data, y.data, x.nbytes) != 0, "a second call continues the stream");

  T_OK(a, dlc_tensor_rand_uniform(a, &x, -1.f, 3.f));
  moments(x.data, n, &m, &v);
  float lo = 1e9f, hi = -1e9f;
  for (int64_t i = 0; i < n; i++) {
    lo = fminf(lo, xs[i]);
    hi = fmaxf(hi, xs[i]);
  }
  printf("uniform[-1,3): mean %.5f var %.5f min %.6f max %.6f\n", m, v, lo, hi);
  T_CHECK(lo >= -1.f && hi < 3.f && lo < -0.999f && hi > 2.999f, "uniform range");
  T_CHECK(fabs(m - 1.0) < 6e-3 && fabs(v - 16.0 / 12.0) < 1e-2, "uniform moments %g %g", m, v);

  /* Element i depends on (seed, offset, i) only: a shorter request is a prefix. */
  dlc_ctx_set_rng_offset(a, 1000);
  T_OK(a, dlc_tensor_rand_uniform(a, &x, 0.f, 1.f));
  int64_t n7 = 7;
  float seven[7];
  dlc_tensor s7;
  T_OK(b, dlc_tensor_borrow(b, &s7, seven, DLC_F32, 1, &n7, cpu));
  T_OK(b, dlc_ctx_set_seed(b, 42));
  dlc_ctx_set_rng_offset(b, 1000);
  T_OK(b, dlc_tensor_rand_uniform(b, &s7, 0.f, 1.f));
  T_CHECK(memcmp(seven, x.data, sizeof seven) == 0, "prefix property");
  T_CHECK(dlc_ctx_rng_offset(b) == 1002, "7 elements use 2 blocks");

  dlc_tensor_free(a, &x);
  dlc_tensor_free(b, &y);
  dlc_tensor_free(c, &z);
  dlc_ctx_destroy(a);
  dlc_ctx_destroy(b);
  dlc_ctx_destroy(c);
}

int main(void) {
  test_known_answers();
  test_portable_math();
  test_tensor_random();
  return t_finish("test_rng");
}
