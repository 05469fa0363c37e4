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
  DLC_I64 = 5,  /* storage only: counters (num_batches_tracked), files */
  DLC_DTYPE_COUNT
} dlc_dtype;

DLC_API size_t dlc_dtype_size(dlc_dtype t);
DLC_API const char *dlc_dtype_name(dlc_dtype t);

/* ---------------------------------------------------------------- context */

typedef struct dlc_ctx dlc_ctx;

/* The GEMM the CPU path runs (dense layers, each image of a convolution, RNN projections).
 * AUTO: oneDNN's where the build has it and the CPU has AVX-512 while OpenBLAS runs
 * kernels without it (its core detection or OPENBLAS_CORETYPE chose an older core; oneDNN
 * picks its kernels from the CPU itself); OpenBLAS otherwise. ONEDNN in a build without
 * oneDNN is an error. Names: "auto", "openblas", "onednn". */
typedef enum dlc_cpu_gemm {
  DLC_CPU_GEMM_AUTO = 0,
  DLC_CPU_GEMM_OPENBLAS,
  DLC_CPU_GEMM_ONEDNN,
  DLC_CPU_GEMM_COUNT
} dlc_cpu_gemm;

typedef struct dlc_ctx_options {
  dlc_device_kind device; /* AUTO (default), CPU or CUDA */
  int device_index;       /* CUDA ordinal, used when device is CUDA */
  uint64_t seed;          /* seed of the counter-based generator */
  int threads;            /* CPU threads for loops, OpenBLAS and oneDNN (both set process-wide:
                             openblas_set_num_threads, omp_set_num_threads); 0 = leave as is */
  int allow_tf32;         /* 1 lets cuBLAS use TF32 tensor cores; default 0 (exact fp32) */
  size_t workspace_limit; /* bytes of scratch a layer may use (im2col, ...); 0 = default */
  size_t host_alloc_limit; /* most bytes one host allocation may take (a tensor, a network's
                              parameters, ...); 0 = this machine's physical memory */
  dlc_cpu_gemm cpu_gemm;  /* the CPU's GEMM library (above); AUTO by default */
} dlc_ctx_options;

DLC_API dlc_ctx_options dlc_ctx_options_default(void);
/* Sets o's device from its name: "auto", "cpu", "cuda" (cuda:0) or "cuda:N" (N from 0 to
 * 1023); DLC_ERR_INVALID_ARG (o unchanged) for anything else. */
DLC_API dlc_status dlc_ctx_options_set_device(dlc_ctx_options *o, const char *name);

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
/* The CPU GEMM the context runs (OPENBLAS or ONEDNN: AUTO resolved), and a line naming it
 * with its version and kernels, e.g. "oneDNN 2.6.3" or "OpenBLAS 0.3.21 (Haswell kernels)". */
DLC_API dlc_cpu_gemm dlc_ctx_cpu_gemm(const dlc_ctx *ctx);
DLC_API const char *dlc_ctx_cpu_gemm_info(const dlc_ctx *ctx);
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

/* *count = the number of CUDA devices usable by this build and process (0 when none or
 * built without CUDA: not an error); when 0 and why is not NULL, a one-line reason is
 * written there ("no CUDA device", "CUDA driver 12.2 is older than the runtime 13.0 ...",
 * "built without CUDA"). DLC_ERR_INVALID_ARG only for a NULL count. */
DLC_API dlc_status dlc_cuda_device_count(int *count, char *why, size_t len);
/* Build facts: "cuda=ON cudnn=ON blas=openblas ..." (static string). */
DLC_API const char *dlc_build_info(void);
/* The CUDA driver, runtime, cuBLAS and cuDNN versions loaded in this process, each next to
 * the version the build was compiled against ("cuBLAS 13.0.2 (built with 13.0.2)"), into
 * buf; "CUDA: not built" without CUDA. */
DLC_API void dlc_runtime_versions(char *buf, size_t len);

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

/* Recurrent cells, with PyTorch's equations, gate order and parameter names:
 *   RNN_TANH / RNN_RELU (nn.RNN): h' = act(W_ih x + b_ih + W_hh h + b_hh)
 *   LSTM (nn.LSTM), gates i, f, g, o:  c' = f * c + i * g,  h' = o * tanh(c')
 *   GRU (nn.GRU), gates r, z, n:  n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
 *                                 h' = (1 - z) * n + z * h */
typedef enum dlc_rnn_mode {
  DLC_RNN_TANH = 0,
  DLC_RNN_RELU = 1,
  DLC_RNN_LSTM = 2,
  DLC_RNN_GRU = 3,
  DLC_RNN_MODE_COUNT
} dlc_rnn_mode;

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

/* ---------------------------------------------------------------- data sets */

/* A data set in host memory: `count` samples of channels x height x width (tabular data:
 * 1 x 1 x features), stored as uint8 pixels (images) or float32 features (CSV), and either
 * int32 labels in [0, num_classes) (classification) or float32 targets, num_targets per
 * sample (regression, from CSV). */
typedef struct dlc_dataset {
  int64_t count;
  int channels, height, width;
  int num_classes;      /* max label + 1; 0 for regression */
  uint8_t *pixels;      /* [count, C, H, W] for image sets, else NULL */
  float *features;      /* [count, C*H*W] for CSV, else NULL */
  int32_t *labels;      /* [count], or NULL for regression */
  float *targets;       /* [count, num_targets] for regression, else NULL */
  int num_targets;
  char source[256];     /* the file or folder it came from, for messages */
} dlc_dataset;

/* Keeps a fraction keep[c] (in [0, 1]) of the samples of each class c < nclasses (the
 * others whole), chosen from the seed, in their original order: an imbalanced training
 * set made from a balanced one. At least one sample must remain. */
DLC_API dlc_status dlc_dataset_subsample(dlc_ctx *ctx, dlc_dataset *ds, const float *keep, int64_t nclasses,
                                         uint64_t seed);
/* Per-class sample counts (labels only) into counts[0..nclasses); labels >= nclasses and
 * negative ones are not counted. */
DLC_API dlc_status dlc_dataset_class_counts(const dlc_dataset *ds, int64_t *counts, int64_t nclasses);

/* What a model needs of its data (dlc_model_load fills it from the model file). */
#define DLC_MAX_TARGETS 64
typedef struct dlc_data_spec {
  int64_t sample_values; /* input values per sample; a data set with others is refused
                            from its header, before its body is read (0: any) */
  int regression;        /* float targets (an [mse] model), else integer labels */
  int num_columns;       /* CSV: the label column (1), or the target columns ... */
  int columns[DLC_MAX_TARGETS]; /* ... 0-based, negative counting from the end (-1: last) */
} dlc_data_spec;

/* IDX image + label files (MNIST, Fashion-MNIST), plain or gzipped. */
DLC_API dlc_status dlc_dataset_load_idx(dlc_ctx *ctx, const char *images, const char *labels,
                                        dlc_dataset *out);
/* CIFAR-10 binary batches (each record: 1 label byte + 3072 pixel bytes). */
DLC_API dlc_status dlc_dataset_load_cifar10(dlc_ctx *ctx, const char *const *files, int nfiles,
                                            dlc_dataset *out);
