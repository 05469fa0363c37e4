/* The network graph: a whole nn.Sequential against PyTorch (logits, loss, every gradient,
 * running statistics), finite differences through the whole graph, residual layers,
 * deterministic training, and model files with each kind of error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};
static char dir[256];

static dlc_net *pytorch_twin(dlc_ctx *ctx) {
  int64_t in = 12;
  dlc_net *net;
  T_OK(ctx, dlc_net_create(ctx, 1, &in, 16, &net));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 16, 1));
  T_OK(ctx, dlc_net_add_activation(net, NULL, DLC_ACT_TANH, 0));
  T_OK(ctx, dlc_net_add_batchnorm(net, NULL, 1e-5f, 0.1f));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 8, 1));
  T_OK(ctx, dlc_net_add_activation(net, NULL, DLC_ACT_RELU, 0));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 5, 1));
  dlc_xent_opts xo = dlc_xent_opts_default();
  xo.label_smoothing = 0.1f;
  T_OK(ctx, dlc_net_set_loss_xent(net, &xo));
  T_OK(ctx, dlc_net_build(net));
  return net;
}

static void test_against_pytorch(dlc_ctx *ctx) {
  dlc_net *net = pytorch_twin(ctx);
  char summary[4096];
  T_OK(ctx, dlc_net_summary(net, summary, sizeof summary));
  printf("%s", summary);
  T_CHECK(dlc_net_param_count(net) == 12 * 16 + 16 + 32 + 16 * 8 + 8 + 8 * 5 + 5, "parameter count");
  /* Load PyTorch's state_dict by name. */
  int n = dlc_net_tensor_count(net);
  T_CHECK(n == 11, "11 named tensors (weights, biases, running statistics, batch count): %d", n);
  for (int k = 0; k < n; k++) {
    char name[64], path[128];
    dlc_tensor v, g, f;
    int buf;
    T_OK(ctx, dlc_net_tensor(net, k, name, sizeof name, &v, &g, &buf));
    if (v.dtype == DLC_I64) { /* num_batches_tracked: a host counter, checked below */
      T_CHECK(buf && strcmp(name, "2.num_batches_tracked") == 0 && v.ndim == 0 && *(int64_t *)v.data == 0,
              "%s: a zero int64 scalar buffer", name);
      continue;
    }
    snprintf(path, sizeof path, "net/param_%s.npy", name);
    if (!t_fixture(ctx, path, &f)) continue;
    T_CHECK(f.numel == v.numel, "%s: %lld values, PyTorch has %lld", name, (long long)v.numel, (long long)f.numel);
    if (f.numel == v.numel) T_OK(ctx, dlc_tensor_copy(ctx, &v, &f));
    dlc_tensor_free(ctx, &f);
  }
  dlc_tensor x, y, logits, loss, want;
  if (!t_fixture(ctx, "net/x.npy", &x) || !t_fixture(ctx, "net/labels.npy", &y)) return;
  T_OK(ctx, dlc_net_zero_grad(net));
  T_OK(ctx, dlc_net_forward(net, &x, 1, &logits));
  T_OK(ctx, dlc_net_loss(net, &y, &loss));
  T_OK(ctx, dlc_net_backward(net));
  if (t_fixture(ctx, "net/logits.npy", &want)) t_parity("net logits vs PyTorch", want.data, logits.data, want.numel, 1e-11, 1e-5);
  dlc_tensor_free(ctx, &want);
  if (t_fixture(ctx, "net/loss.npy", &want)) t_parity("net loss vs PyTorch", want.data, loss.data, 1, 1e-11, 1e-5);
  dlc_tensor_free(ctx, &want);
  for (int k = 0; k < n; k++) {
    char name[64], path[128];
    dlc_tensor v, g;
    int buf;
    dlc_net_tensor(net, k, name, sizeof name, &v, &g, &buf);
    if (buf) continue;
    snprintf(path, sizeof path, "net/grad_%s.npy", name);
    if (!t_fixture(ctx, path, &want)) continue;
    char what[96];
    snprintf(what, sizeof what, "net grad %s vs PyTorch", name);
    t_parity(what, want.data, g.data, g.numel, 1e-10, 1e-5);
    dlc_tensor_free(ctx, &want);
  }
  dlc_tensor rv;
  char name[64];
  int buf;
  dlc_net_tensor(net, 5, name, sizeof name, &rv, NULL, &buf);
  T_CHECK(strcmp(name, "2.running_var") == 0 && buf, "tensor 5 is 2.running_var (%s)", name);
  if (t_fixture(ctx, "net/running_var_after.npy", &want)) t_parity("net running_var vs PyTorch", want.data, rv.data, rv.numel, 1e-12, 1e-6);
  dlc_tensor_free(ctx, &want);
  dlc_tensor nbt;
  dlc_net_tensor(net, 6, name, sizeof name, &nbt, NULL, &buf);
  T_CHECK(strcmp(name, "2.num_batches_tracked") == 0 && *(int64_t *)nbt.data == 1,
          "one training forward: %s = 1, as PyTorch counts", name);
  T_OK(ctx, dlc_net_forward(net, &x, 0, NULL));
  T_CHECK(*(int64_t *)nbt.data == 1, "an evaluation forward does not count");
  dlc_tensor_free(ctx, &x);
  dlc_tensor_free(ctx, &y);
  dlc_net_destroy(net);
}

