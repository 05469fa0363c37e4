/* The cuDNN path of a convolution: tensor, filter and convolution descriptors built once
 * per state, algorithms found by timing (cudnnFind*AlgorithmEx on scratch buffers, the
 * workspace capped by the context's limit), AUTO's timings against the planner's rival
 * path, and the calls.
 * Only cuDNN 9 calls (the legacy convolution API, still shipped in cudnn_cnn.h). */
#include <stdlib.h>

#include "ops/conv_cudnn.h"
#include "ops/ops.h"

#ifdef DLC_HAVE_CUDNN
#include <cuda_runtime_api.h>
#include <cudnn.h>

struct dlc_conv_cudnn {
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv[DLC_CONV_DIRS]; /* one per direction: its math type */
  int algo[DLC_CONV_DIRS];                         /* the chosen algorithm, as its enum */
  int64_t desc_batch;                              /* the batch x and y describe now */
  size_t bytes[DLC_CONV_DIRS];                     /* its workspace at desc_batch */
};

static dlc_status cudnn_ok(dlc_ctx *ctx, cudnnStatus_t s, const char *what, int line) {
  if (s == CUDNN_STATUS_SUCCESS) return DLC_OK;
  return dlc_fail(ctx, DLC_ERR_CUDNN, __FILE__, line, "%s: %s", what, cudnnGetErrorString(s));
}
#define CUDNN_OK(ctx, fn, args) cudnn_ok((ctx), fn args, #fn, __LINE__)

static dlc_status cuda_ok(dlc_ctx *ctx, cudaError_t e, const char *what, int line) {
  if (e == cudaSuccess) return DLC_OK;
  return dlc_fail(ctx, DLC_ERR_CUDA, __FILE__, line, "%s: %s (%s)", what, cudaGetErrorString(e),
                  cudaGetErrorName(e));
}
#define CUDA_OK(ctx, fn, args) cuda_ok((ctx), fn args, #fn, __LINE__)

int dlc_conv_cudnn_available(const dlc_ctx *ctx) { return ctx && ctx->cudnn != NULL; }

/* The workspace algorithm `algo` of direction dir needs for the current descriptors, or
 * SIZE_MAX when cuDNN cannot run it for them. */
static size_t algo_bytes(dlc_ctx *ctx, struct dlc_conv_cudnn *c, int dir, int algo) {
  cudnnHandle_t h = ctx->cudnn;
  size_t b = 0;
  cudnnStatus_t st;
  if (dir == DLC_CONV_FWD)
    st = cudnnGetConvolutionForwardWorkspaceSize(h, c->x, c->w, c->conv[dir], c->y,
                                                 (cudnnConvolutionFwdAlgo_t)algo, &b);
  else if (dir == DLC_CONV_BWD_DATA)
    st = cudnnGetConvolutionBackwardDataWorkspaceSize(h, c->w, c->y, c->conv[dir], c->x,
                                                      (cudnnConvolutionBwdDataAlgo_t)algo, &b);
  else
    st = cudnnGetConvolutionBackwardFilterWorkspaceSize(h, c->x, c->y, c->conv[dir], c->w,
                                                        (cudnnConvolutionBwdFilterAlgo_t)algo, &b);
  return st == CUDNN_STATUS_SUCCESS ? b : SIZE_MAX;
}

static const int algo_count[DLC_CONV_DIRS] = {CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                              CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT};

/* Points x and y at a batch of n images; the chosen algorithms' workspace is re-queried. */
static dlc_status set_batch(dlc_ctx *ctx, dlc_conv2d_state *s, int64_t n) {
  struct dlc_conv_cudnn *c = s->cudnn;
  const dlc_conv2d_params *p = &s->p;
  DLC_TRY(CUDNN_OK(ctx, cudnnSetTensor4dDescriptor,
                   (c->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n, (int)p->in_channels,
                    (int)s->height, (int)s->width)));
  DLC_TRY(CUDNN_OK(ctx, cudnnSetTensor4dDescriptor,
                   (c->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n, (int)p->out_channels,
                    (int)s->out_h, (int)s->out_w)));
  c->desc_batch = n;
  for (int d = 0; d < DLC_CONV_DIRS; d++)
    c->bytes[d] = s->use_cudnn[d] ? algo_bytes(ctx, c, d, c->algo[d]) : 0;
  return DLC_OK;
}

