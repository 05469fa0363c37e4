/* Convolution forward and backward: argument checks, then cuDNN or the im2col path (see
 * conv.h for the GEMM shapes), chunk by chunk of the batch. */
#include <string.h>

#include "core/core_ops.h"
#include "ops/conv.h"
#include "ops/conv_cudnn.h"
#include "ops/ops.h"

static const char *dir_name[DLC_CONV_DIRS] = {"forward", "backward-data", "backward-weights"};

/* The chunk for n images in ws_bytes of scratch, or a clear error. */
static dlc_status chunk_or_fail(dlc_ctx *ctx, const dlc_conv2d_state *s, int dir, int64_t n,
                                size_t ws_bytes, int64_t *nb) {
  int64_t most = n < s->chunk[dir] ? n : s->chunk[dir];
  *nb = dlc_conv_chunk_for(s, dir, most, ws_bytes);
  if (*nb == 0)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG,
                    "conv2d %s: a workspace of %zu bytes is too small: one image needs %lld "
                    "(allocate dlc_conv2d_workspace_bytes() = %zu)",
                    dir_name[dir], ws_bytes, (long long)dlc_conv_ws_layout_for(s, dir, 1).total * 4,
                    s->workspace_bytes);
  return DLC_OK;
}

/* ws + off, without arithmetic on a NULL workspace (one that is never used). */
static float *area(float *ws, int64_t off) { return ws ? ws + off : NULL; }

/* A operand of the grouped GEMMs: W itself (stride 0) or W tiled nb times into ws. */
static dlc_status weights_operand(dlc_ctx *ctx, const dlc_conv2d_state *s, int on_cuda,
                                  const float *w, float *tile, int64_t nb, const float **A,
                                  int64_t *stride_a) {
  int64_t G = s->p.groups, OK = s->p.out_channels * s->group_k;
  *A = w;
  *stride_a = 0;
  if (G == 1) return DLC_OK;
  DLC_TRY(dlc_tile_run(ctx, on_cuda, w, (int)OK, (int)nb, tile));
  *A = tile;
  *stride_a = OK / G;
  return DLC_OK;
}

/* ---- the CPU path: whole images in parallel
 *
 * On the CPU the chunk-wide passes above stream nb*K*P floats of column matrix through
 * memory between im2col and the GEMMs, and split GEMMs of a few hundred rows across
 * threads. Instead each thread takes a contiguous share of the images and, image by image,
 * builds the column matrix in its own slot of the workspace (which stays in its core's
 * cache), multiplies it single-threaded, and for backward-data sums it back into the
 * image (col2im). Every image is computed alone, so the results do not depend on the
 * thread count; only backward-weights sums per-thread partial gradients, in thread order.
 * This needs BLAS calls that stay on their thread (dlc_blas_per_thread); otherwise one
 * thread walks the images and each GEMM uses the BLAS's own threads. */

/* The wide columns (forward and backward-weights of a stride-1, undilated, ungrouped
 * convolution). With the image zero-padded into xp [C][Hp][Wp] (Hp = H + 2 pad_h, Wp =
 * W + 2 pad_w), tap (c, kh, kw) of output (oh, ow) reads xp[c][oh + kh][ow + kw]: at flat
 * index c Hp Wp + kh Wp + kw + (oh Wp + ow). So over "wide" output positions q = oh Wp + ow
 * with ow running to Wp (the last KW - 1 of each row are not outputs), the column row of a
 * tap is the contiguous run xp[c Hp Wp + kh Wp + kw + q], q < OH Wp: one copy per tap (K of
 * them) instead of one per tap and output row (K OH of OW floats each, most of im2col's time
 * on small images). The GEMM then runs over OH Wp columns, (KW - 1) / OW more than OH OW,
 * and the output rows are copied out of its wide result (with the bias), or dy is spread
 * into wide rows with zeros in the extra columns for backward-weights. The last tap's run
 * ends KW - 1 floats past xp, which are kept as zeros. */
typedef struct wide_geom {
  int64_t C, H, W, Hp, Wp, OH, OW, Q, K, O, xp_len;
} wide_geom;

