/* CUDA against the CPU path: activations forward/backward (aligned and not), dense
 * forward/backward for every activation (vector and scalar bias paths), the bias gradient
 * over many rows, and dropout masks bit for bit. Label gpu: exits 77 without a device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};
static const char *act_names[DLC_ACT_COUNT] = {"none", "tanh", "sigmoid", "relu", "leaky"};

static void test_activations(dlc_ctx *g, dlc_ctx *c) {
  for (int k = 0; k < t_num_awkward_sizes; k++)
    for (int a = 0; a < DLC_ACT_COUNT; a++) {
      int64_t n = t_awkward_sizes[k];
      t_pair x, y, dy, dx;
      t_pair_init(g, c, &x, 1, &n, 1 + (uint64_t)k, -4, 4);
      t_pair_init(g, c, &y, 1, &n, 2, -1, 1);
      t_pair_init(g, c, &dy, 1, &n, 3, -1, 1);
      t_pair_init(g, c, &dx, 1, &n, 4, -1, 1);
      T_OK(g, dlc_op_act_fwd(g, (dlc_act)a, 0.1f, &x.d.t, &y.d.t));
      T_OK(c, dlc_op_act_fwd(c, (dlc_act)a, 0.1f, &x.h, &y.h));
      char what[96];
      snprintf(what, sizeof what, "%s fwd n=%lld", act_names[a], (long long)n);
      t_pair_check(g, &y, what, 1e-12, 1e-6);
      T_OK(g, dlc_op_act_bwd(g, (dlc_act)a, 0.1f, &x.d.t, &y.d.t, &dy.d.t, &dx.d.t));
      T_OK(c, dlc_op_act_bwd(c, (dlc_act)a, 0.1f, &x.h, &y.h, &dy.h, &dx.h));
      snprintf(what, sizeof what, "%s bwd n=%lld", act_names[a], (long long)n);
      t_pair_check(g, &dx, what, 1e-12, 1e-6);
      /* Misaligned views (offset by one float) take the scalar path. */
      if (n > 1) {
        int64_t m = n - 1;
        dlc_tensor xv, yv, hx, hy;
        dlc_tensor_borrow(g, &xv, (float *)x.d.t.data + 1, DLC_F32, 1, &m, dlc_ctx_device(g));
        dlc_tensor_borrow(g, &yv, (float *)y.d.t.data + 1, DLC_F32, 1, &m, dlc_ctx_device(g));
        dlc_tensor_borrow(c, &hx, (float *)x.h.data + 1, DLC_F32, 1, &m, cpu);
        dlc_tensor_borrow(c, &hy, (float *)y.h.data + 1, DLC_F32, 1, &m, cpu);
        T_OK(g, dlc_op_act_fwd(g, (dlc_act)a, 0.1f, &xv, &yv));
        T_OK(c, dlc_op_act_fwd(c, (dlc_act)a, 0.1f, &hx, &hy));
        snprintf(what, sizeof what, "%s fwd n=%lld misaligned", act_names[a], (long long)m);
        t_pair_check(g, &y, what, 1e-12, 1e-6);
      }
      t_pair_free(g, c, &x); t_pair_free(g, c, &y); t_pair_free(g, c, &dy); t_pair_free(g, c, &dx);
    }
}