static dlc_status create_descriptors(dlc_ctx *ctx, dlc_conv2d_state *s) {
  struct dlc_conv_cudnn *c = calloc(1, sizeof *c);
  if (!c) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "conv2d: host allocation of cuDNN state failed");
  s->cudnn = c;
  const dlc_conv2d_params *p = &s->p;
  DLC_TRY(CUDNN_OK(ctx, cudnnCreateTensorDescriptor, (&c->x)));
  DLC_TRY(CUDNN_OK(ctx, cudnnCreateTensorDescriptor, (&c->y)));
  DLC_TRY(CUDNN_OK(ctx, cudnnCreateFilterDescriptor, (&c->w)));
  DLC_TRY(CUDNN_OK(ctx, cudnnSetFilter4dDescriptor,
                   (c->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)p->out_channels,
                    (int)(p->in_channels / p->groups), (int)p->kernel_h, (int)p->kernel_w)));
  /* Exact fp32 unless the context allows TF32 (CUDNN_DEFAULT_MATH lets Ampere and later
   * use TF32 tensor cores; CUDNN_FMA_MATH keeps to FMA kernels). */
  cudnnMathType_t math = ctx->opts.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  for (int d = 0; d < DLC_CONV_DIRS; d++) {
    DLC_TRY(CUDNN_OK(ctx, cudnnCreateConvolutionDescriptor, (&c->conv[d])));
    DLC_TRY(CUDNN_OK(ctx, cudnnSetConvolution2dDescriptor,
                     (c->conv[d], (int)p->pad_h, (int)p->pad_w, (int)p->stride_h,
                      (int)p->stride_w, (int)p->dilation_h, (int)p->dilation_w,
                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT)));
    DLC_TRY(CUDNN_OK(ctx, cudnnSetConvolutionGroupCount, (c->conv[d], (int)p->groups)));
    DLC_TRY(CUDNN_OK(ctx, cudnnSetConvolutionMathType, (c->conv[d], math)));
  }
  DLC_TRY(set_batch(ctx, s, s->batch));
  int on, oc, oh, ow;
  DLC_TRY(CUDNN_OK(ctx, cudnnGetConvolution2dForwardOutputDim, (c->conv[0], c->x, c->w, &on, &oc, &oh, &ow)));
  if (on != s->batch || oc != p->out_channels || oh != s->out_h || ow != s->out_w)
    return DLC_FAIL(ctx, DLC_ERR_CUDNN, "conv2d: cuDNN's output [%d, %d, %d, %d] differs from "
                    "[%lld, %lld, %lld, %lld]", on, oc, oh, ow, (long long)s->batch,
                    (long long)p->out_channels, (long long)s->out_h, (long long)s->out_w);
  return DLC_OK;
}

/* Scratch for the search: x-, y- and w-sized buffers (each direction reads two and writes
 * the third) and a workspace. */
typedef struct scratch {
  float *x, *y, *w, *ws;
  size_t ws_bytes;
} scratch;

/* A search result of any direction. */
typedef struct found {
  int algo;
  size_t memory;
  cudnnMathType_t math;
  float ms;
} found;

#define DLC_PICK(perf, n, nondet, limit, out, ok)                                            \
  for (int i_ = 0; i_ < (n) && !*(ok); i_++)                                                 \
    if ((perf)[i_].status == CUDNN_STATUS_SUCCESS && (perf)[i_].memory <= (limit) &&         \
        ((nondet) || (perf)[i_].determinism == CUDNN_DETERMINISTIC)) {                       \
      (out)->algo = (int)(perf)[i_].algo;                                                    \
      (out)->memory = (perf)[i_].memory;                                                     \
      (out)->math = (perf)[i_].mathType;                                                     \
      (out)->ms = (perf)[i_].time;                                                           \
      *(ok) = 1;                                                                             \
    }

/* Times cuDNN's algorithms for direction dir (results come sorted by time) and picks the
 * fastest that fits `limit` and is deterministic unless allowed otherwise. *ok = 0 when
 * none qualifies. */
