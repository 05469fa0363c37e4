/* Recurrent layers, one layer with input size = hidden size: RNN tanh, LSTM and GRU,
 * forward (training, keeping the reserve) and forward + backward (every gradient), at
 * T = 100, N = 64, H = 512 and 1024 on a GPU. Each is validated against the CPU path, then
 * timed, then compared with cuDNN's RNN on the same weights (cudnnRNNForward,
 * cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8), whose output is validated too.
 * TFLOP/s counts the GEMM work: forward 2 T N G (F + H), backward twice that. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "dlcuda_ops.h"
#include "op_cases.h"

#ifdef DLC_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif
#ifdef DLC_HAVE_CUDNN
#include <cudnn.h>
#endif

typedef struct rnn_case {
  bench *b;
  dlc_rnn_state *s;
  int backward;
  int64_t T, N, F, H, G;
  /* on the device under test, and their host twins for the CPU reference */
  dlc_tensor params, grads, x, h0, c0, y, hT, cT, dy, dhT, dcT, dx, dh0, dc0, ws, res;
  dlc_tensor pv[4], gv[4];
#ifdef DLC_HAVE_CUDNN
  cudnnRNNDescriptor_t rnn;
  cudnnDropoutDescriptor_t drop;
  cudnnRNNDataDescriptor_t xdesc, ydesc;
  cudnnTensorDescriptor_t hdesc;
  void *drop_states, *wspace, *dwspace, *cws, *cres;
  int32_t *dev_seq;
  size_t wsize, cws_size, cres_size;
#endif
} rnn_case;

#define N_BUFS 16
static dlc_tensor *bufs(rnn_case *c, int k) {
  dlc_tensor *all[N_BUFS] = {&c->params, &c->grads, &c->x, &c->h0, &c->c0, &c->y, &c->hT, &c->cT,
                             &c->dy, &c->dhT, &c->dcT, &c->dx, &c->dh0, &c->dc0, &c->ws, &c->res};
  return all[k];
}

static dlc_status alloc_case(bench *b, dlc_ctx *ctx, rnn_case *c) {
  dlc_device d = dlc_ctx_device(ctx);
  int lstm = c->s->desc.mode == DLC_RNN_LSTM;
  int64_t np = dlc_rnn_param_numel(c->s), seq[3] = {c->T, c->N, c->F}, out[3] = {c->T, c->N, c->H},
          st[3] = {1, c->N, c->H};
  size_t wb = 0, rb = 0;
  BENCH_TRY(dlc_rnn_workspace_bytes(ctx, c->s, c->T, c->N, 1, &wb));
  BENCH_TRY(dlc_rnn_reserve_bytes(ctx, c->s, c->T, c->N, &rb));
  int64_t wn = (int64_t)(wb / 4), rn = (int64_t)(rb / 4);
  (void)b;
  BENCH_TRY(dlc_tensor_alloc(ctx, &c->params, DLC_F32, 1, &np, d));
  BENCH_TRY(dlc_tensor_alloc(ctx, &c->grads, DLC_F32, 1, &np, d));
  BENCH_TRY(dlc_tensor_alloc(ctx, &c->x, DLC_F32, 3, seq, d));
  BENCH_TRY(dlc_tensor_alloc(ctx, &c->dx, DLC_F32, 3, seq, d));
  BENCH_TRY(dlc_tensor_alloc(ctx, &c->y, DLC_F32, 3, out, d));
  BENCH_TRY(dlc_tensor_alloc(ctx, &c->dy, DLC_F32, 3, out, d));
  dlc_tensor *states[8] = {&c->h0, &c->hT, &c->dhT, &c->dh0, &c->c0, &c->cT, &c->dcT, &c->dc0};
  for (int k = 0; k < (lstm ? 8 : 4); k++) BENCH_TRY(dlc_tensor_alloc(ctx, states[k], DLC_F32, 3, st, d));
  BENCH_TRY(dlc_tensor_alloc(ctx, &c->ws, DLC_F32, 1, &wn, d));
  BENCH_TRY(dlc_tensor_alloc(ctx, &c->res, DLC_F32, 1, &rn, d));
  BENCH_TRY(dlc_rnn_param_views(ctx, c->s, c->params.data, d, c->pv));
  BENCH_TRY(dlc_rnn_param_views(ctx, c->s, c->grads.data, d, c->gv));
  return DLC_OK;
}

