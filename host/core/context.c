/* The context: device choice, seed, threads, the last error and notice. */
#include "build_config.h"
#include "core/core_ops.h"
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* From OpenBLAS (its cblas.h declares it too); the thread count is process-wide there. */
void openblas_set_num_threads(int num_threads);

dlc_ctx_options dlc_ctx_options_default(void) {
  dlc_ctx_options o;
  memset(&o, 0, sizeof o);
  o.device = DLC_DEVICE_AUTO;
  o.seed = 0x5eed;
  o.workspace_limit = (size_t)256 << 20;
  return o;
}

dlc_status dlc_ctx_options_set_device(dlc_ctx_options *o, const char *name) {
  if (!o || !name) return DLC_ERR_INVALID_ARG;
  if (!strcmp(name, "auto") || !strcmp(name, "cpu") || !strcmp(name, "cuda")) {
    o->device = name[0] == 'a' ? DLC_DEVICE_AUTO : name[1] == 'p' ? DLC_DEVICE_CPU : DLC_DEVICE_CUDA;
    o->device_index = 0;
    return DLC_OK;
  }
  /* cuda:N, N written out in digits only (no sign, space or suffix) */
  if (strncmp(name, "cuda:", 5) || !name[5] || strlen(name + 5) > 4 || strspn(name + 5, "0123456789") != strlen(name + 5))
    return DLC_ERR_INVALID_ARG;
  int i = atoi(name + 5);
  if (i > 1023) return DLC_ERR_INVALID_ARG;
  o->device = DLC_DEVICE_CUDA;
  o->device_index = i;
  return DLC_OK;
}

static void set_threads(dlc_ctx *ctx, int threads) {
  ctx->opts.threads = threads;
  if (threads > 0) openblas_set_num_threads(threads);
#ifdef _OPENMP
  if (threads > 0) omp_set_num_threads(threads); /* oneDNN's GEMMs take OpenMP's count */
#endif
}

dlc_status dlc_ctx_create(dlc_ctx **out, const dlc_ctx_options *opts) {
  if (out == NULL) return DLC_ERR_INVALID_ARG;
  *out = NULL;
  dlc_ctx *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) return DLC_ERR_OUT_OF_MEMORY;
  *out = ctx;
  ctx->opts = opts ? *opts : dlc_ctx_options_default();
  if (ctx->opts.workspace_limit == 0) ctx->opts.workspace_limit = dlc_ctx_options_default().workspace_limit;
  ctx->device.kind = DLC_DEVICE_CPU;
  ctx->device.index = 0;
  if (ctx->opts.threads < 0)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "threads is %d: use 0 (default) or a positive count",
                    ctx->opts.threads);
  set_threads(ctx, ctx->opts.threads);
  DLC_TRY(dlc_cpu_gemm_init(ctx));
  switch (ctx->opts.device) {
    case DLC_DEVICE_CPU:
      return DLC_OK;
    case DLC_DEVICE_CUDA:
      return dlc_cuda_ctx_init(ctx, ctx->opts.device_index);
    case DLC_DEVICE_AUTO: {
      char why[256];
      int n = 0;
      if (dlc_cuda_device_count(&n, why, sizeof why) == DLC_OK && n == 0) {
        snprintf(ctx->notice, sizeof ctx->notice, "running on the CPU: %s", why);
        return DLC_OK;
      }
      dlc_status s = dlc_cuda_ctx_init(ctx, ctx->opts.device_index);
      if (s != DLC_OK) {
        snprintf(ctx->notice, sizeof ctx->notice, "running on the CPU: %.900s", ctx->error);
        dlc_cuda_ctx_destroy(ctx);
        ctx->device.kind = DLC_DEVICE_CPU;
        ctx->device.index = 0;
        ctx->error[0] = '\0';
      }
      return DLC_OK;
    }
  }
  return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "device kind %d is not AUTO, CPU or CUDA",
                  (int)ctx->opts.device);
}

