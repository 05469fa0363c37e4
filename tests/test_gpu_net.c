/* Whole networks trained on CUDA and on the CPU from the same parameters and batches:
 * losses and parameters after several optimizer steps must agree. Covers the graph code's
 * device paths (fusion, residual, batchnorm, dropout masks, metrics) for a dense network,
 * a CNN (conv with im2col and AUTO, pooling, 2-d batchnorm), an LSTM, and a regressor (an
 * [mse] head on float targets, whose mean absolute error is summed on the device). Label
 * gpu: exits 77 without a device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static dlc_net *make_cnn(dlc_ctx *ctx, dlc_conv_algo algo) {
  int64_t in[3] = {3, 12, 10}, k3[2] = {3, 3}, p1[2] = {1, 1}, k2[2] = {2, 2};
  dlc_net *net;
  T_OK(ctx, dlc_net_create(ctx, 3, in, 33, &net));
  T_OK(ctx, dlc_net_add_conv2d(net, NULL, 8, k3, NULL, p1, NULL, 1, 1, algo));
  T_OK(ctx, dlc_net_add_batchnorm(net, NULL, 1e-5f, 0.1f));
  T_OK(ctx, dlc_net_add_activation(net, NULL, DLC_ACT_RELU, 0));
  T_OK(ctx, dlc_net_add_pool(net, NULL, DLC_POOL_MAX, k2, NULL, NULL, 0, 1));
  T_OK(ctx, dlc_net_add_conv2d(net, NULL, 8, k3, NULL, p1, NULL, 2, 0, algo));
  T_OK(ctx, dlc_net_add_pool(net, NULL, DLC_POOL_AVG, k3, NULL, p1, 1, 0));
  T_OK(ctx, dlc_net_add_pool(net, NULL, DLC_POOL_GLOBAL_AVG, NULL, NULL, NULL, 0, 1));
  T_OK(ctx, dlc_net_add_flatten(net, NULL));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 7, 1));
  T_OK(ctx, dlc_net_set_loss_xent(net, NULL));
  T_OK(ctx, dlc_net_build(net));
  return net;
}

static dlc_net *make_lstm(dlc_ctx *ctx) {
  int64_t in[2] = {5, 4}; /* 5 steps of 4 features: the data's 20 values */
  dlc_net *net;
  T_OK(ctx, dlc_net_create(ctx, 2, in, 33, &net));
  T_OK(ctx, dlc_net_add_rnn(net, NULL, DLC_RNN_LSTM, 9, 2, 1, 1));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 7, 1));
  T_OK(ctx, dlc_net_set_loss_xent(net, NULL));
  T_OK(ctx, dlc_net_build(net));
  return net;
}

static dlc_net *make_regressor(dlc_ctx *ctx) {
  int64_t in = 20;
  dlc_net *net;
  T_OK(ctx, dlc_net_create(ctx, 1, &in, 33, &net));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 16, 1));
  T_OK(ctx, dlc_net_add_activation(net, NULL, DLC_ACT_TANH, 0));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 3, 1));
  T_OK(ctx, dlc_net_set_loss_mse(net, DLC_REDUCE_MEAN));
  T_OK(ctx, dlc_net_build(net));
  return net;
}

static dlc_net *make_dense(dlc_ctx *ctx) {
  int64_t in = 20;
  dlc_net *net;
  T_OK(ctx, dlc_net_create(ctx, 1, &in, 33, &net));
  T_OK(ctx, dlc_net_add_dense(net, "d0", 40, 1));
  T_OK(ctx, dlc_net_add_activation(net, NULL, DLC_ACT_TANH, 0));
  T_OK(ctx, dlc_net_add_batchnorm(net, NULL, 1e-5f, 0.1f));
  T_OK(ctx, dlc_net_add_dropout(net, NULL, 0.2f));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 40, 1));
  T_OK(ctx, dlc_net_add_activation(net, NULL, DLC_ACT_RELU, 0));
  T_OK(ctx, dlc_net_add_residual(net, NULL, "d0"));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 7, 1));
  T_OK(ctx, dlc_net_set_loss_xent(net, NULL));
  T_OK(ctx, dlc_net_build(net));
  return net;
}

/* Parameters after training, tensor by tensor. A tensor named in `cancelled` is a bias
 * that a training-mode batch norm cancels: its true gradient is 0, both devices compute
 * rounding noise, and Adam turns noise of any size into steps of about lr. Its values are
 * only held to that bound: within 2 * steps * lr of each other. */
