/* Per-element bodies of the recurrent cells, forward and backward, shared by the CPU loop
 * and the CUDA kernel. One call handles one (row n, unit j) of one time step: it reads the
 * step's input projection x W_ih^T and recurrent projection h W_hh^T (both computed by
 * GEMMs beforehand), adds the biases, applies every gate of the cell and writes h (and c).
 *
 * PyTorch's equations and gate order, gates stacked along the row ([gates * H] columns):
 *   RNN:  h = act(xp + b_ih + hp + b_hh)                       act = tanh or ReLU
 *   LSTM: i, f, g, o = sig, sig, tanh, sig of (xp + b_ih + hp + b_hh)
 *         c = f * c_prev + i * g,  h = o * tanh(c)
 *   GRU:  r, z = sig(xp + b_ih + hp + b_hh) of gates 0, 1
 *         hn = hp_n + b_hn,  n = tanh(xp_n + b_in + r * hn),  h = (1 - z) * n + z * h_prev
 * A NULL pointer for an optional operand (hp, biases, h_prev, c_prev) reads as zeros. */
#ifndef DLC_RNN_CELL_H
#define DLC_RNN_CELL_H

#include "activation.h"

/* Values match enum dlc_rnn_mode in dlcuda.h. */
enum { DLC_K_RNN_TANH = 0, DLC_K_RNN_RELU, DLC_K_RNN_LSTM, DLC_K_RNN_GRU };

DLC_HD static inline int dlc_rnn_gate_count(int mode) {
  return mode == DLC_K_RNN_LSTM ? 4 : mode == DLC_K_RNN_GRU ? 3 : 1;
}

/* One forward step over N rows of H units. Row n of a [N, G] operand (G = gates * H)
 * starts at n * G unless a row stride (_ld) is given. */
typedef struct dlc_rnn_fwd_args {
  int mode;
  int64_t N, H;
  const float *xp;       /* input projection x W_ih^T, rows of G at stride xp_ld */
  int64_t xp_ld;
  const float *hp;       /* recurrent projection h_prev W_hh^T [N, G], or NULL (h_prev = 0) */
  const float *b_ih;     /* [G] or NULL */
  const float *b_hh;     /* [G] or NULL */
  const float *h_prev;   /* GRU: [N, H], or NULL */
  const float *c_prev;   /* LSTM: [N, H], or NULL */
  float *h;              /* [N, H] */
  float *c;              /* LSTM: [N, H]; may be c_prev itself */
  float *gates;          /* training: the activated gates [N, G], kept for backward; or NULL */
  float *hn;             /* GRU training: W_hn h_prev + b_hn [N, H], or NULL */
  float *y;              /* optional copy of h, rows at stride y_ld */
  int64_t y_ld;
  float *h_last, *c_last; /* optional copies of h and c [N, H] (the final state) */
} dlc_rnn_fwd_args;

/* One backward step. dh, the gradient reaching h_t, is dy + dh_rec. */
typedef struct dlc_rnn_bwd_args {
  int mode;
  int64_t N, H;
  const float *dy;       /* from the layer's output, rows at stride dy_ld, or NULL */
  int64_t dy_ld;
  const float *dh_rec;   /* from step t + 1 (or the final state's gradient) [N, H], or NULL */
  const float *h;        /* RNN: h_t [N, H] */
  const float *gates;    /* LSTM, GRU: the activated gates [N, G] */
  const float *c;        /* LSTM: c_t */
  const float *c_prev;   /* LSTM: c_{t-1}, or NULL */
  const float *dc_in;    /* LSTM: dL/dc_t from step t + 1, or NULL */
  float *dc_prev;        /* LSTM: dL/dc_{t-1} (may be dc_in), or NULL */
  int dc_acc;            /* 1: dc_prev += ..., 0: dc_prev = ... */
  const float *hn;       /* GRU: W_hn h_{t-1} + b_hn */
  const float *h_prev;   /* GRU: h_{t-1}, or NULL */
  float *dh_prev;        /* GRU: the direct part z * dh of dL/dh_{t-1} (may be dh_rec), or NULL */
  int dh_acc;
  float *dgx;            /* dL/d(input-side pre-activations), rows of G at stride dgx_ld */
  int64_t dgx_ld;
  float *dgh;            /* dL/d(recurrent-side pre-activations) [N, G], or NULL when they
                          * equal dgx's and dgx is contiguous (RNN, LSTM) */
} dlc_rnn_bwd_args;

