/* The CUDA side of a context: device detection, stream and library handles, the caching
 * device allocator, copies. Built as stubs that report "built without CUDA" when
 * DLC_HAVE_CUDA is not defined. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DLC_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#ifdef DLC_HAVE_CUDNN
#include <cudnn.h>
#endif

#define CUDA_TRY(ctx, call)                                                                  \
  do {                                                                                       \
    cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess)                                                                   \
      return dlc_fail((ctx), DLC_ERR_CUDA, __FILE__, __LINE__, "%s: %s (%s)", #call,         \
                      cudaGetErrorString(e_), cudaGetErrorName(e_));                         \
  } while (0)

/* cuBLAS workspace handed to cublasSetWorkspace: 32 MiB is what NVIDIA recommends for
 * Hopper; it lets GEMMs run without cuBLAS allocating on its own. */
#define DLC_CUBLAS_WORKSPACE ((size_t)32 << 20)

dlc_status dlc_cuda_device_count(int *count, char *why, size_t len) {
  if (!count) return DLC_ERR_INVALID_ARG;
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  *count = e == cudaSuccess && n > 0 ? n : 0;
  if (*count > 0) return DLC_OK;
  if (why && len) {
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    if (e == cudaErrorInsufficientDriver && drv == 0)
      snprintf(why, len, "no CUDA driver found (runtime %d.%d)", rt / 1000,
               (rt % 1000) / 10);
    else if (e == cudaErrorInsufficientDriver)
      snprintf(why, len,
               "CUDA driver %d.%d is older than the runtime %d.%d this library was built with",
               drv / 1000, (drv % 1000) / 10, rt / 1000, (rt % 1000) / 10);
    else if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0))
      snprintf(why, len, "no CUDA device");
    else
      snprintf(why, len, "CUDA unavailable: %s", cudaGetErrorString(e));
  }
  (void)cudaGetLastError(); /* clear the sticky-free error so later calls start clean */
  return DLC_OK;
}

void dlc_runtime_versions(char *buf, size_t len) {
  if (!buf || !len) return;
  int drv = 0, rt = 0, ma = 0, mi = 0, pa = 0;
  cudaDriverGetVersion(&drv);
  cudaRuntimeGetVersion(&rt);
  char d[32] = "none";
  if (drv > 0) snprintf(d, sizeof d, "%d.%d", drv / 1000, (drv % 1000) / 10);
  int n = snprintf(buf, len, "CUDA driver %s, runtime %d.%d (built with %d.%d)", d, rt / 1000,
                   (rt % 1000) / 10, CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10);
  if (cublasGetProperty(MAJOR_VERSION, &ma) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &mi) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &pa) == CUBLAS_STATUS_SUCCESS && n >= 0 && (size_t)n < len)
    n += snprintf(buf + n, len - (size_t)n, "; cuBLAS %d.%d.%d (built with %d.%d.%d)", ma, mi, pa,
                  CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR, CUBLAS_VER_PATCH);
#ifdef DLC_HAVE_CUDNN
  size_t v = cudnnGetVersion();
  if (n >= 0 && (size_t)n < len)
    n += snprintf(buf + n, len - (size_t)n, "; cuDNN %zu.%zu.%zu (built with %d.%d.%d)", v / 10000,
                  (v % 10000) / 100, v % 100, CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL);
#else
  if (n >= 0 && (size_t)n < len) n += snprintf(buf + n, len - (size_t)n, "; cuDNN: not built");
#endif
#ifdef DLC_CUDA_EMULATED
  if (n >= 0 && (size_t)n < len) snprintf(buf + n, len - (size_t)n, " [emulated device: these are the headers' versions]");
#endif
}

static const char *cublas_msg(cublasStatus_t s) {
  return cublasGetStatusString(s);
}

dlc_status dlc_cuda_ctx_init(dlc_ctx *ctx, int index) {
  char why[256];
  int n = 0;
  dlc_cuda_device_count(&n, why, sizeof why);
  if (n == 0) return DLC_FAIL(ctx, DLC_ERR_DEVICE, "cuda:%d requested: %s", index, why);
  if (index < 0 || index >= n)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "cuda:%d requested but %d CUDA device%s found", index, n,
                    n == 1 ? " is" : "s are");
  CUDA_TRY(ctx, cudaSetDevice(index));
  ctx->device.kind = DLC_DEVICE_CUDA;
  ctx->device.index = index;
#ifdef DLC_CUDA_EMULATED
  snprintf(ctx->notice, sizeof ctx->notice,
           "cuda:%d is an EMULATED device (DLC_CUDA=EMULATE): the CUDA kernels run on the CPU, "
           "for tests; nothing measured here is a GPU's speed",
           index);
