/* The article's MLP (784 -> 128 tanh -> 10, softmax cross-entropy) trained on Fashion-MNIST
 * with the ops of dlcuda_ops.h alone: the forward, the loss, the backward and the SGD update
 * are written out here, on tensors this program owns. The network API (dlc_net, dlc_fit)
 * does the same for any model file; this is what it does underneath.
 *
 *   mlp_ops [--data DIR] [--epochs N] [--lr LR] [--device auto|cpu|cuda] [--min-accuracy A]
 *
 * Prints the mean training loss and the test accuracy after each epoch; with --min-accuracy
 * it exits 1 when the last test accuracy is below A. */
#include <dlcuda.h>
#include <dlcuda_ops.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IN = 784, HIDDEN = 128, CLASSES = 10, BATCH = 64 };

#define TRY(expr)                                                                      \
  do {                                                                                 \
    if ((expr) != DLC_OK) {                                                            \
      fprintf(stderr, "mlp_ops: %s (line %d): %s\n", #expr, __LINE__, dlc_ctx_error(ctx)); \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

/* The parameters live in one buffer (and the gradients in another of the same layout), so
 * the update is one axpy; W1, b1, W2, b2 are views into it. */
typedef struct mlp {
  dlc_tensor params, grads;
  dlc_tensor w1, b1, w2, b2;     /* views of params */
  dlc_tensor dw1, db1, dw2, db2; /* views of grads */
} mlp;

static void view(dlc_ctx *ctx, dlc_tensor *base, int64_t *offset, dlc_tensor *v, int ndim, int64_t d0,
                 int64_t d1) {
  int64_t shape[2] = {d0, d1};
  TRY(dlc_tensor_borrow(ctx, v, (float *)base->data + *offset, DLC_F32, ndim, shape, base->device));
  *offset += v->numel;
}

static void mlp_views(dlc_ctx *ctx, dlc_tensor *base, dlc_tensor *w1, dlc_tensor *b1, dlc_tensor *w2,
                      dlc_tensor *b2) {
  int64_t at = 0;
  view(ctx, base, &at, w1, 2, HIDDEN, IN);
  view(ctx, base, &at, b1, 1, HIDDEN, 1);
  view(ctx, base, &at, w2, 2, CLASSES, HIDDEN);
  view(ctx, base, &at, b2, 1, CLASSES, 1);
}

/* rows [0, n) of a [BATCH, cols] buffer */
static dlc_tensor rows(dlc_ctx *ctx, const dlc_tensor *t, int64_t n) {
  dlc_tensor v;
  int64_t shape[2] = {n, t->shape[1]};
  TRY(dlc_tensor_borrow(ctx, &v, t->data, t->dtype, 2, shape, t->device));
  return v;
}

int main(int argc, char **argv) {
  const char *data = "/usr/share/datasets/fashion-mnist", *device = "auto";
  int epochs = 2;
  float lr = 0.1f, min_accuracy = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "mlp_ops: %s needs a value\n", a);
      return 2;
    }
    if (!strcmp(a, "--data")) data = v;
    else if (!strcmp(a, "--epochs")) epochs = atoi(v);
    else if (!strcmp(a, "--lr")) lr = strtof(v, NULL);
    else if (!strcmp(a, "--device")) device = v;
    else if (!strcmp(a, "--min-accuracy")) min_accuracy = strtof(v, NULL);
    else {
      fprintf(stderr, "mlp_ops: unknown option %s\n", a);
      return 2;
    }
    i++;
  }
  if (epochs < 1 || !(lr > 0)) {
    fprintf(stderr, "mlp_ops: --epochs must be at least 1 and --lr positive\n");
    return 2;
  }
  dlc_ctx_options co = dlc_ctx_options_default();
  co.device = !strcmp(device, "cpu") ? DLC_DEVICE_CPU : !strcmp(device, "cuda") ? DLC_DEVICE_CUDA : DLC_DEVICE_AUTO;
  dlc_ctx *ctx = NULL;
  if (dlc_ctx_create(&ctx, &co) != DLC_OK) {
    fprintf(stderr, "mlp_ops: %s\n", ctx ? dlc_ctx_error(ctx) : "out of memory");
    dlc_ctx_destroy(ctx);
    return 1;
  }
  dlc_device dev = dlc_ctx_device(ctx);

  /* Data: the library's loader batches, shuffles and scales pixels to [0, 1]. */
  dlc_dataset train_set, test_set;
  TRY(dlc_dataset_open(ctx, data, 1, &train_set));
  TRY(dlc_dataset_open(ctx, data, 0, &test_set));
  dlc_loader_options lo = dlc_loader_options_default();
  lo.batch = BATCH;
  dlc_loader *train = NULL, *test = NULL;
  TRY(dlc_loader_create(ctx, &train_set, &lo, &train));
  lo.shuffle = 0;
  TRY(dlc_loader_create(ctx, &test_set, &lo, &test));

  /* Parameters: PyTorch's nn.Linear initialisation, uniform in +-1/sqrt(fan_in). */
  mlp m;
  int64_t np = (int64_t)HIDDEN * IN + HIDDEN + (int64_t)CLASSES * HIDDEN + CLASSES;
  TRY(dlc_tensor_alloc(ctx, &m.params, DLC_F32, 1, &np, dev));
  TRY(dlc_tensor_alloc(ctx, &m.grads, DLC_F32, 1, &np, dev));
  mlp_views(ctx, &m.params, &m.w1, &m.b1, &m.w2, &m.b2);
  mlp_views(ctx, &m.grads, &m.dw1, &m.db1, &m.dw2, &m.db2);
  const float k1 = 1.f / 28.f, k2 = 1.f / 11.3137085f; /* 1/sqrt(784), 1/sqrt(128) */
  TRY(dlc_tensor_rand_uniform(ctx, &m.w1, -k1, k1));
  TRY(dlc_tensor_rand_uniform(ctx, &m.b1, -k1, k1));
  TRY(dlc_tensor_rand_uniform(ctx, &m.w2, -k2, k2));
  TRY(dlc_tensor_rand_uniform(ctx, &m.b2, -k2, k2));

  /* Activations and their gradients for the largest batch; a smaller one uses the first rows. */
  dlc_tensor h, logits, logp, dh, dlogits, row_w, loss, pred;
  int64_t sh[2] = {BATCH, HIDDEN}, sl[2] = {BATCH, CLASSES}, sn = BATCH, one = 1;
  TRY(dlc_tensor_alloc(ctx, &h, DLC_F32, 2, sh, dev));
  TRY(dlc_tensor_alloc(ctx, &dh, DLC_F32, 2, sh, dev));
  TRY(dlc_tensor_alloc(ctx, &logits, DLC_F32, 2, sl, dev));
  TRY(dlc_tensor_alloc(ctx, &logp, DLC_F32, 2, sl, dev));
  TRY(dlc_tensor_alloc(ctx, &dlogits, DLC_F32, 2, sl, dev));
  TRY(dlc_tensor_alloc(ctx, &row_w, DLC_F32, 1, &sn, dev));
  TRY(dlc_tensor_alloc(ctx, &loss, DLC_F32, 1, &one, dev));
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  TRY(dlc_tensor_alloc(ctx, &pred, DLC_F32, 2, sl, cpu));
  dlc_xent_opts xo = dlc_xent_opts_default();

  double accuracy = 0;
  for (int e = 0; e < epochs; e++) {
    double loss_sum = 0;
    int64_t seen = 0, n = 0;
    dlc_tensor x, y;
    TRY(dlc_loader_start(train, e, 0));
    for (;;) {
      TRY(dlc_loader_next(train, &x, &y, &n));
      if (n == 0) break;
      int64_t flat[2] = {n, IN};
      TRY(dlc_tensor_reshape(ctx, &x, 2, flat)); /* [n, 1, 28, 28] -> [n, 784] */
      dlc_tensor hn = rows(ctx, &h, n), ln = rows(ctx, &logits, n), pn = rows(ctx, &logp, n);
      dlc_tensor dhn = rows(ctx, &dh, n), dln = rows(ctx, &dlogits, n), wn;
      TRY(dlc_tensor_borrow(ctx, &wn, row_w.data, DLC_F32, 1, &n, dev));
      /* forward: h = tanh(x W1^T + b1), logits = h W2^T + b2, loss = cross-entropy */
      TRY(dlc_op_dense_fwd(ctx, &x, &m.w1, &m.b1, DLC_ACT_TANH, 0, &hn));
      TRY(dlc_op_dense_fwd(ctx, &hn, &m.w2, &m.b2, DLC_ACT_NONE, 0, &ln));
      TRY(dlc_op_softmax_xent_fwd(ctx, &ln, &y, &xo, &pn, &wn, &loss));
      /* backward: the ops accumulate, so the gradients start from zero */
      TRY(dlc_op_fill(ctx, &m.grads, 0));
      TRY(dlc_op_fill(ctx, &dln, 0));
      TRY(dlc_op_fill(ctx, &dhn, 0));
      TRY(dlc_op_softmax_xent_bwd(ctx, &pn, &y, &wn, &xo, 1.f, &dln));
      TRY(dlc_op_dense_bwd(ctx, &hn, &m.w2, &ln, &dln, DLC_ACT_NONE, 0, &dln, &dhn, &m.dw2, &m.db2));
      TRY(dlc_op_dense_bwd(ctx, &x, &m.w1, &hn, &dhn, DLC_ACT_TANH, 0, &dhn, NULL, &m.dw1, &m.db1));
      /* update: params -= lr * grads */
      TRY(dlc_op_axpy(ctx, -lr, &m.grads, &m.params));
      float l;
      TRY(dlc_tensor_download(ctx, &loss, &l, sizeof l));
      loss_sum += (double)l * (double)n;
      seen += n;
    }
    /* test accuracy: the argmax of the logits against the label */
    int64_t correct = 0, total = 0;
    TRY(dlc_loader_start(test, 0, 0));
    for (;;) {
      TRY(dlc_loader_next(test, &x, &y, &n));
      if (n == 0) break;
      int64_t flat[2] = {n, IN};
      TRY(dlc_tensor_reshape(ctx, &x, 2, flat));
      dlc_tensor hn = rows(ctx, &h, n), ln = rows(ctx, &logits, n), on = rows(ctx, &pred, n);
      TRY(dlc_op_dense_fwd(ctx, &x, &m.w1, &m.b1, DLC_ACT_TANH, 0, &hn));
      TRY(dlc_op_dense_fwd(ctx, &hn, &m.w2, &m.b2, DLC_ACT_NONE, 0, &ln));
      TRY(dlc_tensor_copy(ctx, &on, &ln));
      int32_t labels[BATCH];
      TRY(dlc_tensor_download(ctx, &y, labels, (size_t)n * sizeof labels[0]));
      const float *p = pred.data;
      for (int64_t r = 0; r < n; r++) {
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
          if (p[r * CLASSES + c] > p[r * CLASSES + best]) best = c;
        correct += best == labels[r];
      }
      total += n;
    }
    accuracy = total ? (double)correct / (double)total : 0;
    printf("epoch %d: train loss %.4f, test accuracy %.4f (%lld images)\n", e + 1, loss_sum / (double)seen,
           accuracy, (long long)total);
  }

  dlc_tensor *owned[] = {&m.params, &m.grads, &h, &dh, &logits, &logp, &dlogits, &row_w, &loss, &pred};
  for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) dlc_tensor_free(ctx, owned[i]);
  dlc_loader_destroy(train);
  dlc_loader_destroy(test);
  dlc_dataset_free(&train_set);
  dlc_dataset_free(&test_set);
  dlc_ctx_destroy(ctx);
  if (min_accuracy >= 0 && accuracy < min_accuracy) {
    fprintf(stderr, "mlp_ops: test accuracy %.4f is below --min-accuracy %.4f\n", accuracy, min_accuracy);
    return 1;
  }
  return 0;
}