static void free_case(dlc_ctx *ctx, rnn_case *c) {
  for (int k = 0; k < N_BUFS; k++) dlc_tensor_free(ctx, bufs(c, k));
}

#define OPT(t) ((t).data ? &(t) : NULL)

static dlc_status run_ours_on(dlc_ctx *ctx, rnn_case *c) {
  BENCH_TRY(dlc_op_rnn_fwd(ctx, c->s, c->pv, &c->x, &c->h0, OPT(c->c0), &c->y, &c->hT, OPT(c->cT),
                         &c->ws, &c->res, 1));
  if (!c->backward) return DLC_OK;
  return dlc_op_rnn_bwd(ctx, c->s, c->pv, &c->x, &c->h0, OPT(c->c0), &c->dy, &c->dhT, OPT(c->dcT),
                        &c->dx, &c->dh0, OPT(c->dc0), c->gv, &c->ws, &c->res);
}

static dlc_status run_ours(void *p) {
  rnn_case *c = p;
  return run_ours_on(c->b->ctx, c);
}

/* ---------------------------------------------------------------- cuDNN */
#ifdef DLC_HAVE_CUDNN
#define CK(call)                                                                         \
  do {                                                                                   \
    cudnnStatus_t st_ = (call);                                                          \
    if (st_ != CUDNN_STATUS_SUCCESS) {                                                   \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudnnGetErrorString(st_)); \
      return 0;                                                                          \
    }                                                                                    \
  } while (0)
#define CUK(call)                                                                        \
  do {                                                                                   \
    cudaError_t e_ = (call);                                                             \
    if (e_ != cudaSuccess) {                                                             \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      return 0;                                                                          \
    }                                                                                    \
  } while (0)

/* Builds cuDNN's RNN for the case and copies our weights into its weight space: gate k of
 * weight_ih is cuDNN's linear layer k, of weight_hh layer gates + k (same gate order), each
 * a row-major [H, in] matrix, and the biases likewise. Returns 1 on success. */
