/// \file
/// \brief Softmax over the channel dimension (N×C or N×C×H×W) and its gradient.
#pragma once

#include <cstdint>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/softmax.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

namespace detail {
/// Splits a tensor into (batch, channels, inner) for channel-wise ops.
template <Scalar T>
void channel_layout(const Tensor<T>& x, std::int64_t& batch, std::int64_t& channels, std::int64_t& inner) {
  FCAM_CHECK(x.defined(), "channel op: tensor is undefined");
  FCAM_CHECK(x.ndim() >= 2, "channel op: expects at least N×C, got ", to_string(x.shape()));
  batch = x.size(0), channels = x.size(1);
  inner = channels * batch > 0 ? x.numel() / (batch * channels) : 0;
}
}  // namespace detail

/// softmax over dimension 1 (numerically stable: the channel maximum is subtracted first).
template <Scalar T>
Tensor<T> softmax_channels(const Tensor<T>& x) {
  std::int64_t n, c, inner;
  detail::channel_layout(x, n, c, inner);
  if (operand_device("softmax_channels", x) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::softmax_channels(x, n, c, inner);
    else cuda::unavailable_for<T>("softmax_channels");
  }
  return cpu::softmax_channels(x, n, c, inner);
}

/// Gradient of softmax_channels from its output y: dx = y·(dy − Σ_c dy·y).
template <Scalar T>
Tensor<T> softmax_channels_backward(const Tensor<T>& y, const Tensor<T>& grad_y) {
  check_same_shape(y, grad_y, "softmax_channels_backward");
  std::int64_t n, c, inner;
  detail::channel_layout(y, n, c, inner);
  if (operand_device("softmax_channels_backward", {&y, &grad_y}) == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::softmax_channels_backward(y, grad_y, n, c, inner);
    else cuda::unavailable_for<T>("softmax_channels_backward");
  }
  return cpu::softmax_channels_backward(y, grad_y, n, c, inner);
}

}  // namespace fcam