static wide_geom wide_of(const dlc_conv2d_state *s) {
  wide_geom g;
  g.C = s->p.in_channels, g.H = s->height, g.W = s->width;
  g.Hp = g.H + 2 * s->p.pad_h, g.Wp = g.W + 2 * s->p.pad_w;
  g.OH = s->out_h, g.OW = s->out_w, g.Q = g.OH * g.Wp;
  g.K = s->group_k, g.O = s->p.out_channels;
  g.xp_len = g.C * g.Hp * g.Wp + s->p.kernel_w - 1;
  return g;
}

/* Floats of one image's wide scratch: xp, the wide columns [K][Q], the wide output or
 * output gradient [O][Q]. */
static int64_t wide_len(const dlc_conv2d_state *s) {
  wide_geom g = wide_of(s);
  return g.xp_len + g.K * g.Q + g.O * g.Q;
}

/* Floats of per-thread scratch for direction dir: a column slot [G][K][P] (none for a 1x1
 * convolution) or the wide scratch, and for backward-weights a partial dW [O][K] after it. */
static int64_t cpu_slot_len_for(const dlc_conv2d_state *s, int dir, int wide) {
  int64_t col = wide ? wide_len(s) : s->skip_im2col ? 0 : s->p.groups * s->group_k * s->out_h * s->out_w;
  return col + (dir == DLC_CONV_BWD_WEIGHTS ? s->p.out_channels * s->group_k : 0);
}

/* Whether direction dir takes the wide columns with ws_bytes of scratch: one image's wide
 * scratch must fit (one thread of backward-weights adds into dw, with no partial), and
 * under 2^31 floats, so that every GEMM dimension fits BLAS's int. */
static int cpu_wide_for(const dlc_conv2d_state *s, int dir, size_t ws_bytes) {
  int64_t len = s->cpu_wide ? wide_len(s) : 0;
  return s->cpu_wide && dir != DLC_CONV_BWD_DATA && len < INT32_MAX && (uint64_t)len <= ws_bytes / sizeof(float);
}

static int64_t cpu_slot_len(const dlc_conv2d_state *s, int dir, size_t ws_bytes) {
  return cpu_slot_len_for(s, dir, cpu_wide_for(s, dir, ws_bytes));
}

/* Threads for n images of direction dir in ws_bytes of scratch: the context's, at most one
 * per image and per slot that fits; 1 with BLAS calls that do not stay on their thread
 * (that one thread's GEMMs then use the BLAS's own threads). */
static int cpu_threads_for(dlc_ctx *ctx, const dlc_conv2d_state *s, int dir, int64_t n,
                           size_t ws_bytes) {
  int64_t nt = dlc_blas_per_thread(ctx) ? dlc_cpu_threads(ctx) : 1, len = cpu_slot_len(s, dir, ws_bytes);
  if (nt > n) nt = n;
  if (len > 0 && nt > (int64_t)(ws_bytes / sizeof(float)) / len)
    nt = (int64_t)(ws_bytes / sizeof(float)) / len;
  return nt < 1 ? 1 : (int)nt;
}

size_t dlc_conv_cpu_workspace_bytes(dlc_ctx *ctx, const dlc_conv2d_state *s, size_t limit) {
  /* The most any direction's threads take; one thread of backward-weights needs no partial
   * dW, only its column slot. */
  int64_t most = 0;
  for (int d = 0; d < DLC_CONV_DIRS; d++) {
    int nt = cpu_threads_for(ctx, s, d, s->batch, limit);
    int64_t len = cpu_slot_len(s, d, limit);
    if (d == DLC_CONV_BWD_WEIGHTS && nt == 1) len -= s->p.out_channels * s->group_k;
    if (nt * len > most) most = nt * len;
  }
  return (size_t)most * sizeof(float);
}

