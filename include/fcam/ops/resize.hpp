/// \file
/// \brief Nearest ×k upsampling and bilinear resizing to a size (PyTorch's align_corners rules), with gradients.
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/resize.hpp"
#include "fcam/ops/dispatch.hpp"
#include "fcam/ops/linear_taps.hpp"

namespace fcam {

/// Nearest-neighbour upsampling by an integer factor: N×C×H×W → N×C×kH×kW.
template <Scalar T>
Tensor<T> upsample_nearest(const Tensor<T>& x, std::int64_t factor) {
  const Device device = operand_device("upsample_nearest", x);
  check_rank(x, 4, "upsample_nearest input");
  FCAM_CHECK(factor >= 1, "upsample_nearest: factor must be >= 1, got ", factor);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::upsample_nearest(x, factor);
    else cuda::unavailable_for<T>("upsample_nearest");
  }
  return cpu::upsample_nearest(x, factor);
}

/// Gradient of upsample_nearest: each input sums its k×k block of output gradients.
template <Scalar T>
Tensor<T> upsample_nearest_backward(const Tensor<T>& grad_y, std::int64_t factor) {
  const Device device = operand_device("upsample_nearest_backward", grad_y);
  check_rank(grad_y, 4, "upsample_nearest_backward gradient");
  FCAM_CHECK(factor >= 1 && grad_y.size(2) % factor == 0 && grad_y.size(3) % factor == 0,
             "upsample_nearest_backward: gradient shape ", to_string(grad_y.shape()), " is not a multiple of ", factor);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::upsample_nearest_backward(grad_y, factor);
    else cuda::unavailable_for<T>("upsample_nearest_backward");
  }
  return cpu::upsample_nearest_backward(grad_y, factor);
}

/// Bilinear resize of N×C×H×W to N×C×out_h×out_w, PyTorch's interpolate(mode="bilinear").
/// With `upsampled` = f > 1 it resizes upsample_nearest(x, f) instead, with the same result bit
/// for bit but without making the f²-times larger intermediate (the F-CAM decoder's ×2 then
/// resize to the skip's size).
template <Scalar T>
Tensor<T> resize_bilinear(const Tensor<T>& x, std::int64_t out_h, std::int64_t out_w, bool align_corners,
                          std::int64_t upsampled = 1) {
  const Device device = operand_device("resize_bilinear", x);
  check_rank(x, 4, "resize_bilinear input");
  FCAM_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "resize_bilinear: input planes are empty, shape ",
             to_string(x.shape()));
  FCAM_CHECK(out_h >= 1 && out_w >= 1, "resize_bilinear: output size must be positive, got ", out_h, "x", out_w);
  FCAM_CHECK(upsampled >= 1, "resize_bilinear: upsampling factor must be >= 1, got ", upsampled);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::resize_bilinear(x, out_h, out_w, align_corners, upsampled);
    else cuda::unavailable_for<T>("resize_bilinear");
  }
  return cpu::resize_bilinear(x, out_h, out_w, align_corners, upsampled);
}

/// Gradient of resize_bilinear (same `upsampled`) for an input of `input_shape`.
template <Scalar T>
Tensor<T> resize_bilinear_backward(const Shape& input_shape, const Tensor<T>& grad_y, bool align_corners,
                                   std::int64_t upsampled = 1) {
  const Device device = operand_device("resize_bilinear_backward", grad_y);
  check_rank(grad_y, 4, "resize_bilinear_backward gradient");
  FCAM_CHECK(input_shape.size() == 4 && grad_y.size(0) == input_shape[0] && grad_y.size(1) == input_shape[1],
             "resize_bilinear_backward: gradient shape ", to_string(grad_y.shape()), " does not match input ",
             to_string(input_shape));
  FCAM_CHECK(input_shape[2] >= 1 && input_shape[3] >= 1, "resize_bilinear_backward: input planes are empty, shape ",
             to_string(input_shape));
  FCAM_CHECK(grad_y.size(2) >= 1 && grad_y.size(3) >= 1, "resize_bilinear_backward: output size must be positive, got ",
             grad_y.size(2), "x", grad_y.size(3));
  FCAM_CHECK(upsampled >= 1, "resize_bilinear_backward: upsampling factor must be >= 1, got ", upsampled);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>)
      return cuda::resize_bilinear_backward(input_shape, grad_y, align_corners, upsampled);
    else cuda::unavailable_for<T>("resize_bilinear_backward");
  }
  return cpu::resize_bilinear_backward(input_shape, grad_y, align_corners, upsampled);
}

}  // namespace fcam
