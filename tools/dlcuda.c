/* The dlcuda command: train, eval, predict, forward, explain, report, info. It parses the
 * options, calls the library and prints what it returns: the work is the library's (the
 * sessions, dlc_fit, the files' runs), so a program linking libdlcuda can do the same. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlcuda.h"

#define DEFAULT_MODEL "models/fashion_cnn.cfg"

typedef struct options {
  const char *pos[2]; /* positional: the model, then (predict, explain) the input */
  int npos;
  const char *data, *test_data, *log, *device, *optimizer, *cpu_gemm, *weights, *save, *checkpoint, *resume;
  const char *input, *output, *grad_output, *input_grad, *param_grads, *subsample, *sampler, *class_weights;
  const char *method, *layer, *out_dir, *report;
  int64_t epochs, batch, steps, threads, top, checkpoint_every, stop_after, ig_steps, first;
  int64_t klass, misclassified; /* -1: not given (explain: the predicted class; report: 32) */
  int64_t train_mode, quiet, layer_stats;
  float lr, rotate, erase, brightness, contrast; /* augmentation < 0: the model file's */
  uint64_t seed;
  int have_seed;
} options;

/* The commands, one bit each, and the options: each names the commands that take it, so
 * the parser refuses an option its command would ignore, and the help is made from here. */
