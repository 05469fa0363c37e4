/* The resumable training run: epochs, the schedule's lengths and warm-up, evaluation after
 * each epoch (with the test set's confusion matrix for classifiers), checkpoints at epoch
 * ends and every N batches, exact resume from a checkpoint, stop-after, and the NaN stop
 * (dlc_net_train_batches reports the first bad batch). The loop trains in pieces between
 * checkpoints: the same parameters, bit for bit, as one piece. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/net_internal.h"

dlc_fit_options dlc_fit_options_default(void) {
  dlc_fit_options o;
  memset(&o, 0, sizeof o);
  o.epochs = 1;
  o.rescue = 1;
  return o;
}

/* The outputs, in the order their names are checked: distinct, writable, locked. */
enum { OUT_SAVE, OUT_CHECKPOINT, OUT_LOG, OUTS };
static const char *out_name[OUTS] = {"save", "checkpoint", "log"};

static dlc_status claim_outputs(dlc_ctx *ctx, const dlc_fit_options *o, dlc_file_lock *locks[OUTS]) {
  const char *path[OUTS] = {o->save, o->checkpoint, o->log};
  for (int i = 0; i < OUTS; i++) {
    if (!path[i]) continue;
    for (int j = 0; j < i; j++)
      if (path[j] && !strcmp(path[i], path[j]))
        return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "the %s and the %s name the same file %s", out_name[j],
                        out_name[i], path[i]);
    dlc_status s = dlc_check_output_path(ctx, path[i]);
    if (s == DLC_OK) s = dlc_file_lock_acquire(ctx, path[i], &locks[i]);
    if (s != DLC_OK) return dlc_error_prefix(ctx, s, out_name[i]);
  }
  return DLC_OK;
}

/* After an output failed: the trained weights to the first folder that takes them, with
 * the context's error (the failure) kept. */
static void rescue_weights(dlc_net *net, dlc_fit_result *r) {
  dlc_ctx *ctx = net->ctx;
  char failure[sizeof ctx->error];
  memcpy(failure, ctx->error, sizeof failure);
  const char *dirs[3] = {".", getenv("TMPDIR"), "/tmp"};
  for (int k = 0; k < 3 && !r->rescued[0]; k++) {
    if (!dirs[k] || !dirs[k][0]) continue;
    char path[sizeof r->rescued];
    int n = snprintf(path, sizeof path, "%s/dlcuda-rescued-%ld.safetensors", dirs[k], (long)getpid());
    if (n > 0 && (size_t)n < sizeof path && dlc_net_save_weights(net, path) == DLC_OK)
      memcpy(r->rescued, path, sizeof path);
  }
  memcpy(ctx->error, failure, sizeof failure);
}

static dlc_status save_checkpoint(dlc_net *net, dlc_optim *opt, const char *path, int64_t epoch, int64_t batch,
                                  int64_t per_epoch) {
  dlc_checkpoint_info info = {epoch, batch, per_epoch, 0, 0, 0};
  return dlc_checkpoint_save(net, opt, &info, path);
}

/* dlc_net_train_batches' progress callback, with the epoch added. */
typedef struct progress_of {
  const dlc_fit_options *o;
  int64_t epoch;
} progress_of;

static void forward_progress(void *user, int64_t batch, int64_t nbatches, const dlc_epoch_stats *so_far) {
  progress_of *p = user;
  p->o->on_progress(p->o->user, p->epoch, batch, nbatches, so_far);
}

