/* The fused recurrent-cell kernels: one launch per time step does every gate of the cell,
 * forward or backward, over the bodies in rnn_cell.h. One thread per (row, unit), grid-
 * stride; consecutive threads take consecutive units, so the loads of each gate coalesce.
 * MODE is a template constant so the body's mode branches fold away. The arguments are a
 * __grid_constant__ struct: the body takes its address without a per-thread copy. */
#include "common.cuh"
#include "rnn_cell.h"

template <int MODE>
__global__ void rnn_fwd_kernel(const __grid_constant__ dlc_rnn_fwd_args a) {
  int64_t n_items = a.N * a.H, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n_items; i += stride)
    dlc_rnn_fwd_at(MODE, &a, i / a.H, i % a.H);
}

template <int MODE>
__global__ void rnn_bwd_kernel(const __grid_constant__ dlc_rnn_bwd_args a) {
  int64_t n_items = a.N * a.H, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n_items; i += stride)
    dlc_rnn_bwd_at(MODE, &a, i / a.H, i % a.H);
}

#define DLC_RNN_DISPATCH(mode, CALL)                        \
  switch (mode) {                                           \
    case DLC_K_RNN_TANH: CALL(DLC_K_RNN_TANH); break;       \
    case DLC_K_RNN_RELU: CALL(DLC_K_RNN_RELU); break;       \
    case DLC_K_RNN_LSTM: CALL(DLC_K_RNN_LSTM); break;       \
    case DLC_K_RNN_GRU: CALL(DLC_K_RNN_GRU); break;         \
    default: return (int)cudaErrorInvalidValue;             \
  }

extern "C" int dlc_launch_rnn_fwd_step(const dlc_rnn_fwd_args *a, void *stream) {
  int64_t n = a->N * a->H;
  if (n <= 0) return 0;
  unsigned grid = dlc_grid_for(n);
  cudaStream_t s = (cudaStream_t)stream;
#define CALL(M) rnn_fwd_kernel<M><<<grid, DLC_BLOCK, 0, s>>>(*a)
  DLC_RNN_DISPATCH(a->mode, CALL)
#undef CALL
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_rnn_bwd_step(const dlc_rnn_bwd_args *a, void *stream) {
  int64_t n = a->N * a->H;
  if (n <= 0) return 0;
  unsigned grid = dlc_grid_for(n);
  cudaStream_t s = (cudaStream_t)stream;
#define CALL(M) rnn_bwd_kernel<M><<<grid, DLC_BLOCK, 0, s>>>(*a)
  DLC_RNN_DISPATCH(a->mode, CALL)
#undef CALL
  return (int)cudaGetLastError();
}
