/* libdlcuda: a deep learning engine in C and CUDA. The public C API.
 *
 * Conventions:
 *  - every call returns a dlc_status; DLC_OK is 0. On failure the context keeps a
 *    one-line message saying what failed and where: dlc_ctx_error(ctx).
 *  - the library never exits, aborts or prints.
 *  - tensors are plain structs the caller owns; dlc_tensor_alloc fills one in,
 *    dlc_tensor_free releases what it owns. Layout is row-major (NCHW for images).
 */
#ifndef DLCUDA_H
#define DLCUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define DLC_API
#else
#define DLC_API __attribute__((visibility("default")))
#endif

#define DLC_VERSION_MAJOR 0
#define DLC_VERSION_MINOR 1
#define DLC_VERSION_PATCH 0

typedef enum dlc_status {
  DLC_OK = 0,
  DLC_ERR_INVALID_ARG,   /* a null pointer, a bad enum, an option out of range */
  DLC_ERR_SHAPE,         /* negative, zero where not allowed, overflowing or mismatched shapes */
  DLC_ERR_DEVICE,        /* no such device, no CUDA device, driver too old, built without CUDA */
  DLC_ERR_OUT_OF_MEMORY, /* host or device allocation failed or exceeds the memory there */
  DLC_ERR_CUDA,          /* a CUDA runtime call or a kernel launch failed */
  DLC_ERR_CUBLAS,        /* a cuBLAS call failed */
  DLC_ERR_CUDNN,         /* a cuDNN call failed */
  DLC_ERR_UNSUPPORTED,   /* a dtype or feature this build or op does not support */
  DLC_ERR_IO,            /* reading or writing a file failed */
  DLC_ERR_FORMAT,        /* a malformed file or value */
  DLC_ERR_NUMERIC,       /* NaN or Inf where a finite value is required */
  DLC_STATUS_COUNT
} dlc_status;

/* A fixed name for a status code ("invalid argument", ...); never NULL. */
DLC_API const char *dlc_status_string(dlc_status s);

typedef enum dlc_device_kind {
  DLC_DEVICE_AUTO = 0, /* only in dlc_ctx_options: CUDA when a device is usable, else CPU */
  DLC_DEVICE_CPU = 1,
  DLC_DEVICE_CUDA = 2
} dlc_device_kind;

typedef struct dlc_device {
  dlc_device_kind kind;
  int index; /* CUDA ordinal; 0 for the CPU */
} dlc_device;

typedef enum dlc_dtype {
  DLC_F32 = 0,
  DLC_F16 = 1,  /* reserved: storage only, no op supports it yet */
  DLC_BF16 = 2, /* reserved: storage only, no op supports it yet */
  DLC_I32 = 3,  /* labels, indices (argmax of pooling) */
  DLC_U8 = 4,
  DLC_DTYPE_COUNT
} dlc_dtype;

DLC_API size_t dlc_dtype_size(dlc_dtype t);
DLC_API const char *dlc_dtype_name(dlc_dtype t);

/* ---------------------------------------------------------------- context */

typedef struct dlc_ctx dlc_ctx;

typedef struct dlc_ctx_options {
  dlc_device_kind device; /* AUTO (default), CPU or CUDA */
  int device_index;       /* CUDA ordinal, used when device is CUDA */
  uint64_t seed;          /* seed of the counter-based generator */
  int threads;            /* CPU threads for loops and OpenBLAS; 0 = leave as is */
  int allow_tf32;         /* 1 lets cuBLAS use TF32 tensor cores; default 0 (exact fp32) */
  size_t workspace_limit; /* bytes of scratch a layer may use (im2col, ...); 0 = default */
} dlc_ctx_options;

DLC_API dlc_ctx_options dlc_ctx_options_default(void);

/* Creates a context. opts may be NULL for the defaults. On failure *out is still set
 * (unless host memory ran out) so that dlc_ctx_error() can say why; destroy it either way.
 * With device AUTO and no usable CUDA device, it falls back to the CPU and returns DLC_OK;
 * dlc_ctx_notice() then holds a one-line explanation. */
DLC_API dlc_status dlc_ctx_create(dlc_ctx **out, const dlc_ctx_options *opts);
DLC_API void dlc_ctx_destroy(dlc_ctx *ctx);

