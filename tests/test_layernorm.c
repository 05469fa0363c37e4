/* Layer normalisation against nn.LayerNorm over the last 1, 2 and 3 dimensions, with and
 * without weight and bias (output, input, weight and bias gradients), finite-difference
 * gradients, bad shapes, and a [layernorm] network with PyTorch's weights and outputs. */
#include <stdlib.h>
#include <string.h>

#include "dlcuda_ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

static dlc_tensor zeros(dlc_ctx *ctx, int ndim, const int64_t *shape) {
  dlc_tensor z;
  dlc_tensor_alloc(ctx, &z, DLC_F32, ndim, shape, cpu);
  dlc_op_fill(ctx, &z, 0.f);
  return z;
}

static void fixture_case(dlc_ctx *ctx, const char *tag, int dims, int affine) {
  const char *names[] = {"x", "y", "dy", "dx", "weight", "bias", "dweight", "dbias"};
  dlc_tensor t[8];
  memset(t, 0, sizeof t);
  for (int k = 0; k < (affine ? 8 : 4); k++) {
    char p[96];
    snprintf(p, sizeof p, "layernorm/%s_%s.npy", tag, names[k]);
    if (!t_fixture(ctx, p, &t[k])) return;
  }
  int64_t D = 1;
  for (int i = t[0].ndim - dims; i < t[0].ndim; i++) D *= t[0].shape[i];
  int64_t R = t[0].numel / D;
  dlc_tensor y = zeros(ctx, t[0].ndim, t[0].shape), dx = zeros(ctx, t[0].ndim, t[0].shape), m = zeros(ctx, 1, &R),
             r = zeros(ctx, 1, &R), dw = zeros(ctx, 1, &D), db = zeros(ctx, 1, &D);
  const dlc_tensor *w = affine ? &t[4] : NULL, *b = affine ? &t[5] : NULL;
  char what[96];
  T_OK(ctx, dlc_op_layernorm_fwd(ctx, &t[0], D, w, b, 1e-5f, &y, &m, &r));
  snprintf(what, sizeof what, "%s y", tag);
  t_parity(what, t[1].data, y.data, y.numel, 1e-12, 1e-5);
  T_OK(ctx, dlc_op_layernorm_bwd(ctx, &t[0], D, w, &m, &r, &t[2], &dx, affine ? &dw : NULL, affine ? &db : NULL, NULL));
  snprintf(what, sizeof what, "%s dx", tag);
  t_parity(what, t[3].data, dx.data, dx.numel, 1e-11, 1e-5);
  if (affine) {
    /* Sums over R rows of terms of magnitude ~ |dy| |xhat| <= ~6: bound grows with R. */
    double tol = 1e-5 * (double)R;
    snprintf(what, sizeof what, "%s dweight", tag);
    t_parity(what, t[6].data, dw.data, D, 1e-10, tol);
    snprintf(what, sizeof what, "%s dbias", tag);
    t_parity(what, t[7].data, db.data, D, 1e-10, tol);
  }
  dlc_tensor *all[] = {&y, &dx, &m, &r, &dw, &db};
  for (int k = 0; k < 6; k++) dlc_tensor_free(ctx, all[k]);
  for (int k = 0; k < 8; k++) dlc_tensor_free(ctx, &t[k]);
}

/* loss = sum(c .* layernorm(x)) */
typedef struct ln_case {
  dlc_ctx *ctx;
  int64_t D;
  dlc_tensor x, w, b, m, r, y, c;
} ln_case;

static double ln_loss(void *u) {
  ln_case *k = u;
  dlc_op_layernorm_fwd(k->ctx, &k->x, k->D, &k->w, &k->b, 1e-5f, &k->y, &k->m, &k->r);
  double s = 0;
  for (int64_t i = 0; i < k->y.numel; i++) s += (double)((float *)k->c.data)[i] * ((float *)k->y.data)[i];
  return s;
}