enum { TR = 1, EV = 2, PR = 4, FW = 8, EX = 16, RE = 32, IN = 64, ALL = 127 };
typedef enum { STR, INT, U64, POS, FRAC, FLAG } opt_kind; /* POS: finite, > 0; FRAC: lo to hi */
typedef struct opt {
  const char *name, *arg;
  opt_kind kind;
  size_t at; /* the field in options */
  long long lo, hi;
  unsigned cmds;
  const char *help;
} opt;
#define AT(f) offsetof(options, f)
static const opt OPTS[] = {
  {"--data", "DIR|FILE", STR, AT(data), 0, 0, TR | EV | RE,
   "the data set: an IDX folder or a .csv (default: the model file's, else /usr/share/datasets/fashion-mnist)"},
  {"--test-data", "DIR|FILE", STR, AT(test_data), 0, 0, TR,
   "evaluate on another folder's test split, or a whole .csv file"},
  {"--epochs", "N", INT, AT(epochs), 1, DLC_MAX_EPOCHS, TR, "epochs (default: the model file's)"},
  {"--batch", "N", INT, AT(batch), 1, DLC_MAX_BATCH, TR | EV | PR | EX | RE, "samples per batch"},
  {"--lr", "X", POS, AT(lr), 0, 0, TR, "learning rate"},
  {"--optimizer", "sgd|adam|adamw", STR, AT(optimizer), 0, 0, TR, "the optimizer (default: the model file's)"},
  {"--steps", "N", INT, AT(steps), 1, INT64_MAX, TR,
   "N batches per epoch, from the first N x batch samples (quick runs)"},
  {"--subsample", "C=F,...", STR, AT(subsample), 0, 0, TR,
   "keep a fraction F of class C's training samples (an imbalanced set from a balanced one)"},
  {"--class-weights", "balanced|none", STR, AT(class_weights), 0, 0, TR,
   "the loss's class weights (default: the model file's)"},
  {"--sampler", "balanced|uniform", STR, AT(sampler), 0, 0, TR, "how batches draw classes (default: the model file's)"},
  {"--rotate", "DEG", FRAC, AT(rotate), 0, DLC_MAX_ROTATE, TR, "augmentation: random rotation up to DEG degrees"},
  {"--erase", "P", FRAC, AT(erase), 0, 1, TR, "augmentation: random erasing with probability P"},
  {"--brightness", "B", FRAC, AT(brightness), 0, 1, TR, "augmentation: random brightness change up to B"},
  {"--contrast", "C", FRAC, AT(contrast), 0, 1, TR, "augmentation: random contrast change up to C"},
  {"--weights", "W.safetensors", STR, AT(weights), 0, 0, TR | EV | PR | FW | EX | RE,
   "the weights (train: start from them)"},
  {"--save", "W.safetensors", STR, AT(save), 0, 0, TR, "write the final weights"},
  {"--checkpoint", "CKPT", STR, AT(checkpoint), 0, 0, TR,
   "write CKPT after every epoch (and every N batches with --checkpoint-every)"},
  {"--checkpoint-every", "N", INT, AT(checkpoint_every), 1, INT64_MAX, TR, "also checkpoint every N batches"},
  {"--resume", "CKPT", STR, AT(resume), 0, 0, TR,
   "continue a run exactly where CKPT left it (same model, data and options)"},
  {"--stop-after", "N", INT, AT(stop_after), 1, INT64_MAX, TR, "stop after N batches"},
  {"--log", "FILE.csv|FILE.jsonl", STR, AT(log), 0, 0, TR | RE,
   "train: log each epoch there; report: the run's log to draw"},
  {"--layer-stats", NULL, FLAG, AT(layer_stats), 0, 0, TR,
   "each layer's output mean and std, dead ReLU units, saturated tanh/sigmoid values, weight and gradient norms per "
   "epoch (printed, and in --log)"},
  {"--report", "DIR", STR, AT(report), 0, 0, TR,
   "at the end, DIR/report.html (see report), logging to DIR/train.jsonl unless --log names the log"},
  {"--out", "DIR", STR, AT(out_dir), 0, 0, EX | RE, "the folder to write to"},
  {"--misclassified", "N", INT, AT(misclassified), 0, 1024, TR | RE,
   "the report shows the N (32) most confident mistakes with their Grad-CAM"},
  {"--layer", "NAME", STR, AT(layer), 0, 0, TR | EX | RE, "Grad-CAM's layer (default: the last conv2d)"},
  {"--top", "K", INT, AT(top), 1, 1000000, PR, "the K most likely classes of each input, with their probabilities"},
  {"--input", "X.npy", STR, AT(input), 0, 0, FW, "the network's input"},
  {"--output", "Y.npy", STR, AT(output), 0, 0, FW, "the network's output"},
  {"--train", NULL, FLAG, AT(train_mode), 0, 0, FW, "run in training mode (dropout, batch statistics)"},
  {"--grad-output", "DY.npy", STR, AT(grad_output), 0, 0, FW, "also backward from DY"},
  {"--input-grad", "DX.npy", STR, AT(input_grad), 0, 0, FW, "the input's gradient (with --grad-output)"},
  {"--param-grads", "G.safetensors", STR, AT(param_grads), 0, 0, FW,
   "the parameters' gradients, under the weights' names (with --grad-output)"},
  {"--method", "saliency|gradcam|ig", STR, AT(method), 0, 0, EX, "how to explain (default saliency)"},
  {"--class", "C", INT, AT(klass), 0, 1 << 30, EX, "explain class C's score (default: the predicted class)"},
  {"--ig-steps", "N", INT, AT(ig_steps), 1, 100000, EX, "ig: steps from a black image (32)"},
  {"--first", "N", INT, AT(first), 1, INT64_MAX, EX, "the first N inputs only"},
  {"--device", "auto|cpu|cuda[:i]", STR, AT(device), 0, 0, ALL,
   "where to run (default auto: the first usable GPU, else the CPU)"},
  {"--seed", "N", U64, AT(seed), 0, 0, ALL, "the random seed (data order, initial weights, dropout)"},
  {"--threads", "N", INT, AT(threads), 1, 4096, ALL, "CPU threads"},
  {"--cpu-gemm", "auto|openblas|onednn", STR, AT(cpu_gemm), 0, 0, ALL, "the CPU GEMM library"},
  {"--quiet", NULL, FLAG, AT(quiet), 0, 0, TR | EX | RE, "print only what was asked for"},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

static int cmd_train(const options *), cmd_eval(const options *), cmd_predict(const options *),
    cmd_forward(const options *), cmd_explain(const options *), cmd_report(const options *), cmd_info(const options *);
typedef struct command {
  const char *name, *args;
  int (*run)(const options *);
  const char *help;
} command;
static const command CMDS[] = { /* in the order of the bits above */
  {"train", "[MODEL.cfg]", cmd_train,
   "trains MODEL (default " DEFAULT_MODEL ") on its data set, evaluating on the test split each epoch"},
  {"eval", "MODEL.cfg --weights W", cmd_eval,
   "loss and accuracy (regression: mean absolute error) on the test split (a .csv file: on the file itself), with "
   "recall and precision per class"},
  {"predict", "MODEL.cfg --weights W INPUT.npy|INPUT.idx[.gz]", cmd_predict,
   "class probabilities (softmax of the output) for each input: float32 .npy is used as it is; uint8 .npy and IDX "
   "images are scaled as the model's [net] says"},
  {"forward", "MODEL.cfg [--weights W] --input X.npy --output Y.npy", cmd_forward,
   "runs the network on X and writes its output; with --grad-output also backward from DY"},
  {"explain", "MODEL.cfg --weights W INPUT.npy|INPUT.idx[.gz] --out DIR", cmd_explain,
   "what each input's prediction (or class C's score) rests on: DIR/N-METHOD.npy (the map; ig: the attribution per "
   "input value) and DIR/N-METHOD.png (the input with the map over it), and all of them in DIR/grid-METHOD.png"},
  {"report", "MODEL.cfg --weights W --out DIR", cmd_report,
   "DIR/report.html, one self-contained page: the network, the loss, accuracy and learning rate per epoch from the "
   "run's --log (and its layer statistics), and on the test split the confusion matrix, precision, recall and F1 per "
   "class and the most confident mistakes with their Grad-CAM"},
  {"info", "", cmd_info, "devices, build options, library versions, and the CPU GEMM a context picks"},
};
#define NCMDS (sizeof CMDS / sizeof CMDS[0])

/* TEXT at column COL, wrapped before column 100, starting after AT columns used. */
static void wrap(FILE *f, const char *text, int col, int at) {
  for (const char *w = text; *w;) {
    size_t n = strcspn(w, " ");
    if (at > col && at + 1 + (int)n > 100) at = fprintf(f, "\n%*s", col, "") - 1;
    else if (at > col) at += fprintf(f, " ");
    else at += fprintf(f, "%*s", col - at, "");
    at += fprintf(f, "%.*s", (int)n, w);
    w += n + (w[n] == ' ');
  }
  fprintf(f, "\n");
}

/* The help of the commands in MASK: each command, then the options they take. */
static void usage(FILE *f, unsigned mask) {
  fprintf(f, "usage: dlcuda COMMAND [ARGS] [OPTIONS]   (dlcuda COMMAND --help: that command's options)\n");
  for (unsigned c = 0; c < NCMDS; c++)
    if (mask & 1u << c) {
      fprintf(f, "  %s%s%s\n", CMDS[c].name, *CMDS[c].args ? " " : "", CMDS[c].args);
      wrap(f, CMDS[c].help, 8, 0);
    }
  fprintf(f, "options:\n");
  for (unsigned i = 0; i < NOPTS; i++) {
    if (!(OPTS[i].cmds & mask)) continue;
    char text[512] = "";
    for (unsigned c = 0; c < NCMDS && mask == ALL && OPTS[i].cmds != ALL; c++) /* which commands */
      if (OPTS[i].cmds & 1u << c) strcat(strcat(text, text[0] ? " " : "("), CMDS[c].name);
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", text[0] ? ") " : "", OPTS[i].help);
    int at = fprintf(f, "  %s%s%s", OPTS[i].name, OPTS[i].arg ? " " : "", OPTS[i].arg ? OPTS[i].arg : "");
    wrap(f, text, 26, at < 25 ? at : (fprintf(f, "\n"), 0));
  }
}