static dlc_status find_algo(dlc_ctx *ctx, dlc_conv2d_state *s, int dir, const scratch *b,
                            size_t limit, found *f, int *ok) {
  struct dlc_conv_cudnn *c = s->cudnn;
  cudnnHandle_t h = ctx->cudnn;
  int n = 0, nondet = s->p.cudnn_nondeterministic;
  size_t cap = b->ws_bytes < limit ? b->ws_bytes : limit;
  *ok = 0;
  if (dir == DLC_CONV_FWD) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    DLC_TRY(CUDNN_OK(ctx, cudnnFindConvolutionForwardAlgorithmEx,
                     (h, c->x, b->x, c->w, b->w, c->conv[dir], c->y, b->y,
                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf, b->ws, cap)));
    DLC_PICK(perf, n, nondet, cap, f, ok);
  } else if (dir == DLC_CONV_BWD_DATA) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    DLC_TRY(CUDNN_OK(ctx, cudnnFindConvolutionBackwardDataAlgorithmEx,
                     (h, c->w, b->w, c->y, b->y, c->conv[dir], c->x, b->x,
                      CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf, b->ws, cap)));
    DLC_PICK(perf, n, nondet, cap, f, ok);
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    DLC_TRY(CUDNN_OK(ctx, cudnnFindConvolutionBackwardFilterAlgorithmEx,
                     (h, c->x, b->x, c->y, b->y, c->conv[dir], c->w, b->w,
                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf, b->ws, cap)));
    DLC_PICK(perf, n, nondet, cap, f, ok);
  }
  return DLC_OK;
}

/* One run of direction dir over the scratch buffers, by cuDNN or by the rival path. */
static dlc_status run_once(dlc_ctx *ctx, dlc_conv2d_state *s, int dir, dlc_conv_rival_fn rival,
                           const scratch *b) {
  int64_t n = s->batch;
  const float *in0 = dir == DLC_CONV_BWD_DATA ? b->y : b->x;
  const float *in1 = dir == DLC_CONV_BWD_WEIGHTS ? b->y : b->w;
  float *out = dir == DLC_CONV_FWD ? b->y : dir == DLC_CONV_BWD_DATA ? b->x : b->w;
  if (rival) return rival(ctx, s, dir, n, in0, in1, out, b->ws, b->ws_bytes);
  int ran = 0;
  DLC_TRY(dlc_conv_cudnn_run(ctx, s, dir, n, in0, in1, out, b->ws, b->ws_bytes, &ran));
  if (!ran) return DLC_FAIL(ctx, DLC_ERR_CUDNN, "conv2d: the chosen cuDNN algorithm did not fit");
  return DLC_OK;
}

/* The fastest of three timed runs after one warm-up, in ms, measured with CUDA events on
 * the context's stream. */
static dlc_status time_path(dlc_ctx *ctx, dlc_conv2d_state *s, int dir, dlc_conv_rival_fn rival,
                            const scratch *b, float *ms) {
  cudaStream_t st = ctx->stream;
  cudaEvent_t ev[2] = {NULL, NULL};
  dlc_status r = CUDA_OK(ctx, cudaEventCreate, (&ev[0]));
  if (r == DLC_OK) r = CUDA_OK(ctx, cudaEventCreate, (&ev[1]));
  if (r == DLC_OK) r = run_once(ctx, s, dir, rival, b);
  *ms = 1e30f;
  for (int k = 0; k < 3 && r == DLC_OK; k++) {
    float t = 0;
    r = CUDA_OK(ctx, cudaEventRecord, (ev[0], st));
    if (r == DLC_OK) r = run_once(ctx, s, dir, rival, b);
    if (r == DLC_OK) r = CUDA_OK(ctx, cudaEventRecord, (ev[1], st));
    if (r == DLC_OK) r = CUDA_OK(ctx, cudaEventSynchronize, (ev[1]));
    if (r == DLC_OK) r = CUDA_OK(ctx, cudaEventElapsedTime, (&t, ev[0], ev[1]));
    if (r == DLC_OK && t < *ms) *ms = t;
  }
  for (int k = 0; k < 2; k++)
    if (ev[k]) cudaEventDestroy(ev[k]);
  return r;
}

/* The largest workspace any algorithm of any direction asks for, up to limit. */
static size_t search_bytes(dlc_ctx *ctx, dlc_conv2d_state *s, size_t limit) {
  size_t most = 0;
  for (int d = 0; d < DLC_CONV_DIRS; d++)
    for (int a = 0; a < algo_count[d]; a++) {
      size_t b = algo_bytes(ctx, s->cudnn, d, a);
      if (b != SIZE_MAX && b <= limit && b > most) most = b;
    }
  return most;
}

