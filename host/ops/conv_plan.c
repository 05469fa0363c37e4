/* Convolution planning: parameter and shape checks, output size, the batch chunking that
 * keeps the im2col scratch under the context's workspace limit, and the state's life. */
#include <stdlib.h>
#include <string.h>

#include "ops/conv.h"
#include "ops/conv_cudnn.h"

/* A chunk keeps each of its buffers under 2^31 elements, so the bodies index with int and
 * the GEMM dimensions fit BLAS's int. */
#define DLC_CHUNK_ELEMS_MAX ((int64_t)INT32_MAX)
/* Workspace areas start on 256-byte boundaries (cuBLAS reads aligned tiles faster). */
#define DLC_WS_ALIGN 64

dlc_conv2d_params dlc_conv2d_params_make(int64_t in_channels, int64_t out_channels,
                                         int64_t kernel_h, int64_t kernel_w) {
  dlc_conv2d_params p;
  memset(&p, 0, sizeof p);
  p.in_channels = in_channels;
  p.out_channels = out_channels;
  p.kernel_h = kernel_h;
  p.kernel_w = kernel_w;
  p.stride_h = p.stride_w = 1;
  p.dilation_h = p.dilation_w = 1;
  p.groups = 1;
  p.algo = DLC_CONV_AUTO;
  return p;
}

dlc_status dlc_conv_out_size(dlc_ctx *ctx, const char *what, int64_t in, int64_t kernel,
                             int64_t stride, int64_t pad, int64_t dilation, int64_t *out) {
  *out = 0;
  if (in <= 0 || kernel <= 0 || stride <= 0 || dilation <= 0 || pad < 0)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "conv2d %s: input %lld, kernel %lld, stride %lld, dilation %lld must be "
                    "positive and padding %lld >= 0",
                    what, (long long)in, (long long)kernel, (long long)stride, (long long)dilation,
                    (long long)pad);
  /* Every quantity below stays far from int64 overflow when these are under 2^31. */
  if (in > INT32_MAX || kernel > INT32_MAX || stride > INT32_MAX || dilation > INT32_MAX ||
      pad > INT32_MAX || in + 2 * pad > INT32_MAX)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "conv2d %s: input %lld with padding %lld (or kernel, stride, dilation) "
                    "overflows the 2^31 range of an image dimension",
                    what, (long long)in, (long long)pad);
  int64_t span = dilation * (kernel - 1) + 1, padded = in + 2 * pad;
  if (span > padded)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "conv2d %s: the kernel spans %lld (size %lld, dilation %lld), larger than "
                    "the padded input %lld (input %lld + 2 x padding %lld)",
                    what, (long long)span, (long long)kernel, (long long)dilation,
                    (long long)padded, (long long)in, (long long)pad);
  *out = (padded - span) / stride + 1;
  return DLC_OK;
}

static dlc_status check_params(dlc_ctx *ctx, const dlc_conv2d_params *p, int64_t batch) {
  if (p->in_channels <= 0 || p->out_channels <= 0 || batch <= 0)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "conv2d: batch %lld, in_channels %lld, out_channels %lld must be positive",
                    (long long)batch, (long long)p->in_channels, (long long)p->out_channels);
  if (p->groups <= 0)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "conv2d: groups %lld must be positive", (long long)p->groups);
  if (p->in_channels % p->groups || p->out_channels % p->groups)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "conv2d: in_channels %lld and out_channels %lld must both be divisible by "
                    "groups %lld",
                    (long long)p->in_channels, (long long)p->out_channels, (long long)p->groups);
  if (p->in_channels > INT32_MAX || p->out_channels > INT32_MAX || batch > INT32_MAX)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "conv2d: batch or channel count past 2^31");
  if ((int)p->algo < 0 || p->algo >= DLC_CONV_ALGO_COUNT)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "conv2d: algo %d is not a dlc_conv_algo", (int)p->algo);
  return DLC_OK;
}

dlc_conv_ws_layout dlc_conv_ws_layout_for(const dlc_conv2d_state *s, int dir, int64_t nb) {
  const dlc_conv2d_params *p = &s->p;
  int64_t P = s->out_h * s->out_w, G = p->groups, K = s->group_k, O = p->out_channels;
  int64_t col = nb * G * K * P;
  dlc_conv_ws_layout l = {0, 0, 0, 0, 0};
  if (dir == DLC_CONV_BWD_WEIGHTS) {
    /* a: the transposed column matrix (x itself for one image of a 1x1 convolution);
     * b: dy regrouped to [O][nb*P] (dy itself for one image). */
    l.a_len = s->skip_im2col && nb == 1 ? 0 : col;
    l.b_len = nb == 1 ? 0 : nb * O * P;
  } else {
    /* a: the weights tiled per image (grouped convolutions); b: the column matrix. */
    l.a_len = G > 1 ? nb * O * K : 0;
    l.b_len = s->skip_im2col ? 0 : col;
  }
  l.b = (l.a_len + DLC_WS_ALIGN - 1) / DLC_WS_ALIGN * DLC_WS_ALIGN;
  l.total = l.b_len ? l.b + l.b_len : l.a_len;
  return l;
}

