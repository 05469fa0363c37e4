/* Batch normalisation on CUDA against the CPU path: training forward (output, saved and
 * running statistics), evaluation forward, backward; 2-d and 4-d inputs of awkward sizes,
 * small and large enough that each channel's values are split among several blocks
 * (dlc_bn_splits > 1, chunks of uneven length, planes longer and shorter than a block). */
#include "ops/ops.h"
#include "../kernels/batchnorm.h"
#include "testutil.h"

int main(void) {
  dlc_ctx *g = t_gpu_ctx_or_skip(5), *c = t_cpu_ctx(5);
  const int64_t shapes[][4] = {{2, 3, 1, 1},     {33, 17, 1, 1}, {3, 5, 7, 9},   {16, 64, 14, 14},
                               {1, 2, 33, 65},   {50, 3, 15, 20}, {600, 2, 7, 5}, {20001, 3, 1, 1}};
  const int ns = (int)(sizeof shapes / sizeof shapes[0]);
  int split = 0;
  for (int k = 0; k < ns; k++) {
    int nd = shapes[k][2] == 1 && shapes[k][3] == 1 ? 2 : 4;
    int64_t C = shapes[k][1], two_c = dlc_bn_scratch_floats(C);
    split += dlc_bn_splits(shapes[k][0], C, shapes[k][2] * shapes[k][3]) > 1;
    t_pair x, y, dy, dx, gm, bt, rm, rv, sm, si, dg, db, sc;
    t_pair_init(g, c, &x, nd, shapes[k], 1, -3, 5);
    t_pair_init(g, c, &y, nd, shapes[k], 2, 0, 1);
    t_pair_init(g, c, &dy, nd, shapes[k], 3, -1, 1);
    t_pair_init(g, c, &dx, nd, shapes[k], 4, -1, 1);
    t_pair_init(g, c, &gm, 1, &C, 5, 0.5f, 1.5f);
    t_pair_init(g, c, &bt, 1, &C, 6, -1, 1);
    t_pair_init(g, c, &rm, 1, &C, 7, -0.1f, 0.1f);
    t_pair_init(g, c, &rv, 1, &C, 8, 0.5f, 1.5f);
    t_pair_init(g, c, &sm, 1, &C, 9, 0, 1);
    t_pair_init(g, c, &si, 1, &C, 10, 0, 1);
    t_pair_init(g, c, &dg, 1, &C, 11, -1, 1);
    t_pair_init(g, c, &db, 1, &C, 12, -1, 1);
    t_pair_init(g, c, &sc, 1, &two_c, 13, 0, 1);
    char w[96];
    for (int train = 1; train >= 0; train--) {
      T_OK(g, dlc_op_batchnorm_fwd(g, &x.d.t, &gm.d.t, &bt.d.t, &rm.d.t, &rv.d.t, 0.1f, 1e-5f, train, &sm.d.t, &si.d.t, &y.d.t, &sc.d.t));
      T_OK(c, dlc_op_batchnorm_fwd(c, &x.h, &gm.h, &bt.h, &rm.h, &rv.h, 0.1f, 1e-5f, train, &sm.h, &si.h, &y.h, &sc.h));
      snprintf(w, sizeof w, "bn %s shape %d y", train ? "train" : "eval", k); t_pair_check(g, &y, w, 1e-5 * 1e-5, 1e-5);
      snprintf(w, sizeof w, "bn %s shape %d invstd", train ? "train" : "eval", k); t_pair_check(g, &si, w, 1e-5 * 1e-5, 1e-5);
      snprintf(w, sizeof w, "bn %s shape %d running_var", train ? "train" : "eval", k); t_pair_check(g, &rv, w, 1e-5 * 1e-5, 1e-5);
    }
    T_OK(g, dlc_op_batchnorm_fwd(g, &x.d.t, &gm.d.t, &bt.d.t, &rm.d.t, &rv.d.t, 0.1f, 1e-5f, 1, &sm.d.t, &si.d.t, &y.d.t, &sc.d.t));
    T_OK(c, dlc_op_batchnorm_fwd(c, &x.h, &gm.h, &bt.h, &rm.h, &rv.h, 0.1f, 1e-5f, 1, &sm.h, &si.h, &y.h, &sc.h));
    T_OK(g, dlc_op_batchnorm_bwd(g, &x.d.t, &gm.d.t, &sm.d.t, &si.d.t, &dy.d.t, &dx.d.t, &dg.d.t, &db.d.t, &sc.d.t));
    T_OK(c, dlc_op_batchnorm_bwd(c, &x.h, &gm.h, &sm.h, &si.h, &dy.h, &dx.h, &dg.h, &db.h, &sc.h));
    snprintf(w, sizeof w, "bn bwd shape %d dx", k); t_pair_check(g, &dx, w, 1e-4 * 1e-4, 1e-4);
    /* dgamma and dbeta are sums of M = N*S terms of magnitude <= 2 (|dy| <= 1, |xhat| <~ 2),
     * in float on the CPU in an order its vector width decides: a bound that grows with M. */
    double sum_tol = 1e-3 + 1e-6 * (double)(shapes[k][0] * shapes[k][2] * shapes[k][3]);
    snprintf(w, sizeof w, "bn bwd shape %d dgamma", k); t_pair_check(g, &dg, w, 1e-3 * 1e-3, sum_tol);
    snprintf(w, sizeof w, "bn bwd shape %d dbeta", k); t_pair_check(g, &db, w, 1e-3 * 1e-3, sum_tol);
    t_pair *all[] = {&x, &y, &dy, &dx, &gm, &bt, &rm, &rv, &sm, &si, &dg, &db, &sc};
    for (int i = 0; i < 13; i++) t_pair_free(g, c, all[i]);
  }
  T_CHECK(split >= 3, "only %d shapes split their channels among blocks", split);
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_norm");
}
