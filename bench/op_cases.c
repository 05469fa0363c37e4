/* The op cases (op_cases.h): the parity test's shapes (small, odd, prime, around warp and
 * block sizes, 1x1, long rows for the block-per-row paths) and the benchmarks' (the layers
 * of real networks). The limits of each op, and what each one bounds, are its T_* macro:
 * they hold for any correct implementation and summation order, on any CPU BLAS. */
#include "op_cases.h"

#include <stddef.h>

/* fill, scale, copy: bit for bit; axpy: the device may fuse it into an FMA. */
#define T_ELEMENTWISE .tol = {{0, 0}, {1e-13, 1e-6}}
/* activations forward and backward: expf and friends differ by an ulp */
#define T_ACT .tol = {{1e-12, 1e-6}}
/* fp32 GEMMs summing in another order; TF32 (10-bit mantissa) would give ~1e-6 nse */
#define T_GEMM .tol = {{1e-11, 1e-4}}
/* dense y; dx, dw and db: floors, raised with the terms each output sums */
#define T_DENSE .tol = {{1e-11, 1e-5}, {1e-11, 1e-4}}
/* a column sum of dz: a floor, raised with the rows summed */
#define T_BIAS_GRAD .tol = {{1e-11, 1e-3}}
/* forward: the same mask, the same products, bit for bit; backward: dx + dy * m may fuse */
#define T_DROPOUT .tol = {{0, 0}, {1e-13, 1e-6}}
/* softmax forward; log-softmax forward; both backward (expf and the sums' order differ) */
#define T_SOFTMAX .tol = {{1e-11, 2e-6}, {1e-11, 2e-5}, {1e-10, 2e-5}}
/* logp; dlogits (FMA and expf: a few ulps of values up to ~2.5); the loss, relative to
 * max(1, |loss|) */
#define T_XENT .tol = {{1e-11, 2e-5}, {1e-11, 4e-6}, {0, 1e-5}}
/* the loss, relative (float squares added in double, in different orders); dx (an FMA) */
#define T_MSE .tol = {{0, 1e-6}, {1e-13, 5e-6}}
/* y and dx: window sums and maxima run in the same order on both devices */
#define T_POOL .tol = {{0, 0}, {0, 0}}
/* global average: a float tree against a double sum */
#define T_GLOBAL_POOL .tol = {{1e-12, 1e-6}, {0, 0}}
/* y, invstd, running_var; dx; dgamma and dbeta, plus 1e-6 per term each sums */
#define T_BN .tol = {{1e-10, 1e-5}, {1e-8, 1e-4}, {1e-6, 1e-3}}
/* y; mean and rstd (rstd's times the largest 1/std); dx (times the largest 1/std);
 * dweight and dbias, plus 2e-6 per row summed */
#define T_LN .tol = {{1e-10, 1e-4}, {1e-10, 1e-5}, {1e-8, 1e-4}, {1e-8, 1e-4}}
/* parameters after three steps */
#define T_OPTIM .tol = {{1e-12, 1e-6}}
/* clipped by norm; the norm itself, relative */
#define T_CLIP .tol = {{1e-12, 1e-6}, {0, 1e-5}}
/* per-channel sums (a float tree against the CPU's double); plane means */
#define T_CHANNEL .tol = {{1e-10, 1e-3}, {1e-10, 1e-5}}
/* exact fp32 (only the GEMMs' order differs): floors raised with what each output sums;
 * TF32 against exact fp32 (the cuDNN checks) */
#define T_CONV .tol = {{1e-10, 2e-4}, {1e-5, 5e-2}}
/* forward (y, hT, cT, the reserve); dx, dh0, dc0; the parameter gradients (T * N terms) */
#define T_RNN .tol = {{1e-10, 2e-5}, {1e-9, 2e-4}, {1e-9, 1e-3}}

