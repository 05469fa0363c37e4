/* What the host files share and users never see: the context's innards, error macros,
 * the device allocator. */
#ifndef DLC_INTERNAL_H
#define DLC_INTERNAL_H

#include "dlcuda.h"

#include <stdarg.h>
#include <stdint.h>

#define DLC_MSG_LEN 1024

/* One cached device block. */
typedef struct dlc_block {
  void *ptr;
  size_t size;
  int in_use;
} dlc_block;

typedef struct dlc_allocator {
  dlc_block *blocks;
  size_t count, capacity;
  dlc_memory_stats stats;
} dlc_allocator;

struct dlc_ctx {
  dlc_device device;
  dlc_ctx_options opts;
  uint64_t rng_offset;
  char error[DLC_MSG_LEN];
  char notice[DLC_MSG_LEN];
  dlc_allocator alloc;
  void *stream;     /* cudaStream_t */
  void *cublas;     /* cublasHandle_t */
  void *cudnn;      /* cudnnHandle_t */
  void *cublas_ws;  /* cuBLAS workspace from our allocator, so GEMMs never cudaMalloc */
  size_t cublas_ws_size;
  int64_t write_fail_at; /* test hook (atomic_file.h): 0 = off, else fail after this - 1 bytes */
  dlc_cpu_gemm cpu_gemm;   /* opts.cpu_gemm resolved: OPENBLAS or ONEDNN */
  char cpu_gemm_info[160];
};

/* Records "file:line: message" as the context's error and returns code. A NULL ctx just
 * returns code. Never prints. */