/* CSV with a header line or not, numeric features and an integer label column
 * (label_column < 0 counts from the end: -1 is the last column). */
DLC_API dlc_status dlc_dataset_load_csv(dlc_ctx *ctx, const char *path, int label_column,
                                        dlc_dataset *out);
/* CSV for regression: the given columns (see dlc_data_spec) are float32 targets, in that
 * order, and every other column is a feature. */
DLC_API dlc_status dlc_dataset_load_csv_targets(dlc_ctx *ctx, const char *path, const int *columns, int ncolumns,
                                                dlc_dataset *out);
/* Opens the training (train = 1) or test split found at `path`: a folder of IDX files
 * ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]), a CIFAR-10 folder
 * (data_batch_{1..5}.bin, test_batch.bin), or a .csv file (train only) . */
DLC_API dlc_status dlc_dataset_open(dlc_ctx *ctx, const char *path, int train, dlc_dataset *out);
/* The same for a model with the needs in spec (NULL: none): its sample size, and labels or
 * regression targets from the CSV columns it names. A .csv file opened with train = 0 is
 * read whole (as a held-out set); image folders have no regression targets. */
DLC_API dlc_status dlc_dataset_open_spec(dlc_ctx *ctx, const char *path, int train, const dlc_data_spec *spec,
                                         dlc_dataset *out);
DLC_API void dlc_dataset_free(dlc_dataset *ds);
/* One IDX file of unsigned bytes (magic 0x000008nn, 1 to 4 dimensions, plain or gzipped) as
 * a new uint8 CPU tensor: t10k-images-idx3-ubyte.gz gives [N, H, W]. */
DLC_API dlc_status dlc_idx_load(dlc_ctx *ctx, const char *path, dlc_tensor *out);

/* Batches for training: shuffled from the seed each epoch, normalised, augmented, and
 * on the GPU copied asynchronously from pinned memory while the previous batch trains. */
typedef struct dlc_loader dlc_loader;
typedef struct dlc_loader_options {
  int64_t batch;
  int shuffle;          /* reshuffle every epoch from (seed, epoch) */
  int drop_last;        /* skip a last, smaller batch */
  float mean[3], std[3];/* per channel (images: applied to pixel / 255) */
  int normalize;        /* 1: (x - mean) / std; 0: pixels / 255 (features as they are) */
  int flip;             /* random horizontal flip with probability 1/2 */
  int crop_pad;         /* random crop after zero padding by this many pixels */
  float rotate;         /* random rotation by up to this many degrees either way (bilinear) */
  float erase;          /* probability of erasing a random rectangle (torchvision's
                           RandomErasing: 2-33 % of the area, aspect 0.3-3.3, value 0) */
  float brightness, contrast; /* jitter: factors drawn from [1 - b, 1 + b], [1 - c, 1 + c] */
  int balanced;         /* class-balanced sampling: each epoch draws `count` samples with
                           replacement, every class present equally often (labels only);
                           a function of (seed, epoch), so exact on resume */
  uint64_t seed;
} dlc_loader_options;
DLC_API dlc_loader_options dlc_loader_options_default(void);
DLC_API dlc_status dlc_loader_create(dlc_ctx *ctx, const dlc_dataset *ds,
                                     const dlc_loader_options *opts, dlc_loader **out);
/* Starts epoch `epoch` (its order and augmentation depend on seed and epoch only) at
 * batch `start` (for resuming). */
DLC_API dlc_status dlc_loader_start(dlc_loader *l, int64_t epoch, int64_t start);
/* The next batch as views x [n, C, H, W] and labels [n] (int32; for a regression data set
 * targets [n, num_targets], float32) on the context's device, valid until the next call;
 * *n = 0 at the end of the epoch. */
DLC_API dlc_status dlc_loader_next(dlc_loader *l, dlc_tensor *x, dlc_tensor *labels, int64_t *n);
DLC_API int64_t dlc_loader_batches(const dlc_loader *l);
/* The same normalisation without shuffling, class-balanced sampling or augmentation:
 * the loader options of an evaluation. */
DLC_API dlc_loader_options dlc_loader_options_eval(const dlc_loader_options *o);
/* Inputs for a model from a file: .npy (float32 taken as it is, or uint8 pixels) or IDX
 * (uint8 pixels, e.g. t10k-images-idx3-ubyte.gz), as a new float32 CPU tensor
 * [N, sample_shape...]. Pixels are normalised exactly as the loader normalises training
 * images under o (p / 255, then (v - mean[c]) / std[c] when o->normalize). A file holding
 * one sample without the batch dimension gives N = 1; values that do not split into whole
 * samples are an error naming the file and the sample size. */
DLC_API dlc_status dlc_input_load(dlc_ctx *ctx, const char *path, const dlc_loader_options *o, int ndim,
                                  const int64_t *sample_shape, dlc_tensor *out);
/* The same normalisation of n samples of uint8 pixels in memory (each `channels` planes of
 * `plane` pixels, each under 2^31) into out (n * channels * plane floats). */
DLC_API dlc_status dlc_input_pixels(dlc_ctx *ctx, const uint8_t *pixels, int64_t n, int64_t channels,
                                    int64_t plane, const dlc_loader_options *o, float *out);
DLC_API void dlc_loader_destroy(dlc_loader *l);

/* ---------------------------------------------------------------- networks */

/* A network: layers in order, each fed by the one before (residual layers also by a named
 * earlier one), then a loss head. Shapes are inferred as layers are added; dlc_net_build
 * lays out one parameter buffer, one gradient buffer and the activations, and initialises
 * the parameters as PyTorch does. Layers mirror nn.Sequential's modules one to one, so
 * layer k's parameters are PyTorch's "k.weight", "k.bias", ... */
typedef struct dlc_net dlc_net;

/* input_shape: one sample's shape ([C, H, W], [T, F] or [F]); max_batch: the largest
 * batch forward will see (activations are planned for it). */
DLC_API dlc_status dlc_net_create(dlc_ctx *ctx, int ndim, const int64_t *input_shape,
                                  int64_t max_batch, dlc_net **out);
DLC_API void dlc_net_destroy(dlc_net *net);

/* Layers (name may be NULL: "<kind><index>"). A dense layer acts on the last dimension, as
 * nn.Linear; an activation right after a dense layer is fused into its kernel. */
DLC_API dlc_status dlc_net_add_dense(dlc_net *net, const char *name, int64_t units, int bias);
DLC_API dlc_status dlc_net_add_activation(dlc_net *net, const char *name, dlc_act act, float slope);
DLC_API dlc_status dlc_net_add_dropout(dlc_net *net, const char *name, float p);
DLC_API dlc_status dlc_net_add_flatten(dlc_net *net, const char *name);
/* nn.BatchNorm1d on [N, F] or nn.BatchNorm2d on [N, C, H, W]. */
DLC_API dlc_status dlc_net_add_batchnorm(dlc_net *net, const char *name, float eps, float momentum);
DLC_API dlc_status dlc_net_add_layernorm(dlc_net *net, const char *name, int dims, float eps, int affine); /* nn.LayerNorm over the last dims (0: all) */
/* nn.Conv2d on [C, H, W] samples: kernel, stride, padding, dilation as {h, w} (stride,
 * pad and dilation may be NULL: 1, 0, 1); algo: im2col, cuDNN, or AUTO (timed at build). */
