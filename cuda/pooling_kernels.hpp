/// \file
/// \brief Private to cuda/: raw-pointer launchers of the pooling kernels (pooling.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace fcam::cuda::launch {

/// Geometry of one max or average pooling: `planes` = N·C planes of h×w pooled to oh×ow (the
/// output size comes from Pool2dGeometry::out_size, so ceil_mode needs no field here).
struct PoolShape {
  std::int64_t planes, h, w, oh, ow;
  std::int64_t kernel, stride, padding;
  bool count_include_pad;
};

/// y = max over each window (padding is −∞, first maximum in scan order wins, NaN wins) and,
/// when `argmax` is not null, the flat index h·W + w of each maximum in its plane (H·W below 2^31).
void max_pool2d(const float* x, float* y, std::int32_t* argmax, const PoolShape& s, cudaStream_t stream);

/// dx (planes × h × w, every element written) of max_pool2d's own `argmax` (each index inside its
/// window of `s`): at every position, the sum of the gradients of the outputs whose argmax points
/// there, in output order (the CPU's order), gathered over the windows that contain it.
void max_pool2d_backward_of_windows(const std::int32_t* argmax, const float* dy, float* dx, const PoolShape& s,
                                    cudaStream_t stream);

/// Bytes of workspace that max_pool2d_backward needs for `outputs` output gradients going to
/// `targets` = planes · in_plane input positions.
std::size_t max_pool2d_backward_workspace(std::int64_t outputs, std::int64_t targets);
/// dx (zero-filled, planes × in_plane) gets, at every position, the sum of the gradients of the
/// outputs whose argmax points there, in output order (the CPU's order). `argmax` holds one
/// in-plane index per output (planes × out_plane); `workspace` has the bytes asked above.
/// Returns the status of the sort (launch errors of the kernels are left for check_launch).
cudaError_t max_pool2d_backward(const std::int32_t* argmax, const float* dy, float* dx, std::int64_t planes,
                                std::int64_t in_plane, std::int64_t out_plane, void* workspace,
                                std::size_t workspace_bytes, cudaStream_t stream);

/// y = the mean of each window, with PyTorch's clipping and divisor rules (an empty window gives 0).
void avg_pool2d(const float* x, float* y, const PoolShape& s, cudaStream_t stream);
/// dx (planes × h × w, every element written) = Σ dy / divisor over the windows containing it.
void avg_pool2d_backward(const float* dy, float* dx, const PoolShape& s, cudaStream_t stream);

/// y[p] = the mean of plane p (`plane` values) of x, for `planes` planes.
void global_avg_pool(const float* x, float* y, std::int64_t planes, std::int64_t plane, cudaStream_t stream);
/// dx[p·plane + i] = dy[p] / plane (every element written).
void global_avg_pool_backward(const float* dy, float* dx, std::int64_t planes, std::int64_t plane,
                              cudaStream_t stream);

}  // namespace fcam::cuda::launch