/* Trains epoch e from batch *b to its end (or to a stop), checkpointing on the way. */
static dlc_status train_epoch(dlc_net *net, dlc_optim *opt, dlc_loader *train, const dlc_fit_options *o, int64_t e,
                              int64_t per_epoch, int64_t *b, dlc_fit_result *r, dlc_epoch_stats *tr, int *stopping) {
  int64_t every = o->checkpoint ? o->checkpoint_every : 0;
  double loss = 0, metric = 0;
  int regression = net->loss == 2;
  while (*b < per_epoch && !*stopping) {
    int64_t n = per_epoch - *b;
    if (every > 0 && (*b / every + 1) * every - *b < n) n = (*b / every + 1) * every - *b;
    if (o->stop_after > 0 && o->stop_after - r->batches < n) n = o->stop_after - r->batches;
    dlc_epoch_stats st;
    progress_of po = {o, e};
    DLC_TRY(dlc_net_train_batches(net, opt, train, e, *b, n, o->on_progress ? forward_progress : NULL, &po, &st));
    loss += st.loss * (double)st.samples;
    metric += (regression ? st.mae : st.accuracy) * (double)st.samples;
    tr->samples += st.samples;
    tr->seconds += st.seconds;
    *b += n;
    r->batches += n;
    *stopping = o->stop_after > 0 && r->batches >= o->stop_after && *b < per_epoch;
    if (*b < per_epoch && o->checkpoint && (*stopping || (every > 0 && *b % every == 0))) {
      dlc_status cs = save_checkpoint(net, opt, o->checkpoint, e, *b, per_epoch);
      if (cs != DLC_OK) {
        r->output_failed = 1;
        return dlc_error_prefix(net->ctx, cs, "checkpoint");
      }
    }
  }
  tr->loss = tr->samples ? loss / (double)tr->samples : 0;
  double m = tr->samples ? metric / (double)tr->samples : 0;
  tr->accuracy = regression ? 0 : m;
  tr->mae = regression ? m : 0;
  tr->samples_per_second = tr->seconds > 0 ? (double)tr->samples / tr->seconds : 0;
  return DLC_OK;
}

static dlc_status fit(dlc_net *net, dlc_optim *opt, dlc_loader *train, dlc_loader *test, const dlc_fit_options *o,
                      dlc_train_log *log, dlc_fit_result *r, dlc_fit_epoch *ep, dlc_class_eval *ce,
                      dlc_layer_stats *stats) {
  dlc_ctx *ctx = net->ctx;
  int64_t per_epoch = dlc_loader_batches(train);
  r->batches_per_epoch = per_epoch;
  DLC_TRY(dlc_optim_set_schedule_steps(opt, per_epoch, per_epoch * o->epochs,
                                       (int64_t)(o->warmup_epochs * (float)per_epoch)));
  int64_t start_epoch = 0, start_batch = 0;
  if (o->resume) {
    dlc_checkpoint_info info;
    DLC_TRY(dlc_checkpoint_load(net, opt, o->resume, &info));
    if (info.batches_per_epoch && info.batches_per_epoch != per_epoch)
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG,
                      "%s was made with %lld batches per epoch, this run has %lld: resume with the same model, "
                      "data, batch size and number of steps", o->resume, (long long)info.batches_per_epoch,
                      (long long)per_epoch);
    start_epoch = info.epoch;
    start_batch = info.batch;
  }
  r->epoch = start_epoch;
  r->batch = start_batch;
  ep->epochs = o->epochs;
  ep->regression = net->loss == 2;
  for (int64_t e = start_epoch; e < o->epochs; e++) {
    memset(&ep->train, 0, sizeof ep->train);
    memset(&ep->test, 0, sizeof ep->test);
    ep->epoch = e;
    ep->lr = dlc_optim_lr(opt);
    int64_t b = e == start_epoch ? start_batch : 0;
    ep->resumed_mid_epoch = b > 0;
    int stopping = 0;
    if (o->layer_stats) DLC_TRY(dlc_net_layer_stats_reset(net));
    dlc_status s = train_epoch(net, opt, train, o, e, per_epoch, &b, r, &ep->train, &stopping);
    r->epoch = e;
    r->batch = b;
    DLC_TRY(s);
    if (stopping) {
      r->stopped = 1;
      return DLC_OK;
    }
    r->epoch = e + 1;
    r->batch = 0;
    if (o->layer_stats) DLC_TRY(dlc_net_layer_stats_read(net, stats, net->nlayers, &ep->nlayers, NULL));
    if (test) { /* classifiers: with the confusion matrix and the per-class figures */
      DLC_TRY(dlc_net_evaluate_classes(net, test, ce));
      ep->test = ce->stats;
      ep->have_classes = ce->have_classes;
      ep->confusion = ce->confusion, ep->recall = ce->recall, ep->precision = ce->precision, ep->f1 = ce->f1;
      ep->summary = ce->summary;
    }
    ep->have_test = test != NULL;
    dlc_status s2 = o->on_epoch ? o->on_epoch(o->user, ep) : DLC_OK;
    if (s2 == DLC_OK && log && (s2 = dlc_train_log_epoch(log, ep)) != DLC_OK) s2 = dlc_error_prefix(ctx, s2, "log");
    if (s2 == DLC_OK && o->checkpoint && (s2 = save_checkpoint(net, opt, o->checkpoint, e + 1, 0, per_epoch)) != DLC_OK)
      s2 = dlc_error_prefix(ctx, s2, "checkpoint");
    if (s2 != DLC_OK) {
      r->output_failed = 1;
      return s2;
    }
    if (o->stop_after > 0 && r->batches >= o->stop_after && e + 1 < o->epochs) {
      r->stopped = 1;
      return DLC_OK;
    }
  }
  return DLC_OK;
}

