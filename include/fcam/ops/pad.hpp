/// \file
/// \brief Zero padding of the two spatial dimensions by a different amount on each side, its
/// gradient (the crop back), and TensorFlow's "SAME" padding rule (MobileNetV2's stride-2
/// convolutions pad one more pixel at the bottom and right than at the top and left).
#pragma once

#include <algorithm>
#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/pad.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

/// Zeros added on each side of the last two dimensions.
struct Padding2d {
  std::int64_t top = 0;     ///< rows above
  std::int64_t bottom = 0;  ///< rows below
  std::int64_t left = 0;    ///< columns on the left
  std::int64_t right = 0;   ///< columns on the right

  /// True when no side is padded.
  bool none() const { return top == 0 && bottom == 0 && left == 0 && right == 0; }
  /// True when top equals bottom and left equals right (a convolution's own padding does that).
  bool symmetric() const { return top == bottom && left == right; }
};

/// TensorFlow's "SAME" padding of a k×k convolution with stride s on an h×w input: the output
/// has ceil(h/s)×ceil(w/s) pixels; the total padding per axis is max((out − 1)·s + k − in, 0),
/// with the odd pixel at the bottom / right.
inline Padding2d tf_same_padding(std::int64_t h, std::int64_t w, std::int64_t kernel, std::int64_t stride) {
  FCAM_CHECK(h >= 1 && w >= 1 && kernel >= 1 && stride >= 1, "tf_same_padding: sizes must be positive, got ", h, "x",
             w, ", kernel ", kernel, ", stride ", stride);
  auto total = [&](std::int64_t in) {
    const std::int64_t out = (in + stride - 1) / stride;
    return std::max<std::int64_t>((out - 1) * stride + kernel - in, 0);
  };
  const std::int64_t th = total(h), tw = total(w);
  return {th / 2, th - th / 2, tw / 2, tw - tw / 2};
}

/// x (N×C×H×W) with zeros around it: N×C×(top+H+bottom)×(left+W+right).
template <Scalar T>
Tensor<T> pad2d(const Tensor<T>& x, const Padding2d& p) {
  const Device device = operand_device("pad2d", x);
  check_rank(x, 4, "pad2d input");
  FCAM_CHECK(p.top >= 0 && p.bottom >= 0 && p.left >= 0 && p.right >= 0, "pad2d: padding must be >= 0, got ", p.top,
             "/", p.bottom, "/", p.left, "/", p.right, " (top/bottom/left/right)");
  const std::int64_t out_h = x.size(2) + p.top + p.bottom, out_w = x.size(3) + p.left + p.right;
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::copy_window(x, out_h, out_w, -p.top, -p.left);
    else cuda::unavailable_for<T>("pad2d");
  }
  return cpu::copy_window(x, out_h, out_w, -p.top, -p.left);
}

/// Gradient of pad2d: grad_y (N×C×(top+H+bottom)×(left+W+right)) without its padded border.
template <Scalar T>
Tensor<T> pad2d_backward(const Tensor<T>& grad_y, const Padding2d& p) {
  const Device device = operand_device("pad2d_backward", grad_y);
  check_rank(grad_y, 4, "pad2d_backward gradient");
  const std::int64_t h = grad_y.size(2) - p.top - p.bottom, w = grad_y.size(3) - p.left - p.right;
  FCAM_CHECK(p.top >= 0 && p.bottom >= 0 && p.left >= 0 && p.right >= 0 && h >= 0 && w >= 0,
             "pad2d_backward: padding ", p.top, "/", p.bottom, "/", p.left, "/", p.right,
             " (top/bottom/left/right) does not fit a gradient of shape ", to_string(grad_y.shape()));
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::copy_window(grad_y, h, w, p.top, p.left);
    else cuda::unavailable_for<T>("pad2d_backward");
  }
  return cpu::copy_window(grad_y, h, w, p.top, p.left);
}

}  // namespace fcam