#define OC_N(op_, n_, ...) {.op = op_, .name = "n=" #n_, .n = n_, __VA_ARGS__, .flags = OC_TEST}
#define OC_N_AT(n_, op_, ...) OC_N(op_, n_, __VA_ARGS__),
/* A test row of op_ for each awkward size (op_cases.h). */
#define OC_AWKWARD(op_, ...) OC_AWKWARD_SIZES(OC_N_AT, op_, __VA_ARGS__) /* each row ends in its comma */
/* The benchmarks' element counts: 2^26 on a device (2^22 --quick), 2^24 on the CPU (2^20). */
#define OC_BENCH_N(op_)                                                                        \
  {.op = op_, .name = "2^26", .n = 1 << 26, .flags = OC_BENCH_GPU},                            \
      {.op = op_, .name = "2^22", .n = 1 << 22, .flags = OC_BENCH_GPU_QUICK},                  \
      {.op = op_, .name = "2^24", .n = 1 << 24, .flags = OC_BENCH_CPU},                        \
      {.op = op_, .name = "2^20", .n = 1 << 20, .flags = OC_BENCH_CPU_QUICK}

#define GEMM(m, n, k, b) {.op = OC_GEMM, .name = #m "x" #n "x" #k " batch " #b, .gemm = {m, n, k, b}, T_GEMM, .flags = OC_TEST}
#define DENSE(n, i, o) {.op = OC_DENSE, .name = #n "x" #i "->" #o, .dense = {n, i, o}, T_DENSE, .flags = OC_TEST}
#define BIAS_GRAD(r, c) {.op = OC_BIAS_GRAD, .name = #r "x" #c, .mat = {r, c}, T_BIAS_GRAD, .flags = OC_TEST}
/* Softmax rows at offsets 0 and 1, and 2 when C is even (float4, scalar, float2 packs). */
#define SM(r, c) {.op = OC_SOFTMAX, .name = #r "x" #c, .softmax = {r, c, 3 | ((c) % 2 == 0) << 2, 0}, T_SOFTMAX, .flags = OC_TEST}
#define SM_EXTREME(c) {.op = OC_SOFTMAX, .name = "14x" #c " extreme", .softmax = {14, c, 1, 1}, T_SOFTMAX, .flags = OC_TEST}
#define SM_BENCH(r, c, f) {.op = OC_SOFTMAX, .name = #r "x" #c, .softmax = {r, c, 1, 0}, .flags = f}
#define XENT(r, c, f) {.op = OC_XENT, .name = #r "x" #c, .xent = {r, c, 0, DLC_REDUCE_MEAN}, T_XENT, .flags = f}
#define XENT_BAD(r, c, red) {.op = OC_XENT, .name = #r "x" #c " bad label", .xent = {r, c, 1, red}, T_XENT, .flags = OC_TEST}
#define BN(n, c, h, w) {.op = OC_BATCHNORM, .name = "[" #n "," #c "," #h "," #w "]", .bn = {n, c, h, w}, T_BN, .flags = OC_TEST}
#define LN(r, d) {.op = OC_LAYERNORM, .name = "R=" #r " D=" #d, .mat = {r, d}, T_LN, .flags = OC_TEST}
#define IM2COL(name_, ...) {.op = OC_IM2COL, .name = name_, .im2col = {__VA_ARGS__}, .flags = OC_TEST}
#define CHANNEL(n, c, p) {.op = OC_CHANNEL, .name = #n "x" #c "x" #p, .channel = {n, c, p}, T_CHANNEL, .flags = OC_TEST}
#define RNN_BENCH(T, N, H, f)                                                                  \
  {.op = OC_RNN, .name = "rnn_tanh", .rnn = {DLC_RNN_TANH, 1, T, N, H, H, 0, 0, 1, 1}, .flags = f}, \
      {.op = OC_RNN, .name = "lstm", .rnn = {DLC_RNN_LSTM, 1, T, N, H, H, 0, 0, 1, 1}, .flags = f},  \
      {.op = OC_RNN, .name = "gru", .rnn = {DLC_RNN_GRU, 1, T, N, H, H, 0, 0, 1, 1}, .flags = f}