#endif
  cudaStream_t s;
  CUDA_TRY(ctx, cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  ctx->stream = s;
  cublasHandle_t h;
  cublasStatus_t bs = cublasCreate(&h);
  if (bs != CUBLAS_STATUS_SUCCESS)
    return DLC_FAIL(ctx, DLC_ERR_CUBLAS, "cublasCreate: %s", cublas_msg(bs));
  ctx->cublas = h;
  bs = cublasSetStream(h, s);
  if (bs != CUBLAS_STATUS_SUCCESS)
    return DLC_FAIL(ctx, DLC_ERR_CUBLAS, "cublasSetStream: %s", cublas_msg(bs));
  DLC_TRY(dlc_device_alloc(ctx, &ctx->cublas_ws, DLC_CUBLAS_WORKSPACE));
  ctx->cublas_ws_size = DLC_CUBLAS_WORKSPACE;
  bs = cublasSetWorkspace(h, ctx->cublas_ws, ctx->cublas_ws_size);
  if (bs != CUBLAS_STATUS_SUCCESS)
    return DLC_FAIL(ctx, DLC_ERR_CUBLAS, "cublasSetWorkspace: %s", cublas_msg(bs));
  DLC_TRY(dlc_cuda_set_tf32(ctx, ctx->opts.allow_tf32));
#ifdef DLC_HAVE_CUDNN
  /* cuDNN is an optional fast path: when it cannot start (a missing or mismatched
   * libcudnn, no memory for its handle), CUDA stays up, convolutions use im2col, and the
   * notice says why. Only algo = cudnn then fails, naming the reason. */
  cudnnHandle_t dh = NULL;
  cudnnStatus_t ds = cudnnCreate(&dh);
  if (ds == CUDNN_STATUS_SUCCESS) {
    ds = cudnnSetStream(dh, s);
    if (ds != CUDNN_STATUS_SUCCESS) cudnnDestroy(dh);
  }
  if (ds == CUDNN_STATUS_SUCCESS) {
    ctx->cudnn = dh;
  } else {
    size_t used = strlen(ctx->notice);
    snprintf(ctx->notice + used, sizeof ctx->notice - used,
             "%scuDNN unavailable on cuda:%d (%s, runtime version %zu): convolutions use im2col",
             used ? "; " : "", index, cudnnGetErrorString(ds), cudnnGetVersion());
  }
#endif
  return DLC_OK;
}

dlc_status dlc_cuda_set_tf32(dlc_ctx *ctx, int allow) {
  if (ctx->cublas == NULL) return DLC_OK;
  cublasStatus_t s = cublasSetMathMode((cublasHandle_t)ctx->cublas,
                                       allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
  if (s != CUBLAS_STATUS_SUCCESS)
    return DLC_FAIL(ctx, DLC_ERR_CUBLAS, "cublasSetMathMode: %s", cublas_msg(s));
  return DLC_OK;
}

void dlc_cuda_ctx_destroy(dlc_ctx *ctx) {
  if (ctx->stream) cudaStreamSynchronize((cudaStream_t)ctx->stream);
#ifdef DLC_HAVE_CUDNN
  if (ctx->cudnn) cudnnDestroy((cudnnHandle_t)ctx->cudnn);
#endif
  if (ctx->cublas) cublasDestroy((cublasHandle_t)ctx->cublas);
  if (ctx->cublas_ws) dlc_device_free(ctx, ctx->cublas_ws);
  ctx->cudnn = ctx->cublas = ctx->cublas_ws = NULL;
  dlc_ctx_release_cached(ctx);
  free(ctx->alloc.blocks);
  ctx->alloc.blocks = NULL;
  if (ctx->stream) cudaStreamDestroy((cudaStream_t)ctx->stream);
  ctx->stream = NULL;
}

/* The caching allocator. Blocks are kept in a flat list: a request takes the smallest
 * free block that fits without wasting more than half of it, else asks the driver; a freed
 * block goes back to the list. On a driver OOM the free blocks are released and the
 * request retried once. Sizes are rounded to 512 bytes so that near sizes share blocks. */
dlc_status dlc_device_alloc(dlc_ctx *ctx, void **p, size_t bytes) {
  *p = NULL;
  dlc_allocator *a = &ctx->alloc;
  size_t size = (bytes + 511) / 512 * 512;
  if (size == 0) size = 512;
  dlc_block *best = NULL;
  for (size_t i = 0; i < a->count; i++) {
    dlc_block *b = &a->blocks[i];
    if (!b->in_use && b->size >= size && b->size / 2 <= size && (!best || b->size < best->size))
      best = b;
  }
  if (!best) {
    if (a->count == a->capacity) {
      size_t cap = a->capacity ? a->capacity * 2 : 64;
      dlc_block *nb = realloc(a->blocks, cap * sizeof *nb);
      if (!nb) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "allocator bookkeeping: host OOM");
      a->blocks = nb;
      a->capacity = cap;
    }
    void *ptr = NULL;
    cudaError_t e = cudaMalloc(&ptr, size);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      dlc_ctx_release_cached(ctx);
      e = cudaMalloc(&ptr, size);
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      return DLC_FAIL(ctx, e == cudaErrorMemoryAllocation ? DLC_ERR_OUT_OF_MEMORY : DLC_ERR_CUDA,
                      "cudaMalloc of %zu bytes on cuda:%d failed (%s): %zu of %zu bytes free, "
                      "%zu held by this context",
                      size, ctx->device.index, cudaGetErrorString(e), free_b, total_b,
                      a->stats.bytes_cached);
    }
    a->stats.device_mallocs++;
    a->stats.bytes_cached += size;
    best = &a->blocks[a->count++];
    best->ptr = ptr;
    best->size = size;
  }
  best->in_use = 1;
  a->stats.bytes_in_use += best->size;
  if (a->stats.bytes_in_use > a->stats.peak_bytes_in_use)
    a->stats.peak_bytes_in_use = a->stats.bytes_in_use;
  *p = best->ptr;
  return DLC_OK;
}