DLC_HD static inline float dlc_sigmoid(float x) { return dlc_act_apply(DLC_K_ACT_SIGMOID, 0.f, x); }

/* Pre-activation halves of gate k at unit j of one row. */
DLC_HD static inline float dlc_rnn_pre_x(const dlc_rnn_fwd_args *a, const float *xp, int64_t k) {
  return xp[k] + (a->b_ih ? a->b_ih[k] : 0.f);
}
DLC_HD static inline float dlc_rnn_pre_h(const dlc_rnn_fwd_args *a, const float *hp, int64_t k) {
  return (hp ? hp[k] : 0.f) + (a->b_hh ? a->b_hh[k] : 0.f);
}

DLC_HD static inline void dlc_rnn_fwd_at(int mode, const dlc_rnn_fwd_args *a, int64_t n,
                                         int64_t j) {
  const int64_t H = a->H, G = dlc_rnn_gate_count(mode) * H, o = n * H + j;
  const float *xp = a->xp + n * a->xp_ld;
  const float *hp = a->hp ? a->hp + n * G : NULL;
  float *gs = a->gates ? a->gates + n * G : NULL;
  float h;
  if (mode == DLC_K_RNN_LSTM) {
    float gi = dlc_sigmoid(dlc_rnn_pre_x(a, xp, j) + dlc_rnn_pre_h(a, hp, j));
    float gf = dlc_sigmoid(dlc_rnn_pre_x(a, xp, H + j) + dlc_rnn_pre_h(a, hp, H + j));
    float gg = dlc_tanh(dlc_rnn_pre_x(a, xp, 2 * H + j) + dlc_rnn_pre_h(a, hp, 2 * H + j));
    float go = dlc_sigmoid(dlc_rnn_pre_x(a, xp, 3 * H + j) + dlc_rnn_pre_h(a, hp, 3 * H + j));
    float cp = a->c_prev ? a->c_prev[o] : 0.f;
    float c = gf * cp + gi * gg;
    h = go * dlc_tanh(c);
    a->c[o] = c;
    if (a->c_last) a->c_last[o] = c;
    if (gs) {
      gs[j] = gi;
      gs[H + j] = gf;
      gs[2 * H + j] = gg;
      gs[3 * H + j] = go;
    }
  } else if (mode == DLC_K_RNN_GRU) {
    float r = dlc_sigmoid(dlc_rnn_pre_x(a, xp, j) + dlc_rnn_pre_h(a, hp, j));
    float z = dlc_sigmoid(dlc_rnn_pre_x(a, xp, H + j) + dlc_rnn_pre_h(a, hp, H + j));
    float hn = dlc_rnn_pre_h(a, hp, 2 * H + j);
    float nn = dlc_tanh(dlc_rnn_pre_x(a, xp, 2 * H + j) + r * hn);
    float hprev = a->h_prev ? a->h_prev[o] : 0.f;
    h = (1.f - z) * nn + z * hprev;
    if (gs) {
      gs[j] = r;
      gs[H + j] = z;
      gs[2 * H + j] = nn;
    }
    if (a->hn) a->hn[o] = hn;
  } else {
    float pre = dlc_rnn_pre_x(a, xp, j) + dlc_rnn_pre_h(a, hp, j);
    h = dlc_act_apply(mode == DLC_K_RNN_RELU ? DLC_K_ACT_RELU : DLC_K_ACT_TANH, 0.f, pre);
  }
  a->h[o] = h;
  if (a->y) a->y[n * a->y_ld + j] = h;
  if (a->h_last) a->h_last[o] = h;
}