const op_case op_cases[] = {
    OC_AWKWARD(OC_ELEMENTWISE, T_ELEMENTWISE)
    OC_BENCH_N(OC_ELEMENTWISE),
    OC_AWKWARD(OC_RANDOM, .tol = {{0, 0}})
    GEMM(1, 1, 1, 1), GEMM(33, 17, 65, 3), GEMM(127, 129, 61, 1), GEMM(300, 257, 1024, 1),

    OC_AWKWARD(OC_ACT, T_ACT)
    OC_BENCH_N(OC_ACT),
    DENSE(1, 1, 1), DENSE(3, 7, 5), DENSE(33, 65, 12), DENSE(257, 129, 10), DENSE(64, 784, 256),
    BIAS_GRAD(1, 1), BIAS_GRAD(7, 33), BIAS_GRAD(1000, 10), BIAS_GRAD(65537, 3), BIAS_GRAD(5, 4097),
    OC_AWKWARD(OC_DROPOUT, T_DROPOUT)

    /* Row lengths for every kernel form: groups of 2..32 lanes with one pack (many rows per
     * warp), full warps with 2..32 packs, the cached block (<= 8192), the online block. */
    SM(1003, 1), SM(1003, 2), SM(1003, 3), SM(1003, 4), SM(1003, 7), SM(1003, 8),
    SM(67, 31), SM(67, 32), SM(67, 33), SM(67, 63), SM(67, 64), SM(67, 100), SM(67, 127),
    SM(67, 128), SM(13, 255), SM(13, 256), SM(13, 257), SM(13, 511), SM(13, 512), SM(13, 513),
    SM(13, 1000), SM(13, 1023), SM(13, 1024), SM(5, 1025), SM(5, 2047), SM(5, 4096),
    SM(5, 4097), SM(5, 8191), SM(5, 8192), SM(3, 8193), SM(3, 12289), SM(3, 32768),
    SM(3, 32771),
    SM_EXTREME(1), SM_EXTREME(7), SM_EXTREME(33), SM_EXTREME(1000), SM_EXTREME(4097),
    SM_EXTREME(12289),
    /* many rows: the grid-stride loops */
    {.op = OC_SOFTMAX, .name = "100003x3", .softmax = {100003, 3, 2, 0}, T_SOFTMAX, .flags = OC_TEST},
    {.op = OC_SOFTMAX, .name = "70001x32", .softmax = {70001, 32, 1, 0}, T_SOFTMAX, .flags = OC_TEST},
    /* the benchmark's rows x C: the CPU runs fewer rows of the same lengths */
    SM_BENCH(1048576, 10, OC_BENCH_GPU), SM_BENCH(262144, 10, OC_BENCH_GPU_QUICK | OC_BENCH_CPU),
    SM_BENCH(16384, 10, OC_BENCH_CPU_QUICK), SM_BENCH(65536, 1000, OC_BENCH_GPU),
    SM_BENCH(16384, 1000, OC_BENCH_GPU_QUICK | OC_BENCH_CPU), SM_BENCH(1024, 1000, OC_BENCH_CPU_QUICK),
    SM_BENCH(4096, 32768, OC_BENCH_GPU), SM_BENCH(512, 32768, OC_BENCH_GPU_QUICK),
    SM_BENCH(256, 32768, OC_BENCH_CPU), SM_BENCH(32, 32768, OC_BENCH_CPU_QUICK),

    /* rows x C: one block (<= 32768 logits, C <= 1024); groups per row over many blocks with
     * a one-stage and a two-stage sum; cached and online block per row. */
    XENT(64, 10, OC_TEST | OC_BENCH), XENT(7, 1000, OC_TEST), XENT(1, 1, OC_TEST),
    XENT(5000, 10, OC_TEST), XENT(40000, 3, OC_TEST), XENT(300, 129, OC_TEST),
    XENT(33, 1025, OC_TEST), XENT(3, 4097, OC_TEST), XENT(2, 12289, OC_TEST),
    XENT(9, 32768, OC_TEST),
    XENT_BAD(64, 10, DLC_REDUCE_MEAN), XENT_BAD(5000, 10, DLC_REDUCE_MEAN),
    XENT_BAD(3, 4097, DLC_REDUCE_SUM),
    XENT(8192, 1000, OC_BENCH_GPU | OC_BENCH_GPU_QUICK), XENT(1024, 1000, OC_BENCH_CPU | OC_BENCH_CPU_QUICK),
    OC_AWKWARD(OC_MSE, T_MSE)

    /* mode, N, C, H, W, KH, KW, SH, SW, PH, PW, ceil_mode, count_include_pad */
    {.op = OC_POOL, .name = "max 2x2", .pool = {DLC_POOL_MAX, 2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 0, 1}, T_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "max 3x3 s2 p1 ceil", .pool = {DLC_POOL_MAX, 33, 7, 31, 29, 3, 3, 2, 2, 1, 1, 1, 1}, T_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "max 3x2 s1x3 ceil", .pool = {DLC_POOL_MAX, 3, 5, 17, 13, 3, 2, 1, 3, 1, 1, 1, 1}, T_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "max resnet stem", .pool = {DLC_POOL_MAX, 8, 64, 112, 112, 3, 3, 2, 2, 1, 1, 0, 1}, T_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "max 1x1", .pool = {DLC_POOL_MAX, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1}, T_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "avg 3x3 s2 p1 ceil", .pool = {DLC_POOL_AVG, 33, 7, 31, 29, 3, 3, 2, 2, 1, 1, 1, 1}, T_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "avg 3x3 s2 p1 ceil exclude pad", .pool = {DLC_POOL_AVG, 33, 7, 31, 29, 3, 3, 2, 2, 1, 1, 1, 0}, T_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "avg 2x2", .pool = {DLC_POOL_AVG, 4, 16, 32, 32, 2, 2, 2, 2, 0, 0, 0, 1}, T_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "avg 5x4 s3x2 p2 ceil exclude pad", .pool = {DLC_POOL_AVG, 3, 5, 17, 13, 5, 4, 3, 2, 2, 2, 1, 0}, T_POOL, .flags = OC_TEST},
    /* Windows that tile the input (the CPU's row loops), with rows and columns left over. */
    {.op = OC_POOL, .name = "max 2x2 tiling", .pool = {DLC_POOL_MAX, 3, 4, 15, 13, 2, 2, 2, 2, 0, 0, 0, 1}, T_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "avg 3x3 tiling", .pool = {DLC_POOL_AVG, 3, 4, 15, 13, 3, 3, 3, 3, 0, 0, 0, 1}, T_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "avg 2x3 tiling exclude pad", .pool = {DLC_POOL_AVG, 2, 3, 9, 10, 2, 3, 2, 3, 0, 0, 0, 0}, T_POOL, .flags = OC_TEST},
    /* global average over short planes (a warp each) and long ones (a block each) */
    {.op = OC_POOL, .name = "global 7x7", .pool = {DLC_POOL_GLOBAL_AVG, 32, 512, 7, 7, 0, 0, 0, 0, 0, 0, 0, 1}, T_GLOBAL_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "global 71x67", .pool = {DLC_POOL_GLOBAL_AVG, 3, 5, 71, 67, 0, 0, 0, 0, 0, 0, 0, 1}, T_GLOBAL_POOL, .flags = OC_TEST},
    {.op = OC_POOL, .name = "global 1x1", .pool = {DLC_POOL_GLOBAL_AVG, 2, 3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1}, T_GLOBAL_POOL, .flags = OC_TEST},
    /* the benchmark's (bench_conv.c caps N on the CPU and with --quick) */
    {.op = OC_POOL, .name = "maxpool 3x3 s2 p1 (resnet stem)", .pool = {DLC_POOL_MAX, 32, 64, 112, 112, 3, 3, 2, 2, 1, 1, 0, 1}, .flags = OC_BENCH},
    {.op = OC_POOL, .name = "maxpool 2x2 s2 (vgg)", .pool = {DLC_POOL_MAX, 128, 64, 32, 32, 2, 2, 2, 2, 0, 0, 0, 1}, .flags = OC_BENCH},
    {.op = OC_POOL, .name = "avgpool 2x2 s2", .pool = {DLC_POOL_AVG, 128, 64, 32, 32, 2, 2, 2, 2, 0, 0, 0, 1}, .flags = OC_BENCH},
    {.op = OC_POOL, .name = "avgpool 3x3 s1 p1 exclude pad", .pool = {DLC_POOL_AVG, 32, 64, 56, 56, 3, 3, 1, 1, 1, 1, 0, 0}, .flags = OC_BENCH},
    {.op = OC_POOL, .name = "global avgpool 7x7", .pool = {DLC_POOL_GLOBAL_AVG, 32, 2048, 7, 7, 0, 0, 0, 0, 0, 0, 0, 1}, .flags = OC_BENCH},
    {.op = OC_POOL, .name = "global avgpool 56x56", .pool = {DLC_POOL_GLOBAL_AVG, 32, 256, 56, 56, 0, 0, 0, 0, 0, 0, 0, 1}, .flags = OC_BENCH},

    /* 2-d and 4-d, small and large enough that each channel's values are split among
     * several blocks (chunks of uneven length, planes longer and shorter than a block) */
    BN(2, 3, 1, 1), BN(33, 17, 1, 1), BN(3, 5, 7, 9), BN(16, 64, 14, 14), BN(1, 2, 33, 65),
    BN(50, 3, 15, 20), BN(600, 2, 7, 5), BN(20001, 3, 1, 1),
    /* rows shorter than a warp, around the block size (255, 256, 257) and longer than
     * several blocks; row counts from 1 to past the 64 chunks the parameter sums split into */
    LN(1, 1), LN(3, 7), LN(64, 10), LN(5, 255), LN(33, 256), LN(2, 257), LN(129, 33),
    LN(7, 1000), LN(4500, 3), LN(3, 5000),

    {.op = OC_OPTIM, .name = "sgd nesterov", .optim = {DLC_OPT_SGD, 1000003}, T_OPTIM, .flags = OC_TEST},
    {.op = OC_OPTIM, .name = "adam", .optim = {DLC_OPT_ADAM, 1000003}, T_OPTIM, .flags = OC_TEST},
    {.op = OC_OPTIM, .name = "adamw", .optim = {DLC_OPT_ADAMW, 1000003}, T_OPTIM, .flags = OC_TEST},
    {.op = OC_CLIP, .name = "1000003+37+1", .clip = {{1000003, 37, 1}}, T_CLIP, .flags = OC_TEST},

    /* N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW */
    IM2COL("1x1", 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1),
    IM2COL("3x3 p1", 3, 5, 17, 13, 3, 3, 1, 1, 1, 1, 1, 1),
    IM2COL("3x2 strided dilated", 2, 3, 11, 29, 3, 2, 2, 1, 1, 0, 2, 3),
    IM2COL("7x7 over 6x7", 4, 2, 6, 7, 7, 7, 1, 1, 3, 3, 1, 1),
    IM2COL("5x5 s3x2", 2, 7, 33, 31, 5, 5, 3, 2, 2, 2, 1, 1),
    IM2COL("3x3 s2 64x64", 1, 16, 64, 64, 3, 3, 2, 2, 1, 1, 1, 1),
    /* rows wider than the CPU col2im's 256-column segments, strided and dilated */
    IM2COL("wide 600", 1, 2, 5, 600, 3, 4, 1, 3, 1, 2, 2, 2),
    IM2COL("wide 513", 1, 1, 3, 513, 1, 5, 1, 1, 0, 2, 1, 1),
    CHANNEL(1, 1, 1), CHANNEL(2, 3, 5), CHANNEL(33, 7, 31), CHANNEL(3, 257, 1),
    CHANNEL(5, 64, 3136), CHANNEL(2, 3, 5000),

    /* N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, groups */
    {.op = OC_CONV, .name = "3x3 p1", .conv = {3, 5, 17, 13, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1}, T_CONV, .flags = OC_TEST},
    {.op = OC_CONV, .name = "3x2 s2x1 dilated grouped, batch 33", .conv = {33, 4, 9, 11, 6, 3, 2, 2, 1, 1, 0, 2, 1, 2}, T_CONV, .flags = OC_TEST | OC_CONV_CHUNKED | OC_CONV_CUDNN_MORE},
    {.op = OC_CONV, .name = "depthwise", .conv = {2, 16, 31, 29, 16, 3, 3, 2, 2, 1, 1, 1, 1, 16}, T_CONV, .flags = OC_TEST | OC_CONV_CUDNN_MORE},
    {.op = OC_CONV, .name = "depthwise, multiplier 2", .conv = {3, 8, 13, 11, 16, 3, 3, 1, 1, 1, 1, 1, 1, 8}, T_CONV, .flags = OC_TEST | OC_CONV_CHUNKED},
    {.op = OC_CONV, .name = "1x1 (no im2col)", .conv = {5, 24, 15, 15, 12, 1, 1, 1, 1, 0, 0, 1, 1, 1}, T_CONV, .flags = OC_TEST},
    {.op = OC_CONV, .name = "grouped 1x1", .conv = {4, 12, 14, 14, 8, 1, 1, 1, 1, 0, 0, 1, 1, 4}, T_CONV, .flags = OC_TEST},
    {.op = OC_CONV, .name = "1x1 stride 2 (im2col)", .conv = {3, 6, 9, 9, 5, 1, 1, 2, 2, 0, 0, 1, 1, 1}, T_CONV, .flags = OC_TEST},
    {.op = OC_CONV, .name = "5x5 p2 64x48", .conv = {2, 3, 64, 48, 32, 5, 5, 1, 1, 2, 2, 1, 1, 1}, T_CONV, .flags = OC_TEST | OC_CONV_CHUNKED | OC_CONV_TIGHT},
    {.op = OC_CONV, .name = "kernel larger than the input", .conv = {7, 8, 6, 7, 9, 7, 7, 1, 1, 3, 3, 1, 1, 1}, T_CONV, .flags = OC_TEST},
    {.op = OC_CONV, .name = "LeNet's first, batch 1", .conv = {1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1}, T_CONV, .flags = OC_TEST},
    {.op = OC_CONV, .name = "resnet 3x3 64->64", .conv = {2, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1}, T_CONV, .flags = OC_TEST | OC_CONV_CUDNN_MORE},
    /* the benchmark's: the layers of small CNNs (bench_conv.c caps N on the CPU and --quick) */
    {.op = OC_CONV, .name = "lenet conv1 1->6 5x5 p2", .conv = {128, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1}, .flags = OC_BENCH},
    {.op = OC_CONV, .name = "lenet conv2 6->16 5x5", .conv = {128, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1}, .flags = OC_BENCH},
    {.op = OC_CONV, .name = "fmnist conv1 1->32 3x3", .conv = {128, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1}, .flags = OC_BENCH},
    {.op = OC_CONV, .name = "fmnist conv2 32->64 3x3", .conv = {128, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1}, .flags = OC_BENCH},
    {.op = OC_CONV, .name = "vgg 64->64 3x3", .conv = {128, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1}, .flags = OC_BENCH},
    {.op = OC_CONV, .name = "resnet 64->64 3x3", .conv = {32, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1}, .flags = OC_BENCH},
    {.op = OC_CONV, .name = "1x1 256->64", .conv = {32, 256, 56, 56, 64, 1, 1, 1, 1, 0, 0, 1, 1, 1}, .flags = OC_BENCH},
    {.op = OC_CONV, .name = "depthwise 3x3 128ch", .conv = {32, 128, 56, 56, 128, 3, 3, 1, 1, 1, 1, 1, 1, 128}, .flags = OC_BENCH},

    /* mode, layers, T, N, F, H, batch_first, last_only, with_h0, bias: N = 1, F = 1, H odd
     * and above a block */
    {.op = OC_RNN, .name = "tanh", .rnn = {DLC_RNN_TANH, 2, 37, 33, 19, 65, 0, 0, 1, 1}, T_RNN, .flags = OC_TEST},
    {.op = OC_RNN, .name = "relu bf", .rnn = {DLC_RNN_RELU, 1, 5, 7, 9, 257, 1, 0, 1, 1}, T_RNN, .flags = OC_TEST},
    {.op = OC_RNN, .name = "relu last no-h0", .rnn = {DLC_RNN_RELU, 2, 9, 5, 3, 31, 0, 1, 0, 1}, T_RNN, .flags = OC_TEST},
    {.op = OC_RNN, .name = "lstm bf", .rnn = {DLC_RNN_LSTM, 2, 37, 33, 19, 65, 1, 0, 1, 1}, T_RNN, .flags = OC_TEST},
    {.op = OC_RNN, .name = "lstm N1 F1 last no-h0 no-bias", .rnn = {DLC_RNN_LSTM, 1, 3, 1, 1, 129, 0, 1, 0, 0}, T_RNN, .flags = OC_TEST},
    {.op = OC_RNN, .name = "lstm 3 layers", .rnn = {DLC_RNN_LSTM, 3, 4, 64, 96, 128, 0, 0, 1, 1}, T_RNN, .flags = OC_TEST},
    {.op = OC_RNN, .name = "gru last", .rnn = {DLC_RNN_GRU, 2, 37, 33, 19, 65, 0, 1, 1, 1}, T_RNN, .flags = OC_TEST},
    {.op = OC_RNN, .name = "gru bf no-h0", .rnn = {DLC_RNN_GRU, 3, 6, 17, 31, 33, 1, 0, 0, 1}, T_RNN, .flags = OC_TEST},
    {.op = OC_RNN, .name = "gru T1 bf no-bias", .rnn = {DLC_RNN_GRU, 1, 1, 2, 5, 300, 1, 0, 1, 0}, T_RNN, .flags = OC_TEST},
    /* the benchmark's, one layer, F = H: per hidden size, the three modes */
    RNN_BENCH(100, 64, 512, OC_BENCH_GPU), RNN_BENCH(100, 64, 1024, OC_BENCH_GPU),
    RNN_BENCH(20, 64, 512, OC_BENCH_GPU_QUICK),
    RNN_BENCH(50, 16, 128, OC_BENCH_CPU), RNN_BENCH(50, 16, 256, OC_BENCH_CPU),
    RNN_BENCH(10, 8, 64, OC_BENCH_CPU_QUICK),
};
const int op_num_cases = (int)(sizeof op_cases / sizeof op_cases[0]);

