#include "testutil.h"
#include "op_cases.h"
#include "ops/conv.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int t_failures = 0, t_checks = 0;

#define T_SIZE(n, unused) n,
const int64_t t_awkward_sizes[] = {OC_AWKWARD_SIZES(T_SIZE, 0)}; /* the parity rows' sizes */
const int t_num_awkward_sizes = (int)(sizeof t_awkward_sizes / sizeof t_awkward_sizes[0]);

int t_contains(const char *hay, const char *needle) {
  return hay && needle && strstr(hay, needle) != NULL;
}

int t_finish(const char *name) {
  int passed = t_checks - t_failures;
  printf("%s: %d passed, %d failed\n", name, passed, t_failures);
  return t_failures ? 1 : 0;
}

dlc_ctx *t_cpu_ctx(uint64_t seed) {
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = DLC_DEVICE_CPU;
  o.seed = seed;
  const char *gemm = getenv("DLC_TEST_CPU_GEMM");
  if (gemm && *gemm && dlc_cpu_gemm_from_name(gemm, &o.cpu_gemm) != DLC_OK) {
    fprintf(stderr, "DLC_TEST_CPU_GEMM=%s: use auto, openblas or onednn\n", gemm);
    exit(1);
  }
  dlc_ctx *ctx = t_ctx_make(&o);
  static int said;
  if (!said++) printf("CPU GEMM: %s\n", dlc_ctx_cpu_gemm_info(ctx));
  return ctx;
}

dlc_ctx *t_gpu_ctx_or_skip(uint64_t seed) {
  char why[256];
  int n = 0;
  if (dlc_cuda_device_count(&n, why, sizeof why) != DLC_OK || n == 0) {
    printf("SKIP: %s\n", why);
    exit(T_SKIP);
  }
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = DLC_DEVICE_CUDA;
  o.seed = seed;
  return t_ctx_make(&o); /* a device that exists but cannot be used is a failure, not a skip */
}

dlc_ctx *t_ctx_make(const dlc_ctx_options *o) {
  dlc_ctx *ctx = NULL;
  if (dlc_ctx_create(&ctx, o) != DLC_OK) {
    fprintf(stderr, "FAIL: cannot create a %s context: %s\n", o->device == DLC_DEVICE_CUDA ? "CUDA" : "CPU",
            dlc_ctx_error(ctx));
    exit(1);
  }
  return ctx;
}

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void t_fill_uniform(float *x, int64_t n, uint64_t seed, float lo, float hi) {
  uint64_t s = seed;
  for (int64_t i = 0; i < n; i++)
    x[i] = lo + (hi - lo) * (float)((splitmix64(&s) >> 40) * (1.0 / 16777216.0));
}

t_parity_result t_parity_measure(const float *ref, const float *got, int64_t n) {
  t_parity_result r = {0, 0, 0};
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    int rf = isfinite(ref[i]), gf = isfinite(got[i]);
    if (rf != gf || (!rf && !(isnan(ref[i]) && isnan(got[i])) && ref[i] != got[i])) {
      r.mismatched_nonfinite++;
      continue;
    }
    if (!rf) continue; /* the same non-finite value on both sides */
    double d = (double)ref[i] - (double)got[i];
    num += d * d;
    den += (double)ref[i] * ref[i];
    if (fabs(d) > r.max_abs) r.max_abs = fabs(d);
  }
  r.nse = num / (den > 1e-30 ? den : 1e-30);
  return r;
}

double t_sum_tol(int64_t terms, double max_term) {
  return 4.0 * (double)(terms > 0 ? terms : 1) * max_term * 0x1p-24;
}

double t_max_abs(const float *x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++)
    if (isfinite(x[i]) && fabs(x[i]) > m) m = fabs(x[i]);
  return m;
}

int t_parity(const char *what, const float *ref, const float *got, int64_t n, double tol_nse,
             double tol_abs) {
  t_parity_result r = t_parity_measure(ref, got, n);
  int ok = r.mismatched_nonfinite == 0 && r.nse <= tol_nse && r.max_abs <= tol_abs;
  printf("%-44s n=%-9lld nse=%.3e max_abs=%.3e (<=%.1e) nonfinite_mismatch=%lld %s\n", what, (long long)n,
         r.nse, r.max_abs, tol_abs, (long long)r.mismatched_nonfinite, ok ? "ok" : "FAIL");
  T_CHECK(ok, "%s: parity outside nse<=%g max_abs<=%g", what, tol_nse, tol_abs);
  return ok;
}

#define T_GUARD_FLOATS 64
static const uint32_t t_guard_bits = 0x7fc0beefu; /* a NaN with a payload no op writes */

