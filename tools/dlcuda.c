/* The dlcuda command: train, eval, info. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlcuda.h"

#define DEFAULT_MODEL "models/fashion_cnn.cfg"

typedef struct options {
  const char *model, *data, *log, *device, *optimizer;
  int epochs, threads, quiet;
  int64_t batch, steps;
  float lr;
  uint64_t seed;
  int have_seed;
} options;

static void usage(FILE *f) {
  fprintf(f,
          "usage: dlcuda COMMAND [ARGS]\n"
          "  train [MODEL.cfg] [--data DIR|FILE] [--epochs N] [--batch N] [--lr X]\n"
          "        [--optimizer sgd|adam|adamw] [--device auto|cpu|cuda[:i]] [--seed N]\n"
          "        [--threads N] [--log FILE.csv|FILE.jsonl] [--steps N] [--quiet]\n"
          "        trains MODEL (default " DEFAULT_MODEL ") on its data set (default\n"
          "        /usr/share/datasets/fashion-mnist), evaluating on the test split each epoch;\n"
          "        --steps N trains on the first N batches of each epoch only (quick runs)\n"
          "  info   devices, build options, library versions\n");
}

static int fail(dlc_ctx *ctx, const char *what) {
  fprintf(stderr, "dlcuda: %s%s%s\n", what, ctx ? ": " : "", ctx ? dlc_ctx_error(ctx) : "");
  return 1;
}

static int parse_device(const char *s, dlc_ctx_options *o) {
  if (!strcmp(s, "auto")) o->device = DLC_DEVICE_AUTO;
  else if (!strcmp(s, "cpu")) o->device = DLC_DEVICE_CPU;
  else if (!strncmp(s, "cuda", 4)) {
    o->device = DLC_DEVICE_CUDA;
    o->device_index = s[4] == ':' ? atoi(s + 5) : 0;
    if (s[4] && s[4] != ':') return 0;
  } else return 0;
  return 1;
}

static int parse_args(int argc, char **argv, options *op) {
  memset(op, 0, sizeof *op);
  op->device = "auto";
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() do { if (!v) { fprintf(stderr, "dlcuda: %s needs a value\n", a); return 0; } i++; } while (0)
    if (!strcmp(a, "--data")) { NEEDV(); op->data = v; }
    else if (!strcmp(a, "--epochs")) { NEEDV(); op->epochs = atoi(v); if (op->epochs <= 0) { fprintf(stderr, "dlcuda: --epochs %s\n", v); return 0; } }
    else if (!strcmp(a, "--batch")) { NEEDV(); op->batch = atoll(v); if (op->batch <= 0) { fprintf(stderr, "dlcuda: --batch %s\n", v); return 0; } }
    else if (!strcmp(a, "--lr")) { NEEDV(); op->lr = strtof(v, NULL); if (!(op->lr > 0)) { fprintf(stderr, "dlcuda: --lr %s\n", v); return 0; } }
    else if (!strcmp(a, "--optimizer")) { NEEDV(); op->optimizer = v; }
    else if (!strcmp(a, "--device")) { NEEDV(); op->device = v; }
    else if (!strcmp(a, "--seed")) { NEEDV(); op->seed = strtoull(v, NULL, 0); op->have_seed = 1; }
    else if (!strcmp(a, "--threads")) { NEEDV(); op->threads = atoi(v); if (op->threads <= 0) { fprintf(stderr, "dlcuda: --threads %s\n", v); return 0; } }
    else if (!strcmp(a, "--log")) { NEEDV(); op->log = v; }
    else if (!strcmp(a, "--steps")) { NEEDV(); op->steps = atoll(v); if (op->steps <= 0) { fprintf(stderr, "dlcuda: --steps %s\n", v); return 0; } }
    else if (!strcmp(a, "--quiet")) op->quiet = 1;
    else if (a[0] == '-') { fprintf(stderr, "dlcuda: unknown option %s\n", a); return 0; }
    else if (!op->model) op->model = a;
    else { fprintf(stderr, "dlcuda: unexpected argument %s\n", a); return 0; }
#undef NEEDV
  }
  if (!op->model) op->model = DEFAULT_MODEL;
  return 1;
}

static dlc_ctx *make_ctx(const options *op) {
  dlc_ctx_options o = dlc_ctx_options_default();
  if (!parse_device(op->device, &o)) {
    fprintf(stderr, "dlcuda: --device %s: use auto, cpu, cuda or cuda:N\n", op->device);
    return NULL;
  }
  if (op->have_seed) o.seed = op->seed;
  o.threads = op->threads;
  dlc_ctx *ctx = NULL;
  if (dlc_ctx_create(&ctx, &o) != DLC_OK) {
    fail(ctx, "cannot start");
    dlc_ctx_destroy(ctx);
    return NULL;
  }
  if (dlc_ctx_notice(ctx)[0]) fprintf(stderr, "dlcuda: %s\n", dlc_ctx_notice(ctx));
  return ctx;
}

typedef struct progress {
  int tty, epoch, epochs;
  double last;
} progress;

static void show_progress(void *user, int64_t b, int64_t nb, const dlc_epoch_stats *st) {
  progress *p = user;
  if (!p->tty) return;
  int width = 30, done = (int)(width * b / (nb ? nb : 1));
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < done ? '=' : (i == done ? '>' : ' ');
  bar[width] = '\0';
  fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld  loss %.4f  acc %.4f  %.0f img/s ", p->epoch, p->epochs, bar,
          (long long)b, (long long)nb, st->loss, st->accuracy, st->samples_per_second);
  fflush(stderr);
}

static int cmd_train(int argc, char **argv) {
  options op;
  if (!parse_args(argc, argv, &op)) {
    usage(stderr);
    return 2;
  }
  dlc_ctx *ctx = make_ctx(&op);
  if (!ctx) return 1;
  int rc = 1;
  dlc_net *net = NULL;
  dlc_optim *opt = NULL;
  dlc_loader *train_l = NULL, *test_l = NULL;
  dlc_dataset train_ds, test_ds;
  memset(&train_ds, 0, sizeof train_ds);
  memset(&test_ds, 0, sizeof test_ds);
  FILE *log = NULL;
  dlc_train_config cfg;
  if (dlc_model_load(ctx, op.model, op.batch, &net, &cfg) != DLC_OK) { fail(ctx, "model"); goto out; }
  if (op.epochs) cfg.epochs = op.epochs;
  if (op.lr > 0) cfg.optim.lr = op.lr;
  if (op.optimizer) {
    if (!strcmp(op.optimizer, "sgd")) cfg.optim.kind = DLC_OPT_SGD;
    else if (!strcmp(op.optimizer, "adam")) cfg.optim.kind = DLC_OPT_ADAM;
    else if (!strcmp(op.optimizer, "adamw")) cfg.optim.kind = DLC_OPT_ADAMW;
    else { fprintf(stderr, "dlcuda: --optimizer %s: use sgd, adam or adamw\n", op.optimizer); goto out; }
  }
  const char *data = op.data ? op.data : cfg.data;
  if (dlc_dataset_open(ctx, data, 1, &train_ds) != DLC_OK) { fail(ctx, "training data"); goto out; }
  int have_test = dlc_dataset_open(ctx, data, 0, &test_ds) == DLC_OK;
  if (!have_test) fprintf(stderr, "dlcuda: no test split (%s): reporting training metrics only\n", dlc_ctx_error(ctx));
  if (dlc_net_check_dataset(net, &train_ds) != DLC_OK || (have_test && dlc_net_check_dataset(net, &test_ds) != DLC_OK)) {
    fail(ctx, "data set and model do not fit");
    goto out;
  }
  char summary[8192];
  dlc_net_summary(net, summary, sizeof summary);
  dlc_device dev = dlc_ctx_device(ctx);
  if (!op.quiet) {
    printf("model %s on %s%s%.0d, %d CPU threads\n%s", op.model, dev.kind == DLC_DEVICE_CUDA ? "cuda:" : "cpu",
           "", dev.kind == DLC_DEVICE_CUDA ? dev.index : 0, dlc_ctx_threads(ctx), summary);
    printf("data %s: %lld training, %lld test samples of %dx%dx%d\n", data, (long long)train_ds.count,
           (long long)(have_test ? test_ds.count : 0), train_ds.channels, train_ds.height, train_ds.width);
  }
  cfg.loader.batch = cfg.batch;
  if (op.steps > 0 && op.steps * cfg.batch < train_ds.count) train_ds.count = op.steps * cfg.batch;
  cfg.loader.seed = dlc_ctx_seed(ctx);
  if (dlc_loader_create(ctx, &train_ds, &cfg.loader, &train_l) != DLC_OK) { fail(ctx, "loader"); goto out; }
  dlc_loader_options tl = cfg.loader;
  tl.shuffle = 0;
  tl.flip = 0;
  tl.crop_pad = 0;
  if (have_test && dlc_loader_create(ctx, &test_ds, &tl, &test_l) != DLC_OK) { fail(ctx, "loader"); goto out; }
  int64_t per_epoch = dlc_loader_batches(train_l);
  cfg.optim.steps_per_epoch = per_epoch;
  cfg.optim.total_steps = per_epoch * cfg.epochs;
  cfg.optim.warmup_steps = (int64_t)(cfg.warmup_epochs * (float)per_epoch);
  if (dlc_optim_create(ctx, &cfg.optim, dlc_net_param_count(net) > 0 ? dlc_net_params(net)->numel : 0, &opt) != DLC_OK) {
    fail(ctx, "optimizer");
    goto out;
  }
  if (op.log) {
    log = fopen(op.log, "w");
    if (!log) { perror(op.log); goto out; }
    size_t ll = strlen(op.log);
    if (ll < 6 || strcmp(op.log + ll - 6, ".jsonl") != 0)
      fprintf(log, "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second,lr\n");
  }
  progress pr = {isatty(2) && !op.quiet, 0, cfg.epochs, 0};
  for (int e = 0; e < cfg.epochs; e++) {
    dlc_epoch_stats tr, te;
    memset(&te, 0, sizeof te);
    pr.epoch = e + 1;
    float lr = dlc_optim_lr(opt);
    if (dlc_train_epoch(net, opt, train_l, e, 0, show_progress, &pr, &tr) != DLC_OK) {
      if (pr.tty) fprintf(stderr, "\n");
      fail(ctx, "training");
      goto out;
    }
    if (pr.tty) fprintf(stderr, "\r%100s\r", "");
    if (test_l && dlc_evaluate(net, test_l, &te) != DLC_OK) { fail(ctx, "evaluation"); goto out; }
    if (!op.quiet) {
      printf("epoch %3d/%d  train loss %.4f acc %.4f", e + 1, cfg.epochs, tr.loss, tr.accuracy);
      if (test_l) printf(" | test loss %.4f acc %.4f", te.loss, te.accuracy);
      printf(" | %.1f s, %.0f img/s, lr %.4g\n", tr.seconds, tr.samples_per_second, lr);
      fflush(stdout);
    }
    if (log) {
      size_t ll = strlen(op.log);
      if (ll >= 6 && strcmp(op.log + ll - 6, ".jsonl") == 0)
        fprintf(log,
                "{\"epoch\":%d,\"train_loss\":%.6f,\"train_accuracy\":%.6f,\"test_loss\":%.6f,"
                "\"test_accuracy\":%.6f,\"seconds\":%.3f,\"images_per_second\":%.1f,\"lr\":%.6g}\n",
                e + 1, tr.loss, tr.accuracy, te.loss, te.accuracy, tr.seconds, tr.samples_per_second, lr);
      else
        fprintf(log, "%d,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%.6g\n", e + 1, tr.loss, tr.accuracy, te.loss,
                te.accuracy, tr.seconds, tr.samples_per_second, lr);
      fflush(log);
    }
  }
  rc = 0;
out:
  if (log) fclose(log);
  dlc_loader_destroy(train_l);
  dlc_loader_destroy(test_l);
  dlc_dataset_free(&train_ds);
  dlc_dataset_free(&test_ds);
  dlc_optim_destroy(opt);
  dlc_net_destroy(net);
  dlc_ctx_destroy(ctx);
  return rc;
}

static int cmd_info(void) {
  printf("%s\n", dlc_build_info());
  char why[256];
  int n = dlc_cuda_device_count(why, sizeof why);
  if (n == 0) printf("CUDA devices: none (%s)\n", why);
  for (int i = 0; i < n; i++) {
    dlc_ctx_options o = dlc_ctx_options_default();
    o.device = DLC_DEVICE_CUDA;
    o.device_index = i;
    dlc_ctx *ctx = NULL;
    dlc_status s = dlc_ctx_create(&ctx, &o);
    printf("cuda:%d %s\n", i, s == DLC_OK ? "usable" : dlc_ctx_error(ctx));
    dlc_ctx_destroy(ctx);
  }
  dlc_ctx *ctx = NULL;
  if (dlc_ctx_create(&ctx, NULL) != DLC_OK) {
    fail(ctx, "cannot start");
    dlc_ctx_destroy(ctx);
    return 1;
  }
  dlc_device d = dlc_ctx_device(ctx);
  printf("default device: %s", d.kind == DLC_DEVICE_CUDA ? "cuda" : "cpu");
  if (d.kind == DLC_DEVICE_CUDA) printf(":%d", d.index);
  printf(" (%d CPU threads)\n", dlc_ctx_threads(ctx));
  if (dlc_ctx_notice(ctx)[0]) printf("notice: %s\n", dlc_ctx_notice(ctx));
  dlc_ctx_destroy(ctx);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "train")) return cmd_train(argc > 1 ? argc - 2 : 0, argv + 2);
  if (!strcmp(argv[1], "info")) return cmd_info();
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "dlcuda: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
