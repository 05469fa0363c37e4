/* The test harness: checks that count, contexts that skip, the CPU-vs-GPU parity metric
 * with guarded and poisoned device buffers, and the finite-difference gradient checker. */
#ifndef DLC_TESTUTIL_H
#define DLC_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>

#include "dlcuda.h"
#include "dlcuda_ops.h"

#define T_SKIP 77 /* CTest's SKIP_RETURN_CODE for gpu tests without a device */

extern int t_failures, t_checks;

#define T_CHECK(cond, ...)                                              \
  do {                                                                  \
    t_checks++;                                                         \
    if (!(cond)) {                                                      \
      t_failures++;                                                     \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
      fprintf(stderr, __VA_ARGS__);                                     \
      fputc('\n', stderr);                                              \
    }                                                                   \
  } while (0)

/* expr must return DLC_OK; otherwise the context's message is printed. */
#define T_OK(ctx, expr)                                                                   \
  do {                                                                                    \
    dlc_status t_s_ = (expr);                                                             \
    T_CHECK(t_s_ == DLC_OK, "%s -> %s: %s", #expr, dlc_status_string(t_s_),             \
            dlc_ctx_error(ctx));                                                          \
  } while (0)

/* expr must fail with `code` and leave a message containing `needle`. */
#define T_FAILS(ctx, code, needle, expr)                                                  \
  do {                                                                                    \
    dlc_ctx_clear_error(ctx);                                                             \
    dlc_status t_s_ = (expr);                                                             \
    T_CHECK(t_s_ == (code), "%s -> %s, wanted %s (%s)", #expr, dlc_status_string(t_s_),  \
            dlc_status_string(code), dlc_ctx_error(ctx));                                 \
    T_CHECK(t_contains(dlc_ctx_error(ctx), needle), "message \"%s\" lacks \"%s\"",        \
            dlc_ctx_error(ctx), needle);                                                  \
  } while (0)

int t_contains(const char *hay, const char *needle);
/* Prints "N passed, N failed" and returns the process exit code. */
int t_finish(const char *name);

/* A CPU context; DLC_TEST_CPU_GEMM (auto, openblas, onednn) picks its GEMM library, so that
 * CTest runs the GEMM-heavy tests once per library (tests/CMakeLists.txt). */
dlc_ctx *t_cpu_ctx(uint64_t seed);
/* A context on cuda:0, or exit(77) with the reason when there is no usable device. */
dlc_ctx *t_gpu_ctx_or_skip(uint64_t seed);
/* A context with options o, or exit(1) with the library's message (a test cannot go on). */
dlc_ctx *t_ctx_make(const dlc_ctx_options *o);
/* The smallest workspace limit (bytes) under which every direction of conv state s runs
 * im2col in chunks of `images` images: what the chunking tests set a context's limit to. */
size_t t_conv_ws_bytes(const dlc_conv2d_state *s, int64_t images);

/* Sizes that break naive kernels: 1, odd, prime, around block and warp sizes, large. */
extern const int64_t t_awkward_sizes[];
extern const int t_num_awkward_sizes;

/* Deterministic host data (splitmix64), independent of the library under test. */
void t_fill_uniform(float *x, int64_t n, uint64_t seed, float lo, float hi);

/* Normalised squared error sum((a-b)^2)/max(sum(a^2), tiny) and max |a-b|. A NaN or Inf
 * in got where ref is finite, or the reverse, fails whatever the tolerance. */
typedef struct t_parity_result {
  double nse, max_abs;
  int64_t mismatched_nonfinite;
} t_parity_result;
t_parity_result t_parity_measure(const float *ref, const float *got, int64_t n);
/* The absolute limit for a float32 result that sums `terms` values, each at most max_term
 * in magnitude, in whatever order a correct implementation (another BLAS kernel, thread
 * count, chunking, vector width) chooses, compared with another such result: 2 units of
 * roundoff (2^-24) per term and side, times the largest term. A fixed limit fails on a
 * machine whose BLAS blocks the sum differently; this one grows with what is summed. */
double t_sum_tol(int64_t terms, double max_term);
/* max |x[i]| over the finite values. */
double t_max_abs(const float *x, int64_t n);
/* Measures, prints one line and counts a check. Returns 1 when within tolerance. */
int t_parity(const char *what, const float *ref, const float *got, int64_t n, double tol_nse,
             double tol_abs);