static const char *const op_names[OC_COUNT] = {
    [OC_ELEMENTWISE] = "elementwise", [OC_RANDOM] = "random",   [OC_GEMM] = "gemm",
    [OC_ACT] = "act",                 [OC_DENSE] = "dense",     [OC_BIAS_GRAD] = "bias_grad",
    [OC_DROPOUT] = "dropout",         [OC_SOFTMAX] = "softmax", [OC_XENT] = "xent",
    [OC_MSE] = "mse",                 [OC_POOL] = "pool",       [OC_BATCHNORM] = "batchnorm",
    [OC_LAYERNORM] = "layernorm",     [OC_OPTIM] = "optim",     [OC_CLIP] = "clip",
    [OC_IM2COL] = "im2col",           [OC_CHANNEL] = "channel", [OC_CONV] = "conv",
    [OC_RNN] = "rnn",
};
_Static_assert(sizeof op_names / sizeof op_names[0] == OC_COUNT, "a name per op");

const char *oc_op_name(oc_op op) { return op >= 0 && op < OC_COUNT ? op_names[op] : NULL; }

const op_case *oc_bench_next(const op_case *after, oc_op op, int cuda, int quick) {
  const unsigned mode = cuda ? (quick ? OC_BENCH_GPU_QUICK : OC_BENCH_GPU) : (quick ? OC_BENCH_CPU_QUICK : OC_BENCH_CPU);
  for (const op_case *k = after ? after + 1 : op_cases; k < op_cases + op_num_cases; k++)
    if (k->op == op && (k->flags & mode)) return k;
  return NULL;
}