static void test_dense(dlc_ctx *g, dlc_ctx *c) {
  const int64_t dims[][3] = {{1, 1, 1}, {3, 7, 5}, {33, 65, 12}, {257, 129, 10}, {64, 784, 256}};
  for (int d = 0; d < 5; d++)
    for (int a = 0; a < DLC_ACT_COUNT; a++) {
      int64_t n = dims[d][0], fin = dims[d][1], fout = dims[d][2];
      int64_t xs[2] = {n, fin}, ws[2] = {fout, fin}, ys[2] = {n, fout};
      t_pair x, w, b, y, dy, dz, dx, dw, db;
      t_pair_init(g, c, &x, 2, xs, 10, -1, 1);
      t_pair_init(g, c, &w, 2, ws, 11, -0.3f, 0.3f);
      t_pair_init(g, c, &b, 1, &fout, 12, -0.2f, 0.2f);
      t_pair_init(g, c, &y, 2, ys, 13, 0, 1);
      t_pair_init(g, c, &dy, 2, ys, 14, -1, 1);
      t_pair_init(g, c, &dz, 2, ys, 15, 0, 1);
      t_pair_init(g, c, &dx, 2, xs, 16, -1, 1);
      t_pair_init(g, c, &dw, 2, ws, 17, -1, 1);
      t_pair_init(g, c, &db, 1, &fout, 18, -1, 1);
      T_OK(g, dlc_op_dense_fwd(g, &x.d.t, &w.d.t, &b.d.t, (dlc_act)a, 0.1f, &y.d.t));
      T_OK(c, dlc_op_dense_fwd(c, &x.h, &w.h, &b.h, (dlc_act)a, 0.1f, &y.h));
      char what[128];
      snprintf(what, sizeof what, "dense %lldx%lld->%lld %s y", (long long)n, (long long)fin,
               (long long)fout, act_names[a]);
      /* Absolute limits grow with what each output sums (t_sum_tol): y sums fin products
       * (|x| <= 1, |w| <= 0.3) and the bias, dx fout products dz*w, dw n products dz*x, db
       * n values of dz (|dz| <= 1). cuBLAS and OpenBLAS sum in different orders. */
      double tol_y = fmax(1e-5, t_sum_tol(fin + 1, 0.3)), tol_dx = fmax(1e-4, t_sum_tol(fout, 0.3)),
             tol_dw = fmax(1e-4, t_sum_tol(n, 1.0)), tol_db = fmax(1e-4, t_sum_tol(n, 1.0));
      t_pair_check(g, &y, what, 1e-11, tol_y);
      /* Backward from the CPU's y on both, so the comparison isolates backward. */
      t_guarded_upload(g, &y.d, y.h.data);
      T_OK(g, dlc_op_dense_bwd(g, &x.d.t, &w.d.t, &y.d.t, &dy.d.t, (dlc_act)a, 0.1f, &dz.d.t, &dx.d.t, &dw.d.t, &db.d.t));
      T_OK(c, dlc_op_dense_bwd(c, &x.h, &w.h, &y.h, &dy.h, (dlc_act)a, 0.1f, &dz.h, &dx.h, &dw.h, &db.h));
      size_t len = strlen(what);
      what[len - 1] = '\0';
      char w2[140];
      snprintf(w2, sizeof w2, "%sdx", what); t_pair_check(g, &dx, w2, 1e-11, tol_dx);
      snprintf(w2, sizeof w2, "%sdw", what); t_pair_check(g, &dw, w2, 1e-11, tol_dw);
      snprintf(w2, sizeof w2, "%sdb", what); t_pair_check(g, &db, w2, 1e-11, tol_db);
      t_pair *all[] = {&x, &w, &b, &y, &dy, &dz, &dx, &dw, &db};
      for (int k = 0; k < 9; k++) t_pair_free(g, c, all[k]);
    }
}

static void test_bias_grad(dlc_ctx *g, dlc_ctx *c) {
  const int64_t shapes[][2] = {{1, 1}, {7, 33}, {1000, 10}, {65537, 3}, {5, 4097}};
  for (int k = 0; k < 5; k++) {
    t_pair dz, db;
    t_pair_init(g, c, &dz, 2, shapes[k], 20, -1, 1);
    t_pair_init(g, c, &db, 1, &shapes[k][1], 21, -1, 1);
    T_OK(g, dlc_op_bias_grad(g, &dz.d.t, &db.d.t));
    T_OK(c, dlc_op_bias_grad(c, &dz.h, &db.h));
    char what[64];
    snprintf(what, sizeof what, "bias_grad %lldx%lld", (long long)shapes[k][0], (long long)shapes[k][1]);
    t_pair_check(g, &db, what, 1e-11, fmax(1e-3, t_sum_tol(shapes[k][0] + 1, 1.0))); /* n rows of |dz| <= 1 */
    t_pair_free(g, c, &dz); t_pair_free(g, c, &db);
  }
}

static void test_dropout(dlc_ctx *g, dlc_ctx *c) {
  for (int k = 0; k < t_num_awkward_sizes; k++) {
    int64_t n = t_awkward_sizes[k];
    t_pair x, y, dx;
    t_pair_init(g, c, &x, 1, &n, 30, -1, 1);
    t_pair_init(g, c, &y, 1, &n, 31, -1, 1);
    t_pair_init(g, c, &dx, 1, &n, 32, -1, 1);
    dlc_ctx_set_rng_offset(g, 99);
    dlc_ctx_set_rng_offset(c, 99);
    uint64_t og, oc;
    T_OK(g, dlc_op_dropout_fwd(g, 0.37f, 1, &x.d.t, &y.d.t, &og));
    T_OK(c, dlc_op_dropout_fwd(c, 0.37f, 1, &x.h, &y.h, &oc));
    char what[64];
    snprintf(what, sizeof what, "dropout fwd n=%lld", (long long)n);
    t_pair_check(g, &y, what, 0, 0); /* same mask, same products: bit-identical */
    T_OK(g, dlc_op_dropout_bwd(g, 0.37f, og, &x.d.t, &dx.d.t));
    T_OK(c, dlc_op_dropout_bwd(c, 0.37f, oc, &x.h, &dx.h));
    snprintf(what, sizeof what, "dropout bwd n=%lld", (long long)n);
    t_pair_check(g, &dx, what, 1e-13, 1e-6); /* dx + dy * m may fuse into an FMA on the GPU */
    t_pair_free(g, c, &x); t_pair_free(g, c, &y); t_pair_free(g, c, &dx);
  }
}

int main(void) {
  dlc_ctx *g = t_gpu_ctx_or_skip(7), *c = t_cpu_ctx(7);
  test_activations(g, c);
  test_dense(g, c);
  test_bias_grad(g, c);
  test_dropout(g, c);
  T_OK(g, dlc_ctx_synchronize(g));
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_dense");
}