static int cudnn_setup(rnn_case *c) {
  cudnnHandle_t h = dlc_ctx_cudnn_handle(c->b->ctx);
  if (!h) return 0;
  /* Every copy goes on the context's stream, which cuDNN uses: it is non-blocking, so the
   * legacy stream's cudaMemcpy/cudaMemset would not be ordered before cuDNN's reads. */
  cudaStream_t s = (cudaStream_t)dlc_ctx_cuda_stream(c->b->ctx);
  dlc_rnn_mode m = c->s->desc.mode;
  cudnnRNNMode_t cell = m == DLC_RNN_LSTM ? CUDNN_LSTM : m == DLC_RNN_GRU ? CUDNN_GRU
                        : m == DLC_RNN_RELU ? CUDNN_RNN_RELU : CUDNN_RNN_TANH;
  int gates = c->s->gates, T = (int)c->T, N = (int)c->N, F = (int)c->F, H = (int)c->H;
  size_t st = 0;
  CK(cudnnCreateDropoutDescriptor(&c->drop));
  CK(cudnnDropoutGetStatesSize(h, &st));
  CUK(cudaMalloc(&c->drop_states, st));
  CK(cudnnSetDropoutDescriptor(c->drop, h, 0.f, c->drop_states, st, 0));
  CK(cudnnCreateRNNDescriptor(&c->rnn));
  /* FMA math: plain fp32, like our cuBLAS calls with TF32 off (the default). */
  CK(cudnnSetRNNDescriptor_v8(c->rnn, CUDNN_RNN_ALGO_STANDARD, cell, CUDNN_RNN_DOUBLE_BIAS,
                              CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
                              CUDNN_DATA_FLOAT, CUDNN_FMA_MATH, F, H, H, 1, c->drop,
                              CUDNN_RNN_PADDED_IO_DISABLED));
  int *lens = malloc(sizeof(int) * (size_t)N);
  for (int i = 0; i < N; i++) lens[i] = T;
  CK(cudnnCreateRNNDataDescriptor(&c->xdesc));
  CK(cudnnCreateRNNDataDescriptor(&c->ydesc));
  CK(cudnnSetRNNDataDescriptor(c->xdesc, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED,
                               T, N, F, lens, NULL));
  CK(cudnnSetRNNDataDescriptor(c->ydesc, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED,
                               T, N, H, lens, NULL));
  CUK(cudaMalloc((void **)&c->dev_seq, sizeof(int32_t) * (size_t)N));
  CUK(cudaMemcpyAsync(c->dev_seq, lens, sizeof(int32_t) * (size_t)N, cudaMemcpyHostToDevice, s));
  CUK(cudaStreamSynchronize(s)); /* lens is pageable and freed next */
  free(lens);
  int dims[3] = {1, N, H}, strides[3] = {N * H, H, 1};
  CK(cudnnCreateTensorDescriptor(&c->hdesc));
  CK(cudnnSetTensorNdDescriptor(c->hdesc, CUDNN_DATA_FLOAT, 3, dims, strides));
  CK(cudnnGetRNNWeightSpaceSize(h, c->rnn, &c->wsize));
  CK(cudnnGetRNNTempSpaceSizes(h, c->rnn, CUDNN_FWD_MODE_TRAINING, c->xdesc, &c->cws_size,
                               &c->cres_size));
  CUK(cudaMalloc(&c->wspace, c->wsize));
  CUK(cudaMalloc(&c->dwspace, c->wsize));
  CUK(cudaMalloc(&c->cws, c->cws_size));
  CUK(cudaMalloc(&c->cres, c->cres_size));
  CUK(cudaMemsetAsync(c->dwspace, 0, c->wsize, s));
  cudnnTensorDescriptor_t md, bd;
  CK(cudnnCreateTensorDescriptor(&md));
  CK(cudnnCreateTensorDescriptor(&bd));
  const float *w_ih = c->pv[0].data, *w_hh = c->pv[1].data, *b_ih = c->pv[2].data, *b_hh = c->pv[3].data;
  for (int id = 0; id < 2 * gates; id++) {
    void *ma = NULL, *ba = NULL;
    CK(cudnnGetRNNWeightParams(h, c->rnn, 0, c->wsize, c->wspace, id, md, &ma, bd, &ba));
    int rec = id >= gates, k = id % gates, in = rec ? H : F;
    const float *wsrc = (rec ? w_hh : w_ih) + (size_t)k * H * in, *bsrc = (rec ? b_hh : b_ih) + (size_t)k * H;
    CUK(cudaMemcpyAsync(ma, wsrc, sizeof(float) * (size_t)H * in, cudaMemcpyDeviceToDevice, s));
    CUK(cudaMemcpyAsync(ba, bsrc, sizeof(float) * (size_t)H, cudaMemcpyDeviceToDevice, s));
  }
  cudnnDestroyTensorDescriptor(md);
  cudnnDestroyTensorDescriptor(bd);
  return 1;
}

static void cudnn_teardown(rnn_case *c) {
  if (c->rnn) cudnnDestroyRNNDescriptor(c->rnn);
  if (c->drop) cudnnDestroyDropoutDescriptor(c->drop);
  if (c->xdesc) cudnnDestroyRNNDataDescriptor(c->xdesc);
  if (c->ydesc) cudnnDestroyRNNDataDescriptor(c->ydesc);
  if (c->hdesc) cudnnDestroyTensorDescriptor(c->hdesc);
  void *ps[6] = {c->drop_states, c->wspace, c->dwspace, c->cws, c->cres, c->dev_seq};
  for (int i = 0; i < 6; i++) cudaFree(ps[i]);
}