DLC_API dlc_status dlc_net_add_conv2d(dlc_net *net, const char *name, int64_t filters,
                                      const int64_t kernel[2], const int64_t stride[2],
                                      const int64_t pad[2], const int64_t dilation[2],
                                      int64_t groups, int bias, dlc_conv_algo algo);
/* nn.MaxPool2d / nn.AvgPool2d (stride NULL: the kernel; pad NULL: 0) or, for GLOBAL_AVG,
 * nn.AdaptiveAvgPool2d(1) (kernel, stride and pad ignored). */
DLC_API dlc_status dlc_net_add_pool(dlc_net *net, const char *name, dlc_pool_mode mode,
                                    const int64_t kernel[2], const int64_t stride[2],
                                    const int64_t pad[2], int ceil_mode, int count_include_pad);
/* nn.RNN / nn.LSTM / nn.GRU with batch_first=True on [T, F] samples: output [T, H], or the
 * last step's [H] with last_only. Parameters keep PyTorch's names (k.weight_ih_l0, ...). */
DLC_API dlc_status dlc_net_add_rnn(dlc_net *net, const char *name, dlc_rnn_mode mode, int64_t hidden,
                                   int layers, int last_only, int bias);
/* out = (previous output) + (output of the layer named `from`); shapes must match. */
DLC_API dlc_status dlc_net_add_residual(dlc_net *net, const char *name, const char *from);

/* The loss head: softmax cross-entropy over the last dimension with int32 labels (the
 * class weights, if any, are copied), or mean squared error against a float target. */
DLC_API dlc_status dlc_net_set_loss_xent(dlc_net *net, const dlc_xent_opts *opts);
DLC_API dlc_status dlc_net_set_loss_mse(dlc_net *net, dlc_reduction reduction);
/* Cross-entropy class weights from the training labels, as PyTorch's users and
 * scikit-learn's "balanced" compute them: n_samples / (n_classes * count_c), over the
 * model's classes (rows with the ignored label excluded); a class without samples gets 0.
 * Installs them in the loss head and copies them to weights[0..classes) (may be NULL). */
DLC_API dlc_status dlc_net_balance_class_weights(dlc_net *net, const dlc_dataset *ds, float *weights,
                                                 int64_t classes);

DLC_API dlc_status dlc_net_build(dlc_net *net);
/* A table of layer, kind, output shape, parameter count and forward FLOPs per sample. */
DLC_API dlc_status dlc_net_summary(const dlc_net *net, char *buf, size_t len);
DLC_API int64_t dlc_net_param_count(const dlc_net *net);
/* One sample's input shape, as given to dlc_net_create; returns its dimension count. */
DLC_API int dlc_net_input_shape(const dlc_net *net, int64_t shape[DLC_MAX_DIMS]);
/* One sample's output shape (of the last layer). */
DLC_API int dlc_net_output_shape(const dlc_net *net, int64_t shape[DLC_MAX_DIMS]);
/* A classifier's classes: its output's last dimension, for every model but a regression
 * one (an [mse] head), which gets 0. */
DLC_API int64_t dlc_net_classes(const dlc_net *net);

/* Runs the layers on x [n, input_shape...] (n <= max_batch) in training (dropout, batch
 * statistics) or evaluation mode; *out (may be NULL) becomes a view of the output. */
DLC_API dlc_status dlc_net_forward(dlc_net *net, const dlc_tensor *x, int train, dlc_tensor *out);

/* Real-time inference: a session runs the network in evaluation mode on batches of up to
 * max_batch (<= the network's) from host memory into host memory. Every buffer exists
 * once the session does (the network's are planned at build; the session adds the device
 * copy of the input), so dlc_infer_run allocates nothing: on a GPU it is a copy in, the
 * layers' kernels and a copy out on the context's stream, then one synchronisation. The
 * network must not be used for anything else while a call runs. */
typedef struct dlc_infer dlc_infer;
DLC_API dlc_status dlc_infer_create(dlc_net *net, int64_t max_batch, dlc_infer **out);
/* x: n samples of the input's values (float32, normalised as the model expects); y: room
 * for n * dlc_infer_output_values() floats (the raw outputs: logits or values). */
DLC_API dlc_status dlc_infer_run(dlc_infer *s, const float *x, int64_t n, float *y);
DLC_API int64_t dlc_infer_output_values(const dlc_infer *s);
DLC_API void dlc_infer_destroy(dlc_infer *s);
/* Any number of samples (x: n * input values, y: n * output values, host memory) in
 * evaluation mode, in batches of the network's size: what predicting a file takes. */
DLC_API dlc_status dlc_net_predict(dlc_net *net, const float *x, int64_t n, float *y);
/* A classifier's predictions: probs (n * classes) the softmax of each input's scores
 * (computed in double, the row's maximum subtracted) and best[i] its most likely class; an
 * input whose scores are not all finite ranks nothing: best[i] = -1 and its row holds the
 * raw scores. The output must be one row of class scores per input. */
DLC_API dlc_status dlc_net_predict_classes(dlc_net *net, const float *x, int64_t n, float *probs, int64_t *best);
/* The loss of the last forward against target (labels or values); *loss becomes a view of
 * a one-element tensor on the network's device. The input and target must stay valid until
 * backward. */
DLC_API dlc_status dlc_net_loss(dlc_net *net, const dlc_tensor *target, dlc_tensor *loss);
/* Backward from the loss (d loss = 1), or from a given gradient of the output; parameter
 * gradients accumulate into the gradient buffer (see dlc_net_zero_grad). */
DLC_API dlc_status dlc_net_backward(dlc_net *net);
DLC_API dlc_status dlc_net_backward_from(dlc_net *net, const dlc_tensor *dout);
DLC_API dlc_status dlc_net_zero_grad(dlc_net *net);
/* Asks backward to compute the input's gradient too; *dx becomes its view after backward. */
DLC_API dlc_status dlc_net_input_grad(dlc_net *net, int enable, dlc_tensor *dx);
/* The contiguous parameter and gradient buffers (what an optimizer steps over). */
DLC_API dlc_tensor *dlc_net_params(dlc_net *net);
DLC_API dlc_tensor *dlc_net_grads(dlc_net *net);
/* Parameter or buffer k (0 <= k < count) under its state_dict name ("3.weight",
 * "1.running_mean", in PyTorch's order and layout); value and grad (zeroed for buffers) are
 * views. Buffers are float32 on the network's device, except batchnorm's
 * num_batches_tracked: an int64 scalar in host memory, counting training forwards. */
DLC_API int dlc_net_tensor_count(const dlc_net *net);
DLC_API dlc_status dlc_net_tensor(dlc_net *net, int k, char *name, size_t len, dlc_tensor *value,
                                  dlc_tensor *grad, int *is_buffer);

/* ---------------------------------------------------------------- optimizers */

typedef enum dlc_optimizer_kind { DLC_OPT_SGD = 0, DLC_OPT_ADAM = 1, DLC_OPT_ADAMW = 2, DLC_OPT_COUNT } dlc_optimizer_kind;
typedef enum dlc_lr_schedule {
  DLC_LR_CONSTANT = 0,
  DLC_LR_STEP,   /* lr * gamma^(epoch / step_epochs) */
  DLC_LR_COSINE, /* from lr down to min_lr over total_steps (after warm-up) */
  DLC_LR_SCHEDULE_COUNT
} dlc_lr_schedule;