/* Whether nb images fit in `bytes` and keep every chunk buffer indexable by int. */
static int chunk_fits(const dlc_conv2d_state *s, int dir, int64_t nb, size_t bytes) {
  const dlc_conv2d_params *p = &s->p;
  int64_t P = s->out_h * s->out_w;
  int64_t per_image[4] = {p->in_channels * s->height * s->width, p->out_channels * P,
                          p->groups * s->group_k * P, p->out_channels * s->group_k};
  for (int i = 0; i < 4; i++)
    if (per_image[i] > DLC_CHUNK_ELEMS_MAX / nb) return 0;
  dlc_conv_ws_layout l = dlc_conv_ws_layout_for(s, dir, nb);
  return (uint64_t)l.total <= bytes / sizeof(float);
}

int64_t dlc_conv_chunk_for(const dlc_conv2d_state *s, int dir, int64_t max_images, size_t bytes) {
  if (max_images < 1 || !chunk_fits(s, dir, 1, bytes)) return 0;
  /* The scratch grows with nb: binary search for the largest that fits. */
  int64_t lo = 1, hi = max_images;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (chunk_fits(s, dir, mid, bytes))
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* The im2col path as cuDNN's rival in AUTO's race (operands as dlc_conv_cudnn_run's). */
static dlc_status im2col_rival(dlc_ctx *ctx, const dlc_conv2d_state *s, int dir, int64_t n,
                               const float *a, const float *b, float *out, float *ws,
                               size_t ws_bytes) {
  if (dir == DLC_CONV_FWD) return dlc_conv_im2col_forward(ctx, s, ctx->device, n, a, b, NULL, out, ws, ws_bytes);
  if (dir == DLC_CONV_BWD_DATA)
    return dlc_conv_im2col_backward_data(ctx, s, ctx->device, n, a, b, out, ws, ws_bytes);
  return dlc_conv_im2col_backward_weights(ctx, s, ctx->device, n, a, b, out, ws, ws_bytes);
}

static const char *dir_name[DLC_CONV_DIRS] = {"forward", "backward-data", "backward-weights"};

dlc_status dlc_conv2d_create(dlc_ctx *ctx, const dlc_conv2d_params *p, int64_t batch,
                             int64_t height, int64_t width, dlc_conv2d_state **out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  DLC_CHECK_NULL(ctx, p);
  DLC_TRY(check_params(ctx, p, batch));
  int64_t oh, ow;
  DLC_TRY(dlc_conv_out_size(ctx, "height", height, p->kernel_h, p->stride_h, p->pad_h,
                            p->dilation_h, &oh));
  DLC_TRY(dlc_conv_out_size(ctx, "width", width, p->kernel_w, p->stride_w, p->pad_w,
                            p->dilation_w, &ow));
  /* Every tensor involved must have a representable size. */
  int64_t numel;
  int64_t xs[4] = {batch, p->in_channels, height, width}, ys[4] = {batch, p->out_channels, oh, ow};
  int64_t ws[4] = {p->out_channels, p->in_channels / p->groups, p->kernel_h, p->kernel_w};
  if (dlc_shape_numel(ctx, 4, xs, sizeof(float), &numel) != DLC_OK ||
      dlc_shape_numel(ctx, 4, ys, sizeof(float), &numel) != DLC_OK ||
      dlc_shape_numel(ctx, 4, ws, sizeof(float), &numel) != DLC_OK)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "conv2d: input [%lld, %lld, %lld, %lld] gives output [%lld, %lld, %lld, %lld] "
                    "and weight [%lld, %lld, %lld, %lld]: an element count overflows",
                    (long long)xs[0], (long long)xs[1], (long long)xs[2], (long long)xs[3],
                    (long long)ys[0], (long long)ys[1], (long long)ys[2], (long long)ys[3],
                    (long long)ws[0], (long long)ws[1], (long long)ws[2], (long long)ws[3]);
  int on_cuda = ctx->device.kind == DLC_DEVICE_CUDA;
#ifdef DLC_HAVE_CUDNN
  const char *no_cudnn = "cuDNN did not start on this device: see the context's notice";
#else
  const char *no_cudnn = "built without cuDNN";
#endif
  if (p->algo == DLC_CONV_CUDNN && !(on_cuda && dlc_conv_cudnn_available(ctx)))
    return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "conv2d: algo CUDNN needs a CUDA context and a "
                    "build with cuDNN (%s)", on_cuda ? no_cudnn : "this context runs on the CPU");

  dlc_conv2d_state *s = calloc(1, sizeof *s);
  if (!s) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "conv2d: host allocation of its state failed");
  s->p = *p;
  s->batch = batch;
  s->height = height;
  s->width = width;
  s->out_h = oh;
  s->out_w = ow;
  s->group_k = p->in_channels / p->groups * p->kernel_h * p->kernel_w;
  s->skip_im2col = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                   p->pad_h == 0 && p->pad_w == 0;
  /* Stride 1, no dilation, one group, and at most as many padded columns as output columns
   * (the wide path computes Wp = W + 2 pad_w of each output row, OW of them kept). */
  s->cpu_wide = !s->skip_im2col && p->stride_h == 1 && p->stride_w == 1 && p->dilation_h == 1 &&
                p->dilation_w == 1 && p->groups == 1 && p->kernel_w - 1 <= ow;
  dlc_conv_geom g = {1, (int)p->in_channels, (int)height, (int)width, (int)p->kernel_h,
                     (int)p->kernel_w, (int)p->stride_h, (int)p->stride_w, (int)p->pad_h,
                     (int)p->pad_w, (int)p->dilation_h, (int)p->dilation_w, (int)oh, (int)ow};
  s->geom = g;

  size_t limit = dlc_ctx_workspace_limit(ctx);
  for (int d = 0; d < DLC_CONV_DIRS; d++) {
    s->chunk[d] = dlc_conv_chunk_for(s, d, batch, limit);
    if (s->chunk[d] == 0) {
      dlc_conv_ws_layout l = dlc_conv_ws_layout_for(s, d, 1);
      dlc_conv2d_destroy(ctx, s);
      return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY,
                      "conv2d %s: one image needs %lld bytes of im2col workspace (or a buffer "
                      "past 2^31 elements) but the context's workspace limit is %zu bytes",
                      dir_name[d], (long long)l.total * 4, limit);
    }
  }

  size_t cudnn_bytes[DLC_CONV_DIRS] = {0, 0, 0};
  if (on_cuda && p->algo != DLC_CONV_IM2COL && dlc_conv_cudnn_available(ctx)) {
    /* AUTO: cuDNN times its best algorithm against the im2col path on the same buffers, and
     * the planner keeps the faster one per direction. */
    size_t im2col_bytes[DLC_CONV_DIRS];
    for (int d = 0; d < DLC_CONV_DIRS; d++)
      im2col_bytes[d] = (size_t)dlc_conv_ws_layout_for(s, d, s->chunk[d]).total * 4;
    int autotune = p->algo == DLC_CONV_AUTO;
    dlc_status st = dlc_conv_cudnn_setup(ctx, s, cudnn_bytes, autotune ? im2col_rival : NULL,
                                         im2col_bytes);
    if (st != DLC_OK) {
      dlc_conv2d_destroy(ctx, s);
      return st;
    }
    for (int d = 0; d < DLC_CONV_DIRS && autotune; d++)
      if (s->use_cudnn[d] && s->ms_im2col[d] <= s->ms_cudnn[d]) {
        s->use_cudnn[d] = 0;
        cudnn_bytes[d] = 0;
      }
  }
  /* A direction on cuDNN keeps room for one image of im2col: a call with a smaller batch
   * whose cuDNN workspace would not fit falls back to it. The CPU needs a slot per thread
   * (op_conv.c), not the chunk's column matrix. */
  size_t cpu_bytes = on_cuda ? 0 : dlc_conv_cpu_workspace_bytes(ctx, s, limit);
  for (int d = 0; d < DLC_CONV_DIRS; d++) {
    size_t need = s->use_cudnn[d] ? cudnn_bytes[d]
                  : on_cuda       ? (size_t)dlc_conv_ws_layout_for(s, d, s->chunk[d]).total * 4
                                  : cpu_bytes;
    size_t one = (size_t)dlc_conv_ws_layout_for(s, d, 1).total * 4;
    if (need < one) need = one;
    if (need > s->workspace_bytes) s->workspace_bytes = need;
  }
  for (int d = 0; d < DLC_CONV_DIRS; d++)
    if (s->use_cudnn[d]) s->chunk[d] = dlc_conv_chunk_for(s, d, batch, s->workspace_bytes);
  *out = s;
  return DLC_OK;
}

void dlc_conv2d_destroy(dlc_ctx *ctx, dlc_conv2d_state *s) {
  if (!s) return;
  dlc_conv_cudnn_destroy(ctx, s);
  free(s);
}

size_t dlc_conv2d_workspace_bytes(const dlc_conv2d_state *s) { return s ? s->workspace_bytes : 0; }

dlc_status dlc_conv2d_get_info(const dlc_conv2d_state *s, dlc_conv2d_info *out) {
  if (!s || !out) return DLC_ERR_INVALID_ARG;
  memset(out, 0, sizeof *out);
  out->out_h = s->out_h;
  out->out_w = s->out_w;
  out->workspace_bytes = s->workspace_bytes;
  for (int d = 0; d < DLC_CONV_DIRS; d++) {
    out->chunk[d] = s->chunk[d];
    out->use_cudnn[d] = s->use_cudnn[d];
    out->cudnn_fallbacks[d] = s->cudnn_fallbacks[d];
    out->ms_im2col[d] = s->ms_im2col[d];
    out->ms_cudnn[d] = s->ms_cudnn[d];
  }
  return DLC_OK;
}
