/// \file
/// \brief Channel concatenation (dimension 1) and its gradient, the split back into parts.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"
#include "fcam/ops/cpu/concat.hpp"
#include "fcam/ops/dispatch.hpp"

namespace fcam {

/// Concatenates tensors of equal shape except dimension 1 (N×C_i×… → N×ΣC_i×…).
template <Scalar T>
Tensor<T> concat_channels(const std::vector<Tensor<T>>& parts) {
  FCAM_CHECK(!parts.empty(), "concat_channels: no tensors given");
  const Device device = operand_device("concat_channels", parts);
  Shape shape = parts[0].shape();
  FCAM_CHECK(shape.size() >= 2, "concat_channels: tensors need at least 2 dimensions, got ", to_string(shape));
  std::int64_t channels = 0;
  for (const auto& part : parts) {
    Shape expected = shape;
    expected[1] = part.shape().size() >= 2 ? part.size(1) : -1;
    FCAM_CHECK(part.shape() == expected, "concat_channels: shape ", to_string(part.shape()),
               " does not match ", to_string(shape), " outside dimension 1");
    channels += part.size(1);
  }
  shape[1] = channels;
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::concat_channels(parts, shape);
    else cuda::unavailable_for<T>("concat_channels");
  }
  return cpu::concat_channels(parts, shape);
}

/// Splits dimension 1 of `x` into consecutive parts of the given channel counts (gradient of concat).
template <Scalar T>
std::vector<Tensor<T>> split_channels(const Tensor<T>& x, const std::vector<std::int64_t>& channels) {
  const Device device = operand_device("split_channels", x);
  std::int64_t total = 0;
  for (std::int64_t c : channels) {
    FCAM_CHECK(c >= 0, "split_channels: negative channel count ", c);
    total += c;
  }
  FCAM_CHECK(x.ndim() >= 2 && x.size(1) == total, "split_channels: shape ", to_string(x.shape()),
             " cannot be split into channel counts summing to ", total);
  if (device == Device::cuda) {
    if constexpr (cuda::has_kernels<T>) return cuda::split_channels(x, channels, total);
    else cuda::unavailable_for<T>("split_channels");
  }
  return cpu::split_channels(x, channels, total);
}

}  // namespace fcam