static dlc_status search(dlc_ctx *ctx, dlc_conv2d_state *s, scratch *b, size_t bytes[DLC_CONV_DIRS],
                         dlc_conv_rival_fn rival, const size_t rival_bytes[DLC_CONV_DIRS]) {
  const dlc_conv2d_params *p = &s->p;
  struct dlc_conv_cudnn *c = s->cudnn;
  size_t limit = dlc_ctx_workspace_limit(ctx);
  int64_t xn = s->batch * p->in_channels * s->height * s->width;
  int64_t yn = s->batch * p->out_channels * s->out_h * s->out_w;
  int64_t wn = p->out_channels * s->group_k;
  /* The workspace serves cuDNN's search and the rival's runs. */
  b->ws_bytes = search_bytes(ctx, s, limit);
  for (int d = 0; d < DLC_CONV_DIRS && rival; d++)
    if (rival_bytes[d] > b->ws_bytes) b->ws_bytes = rival_bytes[d];
  DLC_TRY(dlc_device_alloc(ctx, (void **)&b->x, (size_t)xn * 4));
  DLC_TRY(dlc_device_alloc(ctx, (void **)&b->y, (size_t)yn * 4));
  DLC_TRY(dlc_device_alloc(ctx, (void **)&b->w, (size_t)wn * 4));
  if (b->ws_bytes) DLC_TRY(dlc_device_alloc(ctx, (void **)&b->ws, b->ws_bytes));
  /* Finite, non-denormal contents: the timings should not depend on garbage. */
  float *fills[3] = {b->x, b->y, b->w};
  int64_t lens[3] = {xn, yn, wn};
  for (int k = 0; k < 3; k++) {
    dlc_tensor t;
    DLC_TRY(dlc_tensor_borrow(ctx, &t, fills[k], DLC_F32, 1, &lens[k], ctx->device));
    DLC_TRY(dlc_op_fill(ctx, &t, 0.01f));
  }
  for (int d = 0; d < DLC_CONV_DIRS; d++) {
    found f = {0, 0, CUDNN_DEFAULT_MATH, 0};
    int ok = 0;
    dlc_status st = find_algo(ctx, s, d, b, limit, &f, &ok);
    /* AUTO treats a cuDNN refusal (an unsupported configuration) as "use im2col". */
    if (st != DLC_OK && p->algo == DLC_CONV_AUTO) {
      dlc_ctx_clear_error(ctx);
      ok = 0;
    } else if (st != DLC_OK) {
      return st;
    }
    if (!ok) continue;
    c->algo[d] = f.algo;
    bytes[d] = f.memory;
    /* As chosen: with TF32 allowed, the search may have picked a tensor-op variant. */
    if (ctx->opts.allow_tf32) DLC_TRY(CUDNN_OK(ctx, cudnnSetConvolutionMathType, (c->conv[d], f.math)));
    s->use_cudnn[d] = 1;
    c->bytes[d] = f.memory;
    if (!rival) continue;
    DLC_TRY(time_path(ctx, s, d, NULL, b, &s->ms_cudnn[d]));
    DLC_TRY(time_path(ctx, s, d, rival, b, &s->ms_im2col[d]));
  }
  /* Reserve what cuDNN reports for the chosen algorithm at the planned batch when that is
   * more than the search measured: dlc_conv_cudnn_run checks that figure, and a smaller
   * reservation would send every call to im2col. */
  DLC_TRY(set_batch(ctx, s, s->batch));
  for (int d = 0; d < DLC_CONV_DIRS; d++)
    if (s->use_cudnn[d] && c->bytes[d] != SIZE_MAX && c->bytes[d] > bytes[d]) bytes[d] = c->bytes[d];
  return DLC_OK;
}

dlc_status dlc_conv_cudnn_setup(dlc_ctx *ctx, dlc_conv2d_state *s, size_t bytes[DLC_CONV_DIRS],
                                dlc_conv_rival_fn rival, const size_t rival_bytes[DLC_CONV_DIRS]) {
  for (int d = 0; d < DLC_CONV_DIRS; d++) {
    bytes[d] = 0;
    s->use_cudnn[d] = 0;
  }
  if (s->batch > INT32_MAX || s->height > INT32_MAX || s->width > INT32_MAX)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "conv2d: cuDNN takes int dimensions");
  DLC_TRY(create_descriptors(ctx, s));
  scratch b = {NULL, NULL, NULL, NULL, 0};
  dlc_status st = search(ctx, s, &b, bytes, rival, rival_bytes);
  /* The scratch goes back to the cache once the queued work is done with it. */
  dlc_status sync = dlc_cuda_sync(ctx);
  if (st == DLC_OK) st = sync;
  dlc_device_free(ctx, b.x);
  dlc_device_free(ctx, b.y);
  dlc_device_free(ctx, b.w);
  dlc_device_free(ctx, b.ws);
  return st;
}