/* Names, one table per kind, spelled as model files and the command spell them:
 * optimizers "sgd", "adam", "adamw"; schedules "constant", "step", "cosine"; activations
 * "none", "tanh", "sigmoid", "relu", "leaky_relu"; CPU GEMMs "auto", "openblas", "onednn".
 * _name gives NULL for a value out of
 * range; _from_name gives DLC_ERR_INVALID_ARG for an unknown name (*out unchanged). */
DLC_API const char *dlc_optimizer_name(dlc_optimizer_kind k);
DLC_API dlc_status dlc_optimizer_from_name(const char *name, dlc_optimizer_kind *out);
DLC_API const char *dlc_lr_schedule_name(dlc_lr_schedule s);
DLC_API dlc_status dlc_lr_schedule_from_name(const char *name, dlc_lr_schedule *out);
DLC_API const char *dlc_act_name(dlc_act a);
DLC_API dlc_status dlc_act_from_name(const char *name, dlc_act *out);
DLC_API const char *dlc_cpu_gemm_name(dlc_cpu_gemm g);
DLC_API dlc_status dlc_cpu_gemm_from_name(const char *name, dlc_cpu_gemm *out);

/* PyTorch's update rules (torch.optim.SGD, Adam, AdamW) and clip_grad_norm_. */
typedef struct dlc_optim_options {
  dlc_optimizer_kind kind;
  float lr;
  float momentum, dampening; /* SGD */
  int nesterov;              /* SGD */
  float weight_decay;        /* SGD/Adam: L2 added to the gradient; AdamW: decoupled */
  float beta1, beta2, eps;   /* Adam, AdamW */
  float clip_norm;           /* > 0: clip the gradient's global norm to this */
  dlc_lr_schedule schedule;
  int64_t warmup_steps;      /* linear warm-up from lr / warmup_steps to lr */
  int64_t total_steps;       /* cosine: steps until min_lr */
  float min_lr;              /* cosine floor */
  int step_epochs;           /* step schedule: decay every step_epochs epochs ... */
  float gamma;               /* ... by this factor */
  int64_t steps_per_epoch;   /* step schedule: converts steps to epochs */
} dlc_optim_options;
DLC_API dlc_optim_options dlc_optim_options_default(void);

typedef struct dlc_optim dlc_optim;
/* An optimizer for a parameter buffer of nparams floats on the context's device. */
DLC_API dlc_status dlc_optim_create(dlc_ctx *ctx, const dlc_optim_options *opts, int64_t nparams,
                                    dlc_optim **out);
/* One update of params from grads (both [nparams], contiguous, on the context's device):
 * one fused kernel (plus a norm reduction when clipping). No host synchronisation. */
DLC_API dlc_status dlc_optim_step(dlc_optim *o, dlc_tensor *params, const dlc_tensor *grads);
/* The learning rate the next step will use. */
DLC_API float dlc_optim_lr(const dlc_optim *o);
/* The schedule's lengths, known once the loader is (dlc_fit sets them): steps per epoch
 * (the step schedule), total steps (cosine) and linear warm-up steps. */
DLC_API dlc_status dlc_optim_set_schedule_steps(dlc_optim *o, int64_t steps_per_epoch, int64_t total_steps,
                                                int64_t warmup_steps);
DLC_API int64_t dlc_optim_steps(const dlc_optim *o);
DLC_API dlc_optimizer_kind dlc_optim_kind(const dlc_optim *o);
/* The state for checkpoints: the step count and up to two state tensors (SGD momentum;
 * Adam m, v), NULL when the optimizer keeps none. */
DLC_API void dlc_optim_state(dlc_optim *o, int64_t **step, dlc_tensor **s1, dlc_tensor **s2);
DLC_API void dlc_optim_destroy(dlc_optim *o);

/* ---------------------------------------------------------------- training */

typedef struct dlc_epoch_stats {
  double loss;      /* mean loss per sample */
  double accuracy;  /* classification: arg-max equals the label */
  double mae;       /* regression ([mse]): mean absolute error per output value */
  int64_t samples;
  double seconds, samples_per_second;
} dlc_epoch_stats;

/* Called every few batches with the running means (reading them costs one device sync). */
typedef void (*dlc_progress_fn)(void *user, int64_t batch, int64_t nbatches,
                                const dlc_epoch_stats *so_far);

/* One epoch over the loader (started at `start_batch` of epoch `epoch`): forward, loss,
 * backward, optimizer step per batch. A NaN or infinite loss stops it with an error that
 * names the epoch and batch. cb may be NULL. */
DLC_API dlc_status dlc_net_train_epoch(dlc_net *net, dlc_optim *opt, dlc_loader *loader, int64_t epoch,
                                       int64_t start_batch, dlc_progress_fn cb, void *user,
                                       dlc_epoch_stats *stats);
/* As dlc_net_train_epoch, but stops after max_batches batches (<= 0: at the end of the epoch);
 * the loop continues with start_batch + the batches done. Training in pieces gives the
 * same parameters, bit for bit, as one call. */
DLC_API dlc_status dlc_net_train_batches(dlc_net *net, dlc_optim *opt, dlc_loader *loader, int64_t epoch,
                                         int64_t start_batch, int64_t max_batches, dlc_progress_fn cb,
                                         void *user, dlc_epoch_stats *stats);
/* Loss and accuracy over a whole loader in evaluation mode. */
DLC_API dlc_status dlc_net_evaluate(dlc_net *net, dlc_loader *loader, dlc_epoch_stats *stats);
/* The same, also counting confusion[label * classes + predicted] (classes x classes, the
 * model's classes; rows of an ignored label are not counted, nor a batch whose labels are
 * not one per row of scores), accumulated on the device. */
DLC_API dlc_status dlc_net_evaluate_confusion(dlc_net *net, dlc_loader *loader, dlc_epoch_stats *stats,
                                              int64_t *confusion, int64_t classes);
/* Per-class recall, precision and F1 from a confusion matrix (any of the arrays may be
 * NULL; a class with no samples, or never predicted, gets 0 where its ratio is 0/0), and
 * their macro averages over the classes that have samples: balanced accuracy is the mean
 * recall. */
typedef struct dlc_class_summary {
  double accuracy, balanced_accuracy, macro_precision, macro_f1;
  int64_t classes_present;
} dlc_class_summary;
DLC_API void dlc_class_metrics(const int64_t *confusion, int64_t classes, double *recall, double *precision,
                               double *f1, dlc_class_summary *summary);
/* A whole evaluation over a loader: loss and accuracy (regression: mean absolute error)
 * and, for a classifier (dlc_net_classes > 0), the confusion matrix and each
 * class's recall, precision and F1 with their summary. Start from a zeroed struct
 * (dlc_class_eval r = {0}); the arrays are allocated by the first call, reused by the next
 * ones on the same r, and freed by dlc_class_eval_free. */
