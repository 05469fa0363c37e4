/* Status names, the context's error message, shape checks, host memory. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *dlc_status_string(dlc_status s) {
  static const char *names[DLC_STATUS_COUNT] = {
      "ok",           "invalid argument", "bad shape",       "device error",
      "out of memory", "CUDA error",      "cuBLAS error",    "cuDNN error",
      "unsupported",  "I/O error",        "malformed input", "non-finite value"};
  if ((int)s < 0 || s >= DLC_STATUS_COUNT) return "unknown status";
  return names[s];
}

static void append(char *dst, size_t cap, size_t *at, const char *src, size_t n) {
  if (*at + 1 >= cap) return;
  if (n > cap - 1 - *at) n = cap - 1 - *at; /* cut at the buffer's end */
  memcpy(dst + *at, src, n);
  *at += n;
  dst[*at] = '\0';
}

dlc_status dlc_error_prefix(dlc_ctx *ctx, dlc_status code, const char *what) {
  if (!ctx || !what) return code;
  char old[DLC_MSG_LEN];
  snprintf(old, sizeof old, "%s", ctx->error);
  const char *body = strstr(old, "): ");
  size_t head = body ? (size_t)(body - old) + 3 : 0, at = 0;
  ctx->error[0] = '\0';
  append(ctx->error, sizeof ctx->error, &at, old, head);
  append(ctx->error, sizeof ctx->error, &at, what, strlen(what));
  append(ctx->error, sizeof ctx->error, &at, ": ", 2);
  append(ctx->error, sizeof ctx->error, &at, old + head, strlen(old + head));
  return code;
}

dlc_status dlc_fail(dlc_ctx *ctx, dlc_status code, const char *file, int line, const char *fmt,
                    ...) {
  if (ctx == NULL) return code;
  /* Keep only the file's base name: the message names a place, not a build tree. */
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  int n = snprintf(ctx->error, sizeof ctx->error, "%s (%s:%d): ", dlc_status_string(code), base,
                   line);
  if (n < 0 || (size_t)n >= sizeof ctx->error) return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->error + n, sizeof ctx->error - (size_t)n, fmt, ap);
  va_end(ap);
  return code;
}

size_t dlc_dtype_size(dlc_dtype t) {
  switch (t) {
    case DLC_F32: case DLC_I32: return 4;
    case DLC_F16: case DLC_BF16: return 2;
    case DLC_U8: return 1;
    case DLC_I64: return 8;
    default: return 0;
  }
}

const char *dlc_dtype_name(dlc_dtype t) {
  switch (t) {
    case DLC_F32: return "float32";
    case DLC_F16: return "float16";
    case DLC_BF16: return "bfloat16";
    case DLC_I32: return "int32";
    case DLC_U8: return "uint8";
    case DLC_I64: return "int64";
    default: return "invalid dtype";
  }
}

dlc_status dlc_shape_numel(dlc_ctx *ctx, int ndim, const int64_t *shape, size_t elem_size,
                           int64_t *numel) {
  if (ndim < 0 || ndim > DLC_MAX_DIMS)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%d dimensions: a tensor has 0 to %d", ndim, DLC_MAX_DIMS);
  if (ndim > 0 && shape == NULL) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "shape is NULL");
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] <= 0)
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "dimension %d is %lld: sizes must be positive", i,
                      (long long)shape[i]);
    if (n > INT64_MAX / shape[i])
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "shape overflows: element count past 2^63 at dimension %d", i);
    n *= shape[i];
  }
  if (elem_size > 0 && (uint64_t)n > SIZE_MAX / elem_size)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "shape overflows: %lld elements of %zu bytes exceed size_t",
                    (long long)n, elem_size);
  *numel = n;
  return DLC_OK;
}

const char *dlc_shape_str(const dlc_tensor *t, char *buf, size_t len) {
  size_t at = 0;
  at += (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < t->ndim && at < len; i++)
    at += (size_t)snprintf(buf + at, len - at, i ? ", %lld" : "%lld", (long long)t->shape[i]);
  if (at < len) snprintf(buf + at, len - at, "]");
  return buf;
}

dlc_status dlc_check_device(dlc_ctx *ctx, dlc_device d) {
  if (d.kind == DLC_DEVICE_CPU) return DLC_OK;
  if (d.kind == DLC_DEVICE_CUDA) {
    if (ctx->device.kind != DLC_DEVICE_CUDA)
      return DLC_FAIL(ctx, DLC_ERR_DEVICE, "cuda:%d requested but this context runs on the CPU%s",
                      d.index, ctx->notice[0] ? " (see its notice)" : "");
    if (d.index != ctx->device.index)
      return DLC_FAIL(ctx, DLC_ERR_DEVICE, "cuda:%d requested but this context owns cuda:%d",
                      d.index, ctx->device.index);
    return DLC_OK;
  }
  return DLC_FAIL(ctx, DLC_ERR_DEVICE, "device kind %d is not CPU or CUDA", (int)d.kind);
}

dlc_status dlc_check_f32(dlc_ctx *ctx, const dlc_tensor *t, const char *what) {
  if (t == NULL) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s is NULL", what);
  if (t->data == NULL)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s has no data (freed or never allocated?)", what);
  if (t->dtype != DLC_F32)
    return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s is %s; this op takes float32", what,
                    dlc_dtype_name(t->dtype));
  return dlc_check_device(ctx, t->device);
}

dlc_status dlc_host_alloc(dlc_ctx *ctx, void **p, size_t bytes) {
  *p = NULL;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t phys = (pages > 0 && page > 0) ? (size_t)pages * (size_t)page : SIZE_MAX;
  if (bytes > phys)
    return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY,
                    "host allocation of %zu bytes exceeds this machine's %zu bytes of memory",
                    bytes, phys);
  size_t limit = ctx ? ctx->opts.host_alloc_limit : 0;
  if (limit > 0 && bytes > limit)
    return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY,
                    "host allocation of %zu bytes exceeds the context's limit of %zu bytes (dlc_ctx_options.host_alloc_limit)",
                    bytes, limit);
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  *p = aligned_alloc(64, rounded);
  if (*p == NULL)
    return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "host allocation of %zu bytes failed", bytes);
  return DLC_OK;
}

void dlc_host_free(void *p) { free(p); }

dlc_status dlc_check_nchw(dlc_ctx *ctx, const char *op, const dlc_tensor *t, const char *what,
                          dlc_dtype dt, int64_t n, int64_t c, int64_t h, int64_t w, dlc_device dev) {
  if (dt == DLC_F32) {
    DLC_TRY(dlc_check_f32(ctx, t, what));
  } else {
    if (!t || !t->data) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: %s is NULL or has no data", op, what);
    if (t->dtype != dt)
      return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s: %s is %s, expected %s", op, what,
                      dlc_dtype_name(t->dtype), dlc_dtype_name(dt));
    DLC_TRY(dlc_check_device(ctx, t->device));
  }
  if (t->ndim != 4 || t->shape[0] != n || t->shape[1] != c || t->shape[2] != h || t->shape[3] != w) {
    char a[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: %s is %s, expected [%lld, %lld, %lld, %lld]", op, what,
                    dlc_shape_str(t, a, sizeof a), (long long)n, (long long)c, (long long)h, (long long)w);
  }
  if (t->device.kind != dev.kind)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "%s: %s is on another device than its operands", op, what);
  return DLC_OK;
}