void dlc_conv_cudnn_destroy(dlc_ctx *ctx, dlc_conv2d_state *s) {
  (void)ctx;
  struct dlc_conv_cudnn *c = s->cudnn;
  if (!c) return;
  if (c->x) cudnnDestroyTensorDescriptor(c->x);
  if (c->y) cudnnDestroyTensorDescriptor(c->y);
  if (c->w) cudnnDestroyFilterDescriptor(c->w);
  for (int d = 0; d < DLC_CONV_DIRS; d++)
    if (c->conv[d]) cudnnDestroyConvolutionDescriptor(c->conv[d]);
  free(c);
  s->cudnn = NULL;
}

dlc_status dlc_conv_cudnn_run(dlc_ctx *ctx, dlc_conv2d_state *s, int dir, int64_t n,
                              const float *a, const float *b, float *out, void *ws,
                              size_t ws_bytes, int *ran) {
  *ran = 0;
  struct dlc_conv_cudnn *c = s->cudnn;
  if (!c || !s->use_cudnn[dir]) return DLC_OK;
  if (n != c->desc_batch) DLC_TRY(set_batch(ctx, s, n));
  if (c->bytes[dir] > ws_bytes) { /* SIZE_MAX too: cuDNN cannot run this batch */
    s->cudnn_fallbacks[dir]++;
    return DLC_OK;
  }
  cudnnHandle_t h = ctx->cudnn;
  const float one = 1.f, zero = 0.f;
  if (dir == DLC_CONV_FWD)
    DLC_TRY(CUDNN_OK(ctx, cudnnConvolutionForward,
                     (h, &one, c->x, a, c->w, b, c->conv[dir], (cudnnConvolutionFwdAlgo_t)c->algo[dir],
                      ws, ws_bytes, &zero, c->y, out)));
  else if (dir == DLC_CONV_BWD_DATA)
    DLC_TRY(CUDNN_OK(ctx, cudnnConvolutionBackwardData,
                     (h, &one, c->w, b, c->y, a, c->conv[dir],
                      (cudnnConvolutionBwdDataAlgo_t)c->algo[dir], ws, ws_bytes, &one, c->x, out)));
  else
    DLC_TRY(CUDNN_OK(ctx, cudnnConvolutionBackwardFilter,
                     (h, &one, c->x, a, c->y, b, c->conv[dir],
                      (cudnnConvolutionBwdFilterAlgo_t)c->algo[dir], ws, ws_bytes, &one, c->w, out)));
  *ran = 1;
  return DLC_OK;
}

#else /* !DLC_HAVE_CUDNN */

int dlc_conv_cudnn_available(const dlc_ctx *ctx) {
  (void)ctx;
  return 0;
}

dlc_status dlc_conv_cudnn_setup(dlc_ctx *ctx, dlc_conv2d_state *s, size_t bytes[DLC_CONV_DIRS],
                                dlc_conv_rival_fn rival, const size_t rival_bytes[DLC_CONV_DIRS]) {
  (void)s; (void)rival; (void)rival_bytes;
  for (int d = 0; d < DLC_CONV_DIRS; d++) bytes[d] = 0;
  return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "conv2d: built without cuDNN");
}

void dlc_conv_cudnn_destroy(dlc_ctx *ctx, dlc_conv2d_state *s) {
  (void)ctx;
  (void)s;
}

dlc_status dlc_conv_cudnn_run(dlc_ctx *ctx, dlc_conv2d_state *s, int dir, int64_t n,
                              const float *a, const float *b, float *out, void *ws,
                              size_t ws_bytes, int *ran) {
  (void)s; (void)dir; (void)n; (void)a; (void)b; (void)out; (void)ws; (void)ws_bytes;
  *ran = 0;
  return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "conv2d: built without cuDNN");
}

#endif