int t_guarded_alloc(dlc_ctx *ctx, t_guarded *g, int ndim, const int64_t *shape) {
  memset(g, 0, sizeof *g);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  int64_t total = n + 2 * T_GUARD_FLOATS;
  dlc_device dev = dlc_ctx_device(ctx);
  if (dlc_tensor_alloc(ctx, &g->whole, DLC_F32, 1, &total, dev) != DLC_OK) return 0;
  g->guard = T_GUARD_FLOATS;
  float *host = malloc((size_t)total * sizeof *host);
  if (!host) return 0;
  for (int64_t i = 0; i < total; i++) {
    if (i < g->guard || i >= g->guard + n)
      memcpy(&host[i], &t_guard_bits, 4);
    else
      host[i] = NAN;
  }
  int ok = dlc_tensor_upload(ctx, &g->whole, host, (size_t)total * 4) == DLC_OK &&
           dlc_tensor_borrow(ctx, &g->t, (float *)g->whole.data + g->guard, DLC_F32, ndim, shape,
                             dev) == DLC_OK;
  free(host);
  return ok;
}

int t_guarded_upload(dlc_ctx *ctx, t_guarded *g, const float *host) {
  return dlc_tensor_upload(ctx, &g->t, host, g->t.nbytes) == DLC_OK;
}

int t_guarded_download(dlc_ctx *ctx, t_guarded *g, float *host, const char *what) {
  int64_t total = g->whole.numel;
  float *all = malloc((size_t)total * sizeof *all);
  if (!all) return 0;
  int ok = dlc_tensor_download(ctx, &g->whole, all, g->whole.nbytes) == DLC_OK;
  T_CHECK(ok, "%s: download failed: %s", what, dlc_ctx_error(ctx));
  int64_t bad = 0;
  for (int64_t i = 0; ok && i < total; i++) {
    if (i >= g->guard && i < g->guard + g->t.numel) continue;
    uint32_t b;
    memcpy(&b, &all[i], 4);
    if (b != t_guard_bits) bad++;
  }
  T_CHECK(bad == 0, "%s: %lld guard floats overwritten (out-of-bounds write)", what,
          (long long)bad);
  if (ok) memcpy(host, all + g->guard, g->t.nbytes);
  free(all);
  return ok && bad == 0;
}

void t_guarded_free(dlc_ctx *ctx, t_guarded *g) {
  dlc_tensor_free(ctx, &g->whole);
  memset(g, 0, sizeof *g);
}

void t_pair_init(dlc_ctx *g, dlc_ctx *c, t_pair *p, int ndim, const int64_t *shape, uint64_t seed,
                 float lo, float hi) {
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  memset(p, 0, sizeof *p);
  T_CHECK(dlc_tensor_alloc(c, &p->h, DLC_F32, ndim, shape, cpu) == DLC_OK, "host alloc: %s", dlc_ctx_error(c));
  t_fill_uniform(p->h.data, p->h.numel, seed, lo, hi);
  T_CHECK(t_guarded_alloc(g, &p->d, ndim, shape), "device alloc: %s", dlc_ctx_error(g));
  t_guarded_upload(g, &p->d, p->h.data);
  p->back = malloc(p->h.nbytes ? p->h.nbytes : 1);
}

void t_pair_check_against(dlc_ctx *g, t_pair *p, const float *ref, const char *what,
                          double tol_nse, double tol_abs) {
  if (t_guarded_download(g, &p->d, p->back, what))
    t_parity(what, ref, p->back, p->h.numel, tol_nse, tol_abs);
}

void t_pair_check(dlc_ctx *g, t_pair *p, const char *what, double tol_nse, double tol_abs) {
  t_pair_check_against(g, p, p->h.data, what, tol_nse, tol_abs);
}

void t_pair_free(dlc_ctx *g, dlc_ctx *c, t_pair *p) {
  dlc_tensor_free(c, &p->h);
  t_guarded_free(g, &p->d);
  free(p->back);
  memset(p, 0, sizeof *p);
}

long t_read_file(const char *path, unsigned char **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  if (n >= 0) {
    rewind(f);
    *out = malloc((size_t)n + 1);
    if (!*out || fread(*out, 1, (size_t)n, f) != (size_t)n) n = -1;
  }
  fclose(f);
  if (n < 0) {
    free(*out);
    *out = NULL;
  }
  return n;
}

int t_temp_files(const char *path) {
  char dir[1024], prefix[1024];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  const char *base = slash ? slash + 1 : path;
  snprintf(prefix, sizeof prefix, "%s.tmp", base);
  if (slash) *slash = '\0';
  else snprintf(dir, sizeof dir, ".");
  DIR *d = opendir(dir[0] ? dir : "/");
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  closedir(d);
  return n;
}

int t_same_file(const char *a, const char *b) {
  unsigned char *x, *y;
  long n = t_read_file(a, &x), m = t_read_file(b, &y);
  int same = n >= 0 && n == m && memcmp(x, y, (size_t)n) == 0;
  free(x);
  free(y);
  return same;
}

int t_near_zero(const char *what, const float *x, int64_t n, double bound) {
  double m = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(x[i])) bad++;
    else if (fabs(x[i]) > m) m = fabs(x[i]);
  }
  int ok = bad == 0 && m <= bound;
  printf("%-44s n=%-9lld true value 0: max_abs=%.3e (bound %.1e) nonfinite=%lld %s\n", what,
         (long long)n, m, bound, (long long)bad, ok ? "ok" : "FAIL");
  T_CHECK(ok, "%s: a tensor whose true value is 0 reaches %g (bound %g)", what, m, bound);
  return ok;
}

