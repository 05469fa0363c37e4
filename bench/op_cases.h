/* The op cases: one table of shapes that the CPU-vs-device parity test
 * (tests/test_gpu_parity.c) and the benchmarks (bench/bench_*.c) both read. A row names
 * an op, a case and its shape parameters, the limits its comparisons must hold, and flags
 * saying who runs it: the parity test (small and awkward shapes, emulation-sized) and/or a
 * benchmark mode (large shapes). It lives in bench/ because bench/ may include only the
 * public headers and its own files (tools/check-layers); the tests include it from here. */
#ifndef DLC_OP_CASES_H
#define DLC_OP_CASES_H

#include <stdint.h>

#include "dlcuda_ops.h"

typedef enum oc_op {
  OC_ELEMENTWISE, /* fill, scale, axpy, copy on views aligned and not */
  OC_RANDOM,      /* uniform and normal numbers, bit for bit */
  OC_GEMM,        /* strided-batched GEMM, every transpose */
  OC_ACT,         /* activations forward and backward, every activation */
  OC_DENSE,       /* dense forward and backward, every activation */
  OC_BIAS_GRAD,   /* the bias gradient's column sums */
  OC_DROPOUT,     /* dropout masks bit for bit */
  OC_SOFTMAX,     /* softmax and log-softmax forward, in place, backward */
  OC_XENT,        /* the fused softmax cross-entropy */
  OC_MSE,         /* mean squared error */
  OC_POOL,        /* max, average and global average pooling */
  OC_BATCHNORM,   /* batch normalisation, training and evaluation */
  OC_LAYERNORM,   /* layer normalisation, with and without weight and bias */
  OC_OPTIM,       /* the fused optimizer step, with and without clipping */
  OC_CLIP,        /* gradient clipping by norm and by value over three tensors */
  OC_IM2COL,      /* conv building blocks: im2col (both layouts), col2im */
  OC_CHANNEL,     /* conv building blocks: regrouping, bias, tile, per-channel sums */
  OC_CONV,        /* conv2d forward, backward data and backward weights */
  OC_RNN,         /* recurrent layers forward and backward */
  OC_COUNT
} oc_op;

/* Who runs a row: the parity test, and the benchmark modes (device or CPU, full or --quick). */
enum {
  OC_TEST = 1 << 0,
  OC_BENCH_GPU = 1 << 1,
  OC_BENCH_GPU_QUICK = 1 << 2,
  OC_BENCH_CPU = 1 << 3,
  OC_BENCH_CPU_QUICK = 1 << 4,
  OC_BENCH = OC_BENCH_GPU | OC_BENCH_GPU_QUICK | OC_BENCH_CPU | OC_BENCH_CPU_QUICK,
  /* conv rows: also under a workspace limit of two images; also the slower cuDNN variants
   * (non-deterministic algorithms, fewer images, TF32); also under a one-image limit. */
  OC_CONV_CHUNKED = 1 << 8,
  OC_CONV_CUDNN_MORE = 1 << 9,
  OC_CONV_TIGHT = 1 << 10,
};

/* A comparison's limits: normalised squared error and max |cpu - device| (see
 * t_parity_measure). Where an output sums many terms, the test raises abs with the sum
 * (t_sum_tol, or the op's own growth rule), so abs is a floor. {0, 0}: bit for bit. */
typedef struct oc_tol {
  double nse, abs;
} oc_tol;

typedef struct oc_pool {
  dlc_pool_mode mode;
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw;
  int ceil_mode, count_include_pad;
} oc_pool;
typedef struct oc_im2col {
  int n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw;
} oc_im2col;
typedef struct oc_conv {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, g;
} oc_conv;
typedef struct oc_rnn {
  dlc_rnn_mode mode;
  int layers;
  int64_t T, N, F, H;
  int batch_first, last_only, with_h0, bias;
} oc_rnn;

typedef struct op_case {
  oc_op op;
  const char *name;
  union {
    int64_t n; /* elementwise, random, act, dropout, mse: the element count */
    struct { int64_t m, n, k, batch; } gemm;
    struct { int64_t n, in, out; } dense;
    struct { int64_t rows, cols; } mat; /* bias_grad: dz's shape; layernorm: rows x row length */
    /* offsets: a mask of the float offsets (1: 0, 2: 1, 4: 2) the rows start at, so the
     * float4, float2 and scalar packs run; extreme: +-1e30, -inf, NaN and Inf rows. */
    struct { int64_t rows, cols; int offsets, extreme; } softmax;
    /* bad_label: one label out of range (weighted, smoothed, reduction red); otherwise
     * every combination of class weights, smoothing, ignore_index and reduction. */
    struct { int64_t rows, cols; int bad_label; dlc_reduction red; } xent;
    oc_pool pool;
    struct { int64_t n, c, h, w; } bn; /* h = w = 1: a 2-d input */
    struct { dlc_optimizer_kind kind; int64_t n; } optim;
    struct { int64_t n[3]; } clip;
    oc_im2col im2col;
    struct { int n, c, p; } channel; /* N images of C channels of P pixels */
    oc_conv conv;
    oc_rnn rnn;
  };
  /* Up to four limits; what each one bounds is the op's (op_cases.c says, per op). */
  oc_tol tol[4];
  unsigned flags;
} op_case;

/* Sizes that break naive kernels: 1, odd, prime, around block and warp sizes, large; X(n, ...)
 * for each (the parity rows, and testutil's t_awkward_sizes). */
#define OC_AWKWARD_SIZES(X, ...)                                                                 \
  X(1, __VA_ARGS__) X(2, __VA_ARGS__) X(3, __VA_ARGS__) X(7, __VA_ARGS__) X(31, __VA_ARGS__)      \
  X(32, __VA_ARGS__) X(33, __VA_ARGS__) X(127, __VA_ARGS__) X(257, __VA_ARGS__)                   \
  X(1000, __VA_ARGS__) X(1023, __VA_ARGS__) X(4097, __VA_ARGS__) X(65537, __VA_ARGS__)            \
  X(1000003, __VA_ARGS__)

extern const op_case op_cases[];
extern const int op_num_cases;

/* The op's name (e.g. "softmax"), or NULL. */
const char *oc_op_name(oc_op op);
/* The benchmark rows of op for a mode (device or CPU, --quick or not), in table order: the
 * first after row `after` (NULL: from the start), or NULL when there is none.
 *   for (const op_case *k = NULL; (k = oc_bench_next(k, OC_CONV, cuda, quick));) ... */
const op_case *oc_bench_next(const op_case *after, oc_op op, int cuda, int quick);

#endif
