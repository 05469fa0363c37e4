/* Softmax cross-entropy with integer labels (PyTorch's nn.CrossEntropyLoss).
 *
 * Forward: the log-softmax row kernels of softmax_rows.cuh with XENT on write logp, each
 * row's label weight and loss; the loss is then summed deterministically (loss_sum.cuh).
 * A small problem (C <= 1024, rows * C <= DLC_XENT_SMALL) runs as one block that also
 * reduces the loss: a single launch, no scratch.
 *
 * Backward: one elementwise pass, dlogits += dlc_xent_grad(...). Its coefficients need the
 * summed row weights (MEAN) and the summed class weights: a small problem reduces them in
 * its one block, a large one in a preceding one-block kernel (dlc_loss_sum). */
#include "loss_sum.cuh"
#include "softmax_rows.cuh"

#define DLC_XENT_SMALL 32768 /* rows * C done by a single block */
#define DLC_XENT_BWD_THREADS 256

static int dlc_xent_fwd_single(int64_t rows, int64_t C) {
  return C <= DLC_SOFTMAX_WARP_MAX && rows * C <= DLC_XENT_SMALL;
}

static int dlc_xent_bwd_single(int64_t rows, int64_t C) { return rows * C <= DLC_XENT_SMALL; }

size_t dlc_xent_fwd_scratch_bytes(int64_t rows, int64_t C) {
  if (rows <= 0 || C <= 0 || dlc_xent_fwd_single(rows, C)) return 0;
  return dlc_scratch_align((size_t)rows * sizeof(float)) + dlc_loss_sum_scratch_bytes(rows);
}

extern "C" int dlc_launch_xent_fwd(dlc_xent_params p, const float *logits, float *logp,
                                   float *row_w, float *loss, int64_t rows, int64_t C,
                                   void *scratch, void *stream) {
  cudaStream_t st = (cudaStream_t)stream;
  if (rows <= 0 || C <= 0) return (int)cudaErrorInvalidValue;
  dlc_xent_rows_out xo;
  xo.p = p;
  xo.row_w = row_w;
  if (dlc_xent_fwd_single(rows, C)) {
    xo.row_loss = NULL;
    xo.loss = loss;
    return (int)dlc_softmax_fwd_rows<true>(logits, logp, rows, C, 1, xo, 1, st);
  }
  if (!scratch) return (int)cudaErrorInvalidValue;
  xo.row_loss = (float *)scratch;
  xo.loss = NULL;
  cudaError_t e = dlc_softmax_fwd_rows<true>(logits, logp, rows, C, 1, xo, 0, st);
  if (e != cudaSuccess) return (int)e;
  dlc_finish_args f;
  memset(&f, 0, sizeof f);
  f.kind = DLC_FINISH_XENT;
  f.mean = p.mean;
  void *sum_scratch = (char *)scratch + dlc_scratch_align((size_t)rows * sizeof(float));
  return (int)dlc_loss_sum(DLC_SUM_PAIR, xo.row_loss, row_w, rows, f, loss, sum_scratch, st);
}

/* ------------------------------------------------------------------ backward */

/* Packs of VEC logits (VEC divides C, so a pack never straddles rows). coef holds a, b, W
 * (dlc_xent_grad); when it is NULL the kernel runs as one block and reduces them first. */
