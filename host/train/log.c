/* The training run's log: one line per epoch, CSV or JSON lines, written through so that a
 * full disk is noticed at the epoch it happens, naming the file. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "io/file_io.h"
#include "io/json.h"

struct dlc_train_log {
  dlc_ctx *ctx;
  FILE *f;
  int jsonl, regression;
  int header_due;     /* CSV: the header goes before the first line (its columns depend on
                         the layer statistics, known then) */
  char *old_header;   /* CSV appended to: its header, which this run's must equal */
  char path[];
};

static dlc_status put(dlc_train_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static dlc_status put(dlc_train_log *log, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  errno = 0;
  int r = vfprintf(log->f, fmt, ap);
  va_end(ap);
  if (r < 0 || fflush(log->f) != 0)
    return DLC_FAIL(log->ctx, DLC_ERR_IO, "%s: writing failed: %s", log->path, strerror(errno ? errno : EIO));
  return DLC_OK;
}

/* The first line of the log being appended to. */
static dlc_status read_header(dlc_train_log *log) {
  FILE *f = fopen(log->path, "r");
  if (!f) return DLC_FAIL(log->ctx, DLC_ERR_IO, "%s: %s", log->path, strerror(errno));
  size_t cap = 0;
  ssize_t n = getline(&log->old_header, &cap, f);
  fclose(f);
  if (n < 0) {
    free(log->old_header);
    log->old_header = NULL;
    return DLC_FAIL(log->ctx, DLC_ERR_IO, "%s: cannot read its header line", log->path);
  }
  if (n > 0 && log->old_header[n - 1] == '\n') log->old_header[n - 1] = '\0';
  return DLC_OK;
}

dlc_status dlc_train_log_open(dlc_ctx *ctx, const char *path, int append, int regression, dlc_train_log **out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  size_t len = strlen(path);
  dlc_train_log *log = calloc(1, sizeof *log + len + 1);
  if (!log) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "log %s: out of memory", path);
  memcpy(log->path, path, len + 1);
  log->ctx = ctx;
  log->jsonl = dlc_path_ends_with(path, ".jsonl");
  log->regression = regression;
  /* Opened for appending and emptied only now (a caller locks it first: dlc_file_lock_acquire). */
  log->f = fopen(path, "a");
  struct stat st;
  if (!log->f || (!append && ftruncate(fileno(log->f), 0) != 0) || fstat(fileno(log->f), &st) != 0) {
    dlc_status s = DLC_FAIL(ctx, DLC_ERR_IO, "%s: %s", path, strerror(errno));
    if (log->f) fclose(log->f);
    free(log);
    return s;
  }
  dlc_status s = DLC_OK;
  if (!log->jsonl && st.st_size == 0) log->header_due = 1;
  if (!log->jsonl && st.st_size > 0) s = read_header(log);
  if (s != DLC_OK) {
    fclose(log->f);
    free(log);
    return s;
  }
  *out = log;
  return DLC_OK;
}

/* name.what as a CSV field: quoted (quotes doubled) when the name holds a comma, quote or
 * line break. */
static void add_column(dlc_sbuf *t, const char *name, const char *what) {
  if (!strpbrk(name, ",\"\r\n")) {
    dlc_sb_printf(t, ",%s.%s", name, what);
    return;
  }
  dlc_sb_printf(t, ",\"");
  for (const char *c = name; *c; c++) dlc_sb_printf(t, *c == '"' ? "\"\"" : "%c", *c);
  dlc_sb_printf(t, ".%s\"", what);
}

/* The figures of layer statistics, in the CSV's column order. */
enum { F_MEAN, F_STD, F_DEAD, F_SATURATED, F_WEIGHT, F_GRAD, FIGURES };
static const char *const figure_name[FIGURES] = {"mean", "std", "dead", "saturated", "weight_norm", "grad_norm"};

static void figures(const dlc_layer_stats *l, int on[FIGURES], double v[FIGURES]) {
  on[F_MEAN] = on[F_STD] = l->has_output;
  on[F_DEAD] = l->has_dead;
  on[F_SATURATED] = l->has_saturated;
  on[F_WEIGHT] = on[F_GRAD] = l->has_params;
  v[F_MEAN] = l->mean;
  v[F_STD] = l->std;
  v[F_DEAD] = l->dead;
  v[F_SATURATED] = l->saturated;
  v[F_WEIGHT] = l->weight_norm;
  v[F_GRAD] = l->grad_norm;
}

static void csv_header(dlc_sbuf *t, int regression, const dlc_fit_epoch *e) {
  dlc_sb_printf(t, "%s", regression ? "epoch,train_loss,train_mae,test_loss,test_mae,seconds,images_per_second,lr"
                          : "epoch,train_loss,train_accuracy,test_loss,test_accuracy,test_balanced_accuracy,"
                            "test_macro_f1,seconds,images_per_second,lr");
  for (int i = 0; i < e->nlayers; i++) {
    int on[FIGURES];
    double v[FIGURES];
    figures(&e->layers[i], on, v);
    for (int k = 0; k < FIGURES; k++)
      if (on[k]) add_column(t, e->layers[i].name, figure_name[k]);
  }
}