void dlc_ctx_destroy(dlc_ctx *ctx) {
  if (!ctx) return;
  dlc_cuda_ctx_destroy(ctx);
  free(ctx);
}

const char *dlc_ctx_error(const dlc_ctx *ctx) { return ctx ? ctx->error : "no context"; }
const char *dlc_ctx_notice(const dlc_ctx *ctx) { return ctx ? ctx->notice : ""; }
void dlc_ctx_clear_error(dlc_ctx *ctx) { if (ctx) ctx->error[0] = '\0'; }

dlc_device dlc_ctx_device(const dlc_ctx *ctx) {
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  return ctx ? ctx->device : cpu;
}

int dlc_cpu_threads(const dlc_ctx *ctx) {
  if (ctx && ctx->opts.threads > 0) return ctx->opts.threads;
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int dlc_ctx_threads(const dlc_ctx *ctx) { return dlc_cpu_threads(ctx); }
size_t dlc_ctx_workspace_limit(const dlc_ctx *ctx) { return ctx ? ctx->opts.workspace_limit : 0; }
uint64_t dlc_ctx_seed(const dlc_ctx *ctx) { return ctx ? ctx->opts.seed : 0; }

dlc_status dlc_ctx_set_seed(dlc_ctx *ctx, uint64_t seed) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  ctx->opts.seed = seed;
  ctx->rng_offset = 0;
  return DLC_OK;
}

uint64_t dlc_ctx_rng_offset(const dlc_ctx *ctx) { return ctx ? ctx->rng_offset : 0; }
void dlc_ctx_set_rng_offset(dlc_ctx *ctx, uint64_t offset) { if (ctx) ctx->rng_offset = offset; }

dlc_status dlc_ctx_set_tf32(dlc_ctx *ctx, int allow) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  ctx->opts.allow_tf32 = allow != 0;
  return dlc_cuda_set_tf32(ctx, ctx->opts.allow_tf32);
}

dlc_status dlc_ctx_synchronize(dlc_ctx *ctx) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  return ctx->device.kind == DLC_DEVICE_CUDA ? dlc_cuda_sync(ctx) : DLC_OK;
}

void *dlc_ctx_cuda_stream(const dlc_ctx *ctx) { return ctx ? ctx->stream : NULL; }
void *dlc_ctx_cublas_handle(const dlc_ctx *ctx) { return ctx ? ctx->cublas : NULL; }
void *dlc_ctx_cudnn_handle(const dlc_ctx *ctx) { return ctx ? ctx->cudnn : NULL; }

dlc_memory_stats dlc_ctx_memory_stats(const dlc_ctx *ctx) {
  dlc_memory_stats z;
  memset(&z, 0, sizeof z);
  return ctx ? ctx->alloc.stats : z;
}

#define DLC_STR2(x) #x
#define DLC_STR(x) DLC_STR2(x)

const char *dlc_build_info(void) {
  return "libdlcuda " DLC_STR(DLC_VERSION_MAJOR) "." DLC_STR(DLC_VERSION_MINOR) "." DLC_STR(
      DLC_VERSION_PATCH)
#if defined(DLC_CUDA_EMULATED)
      " cuda=EMULATED (the CUDA device is emulated on the CPU, for tests: no GPU figures;"
      " toolkit headers " DLC_CUDART_VERSION ")"
#elif defined(DLC_HAVE_CUDA)
      " cuda=ON (toolkit " DLC_CUDART_VERSION ", archs " DLC_CUDA_ARCHS ")"
#else
      " cuda=OFF"
#endif
#ifdef DLC_HAVE_CUDNN
      " cudnn=ON"
#else
      " cudnn=OFF"
#endif
      " blas=openblas"
#ifdef DLC_HAVE_ONEDNN
      " onednn=ON"
#else
      " onednn=OFF"
#endif
#ifdef _OPENMP
      " openmp=ON"
#else
      " openmp=OFF"
#endif
      ;
}
