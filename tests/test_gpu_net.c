/* A whole network trained on CUDA and on the CPU from the same parameters and batches:
 * outputs, losses and parameters after several optimizer steps must agree. Covers the
 * graph code's device paths (fusion, residual, batchnorm, dropout masks, metrics). Label
 * gpu: exits 77 without a device. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static dlc_net *make(dlc_ctx *ctx) {
  int64_t in = 20;
  dlc_net *net;
  T_OK(ctx, dlc_net_create(ctx, 1, &in, 33, &net));
  T_OK(ctx, dlc_net_add_dense(net, "d0", 40, 1));
  T_OK(ctx, dlc_net_add_activation(net, NULL, DLC_ACT_TANH, 0));
  T_OK(ctx, dlc_net_add_batchnorm(net, NULL, 1e-5f, 0.1f));
  T_OK(ctx, dlc_net_add_dropout(net, NULL, 0.2f));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 40, 1));
  T_OK(ctx, dlc_net_add_activation(net, NULL, DLC_ACT_RELU, 0));
  T_OK(ctx, dlc_net_add_residual(net, NULL, "d0"));
  T_OK(ctx, dlc_net_add_dense(net, NULL, 7, 1));
  T_OK(ctx, dlc_net_set_loss_xent(net, NULL));
  T_OK(ctx, dlc_net_build(net));
  return net;
}

int main(void) {
  dlc_ctx *g = t_gpu_ctx_or_skip(17), *c = t_cpu_ctx(17);
  dlc_net *ng = make(g), *nc = make(c);
  /* Same initial parameters (the generators agree, but copy anyway to isolate the step). */
  T_OK(g, dlc_tensor_copy(g, dlc_net_params(ng), dlc_net_params(nc)));
  dlc_dataset ds;
  memset(&ds, 0, sizeof ds);
  ds.count = 33 * 6;
  ds.channels = ds.height = 1;
  ds.width = 20;
  ds.features = malloc(sizeof(float) * (size_t)(ds.count * 20));
  ds.labels = malloc(sizeof(int32_t) * (size_t)ds.count);
  t_fill_uniform(ds.features, ds.count * 20, 3, -2, 2);
  for (int64_t i = 0; i < ds.count; i++) ds.labels[i] = (int32_t)(i % 7);
  dlc_loader_options lo = dlc_loader_options_default();
  lo.batch = 33;
  dlc_loader *lg, *lc;
  T_OK(g, dlc_loader_create(g, &ds, &lo, &lg));
  T_OK(c, dlc_loader_create(c, &ds, &lo, &lc));
  dlc_optim_options oo = dlc_optim_options_default();
  oo.kind = DLC_OPT_ADAM;
  oo.lr = 1e-3f;
  oo.clip_norm = 1.f;
  dlc_optim *og, *oc;
  T_OK(g, dlc_optim_create(g, &oo, dlc_net_params(ng)->numel, &og));
  T_OK(c, dlc_optim_create(c, &oo, dlc_net_params(nc)->numel, &oc));
  dlc_epoch_stats sg, sc;
  T_OK(g, dlc_train_epoch(ng, og, lg, 0, 0, NULL, NULL, &sg));
  T_OK(c, dlc_train_epoch(nc, oc, lc, 0, 0, NULL, NULL, &sc));
  printf("epoch loss: cuda %.6f cpu %.6f; accuracy %.4f / %.4f\n", sg.loss, sc.loss, sg.accuracy, sc.accuracy);
  T_CHECK(sg.loss - sc.loss < 1e-4 && sc.loss - sg.loss < 1e-4, "epoch losses agree");
  int64_t n = dlc_net_params(nc)->numel;
  float *pg = malloc(sizeof(float) * (size_t)n);
  T_OK(g, dlc_tensor_download(g, dlc_net_params(ng), pg, sizeof(float) * (size_t)n));
  t_parity("parameters after 6 Adam steps", dlc_net_params(nc)->data, pg, n, 1e-9, 1e-4);
  dlc_epoch_stats eg, ec;
  T_OK(g, dlc_evaluate(ng, lg, &eg));
  T_OK(c, dlc_evaluate(nc, lc, &ec));
  T_CHECK(eg.loss - ec.loss < 1e-4 && ec.loss - eg.loss < 1e-4, "evaluation agrees: %g %g", eg.loss, ec.loss);
  free(pg);
  dlc_loader_destroy(lg);
  dlc_loader_destroy(lc);
  dlc_optim_destroy(og);
  dlc_optim_destroy(oc);
  dlc_net_destroy(ng);
  dlc_net_destroy(nc);
  dlc_dataset_free(&ds);
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_net");
}