typedef struct dlc_class_eval {
  dlc_epoch_stats stats;
  int64_t classes;            /* dlc_net_classes: 0 for a regression model */
  int have_classes;           /* rows with labels were counted (not for sequence outputs) */
  int64_t *confusion;         /* [classes x classes]: confusion[label * classes + predicted] */
  double *recall, *precision, *f1; /* [classes] each */
  dlc_class_summary summary;
} dlc_class_eval;
DLC_API dlc_status dlc_net_evaluate_classes(dlc_net *net, dlc_loader *loader, dlc_class_eval *r);
DLC_API void dlc_class_eval_free(dlc_class_eval *r);
/* Checks that a data set fits a network: sample shape (same element count: a [1, 28, 28]
 * image feeds a [784] or [28, 28] input) and labels within the output's classes. */
DLC_API dlc_status dlc_net_check_dataset(dlc_net *net, const dlc_dataset *ds);

/* ---------------------------------------------------------------- explanations */

/* What an image classifier's prediction for class cls[i] of input i rests on, for n inputs
 * x (host memory, n * C*H*W floats as the network takes them, in batches of the network's
 * size), from the gradient of that class's raw score (the logit), run on the context's
 * device in evaluation mode. Definitions as PyTorch computes them (tests/test_explain.c):
 *  - saliency: map [n, H, W] = max over channels of |d score / d x|;
 *  - Grad-CAM: map [n, H, W] = ReLU(sum_k w_k A_k) upsampled bilinearly (align_corners
 *    false) to the input, A [K, h, w] the output of layer `layer` (-1: the last conv2d,
 *    dlc_net_last_conv), w_k the spatial mean of d score / d A_k;
 *  - integrated gradients: attr [n, C, H, W] = (x - x0) * the mean over k = 1..steps of the
 *    gradient at x0 + k/steps (x - x0), x0 = baseline (C*H*W floats; NULL: zeros).
 * Each call runs backward: the parameters' gradients are added to (zero them before
 * training on); the input gradient setting (dlc_net_input_grad) is left as it was. */
DLC_API dlc_status dlc_net_saliency(dlc_net *net, const float *x, int64_t n, const int32_t *cls, float *map);
DLC_API dlc_status dlc_net_gradcam(dlc_net *net, const float *x, int64_t n, const int32_t *cls, int layer,
                                   float *map);
DLC_API dlc_status dlc_net_integrated_gradients(dlc_net *net, const float *x, int64_t n, const float *baseline,
                                                const int32_t *cls, int steps, float *attr);
/* Explanations of the inputs of a file, written as files: for each input i,
 * OUT/iiiii-METHOD.npy (the map [H, W]; ig: the attribution [C, H, W]) and
 * OUT/iiiii-METHOD.png (the input with the map over it: ig's |attribution| summed over
 * channels), and OUT/grid-METHOD.png with all of them. The input file is read as
 * dlc_input_load reads it under norm; ig's baseline is a black image, normalised so. The
 * folder is checked before any work. */
typedef enum dlc_explain_method {
  DLC_EXPLAIN_SALIENCY = 0, DLC_EXPLAIN_GRADCAM = 1, DLC_EXPLAIN_IG = 2, DLC_EXPLAIN_COUNT
} dlc_explain_method;
DLC_API const char *dlc_explain_method_name(dlc_explain_method m); /* "saliency", "gradcam", "ig" */
DLC_API dlc_status dlc_explain_method_from_name(const char *name, dlc_explain_method *out);
typedef struct dlc_explain_options {
  dlc_explain_method method;
  int klass;         /* the class explained; -1 (default): each input's predicted class */
  int layer;         /* Grad-CAM's layer; -1 (default): the last conv2d */
  int steps;         /* integrated gradients' steps; 0: 32 */
  int64_t first;     /* > 0: the first inputs only */
  const char *out;   /* the folder */
} dlc_explain_options;
DLC_API dlc_explain_options dlc_explain_options_default(void);
typedef struct dlc_explain_result {
  int64_t n;                 /* inputs explained */
  int64_t *predicted;        /* [n] each input's most likely class */
  float *probability;        /* [n] its probability */
  int32_t *explained;        /* [n] the class explained */
} dlc_explain_result;
DLC_API dlc_status dlc_net_explain_files(dlc_net *net, const char *input, const dlc_loader_options *norm,
                                         const dlc_explain_options *o, dlc_explain_result *r);
DLC_API void dlc_explain_result_free(dlc_explain_result *r);
/* The predictions for every input of a file (.npy or IDX, loaded and normalised under norm
 * as dlc_input_load does), as `dlcuda predict` prints them: a classifier's softmax
 * probabilities and most likely class, or any other model's outputs. Inputs whose values
 * are NaN or infinite are counted, not an error: the input or the weights hold them. */
typedef struct dlc_predictions {
  int64_t n, k;           /* inputs; values per input (the classes, or the outputs) */
  int classifier;         /* values are probabilities */
  float *values;          /* [n x k] */
  int64_t *best;          /* [n] the most likely class (other models: 0), -1 where the values
                             are not finite */
  int64_t bad, first_bad; /* inputs with values not finite, and the first of them (-1: none) */
} dlc_predictions;
DLC_API dlc_status dlc_net_predict_file(dlc_net *net, const char *input, const dlc_loader_options *norm,
                                        dlc_predictions *r);
DLC_API void dlc_predictions_free(dlc_predictions *r);
/* The index of the network's last conv2d layer, or -1. */
DLC_API int dlc_net_last_conv(const dlc_net *net);
/* Layer `name`'s index, or -1. */
DLC_API int dlc_net_layer_index(const dlc_net *net, const char *name);
/* A PNG of n images [n, C, H, W] (C = 1 or 3, each scaled to its own range) in a grid of
 * `cols` columns, each with its map [H, W] laid over it as a heat map (scaled from 0 to its
 * maximum) at opacity alpha, every pixel drawn as a scale x scale square; written atomically
 * after dlc_check_output_path's checks. */
DLC_API dlc_status dlc_png_save_overlay(dlc_ctx *ctx, const char *path, const float *image, int64_t n, int64_t cols,
                                        int64_t C, int64_t H, int64_t W, const float *map, int scale, float alpha);

/* ---------------------------------------------------------------- layer statistics */

/* What each layer did over the training steps since the statistics were last reset
 * (dlc_fit with layer_stats: one epoch). Accumulated on the network's device after every
 * training step's forward and backward (dlc_net_train_batches and everything built on it),
 * with no host synchronisation; reading them is one. */
typedef struct dlc_layer_stats {
  int layer;             /* its index in the network */
  char name[64];
  const char *kind;      /* "dense", "conv2d", "activation", ... (static) */
  /* The layer's output, over every value of every step: its mean and standard deviation
   * (population). Not for a view of its input (flatten), nor for a dense layer whose
   * activation was fused into it: its output is the activation's, reported there. */
  int has_output;
  double mean, std;
  /* has_dead (ReLU and leaky ReLU): dead = the fraction of units (output positions of a
   * sample) that were never positive for any sample of any step. */
  int has_dead;
  double dead;
  /* has_saturated (tanh and sigmoid): saturated = the fraction of output values within
   * 1 % of the range's ends (|y| > 0.99; sigmoid: y < 0.005 or y > 0.995). */
  int has_saturated;
  double saturated;
  /* A figure that does not apply, or covers no step, is NaN. */
  /* Layers with trainable parameters: the L2 norm of all of them now, and the mean over
   * the steps of the L2 norm of their gradient (before clipping). */
  int has_params;
  double weight_norm, grad_norm;
} dlc_layer_stats;

