/// \file
/// \brief Channel concatenation (dimension 1) and its gradient, the split back into parts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"

namespace fcam {

/// Concatenates tensors of equal shape except dimension 1 (N×C_i×… → N×ΣC_i×…).
template <Scalar T>
Tensor<T> concat_channels(const std::vector<Tensor<T>>& parts) {
  FCAM_CHECK(!parts.empty(), "concat_channels: no tensors given");
  Shape shape = parts[0].shape();
  FCAM_CHECK(shape.size() >= 2, "concat_channels: tensors need at least 2 dimensions, got ", to_string(shape));
  std::int64_t channels = 0;
  for (const auto& part : parts) {
    part.require_cpu("concat_channels");
    Shape expected = shape;
    expected[1] = part.shape().size() >= 2 ? part.size(1) : -1;
    FCAM_CHECK(part.shape() == expected, "concat_channels: shape ", to_string(part.shape()),
               " does not match ", to_string(shape), " outside dimension 1");
    channels += part.size(1);
  }
  const std::int64_t batch = shape[0];
  shape[1] = channels;
  Tensor<T> y(shape);
  const std::int64_t inner = numel_of(shape) / std::max<std::int64_t>(batch * channels, 1);
  for (std::int64_t b = 0; b < batch; ++b) {
    T* out = y.data() + b * channels * inner;
    for (const auto& part : parts) {
      const std::int64_t chunk = part.size(1) * inner;
      std::copy(part.data() + b * chunk, part.data() + (b + 1) * chunk, out);
      out += chunk;
    }
  }
  return y;
}

/// Splits dimension 1 of `x` into consecutive parts of the given channel counts (gradient of concat).
template <Scalar T>
std::vector<Tensor<T>> split_channels(const Tensor<T>& x, const std::vector<std::int64_t>& channels) {
  x.require_cpu("split_channels");
  std::int64_t total = 0;
  for (std::int64_t c : channels) total += c;
  FCAM_CHECK(x.ndim() >= 2 && x.size(1) == total, "split_channels: shape ", to_string(x.shape()),
             " cannot be split into channel counts summing to ", total);
  const std::int64_t batch = x.size(0), inner = x.numel() / std::max<std::int64_t>(batch * total, 1);
  std::vector<Tensor<T>> parts;
  std::int64_t offset = 0;
  for (std::int64_t c : channels) {
    Shape shape = x.shape();
    shape[1] = c;
    Tensor<T> part(shape);
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* src = x.data() + (b * total + offset) * inner;
      std::copy(src, src + c * inner, part.data() + b * c * inner);
    }
    parts.push_back(part);
    offset += c;
  }
  return parts;
}

}  // namespace fcam
