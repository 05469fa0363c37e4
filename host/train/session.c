/* A model file opened for work (dlc_session_open): the network and its weights, the data
 * set's splits checked against it, the imbalance settings, the loaders and the optimizer.
 * What `dlcuda train`, `eval` and `report` did by hand, for every program that links the
 * library. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/net_internal.h"

dlc_session_options dlc_session_options_default(void) {
  dlc_session_options o;
  memset(&o, 0, sizeof o);
  o.kind = DLC_SESSION_TRAIN;
  o.optimizer = o.sampler = o.class_weights = -1;
  o.rotate = o.erase = o.brightness = o.contrast = -1.f;
  return o;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "3=0.02,5=0.1" into keep[0..classes) (1 where a class is not named). */
static dlc_status parse_subsample(dlc_ctx *ctx, const char *v, float *keep, int64_t classes) {
  for (int64_t c = 0; c < classes; c++) keep[c] = 1.f;
  const char *p = v;
  while (*p) {
    char *end;
    errno = 0;
    long c = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
    if (c < 0 || errno || *end != '=' || c >= classes)
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "subsample %s: expected CLASS=FRACTION,... with classes from 0 to %lld",
                      v, (long long)classes - 1);
    p = end + 1;
    double f = strtod(p, &end);
    if (end == p || !(f >= 0 && f <= 1) || (*end && *end != ','))
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "subsample %s: class %ld's fraction must be a number from 0 to 1", v, c);
    keep[c] = (float)f;
    p = *end ? end + 1 : end;
  }
  return DLC_OK;
}

/* The model file's settings, overridden where the options set them. */
static void apply_overrides(dlc_train_config *cfg, const dlc_session_options *o) {
  if (o->epochs > 0) cfg->epochs = o->epochs;
  if (o->lr > 0) cfg->optim.lr = o->lr;
  if (o->optimizer >= 0) cfg->optim.kind = (dlc_optimizer_kind)o->optimizer;
  if (o->sampler >= 0) cfg->loader.balanced = o->sampler;
  if (o->class_weights >= 0) cfg->balanced_class_weights = o->class_weights;
  if (o->rotate >= 0) cfg->loader.rotate = o->rotate;
  if (o->erase >= 0) cfg->loader.erase = o->erase;
  if (o->brightness >= 0) cfg->loader.brightness = o->brightness;
  if (o->contrast >= 0) cfg->loader.contrast = o->contrast;
}

/* The held-out set: --test-data's, else the data's test split (a .csv file has none when
 * training; evaluating reads it whole). Training without one is allowed, with a notice. */
static dlc_status open_test(dlc_ctx *ctx, const dlc_session_options *o, dlc_session *s) {
  const dlc_data_spec *spec = &s->cfg.data_spec;
  if (o->kind == DLC_SESSION_EVAL || o->test_data) {
    const char *path = o->kind == DLC_SESSION_EVAL ? s->data : o->test_data;
    s->test_whole = ends_with(path, ".csv");
    dlc_status st = dlc_dataset_open_spec(ctx, path, 0, spec, &s->test_set);
    if (st != DLC_OK) return dlc_error_prefix(ctx, st, o->kind == DLC_SESSION_EVAL ? "test data" : "test_data");
    s->have_test = 1;
    return DLC_OK;
  }
  if (ends_with(s->data, ".csv")) {
    snprintf(s->notice, sizeof s->notice,
             "%s is one CSV file: reporting training metrics only (test_data names a held-out file)", s->data);
    return DLC_OK;
  }
  if (dlc_dataset_open_spec(ctx, s->data, 0, spec, &s->test_set) == DLC_OK) {
    s->have_test = 1;
    return DLC_OK;
  }
  snprintf(s->notice, sizeof s->notice, "no test split (%s): reporting training metrics only (test_data names one)",
           dlc_ctx_error(ctx));
  return DLC_OK;
}

/* Imbalance: the training set subsampled, then class weights from what remains. */
static dlc_status imbalance(dlc_ctx *ctx, const dlc_session_options *o, dlc_session *s) {
  int64_t C = s->classes;
  if (o->subsample) {
    if (C == 0) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "subsample needs a classifier");
    float *keep = malloc(sizeof(float) * (size_t)C);
    if (!keep) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "subsample: %lld classes", (long long)C);
    s->count_before_subsample = s->train_set.count;
    dlc_status st = parse_subsample(ctx, o->subsample, keep, C);
    if (st == DLC_OK) st = dlc_dataset_subsample(ctx, &s->train_set, keep, C, dlc_ctx_seed(ctx));
    free(keep);
    if (st != DLC_OK) return st;
  }
  if (!s->cfg.balanced_class_weights) return DLC_OK;
  s->class_weights = malloc(sizeof(float) * (size_t)(C > 0 ? C : 1));
  if (!s->class_weights) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "class weights: %lld classes", (long long)C);
  dlc_status st = dlc_net_balance_class_weights(s->net, &s->train_set, s->class_weights, C);
  return st == DLC_OK ? st : dlc_error_prefix(ctx, st, "weights = balanced");
}