DLC_API const char *dlc_ctx_error(const dlc_ctx *ctx);  /* "" when none */
DLC_API const char *dlc_ctx_notice(const dlc_ctx *ctx); /* "" when none */
DLC_API void dlc_ctx_clear_error(dlc_ctx *ctx);
DLC_API dlc_device dlc_ctx_device(const dlc_ctx *ctx);
DLC_API int dlc_ctx_threads(const dlc_ctx *ctx); /* effective CPU threads */
DLC_API size_t dlc_ctx_workspace_limit(const dlc_ctx *ctx);
DLC_API dlc_status dlc_ctx_set_seed(dlc_ctx *ctx, uint64_t seed);
DLC_API uint64_t dlc_ctx_seed(const dlc_ctx *ctx);
DLC_API dlc_status dlc_ctx_set_tf32(dlc_ctx *ctx, int allow);
/* Waits for all work queued on the context's stream; a no-op on the CPU. */
DLC_API dlc_status dlc_ctx_synchronize(dlc_ctx *ctx);

/* The CUDA stream and library handles (cudaStream_t, cublasHandle_t, cudnnHandle_t)
 * as void*, NULL on the CPU or where the build lacks the library. */
DLC_API void *dlc_ctx_cuda_stream(const dlc_ctx *ctx);
DLC_API void *dlc_ctx_cublas_handle(const dlc_ctx *ctx);
DLC_API void *dlc_ctx_cudnn_handle(const dlc_ctx *ctx);

/* Device memory held by the context's caching allocator. */
typedef struct dlc_memory_stats {
  size_t bytes_in_use;     /* handed out to tensors now */
  size_t bytes_cached;     /* held from the driver, in use or free */
  size_t peak_bytes_in_use;
  uint64_t device_mallocs; /* cudaMalloc calls so far: constant once a step is warm */
  uint64_t device_frees;
} dlc_memory_stats;
DLC_API dlc_memory_stats dlc_ctx_memory_stats(const dlc_ctx *ctx);
/* Returns cached, unused device blocks to the driver. */
DLC_API dlc_status dlc_ctx_release_cached(dlc_ctx *ctx);

/* Number of CUDA devices usable by this build and process (0 when none or built without
 * CUDA); when 0 and why is not NULL, a one-line reason is written there ("no CUDA device",
 * "CUDA driver 12.2 is older than the runtime 13.0 ...", "built without CUDA"). */
DLC_API int dlc_cuda_device_count(char *why, size_t len);
/* Build facts: "cuda=ON cudnn=ON blas=openblas ..." (static string). */
DLC_API const char *dlc_build_info(void);

/* ---------------------------------------------------------------- tensors */

#define DLC_MAX_DIMS 5

typedef struct dlc_tensor {
  void *data;       /* host or device pointer to element 0 */
  int64_t shape[DLC_MAX_DIMS];
  int ndim;         /* 0 (a scalar) to DLC_MAX_DIMS */
  dlc_dtype dtype;
  dlc_device device;
  int64_t numel;    /* product of shape; 1 for a scalar */
  size_t nbytes;    /* numel * dtype size */
  int owns;         /* 1 when dlc_tensor_free must release data */
} dlc_tensor;

/* Allocates a contiguous tensor on `device` (CPU, or the context's CUDA device).
 * Contents are uninitialised. */
DLC_API dlc_status dlc_tensor_alloc(dlc_ctx *ctx, dlc_tensor *t, dlc_dtype dtype, int ndim,
                                    const int64_t *shape, dlc_device device);
/* Describes memory the caller owns; dlc_tensor_free leaves it alone. */
DLC_API dlc_status dlc_tensor_borrow(dlc_ctx *ctx, dlc_tensor *t, void *data, dlc_dtype dtype,
                                     int ndim, const int64_t *shape, dlc_device device);
/* Releases owned memory and zeroes the struct; safe on a zeroed or borrowed tensor. */
DLC_API void dlc_tensor_free(dlc_ctx *ctx, dlc_tensor *t);
/* Same element count, new shape; no copy. */
DLC_API dlc_status dlc_tensor_reshape(dlc_ctx *ctx, dlc_tensor *t, int ndim, const int64_t *shape);

/* Copies src into dst between any two devices; they must hold the same dtype and
 * element count. Host<->device copies are synchronous for the host side. */
DLC_API dlc_status dlc_tensor_copy(dlc_ctx *ctx, dlc_tensor *dst, const dlc_tensor *src);
/* Host buffer <-> tensor of nbytes == t->nbytes. */
DLC_API dlc_status dlc_tensor_upload(dlc_ctx *ctx, dlc_tensor *t, const void *host, size_t nbytes);
DLC_API dlc_status dlc_tensor_download(dlc_ctx *ctx, const dlc_tensor *t, void *host, size_t nbytes);