/* Finite differences through a whole graph with a residual connection and MSE. */
typedef struct net_case {
  dlc_net *net;
  dlc_tensor x, t;
} net_case;

static double net_loss(void *u) {
  net_case *c = u;
  dlc_tensor loss;
  dlc_net_forward(c->net, &c->x, 0, NULL);
  dlc_net_loss(c->net, &c->t, &loss);
  return *(float *)loss.data;
}

static void test_gradcheck(dlc_ctx *ctx) {
  int64_t in = 6, xs[2] = {4, 6}, ts[2] = {4, 6};
  net_case c;
  T_OK(ctx, dlc_net_create(ctx, 1, &in, 4, &c.net));
  T_OK(ctx, dlc_net_add_dense(c.net, "a", 6, 1));
  T_OK(ctx, dlc_net_add_activation(c.net, NULL, DLC_ACT_SIGMOID, 0));
  T_OK(ctx, dlc_net_add_dense(c.net, NULL, 6, 1));
  T_OK(ctx, dlc_net_add_residual(c.net, NULL, "a"));
  T_OK(ctx, dlc_net_add_activation(c.net, NULL, DLC_ACT_TANH, 0));
  T_OK(ctx, dlc_net_add_residual(c.net, NULL, "input"));
  T_OK(ctx, dlc_net_set_loss_mse(c.net, DLC_REDUCE_SUM));
  T_OK(ctx, dlc_net_build(c.net));
  dlc_tensor_alloc(ctx, &c.x, DLC_F32, 2, xs, cpu);
  dlc_tensor_alloc(ctx, &c.t, DLC_F32, 2, ts, cpu);
  t_fill_uniform(c.x.data, 24, 1, -1, 1);
  t_fill_uniform(c.t.data, 24, 2, -1, 1);
  dlc_tensor dx;
  T_OK(ctx, dlc_net_input_grad(c.net, 1, NULL));
  T_OK(ctx, dlc_net_zero_grad(c.net));
  net_loss(&c);
  T_OK(ctx, dlc_net_backward(c.net));
  T_OK(ctx, dlc_net_input_grad(c.net, 1, &dx));
  dlc_tensor *p = dlc_net_params(c.net), *g = dlc_net_grads(c.net);
  t_gradcheck("net params (residual, MSE)", p->data, g->data, p->numel, net_loss, &c, 1e-2, 3e-3, 2e-4, 200);
  float *dxc = malloc(dx.nbytes);
  memcpy(dxc, dx.data, dx.nbytes);
  t_gradcheck("net input gradient", c.x.data, dxc, 24, net_loss, &c, 1e-2, 3e-3, 2e-4, 24);
  free(dxc);
  dlc_tensor_free(ctx, &c.x);
  dlc_tensor_free(ctx, &c.t);
  dlc_net_destroy(c.net);
}