/* "dlcuda: OPT VALUE: use a, b, c": the choices from the library's name table of the enum. */
#define SAY_CHOICES(opt, value, count, name_of, type)                                          \
  do {                                                                                         \
    fprintf(stderr, "dlcuda: %s %s: use", (opt), (value));                                     \
    for (int k_ = 0; k_ < (count); k_++) fprintf(stderr, "%s %s", k_ ? "," : "", name_of((type)k_)); \
    fprintf(stderr, "\n");                                                                     \
  } while (0)

/* "dlcuda: WHAT: the library's message" (WHAT may be NULL: the message names it). */
static int fail(dlc_ctx *ctx, const char *what) {
  fprintf(stderr, "dlcuda: %s%s%s\n", what ? what : "", what && ctx ? ": " : "", ctx ? dlc_ctx_error(ctx) : "");
  return 1;
}

/* One option's value into its field. Numbers are parsed whole, in range, without overflow;
 * a bad one is an error naming the option, the value and what it takes. */
static int parse_value(const opt *o, const char *v, options *op) {
  void *field = (char *)op + o->at;
  char *end = NULL;
  errno = 0;
  int digit = isdigit((unsigned char)v[0]);
  if (o->kind == STR) *(const char **)field = v;
  else if (o->kind == INT) {
    long long x = digit || v[0] == '-' ? strtoll(v, &end, 10) : 0;
    if (!end || *end || errno || x < o->lo || x > o->hi)
      return fprintf(stderr, "dlcuda: %s %s: expected a whole number from %lld to %lld\n", o->name, v, o->lo, o->hi), 0;
    *(int64_t *)field = x;
  } else if (o->kind == U64) {
    unsigned long long x = digit ? strtoull(v, &end, 10) : 0;
    if (!end || *end || errno)
      return fprintf(stderr, "dlcuda: %s %s: expected a whole number from 0 to %llu\n", o->name, v,
                     (unsigned long long)UINT64_MAX), 0;
    *(uint64_t *)field = x;
    op->have_seed = 1;
  } else {
    double x = digit || v[0] == '.' || v[0] == '-' || v[0] == '+' ? strtod(v, &end) : NAN;
    if (o->kind == POS && (!end || *end || !(x > 0 && x <= FLT_MAX)))
      return fprintf(stderr, "dlcuda: %s %s: expected a positive finite number (such as 0.01)\n", o->name, v), 0;
    if (o->kind == FRAC && (!end || *end || !(x >= o->lo && x <= o->hi)))
      return fprintf(stderr, "dlcuda: %s %s: expected a number from %lld to %lld\n", o->name, v, o->lo, o->hi), 0;
    *(float *)field = (float)x;
  }
  return 1;
}