/* Starts (enable = 1: allocates the accumulators, zeroed) or stops (0: frees them)
 * collecting. A built network. */
DLC_API dlc_status dlc_net_layer_stats_enable(dlc_net *net, int enable);
/* Zeroes the accumulators (the next read covers the steps from now). */
DLC_API dlc_status dlc_net_layer_stats_reset(dlc_net *net);
/* One entry per layer into out[0 .. min(cap, layers)); *count (may be NULL) = the layers,
 * *steps (may be NULL) = the training steps accumulated. */
DLC_API dlc_status dlc_net_layer_stats_read(dlc_net *net, dlc_layer_stats *out, int cap, int *count,
                                            int64_t *steps);

/* ---------------------------------------------------------------- the training run */

/* What the run reports after each epoch. */
typedef struct dlc_fit_epoch {
  int64_t epoch;           /* from 0 */
  int epochs;              /* in the whole run */
  int resumed_mid_epoch;   /* this epoch began at a checkpoint's batch */
  int regression;          /* [mse]: the stats' mae is the metric, else accuracy */
  float lr;                /* the learning rate at the epoch's first step */
  dlc_epoch_stats train;   /* this call's part of the epoch */
  int have_test;           /* a test loader was given: test holds its figures */
  dlc_epoch_stats test;
  /* Classifiers with a test loader: the confusion matrix [classes x classes] (label-major),
   * each class's recall, precision and F1, and their summary; valid during the callback. */
  int64_t classes;
  int have_classes;        /* rows with labels were counted (not for sequence outputs) */
  int64_t *confusion;
  double *recall, *precision, *f1;
  dlc_class_summary summary;
  /* With layer_stats: each layer's statistics over this call's part of the epoch. */
  int nlayers;             /* entries in layers (0 without layer_stats) */
  const dlc_layer_stats *layers;
} dlc_fit_epoch;

typedef struct dlc_fit_options {
  int epochs;               /* of the whole run (a resumed run continues to this) */
  float warmup_epochs;      /* the optimizer's linear warm-up, in epochs of the loader */
  const char *checkpoint;   /* NULL, or saved at each epoch's end and every ... */
  int64_t checkpoint_every; /* ... this many batches (0: epoch ends only) */
  const char *resume;       /* NULL, or the checkpoint to continue from, exactly: read its
                               seed first (dlc_checkpoint_read_info, dlc_ctx_set_seed) and
                               make the loader after, so the data order is the saved run's */
  int64_t stop_after;       /* > 0: stop after this many batches (checkpointed) */
  const char *save;         /* NULL, or the trained weights (safetensors), written when the
                               run ends or stops */
  const char *log;          /* NULL, or the run's log (dlc_train_log_open; appended to when
                               resuming), a line after each epoch's on_epoch */
  /* The outputs (save, checkpoint, log) must be distinct; each is checked writable and
   * locked for this run before any training (dlc_check_output_path, dlc_file_lock_acquire):
   * a second run writing one of them is refused. When one fails after training began,
   * rescue = 1 (the default) saves the weights to the first of ., $TMPDIR and /tmp that
   * takes them, as dlcuda-rescued-PID.safetensors (dlc_fit_result.rescued). */
  int rescue;
  /* 1: collect the layer statistics each epoch (dlc_net_layer_stats_enable; a resumed
   * epoch's cover its part after the checkpoint), for on_epoch and the log. */
  int layer_stats;
  /* Every few batches, with the epoch's running means (one device sync); may be NULL. */
  void (*on_progress)(void *user, int64_t epoch, int64_t batch, int64_t nbatches,
                      const dlc_epoch_stats *so_far);
  /* After each epoch's evaluation, before its checkpoint; a status other than DLC_OK ends
   * the run with that status (the callback sets the context's error). May be NULL. */
  dlc_status (*on_epoch)(void *user, const dlc_fit_epoch *epoch);
  void *user;
} dlc_fit_options;
DLC_API dlc_fit_options dlc_fit_options_default(void);

typedef struct dlc_fit_result {
  int64_t batches;           /* trained by this call */
  int64_t batches_per_epoch; /* the training loader's */
  int64_t epoch, batch;      /* where the run stands: the next batch to train */
  int stopped;               /* stop_after ended it before its last epoch */
  int output_failed;         /* the error is an output that could not be written (save,
                                checkpoint, log) or on_epoch's, after training began */
  char rescued[1024];        /* where rescue saved the weights, or "" */
} dlc_fit_result;

/* The training run: for each epoch from the resume point to o->epochs, train (in pieces
 * between checkpoints: bit for bit the same as one piece), evaluate on `test` (may be
 * NULL), call on_epoch, log, checkpoint; at the end (or the stop), save. Sets the optimizer's schedule lengths (steps per epoch,
 * total steps, warm-up) from the loader. A NaN or infinite loss ends it with an error that
 * names the batch and the learning rate; *r still says how far it got (so a caller can
 * save what was trained). */
DLC_API dlc_status dlc_fit(dlc_net *net, dlc_optim *opt, dlc_loader *train, dlc_loader *test,
                           const dlc_fit_options *o, dlc_fit_result *r);

/* The run's log, one line per epoch: CSV (with a header line) or, for a path ending in
 * .jsonl, JSON lines (which also hold the recall per class). A resumed run appends
 * (append = 1); a new one empties the file. Every write is flushed and checked: a full
 * disk is an error naming the file, and so is a failed close. */
typedef struct dlc_train_log dlc_train_log;
DLC_API dlc_status dlc_train_log_open(dlc_ctx *ctx, const char *path, int append, int regression,
                                      dlc_train_log **out);
/* CSV: the header, whose columns are the figures of the epoch's layer statistics (each
 * layer's NAME.mean, NAME.std, NAME.dead, NAME.saturated, NAME.weight_norm, NAME.grad_norm
 * where they apply), or for a log appended to, the check that its header is that one;
 * done once, before the first line (dlc_fit calls it before training). */
DLC_API dlc_status dlc_train_log_begin(dlc_train_log *log, const dlc_fit_epoch *epoch);
DLC_API dlc_status dlc_train_log_epoch(dlc_train_log *log, const dlc_fit_epoch *epoch);
/* Closes (a NULL log is nothing to do); the status of the close. */
DLC_API dlc_status dlc_train_log_destroy(dlc_train_log *log);

/* ---------------------------------------------------------------- the training report */

typedef struct dlc_report_options {
  const char *title;       /* the heading (e.g. the model file); NULL: "Training report" */
  const char *subtitle;    /* a line under it (data, device), or NULL */
  const char *log;         /* the run's log (dlc_fit's CSV or .jsonl), or NULL: the loss and
                              accuracy curves, the learning rate, the layer statistics */
  const char *class_names; /* the classes' names, comma-separated (as many as classes), or
                              NULL/"": their numbers */
  int misclassified;       /* how many misclassified test images to show, most confident
                              first (default 32, at most 1024; 0: none) */
  int gradcam_layer;       /* their Grad-CAM's layer; -1 (default): the last conv2d */
} dlc_report_options;
DLC_API dlc_report_options dlc_report_options_default(void);