dlc_status dlc_train_log_begin(dlc_train_log *log, const dlc_fit_epoch *e) {
  if (!log) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(log->ctx, e);
  if (!log->header_due && !log->old_header) return DLC_OK;
  dlc_sbuf h = {0};
  csv_header(&h, log->regression, e);
  dlc_status s = DLC_OK;
  if (h.oom) s = DLC_FAIL(log->ctx, DLC_ERR_OUT_OF_MEMORY, "%s: the header", log->path);
  else if (log->header_due) s = put(log, "%s\n", h.p);
  else if (strcmp(h.p, log->old_header) != 0)
    s = DLC_FAIL(log->ctx, DLC_ERR_INVALID_ARG,
                 "%s has other columns than this run writes (made by another model, or with%s layer statistics?): "
                 "continue it as it was made, or log to a new file", log->path, e->nlayers ? "out" : "");
  free(h.p);
  free(log->old_header);
  log->old_header = NULL;
  log->header_due = 0;
  return s;
}

dlc_status dlc_train_log_epoch(dlc_train_log *log, const dlc_fit_epoch *e) {
  if (!log) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(log->ctx, e);
  if (e->nlayers > 0) DLC_CHECK_NULL(log->ctx, e->layers);
  const int reg = log->regression;
  const double tr = reg ? e->train.mae : e->train.accuracy, te = reg ? e->test.mae : e->test.accuracy;
  const double bal = e->have_classes ? e->summary.balanced_accuracy : 0, f1 = e->have_classes ? e->summary.macro_f1 : 0;
  const long long epoch = (long long)e->epoch + 1;
  dlc_sbuf t = {0};
  if (!log->jsonl) {
    DLC_TRY(dlc_train_log_begin(log, e));
    if (reg)
      dlc_sb_printf(&t, "%lld,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%.6g", epoch, e->train.loss, tr, e->test.loss, te,
                    e->train.seconds, e->train.samples_per_second, e->lr);
    else
      dlc_sb_printf(&t, "%lld,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%.6g", epoch, e->train.loss, tr, e->test.loss, te,
                    bal, f1, e->train.seconds, e->train.samples_per_second, e->lr);
    for (int i = 0; i < e->nlayers; i++) {
      int on[FIGURES];
      double v[FIGURES];
      figures(&e->layers[i], on, v);
      for (int k = 0; k < FIGURES; k++)
        if (on[k] && isfinite(v[k])) dlc_sb_printf(&t, ",%.6g", v[k]);
        else if (on[k]) dlc_sb_printf(&t, ","); /* no figure: an empty field */
    }
  } else {
    /* Classifiers add the test set's balanced accuracy, macro F1 and recall per class. */
    dlc_sb_printf(&t, "{\"epoch\":%lld,\"train_loss\":%.6f,\"train_%s\":%.6f,\"test_loss\":%.6f,\"test_%s\":%.6f",
                  epoch, e->train.loss, reg ? "mae" : "accuracy", tr, e->test.loss, reg ? "mae" : "accuracy", te);
    if (e->classes > 0) {
      dlc_sb_printf(&t, ",\"test_balanced_accuracy\":%.6f,\"test_macro_f1\":%.6f,\"test_recall\":[", bal, f1);
      for (int64_t c = 0; c < e->classes; c++)
        dlc_sb_printf(&t, c ? ",%.6f" : "%.6f", e->have_classes && e->recall ? e->recall[c] : 0);
      dlc_sb_printf(&t, "]");
    }
    dlc_sb_printf(&t, ",\"seconds\":%.3f,\"images_per_second\":%.1f,\"lr\":%.6g", e->train.seconds,
                  e->train.samples_per_second, e->lr);
    if (e->nlayers > 0) dlc_sb_printf(&t, ",\"layers\":[");
    for (int i = 0; i < e->nlayers; i++) {
      int on[FIGURES];
      double v[FIGURES];
      figures(&e->layers[i], on, v);
      dlc_sb_printf(&t, "%s{\"name\":", i ? "," : "");
      dlc_sb_json_string(&t, e->layers[i].name);
      dlc_sb_printf(&t, ",\"kind\":\"%s\"", e->layers[i].kind);
      for (int k = 0; k < FIGURES; k++) /* JSON has no NaN: a figure without data is null */
        if (on[k] && isfinite(v[k])) dlc_sb_printf(&t, ",\"%s\":%.6g", figure_name[k], v[k]);
        else if (on[k]) dlc_sb_printf(&t, ",\"%s\":null", figure_name[k]);
      dlc_sb_printf(&t, "}");
    }
    if (e->nlayers > 0) dlc_sb_printf(&t, "]");
    dlc_sb_printf(&t, "}");
  }
  dlc_status s = !t.oom ? put(log, "%s\n", t.p) : DLC_FAIL(log->ctx, DLC_ERR_OUT_OF_MEMORY, "%s: a line", log->path);
  free(t.p);
  return s;
}

dlc_status dlc_train_log_destroy(dlc_train_log *log) {
  if (!log) return DLC_OK;
  dlc_status s = DLC_OK;
  errno = 0;
  if (fclose(log->f) != 0)
    s = DLC_FAIL(log->ctx, DLC_ERR_IO, "%s: closing failed: %s", log->path, strerror(errno ? errno : EIO));
  free(log->old_header);
  free(log);
  return s;
}