static int omp_thread(void) {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

static int omp_team(void) {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

/* Image x's column matrix [G][K][P] in col (x itself for a 1x1 convolution). */
static const float *image_col(const dlc_conv2d_state *s, const float *x, float *col) {
  if (s->skip_im2col) return x;
  dlc_im2col_cpu_image(s->geom, x, col); /* geom.N is 1 */
  return col;
}

static void forward_image(const dlc_ctx *ctx, const dlc_conv2d_state *s, const float *x, const float *w,
                          const float *bias, float *y, float *col) {
  int64_t G = s->p.groups, K = s->group_k, Og = s->p.out_channels / G, P = s->out_h * s->out_w;
  const float *B = image_col(s, x, col);
  for (int64_t g = 0; g < G; g++) /* y_g [Og, P] = W_g [Og, K] col_g [K, P] */
    dlc_sgemm_cpu(ctx, 0, 0, Og, P, K, 1.f, w + g * Og * K, K, B + g * K * P, P, 0.f, y + g * Og * P, P);
  for (int64_t o = 0; bias && o < G * Og; o++) { /* y += b while the image is in cache */
    float bo = bias[o], *yr = y + o * P;
    for (int64_t p = 0; p < P; p++) yr[p] += bo;
  }
}

static void backward_data_image(const dlc_ctx *ctx, const dlc_conv2d_state *s, const float *dy, const float *w,
                                float *dx, float *col) {
  int64_t G = s->p.groups, K = s->group_k, Og = s->p.out_channels / G, P = s->out_h * s->out_w;
  /* col_g [K, P] = W_g^T dy_g; a 1x1 convolution's col is dx itself. */
  float *C = s->skip_im2col ? dx : col;
  for (int64_t g = 0; g < G; g++)
    dlc_sgemm_cpu(ctx, 1, 0, K, P, Og, 1.f, w + g * Og * K, K, dy + g * Og * P, P,
                  s->skip_im2col ? 1.f : 0.f, C + g * K * P, P);
  if (!s->skip_im2col) dlc_col2im_cpu_planes(s->geom, col, dx, 0, s->geom.C); /* geom.N is 1 */
}

static void backward_weights_image(const dlc_ctx *ctx, const dlc_conv2d_state *s, const float *x, const float *dy,
                                   float *dw, float *col) {
  int64_t G = s->p.groups, K = s->group_k, Og = s->p.out_channels / G, P = s->out_h * s->out_w;
  const float *B = image_col(s, x, col);
  for (int64_t g = 0; g < G; g++) /* dW_g [Og, K] += dy_g [Og, P] col_g^T */
    dlc_sgemm_cpu(ctx, 0, 1, Og, K, P, 1.f, dy + g * Og * P, P, B + g * K * P, P, 1.f, dw + g * Og * K, K);
}

/* xp (the image zero-padded, plus the tail) and the wide columns from it, in slot. */
static void wide_columns(const dlc_conv2d_state *s, const wide_geom *g, const float *x, float *slot) {
  float *xp = slot, *col = slot + g->xp_len;
  int64_t ph = s->p.pad_h, pw = s->p.pad_w, KH = s->p.kernel_h, KW = s->p.kernel_w;
  memset(xp, 0, sizeof(float) * (size_t)g->xp_len);
  for (int64_t c = 0; c < g->C; c++)
    for (int64_t h = 0; h < g->H; h++)
      memcpy(xp + (c * g->Hp + h + ph) * g->Wp + pw, x + (c * g->H + h) * g->W, sizeof(float) * (size_t)g->W);
  for (int64_t c = 0, k = 0; c < g->C; c++)
    for (int64_t kh = 0; kh < KH; kh++)
      for (int64_t kw = 0; kw < KW; kw++, k++)
        memcpy(col + k * g->Q, xp + c * g->Hp * g->Wp + kh * g->Wp + kw, sizeof(float) * (size_t)g->Q);
}

static void forward_image_wide(const dlc_ctx *ctx, const dlc_conv2d_state *s, const float *x, const float *w,
                               const float *bias, float *y, float *slot) {
  wide_geom g = wide_of(s);
  float *col = slot + g.xp_len, *yw = col + g.K * g.Q;
  wide_columns(s, &g, x, slot);
  dlc_sgemm_cpu(ctx, 0, 0, g.O, g.Q, g.K, 1.f, w, g.K, col, g.Q, 0.f, yw, g.Q); /* yw [O, Q] = W col */
  for (int64_t o = 0; o < g.O; o++) {
    float b = bias ? bias[o] : 0.f;
    for (int64_t oh = 0; oh < g.OH; oh++) {
      const float *from = yw + o * g.Q + oh * g.Wp;
      float *to = y + (o * g.OH + oh) * g.OW;
      for (int64_t ow = 0; ow < g.OW; ow++) to[ow] = from[ow] + b;
    }
  }
}

static void backward_weights_image_wide(const dlc_ctx *ctx, const dlc_conv2d_state *s, const float *x,
                                        const float *dy, float *dw, float *slot) {
  wide_geom g = wide_of(s);
  float *col = slot + g.xp_len, *dyw = col + g.K * g.Q;
  wide_columns(s, &g, x, slot);
  for (int64_t o = 0; o < g.O; o++) /* dy in wide rows, zeros in the extra columns */
    for (int64_t oh = 0; oh < g.OH; oh++) {
      float *to = dyw + o * g.Q + oh * g.Wp;
      memcpy(to, dy + (o * g.OH + oh) * g.OW, sizeof(float) * (size_t)g.OW);
      memset(to + g.OW, 0, sizeof(float) * (size_t)(g.Wp - g.OW));
    }
  dlc_sgemm_cpu(ctx, 0, 1, g.O, g.K, g.Q, 1.f, dyw, g.Q, col, g.Q, 1.f, dw, g.K); /* dW += dyw col^T */
}

/* Slot t of per-thread scratch, `len` floats each, from the start of ws. */
static float *slot(float *ws, int t, int64_t len) { return len ? ws + t * len : NULL; }

/* Forward (in = x, out = y, plus the bias) or backward-data (in = dy, out = dx) of n
 * images, each thread on a contiguous share with its own column slot (wide: the forward's
 * wide columns). */
static dlc_status cpu_data_pass(const dlc_ctx *ctx, const dlc_conv2d_state *s, int dir, int wide, int nt, int64_t n,
                                const float *in, const float *w, const float *bias, float *out, float *ws) {
  int64_t image_x = s->p.in_channels * s->height * s->width, image_y = s->p.out_channels * s->out_h * s->out_w;
  int64_t in_len = dir == DLC_CONV_FWD ? image_x : image_y, out_len = dir == DLC_CONV_FWD ? image_y : image_x;
  int64_t col_len = cpu_slot_len_for(s, DLC_CONV_FWD, wide);
#pragma omp parallel num_threads(nt)
  {
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
    float *col = slot(ws, omp_thread(), col_len);
    for (int64_t i = lo; i < hi; i++)
      if (wide)
        forward_image_wide(ctx, s, in + i * in_len, w, bias, out + i * out_len, col);
      else if (dir == DLC_CONV_FWD)
        forward_image(ctx, s, in + i * in_len, w, bias, out + i * out_len, col);
      else
        backward_data_image(ctx, s, in + i * in_len, w, out + i * out_len, col);
  }
  return DLC_OK;
}

/* Each thread sums its images' dW into a zeroed partial [O][K] after its column slot; then
 * dw += the partials, added in thread order (deterministic for a given thread count). One
 * thread adds straight into dw. */
static void backward_weights_any(const dlc_ctx *ctx, const dlc_conv2d_state *s, int wide, const float *x,
                                 const float *dy, float *dw, float *col) {
  if (wide)
    backward_weights_image_wide(ctx, s, x, dy, dw, col);
  else
    backward_weights_image(ctx, s, x, dy, dw, col);
}

static dlc_status cpu_backward_weights(const dlc_ctx *ctx, const dlc_conv2d_state *s, int wide, int nt,
                                       int64_t n, const float *x, const float *dy, float *dw,
                                       float *ws) {
  int64_t image_in = s->p.in_channels * s->height * s->width, image_out = s->p.out_channels * s->out_h * s->out_w;
  int64_t col_len = cpu_slot_len_for(s, DLC_CONV_FWD, wide);
  int64_t OK = s->p.out_channels * s->group_k, len = col_len + OK;
  if (nt == 1) { /* straight into dw (the scratch may hold only the column slot) */
    for (int64_t i = 0; i < n; i++)
      backward_weights_any(ctx, s, wide, x + i * image_in, dy + i * image_out, dw, slot(ws, 0, col_len));
    return DLC_OK;
  }
#pragma omp parallel num_threads(nt)
  {
    int t = omp_thread();
    int64_t lo, hi;
    dlc_omp_range(n, &lo, &hi);
    float *col = col_len ? ws + t * len : NULL, *part = ws + t * len + col_len;
    memset(part, 0, sizeof(float) * (size_t)OK);
    for (int64_t i = lo; i < hi; i++) backward_weights_any(ctx, s, wide, x + i * image_in, dy + i * image_out, part, col);
#pragma omp barrier
    int team = omp_team(); /* OpenMP may start fewer than nt */
    dlc_omp_range(OK, &lo, &hi);
    for (int64_t e = lo; e < hi; e++) {
      float sum = 0.f;
      for (int u = 0; u < team; u++) sum += ws[u * len + col_len + e];
      dw[e] += sum;
    }
  }
  return DLC_OK;
}

dlc_status dlc_conv_im2col_forward(dlc_ctx *ctx, const dlc_conv2d_state *s, dlc_device dev,
                                   int64_t n, const float *x, const float *w, const float *bias,
                                   float *y, float *ws, size_t ws_bytes) {
  int on_cuda = dev.kind == DLC_DEVICE_CUDA;
  int64_t G = s->p.groups, K = s->group_k, O = s->p.out_channels, Og = O / G;
  int64_t P = s->out_h * s->out_w, image_in = s->p.in_channels * s->height * s->width;
  int64_t nb_max;
  DLC_TRY(chunk_or_fail(ctx, s, DLC_CONV_FWD, n, ws_bytes, &nb_max));
  if (dev.kind == DLC_DEVICE_CPU)
    return cpu_data_pass(ctx, s, DLC_CONV_FWD, cpu_wide_for(s, DLC_CONV_FWD, ws_bytes),
                         cpu_threads_for(ctx, s, DLC_CONV_FWD, n, ws_bytes), n, x, w, bias, y, ws);
  dlc_conv_ws_layout l = dlc_conv_ws_layout_for(s, DLC_CONV_FWD, nb_max);
  const float *A;
  int64_t stride_a;
  DLC_TRY(weights_operand(ctx, s, on_cuda, w, area(ws, l.a), nb_max, &A, &stride_a));
  for (int64_t n0 = 0; n0 < n; n0 += nb_max) {
    int64_t nb = n - n0 < nb_max ? n - n0 : nb_max;
    const float *xc = x + n0 * image_in, *B = xc;
    if (!s->skip_im2col) {
      dlc_conv_geom g = s->geom;
      g.N = (int)nb;
      B = area(ws, l.b);
      DLC_TRY(dlc_im2col_run(ctx, on_cuda, 0, g, xc, area(ws, l.b)));
    }
    DLC_TRY(dlc_op_gemm_strided_batched(ctx, dev, 0, 0, Og, P, K, 1.f, A, K, stride_a, B, P, K * P,
                                        0.f, y + n0 * O * P, P, Og * P, nb * G));
    if (bias) /* a chunk's y has under 2^31 elements (dlc_conv_chunk_for) */
      DLC_TRY(dlc_channel_bias_run(ctx, on_cuda, bias, y + n0 * O * P, (int)nb, (int)O, (int)P));
  }
  return DLC_OK;
}

dlc_status dlc_conv_im2col_backward_data(dlc_ctx *ctx, const dlc_conv2d_state *s,
                                         dlc_device dev, int64_t n, const float *dy,
                                         const float *w, float *dx, float *ws, size_t ws_bytes) {
  int on_cuda = dev.kind == DLC_DEVICE_CUDA;
  int64_t G = s->p.groups, K = s->group_k, O = s->p.out_channels, Og = O / G;
  int64_t P = s->out_h * s->out_w, image_in = s->p.in_channels * s->height * s->width;
  int64_t nb_max;
  DLC_TRY(chunk_or_fail(ctx, s, DLC_CONV_BWD_DATA, n, ws_bytes, &nb_max));
  if (dev.kind == DLC_DEVICE_CPU)
    return cpu_data_pass(ctx, s, DLC_CONV_BWD_DATA, 0, cpu_threads_for(ctx, s, DLC_CONV_BWD_DATA, n, ws_bytes), n,
                         dy, w, NULL, dx, ws);
  dlc_conv_ws_layout l = dlc_conv_ws_layout_for(s, DLC_CONV_BWD_DATA, nb_max);
  const float *A;
  int64_t stride_a;
  DLC_TRY(weights_operand(ctx, s, on_cuda, w, area(ws, l.a), nb_max, &A, &stride_a));
  for (int64_t n0 = 0; n0 < n; n0 += nb_max) {
    int64_t nb = n - n0 < nb_max ? n - n0 : nb_max;
    const float *dyc = dy + n0 * O * P;
    float *dxc = dx + n0 * image_in;
    /* col_(n,g) [K, P] = W_g^T dy_(n,g); a 1x1 convolution's col is dx itself. */
    if (s->skip_im2col) {
      DLC_TRY(dlc_op_gemm_strided_batched(ctx, dev, 1, 0, K, P, Og, 1.f, A, K, stride_a, dyc, P,
                                          Og * P, 1.f, dxc, P, K * P, nb * G));
      continue;
    }
    float *col = area(ws, l.b);
    DLC_TRY(dlc_op_gemm_strided_batched(ctx, dev, 1, 0, K, P, Og, 1.f, A, K, stride_a, dyc, P,
                                        Og * P, 0.f, col, P, K * P, nb * G));
    dlc_conv_geom g = s->geom;
    g.N = (int)nb;
    DLC_TRY(dlc_col2im_run(ctx, on_cuda, g, col, dxc));
  }
  return DLC_OK;
}

dlc_status dlc_conv_im2col_backward_weights(dlc_ctx *ctx, const dlc_conv2d_state *s,
                                            dlc_device dev, int64_t n, const float *x,
                                            const float *dy, float *dw, float *ws,
                                            size_t ws_bytes) {
  int on_cuda = dev.kind == DLC_DEVICE_CUDA;
  int64_t G = s->p.groups, K = s->group_k, O = s->p.out_channels, Og = O / G;
  int64_t P = s->out_h * s->out_w, image_in = s->p.in_channels * s->height * s->width;
  int64_t nb_max;
  DLC_TRY(chunk_or_fail(ctx, s, DLC_CONV_BWD_WEIGHTS, n, ws_bytes, &nb_max));
  if (dev.kind == DLC_DEVICE_CPU)
    return cpu_backward_weights(ctx, s, cpu_wide_for(s, DLC_CONV_BWD_WEIGHTS, ws_bytes),
                                cpu_threads_for(ctx, s, DLC_CONV_BWD_WEIGHTS, n, ws_bytes), n, x, dy, dw, ws);
  dlc_conv_ws_layout l = dlc_conv_ws_layout_for(s, DLC_CONV_BWD_WEIGHTS, nb_max);
  for (int64_t n0 = 0; n0 < n; n0 += nb_max) {
    int64_t nb = n - n0 < nb_max ? n - n0 : nb_max, NP = nb * P;
    const float *xc = x + n0 * image_in, *dyc = dy + n0 * O * P;
    /* col [G][K][nb*P] and dy [G][Og][nb*P]; for one image both are already laid out so. */
    const float *col = xc, *dyt = dyc;
    if (!(s->skip_im2col && nb == 1)) {
      dlc_conv_geom g = s->geom;
      g.N = (int)nb;
      col = area(ws, l.a);
      DLC_TRY(dlc_im2col_run(ctx, on_cuda, 1, g, xc, area(ws, l.a)));
    }
    if (nb > 1) {
      dyt = area(ws, l.b);
      DLC_TRY(dlc_nchw_to_cnhw_run(ctx, on_cuda, (int)nb, (int)O, (int)P, dyc, area(ws, l.b)));
    }
    /* dW_g [Og, K] += dy_g [Og, nb*P] col_g^T, one GEMM per group. */
    DLC_TRY(dlc_op_gemm_strided_batched(ctx, dev, 0, 1, Og, K, NP, 1.f, dyt, NP, Og * NP, col, NP,
                                        K * NP, 1.f, dw, K, Og * K, G));
  }
  return DLC_OK;
}

/* ---- the public entry points */

static dlc_status check_nchw(dlc_ctx *ctx, const dlc_tensor *t, const char *what, int64_t n,
                             int64_t c, int64_t h, int64_t w, dlc_device dev) {
  return dlc_check_nchw(ctx, "conv2d", t, what, DLC_F32, n, c, h, w, dev);
}

/* The batch of x-shaped (or y-shaped) `t`: 1 to the state's batch. */
static dlc_status batch_of(dlc_ctx *ctx, const dlc_conv2d_state *s, const dlc_tensor *t,
                           const char *what, int64_t *n) {
  *n = 0;
  DLC_TRY(dlc_check_f32(ctx, t, what));
  *n = t->ndim == 4 ? t->shape[0] : 0;
  if (*n < 1 || *n > s->batch) {
    char a[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE,
                    "conv2d: %s is %s: expected 4 dimensions and a batch of 1 to %lld (the "
                    "batch the layer was built for)",
                    what, dlc_shape_str(t, a, sizeof a), (long long)s->batch);
  }
  return DLC_OK;
}

static dlc_status check_weights(dlc_ctx *ctx, const dlc_conv2d_state *s, const dlc_tensor *w,
                                const char *what, dlc_device dev) {
  const dlc_conv2d_params *p = &s->p;
  return check_nchw(ctx, w, what, p->out_channels, p->in_channels / p->groups, p->kernel_h,
                    p->kernel_w, dev);
}

static dlc_status check_bias(dlc_ctx *ctx, const dlc_conv2d_state *s, const dlc_tensor *b,
                             const char *what, dlc_device dev) {
  DLC_TRY(dlc_check_f32(ctx, b, what));
  if (b->numel != s->p.out_channels) {
    char a[96];
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "conv2d: %s is %s, expected %lld elements (out_channels)",
                    what, dlc_shape_str(b, a, sizeof a), (long long)s->p.out_channels);
  }
  if (b->device.kind != dev.kind)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "conv2d: %s is on another device than its operands", what);
  return DLC_OK;
}