static void compare_params(dlc_net *nc, const float *pg, const char *what, const char *const *cancelled,
                           int steps, float lr) {
  const float *pc = dlc_net_params(nc)->data;
  for (int k = 0; k < dlc_net_tensor_count(nc); k++) {
    char name[64], line[160];
    dlc_tensor v;
    int buffer = 0;
    if (dlc_net_tensor(nc, k, name, sizeof name, &v, NULL, &buffer) != DLC_OK || buffer) continue;
    const int64_t off = (const float *)v.data - pc;
    snprintf(line, sizeof line, "%s: %s after %d Adam steps", what, name, steps);
    int zero = 0;
    for (int i = 0; cancelled && cancelled[i]; i++) zero |= strcmp(cancelled[i], name) == 0;
    if (!zero) {
      t_parity(line, pc + off, pg + off, v.numel, 1e-9, 1e-4);
      continue;
    }
    double m = 0;
    for (int64_t i = 0; i < v.numel; i++) m = fmax(m, fabs((double)pc[off + i] - pg[off + i]));
    printf("%-44s n=%-9lld cancelled by batch norm: max_abs=%.3e (bound %.1e)\n", line,
           (long long)v.numel, m, 2.0 * steps * lr);
    T_CHECK(m <= 2.0 * steps * lr * 1.01, "%s: the devices differ by %g, more than Adam's steps allow", line, m);
  }
}

/* targets: 0 for labels in 0..6, else that many float targets per sample (regression). */
static void train_both(dlc_ctx *g, dlc_ctx *c, const char *what, dlc_net *ng, dlc_net *nc, int C, int H, int W,
                       const char *const *cancelled, int targets) {
  /* Same initial parameters (the generators agree, but copy anyway to isolate the step). */
  T_OK(g, dlc_tensor_copy(g, dlc_net_params(ng), dlc_net_params(nc)));
  dlc_dataset ds;
  memset(&ds, 0, sizeof ds);
  ds.count = 33 * 6;
  ds.channels = C;
  ds.height = H;
  ds.width = W;
  int64_t per = (int64_t)C * H * W;
  ds.features = malloc(sizeof(float) * (size_t)(ds.count * per));
  t_fill_uniform(ds.features, ds.count * per, 3, -2, 2);
  if (targets) {
    ds.num_targets = targets;
    ds.targets = malloc(sizeof(float) * (size_t)(ds.count * targets));
    t_fill_uniform(ds.targets, ds.count * targets, 4, -1, 1);
  } else {
    ds.labels = malloc(sizeof(int32_t) * (size_t)ds.count);
    for (int64_t i = 0; i < ds.count; i++) ds.labels[i] = (int32_t)(i % 7);
  }
  dlc_loader_options lo = dlc_loader_options_default();
  lo.batch = 33;
  dlc_loader *lg, *lc;
  T_OK(g, dlc_loader_create(g, &ds, &lo, &lg));
  T_OK(c, dlc_loader_create(c, &ds, &lo, &lc));
  dlc_optim_options oo = dlc_optim_options_default();
  oo.kind = DLC_OPT_ADAM;
  oo.lr = 1e-3f;
  oo.clip_norm = 1.f;
  dlc_optim *og, *oc;
  T_OK(g, dlc_optim_create(g, &oo, dlc_net_params(ng)->numel, &og));
  T_OK(c, dlc_optim_create(c, &oo, dlc_net_params(nc)->numel, &oc));
  dlc_epoch_stats sg, sc;
  T_OK(g, dlc_net_train_epoch(ng, og, lg, 0, 0, NULL, NULL, &sg));
  T_OK(c, dlc_net_train_epoch(nc, oc, lc, 0, 0, NULL, NULL, &sc));
  printf("%s: epoch loss cuda %.6f cpu %.6f; accuracy %.4f / %.4f; mae %.6f / %.6f\n", what, sg.loss, sc.loss,
         sg.accuracy, sc.accuracy, sg.mae, sc.mae);
  T_CHECK(sg.loss - sc.loss < 1e-4 && sc.loss - sg.loss < 1e-4, "%s: epoch losses agree", what);
  T_CHECK(fabs(sg.mae - sc.mae) <= 1e-4 * (1 + sc.mae) && (targets ? sc.mae > 0 : sc.mae == 0),
          "%s: mean absolute errors agree (%g, %g)", what, sg.mae, sc.mae);
  int64_t n = dlc_net_params(nc)->numel;
  float *pg = malloc(sizeof(float) * (size_t)n);
  T_OK(g, dlc_tensor_download(g, dlc_net_params(ng), pg, sizeof(float) * (size_t)n));
  compare_params(nc, pg, what, cancelled, (int)(ds.count / lo.batch), oo.lr);
  dlc_epoch_stats eg, ec;
  T_OK(g, dlc_net_evaluate(ng, lg, &eg));
  T_OK(c, dlc_net_evaluate(nc, lc, &ec));
  T_CHECK(eg.loss - ec.loss < 1e-4 && ec.loss - eg.loss < 1e-4, "%s: evaluation agrees: %g %g", what, eg.loss, ec.loss);
  if (!targets) { /* the confusion matrix (integer atomics on the device): the same counts */
    int64_t cmg[49], cmc[49], diff = 0, total = 0;
    T_OK(g, dlc_net_evaluate_confusion(ng, lg, &eg, cmg, 7));
    T_OK(c, dlc_net_evaluate_confusion(nc, lc, &ec, cmc, 7));
    for (int i = 0; i < 49; i++) {
      diff += cmg[i] > cmc[i] ? cmg[i] - cmc[i] : cmc[i] - cmg[i];
      total += cmg[i];
    }
    /* A near-tie of two logits may fall either way on two devices: at most one row moves. */
    T_CHECK(total == ds.count && diff <= 2, "%s: confusion matrices agree (%lld counted, %lld apart)", what,
            (long long)total, (long long)diff);
  }
  /* Once warm, a training epoch and an evaluation perform no cudaMalloc: everything comes
   * from planned buffers and the caching allocator. */
  uint64_t mallocs = dlc_ctx_memory_stats(g).device_mallocs;
  T_OK(g, dlc_net_train_epoch(ng, og, lg, 1, 0, NULL, NULL, &sg));
  T_OK(g, dlc_net_evaluate(ng, lg, &eg));
  uint64_t more = dlc_ctx_memory_stats(g).device_mallocs - mallocs;
  T_CHECK(more == 0, "%s: a warm epoch made %llu cudaMalloc calls", what, (unsigned long long)more);
  free(pg);
  dlc_loader_destroy(lg);
  dlc_loader_destroy(lc);
  dlc_optim_destroy(og);
  dlc_optim_destroy(oc);
  dlc_net_destroy(ng);
  dlc_net_destroy(nc);
  dlc_dataset_free(&ds);
}