/* One self-contained HTML page about net and its run (inline SVG and PNG data: no scripts,
 * nothing fetched), written atomically after dlc_check_output_path's checks: the network
 * summary; from the log, the loss and accuracy (regression: mae) per epoch, train and test,
 * the learning rate and each layer's statistics as small plots; and for a classifier with
 * a labelled `test` set (normalised as `norm` says; test may be NULL), the confusion matrix,
 * each class's precision, recall and F1 with their macro averages, and the misclassified
 * images with the predicted class's Grad-CAM over them. The test set is run on the
 * network's device in evaluation mode; Grad-CAM adds to the parameters' gradients. A log
 * that cannot be read is an error naming its line. */
DLC_API dlc_status dlc_report_write(dlc_net *net, const dlc_dataset *test, const dlc_loader_options *norm,
                                    const dlc_report_options *o, const char *path);

/* ---------------------------------------------------------------- model files */

/* What a model file's [net] section says about training. */
typedef struct dlc_train_config {
  int64_t batch;
  int epochs;
  float warmup_epochs;
  dlc_optim_options optim;   /* schedule lengths are filled in by the trainer */
  dlc_loader_options loader; /* normalisation and augmentation */
  char data[512];            /* default data set folder or file */
  char class_names[1024];    /* [net] classes = the classes' names, comma-separated, or "" */
  dlc_data_spec data_spec;   /* what the model needs of its data ([net] targets = ...) */
  int balanced_class_weights; /* [softmax_xent] weights = balanced: the caller sets them
                                 from the training labels (dlc_net_balance_class_weights) */
} dlc_train_config;

/* Reads a model file (.cfg: INI sections in Darknet's spirit, parsed with libinih) and
 * builds its network for batches of up to `batch` (0: the file's). An unknown section or
 * key, a missing required key, a bad value or a shape that does not fit is an error naming
 * the file, line and key. cfg may be NULL. */
DLC_API dlc_status dlc_model_load(dlc_ctx *ctx, const char *path, int64_t batch, dlc_net **net,
                                  dlc_train_config *cfg);

/* ---------------------------------------------------------------- files */

/* Every file libdlcuda reads must be a regular file: a folder, FIFO, device or socket is
 * refused at once with a message naming it (never a blocking open). Every file it writes
 * is written atomically (see dlc_npy_save) after dlc_check_output_path's checks. */

/* Checks that path can be written as an output, before a long run makes it: its folder
 * exists and a file can be created in it, and path is not a folder or another non-regular
 * file. The message names the path and the reason (e.g. a read-only file system). */
DLC_API dlc_status dlc_check_output_path(dlc_ctx *ctx, const char *path);
/* An advisory lock that this process alone writes path: a POSIX record lock on PATH.lock
 * (which holds the owner's pid, and is removed on release). Held by another live process:
 * DLC_ERR_IO with a message naming path and that process. A process that dies releases
 * its locks. Used by `dlcuda train` for its checkpoint, log and saved weights. */
typedef struct dlc_file_lock dlc_file_lock;
DLC_API dlc_status dlc_file_lock_acquire(dlc_ctx *ctx, const char *path, dlc_file_lock **out);
DLC_API void dlc_file_lock_destroy(dlc_file_lock *lock);

/* Reads a .npy file (format 1.0-3.0, little-endian, C order) into a new CPU tensor:
 * float32, int32, uint8, or int64 converted to int32 (out-of-range values are an error).
 * A truncated, oversized or malformed file is an error naming the problem. */
DLC_API dlc_status dlc_npy_load(dlc_ctx *ctx, const char *path, dlc_tensor *out);
/* Writes a float32, int32, int64 or uint8 tensor (on any device) as .npy: to a temporary
 * file beside PATH whose name is unique to the writer (PATH.tmp.PID.N), fsync'd, then
 * renamed over PATH, so a failed write, or two processes writing PATH at once, never
 * leaves a broken or mixed file in its place. */
DLC_API dlc_status dlc_npy_save(dlc_ctx *ctx, const char *path, const dlc_tensor *t);

/* safetensors files: named tensors and string metadata, as PyTorch's
 * safetensors.torch.save_file / load_file write and read them. Reading checks every length
 * and offset against the file (the tensors must tile the data exactly: no overlap, no hole)
 * and names the offending tensor; tensors are read on demand. */
typedef struct dlc_safetensors dlc_safetensors;
typedef struct dlc_safetensors_tensor_info {
  const char *name;        /* valid until dlc_safetensors_destroy */
  const char *dtype_name;  /* the file's: "F32", "I64", "F64", ... */
  dlc_dtype dtype;         /* DLC_DTYPE_COUNT when libdlcuda has no such dtype */
  int ndim;                /* 0 for a scalar */
  int64_t shape[DLC_MAX_DIMS];
  int64_t numel;
  uint64_t nbytes;
} dlc_safetensors_tensor_info;

DLC_API dlc_status dlc_safetensors_open(dlc_ctx *ctx, const char *path, dlc_safetensors **out);
/* The same from bytes in memory, which must outlive the returned handle. */
DLC_API dlc_status dlc_safetensors_parse(dlc_ctx *ctx, const void *bytes, size_t len, dlc_safetensors **out);
DLC_API void dlc_safetensors_destroy(dlc_safetensors *st);
DLC_API int dlc_safetensors_count(const dlc_safetensors *st);
/* The index of the tensor called name, or -1. */
DLC_API int dlc_safetensors_find(const dlc_safetensors *st, const char *name);
DLC_API dlc_status dlc_safetensors_info(const dlc_safetensors *st, int k, dlc_safetensors_tensor_info *info);
/* Copies tensor k into dst (on any device), which must have its dtype and shape. */
DLC_API dlc_status dlc_safetensors_read(dlc_safetensors *st, int k, dlc_tensor *dst);
/* Tensor k as a new CPU tensor (free it with dlc_tensor_free). */
DLC_API dlc_status dlc_safetensors_load(dlc_safetensors *st, int k, dlc_tensor *out);
/* The __metadata__ entries; dlc_safetensors_metadata returns NULL for an absent key. */
DLC_API int dlc_safetensors_metadata_count(const dlc_safetensors *st);
DLC_API dlc_status dlc_safetensors_metadata_at(const dlc_safetensors *st, int i, const char **key,
                                               const char **value);
DLC_API const char *dlc_safetensors_metadata(const dlc_safetensors *st, const char *key);

typedef struct dlc_named_tensor {
  const char *name;
  const dlc_tensor *tensor; /* float32, float16, bfloat16, int32, int64 or uint8, any device */
} dlc_named_tensor;
/* Writes n tensors and nmeta metadata pairs (metadata[2i] = key, metadata[2i + 1] = value)
 * atomically, as dlc_npy_save does. Tensors are laid out widest dtype first
 * (each aligned to its element size), in the given order within a dtype size. */
DLC_API dlc_status dlc_safetensors_save(dlc_ctx *ctx, const char *path, const dlc_named_tensor *tensors,
                                        int n, const char *const *metadata, int nmeta);