/* The workspace as a pointer and a size; NULL is allowed and means none. */
static dlc_status workspace_of(dlc_ctx *ctx, dlc_tensor *ws, dlc_device dev, float **p,
                               size_t *bytes) {
  *p = NULL;
  *bytes = 0;
  if (!ws) return DLC_OK;
  if (!ws->data) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "conv2d: the workspace has no data");
  DLC_TRY(dlc_check_device(ctx, ws->device));
  if (ws->device.kind != dev.kind)
    return DLC_FAIL(ctx, DLC_ERR_DEVICE, "conv2d: the workspace is on another device than its operands");
  *p = ws->data;
  *bytes = ws->nbytes;
  return DLC_OK;
}

dlc_status dlc_conv2d_forward(dlc_ctx *ctx, dlc_conv2d_state *s, const dlc_tensor *x,
                              const dlc_tensor *w, const dlc_tensor *b, dlc_tensor *y,
                              dlc_tensor *ws) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, s);
  int64_t n;
  DLC_TRY(batch_of(ctx, s, x, "x", &n));
  dlc_device dev = x->device;
  const dlc_conv2d_params *p = &s->p;
  DLC_TRY(check_nchw(ctx, x, "x", n, p->in_channels, s->height, s->width, dev));
  DLC_TRY(check_weights(ctx, s, w, "w", dev));
  if (b) DLC_TRY(check_bias(ctx, s, b, "b", dev));
  DLC_TRY(check_nchw(ctx, y, "y", n, p->out_channels, s->out_h, s->out_w, dev));
  float *wsp;
  size_t ws_bytes;
  DLC_TRY(workspace_of(ctx, ws, dev, &wsp, &ws_bytes));
  int on_cuda = dev.kind == DLC_DEVICE_CUDA, ran = 0;
  if (on_cuda && s->use_cudnn[DLC_CONV_FWD])
    DLC_TRY(dlc_conv_cudnn_run(ctx, s, DLC_CONV_FWD, n, x->data, w->data, y->data, wsp, ws_bytes, &ran));
  if (!ran)
    return dlc_conv_im2col_forward(ctx, s, dev, n, x->data, w->data, b ? b->data : NULL, y->data,
                                   wsp, ws_bytes);
  if (!b) return DLC_OK;
  /* After cuDNN: the bias in launches of under 2^31 elements. */
  int64_t OP = p->out_channels * s->out_h * s->out_w, per = INT32_MAX / OP;
  for (int64_t n0 = 0; n0 < n; n0 += per) {
    int64_t nb = n - n0 < per ? n - n0 : per;
    DLC_TRY(dlc_channel_bias_run(ctx, on_cuda, b->data, (float *)y->data + n0 * OP, (int)nb,
                                 (int)p->out_channels, (int)(s->out_h * s->out_w)));
  }
  return DLC_OK;
}