/* The options of command CMDS[ci]: 1, or 0 after saying what is wrong; -1 after --help. */
static int parse_args(int argc, char **argv, unsigned ci, options *op) {
  const unsigned cmd = 1u << ci;
  memset(op, 0, sizeof *op);
  op->device = "auto";
  op->rotate = op->erase = op->brightness = op->contrast = -1.f;
  op->klass = op->misclassified = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout, cmd), -1;
    if (a[0] != '-' || !a[1]) {
      if (op->npos == 2) return fprintf(stderr, "dlcuda: unexpected argument %s\n", a), 0;
      op->pos[op->npos++] = a;
      continue;
    }
    const opt *o = OPTS;
    while (o < OPTS + NOPTS && strcmp(o->name, a)) o++;
    if (o == OPTS + NOPTS) return fprintf(stderr, "dlcuda: unknown option %s\n", a), 0;
    if (!(o->cmds & cmd))
      return fprintf(stderr, "dlcuda: %s is not an option of %s (see dlcuda %s --help)\n", a, CMDS[ci].name,
                     CMDS[ci].name), 0;
    if (o->kind == FLAG) *(int64_t *)((char *)op + o->at) = 1;
    else if (i + 1 == argc) return fprintf(stderr, "dlcuda: %s needs a value\n", a), 0;
    else if (!parse_value(o, argv[++i], op)) return 0;
  }
  return 1;
}

