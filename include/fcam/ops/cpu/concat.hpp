/// \file
/// \brief CPU kernels of the channel concatenation and split (contracts in fcam/ops/concat.hpp).
///
/// A tensor is seen as batch × channels × inner; per batch entry the channel blocks of the parts
/// are contiguous, so both directions are block copies.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fcam/core/tensor.hpp"

namespace fcam::cpu {

/// The parts, each batch × C_i × inner, side by side in a tensor of `shape` (batch × ΣC_i × …).
template <Scalar T>
Tensor<T> concat_channels(const std::vector<Tensor<T>>& parts, const Shape& shape) {
  const std::int64_t batch = shape[0], channels = shape[1];
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

/// Consecutive channel blocks of x (batch × total × …) as tensors of the given channel counts.
template <Scalar T>
std::vector<Tensor<T>> split_channels(const Tensor<T>& x, const std::vector<std::int64_t>& channels,
                                      std::int64_t total) {
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

}  // namespace fcam::cpu