template <int VEC>
__global__ void __launch_bounds__(DLC_XENT_BWD_THREADS)
    dlc_xent_bwd_kernel(dlc_xent_params p, const float *logp, const float *row_w, float dloss,
                        float *dlogits, int64_t rows, int C, const float *coef) {
  __shared__ float red[32];
  float a, b, W;
  if (coef) {
    a = coef[0];
    b = coef[1];
    W = coef[2];
  } else {
    /* Small problems: fixed-order sums in this one block (float per thread, fine for the
     * at most DLC_XENT_SMALL terms here). */
    float den = 0.f, wsum = 0.f;
    for (int64_t i = threadIdx.x; i < rows; i += DLC_XENT_BWD_THREADS) den += row_w[i];
    for (int c = threadIdx.x; c < C; c += DLC_XENT_BWD_THREADS)
      wsum += p.class_w ? p.class_w[c] : 1.f;
    den = dlc_block_sum<DLC_XENT_BWD_THREADS>(den, red);
    wsum = dlc_block_sum<DLC_XENT_BWD_THREADS>(wsum, red);
    dlc_xent_coefs(dloss, p.eps, C, (double)den, p.mean, &a, &b);
    W = wsum;
  }
  const int cpacks = C / VEC;
  const int64_t packs = rows * cpacks;
  const int small = packs <= (int64_t)UINT32_MAX; /* 32-bit division is several times cheaper */
  const int64_t stride = (int64_t)gridDim.x * DLC_XENT_BWD_THREADS;
  for (int64_t i = (int64_t)blockIdx.x * DLC_XENT_BWD_THREADS + threadIdx.x; i < packs;
       i += stride) {
    const int64_t r = small ? (int64_t)((uint32_t)i / (uint32_t)cpacks) : i / cpacks;
    const int c0 = (int)(i - r * cpacks) * VEC;
    const int t = p.labels[r];
    if (t == p.ignore_index) continue; /* ignored rows have no gradient */
    const float wt = row_w[r];
    float lp[VEC], d[VEC];
    dlc_vload<VEC>(lp, logp + r * C + c0);
    dlc_vload<VEC>(d, dlogits + r * C + c0);
#pragma unroll
    for (int j = 0; j < VEC; j++) {
      const int c = c0 + j;
      d[j] = dlc_xent_grad(lp[j], c == t, wt, p.class_w ? p.class_w[c] : 1.f, W, a, b, d[j]);
    }
    dlc_vstore<VEC>(dlogits + r * C + c0, d);
  }
}

size_t dlc_xent_bwd_scratch_bytes(int64_t rows, int64_t C) {
  if (rows <= 0 || C <= 0 || dlc_xent_bwd_single(rows, C)) return 0;
  return dlc_scratch_align(4 * sizeof(float)) + dlc_loss_sum_scratch_bytes(rows);
}

template <int VEC>
static cudaError_t dlc_xent_bwd_launch(dlc_xent_params p, const float *logp, const float *row_w,
                                       float dloss, float *dlogits, int64_t rows, int C,
                                       const float *coef, cudaStream_t st) {
  const unsigned grid = coef ? dlc_grid_for(rows * (C / VEC)) : 1;
  dlc_xent_bwd_kernel<VEC>
      <<<grid, DLC_XENT_BWD_THREADS, 0, st>>>(p, logp, row_w, dloss, dlogits, rows, C, coef);
  return cudaGetLastError();
}

extern "C" int dlc_launch_xent_bwd(dlc_xent_params p, const float *logp, const float *row_w,
                                   float dloss, float *dlogits, int64_t rows, int64_t C,
                                   void *scratch, void *stream) {
  cudaStream_t st = (cudaStream_t)stream;
  if (rows <= 0 || C <= 0 || C > INT_MAX) return (int)cudaErrorInvalidValue;
  const float *coef = NULL;
  if (!dlc_xent_bwd_single(rows, C)) {
    if (!scratch) return (int)cudaErrorInvalidValue;
    dlc_finish_args f;
    f.kind = DLC_FINISH_XENT_COEF;
    f.mean = p.mean;
    f.dloss = dloss;
    f.eps = p.eps;
    f.C = C;
    f.class_w = p.class_w;
    float *c = (float *)scratch;
    void *sum_scratch = (char *)scratch + dlc_scratch_align(4 * sizeof(float));
    cudaError_t e = dlc_loss_sum(DLC_SUM_ONE, row_w, NULL, rows, f, c, sum_scratch, st);
    if (e != cudaSuccess) return (int)e;
    coef = c;
  }
  const int vec = dlc_softmax_vec(C, logp, dlogits, dlogits);
  if (vec == 4) return (int)dlc_xent_bwd_launch<4>(p, logp, row_w, dloss, dlogits, rows, (int)C, coef, st);
  if (vec == 2) return (int)dlc_xent_bwd_launch<2>(p, logp, row_w, dloss, dlogits, rows, (int)C, coef, st);
  return (int)dlc_xent_bwd_launch<1>(p, logp, row_w, dloss, dlogits, rows, (int)C, coef, st);
}
