/* Convergence (label slow): the article's MLP (models/mlp.cfg) trained for 400 steps on
 * real Fashion-MNIST must lower its loss and clear an accuracy bar on the test split. */
#include <string.h>

#include "testutil.h"

typedef struct first_reading {
  double loss;
  int seen;
} first_reading;

static void on_progress(void *user, int64_t b, int64_t nb, const dlc_epoch_stats *st) {
  first_reading *f = user;
  (void)nb;
  if (!f->seen) {
    f->loss = st->loss;
    f->seen = (int)b;
  }
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(2024);
  dlc_net *net;
  dlc_train_config cfg;
  if (dlc_model_load(ctx, DLC_SOURCE_DIR "/models/mlp.cfg", 64, &net, &cfg) != DLC_OK) {
    fprintf(stderr, "FAIL: %s\n", dlc_ctx_error(ctx));
    return 1;
  }
  dlc_dataset tr, te;
  T_OK(ctx, dlc_dataset_open(ctx, "/usr/share/datasets/fashion-mnist", 1, &tr));
  T_OK(ctx, dlc_dataset_open(ctx, "/usr/share/datasets/fashion-mnist", 0, &te));
  if (t_failures) return t_finish("test_train_slow");
  tr.count = 400 * 64; /* 400 steps */
  cfg.loader.batch = 64;
  cfg.loader.seed = 2024;
  dlc_loader *lt, *le;
  T_OK(ctx, dlc_loader_create(ctx, &tr, &cfg.loader, &lt));
  cfg.loader.shuffle = 0;
  T_OK(ctx, dlc_loader_create(ctx, &te, &cfg.loader, &le));
  cfg.optim.steps_per_epoch = cfg.optim.total_steps = 400;
  dlc_optim *opt;
  T_OK(ctx, dlc_optim_create(ctx, &cfg.optim, dlc_net_params(net)->numel, &opt));
  first_reading f = {0, 0};
  dlc_epoch_stats st, ev;
  T_OK(ctx, dlc_net_train_epoch(net, opt, lt, 0, 0, on_progress, &f, &st));
  T_OK(ctx, dlc_net_evaluate(net, le, &ev));
  printf("first %d batches: loss %.4f; after 400 steps: train loss %.4f acc %.4f; test loss %.4f acc %.4f (%.0f img/s)\n",
         f.seen, f.loss, st.loss, st.accuracy, ev.loss, ev.accuracy, st.samples_per_second);
  T_CHECK(f.seen > 0 && st.loss < 0.75 * f.loss, "the loss falls: %g -> %g", f.loss, st.loss);
  T_CHECK(ev.accuracy >= 0.80, "test accuracy %g clears 0.80 after 400 steps", ev.accuracy);
  dlc_loader_destroy(lt);
  dlc_loader_destroy(le);
  dlc_optim_destroy(opt);
  dlc_dataset_free(&tr);
  dlc_dataset_free(&te);
  dlc_net_destroy(net);
  dlc_ctx_destroy(ctx);
  return t_finish("test_train_slow");
}
