/* The dlcuda command: train, eval, predict, forward, explain, report, info. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlcuda.h"

#define DEFAULT_MODEL "models/fashion_cnn.cfg"

typedef struct options {
  const char *pos[2]; /* positional: the model, then (predict) the input */
  int npos;
  const char *data, *test_data, *log, *device, *optimizer, *cpu_gemm;
  const char *weights, *save, *checkpoint, *resume;
  const char *input, *output, *grad_output, *input_grad, *param_grads, *subsample, *sampler, *class_weights;
  const char *method, *layer, *out_dir; /* explain (--out, --layer: also report) */
  const char *report;                   /* train --report DIR */
  int64_t misclassified;                /* report: images shown (-1: the default) */
  int64_t klass, first, ig_steps;       /* explain: --class (-1: predicted), --first, --steps */
  float rotate, erase, brightness, contrast; /* augmentation overrides; < 0: the model file's */
  int epochs, threads, quiet, train_mode, top, layer_stats;
  int64_t batch, steps, checkpoint_every, stop_after;
  float lr;
  uint64_t seed;
  int have_seed;
} options;

static void usage(FILE *f) {
  fprintf(f,
          "usage: dlcuda COMMAND [ARGS]\n"
          "  train [MODEL.cfg] [--data DIR|FILE] [--test-data DIR|FILE] [--epochs N] [--batch N] [--lr X]\n"
          "        [--optimizer sgd|adam|adamw] [--device auto|cpu|cuda[:i]] [--seed N]\n"
          "        [--threads N] [--cpu-gemm auto|openblas|onednn] [--log FILE.csv|FILE.jsonl]\n"
          "        [--steps N] [--quiet]\n"
          "        [--weights W.safetensors] [--save W.safetensors] [--checkpoint CKPT]\n"
          "        [--checkpoint-every N] [--resume CKPT] [--stop-after N] [--layer-stats] [--report DIR]\n"
          "        trains MODEL (default " DEFAULT_MODEL ") on its data set (default\n"
          "        /usr/share/datasets/fashion-mnist), evaluating on the test split each epoch\n"
          "        (--test-data: another folder's test split, or a whole .csv file);\n"
          "        --steps N: N batches per epoch, from the first N x batch samples (quick runs);\n"
          "        --weights starts from saved weights; --save writes the final weights;\n"
          "        --subsample C=F,...: keep a fraction F of class C's training samples (an\n"
          "        imbalanced set from a balanced one); --class-weights balanced|none and\n"
          "        --sampler balanced|uniform override the model file's; --rotate DEG,\n"
          "        --erase P, --brightness B, --contrast C its augmentation;\n"
          "        --checkpoint writes CKPT after every epoch (and every N batches with\n"
          "        --checkpoint-every); --resume CKPT continues a run exactly where CKPT left it\n"
          "        (same model, data and options); --stop-after N stops after N batches;\n"
          "        --layer-stats: each layer's output mean and std, dead ReLU units, saturated\n"
          "        tanh/sigmoid values, weight and gradient norms per epoch (printed, and in --log);\n"
          "        --report DIR: at the end, DIR/report.html (see report), logging to\n"
          "        DIR/train.jsonl unless --log names the log\n"
          "  eval MODEL.cfg --weights W.safetensors [--data DIR|FILE] [--batch N] [--device D]\n"
          "        loss and accuracy (regression: mean absolute error) on the test split\n"
          "        (a .csv file: on the file itself)\n"
          "  predict MODEL.cfg --weights W.safetensors INPUT.npy|INPUT.idx[.gz] [--top K]\n"
          "        class probabilities (softmax of the output) for each input: float32 .npy is\n"
          "        used as it is; uint8 .npy and IDX images are scaled as the model's [net] says\n"
          "  forward MODEL.cfg [--weights W.safetensors] --input X.npy --output Y.npy [--train]\n"
          "        [--grad-output DY.npy [--input-grad DX.npy] [--param-grads G.safetensors]]\n"
          "        runs the network (evaluation mode, or training mode with --train) on X and\n"
          "        writes its output; with --grad-output also backward from DY, writing the\n"
          "        input's gradient and the parameters' gradients (under the weights' names)\n"
          "  explain MODEL.cfg --weights W.safetensors INPUT.npy|INPUT.idx[.gz] --out DIR\n"
          "        [--method saliency|gradcam|ig] [--class C] [--layer NAME] [--ig-steps N] [--first N]\n"
          "        what each input's prediction (or class C's score) rests on: DIR/N-METHOD.npy\n"
          "        (the map; ig: the attribution per input value) and DIR/N-METHOD.png (the input\n"
          "        with the map over it); gradcam on the last conv2d or --layer; ig from a black\n"
          "        image in --ig-steps steps (32); --first N: the first N inputs only\n"
          "  report MODEL.cfg --weights W.safetensors --out DIR [--log LOG] [--data DIR|FILE]\n"
          "        [--misclassified N] [--layer NAME]\n"
          "        DIR/report.html, one self-contained page: the network, the loss, accuracy and\n"
          "        learning rate per epoch from the run's LOG (and its layer statistics), and on\n"
          "        the test split the confusion matrix, precision, recall and F1 per class and the\n"
          "        N (32) most confident mistakes with their Grad-CAM (last conv2d, or --layer)\n"
          "  info [--device D] [--threads N] [--cpu-gemm G]   devices, build options, library\n"
          "        versions, and the CPU GEMM a context picks\n");
}

/* "dlcuda: OPT VALUE: use a, b, c": the choices from the library's name table of the enum. */
#define SAY_CHOICES(opt, value, count, name_of, type)                                          \
  do {                                                                                         \
    fprintf(stderr, "dlcuda: %s %s: use", (opt), (value));                                     \
    for (int k_ = 0; k_ < (count); k_++) fprintf(stderr, "%s %s", k_ ? "," : "", name_of((type)k_)); \
    fprintf(stderr, "\n");                                                                     \
  } while (0)

static int fail(dlc_ctx *ctx, const char *what) {
  fprintf(stderr, "dlcuda: %s%s%s\n", what, ctx ? ": " : "", ctx ? dlc_ctx_error(ctx) : "");
  return 1;
}

/* Numbers on the command line are parsed whole, in range, without overflow; a bad one is
 * an error naming the option, the value and what it takes. */
static int parse_int(const char *opt, const char *v, long long lo, long long hi, int64_t *out) {
  char *end;
  errno = 0;
  long long x = isdigit((unsigned char)v[0]) || v[0] == '-' ? strtoll(v, &end, 10) : 0;
  if (!(isdigit((unsigned char)v[0]) || v[0] == '-') || *end || errno == ERANGE || x < lo || x > hi) {
    fprintf(stderr, "dlcuda: %s %s: expected a whole number from %lld to %lld\n", opt, v, lo, hi);
    return 0;
  }
  *out = x;
  return 1;
}