/* A network's parameters and buffers as safetensors under their state_dict names, so that
 * nn.Sequential(...).load_state_dict(safetensors.torch.load_file(path)) loads them into the
 * same architecture, and the reverse. Loading is strict: a tensor missing from the file, a
 * tensor the network lacks, a wrong shape or dtype is an error naming the tensor (a
 * checkpoint's optimizer.* tensors are skipped). Metadata: format = pt. */
DLC_API dlc_status dlc_net_save_weights(dlc_net *net, const char *path);
DLC_API dlc_status dlc_net_load_weights(dlc_net *net, const char *path);
/* The parameters' gradients (after a backward) under the parameters' names, as
 * {name: p.grad for name, p in model.named_parameters()} would be saved. */
DLC_API dlc_status dlc_net_save_grads(dlc_net *net, const char *path);

/* Checkpoints: a safetensors file with the network's tensors, the optimizer's state
 * (optimizer.momentum_buffer or optimizer.exp_avg / optimizer.exp_avg_sq over the parameter
 * buffer) and, in __metadata__, the optimizer's step, the context's seed and generator
 * offset, and the place in the data (the epoch and its next batch; the loader's order is a
 * function of seed and epoch). Resuming from it reproduces the losses of a run never
 * stopped, bit for bit, on the same device and build (on a GPU, given deterministic
 * algorithms: a convolution with algo AUTO times cuDNN again in the new process and may
 * choose differently; im2col is deterministic). Written atomically, with the CRC-32 of its
 * data in __metadata__ "data_crc32": loading (as a checkpoint or as weights) refuses a file
 * whose data does not match it. */
typedef struct dlc_checkpoint_info {
  int64_t epoch;             /* the epoch to continue ... */
  int64_t batch;             /* ... at this batch (0: from its start) */
  int64_t batches_per_epoch; /* the loader's, so a resume can check it; 0 = not recorded */
  int64_t step;              /* optimizer steps taken (save: read from the optimizer) */
  uint64_t seed, rng_offset; /* the context's generator (save: read from the context) */
} dlc_checkpoint_info;
/* opt may be NULL (no optimizer state is written). */
DLC_API dlc_status dlc_checkpoint_save(dlc_net *net, dlc_optim *opt, const dlc_checkpoint_info *info,
                                       const char *path);
/* Restores the network, the optimizer (may be NULL: its state is skipped), the context's
 * seed and generator offset; *info (may be NULL) gets the place to continue from. Everything
 * is checked before anything is changed. */
DLC_API dlc_status dlc_checkpoint_load(dlc_net *net, dlc_optim *opt, const char *path, dlc_checkpoint_info *info);
/* Reads only the metadata (e.g. the seed, to create the loader before loading). */
DLC_API dlc_status dlc_checkpoint_read_info(dlc_ctx *ctx, const char *path, dlc_checkpoint_info *info);

/* ---------------------------------------------------------------- sessions */

/* A model file opened for work in one call: the model and its weights, then (EVAL) its data
 * set's test split or (TRAIN) its training split and held-out set, each checked against the
 * model, the imbalance settings applied (subsampling, then balanced class weights from what
 * remains), the loaders (the held-out set's without augmentation or balanced sampling) and
 * the optimizer. An error names what failed ("training data: ...", "model: ..."). */
typedef enum dlc_session_kind {
  DLC_SESSION_MODEL, /* the model and its weights only */
  DLC_SESSION_EVAL,  /* and the data's test split (a .csv file: read whole), with its loader */
  DLC_SESSION_TRAIN  /* and the training split, the held-out set if any, the optimizer */
} dlc_session_kind;

/* The upper limits a model file's [net] puts on these settings; the session options and
 * the dlcuda command's options keep to the same (lr: any finite value; erase, brightness,
 * contrast: 0 to 1). */
#define DLC_MAX_BATCH (1 << 20)
#define DLC_MAX_EPOCHS 1000000
#define DLC_MAX_ROTATE 180
typedef struct dlc_session_options {
  dlc_session_kind kind;  /* TRAIN by default */
  const char *model;      /* the model file */
  const char *weights;    /* safetensors to start from, or NULL */
  int64_t batch;          /* 0: the model file's */
  const char *data;       /* a data folder or .csv file; NULL: the model file's data = */
  const char *test_data;  /* TRAIN: the held-out set (a folder's test split, or a whole .csv
                             file); NULL: data's test split, when it has one */
  /* TRAIN: the model file's settings, replaced where these are set. A value outside its
   * range (DLC_MAX_* above; NaN) is an error naming it, before anything is opened. */
  int epochs;             /* 0: the file's */
  float lr;               /* 0: the file's */
  int optimizer;          /* a dlc_optimizer_kind, or -1 */
  int sampler;            /* 1 balanced, 0 uniform, -1 the file's */
  int class_weights;      /* 1 balanced, 0 none (a weights = list stays), -1 the file's */
  float rotate, erase, brightness, contrast; /* augmentation; < 0: the file's */
  const char *subsample;  /* "CLASS=FRACTION,...": keep that fraction of each named class's
                             training samples, chosen from the seed; NULL: all */
  int64_t steps;          /* > 0: the first steps x batch training samples only */
  const char *resume;     /* a checkpoint whose seed becomes the context's before the data
                             order is drawn (dlc_fit resumes from it) */
} dlc_session_options;
DLC_API dlc_session_options dlc_session_options_default(void);

typedef struct dlc_session {
  dlc_net *net;
  dlc_train_config cfg;          /* the model file's, with the options applied */
  char data[1024];               /* the data set opened */
  dlc_dataset train_set, test_set;
  int have_test;                 /* test_set and test hold the held-out set */
  int test_whole;                /* it is a whole .csv file, not a folder's test split */
  dlc_loader *train, *test;      /* NULL where there is no such set */
  dlc_optim *opt;                /* TRAIN */
  int64_t classes;               /* the model's classes; 0 for regression ([mse]) */
  int64_t count_before_subsample; /* the training samples before subsample, when it is set */
  float *class_weights;          /* [classes] when weights = balanced set them, else NULL */
  dlc_checkpoint_info resume;    /* the resume checkpoint's, when there is one */
  char notice[1024];             /* "" or why there is no held-out set */
} dlc_session;
DLC_API dlc_status dlc_session_open(dlc_ctx *ctx, const dlc_session_options *o, dlc_session **out);
DLC_API void dlc_session_destroy(dlc_session *s);

/* A network run on a .npy file, as PyTorch parity checks and scripts use it: the model file
 * built for the input's N samples (weights: NULL keeps the initial ones), the input
 * (float32 [N, ...], the model's input values per sample) run forward in evaluation mode
 * (or training mode), its output written to `output`; with grad_output (float32, the
 * output's size) also backward, writing the input's gradient and the parameters' (under
 * the weights' names). Every output path is checked before any work. */
typedef struct dlc_npy_run {
  const char *input, *output;
  int train;
  const char *grad_output;  /* NULL: forward only */
  const char *input_grad;   /* NULL, or DX.npy (needs grad_output) */
  const char *param_grads;  /* NULL, or G.safetensors (needs grad_output) */
} dlc_npy_run;
DLC_API dlc_status dlc_model_run_npy(dlc_ctx *ctx, const char *model, const char *weights, const dlc_npy_run *r);

#ifdef __cplusplus
}
#endif
#endif /* DLCUDA_H */
