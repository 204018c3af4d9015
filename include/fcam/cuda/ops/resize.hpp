/// \file
/// \brief CUDA kernels of the resizing ops (ops/resize.hpp): nearest ×k upsampling and bilinear
/// resizing and their gradients, float tensors.
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// N×C×H×W → N×C×kH×kW, each value repeated over a k×k block.
Tensor<float> upsample_nearest(const Tensor<float>& x, std::int64_t factor);
/// Gradient of upsample_nearest: each input sums its k×k block of output gradients.
Tensor<float> upsample_nearest_backward(const Tensor<float>& grad_y, std::int64_t factor);
/// Bilinear resize of x (of upsample_nearest(x, upsampled) when upsampled > 1) to out_h×out_w,
/// with the CPU's interpolation weights (detail::LinearTaps, computed on the host).
Tensor<float> resize_bilinear(const Tensor<float>& x, std::int64_t out_h, std::int64_t out_w, bool align_corners,
                              std::int64_t upsampled);
/// Gradient of resize_bilinear (same `upsampled`) for an input of `input_shape`.
Tensor<float> resize_bilinear_backward(const Shape& input_shape, const Tensor<float>& grad_y, bool align_corners,
                                       std::int64_t upsampled);

}  // namespace fcam::cuda
