/* The shared benchmark harness, after llm.c's dev/cuda but timing the library's own ops:
 * validate against the CPU path, then time with CUDA events (a monotonic clock on the
 * CPU), flushing L2 between runs and taking the median; measure a device-to-device copy in
 * the same run as the bandwidth ceiling; print a table line and a JSON line per result. */
#ifndef DLC_BENCH_H
#define DLC_BENCH_H

#include <stddef.h>
#include <stdio.h>

#include "dlcuda.h"

typedef struct bench {
  const char *name;
  dlc_ctx *ctx;  /* the device under test */
  dlc_ctx *cpu;  /* the reference for validation */
  int cuda;      /* 1 when ctx runs on a CUDA device */
  int emulated;  /* 1 when that device is the emulated one (DLC_CUDA=EMULATE): no timings */
  int runs, warmup, quick;
  void *flush;   /* a buffer larger than the last-level cache, rewritten between runs */
  size_t flush_bytes;
  void *ev[2];   /* cudaEvent_t start, stop */
  double copy_gbps; /* the measured copy bandwidth, 0 until bench_measure_copy */
  FILE *json;    /* JSON lines; stdout unless --json FILE */
  int failures;
} bench;

/* Parses --cpu, --runs N, --quick, --json FILE; creates the contexts. Returns 0 when the
 * benchmark cannot run (the reason printed). */
int bench_init(bench *b, const char *name, int argc, char **argv);
void bench_finish(bench *b);

/* Enqueues one run of the op on b->ctx. */
typedef dlc_status (*bench_fn)(void *arg);
/* Median milliseconds over b->runs after b->warmup, the cache flushed before each run.
 * Returns a negative value (and counts a failure) when fn fails. */
double bench_time_ms(bench *b, bench_fn fn, void *arg);
/* Measures a copy of `bytes` (cudaMemcpyAsync device-to-device, or memcpy on the CPU)
 * and stores the bandwidth (bytes read + written per second) in b->copy_gbps. */
double bench_measure_copy(bench *b, size_t bytes);

/* Checks got against ref with the parity metric; prints and counts a failure if off. */
int bench_validate(bench *b, const char *what, const float *ref, const float *got, size_t n,
                   double tol_nse, double tol_abs);

/* One result. bytes: memory traffic of one run; flops: 0 when not compute-bound; peer and
 * peer_ms: the comparison in the same run (NULL/0 when none). */
void bench_report(bench *b, const char *op, const char *shape, double ms, double bytes,
                  double flops, const char *peer, double peer_ms);

/* Returns a failed status from the enclosing function (which returns dlc_status). */
#define BENCH_TRY(expr)             \
  do {                              \
    dlc_status bench_s_ = (expr);   \
    if (bench_s_ != DLC_OK) return bench_s_; \
  } while (0)

#endif