void dlc_device_free(dlc_ctx *ctx, void *p) {
  if (!p) return;
  dlc_allocator *a = &ctx->alloc;
  for (size_t i = 0; i < a->count; i++)
    if (a->blocks[i].ptr == p && a->blocks[i].in_use) {
      a->blocks[i].in_use = 0;
      a->stats.bytes_in_use -= a->blocks[i].size;
      return;
    }
}

dlc_status dlc_ctx_release_cached(dlc_ctx *ctx) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  dlc_allocator *a = &ctx->alloc;
  if (a->count == 0) return DLC_OK;
  /* Kernels queued on the stream may still read a block freed to the cache. */
  if (ctx->stream) cudaStreamSynchronize((cudaStream_t)ctx->stream);
  size_t keep = 0;
  for (size_t i = 0; i < a->count; i++) {
    if (a->blocks[i].in_use) {
      a->blocks[keep++] = a->blocks[i];
    } else {
      cudaFree(a->blocks[i].ptr);
      a->stats.device_frees++;
      a->stats.bytes_cached -= a->blocks[i].size;
    }
  }
  a->count = keep;
  return DLC_OK;
}

dlc_status dlc_cuda_memcpy(dlc_ctx *ctx, void *dst, dlc_device dd, const void *src, dlc_device sd,
                           size_t bytes) {
  cudaStream_t s = (cudaStream_t)ctx->stream;
  int d_dev = dd.kind == DLC_DEVICE_CUDA, s_dev = sd.kind == DLC_DEVICE_CUDA;
  enum cudaMemcpyKind kind = d_dev ? (s_dev ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                   : cudaMemcpyDeviceToHost;
  CUDA_TRY(ctx, cudaMemcpyAsync(dst, src, bytes, kind, s));
  /* Host memory may be pageable and reused as soon as we return. */
  if (!d_dev || !s_dev) CUDA_TRY(ctx, cudaStreamSynchronize(s));
  return DLC_OK;
}

dlc_status dlc_cuda_sync(dlc_ctx *ctx) {
  CUDA_TRY(ctx, cudaStreamSynchronize((cudaStream_t)ctx->stream));
  return DLC_OK;
}

dlc_status dlc_host_alloc_pinned(dlc_ctx *ctx, void **p, size_t bytes) {
  if (ctx->device.kind != DLC_DEVICE_CUDA) return dlc_host_alloc(ctx, p, bytes);
  CUDA_TRY(ctx, cudaMallocHost(p, bytes ? bytes : 1));
  return DLC_OK;
}

void dlc_host_free_pinned(dlc_ctx *ctx, void *p) {
  if (!p) return;
  if (ctx->device.kind == DLC_DEVICE_CUDA)
    cudaFreeHost(p);
  else
    dlc_host_free(p);
}

dlc_status dlc_cuda_memcpy_async(dlc_ctx *ctx, void *dst, const void *src, size_t bytes, int to_device) {
  CUDA_TRY(ctx, cudaMemcpyAsync(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost,
                                (cudaStream_t)ctx->stream));
  return DLC_OK;
}

dlc_status dlc_cuda_event_create(dlc_ctx *ctx, void **ev) {
  cudaEvent_t e;
  CUDA_TRY(ctx, cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  *ev = e;
  return DLC_OK;
}

dlc_status dlc_cuda_event_record(dlc_ctx *ctx, void *ev) {
  CUDA_TRY(ctx, cudaEventRecord((cudaEvent_t)ev, (cudaStream_t)ctx->stream));
  return DLC_OK;
}

dlc_status dlc_cuda_event_wait_host(dlc_ctx *ctx, void *ev) {
  CUDA_TRY(ctx, cudaEventSynchronize((cudaEvent_t)ev));
  return DLC_OK;
}

void dlc_cuda_event_destroy(void *ev) {
  if (ev) cudaEventDestroy((cudaEvent_t)ev);
}

void dlc_cuda_thread_set_device(int index) { (void)cudaSetDevice(index); }

dlc_status dlc_cuda_check_launch(dlc_ctx *ctx, int err, const char *what, const char *file,
                                 int line) {
  if (err == cudaSuccess) return DLC_OK;
  return dlc_fail(ctx, DLC_ERR_CUDA, file, line, "launching %s: %s (%s)", what,
                  cudaGetErrorString((cudaError_t)err), cudaGetErrorName((cudaError_t)err));
}

#else /* !DLC_HAVE_CUDA */

void dlc_runtime_versions(char *buf, size_t len) {
  if (buf && len) snprintf(buf, len, "CUDA: not built");
}

dlc_status dlc_cuda_device_count(int *count, char *why, size_t len) {
  if (!count) return DLC_ERR_INVALID_ARG;
  *count = 0;
  if (why && len) snprintf(why, len, "libdlcuda was built without CUDA (DLC_CUDA=OFF or no toolkit found)");
  return DLC_OK;
}
dlc_status dlc_cuda_ctx_init(dlc_ctx *ctx, int index) {
  char why[128];
  int n;
  dlc_cuda_device_count(&n, why, sizeof why);
  return DLC_FAIL(ctx, DLC_ERR_DEVICE, "cuda:%d requested: %s", index, why);
}
void dlc_cuda_ctx_destroy(dlc_ctx *ctx) { (void)ctx; }
dlc_status dlc_device_alloc(dlc_ctx *ctx, void **p, size_t bytes) {
  *p = NULL;
  return DLC_FAIL(ctx, DLC_ERR_DEVICE, "device allocation of %zu bytes: built without CUDA", bytes);
}
void dlc_device_free(dlc_ctx *ctx, void *p) { (void)ctx; (void)p; }
dlc_status dlc_ctx_release_cached(dlc_ctx *ctx) { return ctx ? DLC_OK : DLC_ERR_INVALID_ARG; }
dlc_status dlc_cuda_memcpy(dlc_ctx *ctx, void *dst, dlc_device dd, const void *src, dlc_device sd,
                           size_t bytes) {
  (void)dst; (void)dd; (void)src; (void)sd; (void)bytes;
  return DLC_FAIL(ctx, DLC_ERR_DEVICE, "device copy: built without CUDA");
}
dlc_status dlc_cuda_sync(dlc_ctx *ctx) { (void)ctx; return DLC_OK; }
dlc_status dlc_host_alloc_pinned(dlc_ctx *ctx, void **p, size_t bytes) { return dlc_host_alloc(ctx, p, bytes); }
void dlc_host_free_pinned(dlc_ctx *ctx, void *p) { (void)ctx; dlc_host_free(p); }
dlc_status dlc_cuda_memcpy_async(dlc_ctx *ctx, void *dst, const void *src, size_t bytes, int to_device) {
  (void)dst; (void)src; (void)bytes; (void)to_device;
  return DLC_FAIL(ctx, DLC_ERR_DEVICE, "device copy: built without CUDA");
}
dlc_status dlc_cuda_event_create(dlc_ctx *ctx, void **ev) {
  *ev = NULL;
  return DLC_FAIL(ctx, DLC_ERR_DEVICE, "CUDA event: built without CUDA");
}
dlc_status dlc_cuda_event_record(dlc_ctx *ctx, void *ev) { (void)ctx; (void)ev; return DLC_OK; }
dlc_status dlc_cuda_event_wait_host(dlc_ctx *ctx, void *ev) { (void)ctx; (void)ev; return DLC_OK; }
void dlc_cuda_event_destroy(void *ev) { (void)ev; }
void dlc_cuda_thread_set_device(int index) { (void)index; }
dlc_status dlc_cuda_set_tf32(dlc_ctx *ctx, int allow) { (void)ctx; (void)allow; return DLC_OK; }
dlc_status dlc_cuda_check_launch(dlc_ctx *ctx, int err, const char *what, const char *file,
                                 int line) {
  (void)err;
  return dlc_fail(ctx, DLC_ERR_DEVICE, file, line, "launching %s: built without CUDA", what);
}
#endif