static int parse_u64(const char *opt, const char *v, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long x = isdigit((unsigned char)v[0]) ? strtoull(v, &end, 10) : 0;
  if (!isdigit((unsigned char)v[0]) || *end || errno == ERANGE) {
    fprintf(stderr, "dlcuda: %s %s: expected a whole number from 0 to %llu\n", opt, v, (unsigned long long)UINT64_MAX);
    return 0;
  }
  *out = x;
  return 1;
}

static int parse_positive_float(const char *opt, const char *v, float *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (end == v || *end || isspace((unsigned char)v[0]) || !isfinite(x) || x <= 0 || x > 3.4e38) {
    fprintf(stderr, "dlcuda: %s %s: expected a positive finite number (such as 0.01)\n", opt, v);
    return 0;
  }
  *out = (float)x;
  return 1;
}

static int parse_device(const char *s, dlc_ctx_options *o) {
  if (!strcmp(s, "auto")) o->device = DLC_DEVICE_AUTO;
  else if (!strcmp(s, "cpu")) o->device = DLC_DEVICE_CPU;
  else if (!strcmp(s, "cuda")) {
    o->device = DLC_DEVICE_CUDA;
    o->device_index = 0;
  } else if (!strncmp(s, "cuda:", 5)) {
    char *end;
    errno = 0;
    long i = isdigit((unsigned char)s[5]) ? strtol(s + 5, &end, 10) : -1;
    if (i < 0 || *end || errno == ERANGE || i > 1023) return 0;
    o->device = DLC_DEVICE_CUDA;
    o->device_index = (int)i;
  } else return 0;
  return 1;
}

static int parse_args(int argc, char **argv, options *op) {
  memset(op, 0, sizeof *op);
  op->device = "auto";
  op->rotate = op->erase = op->brightness = op->contrast = -1.f;
  op->klass = -1;
  op->misclassified = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t n;
#define NEEDV() do { if (!v) { fprintf(stderr, "dlcuda: %s needs a value\n", a); return 0; } i++; } while (0)
#define INT(field, hi) do { NEEDV(); if (!parse_int(a, v, 1, (hi), &n)) return 0; op->field = n; } while (0)
    if (!strcmp(a, "--data")) { NEEDV(); op->data = v; }
    else if (!strcmp(a, "--test-data")) { NEEDV(); op->test_data = v; }
    else if (!strcmp(a, "--epochs")) INT(epochs, 1000000);
    else if (!strcmp(a, "--batch")) INT(batch, 1 << 20);
    else if (!strcmp(a, "--lr")) { NEEDV(); if (!parse_positive_float(a, v, &op->lr)) return 0; }
    else if (!strcmp(a, "--optimizer")) { NEEDV(); op->optimizer = v; }
    else if (!strcmp(a, "--device")) { NEEDV(); op->device = v; }
    else if (!strcmp(a, "--seed")) { NEEDV(); if (!parse_u64(a, v, &op->seed)) return 0; op->have_seed = 1; }
    else if (!strcmp(a, "--threads")) INT(threads, 4096);
    else if (!strcmp(a, "--cpu-gemm")) { NEEDV(); op->cpu_gemm = v; }
    else if (!strcmp(a, "--log")) { NEEDV(); op->log = v; }
    else if (!strcmp(a, "--steps")) INT(steps, INT64_MAX);
    else if (!strcmp(a, "--weights")) { NEEDV(); op->weights = v; }
    else if (!strcmp(a, "--save")) { NEEDV(); op->save = v; }
    else if (!strcmp(a, "--checkpoint")) { NEEDV(); op->checkpoint = v; }
    else if (!strcmp(a, "--checkpoint-every")) INT(checkpoint_every, INT64_MAX);
    else if (!strcmp(a, "--resume")) { NEEDV(); op->resume = v; }
    else if (!strcmp(a, "--stop-after")) INT(stop_after, INT64_MAX);
    else if (!strcmp(a, "--input")) { NEEDV(); op->input = v; }
    else if (!strcmp(a, "--output")) { NEEDV(); op->output = v; }
    else if (!strcmp(a, "--grad-output")) { NEEDV(); op->grad_output = v; }
    else if (!strcmp(a, "--input-grad")) { NEEDV(); op->input_grad = v; }
    else if (!strcmp(a, "--param-grads")) { NEEDV(); op->param_grads = v; }
    else if (!strcmp(a, "--top")) INT(top, 1000000);
    else if (!strcmp(a, "--subsample")) { NEEDV(); op->subsample = v; }
    else if (!strcmp(a, "--sampler")) { NEEDV(); op->sampler = v; }
    else if (!strcmp(a, "--class-weights")) { NEEDV(); op->class_weights = v; }
    else if (!strcmp(a, "--rotate") || !strcmp(a, "--erase") || !strcmp(a, "--brightness") || !strcmp(a, "--contrast")) {
      NEEDV();
      char *end;
      errno = 0;
      double x = strtod(v, &end);
      double hi = !strcmp(a, "--rotate") ? 180 : 1;
      if (end == v || *end || errno || !(x >= 0 && x <= hi)) {
        fprintf(stderr, "dlcuda: %s %s: expected a number from 0 to %g\n", a, v, hi);
        return 0;
      }
      float *f = !strcmp(a, "--rotate") ? &op->rotate : !strcmp(a, "--erase") ? &op->erase
                 : !strcmp(a, "--brightness") ? &op->brightness : &op->contrast;
      *f = (float)x;
    }
    else if (!strcmp(a, "--method")) { NEEDV(); op->method = v; }
    else if (!strcmp(a, "--layer")) { NEEDV(); op->layer = v; }
    else if (!strcmp(a, "--out")) { NEEDV(); op->out_dir = v; }
    else if (!strcmp(a, "--class")) { NEEDV(); if (!parse_int(a, v, 0, 1 << 30, &op->klass)) return 0; }
    else if (!strcmp(a, "--first")) INT(first, INT64_MAX);
    else if (!strcmp(a, "--report")) { NEEDV(); op->report = v; }
    else if (!strcmp(a, "--misclassified")) { NEEDV(); if (!parse_int(a, v, 0, 1024, &op->misclassified)) return 0; }
    else if (!strcmp(a, "--ig-steps")) INT(ig_steps, 100000);
    else if (!strcmp(a, "--train")) op->train_mode = 1;
    else if (!strcmp(a, "--quiet")) op->quiet = 1;
    else if (!strcmp(a, "--layer-stats")) op->layer_stats = 1;
    else if (a[0] == '-' && a[1]) { fprintf(stderr, "dlcuda: unknown option %s\n", a); return 0; }
    else if (op->npos < 2) op->pos[op->npos++] = a;
    else { fprintf(stderr, "dlcuda: unexpected argument %s\n", a); return 0; }
#undef INT
#undef NEEDV
  }
  return 1;
}