dlc_status dlc_conv2d_backward_data(dlc_ctx *ctx, dlc_conv2d_state *s, const dlc_tensor *dy,
                                    const dlc_tensor *w, dlc_tensor *dx, dlc_tensor *ws) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, s);
  int64_t n;
  DLC_TRY(batch_of(ctx, s, dy, "dy", &n));
  dlc_device dev = dy->device;
  const dlc_conv2d_params *p = &s->p;
  DLC_TRY(check_nchw(ctx, dy, "dy", n, p->out_channels, s->out_h, s->out_w, dev));
  DLC_TRY(check_weights(ctx, s, w, "w", dev));
  DLC_TRY(check_nchw(ctx, dx, "dx", n, p->in_channels, s->height, s->width, dev));
  float *wsp;
  size_t ws_bytes;
  DLC_TRY(workspace_of(ctx, ws, dev, &wsp, &ws_bytes));
  int ran = 0;
  if (dev.kind == DLC_DEVICE_CUDA && s->use_cudnn[DLC_CONV_BWD_DATA])
    DLC_TRY(dlc_conv_cudnn_run(ctx, s, DLC_CONV_BWD_DATA, n, dy->data, w->data, dx->data, wsp,
                               ws_bytes, &ran));
  if (ran) return DLC_OK;
  return dlc_conv_im2col_backward_data(ctx, s, dev, n, dy->data, w->data, dx->data, wsp, ws_bytes);
}