/* Forward in training mode; backward: data (dx, dh0, dc0 written), then weights (added). */
static dlc_status run_cudnn(void *p) {
  rnn_case *c = p;
  cudnnHandle_t h = dlc_ctx_cudnn_handle(c->b->ctx);
  int lstm = c->s->desc.mode == DLC_RNN_LSTM;
  cudnnStatus_t s = cudnnRNNForward(h, c->rnn, CUDNN_FWD_MODE_TRAINING, c->dev_seq, c->xdesc,
                                    c->x.data, c->ydesc, c->y.data, c->hdesc, c->h0.data, c->hT.data,
                                    c->hdesc, lstm ? c->c0.data : NULL, lstm ? c->cT.data : NULL,
                                    c->wsize, c->wspace, c->cws_size, c->cws, c->cres_size, c->cres);
  if (s != CUDNN_STATUS_SUCCESS || !c->backward) return s == CUDNN_STATUS_SUCCESS ? DLC_OK : DLC_ERR_CUDNN;
  s = cudnnRNNBackwardData_v8(h, c->rnn, c->dev_seq, c->ydesc, c->y.data, c->dy.data, c->xdesc,
                              c->dx.data, c->hdesc, c->h0.data, c->dhT.data, c->dh0.data, c->hdesc,
                              lstm ? c->c0.data : NULL, lstm ? c->dcT.data : NULL,
                              lstm ? c->dc0.data : NULL, c->wsize, c->wspace, c->cws_size, c->cws,
                              c->cres_size, c->cres);
  if (s != CUDNN_STATUS_SUCCESS) return DLC_ERR_CUDNN;
  s = cudnnRNNBackwardWeights_v8(h, c->rnn, CUDNN_WGRAD_MODE_ADD, c->dev_seq, c->xdesc, c->x.data,
                                 c->hdesc, c->h0.data, c->ydesc, c->y.data, c->wsize, c->dwspace,
                                 c->cws_size, c->cws, c->cres_size, c->cres);
  return s == CUDNN_STATUS_SUCCESS ? DLC_OK : DLC_ERR_CUDNN;
}
#endif

/* ---------------------------------------------------------------- one case */

static int validate(bench *b, rnn_case *dev, dlc_tensor *d, dlc_tensor *r, const char *what,
                    double tol_nse, double tol_abs) {
  float *got = malloc(d->nbytes);
  int ok = got && dlc_tensor_download(dev->b->ctx, d, got, d->nbytes) == DLC_OK &&
           bench_validate(b, what, r->data, got, (size_t)d->numel, tol_nse, tol_abs);
  free(got);
  return ok;
}