/* A synthetic, learnable data set: class = the quadrant of two noisy coordinates. */
static void make_data(dlc_dataset *ds, int64_t n) {
  memset(ds, 0, sizeof *ds);
  ds->count = n;
  ds->channels = ds->height = 1;
  ds->width = 8;
  ds->num_classes = 4;
  ds->features = malloc(sizeof(float) * (size_t)(n * 8));
  ds->labels = malloc(sizeof(int32_t) * (size_t)n);
  t_fill_uniform(ds->features, n * 8, 99, -1, 1);
  for (int64_t i = 0; i < n; i++)
    ds->labels[i] = (ds->features[i * 8] > 0) * 2 + (ds->features[i * 8 + 1] > 0);
  snprintf(ds->source, sizeof ds->source, "synthetic");
}

static void train_losses(uint64_t seed, float *losses, int epochs, double *acc) {
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = DLC_DEVICE_CPU;
  o.seed = seed;
  dlc_ctx *ctx;
  dlc_ctx_create(&ctx, &o);
  dlc_dataset ds;
  make_data(&ds, 1000);
  int64_t in = 8;
  dlc_net *net;
  dlc_net_create(ctx, 1, &in, 32, &net);
  dlc_net_add_dense(net, NULL, 32, 1);
  dlc_net_add_activation(net, NULL, DLC_ACT_RELU, 0);
  dlc_net_add_dropout(net, NULL, 0.1f);
  dlc_net_add_dense(net, NULL, 4, 1);
  dlc_net_set_loss_xent(net, NULL);
  T_OK(ctx, dlc_net_build(net));
  dlc_loader_options lo = dlc_loader_options_default();
  lo.batch = 32;
  lo.seed = seed;
  dlc_loader *l;
  T_OK(ctx, dlc_loader_create(ctx, &ds, &lo, &l));
  dlc_optim_options oo = dlc_optim_options_default();
  oo.lr = 0.1f;
  oo.momentum = 0.9f;
  dlc_optim *opt;
  T_OK(ctx, dlc_optim_create(ctx, &oo, dlc_net_params(net)->numel, &opt));
  for (int e = 0; e < epochs; e++) {
    dlc_epoch_stats st;
    T_OK(ctx, dlc_net_train_epoch(net, opt, l, e, 0, NULL, NULL, &st));
    losses[e] = (float)st.loss;
    *acc = st.accuracy;
  }
  dlc_loader_destroy(l);
  dlc_optim_destroy(opt);
  dlc_net_destroy(net);
  dlc_dataset_free(&ds);
  dlc_ctx_destroy(ctx);
}

/* An on_epoch that fails as an output would, with the context's error set. */
static dlc_status failing_epoch(void *user, const dlc_fit_epoch *e) {
  (void)e;
  return dlc_net_load_weights(user, "/no-such-file.safetensors");
}

/* dlc_fit's outputs: distinct names, refused before any training; the weights saved at
 * the end; and, when an output fails after training began, rescued with the failure kept
 * as the error. */
