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
#include "fcam/core/threads.hpp"

namespace fcam::cpu {

namespace detail {

/// One contiguous copy of a concatenation or split.
template <class T>
struct BlockCopy {
  const T* from;
  T* to;
  std::int64_t count;
};

/// Runs the copies on the kernel threads, cut into pieces of at most 2^16 values so that a few
/// large blocks (batch 1, two parts) still spread over every thread.
template <class T>
void copy_blocks(const std::vector<BlockCopy<T>>& blocks) {
  constexpr std::int64_t piece = std::int64_t{1} << 16;
  std::vector<BlockCopy<T>> pieces;
  for (const BlockCopy<T>& b : blocks)
    for (std::int64_t at = 0; at < b.count; at += piece)
      pieces.push_back({b.from + at, b.to + at, std::min(piece, b.count - at)});
  parallel_items(static_cast<std::int64_t>(pieces.size()), [&](std::int64_t i) {
    const BlockCopy<T>& b = pieces[static_cast<std::size_t>(i)];
    std::copy(b.from, b.from + b.count, b.to);
  });
}

}  // namespace detail

/// The parts, each batch × C_i × inner, side by side in a tensor of `shape` (batch × ΣC_i × …).
template <Scalar T>
Tensor<T> concat_channels(const std::vector<Tensor<T>>& parts, const Shape& shape) {
  const std::int64_t batch = shape[0], channels = shape[1];
  auto y = Tensor<T>::uninitialized(shape);  // the parts cover every element
  const std::int64_t inner = numel_of(shape) / std::max<std::int64_t>(batch * channels, 1);
  std::vector<detail::BlockCopy<T>> blocks;
  for (std::int64_t b = 0; b < batch; ++b) {
    T* out = y.data() + b * channels * inner;
    for (const auto& part : parts) {
      const std::int64_t chunk = part.size(1) * inner;
      blocks.push_back({part.data() + b * chunk, out, chunk});
      out += chunk;
    }
  }
  detail::copy_blocks(blocks);
  return y;
}

/// Consecutive channel blocks of x (batch × total × …) as tensors of the given channel counts.
template <Scalar T>
std::vector<Tensor<T>> split_channels(const Tensor<T>& x, const std::vector<std::int64_t>& channels,
                                      std::int64_t total) {
  const std::int64_t batch = x.size(0), inner = x.numel() / std::max<std::int64_t>(batch * total, 1);
  std::vector<Tensor<T>> parts;
  std::vector<detail::BlockCopy<T>> blocks;
  std::int64_t offset = 0;
  for (std::int64_t c : channels) {
    Shape shape = x.shape();
    shape[1] = c;
    auto part = Tensor<T>::uninitialized(shape);  // its blocks cover every element
    for (std::int64_t b = 0; b < batch; ++b)
      blocks.push_back({x.data() + (b * total + offset) * inner, part.data() + b * c * inner, c * inner});
    parts.push_back(part);
    offset += c;
  }
  detail::copy_blocks(blocks);
  return parts;
}

}  // namespace fcam::cpu