/* Sets every element of a float32 tensor to value. */
DLC_API dlc_status dlc_tensor_fill(dlc_ctx *ctx, dlc_tensor *t, float value);

/* Random numbers from Philox4x32-10 keyed by the context seed. Element i of the tensor is
 * a function of (seed, offset, i) alone, so CPU and GPU produce the same bits. The
 * context's counter advances by the amount used, so successive calls differ.
 *   uniform: [lo, hi)        normal: mean + std * N(0, 1) (Box-Muller) */
DLC_API dlc_status dlc_tensor_rand_uniform(dlc_ctx *ctx, dlc_tensor *t, float lo, float hi);
DLC_API dlc_status dlc_tensor_rand_normal(dlc_ctx *ctx, dlc_tensor *t, float mean, float std);
/* The generator's position: the next random call starts at this counter. */
DLC_API uint64_t dlc_ctx_rng_offset(const dlc_ctx *ctx);
DLC_API void dlc_ctx_set_rng_offset(dlc_ctx *ctx, uint64_t offset);

/* ---------------------------------------------------------------- layer vocabulary */

typedef enum dlc_act {
  DLC_ACT_NONE = 0,
  DLC_ACT_TANH,
  DLC_ACT_SIGMOID,
  DLC_ACT_RELU,
  DLC_ACT_LEAKY_RELU, /* x > 0 ? x : slope * x */
  DLC_ACT_COUNT
} dlc_act;

typedef enum dlc_reduction { DLC_REDUCE_MEAN = 0, DLC_REDUCE_SUM = 1 } dlc_reduction;

/* How a convolution layer computes, chosen per layer:
 *  IM2COL: im2col + GEMM (the library's kernels with cuBLAS, or OpenBLAS on the CPU);
 *  CUDNN:  cuDNN's convolutions (CUDA builds with cuDNN; the fastest algorithm that fits
 *          the workspace limit, else im2col);
 *  AUTO:   on a GPU with cuDNN, each direction (forward, backward-data, backward-weights)
 *          times both when the layer is built and keeps the faster; im2col elsewhere. */
typedef enum dlc_conv_algo {
  DLC_CONV_AUTO = 0,
  DLC_CONV_IM2COL = 1,
  DLC_CONV_CUDNN = 2,
  DLC_CONV_ALGO_COUNT
} dlc_conv_algo;

/* 2-D pooling with PyTorch's semantics (nn.MaxPool2d, nn.AvgPool2d,
 * nn.AdaptiveAvgPool2d(1)). */
typedef enum dlc_pool_mode {
  DLC_POOL_MAX = 0,
  DLC_POOL_AVG = 1,
  DLC_POOL_GLOBAL_AVG = 2,
  DLC_POOL_MODE_COUNT
} dlc_pool_mode;

/* Softmax cross-entropy with integer labels, with PyTorch's semantics (nn.CrossEntropyLoss):
 * per-class weights, label smoothing, an ignored label, mean or sum. */
typedef struct dlc_xent_opts {
  const dlc_tensor *class_weight; /* float32 [C] on the logits' device, or NULL */
  float label_smoothing;          /* in [0, 1] */
  int ignore_index;               /* rows with this label count for nothing; default -100 */
  dlc_reduction reduction;        /* MEAN divides by the summed weight of counted rows */
} dlc_xent_opts;
DLC_API dlc_xent_opts dlc_xent_opts_default(void);

/* ---------------------------------------------------------------- files */

/* Reads a .npy file (format 1.0-3.0, little-endian, C order) into a new CPU tensor:
 * float32, int32, uint8, or int64 converted to int32 (out-of-range values are an error).
 * A truncated, oversized or malformed file is an error naming the problem. */
DLC_API dlc_status dlc_npy_load(dlc_ctx *ctx, const char *path, dlc_tensor *out);
/* Writes a float32, int32 or uint8 tensor (on any device) as .npy: to PATH.tmp, fsync'd,
 * then renamed over PATH, so a failed write never leaves a broken file in its place. */
DLC_API dlc_status dlc_npy_save(dlc_ctx *ctx, const char *path, const dlc_tensor *t);

#ifdef __cplusplus
}
#endif
#endif /* DLCUDA_H */
