/// \file
/// \brief Private to cuda/: raw-pointer launchers of the resizing kernels (resize.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fcam::cuda::launch {

/// Along one axis, per output position: its two source indices and their weights (the host's
/// detail::LinearTaps, so both devices interpolate with the same numbers).
struct AxisTaps {
  const std::int32_t* i0;
  const std::int32_t* i1;
  const float* w0;
  const float* w1;
};

/// The inverse of AxisTaps, per input position k: entries [begin[k], begin[k + 1]) of (output
/// position, weight) that read k, in output order and, within an output, tap 0 before tap 1.
struct AxisFans {
  const std::int32_t* begin;
  const std::int32_t* out;
  const float* weight;
};

/// y (planes × h·f × w·f) = x (planes × h × w) with each value repeated over an f×f block.
void upsample_nearest(const float* x, float* y, std::int64_t planes, std::int64_t h, std::int64_t w,
                      std::int64_t factor, cudaStream_t stream);
/// dx (planes × h × w) = the sum of each f×f block of dy (planes × h·f × w·f), row by row.
void upsample_nearest_backward(const float* dy, float* dx, std::int64_t planes, std::int64_t h, std::int64_t w,
                               std::int64_t factor, cudaStream_t stream);
/// y (planes × out_h × out_w) = bilinear interpolation of x (planes × h × w) with taps ty, tx.
void resize_bilinear(const float* x, float* y, std::int64_t planes, std::int64_t h, std::int64_t w,
                     std::int64_t out_h, std::int64_t out_w, AxisTaps ty, AxisTaps tx, cudaStream_t stream);
/// dx (planes × h × w, every element written) = Σ wy·wx·dy over the outputs that read each input,
/// in the CPU's order of addition.
void resize_bilinear_backward(const float* dy, float* dx, std::int64_t planes, std::int64_t h, std::int64_t w,
                              std::int64_t out_h, std::int64_t out_w, AxisFans fy, AxisFans fx, cudaStream_t stream);

}  // namespace fcam::cuda::launch