static dlc_ctx *make_ctx(const options *op) {
  dlc_ctx_options o = dlc_ctx_options_default();
  if (!parse_device(op->device, &o)) {
    fprintf(stderr, "dlcuda: --device %s: use auto, cpu, cuda or cuda:N (N from 0)\n", op->device);
    return NULL;
  }
  if (op->have_seed) o.seed = op->seed;
  o.threads = op->threads;
  if (op->cpu_gemm && dlc_cpu_gemm_from_name(op->cpu_gemm, &o.cpu_gemm) != DLC_OK) {
    SAY_CHOICES("--cpu-gemm", op->cpu_gemm, DLC_CPU_GEMM_COUNT, dlc_cpu_gemm_name, dlc_cpu_gemm);
    return NULL;
  }
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
  int tty, epochs;
} progress;

/* What dlc_fit's callbacks print and log. */
typedef struct epoch_out {
  const options *op;
  struct progress *progress;
} epoch_out;

static void show_progress(void *user, int64_t epoch, int64_t b, int64_t nb, const dlc_epoch_stats *st) {
  progress *p = ((epoch_out *)user)->progress;
  if (!p->tty) return;
  int width = 30, done = (int)(width * b / (nb ? nb : 1));
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < done ? '=' : (i == done ? '>' : ' ');
  bar[width] = '\0';
  fprintf(stderr, "\repoch %lld/%d [%s] %lld/%lld  loss %.4f  acc %.4f  %.0f img/s ", (long long)epoch + 1, p->epochs,
          bar, (long long)b, (long long)nb, st->loss, st->accuracy, st->samples_per_second);
  fflush(stderr);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "--subsample 3=0.02,5=0.1" into keep[0..classes) (1 where not named). */
static int parse_subsample(const char *v, float *keep, int64_t classes) {
  for (int64_t c = 0; c < classes; c++) keep[c] = 1.f;
  const char *p = v;
  while (*p) {
    char *end;
    errno = 0;
    long c = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
    if (c < 0 || errno || *end != '=' || c >= classes) {
      fprintf(stderr, "dlcuda: --subsample %s: expected CLASS=FRACTION,... with classes from 0 to %lld\n", v,
              (long long)classes - 1);
      return 0;
    }
    p = end + 1;
    double f = strtod(p, &end);
    if (end == p || !(f >= 0 && f <= 1) || (*end && *end != ',')) {
      fprintf(stderr, "dlcuda: --subsample %s: class %ld's fraction must be a number from 0 to 1\n", v, c);
      return 0;
    }
    keep[c] = (float)f;
    p = *end ? end + 1 : end;
  }
  return 1;
}

/* The model's number of classes (the last dimension of its output). */
static int64_t model_classes(const dlc_net *net) {
  int64_t shape[DLC_MAX_DIMS];
  int nd = dlc_net_output_shape(net, shape);
  return nd > 0 ? shape[nd - 1] : 0;
}

static void print_recall(const double *recall, int64_t C, const char *indent) {
  printf("%srecall per class:", indent);
  for (int64_t c = 0; c < C; c++) printf(" %.3f", recall[c]);
  printf("\n");
}

static dlc_status print_epoch(void *user, const dlc_fit_epoch *e) {
  epoch_out *eo = user;
  const int reg = e->regression;
  /* Classification reports accuracy; regression ([mse]) the mean absolute error. */
  const char *mname = reg ? "mae" : "acc";
  if (!eo->op->quiet) {
    if (eo->progress->tty) fprintf(stderr, "\r%100s\r", ""); /* the progress bar's line */
    printf("epoch %3lld/%d  train loss %.4f %s %.4f%s", (long long)e->epoch + 1, e->epochs, e->train.loss, mname,
           reg ? e->train.mae : e->train.accuracy, e->resumed_mid_epoch ? " (resumed mid-epoch)" : "");
    if (e->have_test) printf(" | test loss %.4f %s %.4f", e->test.loss, mname, reg ? e->test.mae : e->test.accuracy);
    if (e->have_classes) printf(" bal %.4f F1 %.4f", e->summary.balanced_accuracy, e->summary.macro_f1);
    printf(" | %.1f s, %.0f img/s, lr %.4g\n", e->train.seconds, e->train.samples_per_second, e->lr);
    if (e->have_classes && e->classes <= 32) print_recall(e->recall, e->classes, "           test ");
    for (int i = 0; i < e->nlayers; i++) {
      const dlc_layer_stats *l = &e->layers[i];
      if (!l->has_output && !l->has_params) continue;
      printf("           %-16s %-10s", l->name, l->kind);
      if (l->has_output) printf(" mean %9.4g std %9.4g", l->mean, l->std);
      if (l->has_dead) printf(" dead %5.1f%%", 100 * l->dead);
      if (l->has_saturated) printf(" saturated %5.1f%%", 100 * l->saturated);
      if (l->has_params) printf(" |w| %9.4g |grad| %9.4g", l->weight_norm, l->grad_norm);
      printf("\n");
    }
    fflush(stdout);
  }
  return DLC_OK;
}

/* The report's folder: made when missing (its parent must exist). */
static int report_dir(const char *dir) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST) return 1;
  fprintf(stderr, "dlcuda: cannot make the report folder %s: %s\n", dir, strerror(errno));
  return 0;
}

/* DIR/report.html (dlc_report_write) for train --report and report. */
static int write_report(dlc_ctx *ctx, dlc_net *net, const dlc_train_config *cfg, const options *op, const char *model,
                        const char *data, const dlc_dataset *test, const char *log, const char *path) {
  dlc_report_options ro = dlc_report_options_default();
  char sub[1024];
  dlc_device dev = dlc_ctx_device(ctx);
  int n = snprintf(sub, sizeof sub, "data %s", data);
  if (test) n += snprintf(sub + n, sizeof sub - (size_t)n, " (%lld test samples)", (long long)test->count);
  if (op->weights && (size_t)n < sizeof sub) n += snprintf(sub + n, sizeof sub - (size_t)n, ", weights %s", op->weights);
  if ((size_t)n < sizeof sub)
    snprintf(sub + n, sizeof sub - (size_t)n, ", on %s%.0d", dev.kind == DLC_DEVICE_CUDA ? "cuda:" : "the CPU",
             dev.kind == DLC_DEVICE_CUDA ? dev.index : 0);
  ro.title = model;
  ro.subtitle = sub;
  ro.log = log;
  ro.class_names = cfg->class_names;
  if (op->misclassified >= 0) ro.misclassified = (int)op->misclassified;
  if (op->layer && (ro.gradcam_layer = dlc_net_layer_index(net, op->layer)) < 0) {
    fprintf(stderr, "dlcuda: --layer %s: no such layer (dlcuda train prints the names)\n", op->layer);
    return 0;
  }
  dlc_loader_options norm = dlc_loader_options_eval(&cfg->loader);
  if (dlc_report_write(net, test, &norm, &ro, path) != DLC_OK) return fail(ctx, "report"), 0;
  if (!op->quiet) printf("report written to %s\n", path);
  return 1;
}

