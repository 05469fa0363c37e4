/* tanh (and ReLU, sigmoid) forward and backward over 2^26 floats (2^24 on the CPU): GB/s,
 * the fraction of the measured device copy, and the ratio to cuDNN's
 * cudnnActivationForward / cudnnActivationBackward on the same data. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "dlcuda_ops.h"
#include "op_cases.h"

#ifdef DLC_HAVE_CUDNN
#include <cudnn.h>
#endif

typedef struct act_arg {
  bench *b;
  dlc_act act;
  int backward;
  dlc_tensor *x, *y, *dy, *dx;
#ifdef DLC_HAVE_CUDNN
  cudnnActivationDescriptor_t desc;
  cudnnTensorDescriptor_t t;
#endif
} act_arg;

static dlc_status run_act(void *p) {
  act_arg *a = p;
  if (!a->backward) return dlc_op_act_fwd(a->b->ctx, a->act, 0.f, a->x, a->y);
  return dlc_op_act_bwd(a->b->ctx, a->act, 0.f, a->x, a->y, a->dy, a->dx);
}

#ifdef DLC_HAVE_CUDNN
/* cuDNN's backward takes x, y and dy; beta = 1 accumulates into dx like ours. */
static dlc_status run_cudnn(void *p) {
  act_arg *a = p;
  cudnnHandle_t h = dlc_ctx_cudnn_handle(a->b->ctx);
  float one = 1.f, zero = 0.f;
  cudnnStatus_t s =
      a->backward ? cudnnActivationBackward(h, a->desc, &one, a->t, a->y->data, a->t, a->dy->data,
                                            a->t, a->x->data, &one, a->t, a->dx->data)
                  : cudnnActivationForward(h, a->desc, &one, a->t, a->x->data, &zero, a->t, a->y->data);
  return s == CUDNN_STATUS_SUCCESS ? DLC_OK : DLC_ERR_CUDNN;
}
#endif

int main(int argc, char **argv) {
  bench b;
  if (!bench_init(&b, "activation", argc, argv)) return 1;
  const op_case *row = oc_bench_next(NULL, OC_ACT, b.cuda, b.quick); /* op_cases.c */
  int64_t n = row ? row->n : 0;
  bench_measure_copy(&b, (size_t)n * 4);
  dlc_device d = dlc_ctx_device(b.ctx), cpu = {DLC_DEVICE_CPU, 0};
  dlc_tensor x, y, dy, dx, hx, hy, hdy, hdx;
  dlc_tensor *dev[4] = {&x, &y, &dy, &dx}, *host[4] = {&hx, &hy, &hdy, &hdx};
  for (int i = 0; i < 4; i++)
    if (dlc_tensor_alloc(b.ctx, dev[i], DLC_F32, 1, &n, d) ||
        dlc_tensor_alloc(b.cpu, host[i], DLC_F32, 1, &n, cpu)) {
      fprintf(stderr, "allocation failed: %s %s\n", dlc_ctx_error(b.ctx), dlc_ctx_error(b.cpu));
      return 1;
    }
  float *got = malloc((size_t)n * 4);
  const dlc_act acts[3] = {DLC_ACT_TANH, DLC_ACT_RELU, DLC_ACT_SIGMOID};
  const char *names[3] = {"tanh", "relu", "sigmoid"};
  char shape[32];
  snprintf(shape, sizeof shape, "%lld floats", (long long)n);
  for (int k = 0; k < 3; k++)
    for (int backward = 0; backward < 2; backward++) {
      act_arg a;
      memset(&a, 0, sizeof a);
      a.b = &b; a.act = acts[k]; a.backward = backward;
      a.x = &x; a.y = &y; a.dy = &dy; a.dx = &dx;
      /* Validate against the CPU on fresh random data. */
      dlc_tensor_rand_uniform(b.cpu, &hx, -3, 3);
      dlc_tensor_rand_uniform(b.cpu, &hdy, -1, 1);
      dlc_tensor_fill(b.cpu, &hdx, 0.f);
      dlc_op_act_fwd(b.cpu, acts[k], 0.f, &hx, &hy);
      for (int i = 0; i < 4; i++) dlc_tensor_copy(b.ctx, dev[i], host[i]);
      if (run_act(&a) != DLC_OK) {
        fprintf(stderr, "%s failed: %s\n", names[k], dlc_ctx_error(b.ctx));
        return 1;
      }
      if (backward) dlc_op_act_bwd(b.cpu, acts[k], 0.f, &hx, &hy, &hdy, &hdx);
      dlc_tensor_download(b.ctx, backward ? &dx : &y, got, (size_t)n * 4);
      char what[64];
      snprintf(what, sizeof what, "%s %s", names[k], backward ? "backward" : "forward");
      bench_validate(&b, what, backward ? hdx.data : hy.data, got, (size_t)n, 1e-12, 1e-5);
      double ms = bench_time_ms(&b, run_act, &a), peer_ms = 0;
      const char *peer = NULL;
#ifdef DLC_HAVE_CUDNN
      if (b.cuda) {
        cudnnCreateActivationDescriptor(&a.desc);
        cudnnSetActivationDescriptor(a.desc, acts[k] == DLC_ACT_TANH ? CUDNN_ACTIVATION_TANH
                                     : acts[k] == DLC_ACT_RELU ? CUDNN_ACTIVATION_RELU
                                                               : CUDNN_ACTIVATION_SIGMOID,
                                     CUDNN_PROPAGATE_NAN, 0.0);
        cudnnCreateTensorDescriptor(&a.t);
        cudnnSetTensor4dDescriptor(a.t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)(n / 4096), 4096, 1, 1);
        peer_ms = bench_time_ms(&b, run_cudnn, &a);
        peer = backward ? "cudnnActivationBackward" : "cudnnActivationForward";
        cudnnDestroyTensorDescriptor(a.t);
        cudnnDestroyActivationDescriptor(a.desc);
      }
#endif
      /* Traffic: forward reads x, writes y; backward reads x or y, dy and dx, writes dx. */
      bench_report(&b, what, shape, ms, (backward ? 16.0 : 8.0) * (double)n, 0, peer, peer_ms);
    }
  free(got);
  for (int i = 0; i < 4; i++) {
    dlc_tensor_free(b.ctx, dev[i]);
    dlc_tensor_free(b.cpu, host[i]);
  }
  int failed = b.failures;
  bench_finish(&b);
  return failed ? 1 : 0;
}
