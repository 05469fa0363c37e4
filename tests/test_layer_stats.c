/* Layer statistics during training against their definitions: after each training step
 * the test reads every layer's output and gradients itself and sums them in double on the
 * host, then compares with dlc_net_layer_stats_read (means, standard deviations and norms
 * to summation-order rounding, dead and saturated fractions exactly). Built as
 * test_gpu_layer_stats (test_gpu_layer_stats.c) for the device, where the statistics come
 * from kernels/stats.cu. Also dlc_fit's log columns and what is refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/net_internal.h"
#include "testutil.h"

#ifndef DLC_LAYER_STATS_ON_GPU
#define DLC_LAYER_STATS_ON_GPU 0
#endif

enum { N = 96, B = 16, STEPS = 5 };

static void make_data(dlc_dataset *ds) {
  memset(ds, 0, sizeof *ds);
  ds->count = N;
  ds->channels = 1;
  ds->height = ds->width = 6;
  ds->num_classes = 3;
  ds->features = malloc(sizeof(float) * N * 36);
  ds->labels = malloc(sizeof(int32_t) * N);
  t_fill_uniform(ds->features, N * 36, 7, -1, 1);
  for (int i = 0; i < N; i++) ds->labels[i] = (ds->features[i * 36] > 0) + (ds->features[i * 36 + 1] > 0.5f);
  snprintf(ds->source, sizeof ds->source, "synthetic");
}

/* conv -> relu -> flatten -> dense+tanh (fused) -> dense -> sigmoid (fused) -> dense. */
static dlc_net *make_net(dlc_ctx *ctx) {
  int64_t in[3] = {1, 6, 6}, k[2] = {3, 3}, one[2] = {1, 1}, zero[2] = {0, 0};
  dlc_net *net = NULL;
  T_OK(ctx, dlc_net_create(ctx, 3, in, B, &net));
  T_OK(ctx, dlc_net_add_conv2d(net, "conv", 3, k, one, one, one, 1, 1, DLC_CONV_AUTO));
  T_OK(ctx, dlc_net_add_activation(net, "relu", DLC_ACT_RELU, 0));
  T_OK(ctx, dlc_net_add_flatten(net, "flat"));
  T_OK(ctx, dlc_net_add_dense(net, "fc1", 8, 1));
  T_OK(ctx, dlc_net_add_activation(net, "tanh", DLC_ACT_TANH, 0));
  T_OK(ctx, dlc_net_add_dense(net, "fc2", 6, 1));
  T_OK(ctx, dlc_net_add_activation(net, "sig", DLC_ACT_SIGMOID, 0));
  T_OK(ctx, dlc_net_add_dense(net, "out", 3, 1));
  T_OK(ctx, dlc_net_set_loss_xent(net, NULL));
  T_OK(ctx, dlc_net_build(net));
  (void)zero;
  return net;
}

static float *download(dlc_ctx *ctx, const dlc_tensor *t, int64_t n) {
  float *h = malloc(sizeof(float) * (size_t)n);
  dlc_tensor v = *t;
  T_OK(ctx, dlc_tensor_download(ctx, &v, h, sizeof(float) * (size_t)n));
  return h;
}

/* Scales parameter k of layer i by a and adds b (to push units dead or saturated). */
static void adjust(dlc_ctx *ctx, dlc_net *net, int i, int k, int64_t count, float a, float b) {
  dlc_param *p = &net->layers[i].param[k];
  float *h = download(ctx, &p->value, p->numel);
  for (int64_t j = 0; j < count && j < p->numel; j++) h[j] = a * h[j] + b;
  T_OK(ctx, dlc_tensor_upload(ctx, &p->value, h, sizeof(float) * (size_t)p->numel));
  free(h);
}

typedef struct ref {
  double sum, sq, sat, count, grad;
  unsigned char *alive;
} ref;