static int cmd_train(const options *in) {
  options op = *in;
  const char *model = op.npos > 0 ? op.pos[0] : DEFAULT_MODEL;
  if (op.npos > 1) {
    fprintf(stderr, "dlcuda: train takes one model file\n");
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
  dlc_train_config cfg;
  dlc_checkpoint_info resume;
  memset(&resume, 0, sizeof resume);
  if (op.resume) {
    /* The data order follows the seed: take the checkpoint's before the loader exists. */
    if (dlc_checkpoint_read_info(ctx, op.resume, &resume) != DLC_OK) { fail(ctx, "resume"); goto out; }
    if (op.have_seed && op.seed != resume.seed)
      fprintf(stderr, "dlcuda: --seed %llu ignored: %s continues the run of seed %llu\n",
              (unsigned long long)op.seed, op.resume, (unsigned long long)resume.seed);
    dlc_ctx_set_seed(ctx, resume.seed);
  }
  if (dlc_model_load(ctx, model, op.batch, &net, &cfg) != DLC_OK) { fail(ctx, "model"); goto out; }
  if (op.weights && dlc_net_load_weights(net, op.weights) != DLC_OK) { fail(ctx, "weights"); goto out; }
  if (op.epochs) cfg.epochs = op.epochs;
  if (op.sampler) {
    if (strcmp(op.sampler, "balanced") && strcmp(op.sampler, "uniform")) {
      fprintf(stderr, "dlcuda: --sampler %s: use balanced or uniform\n", op.sampler);
      goto out;
    }
    cfg.loader.balanced = !strcmp(op.sampler, "balanced");
  }
  if (op.class_weights) {
    if (strcmp(op.class_weights, "balanced") && strcmp(op.class_weights, "none")) {
      fprintf(stderr, "dlcuda: --class-weights %s: use balanced or none (the model file's weights = ... stay)\n",
              op.class_weights);
      goto out;
    }
    cfg.balanced_class_weights = !strcmp(op.class_weights, "balanced");
  }
  if (op.rotate >= 0) cfg.loader.rotate = op.rotate;
  if (op.erase >= 0) cfg.loader.erase = op.erase;
  if (op.brightness >= 0) cfg.loader.brightness = op.brightness;
  if (op.contrast >= 0) cfg.loader.contrast = op.contrast;
  if (op.lr > 0) cfg.optim.lr = op.lr;
  if (op.optimizer) {
    if (dlc_optimizer_from_name(op.optimizer, &cfg.optim.kind) != DLC_OK) {
      SAY_CHOICES("--optimizer", op.optimizer, DLC_OPT_COUNT, dlc_optimizer_name, dlc_optimizer_kind);
      goto out;
    }
  }
  const char *data = op.data ? op.data : cfg.data;
  const dlc_data_spec *spec = &cfg.data_spec;
  int regression = spec->regression;
  if (dlc_dataset_open_spec(ctx, data, 1, spec, &train_ds) != DLC_OK) { fail(ctx, "training data"); goto out; }
  int have_test;
  if (op.test_data) {
    /* A folder's test split, or a whole .csv file. */
    if (dlc_dataset_open_spec(ctx, op.test_data, 0, spec, &test_ds) != DLC_OK) {
      fail(ctx, "--test-data");
      goto out;
    }
    have_test = 1;
  } else {
    have_test = !ends_with(data, ".csv") && dlc_dataset_open_spec(ctx, data, 0, spec, &test_ds) == DLC_OK;
    if (!have_test && ends_with(data, ".csv"))
      fprintf(stderr, "dlcuda: %s is one CSV file: reporting training metrics only (--test-data names a held-out file)\n",
              data);
    else if (!have_test)
      fprintf(stderr, "dlcuda: no test split (%s): reporting training metrics only (--test-data names one)\n",
              dlc_ctx_error(ctx));
  }
  if (dlc_net_check_dataset(net, &train_ds) != DLC_OK || (have_test && dlc_net_check_dataset(net, &test_ds) != DLC_OK)) {
    fail(ctx, "data set and model do not fit");
    goto out;
  }
  /* Imbalance: subsampling the training set, then class weights from what remains. */
  int64_t C = regression ? 0 : model_classes(net);
  if (op.subsample) {
    float *keep = malloc(sizeof(float) * (size_t)(C > 0 ? C : 1));
    int64_t before = train_ds.count;
    int ok = keep && C > 0 && parse_subsample(op.subsample, keep, C) &&
             dlc_dataset_subsample(ctx, &train_ds, keep, C, dlc_ctx_seed(ctx)) == DLC_OK;
    if (!ok && keep && C > 0 && dlc_ctx_error(ctx)[0]) fail(ctx, "--subsample");
    if (C == 0) fprintf(stderr, "dlcuda: --subsample needs a classifier\n");
    free(keep);
    if (!ok) goto out;
    if (!op.quiet) printf("subsampled: %lld of %lld training samples kept (%s)\n", (long long)train_ds.count,
                          (long long)before, op.subsample);
  }
  if (cfg.balanced_class_weights) {
    float *w = malloc(sizeof(float) * (size_t)(C > 0 ? C : 1));
    if (!w || dlc_net_balance_class_weights(net, &train_ds, w, C) != DLC_OK) {
      free(w);
      fail(ctx, "weights = balanced");
      goto out;
    }
    if (!op.quiet) {
      printf("class weights (balanced, from the training labels):");
      for (int64_t c = 0; c < C; c++) printf(" %.4g", w[c]);
      printf("\n");
    }
    free(w);
  }
  char summary[8192];
  dlc_net_summary(net, summary, sizeof summary);
  dlc_device dev = dlc_ctx_device(ctx);
  if (!op.quiet) {
    printf("model %s on %s%s%.0d, %d CPU threads, CPU GEMM %s\n%s", model, dev.kind == DLC_DEVICE_CUDA ? "cuda:" : "cpu",
           "", dev.kind == DLC_DEVICE_CUDA ? dev.index : 0, dlc_ctx_threads(ctx), dlc_ctx_cpu_gemm_info(ctx), summary);
    printf("data %s: %lld training, %lld test samples%s%s of %dx%dx%d\n", data, (long long)train_ds.count,
           (long long)(have_test ? test_ds.count : 0), op.test_data ? " from " : "", op.test_data ? op.test_data : "",
           train_ds.channels, train_ds.height, train_ds.width);
  }
  cfg.loader.batch = cfg.batch;
  /* steps * batch < count, without overflow for any --steps */
  if (op.steps > 0 && op.steps <= (train_ds.count - 1) / cfg.batch) train_ds.count = op.steps * cfg.batch;
  cfg.loader.seed = dlc_ctx_seed(ctx);
  if (dlc_loader_create(ctx, &train_ds, &cfg.loader, &train_l) != DLC_OK) { fail(ctx, "loader"); goto out; }
  dlc_loader_options tl = dlc_loader_options_eval(&cfg.loader); /* the test set as it is */
  if (have_test && dlc_loader_create(ctx, &test_ds, &tl, &test_l) != DLC_OK) { fail(ctx, "loader"); goto out; }
  if (dlc_optim_create(ctx, &cfg.optim, dlc_net_param_count(net) > 0 ? dlc_net_params(net)->numel : 0, &opt) != DLC_OK) {
    fail(ctx, "optimizer");
    goto out;
  }
  if (op.resume && !op.quiet)
    printf("resuming %s: epoch %lld, batch %lld of %lld, step %lld\n", op.resume, (long long)resume.epoch + 1,
           (long long)resume.batch, (long long)dlc_loader_batches(train_l), (long long)resume.step);
  char report[4096], report_log[4096];
  if (op.report) {
    /* Checked before training; the log goes with it unless --log names one. */
    snprintf(report, sizeof report, "%s/report.html", op.report);
    snprintf(report_log, sizeof report_log, "%s/train.jsonl", op.report);
    if (!op.log) op.log = report_log;
    if (!report_dir(op.report)) goto out;
    if (dlc_check_output_path(ctx, report) != DLC_OK) { fail(ctx, "--report"); goto out; }
  }
  if (op.stop_after && !op.checkpoint)
    fprintf(stderr, "dlcuda: --stop-after without --checkpoint: the run cannot be resumed\n");
  progress pr = {isatty(2) && !op.quiet, cfg.epochs};
  epoch_out eo = {&op, &pr};
  dlc_fit_options fo = dlc_fit_options_default();
  fo.epochs = cfg.epochs;
  fo.warmup_epochs = cfg.warmup_epochs;
  fo.checkpoint = op.checkpoint;
  fo.checkpoint_every = op.checkpoint_every;
  fo.resume = op.resume;
  fo.stop_after = op.stop_after;
  fo.save = op.save;
  fo.log = op.log;
  fo.layer_stats = op.layer_stats;
  fo.on_progress = show_progress;
  fo.on_epoch = print_epoch;
  fo.user = &eo;
  dlc_fit_result fr;
  dlc_status fs = dlc_fit(net, opt, train_l, test_l, &fo, &fr);
  if (pr.tty) fprintf(stderr, "\r%100s\r", "");
  if (fs != DLC_OK) {
    fail(ctx, "training");
    /* An output failed after training began: the weights went elsewhere, if anywhere. */
    if (fr.rescued[0])
      fprintf(stderr, "dlcuda: the trained weights were saved to %s instead\n", fr.rescued);
    else if (fr.output_failed && fr.batches > 0)
      fprintf(stderr, "dlcuda: the trained weights could not be saved anywhere (tried ., $TMPDIR and /tmp)\n");
    goto out;
  }
  if (fr.stopped) {
    if (fr.batch > 0)
      printf("stopped after %lld batches, at batch %lld of %lld in epoch %lld%s%s\n", (long long)fr.batches,
             (long long)fr.batch, (long long)fr.batches_per_epoch, (long long)fr.epoch + 1,
             op.checkpoint ? "; resume with --resume " : "", op.checkpoint ? op.checkpoint : "");
    else
      printf("stopped after %lld batches, at the end of epoch %lld%s%s\n", (long long)fr.batches, (long long)fr.epoch,
             op.checkpoint ? "; resume with --resume " : "", op.checkpoint ? op.checkpoint : "");
  }
  if (op.save && !op.quiet) printf("weights saved to %s\n", op.save);
  if (op.report && !write_report(ctx, net, &cfg, &op, model, data, have_test ? &test_ds : NULL, op.log, report))
    goto out;
  rc = 0;
out:
  dlc_loader_destroy(train_l);
  dlc_loader_destroy(test_l);
  dlc_dataset_free(&train_ds);
  dlc_dataset_free(&test_ds);
  dlc_optim_destroy(opt);
  dlc_net_destroy(net);
  dlc_ctx_destroy(ctx);
  return rc;
}

/* The model (with --weights loaded) for the commands that run a trained network. */
static int open_model(dlc_ctx *ctx, const options *op, int64_t batch, int need_weights, dlc_net **net,
                      dlc_train_config *cfg) {
  if (op->npos < 1) {
    fprintf(stderr, "dlcuda: which model? (dlcuda COMMAND MODEL.cfg ...)\n");
    return 0;
  }
  if (need_weights && !op->weights) {
    fprintf(stderr, "dlcuda: --weights W.safetensors is needed\n");
    return 0;
  }
  if (dlc_model_load(ctx, op->pos[0], batch, net, cfg) != DLC_OK) return fail(ctx, "model"), 0;
  if (op->weights && dlc_net_load_weights(*net, op->weights) != DLC_OK) return fail(ctx, "weights"), 0;
  return 1;
}

static int cmd_eval(const options *op) {
  if (op->npos > 1) {
    fprintf(stderr, "dlcuda: eval takes one model file\n");
    return 2;
  }
  dlc_ctx *ctx = make_ctx(op);
  if (!ctx) return 1;
  int rc = 1;
  dlc_net *net = NULL;
  dlc_loader *l = NULL;
  dlc_dataset ds;
  memset(&ds, 0, sizeof ds);
  int64_t *cm = NULL;
  double *per = NULL;
  dlc_train_config cfg;
  if (!open_model(ctx, op, op->batch, 1, &net, &cfg)) goto out;
  const char *data = op->data ? op->data : cfg.data;
  /* A folder's test split, or a whole .csv file. */
  const char *split = ends_with(data, ".csv") ? "whole" : "test";
  if (dlc_dataset_open_spec(ctx, data, 0, &cfg.data_spec, &ds) != DLC_OK) { fail(ctx, "test data"); goto out; }
  if (dlc_net_check_dataset(net, &ds) != DLC_OK) { fail(ctx, "data set and model do not fit"); goto out; }
  dlc_loader_options lo = dlc_loader_options_eval(&cfg.loader);
  lo.batch = cfg.batch;
  dlc_epoch_stats st;
  if (dlc_loader_create(ctx, &ds, &lo, &l) != DLC_OK) { fail(ctx, "loader"); goto out; }
  int64_t C = cfg.data_spec.regression ? 0 : model_classes(net);
  if (C > 0) {
    cm = calloc((size_t)(C * C), sizeof *cm);
    per = calloc((size_t)(2 * C), sizeof *per);
    if (!cm || !per) { fprintf(stderr, "dlcuda: out of memory\n"); goto out; }
  }
  if ((C > 0 ? dlc_net_evaluate_confusion(net, l, &st, cm, C) : dlc_net_evaluate(net, l, &st)) != DLC_OK) {
    fail(ctx, "evaluation");
    goto out;
  }
  if (cfg.data_spec.regression)
    printf("%s: %s split of %s: loss %.6f mae %.6f (%lld samples)\n", op->weights, split, data, st.loss, st.mae,
           (long long)st.samples);
  else {
    dlc_class_summary cs;
    dlc_class_metrics(cm, C, per, per + C, NULL, &cs);
    printf("%s: %s split of %s: loss %.6f accuracy %.4f balanced accuracy %.4f macro F1 %.4f (%lld samples)\n",
           op->weights, split, data, st.loss, st.accuracy, cs.balanced_accuracy, cs.macro_f1, (long long)st.samples);
    if (C <= 1000) {
      printf("class  recall  precision\n");
      for (int64_t c = 0; c < C; c++) printf("%5lld  %.4f  %.4f\n", (long long)c, per[c], per[C + c]);
    }
  }
  rc = 0;
out:
  free(cm);
  free(per);
  dlc_loader_destroy(l);
  dlc_dataset_free(&ds);
  dlc_net_destroy(net);
  dlc_ctx_destroy(ctx);
  return rc;
}

/* report: the page for a finished run, from its log, weights and the test split. */
static int cmd_report(const options *op) {
  if (op->npos > 1 || !op->out_dir) {
    fprintf(stderr, "dlcuda: report MODEL.cfg --weights W --out DIR [--log LOG] [--data DIR|FILE]\n");
    return 2;
  }
  dlc_ctx *ctx = make_ctx(op);
  if (!ctx) return 1;
  int rc = 1;
  dlc_net *net = NULL;
  dlc_dataset ds;
  memset(&ds, 0, sizeof ds);
  dlc_train_config cfg;
  char path[4096];
  snprintf(path, sizeof path, "%s/report.html", op->out_dir);
  if (!report_dir(op->out_dir)) goto out;
  if (dlc_check_output_path(ctx, path) != DLC_OK) { fail(ctx, "--out"); goto out; }
  if (!open_model(ctx, op, op->batch, 1, &net, &cfg)) goto out;
  const char *data = op->data ? op->data : cfg.data;
  if (dlc_dataset_open_spec(ctx, data, 0, &cfg.data_spec, &ds) != DLC_OK) { fail(ctx, "test data"); goto out; }
  if (write_report(ctx, net, &cfg, op, op->pos[0], data, &ds, op->log, path)) rc = 0;
out:
  dlc_dataset_free(&ds);
  dlc_net_destroy(net);
  dlc_ctx_destroy(ctx);
  return rc;
}

/* A row of K scores into probabilities (softmax in double, the row maximum subtracted);
 * returns the most likely class. */
static int64_t softmax_best(float *z, int64_t K) {
  double mx = z[0], sum = 0;
  for (int64_t c = 1; c < K; c++) mx = z[c] > mx ? z[c] : mx;
  for (int64_t c = 0; c < K; c++) sum += exp(z[c] - mx);
  int64_t best = 0;
  for (int64_t c = 0; c < K; c++) {
    z[c] = (float)(exp(z[c] - mx) / sum);
    if (z[c] > z[best]) best = c;
  }
  return best;
}

static int cmd_predict(const options *op) {
  if (op->npos != 2) {
    fprintf(stderr, "dlcuda: predict MODEL.cfg --weights W.safetensors INPUT\n");
    return 2;
  }
  dlc_ctx *ctx = make_ctx(op);
  if (!ctx) return 1;
  int rc = 1;
  dlc_net *net = NULL;
  dlc_tensor x;
  memset(&x, 0, sizeof x);
  float *probs = NULL;
  dlc_train_config cfg;
  if (!open_model(ctx, op, op->batch, 1, &net, &cfg)) goto out;
  int64_t in_shape[DLC_MAX_DIMS], out_shape[DLC_MAX_DIMS];
  int in_ndim = dlc_net_input_shape(net, in_shape);
  int out_ndim = dlc_net_output_shape(net, out_shape);
  int64_t classes = out_shape[out_ndim - 1], per = 1;
  for (int i = 0; i < out_ndim; i++) per *= out_shape[i];
  int regression = cfg.data_spec.regression;
  if (regression) {
    classes = per; /* every output value of a sample, printed as it is */
    if (op->top) {
      fprintf(stderr, "dlcuda: --top ranks classes, and this model ([mse]) predicts values\n");
      goto out;
    }
  } else if (per != classes) {
    fprintf(stderr, "dlcuda: the model's output is not one row of class scores per input\n");
    goto out;
  }
  if (dlc_input_load(ctx, op->pos[1], &cfg.loader, in_ndim, in_shape, &x) != DLC_OK) { fail(ctx, "input"); goto out; }
  int64_t n = x.shape[0];
  int top = op->top > 0 ? (op->top < classes ? op->top : (int)classes) : 0;
  probs = malloc(sizeof(float) * (size_t)(n * classes));
  if (!probs) { fprintf(stderr, "dlcuda: out of memory\n"); goto out; }
  if (dlc_net_predict(net, x.data, n, probs) != DLC_OK) { fail(ctx, "forward"); goto out; }
  int64_t bad = 0, first_bad = -1;
  if (regression) printf("# input, then the model's %lld output values\n", (long long)classes);
  else if (top) printf("# input: the %d most likely classes as class:probability\n", top);
  else printf("# input, predicted class, probabilities of classes 0 to %lld\n", (long long)classes - 1);
  for (int64_t r = 0; r < n; r++) {
    float *z = probs + r * classes;
    int finite = 1;
    for (int64_t c = 0; c < classes; c++) finite &= isfinite(z[c]) != 0;
    if (!finite) { /* NaN or infinite scores rank nothing: say so for this input */
      printf("%lld error: %s not finite\n", (long long)r, regression ? "outputs" : "scores");
      if (bad++ == 0) first_bad = r;
      continue;
    }
    if (regression) {
      printf("%lld", (long long)r);
      for (int64_t c = 0; c < classes; c++) printf(" %.9g", z[c]);
      printf("\n");
      continue;
    }
    int64_t best = softmax_best(z, classes);
    printf("%lld", (long long)r);
    if (!top) {
      printf(" %lld", (long long)best);
      for (int64_t c = 0; c < classes; c++) printf(" %.6g", z[c]);
    }
    for (int k = 0; k < top; k++) {
      int64_t b = -1;
      for (int64_t c = 0; c < classes; c++)
        if (z[c] >= 0 && (b < 0 || z[c] > z[b])) b = c;
      if (b < 0) break;
      printf(" %lld:%.6g", (long long)b, z[b]);
      z[b] = -1; /* taken */
    }
    printf("\n");
  }
  if (bad) {
    fprintf(stderr,
            "dlcuda: %lld of %lld inputs gave NaN or infinite %s (the first: input %lld): the input or the weights "
            "hold NaN or infinite values\n",
            (long long)bad, (long long)n, regression ? "outputs" : "scores", (long long)first_bad);
    goto out;
  }
  rc = 0;
out:
  free(probs);
  dlc_tensor_free(ctx, &x);
  dlc_net_destroy(net);
  dlc_ctx_destroy(ctx);
  return rc;
}

/* Saves a device tensor as .npy with the given shape. */
static int save_npy(dlc_ctx *ctx, const char *path, const dlc_tensor *t, int ndim, const int64_t *shape) {
  dlc_tensor v = *t;
  if (dlc_tensor_reshape(ctx, &v, ndim, shape) != DLC_OK || dlc_npy_save(ctx, path, &v) != DLC_OK)
    return fail(ctx, "writing"), 0;
  return 1;
}

static int cmd_forward(const options *op) {
  if (op->npos != 1 || !op->input || !op->output) {
    fprintf(stderr, "dlcuda: forward MODEL.cfg [--weights W] --input X.npy --output Y.npy\n");
    return 2;
  }
  if ((op->input_grad || op->param_grads) && !op->grad_output) {
    fprintf(stderr, "dlcuda: --input-grad and --param-grads need --grad-output DY.npy\n");
    return 2;
  }
  dlc_ctx *ctx = make_ctx(op);
  if (!ctx) return 1;
  const char *outs[3] = {op->output, op->input_grad, op->param_grads};
  const char *out_opts[3] = {"--output", "--input-grad", "--param-grads"};
  for (int i = 0; i < 3; i++)
    if (outs[i] && dlc_check_output_path(ctx, outs[i]) != DLC_OK) {
      fprintf(stderr, "dlcuda: %s %s: %s\n", out_opts[i], outs[i], dlc_ctx_error(ctx));
      dlc_ctx_destroy(ctx);
      return 1;
    }
  int rc = 1;
  dlc_net *net = NULL;
  dlc_tensor raw, x, dy_host, dy;
  memset(&raw, 0, sizeof raw);
  memset(&x, 0, sizeof x);
  memset(&dy_host, 0, sizeof dy_host);
  memset(&dy, 0, sizeof dy);
  dlc_train_config cfg;
  if (dlc_npy_load(ctx, op->input, &raw) != DLC_OK) { fail(ctx, "input"); goto out; }
  if (raw.dtype != DLC_F32 || raw.ndim < 1) {
    fprintf(stderr, "dlcuda: %s: the input must be float32 [N, ...]\n", op->input);
    goto out;
  }
  if (!open_model(ctx, op, raw.shape[0], 0, &net, &cfg)) goto out;
  int64_t shape[DLC_MAX_DIMS], in_shape[DLC_MAX_DIMS];
  int in_ndim = dlc_net_input_shape(net, in_shape);
  shape[0] = raw.shape[0];
  memcpy(shape + 1, in_shape, sizeof(int64_t) * (size_t)in_ndim);
  if (dlc_tensor_reshape(ctx, &raw, in_ndim + 1, shape) != DLC_OK) { fail(ctx, "input does not fit the model"); goto out; }
  if (dlc_tensor_alloc(ctx, &x, DLC_F32, in_ndim + 1, shape, dlc_ctx_device(ctx)) != DLC_OK ||
      dlc_tensor_copy(ctx, &x, &raw) != DLC_OK) {
    fail(ctx, "input");
    goto out;
  }
  if (op->grad_output) {
    if (dlc_net_input_grad(net, op->input_grad != NULL, NULL) != DLC_OK || dlc_net_zero_grad(net) != DLC_OK) {
      fail(ctx, "backward");
      goto out;
    }
  }
  dlc_tensor y;
  if (dlc_net_forward(net, &x, op->train_mode, &y) != DLC_OK) { fail(ctx, "forward"); goto out; }
  if (!save_npy(ctx, op->output, &y, y.ndim, y.shape)) goto out;
  if (op->grad_output) {
    if (dlc_npy_load(ctx, op->grad_output, &dy_host) != DLC_OK) { fail(ctx, "output gradient"); goto out; }
    if (dy_host.dtype != DLC_F32 || dy_host.numel != y.numel) {
      fprintf(stderr, "dlcuda: %s: the output gradient must be float32 with the output's %lld values (output [", op->grad_output,
              (long long)y.numel);
      for (int i = 0; i < y.ndim; i++) fprintf(stderr, i ? ", %lld" : "%lld", (long long)y.shape[i]);
      fprintf(stderr, "])\n");
      goto out;
    }
    if (dlc_tensor_reshape(ctx, &dy_host, y.ndim, y.shape) != DLC_OK ||
        dlc_tensor_alloc(ctx, &dy, DLC_F32, y.ndim, y.shape, dlc_ctx_device(ctx)) != DLC_OK ||
        dlc_tensor_copy(ctx, &dy, &dy_host) != DLC_OK || dlc_net_backward_from(net, &dy) != DLC_OK) {
      fail(ctx, "backward");
      goto out;
    }
    if (op->input_grad) {
      dlc_tensor dx;
      if (dlc_net_input_grad(net, 1, &dx) != DLC_OK) { fail(ctx, "input gradient"); goto out; }
      if (!save_npy(ctx, op->input_grad, &dx, in_ndim + 1, shape)) goto out;
    }
    if (op->param_grads && dlc_net_save_grads(net, op->param_grads) != DLC_OK) {
      fail(ctx, "writing the parameter gradients");
      goto out;
    }
  }
  rc = 0;
out:
  dlc_tensor_free(ctx, &raw);
  dlc_tensor_free(ctx, &x);
  dlc_tensor_free(ctx, &dy_host);
  dlc_tensor_free(ctx, &dy);
  dlc_net_destroy(net);
  dlc_ctx_destroy(ctx);
  return rc;
}

static int cmd_explain(const options *op) {
  static const char *const methods[] = {"saliency", "gradcam", "ig"};
  int method = -1;
  for (int k = 0; k < 3; k++)
    if (!strcmp(op->method ? op->method : "saliency", methods[k])) method = k;
  if (op->npos != 2 || !op->out_dir || method < 0) {
    fprintf(stderr, "dlcuda: explain MODEL.cfg --weights W INPUT --out DIR [--method saliency|gradcam|ig]%s%s\n",
            method < 0 ? ": unknown --method " : "", method < 0 ? op->method : "");
    return 2;
  }
  dlc_ctx *ctx = make_ctx(op);
  if (!ctx) return 1;
  int rc = 1, steps = op->ig_steps ? (int)op->ig_steps : 32;
  dlc_net *net = NULL;
  dlc_tensor x;
  memset(&x, 0, sizeof x);
  float *logits = NULL, *map = NULL, *base = NULL;
  int32_t *cls = NULL;
  uint8_t *black = NULL;
  dlc_train_config cfg;
  if (!open_model(ctx, op, op->batch ? op->batch : method == 2 ? steps : 64, 1, &net, &cfg)) goto out;
  int64_t shape[DLC_MAX_DIMS], oshape[DLC_MAX_DIMS];
  int nd = dlc_net_input_shape(net, shape), ond = dlc_net_output_shape(net, oshape);
  if (nd != 3 || ond != 1) {
    fprintf(stderr, "dlcuda: explain needs an image classifier (input [C, H, W], output [classes])\n");
    goto out;
  }
  int64_t C = shape[0], H = shape[1], W = shape[2], S = C * H * W, K = oshape[0];
  int layer = op->layer ? dlc_net_layer_index(net, op->layer) : -1;
  if (op->layer && layer < 0) {
    fprintf(stderr, "dlcuda: --layer %s: no such layer (dlcuda train prints the names)\n", op->layer);
    goto out;
  }
  char first_out[4096]; /* the folder is checked before any work */
  snprintf(first_out, sizeof first_out, "%s/00000-%s.npy", op->out_dir, methods[method]);
  if (dlc_check_output_path(ctx, first_out) != DLC_OK) { fail(ctx, "--out"); goto out; }
  if (dlc_input_load(ctx, op->pos[1], &cfg.loader, nd, shape, &x) != DLC_OK) { fail(ctx, "input"); goto out; }
  int64_t n = op->first > 0 && op->first < x.shape[0] ? op->first : x.shape[0];
  logits = malloc(sizeof(float) * (size_t)(n * K));
  map = malloc(sizeof(float) * (size_t)(n * S));
  base = malloc(sizeof(float) * (size_t)S);
  cls = malloc(sizeof(int32_t) * (size_t)n);
  black = calloc((size_t)S, 1);
  if (!logits || !map || !base || !cls || !black) { fprintf(stderr, "dlcuda: out of memory\n"); goto out; }
  if (dlc_net_predict(net, x.data, n, logits) != DLC_OK) { fail(ctx, "forward"); goto out; }
  /* ig's baseline: a black image, as the loader normalises it. */
  if (dlc_input_pixels(ctx, black, 1, C, H * W, &cfg.loader, base) != DLC_OK) { fail(ctx, "baseline"); goto out; }
  printf("# input: predicted class (probability), then the explained class\n");
  for (int64_t i = 0; i < n; i++) {
    float *z = logits + i * K;
    int64_t best = softmax_best(z, K);
    cls[i] = op->klass >= 0 ? (int32_t)op->klass : (int32_t)best;
    printf("%lld: %lld (%.4f) -> class %d\n", (long long)i, (long long)best, z[best], cls[i]);
  }
  dlc_status s = method == 0 ? dlc_net_saliency(net, x.data, n, cls, map)
                 : method == 1 ? dlc_net_gradcam(net, x.data, n, cls, layer, map)
                               : dlc_net_integrated_gradients(net, x.data, n, base, cls, steps, map);
  if (s != DLC_OK) { fail(ctx, methods[method]); goto out; }
  /* The pictures' maps: ig's |attribution| summed over channels, into its own copy. */
  float *heat = map;
  if (method == 2 && (heat = malloc(sizeof(float) * (size_t)(n * H * W))) != NULL)
    for (int64_t i = 0; i < n * H * W; i++) {
      float a = 0.f;
      for (int64_t c = 0; c < C; c++) a += fabsf(map[(i / (H * W)) * S + c * H * W + i % (H * W)]);
      heat[i] = a;
    }
  if (!heat) { fprintf(stderr, "dlcuda: out of memory\n"); goto out; }
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  char path[4096];
  int ok = 1;
  for (int64_t i = 0; i < n && ok; i++) {
    int64_t ms[3] = {C, H, W};
    dlc_tensor t;
    snprintf(path, sizeof path, "%s/%05lld-%s.npy", op->out_dir, (long long)i, methods[method]);
    ok = dlc_tensor_borrow(ctx, &t, map + i * (method == 2 ? S : H * W), DLC_F32, method == 2 ? 3 : 2,
                               method == 2 ? ms : ms + 1, cpu) == DLC_OK && dlc_npy_save(ctx, path, &t) == DLC_OK;
    snprintf(path, sizeof path, "%s/%05lld-%s.png", op->out_dir, (long long)i, methods[method]);
    ok = ok && dlc_png_save_overlay(ctx, path, (const float *)x.data + i * S, 1, 1, C, H, W, heat + i * H * W, 8,
                                    0.5f) == DLC_OK;
  }
  snprintf(path, sizeof path, "%s/grid-%s.png", op->out_dir, methods[method]);
  ok = ok && dlc_png_save_overlay(ctx, path, x.data, n, 8, C, H, W, heat, 4, 0.5f) == DLC_OK;
  if (heat != map) free(heat);
  if (!ok) { fail(ctx, "--out"); goto out; }
  if (!op->quiet) printf("%lld maps and pictures in %s (all of them: grid-%s.png)\n", (long long)n, op->out_dir, methods[method]);
  rc = 0;
out:
  free(logits);
  free(map);
  free(base);
  free(cls);
  free(black);
  dlc_tensor_free(ctx, &x);
  dlc_net_destroy(net);
  dlc_ctx_destroy(ctx);
  return rc;
}

static int cmd_info(const options *op) {
  printf("%s\n", dlc_build_info());
  char versions[512];
  dlc_runtime_versions(versions, sizeof versions);
  printf("%s\n", versions);
  char why[256];
  int n = 0;
  dlc_cuda_device_count(&n, why, sizeof why);
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
  dlc_ctx *ctx = make_ctx(op); /* the default device, or --device's; --threads, --cpu-gemm */
  if (!ctx) return 1;
  dlc_device d = dlc_ctx_device(ctx);
  printf("default device: %s", d.kind == DLC_DEVICE_CUDA ? "cuda" : "cpu");
  if (d.kind == DLC_DEVICE_CUDA) printf(":%d", d.index);
  printf(" (%d CPU threads)\nCPU GEMM: %s\n", dlc_ctx_threads(ctx), dlc_ctx_cpu_gemm_info(ctx));
  dlc_ctx_destroy(ctx);
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "train";
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  int (*run)(const options *) = !strcmp(cmd, "train") ? cmd_train : !strcmp(cmd, "eval") ? cmd_eval
                                : !strcmp(cmd, "predict") ? cmd_predict : !strcmp(cmd, "forward") ? cmd_forward
                                : !strcmp(cmd, "explain") ? cmd_explain
                                : !strcmp(cmd, "report") ? cmd_report : !strcmp(cmd, "info") ? cmd_info : NULL;
  if (!run) {
    fprintf(stderr, "dlcuda: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
  }
  options op;
  if (!parse_args(argc > 1 ? argc - 2 : 0, argv + 2, &op)) return 2; /* the message named the option */
  int rc = run(&op);
  /* What went to standard output (predictions, results) must have arrived. */
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "dlcuda: writing the standard output failed: %s\n", strerror(errno ? errno : EIO));
    return 1;
  }
  return rc;
}