static dlc_status open_train(dlc_ctx *ctx, const dlc_session_options *o, dlc_session *s) {
  dlc_train_config *cfg = &s->cfg;
  dlc_status st = dlc_dataset_open_spec(ctx, s->data, 1, &cfg->data_spec, &s->train_set);
  if (st != DLC_OK) return dlc_error_prefix(ctx, st, "training data");
  if ((st = open_test(ctx, o, s)) != DLC_OK) return st;
  if ((st = dlc_net_check_dataset(s->net, &s->train_set)) != DLC_OK ||
      (s->have_test && (st = dlc_net_check_dataset(s->net, &s->test_set)) != DLC_OK))
    return dlc_error_prefix(ctx, st, "data set and model do not fit");
  if ((st = imbalance(ctx, o, s)) != DLC_OK) return st;
  cfg->loader.batch = cfg->batch;
  /* steps * batch < count, without overflow for any steps */
  if (o->steps > 0 && o->steps <= (s->train_set.count - 1) / cfg->batch) s->train_set.count = o->steps * cfg->batch;
  cfg->loader.seed = dlc_ctx_seed(ctx);
  if ((st = dlc_loader_create(ctx, &s->train_set, &cfg->loader, &s->train)) != DLC_OK) return st;
  dlc_loader_options tl = dlc_loader_options_eval(&cfg->loader); /* the test set as it is */
  if (s->have_test && (st = dlc_loader_create(ctx, &s->test_set, &tl, &s->test)) != DLC_OK) return st;
  int64_t nparams = dlc_net_param_count(s->net) > 0 ? dlc_net_params(s->net)->numel : 0;
  return dlc_optim_create(ctx, &cfg->optim, nparams, &s->opt);
}

static dlc_status open_session(dlc_ctx *ctx, const dlc_session_options *o, dlc_session *s) {
  dlc_status st;
  /* The data order follows the seed: the checkpoint's, before any loader exists. */
  if (o->resume) {
    if ((st = dlc_checkpoint_read_info(ctx, o->resume, &s->resume)) != DLC_OK) return dlc_error_prefix(ctx, st, "resume");
    dlc_ctx_set_seed(ctx, s->resume.seed);
  }
  if ((st = dlc_model_load(ctx, o->model, o->batch, &s->net, &s->cfg)) != DLC_OK) return dlc_error_prefix(ctx, st, "model");
  if (o->weights && (st = dlc_net_load_weights(s->net, o->weights)) != DLC_OK) return dlc_error_prefix(ctx, st, "weights");
  apply_overrides(&s->cfg, o);
  const char *data = o->data ? o->data : s->cfg.data;
  if (strlen(data) >= sizeof s->data)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "data: the path is %zu characters long, longer than %zu", strlen(data),
                    sizeof s->data - 1);
  snprintf(s->data, sizeof s->data, "%s", data);
  s->classes = dlc_net_classes(s->net); /* 0 for an [mse] model, as its data_spec says */
  if (o->kind == DLC_SESSION_MODEL) return DLC_OK;
  if (o->kind == DLC_SESSION_TRAIN) return open_train(ctx, o, s);
  if ((st = open_test(ctx, o, s)) != DLC_OK) return st;
  if ((st = dlc_net_check_dataset(s->net, &s->test_set)) != DLC_OK) return dlc_error_prefix(ctx, st, "data set and model do not fit");
  dlc_loader_options lo = dlc_loader_options_eval(&s->cfg.loader);
  lo.batch = s->cfg.batch;
  return dlc_loader_create(ctx, &s->test_set, &lo, &s->test);
}

dlc_status dlc_session_open(dlc_ctx *ctx, const dlc_session_options *o, dlc_session **out) {
  DLC_CHECK_NULL(ctx, o);
  DLC_CHECK_NULL(ctx, out);
  DLC_CHECK_NULL(ctx, o->model);
  *out = NULL;
  if (o->kind < DLC_SESSION_MODEL || o->kind > DLC_SESSION_TRAIN)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "dlc_session_open: kind %d is not a dlc_session_kind", (int)o->kind);
  /* The settings in the model file's ranges (NaN fails every range); -1, 0 or a negative
   * augmentation keep the file's. */
  const struct { const char *name; double v, lo, hi; } r[] = {
    {"batch", (double)o->batch, 0, DLC_MAX_BATCH}, {"epochs", o->epochs, 0, DLC_MAX_EPOCHS},
    {"lr", o->lr, 0, FLT_MAX}, {"optimizer", o->optimizer, -1, DLC_OPT_COUNT - 1},
    {"sampler", o->sampler, -1, 1}, {"class_weights", o->class_weights, -1, 1},
    {"rotate", o->rotate, -INFINITY, DLC_MAX_ROTATE}, {"erase", o->erase, -INFINITY, 1},
    {"brightness", o->brightness, -INFINITY, 1}, {"contrast", o->contrast, -INFINITY, 1},
    {"steps", (double)o->steps, 0, INFINITY}};
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
    if (!(r[i].v >= r[i].lo && r[i].v <= r[i].hi))
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "dlc_session_open: %s = %.9g is outside [%.9g, %.9g]", r[i].name, r[i].v,
                      r[i].lo, r[i].hi);
  dlc_session *s = calloc(1, sizeof *s);
  if (!s) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "dlc_session_open: %zu bytes", sizeof *s);
  dlc_status st = open_session(ctx, o, s);
  if (st != DLC_OK) {
    dlc_session_destroy(s);
    return st;
  }
  *out = s;
  return DLC_OK;
}

void dlc_session_destroy(dlc_session *s) {
  if (!s) return;
  dlc_loader_destroy(s->train);
  dlc_loader_destroy(s->test);
  dlc_dataset_free(&s->train_set);
  dlc_dataset_free(&s->test_set);
  dlc_optim_destroy(s->opt);
  dlc_net_destroy(s->net);
  free(s->class_weights);
  free(s);
}