dlc_status dlc_conv2d_backward_weights(dlc_ctx *ctx, dlc_conv2d_state *s, const dlc_tensor *x,
                                       const dlc_tensor *dy, dlc_tensor *dw, dlc_tensor *db,
                                       dlc_tensor *ws) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, s);
  int64_t n;
  DLC_TRY(batch_of(ctx, s, x, "x", &n));
  dlc_device dev = x->device;
  const dlc_conv2d_params *p = &s->p;
  DLC_TRY(check_nchw(ctx, x, "x", n, p->in_channels, s->height, s->width, dev));
  DLC_TRY(check_nchw(ctx, dy, "dy", n, p->out_channels, s->out_h, s->out_w, dev));
  DLC_TRY(check_weights(ctx, s, dw, "dw", dev));
  if (db) DLC_TRY(check_bias(ctx, s, db, "db", dev));
  float *wsp;
  size_t ws_bytes;
  DLC_TRY(workspace_of(ctx, ws, dev, &wsp, &ws_bytes));
  int on_cuda = dev.kind == DLC_DEVICE_CUDA, ran = 0;
  if (on_cuda && s->use_cudnn[DLC_CONV_BWD_WEIGHTS])
    DLC_TRY(dlc_conv_cudnn_run(ctx, s, DLC_CONV_BWD_WEIGHTS, n, x->data, dy->data, dw->data, wsp,
                               ws_bytes, &ran));
  if (!ran)
    DLC_TRY(dlc_conv_im2col_backward_weights(ctx, s, dev, n, x->data, dy->data, dw->data, wsp,
                                             ws_bytes));
  if (!db) return DLC_OK;
  int64_t P = s->out_h * s->out_w;
  return dlc_channel_sum_run(ctx, on_cuda, dy->data, db->data, n, p->out_channels, P,
                             p->out_channels * P, 1.f, 1);
}
