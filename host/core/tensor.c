/* Tensors: allocation on either device, borrowing, copies, fill. */
#include <string.h>

#include "core/core_ops.h"

static dlc_status describe(dlc_ctx *ctx, dlc_tensor *t, dlc_dtype dtype, int ndim,
                           const int64_t *shape, dlc_device device) {
  if (dlc_dtype_size(dtype) == 0)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "dtype %d is not a dlc_dtype", (int)dtype);
  int64_t numel;
  DLC_TRY(dlc_shape_numel(ctx, ndim, shape, dlc_dtype_size(dtype), &numel));
  DLC_TRY(dlc_check_device(ctx, device));
  memset(t, 0, sizeof *t);
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->dtype = dtype;
  t->device = device;
  t->numel = numel;
  t->nbytes = (size_t)numel * dlc_dtype_size(dtype);
  return DLC_OK;
}

dlc_status dlc_tensor_alloc(dlc_ctx *ctx, dlc_tensor *t, dlc_dtype dtype, int ndim,
                            const int64_t *shape, dlc_device device) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, t);
  memset(t, 0, sizeof *t);
  dlc_tensor d;
  DLC_TRY(describe(ctx, &d, dtype, ndim, shape, device));
  if (device.kind == DLC_DEVICE_CUDA)
    DLC_TRY(dlc_device_alloc(ctx, &d.data, d.nbytes));
  else
    DLC_TRY(dlc_host_alloc(ctx, &d.data, d.nbytes));
  d.owns = 1;
  *t = d;
  return DLC_OK;
}

dlc_status dlc_tensor_borrow(dlc_ctx *ctx, dlc_tensor *t, void *data, dlc_dtype dtype, int ndim,
                             const int64_t *shape, dlc_device device) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, t);
  DLC_CHECK_NULL(ctx, data);
  DLC_TRY(describe(ctx, t, dtype, ndim, shape, device));
  t->data = data;
  return DLC_OK;
}

void dlc_tensor_free(dlc_ctx *ctx, dlc_tensor *t) {
  if (!t) return;
  if (t->owns && t->data) {
    if (t->device.kind == DLC_DEVICE_CUDA)
      dlc_device_free(ctx, t->data);
    else
      dlc_host_free(t->data);
  }
  memset(t, 0, sizeof *t);
}

dlc_status dlc_tensor_reshape(dlc_ctx *ctx, dlc_tensor *t, int ndim, const int64_t *shape) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, t);
  int64_t numel;
  DLC_TRY(dlc_shape_numel(ctx, ndim, shape, dlc_dtype_size(t->dtype), &numel));
  if (numel != t->numel) {
    char a[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "reshape of %s (%lld elements) to %lld elements",
                    dlc_shape_str(t, a, sizeof a), (long long)t->numel, (long long)numel);
  }
  t->ndim = ndim;
  for (int i = 0; i < DLC_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 0;
  return DLC_OK;
}

static dlc_status check_readable(dlc_ctx *ctx, const dlc_tensor *t, const char *what) {
  if (t == NULL) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s is NULL", what);
  if (t->data == NULL) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s has no data", what);
  return dlc_check_device(ctx, t->device);
}

static dlc_status raw_copy(dlc_ctx *ctx, void *dst, dlc_device dd, const void *src, dlc_device sd,
                           size_t bytes) {
  if (bytes == 0) return DLC_OK;
  if (dd.kind == DLC_DEVICE_CPU && sd.kind == DLC_DEVICE_CPU) {
    memmove(dst, src, bytes);
    return DLC_OK;
  }
  return dlc_cuda_memcpy(ctx, dst, dd, src, sd, bytes);
}

dlc_status dlc_tensor_copy(dlc_ctx *ctx, dlc_tensor *dst, const dlc_tensor *src) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_TRY(check_readable(ctx, dst, "dst"));
  DLC_TRY(check_readable(ctx, src, "src"));
  if (dst->dtype != src->dtype || dst->numel != src->numel) {
    char a[96], b[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "copy from %s %s to %s %s: sizes or dtypes differ",
                    dlc_dtype_name(src->dtype), dlc_shape_str(src, a, sizeof a),
                    dlc_dtype_name(dst->dtype), dlc_shape_str(dst, b, sizeof b));
  }
  return raw_copy(ctx, dst->data, dst->device, src->data, src->device, src->nbytes);
}

dlc_status dlc_tensor_upload(dlc_ctx *ctx, dlc_tensor *t, const void *host, size_t nbytes) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_TRY(check_readable(ctx, t, "tensor"));
  DLC_CHECK_NULL(ctx, host);
  if (nbytes != t->nbytes)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "upload of %zu bytes into a tensor of %zu bytes", nbytes,
                    t->nbytes);
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  return raw_copy(ctx, t->data, t->device, host, cpu, nbytes);
}

dlc_status dlc_tensor_download(dlc_ctx *ctx, const dlc_tensor *t, void *host, size_t nbytes) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_TRY(check_readable(ctx, t, "tensor"));
  DLC_CHECK_NULL(ctx, host);
  if (nbytes != t->nbytes)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "download of a tensor of %zu bytes into %zu bytes",
                    t->nbytes, nbytes);
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  return raw_copy(ctx, host, cpu, t->data, t->device, nbytes);
}

dlc_status dlc_tensor_fill(dlc_ctx *ctx, dlc_tensor *t, float value) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  return dlc_op_fill(ctx, t, value);
}
