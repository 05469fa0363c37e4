/* Pooling on CUDA against the CPU path over awkward shapes: max (values and argmax bit for
 * bit), average both ways, ceil_mode, padding, global average over short planes (a warp
 * each) and long ones (a block each), with guarded and NaN-poisoned device buffers.
 * Label gpu: exits 77 without a device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "testutil.h"

static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

typedef struct pool_case {
  dlc_pool_mode mode;
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw;
  int ceil_mode, count_include_pad;
} pool_case;

static const pool_case cases[] = {
    {DLC_POOL_MAX, 2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 0, 1},
    {DLC_POOL_MAX, 33, 7, 31, 29, 3, 3, 2, 2, 1, 1, 1, 1},
    {DLC_POOL_MAX, 3, 5, 17, 13, 3, 2, 1, 3, 1, 1, 1, 1},
    {DLC_POOL_MAX, 8, 64, 112, 112, 3, 3, 2, 2, 1, 1, 0, 1}, /* a ResNet stem */
    {DLC_POOL_MAX, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1},
    {DLC_POOL_AVG, 33, 7, 31, 29, 3, 3, 2, 2, 1, 1, 1, 1},
    {DLC_POOL_AVG, 33, 7, 31, 29, 3, 3, 2, 2, 1, 1, 1, 0},
    {DLC_POOL_AVG, 4, 16, 32, 32, 2, 2, 2, 2, 0, 0, 0, 1},
    {DLC_POOL_AVG, 3, 5, 17, 13, 5, 4, 3, 2, 2, 2, 1, 0},
    /* Windows that tile the input (the CPU's row loops), with rows and columns left over. */
    {DLC_POOL_MAX, 3, 4, 15, 13, 2, 2, 2, 2, 0, 0, 0, 1},
    {DLC_POOL_AVG, 3, 4, 15, 13, 3, 3, 3, 3, 0, 0, 0, 1},
    {DLC_POOL_AVG, 2, 3, 9, 10, 2, 3, 2, 3, 0, 0, 0, 0},
    {DLC_POOL_GLOBAL_AVG, 32, 512, 7, 7, 0, 0, 0, 0, 0, 0, 0, 1},
    {DLC_POOL_GLOBAL_AVG, 3, 5, 71, 67, 0, 0, 0, 0, 0, 0, 0, 1},
    {DLC_POOL_GLOBAL_AVG, 2, 3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1},
};

/* A guarded float buffer viewed as int32 (same element size). */
static int view_i32(dlc_ctx *g, t_guarded *gd, dlc_tensor *out) {
  return dlc_tensor_borrow(g, out, gd->t.data, DLC_I32, gd->t.ndim, gd->t.shape,
                           dlc_ctx_device(g)) == DLC_OK;
}