static void test_fit_outputs(void) {
  dlc_ctx *ctx = t_cpu_ctx(1);
  dlc_dataset ds;
  make_data(&ds, 256);
  int64_t in = 8;
  dlc_net *net;
  dlc_net_create(ctx, 1, &in, 32, &net);
  dlc_net_add_dense(net, NULL, 4, 1);
  dlc_net_set_loss_xent(net, NULL);
  T_OK(ctx, dlc_net_build(net));
  dlc_loader_options lo = dlc_loader_options_default();
  lo.batch = 32;
  dlc_loader *l;
  T_OK(ctx, dlc_loader_create(ctx, &ds, &lo, &l));
  dlc_optim_options oo = dlc_optim_options_default();
  dlc_optim *opt;
  T_OK(ctx, dlc_optim_create(ctx, &oo, dlc_net_params(net)->numel, &opt));
  char save[512], log[512];
  snprintf(save, sizeof save, "%s/fit.safetensors", dir);
  snprintf(log, sizeof log, "%s/fit.csv", dir);
  dlc_fit_options fo = dlc_fit_options_default();
  dlc_fit_result r;
  fo.save = save;
  fo.checkpoint = save;
  T_CHECK(dlc_fit(net, opt, l, NULL, &fo, &r) == DLC_ERR_INVALID_ARG && strstr(dlc_ctx_error(ctx), "name the same file") &&
              r.batches == 0, "save and checkpoint on one file are refused before training: %s", dlc_ctx_error(ctx));
  fo.checkpoint = NULL;
  fo.log = log;
  T_OK(ctx, dlc_fit(net, opt, l, NULL, &fo, &r));
  FILE *f = fopen(save, "rb");
  T_CHECK(f != NULL && r.batches == 8 && !r.rescued[0], "the weights are saved at the end (%lld batches)", (long long)r.batches);
  if (f) fclose(f);
  /* An output failing after the first epoch (here on_epoch, with a real error set). */
  fo.save = NULL;
  fo.log = NULL;
  fo.on_epoch = failing_epoch;
  fo.user = net;
  char cwd[512];
  T_CHECK(getcwd(cwd, sizeof cwd) && chdir(dir) == 0, "into the test folder");
  dlc_status st = dlc_fit(net, opt, l, NULL, &fo, &r);
  T_CHECK(st != DLC_OK && r.output_failed && strstr(dlc_ctx_error(ctx), "no-such-file") && strstr(r.rescued, "dlcuda-rescued-"),
          "an output that fails after training: its error is kept (%s), the weights are rescued to '%s'",
          dlc_ctx_error(ctx), r.rescued);
  if (r.rescued[0]) remove(r.rescued);
  T_CHECK(chdir(cwd) == 0, "back");
  dlc_loader_destroy(l);
  dlc_optim_destroy(opt);
  dlc_net_destroy(net);
  dlc_dataset_free(&ds);
  dlc_ctx_destroy(ctx);
}

static void test_determinism(void) {
  float a[5], b[5], c[5];
  double acc;
  train_losses(7, a, 5, &acc);
  train_losses(7, b, 5, &acc);
  train_losses(8, c, 5, &acc);
  printf("losses seed 7: %.6f %.6f %.6f %.6f %.6f (accuracy %.3f)\n", a[0], a[1], a[2], a[3], a[4], acc);
  T_CHECK(memcmp(a, b, sizeof a) == 0, "the same seed gives an identical loss sequence");
  T_CHECK(memcmp(a, c, sizeof a) != 0, "another seed gives another sequence");
  T_CHECK(a[4] < a[0] * 0.5f && acc > 0.9, "the synthetic task is learnt: %g -> %g, accuracy %g", a[0], a[4], acc);
}

static const char *write_cfg(const char *name, const char *text) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

