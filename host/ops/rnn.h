/* Recurrent layers inside the library: the public part (descriptions, state, parameters,
 * buffer sizes, forward and backward) is in dlcuda_ops.h; here the buffer plan the sizing
 * queries and the ops share. */
#ifndef DLC_RNN_H
#define DLC_RNN_H

#include "core/internal.h"
#include "dlcuda_ops.h"

/* ---- the buffer plan shared by the sizing queries and the ops (offsets in floats, each
 * sub-buffer starting on a 256-byte boundary; -1 where absent) */
typedef struct dlc_rnn_plan {
  int64_t T, N, H, G;
  /* reserve, layer l at l * res_layer */
  int64_t res_h;     /* [T, N, H] the layer's output */
  int64_t res_gates; /* [T, N, G] LSTM, GRU */
  int64_t res_aux;   /* [T, N, H] LSTM c, GRU W_hn h + b_hn */
  int64_t res_layer, res_floats;
  /* workspace, forward */
  int64_t ws_xproj;  /* [T, N, G] input projection of one layer */
  int64_t ws_hproj;  /* [N, G] recurrent projection of one step */
  int64_t ws_seq;    /* inference: [T, N, H] the layer's output (overwriting its input) */
  int64_t ws_c;      /* inference, LSTM: [N, H] c, updated in place */
  /* workspace, backward (overlapping the forward's: they are not live at once) */
  int64_t ws_dgx;    /* [T, N, G] gradient of the input-side pre-activations */
  int64_t ws_dgh;    /* [T, N, G] recurrent-side, time-major: GRU, or batch_first */
  int64_t ws_dseq;   /* [T, N, H] gradient reaching the layer below's output (L > 1) */
  int64_t ws_dh;     /* [N, H] gradient reaching h_{t-1} through the recurrence */
  int64_t ws_dc;     /* [N, H] LSTM gradient reaching c_{t-1} */
  int64_t ws_floats;
} dlc_rnn_plan;

dlc_status dlc_rnn_plan_make(dlc_ctx *ctx, const dlc_rnn_state *s, int64_t T, int64_t N,
                             int train, dlc_rnn_plan *p);

#endif
