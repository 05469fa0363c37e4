/* Optimizers against torch.optim over five steps, learning-rate schedules, bad options. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

static void run_case(dlc_ctx *ctx, const char *name, dlc_optim_options o) {
  dlc_tensor p0, grads, want;
  char path[128];
  snprintf(path, sizeof path, "optim/%s.npy", name);
  if (!t_fixture(ctx, "optim/p0.npy", &p0) || !t_fixture(ctx, "optim/grads.npy", &grads) ||
      !t_fixture(ctx, path, &want))
    return;
  dlc_optim *opt;
  T_OK(ctx, dlc_optim_create(ctx, &o, p0.numel, &opt));
  int64_t n = p0.numel;
  for (int t = 0; t < 5; t++) {
    dlc_tensor g;
    dlc_tensor_borrow(ctx, &g, (float *)grads.data + t * n, DLC_F32, 1, &n, cpu);
    T_OK(ctx, dlc_optim_step(opt, &p0, &g));
  }
  char what[96];
  snprintf(what, sizeof what, "%s: 5 steps vs torch.optim", name);
  t_parity(what, want.data, p0.data, n, 1e-12, 2e-6);
  T_CHECK(dlc_optim_steps(opt) == 5, "step count");
  dlc_optim_destroy(opt);
  dlc_tensor_free(ctx, &p0);
  dlc_tensor_free(ctx, &grads);
  dlc_tensor_free(ctx, &want);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(1);
  dlc_optim_options o = dlc_optim_options_default();
  o.lr = 0.1f;
  run_case(ctx, "sgd", o);
  o.lr = 0.05f; o.momentum = 0.9f; o.weight_decay = 0.01f;
  run_case(ctx, "sgd_momentum_wd", o);
  o = dlc_optim_options_default();
  o.lr = 0.05f; o.momentum = 0.8f; o.nesterov = 1;
  run_case(ctx, "sgd_nesterov", o);
  o = dlc_optim_options_default();
  o.lr = 0.05f; o.momentum = 0.7f; o.dampening = 0.3f;
  run_case(ctx, "sgd_dampening", o);
  o = dlc_optim_options_default();
  o.kind = DLC_OPT_ADAM; o.lr = 0.01f; o.weight_decay = 0.01f;
  run_case(ctx, "adam", o);
  o = dlc_optim_options_default();
  o.kind = DLC_OPT_ADAMW; o.lr = 0.01f; o.weight_decay = 0.1f; o.beta1 = 0.8f; o.beta2 = 0.99f; o.eps = 1e-6f;
  run_case(ctx, "adamw", o);
  o = dlc_optim_options_default();
  o.lr = 0.1f; o.momentum = 0.9f; o.clip_norm = 0.5f;
  run_case(ctx, "sgd_clip", o);

  /* Schedules: warm-up then cosine; step decay. */
  o = dlc_optim_options_default();
  o.lr = 1.f; o.schedule = DLC_LR_COSINE; o.warmup_steps = 4; o.total_steps = 104; o.min_lr = 0.1f;
  dlc_optim *opt;
  int64_t one = 1;
  dlc_tensor p, g;
  T_OK(ctx, dlc_tensor_alloc(ctx, &p, DLC_F32, 1, &one, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &g, DLC_F32, 1, &one, cpu));
  dlc_tensor_fill(ctx, &p, 0.f);
  dlc_tensor_fill(ctx, &g, 0.f);
  T_OK(ctx, dlc_optim_create(ctx, &o, 1, &opt));
  float lrs[105];
  for (int t = 0; t < 105; t++) {
    lrs[t] = dlc_optim_lr(opt);
    dlc_optim_step(opt, &p, &g);
  }
  T_CHECK(fabsf(lrs[0] - 0.25f) < 1e-6f && fabsf(lrs[3] - 1.f) < 1e-6f, "warm-up %g %g", lrs[0], lrs[3]);
  T_CHECK(fabsf(lrs[4] - 1.f) < 1e-6f && fabsf(lrs[54] - 0.55f) < 1e-5f && fabsf(lrs[104] - 0.1f) < 1e-6f,
          "cosine %g %g %g", lrs[4], lrs[54], lrs[104]);
  dlc_optim_destroy(opt);
  o = dlc_optim_options_default();
  o.lr = 1.f; o.schedule = DLC_LR_STEP; o.step_epochs = 2; o.gamma = 0.5f; o.steps_per_epoch = 10;
  T_OK(ctx, dlc_optim_create(ctx, &o, 1, &opt));
  for (int t = 0; t < 45; t++) {
    lrs[t] = dlc_optim_lr(opt);
    dlc_optim_step(opt, &p, &g);
  }
  T_CHECK(lrs[19] == 1.f && lrs[20] == 0.5f && lrs[44] == 0.25f, "step decay %g %g %g", lrs[19], lrs[20], lrs[44]);
  dlc_optim_destroy(opt);

  o = dlc_optim_options_default();
  o.nesterov = 1;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "Nesterov", dlc_optim_create(ctx, &o, 1, &opt));
  o = dlc_optim_options_default();
  o.lr = NAN;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "learning rate", dlc_optim_create(ctx, &o, 1, &opt));
  o = dlc_optim_options_default();
  o.kind = DLC_OPT_ADAM; o.beta2 = 1.f;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "betas", dlc_optim_create(ctx, &o, 1, &opt));
  T_OK(ctx, dlc_optim_create(ctx, NULL, 2, &opt));
  T_FAILS(ctx, DLC_ERR_SHAPE, "built for 2", dlc_optim_step(opt, &p, &g));
  dlc_optim_destroy(opt);
  dlc_tensor_free(ctx, &p);
  dlc_tensor_free(ctx, &g);
  dlc_ctx_destroy(ctx);
  return t_finish("test_optim");
}
