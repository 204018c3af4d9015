// The CUDA emulation's cuBLAS: the handle, and a column-major SGEMM run in stream order with its
// operands checked against the device allocations. The product accumulates in double, so it is
// not cuBLAS's rounding: tests compare it within their float tolerances.
#include <cublas_v2.h>

struct cublasContext {
  cudaStream_t stream = nullptr;
};

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
const char* cublasGetStatusString(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_INVALID_VALUE";
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const float* alpha, const float* a, int lda, const float* b, int ldb,
                           const float* beta, float* c, int ldc) {
  // Column-major: op(A) is m×k, op(B) is k×n, C is m×n; A is stored lda × (k or m).
  const int a_rows = transa == CUBLAS_OP_N ? m : k, a_cols = transa == CUBLAS_OP_N ? k : m;
  const int b_rows = transb == CUBLAS_OP_N ? k : n, b_cols = transb == CUBLAS_OP_N ? n : k;
  if (m < 0 || n < 0 || k < 0 || lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) ||
      ldc < (m > 1 ? m : 1))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const float al = *alpha, be = *beta;  // host scalars, read at the call as cuBLAS does
  const auto span = [](int ld, int cols, int rows) { return (std::size_t(ld) * (cols - 1) + rows) * sizeof(float); };
  const cudaError_t queued = fcam_emu::enqueue(handle->stream, "cublasSgemm", [=] {
    if (k > 0) {
      fcam_emu::require_device_range(a, span(lda, a_cols, a_rows), "cublasSgemm A");
      fcam_emu::require_device_range(b, span(ldb, b_cols, b_rows), "cublasSgemm B");
    }
    fcam_emu::require_device_range(c, span(ldc, n, m), "cublasSgemm C");
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        double sum = 0.0;
        for (int p = 0; p < k; ++p) {
          const float av = transa == CUBLAS_OP_N ? a[i + std::size_t(p) * lda] : a[p + std::size_t(i) * lda];
          const float bv = transb == CUBLAS_OP_N ? b[p + std::size_t(j) * ldb] : b[j + std::size_t(p) * ldb];
          sum += double(av) * bv;
        }
        float& out = c[i + std::size_t(j) * ldc];
        // beta == 0 ignores C (which may hold NaN), as BLAS does.
        out = be == 0.0f ? static_cast<float>(al * sum) : static_cast<float>(al * sum + double(be) * out);
      }
  });
  return queued == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}