static void gradcheck(dlc_ctx *ctx) {
  int64_t xs[3] = {3, 2, 5}, D = 5, R = 6;
  ln_case k;
  k.ctx = ctx;
  k.D = D;
  k.x = zeros(ctx, 3, xs);
  k.y = zeros(ctx, 3, xs);
  k.c = zeros(ctx, 3, xs);
  k.w = zeros(ctx, 1, &D);
  k.b = zeros(ctx, 1, &D);
  k.m = zeros(ctx, 1, &R);
  k.r = zeros(ctx, 1, &R);
  t_fill_uniform(k.x.data, k.x.numel, 1, -2, 2);
  t_fill_uniform(k.c.data, k.c.numel, 2, -1, 1);
  t_fill_uniform(k.w.data, D, 3, 0.5f, 1.5f);
  t_fill_uniform(k.b.data, D, 4, -1, 1);
  dlc_tensor dx = zeros(ctx, 3, xs), dw = zeros(ctx, 1, &D), db = zeros(ctx, 1, &D);
  ln_loss(&k);
  T_OK(ctx, dlc_op_layernorm_bwd(ctx, &k.x, D, &k.w, &k.m, &k.r, &k.c, &dx, &dw, &db, NULL));
  t_gradcheck("layernorm dx", k.x.data, dx.data, k.x.numel, ln_loss, &k, 1e-2, 3e-3, 2e-4, 30);
  t_gradcheck("layernorm dweight", k.w.data, dw.data, D, ln_loss, &k, 1e-2, 2e-3, 1e-4, 5);
  t_gradcheck("layernorm dbias", k.b.data, db.data, D, ln_loss, &k, 1e-2, 2e-3, 1e-4, 5);
  /* Shapes that do not fit. */
  T_FAILS(ctx, DLC_ERR_SHAPE, "does not split into rows of 7", dlc_op_layernorm_fwd(ctx, &k.x, 7, NULL, NULL, 1e-5f, &k.y, &k.m, &k.r));
  T_FAILS(ctx, DLC_ERR_SHAPE, "weight must hold 5 floats", dlc_op_layernorm_fwd(ctx, &k.x, 5, &k.m, NULL, 1e-5f, &k.y, &k.m, &k.r));
  T_FAILS(ctx, DLC_ERR_SHAPE, "save_mean must hold 6 floats", dlc_op_layernorm_fwd(ctx, &k.x, 5, NULL, NULL, 1e-5f, &k.y, &k.w, &k.r));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "eps", dlc_op_layernorm_fwd(ctx, &k.x, 5, NULL, NULL, 0.f, &k.y, &k.m, &k.r));
  dlc_tensor *all[] = {&k.x, &k.y, &k.c, &k.w, &k.b, &k.m, &k.r, &dx, &dw, &db};
  for (int i = 0; i < 10; i++) dlc_tensor_free(ctx, all[i]);
}

/* The [layernorm] section in a network: PyTorch's parameters under their state_dict names,
 * the same output; a layernorm's own errors name it. */
static void network(dlc_ctx *ctx) {
  dlc_net *net = NULL;
  dlc_train_config cfg;
  T_OK(ctx, dlc_model_load(ctx, DLC_FIXTURE_DIR "/layernorm/net.cfg", 8, &net, &cfg));
  if (!net) return;
  int n = dlc_net_tensor_count(net);
  T_CHECK(n == 6, "the network has %d tensors, not 6", n);
  for (int k = 0; k < n; k++) {
    char name[64], p[128];
    dlc_tensor v, src;
    int buffer;
    T_OK(ctx, dlc_net_tensor(net, k, name, sizeof name, &v, NULL, &buffer));
    snprintf(p, sizeof p, "layernorm/net_%s.npy", name);
    if (!t_fixture(ctx, p, &src)) continue;
    T_CHECK(src.numel == v.numel, "%s: %lld values, PyTorch's %lld", name, (long long)v.numel, (long long)src.numel);
    if (src.numel == v.numel) {
      src.ndim = v.ndim;
      memcpy(src.shape, v.shape, sizeof src.shape);
      T_OK(ctx, dlc_tensor_copy(ctx, &v, &src));
    }
    dlc_tensor_free(ctx, &src);
  }
  dlc_tensor x, want, y;
  if (t_fixture(ctx, "layernorm/net_x.npy", &x) && t_fixture(ctx, "layernorm/net_y.npy", &want)) {
    T_OK(ctx, dlc_net_forward(net, &x, 0, &y));
    t_parity("[layernorm] network output", want.data, y.data, want.numel, 1e-11, 1e-5);
    dlc_tensor_free(ctx, &x);
    dlc_tensor_free(ctx, &want);
  }
  dlc_net_destroy(net);
  int64_t in[1] = {8};
  T_OK(ctx, dlc_net_create(ctx, 1, in, 4, &net));
  T_FAILS(ctx, DLC_ERR_SHAPE, "dims = 2", dlc_net_add_layernorm(net, "ln", 2, 1e-5f, 1));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "eps", dlc_net_add_layernorm(net, "ln", 1, -1.f, 1));
  dlc_net_destroy(net);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(1);
  fixture_case(ctx, "last1", 1, 1);
  fixture_case(ctx, "last1_seq", 1, 1);
  fixture_case(ctx, "last3", 3, 1);
  fixture_case(ctx, "last2_plain", 2, 0);
  gradcheck(ctx);
  network(ctx);
  dlc_ctx_destroy(ctx);
  return t_finish("test_layernorm");
}