int main(void) {
  dlc_ctx *g = t_gpu_ctx_or_skip(9), *c = t_cpu_ctx(9);
  for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
    const pool_case *q = &cases[k];
    dlc_pool2d_params p = dlc_pool2d_params_make(q->mode, q->kh, q->kw);
    p.stride_h = q->sh; p.stride_w = q->sw;
    p.pad_h = q->ph; p.pad_w = q->pw;
    p.ceil_mode = q->ceil_mode;
    p.count_include_pad = q->count_include_pad;
    dlc_pool2d_state s;
    T_OK(c, dlc_pool2d_init(c, &s, &p, q->c, q->h, q->w));
    int64_t xs[4] = {q->n, q->c, q->h, q->w}, ys[4] = {q->n, q->c, s.out_h, s.out_w};
    dlc_tensor hx, hy, hdy, hdx, ham;
    dlc_tensor_alloc(c, &hx, DLC_F32, 4, xs, cpu);
    dlc_tensor_alloc(c, &hdx, DLC_F32, 4, xs, cpu);
    dlc_tensor_alloc(c, &hy, DLC_F32, 4, ys, cpu);
    dlc_tensor_alloc(c, &hdy, DLC_F32, 4, ys, cpu);
    dlc_tensor_alloc(c, &ham, DLC_I32, 4, ys, cpu);
    t_fill_uniform(hx.data, hx.numel, 10 + (uint64_t)k, -2, 2);
    t_fill_uniform(hdy.data, hdy.numel, 11, -1, 1);
    t_fill_uniform(hdx.data, hdx.numel, 12, -1, 1);
    /* Ties and NaN: max must pick the same element on both devices. */
    if (q->mode == DLC_POOL_MAX && hx.numel > 40) {
      float *x = hx.data;
      for (int64_t i = 0; i < hx.numel; i += 37) x[i] = 1.5f;
      x[5] = NAN;
      x[hx.numel - 3] = -INFINITY;
    }
    t_guarded x, y, dy, dx, am;
    T_CHECK(t_guarded_alloc(g, &x, 4, xs) && t_guarded_alloc(g, &dx, 4, xs) &&
                t_guarded_alloc(g, &y, 4, ys) && t_guarded_alloc(g, &dy, 4, ys) &&
                t_guarded_alloc(g, &am, 4, ys),
            "device alloc: %s", dlc_ctx_error(g));
    t_guarded_upload(g, &x, hx.data);
    t_guarded_upload(g, &dy, hdy.data);
    t_guarded_upload(g, &dx, hdx.data);
    dlc_tensor amv;
    view_i32(g, &am, &amv);
    int max = q->mode == DLC_POOL_MAX;
    T_OK(g, dlc_pool2d_forward(g, &s, &x.t, &y.t, max ? &amv : NULL));
    T_OK(c, dlc_pool2d_forward(c, &s, &hx, &hy, max ? &ham : NULL));
    char what[128];
    snprintf(what, sizeof what, "pool %d mode %d [%lld,%lld,%lld,%lld] y", k, (int)q->mode,
             (long long)q->n, (long long)q->c, (long long)q->h, (long long)q->w);
    float *back = malloc(hdx.nbytes > hy.nbytes ? hdx.nbytes : hy.nbytes);
    /* Window sums and maxima run in the same order on both devices: exact; the global
     * mean is a float tree against a double sum. */
    int global = q->mode == DLC_POOL_GLOBAL_AVG;
    if (t_guarded_download(g, &y, back, what))
      t_parity(what, hy.data, back, hy.numel, global ? 1e-12 : 0, global ? 1e-6 : 0);
    if (max && t_guarded_download(g, &am, back, "argmax")) {
      int64_t wrong = 0;
      for (int64_t i = 0; i < ham.numel; i++) {
        int32_t v;
        memcpy(&v, &back[i], 4);
        wrong += v != ((int32_t *)ham.data)[i];
      }
      T_CHECK(wrong == 0, "%s: %lld argmax entries differ", what, (long long)wrong);
      /* Backward from the same argmax on both sides. */
    }
    T_OK(g, dlc_pool2d_backward(g, &s, &dy.t, max ? &amv : NULL, &dx.t));
    T_OK(c, dlc_pool2d_backward(c, &s, &hdy, max ? &ham : NULL, &hdx));
    snprintf(what, sizeof what, "pool %d mode %d dx (accumulated)", k, (int)q->mode);
    if (t_guarded_download(g, &dx, back, what)) t_parity(what, hdx.data, back, hdx.numel, 0, 0);
    free(back);
    t_guarded_free(g, &x); t_guarded_free(g, &y); t_guarded_free(g, &dy);
    t_guarded_free(g, &dx); t_guarded_free(g, &am);
    dlc_tensor *all[] = {&hx, &hy, &hdy, &hdx, &ham};
    for (int i = 0; i < 5; i++) dlc_tensor_free(c, all[i]);
  }
  T_OK(g, dlc_ctx_synchronize(g));
  dlc_ctx_destroy(g);
  dlc_ctx_destroy(c);
  return t_finish("test_gpu_pool");
}
