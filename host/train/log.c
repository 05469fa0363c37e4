/* The training run's log: one line per epoch, CSV or JSON lines, written through so that a
 * full disk is noticed at the epoch it happens, naming the file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "io/file_io.h"

struct dlc_train_log {
  dlc_ctx *ctx;
  FILE *f;
  int jsonl, regression;
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
  if (!log->jsonl && st.st_size == 0)
    s = put(log, regression ? "epoch,train_loss,train_mae,test_loss,test_mae,seconds,images_per_second,lr\n"
                            : "epoch,train_loss,train_accuracy,test_loss,test_accuracy,test_balanced_accuracy,"
                              "test_macro_f1,seconds,images_per_second,lr\n");
  if (s != DLC_OK) {
    fclose(log->f);
    free(log);
    return s;
  }
  *out = log;
  return DLC_OK;
}

dlc_status dlc_train_log_epoch(dlc_train_log *log, const dlc_fit_epoch *e) {
  if (!log) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(log->ctx, e);
  const int reg = log->regression;
  const double tr = reg ? e->train.mae : e->train.accuracy, te = reg ? e->test.mae : e->test.accuracy;
  const double bal = e->have_classes ? e->summary.balanced_accuracy : 0, f1 = e->have_classes ? e->summary.macro_f1 : 0;
  const long long epoch = (long long)e->epoch + 1;
  if (!log->jsonl) {
    if (reg)
      return put(log, "%lld,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%.6g\n", epoch, e->train.loss, tr, e->test.loss, te,
                 e->train.seconds, e->train.samples_per_second, e->lr);
    return put(log, "%lld,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%.6g\n", epoch, e->train.loss, tr, e->test.loss, te,
               bal, f1, e->train.seconds, e->train.samples_per_second, e->lr);
  }
  /* Classifiers add the test set's balanced accuracy, macro F1 and recall per class. */
  DLC_TRY(put(log, "{\"epoch\":%lld,\"train_loss\":%.6f,\"train_%s\":%.6f,\"test_loss\":%.6f,\"test_%s\":%.6f", epoch,
              e->train.loss, reg ? "mae" : "accuracy", tr, e->test.loss, reg ? "mae" : "accuracy", te));
  if (e->classes > 0 && e->recall) {
    DLC_TRY(put(log, ",\"test_balanced_accuracy\":%.6f,\"test_macro_f1\":%.6f,\"test_recall\":[", bal, f1));
    for (int64_t c = 0; c < e->classes; c++) DLC_TRY(put(log, c ? ",%.6f" : "%.6f", e->have_classes ? e->recall[c] : 0));
    DLC_TRY(put(log, "]"));
  }
  return put(log, ",\"seconds\":%.3f,\"images_per_second\":%.1f,\"lr\":%.6g}\n", e->train.seconds,
             e->train.samples_per_second, e->lr);
}

dlc_status dlc_train_log_destroy(dlc_train_log *log) {
  if (!log) return DLC_OK;
  dlc_status s = DLC_OK;
  errno = 0;
  if (fclose(log->f) != 0)
    s = DLC_FAIL(log->ctx, DLC_ERR_IO, "%s: closing failed: %s", log->path, strerror(errno ? errno : EIO));
  free(log);
  return s;
}
