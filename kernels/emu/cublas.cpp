/* The emulated device's cuBLAS: the entry points libdlcuda calls, defined against the
 * toolkit's cublas_api.h and served by a column-major CBLAS (OpenBLAS), queued on the
 * handle's stream like the real calls. Arguments are checked as cuBLAS checks them
 * (CUBLAS_STATUS_INVALID_VALUE for a negative size or a leading dimension below its
 * minimum), and every matrix a call touches must lie inside one device allocation: a GEMM
 * whose operands or leading dimensions reach past a buffer faults (sticky), as it would
 * read or write out of bounds on a GPU. host/core/gemm.c's row-major to column-major mapping
 * therefore runs exactly as on a GPU. TF32 math mode is accepted and computed in full
 * fp32 (a tolerance written for TF32 still holds). */
#include "exec.h"

#include <cublas_api.h>
#include <cblas.h>

#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <mutex>
#include <string>

namespace dlc_emu {
void enqueue_on(cudaStream_t stream, std::function<void()> op);
bool stream_valid(cudaStream_t stream);
bool device_range(const void *p, size_t n);
void fault(const std::string &msg);
std::recursive_mutex &runtime_mutex();
bool faulted();
} /* namespace dlc_emu */

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
  void *workspace = nullptr;
  size_t workspace_bytes = 0;
};

namespace {

using dlc_emu::fault;

/* Bytes from the first to one past the last element of a column-major rows x cols matrix. */
size_t span_bytes(long long rows, long long cols, long long ld) {
  if (rows <= 0 || cols <= 0) return 0;
  return (size_t)((cols - 1) * ld + rows) * sizeof(float);
}

bool check_matrix(const char *fn, const char *what, const float *p, long long rows, long long cols,
                  long long ld, long long stride, int batch) {
  size_t bytes = span_bytes(rows, cols, ld);
  if (bytes == 0 || batch <= 0) return true;
  size_t total = bytes + (size_t)(batch - 1) * (size_t)stride * sizeof(float);
  if (stride < 0 || !dlc_emu::device_range(p, total)) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s (%lld x %lld, ld %lld, %d batch%s, stride %lld) at %p is not "
             "inside one device allocation",
             fn, what, rows, cols, ld, batch, batch == 1 ? "" : "es", stride, (const void *)p);
    fault(msg);
    return false;
  }
  return true;
}

bool valid_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

cublasStatus_t gemm(const char *fn, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                    int n, int k, const float *alpha, const float *A, int lda, long long sa,
                    const float *B, int ldb, long long sb, const float *beta, float *C, int ldc,
                    long long sc, int batch) {
  std::lock_guard<std::recursive_mutex> lock(dlc_emu::runtime_mutex());
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(ta) || !valid_op(tb) || m < 0 || n < 0 || k < 0 || batch < 0 || !alpha || !beta)
    return CUBLAS_STATUS_INVALID_VALUE;
  const int ra = ta == CUBLAS_OP_N ? m : k, ca = ta == CUBLAS_OP_N ? k : m;
  const int rb = tb == CUBLAS_OP_N ? k : n, cb = tb == CUBLAS_OP_N ? n : k;
  if (lda < std::max(1, ra) || ldb < std::max(1, rb) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (dlc_emu::faulted()) return CUBLAS_STATUS_EXECUTION_FAILED;
  if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
  const float al = *alpha, be = *beta; /* host pointer mode: read at the call */
  std::string name = fn;
  dlc_emu::enqueue_on(h->stream, [=]() {
    if (k > 0 && al != 0.f) {
      if (!check_matrix(name.c_str(), "A", A, ra, ca, lda, sa, batch) ||
          !check_matrix(name.c_str(), "B", B, rb, cb, ldb, sb, batch))
        return;
    }
    if (!check_matrix(name.c_str(), "C", C, m, n, ldc, sc, batch)) return;
    for (int i = 0; i < batch; i++) {
      float *c = C + (size_t)i * sc;
      /* beta = 0: C is written, never read (NaN in C does not propagate), as in cuBLAS. */
      for (int j = 0; j < n; j++)
        for (int r = 0; r < m; r++) {
          float &x = c[(size_t)j * ldc + r];
          x = be == 0.f ? 0.f : be * x;
        }
      if (k > 0 && al != 0.f)
        cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                    tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, al, A + (size_t)i * sa, lda,
                    B + (size_t)i * sb, ldb, 1.f, c, ldc);
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}

} /* namespace */

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  std::lock_guard<std::recursive_mutex> lock(dlc_emu::runtime_mutex());
  cudaStreamSynchronize(handle->stream);
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetProperty(libraryPropertyType type, int *value) {
  if (!value) return CUBLAS_STATUS_INVALID_VALUE;
  switch (type) {
    case MAJOR_VERSION: *value = CUBLAS_VER_MAJOR; break;
    case MINOR_VERSION: *value = CUBLAS_VER_MINOR; break;
    case PATCH_LEVEL: *value = CUBLAS_VER_PATCH; break;
    default: return CUBLAS_STATUS_INVALID_VALUE;
  }
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!dlc_emu::stream_valid(stream)) return CUBLAS_STATUS_INVALID_VALUE;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->math;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t bytes) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  std::lock_guard<std::recursive_mutex> lock(dlc_emu::runtime_mutex());
  if (bytes && !dlc_emu::device_range(workspace, bytes)) return CUBLAS_STATUS_INVALID_VALUE;
  handle->workspace = workspace;
  handle->workspace_bytes = bytes;
  return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "unknown cuBLAS status";
  }
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                              int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                              const float *beta, float *C, int ldc) {
  return gemm("cublasSgemm", h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                         int m, int n, int k, const float *alpha, const float *A,
                                         int lda, long long sa, const float *B, int ldb, long long sb,
                                         const float *beta, float *C, int ldc, long long sc,
                                         int batch) {
  return gemm("cublasSgemmStridedBatched", h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C,
              ldc, sc, batch);
}

cublasStatus_t cublasSaxpy_v2(cublasHandle_t h, int n, const float *alpha, const float *x, int incx,
                              float *y, int incy) {
  std::lock_guard<std::recursive_mutex> lock(dlc_emu::runtime_mutex());
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!alpha || incx == 0 || incy == 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (n <= 0) return CUBLAS_STATUS_SUCCESS;
  const float a = *alpha;
  dlc_emu::enqueue_on(h->stream, [=]() {
    if (!check_matrix("cublasSaxpy", "x", x, 1, n, std::abs(incx), 0, 1) ||
        !check_matrix("cublasSaxpy", "y", y, 1, n, std::abs(incy), 0, 1))
      return;
    cblas_saxpy(n, a, x, incx, y, incy);
  });
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSscal_v2(cublasHandle_t h, int n, const float *alpha, float *x, int incx) {
  std::lock_guard<std::recursive_mutex> lock(dlc_emu::runtime_mutex());
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!alpha) return CUBLAS_STATUS_INVALID_VALUE;
  if (n <= 0 || incx <= 0) return CUBLAS_STATUS_SUCCESS;
  const float a = *alpha;
  dlc_emu::enqueue_on(h->stream, [=]() {
    if (!check_matrix("cublasSscal", "x", x, 1, n, incx, 0, 1)) return;
    cblas_sscal(n, a, x, incx);
  });
  return CUBLAS_STATUS_SUCCESS;
}

} /* extern "C" */
