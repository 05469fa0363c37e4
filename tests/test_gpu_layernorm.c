/* Layer normalisation on CUDA against the CPU path: forward (output and saved statistics)
 * and backward (dx, dweight, dbias), with and without weight and bias, for rows shorter
 * than a warp, around the block size (255, 256, 257) and longer than several blocks, and
 * row counts from 1 to past the 64 chunks the parameter sums split into. */
#include "dlcuda_ops.h"
#include "testutil.h"

int main(void) {
  dlc_ctx *g = t_gpu_ctx_or_skip(9), *c = t_cpu_ctx(9);
  const int64_t shapes[][2] = {{1, 1},  {3, 7},    {64, 10},  {5, 255},  {33, 256},
                               {2, 257}, {129, 33}, {7, 1000}, {4500, 3}, {3, 5000}}; /* rows R, row length D */
  const int ns = (int)(sizeof shapes / sizeof shapes[0]);
  for (int k = 0; k < ns; k++) {
    int64_t R = shapes[k][0], D = shapes[k][1], xs[2] = {R, D}, scratch = dlc_op_layernorm_scratch_floats(D);
    for (int affine = 1; affine >= 0; affine--) {
      t_pair x, y, dy, dx, w, b, m, r, dw, db, sc;
      t_pair_init(g, c, &x, 2, xs, 1, -3, 5);
      t_pair_init(g, c, &y, 2, xs, 2, 0, 1);
      t_pair_init(g, c, &dy, 2, xs, 3, -1, 1);
      t_pair_init(g, c, &dx, 2, xs, 4, -1, 1);
      t_pair_init(g, c, &w, 1, &D, 5, 0.5f, 1.5f);
      t_pair_init(g, c, &b, 1, &D, 6, -1, 1);
      t_pair_init(g, c, &m, 1, &R, 7, 0, 1);
      t_pair_init(g, c, &r, 1, &R, 8, 0, 1);
      t_pair_init(g, c, &dw, 1, &D, 9, -1, 1);
      t_pair_init(g, c, &db, 1, &D, 10, -1, 1);
      t_pair_init(g, c, &sc, 1, &scratch, 11, 0, 1);
      const dlc_tensor *wg = affine ? &w.d.t : NULL, *bg = affine ? &b.d.t : NULL;
      const dlc_tensor *wc = affine ? &w.h : NULL, *bc = affine ? &b.h : NULL;
      T_OK(g, dlc_op_layernorm_fwd(g, &x.d.t, D, wg, bg, 1e-5f, &y.d.t, &m.d.t, &r.d.t));
      T_OK(c, dlc_op_layernorm_fwd(c, &x.h, D, wc, bc, 1e-5f, &y.h, &m.h, &r.h));
      /* Short rows can have a small spread and so a large 1/std, which scales the errors of
       * rstd and dx (each side's mean and variance round differently). */
      double max_rstd = 1;
      for (int64_t i = 0; i < R; i++) max_rstd = ((float *)r.h.data)[i] > max_rstd ? ((float *)r.h.data)[i] : max_rstd;
      char what[96];
      snprintf(what, sizeof what, "ln R=%lld D=%lld affine=%d y", (long long)R, (long long)D, affine);
      t_pair_check(g, &y, what, 1e-5 * 1e-5, 1e-4);
      snprintf(what, sizeof what, "ln R=%lld D=%lld affine=%d mean", (long long)R, (long long)D, affine);
      t_pair_check(g, &m, what, 1e-5 * 1e-5, 1e-5);
      snprintf(what, sizeof what, "ln R=%lld D=%lld affine=%d rstd", (long long)R, (long long)D, affine);
      t_pair_check(g, &r, what, 1e-5 * 1e-5, 1e-5 * max_rstd);
      T_OK(g, dlc_op_layernorm_bwd(g, &x.d.t, D, wg, &m.d.t, &r.d.t, &dy.d.t, &dx.d.t, affine ? &dw.d.t : NULL,
                                   affine ? &db.d.t : NULL, &sc.d.t));
      T_OK(c, dlc_op_layernorm_bwd(c, &x.h, D, wc, &m.h, &r.h, &dy.h, &dx.h, affine ? &dw.h : NULL,
                                   affine ? &db.h : NULL, NULL));
      snprintf(what, sizeof what, "ln R=%lld D=%lld affine=%d dx", (long long)R, (long long)D, affine);
      t_pair_check(g, &dx, what, 1e-4 * 1e-4, 1e-4 * max_rstd);
      if (affine) {
        /* Column sums of R terms of magnitude <= ~3 (|dy| <= 1, |xhat| <~ 3) in another order
         * on each side: a bound that grows with R. */
        double tol = 1e-4 + 2e-6 * (double)R;
        snprintf(what, sizeof what, "ln R=%lld D=%lld dweight", (long long)R, (long long)D);
        t_pair_check(g, &dw, what, 1e-4 * 1e-4, tol);
        snprintf(what, sizeof what, "ln R=%lld D=%lld dbias", (long long)R, (long long)D);
        t_pair_check(g, &db, what, 1e-4 * 1e-4, tol);
      }
      t_pair *all[] = {&x, &y, &dy, &dx, &w, &b, &m, &r, &dw, &db, &sc};
      for (int i = 0; i < 11; i++) t_pair_free(g, c, all[i]);
    }
  }
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_layernorm");
}