static void stats_on(dlc_ctx *ctx, const char *dev) {
  dlc_dataset ds;
  make_data(&ds);
  dlc_net *net = make_net(ctx);
  if (!net) return;
  const int L = net->nlayers;
  T_CHECK(L == 8 && net->layers[4].absorbed && net->layers[6].absorbed, "%s: the two activations after dense layers "
          "are fused (%d layers)", dev, L);
  adjust(ctx, net, 0, 1, 1, 0, -1000); /* conv filter 0's bias: its 36 units never fire */
  adjust(ctx, net, 3, 0, 8 * 36, 20, 0); /* fc1's weights x20: tanh saturates */
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "not enabled", dlc_net_layer_stats_read(net, NULL, 0, NULL, NULL));
  T_OK(ctx, dlc_net_layer_stats_enable(net, 1));
  dlc_loader_options lo = dlc_loader_options_default();
  lo.batch = B;
  dlc_loader *loader = NULL;
  T_OK(ctx, dlc_loader_create(ctx, &ds, &lo, &loader));
  dlc_optim_options oo = dlc_optim_options_default();
  oo.lr = 0.05f;
  dlc_optim *opt = NULL;
  T_OK(ctx, dlc_optim_create(ctx, &oo, dlc_net_params(net)->numel, &opt));
  if (!loader || !opt) return;
  ref r[8];
  memset(r, 0, sizeof r);
  for (int i = 0; i < L; i++) r[i].alive = calloc((size_t)net->layers[i].numel, 1);
  const float lo_of[8] = {-INFINITY, -INFINITY, 0, 0, -0.99f, 0, 0.005f, -INFINITY};
  const float hi_of[8] = {INFINITY, INFINITY, 0, 0, 0.99f, 0, 0.995f, INFINITY};
  for (int step = 0; step < STEPS; step++) {
    dlc_epoch_stats st;
    T_OK(ctx, dlc_net_train_batches(net, opt, loader, 0, step, 1, NULL, NULL, &st));
    for (int i = 0; i < L; i++) {
      const dlc_layer *l = &net->layers[i];
      if (i != 2 && i != 3 && i != 5) { /* flatten is a view; fc1 and fc2 hold their activation's output */
        int64_t n = B * l->numel;
        float *y = download(ctx, &l->out, n);
        for (int64_t j = 0; j < n; j++) {
          r[i].sum += y[j];
          r[i].sq += (double)y[j] * y[j];
          r[i].sat += y[j] < lo_of[i] || y[j] > hi_of[i];
          r[i].alive[j % l->numel] |= y[j] > 0;
        }
        r[i].count += (double)n;
        free(y);
      }
      double sq = 0;
      for (int k = 0; k < l->nparam; k++) {
        if (l->param[k].is_buffer) continue;
        float *g = download(ctx, &l->param[k].grad, l->param[k].numel);
        for (int64_t j = 0; j < l->param[k].numel; j++) sq += (double)g[j] * g[j];
        free(g);
      }
      r[i].grad += sqrt(sq);
    }
  }
  dlc_layer_stats got[8];
  int count = 0;
  int64_t steps = 0;
  T_OK(ctx, dlc_net_layer_stats_read(net, got, 8, &count, &steps));
  T_CHECK(count == L && steps == STEPS, "%s: %d layers, %lld steps", dev, count, (long long)steps);
  const int out_of[8] = {1, 1, 0, 0, 1, 0, 1, 1}, params_of[8] = {1, 0, 0, 1, 0, 1, 0, 1};
  for (int i = 0; i < L; i++) {
    const dlc_layer_stats *g = &got[i];
    const dlc_layer *l = &net->layers[i];
    T_CHECK(g->layer == i && !strcmp(g->name, l->name) && !strcmp(g->kind, l->vt->kind), "%s: layer %d is %s",
            dev, i, g->name);
    T_CHECK(g->has_output == out_of[i] && g->has_params == params_of[i], "%s %s: has_output %d, has_params %d", dev,
            g->name, g->has_output, g->has_params);
    T_CHECK(g->has_dead == (i == 1) && g->has_saturated == (i == 4 || i == 6), "%s %s: has_dead %d has_saturated %d",
            dev, g->name, g->has_dead, g->has_saturated);
    if (g->has_output) {
      double mean = r[i].sum / r[i].count, var = r[i].sq / r[i].count - mean * mean, rms = sqrt(r[i].sq / r[i].count);
      T_CHECK(fabs(g->mean - mean) <= 1e-10 * rms && fabs(g->std - sqrt(var)) <= 1e-8 * rms,
              "%s %s: mean %.12g std %.12g, want %.12g %.12g", dev, g->name, g->mean, g->std, mean, sqrt(var));
    } else {
      T_CHECK(isnan(g->mean) && isnan(g->std), "%s %s: no output figures (%g %g)", dev, g->name, g->mean, g->std);
    }
    if (g->has_saturated) {
      double want = r[i].sat / r[i].count;
      T_CHECK(g->saturated == want && (i != 4 || want > 0.1), "%s %s: saturated %.6f, want %.6f", dev, g->name,
              g->saturated, want);
    } else {
      T_CHECK(isnan(g->saturated), "%s %s: saturated is NaN (%g)", dev, g->name, g->saturated);
    }
    if (g->has_dead) {
      int64_t dead = 0;
      for (int64_t j = 0; j < l->numel; j++) dead += !r[i].alive[j];
      double want = (double)dead / (double)l->numel;
      T_CHECK(g->dead == want && want >= 1.0 / 3, "%s %s: dead %.6f, want %.6f (>= 1/3)", dev, g->name, g->dead, want);
    } else {
      T_CHECK(isnan(g->dead), "%s %s: dead is NaN (%g)", dev, g->name, g->dead);
    }
    if (g->has_params) {
      double wsq = 0;
      for (int k = 0; k < l->nparam; k++) {
        float *w = download(ctx, &l->param[k].value, l->param[k].numel);
        for (int64_t j = 0; j < l->param[k].numel; j++) wsq += (double)w[j] * w[j];
        free(w);
      }
      double want = r[i].grad / STEPS;
      T_CHECK(fabs(g->weight_norm - sqrt(wsq)) <= 1e-10 * sqrt(wsq) && fabs(g->grad_norm - want) <= 1e-10 * want &&
                  want > 0,
              "%s %s: |w| %.12g |grad| %.12g, want %.12g %.12g", dev, g->name, g->weight_norm, g->grad_norm, sqrt(wsq),
              want);
    }
  }
  /* A reset starts over: no steps, no figures. */
  T_OK(ctx, dlc_net_layer_stats_reset(net));
  T_OK(ctx, dlc_net_layer_stats_read(net, got, 8, NULL, &steps));
  T_CHECK(steps == 0 && isnan(got[0].mean) && isnan(got[1].dead) && isnan(got[0].grad_norm) &&
              got[0].weight_norm > 0,
          "%s: after a reset, %lld steps, mean %g, dead %g, |grad| %g, |w| %g", dev, (long long)steps, got[0].mean,
          got[1].dead, got[0].grad_norm, got[0].weight_norm);

  /* dlc_fit: the CSV log gets each layer's columns; a log made without them is not
   * continued with them. */
  char dir[] = "/tmp/dlc-layer-stats-XXXXXX";
  T_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  char logp[64];
  snprintf(logp, sizeof logp, "%s/run.csv", dir);
  dlc_fit_options fo = dlc_fit_options_default();
  fo.epochs = 2;
  fo.layer_stats = 1;
  fo.log = logp;
  dlc_fit_result fr;
  T_OK(ctx, dlc_fit(net, opt, loader, NULL, &fo, &fr));
  T_CHECK(net->stats_on, "%s: dlc_fit leaves the caller's collection running", dev);
  unsigned char *text = NULL;
  long len = t_read_file(logp, &text);
  T_CHECK(len > 0 && t_contains((char *)text, ",lr,conv.mean,conv.std,conv.weight_norm,conv.grad_norm,relu.mean,"
                                              "relu.std,relu.dead,fc1.weight_norm,fc1.grad_norm,tanh.mean,tanh.std,"
                                              "tanh.saturated,fc2.weight_norm"),
          "%s: the log's header names the layers' columns:\n%s", dev, text ? (char *)text : "");
  free(text);
  T_OK(ctx, dlc_net_layer_stats_enable(net, 0));
  fo.layer_stats = 0;
  char ckp[64];
  snprintf(ckp, sizeof ckp, "%s/run.ckpt", dir);
  fo.checkpoint = ckp;
  fo.epochs = 1;
  T_OK(ctx, dlc_fit(net, opt, loader, NULL, &fo, &fr)); /* a new log without the columns */
  fo.resume = ckp;
  fo.epochs = 2;
  fo.layer_stats = 1;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "other columns", dlc_fit(net, opt, loader, NULL, &fo, &fr));
  T_CHECK(fr.batches == 0 && !fr.rescued[0], "%s: refused before training (%lld batches)", dev, (long long)fr.batches);
  T_CHECK(!net->stats_on, "%s: dlc_fit stops the collection it started", dev);
  unlink(logp);
  unlink(ckp);
  rmdir(dir);

  for (int i = 0; i < L; i++) free(r[i].alive);
  dlc_optim_destroy(opt);
  dlc_loader_destroy(loader);
  dlc_net_destroy(net);
  dlc_dataset_free(&ds);
}

int main(void) {
#if DLC_LAYER_STATS_ON_GPU
  dlc_ctx *ctx = t_gpu_ctx_or_skip(5);
  stats_on(ctx, "cuda");
#else
  dlc_ctx *ctx = t_cpu_ctx(5);
  stats_on(ctx, "cpu");
#endif
  dlc_ctx_destroy(ctx);
  return t_finish(DLC_LAYER_STATS_ON_GPU ? "test_gpu_layer_stats" : "test_layer_stats");
}