/* An inference session on the device: the CPU session's outputs (same parameters), and no
 * device allocation across many calls once created. */
static void infer_both(dlc_ctx *g, dlc_ctx *c) {
  dlc_net *ng = make_cnn(g, DLC_CONV_IM2COL), *nc = make_cnn(c, DLC_CONV_IM2COL);
  T_OK(g, dlc_tensor_copy(g, dlc_net_params(ng), dlc_net_params(nc)));
  dlc_infer *sg = NULL, *sc = NULL;
  T_OK(g, dlc_infer_create(ng, 8, &sg));
  T_OK(c, dlc_infer_create(nc, 8, &sc));
  if (!sg || !sc) return;
  int64_t per = 3 * 12 * 10, outs = dlc_infer_output_values(sg);
  float *x = malloc(sizeof(float) * (size_t)(8 * per)), *yg = malloc(sizeof(float) * (size_t)(8 * outs)),
        *yc = malloc(sizeof(float) * (size_t)(8 * outs));
  t_fill_uniform(x, 8 * per, 31, -1, 1);
  for (int64_t n = 1; n <= 8; n += 7) {
    T_OK(g, dlc_infer_run(sg, x, n, yg));
    T_OK(c, dlc_infer_run(sc, x, n, yc));
    char what[64];
    snprintf(what, sizeof what, "infer session batch %lld, device vs cpu", (long long)n);
    t_parity(what, yc, yg, n * outs, 1e-10, 1e-4);
  }
  uint64_t mallocs = dlc_ctx_memory_stats(g).device_mallocs;
  for (int k = 0; k < 200; k++) T_OK(g, dlc_infer_run(sg, x, 1 + k % 8, yg));
  T_CHECK(dlc_ctx_memory_stats(g).device_mallocs == mallocs, "200 inference calls made %llu cudaMalloc calls",
          (unsigned long long)(dlc_ctx_memory_stats(g).device_mallocs - mallocs));
  dlc_infer_destroy(sg);
  dlc_infer_destroy(sc);
  dlc_net_destroy(ng);
  dlc_net_destroy(nc);
  free(x);
  free(yg);
  free(yc);
}

int main(void) {
  dlc_ctx *g = t_gpu_ctx_or_skip(17), *c = t_cpu_ctx(17);
  infer_both(g, c);
  /* make_cnn's first convolution has a bias and feeds a batch norm. */
  static const char *const cnn_cancelled[] = {"0.bias", NULL};
  train_both(g, c, "dense", make_dense(g), make_dense(c), 1, 1, 20, NULL, 0);
  train_both(g, c, "cnn im2col", make_cnn(g, DLC_CONV_IM2COL), make_cnn(c, DLC_CONV_IM2COL), 3, 12, 10,
             cnn_cancelled, 0);
  train_both(g, c, "cnn auto", make_cnn(g, DLC_CONV_AUTO), make_cnn(c, DLC_CONV_AUTO), 3, 12, 10,
             cnn_cancelled, 0);
  train_both(g, c, "lstm", make_lstm(g), make_lstm(c), 1, 1, 20, NULL, 0);
  train_both(g, c, "regression", make_regressor(g), make_regressor(c), 1, 1, 20, NULL, 3);
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_net");
}
