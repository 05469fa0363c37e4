/* The fused optimizer kernel and the norm reduction on CUDA against the CPU path: SGD with
 * Nesterov momentum, Adam, AdamW, each with and without clipping, on an awkward size. */
#include <stdlib.h>

#include "testutil.h"

int main(void) {
  dlc_ctx *g = t_gpu_ctx_or_skip(3), *c = t_cpu_ctx(3);
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  int64_t n = 1000003;
  float *p0 = malloc(sizeof(float) * (size_t)n), *gr = malloc(sizeof(float) * (size_t)n),
        *back = malloc(sizeof(float) * (size_t)n);
  t_fill_uniform(p0, n, 1, -1, 1);
  t_fill_uniform(gr, n, 2, -1e-3f, 1e-3f);
  for (int kind = 0; kind < 3; kind++)
    for (int clip = 0; clip < 2; clip++) {
      dlc_optim_options o = dlc_optim_options_default();
      o.kind = (dlc_optimizer_kind)kind;
      o.lr = kind ? 1e-3f : 0.1f;
      o.momentum = kind ? 0.f : 0.9f;
      o.nesterov = kind == 0;
      o.weight_decay = 0.01f;
      o.clip_norm = clip ? 0.1f : 0.f; /* the gradient's norm is about 0.58: clipping acts */
      dlc_tensor hp, hg;
      t_guarded dp, dg;
      dlc_tensor_alloc(c, &hp, DLC_F32, 1, &n, cpu);
      dlc_tensor_borrow(c, &hg, gr, DLC_F32, 1, &n, cpu);
      dlc_tensor_upload(c, &hp, p0, hp.nbytes);
      T_CHECK(t_guarded_alloc(g, &dp, 1, &n) && t_guarded_alloc(g, &dg, 1, &n), "alloc");
      t_guarded_upload(g, &dp, p0);
      t_guarded_upload(g, &dg, gr);
      dlc_optim *og, *oc;
      T_OK(g, dlc_optim_create(g, &o, n, &og));
      T_OK(c, dlc_optim_create(c, &o, n, &oc));
      for (int t = 0; t < 3; t++) {
        T_OK(g, dlc_optim_step(og, &dp.t, &dg.t));
        T_OK(c, dlc_optim_step(oc, &hp, &hg));
      }
      char what[64];
      snprintf(what, sizeof what, "optim kind %d clip %d, 3 steps", kind, clip);
      if (t_guarded_download(g, &dp, back, what)) t_parity(what, hp.data, back, n, 1e-12, 1e-6);
      dlc_optim_destroy(og);
      dlc_optim_destroy(oc);
      dlc_tensor_free(c, &hp);
      t_guarded_free(g, &dp);
      t_guarded_free(g, &dg);
    }
  free(p0); free(gr); free(back);
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_optim");
}