static dlc_ctx *make_ctx(const options *op) {
  dlc_ctx_options o = dlc_ctx_options_default();
  if (dlc_ctx_options_set_device(&o, op->device) != DLC_OK) {
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

/* A session of so->kind on the model (so->model, or the first positional argument) for a
 * command, in *ctx (made here when NULL); 0 after printing why not. */
static int open_session(const options *op, dlc_session_options *so, dlc_ctx **ctx, dlc_session **s) {
  *s = NULL;
  if (!so->model && op->npos < 1) {
    fprintf(stderr, "dlcuda: which model? (dlcuda COMMAND MODEL.cfg ...)\n");
    return 0;
  }
  if (so->kind != DLC_SESSION_TRAIN && !op->weights) {
    fprintf(stderr, "dlcuda: --weights W.safetensors is needed\n");
    return 0;
  }
  if (!so->model) so->model = op->pos[0];
  so->weights = op->weights;
  so->data = op->data;
  if (!so->batch) so->batch = op->batch;
  if (!*ctx && !(*ctx = make_ctx(op))) return 0;
  if (dlc_session_open(*ctx, so, s) == DLC_OK) return 1;
  return fail(*ctx, NULL), 0;
}

/* The session's end: what was opened, closed; rc passed on. */
static int done(dlc_ctx *ctx, dlc_session *s, int rc) {
  dlc_session_destroy(s);
  dlc_ctx_destroy(ctx);
  return rc;
}

/* What dlc_fit's callbacks print: the bar on a terminal, a line per epoch unless quiet. */
typedef struct progress {
  int tty, epochs, quiet;
} progress;

static void show_progress(void *user, int64_t epoch, int64_t b, int64_t nb, const dlc_epoch_stats *st) {
  progress *p = user;
  if (!p->tty) return;
  int width = 30, done = (int)(width * b / (nb ? nb : 1));
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < done ? '=' : (i == done ? '>' : ' ');
  bar[width] = '\0';
  fprintf(stderr, "\repoch %lld/%d [%s] %lld/%lld  loss %.4f  acc %.4f  %.0f img/s ", (long long)epoch + 1, p->epochs,
          bar, (long long)b, (long long)nb, st->loss, st->accuracy, st->samples_per_second);
  fflush(stderr);
}

static dlc_status print_epoch(void *user, const dlc_fit_epoch *e) {
  const progress *p = user;
  const int reg = e->regression;
  /* Classification reports accuracy; regression ([mse]) the mean absolute error. */
  const char *mname = reg ? "mae" : "acc";
  if (!p->quiet) {
    if (p->tty) fprintf(stderr, "\r%100s\r", ""); /* the progress bar's line */
    printf("epoch %3lld/%d  train loss %.4f %s %.4f%s", (long long)e->epoch + 1, e->epochs, e->train.loss, mname,
           reg ? e->train.mae : e->train.accuracy, e->resumed_mid_epoch ? " (resumed mid-epoch)" : "");
    if (e->have_test) printf(" | test loss %.4f %s %.4f", e->test.loss, mname, reg ? e->test.mae : e->test.accuracy);
    if (e->have_classes) printf(" bal %.4f F1 %.4f", e->summary.balanced_accuracy, e->summary.macro_f1);
    printf(" | %.1f s, %.0f img/s, lr %.4g\n", e->train.seconds, e->train.samples_per_second, e->lr);
    if (e->have_classes && e->classes <= 32) {
      printf("           test recall per class:");
      for (int64_t c = 0; c < e->classes; c++) printf(" %.3f", e->recall[c]);
      printf("\n");
    }
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
static int write_report(dlc_ctx *ctx, const dlc_session *s, const options *op, const char *log, const char *path) {
  dlc_report_options ro = dlc_report_options_default();
  char sub[4096];
  dlc_device dev = dlc_ctx_device(ctx);
  snprintf(sub, sizeof sub, "data %s (%lld test samples)%s%s, on %s%.0d", s->data, (long long)s->test_set.count,
           op->weights ? ", weights " : "", op->weights ? op->weights : "",
           dev.kind == DLC_DEVICE_CUDA ? "cuda:" : "the CPU", dev.kind == DLC_DEVICE_CUDA ? dev.index : 0);
  ro.title = op->npos ? op->pos[0] : DEFAULT_MODEL;
  ro.subtitle = sub;
  ro.log = log;
  ro.class_names = s->cfg.class_names;
  if (op->misclassified >= 0) ro.misclassified = (int)op->misclassified;
  if (op->layer && (ro.gradcam_layer = dlc_net_layer_index(s->net, op->layer)) < 0) {
    fprintf(stderr, "dlcuda: --layer %s: no such layer (dlcuda train prints the names)\n", op->layer);
    return 0;
  }
  dlc_loader_options norm = dlc_loader_options_eval(&s->cfg.loader);
  if (dlc_report_write(s->net, s->have_test ? &s->test_set : NULL, &norm, &ro, path) != DLC_OK)
    return fail(ctx, "report"), 0;
  if (!op->quiet) printf("report written to %s\n", path);
  return 1;
}

/* --sampler, --class-weights: 1 for "balanced", 0 for the other word, -1 when not given;
 * -2 (after saying so) for anything else. */
static int balanced_or(const char *opt, const char *v, const char *other, const char *note) {
  if (!v) return -1;
  if (!strcmp(v, "balanced") || !strcmp(v, other)) return !strcmp(v, "balanced");
  fprintf(stderr, "dlcuda: %s %s: use balanced or %s%s\n", opt, v, other, note);
  return -2;
}

static void print_setup(const options *op, dlc_ctx *ctx, const dlc_session *s, const char *model) {
  if (s->notice[0]) fprintf(stderr, "dlcuda: %s\n", s->notice);
  if (op->resume && op->have_seed && op->seed != s->resume.seed)
    fprintf(stderr, "dlcuda: --seed %llu ignored: %s continues the run of seed %llu\n", (unsigned long long)op->seed,
            op->resume, (unsigned long long)s->resume.seed);
  if (op->quiet) return;
  if (op->subsample)
    printf("subsampled: %lld of %lld training samples kept (%s)\n", (long long)s->train_set.count,
           (long long)s->count_before_subsample, op->subsample);
  if (s->class_weights) {
    printf("class weights (balanced, from the training labels):");
    for (int64_t c = 0; c < s->classes; c++) printf(" %.4g", s->class_weights[c]);
    printf("\n");
  }
  char summary[8192];
  dlc_net_summary(s->net, summary, sizeof summary);
  dlc_device dev = dlc_ctx_device(ctx);
  printf("model %s on %s%.0d, %d CPU threads, CPU GEMM %s\n%s", model, dev.kind == DLC_DEVICE_CUDA ? "cuda:" : "cpu",
         dev.kind == DLC_DEVICE_CUDA ? dev.index : 0, dlc_ctx_threads(ctx), dlc_ctx_cpu_gemm_info(ctx), summary);
  printf("data %s: %lld training, %lld test samples%s%s of %dx%dx%d\n", s->data, (long long)s->train_set.count,
         (long long)(s->have_test ? s->test_set.count : 0), op->test_data ? " from " : "",
         op->test_data ? op->test_data : "", s->train_set.channels, s->train_set.height, s->train_set.width);
  if (op->resume)
    printf("resuming %s: epoch %lld, batch %lld of %lld, step %lld\n", op->resume, (long long)s->resume.epoch + 1,
           (long long)s->resume.batch, (long long)dlc_loader_batches(s->train), (long long)s->resume.step);
}

static void print_stop(const options *op, const dlc_fit_result *fr) {
  const char *again = op->checkpoint ? "; resume with --resume " : "", *ckpt = op->checkpoint ? op->checkpoint : "";
  if (fr->batch > 0)
    printf("stopped after %lld batches, at batch %lld of %lld in epoch %lld%s%s\n", (long long)fr->batches,
           (long long)fr->batch, (long long)fr->batches_per_epoch, (long long)fr->epoch + 1, again, ckpt);
  else
    printf("stopped after %lld batches, at the end of epoch %lld%s%s\n", (long long)fr->batches, (long long)fr->epoch,
           again, ckpt);
}

static int cmd_train(const options *in) {
  options op = *in;
  if (op.npos > 1) {
    fprintf(stderr, "dlcuda: train takes one model file\n");
    return 2;
  }
  dlc_session_options so = dlc_session_options_default();
  so.model = op.npos > 0 ? op.pos[0] : DEFAULT_MODEL;
  so.test_data = op.test_data;
  so.epochs = op.epochs;
  so.lr = op.lr;
  so.rotate = op.rotate, so.erase = op.erase, so.brightness = op.brightness, so.contrast = op.contrast;
  so.subsample = op.subsample;
  so.steps = op.steps;
  so.resume = op.resume;
  dlc_optimizer_kind ok;
  if (op.optimizer && dlc_optimizer_from_name(op.optimizer, &ok) != DLC_OK) {
    SAY_CHOICES("--optimizer", op.optimizer, DLC_OPT_COUNT, dlc_optimizer_name, dlc_optimizer_kind);
    return 2;
  }
  so.optimizer = op.optimizer ? (int)ok : -1;
  so.sampler = balanced_or("--sampler", op.sampler, "uniform", "");
  so.class_weights = balanced_or("--class-weights", op.class_weights, "none", " (the model file's weights = ... stay)");
  if (so.sampler == -2 || so.class_weights == -2) return 2;
  char report[4096], report_log[4096];
  if (op.report) { /* the log goes with the report unless --log names one */
    snprintf(report, sizeof report, "%s/report.html", op.report);
    snprintf(report_log, sizeof report_log, "%s/train.jsonl", op.report);
    if (!op.log) op.log = report_log;
  }
  dlc_ctx *ctx = NULL;
  dlc_session *s = NULL;
  if (!open_session(&op, &so, &ctx, &s)) return done(ctx, s, 1);
  print_setup(&op, ctx, s, so.model);
  if (op.report && !report_dir(op.report)) return done(ctx, s, 1);
  if (op.report && dlc_check_output_path(ctx, report) != DLC_OK) return done(ctx, s, fail(ctx, "--report"));
  if (op.stop_after && !op.checkpoint)
    fprintf(stderr, "dlcuda: --stop-after without --checkpoint: the run cannot be resumed\n");
  progress pr = {isatty(2) && !op.quiet, s->cfg.epochs, op.quiet};
  dlc_fit_options fo = dlc_fit_options_default();
  fo.epochs = s->cfg.epochs;
  fo.warmup_epochs = s->cfg.warmup_epochs;
  fo.checkpoint = op.checkpoint;
  fo.checkpoint_every = op.checkpoint_every;
  fo.resume = op.resume;
  fo.stop_after = op.stop_after;
  fo.save = op.save;
  fo.log = op.log;
  fo.layer_stats = op.layer_stats;
  fo.on_progress = show_progress;
  fo.on_epoch = print_epoch;
  fo.user = &pr;
  dlc_fit_result fr;
  dlc_status fs = dlc_fit(s->net, s->opt, s->train, s->test, &fo, &fr);
  if (pr.tty) fprintf(stderr, "\r%100s\r", "");
  if (fs != DLC_OK) {
    fail(ctx, "training");
    /* An output failed after training began: the weights went elsewhere, if anywhere. */
    if (fr.rescued[0])
      fprintf(stderr, "dlcuda: the trained weights were saved to %s instead\n", fr.rescued);
    else if (fr.output_failed && fr.batches > 0)
      fprintf(stderr, "dlcuda: the trained weights could not be saved anywhere (tried ., $TMPDIR and /tmp)\n");
    return done(ctx, s, 1);
  }
  if (fr.stopped) print_stop(&op, &fr);
  if (op.save && !op.quiet) printf("weights saved to %s\n", op.save);
  return done(ctx, s, op.report && !write_report(ctx, s, &op, op.log, report));
}

static int cmd_eval(const options *op) {
  if (op->npos > 1) {
    fprintf(stderr, "dlcuda: eval takes one model file\n");
    return 2;
  }
  dlc_session_options so = dlc_session_options_default();
  so.kind = DLC_SESSION_EVAL;
  dlc_ctx *ctx = NULL;
  dlc_session *s = NULL;
  if (!open_session(op, &so, &ctx, &s)) return done(ctx, s, 1);
  dlc_class_eval r = {0};
  const dlc_epoch_stats *st = &r.stats;
  const char *split = s->test_whole ? "whole" : "test";
  int rc = dlc_net_evaluate_classes(s->net, s->test, &r) != DLC_OK ? fail(ctx, "evaluation") : 0;
  if (rc == 0 && r.classes == 0)
    printf("%s: %s split of %s: loss %.6f mae %.6f (%lld samples)\n", op->weights, split, s->data, st->loss, st->mae,
           (long long)st->samples);
  else if (rc == 0)
    printf("%s: %s split of %s: loss %.6f accuracy %.4f balanced accuracy %.4f macro F1 %.4f (%lld samples)\n",
           op->weights, split, s->data, st->loss, st->accuracy, r.summary.balanced_accuracy, r.summary.macro_f1,
           (long long)st->samples);
  if (rc == 0 && r.classes > 0 && r.classes <= 1000) printf("class  recall  precision\n");
  for (int64_t c = 0; rc == 0 && c < r.classes && r.classes <= 1000; c++)
    printf("%5lld  %.4f  %.4f\n", (long long)c, r.recall[c], r.precision[c]);
  dlc_class_eval_free(&r);
  return done(ctx, s, rc);
}

/* report: the page for a finished run, from its log, weights and the test split. */
static int cmd_report(const options *op) {
  if (op->npos > 1 || !op->out_dir) {
    fprintf(stderr, "dlcuda: report MODEL.cfg --weights W --out DIR [--log LOG] [--data DIR|FILE]\n");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/report.html", op->out_dir);
  dlc_ctx *ctx = make_ctx(op);
  if (!ctx) return 1;
  if (!report_dir(op->out_dir)) return done(ctx, NULL, 1);
  if (dlc_check_output_path(ctx, path) != DLC_OK) return done(ctx, NULL, fail(ctx, "--out"));
  dlc_session_options so = dlc_session_options_default();
  so.kind = DLC_SESSION_EVAL;
  dlc_session *s = NULL;
  if (!open_session(op, &so, &ctx, &s)) return done(ctx, s, 1);
  return done(ctx, s, !write_report(ctx, s, op, op->log, path));
}

static int cmd_predict(const options *op) {
  if (op->npos != 2) {
    fprintf(stderr, "dlcuda: predict MODEL.cfg --weights W.safetensors INPUT\n");
    return 2;
  }
  dlc_session_options so = dlc_session_options_default();
  so.kind = DLC_SESSION_MODEL;
  dlc_ctx *ctx = NULL;
  dlc_session *s = NULL;
  if (!open_session(op, &so, &ctx, &s)) return done(ctx, s, 1);
  if (op->top && dlc_net_classes(s->net) == 0) {
    fprintf(stderr, "dlcuda: --top ranks classes, and this model ([mse]) predicts values\n");
    return done(ctx, s, 1);
  }
  dlc_predictions r;
  if (dlc_net_predict_file(s->net, op->pos[1], &s->cfg.loader, &r) != DLC_OK) return done(ctx, s, fail(ctx, NULL));
  const int64_t K = r.k, top = op->top < K ? op->top : K;
  if (!r.classifier) printf("# input, then the model's %lld output values\n", (long long)K);
  else if (top) printf("# input: the %lld most likely classes as class:probability\n", (long long)top);
  else printf("# input, predicted class, probabilities of classes 0 to %lld\n", (long long)K - 1);
  for (int64_t i = 0; i < r.n; i++) {
    float *z = r.values + i * K;
    if (r.best[i] < 0) { /* NaN or infinite values rank nothing: say so for this input */
      printf("%lld error: %s not finite\n", (long long)i, r.classifier ? "scores" : "outputs");
      continue;
    }
    printf("%lld", (long long)i);
    if (r.classifier && !top) printf(" %lld", (long long)r.best[i]);
    for (int64_t c = 0; c < K && !top; c++) printf(r.classifier ? " %.6g" : " %.9g", z[c]);
    for (int64_t k = 0; k < top; k++) { /* the largest left, then taken */
      int64_t b = 0;
      for (int64_t c = 1; c < K; c++) b = z[c] > z[b] ? c : b;
      printf(" %lld:%.6g", (long long)b, z[b]);
      z[b] = -1;
    }
    printf("\n");
  }
  if (r.bad)
    fprintf(stderr,
            "dlcuda: %lld of %lld inputs gave NaN or infinite %s (the first: input %lld): the input or the weights "
            "hold NaN or infinite values\n",
            (long long)r.bad, (long long)r.n, r.classifier ? "scores" : "outputs", (long long)r.first_bad);
  int rc = r.bad > 0;
  dlc_predictions_free(&r);
  return done(ctx, s, rc);
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
  dlc_npy_run r = {op->input, op->output, op->train_mode, op->grad_output, op->input_grad, op->param_grads};
  return done(ctx, NULL, dlc_model_run_npy(ctx, op->pos[0], op->weights, &r) != DLC_OK ? fail(ctx, NULL) : 0);
}

static int cmd_explain(const options *op) {
  dlc_explain_options eo = dlc_explain_options_default();
  if (op->method && dlc_explain_method_from_name(op->method, &eo.method) != DLC_OK) {
    SAY_CHOICES("--method", op->method, DLC_EXPLAIN_COUNT, dlc_explain_method_name, dlc_explain_method);
    return 2;
  }
  if (op->npos != 2 || !op->out_dir) {
    fprintf(stderr, "dlcuda: explain MODEL.cfg --weights W INPUT --out DIR [--method saliency|gradcam|ig]\n");
    return 2;
  }
  eo.klass = (int)op->klass;
  eo.steps = (int)op->ig_steps;
  eo.first = op->first;
  eo.out = op->out_dir;
  dlc_session_options so = dlc_session_options_default();
  so.kind = DLC_SESSION_MODEL;
  so.batch = op->batch ? op->batch : eo.method == DLC_EXPLAIN_IG ? (eo.steps ? eo.steps : 32) : 64;
  dlc_ctx *ctx = NULL;
  dlc_session *s = NULL;
  if (!open_session(op, &so, &ctx, &s)) return done(ctx, s, 1);
  if (op->layer && (eo.layer = dlc_net_layer_index(s->net, op->layer)) < 0) {
    fprintf(stderr, "dlcuda: --layer %s: no such layer (dlcuda train prints the names)\n", op->layer);
    return done(ctx, s, 1);
  }
  dlc_explain_result r;
  if (dlc_net_explain_files(s->net, op->pos[1], &s->cfg.loader, &eo, &r) != DLC_OK) return done(ctx, s, fail(ctx, NULL));
  printf("# input: predicted class (probability), then the explained class\n");
  for (int64_t i = 0; i < r.n; i++)
    printf("%lld: %lld (%.4f) -> class %d\n", (long long)i, (long long)r.predicted[i], r.probability[i], r.explained[i]);
  if (!op->quiet)
    printf("%lld maps and pictures in %s (all of them: grid-%s.png)\n", (long long)r.n, op->out_dir,
           dlc_explain_method_name(eo.method));
  dlc_explain_result_free(&r);
  return done(ctx, s, 0);
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
  const char *name = argc > 1 ? argv[1] : "train";
  if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) return usage(stdout, ALL), 0;
  unsigned ci = 0;
  while (ci < NCMDS && strcmp(CMDS[ci].name, name)) ci++;
  if (ci == NCMDS) {
    fprintf(stderr, "dlcuda: unknown command '%s'\n", name);
    usage(stderr, ALL);
    return 2;
  }
  options op;
  int parsed = parse_args(argc > 1 ? argc - 2 : 0, argv + 2, ci, &op);
  if (parsed <= 0) return parsed ? 0 : 2; /* the help, or a message naming the option */
  int rc = CMDS[ci].run(&op);
  /* What went to standard output (predictions, results) must have arrived. */
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "dlcuda: writing the standard output failed: %s\n", strerror(errno ? errno : EIO));
    return 1;
  }
  return rc;
}
