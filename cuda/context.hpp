/// \file
/// \brief Private to cuda/: error checks and this thread's stream, cuDNN and cuBLAS handles.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace fcam::cuda {

/// Throws fcam::Error "CUDA <what> failed: <reason>" unless `status` is success.
void check(cudaError_t status, const char* what);
/// Throws fcam::Error "cuDNN <what> failed: <reason>" unless `status` is success.
void check(cudnnStatus_t status, const char* what);
/// Throws fcam::Error "cuBLAS <what> failed: <reason>" unless `status` is success.
void check(cublasStatus_t status, const char* what);
/// Throws fcam::Error naming `kernel` when its launch failed (bad configuration, no device).
void check_launch(const char* kernel);

/// This thread's non-blocking stream on the current device (created on first use).
cudaStream_t stream();
/// This thread's cuDNN handle, bound to stream().
cudnnHandle_t cudnn_handle();
/// This thread's cuBLAS handle, bound to stream(), math mode following set_tf32().
cublasHandle_t cublas_handle();
/// Whether convolution algorithms are chosen by timing (set_benchmark_algorithms).
bool benchmark_algorithms();

}  // namespace fcam::cuda