static void run_case(bench *b, dlc_rnn_mode mode, int64_t T, int64_t N, int64_t H) {
  const char *mname = mode == DLC_RNN_LSTM ? "lstm" : mode == DLC_RNN_GRU ? "gru" : "rnn_tanh";
  dlc_rnn_desc d = dlc_rnn_desc_make(mode, H, H, 1);
  rnn_case c, r; /* device under test, CPU reference */
  memset(&c, 0, sizeof c);
  memset(&r, 0, sizeof r);
  if (dlc_rnn_create(b->ctx, &d, &c.s) != DLC_OK) {
    fprintf(stderr, "%s\n", dlc_ctx_error(b->ctx));
    b->failures++;
    return;
  }
  r.s = c.s;
  c.b = r.b = b;
  c.T = r.T = T; c.N = r.N = N; c.F = r.F = H; c.H = r.H = H; c.G = r.G = c.s->gates * H;
  if (alloc_case(b, b->ctx, &c) != DLC_OK || alloc_case(b, b->cpu, &r) != DLC_OK) {
    fprintf(stderr, "%s %lld: allocation failed: %s %s\n", mname, (long long)H, dlc_ctx_error(b->ctx),
            dlc_ctx_error(b->cpu));
    b->failures++;
    free_case(b->ctx, &c);
    free_case(b->cpu, &r);
    dlc_rnn_destroy(c.s);
    return;
  }
  /* Random inputs on the host, copied to the device; gradients start at zero. */
  dlc_rnn_init_params(b->cpu, r.s, r.pv);
  for (int k = 2; k < N_BUFS - 2; k++) {
    dlc_tensor *t = bufs(&r, k);
    if (t->data) dlc_tensor_rand_uniform(b->cpu, t, -1, 1);
  }
  dlc_tensor *zero[5] = {&r.grads, &r.dx, &r.dh0, &r.dc0, NULL};
  for (int k = 0; zero[k]; k++)
    if (zero[k]->data) dlc_tensor_fill(b->cpu, zero[k], 0.f);
  for (int k = 0; k < N_BUFS - 2; k++)
    if (bufs(&r, k)->data) dlc_tensor_copy(b->ctx, bufs(&c, k), bufs(&r, k));

  c.backward = r.backward = 1;
  char what[96], shape[64];
  snprintf(shape, sizeof shape, "T%lld N%lld H%lld", (long long)T, (long long)N, (long long)H);
  if (run_ours_on(b->cpu, &r) != DLC_OK || run_ours_on(b->ctx, &c) != DLC_OK) {
    fprintf(stderr, "%s: %s %s\n", mname, dlc_ctx_error(b->ctx), dlc_ctx_error(b->cpu));
    b->failures++;
  } else {
    snprintf(what, sizeof what, "%s %s y", mname, shape);
    validate(b, &c, &c.y, &r.y, what, 1e-9, 1e-4);
    snprintf(what, sizeof what, "%s %s dx", mname, shape);
    validate(b, &c, &c.dx, &r.dx, what, 1e-8, 1e-3);
    snprintf(what, sizeof what, "%s %s parameter gradients", mname, shape);
    validate(b, &c, &c.grads, &r.grads, what, 1e-8, 1e-2);
  }
  double fwd_flops = 2.0 * (double)T * (double)N * (double)c.G * (double)(c.F + H);
  int have_peer = 0;
#ifdef DLC_HAVE_CUDNN
  if (b->cuda) {
    have_peer = cudnn_setup(&c);
    if (!have_peer) {
      fprintf(stderr, "%s: cuDNN setup failed\n", mname);
      b->failures++;
    } else if (run_cudnn(&c) != DLC_OK || dlc_ctx_synchronize(b->ctx) != DLC_OK) {
      fprintf(stderr, "%s: cuDNN run failed\n", mname);
      b->failures++;
      have_peer = 0;
    } else {
      /* The peer must compute the same thing (weights placed right): its y and dx (which it
       * writes rather than adds) against the CPU's. */
      snprintf(what, sizeof what, "cudnn %s %s y", mname, shape);
      validate(b, &c, &c.y, &r.y, what, 1e-7, 1e-3);
      snprintf(what, sizeof what, "cudnn %s %s dx", mname, shape);
      validate(b, &c, &c.dx, &r.dx, what, 1e-7, 1e-3);
    }
  }
#endif
  for (int backward = 0; backward < 2; backward++) {
    c.backward = backward;
    double ms = bench_time_ms(b, run_ours, &c), peer_ms = 0;
    const char *peer = NULL;
#ifdef DLC_HAVE_CUDNN
    if (have_peer) {
      peer_ms = bench_time_ms(b, run_cudnn, &c);
      peer = backward ? "cudnnRNNForward+BackwardData_v8+BackwardWeights_v8" : "cudnnRNNForward";
    }
#endif
    snprintf(what, sizeof what, "%s %s", mname, backward ? "forward+backward" : "forward");
    bench_report(b, what, shape, ms, 0, fwd_flops * (backward ? 3 : 1), peer, peer_ms);
  }
  (void)have_peer;
#ifdef DLC_HAVE_CUDNN
  if (c.rnn || c.drop) cudnn_teardown(&c);
#endif
  free_case(b->ctx, &c);
  free_case(b->cpu, &r);
  dlc_rnn_destroy(c.s);
}

int main(int argc, char **argv) {
  bench b;
  if (!bench_init(&b, "rnn", argc, argv)) return 1;
  /* The op cases' benchmark rows (op_cases.c); the CPU runs the same code at sizes that
   * finish in seconds. */
  for (const op_case *k = NULL; (k = oc_bench_next(k, OC_RNN, b.cuda, b.quick));)
    run_case(&b, k->rnn.mode, k->rnn.T, k->rnn.N, k->rnn.H);
  int failed = b.failures;
  bench_finish(&b);
  return failed ? 1 : 0;
}