static int t_named(const char *const *names, const char *name) {
  for (int i = 0; names && names[i]; i++)
    if (strcmp(names[i], name) == 0) return 1;
  return 0;
}

void t_compare_safetensors(dlc_ctx *ctx, const char *what, const char *got, const char *ref,
                           double tol_nse, double tol_abs, const char *const *zero, double zero_abs) {
  dlc_safetensors *a = NULL, *b = NULL;
  T_OK(ctx, dlc_safetensors_open(ctx, got, &a));
  T_OK(ctx, dlc_safetensors_open(ctx, ref, &b));
  if (a && b) {
    T_CHECK(dlc_safetensors_count(a) == dlc_safetensors_count(b), "%s: %d tensors, the reference has %d",
            what, dlc_safetensors_count(a), dlc_safetensors_count(b));
    for (int k = 0; k < dlc_safetensors_count(b); k++) {
      dlc_safetensors_tensor_info info;
      dlc_tensor g, w;
      dlc_safetensors_info(b, k, &info);
      int i = dlc_safetensors_find(a, info.name);
      T_CHECK(i >= 0, "%s: %s written", what, info.name);
      if (i < 0 || dlc_safetensors_load(a, i, &g) != DLC_OK) continue;
      if (dlc_safetensors_load(b, k, &w) != DLC_OK) {
        dlc_tensor_free(ctx, &g);
        continue;
      }
      char line[160];
      snprintf(line, sizeof line, "%s %s", what, info.name);
      T_CHECK(g.numel == w.numel, "%s: %lld values, the reference has %lld", line, (long long)g.numel,
              (long long)w.numel);
      if (g.numel == w.numel && t_named(zero, info.name)) {
        char l2[200];
        snprintf(l2, sizeof l2, "%s (got)", line);
        t_near_zero(l2, g.data, g.numel, zero_abs);
        snprintf(l2, sizeof l2, "%s (ref)", line);
        t_near_zero(l2, w.data, w.numel, zero_abs);
      } else if (g.numel == w.numel) {
        t_parity(line, w.data, g.data, w.numel, tol_nse, tol_abs);
      }
      dlc_tensor_free(ctx, &g);
      dlc_tensor_free(ctx, &w);
    }
  }
  dlc_safetensors_destroy(a);
  dlc_safetensors_destroy(b);
}

const char *t_join(const char *dir, const char *name) {
  static char p[8][1024];
  static int k;
  k = (k + 1) % 8;
  snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
  return p[k];
}

int t_fixture(dlc_ctx *ctx, const char *rel, dlc_tensor *out) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", DLC_FIXTURE_DIR, rel);
  dlc_status s = dlc_npy_load(ctx, path, out);
  T_CHECK(s == DLC_OK, "fixture %s: %s", rel, dlc_ctx_error(ctx));
  return s == DLC_OK;
}

int t_gradcheck(const char *what, float *x, const float *analytic, int64_t n, t_loss_fn loss,
                void *user, double eps, double rtol, double atol, int64_t max_points) {
  int64_t points = n < max_points ? n : max_points;
  double worst_excess = -1;
  int64_t worst_i = -1, bad = 0;
  double worst_num = 0, worst_ana = 0;
  for (int64_t p = 0; p < points; p++) {
    /* Spread the checked points over the whole tensor, first and last included. */
    int64_t i = points > 1 ? p * (n - 1) / (points - 1) : 0;
    float saved = x[i];
    x[i] = (float)(saved + eps);
    double lp = loss(user);
    x[i] = (float)(saved - eps);
    double lm = loss(user);
    /* The perturbation actually applied, after rounding to float. */
    double h = ((double)(float)(saved + eps) - (double)(float)(saved - eps));
    x[i] = saved;
    double num = (lp - lm) / h, ana = analytic[i];
    double allowed = atol + rtol * fmax(fabs(num), fabs(ana));
    double excess = fabs(num - ana) - allowed;
    if (!(excess <= 0)) bad++;
    if (!(excess <= worst_excess) || worst_i < 0) {
      worst_excess = excess;
      worst_i = i;
      worst_num = num;
      worst_ana = ana;
    }
  }
  int ok = bad == 0;
  printf("gradcheck %-34s points=%-5lld worst i=%lld numeric=%.6g analytic=%.6g %s\n", what,
         (long long)points, (long long)worst_i, worst_num, worst_ana, ok ? "ok" : "FAIL");
  T_CHECK(ok, "%s: %lld of %lld gradient entries off", what, (long long)bad, (long long)points);
  return ok;
}

size_t t_conv_ws_bytes(const dlc_conv2d_state *s, int64_t images) {
  size_t most = 0;
  for (int d = 0; d < DLC_CONV_DIRS; d++) {
    size_t b = (size_t)dlc_conv_ws_layout_for(s, d, images).total * 4;
    if (b > most) most = b;
  }
  return most;
}