dlc_status dlc_fail(dlc_ctx *ctx, dlc_status code, const char *file, int line, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
#define DLC_FAIL(ctx, code, ...) dlc_fail((ctx), (code), __FILE__, __LINE__, __VA_ARGS__)
/* Puts "what: " before the problem in the context's error (after its "status (file:line): "
 * part), so that a message from a shared helper names the file it was about; returns code. */
dlc_status dlc_error_prefix(dlc_ctx *ctx, dlc_status code, const char *what);

#define DLC_TRY(expr)                 \
  do {                                \
    dlc_status dlc_try_s_ = (expr);   \
    if (dlc_try_s_ != DLC_OK) return dlc_try_s_; \
  } while (0)

#define DLC_CHECK_NULL(ctx, p) \
  do { if ((p) == NULL) return DLC_FAIL((ctx), DLC_ERR_INVALID_ARG, "%s: %s is NULL", __func__, #p); } while (0)

/* Validates a shape and returns its element count in *numel (checked for overflow of
 * int64 and of size_t bytes with elem_size). */
dlc_status dlc_shape_numel(dlc_ctx *ctx, int ndim, const int64_t *shape, size_t elem_size,
                           int64_t *numel);
/* "[3, 4, 5]" into buf. */
const char *dlc_shape_str(const dlc_tensor *t, char *buf, size_t len);
/* Checks that t is a float32 tensor with data on a device this context can reach. */
dlc_status dlc_check_f32(dlc_ctx *ctx, const dlc_tensor *t, const char *what);
dlc_status dlc_check_device(dlc_ctx *ctx, dlc_device d);
/* t is a 4-d [n, c, h, w] tensor of dtype dt on dev; messages start with op. */
dlc_status dlc_check_nchw(dlc_ctx *ctx, const char *op, const dlc_tensor *t, const char *what,
                          dlc_dtype dt, int64_t n, int64_t c, int64_t h, int64_t w, dlc_device dev);
static inline int dlc_on_cuda(const dlc_tensor *t) { return t->device.kind == DLC_DEVICE_CUDA; }

/* Threads for the CPU loops: the context's count, or OpenMP's default when it is 0. Loops
 * shorter than DLC_OMP_MIN_WORK elements stay on one thread. */
int dlc_cpu_threads(const dlc_ctx *ctx);
#define DLC_OMP_MIN_WORK (1 << 15)

/* This thread's share [*lo, *hi) of n items inside an `omp parallel` region (all of them
 * outside one). Loops whose body depends on a runtime switch (the activation, the op) put
 * the switch inside the region and call an inlined range loop per case: an `omp parallel
 * for` would outline one loop for all cases, with the switch in it, unvectorised. */
#ifdef _OPENMP
#include <omp.h>
#endif
static inline void dlc_omp_range(int64_t n, int64_t *lo, int64_t *hi) {
#ifdef _OPENMP
  int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
  int64_t t = 0, nt = 1;
#endif
  int64_t chunk = (n + nt - 1) / nt;
  *lo = t * chunk < n ? t * chunk : n;
  *hi = *lo + chunk < n ? *lo + chunk : n;
}

/* Host memory, 64-byte aligned; fails cleanly on requests larger than physical memory. */
dlc_status dlc_host_alloc(dlc_ctx *ctx, void **p, size_t bytes);
void dlc_host_free(void *p);

/* Device memory through the caching allocator (cuda_runtime.c). */
dlc_status dlc_device_alloc(dlc_ctx *ctx, void **p, size_t bytes);
void dlc_device_free(dlc_ctx *ctx, void *p);

/* Page-locked host memory when the context runs on CUDA (fast asynchronous copies),
 * ordinary aligned memory otherwise. */
dlc_status dlc_host_alloc_pinned(dlc_ctx *ctx, void **p, size_t bytes);
void dlc_host_free_pinned(dlc_ctx *ctx, void *p);
/* Stream-ordered host<->device copy that returns at once; host memory should be pinned. */
dlc_status dlc_cuda_memcpy_async(dlc_ctx *ctx, void *dst, const void *src, size_t bytes, int to_device);
/* Events on the context's stream (cudaEvent_t as void*), for the loader's double buffer. */
dlc_status dlc_cuda_event_create(dlc_ctx *ctx, void **ev);
dlc_status dlc_cuda_event_record(dlc_ctx *ctx, void *ev);
dlc_status dlc_cuda_event_wait_host(dlc_ctx *ctx, void *ev);
/* Makes cuda:index current on the calling thread (a new host thread starts on device 0):
 * every thread that touches CUDA objects of a context calls it first. */
void dlc_cuda_thread_set_device(int index);
void dlc_cuda_event_destroy(void *ev);

/* CUDA side of the context, in cuda_runtime.c (stubs without CUDA). */
dlc_status dlc_cuda_ctx_init(dlc_ctx *ctx, int index);
void dlc_cuda_ctx_destroy(dlc_ctx *ctx);
dlc_status dlc_cuda_memcpy(dlc_ctx *ctx, void *dst, dlc_device dd, const void *src, dlc_device sd,
                           size_t bytes);
dlc_status dlc_cuda_sync(dlc_ctx *ctx);
dlc_status dlc_cuda_set_tf32(dlc_ctx *ctx, int allow);
/* Turns the last launch's error (a cudaError_t as int) into a status. */
dlc_status dlc_cuda_check_launch(dlc_ctx *ctx, int err, const char *what, const char *file,
                                 int line);
/* Code behind dlc_on_cuda() that names CUDA-only functions (launchers, kernel scratch
 * sizes) goes through DLC_CUDA_ONLY(expr, without): with CUDA it is expr; in a build without
 * CUDA no tensor can live on a CUDA device, so the code is unreachable, and expr is only
 * type-checked (sizeof does not evaluate its operand, so the function need not exist in
 * that build) while `without` stands in. No list of stubs to keep in step. */
#ifdef DLC_HAVE_CUDA
#define DLC_CUDA_ONLY(expr, without) (expr)
#else
#define DLC_CUDA_ONLY(expr, without) ((void)sizeof(expr), (without))
#endif
/* Runs a launcher and turns its error into a status naming `what` (without CUDA: "built
 * without CUDA"). */
#define DLC_LAUNCH(ctx, what, call) \
  dlc_cuda_check_launch((ctx), DLC_CUDA_ONLY((int)(call), 1), (what), __FILE__, __LINE__)

#endif