dlc_status dlc_fit(dlc_net *net, dlc_optim *opt, dlc_loader *train, dlc_loader *test, const dlc_fit_options *o,
                   dlc_fit_result *r) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, opt);
  DLC_CHECK_NULL(ctx, train);
  DLC_CHECK_NULL(ctx, o);
  DLC_CHECK_NULL(ctx, r);
  memset(r, 0, sizeof *r);
  if (o->epochs < 1) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "dlc_fit: epochs = %d, need at least 1", o->epochs);
  if (o->checkpoint_every < 0 || o->stop_after < 0 || !(o->warmup_epochs >= 0))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "dlc_fit: checkpoint_every, stop_after and warmup_epochs must not be "
                                              "negative");
  dlc_fit_epoch ep;
  memset(&ep, 0, sizeof ep);
  ep.classes = dlc_net_classes(net); /* the log's columns need them before the first evaluation */
  dlc_class_eval ce = {0};
  dlc_status s = DLC_OK;
  dlc_layer_stats *stats = NULL;
  const int stats_were_on = net->stats_on; /* a caller's collection is left running */
  if (s == DLC_OK && o->layer_stats) {
    stats = calloc((size_t)net->nlayers, sizeof *stats);
    s = stats ? dlc_net_layer_stats_enable(net, 1) : DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "dlc_fit: layer statistics");
    ep.layers = stats;
  }
  dlc_file_lock *locks[OUTS] = {NULL, NULL, NULL};
  dlc_train_log *log = NULL;
  if (s == DLC_OK) s = claim_outputs(ctx, o, locks);
  if (s == DLC_OK && o->log && (s = dlc_train_log_open(ctx, o->log, o->resume != NULL, net->loss == 2, &log)) != DLC_OK)
    s = dlc_error_prefix(ctx, s, "log");
  /* The log's columns, written or checked before any training. */
  if (s == DLC_OK && stats) s = dlc_net_layer_stats_read(net, stats, net->nlayers, &ep.nlayers, NULL);
  if (s == DLC_OK && log && (s = dlc_train_log_begin(log, &ep)) != DLC_OK) s = dlc_error_prefix(ctx, s, "log");
  if (s == DLC_OK) s = fit(net, opt, train, test, o, log, r, &ep, &ce, stats);
  if (s == DLC_OK && o->save && (s = dlc_net_save_weights(net, o->save)) != DLC_OK) {
    s = dlc_error_prefix(ctx, s, "save");
    r->output_failed = 1;
  }
  dlc_status sl = dlc_train_log_destroy(log); /* a failed close is a failed log */
  if (s == DLC_OK && sl != DLC_OK) {
    s = dlc_error_prefix(ctx, sl, "log");
    r->output_failed = 1;
  }
  if (s != DLC_OK && r->output_failed && r->batches > 0 && o->rescue) rescue_weights(net, r);
  for (int i = 0; i < OUTS; i++) dlc_file_lock_destroy(locks[i]);
  dlc_class_eval_free(&ce);
  if (o->layer_stats && !stats_were_on) dlc_net_layer_stats_enable(net, 0);
  free(stats);
  return s;
}