/* A device tensor with guard zones before and after it, filled with a sentinel, and a
 * body poisoned with NaN, so an op that writes out of bounds or leaves elements unwritten
 * is caught. */
typedef struct t_guarded {
  dlc_tensor t;     /* the body, a borrowed view */
  dlc_tensor whole; /* guard + body + guard */
  int64_t guard;    /* floats in each guard zone */
} t_guarded;
int t_guarded_alloc(dlc_ctx *ctx, t_guarded *g, int ndim, const int64_t *shape);
/* Copies host data into the body (after poisoning, for inputs). */
int t_guarded_upload(dlc_ctx *ctx, t_guarded *g, const float *host);
/* Downloads the body into host and checks both guard zones; counts a check. */
int t_guarded_download(dlc_ctx *ctx, t_guarded *g, float *host, const char *what);
void t_guarded_free(dlc_ctx *ctx, t_guarded *g);

/* A host tensor and a guarded device twin holding the same data: CPU-vs-GPU tests run an
 * op on both and compare. back is scratch for downloads. */
typedef struct t_pair {
  dlc_tensor h;
  t_guarded d;
  float *back;
} t_pair;
/* Allocates both (h on the CPU context c, d on the GPU context g) and fills them with the
 * same uniform values in [lo, hi). */
void t_pair_init(dlc_ctx *g, dlc_ctx *c, t_pair *p, int ndim, const int64_t *shape, uint64_t seed,
                 float lo, float hi);
/* Downloads d (checking its guards) and compares it with h, or with ref. */
void t_pair_check(dlc_ctx *g, t_pair *p, const char *what, double tol_nse, double tol_abs);
void t_pair_check_against(dlc_ctx *g, t_pair *p, const float *ref, const char *what,
                          double tol_nse, double tol_abs);
void t_pair_free(dlc_ctx *g, dlc_ctx *c, t_pair *p);

/* dir/name, in one of 8 rotating buffers (up to 8 in one expression). */
const char *t_join(const char *dir, const char *name);

/* Reads a whole file into *out (malloc'd, NULL on failure); returns its size or -1. */
long t_read_file(const char *path, unsigned char **out);
/* 1 when both files can be read and hold the same bytes. */
int t_same_file(const char *a, const char *b);
/* How many temporary files of an atomic write of path (PATH.tmp.*) are in its folder. */
int t_temp_files(const char *path);

/* Every tensor of the safetensors file `ref` against the one of the same name in `got`
 * (same count, sizes within the parity tolerances); what names the comparison. The tensors
 * named in `zero` (a NULL-terminated list, or NULL) have a true value of 0, e.g. the
 * gradient of a bias that a training-mode batch norm cancels: both sides hold rounding
 * noise, which no relative metric can compare, so each must only stay within zero_abs of 0. */
void t_compare_safetensors(dlc_ctx *ctx, const char *what, const char *got, const char *ref,
                           double tol_nse, double tol_abs, const char *const *zero, double zero_abs);
/* Checks max |x_i| <= bound for a tensor whose true value is 0 (see above); counts a check. */
int t_near_zero(const char *what, const float *x, int64_t n, double bound);

/* Loads tests/fixtures/<rel> (a .npy written by a committed PyTorch script) into a new CPU
 * tensor; a missing or bad fixture is a failed check and returns 0. */
int t_fixture(dlc_ctx *ctx, const char *rel, dlc_tensor *out);

/* Finite-difference gradient check. loss(user) evaluates the scalar loss at the current
 * contents of x; analytic[i] is the claimed dloss/dx[i]. Each checked element is
 * perturbed by +-eps (central difference, evaluated in double from float forward passes)
 * and passes when |numeric - analytic| <= atol + rtol * max(|numeric|, |analytic|).
 * At most max_points elements are checked (all when n <= max_points, else a spread).
 * Prints the worst element; counts a check; returns 1 on pass. */
typedef double (*t_loss_fn)(void *user);
int t_gradcheck(const char *what, float *x, const float *analytic, int64_t n, t_loss_fn loss,
                void *user, double eps, double rtol, double atol, int64_t max_points);

#endif
