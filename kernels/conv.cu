/* Convolution kernels: grid-stride loops over the bodies in im2col.h (one thread per output
 * element), and their launchers. The GEMMs between them run through cuBLAS (host/core/gemm.c). */
#include "common.cuh"
#include "im2col.h"

/* i runs in int64 so that i + stride cannot wrap near 2^31; each body takes an int. */
#define DLC_GRID_LOOP(i, n)                                                          \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);          \
       i += (int64_t)gridDim.x * blockDim.x)

__global__ void im2col_kernel(dlc_conv_geom g, const float *x, float *col, int n) {
  DLC_GRID_LOOP(i, n) dlc_im2col_at((int)i, g, x, col);
}

__global__ void im2col_t_kernel(dlc_conv_geom g, const float *x, float *col, int n) {
  DLC_GRID_LOOP(i, n) dlc_im2col_t_at((int)i, g, x, col);
}

__global__ void col2im_kernel(dlc_conv_geom g, const float *col, float *dx, int n) {
  DLC_GRID_LOOP(i, n) dlc_col2im_at((int)i, g, col, dx);
}

__global__ void nchw_to_cnhw_kernel(int N, int C, int P, const float *in, float *out, int n) {
  DLC_GRID_LOOP(i, n) dlc_nchw_to_cnhw_at((int)i, N, C, P, in, out);
}

__global__ void tile_kernel(const float *src, int len, float *out, int n) {
  DLC_GRID_LOOP(i, n) dlc_tile_at((int)i, len, src, out);
}

__global__ void channel_bias_kernel(const float *b, float *y, int C, int P, int n) {
  DLC_GRID_LOOP(i, n) dlc_channel_bias_at((int)i, C, P, b, y);
}

extern "C" int dlc_launch_im2col(int transposed, dlc_conv_geom g, const float *x, float *col,
                                 int n, void *stream) {
  if (n <= 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  if (transposed)
    im2col_t_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, s>>>(g, x, col, n);
  else
    im2col_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, s>>>(g, x, col, n);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_col2im(dlc_conv_geom g, const float *col, float *dx, int n,
                                 void *stream) {
  if (n <= 0) return 0;
  col2im_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(g, col, dx, n);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_nchw_to_cnhw(int N, int C, int P, const float *in, float *out,
                                       void *stream) {
  int n = N * C * P; /* the host keeps a chunk under 2^31 elements */
  if (n <= 0) return 0;
  nchw_to_cnhw_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(N, C, P, in, out, n);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_tile(const float *src, int len, float *out, int n, void *stream) {
  if (n <= 0 || len <= 0) return 0;
  tile_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(src, len, out, n);
  return (int)cudaGetLastError();
}

extern "C" int dlc_launch_channel_bias(const float *b, float *y, int N, int C, int P,
                                       void *stream) {
  int n = N * C * P;
  if (n <= 0) return 0;
  channel_bias_kernel<<<dlc_grid_for(n), DLC_BLOCK, 0, (cudaStream_t)stream>>>(b, y, C, P, n);
  return (int)cudaGetLastError();
}