/* Backward of one (n, j). Operands that alias (dh_prev and dh_rec, dc_prev and dc_in) are
 * read before they are written, by the same call, so in-place use is safe. */
DLC_HD static inline void dlc_rnn_bwd_at(int mode, const dlc_rnn_bwd_args *a, int64_t n,
                                         int64_t j) {
  const int64_t H = a->H, G = dlc_rnn_gate_count(mode) * H, o = n * H + j;
  float dh = (a->dy ? a->dy[n * a->dy_ld + j] : 0.f) + (a->dh_rec ? a->dh_rec[o] : 0.f);
  float *dgx = a->dgx + n * a->dgx_ld;
  float *dgh = a->dgh ? a->dgh + n * G : NULL;
  if (mode == DLC_K_RNN_LSTM) {
    const float *gs = a->gates + n * G;
    float gi = gs[j], gf = gs[H + j], gg = gs[2 * H + j], go = gs[3 * H + j];
    float tc = dlc_tanh(a->c[o]);
    float dc = (a->dc_in ? a->dc_in[o] : 0.f) + dh * go * (1.f - tc * tc);
    float cp = a->c_prev ? a->c_prev[o] : 0.f;
    float di = dc * gg * gi * (1.f - gi);
    float df = dc * cp * gf * (1.f - gf);
    float dg = dc * gi * (1.f - gg * gg);
    float d_o = dh * tc * go * (1.f - go);
    if (a->dc_prev) a->dc_prev[o] = (a->dc_acc ? a->dc_prev[o] : 0.f) + dc * gf;
    dgx[j] = di;
    dgx[H + j] = df;
    dgx[2 * H + j] = dg;
    dgx[3 * H + j] = d_o;
    if (dgh) {
      dgh[j] = di;
      dgh[H + j] = df;
      dgh[2 * H + j] = dg;
      dgh[3 * H + j] = d_o;
    }
  } else if (mode == DLC_K_RNN_GRU) {
    const float *gs = a->gates + n * G;
    float r = gs[j], z = gs[H + j], nn = gs[2 * H + j];
    float hprev = a->h_prev ? a->h_prev[o] : 0.f;
    float dpre_n = dh * (1.f - z) * (1.f - nn * nn);
    float dpre_z = dh * (hprev - nn) * z * (1.f - z);
    float dpre_r = dpre_n * a->hn[o] * r * (1.f - r);
    if (a->dh_prev) a->dh_prev[o] = (a->dh_acc ? a->dh_prev[o] : 0.f) + dh * z;
    dgx[j] = dpre_r;
    dgx[H + j] = dpre_z;
    dgx[2 * H + j] = dpre_n;
    dgh[j] = dpre_r;
    dgh[H + j] = dpre_z;
    dgh[2 * H + j] = dpre_n * r;
  } else {
    /* relu' from the output: h > 0 exactly when the pre-activation is. */
    float hv = a->h[o];
    float dpre = dh * dlc_act_grad(mode == DLC_K_RNN_RELU ? DLC_K_ACT_RELU : DLC_K_ACT_TANH, 0.f,
                                   hv, hv);
    dgx[j] = dpre;
    if (dgh) dgh[j] = dpre;
  }
}

/* ---- launchers: the extern "C" entry points of the .cu file; each returns the launch's
 * cudaError_t as an int (0 on success); `stream` is a cudaStream_t. Host code calls them
 * through DLC_LAUNCH, which in a build without CUDA type-checks a call without making it. */
#ifdef __cplusplus
extern "C" {
#endif

/* One time step of a recurrent layer, every gate fused (rnn_cell.h); the arguments are the
 * structs defined there. */
struct dlc_rnn_fwd_args;
struct dlc_rnn_bwd_args;
int dlc_launch_rnn_fwd_step(const struct dlc_rnn_fwd_args *a, void *stream);
int dlc_launch_rnn_bwd_step(const struct dlc_rnn_bwd_args *a, void *stream);

#ifdef __cplusplus
}
#endif

#endif