static void test_model_files(dlc_ctx *ctx) {
  dlc_net *net;
  dlc_train_config cfg;
  const char *good = "; a comment\n[net]\ninput = 12\nbatch = 7\nepochs = 3\noptimizer = adamw\nlr = 0.002\n"
                     "mean = 0.5\nstd = 0.25\n\n[dense]\nname = first\nunits = 16\n[tanh]\n[batchnorm]\n"
                     "[dense]\nunits = 8\n[relu]\n[dense]\nunits = 5\n[softmax_xent]\nlabel_smoothing = 0.1\n";
  T_OK(ctx, dlc_model_load(ctx, write_cfg("good.cfg", good), 0, &net, &cfg));
  if (net) {
    T_CHECK(cfg.batch == 7 && cfg.epochs == 3 && cfg.optim.kind == DLC_OPT_ADAMW && fabsf(cfg.optim.lr - 0.002f) < 1e-9f &&
                cfg.loader.normalize && cfg.loader.std[2] == 0.25f, "[net] settings");
    char name[64];
    dlc_net_tensor(net, 0, name, sizeof name, NULL, NULL, NULL);
    T_CHECK(strcmp(name, "0.weight") == 0 && dlc_net_param_count(net) == 2 * 16 + 12 * 16 + 16 + 16 * 8 + 8 + 8 * 5 + 5,
            "the model file builds the same network as the C API");
    dlc_net_destroy(net);
  }
  T_OK(ctx, dlc_model_load(ctx, write_cfg("good.cfg", good), 64, &net, NULL));
  dlc_net_destroy(net);
  const char *bad[][2] = {
      {"[net]\ninput = 4\n[dense]\nunit = 3\n", "bad.cfg:3: [dense] needs a 'units' key; it has 'unit' (line 4)"},
      {"[net]\ninput = 4\n[dense]\nunits = 3\nbais = 0\n", "bad.cfg:5: [dense] has no key 'bais'"},
      {"[net]\ninput = 4\n[dense]\n", "bad.cfg:3: [dense] needs a 'units' key"},
      {"[net]\ninput = 4\n[conv3d]\nfilters = 2\n", "bad.cfg:3: unknown section [conv3d]"},
      {"[net]\ninput = 4\n[dense]\nunits = -3\n", "bad.cfg:4: [dense] units = \"-3\""},
      {"[net]\ninput = 4\n[dense]\nunits = 3x\n", "bad.cfg:4: [dense] units = \"3x\""},
      {"[dense]\nunits = 3\n", "bad.cfg:1: the first section must be [net]"},
      {"[net]\ninput = 4\noptimizer = rmsprop\n", "bad.cfg:3: [net] optimizer = \"rmsprop\": expected one of sgd, adam, adamw"},
      {"[net]\ninput = 4\n[dense]\nunits = 3\nthis line is wrong\n", "bad.cfg:5: not a [section] or key = value line"},
      {"[net]\ninput = 4\n[softmax_xent]\n[dense]\nunits = 2\n", "bad.cfg:4: [dense] after the loss section"},
      {"[net]\ninput = 4\n[dense]\nname = a\nunits = 3\n[dense]\nunits = 5\n[residual]\nfrom = a\n",
       "bad.cfg:8: [residual]: bad shape"},
      {"[net]\ninput = 4\n[dense]\nunits = 3\n[residual]\nfrom = nowhere\n", "no earlier layer is named \"nowhere\""},
      {"[net]\nbatch = 4\n", "bad.cfg:1: [net] needs a 'input' key"},
      {"[net]\ninput = 4\n", "has no layers"},
      {"input = 4\n[net]\n", "bad.cfg:1: a key before the first section"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    dlc_ctx_clear_error(ctx);
    dlc_status s = dlc_model_load(ctx, write_cfg("bad.cfg", bad[k][0]), 0, &net, NULL);
    if (s == DLC_OK) dlc_net_destroy(net);
    T_CHECK(s != DLC_OK && net == NULL && t_contains(dlc_ctx_error(ctx), bad[k][1]),
            "case %zu: \"%s\" should mention \"%s\"", k, dlc_ctx_error(ctx), bad[k][1]);
  }
  T_FAILS(ctx, DLC_ERR_IO, "No such file", dlc_model_load(ctx, "/nonexistent.cfg", 0, &net, NULL));
  /* A data set that does not fit the model. */
  T_OK(ctx, dlc_model_load(ctx, write_cfg("good.cfg", good), 0, &net, NULL));
  dlc_dataset ds;
  make_data(&ds, 10);
  T_FAILS(ctx, DLC_ERR_SHAPE, "the model's input is 12", dlc_net_check_dataset(net, &ds));
  dlc_dataset_free(&ds);
  dlc_net_destroy(net);
  int64_t in = 8;
  dlc_net_create(ctx, 1, &in, 4, &net);
  dlc_net_add_dense(net, NULL, 3, 1);
  dlc_net_set_loss_xent(net, NULL);
  T_OK(ctx, dlc_net_build(net));
  make_data(&ds, 10); /* labels 0..3, the model has 3 classes */
  T_FAILS(ctx, DLC_ERR_SHAPE, "outside the model's 3 classes", dlc_net_check_dataset(net, &ds));
  dlc_dataset_free(&ds);
  /* A batch that does not fit. */
  int64_t xs[2] = {5, 8};
  dlc_tensor x;
  dlc_tensor_alloc(ctx, &x, DLC_F32, 2, xs, cpu);
  T_FAILS(ctx, DLC_ERR_SHAPE, "batch up to 4", dlc_net_forward(net, &x, 0, NULL));
  dlc_tensor_free(ctx, &x);
  dlc_net_destroy(net);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(1);
  snprintf(dir, sizeof dir, "/tmp/dlc_net_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  test_against_pytorch(ctx);
  test_gradcheck(ctx);
  test_determinism();
  test_fit_outputs();
  test_model_files(ctx);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  dlc_ctx_destroy(ctx);
  return t_finish("test_net");
}
